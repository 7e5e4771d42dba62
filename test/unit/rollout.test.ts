/**
 * The program under Pulumi mocks (see harness.ts: no engine, no provider, no Docker): what each
 * component registers, and what the gate does to the batch when the canary fails.
 */
import { expect } from "chai";
import * as pulumi from "@pulumi/pulumi";
import { deploy, FleetOutputs } from "../../deploy";
import { resolveTag } from "../../naming";
import {
    fakeDigest,
    fleetConfig,
    isSecret,
    ofType,
    Registered,
    registered,
    resetWorld,
    scenario,
    settle,
    T,
    unwrapSecret,
    valueOf,
} from "./harness";

const TAG = "20250111-656873b3";
const COMMIT = { sha: "656873b3e1c0ffee00112233445566778899aabb", date: new Date("2025-01-11T09:00:00Z") };
const PASSWORD = "ghp_unit-test-token-never-in-outputs";
const REPO = "ghcr.io/haymayndzultra/ai_system";

function run(stack: string, edit?: (raw: any) => void): FleetOutputs {
    return deploy({
        config: fleetConfig(stack, edit),
        release: resolveTag({ forced: TAG }),
        commit: COMMIT,
        registryPassword: pulumi.secret(PASSWORD),
    });
}

/**
 * Awaits everything a stack exports, then waits until registrations stop. Returns the first error:
 * Promise.all settles on the first rejection, so outputs that wait forever behind a failed
 * resource (as the engine would never create them) do not hold the test.
 */
async function finish(out: FleetOutputs): Promise<unknown> {
    let error: unknown;
    try {
        await Promise.all([
            ...Object.values(out.images).map((i) => valueOf(i.pinned)),
            valueOf(out.canaryReport),
            valueOf(out.gate),
            valueOf(out.report),
        ]);
    } catch (e) {
        error = e;
    }
    await settle();
    return error;
}

function one(type: string, name: string): Registered {
    const found = registered.filter((r) => r.type === type && r.name === name);
    expect(found, `${type} ${name}`).to.have.length(1);
    return found[0];
}

function containerOf(machine: string, kebabName: string): Registered {
    return one(T.container, `ai-${machine}-${kebabName}-container`);
}

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
        const moc = one(T.image, "svc-model-ops-coordinator-build");
        expect(moc.inputs.buildArgs).to.have.keys(["BASE_IMAGE", "MACHINE", "TORCH_CUDA_ARCH_LIST"]);
        expect(moc.inputs.buildArgs.MACHINE).to.equal("mainpc");
        expect(moc.inputs.buildArgs.TORCH_CUDA_ARCH_LIST).to.equal("8.9");
        expect(moc.inputs.buildArgs.BASE_IMAGE).to.match(new RegExp(`^${REPO}/mainpc/family-llm-cu121@sha256:[a-f0-9]{64}$`));
    });

    it("tags, pushes, caches (mode=max) and labels every build", () => {
        const moc = one(T.image, "svc-model-ops-coordinator-build");
        expect(moc.inputs.tags).to.deep.equal([`${REPO}/mainpc/model_ops_coordinator:${TAG}`]);
        expect(moc.inputs.push).to.equal(true);
        expect(moc.inputs.platforms).to.deep.equal(["linux/amd64"]);
        // The operator's layout: services build from the repository root (they COPY repository-relative paths).
        expect(moc.inputs.context).to.deep.equal({ location: "../ai_system" });
        expect(moc.inputs.dockerfile).to.deep.equal({
            location: "../ai_system/main_pc_code/agents/modelopscoordinator/Dockerfile.optimized",
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
        const moc = checks.find((c) => c.name === "svc-model-ops-coordinator-verify-check") as Registered;
        const env = unwrapSecret(moc.inputs.environment);
        const build = one(T.image, "svc-model-ops-coordinator-build");
        expect(env.FLEET_IMAGE).to.equal(`${REPO}/mainpc/model_ops_coordinator:${TAG}`);
        expect(env.FLEET_EXPECTED_DIGEST).to.equal(
            fakeDigest(JSON.stringify(["svc-model-ops-coordinator-build", build.inputs.tags, build.inputs.buildArgs])),
        );
        expect(moc.inputs.create).to.equal("node probes/verify-image.js");
    });

    it("runs each container from its verified image, pinned by digest", () => {
        const remote = one(T.remoteImage, "ai-mainpc-model-ops-coordinator-image");
        expect(remote.inputs.name).to.match(new RegExp(`^${REPO}/mainpc/model_ops_coordinator@sha256:[a-f0-9]{64}$`));
        expect(containerOf("mainpc", "model-ops-coordinator").inputs.image).to.equal(fakeDigest(remote.inputs.name));
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
        const envs: string[] = containerOf("mainpc", "model-ops-coordinator").inputs.envs;
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
        const moc = containerOf("mainpc", "model-ops-coordinator");
        expect(moc.inputs.ports).to.deep.equal([
            { internal: 7211, external: 7212, protocol: "tcp", ip: "0.0.0.0" },
            { internal: 7212, external: 8212, protocol: "tcp", ip: "0.0.0.0" },
            { internal: 8008, external: 8213, protocol: "tcp", ip: "0.0.0.0" },
        ]);
        expect(moc.inputs.deviceRequests).to.deep.equal([{ driver: "nvidia", deviceIds: ["0"], capabilities: ["gpu"] }]);
        expect(moc.inputs.healthcheck.tests[3]).to.include("http://127.0.0.1:8008/health");
        expect(containerOf("mainpc", "executor").inputs.deviceRequests).to.equal(undefined);
    });

    it("checks canary health over HTTP on the machine's address, re-running when the digest changes", () => {
        const probe = one(T.command, "ai-mainpc-model-ops-coordinator-health-probe");
        expect(probe.inputs.create).to.equal("node probes/health-probe.js");
        expect(probe.inputs.environment).to.include({
            FLEET_SERVICE: "ModelOpsCoordinator",
            FLEET_HOST: "mainpc",
            FLEET_HEALTH_URL: "http://mainpc:8213/health",
            FLEET_TIMEOUT_S: "300",
            FLEET_INTERVAL_S: "5",
            FLEET_RETRIES: "60",
        });
        const remote = one(T.remoteImage, "ai-mainpc-model-ops-coordinator-image");
        expect(probe.inputs.triggers[0]).to.equal(remote.inputs.name.split("@")[1]);
    });

    it("labels every container with its open gate and nothing that names its group (a move between groups changes no input)", () => {
        const labels = (r: Registered) =>
            Object.fromEntries(r.inputs.labels.map((l: { label: string; value: string }) => [l.label, l.value]));
        for (const c of ofType(T.container)) {
            expect(labels(c), c.name).to.include({ "ai-fleet.gate": "passed" }).and.not.have.key("ai-fleet.rollout");
        }
        expect(Object.keys(labels(containerOf("mainpc", "executor")))).to.deep.equal(
            Object.keys(labels(containerOf("mainpc", "model-ops-coordinator"))),
        );
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
        const build = one(T.image, "svc-executor-build");
        expect(JSON.stringify(build.inputs.registries)).to.include("4dabf18193072939515e22adb298388d");
        expect(JSON.stringify(ofType(T.provider)[0].inputs.registryAuth)).to.include("4dabf18193072939515e22adb298388d");
        for (const c of ofType(T.command).filter((c) => c.name.endsWith("-verify-check"))) {
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
function mainpcOutputs(tag: string, streamingTts: { healthy: boolean } | undefined): Record<string, unknown> {
    const tts = streamingTts && {
        service: "StreamingTTS",
        url: "http://mainpc:6563/health",
        healthy: streamingTts.healthy,
        status: streamingTts.healthy ? "ok" : "degraded",
    };
    return {
        canaryReport: { machine: "mainpc", tag, healthy: true, services: {} },
        report: { machine: "mainpc", tag, healthy: !!streamingTts?.healthy, services: tts ? { StreamingTTS: tts } : {} },
    };
}

const CANARY_AND_ITS_NEEDS = [
    "ServiceRegistry",
    "SystemDigitalTwin",
    "UnifiedObservabilityCenter",
    "MemoryFusionHub",
    "ModelOpsCoordinator",
    "RealTimeAudioPipeline",
    "AffectiveProcessingCenter",
].map((s) => `ai-mainpc-${s.replace(/([a-z])([A-Z])/g, "$1-$2").toLowerCase()}-container`);

describe("the canary gate", function () {
    this.timeout(60000);
    beforeEach(resetWorld);

    it("creates only the canary and what it needs when a canary health check fails", async () => {
        scenario.failHealth.add("RealTimeAudioPipeline");
        const error = await finish(run("mainpc"));
        expect(String(error)).to.include(
            "health check failed: service RealTimeAudioPipeline on host mainpc: GET http://mainpc:6558/health",
        );
        expect(ofType(T.container).map((c) => c.name)).to.have.members(CANARY_AND_ITS_NEEDS);
    });

    it("creates no gated container when the canary reports unhealthy", async () => {
        scenario.unhealthyReport.add("AffectiveProcessingCenter");
        const error = await finish(run("mainpc"));
        expect(String(error))
            .to.include("blocked by its gate")
            .and.include("mainpc canary: canary unhealthy: AffectiveProcessingCenter (http://mainpc:6561/health");
        expect(ofType(T.container).map((c) => c.name)).to.have.members(CANARY_AND_ITS_NEEDS);
    });

    it("creates all 44 containers when the canary passes", async () => {
        expect(await finish(run("mainpc"))).to.equal(undefined);
        expect(ofType(T.container)).to.have.length(44);
    });

    it("gates pc2 on mainpc's canary report through a StackReference, and the relay on mainpc's StreamingTTS", async () => {
        scenario.stackOutputs["organization/ai-fleet/mainpc"] = mainpcOutputs(TAG, { healthy: true });
        expect(await finish(run("pc2"))).to.equal(undefined);
        expect(ofType(T.container)).to.have.length(23);
        expect(ofType(T.container)[0].inputs.envs).to.include("OMP_NUM_THREADS=4").and.include("UVICORN_WORKERS=8");
    });

    it("holds back only pc2's SpeechRelayService while mainpc's StreamingTTS is not healthy at this release", async () => {
        scenario.stackOutputs["organization/ai-fleet/mainpc"] = mainpcOutputs(TAG, { healthy: false });
        const error = await finish(run("pc2"));
        expect(String(error))
            .to.include("SpeechRelayService's rollout blocked by its gate")
            .and.include("StreamingTTS unhealthy (http://mainpc:6563/health");
        const names = ofType(T.container).map((c) => c.name);
        expect(names).to.have.length(22).and.not.include("ai-pc2-speech-relay-service-container");
    });

    it("holds back the relay when mainpc's report does not name StreamingTTS", async () => {
        scenario.stackOutputs["organization/ai-fleet/mainpc"] = mainpcOutputs(TAG, undefined);
        const error = await finish(run("pc2"));
        expect(String(error)).to.include("reports no service StreamingTTS");
        expect(ofType(T.container)).to.have.length(22);
    });

    it("keeps pc2 shut when mainpc's canary report is of another release", async () => {
        scenario.stackOutputs["organization/ai-fleet/mainpc"] = mainpcOutputs("20250101-00000000", { healthy: true });
        const error = await finish(run("pc2"));
        expect(String(error)).to.include("the report is for release 20250101-00000000, not 20250111-656873b3");
        expect(ofType(T.container)).to.have.length(0);
    });

    it("keeps pc2 shut when mainpc's canary was unhealthy", async () => {
        const sick = { service: "ModelOpsCoordinator", url: "http://mainpc:8213/health", healthy: false, status: "degraded" };
        scenario.stackOutputs["organization/ai-fleet/mainpc"] = {
            ...mainpcOutputs(TAG, { healthy: true }),
            canaryReport: { machine: "mainpc", tag: TAG, healthy: false, services: { ModelOpsCoordinator: sick } },
        };
        const error = await finish(run("pc2"));
        expect(String(error)).to.include("stack organization/ai-fleet/mainpc: canary unhealthy: ModelOpsCoordinator");
        expect(ofType(T.container)).to.have.length(0);
    });
});

describe("phases", function () {
    this.timeout(60000);
    beforeEach(resetWorld);

    it("build: builds, pushes and verifies every image, and touches no machine", async () => {
        const out = run("mainpc", (raw) => {
            raw.phase = "build";
        });
        expect(await finish(out)).to.equal(undefined);
        expect(ofType(T.image)).to.have.length(53);
        expect(ofType(T.container).length + ofType(T.remoteImage).length + ofType(T.provider).length).to.equal(0);
        expect(out.containers).to.deep.equal([]);
    });

    it("a missing image stops the rollout before any container, naming the image", async () => {
        scenario.missingImages.add("/mainpc/executor:");
        const error = await finish(run("mainpc"));
        expect(String(error)).to.include(`${REPO}/mainpc/executor:${TAG} is not in the registry`);
        expect(ofType(T.container).map((c) => c.name)).to.not.include("ai-mainpc-executor-container");
    });

    it("deploy: takes given digests, builds nothing, verifies and runs them", async () => {
        const pinned = `${REPO}/mainpc/executor@${fakeDigest("given")}`;
        const out = run("mainpc", (raw) => {
            raw.phase = "deploy";
            raw.deploy = {
                images: Object.fromEntries(
                    Object.keys(raw.services).map((s) => [s, s === "Executor" ? pinned : `${REPO}/mainpc/x@${fakeDigest(s)}`]),
                ),
            };
        });
        expect(await finish(out)).to.equal(undefined);
        expect(ofType(T.image)).to.have.length(0);
        expect(one(T.remoteImage, "ai-mainpc-executor-image").inputs.name).to.equal(pinned);
    });

    it("deploy with no digests given: runs the images of the release tag (the rollback path), building nothing", async () => {
        const out = run("mainpc", (raw) => {
            raw.phase = "deploy";
        });
        expect(await finish(out)).to.equal(undefined);
        expect(ofType(T.image)).to.have.length(0);
        const verify = one(T.command, "svc-executor-verify-check");
        expect(unwrapSecret(verify.inputs.environment)).to.include({
            FLEET_IMAGE: `${REPO}/mainpc/executor:${TAG}`,
            FLEET_EXPECTED_DIGEST: "",
        });
        expect(ofType(T.container)).to.have.length(44);
    });

    it("names a service's repository by its image key in the build, the checks and a deploy of the release tag alike", async () => {
        const rename = (raw: any) => {
            raw.services.Executor.image = "executor_v2";
        };
        expect(await finish(run("mainpc", rename))).to.equal(undefined);
        expect(one(T.image, "svc-executor-build").inputs.tags).to.deep.equal([`${REPO}/mainpc/executor_v2:${TAG}`]);
        resetWorld();
        const out = run("mainpc", (raw) => {
            rename(raw);
            raw.phase = "deploy";
        });
        expect(await finish(out)).to.equal(undefined);
        expect(unwrapSecret(one(T.command, "svc-executor-verify-check").inputs.environment)).to.include({
            FLEET_IMAGE: `${REPO}/mainpc/executor_v2:${TAG}`,
        });
        // The checks read the same name: another service may not take it.
        expect(() =>
            fleetConfig("mainpc", (raw) => {
                rename(raw);
                raw.services.TTS.image = "executor_v2";
            }),
        ).to.throw('ai-fleet:services.TTS.image: image repository "executor_v2" is already used by Executor');
    });

    it("deploy: takes the digests a build stack exported", async () => {
        const pinned = `${REPO}/pc2/cache_manager@${fakeDigest("ci")}`;
        scenario.stackOutputs["organization/ai-fleet/ci-build"] = { images: { CacheManager: { pinned } } };
        scenario.stackOutputs["organization/ai-fleet/mainpc"] = mainpcOutputs(TAG, { healthy: true });
        const out = run("pc2", (raw) => {
            raw.phase = "deploy";
            raw.deploy = { imagesFromStack: "organization/ai-fleet/ci-build" };
            raw.services = { CacheManager: { ...raw.services.CacheManager, dependsOn: [] } };
        });
        expect(await finish(out)).to.equal(undefined);
        expect(one(T.remoteImage, "ai-pc2-cache-manager-image").inputs.name).to.equal(pinned);
    });
});
