/**
 * The fleet stack on a real Kubernetes cluster, through the real engine and the real Pulumi
 * Kubernetes provider (pulumi-resource-kubernetes 4.25.0, built by the set-up from the Go module
 * proxy): a private single-node cluster of Kubernetes 1.34.4 (scripts/k8s/cluster.sh, in this test's
 * own state directory, torn down after) whose one node stands for two machines: it carries the label
 * of machine `k20` (ai-fleet.io/machine=k20) and, under a second label key, that of machine `k20b`,
 * and advertises one fake `nvidia.com/gpu`. One stack (`ai-fleet:fleet`) rolls out both machines'
 * stack files, Pulumi.k20.yaml (the local stack's six services, a GPU service, the canary) and
 * Pulumi.k20b.yaml (two services whose gateStack is k20). On it:
 *  - `npm run rollout` rolls every (machine, service) pair out as a Deployment pinned to its
 *    machine's node label, each only after its dependencies are ready, k20's batch after its canary
 *    and k20b after k20's canary (in the same update), from the images by digest that the build,
 *    verification and scan produced, pulled with each machine's image pull secret;
 *  - `npm run status` says on which node each pair runs;
 *  - the policy pack (CrossGuard) judges both machines' workloads through the engine's preview;
 *  - a release whose canary turns degraded (DEMO_HEALTH=degraded in the machine's stack file: HTTP
 *    200 with {"status":"degraded"}, which the readiness probe refuses) fails naming the pair and
 *    ends back on the previous release, the batch and the other machine untouched;
 *  - a drained node: the pinned services wait (Pending) and status says why; uncordoned, they
 *    come back on their node;
 *  - destroy leaves nothing in the cluster.
 * The cluster has no kube-proxy and no CoreDNS (README, "Kubernetes"): the health checks reach the
 * pods through their hostPorts, and the services do not look each other up (exposeDependencies off).
 * Names: machines `k20`, `k20b`, namespace `it20-k8s`, tags k20-r*, host ports from 19820 and 19880.
 */
import { expect } from "chai";
import { execFileSync, spawnSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { Stack } from "@pulumi/pulumi/automation";
import { lastRelease } from "../../cli/decide";
import { cliStackConfig, CliRun, CliTarget, healthNow, programCopy, runCli } from "./support/cliStack";
import { copyDemo, createStack, ensureSetup, offlineEnv, ROOT, ToolchainStatus } from "./support/engine";
import { log, tail, waitFor } from "./support/proc";
import { writeMachineStackFile } from "./support/stack";

const MACHINE = "k20";
/** The second machine: two services, gated on k20's canary; on the same node under its own label key. */
const MACHINE_B = "k20b";
const LABEL_B = "it20.ai-fleet.io/machine";
const SERVICES_B = ["ServiceRegistry", "SystemDigitalTwin"];
const STACK = "it20-cluster";
const NAMESPACE = "it20-k8s";
const NODE = "ai-fleet-k20";
const CANARY = "RealTimeAudioPipeline";
const GPU_SERVICE = "ModelOpsCoordinator";
const figures: string[] = [];

type Services = Record<string, Record<string, unknown>>;
interface Pod {
    metadata: { name: string; uid: string; creationTimestamp: string; labels: Record<string, string> };
    spec: {
        nodeName?: string;
        containers: { image: string; resources?: { limits?: Record<string, string> } }[];
        imagePullSecrets?: { name: string }[];
    };
    status: {
        phase: string;
        conditions?: { type: string; status: string; lastTransitionTime: string; message?: string }[];
        containerStatuses?: { imageID: string }[];
    };
}

/** The local profile with one GPU, as the profile schema wants it (the device in GPU_VISIBLE_DEVICES too). */
function withGpu(profile: { env: Record<string, string> }): unknown {
    return { ...profile, gpu: { model: "fake", devices: ["0"] }, env: { ...profile.env, GPU_VISIBLE_DEVICES: "0" } };
}

describe("the fleet stack on a real single-node Kubernetes cluster (real engine, real kubernetes provider)", function () {
    this.timeout(40 * 60 * 1000);
    let status: ToolchainStatus;
    let target: CliTarget;
    let stack: Stack;
    let services: Services;
    let machineConfig: Record<string, unknown>;
    let machineConfigB: Record<string, unknown>;
    /** Every (machine, service) pair, as the fleet stack keys it: `<machine>/<Service>`. */
    let pairs: string[];
    let clusterDir: string;
    let kubeconfig: string;
    let kubeBin: string;
    let release1: { tag: string; images: Record<string, string> };

    const cli = (cmd: "rollout" | "rollback" | "status", args: string[], extraEnv: Record<string, string> = {}): Promise<CliRun> =>
        runCli(target, cmd, args, extraEnv);
    const kubectl = (...args: string[]): string =>
        execFileSync(path.join(kubeBin, "kubectl"), ["--kubeconfig", kubeconfig, ...args], {
            encoding: "utf8",
            stdio: ["ignore", "pipe", "pipe"],
        });
    const pods = (): Pod[] => (JSON.parse(kubectl("-n", NAMESPACE, "get", "pods", "-o", "json")) as { items: Pod[] }).items;
    /** The pods of a pair `<machine>/<Service>`, or of a service of k20. */
    const podOf = (pair: string): Pod[] => {
        const [machine, service] = pair.includes("/") ? pair.split("/") : [MACHINE, pair];
        return pods().filter((p) => p.metadata.labels["ai-fleet.service"] === service && p.metadata.labels["ai-fleet.machine"] === machine);
    };
    const readyAt = (p: Pod): number =>
        Date.parse(p.status.conditions?.find((c) => c.type === "Ready" && c.status === "True")?.lastTransitionTime ?? "");

    before(async function () {
        status = ensureSetup(this);
        const env = Object.fromEntries(
            execFileSync("bash", [path.join(ROOT, "scripts", "kubernetes.sh"), "--env"], { encoding: "utf8" })
                .trim()
                .split("\n")
                .map((l) => [l.slice(0, l.indexOf("=")), l.slice(l.indexOf("=") + 1)]),
        );
        kubeBin = env.K8S_BIN;
        const prog = programCopy(MACHINE, "issue 20's cluster test: the local profile with one (fake) GPU");
        // The machine has one GPU, which the node advertises as nvidia.com/gpu: 1.
        const profilePath = path.join(prog.dir, "profiles", `${MACHINE}.json`);
        fs.writeFileSync(profilePath, JSON.stringify(withGpu(JSON.parse(fs.readFileSync(profilePath, "utf8")))));
        clusterDir = path.join(prog.stateDir, "cluster");
        const t0 = Date.now();
        const up = spawnSync(
            "bash",
            [
                path.join(ROOT, "scripts", "k8s", "cluster.sh"),
                "up",
                clusterDir,
                "--node-name",
                NODE,
                "--label",
                `ai-fleet.io/machine=${MACHINE}`,
                "--label",
                `${LABEL_B}=${MACHINE_B}`,
                "--gpus",
                "1",
            ],
            { encoding: "utf8", stdio: ["ignore", "pipe", "inherit"] },
        );
        expect(up.status, "scripts/k8s/cluster.sh up").to.equal(0);
        kubeconfig = up.stdout.trim();
        figures.push(`cluster up (node Ready, GPU advertised): ${((Date.now() - t0) / 1000).toFixed(1)}s`);
        const demo = copyDemo(prog.dir);
        const offline = offlineEnv(prog.stateDir);
        // status reads the pods with kubectl, as an operator has it on PATH.
        target = { stack: STACK, prog, env: { ...offline, PATH: `${kubeBin}:${process.env.PATH}` } };
        const password = offline.AI_FLEET_REGISTRY_PASSWORD ?? "fleet-local-pass";
        machineConfig = await cliStackConfig(MACHINE, demo, password, 19820);
        services = machineConfig["ai-fleet:services"] as Services;
        services[CANARY].env = { DEMO_HEALTH: "ok" };
        services[GPU_SERVICE].gpu = true;
        machineConfig["ai-fleet:rollout"] = { ...(machineConfig["ai-fleet:rollout"] as object), exposeDependencies: false };
        writeMachineStackFile(prog.dir, MACHINE, machineConfig);
        // k20b: two of the local services, its batch gated on k20's canary.
        fs.writeFileSync(
            path.join(prog.dir, "profiles", `${MACHINE_B}.json`),
            JSON.stringify({ ...JSON.parse(fs.readFileSync(path.join(ROOT, "profiles", "local.json"), "utf8")), machine: MACHINE_B }),
        );
        const b = await cliStackConfig(MACHINE_B, demo, password, 19880);
        const bServices = b["ai-fleet:services"] as Services;
        b["ai-fleet:services"] = Object.fromEntries(SERVICES_B.map((n) => [n, bServices[n]]));
        b["ai-fleet:rollout"] = {
            ...(b["ai-fleet:rollout"] as object),
            canary: [],
            exposeDependencies: false,
            gateStack: `organization/ai-fleet/${MACHINE}`,
        };
        machineConfigB = b;
        writeMachineStackFile(prog.dir, MACHINE_B, b);
        pairs = [...Object.keys(services).map((s) => `${MACHINE}/${s}`), ...SERVICES_B.map((s) => `${MACHINE_B}/${s}`)].sort();
        stack = await createStack({ dir: prog.dir, stateDir: prog.stateDir, env: offline, cleanup: () => undefined }, STACK, status, {
            "ai-fleet:fleet": { stacks: { [MACHINE]: {}, [MACHINE_B]: { nodeLabel: LABEL_B } } },
            "ai-fleet:kubernetes": { kubeconfig, context: "ai-fleet-test", namespace: NAMESPACE, timeoutSeconds: 45 },
            "ai-fleet:registryPassword": password,
        });
    });

    after(async () => {
        process.stderr.write(`[cluster] figures:\n${figures.map((f) => `  ${f}`).join("\n")}\n`);
        if (stack && clusterDir) {
            await stack.destroy({ onOutput: () => undefined }).catch((e: Error) => log(`destroy failed: ${e.message}`));
        }
        if (clusterDir) {
            const down = spawnSync("bash", [path.join(ROOT, "scripts", "k8s", "cluster.sh"), "down", clusterDir], {
                stdio: ["ignore", "inherit", "inherit"],
            });
            if (down.status !== 0) log(`cluster.sh down exited ${down.status}`);
        }
        if (target?.prog && !process.env.AI_FLEET_IT_KEEP) fs.rmSync(target.prog.dir, { recursive: true, force: true });
    });

    it("rolls every (machine, service) pair out as a workload pinned to its machine's node label, in dependency and gate order, from the verified digests", async () => {
        const r = await cli("rollout", [], { FORCE_IMAGE_TAG: "k20-r1" });
        expect(r.code, tail(r.out, 40)).to.equal(0);
        expect(r.out).to.include("ROLLED OUT: release k20-r1");
        const outputs = await stack.outputs();
        expect(outputs.machines?.value).to.deep.equal([MACHINE, MACHINE_B]);
        const found = lastRelease(outputs);
        expect(found?.tag).to.equal("k20-r1");
        release1 = found as { tag: string; images: Record<string, string> };
        expect(Object.keys(release1.images).sort()).to.deep.equal(pairs);
        const byPair = new Map(pairs.map((s) => [s, podOf(s)]));
        for (const s of pairs) {
            const [p, ...more] = byPair.get(s) as Pod[];
            expect(more, `${s}: one pod`).to.have.length(0);
            expect(p.spec.nodeName, `${s}'s node`).to.equal(NODE);
            expect(p.status.phase).to.equal("Running");
            expect(readyAt(p), `${s} ready`).to.be.greaterThan(0);
            // The very digest the release records (verified and scanned), pulled from the registry with its machine's pull secret.
            expect(p.spec.containers[0].image, s).to.equal(release1.images[s]);
            expect(release1.images[s]).to.match(new RegExp(`/${s.split("/")[0]}/[a-z_]+@sha256:[a-f0-9]{64}$`));
            expect(p.status.containerStatuses?.[0].imageID, s).to.include(release1.images[s].split("@")[1]);
            expect(p.spec.imagePullSecrets).to.deep.equal([{ name: `ai-fleet-registry-${s.split("/")[0]}` }]);
        }
        // The GPU service asked for the node's one GPU.
        expect(byPair.get(`${MACHINE}/${GPU_SERVICE}`)?.[0].spec.containers[0].resources?.limits?.["nvidia.com/gpu"]).to.equal("1");
        // Dependency order and the canary gates: a pod is created only after what it waits for is ready.
        const canary = ["ModelOpsCoordinator", "RealTimeAudioPipeline", "AffectiveProcessingCenter"].map((c) => `${MACHINE}/${c}`);
        const waitsFor: Record<string, string[]> = {
            [`${MACHINE}/SystemDigitalTwin`]: [`${MACHINE}/ServiceRegistry`],
            [`${MACHINE}/ModelOpsCoordinator`]: [`${MACHINE}/SystemDigitalTwin`],
            [`${MACHINE}/RealTimeAudioPipeline`]: [`${MACHINE}/ModelOpsCoordinator`],
            [`${MACHINE}/AffectiveProcessingCenter`]: [`${MACHINE}/ModelOpsCoordinator`],
            [`${MACHINE}/CodeGenerator`]: [`${MACHINE}/SystemDigitalTwin`, ...canary],
            // k20b gates on k20's canary within the same update, then on its own dependency.
            [`${MACHINE_B}/ServiceRegistry`]: canary,
            [`${MACHINE_B}/SystemDigitalTwin`]: [...canary, `${MACHINE_B}/ServiceRegistry`],
        };
        for (const [svc, deps] of Object.entries(waitsFor)) {
            const created = Date.parse((byPair.get(svc) as Pod[])[0].metadata.creationTimestamp);
            for (const d of deps) {
                expect(readyAt((byPair.get(d) as Pod[])[0]), `${d} ready before ${svc}'s pod is created`).to.be.at.most(created);
            }
        }
        expect(await healthNow(stack)).to.deep.equal(Object.fromEntries(pairs.map((s) => [s, "ok"])));
        const firstCreated = Math.min(...pairs.map((s) => Date.parse((byPair.get(s) as Pod[])[0].metadata.creationTimestamp)));
        const lastReady = Math.max(...pairs.map((s) => readyAt((byPair.get(s) as Pod[])[0])));
        figures.push(
            `npm run rollout (build + ${pairs.length} workloads of 2 machines + checks) to every pair ready: ${(r.ms / 1000).toFixed(1)}s; first pod created → last ready: ${((lastReady - firstCreated) / 1000).toFixed(1)}s`,
        );
    });

    it("npm run status says on which node each pair runs", async () => {
        const st = await cli("status", []);
        expect(st.code, st.out).to.equal(0);
        for (const s of pairs) {
            expect(st.out).to.match(new RegExp(`${s} .* on node ${NODE} \\(Running, ready\\)`));
        }
        expect(st.out).to.include(`${STACK}: every service healthy on release k20-r1`);
    });

    it("the policy pack judges the fleet's workloads through the engine: an opt-out in k20b's stack file is reported, naming the pair", async () => {
        const bServices = JSON.parse(JSON.stringify(machineConfigB["ai-fleet:services"])) as Services;
        bServices.SystemDigitalTwin.hardening = { readOnlyRoot: false, tmpfs: [] };
        writeMachineStackFile(target.prog.dir, MACHINE_B, { ...machineConfigB, "ai-fleet:services": bServices });
        let text = "";
        // The release that runs: the preview shows only k20b's SystemDigitalTwin changing.
        stack.workspace.envVars.FORCE_IMAGE_TAG = "k20-r1";
        try {
            await stack.preview({ policyPacks: [path.join(ROOT, "policy")], onOutput: (l) => (text += l) });
        } finally {
            delete stack.workspace.envVars.FORCE_IMAGE_TAG;
            writeMachineStackFile(target.prog.dir, MACHINE_B, machineConfigB);
        }
        expect(text).to.include("ai-fleet-hardening");
        expect(text).to.match(
            /(ai-k20b-system-digital-twin|k20b\/SystemDigitalTwin): opts out of hardening "readOnlyRoot" \(services\.SystemDigitalTwin\.hardening\.readOnlyRoot\), waiving mandatory policy read-only-root/,
        );
        expect(text, "every other workload of both machines passes").to.not.include("[mandatory]");
    });

    it("a release whose canary turns degraded fails naming it and ends back on the previous release, the batch and the other machine untouched", async () => {
        const untouched = [`${MACHINE}/CodeGenerator`, ...SERVICES_B.map((s) => `${MACHINE_B}/${s}`)];
        const before = untouched.map((s) => podOf(s).map((p) => p.metadata.uid));
        const next = JSON.parse(JSON.stringify(services)) as Services;
        next[CANARY].env = { DEMO_HEALTH: "degraded" };
        // The operator edits the machine's own stack file; the fleet stack reads it.
        writeMachineStackFile(target.prog.dir, MACHINE, { ...machineConfig, "ai-fleet:services": next });
        const r = await cli("rollout", [], { FORCE_IMAGE_TAG: "k20-r2" });
        expect(r.code, tail(r.out, 40)).to.equal(1);
        expect(r.out).to.match(
            new RegExp(
                `health gate failed: ${MACHINE}/${CANARY}: its container \\(kubernetes:apps/v1:Deployment ${MACHINE}/${CANARY}-container\\) failed`,
            ),
        );
        expect(r.out).to.include("rolling back to release k20-r1");
        expect(r.out).to.match(/ROLLED BACK: restored release k20-r1/);
        // The restored spec differs from the stack file: the rollback says so, naming the pair.
        expect(r.out).to.match(new RegExp(`still differs from release k20-r1 for ${MACHINE}/${CANARY}`));
        // Back on the previous release's images and spec, every pair healthy; the batch and k20b were never touched.
        for (const s of pairs) {
            const ready = podOf(s).filter((p) => readyAt(p) > 0);
            expect(ready.length, `${s}: a ready pod`).to.be.greaterThan(0);
            expect(ready[0].spec.containers[0].image, s).to.equal(release1.images[s]);
        }
        expect(
            untouched.map((s) => podOf(s).map((p) => p.metadata.uid)),
            "k20's batch and k20b run the pods they ran",
        ).to.deep.equal(before);
        expect(await healthNow(stack)).to.deep.equal(Object.fromEntries(pairs.map((s) => [s, "ok"])));
        const back = /healthy ([\d.]+)s after the failed health check/.exec(r.out);
        figures.push(
            `degraded canary → every pair back on k20-r1: ${back?.[1] ?? "?"}s after the failure (whole command ${(r.ms / 1000).toFixed(1)}s)`,
        );
        writeMachineStackFile(target.prog.dir, MACHINE, machineConfig);
    });

    it("a drained node: the pinned services wait and status says why; uncordoned, they come back on their node", async () => {
        const t0 = Date.now();
        kubectl("drain", NODE, "--ignore-daemonsets", "--delete-emptydir-data", "--force", "--timeout=120s");
        const drained = (Date.now() - t0) / 1000;
        await waitFor("every pod pending", 60000, async () => pods().every((p) => p.status.phase === "Pending" && !p.spec.nodeName));
        const st = await cli("status", []);
        expect(st.code, st.out).to.equal(1);
        expect(st.out).to.match(new RegExp(`${MACHINE}/${CANARY}: pod \\S+ waits: not scheduled: .*unschedulable`));
        expect(st.out).to.include(`${STACK}: unhealthy now:`);
        const t1 = Date.now();
        kubectl("uncordon", NODE);
        await waitFor("every pair ready again on its node", 180000, async () => {
            const all = pods();
            return all.length === pairs.length && all.every((p) => p.spec.nodeName === NODE && readyAt(p) > 0);
        });
        const back = (Date.now() - t1) / 1000;
        expect(await healthNow(stack)).to.deep.equal(Object.fromEntries(pairs.map((s) => [s, "ok"])));
        figures.push(
            `drain: ${drained.toFixed(1)}s to evict; the pinned pods Pending (unschedulable); uncordon → every pair ready on its node again in ${back.toFixed(1)}s`,
        );
    });

    it("destroy leaves nothing in the cluster", async () => {
        const t0 = Date.now();
        await stack.destroy({ onOutput: () => undefined });
        figures.push(`destroy: ${((Date.now() - t0) / 1000).toFixed(1)}s`);
        const left = spawnSync(path.join(kubeBin, "kubectl"), ["--kubeconfig", kubeconfig, "get", "namespace", NAMESPACE], {
            encoding: "utf8",
        });
        // The namespace is gone or on its way out (Terminating); nothing of the fleet is in it.
        if (left.status === 0) {
            expect(left.stdout).to.include("Terminating");
        } else {
            expect(left.stderr).to.include("NotFound");
        }
        for (const machine of [MACHINE, MACHINE_B]) {
            const leftover = kubectl(
                "get",
                "deployments,services,secrets,pods",
                "-A",
                "-l",
                `ai-fleet.machine=${machine}`,
                "-o",
                "name",
            ).trim();
            expect(leftover, machine).to.equal("");
        }
    });
});
