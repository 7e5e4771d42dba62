/**
 * Part "gate" through the real engine: `pulumi up` of test/integration/programs/gate (a Pulumi
 * program directory, run by path: the real HealthCheck + a `date +%s%3N` command gated on it)
 * against the demo service, healthy after a start delay (a) or degraded (b).
 */
import * as path from "path";
import { EngineEvent } from "@pulumi/pulumi/automation";
import { HealthBounds } from "../components";
import { createStack, tempProject, ToolchainStatus } from "../testkit/engine";
import { healthyMoment, now, SERVICE, startService, stopService } from "./gateService";
import { log, ROOT } from "./lib";

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
