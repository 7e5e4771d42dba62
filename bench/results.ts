/**
 * The bench's results file (bench/.work/results.json, git-ignored): every part writes its figures
 * here, bench/render.ts turns them into bench/RESULTS.md. Also the speed targets: what is
 * compared with what, and whether it is met. The bench asserts nothing: a target is reported
 * "met" or "not met", the run goes on either way.
 */
import * as fs from "fs";
import * as path from "path";
import type { EngineResult } from "./engine";
import type { EvaluationResult } from "./evaluation";
import type { GateResult } from "./gate";
import type { ProfileSummary } from "./profile";
import type { UnitResult } from "./unit";
import { mb, ms, Stat, WORK } from "./lib";

export const RESULTS_FILE = path.join(WORK, "results.json");
export const PARTS = ["unit", "program", "profile", "gate", "engine"] as const;
export type Part = (typeof PARTS)[number];

export interface Results {
    startedAt: string;
    finishedAt?: string;
    /** `git rev-parse --short HEAD` when the run started and ended (others commit in parallel). */
    commits: { start: string; end?: string };
    machine: { cores: number; cpuModel: string; memoryGiB: number; node: string; os: string };
    parts: Part[];
    quick: boolean;
    /** Wall seconds per part, in the order run. */
    partSeconds: Partial<Record<Part, number>>;
    /** 1-minute load average when each part started. */
    loads: number[];
    unit?: UnitResult;
    program?: EvaluationResult;
    profile?: ProfileSummary[];
    gate?: GateResult;
    engine?: EngineResult;
    errors: { part: string; why: string }[];
}

export function readResults(file = RESULTS_FILE): Results {
    return JSON.parse(fs.readFileSync(file, "utf8")) as Results;
}

export function writeResults(r: Results, file = RESULTS_FILE): void {
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(file, JSON.stringify(r, null, 1));
}

/** 1 GB as the issue writes it: 10^9 bytes, in the KiB that maxRSS counts. */
const GB_KIB = 1e9 / 1024;

export interface Target {
    what: string;
    target: string;
    /** The measured figure, or why there is none. */
    measured: string;
    /** undefined: not measured in this run. */
    met?: boolean;
    reproduce: string;
}

function check(
    what: string,
    s: Stat | undefined,
    limit: number,
    show: (v: number) => string,
    target: string,
    reproduce: string,
    note = "",
): Target {
    if (!s) {
        return { what, target, measured: "not measured", reproduce };
    }
    const runs = s.n === 1 ? "1 run" : `median of ${s.n}, ${show(s.min)} – ${show(s.max)}`;
    return { what, target, measured: `${show(s.median)} (${runs}${note})`, met: s.median <= limit, reproduce };
}

/** ", CPU 1.2 s": the evaluation's CPU time beside its wall time. */
function cpu(m: { evalCpuMs?: Stat } | undefined): string {
    return m?.evalCpuMs && Number.isFinite(m.evalCpuMs.median) ? `; CPU ${ms(m.evalCpuMs.median)}` : "";
}

/** The speed targets, against this run's figures (each judged on its median). */
export function targets(r: Results): Target[] {
    const ev = (w: string, v = "lean") => r.program?.measured.find((m) => m.workload === w && m.variant === v);
    const x = (v: number) => `${v.toFixed(2)}×`;
    const main = ev("mainpc");
    const full = ev("mainpc", "full");
    const g1000 = ev("gen1000");
    const out: Target[] = [
        check(
            "(a) mainpc evaluation (44 services) under the language host's loader, leanPromiseStacks()",
            main?.evalMs,
            1500,
            ms,
            "≤ 1.5 s",
            "`npm run bench -- --only program`",
            cpu(main),
        ),
        check(
            "(a′) the same with AI_FLEET_PROMISE_STACKS=full (the lever off: the SDK's own stacks)",
            full?.evalMs,
            1500,
            ms,
            "≤ 1.5 s",
            "〃",
            cpu(full),
        ),
        check("(b) 1000 generated services: evaluation", g1000?.evalMs, 15000, ms, "≤ 15 s", "〃", cpu(g1000)),
        check("(b) 1000 generated services: peak RSS (the child's maxRSS)", g1000?.rssKB, GB_KIB, mb, "≤ 1 GB (954 MiB)", "〃"),
        check(
            "(c) no-op `pulumi preview` of the local stack ÷ the empty program's (per pair)",
            r.engine?.ratio,
            1.3,
            x,
            "≤ 1.3×",
            "`npm run bench -- --only engine`",
        ),
        check("(d) `npm run test:unit` wall time", r.unit?.wallMs, 20000, ms, "≤ 20 s", "`npm run bench -- --only unit`"),
    ];
    return out;
}

/** "met" / "not met" / "not measured". */
export function verdict(t: Target): string {
    return t.met === undefined ? "not measured" : t.met ? "met" : "not met";
}
