/**
 * The spec of each service: what its container and health check run with. From the stack file
 * (containerSpecFor and the health endpoint), or, in a rollback, as a release recorded it; and
 * where the two differ, so the rollback can say which services the stack file would change again.
 */
import * as pulumi from "@pulumi/pulumi";
import { FleetConfig, healthEndpoint, healthHost } from "../config";
import { ContainerSpec } from "../common/containerSpec";
import { containerSpecFor } from "./containers";
import { ProbeSettings, ServiceSpec, SpecDifference, SpecSource } from "./types";

/** The spec the stack file gives a service on this machine. */
export function serviceSpecFor(cfg: FleetConfig, name: string): ServiceSpec {
    const { stack } = cfg;
    const health = healthEndpoint(stack.services[name]);
    const b = stack.rollout.health;
    return {
        container: containerSpecFor(cfg, name),
        probe: {
            host: healthHost(stack.docker),
            port: health.hostPort,
            path: health.path,
            bounds: {
                timeoutSeconds: b.timeoutSeconds,
                intervalSeconds: b.intervalSeconds,
                retries: b.retries,
                requestTimeoutSeconds: b.requestTimeoutSeconds,
            },
        },
    };
}

/**
 * The specs the services run with: the stack file's, or for a rollback the release's recorded spec
 * of every service it records (the rest: the stack file's), and where they come from. A
 * recorded spec keeps its env secret when it was recorded secret or the stack's services are secret now.
 */
export function serviceSpecs(
    cfg: FleetConfig,
    restore?: { tag: string; specs?: Record<string, ServiceSpec> },
): { specs: Record<string, ServiceSpec>; specSource: SpecSource } {
    const names = Object.keys(cfg.stack.services).sort();
    const fromFile = Object.fromEntries(names.map((n) => [n, serviceSpecFor(cfg, n)]));
    if (restore === undefined) {
        return { specs: fromFile, specSource: { from: "stack file" } };
    }
    const recorded = restore.specs;
    const specs: Record<string, ServiceSpec> = {};
    const differences: SpecDifference[] = [];
    const fromStackFile: string[] = [];
    for (const name of names) {
        const now = fromFile[name];
        const was = recorded?.[name];
        if (was === undefined) {
            specs[name] = now;
            fromStackFile.push(name);
            continue;
        }
        for (const key of ["service", "machine", "containerName"] as const) {
            if (was.container[key] !== now.container[key]) {
                throw new pulumi.RunError(
                    `release ${restore.tag}: the recorded spec of ${name} has ${key} ${JSON.stringify(was.container[key])}, this stack gives ${JSON.stringify(now.container[key])}; a release restores onto the machine it was recorded on`,
                );
            }
        }
        const secretEnv = was.container.secretEnv === true || now.container.secretEnv === true;
        specs[name] = { container: { ...was.container, secretEnv }, probe: was.probe };
        differences.push(...specDifferences(name, specs[name], now));
    }
    return {
        specs,
        specSource: { from: "release", tag: restore.tag, recordedSpecs: recorded !== undefined, differences, fromStackFile },
    };
}

/** JSON with object keys sorted, so that two equal settings compare equal whatever their key order. */
function canonical(v: unknown): string {
    return JSON.stringify(v, (_k, x: unknown) =>
        x !== null && typeof x === "object" && !Array.isArray(x)
            ? Object.fromEntries(Object.entries(x as Record<string, unknown>).sort(([a], [b]) => a.localeCompare(b)))
            : x,
    );
}

/** `KEY=value` (or `KEY=[secret]`), `KEY unset` for the keys whose values differ. */
function envSide(keys: string[], env: Record<string, string>, secret: boolean): string {
    return keys.map((k) => (env[k] === undefined ? `${k} unset` : `${k}=${secret ? "[secret]" : env[k]}`)).join(", ");
}

/** A container setting for display. */
function shown(key: string, v: unknown): string {
    if (v === undefined) {
        return "none";
    }
    if (key === "ports") {
        return (v as ContainerSpec["ports"]).map((p) => `${p.host}->${p.container}/${p.protocol}`).join(", ");
    }
    return canonical(v);
}

/** Where `release` (a restored spec) differs from `stackFile` (the spec the stack file gives now), field by field. */
export function specDifferences(service: string, release: ServiceSpec, stackFile: ServiceSpec): SpecDifference[] {
    const out: SpecDifference[] = [];
    const a = release.container;
    const b = stackFile.container;
    const keys = [...new Set([...Object.keys(a.env), ...Object.keys(b.env)])].sort().filter((k) => a.env[k] !== b.env[k]);
    if (keys.length > 0) {
        const secret = a.secretEnv === true || b.secretEnv === true;
        out.push({ service, field: "env", release: envSide(keys, a.env, secret), stackFile: envSide(keys, b.env, secret) });
    }
    // Every other container setting, so that a field added to ContainerSpec is compared too.
    const skip = new Set(["env", "secretEnv", "service", "machine", "containerName"]);
    const fields = [...new Set([...Object.keys(a), ...Object.keys(b)])].filter((k) => !skip.has(k)).sort();
    for (const k of fields) {
        const x = (a as unknown as Record<string, unknown>)[k];
        const y = (b as unknown as Record<string, unknown>)[k];
        if (canonical(x) !== canonical(y)) {
            out.push({ service, field: k, release: shown(k, x), stackFile: shown(k, y) });
        }
    }
    const p = (s: ProbeSettings): string => `GET http://${s.host}:${s.port}${s.path}`;
    if (p(release.probe) !== p(stackFile.probe)) {
        out.push({ service, field: "health probe", release: p(release.probe), stackFile: p(stackFile.probe) });
    }
    if (canonical(release.probe.bounds) !== canonical(stackFile.probe.bounds)) {
        out.push({
            service,
            field: "health bounds",
            release: canonical(release.probe.bounds),
            stackFile: canonical(stackFile.probe.bounds),
        });
    }
    return out;
}
