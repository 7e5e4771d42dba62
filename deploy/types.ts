/** What deploy() takes beside the config, what its steps hand each other, and what a stack exports. */
import * as pulumi from "@pulumi/pulumi";
import type * as k8s from "@pulumi/kubernetes";
import { FleetConfig } from "../config";
import type { ContainerSpec } from "../common/containerSpec";
import { ProbeSettings, RolloutReport, ScanReport, ServiceImageSource } from "../components";
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
    /**
     * A rollback's release (the rollout command's override): its recorded specs replace what the
     * stack file gives each service it records; without specs (a release of an older program, or
     * `--to <tag>`) only its images are restored.
     */
    restore?: { tag: string; specs?: Record<string, ServiceSpec> };
    /** In a fleet stack (deploy/fleet.ts): the machine's place in it. */
    fleet?: FleetScope;
}

/** A cluster's provider and namespace. */
export interface ClusterConnection {
    provider: k8s.Provider;
    namespace: pulumi.Output<string>;
}

/** A machine's place in a fleet stack: the prefix of its resource names, the shared cluster, the machines before it. */
export interface FleetScope {
    /** The machine: every resource name of it starts `<machine>/` (`mainpc/ModelOpsCoordinator-health`). */
    scope: string;
    /** The fleet's one cluster connection. */
    cluster: ClusterConnection;
    /** Every machine stack of the fleet, by stack name. */
    stacks: string[];
    /** The machines rolled out before this one, by stack name: what its rollout.gateStack gates on, in-process. */
    peers: Record<string, { canaryReport?: pulumi.Output<RolloutReport>; report?: pulumi.Output<RolloutReport> }>;
}

export type { ProbeSettings };

/**
 * Everything about a service that a release records beside its image: the container spec as
 * containerSpecFor built it (env with the profile's values and the dependencies' URLs, ports, bind
 * address, hardening, GPU devices, Docker healthcheck, restart, logs), which both container runtimes
 * and the policy pack read, and how its health check probes it.
 */
export interface ServiceSpec {
    container: ContainerSpec;
    probe: ProbeSettings;
}

/** One way a restored service's spec differs from what the stack file gives it now (secret values masked). */
export interface SpecDifference {
    service: string;
    /** The setting: `env`, `ports`, `hardening`, `health probe`, … */
    field: string;
    /** What the release recorded, for display. */
    release: string;
    /** What the stack file gives, for display. */
    stackFile: string;
}

/**
 * Where the specs the services run with come from, exported as `specSource`: the stack file, or in
 * a rollback's update the release restored (read by the rollout command; it stays until the next update).
 */
export type SpecSource = { from: "stack file" } | RestoreReport;

/** What a rollback restored. */
export interface RestoreReport {
    from: "release";
    /** The release restored. */
    tag: string;
    /** true: its recorded specs run; false: it records only images (an older program, or a bare tag), the rest is the stack file's. */
    recordedSpecs: boolean;
    /** Where a restored spec differs from the stack file. */
    differences: SpecDifference[];
    /** Services the release records no spec of: they run the stack file's. */
    fromStackFile: string[];
    /** A fleet stack's: each machine's stack file (by machine), the file a `<machine>/<Service>` difference is in. */
    stackFiles?: Record<string, string>;
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
    /** Per service: the spec its container and health check run with (the stack file's, or a restored release's). */
    specs?: Record<string, ServiceSpec>;
    /** Where the specs come from: the stack file, or a rollback's release (and how it differs from the stack file). */
    specSource?: SpecSource;
    /** Per service: the vulnerability scan report (unless ai-fleet:scan.enabled is false). */
    scanReport?: pulumi.Output<Record<string, ScanReport>>;
}

/** Where a service's image comes from in this phase, by service name. */
export type ServiceImageSourceOf = (service: string) => ServiceImageSource;
