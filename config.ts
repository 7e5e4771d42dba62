/**
 * The stack config: one zod schema, parsed once, every problem reported together with its key
 * path, before any resource is registered. This is the only module that reads pulumi.Config.
 */
import * as pulumi from "@pulumi/pulumi";
import { execFileSync } from "child_process";
import { z } from "zod";
import { checkGraph, planRollout, RolloutPlan, stackNameOf } from "./graph";
import { consistencyIssues, SECRET_CONFIG_KEYS, StackContext, stackContextIssues } from "./configChecks";
import { isValidRepoComponent, parseImageRef, snake, SourceCommit } from "./naming";
import { loadProfile, Profile, ProfileError } from "./profiles/schema";
import { treeChanges } from "./build/sourceTree";
import { dirName, LayoutEntry, LayoutSchema, layoutPathIssues, pathTemplate } from "./build/layout";

/** The Pulumi project name; config keys are `ai-fleet:<key>`. */
export const PROJECT = "ai-fleet";

const port = z.number().int().min(1).max(65535);
const envMap = z.record(z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, "expected an environment variable name"), z.string());
const imageRefString = z.string().refine((s) => parseImageRef(s) !== undefined, {
    message: "expected an image reference [registry/]repository[:tag][@sha256:digest] with one tag at most",
});
const repoComponent = z.string().refine(isValidRepoComponent, {
    message: "expected a lowercase repository name component (letters, digits, and . _ - inside)",
});

/** A published port: what the process listens on inside, and what the machine exposes. */
const PortSchema = z.strictObject({
    container: port,
    host: port,
    protocol: z.enum(["tcp", "udp"]).default("tcp"),
});

const HardeningSchema = z.strictObject({
    /** Run as this UID:GID. Default 10001:10001. */
    user: z
        .string()
        .regex(/^[0-9]+:[0-9]+$/, "expected UID:GID in numbers, e.g. 10001:10001")
        .default("10001:10001"),
    /** tini (Docker's init) as PID 1. Default true. */
    init: z.boolean().default(true),
    /** Read-only root filesystem. Default true. */
    readOnlyRoot: z.boolean().default(true),
    /** Writable tmpfs mounts (only with a read-only root). Default ["/tmp"]. */
    tmpfs: z.array(z.string().regex(/^\//, "expected an absolute path")).default(["/tmp"]),
    /** `no-new-privileges`. Default true. */
    noNewPrivileges: z.boolean().default(true),
    /** Drop every Linux capability. Default true. */
    dropAllCapabilities: z.boolean().default(true),
});

const ServiceSchema = z.strictObject({
    /** Family image the service builds FROM (as BASE_IMAGE, by digest). */
    family: z.string(),
    /** Build context under build.contextRoot (a template, see build.layout). Default: build.layout.services.context, else the name in snake_case. */
    context: pathTemplate("context").optional(),
    /** Dockerfile under build.contextRoot (a template). Default: build.layout.services.dockerfile, else <context>/Dockerfile. */
    dockerfile: pathTemplate("dockerfile").optional(),
    /** The service's directory name in the checkout, the layout's {dir}. Default: the name in lowercase. */
    dir: dirName.optional(),
    /** Repository name under <registry>/<org>/<namespace>/<machine>/. Default: the name in snake_case. */
    image: repoComponent.optional(),
    /** The service's main port on the machine (fleet-facts' first number). */
    port,
    /** The health port on the machine (a ZMQ REP socket in the fleet; HTTP health is on healthPort + 1). */
    healthPort: port,
    /** Published ports, container → host. Default: port, healthPort, and healthPort + 1 on health.hostPort. */
    ports: z.array(PortSchema).min(1).optional(),
    health: z
        .strictObject({
            /** HTTP path answering {"status":"ok"}. Default /health. */
            path: z
                .string()
                .regex(/^\/[^\s]*$/, "expected a path starting with /")
                .default("/health"),
            /** Host port of the HTTP health endpoint. Default healthPort + 1 (the fleet's convention; remap it where that port is taken). */
            hostPort: port.optional(),
        })
        .default({ path: "/health" }),
    /** Extra environment, on top of the machine profile's. */
    env: envMap.default({}),
    /** Extra build args (MACHINE, BASE_IMAGE and the profile's are set by the program). */
    buildArgs: envMap.default({}),
    /** Request the machine's GPU devices. Default false. */
    gpu: z.boolean().default(false),
    /** Services that must be healthy before this one starts: names of this stack, or `<gate stack>/<Service>`. Default none. */
    dependsOn: z.array(z.string().min(1)).default([]),
    /** false: a failed health check warns and holds nothing back (only optional services may depend on it). Default true. */
    required: z.boolean().default(true),
    hardening: HardeningSchema.default(HardeningSchema.parse({})),
});

const FamilySchema = z.strictObject({
    /** Build context under build.contextRoot (a template). Default: build.layout.families.context, else families/<name>. */
    context: pathTemplate("context").optional(),
    /** Dockerfile under build.contextRoot (a template). Default: build.layout.families.dockerfile, else <context>/Dockerfile. */
    dockerfile: pathTemplate("dockerfile").optional(),
    /** The family's directory name in the checkout, the layout's {dir}. Default: the name in lowercase. */
    dir: dirName.optional(),
    /** Another family this one builds FROM (by digest). Exactly one of parent/baseImage. */
    parent: z.string().optional(),
    /** An external base image (e.g. python:3.11-slim). Exactly one of parent/baseImage. */
    baseImage: imageRefString.optional(),
    /** Extra build args. */
    buildArgs: envMap.default({}),
});

const HealthSettingsSchema = z.strictObject({
    /** Give up after this long. Default 180 s. */
    timeoutSeconds: z.number().positive().max(3600).default(180),
    /** Wait between attempts. Default 2 s. */
    intervalSeconds: z.number().positive().max(300).default(2),
    /** Give up after this many attempts. Default 90. */
    retries: z.number().int().min(1).max(10000).default(90),
    /** Per-request timeout. Default 3 s. */
    requestTimeoutSeconds: z.number().positive().max(120).default(3),
});

/** Trivy's severities, lowest first (the same list as probes/scan-policy.js). */
export const SCAN_SEVERITIES = ["UNKNOWN", "LOW", "MEDIUM", "HIGH", "CRITICAL"] as const;

/** YYYY-MM-DD that is a real calendar day; a YAML date that a loader turned into a Date is taken too. */
const calendarDate = z.preprocess(
    (v) => (v instanceof Date && !Number.isNaN(v.getTime()) ? v.toISOString().slice(0, 10) : v),
    z
        .string()
        .regex(/^\d{4}-\d{2}-\d{2}$/, "expected a date YYYY-MM-DD")
        .refine((s) => {
            const d = new Date(`${s}T00:00:00Z`);
            return !Number.isNaN(d.getTime()) && d.toISOString().slice(0, 10) === s;
        }, "expected a real calendar date YYYY-MM-DD"),
);

const AllowEntrySchema = z.strictObject({
    /** The vulnerability id Trivy reports, e.g. CVE-2024-12345 or GHSA-xxxx-xxxx-xxxx. */
    id: z.string().regex(/^[A-Za-z][A-Za-z0-9]*-[A-Za-z0-9._:-]+$/, "expected a vulnerability id such as CVE-2024-12345"),
    /** Why the finding is accepted for now (shown in the scan report). */
    reason: z.string().trim().min(1, "expected a reason"),
    /** Last day (UTC) the entry holds; after it the finding fails the gate again. */
    expires: calendarDate,
});

const ScanSchema = z.strictObject({
    /** Scan every service image with Trivy before its container runs. Default true. */
    enabled: z.boolean().default(true),
    /** Findings at or above this severity fail the image's gate. Default CRITICAL. */
    severity: z.enum(SCAN_SEVERITIES).default("CRITICAL"),
    /** Leave out findings that have no fixed version yet. Default false. */
    ignoreUnfixed: z.boolean().default(false),
    /** Accepted findings: {id, reason, expires}; an expired entry accepts nothing. Default []. */
    allow: z.array(AllowEntrySchema).default([]),
    /** Let Trivy download and refresh its vulnerability DB (needs the DB repository). Default true. */
    dbUpdate: z.boolean().default(true),
    /** OCI repositories of the DB (a mirror for air-gapped networks). Default: Trivy's own. */
    dbRepository: z.array(z.string().regex(/^[^\s,]+$/, "expected an OCI repository such as ghcr.io/aquasecurity/trivy-db:2")).optional(),
    /** Trivy's cache dir holding db/trivy.db, on the machine running Pulumi. Default ${AI_FLEET_CACHE:-~/.cache/ai-fleet}/trivy/cache. */
    cacheDir: z.string().min(1).optional(),
    /** The trivy binary. Default: what scripts/trivy.sh provides (on PATH at 0.74.0, or its cached build). */
    trivy: z.string().min(1).optional(),
    /** Per-image scan timeout. Default 600 s. */
    timeoutSeconds: z.number().positive().max(7200).default(600),
});

export const StackConfigSchema = z
    .strictObject({
        /** Machine profile name: profiles/<machine>.json. */
        machine: z.string().regex(/^[a-z0-9][a-z0-9-]*$/, "expected a lowercase machine name, e.g. mainpc"),
        /** all: build, verify, deploy. build: build, push, verify only. deploy: deploy existing images (digests given, a build stack's, or the release tag), build nothing. */
        phase: z.enum(["all", "build", "deploy"]).default("all"),
        docker: z.strictObject({
            /** The machine's Docker host: ssh://user@host or unix:///var/run/docker.sock (or tcp://). */
            host: z
                .string()
                .regex(
                    /^(ssh:\/\/[^@\s]+@[^\s/]+|unix:\/\/\/\S+|tcp:\/\/\S+)$/,
                    "expected ssh://user@host, unix:///path/to/docker.sock or tcp://host:port",
                ),
            /** Host name the health checks call. Default: the ssh/tcp host, or 127.0.0.1 for a socket. */
            healthHost: z.string().min(1).optional(),
            /** Address host ports bind to. Default 0.0.0.0. */
            bindAddress: z.string().default("0.0.0.0"),
            /** Extra ssh options for an ssh:// host. */
            sshOpts: z.array(z.string()).default([]),
            /** provider: the docker provider plugin runs containers (default). cli: `docker run` through a command, for machines without that plugin. */
            runtime: z.enum(["provider", "cli"]).default("provider"),
        }),
        registry: z.strictObject({
            /** Registry host, e.g. ghcr.io. */
            host: z.string().regex(/^[A-Za-z0-9.-]+(:[0-9]+)?$/, "expected a registry host such as ghcr.io or 127.0.0.1:5000"),
            /** Organisation (first path component). */
            org: repoComponent,
            /** Path under the org. Default ai_system. */
            namespace: repoComponent.default("ai_system"),
            /** Registry user. */
            username: z.string().min(1),
            /** Environment variable holding the password when the secret registryPassword is not set. */
            passwordEnv: z
                .string()
                .regex(/^[A-Za-z_][A-Za-z0-9_]*$/)
                .optional(),
            /** Talk plain HTTP to the registry (loopback test registries only). Default false. */
            insecure: z.boolean().default(false),
        }),
        build: z.strictObject({
            /** Directory holding the build contexts, relative to this project. */
            contextRoot: z.string().min(1),
            /** Target platform. Default linux/amd64. */
            platform: z.enum(["linux/amd64", "linux/arm64"]).default("linux/amd64"),
            /** Source repository URL for the OCI source label. */
            sourceUrl: z.string().url().optional(),
            /** Registry build cache; omit for none (the local engine's builder cannot export it). */
            cache: z
                .strictObject({
                    ref: imageRefString.refine(
                        (s) => !parseImageRef(s)?.tag && !parseImageRef(s)?.digest,
                        "expected a repository without tag or digest",
                    ),
                    mode: z.enum(["max", "min"]).default("max"),
                })
                .optional(),
            /** A buildx builder by name (e.g. a BuildKit daemon that can push and export registry cache). Default: the Docker host's own builder. */
            builder: z
                .string()
                .regex(/^[A-Za-z0-9][A-Za-z0-9_.-]*$/, "expected a buildx builder name")
                .optional(),
            /** Build images during `pulumi preview` too. Default false (preview stays quick). */
            buildOnPreview: z.boolean().default(false),
            /** Where contexts and Dockerfiles are: templates for families and services (build/layout.ts). Default families/{name}, {snake}, {context}/Dockerfile. */
            layout: LayoutSchema.optional(),
        }),
        families: z.record(z.string().regex(/^[a-z0-9][a-z0-9._-]*$/, "expected a lowercase family name"), FamilySchema),
        services: z.record(
            z.string().regex(/^[A-Za-z][A-Za-z0-9]*$/, "expected a service name in PascalCase letters and digits"),
            ServiceSchema,
        ),
        rollout: z
            .strictObject({
                /** Services rolled out first (after what they depend on); their health gates everything they do not need. */
                canary: z.array(z.string()).default([]),
                /** Dependencies this stack leaves out on purpose, with the reason (e.g. a service of the config not in this fleet). */
                excluded: z
                    .record(z.string().regex(/^[A-Za-z][A-Za-z0-9]*$/, "expected a service name"), z.string().min(1, "expected the reason"))
                    .default({}),
                health: HealthSettingsSchema.default(HealthSettingsSchema.parse({})),
                /** Another stack (org/project/stack) whose canaryReport must be healthy before this batch. */
                gateStack: z
                    .string()
                    .regex(/^[^/\s]+\/[^/\s]+\/[^/\s]+$/, "expected organization/project/stack")
                    .optional(),
                /** Pass each container its dependencies' health URLs (FLEET_DEPENDENCIES; a change of dependsOn then restarts it). Default false. */
                exposeDependencies: z.boolean().default(false),
                /** Roll out the batch with no canary and no gate stack. Default false. */
                allowUngatedBatch: z.boolean().default(false),
            })
            .default({
                canary: [],
                excluded: {},
                health: HealthSettingsSchema.parse({}),
                exposeDependencies: false,
                allowUngatedBatch: false,
            }),
        /** The vulnerability gate (Trivy) between verification and containers. */
        scan: ScanSchema.default(ScanSchema.parse({})),
        deploy: z
            .strictObject({
                /** Stack (org/project/stack) of a build-phase run whose `images` output to deploy. */
                imagesFromStack: z
                    .string()
                    .regex(/^[^/\s]+\/[^/\s]+\/[^/\s]+$/, "expected organization/project/stack")
                    .optional(),
                /** Explicit image references by service or family name: repository@sha256:digest. */
                images: z
                    .record(
                        z.string(),
                        imageRefString.refine((s) => !!parseImageRef(s)?.digest, "expected a reference pinned by @sha256:digest"),
                    )
                    .optional(),
            })
            .optional(),
    })
    // Run the cross-reference checks even when some fields failed their types, so one run reports
    // everything; the checks skip entries whose shape is broken (those are reported already).
    .superRefine((cfg, ctx) => checkCrossReferences(cfg, ctx), { when: () => true });

export type StackConfig = z.infer<typeof StackConfigSchema>;
export type ServiceConfig = z.infer<typeof ServiceSchema>;
export type FamilyConfig = z.infer<typeof FamilySchema>;
export type HealthSettings = z.infer<typeof HealthSettingsSchema>;
export type PortMapping = z.infer<typeof PortSchema>;
export type Hardening = z.infer<typeof HardeningSchema>;
export type ScanSettings = z.infer<typeof ScanSchema>;

/**
 * A service's published ports. Default: port and healthPort on themselves, and the HTTP health
 * endpoint (container port healthPort + 1) on health.hostPort, itself defaulting to healthPort + 1.
 */
export function publishedPorts(svc: Pick<ServiceConfig, "port" | "healthPort" | "ports" | "health">): PortMapping[] {
    if (svc.ports) {
        return svc.ports;
    }
    return [
        { container: svc.port, host: svc.port, protocol: "tcp" },
        { container: svc.healthPort, host: svc.healthPort, protocol: "tcp" },
        { container: svc.healthPort + 1, host: svc.health.hostPort ?? svc.healthPort + 1, protocol: "tcp" },
    ];
}

/** The HTTP health endpoint on the machine (host side) and inside the container. */
export function healthEndpoint(svc: Pick<ServiceConfig, "port" | "healthPort" | "ports" | "health">): {
    hostPort: number;
    containerPort: number | undefined;
    path: string;
} {
    const hostPort = svc.health.hostPort ?? svc.healthPort + 1;
    const mapping = publishedPorts(svc).find((p) => p.host === hostPort && p.protocol === "tcp");
    return { hostPort, containerPort: mapping?.container, path: svc.health.path };
}

/** The rollout order of a parsed stack config (its graph was checked by the schema). */
export function rolloutPlanOf(stack: Pick<StackConfig, "services" | "rollout">): RolloutPlan {
    return planRollout({
        services: stack.services,
        canary: stack.rollout.canary,
        excluded: stack.rollout.excluded,
        gateStack: stackNameOf(stack.rollout.gateStack),
    });
}

/** Families in build order (parents first); assumes no cycle (the schema rejects cycles). */
export function familyOrder(families: Record<string, { parent?: string }>): string[] {
    const order: string[] = [];
    const seen = new Set<string>();
    const visit = (name: string): void => {
        if (seen.has(name)) {
            return;
        }
        seen.add(name);
        const parent = families[name]?.parent;
        if (parent !== undefined && families[parent] !== undefined) {
            visit(parent);
        }
        order.push(name);
    };
    Object.keys(families).sort().forEach(visit);
    return order;
}

/** Finds a cycle in the family chain, returned as the path of names, e.g. [a, b, a]. */
export function findFamilyCycle(families: Record<string, { parent?: string }>): string[] | undefined {
    for (const start of Object.keys(families).sort()) {
        const pathSoFar: string[] = [];
        let cur: string | undefined = start;
        while (cur !== undefined && families[cur] !== undefined) {
            const at = pathSoFar.indexOf(cur);
            if (at >= 0) {
                return [...pathSoFar.slice(at), cur];
            }
            pathSoFar.push(cur);
            cur = families[cur].parent;
        }
    }
    return undefined;
}

function checkCrossReferences(
    cfg: {
        build?: { layout?: z.infer<typeof LayoutSchema> };
        families: Record<string, FamilyConfig>;
        services: Record<string, ServiceConfig>;
        rollout: { canary: string[]; excluded: Record<string, string>; gateStack?: string; allowUngatedBatch: boolean };
        phase: string;
        deploy?: { imagesFromStack?: string; images?: Record<string, string> };
    },
    ctx: z.RefinementCtx,
): void {
    const families = isObject(cfg.families) ? cfg.families : {};
    const services = isObject(cfg.services) ? cfg.services : {};
    const canary = Array.isArray(cfg.rollout?.canary) ? cfg.rollout.canary : [];
    for (const [name, fam] of Object.entries(families).filter(([, f]) => isObject(f))) {
        if ((fam.parent === undefined) === (fam.baseImage === undefined)) {
            ctx.addIssue({
                code: "custom",
                path: ["families", name],
                message: "expected exactly one of 'parent' (another family) or 'baseImage' (an external image)",
            });
        }
        if (fam.parent !== undefined && families[fam.parent] === undefined) {
            ctx.addIssue({
                code: "custom",
                path: ["families", name, "parent"],
                message: `unknown family "${fam.parent}" (known: ${Object.keys(families).sort().join(", ")})`,
            });
        }
    }
    if (isObject(cfg.build) && (cfg.build.layout === undefined || isObject(cfg.build.layout))) {
        const entries = (o: Record<string, unknown>) =>
            Object.fromEntries(Object.entries(o).filter(([, v]) => isObject(v))) as Record<string, LayoutEntry>;
        layoutPathIssues(cfg.build.layout, entries(families), entries(services)).forEach((i) => ctx.addIssue({ code: "custom", ...i }));
    }
    const cycle = findFamilyCycle(families);
    if (cycle) {
        ctx.addIssue({ code: "custom", path: ["families", cycle[0], "parent"], message: `family cycle: ${cycle.join(" → ")}` });
    }

    const hostPorts = new Map<string, string>();
    const repos = new Map<string, string>();
    for (const [name, svc] of Object.entries(services)) {
        if (
            !isObject(svc) ||
            typeof svc.port !== "number" ||
            typeof svc.healthPort !== "number" ||
            !isObject(svc.health) ||
            !isObject(svc.hardening)
        ) {
            continue;
        }
        if (families[svc.family] === undefined) {
            ctx.addIssue({
                code: "custom",
                path: ["services", name, "family"],
                message: `unknown family "${svc.family}" (known: ${Object.keys(families).sort().join(", ")})`,
            });
        }
        const ports = publishedPorts(svc);
        ports.forEach((p, i) => {
            const key = `${p.host}/${p.protocol}`;
            const owner = hostPorts.get(key);
            const where = svc.ports ? ["services", name, "ports", i, "host"] : ["services", name, "ports"];
            if (owner !== undefined) {
                ctx.addIssue({
                    code: "custom",
                    path: where,
                    message: `host port ${p.host}/${p.protocol} is already bound by ${owner} on this machine; give one of them another host port`,
                });
            } else {
                hostPorts.set(key, name);
            }
        });
        const containerPorts = new Set<string>();
        ports.forEach((p, i) => {
            const key = `${p.container}/${p.protocol}`;
            if (containerPorts.has(key)) {
                ctx.addIssue({
                    code: "custom",
                    path: ["services", name, "ports", i, "container"],
                    message: `container port ${key} is published twice`,
                });
            }
            containerPorts.add(key);
        });
        const health = healthEndpoint(svc);
        if (health.containerPort === undefined) {
            ctx.addIssue({
                code: "custom",
                path: ["services", name, "health", "hostPort"],
                message: `health host port ${health.hostPort} is not among the service's published tcp host ports (${ports.map((p) => p.host).join(", ")})`,
            });
        }
        const repo = svc.image ?? snake(name);
        const other = repos.get(repo);
        if (other !== undefined) {
            ctx.addIssue({
                code: "custom",
                path: ["services", name, "image"],
                message: `image repository "${repo}" is already used by ${other}`,
            });
        } else if (families[repo] !== undefined) {
            ctx.addIssue({
                code: "custom",
                path: ["services", name, "image"],
                message: `image repository "${repo}" is the name of a family image`,
            });
        } else {
            repos.set(repo, name);
        }
        if (!svc.hardening.readOnlyRoot && svc.hardening.tmpfs.length > 0 && svc.hardening.tmpfs.join() !== "/tmp") {
            ctx.addIssue({
                code: "custom",
                path: ["services", name, "hardening", "tmpfs"],
                message: "tmpfs mounts are for a read-only root; drop them or keep readOnlyRoot",
            });
        }
    }
    const seenCanary = new Set<string>();
    canary.forEach((name, i) => {
        if (services[name] === undefined) {
            ctx.addIssue({
                code: "custom",
                path: ["rollout", "canary", i],
                message: `canary entry "${name}" names no service (known: ${Object.keys(services).sort().join(", ")})`,
            });
        } else if (seenCanary.has(name)) {
            ctx.addIssue({ code: "custom", path: ["rollout", "canary", i], message: `canary entry "${name}" is listed twice` });
        }
        seenCanary.add(name);
    });
    const graphable = Object.entries(services).filter(
        ([, svc]) => isObject(svc) && Array.isArray(svc.dependsOn) && typeof svc.required === "boolean",
    );
    if (graphable.length === Object.keys(services).length && isObject(cfg.rollout?.excluded)) {
        const issues = checkGraph({
            services: Object.fromEntries(graphable),
            canary: canary.filter((c) => typeof c === "string"),
            excluded: cfg.rollout.excluded,
            gateStack: stackNameOf(cfg.rollout.gateStack),
        });
        issues.forEach((issue) => ctx.addIssue({ code: "custom", path: issue.path, message: issue.message }));
    }
    const hasBatch = Object.keys(services).some((s) => !seenCanary.has(s));
    if (
        cfg.phase !== "build" &&
        hasBatch &&
        seenCanary.size === 0 &&
        cfg.rollout?.gateStack === undefined &&
        !cfg.rollout?.allowUngatedBatch
    ) {
        ctx.addIssue({
            code: "custom",
            path: ["rollout", "canary"],
            message:
                "no canary and no gateStack: the batch would roll out ungated; name canary services, set rollout.gateStack, or set rollout.allowUngatedBatch: true",
        });
    }
    for (const issue of consistencyIssues(cfg as unknown as Record<string, unknown>)) {
        ctx.addIssue({ code: "custom", path: issue.path, message: issue.message });
    }
}

function isObject(v: unknown): v is Record<string, any> {
    return v !== null && typeof v === "object" && !Array.isArray(v);
}

/**
 * Every problem of a stack's config, each as `ai-fleet:<key path>: <what was expected>`. A RunError,
 * so `pulumi preview`/`up` print the message alone, without a JavaScript stack.
 */
export class ConfigError extends pulumi.RunError {
    constructor(public readonly issues: string[]) {
        super(
            `invalid stack config (${issues.length} problem${issues.length === 1 ? "" : "s"}):\n${issues.map((i) => `  - ${i}`).join("\n")}`,
        );
        this.name = "ConfigError";
    }
}

function formatIssue(issue: { path: PropertyKey[]; message: string }): string {
    const keyPath = issue.path.map((p) => String(p)).join(".");
    const [top, ...rest] = keyPath.split(".");
    const key = top ? `${PROJECT}:${top}${rest.length ? "." + rest.join(".") : ""}` : `${PROJECT}:<root>`;
    return `${key}: ${issue.message}`;
}

/** The config the program runs on: the parsed stack config and its machine profile. */
export interface FleetConfig {
    stack: StackConfig;
    profile: Profile;
    /** The stack sets `ai-fleet:services` as a secret: container environments stay secret in state too. */
    secretServices?: boolean;
}

/**
 * Parses raw stack config (the `ai-fleet:` keys without prefix) and its machine profile. Throws a
 * ConfigError listing every problem, the profile's and the stack context's included (`context`:
 * which stack this is and which keys are secrets); returns a frozen config.
 */
export function parseStackConfig(
    raw: unknown,
    profileLoader: (machine: string) => Profile = (m) => loadProfile(m),
    context: StackContext = {},
): FleetConfig {
    const result = StackConfigSchema.safeParse(raw);
    const issues = result.success ? [] : result.error.issues.map(formatIssue);
    if (isObject(raw)) {
        issues.push(...stackContextIssues(raw, context).map(formatIssue));
    }
    let profile: Profile | undefined;
    const machine = (raw as { machine?: unknown } | undefined)?.machine;
    if (typeof machine === "string") {
        try {
            profile = profileLoader(machine);
        } catch (e) {
            if (!(e instanceof ProfileError)) {
                throw e;
            }
            issues.push(`${PROJECT}:machine: ${e.message}`);
        }
    }
    if (result.success && profile) {
        for (const [name, svc] of Object.entries(result.data.services)) {
            if (svc.gpu && profile.gpu === null) {
                issues.push(`${PROJECT}:services.${name}.gpu: machine "${profile.machine}" has no GPU in its profile; set gpu: false`);
            }
        }
    }
    if (issues.length > 0 || !result.success || !profile) {
        throw new ConfigError(issues);
    }
    return deepFreeze({ stack: result.data, profile });
}

function deepFreeze<T>(o: T): T {
    if (o !== null && typeof o === "object" && !Object.isFrozen(o)) {
        Object.freeze(o);
        Object.values(o as object).forEach(deepFreeze);
    }
    return o;
}

/** Secret keys, read apart from the schema with requireSecret/getSecret. */
export const SECRET_KEYS = SECRET_CONFIG_KEYS;

/**
 * The raw `ai-fleet:` keys of the stack (structured values parsed from their JSON), secrets left
 * out. Every key goes to the strict schema, so a typo such as `servces` is reported, not ignored.
 */
export function rawStackConfig(allConfig: Record<string, string>): Record<string, unknown> {
    const raw: Record<string, unknown> = {};
    const secrets = new Set<string>(SECRET_KEYS);
    for (const [fullKey, text] of Object.entries(allConfig)) {
        if (!fullKey.startsWith(`${PROJECT}:`)) {
            continue;
        }
        const key = fullKey.slice(PROJECT.length + 1);
        if (secrets.has(key)) {
            continue;
        }
        try {
            raw[key] = JSON.parse(text);
        } catch {
            raw[key] = text;
        }
    }
    return raw;
}

/**
 * Which of the stack's `ai-fleet:` keys the engine holds as secrets, by key without the prefix.
 * `isSecret` answers for a full key (`ai-fleet:registryPassword`); the engine's list reaches the
 * program as PULUMI_CONFIG_SECRET_KEYS, which the SDK reads (see configKeyIsSecret).
 */
export function configSecretness(allConfig: Record<string, string>, isSecret: (fullKey: string) => boolean): Record<string, boolean> {
    const out: Record<string, boolean> = {};
    for (const fullKey of Object.keys(allConfig)) {
        if (fullKey.startsWith(`${PROJECT}:`)) {
            out[fullKey.slice(PROJECT.length + 1)] = isSecret(fullKey);
        }
    }
    return out;
}

/**
 * Whether the engine passed `fullKey` as a secret: the SDK's own reading of the engine's
 * PULUMI_CONFIG_SECRET_KEYS (runtime/config's isConfigSecret, internal to @pulumi/pulumi and
 * hence required by path), so unit tests' `setAllConfig(config, secretKeys)` is honoured too.
 */
export function configKeyIsSecret(fullKey: string): boolean {
    // eslint-disable-next-line @typescript-eslint/no-require-imports -- loaded lazily
    const runtimeConfig = require("@pulumi/pulumi/runtime/config") as { isConfigSecret?: (k: string) => boolean };
    if (typeof runtimeConfig.isConfigSecret !== "function") {
        throw new Error("@pulumi/pulumi no longer exports runtime/config.isConfigSecret: update configKeyIsSecret");
    }
    return runtimeConfig.isConfigSecret(fullKey);
}

/**
 * Whether the engine told the program which keys are secrets at all (the language host always
 * sets PULUMI_CONFIG_SECRET_KEYS, "[]" for none; a program started some other way has no list,
 * and then no key can be called plaintext).
 */
export function engineSecretKeysKnown(): boolean {
    // eslint-disable-next-line @typescript-eslint/no-require-imports -- loaded lazily
    const state = require("@pulumi/pulumi/runtime/state") as { getStore?: () => { config: Record<string, string | undefined> } };
    return typeof state.getStore === "function" && !!state.getStore().config["PULUMI_CONFIG_SECRET_KEYS"];
}

/**
 * This stack as organization/project/stack, the form gateStack and imagesFromStack use. Where the
 * engine names no organization (unit mocks), "organization": what the DIY backends call theirs.
 */
export function currentStackName(): string {
    let organization = "organization";
    try {
        organization = pulumi.getOrganization();
    } catch {
        // No organization from the engine: keep the DIY backends' name.
    }
    return `${organization}/${pulumi.getProject()}/${pulumi.getStack()}`;
}

/**
 * Reads, parses and validates the current stack's config and machine profile (throws ConfigError).
 * `adjust` may rewrite the raw keys first (release.ts: the rollout command's overrides).
 */
export function loadFleetConfig(adjust: (raw: Record<string, unknown>) => Record<string, unknown> = (raw) => raw): FleetConfig {
    const all = pulumi.runtime.allConfig();
    const secretness = engineSecretKeysKnown() ? configSecretness(all, configKeyIsSecret) : undefined;
    const parsed = parseStackConfig(adjust(rawStackConfig(all)), undefined, { self: currentStackName(), secretness });
    return secretness !== undefined && configKeyIsSecret(`${PROJECT}:services`)
        ? Object.freeze({ ...parsed, secretServices: true })
        : parsed;
}

/** The registry password as a secret Output: the `registryPassword` secret, else the env var named by registry.passwordEnv. */
export function registryPassword(stack: StackConfig, cfg: pulumi.Config = new pulumi.Config(PROJECT)): pulumi.Output<string> {
    const secret = cfg.getSecret("registryPassword");
    if (secret !== undefined) {
        return secret;
    }
    const envName = stack.registry.passwordEnv;
    const fromEnv = envName ? process.env[envName] : undefined;
    if (fromEnv === undefined || fromEnv === "") {
        throw new ConfigError([
            `${PROJECT}:registryPassword: expected a secret (pulumi config set --secret registryPassword …)${envName ? ` or a non-empty environment variable ${envName} (registry.passwordEnv)` : " or registry.passwordEnv naming an environment variable"}`,
        ]);
    }
    return pulumi.secret(fromEnv);
}

/**
 * The commit of the build contexts (committer date) with their uncommitted changes (tracked or
 * untracked, under `dir`), or undefined outside a git checkout.
 */
export function readSourceCommit(dir: string): SourceCommit | undefined {
    let commit: SourceCommit;
    try {
        const out = execFileSync("git", ["-C", dir, "log", "-1", "--format=%H %cI"], {
            encoding: "utf8",
            stdio: ["ignore", "pipe", "ignore"],
        }).trim();
        const [sha, iso] = out.split(" ");
        if (!sha || !iso) return undefined;
        commit = { sha, date: new Date(iso) };
    } catch {
        return undefined;
    }
    const dirty = treeChanges(dir);
    return dirty ? { ...commit, dirty } : commit;
}

/** The host the health checks call, derived from the Docker host unless docker.healthHost is set. */
export function healthHost(docker: { host: string; healthHost?: string }): string {
    if (docker.healthHost) {
        return docker.healthHost;
    }
    const m = /^(?:ssh:\/\/[^@]+@|tcp:\/\/)([^:/]+)/.exec(docker.host);
    return m ? m[1] : "127.0.0.1";
}
