/**
 * `npm run rollback -- --stack <stack> [--to <tag>]`: sends the machine back to the last release
 * whose rollout passed (the stack's `release` output: pinned digests and each service's recorded
 * spec), or to `--to <tag>` (every service's `<repo>:<tag>`, verified in the registry, with the
 * stack file's settings); builds nothing, edits no stack config, then checks health and names the
 * services whose restored spec differs from the stack file.
 */
import { CliOptions, EXIT, lastRelease, restoreLines } from "./decide";
import { readyStack } from "./rollout";
import { deployRelease, verifyOnRelease } from "./update";
import { runMain, say } from "./workspace";

/** The whole command; returns the exit code. */
export async function rollback(opts: CliOptions): Promise<number> {
    const stack = await readyStack(opts);
    if (stack === undefined) {
        return EXIT.refused;
    }
    const last = lastRelease(await stack.outputs());
    const target = opts.to !== undefined ? { tag: opts.to } : last;
    if (!target) {
        say(`no release has passed on ${opts.stack} yet: name one with --to <tag>`);
        return EXIT.refused;
    }
    const started = Date.now();
    const result = await deployRelease(stack, target);
    const problems = result.ok
        ? await verifyOnRelease(result.outputs, target)
        : [`the update failed: ${result.error.trim().split("\n").slice(-10).join("\n")}`];
    restoreLines(stack.name, target, result.ok ? result.outputs.specSource?.value : undefined).forEach((l) => say(l));
    if (problems.length > 0) {
        say(`ROLLBACK to release ${target.tag} did not make the machine healthy:\n  - ${problems.join("\n  - ")}`);
        return EXIT.rollbackFailed;
    }
    say(
        `ROLLED BACK: ${opts.stack} runs release ${target.tag}, every service healthy (${((Date.now() - started) / 1000).toFixed(1)}s); resource changes ${JSON.stringify(result.changes)}`,
    );
    return EXIT.ok;
}

if (require.main === module) {
    runMain("rollback", rollback);
}
