/**
 * The program under Pulumi mocks (see harness.ts: no engine, no provider, no Docker): what each
 * component registers, and names that stay put.
 */
import { expect } from "chai";
import * as pulumi from "@pulumi/pulumi";
import { deploy, FleetOutputs } from "../../deploy";
import { resolveTag } from "../../naming";
import { fakeDigest, fleetConfig, isSecret, ofType, Registered, registered, resetWorld, T, unwrapSecret, valueOf } from "./harness";
import { COMMIT, containerOf, finish, one, PASSWORD, REPO, run, TAG } from "./rolloutRun";

describe("the mainpc rollout under mocks", function () {
    this.timeout(60000);
    let out: FleetOutputs;
    before(async () => {
        resetWorld();
        out = run("mainpc");
        expect(await finish(out)).to.equal(undefined);
    });

    it("builds the family chain with docker-build, each FROM its parent by digest", async () => {
        const images = ofType(T.image);
        expect(images).to.have.length(9 + 44);
        const base = one(T.image, "base-python-build");
        expect(base.inputs.buildArgs.BASE_IMAGE).to.equal("python:3.11-slim-bookworm");
        const utils = one(T.image, "base-utils-build");
        const cpu = one(T.image, "base-cpu-pydeps-build");
        const utilsDigest = fakeDigest(JSON.stringify(["base-utils-build", utils.inputs.tags, utils.inputs.buildArgs]));
        expect(cpu.inputs.buildArgs.BASE_IMAGE).to.equal(`${REPO}/mainpc/base-utils@${utilsDigest}`);
        expect(utils.inputs.buildArgs.BASE_IMAGE).to.match(new RegExp(`^${REPO}/mainpc/base-python@sha256:[a-f0-9]{64}$`));
    });

    it("gives a service image BASE_IMAGE (its family by digest), MACHINE and the profile's CUDA arch", () => {
        const moc = one(T.image, "ModelOpsCoordinator-build");
        expect(moc.inputs.buildArgs).to.have.keys(["BASE_IMAGE", "MACHINE", "TORCH_CUDA_ARCH_LIST"]);
        expect(moc.inputs.buildArgs.MACHINE).to.equal("mainpc");
        expect(moc.inputs.buildArgs.TORCH_CUDA_ARCH_LIST).to.equal("8.9");
        expect(moc.inputs.buildArgs.BASE_IMAGE).to.match(new RegExp(`^${REPO}/mainpc/family-llm-cu121@sha256:[a-f0-9]{64}$`));
    });

    it("tags, pushes, caches (mode=max) and labels every build", () => {
        const moc = one(T.image, "ModelOpsCoordinator-build");
        expect(moc.inputs.tags).to.deep.equal([`${REPO}/mainpc/model_ops_coordinator:${TAG}`]);
        expect(moc.inputs.push).to.equal(true);
        expect(moc.inputs.platforms).to.deep.equal(["linux/amd64"]);
        // The operator's layout: services build from the repository root (they COPY repository-relative paths).
        expect(moc.inputs.context).to.deep.equal({ location: "../ai_system" });
        expect(moc.inputs.dockerfile).to.deep.equal({
            location: "../ai_system/model_ops_coordinator/Dockerfile.optimized",
        });
        expect(moc.inputs.cacheFrom).to.deep.equal([{ registry: { ref: "ghcr.io/haymayndzultra/cache:mainpc-ModelOpsCoordinator" } }]);
        expect(moc.inputs.cacheTo[0].registry).to.include({ ref: "ghcr.io/haymayndzultra/cache:mainpc-ModelOpsCoordinator", mode: "max" });
        expect(moc.inputs.labels).to.include({
            "org.opencontainers.image.revision": COMMIT.sha,
            "org.opencontainers.image.created": "2025-01-11T09:00:00.000Z",
            "org.opencontainers.image.version": TAG,
            "ai-fleet.machine": "mainpc",
        });
        expect(moc.inputs.buildOnPreview).to.equal(false);
    });

    it("verifies every image in the registry against the digest that was built", () => {
        const checks = ofType(T.command).filter((c) => unwrapSecret(c.inputs.environment).FLEET_IMAGE !== undefined);
        expect(checks).to.have.length(9 + 44);
        const moc = checks.find((c) => c.name === "ModelOpsCoordinator-verify") as Registered;
        const env = unwrapSecret(moc.inputs.environment);
        const build = one(T.image, "ModelOpsCoordinator-build");
        expect(env.FLEET_IMAGE).to.equal(`${REPO}/mainpc/model_ops_coordinator:${TAG}`);
        expect(env.FLEET_EXPECTED_DIGEST).to.equal(
            fakeDigest(JSON.stringify(["ModelOpsCoordinator-build", build.inputs.tags, build.inputs.buildArgs])),
        );
        expect(moc.inputs.create).to.equal("node probes/verify-image.js");
    });

    it("runs each container from its verified image, pinned by digest", () => {
        const remote = one(T.remoteImage, "ModelOpsCoordinator-image");
        expect(remote.inputs.name).to.match(new RegExp(`^${REPO}/mainpc/model_ops_coordinator@sha256:[a-f0-9]{64}$`));
        expect(containerOf("ModelOpsCoordinator").inputs.image).to.equal(fakeDigest(remote.inputs.name));
    });

    it("hardens every container: 10001:10001, tini as PID 1, read-only root, no privileges", () => {
        const containers = ofType(T.container);
        expect(containers).to.have.length(44);
        for (const c of containers) {
            expect(c.inputs, c.name).to.include({ user: "10001:10001", init: true, readOnly: true, restart: "unless-stopped" });
            expect(c.inputs.tmpfs, c.name).to.have.keys(["/tmp"]);
            expect(c.inputs.securityOpts, c.name).to.deep.equal(["no-new-privileges:true"]);
            expect(c.inputs.capabilities, c.name).to.deep.equal({ drops: ["ALL"] });
            expect(c.inputs.logOpts, c.name).to.deep.equal({ "max-size": "10m", "max-file": "3" });
            expect(c.inputs.healthcheck.tests[0], c.name).to.equal("CMD");
        }
    });

    it("hands the profile's runtime values to the running container (they were lost before)", () => {
        const envs: string[] = containerOf("ModelOpsCoordinator").inputs.envs;
        for (const kv of [
            "MACHINE=mainpc",
            "OMP_NUM_THREADS=16",
            "UVICORN_WORKERS=32",
            "MEMORY_FRACTION=0.95",
            "GPU_VISIBLE_DEVICES=0",
            "TORCH_CUDA_ARCH_LIST=8.9",
            "TORCH_CUDA_ALLOC_CONF=max_split_size_mb:64",
            "MAX_CONCURRENT_MODELS=8",
            "BATCH_SIZE_DEFAULT=32",
            "MODEL_EVICT_THRESHOLD_PCT=90",
            "CUDA_MPS_ACTIVE_THREAD_PERCENTAGE=100",
            "SERVICE_NAME=ModelOpsCoordinator",
        ]) {
            expect(envs).to.include(kv);
        }
    });

    it("publishes container ports on their own host ports and requests the GPU for GPU families only", () => {
        const moc = containerOf("ModelOpsCoordinator");
        expect(moc.inputs.ports).to.deep.equal([
            { internal: 7211, external: 7212, protocol: "tcp", ip: "0.0.0.0" },
            { internal: 7212, external: 8212, protocol: "tcp", ip: "0.0.0.0" },
            { internal: 8008, external: 8213, protocol: "tcp", ip: "0.0.0.0" },
        ]);
        expect(moc.inputs.deviceRequests).to.deep.equal([{ driver: "nvidia", deviceIds: ["0"], capabilities: ["gpu"] }]);
        expect(moc.inputs.healthcheck.tests[3]).to.include("http://127.0.0.1:8008/health");
        expect(containerOf("Executor").inputs.deviceRequests).to.equal(undefined);
    });

    it("checks canary health over HTTP on the machine's address, re-running when the digest changes", () => {
        const probe = one(T.command, "ModelOpsCoordinator-health");
        expect(probe.inputs.create).to.equal("node probes/health-probe.js");
        expect(probe.inputs.environment).to.include({
            FLEET_SERVICE: "ModelOpsCoordinator",
            FLEET_HOST: "mainpc",
            FLEET_HEALTH_URL: "http://mainpc:8213/health",
            FLEET_TIMEOUT_S: "300",
            FLEET_INTERVAL_S: "5",
            FLEET_RETRIES: "60",
        });
        const remote = one(T.remoteImage, "ModelOpsCoordinator-image");
        expect(probe.inputs.triggers[0]).to.equal(remote.inputs.name.split("@")[1]);
    });

    it("labels every container with its open gate and nothing that names its group (a move between groups changes no input)", () => {
        const labels = (r: Registered) =>
            Object.fromEntries(r.inputs.labels.map((l: { label: string; value: string }) => [l.label, l.value]));
        for (const c of ofType(T.container)) {
            expect(labels(c), c.name).to.include({ "ai-fleet.gate": "passed" }).and.not.have.key("ai-fleet.rollout");
        }
        expect(Object.keys(labels(containerOf("Executor")))).to.deep.equal(Object.keys(labels(containerOf("ModelOpsCoordinator"))));
    });

    it("exports the tag, every image ref@digest, the containers and a healthy canary report", async () => {
        expect(out.tag).to.equal(TAG);
        expect(Object.keys(out.images)).to.have.length(53);
        expect(await valueOf(out.images.ModelOpsCoordinator.pinned)).to.match(/@sha256:[a-f0-9]{64}$/);
        expect(out.containers).to.have.length(44).and.include("ai-mainpc-model-ops-coordinator");
        expect(Object.keys((await valueOf(out.report))?.services ?? {})).to.have.length(44);
        const report = await valueOf(out.canaryReport);
        expect(report).to.include({ machine: "mainpc", tag: TAG, healthy: true });
        expect(Object.keys(report?.services ?? {})).to.have.members([
            "ModelOpsCoordinator",
            "RealTimeAudioPipeline",
            "AffectiveProcessingCenter",
        ]);
    });

    it("keeps the registry password secret: in every input that carries it, and in no output", async () => {
        const exported = JSON.stringify({
            images: await Promise.all(Object.values(out.images).map(async (i) => [await valueOf(i.pinned), await valueOf(i.ref)])),
            canary: await valueOf(out.canaryReport),
            all: await valueOf(out.report),
            containers: out.containers,
        });
        expect(exported).to.not.include(PASSWORD);
        const build = one(T.image, "Executor-build");
        expect(JSON.stringify(build.inputs.registries)).to.include("4dabf18193072939515e22adb298388d");
        expect(JSON.stringify(ofType(T.provider)[0].inputs.registryAuth)).to.include("4dabf18193072939515e22adb298388d");
        for (const c of ofType(T.command).filter((c) => c.name.endsWith("-verify"))) {
            expect(c.inputs.environment, c.name).to.have.property("4dabf18193072939515e22adb298388d");
        }
        expect(await isSecret(out.images.Executor.pinned)).to.equal(false);
    });
});

describe("names are identity", function () {
    this.timeout(60000);
    it("gives every resource the same name whatever the order of the services and the tag", async () => {
        resetWorld();
        await finish(run("pc2"));
        const first = registered.map((r) => `${r.type}::${r.name}`).sort();
        resetWorld();
        await finish(
            deploy({
                config: fleetConfig("pc2", (raw) => {
                    raw.services = Object.fromEntries(Object.entries(raw.services).reverse());
                }),
                release: resolveTag({ forced: "20991231-deadbeef" }),
                registryPassword: pulumi.secret(PASSWORD),
            }),
        );
        const second = registered.map((r) => `${r.type}::${r.name}`).sort();
        expect(second).to.deep.equal(first);
        expect(new Set(first).size).to.equal(first.length);
        expect(first.join()).to.not.include("2099").and.not.include(TAG);
    });
});

/** mainpc's report as pc2's StackReference reads it: healthy canary, and StreamingTTS for the relay. */
