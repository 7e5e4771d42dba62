#!/usr/bin/env node
// Verifies that an image is in its registry with the digest that was built, through the registry's
// HTTP API (v2), so it needs neither a Docker engine nor a provider plugin. Run by the
// ImageVerification component (components/imageVerification.ts) through @pulumi/command.
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

const http = require("http");
const https = require("https");

const MANIFEST_TYPES = [
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
    "application/vnd.docker.distribution.manifest.v2+json",
].join(", ");

function fail(msg) {
    process.stderr.write(`image verification failed: ${msg}\n`);
    process.exit(1);
}

/** Splits host/repo:tag@digest; the first component is the registry host. */
function splitRef(ref) {
    const m = /^([^/]+)\/([^:@]+)(?::([^@]+))?(?:@(sha256:[a-f0-9]{64}))?$/.exec(ref);
    if (!m) return undefined;
    return { host: m[1], repo: m[2], tag: m[3], digest: m[4] };
}

function request(url, headers, timeoutS, method = "GET", redirects = 3) {
    return new Promise((resolve, reject) => {
        const lib = url.startsWith("https:") ? https : http;
        const req = lib.request(url, { method, headers, timeout: timeoutS * 1000 }, (res) => {
            // Blob downloads may redirect to storage (GHCR does); credentials stay with the registry.
            if (res.statusCode >= 300 && res.statusCode < 400 && res.headers.location && redirects > 0) {
                res.resume();
                const rest = { ...headers };
                delete rest.Authorization;
                resolve(request(new URL(res.headers.location, url).toString(), rest, timeoutS, method, redirects - 1));
                return;
            }
            const chunks = [];
            res.on("data", (c) => chunks.push(c));
            res.on("end", () => resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks).toString("utf8") }));
        });
        req.on("timeout", () => req.destroy(new Error(`no answer within ${timeoutS}s`)));
        req.on("error", reject);
        req.end();
    });
}

function parseChallenge(header) {
    const m = /^(\w+)\s*(.*)$/.exec(header || "");
    if (!m) return undefined;
    const params = {};
    for (const p of m[2].matchAll(/(\w+)="([^"]*)"/g)) params[p[1]] = p[2];
    return { scheme: m[1].toLowerCase(), params };
}

const INDEX_TYPES = ["application/vnd.oci.image.index.v1+json", "application/vnd.docker.distribution.manifest.list.v2+json"];

/** GET with the registry's auth: Basic, or a Bearer token for `repo` after a 401 challenge. */
async function registryGet(scheme, host, repo, path, accept, creds, timeoutS) {
    const url = `${scheme}://${host}/v2/${repo}/${path}`;
    let headers = accept ? { Accept: accept } : {};
    let res = await request(url, headers, timeoutS);
    if (res.status === 401) {
        const challenge = parseChallenge(res.headers["www-authenticate"]);
        if (challenge && challenge.scheme === "bearer" && challenge.params.realm) {
            const q = new URLSearchParams({ service: challenge.params.service || host, scope: `repository:${repo}:pull` });
            const tok = await request(`${challenge.params.realm}?${q}`, creds ? { Authorization: creds } : {}, timeoutS);
            if (tok.status !== 200) throw new Error(`token endpoint ${challenge.params.realm} answered ${tok.status} for ${repo}`);
            const body = JSON.parse(tok.body);
            headers = { ...headers, Authorization: `Bearer ${body.token || body.access_token}` };
        } else if (creds) {
            headers = { ...headers, Authorization: creds };
        }
        res = await request(url, headers, timeoutS);
    }
    if (res.status !== 200) throw new Error(`GET ${url} answered HTTP ${res.status}: ${res.body.slice(0, 200)}`);
    return res;
}

/** The uncompressed layer digests (rootfs.diff_ids) of an image, through an index to `platform`'s manifest. */
async function layersOf(scheme, ref, creds, platform, timeoutS) {
    const [os, arch, variant] = platform.split("/");
    let manifest = JSON.parse(
        (await registryGet(scheme, ref.host, ref.repo, `manifests/${ref.digest || ref.tag}`, MANIFEST_TYPES, creds, timeoutS)).body,
    );
    if (INDEX_TYPES.includes(manifest.mediaType) || Array.isArray(manifest.manifests)) {
        const entry = (manifest.manifests || []).find(
            (m) => m.platform && m.platform.os === os && m.platform.architecture === arch && (!variant || m.platform.variant === variant),
        );
        if (!entry) {
            const have = (manifest.manifests || [])
                .map((m) => (m.platform ? `${m.platform.os}/${m.platform.architecture}` : "?"))
                .join(", ");
            throw new Error(`${ref.host}/${ref.repo} has no ${platform} manifest in its index (platforms: ${have})`);
        }
        manifest = JSON.parse(
            (await registryGet(scheme, ref.host, ref.repo, `manifests/${entry.digest}`, MANIFEST_TYPES, creds, timeoutS)).body,
        );
    }
    if (!manifest.config || !manifest.config.digest) throw new Error(`${ref.host}/${ref.repo}: the manifest has no config`);
    const config = JSON.parse(
        (await registryGet(scheme, ref.host, ref.repo, `blobs/${manifest.config.digest}`, undefined, creds, timeoutS)).body,
    );
    return (config.rootfs && config.rootfs.diff_ids) || [];
}

/** Why `child`'s layers do not extend `parent`'s, or undefined when they do. */
function layerMismatch(child, parent) {
    if (child.length < parent.length) return `it has ${child.length} layer(s), its parent ${parent.length}`;
    const i = parent.findIndex((d, n) => child[n] !== d);
    return i < 0 ? undefined : `layer ${i + 1} of ${parent.length} differs (parent ${parent[i]}, image ${child[i]})`;
}

async function main() {
    const image = process.env.FLEET_IMAGE || "";
    const expected = process.env.FLEET_EXPECTED_DIGEST || "";
    const user = process.env.FLEET_REGISTRY_USER || "";
    const password = process.env.FLEET_REGISTRY_PASSWORD || "";
    const scheme = process.env.FLEET_REGISTRY_INSECURE === "true" ? "http" : "https";
    const timeoutS = Number(process.env.FLEET_REQUEST_TIMEOUT_S || "15");
    const ref = splitRef(image);
    if (!ref || (!ref.tag && !ref.digest)) fail(`FLEET_IMAGE="${image}" is not host/repository:tag or host/repository@sha256:digest`);
    if (expected && !/^sha256:[a-f0-9]{64}$/.test(expected)) fail(`${image}: FLEET_EXPECTED_DIGEST="${expected}" is not a sha256 digest`);
    const reference = ref.digest || ref.tag;
    const url = `${scheme}://${ref.host}/v2/${ref.repo}/manifests/${reference}`;
    const basic = user ? "Basic " + Buffer.from(`${user}:${password}`).toString("base64") : undefined;

    let headers = { Accept: MANIFEST_TYPES };
    let res;
    try {
        res = await request(url, headers, timeoutS, "HEAD");
        if (res.status === 401) {
            const challenge = parseChallenge(res.headers["www-authenticate"]);
            if (challenge && challenge.scheme === "bearer" && challenge.params.realm) {
                const q = new URLSearchParams({ service: challenge.params.service || ref.host, scope: `repository:${ref.repo}:pull` });
                const tok = await request(`${challenge.params.realm}?${q}`, basic ? { Authorization: basic } : {}, timeoutS);
                if (tok.status !== 200)
                    fail(`${image}: token endpoint ${challenge.params.realm} answered ${tok.status}: ${tok.body.slice(0, 200)}`);
                const body = JSON.parse(tok.body);
                headers = { ...headers, Authorization: `Bearer ${body.token || body.access_token}` };
            } else if (basic) {
                headers = { ...headers, Authorization: basic };
            } else {
                fail(`${image}: registry ${ref.host} wants credentials and none were given`);
            }
            res = await request(url, headers, timeoutS, "HEAD");
        }
    } catch (e) {
        fail(`${image}: registry ${ref.host} not reachable at ${url}: ${e.message}`);
    }
    if (res.status === 401 || res.status === 403) fail(`${image}: registry ${ref.host} refused the credentials (HTTP ${res.status})`);
    if (res.status === 404) fail(`${image} is not in the registry (HTTP 404 for ${url}): was it pushed?`);
    if (res.status !== 200) fail(`${image}: registry answered HTTP ${res.status} for ${url}`);
    const digest = res.headers["docker-content-digest"];
    if (!digest) fail(`${image}: registry gave no Docker-Content-Digest header for ${url}`);
    if (expected && digest !== expected) {
        fail(`${image} in the registry has digest ${digest}, but the build produced ${expected}: another build overwrote the tag`);
    }
    const pinned = `${ref.host}/${ref.repo}@${digest}`;
    const parentImage = process.env.FLEET_PARENT_IMAGE || "";
    if (!parentImage) {
        process.stdout.write(JSON.stringify({ image, digest, pinned }) + "\n");
        return;
    }
    const parent = splitRef(parentImage);
    if (!parent || (!parent.tag && !parent.digest))
        fail(`${image}: FLEET_PARENT_IMAGE="${parentImage}" is not host/repository:tag or host/repository@sha256:digest`);
    const platform = process.env.FLEET_PLATFORM || "linux/amd64";
    let childLayers;
    let parentLayers;
    try {
        childLayers = await layersOf(scheme, { ...ref, digest, tag: undefined }, basic, platform, timeoutS);
        parentLayers = await layersOf(scheme, parent, parent.host === ref.host ? basic : undefined, platform, timeoutS);
    } catch (e) {
        fail(`${image}: cannot compare its layers with its parent ${parentImage}: ${e.message}`);
    }
    const why = layerMismatch(childLayers, parentLayers);
    if (why) {
        fail(
            `${pinned} is not built on its parent ${parentImage}: its layers do not extend the parent's (${why}); its Dockerfile's final stage does not build FROM the BASE_IMAGE it was given`,
        );
    }
    process.stdout.write(JSON.stringify({ image, digest, pinned, parent: parentImage, layers: childLayers.length }) + "\n");
}

main().catch((e) => fail(e && e.stack ? e.stack : String(e)));
