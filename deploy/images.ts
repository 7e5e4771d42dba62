/**
 * The images of a phase, each verified in the registry before anything builds FROM it or runs it.
 * Build phases (all, build): the family images in chain order, then the service images FROM their
 * families. Deploy phase: the pinned release, nothing built.
 */
import * as pulumi from "@pulumi/pulumi";
import { familyBuildPaths, familyOrder, repositoryName, serviceBuildPaths, StackConfig } from "../config";
import { BuildSettings, FleetImage, ImageVerification } from "../components";
import { imageRepository, serviceImageName } from "../naming";
import { DeployInputs, PhaseImages, Registry, VerifiedImage } from "./types";

/** Build phases: the family images, then the service images, each verified as soon as it is built. */
export function builtImages(inputs: DeployInputs, registry: Registry): PhaseImages {
    const settings = buildSettings(inputs, registry);
    const families = familyImages(inputs.config.stack, settings, registry);
    const services = serviceImages(inputs.config.stack, settings, registry, families);
    return { families, services };
}

/** What every build of the stack shares: profile, tag, labels, platform, cache, builder, registry. */
function buildSettings(inputs: DeployInputs, registry: Registry): BuildSettings {
    const { stack, profile } = inputs.config;
    return {
        profile,
        tag: inputs.release.tag,
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
}

/** The family images, parents first: each builds FROM its parent pinned by digest, or FROM its external base image. */
function familyImages(stack: StackConfig, settings: BuildSettings, registry: Registry): Record<string, VerifiedImage> {
    const families: Record<string, VerifiedImage> = {};
    for (const name of familyOrder(stack.families)) {
        const fam = stack.families[name];
        const parent = fam.parent !== undefined ? families[fam.parent].pinned : undefined;
        const image = new FleetImage(name, {
            settings,
            kind: "family",
            name,
            repository: imageRepository(stack.registry, settings.profile.machine, name),
            ...familyBuildPaths(name, fam, stack.build.layout),
            baseImage: parent ?? (fam.baseImage as string),
            buildArgs: fam.buildArgs,
        });
        families[name] = verifyBuilt(name, image, registry, stack.build.platform, parent);
    }
    return families;
}

/** The service images, in name order, each FROM its family pinned by digest. */
function serviceImages(
    stack: StackConfig,
    settings: BuildSettings,
    registry: Registry,
    families: Record<string, VerifiedImage>,
): Record<string, VerifiedImage> {
    const services: Record<string, VerifiedImage> = {};
    for (const name of Object.keys(stack.services).sort()) {
        const svc = stack.services[name];
        const family = families[svc.family].pinned;
        const image = new FleetImage(serviceImageName(name), {
            settings,
            kind: "service",
            name,
            repository: imageRepository(stack.registry, settings.profile.machine, repositoryName(name, svc)),
            ...serviceBuildPaths(name, svc, stack.build.layout),
            baseImage: family,
            buildArgs: svc.buildArgs,
        });
        services[name] = verifyBuilt(serviceImageName(name), image, registry, stack.build.platform, family);
    }
    return services;
}

/**
 * Looks a built image up in the registry: it must serve the digest that was built. With a parent
 * (pinned by digest), verification also proves the image's layers extend the parent's.
 */
function verifyBuilt(
    logicalName: string,
    image: FleetImage,
    registry: Registry,
    platform: string,
    parent: pulumi.Output<string> | undefined,
): VerifiedImage {
    const ref = pulumi.interpolate`${image.repository}:${image.tag}`;
    const check = new ImageVerification(`${logicalName}-verify`, { image: ref, expectedDigest: image.digest, registry, parent, platform });
    return { pinned: check.pinned, digest: check.digest, ref };
}

/**
 * Deploy phase: images that exist already, each verified in the registry. A given digest
 * (deploy.images), a build stack's export (deploy.imagesFromStack), or else the release tag
 * (FORCE_IMAGE_TAG=<previous tag> is how a rollback names it). Nothing is built.
 */
export function releaseImages(inputs: DeployInputs, registry: Registry): PhaseImages {
    const { stack, profile } = inputs.config;
    const fromStack = stack.deploy?.imagesFromStack ? new pulumi.StackReference(stack.deploy.imagesFromStack) : undefined;
    const services: Record<string, VerifiedImage> = {};
    for (const name of Object.keys(stack.services).sort()) {
        const given = stack.deploy?.images?.[name];
        const tagged = `${imageRepository(stack.registry, profile.machine, repositoryName(name, stack.services[name]))}:${inputs.release.tag}`;
        const ref: pulumi.Output<string> =
            given !== undefined
                ? pulumi.output(given)
                : fromStack !== undefined
                  ? exportedImage(fromStack, stack, name)
                  : pulumi.output(tagged);
        const check = new ImageVerification(`${serviceImageName(name)}-verify`, { image: ref, registry });
        services[name] = { pinned: check.pinned, digest: check.digest, ref };
    }
    return { families: {}, services };
}

/** A service's pinned image from the `images` output of the build stack deploy.imagesFromStack. */
function exportedImage(fromStack: pulumi.StackReference, stack: StackConfig, name: string): pulumi.Output<string> {
    return fromStack.requireOutput("images").apply((all) => {
        const entry = (all as Record<string, { pinned?: string }>)[name];
        if (!entry?.pinned) {
            throw new Error(`stack ${stack.deploy?.imagesFromStack} exports no image for service ${name}`);
        }
        return entry.pinned;
    });
}
