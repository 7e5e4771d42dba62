/**
 * Under Pulumi mocks (harness.ts): every verification of an image built FROM a parent carries the
 * parent's pinned reference, so verify-image.js checks that the layers extend the parent's. The
 * probe itself runs against the real registry in test/integration/operatorLayout.test.ts.
 */
import { expect } from "chai";
import * as pulumi from "@pulumi/pulumi";
import { deploy } from "../../deploy";
import { resolveTag } from "../../naming";
import { fleetConfig, ofType, Registered, resetWorld, settle, T, unwrapSecret, valueOf } from "./harness";

const REPO = "ghcr.io/haymayndzultra/ai_system/mainpc";

describe("layer check wiring (mocks)", function () {
    this.timeout(60000);
    const images: Record<string, string> = {};

    before(async () => {
        resetWorld();
        const out = deploy({
            config: fleetConfig("mainpc", (raw) => (raw.phase = "build")),
            release: resolveTag({ forced: "20250111-656873b3" }),
            registryPassword: pulumi.secret("pw"),
        });
        for (const [name, image] of Object.entries(out.images)) images[name] = await valueOf(image.pinned);
        await settle();
    });

    function envOf(name: string): Record<string, string> {
        const c = ofType(T.command).find((r) => r.name === `${name}-verify`) as Registered;
        expect(c, name).to.not.equal(undefined);
        return unwrapSecret(c.inputs.environment);
    }

    it("verifies a family against its parent and a service against its family, pinned by digest, for the stack's platform", () => {
        expect(envOf("base-utils")).to.include({ FLEET_PARENT_IMAGE: images["base-python"], FLEET_PLATFORM: "linux/amd64" });
        expect(envOf("family-llm-cu121").FLEET_PARENT_IMAGE).to.equal(images["family-torch-cu121"]);
        expect(envOf("NLU").FLEET_PARENT_IMAGE).to.equal(images["legacy-py310-cpu"]);
        expect(images["legacy-py310-cpu"]).to.match(new RegExp(`^${REPO}/legacy-py310-cpu@sha256:[a-f0-9]{64}$`));
    });

    it("does not check an external base's layers (it is not in the fleet's registry)", () => {
        expect(envOf("base-python")).to.not.have.property("FLEET_PARENT_IMAGE");
        expect(envOf("base-gpu-cu121")).to.not.have.property("FLEET_PARENT_IMAGE");
    });
});
