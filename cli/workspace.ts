/**
 * The stack the commands work on, through the Automation API (LocalWorkspace on this project):
 * the operator's Pulumi setup or, where the rule says (decide.ts pulumiSettings), the offline
 * settings of scripts/pulumi-offline-env.sh; the stack's lock files and pending operations.
 */
import { execFileSync, spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { LocalWorkspace, PulumiCommand, Stack } from "@pulumi/pulumi/automation";
import {
    CliOptions,
    cliErrorText,
    describePending,
    EXIT,
    failureReport,
    hasPassphrase,
    isFileBackend,
    lockAdvice,
    LockContent,
    lockVerdict,
    parseCliArgs,
    passphraseProblem,
    PendingOperation,
    PulumiSettings,
    pulumiSettings,
    Refusal,
    SecretsEvidence,
    usesPassphrase,
} from "./decide";

/** The local demo's public passphrase (scripts/pulumi-offline-env.sh sets it where none is). */
const LOCAL_PASSPHRASE = "ai-fleet-local";

/** The repository root (Pulumi.yaml, scripts/). */
export const ROOT = path.resolve(__dirname, "..");

/** A line to the operator (stderr keeps stdout for Pulumi's own progress). */
export function say(msg: string): void {
    process.stderr.write(`[fleet] ${msg}\n`);
}

/** A command's main: its arguments parsed (a usage error exits 3), then its own exit code; a failure is one line (a bug adds its stack trace). */
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
        (e: unknown) => {
            const report = failureReport(command, opts.stack, e);
            say(report.line);
            if (report.trace !== undefined) {
                process.stderr.write(`${report.trace}\n`);
            }
            process.exit(report.code);
        },
    );
}

/** Key=value pairs of `env -0` output. */
function parseEnv0(out: string): Record<string, string> {
    const env: Record<string, string> = {};
    for (const entry of out.split("\0")) {
        const i = entry.indexOf("=");
        if (i > 0) {
            env[entry.slice(0, i)] = entry.slice(i + 1);
        }
    }
    return env;
}

/** The offline settings: this process's environment plus scripts/local/env.sh and scripts/pulumi-offline-env.sh (they only fill in what is unset). */
export function offlineSettingsEnv(backend?: string): Record<string, string> {
    const base: NodeJS.ProcessEnv = { ...process.env };
    if (backend) {
        base.PULUMI_BACKEND_URL = backend;
    }
    const script = `. "${ROOT}/scripts/local/env.sh" && . "${ROOT}/scripts/pulumi-offline-env.sh" && env -0`;
    const env = parseEnv0(execFileSync("bash", ["-c", script], { encoding: "utf8", env: base }));
    // Type checking is `tsc --noEmit`'s job (npm test); the engine runs the program transpile-only.
    env.PULUMI_NODEJS_TRANSPILE_ONLY ??= "true";
    return env;
}

/** The operator's own environment, as `pulumi` would see it (--backend becomes PULUMI_BACKEND_URL for this run). */
export function operatorEnv(backend?: string, from: NodeJS.ProcessEnv = process.env): Record<string, string> {
    const env: Record<string, string> = {};
    for (const [k, v] of Object.entries(from)) {
        if (v !== undefined) {
            env[k] = v;
        }
    }
    if (backend) {
        env.PULUMI_BACKEND_URL = backend;
    }
    // A property of this program, not of the machine: type checking is `tsc --noEmit`'s job.
    env.PULUMI_NODEJS_TRANSPILE_ONLY ??= "true";
    return env;
}

/** The first executable `pulumi` on a PATH, skipping node_modules/.bin (where `npm run` puts the npm package's first). */
export function pulumiOnPath(pathVar: string): string | undefined {
    for (const dir of pathVar.split(path.delimiter)) {
        if (dir === "" || dir.split(path.sep).slice(-2).join("/") === "node_modules/.bin") {
            continue;
        }
        const candidate = path.join(dir, "pulumi");
        try {
            fs.accessSync(candidate, fs.constants.X_OK);
            if (fs.statSync(candidate).isFile()) {
                return candidate;
            }
        } catch {
            // not here
        }
    }
    return undefined;
}

/** A CLI and where it came from, for the command's one line. */
interface Cli {
    command: PulumiCommand;
    where: string;
}

/** The CLI of the offline settings: the toolchain's (AI_FLEET_PULUMI_BIN_DIR), else the one on PATH. */
async function offlineCli(env: Record<string, string>): Promise<Cli> {
    const binDir = env.AI_FLEET_PULUMI_BIN_DIR;
    if (binDir && fs.existsSync(path.join(binDir, "pulumi"))) {
        return {
            command: await PulumiCommand.get({ root: path.dirname(binDir), skipVersionCheck: true }),
            where: path.join(binDir, "pulumi"),
        };
    }
    return { command: await PulumiCommand.get({ skipVersionCheck: true }), where: "pulumi on PATH" };
}

/**
 * The operator's CLI: the `pulumi` on PATH; without one, the npm package's (`pulumi` in
 * package.json: what `npx pulumi` runs, under PULUMI_HOME/versions/<version>, fetched by that
 * package when it is not there yet).
 */
async function operatorCli(env: Record<string, string>): Promise<Cli> {
    const onPath = pulumiOnPath(env.PATH ?? "");
    if (onPath !== undefined) {
        const dir = path.dirname(onPath);
        if (path.basename(dir) === "bin") {
            return { command: await PulumiCommand.get({ root: path.dirname(dir), skipVersionCheck: true }), where: onPath };
        }
        // PulumiCommand wants <root>/bin/pulumi; this one lives elsewhere: find it first on PATH.
        process.env.PATH = `${dir}${path.delimiter}${process.env.PATH ?? ""}`;
        env.PATH = `${dir}${path.delimiter}${env.PATH ?? ""}`;
        return { command: await PulumiCommand.get({ skipVersionCheck: true }), where: onPath };
    }
    const pkgDir = path.dirname(require.resolve("pulumi/package.json", { paths: [ROOT] }));
    const version =
        env.PULUMI_VERSION || (JSON.parse(fs.readFileSync(path.join(pkgDir, "package.json"), "utf8")) as { version: string }).version;
    const root = path.join(env.PULUMI_HOME || path.join(os.homedir(), ".pulumi"), "versions", version);
    if (!fs.existsSync(path.join(root, "bin", "pulumi"))) {
        // The npm package fetches its CLI into that directory (as `npx pulumi` does).
        const got = spawnSync(process.execPath, [path.join(pkgDir, "run.js"), "version"], { env, stdio: ["ignore", "ignore", "inherit"] });
        if (got.status !== 0 || !fs.existsSync(path.join(root, "bin", "pulumi"))) {
            throw new Refusal(
                `no pulumi on PATH, and the npm package's CLI ${version} could not be had in ${root}: install the Pulumi CLI (https://www.pulumi.com/docs/install/)`,
            );
        }
    }
    return {
        command: await PulumiCommand.get({ root, skipVersionCheck: true }),
        where: `${path.join(root, "bin", "pulumi")} (the npm package's)`,
    };
}

/** A stack opened for a command, with the settings it runs under. */
export interface OpenedStack {
    stack: Stack;
    env: Record<string, string>;
    workDir: string;
    /** The backend the CLI uses (`pulumi whoami`): the one of `pulumi login`, or PULUMI_BACKEND_URL. */
    backendUrl: string;
    settings: PulumiSettings;
}

/** The backend the CLI resolves for this workspace, as `pulumi whoami` reports it. */
async function backendOf(ws: LocalWorkspace, env: Record<string, string>): Promise<string> {
    let who;
    try {
        who = await ws.whoAmI();
    } catch (e) {
        const cli = cliErrorText(e);
        if (cli === undefined) {
            throw e;
        }
        throw new Refusal(
            `the pulumi CLI cannot tell which backend to use (pulumi whoami: ${cli}): \`pulumi login\` chooses one (or set PULUMI_BACKEND_URL, or pass --backend)`,
        );
    }
    return who.url ?? env.PULUMI_BACKEND_URL ?? "(the CLI did not say)";
}

/**
 * Refuses, before anything runs, a stack whose secrets are kept with a passphrase when none is
 * given (the stack file says so, else the stack's state).
 */
async function refuseWithoutPassphrase(stack: Stack, env: Record<string, string>): Promise<void> {
    if (hasPassphrase(env)) {
        return;
    }
    const evidence: SecretsEvidence = {};
    try {
        const settings = await stack.workspace.stackSettings(stack.name);
        evidence.secretsProvider = settings.secretsProvider;
        evidence.encryptionSalt = settings.encryptionSalt;
    } catch {
        // no stack file: the state tells
    }
    if (!usesPassphrase(evidence) && !evidence.secretsProvider) {
        const state = await stack.exportStack();
        evidence.stateProvider = (state.deployment as { secrets_providers?: { type?: string } } | undefined)?.secrets_providers?.type;
    }
    const problem = passphraseProblem(stack.name, evidence, env);
    if (problem !== undefined) {
        throw new Refusal(problem);
    }
}

/**
 * Opens (or with --create, creates) the stack of the project in opts.cwd with the settings the
 * rule (decide.ts pulumiSettings) gives, says in one line which they are, and refuses a missing
 * stack or a missing passphrase before anything runs.
 */
export async function openStack(opts: CliOptions): Promise<OpenedStack> {
    const workDir = path.resolve(opts.cwd ?? ROOT);
    const settings = pulumiSettings(opts.stack, process.env);
    const env = settings.offline ? offlineSettingsEnv(opts.backend) : operatorEnv(opts.backend);
    const cli = settings.offline ? await offlineCli(env) : await operatorCli(env);
    const ws = await LocalWorkspace.create({ workDir, envVars: env, pulumiCommand: cli.command });
    const backendUrl = await backendOf(ws, env);
    const version = cli.command.version ? ` ${cli.command.version.toString()}` : "";
    if (settings.offline) {
        const passphrase =
            !env.PULUMI_CONFIG_PASSPHRASE_FILE && env.PULUMI_CONFIG_PASSPHRASE === LOCAL_PASSPHRASE
                ? `the local demo's (${LOCAL_PASSPHRASE})`
                : env.PULUMI_CONFIG_PASSPHRASE_FILE
                  ? "from PULUMI_CONFIG_PASSPHRASE_FILE"
                  : "from PULUMI_CONFIG_PASSPHRASE";
        say(
            `offline settings (scripts/pulumi-offline-env.sh; ${settings.why}): backend ${backendUrl}, CLI ${cli.where}${version}, passphrase ${passphrase}, no plugin downloads`,
        );
    } else {
        const source = opts.backend ? "--backend" : process.env.PULUMI_BACKEND_URL ? "PULUMI_BACKEND_URL" : "pulumi login";
        say(`your Pulumi setup (${settings.why}): backend ${backendUrl} (${source}), CLI ${cli.where}${version}`);
    }
    let stack: Stack;
    try {
        stack = opts.create ? await Stack.createOrSelect(opts.stack, ws) : await Stack.select(opts.stack, ws);
    } catch (e) {
        if ((e as Error).name === "StackNotFoundError") {
            const project = (await ws.projectSettings()).name;
            const hint = settings.offline
                ? "`. scripts/pulumi-offline-env.sh && npx pulumi stack ls` lists that backend's stacks (`npm start` creates the stack local)"
                : "`pulumi stack ls` lists that backend's stacks (`pulumi login` chooses another backend)";
            throw new Refusal(`no stack ${opts.stack} of project ${project} in the backend ${backendUrl}: ${hint}`);
        }
        throw e;
    }
    await refuseWithoutPassphrase(stack, env);
    return { stack, env, workDir, backendUrl, settings };
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

/**
 * Whether the process that took a lock still runs on this machine. A pid that signal 0 reaches
 * (EPERM: it exists under another user) still counts as gone when /proc shows it as a zombie: a
 * killed run whose parent died too stays one wherever PID 1 reaps no orphans, as in containers and
 * CI sandboxes. A reused pid is not guessed at (a wrong guess would clear a live run's lock): it
 * keeps the lock, and the refusal names the pid for the operator to check.
 */
export function processAlive(pid: number): boolean {
    try {
        process.kill(pid, 0);
    } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== "EPERM") return false;
    }
    let stat: string;
    try {
        stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
    } catch {
        return true; // no /proc to look closer: signal 0 said it exists
    }
    // The state is the first field after the command name (which may hold spaces and parentheses).
    const state = stat.slice(stat.lastIndexOf(")") + 2).split(" ")[0];
    return state !== "Z" && state !== "X";
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
        throw new Refusal(`stack ${stack} is locked; nothing was changed: ${kept.join("; ")}`);
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

/**
 * Everything to do before an update: stale locks (a file backend's; any other backend keeps its
 * locks itself: the command says what to do and touches nothing), pending operations.
 */
export async function prepare(stack: Stack, backendUrl: string): Promise<{ locksCleared: number; pending: number }> {
    const project = (await stack.workspace.projectSettings()).name;
    const name = stack.name.split("/").pop() as string;
    let locksCleared = 0;
    if (isFileBackend(backendUrl)) {
        locksCleared = clearStaleLocks(backendUrl, project, name);
    } else {
        say(lockAdvice(backendUrl, name));
    }
    const pending = await resolvePending(stack);
    return { locksCleared, pending };
}

/** Whether the docker provider plugin is installed (else containers need the cli runtime). */
export async function hasDockerPlugin(stack: Stack): Promise<boolean> {
    const plugins = await stack.workspace.listPlugins();
    return plugins.some((p) => p.name === "docker" && p.kind === "resource");
}
