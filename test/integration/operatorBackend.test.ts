/**
 * The commands use the operator's Pulumi setup (issue 18): `npm run rollout` and `npm run status`
 * for a stack that is not `local`, run as an operator would, through the real Pulumi CLI and
 * engine, with a PULUMI_HOME of the test's own and `pulumi login file://<temp dir outside the
 * repository>`:
 *  - the stack is found in that backend and updated there (a stale lock a killed run left there is
 *    cleared: the lock recovery follows the backend of `pulumi login`), and nothing appears under
 *    the repository's `.pulumi-state/`;
 *  - with the passphrase unset, the command stops before anything runs and names
 *    PULUMI_CONFIG_PASSPHRASE / PULUMI_CONFIG_PASSPHRASE_FILE;
 *  - `status` on a missing stack prints one line, and so does a command without `pulumi login`.
 *
 * The program is a temp project (Pulumi.yaml `ai-fleet`, a few lines of JavaScript exporting what
 * the commands read: `tag`, `report`, `release`, `machine`, plus a secret from the stack's config),
 * not the repository's program: every phase of that one builds images or runs containers (BuildKit,
 * a registry, the Docker engine, the docker-build/command/docker plugins; the docker plugin cannot
 * be had on this machine, and with plugin acquisition on, as for an operator, the engine would try to
 * download it). The temp project needs no plugin and no Docker, so the CLI's own resolution of
 * backend, secrets and plugins is what is exercised; the commands are the real `npm run rollout` /
 * `npm run status` (cli/*.ts, with --cwd). Only the Pulumi CLI and language host are needed
 * (ensureCli: scripts/toolchain.sh, no Docker).
 */
import { expect } from "chai";
import * as fs from "fs";
import * as http from "http";
import { AddressInfo } from "net";
import * as os from "os";
import * as path from "path";
import { ensureCli, ROOT, ToolchainStatus } from "./support/engine";
import { log, must, run, RunResult } from "./support/proc";

const STACK = "it18-operator";
const PASSPHRASE = "it18-operator-passphrase";
const DIGEST = `sha256:${"18".repeat(32)}`;

/** Every file under a directory with its size and mtime (or "absent"), to show that nothing changed there. */
function snapshot(dir: string): string[] {
    if (!fs.existsSync(dir)) {
        return ["absent"];
    }
    return (fs.readdirSync(dir, { recursive: true }) as string[])
        .map((f) => path.join(dir, f))
        .filter((f) => fs.statSync(f).isFile())
        .map((f) => `${path.relative(dir, f)} ${fs.statSync(f).size} ${fs.statSync(f).mtimeMs}`)
        .sort();
}

/** The [fleet] lines of a command's output. */
function fleetLines(r: RunResult): string[] {
    return `${r.stderr}`.split("\n").filter((l) => l.startsWith("[fleet] "));
}

describe("the commands use the operator's Pulumi setup (a file backend of `pulumi login` outside the repository)", function () {
    this.timeout(10 * 60 * 1000);
    let status: ToolchainStatus;
    let tmp: string;
    let home: string;
    let backend: string;
    let project: string;
    let server: http.Server;
    let healthUrl: string;
    let operator: NodeJS.ProcessEnv;
    const repoState = path.join(ROOT, ".pulumi-state");
    let repoStateBefore: string[];

    /** `pulumi …` as the operator runs it (their PULUMI_HOME, PATH and passphrase). */
    const pulumi = (args: string[], extra: NodeJS.ProcessEnv = {}) =>
        must("pulumi", args, { cwd: project, env: { ...operator, PULUMI_CONFIG_PASSPHRASE: PASSPHRASE, ...extra } });

    /** `npm run <cmd> -- --stack <stack> --cwd <project>` from the repository, as the operator types it. */
    async function npmRun(cmd: "rollout" | "status", stack: string, env: NodeJS.ProcessEnv): Promise<RunResult> {
        const r = await run("npm", ["run", "--silent", cmd, "--", "--stack", stack, "--cwd", project], { cwd: ROOT, env });
        log(`$ npm run ${cmd} -- --stack ${stack} --cwd ${project}   (exit ${r.code}, ${(r.ms / 1000).toFixed(1)}s)`);
        process.stderr.write(`${r.stdout}${r.stderr}`.replace(/^/gm, "    | "));
        process.stderr.write("\n");
        return r;
    }

    /** The stack's checkpoint in the operator's backend (the file backend's layout). */
    const checkpoint = () => path.join(backend, ".pulumi", "stacks", "ai-fleet", `${STACK}.json`);

    /** The `release` output's tag in the operator's backend. */
    const lastReleaseTag = () => {
        const state = JSON.parse(fs.readFileSync(checkpoint(), "utf8")) as {
            checkpoint: { latest: { resources: { type: string; outputs?: { release?: { tag?: string } } }[] } };
        };
        return state.checkpoint.latest.resources.find((res) => res.type === "pulumi:pulumi:Stack")?.outputs?.release?.tag;
    };

    /** How many updates the backend records for the stack (`pulumi stack history`). */
    async function updates(): Promise<{ kind: string; result: string }[]> {
        const r = await pulumi(["stack", "history", "--stack", STACK, "--json"]);
        return JSON.parse(r.stdout) as { kind: string; result: string }[];
    }

    before(async function () {
        status = ensureCli(this);
        tmp = fs.mkdtempSync(path.join(os.tmpdir(), "ai-fleet-it18-"));
        expect(path.relative(ROOT, tmp).startsWith(".."), `${tmp} is outside the repository`).to.equal(true);
        home = path.join(tmp, "pulumi-home");
        backend = path.join(tmp, "backend");
        project = path.join(tmp, "project");
        fs.mkdirSync(backend);
        fs.mkdirSync(path.join(project, "node_modules", "@pulumi"), { recursive: true });
        fs.symlinkSync(path.join(ROOT, "node_modules", "@pulumi", "pulumi"), path.join(project, "node_modules", "@pulumi", "pulumi"));
        fs.writeFileSync(path.join(project, "Pulumi.yaml"), "name: ai-fleet\nruntime: nodejs\nmain: index.js\n");
        fs.writeFileSync(path.join(project, "package.json"), JSON.stringify({ name: "it18-operator", private: true }));
        fs.writeFileSync(
            path.join(project, "index.js"),
            [
                'const pulumi = require("@pulumi/pulumi");',
                "const cfg = new pulumi.Config();",
                'const tag = "it18-r1";',
                `const services = { Probe: { url: cfg.require("healthUrl"), digest: "${DIGEST}" } };`,
                'exports.machine = "it18";',
                "exports.tag = tag;",
                "exports.report = { tag, services };",
                `exports.release = { tag, images: { Probe: "127.0.0.1:5000/it18/probe@${DIGEST}" } };`,
                'exports.token = cfg.requireSecret("token");',
                "// A failure on demand: in the update only, or in the preview too.",
                "const fail = process.env.IT18_FAIL;",
                'if (fail === "always" || (fail === "update" && !pulumi.runtime.isDryRun())) {',
                "    throw new Error(`it18: the program fails on purpose (${fail})`);",
                "}",
                "",
            ].join("\n"),
        );
        server = http.createServer((_req, res) => res.writeHead(200, { "content-type": "application/json" }).end('{"status":"ok"}'));
        await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
        healthUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/health`;

        // The operator: their own PULUMI_HOME, `pulumi` on PATH, none of this repository's offline settings.
        operator = { ...process.env, PULUMI_HOME: home, PATH: `${status.binDir}${path.delimiter}${process.env.PATH ?? ""}` };
        for (const k of [
            "PULUMI_BACKEND_URL",
            "PULUMI_CONFIG_PASSPHRASE",
            "PULUMI_CONFIG_PASSPHRASE_FILE",
            "PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION",
            "PULUMI_AUTOMATION_API_SKIP_VERSION_CHECK",
            "PULUMI_VERSION",
            "AI_FLEET_OFFLINE",
            "AI_FLEET_PULUMI_BIN_DIR",
        ]) {
            delete operator[k];
        }
        repoStateBefore = snapshot(repoState);
        log(
            `PULUMI_HOME=${home}; CLI ${status.pulumi}; project ${project}; the repository's ${repoState}: ${JSON.stringify(repoStateBefore)}`,
        );
        log(`$ pulumi login file://${backend}: ${(await pulumi(["login", `file://${backend}`])).stdout.trim()}`);
        log(`$ pulumi whoami -v:\n${(await pulumi(["whoami", "-v"])).stdout.trim().replace(/^/gm, "    | ")}`);
        await pulumi(["stack", "init", STACK]);
        await pulumi(["config", "set", "--secret", "token", "it18-secret-value", "--stack", STACK]);
        await pulumi(["config", "set", "healthUrl", healthUrl, "--stack", STACK]);
        // status asks the machine's Docker engine about containers: here a socket that does not exist (no Docker is touched).
        await pulumi(["config", "set", "--path", "ai-fleet:docker.host", `unix://${path.join(tmp, "no-docker.sock")}`, "--stack", STACK]);
        log(
            `${project}/Pulumi.${STACK}.yaml:\n${fs.readFileSync(path.join(project, `Pulumi.${STACK}.yaml`), "utf8").replace(/^/gm, "    | ")}`,
        );
    });

    after(async () => {
        server?.close();
        if (tmp && !process.env.AI_FLEET_IT_KEEP) fs.rmSync(tmp, { recursive: true, force: true });
    });

    it("npm run rollout finds the stack in the backend of `pulumi login`, clears a killed run's lock there, and updates it there", async () => {
        // A lock a killed run left in that backend (this machine, a process that is gone).
        const lockDir = path.join(backend, ".pulumi", "locks", "organization", "ai-fleet", STACK);
        fs.mkdirSync(lockDir, { recursive: true });
        const lock = path.join(lockDir, "00000000-it18-killed-run.json");
        const gone = 2 ** 22 + 18; // above the default pid_max: no such process
        fs.writeFileSync(
            lock,
            JSON.stringify({ pid: gone, username: os.userInfo().username, hostname: os.hostname(), timestamp: new Date().toISOString() }),
        );

        const r = await npmRun("rollout", STACK, { ...operator, PULUMI_CONFIG_PASSPHRASE: PASSPHRASE });
        expect(r.code, r.stderr).to.equal(0);
        const lines = fleetLines(r);
        expect(lines[0]).to.equal(
            `[fleet] your Pulumi setup (the stack is not local): backend file://${backend} (pulumi login), CLI ${status.binDir}/pulumi 3.250.0`,
        );
        expect(r.stderr).to.not.include("offline settings");
        // Plugin acquisition is on, as for `pulumi up`: a missing docker plugin is the engine's to fetch, not a reason for the cli runtime.
        expect(lines).to.include(
            "[fleet] the docker provider plugin is not installed yet: Pulumi acquires it for the update, as `pulumi up` does",
        );
        expect(r.stderr).to.not.include("containers run through the cli runtime");
        expect(r.stderr).to.match(/cleared the stack's lock 00000000-it18-killed-run\.json: left by .*a run that is gone/);
        expect(fs.existsSync(lock)).to.equal(false);
        expect(r.stderr).to.include(`ROLLED OUT: release it18-r1 on ${STACK}`);

        const state = JSON.parse(fs.readFileSync(checkpoint(), "utf8")) as {
            checkpoint: {
                latest: { resources: { type: string; outputs?: Record<string, unknown> }[]; secrets_providers: { type: string } };
            };
        };
        const outputs = state.checkpoint.latest.resources.find((res) => res.type === "pulumi:pulumi:Stack")?.outputs ?? {};
        log(
            `the update is in the operator's backend: ${checkpoint()}: tag=${JSON.stringify(outputs.tag)}, token=${JSON.stringify(outputs.token)}, secrets provider ${state.checkpoint.latest.secrets_providers.type}`,
        );
        expect(outputs.tag).to.equal("it18-r1");
        expect(state.checkpoint.latest.secrets_providers.type).to.equal("passphrase");
        const history = await updates();
        log(`pulumi stack history: ${JSON.stringify(history.map((u) => ({ kind: u.kind, result: u.result })))}`);
        expect(history.map((u) => [u.kind, u.result])).to.deep.equal([["update", "succeeded"]]);

        const after = snapshot(repoState);
        log(`the repository's ${repoState}: before ${JSON.stringify(repoStateBefore)}, after ${JSON.stringify(after)}`);
        expect(after).to.deep.equal(repoStateBefore);
    });

    it("npm run status reads the stack from the same backend: the service on its release, healthy now", async () => {
        const r = await npmRun("status", STACK, { ...operator, PULUMI_CONFIG_PASSPHRASE: PASSPHRASE });
        expect(r.code, r.stderr).to.equal(0);
        expect(r.stdout).to.match(/^SERVICE\s+RELEASE\s+DIGEST\s+HEALTH NOW\s+ROLLED OUT AT\s+CONTAINER\n/);
        expect(r.stdout).to.match(/Probe\s+it18-r1\s+sha256:181818181818…\s+ok\s+no container\s+ai-it18-probe/);
        expect(fleetLines(r)).to.deep.equal([
            `[fleet] your Pulumi setup (the stack is not local): backend file://${backend} (pulumi login), CLI ${status.binDir}/pulumi 3.250.0`,
            `[fleet] ${STACK}: every service healthy on release it18-r1`,
        ]);
        expect(snapshot(repoState)).to.deep.equal(repoStateBefore);
    });

    it("with the passphrase unset, rollout and status stop before anything runs, naming PULUMI_CONFIG_PASSPHRASE and PULUMI_CONFIG_PASSPHRASE_FILE", async () => {
        const before = await updates();
        const stateBefore = fs.readFileSync(checkpoint(), "utf8");
        for (const cmd of ["rollout", "status"] as const) {
            const r = await npmRun(cmd, STACK, operator);
            expect(r.code, r.stderr).to.equal(3);
            expect(fleetLines(r)).to.deep.equal([
                `[fleet] your Pulumi setup (the stack is not local): backend file://${backend} (pulumi login), CLI ${status.binDir}/pulumi 3.250.0`,
                `[fleet] ${cmd}: stack ${STACK} keeps its secrets with a passphrase and none is given: set PULUMI_CONFIG_PASSPHRASE or PULUMI_CONFIG_PASSPHRASE_FILE (nothing was run)`,
            ]);
            expect(r.stdout, "no preview, no update").to.equal("");
        }
        expect(await updates()).to.deep.equal(before);
        expect(fs.readFileSync(checkpoint(), "utf8"), "the state is as it was").to.equal(stateBefore);
        // And not the local demo's public passphrase: that one does not open this stack's secrets.
        expect(fs.readFileSync(path.join(project, `Pulumi.${STACK}.yaml`), "utf8")).to.include("encryptionsalt:");
    });

    it("without `pulumi login` (an empty PULUMI_HOME) the command says so in one line instead of using the repository's file backend", async () => {
        const empty = path.join(tmp, "pulumi-home-not-logged-in");
        fs.mkdirSync(empty);
        const r = await npmRun("status", STACK, { ...operator, PULUMI_HOME: empty, PULUMI_CONFIG_PASSPHRASE: PASSPHRASE });
        expect(r.code).to.equal(3);
        expect(r.stderr.trimEnd().split("\n")).to.deep.equal([
            "[fleet] status: the pulumi CLI cannot tell which backend to use (pulumi whoami: PULUMI_ACCESS_TOKEN must be set for login during non-interactive CLI sessions): `pulumi login` chooses one (or set PULUMI_BACKEND_URL, or pass --backend)",
        ]);
        expect(snapshot(repoState)).to.deep.equal(repoStateBefore);
    });

    it("status on a stack that is not in that backend prints one line (no command line, no exit code, nothing twice)", async () => {
        const r = await npmRun("status", "it18-missing", { ...operator, PULUMI_CONFIG_PASSPHRASE: PASSPHRASE });
        expect(r.code).to.equal(3);
        expect(r.stdout).to.equal("");
        expect(r.stderr.trimEnd().split("\n")).to.deep.equal([
            `[fleet] your Pulumi setup (the stack is not local): backend file://${backend} (pulumi login), CLI ${status.binDir}/pulumi 3.250.0`,
            `[fleet] status: no stack it18-missing of project ai-fleet in the backend file://${backend}: \`pulumi stack ls\` lists that backend's stacks (\`pulumi login\` chooses another backend)`,
        ]);
        expect(snapshot(repoState)).to.deep.equal(repoStateBefore);
    });
    it("a failed update, and a failed preview, read as the program's error once: no CLI dump, no stack frames (exit 1, nothing rolled back)", async () => {
        const env = { ...operator, PULUMI_CONFIG_PASSPHRASE: PASSPHRASE };
        for (const [fail, stage] of [
            ["update", "update"],
            ["always", "preview"],
        ] as const) {
            const r = await npmRun("rollout", STACK, { ...env, IT18_FAIL: fail });
            expect(r.code, r.stderr).to.equal(1);
            const failed = r.stderr.slice(r.stderr.indexOf("[fleet] ROLLOUT FAILED"));
            expect(failed).to.equal(
                `[fleet] ROLLOUT FAILED (not at a health gate, so nothing is rolled back): ${stage} failed:\n` +
                    `Running program '${project}/index.js' failed with an unhandled exception:\n` +
                    `Error: it18: the program fails on purpose (${fail})\n`,
            );
        }
        expect(lastReleaseTag(), "the release that passed is still it18-r1").to.equal("it18-r1");
    });
});
