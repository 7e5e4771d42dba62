/**
 * Entry point of `pulumi preview` / `pulumi up --stack <stack>`: load and validate the stack's
 * config, resolve the release tag, and wire the rollout: one machine (a machine stack), or every
 * machine of a fleet stack onto one cluster (`ai-fleet:fleet`). All logic lives in config/ and deploy/.
 */
import { leanPromiseStacks } from "./promiseStacks";
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import { preflight } from "./buildTree/preflight";
import { dirtyTreeNote, readSourceCommit } from "./buildTree/sourceTree";
import { currentRawConfig, isFleetStack, loadFleetConfig, loadFleetStack, registryPassword, StackConfig } from "./config";
import { deploy } from "./deploy";
import { deployFleet } from "./deploy/fleet";
import { resolveTag } from "./naming";
import { applyOverrides, machineOverrides, parseOverrides, releaseOutput } from "./release";

// Before any resource: the SDK's per-promise stacks cost most of the evaluation (promiseStacks.ts).
leanPromiseStacks();

// The rollout command's overrides (a rollback's release, the container runtime); none in a plain `pulumi up`.
const overrides = parseOverrides(process.env);

/** The release tag from the checkout of `contextRoot` (or FORCE_IMAGE_TAG / a rollback's release), with the dirty-tree warning. */
function releaseOf(stack: StackConfig) {
    const commit = readSourceCommit(path.resolve(stack.build.contextRoot));
    const tag = resolveTag({ forced: overrides.release?.tag ?? process.env.FORCE_IMAGE_TAG, commit });
    if (commit?.dirty && tag.source === "dirty-tree") {
        pulumi.log.warn(dirtyTreeNote(stack.build.contextRoot, commit.dirty.files, tag.tag));
    }
    return { commit, tag };
}

/** A machine stack: one machine's build, verification, scan and rollout. */
function machineStack() {
    const config = loadFleetConfig((raw) => applyOverrides(raw, overrides));
    preflight(config.stack);
    const { commit, tag } = releaseOf(config.stack);
    const fleet = deploy({ config, release: tag, commit, registryPassword: registryPassword(config.stack), restore: overrides.release });
    return {
        ...fleet,
        machines: undefined,
        plans: undefined,
        services: undefined,
        release: releaseOutput(fleet, Object.keys(config.stack.services)),
    };
}

/** A fleet stack: every machine stack it names, onto its one cluster, in one update (deploy/fleet.ts). */
function fleetStack() {
    const fleet = loadFleetStack((_stack, raw) => applyOverrides(raw, machineOverrides(overrides, String(raw.machine))));
    fleet.machines.forEach((m) => preflight(m.config.stack));
    // One release tag for the fleet, from the first machine's checkout (the machines' contexts are one repository).
    const { commit, tag } = releaseOf(fleet.machines[0].config.stack);
    const out = deployFleet({
        fleet,
        release: tag,
        commit,
        registryPassword: (m) => registryPassword(m.config.stack),
        restore: (machine) => machineOverrides(overrides, machine).release,
    });
    return { ...out, machine: undefined, plan: undefined, release: releaseOutput(out, out.services) };
}

const stack = isFleetStack(currentRawConfig()) ? fleetStack() : machineStack();

/** The machine (a machine stack). */
export const machine = stack.machine;
/** The machines, in rollout order (a fleet stack); every per-service output is then keyed `<machine>/<Service>`. */
export const machines = stack.machines;
export const phase = stack.phase;
export const tag = stack.tag;
export const tagSource = stack.tagSource;
export const images = stack.images;
export const containers = stack.containers;
export const canaryReport = stack.canaryReport;
export const gate = stack.gate;
export const report = stack.report;
export const plan = stack.plan;
/** Each machine's rollout order (a fleet stack). */
export const plans = stack.plans;
/** The release once every required service passed its health check: what a rollback restores. */
export const release = stack.release;
export const scanReport = stack.scanReport;
/** Where the containers' specs come from: the stack file, or a rollback's release and how it differs from the stack file. */
export const specSource = stack.specSource;
