/**
 * Before anything builds: every family's and service's context and Dockerfile exist under
 * build.contextRoot, and every Dockerfile builds on what the stack says (the chain proof). All
 * problems are reported at once as one pulumi.RunError, so `pulumi preview` prints a clean message.
 */
import * as pulumi from "@pulumi/pulumi";
import * as fs from "fs";
import * as path from "path";
import { buildPaths, Layout, resolveLayout, StackConfig } from "../config";
import { chainProblem, ChainExpectation } from "./chain";
import { DockerfileSyntaxError, parseDockerfile } from "./dockerfile";

/** What the preflight reads; the disk by default, a map in unit tests. */
export interface SourceFiles {
    /** "file", "dir", or undefined when nothing is there. */
    kind(p: string): "file" | "dir" | undefined;
    read(p: string): string;
}

/** The real checkout. */
export const diskFiles: SourceFiles = {
    kind(p) {
        try {
            const st = fs.statSync(p);
            return st.isDirectory() ? "dir" : st.isFile() ? "file" : undefined;
        } catch {
            return undefined;
        }
    },
    read: (p) => fs.readFileSync(p, "utf8"),
};

/** One image the stack builds, with where it is and what it must build on. */
export interface BuildEntry {
    /** "family base-utils (parent base-python)", "service NLU (family legacy-py310-cpu)". */
    label: string;
    /** Key path of the entry, e.g. `ai-fleet:services.NLU`. */
    key: string;
    context: string;
    dockerfile: string;
    expect: ChainExpectation;
}

/** Every image the stack builds, families first, with its paths from the layout. */
export function buildEntries(stack: Pick<StackConfig, "families" | "services" | "build">): BuildEntry[] {
    const layout: Layout = resolveLayout(stack.build.layout);
    const out: BuildEntry[] = [];
    for (const [name, fam] of Object.entries(stack.families).sort(([a], [b]) => a.localeCompare(b))) {
        const expect: ChainExpectation =
            fam.parent !== undefined ? { kind: "parent", parent: fam.parent } : { kind: "external", baseImage: fam.baseImage as string };
        const label = `family ${name} (${fam.parent !== undefined ? `parent ${fam.parent}` : `baseImage ${fam.baseImage}`})`;
        out.push({ label, key: `ai-fleet:families.${name}`, ...buildPaths("families", name, fam, layout), expect });
    }
    for (const [name, svc] of Object.entries(stack.services).sort(([a], [b]) => a.localeCompare(b))) {
        out.push({
            label: `service ${name} (family ${svc.family})`,
            key: `ai-fleet:services.${name}`,
            ...buildPaths("services", name, svc, layout),
            expect: { kind: "parent", parent: svc.family },
        });
    }
    return out;
}

/** Every problem of the checkout for this stack, each naming the entry and the path. */
export function preflightProblems(stack: Pick<StackConfig, "families" | "services" | "build">, root: string, files: SourceFiles): string[] {
    const shown = stack.build.contextRoot;
    if (files.kind(root) !== "dir") {
        return [
            `ai-fleet:build.contextRoot: ${shown} (${root}) is not a directory: check out the AI system's repository there, or point build.contextRoot at it`,
        ];
    }
    const problems: string[] = [];
    for (const e of buildEntries(stack)) {
        if (files.kind(path.join(root, e.context)) !== "dir") {
            problems.push(`${e.label}: build context ${e.context} is not a directory under ${shown} (${e.key}.context or build.layout)`);
        }
        const file = path.join(root, e.dockerfile);
        if (files.kind(file) !== "file") {
            problems.push(
                `${e.label}: Dockerfile ${e.dockerfile} not found under ${shown} (${e.key}.dockerfile, ${e.key}.dir or build.layout)`,
            );
            continue;
        }
        try {
            const problem = chainProblem(parseDockerfile(files.read(file)), e.expect);
            if (problem) {
                problems.push(`${e.label}: ${e.dockerfile}:${problem.line}: ${problem.message}`);
            }
        } catch (err) {
            if (!(err instanceof DockerfileSyntaxError)) throw err;
            problems.push(`${e.label}: ${e.dockerfile}:${err.line}: ${err.message.replace(/^line \d+: /, "")}`);
        }
    }
    return problems;
}

/** The message of a failed preflight. */
export function preflightMessage(contextRoot: string, problems: string[]): string {
    const hint = problems.some((p) => p.includes("instead of ${BASE_IMAGE}"))
        ? `\nA hard-coded base ignores the image the program just built. Rewrite it with \`npm run adopt-dockerfiles -- ${contextRoot} --stack ${stackName()}\` (ARG BASE_IMAGE=<the old reference> + FROM \${BASE_IMAGE}; hand builds keep working).`
        : "";
    return `the build contexts under ${contextRoot} are not ready (${problems.length} problem${problems.length === 1 ? "" : "s"}):\n${problems.map((p) => `  - ${p}`).join("\n")}${hint}`;
}

function stackName(): string {
    try {
        return pulumi.getStack() || "<stack>";
    } catch {
        return "<stack>";
    }
}

/**
 * Runs the checks unless the phase builds nothing (`deploy`); throws one pulumi.RunError with
 * every problem. `cwd` is where build.contextRoot is relative to (the project directory).
 */
export function preflight(
    stack: Pick<StackConfig, "families" | "services" | "build" | "phase">,
    opts: { cwd?: string; files?: SourceFiles } = {},
): void {
    if (stack.phase === "deploy") {
        return;
    }
    const root = path.resolve(opts.cwd ?? process.cwd(), stack.build.contextRoot);
    const problems = preflightProblems(stack, root, opts.files ?? diskFiles);
    if (problems.length > 0) {
        throw new pulumi.RunError(preflightMessage(stack.build.contextRoot, problems));
    }
}
