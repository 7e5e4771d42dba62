/**
 * What each probe is given and what it reports, as the components run it: the inputs built from
 * plain settings (exported, so the integration tests and the bench run exactly what the program
 * runs) and the outputs parsed through the probes' contracts (probes/contracts.js).
 */
import * as pulumi from "@pulumi/pulumi";
import { CONTAINER, HEALTH, parseProbeOutput, probeCommand, ProbeInput, ProbeOutput, runProbe, SCAN, VERIFY } from "./probes";
import { pinnedRefValue } from "./buildSpec";

/** Registry access for verification, scans and pulls. */
export interface RegistryAccess {
    /** Registry host, e.g. ghcr.io or 127.0.0.1:5000. */
    host: string;
    /** User name. */
    username: string;
    /** Password or token; stays secret. */
    password: pulumi.Input<string>;
    /** Plain HTTP (loopback registries). Default false. */
    insecure?: boolean;
}

/** Bounds of one health check. */
export interface HealthBounds {
    /** Give up after this long (seconds). */
    timeoutSeconds: number;
    /** Wait between attempts (seconds). */
    intervalSeconds: number;
    /** Give up after this many attempts. */
    retries: number;
    /** Per-request timeout (seconds). */
    requestTimeoutSeconds: number;
}

/** How the health check of one service probes it from where `pulumi up` runs. */
export interface ProbeSettings {
    /** Host the check calls. */
    host: string;
    /** Host port of the HTTP health endpoint. */
    port: number;
    /** Path of the health endpoint. */
    path: string;
    /** Timeout, interval, retries, per-request timeout. */
    bounds: HealthBounds;
}

export type Severity = ProbeInput<typeof SCAN>["FLEET_SCAN_SEVERITY"];

/** An allow-list entry of the scan policy. */
export interface AllowEntry {
    id: string;
    reason: string;
    expires: string;
}

/** How an image is scanned and judged (ai-fleet:scan). */
export interface ScanPolicy {
    /** Findings at or above this severity fail the gate. */
    severity: Severity;
    /** Accepted findings; an expired entry accepts nothing. */
    allow: AllowEntry[];
    /** Leave out findings without a fixed version. */
    ignoreUnfixed: boolean;
    /** Let Trivy download/refresh its DB; otherwise the DB in cacheDir is used as it is. */
    dbUpdate: boolean;
    /** OCI repositories of the DB (a mirror). Default: Trivy's own. */
    dbRepository?: string[];
    /** Trivy's cache dir (db/trivy.db inside). Default: the probe's (~/.cache/ai-fleet/trivy/cache). */
    cacheDir?: string;
    /** The trivy binary. Default: what scripts/trivy.sh provides. */
    trivy?: string;
    /** Per-image scan timeout in seconds. */
    timeoutSeconds: number;
}

/** One service's health as the probe reported it. */
export type HealthReport = ProbeOutput<typeof HEALTH>;
/** One image's scan result (a passed scan; a failed one fails the resource). */
export type ScanReport = ProbeOutput<typeof SCAN>;
/** An allowed finding as the scan report shows it. */
export type AllowedFindingReport = ScanReport["allowed"][number];
/** What verification found in the registry. */
export type VerificationResult = ProbeOutput<typeof VERIFY>;
/** What the cli runtime's container probe started. */
export type StartedContainer = ProbeOutput<typeof CONTAINER>;

/** The URL a health check polls. */
export function healthUrl(host: string, port: number, path: string): string {
    const h = host.includes(":") && !host.startsWith("[") ? `[${host}]` : host;
    return `http://${h}:${port}${path}`;
}

/** The health probe's input for one service. */
export function healthInput(args: {
    service: string;
    host: string;
    port: number;
    path: string;
    bounds: HealthBounds;
    digest: string;
    required?: boolean;
    rollbackCommand?: string;
}): ProbeInput<typeof HEALTH> {
    return {
        FLEET_SERVICE: args.service,
        FLEET_HOST: args.host,
        FLEET_HEALTH_URL: healthUrl(args.host, args.port, args.path),
        FLEET_TIMEOUT_S: String(args.bounds.timeoutSeconds),
        FLEET_INTERVAL_S: String(args.bounds.intervalSeconds),
        FLEET_RETRIES: String(args.bounds.retries),
        FLEET_REQUEST_TIMEOUT_S: String(args.bounds.requestTimeoutSeconds),
        FLEET_DIGEST: args.digest,
        FLEET_REQUIRED: args.required === false ? "false" : "true",
        ...(args.rollbackCommand ? { FLEET_ROLLBACK_HINT: args.rollbackCommand } : {}),
    };
}

/** The exact command and environment the health check runs (the integration tests and the bench run the same). */
export function healthCheckCommand(args: Parameters<typeof healthInput>[0]): { create: string; environment: Record<string, string> } {
    return { create: probeCommand(HEALTH.script), environment: healthInput(args) as Record<string, string> };
}

/** The verification probe's input. */
export function verificationInput(args: {
    image: string;
    expectedDigest?: string;
    registry: { username: string; password: string; insecure?: boolean };
    parent?: string;
    platform?: string;
}): ProbeInput<typeof VERIFY> {
    return {
        FLEET_IMAGE: args.image,
        FLEET_EXPECTED_DIGEST: args.expectedDigest ?? "",
        FLEET_REGISTRY_USER: args.registry.username,
        FLEET_REGISTRY_PASSWORD: args.registry.password,
        FLEET_REGISTRY_INSECURE: args.registry.insecure ? "true" : "false",
        // Only with a parent, so that verifications without one keep their inputs as they were.
        ...(args.parent ? { FLEET_PARENT_IMAGE: args.parent, FLEET_PLATFORM: args.platform ?? "linux/amd64" } : {}),
    };
}

/** The command and environment verification runs (exported for the integration tests). */
export function verificationCommand(args: Parameters<typeof verificationInput>[0]): {
    create: string;
    environment: Record<string, string>;
} {
    return { create: probeCommand(VERIFY.script), environment: verificationInput(args) as Record<string, string> };
}

/** The scan probe's input. */
export function scanInput(args: {
    service: string;
    image: string;
    registry: { username: string; password: string; insecure?: boolean };
    policy: ScanPolicy;
}): ProbeInput<typeof SCAN> {
    const p = args.policy;
    return {
        FLEET_SCAN_SERVICE: args.service,
        FLEET_SCAN_IMAGE: args.image,
        FLEET_SCAN_SEVERITY: p.severity,
        FLEET_SCAN_ALLOW: JSON.stringify(p.allow.map((e) => ({ id: e.id, reason: e.reason, expires: e.expires }))),
        FLEET_SCAN_IGNORE_UNFIXED: p.ignoreUnfixed ? "true" : "false",
        FLEET_SCAN_DB_UPDATE: p.dbUpdate ? "true" : "false",
        FLEET_SCAN_TIMEOUT_S: String(p.timeoutSeconds),
        FLEET_REGISTRY_USER: args.registry.username,
        FLEET_REGISTRY_PASSWORD: args.registry.password,
        FLEET_REGISTRY_INSECURE: args.registry.insecure ? "true" : "false",
        // Unset settings stay out, so the probe's defaults apply and the inputs do not name a home dir.
        ...(p.dbRepository && p.dbRepository.length > 0 ? { FLEET_SCAN_DB_REPOSITORY: p.dbRepository.join(",") } : {}),
        ...(p.cacheDir ? { FLEET_SCAN_CACHE_DIR: p.cacheDir } : {}),
        ...(p.trivy ? { FLEET_TRIVY: p.trivy } : {}),
    };
}

/** The command and environment the scan runs (exported so the integration tests run exactly this). */
export function scanCommand(args: Parameters<typeof scanInput>[0]): { create: string; environment: Record<string, string> } {
    return { create: probeCommand(SCAN.script), environment: scanInput(args) as Record<string, string> };
}

/**
 * A build's digest, failing (naming the repository) when the build pushed nothing; a preview's
 * unbuilt image has no digest yet and passes as it is.
 */
export function pushedDigest(repository: string, digest: pulumi.Output<string>): pulumi.Output<string> {
    return digest.apply((d) => {
        pinnedRefValue(repository, d, pulumi.runtime.isDryRun());
        return d;
    });
}

/**
 * Verifies an image in its registry as a command `name` (FleetService's `<Service>-verify`,
 * FleetImage's `<family>-verify`): the digest that was built (when given), on top of its parent's
 * layers (when given). Re-runs when the image or its digest changes, never otherwise.
 */
export function verifyInRegistry(
    name: string,
    v: {
        image: pulumi.Output<string>;
        expectedDigest?: pulumi.Input<string>;
        parent?: pulumi.Input<string>;
        registry: RegistryAccess;
        platform: string;
        what: string;
    },
    opts: pulumi.CustomResourceOptions,
): { digest: pulumi.Output<string>; pinned: pulumi.Output<string> } {
    const verification = runProbe(
        name,
        VERIFY,
        {
            environment: pulumi
                .all([v.image, v.expectedDigest ?? "", v.registry.password, v.parent ?? ""])
                .apply(([image, expected, password, parent]) =>
                    verificationInput({
                        image,
                        expectedDigest: expected,
                        registry: { ...v.registry, password },
                        parent: parent || undefined,
                        platform: v.platform,
                    }),
                ),
            // The whole environment is secret because it carries the registry password.
            secret: true,
            triggers: [v.image, v.expectedDigest ?? ""],
            what: v.what,
        },
        opts,
    );
    // The digest and reference are public facts; only the credentials were secret.
    const verified = pulumi.unsecret(verification.output);
    return { digest: verified.apply((r) => r.digest), pinned: verified.apply((r) => r.pinned) };
}

/** Parses the health probe's report line; anything but a report of this service is an error naming it. */
export function parseHealthReport(stdout: string, service: string): HealthReport {
    const report = parseProbeOutput(HEALTH, stdout, `health check of ${service}`);
    if (report.service !== service) {
        throw new Error(`health check of ${service} printed the report of ${report.service}`);
    }
    return report;
}

/** Parses verification's line. */
export function parseVerification(stdout: string, name: string): VerificationResult {
    return parseProbeOutput(VERIFY, stdout, `verification of ${name}`);
}

/** Parses the scan's line (a passed scan). */
export function parseScanReport(stdout: string, service: string): ScanReport {
    return parseProbeOutput(SCAN, stdout, `the vulnerability scan of ${service}`);
}
