/**
 * The health probe that FleetService runs, spawned exactly as the component spawns it, against
 * small HTTP servers on loopback started by the test (no Docker needed; the demo services in
 * Docker are checked by test/integration).
 */
import { expect } from "chai";
import { spawn } from "child_process";
import * as http from "http";
import { AddressInfo } from "net";
import * as path from "path";
import { healthCheckCommand, parseHealthReport } from "../../components";

const ROOT = path.join(__dirname, "..", "..");
const FAST = { timeoutSeconds: 4, intervalSeconds: 0.05, retries: 100, requestTimeoutSeconds: 1 };

interface ProbeRun {
    code: number | null;
    stdout: string;
    stderr: string;
}

function runProbe(service: string, port: number, bounds = FAST, pathName = "/health"): Promise<ProbeRun> {
    const { create, environment } = healthCheckCommand({
        service,
        host: "127.0.0.1",
        port,
        path: pathName,
        bounds,
        digest: "sha256:" + "0".repeat(64),
    });
    return new Promise((resolve) => {
        const child = spawn("sh", ["-c", create], { cwd: ROOT, env: { ...process.env, ...environment } });
        let stdout = "";
        let stderr = "";
        child.stdout.on("data", (d) => (stdout += d));
        child.stderr.on("data", (d) => (stderr += d));
        child.on("close", (code) => resolve({ code, stdout, stderr }));
    });
}

/** Starts a loopback server answering /health with `respond(elapsedMs, n)` for its n-th request. */
async function serve(
    respond: (elapsedMs: number, request: number) => { status: number; body: string },
): Promise<{ port: number; close(): Promise<void> }> {
    const started = Date.now();
    let requests = 0;
    const server = http.createServer((req, res) => {
        const r = respond(Date.now() - started, ++requests);
        res.writeHead(r.status, { "content-type": "application/json" });
        res.end(r.body);
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    const port = (server.address() as AddressInfo).port;
    return { port, close: () => new Promise<void>((r) => server.close(() => r())) };
}

describe("the health probe (real HTTP on loopback)", function () {
    this.timeout(20000);

    it('passes on {"status":"ok"} with extra fields and reports service, URL and attempts', async () => {
        const s = await serve(() => ({ status: 200, body: JSON.stringify({ status: "ok", uptime_s: 3, models: 2 }) }));
        const run = await runProbe("ModelOpsCoordinator", s.port);
        await s.close();
        expect(run.code, run.stderr).to.equal(0);
        const report = parseHealthReport(run.stdout, "ModelOpsCoordinator");
        expect(report).to.include({
            service: "ModelOpsCoordinator",
            healthy: true,
            status: "ok",
            httpStatus: 200,
            attempts: 1,
            url: `http://127.0.0.1:${s.port}/health`,
        });
    });

    it("fails on a 200 whose status is not ok, naming service, host, URL, status and body", async () => {
        const s = await serve(() => ({ status: 200, body: '{"status":"degraded","reason":"model not loaded"}' }));
        const run = await runProbe("AffectiveProcessingCenter", s.port, { ...FAST, timeoutSeconds: 0.3 });
        await s.close();
        expect(run.code).to.equal(1);
        expect(run.stderr).to.include(
            `health check failed: service AffectiveProcessingCenter on host 127.0.0.1: GET http://127.0.0.1:${s.port}/health: last status 200, last body "{\\"status\\":\\"degraded\\",\\"reason\\":\\"model not loaded\\"}"`,
        );
        expect(run.stdout).to.equal("");
    });

    it("does not take a 200 with a non-JSON body for health", async () => {
        const s = await serve(() => ({ status: 200, body: "OK" }));
        const run = await runProbe("RealTimeAudioPipeline", s.port, { ...FAST, timeoutSeconds: 0.3 });
        await s.close();
        expect(run.code).to.equal(1);
        expect(run.stderr).to.include('last status 200, last body "OK"').and.include("body is not JSON");
    });

    it("fails when nothing listens, saying there was no HTTP answer", async () => {
        const s = await serve(() => ({ status: 200, body: "{}" }));
        const port = s.port;
        await s.close();
        const run = await runProbe("ServiceRegistry", port, { ...FAST, timeoutSeconds: 0.3 });
        expect(run.code).to.equal(1);
        expect(run.stderr).to.include("last status none (no HTTP answer)").and.include("ECONNREFUSED");
    });

    it("waits for a service that turns healthy before the timeout", async () => {
        // Starting for the first two requests, however slowly the probe starts on a loaded machine.
        const s = await serve((_ms, request) =>
            request <= 2 ? { status: 503, body: '{"status":"starting"}' } : { status: 200, body: '{"status":"ok"}' },
        );
        const run = await runProbe("SystemDigitalTwin", s.port);
        await s.close();
        expect(run.code, run.stderr).to.equal(0);
        expect(parseHealthReport(run.stdout, "SystemDigitalTwin").attempts).to.be.greaterThan(1);
        expect(run.stderr).to.include('HTTP 503, status "starting" is not "ok"');
    });

    it("gives up at the retry bound even before the timeout", async () => {
        const s = await serve(() => ({ status: 503, body: '{"status":"starting"}' }));
        const run = await runProbe("Executor", s.port, { ...FAST, timeoutSeconds: 60, retries: 3 });
        await s.close();
        expect(run.code).to.equal(1);
        expect(run.stderr).to.include("gave up after 3 attempt(s)").and.include("retries 3");
    });

    it("rejects a report for another service (a mixed-up command output), and a line that breaks the probe's contract", () => {
        const report = {
            service: "A",
            host: "h",
            url: "x",
            healthy: true,
            status: "ok",
            httpStatus: 200,
            attempts: 1,
            elapsedSeconds: 0.1,
            digest: "",
        };
        expect(() => parseHealthReport(JSON.stringify(report), "B")).to.throw("health check of B printed the report of A");
        expect(() => parseHealthReport('{"service":"B","healthy":true,"url":"x"}', "B")).to.throw(
            "health check of B printed a line that does not meet its contract (host: Invalid input",
        );
        expect(() => parseHealthReport("not json", "B")).to.throw("printed no JSON line");
    });
});
