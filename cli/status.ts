/**
 * `npm run status -- --stack <stack>`: per service, the release and digest it runs, its health now
 * (probed live), and when its container was rolled out (created); after a rollback, where the
 * specs the services run differ from the stack file. Exit 0 when every service answers
 * {"status":"ok"}, 1 otherwise.
 */
import { Stack } from "@pulumi/pulumi/automation";
import { execFileSync } from "child_process";
import { ConfigError, isFleetStack, parseStackKey, rawFromConfigMap } from "../config";
import { containerName } from "../naming";
import { MACHINE_LABEL, SERVICE_LABEL } from "../common/labels";
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

/** A service's pod on a cluster target, as `kubectl get pods` shows it. */
export interface PodView {
    pod: string;
    /** The node it is bound to; undefined while it waits to be scheduled. */
    node?: string;
    phase: string;
    ready: boolean;
    created: string;
    /** The digest its container runs (imageID). */
    digest?: string;
    /** Why it is not running: the scheduler's message (e.g. the node is cordoned) or the container's waiting reason. */
    waiting?: string;
}

/** The pods of a machine's services on the cluster, by service (kubectl with the stack's kubeconfig and context). */
export function clusterPods(
    cluster: { kubeconfig?: string; context?: string; namespace: string },
    machine: string,
): Map<string, PodView[]> {
    const args = [
        ...(cluster.kubeconfig ? ["--kubeconfig", cluster.kubeconfig] : []),
        ...(cluster.context ? ["--context", cluster.context] : []),
        "-n",
        cluster.namespace,
        "get",
        "pods",
        "-l",
        `${MACHINE_LABEL}=${machine}`,
        "-o",
        "json",
    ];
    let text: string;
    try {
        text = execFileSync("kubectl", args, { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
    } catch (e) {
        const err = e as { code?: string; stderr?: string };
        throw new Refusal(
            err.code === "ENOENT"
                ? "the stack's target is a Kubernetes cluster and status reads its pods with kubectl, which is not on PATH"
                : `kubectl ${args.join(" ")} failed: ${String(err.stderr ?? e).trim()}`,
        );
    }
    return podsByService(JSON.parse(text) as { items: unknown[] });
}

/** `kubectl get pods -o json` → each service's pods (newest first). */
export function podsByService(list: { items: unknown[] }): Map<string, PodView[]> {
    const out = new Map<string, PodView[]>();
    for (const item of list.items as any[]) {
        const service = item.metadata?.labels?.[SERVICE_LABEL];
        if (typeof service !== "string") continue;
        const cs = item.status?.containerStatuses?.[0];
        const unscheduled = (item.status?.conditions ?? []).find((c: any) => c.type === "PodScheduled" && c.status === "False");
        const waiting = cs?.state?.waiting;
        const view: PodView = {
            pod: item.metadata.name,
            node: item.spec?.nodeName || undefined,
            phase: item.status?.phase ?? "Unknown",
            ready: (item.status?.conditions ?? []).some((c: any) => c.type === "Ready" && c.status === "True"),
            created: item.metadata.creationTimestamp ?? "",
            digest: typeof cs?.imageID === "string" && cs.imageID.includes("@") ? cs.imageID.slice(cs.imageID.indexOf("@") + 1) : undefined,
            waiting: unscheduled
                ? `not scheduled: ${unscheduled.message ?? unscheduled.reason}`
                : waiting
                  ? `${waiting.reason}${waiting.message ? `: ${waiting.message}` : ""}`
                  : item.metadata.deletionTimestamp
                    ? "terminating"
                    : undefined,
        };
        out.set(
            service,
            [...(out.get(service) ?? []), view].sort((a, b) => b.created.localeCompare(a.created)),
        );
    }
    return out;
}

/** What the CONTAINER column says of a service's pods on a cluster: where each runs, or why it waits. */
export function podColumn(pods: PodView[] | undefined): string {
    if (!pods || pods.length === 0) return "no pod";
    return pods
        .map(
            (p) =>
                `pod ${p.pod} ${p.node ? `on node ${p.node}` : "on no node"} (${p.phase}${p.ready ? ", ready" : ""}${p.waiting ? `; ${p.waiting}` : ""})`,
        )
        .join("; ");
}

/** The stack's `docker` and `kubernetes` keys, read through the program's parser; a broken key is refused, naming its problems. */
async function stackTarget(
    stack: Stack,
    name: string,
): Promise<{ dockerHost: string; cluster?: { kubeconfig?: string; context?: string; namespace: string } }> {
    try {
        const raw = rawFromConfigMap(await stack.getAllConfig());
        if (isFleetStack(raw)) {
            // A fleet stack: its cluster (the same key as a machine stack's) is every machine's target.
            return { dockerHost: "", cluster: parseStackKey(raw, "kubernetes") };
        }
        return {
            dockerHost: parseStackKey(raw, "docker").host,
            cluster: raw.kubernetes === undefined ? undefined : parseStackKey(raw, "kubernetes"),
        };
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
    const { dockerHost, cluster } = await stackTarget(stack, opts.stack);
    // A fleet stack keys every service <machine>/<Service>: each machine's pods under those keys.
    const fleet = outputs.machines?.value as string[] | undefined;
    const pods = !cluster
        ? undefined
        : fleet
          ? new Map(fleet.flatMap((m) => [...clusterPods(cluster, m)].map(([svc, list]) => [`${m}/${svc}`, list] as const)))
          : clusterPods(cluster, machine);
    const live = new Map((await probeNow(report)).map((h) => [h.service, h]));
    const rows: StatusRow[] = Object.keys(report.services)
        .sort()
        .map((service) => {
            const h = live.get(service);
            const health = h ? `${h.status}${h.status === "ok" ? "" : ` (HTTP ${h.httpStatus})`}` : "?";
            if (pods) {
                const mine = pods.get(service);
                const runs = mine?.find((p) => p.digest)?.digest ?? report.services?.[service].digest ?? "?";
                return {
                    service,
                    release: releaseOf(service, runs),
                    digest: runs.replace(/^sha256:([a-f0-9]{12})[a-f0-9]+$/, "sha256:$1…"),
                    health,
                    rolledOutAt: mine?.[0]?.created || "no pod",
                    container: podColumn(mine),
                };
            }
            const name = containerName(machine, service);
            const c = inspect(dockerHost, name);
            const runs = c?.image.includes("@") ? c.image.slice(c.image.indexOf("@") + 1) : (report.services?.[service].digest ?? "?");
            return {
                service,
                release: releaseOf(service, runs),
                digest: runs.replace(/^sha256:([a-f0-9]{12})[a-f0-9]+$/, "sha256:$1…"),
                health,
                rolledOutAt: c?.created.replace(/\.\d+Z$/, "Z") ?? "no container",
                container: c ? `${name} (${c.state})` : name,
            };
        });
    process.stdout.write(`${formatStatus(rows)}\n`);
    if (pods) {
        // Why a pinned service is not running: its pod waits for its machine's node (cordoned, drained, down).
        for (const [service, list] of [...pods.entries()].sort(([a], [b]) => a.localeCompare(b))) {
            for (const p of list.filter((v) => v.waiting && !v.ready)) {
                say(`${service}: pod ${p.pod} waits: ${p.waiting}`);
            }
        }
    }
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
