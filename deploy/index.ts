/**
 * Wires one machine's rollout from its parsed config, in named steps: the images of the phase
 * (build: family images → service images, each verified in the registry; deploy: the pinned
 * release) → the vulnerability scan → each service's spec (the stack file's, or a restored
 * release's) → the rollout in dependency order, canary-gated.
 */
import { scanned } from "./scan";
import { builtImages, releaseImages } from "./images";
import { rollOut } from "./rollout";
import { serviceSpecs } from "./specs";
import { DeployInputs, FleetOutputs, ImageOutput, PhaseImages, Registry } from "./types";

export { containerSettingsFor, dependencyEnv } from "./containers";
export { serviceSpecFor, serviceSpecs, specDifferences } from "./specs";
export * from "./types";

/** Builds, verifies and (unless phase is build) rolls out one machine. */
export function deploy(inputs: DeployInputs): FleetOutputs {
    const { config, release } = inputs;
    const { stack, profile } = config;
    const registry: Registry = {
        host: stack.registry.host,
        username: stack.registry.username,
        password: inputs.registryPassword,
        insecure: stack.registry.insecure,
    };
    const images = stack.phase === "deploy" ? releaseImages(inputs, registry) : builtImages(inputs, registry);
    const outputs: FleetOutputs = {
        machine: profile.machine,
        phase: stack.phase,
        tag: release.tag,
        tagSource: release.source,
        images: exportedImages(images),
        containers: [],
    };
    if (stack.phase === "build") {
        return outputs;
    }
    // The vulnerability gate: containers take the scanned references, so none runs an image before
    // its scan passed (deploy/scan.ts).
    const runnable = scanned({ scan: stack.scan, services: Object.keys(stack.services), verified: images.services, registry });
    outputs.scanReport = runnable.report;
    // Each service's spec: the stack file's, or in a rollback the release's recorded one.
    const { specs, specSource } = serviceSpecs(config, inputs.restore);
    return { ...outputs, specs, specSource, ...rollOut(config, release, runnable.images, registry, specs) };
}

/** The `images` output: families first (chain order), then services (name order); a service named like a family takes its entry. */
function exportedImages(images: PhaseImages): Record<string, ImageOutput> {
    const all = [...Object.entries(images.families), ...Object.entries(images.services)];
    return Object.fromEntries(all.map(([name, image]) => [name, { pinned: image.pinned, ref: image.ref }]));
}
