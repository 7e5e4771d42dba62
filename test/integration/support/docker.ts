/**
 * The real engine and registry: `docker build` / `docker buildx build` from the docker-build Image
 * args the components compute, `docker push`, `docker run` flags from the docker Container args,
 * the registry's HTTP API.
 * Every converter refuses args it does not know, so a new component setting cannot be dropped silently.
 */
import type * as dockerbuild from "@pulumi/docker-build";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { log, must, run, RunResult, shellQuote, tail } from "./proc";
import { resolve } from "./stack";
import { dockerRunFlags } from "../../../components";
import { ContainerSpec } from "../../../common/containerSpec";
import { RegistryClient } from "../../../probes/registry";

/** A `docker build` command line derived from docker-build ImageArgs. */
export interface BuildCommand {
    /** Arguments after the docker binary. */
    argv: string[];
    /** The image's tags (repo:tag). */
    tags: string[];
    /** Build args exactly as given to --build-arg. */
    buildArgs: Record<string, string>;
    /** Labels exactly as given to --label. */
    labels: Record<string, string>;
    /** Registries the build would log in to (address, user, password). */
    registries: { address: string; username: string; password: string }[];
    /** A buildx builder by name (build.builder), or undefined for the Docker host's own builder. */
    builder?: string;
    /** --cache-from / --cache-to values (registry cache only). */
    cacheFrom: string[];
    cacheTo: string[];
    /** docker-build's push: push from the build (a builder that can) or `docker push` after it. */
    push: boolean;
}

/** ImageArgs keys the CLI build expresses; the rest only steer Pulumi (preview) or must be unset here. */
const BUILD_KEYS_USED = new Set([
    "context",
    "dockerfile",
    "platforms",
    "tags",
    "buildArgs",
    "labels",
    "registries",
    "push",
    "builder",
    "cacheFrom",
    "cacheTo",
]);
const BUILD_KEYS_PULUMI_ONLY = new Set(["buildOnPreview"]);

/** `type=registry,ref=…` from docker-build's CacheFrom; other cache backends are not used here. */
function cacheFromFlag(c: { registry?: { ref: string } } & Record<string, unknown>): string {
    const kinds = Object.keys(c).filter((k) => c[k] !== undefined);
    if (kinds.length !== 1 || !c.registry) throw new Error(`cacheFrom ${JSON.stringify(c)}: only a registry cache is supported`);
    return `type=registry,ref=${c.registry.ref}`;
}

/** `type=registry,ref=…,mode=…,image-manifest=…,oci-mediatypes=…` from docker-build's CacheTo. */
function cacheToFlag(
    c: { registry?: { ref: string; mode?: string; imageManifest?: boolean; ociMediaTypes?: boolean } } & Record<string, unknown>,
): string {
    const kinds = Object.keys(c).filter((k) => c[k] !== undefined);
    if (kinds.length !== 1 || !c.registry) throw new Error(`cacheTo ${JSON.stringify(c)}: only a registry cache is supported`);
    const r = c.registry;
    const parts = [`type=registry`, `ref=${r.ref}`];
    if (r.mode !== undefined) parts.push(`mode=${r.mode}`);
    if (r.imageManifest !== undefined) parts.push(`image-manifest=${r.imageManifest}`);
    if (r.ociMediaTypes !== undefined) parts.push(`oci-mediatypes=${r.ociMediaTypes}`);
    return parts.join(",");
}

/** Converts docker-build ImageArgs (as dockerBuildArgs() returns them) into `docker build` arguments. */
export async function buildCommand(args: dockerbuild.ImageArgs): Promise<BuildCommand> {
    for (const [key, value] of Object.entries(args)) {
        if (value === undefined || BUILD_KEYS_USED.has(key) || BUILD_KEYS_PULUMI_ONLY.has(key)) continue;
        throw new Error(
            `docker-build arg ${key} is not known to the integration suite's converter: teach test/integration/support/docker.ts`,
        );
    }
    const context = await resolve(args.context);
    const dockerfile = await resolve(args.dockerfile);
    const tags = (await resolve(args.tags)) ?? [];
    const platforms = (await resolve(args.platforms)) ?? [];
    const buildArgs = ((await resolve(args.buildArgs)) ?? {}) as Record<string, string>;
    const labels = ((await resolve(args.labels)) ?? {}) as Record<string, string>;
    const registries = ((await resolve(args.registries)) ?? []).map((r) => ({
        address: r.address,
        username: String(r.username),
        password: String(r.password),
    }));
    const builder = (await resolve(args.builder))?.name;
    const cacheFrom = ((await resolve(args.cacheFrom)) ?? []).map((c) => cacheFromFlag(c as any));
    const cacheTo = ((await resolve(args.cacheTo)) ?? []).map((c) => cacheToFlag(c as any));
    const push = (await resolve(args.push)) ?? false;
    if (!builder && cacheTo.length > 0) {
        throw new Error(
            `docker-build args export a registry cache (${cacheTo.join(" ")}) without a builder: the Docker host's own BuildKit (dockerd 20.10) cannot`,
        );
    }
    const location = context?.location;
    if (!location) throw new Error("docker-build args have no context.location");
    if (tags.length === 0) throw new Error("docker-build args have no tags");
    const argv = ["build", "--progress=plain"];
    for (const p of platforms) argv.push("--platform", String(p));
    if (dockerfile?.location) argv.push("-f", String(dockerfile.location));
    for (const t of tags) argv.push("-t", t);
    for (const k of Object.keys(buildArgs).sort()) argv.push("--build-arg", `${k}=${buildArgs[k]}`);
    for (const k of Object.keys(labels).sort()) argv.push("--label", `${k}=${labels[k]}`);
    for (const c of cacheFrom) argv.push("--cache-from", c);
    for (const c of cacheTo) argv.push("--cache-to", c);
    argv.push(String(location));
    return { argv, tags, buildArgs, labels, registries, builder, cacheFrom, cacheTo, push };
}

/** What one build did. */
export interface BuildOutcome {
    buildMs: number;
    /** Digest the registry reported for the push (from the build's metadata or `docker push`). */
    digest?: string;
    /** Time of a separate `docker push` (undefined when the build pushed itself). */
    pushMs?: number;
    /** How it was pushed. */
    pushedBy?: "build" | "docker push";
}

/**
 * Builds in the project root the way docker-build would, and pushes when `push` (and the args say so):
 *  - a named builder (build.builder): `docker buildx build --builder <name>`, pushing from the build
 *    (`--push`, digest from `--metadata-file`) as docker-build does, then `docker pull` so the
 *    image is in the engine for inspection; without push, `--load`;
 *  - no builder: `DOCKER_BUILDKIT=1 <cli> build` on the Docker host's own BuildKit, then `docker push`
 *    (dockerd 20.10's BuildKit cannot push from a build).
 * Rejects with the log's tail.
 */
export async function buildImage(cli: string, cmd: BuildCommand, dockerConfig: string, push: boolean): Promise<BuildOutcome> {
    const env = { ...process.env, DOCKER_BUILDKIT: "1", DOCKER_CONFIG: dockerConfig };
    const doPush = push && cmd.push;
    let file = cli;
    let argv = cmd.argv;
    let metadata: string | undefined;
    if (cmd.builder) {
        file = "docker";
        metadata = path.join(dockerConfig, `metadata-${Date.now()}-${Math.random().toString(36).slice(2)}.json`);
        argv = [
            "buildx",
            "build",
            "--builder",
            cmd.builder,
            ...(doPush ? ["--push", "--metadata-file", metadata] : ["--load"]),
            ...cmd.argv.slice(1),
        ];
    }
    log(`$ DOCKER_BUILDKIT=1 ${file} ${argv.map(shellQuote).join(" ")}`);
    const r = await run(file, argv, { env, timeoutMs: 540000 });
    if (r.code !== 0) {
        throw new Error(`build of ${cmd.tags[0]} failed (exit ${r.code}):\n${tail(r.stderr + r.stdout, 40)}`);
    }
    if (!doPush) {
        return { buildMs: r.ms };
    }
    if (metadata) {
        const meta = JSON.parse(fs.readFileSync(metadata, "utf8")) as Record<string, unknown>;
        const digest = meta["containerimage.digest"];
        if (typeof digest !== "string" || !/^sha256:[a-f0-9]{64}$/.test(digest)) {
            throw new Error(
                `build of ${cmd.tags[0]} pushed, but its metadata has no containerimage.digest: ${JSON.stringify(meta).slice(0, 400)}`,
            );
        }
        const pull = await run("docker", ["pull", cmd.tags[0]], { env, timeoutMs: 300000 });
        if (pull.code !== 0) {
            throw new Error(`docker pull ${cmd.tags[0]} after the build pushed it failed:\n${tail(pull.stderr + pull.stdout, 20)}`);
        }
        return { buildMs: r.ms, digest, pushedBy: "build" };
    }
    const p = await dockerPush(cmd.tags[0], dockerConfig);
    return { buildMs: r.ms, digest: p.digest, pushMs: p.ms, pushedBy: "docker push" };
}

/** `docker push`; returns the digest the registry reported (`…: digest: sha256:… size: N`). */
export async function dockerPush(ref: string, dockerConfig: string): Promise<{ digest: string; ms: number }> {
    const r = await run("docker", ["push", ref], { env: { ...process.env, DOCKER_CONFIG: dockerConfig }, timeoutMs: 300000 });
    if (r.code !== 0) {
        throw new Error(`docker push ${ref} failed (exit ${r.code}):\n${tail(r.stderr + r.stdout, 20)}`);
    }
    const m = /digest: (sha256:[a-f0-9]{64})/.exec(r.stdout);
    if (!m) throw new Error(`docker push ${ref} printed no digest:\n${tail(r.stdout, 10)}`);
    return { digest: m[1], ms: r.ms };
}

/**
 * A fresh DOCKER_CONFIG (no credentials) that still finds this machine's CLI plugins (buildx) and
 * buildx builder definitions: the CLI looks for both under DOCKER_CONFIG only. The copied buildx
 * state has no current-builder choice, so a plain build uses the Docker host's own builder.
 */
export function freshDockerConfig(dir: string): string {
    const home = process.env.DOCKER_CONFIG || path.join(os.homedir(), ".docker");
    const plugins = path.join(home, "cli-plugins");
    if (fs.existsSync(plugins)) {
        fs.symlinkSync(plugins, path.join(dir, "cli-plugins"));
    }
    const buildx = path.join(home, "buildx");
    if (fs.existsSync(path.join(buildx, "instances"))) {
        fs.cpSync(path.join(buildx, "instances"), path.join(dir, "buildx", "instances"), { recursive: true });
    }
    return dir;
}

/** `docker login` into a config dir with the password on stdin. */
export async function dockerLogin(dockerConfig: string, registry: string, username: string, password: string): Promise<RunResult> {
    return run("docker", ["login", "--username", username, "--password-stdin", registry], {
        env: { ...process.env, DOCKER_CONFIG: dockerConfig },
        input: password,
    });
}

/** `docker image inspect` as JSON. */
export async function inspectImage(ref: string): Promise<{
    Id: string;
    Size: number;
    RepoDigests: string[];
    Config: { Labels: Record<string, string> | null; Env: string[] | null; User: string };
    RootFS: { Layers: string[] };
}> {
    const r = await must("docker", ["image", "inspect", ref]);
    return JSON.parse(r.stdout)[0];
}

/** `docker container inspect` as JSON. */
export async function inspectContainer(name: string): Promise<any> {
    const r = await must("docker", ["container", "inspect", name]);
    return JSON.parse(r.stdout)[0];
}

/** Reads a file from an image without running its entrypoint. */
export async function catFromImage(ref: string, file: string): Promise<string> {
    const r = await must("docker", [
        "run",
        "--rm",
        "--network",
        "none",
        "--label",
        "ai-fleet.test=integration",
        "--entrypoint",
        "cat",
        ref,
        file,
    ]);
    return r.stdout;
}

/** The digest the registry serves for repo:reference (HEAD), or undefined when it has none (probes/registry.js). */
export function manifestDigest(
    registry: string,
    repo: string,
    reference: string,
    username: string,
    password: string,
): Promise<string | undefined> {
    return new RegistryClient({ host: registry, insecure: true, user: username, password, timeoutS: 10 })
        .manifestDigest(repo, reference)
        .catch(() => undefined);
}

/** Deletes a manifest from the registry by digest (HTTP DELETE; the local registry allows it): the status, 0 when unreachable. */
export function deleteManifest(registry: string, repo: string, digest: string, username: string, password: string): Promise<number> {
    return new RegistryClient({ host: registry, insecure: true, user: username, password, timeoutS: 10 })
        .deleteManifest(repo, digest)
        .catch(() => 0);
}

/** How a test runs a container from Container args. */
export interface RunAs {
    /** Container name (the stack's own name would clash with a live local stack). */
    name: string;
    /** Host port of the stack → the test's host port. */
    hostPorts: Map<number, number>;
    /** Extra labels (the suite's, for cleanup). */
    labels: Record<string, string>;
}

/**
 * `docker run -d` flags for a container spec, through the program's own cli adapter
 * (components/containerAdapters.ts). Host ports are remapped through `as.hostPorts`, the name is
 * replaced, labels are added.
 */
export function runFlags(spec: ContainerSpec, as: RunAs): string[] {
    const ports = spec.ports.map((p) => {
        const host = as.hostPorts.get(p.host);
        if (host === undefined) throw new Error(`no test host port for the stack's host port ${p.host}`);
        return { ...p, host };
    });
    if ((spec.gpuDevices ?? []).length > 0) throw new Error("the container spec requests GPU devices; this engine has no GPU");
    const labels = Object.entries(as.labels).flatMap(([label, value]) => ["--label", `${label}=${value}`]);
    return ["--name", as.name, ...dockerRunFlags({ ...spec, ports }, "passed"), ...labels];
}

/** Force-removes the containers carrying a label; returns how many there were. */
export async function removeContainersLabelled(label: string): Promise<number> {
    const r = await run("docker", ["ps", "-aq", "--filter", `label=${label}`]);
    const ids = r.stdout
        .split("\n")
        .map((s) => s.trim())
        .filter(Boolean);
    if (ids.length > 0) {
        await run("docker", ["rm", "-f", ...ids]);
    }
    return ids.length;
}
