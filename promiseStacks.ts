/**
 * Evaluation speed: Pulumi's SDK (runtime/debuggable.js) records `new Error().stack` for every
 * promise it makes (several per output property of every resource), so that a run with
 * PULUMI_DEBUG_PROMISE_LEAKS can print where a leaked promise was made. Nothing else reads those
 * stacks, yet formatting them (through source-map-support, which the engine's language host preloads)
 * was most of the program's CPU: mainpc took 5–7 s to evaluate, ~1.3 s without (bench/RESULTS.md).
 *
 * leanPromiseStacks() wraps the SDK's debuggablePromise so that its capture records no frames. Every
 * other stack is untouched: errors from this program, the SDK and the providers keep their full
 * traces, and the SDK still counts leaked promises and reports them.
 *
 * The setting: AI_FLEET_PROMISE_STACKS=full (or PULUMI_DEBUG_PROMISE_LEAKS, which needs them)
 * leaves the SDK's per-promise stacks as they are.
 */
import * as debuggable from "@pulumi/pulumi/runtime/debuggable";

type DebuggablePromise = <T>(p: Promise<T>, ctx: unknown) => Promise<T>;

const LEAN = Symbol.for("ai-fleet.leanPromiseStacks");

/** Whether the environment asks for the SDK's per-promise stacks. */
export function wantsPromiseStacks(env: NodeJS.ProcessEnv = process.env): boolean {
    return env.AI_FLEET_PROMISE_STACKS === "full" || !!env.PULUMI_DEBUG_PROMISE_LEAKS;
}

/**
 * Installs the wrapper once (idempotent). Returns whether per-promise stacks are now lean; false when
 * the setting asks for them, or when the SDK no longer has the function (then nothing is changed).
 */
export function leanPromiseStacks(env: NodeJS.ProcessEnv = process.env): boolean {
    const mod = debuggable as unknown as { debuggablePromise?: DebuggablePromise & { [LEAN]?: true } };
    if (wantsPromiseStacks(env) || typeof mod.debuggablePromise !== "function") {
        return false;
    }
    if (mod.debuggablePromise[LEAN]) {
        return true;
    }
    const original = mod.debuggablePromise;
    const lean = (<T>(p: Promise<T>, ctx: unknown): Promise<T> => {
        const limit = Error.stackTraceLimit;
        Error.stackTraceLimit = 0;
        try {
            return original(p, ctx);
        } finally {
            Error.stackTraceLimit = limit;
        }
    }) as DebuggablePromise & { [LEAN]?: true };
    lean[LEAN] = true;
    mod.debuggablePromise = lean;
    return true;
}
