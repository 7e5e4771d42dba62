/**
 * The third adapter of a service's ContainerSpec (common/containerSpec.ts): a Kubernetes Deployment
 * of one replica pinned to the service's machine by node label, and a Service naming it. Plain data
 * in, plain Kubernetes objects out (no Output), so the mapping reads and tests on its own; the
 * FleetService creates the resources (components/fleetService.ts).
 *
 * How each Docker setting lands on the cluster:
 * - ports: `hostPort` on the node (bound to the spec's bindAddress as `hostIP`), so the operator's
 *   host:port wiring keeps working, plus a ClusterIP Service per service under a stable name;
 * - hardening: the pod's securityContext (the UID:GID, runAsNonRoot) and the container's (read-only
 *   root, no privilege escalation, all capabilities dropped, the runtime's seccomp profile); tini
 *   stays the image's ENTRYPOINT, so it is PID 1 as on Docker; the tmpfs paths become memory
 *   emptyDirs;
 * - health: a readiness probe (and a liveness probe after the start period) that runs the same
 *   check as Docker's healthcheck: the JSON `status` must be "ok", not just HTTP 200;
 * - GPU: `nvidia.com/gpu` requested and limited, so only nodes advertising GPUs take the pod;
 * - secrets: a service whose environment is secret gets it from a Kubernetes Secret (envFrom),
 *   never as plain env in the Deployment;
 * - logs: rotation is the kubelet's (containerLogMaxSize/MaxFiles on the node), not per pod: the
 *   spec's limits are written as annotations for the operator's node config and the policy pack;
 * - restart: a Deployment always restarts its pod (the spec's Docker policy is recorded, not needed);
 * - stop timeout: terminationGracePeriodSeconds.
 */
import type * as k8s from "@pulumi/kubernetes";
import type * as pulumi from "@pulumi/pulumi";
import { ContainerSpec, dockerHealthTest, hardeningOptOuts } from "../common/containerSpec";
import {
    GATE_LABEL,
    LOG_MAX_FILES_ANNOTATION,
    LOG_MAX_SIZE_ANNOTATION,
    MACHINE_LABEL,
    MACHINE_NODE_LABEL,
    OPT_OUTS_LABEL,
    SERVICE_LABEL,
    STACK_LABEL,
} from "../common/labels";

export { MACHINE_NODE_LABEL };
import type { SpecSupport } from "./containerAdapters";

/** Every field of the spec has a place on the cluster (see the module comment for where). */
export const KUBERNETES_SUPPORT: SpecSupport = {
    service: "expressed",
    machine: "expressed",
    containerName: "expressed",
    ports: "expressed",
    bindAddress: "expressed",
    env: "expressed",
    secretEnv: "expressed",
    hardening: "expressed",
    gpuDevices: "expressed",
    health: "expressed",
    restart: "expressed",
    logs: "expressed",
    stopTimeoutSeconds: "expressed",
};

/** The extended resource the NVIDIA device plugin advertises. */
export const GPU_RESOURCE = "nvidia.com/gpu";

/** What the cluster target adds to the spec: where and how the workload rolls. */
export interface WorkloadSettings {
    /** The node label that pins the workload (value: the spec's machine). Default MACHINE_NODE_LABEL. */
    nodeLabel: string;
    /** The image pull secret's name in the namespace. */
    pullSecret: pulumi.Input<string>;
    /**
     * How an update replaces the one replica: maxSurge 0 is Kubernetes' Recreate (the old pod stops,
     * then the new one starts: a pod with host ports cannot start beside its predecessor on the same
     * node); otherwise a RollingUpdate with these values.
     */
    maxSurge: number | string;
    maxUnavailable: number | string;
    /** Seconds before Kubernetes calls a rollout stuck (progressDeadlineSeconds). */
    progressDeadlineSeconds: number;
    /** The Secret the environment comes from when the spec's env is secret. */
    envSecret?: pulumi.Input<string>;
}

const isZero = (v: number | string): boolean => v === 0 || v === "0%";

/**
 * What the provider waits for after each create or update of a workload (its `pulumi.com/waitFor`
 * annotation, every condition must hold): the one replica of the current generation, ready, and
 * nothing else left. The provider's own Deployment await (4.25.0) compares the generation with
 * status.observedGeneration only for extensions/v1beta1, so right after an update it can take the
 * previous generation's status for this one's and report the update done in a fraction of a second
 * (seen on the cluster here); its JSONPath conditions do check the generation.
 */
export const WORKLOAD_READY = [
    "jsonpath={.status.updatedReplicas}=1",
    "jsonpath={.status.readyReplicas}=1",
    "jsonpath={.status.replicas}=1",
] as const;

/** A Kubernetes object name (DNS-1123 label) for the service's container name. */
export function workloadName(spec: Pick<ContainerSpec, "containerName">): string {
    const name = spec.containerName
        .toLowerCase()
        .replace(/[^a-z0-9-]+/g, "-")
        .replace(/^-+|-+$/g, "");
    if (name.length === 0 || name.length > 63) {
        throw new Error(`container name "${spec.containerName}" does not make a Kubernetes name (1-63 of a-z, 0-9, -)`);
    }
    return name;
}

/** The labels that select a service's pods (stable across releases: a Deployment's selector cannot change). */
export function selectorLabels(spec: Pick<ContainerSpec, "service" | "machine">): Record<string, string> {
    return { "app.kubernetes.io/name": spec.service.toLowerCase(), [MACHINE_LABEL]: spec.machine };
}

/** "10001:10001" → runAsUser / runAsGroup. */
function userAndGroup(user: string): { runAsUser?: number; runAsGroup?: number } {
    const m = /^(\d+)(?::(\d+))?$/.exec(user);
    if (!m) {
        throw new Error(`hardening.user "${user}": the cluster needs a numeric UID[:GID]`);
    }
    return { runAsUser: Number(m[1]), ...(m[2] !== undefined ? { runAsGroup: Number(m[2]) } : {}) };
}

/** tmpfs paths → emptyDir volume names. */
function volumeName(path: string): string {
    return `tmpfs${path.replace(/[^a-z0-9]+/gi, "-").toLowerCase()}`.replace(/-+$/, "").slice(0, 63);
}

/**
 * The Deployment's spec for a service's ContainerSpec. The image and the gate's verdict may be
 * Outputs: they sit inside the spec, so a preview knows everything else (the selector above all,
 * whose change would mean a replacement).
 */
export function deploymentSpec(
    spec: ContainerSpec,
    image: pulumi.Input<string>,
    gate: pulumi.Input<string>,
    settings: WorkloadSettings,
): k8s.types.input.apps.v1.DeploymentSpec & {
    template: { metadata: { labels: Record<string, string>; annotations: Record<string, pulumi.Input<string>> } };
} {
    const h = spec.hardening;
    const ids = userAndGroup(h.user);
    const probeCommand = dockerHealthTest(spec.health.containerPort, spec.health.path).slice(1);
    const labels = selectorLabels(spec);
    const tmpfs = h.readOnlyRoot ? h.tmpfs : [];
    const gpus = spec.gpuDevices && spec.gpuDevices.length > 0 ? String(spec.gpuDevices.length) : undefined;
    const env = Object.entries(spec.env)
        .sort(([a], [b]) => a.localeCompare(b))
        .map(([name, value]) => ({ name, value }));
    const container: k8s.types.input.core.v1.Container = {
        name: workloadName(spec),
        image,
        imagePullPolicy: "IfNotPresent",
        ports: spec.ports.map((p) => ({
            containerPort: p.container,
            hostPort: p.host,
            ...(spec.bindAddress !== "0.0.0.0" ? { hostIP: spec.bindAddress } : {}),
            protocol: p.protocol.toUpperCase(),
        })),
        ...(spec.secretEnv && settings.envSecret ? { envFrom: [{ secretRef: { name: settings.envSecret } }] } : { env }),
        securityContext: {
            ...ids,
            runAsNonRoot: ids.runAsUser !== 0,
            readOnlyRootFilesystem: h.readOnlyRoot,
            allowPrivilegeEscalation: !h.noNewPrivileges,
            ...(h.dropAllCapabilities ? { capabilities: { drop: ["ALL"] } } : {}),
            seccompProfile: { type: "RuntimeDefault" },
        },
        readinessProbe: {
            exec: { command: probeCommand },
            periodSeconds: Math.max(1, Math.min(spec.health.intervalSeconds, 5)),
            timeoutSeconds: Math.max(1, spec.health.timeoutSeconds),
            failureThreshold: spec.health.retries,
        },
        livenessProbe: {
            exec: { command: probeCommand },
            initialDelaySeconds: spec.health.startPeriodSeconds,
            periodSeconds: Math.max(1, spec.health.intervalSeconds),
            timeoutSeconds: Math.max(1, spec.health.timeoutSeconds),
            failureThreshold: spec.health.retries,
        },
        ...(gpus ? { resources: { requests: { [GPU_RESOURCE]: gpus }, limits: { [GPU_RESOURCE]: gpus } } } : {}),
        volumeMounts: tmpfs.map((p) => ({ name: volumeName(p), mountPath: p })),
    };
    const optOuts = hardeningOptOuts(h);
    return {
        replicas: 1,
        selector: { matchLabels: labels },
        // With one replica and maxUnavailable ≥ 1 a RollingUpdate counts the Deployment available with no
        // pod ready, and the provider would wait for nothing: stop-then-start is Recreate, which waits.
        strategy: isZero(settings.maxSurge)
            ? { type: "Recreate" }
            : { type: "RollingUpdate", rollingUpdate: { maxSurge: settings.maxSurge, maxUnavailable: settings.maxUnavailable } },
        progressDeadlineSeconds: settings.progressDeadlineSeconds,
        // The previous ReplicaSets are Kubernetes' own way back; the program's rollback restores a release instead.
        revisionHistoryLimit: 3,
        template: {
            metadata: {
                labels: { ...labels, [SERVICE_LABEL]: spec.service },
                annotations: {
                    [STACK_LABEL]: spec.machine,
                    [GATE_LABEL]: gate,
                    ...(optOuts.length > 0 ? { [OPT_OUTS_LABEL]: optOuts.join(",") } : {}),
                    [LOG_MAX_SIZE_ANNOTATION]: spec.logs.maxSize,
                    [LOG_MAX_FILES_ANNOTATION]: String(spec.logs.maxFiles),
                },
            },
            spec: {
                nodeSelector: { [settings.nodeLabel]: spec.machine },
                imagePullSecrets: [{ name: settings.pullSecret }],
                automountServiceAccountToken: false,
                enableServiceLinks: false,
                terminationGracePeriodSeconds: spec.stopTimeoutSeconds,
                securityContext: {
                    ...ids,
                    runAsNonRoot: ids.runAsUser !== 0,
                    ...(ids.runAsGroup !== undefined ? { fsGroup: ids.runAsGroup } : {}),
                },
                containers: [container],
                volumes: tmpfs.map((p) => ({ name: volumeName(p), emptyDir: { medium: "Memory", sizeLimit: "64Mi" } })),
            },
        },
    };
}

/** The Service naming a service inside the cluster: its container ports under the workload's name. */
export function serviceSpec(spec: ContainerSpec): k8s.types.input.core.v1.ServiceSpec {
    return {
        type: "ClusterIP",
        selector: selectorLabels(spec),
        ports: spec.ports.map((p) => ({
            name: `${p.protocol}-${p.container}`,
            port: p.container,
            targetPort: p.container,
            protocol: p.protocol.toUpperCase(),
        })),
    };
}

/** A `.dockerconfigjson` for the image pull secret. */
export function dockerConfigJson(registry: string, username: string, password: string): string {
    const auth = Buffer.from(`${username}:${password}`).toString("base64");
    return JSON.stringify({ auths: { [registry]: { username, password, auth } } });
}
