/**
 * Which Pulumi settings the commands run with (decide.ts pulumiSettings: the offline settings for
 * the stack `local` and AI_FLEET_OFFLINE=1, the operator's own setup everywhere else), when a
 * stack needs a passphrase, how a failure reads (a real CommandError of the Automation API, from a
 * stand-in CLI script), which `pulumi` on PATH is the operator's, and the lock handling of
 * backends that are not files. No engine.
 */
import { expect } from "chai";
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { LocalWorkspace, PulumiCommand, Stack } from "@pulumi/pulumi/automation";
import {
    cliErrorText,
    EXIT,
    failureReport,
    failureSummary,
    hasPassphrase,
    lockAdvice,
    passphraseProblem,
    pluginAcquisitionOff,
    pulumiSettings,
    Refusal,
    runtimeChoice,
    usesPassphrase,
} from "../../cli/decide";
import { operatorEnv, prepare, pulumiOnPath } from "../../cli/workspace";

describe("which Pulumi settings a command runs with", () => {
    it("the offline settings for the stack local, the operator's setup for every other stack", () => {
        expect(pulumiSettings("local", {})).to.deep.equal({ offline: true, why: "the stack is local" });
        expect(pulumiSettings("organization/ai-fleet/local", {})).to.include({ offline: true });
        expect(pulumiSettings("mainpc", {})).to.deep.equal({ offline: false, why: "the stack is not local" });
        expect(pulumiSettings("pc2", { PULUMI_BACKEND_URL: "file:///x" })).to.include({ offline: false });
        expect(pulumiSettings("localhost", {})).to.include({ offline: false });
    });

    it("AI_FLEET_OFFLINE=1 (exported by scripts/pulumi-offline-env.sh) forces them, =0 turns them off even for local", () => {
        expect(pulumiSettings("it9-rollout", { AI_FLEET_OFFLINE: "1" })).to.deep.equal({ offline: true, why: "AI_FLEET_OFFLINE=1" });
        expect(pulumiSettings("mainpc", { AI_FLEET_OFFLINE: "true" })).to.include({ offline: true });
        expect(pulumiSettings("local", { AI_FLEET_OFFLINE: "0" })).to.deep.equal({ offline: false, why: "AI_FLEET_OFFLINE=0" });
        expect(pulumiSettings("mainpc", { AI_FLEET_OFFLINE: "" })).to.include({ offline: false });
        expect(() => pulumiSettings("mainpc", { AI_FLEET_OFFLINE: "yes" }))
            .to.throw(Refusal)
            .with.property("message", "AI_FLEET_OFFLINE=yes: expected 1 (the offline settings) or 0 (your Pulumi setup)");
    });

    it("scripts/pulumi-offline-env.sh exports the switch (so the tests, npm start and a shell that sourced it keep the offline settings)", () => {
        const script = fs.readFileSync(path.join(__dirname, "..", "..", "scripts", "pulumi-offline-env.sh"), "utf8");
        expect(script).to.match(/^export AI_FLEET_OFFLINE=1$/m);
    });

    it("the operator's environment reaches the CLI as it is: no offline key is added, --backend sets PULUMI_BACKEND_URL for the run", () => {
        const env = operatorEnv(undefined, { PATH: "/usr/bin", PULUMI_HOME: "/h", HOME: "/root" });
        expect(env).to.deep.equal({ PATH: "/usr/bin", PULUMI_HOME: "/h", HOME: "/root", PULUMI_NODEJS_TRANSPILE_ONLY: "true" });
        expect(operatorEnv("s3://bucket", { PULUMI_BACKEND_URL: "file:///x" }).PULUMI_BACKEND_URL).to.equal("s3://bucket");
        expect(operatorEnv(undefined, { PULUMI_NODEJS_TRANSPILE_ONLY: "false" }).PULUMI_NODEJS_TRANSPILE_ONLY).to.equal("false");
    });
});

describe("plugins: acquired as Pulumi does unless the environment turns that off", () => {
    it("reads PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION as the CLI does (1 or true)", () => {
        expect(pluginAcquisitionOff({ PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION: "true" })).to.equal(true);
        expect(pluginAcquisitionOff({ PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION: "1" })).to.equal(true);
        expect(pluginAcquisitionOff({ PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION: "TRUE" })).to.equal(true);
        expect(pluginAcquisitionOff({ PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION: "false" })).to.equal(false);
        expect(pluginAcquisitionOff({})).to.equal(false);
    });

    it("falls back to the cli runtime only where a missing docker plugin cannot be acquired", () => {
        expect(runtimeChoice("provider", false, true).override).to.equal("cli");
        expect(runtimeChoice("provider", false, true).line).to.match(/^NOTE: the docker provider plugin is not installed here/);
        expect(runtimeChoice("provider", false, false)).to.deep.equal({
            line: "the docker provider plugin is not installed yet: Pulumi acquires it for the update, as `pulumi up` does",
        });
        expect(runtimeChoice("provider", true, true)).to.deep.equal({});
        expect(runtimeChoice("cli", false, false).override).to.equal(undefined);
        expect(runtimeChoice("cli", false, false).line).to.match(/the stack's ai-fleet:docker.runtime is cli/);
    });
});

describe("a stack's passphrase", () => {
    it("is needed where the stack file names the passphrase provider or has a salt, else where the state records it", () => {
        expect(usesPassphrase({ encryptionSalt: "v1:abc" })).to.equal(true);
        expect(usesPassphrase({ secretsProvider: "passphrase" })).to.equal(true);
        expect(usesPassphrase({ secretsProvider: "awskms://alias/x", stateProvider: "passphrase" })).to.equal(false);
        expect(usesPassphrase({ stateProvider: "passphrase" })).to.equal(true);
        expect(usesPassphrase({ stateProvider: "service" })).to.equal(false);
        expect(usesPassphrase({})).to.equal(false);
    });

    it("is given by PULUMI_CONFIG_PASSPHRASE (even empty) or a non-empty PULUMI_CONFIG_PASSPHRASE_FILE", () => {
        expect(hasPassphrase({ PULUMI_CONFIG_PASSPHRASE: "" })).to.equal(true);
        expect(hasPassphrase({ PULUMI_CONFIG_PASSPHRASE_FILE: "/run/secrets/p" })).to.equal(true);
        expect(hasPassphrase({ PULUMI_CONFIG_PASSPHRASE_FILE: "" })).to.equal(false);
        expect(hasPassphrase({})).to.equal(false);
    });

    it("missing, is a refusal naming both variables; nothing to say for a stack without passphrase secrets", () => {
        expect(passphraseProblem("mainpc", { encryptionSalt: "v1:abc" }, {})).to.equal(
            "stack mainpc keeps its secrets with a passphrase and none is given: set PULUMI_CONFIG_PASSPHRASE or PULUMI_CONFIG_PASSPHRASE_FILE (nothing was run)",
        );
        expect(passphraseProblem("mainpc", { encryptionSalt: "v1:abc" }, { PULUMI_CONFIG_PASSPHRASE: "p" })).to.equal(undefined);
        expect(passphraseProblem("mainpc", { stateProvider: "service" }, {})).to.equal(undefined);
    });
});

describe("a command's failure reads as one line", function () {
    this.timeout(20000);
    let dir: string;
    before(() => {
        // A stand-in CLI: `version` answers, every other command fails as the CLI does for a missing stack.
        dir = fs.mkdtempSync(path.join(os.tmpdir(), "ai-fleet-18-cli-"));
        fs.mkdirSync(path.join(dir, "bin"));
        fs.writeFileSync(
            path.join(dir, "bin", "pulumi"),
            '#!/bin/sh\nif [ "$1" = version ]; then echo v3.250.0; exit 0; fi\necho "error: no stack named \'nosuch\' found" >&2\nexit 255\n',
            { mode: 0o755 },
        );
        fs.writeFileSync(path.join(dir, "Pulumi.yaml"), "name: it18\nruntime: nodejs\n");
    });
    after(() => fs.rmSync(dir, { recursive: true, force: true }));

    it("the Automation API's CommandError holds the CLI's command line, exit code and error twice; the report keeps the error once", async () => {
        const pulumiCommand = await PulumiCommand.get({ root: dir, skipVersionCheck: true });
        const ws = await LocalWorkspace.create({ workDir: dir, pulumiCommand });
        const err = await Stack.select("nosuch", ws).then(
            () => undefined,
            (e: Error) => e,
        );
        expect(err?.name).to.equal("StackNotFoundError");
        // What the commands printed before: the CLI's line (and the command line) more than once.
        expect(err?.message.split("no stack named 'nosuch' found").length).to.be.greaterThan(2);
        expect(err?.message).to.include("stack select --stack nosuch");
        expect(cliErrorText(err)).to.equal("no stack named 'nosuch' found");
        const report = failureReport("status", "nosuch", err);
        expect(report).to.deep.equal({ line: "status: the pulumi CLI failed: no stack named 'nosuch' found", code: EXIT.error });
    });

    it("a refusal is its message with exit 3; a lock held by another update names `pulumi cancel`; a bug keeps its stack trace (exit 4)", () => {
        expect(failureReport("rollout", "mainpc", new Refusal("no stack mainpc"))).to.deep.equal({
            line: "rollout: no stack mainpc",
            code: EXIT.refused,
        });
        const locked = Object.assign(new Error("code: -2"), {
            name: "ConcurrentUpdateError",
            commandResult: { stderr: "", code: -2, err: { stderr: "error: [409] Conflict: Another update is currently in progress.\n" } },
        });
        expect(failureReport("rollout", "mainpc", locked)).to.deep.equal({
            line: "rollout: stack mainpc is locked by another update ([409] Conflict: Another update is currently in progress.); nothing was changed: if no run is going on, `pulumi cancel --stack mainpc`",
            code: EXIT.refused,
        });
        const bug = failureReport("status", "mainpc", new TypeError("x.y is undefined"));
        expect(bug.code).to.equal(EXIT.error);
        expect(bug.line).to.equal("status: unexpected error (a bug), its stack trace:");
        expect(bug.trace).to.match(/^TypeError: x\.y is undefined\n\s+at /);
        expect(cliErrorText(new Error("plain"))).to.equal(undefined);
    });
});

describe("a failed preview or update reads as the engine's errors once", () => {
    it("each diagnostic once, without a program exception's stack frames; else the CLI's error; else the message", () => {
        const exception =
            "Running program 'index.js' failed with an unhandled exception:\nError: boom\n    at Object.<anonymous> (index.js:1:7)\n    at Module._compile (node:internal)\n";
        expect(failureSummary([exception, exception, "  "], "update failed", "code: -2 …")).to.equal(
            "Running program 'index.js' failed with an unhandled exception:\nError: boom",
        );
        expect(failureSummary([], "update failed", "code: -2 …")).to.equal("update failed");
        expect(failureSummary([], undefined, "plain")).to.equal("plain");
    });
});

describe("the operator's `pulumi` on PATH", () => {
    let dir: string;
    const exe = (p: string) => {
        fs.mkdirSync(path.dirname(p), { recursive: true });
        fs.writeFileSync(p, "#!/bin/sh\n", { mode: 0o755 });
    };
    beforeEach(() => (dir = fs.mkdtempSync(path.join(os.tmpdir(), "ai-fleet-18-path-"))));
    afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

    it("is the first executable one, skipping node_modules/.bin (npm run's own) and what is not executable", () => {
        exe(path.join(dir, "repo", "node_modules", ".bin", "pulumi"));
        fs.mkdirSync(path.join(dir, "plain"));
        fs.writeFileSync(path.join(dir, "plain", "pulumi"), "not executable", { mode: 0o644 });
        exe(path.join(dir, "usr", "local", "bin", "pulumi"));
        const PATH = [
            path.join(dir, "repo", "node_modules", ".bin"),
            path.join(dir, "plain"),
            "",
            path.join(dir, "usr", "local", "bin"),
        ].join(path.delimiter);
        expect(pulumiOnPath(PATH)).to.equal(path.join(dir, "usr", "local", "bin", "pulumi"));
        expect(pulumiOnPath(path.join(dir, "repo", "node_modules", ".bin"))).to.equal(undefined);
    });
});

describe("locks in a backend that keeps them itself", () => {
    it("are not touched: the command says what to do (`pulumi cancel`); a file backend's stale lock is still cleared", async () => {
        const said: string[] = [];
        const write = process.stderr.write.bind(process.stderr);
        const calls: string[] = [];
        const stack = {
            name: "mainpc",
            workspace: { projectSettings: async () => ({ name: "ai-fleet" }) },
            exportStack: async () => {
                calls.push("export");
                return { version: 3, deployment: {} };
            },
            importStack: async () => calls.push("import"),
        } as unknown as Stack;
        process.stderr.write = ((chunk: string) => said.push(String(chunk)) > 0) as typeof process.stderr.write;
        let result;
        try {
            result = await prepare(stack, "https://api.pulumi.com");
        } finally {
            process.stderr.write = write;
        }
        expect(result).to.deep.equal({ locksCleared: 0, pending: 0 });
        expect(said).to.deep.equal([`[fleet] ${lockAdvice("https://api.pulumi.com", "mainpc")}\n`]);
        expect(said[0]).to.include("`pulumi cancel --stack mainpc`").and.include("nothing is cleared here");
        expect(calls, "pending operations are still read (through the CLI)").to.deep.equal(["export"]);

        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "ai-fleet-18-locks-"));
        try {
            const lock = path.join(dir, ".pulumi", "locks", "organization", "ai-fleet", "mainpc", "dead.json");
            fs.mkdirSync(path.dirname(lock), { recursive: true });
            fs.writeFileSync(lock, JSON.stringify({ pid: spawnSync("true").pid, hostname: os.hostname() }));
            process.stderr.write = ((chunk: string) => said.push(String(chunk)) > 0) as typeof process.stderr.write;
            try {
                result = await prepare(stack, `file://${dir}`);
            } finally {
                process.stderr.write = write;
            }
            expect(result).to.deep.equal({ locksCleared: 1, pending: 0 });
            expect(fs.existsSync(lock)).to.equal(false);
        } finally {
            fs.rmSync(dir, { recursive: true, force: true });
        }
    });
});
