import { expect } from "chai";
import * as pulumi from "@pulumi/pulumi";
import { pinnedRefValue } from "../../components/buildSpec";
import { containerName, imageRepository, kebab, parseImageRef, resolveTag, snake } from "../../naming";

describe("names, image references and tags", () => {
    it("derives container and repository names from service names", () => {
        expect(kebab("ModelOpsCoordinator")).to.equal("model-ops-coordinator");
        expect(snake("ModelOpsCoordinator")).to.equal("model_ops_coordinator");
        expect(kebab("RealTimeAudioPipelinePC2")).to.equal("real-time-audio-pipeline-pc2");
        expect(snake("NLU")).to.equal("nlu");
        expect(containerName("mainpc", "STT")).to.equal("ai-mainpc-stt");
    });

    const refs: [string, boolean][] = [
        ["python:3.11-slim", true],
        ["nvidia/cuda:12.1.1-runtime-ubuntu22.04", true],
        ["ghcr.io/haymayndzultra/family-llm-cu121:20250111-656873b3", true],
        ["127.0.0.1:5000/ai/base@sha256:" + "a".repeat(64), true],
        ["localhost/x:1", true],
        ["base-python:3.11-slim:20250111-656873b3", false],
        ["ghcr.io/Org/Upper:1", false],
        ["ghcr.io/org/x:tag@sha256:short", false],
        ["", false],
    ];
    for (const [ref, ok] of refs) {
        it(`${ok ? "accepts" : "rejects"} image reference "${ref}"`, () => {
            expect(parseImageRef(ref) !== undefined).to.equal(ok);
        });
    }

    it("splits a reference into registry, repository, tag and digest", () => {
        expect(parseImageRef("127.0.0.1:5000/ai/svc:t1")).to.deep.equal({
            registry: "127.0.0.1:5000",
            repository: "ai/svc",
            tag: "t1",
            digest: undefined,
        });
        expect(parseImageRef("nvidia/cuda:12.1.1")).to.deep.equal({
            registry: undefined,
            repository: "nvidia/cuda",
            tag: "12.1.1",
            digest: undefined,
        });
    });

    it("tags with the commit's own date (UTC) and an 8-character SHA", () => {
        const commit = { sha: "656873b3e1c0ffee00112233445566778899aabb", date: new Date("2025-01-11T09:00:00Z") };
        expect(resolveTag({ commit })).to.deep.equal({ tag: "20250111-656873b3", source: "commit" });
        // A commit made late on the 11th in UTC-5 is the 12th in UTC: the tag does not depend on the builder's time zone.
        expect(resolveTag({ commit: { ...commit, date: new Date("2025-01-11T23:30:00-05:00") } }).tag).to.equal("20250112-656873b3");
    });

    it("gives the same commit the same tag on any later day", () => {
        const commit = { sha: "656873b3ffffffff", date: new Date("2025-01-11T09:00:00Z") };
        const first = resolveTag({ commit });
        const realNow = Date.now;
        Date.now = () => realNow() + 3 * 24 * 3600 * 1000;
        try {
            expect(resolveTag({ commit })).to.deep.equal(first);
        } finally {
            Date.now = realNow;
        }
    });

    it("lets FORCE_IMAGE_TAG override the tag, and rejects one Docker would refuse", () => {
        const commit = { sha: "656873b3ffffffff", date: new Date("2025-01-11T09:00:00Z") };
        expect(resolveTag({ forced: "20250111-656873b3", commit })).to.deep.equal({ tag: "20250111-656873b3", source: "FORCE_IMAGE_TAG" });
        expect(resolveTag({ forced: "  ", commit }).source).to.equal("commit");
        expect(() => resolveTag({ forced: "bad:tag", commit })).to.throw(/FORCE_IMAGE_TAG="bad:tag" is not a valid image tag/);
        expect(() => resolveTag({})).to.throw(/not a git checkout and FORCE_IMAGE_TAG is not set/);
    });

    it("puts the machine into every repository path, so mainpc and pc2 builds never share a tag", () => {
        const layout = { host: "ghcr.io", org: "haymayndzultra", namespace: "ai_system" };
        const a = `${imageRepository(layout, "mainpc", "model_ops_coordinator")}:${resolveTag({ forced: "t1" }).tag}`;
        const b = `${imageRepository(layout, "pc2", "model_ops_coordinator")}:${resolveTag({ forced: "t1" }).tag}`;
        expect(a).to.equal("ghcr.io/haymayndzultra/ai_system/mainpc/model_ops_coordinator:t1");
        expect(a).to.not.equal(b);
    });
});

describe("pinned references", () => {
    const digest = "sha256:" + "b".repeat(64);

    it("pins a repository by the digest the build pushed", () => {
        expect(pinnedRefValue("127.0.0.1:5000/a/local/x", digest, false)).to.equal(`127.0.0.1:5000/a/local/x@${digest}`);
    });

    it("is unknown in a preview of an image that must be rebuilt (docker-build reports an empty digest there)", () => {
        expect(pulumi.isUnknown(pinnedRefValue("r/x", "", true))).to.equal(true);
    });

    it("fails outside a preview when nothing was pushed", () => {
        expect(() => pinnedRefValue("r/x", "", false)).to.throw('image r/x has no pushed digest (got "")');
        expect(() => pinnedRefValue("r/x", "sha256:short", true)).to.throw("has no pushed digest");
    });
});
