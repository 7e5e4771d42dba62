/** The vulnerability gate's policy, from the stack config's `scan` block (each FleetService runs its image's scan). */
import { ScanPolicy } from "../components";
import { ScanSettings } from "../config";

/** The probe's policy from the stack config's `scan` block; undefined when the gate is disabled. */
export function scanPolicy(scan: ScanSettings): ScanPolicy | undefined {
    if (!scan.enabled) {
        return undefined;
    }
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
