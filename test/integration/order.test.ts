/**
 * The local stack's whole rollout through the real Pulumi engine with real containers on the real
 * Docker engine, in dependency order. No mocks. The docker provider plugin cannot be had on this
 * machine, so containers are started by the program's cli runtime (`docker.runtime: cli`: the same
 * container settings, `docker run` through a command resource); the test output says so.
 */
import { expect } from "chai";
import { ChildProcess, execFileSync, spawn } from "child_process";
import * as path from "path";
import { Stack } from "@pulumi/pulumi/automation";
import {
    buildOnlyConfig,
    copyDemo,
    createStack,
    ensureSetup,
    ROOT,
    secondsSince,
    TempProject,
    tempProject,
    ToolchainStatus,
} from "./support/engine";

const TAG = "it-order";

interface Report {
    healthy: boolean;
    tag: string;
    services: Record<string, { healthy: boolean; at: string; digest: string; url: string }>;
}

/** `docker inspect` of the stack's containers: name → start time and health. */
function containers(): Record<string, { started: Date; health: string; image: string }> {
    const ids = execFileSync("docker", ["ps", "-aq", "--filter", "label=ai-fleet.stack=local"], { encoding: "utf8" })
        .trim()
        .split("\n")
        .filter(Boolean);
    if (ids.length === 0) {
        return {};
    }
    const inspected = JSON.parse(execFileSync("docker", ["inspect", ...ids], { encoding: "utf8" })) as {
        Name: string;
        State: { StartedAt: string; Health?: { Status: string } };
        Config: { Image: string; Labels: Record<string, string> };
    }[];
    return Object.fromEntries(
        inspected.map((c) => [
            c.Config.Labels["ai-fleet.service"],
            { started: new Date(c.State.StartedAt), health: c.State.Health?.Status ?? "none", image: c.Config.Image },
        ]),
    );
}

function removeLocalContainers(): void {
    const ids = execFileSync("docker", ["ps", "-aq", "--filter", "label=ai-fleet.stack=local"], { encoding: "utf8" })
        .trim()
        .split("\n")
        .filter(Boolean);
    if (ids.length > 0) {
        execFileSync("docker", ["rm", "-f", ...ids], { stdio: "ignore" });
    }
}

function changes(summary: Record<string, number | undefined>): Record<string, number> {
    return Object.fromEntries(Object.entries(summary).filter(([op, n]) => op !== "same" && (n ?? 0) > 0)) as Record<string, number>;
}

describe("the local stack in dependency order (real engine, real containers)", function () {
    this.timeout(30 * 60 * 1000);
    let status: ToolchainStatus;
    let project: TempProject;
    let stack: Stack;
    let cfg: Record<string, unknown>;
    let password: string;

    before(async function () {
        status = ensureSetup(this);
        process.stderr.write(
            `[order] containers are started by the program's cli runtime (docker run through command:local:Command): the docker provider plugin is ${status.plugins.docker ? "present" : "missing"} here\n`,
        );
        removeLocalContainers();
        password = process.env.AI_FLEET_REGISTRY_PASSWORD ?? "fleet-local-pass";
        project = tempProject(ROOT);
        project.env.FORCE_IMAGE_TAG = TAG;
        const demo = copyDemo(project.dir);
        cfg = buildOnlyConfig(demo, password);
        delete cfg["ai-fleet:phase"];
        cfg["ai-fleet:docker"] = { ...(cfg["ai-fleet:docker"] as object), runtime: "cli" };
        cfg["ai-fleet:rollout"] = {
            ...(cfg["ai-fleet:rollout"] as object),
            health: { timeoutSeconds: 40, intervalSeconds: 0.5, retries: 200, requestTimeoutSeconds: 2 },
        };
        stack = await createStack(project, "local", status, cfg);
    });

    after(async () => {
        if (stack) {
            const t = Date.now();
            await stack.destroy();
            process.stderr.write(`[order] destroy: ${secondsSince(t)}s\n`);
            const left = execFileSync("docker", ["ps", "-aq", "--filter", "label=ai-fleet.stack=local"], { encoding: "utf8" }).trim();
            expect(left, "containers left after destroy").to.equal("");
        }
        project?.cleanup();
    });

    it("starts every container only after each of its dependencies answered ok, and the gated one after the canary", async () => {
        const t = Date.now();
        const result = await stack.up({ onOutput: (l) => process.stderr.write(l) });
        process.stderr.write(`[order] up with containers: ${secondsSince(t)}s\n`);
        const report = result.outputs.report.value as Report;
        expect(report.healthy, JSON.stringify(report)).to.equal(true);
        const running = containers();
        expect(Object.keys(running).sort()).to.deep.equal([
            "AffectiveProcessingCenter",
            "CodeGenerator",
            "ModelOpsCoordinator",
            "RealTimeAudioPipeline",
            "ServiceRegistry",
            "SystemDigitalTwin",
        ]);
        const order: [string, string][] = [
            ["SystemDigitalTwin", "ServiceRegistry"],
            ["ModelOpsCoordinator", "SystemDigitalTwin"],
            ["RealTimeAudioPipeline", "ModelOpsCoordinator"],
            ["AffectiveProcessingCenter", "ModelOpsCoordinator"],
            ["CodeGenerator", "SystemDigitalTwin"],
            ["CodeGenerator", "ModelOpsCoordinator"],
            // The canary gate: CodeGenerator is not needed by the canary, so it waits for all three.
            ["CodeGenerator", "RealTimeAudioPipeline"],
            ["CodeGenerator", "AffectiveProcessingCenter"],
        ];
        for (const [svc, dep] of order) {
            const healthyAt = new Date(report.services[dep].at);
            process.stderr.write(
                `[order] ${dep} healthy ${healthyAt.toISOString()} → ${svc} started ${running[svc].started.toISOString()}\n`,
            );
            expect(running[svc].started.getTime(), `${svc} started after ${dep} was healthy`).to.be.at.least(healthyAt.getTime());
        }
        for (const [name, c] of Object.entries(running)) {
            expect(c.image, name).to.match(/@sha256:[a-f0-9]{64}$/);
        }
    });

    it("passes the hardening policy pack on the program's own containers (cli runtime)", async function () {
        if (!(status as { policyAnalyzer?: string }).policyAnalyzer) {
            process.stderr.write("[order] SKIPPED policy preview: the language host cannot run policy packs here\n");
            this.skip();
        }
        let text = "";
        await stack.preview({
            policyPacks: [path.join(ROOT, "policy")],
            onOutput: (l) => {
                text += l;
            },
        });
        expect(text).to.include("ai-fleet-hardening").and.not.include("[mandatory]");
    });

    it("plans nothing for a second up right after (no-op)", async () => {
        const preview = await stack.preview();
        expect(changes(preview.changeSummary as Record<string, number>), JSON.stringify(preview.changeSummary)).to.deep.equal({});
    });

    it("keeps every resource when services move between canary and gated, or change dependencies: no replacement, no name clash", async () => {
        const rollout = cfg["ai-fleet:rollout"] as { canary: string[] };
        const services = JSON.parse(JSON.stringify(cfg["ai-fleet:services"])) as Record<string, { dependsOn?: string[] }>;
        // CodeGenerator joins the canary; RealTimeAudioPipeline leaves it (and is then gated by it).
        await stack.setConfig("ai-fleet:rollout", {
            value: JSON.stringify({ ...rollout, canary: ["ModelOpsCoordinator", "AffectiveProcessingCenter", "CodeGenerator"] }),
        });
        const moved = await stack.preview({ diff: true });
        expect(
            changes(moved.changeSummary as Record<string, number>),
            `moving between groups: ${JSON.stringify(moved.changeSummary)}`,
        ).to.deep.equal({});
        const before = containers();
        const t = Date.now();
        const up = await stack.up();
        process.stderr.write(`[order] up after the move: ${secondsSince(t)}s, ${JSON.stringify(up.summary.resourceChanges)}\n`);
        expect(changes((up.summary.resourceChanges ?? {}) as Record<string, number>)).to.deep.equal({});
        const after = containers();
        for (const name of Object.keys(before)) {
            expect(after[name].started.getTime(), `${name} was not restarted`).to.equal(before[name].started.getTime());
        }
        // With rollout.exposeDependencies off (the containers lose FLEET_DEPENDENCIES once), a change of
        // dependencies changes no input at all: only the order of later steps.
        await stack.setConfig("ai-fleet:rollout", { value: JSON.stringify({ ...rollout, exposeDependencies: false }) });
        await stack.up();
        services.CodeGenerator.dependsOn = ["SystemDigitalTwin"];
        await stack.setConfig("ai-fleet:services", { value: JSON.stringify(services) });
        const depsPreview = await stack.preview();
        expect(
            changes(depsPreview.changeSummary as Record<string, number>),
            `dependency change: ${JSON.stringify(depsPreview.changeSummary)}`,
        ).to.deep.equal({});
    });
});

describe("a health check laid out by an earlier program moves under FleetService by its aliases (real engine)", function () {
    this.timeout(10 * 60 * 1000);
    let status: ToolchainStatus;
    let project: TempProject;
    let service: ChildProcess | undefined;
    const port = 19891;

    before(function () {
        status = ensureSetup(this);
        service = spawn("python3", [path.join(ROOT, "demo", "services", "system_digital_twin", "service.py")], {
            env: {
                ...process.env,
                PYTHONPATH: path.join(ROOT, "demo", "families", "base-python"),
                DEMO_BIND: "127.0.0.1",
                SERVICE_PORT: String(port - 2),
                HEALTH_PORT: String(port - 1),
                HEALTH_HTTP_PORT: String(port),
            },
            stdio: "ignore",
        });
        project = tempProject(path.join(ROOT, "test", "integration", "programs", "aliases"), "ai-fleet");
    });
    after(() => {
        service?.kill("SIGTERM");
        project?.cleanup();
    });

    for (const group of ["canary", "batch", "root"]) {
        it(`moves a check from under its HealthCheck component${group === "root" ? "" : ` in the old ${group} group`} to FleetService without replacing it`, async () => {
            const stack = await createStack(project, `aliases-${group}`, status, {
                "aliases:layout": group,
                "aliases:port": String(port),
                "aliases:digest": `sha256:${"a".repeat(64)}`,
            });
            await stack.up();
            const before = (await stack.exportStack()).deployment.resources as { urn: string; type: string; id?: string }[];
            await stack.setConfig("aliases:layout", { value: "fleet" });
            const preview = await stack.preview();
            const summary = preview.changeSummary as Record<string, number>;
            // The old components go (HealthCheck, and the group), FleetService's comes; the command stays.
            expect(changes(summary), JSON.stringify(summary)).to.deep.equal({ create: 1, delete: group === "root" ? 1 : 2 });
            const up = await stack.up();
            const after = (await stack.exportStack()).deployment.resources as { urn: string; type: string }[];
            const commands = (rs: { urn: string; type: string; id?: string }[]) => rs.filter((r) => r.type === "command:local:Command");
            expect(commands(after).map((r) => r.urn)).to.deep.equal([
                `urn:pulumi:aliases-${group}::ai-fleet::ai-fleet:fleet:FleetService$command:local:Command::SystemDigitalTwin-health`,
            ]);
            // The same resource: its id (the command provider's) did not change, so it was neither replaced nor re-run.
            expect(commands(after)[0].id).to.equal(commands(before)[0].id);
            expect(after.map((r) => r.type)).to.not.include.members([
                "ai-fleet:rollout:Canary",
                "ai-fleet:rollout:Batch",
                "ai-fleet:rollout:HealthCheck",
            ]);
            expect((up.outputs.report.value as { healthy: boolean }).healthy).to.equal(true);
            await stack.destroy();
        });
    }
});
