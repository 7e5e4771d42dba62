/**
 * The canary gate under Pulumi mocks (see harness.ts): what the gate does to the rest of a stack when
 * the canary fails, and how pc2 follows mainpc's report.
 */
import { expect } from "chai";
import { ofType, resetWorld, scenario, T } from "./harness";
import { finish, mainpcOutputs, run, TAG } from "./rolloutRun";

const CANARY_AND_ITS_NEEDS = [
    "ServiceRegistry",
    "SystemDigitalTwin",
    "UnifiedObservabilityCenter",
    "MemoryFusionHub",
    "ModelOpsCoordinator",
    "RealTimeAudioPipeline",
    "AffectiveProcessingCenter",
].map((s) => `${s}-container`);

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
        expect(names).to.have.length(22).and.not.include("SpeechRelayService-container");
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
