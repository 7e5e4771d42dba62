/**
 * Turns the bench's results file (bench/.work/results.json) into Markdown: the issue's targets at
 * the top (measured vs target, met / not met), then each part. Measures nothing; `npm run bench --
 * --render` re-renders the last run. The engine, gate and unit sections are in bench/renderParts.ts.
 */
import * as fs from "fs";
import { explain, Price, priceList } from "./cost";
import type { EvaluationResult, Measured } from "./evaluation";
import { fit, mb, ms } from "./lib";
import type { ProfileSummary } from "./profile";
import { blastSection, cell, engineSection, gateSection, unitSection, x } from "./renderParts";
import { PARTS, Results, targets, verdict } from "./results";

function header(r: Results, lines: string[]): void {
    const m = r.machine;
    const started = new Date(r.startedAt);
    const minutes = r.finishedAt ? `, ${((new Date(r.finishedAt).getTime() - started.getTime()) / 60000).toFixed(1)} min in all` : "";
    const per = Object.entries(r.partSeconds)
        .map(([p, s]) => `${p} ${(s ?? 0).toFixed(0)} s`)
        .join(", ");
    const loads = r.loads.length ? `${Math.min(...r.loads).toFixed(2)} – ${Math.max(...r.loads).toFixed(2)}` : "unknown";
    lines.push(
        "# Bench results",
        "",
        `Written by \`npm run bench\` (bench/run.ts measures into bench/.work/results.json, bench/render.ts writes this file). ` +
            `Date: ${r.startedAt.slice(0, 16).replace("T", " ")} UTC${minutes} (${per}). ` +
            `Machine: ${m.cores} cores (${m.cpuModel}), ${m.memoryGiB.toFixed(1)} GiB memory, ${m.os}, Node.js ${m.node}.`,
        "",
        `Repository at commit ${r.commits.start} when the run started` +
            (r.commits.end && r.commits.end !== r.commits.start ? `, ${r.commits.end} when it ended.` : " and when it ended."),
        "",
        "Each figure: median (min – max) of the runs shown. Nothing is asserted: these are measurements. Other work on the machine moves wall times; " +
            `the 1-minute load average when the parts started ranged ${loads} on ${m.cores} cores. CPU time is less sensitive to that than wall time.`,
        "",
    );
}

function targetSection(r: Results, lines: string[]): void {
    lines.push(
        "## Targets (issue 19, point 5: cost)",
        "",
        "| | figure | measured | target | verdict | reproduce |",
        "|---|---|---|---|---|---|",
    );
    targets(r).forEach((t, i) => lines.push(`| ${i + 1} | ${t.what} | ${t.measured} | ${t.target} | **${verdict(t)}** | ${t.reproduce} |`));
    lines.push(
        "",
        'Each target is judged on the median of its runs (a ratio: the median of its per-pair ratios), the limit inclusive. Where a target is missed, "Where the cost goes" (section 1) prices each resource type and explains the fleet\'s evaluation with it.',
        "",
    );
}

function evaluationSection(p: EvaluationResult, lines: string[]): void {
    const find = (w: string, v = "lean") => p.measured.find((m) => m.workload === w && m.variant === v);
    const empty = find("empty");
    lines.push("## 1. Evaluation under the language host's loader (mocks, no engine)", "");
    lines.push(
        "`deploy()` evaluated under the shared mocks (testkit/mocks.ts, the unit tests' answers), every exported Output awaited and every outstanding",
        "registration drained (`waitForRPCs`). One child process per run: `node bench/host.js bench/program.ts …`, where bench/host.js loads the program as",
        "`pulumi up`'s Node.js language host does (@pulumi/pulumi's cmd/run/index.js and run.js): source-map-support/register first, then ts-node's",
        "register() with run.js's options (the tsconfig Pulumi.yaml names, as PULUMI_NODEJS_TSCONFIG_PATH: tsconfig.pulumi.json, whose noCheck makes it",
        "transpile only; run.js's default compiler options under that file's own), then the program. The child installs `leanPromiseStacks()` before any resource, as index.ts does; **full** =",
        "`AI_FLEET_PROMISE_STACKS=full` (it stays off). **evaluation** = from the modules loaded to the whole graph resolved (config parse + `deploy()` +",
        "outputs), **evaluation CPU** = the child's CPU time in that span; **load** = start to the modules loaded (ts-node compiling); **process** = spawn to exit; **peak RSS** = the child's maxRSS;",
        "**CPU** = its user + system time. Generated fleets: mainpc's families, registry and rollout with N services (`Svc0000…`, 3 canaries).",
        "",
        "| workload | promise stacks | services | resources | runs | evaluation | evaluation CPU | load | process | peak RSS | × empty | CPU | reproduce |",
        "|---|---|---:|---:|---:|---|---|---|---|---|---:|---|---|",
    );
    for (const m of p.measured) {
        const rss = empty && m.workload !== "empty" ? x(m.rssKB.median / empty.rssKB.median) : "";
        lines.push(
            `| ${m.label} | ${m.variant} | ${m.services} | ${m.resources} | ${m.evalMs.n} | ${cell(m.evalMs, ms)} | ${cell(m.evalCpuMs, ms)} | ${cell(m.loadMs, ms)} | ${cell(m.wallMs, ms)} | ${cell(m.rssKB, mb)} | ${rss} | ${cell(m.cpuMs, ms)} | \`${m.command}\` |`,
        );
    }
    const lean = find("mainpc");
    const full = find("mainpc", "full");
    if (lean && full) {
        lines.push(
            "",
            `**The lever, before/after** (mainpc, runs alternating): AI_FLEET_PROMISE_STACKS=full ${ms(full.evalMs.median)} → leanPromiseStacks() ${ms(lean.evalMs.median)} ` +
                `(${x(full.evalMs.median / lean.evalMs.median)} faster), evaluation CPU ${ms(full.evalCpuMs.median)} → ${ms(lean.evalCpuMs.median)}, peak RSS ${mb(full.rssKB.median)} → ${mb(lean.rssKB.median)}.`,
        );
    }
    growthSection(p, lines);
    costSection(p, lines);
    memorySection(find("gen1000"), lines);
}

/** Issue 19: the price of each resource type alone, and the workloads explained as the sum of their resources. */
function costSection(p: EvaluationResult, lines: string[]): void {
    const list = priceList(p);
    if (!list) {
        return;
    }
    const { base, prices, n } = list;
    const kib = (v: number) => `${v.toFixed(0)} KiB`;
    const msd = (v: number) => `${v.toFixed(2)} ms`;
    lines.push(
        "### Where the cost goes: a price per resource type",
        "",
        `${n / 10} and ${n} registrations of one resource type alone (\`program.ts type <kind> <N>\`: the floor's inputs, same loader, mocks and leanPromiseStacks()), ` +
            `beside the same program registering none (\`program.ts floor 0\`: ${cell(base.evalMs, ms)} evaluation, ${cell(base.rssKB, mb)} peak RSS). ` +
            `Per registration = the slope of the medians from ${n / 10} to ${n}; once = what ${n / 10} cost beyond ${n / 10} × that and the baseline (the type's module on first use, warming up).`,
        "",
        `| resource type | ${n / 10} alone: evaluation | ${n} alone: evaluation | evaluation CPU | peak RSS | per registration: evaluation | evaluation CPU | peak RSS | once: evaluation | evaluation CPU | peak RSS |`,
        "|---|---|---|---|---|---:|---:|---:|---:|---:|---:|",
    );
    for (const pr of prices) {
        const m = pr.alone;
        lines.push(
            `| ${pr.label} (\`${pr.type}\`) | ${cell(pr.small.evalMs, ms)} | ${cell(m.evalMs, ms)} | ${cell(m.evalCpuMs, ms)} | ${cell(m.rssKB, mb)} | ` +
                `${msd(pr.evalMs)} | ${msd(pr.evalCpuMs)} | ${kib(pr.rssKB)} | ${ms(pr.once.evalMs)} | ${ms(pr.once.evalCpuMs)} | ${mb(pr.once.rssKB)} |`,
        );
    }
    const find = (w: string) => p.measured.find((m) => m.workload === w && m.variant === "lean");
    // The generated fleets at every size measured: how "the rest" grows with the number of services.
    const gens = ["gen10", "gen100", "gen1000"].map(find);
    const rows = [find(`floor${n}`), ...gens, find("mainpc"), find("operator-mainpc")].filter((m): m is Measured => !!m);
    const rest = (v: number, f: (v: number) => string) => (v < 0 ? `−${f(-v)}` : f(v));
    const pct = (measured: number, explained: number) => rest(((measured - explained) / measured) * 100, (v) => `${v.toFixed(0)}%`);
    lines.push(
        "",
        "**Explained vs measured**: each workload's evaluation as the baseline plus, per resource type it registered (the mocks' counts), once + count × price; " +
            "its own components (`ai-fleet:…`) are priced as a bare component. The rest = measured − explained: the program's own work (config, preflight, wiring, " +
            "module loading where it falls in the evaluation: index.ts on the operator's tree loads its modules inside it) and what its components cost beyond a bare one. " +
            "Peak RSS is a linear estimate (V8 collects when it likes).",
        "",
        "| workload | registrations | evaluation: measured / explained / rest | evaluation CPU: measured / explained / rest | peak RSS: measured / explained / rest |",
        "|---|---:|---|---|---|",
    );
    const fleet = find(`gen${n}`);
    for (const m of rows) {
        const e = explain(m, base, prices);
        if (!e) {
            continue;
        }
        const unpriced = e.unpriced ? ` (${e.unpriced} unpriced)` : "";
        lines.push(
            `| ${m.label} | ${m.resources}${unpriced} | ${ms(m.evalMs.median)} / ${ms(e.evalMs)} / ${rest(m.evalMs.median - e.evalMs, ms)} (${pct(m.evalMs.median, e.evalMs)}) | ` +
                `${ms(m.evalCpuMs.median)} / ${ms(e.evalCpuMs)} / ${rest(m.evalCpuMs.median - e.evalCpuMs, ms)} (${pct(m.evalCpuMs.median, e.evalCpuMs)}) | ` +
                `${mb(m.rssKB.median)} / ${mb(e.rssKB)} / ${rest(m.rssKB.median - e.rssKB, mb)} (${pct(m.rssKB.median, e.rssKB)}) |`,
        );
    }
    const fe = fleet && explain(fleet, base, prices);
    if (fleet && fe) {
        lines.push(
            "",
            `The ${n}-service fleet by type (${(fleet.resources / n).toFixed(1)} registrations per service):`,
            "",
            "| type | registrations | per service | priced as | evaluation | evaluation CPU | peak RSS |",
            "|---|---:|---:|---|---:|---:|---:|",
        );
        for (const row of fe.rows) {
            const pr = row.price;
            lines.push(
                `| \`${row.type}\` | ${row.count} | ${(row.count / n).toFixed(2)} | ${pr ? pr.label : "not priced"} | ${pr ? ms(row.count * pr.evalMs) : "–"} | ${pr ? ms(row.count * pr.evalCpuMs) : "–"} | ${pr ? mb(row.count * pr.rssKB) : "–"} |`,
            );
        }
        const once = (f: (pr: Price) => number) => fe.once.reduce((sum, pr) => sum + f(pr), 0);
        lines.push(
            `| once per type used (${fe.once.length}) | | | | ${ms(once((pr) => pr.once.evalMs))} | ${ms(once((pr) => pr.once.evalCpuMs))} | ${mb(once((pr) => pr.once.rssKB))} |`,
            `| baseline (no resource) | | | | ${ms(base.evalMs.median)} | ${ms(base.evalCpuMs.median)} | ${mb(base.rssKB.median)} |`,
            `| **explained** | ${fleet.resources} | | | ${ms(fe.evalMs)} | ${ms(fe.evalCpuMs)} | ${mb(fe.rssKB)} |`,
            `| **measured** | | | | ${ms(fleet.evalMs.median)} | ${ms(fleet.evalCpuMs.median)} | ${mb(fleet.rssKB.median)} |`,
            `| **the rest** | | | | ${rest(fleet.evalMs.median - fe.evalMs, ms)} | ${rest(fleet.evalCpuMs.median - fe.evalCpuMs, ms)} | ${rest(fleet.rssKB.median - fe.rssKB, mb)} |`,
            "",
        );
    }
}

function growthSection(p: EvaluationResult, lines: string[]): void {
    const pts = ["gen10", "gen100", "gen1000"]
        .map((w) => p.measured.find((m) => m.workload === w && m.variant === "lean"))
        .filter((m): m is Measured => !!m);
    if (pts.length < 2) {
        return;
    }
    const fe = fit(pts.map((m) => [m.services, m.evalMs.median]));
    const fr = fit(pts.map((m) => [m.services, m.rssKB.median / 1024]));
    const seg = (a: Measured, b: Measured, f: (m: Measured) => number) => (f(b) - f(a)) / (b.services - a.services);
    lines.push(
        "",
        "### Growth with the number of services",
        "",
        `Least-squares line through the medians of the generated fleets (${pts.map((m) => m.services).join(", ")} services): cost = intercept + slope × services.`,
        "",
        "| figure | per service | intercept | R² | per added service, segment by segment |",
        "|---|---|---|---:|---|",
        `| evaluation | ${fe.slope.toFixed(1)} ms | ${ms(fe.intercept)} | ${fe.r2.toFixed(4)} | ${pts
            .slice(1)
            .map((b, i) => `${pts[i].services}→${b.services}: ${seg(pts[i], b, (m) => m.evalMs.median).toFixed(1)} ms`)
            .join(", ")} |`,
        `| peak RSS | ${fr.slope.toFixed(2)} MiB | ${fr.intercept.toFixed(0)} MiB | ${fr.r2.toFixed(4)} | ${pts
            .slice(1)
            .map((b, i) => `${pts[i].services}→${b.services}: ${seg(pts[i], b, (m) => m.rssKB.median / 1024).toFixed(2)} MiB`)
            .join(", ")} |`,
        `| resources | ${(pts[pts.length - 1].resources / pts[pts.length - 1].services).toFixed(1)} per service at ${pts[pts.length - 1].services} | | | |`,
        "",
    );
}

/** The heap figures of the 1000-service run, for work on memory. */
function memorySection(m: Measured | undefined, lines: string[]): void {
    if (!m) {
        return;
    }
    const mem = m.last.memory as Record<string, number> & { spacesMB?: Record<string, number> };
    const f = (v: number | undefined) => (v === undefined ? "–" : `${v.toFixed(0)} MiB`);
    const spaces = Object.entries(mem.spacesMB ?? {})
        .filter(([, v]) => v >= 1)
        .sort((a, b) => b[1] - a[1])
        .map(([k, v]) => `${k} ${v.toFixed(0)} MiB`)
        .join(", ");
    lines.push(
        "### Memory of the 1000-service run",
        "",
        `As bench/program.ts reports it once the graph is resolved (last run; \`BENCH_HEAP_SNAPSHOT=<file>\` in the child's environment also writes a V8 heap snapshot): ` +
            `peak RSS ${mb(m.rssKB.median)}; heap used ${f(mem.heapUsedMB)} of ${f(mem.heapTotalMB)} (sampled peak ${f(mem.peakHeapUsedMB)}; V8's limit ${f(mem.heapLimitMB)}); ` +
            `external ${f(mem.externalMB)}, array buffers ${f(mem.arrayBuffersMB)}, malloc peak ${f(mem.peakMallocedMB)}. By heap space: ${spaces}. ` +
            `That is ${((mem.heapUsedMB * 1024) / m.resources).toFixed(0)} KiB of heap per registered resource (${m.resources}).`,
        "",
    );
}

function profileSection(profiles: ProfileSummary[], lines: string[]): void {
    lines.push("## 2. Where mainpc's evaluation time goes (CPU profile)", "");
    lines.push(
        "One profiled run of the child per variant, same loader: the child profiles its evaluation alone (from the modules loaded to the graph resolved; " +
            "`BENCH_CPU_PROFILE=<file>`, `bench/.work/prof/*.cpuprofile`, open in Chrome DevTools). Shares are inclusive (a frame and what it calls), so they overlap.",
        "",
        `| share of CPU | ${profiles.map((p) => `${p.variant} (${ms(p.totalMs)} profiled, evaluation ${ms(p.evalMs)})`).join(" | ")} |`,
        `|---|${profiles.map(() => "---:").join("|")}|`,
    );
    profiles[0].shares.forEach((s, i) =>
        lines.push(`| ${s.label} | ${profiles.map((p) => `${p.shares[i].pct.toFixed(1)}%`).join(" | ")} |`),
    );
    lines.push("");
    for (const p of profiles) {
        lines.push(`Top self time, ${p.variant}: ${p.topSelf.map((t) => `\`${t.fn}\` ${t.pct.toFixed(1)}%`).join(", ")}.`, "");
    }
}

export function render(r: Results): string {
    const lines: string[] = [];
    header(r, lines);
    targetSection(r, lines);
    if (r.program) {
        evaluationSection(r.program, lines);
    }
    if (r.profile?.length) {
        profileSection(r.profile, lines);
    }
    if (r.engine) {
        engineSection(r.engine, lines);
        blastSection(r.engine, lines);
    }
    if (r.gate) {
        gateSection(r.gate, lines);
    }
    if (r.unit) {
        unitSection(r.unit, lines);
    }
    const nm = [
        ...(r.program?.notMeasured ?? []),
        ...(r.engine?.notMeasured ?? []),
        ...(r.gate?.notMeasured ?? []),
        ...r.errors.map((e) => ({ figure: `part ${e.part}`, why: e.why })),
    ];
    lines.push("## Not measured", "");
    if (nm.length === 0) {
        lines.push("Everything above was measured in this run.");
    }
    for (const n of nm) {
        lines.push(`- ${n.figure}: ${n.why.replace(/\s+/g, " ").slice(0, 700)}`);
    }
    for (const p of PARTS.filter((p) => !r.parts.includes(p))) {
        lines.push(`- part "${p}": not run (--only)`);
    }
    lines.push("");
    return lines.join("\n");
}

/** Writes the Markdown of `r` to `file`; returns the file. */
export function renderFile(r: Results, file: string): string {
    fs.writeFileSync(file, render(r));
    return file;
}
