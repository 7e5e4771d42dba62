/** What deploy() takes beside the config, what its steps hand each other, and what a stack exports. */
import * as pulumi from "@pulumi/pulumi";
import { FleetConfig } from "../config";
import { RegistryAccess, RolloutReport, ScanReport } from "../components";
import { ReleaseTag, SourceCommit } from "../naming";

/** Inputs of deploy() that do not come from the stack config. */
export interface DeployInputs {
    /** The parsed stack config and profile. */
    config: FleetConfig;
    /** The release tag. */
    release: ReleaseTag;
    /** The commit the contexts are at, when known (labels). */
    commit?: SourceCommit;
    /** Registry password, a secret. */
    registryPassword: pulumi.Output<string>;
}

/** The registry of the stack, with its password: what builds push to, verification and scans read, machines pull from. */
export type Registry = RegistryAccess & { password: pulumi.Output<string> };

/** An image verified in the registry: what builds FROM it, is scanned and runs. */
export interface VerifiedImage {
    /** `repo@sha256:…` as the registry serves it. */
    pinned: pulumi.Output<string>;
    /** The digest the registry serves. */
    digest: pulumi.Output<string>;
    /** `repo:tag` after a build; the given reference in the deploy phase. */
    ref: pulumi.Output<string>;
}

/** The images of the phase, by name: families (built only) and services, each in a map of its own. */
export interface PhaseImages {
    families: Record<string, VerifiedImage>;
    services: Record<string, VerifiedImage>;
}

/** An image as the stack exports it. */
export interface ImageOutput {
    /** `repo@sha256:…` as verified in the registry. */
    pinned: pulumi.Output<string>;
    /** `repo:tag`, or the given reference in the deploy phase. */
    ref: pulumi.Output<string>;
}

/** What a stack exports. */
export interface FleetOutputs {
    machine: string;
    phase: string;
    tag: string;
    tagSource: string;
    /** Family and service images by name. */
    images: Record<string, ImageOutput>;
    /** Container names (empty in the build phase). */
    containers: string[];
    /** The canary services' health: what pc2 (rollout.gateStack) gates on. */
    canaryReport?: pulumi.Output<RolloutReport>;
    /** "passed" once every gate of the stack is open (the canary's, the gate stack's, cross-machine dependencies'). */
    gate?: pulumi.Output<string>;
    /** Every service's health at this release: what a cross-machine dependency waits for. */
    report?: pulumi.Output<RolloutReport>;
    /** The rollout order (scripts/plan.ts draws it). */
    plan?: { levels: string[][]; criticalPath: string[]; canary: string[]; canaryDependencies: string[]; gated: string[] };
    /** Per service: the vulnerability scan report (unless ai-fleet:scan.enabled is false). */
    scanReport?: pulumi.Output<Record<string, ScanReport>>;
}
