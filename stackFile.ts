/**
 * Reads a repository stack file (Pulumi.<stack>.yaml) without the engine: the `ai-fleet:` keys
 * without their prefix, as parseStackConfig takes them. For tools that run outside `pulumi`
 * (the plan) and for the tests.
 */
import * as fs from "fs";
import * as yaml from "js-yaml";
import * as path from "path";
import { PROJECT } from "./config";

/** The project directory (where the Pulumi.<stack>.yaml files are). */
export const PROJECT_DIR = __dirname;

/** The stack file's `ai-fleet:` keys without the prefix; throws naming the file when it is missing. */
export function readStackFile(stack: string, dir: string = PROJECT_DIR): Record<string, unknown> {
    const file = path.join(dir, `Pulumi.${stack}.yaml`);
    if (!fs.existsSync(file)) {
        const known = fs
            .readdirSync(dir)
            .filter((f) => /^Pulumi\.[^.]+\.yaml$/.test(f))
            .map((f) => f.split(".")[1]);
        throw new Error(`no stack file ${file} (stacks here: ${known.join(", ")})`);
    }
    const doc = yaml.load(fs.readFileSync(file, "utf8")) as { config?: Record<string, unknown> } | undefined;
    const raw: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(doc?.config ?? {})) {
        if (k.startsWith(`${PROJECT}:`)) {
            raw[k.slice(PROJECT.length + 1)] = v;
        }
    }
    return raw;
}
