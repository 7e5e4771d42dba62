/**
 * The config mapped onto a service's ContainerSpec (common/containerSpec.ts), built once here: what
 * its container gets on this machine (ports, environment, hardening, GPU, healthcheck, restart,
 * logs), whichever runtime starts it and whatever the policy pack judges.
 */
import { CONTAINER_DEFAULTS, ContainerSpec } from "../common/containerSpec";
import { FleetConfig, healthEndpoint, publishedPorts } from "../config";
import { containerName } from "../naming";
import { workloadName } from "../components/kubernetesAdapter";
import { profileRuntimeEnv } from "../profiles/schema";

/** The container spec a service gets on this machine. */
export function containerSpecFor(cfg: FleetConfig, name: string): ContainerSpec {
    const { stack, profile } = cfg;
    const svc = stack.services[name];
    const health = healthEndpoint(svc);
    return {
        service: name,
        machine: profile.machine,
        containerName: containerName(profile.machine, name),
        ports: publishedPorts(svc),
        bindAddress: stack.docker.bindAddress,
        env: { ...profileRuntimeEnv(profile), SERVICE_NAME: name, TINI_SUBREAPER: "1", ...dependencyEnv(cfg, name), ...svc.env },
        hardening: svc.hardening,
        gpuDevices: svc.gpu && profile.gpu ? profile.gpu.devices : undefined,
        // The schema guarantees the health host port is published, so containerPort is defined.
        health: { containerPort: health.containerPort as number, path: health.path, ...CONTAINER_DEFAULTS.health },
        secretEnv: cfg.secretServices === true,
        restart: CONTAINER_DEFAULTS.restart,
        logs: { ...CONTAINER_DEFAULTS.logs },
        stopTimeoutSeconds: CONTAINER_DEFAULTS.stopTimeoutSeconds,
    };
}

/**
 * FLEET_DEPENDENCIES=<Name>=<url>,… : the health URLs of a service's same-machine dependencies on
 * the stack's network, for services that wait for them themselves (rollout.exposeDependencies).
 */
export function dependencyEnv(cfg: FleetConfig, name: string): Record<string, string> {
    const { stack, profile } = cfg;
    const deps = stack.services[name].dependsOn.filter((d) => stack.services[d] !== undefined);
    if (!stack.rollout.exposeDependencies || deps.length === 0) {
        return {};
    }
    // On Docker the dependency's container name on the stack's network; on a cluster its Service's DNS name.
    const host = (d: string): string =>
        stack.kubernetes
            ? `${workloadName({ containerName: containerName(profile.machine, d) })}.${stack.kubernetes.namespace}.svc`
            : containerName(profile.machine, d);
    const urls = [...deps].sort().map((d) => {
        const h = healthEndpoint(stack.services[d]);
        return `${d}=http://${host(d)}:${h.containerPort}${h.path}`;
    });
    return { FLEET_DEPENDENCIES: urls.join(",") };
}
