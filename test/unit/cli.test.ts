/**
 * The rollout command's decisions (cli/decide.ts), the release record and overrides the program
 * reads (release.ts), the lock handling on real files in a temp dir with real processes (dead and
 * alive), the health probe's rollback hint on a real loopback server, and the healthcheck's duration
 * form. No engine, no mocks.
 */
import { expect } from "chai";
import { spawn, spawnSync } from "child_process";
import * as fs from "fs";
import * as http from "http";
import { AddressInfo } from "net";
import * as os from "os";
import * as path from "path";
import { DiagnosticEvent, EngineEvent, Stack } from "@pulumi/pulumi/automation";
import { changesOf, describePending, lastRelease, lockVerdict, parseCliArgs } from "../../cli/decide";
import { describeFailures, failureLog, failureSite, failuresOf, isGateFailure } from "../../cli/failures";
import { EXIT, rollBack } from "../../cli/rollout";
import { clearStaleLocks, lockFiles, processAlive } from "../../cli/workspace";
import { healthCheckCommand } from "../../components";
import { goDuration, providerContainerArgs } from "../../components";
import { containerSpecSchema } from "../../common/containerSpec";
import { applyOverrides, parseOverrides, releaseRecord, RELEASE_ENV, RUNTIME_ENV } from "../../release";

const D = (c: string) => `sha256:${c.repeat(64)}`;
const REF = (svc: string, c: string) => `127.0.0.1:5000/ai-fleet/demo/local/${svc}@${D(c)}`;

describe("the rollout command's decisions", () => {
    it("parses --stack, --no-rollback, --to, --cwd, --backend and refuses what a command does not take", () => {
        expect(parseCliArgs(["--stack", "local", "--no-rollback"], "rollout")).to.include({ stack: "local", noRollback: true });
        expect(parseCliArgs(["--stack=mainpc", "--to", "20250111-656873b3"], "rollback")).to.include({
            stack: "mainpc",
            to: "20250111-656873b3",
        });
        expect(parseCliArgs(["-s", "pc2", "--cwd", "/x", "--backend", "file:///s"], "status")).to.include({
            stack: "pc2",
            cwd: "/x",
            backend: "file:///s",
        });
        expect(() => parseCliArgs([], "rollout")).to.throw("--stack is required");
        expect(() => parseCliArgs(["--stack", "local", "--to", "x"], "rollout")).to.throw("--to is an option of rollback");
        expect(() => parseCliArgs(["--stack", "local", "--no-rollback"], "rollback")).to.throw("--no-rollback is an option of rollout");
        expect(() => parseCliArgs(["--stack"], "status")).to.throw("--stack needs a value");
        expect(() => parseCliArgs(["--stack", "local", "--force"], "rollout")).to.throw("unknown argument --force");
    });

    it("finds the last release that passed in the stack outputs, and nothing in a stack that never passed", () => {
        const images = { ModelOpsCoordinator: REF("model_ops_coordinator", "a") };
        expect(lastRelease({ release: { value: { tag: "r1", images } } })).to.deep.equal({ tag: "r1", images });
        expect(lastRelease({})).to.equal(undefined);
        expect(lastRelease({ release: { value: { tag: "r1", images: { X: "repo:tag" } } } }), "an unpinned image is no release").to.equal(
            undefined,
        );
    });

    it("clears a lock only when it was taken here by a process that is gone", () => {
        const lock = { pid: 4242, username: "root", hostname: "vm", timestamp: "2026-11-27T19:02:54Z" };
        expect(lockVerdict(lock, "vm", () => false)).to.include({ clear: true });
        expect(lockVerdict(lock, "vm", () => true).clear).to.equal(false);
        expect(lockVerdict(lock, "vm", () => true).why).to.include("held by a running process");
        expect(lockVerdict(lock, "other", () => false).why).to.include("on another machine");
        expect(lockVerdict(undefined, "vm", () => false).clear).to.equal(false);
        expect(lockVerdict({ hostname: "vm" }, "vm", () => false).clear).to.equal(false);
    });

    it("describes pending operations and counts only real changes", () => {
        const lines = describePending([
            {
                type: "creating",
                resource: { urn: "urn:pulumi:s::ai-fleet::command:local:Command::ai-local-x-container", type: "command:local:Command" },
            },
            { type: "updating", resource: { urn: "urn:pulumi:s::ai-fleet::command:local:Command::ai-local-x-health-probe" } },
        ]);
        expect(lines[0]).to.match(/^creating command:local:Command ai-local-x-container: not in the state: the next update creates it/);
        expect(lines[1]).to.include("ai-local-x-health-probe: kept with its last recorded state");
        expect(changesOf({ same: 40, update: 0 })).to.deep.equal({});
        expect(changesOf({ same: 30, replace: 3, create: 1 })).to.deep.equal({ replace: 3, create: 1 });
    });
});

/** Engine events of a real failed `pulumi up` (test/integration/programs/events; see the fixture's `recorded`). */
const RECORDED = (
    JSON.parse(fs.readFileSync(path.join(__dirname, "..", "fixtures", "engine-events", "failed-update.json"), "utf8")) as {
        events: EngineEvent[];
    }
).events;
const URN = (parents: string, name: string) => `urn:pulumi:local::ai-fleet::${parents}::${name}`;
const FS = "ai-fleet:fleet:FleetService";
/** An engine event as the Automation API hands it to onEvent, with what the reading needs. */
function diag(message: string, severity: DiagnosticEvent["severity"], urn?: string): EngineEvent {
    return { sequence: 0, timestamp: 0, diagnosticEvent: { urn, message, color: "never", severity } };
}
function opFailed(urn: string, type: string): EngineEvent {
    return {
        sequence: 0,
        timestamp: 0,
        resOpFailedEvent: { metadata: { op: "create", urn, type, provider: "" }, status: 0, steps: 1 },
    };
}

describe("what failed in an update, from the engine's events (cli/failures.ts)", () => {
    it("reads a real failed update: the health check and the shut gate are gate failures, the scan is not, a URN-less error names no service", () => {
        const found = failuresOf(RECORDED);
        expect(found.map((f) => [f.service, f.role, f.type])).to.deep.equal([
            ["Executor", "gate", FS],
            ["ServiceRegistry", "scan", "command:local:Command"],
            ["RealTimeAudioPipeline", "health", "command:local:Command"],
        ]);
        expect(found.map(isGateFailure)).to.deep.equal([true, false, true]);
        const health = found[2];
        expect(health.urn).to.equal(
            "urn:pulumi:ev::events::ai-fleet:fleet:FleetService$command:local:Command::RealTimeAudioPipeline-health",
        );
        // The engine's error diagnostic, whole: the probe's own message names URL, last status and body.
        expect(health.diagnostic).to.match(
            /^exit status 1: running "node \/repo\/probes\/health-probe.js":\nStdout:\n\nStderr:\n\[health\]/,
        );
        expect(health.diagnostic).to.include(
            'health check failed: service RealTimeAudioPipeline on host 127.0.0.1: GET http://127.0.0.1:6558/health: last status 200, last body "{\\"status\\": \\"degraded\\"}"',
        );
        expect(health.diagnostic, "the ephemeral progress lines are not added again").to.not.match(/\n\n\[health\]/);
        expect(found[0].diagnostic).to.include("Executor's rollout blocked by its gate");
        expect(JSON.stringify(found), "CodeGenerator's GateClosedError is a RunError: its diagnostic has no URN").to.not.include(
            "CodeGenerator",
        );
    });

    it("ignores what names no FleetService child (the pre-FleetService layout, the stack, providers) and non-errors", () => {
        const old = URN("ai-fleet:rollout:HealthCheck$command:local:Command", "ai-local-real-time-audio-pipeline-health-probe");
        const found = failuresOf([
            diag("health check failed: service RealTimeAudioPipeline on host 127.0.0.1: ...", "error", old),
            opFailed(old, "command:local:Command"),
            diag("update failed", "error"),
            diag("error serializing property ...", "error", URN("pulumi:pulumi:Stack", "ai-fleet-local")),
            diag("[health] attempt 1/3", "info", URN(`${FS}$command:local:Command`, "Executor-health")),
            diag("a warning", "warning", URN(FS, "Executor")),
            diag("not a role", "error", URN(`${FS}$command:local:Command`, "Executor-probe")),
        ]);
        expect(found).to.deep.equal([]);
    });

    it("keeps one failure per URN, each diagnostic once, the type from the failed step, and when the first gate failure came", () => {
        let clock = 1000;
        const log = failureLog(() => clock++);
        const scan = URN(`${FS}$command:local:Command`, "ServiceRegistry-scan");
        const health = URN(`${FS}$command:local:Command`, "Executor-health");
        const container = URN(`${FS}$docker:index/container:Container`, "Executor-container");
        log.onEvent(diag("vulnerability gate failed", "error", scan));
        expect(log.firstGateFailureAt, "a scan is no gate of the rollout").to.equal(undefined);
        log.onEvent(opFailed(health, "command:local:Command"));
        log.onEvent(diag("exit status 1: first\n", "error", health));
        log.onEvent(diag("exit status 1: first", "error", health));
        log.onEvent(diag("timed out", "error", health));
        log.onEvent(opFailed(container, "docker:index/container:Container"));
        expect(log.firstGateFailureAt).to.equal(1000);
        expect(log.failures).to.deep.equal([
            { service: "ServiceRegistry", role: "scan", type: "command:local:Command", urn: scan, diagnostic: "vulnerability gate failed" },
            {
                service: "Executor",
                role: "health",
                type: "command:local:Command",
                urn: health,
                diagnostic: "exit status 1: first\ntimed out",
            },
            { service: "Executor", role: "container", type: "docker:index/container:Container", urn: container, diagnostic: "" },
        ]);
        expect(failureSite(URN(FS, "Executor"))).to.deep.equal({ service: "Executor", role: "gate", type: FS });
    });

    it("shows each service once, what of it failed and the engine's diagnostic as given (a long one keeps its first and last lines)", () => {
        const attempts = Array.from({ length: 30 }, (_, i) => `[health] X attempt ${i + 1}/30: HTTP 503`);
        const verdict = 'health check failed: service X on host h: GET http://h:1/health: last status 503, last body "down"';
        const text = describeFailures([
            {
                service: "X",
                role: "health",
                type: "command:local:Command",
                urn: URN(`${FS}$command:local:Command`, "X-health"),
                diagnostic: ['exit status 1: running "node probes/health-probe.js":', "Stdout:", "", "Stderr:", ...attempts, verdict].join(
                    "\n",
                ),
            },
            {
                service: "Y",
                role: "gate",
                type: FS,
                urn: URN(FS, "Y"),
                diagnostic: "Y's rollout blocked by its gate:\n  - stack s: canary unhealthy",
            },
        ]);
        const lines = text.split("\n");
        expect(lines[0]).to.equal("X: its health check (command:local:Command X-health) failed:");
        expect(lines[1]).to.equal('    exit status 1: running "node probes/health-probe.js":');
        expect(lines[2]).to.equal("    … 24 lines …");
        expect(lines[12]).to.equal(`    ${verdict}`);
        expect(lines.slice(13)).to.deep.equal([
            `Y: its gate (${FS} Y) failed:`,
            "    Y's rollout blocked by its gate:",
            "      - stack s: canary unhealthy",
        ]);
    });

    it("rolls back only for a gate failure, naming it with the probe's message; anything else is reported, not rolled back", async () => {
        const failures = failuresOf(RECORDED);
        const base = { ok: false, stage: "update" as const, error: "engine errors", changes: {}, outputs: {} };
        const stack = { name: "organization/ai-fleet/local" } as Stack;
        const said = await capture(() =>
            rollBack(stack, { ...base, failures: failures.filter((f) => f.role === "scan") }, undefined, true),
        );
        expect(said.code).to.equal(EXIT.rolledBack);
        expect(said.out).to.include("ROLLOUT FAILED (not at a health gate, so nothing is rolled back): update failed:\nengine errors");
        const gate = await capture(() => rollBack(stack, { ...base, failures }, undefined, true));
        expect(gate.code).to.equal(EXIT.rolledBack);
        expect(gate.out).to.include("ROLLOUT FAILED: health gate failed: Executor: its gate");
        expect(gate.out).to.include(
            "RealTimeAudioPipeline: its health check (command:local:Command RealTimeAudioPipeline-health) failed:\n    exit status 1",
        );
        expect(gate.out).to.match(
            /health check failed: service RealTimeAudioPipeline on host 127\.0\.0\.1: GET http:\/\/127\.0\.0\.1:6558\/health: last status 200/,
        );
        expect(gate.out, "the scan is no gate failure").to.not.include("ServiceRegistry");
        expect(gate.out).to.include("--no-rollback: the failed state stays");
    });
});

/** What `fn` said on stderr (the commands' `say`), and what it returned. */
async function capture(fn: () => Promise<number>): Promise<{ code: number; out: string }> {
    const write = process.stderr.write.bind(process.stderr);
    let out = "";
    process.stderr.write = ((chunk: string | Uint8Array) => {
        out += String(chunk);
        return true;
    }) as typeof process.stderr.write;
    try {
        return { code: await fn(), out };
    } finally {
        process.stderr.write = write;
    }
}

describe("the release record and the overrides the program reads", () => {
    const report = (healthy: boolean, sick: Record<string, { healthy: boolean; required?: boolean }> = {}) => ({
        tag: "r2",
        healthy,
        services: { A: { healthy: true }, B: { healthy: true }, ...sick },
    });

    it("records every service's pinned image once every required service passed", () => {
        const images = { A: REF("a", "1"), B: REF("b", "2"), C: REF("c", "3") };
        expect(releaseRecord(report(true), images, ["B", "A"])).to.deep.equal({ tag: "r2", images: { A: images.A, B: images.B } });
        expect(
            releaseRecord(report(true, { C: { healthy: false, required: false } }), images, ["A", "B", "C"]).images.C,
            "an optional service's failure does not block the record",
        ).to.equal(images.C);
        expect(() => releaseRecord(report(false, { C: { healthy: false } }), images, ["A"])).to.throw("release r2 did not pass: C");
        expect(() => releaseRecord(report(true), { A: "repo:tag" }, ["A"])).to.throw("service A has no image pinned by digest");
    });

    it("parses the rollback release and the runtime, naming the variable on a bad value", () => {
        const images = { A: REF("a", "1") };
        expect(parseOverrides({ [RELEASE_ENV]: JSON.stringify({ tag: "r1", images }), [RUNTIME_ENV]: "cli" })).to.deep.equal({
            release: { tag: "r1", images },
            runtime: "cli",
        });
        expect(parseOverrides({ [RELEASE_ENV]: JSON.stringify({ tag: "r1" }) })).to.deep.equal({
            release: { tag: "r1", images: undefined },
        });
        expect(parseOverrides({})).to.deep.equal({});
        expect(() => parseOverrides({ [RELEASE_ENV]: "{" })).to.throw(`${RELEASE_ENV} is not JSON`);
        expect(() => parseOverrides({ [RELEASE_ENV]: JSON.stringify({ tag: "-bad" }) })).to.throw(`${RELEASE_ENV}.tag`);
        expect(() => parseOverrides({ [RELEASE_ENV]: JSON.stringify({ tag: "r1", images: { A: "repo:r1" } }) })).to.throw(
            `${RELEASE_ENV}.images.A: expected repo@sha256`,
        );
        expect(() => parseOverrides({ [RUNTIME_ENV]: "podman" })).to.throw(`${RUNTIME_ENV}: expected provider or cli`);
    });

    it("deploys a release in phase deploy with its digests (or its tag), building nothing, and keeps the rest of the config", () => {
        const raw = { machine: "local", phase: "all", docker: { host: "unix:///var/run/docker.sock" }, services: { A: {} } };
        const images = { A: REF("a", "1") };
        expect(applyOverrides(raw, { release: { tag: "r1", images } })).to.deep.equal({ ...raw, phase: "deploy", deploy: { images } });
        expect(applyOverrides(raw, { release: { tag: "r1" } })).to.deep.include({ phase: "deploy", deploy: {} });
        expect(applyOverrides(raw, { runtime: "cli" }).docker).to.deep.equal({ host: "unix:///var/run/docker.sock", runtime: "cli" });
        expect(applyOverrides(raw, {})).to.deep.equal(raw);
        expect(raw.phase, "the input is not changed").to.equal("all");
    });
});

describe("stack locks in a file backend (real files, real processes)", () => {
    let dir: string;
    const lockDir = () => path.join(dir, ".pulumi", "locks", "organization", "ai-fleet", "local");
    const writeLock = (name: string, content: object) => {
        fs.mkdirSync(lockDir(), { recursive: true });
        fs.writeFileSync(path.join(lockDir(), `${name}.json`), JSON.stringify(content));
        fs.writeFileSync(path.join(lockDir(), `${name}.json.attrs`), "{}");
    };
    beforeEach(() => (dir = fs.mkdtempSync(path.join(os.tmpdir(), "ai-fleet-9-locks-"))));
    afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

    it("clears the lock of a run that is gone, with its .attrs, and says so", () => {
        const gone = spawnSync("true").pid as number;
        expect(processAlive(gone)).to.equal(false);
        writeLock("dead", { pid: gone, username: "root", hostname: os.hostname(), timestamp: new Date().toISOString() });
        const other = path.join(dir, ".pulumi", "locks", "organization", "ai-fleet", "mainpc", "x.json");
        fs.mkdirSync(path.dirname(other), { recursive: true });
        fs.writeFileSync(other, JSON.stringify({ pid: gone, hostname: os.hostname() }));
        expect(lockFiles(`file://${dir}`, "ai-fleet", "local")).to.have.length(1);
        expect(clearStaleLocks(`file://${dir}`, "ai-fleet", "local")).to.equal(1);
        expect(fs.readdirSync(lockDir())).to.deep.equal([]);
        expect(fs.existsSync(other), "another stack's lock is not this command's business").to.equal(true);
    });

    it("counts a zombie (a killed run no one reaped) as gone, a live process as running", async function () {
        // A child whose parent never waits for it stays a zombie: here `sleep 1` under a shell that
        // execs into `sleep 30` (the second lets the exec come first: a shell still running may reap
        // it). A SIGKILLed `pulumi` becomes one where PID 1 reaps no orphans (containers, CI
        // sandboxes), and signal 0 still reaches it.
        const parent = spawn("sh", ["-c", "sleep 1 & echo $!; exec sleep 30"], { stdio: ["ignore", "pipe", "ignore"] });
        try {
            const pid = Number(await new Promise<string>((r) => parent.stdout.once("data", (d: Buffer) => r(d.toString()))));
            const stat = () => fs.readFileSync(`/proc/${pid}/stat`, "utf8");
            for (let i = 0; i < 250 && !/\) Z /.test(stat()); i++) await new Promise((r) => setTimeout(r, 20));
            expect(stat(), "the child is a zombie now").to.match(/\) Z /);
            expect(() => process.kill(pid, 0), "signal 0 reaches a zombie").to.not.throw();
            expect(processAlive(pid), "a zombie holds no lock").to.equal(false);
        } finally {
            parent.kill();
        }
        const live = spawn("sleep", ["30"], { stdio: "ignore" });
        try {
            expect(processAlive(live.pid as number)).to.equal(true);
        } finally {
            live.kill();
        }
    });

    it("never touches a lock held by a live process, and refuses to go on", () => {
        const live = spawn("sleep", ["30"]);
        try {
            writeLock("live", { pid: live.pid, username: "root", hostname: os.hostname(), timestamp: new Date().toISOString() });
            expect(() => clearStaleLocks(`file://${dir}`, "ai-fleet", "local")).to.throw(
                /stack local is locked; nothing was changed:[\s\S]*held by a running process/,
            );
            expect(fs.existsSync(path.join(lockDir(), "live.json"))).to.equal(true);
        } finally {
            live.kill();
        }
    });
});

describe("the health probe's failure names the rollback command", function () {
    this.timeout(20000);

    it("appends `npm run rollback -- --stack <stack>` to a failed check's message", async () => {
        const server = http.createServer((_req, res) => res.end('{"status":"degraded"}'));
        await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
        try {
            const port = (server.address() as AddressInfo).port;
            const spec = healthCheckCommand({
                service: "X",
                host: "127.0.0.1",
                port,
                path: "/health",
                bounds: { timeoutSeconds: 1, intervalSeconds: 0.2, retries: 3, requestTimeoutSeconds: 1 },
                digest: D("0"),
                rollbackCommand: "npm run rollback -- --stack local",
            });
            const run = await new Promise<{ code: number | null; stderr: string }>((resolve) => {
                const child = spawn("sh", ["-c", spec.create], {
                    cwd: path.join(__dirname, "..", ".."),
                    env: { ...process.env, ...spec.environment },
                });
                let stderr = "";
                child.stderr.on("data", (d) => (stderr += d));
                child.on("close", (code) => resolve({ code, stderr }));
            });
            expect(run.code).to.equal(1);
            expect(run.stderr).to.match(
                /health check failed: service X on host 127\.0\.0\.1: .*last body "\{\\"status\\":\\"degraded\\"\}"[^\n]*\nroll back to the last release that passed: run `npm run rollback -- --stack local`/,
            );
        } finally {
            server.close();
        }
    });
});

describe("the container healthcheck in the form the docker provider reads back", () => {
    it("prints durations as Go's time.Duration does", () => {
        expect([0, 5, 15, 60, 90, 3600, 3725].map(goDuration)).to.deep.equal(["0s", "5s", "15s", "1m0s", "1m30s", "1h0m0s", "1h2m5s"]);
        expect(() => goDuration(1.5)).to.throw("whole non-negative seconds");
    });

    it("gives interval, timeout and start period in that form (a `60s` would read back as `1m0s`: ~healthcheck on every up)", () => {
        const hc = providerContainerArgs(
            containerSpecSchema.parse({
                service: "S",
                machine: "local",
                containerName: "ai-local-s",
                ports: [],
                bindAddress: "127.0.0.1",
                env: {},
                hardening: {
                    user: "10001:10001",
                    init: true,
                    readOnlyRoot: true,
                    tmpfs: ["/tmp"],
                    noNewPrivileges: true,
                    dropAllCapabilities: true,
                },
                health: { containerPort: 8008, path: "/health" },
            }),
            { gate: "passed" },
        ).healthcheck as { interval: string; timeout: string; startPeriod: string };
        expect({ interval: hc.interval, timeout: hc.timeout, startPeriod: hc.startPeriod }).to.deep.equal({
            interval: "15s",
            timeout: "5s",
            startPeriod: "1m0s",
        });
    });
});
