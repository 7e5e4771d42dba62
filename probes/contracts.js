// The contract of each probe: the environment it reads (its input) and the one JSON line it prints
// on stdout (its output), declared once with zod. The probes read their input and print their
// output through these schemas; the components (components/probeCommand.ts) build the input and
// parse the output through the same ones, and TypeScript takes their types from here (allowJs):
// there is no second description of either side to keep in step.
//
// Every input value is a string (it is an environment variable); numbers and flags are parsed by
// the probe, and an optional key has the probe's default. The components set every key they know
// (components/probeInputs.ts); a key left out stays out of the resource's inputs.
"use strict";

const { z } = require("zod");

const text = z.string();
const flag = z.enum(["true", "false"]);
const severity = z.enum(["UNKNOWN", "LOW", "MEDIUM", "HIGH", "CRITICAL"]);

/** probes/health-probe.js: polls a service's health endpoint until its JSON status is "ok". */
const health = {
    script: "health-probe.js",
    input: z.object({
        FLEET_SERVICE: text,
        FLEET_HEALTH_URL: text,
        /** The machine's address, named in every message. */
        FLEET_HOST: text.optional(),
        /** Give up after this many seconds (default 180), attempts (default 90); wait between them (default 2). */
        FLEET_TIMEOUT_S: text.optional(),
        FLEET_INTERVAL_S: text.optional(),
        FLEET_RETRIES: text.optional(),
        /** Per request (default 3). */
        FLEET_REQUEST_TIMEOUT_S: text.optional(),
        /** The image digest being checked, copied into the report. */
        FLEET_DIGEST: text.optional(),
        /** "false" for an optional service: a report with healthy: false instead of a failure. */
        FLEET_REQUIRED: flag.optional(),
        /** The command a failure names to roll back. */
        FLEET_ROLLBACK_HINT: text.optional(),
    }),
    output: z.object({
        service: text,
        host: text,
        url: text,
        healthy: z.boolean(),
        status: text,
        httpStatus: z.number(),
        attempts: z.number(),
        elapsedSeconds: z.number(),
        digest: text,
        /** false for an optional service, whose failure is reported instead of failing the update. */
        required: z.boolean().optional(),
        /** Why an optional service is not healthy (last status and body). */
        problem: text.optional(),
        /** When the check ended (ISO 8601): what a dependent's start is ordered after. */
        at: text.optional(),
    }),
};

/** probes/verify-image.js: the image is in its registry with the digest that was built (and extends its parent's layers). */
const verify = {
    script: "verify-image.js",
    input: z.object({
        FLEET_IMAGE: text,
        /** sha256:… the build produced; without it (a given release), any digest passes. */
        FLEET_EXPECTED_DIGEST: text.optional(),
        /** Credentials: Basic, or exchanged for a Bearer token. */
        FLEET_REGISTRY_USER: text.optional(),
        FLEET_REGISTRY_PASSWORD: text.optional(),
        /** "true": plain HTTP (loopback registries). */
        FLEET_REGISTRY_INSECURE: flag.optional(),
        /** Per request (default 15). */
        FLEET_REQUEST_TIMEOUT_S: text.optional(),
        FLEET_PARENT_IMAGE: text.optional(),
        FLEET_PLATFORM: text.optional(),
    }),
    output: z.object({
        image: text,
        digest: text,
        pinned: text,
        parent: text.optional(),
        layers: z.number().optional(),
    }),
};

const allowedFinding = z.object({
    id: text,
    severity,
    pkg: text,
    installed: text,
    fixed: text,
    reason: text,
    expires: text,
    /** One line for an operator: what was allowed, until when and why. */
    note: text,
});

/** probes/scan-image.js: Trivy scans the image in its registry; a passed scan prints its report. */
const scan = {
    script: "scan-image.js",
    input: z.object({
        FLEET_SCAN_SERVICE: text.optional(),
        /** host/repo@sha256:… (the probe refuses anything not pinned by digest). */
        FLEET_SCAN_IMAGE: text.optional(),
        /** The threshold (default CRITICAL). */
        FLEET_SCAN_SEVERITY: severity.optional(),
        /** JSON list of {id, reason, expires}. */
        FLEET_SCAN_ALLOW: text.optional(),
        FLEET_SCAN_IGNORE_UNFIXED: flag.optional(),
        FLEET_SCAN_DB_UPDATE: flag.optional(),
        /** Seconds (default 600). */
        FLEET_SCAN_TIMEOUT_S: text.optional(),
        FLEET_REGISTRY_USER: text.optional(),
        FLEET_REGISTRY_PASSWORD: text.optional(),
        FLEET_REGISTRY_INSECURE: flag.optional(),
        /** Comma-separated OCI repositories of the DB (a mirror). */
        FLEET_SCAN_DB_REPOSITORY: text.optional(),
        FLEET_SCAN_CACHE_DIR: text.optional(),
        FLEET_TRIVY: text.optional(),
    }),
    output: z.object({
        service: text,
        image: text,
        digest: text,
        passed: z.literal(true),
        /** The threshold it was judged at. */
        severity,
        /** OS Trivy detected, e.g. "debian 12.12". */
        os: text,
        /** Findings of every severity. */
        findings: z.number(),
        counts: z.record(severity, z.number()),
        /** Findings at or above the threshold that the allow-list let pass. */
        allowed: z.array(allowedFinding),
        /** Trivy's own time, and the time spent waiting for another scan on the same cache. */
        scanSeconds: z.number(),
        waitedSeconds: z.number(),
    }),
};

/** probes/container.js up: the cli runtime starts one service container with `docker run`. */
const container = {
    script: "container.js",
    input: z.object({
        /** Which engine (ssh://, unix://, tcp://); unset: the docker CLI's own default. */
        DOCKER_HOST: text.optional(),
        FLEET_CONTAINER_NAME: text,
        /** repo@sha256:… */
        FLEET_IMAGE: text,
        FLEET_NETWORK: text,
        FLEET_STACK: text,
        /** JSON array of `docker run` flags (components/containerAdapters.ts). */
        FLEET_DOCKER_RUN: text,
        /** The docker provider adapter's args for the same spec, as JSON: what the provider runtime would be given, for people reading the state (not read here). */
        FLEET_CONTAINER_SPEC: text.optional(),
    }),
    /** stdin: the registry credentials for the pull, so they never appear in the resource's environment. */
    stdin: z.object({ registry: text, username: text, password: text }),
    output: z.object({ id: text, name: text, image: text }),
};

/** A failed check's issues in one line: `key: message; …` (`whole` names a problem of the value as a whole). */
function describeIssues(error, whole = "") {
    return error.issues.map((i) => `${i.path.join(".") || whole}: ${i.message}`).join("; ");
}

/**
 * A probe's input from its environment: only the contract's keys, checked. A probe that is started
 * without its contract's environment fails naming the keys, before doing anything.
 */
function readInput(contract, env) {
    const keys = Object.keys(contract.input.shape);
    const picked = Object.fromEntries(keys.filter((k) => env[k] !== undefined).map((k) => [k, env[k]]));
    const r = contract.input.safeParse(picked);
    if (!r.success) {
        const problems = describeIssues(r.error);
        process.stderr.write(`${contract.script}: its environment does not meet its contract: ${problems}\n`);
        process.exit(1);
    }
    return r.data;
}

/** Prints a probe's output line, checked against its contract (a probe that breaks its contract is a bug, never a report). */
function printOutput(contract, value) {
    const checked = contract.output.parse(value);
    process.stdout.write(JSON.stringify(checked) + "\n");
}

/**
 * A probe's output from its stdout: the last line, parsed as JSON and checked. Throws naming `what`
 * when there is no JSON line, or the line does not meet the contract.
 */
function parseOutput(contract, stdout, what) {
    const line = stdout.trim().split("\n").pop() || "";
    let parsed;
    try {
        parsed = JSON.parse(line);
    } catch {
        throw new Error(`${what} printed no JSON line: ${JSON.stringify(stdout.slice(0, 200))}`);
    }
    const r = contract.output.safeParse(parsed);
    if (!r.success) {
        const problems = describeIssues(r.error, "(line)");
        throw new Error(`${what} printed a line that does not meet its contract (${problems}): ${line.slice(0, 400)}`);
    }
    return r.data;
}

module.exports = { health, verify, scan, container, readInput, printOutput, parseOutput, describeIssues };
