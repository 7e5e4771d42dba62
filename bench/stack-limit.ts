/**
 * BENCH PRELOAD (a lever, measured in part 5): sets Error.stackTraceLimit after mocha has set it
 * to Infinity (mocha's cli does that at start), so every stack Pulumi captures per promise
 * (debuggablePromise) is cut to BENCH_STACK_TRACE_LIMIT frames (default 10, Node's own default).
 *   npx mocha --no-config -r ts-node/register/transpile-only -r ./bench/stack-limit.ts …
 */
Error.stackTraceLimit = Number(process.env.BENCH_STACK_TRACE_LIMIT ?? "10");
