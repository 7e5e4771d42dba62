/**
 * The one process runner of the tests and the bench (test/integration/support/proc.ts re-exports
 * it; bench/ uses it directly): runs a program without a shell, collects its output, measures its
 * wall time, never rejects for a non-zero exit.
 */
import { spawn } from "child_process";
import * as path from "path";
import { performance } from "perf_hooks";

/** The project root (where Pulumi.yaml lives): the default working directory. */
export const REPO_ROOT = path.resolve(__dirname, "..");

/** What a finished child process left. */
export interface RunResult {
    /** The command line, for messages. */
    cmd: string;
    /** Exit code (-1 when killed by a signal or on a spawn error). */
    code: number;
    /** The signal that ended it, if one did. */
    signal?: NodeJS.Signals;
    stdout: string;
    stderr: string;
    /** Wall time in milliseconds, from spawn to the close of its output. */
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
    const started = performance.now();
    return new Promise((resolve) => {
        const child = spawn(file, args, { cwd: opts.cwd ?? REPO_ROOT, env: opts.env ?? process.env, stdio: ["pipe", "pipe", "pipe"] });
        let stdout = "";
        let stderr = "";
        let timer: NodeJS.Timeout | undefined;
        if (opts.timeoutMs) {
            timer = setTimeout(() => {
                stderr += `\n[run] killed after ${opts.timeoutMs} ms\n`;
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
            stderr += `\n[run] spawn error: ${e.message}\n`;
        });
        child.on("close", (code, signal) => {
            if (timer) clearTimeout(timer);
            resolve({ cmd, code: code ?? -1, signal: signal ?? undefined, stdout, stderr, ms: performance.now() - started });
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

/** The last n lines of a text. */
export function tail(text: string, n: number): string {
    return text.trimEnd().split("\n").slice(-n).join("\n");
}

/** POSIX shell quoting of one word. */
export function shellQuote(s: string): string {
    return /^[A-Za-z0-9_@%+=:,./-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}
