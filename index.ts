/**
 * Entry point of `pulumi preview` / `pulumi up --stack <machine>`: load and validate the stack's
 * config, resolve the release tag, and wire the rollout. All logic lives in config/ and deploy/.
 */
import { leanPromiseStacks } from "./promiseStacks";
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import { preflight } from "./buildTree/preflight";
import { dirtyTreeNote, readSourceCommit } from "./buildTree/sourceTree";
import { loadFleetConfig, registryPassword } from "./config";
import { deploy } from "./deploy";
import { resolveTag } from "./naming";
import { applyOverrides, parseOverrides, releaseOutput } from "./release";

// Before any resource: the SDK's per-promise stacks cost most of the evaluation (promiseStacks.ts).
leanPromiseStacks();

// The rollout command's overrides (a rollback's release, the container runtime); none in a plain `pulumi up`.
const overrides = parseOverrides(process.env);
const config = loadFleetConfig((raw) => applyOverrides(raw, overrides));
preflight(config.stack);
const commit = readSourceCommit(path.resolve(config.stack.build.contextRoot));
const releaseTag = resolveTag({ forced: overrides.release?.tag ?? process.env.FORCE_IMAGE_TAG, commit });
if (commit?.dirty && releaseTag.source === "dirty-tree") {
    pulumi.log.warn(dirtyTreeNote(config.stack.build.contextRoot, commit.dirty.files, releaseTag.tag));
}
const fleet = deploy({ config, release: releaseTag, commit, registryPassword: registryPassword(config.stack), restore: overrides.release });

export const machine = fleet.machine;
export const phase = fleet.phase;
export const tag = fleet.tag;
export const tagSource = fleet.tagSource;
export const images = fleet.images;
export const containers = fleet.containers;
export const canaryReport = fleet.canaryReport;
export const gate = fleet.gate;
export const report = fleet.report;
export const plan = fleet.plan;
/** The release once every required service passed its health check: what a rollback restores. */
export const release = releaseOutput(fleet, Object.keys(config.stack.services));
export const scanReport = fleet.scanReport;
/** Where the containers' specs come from: the stack file, or a rollback's release and how it differs from the stack file. */
export const specSource = fleet.specSource;
