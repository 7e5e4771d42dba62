/**
 * Part 4: how fast the health gate reacts. A demo service (demo/services/system_digital_twin) runs
 * as a plain process on loopback; the HealthCheck's exact command and environment
 * (healthCheckCommand()) polls it with the local stack's rollout.health bounds.
 *
 * (a) healthy: the service answers 503 "starting" for DEMO_START_DELAY_S, then "ok". The moment it
 *     turns healthy is read off the service itself: one early GET /health returns its uptime, so
 *     healthyAt = (time of that answer) − uptime + delay, to about a millisecond. The latency is
 *     from healthyAt to the probe's exit 0 (direct spawn) or, through the engine (test/integration/programs/gate),
 *     to the probe resource's outputs event and to the gated resource's own timestamp.
 *     The probe's polling phase against the healthy moment decides the latency (0 … interval), so
 *     the direct runs start the probe at evenly spread offsets over one interval.
 * (b) unhealthy: DEMO_HEALTH=degraded from the start; the time from the service's start to the
 *     probe's failure, beside the configured timeout.
 */
import { ChildProcess, spawn } from "child_process";
import * as http from "http";
import * as path from "path";
import { EngineEvent } from "@pulumi/pulumi/automation";
import { HealthBounds, healthCheckCommand } from "../components/healthCheck";
import { createStack, localStackConfig, tempProject, ToolchainStatus } from "../test/integration/support/engine";
import { log, ROOT, sleep, Stat, stat } from "./lib";

const SERVICE = "SystemDigitalTwin";
const SERVICE_PY = path.join(ROOT, "demo", "services", "system_digital_twin", "service.py");

/** Epoch milliseconds with sub-millisecond resolution. */
function now(): number {
    return performance.timeOrigin + performance.now();
}

/** The local stack's rollout.health (Pulumi.local.yaml), with the schema's defaults for what it leaves out. */
export function localBounds(): HealthBounds {
    const rollout = localStackConfig()["ai-fleet:rollout"] as { health?: Partial<HealthBounds> } | undefined;
    return { timeoutSeconds: 180, intervalSeconds: 2, retries: 90, requestTimeoutSeconds: 3, ...(rollout?.health ?? {}) };
}

/** Starts the demo service with its HTTP health endpoint on `port` (service port −2, REP port −1). */
function startService(port: number, env: Record<string, string>): { proc: ChildProcess; startedAt: number } {
    const startedAt = now();
    const proc = spawn("python3", [SERVICE_PY], {
        env: {
            ...process.env,
            ...env,
            PYTHONPATH: path.join(ROOT, "demo", "families", "base-python"),
            DEMO_BIND: "127.0.0.1",
            SERVICE_PORT: String(port - 2),
            HEALTH_PORT: String(port - 1),
            HEALTH_HTTP_PORT: String(port),
        },
        stdio: "ignore",
    });
    return { proc, startedAt };
}

function stopService(proc: ChildProcess): Promise<void> {
    return new Promise((resolve) => {
        if (proc.exitCode !== null || proc.signalCode !== null) {
            resolve();
            return;
        }
        const timer = setTimeout(() => proc.kill("SIGKILL"), 3000);
        proc.once("exit", () => {
            clearTimeout(timer);
            resolve();
        });
        proc.kill("SIGTERM");
    });
}

/** One GET /health: status, body, and when it was sent and answered. */
function getHealth(port: number): Promise<{ status?: number; body?: string; sentAt: number; answeredAt: number }> {
    return new Promise((resolve) => {
        const sentAt = now();
        const req = http.get({ host: "127.0.0.1", port, path: "/health", timeout: 1000 }, (res) => {
            let body = "";
            res.on("data", (c: Buffer) => {
                body += c.toString();
            });
            res.on("end", () => resolve({ status: res.statusCode, body, sentAt, answeredAt: now() }));
        });
        req.on("timeout", () => req.destroy(new Error("timeout")));
        req.on("error", () => resolve({ sentAt, answeredAt: now() }));
    });
}

/**
 * Asks the service once, as soon as it listens, for its uptime; returns the epoch ms at which its
 * start delay ends (it reports "ok" from then on).
 */
async function healthyMoment(port: number, delayS: number): Promise<number> {
    const deadline = now() + 20000;
    while (now() < deadline) {
        const r = await getHealth(port);
        if (r.body) {
            const uptime = (JSON.parse(r.body) as { uptime_s?: number }).uptime_s;
            if (typeof uptime === "number") {
                const answered = (r.sentAt + r.answeredAt) / 2;
                return answered - uptime * 1000 + delayS * 1000;
            }
        }
        await sleep(20);
    }
    throw new Error(`the demo service on port ${port} did not answer within 20s`);
}

/** Runs the HealthCheck's exact command (as the command provider does: /bin/sh -c, in the project directory). */
function runProbe(
    port: number,
    bounds: HealthBounds,
    digest: string,
): Promise<{ code: number | null; exitedAt: number; startedAt: number; stdout: string; stderr: string }> {
    const spec = healthCheckCommand({ service: SERVICE, host: "127.0.0.1", port, path: "/health", bounds, digest });
    return new Promise((resolve, reject) => {
        const startedAt = now();
        const child = spawn("/bin/sh", ["-c", spec.create], {
            cwd: ROOT,
            env: { ...process.env, ...spec.environment },
            stdio: ["ignore", "pipe", "pipe"],
        });
        let stdout = "";
        let stderr = "";
        child.stdout.on("data", (d: Buffer) => {
            stdout += d.toString();
        });
        child.stderr.on("data", (d: Buffer) => {
            stderr += d.toString();
        });
        child.on("error", reject);
        child.on("exit", (code) => resolve({ code, exitedAt: now(), startedAt, stdout, stderr }));
    });
}

export interface HealthyRun {
    offsetMs: number;
    latencyMs: number;
    attempts?: number;
    exitCode: number | null;
}

/** (a) through a direct spawn of the HealthCheck command. */
export async function gateHealthyDirect(
    runs: number,
    delayS: number,
    bounds: HealthBounds,
    port: number,
): Promise<{ runs: HealthyRun[]; latency: Stat }> {
    const out: HealthyRun[] = [];
    for (let i = 0; i < runs; i++) {
        const offsetMs = (i / runs) * bounds.intervalSeconds * 1000;
        const { proc } = startService(port, { DEMO_HEALTH: "ok", DEMO_START_DELAY_S: String(delayS) });
        try {
            const healthyAt = await healthyMoment(port, delayS);
            await sleep(offsetMs);
            const probe = await runProbe(port, bounds, `sha256:${"b".repeat(64)}`);
            const report = probe.code === 0 ? (JSON.parse(probe.stdout.trim().split("\n").pop() as string) as { attempts?: number }) : {};
            const r: HealthyRun = { offsetMs, latencyMs: probe.exitedAt - healthyAt, attempts: report.attempts, exitCode: probe.code };
            if (probe.code !== 0) {
                log(`gate: direct healthy run ${i + 1}: the probe exited ${probe.code}: ${probe.stderr.trim().split("\n").pop()}`);
            }
            out.push(r);
            log(
                `gate: direct healthy run ${i + 1}/${runs}: probe started ${offsetMs.toFixed(0)}ms into the phase, exit ${probe.code} ${r.latencyMs.toFixed(0)}ms after healthy (${r.attempts} attempts)`,
            );
        } finally {
            await stopService(proc);
        }
    }
    return { runs: out, latency: stat(out.filter((r) => r.exitCode === 0).map((r) => r.latencyMs)) };
}

export interface FailRun {
    failMs: number;
    exitCode: number | null;
    lastLine: string;
}

/** (b) through direct spawns: `runs` degraded services at once, each on its own ports, each with its probe. */
export async function gateUnhealthyDirect(runs: number, bounds: HealthBounds, basePort: number): Promise<{ runs: FailRun[]; fail: Stat }> {
    const one = async (i: number): Promise<FailRun> => {
        const port = basePort + i * 3;
        const { proc, startedAt } = startService(port, { DEMO_HEALTH: "degraded" });
        try {
            const probe = await runProbe(port, bounds, `sha256:${"c".repeat(64)}`);
            const lastLine = probe.stderr.trim().split("\n").pop() ?? "";
            return { failMs: probe.exitedAt - startedAt, exitCode: probe.code, lastLine };
        } finally {
            await stopService(proc);
        }
    };
    const out = await Promise.all(Array.from({ length: runs }, (_, i) => one(i)));
    out.forEach((r, i) =>
        log(
            `gate: direct degraded run ${i + 1}/${runs}: exit ${r.exitCode} after ${(r.failMs / 1000).toFixed(2)}s: ${r.lastLine.slice(0, 300)}`,
        ),
    );
    return { runs: out, fail: stat(out.map((r) => r.failMs)) };
}

export interface EngineGateRun {
    /** healthy → the probe resource's outputs event reached the Automation API. */
    toProbeOutputsMs?: number;
    /** healthy → the gated resource ran (its own clock). */
    toGatedMs?: number;
    /** healthy → `pulumi up` returned. */
    toUpDoneMs?: number;
    /** When the probe resource started, relative to healthy (must be negative for a valid run). */
    probeStartMs?: number;
    upWallMs: number;
    valid: boolean;
    error?: string;
}

/** (a) and (b) through the real engine: bench/programs/gate under `pulumi up`. */
export async function gateEngine(
    status: ToolchainStatus,
    opts: { healthyRuns: number; delayS: number; bounds: HealthBounds; port: number; unhealthyRuns: number },
): Promise<{ healthy: EngineGateRun[]; unhealthy: { failMs: number; fromProbeStartMs?: number; message: string }[] }> {
    const project = tempProject(path.join(ROOT, "test", "integration", "programs", "gate"), "gate");
    const healthy: EngineGateRun[] = [];
    const unhealthy: { failMs: number; fromProbeStartMs?: number; message: string }[] = [];
    const config = (name: string) => ({
        "gate:service": SERVICE,
        "gate:port": String(opts.port),
        "gate:timeoutSeconds": String(opts.bounds.timeoutSeconds),
        "gate:intervalSeconds": String(opts.bounds.intervalSeconds),
        "gate:retries": String(opts.bounds.retries),
        "gate:requestTimeoutSeconds": String(opts.bounds.requestTimeoutSeconds),
        "gate:digest": `sha256:${name
            .padEnd(64, "0")
            .slice(0, 64)
            .replace(/[^0-9a-f]/g, "0")}`,
    });
    const watch = () => {
        const seen: { probeStart?: number; probeOutputs?: number; failed?: number } = {};
        const onEvent = (e: EngineEvent): void => {
            const t = now();
            const pre = e.resourcePreEvent?.metadata;
            if (pre && pre.urn.endsWith("::canary-probe") && seen.probeStart === undefined) {
                seen.probeStart = t;
            }
            const outs = e.resOutputsEvent?.metadata;
            if (outs && outs.urn.endsWith("::canary-probe")) {
                seen.probeOutputs = t;
            }
            if (e.resOpFailedEvent && seen.failed === undefined) {
                seen.failed = t;
            }
        };
        return { seen, onEvent };
    };
    try {
        for (let i = 0; i < opts.healthyRuns; i++) {
            const stack = await createStack(project, `healthy-${i}`, status, config(`a${i}`));
            const { seen, onEvent } = watch();
            const { proc } = startService(opts.port, { DEMO_HEALTH: "ok", DEMO_START_DELAY_S: String(opts.delayS) });
            const upStart = now();
            try {
                const upPromise = stack.up({ onEvent });
                const healthyAt = await healthyMoment(opts.port, opts.delayS);
                const result = await upPromise;
                const done = now();
                const gatedAt = Number(result.outputs.batchStartedMs?.value);
                const r: EngineGateRun = {
                    toProbeOutputsMs: seen.probeOutputs !== undefined ? seen.probeOutputs - healthyAt : undefined,
                    toGatedMs: Number.isFinite(gatedAt) ? gatedAt - healthyAt : undefined,
                    toUpDoneMs: done - healthyAt,
                    probeStartMs: seen.probeStart !== undefined ? seen.probeStart - healthyAt : undefined,
                    upWallMs: done - upStart,
                    valid: seen.probeStart !== undefined && seen.probeStart < healthyAt,
                };
                healthy.push(r);
                log(
                    `gate: engine healthy run ${i + 1}/${opts.healthyRuns}: probe started ${fmtRel(r.probeStartMs)} rel. to healthy${r.valid ? "" : " (TOO LATE: run not counted)"}; probe outputs +${r.toProbeOutputsMs?.toFixed(0)}ms, gated resource ran +${r.toGatedMs?.toFixed(0)}ms, up returned +${r.toUpDoneMs?.toFixed(0)}ms`,
                );
            } catch (e) {
                healthy.push({ upWallMs: now() - upStart, valid: false, error: String(e).slice(0, 500) });
                log(`gate: engine healthy run ${i + 1} failed: ${String(e).slice(0, 500)}`);
            } finally {
                await stopService(proc);
            }
        }
        for (let i = 0; i < opts.unhealthyRuns; i++) {
            const stack = await createStack(project, `degraded-${i}`, status, config(`d${i}`));
            const { seen, onEvent } = watch();
            const { proc, startedAt } = startService(opts.port, { DEMO_HEALTH: "degraded" });
            try {
                let message = "";
                try {
                    await stack.up({ onEvent });
                    message = "(up succeeded: unexpected)";
                } catch (e) {
                    message = String(e);
                }
                const failedAt = now();
                const line = /health check failed:[^\n]*/.exec(message)?.[0] ?? message.slice(0, 300);
                unhealthy.push({
                    failMs: failedAt - startedAt,
                    fromProbeStartMs: seen.probeStart !== undefined ? failedAt - seen.probeStart : undefined,
                    message: line,
                });
                log(
                    `gate: engine degraded run ${i + 1}/${opts.unhealthyRuns}: up failed ${((failedAt - startedAt) / 1000).toFixed(2)}s after the service started: ${line.slice(0, 300)}`,
                );
            } finally {
                await stopService(proc);
            }
        }
    } finally {
        project.cleanup();
    }
    return { healthy, unhealthy };
}

function fmtRel(v: number | undefined): string {
    return v === undefined ? "?" : `${v >= 0 ? "+" : ""}${v.toFixed(0)}ms`;
}
