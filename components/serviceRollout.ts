import * as pulumi from "@pulumi/pulumi";
import * as docker from "@pulumi/docker";
import { HealthBounds, HealthCheck, HealthReport } from "./healthCheck";
import { ContainerSettings, ServiceContainer } from "./serviceContainer";

/** One service to roll out: its container settings, its pinned image and how to check it. */
export interface ServiceRolloutSpec {
    /** Container settings (name, ports, env, hardening, GPU). */
    settings: ContainerSettings;
    /** The verified image, pinned by digest. */
    image: pulumi.Input<string>;
    /** The image digest: a new one re-runs the health check. */
    digest: pulumi.Input<string>;
    /** Where and how long to check health from the operator's machine. */
    health: { host: string; port: number; path: string; bounds: HealthBounds };
}

/** The machine a rollout goes to. */
export interface RolloutTarget {
    /** The machine's Docker provider. */
    provider: docker.Provider;
    /** The stack's Docker network name. */
    network: pulumi.Input<string>;
}

/** A rolled-out service: its container and its health check. */
export interface RolledOutService {
    container: ServiceContainer;
    health: HealthCheck;
}

/** Health of a set of services, as exported by a stack and consumed by a gate. */
export interface RolloutReport {
    /** Machine the services run on. */
    machine: string;
    /** Release tag that was checked. */
    tag: string;
    /** True when every service answered {"status":"ok"}. */
    healthy: boolean;
    /** Per service. */
    services: Record<string, HealthReport>;
}

/** Creates one service's container and health check as children of `parent`, named by the service. */
export function rollOutService(
    parent: pulumi.Resource,
    spec: ServiceRolloutSpec,
    target: RolloutTarget,
    gate?: { label: pulumi.Input<string>; dependsOn: pulumi.Resource[] },
): RolledOutService {
    const name = spec.settings.containerName;
    const container = new ServiceContainer(
        name,
        { settings: spec.settings, image: spec.image, provider: target.provider, network: target.network, gate: gate?.label },
        { parent, dependsOn: gate?.dependsOn },
    );
    const health = new HealthCheck(
        `${name}-health`,
        {
            service: spec.settings.service,
            host: spec.health.host,
            port: spec.health.port,
            path: spec.health.path,
            bounds: spec.health.bounds,
            digest: spec.digest,
            triggers: [container.containerId],
        },
        { parent, dependsOn: [container] },
    );
    return { container, health };
}

/** Combines per-service reports into one. */
export function combineReports(machine: string, tag: string, reports: HealthReport[]): RolloutReport {
    const services: Record<string, HealthReport> = {};
    for (const r of [...reports].sort((a, b) => a.service.localeCompare(b.service))) {
        services[r.service] = r;
    }
    return { machine, tag, healthy: reports.every((r) => r.healthy), services };
}
