/**
 * Stack files and the local stack's environment, read the way the program reads them: the
 * `ai-fleet:` keys of Pulumi.<stack>.yaml (prefix removed) go through parseStackConfig. This does
 * not import test/unit/harness.ts, which would install Pulumi's mocks.
 */
import * as fs from "fs";
import * as yaml from "js-yaml";
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import { FleetConfig, parseStackConfig } from "../../../config";
import { readStackFile } from "../../../stackFile";
import { must, REPO_ROOT } from "./proc";

/** The `ai-fleet:` keys of a repository stack file without the prefix: parseStackConfig's input. */
export function rawStackFile(stack: string): Record<string, unknown> {
    return readStackFile(stack);
}

/**
 * Writes a machine stack file as the operator keeps it, `config:` with the ai-fleet keys, into
 * `dir`; the registry password is left out (a fleet stack holds its own): what a fleet stack reads.
 * Returns the file's path.
 */
export function writeMachineStackFile(dir: string, stack: string, config: Record<string, unknown>): string {
    const { ["ai-fleet:registryPassword"]: _password, ...keys } = config;
    const file = path.join(dir, `Pulumi.${stack}.yaml`);
    fs.writeFileSync(file, yaml.dump({ config: keys }));
    return file;
}

/** A repository stack file, parsed and validated with its machine profile. */
export function loadStack(stack: string): FleetConfig {
    return parseStackConfig(rawStackFile(stack));
}

/** Resolves a Pulumi Input outside a deployment (or under mocks): the values here are all known. */
export function resolve<T>(input: pulumi.Input<T> | undefined): Promise<pulumi.Unwrap<T>> {
    // pulumi.output() unwraps nested Inputs too, so the value is plain all the way down.
    const out = pulumi.output(input);
    // The SDK's promise() is internal; apply() would never run on an unknown value and hang.
    return (out as unknown as { promise(): Promise<pulumi.Unwrap<T>> }).promise();
}

/** The AI_FLEET_* variables scripts/local/env.sh exports (after up.sh, so the base image ref is known). */
export async function localEnv(): Promise<Record<string, string>> {
    const r = await must("bash", ["-c", ". scripts/local/env.sh && env -0"], { cwd: REPO_ROOT });
    const env: Record<string, string> = {};
    for (const entry of r.stdout.split("\0")) {
        const eq = entry.indexOf("=");
        if (eq > 0 && entry.startsWith("AI_FLEET_")) {
            env[entry.slice(0, eq)] = entry.slice(eq + 1);
        }
    }
    for (const key of [
        "AI_FLEET_REGISTRY",
        "AI_FLEET_REGISTRY_USER",
        "AI_FLEET_REGISTRY_PASSWORD",
        "AI_FLEET_DOCKER_BUILD",
        "AI_FLEET_BASE_IMAGE",
    ]) {
        if (!env[key]) {
            throw new Error(`scripts/local/env.sh did not export ${key}`);
        }
    }
    return env;
}

/** The commit the contexts are at (labels), or "unknown" outside git, as deploy() would get it. */
export async function sourceCommit(): Promise<{ sha: string; created: string }> {
    try {
        const r = await must("git", ["log", "-1", "--format=%H %cI"], { cwd: REPO_ROOT });
        const [sha, date] = r.stdout.trim().split(" ");
        return { sha, created: new Date(date).toISOString() };
    } catch {
        return { sha: "unknown", created: "1970-01-01T00:00:00.000Z" };
    }
}
