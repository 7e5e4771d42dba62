/**
 * What the program reads from outside the config values: the engine's config and which keys it
 * holds as secrets, this stack's name, and the registry password. The only module that reads
 * pulumi.Config. (The git commit of the build contexts is buildTree/sourceTree.ts's.)
 */
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import { ConfigError, PROJECT } from "./issues";
import { FleetContext, FleetStackConfig, parseFleetStack } from "./fleet";
import { FleetConfig, parseStackConfig } from "./parse";
import { SECRET_CONFIG_KEYS } from "./rules/stack";
import { StackConfig } from "./schema";

/**
 * The raw `ai-fleet:` keys of the stack (structured values parsed from their JSON), secrets left
 * out. Every key goes to the strict schema, so a typo such as `servces` is reported, not ignored.
 */
export function rawStackConfig(allConfig: Record<string, string>): Record<string, unknown> {
    const raw: Record<string, unknown> = {};
    const secrets = new Set<string>(SECRET_CONFIG_KEYS);
    for (const [fullKey, text] of Object.entries(allConfig)) {
        if (!fullKey.startsWith(`${PROJECT}:`)) {
            continue;
        }
        const key = fullKey.slice(PROJECT.length + 1);
        if (secrets.has(key)) {
            continue;
        }
        try {
            raw[key] = JSON.parse(text);
        } catch {
            raw[key] = text;
        }
    }
    return raw;
}

/**
 * The raw `ai-fleet:` keys of a stack as the Automation API's getAllConfig gives them (key →
 * {value: JSON text, secret}), secrets left out: what a command (cli/) parses with parseStackKey,
 * read the way the program reads the engine's config (rawStackConfig).
 */
export function rawFromConfigMap(all: Record<string, { value: string; secret?: boolean }>): Record<string, unknown> {
    return rawStackConfig(Object.fromEntries(Object.entries(all).map(([k, v]) => [k, v.value])));
}

/**
 * Which of the stack's `ai-fleet:` keys the engine holds as secrets, by key without the prefix.
 * `isSecret` answers for a full key (`ai-fleet:registryPassword`); the engine's list reaches the
 * program as PULUMI_CONFIG_SECRET_KEYS, which the SDK reads (see configKeyIsSecret).
 */
export function configSecretness(allConfig: Record<string, string>, isSecret: (fullKey: string) => boolean): Record<string, boolean> {
    const out: Record<string, boolean> = {};
    for (const fullKey of Object.keys(allConfig)) {
        if (fullKey.startsWith(`${PROJECT}:`)) {
            out[fullKey.slice(PROJECT.length + 1)] = isSecret(fullKey);
        }
    }
    return out;
}

/**
 * Whether the engine passed `fullKey` as a secret: the SDK's own reading of the engine's
 * PULUMI_CONFIG_SECRET_KEYS (runtime/config's isConfigSecret, internal to @pulumi/pulumi and
 * hence required by path), so unit tests' `setAllConfig(config, secretKeys)` is honoured too.
 */
export function configKeyIsSecret(fullKey: string): boolean {
    // eslint-disable-next-line @typescript-eslint/no-require-imports -- loaded lazily
    const runtimeConfig = require("@pulumi/pulumi/runtime/config") as { isConfigSecret?: (k: string) => boolean };
    if (typeof runtimeConfig.isConfigSecret !== "function") {
        throw new Error("@pulumi/pulumi no longer exports runtime/config.isConfigSecret: update configKeyIsSecret");
    }
    return runtimeConfig.isConfigSecret(fullKey);
}

/**
 * Whether the engine told the program which keys are secrets at all (the language host always
 * sets PULUMI_CONFIG_SECRET_KEYS, "[]" for none; a program started some other way has no list,
 * and then no key can be called plaintext).
 */
export function engineSecretKeysKnown(): boolean {
    // eslint-disable-next-line @typescript-eslint/no-require-imports -- loaded lazily
    const state = require("@pulumi/pulumi/runtime/state") as { getStore?: () => { config: Record<string, string | undefined> } };
    return typeof state.getStore === "function" && !!state.getStore().config["PULUMI_CONFIG_SECRET_KEYS"];
}

/**
 * This stack as organization/project/stack, the form gateStack and imagesFromStack use. Where the
 * engine names no organization (unit mocks), "organization": what the DIY backends call theirs.
 */
export function currentStackName(): string {
    let organization = "organization";
    try {
        organization = pulumi.getOrganization();
    } catch {
        // No organization from the engine: keep the DIY backends' name.
    }
    return `${organization}/${pulumi.getProject()}/${pulumi.getStack()}`;
}

/**
 * Reads, parses and validates the current stack's config and machine profile (throws ConfigError).
 * `adjust` may rewrite the raw keys first (release.ts: the rollout command's overrides).
 */
export function loadFleetConfig(adjust: (raw: Record<string, unknown>) => Record<string, unknown> = (raw) => raw): FleetConfig {
    const all = pulumi.runtime.allConfig();
    const secretness = engineSecretKeysKnown() ? configSecretness(all, configKeyIsSecret) : undefined;
    const parsed = parseStackConfig(adjust(rawStackConfig(all)), undefined, { self: currentStackName(), secretness });
    return secretness !== undefined && configKeyIsSecret(`${PROJECT}:services`)
        ? Object.freeze({ ...parsed, secretServices: true })
        : parsed;
}

/** The registry password as a secret Output: the `registryPassword` secret, else the env var named by registry.passwordEnv. */
export function registryPassword(stack: StackConfig, cfg: pulumi.Config = new pulumi.Config(PROJECT)): pulumi.Output<string> {
    const secret = cfg.getSecret("registryPassword");
    if (secret !== undefined) {
        return secret;
    }
    const envName = stack.registry.passwordEnv;
    const fromEnv = envName ? process.env[envName] : undefined;
    if (fromEnv === undefined || fromEnv === "") {
        throw new ConfigError([
            `${PROJECT}:registryPassword: expected a secret (pulumi config set --secret registryPassword …)${envName ? ` or a non-empty environment variable ${envName} (registry.passwordEnv)` : " or registry.passwordEnv naming an environment variable"}`,
        ]);
    }
    return pulumi.secret(fromEnv);
}

/** The current stack's raw `ai-fleet:` keys, secrets left out: whether it is a fleet stack (isFleetStack) decides how it loads. */
export function currentRawConfig(): Record<string, unknown> {
    return rawStackConfig(pulumi.runtime.allConfig());
}

/**
 * The project's directory, where its stack files are: the one the language host names (a program
 * may run from another, Pulumi.yaml's `main`); where it names none (the SDK then says
 * "rootDirectory"), the directory the program runs in.
 */
function projectDirectory(): string {
    const root = pulumi.getRootDirectory();
    return path.isAbsolute(root) ? root : process.cwd();
}

/**
 * Reads and validates the current stack as a fleet stack and every machine stack file it names
 * (in the project's directory, beside its Pulumi.yaml); throws ConfigError.
 */
export function loadFleetStack(adjust?: FleetContext["adjust"]): FleetStackConfig {
    const all = pulumi.runtime.allConfig();
    return parseFleetStack(rawStackConfig(all), {
        dir: projectDirectory(),
        organization: currentStackName().split("/")[0],
        adjust,
        secretness: engineSecretKeysKnown() ? configSecretness(all, configKeyIsSecret) : undefined,
    });
}
