#!/usr/bin/env node
// Polls a service's HTTP health endpoint until its JSON `status` field is "ok". A 200 alone proves
// nothing (one fleet service answers 200 while stopped), so the body is parsed and compared.
// Run by FleetService (its `-health` child, components/probes.ts) through @pulumi/command; its stdout
// (one JSON line) becomes the health report that gates the batch rollout.
//
// Environment:
//   FLEET_SERVICE, FLEET_HOST, FLEET_HEALTH_URL   what is checked (named in every message)
//   FLEET_TIMEOUT_S      give up after this many seconds (default 180)
//   FLEET_INTERVAL_S     wait between attempts (default 2)
//   FLEET_RETRIES        give up after this many attempts (default 90)
//   FLEET_REQUEST_TIMEOUT_S  per request (default 3)
//   FLEET_DIGEST         the image digest being checked, copied into the report
//   FLEET_ROLLBACK_HINT  the command a failure names to roll back (e.g. npm run rollback -- --stack local)
//   FLEET_REQUIRED       "false" for an optional service: when it never turns healthy, print a
//                        report with healthy: false and the problem, warn, and exit 0
// Exit 0 and a JSON report on stdout when healthy; exit 1 with service, host, URL, last status and
// last body on stderr otherwise. Progress goes to stderr.
"use strict";

const http = require("http");
const https = require("https");

const contracts = require("./contracts");

const env = contracts.readInput(contracts.health, process.env);
const service = env.FLEET_SERVICE || "(unnamed service)";
const host = env.FLEET_HOST || "";
const url = env.FLEET_HEALTH_URL || "";
const timeoutS = Number(env.FLEET_TIMEOUT_S || "180");
const intervalS = Number(env.FLEET_INTERVAL_S || "2");
const retries = Number(env.FLEET_RETRIES || "90");
const requestTimeoutS = Number(env.FLEET_REQUEST_TIMEOUT_S || "3");
const BODY_LIMIT = 300;

function once() {
    return new Promise((resolve) => {
        const lib = url.startsWith("https:") ? https : http;
        const req = lib.get(url, { timeout: requestTimeoutS * 1000 }, (res) => {
            const chunks = [];
            let size = 0;
            res.on("data", (c) => {
                size += c.length;
                if (size <= 64 * 1024) chunks.push(c);
            });
            res.on("end", () => resolve({ status: res.statusCode, body: Buffer.concat(chunks).toString("utf8") }));
            res.on("error", (e) => resolve({ error: e.message }));
        });
        req.on("timeout", () => req.destroy(new Error(`no answer within ${requestTimeoutS}s`)));
        req.on("error", (e) => resolve({ error: e.code ? `${e.code} ${e.message}` : e.message }));
    });
}

/** The `status` field of a JSON object body, or why there is none. */
function statusField(body) {
    try {
        const parsed = JSON.parse(body);
        if (parsed === null || typeof parsed !== "object" || Array.isArray(parsed)) return { why: "body is JSON but not an object" };
        if (!("status" in parsed)) return { why: 'body has no "status" field' };
        return { value: parsed.status };
    } catch {
        return { why: "body is not JSON" };
    }
}

function quote(body) {
    const flat = body.replace(/\s+/g, " ").trim();
    return JSON.stringify(flat.length > BODY_LIMIT ? flat.slice(0, BODY_LIMIT) + "…" : flat);
}

async function main() {
    if (!/^https?:\/\//.test(url)) {
        process.stderr.write(`health check of ${service}: FLEET_HEALTH_URL="${url}" is not an http(s) URL\n`);
        process.exit(2);
    }
    const started = Date.now();
    let attempts = 0;
    let last;
    let verdict;
    for (;;) {
        attempts += 1;
        last = await once();
        const elapsed = (Date.now() - started) / 1000;
        if (last.error) {
            verdict = `no answer (${last.error})`;
        } else {
            const field = statusField(last.body);
            if (last.status === 200 && field.value === "ok") {
                const report = {
                    service,
                    host,
                    url,
                    healthy: true,
                    status: "ok",
                    httpStatus: last.status,
                    attempts,
                    elapsedSeconds: Math.round(elapsed * 10) / 10,
                    digest: env.FLEET_DIGEST || "",
                    required: env.FLEET_REQUIRED !== "false",
                    at: new Date().toISOString(),
                };
                process.stderr.write(`[health] ${service} healthy at ${url} after ${attempts} attempt(s), ${report.elapsedSeconds}s\n`);
                contracts.printOutput(contracts.health, report);
                return;
            }
            verdict = field.why
                ? `HTTP ${last.status}, ${field.why}`
                : `HTTP ${last.status}, status ${JSON.stringify(field.value)} is not "ok"`;
        }
        process.stderr.write(`[health] ${service} attempt ${attempts}/${retries} at ${elapsed.toFixed(1)}s: ${verdict}\n`);
        const waitS = Math.min(intervalS, timeoutS - (Date.now() - started) / 1000);
        if (attempts >= retries || waitS <= 0) break;
        await new Promise((r) => setTimeout(r, waitS * 1000));
    }
    const elapsed = ((Date.now() - started) / 1000).toFixed(1);
    const lastStatus = last.error ? "none (no HTTP answer)" : String(last.status);
    const lastBody = last.error ? `(${last.error})` : quote(last.body);
    const problem =
        `service ${service} on host ${host}: GET ${url}: last status ${lastStatus}, last body ${lastBody}; ` +
        `${verdict}; gave up after ${attempts} attempt(s) in ${elapsed}s (timeout ${timeoutS}s, retries ${retries})`;
    if (env.FLEET_REQUIRED === "false") {
        // Optional (required: false in the operator's config): reported, not a stop.
        process.stderr.write(`[health] WARNING optional ${problem}\n`);
        const field = last.error ? {} : statusField(last.body);
        const report = {
            service,
            host,
            url,
            healthy: false,
            status: typeof field.value === "string" ? field.value : "unhealthy",
            httpStatus: last.error ? 0 : last.status,
            attempts,
            elapsedSeconds: Number(elapsed),
            digest: env.FLEET_DIGEST || "",
            required: false,
            problem,
            at: new Date().toISOString(),
        };
        contracts.printOutput(contracts.health, report);
        return;
    }
    // The one command that sends the machine back to the last release that passed (cli/rollback.ts).
    const hint = env.FLEET_ROLLBACK_HINT ? `\nroll back to the last release that passed: run \`${env.FLEET_ROLLBACK_HINT}\`` : "";
    process.stderr.write(`health check failed: ${problem}${hint}\n`);
    process.exit(1);
}

main();
