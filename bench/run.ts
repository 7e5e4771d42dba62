/**
 * `npm run bench`: measures what the fleet program costs and how fast its gates react, side by side
 * in one run, printing progress (which part, how long). The parts write their figures to
 * bench/.work/results.json; bench/render.ts turns that file into bench/RESULTS.md. Nothing here
 * asserts a figure: the speed targets are reported "met" or "not met" (bench/results.ts).
 *
 *   unit     `npm run test:unit`'s wall time (bench/unit.ts)
 *   program  the program's evaluation under the shared mocks and the language host's loader: mainpc
 *            (leanPromiseStacks() on and off), pc2, generated fleets of 10/100/1000; issue 19's: index.ts
 *            on the operator's tree vs the empty program, 1000 services vs the floor, and a price per
 *            resource type (bench/evaluation.ts, bench/cost.ts)
 *   profile  a CPU profile of mainpc's evaluation, both variants (bench/profile.ts)
 *   gate     health-gate latency, direct and through the engine (bench/gate.ts)
 *   engine   no-op `pulumi preview` and `pulumi up` vs the empty program's, blast radius, the lever under
 *            the engine (bench/engine.ts)
 *
 * Options: --only <part,…> (a partial run writes bench/.work/RESULTS.partial.md, not RESULTS.md);
 * --quick (one run of each; the fleet beside the floor and the prices at 100 services, not 1000);
 * --services <N> (the fleet beside the floor and the prices at N services: 100 or 1000);
 * --render (re-render results.json, no measuring).
 */
import * as path from "path";
import { engineBench } from "./engine";
import { evaluationBench } from "./evaluation";
import { gateBench } from "./gate";
import { load1, log, machine, quiet, ROOT, run, WORK } from "./lib";
import { profileBench } from "./profile";
import { renderFile } from "./render";
import { Part, PARTS, readResults, Results, targets, verdict, writeResults } from "./results";
import { unitBench } from "./unit";

const args = process.argv.slice(2);
const onlyArg = args.includes("--only") ? args[args.indexOf("--only") + 1] : undefined;
const only = (onlyArg ? onlyArg.split(",") : [...PARTS]) as Part[];
const unknown = only.filter((p) => !(PARTS as readonly string[]).includes(p));
const QUICK = args.includes("--quick");
const SERVICES = args.includes("--services") ? Number(args[args.indexOf("--services") + 1]) : QUICK ? 100 : 1000;

async function head(): Promise<string> {
    return (await run("git", ["rev-parse", "--short", "HEAD"])).stdout.trim();
}

/** The report's path: RESULTS.md only for a full run. */
function reportFile(r: Results): string {
    const full = !r.quick && PARTS.every((p) => r.parts.includes(p));
    return full ? path.join(ROOT, "bench", "RESULTS.md") : path.join(WORK, "RESULTS.partial.md");
}

function printTargets(r: Results): void {
    log("targets (the bench reports, it does not assert):");
    for (const t of targets(r)) {
        log(`  ${verdict(t).padEnd(12)} ${t.what}: ${t.measured}, target ${t.target}`);
    }
}

async function main(): Promise<void> {
    if (SERVICES !== 100 && SERVICES !== 1000) {
        throw new Error(`--services takes 100 or 1000 (the generated fleets measured), not ${SERVICES}`);
    }
    if (unknown.length) {
        throw new Error(`unknown part(s) ${unknown.join(", ")}; parts: ${PARTS.join(", ")}`);
    }
    if (args.includes("--render")) {
        const r = readResults();
        const file = renderFile(r, reportFile(r));
        printTargets(r);
        log(`bench: rendered ${path.relative(ROOT, file)} from bench/.work/results.json`);
        return;
    }
    const r: Results = {
        startedAt: new Date().toISOString(),
        commits: { start: await head() },
        machine: machine(),
        parts: PARTS.filter((p) => only.includes(p)),
        quick: QUICK,
        partSeconds: {},
        loads: [],
        errors: [],
    };
    const m = r.machine;
    log(
        `bench: ${m.cores} cores, ${m.memoryGiB.toFixed(1)} GiB, Node.js ${m.node}; parts: ${r.parts.join(", ")}${QUICK ? " (quick)" : ""}`,
    );
    const t0 = Date.now();
    const part = async <K extends Part>(name: K, fn: () => Promise<Results[K]>): Promise<void> => {
        if (!r.parts.includes(name)) {
            return;
        }
        r.loads.push(await quiet(2, 20));
        const started = Date.now();
        log(`=== part ${name} (load ${load1().toFixed(2)})`);
        try {
            r[name] = await fn();
        } catch (e) {
            r.errors.push({ part: name, why: e instanceof Error ? e.message : String(e) });
            log(`part ${name} FAILED: ${String(e).slice(0, 800)}`);
        }
        r.partSeconds[name] = (Date.now() - started) / 1000;
        log(`=== part ${name} done in ${r.partSeconds[name]?.toFixed(0)}s (bench so far ${((Date.now() - t0) / 60000).toFixed(1)} min)`);
        writeResults(r);
    };
    await part("unit", () => unitBench(QUICK ? 1 : 2));
    await part("program", () => evaluationBench(QUICK, SERVICES));
    await part("profile", () => profileBench());
    await part("gate", () => gateBench(QUICK));
    await part("engine", () => engineBench({ previews: QUICK ? 1 : 5, touchRepeats: 1, leverRuns: QUICK ? 1 : 2 }));
    r.finishedAt = new Date().toISOString();
    r.commits.end = await head();
    writeResults(r);
    const file = renderFile(r, reportFile(r));
    printTargets(r);
    log(`bench: wrote bench/.work/results.json and ${path.relative(ROOT, file)} in ${((Date.now() - t0) / 60000).toFixed(1)} min`);
}

main().catch((e) => {
    process.stderr.write(`bench failed: ${e instanceof Error ? e.stack : String(e)}\n`);
    process.exit(1);
});
