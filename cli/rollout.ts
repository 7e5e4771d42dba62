/**
 * `npm run rollout -- --stack <stack> [--no-rollback] [--cwd <dir>] [--backend <url>]`: rolls the
 * machine out and watches it; when a health gate fails, rolls it back to the last release whose
 * rollout passed (its pinned digests and recorded specs, nothing built), checks health again, and
 * exits non-zero naming the failed service, its last status and body, the release it restored and
 * the services whose restored spec differs from the stack file.
 */
import { Stack } from "@pulumi/pulumi/automation";
import { ConfigError, isFleetStack, parseStackKey, rawFromConfigMap } from "../config";
import { RUNTIME_ENV } from "../release";
import { CliOptions, lastRelease, pluginAcquisitionOff, Refusal, Release, restoreLines, runtimeChoice } from "./decide";
import { describeFailures, isGateFailure } from "./failures";
import { deployRelease, previewAndUp, UpdateResult, verifyOnRelease } from "./update";
import { hasDockerPlugin, openStack, prepare, runMain, say } from "./workspace";

/** Exit codes: 0 rolled out; 1 failed (rolled back when it could); 2 the rollback failed too; 3 refused (usage, a live lock); 4 error. */
export { EXIT } from "./decide";
import { EXIT } from "./decide";

/** The stack's `docker.runtime` read through the program's parser (its default too); uses the cli container runtime where the docker provider plugin is missing and cannot be acquired, and says so. */
export async function chooseRuntime(stack: Stack): Promise<void> {
    let runtime = "provider";
    try {
        const raw = rawFromConfigMap(await stack.getAllConfig());
        if (raw.kubernetes !== undefined || isFleetStack(raw)) {
            return; // a cluster target: its workloads need no Docker runtime
        }
        runtime = parseStackKey(raw, "docker").runtime;
    } catch (e) {
        if (!(e instanceof ConfigError)) {
            throw e;
        }
        // the program reports a malformed config with its key path
    }
    const env = stack.workspace.envVars;
    const choice = runtimeChoice(runtime, runtime === "cli" || (await hasDockerPlugin(stack)), pluginAcquisitionOff(env));
    if (choice.override) {
        env[RUNTIME_ENV] = choice.override;
    }
    if (choice.line) {
        say(choice.line);
    }
}

/** Sends the machine back to `release` after `failed`, checks health, returns the exit code. */
export async function rollBack(stack: Stack, failed: UpdateResult, release: Release | undefined, noRollback: boolean): Promise<number> {
    const atGate = failed.failures.filter(isGateFailure);
    const what =
        atGate.length > 0
            ? `health gate failed: ${describeFailures(atGate)}`
            : `${failed.stage} failed:\n${failed.error.trim().split("\n").slice(-15).join("\n")}`;
    if (atGate.length === 0) {
        say(`ROLLOUT FAILED (not at a health gate, so nothing is rolled back): ${what}`);
        return EXIT.rolledBack;
    }
    if (noRollback) {
        say(`ROLLOUT FAILED: ${what}`);
        say(
            `--no-rollback: the failed state stays for debugging; roll back with \`npm run rollback -- --stack ${stack.name.split("/").pop()}\`${release ? ` (to release ${release.tag})` : ""}`,
        );
        return EXIT.rolledBack;
    }
    if (!release) {
        say(`ROLLOUT FAILED: ${what}`);
        say("no earlier release of this stack passed its rollout: there is nothing to roll back to; the failed state stays");
        return EXIT.rolledBack;
    }
    const left = lastRelease(failed.outputs);
    say(
        `health gate failed; the failed update left the stack's release output at ${left?.tag ?? "nothing"}; rolling back to release ${release.tag}`,
    );
    const back = await deployRelease(stack, release);
    const problems = back.ok
        ? await verifyOnRelease(back.outputs, release)
        : [`the rollback update failed: ${back.error.trim().split("\n").slice(-10).join("\n")}`];
    const seconds = ((Date.now() - (failed.firstFailureAt ?? Date.now())) / 1000).toFixed(1);
    say(`ROLLOUT FAILED: ${what}`);
    restoreLines(stack.name, release, back.ok ? back.outputs.specSource?.value : undefined).forEach((l) => say(l));
    if (problems.length > 0) {
        say(`ROLLBACK to release ${release.tag} did not make the machine healthy:\n  - ${problems.join("\n  - ")}`);
        return EXIT.rollbackFailed;
    }
    say(
        `ROLLED BACK: restored release ${release.tag} (${Object.keys(release.images).length} services on their pinned digests${release.specs ? " and recorded specs" : ", the stack file's settings"}), healthy ${seconds}s after the failed health check`,
    );
    return EXIT.rolledBack;
}

/**
 * The stack, ready for an update: opened, what an interrupted run left cleared, the container
 * runtime chosen. Undefined (said why) when it must not be touched, e.g. a live run holds its lock.
 */
export async function readyStack(opts: CliOptions): Promise<Stack | undefined> {
    const { stack, backendUrl } = await openStack(opts);
    try {
        await prepare(stack, backendUrl);
    } catch (e) {
        if (!(e instanceof Refusal)) {
            throw e;
        }
        say(e.message);
        return undefined;
    }
    await chooseRuntime(stack);
    return stack;
}

/** The whole command; returns the exit code. */
export async function rollout(opts: CliOptions): Promise<number> {
    const stack = await readyStack(opts);
    if (stack === undefined) {
        return EXIT.refused;
    }
    // Read before the update: a failed update leaves these outputs as they are.
    const release = lastRelease(await stack.outputs());
    say(release ? `last release that passed on ${opts.stack}: ${release.tag}` : `no release has passed on ${opts.stack} yet`);
    const result = await previewAndUp(stack, `roll out ${opts.stack}`);
    if (result.ok) {
        const now = result.outputs.release?.value as { tag?: string } | undefined;
        say(
            `ROLLED OUT: release ${now?.tag ?? result.outputs.tag?.value} on ${opts.stack}; resource changes ${JSON.stringify(result.changes)}`,
        );
        return EXIT.ok;
    }
    return rollBack(stack, result, release, opts.noRollback);
}

if (require.main === module) {
    runMain("rollout", rollout);
}
