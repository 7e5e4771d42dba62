/**
 * The fleet's startup dependencies as a graph, without resources: which services a service waits
 * for, what the canary needs and what it gates, the levels and the critical path. deploy/rollout.ts turns
 * the plan into `dependsOn` edges (Pulumi then starts each service as soon as its own dependencies
 * are healthy), and scripts/plan.ts prints and draws it.
 */

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

/** How one service rolls out. */
export interface ServicePlan {
    name: string;
    required: boolean;
    /** canary; needed by the canary (rolls out before it); or gated by the canary and the gate stack. */
    group: "canary" | "canary-dependency" | "gated";
    /** Same-stack services whose health checks this service's container waits for. */
    waitsFor: string[];
    /** Services of the gate stack that must be reported healthy at this release first. */
    remote: RemoteDependency[];
    /** Dependencies left out of this stack on purpose (rollout.excluded). */
    excluded: string[];
    /** Longest chain of same-stack dependencies below this service (0: depends on nothing here). */
    level: number;
    /** Longest chain of waits below it, the canary gate included: the earliest step it can start in. */
    wave: number;
}

/** The whole rollout order of one stack. */
export interface RolloutPlan {
    services: Record<string, ServicePlan>;
    /** Service names per dependency level, level 0 first (the startup configs' own levels). */
    levels: string[][];
    /** Service names per wave: the levels once gated services also wait for the canary. */
    waves: string[][];
    /** The longest chain of waits, canary gate included: what bounds the rollout's duration. */
    criticalPath: string[];
    /** What the canary services need, transitively (not canary themselves). */
    canaryDependencies: string[];
    /** What waits for the canary's health (and the gate stack's canary report). */
    gated: string[];
}

/** A problem with the graph, at a key path under `services` or `rollout`. */
export interface GraphIssue {
    path: (string | number)[];
    message: string;
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

/** Every problem of the dependency config: unknown names, cycles, unanswerable remote edges, required on optional. */
export function checkGraph(input: GraphInput): GraphIssue[] {
    const issues: GraphIssue[] = [];
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
function localEdges(services: Readonly<Record<string, GraphService>>): Record<string, string[]> {
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

/** Transitive same-stack dependencies of `roots` (roots not included unless reached from another root). */
export function dependencyClosure(edges: Record<string, string[]>, roots: readonly string[]): Set<string> {
    const out = new Set<string>();
    const todo = roots.flatMap((r) => edges[r] ?? []);
    while (todo.length > 0) {
        const n = todo.pop() as string;
        if (!out.has(n)) {
            out.add(n);
            todo.push(...(edges[n] ?? []));
        }
    }
    return out;
}

/** Services that depend on `root`, directly or not. */
export function dependents(edges: Record<string, string[]>, root: string): Set<string> {
    const out = new Set<string>();
    let grew = true;
    while (grew) {
        grew = false;
        for (const [n, deps] of Object.entries(edges)) {
            if (!out.has(n) && deps.some((d) => d === root || out.has(d))) {
                out.add(n);
                grew = true;
            }
        }
    }
    return out;
}

/** Level (longest chain of dependencies below) of every node, and the dependency that chain goes through. */
function longestChains(edges: Record<string, string[]>): { level: Map<string, number>; below: Map<string, string | undefined> } {
    const level = new Map<string, number>();
    const below = new Map<string, string | undefined>();
    const levelOf = (n: string): number => {
        const known = level.get(n);
        if (known !== undefined) {
            return known;
        }
        let best = -1;
        let via: string | undefined;
        for (const d of [...(edges[n] ?? [])].sort()) {
            const l = levelOf(d);
            if (l > best) {
                best = l;
                via = d;
            }
        }
        level.set(n, best + 1);
        below.set(n, via);
        return best + 1;
    };
    Object.keys(edges).sort().forEach(levelOf);
    return { level, below };
}

/** The rollout plan of a graph that checkGraph accepted (throws on a cycle). */
export function planRollout(input: GraphInput): RolloutPlan {
    const edges = localEdges(input.services);
    const cycle = findCycle(edges);
    if (cycle) {
        throw new Error(`dependency cycle: ${cycle.join(" → ")}`);
    }
    const names = Object.keys(input.services).sort();
    const canary = new Set(input.canary);
    const closure = [...dependencyClosure(edges, input.canary)].filter((n) => !canary.has(n));
    const closureSet = new Set(closure);
    const group = (n: string): ServicePlan["group"] => (canary.has(n) ? "canary" : closureSet.has(n) ? "canary-dependency" : "gated");
    // What each container really waits for: its dependencies, and for a gated service the canary too.
    const rolloutEdges: Record<string, string[]> = {};
    for (const n of names) {
        rolloutEdges[n] = group(n) === "gated" ? [...new Set([...edges[n], ...input.canary])] : edges[n];
    }
    const { level } = longestChains(edges);
    const { level: wave, below } = longestChains(rolloutEdges);
    const services: Record<string, ServicePlan> = {};
    for (const name of names) {
        const svc = input.services[name];
        services[name] = {
            name,
            required: svc.required,
            group: group(name),
            waitsFor: [...edges[name]].sort(),
            remote: svc.dependsOn.map(parseRemote).filter((r): r is RemoteDependency => r !== undefined),
            excluded: svc.dependsOn.filter((d) => input.excluded[d] !== undefined),
            level: level.get(name) as number,
            wave: wave.get(name) as number,
        };
    }
    const byLevel = (m: Map<string, number>): string[][] => {
        const depth = Math.max(-1, ...names.map((n) => m.get(n) as number)) + 1;
        return Array.from({ length: depth }, (_, l) => names.filter((n) => m.get(n) === l));
    };
    const waves = byLevel(wave);
    // The critical path ends at the last wave's first service and follows its deepest wait down.
    const criticalPath: string[] = [];
    for (let n: string | undefined = waves[waves.length - 1]?.[0]; n !== undefined; n = below.get(n)) {
        criticalPath.unshift(n);
    }
    return {
        services,
        levels: byLevel(level),
        waves,
        criticalPath,
        canaryDependencies: closure.sort(),
        gated: names.filter((n) => services[n].group === "gated"),
    };
}
