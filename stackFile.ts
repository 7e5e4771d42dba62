/**
 * Reads a repository stack file (Pulumi.<stack>.yaml) without the engine: the `ai-fleet:` keys
 * without their prefix, as parseStackConfig takes them. For tools that run outside `pulumi`
 * (the plan, adopt-dockerfiles), the tests and the bench: the one place a stack file is parsed.
 */
import * as fs from "fs";
import * as yaml from "js-yaml";
import * as path from "path";
import { PROJECT } from "./config/issues";

/** The project directory (where the Pulumi.<stack>.yaml files are). */
export const PROJECT_DIR = __dirname;

/** The path of a stack's file in `dir`; throws naming the file (and the stacks there) when it is missing. */
export function stackFilePath(stack: string, dir: string = PROJECT_DIR): string {
    const file = path.join(dir, `Pulumi.${stack}.yaml`);
    if (!fs.existsSync(file)) {
        const known = fs
            .readdirSync(dir)
            .filter((f) => /^Pulumi\.[^.]+\.yaml$/.test(f))
            .map((f) => f.split(".")[1]);
        throw new Error(`no stack file ${file} (stacks here: ${known.join(", ")})`);
    }
    return file;
}

/** A stack file's whole document (`config:`, `encryptionsalt:`, …) as written, at any path. */
export function readStackDocument(file: string): { config?: Record<string, unknown>; [key: string]: unknown } {
    return (yaml.load(fs.readFileSync(file, "utf8")) ?? {}) as { config?: Record<string, unknown> };
}

/** A stack file's `config:` block as written: every key keeps its namespace (`ai-fleet:build`, …). */
export function readStackConfigAt(file: string): Record<string, unknown> {
    return readStackDocument(file).config ?? {};
}

/** The `config:` block of Pulumi.<stack>.yaml in `dir`, keys with their namespace (as `pulumi config` shows them). */
export function readStackConfig(stack: string, dir: string = PROJECT_DIR): Record<string, unknown> {
    return readStackConfigAt(stackFilePath(stack, dir));
}

/** The `ai-fleet:` keys of a config block, without the prefix: parseStackConfig's input. */
export function projectKeys(config: Record<string, unknown>): Record<string, unknown> {
    const raw: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(config)) {
        if (k.startsWith(`${PROJECT}:`)) {
            raw[k.slice(PROJECT.length + 1)] = v;
        }
    }
    return raw;
}

/** A stack file's `ai-fleet:` keys without the prefix, from the file's path. */
export function readStackFileAt(file: string): Record<string, unknown> {
    return projectKeys(readStackConfigAt(file));
}

/** The stack file's `ai-fleet:` keys without the prefix; throws naming the file when it is missing. */
export function readStackFile(stack: string, dir: string = PROJECT_DIR): Record<string, unknown> {
    return readStackFileAt(stackFilePath(stack, dir));
}
