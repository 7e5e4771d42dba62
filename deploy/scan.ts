/**
 * The vulnerability gate's wiring: one ImageScan per service image, between the image's registry
 * verification and its container. deploy() hands the containers what scanned() returns.
 */
import * as pulumi from "@pulumi/pulumi";
import { ImageScan, RegistryAccess, ScanPolicy, ScanReport } from "../components";
import { ScanSettings } from "../config";
import { serviceImageName } from "../naming";

/** A verified image: what verification (or the gate) hands on. */
export interface RunnableImage {
    /** `repo@sha256:…`; from the gate, resolved only once the scan passed. */
    pinned: pulumi.Output<string>;
    /** The digest. */
    digest: pulumi.Output<string>;
}

/** What the gate gives deploy(). */
export interface ScannedImages {
    /** Per service: the references containers must take. */
    images: Record<string, RunnableImage>;
    /** Per service: the scan report (undefined when ai-fleet:scan.enabled is false). */
    report?: pulumi.Output<Record<string, ScanReport>>;
}

/** The probe's policy from the stack config's `scan` block. */
export function scanPolicy(scan: ScanSettings): ScanPolicy {
    return {
        severity: scan.severity,
        allow: scan.allow.map((e) => ({ id: e.id, reason: e.reason, expires: e.expires })),
        ignoreUnfixed: scan.ignoreUnfixed,
        dbUpdate: scan.dbUpdate,
        dbRepository: scan.dbRepository,
        cacheDir: scan.cacheDir,
        trivy: scan.trivy,
        timeoutSeconds: scan.timeoutSeconds,
    };
}

/**
 * Scans every service image (not the family images: no container runs those, and every service
 * image contains its family's layers) and returns the references containers must take: each
 * resolves only after its own image's scan passed, so a failed scan blocks that service's
 * container and nothing else waits on it. With the gate disabled, the verified references pass
 * through unchanged (and a warning says so).
 */
export function scanned(args: {
    scan: ScanSettings;
    services: string[];
    verified: Record<string, RunnableImage>;
    registry: RegistryAccess;
}): ScannedImages {
    const images: Record<string, RunnableImage> = {};
    if (!args.scan.enabled) {
        pulumi.log.warn("vulnerability gate disabled (ai-fleet:scan.enabled: false): containers run images that were not scanned");
        for (const name of args.services) images[name] = args.verified[name];
        return { images };
    }
    const policy = scanPolicy(args.scan);
    const reports: Record<string, pulumi.Output<ScanReport>> = {};
    for (const name of [...args.services].sort()) {
        const v = args.verified[name];
        const scan = new ImageScan(`${serviceImageName(name)}-scan`, { service: name, image: v.pinned, registry: args.registry, policy });
        images[name] = { pinned: scan.pinned, digest: v.digest };
        reports[name] = scan.report;
    }
    return { images, report: pulumi.output(reports) as pulumi.Output<Record<string, ScanReport>> };
}
