/**
 * Stack rules: those that need the stack itself, not only its config values. `rollout.gateStack`
 * or `deploy.imagesFromStack` naming this very stack, and secrets written in plaintext in the
 * stack file (`registryPassword`, `services.<Name>.env.<a secret's name>`).
 */
import { isSecretEnvName } from "../../common/secretNames";
import { Issue } from "../issues";
import type { ServiceConfig, StackConfig } from "../schema";
import { entriesOf, Unchecked, view } from "./unchecked";

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

/** Keys that must be secrets when present. */
export const SECRET_CONFIG_KEYS = ["registryPassword"] as const;

/**
 * Checks that need the stack itself: a gate or an image source that is this very stack, and
 * secrets written in plaintext in the stack file.
 */
export function stackContextIssues(raw: Unchecked<StackConfig>, context: StackContext): Issue[] {
    const issues: Issue[] = [];
    const self = context.self;
    if (self) {
        const rollout = view<StackConfig["rollout"]>(raw.rollout);
        const deploy = view<NonNullable<StackConfig["deploy"]>>(raw.deploy);
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
        for (const [name, svc] of entriesOf<ServiceConfig>(raw.services)) {
            for (const [k, v] of Object.entries(view<ServiceConfig["env"]>(svc.env))) {
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
