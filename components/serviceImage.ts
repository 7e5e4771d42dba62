import * as pulumi from "@pulumi/pulumi";
import { BuildSettings } from "./buildSpec";
import { buildPinnedImage, PinnedImage } from "./pinnedImage";

/** Type token of ServiceImage. */
export const SERVICE_IMAGE_TYPE = "ai-fleet:images:ServiceImage";

/** A service image, built FROM its family image by digest, for one machine. */
export interface ServiceImageArgs {
    /** Build settings shared by the stack (profile, tag, cache, registry). */
    settings: BuildSettings;
    /** Service name as in the config, e.g. ModelOpsCoordinator. */
    service: string;
    /** Repository, `<host>/<org>/<namespace>/<machine>/<service_snake>`. */
    repository: string;
    /** Context directory relative to settings.contextRoot. */
    context: string;
    /** Dockerfile relative to settings.contextRoot. */
    dockerfile: string;
    /** The family image pinned by digest (`repo@sha256:…`); becomes BASE_IMAGE. */
    family: pulumi.Input<string>;
    /** Extra build args. Default none. */
    buildArgs?: Record<string, string>;
}

/** Builds and pushes one service image FROM its family, with the machine profile's build args. */
export class ServiceImage extends pulumi.ComponentResource implements PinnedImage {
    public readonly repository: pulumi.Output<string>;
    public readonly tag: pulumi.Output<string>;
    public readonly digest: pulumi.Output<string>;
    /** `repo@sha256:…`, what the containers run. */
    public readonly pinned: pulumi.Output<string>;

    constructor(name: string, args: ServiceImageArgs, opts?: pulumi.ComponentResourceOptions) {
        super(SERVICE_IMAGE_TYPE, name, {}, opts);
        if (!/^[A-Za-z][A-Za-z0-9]*$/.test(args.service)) {
            throw new pulumi.ResourceError(
                `ServiceImage '${name}': 'service' must be a PascalCase service name, got "${args.service}"`,
                this,
            );
        }
        const built = buildPinnedImage(this, name, args.settings, {
            name: args.service,
            kind: "service",
            repository: args.repository,
            context: args.context,
            dockerfile: args.dockerfile,
            baseImage: args.family,
            buildArgs: args.buildArgs ?? {},
        });
        this.repository = built.repository;
        this.tag = built.tag;
        this.digest = built.digest;
        this.pinned = built.pinned;
        this.registerOutputs({ repository: this.repository, tag: this.tag, digest: this.digest, pinned: this.pinned });
    }
}
