/**
 * What a config problem is and how an operator reads it: a key path under `ai-fleet:` and what was
 * expected, all of a stack's problems in one ConfigError.
 */
import * as pulumi from "@pulumi/pulumi";

/** The Pulumi project name; config keys are `ai-fleet:<key>`. */
export const PROJECT = "ai-fleet";

/** One problem: where (the key path under `ai-fleet:`) and what was expected. */
export interface Issue {
    path: (string | number)[];
    message: string;
}

/** A key that names a family the stack does not have (`services.<N>.family`, `families.<n>.parent`). */
export function unknownFamily(path: Issue["path"], family: string, known: string[]): Issue {
    return { path, message: `unknown family "${family}" (known: ${[...known].sort().join(", ")})` };
}

/**
 * Every problem of a stack's config, each as `ai-fleet:<key path>: <what was expected>`. A RunError,
 * so `pulumi preview`/`up` print the message alone, without a JavaScript stack.
 */
export class ConfigError extends pulumi.RunError {
    constructor(public readonly issues: string[]) {
        super(
            `invalid stack config (${issues.length} problem${issues.length === 1 ? "" : "s"}):\n${issues.map((i) => `  - ${i}`).join("\n")}`,
        );
        this.name = "ConfigError";
    }
}

/** `ai-fleet:<key path>: <message>`, the form every problem is reported in. */
export function formatIssue(issue: { path: PropertyKey[]; message: string }): string {
    const keyPath = issue.path.map((p) => String(p)).join(".");
    const [top, ...rest] = keyPath.split(".");
    const key = top ? `${PROJECT}:${top}${rest.length ? "." + rest.join(".") : ""}` : `${PROJECT}:<root>`;
    return `${key}: ${issue.message}`;
}
