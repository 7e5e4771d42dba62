/**
 * Processes, HTTP and waiting for the integration suite: no mocks, real child processes (the
 * runner itself is testkit/proc.ts).
 * Progress goes to stderr with an `[it]` prefix so a CI log shows what the suite is doing.
 */
import * as http from "http";
import * as net from "net";
// The process runner is testkit/proc.ts (shared with the bench); re-exported for the integration tests.
export { must, REPO_ROOT, run, shellQuote, tail } from "../../../testkit/proc";
export type { RunOptions, RunResult } from "../../../testkit/proc";
import { REPO_ROOT, run, RunResult } from "../../../testkit/proc";

/** A progress line on stderr. */
export function log(msg: string): void {
    process.stderr.write(`[it] ${msg}\n`);
}

/**
 * Runs a component's command exactly as @pulumi/command's local.Command does: `sh -c <create>` in
 * the project root with this process's environment plus the component's.
 */
export function runComponentCommand(spec: { create: string; environment: Record<string, string> }, timeoutMs = 120000): Promise<RunResult> {
    return run("sh", ["-c", spec.create], { cwd: REPO_ROOT, env: { ...process.env, ...spec.environment }, timeoutMs });
}

/** A GET answered with a status (any) and body; rejects when nothing answers in time. */
export function httpGet(url: string, timeoutMs = 3000): Promise<{ status: number; body: string }> {
    return new Promise((resolve, reject) => {
        const req = http.get(url, { timeout: timeoutMs }, (res) => {
            const chunks: Buffer[] = [];
            res.on("data", (c: Buffer) => chunks.push(c));
            res.on("end", () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString("utf8") }));
            res.on("error", reject);
        });
        req.on("timeout", () => req.destroy(new Error(`no answer from ${url} within ${timeoutMs} ms`)));
        req.on("error", reject);
    });
}

/** Polls `check` until it returns true; rejects after `timeoutMs` with `what` and the last error. */
export async function waitFor(what: string, timeoutMs: number, check: () => Promise<boolean>, intervalMs = 250): Promise<number> {
    const started = Date.now();
    let last: string;
    for (;;) {
        try {
            if (await check()) {
                return Date.now() - started;
            }
            last = "condition false";
        } catch (e) {
            last = (e as Error).message;
        }
        if (Date.now() - started > timeoutMs) {
            throw new Error(`timed out after ${timeoutMs} ms waiting for ${what} (last: ${last})`);
        }
        await new Promise((r) => setTimeout(r, intervalMs));
    }
}

function portFree(port: number): Promise<boolean> {
    return new Promise((resolve) => {
        const srv = net.createServer();
        srv.once("error", () => resolve(false));
        srv.listen(port, "127.0.0.1", () => srv.close(() => resolve(true)));
    });
}

const handedOut = new Set<number>();

/**
 * `count` free loopback ports from `from` upward (19xxx: clear of every host port in the stack
 * files), never the same one twice in a run.
 */
export async function freePorts(count: number, from = 19400): Promise<number[]> {
    const ports: number[] = [];
    for (let p = from; ports.length < count && p < 19999; p++) {
        if (!handedOut.has(p) && (await portFree(p))) {
            handedOut.add(p);
            ports.push(p);
        }
    }
    if (ports.length < count) {
        throw new Error(`found only ${ports.length} free ports in ${from}-19999, wanted ${count}`);
    }
    return ports;
}
