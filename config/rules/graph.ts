/**
 * Graph rules: the two graphs of the stack config. The services' startup graph
 * (`services.<Name>.dependsOn` with `rollout.canary`, `rollout.excluded`, `rollout.gateStack`,
 * `rollout.allowUngatedBatch`): unknown names, cycles, remote edges no gate stack answers,
 * required on optional, an optional or unknown canary, an ungated batch. And the families' build
 * chain (`families.<name>.parent`): unknown parents and cycles. The pure graph algorithms the
 * rollout plan (graph.ts) also uses live here, below both: the plan reads config, not the reverse.
 */
import { Issue, unknownFamily } from "../issues";
import type { FamilyConfig, ServiceConfig, StackConfig } from "../schema";
import { entriesOf, isObject, keysOf, list, str, Unchecked, view } from "./unchecked";

/** What the graph needs of a service's config. */
export interface GraphService {
    /** Services that must be healthy first: this stack's names, or `<stack>/<Service>` of the gate stack. */
    dependsOn: readonly string[];
    /** false: a failed health check is a warning, not a stop (the operator's `required: false`). */
    required: boolean;
}

/** What the graph needs of a stack's config. */
export interface GraphInput {
    services: Readonly<Record<string, GraphService>>;
    /** Canary services, in config order. */
    canary: readonly string[];
    /** Dependencies the stack deliberately leaves out, with the reason. */
    excluded: Readonly<Record<string, string>>;
    /** The stack name of rollout.gateStack (`org/project/<stack>`), if any. */
    gateStack?: string;
}

/** A dependency on a service that another stack (the gate stack) runs. */
export interface RemoteDependency {
    stack: string;
    service: string;
}

const REMOTE_RE = /^([A-Za-z0-9][A-Za-z0-9._-]*)\/([A-Za-z][A-Za-z0-9]*)$/;

/** `mainpc/StreamingTTS` → { stack: "mainpc", service: "StreamingTTS" }; a plain name → undefined. */
export function parseRemote(dep: string): RemoteDependency | undefined {
    const m = REMOTE_RE.exec(dep);
    return m ? { stack: m[1], service: m[2] } : undefined;
}

/** The stack part of `organization/project/stack`. */
export function stackNameOf(fullyQualified: string | undefined): string | undefined {
    return fullyQualified?.split("/")[2];
}

/** Every graph rule, in the order an operator reads them: the family chain, the canary entries, the startup graph, the gate. */
export function graphRules(cfg: Unchecked<StackConfig>): Issue[] {
    return [...familyChainIssues(cfg), ...canaryEntryIssues(cfg), ...startupGraphIssues(cfg), ...ungatedBatchIssues(cfg)];
}

/** Each family's parent is a family of this stack, and the chain has no cycle. */
function familyChainIssues(cfg: Unchecked<StackConfig>): Issue[] {
    const issues: Issue[] = [];
    const names = keysOf(cfg.families);
    const parents: Record<string, string[]> = {};
    for (const [name, fam] of entriesOf<FamilyConfig>(cfg.families)) {
        const parent = str(fam.parent);
        if (parent !== undefined && !names.includes(parent)) {
            issues.push(unknownFamily(["families", name, "parent"], parent, names));
        }
        parents[name] = parent !== undefined && isObject(view<Record<string, unknown>>(cfg.families)[parent]) ? [parent] : [];
    }
    const cycle = findCycle(parents);
    if (cycle) {
        issues.push({ path: ["families", cycle[0], "parent"], message: `family cycle: ${cycle.join(" → ")}` });
    }
    return issues;
}

/** Each canary entry names a service, once. */
function canaryEntryIssues(cfg: Unchecked<StackConfig>): Issue[] {
    const issues: Issue[] = [];
    const services = keysOf(cfg.services);
    const seen = new Set<unknown>();
    list(view<StackConfig["rollout"]>(cfg.rollout).canary).forEach((name, i) => {
        if (typeof name !== "string" || !services.includes(name)) {
            issues.push({
                path: ["rollout", "canary", i],
                message: `canary entry "${String(name)}" names no service (known: ${[...services].sort().join(", ")})`,
            });
        } else if (seen.has(name)) {
            issues.push({ path: ["rollout", "canary", i], message: `canary entry "${name}" is listed twice` });
        }
        seen.add(name);
    });
    return issues;
}

/** The startup graph (checkGraph), once every service has the shape the graph reads. */
function startupGraphIssues(cfg: Unchecked<StackConfig>): Issue[] {
    const rollout = view<StackConfig["rollout"]>(cfg.rollout);
    const services: Record<string, GraphService> = {};
    for (const [name, svc] of entriesOf<ServiceConfig>(cfg.services)) {
        const dependsOn = svc.dependsOn;
        if (Array.isArray(dependsOn) && dependsOn.every((d) => typeof d === "string") && typeof svc.required === "boolean") {
            services[name] = { dependsOn: dependsOn as string[], required: svc.required };
        }
    }
    if (Object.keys(services).length !== keysOf(cfg.services).length || !isObject(rollout.excluded)) {
        return [];
    }
    return checkGraph({
        services,
        canary: list(rollout.canary).filter((c): c is string => typeof c === "string"),
        excluded: rollout.excluded as Record<string, string>,
        gateStack: stackNameOf(str(rollout.gateStack)),
    });
}

/** A batch (services outside the canary) needs a canary or a gate stack, unless the stack says it may go ungated. */
function ungatedBatchIssues(cfg: Unchecked<StackConfig>): Issue[] {
    const rollout = view<StackConfig["rollout"]>(cfg.rollout);
    const canary = new Set(list(rollout.canary));
    const hasBatch = keysOf(cfg.services).some((s) => !canary.has(s));
    if (cfg.phase === "build" || !hasBatch || canary.size > 0 || rollout.gateStack !== undefined || Boolean(rollout.allowUngatedBatch)) {
        return [];
    }
    return [
        {
            path: ["rollout", "canary"],
            message:
                "no canary and no gateStack: the batch would roll out ungated; name canary services, set rollout.gateStack, or set rollout.allowUngatedBatch: true",
        },
    ];
}

/** Every problem of the dependency config: unknown names, cycles, unanswerable remote edges, required on optional. */
export function checkGraph(input: GraphInput): Issue[] {
    const issues: Issue[] = [];
    const names = Object.keys(input.services);
    const known = `known: ${names.sort().join(", ")}`;
    for (const [name, svc] of Object.entries(input.services)) {
        const seen = new Set<string>();
        svc.dependsOn.forEach((dep, i) => {
            const at = ["services", name, "dependsOn", i];
            if (seen.has(dep)) {
                issues.push({ path: at, message: `"${dep}" is listed twice` });
                return;
            }
            seen.add(dep);
            const remote = parseRemote(dep);
            if (remote) {
                if (input.gateStack === undefined) {
                    issues.push({
                        path: at,
                        message: `"${dep}" is on another machine, but no rollout.gateStack can answer for it; set rollout.gateStack to …/${remote.stack}`,
                    });
                } else if (remote.stack !== input.gateStack) {
                    issues.push({
                        path: at,
                        message: `"${dep}" names stack "${remote.stack}", but rollout.gateStack is stack "${input.gateStack}": only the gate stack's services can be waited for`,
                    });
                }
                return;
            }
            if (dep === name) {
                issues.push({ path: at, message: `${name} cannot depend on itself` });
            } else if (input.services[dep] !== undefined) {
                if (svc.required && !input.services[dep].required) {
                    issues.push({
                        path: at,
                        message: `required service ${name} depends on ${dep}, which is optional (required: false); make ${dep} required or ${name} optional`,
                    });
                }
            } else if (input.excluded[dep] === undefined) {
                issues.push({
                    path: at,
                    message: `"${dep}" names no service of this stack (${known}); a dependency left out on purpose goes in rollout.excluded with the reason`,
                });
            }
        });
    }
    Object.keys(input.excluded).forEach((name) => {
        if (input.services[name] !== undefined) {
            issues.push({ path: ["rollout", "excluded", name], message: `${name} is a service of this stack; it cannot also be excluded` });
        }
    });
    input.canary.forEach((name, i) => {
        if (input.services[name] !== undefined && !input.services[name].required) {
            issues.push({
                path: ["rollout", "canary", i],
                message: `canary service ${name} is optional (required: false); a canary must be required, or its failure would gate nothing`,
            });
        }
    });
    const cycle = findCycle(localEdges(input.services));
    if (cycle) {
        issues.push({ path: ["services", cycle[0], "dependsOn"], message: `dependency cycle: ${cycle.join(" → ")}` });
    }
    return issues;
}

/** Same-stack edges: service → the services of this stack it depends on. */
export function localEdges(services: Readonly<Record<string, GraphService>>): Record<string, string[]> {
    const edges: Record<string, string[]> = {};
    for (const [name, svc] of Object.entries(services)) {
        edges[name] = svc.dependsOn.filter((d) => services[d] !== undefined && d !== name);
    }
    return edges;
}

/** A cycle as the path of names, e.g. [a, b, a], or undefined. */
export function findCycle(edges: Record<string, string[]>): string[] | undefined {
    const state = new Map<string, "open" | "done">();
    const stack: string[] = [];
    const visit = (n: string): string[] | undefined => {
        if (state.get(n) === "done") {
            return undefined;
        }
        if (state.get(n) === "open") {
            return [...stack.slice(stack.indexOf(n)), n];
        }
        state.set(n, "open");
        stack.push(n);
        for (const d of edges[n] ?? []) {
            const found = visit(d);
            if (found) {
                return found;
            }
        }
        stack.pop();
        state.set(n, "done");
        return undefined;
    };
    for (const n of Object.keys(edges).sort()) {
        const found = visit(n);
        if (found) {
            return found;
        }
    }
    return undefined;
}
