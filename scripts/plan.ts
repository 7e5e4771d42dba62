/**
 * `npm run plan -- --stack mainpc [--out plan-mainpc.svg]`: the rollout order of a stack (of each
 * machine of a fleet stack, `plan-fleet-<machine>.svg`) before
 * anything happens — levels, waves, the critical path, what the canary needs and what it gates,
 * cross-machine and excluded dependencies — printed, and drawn as SVG by Graphviz (WebAssembly,
 * @viz-js/viz: no system package needed). Reads the stack file; talks to no engine or machine.
 */
import * as fs from "fs";
import * as path from "path";
import { ConfigError, isFleetStack, parseFleetStack, parseStackConfig, StackConfig } from "../config";
import { RolloutPlan, rolloutPlanOf } from "../graph";
import { PROJECT_DIR, readStackFile } from "../stackFile";

/** The plan as text, one fact per line, for the terminal. */
export function planText(stackName: string, stack: StackConfig, plan: RolloutPlan): string {
    const lines: string[] = [];
    const count = Object.keys(plan.services).length;
    lines.push(
        `stack ${stackName}: ${count} services, ${plan.levels.length} dependency levels (${plan.levels.map((l) => l.length).join(" / ")})`,
    );
    plan.levels.forEach((names, i) => lines.push(`  level ${i}: ${names.join(", ")}`));
    lines.push(
        `rollout waves (gated services also wait for the canary): ${plan.waves.length} (${plan.waves.map((w) => w.length).join(" / ")})`,
    );
    lines.push(`critical path (${plan.criticalPath.length} health checks one after another): ${plan.criticalPath.join(" → ")}`);
    if (stack.rollout.canary.length > 0) {
        lines.push(`canary: ${stack.rollout.canary.join(", ")}`);
        lines.push(`  needs first (${plan.canaryDependencies.length}): ${plan.canaryDependencies.join(", ") || "nothing"}`);
        lines.push(`  gates (${plan.gated.length}): ${plan.gated.join(", ")}`);
    }
    if (stack.rollout.gateStack) {
        lines.push(
            `gate stack: ${stack.rollout.gateStack}: its canary report must be healthy at this release before the ${plan.gated.length} gated services`,
        );
    }
    for (const s of Object.values(plan.services)) {
        for (const r of s.remote) {
            lines.push(
                `cross-machine: ${s.name} waits for ${r.service} on ${r.stack} (healthy at this release in ${r.stack}'s report); nothing else waits for it`,
            );
        }
        for (const e of s.excluded) {
            lines.push(`excluded: ${s.name} lists ${e}, not deployed here: ${stack.rollout.excluded[e]}`);
        }
    }
    const optional = Object.values(plan.services)
        .filter((s) => !s.required)
        .map((s) => s.name);
    if (optional.length > 0) {
        lines.push(`optional (a failed check warns, holds nothing back): ${optional.join(", ")}`);
    }
    return lines.join("\n");
}

function quote(s: string): string {
    return `"${s.replace(/"/g, '\\"')}"`;
}

/** The plan as a Graphviz graph: dependencies point at what waits for them; ranks are rollout waves. */
export function planDot(stackName: string, stack: StackConfig, plan: RolloutPlan): string {
    const out: string[] = [];
    const critical = new Set(plan.criticalPath.slice(1).map((n, i) => `${plan.criticalPath[i]}->${n}`));
    out.push(`digraph ${quote(`rollout ${stackName}`)} {`);
    out.push(
        `  graph [rankdir=LR, ranksep=0.9, nodesep=0.12, fontname="Helvetica", label=${quote(`${stackName}: rollout order (critical path in red; dashed: optional)`)}, labelloc=t];`,
    );
    out.push(`  node [shape=box, style="rounded,filled", fillcolor="#eef3fb", fontname="Helvetica", fontsize=10, margin="0.15,0.04"];`);
    out.push(`  edge [color="#8899aa", arrowsize=0.6];`);
    const node = (n: string): string => {
        const s = plan.services[n];
        const fill = s.group === "canary" ? "#ffd98a" : s.group === "canary-dependency" ? "#cfe8cf" : "#eef3fb";
        const style = s.required ? "rounded,filled" : "rounded,filled,dashed";
        return `    ${quote(n)} [fillcolor=${quote(fill)}, style=${quote(style)}];`;
    };
    plan.waves.forEach((names, i) => {
        out.push(`  subgraph ${quote(`wave${i}`)} { rank=same;`);
        names.forEach((n) => out.push(node(n)));
        out.push("  }");
    });
    const hasGate = stack.rollout.canary.length > 0 && plan.gated.length > 0;
    if (hasGate || stack.rollout.gateStack) {
        out.push(`  "canary gate" [shape=diamond, style=filled, fillcolor="#ffd98a", fontsize=9];`);
        stack.rollout.canary.forEach((c) => out.push(`  ${quote(c)} -> "canary gate" [color="#c08a00"];`));
        if (stack.rollout.gateStack) {
            out.push(`  ${quote(`${stack.rollout.gateStack} canary`)} [shape=note, fillcolor="#ffe9b8"];`);
            out.push(`  ${quote(`${stack.rollout.gateStack} canary`)} -> "canary gate" [style=dashed];`);
        }
        // One edge from the gate to each gated service that waits on nothing else gated: fewer lines, same order.
        plan.gated
            .filter((n) => plan.services[n].waitsFor.every((d) => plan.services[d].group !== "gated"))
            .forEach((n) => out.push(`  "canary gate" -> ${quote(n)} [color="#c08a00"];`));
    }
    for (const s of Object.values(plan.services)) {
        for (const d of s.waitsFor) {
            const hot = critical.has(`${d}->${s.name}`);
            out.push(`  ${quote(d)} -> ${quote(s.name)}${hot ? ' [color="#d62728", penwidth=2.5]' : ""};`);
        }
        for (const r of s.remote) {
            const id = `${r.stack}/${r.service}`;
            out.push(
                `  ${quote(id)} [shape=box, style="rounded,dashed", fillcolor=white, label=${quote(`${r.service}\n(on ${r.stack})`)}];`,
            );
            out.push(`  ${quote(id)} -> ${quote(s.name)} [style=dashed, color="#1f77b4"];`);
        }
        for (const e of s.excluded) {
            out.push(
                `  ${quote(e)} [shape=box, style="rounded,dotted", fillcolor=white, fontcolor="#888888", label=${quote(`${e}\n(excluded)`)}];`,
            );
            out.push(`  ${quote(e)} -> ${quote(s.name)} [style=dotted, color="#aaaaaa"];`);
        }
    }
    // The critical path through the canary gate: drawn from the canary straight to the gated service.
    plan.criticalPath.forEach((n, i) => {
        const next = plan.criticalPath[i + 1];
        if (next && !plan.services[next].waitsFor.includes(n)) {
            out.push(
                `  ${quote(n)} -> ${quote(next)} [color="#d62728", penwidth=2.5, style=bold, label="canary gate", fontsize=8, fontcolor="#d62728"];`,
            );
        }
    });
    out.push(`  subgraph cluster_legend { label="legend"; fontsize=9; style=dashed;`);
    out.push(
        `    "canary dependency" [fillcolor="#cfe8cf"]; "canary" [fillcolor="#ffd98a"]; "gated by the canary" [fillcolor="#eef3fb"]; "optional" [style="rounded,filled,dashed"];`,
    );
    out.push(`  }`);
    out.push("}");
    return out.join("\n");
}

/** SVG of a DOT graph, drawn by Graphviz compiled to WebAssembly. */
export async function renderSvg(dot: string): Promise<string> {
    // eslint-disable-next-line @typescript-eslint/no-require-imports -- loaded lazily
    const viz = await (require("@viz-js/viz") as typeof import("@viz-js/viz")).instance();
    return viz.renderString(dot, { format: "svg" });
}

function arg(argv: string[], name: string): string | undefined {
    const i = argv.indexOf(name);
    return i >= 0 ? argv[i + 1] : argv.find((a) => a.startsWith(`${name}=`))?.slice(name.length + 1);
}

/** The command: prints the plan and writes its picture; returns the exit code. */
export async function planCommand(argv: string[]): Promise<number> {
    const stackName = arg(argv, "--stack");
    if (!stackName) {
        process.stderr.write("usage: npm run plan -- --stack <mainpc|pc2|local|fleet> [--out FILE.svg]\n");
        return 2;
    }
    // A machine stack: its plan. A fleet stack: each machine's, in rollout order (one picture each).
    let plans: { name: string; stack: StackConfig }[];
    try {
        const raw = readStackFile(stackName);
        plans = isFleetStack(raw)
            ? parseFleetStack(raw, { dir: PROJECT_DIR, organization: "organization" }).machines.map((m) => ({
                  name: m.stack,
                  stack: m.config.stack,
              }))
            : [{ name: stackName, stack: parseStackConfig(raw).stack }];
    } catch (e) {
        if (e instanceof ConfigError || (e instanceof Error && e.message.startsWith("no stack file"))) {
            process.stderr.write(`${e.message}\n`);
            return 1;
        }
        throw e;
    }
    const outFile = arg(argv, "--out") ?? `plan-${stackName}.svg`;
    for (const { name, stack } of plans) {
        const plan = rolloutPlanOf(stack);
        const title = name === stackName ? name : `${stackName}: machine stack ${name}`;
        process.stdout.write(planText(title, stack, plan) + "\n");
        const file = plans.length === 1 ? outFile : `${outFile.replace(/\.svg$/, "")}-${name}.svg`;
        const out = path.resolve(file);
        fs.writeFileSync(out, await renderSvg(planDot(title, stack, plan)));
        process.stdout.write(`picture: ${out} (open it in a browser)\n`);
    }
    return 0;
}

if (require.main === module) {
    planCommand(process.argv.slice(2)).then((code) => process.exit(code));
}
