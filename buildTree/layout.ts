/**
 * Where each family's and service's build context and Dockerfile are in the checkout: stack-level
 * templates (`build.layout`) with per-entry overrides. Pure functions; the file checks live in
 * preflight.ts.
 */
import * as path from "path";
import { z } from "zod";
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

/** A template as a zod string: checked on its own at parse time, with the key path. */
export function pathTemplate(kind: "context" | "dockerfile") {
    return z
        .string()
        .min(1)
        .superRefine((t, ctx) => {
            for (const message of templateProblems(t, kind)) {
                ctx.addIssue({ code: "custom", message });
            }
        });
}

const RuleSchema = z.strictObject({
    /** Build context template. */
    context: pathTemplate("context").optional(),
    /** Dockerfile template. */
    dockerfile: pathTemplate("dockerfile").optional(),
});

/** `build.layout`: templates for families and services; each part defaults to DEFAULT_LAYOUT's. */
export const LayoutSchema = z.strictObject({
    families: RuleSchema.optional(),
    services: RuleSchema.optional(),
});

/** `dir`: a single directory name (no separators, not . or ..). */
export const dirName = z
    .string()
    .regex(/^(?!\.\.?$)[A-Za-z0-9._-]+$/, "expected one directory name (letters, digits, . _ -), e.g. nluagent");

/** The stack's layout with defaults filled in. */
export function resolveLayout(layout: z.infer<typeof LayoutSchema> | undefined): Layout {
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

/**
 * Resolved paths that leave build.contextRoot, with the key path to blame: a template can only be
 * judged once filled in. A template wrong on its own is the schema's to report (once, at its key),
 * and a Dockerfile under a wrong context is that context's problem.
 */
export function layoutPathIssues(
    layout: z.infer<typeof LayoutSchema> | undefined,
    families: Record<string, LayoutEntry>,
    services: Record<string, LayoutEntry>,
): { path: (string | number)[]; message: string }[] {
    const resolved = resolveLayout(layout);
    const issues: { path: (string | number)[]; message: string }[] = [];
    for (const [kind, entries] of [
        ["families", families],
        ["services", services],
    ] as const) {
        for (const [name, e] of Object.entries(entries)) {
            // Entries or templates of the wrong type are reported by the schema already.
            const strings = [e.context, e.dockerfile, e.dir, resolved[kind].context, resolved[kind].dockerfile];
            if (strings.some((v) => v !== undefined && typeof v !== "string")) continue;
            const paths = buildPaths(kind, name, e, resolved);
            let contextWrong = false;
            for (const key of ["context", "dockerfile"] as const) {
                const template = e[key] ?? resolved[kind][key];
                const skip: boolean = templateProblems(template, key).length > 0 || (contextWrong && template.includes("{context}"));
                const problem: string | undefined = skip ? undefined : pathProblem(paths[key]);
                contextWrong ||= key === "context" && (skip || problem !== undefined);
                if (problem) {
                    const where = e[key] !== undefined ? [kind, name, key] : ["build", "layout", kind, key];
                    issues.push({ path: where, message: `${kind === "families" ? "family" : "service"} ${name}: ${problem}` });
                }
            }
        }
    }
    return issues;
}
