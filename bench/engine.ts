/**
 * Part "engine", on the real engine (the CLI and plugins of scripts/toolchain.sh, the local Docker
 * engine, registry and BuildKit builder): the no-op preview and the no-op `pulumi up` of an
 * unchanged build-only local stack beside an empty program's (bench/programs/empty), the blast radius of touching one service or one
 * family, and leanPromiseStacks() under the engine (a fresh 100-service preview, with and without).
 *
 * Stacks live in temp projects (testkit/engine.ts), built from a copy of demo/ so
 * touching sources leaves the repository clean. Previews run the CLI itself (`pulumi preview
 * --json`); ups go through the Automation API, which reports per-resource operations as events.
 */
import * as fs from "fs";
import * as path from "path";
import { Stack } from "@pulumi/pulumi/automation";
import { buildOnlyConfig, copyDemo, createStack, ensureSetup, localStackConfig, tempProject, ToolchainStatus } from "../testkit/engine";
import { byUrn, cliPreview, cliUp, countOps, IMAGE_TYPE, nameOfUrn, NOOP_OPS, PreviewRun, tail, UpRun, upWithOps } from "./engineSteps";
import { log, ROOT, run, Stat, stat } from "./lib";

export const FORCE_TAG = "bench-engine";

/** What touching a source did. */
export interface TouchRun {
    what: string;
    previewImages: string[];
    previewChanges: Record<string, number>;
    previewWallMs: number;
    /** Set when the preview after the touch failed. */
    previewError?: string;
    upWallMs: number;
    /** Images the up built again (docker-build Image with any op but same/read). */
    rebuilt: string[];
    /** Images whose pinned digest changed. */
    newDigests: string[];
    /** The up's resource changes by op. */
    resourceChanges: Record<string, number>;
    /** Resources the up changed: everything but "same". */
    changed: number;
    changedResources: string[];
}

export interface EngineResult {
    status: ToolchainStatus;
    firstUpMs?: number;
    emptyUpMs?: number;
    resources?: number;
    fleetPreview?: Stat;
    emptyPreview?: Stat;
    ratio?: Stat;
    noopRuns?: PreviewRun[];
    /** No-op `pulumi up --skip-preview` of the same stack and of the empty program, alternating (issue 19 (v)). */
    fleetNoopUp?: Stat;
    emptyNoopUp?: Stat;
    upRatio?: Stat;
    noopUps?: UpRun[];
    touches?: TouchRun[];
    /** Preview of a fresh build-only stack of 100 generated services: leanPromiseStacks() (default) vs AI_FLEET_PROMISE_STACKS=full. */
    lever?: { services: number; resources: number; leanMs: Stat; fullMs: Stat; errors: string[] };
    notMeasured: { figure: string; why: string }[];
}

/** The whole part. */
export async function engineBench(opts: { previews: number; touchRepeats: number; leverRuns: number }): Promise<EngineResult> {
    const notMeasured: { figure: string; why: string }[] = [];
    log("engine: scripts/setup.sh (Docker engine, registry, base image, BuildKit, Trivy, Pulumi CLI and plugins; idempotent)");
    let status: ToolchainStatus;
    try {
        status = ensureSetup();
    } catch (e) {
        return { status: { plugins: {} }, notMeasured: [{ figure: "parts 2 and 3", why: String(e) }] };
    }
    log(`engine: pulumi ${status.pulumiVersion}, plugins ${JSON.stringify(status.plugins)}`);
    const result: EngineResult = { status, notMeasured };
    if (!status.plugins["docker-build"]) {
        notMeasured.push({
            figure: "parts 2 and 3",
            why: `the docker-build plugin is missing: ${status.missing?.["docker-build"] ?? "not installed"}`,
        });
        return result;
    }
    const builder = (localStackConfig()["ai-fleet:build"] as { builder?: string } | undefined)?.builder;
    if (builder) {
        const inspect = await run("docker", ["buildx", "inspect", builder]);
        if (inspect.code !== 0) {
            notMeasured.push({
                figure: "parts 2 and 3",
                why: `Pulumi.local.yaml builds on buildx builder "${builder}", and \`docker buildx inspect ${builder}\` fails: ${tail(inspect.stderr, 300)}`,
            });
            return result;
        }
    }
    const password = process.env.AI_FLEET_REGISTRY_PASSWORD ?? "fleet-local-pass";

    const fleet = tempProject(ROOT);
    const empty = tempProject(path.join(ROOT, "bench", "programs", "empty"), "bench-empty");
    const demo = copyDemo(fleet.dir);
    fleet.env.FORCE_IMAGE_TAG = FORCE_TAG;
    let fleetStack: Stack | undefined;
    let emptyStack: Stack | undefined;
    try {
        fleetStack = await createStack(fleet, "bench-build", status, buildOnlyConfig(demo, password));
        emptyStack = await createStack(empty, "bench-empty", status, {});

        log("engine: first up of the build-only local stack (builds and pushes what the cache lacks)");
        let first: Awaited<ReturnType<typeof upWithOps>>;
        try {
            first = await upWithOps(fleetStack);
        } catch (e) {
            const why = `the build-only up failed: ${tail(String(e), 800)}`;
            notMeasured.push({ figure: "parts 2 and 3", why });
            log(`engine: NOT MEASURED: ${why}`);
            return result;
        }
        result.firstUpMs = first.wallMs;
        result.resources = first.ops.length;
        log(
            `engine: first up ${(first.wallMs / 1000).toFixed(1)}s, ${first.ops.length} resources, ops ${JSON.stringify(countOps(first.ops))}`,
        );
        const t0 = performance.now();
        await emptyStack.up();
        result.emptyUpMs = performance.now() - t0;

        // Part 2: previews alternate fleet / empty, so drift in the machine's load hits both alike.
        const [fleetRuns, emptyRuns] = await alternate(
            "no-op preview",
            opts.previews,
            () => cliPreview(status, fleet, "bench-build"),
            () => cliPreview(status, empty, "bench-empty"),
        );
        result.noopRuns = fleetRuns;
        result.fleetPreview = stat(fleetRuns.map((r) => r.wallMs));
        result.emptyPreview = stat(emptyRuns.map((r) => r.wallMs));
        result.ratio = stat(fleetRuns.map((r, i) => r.wallMs / emptyRuns[i].wallMs));

        // Issue 19 (v): no-op ups, alternating fleet / empty, as the rollout command runs them (no preview first).
        const [fleetUps, emptyUps] = await alternate(
            "no-op up",
            opts.previews,
            () => cliUp(status, fleet, "bench-build"),
            () => cliUp(status, empty, "bench-empty"),
        );
        const upPairs = fleetUps.map((f, i) => [f, emptyUps[i]] as const).filter(([f, e]) => !f.error && !e.error);
        result.noopUps = fleetUps;
        if (upPairs.length) {
            result.fleetNoopUp = stat(upPairs.map(([f]) => f.wallMs));
            result.emptyNoopUp = stat(upPairs.map(([, e]) => e.wallMs));
            result.upRatio = stat(upPairs.map(([f, e]) => f.wallMs / e.wallMs));
        } else {
            notMeasured.push({ figure: "no-op `pulumi up`", why: fleetUps.concat(emptyUps).find((u) => u.error)?.error ?? "no run" });
        }

        // Part 3: touch, preview, up; each touch repeated with new content.
        let images = first.images;
        result.touches = [];
        const touches: { what: string; touch: (i: number) => void; preview?: false }[] = [
            {
                what: "one service's source (demo/services/system_digital_twin/service.py, a comment appended)",
                touch: (i) =>
                    fs.appendFileSync(
                        path.join(demo, "services", "system_digital_twin", "service.py"),
                        `\n# touched by the bench (${i})\n`,
                    ),
            },
            {
                what: "family-web (a LABEL line appended to its Dockerfile: the image content changes)",
                touch: (i) =>
                    fs.appendFileSync(
                        path.join(demo, "families", "family-web", "Dockerfile"),
                        `\nLABEL ai-fleet.bench.touched="${i}-${Date.now()}"\n`,
                    ),
            },
            {
                what: "the services' shared Dockerfile (demo/services/Dockerfile, a LABEL line appended)",
                touch: (i) =>
                    fs.appendFileSync(path.join(demo, "services", "Dockerfile"), `\nLABEL ai-fleet.bench.touched="${i}-${Date.now()}"\n`),
                preview: false,
            },
            {
                what: "family-web, comment only (a `#` line appended to its Dockerfile: same image content)",
                touch: (i) =>
                    fs.appendFileSync(path.join(demo, "families", "family-web", "Dockerfile"), `\n# touched by the bench (${i})\n`),
            },
        ];
        for (const t of touches) {
            const repeats = t.what.includes("comment only") || t.preview === false ? 1 : opts.touchRepeats;
            for (let i = 0; i < repeats; i++) {
                t.touch(i);
                // A preview after a touch is recorded once per kind of touch (it is slow when it fails).
                const p: PreviewRun =
                    i === 0 && t.preview !== false
                        ? await cliPreview(status, fleet, "bench-build")
                        : { wallMs: 0, changeSummary: {}, steps: [] };
                const u = await upWithOps(fleetStack);
                // A replacement shows as several steps (create-replacement, replace, delete-replaced): one resource.
                const changedOps = byUrn(u.ops.filter((o) => !NOOP_OPS.has(o.op)));
                const touchRun: TouchRun = {
                    what: t.what,
                    previewImages: byUrn(p.steps.filter((s) => s.type === IMAGE_TYPE && !NOOP_OPS.has(s.op)))
                        .map((s) => nameOfUrn(s.urn))
                        .sort(),
                    previewChanges: p.changeSummary,
                    previewWallMs: p.wallMs,
                    previewError: p.error,
                    upWallMs: u.wallMs,
                    rebuilt: changedOps
                        .filter((o) => o.type === IMAGE_TYPE)
                        .map((o) => nameOfUrn(o.urn))
                        .sort(),
                    newDigests: Object.keys(u.images)
                        .filter((k) => images[k]?.pinned !== u.images[k].pinned)
                        .sort(),
                    resourceChanges: u.resourceChanges,
                    changed: changedOps.length,
                    changedResources: changedOps.map((o) => `${o.op} ${o.type} ${nameOfUrn(o.urn)}`).sort(),
                };
                images = u.images;
                result.touches.push(touchRun);
                if (p.error) {
                    log(`engine: the preview after the touch FAILED in ${(p.wallMs / 1000).toFixed(1)}s: ${p.error}`);
                }
                log(
                    `engine: touched ${t.what.split(" (")[0]} (#${i + 1}): preview plans ${touchRun.previewImages.length} image build(s) [${touchRun.previewImages.join(", ")}]; up rebuilt ${touchRun.rebuilt.length} [${touchRun.rebuilt.join(", ")}], new digests [${touchRun.newDigests.join(", ")}], ${touchRun.changed} resource(s) changed ${JSON.stringify(u.resourceChanges)} in ${(u.wallMs / 1000).toFixed(1)}s`,
                );
            }
        }

        result.lever = await promiseStacksLever(status, password, opts.leverRuns);
    } finally {
        for (const [s, label] of [
            [fleetStack, "fleet"],
            [emptyStack, "empty"],
        ] as const) {
            if (s) {
                await s
                    .destroy()
                    .catch((e) => log(`engine: destroy of the ${label} bench stack failed (ignored): ${tail(String(e), 300)}`));
            }
        }
        fleet.cleanup();
        empty.cleanup();
    }
    return result;
}

/**
 * leanPromiseStacks() under the real engine: `pulumi preview` of a never-deployed build-only stack
 * of 100 generated services (the local stack's families; every service built from demo's
 * system_digital_twin context and the shared Dockerfile), alternately as index.ts runs by default
 * and with AI_FLEET_PROMISE_STACKS=full (inherited by the language host), which turns it off.
 */
async function promiseStacksLever(status: ToolchainStatus, password: string, runs: number): Promise<EngineResult["lever"]> {
    const project = tempProject(ROOT);
    project.env.FORCE_IMAGE_TAG = FORCE_TAG;
    try {
        const cfg = buildOnlyConfig(path.join(ROOT, "demo"), password);
        const families = Object.keys(cfg["ai-fleet:families"] as Record<string, unknown>).sort();
        const services: Record<string, unknown> = {};
        for (let i = 0; i < 100; i++) {
            services[`Svc${String(i).padStart(4, "0")}`] = {
                family: families[i % families.length],
                context: "services/system_digital_twin",
                dockerfile: "services/Dockerfile",
                port: 20000 + 3 * i,
                healthPort: 20001 + 3 * i,
            };
        }
        await createStack(project, "bench-lever", status, { ...cfg, "ai-fleet:services": services, "ai-fleet:rollout": { canary: [] } });
        const lean: number[] = [];
        const full: number[] = [];
        const errors: string[] = [];
        let resources = 0;
        const base = { ...project.env };
        delete base.AI_FLEET_PROMISE_STACKS;
        delete base.PULUMI_DEBUG_PROMISE_LEAKS;
        for (let i = 0; i < runs; i++) {
            for (const variant of ["lean", "full"] as const) {
                project.env = { ...base, ...(variant === "full" ? { AI_FLEET_PROMISE_STACKS: "full" } : {}) };
                const r = await cliPreview(status, project, "bench-lever");
                (variant === "full" ? full : lean).push(r.wallMs);
                resources = Object.values(r.changeSummary).reduce((a, b) => a + b, 0);
                if (r.error) {
                    errors.push(r.error.slice(0, 300));
                }
                log(
                    `engine: preview of a fresh 100-service build-only stack (${variant}): ${(r.wallMs / 1000).toFixed(2)}s ${JSON.stringify(r.changeSummary)}${r.error ? ` FAILED: ${r.error.slice(0, 200)}` : ""}`,
                );
            }
        }
        project.env = base;
        return { services: 100, resources, leanMs: stat(lean), fullMs: stat(full), errors };
    } finally {
        project.cleanup();
    }
}

/**
 * `times` runs of the fleet's and the empty program's `what`, alternating, so that drift in the
 * machine's load hits both alike; each pair is logged, and a failed run is named.
 */
async function alternate<R extends { wallMs: number; error?: string; changeSummary: Record<string, number> }>(
    what: string,
    times: number,
    fleetRun: () => Promise<R>,
    emptyRun: () => Promise<R>,
): Promise<[R[], R[]]> {
    const fleetRuns: R[] = [];
    const emptyRuns: R[] = [];
    for (let i = 0; i < times; i++) {
        const f = await fleetRun();
        const e = await emptyRun();
        fleetRuns.push(f);
        emptyRuns.push(e);
        for (const [label, r] of [
            ["fleet", f],
            ["empty", e],
        ] as const) {
            if (r.error) {
                log(`engine: the ${label} ${what} FAILED: ${r.error}`);
            }
        }
        log(
            `engine: ${what} ${i + 1}/${times}: fleet ${(f.wallMs / 1000).toFixed(2)}s ${JSON.stringify(f.changeSummary)}, empty ${(e.wallMs / 1000).toFixed(2)}s`,
        );
    }
    return [fleetRuns, emptyRuns];
}
