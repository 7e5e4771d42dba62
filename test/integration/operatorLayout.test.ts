/**
 * The operator's repository layout on the REAL local engine, registry (127.0.0.1:5000) and, where
 * scripts/toolchain.sh provides it, the real Pulumi engine. No mocks. A copy of
 * test/fixtures/operator-repo (a git checkout in a temp dir) with its stack file:
 *
 *  1. the preflight, and a real `pulumi preview`, refuse the hard-coded bases naming file and line;
 *  2. built as it is (BASE_IMAGE passed, ignored), base-utils sits on the old registry tag, and the
 *     layer check (probes/verify-image.js as FleetService runs it) fails naming both images;
 *  3. `npm run adopt-dockerfiles` rewrites the copy (printing each change), a second run changes
 *     nothing, and the checkout is now dirty: its tag is not the commit's;
 *  4. after adoption the chain builds by digest (buildx on the stack's builder, pushed) with the
 *     components' own build args, and every layer check passes.
 *
 * Names carry "13" (registry namespace it13, temp dirs ai-fleet-13-*); pushed manifests are deleted.
 */
import { expect } from "chai";
import * as pulumi from "@pulumi/pulumi";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { buildEntries, preflight } from "../../buildTree/preflight";
import { BuildSettings, dockerBuildArgs, pinnedRef } from "../../components/buildSpec";
import { verificationCommand } from "../../components";
import { readSourceCommit } from "../../buildTree/sourceTree";
import { familyBuildPaths, familyOrder, FleetConfig, parseStackConfig, PROJECT, serviceBuildPaths } from "../../config";
import { imageRepository, resolveTag, snake } from "../../naming";
import { RegistryClient } from "../../probes/registry";
import { readStackConfigAt } from "../../stackFile";
import { buildCommand, buildImage, deleteManifest, dockerLogin, dockerPush, freshDockerConfig } from "./support/docker";
import { Stack } from "@pulumi/pulumi/automation";
import { ensureSetup, createStack, tempProject, TempProject } from "./support/engine";
import { log, must, run, RunResult, runComponentCommand } from "./support/proc";
import { localEnv, resolve } from "./support/stack";
import { profileBuildArgs } from "../../profiles/schema";

const FIXTURE = path.resolve(__dirname, "..", "fixtures", "operator-repo");
const STACK_FILE = path.resolve(__dirname, "..", "fixtures", "operator-repo.stack.yaml");
const OLD_TAG = "20250812-latest";
const TAG = `it13-${process.pid}`;

function show(r: RunResult): string {
    return `\n$ ${r.cmd}\nexit ${r.code}\n--- stdout\n${r.stdout.trim()}\n--- stderr\n${r.stderr.trim()}\n`;
}

/** The fixture stack's `ai-fleet:` keys (prefix kept), contextRoot replaced. */
function stackKeys(contextRoot: string): Record<string, unknown> {
    const keys = JSON.parse(JSON.stringify(readStackConfigAt(STACK_FILE))) as Record<string, any>;
    keys[`${PROJECT}:build`].contextRoot = contextRoot;
    return keys;
}

function parseKeys(keys: Record<string, unknown>): FleetConfig {
    return parseStackConfig(Object.fromEntries(Object.entries(keys).map(([k, v]) => [k.slice(PROJECT.length + 1), v])));
}

describe("integration: the operator's layout, its chain check and adopt-dockerfiles (issue 13)", function () {
    this.timeout(1200000);
    let checkout: string;
    let cfg: FleetConfig;
    let password: string;
    let dockerConfig: string;
    let settings: BuildSettings;
    const pushed: { repo: string; digest: string }[] = [];
    const pinned = new Map<string, string>();
    const temp: string[] = [];
    /** The real engine's project and stack of case 1b, reused by case 6 (undefined when the toolchain lacks plugins). */
    let engine: { project: TempProject; stack: Stack } | undefined;

    before(async function () {
        ensureSetup(this);
        const env = await localEnv();
        password = env.AI_FLEET_REGISTRY_PASSWORD;
        checkout = fs.mkdtempSync(path.join(os.tmpdir(), "ai-fleet-13-checkout-"));
        temp.push(checkout);
        fs.cpSync(FIXTURE, checkout, { recursive: true });
        const git = (...a: string[]) => must("git", ["-C", checkout, ...a]);
        await git("init", "-q");
        await git("-c", "user.email=it13@example.invalid", "-c", "user.name=it13", "add", ".");
        await git("-c", "user.email=it13@example.invalid", "-c", "user.name=it13", "commit", "-qm", "the operator's tree");
        cfg = parseKeys(stackKeys(checkout));
        const reg = cfg.stack.registry;
        dockerConfig = freshDockerConfig(fs.mkdtempSync(path.join(os.tmpdir(), "ai-fleet-13-docker-")));
        temp.push(dockerConfig);
        await must("docker", ["version"]);
        const login = await dockerLogin(dockerConfig, reg.host, reg.username, password);
        if (login.code !== 0) throw new Error(`docker login failed${show(login)}`);
        settings = {
            machine: cfg.profile.machine,
            profileBuildArgs: profileBuildArgs(cfg.profile),
            tag: TAG,
            revision: "it13",
            created: "2025-08-19T00:00:00.000Z",
            contextRoot: checkout,
            platform: cfg.stack.build.platform,
            buildOnPreview: false,
            builder: cfg.stack.build.builder,
            registry: { host: reg.host, username: reg.username, password },
        };
        // The operator's "old registry tag" that base-utils hard-codes: here the bare base image.
        const old = `${reg.host}/ai-fleet/it13-legacy/base-python:${OLD_TAG}`;
        await must("docker", ["tag", env.AI_FLEET_BASE_IMAGE, old]);
        const p = await dockerPush(old, dockerConfig);
        pushed.push({ repo: "ai-fleet/it13-legacy/base-python", digest: p.digest });
        log(`pushed the old tag ${old} (${p.digest}); checkout ${checkout}`);
    });

    after(async function () {
        if (engine) await engine.stack.destroy().catch((e) => log(`destroy: ${e}`));
        for (const p of pushed) await deleteManifest(cfg.stack.registry.host, p.repo, p.digest, cfg.stack.registry.username, password);
        log(`cleanup: deleted ${pushed.length} registry manifest(s)`);
        for (const d of temp) fs.rmSync(d, { recursive: true, force: true });
    });

    /** Builds one family or service of the fixture stack with the components' args and pushes it; `extra` buildx flags. */
    async function build(name: string, base: string, extra: string[] = []): Promise<string> {
        const fam = cfg.stack.families[name];
        const svc = cfg.stack.services[name];
        const req = fam
            ? {
                  name,
                  kind: "family" as const,
                  repository: imageRepository(cfg.stack.registry, "local", name),
                  ...familyBuildPaths(name, fam, cfg.stack.build.layout),
                  baseImage: base,
                  buildArgs: fam.buildArgs,
              }
            : {
                  name,
                  kind: "service" as const,
                  repository: imageRepository(cfg.stack.registry, "local", snake(name)),
                  ...serviceBuildPaths(name, svc, cfg.stack.build.layout),
                  baseImage: base,
                  buildArgs: svc.buildArgs,
              };
        const cmd = await buildCommand(dockerBuildArgs(settings, req));
        cmd.argv.splice(1, 0, ...extra);
        const b = await buildImage("docker", cmd, dockerConfig, true);
        const ref = await resolve(pinnedRef(req.repository, b.digest as string));
        pushed.push({ repo: req.repository.slice(req.repository.indexOf("/") + 1), digest: b.digest as string });
        log(`built ${name} FROM ${base} in ${(b.buildMs / 1000).toFixed(1)} s → ${ref}`);
        pinned.set(name, ref);
        return ref;
    }

    function layerCheck(image: string, parent: string): Promise<RunResult> {
        const reg = cfg.stack.registry;
        return runComponentCommand(
            verificationCommand({
                image,
                registry: { username: reg.username, password, insecure: reg.insecure },
                parent,
                platform: "linux/amd64",
            }),
        );
    }

    it("1. the preflight refuses the hard-coded bases, naming each Dockerfile and line, all at once", () => {
        let message = "";
        try {
            preflight(cfg.stack);
        } catch (e) {
            message = (e as Error).message;
            expect(pulumi.RunError.isInstance(e), "a pulumi.RunError: a clean preview message, no stack").to.equal(true);
        }
        log(`preflight error:\n${message}`);
        expect(message).to.contain("(4 problems)");
        expect(message).to.contain(
            `family base-utils (parent base-python): docker/base-images/base-utils/Dockerfile:2: the final stage builds FROM 127.0.0.1:5000/ai-fleet/it13-legacy/base-python:${OLD_TAG} instead of \${BASE_IMAGE}`,
        );
        expect(message).to.contain(
            `service SystemDigitalTwin (family base-utils): main_pc_code/agents/systemdigitaltwin/Dockerfile.optimized:1: the final stage (line 10) builds on stage "base" (line 1)`,
        );
        expect(message).to.contain("service NLU (family base-utils): main_pc_code/agents/nluagent/Dockerfile.optimized:3:");
        expect(message).to.contain(
            "service ServiceRegistry (family family-web): main_pc_code/agents/serviceregistry/Dockerfile.optimized:5:",
        );
        expect(message).to.not.contain("family base-python"); // hard-coded, but equal to the stack's baseImage
        expect(message).to.contain("npm run adopt-dockerfiles --");
    });

    it("1b. a real `pulumi preview` of the stack fails with that message and creates nothing", async function () {
        const status = ensureSetup();
        const project: TempProject = tempProject(path.resolve(__dirname, "..", ".."));
        temp.push(project.dir);
        const stack = await createStack(project, "it13-operator", status, {
            ...stackKeys(checkout),
            [`${PROJECT}:registryPassword`]: password,
        });
        engine = { project, stack };
        let message = "";
        try {
            await stack.preview();
        } catch (e) {
            message = String(e);
        }
        log(
            `pulumi preview error (tail):\n${message
                .split("\n")
                .filter((l) => /problem| {2}- |adopt|error:/.test(l))
                .join("\n")}`,
        );
        expect(message).to.contain("the build contexts under");
        expect(message).to.contain("docker/base-images/base-utils/Dockerfile:2: the final stage builds FROM");
        expect(message).to.not.match(/unhandled exception|at Object\.<anonymous>/i);
        expect((await stack.exportStack()).deployment.resources ?? []).to.have.length(0);
    });

    it("2. built as it is, base-utils ignores BASE_IMAGE and the layer check fails naming both images", async () => {
        const base = await build("base-python", cfg.stack.families["base-python"].baseImage as string);
        const utils = await build("base-utils", base);
        const r = await layerCheck(utils, base);
        log(`layer check of the hard-coded build: exit ${r.code}: ${r.stderr.trim()}`);
        expect(r.code, show(r)).to.equal(1);
        expect(r.stderr).to.contain(`${utils} is not built on its parent ${base}: its layers do not extend the parent's`);
        const same = await layerCheck(base, `${cfg.stack.registry.host}/ai-fleet/it13-legacy/base-python:${OLD_TAG}`);
        expect(same.code, `base-python does extend the old base image${show(same)}`).to.equal(0);
    });

    it("3. adopt-dockerfiles rewrites the copy, prints each change, reports the family mismatch, and is idempotent", async () => {
        const args = ["run", "--silent", "adopt-dockerfiles", "--", checkout, "--stack", STACK_FILE];
        const first = await run("npm", args);
        log(
            `npm run adopt-dockerfiles -- <checkout> --stack test/fixtures/operator-repo.stack.yaml (exit ${first.code}):\n${first.stdout}`,
        );
        expect(first.code, show(first)).to.equal(1); // the NLU mismatch is a finding
        expect(first.stdout).to.contain(
            `docker/base-images/base-utils/Dockerfile:2: FROM 127.0.0.1:5000/ai-fleet/it13-legacy/base-python:${OLD_TAG} → FROM \${BASE_IMAGE}`,
        );
        expect(first.stdout).to.contain("changed 5 Dockerfile(s); 1 already FROM ${BASE_IMAGE}; 1 finding(s)");
        expect(first.stdout).to.contain("main_pc_code/agents/nluagent/Dockerfile.optimized:3: FAMILY MISMATCH");
        const second = await run("npm", args);
        expect(second.stdout, show(second)).to.contain("changed 0 Dockerfile(s); 6 already FROM ${BASE_IMAGE}");
        const diff = await must("git", ["-C", checkout, "diff", "--numstat"]);
        log(`git diff --numstat after adoption:\n${diff.stdout}`);
        const stats = diff.stdout
            .trim()
            .split("\n")
            .map((l) => l.split("\t"));
        expect(stats.map((s) => s[2]).sort()).to.deep.equal(
            buildEntries(cfg.stack)
                .map((e) => e.dockerfile)
                .filter((f) => !f.includes("family-web"))
                .sort(),
        );
        for (const [added, removed, file] of stats) {
            // One ARG line added, each rewritten FROM replaced in place: nothing else.
            expect(Number(added) - Number(removed), file).to.equal(1);
        }
        const commit = readSourceCommit(checkout);
        const tag = resolveTag({ commit });
        log(`dirty checkout: ${commit?.dirty?.files.length} changed file(s), tag ${tag.tag} (${tag.source})`);
        expect(tag.tag).to.match(/^\d{8}-[0-9a-f]{8}-dirty-[0-9a-f]{8}$/);
        expect(() => preflight(cfg.stack)).to.not.throw();
    });

    it("4. after adoption the chain builds by digest and every layer check passes", async () => {
        for (const name of familyOrder(cfg.stack.families)) {
            const fam = cfg.stack.families[name];
            const parent = fam.parent !== undefined ? (pinned.get(fam.parent) as string) : (fam.baseImage as string);
            const ref = await build(name, parent);
            if (fam.parent !== undefined) {
                const r = await layerCheck(ref, parent);
                log(`layer check ${name} on ${fam.parent}: exit ${r.code}: ${r.stdout.trim()}`);
                expect(r.code, show(r)).to.equal(0);
                expect(JSON.parse(r.stdout.trim())).to.include({ parent });
            }
        }
        for (const name of Object.keys(cfg.stack.services).sort()) {
            const family = pinned.get(cfg.stack.services[name].family) as string;
            const ref = await build(name, family);
            const r = await layerCheck(ref, family);
            log(`layer check ${name} on ${cfg.stack.services[name].family}: exit ${r.code}: ${r.stdout.trim()}`);
            expect(r.code, show(r)).to.equal(0);
        }
        // base-utils now sits on the base-python just built, not on the old tag.
        const old = await layerCheck(pinned.get("base-utils") as string, pinned.get("base-python") as string);
        expect(old.code).to.equal(0);
    });

    it("5. an image pushed as an OCI index (a provenance attestation, buildx's default elsewhere): the layer check takes the linux/amd64 manifest", async () => {
        const family = pinned.get("family-web") as string;
        const ref = await build("ServiceRegistry", family, ["--provenance=mode=min"]);
        const reg = cfg.stack.registry;
        const repo = ref.slice(reg.host.length + 1, ref.indexOf("@"));
        const registry = new RegistryClient({ host: reg.host, insecure: true, user: reg.username, password });
        const body = await registry.manifest(repo, ref.split("@")[1]);
        log(
            `${ref}: ${body.mediaType} with ${(body.manifests ?? []).map((m) => (m.platform ? `${m.platform.os}/${m.platform.architecture}` : "?")).join(", ")}`,
        );
        expect(body.mediaType).to.equal("application/vnd.oci.image.index.v1+json");
        const r = await layerCheck(ref, family);
        log(`layer check of the index: exit ${r.code}: ${r.stdout.trim()}${r.stderr.trim()}`);
        expect(r.code, show(r)).to.equal(0);
        const wrong = await layerCheck(ref, pinned.get("SystemDigitalTwin") as string);
        expect(wrong.code, show(wrong)).to.equal(1);
        expect(wrong.stderr).to.contain(`is not built on its parent ${pinned.get("SystemDigitalTwin")}`);
    });

    it("6. a real `pulumi up` of the adopted, uncommitted checkout: builds and layer-checks the chain, tagged dirty", async function () {
        if (!engine) {
            log("SKIPPED real up: no engine (see case 1b)");
            this.skip();
        }
        const started = Date.now();
        const result = await engine.stack.up({ onOutput: (l) => process.stderr.write(l) });
        const images = result.outputs.images.value as Record<string, { pinned: string; ref: string }>;
        const tag = result.outputs.tag.value as string;
        log(
            `pulumi up in ${((Date.now() - started) / 1000).toFixed(1)} s: tag ${tag} (${result.outputs.tagSource.value}); ${JSON.stringify(result.summary.resourceChanges)}`,
        );
        for (const [name, image] of Object.entries(images)) {
            log(`  ${name}: ${image.pinned}`);
            pushed.push({
                repo: image.pinned.slice(cfg.stack.registry.host.length + 1, image.pinned.indexOf("@")),
                digest: image.pinned.split("@")[1],
            });
        }
        expect(result.outputs.tagSource.value).to.equal("dirty-tree");
        expect(tag).to.equal(resolveTag({ commit: readSourceCommit(checkout) }).tag);
        expect(Object.keys(images).sort()).to.deep.equal([
            "NLU",
            "ServiceRegistry",
            "SystemDigitalTwin",
            "base-python",
            "base-utils",
            "family-web",
        ]);
        // The layer checks ran in the engine: each verification had its parent.
        const state = await engine.stack.exportStack();
        const checks = (state.deployment.resources ?? []).filter(
            (r: { type: string; urn: string }) => r.type === "command:local:Command" && r.urn.endsWith("-verify"),
        );
        expect(checks.length).to.equal(6);
    });
});
