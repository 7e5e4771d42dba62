// The vulnerability gate's decision, as pure functions: which of Trivy's findings fail an image,
// which pass on the allow-list, and the message an operator reads. Used by probes/scan-image.js
// (at `pulumi up`) and by the unit tests (test/unit/scanPolicy.test.ts); types in scan-policy.d.ts.
"use strict";

/** Trivy's severities, lowest first. */
const SEVERITIES = ["UNKNOWN", "LOW", "MEDIUM", "HIGH", "CRITICAL"];

/** Rank of a severity (unknown words rank as UNKNOWN). */
function severityRank(s) {
    const i = SEVERITIES.indexOf(String(s || "").toUpperCase());
    return i < 0 ? 0 : i;
}

/**
 * The findings of a Trivy JSON report (`trivy image --format json`), one per vulnerability and
 * package, in a stable order (highest severity first, then id, then package).
 */
function findingsOf(report) {
    const seen = new Map();
    for (const result of (report && report.Results) || []) {
        for (const v of result.Vulnerabilities || []) {
            const f = {
                id: String(v.VulnerabilityID || ""),
                pkg: String(v.PkgName || ""),
                installed: String(v.InstalledVersion || ""),
                fixed: String(v.FixedVersion || ""),
                severity: SEVERITIES.includes(v.Severity) ? v.Severity : "UNKNOWN",
                title: v.Title ? String(v.Title) : undefined,
                target: String(result.Target || ""),
            };
            const key = `${f.id}\0${f.pkg}\0${f.installed}`;
            if (!seen.has(key)) seen.set(key, f);
        }
    }
    return [...seen.values()].sort(
        (a, b) => severityRank(b.severity) - severityRank(a.severity) || a.id.localeCompare(b.id) || a.pkg.localeCompare(b.pkg),
    );
}

/** Whether an allow-list entry has expired at `now`: an entry holds through its expiry day (UTC). */
function isExpired(expires, now) {
    const end = Date.parse(`${expires}T23:59:59.999Z`);
    return Number.isNaN(end) || now.getTime() > end;
}

/**
 * Applies the threshold and the allow-list to the findings.
 *   blocking: at or above the threshold and not allowed (an expired entry allows nothing: the
 *             finding carries `expiredEntry` so the message names the expiry)
 *   allowed:  at or above the threshold, on the allow-list and not expired (passes with a note)
 *   below:    under the threshold (reported as counts, never fail)
 */
function decide(findings, policy, now) {
    const threshold = severityRank(policy.severity);
    const allow = new Map();
    for (const e of policy.allow || []) allow.set(String(e.id).toUpperCase(), e);
    const blocking = [];
    const allowed = [];
    let below = 0;
    const counts = Object.fromEntries(SEVERITIES.map((s) => [s, 0]));
    for (const f of findings) {
        counts[f.severity] += 1;
        if (severityRank(f.severity) < threshold) {
            below += 1;
            continue;
        }
        const entry = allow.get(f.id.toUpperCase());
        if (entry && !isExpired(entry.expires, now)) {
            allowed.push({ ...f, reason: entry.reason, expires: entry.expires });
        } else if (entry) {
            blocking.push({ ...f, expiredEntry: { reason: entry.reason, expires: entry.expires } });
        } else {
            blocking.push(f);
        }
    }
    return { passed: blocking.length === 0, blocking, allowed, below, counts };
}

/** One finding as an operator reads it: `CVE-… (CRITICAL) in tini 0.19.0-1, fixed in 0.19.0-1+deb12u1`. */
function describeFinding(f) {
    const fixed = f.fixed ? `fixed in ${f.fixed}` : "no fixed version yet";
    const expired = f.expiredEntry
        ? `; its allow-list entry expired on ${f.expiredEntry.expires} (reason was: ${f.expiredEntry.reason})`
        : "";
    return `${f.id} (${f.severity}) in ${f.pkg} ${f.installed}, ${fixed}${expired}`;
}

/** The gate's failure message: the image, the threshold and every blocking finding. */
function failureMessage(what, decision, severity) {
    const n = decision.blocking.length;
    const lines = decision.blocking.map((f) => `  - ${describeFinding(f)}`);
    const notes =
        decision.allowed.length > 0
            ? `\n  (${decision.allowed.length} more allowed by the allow-list: ${decision.allowed.map((f) => f.id).join(", ")})`
            : "";
    return (
        `${what}: ${n} vulnerabilit${n === 1 ? "y" : "ies"} at or above ${severity}:\n${lines.join("\n")}${notes}\n` +
        `  Fix the image (update the package and rebuild), or add an entry {id, reason, expires} to ai-fleet:scan.allow.`
    );
}

/** The note an allowed finding leaves in the report. */
function allowedNote(f) {
    return `${f.id} (${f.severity}) in ${f.pkg} ${f.installed} allowed until ${f.expires}: ${f.reason}`;
}

/** The scan report's `allowed` entries: each allowed finding with its note. */
function allowedReport(decision) {
    return decision.allowed.map((f) => ({
        id: f.id,
        severity: f.severity,
        pkg: f.pkg,
        installed: f.installed,
        fixed: f.fixed,
        reason: f.reason,
        expires: f.expires,
        note: allowedNote(f),
    }));
}

module.exports = { SEVERITIES, severityRank, findingsOf, isExpired, decide, describeFinding, failureMessage, allowedNote, allowedReport };
