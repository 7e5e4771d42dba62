/**
 * What the rollout command reads of a failed update, through the real engine (no Docker): a
 * program in the FleetService shape (test/integration/programs/events) whose canary's health check
 * fails against a degraded service, whose scan fails and whose gates stay shut. cli/update.ts's
 * previewAndUp collects the failures from the engine's events (URN, type, diagnostic); the rollout
 * rolls back for the health check and the shut gate that carries its FleetService's URN only.
 */
import { expect } from "chai";
import * as http from "http";
import { AddressInfo } from "net";
import * as path from "path";
import { rollBack } from "../../cli/rollout";
import { isGateFailure } from "../../cli/failures";
import { previewAndUp } from "../../cli/update";
import { createStack, ensureCli, ROOT, TempProject, tempProject } from "./support/engine";
import { log } from "./support/proc";

describe("integration: the rollout reads failures from the engine's events", function () {
    this.timeout(15 * 60 * 1000);
    let project: TempProject | undefined;
    let server: http.Server | undefined;

    before(function () {
        const status = ensureCli(this);
        if (!status.plugins.command) {
            this.skip();
        }
    });
    after(() => {
        server?.close();
        project?.cleanup();
    });

    it("names the failed health check, scan and gate by service and role, with the probe's own message", async () => {
        server = http.createServer((_req, res) => {
            res.setHeader("content-type", "application/json");
            res.end('{"status": "degraded"}');
        });
        await new Promise<void>((resolve) => server?.listen(0, "127.0.0.1", resolve));
        const port = (server.address() as AddressInfo).port;
        project = tempProject(path.join(ROOT, "test", "integration", "programs", "events"), "events");
        const stack = await createStack(project, "events", ensureCli(), { "events:port": String(port) });
        const started = Date.now();
        const result = await previewAndUp(stack, "events", false);
        log(`failed update in ${((Date.now() - started) / 1000).toFixed(1)}s; failures read from its events:`);
        for (const f of result.failures) log(`  ${f.service} ${f.role} ${f.type} ${f.urn}`);
        expect(result.ok).to.equal(false);
        expect(result.failures.map((f) => [f.service, f.role, f.type]).sort()).to.deep.equal([
            ["Executor", "gate", "ai-fleet:fleet:FleetService"],
            ["RealTimeAudioPipeline", "health", "command:local:Command"],
            ["ServiceRegistry", "scan", "command:local:Command"],
        ]);
        const health = result.failures.find((f) => f.role === "health");
        expect(health?.urn).to.equal(
            "urn:pulumi:events::events::ai-fleet:fleet:FleetService$command:local:Command::RealTimeAudioPipeline-health",
        );
        expect(health?.diagnostic).to.include(
            `health check failed: service RealTimeAudioPipeline on host 127.0.0.1: GET http://127.0.0.1:${port}/health: last status 200, last body "{\\"status\\": \\"degraded\\"}"`,
        );
        expect(
            result.failures
                .filter(isGateFailure)
                .map((f) => f.service)
                .sort(),
        ).to.deep.equal(["Executor", "RealTimeAudioPipeline"]);
        expect(result.error, "the URN-less gate error is still shown").to.include("CodeGenerator's rollout blocked by its gate");
        expect(result.firstFailureAt).to.be.within(started, Date.now());

        let said = "";
        const write = process.stderr.write.bind(process.stderr);
        process.stderr.write = ((chunk: string | Uint8Array) => {
            said += String(chunk);
            return write(chunk);
        }) as typeof process.stderr.write;
        try {
            await rollBack(stack, result, undefined, true);
        } finally {
            process.stderr.write = write;
        }
        expect(said).to.match(/ROLLOUT FAILED: health gate failed: /);
        expect(said.match(/RealTimeAudioPipeline: its health check/g), "once per service").to.have.length(1);
        expect(said).to.include(`GET http://127.0.0.1:${port}/health: last status 200`);
        await stack.destroy();
    });
});
