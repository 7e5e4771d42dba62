/**
 * What a release is once its rollout passed, and the overrides with which the rollout command
 * (cli/rollout.ts) sends the machine back to one: no stack config is edited, so a killed rollback
 * leaves no config behind to restore.
 */
import * as pulumi from "@pulumi/pulumi";
import { z } from "zod";
import { ContainerSpec, containerSpecSchema } from "./common/containerSpec";
import { holdsBack } from "./components/gate";
import type { ServiceSpec } from "./deploy/types";
import { isValidTag, parseImageRef, scopePart } from "./naming";

/**
 * A release whose rollout passed: the tag, every service's image pinned by digest and, since the
 * program records them, every service's spec (container settings and health probe) as it ran.
 */
export interface ReleaseRecord {
    /** Release tag. */
    tag: string;
    /** Service name → `repo@sha256:…`, the image the machine ran when every required check passed. */
    images: Record<string, string>;
    /** Service name → its container settings and health probe at this release (absent in a release of an older program). */
    specs?: Record<string, ServiceSpec>;
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
export function releaseRecord(
    report: ReportLike,
    images: Record<string, string>,
    services: string[],
    specs?: Record<string, ServiceSpec>,
): ReleaseRecord {
    const sick = Object.entries(report.services ?? {})
        .filter(([, s]) => holdsBack(s))
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
    if (specs === undefined) {
        return { tag: report.tag, images: pinned };
    }
    const recorded: Record<string, ServiceSpec> = {};
    for (const name of [...services].sort()) {
        if (specs[name] === undefined) {
            throw new pulumi.RunError(`release ${report.tag}: service ${name} has no spec to record`);
        }
        recorded[name] = specs[name];
    }
    return { tag: report.tag, images: pinned, specs: recorded };
}

/** A value of the `release` output: known once the release passed (a leaf of `gate`), a secret where `secret`. */
type Leaf<T> = pulumi.Output<T>;

/** The `release` output as the program exports it: every leaf an Output, so a service's env can be a secret on its own. */
export interface ReleaseExport {
    tag: Leaf<string>;
    images: Leaf<Record<string, string>>;
    specs: Record<string, { container: Record<string, Leaf<unknown>>; probe: Leaf<ServiceSpec["probe"]> }>;
}

/**
 * One service's recorded spec with every field a leaf of `passed`. The env is a Pulumi secret when
 * the container's is (`secretEnv`: the stack's services config is a secret), so the state and
 * `pulumi stack output` hold it encrypted; everything else is plaintext.
 */
function recordedSpec(passed: pulumi.Output<ReleaseRecord>, spec: ServiceSpec): ReleaseExport["specs"][string] {
    const container: Record<string, Leaf<unknown>> = {};
    for (const [key, value] of Object.entries(spec.container) as [keyof ContainerSpec, unknown][]) {
        if (value === undefined) {
            continue;
        }
        const leaf = passed.apply(() => value);
        container[key] = key === "env" && spec.container.secretEnv === true ? pulumi.secret(leaf) : leaf;
    }
    return { container, probe: passed.apply(() => spec.probe) };
}

/**
 * The `release` stack output: resolves once every service's health check passed. A failed update
 * leaves the previous update's outputs in the stack (measured through the engine), so after a
 * failure this output still names the last release that passed: what the rollback restores. It
 * records each service's spec as the containers ran it (a rollback's update records the restored
 * specs again).
 */
export function releaseOutput(
    fleet: {
        report?: pulumi.Output<ReportLike>;
        images: Record<string, { pinned: pulumi.Output<string> }>;
        containers: string[];
        specs?: Record<string, ServiceSpec>;
    },
    services: string[],
): ReleaseExport | undefined {
    if (fleet.report === undefined || fleet.containers.length === 0 || fleet.specs === undefined) {
        return undefined;
    }
    const specs = fleet.specs;
    const pinned = pulumi.all(Object.fromEntries(services.map((s) => [s, fleet.images[s].pinned])));
    const passed = pulumi
        .all([fleet.report, pinned])
        .apply(([report, images]) => releaseRecord(report, images as Record<string, string>, services, specs));
    return {
        tag: passed.apply((r) => r.tag),
        images: passed.apply((r) => r.images),
        specs: Object.fromEntries([...services].sort().map((s) => [s, recordedSpec(passed, specs[s])])),
    };
}

/**
 * Env var: deploy this release (JSON `{"tag": …, "images"?: {service: repo@sha256:…}, "specs"?: {service: spec}}`,
 * the `release` output's form), build nothing.
 */
export const RELEASE_ENV = "AI_FLEET_DEPLOY_RELEASE";
/** Env var: the container runtime to use instead of the stack's `docker.runtime` (provider | cli). */
export const RUNTIME_ENV = "AI_FLEET_DOCKER_RUNTIME";

const portNumber = z.number().int().min(1).max(65535);
/** A recorded spec as the `release` output holds it (ContainerSpec and ProbeSettings): what a rollback hands back. */
const serviceSpecSchema = z.strictObject({
    container: containerSpecSchema,
    probe: z.strictObject({
        host: z.string(),
        port: portNumber,
        path: z.string(),
        bounds: z.strictObject({
            timeoutSeconds: z.number(),
            intervalSeconds: z.number(),
            retries: z.number(),
            requestTimeoutSeconds: z.number(),
        }),
    }),
});

/** Compile-time: the schema describes exactly ServiceSpec (the container part is ContainerSpec's own schema). */
type Same<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;
const specSchemaIsServiceSpec: Same<z.output<typeof serviceSpecSchema>, ServiceSpec> = true;
void specSchemaIsServiceSpec;

/** What the environment overrides for one run. */
export interface RunOverrides {
    /** The release to deploy (phase deploy), if any; with specs, those replace the stack file's (deploy/specs.ts). */
    release?: { tag: string; images?: Record<string, string>; specs?: Record<string, ServiceSpec> };
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
        const specs = (parsed as { specs?: unknown }).specs;
        if (specs !== undefined) {
            const checked = z.record(z.string(), serviceSpecSchema).safeParse(specs);
            if (!checked.success) {
                const where = checked.error.issues.map((i) => `${RELEASE_ENV}.specs.${i.path.join(".")}: ${i.message}`);
                throw new pulumi.RunError(`${RELEASE_ENV}.specs: not a release's recorded specs:\n  - ${where.join("\n  - ")}`);
            }
            out.release.specs = checked.data as Record<string, ServiceSpec>;
        }
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

/**
 * A fleet stack's overrides for one of its machines: the release's images and specs keyed
 * `<machine>/<Service>` (the fleet's `release` output) with the machine's part, its prefix taken off.
 */
export function machineOverrides(o: RunOverrides, machine: string): RunOverrides {
    if (!o.release) {
        return o;
    }
    return {
        ...o,
        release: { tag: o.release.tag, images: scopePart(o.release.images, machine), specs: scopePart(o.release.specs, machine) },
    };
}
