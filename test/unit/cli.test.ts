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
import { changesOf, describePending, healthFailures, lastRelease, lockVerdict, parseCliArgs } from "../../cli/decide";
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

    it("reads the failed service, URL, last status and body from the engine's error text", () => {
        const text =
            'error: exit status 1: running "node probes/health-probe.js":\nStderr:\n[health] x\n' +
            'health check failed: service RealTimeAudioPipeline on host 127.0.0.1: GET http://127.0.0.1:6558/health: last status 200, last body "{\\"status\\": \\"degraded\\"}"; HTTP 200, status "degraded" is not "ok"; gave up after 15 attempt(s)\n' +
            'health check failed: service RealTimeAudioPipeline on host 127.0.0.1: GET http://127.0.0.1:6558/health: last status 200, last body "x"\n' +
            "health check failed: service Executor on host mainpc: GET http://mainpc:6607/health: last status none (no HTTP answer), last body (ECONNREFUSED connect ECONNREFUSED); no answer\n";
        const found = healthFailures(text);
        expect(found.map((f) => f.service)).to.deep.equal(["RealTimeAudioPipeline", "Executor"]);
        expect(found[0]).to.include({ url: "http://127.0.0.1:6558/health", lastStatus: "200", lastBody: '{"status": "degraded"}' });
        expect(found[1]).to.include({ lastStatus: "none (no HTTP answer)", lastBody: "(ECONNREFUSED connect ECONNREFUSED)" });
        expect(healthFailures("error: docker-build failed")).to.deep.equal([]);
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
