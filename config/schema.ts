/**
 * The stack config's shapes: every `ai-fleet:` key of a stack file, its type, its default and the
 * checks of one value on its own (a port's range, an image reference, a template's placeholders),
 * with the types inferred from them. Shapes only: rules relating values to each other or to the
 * machine are in rules/ (config/index.ts has the map), attached to the schema in parse.ts.
 */
import { z } from "zod";
import { isValidRepoComponent, parseImageRef } from "../naming";
import { templateProblems } from "./layout";
import { MACHINE_NODE_LABEL } from "../common/labels";

// Field types several keys share.

/** A TCP/UDP port number. */
const port = z.number().int().min(1).max(65535);
/** Environment variables or build args: NAME → value. */
const envMap = z.record(z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, "expected an environment variable name"), z.string());
/** An image reference as docker takes it (naming.ts parses it). */
const imageRefString = z.string().refine((s) => parseImageRef(s) !== undefined, {
    message: "expected an image reference [registry/]repository[:tag][@sha256:digest] with one tag at most",
});
/** One path component of a repository name. */
const repoComponent = z.string().refine(isValidRepoComponent, {
    message: "expected a lowercase repository name component (letters, digits, and . _ - inside)",
});

// build.layout and the entries' templates (layout.ts has the template language).

/** A template as a zod string: checked on its own at parse time, with the key path. */
function pathTemplate(kind: "context" | "dockerfile") {
    return z
        .string()
        .min(1)
        .superRefine((t, ctx) => {
            for (const message of templateProblems(t, kind)) {
                ctx.addIssue({ code: "custom", message });
            }
        });
}

const RuleSchema = z.strictObject({
    /** Build context template. */
    context: pathTemplate("context").optional(),
    /** Dockerfile template. */
    dockerfile: pathTemplate("dockerfile").optional(),
});

/** `build.layout`: templates for families and services; each part defaults to DEFAULT_LAYOUT's. */
const LayoutSchema = z.strictObject({
    families: RuleSchema.optional(),
    services: RuleSchema.optional(),
});

/** `dir`: a single directory name (no separators, not . or ..). */
const dirName = z.string().regex(/^(?!\.\.?$)[A-Za-z0-9._-]+$/, "expected one directory name (letters, digits, . _ -), e.g. nluagent");

// One entry of services and of families.

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

export const ServiceSchema = z.strictObject({
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
    /** Extra environment, on top of the machine profile's: a profile key's value follows profiles/schema.ts, and names the program sets are refused (checkServiceEnv in rules/machine.ts). */
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

export const FamilySchema = z.strictObject({
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

export type ServiceConfig = z.infer<typeof ServiceSchema>;
export type FamilyConfig = z.infer<typeof FamilySchema>;
export type PortMapping = z.infer<typeof PortSchema>;

// The whole stack config.

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

/** A rolling update's surge or unavailability: a count or a percentage. */
const intOrPercent = z.union([
    z.number().int().min(0),
    z.string().regex(/^[0-9]+%$/, "expected a whole number or a percentage such as 25%"),
]);
const isZero = (v: number | string): boolean => v === 0 || v === "0%";
/** Whether maxUnavailable lets the only replica go: a count of 1 or more, or 100%. */
const unavailableForOne = (v: number | string): boolean => (typeof v === "number" ? v >= 1 : Number(v.slice(0, -1)) >= 100);

/** A Kubernetes label key (a node label pinning a machine's workloads). */
export const nodeLabelKey = z
    .string()
    .regex(/^([a-z0-9.-]+\/)?[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/, "expected a Kubernetes label key such as ai-fleet.io/machine");

/**
 * The cluster a stack rolls out to (`kubernetes`): the machine stack's own, or a fleet stack's for
 * every machine (config/fleet.ts).
 */
export const KubernetesSchema = z.strictObject({
    /** Path to a kubeconfig file. Default: KUBECONFIG, else ~/.kube/config. */
    kubeconfig: z.string().min(1).optional(),
    /** The kubeconfig context. Default: its current context. */
    context: z.string().min(1).optional(),
    /** Namespace the program creates and rolls out into. Default ai-fleet. */
    namespace: z
        .string()
        .regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/, "expected a Kubernetes namespace name (lowercase letters, digits, -)")
        .max(63)
        .default("ai-fleet"),
    /** The node label whose value is the machine's name (profiles/<machine>.json) on the node that machine is. */
    nodeLabel: nodeLabelKey.default(MACHINE_NODE_LABEL),
    /**
     * How each workload (one replica) is updated. Default maxSurge 0, maxUnavailable 1: the old
     * pod stops first, then the new one starts (Kubernetes' Recreate), as a Docker container is
     * replaced, because a pod with host ports cannot start beside its predecessor on one node.
     * maxSurge 1 with maxUnavailable 0 starts the new pod first (a RollingUpdate), for workloads
     * without host ports.
     */
    rollingUpdate: z
        .strictObject({ maxSurge: intOrPercent.default(0), maxUnavailable: intOrPercent.default(1) })
        .refine((r) => isZero(r.maxSurge) || !unavailableForOne(r.maxUnavailable), {
            message:
                "with maxSurge above 0, expected maxUnavailable 0 (or a percentage under 100%): with one replica Kubernetes would count an update available with no pod ready",
        })
        .default({ maxSurge: 0, maxUnavailable: 1 }),
    /** Seconds the provider waits for a workload's rollout to be ready before the update fails naming it. Default 300. */
    timeoutSeconds: z.number().int().min(10).max(3600).default(300),
});

export const StackConfigSchema = z.strictObject({
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
    /**
     * The cluster target: present, the services run as Kubernetes workloads on this cluster instead of
     * containers on docker.host (README, "Kubernetes"). The kubeconfig and context default to what
     * kubectl finds (KUBECONFIG, ~/.kube/config, its current context).
     */
    kubernetes: KubernetesSchema.optional(),
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
        /** Where contexts and Dockerfiles are: templates for families and services (buildTree/layout.ts). Default families/{name}, {snake}, {context}/Dockerfile. */
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
});

export type StackConfig = z.infer<typeof StackConfigSchema>;
export type KubernetesSettings = z.infer<typeof KubernetesSchema>;
export type LayoutConfig = z.infer<typeof LayoutSchema>;
export type ScanSettings = z.infer<typeof ScanSchema>;
