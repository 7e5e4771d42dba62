/**
 * Machine rules: what runs on the machine and the machine profile. `machine` names a loadable
 * profile; `docker.*` addresses are ones the machine answers on (no password in plaintext);
 * `rollout.health.*` bounds do not contradict each other; `services.<Name>.gpu` needs a GPU in the
 * profile; `services.<Name>.env` leaves the program's names alone and keeps the profile's rules.
 * Values that parse but would fail at run time.
 */
import { isIP } from "net";
import { loadProfile, Profile, ProfileError, ProfileSchema } from "../../profiles/schema";
import { Issue } from "../issues";
import type { ServiceConfig, StackConfig } from "../schema";
import { entriesOf, num, str, Unchecked, view } from "./unchecked";

/** The machine rules that need no profile, in the order an operator reads them (run in the schema's refinement). */
export function machineRules(cfg: Unchecked<StackConfig>): Issue[] {
    const health = view<HealthBounds>(view<StackConfig["rollout"]>(cfg.rollout).health);
    return [...healthBoundsIssues(health), ...checkAddresses(cfg)];
}

/** The profile `machine` names, or the issue saying why there is none (no issue when `machine` itself is broken: the schema says so). */
export function machineProfile(
    cfg: Unchecked<StackConfig>,
    profileLoader: (machine: string) => Profile = (m) => loadProfile(m),
): { profile?: Profile; issues: Issue[] } {
    const machine = str(cfg.machine);
    if (machine === undefined) {
        return { issues: [] };
    }
    try {
        return { profile: profileLoader(machine), issues: [] };
    } catch (e) {
        if (!(e instanceof ProfileError)) {
            throw e;
        }
        return { issues: [{ path: ["machine"], message: e.message }] };
    }
}

/**
 * The rules against the machine's profile: a service asking for a GPU the machine lacks (on a
 * config that parsed), and each service's env (checkServiceEnv; its names even without a profile).
 */
export function profileRules(cfg: Unchecked<StackConfig>, parsed: StackConfig | undefined, profile: Profile | undefined): Issue[] {
    const issues: Issue[] = [];
    if (parsed && profile) {
        for (const [name, svc] of Object.entries(parsed.services)) {
            if (svc.gpu && profile.gpu === null) {
                issues.push({
                    path: ["services", name, "gpu"],
                    message: `machine "${profile.machine}" has no GPU in its profile; set gpu: false`,
                });
            }
        }
    }
    return [...issues, ...checkServiceEnv(cfg, profile)];
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
export function healthBoundsIssues(h: Unchecked<HealthBounds>): Issue[] {
    const at = (key: keyof HealthBounds): (string | number)[] => ["rollout", "health", key];
    const [t, i, r, q] = [num(h.timeoutSeconds), num(h.intervalSeconds), num(h.retries), num(h.requestTimeoutSeconds)];
    const issues: Issue[] = [];
    if (t === undefined || i === undefined) {
        return issues;
    }
    if (t < i) {
        issues.push({
            path: at("timeoutSeconds"),
            message: `timeoutSeconds (${t}) is shorter than one intervalSeconds (${i}): the check would give up before its second attempt; expected timeoutSeconds >= intervalSeconds`,
        });
    }
    if (q !== undefined && q > t) {
        issues.push({
            path: at("requestTimeoutSeconds"),
            message: `requestTimeoutSeconds (${q}) is longer than the whole timeoutSeconds (${t}); expected requestTimeoutSeconds <= timeoutSeconds`,
        });
    }
    if (r !== undefined && q !== undefined && Number.isInteger(r) && r >= 1) {
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

/** docker.bindAddress is an IP address, healthHost a host, and the ssh URL carries no password. */
function checkAddresses(cfg: Unchecked<StackConfig>): Issue[] {
    const issues: Issue[] = [];
    const docker = view<StackConfig["docker"]>(cfg.docker);
    const bind = str(docker.bindAddress);
    if (bind !== undefined && isIP(bind) === 0) {
        const bare = bind.replace(/^\[(.*)\]$/, "$1");
        issues.push({
            path: ["docker", "bindAddress"],
            message:
                isIP(bare) !== 0
                    ? `"${bind}": expected an IP address without brackets, e.g. "${bare}"`
                    : `"${bind}" is not an IP address; expected an IPv4 or IPv6 address of the machine, e.g. "0.0.0.0", "127.0.0.1" or "::"`,
        });
    }
    const healthHost = str(docker.healthHost);
    if (healthHost !== undefined && healthHost.length > 0 && !isHostName(healthHost)) {
        issues.push({
            path: ["docker", "healthHost"],
            message: `"${healthHost}" is not a host name or IP address; expected e.g. "mainpc" or "192.168.1.20" (no scheme, port or path)`,
        });
    }
    const host = str(docker.host);
    if (host !== undefined && /^ssh:\/\/[^@/\s]*:[^@/\s]*@/.test(host)) {
        issues.push({
            path: ["docker", "host"],
            message:
                "the ssh URL carries a password in plaintext; expected ssh://user@host with a key from ~/.ssh (ssh-agent or ~/.ssh/config)",
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
function checkServiceEnv(cfg: Unchecked<StackConfig>, profile: Profile | undefined): Issue[] {
    const issues: Issue[] = [];
    for (const [name, svc] of entriesOf<ServiceConfig>(cfg.services)) {
        const env = view<ServiceConfig["env"]>(svc.env);
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
