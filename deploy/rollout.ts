/**
 * The machine's services as one graph of FleetServices: each service's container waits for the
 * health checks of its own dependencies, the canary's dependencies go first, the canary's health
 * gates everything the canary does not need, and a cross-machine dependency waits for the gate
 * stack's report. The order and the gates are the FleetServices' inputs.
 */
import * as pulumi from "@pulumi/pulumi";
import * as docker from "@pulumi/docker";
import * as k8s from "@pulumi/kubernetes";
import { dockerConfigJson } from "../components/kubernetesAdapter";
import { FleetConfig, fleetStackOf, KubernetesSettings } from "../config";
import { rolloutPlanOf } from "../graph";
import { combineReports, ContainerTarget, FleetService, Gate, RolloutReport, ServiceImageSource, ScanPolicy } from "../components";
import { STACK_LABEL } from "../common/labels";
import { containerName, ReleaseTag } from "../naming";
import { ClusterConnection, FleetOutputs, FleetScope, ServiceSpec } from "./types";
import { RegistryAccess } from "../components";

/** The container target of the stack: a Kubernetes cluster (ai-fleet:kubernetes), the docker provider, or the docker CLI through commands. */
function containerTarget(config: FleetConfig, registry: RegistryAccess, fleet?: FleetScope): ContainerTarget {
    const { stack, profile } = config;
    if (stack.kubernetes) {
        return clusterTarget(config, stack.kubernetes, registry, fleet?.cluster);
    }
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
        { name: network, driver: "bridge", labels: [{ label: STACK_LABEL, value: profile.machine }] },
        { provider },
    );
    return { runtime: "provider", provider, network: net.name };
}

/**
 * The cluster's provider (kubeconfig and context as config gives them, else as kubectl finds them)
 * and the namespace, named `<name>-cluster` and `<name>-namespace`: a machine stack's own, or the
 * one connection a fleet stack's machines share.
 */
export function clusterConnection(name: string, cluster: KubernetesSettings): ClusterConnection {
    const provider = new k8s.Provider(`${name}-cluster`, {
        kubeconfig: cluster.kubeconfig,
        context: cluster.context,
        // Server-side apply: field ownership stays with the program when the operator patches a workload by hand.
        enableServerSideApply: true,
    });
    const ns = new k8s.core.v1.Namespace(
        `${name}-namespace`,
        { metadata: { name: cluster.namespace, labels: { "app.kubernetes.io/managed-by": "ai-fleet" } } },
        // Server-side apply takes over a namespace that already exists (another machine's stack sharing
        // it); destroying either stack deletes it, so machines that share a cluster get one namespace each.
        { provider },
    );
    return { provider, namespace: ns.metadata.name };
}

/**
 * The cluster target of a machine: the connection (its own, or the fleet's) and the registry's
 * credentials as the machine's image pull secret, named by machine so that machines can share one
 * cluster and namespace.
 */
function clusterTarget(
    config: FleetConfig,
    cluster: KubernetesSettings,
    registry: RegistryAccess,
    shared?: ClusterConnection,
): ContainerTarget {
    const machine = config.profile.machine;
    const { provider, namespace } = shared ?? clusterConnection(machine, cluster);
    const pullSecret = new k8s.core.v1.Secret(
        `${machine}-registry`,
        {
            metadata: { namespace, name: `ai-fleet-registry-${machine}` },
            type: "kubernetes.io/dockerconfigjson",
            stringData: {
                ".dockerconfigjson": pulumi
                    .secret(registry.password)
                    .apply((password) => dockerConfigJson(registry.host, registry.username, password)),
            },
        },
        { provider },
    );
    return {
        runtime: "kubernetes",
        provider,
        namespace,
        workload: {
            nodeLabel: cluster.nodeLabel,
            pullSecret: pullSecret.metadata.name,
            maxSurge: cluster.rollingUpdate.maxSurge,
            maxUnavailable: cluster.rollingUpdate.maxUnavailable,
            progressDeadlineSeconds: cluster.timeoutSeconds,
        },
        timeoutSeconds: cluster.timeoutSeconds,
    };
}

/** What every FleetService of the stack shares. */
export interface ServiceCommon {
    registry: RegistryAccess;
    platform: string;
    scan?: ScanPolicy;
    /** In a fleet stack, the machine: every resource name starts `<machine>/`. */
    scope?: string;
}

/** The build phase: each service's image built, verified and scanned; no container. */
export function buildServices(
    names: string[],
    image: (name: string) => ServiceImageSource,
    common: ServiceCommon,
    machine: string,
): Record<string, FleetService> {
    const services: Record<string, FleetService> = {};
    for (const name of [...names].sort()) {
        services[name] = new FleetService(name, { machine, image: image(name), ...common });
    }
    return services;
}

/**
 * Rolls the services out as one graph: first the canary and its dependencies in dependency order,
 * then the canary gate (their combined health report, and the gate stack's canary report), then
 * every gated service in dependency order, each waiting for its own dependencies' health checks
 * and the canary's. Each service's container and health check run with its spec (deploy/specs.ts).
 */
export function rollOut(
    config: FleetConfig,
    release: ReleaseTag,
    image: (name: string) => ServiceImageSource,
    common: ServiceCommon,
    specs: Record<string, ServiceSpec>,
    fleet?: FleetScope,
): Pick<FleetOutputs, "containers" | "canaryReport" | "gate" | "report" | "plan"> & { services: Record<string, FleetService> } {
    const { stack, profile } = config;
    const machine = profile.machine;
    const plan = rolloutPlanOf(stack);
    const target = containerTarget(config, common.registry, fleet);
    // The gate stack: a machine of the same fleet stack gates in-process (on its whole report when it
    // has no canary), any other through a StackReference.
    const peer = fleet?.peers[fleetStackOf(stack.rollout.gateStack, fleet.stacks) ?? ""];
    const reference = stack.rollout.gateStack && !peer ? new pulumi.StackReference(stack.rollout.gateStack) : undefined;
    const gateStack =
        peer || reference
            ? {
                  requireOutput: (key: "report" | "canaryReport"): pulumi.Output<unknown> =>
                      peer ? pulumi.output(peer[key] ?? peer.report) : (reference as pulumi.StackReference).requireOutput(key),
              }
            : undefined;
    const order = plan.waves.flat();
    const services: Record<string, FleetService> = {};

    const place = (name: string, gates: Gate[], after: pulumi.Resource[]): void => {
        const p = plan.services[name];
        const remote: Gate[] =
            p.remote.length > 0 && gateStack
                ? [
                      {
                          source: `stack ${stack.rollout.gateStack}`,
                          report: gateStack.requireOutput("report") as pulumi.Output<RolloutReport>,
                          requireTag: release.tag,
                          services: p.remote.map((r) => r.service),
                      },
                  ]
                : [];
        const spec = specs[name];
        services[name] = new FleetService(name, {
            machine,
            image: image(name),
            ...common,
            run: {
                spec: spec.container,
                probe: spec.probe,
                required: p.required,
                target,
                after: [...p.waitsFor.map((d) => services[d].healthCheck as pulumi.Resource), ...after],
                gates: [...gates, ...remote],
            },
        });
    };

    // 1. The canary and what it needs: no gate of their own beyond cross-machine dependencies.
    for (const name of order.filter((n) => plan.services[n].group !== "gated")) {
        place(name, [], []);
    }
    // 2. The canary gate, built once from the canary's reports.
    const canaryReport =
        stack.rollout.canary.length > 0
            ? pulumi
                  .all(stack.rollout.canary.map((n) => services[n].health as pulumi.Output<RolloutReport["services"][string]>))
                  .apply((reports) => combineReports(machine, release.tag, reports))
            : undefined;
    const canaryGates: Gate[] = [
        ...(canaryReport ? [{ source: `${machine} canary`, report: canaryReport }] : []),
        ...(gateStack
            ? [
                  {
                      source: `stack ${stack.rollout.gateStack}`,
                      report: gateStack.requireOutput("canaryReport") as pulumi.Output<RolloutReport>,
                      requireTag: release.tag,
                  },
              ]
            : []),
    ];
    const canaryChecks = stack.rollout.canary.map((n) => services[n].healthCheck as pulumi.Resource);
    // 3. Everything else, behind the canary.
    for (const name of order.filter((n) => plan.services[n].group === "gated")) {
        place(name, canaryGates, canaryChecks);
    }

    const names = Object.keys(stack.services).sort();
    const report = pulumi
        .all(names.map((n) => services[n].health as pulumi.Output<RolloutReport["services"][string]>))
        .apply((reports) => combineReports(machine, release.tag, reports));
    const gates = names.map((n) => services[n].gate).filter((g): g is pulumi.Output<string> => g !== undefined);
    return {
        services,
        containers: names.map((n) => containerName(machine, n)),
        canaryReport,
        gate: gates.length > 0 ? pulumi.all(gates).apply(() => "passed") : undefined,
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
