/**
 * `npm run status -- --stack <stack>`: per service, the release and digest it runs, its health now
 * (probed live), and when its container was rolled out (created); after a rollback, where the
 * specs the services run differ from the stack file. Exit 0 when every service answers
 * {"status":"ok"}, 1 otherwise.
 */
import { Stack } from "@pulumi/pulumi/automation";
import { execFileSync } from "child_process";
import { ConfigError, parseStackKey, rawFromConfigMap } from "../config";
import { containerName } from "../naming";
import { CliOptions, Refusal, specSourceLines } from "./decide";
import { probeNow } from "./update";
import { openStack, runMain, say } from "./workspace";

/** One row of the status table. */
export interface StatusRow {
    service: string;
    release: string;
    digest: string;
    health: string;
    rolledOutAt: string;
    container: string;
}

/** The rows' text: one line per service, aligned columns, a header. */
export function formatStatus(rows: StatusRow[]): string {
    const header: StatusRow = {
        service: "SERVICE",
        release: "RELEASE",
        digest: "DIGEST",
        health: "HEALTH NOW",
        rolledOutAt: "ROLLED OUT AT",
        container: "CONTAINER",
    };
    const all = [header, ...rows];
    const keys: (keyof StatusRow)[] = ["service", "release", "digest", "health", "rolledOutAt", "container"];
    const width = Object.fromEntries(keys.map((k) => [k, Math.max(...all.map((r) => r[k].length))])) as Record<keyof StatusRow, number>;
    return all
        .map((r) =>
            keys
                .map((k) => r[k].padEnd(width[k]))
                .join("  ")
                .trimEnd(),
        )
        .join("\n");
}

/** `docker inspect` of one container on the machine's engine: created time, state, image. */
function inspect(dockerHost: string, name: string): { created: string; state: string; image: string } | undefined {
    try {
        const out = execFileSync("docker", ["inspect", "--format", "{{.Created}}|{{.State.Status}}|{{.Config.Image}}", name], {
            encoding: "utf8",
            env: { ...process.env, DOCKER_HOST: dockerHost },
            stdio: ["ignore", "pipe", "ignore"],
        }).trim();
        const [created, state, image] = out.split("|");
        return { created, state, image };
    } catch {
        return undefined;
    }
}

/** The stack's `docker.host`, read through the program's parser; a broken `docker` key is refused, naming its problems. */
async function stackDockerHost(stack: Stack, name: string): Promise<string> {
    try {
        return parseStackKey(rawFromConfigMap(await stack.getAllConfig()), "docker").host;
    } catch (e) {
        if (e instanceof ConfigError) {
            throw new Refusal(`stack ${name}: ${e.message}`);
        }
        throw e;
    }
}

/** The whole command; returns the exit code. */
export async function status(opts: CliOptions): Promise<number> {
    const { stack } = await openStack(opts);
    const outputs = await stack.outputs();
    const report = outputs.report?.value as { tag?: string; services?: Record<string, { digest?: string }> } | undefined;
    const machine = String(outputs.machine?.value ?? opts.stack);
    if (!report?.services) {
        say(`stack ${opts.stack} exports no health report: nothing has been rolled out (or only built)`);
        return 1;
    }
    const passed = outputs.release?.value as { tag?: string; images?: Record<string, string> } | undefined;
    const release = passed?.tag ?? report.tag ?? "?";
    // A service whose digest is not the last passed release's runs something a failed rollout left (--no-rollback).
    const releaseOf = (service: string, digest: string): string => {
        const want = passed?.images?.[service];
        return want === undefined || want.endsWith(digest) ? release : `not ${release} (a failed rollout's?)`;
    };
    const dockerHost = await stackDockerHost(stack, opts.stack);
    const live = new Map((await probeNow(report)).map((h) => [h.service, h]));
    const rows: StatusRow[] = Object.keys(report.services)
        .sort()
        .map((service) => {
            const name = containerName(machine, service);
            const c = inspect(dockerHost, name);
            const h = live.get(service);
            const runs = c?.image.includes("@") ? c.image.slice(c.image.indexOf("@") + 1) : (report.services?.[service].digest ?? "?");
            return {
                service,
                release: releaseOf(service, runs),
                digest: runs.replace(/^sha256:([a-f0-9]{12})[a-f0-9]+$/, "sha256:$1…"),
                health: h ? `${h.status}${h.status === "ok" ? "" : ` (HTTP ${h.httpStatus})`}` : "?",
                rolledOutAt: c?.created.replace(/\.\d+Z$/, "Z") ?? "no container",
                container: c ? `${name} (${c.state})` : name,
            };
        });
    process.stdout.write(`${formatStatus(rows)}\n`);
    specSourceLines(outputs.specSource?.value).forEach((l) => say(l));
    const sick = rows.filter((r) => !r.health.startsWith("ok"));
    say(
        sick.length === 0
            ? `${opts.stack}: every service healthy on release ${release}`
            : `${opts.stack}: unhealthy now: ${sick.map((r) => r.service).join(", ")}`,
    );
    return sick.length === 0 ? 0 : 1;
}

if (require.main === module) {
    runMain("status", status);
}
