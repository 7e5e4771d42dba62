import * as pulumi from "@pulumi/pulumi";
import * as command from "@pulumi/command";
import { probeCommand } from "./probes";

/** Type token of ImageVerification. */
export const IMAGE_VERIFICATION_TYPE = "ai-fleet:images:ImageVerification";

/** Registry access for verification. */
export interface RegistryAccess {
    /** Registry host, e.g. ghcr.io or 127.0.0.1:5000. */
    host: string;
    /** User name. */
    username: string;
    /** Password or token; stays secret. */
    password: pulumi.Input<string>;
    /** Plain HTTP (loopback registries). Default false. */
    insecure?: boolean;
}

/** Looks an image up in its registry and checks the digest. */
export interface ImageVerificationArgs {
    /** What to look up: `host/repo:tag` after a build, or `host/repo@sha256:…` when deploying given digests. */
    image: pulumi.Input<string>;
    /** The digest the build produced; when set, the registry must serve exactly this one. */
    expectedDigest?: pulumi.Input<string>;
    /** Registry credentials. */
    registry: RegistryAccess;
    /** The parent image pinned by digest (a family's parent, a service's family); when set, the image's layers must extend its layers. Default: no layer check. */
    parent?: pulumi.Input<string>;
    /** Platform whose manifest an index resolves to for the layer check. Default linux/amd64. */
    platform?: string;
}

/** The command and environment that ImageVerification runs (exported for the integration tests). */
export function verificationCommand(args: {
    image: string;
    expectedDigest?: string;
    registry: { username: string; password: string; insecure?: boolean };
    parent?: string;
    platform?: string;
}): {
    create: string;
    environment: Record<string, string>;
} {
    return {
        create: probeCommand("verify-image.js"),
        environment: {
            FLEET_IMAGE: args.image,
            FLEET_EXPECTED_DIGEST: args.expectedDigest ?? "",
            FLEET_REGISTRY_USER: args.registry.username,
            FLEET_REGISTRY_PASSWORD: args.registry.password,
            FLEET_REGISTRY_INSECURE: args.registry.insecure ? "true" : "false",
            // Only with a parent, so that verifications without one keep their inputs as they were.
            ...(args.parent ? { FLEET_PARENT_IMAGE: args.parent, FLEET_PLATFORM: args.platform ?? "linux/amd64" } : {}),
        },
    };
}

/**
 * Proves that an image is in the registry with the digest that was built, before anything runs it.
 * Containers take `pinned` from here, so none is created or replaced until this has passed; a
 * missing image fails `pulumi up` with the image's name.
 */
export class ImageVerification extends pulumi.ComponentResource {
    /** `host/repo@sha256:…` as the registry serves it. */
    public readonly pinned: pulumi.Output<string>;
    /** The digest the registry serves. */
    public readonly digest: pulumi.Output<string>;

    constructor(name: string, args: ImageVerificationArgs, opts?: pulumi.ComponentResourceOptions) {
        super(IMAGE_VERIFICATION_TYPE, name, {}, opts);
        const environment = pulumi.all([args.image, args.expectedDigest ?? "", args.registry.password, args.parent ?? ""]).apply(
            ([image, expectedDigest, password, parent]) =>
                verificationCommand({
                    image,
                    expectedDigest,
                    registry: { ...args.registry, password },
                    parent: parent || undefined,
                    platform: args.platform,
                }).environment,
        );
        const check = new command.local.Command(
            `${name}-check`,
            {
                create: probeCommand("verify-image.js"),
                // The whole environment is secret because it carries the registry password.
                environment: pulumi.secret(environment),
                // Re-run whenever the image or its digest changes, never otherwise.
                triggers: [args.image, args.expectedDigest ?? ""],
                logging: "stderr",
            },
            { parent: this },
        );
        const result = check.stdout.apply((out) => parseVerification(out, name));
        // The digest and reference are public facts; only the credentials were secret.
        this.pinned = pulumi.unsecret(result.apply((r) => r.pinned));
        this.digest = pulumi.unsecret(result.apply((r) => r.digest));
        this.registerOutputs({ pinned: this.pinned, digest: this.digest });
    }
}

/** Parses verify-image.js's JSON line. */
export function parseVerification(stdout: string, name: string): { image: string; digest: string; pinned: string } {
    const line = stdout.trim().split("\n").pop() ?? "";
    let parsed: { image?: unknown; digest?: unknown; pinned?: unknown };
    try {
        parsed = JSON.parse(line);
    } catch {
        throw new Error(`verification of ${name} printed no JSON result: ${JSON.stringify(stdout.slice(0, 200))}`);
    }
    if (typeof parsed.pinned !== "string" || typeof parsed.digest !== "string" || typeof parsed.image !== "string") {
        throw new Error(`verification of ${name} printed an incomplete result: ${line}`);
    }
    return { image: parsed.image, digest: parsed.digest, pinned: parsed.pinned };
}
