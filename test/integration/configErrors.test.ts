/**
 * Config mistakes through the real engine: what the operator reads from `pulumi preview`. The
 * checks that need the engine itself are here: which keys it holds as secrets (it hands the
 * program PULUMI_CONFIG_SECRET_KEYS), and which stack this is (organization/project/stack).
 * The message must be the config error alone: a RunError, no JavaScript stack.
 */
import { expect } from "chai";
import * as fs from "fs";
import * as yaml from "js-yaml";
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
import { readStackDocument } from "../../stackFile";
import { writeMachineStackFile } from "./support/stack";

const PASSWORD = process.env.AI_FLEET_REGISTRY_PASSWORD ?? "fleet-local-pass";

async function previewMessage(stack: Stack, label: string): Promise<{ ok: boolean; text: string }> {
    const start = Date.now();
    try {
        const r = await stack.preview();
        process.stderr.write(`[config] ${label}: preview succeeded in ${secondsSince(start)}s\n`);
        return { ok: true, text: r.stdout };
    } catch (e) {
        process.stderr.write(`[config] ${label}: preview failed in ${secondsSince(start)}s\n`);
        return { ok: false, text: String(e) };
    }
}

/**
 * A stack whose config is written into its stack file as structured YAML, as an operator's is
 * (createStack stores objects as JSON strings, and `config set --path` cannot reach into those).
 */
async function structuredStack(
    project: TempProject,
    name: string,
    status: ToolchainStatus,
    config: Record<string, unknown>,
): Promise<Stack> {
    const stack = await createStack(project, name, status, {});
    const file = path.join(project.dir, `Pulumi.${name}.yaml`);
    const doc = readStackDocument(file);
    const plain = Object.fromEntries(Object.entries(config).filter(([k]) => !k.endsWith("registryPassword")));
    fs.writeFileSync(file, yaml.dump({ ...doc, config: { ...(doc.config ?? {}), ...plain } }));
    await stack.setConfig("ai-fleet:registryPassword", { value: PASSWORD, secret: true });
    return stack;
}

/** What a JavaScript stack trace or an unhandled-exception report looks like in the CLI's output. */
const STACK_TRACE = /^\s+at .+\(.*:\d+:\d+\)$|unhandled exception|Error: invalid stack config/m;

describe("config mistakes through the real engine", function () {
    this.timeout(20 * 60 * 1000);
    let status: ToolchainStatus;
    let project: TempProject;
    let demo: string;

    before(function () {
        status = ensureSetup(this);
        project = tempProject(ROOT);
        project.env.FORCE_IMAGE_TAG = "it-config-10";
        demo = copyDemo(project.dir);
    });
    after(() => project?.cleanup());

    it("rejects a registry password set without --secret, says how to set it, and a gate on this very stack, in one clean message", async () => {
        const cfg = buildOnlyConfig(demo, PASSWORD);
        const rollout = { ...(cfg["ai-fleet:rollout"] as Record<string, unknown>), gateStack: "organization/ai-fleet/plaintext-10" };
        const stack = await createStack(project, "plaintext-10", status, { ...cfg, "ai-fleet:rollout": rollout });
        await stack.setConfig("ai-fleet:registryPassword", { value: PASSWORD, secret: false });
        const { ok, text } = await previewMessage(stack, "plaintext password, self gate");
        expect(ok).to.equal(false);
        expect(text).to.include("invalid stack config (2 problems):");
        expect(text).to.include(
            "ai-fleet:registryPassword: a secret written in plaintext in the stack file; set it encrypted instead: pulumi config set --secret registryPassword <value>",
        );
        expect(text).to.include('ai-fleet:rollout.gateStack: "organization/ai-fleet/plaintext-10" is this stack');
        expect(text).to.not.match(STACK_TRACE);
        expect((await stack.exportStack()).deployment.resources ?? []).to.have.length(0);
    });

    it("a fleet stack: a machine stack without its file and a machine file's mistake, in one clean message naming both", async () => {
        // A machine stack file beside the fleet stack's, with one mistake: a port out of range.
        const machine = buildOnlyConfig(demo, PASSWORD);
        const services = JSON.parse(JSON.stringify(machine["ai-fleet:services"])) as Record<string, Record<string, unknown>>;
        services.ServiceRegistry.port = 70000;
        const machineFile = writeMachineStackFile(project.dir, "machine-20", { ...machine, "ai-fleet:services": services });
        const stack = await createStack(project, "fleet-20", status, {
            // The program runs from the repository (Pulumi.yaml's main), so the machine file is named by its path.
            "ai-fleet:fleet": {
                stacks: { "machine-20": { stackFile: machineFile }, "nowhere-20": {} },
            },
            "ai-fleet:kubernetes": { namespace: "it-config-20" },
            "ai-fleet:registryPassword": PASSWORD,
        });
        const { ok, text } = await previewMessage(stack, "fleet stack");
        expect(ok).to.equal(false);
        expect(text).to.include("invalid stack config (2 problems):");
        expect(text, text).to.include("ai-fleet:fleet.stacks.machine-20 (Pulumi.machine-20.yaml): ai-fleet:services.ServiceRegistry.port:");
        expect(text).to.match(/ai-fleet:fleet\.stacks\.nowhere-20: no stack file \S+Pulumi\.nowhere-20\.yaml/);
        expect(text).to.not.match(STACK_TRACE);
        expect((await stack.exportStack()).deployment.resources ?? []).to.have.length(0);
    });

    it("rejects a service token in plaintext, and accepts it set with --secret --path", async () => {
        const stack = await structuredStack(project, "env-secret-10", status, buildOnlyConfig(demo, PASSWORD));
        await stack.setConfig("ai-fleet:services.SystemDigitalTwin.env.HF_TOKEN", { value: "hf_plain", secret: false }, true);
        const plain = await previewMessage(stack, "plaintext service token");
        expect(plain.ok).to.equal(false);
        expect(plain.text).to.include(
            "ai-fleet:services.SystemDigitalTwin.env.HF_TOKEN: HF_TOKEN looks like a secret and is written in plaintext in the stack file; set it encrypted: pulumi config set --secret --path 'services.SystemDigitalTwin.env.HF_TOKEN' <value>",
        );
        expect(plain.text).to.not.match(STACK_TRACE);
        // The operator does what the message says; the engine then holds ai-fleet:services as a secret.
        await stack.setConfig("ai-fleet:services.SystemDigitalTwin.env.HF_TOKEN", { value: "hf_secret", secret: true }, true);
        const secret = await previewMessage(stack, "service token as a secret");
        expect(secret.ok, secret.text).to.equal(true);
    });
});
