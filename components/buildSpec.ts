/**
 * What every image build receives, computed without resources so that tests and the integration
 * suite (which builds the demo images with the very same args) can call it directly.
 */
import * as pulumi from "@pulumi/pulumi";
import * as dockerbuild from "@pulumi/docker-build";
import * as path from "path";
import type { RegistryAccess } from "./probeInputs";

/** Per-stack build settings shared by every image. */
export interface BuildSettings {
    /** The machine the images are for; goes into MACHINE, labels and the repository path. */
    machine: string;
    /** The machine profile's build args (MACHINE, TORCH_CUDA_ARCH_LIST, …), which the config cannot override. */
    profileBuildArgs: Record<string, string>;
    /** Release tag (YYYYMMDD-<sha> or FORCE_IMAGE_TAG). */
    tag: string;
    /** Full commit SHA of the build contexts, for the revision label; "unknown" outside git. */
    revision: string;
    /** The commit's date as ISO 8601, for the created label (a build-day stamp would change every run). */
    created: string;
    /** Source repository URL for the source label. */
    sourceUrl?: string;
    /** Directory the contexts are relative to (relative to the project, so state is the same in every clone). */
    contextRoot: string;
    /** Target platform. */
    platform: "linux/amd64" | "linux/arm64";
    /** Registry cache repository and mode; per-image tags inside it. */
    cache?: { ref: string; mode: "max" | "min" };
    /** Build during preview. */
    buildOnPreview: boolean;
    /** buildx builder name; undefined for the Docker host's default builder. */
    builder?: string;
    /** The registry pushed to (the password stays a secret). */
    registry: RegistryAccess;
}

/** One image to build. */
export interface BuildRequest {
    /** Family or service name (labels, cache tag). */
    name: string;
    /** `<host>/<org>/<namespace>/<machine>/<name>`. */
    repository: string;
    /** Context directory relative to contextRoot. */
    context: string;
    /** Dockerfile relative to contextRoot. */
    dockerfile: string;
    /** What BASE_IMAGE becomes: a parent image pinned by digest, or an external base. */
    baseImage: pulumi.Input<string>;
    /** Extra build args from the config. */
    buildArgs: Record<string, string>;
    /** Kind of image, for the labels. */
    kind: "family" | "service";
}

/** OCI labels on every image: revision, created, source, version, title, plus the machine. */
export function ociLabels(settings: BuildSettings, req: Pick<BuildRequest, "name" | "kind">): Record<string, string> {
    const labels: Record<string, string> = {
        "org.opencontainers.image.revision": settings.revision,
        "org.opencontainers.image.created": settings.created,
        "org.opencontainers.image.version": settings.tag,
        "org.opencontainers.image.title": req.name,
        "ai-fleet.machine": settings.machine,
        "ai-fleet.kind": req.kind,
    };
    if (settings.sourceUrl) {
        labels["org.opencontainers.image.source"] = settings.sourceUrl;
    }
    return labels;
}

/**
 * Build args: the config's own, then the machine profile's (MACHINE, TORCH_CUDA_ARCH_LIST) and
 * BASE_IMAGE, which the config cannot override (they are what makes a build belong to its machine).
 */
export function buildArgsFor(
    settings: BuildSettings,
    req: Pick<BuildRequest, "buildArgs" | "baseImage">,
): pulumi.Output<Record<string, string>> {
    return pulumi.output(req.baseImage).apply((base): Record<string, string> => ({
        ...req.buildArgs,
        ...settings.profileBuildArgs,
        BASE_IMAGE: base,
    }));
}

/** Cache location of one image inside the cache repository: `<cache>:<machine>-<name>`. */
export function cacheRef(settings: BuildSettings, name: string): string | undefined {
    return settings.cache ? `${settings.cache.ref}:${settings.machine}-${name}` : undefined;
}

/** The full docker-build Image args for one image. */
export function dockerBuildArgs(settings: BuildSettings, req: BuildRequest): dockerbuild.ImageArgs {
    const cache = cacheRef(settings, req.name);
    return {
        context: { location: path.posix.join(settings.contextRoot, req.context) },
        dockerfile: { location: path.posix.join(settings.contextRoot, req.dockerfile) },
        platforms: [settings.platform as dockerbuild.Platform],
        tags: [`${req.repository}:${settings.tag}`],
        buildArgs: buildArgsFor(settings, req),
        labels: ociLabels(settings, req),
        push: true,
        buildOnPreview: settings.buildOnPreview,
        builder: settings.builder ? { name: settings.builder } : undefined,
        registries: [{ address: settings.registry.host, username: settings.registry.username, password: settings.registry.password }],
        cacheFrom: cache ? [{ registry: { ref: cache } }] : undefined,
        cacheTo:
            cache && settings.cache
                ? [
                      {
                          registry: {
                              ref: cache,
                              mode: settings.cache.mode as dockerbuild.CacheMode,
                              imageManifest: true,
                              ociMediaTypes: true,
                          },
                      },
                  ]
                : undefined,
    };
}

/**
 * `repo@sha256:…` from a build's digest. In a preview, an image that must be rebuilt has an empty
 * digest (docker-build does not build on preview): the reference is then unknown, as its value
 * will only exist after the build. Outside a preview an empty digest means nothing was pushed.
 */
export function pinnedRefValue(repository: string, digest: string, dryRun: boolean): string | typeof pulumi.unknown {
    if (/^sha256:[a-f0-9]{64}$/.test(digest)) {
        return `${repository}@${digest}`;
    }
    if (dryRun && digest === "") {
        return pulumi.unknown;
    }
    throw new Error(`image ${repository} has no pushed digest (got "${digest}"): the build did not push to the registry`);
}

/** `repository@sha256:…`: what FROM, RemoteImage and verification use (a tag can move, a digest cannot). */
export function pinnedRef(repository: pulumi.Input<string>, digest: pulumi.Input<string>): pulumi.Output<string> {
    return pulumi.all([repository, digest]).apply(([repo, d]) => pinnedRefValue(repo, d, pulumi.runtime.isDryRun()) as string);
}
