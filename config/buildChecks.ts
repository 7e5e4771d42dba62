/**
 * Checks of what gets built and from where: build contexts and Dockerfiles inside
 * build.contextRoot, build args the program owns, the registry and its build cache, and the images
 * a deploy-phase stack names. Values that parse but would fail at build time or pull the wrong
 * image; each check skips what has the wrong shape (the schema reports that).
 */
import * as path from "path";
import { parseImageRef } from "../naming";
import { entries, Issue, isObject, Loose } from "./issues";

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
export function checkBuildPaths(cfg: Loose): Issue[] {
    const issues: Issue[] = [];
    for (const group of ["families", "services"] as const) {
        for (const [name, item] of entries(cfg[group])) {
            for (const kind of ["context", "dockerfile"] as const) {
                const p = item[kind];
                const problem = typeof p === "string" && p.length > 0 ? contextPathProblem(p, kind) : undefined;
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
export function checkRegistry(cfg: Loose): Issue[] {
    const issues: Issue[] = [];
    const registry = isObject(cfg.registry) ? cfg.registry : {};
    const host = typeof registry.host === "string" ? registry.host : undefined;
    const build = isObject(cfg.build) ? cfg.build : {};
    const cache = isObject(build.cache) ? build.cache : undefined;
    if (host && typeof cache?.ref === "string") {
        const ref = parseImageRef(cache.ref);
        const cacheHost = ref?.registry ?? "docker.io";
        if (ref && cacheHost !== host) {
            issues.push({
                path: ["build", "cache", "ref"],
                message: `the cache "${cache.ref}" is on ${cacheHost}, but the builds only have credentials for registry.host (${host}); expected a repository on ${host}, e.g. "${host}/${typeof registry.org === "string" ? registry.org : "org"}/cache"`,
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
export function checkBuildArgs(cfg: Loose): Issue[] {
    const issues: Issue[] = [];
    for (const group of ["families", "services"] as const) {
        for (const [name, item] of entries(cfg[group])) {
            const args = isObject(item.buildArgs) ? item.buildArgs : {};
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
export function checkDeployNames(cfg: Loose): Issue[] {
    const deploy = isObject(cfg.deploy) ? cfg.deploy : {};
    const images = isObject(deploy.images) ? deploy.images : {};
    const services = isObject(cfg.services) ? Object.keys(cfg.services) : [];
    const families = isObject(cfg.families) ? Object.keys(cfg.families) : [];
    const known = new Set([...services, ...families]);
    return Object.keys(images)
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
export function checkDeployRegistry(cfg: Loose): Issue[] {
    const registry = isObject(cfg.registry) ? cfg.registry : {};
    const host = typeof registry.host === "string" ? registry.host : undefined;
    const deploy = isObject(cfg.deploy) ? cfg.deploy : {};
    const images = isObject(deploy.images) ? deploy.images : {};
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
