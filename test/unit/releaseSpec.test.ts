/**
 * What a release records of each service (its whole spec: container settings and health probe)
 * and how a rollback's override puts it back, under Pulumi mocks (harness.ts: no engine, no
 * Docker): the release output, its secrets, the restored containers of both runtimes, the
 * `specSource` output naming what differs from the stack file, and the lines the commands print.
 */
import { expect } from "chai";
import * as pulumi from "@pulumi/pulumi";
import { differenceLine, lastRelease, restoreLines, specSourceLines } from "../../cli/decide";
import { envList } from "../../components";
import { parseStackConfig } from "../../config";
import { containerSpecFor, deploy, FleetOutputs, ServiceSpec } from "../../deploy";
import { resolveTag } from "../../naming";
import { applyOverrides, parseOverrides, RELEASE_ENV, ReleaseExport, releaseOutput } from "../../release";
import { isSecret, ofType, rawFromStackFile, Registered, resetWorld, settle, T, unwrapSecret, valueOf } from "./harness";

const TAG = "20250111-656873b3";
const PASSWORD = "local-unit-test-password-never-in-outputs";
const SERVICES = [
    "AffectiveProcessingCenter",
    "CodeGenerator",
    "ModelOpsCoordinator",
    "RealTimeAudioPipeline",
    "ServiceRegistry",
    "SystemDigitalTwin",
];

type Raw = Record<string, any>;
type Runtime = "provider" | "cli";

/** The local stack file's raw keys, edited. */
function raw(edit?: (r: Raw) => void, runtime: Runtime = "provider"): Raw {
    const r = JSON.parse(JSON.stringify(rawFromStackFile("local"))) as Raw;
    r.docker = { ...r.docker, runtime };
    edit?.(r);
    return r;
}

/** The bad change of the tests: CodeGenerator's env FOO=2 (the release has FOO=1) and its read-only root turned off. */
function badChange(r: Raw): void {
    r.services.CodeGenerator.env = { FOO: "2" };
    r.services.CodeGenerator.hardening = { readOnlyRoot: false };
}

function goodRelease(r: Raw): void {
    r.services.CodeGenerator.env = { FOO: "1" };
}

/** Runs the program as index.ts does: overrides applied to the raw config, the release's specs handed to deploy. */
function run(r: Raw, env: Record<string, string> = {}, extra: { secretServices?: boolean } = {}): FleetOutputs {
    const overrides = parseOverrides(env);
    const config = { ...parseStackConfig(applyOverrides(r, overrides)), ...extra };
    return deploy({
        config,
        release: resolveTag({ forced: overrides.release?.tag ?? TAG }),
        registryPassword: pulumi.secret(PASSWORD),
        restore: overrides.release,
    });
}

async function finish(out: FleetOutputs): Promise<void> {
    await Promise.all([
        ...Object.values(out.images).map((i) => valueOf(i.pinned)),
        valueOf(out.scanReport),
        valueOf(out.gate),
        valueOf(out.report),
    ]);
    await settle();
}

/** The release output with every leaf resolved: what `pulumi stack output --show-secrets` gives the command. */
async function plain(exp: ReleaseExport): Promise<{ tag: string; images: Record<string, string>; specs: Record<string, ServiceSpec> }> {
    const specs: Record<string, ServiceSpec> = {};
    for (const [svc, s] of Object.entries(exp.specs)) {
        const container: Record<string, unknown> = {};
        for (const [k, v] of Object.entries(s.container)) container[k] = await valueOf(v);
        specs[svc] = { container: container as unknown as ServiceSpec["container"], probe: await valueOf(s.probe) };
    }
    return { tag: await valueOf(exp.tag), images: await valueOf(exp.images), specs };
}

function container(runtime: Runtime, service: string): Registered {
    const type = runtime === "provider" ? T.container : T.command;
    const found = ofType(type).filter((r) => r.name === `${service}-container`);
    expect(found, `${type} of ${service}`).to.have.length(1);
    return found[0];
}

/** What each runtime starts the container with: the provider's Container inputs, or the cli runtime's spec. */
function started(runtime: Runtime, service: string): Record<string, any> {
    const r = container(runtime, service);
    if (runtime === "provider") {
        const { image: _image, labels: _labels, ...rest } = r.inputs;
        return { ...rest, envs: unwrapSecret(rest.envs) };
    }
    const spec = JSON.parse(unwrapSecret(r.inputs.environment).FLEET_CONTAINER_SPEC);
    const { image: _image, labels: _labels, ...rest } = spec;
    return rest;
}

function healthUrl(service: string): string {
    const check = ofType(T.command).find((c) => c.name === `${service}-health`);
    expect(check, `health check of ${service}`).to.not.equal(undefined);
    return unwrapSecret(check?.inputs.environment).FLEET_HEALTH_URL;
}

describe("a release records each service's spec", function () {
    this.timeout(60000);
    beforeEach(resetWorld);

    it("records every service's container settings (as containerSpecFor computed them) and health probe, env in plaintext where the services config is not secret", async () => {
        const r = raw(goodRelease);
        const out = run(r);
        await finish(out);
        const exp = releaseOutput(out, SERVICES) as ReleaseExport;
        const rec = await plain(exp);
        expect(rec.tag).to.equal(TAG);
        expect(Object.keys(rec.specs)).to.deep.equal(SERVICES);
        const cfg = parseStackConfig(r);
        for (const svc of SERVICES) {
            // The recorded spec is what the one place computes, and what the container got.
            expect(rec.specs[svc].container, svc).to.deep.equal(JSON.parse(JSON.stringify(containerSpecFor(cfg, svc))));
            expect(started("provider", svc).envs, svc).to.deep.equal(envList(rec.specs[svc].container.env));
            expect(healthUrl(svc)).to.equal(`http://${rec.specs[svc].probe.host}:${rec.specs[svc].probe.port}${rec.specs[svc].probe.path}`);
            expect(await isSecret(exp.specs[svc].container.env as pulumi.Output<unknown>), `${svc} env`).to.equal(false);
        }
        const cg = rec.specs.CodeGenerator;
        expect(cg.container.env).to.include({
            FOO: "1",
            SERVICE_NAME: "CodeGenerator",
            OMP_NUM_THREADS: cfg.profile.env.OMP_NUM_THREADS,
        });
        expect(cg.container.env.FLEET_DEPENDENCIES, "the dependencies' wiring").to.match(
            /^ModelOpsCoordinator=http:\/\/ai-local-model-ops-coordinator:/,
        );
        expect(cg.container.hardening).to.deep.include({ readOnlyRoot: true, user: "10001:10001" });
        expect(cg.container.ports.length).to.be.greaterThan(0);
        expect(cg.probe.bounds).to.deep.equal(cfg.stack.rollout.health);
    });

    it("keeps the env a Pulumi secret, and only the env, where the stack's services config is a secret", async () => {
        const out = run(raw(goodRelease), {}, { secretServices: true });
        await finish(out);
        const exp = releaseOutput(out, SERVICES) as ReleaseExport;
        for (const svc of SERVICES) {
            expect(await isSecret(exp.specs[svc].container.env as pulumi.Output<unknown>), `${svc} env`).to.equal(true);
            expect(await isSecret(exp.specs[svc].container.ports as pulumi.Output<unknown>), `${svc} ports`).to.equal(false);
            expect(await isSecret(exp.specs[svc].probe), `${svc} probe`).to.equal(false);
        }
        expect(await isSecret(exp.images)).to.equal(false);
        expect(await valueOf(exp.specs.CodeGenerator.container.env)).to.include({ FOO: "1" });
        expect(await valueOf(exp.specs.CodeGenerator.container.secretEnv)).to.equal(true);
    });

    it("records nothing for a release that did not pass", async () => {
        const out = run(raw(goodRelease));
        await finish(out);
        const failing = { ...out, report: out.report?.apply((rep) => ({ ...rep, healthy: false })) };
        const exp = releaseOutput(failing, SERVICES) as ReleaseExport;
        let error: unknown;
        await valueOf(exp.specs.CodeGenerator.container.env).catch((e) => (error = e));
        expect(String(error)).to.include(`release ${TAG} did not pass`);
    });
});

describe("a rollback restores the release's recorded specs", function () {
    this.timeout(60000);
    beforeEach(resetWorld);

    /** The release that passed (FOO=1), as the command reads it from the stack outputs, and what each container started with. */
    async function passedRelease(
        runtime: Runtime,
    ): Promise<{ release: ReturnType<typeof lastRelease>; before: Record<string, Record<string, any>> }> {
        const out = run(raw(goodRelease, runtime));
        await finish(out);
        const rec = await plain(releaseOutput(out, SERVICES) as ReleaseExport);
        const before = Object.fromEntries(SERVICES.map((s) => [s, started(runtime, s)]));
        resetWorld();
        // Through JSON, as `stack.outputs()` hands it to the command.
        return { release: lastRelease({ release: { value: JSON.parse(JSON.stringify(rec)) } }), before };
    }

    for (const runtime of ["provider", "cli"] as const) {
        it(`runs every container with the release's spec, not the stack file's, and names what differs (${runtime} runtime)`, async () => {
            const { release, before } = await passedRelease(runtime);
            expect(release?.specs, "the command reads the recorded specs").to.have.keys(SERVICES);
            const out = run(raw(badChange, runtime), { [RELEASE_ENV]: JSON.stringify(release) });
            await finish(out);
            for (const svc of SERVICES) {
                expect(started(runtime, svc), `${svc}: what the container starts with`).to.deep.equal(before[svc]);
            }
            const envs: string[] = started(runtime, "CodeGenerator").envs;
            expect(envs).to.include("FOO=1").and.not.include("FOO=2");
            expect(started(runtime, "CodeGenerator").readOnly).to.equal(true);
            const source = await valueOf(pulumi.output(out.specSource));
            expect(source).to.deep.equal({
                from: "release",
                tag: TAG,
                recordedSpecs: true,
                differences: [
                    { service: "CodeGenerator", field: "env", release: "FOO=1", stackFile: "FOO=2" },
                    {
                        service: "CodeGenerator",
                        field: "hardening",
                        release:
                            '{"dropAllCapabilities":true,"init":true,"noNewPrivileges":true,"readOnlyRoot":true,"tmpfs":["/tmp"],"user":"10001:10001"}',
                        stackFile:
                            '{"dropAllCapabilities":true,"init":true,"noNewPrivileges":true,"readOnlyRoot":false,"tmpfs":["/tmp"],"user":"10001:10001"}',
                    },
                ],
                fromStackFile: [],
            });
            // The rollback's update records the restored spec again: a later rollback finds the same release.
            const again = await plain(releaseOutput(out, SERVICES) as ReleaseExport);
            expect(again.specs).to.deep.equal(release?.specs);
        });
    }

    it("restores the health check's probe with the container's ports (a changed health path is rolled back too)", async () => {
        const { release } = await passedRelease("cli");
        const out = run(
            raw((r) => {
                goodRelease(r);
                r.services.CodeGenerator.health = { ...(r.services.CodeGenerator.health ?? {}), path: "/healthz" };
            }, "cli"),
            { [RELEASE_ENV]: JSON.stringify(release) },
        );
        await finish(out);
        expect(healthUrl("CodeGenerator")).to.match(/\/health$/);
        expect(started("cli", "CodeGenerator").healthcheck.tests.join(" ")).to.include("/health'").and.not.include("/healthz");
        const source = (await valueOf(pulumi.output(out.specSource))) as {
            differences: { field: string; release: string; stackFile: string }[];
        };
        expect(source.differences.map((d) => d.field)).to.deep.equal(["health", "health probe"]);
        expect(source.differences[1].stackFile).to.match(/\/healthz$/);
    });

    it("restores a secret env as a secret again", async () => {
        const out1 = run(raw(goodRelease, "cli"), {}, { secretServices: true });
        await finish(out1);
        const rec = await plain(releaseOutput(out1, SERVICES) as ReleaseExport);
        resetWorld();
        // The stack file no longer says the services config is secret: the recorded secretEnv still holds.
        const out = run(raw(badChange, "cli"), { [RELEASE_ENV]: JSON.stringify(rec) });
        await finish(out);
        const cmd = container("cli", "CodeGenerator");
        expect(cmd.inputs.environment, "the container's environment is a secret input").to.have.property(
            "4dabf18193072939515e22adb298388d",
        );
        const exp = releaseOutput(out, SERVICES) as ReleaseExport;
        expect(await isSecret(exp.specs.CodeGenerator.container.env as pulumi.Output<unknown>)).to.equal(true);
        const source = (await valueOf(pulumi.output(out.specSource))) as {
            differences: { field: string; release: string; stackFile: string }[];
        };
        expect(source.differences[0]).to.deep.include({ field: "env", release: "FOO=[secret]", stackFile: "FOO=[secret]" });
    });

    it("a release of an older program (tag and images only) restores its images on the stack file's settings, and says so", async () => {
        const { release } = await passedRelease("cli");
        const legacy = { tag: release?.tag, images: release?.images };
        const out = run(raw(badChange, "cli"), { [RELEASE_ENV]: JSON.stringify(legacy) });
        await finish(out);
        expect(started("cli", "CodeGenerator").envs).to.include("FOO=2");
        const spec = JSON.parse(unwrapSecret(container("cli", "CodeGenerator").inputs.environment).FLEET_CONTAINER_SPEC);
        expect(spec.image).to.equal(release?.images.CodeGenerator);
        const source = await valueOf(pulumi.output(out.specSource));
        expect(source).to.deep.equal({ from: "release", tag: TAG, recordedSpecs: false, differences: [], fromStackFile: SERVICES });
        expect(restoreLines("local", lastRelease({ release: { value: legacy } }) as any, source)).to.deep.equal([
            `release ${TAG} was recorded by an older program (tag and images only): only its images are restored; every other setting (env, ports, hardening, GPU, health checks) is the stack file's, which may still hold the change that failed`,
        ]);
    });

    it("a plain update says its specs are the stack file's", async () => {
        const out = run(raw(badChange));
        await finish(out);
        expect(await valueOf(pulumi.output(out.specSource))).to.deep.equal({ from: "stack file" });
    });

    it("refuses a recorded spec of another container name, and a malformed one, naming where", async () => {
        const { release } = await passedRelease("cli");
        const specs = JSON.parse(JSON.stringify(release?.specs));
        specs.CodeGenerator.container.containerName = "ai-pc2-code-generator";
        expect(() => run(raw(undefined, "cli"), { [RELEASE_ENV]: JSON.stringify({ ...release, specs }) })).to.throw(
            'the recorded spec of CodeGenerator has containerName "ai-pc2-code-generator", this stack gives "ai-local-code-generator"',
        );
        const bad = JSON.parse(JSON.stringify(release?.specs));
        bad.CodeGenerator.container.ports[0].host = "8200";
        bad.CodeGenerator.container.memoryLimit = "2g";
        expect(() => parseOverrides({ [RELEASE_ENV]: JSON.stringify({ ...release, specs: bad }) }))
            .to.throw(`${RELEASE_ENV}.specs.CodeGenerator.container.ports.0.host`)
            .and.match(/memoryLimit/);
    });
});

describe("what the rollback commands say about the specs they restored", () => {
    const release = { tag: "r1", images: { A: "repo/a@sha256:" + "a".repeat(64) }, specs: {} };

    it("names each service whose restored spec differs from the stack file, and that the stack file still holds the change", () => {
        const d = { service: "ExampleService", field: "env", release: "FOO=1", stackFile: "FOO=2" };
        expect(differenceLine(d)).to.equal("ExampleService runs the release's env (FOO=1), the stack file says FOO=2");
        expect(
            restoreLines("organization/ai-fleet/local", release, {
                from: "release",
                tag: "r1",
                recordedSpecs: true,
                differences: [d],
                fromStackFile: ["New"],
            }),
        ).to.deep.equal([
            "rolled back: ExampleService runs the release's env (FOO=1), the stack file says FOO=2",
            "Pulumi.local.yaml still differs from release r1 for ExampleService: the next `npm run rollout` applies the stack file again; revert the change there first",
            "New: not in release r1's record, so on the stack file's spec",
        ]);
        expect(
            restoreLines("local", release, { from: "release", tag: "r1", recordedSpecs: true, differences: [], fromStackFile: [] }),
        ).to.deep.equal(["restored release r1's recorded spec of every service it records; they match the stack file"]);
    });

    it("says nothing of specs when the rollback's update failed, but still that an older release restores images only", () => {
        expect(restoreLines("local", release, undefined)).to.deep.equal([]);
        expect(restoreLines("local", { tag: "r1", images: release.images }, undefined)[0]).to.match(
            /^release r1 was recorded by an older program \(tag and images only\): only its images are restored/,
        );
    });

    it("npm run status says, after a rollback, which services' specs differ from the stack file (nothing on the stack file's)", () => {
        const d = { service: "ExampleService", field: "env", release: "FOO=1", stackFile: "FOO=2" };
        expect(specSourceLines({ from: "stack file" })).to.deep.equal([]);
        expect(specSourceLines({ from: "release", tag: "r1", recordedSpecs: true, differences: [d], fromStackFile: [] })).to.deep.equal([
            "the services run release r1's recorded specs (a rollback); the stack file differs:",
            "  ExampleService runs the release's env (FOO=1), the stack file says FOO=2",
        ]);
    });

    it("says a bare tag (--to) restores images only", () => {
        expect(
            restoreLines(
                "local",
                { tag: "r0" },
                { from: "release", tag: "r0", recordedSpecs: false, differences: [], fromStackFile: ["A"] },
            )[0],
        ).to.match(/^--to r0 names a tag only: every service runs its r0 image; every other setting .* is the stack file's$/);
    });
});
