/**
 * Where each family's and service's build context and Dockerfile are in the checkout: stack-level
 * templates (`build.layout`) with per-entry overrides: the template language and its expansion.
 * Pure functions; the templates' shape is in schema.ts, the rule on resolved paths in
 * rules/buildTree.ts, the file checks in buildTree/preflight.ts.
 */
import * as path from "path";
import { kebab, snake } from "../naming";

/** Placeholders a template may use. `{context}` only in a Dockerfile template. */
export const PLACEHOLDERS = {
    name: "the name as in the stack file (ModelOpsCoordinator, family-web)",
    lower: "the name in lowercase (modelopscoordinator)",
    snake: "the name in snake_case (model_ops_coordinator)",
    kebab: "the name in kebab-case (model-ops-coordinator)",
    dir: "the entry's `dir` key, default {lower}",
    context: "the entry's resolved build context (Dockerfile templates only)",
} as const;

/** One kind's templates. */
export interface LayoutRule {
    context: string;
    dockerfile: string;
}

/** Both kinds' templates. */
export interface Layout {
    families: LayoutRule;
    services: LayoutRule;
}

/** `build.layout` as the stack sets it: either kind's templates, each part optional. */
export interface LayoutSettings {
    families?: Partial<LayoutRule>;
    services?: Partial<LayoutRule>;
}

/** The layout when the stack sets none: the one the local stack and the demo tree use. */
export const DEFAULT_LAYOUT: Layout = {
    families: { context: "families/{name}", dockerfile: "{context}/Dockerfile" },
    services: { context: "{snake}", dockerfile: "{context}/Dockerfile" },
};

/** Problems of a template on its own: unknown placeholders, stray braces, absolute, leaving the root. */
export function templateProblems(template: string, kind: "context" | "dockerfile"): string[] {
    const problems: string[] = [];
    for (const m of template.matchAll(/\{([^{}]*)\}/g)) {
        if (!(m[1] in PLACEHOLDERS) || (m[1] === "context" && kind === "context")) {
            const known = Object.keys(PLACEHOLDERS).filter((p) => kind === "dockerfile" || p !== "context");
            problems.push(`unknown placeholder {${m[1]}} (known: ${known.map((p) => `{${p}}`).join(", ")})`);
        }
    }
    if (/[{}]/.test(template.replace(/\{[^{}]*\}/g, ""))) {
        problems.push("unbalanced { or }");
    }
    const p = pathProblem(template);
    if (p) problems.push(p);
    return problems;
}

/** Why a path relative to build.contextRoot is not one, or undefined. */
export function pathProblem(p: string): string | undefined {
    if (path.posix.isAbsolute(p) || path.win32.isAbsolute(p)) {
        return `"${p}" is absolute: expected a path relative to build.contextRoot`;
    }
    const n = path.posix.normalize(p);
    if (n === ".." || n.startsWith("../")) {
        return `"${p}" leaves build.contextRoot (through ..)`;
    }
    return undefined;
}

/** The stack's layout with defaults filled in. */
export function resolveLayout(layout: LayoutSettings | undefined): Layout {
    return {
        families: { ...DEFAULT_LAYOUT.families, ...stripUndefined(layout?.families) },
        services: { ...DEFAULT_LAYOUT.services, ...stripUndefined(layout?.services) },
    };
}

function stripUndefined<T extends object>(o: T | undefined): Partial<T> {
    return Object.fromEntries(Object.entries(o ?? {}).filter(([, v]) => v !== undefined)) as Partial<T>;
}

function expand(template: string, vars: Record<string, string>): string {
    return template.replace(/\{([a-z]+)\}/g, (all, k: string) => vars[k] ?? all);
}

function clean(p: string): string {
    const n = path.posix.normalize(p).replace(/\/+$/, "");
    return n === "" ? "." : n;
}

/** One entry's keys that decide its paths. */
export interface LayoutEntry {
    context?: string;
    dockerfile?: string;
    dir?: string;
}

/**
 * Context and Dockerfile of one family or service, relative to build.contextRoot: the entry's own
 * `context`/`dockerfile` (templates too) or else the stack's, with the placeholders filled in.
 */
export function buildPaths(
    kind: keyof Layout,
    name: string,
    entry: LayoutEntry,
    layout: Layout = DEFAULT_LAYOUT,
): { context: string; dockerfile: string } {
    const vars: Record<string, string> = { name, lower: name.toLowerCase(), snake: snake(name), kebab: kebab(name) };
    vars.dir = entry.dir ?? vars.lower;
    const context = clean(expand(entry.context ?? layout[kind].context, vars));
    const dockerfile = clean(expand(entry.dockerfile ?? layout[kind].dockerfile, { ...vars, context }));
    return { context, dockerfile };
}
