import * as pulumi from "@pulumi/pulumi";
import { BuildSettings } from "./buildSpec";
import { buildPinnedImage, PinnedImage } from "./pinnedImage";

/** Type token of FamilyImage. */
export const FAMILY_IMAGE_TYPE = "ai-fleet:images:FamilyImage";

/** A family image: a shared base (CUDA 12.1 LLM, torch, web, …) that services or other families build FROM. */
export interface FamilyImageArgs {
    /** Build settings shared by the stack (profile, tag, cache, registry). */
    settings: BuildSettings;
    /** Repository, `<host>/<org>/<namespace>/<machine>/<family>`. */
    repository: string;
    /** Context directory relative to settings.contextRoot. */
    context: string;
    /** Dockerfile relative to settings.contextRoot. */
    dockerfile: string;
    /** Parent family's `repo@digest`, or an external base such as python:3.11-slim; becomes BASE_IMAGE. */
    baseImage: pulumi.Input<string>;
    /** Extra build args. Default none. */
    buildArgs?: Record<string, string>;
}

/** Builds and pushes one family image with docker-build; exposes it pinned by digest. */
export class FamilyImage extends pulumi.ComponentResource implements PinnedImage {
    public readonly repository: pulumi.Output<string>;
    public readonly tag: pulumi.Output<string>;
    public readonly digest: pulumi.Output<string>;
    /** `repo@sha256:…`, what a child family or service builds FROM. */
    public readonly pinned: pulumi.Output<string>;

    constructor(name: string, args: FamilyImageArgs, opts?: pulumi.ComponentResourceOptions) {
        super(FAMILY_IMAGE_TYPE, name, {}, opts);
        const built = buildPinnedImage(this, name, args.settings, {
            name,
            kind: "family",
            repository: args.repository,
            context: args.context,
            dockerfile: args.dockerfile,
            baseImage: args.baseImage,
            buildArgs: args.buildArgs ?? {},
        });
        this.repository = built.repository;
        this.tag = built.tag;
        this.digest = built.digest;
        this.pinned = built.pinned;
        this.registerOutputs({ repository: this.repository, tag: this.tag, digest: this.digest, pinned: this.pinned });
    }
}
