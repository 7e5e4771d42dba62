/**
 * BENCH CHILD (part 1): evaluates the program once under Pulumi mocks (no engine) and prints one
 * line `BENCH_RESULT {json}`: phase times and peak RSS. run.ts starts one process per measurement,
 * under ts-node (as the engine and mocha load the program) or compiled by tsc to bench/.work/js.
 *
 *   program.ts stack <mainpc|pc2>   deploy() with the repository's Pulumi.<stack>.yaml
 *   program.ts generated <N>        deploy() of N generated services on mainpc's families and settings
 *   program.ts empty                the same mocks, no resource: the floor
 *
 * Modules are loaded with require() (not hoisted imports) so their load time is measured apart.
 */
import { performance } from "perf_hooks";
import * as fs from "fs";
import * as path from "path";
import type * as PulumiNs from "@pulumi/pulumi";
import type * as ConfigNs from "../config";
import type * as DeployNs from "../deploy";

const bootMs = performance.now();

/** The repository root: the nearest directory up holding Pulumi.yaml (the compiled copy lives deeper). */
function repoRoot(): string {
    let dir = __dirname;
    while (!fs.existsSync(path.join(dir, "Pulumi.yaml"))) {
        const up = path.dirname(dir);
        if (up === dir) {
            throw new Error(`no Pulumi.yaml above ${__dirname}`);
        }
        dir = up;
    }
    return dir;
}

const ROOT = repoRoot();
const TAG = "20250111-656873b3";
const DIGEST = `sha256:${"a".repeat(64)}`;

/** The `ai-fleet:` keys of a repository stack file, without the prefix (the raw input of parseStackConfig). */
function rawStack(stack: string): Record<string, any> {
    const yaml = require("js-yaml") as typeof import("js-yaml");
    const doc = yaml.load(fs.readFileSync(path.join(ROOT, `Pulumi.${stack}.yaml`), "utf8")) as { config: Record<string, unknown> };
    const raw: Record<string, any> = {};
    for (const [k, v] of Object.entries(doc.config)) {
        if (k.startsWith("ai-fleet:")) {
            raw[k.slice("ai-fleet:".length)] = v;
        }
    }
    return JSON.parse(JSON.stringify(raw));
}

/** mainpc's stack with its services replaced by `n` generated ones, spread over mainpc's families; three canaries. */
function generated(n: number): Record<string, any> {
    const raw = rawStack("mainpc");
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

function main(): void {
    const [mode, arg] = process.argv.slice(2);
    const pulumi = require("@pulumi/pulumi") as typeof PulumiNs;
    let resources = 0;
    // The same answers as test/unit/harness.ts gives: a digest per build, a verification that finds
    // the digest it was given, a healthy report from every health probe, mainpc's healthy canary
    // report for pc2's gate stack.
    pulumi.runtime.setMocks(
        {
            newResource(args) {
                resources++;
                const inputs = args.inputs;
                switch (args.type) {
                    case "docker-build:index:Image":
                        return {
                            id: args.name,
                            state: { ...inputs, digest: DIGEST, ref: `${inputs.tags?.[0]}@${DIGEST}`, contextHash: "ctx" },
                        };
                    case "command:local:Command": {
                        const env = (inputs.environment?.value ?? inputs.environment ?? {}) as Record<string, string>;
                        const stdout =
                            env.FLEET_HEALTH_URL !== undefined
                                ? JSON.stringify({
                                      service: env.FLEET_SERVICE,
                                      host: env.FLEET_HOST,
                                      url: env.FLEET_HEALTH_URL,
                                      healthy: true,
                                      status: "ok",
                                      httpStatus: 200,
                                      attempts: 1,
                                      elapsedSeconds: 0.1,
                                      digest: env.FLEET_DIGEST,
                                  })
                                : JSON.stringify({
                                      image: env.FLEET_IMAGE,
                                      digest: env.FLEET_EXPECTED_DIGEST || DIGEST,
                                      pinned: `${String(env.FLEET_IMAGE).replace(/:[^:/]+$/, "")}@${env.FLEET_EXPECTED_DIGEST || DIGEST}`,
                                  });
                        return { id: args.name, state: { ...inputs, stdout, stderr: "" } };
                    }
                    case "docker:index/remoteImage:RemoteImage":
                        return { id: args.name, state: { ...inputs, imageId: DIGEST, repoDigest: inputs.name } };
                    case "pulumi:pulumi:StackReference":
                        return {
                            id: inputs.name,
                            state: {
                                ...inputs,
                                outputs: { canaryReport: { machine: "mainpc", tag: TAG, healthy: true, services: {} } },
                                secretOutputNames: [],
                            },
                        };
                    default:
                        return { id: `${args.name}-id`, state: inputs };
                }
            },
            call: (args) => args.inputs,
        },
        "ai-fleet",
        "bench",
        false,
    );
    const waitForRPCs = (pulumi.runtime as unknown as { waitForRPCs(): Promise<void> }).waitForRPCs;

    if (mode === "empty") {
        const loadMs = performance.now();
        waitForRPCs().then(() => report({ mode, services: 0, resources, outputs: 0, bootMs, loadMs, doneMs: performance.now() }));
        return;
    }
    const { parseStackConfig } = require("../config") as typeof ConfigNs;
    const { loadProfile } = require("../profiles/schema") as typeof import("../profiles/schema");
    const { deploy } = require("../deploy") as typeof DeployNs;
    const loadMs = performance.now();

    const raw = mode === "stack" ? rawStack(arg) : mode === "generated" ? generated(Number(arg)) : undefined;
    if (!raw) {
        throw new Error(`usage: program.ts stack <name> | generated <N> | empty (got ${process.argv.slice(2).join(" ")})`);
    }
    const config = parseStackConfig(raw, (m) => loadProfile(m, path.join(ROOT, "profiles")));
    const parsedMs = performance.now();
    const fleet = deploy({ config, release: { tag: TAG, source: "FORCE_IMAGE_TAG" }, registryPassword: pulumi.secret("bench-password") });
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
            const gate = fleet.gate ? await (fleet.gate as unknown as { promise(): Promise<unknown> }).promise() : undefined;
            report({
                mode,
                arg,
                services: Object.keys(config.stack.services).length,
                resources,
                outputs: values.length,
                gate,
                bootMs,
                loadMs,
                parsedMs,
                registeredMs,
                doneMs: performance.now(),
            });
        })
        .catch((e) => {
            process.stderr.write(`evaluation failed: ${e instanceof Error ? e.stack : String(e)}\n`);
            process.exit(1);
        });
}

function report(r: Record<string, unknown>): void {
    const usage = process.resourceUsage();
    const result = {
        ...r,
        maxRssKB: usage.maxRSS,
        userCpuMs: usage.userCPUTime / 1000,
        systemCpuMs: usage.systemCPUTime / 1000,
        heapUsedMB: process.memoryUsage().heapUsed / 1048576,
        // ts-node installs @cspotcode/source-map-support; plain node installs none unless preloaded.
        sourceMapSupport: Object.keys(require.cache).some((k) => k.includes("source-map-support")),
    };
    process.stdout.write(`BENCH_RESULT ${JSON.stringify(result)}\n`);
    // The mock monitor holds no handle; exit explicitly so nothing pending skews the wall time.
    process.exit(0);
}

main();
