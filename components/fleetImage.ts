import * as pulumi from "@pulumi/pulumi";
import * as dockerbuild from "@pulumi/docker-build";
import { BuildRequest, BuildSettings, dockerBuildArgs } from "./buildSpec";
import { familyVerifyAliases, LEGACY_TYPES } from "./legacyNames";
import { pushedDigest, RegistryAccess, verifyInRegistry } from "./probeInputs";

/** Type token of FleetImage. */
export const FLEET_IMAGE_TYPE = LEGACY_TYPES.fleetImage;

/**
 * The type token of the component FleetImage replaced. Each FleetImage carries an alias to it, so a
 * stack built by an older version keeps its images and their builds (the SDK derives the children's
 * aliases from the parent's): no rebuild, no replacement.
 */
export const LEGACY_FAMILY_IMAGE_TYPE = "ai-fleet:images:FamilyImage";

/** One family image to build, push and verify: a shared base (CUDA 12.1 LLM, torch, web, …) that others build FROM. */
export interface FleetImageArgs {
    /** Build settings shared by the stack (machine, tag, cache, registry). */
    settings: BuildSettings;
    /** The family name as in the config (the title label and the cache tag). */
    name: string;
    /** Repository, `<host>/<org>/<namespace>/<machine>/<family>`. */
    repository: string;
    /** Context directory relative to settings.contextRoot. */
    context: string;
    /** Dockerfile relative to settings.contextRoot. */
    dockerfile: string;
    /** What BASE_IMAGE becomes: the parent family pinned by digest (`repo@sha256:…`), or an external base such as python:3.11-slim. */
    baseImage: pulumi.Input<string>;
    /** The parent family pinned by digest, when it has one: verification proves the image's layers extend it. */
    parent?: pulumi.Input<string>;
    /** Extra build args. Default none. */
    buildArgs?: Record<string, string>;
    /** The registry verification reads. */
    registry: RegistryAccess;
    /** Platform an index resolves to for the layer check. */
    platform: string;
}

/** Builds and pushes one family image (`<name>-build`), verifies it in the registry (`<name>-verify`) and exposes it pinned by digest. */
export class FleetImage extends pulumi.ComponentResource {
    /** The repository pushed to. */
    public readonly repository: pulumi.Output<string>;
    /** `repo:tag` pushed. */
    public readonly ref: pulumi.Output<string>;
    /** The digest the registry serves. */
    public readonly digest: pulumi.Output<string>;
    /** `repo@sha256:…` as the registry serves it: what a child family or service builds FROM. */
    public readonly pinned: pulumi.Output<string>;

    constructor(name: string, args: FleetImageArgs, opts?: pulumi.ComponentResourceOptions) {
        super(FLEET_IMAGE_TYPE, name, {}, { ...opts, aliases: [...(opts?.aliases ?? []), { type: LEGACY_FAMILY_IMAGE_TYPE }] });
        const req: BuildRequest = {
            name: args.name,
            kind: "family",
            repository: args.repository,
            context: args.context,
            dockerfile: args.dockerfile,
            baseImage: args.baseImage,
            buildArgs: args.buildArgs ?? {},
        };
        const image = new dockerbuild.Image(`${name}-build`, dockerBuildArgs(args.settings, req), { parent: this });
        const ref = pulumi.interpolate`${args.repository}:${args.settings.tag}`;
        const verified = verifyInRegistry(
            `${name}-verify`,
            {
                image: ref,
                expectedDigest: pushedDigest(args.repository, image.digest),
                parent: args.parent,
                registry: args.registry,
                platform: args.platform,
                what: `verification of family image ${name}`,
            },
            { parent: this, aliases: familyVerifyAliases(name) },
        );
        this.repository = pulumi.output(args.repository);
        this.ref = ref;
        this.digest = verified.digest;
        this.pinned = verified.pinned;
        this.registerOutputs({ repository: this.repository, ref: this.ref, digest: this.digest, pinned: this.pinned });
    }
}
