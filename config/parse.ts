/**
 * Parse and freeze: raw stack config and its machine profile in, a frozen FleetConfig out, or one
 * ConfigError listing every problem. The schema's shapes (schema.ts) carry the context-free rules
 * as their refinement, so one parse reports everything; the stack's and the machine's rules follow.
 * The one parser: the program (load.ts), the commands (cli/), the tools and the tests all use it.
 */
import { z } from "zod";
import { Profile } from "../profiles/schema";
import { ConfigError, formatIssue, Issue } from "./issues";
import { buildTreeRules } from "./rules/buildTree";
import { crossServiceRules } from "./rules/crossService";
import { graphRules } from "./rules/graph";
import { machineProfile, machineRules, profileRules } from "./rules/machine";
import { serviceRules } from "./rules/service";
import { StackContext, stackContextIssues } from "./rules/stack";
import { isObject, Unchecked, view } from "./rules/unchecked";
import { StackConfig, StackConfigSchema } from "./schema";

/** The config the program runs on: the parsed stack config and its machine profile. */
export interface FleetConfig {
    stack: StackConfig;
    profile: Profile;
    /** The stack sets `ai-fleet:services` as a secret: container environments stay secret in state too. */
    secretServices?: boolean;
}

/** Every rule that needs nothing but the config values, in the order an operator reads them. */
export function contextFreeRules(cfg: Unchecked<StackConfig>): Issue[] {
    return [...serviceRules(cfg), ...crossServiceRules(cfg), ...graphRules(cfg), ...buildTreeRules(cfg), ...machineRules(cfg)];
}

/**
 * The stack config's schema with its rules: the shapes, then (even when some fields failed their
 * types, so one run reports everything) the context-free rules, which skip what is broken.
 */
const CheckedStackConfigSchema = StackConfigSchema.superRefine(
    (cfg, ctx) =>
        contextFreeRules(view<StackConfig>(cfg)).forEach((i) => ctx.addIssue({ code: "custom", path: i.path, message: i.message })),
    { when: () => true },
);

/**
 * Parses raw stack config (the `ai-fleet:` keys without prefix) and its machine profile. Throws a
 * ConfigError listing every problem, the profile's and the stack context's included (`context`:
 * which stack this is and which keys are secrets); returns a frozen config.
 */
export function parseStackConfig(raw: unknown, profileLoader?: (machine: string) => Profile, context: StackContext = {}): FleetConfig {
    const result = CheckedStackConfigSchema.safeParse(raw);
    const cfg = view<StackConfig>(raw);
    const issues = result.success ? [] : result.error.issues.map(formatIssue);
    if (isObject(raw)) {
        issues.push(...stackContextIssues(cfg, context).map(formatIssue));
    }
    const { profile, issues: profileIssues } = machineProfile(cfg, profileLoader);
    issues.push(...profileIssues.map(formatIssue));
    issues.push(...profileRules(cfg, result.success ? result.data : undefined, profile).map(formatIssue));
    if (issues.length > 0 || !result.success || !profile) {
        throw new ConfigError(issues);
    }
    return deepFreeze({ stack: result.data, profile });
}

/**
 * One top-level key of raw stack config through the schema, its defaults applied: for a command
 * that needs one setting (cli/: the container runtime, the Docker host) and reads it as the
 * program does, without the rest of the config or the machine profile. Throws a ConfigError
 * naming that key's problems (the program reports the whole config's when it runs).
 */
export function parseStackKey<K extends keyof StackConfig>(raw: unknown, key: K): StackConfig[K] {
    const schema = StackConfigSchema.shape[key] as unknown as z.ZodType<StackConfig[K]>;
    const result = schema.safeParse(view<StackConfig>(raw)[key]);
    if (!result.success) {
        throw new ConfigError(result.error.issues.map((i) => formatIssue({ path: [key, ...i.path], message: i.message })));
    }
    return result.data;
}

function deepFreeze<T>(o: T): T {
    if (o !== null && typeof o === "object" && !Object.isFrozen(o)) {
        Object.freeze(o);
        Object.values(o as object).forEach(deepFreeze);
    }
    return o;
}
