/**
 * The build and deploy phases under Pulumi mocks (see harness.ts): what each phase builds, verifies
 * and runs.
 */
import { expect } from "chai";
import { fakeDigest, fleetConfig, ofType, resetWorld, scenario, T, unwrapSecret } from "./harness";
import { finish, mainpcOutputs, one, REPO, run, TAG } from "./rolloutRun";

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
        expect(ofType(T.container).map((c) => c.name)).to.not.include("Executor-container");
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
        expect(one(T.remoteImage, "Executor-image").inputs.name).to.equal(pinned);
    });

    it("deploy with no digests given: runs the images of the release tag (the rollback path), building nothing", async () => {
        const out = run("mainpc", (raw) => {
            raw.phase = "deploy";
        });
        expect(await finish(out)).to.equal(undefined);
        expect(ofType(T.image)).to.have.length(0);
        const verify = one(T.command, "Executor-verify");
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
        expect(one(T.image, "Executor-build").inputs.tags).to.deep.equal([`${REPO}/mainpc/executor_v2:${TAG}`]);
        resetWorld();
        const out = run("mainpc", (raw) => {
            rename(raw);
            raw.phase = "deploy";
        });
        expect(await finish(out)).to.equal(undefined);
        expect(unwrapSecret(one(T.command, "Executor-verify").inputs.environment)).to.include({
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
        expect(one(T.remoteImage, "CacheManager-image").inputs.name).to.equal(pinned);
    });
});
