/**
 * Per-service rules: one entry of `services` (or of `families`) on its own. A family has exactly one
 * of `parent` and `baseImage`; a service publishes each container port once
 * (`services.<Name>.ports`), publishes its health port (`health.hostPort`), and mounts tmpfs
 * (`hardening.tmpfs`) only on a read-only root, never over `/` and never twice.
 */
import * as path from "path";
import { Issue } from "../issues";
import { healthEndpoint, publishedPorts } from "../model";
import type { FamilyConfig, PortMapping, ServiceConfig, StackConfig } from "../schema";
import { entriesOf, isObject, list, num, str, Unchecked, view } from "./unchecked";

type PortShape = Pick<ServiceConfig, "port" | "healthPort" | "ports" | "health">;

/** Every per-service rule, in the order an operator reads them: families first, then each service. */
export function serviceRules(cfg: Unchecked<StackConfig>): Issue[] {
    return [...familyEntryIssues(cfg), ...entriesOf<ServiceConfig>(cfg.services).flatMap(([name, svc]) => serviceIssues(name, svc))];
}

/** What the port rules read of a service, or undefined where that part's shape is broken. */
export function portShape(svc: Unchecked<ServiceConfig>): PortShape | undefined {
    const port = num(svc.port);
    const healthPort = num(svc.healthPort);
    if (port === undefined || healthPort === undefined || !isObject(svc.health)) {
        return undefined;
    }
    const health = view<ServiceConfig["health"]>(svc.health);
    let ports: PortMapping[] | undefined;
    if (svc.ports !== undefined) {
        ports = [];
        for (const p of list(svc.ports).map((p) => view<PortMapping>(p))) {
            const [container, host, protocol] = [num(p.container), num(p.host), p.protocol ?? "tcp"];
            if (container === undefined || host === undefined || (protocol !== "tcp" && protocol !== "udp")) {
                return undefined;
            }
            ports.push({ container, host, protocol });
        }
        if (!Array.isArray(svc.ports)) {
            return undefined;
        }
    }
    return { port, healthPort, ports, health: { path: str(health.path) ?? "/health", hostPort: num(health.hostPort) } };
}

/** Each family has exactly one of parent and baseImage. */
function familyEntryIssues(cfg: Unchecked<StackConfig>): Issue[] {
    return entriesOf<FamilyConfig>(cfg.families)
        .filter(([, fam]) => (fam.parent === undefined) === (fam.baseImage === undefined))
        .map(([name]) => ({
            path: ["families", name],
            message: "expected exactly one of 'parent' (another family) or 'baseImage' (an external image)",
        }));
}

/** One service's own rules: its ports, its health port, its tmpfs mounts. */
function serviceIssues(name: string, svc: Unchecked<ServiceConfig>): Issue[] {
    const issues: Issue[] = [];
    const shape = portShape(svc);
    if (shape) {
        const ports = publishedPorts(shape);
        const containerPorts = new Set<string>();
        ports.forEach((p, i) => {
            const key = `${p.container}/${p.protocol}`;
            if (containerPorts.has(key)) {
                issues.push({ path: ["services", name, "ports", i, "container"], message: `container port ${key} is published twice` });
            }
            containerPorts.add(key);
        });
        const health = healthEndpoint(shape);
        if (health.containerPort === undefined) {
            issues.push({
                path: ["services", name, "health", "hostPort"],
                message: `health host port ${health.hostPort} is not among the service's published tcp host ports (${ports.map((p) => p.host).join(", ")})`,
            });
        }
    }
    const hardening = view<ServiceConfig["hardening"]>(svc.hardening);
    const tmpfs = list(hardening.tmpfs);
    if (hardening.readOnlyRoot === false && tmpfs.length > 0 && tmpfs.join() !== "/tmp") {
        issues.push({
            path: ["services", name, "hardening", "tmpfs"],
            message: "tmpfs mounts are for a read-only root; drop them or keep readOnlyRoot",
        });
    }
    const seenMounts = new Set<string>();
    tmpfs.forEach((m, i) => {
        if (typeof m !== "string" || !m.startsWith("/")) {
            return; // the schema reports it
        }
        const norm = path.posix.normalize(m).replace(/\/$/, "") || "/";
        if (norm === "/") {
            issues.push({
                path: ["services", name, "hardening", "tmpfs", i],
                message: `"${m}" would cover the whole root filesystem; expected a directory the service writes, e.g. "/tmp"`,
            });
        } else if (seenMounts.has(norm)) {
            issues.push({
                path: ["services", name, "hardening", "tmpfs", i],
                message: `"${m}" is mounted twice (Docker refuses duplicate mount points)`,
            });
        }
        seenMounts.add(norm);
    });
    return issues;
}
