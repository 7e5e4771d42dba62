/**
 * `npm run bench`: measures what the fleet program costs and how fast its gates react, prints
 * progress, and writes bench/RESULTS.md (each figure: median, min and max of several runs, and the
 * command that reproduces it). Nothing here asserts a figure: the bench measures and records.
 *
 *   1. program  the program under Pulumi mocks (no engine): repository stacks and generated fleets
 *               of 10/100/1000 services beside an empty program, under ts-node and compiled by tsc
 *               (+ a CPU profile at 100 services); one child process per measurement (peak RSS)
 *   2. engine   `pulumi preview` of an unchanged build-only local stack vs an empty program's, and
 *   3.          the blast radius of touching one service / one family (bench/engine.ts)
 *   4. gate     health-gate latency: healthy after a start delay, and a degraded canary (bench/gate.ts)
 *   5. unit     wall time of the unit suite
 *
 * Options: --only program,profile,engine,gate,unit (a partial run writes bench/.work/RESULTS.partial.md,
 * not RESULTS.md); --quick (one run of each, no 1000-service fleet: for trying the bench out);
 * --report-only (re-render the last run's bench/.work/results.json into bench/.work/RESULTS.rerender.md).
 * Raw figures of the last run: bench/.work/results.json.
 */
import * as fs from "fs";
import * as path from "path";
import { ensureToolchain } from "../test/integration/support/engine";
import { EngineResult, engineBench, IMAGE_TYPE } from "./engine";
import { FailRun, gateEngine, gateHealthyDirect, gateUnhealthyDirect, HealthyRun, localBounds, EngineGateRun } from "./gate";
import { fit, load1, log, machine, mb, ms, quiet, ROOT, run, Stat, stat, WORK } from "./lib";

const PARTS = ["program", "profile", "engine", "gate", "unit"] as const;
type Part = (typeof PARTS)[number];

const args = process.argv.slice(2);
const onlyArg = args.includes("--only") ? args[args.indexOf("--only") + 1] : undefined;
const only = new Set<Part>(onlyArg ? (onlyArg.split(",") as Part[]) : PARTS);
const QUICK = args.includes("--quick");
const FULL = !QUICK && PARTS.every((p) => only.has(p));
const SMS_REGISTER = require.resolve("source-map-support/register", { paths: [path.dirname(require.resolve("@pulumi/pulumi"))] });

// ---------------------------------------------------------------------------------------------
// Part 1: the program under mocks

interface ChildResult {
    services: number;
    resources: number;
    outputs: number;
    bootMs: number;
    loadMs: number;
    doneMs: number;
    maxRssKB: number;
    userCpuMs: number;
    systemCpuMs: number;
    sourceMapSupport: boolean;
}

interface Loader {
    id: "ts-node" | "tsc" | "tsc+sms" | "ts-node+stl1";
    label: string;
    argv: (workload: string[]) => string[];
    shown: (workload: string[]) => string;
}

const TS_NODE: Loader = {
    id: "ts-node",
    label: "ts-node (transpile-only, its source-map-support)",
    argv: (w) => ["-r", "ts-node/register/transpile-only", "bench/program.ts", ...w],
    shown: (w) => `node -r ts-node/register/transpile-only bench/program.ts ${w.join(" ")}`,
};
const TSC: Loader = {
    id: "tsc",
    label: "tsc → plain JS, no source-map-support",
    argv: (w) => ["bench/.work/js/bench/program.js", ...w],
    shown: (w) => `npx tsc -p bench/tsconfig.compile.json && node bench/.work/js/bench/program.js ${w.join(" ")}`,
};
const TSC_SMS: Loader = {
    id: "tsc+sms",
    label: "tsc → plain JS + source-map-support/register (what the engine's language host preloads)",
    argv: (w) => ["-r", SMS_REGISTER, "bench/.work/js/bench/program.js", ...w],
    shown: (w) => `node -r source-map-support/register bench/.work/js/bench/program.js ${w.join(" ")}`,
};

const TS_NODE_STL1: Loader = {
    id: "ts-node+stl1",
    label: "ts-node with V8's --stack-trace-limit=1 (a lever, not how the program runs today; set through NODE_OPTIONS it reaches the engine's language host too, see part 2)",
    argv: (w) => ["--stack-trace-limit=1", "-r", "ts-node/register/transpile-only", "bench/program.ts", ...w],
    shown: (w) => `NODE_OPTIONS=--stack-trace-limit=1 node -r ts-node/register/transpile-only bench/program.ts ${w.join(" ")}`,
};

interface Workload {
    id: string;
    label: string;
    argv: string[];
    services?: number;
}

const WORKLOADS: Workload[] = [
    { id: "empty", label: "empty program (same mocks, no resource)", argv: ["empty"] },
    { id: "mainpc", label: "Pulumi.mainpc.yaml (real fleet)", argv: ["stack", "mainpc"] },
    { id: "pc2", label: "Pulumi.pc2.yaml (real fleet)", argv: ["stack", "pc2"] },
    { id: "gen10", label: "generated, 10 services", argv: ["generated", "10"], services: 10 },
    { id: "gen100", label: "generated, 100 services", argv: ["generated", "100"], services: 100 },
    { id: "gen1000", label: "generated, 1000 services", argv: ["generated", "1000"], services: 1000 },
];

/** Runs per (loader, workload): the 1000-service fleet takes minutes under ts-node, so it gets fewer. */
function runsFor(loader: Loader, w: Workload): number {
    if (QUICK) {
        return 1;
    }
    if (w.id === "gen1000") {
        return loader.id === "ts-node" ? 1 : 2;
    }
    if (w.id === "gen100") {
        return 3;
    }
    return 5;
}

interface Measured {
    loader: Loader["id"];
    workload: string;
    runs: number;
    services: number;
    resources: number;
    evalMs: Stat;
    wallMs: Stat;
    rssKB: Stat;
    cpuMs: Stat;
    load: Stat;
    command: string;
    sourceMapSupport: boolean;
}

async function measureChild(loader: Loader, w: Workload, runs: number): Promise<Measured> {
    const evals: number[] = [];
    const walls: number[] = [];
    const rss: number[] = [];
    const cpu: number[] = [];
    const loads: number[] = [];
    let last: ChildResult | undefined;
    for (let i = 0; i < runs; i++) {
        loads.push(load1());
        const r = await run(process.execPath, loader.argv(w.argv));
        const line = r.stdout.split("\n").find((l) => l.startsWith("BENCH_RESULT "));
        if (r.code !== 0 || !line) {
            throw new Error(`${loader.shown(w.argv)} exited ${r.code}${r.signal ? ` (${r.signal})` : ""}: ${r.stderr.trim().slice(-800)}`);
        }
        const c = JSON.parse(line.slice("BENCH_RESULT ".length)) as ChildResult;
        last = c;
        evals.push(c.doneMs - c.loadMs);
        walls.push(r.wallMs);
        rss.push(c.maxRssKB);
        cpu.push(c.userCpuMs + c.systemCpuMs);
        log(
            `program: ${loader.id} ${w.id} run ${i + 1}/${runs}: evaluation ${ms(c.doneMs - c.loadMs)}, process ${ms(r.wallMs)}, peak RSS ${mb(c.maxRssKB)}, ${c.resources} resources (load ${loads[i].toFixed(2)})`,
        );
    }
    const l = last as ChildResult;
    return {
        loader: loader.id,
        workload: w.id,
        runs,
        services: l.services,
        resources: l.resources,
        evalMs: stat(evals),
        wallMs: stat(walls),
        rssKB: stat(rss),
        cpuMs: stat(cpu),
        load: stat(loads),
        command: loader.shown(w.argv),
        sourceMapSupport: l.sourceMapSupport,
    };
}

interface ProgramResult {
    compileMs: number;
    measured: Measured[];
    notMeasured: { figure: string; why: string }[];
}

async function programBench(): Promise<ProgramResult> {
    log("program: compiling the program with tsc into bench/.work/js (bench/tsconfig.compile.json)");
    fs.rmSync(path.join(WORK, "js"), { recursive: true, force: true });
    const tsc = await run(process.execPath, [require.resolve("typescript/bin/tsc"), "-p", "bench/tsconfig.compile.json"]);
    if (tsc.code !== 0) {
        throw new Error(`tsc -p bench/tsconfig.compile.json failed: ${tsc.stdout}${tsc.stderr}`);
    }
    const measured: Measured[] = [];
    const notMeasured: { figure: string; why: string }[] = [];
    const plan: [Loader, Workload][] = [];
    for (const loader of [TS_NODE, TSC]) {
        for (const w of WORKLOADS) {
            if (QUICK && w.id === "gen1000") {
                continue;
            }
            plan.push([loader, w]);
        }
    }
    for (const loader of [TSC_SMS, TS_NODE_STL1]) {
        for (const id of ["empty", "mainpc", "gen100"]) {
            plan.push([loader, WORKLOADS.find((w) => w.id === id) as Workload]);
        }
    }
    for (const [loader, w] of plan) {
        try {
            measured.push(await measureChild(loader, w, runsFor(loader, w)));
        } catch (e) {
            notMeasured.push({ figure: `program cost, ${loader.id}, ${w.label}`, why: String(e).slice(0, 600) });
            log(`program: NOT MEASURED ${loader.id} ${w.id}: ${String(e).slice(0, 600)}`);
        }
    }
    return { compileMs: tsc.wallMs, measured, notMeasured };
}

// ---------------------------------------------------------------------------------------------
// Part 1 (where the time goes): one CPU profile per loader at 100 services

interface ProfileSummary {
    loader: string;
    totalMs: number;
    shares: { label: string; pct: number }[];
    topSelf: { fn: string; pct: number }[];
}

interface CpuProfile {
    nodes: { id: number; callFrame: { functionName: string; url: string; lineNumber: number }; children?: number[] }[];
    samples: number[];
    timeDeltas: number[];
}

function summarizeProfile(file: string, loader: string): ProfileSummary {
    const p = JSON.parse(fs.readFileSync(file, "utf8")) as CpuProfile;
    const byId = new Map(p.nodes.map((n) => [n.id, n]));
    const parent = new Map<number, number>();
    for (const n of p.nodes) {
        for (const c of n.children ?? []) {
            parent.set(c, n.id);
        }
    }
    const selfById = new Map<number, number>();
    p.samples.forEach((id, i) => selfById.set(id, (selfById.get(id) ?? 0) + (p.timeDeltas[i] ?? 0)));
    const name = (id: number): string => {
        const f = (byId.get(id) as CpuProfile["nodes"][number]).callFrame;
        return `${f.functionName || "(anonymous)"} ${f.url.replace(/^.*node_modules\//, "").replace(/^file:\/\/\/work\/main\//, "")}:${f.lineNumber + 1}`;
    };
    // Inclusive time of frames matching a test (counted once per sample even when recursive).
    const groups: { label: string; test: (fn: string, url: string) => boolean }[] = [
        {
            label: "formatting captured stack traces (`Error.stack` getter: V8 + prepareStackTrace, source-map-support's when installed)",
            test: (fn) => fn === "get stack",
        },
        {
            label: "Pulumi's debuggablePromise (a `new Error().stack` per promise, 4 promises per output property)",
            test: (fn, url) => fn === "debuggablePromise" && url.includes("debuggable"),
        },
        {
            label: "Pulumi's Resource.callsites (a full stack per resource, for source positions)",
            test: (fn, url) => fn === "callsites" && url.includes("@pulumi/pulumi"),
        },
        { label: "garbage collector", test: (fn) => fn === "(garbage collector)" },
        { label: "microtasks (promise continuations: Output resolution)", test: (fn) => fn === "runMicrotasks" },
    ];
    const inc = groups.map(() => 0);
    let total = 0;
    const selfByName = new Map<string, number>();
    for (const [id, t] of selfById) {
        total += t;
        selfByName.set(name(id), (selfByName.get(name(id)) ?? 0) + t);
        const hit = groups.map(() => false);
        let cur: number | undefined = id;
        while (cur !== undefined) {
            const f = (byId.get(cur) as CpuProfile["nodes"][number]).callFrame;
            groups.forEach((g, i) => {
                if (!hit[i] && g.test(f.functionName, f.url)) {
                    hit[i] = true;
                }
            });
            cur = parent.get(cur);
        }
        hit.forEach((h, i) => {
            if (h) {
                inc[i] += t;
            }
        });
    }
    return {
        loader,
        totalMs: total / 1000,
        shares: groups.map((g, i) => ({ label: g.label, pct: (100 * inc[i]) / total })),
        topSelf: [...selfByName]
            .sort((a, b) => b[1] - a[1])
            .slice(0, 6)
            .map(([fn, t]) => ({ fn, pct: (100 * t) / total })),
    };
}

async function profileBench(): Promise<ProfileSummary[]> {
    const dir = path.join(WORK, "prof");
    fs.rmSync(dir, { recursive: true, force: true });
    fs.mkdirSync(dir, { recursive: true });
    if (!fs.existsSync(path.join(WORK, "js", "bench", "program.js"))) {
        await run(process.execPath, [require.resolve("typescript/bin/tsc"), "-p", "bench/tsconfig.compile.json"]);
    }
    const out: ProfileSummary[] = [];
    for (const loader of [TS_NODE, TSC]) {
        const file = `${loader.id}.cpuprofile`;
        log(`profile: ${loader.id}, generated 100 services, --cpu-prof → bench/.work/prof/${file}`);
        const r = await run(process.execPath, [
            "--cpu-prof",
            `--cpu-prof-dir=${dir}`,
            `--cpu-prof-name=${file}`,
            ...loader.argv(["generated", "100"]),
        ]);
        if (r.code !== 0) {
            throw new Error(`profiled run failed: ${r.stderr.slice(-500)}`);
        }
        out.push(summarizeProfile(path.join(dir, file), loader.id));
    }
    return out;
}

// ---------------------------------------------------------------------------------------------
// Part 4: gate latency

interface GateResult {
    bounds: ReturnType<typeof localBounds>;
    delayS: number;
    healthyDirect?: { runs: HealthyRun[]; latency: Stat };
    unhealthyDirect?: { runs: FailRun[]; fail: Stat };
    engine?: { healthy: EngineGateRun[]; unhealthy: { failMs: number; fromProbeStartMs?: number; message: string }[] };
    notMeasured: { figure: string; why: string }[];
}

async function gateBench(): Promise<GateResult> {
    const bounds = localBounds();
    const delayS = 3;
    const result: GateResult = { bounds, delayS, notMeasured: [] };
    log(`gate: the local stack's rollout.health ${JSON.stringify(bounds)}`);
    try {
        result.healthyDirect = await gateHealthyDirect(QUICK ? 2 : 6, delayS, bounds, 19892);
    } catch (e) {
        result.notMeasured.push({ figure: "gate (a), direct", why: String(e) });
    }
    let status: ReturnType<typeof ensureToolchain> | undefined;
    try {
        status = ensureToolchain();
        if (!status.plugins.command) {
            result.notMeasured.push({
                figure: "gate through the engine",
                why: `the command plugin is missing: ${status.missing?.command ?? "not installed"}`,
            });
            status = undefined;
        }
    } catch (e) {
        result.notMeasured.push({ figure: "gate through the engine", why: `scripts/toolchain.sh failed: ${String(e)}` });
    }
    if (status) {
        try {
            result.engine = await gateEngine(status, { healthyRuns: QUICK ? 1 : 3, delayS: 8, bounds, port: 19951, unhealthyRuns: 0 });
        } catch (e) {
            result.notMeasured.push({ figure: "gate (a) through the engine", why: String(e).slice(0, 600) });
        }
    }
    // (b): the degraded canaries wait out the configured timeout; the direct runs and the engine run
    // go at once (each probe sleeps between requests, so they barely share the CPU).
    log(
        `gate: degraded canaries against the configured timeout of ${bounds.timeoutSeconds}s (${QUICK ? 1 : 3} direct + 1 through the engine, concurrently)`,
    );
    const [direct, engine] = await Promise.allSettled([
        gateUnhealthyDirect(QUICK ? 1 : 3, bounds, 19900),
        status
            ? gateEngine(status, { healthyRuns: 0, delayS: 0, bounds, port: 19961, unhealthyRuns: 1 })
            : Promise.reject(new Error("no engine")),
    ]);
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

// ---------------------------------------------------------------------------------------------
// Part 5: unit suite

const UNIT_CMD = [
    "mocha",
    "--no-config",
    "-r",
    "ts-node/register/transpile-only",
    "--extension",
    "ts",
    "--timeout",
    "20000",
    "--reporter",
    "dot",
    "test/unit/**/*.test.ts",
];
const UNIT_SHOWN = `npx mocha --no-config -r ts-node/register/transpile-only --extension ts --timeout 20000 'test/unit/**/*.test.ts'`;

interface UnitResult {
    wallMs: Stat;
    rssKB: Stat;
    load: Stat;
    summaries: string[];
    /** One run with Error.stackTraceLimit back at Node's default 10 (bench/stack-limit.ts; mocha sets Infinity). */
    lever?: { wallMs: number; summary: string };
}

async function unitBench(): Promise<UnitResult> {
    const walls: number[] = [];
    const rss: number[] = [];
    const loads: number[] = [];
    const summaries: string[] = [];
    const runs = QUICK ? 1 : 3;
    for (let i = 0; i < runs; i++) {
        loads.push(load1());
        // GNU time reports the peak RSS of the largest process it waited for (mocha's node).
        const r = await run("/usr/bin/time", ["-f", "BENCH_MAXRSS_KB=%M", "npx", ...UNIT_CMD]);
        const out = r.stdout + r.stderr;
        const passing = /(\d+) passing/.exec(out)?.[1];
        const failing = /(\d+) failing/.exec(out)?.[1];
        const pending = /(\d+) pending/.exec(out)?.[1];
        const summary = `${passing ?? "?"} passing, ${failing ?? 0} failing, ${pending ?? 0} pending, exit ${r.code}`;
        summaries.push(summary);
        walls.push(r.wallMs);
        rss.push(Number(/BENCH_MAXRSS_KB=(\d+)/.exec(r.stderr)?.[1] ?? NaN));
        log(`unit: run ${i + 1}/${runs}: ${ms(r.wallMs)}, ${summary}, peak RSS ${mb(rss[i])} (load ${loads[i].toFixed(2)})`);
    }
    let lever: UnitResult["lever"];
    if (!QUICK) {
        const cmd = [...UNIT_CMD];
        cmd.splice(cmd.indexOf("ts-node/register/transpile-only") + 1, 0, "-r", "./bench/stack-limit.ts");
        const r = await run("npx", cmd);
        const out = r.stdout + r.stderr;
        lever = {
            wallMs: r.wallMs,
            summary: `${/(\d+) passing/.exec(out)?.[1] ?? "?"} passing, ${/(\d+) failing/.exec(out)?.[1] ?? 0} failing, exit ${r.code}`,
        };
        log(`unit: one run with Error.stackTraceLimit = 10 (bench/stack-limit.ts): ${ms(r.wallMs)}, ${lever.summary}`);
    }
    return { wallMs: stat(walls), rssKB: stat(rss.filter((v) => Number.isFinite(v))), load: stat(loads), summaries, lever };
}

// ---------------------------------------------------------------------------------------------
// Report

function cell(s: Stat | undefined, f: (v: number) => string): string {
    if (!s) {
        return "–";
    }
    return s.n === 1 ? `${f(s.median)} (1 run)` : `${f(s.median)} (${f(s.min)} – ${f(s.max)})`;
}

function x(v: number): string {
    return `${v.toFixed(2)}×`;
}

interface All {
    /** `git rev-parse --short HEAD` when the run started and ended (others commit in parallel). */
    commits?: { start: string; end?: string };
    startedAt: Date;
    finishedAt?: Date;
    program?: ProgramResult;
    profiles?: ProfileSummary[];
    engine?: EngineResult;
    gate?: GateResult;
    unit?: UnitResult;
    errors: { part: string; why: string }[];
}

/** The headline figures, computed from this run. */
function summarySection(all: All, lines: string[]): void {
    const out: string[] = [];
    const find = (l: string, w: string) => all.program?.measured.find((m) => m.loader === l && m.workload === w);
    const [t10, t100, t1000] = ["gen10", "gen100", "gen1000"].map((w) => find("ts-node", w));
    const [c10, , c1000] = ["gen10", "gen100", "gen1000"].map((w) => find("tsc", w));
    if (t10 && t1000 && c10 && c1000) {
        const perT = (t1000.evalMs.median - t10.evalMs.median) / 990;
        const perC = (c1000.evalMs.median - c10.evalMs.median) / 990;
        const memT = (t1000.rssKB.median - t10.rssKB.median) / 1024 / 990;
        out.push(
            `**Largest cost: evaluating the program grows by ~${perT.toFixed(0)} ms and ~${memT.toFixed(1)} MB per service under ts-node** (10 → 1000 services; ~${perC.toFixed(0)} ms compiled with tsc), ` +
                `about ${(t1000.resources / 1000).toFixed(1)} resources per service; mainpc's 44 services take ${ms(find("ts-node", "mainpc")?.evalMs.median ?? NaN)} and ${mb(find("ts-node", "mainpc")?.rssKB.median ?? NaN)} peak.`,
        );
    }
    const pt = all.profiles?.find((p) => p.loader === "ts-node");
    const pc = all.profiles?.find((p) => p.loader === "tsc");
    if (pt && pc) {
        out.push(
            `Where it goes: formatting the stack traces Pulumi captures (\`new Error().stack\` in debuggablePromise, 4 promises per output property of every resource) is ${pt.shares[0].pct.toFixed(0)}% of the CPU under ts-node ` +
                `(source-map-support maps every frame) and ${pc.shares[0].pct.toFixed(0)}% compiled; garbage collection ${pt.shares[3].pct.toFixed(0)}%.`,
        );
    }
    const s100 = find("tsc+sms", "gen100");
    const l100 = find("ts-node+stl1", "gen100");
    const c100 = find("tsc", "gen100");
    if (t100 && c100) {
        out.push(
            `What shrinks it: compiling with tsc and running without source-map-support: ${ms(t100.evalMs.median)} → ${ms(c100.evalMs.median)} at 100 services` +
                (s100
                    ? `, but \`pulumi up\`'s language host preloads source-map-support/register, and with it the compiled program takes ${ms(s100.evalMs.median)}: compiling alone would buy little under the engine`
                    : "") +
                (l100
                    ? `. V8's \`--stack-trace-limit=1\` (NODE_OPTIONS) cuts what every capture formats: ${ms(t100.evalMs.median)} → ${ms(l100.evalMs.median)} under ts-node`
                    : "") +
                (all.engine?.lever
                    ? `, and a real-engine preview of 100 services ${ms(all.engine.lever.defaultMs.median)} → ${ms(all.engine.lever.limitedMs.median)}`
                    : "") +
                ". The trade-off: error stacks of one frame. The lasting fix is upstream (capture the stack lazily, or only with PULUMI_DEBUG_PROMISE_LEAKS).",
        );
    }
    if (all.unit?.lever) {
        out.push(
            `The unit suite takes ${ms(all.unit.wallMs.median)}; mocha sets \`Error.stackTraceLimit = Infinity\`, so every capture is a full stack: putting it back to 10 (one line in the harness) ran it in ${ms(all.unit.lever.wallMs)}.`,
        );
    }
    const e = all.engine;
    if (e?.fleetPreview && e.emptyPreview && e.noopRuns) {
        const rebuilds = Math.max(...e.noopRuns.map((r) => r.steps.filter((st) => st.type === IMAGE_TYPE && st.op !== "same").length));
        out.push(
            `Engine no-op: \`pulumi preview\` of the unchanged build-only local stack ${ms(e.fleetPreview.median)} vs ${ms(e.emptyPreview.median)} for an empty program (${x(e.ratio?.median ?? NaN)}); images it would rebuild: ${rebuilds}.`,
        );
    }
    if (e?.touches?.length) {
        const kinds = [...new Set(e.touches.map((t) => t.what))];
        out.push(
            "Blast radius (up after the touch): " +
                kinds
                    .map((k) => {
                        const t = e.touches?.find((v) => v.what === k) as NonNullable<EngineResult["touches"]>[number];
                        return `${k.split(" (")[0]}: ${t.rebuilt.length} image(s) rebuilt, ${t.newDigests.length} new digest(s), ${t.changed} resource(s) changed`;
                    })
                    .join("; ") +
                ".",
        );
        if (e.touches.some((t) => t.previewError)) {
            const failed = stat(e.touches.filter((t) => t.previewError).map((t) => t.previewWallMs));
            out.push(
                '**Defect found: `pulumi preview` after a touch fails** (the up works): docker-build reports digest "" for an image it would rebuild, and `pinnedRef()` (components/buildSpec.ts) throws on it; ' +
                    `the failing preview takes ${ms(failed.median)} (${failed.n} runs), against ${ms(e.fleetPreview?.median ?? NaN)} for a no-op one.`,
            );
        }
    }
    const g = all.gate;
    if (g?.healthyDirect) {
        const valid = g.engine?.healthy.filter((r) => r.valid) ?? [];
        out.push(
            `Gate: a canary that turns healthy opens the gate after the next poll: ${ms(g.healthyDirect.latency.median)} median (${ms(g.healthyDirect.latency.min)} – ${ms(g.healthyDirect.latency.max)}) with the local interval of ${g.bounds.intervalSeconds} s` +
                (valid.length
                    ? `; through the engine the gated resource runs ${ms(stat(valid.map((r) => r.toGatedMs as number)).median)} after healthy`
                    : "") +
                (g.unhealthyDirect
                    ? `. A degraded canary fails after ${ms(g.unhealthyDirect.fail.median)} against the configured ${g.bounds.timeoutSeconds} s (${/gave up after (\d+) attempt/.exec(g.unhealthyDirect.runs[0]?.lastLine ?? "")?.[1] ?? "?"} attempts)`
                    : "") +
                (g.engine?.unhealthy[0] ? `, \`pulumi up\` after ${ms(g.engine.unhealthy[0].failMs)}.` : "."),
        );
    }
    if (out.length) {
        lines.push("## Summary", "", ...out.map((o) => `- ${o}`), "");
    }
}

function programSection(p: ProgramResult, lines: string[]): void {
    const find = (l: string, w: string) => p.measured.find((m) => m.loader === l && m.workload === w);
    lines.push("## 1. Program cost under mocks (no engine)", "");
    lines.push(
        "`deploy()` evaluated under `pulumi.runtime.setMocks` (the answers test/unit/harness.ts gives), every exported Output awaited and every",
        "outstanding registration drained (`waitForRPCs`). One child process per run; **evaluation** = from the modules loaded to the whole graph",
        "resolved (config parse + `deploy()` + outputs), **process** = spawn to exit as the parent sees it, **peak RSS** = the child's",
        "`process.resourceUsage().maxRSS`, **CPU** = its user + system time. × empty = against the empty program under the same loader and mocks.",
        `Generated fleets: mainpc's families, registry and rollout settings with N services (\`Svc0000…\`, spread over the 9 families, 3 canaries).`,
        `The tsc build (\`bench/tsconfig.compile.json\`, no source maps) took ${ms(p.compileMs)} and is not counted.`,
        "",
        "| loader | workload | services | resources | runs | evaluation | process | × empty | peak RSS | × empty | CPU | reproduce |",
        "|---|---|---:|---:|---:|---|---|---:|---|---:|---|---|",
    );
    for (const m of p.measured) {
        const w = WORKLOADS.find((v) => v.id === m.workload) as Workload;
        const e = find(m.loader, "empty");
        const ratioWall = e && m.workload !== "empty" ? x(m.wallMs.median / e.wallMs.median) : "";
        const ratioRss = e && m.workload !== "empty" ? x(m.rssKB.median / e.rssKB.median) : "";
        lines.push(
            `| ${m.loader} | ${w.label} | ${m.services} | ${m.resources} | ${m.runs} | ${cell(m.evalMs, ms)} | ${cell(m.wallMs, ms)} | ${ratioWall} | ${cell(m.rssKB, mb)} | ${ratioRss} | ${cell(m.cpuMs, ms)} | \`${m.command}\` |`,
        );
    }
    lines.push("", "Loaders: " + [TS_NODE, TSC, TSC_SMS, TS_NODE_STL1].map((l) => `**${l.id}** = ${l.label}`).join("; ") + ".", "");
    if (p.measured.some((m) => m.workload === "gen1000")) {
        lines.push(
            `The 1000-service fleet runs ${runsFor(TS_NODE, WORKLOADS[5])}× under ts-node and ${runsFor(TSC, WORKLOADS[5])}× compiled (minutes per run), the 100-service fleet 3×, the rest 5×.`,
            "",
        );
    }
    // Growth with the number of services.
    lines.push("### Growth with the number of services", "");
    lines.push(
        "Least-squares line through the medians of the generated fleets (10, 100, 1000 services): cost = intercept + slope × services.",
        "",
    );
    lines.push(
        "| loader | evaluation per service | intercept | R² | peak RSS per service | intercept | R² | per-service evaluation 10→100 vs 100→1000 |",
        "|---|---|---|---:|---|---|---:|---|",
    );
    for (const loader of [TS_NODE, TSC]) {
        const pts = ["gen10", "gen100", "gen1000"].map((w) => find(loader.id, w)).filter((m): m is Measured => !!m);
        if (pts.length < 2) {
            continue;
        }
        const fe = fit(pts.map((m) => [m.services, m.evalMs.median]));
        const fr = fit(pts.map((m) => [m.services, m.rssKB.median / 1024]));
        const seg = (a: Measured | undefined, b: Measured | undefined) =>
            a && b ? (b.evalMs.median - a.evalMs.median) / (b.services - a.services) : NaN;
        const s1 = seg(find(loader.id, "gen10"), find(loader.id, "gen100"));
        const s2 = seg(find(loader.id, "gen100"), find(loader.id, "gen1000"));
        lines.push(
            `| ${loader.id} | ${fe.slope.toFixed(1)} ms | ${ms(fe.intercept)} | ${fe.r2.toFixed(4)} | ${fr.slope.toFixed(2)} MB | ${fr.intercept.toFixed(0)} MB | ${fr.r2.toFixed(4)} | ${Number.isFinite(s1) ? s1.toFixed(1) : "–"} ms vs ${Number.isFinite(s2) ? s2.toFixed(1) : "–"} ms |`,
        );
    }
    const growth: string[] = [];
    let minR2 = 1;
    for (const loader of [TS_NODE, TSC]) {
        const [a, b, c] = ["gen10", "gen100", "gen1000"].map((w) => find(loader.id, w));
        if (a && b && c) {
            const s1 = (b.evalMs.median - a.evalMs.median) / 90;
            const s2 = (c.evalMs.median - b.evalMs.median) / 900;
            const r1 = (b.rssKB.median - a.rssKB.median) / 1024 / 90;
            const r2 = (c.rssKB.median - b.rssKB.median) / 1024 / 900;
            minR2 = Math.min(
                minR2,
                fit([a, b, c].map((m) => [m.services, m.evalMs.median])).r2,
                fit([a, b, c].map((m) => [m.services, m.rssKB.median])).r2,
            );
            growth.push(
                `${loader.id}: ${s1.toFixed(0)} ms and ${r1.toFixed(1)} MB per added service from 10 to 100 services, ${s2.toFixed(0)} ms and ${r2.toFixed(1)} MB from 100 to 1000 ` +
                    (s2 / s1 > 1.1
                        ? `(${x(s2 / s1)} the time per service at the top, where the heap holds ${mb(c.rssKB.median)}: more collector work is the likely cause)`
                        : `(${x(s2 / s1)}: no steeper at the top)`),
            );
        }
    }
    if (growth.length) {
        lines.push(
            "",
            `Cost grows linearly with the number of services (R² ≥ ${minR2.toFixed(4)} for time and memory). Marginal cost per service: ${growth.join("; ")}.`,
        );
    }
    const t = find("ts-node", "gen100");
    const c = find("tsc", "gen100");
    const s = find("tsc+sms", "gen100");
    const l = find("ts-node+stl1", "gen100");
    if (t && c) {
        lines.push(
            "",
            `At 100 services, compiling with tsc and running without source-map-support takes the evaluation from ${ms(t.evalMs.median)} to ${ms(c.evalMs.median)} ` +
                `(${x(t.evalMs.median / c.evalMs.median)} faster), CPU from ${ms(t.cpuMs.median)} to ${ms(c.cpuMs.median)}, peak RSS from ${mb(t.rssKB.median)} to ${mb(c.rssKB.median)}` +
                (s
                    ? `; the same JS with source-map-support/register preloaded, as \`pulumi up\`'s Node.js language host does (@pulumi/pulumi/cmd/run/index.js), evaluates in ${ms(s.evalMs.median)}`
                    : "") +
                (l
                    ? `; ts-node with --stack-trace-limit=1 evaluates in ${ms(l.evalMs.median)} (CPU ${ms(l.cpuMs.median)}, peak RSS ${mb(l.rssKB.median)}).`
                    : "."),
        );
    }
    lines.push("");
}

function profileSection(profiles: ProfileSummary[], lines: string[]): void {
    lines.push("### Where the time goes (CPU profile, 100 generated services)", "");
    lines.push(
        "One `node --cpu-prof` run per loader (`bench/.work/prof/*.cpuprofile`, open in Chrome DevTools). Shares are inclusive (a frame and what it calls), so they overlap.",
        "",
    );
    lines.push(
        `| share of CPU | ${profiles.map((p) => `${p.loader} (${ms(p.totalMs)} profiled)`).join(" | ")} |`,
        `|---|${profiles.map(() => "---:").join("|")}|`,
    );
    profiles[0].shares.forEach((s, i) =>
        lines.push(`| ${s.label} | ${profiles.map((p) => `${p.shares[i].pct.toFixed(1)}%`).join(" | ")} |`),
    );
    lines.push("");
    for (const p of profiles) {
        lines.push(`Top self time, ${p.loader}: ${p.topSelf.map((f) => `\`${f.fn}\` ${f.pct.toFixed(1)}%`).join(", ")}.`, "");
    }
}

function engineSection(e: EngineResult, lines: string[]): void {
    lines.push("## 2. Engine no-op: `pulumi preview` of an unchanged build-only local stack", "");
    if (!e.fleetPreview || !e.emptyPreview || !e.ratio || !e.noopRuns) {
        lines.push("Not measured: " + e.notMeasured.map((n) => n.why).join("; "), "");
        return;
    }
    const rebuilds = e.noopRuns.map((r) => r.steps.filter((s) => s.type === IMAGE_TYPE && s.op !== "same").length);
    const changes = e.noopRuns.map((r) =>
        Object.entries(r.changeSummary)
            .filter(([op]) => op !== "same")
            .reduce((n, [, v]) => n + v, 0),
    );
    const errors = e.noopRuns.filter((r) => r.error).length;
    lines.push(
        `The build-only local stack (Pulumi.local.yaml, phase build, builder \`ai-fleet\`, contexts from a copy of demo/, FORCE_IMAGE_TAG=bench-engine) after one \`up\` ` +
            `(${ms(e.firstUpMs ?? NaN)}, ${e.resources} resources), and an empty TypeScript program (bench/programs/empty) on the same CLI, plugins and file backend, ` +
            `previewed alternately with \`pulumi preview --json\`. pulumi ${e.status.pulumiVersion}, plugins ${JSON.stringify(e.status.plugins)}.`,
        "",
        "| figure | median | min | max | runs | reproduce |",
        "|---|---|---|---|---:|---|",
        `| preview, unchanged build-only local stack | ${ms(e.fleetPreview.median)} | ${ms(e.fleetPreview.min)} | ${ms(e.fleetPreview.max)} | ${e.fleetPreview.n} | \`npm run bench -- --only engine\` |`,
        `| preview, empty program | ${ms(e.emptyPreview.median)} | ${ms(e.emptyPreview.min)} | ${ms(e.emptyPreview.max)} | ${e.emptyPreview.n} | 〃 |`,
        `| ratio fleet / empty (per pair) | ${x(e.ratio.median)} | ${x(e.ratio.min)} | ${x(e.ratio.max)} | ${e.ratio.n} | 〃 |`,
        `| images the no-op would rebuild (target 0) | ${stat(rebuilds).median} | ${stat(rebuilds).min} | ${stat(rebuilds).max} | ${rebuilds.length} | 〃 |`,
        `| resources the no-op would change (changeSummary, all but same) | ${stat(changes).median} | ${stat(changes).min} | ${stat(changes).max} | ${changes.length} | 〃 |`,
        "",
        `changeSummary of the no-op previews: ${[...new Set(e.noopRuns.map((r) => JSON.stringify(r.changeSummary)))].join(", ")}${errors ? `; ${errors} preview(s) FAILED` : ""}.`,
        "",
    );
    if (e.lever) {
        const l = e.lever;
        lines.push(
            "**Part 1's lever under the real engine**: `pulumi preview` of a never-deployed build-only stack of 100 generated services " +
                `(local families; each service built from demo's system_digital_twin context; ${l.resources} resources planned), alternately without and with ` +
                "`NODE_OPTIONS=--stack-trace-limit=1`, which the Node.js language host inherits.",
            "",
            "| figure | median | min | max | runs | reproduce |",
            "|---|---|---|---|---:|---|",
            `| preview, fresh 100-service build-only stack | ${ms(l.defaultMs.median)} | ${ms(l.defaultMs.min)} | ${ms(l.defaultMs.max)} | ${l.defaultMs.n} | \`npm run bench -- --only engine\` |`,
            `| the same with NODE_OPTIONS=--stack-trace-limit=1 | ${ms(l.limitedMs.median)} | ${ms(l.limitedMs.min)} | ${ms(l.limitedMs.max)} | ${l.limitedMs.n} | 〃 |`,
            "",
            l.errors.length ? `Preview errors: ${[...new Set(l.errors)].join("; ")}` : "Both previews succeed (exit 0).",
            "",
        );
    }
}

function blastSection(e: EngineResult, lines: string[]): void {
    lines.push("## 3. Blast radius: what one touch rebuilds and changes", "");
    if (!e.touches || e.touches.length === 0) {
        lines.push("Not measured: " + (e.notMeasured.map((n) => n.why).join("; ") || "the engine part did not get this far"), "");
        return;
    }
    lines.push(
        "Same stack, after the no-op previews. Each touch is followed by `pulumi preview --json` (first repeat only) and an `up`; images rebuilt and",
        "resources changed come from the up's per-resource steps (one per resource; a replacement counts once), new digests from its `images` output.",
        "Each repeat appends new content, so each is a real change.",
        "",
        "| touch | runs | images rebuilt by up | new image digests | resources changed by up | up's changes by op | up wall | preview after the touch |",
        "|---|---:|---|---|---|---|---|---|",
    );
    const kinds = [...new Set(e.touches.map((t) => t.what))];
    for (const k of kinds) {
        const ts = e.touches.filter((t) => t.what === k);
        const first = ts[0];
        const rb = stat(ts.map((t) => t.rebuilt.length));
        const nd = stat(ts.map((t) => t.newDigests.length));
        const ch = stat(ts.map((t) => t.changed));
        const up = stat(ts.map((t) => t.upWallMs));
        const range = (s: Stat) => (s.min === s.max ? `${s.median}` : `${s.median} (${s.min} – ${s.max})`);
        const previewed = ts.find((t) => t.previewWallMs > 0);
        const preview = previewed
            ? previewed.previewError
                ? `**failed** after ${ms(previewed.previewWallMs)}; planned image builds: ${previewed.previewImages.length} [${previewed.previewImages.join(", ")}]`
                : `${ms(previewed.previewWallMs)}, plans ${previewed.previewImages.length} image build(s) [${previewed.previewImages.join(", ")}], ${JSON.stringify(previewed.previewChanges)}`
            : "not run (one preview per kind of touch)";
        lines.push(
            `| ${k} | ${ts.length} | ${range(rb)} [${first.rebuilt.join(", ")}] | ${range(nd)} [${first.newDigests.join(", ")}] | ${range(ch)} | ${JSON.stringify(first.resourceChanges)} | ${cell(up, ms)} | ${preview} |`,
        );
    }
    lines.push("", "Resources the first up of each touch changed:", "");
    for (const k of kinds) {
        const t = e.touches.find((v) => v.what === k) as NonNullable<EngineResult["touches"]>[number];
        lines.push(`- ${k.split(" (")[0]}: ${t.changedResources.map((r) => `\`${r}\``).join(", ") || "none"}`);
    }
    for (const k of kinds) {
        const t = e.touches.find((v) => v.what === k && v.previewWallMs > 0);
        if (t && !t.previewError && t.previewImages.length !== t.rebuilt.length) {
            lines.push(
                "",
                `The preview plans what may change, not what will: after "${k.split(" (")[0]}" it plans ${t.previewImages.length} image build(s) [${t.previewImages.join(", ")}], ` +
                    `the up rebuilds ${t.rebuilt.length} [${t.rebuilt.join(", ")}] and ${t.newDigests.length} digest(s) change (a parent's digest is unknown until it is rebuilt).`,
            );
        }
    }
    const failed = e.touches.find((t) => t.previewError);
    if (failed) {
        lines.push(
            "",
            `**The preview after a touch fails** (the ups succeed): \`${failed.previewError?.split("\n").slice(0, 2).join(" ").slice(0, 400)}\`.`,
        );
    }
    lines.push("", "Reproduce: `npm run bench -- --only engine`.", "");
}

function gateSection(g: GateResult, lines: string[]): void {
    lines.push("## 4. Gate latency", "");
    const b = g.bounds;
    lines.push(
        `Bounds: the local stack's \`rollout.health\`: interval ${b.intervalSeconds} s, timeout ${b.timeoutSeconds} s, retries ${b.retries}, request timeout ${b.requestTimeoutSeconds} s. ` +
            "Service: demo SystemDigitalTwin as a plain process on loopback. The healthy moment is read off the service (its reported uptime), to about a millisecond. " +
            "Direct = the exact `healthCheckCommand()` (`node probes/health-probe.js` + its environment) spawned with /bin/sh as the command provider does; " +
            "engine = `pulumi up` of test/integration/programs/gate (the real HealthCheck + a `date +%s%3N` command gated on it).",
        "",
        "| figure | median | min | max | runs | reproduce |",
        "|---|---|---|---|---:|---|",
    );
    const row = (label: string, s: Stat | undefined, f: (v: number) => string, runs?: number) =>
        s
            ? lines.push(`| ${label} | ${f(s.median)} | ${f(s.min)} | ${f(s.max)} | ${runs ?? s.n} | \`npm run bench -- --only gate\` |`)
            : undefined;
    if (g.healthyDirect) {
        row(
            `(a) healthy (after DEMO_START_DELAY_S=${g.delayS}) → probe exits 0, direct; probe started at ${g.healthyDirect.runs.length} evenly spread phases of the interval`,
            g.healthyDirect.latency,
            ms,
        );
    }
    const valid = g.engine?.healthy.filter((r) => r.valid) ?? [];
    if (valid.length > 0) {
        row(
            "(a) healthy → the probe resource's outputs reach the Automation API, engine",
            stat(valid.map((r) => r.toProbeOutputsMs as number)),
            ms,
        );
        row("(a) healthy → the gated resource runs (its own clock), engine", stat(valid.map((r) => r.toGatedMs as number)), ms);
        row("(a) healthy → `pulumi up` returns, engine", stat(valid.map((r) => r.toUpDoneMs as number)), ms);
    }
    if (g.unhealthyDirect) {
        row(
            `(b) degraded canary: service start → probe fails, direct (configured timeout ${b.timeoutSeconds} s)`,
            g.unhealthyDirect.fail,
            ms,
        );
    }
    const eu = g.engine?.unhealthy ?? [];
    if (eu.length > 0) {
        row(
            `(b) degraded canary: service start → \`pulumi up\` fails, engine (configured timeout ${b.timeoutSeconds} s)`,
            stat(eu.map((r) => r.failMs)),
            ms,
        );
        const fromProbe = eu.filter((r) => r.fromProbeStartMs !== undefined).map((r) => r.fromProbeStartMs as number);
        if (fromProbe.length) {
            row("(b) probe resource starts → `pulumi up` fails, engine", stat(fromProbe), ms);
        }
    }
    lines.push("");
    if (g.healthyDirect) {
        lines.push(
            `Direct (a) per run (probe start phase → latency): ${g.healthyDirect.runs.map((r) => `${r.offsetMs.toFixed(0)} ms → ${r.latencyMs.toFixed(0)} ms`).join(", ")}.`,
        );
    }
    if (g.engine?.healthy.length) {
        lines.push(
            `Engine (a) runs (DEMO_START_DELAY_S=8; the probe must start before the service turns healthy): ${g.engine.healthy
                .map((r) =>
                    r.error
                        ? `failed: ${r.error.slice(0, 120)}`
                        : `probe started ${r.probeStartMs?.toFixed(0)} ms, ${r.valid ? "counted" : "NOT counted"}`,
                )
                .join("; ")}.`,
        );
    }
    if (g.unhealthyDirect) {
        lines.push(
            `The degraded runs ran concurrently (${g.unhealthyDirect.runs.length} direct + ${eu.length} engine), each on its own ports. Failure message (direct): \`${g.unhealthyDirect.runs[0]?.lastLine.replace(/last body ".*?"; /, 'last body "…"; ').slice(0, 300)}\``,
        );
    }
    if (eu[0]) {
        lines.push(`Failure message (engine): \`${eu[0].message.replace(/last body ".*?"; /, 'last body "…"; ').slice(0, 300)}\``);
    }
    lines.push("");
}

function unitSection(u: UnitResult, lines: string[]): void {
    lines.push("## 5. Unit suite", "");
    lines.push(
        "| figure | median | min | max | runs | reproduce |",
        "|---|---|---|---|---:|---|",
        `| wall time, test/unit only | ${ms(u.wallMs.median)} | ${ms(u.wallMs.min)} | ${ms(u.wallMs.max)} | ${u.wallMs.n} | \`${UNIT_SHOWN}\` |`,
        `| peak RSS | ${mb(u.rssKB.median)} | ${mb(u.rssKB.min)} | ${mb(u.rssKB.max)} | ${u.rssKB.n} | 〃 |`,
        ...(u.lever
            ? [
                  `| lever: wall time with Error.stackTraceLimit = 10 instead of mocha's Infinity (${u.lever.summary}) | ${ms(u.lever.wallMs)} | | | 1 | \`${UNIT_SHOWN.replace("transpile-only", "transpile-only -r ./bench/stack-limit.ts")}\` |`,
              ]
            : []),
        "",
        `Runs: ${u.summaries.join("; ")}. ` +
            "`--no-config` matters: `npx mocha 'test/unit/**/*.test.ts'` (and `npm run test:unit`) also runs test/integration, because mocha adds .mocharc.json's `spec` to the files given on the command line. " +
            "Mocha's CLI sets `Error.stackTraceLimit = Infinity` (node_modules/mocha/lib/cli/cli.js), so under mocha every stack Pulumi captures per promise is a full one; " +
            "the lever row puts it back to Node's default of 10 after mocha has started (bench/stack-limit.ts, a `--require`).",
        "",
    );
}

function writeReport(all: All): string {
    const m = machine();
    const lines: string[] = [];
    lines.push("# Bench results", "");
    lines.push(
        `Written by \`npm run bench\` (bench/run.ts). Date: ${all.startedAt.toISOString().slice(0, 16).replace("T", " ")} UTC` +
            (all.finishedAt ? `, ${((all.finishedAt.getTime() - all.startedAt.getTime()) / 60000).toFixed(1)} min in all` : "") +
            `. Machine: ${m.cores} cores (${m.cpuModel}), ${m.memoryGiB.toFixed(1)} GiB memory, ${m.os}, Node.js ${m.node}.`,
        "",
        ...(all.commits
            ? [
                  `Repository at commit ${all.commits.start} when the run started` +
                      (all.commits.end && all.commits.end !== all.commits.start
                          ? `, ${all.commits.end} when it ended (others commit in parallel).`
                          : " and when it ended."),
                  "",
              ]
            : []),
        "Each figure: median (min – max) of the runs shown. Nothing is asserted: these are measurements. Other work on the machine",
        `moves wall times; the 1-minute load average at the start of the measurements ranged ${loadRange(all)}. CPU time is less sensitive to that than wall time.`,
        "",
    );
    summarySection(all, lines);
    if (all.program) {
        programSection(all.program, lines);
    }
    if (all.profiles?.length) {
        profileSection(all.profiles, lines);
    }
    if (all.engine) {
        engineSection(all.engine, lines);
        blastSection(all.engine, lines);
    }
    if (all.gate) {
        gateSection(all.gate, lines);
    }
    if (all.unit) {
        unitSection(all.unit, lines);
    }
    const nm = [
        ...(all.program?.notMeasured ?? []),
        ...(all.engine?.notMeasured ?? []),
        ...(all.gate?.notMeasured ?? []),
        ...all.errors.map((e) => ({ figure: e.part, why: e.why })),
    ];
    lines.push("## Not measured", "");
    if (nm.length === 0) {
        lines.push("Everything above was measured in this run.");
    }
    for (const n of nm) {
        lines.push(`- ${n.figure}: not measured: ${n.why.replace(/\s+/g, " ").slice(0, 700)}`);
    }
    for (const p of PARTS) {
        if (!only.has(p)) {
            lines.push(`- part "${p}": not run (--only)`);
        }
    }
    lines.push("");
    return lines.join("\n");
}

const loads: number[] = [];
function loadRange(all: All): string {
    const ls = [...loads, ...(all.program?.measured.flatMap((m) => m.load.values) ?? []), ...(all.unit?.load.values ?? [])];
    return ls.length ? `${Math.min(...ls).toFixed(2)} – ${Math.max(...ls).toFixed(2)} on ${machine().cores} cores` : "unknown";
}

async function main(): Promise<void> {
    fs.mkdirSync(WORK, { recursive: true });
    if (args.includes("--report-only")) {
        // Re-render the last run's raw figures (bench/.work/results.json) without measuring.
        const all = JSON.parse(fs.readFileSync(path.join(WORK, "results.json"), "utf8")) as All;
        all.startedAt = new Date(all.startedAt);
        all.finishedAt = all.finishedAt ? new Date(all.finishedAt) : undefined;
        const file = path.join(WORK, "RESULTS.rerender.md");
        fs.writeFileSync(file, writeReport(all));
        log(`bench: re-rendered ${path.relative(ROOT, file)} from bench/.work/results.json`);
        return;
    }
    const head = async () => (await run("git", ["rev-parse", "--short", "HEAD"])).stdout.trim();
    const all: All = { startedAt: new Date(), errors: [], commits: { start: await head() } };
    const m = machine();
    log(
        `bench: ${m.cores} cores, ${m.memoryGiB.toFixed(1)} GiB, Node.js ${m.node}; parts: ${[...only].join(", ")}${QUICK ? " (quick)" : ""}`,
    );
    const save = () => fs.writeFileSync(path.join(WORK, "results.json"), JSON.stringify(all, null, 1));
    const part = async <T>(name: Part, fn: () => Promise<T>, set: (v: T) => void) => {
        if (!only.has(name)) {
            return;
        }
        loads.push(await quiet(2, 60));
        const t0 = Date.now();
        log(`=== part ${name}`);
        try {
            set(await fn());
        } catch (e) {
            all.errors.push({ part: name, why: e instanceof Error ? e.message : String(e) });
            log(`part ${name} FAILED: ${String(e).slice(0, 800)}`);
        }
        log(`=== part ${name} done in ${((Date.now() - t0) / 1000).toFixed(0)}s`);
        save();
    };
    await part("unit", unitBench, (v) => (all.unit = v));
    await part("program", programBench, (v) => (all.program = v));
    await part("profile", profileBench, (v) => (all.profiles = v));
    await part("gate", gateBench, (v) => (all.gate = v));
    await part(
        "engine",
        () => engineBench({ previews: QUICK ? 1 : 5, touchRepeats: QUICK ? 1 : 2, leverRuns: QUICK ? 1 : 3 }),
        (v) => (all.engine = v),
    );
    all.finishedAt = new Date();
    (all.commits as { end?: string }).end = await head();
    save();
    const file = FULL ? path.join(ROOT, "bench", "RESULTS.md") : path.join(WORK, "RESULTS.partial.md");
    fs.writeFileSync(file, writeReport(all));
    log(`bench: wrote ${path.relative(ROOT, file)} in ${((all.finishedAt.getTime() - all.startedAt.getTime()) / 60000).toFixed(1)} min`);
}

main().catch((e) => {
    process.stderr.write(`bench failed: ${e instanceof Error ? e.stack : String(e)}\n`);
    process.exit(1);
});
