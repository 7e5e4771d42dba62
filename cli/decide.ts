/**
 * The rollout command's decisions, as pure functions (tested in test/unit/cli.test.ts without an
 * engine): its arguments, the last release a stack's outputs name, whether a lock file belongs to
 * a run that is gone, which Pulumi settings a command runs with, whether a stack needs a
 * passphrase, and how a failure reads. What failed in an update is read from the engine's events
 * (cli/failures.ts).
 */

/** Exit codes of rollout, rollback and status. */
export const EXIT = { ok: 0, rolledBack: 1, rollbackFailed: 2, refused: 3, error: 4 } as const;

/** Options of the rollout, rollback and status commands. */
export interface CliOptions {
    /** Stack name (e.g. local, mainpc). */
    stack: string;
    /** Project directory holding Pulumi.yaml (default: this repository). */
    cwd?: string;
    /** Backend URL (PULUMI_BACKEND_URL for this run; default: the backend of `pulumi login`, or with the offline settings the repository's `.pulumi-state/`). */
    backend?: string;
    /** rollout: keep the failed state instead of rolling back. */
    noRollback: boolean;
    /** rollback: deploy this release tag (every service's repo:tag) instead of the last that passed. */
    to?: string;
    /** Create the stack when it does not exist (npm start). */
    create: boolean;
}

/** Parses `--stack X [--no-rollback] [--to T] [--cwd D] [--backend U] [--create]`; throws a usage message. */
export function parseCliArgs(argv: string[], command: "rollout" | "rollback" | "status"): CliOptions {
    const opts: Partial<CliOptions> & { noRollback: boolean; create: boolean } = { noRollback: false, create: false };
    const usage = `usage: npm run ${command} -- --stack <stack>${command === "rollout" ? " [--no-rollback]" : command === "rollback" ? " [--to <tag>]" : ""} [--cwd <project dir>] [--backend <url>]`;
    for (let i = 0; i < argv.length; i++) {
        const arg = argv[i];
        const [flag, inline] = arg.includes("=") ? [arg.slice(0, arg.indexOf("=")), arg.slice(arg.indexOf("=") + 1)] : [arg, undefined];
        const value = (): string => {
            const v = inline ?? argv[++i];
            if (v === undefined || v.startsWith("--")) {
                throw new Error(`${flag} needs a value\n${usage}`);
            }
            return v;
        };
        switch (flag) {
            case "--stack":
            case "-s":
                opts.stack = value();
                break;
            case "--cwd":
                opts.cwd = value();
                break;
            case "--backend":
                opts.backend = value();
                break;
            case "--to":
                if (command !== "rollback") throw new Error(`--to is an option of rollback\n${usage}`);
                opts.to = value();
                break;
            case "--no-rollback":
                if (command !== "rollout") throw new Error(`--no-rollback is an option of rollout\n${usage}`);
                opts.noRollback = true;
                break;
            case "--create":
                opts.create = true;
                break;
            default:
                throw new Error(`unknown argument ${arg}\n${usage}`);
        }
    }
    if (!opts.stack) {
        throw new Error(`--stack is required\n${usage}`);
    }
    return opts as CliOptions;
}

/** A release that passed, as the stack's `release` output records it. */
export interface Release {
    tag: string;
    images: Record<string, string>;
    /**
     * Each service's spec as it ran (container settings and health probe; secrets in plaintext here,
     * as `stack.outputs()` decrypts them): handed back to the program as they are, which checks them.
     * Absent in a release recorded by an older program (tag and images only).
     */
    specs?: Record<string, unknown>;
}

/** The last release whose rollout passed, from a stack's outputs (plain values); undefined when none has. */
export function lastRelease(outputs: Record<string, { value: unknown } | undefined>): Release | undefined {
    const r = outputs.release?.value as { tag?: unknown; images?: unknown; specs?: unknown } | undefined;
    if (!r || typeof r.tag !== "string" || r.images === null || typeof r.images !== "object") {
        return undefined;
    }
    const images = r.images as Record<string, unknown>;
    if (Object.values(images).some((v) => typeof v !== "string" || !/@sha256:[a-f0-9]{64}$/.test(v))) {
        return undefined;
    }
    const release: Release = { tag: r.tag, images: images as Record<string, string> };
    if (r.specs !== null && typeof r.specs === "object" && !Array.isArray(r.specs)) {
        release.specs = r.specs as Record<string, unknown>;
    }
    return release;
}

/** One way a restored spec differs from the stack file, as the rollback's `specSource` output lists it. */
export interface SpecDifferenceLike {
    service: string;
    field: string;
    release: string;
    stackFile: string;
}

/** `ExampleService runs the release's env (FOO=1), the stack file says FOO=2`. */
export function differenceLine(d: SpecDifferenceLike): string {
    return `${d.service} runs the release's ${d.field} (${d.release}), the stack file says ${d.stackFile}`;
}

/**
 * What `npm run status` says of the specs the machine runs: nothing when they are the stack file's;
 * after a rollback, the release they come from and each difference from the stack file (the
 * `specSource` output stays until the next update).
 */
export function specSourceLines(specSource: unknown): string[] {
    const r = specSource as { from?: unknown; tag?: unknown; recordedSpecs?: unknown; differences?: unknown } | undefined;
    if (r?.from !== "release" || r.recordedSpecs !== true) {
        return [];
    }
    const differences = (Array.isArray(r.differences) ? r.differences : []) as SpecDifferenceLike[];
    if (differences.length === 0) {
        return [`the services run release ${String(r.tag)}'s recorded specs (a rollback); they match the stack file`];
    }
    return [
        `the services run release ${String(r.tag)}'s recorded specs (a rollback); the stack file differs:`,
        ...differences.map((d) => `  ${differenceLine(d)}`),
    ];
}

/**
 * What a rollback says about what it restored, from the target it deployed and the `specSource`
 * output of its update: the services whose restored spec differs from the stack file (so the
 * operator knows the stack file still holds the change), or that only images were restored (a
 * release of an older program, or a bare `--to <tag>`: said whether or not its update passed).
 * `specSource` is undefined when the rollback's update failed.
 */
export function restoreLines(
    stack: string,
    target: { tag: string; images?: Record<string, string>; specs?: unknown },
    specSource: unknown,
): string[] {
    const r = specSource as
        | { from?: unknown; tag?: unknown; recordedSpecs?: unknown; differences?: unknown; fromStackFile?: unknown; stackFiles?: unknown }
        | undefined;
    // A fleet stack's services are `<machine>/<Service>`, each in its machine's stack file.
    const stackFiles = (r?.stackFiles ?? {}) as Record<string, string>;
    const fileOf = (service: string): string => stackFiles[service.split("/")[0]] ?? `Pulumi.${stack.split("/").pop()}.yaml`;
    if (target.specs === undefined) {
        return target.images === undefined
            ? [
                  `--to ${target.tag} names a tag only: every service runs its ${target.tag} image; every other setting (env, ports, hardening, GPU, health checks) is the stack file's`,
              ]
            : [
                  `release ${target.tag} was recorded by an older program (tag and images only): only its images are restored; every other setting (env, ports, hardening, GPU, health checks) is the stack file's, which may still hold the change that failed`,
              ];
    }
    if (r?.from !== "release" || r.recordedSpecs !== true) {
        return []; // the rollback's update failed: its outputs are not this rollback's
    }
    const differences = (Array.isArray(r.differences) ? r.differences : []) as SpecDifferenceLike[];
    const fromFile = (Array.isArray(r.fromStackFile) ? r.fromStackFile : []) as string[];
    const lines: string[] = [];
    if (differences.length === 0) {
        lines.push(`restored release ${target.tag}'s recorded spec of every service it records; they match the stack file`);
    } else {
        lines.push(...differences.map((d) => `rolled back: ${differenceLine(d)}`));
        const services = [...new Set(differences.map((d) => d.service))];
        for (const file of [...new Set(services.map(fileOf))]) {
            const here = services.filter((s) => fileOf(s) === file);
            lines.push(
                `${file} still differs from release ${target.tag} for ${here.join(", ")}: the next \`npm run rollout\` applies the stack file again; revert the change there first`,
            );
        }
    }
    if (fromFile.length > 0) {
        lines.push(`${fromFile.join(", ")}: not in release ${target.tag}'s record, so on the stack file's spec`);
    }
    return lines;
}

/** What to do with a lock file of the stack. */
export type LockVerdict = { clear: true; why: string } | { clear: false; why: string };

/** What a file backend's lock file holds (pulumi's diy backend writes these four fields). */
export interface LockContent {
    pid?: number;
    username?: string;
    hostname?: string;
    timestamp?: string;
}

/**
 * A lock is cleared only when it was taken on this machine by a process that no longer exists.
 * A live process, another machine's lock, or a lock that cannot be read is never touched.
 */
export function lockVerdict(lock: LockContent | undefined, thisHost: string, alive: (pid: number) => boolean): LockVerdict {
    if (!lock || typeof lock.pid !== "number" || !Number.isInteger(lock.pid) || lock.pid <= 0) {
        return { clear: false, why: "the lock file does not name a process; left in place" };
    }
    const who = `${lock.username ?? "?"}@${lock.hostname ?? "?"} (pid ${lock.pid}) at ${lock.timestamp ?? "?"}`;
    if (lock.hostname !== thisHost) {
        return { clear: false, why: `taken by ${who} on another machine: its process cannot be checked from here; left in place` };
    }
    if (alive(lock.pid)) {
        return { clear: false, why: `held by a running process: ${who}; wait for it to finish` };
    }
    return { clear: true, why: `left by ${who}, a run that is gone (process ${lock.pid} no longer runs on this machine)` };
}

/** A pending operation of a checkpoint, as `pulumi stack export` prints it. */
export interface PendingOperation {
    type: string;
    resource: { urn: string; type?: string };
}

/** One line per pending operation: what the killed run was doing and what the next update does about it. */
export function describePending(ops: PendingOperation[]): string[] {
    return ops.map((op) => {
        const name = op.resource.urn.split("::").pop();
        const next =
            op.type === "creating"
                ? "not in the state: the next update creates it (the container runtime replaces a container of the same name)"
                : op.type === "deleting"
                  ? "still in the state: the next update deletes or keeps it as the program says"
                  : "kept with its last recorded state: the next update compares it with the program again";
        return `${op.type} ${op.resource.type ?? ""} ${name}: ${next}`;
    });
}

/** Counts of a change summary that are changes (everything but "same"). */
export function changesOf(summary: Record<string, number | undefined> | undefined): Record<string, number> {
    const out: Record<string, number> = {};
    for (const [op, n] of Object.entries(summary ?? {})) {
        if (op !== "same" && (n ?? 0) > 0) {
            out[op] = n as number;
        }
    }
    return out;
}

/** A failure the operator can fix (a missing stack, no passphrase, a locked stack): one line, exit 3. */
export class Refusal extends Error {
    constructor(message: string) {
        super(message);
        this.name = "Refusal";
    }
}

/** The stack the offline settings are for (scripts/start.sh's embedded demo). */
export const OFFLINE_STACK = "local";
/** The explicit switch: 1 = the offline settings for any stack, 0 = the operator's Pulumi setup even for `local`. */
export const OFFLINE_ENV = "AI_FLEET_OFFLINE";

/** Which Pulumi settings a command runs with, and why (said in one line). */
export type PulumiSettings = { offline: true; why: string } | { offline: false; why: string };

/**
 * The one rule for the settings of rollout, rollback and status:
 *  1. AI_FLEET_OFFLINE=1: the offline settings (scripts/pulumi-offline-env.sh, which exports it, so a
 *     shell, `npm start` or a test that sourced that script keeps them for every stack);
 *  2. AI_FLEET_OFFLINE=0: the operator's Pulumi setup, also for `local`;
 *  3. the stack `local`: the offline settings;
 *  4. any other stack: the operator's Pulumi setup, as `pulumi` itself would run (the backend of
 *     `pulumi login` or PULUMI_BACKEND_URL, the stack's own secrets provider, plugins acquired as
 *     Pulumi does, the `pulumi` on PATH).
 * Any other value of AI_FLEET_OFFLINE is refused.
 */
export function pulumiSettings(stack: string, env: Record<string, string | undefined>): PulumiSettings {
    const name = stack.split("/").pop();
    const flag = env[OFFLINE_ENV];
    if (flag !== undefined && flag !== "") {
        if (flag === "1" || flag === "true") {
            return { offline: true, why: `${OFFLINE_ENV}=${flag}` };
        }
        if (flag === "0" || flag === "false") {
            return { offline: false, why: `${OFFLINE_ENV}=${flag}` };
        }
        throw new Refusal(`${OFFLINE_ENV}=${flag}: expected 1 (the offline settings) or 0 (your Pulumi setup)`);
    }
    return name === OFFLINE_STACK
        ? { offline: true, why: `the stack is ${OFFLINE_STACK}` }
        : { offline: false, why: `the stack is not ${OFFLINE_STACK}` };
}

/** What the stack file (Pulumi.<stack>.yaml) and the state say about a stack's secrets provider. */
export interface SecretsEvidence {
    /** The stack file's `secretsprovider` (absent for the backend's default). */
    secretsProvider?: string;
    /** The stack file's `encryptionsalt` (only passphrase stacks have one). */
    encryptionSalt?: string;
    /** The checkpoint's `secrets_providers.type` (undefined: no state, or none recorded). */
    stateProvider?: string;
}

/** Whether the stack keeps its secrets with a passphrase, from the stack file first, else its state. */
export function usesPassphrase(e: SecretsEvidence): boolean {
    if (e.secretsProvider !== undefined && e.secretsProvider !== "") {
        return e.secretsProvider === "passphrase";
    }
    return (e.encryptionSalt !== undefined && e.encryptionSalt !== "") || e.stateProvider === "passphrase";
}

/** Whether the environment gives the CLI a passphrase (an empty PULUMI_CONFIG_PASSPHRASE that is set is one). */
export function hasPassphrase(env: Record<string, string | undefined>): boolean {
    return env.PULUMI_CONFIG_PASSPHRASE !== undefined || (env.PULUMI_CONFIG_PASSPHRASE_FILE ?? "") !== "";
}

/** The refusal for a passphrase stack without a passphrase (undefined when there is nothing to refuse). */
export function passphraseProblem(stack: string, evidence: SecretsEvidence, env: Record<string, string | undefined>): string | undefined {
    if (!usesPassphrase(evidence) || hasPassphrase(env)) {
        return undefined;
    }
    return `stack ${stack} keeps its secrets with a passphrase and none is given: set PULUMI_CONFIG_PASSPHRASE or PULUMI_CONFIG_PASSPHRASE_FILE (nothing was run)`;
}

/** Whether lock files of a backend are files on this machine (`file://`), which the commands may judge and clear. */
export function isFileBackend(url: string): boolean {
    return url.startsWith("file://");
}

/** What to do about a stack's lock in a backend that keeps its locks itself (nothing is touched here). */
export function lockAdvice(backendUrl: string, stack: string): string {
    return `the backend ${backendUrl} keeps the stack's lock itself: nothing is cleared here; if a killed run left ${stack} locked ("Another update is currently in progress"), make sure no run is going on, then \`pulumi cancel --stack ${stack}\``;
}

/** The shape of the Automation API's CommandError (duck-typed: its constructor is internal). */
interface CliErrorLike {
    name?: string;
    message?: string;
    commandResult?: { stderr?: string; code?: number; err?: { stderr?: unknown; exitCode?: unknown } };
}

/**
 * The CLI's own error of a failed command, as one line. The Automation API wraps execa's error
 * (whose message holds the command line, exit code and stderr) into a CommandResult whose text
 * holds that message twice; the CLI's stderr is on execa's error. Its `error: …` lines are the
 * message; without any, its last non-empty line.
 */
export function cliErrorText(e: unknown): string | undefined {
    const r = (e as CliErrorLike | undefined)?.commandResult;
    if (r === undefined) {
        return undefined;
    }
    const stderr = typeof r.err?.stderr === "string" ? r.err.stderr : (r.stderr ?? "");
    const lines = stderr
        .split("\n")
        .map((l) => l.trim())
        .filter((l) => l !== "" && !/^Command failed with exit code/.test(l));
    const errors = lines.filter((l) => l.startsWith("error: ")).map((l) => l.slice("error: ".length));
    const picked = errors.length > 0 ? [...new Set(errors)] : lines.slice(-1);
    const code = typeof r.err?.exitCode === "number" ? r.err.exitCode : r.code;
    return picked.length > 0 ? picked.join("; ") : `the pulumi CLI exited with code ${code} and printed no error`;
}

/**
 * What a failed preview or update says, once: the engine's error diagnostics (each once, without
 * the JavaScript stack frames of a program's exception: the engine's output has them), else the
 * CLI's own error, else the error's message.
 */
export function failureSummary(diagnostics: string[], cliError: string | undefined, message: string): string {
    const engine = [
        ...new Set(
            diagnostics.map((d) =>
                d
                    .split("\n")
                    .filter((l) => !/^\s+at /.test(l))
                    .join("\n")
                    .trim(),
            ),
        ),
    ].filter((d) => d !== "");
    return engine.length > 0 ? engine.join("\n") : (cliError ?? message);
}

/** How a command's failure is reported: one line and an exit code; a stack trace only for a bug. */
export interface FailureReport {
    line: string;
    code: number;
    trace?: string;
}

/** The report of a failure that escaped a command (runMain). */
export function failureReport(command: string, stack: string, e: unknown): FailureReport {
    if (e instanceof Refusal) {
        return { line: `${command}: ${e.message}`, code: EXIT.refused };
    }
    const cli = cliErrorText(e);
    if (cli !== undefined) {
        if ((e as CliErrorLike).name === "ConcurrentUpdateError") {
            return {
                line: `${command}: stack ${stack} is locked by another update (${cli}); nothing was changed: if no run is going on, \`pulumi cancel --stack ${stack}\``,
                code: EXIT.refused,
            };
        }
        return { line: `${command}: the pulumi CLI failed: ${cli}`, code: EXIT.error };
    }
    const err = e instanceof Error ? e : new Error(String(e));
    return { line: `${command}: unexpected error (a bug), its stack trace:`, code: EXIT.error, trace: err.stack ?? err.message };
}

/** Whether the environment turns the CLI's plugin acquisition off (the CLI reads 1 or true, in any case). */
export function pluginAcquisitionOff(env: Record<string, string | undefined>): boolean {
    return /^(1|true)$/i.test(env.PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION ?? "");
}

/**
 * The container runtime of a rollout: the stack's own (`ai-fleet:docker.runtime`); the cli runtime
 * where the docker provider plugin is missing and cannot be acquired (the offline settings, or
 * PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION); where it can, the engine acquires it as `pulumi up` does.
 */
export function runtimeChoice(configured: string, dockerPlugin: boolean, acquisitionOff: boolean): { override?: "cli"; line?: string } {
    if (configured === "cli") {
        return {
            line: "containers run through the cli runtime (docker run through @pulumi/command): the stack's ai-fleet:docker.runtime is cli",
        };
    }
    if (dockerPlugin) {
        return {};
    }
    if (acquisitionOff) {
        return {
            override: "cli",
            line: "NOTE: the docker provider plugin is not installed here: containers run through the cli runtime (docker run through @pulumi/command), as with ai-fleet:docker.runtime: cli",
        };
    }
    return { line: "the docker provider plugin is not installed yet: Pulumi acquires it for the update, as `pulumi up` does" };
}
