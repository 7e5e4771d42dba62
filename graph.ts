/**
 * The fleet's startup dependencies as a graph, without resources: which services a service waits
 * for, what the canary needs and what it gates, the levels and the critical path. deploy/rollout.ts turns
 * the plan into `dependsOn` edges (Pulumi then starts each service as soon as its own dependencies
 * are healthy), and scripts/plan.ts prints and draws it. The plan reads a checked config: the rules
 * of the graph (and the cycle finder both use) are config's (config/rules/graph.ts).
 */
import { findCycle, GraphInput, localEdges, parseRemote, RemoteDependency, StackConfig, stackNameOf } from "./config";

export type { GraphInput, GraphService, RemoteDependency } from "./config";

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

/** The rollout order of a parsed stack config (its graph was checked by the schema). */
export function rolloutPlanOf(stack: Pick<StackConfig, "services" | "rollout">): RolloutPlan {
    return planRollout({
        services: stack.services,
        canary: stack.rollout.canary,
        excluded: stack.rollout.excluded,
        gateStack: stackNameOf(stack.rollout.gateStack),
    });
}

/** The rollout plan of a graph that checkGraph (config/rules/graph.ts) accepted (throws on a cycle). */
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
