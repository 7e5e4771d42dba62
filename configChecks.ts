/**
 * The stack-config checks that need more than a field's own type: values that parse but would fail
 * at build time, at run time or in another stack's rollout. Each returns issues with a key path;
 * config.ts reports them together with the schema's, before any resource is registered.
 *
 * The checks read a config that may be half broken (zod runs refinements even when some fields
 * failed their types), so every one of them skips what has the wrong shape: that is reported already.
 */
import { isIP } from "net";
import * as path from "path";
import { kebab, parseImageRef } from "./naming";
import { isSecretEnvName } from "./policy/secretNames";

/** One problem: where (the key path under `ai-fleet:`) and what was expected. */
export interface Issue {
    path: (string | number)[];
    message: string;
}

/** What parseStackConfig knows about the stack it runs for, beyond the config values. */
export interface StackContext {
    /** This stack as organization/project/stack (a gate or an image source naming it is an error). */
    self?: string;
    /**
     * The config keys present (without the `ai-fleet:` prefix), each with whether the engine holds
     * it as a secret (`pulumi config set --secret`): PULUMI_CONFIG_SECRET_KEYS through the SDK.
     * Undefined when the engine named no secret keys at all: then nothing is called plaintext.
     */
    secretness?: Record<string, boolean>;
}

/** Build args the program sets from the machine profile and the family chain: a config value would be overwritten. */
export const PROGRAM_BUILD_ARGS = ["MACHINE", "TORCH_CUDA_ARCH_LIST", "BASE_IMAGE"] as const;

type Loose = Record<string, unknown>;

function isObject(v: unknown): v is Loose {
    return v !== null && typeof v === "object" && !Array.isArray(v);
}

function entries(v: unknown): [string, Loose][] {
    return isObject(v) ? Object.entries(v).filter((e): e is [string, Loose] => isObject(e[1])) : [];
}

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

/** The four health-check bounds, as the probe (probes/health-probe.js) uses them. */
export interface HealthBounds {
    timeoutSeconds: number;
    intervalSeconds: number;
    retries: number;
    requestTimeoutSeconds: number;
}

/**
 * Bounds that contradict each other. The probe stops at whichever comes first, `retries` attempts
 * or `timeoutSeconds`; each attempt may take up to `requestTimeoutSeconds`, then waits `intervalSeconds`.
 */
export function healthBoundsIssues(h: Partial<HealthBounds>): Issue[] {
    const at = (key: keyof HealthBounds): (string | number)[] => ["rollout", "health", key];
    const { timeoutSeconds: t, intervalSeconds: i, retries: r, requestTimeoutSeconds: q } = h;
    const issues: Issue[] = [];
    if (typeof t !== "number" || typeof i !== "number") {
        return issues;
    }
    if (t < i) {
        issues.push({
            path: at("timeoutSeconds"),
            message: `timeoutSeconds (${t}) is shorter than one intervalSeconds (${i}): the check would give up before its second attempt; expected timeoutSeconds >= intervalSeconds`,
        });
    }
    if (typeof q === "number" && q > t) {
        issues.push({
            path: at("requestTimeoutSeconds"),
            message: `requestTimeoutSeconds (${q}) is longer than the whole timeoutSeconds (${t}); expected requestTimeoutSeconds <= timeoutSeconds`,
        });
    }
    if (typeof r === "number" && typeof q === "number" && Number.isInteger(r) && r >= 1) {
        // The longest the retries can last: every request waits out its timeout, then the interval.
        const longest = (r - 1) * i + r * q;
        if (longest < t) {
            issues.push({
                path: at("retries"),
                message: `${r} retries every ${i}s (requests of up to ${q}s) give up after at most ${longest}s, before timeoutSeconds (${t}s) can matter; expected retries >= ${Math.ceil((t + i) / (i + q))} or timeoutSeconds <= ${longest}`,
            });
        }
    }
    return issues;
}

/** Host name or IP literal (what a health check can call). */
function isHostName(s: string): boolean {
    return (
        isIP(s) !== 0 ||
        /^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/.test(s)
    );
}

/** True for an IP literal on the loopback interface, or localhost. */
function isLoopback(host: string): boolean {
    const h = host.replace(/:[0-9]+$/, "");
    return h === "localhost" || /^127\.[0-9]+\.[0-9]+\.[0-9]+$/.test(h) || h === "[::1]" || h === "::1";
}

/** docker.bindAddress is an IP address, healthHost a host, and no URL carries a password. */
export function checkAddresses(cfg: Loose): Issue[] {
    const issues: Issue[] = [];
    const docker = isObject(cfg.docker) ? cfg.docker : {};
    const bind = docker.bindAddress;
    if (typeof bind === "string" && isIP(bind) === 0) {
        const bare = bind.replace(/^\[(.*)\]$/, "$1");
        issues.push({
            path: ["docker", "bindAddress"],
            message:
                isIP(bare) !== 0
                    ? `"${bind}": expected an IP address without brackets, e.g. "${bare}"`
                    : `"${bind}" is not an IP address; expected an IPv4 or IPv6 address of the machine, e.g. "0.0.0.0", "127.0.0.1" or "::"`,
        });
    }
    const healthHost = docker.healthHost;
    if (typeof healthHost === "string" && healthHost.length > 0 && !isHostName(healthHost)) {
        issues.push({
            path: ["docker", "healthHost"],
            message: `"${healthHost}" is not a host name or IP address; expected e.g. "mainpc" or "192.168.1.20" (no scheme, port or path)`,
        });
    }
    if (typeof docker.host === "string" && /^ssh:\/\/[^@/\s]*:[^@/\s]*@/.test(docker.host)) {
        issues.push({
            path: ["docker", "host"],
            message:
                "the ssh URL carries a password in plaintext; expected ssh://user@host with a key from ~/.ssh (ssh-agent or ~/.ssh/config)",
        });
    }
    const build = isObject(cfg.build) ? cfg.build : {};
    if (typeof build.sourceUrl === "string" && /^[a-z][a-z0-9+.-]*:\/\/[^@/\s]*:[^@/\s]*@/i.test(build.sourceUrl)) {
        issues.push({
            path: ["build", "sourceUrl"],
            message:
                "the URL carries a password or token in plaintext (it would be baked into every image's labels); expected a URL without credentials",
        });
    }
    return issues;
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

/**
 * Names and mounts Docker would refuse at run time: two services whose container names collide
 * (ai-<machine>-<kebab name>, e.g. TTS and Tts), and tmpfs mounts that repeat or cover the root.
 */
export function checkContainerShapes(cfg: Loose): Issue[] {
    const issues: Issue[] = [];
    const seen = new Map<string, string>();
    for (const [name, svc] of entries(cfg.services)) {
        const container = kebab(name);
        const other = seen.get(container);
        if (other !== undefined) {
            issues.push({
                path: ["services", name],
                message: `its container name ai-<machine>-${container} is also ${other}'s; rename one of the services`,
            });
        } else {
            seen.set(container, name);
        }
        const hardening = isObject(svc.hardening) ? svc.hardening : {};
        const mounts = Array.isArray(hardening.tmpfs) ? hardening.tmpfs : [];
        const seenMounts = new Set<string>();
        mounts.forEach((m, i) => {
            if (typeof m !== "string" || !m.startsWith("/")) {
                return; // the schema reports it
            }
            const norm = path.posix.normalize(m).replace(/\/$/, "") || "/";
            if (norm === "/") {
                issues.push({
                    path: ["services", name, "hardening", "tmpfs", i],
                    message: `"${m}" would cover the whole root filesystem; expected a directory the service writes, e.g. "/tmp"`,
                });
            } else if (seenMounts.has(norm)) {
                issues.push({
                    path: ["services", name, "hardening", "tmpfs", i],
                    message: `"${m}" is mounted twice (Docker refuses duplicate mount points)`,
                });
            }
            seenMounts.add(norm);
        });
    }
    return issues;
}

/** Every context-free check, in one list (what config.ts's schema refinement adds). */
export function consistencyIssues(cfg: Loose): Issue[] {
    const health = isObject(cfg.rollout) && isObject(cfg.rollout.health) ? (cfg.rollout.health as Partial<HealthBounds>) : {};
    return [
        ...checkBuildPaths(cfg),
        ...healthBoundsIssues(health),
        ...checkAddresses(cfg),
        ...checkRegistry(cfg),
        ...checkBuildArgs(cfg),
        ...checkDeployNames(cfg),
        ...checkDeployRegistry(cfg),
        ...checkContainerShapes(cfg),
    ];
}

/** Keys that must be secrets when present. */
export const SECRET_CONFIG_KEYS = ["registryPassword"] as const;

/**
 * Checks that need the stack itself: a gate or an image source that is this very stack, and
 * secrets written in plaintext in the stack file.
 */
export function stackContextIssues(raw: Loose, context: StackContext): Issue[] {
    const issues: Issue[] = [];
    const self = context.self;
    if (self) {
        const rollout = isObject(raw.rollout) ? raw.rollout : {};
        const deploy = isObject(raw.deploy) ? raw.deploy : {};
        if (rollout.gateStack === self) {
            issues.push({
                path: ["rollout", "gateStack"],
                message: `"${self}" is this stack: its batch would wait on its own canary report, which it has not written yet; expected another stack (e.g. organization/ai-fleet/mainpc), or leave gateStack out and gate on this stack's canary`,
            });
        }
        if (deploy.imagesFromStack === self) {
            issues.push({
                path: ["deploy", "imagesFromStack"],
                message: `"${self}" is this stack: a deploy-phase stack exports no images of its own; expected the build stack whose images to deploy`,
            });
        }
    }
    if (context.secretness === undefined) {
        return issues; // the engine named no secret keys: nothing can be called plaintext
    }
    const secretness = context.secretness;
    for (const key of SECRET_CONFIG_KEYS) {
        if (secretness[key] === false) {
            issues.push({
                path: [key],
                message: `a secret written in plaintext in the stack file; set it encrypted instead: pulumi config set --secret ${key} <value> (that replaces the plaintext value)`,
            });
        }
    }
    if (secretness.services !== true) {
        for (const [name, svc] of entries(raw.services)) {
            const env = isObject(svc.env) ? svc.env : {};
            for (const [k, v] of Object.entries(env)) {
                if (typeof v === "string" && v !== "" && isSecretEnvName(k)) {
                    issues.push({
                        path: ["services", name, "env", k],
                        message: `${k} looks like a secret and is written in plaintext in the stack file; set it encrypted: pulumi config set --secret --path 'services.${name}.env.${k}' <value>`,
                    });
                }
            }
        }
    }
    return issues;
}
