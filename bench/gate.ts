/**
 * Part "gate": how fast the health gate reacts. A demo service (demo/services/system_digital_twin) runs
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
import { HealthBounds } from "../components";
import { ensureSetup, ToolchainStatus } from "../testkit/engine";
import { EngineGateRun, gateEngine } from "./gateEngine";
import { healthyMoment, localBounds, runProbe, startService, stopService } from "./gateService";
import { log, sleep, Stat, stat } from "./lib";

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

export interface GateResult {
    bounds: HealthBounds;
    delayS: number;
    healthyDirect?: { runs: HealthyRun[]; latency: Stat };
    unhealthyDirect?: { runs: FailRun[]; fail: Stat };
    engine?: { healthy: EngineGateRun[]; unhealthy: { failMs: number; fromProbeStartMs?: number; message: string }[] };
    notMeasured: { figure: string; why: string }[];
}

/**
 * The whole part. The degraded canaries (b) wait out the configured timeout (a minute), so they
 * start first and run while the healthy runs (a) are measured: their probes sleep between requests.
 */
export async function gateBench(quick: boolean): Promise<GateResult> {
    const bounds = localBounds();
    const delayS = 3;
    const result: GateResult = { bounds, delayS, notMeasured: [] };
    log(`gate: the local stack's rollout.health ${JSON.stringify(bounds)}`);
    let status: ToolchainStatus | undefined;
    try {
        status = ensureSetup();
        if (!status.plugins.command) {
            const why = `the command plugin is missing: ${status.missing?.command ?? "not installed"}`;
            result.notMeasured.push({ figure: "gate through the engine", why });
            status = undefined;
        }
    } catch (e) {
        result.notMeasured.push({ figure: "gate through the engine", why: `scripts/setup.sh failed: ${String(e)}` });
    }
    const degradedDirect = quick ? 1 : 2;
    log(
        `gate: degraded canaries against the configured timeout of ${bounds.timeoutSeconds}s (${degradedDirect} direct + 1 engine), in the background`,
    );
    const degraded = Promise.allSettled([
        gateUnhealthyDirect(degradedDirect, bounds, 19900),
        status
            ? gateEngine(status, { healthyRuns: 0, delayS: 0, bounds, port: 19961, unhealthyRuns: 1 })
            : Promise.reject(new Error("no engine")),
    ]);
    try {
        result.healthyDirect = await gateHealthyDirect(quick ? 2 : 4, delayS, bounds, 19892);
    } catch (e) {
        result.notMeasured.push({ figure: "gate (a), direct", why: String(e) });
    }
    if (status) {
        try {
            result.engine = await gateEngine(status, { healthyRuns: quick ? 1 : 2, delayS: 8, bounds, port: 19951, unhealthyRuns: 0 });
        } catch (e) {
            result.notMeasured.push({ figure: "gate (a) through the engine", why: String(e).slice(0, 600) });
        }
    }
    const [direct, engine] = await degraded;
    if (direct.status === "fulfilled") {
        result.unhealthyDirect = direct.value;
    } else {
        result.notMeasured.push({ figure: "gate (b), direct", why: String(direct.reason) });
    }
    if (engine.status === "fulfilled") {
        result.engine = { healthy: result.engine?.healthy ?? [], unhealthy: engine.value.unhealthy };
    } else if (status) {
        result.notMeasured.push({ figure: "gate (b) through the engine", why: String(engine.reason).slice(0, 600) });
    }
    return result;
}
