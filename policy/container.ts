/**
 * One shape for every container the policies judge. The fleet's own containers are judged by the
 * spec their FleetService component carries (`container`, common/containerSpec.ts): the very spec
 * both runtimes' adapters start the container from, so one rule holds for both runtimes. A
 * container that did not come from a FleetService (a `docker:index/container:Container`, or a
 * `command:local:Command` carrying docker.ContainerArgs as JSON in FLEET_CONTAINER_SPEC) is judged
 * by its own arguments. A FleetService's container resource is judged on its image alone (the one
 * thing the spec does not hold), so no rule reports a fleet container twice.
 *
 * Fields are read lazily: a policy that reads a field unknown during preview gets the policy SDK's
 * own UnknownValueError (reported as "can't run during preview"), while the others still run.
 */

import { ContainerSpec, dockerHealthTest, hardeningOptOuts } from "../common/containerSpec";
import { LOG_MAX_FILES_ANNOTATION, LOG_MAX_SIZE_ANNOTATION, MACHINE_LABEL, OPT_OUTS_LABEL, SERVICE_LABEL } from "../common/labels";
import { FLEET_SERVICE_TYPE, parseUrn } from "../naming";

export { MACHINE_LABEL, OPT_OUTS_LABEL, SERVICE_LABEL };

/** The docker provider's container type token. */
export const DOCKER_CONTAINER = "docker:index/container:Container";
/** The command provider's local command type token. */
export const LOCAL_COMMAND = "command:local:Command";
/** The kubernetes provider's Deployment type token: the cluster target's workloads, and any other Deployment in a stack. */
export const K8S_DEPLOYMENT = "kubernetes:apps/v1:Deployment";
/** Environment variable of a local Command holding the container's docker.ContainerArgs as JSON. */
export const CONTAINER_SPEC_ENV = "FLEET_CONTAINER_SPEC";
/** A container as the policies see it (docker.ContainerArgs, normalised). */
export interface FleetContainer {
    /** The resource type it came from. */
    readonly source: typeof DOCKER_CONTAINER | typeof LOCAL_COMMAND | typeof FLEET_SERVICE_TYPE | typeof K8S_DEPLOYMENT;
    /** Container name, else the service label, else the resource's name. */
    readonly name: string;
    /** The image reference as given (`repo@sha256:…`, an image ID `sha256:…`, or a tag). */
    readonly image: string | undefined;
    /** `user`, e.g. "10001:10001"; undefined runs the image's own user. */
    readonly user: string | undefined;
    readonly readOnlyRoot: boolean;
    readonly securityOpts: string[];
    readonly capabilities: { adds: string[]; drops: string[] };
    readonly privileged: boolean;
    readonly networkMode: string | undefined;
    readonly pidMode: string | undefined;
    /** Environment from `envs` (KEY=VALUE). */
    readonly env: Record<string, string>;
    readonly logDriver: string | undefined;
    readonly logOpts: Record<string, string>;
    /** Docker healthcheck test, e.g. ["CMD", …]; undefined when none is set. */
    readonly healthcheckTest: string[] | undefined;
    /** Whether the container requests a GPU (deviceRequests with the gpu capability, or `gpus`). */
    readonly requestsGpu: boolean;
    /** Labels as a map (from docker's [{label, value}] list). */
    readonly labels: Record<string, string>;
    /** The hardening opt-outs the container's label names (config keys, e.g. readOnlyRoot). */
    readonly optOuts: string[];
    /**
     * A FleetService's container resource: only its image is judged here (the spec it runs is judged
     * on the FleetService, which carries no image: it is built, verified and scanned by its children).
     */
    readonly imageOnly?: boolean;
}

type Props = Record<string, unknown>;

function isObject(v: unknown): v is Props {
    return v !== null && typeof v === "object" && !Array.isArray(v);
}

function strings(v: unknown): string[] {
    return Array.isArray(v) ? v.filter((s): s is string => typeof s === "string") : [];
}

function stringMap(v: unknown): Record<string, string> {
    const out: Record<string, string> = {};
    if (isObject(v)) {
        for (const k of Object.keys(v)) {
            const value = v[k];
            if (typeof value === "string" || typeof value === "number" || typeof value === "boolean") {
                out[k] = String(value);
            }
        }
    }
    return out;
}

/** docker labels: the provider's list of {label, value}, or (tolerated in a JSON spec) a plain map. */
function labelMap(v: unknown): Record<string, string> {
    if (Array.isArray(v)) {
        const out: Record<string, string> = {};
        for (const l of v) {
            if (isObject(l) && typeof l.label === "string") {
                out[l.label] = String(l.value ?? "");
            }
        }
        return out;
    }
    return stringMap(v);
}

function envMap(v: unknown): Record<string, string> {
    const out: Record<string, string> = {};
    for (const line of strings(v)) {
        const eq = line.indexOf("=");
        if (eq > 0) {
            out[line.slice(0, eq)] = line.slice(eq + 1);
        } else if (line.length > 0) {
            out[line] = "";
        }
    }
    return out;
}

function requestsGpu(spec: Props): boolean {
    if (typeof spec.gpus === "string" && spec.gpus.length > 0) {
        return true;
    }
    const requests = Array.isArray(spec.deviceRequests) ? spec.deviceRequests : [];
    return requests.some((r) => isObject(r) && (strings(r.capabilities).some((c) => c.toLowerCase() === "gpu") || r.driver === "nvidia"));
}

/**
 * The docker.ContainerArgs of a resource, or undefined when it is no fleet container (another type,
 * or a Command without FLEET_CONTAINER_SPEC). For a Command the spec is parsed on first use.
 */
function specSource(type: string, props: Props): (() => Props) | undefined {
    if (type === DOCKER_CONTAINER) {
        return () => props;
    }
    if (type === K8S_DEPLOYMENT) {
        return () => deploymentAsContainerArgs(props);
    }
    if (type !== LOCAL_COMMAND) {
        return undefined;
    }
    const env = props.environment;
    if (!isObject(env) || !(CONTAINER_SPEC_ENV in env)) {
        return undefined;
    }
    let parsed: Props | undefined;
    return () => {
        if (parsed === undefined) {
            const text = env[CONTAINER_SPEC_ENV];
            if (typeof text !== "string") {
                throw new Error(`${CONTAINER_SPEC_ENV} must be a JSON string of docker.ContainerArgs, got ${typeof text}`);
            }
            let value: unknown;
            try {
                value = JSON.parse(text);
            } catch (e) {
                throw new Error(`${CONTAINER_SPEC_ENV} is not JSON: ${(e as Error).message}`, { cause: e });
            }
            if (!isObject(value)) {
                throw new Error(`${CONTAINER_SPEC_ENV} must be a JSON object (docker.ContainerArgs)`);
            }
            parsed = value;
        }
        return parsed;
    };
}

/**
 * A Deployment's first container, read as the docker.ContainerArgs the rules judge: the pod's and
 * the container's securityContext (the container's wins) as user, read-only root,
 * no-new-privileges, capabilities and privileged; hostNetwork/hostPID as the host modes; the plain
 * env; the readiness probe's command as the healthcheck; a `nvidia.com/gpu` limit as a GPU
 * request; the pod template's labels and annotations as labels; and the log limits the cluster
 * target writes as annotations as json-file rotation (the kubelet rotates logs per node).
 */
function deploymentAsContainerArgs(props: Props): Props {
    const spec = isObject(props.spec) ? props.spec : {};
    const template = isObject(spec.template) ? spec.template : {};
    const meta = isObject(template.metadata) ? template.metadata : {};
    const pod = isObject(template.spec) ? template.spec : {};
    const containers = Array.isArray(pod.containers) ? pod.containers.filter(isObject) : [];
    const c = containers[0] ?? {};
    const sc = { ...(isObject(pod.securityContext) ? pod.securityContext : {}), ...(isObject(c.securityContext) ? c.securityContext : {}) };
    const caps = isObject(sc.capabilities) ? sc.capabilities : {};
    const annotations = stringMap(meta.annotations);
    const limits = isObject(c.resources) && isObject(c.resources.limits) ? c.resources.limits : {};
    const probe = isObject(c.readinessProbe) && isObject(c.readinessProbe.exec) ? strings(c.readinessProbe.exec.command) : [];
    const metadata = isObject(props.metadata) ? props.metadata : {};
    return {
        name: typeof metadata.name === "string" ? metadata.name : undefined,
        image: c.image,
        user:
            typeof sc.runAsUser === "number" ? `${sc.runAsUser}${typeof sc.runAsGroup === "number" ? `:${sc.runAsGroup}` : ""}` : undefined,
        readOnly: sc.readOnlyRootFilesystem === true,
        securityOpts: sc.allowPrivilegeEscalation === false ? ["no-new-privileges:true"] : [],
        capabilities: { adds: strings(caps.add), drops: strings(caps.drop) },
        privileged: sc.privileged === true,
        networkMode: pod.hostNetwork === true ? "host" : undefined,
        pidMode: pod.hostPID === true ? "host" : undefined,
        envs: (Array.isArray(c.env) ? c.env.filter(isObject) : [])
            .filter((e) => typeof e.name === "string" && typeof e.value === "string")
            .map((e) => `${e.name}=${e.value}`),
        logDriver: annotations[LOG_MAX_SIZE_ANNOTATION] !== undefined ? "json-file" : undefined,
        logOpts:
            annotations[LOG_MAX_SIZE_ANNOTATION] !== undefined
                ? { "max-size": annotations[LOG_MAX_SIZE_ANNOTATION], "max-file": annotations[LOG_MAX_FILES_ANNOTATION] ?? "1" }
                : {},
        healthcheck: probe.length > 0 ? { tests: ["CMD", ...probe] } : undefined,
        deviceRequests: limits["nvidia.com/gpu"] !== undefined ? [{ capabilities: ["gpu"] }] : [],
        labels: { ...stringMap(meta.labels), ...annotations },
    };
}

/** A FleetService's container spec as the policies see it. */
function fromSpec(spec: ContainerSpec): FleetContainer {
    const h = spec.hardening;
    const optOuts = hardeningOptOuts(h);
    return {
        source: FLEET_SERVICE_TYPE,
        name: spec.containerName,
        image: undefined,
        user: h.user !== "" ? h.user : undefined,
        readOnlyRoot: h.readOnlyRoot,
        securityOpts: h.noNewPrivileges ? ["no-new-privileges:true"] : [],
        capabilities: { adds: [], drops: h.dropAllCapabilities ? ["ALL"] : [] },
        privileged: false,
        networkMode: undefined,
        pidMode: undefined,
        env: { ...spec.env },
        logDriver: spec.logs.driver,
        logOpts: { "max-size": spec.logs.maxSize, "max-file": String(spec.logs.maxFiles) },
        healthcheckTest: dockerHealthTest(spec.health.containerPort, spec.health.path),
        requestsGpu: (spec.gpuDevices ?? []).length > 0,
        labels: {
            [MACHINE_LABEL]: spec.machine,
            [SERVICE_LABEL]: spec.service,
            ...(optOuts.length > 0 ? { [OPT_OUTS_LABEL]: optOuts.join(",") } : {}),
        },
        optOuts,
    };
}

/**
 * Normalises a resource's inputs into a FleetContainer, or returns undefined for resources that
 * are not containers to judge: other types, a Command without FLEET_CONTAINER_SPEC, and the
 * container resources of a FleetService (`parent` is their parent's URN), whose spec is judged on
 * the FleetService. `resourceName` is the fallback name. Pure: no I/O, no Pulumi runtime.
 */
export function normaliseContainer(type: string, props: Props, resourceName = "", parent?: string): FleetContainer | undefined {
    if (type === FLEET_SERVICE_TYPE) {
        return isObject(props.container) ? fromSpec(props.container as unknown as ContainerSpec) : undefined;
    }
    const imageOnly = parent !== undefined && parseUrn(parent)?.type === FLEET_SERVICE_TYPE;
    const spec = specSource(type, props);
    if (spec === undefined) {
        return undefined;
    }
    const field = <T>(read: (s: Props) => T) => ({ enumerable: true, get: () => read(spec()) });
    const labels = (s: Props) => labelMap(s.labels);
    const container = {} as FleetContainer;
    Object.defineProperties(container, {
        source: { enumerable: true, value: type },
        imageOnly: { enumerable: true, value: imageOnly },
        name: field((s) => (typeof s.name === "string" && s.name) || labels(s)[SERVICE_LABEL] || resourceName),
        image: field((s) => (typeof s.image === "string" ? s.image : undefined)),
        user: field((s) => (typeof s.user === "string" && s.user !== "" ? s.user : undefined)),
        readOnlyRoot: field((s) => s.readOnly === true),
        securityOpts: field((s) => strings(s.securityOpts)),
        capabilities: field((s) => {
            const caps = isObject(s.capabilities) ? s.capabilities : {};
            return { adds: strings(caps.adds), drops: strings(caps.drops) };
        }),
        privileged: field((s) => s.privileged === true),
        networkMode: field((s) => (typeof s.networkMode === "string" ? s.networkMode : undefined)),
        pidMode: field((s) => (typeof s.pidMode === "string" ? s.pidMode : undefined)),
        env: field((s) => envMap(s.envs)),
        logDriver: field((s) => (typeof s.logDriver === "string" ? s.logDriver : undefined)),
        logOpts: field((s) => stringMap(s.logOpts)),
        healthcheckTest: field((s) => {
            const tests = isObject(s.healthcheck) ? strings(s.healthcheck.tests) : [];
            return tests.length > 0 ? tests : undefined;
        }),
        requestsGpu: field((s) => requestsGpu(s)),
        labels: field(labels),
        optOuts: field((s) =>
            (labels(s)[OPT_OUTS_LABEL] ?? "")
                .split(",")
                .map((o) => o.trim())
                .filter((o) => o.length > 0),
        ),
    });
    return container;
}
