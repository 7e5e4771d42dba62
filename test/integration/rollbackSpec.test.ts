/**
 * "A rollback restores what ran, not only its images", through the real Pulumi engine with real
 * containers on the local Docker engine and registry: a release whose failure is caused by config
 * (RealTimeAudioPipeline's env DEMO_HEALTH=degraded, to which the demo server answers
 * {"status": "degraded"}) is rolled back by `npm run rollout` to the previous release's recorded
 * spec and is healthy afterwards, the command naming what the stack file still changes; `npm run
 * rollback` does the same; a release recorded by an older program (tag and images only) rolls back
 * its images only and says so; and a release whose services config is a secret keeps the env out
 * of the state and the output in plaintext, and is restored with it.
 *
 * The docker provider plugin cannot be had on this machine, so the containers are started by the
 * program's cli runtime (`ai-fleet:docker.runtime: cli`); both runtimes read the same container
 * settings (test/unit/releaseSpec.test.ts checks the provider's Container inputs under mocks).
 * Everything is named for issue 20: machine `it20` (containers ai-it20-*, repositories
 * …/demo/it20/*), tags it20-r*, host ports from 19720; the stack is destroyed at the end.
 */
import { expect } from "chai";
import { execFileSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { Stack } from "@pulumi/pulumi/automation";
import { lastRelease } from "../../cli/decide";
import { containerName } from "../../naming";
import { cliStackConfig, CliRun, CliTarget, containerImage, healthNow, programCopy, removeMachine, runCli } from "./support/cliStack";
import { copyDemo, createStack, ensureSetup, localStackConfig, offlineEnv, ToolchainStatus } from "./support/engine";
import { log, tail } from "./support/proc";

const MACHINE = "it20";
const STACK = "it20-rollback-spec";
const SERVICES = Object.keys(localStackConfig()["ai-fleet:services"] as Record<string, unknown>).sort();
/** A value that must never be in the state or the commands' output in plaintext. */
const SECRET = `it20-secret-${process.pid}-${Date.now().toString(36)}`;
const figures: string[] = [];

type Services = Record<string, Record<string, unknown>>;

describe("a rollback restores the release's whole spec, not only its images (real engine, cli container runtime)", function () {
    this.timeout(40 * 60 * 1000);
    let status: ToolchainStatus;
    let target: CliTarget;
    let stack: Stack;
    let services: Services;
    let release1: { tag: string; images: Record<string, string> };

    const cli = (cmd: "rollout" | "rollback" | "status", args: string[], extraEnv: Record<string, string> = {}): Promise<CliRun> =>
        runCli(target, cmd, args, extraEnv);

    /** Sets `ai-fleet:services` to the first release's with `edit` applied; a secret key when `secret`. */
    async function setServices(edit: (s: Services) => void, secret = false): Promise<void> {
        const next = JSON.parse(JSON.stringify(services)) as Services;
        edit(next);
        await stack.setConfig("ai-fleet:services", { value: JSON.stringify(next), secret });
    }

    function containerEnv(service: string): Record<string, string> {
        const list = JSON.parse(
            execFileSync("docker", ["inspect", "--format", "{{json .Config.Env}}", containerName(MACHINE, service)], { encoding: "utf8" }),
        ) as string[];
        return Object.fromEntries(list.map((e) => [e.slice(0, e.indexOf("=")), e.slice(e.indexOf("=") + 1)]));
    }

    /** The lines of a command's output that say what it did (for the log). */
    function saidLines(out: string): string {
        return out
            .split("\n")
            .filter((l) => l.startsWith("[fleet]"))
            .join("\n");
    }

    /** Files of the stack's state (checkpoints, backups, history) that hold `text` in plaintext. */
    function stateFilesHolding(text: string): string[] {
        const hits: string[] = [];
        const walk = (dir: string): void => {
            for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
                const p = path.join(dir, e.name);
                if (e.isDirectory()) walk(p);
                else if (fs.readFileSync(p).includes(text)) hits.push(path.relative(target.prog.stateDir, p));
            }
        };
        walk(target.prog.stateDir);
        return hits;
    }

    /** `pulumi stack output <name> --json` as an operator runs it (secrets not shown). */
    function stackOutputShown(name: string): unknown {
        const pulumi = path.join(status.binDir as string, "pulumi");
        return JSON.parse(
            execFileSync(pulumi, ["stack", "output", name, "--json", "--stack", STACK], {
                cwd: target.prog.dir,
                env: { ...process.env, ...target.env },
                encoding: "utf8",
            }),
        );
    }

    before(async function () {
        status = ensureSetup(this);
        const prog = programCopy(MACHINE, "issue 20's rollback-spec test");
        const demo = copyDemo(prog.dir);
        const env = offlineEnv(prog.stateDir);
        target = { stack: STACK, prog, env };
        const config = await cliStackConfig(MACHINE, demo, env.AI_FLEET_REGISTRY_PASSWORD ?? "fleet-local-pass", 19720);
        services = config["ai-fleet:services"] as Services;
        // The first release runs RealTimeAudioPipeline with DEMO_HEALTH=ok, said in the stack file.
        services.RealTimeAudioPipeline.env = { DEMO_HEALTH: "ok" };
        stack = await createStack({ dir: prog.dir, stateDir: prog.stateDir, env, cleanup: () => undefined }, STACK, status, config);
    });

    after(async () => {
        process.stderr.write(`[it20] figures:\n${figures.map((f) => `  ${f}`).join("\n")}\n`);
        if (stack) {
            await stack.destroy({ onOutput: () => undefined }).catch((e: Error) => log(`destroy failed: ${e.message}`));
        }
        removeMachine(MACHINE);
        if (target?.prog && !process.env.AI_FLEET_IT_KEEP) fs.rmSync(target.prog.dir, { recursive: true, force: true });
    });

    it("records each service's whole spec in the release that passed", async () => {
        const r = await cli("rollout", [], { FORCE_IMAGE_TAG: "it20-r1" });
        expect(r.code, tail(r.out, 30)).to.equal(0);
        expect(r.out).to.include("ROLLED OUT: release it20-r1");
        const outputs = await stack.outputs();
        const found = lastRelease(outputs);
        expect(found?.tag).to.equal("it20-r1");
        release1 = found as { tag: string; images: Record<string, string> };
        const specs = found?.specs as Record<
            string,
            { container: { env: Record<string, string>; ports: unknown[] }; probe: { port: number } }
        >;
        expect(Object.keys(specs)).to.deep.equal(SERVICES);
        expect(specs.RealTimeAudioPipeline.container.env).to.include({ DEMO_HEALTH: "ok", SERVICE_NAME: "RealTimeAudioPipeline" });
        expect(specs.RealTimeAudioPipeline.container.env.FLEET_DEPENDENCIES).to.match(
            /^ModelOpsCoordinator=http:\/\/ai-it20-model-ops-coordinator:/,
        );
        expect(outputs.specSource?.value).to.deep.equal({ from: "stack file" });
        expect(containerEnv("RealTimeAudioPipeline").DEMO_HEALTH).to.equal("ok");
        log(`the release records, for RealTimeAudioPipeline: ${JSON.stringify(specs.RealTimeAudioPipeline)}`);
        figures.push(`first rollout (build + ${SERVICES.length} containers + checks): ${(r.ms / 1000).toFixed(1)}s`);
    });

    it("a release that fails because of its config (DEMO_HEALTH=degraded) is rolled back to the previous spec, healthy, naming what the stack file still changes", async () => {
        await setServices((s) => {
            s.RealTimeAudioPipeline.env = { DEMO_HEALTH: "degraded" };
        });
        const r = await cli("rollout", [], { FORCE_IMAGE_TAG: "it20-r2" });
        log(`npm run rollout of the bad config said:\n${saidLines(r.out)}`);
        expect(r.code, tail(r.out, 30)).to.equal(1);
        expect(r.out).to.match(
            /health gate failed: RealTimeAudioPipeline: its health check \(command:local:Command RealTimeAudioPipeline-health\) failed:\n( {4}.*\n)* {4}health check failed: service RealTimeAudioPipeline on host 127\.0\.0\.1: GET http:\/\/127\.0\.0\.1:\d+\/health: last status 200, last body "\{\\"status\\": \\"degraded\\"/,
        );
        expect(r.out).to.include("rolling back to release it20-r1");
        expect(r.out).to.include(
            "rolled back: RealTimeAudioPipeline runs the release's env (DEMO_HEALTH=ok), the stack file says DEMO_HEALTH=degraded",
        );
        expect(r.out.match(/rolled back: /g), "only the service whose spec differs is named").to.have.length(1);
        expect(r.out).to.include(
            `Pulumi.${STACK}.yaml still differs from release it20-r1 for RealTimeAudioPipeline: the next \`npm run rollout\` applies the stack file again`,
        );
        expect(r.out).to.include(
            `ROLLED BACK: restored release it20-r1 (${SERVICES.length} services on their pinned digests and recorded specs)`,
        );
        // What runs now: the previous release's images and its spec (env), healthy; the stack file is not edited.
        for (const svc of SERVICES) expect(containerImage(MACHINE, svc), svc).to.equal(release1.images[svc]);
        expect(containerEnv("RealTimeAudioPipeline").DEMO_HEALTH).to.equal("ok");
        expect(await healthNow(stack)).to.deep.equal(Object.fromEntries(SERVICES.map((s) => [s, "ok"])));
        const cfg = JSON.parse((await stack.getConfig("ai-fleet:services")).value) as Services;
        expect(cfg.RealTimeAudioPipeline.env).to.deep.equal({ DEMO_HEALTH: "degraded" });
        const outputs = await stack.outputs();
        expect(lastRelease(outputs)?.tag).to.equal("it20-r1");
        expect(outputs.specSource?.value).to.deep.include({ from: "release", tag: "it20-r1", recordedSpecs: true });
        const healthyAfter = /healthy ([\d.]+)s after the failed health check/.exec(r.out);
        figures.push(
            `config-caused failure → machine healthy on it20-r1's spec: ${healthyAfter?.[1]}s after the failed check (whole command ${(r.ms / 1000).toFixed(1)}s)`,
        );
    });

    it("npm run rollback restores the same spec while the stack file still holds the bad change, and says so", async () => {
        const r = await cli("rollback", []);
        log(`npm run rollback said:\n${saidLines(r.out)}`);
        expect(r.code, tail(r.out, 30)).to.equal(0);
        expect(r.out).to.include(
            "rolled back: RealTimeAudioPipeline runs the release's env (DEMO_HEALTH=ok), the stack file says DEMO_HEALTH=degraded",
        );
        expect(r.out).to.include(`ROLLED BACK: ${STACK} runs release it20-r1, every service healthy`);
        expect(containerEnv("RealTimeAudioPipeline").DEMO_HEALTH).to.equal("ok");
        const st = await cli("status", []);
        expect(st.code, st.out).to.equal(0);
        expect(st.out).to.include("the services run release it20-r1's recorded specs (a rollback); the stack file differs:");
        expect(st.out).to.include(
            "RealTimeAudioPipeline runs the release's env (DEMO_HEALTH=ok), the stack file says DEMO_HEALTH=degraded",
        );
        figures.push(`npm run rollback (specs restored, nothing changed on the machine): ${(r.ms / 1000).toFixed(1)}s`);
    });

    it("a release recorded by an older program (tag and images only) rolls back its images only, on the stack file's config, and says so", async () => {
        // The state as the older program left it: its release output has no specs.
        const state = await stack.exportStack();
        const root = (state.deployment.resources as { type: string; outputs?: { release?: Record<string, unknown> } }[]).find(
            (res) => res.type === "pulumi:pulumi:Stack",
        );
        expect(root?.outputs?.release?.specs, "the release has specs before the edit").to.not.equal(undefined);
        delete root?.outputs?.release?.specs;
        await stack.importStack(state);
        const r = await cli("rollback", []);
        log(`npm run rollback of an older release said:\n${saidLines(r.out)}`);
        expect(r.out).to.include(
            "release it20-r1 was recorded by an older program (tag and images only): only its images are restored; every other setting (env, ports, hardening, GPU, health checks) is the stack file's",
        );
        // As before this change: the stack file's DEMO_HEALTH=degraded runs again, and the command says the machine is not healthy.
        expect(r.code, tail(r.out, 30)).to.equal(2);
        expect(r.out).to.include("ROLLBACK to release it20-r1 did not make the machine healthy");
        expect(containerEnv("RealTimeAudioPipeline").DEMO_HEALTH).to.equal("degraded");
        figures.push(`npm run rollback of an images-only release: ${(r.ms / 1000).toFixed(1)}s, exit ${r.code}`);
    });

    it("with the services config a secret, the release keeps each env a secret (never plaintext in the state or the output) and a rollback restores it", async () => {
        await setServices((s) => {
            s.CodeGenerator.env = { DEMO_TOKEN: SECRET };
        }, true);
        const r3 = await cli("rollout", [], { FORCE_IMAGE_TAG: "it20-r3" });
        expect(r3.code, tail(r3.out, 30)).to.equal(0);
        const shown = stackOutputShown("release") as { specs: Record<string, { container: { env: unknown; ports: unknown } }> };
        log(`pulumi stack output release (CodeGenerator): ${JSON.stringify(shown.specs.CodeGenerator)}`);
        expect(shown.specs.CodeGenerator.container.env).to.equal("[secret]");
        expect(shown.specs.CodeGenerator.container.ports).to.be.an("array");
        const rec = lastRelease(await stack.outputs()) as { specs: Record<string, { container: { env: Record<string, string> } }> };
        expect(rec.specs.CodeGenerator.container.env.DEMO_TOKEN, "the command reads it, decrypted").to.equal(SECRET);
        expect(stateFilesHolding(SECRET), "state files holding the secret in plaintext").to.deep.equal([]);

        // The bad change, in the secret config: a degraded canary and a new token.
        await setServices((s) => {
            s.CodeGenerator.env = { DEMO_TOKEN: `${SECRET}-new` };
            s.RealTimeAudioPipeline.env = { DEMO_HEALTH: "degraded" };
        }, true);
        const r4 = await cli("rollout", [], { FORCE_IMAGE_TAG: "it20-r4" });
        log(`npm run rollout of the bad secret config said:\n${saidLines(r4.out)}`);
        expect(r4.code, tail(r4.out, 30)).to.equal(1);
        expect(r4.out).to.include(
            "rolled back: CodeGenerator runs the release's env (DEMO_TOKEN=[secret]), the stack file says DEMO_TOKEN=[secret]",
        );
        expect(r4.out).to.include(
            "rolled back: RealTimeAudioPipeline runs the release's env (DEMO_HEALTH=[secret]), the stack file says DEMO_HEALTH=[secret]",
        );
        expect(r4.out).to.include("ROLLED BACK: restored release it20-r3");
        expect(`${r3.out}\n${r4.out}`.includes(SECRET), "the commands never print the secret").to.equal(false);
        expect(stateFilesHolding(SECRET), "state files holding the secret in plaintext").to.deep.equal([]);
        expect(containerEnv("CodeGenerator").DEMO_TOKEN).to.equal(SECRET);
        expect(containerEnv("RealTimeAudioPipeline").DEMO_HEALTH).to.equal("ok");
        expect(await healthNow(stack)).to.deep.equal(Object.fromEntries(SERVICES.map((s) => [s, "ok"])));
        figures.push(
            `secret services config: rollout ${(r3.ms / 1000).toFixed(1)}s; failed rollout + rollback to it20-r3 ${(r4.ms / 1000).toFixed(1)}s`,
        );
    });
});
