#!/usr/bin/env node
// The vulnerability gate: scans one image with Trivy where it is (in the registry, with the
// registry's credentials; nothing is pulled onto any Docker host), then applies the severity
// threshold and the allow-list (probes/scan-policy.js). Run by FleetService (its `-scan`
// child, components/probes.ts) through @pulumi/command, after the image's verification and before
// any container runs it.
//
// Environment:
//   FLEET_SCAN_IMAGE            host/repository@sha256:… to scan (as verification pinned it)
//   FLEET_SCAN_SERVICE          the service, for messages
//   FLEET_SCAN_SEVERITY         threshold: findings at or above it fail (default CRITICAL)
//   FLEET_SCAN_ALLOW            JSON [{id, reason, expires: YYYY-MM-DD}] (default [])
//   FLEET_SCAN_IGNORE_UNFIXED   true = Trivy leaves out findings without a fixed version
//   FLEET_SCAN_CACHE_DIR        Trivy's cache dir; its vulnerability DB is <dir>/db/trivy.db
//                               (default ${AI_FLEET_CACHE:-~/.cache/ai-fleet}/trivy/cache)
//   FLEET_SCAN_DB_UPDATE        true = Trivy downloads/refreshes its DB as it normally does (needs
//                               the DB repository); otherwise the DB in the cache dir is used as is
//   FLEET_SCAN_DB_REPOSITORY    comma-separated OCI repositories of the DB (a mirror), optional
//   FLEET_SCAN_TIMEOUT_S        Trivy's --timeout, and how long to wait for another scan (default 600)
//   FLEET_TRIVY                 the trivy binary (default: what `scripts/trivy.sh --status` finds)
//   FLEET_REGISTRY_USER, FLEET_REGISTRY_PASSWORD   registry credentials (given to Trivy as
//                               TRIVY_USERNAME / TRIVY_PASSWORD, never on a command line)
//   FLEET_REGISTRY_INSECURE=true  plain HTTP (loopback test registries)
// Prints one JSON line on success (the scan report). Exits 1 naming the image and every blocking
// finding otherwise.
"use strict";

const { execFileSync, spawn } = require("child_process");
const fs = require("fs");
const os = require("os");
const path = require("path");
const policy = require("./scan-policy");
const { splitRef } = require("./registry");
const contracts = require("./contracts");

const input = contracts.readInput(contracts.scan, process.env);

function fail(msg) {
    process.stderr.write(`vulnerability gate failed: ${msg}\n`);
    process.exit(1);
}

function sleep(ms) {
    return new Promise((r) => setTimeout(r, ms));
}

/** The trivy binary: FLEET_TRIVY, else what scripts/trivy.sh reports (PATH at the pinned version, or its cached build). */
function findTrivy(what) {
    if (input.FLEET_TRIVY) {
        if (!fs.existsSync(input.FLEET_TRIVY)) fail(`${what}: trivy ${input.FLEET_TRIVY} (ai-fleet:scan.trivy) does not exist`);
        return input.FLEET_TRIVY;
    }
    const script = path.join(__dirname, "..", "scripts", "trivy.sh");
    let status;
    try {
        status = JSON.parse(execFileSync("bash", [script, "--status"], { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] }));
    } catch (e) {
        fail(`${what}: could not ask ${script} --status for trivy: ${e.message}`);
    }
    if (!status.trivy) {
        fail(
            `${what}: no trivy ${status.version}: ${status.missing}. Run \`bash scripts/trivy.sh\` (builds it from the Go module proxy), or install Trivy and set ai-fleet:scan.trivy to its path`,
        );
    }
    return status.trivy;
}

/**
 * One scan at a time per cache dir: Trivy's layer cache (fanal.db) is a bbolt file that a second
 * Trivy process waits 5 s for and then gives up on. Returns a release function.
 */
async function lockCacheDir(dir, waitS, what) {
    const file = path.join(dir, ".ai-fleet-scan.lock");
    const started = Date.now();
    for (;;) {
        try {
            const fd = fs.openSync(file, "wx");
            fs.writeSync(fd, String(process.pid));
            fs.closeSync(fd);
            return { waitedS: (Date.now() - started) / 1000, release: () => fs.rmSync(file, { force: true }) };
        } catch (e) {
            if (e.code !== "EEXIST") fail(`${what}: cannot create the lock ${file}: ${e.message}`);
        }
        let holder;
        try {
            holder = Number(fs.readFileSync(file, "utf8"));
        } catch {
            continue; // released meanwhile
        }
        if (holder > 0 && !alive(holder)) {
            fs.rmSync(file, { force: true }); // left by a scan that was killed
            continue;
        }
        if ((Date.now() - started) / 1000 > waitS) {
            fail(`${what}: another scan (pid ${holder}) has held ${file} for over ${waitS}s`);
        }
        await sleep(200);
    }
}

function alive(pid) {
    try {
        process.kill(pid, 0);
        return true;
    } catch (e) {
        return e.code === "EPERM";
    }
}

function runTrivy(trivy, args, env, timeoutS) {
    return new Promise((resolve) => {
        const child = spawn(trivy, args, { env, stdio: ["ignore", "pipe", "pipe"] });
        let stderr = "";
        let stdout = "";
        const timer = setTimeout(() => child.kill("SIGKILL"), (timeoutS + 30) * 1000);
        child.stdout.on("data", (c) => (stdout += c));
        child.stderr.on("data", (c) => (stderr += c));
        child.on("error", (e) => (stderr += `\nspawn error: ${e.message}`));
        child.on("close", (code) => {
            clearTimeout(timer);
            resolve({ code, stdout, stderr });
        });
    });
}

async function main() {
    const image = input.FLEET_SCAN_IMAGE || "";
    const service = input.FLEET_SCAN_SERVICE || "";
    const what = service ? `${image} (service ${service})` : image;
    const severity = (input.FLEET_SCAN_SEVERITY || "CRITICAL").toUpperCase();
    const timeoutS = Number(input.FLEET_SCAN_TIMEOUT_S || "600");
    const dbUpdate = input.FLEET_SCAN_DB_UPDATE === "true";
    const insecure = input.FLEET_REGISTRY_INSECURE === "true";
    const ref = splitRef(image);
    if (!ref || !ref.digest)
        fail(`FLEET_SCAN_IMAGE="${image}" is not host/repository@sha256:digest (the gate scans verified digests only)`);
    if (!policy.SEVERITIES.includes(severity))
        fail(`${what}: FLEET_SCAN_SEVERITY="${severity}" is not one of ${policy.SEVERITIES.join(", ")}`);
    if (!(timeoutS > 0)) fail(`${what}: FLEET_SCAN_TIMEOUT_S="${input.FLEET_SCAN_TIMEOUT_S}" is not a positive number`);
    let allow;
    try {
        allow = JSON.parse(input.FLEET_SCAN_ALLOW || "[]");
        if (
            !Array.isArray(allow) ||
            allow.some((e) => !e || typeof e.id !== "string" || typeof e.reason !== "string" || !/^\d{4}-\d{2}-\d{2}$/.test(e.expires))
        ) {
            throw new Error("expected [{id, reason, expires: YYYY-MM-DD}]");
        }
    } catch (e) {
        fail(`${what}: FLEET_SCAN_ALLOW is not a valid allow-list: ${e.message}`);
    }
    const cacheDir =
        input.FLEET_SCAN_CACHE_DIR ||
        path.join(process.env.AI_FLEET_CACHE || path.join(os.homedir(), ".cache", "ai-fleet"), "trivy", "cache");
    const dbFile = path.join(cacheDir, "db", "trivy.db");
    if (!dbUpdate && !fs.existsSync(dbFile)) {
        fail(
            `${what}: no vulnerability DB at ${dbFile}, and ai-fleet:scan.dbUpdate is false. ` +
                `With internet: set ai-fleet:scan.dbUpdate: true, or run \`trivy image --download-db-only --cache-dir ${cacheDir}\`; ` +
                `air-gapped: copy db/trivy.db and db/metadata.json from a machine that has them; ` +
                `the local demo: \`bash scripts/trivy.sh --test-db ${cacheDir}\``,
        );
    }
    const trivy = findTrivy(what);
    fs.mkdirSync(cacheDir, { recursive: true });

    const work = fs.mkdtempSync(path.join(os.tmpdir(), "ai-fleet-scan-"));
    const out = path.join(work, "report.json");
    const args = [
        "image",
        "--quiet",
        "--no-progress",
        "--image-src",
        "remote",
        "--scanners",
        "vuln",
        "--format",
        "json",
        "--output",
        out,
        "--cache-dir",
        cacheDir,
        "--timeout",
        `${Math.ceil(timeoutS)}s`,
        // No Java archive DB and no look-ups for language packages: images here are Python/OS.
        "--skip-java-db-update",
        "--offline-scan",
    ];
    if (!dbUpdate) args.push("--skip-db-update");
    for (const repo of (input.FLEET_SCAN_DB_REPOSITORY || "")
        .split(",")
        .map((s) => s.trim())
        .filter(Boolean)) {
        args.push("--db-repository", repo);
    }
    if (input.FLEET_SCAN_IGNORE_UNFIXED === "true") args.push("--ignore-unfixed");
    if (insecure) args.push("--insecure");
    args.push(image);
    const env = {
        ...process.env,
        TRIVY_USERNAME: input.FLEET_REGISTRY_USER || "",
        TRIVY_PASSWORD: input.FLEET_REGISTRY_PASSWORD || "",
    };
    for (const k of Object.keys(env)) if (k.startsWith("FLEET_REGISTRY_PASSWORD")) delete env[k];
    // Only the program's credentials: an empty Docker config, so Trivy's fallback to the machine's
    // docker login (its default keychain) cannot hide a wrong registry password.
    env.DOCKER_CONFIG = work;

    const lock = await lockCacheDir(cacheDir, timeoutS, what);
    const started = Date.now();
    let r;
    try {
        r = await runTrivy(trivy, args, env, timeoutS);
    } finally {
        lock.release();
    }
    const scanS = (Date.now() - started) / 1000;
    if (r.code !== 0) {
        fs.rmSync(work, { recursive: true, force: true });
        const tail = r.stderr.trim().split("\n").slice(-8).join("\n");
        const why = /UNAUTHORIZED|DENIED/.test(r.stderr)
            ? ` the registry refused the credentials of user "${input.FLEET_REGISTRY_USER || ""}";`
            : "";
        fail(`${what}: trivy exited ${r.code} after ${scanS.toFixed(1)}s (the image was not scanned):${why}\n${tail}`);
    }
    let report;
    try {
        report = JSON.parse(fs.readFileSync(out, "utf8"));
    } catch (e) {
        fail(`${what}: trivy wrote no readable JSON report: ${e.message}`);
    } finally {
        fs.rmSync(work, { recursive: true, force: true });
    }
    const findings = policy.findingsOf(report);
    const decision = policy.decide(findings, { severity, allow }, new Date());
    if (!decision.passed) {
        fail(policy.failureMessage(what, decision, severity));
    }
    for (const f of decision.allowed) process.stderr.write(`vulnerability gate: ${what}: ${policy.allowedNote(f)}\n`);
    const osInfo = report.Metadata && report.Metadata.OS ? `${report.Metadata.OS.Family} ${report.Metadata.OS.Name}` : "unknown";
    const result = {
        service,
        image,
        digest: ref.digest,
        passed: true,
        severity,
        os: osInfo,
        findings: findings.length,
        counts: decision.counts,
        allowed: policy.allowedReport(decision),
        scanSeconds: Math.round(scanS * 10) / 10,
        waitedSeconds: Math.round(lock.waitedS * 10) / 10,
    };
    contracts.printOutput(contracts.scan, result);
}

main().catch((e) => fail(e && e.stack ? e.stack : String(e)));
