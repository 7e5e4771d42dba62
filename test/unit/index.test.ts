/**
 * index.ts, the program `pulumi up` runs, imported under the unit mocks (harness.ts) with the
 * mainpc stack file as its config, the way the engine would hand it over.
 */
import { expect } from "chai";
import * as pulumi from "@pulumi/pulumi";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { buildEntries } from "../../buildTree/preflight";
import { fleetConfig, ofType, rawFromStackFile, resetWorld, settle, T, valueOf } from "./harness";

/**
 * A checkout laid out as Pulumi.mainpc.yaml says, every Dockerfile FROM ${BASE_IMAGE}: index.ts's
 * preflight reads the real disk, and the operator's tree is not here.
 */
function fixtureCheckout(): string {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "ai-fleet-13-checkout-"));
    for (const e of buildEntries(fleetConfig("mainpc").stack)) {
        fs.mkdirSync(path.join(dir, e.context), { recursive: true });
        fs.mkdirSync(path.dirname(path.join(dir, e.dockerfile)), { recursive: true });
        fs.writeFileSync(path.join(dir, e.dockerfile), "ARG BASE_IMAGE\nFROM ${BASE_IMAGE}\n");
    }
    return dir;
}

describe("index.ts with Pulumi.mainpc.yaml", function () {
    this.timeout(60000);
    let program: typeof import("../../index");
    const saved = { tag: process.env.FORCE_IMAGE_TAG, token: process.env.GHCR_TOKEN };
    const checkout = fixtureCheckout();

    before(async () => {
        resetWorld();
        const flat: Record<string, string> = {};
        for (const [k, v] of Object.entries(rawFromStackFile("mainpc"))) {
            flat[`ai-fleet:${k}`] = typeof v === "string" ? v : JSON.stringify(v);
        }
        flat["ai-fleet:build"] = JSON.stringify({ ...(rawFromStackFile("mainpc").build as object), contextRoot: checkout });
        pulumi.runtime.setAllConfig(flat);
        // The fixture checkout is no git repository, so the tag is pinned as an operator would.
        process.env.FORCE_IMAGE_TAG = "20250111-656873b3";
        process.env.GHCR_TOKEN = "ghp_from-the-environment";
        program = await import("../../index");
        await valueOf(program.report);
        await settle();
    });

    after(() => {
        fs.rmSync(checkout, { recursive: true, force: true });
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

    it("builds the operator's layout: services from the checkout's root with main_pc_code/agents/<dir>/Dockerfile.optimized, families from docker/", () => {
        const build = (name: string) => ofType(T.image).find((r) => r.name === name) as { inputs: Record<string, any> };
        expect(build("NLU-build").inputs.context.location).to.equal(checkout);
        expect(build("NLU-build").inputs.dockerfile.location).to.equal(`${checkout}/main_pc_code/agents/nluagent/Dockerfile.optimized`);
        expect(build("base-utils-build").inputs.context.location).to.equal(`${checkout}/docker/base-images/base-utils`);
        expect(build("family-web-build").inputs.dockerfile.location).to.equal(`${checkout}/docker/families/family-web/Dockerfile`);
    });

    it("takes the registry password from the environment variable the stack names, as a secret", async () => {
        const build = ofType(T.image)[0];
        expect(JSON.stringify(build.inputs.registries)).to.include("4dabf18193072939515e22adb298388d");
        expect(JSON.stringify(await Promise.all(Object.values(program.images).map((i) => valueOf(i.pinned))))).to.not.include(
            "ghp_from-the-environment",
        );
    });
});
