/**
 * The Kubernetes adapter of a ContainerSpec (components/kubernetesAdapter.ts): what a service's
 * Deployment and Service say, for the specs the stack files give. Plain functions: no engine, no
 * cluster (test/integration/cluster.test.ts rolls them out on a real one).
 */
import { expect } from "chai";
import { deploymentSpec, dockerConfigJson, GPU_RESOURCE, serviceSpec, workloadName, WorkloadSettings } from "../../components";
import { containerSpecFor, dependencyEnv } from "../../deploy";
import { fleetConfig } from "./harness";

const settings: WorkloadSettings = {
    nodeLabel: "ai-fleet.io/machine",
    pullSecret: "ai-fleet-registry-mainpc",
    maxSurge: 0,
    maxUnavailable: 1,
    progressDeadlineSeconds: 300,
};
const IMAGE = "ghcr.io/example/ai_system/modelopscoordinator@sha256:" + "a".repeat(64);

describe("the Kubernetes adapter of a ContainerSpec", () => {
    const cfg = fleetConfig("mainpc");
    const spec = containerSpecFor(cfg, "ModelOpsCoordinator");
    const d = deploymentSpec(spec, IMAGE, "passed", settings);
    const pod = (d.template as any).spec;
    const c = pod.containers[0];

    it("pins the workload to its machine's node by label and pulls the digest with the registry's pull secret", () => {
        expect(pod.nodeSelector).to.deep.equal({ "ai-fleet.io/machine": "mainpc" });
        expect(c.image).to.equal(IMAGE);
        expect(pod.imagePullSecrets).to.deep.equal([{ name: "ai-fleet-registry-mainpc" }]);
        expect(d.replicas).to.equal(1);
    });

    it("keeps the Docker hardening: UID:GID 10001, read-only root, no privilege escalation, all capabilities dropped", () => {
        expect(pod.securityContext).to.include({ runAsUser: 10001, runAsGroup: 10001, runAsNonRoot: true });
        expect(c.securityContext).to.deep.include({
            runAsUser: 10001,
            runAsGroup: 10001,
            readOnlyRootFilesystem: true,
            allowPrivilegeEscalation: false,
            capabilities: { drop: ["ALL"] },
        });
        // tini stays PID 1: the image's ENTRYPOINT is not overridden.
        expect(c.command).to.equal(undefined);
        expect(c.args).to.equal(undefined);
        // The read-only root's writable paths are memory emptyDirs.
        expect(spec.hardening.tmpfs.length).to.be.greaterThan(0);
        expect(c.volumeMounts.map((m: any) => m.mountPath)).to.deep.equal(spec.hardening.tmpfs);
        expect(pod.volumes.every((v: any) => v.emptyDir.medium === "Memory")).to.equal(true);
    });

    it("gates readiness on the JSON status being ok, the same check as Docker's healthcheck", () => {
        const cmd = c.readinessProbe.exec.command as string[];
        expect(cmd[0]).to.equal("python3");
        expect(cmd.join(" ")).to.contain(`127.0.0.1:${spec.health.containerPort}${spec.health.path}`);
        expect(cmd.join(" ")).to.contain("get('status')=='ok'");
        expect(c.readinessProbe.httpGet).to.equal(undefined);
    });

    it("keeps the operator's host:port wiring as hostPorts and names the service with a Service of its container ports", () => {
        expect(c.ports.map((p: any) => [p.containerPort, p.hostPort])).to.deep.equal(spec.ports.map((p) => [p.container, p.host]));
        const svc = serviceSpec(spec);
        expect(svc.selector).to.deep.equal((d.selector as any).matchLabels);
        expect((svc.ports as any[]).map((p) => p.port)).to.deep.equal(spec.ports.map((p) => p.container));
        expect(workloadName(spec)).to.match(/^[a-z0-9-]+$/);
    });

    it("requests nvidia.com/gpu for a GPU service only, so only GPU nodes take it", () => {
        const gpuName = Object.keys(cfg.stack.services).find((n) => containerSpecFor(cfg, n).gpuDevices?.length);
        const cpuName = Object.keys(cfg.stack.services).find((n) => !containerSpecFor(cfg, n).gpuDevices?.length);
        expect(gpuName, "mainpc has a GPU service").to.not.equal(undefined);
        const g = (deploymentSpec(containerSpecFor(cfg, gpuName!), IMAGE, "passed", settings).template as any).spec.containers[0];
        expect(g.resources.limits[GPU_RESOURCE]).to.equal(String(containerSpecFor(cfg, gpuName!).gpuDevices!.length));
        expect(g.resources.requests[GPU_RESOURCE]).to.equal(g.resources.limits[GPU_RESOURCE]);
        if (cpuName) {
            const n = (deploymentSpec(containerSpecFor(cfg, cpuName), IMAGE, "passed", settings).template as any).spec.containers[0];
            expect(n.resources).to.equal(undefined);
        }
    });

    it("takes a secret environment from a Secret, never as plain env", () => {
        const secret = deploymentSpec({ ...spec, secretEnv: true }, IMAGE, "passed", { ...settings, envSecret: "x-env" });
        const sc = (secret.template as any).spec.containers[0];
        expect(sc.env).to.equal(undefined);
        expect(sc.envFrom).to.deep.equal([{ secretRef: { name: "x-env" } }]);
        expect(c.env.find((e: any) => e.name === "SERVICE_NAME").value).to.equal("ModelOpsCoordinator");
    });

    it("rolls with the configured surge and unavailability, and carries the gate's verdict into the pod template", () => {
        // Stop-then-start (maxSurge 0) is Recreate: with one replica a RollingUpdate with maxUnavailable 1 counts as available with no pod ready.
        expect(d.strategy).to.deep.equal({ type: "Recreate" });
        const surging = deploymentSpec(spec, IMAGE, "passed", { ...settings, maxSurge: 1, maxUnavailable: 0 });
        expect(surging.strategy).to.deep.equal({ type: "RollingUpdate", rollingUpdate: { maxSurge: 1, maxUnavailable: 0 } });
        expect(d.template.metadata.annotations["ai-fleet.gate"]).to.equal("passed");
        expect(d.template.metadata.annotations["ai-fleet.io/log-max-size"]).to.equal(spec.logs.maxSize);
    });

    it("writes the registry credentials as a .dockerconfigjson", () => {
        const j = JSON.parse(dockerConfigJson("127.0.0.1:5000", "fleet", "pw"));
        expect(j.auths["127.0.0.1:5000"]).to.deep.equal({
            username: "fleet",
            password: "pw",
            auth: Buffer.from("fleet:pw").toString("base64"),
        });
    });
});

describe("the ai-fleet:kubernetes config", () => {
    it("defaults to the ai-fleet namespace, the machine node label, and stop-then-start rolling updates", () => {
        const cfg = fleetConfig("local", (raw) => (raw.kubernetes = {}));
        expect(cfg.stack.kubernetes).to.deep.equal({
            namespace: "ai-fleet",
            nodeLabel: "ai-fleet.io/machine",
            rollingUpdate: { maxSurge: 0, maxUnavailable: 1 },
            timeoutSeconds: 300,
        });
    });

    it("refuses a surge that lets the only replica go unready, naming the key", () => {
        expect(() => fleetConfig("local", (raw) => (raw.kubernetes = { rollingUpdate: { maxSurge: 1, maxUnavailable: 1 } }))).to.throw(
            /kubernetes\.rollingUpdate.*expected maxUnavailable 0/s,
        );
        expect(
            fleetConfig("local", (raw) => (raw.kubernetes = { rollingUpdate: { maxSurge: "25%", maxUnavailable: "25%" } })).stack
                .kubernetes,
        ).to.not.equal(undefined);
    });

    it("points a service's dependency URLs at the dependencies' Service names on a cluster", () => {
        const cfg = fleetConfig("local", (raw) => (raw.kubernetes = { namespace: "fleet" }));
        expect(dependencyEnv(cfg, "SystemDigitalTwin").FLEET_DEPENDENCIES).to.match(
            /^ServiceRegistry=http:\/\/[a-z0-9-]+\.fleet\.svc:\d+\//,
        );
    });
});
