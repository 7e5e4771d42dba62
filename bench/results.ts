/**
 * The bench's results file (bench/.work/results.json, git-ignored): every part writes its figures
 * here, bench/render.ts turns them into bench/RESULTS.md. Also issue 19's cost targets: what is
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
        return { what, target, measured: note ? `not measured (${note.replace(/^; /, "")})` : "not measured", reproduce };
    }
    const runs = s.n === 1 ? "1 run" : `median of ${s.n}, ${show(s.min)} – ${show(s.max)}`;
    return { what, target, measured: `${show(s.median)} (${runs}${note})`, met: s.median <= limit, reproduce };
}

/** ", CPU 1.2 s": the evaluation's CPU time beside its wall time. */
function cpu(m: { evalCpuMs?: Stat } | undefined): string {
    return m?.evalCpuMs && Number.isFinite(m.evalCpuMs.median) ? `; CPU ${ms(m.evalCpuMs.median)}` : "";
}

/** The services issue 19's targets (i) and (ii) speak of. */
export const FLEET_SCALE = 1000;

/** Issue 19's targets (point 5, "Cost"), against this run's figures (each judged on its median). */
export function targets(r: Results): Target[] {
    const ev = (w: string, v = "lean") => r.program?.measured.find((m) => m.workload === w && m.variant === v);
    const x = (v: number) => `${v.toFixed(2)}×`;
    const atScale = r.program?.scale === FLEET_SCALE;
    const g = atScale ? ev(`gen${FLEET_SCALE}`) : undefined;
    const floor = atScale ? ev(`floor${FLEET_SCALE}`) : undefined;
    const op = ev("operator-mainpc");
    const empty = ev("empty");
    const short = r.program && !atScale ? `; this run had ${r.program.scale ?? "no"} services, not ${FLEET_SCALE} (--quick)` : "";
    const floorNote = floor ? `; the fleet ${mb(g?.rssKB.median ?? NaN)}, the floor ${mb(floor.rssKB.median)}` : short;
    const opNote = op && empty ? `; process CPU ${ms(op.cpuMs.median)} vs ${ms(empty.cpuMs.median)}` : "";
    const up = r.engine?.emptyNoopUp && r.engine.fleetNoopUp;
    const upNote = up ? `; ${ms(r.engine?.fleetNoopUp?.median ?? NaN)} vs ${ms(r.engine?.emptyNoopUp?.median ?? NaN)}` : "";
    const previewNote =
        r.engine?.fleetPreview && r.engine.emptyPreview
            ? `; ${ms(r.engine.fleetPreview.median)} vs ${ms(r.engine.emptyPreview.median)}`
            : "";
    return [
        check(
            `(i) ${FLEET_SCALE} generated services: evaluation (wall) under the language host's loader`,
            g?.evalMs,
            15000,
            ms,
            "≤ 15 s",
            "`npm run bench -- --only program`",
            g ? cpu(g) : short,
        ),
        check(
            `(ii) ${FLEET_SCALE} generated services: peak RSS ÷ the floor's (${FLEET_SCALE} × bare Container + Image + Command), per alternating pair`,
            atScale ? r.program?.ratios?.fleetFloorRss : undefined,
            1.2,
            x,
            "≤ 1.2×",
            "〃",
            floorNote,
        ),
        check(
            "(iii) index.ts with Pulumi.mainpc.yaml on the operator's tree: process CPU ÷ the empty program's, per alternating pair",
            r.program?.ratios?.operatorEmptyCpu,
            2,
            x,
            "≤ 2×",
            "〃",
            opNote,
        ),
        check(
            "(iv) no-op `pulumi preview` of the local stack ÷ the empty program's, per pair",
            r.engine?.ratio,
            1.3,
            x,
            "≤ 1.3×",
            "`npm run bench -- --only engine`",
            previewNote,
        ),
        check("(v) no-op `pulumi up` of the local stack ÷ the empty program's, per pair", r.engine?.upRatio, 2, x, "≤ 2×", "〃", upNote),
    ];
}

/** "met" / "not met" / "not measured". */
export function verdict(t: Target): string {
    return t.met === undefined ? "not measured" : t.met ? "met" : "not met";
}
