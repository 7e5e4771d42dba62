// Types of probes/scan-policy.js (plain JS so that the probe runs with node alone).

/** Trivy's severities, lowest first. */
export type Severity = "UNKNOWN" | "LOW" | "MEDIUM" | "HIGH" | "CRITICAL";
export const SEVERITIES: readonly Severity[];

/** One allow-list entry (ai-fleet:scan.allow[]). */
export interface AllowEntry {
    /** Vulnerability id, e.g. CVE-2024-12345. */
    id: string;
    /** Why it is accepted for now. */
    reason: string;
    /** Last day (YYYY-MM-DD, UTC) the entry holds. */
    expires: string;
}

/** One vulnerability of one package, from Trivy's report. */
export interface Finding {
    id: string;
    pkg: string;
    installed: string;
    fixed: string;
    severity: Severity;
    title?: string;
    target: string;
}

export interface BlockingFinding extends Finding {
    /** Set when the finding was on the allow-list, but the entry had expired. */
    expiredEntry?: { reason: string; expires: string };
}

export interface AllowedFinding extends Finding {
    reason: string;
    expires: string;
}

export interface Decision {
    passed: boolean;
    blocking: BlockingFinding[];
    allowed: AllowedFinding[];
    /** Findings under the threshold. */
    below: number;
    /** Every finding by severity. */
    counts: Record<Severity, number>;
}

export function severityRank(s: string): number;
export function findingsOf(report: unknown): Finding[];
export function isExpired(expires: string, now: Date): boolean;
export function decide(findings: Finding[], policy: { severity: Severity; allow?: AllowEntry[] }, now: Date): Decision;
export function describeFinding(f: BlockingFinding): string;
export function failureMessage(what: string, decision: Decision, severity: Severity): string;
export function allowedNote(f: AllowedFinding): string;
export function allowedReport(
    decision: Decision,
): (Pick<AllowedFinding, "id" | "severity" | "pkg" | "installed" | "fixed" | "reason" | "expires"> & { note: string })[];
