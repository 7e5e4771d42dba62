import { expect } from "chai";
import * as pulumi from "@pulumi/pulumi";
import {
    ConfigError,
    configKeyIsSecret,
    configSecretness,
    engineSecretKeysKnown,
    healthEndpoint,
    parseStackConfig,
    parseStackKey,
    PROGRAM_ENV,
    publishedPorts,
    rawFromConfigMap,
    rawStackConfig,
    StackContext,
} from "../../config";
import { containerSpecFor } from "../../deploy";
import { isSecretEnvName } from "../../common/secretNames";
import { fleetConfig, rawFromStackFile } from "./harness";

const CANARY = ["ModelOpsCoordinator", "RealTimeAudioPipeline", "AffectiveProcessingCenter"];

/** The mainpc stack as the engine names it, with its config as the stack file has it (no secrets). */
const MAINPC: StackContext = { self: "organization/ai-fleet/mainpc", secretness: {} };

/** Parses a copy of a repository stack file after `edit`, returning the ConfigError's issues. */
function issuesOf(stack: string, edit: (raw: any) => void, context: StackContext = MAINPC): string[] {
    const raw = JSON.parse(JSON.stringify(rawFromStackFile(stack)));
    edit(raw);
    try {
        parseStackConfig(raw, undefined, context);
    } catch (e) {
        if (e instanceof ConfigError) {
            return e.issues;
        }
        throw e;
    }
    return [];
}

describe("stack config", () => {
    it("mainpc holds the real MainPC fleet: 44 services, the canary set first", () => {
        const { stack, profile } = fleetConfig("mainpc");
        expect(profile.machine).to.equal("mainpc");
        expect(Object.keys(stack.services)).to.have.length(44);
        expect(stack.rollout.canary).to.deep.equal(CANARY);
        expect(stack.services.ModelOpsCoordinator).to.include({ family: "family-llm-cu121", port: 7212, healthPort: 8212 });
        expect(stack.services.FaceRecognitionAgent).to.include({ family: "family-vision-cu121", port: 5610, healthPort: 6610 });
        expect(stack.services.Chitchat).to.include({ family: "legacy-py310-cpu", port: 5711, healthPort: 6711 });
        expect(stack.families["base-cpu-pydeps"].parent).to.equal("base-utils");
        expect(stack.build.cache).to.deep.equal({ ref: "ghcr.io/haymayndzultra/cache", mode: "max" });
    });

    it("pc2 holds the real PC2 fleet (23 services) and gates on mainpc's canary", () => {
        const { stack, profile } = fleetConfig("pc2");
        expect(profile.env.TORCH_CUDA_ARCH_LIST).to.equal("8.6");
        expect(Object.keys(stack.services)).to.have.length(23);
        expect(stack.services.RealTimeAudioPipelinePC2).to.include({ family: "family-torch-cu121", port: 5557, healthPort: 6557 });
        expect(stack.services.DreamingMode).to.include({ family: "family-vision-cu121", port: 7127, healthPort: 8127 });
        expect(stack.rollout.gateStack).to.equal("organization/ai-fleet/mainpc");
    });

    it("keeps container ports apart from host ports where the fleet's code listens elsewhere", () => {
        const { stack } = fleetConfig("mainpc");
        expect(publishedPorts(stack.services.ModelOpsCoordinator)).to.deep.equal([
            { container: 7211, host: 7212, protocol: "tcp" },
            { container: 7212, host: 8212, protocol: "tcp" },
            { container: 8008, host: 8213, protocol: "tcp" },
        ]);
        expect(healthEndpoint(stack.services.ModelOpsCoordinator)).to.deep.equal({ hostPort: 8213, containerPort: 8008, path: "/health" });
        // RealTimeAudioPipeline's websocket 5802 is DynamicIdentity's host port: it must not be published as 5802.
        expect(publishedPorts(stack.services.RealTimeAudioPipeline).map((p) => p.host)).to.not.include(5802);
        expect(publishedPorts(stack.services.DynamicIdentity).map((p) => p.host)).to.include(5802);
    });

    it("fills defaults in one place: hardening, health path, rollout bounds", () => {
        const { stack } = fleetConfig("mainpc");
        expect(stack.services.Executor.hardening).to.deep.equal({
            user: "10001:10001",
            init: true,
            readOnlyRoot: true,
            tmpfs: ["/tmp"],
            noNewPrivileges: true,
            dropAllCapabilities: true,
        });
        expect(stack.services.Executor.health.path).to.equal("/health");
        expect(stack.phase).to.equal("all");
        expect(stack.rollout.health.timeoutSeconds).to.equal(300);
    });

    it("returns a frozen config", () => {
        const cfg = fleetConfig("mainpc");
        expect(Object.isFrozen(cfg.stack.services.Executor)).to.equal(true);
    });

    it("reads structured values from Pulumi's flat config and leaves secrets out", () => {
        const raw = rawStackConfig({
            "ai-fleet:machine": "pc2",
            "ai-fleet:rollout": '{"canary":["A"]}',
            "ai-fleet:registryPassword": "hunter2",
            "other:key": "x",
        });
        expect(raw).to.deep.equal({ machine: "pc2", rollout: { canary: ["A"] } });
    });

    // The table of broken stack files: each edit of the real mainpc file, and what the operator reads
    // (with the stack's context where the class needs it: which stack this is, which keys are secret).
    const DIGEST = "sha256:" + "ab".repeat(32);
    const broken: [string, (raw: any) => void, string, StackContext?][] = [
        [
            "a misspelt top-level key",
            (r) => {
                r.servces = {};
            },
            'ai-fleet:<root>: Unrecognized key: "servces"',
        ],
        [
            "a port given as a string",
            (r) => {
                r.services.Executor.port = "5606";
            },
            "ai-fleet:services.Executor.port: Invalid input: expected number, received string",
        ],
        [
            "a port out of range",
            (r) => {
                r.services.Executor.port = 70000;
            },
            "ai-fleet:services.Executor.port: Too big: expected number to be <=65535",
        ],
        [
            "an unknown key in a service",
            (r) => {
                r.services.Executor.replicas = 2;
            },
            'ai-fleet:services.Executor: Unrecognized key: "replicas"',
        ],
        [
            "a service of an unknown family",
            (r) => {
                r.services.Executor.family = "family-rust";
            },
            'ai-fleet:services.Executor.family: unknown family "family-rust"',
        ],
        [
            "a family cycle",
            (r) => {
                r.families["base-python"] = { parent: "base-cpu-pydeps" };
            },
            "ai-fleet:families.base-cpu-pydeps.parent: family cycle: base-cpu-pydeps → base-utils → base-python → base-cpu-pydeps",
        ],
        [
            "a family with an unknown parent",
            (r) => {
                r.families["family-web"].parent = "base-node";
            },
            'ai-fleet:families.family-web.parent: unknown family "base-node"',
        ],
        [
            "a family with both parent and baseImage",
            (r) => {
                r.families["family-web"].baseImage = "python:3.11-slim";
            },
            "ai-fleet:families.family-web: expected exactly one of 'parent' (another family) or 'baseImage' (an external image)",
        ],
        [
            "a base image with two tags",
            (r) => {
                r.families["base-python"].baseImage = "base-python:3.11-slim:20250111-656873b3";
            },
            "ai-fleet:families.base-python.baseImage: expected an image reference [registry/]repository[:tag][@sha256:digest] with one tag at most",
        ],
        [
            "a canary entry naming no service",
            (r) => {
                r.rollout.canary.push("ModelOpsCoordinatr");
            },
            'ai-fleet:rollout.canary.3: canary entry "ModelOpsCoordinatr" names no service',
        ],
        [
            "two services on one host port (fleet defect 7)",
            (r) => {
                r.services.RealTimeAudioPipeline.ports[2].host = 5802;
                r.services.RealTimeAudioPipeline.health.hostPort = 5802;
            },
            "ai-fleet:services.DynamicIdentity.ports: host port 5802/tcp is already bound by RealTimeAudioPipeline on this machine",
        ],
        [
            "an HTTP health port on another service's port",
            (r) => {
                delete r.services.ProactiveAgent.health;
            },
            "ai-fleet:services.ProactiveAgent.ports: host port 6625/tcp is already bound by ToneDetector on this machine",
        ],
        [
            "a health port nobody publishes",
            (r) => {
                r.services.ModelOpsCoordinator.health.hostPort = 8214;
            },
            "ai-fleet:services.ModelOpsCoordinator.health.hostPort: health host port 8214 is not among the service's published tcp host ports (7212, 8212, 8213)",
        ],
        [
            "a health path without /",
            (r) => {
                r.services.Executor.health = { path: "health" };
            },
            "ai-fleet:services.Executor.health.path: expected a path starting with /",
        ],
        [
            "a Docker host that is no URL",
            (r) => {
                r.docker.host = "mainpc:2375";
            },
            "ai-fleet:docker.host: expected ssh://user@host, unix:///path/to/docker.sock or tcp://host:port",
        ],
        [
            "an unknown machine profile",
            (r) => {
                r.machine = "pc3";
            },
            'ai-fleet:machine: no machine profile "pc3"',
        ],
        [
            "a GPU request on a machine without GPU",
            (r) => {
                r.machine = "local";
            },
            'ai-fleet:services.ModelOpsCoordinator.gpu: machine "local" has no GPU in its profile; set gpu: false',
        ],
        [
            "a cache mode buildx does not know",
            (r) => {
                r.build.cache.mode = "all";
            },
            'ai-fleet:build.cache.mode: Invalid option: expected one of "max"|"min"',
        ],
        [
            "a batch with no gate at all",
            (r) => {
                r.rollout.canary = [];
            },
            "ai-fleet:rollout.canary: no canary and no gateStack: the batch would roll out ungated",
        ],
        [
            "a user that is not UID:GID",
            (r) => {
                r.services.Executor.hardening = { user: "appuser" };
            },
            "ai-fleet:services.Executor.hardening.user: expected UID:GID in numbers, e.g. 10001:10001",
        ],
        [
            "an uppercase image repository",
            (r) => {
                r.services.Executor.image = "Executor";
            },
            "ai-fleet:services.Executor.image: expected a lowercase repository name component",
        ],
        [
            "a deploy image not pinned by digest",
            (r) => {
                r.phase = "deploy";
                r.deploy = { images: { Executor: "ghcr.io/haymayndzultra/ai_system/mainpc/executor:20250111-656873b3" } };
            },
            "ai-fleet:deploy.images.Executor: expected a reference pinned by @sha256:digest",
        ],
        // Paths that leave the build context root.
        [
            "a context that climbs out of the checkout",
            (r) => {
                r.services.Executor.context = "../secrets";
            },
            'ai-fleet:services.Executor.context: "../secrets" leaves build.contextRoot (it resolves to "../secrets")',
        ],
        [
            "a context that climbs out through a subdirectory",
            (r) => {
                r.families["family-web"].context = "docker/../../outside";
            },
            'ai-fleet:families.family-web.context: "docker/../../outside" leaves build.contextRoot (it resolves to "../outside")',
        ],
        [
            "an absolute Dockerfile",
            (r) => {
                r.services.Executor.dockerfile = "/etc/Dockerfile";
            },
            'ai-fleet:services.Executor.dockerfile: expected a path relative to build.contextRoot, got the absolute path "/etc/Dockerfile"',
        ],
        [
            "a Dockerfile that names a directory",
            (r) => {
                r.services.Executor.dockerfile = "executor/";
            },
            'ai-fleet:services.Executor.dockerfile: "executor/" names a directory; expected the path of a Dockerfile, e.g. "executor/Dockerfile"',
        ],
        // Health-check bounds that contradict each other.
        [
            "a health timeout shorter than one interval",
            (r) => {
                r.rollout.health = { timeoutSeconds: 3, intervalSeconds: 5, retries: 60, requestTimeoutSeconds: 2 };
            },
            "ai-fleet:rollout.health.timeoutSeconds: timeoutSeconds (3) is shorter than one intervalSeconds (5)",
        ],
        [
            "a request timeout longer than the whole timeout",
            (r) => {
                r.rollout.health = { timeoutSeconds: 10, intervalSeconds: 1, retries: 10, requestTimeoutSeconds: 30 };
            },
            "ai-fleet:rollout.health.requestTimeoutSeconds: requestTimeoutSeconds (30) is longer than the whole timeoutSeconds (10)",
        ],
        [
            "retries that run out long before the timeout",
            (r) => {
                r.rollout.health = { timeoutSeconds: 300, intervalSeconds: 5, retries: 10, requestTimeoutSeconds: 5 };
            },
            "ai-fleet:rollout.health.retries: 10 retries every 5s (requests of up to 5s) give up after at most 95s, before timeoutSeconds (300s) can matter; expected retries >= 31 or timeoutSeconds <= 95",
        ],
        // Gate and image references that cannot work.
        [
            "a gate on this very stack",
            (r) => {
                r.rollout.gateStack = "organization/ai-fleet/mainpc";
            },
            'ai-fleet:rollout.gateStack: "organization/ai-fleet/mainpc" is this stack: its batch would wait on its own canary report',
        ],
        [
            "deploying the images of this very stack",
            (r) => {
                r.phase = "deploy";
                r.deploy = { imagesFromStack: "organization/ai-fleet/mainpc" };
            },
            'ai-fleet:deploy.imagesFromStack: "organization/ai-fleet/mainpc" is this stack',
        ],
        // Deploy entries that name nothing the stack has.
        [
            "a deploy image for no service or family",
            (r) => {
                r.phase = "deploy";
                r.deploy = { images: { Executr: `ghcr.io/haymayndzultra/ai_system/mainpc/executor@${DIGEST}` } };
            },
            'ai-fleet:deploy.images.Executr: "Executr" names no service or family of this stack',
        ],
        // Addresses that are not addresses.
        [
            "a bind address that is a host name",
            (r) => {
                r.docker.bindAddress = "mainpc";
            },
            'ai-fleet:docker.bindAddress: "mainpc" is not an IP address; expected an IPv4 or IPv6 address',
        ],
        [
            "a bind address with an extra octet",
            (r) => {
                r.docker.bindAddress = "192.168.1.20.5";
            },
            'ai-fleet:docker.bindAddress: "192.168.1.20.5" is not an IP address',
        ],
        [
            "an IPv6 bind address in brackets",
            (r) => {
                r.docker.bindAddress = "[::1]";
            },
            'ai-fleet:docker.bindAddress: "[::1]": expected an IP address without brackets, e.g. "::1"',
        ],
        [
            "a health host given as a URL",
            (r) => {
                r.docker.healthHost = "http://mainpc:8080";
            },
            'ai-fleet:docker.healthHost: "http://mainpc:8080" is not a host name or IP address',
        ],
        // More classes found by editing the real mainpc file and running it through the program.
        [
            "a build cache on a registry the builds cannot log in to",
            (r) => {
                r.build.cache.ref = "docker.io/haymayndzultra/cache";
            },
            'ai-fleet:build.cache.ref: the cache "docker.io/haymayndzultra/cache" is on docker.io, but the builds only have credentials for registry.host (ghcr.io)',
        ],
        [
            "plain HTTP to a registry that is not on loopback",
            (r) => {
                r.registry.insecure = true;
            },
            "ai-fleet:registry.insecure: plain HTTP is for a loopback registry only, and ghcr.io is not one",
        ],
        [
            "a build arg the machine profile sets",
            (r) => {
                r.services.Executor.buildArgs = { MACHINE: "pc2" };
            },
            "ai-fleet:services.Executor.buildArgs.MACHINE: MACHINE is set by the program from the machine profile; a value here would be ignored",
        ],
        [
            "a BASE_IMAGE build arg on a family",
            (r) => {
                r.families["family-web"].buildArgs = { BASE_IMAGE: "python:3.12-slim" };
            },
            "ai-fleet:families.family-web.buildArgs.BASE_IMAGE: BASE_IMAGE is set by the program from the family's parent or baseImage",
        ],
        [
            "a password in the Docker host URL",
            (r) => {
                r.docker.host = "ssh://ai:hunter2@mainpc";
            },
            "ai-fleet:docker.host: the ssh URL carries a password in plaintext",
        ],
        [
            "a token in the source URL",
            (r) => {
                r.build.sourceUrl = "https://x-access-token:ghp_abc@github.com/haymayndzultra/ai_system";
            },
            "ai-fleet:build.sourceUrl: the URL carries a password or token in plaintext",
        ],
        [
            "a deploy image on a registry without credentials",
            (r) => {
                r.phase = "deploy";
                r.deploy = { images: { Executor: `docker.io/someone/executor@${DIGEST}` } };
            },
            'ai-fleet:deploy.images.Executor: "docker.io/someone/executor@sha256:abab',
        ],
        [
            "two services whose container names collide",
            (r) => {
                r.services.Tts = { ...r.services.TTS, port: 15801, healthPort: 16901, health: { hostPort: 16902 }, image: "tts_two" };
            },
            "ai-fleet:services.Tts: its container name ai-<machine>-tts is also TTS's; rename one of the services",
        ],
        [
            "a tmpfs over the root filesystem",
            (r) => {
                r.services.Executor.hardening = { tmpfs: ["/tmp", "/"] };
            },
            'ai-fleet:services.Executor.hardening.tmpfs.1: "/" would cover the whole root filesystem',
        ],
        [
            "a tmpfs mounted twice",
            (r) => {
                r.services.Executor.hardening = { tmpfs: ["/tmp", "/tmp/"] };
            },
            'ai-fleet:services.Executor.hardening.tmpfs.1: "/tmp/" is mounted twice',
        ],
        // Secrets given in plaintext.
        [
            "a registry password in plaintext",
            () => undefined,
            "ai-fleet:registryPassword: a secret written in plaintext in the stack file; set it encrypted instead: pulumi config set --secret registryPassword <value>",
            { ...MAINPC, secretness: { registryPassword: false } },
        ],
        [
            "a token in a service's environment in plaintext",
            (r) => {
                r.services.Executor.env = { HF_TOKEN: "hf_abcdef" };
            },
            "ai-fleet:services.Executor.env.HF_TOKEN: HF_TOKEN looks like a secret and is written in plaintext in the stack file; set it encrypted: pulumi config set --secret --path 'services.Executor.env.HF_TOKEN' <value>",
        ],
        // A service's env held to the machine profile's rules (profiles/schema.ts), and off the names the program sets.
        [
            "a thread count that is a word",
            (r) => {
                r.services.Executor.env = { OMP_NUM_THREADS: "lots" };
            },
            'ai-fleet:services.Executor.env.OMP_NUM_THREADS: "lots" overrides the machine profile\'s OMP_NUM_THREADS ("16" in profiles/mainpc.json) and breaks the profile\'s rule: expected a whole number written as a string, e.g. "16"',
        ],
        [
            "a negative worker count",
            (r) => {
                r.services.Executor.env = { UVICORN_WORKERS: "-4" };
            },
            'ai-fleet:services.Executor.env.UVICORN_WORKERS: "-4" overrides the machine profile\'s UVICORN_WORKERS ("32" in profiles/mainpc.json) and breaks the profile\'s rule: expected a whole number',
        ],
        [
            "a percentage over 100",
            (r) => {
                r.services.Executor.env = { MODEL_EVICT_THRESHOLD_PCT: "150" };
            },
            'ai-fleet:services.Executor.env.MODEL_EVICT_THRESHOLD_PCT: "150" overrides the machine profile\'s MODEL_EVICT_THRESHOLD_PCT ("90" in profiles/mainpc.json) and breaks the profile\'s rule: expected a percentage between 0 and 100',
        ],
        [
            "a memory fraction over 1",
            (r) => {
                r.services.Executor.env = { MEMORY_FRACTION: "1.5" };
            },
            'ai-fleet:services.Executor.env.MEMORY_FRACTION: "1.5" overrides the machine profile\'s MEMORY_FRACTION ("0.95" in profiles/mainpc.json) and breaks the profile\'s rule: expected a fraction between 0 and 1',
        ],
        [
            "a CUDA arch list in another form",
            (r) => {
                r.services.Executor.env = { TORCH_CUDA_ARCH_LIST: "sm_89" };
            },
            'ai-fleet:services.Executor.env.TORCH_CUDA_ARCH_LIST: "sm_89" overrides the machine profile\'s TORCH_CUDA_ARCH_LIST ("8.9" in profiles/mainpc.json) and breaks the profile\'s rule: expected CUDA arches separated by \';\', e.g. "8.9" or "8.6;8.9;9.0+PTX"',
        ],
        [
            "an allocator setting that is not key:value pairs",
            (r) => {
                r.services.Executor.env = { TORCH_CUDA_ALLOC_CONF: "64MB" };
            },
            'ai-fleet:services.Executor.env.TORCH_CUDA_ALLOC_CONF: "64MB" overrides the machine profile\'s TORCH_CUDA_ALLOC_CONF ("max_split_size_mb:64" in profiles/mainpc.json) and breaks the profile\'s rule: expected key:value pairs',
        ],
        [
            "GPU devices other than the ones Docker gives the container",
            (r) => {
                r.services.ModelOpsCoordinator.env = { GPU_VISIBLE_DEVICES: "0,1" };
            },
            'ai-fleet:services.ModelOpsCoordinator.env.GPU_VISIBLE_DEVICES: "0,1" overrides the machine profile\'s GPU_VISIBLE_DEVICES ("0" in profiles/mainpc.json) and breaks the profile\'s rule: expected "0" to match gpu.devices',
        ],
        [
            "an env variable the program sets itself",
            (r) => {
                r.services.Executor.env = { MACHINE: "pc2" };
            },
            "ai-fleet:services.Executor.env.MACHINE: MACHINE is set by the program from ai-fleet:machine (the machine profile's name); a service's env cannot override it. Remove it",
        ],
    ];
    for (const [what, edit, message, context] of broken) {
        it(`rejects ${what}`, () => {
            const issues = issuesOf("mainpc", edit, context);
            expect(issues.join("\n")).to.include(message);
        });
    }

    it("accepts each real stack file as it is, knowing which stack it is", () => {
        for (const stack of ["mainpc", "pc2", "local"]) {
            expect(
                issuesOf(stack, () => undefined, { self: `organization/ai-fleet/${stack}`, secretness: {} }),
                stack,
            ).to.deep.equal([]);
        }
    });

    it("calls nothing plaintext when the engine named no secret keys at all", () => {
        expect(
            issuesOf(
                "mainpc",
                (r) => {
                    r.services.Executor.env = { HF_TOKEN: "hf_abcdef" };
                },
                { self: MAINPC.self },
            ),
        ).to.deep.equal([]);
    });

    it("accepts the registry password and a service token once they are secrets", () => {
        const secret = { ...MAINPC, secretness: { registryPassword: true, services: true } };
        expect(
            issuesOf(
                "mainpc",
                (r) => {
                    r.services.Executor.env = { HF_TOKEN: "hf_abcdef" };
                },
                secret,
            ),
        ).to.deep.equal([]);
    });

    it("accepts a secret's file reference and names that only look alike", () => {
        expect(
            issuesOf("mainpc", (r) => {
                r.services.Executor.env = {
                    HF_TOKEN_FILE: "/run/secrets/hf_token",
                    AWS_ACCESS_KEY_ID: "AKIA",
                    KEYBOARD: "us",
                    TOKENIZERS_PARALLELISM: "false",
                };
            }),
        ).to.deep.equal([]);
        expect(
            ["HF_TOKEN", "DB_PASSWORD", "CLIENT_SECRET", "OPENAI_API_KEY", "signing-key", "REGISTRY_CREDENTIALS"].filter(
                (n) => !isSecretEnvName(n),
            ),
        ).to.deep.equal([]);
        expect(
            ["HF_TOKEN_FILE", "AWS_ACCESS_KEY_ID", "KEYBOARD_LAYOUT", "TOKENIZERS_PARALLELISM", "SECRET_PATH", "OMP_NUM_THREADS"].filter(
                isSecretEnvName,
            ),
        ).to.deep.equal([]);
    });

    it("holds each name the program sets in a container against env, saying where its value comes from", () => {
        const issues = issuesOf("mainpc", (r) => {
            r.services.Executor.env = {
                MACHINE: "pc2",
                SERVICE_NAME: "Planner",
                TINI_SUBREAPER: "0",
                FLEET_DEPENDENCIES: "X=http://x:1/health",
            };
        });
        expect(issues).to.deep.equal([
            "ai-fleet:services.Executor.env.MACHINE: MACHINE is set by the program from ai-fleet:machine (the machine profile's name); a service's env cannot override it. Remove it",
            "ai-fleet:services.Executor.env.SERVICE_NAME: SERVICE_NAME is set by the program from the service's name (services.Executor); a service's env cannot override it. Remove it",
            "ai-fleet:services.Executor.env.TINI_SUBREAPER: TINI_SUBREAPER is set by the program to \"1\" in every container, for tini (the container's init); a service's env cannot override it. Remove it",
            "ai-fleet:services.Executor.env.FLEET_DEPENDENCIES: FLEET_DEPENDENCIES is set by the program from services.Executor.dependsOn (its dependencies' health URLs, when rollout.exposeDependencies is true); a service's env cannot override it. Remove it",
        ]);
    });

    it("refuses exactly the names the program puts in a container's environment beyond the profile's", () => {
        // Every variable containerSpecFor sets without the service's env and outside the profile's
        // keys is the program's own; the check must know each of them (a new one added there fails here).
        const cfg = fleetConfig("mainpc", (r) => {
            r.rollout.exposeDependencies = true;
        });
        const programSet = Object.keys(containerSpecFor(cfg, "ModelOpsCoordinator").env).filter((k) => !Object.hasOwn(cfg.profile.env, k));
        expect(programSet.sort()).to.deep.equal(Object.keys(PROGRAM_ENV).sort());
    });

    it("lets env override the profile with values its schema accepts, and set names of its own", () => {
        const cfg = fleetConfig("mainpc", (r) => {
            r.services.Executor.env = {
                OMP_NUM_THREADS: "4",
                UVICORN_WORKERS: "2",
                TORCH_CUDA_ARCH_LIST: "8.6;8.9;9.0+PTX",
                TORCH_CUDA_ALLOC_CONF: "max_split_size_mb:128,expandable_segments:True",
                MEMORY_FRACTION: "0.5",
                MODEL_EVICT_THRESHOLD_PCT: "80",
                GPU_VISIBLE_DEVICES: "0",
                LOG_LEVEL: "debug",
            };
        });
        expect(containerSpecFor(cfg, "Executor").env).to.include({
            MACHINE: "mainpc",
            SERVICE_NAME: "Executor",
            OMP_NUM_THREADS: "4",
            UVICORN_WORKERS: "2",
            TORCH_CUDA_ARCH_LIST: "8.6;8.9;9.0+PTX",
            MEMORY_FRACTION: "0.5",
            LOG_LEVEL: "debug",
        });
    });

    it("reports every bad override of every service at once, with the rest of the stack's problems", () => {
        const issues = issuesOf("mainpc", (r) => {
            r.services.Executor.env = { OMP_NUM_THREADS: "lots", MEMORY_FRACTION: "2", SERVICE_NAME: "x" };
            r.services.TTS.env = { TORCH_CUDA_ARCH_LIST: "ada" };
            r.services.Executor.port = "5606";
        });
        expect(issues.map((i) => i.split(": ")[0]).sort()).to.deep.equal([
            "ai-fleet:services.Executor.env.MEMORY_FRACTION",
            "ai-fleet:services.Executor.env.OMP_NUM_THREADS",
            "ai-fleet:services.Executor.env.SERVICE_NAME",
            "ai-fleet:services.Executor.port",
            "ai-fleet:services.TTS.env.TORCH_CUDA_ARCH_LIST",
        ]);
    });

    it("still names the program's variables in env when the machine has no profile", () => {
        const issues = issuesOf("mainpc", (r) => {
            r.machine = "pc3";
            r.services.Executor.env = { MACHINE: "pc3", OMP_NUM_THREADS: "lots" };
        });
        expect(issues.map((i) => i.split(": ")[0])).to.deep.equal(["ai-fleet:machine", "ai-fleet:services.Executor.env.MACHINE"]);
    });

    it("reads which keys are secret the way the engine hands them to the program (PULUMI_CONFIG_SECRET_KEYS)", () => {
        // The SDK's store, as the language host fills it: config plus the engine's list of secret keys.
        const saved = pulumi.runtime.allConfig();
        try {
            pulumi.runtime.setAllConfig(
                { "ai-fleet:registryPassword": "hunter2", "ai-fleet:services": "{}", "ai-fleet:machine": "mainpc" },
                ["ai-fleet:services"],
            );
            expect(configSecretness(pulumi.runtime.allConfig(), configKeyIsSecret)).to.deep.equal({
                registryPassword: false,
                services: true,
                machine: false,
            });
            pulumi.runtime.setAllConfig({ "ai-fleet:registryPassword": "hunter2" }, ["ai-fleet:registryPassword"]);
            expect(configSecretness(pulumi.runtime.allConfig(), configKeyIsSecret)).to.deep.equal({ registryPassword: true });
            expect(engineSecretKeysKnown()).to.equal(true);
        } finally {
            pulumi.runtime.setAllConfig(saved);
        }
    });

    it("is a RunError, so the engine prints the problems without a JavaScript stack", () => {
        const e = new ConfigError(["ai-fleet:machine: x"]);
        expect(pulumi.RunError.isInstance(e)).to.equal(true);
        expect(e).to.be.instanceOf(ConfigError);
        expect(e.issues).to.deep.equal(["ai-fleet:machine: x"]);
    });

    it("reports every problem of a stack file at once, before any resource exists", () => {
        const issues = issuesOf("mainpc", (r) => {
            r.services.Executor.port = "5606";
            r.rollout.canary.push("Nobody");
            r.families["base-python"].baseImage = "a:b:c";
        });
        expect(issues.map((i) => i.split(": ")[0]).sort()).to.deep.equal([
            "ai-fleet:families.base-python.baseImage",
            "ai-fleet:rollout.canary.3",
            "ai-fleet:services.Executor.port",
        ]);
    });

    it("says how many problems there are and lists each on its own line", () => {
        try {
            parseStackConfig({ machine: "mainpc" });
            expect.fail("parsed a config without docker, registry, build, families or services");
        } catch (e) {
            expect(e).to.be.instanceOf(ConfigError);
            const msg = (e as Error).message;
            expect(msg).to.match(/^invalid stack config \(5 problems\):/);
            for (const key of ["docker", "registry", "build", "families", "services"]) {
                expect(msg).to.match(new RegExp(`\n  - ai-fleet:${key}: Invalid input: expected (object|record), received undefined`));
            }
        }
    });
});

describe("one key for a command (cli/rollout.ts, cli/status.ts)", () => {
    it("reads a key from getAllConfig's map through the program's schema, with its defaults", () => {
        const raw = rawFromConfigMap({
            "ai-fleet:docker": { value: JSON.stringify({ host: "ssh://ops@mainpc" }), secret: false },
            "ai-fleet:registryPassword": { value: "hunter2", secret: true },
            "other:key": { value: "x", secret: false },
        });
        expect(raw).to.deep.equal({ docker: { host: "ssh://ops@mainpc" } });
        expect(parseStackKey(raw, "docker")).to.deep.equal({
            host: "ssh://ops@mainpc",
            bindAddress: "0.0.0.0",
            sshOpts: [],
            runtime: "provider",
        });
    });

    it("names the key's problems with their key paths, as the program does", () => {
        const raw = rawFromConfigMap({ "ai-fleet:docker": { value: JSON.stringify({ host: "mainpc", runtime: "podman" }) } });
        expect(() => parseStackKey(raw, "docker"))
            .to.throw(ConfigError)
            .with.property("issues")
            .that.deep.equals([
                "ai-fleet:docker.host: expected ssh://user@host, unix:///path/to/docker.sock or tcp://host:port",
                'ai-fleet:docker.runtime: Invalid option: expected one of "provider"|"cli"',
            ]);
    });
});
