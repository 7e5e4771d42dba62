/**
 * `npm run plan`: the text and the picture an operator reads before a rollout, from the real stack
 * files, drawn by the real Graphviz (WebAssembly).
 */
import { expect } from "chai";
import { rolloutPlanOf } from "../../graph";
import { planDot, planText, renderSvg } from "../../scripts/plan";
import { fleetConfig } from "./harness";

describe("npm run plan", function () {
    this.timeout(30000);

    it("prints mainpc's levels, critical path, canary split and the excluded dependency", () => {
        const { stack } = fleetConfig("mainpc");
        const text = planText("mainpc", stack, rolloutPlanOf(stack));
        expect(text).to.include("stack mainpc: 44 services, 6 dependency levels (2 / 4 / 8 / 22 / 6 / 2)");
        expect(text).to.include(
            "critical path (7 health checks one after another): ServiceRegistry → SystemDigitalTwin → ModelOpsCoordinator → AffectiveProcessingCenter → TTS → StreamingTTS → Empathy",
        );
        expect(text).to.include("needs first (4): MemoryFusionHub, ServiceRegistry, SystemDigitalTwin, UnifiedObservabilityCenter");
        expect(text).to.include("gates (37): ");
        expect(text).to.include("excluded: StreamingSpeechRecognition lists FusedAudioPreprocessor");
    });

    it("prints pc2's cross-machine edge and its gate stack", () => {
        const { stack } = fleetConfig("pc2");
        const text = planText("pc2", stack, rolloutPlanOf(stack));
        expect(text).to.include("cross-machine: SpeechRelayService waits for StreamingTTS on mainpc");
        expect(text).to.include("gate stack: organization/ai-fleet/mainpc");
    });

    it("draws every service, the gate and the critical path as SVG", async () => {
        const { stack } = fleetConfig("mainpc");
        const plan = rolloutPlanOf(stack);
        const svg = await renderSvg(planDot("mainpc", stack, plan));
        expect(svg).to.match(/^<\?xml[\s\S]*<svg[\s\S]*<\/svg>\s*$/);
        for (const name of Object.keys(stack.services)) {
            expect(svg, name).to.include(`>${name}</text>`);
        }
        expect(svg).to.include(">canary gate</text>").and.include("FusedAudioPreprocessor");
        expect((svg.match(/<path[^>]*stroke="#d62728"/g) ?? []).length, "critical path edges (one path each)").to.equal(
            plan.criticalPath.length - 1,
        );
    });
});
