/**
 * What a release is once its rollout passed, and the overrides with which the rollout command
 * (cli/rollout.ts) sends the machine back to one: no stack config is edited, so a killed rollback
 * leaves no config behind to restore.
 */
import * as pulumi from "@pulumi/pulumi";
import { isValidTag, parseImageRef } from "./naming";

/** A release whose rollout passed: the tag and every service's image, pinned by digest. */
export interface ReleaseRecord {
    /** Release tag. */
    tag: string;
    /** Service name → `repo@sha256:…`, the image the machine ran when every required check passed. */
    images: Record<string, string>;
}

/** A service's health as the `report` output carries it (the fields the record needs). */
interface ReportLike {
    tag: string;
    healthy: boolean;
    services: Record<string, { healthy: boolean; required?: boolean }>;
}

/**
 * The release record of a finished rollout: only when the report is healthy (every required service
 * passed). Throws otherwise, so the `release` output never names a release that did not pass.
 */
export function releaseRecord(report: ReportLike, images: Record<string, string>, services: string[]): ReleaseRecord {
    const sick = Object.entries(report.services ?? {})
        .filter(([, s]) => !s.healthy && s.required !== false)
        .map(([n]) => n);
    if (!report.healthy || sick.length > 0) {
        throw new pulumi.RunError(`release ${report.tag} did not pass: ${sick.join(", ") || "report unhealthy"}`);
    }
    const pinned: Record<string, string> = {};
    for (const name of [...services].sort()) {
        const ref = images[name];
        if (!ref || !parseImageRef(ref)?.digest) {
            throw new pulumi.RunError(`release ${report.tag}: service ${name} has no image pinned by digest (got ${JSON.stringify(ref)})`);
        }
        pinned[name] = ref;
    }
    return { tag: report.tag, images: pinned };
}

/**
 * The `release` stack output: resolves once every service's health check passed. A failed update
 * leaves the previous update's outputs in the stack (measured through the engine), so after a
 * failure this output still names the last release that passed: what the rollback restores.
 */
export function releaseOutput(
    fleet: {
        report?: pulumi.Output<ReportLike>;
        images: Record<string, { pinned: pulumi.Output<string> }>;
        containers: string[];
    },
    services: string[],
): pulumi.Output<ReleaseRecord> | undefined {
    if (fleet.report === undefined || fleet.containers.length === 0) {
        return undefined;
    }
    const pinned = pulumi.all(Object.fromEntries(services.map((s) => [s, fleet.images[s].pinned])));
    return pulumi
        .all([fleet.report, pinned])
        .apply(([report, images]) => releaseRecord(report, images as Record<string, string>, services));
}

/** Env var: deploy this release (JSON `{"tag": …, "images"?: {service: repo@sha256:…}}`), build nothing. */
export const RELEASE_ENV = "AI_FLEET_DEPLOY_RELEASE";
/** Env var: the container runtime to use instead of the stack's `docker.runtime` (provider | cli). */
export const RUNTIME_ENV = "AI_FLEET_DOCKER_RUNTIME";

/** What the environment overrides for one run. */
export interface RunOverrides {
    /** The release to deploy (phase deploy), if any. */
    release?: { tag: string; images?: Record<string, string> };
    /** The container runtime, if overridden. */
    runtime?: "provider" | "cli";
}

/** Reads the overrides from the environment; a malformed value is an error naming the variable. */
export function parseOverrides(env: Record<string, string | undefined>): RunOverrides {
    const out: RunOverrides = {};
    const text = env[RELEASE_ENV];
    if (text !== undefined && text.trim() !== "") {
        let parsed: unknown;
        try {
            parsed = JSON.parse(text);
        } catch {
            throw new pulumi.RunError(`${RELEASE_ENV} is not JSON: expected {"tag": "<tag>", "images": {"<Service>": "repo@sha256:…"}}`);
        }
        const r = parsed as { tag?: unknown; images?: unknown };
        if (typeof r?.tag !== "string" || !isValidTag(r.tag)) {
            throw new pulumi.RunError(`${RELEASE_ENV}.tag: expected a release tag, got ${JSON.stringify(r?.tag)}`);
        }
        let images: Record<string, string> | undefined;
        if (r.images !== undefined) {
            if (r.images === null || typeof r.images !== "object" || Array.isArray(r.images)) {
                throw new pulumi.RunError(`${RELEASE_ENV}.images: expected an object of service → repo@sha256:…`);
            }
            images = {};
            for (const [svc, ref] of Object.entries(r.images as Record<string, unknown>)) {
                if (typeof ref !== "string" || !parseImageRef(ref)?.digest) {
                    throw new pulumi.RunError(`${RELEASE_ENV}.images.${svc}: expected repo@sha256:…, got ${JSON.stringify(ref)}`);
                }
                images[svc] = ref;
            }
        }
        out.release = { tag: r.tag, images };
    }
    const runtime = env[RUNTIME_ENV];
    if (runtime !== undefined && runtime !== "") {
        if (runtime !== "provider" && runtime !== "cli") {
            throw new pulumi.RunError(`${RUNTIME_ENV}: expected provider or cli, got ${JSON.stringify(runtime)}`);
        }
        out.runtime = runtime;
    }
    return out;
}

/**
 * The raw stack config with the overrides applied: a release goes out in phase `deploy` with its
 * digests (`deploy.images`) or, without digests, every service's `<repo>:<tag>`; nothing is built.
 */
export function applyOverrides(raw: Record<string, unknown>, o: RunOverrides): Record<string, unknown> {
    const out: Record<string, unknown> = { ...raw };
    if (o.release) {
        out.phase = "deploy";
        out.deploy = o.release.images ? { images: { ...o.release.images } } : {};
    }
    if (o.runtime) {
        const docker = raw.docker !== null && typeof raw.docker === "object" ? (raw.docker as Record<string, unknown>) : {};
        out.docker = { ...docker, runtime: o.runtime };
    }
    return out;
}
