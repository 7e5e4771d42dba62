/**
 * Wires one machine's rollout from its parsed config, in named steps: the family images (build
 * phases) → each service's source image (built FROM its family, or the pinned release) → each
 * service's spec (the stack file's, or a restored release's) → one FleetService per service
 * (image, verification, scan, container, health check), in dependency order and canary-gated.
 */
import * as pulumi from "@pulumi/pulumi";
import { FleetImage, FleetService, ScanReport } from "../components";
import { buildSettings, builtImage, familyImages, releaseImage } from "./images";
import { buildServices, rollOut, ServiceCommon } from "./rollout";
import { scanPolicy } from "./scan";
import { serviceSpecs } from "./specs";
import { DeployInputs, FleetOutputs, ImageOutput, ServiceImageSourceOf } from "./types";
import { RegistryAccess } from "../components";

export { containerSpecFor, dependencyEnv } from "./containers";
export { serviceSpecFor, serviceSpecs, specDifferences } from "./specs";
export { scanPolicy } from "./scan";
export * from "./types";

/** Builds, verifies and (unless phase is build) rolls out one machine. */
export function deploy(inputs: DeployInputs): FleetOutputs {
    const { config, release } = inputs;
    const { stack, profile } = config;
    const registry: RegistryAccess = {
        host: stack.registry.host,
        username: stack.registry.username,
        password: inputs.registryPassword,
        insecure: stack.registry.insecure,
    };
    let families: Record<string, FleetImage> = {};
    let image: ServiceImageSourceOf;
    if (stack.phase === "deploy") {
        const fromStack = stack.deploy?.imagesFromStack ? new pulumi.StackReference(stack.deploy.imagesFromStack) : undefined;
        image = (name) => releaseImage(inputs, fromStack, name);
    } else {
        const settings = buildSettings(inputs, registry);
        families = familyImages(stack, settings, registry, inputs.fleet?.scope);
        image = (name) => builtImage(stack, settings, families, name);
    }
    // The build phase scans nothing: no container runs there, and the deploying stack scans what it runs.
    const scan = stack.phase === "build" ? undefined : scanPolicy(stack.scan);
    if (!scan && stack.phase !== "build") {
        pulumi.log.warn("vulnerability gate disabled (ai-fleet:scan.enabled: false): containers run images that were not scanned");
    }
    const common: ServiceCommon = { registry, platform: stack.build.platform, scan, scope: inputs.fleet?.scope };
    const outputs = (services: Record<string, FleetService>): Omit<FleetOutputs, "containers"> => ({
        machine: profile.machine,
        phase: stack.phase,
        tag: release.tag,
        tagSource: release.source,
        images: exportedImages(families, services),
        scanReport: scan ? scanReports(services) : undefined,
    });
    const names = Object.keys(stack.services);
    if (stack.phase === "build") {
        return { ...outputs(buildServices(names, image, common, profile.machine)), containers: [] };
    }
    // Each service's spec: the stack file's, or in a rollback the release's recorded one.
    const { specs, specSource } = serviceSpecs(config, inputs.restore);
    const { services, ...rolled } = rollOut(config, release, image, common, specs, inputs.fleet);
    return { ...outputs(services), specs, specSource, ...rolled };
}

/** The `images` output: families first (chain order), then services (name order); a service named like a family takes its entry. */
function exportedImages(families: Record<string, FleetImage>, services: Record<string, FleetService>): Record<string, ImageOutput> {
    const all: [string, FleetImage | FleetService][] = [
        ...Object.entries(families),
        ...Object.entries(services).sort(([a], [b]) => a.localeCompare(b)),
    ];
    return Object.fromEntries(all.map(([name, image]) => [name, { pinned: image.pinned, ref: image.ref }]));
}

/** The `scanReport` output: per service. */
function scanReports(services: Record<string, FleetService>): pulumi.Output<Record<string, ScanReport>> {
    const names = Object.keys(services).sort();
    return pulumi
        .all(names.map((n) => services[n].scanReport as pulumi.Output<ScanReport>))
        .apply((reports) => Object.fromEntries(names.map((n, i) => [n, reports[i]])));
}
