import * as pulumi from "@pulumi/pulumi";
import { combineReports, RolledOutService, rollOutService, RolloutReport, RolloutTarget, ServiceRolloutSpec } from "./serviceRollout";

/** Type token of Canary. */
export const CANARY_TYPE = "ai-fleet:rollout:Canary";

/** The canary services of one machine. */
export interface CanaryArgs {
    /** Machine name, for the report. */
    machine: string;
    /** Release tag, for the report. */
    tag: string;
    /** The canary services (on mainpc: ModelOpsCoordinator, RealTimeAudioPipeline, AffectiveProcessingCenter). */
    services: ServiceRolloutSpec[];
    /** The machine's Docker provider and network. */
    target: RolloutTarget;
}

/**
 * Rolls out the canary services and checks their health. Its report is what the batch waits for;
 * when a check fails, `pulumi up` fails and the canary containers stay as they are (see README:
 * rolling back is pinning the previous tag).
 */
export class Canary extends pulumi.ComponentResource {
    /** The canary's health report (healthy only when every canary service answered "ok"). */
    public readonly report: pulumi.Output<RolloutReport>;
    /** The health-check resources, for `dependsOn` of the batch. */
    public readonly checks: pulumi.Resource[];

    constructor(name: string, args: CanaryArgs, opts?: pulumi.ComponentResourceOptions) {
        super(CANARY_TYPE, name, {}, opts);
        if (args.services.length === 0) {
            throw new pulumi.ResourceError(`Canary '${name}': 'services' must name at least one service`, this);
        }
        const rolled: RolledOutService[] = args.services.map((spec) => rollOutService(this, spec, args.target));
        this.checks = rolled.map((r) => r.health.check);
        this.report = pulumi.all(rolled.map((r) => r.health.report)).apply((reports) => combineReports(args.machine, args.tag, reports));
        this.registerOutputs({ report: this.report });
    }
}
