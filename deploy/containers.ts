/**
 * The config mapped onto the container component's plain settings: what a service's container gets
 * on this machine (ports, environment, hardening, GPU, health endpoint).
 */
import { FleetConfig, healthEndpoint, publishedPorts } from "../config";
import { ContainerSettings } from "../components";
import { containerName } from "../naming";
import { profileRuntimeEnv } from "../profiles/schema";

/** The container settings a service gets on this machine. */
export function containerSettingsFor(cfg: FleetConfig, name: string): ContainerSettings {
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
        health: { containerPort: health.containerPort as number, path: health.path },
        secretEnv: cfg.secretServices === true,
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
    const urls = [...deps].sort().map((d) => {
        const h = healthEndpoint(stack.services[d]);
        return `${d}=http://${containerName(profile.machine, d)}:${h.containerPort}${h.path}`;
    });
    return { FLEET_DEPENDENCIES: urls.join(",") };
}
