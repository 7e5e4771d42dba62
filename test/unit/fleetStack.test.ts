/**
 * A fleet stack (config/fleet.ts, deploy/fleet.ts) under Pulumi mocks (see harness.ts): the
 * operator's two machine stack files, Pulumi.mainpc.yaml and Pulumi.pc2.yaml, rolled out by one
 * stack onto one cluster. What it must hold: every (machine, service) pair once, named by machine;
 * pc2 gated on mainpc's canary in the same update; outputs and the release keyed `<machine>/<Service>`;
 * a clear error for each config mistake, naming the key.
 */
import { expect } from "chai";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import { ConfigError, FleetStackConfig, parseFleetStack } from "../../config";
import { deployFleet, FleetStackOutputs } from "../../deploy/fleet";
import { restoreLines } from "../../cli/decide";
import { failureSite } from "../../cli/failures";
import { resolveTag } from "../../naming";
import { machineOverrides, releaseOutput } from "../../release";
import { PROJECT_DIR, readStackFile } from "../../stackFile";
import { registered, resetWorld, scenario, valueOf } from "./harness";
import { COMMIT, finish, PASSWORD, TAG } from "./rolloutRun";

const CLUSTER = { namespace: "ai-fleet", kubeconfig: "/home/ai/.kube/config" };

function fleet(stacks: Record<string, unknown> = { pc2: {}, mainpc: {} }, dir = PROJECT_DIR): FleetStackConfig {
    return parseFleetStack({ fleet: { stacks }, kubernetes: CLUSTER }, { dir, organization: "organization" });
}

function run(cfg = fleet()): FleetStackOutputs {
    return deployFleet({
        fleet: cfg,
        release: resolveTag({ forced: TAG }),
        commit: COMMIT,
        registryPassword: () => pulumi.secret(PASSWORD),
        restore: () => undefined,
    });
}

function configError(f: () => unknown): string {
    try {
        f();
    } catch (e) {
        expect(e).to.be.instanceOf(ConfigError);
        return (e as Error).message;
    }
    throw new Error("expected a ConfigError");
}

describe("a fleet stack: every machine stack onto one cluster, in one update", function () {
    this.timeout(60000);
    beforeEach(() => resetWorld());

    it("reads each machine from its own stack file, the fleet's cluster its target, in gate order", () => {
        const cfg = fleet({ pc2: { nodeLabel: "kubernetes.io/hostname" }, mainpc: {} });
        expect(cfg.machines.map((m) => m.stack)).to.deep.equal(["mainpc", "pc2"]);
        const [mainpc, pc2] = cfg.machines.map((m) => m.config.stack);
        expect(mainpc.kubernetes?.namespace).to.equal("ai-fleet");
        expect(mainpc.kubernetes?.nodeLabel).to.equal("ai-fleet.io/machine");
        expect(pc2.kubernetes?.nodeLabel).to.equal("kubernetes.io/hostname");
        expect(Object.keys(mainpc.services)).to.include("ModelOpsCoordinator");
        expect(pc2.rollout.gateStack).to.equal("organization/ai-fleet/mainpc");
    });

    it("ships Pulumi.fleet.yaml: the operator's two machine stacks on their k3s cluster", () => {
        const cfg = parseFleetStack(readStackFile("fleet"), { dir: PROJECT_DIR, organization: "organization" });
        expect(cfg.machines.map((m) => m.config.profile.machine)).to.deep.equal(["mainpc", "pc2"]);
        expect(cfg.kubernetes.context).to.equal("k3s-ai-fleet");
    });

    it("rolls out every (machine, service) pair once, named by machine, through one cluster connection", async () => {
        const cfg = fleet();
        const out = run(cfg);
        expect(await finish(out)).to.equal(undefined);
        const total = cfg.machines.reduce((n, m) => n + Object.keys(m.config.stack.services).length, 0);
        const of = (type: string) => registered.filter((r) => r.type === type);
        expect(of("kubernetes:apps/v1:Deployment")).to.have.length(total);
        expect(of("pulumi:providers:kubernetes").map((r) => r.name)).to.deep.equal(["fleet-cluster"]);
        expect(of("kubernetes:core/v1:Namespace").map((r) => r.name)).to.deep.equal(["fleet-namespace"]);
        expect(
            of("kubernetes:core/v1:Secret")
                .map((r) => r.name)
                .sort(),
        ).to.deep.equal(["mainpc-registry", "pc2-registry"]);
        // pc2 waits for mainpc within the update: no StackReference.
        expect(of("pulumi:pulumi:StackReference")).to.have.length(0);
        const names = registered.map((r) => `${r.type}::${r.name}`);
        expect(new Set(names).size, "every resource's type and name is unique").to.equal(names.length);
        const components = of("ai-fleet:fleet:FleetService").map((r) => r.name);
        expect(components).to.include.members(["mainpc/ModelOpsCoordinator", "pc2/SpeechRelayService"]);
        expect(components).to.have.length(total);
        // Each workload pinned to its machine's node.
        const deployment = of("kubernetes:apps/v1:Deployment").find((r) => r.name === "pc2/SpeechRelayService-container");
        expect(deployment?.inputs.spec.template.spec.nodeSelector).to.deep.equal({ "ai-fleet.io/machine": "pc2" });
        // Family images are built per machine.
        expect(
            registered.filter((r) => r.type === "docker-build:index:Image" && r.name.endsWith("family-llm-cu121-build")).map((r) => r.name),
        ).to.have.length.greaterThan(0);
    });

    it("exports one report, one canary report and one release, each service keyed <machine>/<Service>", async () => {
        const out = run();
        expect(await finish(out)).to.equal(undefined);
        expect(out.machines).to.deep.equal(["mainpc", "pc2"]);
        const report = await valueOf(out.report);
        expect(report?.healthy).to.equal(true);
        expect(Object.keys(report?.services ?? {})).to.include.members(["mainpc/ModelOpsCoordinator", "pc2/SpeechRelayService"]);
        expect(Object.keys(report?.services ?? {})).to.have.length(out.services.length);
        expect(Object.keys((await valueOf(out.canaryReport))?.services ?? {})).to.deep.equal([
            "mainpc/AffectiveProcessingCenter",
            "mainpc/ModelOpsCoordinator",
            "mainpc/RealTimeAudioPipeline",
        ]);
        const release = releaseOutput(out, out.services);
        const images = await valueOf(release?.images);
        expect(Object.keys(images ?? {})).to.deep.equal(out.services);
        expect(images?.["pc2/SpeechRelayService"]).to.match(/\/pc2\/speech_relay_service@sha256:[a-f0-9]{64}$/);
        expect(Object.keys(release?.specs ?? {})).to.deep.equal(out.services);
        expect(await valueOf(release?.specs["mainpc/ModelOpsCoordinator"].container.machine)).to.equal("mainpc");
    });

    it("keeps pc2's batch shut while mainpc's canary fails, in the same update", async () => {
        scenario.failHealth.add("ModelOpsCoordinator");
        const error = await finish(run());
        expect(String(error)).to.match(/ModelOpsCoordinator/);
        const started = registered.filter((r) => r.type === "kubernetes:apps/v1:Deployment").map((r) => r.name);
        expect(
            started.filter((n) => n.startsWith("pc2/")),
            "no pc2 workload behind mainpc's failed canary",
        ).to.deep.equal([]);
    });

    it("hands each machine its part of a fleet release, the prefix taken off", () => {
        const o = machineOverrides(
            { release: { tag: "r1", images: { "mainpc/A": "r/a@sha256:1", "pc2/B": "r/b@sha256:2" } }, runtime: "cli" },
            "pc2",
        );
        expect(o).to.deep.equal({ release: { tag: "r1", images: { B: "r/b@sha256:2" }, specs: undefined }, runtime: "cli" });
    });

    it("after a rollback, names the machine's own stack file that still differs, not the fleet stack's", () => {
        const lines = restoreLines(
            "organization/ai-fleet/cluster",
            { tag: "r1", images: {}, specs: {} },
            {
                from: "release",
                tag: "r1",
                recordedSpecs: true,
                differences: [{ service: "pc2/SpeechRelayService", field: "env", release: "A=1", stackFile: "A=2" }],
                fromStackFile: [],
                stackFiles: { mainpc: "Pulumi.mainpc.yaml", pc2: "Pulumi.pc2.yaml" },
            },
        );
        expect(lines.join("\n")).to.include("Pulumi.pc2.yaml still differs from release r1 for pc2/SpeechRelayService");
        expect(lines.join("\n")).not.to.include("Pulumi.cluster.yaml");
    });

    it("names the failed pair in an engine event's URN", () => {
        const urn =
            "urn:pulumi:cluster::ai-fleet::ai-fleet:fleet:FleetService$kubernetes:apps/v1:Deployment::pc2/SpeechRelayService-container";
        expect(failureSite(urn)).to.deep.equal({
            service: "pc2/SpeechRelayService",
            role: "container",
            type: "kubernetes:apps/v1:Deployment",
        });
    });

    describe("config mistakes, each naming its key", () => {
        let dir: string;
        before(() => {
            dir = fs.mkdtempSync(path.join(os.tmpdir(), "ai-fleet-fleetstack-"));
            const mainpc = fs.readFileSync(path.join(PROJECT_DIR, "Pulumi.mainpc.yaml"), "utf8");
            fs.writeFileSync(path.join(dir, "Pulumi.mainpc.yaml"), mainpc);
            fs.writeFileSync(path.join(dir, "Pulumi.twin.yaml"), mainpc);
            fs.writeFileSync(
                path.join(dir, "Pulumi.sealed.yaml"),
                mainpc.replace(/ {2}ai-fleet:services:[\s\S]*?(?=\n {2}ai-fleet:)/, "  ai-fleet:services:\n    secure: v1:AAAA"),
            );
        });
        after(() => fs.rmSync(dir, { recursive: true, force: true }));

        it("a machine stack without its file", () => {
            expect(configError(() => fleet({ mainpc: {}, pc3: {} }, dir))).to.match(
                /ai-fleet:fleet\.stacks\.pc3: no stack file .*Pulumi\.pc3\.yaml/,
            );
        });
        it("a machine file holding a key as a secret, which the fleet stack cannot decrypt", () => {
            expect(configError(() => fleet({ sealed: {} }, dir))).to.match(
                /ai-fleet:fleet\.stacks\.sealed: Pulumi\.sealed\.yaml holds ai-fleet:services as a secret/,
            );
        });
        it("two stacks of one machine", () => {
            expect(configError(() => fleet({ mainpc: {}, twin: {} }, dir))).to.include(
                "ai-fleet:fleet.stacks.twin: machine mainpc is stack mainpc's too",
            );
        });
        it("a machine's setting on the fleet stack, and no machine at all", () => {
            expect(configError(() => parseFleetStack({ fleet: { stacks: {} }, kubernetes: {}, services: {} }, { dir, organization: "o" })))
                .to.include("ai-fleet:fleet.stacks: expected at least one machine stack")
                .and.to.match(/Unrecognized key.*services/);
        });
        it("a registry password written in plaintext in the fleet stack", () => {
            expect(
                configError(() =>
                    parseFleetStack(
                        { fleet: { stacks: { mainpc: {} } }, kubernetes: {} },
                        { dir, organization: "o", secretness: { fleet: false, kubernetes: false, registryPassword: false } },
                    ),
                ),
            ).to.include("ai-fleet:registryPassword: a secret written in plaintext in the stack file");
        });
        it("a machine file's own problem, with the file named", () => {
            fs.writeFileSync(
                path.join(dir, "Pulumi.bad.yaml"),
                fs
                    .readFileSync(path.join(dir, "Pulumi.mainpc.yaml"), "utf8")
                    .replace("ai-fleet:machine: mainpc", "ai-fleet:machine: Main PC"),
            );
            expect(configError(() => fleet({ bad: {} }, dir))).to.match(
                /ai-fleet:fleet\.stacks\.bad \(Pulumi\.bad\.yaml\): ai-fleet:machine: /,
            );
        });
    });
});
