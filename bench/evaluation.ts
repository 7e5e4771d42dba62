/**
 * Part "program": the program's evaluation under the shared mocks, no engine. One child process per
 * run (bench/program.ts under bench/host.js, the language host's loader), so every run has its own
 * peak RSS. Workloads: the empty program (the floor), mainpc and pc2, and generated fleets of 10,
 * 100 and 1000 services; mainpc also with AI_FLEET_PROMISE_STACKS=full (leanPromiseStacks() off),
 * its runs alternating with the lean ones so that drift in the machine's load hits both alike.
 */
import * as path from "path";
import { readStackDocument } from "../stackFile";
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
    return `${vars.map(([k, v]) => `${k}=${v}`).join(" ")} node bench/host.js bench/program.ts ${w.argv.join(" ")}`;
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
    notMeasured: { figure: string; why: string }[];
}

/** Runs per workload and variant; the 1000-service fleet takes a minute or more per run. */
function plan(quick: boolean): [Workload, Variant, number][] {
    const w = (id: string) => WORKLOADS.find((x) => x.id === id) as Workload;
    const n = (runs: number) => (quick ? 1 : runs);
    return [
        [w("empty"), "lean", n(3)],
        [w("pc2"), "lean", n(3)],
        [w("gen10"), "lean", n(3)],
        [w("gen100"), "lean", n(3)],
        ...(quick ? [] : ([[w("gen1000"), "lean", 1]] as [Workload, Variant, number][])),
    ];
}

async function measure(w: Workload, variant: Variant, runs: number, acc: Map<string, Measured>, i: number): Promise<void> {
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
        `program: ${w.id} (${variant}) run ${i + 1}/${runs}: evaluation ${ms(c.doneMs - c.loadMs)} (CPU ${ms(c.evalCpuMs ?? NaN)}), process ${ms(wallMs)}, peak RSS ${mb(c.maxRssKB)}, ${c.resources} resources (load ${l.toFixed(2)})`,
    );
}

export async function evaluationBench(quick: boolean): Promise<EvaluationResult> {
    const acc = new Map<string, Measured>();
    const notMeasured: { figure: string; why: string }[] = [];
    const attempt = async (w: Workload, variant: Variant, runs: number, i: number) => {
        try {
            await measure(w, variant, runs, acc, i);
        } catch (e) {
            notMeasured.push({ figure: `evaluation, ${w.label} (${variant})`, why: String(e).slice(0, 600) });
            log(`program: NOT MEASURED ${w.id} (${variant}): ${String(e).slice(0, 600)}`);
        }
    };
    // mainpc first, lean and full alternating: the before/after of leanPromiseStacks().
    const mainpc = WORKLOADS.find((x) => x.id === "mainpc") as Workload;
    const mainRuns = quick ? 1 : 5;
    for (let i = 0; i < mainRuns; i++) {
        await attempt(mainpc, "lean", mainRuns, i);
        if (i < (quick ? 1 : 3)) {
            await attempt(mainpc, "full", quick ? 1 : 3, i);
        }
    }
    for (const [w, variant, runs] of plan(quick)) {
        for (let i = 0; i < runs; i++) {
            await attempt(w, variant, runs, i);
        }
    }
    return { measured: [...acc.values()], notMeasured };
}
