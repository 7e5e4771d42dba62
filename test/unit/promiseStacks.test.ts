/**
 * promiseStacks.ts: the SDK's per-promise stack capture is lean once installed, while errors keep
 * their full stacks and the setting brings the SDK's behaviour back. (Runs under the unit harness,
 * which installs the wrapper as index.ts does.)
 */
import { expect } from "chai";
import * as debuggableModule from "@pulumi/pulumi/runtime/debuggable";
import "./harness";
import * as pulumi from "@pulumi/pulumi";
import { leanPromiseStacks, RESOURCE_FRAMES, wantsPromiseStacks } from "../../promiseStacks";

/** The SDK marks debuggablePromise @internal, so its declaration file leaves it out. */
const debuggable = debuggableModule as unknown as { debuggablePromise<T>(p: Promise<T>, ctx: string): Promise<T> };

function nested(depth: number): Error {
    return depth === 0 ? new Error("deep") : nested(depth - 1);
}

describe("lean promise stacks", () => {
    it("records no frames for the SDK's promises once installed", async () => {
        expect(leanPromiseStacks({})).to.equal(true);
        const p = debuggable.debuggablePromise(Promise.resolve(1), "test");
        expect(await p).to.equal(1);
        // The wrapper returns the SDK's own chained promise; the capture sits on the promise it was given.
        const given = Promise.resolve(2) as Promise<number> & { _debugStackTrace?: string };
        await debuggable.debuggablePromise(given, "test");
        expect(given._debugStackTrace).to.equal("Error");
    });

    it("leaves every other stack whole, and the limit as it was", () => {
        leanPromiseStacks({});
        const before = Error.stackTraceLimit;
        debuggable.debuggablePromise(Promise.resolve(0), "test");
        expect(Error.stackTraceLimit).to.equal(before);
        const frames = String(nested(5).stack)
            .split("\n")
            .filter((l) => l.includes("nested"));
        expect(frames.length).to.be.greaterThan(5);
    });

    it("still finds a resource's source position, formatting only the innermost frames", () => {
        leanPromiseStacks({});
        const callsites = (pulumi.Resource as unknown as { callsites(): { file?: string; line?: number }[] }).callsites;
        const frames = (function deep(n: number): { file?: string; line?: number }[] {
            return n === 0 ? callsites() : deep(n - 1);
        })(30);
        expect(frames.length).to.equal(RESOURCE_FRAMES);
        expect(frames.some((f) => f.file?.endsWith("promiseStacks.test.ts") && typeof f.line === "number")).to.equal(true);
    });

    it("is asked for by AI_FLEET_PROMISE_STACKS=full or PULUMI_DEBUG_PROMISE_LEAKS", () => {
        expect(wantsPromiseStacks({})).to.equal(false);
        expect(wantsPromiseStacks({ AI_FLEET_PROMISE_STACKS: "full" })).to.equal(true);
        expect(wantsPromiseStacks({ PULUMI_DEBUG_PROMISE_LEAKS: "1" })).to.equal(true);
        expect(leanPromiseStacks({ AI_FLEET_PROMISE_STACKS: "full" })).to.equal(false);
    });
});
