import * as pulumi from "@pulumi/pulumi";
import * as docker from "@pulumi/docker";
import * as command from "@pulumi/command";
import { dockerRunFlags } from "./dockerRun";
import { ContainerHardening, ContainerSettings, ContainerTarget } from "./types";
import { probeCommand } from "./probes";
import { OPT_OUTS_LABEL } from "../policy/container";

/** Type token of ServiceContainer. */
export const SERVICE_CONTAINER_TYPE = "ai-fleet:containers:ServiceContainer";

/** Docker healthcheck: python3 is in every fleet image, curl is not; the JSON `status` is compared, not the code. */
export function dockerHealthTest(port: number, path: string): string[] {
    const script =
        "import json,sys,urllib.request as u\n" +
        `r=u.urlopen('http://127.0.0.1:${port}${path}',timeout=3)\n` +
        "sys.exit(0 if json.loads(r.read()).get('status')=='ok' else 1)";
    return ["CMD", "python3", "-c", script];
}

/**
 * The hardening a service's config opts out of, by key (services.<Name>.hardening.<key>): what the
 * container's `ai-fleet.hardening.opt-outs` label names, so the policy pack reports each one.
 * `user` counts when it is root (UID 0); another non-root UID is no opt-out.
 */
export function hardeningOptOuts(h: ContainerHardening): string[] {
    const out: string[] = [];
    if (/^0(:|$)/.test(h.user)) out.push("user");
    if (!h.init) out.push("init");
    if (!h.readOnlyRoot) out.push("readOnlyRoot");
    if (!h.noNewPrivileges) out.push("noNewPrivileges");
    if (!h.dropAllCapabilities) out.push("dropAllCapabilities");
    return out;
}

/**
 * A whole number of seconds the way Go's time.Duration.String() prints it ("15s", "1m0s", "1h0m0s").
 * The docker provider (terraform-provider-docker's container Read) writes the healthcheck's
 * interval, timeout and start_period back in this form, so a value given in any other form ("60s")
 * differs from its read-back and shows `~healthcheck` on every `pulumi up`.
 */
export function goDuration(seconds: number): string {
    if (!Number.isInteger(seconds) || seconds < 0) {
        throw new Error(`goDuration: expected whole non-negative seconds, got ${seconds}`);
    }
    const h = Math.floor(seconds / 3600);
    const m = Math.floor((seconds % 3600) / 60);
    const s = seconds % 60;
    return h > 0 ? `${h}h${m}m${s}s` : m > 0 ? `${m}m${s}s` : `${s}s`;
}

/** KEY=VALUE lines, sorted so the container's inputs do not depend on object order. */
export function envList(env: Record<string, string>): string[] {
    return Object.keys(env)
        .sort()
        .map((k) => `${k}=${env[k]}`);
}

/**
 * Everything a service container is created with, except its image: hardened by default (user
 * 10001:10001, tini as PID 1, read-only root with tmpfs, no-new-privileges, no capabilities),
 * restart policy, Docker healthcheck, ports, GPU request, profile environment, log rotation.
 */
export function containerArgs(s: ContainerSettings): Omit<docker.ContainerArgs, "image"> {
    const h = s.hardening;
    const labels: Record<string, string> = {
        "ai-fleet.stack": s.machine,
        "ai-fleet.machine": s.machine,
        "ai-fleet.service": s.service,
    };
    const optOuts = hardeningOptOuts(h);
    if (optOuts.length > 0) {
        labels[OPT_OUTS_LABEL] = optOuts.join(",");
    }
    return {
        name: s.containerName,
        user: h.user,
        init: h.init,
        readOnly: h.readOnlyRoot,
        tmpfs: h.readOnlyRoot ? Object.fromEntries(h.tmpfs.map((p) => [p, "rw,noexec,nosuid,size=64m"])) : undefined,
        securityOpts: h.noNewPrivileges ? ["no-new-privileges:true"] : [],
        capabilities: h.dropAllCapabilities ? { drops: ["ALL"] } : undefined,
        restart: "unless-stopped",
        envs: envList(s.env),
        ports: s.ports.map((p) => ({ internal: p.container, external: p.host, protocol: p.protocol, ip: s.bindAddress })),
        deviceRequests:
            s.gpuDevices && s.gpuDevices.length > 0 ? [{ driver: "nvidia", deviceIds: s.gpuDevices, capabilities: ["gpu"] }] : undefined,
        healthcheck: {
            tests: dockerHealthTest(s.health.containerPort, s.health.path),
            // Go duration form: what the provider reads back (goDuration), so a second `up` sees no change.
            interval: goDuration(15),
            timeout: goDuration(5),
            startPeriod: goDuration(60),
            retries: 3,
        },
        logDriver: "json-file",
        logOpts: { "max-size": "10m", "max-file": "3" },
        labels: Object.keys(labels)
            .sort()
            .map((label) => ({ label, value: labels[label] })),
        stopTimeout: 20,
        destroyGraceSeconds: 30,
        mustRun: true,
    };
}

/** One service container on its machine's Docker host. */
export interface ServiceContainerArgs {
    /** The container's settings (see containerArgs). */
    settings: ContainerSettings;
    /** The image, verified and pinned by digest: `repo@sha256:…`. */
    image: pulumi.Input<string>;
    /** Where and how the container runs. */
    target: ContainerTarget;
    /** "passed" once every gate this service waits for is open (an `ai-fleet.gate` label). Default "passed". */
    gate?: pulumi.Input<string>;
}

/** Labels of containerArgs plus `ai-fleet.gate`, sorted (every container carries it, so moving between groups changes nothing). */
function labelsWithGate(
    base: Omit<docker.ContainerArgs, "image">,
    gate: pulumi.Input<string>,
): pulumi.Output<docker.types.input.ContainerLabel[]> {
    return pulumi
        .all([base.labels as docker.types.input.ContainerLabel[], gate])
        .apply(([ls, g]) => [...ls, { label: "ai-fleet.gate", value: g }].sort((a, b) => String(a.label).localeCompare(String(b.label))));
}

/** The environment of the cli runtime's command: the run flags, and the provider-shaped spec for policy. */
export function cliContainerEnvironment(
    s: ContainerSettings,
    image: string,
    labels: { label: string; value: string }[],
    target: { network: string; dockerHost: string; stack: string },
): Record<string, string> {
    const args = { ...containerArgs(s), labels };
    return {
        DOCKER_HOST: target.dockerHost,
        FLEET_CONTAINER_NAME: s.containerName,
        FLEET_IMAGE: image,
        FLEET_NETWORK: target.network,
        FLEET_STACK: target.stack,
        FLEET_DOCKER_RUN: JSON.stringify(dockerRunFlags(args)),
        FLEET_CONTAINER_SPEC: JSON.stringify({ ...args, image, networksAdvanced: [{ name: target.network, aliases: [s.containerName] }] }),
    };
}

/**
 * Pulls the pinned image on the machine and runs the service. Containers have fixed names and
 * host ports, so a replacement deletes the old one first (create-before-delete would clash).
 */
export class ServiceContainer extends pulumi.ComponentResource {
    /** Container id on the machine. */
    public readonly containerId: pulumi.Output<string>;
    /** Container name on the machine. */
    public readonly containerName: pulumi.Output<string>;
    /** The image reference the container runs. */
    public readonly image: pulumi.Output<string>;
    /** The resource that creates the container, for `dependsOn`. */
    public readonly resource: pulumi.CustomResource;

    constructor(name: string, args: ServiceContainerArgs, opts?: pulumi.ComponentResourceOptions) {
        super(SERVICE_CONTAINER_TYPE, name, {}, opts);
        const s = args.settings;
        if (!/^[a-zA-Z0-9][a-zA-Z0-9_.-]+$/.test(s.containerName)) {
            throw new pulumi.ResourceError(
                `ServiceContainer '${name}': 'containerName' "${s.containerName}" is not a valid Docker container name`,
                this,
            );
        }
        const base = containerArgs(s);
        const labels = labelsWithGate(base, args.gate ?? "passed");
        const target = args.target;
        if (target.runtime === "provider") {
            const remote = new docker.RemoteImage(
                `${name}-image`,
                // keepLocally: a replaced container's old image stays for a quick way back.
                { name: args.image, keepLocally: true },
                { parent: this, provider: target.provider },
            );
            const container = new docker.Container(
                `${name}-container`,
                {
                    ...base,
                    envs: s.secretEnv ? pulumi.secret(base.envs as string[]) : base.envs,
                    labels,
                    image: remote.imageId,
                    networksAdvanced: [{ name: target.network, aliases: [s.containerName] }],
                },
                { parent: this, provider: target.provider, deleteBeforeReplace: true },
            );
            this.containerId = container.id;
            this.containerName = container.name;
            this.resource = container;
        } else {
            const environment = pulumi
                .all([args.image, labels])
                .apply(([image, ls]) => cliContainerEnvironment(s, image, ls as { label: string; value: string }[], target));
            const stdin = pulumi.secret(
                pulumi
                    .output(target.registry.password)
                    .apply((password) => JSON.stringify({ registry: target.registry.host, username: target.registry.username, password })),
            );
            const run = new command.local.Command(
                `${name}-container`,
                {
                    create: `${probeCommand("container.js")} up`,
                    delete: `${probeCommand("container.js")} down`,
                    environment: s.secretEnv ? pulumi.secret(environment) : environment,
                    stdin,
                    logging: "stderr",
                },
                { parent: this, deleteBeforeReplace: true },
            );
            const started = run.stdout.apply((out) => JSON.parse(out.trim().split("\n").pop() as string) as { id: string; name: string });
            this.containerId = started.apply((c) => c.id);
            this.containerName = pulumi.output(s.containerName);
            this.resource = run;
        }
        this.image = pulumi.output(args.image);
        this.registerOutputs({ containerId: this.containerId, containerName: this.containerName, image: this.image });
    }
}
