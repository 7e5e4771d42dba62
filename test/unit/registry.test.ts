/**
 * probes/registry.js (the one registry client) and probes/verify-image.js on it, against a small
 * fake registry on 127.0.0.1 made here: Basic auth, or Bearer tokens from a token endpoint; an OCI
 * index with two platforms; config blobs behind a redirect (as GHCR serves them). The real
 * registry is exercised by test/integration (docker.test.ts case 2, operatorLayout.test.ts).
 */
import { expect } from "chai";
import { spawn } from "child_process";
import { createHash } from "crypto";
import * as http from "http";
import { AddressInfo } from "net";
import * as path from "path";
import { MANIFEST_TYPES, RegistryClient, splitRef, TokenError } from "../../probes/registry";

const ROOT = path.join(__dirname, "..", "..");
const USER = "fleet";
const PASSWORD = "s3cret";
const TOKEN = "tok-123";

const sha = (s: string) => "sha256:" + createHash("sha256").update(s).digest("hex");
const diff = (n: number) => sha(`layer ${n}`);

interface Stored {
    body: string;
    mediaType: string;
}

/** A registry holding repo "demo/base" (one manifest) and "demo/app" (an index: amd64 built on base, arm64). */
function content() {
    const blobs = new Map<string, string>();
    const manifests = new Map<string, Stored>(); // "repo@digest" and "repo:tag"
    const image = (repo: string, layers: number[]) => {
        const config = JSON.stringify({ rootfs: { type: "layers", diff_ids: layers.map(diff) } });
        blobs.set(`${repo}@${sha(config)}`, config);
        const body = JSON.stringify({
            schemaVersion: 2,
            mediaType: "application/vnd.oci.image.manifest.v1+json",
            config: { mediaType: "application/vnd.oci.image.config.v1+json", digest: sha(config) },
            layers: [],
        });
        manifests.set(`${repo}@${sha(body)}`, { body, mediaType: "application/vnd.oci.image.manifest.v1+json" });
        return sha(body);
    };
    const put = (repo: string, tag: string, digest: string) =>
        manifests.set(`${repo}:${tag}`, manifests.get(`${repo}@${digest}`) as Stored);
    const base = image("demo/base", [1, 2]);
    put("demo/base", "v1", base);
    const other = image("demo/other", [7]);
    put("demo/other", "v1", other);
    const amd64 = image("demo/app", [1, 2, 3]);
    const arm64 = image("demo/app", [9]);
    const index = JSON.stringify({
        schemaVersion: 2,
        mediaType: "application/vnd.oci.image.index.v1+json",
        manifests: [
            { mediaType: "application/vnd.oci.image.manifest.v1+json", digest: arm64, platform: { os: "linux", architecture: "arm64" } },
            { mediaType: "application/vnd.oci.image.manifest.v1+json", digest: amd64, platform: { os: "linux", architecture: "amd64" } },
        ],
    });
    manifests.set(`demo/app@${sha(index)}`, { body: index, mediaType: "application/vnd.oci.image.index.v1+json" });
    put("demo/app", "v1", sha(index));
    return { blobs, manifests, base, other, index: sha(index), amd64 };
}

interface Fake {
    host: string;
    seen: { method: string; url: string; authorization?: string }[];
    close: () => Promise<void>;
}

/** Starts the fake registry; `mode` is how it wants to be authenticated. */
async function fakeRegistry(mode: "basic" | "bearer" | "token-fails"): Promise<Fake & ReturnType<typeof content>> {
    const c = content();
    const seen: Fake["seen"] = [];
    const basic = "Basic " + Buffer.from(`${USER}:${PASSWORD}`).toString("base64");
    const server = http.createServer((req, res) => {
        const url = new URL(req.url as string, "http://x");
        seen.push({ method: req.method as string, url: req.url as string, authorization: req.headers.authorization });
        const host = `127.0.0.1:${(server.address() as AddressInfo).port}`;
        if (url.pathname === "/token") {
            if (mode === "token-fails" || req.headers.authorization !== basic) {
                res.writeHead(403).end("denied");
            } else if (
                url.searchParams.get("scope") !== "repository:demo/app:pull" &&
                url.searchParams.get("scope") !== "repository:demo/base:pull"
            ) {
                res.writeHead(400).end(`bad scope ${url.searchParams.get("scope")}`);
            } else {
                res.writeHead(200, { "Content-Type": "application/json" }).end(JSON.stringify({ token: TOKEN }));
            }
            return;
        }
        if (url.pathname.startsWith("/storage/")) {
            // Where blobs redirect to: must not see the registry's credentials.
            const body = req.headers.authorization ? undefined : c.blobs.get(decodeURIComponent(url.pathname.slice("/storage/".length)));
            res.writeHead(body ? 200 : 400).end(body ?? "credentials sent to storage");
            return;
        }
        const wanted = mode === "basic" ? basic : `Bearer ${TOKEN}`;
        if (req.headers.authorization !== wanted) {
            const challenge = mode === "basic" ? 'Basic realm="fake"' : `Bearer realm="http://${host}/token",service="fake"`;
            res.writeHead(401, { "WWW-Authenticate": challenge }).end("unauthorized");
            return;
        }
        const m = /^\/v2\/(.+)\/(manifests|blobs)\/(.+)$/.exec(url.pathname);
        if (m && m[2] === "blobs") {
            res.writeHead(307, { Location: `/storage/${encodeURIComponent(`${m[1]}@${m[3]}`)}` }).end();
            return;
        }
        const stored = m ? c.manifests.get(m[3].startsWith("sha256:") ? `${m[1]}@${m[3]}` : `${m[1]}:${m[3]}`) : undefined;
        if (!m || !stored) {
            res.writeHead(404).end("manifest unknown");
        } else if (req.method === "DELETE") {
            res.writeHead(202).end();
        } else if (!String(req.headers.accept).includes(stored.mediaType)) {
            res.writeHead(404).end("not in the accepted types");
        } else {
            res.writeHead(200, { "Content-Type": stored.mediaType, "Docker-Content-Digest": sha(stored.body) });
            res.end(req.method === "HEAD" ? undefined : stored.body);
        }
    });
    await new Promise<void>((ok) => server.listen(0, "127.0.0.1", ok));
    const host = `127.0.0.1:${(server.address() as AddressInfo).port}`;
    return { ...c, host, seen, close: () => new Promise<void>((ok) => server.close(() => ok())) };
}

/** Runs probes/verify-image.js as ImageVerification does (node, its environment). */
function verify(env: Record<string, string>): Promise<{ code: number | null; stdout: string; stderr: string }> {
    return new Promise((resolve) => {
        const child = spawn(process.execPath, [path.join(ROOT, "probes", "verify-image.js")], {
            env: { PATH: process.env.PATH ?? "", FLEET_REGISTRY_INSECURE: "true", FLEET_REQUEST_TIMEOUT_S: "5", ...env },
        });
        let stdout = "";
        let stderr = "";
        child.stdout.on("data", (d) => (stdout += d));
        child.stderr.on("data", (d) => (stderr += d));
        child.on("close", (code) => resolve({ code, stdout, stderr }));
    });
}

describe("probes/registry.js: the registry client", function () {
    this.timeout(20000);

    it("splits references", () => {
        expect(splitRef("127.0.0.1:5000/a/b:t")).to.deep.equal({ host: "127.0.0.1:5000", repo: "a/b", tag: "t", digest: undefined });
        const d = sha("x");
        expect(splitRef(`ghcr.io/o/r:t@${d}`)).to.deep.equal({ host: "ghcr.io", repo: "o/r", tag: "t", digest: d });
        expect(splitRef("no-slash")).to.equal(undefined);
        expect(MANIFEST_TYPES.split(", ")).to.have.length(4);
    });

    describe("with Basic auth", () => {
        let reg: Awaited<ReturnType<typeof fakeRegistry>>;
        before(async () => (reg = await fakeRegistry("basic")));
        after(() => reg.close());

        it("reads the digest from Docker-Content-Digest, by tag and by digest; none for an unknown tag or a wrong password", async () => {
            const client = new RegistryClient({ host: reg.host, insecure: true, user: USER, password: PASSWORD });
            expect(await client.manifestDigest("demo/base", "v1")).to.equal(reg.base);
            expect(await client.manifestDigest("demo/app", reg.index)).to.equal(reg.index);
            expect(await client.manifestDigest("demo/base", "nope")).to.equal(undefined);
            const wrong = new RegistryClient({ host: reg.host, insecure: true, user: USER, password: "wrong" });
            expect((await wrong.headManifest("demo/base", "v1")).status).to.equal(401);
            const anonymous = await new RegistryClient({ host: reg.host, insecure: true }).headManifest("demo/base", "v1");
            expect(anonymous).to.include({ status: 401, anonymous: true });
        });

        it("resolves an index to the platform's manifest and reads its layers from the config blob, through a redirect without credentials", async () => {
            const client = new RegistryClient({ host: reg.host, insecure: true, user: USER, password: PASSWORD });
            expect((await client.manifest("demo/app", "v1")).mediaType).to.equal("application/vnd.oci.image.index.v1+json");
            expect(await client.layers("demo/app", "v1", "linux/amd64")).to.deep.equal([diff(1), diff(2), diff(3)]);
            expect(await client.layers("demo/app", "v1", "linux/arm64")).to.deep.equal([diff(9)]);
            expect(await client.layers("demo/base", "v1", "linux/amd64")).to.deep.equal([diff(1), diff(2)]);
            const storage = reg.seen.filter((s) => s.url.startsWith("/storage/"));
            expect(storage.length).to.be.greaterThan(0);
            expect(storage.every((s) => s.authorization === undefined)).to.equal(true);
            let error: unknown;
            await client.layers("demo/app", "v1", "linux/s390x").catch((e) => (error = e));
            expect(String(error)).to.include(
                `${reg.host}/demo/app has no linux/s390x manifest in its index (platforms: linux/arm64, linux/amd64)`,
            );
        });

        it("deletes a manifest by digest", async () => {
            const client = new RegistryClient({ host: reg.host, insecure: true, user: USER, password: PASSWORD });
            expect(await client.deleteManifest("demo/base", reg.base)).to.equal(202);
            expect(await client.deleteManifest("demo/base", sha("unknown"))).to.equal(404);
        });

        it("as a command, prints the digest (exit 0) or exits 1", async () => {
            const run = (ref: string, password: string) =>
                new Promise<{ code: number | null; out: string }>((resolve) => {
                    const child = spawn(process.execPath, [path.join(ROOT, "probes", "registry.js"), "digest", ref], {
                        env: { FLEET_REGISTRY_INSECURE: "true", FLEET_REGISTRY_USER: USER, FLEET_REGISTRY_PASSWORD: password },
                    });
                    let out = "";
                    child.stdout.on("data", (d) => (out += d));
                    child.on("close", (code) => resolve({ code, out }));
                });
            expect(await run(`${reg.host}/demo/base:v1`, PASSWORD)).to.deep.equal({ code: 0, out: reg.base + "\n" });
            expect((await run(`${reg.host}/demo/base:missing`, PASSWORD)).code).to.equal(1);
            expect((await run(`${reg.host}/demo/base:v1`, "wrong")).code).to.equal(1);
        });
    });

    describe("with Bearer tokens", () => {
        let reg: Awaited<ReturnType<typeof fakeRegistry>>;
        before(async () => (reg = await fakeRegistry("bearer")));
        after(() => reg.close());

        it("asks the token endpoint with the Basic credentials and the repository's pull scope, then uses the token", async () => {
            const client = new RegistryClient({ host: reg.host, insecure: true, user: USER, password: PASSWORD });
            expect(await client.manifestDigest("demo/app", "v1")).to.equal(reg.index);
            const token = reg.seen.find((s) => s.url.startsWith("/token"));
            expect(token?.url).to.include("scope=repository%3Ademo%2Fapp%3Apull").and.include("service=fake");
            let error: unknown;
            await new RegistryClient({ host: reg.host, insecure: true, user: USER, password: "wrong" })
                .headManifest("demo/app", "v1")
                .catch((e) => (error = e));
            expect(error).to.be.instanceOf(TokenError);
            expect((error as TokenError).status).to.equal(403);
        });
    });
});

describe("probes/verify-image.js on the registry client", function () {
    this.timeout(20000);
    let basic: Awaited<ReturnType<typeof fakeRegistry>>;
    let bearer: Awaited<ReturnType<typeof fakeRegistry>>;
    let broken: Awaited<ReturnType<typeof fakeRegistry>>;
    before(async () => {
        [basic, bearer, broken] = await Promise.all([fakeRegistry("basic"), fakeRegistry("bearer"), fakeRegistry("token-fails")]);
    });
    after(() => Promise.all([basic.close(), bearer.close(), broken.close()]));
    const creds = { FLEET_REGISTRY_USER: USER, FLEET_REGISTRY_PASSWORD: PASSWORD };

    it("prints the digest and pinned reference; with a parent, the layer count of an index's linux/amd64 image (Basic and Bearer)", async () => {
        for (const reg of [basic, bearer]) {
            const image = `${reg.host}/demo/app:v1`;
            const plain = await verify({ ...creds, FLEET_IMAGE: image, FLEET_EXPECTED_DIGEST: reg.index });
            expect(plain.code, plain.stderr).to.equal(0);
            expect(JSON.parse(plain.stdout)).to.deep.equal({ image, digest: reg.index, pinned: `${reg.host}/demo/app@${reg.index}` });
            const parent = `${reg.host}/demo/base@${reg.base}`;
            const layered = await verify({ ...creds, FLEET_IMAGE: image, FLEET_PARENT_IMAGE: parent });
            expect(layered.code, layered.stderr).to.equal(0);
            expect(JSON.parse(layered.stdout)).to.include({ parent, layers: 3 });
        }
    });

    it("fails naming the image: missing tag, other digest, wrong password, no credentials, a refused token, another parent", async () => {
        const image = `${basic.host}/demo/app:v1`;
        const cases: [Record<string, string>, string][] = [
            [
                { ...creds, FLEET_IMAGE: `${basic.host}/demo/app:gone` },
                `image verification failed: ${basic.host}/demo/app:gone is not in the registry (HTTP 404 for http://${basic.host}/v2/demo/app/manifests/gone): was it pushed?`,
            ],
            [
                { ...creds, FLEET_IMAGE: image, FLEET_EXPECTED_DIGEST: basic.base },
                `${image} in the registry has digest ${basic.index}, but the build produced ${basic.base}: another build overwrote the tag`,
            ],
            [
                { ...creds, FLEET_REGISTRY_PASSWORD: "wrong", FLEET_IMAGE: image },
                `${image}: registry ${basic.host} refused the credentials (HTTP 401)`,
            ],
            [{ FLEET_IMAGE: image }, `${image}: registry ${basic.host} wants credentials and none were given`],
            [
                { ...creds, FLEET_IMAGE: `${broken.host}/demo/app:v1` },
                `${broken.host}/demo/app:v1: token endpoint http://${broken.host}/token answered 403: denied`,
            ],
            [
                { ...creds, FLEET_IMAGE: image, FLEET_PARENT_IMAGE: `${basic.host}/demo/other:v1` },
                `${basic.host}/demo/app@${basic.index} is not built on its parent ${basic.host}/demo/other:v1: its layers do not extend the parent's (layer 1 of 1 differs (parent ${diff(7)}, image ${diff(1)}))`,
            ],
            [
                { ...creds, FLEET_IMAGE: image, FLEET_PARENT_IMAGE: `${basic.host}/demo/base:v1`, FLEET_PLATFORM: "linux/riscv64" },
                `${image}: cannot compare its layers with its parent ${basic.host}/demo/base:v1: ${basic.host}/demo/app has no linux/riscv64 manifest in its index`,
            ],
            [
                { FLEET_IMAGE: "127.0.0.1:1/demo/app:v1" },
                "127.0.0.1:1/demo/app:v1: registry 127.0.0.1:1 not reachable at http://127.0.0.1:1/v2/demo/app/manifests/v1",
            ],
        ];
        for (const [env, message] of cases) {
            const r = await verify(env);
            expect(r.code, `${JSON.stringify(env)}: ${r.stderr}`).to.equal(1);
            expect(r.stderr, JSON.stringify(env)).to.include(message);
            expect(r.stdout).to.equal("");
        }
    });
});
