#!/usr/bin/env node
// Verifies that an image is in its registry with the digest that was built, through the registry's
// HTTP API (v2), so it needs neither a Docker engine nor a provider plugin. Run by the
// FleetService and FleetImage (their `-verify` child, components/probes.ts) through @pulumi/command.
//
// Environment:
//   FLEET_IMAGE            host/repository:tag (or @sha256:…) to look up
//   FLEET_EXPECTED_DIGEST  sha256:… the build produced (optional: without it, any digest passes)
//   FLEET_REGISTRY_USER, FLEET_REGISTRY_PASSWORD  credentials (Basic, or exchanged for a Bearer token)
//   FLEET_REGISTRY_INSECURE=true  plain HTTP (loopback test registries)
//   FLEET_REQUEST_TIMEOUT_S       per request, default 15
//   FLEET_PARENT_IMAGE     host/repository@sha256:… the image must be built on (optional): its layers
//                          (the config's rootfs.diff_ids) must start with the parent's, or it fails
//                          naming both; an index / manifest list is resolved to FLEET_PLATFORM's manifest
//   FLEET_PLATFORM         os/arch[/variant] to take from an index, default linux/amd64
// Prints one JSON line on success: {"image","digest","pinned"} (+ "parent","layers" with a parent).
// Exits 1 with the image named otherwise.
"use strict";

const { RegistryClient, TokenError, basicAuth, splitRef } = require("./registry");
const contracts = require("./contracts");

function fail(msg) {
    process.stderr.write(`image verification failed: ${msg}\n`);
    process.exit(1);
}

/** Why `child`'s layers do not extend `parent`'s, or undefined when they do. */
function layerMismatch(child, parent) {
    if (child.length < parent.length) return `it has ${child.length} layer(s), its parent ${parent.length}`;
    const i = parent.findIndex((d, n) => child[n] !== d);
    return i < 0 ? undefined : `layer ${i + 1} of ${parent.length} differs (parent ${parent[i]}, image ${child[i]})`;
}

async function main() {
    const input = contracts.readInput(contracts.verify, process.env);
    const image = input.FLEET_IMAGE || "";
    const expected = input.FLEET_EXPECTED_DIGEST || "";
    const user = input.FLEET_REGISTRY_USER || "";
    const password = input.FLEET_REGISTRY_PASSWORD || "";
    const timeoutS = Number(input.FLEET_REQUEST_TIMEOUT_S || "15");
    const ref = splitRef(image);
    if (!ref || (!ref.tag && !ref.digest)) fail(`FLEET_IMAGE="${image}" is not host/repository:tag or host/repository@sha256:digest`);
    if (expected && !/^sha256:[a-f0-9]{64}$/.test(expected)) fail(`${image}: FLEET_EXPECTED_DIGEST="${expected}" is not a sha256 digest`);
    const reference = ref.digest || ref.tag;
    const insecure = input.FLEET_REGISTRY_INSECURE === "true";
    const basic = basicAuth(user, password);
    const registry = new RegistryClient({ host: ref.host, insecure, auth: basic, timeoutS });
    const url = registry.url(ref.repo, `manifests/${reference}`);

    let res;
    try {
        res = await registry.headManifest(ref.repo, reference);
    } catch (e) {
        if (e instanceof TokenError) fail(`${image}: token endpoint ${e.realm} answered ${e.status}: ${e.body.slice(0, 200)}`);
        fail(`${image}: registry ${ref.host} not reachable at ${url}: ${e.message}`);
    }
    if (res.anonymous) fail(`${image}: registry ${ref.host} wants credentials and none were given`);
    if (res.status === 401 || res.status === 403) fail(`${image}: registry ${ref.host} refused the credentials (HTTP ${res.status})`);
    if (res.status === 404) fail(`${image} is not in the registry (HTTP 404 for ${url}): was it pushed?`);
    if (res.status !== 200) fail(`${image}: registry answered HTTP ${res.status} for ${url}`);
    const digest = res.digest;
    if (!digest) fail(`${image}: registry gave no Docker-Content-Digest header for ${url}`);
    if (expected && digest !== expected) {
        fail(`${image} in the registry has digest ${digest}, but the build produced ${expected}: another build overwrote the tag`);
    }
    const pinned = `${ref.host}/${ref.repo}@${digest}`;
    const parentImage = input.FLEET_PARENT_IMAGE || "";
    if (!parentImage) {
        contracts.printOutput(contracts.verify, { image, digest, pinned });
        return;
    }
    const parent = splitRef(parentImage);
    if (!parent || (!parent.tag && !parent.digest))
        fail(`${image}: FLEET_PARENT_IMAGE="${parentImage}" is not host/repository:tag or host/repository@sha256:digest`);
    const platform = input.FLEET_PLATFORM || "linux/amd64";
    let childLayers;
    let parentLayers;
    try {
        childLayers = await registry.layers(ref.repo, digest, platform);
        const parentRegistry = parent.host === ref.host ? registry : new RegistryClient({ host: parent.host, insecure, timeoutS });
        parentLayers = await parentRegistry.layers(parent.repo, parent.digest || parent.tag, platform);
    } catch (e) {
        fail(`${image}: cannot compare its layers with its parent ${parentImage}: ${e.message}`);
    }
    const why = layerMismatch(childLayers, parentLayers);
    if (why) {
        fail(
            `${pinned} is not built on its parent ${parentImage}: its layers do not extend the parent's (${why}); its Dockerfile's final stage does not build FROM the BASE_IMAGE it was given`,
        );
    }
    contracts.printOutput(contracts.verify, { image, digest, pinned, parent: parentImage, layers: childLayers.length });
}

main().catch((e) => fail(e && e.stack ? e.stack : String(e)));
