/**
 * Build-tree rules: what gets built, from where, and which images a stack takes. `build.layout` and
 * each entry's `context`/`dockerfile` resolve inside build.contextRoot, `build.sourceUrl` carries no
 * password, `families`/`services.<name>.buildArgs` leave the program's args alone, `registry.*` and
 * `build.cache` agree, `deploy.images` names this stack's images on registry.host. Values that
 * parse but would fail at build time or pull the wrong image.
 */
import * as path from "path";
import { parseImageRef } from "../../naming";
import { Issue } from "../issues";
import { buildPaths, LayoutEntry, LayoutSettings, pathProblem, resolveLayout, templateProblems } from "../layout";
import type { FamilyConfig, LayoutConfig, StackConfig } from "../schema";
import { entriesOf, isObject, keysOf, str, Unchecked, view } from "./unchecked";

type Build = StackConfig["build"];
type Registry = StackConfig["registry"];
type Deploy = NonNullable<StackConfig["deploy"]>;

/** Every build-tree rule, in the order an operator reads them. */
export function buildTreeRules(cfg: Unchecked<StackConfig>): Issue[] {
    return [
        ...layoutIssues(cfg),
        ...checkBuildPaths(cfg),
        ...checkSourceUrl(cfg),
        ...checkRegistry(cfg),
        ...checkBuildArgs(cfg),
        ...checkDeployNames(cfg),
        ...checkDeployRegistry(cfg),
    ];
}

/** The layout's templates resolve to paths inside build.contextRoot for every family and service. */
function layoutIssues(cfg: Unchecked<StackConfig>): Issue[] {
    const build = cfg.build;
    const layout = view<Build>(build).layout;
    if (!isObject(build) || (layout !== undefined && !isObject(layout))) {
        return [];
    }
    const layoutEntries = (v: unknown) => Object.fromEntries(entriesOf<LayoutEntry>(v)) as Record<string, LayoutEntry>;
    return layoutPathIssues(layout as LayoutConfig | undefined, layoutEntries(cfg.families), layoutEntries(cfg.services));
}

/** `build.sourceUrl` carries no password or token (it would be baked into every image's labels). */
function checkSourceUrl(cfg: Unchecked<StackConfig>): Issue[] {
    const sourceUrl = str(view<Build>(cfg.build).sourceUrl);
    if (sourceUrl !== undefined && /^[a-z][a-z0-9+.-]*:\/\/[^@/\s]*:[^@/\s]*@/i.test(sourceUrl)) {
        return [
            {
                path: ["build", "sourceUrl"],
                message:
                    "the URL carries a password or token in plaintext (it would be baked into every image's labels); expected a URL without credentials",
            },
        ];
    }
    return [];
}

/** Build args the program sets from the machine profile and the family chain: a config value would be overwritten. */
export const PROGRAM_BUILD_ARGS = ["MACHINE", "TORCH_CUDA_ARCH_LIST", "BASE_IMAGE"] as const;

/**
 * Why a path under build.contextRoot is not one, or undefined when it is fine. Contexts and
 * Dockerfiles are relative to build.contextRoot; `..` that climbs out of it, or an absolute path,
 * would build from whatever is beside the checkout (or fail there), not from the checkout.
 */
export function contextPathProblem(p: string, kind: "context" | "dockerfile"): string | undefined {
    if (path.posix.isAbsolute(p) || path.win32.isAbsolute(p)) {
        return `expected a path relative to build.contextRoot, got the absolute path "${p}"`;
    }
    const norm = path.posix.normalize(p.replace(/\\/g, "/"));
    if (norm === ".." || norm.startsWith("../")) {
        return `"${p}" leaves build.contextRoot (it resolves to "${norm}"); expected a path inside the checkout`;
    }
    if (kind === "dockerfile" && (norm === "." || p.endsWith("/"))) {
        return `"${p}" names a directory; expected the path of a Dockerfile, e.g. "${norm === "." ? "" : norm.replace(/\/$/, "") + "/"}Dockerfile"`;
    }
    return undefined;
}

/** Context and Dockerfile of every family and service stay inside build.contextRoot. */
function checkBuildPaths(cfg: Unchecked<StackConfig>): Issue[] {
    const issues: Issue[] = [];
    for (const group of ["families", "services"] as const) {
        for (const [name, item] of entriesOf<LayoutEntry>(cfg[group])) {
            for (const kind of ["context", "dockerfile"] as const) {
                const p = str(item[kind]);
                const problem = p !== undefined && p.length > 0 ? contextPathProblem(p, kind) : undefined;
                if (problem) {
                    issues.push({ path: [group, name, kind], message: problem });
                }
            }
        }
    }
    return issues;
}

/** True for an IP literal on the loopback interface, or localhost. */
function isLoopback(host: string): boolean {
    const h = host.replace(/:[0-9]+$/, "");
    return h === "localhost" || /^127\.[0-9]+\.[0-9]+\.[0-9]+$/.test(h) || h === "[::1]" || h === "::1";
}

/**
 * The registry settings agree with each other: the build cache lives on the registry the builds
 * have credentials for, and plain HTTP is only for a loopback registry (what README and docker allow).
 */
function checkRegistry(cfg: Unchecked<StackConfig>): Issue[] {
    const issues: Issue[] = [];
    const registry = view<Registry>(cfg.registry);
    const host = str(registry.host);
    const cacheRef = str(view<NonNullable<Build["cache"]>>(view<Build>(cfg.build).cache).ref);
    if (host && cacheRef !== undefined) {
        const ref = parseImageRef(cacheRef);
        const cacheHost = ref?.registry ?? "docker.io";
        if (ref && cacheHost !== host) {
            issues.push({
                path: ["build", "cache", "ref"],
                message: `the cache "${cacheRef}" is on ${cacheHost}, but the builds only have credentials for registry.host (${host}); expected a repository on ${host}, e.g. "${host}/${typeof registry.org === "string" ? registry.org : "org"}/cache"`,
            });
        }
    }
    if (host && registry.insecure === true && !isLoopback(host)) {
        issues.push({
            path: ["registry", "insecure"],
            message: `plain HTTP is for a loopback registry only, and ${host} is not one; expected insecure: false (HTTPS)`,
        });
    }
    return issues;
}

/** Build args the program owns (the profile's and BASE_IMAGE) would be overwritten silently: say so. */
function checkBuildArgs(cfg: Unchecked<StackConfig>): Issue[] {
    const issues: Issue[] = [];
    for (const group of ["families", "services"] as const) {
        for (const [name, item] of entriesOf<FamilyConfig>(cfg[group])) {
            const args = view<FamilyConfig["buildArgs"]>(item.buildArgs);
            for (const key of PROGRAM_BUILD_ARGS.filter((k) => k in args)) {
                const from =
                    key === "BASE_IMAGE"
                        ? group === "families"
                            ? "the family's parent or baseImage"
                            : "the service's family"
                        : "the machine profile";
                issues.push({
                    path: [group, name, "buildArgs", key],
                    message: `${key} is set by the program from ${from}; a value here would be ignored. Remove it (change ${from} instead)`,
                });
            }
        }
    }
    return issues;
}

/** deploy.images keys name a service or a family of this stack. */
function checkDeployNames(cfg: Unchecked<StackConfig>): Issue[] {
    const images = view<Deploy>(cfg.deploy).images;
    const services = keysOf(cfg.services);
    const families = keysOf(cfg.families);
    const known = new Set([...services, ...families]);
    return keysOf(images)
        .filter((k) => !known.has(k))
        .map((k) => ({
            path: ["deploy", "images", k],
            message: `"${k}" names no service or family of this stack (services: ${services.sort().join(", ") || "none"})`,
        }));
}

/**
 * deploy.images references live on registry.host: the verification and the machine's pull only
 * have credentials for it.
 */
function checkDeployRegistry(cfg: Unchecked<StackConfig>): Issue[] {
    const host = str(view<Registry>(cfg.registry).host);
    const images = view<NonNullable<Deploy["images"]>>(view<Deploy>(cfg.deploy).images);
    const issues: Issue[] = [];
    for (const [name, ref] of Object.entries(images)) {
        const parsed = typeof ref === "string" ? parseImageRef(ref) : undefined;
        const at = parsed ? (parsed.registry ?? "docker.io") : undefined;
        if (host && at && at !== host) {
            issues.push({
                path: ["deploy", "images", name],
                message: `"${ref}" is on ${at}, but the verification and the machine only have credentials for registry.host (${host}); expected an image on ${host}`,
            });
        }
    }
    return issues;
}

/**
 * Resolved paths that leave build.contextRoot, with the key path to blame: a template can only be
 * judged once filled in. A template wrong on its own is the schema's to report (once, at its key),
 * and a Dockerfile under a wrong context is that context's problem.
 */
function layoutPathIssues(
    layout: LayoutSettings | undefined,
    families: Record<string, LayoutEntry>,
    services: Record<string, LayoutEntry>,
): Issue[] {
    const resolved = resolveLayout(layout);
    const issues: Issue[] = [];
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
