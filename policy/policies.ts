/**
 * The fleet's container hardening as CrossGuard policies. Each rule is a pure check of a
 * FleetContainer (policy/container.ts) returning its violations as messages; `policies` wraps them
 * for @pulumi/policy. A hardening opt-out named in config (services.<Name>.hardening.<key>, carried
 * by the container's OPT_OUTS_LABEL) turns its mandatory rule into a note of the advisory
 * `hardening-opt-outs` policy: visible in every preview, never a silent pass.
 */
import * as fs from "fs";
import * as path from "path";
import { EnforcementLevel, ResourceValidationArgs, ResourceValidationPolicy } from "@pulumi/policy";
import { FleetContainer, MACHINE_LABEL, normaliseContainer, OPT_OUTS_LABEL, SERVICE_LABEL } from "./container";
import { isSecretEnvName } from "../common/secretNames";
import { FLEET_SERVICE_TYPE } from "../naming";

/** One rule: its policy name, level, description, the opt-out key that waives it, and its check. */
export interface Rule {
    name: string;
    enforcementLevel: EnforcementLevel;
    description: string;
    /** The services.<Name>.hardening key whose opt-out waives this rule (reported as a note instead). */
    optOut?: string;
    /** The violations, each a sentence without the container's name (the pack puts it in front). */
    check(c: FleetContainer): string[];
    /** Judges the image: on a FleetService's container resource (which carries it), not on the FleetService's spec. */
    onImage?: true;
}

/** The numeric UID of a docker `user` ("10001:10001", "10001"), or undefined for a name. */
export function uidOf(user: string): number | undefined {
    const uid = user.split(":")[0];
    return /^[0-9]+$/.test(uid) ? Number(uid) : undefined;
}

const DIGEST_REF = /@sha256:[a-f0-9]{64}$/;
const IMAGE_ID = /^sha256:[a-f0-9]{64}$/;
/** Log drivers that keep logs on the machine's disk, and so need rotation. */
const LOCAL_LOG_DRIVERS = new Set(["json-file"]);

/** What a machine profile says about its GPU: profiles/<machine>.json, read once per machine. */
export type GpuLookup = (machine: string) => boolean | undefined;

/** Reads `gpu` from profiles/<machine>.json next to the pack (null: no GPU); undefined when no profile exists. */
export function profileGpuLookup(dir: string = path.join(__dirname, "..", "profiles")): GpuLookup {
    const cache = new Map<string, boolean | undefined>();
    return (machine) => {
        if (!cache.has(machine)) {
            let has: boolean | undefined;
            try {
                const profile = JSON.parse(fs.readFileSync(path.join(dir, `${machine}.json`), "utf8")) as { gpu?: unknown };
                has = profile.gpu !== null && profile.gpu !== undefined;
            } catch {
                has = undefined;
            }
            cache.set(machine, has);
        }
        return cache.get(machine);
    };
}

/** The rules, mandatory first. `gpu` answers whether a machine's profile has a GPU. */
export function rules(gpu: GpuLookup = profileGpuLookup()): Rule[] {
    return [
        {
            name: "non-root-user",
            enforcementLevel: "mandatory",
            description: "Containers run as a numeric, non-root UID (the fleet's 10001:10001).",
            optOut: "user",
            check: (c) => {
                if (c.user === undefined) {
                    return [
                        `no user set, so it runs as the image's user (root in most base images); set user to a non-root UID:GID such as 10001:10001`,
                    ];
                }
                const uid = uidOf(c.user);
                if (uid === undefined) {
                    return [
                        `user "${c.user}" is a name, not a UID; a name cannot be checked and may map to root; expected a numeric UID:GID such as 10001:10001`,
                    ];
                }
                return uid === 0 ? [`runs as root (user "${c.user}"); expected a non-root UID such as 10001:10001`] : [];
            },
        },
        {
            name: "read-only-root",
            enforcementLevel: "mandatory",
            description: "The container's root filesystem is read-only (writable paths are tmpfs mounts).",
            optOut: "readOnlyRoot",
            check: (c) =>
                c.readOnlyRoot
                    ? []
                    : [`the root filesystem is writable; expected readOnly: true with tmpfs for the paths the service writes`],
        },
        {
            name: "no-new-privileges",
            enforcementLevel: "mandatory",
            description: "The container runs with the no-new-privileges security option.",
            optOut: "noNewPrivileges",
            check: (c) =>
                c.securityOpts.some((o) => /^no-new-privileges([:=]true)?$/.test(o.trim()))
                    ? []
                    : [`securityOpts lack "no-new-privileges:true" (have: ${JSON.stringify(c.securityOpts)})`],
        },
        {
            name: "drop-all-capabilities",
            enforcementLevel: "mandatory",
            description: "Every Linux capability is dropped (capabilities.drops includes ALL) and none is added back.",
            optOut: "dropAllCapabilities",
            check: (c) => {
                const out: string[] = [];
                if (!c.capabilities.drops.some((d) => d.toUpperCase() === "ALL")) {
                    out.push(`capabilities are not all dropped; expected capabilities.drops: ["ALL"]`);
                }
                if (c.capabilities.adds.length > 0) {
                    out.push(`adds back capabilities ${c.capabilities.adds.join(", ")}; expected none`);
                }
                return out;
            },
        },
        {
            name: "not-privileged",
            enforcementLevel: "mandatory",
            description: "No container runs privileged.",
            check: (c) =>
                c.privileged ? [`runs privileged (every device and capability of the host); expected privileged unset or false`] : [],
        },
        {
            name: "no-host-namespaces",
            enforcementLevel: "mandatory",
            description: "No container shares the host's network or PID namespace.",
            check: (c) => [
                ...(c.networkMode === "host"
                    ? [`networkMode "host" shares the host's network namespace; expected the stack's bridge network with published ports`]
                    : []),
                ...(c.pidMode === "host" ? [`pidMode "host" shares the host's PID namespace; expected it unset`] : []),
            ],
        },
        {
            name: "image-pinned-by-digest",
            enforcementLevel: "mandatory",
            onImage: true,
            description: "Images are pinned by digest (repo@sha256:…, or an image ID sha256:…), never by a tag alone.",
            check: (c) => {
                const image = c.image;
                if (image !== undefined && (DIGEST_REF.test(image) || IMAGE_ID.test(image))) {
                    return [];
                }
                return [
                    `image ${image === undefined ? "is not set" : `"${image}" is not pinned by digest`}; expected repo@sha256:<digest> (a tag can move to other content)`,
                ];
            },
        },
        {
            name: "log-rotation",
            enforcementLevel: "mandatory",
            description:
                "Logs kept on the machine rotate: json-file with max-size (the daemon's default json-file never rotates); the local driver rotates itself.",
            check: (c) => {
                if (c.logDriver === undefined) {
                    return [
                        `no logDriver, so the daemon's default (json-file without rotation) fills the disk; expected logDriver "json-file" with logOpts max-size and max-file`,
                    ];
                }
                if (LOCAL_LOG_DRIVERS.has(c.logDriver) && !c.logOpts["max-size"]) {
                    return [
                        `logDriver "${c.logDriver}" without logOpts max-size never rotates; expected e.g. { "max-size": "10m", "max-file": "3" }`,
                    ];
                }
                return [];
            },
        },
        {
            name: "no-plaintext-secret-env",
            enforcementLevel: "mandatory",
            description:
                "No environment variable whose name says secret, token or password carries its value in plaintext; pass a file (NAME_FILE=/run/secrets/…) instead.",
            check: (c) =>
                Object.entries(c.env)
                    .filter(([k, v]) => v !== "" && isSecretEnvName(k))
                    .map(
                        ([k]) =>
                            `${k} carries its value in plaintext in the container's environment (docker inspect shows it to anyone on the machine); expected ${k}_FILE=/run/secrets/… with the secret mounted as a file`,
                    ),
        },
        {
            name: "docker-healthcheck",
            enforcementLevel: "advisory",
            description: "Containers have a Docker healthcheck, so `docker ps` and restart policies see a hung service.",
            check: (c) => {
                const test = c.healthcheckTest;
                return test === undefined || test[0] === "NONE"
                    ? [`no Docker healthcheck; expected healthcheck.tests comparing the service's JSON status`]
                    : [];
            },
        },
        {
            name: "gpu-needs-gpu-machine",
            enforcementLevel: "advisory",
            description: "A container requests a GPU only on a machine whose profile has one.",
            check: (c) => {
                if (!c.requestsGpu) {
                    return [];
                }
                const machine = c.labels[MACHINE_LABEL];
                if (machine === undefined) {
                    return [`requests a GPU but carries no ${MACHINE_LABEL} label, so its machine's profile cannot be checked`];
                }
                const has = gpu(machine);
                if (has === undefined) {
                    return [`requests a GPU on machine "${machine}", which has no profile (profiles/${machine}.json)`];
                }
                return has
                    ? []
                    : [
                          `requests a GPU on machine "${machine}", whose profile has no GPU (profiles/${machine}.json: gpu null); the container would fail to start`,
                      ];
            },
        },
    ];
}

/**
 * What a container's opt-outs waive, as notes: each opt-out names the rule it waives and whether
 * the container does deviate from it.
 */
export function optOutNotes(c: FleetContainer, all: Rule[]): string[] {
    const service = c.labels[SERVICE_LABEL] ?? "<Name>";
    return c.optOuts.map((key) => {
        const where = `services.${service}.hardening.${key}`;
        const rule = all.find((r) => r.optOut === key);
        if (!rule) {
            return `${c.name}: opts out of hardening "${key}" (${where})`;
        }
        const deviations = rule.check(c);
        return deviations.length > 0
            ? `${c.name}: opts out of hardening "${key}" (${where}), waiving mandatory policy ${rule.name}: ${deviations.join("; ")}`
            : `${c.name}: names the opt-out "${key}" (${where}) but meets ${rule.name} anyway; drop the opt-out from its config`;
    });
}

type Report = (message: string) => void;

/** Runs one rule on a resource, as validateResource does: nothing for resources that are no fleet container. */
export function validateWith(
    rule: Rule,
    args: Pick<ResourceValidationArgs, "type" | "props" | "name"> & { opts?: { parent?: string } },
    report: Report,
): void {
    const c = normaliseContainer(args.type, args.props, args.name, args.opts?.parent);
    if (c === undefined) {
        return;
    }
    // A FleetService's spec holds no image; its container resource is judged on the image alone.
    if (c.source === FLEET_SERVICE_TYPE ? rule.onImage === true : c.imageOnly === true && rule.onImage !== true) {
        return;
    }
    if (rule.optOut !== undefined && c.optOuts.includes(rule.optOut)) {
        return; // waived by config: the hardening-opt-outs policy reports it
    }
    rule.check(c).forEach((m) => report(`${c.name}: ${m}`));
}

/** The advisory policy that reports every opt-out, so a waived rule never passes silently. */
export const OPT_OUTS_POLICY = "hardening-opt-outs";

/** The CrossGuard policies of the pack. */
export function policies(gpu?: GpuLookup): ResourceValidationPolicy[] {
    const all = rules(gpu);
    const fromRules: ResourceValidationPolicy[] = all.map((rule) => ({
        name: rule.name,
        description: rule.description,
        enforcementLevel: rule.enforcementLevel,
        validateResource: (args, report) => validateWith(rule, args, (m) => report(m)),
    }));
    return [
        ...fromRules,
        {
            name: OPT_OUTS_POLICY,
            description: `A hardening opt-out named in config (services.<Name>.hardening.*, the container label ${OPT_OUTS_LABEL}) is reported as a note, never passed silently.`,
            enforcementLevel: "advisory",
            validateResource: (args, report) => {
                const c = normaliseContainer(args.type, args.props, args.name, args.opts?.parent);
                if (c !== undefined && c.imageOnly !== true) {
                    optOutNotes(c, all).forEach((m) => report(m));
                }
            },
        },
    ];
}
