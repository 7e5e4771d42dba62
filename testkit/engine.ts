/**
 * The real Pulumi engine for the integration tests and the bench: the toolchain
 * (scripts/toolchain.sh), the offline settings (scripts/pulumi-offline-env.sh, the one place they
 * live), and workspaces in temp directories with a file backend of their own.
 * test/integration/support/engine.ts re-exports this module.
 */
import { execFileSync, spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { LocalWorkspace, PulumiCommand, Stack } from "@pulumi/pulumi/automation";
import { readStackConfig } from "../stackFile";

export const ROOT = path.resolve(__dirname, "..");

/** What scripts/toolchain.sh --status reports. */
export interface ToolchainStatus {
    pulumi?: string;
    pulumiVersion?: string;
    languageHost?: string;
    binDir?: string;
    languageHostVersion?: string;
    plugins: Record<string, string>;
    substitutes?: Record<string, string>;
    missing?: Record<string, string>;
}

const TOOLCHAIN = path.join(ROOT, "scripts", "toolchain.sh");

/** What scripts/toolchain.sh --status says now (builds nothing). */
function toolchainStatus(): ToolchainStatus {
    return JSON.parse(execFileSync("bash", [TOOLCHAIN, "--status"], { encoding: "utf8" })) as ToolchainStatus;
}

/** How long a test hook may take to run the one-time set-up on a cold machine (about 25 minutes measured). */
export const SETUP_TIMEOUT_MS = 90 * 60 * 1000;

let setUp: ToolchainStatus | undefined;

/**
 * The one-time set-up (scripts/setup.sh: Docker engine, registry, base image, BuildKit, Trivy, the
 * Pulumi CLI and plugins), once per process, then the toolchain's status. `npm test` runs the set-up
 * as its own step before any suite, so here it only confirms (seconds); a test file run alone
 * (`npx mocha FILE`) gets the whole set-up from its first hook. Pass the hook's `this`: its timeout
 * becomes SETUP_TIMEOUT_MS, which covers a cold machine. Progress goes to this process's stderr.
 */
export function ensureSetup(hook?: { timeout(ms: number): unknown }): ToolchainStatus {
    if (setUp) {
        return setUp;
    }
    hook?.timeout(SETUP_TIMEOUT_MS);
    const run = spawnSync("bash", [path.join(ROOT, "scripts", "setup.sh")], { stdio: ["ignore", process.stderr, process.stderr] });
    if (run.status !== 0) {
        throw new Error(
            `scripts/setup.sh failed with exit code ${run.status} (its output is above): nothing that needs the engine can run`,
        );
    }
    const status = toolchainStatus();
    for (const [name, why] of Object.entries(status.substitutes ?? {})) {
        process.stderr.write(`[engine] NOTE: plugin ${name} is a substitute: ${why}\n`);
    }
    for (const [name, why] of Object.entries(status.missing ?? {})) {
        process.stderr.write(`[engine] MISSING: plugin ${name}: ${why}\n`);
    }
    setUp = status;
    return status;
}

/**
 * The Pulumi CLI and its Node.js language host only, for a test that needs no Docker engine:
 * scripts/toolchain.sh builds them when they are missing (a cold machine: the hook's timeout becomes
 * SETUP_TIMEOUT_MS), else its status answers in about a second. Touches no Docker.
 */
export function ensureCli(hook?: { timeout(ms: number): unknown }): ToolchainStatus {
    let status = toolchainStatus();
    if (!status.pulumi || !status.languageHost) {
        hook?.timeout(SETUP_TIMEOUT_MS);
        const run = spawnSync("bash", [TOOLCHAIN], { stdio: ["ignore", process.stderr, process.stderr] });
        status = toolchainStatus();
        if (run.status !== 0 || !status.pulumi || !status.languageHost) {
            throw new Error(`scripts/toolchain.sh (exit ${run.status}) left no Pulumi CLI or language host: ${JSON.stringify(status)}`);
        }
    }
    return status;
}

/** The environment of `. scripts/pulumi-offline-env.sh` with a backend in `stateDir`, plus the local stack's. */
export function offlineEnv(stateDir: string): Record<string, string> {
    const script = `. "${ROOT}/scripts/local/env.sh" && . "${ROOT}/scripts/pulumi-offline-env.sh" && env -0`;
    const out = execFileSync("bash", ["-c", script], {
        encoding: "utf8",
        env: { ...process.env, PULUMI_BACKEND_URL: `file://${stateDir}` } as NodeJS.ProcessEnv,
    });
    const env: Record<string, string> = {};
    for (const entry of out.split("\0")) {
        const i = entry.indexOf("=");
        if (i > 0) {
            env[entry.slice(0, i)] = entry.slice(i + 1);
        }
    }
    // Type checking is `tsc --noEmit`'s job; the engine runs the program transpile-only.
    env.PULUMI_NODEJS_TRANSPILE_ONLY = "true";
    return env;
}

/** A temp project directory that runs `main` (a directory with index.ts) under the real engine. */
export interface TempProject {
    dir: string;
    stateDir: string;
    env: Record<string, string>;
    cleanup(): void;
}

/** Writes Pulumi.yaml (project `ai-fleet` unless named) pointing at `main`, with a file backend of its own. */
export function tempProject(main: string, name = "ai-fleet"): TempProject {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "ai-fleet-engine-"));
    const stateDir = path.join(dir, ".state");
    fs.mkdirSync(stateDir);
    fs.writeFileSync(
        path.join(dir, "Pulumi.yaml"),
        `name: ${name}\nruntime:\n  name: nodejs\n  options:\n    typescript: true\nmain: ${main}\n`,
    );
    return {
        dir,
        stateDir,
        env: offlineEnv(stateDir),
        cleanup: () => fs.rmSync(dir, { recursive: true, force: true }),
    };
}

/** Creates a stack of the temp project with the given config (structured values as JSON). */
export async function createStack(
    project: TempProject,
    stackName: string,
    status: ToolchainStatus,
    config: Record<string, unknown>,
): Promise<Stack> {
    const pulumiCommand = await PulumiCommand.get({ root: path.dirname(status.binDir as string), skipVersionCheck: true });
    const stack = await LocalWorkspace.createOrSelectStack(
        { stackName, workDir: project.dir },
        { workDir: project.dir, envVars: project.env, pulumiCommand },
    );
    for (const [key, value] of Object.entries(config)) {
        const secret = key.endsWith("registryPassword");
        await stack.setConfig(key, { value: typeof value === "string" ? value : JSON.stringify(value), secret });
    }
    return stack;
}

/** `pulumi config set --path`-free helper: Pulumi.local.yaml's `ai-fleet:` keys as plain objects. */
export function localStackConfig(): Record<string, unknown> {
    return JSON.parse(JSON.stringify(readStackConfig("local", ROOT)));
}

/** Copies demo/ into a temp dir so the tests can touch sources without dirtying the repository. */
export function copyDemo(into: string): string {
    const dest = path.join(into, "demo");
    fs.cpSync(path.join(ROOT, "demo"), dest, { recursive: true, filter: (src) => !src.includes("__pycache__") });
    return dest;
}

/** The local stack's config for a build-only run from `contextRoot`. */
export function buildOnlyConfig(contextRoot: string, registryPassword: string): Record<string, unknown> {
    const cfg = localStackConfig();
    const build = { ...(cfg["ai-fleet:build"] as Record<string, unknown>), contextRoot };
    return { ...cfg, "ai-fleet:build": build, "ai-fleet:phase": "build", "ai-fleet:registryPassword": registryPassword };
}

/** Milliseconds since `start`, as seconds with one decimal, for the log. */
export function secondsSince(start: number): string {
    return ((Date.now() - start) / 1000).toFixed(1);
}
