/**
 * One service on one machine, as one component named by the service: its image's build (or, in the
 * deploy phase, the given release reference), the image's verification in the registry and its
 * vulnerability scan, its container and its health check are its children. What it depends on and
 * the gates it waits for are inputs (deploy/rollout.ts wires them in the rollout order).
 */
import * as pulumi from "@pulumi/pulumi";
import * as docker from "@pulumi/docker";
import * as dockerbuild from "@pulumi/docker-build";
import * as k8s from "@pulumi/kubernetes";
import { ContainerSpec } from "../common/containerSpec";
import { FLEET_SERVICE_TYPE, scopedName, serviceResourceName } from "../naming";
import { BuildRequest, BuildSettings, dockerBuildArgs } from "./buildSpec";
import { CLI_SUPPORT, dockerRunFlags, PROVIDER_SUPPORT, providerContainerArgs, unexpressedFields } from "./containerAdapters";
import { deploymentSpec, KUBERNETES_SUPPORT, serviceSpec, WORKLOAD_READY, workloadName } from "./kubernetesAdapter";
import { Gate, gateOutput } from "./gate";
import {
    HealthReport,
    healthInput,
    parseHealthReport,
    ProbeSettings,
    RegistryAccess,
    ScanPolicy,
    ScanReport,
    scanInput,
    pushedDigest,
    verifyInRegistry,
} from "./probeInputs";
import { CONTAINER, HEALTH, probeCommand, runProbe, SCAN } from "./probes";
import type { z } from "zod";
import { serviceAliases } from "./legacyNames";
import { ContainerTarget } from "./types";

/** The cli runtime's registry credentials, as its contract declares its stdin. */
function containerCredentials(c: z.input<typeof CONTAINER.stdin>): z.input<typeof CONTAINER.stdin> {
    return c;
}

/** Where a service's image comes from. */
export type ServiceImageSource =
    | {
          /** Built here (build phases): FROM its family pinned by digest, then verified to extend the family's layers. */
          build: { settings: BuildSettings; request: BuildRequest };
      }
    | {
          /** Given (deploy phase): a release's reference, verified in the registry; nothing is built. */
          ref: pulumi.Input<string>;
      };

/** A service's rollout on its machine: the container and its health check. */
export interface ServiceRun {
    /** The container's spec (deploy/containers.ts, or a restored release's). */
    spec: ContainerSpec;
    /** How the health check probes it from where `pulumi up` runs. */
    probe: ProbeSettings;
    /** false: a failed health check is reported and warned about, but holds nothing back. */
    required: boolean;
    /** Where the container runs. */
    target: ContainerTarget;
    /** What the container waits for: the health checks of its dependencies (and of the canary, when gated). */
    after: pulumi.Resource[];
    /** The reports the container's start waits for (the canary's, the gate stack's); none opens at once. */
    gates: Gate[];
}

export interface FleetServiceArgs {
    /** Machine (stack) the service belongs to. */
    machine: string;
    /** The service's image: built here, or a given reference. */
    image: ServiceImageSource;
    /** The registry verification and the scan read, and machines pull from. */
    registry: RegistryAccess;
    /** Platform an index resolves to for the layer check. */
    platform: string;
    /** The vulnerability scan's policy; undefined when the scan gate is disabled. */
    scan?: ScanPolicy;
    /** The container and health check; undefined in the build phase. */
    run?: ServiceRun;
    /** In a fleet stack, the machine: the component and its children are named `<machine>/<Service>…`. */
    scope?: string;
}

/**
 * A service's image as verification found it, and (once it ran) its container's health. A container
 * takes `pinned` only after the scan passed: no container runs an image before its scan.
 */
export class FleetService extends pulumi.ComponentResource {
    /** `repo@sha256:…` as the registry serves it (verified; what a release records). */
    public readonly pinned: pulumi.Output<string>;
    /** The same reference, resolved only once the scan passed (when there is one): what the container runs. */
    public readonly runnable: pulumi.Output<string>;
    /** The digest the registry serves. */
    public readonly digest: pulumi.Output<string>;
    /** `repo:tag` after a build; the given reference in the deploy phase. */
    public readonly ref: pulumi.Output<string>;
    /** The scan report; undefined when the scan gate is disabled. */
    public readonly scanReport?: pulumi.Output<ScanReport>;
    /** The health report; undefined in the build phase. */
    public readonly health?: pulumi.Output<HealthReport>;
    /** The health check, for what must wait for this service (`dependsOn`); undefined in the build phase. */
    public readonly healthCheck?: pulumi.Resource;
    /** The gate's verdict for this service's start ("passed"), when it waits for any. */
    public readonly gate?: pulumi.Output<string>;

    constructor(service: string, args: FleetServiceArgs, opts?: pulumi.ComponentResourceOptions) {
        const run = args.run;
        // The policy pack judges the container by this spec (policy/container.ts), whichever runtime starts it.
        const props = run ? { service, machine: args.machine, container: run.spec.secretEnv ? pulumi.secret(run.spec) : run.spec } : {};
        super(FLEET_SERVICE_TYPE, scopedName(service, args.scope), props, opts);
        if (!/^[A-Za-z][A-Za-z0-9]*$/.test(service)) {
            throw new pulumi.ResourceError(`FleetService '${service}': the name must be a PascalCase service name`, this);
        }
        const child = (role: Parameters<typeof serviceResourceName>[1], extra?: pulumi.CustomResourceOptions) => ({
            parent: this,
            // A fleet stack's names never had an older form.
            aliases: args.scope ? [] : serviceAliases(args.machine, service, role),
            ...extra,
        });
        const name = (role: Parameters<typeof serviceResourceName>[1]) => serviceResourceName(service, role, args.scope);

        // 1. The image: built and pushed, or given.
        let ref: pulumi.Output<string>;
        let expectedDigest: pulumi.Output<string> | undefined;
        let parent: pulumi.Input<string> | undefined;
        if ("build" in args.image) {
            const { settings, request } = args.image.build;
            const image = new dockerbuild.Image(name("build"), dockerBuildArgs(settings, request), child("build"));
            ref = pulumi.interpolate`${request.repository}:${settings.tag}`;
            parent = request.baseImage;
            expectedDigest = pushedDigest(request.repository, image.digest);
        } else {
            ref = pulumi.output(args.image.ref);
        }

        // 2. Verified in the registry: the digest that was built, on top of its family's layers.
        const verified = verifyInRegistry(
            name("verify"),
            {
                image: ref,
                expectedDigest,
                parent,
                registry: args.registry,
                platform: args.platform,
                what: `verification of ${service}'s image`,
            },
            child("verify"),
        );
        this.digest = verified.digest;
        this.ref = ref;
        const pinned = verified.pinned;
        this.pinned = pinned;
        let runnable = pinned;

        // 3. Scanned: the containers take the reference only once the scan passed.
        if (args.scan) {
            const policy = args.scan;
            const scan = runProbe(
                name("scan"),
                SCAN,
                {
                    environment: pulumi
                        .all([pinned, args.registry.password])
                        .apply(([image, password]) => scanInput({ service, image, registry: { ...args.registry, password }, policy })),
                    secret: true,
                    // A new digest or a new verdict rule re-runs the scan; a release that changes only
                    // other config (same digest) does not.
                    triggers: [pinned, policy.severity, JSON.stringify(policy.allow), String(policy.ignoreUnfixed)],
                    what: `the vulnerability scan of ${service}`,
                },
                child("scan"),
            );
            const report = pulumi.unsecret(scan.output);
            this.scanReport = report;
            runnable = pulumi.unsecret(
                pulumi.all([pinned, report]).apply(([image, r]) => {
                    if (r.image !== image) {
                        throw new Error(`the scan of ${service} reported image ${r.image}, not ${image}`);
                    }
                    return image;
                }),
            );
        }
        this.runnable = runnable;

        // 4. The container and its health check.
        if (run) {
            const started = this.runContainer(service, run, runnable, child, name);
            this.gate = started.gate;
            const rollbackCommand = `npm run rollback -- --stack ${pulumi.getStack()}`;
            const check = runProbe(
                name("health"),
                HEALTH,
                {
                    environment: this.digest.apply((digest) =>
                        healthInput({
                            service,
                            host: run.probe.host,
                            port: run.probe.port,
                            path: run.probe.path,
                            bounds: run.probe.bounds,
                            digest,
                            required: run.required,
                            rollbackCommand,
                        }),
                    ),
                    secret: false,
                    triggers: [this.digest, started.containerId],
                    what: `health check of ${service}`,
                    parse: (out) => parseHealthReport(out, service),
                },
                child("health", {
                    dependsOn: [started.resource],
                    customTimeouts: { create: `${Math.ceil(run.probe.bounds.timeoutSeconds + 60)}s` },
                }),
            );
            this.healthCheck = check.command;
            this.health = check.output.apply((report) => {
                if (!report.healthy) {
                    pulumi.log.warn(
                        `optional service ${service} is not healthy; nothing waits for it: ${report.problem ?? report.status}`,
                        this,
                    );
                }
                return report;
            });
        }
        this.registerOutputs({ pinned: this.pinned, digest: this.digest, ref: this.ref, health: this.health, scanReport: this.scanReport });
    }

    /** The container on the machine, by the target's runtime: the provider's RemoteImage + Container, or `docker run` through a command. */
    private runContainer(
        service: string,
        run: ServiceRun,
        image: pulumi.Output<string>,
        child: (role: "image" | "container" | "endpoint" | "env", extra?: pulumi.CustomResourceOptions) => pulumi.CustomResourceOptions,
        name: (role: "image" | "container" | "endpoint" | "env") => string,
    ): { resource: pulumi.CustomResource; containerId: pulumi.Output<string>; gate?: pulumi.Output<string> } {
        const spec = run.spec;
        if (!/^[a-zA-Z0-9][a-zA-Z0-9_.-]+$/.test(spec.containerName)) {
            throw new pulumi.ResourceError(
                `FleetService '${service}': container name "${spec.containerName}" is not a valid Docker container name`,
                this,
            );
        }
        const target = run.target;
        const support = { provider: PROVIDER_SUPPORT, cli: CLI_SUPPORT, kubernetes: KUBERNETES_SUPPORT }[target.runtime];
        const unexpressed = unexpressedFields(spec, support);
        if (unexpressed.length > 0) {
            throw new pulumi.ResourceError(
                `FleetService '${service}': the ${target.runtime} container runtime cannot express ${unexpressed.join(", ")}; use the other runtime (ai-fleet:docker.runtime) or drop the setting`,
                this,
            );
        }
        const gate = gateOutput(run.gates, `${service}'s rollout`, this);
        // A fixed container name and host ports: a replacement deletes the old container first.
        const after = { dependsOn: run.after, deleteBeforeReplace: true };
        if (target.runtime === "kubernetes") {
            return this.runWorkload(service, run, image, gate, child, name);
        }
        if (target.runtime === "provider") {
            const remote = new docker.RemoteImage(
                name("image"),
                // keepLocally: a replaced container's old image stays for a quick way back.
                { name: image, keepLocally: true },
                // No dependsOn: the pull may overlap the dependencies' start; the container waits for them.
                child("image", { provider: target.provider }),
            );
            // What the gate and the network decide (labels, networksAdvanced) waits for them; the rest is plain.
            const base = providerContainerArgs(spec, { gate: "passed" });
            const args = pulumi.all([gate, target.network]).apply(([g, network]) => providerContainerArgs(spec, { gate: g, network }));
            const container = new docker.Container(
                name("container"),
                {
                    ...base,
                    envs: spec.secretEnv ? pulumi.secret(base.envs) : base.envs,
                    labels: args.labels,
                    networksAdvanced: args.apply((a) => a.networksAdvanced as docker.types.input.ContainerNetworksAdvanced[]),
                    image: remote.imageId,
                },
                child("container", { provider: target.provider, ...after }),
            );
            return { resource: container, containerId: container.id, gate: run.gates.length > 0 ? gate : undefined };
        }
        const environment = pulumi.all([image, gate]).apply(([img, g]) => ({
            DOCKER_HOST: target.dockerHost,
            FLEET_CONTAINER_NAME: spec.containerName,
            FLEET_IMAGE: img,
            FLEET_NETWORK: target.network,
            FLEET_STACK: target.stack,
            FLEET_DOCKER_RUN: JSON.stringify(dockerRunFlags(spec, g)),
            // The provider adapter's args for the same spec: what the provider runtime would be given, for people reading the state.
            FLEET_CONTAINER_SPEC: JSON.stringify({
                ...providerContainerArgs(spec, { gate: g }),
                image: img,
                networksAdvanced: [{ name: target.network, aliases: [spec.containerName] }],
            }),
        }));
        const credentials = pulumi
            .output(target.registry.password)
            .apply((password) =>
                JSON.stringify(containerCredentials({ registry: target.registry.host, username: target.registry.username, password })),
            );
        const started = runProbe(
            name("container"),
            CONTAINER,
            {
                environment,
                secret: spec.secretEnv === true,
                args: "up",
                delete: `${probeCommand(CONTAINER.script)} down`,
                stdin: pulumi.secret(credentials),
                what: `the container of ${service}`,
            },
            child("container", after),
        );
        return { resource: started.command, containerId: started.output.apply((c) => c.id), gate: run.gates.length > 0 ? gate : undefined };
    }

    /**
     * The service on a Kubernetes cluster (components/kubernetesAdapter.ts): a Deployment pinned to
     * its machine's node, which the provider waits for until its pod is ready (the readiness probe
     * checks the JSON status), a Service naming it, and a Secret for a secret environment.
     */
    private runWorkload(
        service: string,
        run: ServiceRun,
        image: pulumi.Output<string>,
        gate: pulumi.Output<string>,
        child: (role: "container" | "endpoint" | "env", extra?: pulumi.CustomResourceOptions) => pulumi.CustomResourceOptions,
        name: (role: "container" | "endpoint" | "env") => string,
    ): { resource: pulumi.CustomResource; containerId: pulumi.Output<string>; gate?: pulumi.Output<string> } {
        const spec = run.spec;
        const target = run.target as Extract<ServiceRun["target"], { runtime: "kubernetes" }>;
        const provider = target.provider;
        // Kubernetes resources came after every earlier layout: no aliases (a Docker container's old URN is no Deployment's).
        const k8sChild = (role: "container" | "endpoint" | "env", extra?: pulumi.CustomResourceOptions) => ({
            ...child(role, { provider, ...extra }),
            aliases: [],
        });
        let wname: string;
        try {
            wname = workloadName(spec);
        } catch (e) {
            throw new pulumi.ResourceError(`FleetService '${service}': ${(e as Error).message}`, this);
        }
        const envSecret = spec.secretEnv
            ? new k8s.core.v1.Secret(
                  name("env"),
                  { metadata: { namespace: target.namespace, name: `${wname}-env` }, type: "Opaque", stringData: pulumi.secret(spec.env) },
                  k8sChild("env"),
              )
            : undefined;
        const timeout = `${target.timeoutSeconds}s`;
        const deployment = new k8s.apps.v1.Deployment(
            name("container"),
            {
                metadata: {
                    namespace: target.namespace,
                    name: wname,
                    labels: { "app.kubernetes.io/name": service.toLowerCase(), "app.kubernetes.io/managed-by": "ai-fleet" },
                    annotations: { "pulumi.com/waitFor": JSON.stringify(WORKLOAD_READY) },
                },
                spec: deploymentSpec(spec, image, gate, { ...target.workload, envSecret: envSecret?.metadata.name }),
            },
            k8sChild("container", {
                dependsOn: envSecret ? [...run.after, envSecret] : run.after,
                // A change the API cannot apply in place (the selector) replaces it under the same name.
                deleteBeforeReplace: true,
                customTimeouts: { create: timeout, update: timeout },
            }),
        );
        new k8s.core.v1.Service(
            name("endpoint"),
            {
                // Its endpoints are the Deployment's ready pods, which the Deployment already waited for.
                metadata: { namespace: target.namespace, name: wname, annotations: { "pulumi.com/skipAwait": "true" } },
                spec: serviceSpec(spec),
            },
            k8sChild("endpoint", { dependsOn: [deployment] }),
        );
        // A new pod template (image, env, ports, …) raises the generation: the health check runs again.
        const generation = deployment.metadata.apply((m) => `${m.uid}/${m.generation ?? 0}`);
        return { resource: deployment, containerId: generation, gate: run.gates.length > 0 ? gate : undefined };
    }
}
