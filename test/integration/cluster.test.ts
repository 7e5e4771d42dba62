/**
 * The cluster stack on a real Kubernetes cluster, through the real engine and the real Pulumi
 * Kubernetes provider (pulumi-resource-kubernetes 4.25.0, built by the set-up from the Go module
 * proxy): a private single-node cluster of Kubernetes 1.34.4 (scripts/k8s/cluster.sh, in this test's
 * own state directory, torn down after), whose node is labelled as this test's machine and
 * advertises one fake `nvidia.com/gpu`. On it:
 *  - `npm run rollout` rolls the local stack's six services out as Deployments pinned to the node,
 *    each only after its dependencies are ready, the batch after the canary, from the images by
 *    digest that the build, verification and scan produced, pulled with the image pull secret;
 *  - `npm run status` says on which node each service runs;
 *  - a release whose canary turns degraded (DEMO_HEALTH=degraded: HTTP 200 with {"status":
 *    "degraded"}, which the readiness probe refuses) fails naming the service and ends back on the
 *    previous release, the batch untouched;
 *  - a drained node: the pinned services wait (Pending) and status says why; uncordoned, they
 *    come back on their node;
 *  - destroy leaves nothing in the cluster.
 * The cluster has no kube-proxy and no CoreDNS (README, "Kubernetes"): the health checks reach the
 * pods through their hostPorts, and the services do not look each other up (exposeDependencies off).
 * Names: machine `k20`, namespace `it20-k8s`, tags k20-r*, host ports from 19820.
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

const MACHINE = "k20";
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

describe("the cluster stack on a real single-node Kubernetes cluster (real engine, real kubernetes provider)", function () {
    this.timeout(40 * 60 * 1000);
    let status: ToolchainStatus;
    let target: CliTarget;
    let stack: Stack;
    let services: Services;
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
    const podOf = (service: string): Pod[] => pods().filter((p) => p.metadata.labels["ai-fleet.service"] === service);
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
        const config = await cliStackConfig(MACHINE, demo, offline.AI_FLEET_REGISTRY_PASSWORD ?? "fleet-local-pass", 19820);
        services = config["ai-fleet:services"] as Services;
        services[CANARY].env = { DEMO_HEALTH: "ok" };
        services[GPU_SERVICE].gpu = true;
        config["ai-fleet:kubernetes"] = { kubeconfig, context: "ai-fleet-test", namespace: NAMESPACE, timeoutSeconds: 45 };
        config["ai-fleet:rollout"] = { ...(config["ai-fleet:rollout"] as object), exposeDependencies: false };
        stack = await createStack(
            { dir: prog.dir, stateDir: prog.stateDir, env: offline, cleanup: () => undefined },
            STACK,
            status,
            config,
        );
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

    it("rolls every service out as a workload pinned to its machine's node, each after its dependencies are ready, from the verified digests", async () => {
        const r = await cli("rollout", [], { FORCE_IMAGE_TAG: "k20-r1" });
        expect(r.code, tail(r.out, 40)).to.equal(0);
        expect(r.out).to.include("ROLLED OUT: release k20-r1");
        const found = lastRelease(await stack.outputs());
        expect(found?.tag).to.equal("k20-r1");
        release1 = found as { tag: string; images: Record<string, string> };
        const names = Object.keys(services).sort();
        const byService = new Map(names.map((s) => [s, podOf(s)]));
        for (const s of names) {
            const [p, ...more] = byService.get(s) as Pod[];
            expect(more, `${s}: one pod`).to.have.length(0);
            expect(p.spec.nodeName, `${s}'s node`).to.equal(NODE);
            expect(p.status.phase).to.equal("Running");
            expect(readyAt(p), `${s} ready`).to.be.greaterThan(0);
            // The very digest the release records (verified and scanned), pulled from the registry with the pull secret.
            expect(p.spec.containers[0].image, s).to.equal(release1.images[s]);
            expect(release1.images[s]).to.match(/@sha256:[a-f0-9]{64}$/);
            expect(p.status.containerStatuses?.[0].imageID, s).to.include(release1.images[s].split("@")[1]);
            expect(p.spec.imagePullSecrets).to.deep.equal([{ name: `ai-fleet-registry-${MACHINE}` }]);
        }
        // The GPU service asked for the node's one GPU.
        expect(byService.get(GPU_SERVICE)?.[0].spec.containers[0].resources?.limits?.["nvidia.com/gpu"]).to.equal("1");
        // Dependency order and the canary gate: a pod is created only after what it waits for is ready.
        const waitsFor: Record<string, string[]> = {
            SystemDigitalTwin: ["ServiceRegistry"],
            ModelOpsCoordinator: ["SystemDigitalTwin"],
            RealTimeAudioPipeline: ["ModelOpsCoordinator"],
            AffectiveProcessingCenter: ["ModelOpsCoordinator"],
            CodeGenerator: ["SystemDigitalTwin", "ModelOpsCoordinator", "RealTimeAudioPipeline", "AffectiveProcessingCenter"],
        };
        for (const [svc, deps] of Object.entries(waitsFor)) {
            const created = Date.parse((byService.get(svc) as Pod[])[0].metadata.creationTimestamp);
            for (const d of deps) {
                expect(readyAt((byService.get(d) as Pod[])[0]), `${d} ready before ${svc}'s pod is created`).to.be.at.most(created);
            }
        }
        expect(await healthNow(stack)).to.deep.equal(Object.fromEntries(names.map((s) => [s, "ok"])));
        const firstReady = Math.min(...names.map((s) => Date.parse((byService.get(s) as Pod[])[0].metadata.creationTimestamp)));
        const lastReady = Math.max(...names.map((s) => readyAt((byService.get(s) as Pod[])[0])));
        figures.push(
            `npm run rollout (build + ${names.length} workloads + checks) to every service ready: ${(r.ms / 1000).toFixed(1)}s; first pod created → last ready: ${((lastReady - firstReady) / 1000).toFixed(1)}s`,
        );
    });

    it("npm run status says on which node each service runs", async () => {
        const st = await cli("status", []);
        expect(st.code, st.out).to.equal(0);
        for (const s of Object.keys(services)) {
            expect(st.out).to.match(new RegExp(`${s} .* on node ${NODE} \\(Running, ready\\)`));
        }
        expect(st.out).to.include(`${STACK}: every service healthy on release k20-r1`);
    });

    it("a release whose canary turns degraded fails naming it and ends back on the previous release, the batch untouched", async () => {
        const batchBefore = podOf("CodeGenerator").map((p) => p.metadata.uid);
        const next = JSON.parse(JSON.stringify(services)) as Services;
        next[CANARY].env = { DEMO_HEALTH: "degraded" };
        await stack.setConfig("ai-fleet:services", { value: JSON.stringify(next) });
        const r = await cli("rollout", [], { FORCE_IMAGE_TAG: "k20-r2" });
        expect(r.code, tail(r.out, 40)).to.equal(1);
        expect(r.out).to.match(
            new RegExp(`health gate failed: ${CANARY}: its container \\(kubernetes:apps/v1:Deployment ${CANARY}-container\\) failed`),
        );
        expect(r.out).to.include("rolling back to release k20-r1");
        expect(r.out).to.match(/ROLLED BACK: restored release k20-r1/);
        // Back on the previous release's images and spec, every service healthy; the batch was never touched.
        for (const s of Object.keys(services)) {
            const ready = podOf(s).filter((p) => readyAt(p) > 0);
            expect(ready.length, `${s}: a ready pod`).to.be.greaterThan(0);
            expect(ready[0].spec.containers[0].image, s).to.equal(release1.images[s]);
        }
        expect(
            podOf("CodeGenerator").map((p) => p.metadata.uid),
            "the batch's pod is the one it was",
        ).to.deep.equal(batchBefore);
        expect(await healthNow(stack)).to.deep.equal(Object.fromEntries(Object.keys(services).map((s) => [s, "ok"])));
        const back = /healthy ([\d.]+)s after the failed health check/.exec(r.out);
        figures.push(
            `degraded canary → every service back on k20-r1: ${back?.[1] ?? "?"}s after the failure (whole command ${(r.ms / 1000).toFixed(1)}s)`,
        );
        await stack.setConfig("ai-fleet:services", { value: JSON.stringify(services) });
    });

    it("a drained node: the pinned services wait and status says why; uncordoned, they come back on their node", async () => {
        const t0 = Date.now();
        kubectl("drain", NODE, "--ignore-daemonsets", "--delete-emptydir-data", "--force", "--timeout=120s");
        const drained = (Date.now() - t0) / 1000;
        await waitFor("every pod pending", 60000, async () => pods().every((p) => p.status.phase === "Pending" && !p.spec.nodeName));
        const st = await cli("status", []);
        expect(st.code, st.out).to.equal(1);
        expect(st.out).to.match(new RegExp(`${CANARY}: pod \\S+ waits: not scheduled: .*unschedulable`));
        expect(st.out).to.include(`${STACK}: unhealthy now:`);
        const t1 = Date.now();
        kubectl("uncordon", NODE);
        await waitFor("every service ready again on its node", 180000, async () => {
            const all = pods();
            return all.length === Object.keys(services).length && all.every((p) => p.spec.nodeName === NODE && readyAt(p) > 0);
        });
        const back = (Date.now() - t1) / 1000;
        expect(await healthNow(stack)).to.deep.equal(Object.fromEntries(Object.keys(services).map((s) => [s, "ok"])));
        figures.push(
            `drain: ${drained.toFixed(1)}s to evict; the pinned pods Pending (unschedulable); uncordon → every service ready on its node again in ${back.toFixed(1)}s`,
        );
    });

    it("destroy leaves nothing in the cluster", async () => {
        await stack.destroy({ onOutput: () => undefined });
        const left = spawnSync(path.join(kubeBin, "kubectl"), ["--kubeconfig", kubeconfig, "get", "namespace", NAMESPACE], {
            encoding: "utf8",
        });
        // The namespace is gone or on its way out (Terminating); nothing of the fleet is in it.
        if (left.status === 0) {
            expect(left.stdout).to.include("Terminating");
        } else {
            expect(left.stderr).to.include("NotFound");
        }
        const leftover = kubectl(
            "get",
            "deployments,services,secrets,pods",
            "-A",
            "-l",
            `ai-fleet.machine=${MACHINE}`,
            "-o",
            "name",
        ).trim();
        expect(leftover).to.equal("");
    });
});
