/**
 * Dependency order under Pulumi mocks (see harness.ts: no engine, no provider, no Docker), on the
 * real mainpc and pc2 stack files: when one service's health check fails, nothing that depends on
 * it (directly, or through the canary gate) gets a container, and everything else rolls out.
 */
import { expect } from "chai";
import * as pulumi from "@pulumi/pulumi";
import { deploy, FleetOutputs } from "../../deploy";
import { dependencyClosure, dependents } from "../../graph";
import { resolveTag } from "../../naming";
import { fleetConfig, ofType, resetWorld, scenario, settle, T, unwrapSecret, valueOf } from "./harness";
import { mainpcOutputs, TAG } from "./rolloutRun";

function run(stack: string, edit?: (raw: any) => void): FleetOutputs {
    return deploy({
        config: fleetConfig(stack, edit),
        release: resolveTag({ forced: TAG }),
        registryPassword: pulumi.secret("unit-test-password"),
    });
}

/** Awaits the outputs; returns the first error (outputs behind a failed resource never resolve). */
async function finish(out: FleetOutputs): Promise<unknown> {
    let error: unknown;
    try {
        await Promise.all([valueOf(out.canaryReport), valueOf(out.gate), valueOf(out.report)]);
    } catch (e) {
        error = e;
    }
    await settle();
    return error;
}

/** Services that got a container, by config name. */
function rolledOut(stack: string): string[] {
    const byContainer = new Map(Object.keys(fleetConfig(stack).stack.services).map((s) => [`${s}-container`, s]));
    return ofType(T.container)
        .map((c) => byContainer.get(c.name) as string)
        .sort();
}

/** What waits for `name` in the stack file as written: its dependents, and behind a canary everything the canary gates. */
function heldBack(stack: string, name: string): Set<string> {
    const { services, rollout } = fleetConfig(stack).stack;
    const edges = Object.fromEntries(Object.entries(services).map(([n, s]) => [n, s.dependsOn.filter((d) => services[d] !== undefined)]));
    const needed = dependencyClosure(edges, rollout.canary);
    for (const n of Object.keys(services)) {
        if (!rollout.canary.includes(n) && !needed.has(n)) {
            edges[n] = [...edges[n], ...rollout.canary];
        }
    }
    return dependents(edges, name);
}

describe("dependency order under mocks (real stack files)", function () {
    this.timeout(120000);
    beforeEach(resetWorld);

    const cases: { stack: string; fails: string; containers: number; also?: string[] }[] = [
        // 40 services depend on SystemDigitalTwin, and the canary needs it: only what it does not need remains.
        {
            stack: "mainpc",
            fails: "SystemDigitalTwin",
            containers: 4,
            also: ["MemoryFusionHub", "ServiceRegistry", "SystemDigitalTwin", "UnifiedObservabilityCenter"],
        },
        // The canary needs MemoryFusionHub (AffectiveProcessingCenter), so the gated 37 wait too.
        { stack: "mainpc", fails: "MemoryFusionHub", containers: 6 },
        // A gated service: its six dependents stay back, the other 37 roll out.
        { stack: "mainpc", fails: "EmotionEngine", containers: 38 },
        { stack: "mainpc", fails: "ChainOfThought", containers: 43 },
        { stack: "pc2", fails: "ResourceManager", containers: 18 },
    ];
    for (const c of cases) {
        it(`${c.stack}: a failed check of ${c.fails} holds back exactly what depends on it (${c.containers} containers)`, async () => {
            if (c.stack === "pc2") {
                scenario.stackOutputs["organization/ai-fleet/mainpc"] = mainpcOutputs(TAG, { healthy: true });
            }
            scenario.failHealth.add(c.fails);
            const error = await finish(run(c.stack));
            expect(String(error)).to.include(`health check failed: service ${c.fails}`);
            const got = rolledOut(c.stack);
            const blocked = heldBack(c.stack, c.fails);
            expect(
                [...blocked].filter((b) => got.includes(b)),
                "dependents that got a container",
            ).to.deep.equal([]);
            expect(got).to.have.members(Object.keys(fleetConfig(c.stack).stack.services).filter((s) => !blocked.has(s)));
            expect(got).to.have.length(c.containers);
            if (c.also) {
                expect(got).to.deep.equal(c.also);
            }
        });
    }

    it("mainpc: an optional service's failed check warns, holds nothing back and leaves the stack healthy", async () => {
        scenario.failHealth.add("CognitiveModel");
        const out = run("mainpc");
        expect(await finish(out)).to.equal(undefined);
        expect(rolledOut("mainpc")).to.have.length(44);
        const report = await valueOf(out.report);
        expect(report?.healthy).to.equal(true);
        expect(report?.services.CognitiveModel).to.include({ healthy: false, required: false });
    });

    it("passes each container its dependencies' health URLs on the stack network as FLEET_DEPENDENCIES, when rollout.exposeDependencies", async () => {
        expect(
            await finish(
                run("mainpc", (raw) => {
                    raw.rollout.exposeDependencies = true;
                }),
            ),
        ).to.equal(undefined);
        const moc = ofType(T.container).find((c) => c.name === "ModelOpsCoordinator-container");
        expect(moc?.inputs.envs).to.include(
            "FLEET_DEPENDENCIES=SystemDigitalTwin=http://ai-mainpc-system-digital-twin:8221/health,UnifiedObservabilityCenter=http://ai-mainpc-unified-observability-center:9111/health",
        );
        const registry = ofType(T.container).find((c) => c.name === "ServiceRegistry-container");
        expect(registry?.inputs.envs.some((e: string) => e.startsWith("FLEET_DEPENDENCIES="))).to.equal(false);
    });

    it("passes no FLEET_DEPENDENCIES by default, so a change of dependsOn changes no container", async () => {
        expect(await finish(run("mainpc"))).to.equal(undefined);
        expect(ofType(T.container).every((c) => !c.inputs.envs.some((e: string) => e.startsWith("FLEET_DEPENDENCIES=")))).to.equal(true);
    });
});

describe("container environments when the services config is a secret", function () {
    this.timeout(120000);
    before(resetWorld);

    it("keeps every container's environment secret in its inputs (so in state), for both runtimes", async () => {
        const config = { ...fleetConfig("pc2"), secretServices: true };
        scenario.stackOutputs["organization/ai-fleet/mainpc"] = mainpcOutputs(TAG, { healthy: true });
        await finish(deploy({ config, release: resolveTag({ forced: TAG }), registryPassword: pulumi.secret("p") }));
        const containers = ofType(T.container);
        expect(containers).to.have.length(23);
        for (const c of containers) {
            expect(JSON.stringify(c.inputs.envs), c.name).to.include("4dabf18193072939515e22adb298388d");
        }
        resetWorld();
        scenario.stackOutputs["organization/ai-fleet/mainpc"] = mainpcOutputs(TAG, { healthy: true });
        const cli = {
            ...fleetConfig("pc2", (raw) => {
                raw.docker.runtime = "cli";
            }),
            secretServices: true,
        };
        await finish(deploy({ config: cli, release: resolveTag({ forced: TAG }), registryPassword: pulumi.secret("p") }));
        const commands = ofType(T.command).filter((c) => c.name.endsWith("-container"));
        expect(commands).to.have.length(23);
        for (const c of commands) {
            expect(c.inputs.environment, c.name).to.have.property("4dabf18193072939515e22adb298388d");
        }
    });
});

describe("the cli container runtime under mocks", function () {
    this.timeout(120000);
    before(resetWorld);

    it("starts each container with `docker run` through a command carrying the same hardened settings, the password only on stdin", async () => {
        const out = run("mainpc", (raw) => {
            raw.docker.runtime = "cli";
        });
        expect(await finish(out)).to.equal(undefined);
        expect(ofType(T.container).length + ofType(T.provider).length + ofType(T.remoteImage).length).to.equal(0);
        const cmd = ofType(T.command).find((c) => c.name === "Executor-container");
        expect(cmd?.inputs.create).to.equal("node probes/container.js up");
        expect(cmd?.inputs.delete).to.equal("node probes/container.js down");
        const env = unwrapSecret(cmd?.inputs.environment) as Record<string, string>;
        const flags = JSON.parse(env.FLEET_DOCKER_RUN) as string[];
        expect(flags.join(" ")).to.include(
            "--user 10001:10001 --init --read-only --tmpfs /tmp:rw,noexec,nosuid,size=64m --security-opt no-new-privileges:true --cap-drop ALL --restart unless-stopped",
        );
        expect(flags.join(" "))
            .to.include("--publish 0.0.0.0:5606:5606/tcp")
            .and.include("--log-opt max-size=10m")
            .and.include("--label ai-fleet.gate=passed");
        expect(env.FLEET_IMAGE).to.match(/^ghcr\.io\/haymayndzultra\/ai_system\/mainpc\/executor@sha256:[a-f0-9]{64}$/);
        expect(JSON.parse(env.FLEET_CONTAINER_SPEC)).to.include({ user: "10001:10001", readOnly: true, image: env.FLEET_IMAGE });
        expect(JSON.stringify(cmd?.inputs.environment)).to.not.include("unit-test-password");
        expect(JSON.stringify(cmd?.inputs.stdin)).to.include("4dabf18193072939515e22adb298388d").and.include("unit-test-password");
    });
});

describe("the cluster target under mocks (ai-fleet:kubernetes on the mainpc stack file)", function () {
    this.timeout(120000);
    beforeEach(resetWorld);
    const k8s = (raw: any) => (raw.kubernetes = { namespace: "fleet" });
    const deployments = (): string[] =>
        ofType("kubernetes:apps/v1:Deployment")
            .map((d) => d.name.replace(/-container$/, ""))
            .sort();

    it("gives every service a Deployment and a Service in the stack's namespace, and no Docker container", async () => {
        const error = await finish(run("mainpc", k8s));
        expect(error).to.equal(undefined);
        const names = Object.keys(fleetConfig("mainpc").stack.services).sort();
        expect(deployments()).to.deep.equal(names);
        expect(ofType("kubernetes:core/v1:Service").length).to.equal(names.length);
        expect(ofType(T.container).length).to.equal(0);
        expect(ofType("kubernetes:core/v1:Namespace").map((n) => n.inputs.metadata.name)).to.deep.equal(["fleet"]);
        const pull = ofType("kubernetes:core/v1:Secret").find((s) => s.name === "mainpc-registry");
        expect(pull?.inputs.type).to.equal("kubernetes.io/dockerconfigjson");
        const d = ofType("kubernetes:apps/v1:Deployment").find((x) => x.name === "ModelOpsCoordinator-container");
        expect(d?.inputs.metadata.namespace).to.equal("fleet");
        expect(d?.inputs.spec.template.spec.nodeSelector).to.deep.equal({ "ai-fleet.io/machine": "mainpc" });
        expect(d?.inputs.spec.template.spec.containers[0].image).to.match(/@sha256:[a-f0-9]{64}$/);
    });

    it("a failed check of a canary dependency holds back the same workloads as containers on Docker", async () => {
        scenario.failHealth.add("MemoryFusionHub");
        const error = await finish(run("mainpc", k8s));
        expect(String(error)).to.not.equal("undefined");
        expect(deployments().length).to.equal(6);
        expect(deployments()).to.not.include.members([...heldBack("mainpc", "MemoryFusionHub")]);
    });
});
