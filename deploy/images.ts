/**
 * Where each image of the phase comes from. Build phases (all, build): the family images in chain
 * order (FleetImage: build, push, verify), then each service's build request FROM its family pinned
 * by digest (built by its FleetService). Deploy phase: each service's release reference (a given
 * digest, a build stack's export, or the release tag); nothing is built.
 */
import * as pulumi from "@pulumi/pulumi";
import { familyBuildPaths, familyOrder, repositoryName, serviceBuildPaths, StackConfig } from "../config";
import { BuildSettings, FleetImage, ServiceImageSource } from "../components";
import { imageRepository, scopedName } from "../naming";
import { profileBuildArgs } from "../profiles/schema";
import { DeployInputs } from "./types";
import { RegistryAccess } from "../components";

/** What every build of the stack shares: machine, profile's build args, tag, labels, platform, cache, builder, registry. */
export function buildSettings(inputs: DeployInputs, registry: RegistryAccess): BuildSettings {
    const { stack, profile } = inputs.config;
    return {
        machine: profile.machine,
        profileBuildArgs: profileBuildArgs(profile),
        tag: inputs.release.tag,
        revision: inputs.commit?.sha ?? "unknown",
        created: inputs.commit ? inputs.commit.date.toISOString() : "1970-01-01T00:00:00.000Z",
        sourceUrl: stack.build.sourceUrl,
        contextRoot: stack.build.contextRoot,
        platform: stack.build.platform,
        cache: stack.build.cache,
        buildOnPreview: stack.build.buildOnPreview,
        builder: stack.build.builder,
        registry,
    };
}

/** The family images, parents first: each builds FROM its parent pinned by digest, or FROM its external base image. */
export function familyImages(
    stack: StackConfig,
    settings: BuildSettings,
    registry: RegistryAccess,
    scope?: string,
): Record<string, FleetImage> {
    const families: Record<string, FleetImage> = {};
    for (const name of familyOrder(stack.families)) {
        const fam = stack.families[name];
        const parent = fam.parent !== undefined ? families[fam.parent].pinned : undefined;
        families[name] = new FleetImage(scopedName(name, scope), {
            settings,
            name,
            repository: imageRepository(stack.registry, settings.machine, name),
            ...familyBuildPaths(name, fam, stack.build.layout),
            baseImage: parent ?? (fam.baseImage as string),
            parent,
            buildArgs: fam.buildArgs,
            registry,
            platform: stack.build.platform,
        });
    }
    return families;
}

/** Build phases: a service's image, FROM its family pinned by digest. */
export function builtImage(
    stack: StackConfig,
    settings: BuildSettings,
    families: Record<string, FleetImage>,
    name: string,
): ServiceImageSource {
    const svc = stack.services[name];
    return {
        build: {
            settings,
            request: {
                name,
                kind: "service",
                repository: imageRepository(stack.registry, settings.machine, repositoryName(name, svc)),
                ...serviceBuildPaths(name, svc, stack.build.layout),
                baseImage: families[svc.family].pinned,
                buildArgs: svc.buildArgs,
            },
        },
    };
}

/**
 * Deploy phase: a service's image that exists already. A given digest (deploy.images), a build
 * stack's export (deploy.imagesFromStack), or else the release tag (FORCE_IMAGE_TAG=<previous tag>
 * is how a rollback names it).
 */
export function releaseImage(inputs: DeployInputs, fromStack: pulumi.StackReference | undefined, name: string): ServiceImageSource {
    const { stack, profile } = inputs.config;
    const given = stack.deploy?.images?.[name];
    if (given !== undefined) {
        return { ref: given };
    }
    if (fromStack !== undefined) {
        return { ref: exportedImage(fromStack, stack, name) };
    }
    return { ref: `${imageRepository(stack.registry, profile.machine, repositoryName(name, stack.services[name]))}:${inputs.release.tag}` };
}

/** A service's pinned image from the `images` output of the build stack deploy.imagesFromStack. */
function exportedImage(fromStack: pulumi.StackReference, stack: StackConfig, name: string): pulumi.Output<string> {
    return fromStack.requireOutput("images").apply((all) => {
        const entry = (all as Record<string, { pinned?: string }>)[name];
        if (!entry?.pinned) {
            throw new pulumi.RunError(`stack ${stack.deploy?.imagesFromStack} exports no image for service ${name}`);
        }
        return entry.pinned;
    });
}
