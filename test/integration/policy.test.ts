/**
 * The policy pack (policy/) through the real Pulumi CLI: `preview`/`up` with `policyPacks`, which
 * the Automation API turns into `--policy-pack`. The CLI starts the pack through the Node.js
 * language host that scripts/toolchain.sh builds (RunPlugin for analyzers: scripts/policy-analyzer.sh).
 * Containers themselves need the docker provider plugin, which cannot be had here: the containers
 * are the second runtime's shape instead, command:local:Command with FLEET_CONTAINER_SPEC, built
 * from the program's own provider adapter (providerContainerArgs) for the services of Pulumi.local.yaml.
 */
import { expect } from "chai";
import * as path from "path";
import { Stack } from "@pulumi/pulumi/automation";
import { providerContainerArgs } from "../../components";
import { containerSpecFor } from "../../deploy";
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
import { loadStack } from "./support/stack";

const POLICY = path.join(ROOT, "policy");
const TAG = "it-policy-10";
const DIGEST = "sha256:" + "10".repeat(32);

/** What a preview or up printed, and whether it failed. */
interface Outcome {
    ok: boolean;
    text: string;
}

async function run(label: string, fn: (onOutput: (l: string) => void) => Promise<unknown>): Promise<Outcome> {
    const start = Date.now();
    let text = "";
    let ok = true;
    try {
        await fn((l) => {
            text += l;
        });
    } catch (e) {
        ok = false;
        text += String(e);
    }
    process.stderr.write(`[policy] ${label}: ${ok ? "succeeded" : "failed"} in ${secondsSince(start)}s\n`);
    return { ok, text };
}

/** docker.ContainerArgs the program gives a service of the local stack, image pinned, optionally changed. */
function localSpec(service: string, edit?: (spec: Record<string, any>) => void, hardening?: Record<string, unknown>): Record<string, any> {
    const cfg = loadStack("local");
    const settings = containerSpecFor(cfg, service);
    const spec = JSON.parse(
        JSON.stringify({
            ...providerContainerArgs({ ...settings, hardening: { ...settings.hardening, ...hardening } }, { gate: "passed" }),
            image: `127.0.0.1:5000/ai-fleet/demo/local/${service.toLowerCase()}@${DIGEST}`,
        }),
    );
    edit?.(spec);
    return spec;
}

describe("the policy pack through the real Pulumi CLI", function () {
    this.timeout(30 * 60 * 1000);
    let status: ToolchainStatus & { policyAnalyzer?: string | null };

    before(function () {
        status = ensureSetup(this);
        process.stderr.write(`[policy] policy analyzer: ${status.policyAnalyzer}\n`);
    });

    describe("containers in the FLEET_CONTAINER_SPEC shape", () => {
        let project: TempProject;

        before(function () {
            project = tempProject(path.join(ROOT, "test", "integration", "programs", "policy"), "policy");
        });
        after(() => project?.cleanup());

        async function stackWith(name: string, specs: Record<string, unknown>): Promise<Stack> {
            return createStack(project, name, status, { "policy:specs": specs });
        }

        it("passes the local stack's own hardened containers, and reports a config opt-out as a note", async () => {
            const stack = await stackWith("hardened", {
                "ai-local-service-registry": localSpec("ServiceRegistry"),
                "ai-local-model-ops-coordinator": localSpec("ModelOpsCoordinator"),
                "ai-local-system-digital-twin": localSpec("SystemDigitalTwin", undefined, { readOnlyRoot: false }),
            });
            const preview = await run("preview, hardened containers", (onOutput) => stack.preview({ policyPacks: [POLICY], onOutput }));
            expect(preview.ok, preview.text).to.equal(true);
            expect(preview.text).to.include("ai-fleet-hardening");
            expect(preview.text).to.include("hardening-opt-outs");
            expect(preview.text).to.include(
                'ai-local-system-digital-twin: opts out of hardening "readOnlyRoot" (services.SystemDigitalTwin.hardening.readOnlyRoot), waiving mandatory policy read-only-root: the root filesystem is writable',
            );
            expect(preview.text).to.not.include("[mandatory]");
            const up = await run("up, hardened containers", (onOutput) => stack.up({ policyPacks: [POLICY], onOutput }));
            expect(up.ok, up.text).to.equal(true);
            await stack.destroy();
        });

        const broken: [string, string, (spec: Record<string, any>) => void][] = [
            [
                "a container running as root",
                "non-root-user",
                (s) => {
                    s.user = "0:0";
                },
            ],
            [
                "an image pinned by tag only",
                "image-pinned-by-digest",
                (s) => {
                    s.image = "127.0.0.1:5000/ai-fleet/demo/local/service_registry:latest";
                },
            ],
        ];
        for (const [what, policy, edit] of broken) {
            it(`fails preview and up on ${what}, naming ${policy}, and creates nothing`, async () => {
                const stack = await stackWith(`broken-${policy}`, { "ai-local-service-registry": localSpec("ServiceRegistry", edit) });
                const preview = await run(`preview, ${what}`, (onOutput) => stack.preview({ policyPacks: [POLICY], onOutput }));
                expect(preview.ok, preview.text).to.equal(false);
                expect(preview.text).to.match(
                    new RegExp(`\\[mandatory\\]\\s+${policy}\\s+\\(command:local:Command: ai-local-service-registry\\)`),
                );
                const up = await run(`up, ${what}`, (onOutput) => stack.up({ policyPacks: [POLICY], onOutput }));
                expect(up.ok, up.text).to.equal(false);
                expect(up.text).to.include(policy);
                const resources = (await stack.exportStack()).deployment.resources ?? [];
                expect(resources.map((r: { type: string }) => r.type)).to.not.include("command:local:Command");
            });
        }
    });

    describe("the build-only local stack (Pulumi.local.yaml's builds and verifications)", () => {
        let project: TempProject;
        let stack: Stack;

        before(async function () {
            project = tempProject(ROOT);
            const demo = copyDemo(project.dir);
            project.env.FORCE_IMAGE_TAG = TAG;
            stack = await createStack(
                project,
                "local-build-policy",
                status,
                buildOnlyConfig(demo, process.env.AI_FLEET_REGISTRY_PASSWORD ?? "fleet-local-pass"),
            );
        });
        after(async () => {
            if (stack) {
                await stack.destroy();
            }
            project?.cleanup();
        });

        it("passes the pack on preview and up: every resource the plugins here allow", async () => {
            const preview = await run("build-only preview with the pack", (onOutput) => stack.preview({ policyPacks: [POLICY], onOutput }));
            expect(preview.ok, preview.text).to.equal(true);
            expect(preview.text).to.include("ai-fleet-hardening");
            const up = await run("build-only up with the pack", (onOutput) => stack.up({ policyPacks: [POLICY], onOutput }));
            expect(up.ok, up.text).to.equal(true);
            expect(up.text).to.not.include("[mandatory]");
        });
    });
});
