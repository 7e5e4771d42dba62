import * as pulumi from "@pulumi/pulumi";
import * as dockerbuild from "@pulumi/docker-build";
import { BuildRequest, BuildSettings, dockerBuildArgs, pinnedRef } from "./buildSpec";

/** What FamilyImage and ServiceImage expose: an image pushed and pinned by digest. */
export interface PinnedImage {
    repository: pulumi.Output<string>;
    tag: pulumi.Output<string>;
    digest: pulumi.Output<string>;
    pinned: pulumi.Output<string>;
}

/** Creates the docker-build Image child `${name}-build` of `parent` and derives the pinned reference. */
export function buildPinnedImage(parent: pulumi.Resource, name: string, settings: BuildSettings, req: BuildRequest): PinnedImage {
    const image = new dockerbuild.Image(`${name}-build`, dockerBuildArgs(settings, req), { parent });
    return {
        repository: pulumi.output(req.repository),
        tag: pulumi.output(settings.tag),
        digest: image.digest,
        pinned: pinnedRef(req.repository, image.digest),
    };
}
