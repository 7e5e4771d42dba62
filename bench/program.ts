/**
 * BENCH CHILD (part "program"): evaluates the fleet program once under the shared Pulumi mocks
 * (testkit/mocks.ts: no engine) and prints one line `BENCH_RESULT {json}`: phase times, peak RSS and
 * heap figures. bench/evaluation.ts starts one process per measurement, under bench/host.js (the
 * language host's loader: source-map-support + ts-node), as index.ts runs under `pulumi up`.
 *
 *   node bench/host.js bench/program.ts stack <mainpc|pc2|local>   deploy() with Pulumi.<stack>.yaml
 *   node bench/host.js bench/program.ts generated <N>               N generated services on mainpc's families
 *   node bench/host.js bench/program.ts empty                       the same loader and mocks, no resource
 *   node bench/host.js bench/program.ts floor <N>                   the floor: N × (a bare docker.Container, a
 *                                                                   docker-build Image, a command.local.Command)
 *   node bench/host.js bench/program.ts type <kind> <N>             N × one resource type alone (kind: container,
 *                                                                   remoteimage, image, command, component);
 *                                                                   `floor 0`: their packages loaded, no resource
 *   node bench/host.js bench/program.ts operator <stack> <tree>     index.ts itself, as `pulumi up` runs it: the
 *                                                                   stack file's config handed over as the engine
 *                                                                   does, build.contextRoot = <tree> (a checkout)
 *
 * The floor and the per-type workloads are trivial programs on the same loader and mocks (a resource's
 * inputs shaped as the fleet's: an image's context, tags and build args; a container's image, name,
 * environment and ports; a command's script, environment and triggers); the fleet's cost is read
 * against them (bench/render.ts: "where the cost goes"). `resourcesByType` in the result counts the
 * registrations per type (testkit/mocks.ts).
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
        mode === "empty" || mode === "floor" || mode === "type" || mode === "operator"
            ? undefined
            : {
                  config: require("../config") as typeof import("../config"),
                  profiles: require("../profiles/schema") as typeof import("../profiles/schema"),
                  deploy: (require("../deploy") as typeof import("../deploy")).deploy,
              };
    // The floor's packages, loaded before the evaluation as the fleet program's imports load them.
    const sdks: Sdks | undefined =
        mode === "floor" || mode === "type"
            ? {
                  docker: require("@pulumi/docker") as typeof import("@pulumi/docker"),
                  dockerBuild: require("@pulumi/docker-build") as typeof import("@pulumi/docker-build"),
                  command: require("@pulumi/command") as typeof import("@pulumi/command"),
              }
            : undefined;
    const loadMs = performance.now();
    const cpuAtLoad = process.cpuUsage();
    startProfile();

    const waitForRPCs = (pulumi.runtime as unknown as { waitForRPCs(): Promise<void> }).waitForRPCs;
    const done = (r: Record<string, unknown>) => {
        const cpu = process.cpuUsage(cpuAtLoad);
        const phases = { bootMs, loadMs, doneMs: performance.now(), evalCpuMs: (cpu.user + cpu.system) / 1000 };
        report({ mode, ...r, ...phases, resourcesByType: mocks.recording.byType }, mocks.recording.count);
    };
    const failed = (e: unknown) => {
        process.stderr.write(`evaluation failed: ${e instanceof Error ? e.stack : String(e)}\n`);
        process.exit(1);
    };
    mocks.recording.enabled = false; // the bench counts registrations; keeping every input would be memory of its own
    if (mode === "operator") {
        // index.ts installs leanPromiseStacks() itself, first thing; here only what the engine hands it.
        const lean = !(require("../promiseStacks") as typeof import("../promiseStacks")).wantsPromiseStacks();
        const services = handOver(pulumi, mocks, stackFile, arg, process.argv[4]);
        const exported = require("../index") as Record<string, unknown>;
        awaitAll(pulumi, exported)
            .then((outputs) => waitForRPCs().then(() => done({ arg, services, outputs, lean })))
            .catch(failed);
        return;
    }
    // As index.ts: before any resource.
    const lean = leanPromiseStacks();
    mocks.installMocks(mode === "stack" ? arg : "bench");
    if (!program) {
        const n = mode === "floor" ? Number(arg) : mode === "type" ? Number(process.argv[4]) : 0;
        if (mode === "floor") {
            floor(sdks as Sdks, n);
        } else if (mode === "type") {
            oneType(sdks as Sdks, pulumi, arg, n);
        } else if (mode !== "empty") {
            throw new Error(
                `usage: program.ts stack <name> | generated <N> | empty | floor <N> | type <kind> <N> | operator <stack> <tree>`,
            );
        }
        waitForRPCs()
            .then(() => done({ arg, services: mode === "floor" ? n : 0, lean }))
            .catch(failed);
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
    awaitAll(pulumi, fleet)
        .then(async (outputs) => {
            await waitForRPCs();
            const services = Object.keys(config.stack.services).length;
            done({ arg, services, outputs, lean, parsedMs, registeredMs });
        })
        .catch(failed);
}

/** Awaits every Output in `v` (objects and arrays walked); resolves to how many there were. */
function awaitAll(pulumi: typeof import("@pulumi/pulumi"), v: unknown): Promise<number> {
    const outputs: Promise<unknown>[] = [];
    const collect = (x: unknown): void => {
        if (pulumi.Output.isInstance(x)) {
            outputs.push((x as unknown as { promise(): Promise<unknown> }).promise());
        } else if (Array.isArray(x)) {
            x.forEach(collect);
        } else if (x !== null && typeof x === "object") {
            Object.values(x).forEach(collect);
        }
    };
    collect(v);
    return Promise.all(outputs).then((values) => values.length);
}

/**
 * What the engine hands index.ts for `pulumi up --stack <stack>` (mode "operator"): the mocks as
 * that stack, the stack file's config with build.contextRoot = `tree` (PULUMI_CONFIG, no secret key,
 * as the language host passes it), the registry password in registry.passwordEnv, and healthy
 * reports from the gate stack, if any. Returns the stack's number of services.
 */
function handOver(
    pulumi: typeof import("@pulumi/pulumi"),
    mocks: typeof import("../testkit/mocks"),
    stackFile: typeof import("../stackFile"),
    stack: string,
    tree: string | undefined,
): number {
    if (!tree) {
        throw new Error("usage: program.ts operator <stack> <tree>");
    }
    mocks.installMocks(stack);
    const raw = rawStack(stackFile, stack);
    raw.build = { ...raw.build, contextRoot: path.resolve(tree) };
    const flat: Record<string, string> = {};
    for (const [k, v] of Object.entries(raw)) {
        flat[`ai-fleet:${k}`] = typeof v === "string" ? v : JSON.stringify(v);
    }
    pulumi.runtime.setAllConfig(flat, []);
    const passwordEnv = raw.registry?.passwordEnv as string | undefined;
    if (passwordEnv && !process.env[passwordEnv]) {
        process.env[passwordEnv] = "bench";
    }
    const gateStack = raw.rollout?.gateStack as string | undefined;
    if (gateStack) {
        const services = Object.keys(stackFile.readStackFile(gateStack.split("/").pop() as string).services as object);
        const entry = (s: string) => [s, { service: s, healthy: true, url: "u", status: "ok" }];
        const report = { machine: "gate", tag: TAG, healthy: true, services: Object.fromEntries(services.map(entry)) };
        for (const name of [gateStack, `organization/ai-fleet/${gateStack.split("/").pop()}`]) {
            mocks.scenario.stackOutputs[name] = { canaryReport: report, report };
        }
    }
    return Object.keys(raw.services ?? {}).length;
}

/** The packages of the floor's resources. */
interface Sdks {
    docker: typeof import("@pulumi/docker");
    dockerBuild: typeof import("@pulumi/docker-build");
    command: typeof import("@pulumi/command");
}

/**
 * The floor of issue 19: per service, one bare docker.Container, one docker-build Image and one
 * command.local.Command (a health check's shape), wired as the fleet wires them (the container runs
 * the image's ref, the command is triggered by the container), nothing else.
 */
function floor({ docker, dockerBuild, command }: Sdks, n: number): void {
    for (let i = 0; i < n; i++) {
        const s = `svc${String(i).padStart(4, "0")}`;
        const image = new dockerBuild.Image(`${s}-build`, imageArgs(s));
        const container = new docker.Container(`${s}-container`, containerArgs(s, image.ref, i));
        new command.local.Command(`${s}-health`, { ...commandArgs(s), triggers: [container.id] });
    }
}

/** N × one resource type alone, with the floor's inputs. */
function oneType({ docker, dockerBuild, command }: Sdks, pulumi: typeof import("@pulumi/pulumi"), kind: string, n: number): void {
    const make: Record<string, (s: string, i: number) => unknown> = {
        container: (s, i) => {
            return new docker.Container(`${s}-container`, containerArgs(s, `registry.local/fleet/${s}:${TAG}`, i));
        },
        remoteimage: (s) => {
            return new docker.RemoteImage(`${s}-image`, { name: `registry.local/fleet/${s}:${TAG}`, keepLocally: true });
        },
        image: (s) => {
            return new dockerBuild.Image(`${s}-build`, imageArgs(s));
        },
        command: (s) => {
            return new command.local.Command(`${s}-health`, commandArgs(s));
        },
        component: (s) => new pulumi.ComponentResource("bench:index:Empty", s, {}, {}),
    };
    const f = make[kind];
    if (!f) {
        throw new Error(`type <kind> <N>: kind is one of ${Object.keys(make).join(", ")} (got ${kind})`);
    }
    for (let i = 0; i < n; i++) {
        f(`svc${String(i).padStart(4, "0")}`, i);
    }
}

function imageArgs(s: string): import("@pulumi/docker-build").ImageArgs {
    return {
        context: { location: "/srv/checkout" },
        dockerfile: { location: `/srv/checkout/services/${s}/Dockerfile` },
        tags: [`registry.local/fleet/${s}:${TAG}`],
        buildArgs: { BASE_IMAGE: `registry.local/fleet/base:${TAG}`, MACHINE: "bench" },
        platforms: ["linux/amd64"],
        push: true,
    };
}

function containerArgs(s: string, image: import("@pulumi/pulumi").Input<string>, i: number): import("@pulumi/docker").ContainerArgs {
    return {
        image,
        name: `ai-bench-${s}`,
        envs: [`SERVICE_NAME=${s}`, `PORT=${20000 + 3 * i}`, `HEALTH_PORT=${20001 + 3 * i}`],
        ports: [
            { internal: 20000 + 3 * i, external: 20000 + 3 * i },
            { internal: 20001 + 3 * i, external: 20001 + 3 * i },
        ],
        restart: "unless-stopped",
        labels: [{ label: "ai-fleet.service", value: s }],
    };
}

function commandArgs(s: string): import("@pulumi/command").local.CommandArgs {
    return {
        create: "node probes/health-probe.js",
        environment: { FLEET_SERVICE_NAME: s, FLEET_PROBE_URL: `http://127.0.0.1/${s}/health` },
    };
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
