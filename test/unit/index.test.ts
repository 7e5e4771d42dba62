/**
 * index.ts, the program `pulumi up` runs, imported under the unit mocks (harness.ts) with the
 * mainpc stack file as its config, the way the engine would hand it over.
 */
import { expect } from "chai";
import * as pulumi from "@pulumi/pulumi";
import { ofType, rawFromStackFile, resetWorld, settle, T, valueOf } from "./harness";

describe("index.ts with Pulumi.mainpc.yaml", function () {
    this.timeout(60000);
    let program: typeof import("../../index");
    const saved = { tag: process.env.FORCE_IMAGE_TAG, token: process.env.GHCR_TOKEN };

    before(async () => {
        resetWorld();
        const flat: Record<string, string> = {};
        for (const [k, v] of Object.entries(rawFromStackFile("mainpc"))) {
            flat[`ai-fleet:${k}`] = typeof v === "string" ? v : JSON.stringify(v);
        }
        pulumi.runtime.setAllConfig(flat);
        // The build contexts (../ai_system) are not checked out here, so the tag is pinned as an operator would.
        process.env.FORCE_IMAGE_TAG = "20250111-656873b3";
        process.env.GHCR_TOKEN = "ghp_from-the-environment";
        program = await import("../../index");
        await valueOf(program.report);
        await settle();
    });

    after(() => {
        process.env.FORCE_IMAGE_TAG = saved.tag;
        process.env.GHCR_TOKEN = saved.token;
        if (saved.tag === undefined) delete process.env.FORCE_IMAGE_TAG;
        if (saved.token === undefined) delete process.env.GHCR_TOKEN;
    });

    it("exports the pinned tag, its source, the images, the containers and the reports", async () => {
        expect(program.machine).to.equal("mainpc");
        expect(program.tag).to.equal("20250111-656873b3");
        expect(program.tagSource).to.equal("FORCE_IMAGE_TAG");
        expect(Object.keys(program.images)).to.include.members(["family-llm-cu121", "ModelOpsCoordinator", "FaceRecognitionAgent"]);
        expect(program.containers).to.have.length(44);
        expect(program.plan?.canary).to.deep.equal(["ModelOpsCoordinator", "RealTimeAudioPipeline", "AffectiveProcessingCenter"]);
        expect(program.plan?.gated).to.have.length(37);
        expect(await valueOf(program.gate)).to.equal("passed");
        expect((await valueOf(program.canaryReport))?.healthy).to.equal(true);
    });

    it("registers the whole Phase 4 rollout: 53 builds, 44 containers on one Docker host", () => {
        expect(ofType(T.image)).to.have.length(53);
        expect(ofType(T.container)).to.have.length(44);
        const providers = ofType(T.provider);
        expect(providers).to.have.length(1);
        expect(providers[0].inputs.host).to.equal("ssh://ai@mainpc");
    });

    it("takes the registry password from the environment variable the stack names, as a secret", async () => {
        const build = ofType(T.image)[0];
        expect(JSON.stringify(build.inputs.registries)).to.include("4dabf18193072939515e22adb298388d");
        expect(JSON.stringify(await Promise.all(Object.values(program.images).map((i) => valueOf(i.pinned))))).to.not.include("ghp_from-the-environment");
    });
});
