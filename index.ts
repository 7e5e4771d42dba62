/**
 * Entry point of `pulumi preview` / `pulumi up --stack <machine>`: load and validate the stack's
 * config, resolve the release tag, and wire the rollout. All logic lives in config.ts and deploy.ts.
 */
import * as path from "path";
import { loadFleetConfig, readSourceCommit, registryPassword } from "./config";
import { deploy } from "./deploy";
import { resolveTag } from "./naming";

const config = loadFleetConfig();
const commit = readSourceCommit(path.resolve(config.stack.build.contextRoot));
const release = resolveTag({ forced: process.env.FORCE_IMAGE_TAG, commit });
const fleet = deploy({ config, release, commit, registryPassword: registryPassword(config.stack) });

export const machine = fleet.machine;
export const phase = fleet.phase;
export const tag = fleet.tag;
export const tagSource = fleet.tagSource;
export const images = fleet.images;
export const containers = fleet.containers;
export const canaryReport = fleet.canaryReport;
export const gate = fleet.gate;
export const batchReport = fleet.batchReport;
export const scanReport = fleet.scanReport;
