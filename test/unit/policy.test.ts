/**
 * The policy pack (policy/) on resource inputs, the policy SDK's own way: each policy's
 * validateResource is called with ResourceValidationArgs whose props are wrapped in
 * @pulumi/policy's unknownCheckingProxy, as the analyzer does. No engine, no mocks of the SDK.
 * The inputs are the program's own (the provider adapter of the real stack files' specs), then broken one way each.
 */
import { expect } from "chai";
import {
    PolicyResourceOptions,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    unknownCheckingProxy,
    UnknownValueError,
} from "@pulumi/policy";
import { deploymentSpec, providerContainerArgs } from "../../components";
import { containerSpecFor } from "../../deploy";
import {
    CONTAINER_SPEC_ENV,
    DOCKER_CONTAINER,
    K8S_DEPLOYMENT,
    LOCAL_COMMAND,
    normaliseContainer,
    OPT_OUTS_LABEL,
} from "../../policy/container";
import { policies, profileGpuLookup, uidOf } from "../../policy/policies";
import { fleetConfig } from "./harness";

const DIGEST = "sha256:" + "0123456789abcdef".repeat(4);
const IMAGE = `ghcr.io/haymayndzultra/ai_system/mainpc/model_ops_coordinator@${DIGEST}`;
/** The unknown-string sentinel the engine sends for a value not known during preview (@pulumi/policy's proxy.ts). */
const UNKNOWN_STRING = "04da6b54-80e4-46f7-96ec-b56ff0331ba9";

type Spec = Record<string, any>;
type Runtime = "docker" | "command";

/** The docker.ContainerArgs the program gives a mainpc service (hardened defaults), with a pinned image. */
function fleetSpec(service = "ModelOpsCoordinator", edit?: (raw: Record<string, any>) => void, machine = "mainpc"): Spec {
    const cfg = fleetConfig(machine, edit);
    return JSON.parse(JSON.stringify({ ...providerContainerArgs(containerSpecFor(cfg, service), { gate: "passed" }), image: IMAGE }));
}

/** The resource inputs a runtime registers for a container spec. */
function resourceOf(runtime: Runtime, spec: Spec): { type: string; props: Record<string, any> } {
    return runtime === "docker"
        ? { type: DOCKER_CONTAINER, props: spec }
        : {
              type: LOCAL_COMMAND,
              props: { create: "docker run …", environment: { [CONTAINER_SPEC_ENV]: JSON.stringify(spec), FLEET_SERVICE: "x" } },
          };
}

const OPTS: PolicyResourceOptions = {
    protect: false,
    ignoreChanges: [],
    aliases: [],
    customTimeouts: { createSeconds: 0, updateSeconds: 0, deleteSeconds: 0 },
    additionalSecretOutputs: [],
} as unknown as PolicyResourceOptions;

/** Runs one policy's validateResource on one resource; returns the messages it reported. */
async function validate(policy: ResourceValidationPolicy, type: string, props: Record<string, any>, name = "r"): Promise<string[]> {
    const out: string[] = [];
    const proxied = unknownCheckingProxy(props);
    const args: ResourceValidationArgs = {
        type,
        props: proxied,
        urn: `urn:pulumi:test::ai-fleet::${type}::${name}`,
        name,
        opts: OPTS,
        stackTags: new Map(),
        isType: () => false,
        asType: () => undefined,
        getConfig: <T extends object>() => ({}) as T,
        notApplicable: (reason?: string): never => {
            throw new Error(`notApplicable: ${reason}`);
        },
    };
    const validations =
        policy.validateResource === undefined
            ? []
            : Array.isArray(policy.validateResource)
              ? policy.validateResource
              : [policy.validateResource];
    for (const v of validations) {
        await v(args, (m?: string) => {
            out.push(m ?? "(no message)");
        });
    }
    return out;
}

/** Every policy's messages for one resource, by policy name (policies that reported nothing left out). */
async function verdicts(type: string, props: Record<string, any>): Promise<Record<string, string[]>> {
    const result: Record<string, string[]> = {};
    for (const p of policies()) {
        const messages = await validate(p, type, props);
        if (messages.length > 0) {
            result[p.name] = messages;
        }
    }
    return result;
}

describe("policy pack: the container shape both runtimes share", () => {
    it("normalises a docker Container and a FLEET_CONTAINER_SPEC Command of the same spec to the same container", () => {
        const spec = fleetSpec();
        const fields = (type: string, props: Record<string, any>) => {
            const c = normaliseContainer(type, props);
            expect(c, type).to.not.equal(undefined);
            const { source, ...rest } = { ...c! };
            expect(source).to.equal(type);
            return rest;
        };
        const docker = fields(DOCKER_CONTAINER, resourceOf("docker", spec).props);
        const command = fields(LOCAL_COMMAND, resourceOf("command", spec).props);
        expect(command).to.deep.equal(docker);
        expect(docker).to.deep.include({
            name: "ai-mainpc-model-ops-coordinator",
            image: IMAGE,
            user: "10001:10001",
            readOnlyRoot: true,
            securityOpts: ["no-new-privileges:true"],
            capabilities: { adds: [], drops: ["ALL"] },
            privileged: false,
            logDriver: "json-file",
            requestsGpu: true,
            optOuts: [],
        });
        expect(docker.env).to.include({ OMP_NUM_THREADS: "16", SERVICE_NAME: "ModelOpsCoordinator" });
        expect(docker.labels).to.include({ "ai-fleet.machine": "mainpc", "ai-fleet.service": "ModelOpsCoordinator" });
    });

    it("ignores other resources, and a Command that carries no FLEET_CONTAINER_SPEC", async () => {
        expect(normaliseContainer(LOCAL_COMMAND, { create: "node probes/health-probe.js", environment: { FLEET_SERVICE: "x" } })).to.equal(
            undefined,
        );
        expect(normaliseContainer(LOCAL_COMMAND, { create: "true" })).to.equal(undefined);
        expect(normaliseContainer("docker-build:index:Image", { tags: ["x"] })).to.equal(undefined);
        expect(await verdicts(LOCAL_COMMAND, { create: "docker ps", environment: { FLEET_HEALTH_URL: "http://x" } })).to.deep.equal({});
    });

    it("takes labels as docker's [{label, value}] list or as a map, and KEY=VALUE envs", () => {
        const c = normaliseContainer(
            LOCAL_COMMAND,
            resourceOf("command", { image: IMAGE, labels: { a: "1" }, envs: ["A=1=2", "B="] }).props,
        )!;
        expect(c.labels).to.deep.equal({ a: "1" });
        expect(c.env).to.deep.equal({ A: "1=2", B: "" });
    });

    it("says which FLEET_CONTAINER_SPEC is broken instead of passing it", async () => {
        const [pinned] = policies().filter((p) => p.name === "image-pinned-by-digest");
        let error = "";
        try {
            await validate(pinned, LOCAL_COMMAND, { environment: { [CONTAINER_SPEC_ENV]: "{not json" } });
        } catch (e) {
            error = String(e);
        }
        expect(error).to.include("FLEET_CONTAINER_SPEC is not JSON");
    });

    it("during preview, an unknown image stops only the digest policy (as the SDK's UnknownValueError), not the others", async () => {
        const spec = { ...fleetSpec(), image: UNKNOWN_STRING };
        for (const p of policies()) {
            let error: unknown;
            try {
                await validate(p, DOCKER_CONTAINER, spec);
            } catch (e) {
                error = e;
            }
            if (p.name === "image-pinned-by-digest") {
                expect(error, p.name).to.be.instanceOf(UnknownValueError);
            } else {
                expect(error, p.name).to.equal(undefined);
            }
        }
    });
});

describe("policy pack: the policies on resource inputs", () => {
    for (const runtime of ["docker", "command"] as Runtime[]) {
        it(`passes the fleet's own hardened containers (${runtime} runtime): every mainpc and local service`, async () => {
            for (const [machine, services] of [
                ["mainpc", ["ModelOpsCoordinator", "Executor", "Chitchat"]],
                ["local", ["ServiceRegistry", "RealTimeAudioPipeline"]],
            ] as const) {
                for (const service of services) {
                    const { type, props } = resourceOf(runtime, fleetSpec(service, undefined, machine));
                    expect(await verdicts(type, props), `${machine}/${service}`).to.deep.equal({});
                }
            }
        });
    }

    // One violation of each mandatory policy, through both runtimes.
    const mandatory: [string, (s: Spec) => void, string][] = [
        [
            "non-root-user",
            (s) => {
                s.user = "0:0";
            },
            'runs as root (user "0:0")',
        ],
        [
            "non-root-user",
            (s) => {
                delete s.user;
            },
            "no user set, so it runs as the image's user",
        ],
        [
            "non-root-user",
            (s) => {
                s.user = "appuser";
            },
            'user "appuser" is a name, not a UID',
        ],
        [
            "read-only-root",
            (s) => {
                s.readOnly = false;
            },
            "the root filesystem is writable",
        ],
        [
            "no-new-privileges",
            (s) => {
                s.securityOpts = [];
            },
            'securityOpts lack "no-new-privileges:true"',
        ],
        [
            "drop-all-capabilities",
            (s) => {
                delete s.capabilities;
            },
            'capabilities are not all dropped; expected capabilities.drops: ["ALL"]',
        ],
        [
            "drop-all-capabilities",
            (s) => {
                s.capabilities = { drops: ["ALL"], adds: ["NET_ADMIN"] };
            },
            "adds back capabilities NET_ADMIN",
        ],
        [
            "not-privileged",
            (s) => {
                s.privileged = true;
            },
            "runs privileged",
        ],
        [
            "no-host-namespaces",
            (s) => {
                s.networkMode = "host";
            },
            'networkMode "host" shares the host\'s network namespace',
        ],
        [
            "no-host-namespaces",
            (s) => {
                s.pidMode = "host";
            },
            'pidMode "host" shares the host\'s PID namespace',
        ],
        [
            "image-pinned-by-digest",
            (s) => {
                s.image = "ghcr.io/haymayndzultra/ai_system/mainpc/model_ops_coordinator:20250111-656873b3";
            },
            "is not pinned by digest; expected repo@sha256:<digest>",
        ],
        [
            "log-rotation",
            (s) => {
                delete s.logDriver;
                delete s.logOpts;
            },
            "no logDriver, so the daemon's default (json-file without rotation) fills the disk",
        ],
        [
            "log-rotation",
            (s) => {
                s.logOpts = {};
            },
            'logDriver "json-file" without logOpts max-size never rotates',
        ],
        [
            "no-plaintext-secret-env",
            (s) => {
                s.envs = [...s.envs, "HF_TOKEN=hf_abcdef"];
            },
            "HF_TOKEN carries its value in plaintext in the container's environment",
        ],
        [
            "no-plaintext-secret-env",
            (s) => {
                s.envs = [...s.envs, "DB_PASSWORD=hunter2"];
            },
            "DB_PASSWORD carries its value in plaintext",
        ],
    ];
    for (const [policy, edit, message] of mandatory) {
        for (const runtime of ["docker", "command"] as Runtime[]) {
            it(`${policy} fails a container that breaks it (${runtime} runtime): ${message}`, async () => {
                const spec = fleetSpec();
                edit(spec);
                const { type, props } = resourceOf(runtime, spec);
                const v = await verdicts(type, props);
                expect(Object.keys(v), JSON.stringify(v)).to.deep.equal([policy]);
                expect(v[policy].join("\n")).to.include(message);
                expect(policies().find((p) => p.name === policy)?.enforcementLevel).to.equal("mandatory");
            });
        }
    }

    it("accepts a secret passed as a file reference, and an image ID as a digest", async () => {
        const spec = fleetSpec();
        spec.envs = [...spec.envs, "HF_TOKEN_FILE=/run/secrets/hf_token", "HF_TOKEN="];
        spec.image = DIGEST; // docker.RemoteImage's imageId, what FleetService gives the docker provider
        expect(await verdicts(DOCKER_CONTAINER, spec)).to.deep.equal({});
    });

    it("advises on a container without a Docker healthcheck", async () => {
        const spec = fleetSpec();
        delete spec.healthcheck;
        const v = await verdicts(DOCKER_CONTAINER, spec);
        expect(v).to.deep.equal({
            "docker-healthcheck": [
                "ai-mainpc-model-ops-coordinator: no Docker healthcheck; expected healthcheck.tests comparing the service's JSON status",
            ],
        });
        expect(policies().find((p) => p.name === "docker-healthcheck")?.enforcementLevel).to.equal("advisory");
    });

    it("advises on a GPU request on a machine whose profile has no GPU (the real profiles/local.json)", async () => {
        const spec = fleetSpec("ServiceRegistry", undefined, "local");
        spec.deviceRequests = [{ driver: "nvidia", deviceIds: ["0"], capabilities: ["gpu"] }];
        const v = await verdicts(LOCAL_COMMAND, resourceOf("command", spec).props);
        expect(v).to.deep.equal({
            "gpu-needs-gpu-machine": [
                'ai-local-service-registry: requests a GPU on machine "local", whose profile has no GPU (profiles/local.json: gpu null); the container would fail to start',
            ],
        });
        expect(profileGpuLookup()("mainpc")).to.equal(true);
        expect(profileGpuLookup()("local")).to.equal(false);
        expect(profileGpuLookup()("pc9")).to.equal(undefined);
    });

    it("reports a config opt-out as a note that names the waived policy, instead of passing silently", async () => {
        const spec = fleetSpec("Executor", (r) => {
            r.services.Executor.hardening = { readOnlyRoot: false };
        });
        expect(spec.labels).to.deep.include({ label: OPT_OUTS_LABEL, value: "readOnlyRoot" });
        const v = await verdicts(LOCAL_COMMAND, resourceOf("command", spec).props);
        expect(v).to.deep.equal({
            "hardening-opt-outs": [
                'ai-mainpc-executor: opts out of hardening "readOnlyRoot" (services.Executor.hardening.readOnlyRoot), waiving mandatory policy read-only-root: the root filesystem is writable; expected readOnly: true with tmpfs for the paths the service writes',
            ],
        });
        expect(policies().find((p) => p.name === "hardening-opt-outs")?.enforcementLevel).to.equal("advisory");
    });

    it("names every opt-out of a service, root included, and only waives the policies opted out of", async () => {
        const spec = fleetSpec("Executor", (r) => {
            r.services.Executor.hardening = { user: "0:0", init: false, noNewPrivileges: false, dropAllCapabilities: false };
        });
        spec.privileged = true;
        const v = await verdicts(DOCKER_CONTAINER, spec);
        expect(Object.keys(v).sort()).to.deep.equal(["hardening-opt-outs", "not-privileged"]);
        expect(v["hardening-opt-outs"].map((m) => m.split('"')[1])).to.deep.equal([
            "user",
            "init",
            "noNewPrivileges",
            "dropAllCapabilities",
        ]);
    });

    it("reads a UID from docker's user forms", () => {
        expect([uidOf("10001:10001"), uidOf("0"), uidOf("root"), uidOf("0:10001")]).to.deep.equal([10001, 0, undefined, 0]);
    });
});

describe("policy pack: Kubernetes workloads (the cluster target's Deployments, and any other)", () => {
    const settings = { nodeLabel: "ai-fleet.io/machine", pullSecret: "pull", maxSurge: 0, maxUnavailable: 1, progressDeadlineSeconds: 300 };
    const deploymentOf = (service: string, machine = "mainpc"): Record<string, any> => ({
        metadata: { name: service.toLowerCase() },
        spec: JSON.parse(JSON.stringify(deploymentSpec(containerSpecFor(fleetConfig(machine), service), IMAGE, "passed", settings))),
    });

    it("passes the Deployments the cluster target makes of the fleet's own services", async () => {
        for (const service of ["ModelOpsCoordinator", "Executor", "Chitchat"]) {
            expect(await verdicts(K8S_DEPLOYMENT, deploymentOf(service)), service).to.deep.equal({});
        }
    });

    it("fails a Deployment that runs as root, with a writable root, privilege escalation, a tag, and no readiness probe", async () => {
        const d = deploymentOf("ModelOpsCoordinator");
        const c = d.spec.template.spec.containers[0];
        d.spec.template.spec.securityContext = {};
        c.securityContext = { runAsUser: 0, readOnlyRootFilesystem: false, allowPrivilegeEscalation: true };
        c.image = "ghcr.io/x/y:latest";
        delete c.readinessProbe;
        const v = await verdicts(K8S_DEPLOYMENT, d);
        expect(Object.keys(v)).to.include.members([
            "non-root-user",
            "read-only-root",
            "no-new-privileges",
            "drop-all-capabilities",
            "image-pinned-by-digest",
            "docker-healthcheck",
        ]);
        expect(v["image-pinned-by-digest"][0]).to.include('"ghcr.io/x/y:latest" is not pinned by digest');
    });

    it("judges a FleetService's own Deployment on its image alone (its spec is judged on the FleetService)", () => {
        const parent = "urn:pulumi:mainpc::ai-fleet::ai-fleet:fleet:FleetService::ModelOpsCoordinator";
        const c = normaliseContainer(K8S_DEPLOYMENT, deploymentOf("ModelOpsCoordinator"), "ModelOpsCoordinator-container", parent);
        expect(c?.imageOnly).to.equal(true);
        expect(c?.image).to.equal(IMAGE);
        expect(c?.user).to.equal("10001:10001");
        expect(c?.requestsGpu).to.equal(true);
    });

    it("judges a fleet stack's Deployments the same way: their FleetService is named <machine>/<Service>", () => {
        const parent = "urn:pulumi:fleet::ai-fleet::ai-fleet:fleet:FleetService::mainpc/ModelOpsCoordinator";
        const c = normaliseContainer(K8S_DEPLOYMENT, deploymentOf("ModelOpsCoordinator"), "mainpc/ModelOpsCoordinator-container", parent);
        expect(c?.imageOnly).to.equal(true);
        expect(c?.image).to.equal(IMAGE);
    });
});
