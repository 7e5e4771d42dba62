/**
 * BENCH CHILD (part "program"): evaluates the fleet program once under the shared Pulumi mocks
 * (testkit/mocks.ts: no engine) and prints one line `BENCH_RESULT {json}`: phase times, peak RSS and
 * heap figures. bench/evaluation.ts starts one process per measurement, under bench/host.js (the
 * language host's loader: source-map-support + ts-node), as index.ts runs under `pulumi up`.
 *
 *   node bench/host.js bench/program.ts stack <mainpc|pc2|local>   deploy() with Pulumi.<stack>.yaml
 *   node bench/host.js bench/program.ts generated <N>               N generated services on mainpc's families
 *   node bench/host.js bench/program.ts empty                       the same loader and mocks, no resource
 *
 * As index.ts does, leanPromiseStacks() is installed before any resource; AI_FLEET_PROMISE_STACKS=full
 * turns it off (the SDK's own per-promise stacks). BENCH_HEAP_SNAPSHOT=<file> also writes a V8 heap
 * snapshot once the graph is resolved (open it in Chrome DevTools → Memory); BENCH_CPU_PROFILE=<file>
 * writes a CPU profile of the evaluation alone (from the modules loaded to the graph resolved).
 *
 * Modules are loaded with require() (not hoisted imports) so that their load time stays apart from
 * the evaluation: evaluation = from the modules loaded to the whole graph resolved.
 */
import * as fs from "fs";
import * as inspector from "inspector";
import { performance } from "perf_hooks";
import * as path from "path";
import * as v8 from "v8";

const bootMs = performance.now();
const TAG = "20250111-656873b3";

/** Peak heap in use, sampled every 25 ms while the event loop turns (a lower bound of the true peak). */
const heapPeak = { usedBytes: 0, totalBytes: 0 };
const sampler = setInterval(() => {
    const h = process.memoryUsage();
    heapPeak.usedBytes = Math.max(heapPeak.usedBytes, h.heapUsed);
    heapPeak.totalBytes = Math.max(heapPeak.totalBytes, h.heapTotal);
}, 25);

/** The in-process profiler of BENCH_CPU_PROFILE (the inspector session dispatches synchronously). */
let profiler: inspector.Session | undefined;

function startProfile(): void {
    if (process.env.BENCH_CPU_PROFILE) {
        profiler = new inspector.Session();
        profiler.connect();
        profiler.post("Profiler.enable");
        profiler.post("Profiler.setSamplingInterval", { interval: 500 });
        profiler.post("Profiler.start");
    }
}

function stopProfile(then: () => void): void {
    if (!profiler) {
        then();
        return;
    }
    profiler.post("Profiler.stop", (err, r) => {
        if (err) {
            process.stderr.write(`profile failed: ${err.message}\n`);
            process.exit(1);
        }
        fs.writeFileSync(process.env.BENCH_CPU_PROFILE as string, JSON.stringify(r.profile));
        then();
    });
}

function main(): void {
    const [mode, arg] = process.argv.slice(2);
    const pulumi = require("@pulumi/pulumi") as typeof import("@pulumi/pulumi");
    const mocks = require("../testkit/mocks") as typeof import("../testkit/mocks");
    const { leanPromiseStacks } = require("../promiseStacks") as typeof import("../promiseStacks");
    const stackFile = require("../stackFile") as typeof import("../stackFile");
    const program =
        mode === "empty"
            ? undefined
            : {
                  config: require("../config") as typeof import("../config"),
                  profiles: require("../profiles/schema") as typeof import("../profiles/schema"),
                  deploy: (require("../deploy") as typeof import("../deploy")).deploy,
              };
    const loadMs = performance.now();
    const cpuAtLoad = process.cpuUsage();
    startProfile();

    // As index.ts: before any resource.
    const lean = leanPromiseStacks();
    mocks.recording.enabled = false; // the bench counts registrations; keeping every input would be memory of its own
    mocks.installMocks(mode === "stack" ? arg : "bench");
    const waitForRPCs = (pulumi.runtime as unknown as { waitForRPCs(): Promise<void> }).waitForRPCs;
    if (!program) {
        waitForRPCs().then(() => {
            const cpu = process.cpuUsage(cpuAtLoad);
            const phases = { bootMs, loadMs, doneMs: performance.now(), evalCpuMs: (cpu.user + cpu.system) / 1000 };
            report({ mode, services: 0, lean, ...phases }, mocks.recording.count);
        });
        return;
    }
    const raw = mode === "stack" ? rawStack(stackFile, arg) : mode === "generated" ? generated(stackFile, Number(arg)) : undefined;
    if (!raw) {
        throw new Error(`usage: program.ts stack <name> | generated <N> | empty (got ${process.argv.slice(2).join(" ")})`);
    }
    const config = program.config.parseStackConfig(raw, (m) =>
        program.profiles.loadProfile(m, path.join(stackFile.PROJECT_DIR, "profiles")),
    );
    const gateStack = config.stack.rollout.gateStack;
    if (gateStack) {
        // The gate stack rolled out this release, every service of it healthy (as the unit tests' order suite says).
        const services = Object.keys(stackFile.readStackFile(gateStack.split("/").pop() as string).services as object);
        const entry = (s: string) => [s, { service: s, healthy: true, url: "u", status: "ok" }];
        const report = { machine: "gate", tag: TAG, healthy: true, services: Object.fromEntries(services.map(entry)) };
        mocks.scenario.stackOutputs[gateStack] = { canaryReport: report, report };
    }
    const parsedMs = performance.now();
    const fleet = program.deploy({ config, release: { tag: TAG, source: "FORCE_IMAGE_TAG" }, registryPassword: pulumi.secret("bench") });
    const registeredMs = performance.now();

    // Every Output the stack would export, awaited (a rejection fails the measurement), then every
    // outstanding registration: the whole graph is evaluated, not only what is exported.
    const outputs: Promise<unknown>[] = [];
    const collect = (v: unknown): void => {
        if (pulumi.Output.isInstance(v)) {
            outputs.push((v as unknown as { promise(): Promise<unknown> }).promise());
        } else if (Array.isArray(v)) {
            v.forEach(collect);
        } else if (v !== null && typeof v === "object") {
            Object.values(v).forEach(collect);
        }
    };
    collect(fleet);
    Promise.all(outputs)
        .then(async (values) => {
            await waitForRPCs();
            const services = Object.keys(config.stack.services).length;
            const cpu = process.cpuUsage(cpuAtLoad);
            const phases = { bootMs, loadMs, parsedMs, registeredMs, doneMs: performance.now(), evalCpuMs: (cpu.user + cpu.system) / 1000 };
            report({ mode, arg, services, outputs: values.length, lean, ...phases }, mocks.recording.count);
        })
        .catch((e) => {
            process.stderr.write(`evaluation failed: ${e instanceof Error ? e.stack : String(e)}\n`);
            process.exit(1);
        });
}

/** The `ai-fleet:` keys of a repository stack file (a deep copy: the generator edits it). */
function rawStack(stackFile: typeof import("../stackFile"), stack: string): Record<string, any> {
    return JSON.parse(JSON.stringify(stackFile.readStackFile(stack)));
}

/** mainpc's stack with its services replaced by `n` generated ones, spread over mainpc's families; three canaries. */
function generated(stackFile: typeof import("../stackFile"), n: number): Record<string, any> {
    const raw = rawStack(stackFile, "mainpc");
    const families = Object.keys(raw.families).sort();
    const services: Record<string, unknown> = {};
    for (let i = 0; i < n; i++) {
        const base = 20000 + i * 3;
        services[`Svc${String(i).padStart(4, "0")}`] = {
            family: families[i % families.length],
            port: base,
            healthPort: base + 1,
            gpu: false,
        };
    }
    raw.services = services;
    raw.rollout = { ...raw.rollout, canary: Object.keys(services).slice(0, Math.min(3, n)) };
    return raw;
}

function report(r: Record<string, unknown>, resources: number): void {
    clearInterval(sampler);
    stopProfile(() => write(r, resources));
}

function write(r: Record<string, unknown>, resources: number): void {
    const usage = process.resourceUsage();
    const mem = process.memoryUsage();
    const heap = v8.getHeapStatistics();
    const MB = 1048576;
    const result = {
        ...r,
        resources,
        maxRssKB: usage.maxRSS,
        userCpuMs: usage.userCPUTime / 1000,
        systemCpuMs: usage.systemCPUTime / 1000,
        memory: {
            rssMB: mem.rss / MB,
            heapUsedMB: mem.heapUsed / MB,
            heapTotalMB: mem.heapTotal / MB,
            externalMB: mem.external / MB,
            arrayBuffersMB: mem.arrayBuffers / MB,
            peakHeapUsedMB: Math.max(heapPeak.usedBytes, mem.heapUsed) / MB,
            peakHeapTotalMB: Math.max(heapPeak.totalBytes, mem.heapTotal) / MB,
            heapLimitMB: heap.heap_size_limit / MB,
            mallocedMB: heap.malloced_memory / MB,
            peakMallocedMB: heap.peak_malloced_memory / MB,
            nativeContexts: heap.number_of_native_contexts,
            spacesMB: Object.fromEntries(v8.getHeapSpaceStatistics().map((s) => [s.space_name, s.space_used_size / MB])),
        },
        loader: {
            sourceMapSupport: Object.keys(require.cache).some((k) => /[/\\]source-map-support[/\\]/.test(k)),
            tsNode: Object.keys(require.cache).some((k) => /[/\\]ts-node[/\\]/.test(k)),
            tsconfig: process.env.PULUMI_NODEJS_TSCONFIG_PATH ?? "tsconfig.json",
            transpileOnlyEnv: process.env.PULUMI_NODEJS_TRANSPILE_ONLY,
        },
    };
    if (process.env.BENCH_HEAP_SNAPSHOT) {
        v8.writeHeapSnapshot(process.env.BENCH_HEAP_SNAPSHOT);
    }
    process.stdout.write(`BENCH_RESULT ${JSON.stringify(result)}\n`);
    // The mock monitor holds no handle; exit explicitly so nothing pending skews the wall time.
    process.exit(0);
}

main();
