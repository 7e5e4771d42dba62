/**
 * Wires one machine's rollout from its parsed config: family images (a DAG) → service images →
 * registry verification → canary containers and health checks → the gated batch.
 */
import * as pulumi from "@pulumi/pulumi";
import * as docker from "@pulumi/docker";
import { FleetConfig, healthEndpoint, healthHost, publishedPorts, familyOrder, ServiceConfig } from "./config";
import { containerName, imageRepository, kebab, ReleaseTag, snake, SourceCommit } from "./naming";
import { profileRuntimeEnv } from "./profiles/schema";
import {
    Batch,
    BuildSettings,
    Canary,
    FamilyImage,
    Gate,
    ImageVerification,
    PinnedImage,
    RolloutReport,
    ScanReport,
    ServiceImage,
    ServiceRolloutSpec,
} from "./components";
import { scanned } from "./scanGate";

/** Inputs of deploy() that do not come from the stack config. */
export interface DeployInputs {
    /** The parsed stack config and profile. */
    config: FleetConfig;
    /** The release tag. */
    release: ReleaseTag;
    /** The commit the contexts are at, when known (labels). */
    commit?: SourceCommit;
    /** Registry password, a secret. */
    registryPassword: pulumi.Output<string>;
}

/** An image as the stack exports it. */
export interface ImageOutput {
    /** `repo@sha256:…` as verified in the registry. */
    pinned: pulumi.Output<string>;
    /** `repo:tag`, or the given reference in the deploy phase. */
    ref: pulumi.Output<string>;
}

/** What a stack exports. */
export interface FleetOutputs {
    machine: string;
    phase: string;
    tag: string;
    tagSource: string;
    /** Family and service images by name. */
    images: Record<string, ImageOutput>;
    /** Container names per rollout group (empty in the build phase). */
    containers: { canary: string[]; batch: string[] };
    canaryReport?: pulumi.Output<RolloutReport>;
    /** "passed" once every gate of the batch is open. */
    gate?: pulumi.Output<string>;
    batchReport?: pulumi.Output<RolloutReport>;
    /** Per service: the vulnerability scan report (unless ai-fleet:scan.enabled is false). */
    scanReport?: pulumi.Output<Record<string, ScanReport>>;
}

/** Context and Dockerfile of a service, relative to build.contextRoot. */
export function serviceBuildPaths(name: string, svc: Pick<ServiceConfig, "context" | "dockerfile">): { context: string; dockerfile: string } {
    const context = svc.context ?? snake(name);
    return { context, dockerfile: svc.dockerfile ?? `${context}/Dockerfile` };
}

/** Context and Dockerfile of a family, relative to build.contextRoot. */
export function familyBuildPaths(name: string, fam: { context?: string; dockerfile?: string }): { context: string; dockerfile: string } {
    const context = fam.context ?? `families/${name}`;
    return { context, dockerfile: fam.dockerfile ?? `${context}/Dockerfile` };
}

/** The container settings a service gets on this machine. */
export function containerSettingsFor(cfg: FleetConfig, name: string, rollout: "canary" | "batch") {
    const { stack, profile } = cfg;
    const svc = stack.services[name];
    const health = healthEndpoint(svc);
    return {
        service: name,
        machine: profile.machine,
        containerName: containerName(profile.machine, name),
        rollout,
        ports: publishedPorts(svc),
        bindAddress: stack.docker.bindAddress,
        env: { ...profileRuntimeEnv(profile), SERVICE_NAME: name, TINI_SUBREAPER: "1", ...svc.env },
        hardening: svc.hardening,
        gpuDevices: svc.gpu && profile.gpu ? profile.gpu.devices : undefined,
        // The schema guarantees the health host port is published, so containerPort is defined.
        health: { containerPort: health.containerPort as number, path: health.path },
    };
}

/** Builds, verifies and (unless phase is build) rolls out one machine. */
export function deploy(inputs: DeployInputs): FleetOutputs {
    const { config, release } = inputs;
    const { stack, profile } = config;
    const machine = profile.machine;
    const registry = {
        host: stack.registry.host,
        username: stack.registry.username,
        password: inputs.registryPassword,
        insecure: stack.registry.insecure,
    };
    const repo = (name: string) => imageRepository(stack.registry, machine, name);
    const images: Record<string, ImageOutput> = {};
    const verified: Record<string, { pinned: pulumi.Output<string>; digest: pulumi.Output<string> }> = {};

    if (stack.phase === "deploy") {
        // Deploy images that exist already: a given digest, a build stack's export, or else the
        // release tag (FORCE_IMAGE_TAG=<previous tag> is how a rollback names it). Nothing is built.
        const fromStack = stack.deploy?.imagesFromStack ? new pulumi.StackReference(stack.deploy.imagesFromStack) : undefined;
        for (const name of Object.keys(stack.services).sort()) {
            const given = stack.deploy?.images?.[name];
            const tagged = `${repo(stack.services[name].image ?? snake(name))}:${release.tag}`;
            const ref: pulumi.Output<string> = given !== undefined
                ? pulumi.output(given)
                : fromStack !== undefined
                    ? fromStack.requireOutput("images").apply((all) => {
                        const entry = (all as Record<string, { pinned?: string }>)[name];
                        if (!entry?.pinned) {
                            throw new Error(`stack ${stack.deploy?.imagesFromStack} exports no image for service ${name}`);
                        }
                        return entry.pinned;
                    })
                    : pulumi.output(tagged);
            const check = new ImageVerification(`${kebabName(name)}-verify`, { image: ref, registry });
            verified[name] = check;
            images[name] = { pinned: check.pinned, ref };
        }
    } else {
        const settings: BuildSettings = {
            profile,
            tag: release.tag,
            revision: inputs.commit?.sha ?? "unknown",
            created: inputs.commit ? inputs.commit.date.toISOString() : "1970-01-01T00:00:00.000Z",
            sourceUrl: stack.build.sourceUrl,
            contextRoot: stack.build.contextRoot,
            platform: stack.build.platform,
            cache: stack.build.cache,
            buildOnPreview: stack.build.buildOnPreview,
            builder: stack.build.builder,
            registry: { address: registry.host, username: registry.username, password: registry.password },
        };
        // Every built image is looked up in the registry before anything builds FROM it or runs it.
        const verifyBuilt = (key: string, logicalName: string, image: PinnedImage): ImageOutput => {
            const ref = pulumi.interpolate`${image.repository}:${image.tag}`;
            const check = new ImageVerification(`${logicalName}-verify`, { image: ref, expectedDigest: image.digest, registry });
            verified[key] = check;
            return { pinned: check.pinned, ref };
        };
        for (const name of familyOrder(stack.families)) {
            const fam = stack.families[name];
            const parent = fam.parent !== undefined ? verified[familyKey(fam.parent)].pinned : (fam.baseImage as string);
            const image = new FamilyImage(name, { settings, repository: repo(name), ...familyBuildPaths(name, fam), baseImage: parent, buildArgs: fam.buildArgs });
            images[name] = verifyBuilt(familyKey(name), name, image);
        }
        for (const name of Object.keys(stack.services).sort()) {
            const svc = stack.services[name];
            const image = new ServiceImage(kebabName(name), {
                settings,
                service: name,
                repository: repo(svc.image ?? snake(name)),
                ...serviceBuildPaths(name, svc),
                family: verified[familyKey(svc.family)].pinned,
                buildArgs: svc.buildArgs,
            });
            images[name] = verifyBuilt(name, kebabName(name), image);
        }
    }

    const outputs: FleetOutputs = { machine, phase: stack.phase, tag: release.tag, tagSource: release.source, images, containers: { canary: [], batch: [] } };
    if (stack.phase === "build") {
        return outputs;
    }
    // The vulnerability gate: containers take the scanned references, so none runs an image before
    // its scan passed (scanGate.ts).
    const runnable = scanned({ scan: stack.scan, services: Object.keys(stack.services), verified, registry });
    outputs.scanReport = runnable.report;

    const provider = new docker.Provider(`${machine}-docker`, {
        host: stack.docker.host,
        sshOpts: stack.docker.sshOpts.length ? stack.docker.sshOpts : undefined,
        registryAuth: [{ address: registry.host, username: registry.username, password: registry.password }],
    });
    const network = new docker.Network(`${machine}-network`, { name: `ai-fleet-${machine}`, driver: "bridge", labels: [{ label: "ai-fleet.stack", value: machine }] }, { provider });
    const target = { provider, network: network.name };
    const host = healthHost(stack.docker);
    const spec = (name: string, rollout: "canary" | "batch"): ServiceRolloutSpec => {
        const health = healthEndpoint(stack.services[name]);
        return {
            settings: containerSettingsFor(config, name, rollout),
            image: runnable.images[name].pinned,
            digest: runnable.images[name].digest,
            health: { host, port: health.hostPort, path: health.path, bounds: stack.rollout.health },
        };
    };

    const canaryNames = [...stack.rollout.canary];
    const batchNames = Object.keys(stack.services).filter((n) => !canaryNames.includes(n)).sort();
    const gates: Gate[] = [];
    let after: pulumi.Resource[] = [];
    if (canaryNames.length > 0) {
        const canary = new Canary(`${machine}-canary`, { machine, tag: release.tag, services: canaryNames.map((n) => spec(n, "canary")), target });
        gates.push({ source: `${machine} canary`, report: canary.report });
        after = canary.checks;
        outputs.canaryReport = canary.report;
    }
    if (stack.rollout.gateStack) {
        const ref = new pulumi.StackReference(stack.rollout.gateStack);
        gates.push({ source: `stack ${stack.rollout.gateStack}`, report: ref.requireOutput("canaryReport") as pulumi.Output<RolloutReport>, requireTag: release.tag });
    }
    if (batchNames.length > 0) {
        const batch = new Batch(`${machine}-batch`, { machine, tag: release.tag, services: batchNames.map((n) => spec(n, "batch")), target, gates, after });
        outputs.gate = batch.gate;
        outputs.batchReport = batch.report;
    }
    outputs.containers = {
        canary: canaryNames.map((n) => containerName(machine, n)),
        batch: batchNames.map((n) => containerName(machine, n)),
    };
    return outputs;
}

/** Family verifications share the map with services; a prefix keeps a family and a service apart. */
function familyKey(name: string): string {
    return `family:${name}`;
}

/** Logical name of a service's image resources: `svc-<kebab>`. */
function kebabName(service: string): string {
    return `svc-${kebab(service)}`;
}
