/**
 * Shared helpers of the bench: progress lines, summary statistics, the machine. Child processes
 * run through testkit/proc.ts (re-exported here), the runner the integration tests use too.
 * No assertion on any figure anywhere: the bench measures, prints and records.
 */
import * as os from "os";
import * as path from "path";

export const ROOT = path.resolve(__dirname, "..");
export const WORK = path.join(ROOT, "bench", ".work");

export { run } from "../testkit/proc";
export type { RunResult } from "../testkit/proc";

const started = Date.now();

/** A progress line on stderr, prefixed with the bench's elapsed time. */
export function log(msg: string): void {
    const t = ((Date.now() - started) / 1000).toFixed(0).padStart(4);
    process.stderr.write(`[bench ${t}s] ${msg}\n`);
}

/** Median, min and max of some runs. */
export interface Stat {
    median: number;
    min: number;
    max: number;
    n: number;
    values: number[];
}

export function stat(values: number[]): Stat {
    if (values.length === 0) {
        throw new Error("no values");
    }
    const s = [...values].sort((a, b) => a - b);
    const mid = Math.floor(s.length / 2);
    const median = s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
    return { median, min: s[0], max: s[s.length - 1], n: s.length, values };
}

/** Least-squares line y = a + b·x and its R². */
export function fit(points: [number, number][]): { intercept: number; slope: number; r2: number } {
    const n = points.length;
    const mx = points.reduce((s, [x]) => s + x, 0) / n;
    const my = points.reduce((s, [, y]) => s + y, 0) / n;
    const sxx = points.reduce((s, [x]) => s + (x - mx) ** 2, 0);
    const sxy = points.reduce((s, [x, y]) => s + (x - mx) * (y - my), 0);
    const slope = sxy / sxx;
    const intercept = my - slope * mx;
    const ssTot = points.reduce((s, [, y]) => s + (y - my) ** 2, 0);
    const ssRes = points.reduce((s, [x, y]) => s + (y - (intercept + slope * x)) ** 2, 0);
    return { intercept, slope, r2: ssTot === 0 ? 1 : 1 - ssRes / ssTot };
}

/** The machine the figures come from. */
export function machine(): { cores: number; cpuModel: string; memoryGiB: number; node: string; os: string } {
    const cpus = os.cpus();
    return {
        cores: cpus.length,
        cpuModel: cpus[0]?.model?.trim() ?? "unknown",
        memoryGiB: os.totalmem() / 1024 ** 3,
        node: process.version,
        os: `${os.type()} ${os.release()}`,
    };
}

/** 1-minute load average, for the record: other work on the machine skews wall times. */
export function load1(): number {
    return os.loadavg()[0];
}

/**
 * Waits (bounded) for the 1-minute load average to fall below `below`, so a measurement does not
 * start in the middle of someone else's build; returns the load it starts at either way.
 */
export async function quiet(below: number, maxWaitS: number): Promise<number> {
    const t0 = Date.now();
    let warned = false;
    while (load1() >= below && Date.now() - t0 < maxWaitS * 1000) {
        if (!warned) {
            log(`machine busy (load ${load1().toFixed(2)} on ${os.cpus().length} cores): waiting up to ${maxWaitS}s for < ${below}`);
            warned = true;
        }
        await sleep(5000);
    }
    if (warned) {
        log(`starting at load ${load1().toFixed(2)} after ${((Date.now() - t0) / 1000).toFixed(0)}s`);
    }
    return load1();
}

export function sleep(ms: number): Promise<void> {
    return new Promise((r) => setTimeout(r, ms));
}

/** ms → "1.23 s" / "456 ms". */
export function ms(v: number): string {
    return v >= 10000 ? `${(v / 1000).toFixed(1)} s` : v >= 1000 ? `${(v / 1000).toFixed(2)} s` : `${v.toFixed(0)} ms`;
}

/** KiB → "123 MiB". */
export function mb(kb: number): string {
    return `${(kb / 1024).toFixed(0)} MiB`;
}
