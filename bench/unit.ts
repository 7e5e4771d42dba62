/**
 * Part "unit": the unit suite's wall time as a developer sees it: `npm run test:unit` run as a child
 * process (npm, mocha with test/unit/mocharc.json) and timed from spawn to exit. GNU time reports
 * the peak RSS of the largest process it waited for (mocha's node).
 */
import { load1, log, mb, ms, run, Stat, stat } from "./lib";

export const UNIT_COMMAND = "npm run test:unit";

export interface UnitResult {
    wallMs: Stat;
    rssKB?: Stat;
    load: Stat;
    /** Per run: "N passing, M failing, exit C". */
    summaries: string[];
}

export async function unitBench(runs: number): Promise<UnitResult> {
    const walls: number[] = [];
    const rss: number[] = [];
    const loads: number[] = [];
    const summaries: string[] = [];
    for (let i = 0; i < runs; i++) {
        loads.push(load1());
        const r = await run("/usr/bin/time", ["-f", "BENCH_MAXRSS_KB=%M", "npm", "run", "test:unit", "--", "--reporter", "dot"]);
        const out = r.stdout + r.stderr;
        const count = (what: string) => new RegExp(`(\\d+) ${what}`).exec(out)?.[1] ?? "0";
        const summary = `${count("passing")} passing, ${count("failing")} failing, ${count("pending")} pending, exit ${r.code}`;
        summaries.push(summary);
        walls.push(r.ms);
        const kb = Number(/BENCH_MAXRSS_KB=(\d+)/.exec(r.stderr)?.[1] ?? NaN);
        if (Number.isFinite(kb)) {
            rss.push(kb);
        }
        log(`unit: run ${i + 1}/${runs}: ${ms(r.ms)}, ${summary}, peak RSS ${mb(kb)} (load ${loads[i].toFixed(2)})`);
    }
    return { wallMs: stat(walls), rssKB: rss.length ? stat(rss) : undefined, load: stat(loads), summaries };
}
