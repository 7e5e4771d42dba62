/**
 * The vulnerability gate's decision (probes/scan-policy.js, pure: no mocks, no Trivy) and the
 * `scan` block of the stack config. The real scanner runs in test/integration/scan.test.ts.
 */
import { expect } from "chai";
import { spawnSync } from "child_process";
import * as path from "path";
import { SCAN_SEVERITIES } from "../../config";
import { decide, failureMessage, findingsOf, isExpired, SEVERITIES } from "../../probes/scan-policy";
import { fleetConfig } from "./harness";

/** A Trivy JSON report (the fields the gate reads) with one result per target. */
function trivyReport(vulns: { id: string; pkg: string; installed: string; fixed?: string; severity: string }[]): unknown {
    return {
        SchemaVersion: 2,
        Metadata: { OS: { Family: "debian", Name: "12.12" } },
        Results: [
            {
                Target: "127.0.0.1:5000/demo/svc@sha256:abc (debian 12.12)",
                Class: "os-pkgs",
                Vulnerabilities: vulns.map((v) => ({
                    VulnerabilityID: v.id,
                    PkgName: v.pkg,
                    InstalledVersion: v.installed,
                    FixedVersion: v.fixed,
                    Severity: v.severity,
                })),
            },
        ],
    };
}

const NOW = new Date("2026-06-15T12:00:00Z");
const TINI = { id: "CVE-2099-0001", pkg: "tini", installed: "0.19.0-1", fixed: "0.19.0-1+deb12u1", severity: "CRITICAL" };
const LIBC = { id: "CVE-2099-0002", pkg: "libc6", installed: "2.36-9+deb12u13", fixed: "2.36-9+deb12u99", severity: "HIGH" };

describe("the vulnerability gate's policy", () => {
    it("fails a finding at the threshold, naming the CVE, package, installed and fixed version", () => {
        const d = decide(findingsOf(trivyReport([TINI])), { severity: "CRITICAL", allow: [] }, NOW);
        expect(d.passed).to.equal(false);
        const msg = failureMessage("reg/svc@sha256:abc (service STT)", d, "CRITICAL");
        expect(msg).to.include("reg/svc@sha256:abc (service STT): 1 vulnerability at or above CRITICAL");
        expect(msg).to.include("CVE-2099-0001 (CRITICAL) in tini 0.19.0-1, fixed in 0.19.0-1+deb12u1");
    });

    it("counts findings under the threshold without failing, and fails them once the threshold is lowered", () => {
        const findings = findingsOf(trivyReport([LIBC, { ...LIBC, id: "CVE-2099-0003", severity: "LOW" }]));
        const critical = decide(findings, { severity: "CRITICAL", allow: [] }, NOW);
        expect(critical.passed).to.equal(true);
        expect(critical.below).to.equal(2);
        expect(critical.counts).to.include({ HIGH: 1, LOW: 1, CRITICAL: 0 });
        const high = decide(findings, { severity: "HIGH", allow: [] }, NOW);
        expect(high.passed).to.equal(false);
        expect(high.blocking.map((f) => f.id)).to.deep.equal(["CVE-2099-0002"]);
        expect(decide(findings, { severity: "LOW", allow: [] }, NOW).blocking).to.have.length(2);
    });

    it("lets an allow-listed finding pass with its reason and expiry", () => {
        const allow = [{ id: "CVE-2099-0001", reason: "no exploit path: tini runs no untrusted input", expires: "2026-06-15" }];
        const d = decide(findingsOf(trivyReport([TINI])), { severity: "CRITICAL", allow }, NOW);
        expect(d.passed).to.equal(true);
        expect(d.allowed).to.have.length(1);
        expect(d.allowed[0]).to.include({ id: "CVE-2099-0001", pkg: "tini", reason: allow[0].reason, expires: "2026-06-15" });
    });

    it("fails a finding whose allow-list entry has expired, naming the expiry and the old reason", () => {
        const allow = [{ id: "CVE-2099-0001", reason: "waiting for 12.13", expires: "2026-06-14" }];
        const d = decide(findingsOf(trivyReport([TINI])), { severity: "CRITICAL", allow }, NOW);
        expect(d.passed).to.equal(false);
        const msg = failureMessage("img", d, "CRITICAL");
        expect(msg).to.include(
            "CVE-2099-0001 (CRITICAL) in tini 0.19.0-1, fixed in 0.19.0-1+deb12u1; its allow-list entry expired on 2026-06-14 (reason was: waiting for 12.13)",
        );
    });

    it("holds an entry through its expiry day (UTC) and not a millisecond longer", () => {
        expect(isExpired("2026-06-15", new Date("2026-06-15T23:59:59.999Z"))).to.equal(false);
        expect(isExpired("2026-06-15", new Date("2026-06-16T00:00:00.000Z"))).to.equal(true);
    });

    it("allows only the listed id: another CVE in the same package still fails", () => {
        const allow = [{ id: "CVE-2099-0001", reason: "r", expires: "2099-12-31" }];
        const d = decide(findingsOf(trivyReport([TINI, { ...TINI, id: "CVE-2099-0009" }])), { severity: "CRITICAL", allow }, NOW);
        expect(d.passed).to.equal(false);
        expect(d.blocking.map((f) => f.id)).to.deep.equal(["CVE-2099-0009"]);
        expect(d.allowed.map((f) => f.id)).to.deep.equal(["CVE-2099-0001"]);
    });

    it("says when no fixed version exists, and passes an image with no findings", () => {
        const d = decide(findingsOf(trivyReport([{ ...TINI, fixed: undefined }])), { severity: "CRITICAL", allow: [] }, NOW);
        expect(failureMessage("img", d, "CRITICAL")).to.include("in tini 0.19.0-1, no fixed version yet");
        expect(decide(findingsOf({ Results: [{ Target: "x" }] }), { severity: "LOW", allow: [] }, NOW)).to.include({
            passed: true,
            below: 0,
        });
    });

    it("lists a vulnerability once per package even when Trivy reports it in two results", () => {
        const report = trivyReport([TINI]) as { Results: unknown[] };
        report.Results.push(report.Results[0]);
        expect(findingsOf(report)).to.have.length(1);
    });

    it("knows the same severities as the config schema", () => {
        expect([...SEVERITIES]).to.deep.equal([...SCAN_SEVERITIES]);
    });
});

describe("probes/scan-image.js refuses bad input before running Trivy", () => {
    const probe = path.join(__dirname, "..", "..", "probes", "scan-image.js");
    function runProbe(env: Record<string, string>): { code: number | null; stderr: string } {
        const r = spawnSync("node", [probe], { env: { ...process.env, ...env }, encoding: "utf8" });
        return { code: r.status, stderr: r.stderr };
    }
    const IMAGE = `127.0.0.1:5000/demo/svc@sha256:${"a".repeat(64)}`;

    it("an image that is not pinned by digest", () => {
        const r = runProbe({ FLEET_SCAN_IMAGE: "127.0.0.1:5000/demo/svc:latest" });
        expect(r.code).to.equal(1);
        expect(r.stderr).to.include(
            'vulnerability gate failed: FLEET_SCAN_IMAGE="127.0.0.1:5000/demo/svc:latest" is not host/repository@sha256:digest',
        );
    });

    it("a cache dir without a DB while DB updates are off, saying how to get one", () => {
        const r = runProbe({
            FLEET_SCAN_IMAGE: IMAGE,
            FLEET_SCAN_SERVICE: "STT",
            FLEET_SCAN_DB_UPDATE: "false",
            FLEET_SCAN_CACHE_DIR: "/nonexistent/it11-cache",
        });
        expect(r.code).to.equal(1);
        expect(r.stderr).to.include(`${IMAGE} (service STT): no vulnerability DB at /nonexistent/it11-cache/db/trivy.db`);
        expect(r.stderr).to.include("trivy image --download-db-only --cache-dir /nonexistent/it11-cache");
    });

    it("a trivy path that does not exist", () => {
        const r = runProbe({ FLEET_SCAN_IMAGE: IMAGE, FLEET_SCAN_DB_UPDATE: "true", FLEET_TRIVY: "/nonexistent/trivy" });
        expect(r.code).to.equal(1);
        expect(r.stderr).to.include("trivy /nonexistent/trivy (ai-fleet:scan.trivy) does not exist");
    });
});

describe("ai-fleet:scan in the stack config", () => {
    it("defaults to a CRITICAL gate, on, with Trivy's own DB updates", () => {
        const cfg = fleetConfig("mainpc", (raw) => delete raw.scan);
        expect(cfg.stack.scan).to.deep.include({
            enabled: true,
            severity: "CRITICAL",
            allow: [],
            dbUpdate: true,
            ignoreUnfixed: false,
            timeoutSeconds: 600,
        });
    });

    it("takes an allow-list entry, and a YAML date a loader turned into a Date", () => {
        const cfg = fleetConfig("mainpc", (raw) => {
            raw.scan = {
                severity: "HIGH",
                allow: [{ id: "CVE-2024-6387", reason: "sshd is not installed", expires: new Date("2026-12-31T00:00:00Z") }],
            };
        });
        expect(cfg.stack.scan.allow).to.deep.equal([{ id: "CVE-2024-6387", reason: "sshd is not installed", expires: "2026-12-31" }]);
    });

    it("reports an unknown severity, a non-date expiry, a missing reason and an unknown key, each with its key path", () => {
        let message = "";
        try {
            fleetConfig("mainpc", (raw) => {
                raw.scan = {
                    severity: "SEVERE",
                    allow: [
                        { id: "CVE-2099-0001", reason: "x", expires: "next year" },
                        { id: "CVE-2099-0002", reason: "", expires: "2026-02-30" },
                    ],
                    cachedir: "/tmp",
                };
            });
        } catch (e) {
            message = (e as Error).message;
        }
        expect(message).to.include("ai-fleet:scan.severity:");
        expect(message).to.match(/ai-fleet:scan\.severity:.*CRITICAL/);
        expect(message).to.include("ai-fleet:scan.allow.0.expires: expected a date YYYY-MM-DD");
        expect(message).to.include("ai-fleet:scan.allow.1.expires: expected a real calendar date YYYY-MM-DD");
        expect(message).to.include("ai-fleet:scan.allow.1.reason: expected a reason");
        expect(message).to.match(/ai-fleet:scan: .*cachedir/);
    });
});
