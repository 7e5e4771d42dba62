/**
 * The service and family model derived from a parsed stack config, in one place: the ports a
 * service publishes, its health endpoint, its image repository, where its build context is, the
 * order families build in, and the host the health checks call. Pure functions. (The rollout order
 * is graph.ts's rolloutPlanOf: the plan reads config, config does not read the plan.)
 */
import { snake } from "../naming";
import { buildPaths, LayoutEntry, LayoutSettings, resolveLayout } from "./layout";
import type { PortMapping, ServiceConfig } from "./schema";

/**
 * A service's published ports. Default: port and healthPort on themselves, and the HTTP health
 * endpoint (container port healthPort + 1) on health.hostPort, itself defaulting to healthPort + 1.
 */
export function publishedPorts(svc: Pick<ServiceConfig, "port" | "healthPort" | "ports" | "health">): PortMapping[] {
    if (svc.ports) {
        return svc.ports;
    }
    return [
        { container: svc.port, host: svc.port, protocol: "tcp" },
        { container: svc.healthPort, host: svc.healthPort, protocol: "tcp" },
        { container: svc.healthPort + 1, host: svc.health.hostPort ?? svc.healthPort + 1, protocol: "tcp" },
    ];
}

/** The HTTP health endpoint on the machine (host side) and inside the container. */
export function healthEndpoint(svc: Pick<ServiceConfig, "port" | "healthPort" | "ports" | "health">): {
    hostPort: number;
    containerPort: number | undefined;
    path: string;
} {
    const hostPort = svc.health.hostPort ?? svc.healthPort + 1;
    const mapping = publishedPorts(svc).find((p) => p.host === hostPort && p.protocol === "tcp");
    return { hostPort, containerPort: mapping?.container, path: svc.health.path };
}

/** A service's repository name under `<registry>/<org>/<namespace>/<machine>/`: `image`, else the name in snake_case. */
export function repositoryName(name: string, svc: { image?: string }): string {
    return svc.image ?? snake(name);
}

/** Context and Dockerfile of a service, relative to build.contextRoot (build.layout, else <snake_case>/Dockerfile). */
export function serviceBuildPaths(name: string, svc: LayoutEntry, layout?: LayoutSettings): { context: string; dockerfile: string } {
    return buildPaths("services", name, svc, resolveLayout(layout));
}

/** Context and Dockerfile of a family, relative to build.contextRoot (build.layout, else families/<name>/Dockerfile). */
export function familyBuildPaths(name: string, fam: LayoutEntry, layout?: LayoutSettings): { context: string; dockerfile: string } {
    return buildPaths("families", name, fam, resolveLayout(layout));
}

/** Families in build order (parents first); assumes no cycle (the schema rejects cycles). */
export function familyOrder(families: Record<string, { parent?: string }>): string[] {
    const order: string[] = [];
    const seen = new Set<string>();
    const visit = (name: string): void => {
        if (seen.has(name)) {
            return;
        }
        seen.add(name);
        const parent = families[name]?.parent;
        if (parent !== undefined && families[parent] !== undefined) {
            visit(parent);
        }
        order.push(name);
    };
    Object.keys(families).sort().forEach(visit);
    return order;
}

/** The host the health checks call, derived from the Docker host unless docker.healthHost is set. */
export function healthHost(docker: { host: string; healthHost?: string }): string {
    if (docker.healthHost) {
        return docker.healthHost;
    }
    const m = /^(?:ssh:\/\/[^@]+@|tcp:\/\/)([^:/]+)/.exec(docker.host);
    return m ? m[1] : "127.0.0.1";
}
