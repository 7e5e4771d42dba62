import * as pulumi from "@pulumi/pulumi";
import { combineReports, rollOutService, RolloutReport, RolloutTarget, ServiceRolloutSpec } from "./serviceRollout";

/** Type token of Batch. */
export const BATCH_TYPE = "ai-fleet:rollout:Batch";

/** A gate the batch waits for: a canary report of this stack or of another (StackReference). */
export interface Gate {
    /** Where the report comes from, named in the error. */
    source: string;
    /** The report. */
    report: pulumi.Input<RolloutReport>;
    /** When set, the report must be for this release tag (a stale report of an older release does not open the gate). */
    requireTag?: string;
}

/** Why the gate stays shut. */
export class GateClosedError extends Error {
    constructor(message: string) {
        super(message);
        this.name = "GateClosedError";
    }
}

/** "passed" when every gate's report is healthy (and for the required tag); otherwise throws naming what failed. */
export function openGate(gates: { source: string; report: RolloutReport; requireTag?: string }[]): "passed" {
    const problems: string[] = [];
    for (const g of gates) {
        const r = g.report;
        if (!r || typeof r !== "object" || typeof r.healthy !== "boolean" || typeof r.services !== "object") {
            problems.push(`${g.source}: no canary report`);
            continue;
        }
        if (g.requireTag !== undefined && r.tag !== g.requireTag) {
            problems.push(`${g.source}: the canary report is for release ${r.tag}, not ${g.requireTag}`);
        }
        const sick = Object.values(r.services).filter((s) => !s.healthy);
        if (!r.healthy || sick.length > 0) {
            const names = sick.map((s) => `${s.service} (${s.url}: status ${JSON.stringify(s.status)})`);
            problems.push(`${g.source}: canary unhealthy${names.length ? `: ${names.join(", ")}` : ""}`);
        }
    }
    if (problems.length > 0) {
        throw new GateClosedError(`batch rollout blocked by the canary gate:\n  - ${problems.join("\n  - ")}`);
    }
    return "passed";
}

/** The batch services of one machine. */
export interface BatchArgs {
    /** Machine name, for the report. */
    machine: string;
    /** Release tag, for the report. */
    tag: string;
    /** The services after the canary. */
    services: ServiceRolloutSpec[];
    /** The machine's Docker provider and network. */
    target: RolloutTarget;
    /** Reports that must be healthy first. Empty only with rollout.allowUngatedBatch. */
    gates: Gate[];
    /** Resources (the canary's health checks) that must succeed before any batch container is touched. */
    after: pulumi.Resource[];
}

/**
 * The rest of the machine's services, created only after the canary passed: each container waits
 * for the canary's health checks (a failed check stops `pulumi up` before any batch container) and
 * carries the gate's verdict as an input, so an unhealthy report also stops it.
 */
export class Batch extends pulumi.ComponentResource {
    /** The batch's own health report. */
    public readonly report: pulumi.Output<RolloutReport>;
    /** "passed", known only once every gate is open. */
    public readonly gate: pulumi.Output<string>;

    constructor(name: string, args: BatchArgs, opts?: pulumi.ComponentResourceOptions) {
        super(BATCH_TYPE, name, {}, opts);
        this.gate = pulumi
            .all(args.gates.map((g) => pulumi.output(g.report)))
            .apply((reports) => openGate(reports.map((report, i) => ({ source: args.gates[i].source, report, requireTag: args.gates[i].requireTag }))));
        const rolled = args.services.map((spec) => rollOutService(this, spec, args.target, { label: this.gate, dependsOn: args.after }));
        this.report = rolled.length === 0
            ? pulumi.output(combineReports(args.machine, args.tag, []))
            : pulumi.all(rolled.map((r) => r.health.report)).apply((reports) => combineReports(args.machine, args.tag, reports));
        this.registerOutputs({ report: this.report, gate: this.gate });
    }
}
