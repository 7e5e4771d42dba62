/**
 * Evaluation speed: Pulumi's SDK records stack traces that this program never reads, and formatting
 * them (through source-map-support, which the engine's language host preloads) was most of its CPU:
 * - runtime/debuggable.js takes `new Error().stack` for every promise it makes (several per output
 *   property of every resource), so that a run with PULUMI_DEBUG_PROMISE_LEAKS can print where a
 *   leaked promise was made;
 * - Resource.callsites() formats the whole stack (no frame limit) for every resource, to send the
 *   engine the resource's source position (the first frame outside the SDK) and the stack above it.
 *
 * leanPromiseStacks() makes the first record no frames and the second format only the innermost
 * RESOURCE_FRAMES frames, which still hold the source position. Every other stack is untouched:
 * errors from this program, the SDK and the providers keep their full traces, and the SDK still
 * counts leaked promises and fails a run that leaks them.
 *
 * The setting: AI_FLEET_PROMISE_STACKS=full (or PULUMI_DEBUG_PROMISE_LEAKS, which needs them)
 * leaves both as the SDK makes them.
 */
import * as pulumi from "@pulumi/pulumi";
import * as debuggable from "@pulumi/pulumi/runtime/debuggable";

/** Frames formatted per resource: the SDK skips its own four, the fifth is the source position. */
export const RESOURCE_FRAMES = 12;

type Prepare = (error: Error, frames: NodeJS.CallSite[]) => unknown;

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
    leanResourceStacks();
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

/** Resource.callsites() with only the innermost RESOURCE_FRAMES frames formatted. */
function leanResourceStacks(): void {
    const resource = pulumi.Resource as unknown as { callsites?: (() => unknown) & { [LEAN]?: true } };
    const original = resource.callsites;
    if (typeof original !== "function" || original[LEAN]) {
        return;
    }
    const lean = function (this: unknown): unknown {
        const holder = Error as { prepareStackTrace?: Prepare };
        const prepare = holder.prepareStackTrace;
        holder.prepareStackTrace = (error: Error, frames: NodeJS.CallSite[]) => {
            const kept = frames.slice(0, RESOURCE_FRAMES);
            return prepare ? prepare(error, kept) : `${error}${kept.map((f) => `\n    at ${f}`).join("")}`;
        };
        try {
            return original.call(this);
        } finally {
            holder.prepareStackTrace = prepare;
        }
    } as (() => unknown) & { [LEAN]?: true };
    lean[LEAN] = true;
    resource.callsites = lean;
}
