/**
 * The canary gate: the health reports a service waits for, and the verdict that opens or keeps
 * closed its rollout. FleetService takes its gates as an input; deploy/rollout.ts builds them.
 */
import * as pulumi from "@pulumi/pulumi";
import { HealthReport } from "./probeInputs";

/**
 * Whether a service's report holds its dependents back: it is not healthy and it is required (an
 * optional service's failure is reported, and holds nothing back). The one definition the gate,
 * the combined report and the release record use.
 */
export function holdsBack(report: { healthy: boolean; required?: boolean }): boolean {
    return !report.healthy && report.required !== false;
}

/** Health of a set of services, as exported by a stack and consumed by a gate. */
export interface RolloutReport {
    /** Machine the services run on. */
    machine: string;
    /** Release tag that was checked. */
    tag: string;
    /** True when every required service answered {"status":"ok"}. */
    healthy: boolean;
    /** Per service. */
    services: Record<string, HealthReport>;
}

/** A report a service waits for: a canary report of this stack or of another (StackReference). */
export interface Gate {
    /** Where the report comes from, named in the error. */
    source: string;
    /** The report. */
    report: pulumi.Input<RolloutReport>;
    /** When set, the report must be for this release tag (a stale report of an older release does not open the gate). */
    requireTag?: string;
    /** When set, only these services of the report must be in it and healthy (a cross-machine dependency). */
    services?: string[];
}

/** Why a gate stays shut: an operator-facing outcome, not a bug (no stack trace through Pulumi). */
export class GateClosedError extends pulumi.RunError {
    constructor(message: string) {
        super(message);
        this.name = "GateClosedError";
    }
}

/** "passed" when every gate's report is healthy (and for the required tag); otherwise throws naming what failed. */
export function openGate(
    gates: { source: string; report: RolloutReport; requireTag?: string; services?: string[] }[],
    what = "rollout",
): "passed" {
    const problems: string[] = [];
    for (const g of gates) {
        const r = g.report;
        if (!r || typeof r !== "object" || typeof r.healthy !== "boolean" || typeof r.services !== "object") {
            problems.push(`${g.source}: no health report`);
            continue;
        }
        if (g.requireTag !== undefined && r.tag !== g.requireTag) {
            problems.push(`${g.source}: the report is for release ${r.tag}, not ${g.requireTag}`);
        }
        if (g.services !== undefined) {
            for (const name of g.services) {
                const s = r.services[name];
                if (!s) {
                    problems.push(`${g.source}: reports no service ${name}`);
                } else if (!s.healthy) {
                    problems.push(`${g.source}: ${name} unhealthy (${s.url}: status ${JSON.stringify(s.status)})`);
                }
            }
            continue;
        }
        const sick = Object.values(r.services).filter(holdsBack);
        if (!r.healthy || sick.length > 0) {
            const names = sick.map((s) => `${s.service} (${s.url}: status ${JSON.stringify(s.status)})`);
            problems.push(`${g.source}: canary unhealthy${names.length ? `: ${names.join(", ")}` : ""}`);
        }
    }
    if (problems.length > 0) {
        throw new GateClosedError(`${what} blocked by its gate:\n  - ${problems.join("\n  - ")}`);
    }
    return "passed";
}

/**
 * The gate value of one service: "passed" at once without gates, else once every report opens. A
 * closed gate fails `on` (the service's FleetService) with the reasons, as a ResourceError without a
 * stack trace, so the engine's diagnostic carries the FleetService's URN: what the rollout command
 * reads to know that a gate, not a bug, stopped the update.
 */
export function gateOutput(gates: Gate[], what: string, on?: pulumi.Resource): pulumi.Output<string> {
    if (gates.length === 0) {
        return pulumi.output("passed");
    }
    return pulumi.all(gates.map((g) => pulumi.output(g.report))).apply((reports) => {
        try {
            return openGate(
                reports.map((report, i) => ({ ...gates[i], report })),
                what,
            );
        } catch (e) {
            if (e instanceof GateClosedError && on !== undefined) {
                throw new pulumi.ResourceError(e.message, on, true);
            }
            throw e;
        }
    });
}

/** Combines per-service reports into one; healthy when every required service is. */
export function combineReports(machine: string, tag: string, reports: HealthReport[]): RolloutReport {
    const services: Record<string, HealthReport> = {};
    for (const r of [...reports].sort((a, b) => a.service.localeCompare(b.service))) {
        services[r.service] = r;
    }
    return { machine, tag, healthy: !reports.some(holdsBack), services };
}
