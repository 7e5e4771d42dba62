/**
 * The Markdown of the engine and gate parts and the unit suite (bench/render.ts writes the rest):
 * figures from bench/.work/results.json, nothing measured here.
 */
import type { EngineResult } from "./engine";
import { IMAGE_TYPE } from "./engineSteps";
import type { GateResult } from "./gate";
import { mb, ms, Stat, stat } from "./lib";
import { UNIT_COMMAND, UnitResult } from "./unit";

export function cell(s: Stat | undefined, f: (v: number) => string): string {
    if (!s) {
        return "–";
    }
    return s.n === 1 ? `${f(s.median)} (1 run)` : `${f(s.median)} (${f(s.min)} – ${f(s.max)})`;
}

export function x(v: number): string {
    return `${v.toFixed(2)}×`;
}

/** Issue 19 (v): the no-op `pulumi up`s, fleet and empty alternating. */
function noopUpSection(e: EngineResult, lines: string[]): void {
    if (!e.noopUps) {
        return;
    }
    lines.push(
        "**No-op `pulumi up`** of the same stack and of the empty program, alternating: `pulumi up --yes --skip-preview --json` as a CLI process " +
            "(what the rollout command's Automation API `up` runs: no preview first). The stack is build-only: no container, no health check " +
            `(${e.status.plugins.docker ? "" : "this machine has no docker provider plugin; "}the issue's 8.5–9.4 s were measured through the docker provider with containers).`,
        "",
    );
    if (!e.fleetNoopUp || !e.emptyNoopUp || !e.upRatio) {
        lines.push(`Not measured: ${e.noopUps.find((u) => u.error)?.error ?? "no run passed"}`, "");
        return;
    }
    const failed = e.noopUps.filter((u) => u.error).length;
    lines.push(
        "| figure | median | min | max | runs | reproduce |",
        "|---|---|---|---|---:|---|",
        `| no-op up, unchanged build-only local stack | ${ms(e.fleetNoopUp.median)} | ${ms(e.fleetNoopUp.min)} | ${ms(e.fleetNoopUp.max)} | ${e.fleetNoopUp.n} | \`npm run bench -- --only engine\` |`,
        `| no-op up, empty program | ${ms(e.emptyNoopUp.median)} | ${ms(e.emptyNoopUp.min)} | ${ms(e.emptyNoopUp.max)} | ${e.emptyNoopUp.n} | 〃 |`,
        `| ratio fleet / empty (per pair) | ${x(e.upRatio.median)} | ${x(e.upRatio.min)} | ${x(e.upRatio.max)} | ${e.upRatio.n} | 〃 |`,
        "",
        `Resource changes of the fleet's no-op ups: ${[...new Set(e.noopUps.map((u) => JSON.stringify(u.changeSummary)))].join(", ")}${failed ? `; ${failed} up(s) FAILED` : ""}.`,
        "",
    );
}

export function engineSection(e: EngineResult, lines: string[]): void {
    lines.push("## 3. Engine no-op: `pulumi preview` of an unchanged build-only local stack", "");
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
        `Through the real engine (the cached toolchain under ~/.cache/ai-fleet, the local Docker engine, registry and BuildKit). The build-only local stack (Pulumi.local.yaml, phase build, builder \`ai-fleet\`, contexts from a copy of demo/, FORCE_IMAGE_TAG=bench-engine) after one \`up\` ` +
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
    noopUpSection(e, lines);
    if (e.lever) {
        const l = e.lever;
        lines.push(
            "**leanPromiseStacks() under the real engine**: `pulumi preview` of a never-deployed build-only stack of 100 generated services " +
                `(local families; each service built from demo's system_digital_twin context; ${l.resources} resources planned), alternately as index.ts runs by default and with ` +
                "`AI_FLEET_PROMISE_STACKS=full` (the SDK's own per-promise stacks), which the Node.js language host inherits.",
            "",
            "| figure | median | min | max | runs | reproduce |",
            "|---|---|---|---|---:|---|",
            `| preview, fresh 100-service build-only stack (leanPromiseStacks) | ${ms(l.leanMs.median)} | ${ms(l.leanMs.min)} | ${ms(l.leanMs.max)} | ${l.leanMs.n} | \`npm run bench -- --only engine\` |`,
            `| the same with AI_FLEET_PROMISE_STACKS=full | ${ms(l.fullMs.median)} | ${ms(l.fullMs.min)} | ${ms(l.fullMs.max)} | ${l.fullMs.n} | 〃 |`,
            "",
            l.errors.length ? `Preview errors: ${[...new Set(l.errors)].join("; ")}` : "Both previews succeed (exit 0).",
            "",
        );
    }
}

export function blastSection(e: EngineResult, lines: string[]): void {
    lines.push("## 4. Blast radius: what one touch rebuilds and changes", "");
    if (!e.touches || e.touches.length === 0) {
        lines.push("Not measured: " + (e.notMeasured.map((n) => n.why).join("; ") || "the engine part did not get this far"), "");
        return;
    }
    lines.push(
        "Same stack, after the no-op previews. Each touch is followed by `pulumi preview --json` (first repeat only) and an `up`; images rebuilt and",
        "resources changed come from the up's per-resource steps (one per resource; a replacement counts once), new digests from its `images` output.",
        "A repeat of a touch (`touchRepeats`, 1 in `npm run bench`) appends new content, so each is a real change.",
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

export function gateSection(g: GateResult, lines: string[]): void {
    lines.push("## 5. Gate latency", "");
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
            `The degraded runs ran concurrently (${g.unhealthyDirect.runs.length} direct + ${eu.length} engine), each on its own ports, while the healthy runs (a) were measured. Failure message (direct): \`${g.unhealthyDirect.runs[0]?.lastLine.replace(/last body ".*?"; /, 'last body "…"; ').slice(0, 300)}\``,
        );
    }
    if (eu[0]) {
        lines.push(`Failure message (engine): \`${eu[0].message.replace(/last body ".*?"; /, 'last body "…"; ').slice(0, 300)}\``);
    }
    lines.push("");
}

export function unitSection(u: UnitResult, lines: string[]): void {
    lines.push("## 6. Unit suite", "");
    lines.push(
        "`npm run test:unit` as a child process (npm, then mocha with test/unit/mocharc.json), timed from spawn to exit; peak RSS from GNU time (mocha's node).",
        "",
        "| figure | median | min | max | runs | reproduce |",
        "|---|---|---|---|---:|---|",
        `| wall time | ${ms(u.wallMs.median)} | ${ms(u.wallMs.min)} | ${ms(u.wallMs.max)} | ${u.wallMs.n} | \`${UNIT_COMMAND}\` |`,
        ...(u.rssKB ? [`| peak RSS | ${mb(u.rssKB.median)} | ${mb(u.rssKB.min)} | ${mb(u.rssKB.max)} | ${u.rssKB.n} | 〃 |`] : []),
        "",
        `Runs: ${u.summaries.join("; ")}.`,
        "",
    );
}
