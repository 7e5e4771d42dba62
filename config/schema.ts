/**
 * The stack config's zod schema and the types inferred from it: every `ai-fleet:` key of a stack
 * file, with its default. Checks that relate keys to each other run as the schema's refinement
 * (checks.ts), so one parse reports every problem.
 */
import { z } from "zod";
import { LayoutSchema } from "../buildTree/layout";
import { parseImageRef } from "../naming";
import { crossReferenceIssues } from "./checks";
import { imageRefString, repoComponent } from "./fields";
import { Issue } from "./issues";
import { FamilySchema, ServiceSchema } from "./serviceSchema";

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
    })
    // Run the cross-reference checks even when some fields failed their types, so one run reports
    // everything; the checks skip entries whose shape is broken (those are reported already).
    .superRefine((cfg, ctx) => reportIssues(ctx, crossReferenceIssues(cfg)), { when: () => true });

function reportIssues(ctx: z.RefinementCtx, issues: Issue[]): void {
    issues.forEach((i) => ctx.addIssue({ code: "custom", path: i.path, message: i.message }));
}

export type StackConfig = z.infer<typeof StackConfigSchema>;
export type ScanSettings = z.infer<typeof ScanSchema>;
