/**
 * Checks of what runs on the machine: health-check bounds that contradict each other, addresses
 * and URLs (no password in plaintext), container names and mounts Docker would refuse, and a
 * service's environment held to the machine profile's rules. Values that parse but would fail at
 * run time; each check skips what has the wrong shape.
 */
import { isIP } from "net";
import * as path from "path";
import { kebab } from "../naming";
import { Profile, ProfileSchema } from "../profiles/schema";
import { entries, Issue, isObject, Loose } from "./issues";

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

/**
 * Environment variables the program sets in every container itself (deploy/containers.ts), each
 * with where its value comes from (given the service's name). A service's env may not set them:
 * its value would replace the program's.
 */
export const PROGRAM_ENV: Readonly<Record<string, (service: string) => string>> = {
    MACHINE: () => "from ai-fleet:machine (the machine profile's name)",
    SERVICE_NAME: (service) => `from the service's name (services.${service})`,
    TINI_SUBREAPER: () => 'to "1" in every container, for tini (the container\'s init)',
    FLEET_DEPENDENCIES: (service) =>
        `from services.${service}.dependsOn (its dependencies' health URLs, when rollout.exposeDependencies is true)`,
};

/**
 * A service's env (services.<Name>.env) on top of the machine profile: a name the program sets
 * (PROGRAM_ENV) is refused, and a value that overrides one of the profile's keys must pass the
 * profile file's own schema (profiles/schema.ts), as if the profile said it. The profile is the
 * one the stack's machine names; without it (a missing profile, reported already) only the names
 * are checked.
 */
export function checkServiceEnv(cfg: Loose, profile: Profile | undefined): Issue[] {
    const issues: Issue[] = [];
    for (const [name, svc] of entries(cfg.services)) {
        const env = isObject(svc.env) ? svc.env : {};
        const overrides: Record<string, string> = {};
        for (const [key, value] of Object.entries(env)) {
            if (Object.hasOwn(PROGRAM_ENV, key)) {
                issues.push({
                    path: ["services", name, "env", key],
                    message: `${key} is set by the program ${PROGRAM_ENV[key](name)}; a service's env cannot override it. Remove it`,
                });
            } else if (profile && Object.hasOwn(profile.env, key) && typeof value === "string") {
                overrides[key] = value;
            }
        }
        if (!profile || Object.keys(overrides).length === 0) {
            continue;
        }
        // The profile as this service's container would see it, through the profile file's schema:
        // its field rules and its rules across fields alike. The profile itself passed already, so
        // every problem on an overridden key is the override's.
        const seen = ProfileSchema.safeParse({ ...profile, env: { ...profile.env, ...overrides } });
        const defaults = profile.env as Record<string, string>;
        for (const issue of seen.error?.issues ?? []) {
            const [where, key] = issue.path;
            if (where === "env" && typeof key === "string" && Object.hasOwn(overrides, key)) {
                issues.push({
                    path: ["services", name, "env", key],
                    message: `"${overrides[key]}" overrides the machine profile's ${key} ("${defaults[key]}" in profiles/${profile.machine}.json) and breaks the profile's rule: ${issue.message}`,
                });
            }
        }
    }
    return issues;
}
