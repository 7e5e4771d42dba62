/**
 * Part "profile": where mainpc's evaluation time goes. One profiled run of the bench child per
 * variant (leanPromiseStacks() on, and off with AI_FLEET_PROMISE_STACKS=full), under the language
 * host's loader: the child profiles its evaluation alone (BENCH_CPU_PROFILE, the inspector's
 * profiler from the modules loaded to the graph resolved); the profiles stay in bench/.work/prof/
 * (open them in Chrome DevTools). The inspector's own `dispatch` samples are left out. Shares are inclusive (a frame and what it calls), so they overlap.
 */
import * as fs from "fs";
import * as path from "path";
import { runChild, Variant, WORKLOADS } from "./evaluation";
import { log, ms, WORK } from "./lib";

export interface ProfileSummary {
    variant: Variant;
    workload: string;
    totalMs: number;
    evalMs: number;
    shares: { label: string; pct: number }[];
    topSelf: { fn: string; pct: number }[];
}

interface CpuProfile {
    nodes: { id: number; callFrame: { functionName: string; url: string; lineNumber: number }; children?: number[] }[];
    samples: number[];
    timeDeltas: number[];
}

type Frame = CpuProfile["nodes"][number]["callFrame"];

/** Inclusive groups: a sample counts for a group when any frame on its stack matches. */
const GROUPS: { label: string; self?: true; test: (f: Frame) => boolean }[] = [
    {
        label: "formatting captured stack traces (`Error.stack` getter: V8 + prepareStackTrace, source-map-support's)",
        test: (f) => f.functionName === "get stack",
    },
    {
        label: "Pulumi's debuggablePromise (a `new Error().stack` per promise, several per output property)",
        test: (f) => f.functionName === "debuggablePromise" && f.url.includes("debuggable"),
    },
    { label: "source-map-support (either package: mapping frames, reading maps)", test: (f) => f.url.includes("source-map-support") },
    { label: "Pulumi's Resource.callsites (a stack per resource, for source positions)", test: (f) => f.functionName === "callsites" },
    { label: "TypeScript's compiler (ts-node transpiling modules loaded lazily)", test: (f) => f.url.includes("node_modules/typescript/") },
    { label: "zod (parsing the stack config)", test: (f) => f.url.includes("node_modules/zod/") },
    { label: "garbage collector", test: (f) => f.functionName === "(garbage collector)" },
    { label: "self time in this repository's own code (not node_modules; the leaf frame only)", self: true, test: (f) => isOwn(f.url) },
];

function isOwn(url: string): boolean {
    return url.startsWith("file://") && !url.includes("/node_modules/");
}

export function summarizeProfile(file: string): { totalMs: number; shares: ProfileSummary["shares"]; topSelf: ProfileSummary["topSelf"] } {
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
    const frame = (id: number) => (byId.get(id) as CpuProfile["nodes"][number]).callFrame;
    const name = (f: Frame) =>
        `${f.functionName || "(anonymous)"} ${f.url.replace(/^.*node_modules\//, "").replace(/^file:\/\/.*?\/(bench|testkit)\//, "$1/")}:${f.lineNumber + 1}`;
    const inc = GROUPS.map(() => 0);
    let total = 0;
    const selfByName = new Map<string, number>();
    for (const [id, t] of selfById) {
        const leaf = frame(id);
        if (leaf.functionName === "dispatch" && leaf.url === "") {
            continue; // the inspector session's own work (starting and stopping the profiler)
        }
        total += t;
        const n = name(frame(id));
        selfByName.set(n, (selfByName.get(n) ?? 0) + t);
        const hit = GROUPS.map((g) => !!g.self && g.test(frame(id)));
        for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
            const f = frame(cur);
            GROUPS.forEach((g, i) => (hit[i] ||= !g.self && g.test(f)));
        }
        hit.forEach((h, i) => (inc[i] += h ? t : 0));
    }
    return {
        totalMs: total / 1000,
        shares: GROUPS.map((g, i) => ({ label: g.label, pct: (100 * inc[i]) / total })),
        topSelf: [...selfByName]
            .sort((a, b) => b[1] - a[1])
            .slice(0, 8)
            .map(([fn, t]) => ({ fn, pct: (100 * t) / total })),
    };
}

export async function profileBench(): Promise<ProfileSummary[]> {
    const dir = path.join(WORK, "prof");
    fs.rmSync(dir, { recursive: true, force: true });
    fs.mkdirSync(dir, { recursive: true });
    const mainpc = WORKLOADS.find((w) => w.id === "mainpc");
    const out: ProfileSummary[] = [];
    for (const variant of ["lean", "full"] as Variant[]) {
        const file = `mainpc-${variant}.cpuprofile`;
        log(`profile: mainpc (${variant}), BENCH_CPU_PROFILE → bench/.work/prof/${file}`);
        const { result } = await runChild(mainpc as NonNullable<typeof mainpc>, variant, [], { BENCH_CPU_PROFILE: path.join(dir, file) });
        const evalMs = result.doneMs - result.loadMs;
        out.push({ variant, workload: "mainpc", evalMs, ...summarizeProfile(path.join(dir, file)) });
        log(`profile: mainpc (${variant}): evaluation ${ms(evalMs)} (profiled)`);
    }
    return out;
}
