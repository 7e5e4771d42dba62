/**
 * The stack's network goes with its last container, on the REAL local Docker engine:
 *  1. the cli container runtime through the real engine (test/integration/programs/clinet: the
 *     commands FleetService's cli runtime runs, probes/container.js up/down): `up` makes the
 *     network `ai-fleet-<stack>`, an update that removes one container keeps it for the others, and
 *     `destroy` leaves no network of that name, so the provider runtime's docker.Network of that name
 *     can be created by the next `up`;
 *  2. scripts/local/down.sh removes the networks labelled as the stack's once its containers are
 *     gone, and leaves another stack's (its state dir is an empty temp dir here, so it stops none of
 *     the daemons the suite shares; AI_FLEET_DOWN_STACK names a stack of this test's own).
 * The provider runtime's side cannot run here (no docker provider plugin: scripts/toolchain.sh --status).
 */
import { expect } from "chai";
import { execFileSync, spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { Stack } from "@pulumi/pulumi/automation";
import { createStack, ensureSetup, ROOT, TempProject, tempProject, ToolchainStatus } from "./support/engine";
import { log } from "./support/proc";
import { localEnv } from "./support/stack";

const RUN = `itnet${process.pid}`;

function docker(...args: string[]): string {
    return execFileSync("docker", args, { encoding: "utf8" }).trim();
}
/** The networks named exactly `name`: id and the ai-fleet.stack label. */
function networks(name: string): { id: string; stack: string }[] {
    return docker("network", "ls", "--no-trunc", "--filter", `name=${name}`, "--format", "{{.ID}} {{.Name}}")
        .split("\n")
        .map((l) => l.split(" "))
        .filter(([id, n]) => id && n === name)
        .map(([id]) => ({ id, stack: docker("network", "inspect", "--format", '{{index .Labels "ai-fleet.stack"}}', id) }));
}
function containersOf(stack: string): string[] {
    return docker("ps", "-a", "--filter", `label=ai-fleet.stack=${stack}`, "--format", "{{.Names}}").split("\n").filter(Boolean).sort();
}
function cleanUp(stack: string): void {
    const ids = docker("ps", "-aq", "--filter", `label=ai-fleet.stack=${stack}`).split("\n").filter(Boolean);
    if (ids.length) spawnSync("docker", ["rm", "-f", ...ids]);
    for (const n of networks(`ai-fleet-${stack}`)) spawnSync("docker", ["network", "rm", n.id]);
}

describe("integration: switching runtimes leaves no stack network behind (real Docker)", function () {
    this.timeout(30 * 60 * 1000);
    let status: ToolchainStatus;
    let env: Record<string, string>;
    const stacks = [`${RUN}a`, `${RUN}b`, `${RUN}c`];

    before(async function () {
        status = ensureSetup(this);
        env = await localEnv();
        if (!env.AI_FLEET_BASE_IMAGE_REF) throw new Error("scripts/local/env.sh exports no AI_FLEET_BASE_IMAGE_REF after set-up");
    });
    after(() => stacks.forEach(cleanUp));

    describe("the cli runtime through the real engine", () => {
        let project: TempProject;
        let stack: Stack;
        const machine = stacks[0];
        const net = `ai-fleet-${machine}`;

        before(async function () {
            if (!status.plugins.command) this.skip();
            project = tempProject(path.join(ROOT, "test", "integration", "programs", "clinet"), "clinet");
            stack = await createStack(project, machine, status, {
                "clinet:stack": machine,
                "clinet:image": env.AI_FLEET_BASE_IMAGE_REF,
                "clinet:registry": env.AI_FLEET_REGISTRY,
                "clinet:username": env.AI_FLEET_REGISTRY_USER,
                "clinet:count": "3",
            });
            await stack.setConfig("clinet:password", { value: env.AI_FLEET_REGISTRY_PASSWORD, secret: true });
        });
        after(async () => {
            await stack?.destroy().catch((e: Error) => log(`destroy failed: ${e.message}`));
            project?.cleanup();
        });

        it("up makes the stack's network; removing one container keeps it for the others", async () => {
            await stack.up({ onOutput: (l) => process.stderr.write(l) });
            expect(
                networks(net).map((n) => n.stack),
                "one network, labelled as the stack's",
            ).to.deep.equal([machine]);
            expect(containersOf(machine)).to.deep.equal([0, 1, 2].map((i) => `ai-${machine}-c${i}`));
            await stack.setConfig("clinet:count", { value: "2" });
            const up = await stack.up({ onOutput: (l) => process.stderr.write(l) });
            expect(up.summary.resourceChanges).to.include({ delete: 1 });
            expect(containersOf(machine)).to.deep.equal([0, 1].map((i) => `ai-${machine}-c${i}`));
            expect(networks(net), "two containers are still on it").to.have.length(1);
        });

        it("destroy removes the last containers and then the network: the provider runtime's Network of that name can be created", async () => {
            // Parallel deletes: the last `down` to run finds nothing on the network and removes it.
            await stack.destroy({ onOutput: (l) => process.stderr.write(l) });
            expect(containersOf(machine)).to.deep.equal([]);
            expect(networks(net)).to.deep.equal([]);
            // What the provider's docker.Network `ai-fleet-<machine>` does on create: no "already exists".
            docker("network", "create", "--driver", "bridge", "--label", `ai-fleet.stack=${machine}`, net);
            expect(networks(net)).to.have.length(1);
            docker("network", "rm", net);
        });
    });

    it("scripts/local/down.sh removes the stack's containers, then its labelled networks, and leaves another stack's", () => {
        const [, mine, other] = stacks;
        const image = env.AI_FLEET_BASE_IMAGE_REF;
        docker("pull", "--quiet", image);
        for (const s of [mine, other]) {
            docker("network", "create", "--label", `ai-fleet.stack=${s}`, `ai-fleet-${s}`);
            docker(
                "run",
                "-dit",
                "--name",
                `ai-${s}-svc`,
                "--label",
                `ai-fleet.stack=${s}`,
                "--network",
                `ai-fleet-${s}`,
                "--entrypoint",
                "bash",
                image,
            );
        }
        const state = fs.mkdtempSync(path.join(os.tmpdir(), "ai-fleet-down-"));
        try {
            const r = spawnSync("bash", [path.join(ROOT, "scripts", "local", "down.sh")], {
                encoding: "utf8",
                env: { ...process.env, AI_FLEET_STATE: state, AI_FLEET_DOWN_STACK: mine },
            });
            log(`down.sh said:\n${r.stderr}`);
            expect(r.status, r.stderr).to.equal(0);
            expect(r.stderr).to.match(new RegExp(`removed network [0-9a-f]+ labelled ai-fleet\\.stack=${mine}`));
        } finally {
            fs.rmSync(state, { recursive: true, force: true });
        }
        expect(containersOf(mine)).to.deep.equal([]);
        expect(networks(`ai-fleet-${mine}`)).to.deep.equal([]);
        expect(containersOf(other), "another stack's container stays").to.deep.equal([`ai-${other}-svc`]);
        expect(networks(`ai-fleet-${other}`)).to.have.length(1);
        expect(spawnSync("docker", ["info"]).status, "the shared Docker engine still answers").to.equal(0);
    });
});
