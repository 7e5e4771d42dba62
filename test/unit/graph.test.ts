/**
 * The startup dependency graph without resources: the real mainpc and pc2 stack files' levels,
 * critical paths and canary split, and the config errors a broken graph gives.
 */
import { expect } from "chai";
import { checkGraph, ConfigError, findCycle } from "../../config";
import { dependencyClosure, dependents, planRollout, rolloutPlanOf } from "../../graph";
import { fleetConfig } from "./harness";

function problems(stack: string, edit: (raw: any) => void): string[] {
    try {
        fleetConfig(stack, edit);
    } catch (e) {
        if (e instanceof ConfigError) {
            return e.issues;
        }
        throw e;
    }
    throw new Error("the config was accepted");
}

describe("the dependency graph of the real stack files", () => {
    const mainpc = rolloutPlanOf(fleetConfig("mainpc").stack);
    const pc2 = rolloutPlanOf(fleetConfig("pc2").stack);

    it("has the startup configs' six levels on each machine (mainpc 2/4/8/22/6/2, pc2 3/5/8/4/2/1)", () => {
        expect(mainpc.levels.map((l) => l.length)).to.deep.equal([2, 4, 8, 22, 6, 2]);
        expect(pc2.levels.map((l) => l.length)).to.deep.equal([3, 5, 8, 4, 2, 1]);
        expect(mainpc.levels[0]).to.deep.equal(["ServiceRegistry", "UnifiedObservabilityCenter"]);
    });

    it("rolls the canary's dependency closure out before the canary, and gates the other 37 on it", () => {
        expect(mainpc.canaryDependencies).to.deep.equal([
            "MemoryFusionHub",
            "ServiceRegistry",
            "SystemDigitalTwin",
            "UnifiedObservabilityCenter",
        ]);
        expect(mainpc.gated).to.have.length(37).and.not.include.members(["ModelOpsCoordinator", "SystemDigitalTwin"]);
        expect(mainpc.services.SelfHealingSupervisor.group).to.equal("gated");
        expect(mainpc.services.ModelOpsCoordinator.waitsFor).to.deep.equal(["SystemDigitalTwin", "UnifiedObservabilityCenter"]);
    });

    it("finds the critical path through the canary gate on mainpc and the longest chain on pc2", () => {
        expect(mainpc.criticalPath).to.deep.equal([
            "ServiceRegistry",
            "SystemDigitalTwin",
            "ModelOpsCoordinator",
            "AffectiveProcessingCenter",
            "TTS",
            "StreamingTTS",
            "Empathy",
        ]);
        expect(pc2.criticalPath).to.deep.equal([
            "UnifiedObservabilityCenter",
            "ResourceManager",
            "AsyncProcessor",
            "TaskScheduler",
            "AdvancedRouter",
            "RemoteConnector",
        ]);
        expect(mainpc.waves.map((w) => w.length)).to.deep.equal([2, 2, 1, 2, 22, 13, 2]);
    });

    it("keeps pc2's one cross-machine edge on the relay alone, and the excluded FusedAudioPreprocessor visible", () => {
        const remote = Object.values(pc2.services).filter((s) => s.remote.length > 0);
        expect(remote.map((s) => [s.name, s.remote])).to.deep.equal([
            ["SpeechRelayService", [{ stack: "mainpc", service: "StreamingTTS" }]],
        ]);
        expect(pc2.services.SpeechRelayService.waitsFor).to.deep.equal(["VisionProcessing"]);
        expect(mainpc.services.StreamingSpeechRecognition.excluded).to.deep.equal(["FusedAudioPreprocessor"]);
        expect(mainpc.services.StreamingSpeechRecognition.waitsFor).to.deep.equal(["STT", "SystemDigitalTwin"]);
    });

    it("marks the six optional mainpc services, and every pc2 service required", () => {
        const optional = Object.values(mainpc.services)
            .filter((s) => !s.required)
            .map((s) => s.name);
        expect(optional).to.have.members([
            "TinyLlamaServiceEnhanced",
            "SmartHomeAgent",
            "CognitiveModel",
            "AudioCapture",
            "StreamingSpeechRecognition",
            "ObservabilityDashboardAPI",
        ]);
        expect(Object.values(pc2.services).every((s) => s.required)).to.equal(true);
    });
});

describe("graph helpers", () => {
    const edges = { a: [], b: ["a"], c: ["b"], d: ["a"], e: ["c", "d"] };

    it("finds dependents and closures transitively", () => {
        expect([...dependents(edges, "b")].sort()).to.deep.equal(["c", "e"]);
        expect([...dependencyClosure(edges, ["e"])].sort()).to.deep.equal(["a", "b", "c", "d"]);
    });

    it("prints a cycle as its path", () => {
        expect(findCycle({ a: ["c"], b: ["a"], c: ["b"] })).to.deep.equal(["a", "c", "b", "a"]);
        expect(findCycle(edges)).to.equal(undefined);
    });

    it("refuses to plan a cycle", () => {
        const svc = (deps: string[]) => ({ dependsOn: deps, required: true });
        expect(() => planRollout({ services: { a: svc(["b"]), b: svc(["a"]) }, canary: [], excluded: {} })).to.throw(
            "dependency cycle: a → b → a",
        );
    });

    it("lets a gated service start as soon as its own dependencies and the canary are healthy: no level barrier", () => {
        const svc = (deps: string[]) => ({ dependsOn: deps, required: true });
        const plan = planRollout({
            services: { root: svc([]), slow1: svc(["root"]), slow2: svc(["slow1"]), quick: svc(["root"]), canary: svc(["root"]) },
            canary: ["canary"],
            excluded: {},
        });
        expect([plan.services.root.wave, plan.services.canary.wave]).to.deep.equal([0, 1]);
        expect(plan.services.quick.wave).to.equal(2);
        expect(plan.services.slow2.wave).to.equal(3);
        expect(plan.criticalPath).to.deep.equal(["root", "canary", "slow1", "slow2"]);
        expect(checkGraph({ services: { a: svc([]) }, canary: [], excluded: {} })).to.deep.equal([]);
    });
});

describe("dependency config errors, by key path", () => {
    it("names an unknown dependency and says how to leave one out on purpose", () => {
        const issues = problems("mainpc", (raw) => raw.services.Executor.dependsOn.push("CodeGenrator"));
        expect(issues).to.deep.equal([
            `ai-fleet:services.Executor.dependsOn.2: "CodeGenrator" names no service of this stack (known: ${Object.keys(fleetConfig("mainpc").stack.services).sort().join(", ")}); a dependency left out on purpose goes in rollout.excluded with the reason`,
        ]);
    });

    it("prints a cycle", () => {
        const issues = problems("mainpc", (raw) => (raw.services.ServiceRegistry.dependsOn = ["Executor"]));
        expect(issues).to.have.length(1);
        expect(issues[0])
            .to.match(/^ai-fleet:services\.\w+\.dependsOn: dependency cycle: /)
            .and.include("Executor → ")
            .and.include("ServiceRegistry");
    });

    it("refuses a cross-machine dependency that no gate stack can answer", () => {
        expect(problems("mainpc", (raw) => raw.services.Executor.dependsOn.push("pc2/CacheManager"))).to.deep.equal([
            'ai-fleet:services.Executor.dependsOn.2: "pc2/CacheManager" is on another machine, but no rollout.gateStack can answer for it; set rollout.gateStack to …/pc2',
        ]);
        expect(
            problems("pc2", (raw) => (raw.services.SpeechRelayService.dependsOn = ["VisionProcessing", "pc3/StreamingTTS"])),
        ).to.deep.equal([
            'ai-fleet:services.SpeechRelayService.dependsOn.1: "pc3/StreamingTTS" names stack "pc3", but rollout.gateStack is stack "mainpc": only the gate stack\'s services can be waited for',
        ]);
    });

    it("refuses a required service depending on an optional one, and an optional canary", () => {
        const issues = problems("mainpc", (raw) => {
            raw.services.SystemDigitalTwin.required = false;
            raw.rollout.canary.push("CognitiveModel");
        });
        expect(issues).to.include(
            "ai-fleet:rollout.canary.3: canary service CognitiveModel is optional (required: false); a canary must be required, or its failure would gate nothing",
        );
        expect(issues).to.include(
            "ai-fleet:services.UnifiedSystemAgent.dependsOn.0: required service UnifiedSystemAgent depends on SystemDigitalTwin, which is optional (required: false); make SystemDigitalTwin required or UnifiedSystemAgent optional",
        );
    });

    it("refuses a dependency dropped silently: without rollout.excluded, FusedAudioPreprocessor is an error", () => {
        expect(problems("mainpc", (raw) => delete raw.rollout.excluded)[0]).to.match(
            /^ai-fleet:services\.StreamingSpeechRecognition\.dependsOn\.0: "FusedAudioPreprocessor" names no service/,
        );
        expect(problems("mainpc", (raw) => (raw.rollout.excluded.Executor = "x"))).to.deep.equal([
            "ai-fleet:rollout.excluded.Executor: Executor is a service of this stack; it cannot also be excluded",
        ]);
    });

    it("reports a dependency listed twice and one on itself", () => {
        const issues = problems("mainpc", (raw) => (raw.services.Executor.dependsOn = ["Executor", "NLU", "NLU"]));
        expect(issues).to.have.members([
            "ai-fleet:services.Executor.dependsOn.0: Executor cannot depend on itself",
            'ai-fleet:services.Executor.dependsOn.2: "NLU" is listed twice',
        ]);
    });
});
