/**
 * The real Pulumi engine (CLI, Node.js language host, provider plugins) running this repository's
 * program against the local Docker engine and registry. No mocks. The toolchain comes from
 * scripts/toolchain.sh; what it cannot provide is named in the output and the test that needs it
 * is skipped visibly (mocha lists it as pending with the reason).
 */
import { expect } from "chai";
import { ChildProcess, execFileSync, spawn } from "child_process";
import { createHash } from "crypto";
import * as fs from "fs";
import * as path from "path";
import { Stack } from "@pulumi/pulumi/automation";
import { RegistryClient, splitRef } from "../../probes/registry";
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

const TAG = "it-engine";
const timings: [string, string][] = [];

function timed<T>(label: string, fn: () => Promise<T>): Promise<T> {
    const start = Date.now();
    return fn().finally(() => {
        timings.push([label, secondsSince(start)]);
        process.stderr.write(`[engine] ${label}: ${secondsSince(start)}s\n`);
    });
}

/** The digest the registry serves for `repo:tag` (HEAD on the manifest, Basic auth; probes/registry.js). */
function registryDigest(ref: string, user: string, password: string): Promise<string | undefined> {
    const parts = splitRef(ref);
    if (!parts) {
        throw new Error(`not a reference: ${ref}`);
    }
    return new RegistryClient({ host: parts.host, insecure: true, user, password }).manifestDigest(
        parts.repo,
        parts.digest ?? (parts.tag as string),
    );
}

type Images = Record<string, { pinned: string; ref: string }>;

function changedImages(before: Images, after: Images): string[] {
    return Object.keys(after)
        .filter((k) => before[k]?.pinned !== after[k].pinned)
        .sort();
}

describe("the real Pulumi engine", function () {
    this.timeout(30 * 60 * 1000);
    let status: ToolchainStatus;
    let registry: { user: string; password: string };

    before(function () {
        const t = Date.now();
        status = ensureSetup(this);
        process.stderr.write(
            `[engine] set-up confirmed in ${secondsSince(t)}s: pulumi ${status.pulumiVersion}, language host ${status.languageHostVersion}, plugins ${JSON.stringify(status.plugins)}\n`,
        );
        registry = {
            user: process.env.AI_FLEET_REGISTRY_USER ?? "fleet",
            password: process.env.AI_FLEET_REGISTRY_PASSWORD ?? "fleet-local-pass",
        };
    });

    after(() => {
        process.stderr.write(`[engine] wall times:\n${timings.map(([l, s]) => `  ${s.padStart(7)}s  ${l}`).join("\n")}\n`);
    });

    describe("config the schema rejects", () => {
        let project: TempProject;
        after(() => project?.cleanup());

        it("makes preview fail with the schema's message and creates nothing", async () => {
            project = tempProject(ROOT);
            project.env.FORCE_IMAGE_TAG = TAG;
            const cfg = buildOnlyConfig(path.join(ROOT, "demo"), registry.password);
            const services = JSON.parse(JSON.stringify(cfg["ai-fleet:services"]));
            services.SystemDigitalTwin.port = "7220";
            const stack = await createStack(project, "bad-config", status, {
                ...cfg,
                "ai-fleet:services": services,
                "ai-fleet:rollout": { canary: ["NoSuchService"] },
            });
            let message = "";
            await timed("preview of a rejected config", async () => {
                try {
                    await stack.preview();
                } catch (e) {
                    message = String(e);
                }
            });
            expect(message).to.include("ai-fleet:services.SystemDigitalTwin.port: Invalid input: expected number, received string");
            expect(message).to.include('ai-fleet:rollout.canary.0: canary entry "NoSuchService" names no service');
            const state = await stack.exportStack();
            expect(state.deployment.resources ?? []).to.have.length(0);
        });
    });

    describe("the build-only local stack", () => {
        let project: TempProject;
        let stack: Stack;
        let demo: string;
        let first: Images;

        before(async function () {
            if (!status.plugins["docker-build"] || !status.plugins.command) {
                this.skip();
            }
            project = tempProject(ROOT);
            demo = copyDemo(project.dir);
            project.env.FORCE_IMAGE_TAG = TAG;
            stack = await createStack(project, "local-build", status, buildOnlyConfig(demo, registry.password));
        });

        after(async () => {
            if (stack) {
                await stack.destroy();
            }
            project?.cleanup();
        });

        it("builds the family chain and the services with docker-build, pushes them, and exports digests the registry serves", async () => {
            const result = await timed("build-only up (cold or warm cache)", () => stack.up({ onOutput: (l) => process.stderr.write(l) }));
            first = result.outputs.images.value as Images;
            expect(Object.keys(first).sort()).to.deep.equal([
                "AffectiveProcessingCenter",
                "CodeGenerator",
                "ModelOpsCoordinator",
                "RealTimeAudioPipeline",
                "ServiceRegistry",
                "SystemDigitalTwin",
                "base-python",
                "family-web",
            ]);
            for (const [name, image] of Object.entries(first)) {
                expect(image.pinned, name).to.match(/^127\.0\.0\.1:5000\/ai-fleet\/demo\/local\/[a-z_-]+@sha256:[a-f0-9]{64}$/);
                expect(await registryDigest(image.ref, registry.user, registry.password), `${name} in the registry`).to.equal(
                    image.pinned.split("@")[1],
                );
            }
            expect(result.outputs.containers.value).to.deep.equal([]);
        });

        it("previews no change right after (nothing rebuilt)", async () => {
            const preview = await timed("no-op preview", () => stack.preview());
            const changes = Object.entries(preview.changeSummary).filter(([op, n]) => op !== "same" && (n ?? 0) > 0);
            expect(changes, JSON.stringify(preview.changeSummary)).to.deep.equal([]);
        });

        it("rebuilds only the touched service's image", async () => {
            fs.appendFileSync(path.join(demo, "services", "system_digital_twin", "service.py"), "\n# touched by the engine test\n");
            // The preview must plan the rebuild (the new digest is unknown until the build), not fail.
            const preview = await timed("preview after touching one service", () => stack.preview());
            expect(preview.changeSummary.update, JSON.stringify(preview.changeSummary)).to.be.greaterThan(0);
            const result = await timed("up after touching one service", () => stack.up());
            process.stderr.write(`[engine] resource changes: ${JSON.stringify(result.summary.resourceChanges)}\n`);
            const after = result.outputs.images.value as Images;
            expect(changedImages(first, after)).to.deep.equal(["SystemDigitalTwin"]);
            first = after;
        });

        it("rebuilds a touched family and what builds FROM it, nothing else", async () => {
            // A change the image can see (a comment alone would rebuild to the very same digest).
            fs.appendFileSync(path.join(demo, "families", "family-web", "Dockerfile"), '\nLABEL ai-fleet.test.touched="family-web"\n');
            const result = await timed("up after touching family-web", () => stack.up());
            process.stderr.write(`[engine] resource changes: ${JSON.stringify(result.summary.resourceChanges)}\n`);
            expect(changedImages(first, result.outputs.images.value as Images)).to.deep.equal([
                "CodeGenerator",
                "ServiceRegistry",
                "family-web",
            ]);
        });
    });

    describe("the health gate", () => {
        let project: TempProject;
        let service: ChildProcess | undefined;
        const port = 19881;

        function startDemo(env: Record<string, string>): void {
            service = spawn("python3", [path.join(ROOT, "demo", "services", "system_digital_twin", "service.py")], {
                env: {
                    ...process.env,
                    ...env,
                    PYTHONPATH: path.join(ROOT, "demo", "families", "base-python"),
                    DEMO_BIND: "127.0.0.1",
                    SERVICE_PORT: String(port - 2),
                    HEALTH_PORT: String(port - 1),
                    HEALTH_HTTP_PORT: String(port),
                },
                stdio: "ignore",
            });
        }

        before(function () {
            if (!status.plugins.command) {
                this.skip();
            }
            project = tempProject(path.join(ROOT, "test", "integration", "programs", "gate"), "gate");
        });
        afterEach(() => {
            service?.kill("SIGTERM");
            service = undefined;
        });
        after(() => project?.cleanup());

        async function gateStack(name: string, timeoutSeconds: number): Promise<Stack> {
            return createStack(project, name, status, {
                "gate:service": "SystemDigitalTwin",
                "gate:port": String(port),
                "gate:timeoutSeconds": String(timeoutSeconds),
                "gate:digest": `sha256:${createHash("sha256").update(name).digest("hex")}`,
            });
        }

        it("passes on a healthy service, and the resource behind the gate is created", async () => {
            startDemo({ DEMO_HEALTH: "ok", DEMO_START_DELAY_S: "2" });
            const stack = await gateStack("gate-healthy", 30);
            const result = await timed("gate up, healthy service", () => stack.up());
            expect(result.outputs.report.value).to.include({
                service: "SystemDigitalTwin",
                healthy: true,
                url: `http://127.0.0.1:${port}/health`,
            });
            expect(Number(result.outputs.batchStartedMs.value), "the gated resource ran and recorded when").to.be.greaterThan(
                Date.now() - 120000,
            );
            await timed("gate destroy", () => stack.destroy());
        });

        it("fails on an unhealthy service with service, URL, status and body, and never creates the resource behind it", async () => {
            startDemo({ DEMO_HEALTH: "degraded" });
            const stack = await gateStack("gate-unhealthy", 3);
            let message = "";
            await timed("gate up, degraded service", async () => {
                try {
                    await stack.up();
                } catch (e) {
                    message = String(e);
                }
            });
            expect(message).to.include(
                `health check failed: service SystemDigitalTwin on host 127.0.0.1: GET http://127.0.0.1:${port}/health: last status 200, last body "{\\"status\\": \\"degraded\\"`,
            );
            const resources = (await stack.exportStack()).deployment.resources ?? [];
            expect(resources.map((r: { urn: string }) => r.urn).filter((u: string) => u.endsWith("::batch"))).to.deep.equal([]);
            await stack.destroy();
        });
    });

    describe("the full local stack (containers)", () => {
        it("runs `pulumi up --stack local` with containers, then destroys it leaving none", async function () {
            if (!status.plugins.docker) {
                process.stderr.write(
                    `[engine] SKIPPED full local rollout: docker provider plugin 5.2.0 is missing (${status.missing?.docker ?? "not installed"})\n`,
                );
                this.skip();
            }
            const project = tempProject(ROOT);
            try {
                const demo = copyDemo(project.dir);
                const cfg = buildOnlyConfig(demo, registry.password);
                delete cfg["ai-fleet:phase"];
                project.env.FORCE_IMAGE_TAG = TAG;
                const stack = await createStack(project, "local", status, cfg);
                const result = await timed("full local up", () => stack.up());
                expect((result.outputs.canaryReport.value as { healthy: boolean }).healthy).to.equal(true);
                await timed("full local destroy", () => stack.destroy());
                expect((await stack.exportStack()).deployment.resources ?? []).to.have.length(0);
                const left = execFileSync("docker", ["ps", "-aq", "--filter", "label=ai-fleet.stack=local"], { encoding: "utf8" }).trim();
                expect(left).to.equal("");
            } finally {
                project.cleanup();
            }
        });
    });
});
