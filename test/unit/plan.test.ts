/**
 * `npm run plan`: the text and the picture an operator reads before a rollout, from the real stack
 * files, drawn by the real Graphviz (WebAssembly).
 */
import { expect } from "chai";
import { rolloutPlanOf } from "../../graph";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { planCommand, planDot, planText, renderSvg } from "../../scripts/plan";
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

    it("draws each machine of a fleet stack (Pulumi.fleet.yaml) in its own picture", async () => {
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "ai-fleet-plan-"));
        const out: string[] = [];
        const write = process.stdout.write.bind(process.stdout);
        process.stdout.write = ((chunk: string) => out.push(String(chunk)) > 0) as typeof process.stdout.write;
        let code: number;
        try {
            code = await planCommand(["--stack", "fleet", "--out", path.join(dir, "plan.svg")]);
        } finally {
            process.stdout.write = write;
        }
        expect(code).to.equal(0);
        expect(out.join("")).to.include("stack fleet: machine stack mainpc: 44 services").and.include("stack fleet: machine stack pc2:");
        expect(fs.readdirSync(dir).sort()).to.deep.equal(["plan-mainpc.svg", "plan-pc2.svg"]);
        expect(fs.readFileSync(path.join(dir, "plan-pc2.svg"), "utf8")).to.include(">SpeechRelayService</text>");
        fs.rmSync(dir, { recursive: true, force: true });
    });
});
