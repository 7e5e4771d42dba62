/**
 * A fleet stack: one stack that rolls out every machine of the fleet onto one Kubernetes cluster
 * (README, "One stack for the whole fleet"). Its config names the cluster and the machine stacks;
 * each machine's services, families, registry and profile stay in that machine's own stack file
 * (Pulumi.<stack>.yaml), the one place the operator edits them, read here as the machine stack
 * reads them, with the fleet's cluster as the target. A machine stack whose `rollout.gateStack` is
 * another machine of the fleet gates on that machine's canary within the one update.
 */
import * as fs from "fs";
import * as path from "path";
import { z } from "zod";
import { Profile } from "../profiles/schema";
import { ConfigError, formatIssue, PROJECT } from "./issues";
import { FleetConfig, parseStackConfig } from "./parse";
import { SECRET_CONFIG_KEYS, stackContextIssues } from "./rules/stack";
import { view } from "./rules/unchecked";
import { projectKeys, readStackConfigAt } from "../stackFile";
import { KubernetesSchema, KubernetesSettings, nodeLabelKey, StackConfig } from "./schema";

/** A machine stack's name as `pulumi stack` takes it. */
const stackName = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/, "expected a stack name such as mainpc");

const FleetMachineSchema = z.strictObject({
    /** The machine stack's file, relative to the project. Default Pulumi.<stack>.yaml. */
    stackFile: z.string().min(1).optional(),
    /** The node label key pinning this machine's workloads (value: its machine name). Default: kubernetes.nodeLabel. */
    nodeLabel: nodeLabelKey.optional(),
});

/** The keys of a fleet stack. Nothing else: a machine's settings belong in its own stack file. */
export const FleetStackSchema = z.strictObject({
    fleet: z.strictObject({
        /** The machine stacks rolled out, by stack name. */
        stacks: z
            .record(stackName, FleetMachineSchema.default({}))
            .refine((o) => Object.keys(o).length > 0, "expected at least one machine stack, e.g. { mainpc: {}, pc2: {} }"),
    }),
    /** The cluster every machine's services roll out to (the same keys as a machine stack's `kubernetes`). */
    kubernetes: KubernetesSchema,
});

/** One machine of a fleet stack: its stack, its file, and its config as the fleet runs it. */
export interface FleetMachine {
    /** The machine stack's name (what `rollout.gateStack` names). */
    stack: string;
    /** Its stack file. */
    file: string;
    /** Its parsed config, the fleet's cluster as its target. */
    config: FleetConfig;
}

/** A parsed fleet stack. */
export interface FleetStackConfig {
    kubernetes: KubernetesSettings;
    /** The machines in gate order: a machine comes after the machine its gateStack names. */
    machines: FleetMachine[];
}

/** Whether raw stack config (the `ai-fleet:` keys) is a fleet stack's. */
export function isFleetStack(raw: Record<string, unknown>): boolean {
    return raw.fleet !== undefined;
}

/** What parseFleetStack needs beside the fleet stack's own keys. */
export interface FleetContext {
    /** The directory the stack files are in (the project's). */
    dir: string;
    /** The fleet stack's organization and project, to name each machine stack as organization/project/stack. */
    organization: string;
    /** Rewrites a machine's raw keys before they are parsed (a rollback's release, release.ts). */
    adjust?: (stack: string, raw: Record<string, unknown>) => Record<string, unknown>;
    /** Loads a machine profile (tests); default profiles/<machine>.json. */
    profileLoader?: (machine: string) => Profile;
    /** Which of the fleet stack's own keys the engine holds as secrets (undefined: it named none). */
    secretness?: Record<string, boolean>;
}

/**
 * Parses a fleet stack's raw keys and every machine stack file it names. Throws one ConfigError
 * listing every problem, each naming its key (`ai-fleet:fleet.stacks.<stack>` and the machine
 * file's own key) and what was expected.
 */
export function parseFleetStack(raw: Record<string, unknown>, ctx: FleetContext): FleetStackConfig {
    const result = FleetStackSchema.safeParse(raw);
    if (!result.success) {
        throw new ConfigError(result.error.issues.map(formatIssue));
    }
    const { fleet, kubernetes } = result.data;
    const issues: string[] = [];
    // The fleet stack's own secrets (registryPassword), checked as a machine stack's are.
    issues.push(...stackContextIssues(view<StackConfig>(raw), { secretness: ctx.secretness }).map(formatIssue));
    const machines: FleetMachine[] = [];
    for (const [stack, entry] of Object.entries(fleet.stacks).sort(([a], [b]) => a.localeCompare(b))) {
        const where = `${PROJECT}:fleet.stacks.${stack}`;
        const file = path.resolve(ctx.dir, entry.stackFile ?? `Pulumi.${stack}.yaml`);
        const read = machineKeys(file);
        if (typeof read === "string") {
            issues.push(`${where}: ${read}`);
            continue;
        }
        const cluster = { ...(raw.kubernetes as Record<string, unknown>), ...(entry.nodeLabel ? { nodeLabel: entry.nodeLabel } : {}) };
        const machineRaw = { ...read.keys, kubernetes: cluster };
        try {
            const config = parseStackConfig(ctx.adjust ? ctx.adjust(stack, machineRaw) : machineRaw, ctx.profileLoader, {
                self: `${ctx.organization}/${PROJECT}/${stack}`,
                secretness: read.secretness,
            });
            machines.push({ stack, file, config });
        } catch (e) {
            if (!(e instanceof ConfigError)) {
                throw e;
            }
            issues.push(...e.issues.map((i) => `${where} (${path.basename(file)}): ${i}`));
        }
    }
    const byMachine = new Map<string, string>();
    for (const m of machines) {
        const other = byMachine.get(m.config.profile.machine);
        if (other !== undefined) {
            issues.push(
                `${PROJECT}:fleet.stacks.${m.stack}: machine ${m.config.profile.machine} is stack ${other}'s too: expected each machine once`,
            );
        }
        byMachine.set(m.config.profile.machine, m.stack);
    }
    const ordered = gateOrder(machines, issues);
    if (issues.length > 0) {
        throw new ConfigError(issues);
    }
    return { kubernetes, machines: ordered };
}

/**
 * The machine stack of the fleet a gate stack (organization/project/stack) names: one of this
 * project whose stack is in the fleet; undefined for a stack outside it (gated through a StackReference).
 */
export function fleetStackOf(gateStack: string | undefined, stacks: string[]): string | undefined {
    const parts = gateStack?.split("/");
    return parts && parts[1] === PROJECT && stacks.includes(parts[2]) ? parts[2] : undefined;
}

/** The machines ordered so that a gate stack of the fleet comes before the machine it gates; a cycle is an issue. */
function gateOrder(machines: FleetMachine[], issues: string[]): FleetMachine[] {
    const names = machines.map((m) => m.stack);
    const byName = new Map(machines.map((m) => [m.stack, m]));
    const out: FleetMachine[] = [];
    const state = new Map<string, "visiting" | "done">();
    const visit = (m: FleetMachine, trail: string[]): void => {
        if (state.get(m.stack) === "done") return;
        if (state.get(m.stack) === "visiting") {
            issues.push(`${PROJECT}:fleet.stacks: the machines' rollout.gateStack form a cycle: ${[...trail, m.stack].join(" → ")}`);
            return;
        }
        state.set(m.stack, "visiting");
        const gate = fleetStackOf(m.config.stack.rollout.gateStack, names);
        if (gate !== undefined) visit(byName.get(gate) as FleetMachine, [...trail, m.stack]);
        state.set(m.stack, "done");
        out.push(m);
    };
    machines.forEach((m) => visit(m, []));
    return out;
}

/** A machine stack file's `ai-fleet:` keys and which of them are secrets, or why it cannot be read. */
function machineKeys(file: string): { keys: Record<string, unknown>; secretness: Record<string, boolean> } | string {
    if (!fs.existsSync(file)) {
        return `no stack file ${file}: expected the machine stack's file (stackFile, default Pulumi.<stack>.yaml)`;
    }
    let all: Record<string, unknown>;
    try {
        all = projectKeys(readStackConfigAt(file));
    } catch (e) {
        return `${file} is not YAML: ${(e as Error).message.split("\n")[0]}`;
    }
    const keys: Record<string, unknown> = {};
    const secretness: Record<string, boolean> = {};
    const secrets: string[] = [];
    for (const [key, value] of Object.entries(all)) {
        const secret = value !== null && typeof value === "object" && "secure" in (value as object);
        secretness[key] = secret;
        if ((SECRET_CONFIG_KEYS as readonly string[]).includes(key)) continue;
        if (secret) {
            secrets.push(`${PROJECT}:${key}`);
            continue;
        }
        keys[key] = value;
    }
    if (secrets.length > 0) {
        return `${path.basename(file)} holds ${secrets.join(", ")} as a secret, which only that stack's own secrets provider decrypts: a fleet stack cannot read it (README, "One stack for the whole fleet": roll that machine out with its own stack, or make the key plain)`;
    }
    if (keys.fleet !== undefined) {
        return `${path.basename(file)} is a fleet stack itself: expected a machine stack`;
    }
    return { keys, secretness };
}
