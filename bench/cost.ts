/**
 * Where the fleet's evaluation cost goes (issue 19: "where a target is missed, the bench shows where
 * the rest goes"): a price per resource type, from N and N/10 registrations of that type alone
 * (bench/program.ts `type <kind> <N>`) beside the same program with none (`floor 0`): per
 * registration, the slope between the two; once per type used, what is left at N/10 (its module's
 * first use, warming up). A workload's cost is explained as the baseline plus, per type it
 * registered, once + count × price. What is left over ("the rest") is what the resources alone do
 * not account for: the program's own work (config, preflight, wiring), and component outputs and
 * dependencies heavier than a bare component's.
 *
 * Peak RSS is priced the same way, as a linear estimate: V8 collects garbage when it likes, so a
 * peak is not strictly the sum of its parts.
 */
import type { EvaluationResult, Measured } from "./evaluation";

/** The resource types priced alone (program.ts `type <kind> <N>`), with the type token each registers. */
export const PRICED: { kind: string; label: string; type: string }[] = [
    { kind: "container", label: "docker.Container", type: "docker:index/container:Container" },
    { kind: "remoteimage", label: "docker.RemoteImage", type: "docker:index/remoteImage:RemoteImage" },
    { kind: "image", label: "docker-build Image", type: "docker-build:index:Image" },
    { kind: "command", label: "command.local.Command", type: "command:local:Command" },
    { kind: "component", label: "ComponentResource, no props", type: "bench:index:Empty" },
];

/** A cost in the three figures the bench explains. */
export interface Cost {
    evalMs: number;
    evalCpuMs: number;
    rssKB: number;
}

/** One type's price: per registration (slope of the medians from N/10 to N) and once per type used. */
export interface Price extends Cost {
    kind: string;
    label: string;
    type: string;
    once: Cost;
    /** The runs it comes from: N/10 and N alone. */
    small: Measured;
    alone: Measured;
}

/** A type token of a custom resource's package (priced by its own type), else a component's. */
export function isComponentType(type: string): boolean {
    return !/^(docker|docker-build|command|pulumi):/.test(type);
}

/** The price list of a run, with its baseline (`floor 0`); undefined when the runs are missing. */
export function priceList(p: EvaluationResult): { base: Measured; prices: Price[]; n: number } | undefined {
    const find = (w: string) => p.measured.find((m) => m.workload === w && m.variant === "lean");
    const base = find("floor0");
    const n = p.scale;
    if (!base || !n) {
        return undefined;
    }
    const prices: Price[] = [];
    const k = n / 10;
    for (const t of PRICED) {
        const small = find(`type-${t.kind}-${k}`);
        const alone = find(`type-${t.kind}-${n}`);
        if (small && alone) {
            const slope = (f: (m: Measured) => number) => (f(alone) - f(small)) / (n - k);
            const once = (f: (m: Measured) => number) => f(small) - k * slope(f) - f(base);
            const ev = (m: Measured) => m.evalMs.median;
            const cpu = (m: Measured) => m.evalCpuMs.median;
            const rss = (m: Measured) => m.rssKB.median;
            prices.push({
                ...t,
                evalMs: slope(ev),
                evalCpuMs: slope(cpu),
                rssKB: slope(rss),
                once: { evalMs: once(ev), evalCpuMs: once(cpu), rssKB: once(rss) },
                small,
                alone,
            });
        }
    }
    return { base, prices, n };
}

/** A workload's registrations, type by type, with the price each is charged at (none: not explained). */
export interface Explained {
    rows: { type: string; count: number; price?: Price }[];
    /** The prices whose `once` was charged. */
    once: Price[];
    evalMs: number;
    evalCpuMs: number;
    rssKB: number;
    /** Registrations of a type with no price. */
    unpriced: number;
}

/** The baseline plus, for every type the workload registered (the mocks' counts), once + count × price; a price's `once` is charged once. */
export function explain(m: Measured, base: Measured, prices: Price[]): Explained | undefined {
    const byType = m.last.resourcesByType;
    if (!byType) {
        return undefined;
    }
    const priceOf = (type: string) =>
        prices.find((p) => p.type === type) ?? (isComponentType(type) ? prices.find((p) => p.kind === "component") : undefined);
    const rows = Object.entries(byType)
        .map(([type, count]) => ({ type, count, price: priceOf(type) }))
        .sort((a, b) => b.count - a.count || a.type.localeCompare(b.type));
    const used = new Set(rows.map((r) => r.price).filter((p): p is Price => !!p));
    const sum = (f: (c: Cost) => number) =>
        rows.reduce((s, r) => s + (r.price ? r.count * f(r.price) : 0), 0) + [...used].reduce((s, p) => s + f(p.once), 0);
    return {
        rows,
        once: [...used],
        evalMs: base.evalMs.median + sum((c) => c.evalMs),
        evalCpuMs: base.evalCpuMs.median + sum((c) => c.evalCpuMs),
        rssKB: base.rssKB.median + sum((c) => c.rssKB),
        unpriced: rows.filter((r) => !r.price).reduce((s, r) => s + r.count, 0),
    };
}
