/**
 * Part "program": the program's evaluation under the shared mocks, no engine. One child process per
 * run (bench/program.ts under bench/host.js, the language host's loader), so every run has its own
 * peak RSS. Workloads: the empty program, mainpc and pc2, and generated fleets of 10, 100 and 1000
 * services; mainpc also with AI_FLEET_PROMISE_STACKS=full (leanPromiseStacks() off). Issue 19's:
 * index.ts itself on the operator's tree (testkit/operatorRepo.ts, adopted, committed) beside the
 * empty program; the floor (N × bare Container + Image + Command) beside N generated services; and
 * N × each resource type alone, the price list the fleet's cost is explained with. Pairs that are
 * compared run alternately, so drift in the machine's load hits both alike.
 */
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { readStackDocument } from "../stackFile";
import { writeOperatorRepo } from "../testkit/operatorRepo";
import { PRICED } from "./cost";
import { load1, log, mb, ms, ROOT, run, Stat, stat } from "./lib";

/** What bench/program.ts prints (BENCH_RESULT). */
export interface ChildResult {
    services: number;
    resources: number;
    lean: boolean;
    bootMs: number;
    loadMs: number;
    parsedMs?: number;
    registeredMs?: number;
    doneMs: number;
    /** The child's CPU time (user + system) during the evaluation. */
    evalCpuMs?: number;
    /** Registrations per resource type (components included). */
    resourcesByType?: Record<string, number>;
    maxRssKB: number;
    userCpuMs: number;
    systemCpuMs: number;
    memory: Record<string, number | Record<string, number>>;
    loader: { sourceMapSupport: boolean; tsNode: boolean; tsconfig: string; transpileOnlyEnv?: string };
}

export interface Workload {
    id: string;
    label: string;
    argv: string[];
    services?: number;
    /** The argv as the report shows it (a temp path replaced by what it is). */
    shown?: string[];
}

/** The floor's workload at n services. */
export function floorWorkload(n: number): Workload {
    return {
        id: `floor${n}`,
        label: n === 0 ? "floor's packages loaded, no resource" : `floor: ${n} × (docker.Container + docker-build Image + Command)`,
        argv: ["floor", String(n)],
        services: n,
    };
}

/** One resource type alone, n times. */
export function typeWorkload(kind: string, n: number): Workload {
    const p = PRICED.find((x) => x.kind === kind) as (typeof PRICED)[number];
    return { id: `type-${kind}-${n}`, label: `${n} × ${p.label} alone`, argv: ["type", kind, String(n)], services: 0 };
}

/** index.ts with a stack file's config on the operator's tree. */
export function operatorWorkload(stack: string, tree: string): Workload {
    return {
        id: `operator-${stack}`,
        label: `index.ts, Pulumi.${stack}.yaml on the operator's tree (adopted, committed)`,
        argv: ["operator", stack, tree],
        shown: ["operator", stack, "<tree>"],
    };
}

export const WORKLOADS: Workload[] = [
    { id: "empty", label: "empty program (same loader and mocks, no resource)", argv: ["empty"] },
    { id: "mainpc", label: "Pulumi.mainpc.yaml", argv: ["stack", "mainpc"] },
    { id: "pc2", label: "Pulumi.pc2.yaml", argv: ["stack", "pc2"] },
    { id: "gen10", label: "generated, 10 services", argv: ["generated", "10"], services: 10 },
    { id: "gen100", label: "generated, 100 services", argv: ["generated", "100"], services: 100 },
    { id: "gen1000", label: "generated, 1000 services", argv: ["generated", "1000"], services: 1000 },
];

export type Variant = "lean" | "full";

/**
 * What the language host hands a TypeScript program of this project: PULUMI_NODEJS_TSCONFIG_PATH from
 * Pulumi.yaml's runtime.options.tsconfig (when set; its noCheck makes ts-node transpile only), else
 * PULUMI_NODEJS_TRANSPILE_ONLY=true as the project's tools set it.
 */
export function hostEnv(): Record<string, string> {
    const doc = readStackDocument(path.join(ROOT, "Pulumi.yaml")) as { runtime?: { options?: { tsconfig?: string } } };
    const tsconfig = doc.runtime?.options?.tsconfig;
    return tsconfig ? { PULUMI_NODEJS_TSCONFIG_PATH: tsconfig } : { PULUMI_NODEJS_TRANSPILE_ONLY: "true" };
}

/** The child's command line, as a reader would type it (cwd: the repository). */
export function childCommand(w: Workload, variant: Variant): string {
    const vars = Object.entries({ ...hostEnv(), ...(variant === "full" ? { AI_FLEET_PROMISE_STACKS: "full" } : {}) });
    return `${vars.map(([k, v]) => `${k}=${v}`).join(" ")} node bench/host.js bench/program.ts ${(w.shown ?? w.argv).join(" ")}`;
}

/** The child's environment: the language host's TypeScript settings, the promise-stack variant. */
export function childEnv(variant: Variant): NodeJS.ProcessEnv {
    const env: NodeJS.ProcessEnv = { ...process.env };
    delete env.PULUMI_NODEJS_TRANSPILE_ONLY;
    delete env.PULUMI_NODEJS_TSCONFIG_PATH;
    Object.assign(env, hostEnv());
    delete env.AI_FLEET_PROMISE_STACKS;
    delete env.PULUMI_DEBUG_PROMISE_LEAKS;
    delete env.NODE_OPTIONS;
    // index.ts reads these (a forced tag, the rollout command's overrides): a plain `pulumi up` has none.
    delete env.FORCE_IMAGE_TAG;
    for (const k of Object.keys(env).filter((k) => k.startsWith("AI_FLEET_"))) {
        delete env[k];
    }
    if (variant === "full") {
        env.AI_FLEET_PROMISE_STACKS = "full";
    }
    return env;
}

/** One child run; `nodeArgs` go before bench/host.js (e.g. --cpu-prof). */
export async function runChild(
    w: Workload,
    variant: Variant,
    nodeArgs: string[] = [],
    env: Record<string, string> = {},
): Promise<{ result: ChildResult; wallMs: number }> {
    const r = await run(process.execPath, [...nodeArgs, "bench/host.js", "bench/program.ts", ...w.argv], {
        env: { ...childEnv(variant), ...env },
    });
    const line = r.stdout.split("\n").find((l) => l.startsWith("BENCH_RESULT "));
    if (r.code !== 0 || !line) {
        throw new Error(`${childCommand(w, variant)} exited ${r.code}${r.signal ? ` (${r.signal})` : ""}: ${r.stderr.trim().slice(-800)}`);
    }
    return { result: JSON.parse(line.slice("BENCH_RESULT ".length)) as ChildResult, wallMs: r.ms };
}

export interface Measured {
    workload: string;
    label: string;
    variant: Variant;
    services: number;
    resources: number;
    evalMs: Stat;
    /** CPU time during the evaluation: less moved by other work on the machine than the wall time. */
    evalCpuMs: Stat;
    /** Module loading (ts-node compiling the program) before the evaluation. */
    loadMs: Stat;
    wallMs: Stat;
    rssKB: Stat;
    cpuMs: Stat;
    load: Stat;
    command: string;
    /** The last run's figures as the child printed them (heap, loader). */
    last: ChildResult;
}

export interface EvaluationResult {
    measured: Measured[];
    /** Services of the fleet/floor pair and of the per-type runs (1000; 100 with --quick). */
    scale?: number;
    /** Per-pair ratios of alternating runs. */
    ratios?: {
        /** Peak RSS, `scale` generated services ÷ the floor at `scale`. */
        fleetFloorRss?: Stat;
        /** Process CPU (user + system), index.ts on the operator's tree ÷ the empty program. */
        operatorEmptyCpu?: Stat;
    };
    notMeasured: { figure: string; why: string }[];
}

/** Runs per workload and variant (after the alternating pairs); `scale`: the generated fleet the floor stands beside. */
function plan(quick: boolean, scale: number): [Workload, Variant, number][] {
    const w = (id: string) => WORKLOADS.find((x) => x.id === id) as Workload;
    const n = (runs: number) => (quick ? 1 : runs);
    return [
        [w("pc2"), "lean", n(3)],
        [w("gen10"), "lean", n(3)],
        ...(scale === 100 ? [] : ([[w("gen100"), "lean", n(3)]] as [Workload, Variant, number][])),
        ...(quick || scale === 1000 ? [] : ([[w("gen1000"), "lean", 1]] as [Workload, Variant, number][])),
        [floorWorkload(0), "lean", n(3)],
        ...PRICED.flatMap((p) => [
            [typeWorkload(p.kind, scale / 10), "lean", n(3)] as [Workload, Variant, number],
            [typeWorkload(p.kind, scale), "lean", n(3)] as [Workload, Variant, number],
        ]),
    ];
}

/**
 * The operator's tree for mode "operator": testkit/operatorRepo.ts's files, adopted by `npm run
 * adopt-dockerfiles` (as the preflight asks of a checkout with hard-coded bases), committed.
 */
async function operatorTree(): Promise<string> {
    const tree = fs.mkdtempSync(path.join(os.tmpdir(), "ai-fleet-bench-operator-"));
    writeOperatorRepo(tree);
    const git = ["-c", "user.email=bench@example.invalid", "-c", "user.name=bench"];
    const steps: [string, string[]][] = [
        ["git", ["-C", tree, "init", "-q"]],
        ["npm", ["run", "--silent", "adopt-dockerfiles", "--", tree]],
        ["git", ["-C", tree, ...git, "add", "."]],
        ["git", ["-C", tree, ...git, "commit", "-qm", "the operator's tree, adopted"]],
    ];
    for (const [cmd, args] of steps) {
        const r = await run(cmd, args);
        if (r.code !== 0) {
            fs.rmSync(tree, { recursive: true, force: true });
            throw new Error(`${r.cmd} exited ${r.code}: ${(r.stderr || r.stdout).trim().slice(-600)}`);
        }
    }
    return tree;
}

async function measure(w: Workload, variant: Variant, runs: number, acc: Map<string, Measured>, i: number): Promise<ChildResult> {
    const l = load1();
    const { result: c, wallMs } = await runChild(w, variant);
    const key = `${w.id}/${variant}`;
    const prev = acc.get(key);
    const v = (s: Stat | undefined, x: number) => stat([...(s?.values ?? []), x]);
    acc.set(key, {
        workload: w.id,
        label: w.label,
        variant,
        services: c.services,
        resources: c.resources,
        evalMs: v(prev?.evalMs, c.doneMs - c.loadMs),
        evalCpuMs: v(prev?.evalCpuMs, c.evalCpuMs ?? NaN),
        loadMs: v(prev?.loadMs, c.loadMs),
        wallMs: v(prev?.wallMs, wallMs),
        rssKB: v(prev?.rssKB, c.maxRssKB),
        cpuMs: v(prev?.cpuMs, c.userCpuMs + c.systemCpuMs),
        load: v(prev?.load, l),
        command: childCommand(w, variant),
        last: c,
    });
    log(
        `program: ${w.id} (${variant}) run ${i + 1}/${runs}: evaluation ${ms(c.doneMs - c.loadMs)} (CPU ${ms(c.evalCpuMs ?? NaN)}), process ${ms(wallMs)} (CPU ${ms(c.userCpuMs + c.systemCpuMs)}), peak RSS ${mb(c.maxRssKB)}, ${c.resources} resources (load ${l.toFixed(2)})`,
    );
    return c;
}

export async function evaluationBench(quick: boolean, scale = quick ? 100 : 1000): Promise<EvaluationResult> {
    const acc = new Map<string, Measured>();
    const notMeasured: { figure: string; why: string }[] = [];
    const attempt = async (w: Workload, variant: Variant, runs: number, i: number): Promise<ChildResult | undefined> => {
        try {
            return await measure(w, variant, runs, acc, i);
        } catch (e) {
            notMeasured.push({ figure: `evaluation, ${w.label} (${variant})`, why: String(e).slice(0, 600) });
            log(`program: NOT MEASURED ${w.id} (${variant}): ${String(e).slice(0, 600)}`);
            return undefined;
        }
    };
    /** `runs` alternating runs of a and b; per pair, f(a, b). */
    const pairs = async (a: Workload, b: Workload, runs: number, f: (a: ChildResult, b: ChildResult) => number) => {
        const out: number[] = [];
        for (let i = 0; i < runs; i++) {
            const x = await attempt(a, "lean", runs, i);
            const y = await attempt(b, "lean", runs, i);
            if (x && y) {
                out.push(f(x, y));
            }
        }
        return out.length ? stat(out) : undefined;
    };
    const cpu = (c: ChildResult) => c.userCpuMs + c.systemCpuMs;
    const ratios: NonNullable<EvaluationResult["ratios"]> = {};
    // mainpc first, lean and full alternating: the before/after of leanPromiseStacks().
    const mainpc = WORKLOADS.find((x) => x.id === "mainpc") as Workload;
    const mainRuns = quick ? 1 : 5;
    for (let i = 0; i < mainRuns; i++) {
        await attempt(mainpc, "lean", mainRuns, i);
        if (i < (quick ? 1 : 3)) {
            await attempt(mainpc, "full", quick ? 1 : 3, i);
        }
    }
    // Issue 19 (iii): index.ts on the operator's tree beside the empty program, process CPU per pair.
    const empty = WORKLOADS.find((x) => x.id === "empty") as Workload;
    let tree: string | undefined;
    try {
        tree = await operatorTree();
        log(`program: the operator's tree in ${tree} (testkit/operatorRepo.ts, adopted, committed)`);
        ratios.operatorEmptyCpu = await pairs(operatorWorkload("mainpc", tree), empty, quick ? 1 : 5, (o, e) => cpu(o) / cpu(e));
    } catch (e) {
        notMeasured.push({ figure: "index.ts on the operator's tree", why: String(e).slice(0, 600) });
        log(`program: NOT MEASURED index.ts on the operator's tree: ${String(e).slice(0, 600)}`);
    } finally {
        if (tree) {
            fs.rmSync(tree, { recursive: true, force: true });
        }
    }
    // Issue 19 (i), (ii): the generated fleet beside the floor, peak RSS per pair.
    const gen = WORKLOADS.find((x) => x.id === `gen${scale}`) as Workload;
    ratios.fleetFloorRss = await pairs(gen, floorWorkload(scale), quick ? 1 : 3, (g, f) => g.maxRssKB / f.maxRssKB);
    for (const [w, variant, runs] of plan(quick, scale)) {
        for (let i = 0; i < runs; i++) {
            await attempt(w, variant, runs, i);
        }
    }
    return { measured: [...acc.values()], scale, ratios, notMeasured };
}
