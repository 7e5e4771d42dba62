/**
 * Wires one machine's rollout from its parsed config: family images (a DAG) → service images →
 * registry verification → canary containers and health checks → the gated batch.
 */
import * as pulumi from "@pulumi/pulumi";
import * as docker from "@pulumi/docker";
import { FleetConfig, healthEndpoint, healthHost, publishedPorts, familyOrder, rolloutPlanOf, StackConfig } from "./config";
import { buildPaths, LayoutEntry, resolveLayout } from "./build/layout";
import { containerName, imageRepository, kebab, ReleaseTag, snake, SourceCommit } from "./naming";
import { profileRuntimeEnv } from "./profiles/schema";
import {
    BuildSettings,
    combineReports,
    ContainerSettings,
    ContainerTarget,
    FamilyImage,
    Gate,
    gateOutput,
    ImageVerification,
    PinnedImage,
    RolledOutService,
    rollOutService,
    RolloutReport,
    ScanReport,
    ServiceImage,
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
    /** Container names (empty in the build phase). */
    containers: string[];
    /** The canary services' health: what pc2 (rollout.gateStack) gates on. */
    canaryReport?: pulumi.Output<RolloutReport>;
    /** "passed" once every gate of the stack is open (the canary's, the gate stack's, cross-machine dependencies'). */
    gate?: pulumi.Output<string>;
    /** Every service's health at this release: what a cross-machine dependency waits for. */
    report?: pulumi.Output<RolloutReport>;
    /** The rollout order (scripts/plan.ts draws it). */
    plan?: { levels: string[][]; criticalPath: string[]; canary: string[]; canaryDependencies: string[]; gated: string[] };
    /** Per service: the vulnerability scan report (unless ai-fleet:scan.enabled is false). */
    scanReport?: pulumi.Output<Record<string, ScanReport>>;
}

/** Context and Dockerfile of a service, relative to build.contextRoot (build.layout, else <snake_case>/Dockerfile). */
export function serviceBuildPaths(
    name: string,
    svc: LayoutEntry,
    layout?: StackConfig["build"]["layout"],
): { context: string; dockerfile: string } {
    return buildPaths("services", name, svc, resolveLayout(layout));
}

/** Context and Dockerfile of a family, relative to build.contextRoot (build.layout, else families/<name>/Dockerfile). */
export function familyBuildPaths(
    name: string,
    fam: LayoutEntry,
    layout?: StackConfig["build"]["layout"],
): { context: string; dockerfile: string } {
    return buildPaths("families", name, fam, resolveLayout(layout));
}

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
            const ref: pulumi.Output<string> =
                given !== undefined
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
        // With a parent (pinned by digest), verification also proves the image's layers extend the parent's.
        const verifyBuilt = (key: string, logicalName: string, image: PinnedImage, parent?: pulumi.Output<string>): ImageOutput => {
            const ref = pulumi.interpolate`${image.repository}:${image.tag}`;
            const check = new ImageVerification(`${logicalName}-verify`, {
                image: ref,
                expectedDigest: image.digest,
                registry,
                parent,
                platform: stack.build.platform,
            });
            verified[key] = check;
            return { pinned: check.pinned, ref };
        };
        for (const name of familyOrder(stack.families)) {
            const fam = stack.families[name];
            const parent = fam.parent !== undefined ? verified[familyKey(fam.parent)].pinned : (fam.baseImage as string);
            const image = new FamilyImage(name, {
                settings,
                repository: repo(name),
                ...familyBuildPaths(name, fam, stack.build.layout),
                baseImage: parent,
                buildArgs: fam.buildArgs,
            });
            images[name] = verifyBuilt(
                familyKey(name),
                name,
                image,
                fam.parent !== undefined ? verified[familyKey(fam.parent)].pinned : undefined,
            );
        }
        for (const name of Object.keys(stack.services).sort()) {
            const svc = stack.services[name];
            const image = new ServiceImage(kebabName(name), {
                settings,
                service: name,
                repository: repo(svc.image ?? snake(name)),
                ...serviceBuildPaths(name, svc, stack.build.layout),
                family: verified[familyKey(svc.family)].pinned,
                buildArgs: svc.buildArgs,
            });
            images[name] = verifyBuilt(name, kebabName(name), image, verified[familyKey(svc.family)].pinned);
        }
    }

    const outputs: FleetOutputs = { machine, phase: stack.phase, tag: release.tag, tagSource: release.source, images, containers: [] };
    if (stack.phase === "build") {
        return outputs;
    }
    // The vulnerability gate: containers take the scanned references, so none runs an image before
    // its scan passed (scanGate.ts).
    const runnable = scanned({ scan: stack.scan, services: Object.keys(stack.services), verified, registry });
    outputs.scanReport = runnable.report;
    return { ...outputs, ...rollOut(config, release, runnable.images, registry) };
}

/** The container target of the stack: the docker provider, or the docker CLI through commands. */
function containerTarget(
    config: FleetConfig,
    registry: { host: string; username: string; password: pulumi.Output<string> },
): ContainerTarget {
    const { stack, profile } = config;
    const network = `ai-fleet-${profile.machine}`;
    if (stack.docker.runtime === "cli") {
        return { runtime: "cli", dockerHost: stack.docker.host, network, stack: profile.machine, registry };
    }
    const provider = new docker.Provider(`${profile.machine}-docker`, {
        host: stack.docker.host,
        sshOpts: stack.docker.sshOpts.length ? stack.docker.sshOpts : undefined,
        registryAuth: [{ address: registry.host, username: registry.username, password: registry.password }],
    });
    const net = new docker.Network(
        `${profile.machine}-network`,
        { name: network, driver: "bridge", labels: [{ label: "ai-fleet.stack", value: profile.machine }] },
        { provider },
    );
    return { runtime: "provider", provider, network: net.name };
}

/**
 * Rolls the services out as one graph: each container waits for the health checks of its own
 * dependencies (no level barriers), the canary's dependencies go first, the canary's health
 * gates everything the canary does not need, and a cross-machine dependency waits for the gate
 * stack's report of that service at this release.
 */
function rollOut(
    config: FleetConfig,
    release: ReleaseTag,
    verified: Record<string, { pinned: pulumi.Output<string>; digest: pulumi.Output<string> }>,
    registry: { host: string; username: string; password: pulumi.Output<string> },
): Pick<FleetOutputs, "containers" | "canaryReport" | "gate" | "report" | "plan"> {
    const { stack, profile } = config;
    const machine = profile.machine;
    const plan = rolloutPlanOf(stack);
    const target = containerTarget(config, registry);
    const host = healthHost(stack.docker);
    const gateStack = stack.rollout.gateStack ? new pulumi.StackReference(stack.rollout.gateStack) : undefined;

    const rolled: Record<string, RolledOutService> = {};
    const serviceGates: pulumi.Output<string>[] = [];
    // Built once, when the first gated service needs them: the waves put every canary service before it.
    let canary: { checks: pulumi.Resource[]; report?: pulumi.Output<RolloutReport>; gates: Gate[] } | undefined;
    const canaryGate = (): NonNullable<typeof canary> => {
        if (canary === undefined) {
            const report =
                stack.rollout.canary.length > 0
                    ? pulumi
                          .all(stack.rollout.canary.map((n) => rolled[n].health.report))
                          .apply((reports) => combineReports(machine, release.tag, reports))
                    : undefined;
            const gates: Gate[] = report ? [{ source: `${machine} canary`, report }] : [];
            if (gateStack) {
                gates.push({
                    source: `stack ${stack.rollout.gateStack}`,
                    report: gateStack.requireOutput("canaryReport") as pulumi.Output<RolloutReport>,
                    requireTag: release.tag,
                });
            }
            canary = { checks: stack.rollout.canary.map((n) => rolled[n].health.check), report, gates };
        }
        return canary;
    };
    // Waves order the loop so that every dependency's check exists before its dependents refer to it.
    for (const name of plan.waves.flat()) {
        const p = plan.services[name];
        const gated = p.group === "gated";
        const gates: Gate[] = gated ? [...canaryGate().gates] : [];
        if (p.remote.length > 0 && gateStack) {
            gates.push({
                source: `stack ${stack.rollout.gateStack}`,
                report: gateStack.requireOutput("report") as pulumi.Output<RolloutReport>,
                requireTag: release.tag,
                services: p.remote.map((r) => r.service),
            });
        }
        const health = healthEndpoint(stack.services[name]);
        const gate = gateOutput(gates, `${name}'s rollout`);
        if (gates.length > 0) {
            serviceGates.push(gate);
        }
        rolled[name] = rollOutService(
            {
                settings: containerSettingsFor(config, name),
                image: verified[name].pinned,
                digest: verified[name].digest,
                health: { host, port: health.hostPort, path: health.path, bounds: stack.rollout.health },
                required: p.required,
            },
            target,
            {
                machine,
                after: [...p.waitsFor.map((d) => rolled[d].health.check), ...(gated ? canaryGate().checks : [])],
                gate,
            },
        );
    }
    const names = Object.keys(stack.services).sort();
    const report = pulumi.all(names.map((n) => rolled[n].health.report)).apply((reports) => combineReports(machine, release.tag, reports));
    return {
        containers: names.map((n) => containerName(machine, n)),
        canaryReport: stack.rollout.canary.length > 0 ? canaryGate().report : undefined,
        gate: serviceGates.length > 0 ? pulumi.all(serviceGates).apply(() => "passed") : undefined,
        report,
        plan: {
            levels: plan.levels,
            criticalPath: plan.criticalPath,
            canary: [...stack.rollout.canary],
            canaryDependencies: plan.canaryDependencies,
            gated: plan.gated,
        },
    };
}

/** Family verifications share the map with services; a prefix keeps a family and a service apart. */
function familyKey(name: string): string {
    return `family:${name}`;
}

/** Logical name of a service's image resources: `svc-<kebab>`. */
function kebabName(service: string): string {
    return `svc-${kebab(service)}`;
}
