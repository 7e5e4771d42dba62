/**
 * The gate part's service and probe: a demo service (demo/services/system_digital_twin) as a plain
 * process on loopback, the moment it turns healthy read off the service itself, and the HealthCheck's
 * exact command (healthCheckCommand()) run as the command provider runs it. Used by bench/gate.ts
 * (direct runs) and bench/gateEngine.ts (through the engine).
 */
import { ChildProcess, spawn } from "child_process";
import * as http from "http";
import * as path from "path";
import { HealthBounds, healthCheckCommand } from "../components";
import { localStackConfig } from "../testkit/engine";
import { ROOT, sleep } from "./lib";

export const SERVICE = "SystemDigitalTwin";
const SERVICE_PY = path.join(ROOT, "demo", "services", "system_digital_twin", "service.py");

/** Epoch milliseconds with sub-millisecond resolution. */
export function now(): number {
    return performance.timeOrigin + performance.now();
}

/** The local stack's rollout.health (Pulumi.local.yaml), with the schema's defaults for what it leaves out. */
export function localBounds(): HealthBounds {
    const rollout = localStackConfig()["ai-fleet:rollout"] as { health?: Partial<HealthBounds> } | undefined;
    return { timeoutSeconds: 180, intervalSeconds: 2, retries: 90, requestTimeoutSeconds: 3, ...(rollout?.health ?? {}) };
}

/** Starts the demo service with its HTTP health endpoint on `port` (service port −2, REP port −1). */
export function startService(port: number, env: Record<string, string>): { proc: ChildProcess; startedAt: number } {
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

export function stopService(proc: ChildProcess): Promise<void> {
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
export function getHealth(port: number): Promise<{ status?: number; body?: string; sentAt: number; answeredAt: number }> {
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
export async function healthyMoment(port: number, delayS: number): Promise<number> {
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
export function runProbe(
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
