import * as pulumi from "@pulumi/pulumi";
import { HealthBounds, HealthCheck, HealthReport } from "./healthCheck";
import { ServiceContainer } from "./serviceContainer";
import { ContainerSettings, ContainerTarget } from "./types";

/**
 * Type tokens of the group components that parented containers before the rollout became a
 * graph. A service's resources carry aliases to both, so a stack rolled out by an older version
 * keeps its containers (same URNs, no replacement) instead of planning new ones beside them.
 */
export const LEGACY_CANARY_TYPE = "ai-fleet:rollout:Canary";
export const LEGACY_BATCH_TYPE = "ai-fleet:rollout:Batch";

/** Aliases to the `<machine>-canary` and `<machine>-batch` group components that parented a service's resources before. */
export function legacyGroupAliases(machine: string): pulumi.Alias[] {
    return [
        { parent: pulumi.createUrn(`${machine}-canary`, LEGACY_CANARY_TYPE) },
        { parent: pulumi.createUrn(`${machine}-batch`, LEGACY_BATCH_TYPE) },
    ];
}

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
    /** false: a failed health check is reported and warned about, but holds nothing back. */
    required: boolean;
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
    /** True when every required service answered {"status":"ok"}. */
    healthy: boolean;
    /** Per service. */
    services: Record<string, HealthReport>;
}

/** A report a service waits for: a canary report of this stack or of another (StackReference). */
export interface Gate {
    /** Where the report comes from, named in the error. */
    source: string;
    /** The report. */
    report: pulumi.Input<RolloutReport>;
    /** When set, the report must be for this release tag (a stale report of an older release does not open the gate). */
    requireTag?: string;
    /** When set, only these services of the report must be in it and healthy (a cross-machine dependency). */
    services?: string[];
}

/** Why a gate stays shut: an operator-facing outcome, not a bug (no stack trace through Pulumi). */
export class GateClosedError extends pulumi.RunError {
    constructor(message: string) {
        super(message);
        this.name = "GateClosedError";
    }
}

/** "passed" when every gate's report is healthy (and for the required tag); otherwise throws naming what failed. */
export function openGate(
    gates: { source: string; report: RolloutReport; requireTag?: string; services?: string[] }[],
    what = "rollout",
): "passed" {
    const problems: string[] = [];
    for (const g of gates) {
        const r = g.report;
        if (!r || typeof r !== "object" || typeof r.healthy !== "boolean" || typeof r.services !== "object") {
            problems.push(`${g.source}: no health report`);
            continue;
        }
        if (g.requireTag !== undefined && r.tag !== g.requireTag) {
            problems.push(`${g.source}: the report is for release ${r.tag}, not ${g.requireTag}`);
        }
        if (g.services !== undefined) {
            for (const name of g.services) {
                const s = r.services[name];
                if (!s) {
                    problems.push(`${g.source}: reports no service ${name}`);
                } else if (!s.healthy) {
                    problems.push(`${g.source}: ${name} unhealthy (${s.url}: status ${JSON.stringify(s.status)})`);
                }
            }
            continue;
        }
        const sick = Object.values(r.services).filter((s) => !s.healthy && s.required !== false);
        if (!r.healthy || sick.length > 0) {
            const names = sick.map((s) => `${s.service} (${s.url}: status ${JSON.stringify(s.status)})`);
            problems.push(`${g.source}: canary unhealthy${names.length ? `: ${names.join(", ")}` : ""}`);
        }
    }
    if (problems.length > 0) {
        throw new GateClosedError(`${what} blocked by its gate:\n  - ${problems.join("\n  - ")}`);
    }
    return "passed";
}

/** The gate value of one service: "passed" at once without gates, else once every report opens. */
export function gateOutput(gates: Gate[], what: string): pulumi.Output<string> {
    if (gates.length === 0) {
        return pulumi.output("passed");
    }
    return pulumi.all(gates.map((g) => pulumi.output(g.report))).apply((reports) =>
        openGate(
            reports.map((report, i) => ({ ...gates[i], report })),
            what,
        ),
    );
}

/**
 * Creates one service's container and health check, named by the container name and parented by
 * nothing that depends on its group: moving a service between canary, its dependencies and the
 * gated rest, or changing its dependencies, keeps its URNs. The container waits for `after` (the
 * health checks of what it depends on) and carries the gate's verdict as a label.
 */
export function rollOutService(
    spec: ServiceRolloutSpec,
    target: ContainerTarget,
    wait: { after: pulumi.Resource[]; gate: pulumi.Input<string>; machine: string },
): RolledOutService {
    const name = spec.settings.containerName;
    const aliases = legacyGroupAliases(wait.machine);
    const container = new ServiceContainer(
        name,
        { settings: spec.settings, image: spec.image, target, gate: wait.gate },
        { dependsOn: wait.after, aliases },
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
            required: spec.required,
            triggers: [container.containerId],
        },
        { dependsOn: [container], aliases },
    );
    return { container, health };
}

/** Combines per-service reports into one; healthy when every required service is. */
export function combineReports(machine: string, tag: string, reports: HealthReport[]): RolloutReport {
    const services: Record<string, HealthReport> = {};
    for (const r of [...reports].sort((a, b) => a.service.localeCompare(b.service))) {
        services[r.service] = r;
    }
    return { machine, tag, healthy: reports.every((r) => r.healthy || r.required === false), services };
}
