/**
 * Runs a preview and an update with Pulumi's progress streamed as it comes, sends a machine back
 * to a release (phase deploy with its digests, nothing built, no stack config edited), and probes
 * the services' health live.
 */
import * as http from "http";
import * as https from "https";
import { EngineEvent, OutputMap, Stack } from "@pulumi/pulumi/automation";
import { RELEASE_ENV } from "../release";
import { changesOf, cliErrorText, failureSummary, Release } from "./decide";
import { failureLog, ServiceFailure } from "./failures";
import { say } from "./workspace";

/** How an update ended. */
export interface UpdateResult {
    ok: boolean;
    /** Where it ended: the preview (nothing was changed) or the update. */
    stage: "preview" | "update";
    /** The error text (message and stderr) of a failed update. */
    error: string;
    /** What of which service failed, from the engine's events (cli/failures.ts). */
    failures: ServiceFailure[];
    /** When the engine reported the first gate failure (a health check, a shut gate; ms since epoch). */
    firstFailureAt?: number;
    /** Resource changes (everything but "same"). */
    changes: Record<string, number>;
    outputs: OutputMap;
}

/** The engine's error diagnostics of a run, as an onEvent handler fills them in. */
function errorDiagnostics(): { messages: string[]; onEvent: (e: EngineEvent) => void } {
    const messages: string[] = [];
    return {
        messages,
        onEvent: (e) => {
            const d = e.diagnosticEvent;
            if (d && (d.severity === "error" || d.severity === "info#err")) {
                messages.push(d.message);
            }
        },
    };
}

/** `pulumi preview` (unless skipped) then `pulumi up`, both streamed to stdout. */
export async function previewAndUp(stack: Stack, what: string, withPreview = true): Promise<UpdateResult> {
    if (withPreview) {
        say(`preview: ${what}`);
        const seen = errorDiagnostics();
        let preview;
        try {
            preview = await stack.preview({ onOutput: (l) => process.stdout.write(l), diff: false, onEvent: seen.onEvent });
        } catch (e) {
            if ((e as Error).name === "ConcurrentUpdateError" || cliErrorText(e) === undefined) {
                throw e; // another run holds the stack (refused, with what to do), or not the CLI's failure (a bug)
            }
            // A program or config error: the engine's output above has it in full; nothing was changed.
            const error = failureSummary(seen.messages, cliErrorText(e), (e as Error).message);
            return { ok: false, stage: "preview", error, failures: [], changes: {}, outputs: await stack.outputs() };
        }
        say(
            `preview summary: ${JSON.stringify(changesOf(preview.changeSummary as Record<string, number>))} (unchanged: ${preview.changeSummary.same ?? 0})`,
        );
    }
    say(`update: ${what}`);
    const seen = errorDiagnostics();
    const failed = failureLog();
    const onEvent = (e: EngineEvent): void => {
        seen.onEvent(e);
        failed.onEvent(e);
    };
    try {
        const up = await stack.up({ onOutput: (l) => process.stdout.write(l), onEvent });
        return {
            ok: true,
            stage: "update",
            error: "",
            failures: [],
            changes: changesOf(up.summary.resourceChanges as Record<string, number>),
            outputs: up.outputs,
        };
    } catch (e) {
        if ((e as Error).name === "ConcurrentUpdateError") {
            throw e; // another run holds the stack: refused, with what to do (decide.ts failureReport)
        }
        // What failed is read from the engine's events; the text shown is the engine's errors once each (else the CLI's).
        return {
            ok: false,
            stage: "update",
            error: failureSummary(seen.messages, cliErrorText(e), (e as Error).message ?? String(e)),
            failures: failed.failures,
            firstFailureAt: failed.firstGateFailureAt ?? Date.now(),
            changes: {},
            outputs: await stack.outputs(),
        };
    }
}

/**
 * Deploys `release` (phase deploy, its digests or, for a bare tag, every service's repo:tag, and
 * its recorded specs where it has them); nothing is built. No preview: the way back is to a state
 * that passed, and every second counts. The release goes to the program in the environment of
 * this one run (secret env values of its specs too: they stay in this machine's process
 * environment and come back into the state as secrets, never written to the stack file).
 */
export async function deployRelease(
    stack: Stack,
    release: { tag: string; images?: Record<string, string>; specs?: unknown },
): Promise<UpdateResult> {
    // The workspace's environment reaches the program; the stack config is not edited.
    const env = stack.workspace.envVars;
    env[RELEASE_ENV] = JSON.stringify(release);
    try {
        return await previewAndUp(
            stack,
            `back to release ${release.tag} (${release.images ? "its pinned digests" : "every service's <repo>:" + release.tag}${release.specs ? " and recorded specs" : ""}), building nothing`,
            false,
        );
    } finally {
        delete env[RELEASE_ENV];
    }
}

/** One service's health, probed now. */
export interface LiveHealth {
    service: string;
    url: string;
    status: string;
    httpStatus: number;
    body: string;
}

function get(url: string, timeoutMs: number): Promise<{ status: number; body: string }> {
    return new Promise((resolve) => {
        const lib = url.startsWith("https:") ? https : http;
        const req = lib.get(url, { timeout: timeoutMs }, (res) => {
            const chunks: Buffer[] = [];
            res.on("data", (c: Buffer) => chunks.push(c));
            res.on("end", () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString("utf8").slice(0, 300) }));
            res.on("error", (e) => resolve({ status: 0, body: e.message }));
        });
        req.on("timeout", () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
        req.on("error", (e) => resolve({ status: 0, body: e.message }));
    });
}

/** GET every service's health URL of a `report` output now; `status` is the JSON status field or why there is none. */
export async function probeNow(report: unknown): Promise<LiveHealth[]> {
    const services = ((report as { services?: Record<string, { url?: string }> } | undefined)?.services ?? {}) as Record<
        string,
        { url?: string }
    >;
    return Promise.all(
        Object.entries(services).map(async ([service, r]) => {
            const url = r.url ?? "";
            const res = await get(url, 3000);
            let status = res.status === 0 ? "no answer" : "not JSON";
            try {
                const parsed = JSON.parse(res.body) as { status?: unknown };
                status = typeof parsed.status === "string" ? parsed.status : "no status field";
            } catch {
                // keep
            }
            return { service, url, status, httpStatus: res.status, body: res.body };
        }),
    );
}

/**
 * Checks, after a rollback, that every service of the release runs its digest (the `report`
 * output) and answers {"status":"ok"} now. Returns the problems (none: healthy on the release).
 */
export async function verifyOnRelease(outputs: OutputMap, release: Release | { tag: string }): Promise<string[]> {
    const problems: string[] = [];
    const report = outputs.report?.value as { tag?: string; services?: Record<string, { digest?: string }> } | undefined;
    if (!report?.services) {
        return ["the stack exports no health report"];
    }
    if (report.tag !== release.tag) {
        problems.push(`the report is for release ${report.tag}, not ${release.tag}`);
    }
    const images = "images" in release ? release.images : undefined;
    for (const [svc, ref] of Object.entries(images ?? {})) {
        const want = ref.slice(ref.indexOf("@") + 1);
        const got = report.services[svc]?.digest;
        if (got !== want) {
            problems.push(`${svc} runs ${got ?? "nothing"}, not ${want}`);
        }
    }
    for (const h of await probeNow(report)) {
        if (h.status !== "ok") {
            problems.push(`${h.service} at ${h.url}: status ${JSON.stringify(h.status)} (HTTP ${h.httpStatus})`);
        }
    }
    return problems;
}
