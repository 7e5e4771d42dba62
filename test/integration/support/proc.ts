/**
 * Processes, HTTP and waiting for the integration suite: no mocks, real child processes.
 * Progress goes to stderr with an `[it]` prefix so a CI log shows what the suite is doing.
 */
import { spawn } from "child_process";
import * as http from "http";
import * as net from "net";
import * as path from "path";

/** The project root (where Pulumi.yaml lives); probes' commands are relative to it. */
export const REPO_ROOT = path.resolve(__dirname, "..", "..", "..");

/** A progress line on stderr. */
export function log(msg: string): void {
    process.stderr.write(`[it] ${msg}\n`);
}

/** What a finished child process left. */
export interface RunResult {
    /** The command line, for messages. */
    cmd: string;
    /** Exit code (-1 when killed by a signal or on a spawn error). */
    code: number;
    stdout: string;
    stderr: string;
    /** Wall time in milliseconds. */
    ms: number;
}

export interface RunOptions {
    cwd?: string;
    /** The complete environment (default: this process's). */
    env?: NodeJS.ProcessEnv;
    /** Written to stdin, then closed. */
    input?: string;
    /** Copy the child's output to our stderr as it comes (long steps such as up.sh). */
    echo?: boolean;
    /** Kill the child after this long. */
    timeoutMs?: number;
}

/** Runs a program (no shell) and collects its output; never rejects for a non-zero exit. */
export function run(file: string, args: string[], opts: RunOptions = {}): Promise<RunResult> {
    const cmd = [file, ...args].map(shellQuote).join(" ");
    const started = Date.now();
    return new Promise((resolve) => {
        const child = spawn(file, args, { cwd: opts.cwd ?? REPO_ROOT, env: opts.env ?? process.env, stdio: ["pipe", "pipe", "pipe"] });
        let stdout = "";
        let stderr = "";
        let timer: NodeJS.Timeout | undefined;
        if (opts.timeoutMs) {
            timer = setTimeout(() => {
                stderr += `\n[it] killed after ${opts.timeoutMs} ms\n`;
                child.kill("SIGKILL");
            }, opts.timeoutMs);
        }
        child.stdout.on("data", (c: Buffer) => {
            stdout += c.toString("utf8");
            if (opts.echo) process.stderr.write(c);
        });
        child.stderr.on("data", (c: Buffer) => {
            stderr += c.toString("utf8");
            if (opts.echo) process.stderr.write(c);
        });
        child.on("error", (e) => {
            stderr += `\n[it] spawn error: ${e.message}\n`;
        });
        child.on("close", (code) => {
            if (timer) clearTimeout(timer);
            resolve({ cmd, code: code ?? -1, stdout, stderr, ms: Date.now() - started });
        });
        child.stdin.on("error", () => undefined);
        child.stdin.end(opts.input ?? "");
    });
}

/** Runs a program and rejects with its command line, exit code and output tail unless it exits 0. */
export async function must(file: string, args: string[], opts: RunOptions = {}): Promise<RunResult> {
    const r = await run(file, args, opts);
    if (r.code !== 0) {
        throw new Error(`${r.cmd} exited ${r.code}:\n${tail(r.stderr || r.stdout, 40)}`);
    }
    return r;
}

/**
 * Runs a component's command exactly as @pulumi/command's local.Command does: `sh -c <create>` in
 * the project root with this process's environment plus the component's.
 */
export function runComponentCommand(spec: { create: string; environment: Record<string, string> }, timeoutMs = 120000): Promise<RunResult> {
    return run("sh", ["-c", spec.create], { cwd: REPO_ROOT, env: { ...process.env, ...spec.environment }, timeoutMs });
}

/** The last n lines of a text. */
export function tail(text: string, n: number): string {
    return text.trimEnd().split("\n").slice(-n).join("\n");
}

/** POSIX shell quoting of one word. */
export function shellQuote(s: string): string {
    return /^[A-Za-z0-9_@%+=:,./-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
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
