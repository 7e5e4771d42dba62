/**
 * Parse and freeze: raw stack config and its machine profile in, a frozen FleetConfig out, or one
 * ConfigError listing every problem (the schema's, the profile's, the stack context's, and each
 * service's env against the profile).
 */
import { loadProfile, Profile, ProfileError } from "../profiles/schema";
import { ConfigError, formatIssue, isObject, PROJECT } from "./issues";
import { checkServiceEnv } from "./machineChecks";
import { StackConfig, StackConfigSchema } from "./schema";
import { StackContext, stackContextIssues } from "./stackContext";

/** The config the program runs on: the parsed stack config and its machine profile. */
export interface FleetConfig {
    stack: StackConfig;
    profile: Profile;
    /** The stack sets `ai-fleet:services` as a secret: container environments stay secret in state too. */
    secretServices?: boolean;
}

/**
 * Parses raw stack config (the `ai-fleet:` keys without prefix) and its machine profile. Throws a
 * ConfigError listing every problem, the profile's and the stack context's included (`context`:
 * which stack this is and which keys are secrets); returns a frozen config.
 */
export function parseStackConfig(
    raw: unknown,
    profileLoader: (machine: string) => Profile = (m) => loadProfile(m),
    context: StackContext = {},
): FleetConfig {
    const result = StackConfigSchema.safeParse(raw);
    const issues = result.success ? [] : result.error.issues.map(formatIssue);
    if (isObject(raw)) {
        issues.push(...stackContextIssues(raw, context).map(formatIssue));
    }
    let profile: Profile | undefined;
    const machine = (raw as { machine?: unknown } | undefined)?.machine;
    if (typeof machine === "string") {
        try {
            profile = profileLoader(machine);
        } catch (e) {
            if (!(e instanceof ProfileError)) {
                throw e;
            }
            issues.push(`${PROJECT}:machine: ${e.message}`);
        }
    }
    if (result.success && profile) {
        for (const [name, svc] of Object.entries(result.data.services)) {
            if (svc.gpu && profile.gpu === null) {
                issues.push(`${PROJECT}:services.${name}.gpu: machine "${profile.machine}" has no GPU in its profile; set gpu: false`);
            }
        }
    }
    if (isObject(raw)) {
        issues.push(...checkServiceEnv(raw, profile).map(formatIssue));
    }
    if (issues.length > 0 || !result.success || !profile) {
        throw new ConfigError(issues);
    }
    return deepFreeze({ stack: result.data, profile });
}

function deepFreeze<T>(o: T): T {
    if (o !== null && typeof o === "object" && !Object.isFrozen(o)) {
        Object.freeze(o);
        Object.values(o as object).forEach(deepFreeze);
    }
    return o;
}
