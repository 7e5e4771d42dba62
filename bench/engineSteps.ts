/**
 * The engine part's steps on the real engine: `pulumi preview --json` as a CLI process, `up` through
 * the Automation API with every resource's operation recorded, and helpers over their steps.
 */
import { EngineEvent, Stack } from "@pulumi/pulumi/automation";
import { TempProject, ToolchainStatus } from "../testkit/engine";
import { run } from "./lib";

export const IMAGE_TYPE = "docker-build:index:Image";
export const NOOP_OPS = new Set(["same", "read"]);

/** One preview: wall time, its change summary, and the operations it plans per resource. */
export interface PreviewRun {
    wallMs: number;
    /** Set when the preview failed (its plan so far is still recorded). */
    error?: string;
    changeSummary: Record<string, number>;
    steps: { op: string; urn: string; type: string }[];
}

export type Images = Record<string, { pinned: string; ref: string }>;

export function typeOfUrn(urn: string): string {
    // urn:pulumi:<stack>::<project>::<parent types$>type::name
    const qualified = urn.split("::")[2] ?? "";
    const parts = qualified.split("$");
    return parts[parts.length - 1];
}

export function nameOfUrn(urn: string): string {
    const parts = urn.split("::");
    return parts[parts.length - 1];
}

/** `pulumi preview --json` of a stack, run as a CLI process. */
export async function cliPreview(status: ToolchainStatus, project: TempProject, stackName: string): Promise<PreviewRun> {
    const r = await run(status.pulumi as string, ["preview", "--stack", stackName, "--json", "--non-interactive"], {
        cwd: project.dir,
        env: project.env as NodeJS.ProcessEnv,
    });
    let json: {
        changeSummary?: Record<string, number>;
        steps?: { op: string; urn: string }[];
        diagnostics?: { message: string; severity: string; urn?: string }[];
    };
    try {
        json = JSON.parse(r.stdout);
    } catch {
        throw new Error(`pulumi preview --stack ${stackName} exited ${r.code} without a JSON result: ${tail(r.stderr || r.stdout)}`);
    }
    const errors = (json.diagnostics ?? [])
        .filter((d) => d.severity === "error")
        .map((d) => `${d.urn ? nameOfUrn(d.urn) + ": " : ""}${d.message.trim()}`);
    return {
        error: r.code !== 0 ? `exit ${r.code}: ${errors.join(" | ").slice(0, 1500) || tail(r.stderr)}` : undefined,
        wallMs: r.ms,
        changeSummary: json.changeSummary ?? {},
        steps: (json.steps ?? []).map((s) => ({ op: s.op, urn: s.urn, type: typeOfUrn(s.urn) })),
    };
}

/** One no-op `pulumi up`: wall time and what it changed (resource changes by op, when the CLI reports them). */
export interface UpRun {
    wallMs: number;
    error?: string;
    changeSummary: Record<string, number>;
}

/**
 * `pulumi up --yes --skip-preview --json` of a stack, run as a CLI process: what the rollout
 * command's Automation API `up` runs (no preview before the update); `--json` streams the engine's
 * events, read here for the summary.
 */
export async function cliUp(status: ToolchainStatus, project: TempProject, stackName: string): Promise<UpRun> {
    const r = await run(status.pulumi as string, ["up", "--stack", stackName, "--yes", "--skip-preview", "--json", "--non-interactive"], {
        cwd: project.dir,
        env: project.env as NodeJS.ProcessEnv,
    });
    // `up --json` streams the engine's events, one JSON object a line; the last summaryEvent has the changes by op.
    let changeSummary: Record<string, number> = {};
    for (const line of r.stdout.split("\n")) {
        try {
            const summary = (JSON.parse(line) as { summaryEvent?: { resourceChanges?: Record<string, number> } }).summaryEvent;
            changeSummary = summary?.resourceChanges ?? changeSummary;
        } catch {
            // not an event line
        }
    }
    return { wallMs: r.ms, error: r.code !== 0 ? `exit ${r.code}: ${tail(r.stderr || r.stdout)}` : undefined, changeSummary };
}

/** An up through the Automation API, recording every resource's operation. */
export async function upWithOps(
    stack: Stack,
): Promise<{ wallMs: number; ops: { op: string; urn: string; type: string }[]; images: Images; resourceChanges: Record<string, number> }> {
    const ops: { op: string; urn: string; type: string }[] = [];
    const onEvent = (e: EngineEvent): void => {
        const m = e.resourcePreEvent?.metadata;
        if (m) {
            ops.push({ op: m.op, urn: m.urn, type: m.type });
        }
    };
    const t0 = performance.now();
    const result = await stack.up({ onEvent });
    return {
        wallMs: performance.now() - t0,
        ops,
        images: result.outputs.images.value as Images,
        resourceChanges: (result.summary.resourceChanges ?? {}) as Record<string, number>,
    };
}

export function tail(s: string, n = 600): string {
    const t = s.trim();
    return t.length > n ? `…${t.slice(-n)}` : t;
}

/** One entry per resource (the first step of each URN), the ops of its steps joined: "create-replacement+replace+delete-replaced". */
export function byUrn<T extends { op: string; urn: string }>(steps: T[]): T[] {
    const seen = new Map<string, T>();
    for (const s of steps) {
        const prev = seen.get(s.urn);
        seen.set(s.urn, prev ? { ...prev, op: `${prev.op}+${s.op}` } : s);
    }
    return [...seen.values()];
}

export function countOps(ops: { op: string }[]): Record<string, number> {
    const c: Record<string, number> = {};
    for (const o of ops) {
        c[o.op] = (c[o.op] ?? 0) + 1;
    }
    return c;
}
