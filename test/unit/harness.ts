/**
 * UNIT-TEST HARNESS: Pulumi's mock monitor stands in for the engine and every provider, so no CLI,
 * plugin or Docker engine is needed. The mocks' answers live in testkit/mocks.ts (shared with the
 * bench); this module installs them as index.ts would run (leanPromiseStacks first) and keeps the
 * helpers the unit tests import from here.
 */
import * as pulumi from "@pulumi/pulumi";
import { leanPromiseStacks } from "../../promiseStacks";
import { FleetConfig, parseStackConfig } from "../../config";
import { readStackFile } from "../../stackFile";
import { installMocks, registered, Registered } from "../../testkit/mocks";

export { fakeDigest, registered, resetWorld, scenario, unwrapSecret } from "../../testkit/mocks";
export type { Registered, Scenario } from "../../testkit/mocks";

// As index.ts does: the SDK's per-promise stacks are most of an evaluation's cost.
leanPromiseStacks();
installMocks("unit");

/** Resolves an Output's value (rejects if it failed). */
export function valueOf<T>(o: pulumi.Input<T> | undefined): Promise<T> {
    return new Promise<T>((resolve, reject) => {
        const out = pulumi.output(o) as pulumi.Output<T>;
        // The SDK's promise() is internal; going through apply would turn a failure into a hang.
        (out as unknown as { promise(): Promise<T> }).promise().then(resolve, reject);
    });
}

/** Whether an Output is secret. */
export function isSecret(o: pulumi.Output<unknown>): Promise<boolean> {
    return (o as unknown as { isSecret: Promise<boolean> }).isSecret;
}

/**
 * Waits until the program's registrations are done: the SDK's outstanding RPCs are drained and no
 * new resource was registered for `quietMs` after that (an Output resolving can register more).
 */
export async function settle(quietMs = 20, maxMs = 10000): Promise<void> {
    const waitForRPCs = (pulumi.runtime as unknown as { waitForRPCs(): Promise<void> }).waitForRPCs;
    const start = Date.now();
    let count = -1;
    while (Date.now() - start < maxMs) {
        // A failed registration (a scenario's failed check) rejects; what matters here is that it ended.
        // Registrations behind a failed one never end, so the drain is bounded by the quiet period.
        await Promise.race([waitForRPCs().catch(() => undefined), new Promise((r) => setTimeout(r, quietMs * 5))]);
        if (registered.length === count) {
            return;
        }
        count = registered.length;
        await new Promise((r) => setTimeout(r, quietMs));
    }
    throw new Error("resource registrations did not settle");
}

/** A stack file's `ai-fleet:` keys without the prefix: the raw input of parseStackConfig. */
export function rawFromStackFile(stack: string): Record<string, any> {
    return readStackFile(stack);
}

/** Parsed config of a repository stack file, optionally changed first. */
export function fleetConfig(stack: string, edit?: (raw: Record<string, any>) => void): FleetConfig {
    const raw = JSON.parse(JSON.stringify(rawFromStackFile(stack)));
    edit?.(raw);
    return parseStackConfig(raw);
}

/** Resources of one type. */
export function ofType(type: string): Registered[] {
    return registered.filter((r) => r.type === type);
}

export const T = {
    image: "docker-build:index:Image",
    command: "command:local:Command",
    container: "docker:index/container:Container",
    remoteImage: "docker:index/remoteImage:RemoteImage",
    network: "docker:index/network:Network",
    provider: "pulumi:providers:docker",
} as const;
