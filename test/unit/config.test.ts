import { expect } from "chai";
import { ConfigError, healthEndpoint, parseStackConfig, publishedPorts, rawStackConfig } from "../../config";
import { fleetConfig, rawFromStackFile } from "./harness";

const CANARY = ["ModelOpsCoordinator", "RealTimeAudioPipeline", "AffectiveProcessingCenter"];

/** Parses a copy of a repository stack file after `edit`, returning the ConfigError's issues. */
function issuesOf(stack: string, edit: (raw: any) => void): string[] {
    const raw = JSON.parse(JSON.stringify(rawFromStackFile(stack)));
    edit(raw);
    try {
        parseStackConfig(raw);
    } catch (e) {
        if (e instanceof ConfigError) {
            return e.issues;
        }
        throw e;
    }
    return [];
}

describe("stack config", () => {
    it("mainpc holds the real MainPC fleet: 44 services, the canary set first", () => {
        const { stack, profile } = fleetConfig("mainpc");
        expect(profile.machine).to.equal("mainpc");
        expect(Object.keys(stack.services)).to.have.length(44);
        expect(stack.rollout.canary).to.deep.equal(CANARY);
        expect(stack.services.ModelOpsCoordinator).to.include({ family: "family-llm-cu121", port: 7212, healthPort: 8212 });
        expect(stack.services.FaceRecognitionAgent).to.include({ family: "family-vision-cu121", port: 5610, healthPort: 6610 });
        expect(stack.services.Chitchat).to.include({ family: "legacy-py310-cpu", port: 5711, healthPort: 6711 });
        expect(stack.families["base-cpu-pydeps"].parent).to.equal("base-utils");
        expect(stack.build.cache).to.deep.equal({ ref: "ghcr.io/haymayndzultra/cache", mode: "max" });
    });

    it("pc2 holds the real PC2 fleet (23 services) and gates on mainpc's canary", () => {
        const { stack, profile } = fleetConfig("pc2");
        expect(profile.env.TORCH_CUDA_ARCH_LIST).to.equal("8.6");
        expect(Object.keys(stack.services)).to.have.length(23);
        expect(stack.services.RealTimeAudioPipelinePC2).to.include({ family: "family-torch-cu121", port: 5557, healthPort: 6557 });
        expect(stack.services.DreamingMode).to.include({ family: "family-vision-cu121", port: 7127, healthPort: 8127 });
        expect(stack.rollout.gateStack).to.equal("organization/ai-fleet/mainpc");
    });

    it("keeps container ports apart from host ports where the fleet's code listens elsewhere", () => {
        const { stack } = fleetConfig("mainpc");
        expect(publishedPorts(stack.services.ModelOpsCoordinator)).to.deep.equal([
            { container: 7211, host: 7212, protocol: "tcp" },
            { container: 7212, host: 8212, protocol: "tcp" },
            { container: 8008, host: 8213, protocol: "tcp" },
        ]);
        expect(healthEndpoint(stack.services.ModelOpsCoordinator)).to.deep.equal({ hostPort: 8213, containerPort: 8008, path: "/health" });
        // RealTimeAudioPipeline's websocket 5802 is DynamicIdentity's host port: it must not be published as 5802.
        expect(publishedPorts(stack.services.RealTimeAudioPipeline).map((p) => p.host)).to.not.include(5802);
        expect(publishedPorts(stack.services.DynamicIdentity).map((p) => p.host)).to.include(5802);
    });

    it("fills defaults in one place: hardening, health path, rollout bounds", () => {
        const { stack } = fleetConfig("mainpc");
        expect(stack.services.Executor.hardening).to.deep.equal({
            user: "10001:10001", init: true, readOnlyRoot: true, tmpfs: ["/tmp"], noNewPrivileges: true, dropAllCapabilities: true,
        });
        expect(stack.services.Executor.health.path).to.equal("/health");
        expect(stack.phase).to.equal("all");
        expect(stack.rollout.health.timeoutSeconds).to.equal(300);
    });

    it("returns a frozen config", () => {
        const cfg = fleetConfig("mainpc");
        expect(Object.isFrozen(cfg.stack.services.Executor)).to.equal(true);
    });

    it("reads structured values from Pulumi's flat config and leaves secrets out", () => {
        const raw = rawStackConfig({
            "ai-fleet:machine": "pc2",
            "ai-fleet:rollout": '{"canary":["A"]}',
            "ai-fleet:registryPassword": "hunter2",
            "other:key": "x",
        });
        expect(raw).to.deep.equal({ machine: "pc2", rollout: { canary: ["A"] } });
    });

    // The table of broken stack files: each edit of the real mainpc file, and what the operator reads.
    const broken: [string, (raw: any) => void, string][] = [
        ["a misspelt top-level key", (r) => { r.servces = {}; }, 'ai-fleet:<root>: Unrecognized key: "servces"'],
        ["a port given as a string", (r) => { r.services.Executor.port = "5606"; }, "ai-fleet:services.Executor.port: Invalid input: expected number, received string"],
        ["a port out of range", (r) => { r.services.Executor.port = 70000; }, "ai-fleet:services.Executor.port: Too big: expected number to be <=65535"],
        ["an unknown key in a service", (r) => { r.services.Executor.replicas = 2; }, 'ai-fleet:services.Executor: Unrecognized key: "replicas"'],
        ["a service of an unknown family", (r) => { r.services.Executor.family = "family-rust"; }, 'ai-fleet:services.Executor.family: unknown family "family-rust"'],
        ["a family cycle", (r) => { r.families["base-python"] = { parent: "base-cpu-pydeps" }; }, "ai-fleet:families.base-cpu-pydeps.parent: family cycle: base-cpu-pydeps → base-utils → base-python → base-cpu-pydeps"],
        ["a family with an unknown parent", (r) => { r.families["family-web"].parent = "base-node"; }, 'ai-fleet:families.family-web.parent: unknown family "base-node"'],
        ["a family with both parent and baseImage", (r) => { r.families["family-web"].baseImage = "python:3.11-slim"; }, "ai-fleet:families.family-web: expected exactly one of 'parent' (another family) or 'baseImage' (an external image)"],
        ["a base image with two tags", (r) => { r.families["base-python"].baseImage = "base-python:3.11-slim:20250111-656873b3"; }, "ai-fleet:families.base-python.baseImage: expected an image reference [registry/]repository[:tag][@sha256:digest] with one tag at most"],
        ["a canary entry naming no service", (r) => { r.rollout.canary.push("ModelOpsCoordinatr"); }, 'ai-fleet:rollout.canary.3: canary entry "ModelOpsCoordinatr" names no service'],
        ["two services on one host port (fleet defect 7)", (r) => { r.services.RealTimeAudioPipeline.ports[2].host = 5802; r.services.RealTimeAudioPipeline.health.hostPort = 5802; }, "ai-fleet:services.DynamicIdentity.ports: host port 5802/tcp is already bound by RealTimeAudioPipeline on this machine"],
        ["an HTTP health port on another service's port", (r) => { delete r.services.ProactiveAgent.health; }, "ai-fleet:services.ProactiveAgent.ports: host port 6625/tcp is already bound by ToneDetector on this machine"],
        ["a health port nobody publishes", (r) => { r.services.ModelOpsCoordinator.health.hostPort = 8214; }, "ai-fleet:services.ModelOpsCoordinator.health.hostPort: health host port 8214 is not among the service's published tcp host ports (7212, 8212, 8213)"],
        ["a health path without /", (r) => { r.services.Executor.health = { path: "health" }; }, "ai-fleet:services.Executor.health.path: expected a path starting with /"],
        ["a Docker host that is no URL", (r) => { r.docker.host = "mainpc:2375"; }, "ai-fleet:docker.host: expected ssh://user@host, unix:///path/to/docker.sock or tcp://host:port"],
        ["an unknown machine profile", (r) => { r.machine = "pc3"; }, 'ai-fleet:machine: no machine profile "pc3"'],
        ["a GPU request on a machine without GPU", (r) => { r.machine = "local"; }, 'ai-fleet:services.ModelOpsCoordinator.gpu: machine "local" has no GPU in its profile; set gpu: false'],
        ["a cache mode buildx does not know", (r) => { r.build.cache.mode = "all"; }, 'ai-fleet:build.cache.mode: Invalid option: expected one of "max"|"min"'],
        ["a batch with no gate at all", (r) => { r.rollout.canary = []; }, "ai-fleet:rollout.canary: no canary and no gateStack: the batch would roll out ungated"],
        ["a user that is not UID:GID", (r) => { r.services.Executor.hardening = { user: "appuser" }; }, "ai-fleet:services.Executor.hardening.user: expected UID:GID in numbers, e.g. 10001:10001"],
        ["an uppercase image repository", (r) => { r.services.Executor.image = "Executor"; }, "ai-fleet:services.Executor.image: expected a lowercase repository name component"],
        ["a deploy image not pinned by digest", (r) => { r.phase = "deploy"; r.deploy = { images: { Executor: "ghcr.io/haymayndzultra/ai_system/mainpc/executor:20250111-656873b3" } }; }, "ai-fleet:deploy.images.Executor: expected a reference pinned by @sha256:digest"],
    ];
    for (const [what, edit, message] of broken) {
        it(`rejects ${what}`, () => {
            const issues = issuesOf("mainpc", edit);
            expect(issues.join("\n")).to.include(message);
        });
    }

    it("reports every problem of a stack file at once, before any resource exists", () => {
        const issues = issuesOf("mainpc", (r) => {
            r.services.Executor.port = "5606";
            r.rollout.canary.push("Nobody");
            r.families["base-python"].baseImage = "a:b:c";
        });
        expect(issues.map((i) => i.split(": ")[0]).sort()).to.deep.equal([
            "ai-fleet:families.base-python.baseImage",
            "ai-fleet:rollout.canary.3",
            "ai-fleet:services.Executor.port",
        ]);
    });

    it("says how many problems there are and lists each on its own line", () => {
        try {
            parseStackConfig({ machine: "mainpc" });
            expect.fail("parsed a config without docker, registry, build, families or services");
        } catch (e) {
            expect(e).to.be.instanceOf(ConfigError);
            const msg = (e as Error).message;
            expect(msg).to.match(/^invalid stack config \(5 problems\):/);
            for (const key of ["docker", "registry", "build", "families", "services"]) {
                expect(msg).to.match(new RegExp(`\n  - ai-fleet:${key}: Invalid input: expected (object|record), received undefined`));
            }
        }
    });
});
