/**
 * The rollout of a machine's services as one graph: each container waits for the health checks of
 * its own dependencies, the canary's dependencies go first, the canary's health gates everything
 * the canary does not need, and a cross-machine dependency waits for the gate stack's report.
 */
import * as pulumi from "@pulumi/pulumi";
import * as docker from "@pulumi/docker";
import { FleetConfig } from "../config";
import { rolloutPlanOf } from "../graph";
import { combineReports, ContainerTarget, Gate, gateOutput, RolledOutService, rollOutService, RolloutReport } from "../components";
import { containerName, ReleaseTag } from "../naming";
import { RunnableImage } from "./scan";
import { FleetOutputs, Registry, ServiceSpec } from "./types";

/** The container target of the stack: the docker provider, or the docker CLI through commands. */
function containerTarget(config: FleetConfig, registry: Registry): ContainerTarget {
    const { stack, profile } = config;
    const network = `ai-fleet-${profile.machine}`;
    if (stack.docker.runtime === "cli") {
        return { runtime: "cli", dockerHost: stack.docker.host, network, stack: profile.machine, registry };
    }
    const provider = new docker.Provider(`${profile.machine}-docker`, {
        host: stack.docker.host,
        sshOpts: stack.docker.sshOpts.length ? stack.docker.sshOpts : undefined,
        registryAuth: [{ address: registry.host, username: registry.username, password: registry.password }],
    });
    const net = new docker.Network(
        `${profile.machine}-network`,
        { name: network, driver: "bridge", labels: [{ label: "ai-fleet.stack", value: profile.machine }] },
        { provider },
    );
    return { runtime: "provider", provider, network: net.name };
}

/**
 * Rolls the services out as one graph: each container waits for the health checks of its own
 * dependencies (no level barriers), the canary's dependencies go first, the canary's health
 * gates everything the canary does not need, and a cross-machine dependency waits for the gate
 * stack's report of that service at this release. Each service's container and health check run
 * with its spec (deploy/specs.ts: the stack file's, or a restored release's).
 */
export function rollOut(
    config: FleetConfig,
    release: ReleaseTag,
    verified: Record<string, RunnableImage>,
    registry: Registry,
    specs: Record<string, ServiceSpec>,
): Pick<FleetOutputs, "containers" | "canaryReport" | "gate" | "report" | "plan"> {
    const { stack, profile } = config;
    const machine = profile.machine;
    const plan = rolloutPlanOf(stack);
    const target = containerTarget(config, registry);
    const gateStack = stack.rollout.gateStack ? new pulumi.StackReference(stack.rollout.gateStack) : undefined;

    const rolled: Record<string, RolledOutService> = {};
    const serviceGates: pulumi.Output<string>[] = [];
    // Built once, when the first gated service needs them: the waves put every canary service before it.
    let canary: { checks: pulumi.Resource[]; report?: pulumi.Output<RolloutReport>; gates: Gate[] } | undefined;
    const canaryGate = (): NonNullable<typeof canary> => {
        if (canary === undefined) {
            const report =
                stack.rollout.canary.length > 0
                    ? pulumi
                          .all(stack.rollout.canary.map((n) => rolled[n].health.report))
                          .apply((reports) => combineReports(machine, release.tag, reports))
                    : undefined;
            const gates: Gate[] = report ? [{ source: `${machine} canary`, report }] : [];
            if (gateStack) {
                gates.push({
                    source: `stack ${stack.rollout.gateStack}`,
                    report: gateStack.requireOutput("canaryReport") as pulumi.Output<RolloutReport>,
                    requireTag: release.tag,
                });
            }
            canary = { checks: stack.rollout.canary.map((n) => rolled[n].health.check), report, gates };
        }
        return canary;
    };
    // Waves order the loop so that every dependency's check exists before its dependents refer to it.
    for (const name of plan.waves.flat()) {
        const p = plan.services[name];
        const gated = p.group === "gated";
        const gates: Gate[] = gated ? [...canaryGate().gates] : [];
        if (p.remote.length > 0 && gateStack) {
            gates.push({
                source: `stack ${stack.rollout.gateStack}`,
                report: gateStack.requireOutput("report") as pulumi.Output<RolloutReport>,
                requireTag: release.tag,
                services: p.remote.map((r) => r.service),
            });
        }
        const spec = specs[name];
        const gate = gateOutput(gates, `${name}'s rollout`);
        if (gates.length > 0) {
            serviceGates.push(gate);
        }
        rolled[name] = rollOutService(
            {
                settings: spec.container,
                image: verified[name].pinned,
                digest: verified[name].digest,
                health: spec.probe,
                required: p.required,
            },
            target,
            {
                machine,
                after: [...p.waitsFor.map((d) => rolled[d].health.check), ...(gated ? canaryGate().checks : [])],
                gate,
            },
        );
    }
    const names = Object.keys(stack.services).sort();
    const report = pulumi.all(names.map((n) => rolled[n].health.report)).apply((reports) => combineReports(machine, release.tag, reports));
    return {
        containers: names.map((n) => containerName(machine, n)),
        canaryReport: stack.rollout.canary.length > 0 ? canaryGate().report : undefined,
        gate: serviceGates.length > 0 ? pulumi.all(serviceGates).apply(() => "passed") : undefined,
        report,
        plan: {
            levels: plan.levels,
            criticalPath: plan.criticalPath,
            canary: [...stack.rollout.canary],
            canaryDependencies: plan.canaryDependencies,
            gated: plan.gated,
        },
    };
}
