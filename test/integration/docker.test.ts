/**
 * The program's pieces against the REAL local Docker engine (20.10) and registry (127.0.0.1:5000,
 * htpasswd), no mocks: `bash scripts/setup.sh` brings them up (idempotent; `npm test` runs it first).
 *
 *  1. builds: the demo family chain and six services with the build args and labels the
 *     components compute (dockerBuildArgs) for the local profile, FROM their parent by digest,
 *     pushed; one service with the mainpc profile's args. On the stack's builder when it names one
 *     (build.builder: pushed from the build, registry cache in the suite's own `it-cache`
 *     repository), else on the Docker host's own BuildKit ($AI_FLEET_DOCKER_BUILD) + `docker push`
 *  2. verification: probes/verify-image.js exactly as FleetService runs it
 *  3. hardening: a service container run with the cli adapter's flags (dockerRunFlags of its ContainerSpec)
 *  4. health: probes/health-probe.js exactly as FleetService runs it, against demo containers
 *  5. registry auth: a push without credentials is refused, with the program's it is accepted
 *
 * Everything it starts carries the label ai-fleet.test.run=<run> and is removed in `after`, with
 * the images, registry tags and cache tags it pushed (AI_FLEET_IT_KEEP=1 keeps them). Host ports are 19xxx,
 * container names ai-fleet-it-*, so it runs beside a live local stack.
 */
import { expect } from "chai";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { familyBuildPaths, familyOrder, FleetConfig, healthHost, repositoryName, serviceBuildPaths } from "../../config";
import { BuildRequest, BuildSettings, dockerBuildArgs, pinnedRef } from "../../components/buildSpec";
import { healthCheckCommand, HealthBounds, healthUrl, parseHealthReport } from "../../components";
import { parseVerification, verificationCommand } from "../../components";
import { ContainerSpec } from "../../common/containerSpec";
import { containerSpecFor } from "../../deploy";
import { imageRepository } from "../../naming";
import { profileBuildArgs, profileRuntimeEnv } from "../../profiles/schema";
import {
    BuildCommand,
    buildCommand,
    catFromImage,
    buildImage,
    deleteManifest,
    dockerLogin,
    dockerPush,
    freshDockerConfig,
    inspectContainer,
    inspectImage,
    manifestDigest,
    removeContainersLabelled,
    runFlags,
} from "./support/docker";
import { freePorts, httpGet, log, must, run, runComponentCommand, RunResult, waitFor } from "./support/proc";
import { loadStack, localEnv, resolve, sourceCommit } from "./support/stack";
import { ensureSetup } from "./support/engine";

/** One image this suite built. */
interface Built {
    name: string;
    kind: "family" | "service";
    machine: string;
    repository: string;
    /** repo:tag */
    ref: string;
    /** What the build got. */
    cmd: BuildCommand;
    /** Registry digest the push reported (build metadata or `docker push`; undefined when not pushed). */
    digest?: string;
    /** repo@digest */
    pinned?: string;
    /** BASE_IMAGE it was built FROM. */
    base: string;
    buildMs: number;
    /** Time of a separate `docker push`; undefined when the build pushed itself. */
    pushMs?: number;
    pushedBy?: "build" | "docker push";
    sizeBytes: number;
}

const STAMP = new Date().toISOString().replace(/[-:T]/g, "").slice(0, 14);
const RUN_ID = `it-${STAMP}-${process.pid}`;
const RUN_LABEL = "ai-fleet.test.run";
const SUITE_LABELS = { "ai-fleet.test": "integration", [RUN_LABEL]: RUN_ID };
const KEEP = process.env.AI_FLEET_IT_KEEP === "1";
const CANARY_SERVICE = "ModelOpsCoordinator";

/** Every test container's name: ai-fleet-it-<pid>-<what>. */
function containerName(what: string): string {
    return `ai-fleet-it-${process.pid}-${what}`;
}

/** Logs the last stderr line of a command that was meant to fail (what an operator would read). */
function said(what: string, r: RunResult): void {
    log(`  ${what}: exit ${r.code}: ${r.stderr.trim().split("\n").pop() ?? ""}`);
}

/** Exit code, stdout and stderr of a child, for assertion messages. */
function show(r: RunResult): string {
    return `\n$ ${r.cmd}\nexit ${r.code} after ${r.ms} ms\n--- stdout\n${r.stdout.trim()}\n--- stderr\n${r.stderr.trim()}\n`;
}

/** A service's settings for a container run on its own: its dependencies are not running here, so it is not told of them. */
function alone(cs: ContainerSpec): ContainerSpec {
    const env = { ...cs.env };
    delete env.FLEET_DEPENDENCIES;
    return { ...cs, env };
}

describe("integration: the real Docker engine and registry (local stack)", function () {
    this.timeout(600000);

    let env: Record<string, string>;
    let cfg: FleetConfig;
    let mainpc: FleetConfig;
    let settings: BuildSettings;
    let registryPassword: string;
    let buildCli: string;
    /** DOCKER_CONFIG logged in with the program's registry credentials (builds, pushes). */
    let dockerConfig: string;
    const tempDirs: string[] = [];
    const built = new Map<string, Built>();
    /** Local tags to remove; registry manifests (repo, digest) to delete. */
    const localTags = new Set<string>();
    const pushed: { repo: string; digest: string }[] = [];
    const loggedIn = new Set<string>();
    /** Registry cache tags the builds exported (repo path, tag). */
    const cacheTags: { repo: string; tag: string }[] = [];

    function tempDir(prefix: string): string {
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
        tempDirs.push(dir);
        return dir;
    }

    /** A DOCKER_CONFIG without credentials that still has the CLI plugins (buildx). */
    function tempDockerConfig(prefix: string): string {
        return freshDockerConfig(tempDir(prefix));
    }

    function need(name: string): Built & { digest: string; pinned: string } {
        const b = built.get(name);
        if (!b || !b.digest || !b.pinned) {
            throw new Error(`image ${name} was not built and pushed: the build case (1) failed before it`);
        }
        return b as Built & { digest: string; pinned: string };
    }

    /** Path under the registry host: what the registry API calls the repository. */
    function registryPath(repository: string): string {
        return repository.slice(repository.indexOf("/") + 1);
    }

    before(async function () {
        this.timeout(600000);
        log(`run ${RUN_ID}: the one-time set-up (scripts/setup.sh)`);
        ensureSetup(this);
        env = await localEnv();
        buildCli = env.AI_FLEET_DOCKER_BUILD;
        cfg = loadStack("local");
        mainpc = loadStack("mainpc");
        const reg = cfg.stack.registry;
        const fromEnv = reg.passwordEnv ? (env[reg.passwordEnv] ?? process.env[reg.passwordEnv]) : undefined;
        if (!fromEnv) {
            throw new Error(
                `the local stack reads its registry password from ${reg.passwordEnv}, which scripts/local/env.sh did not export`,
            );
        }
        registryPassword = fromEnv;
        const commit = await sourceCommit();
        settings = {
            machine: cfg.profile.machine,
            profileBuildArgs: profileBuildArgs(cfg.profile),
            tag: RUN_ID,
            revision: commit.sha,
            created: commit.created,
            sourceUrl: cfg.stack.build.sourceUrl,
            contextRoot: cfg.stack.build.contextRoot,
            platform: cfg.stack.build.platform,
            // The stack's cache mode, in a repository of the suite's own: the live stack's cache tags
            // (<cache>:<machine>-<name>) are left alone, and the suite's are deleted afterwards.
            cache: cfg.stack.build.cache ? { ...cfg.stack.build.cache, ref: `${reg.host}/${reg.org}/it-cache` } : undefined,
            buildOnPreview: cfg.stack.build.buildOnPreview,
            builder: cfg.stack.build.builder,
            registry: { host: reg.host, username: reg.username, password: registryPassword },
        };
        dockerConfig = tempDockerConfig("ai-fleet-it-docker-");
        log(
            `engine and registry up; tag ${RUN_ID}; builder ${settings.builder ?? `the Docker host's own (${buildCli} build)`}; ` +
                `cache ${settings.cache ? `${settings.cache.ref} mode=${settings.cache.mode}` : "none"}; DOCKER_CONFIG ${dockerConfig}`,
        );
    });

    after(async function () {
        this.timeout(180000);
        const rows = [...built.values()];
        if (rows.length > 0) {
            log("images built (size, build time, push):");
            for (const b of rows) {
                const push =
                    b.pushedBy === "build"
                        ? "pushed by the build"
                        : b.pushMs !== undefined
                          ? `docker push ${(b.pushMs / 1000).toFixed(1)} s`
                          : "not pushed";
                log(
                    `  ${(b.machine + "/" + b.name).padEnd(36)} ${(b.sizeBytes / 1e6).toFixed(1).padStart(7)} MB ` +
                        `build ${(b.buildMs / 1000).toFixed(1).padStart(6)} s  ${push.padEnd(20)} ${b.pinned ?? b.ref}`,
                );
            }
        }
        const gone = await removeContainersLabelled(`${RUN_LABEL}=${RUN_ID}`);
        log(`cleanup: removed ${gone} container(s) labelled ${RUN_LABEL}=${RUN_ID}`);
        if (KEEP) {
            log("cleanup: AI_FLEET_IT_KEEP=1, images and registry tags kept");
        } else {
            for (const p of pushed) {
                const status = await deleteManifest(
                    cfg.stack.registry.host,
                    p.repo,
                    p.digest,
                    cfg.stack.registry.username,
                    registryPassword,
                );
                if (status !== 202 && status !== 404) log(`cleanup: DELETE ${p.repo}@${p.digest} answered ${status}`);
            }
            let caches = 0;
            for (const c of cacheTags) {
                const digest = await manifestDigest(cfg.stack.registry.host, c.repo, c.tag, cfg.stack.registry.username, registryPassword);
                if (
                    digest &&
                    (await deleteManifest(cfg.stack.registry.host, c.repo, digest, cfg.stack.registry.username, registryPassword)) === 202
                )
                    caches += 1;
            }
            if (localTags.size > 0) {
                await run("docker", ["rmi", ...localTags]);
            }
            log(
                `cleanup: deleted ${pushed.length} registry manifest(s) and ${caches} cache tag(s), untagged ${localTags.size} local image(s)`,
            );
        }
        for (const d of tempDirs) fs.rmSync(d, { recursive: true, force: true });
    });

    /** Builds one image from the components' own args; pushes it unless told not to. */
    async function buildOne(req: BuildRequest, s: BuildSettings, opts: { push: boolean }): Promise<Built> {
        const args = dockerBuildArgs(s, req);
        const cmd = await buildCommand(args);
        const ref = cmd.tags[0];
        localTags.add(ref);
        // The build's own registry credentials (docker-build's `registries`), logged in once.
        for (const r of cmd.registries) {
            if (loggedIn.has(r.address)) continue;
            const login = await dockerLogin(dockerConfig, r.address, r.username, r.password);
            if (login.code !== 0) {
                throw new Error(`docker login ${r.address} as ${r.username} (the build's registry credentials) failed${show(login)}`);
            }
            loggedIn.add(r.address);
            log(`logged in to ${r.address} as ${r.username} (DOCKER_CONFIG ${dockerConfig})`);
        }
        for (const c of cmd.cacheTo) {
            const m = /ref=([^,]+)/.exec(c) as RegExpExecArray;
            const at = m[1].lastIndexOf(":");
            cacheTags.push({ repo: registryPath(m[1].slice(0, at)), tag: m[1].slice(at + 1) });
        }
        log(`building ${req.kind} ${req.name} for ${s.machine} FROM ${cmd.buildArgs.BASE_IMAGE} → ${ref}`);
        const b = await buildImage(buildCli, cmd, dockerConfig, opts.push);
        const entry: Built = {
            name: req.name,
            kind: req.kind,
            machine: s.machine,
            repository: req.repository,
            ref,
            cmd,
            base: cmd.buildArgs.BASE_IMAGE,
            buildMs: b.buildMs,
            pushMs: b.pushMs,
            pushedBy: b.pushedBy,
            sizeBytes: (await inspectImage(ref)).Size,
        };
        if (opts.push) {
            expect(b.digest, `${ref}: the push reported no digest`).to.match(/^sha256:[a-f0-9]{64}$/);
            entry.digest = b.digest;
            entry.pinned = await resolve(pinnedRef(req.repository, b.digest as string));
            pushed.push({ repo: registryPath(req.repository), digest: b.digest as string });
        }
        log(
            `  built ${req.name} in ${(b.buildMs / 1000).toFixed(1)} s, ${(entry.sizeBytes / 1e6).toFixed(1)} MB${entry.pinned ? `, pushed (${b.pushedBy}) ${entry.pinned}` : ""}`,
        );
        built.set(`${s.machine}/${req.name}`, entry);
        return entry;
    }

    /** Labels and build-info of a built image against what the build was given. */
    async function expectBuiltAsAsked(b: Built): Promise<Record<string, unknown>> {
        const image = await inspectImage(b.ref);
        const labels = image.Config.Labels ?? {};
        for (const [k, v] of Object.entries(b.cmd.labels)) {
            expect(labels[k], `${b.ref}: label ${k} (docker inspect labels: ${JSON.stringify(labels)})`).to.equal(v);
        }
        expect(labels["ai-fleet.machine"], `${b.ref}: ai-fleet.machine label`).to.equal(b.machine);
        expect(labels["org.opencontainers.image.version"], `${b.ref}: version label`).to.equal(settings.tag);
        if (b.kind === "service") {
            const info = JSON.parse(await catFromImage(b.ref, "/app/build-info.json")) as Record<string, unknown>;
            expect(info.machine, `${b.ref}: /app/build-info.json machine (${JSON.stringify(info)})`).to.equal(b.cmd.buildArgs.MACHINE);
            expect(info.torch_cuda_arch_list, `${b.ref}: /app/build-info.json torch_cuda_arch_list`).to.equal(
                b.cmd.buildArgs.TORCH_CUDA_ARCH_LIST,
            );
            expect(info.base_image, `${b.ref}: /app/build-info.json base_image`).to.equal(b.base);
            expect(info.service, `${b.ref}: /app/build-info.json service`).to.equal(b.name);
            return info;
        }
        return {};
    }

    /**
     * Asserts that `child` was built on top of `parent`: its layers start with the parent's (a
     * family such as family-web that only sets ENV/LABEL adds none; a service adds its /app).
     */
    async function expectLayeredOn(child: string, parent: string, addsLayers: boolean): Promise<void> {
        const [c, p] = await Promise.all([inspectImage(child), inspectImage(parent)]);
        expect(
            c.RootFS.Layers.slice(0, p.RootFS.Layers.length),
            `${child} is not built on ${parent}: its layers do not start with the parent's`,
        ).to.deep.equal(p.RootFS.Layers);
        if (addsLayers) {
            expect(c.RootFS.Layers.length, `${child} adds no layer on ${parent}`).to.be.greaterThan(p.RootFS.Layers.length);
        }
    }

    describe("1. builds with the components' build args", function () {
        it("builds the family chain (base-python → family-web by digest) for the local profile and pushes each family before its child", async function () {
            const stack = cfg.stack;
            const order = familyOrder(stack.families);
            expect(order, "family build order").to.deep.equal(["base-python", "family-web"]);
            for (const name of order) {
                const fam = stack.families[name];
                const parent = fam.parent !== undefined ? need(`local/${fam.parent}`).pinned : (fam.baseImage as string);
                const b = await buildOne(
                    {
                        name,
                        kind: "family",
                        repository: imageRepository(stack.registry, cfg.profile.machine, name),
                        ...familyBuildPaths(name, fam),
                        baseImage: parent,
                        buildArgs: fam.buildArgs,
                    },
                    settings,
                    { push: true },
                );
                expect(b.cmd.buildArgs, `${name}: build args`).to.deep.equal({
                    ...fam.buildArgs,
                    MACHINE: "local",
                    TORCH_CUDA_ARCH_LIST: cfg.profile.env.TORCH_CUDA_ARCH_LIST,
                    BASE_IMAGE: parent,
                });
                if (fam.parent !== undefined) {
                    expect(parent, `${name}: BASE_IMAGE is its parent by digest`).to.match(/@sha256:[a-f0-9]{64}$/);
                }
                await expectBuiltAsAsked(b);
                await expectLayeredOn(b.ref, parent, fam.parent === undefined);
            }
            const web = await inspectImage(need("local/family-web").ref);
            expect(web.Config.Labels?.["ai-fleet.family"], "family-web's own label").to.equal("family-web");
            expect(web.Config.Env ?? [], "family-web's ENV").to.include("PORT=8000");
        });

        it("builds the six services FROM their family by digest with MACHINE=local and the profile's TORCH_CUDA_ARCH_LIST, and pushes them", async function () {
            const stack = cfg.stack;
            const names = Object.keys(stack.services).sort();
            expect(names, "demo services in Pulumi.local.yaml").to.have.length(6);
            for (const name of names) {
                const svc = stack.services[name];
                const family = need(`local/${svc.family}`);
                const b = await buildOne(
                    {
                        name,
                        kind: "service",
                        repository: imageRepository(stack.registry, cfg.profile.machine, repositoryName(name, svc)),
                        ...serviceBuildPaths(name, svc),
                        baseImage: family.pinned,
                        buildArgs: svc.buildArgs,
                    },
                    settings,
                    { push: true },
                );
                expect(b.cmd.buildArgs.BASE_IMAGE, `${name}: BASE_IMAGE is ${svc.family} by digest`).to.equal(family.pinned);
                const info = await expectBuiltAsAsked(b);
                expect(info.machine, `${name}: MACHINE in /app/build-info.json`).to.equal("local");
                expect(info.torch_cuda_arch_list, `${name}: TORCH_CUDA_ARCH_LIST in /app/build-info.json`).to.equal(
                    cfg.profile.env.TORCH_CUDA_ARCH_LIST,
                );
                await expectLayeredOn(b.ref, family.ref, true);
            }
        });

        it("builds a service with the mainpc profile's args: MACHINE=mainpc and TORCH_CUDA_ARCH_LIST=8.9 reach the build", async function () {
            const name = CANARY_SERVICE;
            const svc = cfg.stack.services[name];
            const family = need(`local/${svc.family}`);
            const s: BuildSettings = { ...settings, machine: mainpc.profile.machine, profileBuildArgs: profileBuildArgs(mainpc.profile) };
            const b = await buildOne(
                {
                    name,
                    kind: "service",
                    repository: imageRepository(cfg.stack.registry, mainpc.profile.machine, repositoryName(name, svc)),
                    ...serviceBuildPaths(name, svc),
                    baseImage: family.pinned,
                    buildArgs: svc.buildArgs,
                },
                s,
                { push: false },
            );
            expect(b.cmd.buildArgs.MACHINE, "mainpc build arg MACHINE").to.equal("mainpc");
            expect(b.cmd.buildArgs.TORCH_CUDA_ARCH_LIST, "mainpc build arg TORCH_CUDA_ARCH_LIST").to.equal("8.9");
            const info = await expectBuiltAsAsked(b);
            expect(info.machine, "MACHINE in the mainpc image's /app/build-info.json").to.equal("mainpc");
            expect(info.torch_cuda_arch_list, "TORCH_CUDA_ARCH_LIST in the mainpc image's /app/build-info.json").to.equal("8.9");
            expect(b.ref, "the machine is part of the repository path").to.contain("/mainpc/");
        });
    });

    describe("2. image verification (probes/verify-image.js as FleetService runs it)", function () {
        const creds = () => ({ username: cfg.stack.registry.username, password: registryPassword, insecure: cfg.stack.registry.insecure });

        it("finds every pushed image by tag with the digest its push reported, and by its pinned reference", async function () {
            const images = [...built.values()].filter((b) => b.digest);
            expect(images.length, "pushed images (case 1): 2 families, 6 services").to.equal(8);
            for (const b of images) {
                const byTag = await runComponentCommand(verificationCommand({ image: b.ref, expectedDigest: b.digest, registry: creds() }));
                expect(byTag.code, `verification of ${b.ref}${show(byTag)}`).to.equal(0);
                const v = parseVerification(byTag.stdout, b.name);
                expect(v.digest, `${b.ref}: digest the registry serves vs the push (${b.pushedBy})`).to.equal(b.digest);
                expect(v.pinned, `${b.ref}: pinned`).to.equal(b.pinned);
                const repoDigests = (await inspectImage(b.ref)).RepoDigests;
                expect(repoDigests, `${b.ref}: the engine's RepoDigests`).to.include(b.pinned);

                const byDigest = await runComponentCommand(verificationCommand({ image: b.pinned as string, registry: creds() }));
                expect(byDigest.code, `verification of ${b.pinned}${show(byDigest)}`).to.equal(0);
                expect(parseVerification(byDigest.stdout, b.name).digest, `${b.pinned}: digest`).to.equal(b.digest);
            }
        });

        it("fails (exit 1) for a tag that does not exist, naming the image", async function () {
            const image = `${need("local/base-python").repository}:it-missing-${process.pid}`;
            const r = await runComponentCommand(verificationCommand({ image, registry: creds() }));
            expect(r.code, `missing tag must fail${show(r)}`).to.equal(1);
            said("missing tag", r);
            expect(r.stderr, `stderr names the image${show(r)}`).to.contain(image);
            expect(r.stderr, `stderr says it is not in the registry${show(r)}`).to.contain("is not in the registry");
            expect(r.stdout.trim(), "no result on stdout").to.equal("");
        });

        it("fails (exit 1) when the registry serves another digest than the build produced, naming both", async function () {
            const bp = need("local/base-python");
            const other = need("local/family-web").digest;
            const r = await runComponentCommand(verificationCommand({ image: bp.ref, expectedDigest: other, registry: creds() }));
            expect(r.code, `wrong expected digest must fail${show(r)}`).to.equal(1);
            said("wrong expected digest", r);
            expect(r.stderr, `stderr names the registry's digest${show(r)}`).to.contain(bp.digest);
            expect(r.stderr, `stderr names the expected digest${show(r)}`).to.contain(other);
            expect(r.stderr, `stderr names the image${show(r)}`).to.contain(bp.ref);
        });

        it("fails (exit 1) with a wrong password, saying the credentials were refused", async function () {
            const bp = need("local/base-python");
            const r = await runComponentCommand(
                verificationCommand({ image: bp.ref, expectedDigest: bp.digest, registry: { ...creds(), password: "not-the-password" } }),
            );
            expect(r.code, `wrong password must fail${show(r)}`).to.equal(1);
            said("wrong password", r);
            expect(r.stderr, `stderr says credentials were refused${show(r)}`).to.match(/refused the credentials/);
            expect(r.stderr, `stderr names the image${show(r)}`).to.contain(bp.ref);
        });
    });

    describe(`3. container hardening (${CANARY_SERVICE}, flags from dockerRunFlags(containerSpecFor(cfg, "${CANARY_SERVICE}")))`, function () {
        const name = containerName("hardened");
        let cs: ReturnType<typeof containerSpecFor>;
        let servicePort = 0;
        let healthPort = 0;

        before(async function () {
            const image = need(`local/${CANARY_SERVICE}`).pinned;
            cs = alone(containerSpecFor(cfg, CANARY_SERVICE));
            const test = await freePorts(cs.ports.length);
            const hostPorts = new Map(cs.ports.map((p, i) => [p.host, test[i]] as [number, number]));
            const testPortOf = (containerPort: number): number => {
                const m = cs.ports.find((p) => p.container === containerPort);
                if (!m) throw new Error(`container port ${containerPort} is not published`);
                return hostPorts.get(m.host) as number;
            };
            // The service's main port (svc.port on the machine) and its HTTP health port, as the stack maps them.
            servicePort = hostPorts.get(cfg.stack.services[CANARY_SERVICE].port) as number;
            expect(servicePort, `${CANARY_SERVICE}'s port ${cfg.stack.services[CANARY_SERVICE].port} is published`).to.be.a("number");
            healthPort = testPortOf(cs.health.containerPort);
            const flags = runFlags(cs, { name, hostPorts, labels: SUITE_LABELS });
            await run("docker", ["rm", "-f", name]);
            log(`running ${name} from ${image}: docker run -d ${flags.join(" ")}`);
            await must("docker", ["run", "-d", ...flags, image]);
            await waitFor(
                `${name} answers on its service port ${servicePort}`,
                30000,
                async () => (await httpGet(`http://127.0.0.1:${servicePort}/`)).status === 200,
            );
        });

        it("is created with the hardening settings (inspect: user, init, read-only root, tmpfs, caps, no-new-privileges, restart, logs, healthcheck)", async function () {
            const c = await inspectContainer(name);
            const hc = c.HostConfig;
            expect(c.Config.User, "user").to.equal(cs.hardening.user);
            expect(hc.Init, "init").to.equal(true);
            expect(hc.ReadonlyRootfs, "read-only root").to.equal(true);
            expect(hc.Tmpfs, "tmpfs").to.deep.equal({ "/tmp": "rw,noexec,nosuid,size=64m" });
            expect(hc.CapDrop, "capabilities dropped").to.deep.equal(["ALL"]);
            expect(hc.SecurityOpt, "security opts").to.include("no-new-privileges:true");
            expect(hc.RestartPolicy.Name, "restart policy").to.equal("unless-stopped");
            expect(hc.LogConfig, "log config").to.deep.equal({ Type: "json-file", Config: { "max-size": "10m", "max-file": "3" } });
            expect(c.Config.Healthcheck.Interval, "healthcheck interval 15s").to.equal(15e9);
            expect(c.Config.Labels["ai-fleet.service"], "service label").to.equal(CANARY_SERVICE);
            expect(c.Config.Labels, "no label names the rollout group (a move between groups must change nothing)").to.not.have.property(
                "ai-fleet.rollout",
            );
            for (const p of cs.ports) {
                expect(Object.keys(c.NetworkSettings.Ports ?? {}), "published container ports").to.include(`${p.container}/tcp`);
            }
        });

        it("runs as uid/gid 10001:10001", async function () {
            const u = await must("docker", ["exec", name, "id", "-u"]);
            const g = await must("docker", ["exec", name, "id", "-g"]);
            expect(`${u.stdout.trim()}:${g.stdout.trim()}`, "id -u:id -g in the container").to.equal("10001:10001");
            const status = (await must("docker", ["exec", name, "cat", "/proc/1/status"])).stdout;
            expect(status, "PID 1's Uid line").to.match(/^Uid:\s+10001\s+10001\s+10001\s+10001$/m);
            expect(status, "PID 1's Gid line").to.match(/^Gid:\s+10001\s+10001\s+10001\s+10001$/m);
            expect(status, "PID 1 has no effective capabilities").to.match(/^CapEff:\s+0000000000000000$/m);
            expect(status, "PID 1 has no-new-privileges").to.match(/^NoNewPrivs:\s+1$/m);
        });

        it("has tini (docker-init) as PID 1 with the service under it", async function () {
            const argv = (await must("docker", ["exec", name, "cat", "/proc/1/cmdline"])).stdout.split("\0").filter(Boolean);
            expect(path.basename(argv[0] ?? ""), `PID 1 is ${JSON.stringify(argv)}`).to.match(/^(docker-init|tini)$/);
            expect(argv.join(" "), "PID 1 runs the service").to.contain("python3 /app/service.py");
        });

        it("cannot write to / but can write to /tmp", async function () {
            const root = await run("docker", ["exec", name, "sh", "-c", "echo x > /it-write-probe"]);
            expect(root.code, `writing to / must fail${show(root)}`).to.not.equal(0);
            expect(root.stderr, `writing to / fails because the root is read-only${show(root)}`).to.match(/Read-only file system/);
            const tmp = await run("docker", ["exec", name, "sh", "-c", "echo x > /tmp/it-write-probe && cat /tmp/it-write-probe"]);
            expect(tmp.code, `writing to /tmp must work${show(tmp)}`).to.equal(0);
            expect(tmp.stdout.trim()).to.equal("x");
        });

        it("GET /profile shows the local profile's values (OMP_NUM_THREADS=2, UVICORN_WORKERS=2, MEMORY_FRACTION=0.50, MACHINE=local)", async function () {
            const r = await httpGet(`http://127.0.0.1:${servicePort}/profile`);
            expect(r.status, `GET /profile: ${r.body}`).to.equal(200);
            const profile = JSON.parse(r.body) as {
                env: Record<string, string | null>;
                uid: number;
                gid: number;
                build: Record<string, unknown>;
            };
            expect(profile.env.OMP_NUM_THREADS, "OMP_NUM_THREADS").to.equal("2");
            expect(profile.env.UVICORN_WORKERS, "UVICORN_WORKERS").to.equal("2");
            expect(profile.env.MEMORY_FRACTION, "MEMORY_FRACTION").to.equal("0.50");
            expect(profile.env.MACHINE, "MACHINE").to.equal("local");
            const want = profileRuntimeEnv(cfg.profile) as Record<string, string>;
            for (const [k, v] of Object.entries(profile.env)) {
                expect(v, `/profile env ${k} vs profiles/local.json`).to.equal(want[k]);
            }
            expect([profile.uid, profile.gid], "uid/gid the service sees").to.deep.equal([10001, 10001]);
            expect(profile.build.machine, "build info through /profile").to.equal("local");
            const health = await httpGet(`http://127.0.0.1:${healthPort}/health`);
            expect(JSON.parse(health.body).status, `GET /health on the health port: ${health.body}`).to.equal("ok");
        });

        it("becomes healthy by its Docker healthcheck", async function () {
            this.timeout(120000);
            let last = "";
            const ms = await waitFor(
                `${name} healthy`,
                100000,
                async () => {
                    const state = (await inspectContainer(name)).State;
                    last = JSON.stringify(state.Health);
                    if (state.Health?.Status === "unhealthy") {
                        throw new Error(`container became unhealthy: ${last}`);
                    }
                    return state.Health?.Status === "healthy";
                },
                1000,
            ).catch((e: Error) => {
                throw new Error(`${e.message}; health: ${last}`);
            });
            log(`  ${name} healthy after ${(ms / 1000).toFixed(1)} s of waiting`);
        });
    });

    describe("4. the health check command (probes/health-probe.js) against demo containers", function () {
        const service = CANARY_SERVICE;
        // Container ports as the stack maps them: the HTTP health endpoint and the service's main port.
        let HEALTH_CONTAINER_PORT: number;
        let SERVICE_CONTAINER_PORT: number;
        let host: string;
        const containers: Record<string, { name: string; health: number; service: number }> = {};

        /** Starts a demo container (the canary service's image) with DEMO_* switches. */
        async function startDemo(
            what: string,
            demoEnv: Record<string, string>,
        ): Promise<{ name: string; health: number; service: number }> {
            const [health, svcPort] = await freePorts(2);
            const name = containerName(what);
            await run("docker", ["rm", "-f", name]);
            const flags = ["--name", name, "--read-only", "--cap-drop", "ALL", "--security-opt", "no-new-privileges:true"];
            for (const [k, v] of Object.entries(SUITE_LABELS)) flags.push("--label", `${k}=${v}`);
            for (const [k, v] of Object.entries(demoEnv)) flags.push("--env", `${k}=${v}`);
            flags.push(
                "--publish",
                `127.0.0.1:${health}:${HEALTH_CONTAINER_PORT}`,
                "--publish",
                `127.0.0.1:${svcPort}:${SERVICE_CONTAINER_PORT}`,
            );
            await must("docker", ["run", "-d", ...flags, need(`local/${service}`).pinned]);
            log(`started ${name} (${JSON.stringify(demoEnv)}): health 127.0.0.1:${health}`);
            const c = { name, health, service: svcPort };
            containers[what] = c;
            return c;
        }

        function bounds(timeoutSeconds: number, retries: number): HealthBounds {
            return { timeoutSeconds, intervalSeconds: 0.5, retries, requestTimeoutSeconds: 2 };
        }

        function probe(port: number, b: HealthBounds): Promise<RunResult> {
            return runComponentCommand(
                healthCheckCommand({ service, host, port, path: "/health", bounds: b, digest: need(`local/${service}`).digest }),
                60000,
            );
        }

        /** The `last body "…"` of the probe's failure, decoded. */
        function lastBody(stderr: string): string {
            const m = /last body ("(?:[^"\\]|\\.)*")/.exec(stderr);
            expect(m, `stderr quotes the last body: ${stderr}`).to.not.equal(null);
            return JSON.parse((m as RegExpExecArray)[1]) as string;
        }

        const processUp = (c: { service: number }) => async () => (await httpGet(`http://127.0.0.1:${c.service}/`)).status === 200;
        const healthAnswers = (c: { health: number }) => async () => (await httpGet(`http://127.0.0.1:${c.health}/health`)).status > 0;

        before(async function () {
            host = healthHost(cfg.stack.docker);
            const cs = alone(containerSpecFor(cfg, service));
            HEALTH_CONTAINER_PORT = cs.health.containerPort;
            SERVICE_CONTAINER_PORT = (cs.ports.find((p) => p.host === cfg.stack.services[service].port) as { container: number }).container;
            const started = await Promise.all([
                startDemo("ok", {}),
                startDemo("degraded", { DEMO_HEALTH: "degraded" }),
                startDemo("nonjson", { DEMO_HEALTH: "nonjson" }),
                startDemo("down", { DEMO_HEALTH: "down" }),
            ]);
            await Promise.all(started.map((c) => waitFor(`${c.name} up`, 30000, processUp(c))));
        });

        it("healthy container: exit 0 and a JSON report with healthy:true", async function () {
            const c = containers.ok;
            const r = await probe(c.health, bounds(20, 40));
            expect(r.code, `healthy probe${show(r)}`).to.equal(0);
            const report = parseHealthReport(r.stdout, service);
            expect(report.healthy, "report.healthy").to.equal(true);
            expect(report.status, "report.status").to.equal("ok");
            expect(report.httpStatus, "report.httpStatus").to.equal(200);
            expect(report.url, "report.url").to.equal(healthUrl(host, c.health, "/health"));
            expect(report.digest, "report.digest").to.equal(need(`local/${service}`).digest);
        });

        it("DEMO_HEALTH=degraded: exit 1 naming the service, URL, last status 200 and the degraded body", async function () {
            const c = containers.degraded;
            await waitFor(`${c.name} /health`, 15000, healthAnswers(c));
            const r = await probe(c.health, bounds(3, 6));
            expect(r.code, `degraded probe must fail${show(r)}`).to.equal(1);
            said("degraded probe", r);
            expect(r.stdout.trim(), "no report on stdout").to.equal("");
            expect(r.stderr, `names the service${show(r)}`).to.contain(`service ${service}`);
            expect(r.stderr, `names the URL${show(r)}`).to.contain(healthUrl(host, c.health, "/health"));
            expect(r.stderr, `last status 200${show(r)}`).to.contain("last status 200");
            const body = lastBody(r.stderr);
            expect(body, `the quoted body${show(r)}`).to.match(/^\{"status": ?"degraded"/);
            expect(r.stderr, `the verdict${show(r)}`).to.contain('status "degraded" is not "ok"');
        });

        it("DEMO_HEALTH=nonjson: exit 1 saying the body is not JSON, status 200", async function () {
            const c = containers.nonjson;
            await waitFor(`${c.name} /health`, 15000, healthAnswers(c));
            const r = await probe(c.health, bounds(3, 6));
            expect(r.code, `nonjson probe must fail${show(r)}`).to.equal(1);
            said("nonjson probe", r);
            expect(r.stderr, `says not JSON${show(r)}`).to.contain("not JSON");
            expect(r.stderr, `last status 200${show(r)}`).to.contain("last status 200");
            expect(lastBody(r.stderr), "the quoted body").to.equal("OK");
        });

        it("DEMO_HEALTH=down (health port never listens): exit 1 with no HTTP answer", async function () {
            const c = containers.down;
            const r = await probe(c.health, bounds(3, 6));
            expect(r.code, `down probe must fail${show(r)}`).to.equal(1);
            said("down probe", r);
            expect(r.stderr, `says no HTTP answer${show(r)}`).to.contain("no HTTP answer");
            expect(r.stderr, `names the service${show(r)}`).to.contain(`service ${service}`);
        });

        it("DEMO_START_DELAY_S=3 with timeout 20: passes after more than one attempt", async function () {
            const c = await startDemo("delay3", { DEMO_START_DELAY_S: "3" });
            const r = await probe(c.health, bounds(20, 40));
            expect(r.code, `slow starter must pass within 20 s${show(r)}`).to.equal(0);
            const report = parseHealthReport(r.stdout, service);
            expect(report.healthy, "report.healthy").to.equal(true);
            expect(report.attempts, `attempts (a 3 s start delay needs several)${show(r)}`).to.be.greaterThan(1);
            log(`  delay3: healthy after ${report.attempts} attempts, ${report.elapsedSeconds} s`);
        });

        it("DEMO_START_DELAY_S=30 with timeout 5: fails within the timeout, last status 503 starting", async function () {
            const c = await startDemo("delay30", { DEMO_START_DELAY_S: "30" });
            await waitFor(
                `${c.name} /health answers 503`,
                15000,
                async () => (await httpGet(`http://127.0.0.1:${c.health}/health`)).status === 503,
            );
            const r = await probe(c.health, bounds(5, 100));
            expect(r.code, `a 30 s starter must fail a 5 s timeout${show(r)}`).to.equal(1);
            said("30 s starter, 5 s timeout", r);
            expect(r.stderr, `last status 503${show(r)}`).to.contain("last status 503");
            expect(JSON.parse(lastBody(r.stderr)).status, "last body's status").to.equal("starting");
            expect(r.stderr, `names the timeout${show(r)}`).to.contain("timeout 5s");
            expect(r.ms, "the probe kept to its 5 s timeout").to.be.within(4000, 12000);
        });
    });

    describe("5. registry auth", function () {
        let ref: string;

        before(async function () {
            const reg = cfg.stack.registry;
            ref = `${reg.host}/${reg.org}/it-auth:${RUN_ID}`;
            await must("docker", ["tag", env.AI_FLEET_BASE_IMAGE_LOCAL || env.AI_FLEET_BASE_IMAGE, ref]);
            localTags.add(ref);
        });

        it("refuses a push without credentials (empty DOCKER_CONFIG) and a login with a wrong password", async function () {
            const empty = tempDockerConfig("ai-fleet-it-nocreds-");
            const r = await run("docker", ["push", ref], { env: { ...process.env, DOCKER_CONFIG: empty }, timeoutMs: 120000 });
            expect(r.code, `push without credentials must fail${show(r)}`).to.not.equal(0);
            said("push without credentials", r);
            expect(r.stdout + r.stderr, `push without credentials: the refusal${show(r)}`).to.match(
                /no basic auth credentials|unauthorized|authentication required/i,
            );
            const bad = await dockerLogin(
                tempDockerConfig("ai-fleet-it-badcreds-"),
                cfg.stack.registry.host,
                cfg.stack.registry.username,
                "not-the-password",
            );
            expect(bad.code, `login with a wrong password must fail${show(bad)}`).to.not.equal(0);
            expect(bad.stdout + bad.stderr, `wrong password: the refusal${show(bad)}`).to.match(/unauthorized|authentication required/i);
        });

        it("accepts a push with the program's credentials (docker login in a fresh DOCKER_CONFIG)", async function () {
            const reg = cfg.stack.registry;
            const conf = tempDockerConfig("ai-fleet-it-creds-");
            const login = await dockerLogin(conf, reg.host, reg.username, registryPassword);
            expect(login.code, `docker login as ${reg.username}${show(login)}`).to.equal(0);
            const p = await dockerPush(ref, conf);
            pushed.push({ repo: registryPath(ref.replace(/:[^:/]+$/, "")), digest: p.digest });
            const v = await runComponentCommand(
                verificationCommand({
                    image: ref,
                    expectedDigest: p.digest,
                    registry: { username: reg.username, password: registryPassword, insecure: reg.insecure },
                }),
            );
            expect(v.code, `the pushed tag is in the registry${show(v)}`).to.equal(0);
        });
    });
});
