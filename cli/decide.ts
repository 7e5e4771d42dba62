/**
 * The rollout command's decisions, as pure functions (tested in test/unit/cli.test.ts without an
 * engine): its arguments, the last release a stack's outputs name, what a failed update's messages
 * say about the failed health check, and whether a lock file belongs to a run that is gone.
 */

/** Options of the rollout, rollback and status commands. */
/** Exit codes of rollout, rollback and status. */
export const EXIT = { ok: 0, rolledBack: 1, rollbackFailed: 2, refused: 3, error: 4 } as const;

export interface CliOptions {
    /** Stack name (e.g. local, mainpc). */
    stack: string;
    /** Project directory holding Pulumi.yaml (default: this repository). */
    cwd?: string;
    /** Backend URL (default PULUMI_BACKEND_URL, else the repository's file backend). */
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
}

/** The last release whose rollout passed, from a stack's outputs (plain values); undefined when none has. */
export function lastRelease(outputs: Record<string, { value: unknown } | undefined>): Release | undefined {
    const r = outputs.release?.value as { tag?: unknown; images?: unknown } | undefined;
    if (!r || typeof r.tag !== "string" || r.images === null || typeof r.images !== "object") {
        return undefined;
    }
    const images = r.images as Record<string, unknown>;
    if (Object.values(images).some((v) => typeof v !== "string" || !/@sha256:[a-f0-9]{64}$/.test(v))) {
        return undefined;
    }
    return { tag: r.tag, images: images as Record<string, string> };
}

/** One failed health check, as the probe's message names it. */
export interface HealthFailure {
    service: string;
    url: string;
    lastStatus: string;
    lastBody: string;
    /** The whole `health check failed: …` sentence. */
    message: string;
}

/** The failed health checks named in a failed update's messages (each service once, in order). */
export function healthFailures(text: string): HealthFailure[] {
    const found: HealthFailure[] = [];
    const re =
        /health check failed: service (\S+) on host \S+: GET (\S+): last status (.+?), last body ("(?:[^"\\]|\\.)*"|\([^)]*\))[^\n]*/g;
    for (const m of text.matchAll(re)) {
        if (found.some((f) => f.service === m[1])) {
            continue;
        }
        let body = m[4];
        try {
            body = body.startsWith('"') ? (JSON.parse(body) as string) : body;
        } catch {
            // keep the quoted form
        }
        found.push({ service: m[1], url: m[2], lastStatus: m[3], lastBody: body, message: m[0] });
    }
    return found;
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
    return { clear: true, why: `left by ${who}, a run that is gone (no process ${lock.pid} on this machine)` };
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
