/**
 * What the rollout unit tests share: one run of the program under the unit harness's mocks on a
 * repository stack file, and how to await it.
 */
import { expect } from "chai";
import * as pulumi from "@pulumi/pulumi";
import { deploy, FleetOutputs } from "../../deploy";
import { resolveTag } from "../../naming";
import { fleetConfig, Registered, registered, settle, T, valueOf } from "./harness";

export const TAG = "20250111-656873b3";
export const COMMIT = { sha: "656873b3e1c0ffee00112233445566778899aabb", date: new Date("2025-01-11T09:00:00Z") };
export const PASSWORD = "ghp_unit-test-token-never-in-outputs";
export const REPO = "ghcr.io/haymayndzultra/ai_system";

export function run(stack: string, edit?: (raw: any) => void): FleetOutputs {
    return deploy({
        config: fleetConfig(stack, edit),
        release: resolveTag({ forced: TAG }),
        commit: COMMIT,
        registryPassword: pulumi.secret(PASSWORD),
    });
}

/**
 * Awaits everything a stack exports, then waits until registrations stop. Returns the first error:
 * Promise.all settles on the first rejection, so outputs that wait forever behind a failed
 * resource (as the engine would never create them) do not hold the test.
 */
export async function finish(out: Pick<FleetOutputs, "images" | "canaryReport" | "gate" | "report">): Promise<unknown> {
    let error: unknown;
    try {
        await Promise.all([
            ...Object.values(out.images).map((i) => valueOf(i.pinned)),
            valueOf(out.canaryReport),
            valueOf(out.gate),
            valueOf(out.report),
        ]);
    } catch (e) {
        error = e;
    }
    await settle();
    return error;
}

export function one(type: string, name: string): Registered {
    const found = registered.filter((r) => r.type === type && r.name === name);
    expect(found, `${type} ${name}`).to.have.length(1);
    return found[0];
}

export function containerOf(service: string): Registered {
    return one(T.container, `${service}-container`);
}

/** The outputs of mainpc that pc2 reads through its StackReference: its canary report and its report. */
export function mainpcOutputs(tag: string, streamingTts: { healthy: boolean } | undefined): Record<string, unknown> {
    const tts = streamingTts && {
        service: "StreamingTTS",
        url: "http://mainpc:6563/health",
        healthy: streamingTts.healthy,
        status: streamingTts.healthy ? "ok" : "degraded",
    };
    return {
        canaryReport: { machine: "mainpc", tag, healthy: true, services: {} },
        report: { machine: "mainpc", tag, healthy: !!streamingTts?.healthy, services: tts ? { StreamingTTS: tts } : {} },
    };
}
