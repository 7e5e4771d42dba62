/**
 * `npm run rollout` through the real Pulumi engine with real containers on the local Docker engine
 * and registry: a release that passes, a no-op `pulumi up` after it, a release in which every
 * service changes and one canary turns degraded (rolled back to the previous release's digests), a
 * rollout killed mid-update (its lock and pending operations recovered by the next rollout), and a
 * lock held by a live run (never touched).
 *
 * The docker provider plugin cannot be had on this machine (scripts/toolchain.sh --status), so the
 * containers are started by the program's cli runtime (`ai-fleet:docker.runtime: cli`: docker run
 * through @pulumi/command); the provider's container wiring stays covered by docker.test.ts.
 * Everything is named for issue 9: machine `it9` (containers ai-it9-*, repositories …/demo/it9/*),
 * tags it9-r*, host ports 19xxx; the stack is destroyed at the end.
 */
import { expect } from "chai";
import { ChildProcess, execFileSync, spawn } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { Stack } from "@pulumi/pulumi/automation";
import { parseStackConfig } from "../../config";
import { changesOf, lastRelease } from "../../cli/decide";
import { goDuration, providerContainerArgs } from "../../components";
import { containerSpecFor } from "../../deploy";
import { containerName } from "../../naming";
import {
    cliStackConfig,
    CliRun,
    containerImage as imageOf,
    healthNow,
    programCopy,
    rawLocal,
    removeMachine,
    runCli,
} from "./support/cliStack";
import { copyDemo, createStack, ensureSetup, localStackConfig, offlineEnv, secondsSince, ToolchainStatus } from "./support/engine";
import { log, tail } from "./support/proc";

const MACHINE = "it9";
const STACK = "it9-rollout";
/** The local stack's services, as Pulumi.local.yaml lists them (sorted). */
const SERVICES = Object.keys(localStackConfig()["ai-fleet:services"] as Record<string, unknown>).sort();
const figures: string[] = [];

describe("npm run rollout through the real engine (cli container runtime)", function () {
    this.timeout(40 * 60 * 1000);
    let status: ToolchainStatus;
    let prog: { dir: string; stateDir: string };
    let demo: string;
    let stack: Stack;
    let env: Record<string, string>;
    let release1: { tag: string; images: Record<string, string> };

    /** Runs a cli/ command as `npm run <cmd>` does, its output streamed to our stderr. `onOut` may kill it. */
    function cli(
        cmd: "rollout" | "rollback" | "status",
        args: string[],
        extraEnv: Record<string, string> = {},
        onOut?: (all: string, child: ChildProcess) => void,
    ): Promise<CliRun> {
        return runCli({ stack: STACK, prog, env }, cmd, args, extraEnv, onOut);
    }

    function containerImage(service: string): string {
        return imageOf(MACHINE, service);
    }

    function touchServices(tagLine: string, degraded?: string): void {
        for (const dir of fs.readdirSync(path.join(demo, "services"))) {
            const file = path.join(demo, "services", dir, "service.py");
            if (!fs.existsSync(file)) continue;
            let text = fs.readFileSync(file, "utf8").replace(/^import os; os\.environ\["DEMO_HEALTH"\].*\n/m, "");
            if (dir === degraded) {
                // The broken release: this canary's new image answers {"status": "degraded"}.
                text = text.replace(
                    "from demo_server import",
                    'import os; os.environ["DEMO_HEALTH"] = "degraded"  # it9: broken release\nfrom demo_server import',
                );
            }
            fs.writeFileSync(file, `${text.trimEnd()}\n# ${tagLine}\n`);
        }
    }

    before(async function () {
        status = ensureSetup(this);
        if (!status.plugins.docker) {
            log(
                `NOTE: containers are started by the cli runtime (docker run through @pulumi/command) because the docker provider plugin is missing: ${status.missing?.docker ?? "not installed"}`,
            );
        }
        prog = programCopy(MACHINE, "issue 9's rollout test");
        demo = copyDemo(prog.dir);
        env = offlineEnv(prog.stateDir);
        const password = env.AI_FLEET_REGISTRY_PASSWORD ?? "fleet-local-pass";
        stack = await createStack(
            { dir: prog.dir, stateDir: prog.stateDir, env, cleanup: () => undefined },
            STACK,
            status,
            await cliStackConfig(MACHINE, demo, password, 19620),
        );
    });

    after(async () => {
        process.stderr.write(`[it9] figures:\n${figures.map((f) => `  ${f}`).join("\n")}\n`);
        if (stack) {
            await stack.destroy({ onOutput: () => undefined }).catch((e: Error) => log(`destroy failed: ${e.message}`));
        }
        removeMachine(MACHINE);
        if (prog && !process.env.AI_FLEET_IT_KEEP) fs.rmSync(prog.dir, { recursive: true, force: true });
    });

    it("rolls out a release and records it as the last release that passed", async () => {
        touchServices("release it9-r1");
        const r = await cli("rollout", [], { FORCE_IMAGE_TAG: "it9-r1" });
        expect(r.code, tail(r.out, 30)).to.equal(0);
        expect(r.out).to.include("ROLLED OUT: release it9-r1");
        expect(r.out).to.include("containers run through the cli runtime");
        const found = lastRelease(await stack.outputs());
        expect(found?.tag).to.equal("it9-r1");
        release1 = found as { tag: string; images: Record<string, string> };
        expect(Object.keys(release1.images)).to.deep.equal(SERVICES);
        for (const svc of SERVICES) expect(containerImage(svc), svc).to.equal(release1.images[svc]);
        expect(Object.values(await healthNow(stack))).to.deep.equal(SERVICES.map(() => "ok"));
        // What the docker provider would read back: Docker keeps nanoseconds, terraform-provider-docker
        // prints them with Go's Duration.String(); the given form must be that form (no ~healthcheck).
        const hc = JSON.parse(
            execFileSync("docker", ["inspect", "--format", "{{json .Config.Healthcheck}}", containerName(MACHINE, "ModelOpsCoordinator")], {
                encoding: "utf8",
            }),
        ) as Record<string, number>;
        const readBack = {
            interval: goDuration(hc.Interval / 1e9),
            timeout: goDuration(hc.Timeout / 1e9),
            startPeriod: goDuration(hc.StartPeriod / 1e9),
        };
        const given = providerContainerArgs(
            containerSpecFor(parseStackConfig({ ...rawLocal(), machine: "local" }), "ModelOpsCoordinator"),
            { gate: "passed" },
        ).healthcheck as Record<string, unknown>;
        expect(readBack).to.deep.equal({ interval: given.interval, timeout: given.timeout, startPeriod: given.startPeriod });
        figures.push(`first rollout (build + ${SERVICES.length} containers + checks): ${(r.ms / 1000).toFixed(1)}s`);
    });

    it("a `pulumi up` right after changes nothing", async () => {
        stack.workspace.envVars.FORCE_IMAGE_TAG = "it9-r1";
        const up = await stack.up({ onOutput: (l) => process.stderr.write(l) });
        const changes = changesOf(up.summary.resourceChanges as Record<string, number>);
        figures.push(
            `pulumi up after a successful rollout: ${JSON.stringify(changes)} changes, ${up.summary.resourceChanges?.same ?? 0} unchanged`,
        );
        expect(changes).to.deep.equal({});
    });

    it("a release where every service changes and a canary turns degraded ends on the previous release, healthy, exit non-zero", async () => {
        touchServices("release it9-r2", "real_time_audio_pipeline");
        const r = await cli("rollout", [], { FORCE_IMAGE_TAG: "it9-r2" });
        expect(r.code, tail(r.out, 30)).to.equal(1);
        expect(r.out).to.match(
            /health gate failed: RealTimeAudioPipeline: its health check \(command:local:Command RealTimeAudioPipeline-health\) failed:\n( {4}.*\n)* {4}health check failed: service RealTimeAudioPipeline on host 127\.0\.0\.1: GET http:\/\/127\.0\.0\.1:\d+\/health: last status 200, last body "\{\\"status\\": \\"degraded\\"/,
        );
        expect(r.out).to.include(`npm run rollback -- --stack ${STACK}`);
        expect(r.out, "a failed update leaves the outputs of the last one that passed").to.include(
            "the failed update left the stack's release output at it9-r1",
        );
        expect(r.out).to.include("ROLLED BACK: restored release it9-r1");
        for (const svc of SERVICES) expect(containerImage(svc), svc).to.equal(release1.images[svc]);
        expect(await healthNow(stack)).to.deep.equal(Object.fromEntries(SERVICES.map((s) => [s, "ok"])));
        expect(lastRelease(await stack.outputs())?.tag).to.equal("it9-r1");
        const healthyAfter = /healthy ([\d.]+)s after the failed health check/.exec(r.out);
        figures.push(`failed health check → machine healthy on it9-r1: ${healthyAfter?.[1]}s (whole command ${(r.ms / 1000).toFixed(1)}s)`);
    });

    it("npm run status shows every service on the release it runs, healthy now, with its rollout time", async () => {
        const r = await cli("status", []);
        expect(r.code, r.out).to.equal(0);
        for (const svc of SERVICES)
            expect(r.out).to.match(new RegExp(`${svc}\\s+it9-r1\\s+sha256:[a-f0-9]{12}…\\s+ok\\s+\\d{4}-\\d\\d-\\d\\dT`));
    });

    it("a rollout killed mid-update leaves a lock and pending operations that the next rollout clears, then converges", async () => {
        touchServices("release it9-r3");
        let killedAt = 0;
        const killed = await cli("rollout", [], { FORCE_IMAGE_TAG: "it9-r3" }, (all, child) => {
            if (!killedAt && /command:local:Command \S+-container\s+(replacing|creating|deleting|updating)/.test(all)) {
                killedAt = Date.now();
                setTimeout(() => process.kill(-(child.pid as number), "SIGKILL"), 1500);
            }
        });
        expect(killedAt, "the update reached the containers before the kill").to.be.greaterThan(0);
        const locks = execFileSync("find", [path.join(prog.stateDir, ".pulumi", "locks"), "-name", "*.json"], { encoding: "utf8" })
            .trim()
            .split("\n")
            .filter(Boolean);
        const pending = ((await stack.exportStack()).deployment.pending_operations ?? []) as { type: string; resource: { urn: string } }[];
        figures.push(
            `killed rollout (exit ${killed.code}) left: ${locks.length} lock file(s) ${locks.map((l) => fs.readFileSync(l, "utf8").trim()).join(" ")}; ${pending.length} pending operation(s): ${pending.map((p) => `${p.type} ${p.resource.urn.split("::").pop()}`).join(", ")}`,
        );
        expect(locks.length).to.equal(1);
        const again = await cli("rollout", [], { FORCE_IMAGE_TAG: "it9-r3" });
        expect(again.code, tail(again.out, 30)).to.equal(0);
        expect(again.out).to.match(/cleared the stack's lock .*a run that is gone/);
        if (pending.length > 0) expect(again.out).to.include(`${pending.length} pending operation(s) left by an interrupted run`);
        expect(
            fs.readdirSync(path.join(prog.stateDir, ".pulumi", "locks"), { recursive: true }).filter((f) => String(f).endsWith(".json")),
        ).to.deep.equal([]);
        expect(lastRelease(await stack.outputs())?.tag).to.equal("it9-r3");
        expect(Object.values(await healthNow(stack))).to.deep.equal(SERVICES.map(() => "ok"));
        figures.push(`recovering rollout after the kill (lock cleared, pending resolved, converged): ${(again.ms / 1000).toFixed(1)}s`);
    });

    it("--no-rollback keeps a failed release for debugging; npm run rollback then restores the last release that passed", async () => {
        const before = lastRelease(await stack.outputs()) as { tag: string; images: Record<string, string> };
        expect(before.tag).to.equal("it9-r3");
        touchServices("release it9-r4", "real_time_audio_pipeline");
        const r = await cli("rollout", ["--no-rollback"], { FORCE_IMAGE_TAG: "it9-r4" });
        expect(r.code, tail(r.out, 30)).to.equal(1);
        expect(r.out).to.include(
            "--no-rollback: the failed state stays for debugging; roll back with `npm run rollback -- --stack it9-rollout` (to release it9-r3)",
        );
        expect(containerImage("RealTimeAudioPipeline"), "the failed canary stays on the broken release").to.not.equal(
            before.images.RealTimeAudioPipeline,
        );
        expect((await healthNow(stack)).RealTimeAudioPipeline).to.equal("degraded");
        const back = await cli("rollback", []);
        expect(back.code, tail(back.out, 30)).to.equal(0);
        expect(back.out).to.include("ROLLED BACK: it9-rollout runs release it9-r3, every service healthy");
        for (const svc of SERVICES) expect(containerImage(svc), svc).to.equal(before.images[svc]);
        expect(Object.values(await healthNow(stack))).to.deep.equal(SERVICES.map(() => "ok"));
        figures.push(`npm run rollback after a --no-rollback failure: ${(back.ms / 1000).toFixed(1)}s`);
    });

    it("never touches a lock held by a live run", async () => {
        const holder = spawn("sleep", ["300"], { stdio: "ignore" });
        const dir = path.join(prog.stateDir, ".pulumi", "locks", "organization", "ai-fleet", STACK);
        fs.mkdirSync(dir, { recursive: true });
        const lock = path.join(dir, "00000000-it9-live-lock.json");
        fs.writeFileSync(
            lock,
            JSON.stringify({
                pid: holder.pid,
                username: os.userInfo().username,
                hostname: os.hostname(),
                timestamp: new Date().toISOString(),
            }),
        );
        try {
            const started = Date.now();
            const r = await cli("rollout", [], { FORCE_IMAGE_TAG: "it9-r3" });
            expect(r.code, r.out).to.equal(3);
            expect(r.out).to.include(`held by a running process`).and.include(`pid ${holder.pid}`);
            expect(fs.existsSync(lock), "the live run's lock is still there").to.equal(true);
            log(`live lock refused in ${secondsSince(started)}s`);
        } finally {
            holder.kill();
            fs.rmSync(lock, { force: true });
        }
    });
});
