/**
 * The stack the commands work on, through the Automation API (LocalWorkspace on this project):
 * the offline settings of scripts/pulumi-offline-env.sh, the stack's lock files and pending
 * operations, and the overrides that send a run back to a release.
 */
import { execFileSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { LocalWorkspace, PulumiCommand, Stack } from "@pulumi/pulumi/automation";
import { CliOptions, describePending, EXIT, LockContent, lockVerdict, parseCliArgs, PendingOperation } from "./decide";

/** The repository root (Pulumi.yaml, scripts/). */
export const ROOT = path.resolve(__dirname, "..");

/** A line to the operator (stderr keeps stdout for Pulumi's own progress). */
export function say(msg: string): void {
    process.stderr.write(`[fleet] ${msg}\n`);
}

/** A command's main: its arguments parsed (a usage error exits 3), then its own exit code (an unexpected error exits 4). */
export function runMain(command: "rollout" | "rollback" | "status", main: (opts: CliOptions) => Promise<number>): void {
    let opts: CliOptions;
    try {
        opts = parseCliArgs(process.argv.slice(2), command);
    } catch (e) {
        say((e as Error).message);
        process.exit(EXIT.refused);
    }
    main(opts).then(
        (code) => process.exit(code),
        (e: Error) => {
            say(`${command}: ${e.message}`);
            process.exit(EXIT.error);
        },
    );
}

/** This process's environment plus scripts/local/env.sh and scripts/pulumi-offline-env.sh (they only fill in what is unset). */
export function commandEnv(backend?: string): Record<string, string> {
    const base: NodeJS.ProcessEnv = { ...process.env };
    if (backend) {
        base.PULUMI_BACKEND_URL = backend;
    }
    const script = `. "${ROOT}/scripts/local/env.sh" && . "${ROOT}/scripts/pulumi-offline-env.sh" && env -0`;
    const out = execFileSync("bash", ["-c", script], { encoding: "utf8", env: base });
    const env: Record<string, string> = {};
    for (const entry of out.split("\0")) {
        const i = entry.indexOf("=");
        if (i > 0) {
            env[entry.slice(0, i)] = entry.slice(i + 1);
        }
    }
    // Type checking is `tsc --noEmit`'s job (npm test); the engine runs the program transpile-only.
    env.PULUMI_NODEJS_TRANSPILE_ONLY ??= "true";
    return env;
}

/** Opens (or with --create, creates) the stack of the project in opts.cwd. */
export async function openStack(opts: CliOptions): Promise<{ stack: Stack; env: Record<string, string>; workDir: string }> {
    const workDir = path.resolve(opts.cwd ?? ROOT);
    const env = commandEnv(opts.backend);
    const binDir = env.AI_FLEET_PULUMI_BIN_DIR;
    const pulumiCommand =
        binDir && fs.existsSync(path.join(binDir, "pulumi"))
            ? await PulumiCommand.get({ root: path.dirname(binDir), skipVersionCheck: true })
            : await PulumiCommand.get({ skipVersionCheck: true });
    const wsOpts = { workDir, envVars: env, pulumiCommand };
    const stack = opts.create
        ? await LocalWorkspace.createOrSelectStack({ stackName: opts.stack, workDir }, wsOpts)
        : await LocalWorkspace.selectStack({ stackName: opts.stack, workDir }, wsOpts);
    return { stack, env, workDir };
}

/** The lock files of a stack in a file backend (`<backend>/.pulumi/locks/…/<project>/<stack>/*.json`). */
export function lockFiles(backendUrl: string, project: string, stack: string): string[] {
    if (!backendUrl.startsWith("file://")) {
        return [];
    }
    const root = path.join(backendUrl.slice("file://".length).split("?")[0], ".pulumi", "locks");
    const found: string[] = [];
    const walk = (dir: string): void => {
        for (const entry of fs.existsSync(dir) ? fs.readdirSync(dir, { withFileTypes: true }) : []) {
            const p = path.join(dir, entry.name);
            if (entry.isDirectory()) {
                walk(p);
            } else if (entry.name.endsWith(".json")) {
                const rel = path.relative(root, path.dirname(p)).split(path.sep);
                // Project-scoped layout <org>/<project>/<stack>, or the legacy <stack>.
                if (rel[rel.length - 1] === stack && (rel.length === 1 || rel[rel.length - 2] === project)) {
                    found.push(p);
                }
            }
        }
    };
    walk(root);
    return found.sort();
}

/** Whether a process exists on this machine (signal 0: EPERM means it exists under another user). */
export function processAlive(pid: number): boolean {
    try {
        process.kill(pid, 0);
        return true;
    } catch (e) {
        return (e as NodeJS.ErrnoException).code === "EPERM";
    }
}

/**
 * Clears the stack's lock files left by runs that are gone, saying so; throws, touching nothing,
 * when a lock is held by a live run (or cannot be judged from here).
 */
export function clearStaleLocks(backendUrl: string, project: string, stack: string): number {
    let cleared = 0;
    const kept: string[] = [];
    for (const file of lockFiles(backendUrl, project, stack)) {
        let content: LockContent | undefined;
        try {
            content = JSON.parse(fs.readFileSync(file, "utf8")) as LockContent;
        } catch {
            content = undefined;
        }
        const verdict = lockVerdict(content, os.hostname(), processAlive);
        if (verdict.clear) {
            fs.rmSync(file, { force: true });
            fs.rmSync(`${file}.attrs`, { force: true });
            say(`cleared the stack's lock ${path.basename(file)}: ${verdict.why}`);
            cleared++;
        } else {
            kept.push(`${file}: ${verdict.why}`);
        }
    }
    if (kept.length > 0) {
        throw new Error(`stack ${stack} is locked; nothing was changed:\n  - ${kept.join("\n  - ")}`);
    }
    return cleared;
}

/**
 * Resolves the pending operations a killed run left in the checkpoint: says what each was, drops
 * them from the state (export, edit, import; no refresh, which would re-read every resource) and
 * lets the next update converge. Returns how many there were.
 */
export async function resolvePending(stack: Stack): Promise<number> {
    const state = await stack.exportStack();
    const ops = (state.deployment?.pending_operations ?? []) as PendingOperation[];
    if (ops.length === 0) {
        return 0;
    }
    say(`${ops.length} pending operation(s) left by an interrupted run:`);
    describePending(ops).forEach((line) => say(`  ${line}`));
    await stack.importStack({ ...state, deployment: { ...state.deployment, pending_operations: [] } });
    say("dropped them from the state; the update below converges the machine");
    return ops.length;
}

/** Everything to do before an update: stale locks, pending operations. */
export async function prepare(stack: Stack, env: Record<string, string>): Promise<{ locksCleared: number; pending: number }> {
    const project = (await stack.workspace.projectSettings()).name;
    const locksCleared = clearStaleLocks(env.PULUMI_BACKEND_URL ?? "", project, stack.name.split("/").pop() as string);
    const pending = await resolvePending(stack);
    return { locksCleared, pending };
}

/** Whether the docker provider plugin is installed (else containers need the cli runtime). */
export async function hasDockerPlugin(stack: Stack): Promise<boolean> {
    const plugins = await stack.workspace.listPlugins();
    return plugins.some((p) => p.name === "docker" && p.kind === "resource");
}
