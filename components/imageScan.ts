import * as pulumi from "@pulumi/pulumi";
import * as command from "@pulumi/command";
import type { AllowEntry, Severity } from "../probes/scan-policy";
import { RegistryAccess } from "./imageVerification";
import { probeCommand } from "./probes";

/** Type token of ImageScan. */
export const IMAGE_SCAN_TYPE = "ai-fleet:images:ImageScan";

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

/** Scans one service image in its registry before anything runs it. */
export interface ImageScanArgs {
    /** The service, named in every message and the report. */
    service: string;
    /** `host/repo@sha256:…` as verification pinned it: the scan re-runs only when this changes (or the policy does). */
    image: pulumi.Input<string>;
    /** Registry credentials (read access is enough). */
    registry: RegistryAccess;
    /** Threshold, allow-list and where Trivy and its DB are. */
    policy: ScanPolicy;
}

/** An allowed finding as the report shows it. */
export interface AllowedFindingReport {
    id: string;
    severity: Severity;
    pkg: string;
    installed: string;
    fixed: string;
    reason: string;
    expires: string;
    /** One line for an operator: what was allowed, until when and why. */
    note: string;
}

/** One image's scan result, as probes/scan-image.js prints it (a passed scan; a failed one fails the resource). */
export interface ScanReport {
    service: string;
    image: string;
    digest: string;
    passed: boolean;
    /** The threshold it was judged at. */
    severity: Severity;
    /** OS Trivy detected, e.g. "debian 12.12". */
    os: string;
    /** Findings of every severity. */
    findings: number;
    counts: Record<Severity, number>;
    /** Findings at or above the threshold that the allow-list let pass. */
    allowed: AllowedFindingReport[];
    /** Trivy's own time, and the time spent waiting for another scan on the same cache. */
    scanSeconds: number;
    waitedSeconds: number;
}

/** The command and environment ImageScan runs (exported so the integration tests run exactly this). */
export function scanCommand(args: {
    service: string;
    image: string;
    registry: { username: string; password: string; insecure?: boolean };
    policy: ScanPolicy;
}): { create: string; environment: Record<string, string> } {
    const p = args.policy;
    const environment: Record<string, string> = {
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
    };
    // Unset settings stay out, so the probe's defaults apply and the inputs do not name a home dir.
    if (p.dbRepository && p.dbRepository.length > 0) environment.FLEET_SCAN_DB_REPOSITORY = p.dbRepository.join(",");
    if (p.cacheDir) environment.FLEET_SCAN_CACHE_DIR = p.cacheDir;
    if (p.trivy) environment.FLEET_TRIVY = p.trivy;
    return { create: probeCommand("scan-image.js"), environment };
}

/**
 * The vulnerability gate of one image: Trivy scans it in the registry (nothing is pulled onto a
 * machine), and findings at or above the policy's severity that the allow-list does not cover fail
 * `pulumi up` naming each CVE, package, installed and fixed version. Containers take `pinned` from
 * here, so none is created or replaced before its image's scan has passed.
 */
export class ImageScan extends pulumi.ComponentResource {
    /** The image reference, available only once the scan passed: what containers must run. */
    public readonly pinned: pulumi.Output<string>;
    /** The scan report (counts, allowed findings with their notes, timings). */
    public readonly report: pulumi.Output<ScanReport>;

    constructor(name: string, args: ImageScanArgs, opts?: pulumi.ComponentResourceOptions) {
        super(IMAGE_SCAN_TYPE, name, {}, opts);
        const environment = pulumi
            .all([args.image, args.registry.password])
            .apply(
                ([image, password]) =>
                    scanCommand({ service: args.service, image, registry: { ...args.registry, password }, policy: args.policy })
                        .environment,
            );
        const scan = new command.local.Command(
            `${name}-trivy`,
            {
                create: probeCommand("scan-image.js"),
                // The whole environment is secret because it carries the registry password.
                environment: pulumi.secret(environment),
                // A new digest or a new verdict rule re-runs the scan; a release that changes only
                // other config (same digest) does not.
                triggers: [args.image, args.policy.severity, JSON.stringify(args.policy.allow), String(args.policy.ignoreUnfixed)],
                logging: "stderr",
            },
            { parent: this },
        );
        const report = scan.stdout.apply((out) => parseScanReport(out, args.service));
        // The report holds no credential; only the environment was secret.
        this.report = pulumi.unsecret(report);
        this.pinned = pulumi.unsecret(
            pulumi.all([args.image, report]).apply(([image, r]) => {
                if (r.image !== image) {
                    throw new Error(`the scan of ${args.service} reported image ${r.image}, not ${image}`);
                }
                return image;
            }),
        );
        this.registerOutputs({ pinned: this.pinned, report: this.report });
    }
}

/** Parses scan-image.js's JSON line (a passed scan). */
export function parseScanReport(stdout: string, service: string): ScanReport {
    const line = stdout.trim().split("\n").pop() ?? "";
    let parsed: Partial<ScanReport>;
    try {
        parsed = JSON.parse(line) as Partial<ScanReport>;
    } catch {
        throw new Error(`the vulnerability scan of ${service} printed no JSON report: ${JSON.stringify(stdout.slice(0, 200))}`);
    }
    if (
        parsed.passed !== true ||
        typeof parsed.image !== "string" ||
        typeof parsed.digest !== "string" ||
        typeof parsed.counts !== "object" ||
        !Array.isArray(parsed.allowed)
    ) {
        throw new Error(`the vulnerability scan of ${service} printed an incomplete or failed report: ${line.slice(0, 400)}`);
    }
    return parsed as ScanReport;
}
