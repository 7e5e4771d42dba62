/**
 * What the tests of `npm run rollout|rollback|status` through the real engine share: a copy of the
 * program with a machine profile of its own and a file backend inside, the local stack's config on
 * that machine (cli container runtime, free host ports, short health bounds), and a runner of the
 * commands as `npm run` starts them, their output streamed to the test log.
 */
import type { Stack } from "@pulumi/pulumi/automation";
import { ChildProcess, execFileSync, spawn } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { healthEndpoint, parseStackConfig, publishedPorts } from "../../../config";
import { containerName } from "../../../naming";
import { localStackConfig, ROOT } from "./engine";
import { freePorts, httpGet } from "./proc";

/** A copy of the program (so an extra machine profile gives names of its own) with a file backend inside. */
export function programCopy(machine: string, description: string): { dir: string; stateDir: string } {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), `ai-fleet-${machine}-`));
    // The program is every top-level file and folder but what only tests and state use (scripts/trivy.sh runs at scan time).
    const notProgram = new Set(["node_modules", ".git", ".pulumi-state", "test", "bench", "demo", "docs"]);
    for (const entry of fs.readdirSync(ROOT)) {
        if (!notProgram.has(entry) && !/^Pulumi\..*yaml$/.test(entry))
            fs.cpSync(path.join(ROOT, entry), path.join(dir, entry), { recursive: true });
    }
    const profile = JSON.parse(fs.readFileSync(path.join(ROOT, "profiles", "local.json"), "utf8"));
    fs.writeFileSync(path.join(dir, "profiles", `${machine}.json`), JSON.stringify({ ...profile, machine, description }, null, 2));
    fs.symlinkSync(path.join(ROOT, "node_modules"), path.join(dir, "node_modules"));
    fs.writeFileSync(path.join(dir, "Pulumi.yaml"), "name: ai-fleet\nruntime:\n  name: nodejs\n  options:\n    typescript: true\n");
    const stateDir = path.join(dir, ".state");
    fs.mkdirSync(stateDir);
    return { dir, stateDir };
}

/** Pulumi.local.yaml's `ai-fleet:` keys without the prefix (parseStackConfig's input). */
export function rawLocal(): Record<string, unknown> {
    return Object.fromEntries(Object.entries(localStackConfig()).map(([k, v]) => [k.replace(/^ai-fleet:/, ""), v]));
}

/** The local stack's config on `machine`, the cli runtime, free host ports from `firstPort` and short health bounds. */
export async function cliStackConfig(machine: string, demo: string, password: string, firstPort: number): Promise<Record<string, unknown>> {
    const cfg = localStackConfig();
    const parsed = parseStackConfig(rawLocal()).stack;
    const services: Record<string, unknown> = {};
    for (const [name, svc] of Object.entries(cfg["ai-fleet:services"] as Record<string, Record<string, unknown>>)) {
        const ports = publishedPorts(parsed.services[name]);
        const fresh = await freePorts(ports.length, firstPort);
        const mapped = ports.map((p, i) => ({ container: p.container, host: fresh[i], protocol: p.protocol }));
        const healthHost = mapped[ports.findIndex((p) => p.host === healthEndpoint(parsed.services[name]).hostPort)].host;
        services[name] = { ...svc, ports: mapped, health: { ...(svc.health as object), hostPort: healthHost } };
    }
    return {
        ...cfg,
        "ai-fleet:machine": machine,
        "ai-fleet:docker": { host: "unix:///var/run/docker.sock", healthHost: "127.0.0.1", bindAddress: "127.0.0.1", runtime: "cli" },
        "ai-fleet:build": { ...(cfg["ai-fleet:build"] as object), contextRoot: demo },
        "ai-fleet:services": services,
        "ai-fleet:rollout": {
            ...(cfg["ai-fleet:rollout"] as object),
            health: { timeoutSeconds: 15, intervalSeconds: 1, retries: 15, requestTimeoutSeconds: 2 },
        },
        "ai-fleet:registryPassword": password,
    };
}

/** How a command ended: exit code, everything it printed, how long it took. */
export interface CliRun {
    code: number;
    out: string;
    ms: number;
}

/** Where the commands find the stack: its name, the program copy, the file backend, the environment. */
export interface CliTarget {
    stack: string;
    prog: { dir: string; stateDir: string };
    env: Record<string, string>;
}

/** Runs a cli/ command as `npm run <cmd>` does, its output streamed to our stderr. `onOut` may kill it. */
export function runCli(
    target: CliTarget,
    cmd: "rollout" | "rollback" | "status",
    args: string[],
    extraEnv: Record<string, string> = {},
    onOut?: (all: string, child: ChildProcess) => void,
): Promise<CliRun> {
    const started = Date.now();
    return new Promise((resolve) => {
        const child = spawn(
            process.execPath,
            [
                "-r",
                "ts-node/register/transpile-only",
                path.join(ROOT, "cli", `${cmd}.ts`),
                "--stack",
                target.stack,
                "--cwd",
                target.prog.dir,
                "--backend",
                `file://${target.prog.stateDir}`,
                ...args,
            ],
            {
                cwd: ROOT,
                env: { ...process.env, ...target.env, ...extraEnv },
                detached: true, // its own process group: a test may kill the whole run at once
                stdio: ["ignore", "pipe", "pipe"],
            },
        );
        let out = "";
        const take = (c: Buffer): void => {
            out += c.toString("utf8");
            process.stderr.write(c);
            onOut?.(out, child);
        };
        child.stdout.on("data", take);
        child.stderr.on("data", take);
        child.on("close", (code, signal) => resolve({ code: code ?? (signal ? -1 : 0), out, ms: Date.now() - started }));
    });
}

/** The image a service's container runs (`docker inspect`). */
export function containerImage(machine: string, service: string): string {
    return execFileSync("docker", ["inspect", "--format", "{{.Config.Image}}", containerName(machine, service)], {
        encoding: "utf8",
    }).trim();
}

/** Removes what a test's stack left on the engine: its containers and its network. */
export function removeMachine(machine: string): void {
    const left = execFileSync("docker", ["ps", "-aq", "--filter", `label=ai-fleet.stack=${machine}`], { encoding: "utf8" }).trim();
    if (left) execFileSync("docker", ["rm", "-f", ...left.split("\n")]);
    // A destroyed stack leaves no network (the cli runtime's last `down` removes it); a failed or killed run may.
    spawn("docker", ["network", "rm", `ai-fleet-${machine}`], { stdio: "ignore" });
}

/** Every service's health status now, from the stack's `report` URLs (`no answer: …` where none). */
export async function healthNow(stack: Stack): Promise<Record<string, string>> {
    const report = (await stack.outputs()).report.value as { services: Record<string, { url: string }> };
    const out: Record<string, string> = {};
    for (const [svc, r] of Object.entries(report.services)) {
        out[svc] = await httpGet(r.url).then(
            (res) => String((JSON.parse(res.body) as { status?: string }).status),
            (e: Error) => `no answer: ${e.message}`,
        );
    }
    return out;
}
