/**
 * The checks that relate one part of the stack config to another: families and their parents,
 * services and their families, ports and repositories shared between services, canary entries, the
 * dependency graph, and a batch nobody gates. They run as the schema's refinement (schema.ts),
 * after them every consistency check (buildChecks.ts, machineChecks.ts), in that order.
 *
 * zod runs the refinement even when some fields failed their types, so every check skips entries
 * whose shape is broken: those are reported already.
 */
import { LayoutEntry, LayoutSchema, layoutPathIssues } from "../buildTree/layout";
import { checkGraph, stackNameOf } from "../graph";
import { z } from "zod";
import { checkBuildArgs, checkBuildPaths, checkDeployNames, checkDeployRegistry, checkRegistry } from "./buildChecks";
import { Issue, Loose } from "./issues";
import { checkAddresses, checkContainerShapes, HealthBounds, healthBoundsIssues } from "./machineChecks";
import { findFamilyCycle, healthEndpoint, publishedPorts, repositoryName } from "./model";
import type { FamilyConfig, ServiceConfig } from "./serviceSchema";

/** The parsed shape the checks read; any part of it may be broken. */
interface CheckedConfig {
    build?: { layout?: z.infer<typeof LayoutSchema> };
    families: Record<string, FamilyConfig>;
    services: Record<string, ServiceConfig>;
    rollout: { canary: string[]; excluded: Record<string, string>; gateStack?: string; allowUngatedBatch: boolean };
    phase: string;
    deploy?: { imagesFromStack?: string; images?: Record<string, string> };
}

// Typed loosely on purpose: the fields read after this check are checked one by one.
function isRecord(v: unknown): v is Record<string, any> {
    return v !== null && typeof v === "object" && !Array.isArray(v);
}

/** Every cross-reference and consistency problem of a (possibly half broken) parsed config. */
export function crossReferenceIssues(cfg: CheckedConfig): Issue[] {
    const families = isRecord(cfg.families) ? cfg.families : {};
    const services = isRecord(cfg.services) ? cfg.services : {};
    const canary = Array.isArray(cfg.rollout?.canary) ? cfg.rollout.canary : [];
    return [
        ...familyIssues(families),
        ...layoutIssues(cfg, families, services),
        ...serviceIssues(families, services),
        ...canaryEntryIssues(canary, services),
        ...graphIssues(cfg, services, canary),
        ...ungatedBatchIssues(cfg, services, new Set(canary)),
        ...consistencyIssues(cfg as unknown as Loose),
    ];
}

/** Each family has exactly one of parent and baseImage, a known parent, and the chain no cycle. */
function familyIssues(families: Record<string, FamilyConfig>): Issue[] {
    const issues: Issue[] = [];
    for (const [name, fam] of Object.entries(families).filter(([, f]) => isRecord(f))) {
        if ((fam.parent === undefined) === (fam.baseImage === undefined)) {
            issues.push({
                path: ["families", name],
                message: "expected exactly one of 'parent' (another family) or 'baseImage' (an external image)",
            });
        }
        if (fam.parent !== undefined && families[fam.parent] === undefined) {
            issues.push({
                path: ["families", name, "parent"],
                message: `unknown family "${fam.parent}" (known: ${Object.keys(families).sort().join(", ")})`,
            });
        }
    }
    return issues;
}

/** The layout's templates resolve to paths inside build.contextRoot for every entry; then the family cycle. */
function layoutIssues(cfg: CheckedConfig, families: Record<string, FamilyConfig>, services: Record<string, ServiceConfig>): Issue[] {
    const issues: Issue[] = [];
    if (isRecord(cfg.build) && (cfg.build.layout === undefined || isRecord(cfg.build.layout))) {
        const layoutEntries = (o: Record<string, unknown>) =>
            Object.fromEntries(Object.entries(o).filter(([, v]) => isRecord(v))) as Record<string, LayoutEntry>;
        issues.push(...layoutPathIssues(cfg.build.layout, layoutEntries(families), layoutEntries(services)));
    }
    const cycle = findFamilyCycle(families);
    if (cycle) {
        issues.push({ path: ["families", cycle[0], "parent"], message: `family cycle: ${cycle.join(" → ")}` });
    }
    return issues;
}

/** Per service: a known family, host and container ports bound once, a published health port, its own repository, tmpfs only on a read-only root. */
function serviceIssues(families: Record<string, FamilyConfig>, services: Record<string, ServiceConfig>): Issue[] {
    const issues: Issue[] = [];
    const hostPorts = new Map<string, string>();
    const repos = new Map<string, string>();
    for (const [name, svc] of Object.entries(services)) {
        if (
            !isRecord(svc) ||
            typeof svc.port !== "number" ||
            typeof svc.healthPort !== "number" ||
            !isRecord(svc.health) ||
            !isRecord(svc.hardening)
        ) {
            continue;
        }
        if (families[svc.family] === undefined) {
            issues.push({
                path: ["services", name, "family"],
                message: `unknown family "${svc.family}" (known: ${Object.keys(families).sort().join(", ")})`,
            });
        }
        const ports = publishedPorts(svc);
        ports.forEach((p, i) => {
            const key = `${p.host}/${p.protocol}`;
            const owner = hostPorts.get(key);
            const where = svc.ports ? ["services", name, "ports", i, "host"] : ["services", name, "ports"];
            if (owner !== undefined) {
                issues.push({
                    path: where,
                    message: `host port ${p.host}/${p.protocol} is already bound by ${owner} on this machine; give one of them another host port`,
                });
            } else {
                hostPorts.set(key, name);
            }
        });
        const containerPorts = new Set<string>();
        ports.forEach((p, i) => {
            const key = `${p.container}/${p.protocol}`;
            if (containerPorts.has(key)) {
                issues.push({ path: ["services", name, "ports", i, "container"], message: `container port ${key} is published twice` });
            }
            containerPorts.add(key);
        });
        const health = healthEndpoint(svc);
        if (health.containerPort === undefined) {
            issues.push({
                path: ["services", name, "health", "hostPort"],
                message: `health host port ${health.hostPort} is not among the service's published tcp host ports (${ports.map((p) => p.host).join(", ")})`,
            });
        }
        const repo = repositoryName(name, svc);
        const other = repos.get(repo);
        if (other !== undefined) {
            issues.push({ path: ["services", name, "image"], message: `image repository "${repo}" is already used by ${other}` });
        } else if (families[repo] !== undefined) {
            issues.push({ path: ["services", name, "image"], message: `image repository "${repo}" is the name of a family image` });
        } else {
            repos.set(repo, name);
        }
        if (!svc.hardening.readOnlyRoot && svc.hardening.tmpfs.length > 0 && svc.hardening.tmpfs.join() !== "/tmp") {
            issues.push({
                path: ["services", name, "hardening", "tmpfs"],
                message: "tmpfs mounts are for a read-only root; drop them or keep readOnlyRoot",
            });
        }
    }
    return issues;
}

/** Each canary entry names a service, once. */
function canaryEntryIssues(canary: string[], services: Record<string, ServiceConfig>): Issue[] {
    const issues: Issue[] = [];
    const seen = new Set<string>();
    canary.forEach((name, i) => {
        if (services[name] === undefined) {
            issues.push({
                path: ["rollout", "canary", i],
                message: `canary entry "${name}" names no service (known: ${Object.keys(services).sort().join(", ")})`,
            });
        } else if (seen.has(name)) {
            issues.push({ path: ["rollout", "canary", i], message: `canary entry "${name}" is listed twice` });
        }
        seen.add(name);
    });
    return issues;
}

/** The dependency graph (graph.ts: unknown names, cycles, optional dependencies), once every service has its shape. */
function graphIssues(cfg: CheckedConfig, services: Record<string, ServiceConfig>, canary: string[]): Issue[] {
    const graphable = Object.entries(services).filter(
        ([, svc]) => isRecord(svc) && Array.isArray(svc.dependsOn) && typeof svc.required === "boolean",
    );
    if (graphable.length !== Object.keys(services).length || !isRecord(cfg.rollout?.excluded)) {
        return [];
    }
    return checkGraph({
        services: Object.fromEntries(graphable),
        canary: canary.filter((c) => typeof c === "string"),
        excluded: cfg.rollout.excluded,
        gateStack: stackNameOf(cfg.rollout.gateStack),
    }).map((issue) => ({ path: issue.path, message: issue.message }));
}

/** A batch (services outside the canary) needs a canary or a gate stack, unless the stack says it may go ungated. */
function ungatedBatchIssues(cfg: CheckedConfig, services: Record<string, ServiceConfig>, canary: Set<string>): Issue[] {
    const hasBatch = Object.keys(services).some((s) => !canary.has(s));
    if (cfg.phase === "build" || !hasBatch || canary.size > 0 || cfg.rollout?.gateStack !== undefined || cfg.rollout?.allowUngatedBatch) {
        return [];
    }
    return [
        {
            path: ["rollout", "canary"],
            message:
                "no canary and no gateStack: the batch would roll out ungated; name canary services, set rollout.gateStack, or set rollout.allowUngatedBatch: true",
        },
    ];
}

/** Every context-free consistency check, in one list (what the schema's refinement adds after the cross-references). */
export function consistencyIssues(cfg: Loose): Issue[] {
    const rollout = cfg.rollout as Loose | undefined;
    const health = isRecord(rollout) && isRecord(rollout.health) ? (rollout.health as Partial<HealthBounds>) : {};
    return [
        ...checkBuildPaths(cfg),
        ...healthBoundsIssues(health),
        ...checkAddresses(cfg),
        ...checkRegistry(cfg),
        ...checkBuildArgs(cfg),
        ...checkDeployNames(cfg),
        ...checkDeployRegistry(cfg),
        ...checkContainerShapes(cfg),
    ];
}
