#!/usr/bin/env node
// The one client of the registry's HTTP API (v2) in this repository: manifest look-ups (HEAD/GET
// /v2/<repo>/manifests/<ref> with the Accept types of OCI and Docker manifests and indexes), the
// digest from Docker-Content-Digest, an index resolved to one platform's manifest, the config blob
// and its layers, manifest deletion; Basic auth, or a Bearer token fetched after a 401 challenge.
// Plain CommonJS on node's own modules only: probes/verify-image.js runs it with node alone, and the
// tests (test/integration) and scripts (scripts/local/base-image.sh) use it too. Types: registry.d.ts.
//
// As a command (for shell scripts):
//   node probes/registry.js digest host/repository:tag|@sha256:…
// prints the digest the registry serves for it and exits 0, or exits 1 (404: exits 1 quietly; any
// other failure: says why on stderr). Credentials and plain HTTP as for verify-image.js:
// FLEET_REGISTRY_USER, FLEET_REGISTRY_PASSWORD, FLEET_REGISTRY_INSECURE=true, FLEET_REQUEST_TIMEOUT_S.
"use strict";

const http = require("http");
const https = require("https");

const INDEX_TYPES = ["application/vnd.oci.image.index.v1+json", "application/vnd.docker.distribution.manifest.list.v2+json"];

/** Accept header of a manifest look-up: indexes / manifest lists and single manifests, OCI and Docker. */
const MANIFEST_TYPES = [
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
    "application/vnd.docker.distribution.manifest.v2+json",
].join(", ");

/** Splits host/repo:tag@digest; the first component is the registry host. */
function splitRef(ref) {
    const m = /^([^/]+)\/([^:@]+)(?::([^@]+))?(?:@(sha256:[a-f0-9]{64}))?$/.exec(ref);
    if (!m) return undefined;
    return { host: m[1], repo: m[2], tag: m[3], digest: m[4] };
}

/** The Authorization header of HTTP Basic auth, or undefined without a user. */
function basicAuth(user, password) {
    return user ? "Basic " + Buffer.from(`${user}:${password || ""}`).toString("base64") : undefined;
}

/** One HTTP(S) request; follows up to `redirects` redirects, without the Authorization header. */
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

/** A WWW-Authenticate header: its scheme (lower case) and its key="value" parameters. */
function parseChallenge(header) {
    const m = /^(\w+)\s*(.*)$/.exec(header || "");
    if (!m) return undefined;
    const params = {};
    for (const p of m[2].matchAll(/(\w+)="([^"]*)"/g)) params[p[1]] = p[2];
    return { scheme: m[1].toLowerCase(), params };
}

/** The token endpoint of a Bearer challenge did not give a token. */
class TokenError extends Error {
    constructor(realm, repo, status, body) {
        super(`token endpoint ${realm} answered ${status} for ${repo}`);
        this.name = "TokenError";
        this.realm = realm;
        this.status = status;
        this.body = body;
    }
}

/** The platform's manifest entry of an index (os/arch[/variant]), or undefined. */
function platformEntry(index, platform) {
    const [os, arch, variant] = platform.split("/");
    return (index.manifests || []).find(
        (m) => m.platform && m.platform.os === os && m.platform.architecture === arch && (!variant || m.platform.variant === variant),
    );
}

function isIndex(manifest) {
    return INDEX_TYPES.includes(manifest.mediaType) || Array.isArray(manifest.manifests);
}

/** A client of one registry (host), with one set of credentials. */
class RegistryClient {
    /**
     * @param {{host: string, insecure?: boolean, auth?: string, user?: string, password?: string, timeoutS?: number}} o
     *   auth: a ready Authorization header (Basic …); else user/password make one.
     */
    constructor(o) {
        this.host = o.host;
        this.scheme = o.insecure ? "http" : "https";
        this.auth = o.auth !== undefined ? o.auth : basicAuth(o.user, o.password);
        this.timeoutS = o.timeoutS === undefined ? 15 : o.timeoutS;
    }

    url(repo, path) {
        return `${this.scheme}://${this.host}/v2/${repo}/${path}`;
    }

    /**
     * One request with the registry's auth: unauthenticated first; after a 401, again with a Bearer
     * token for `repo` (Bearer challenge) or with the Basic credentials. Resolves to the answer
     * ({status, headers, body, url}); `anonymous` is true when it was a 401 and there was nothing to
     * authenticate with. Rejects on network errors and with a TokenError when no token was given.
     */
    async send(method, repo, path, accept) {
        const url = this.url(repo, path);
        const headers = accept ? { Accept: accept } : {};
        const res = await request(url, headers, this.timeoutS, method);
        if (res.status !== 401) return { ...res, url };
        const challenge = parseChallenge(res.headers["www-authenticate"]);
        let authorization;
        if (challenge && challenge.scheme === "bearer" && challenge.params.realm) {
            const q = new URLSearchParams({ service: challenge.params.service || this.host, scope: `repository:${repo}:pull` });
            const tok = await request(`${challenge.params.realm}?${q}`, this.auth ? { Authorization: this.auth } : {}, this.timeoutS);
            if (tok.status !== 200) throw new TokenError(challenge.params.realm, repo, tok.status, tok.body);
            const body = JSON.parse(tok.body);
            authorization = `Bearer ${body.token || body.access_token}`;
        } else if (this.auth) {
            authorization = this.auth;
        } else {
            return { ...res, url, anonymous: true };
        }
        return { ...(await request(url, { ...headers, Authorization: authorization }, this.timeoutS, method)), url };
    }

    /** GET that must answer 200 (else it rejects, naming the URL and the status). */
    async get(repo, path, accept) {
        const res = await this.send("GET", repo, path, accept);
        if (res.status !== 200) throw new Error(`GET ${res.url} answered HTTP ${res.status}: ${res.body.slice(0, 200)}`);
        return res;
    }

    /** HEAD on a manifest (tag or digest): the answer, with `digest` from Docker-Content-Digest. */
    async headManifest(repo, reference) {
        const res = await this.send("HEAD", repo, `manifests/${reference}`, MANIFEST_TYPES);
        const digest = res.headers["docker-content-digest"];
        return { ...res, digest: typeof digest === "string" ? digest : undefined };
    }

    /** The digest the registry serves for repo:reference, or undefined when it answers anything but 200. */
    async manifestDigest(repo, reference) {
        const res = await this.headManifest(repo, reference);
        return res.status === 200 ? res.digest : undefined;
    }

    /** The manifest (or index) of repo:reference, parsed. */
    async manifest(repo, reference) {
        return JSON.parse((await this.get(repo, `manifests/${reference}`, MANIFEST_TYPES)).body);
    }

    /** The image manifest of repo:reference for `platform` (os/arch[/variant]): an index is resolved to its entry. */
    async platformManifest(repo, reference, platform) {
        const manifest = await this.manifest(repo, reference);
        if (!isIndex(manifest)) return manifest;
        const entry = platformEntry(manifest, platform);
        if (!entry) {
            const have = (manifest.manifests || [])
                .map((m) => (m.platform ? `${m.platform.os}/${m.platform.architecture}` : "?"))
                .join(", ");
            throw new Error(`${this.host}/${repo} has no ${platform} manifest in its index (platforms: ${have})`);
        }
        return this.manifest(repo, entry.digest);
    }

    /** The image config blob of repo:reference for `platform`, parsed. */
    async config(repo, reference, platform) {
        const manifest = await this.platformManifest(repo, reference, platform);
        if (!manifest.config || !manifest.config.digest) throw new Error(`${this.host}/${repo}: the manifest has no config`);
        return JSON.parse((await this.get(repo, `blobs/${manifest.config.digest}`)).body);
    }

    /** The uncompressed layer digests (rootfs.diff_ids) of repo:reference for `platform`. */
    async layers(repo, reference, platform) {
        const config = await this.config(repo, reference, platform);
        return (config.rootfs && config.rootfs.diff_ids) || [];
    }

    /** DELETE of a manifest by digest: the HTTP status (202 deleted, 404 unknown, 405 deletion disabled). */
    async deleteManifest(repo, digest) {
        return (await this.send("DELETE", repo, `manifests/${digest}`)).status;
    }
}

/** `node probes/registry.js digest REF` (see the top of this file). */
async function cli(argv, env) {
    const [command, ref] = argv;
    const parts = command === "digest" && ref ? splitRef(ref) : undefined;
    if (!parts || (!parts.tag && !parts.digest)) {
        process.stderr.write("usage: node probes/registry.js digest host/repository:tag|host/repository@sha256:digest\n");
        return 2;
    }
    const client = new RegistryClient({
        host: parts.host,
        insecure: env.FLEET_REGISTRY_INSECURE === "true",
        user: env.FLEET_REGISTRY_USER,
        password: env.FLEET_REGISTRY_PASSWORD,
        timeoutS: Number(env.FLEET_REQUEST_TIMEOUT_S || "15"),
    });
    const res = await client.headManifest(parts.repo, parts.digest || parts.tag);
    if (res.status === 200 && res.digest) {
        process.stdout.write(res.digest + "\n");
        return 0;
    }
    if (res.status !== 404)
        process.stderr.write(`registry: HEAD ${res.url} answered HTTP ${res.status}${res.digest ? "" : " without a digest"}\n`);
    return 1;
}

module.exports = { INDEX_TYPES, MANIFEST_TYPES, splitRef, basicAuth, request, parseChallenge, TokenError, platformEntry, RegistryClient };

if (require.main === module) {
    cli(process.argv.slice(2), process.env).then(
        (code) => process.exit(code),
        (e) => {
            process.stderr.write(`registry: ${e && e.message ? e.message : String(e)}\n`);
            process.exit(1);
        },
    );
}
