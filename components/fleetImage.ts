import * as pulumi from "@pulumi/pulumi";
import * as dockerbuild from "@pulumi/docker-build";
import { BuildRequest, BuildSettings, dockerBuildArgs, pinnedRef } from "./buildSpec";

/** Type token of FleetImage. */
export const FLEET_IMAGE_TYPE = "ai-fleet:images:FleetImage";

/**
 * The type tokens of the two components FleetImage replaced, by kind. Each FleetImage carries an
 * alias to its kind's, so a stack built by an older version keeps its images and their builds
 * (the SDK derives the children's aliases from the parent's): no rebuild, no replacement.
 */
export const LEGACY_IMAGE_TYPES = {
    family: "ai-fleet:images:FamilyImage",
    service: "ai-fleet:images:ServiceImage",
} as const;

/** One image to build and push: a family (a shared base that others build FROM) or a service. */
export interface FleetImageArgs {
    /** Build settings shared by the stack (profile, tag, cache, registry). */
    settings: BuildSettings;
    /** family: a shared base (CUDA 12.1 LLM, torch, web, …); service: a service's image, FROM its family. */
    kind: "family" | "service";
    /** The family or service name as in the config (the title label and the cache tag); a service's is PascalCase. */
    name: string;
    /** Repository, `<host>/<org>/<namespace>/<machine>/<family or service repository>`. */
    repository: string;
    /** Context directory relative to settings.contextRoot. */
    context: string;
    /** Dockerfile relative to settings.contextRoot. */
    dockerfile: string;
    /** What BASE_IMAGE becomes: the parent family or the service's family pinned by digest (`repo@sha256:…`), or an external base such as python:3.11-slim. */
    baseImage: pulumi.Input<string>;
    /** Extra build args. Default none. */
    buildArgs?: Record<string, string>;
}

/** Builds and pushes one image with docker-build (the child `<name>-build`) and exposes it pinned by digest. */
export class FleetImage extends pulumi.ComponentResource {
    /** The repository pushed to. */
    public readonly repository: pulumi.Output<string>;
    /** The release tag pushed. */
    public readonly tag: pulumi.Output<string>;
    /** The digest the build pushed. */
    public readonly digest: pulumi.Output<string>;
    /** `repo@sha256:…`, what a child family or service builds FROM, or what the containers run. */
    public readonly pinned: pulumi.Output<string>;

    constructor(name: string, args: FleetImageArgs, opts?: pulumi.ComponentResourceOptions) {
        super(FLEET_IMAGE_TYPE, name, {}, { ...opts, aliases: [...(opts?.aliases ?? []), { type: LEGACY_IMAGE_TYPES[args.kind] }] });
        if (args.kind === "service" && !/^[A-Za-z][A-Za-z0-9]*$/.test(args.name)) {
            throw new pulumi.ResourceError(`FleetImage '${name}': 'name' must be a PascalCase service name, got "${args.name}"`, this);
        }
        const req: BuildRequest = {
            name: args.name,
            kind: args.kind,
            repository: args.repository,
            context: args.context,
            dockerfile: args.dockerfile,
            baseImage: args.baseImage,
            buildArgs: args.buildArgs ?? {},
        };
        const image = new dockerbuild.Image(`${name}-build`, dockerBuildArgs(args.settings, req), { parent: this });
        this.repository = pulumi.output(args.repository);
        this.tag = pulumi.output(args.settings.tag);
        this.digest = image.digest;
        this.pinned = pinnedRef(args.repository, image.digest);
        this.registerOutputs({ repository: this.repository, tag: this.tag, digest: this.digest, pinned: this.pinned });
    }
}
