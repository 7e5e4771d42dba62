/**
 * The whole fleet (mainpc 44 services, pc2 23) from the operator's repository, through the REAL
 * Pulumi engine, with the REAL stack files Pulumi.mainpc.yaml and Pulumi.pc2.yaml (only
 * build.contextRoot points elsewhere). No mocks. The tree is generated in a temp dir from the facts'
 * table (testkit/operatorRepo.ts, not the stack files), a git checkout with exactly the facts' paths:
 * hard-coded multi-stage Dockerfiles, `# syntax=` lines, repository-root COPY sources.
 *
 *  a. `pulumi preview` of each stack refuses the tree as it is: one clean message naming every
 *     hard-coded base (file and line) at once, no JavaScript stack, nothing registered;
 *  b. `npm run adopt-dockerfiles -- <tree>` (the mainpc and pc2 stack files) changes each
 *     hard-coded Dockerfile exactly once; a second run changes nothing;
 *  c. `pulumi preview` then evaluates all 44 mainpc and all 23 pc2 containers (pc2's gate stack,
 *     mainpc, given the reports its `pulumi up` would export: no machine is rolled out here);
 *  d. a checkout lacking some Dockerfiles: `pulumi preview --stack mainpc` names every missing one at once.
 *
 * Only previews: nothing is built, pushed or run. Temp dirs are named ai-fleet-18-*.
 */
import { expect } from "chai";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { EngineEvent, Stack } from "@pulumi/pulumi/automation";
import { readSourceCommit } from "../../buildTree/sourceTree";
import { resolveTag } from "../../naming";
import { readStackDocument } from "../../stackFile";
import {
    builtDockerfiles,
    FAMILIES,
    Machine,
    MACHINES,
    oldRef,
    SERVICES,
    UNBUILT_VARIANTS,
    writeOperatorRepo,
} from "../../testkit/operatorRepo";
import { createStack, ensureSetup, ROOT, secondsSince, TempProject, tempProject, ToolchainStatus } from "./support/engine";
import { log, must, run, RunResult } from "./support/proc";

const FLEET_SERVICE = "ai-fleet:fleet:FleetService";
const FLEET_IMAGE = "ai-fleet:images:FleetImage";
/** What a JavaScript stack trace or an unhandled-exception report looks like in the CLI's output. */
const STACK_TRACE = /^\s+at .+\(.*:\d+:\d+\)$|unhandled exception|^\s+at Object\.<anonymous>/im;
const GIT = ["-c", "user.email=it18@example.invalid", "-c", "user.name=it18"];

function show(r: RunResult): string {
    return `\n$ ${r.cmd}\nexit ${r.code}\n--- stdout\n${r.stdout.trim()}\n--- stderr\n${r.stderr.trim()}\n`;
}

/** The 1-based lines of a Dockerfile's FROMs: the first is the hard-coded one in the generated tree, the last the final stage's. */
function fromLines(text: string): number[] {
    return text
        .split("\n")
        .map((l, i) => (/^FROM\s/.test(l) ? i + 1 : 0))
        .filter((n) => n > 0);
}

/** A preview's outcome: whether it passed, everything it printed, its engine events. */
interface Preview {
    ok: boolean;
    text: string;
    events: EngineEvent[];
    summary?: Record<string, number>;
}

async function preview(stack: Stack, label: string): Promise<Preview> {
    const start = Date.now();
    const events: EngineEvent[] = [];
    const out: string[] = [];
    try {
        const r = await stack.preview({ onEvent: (e) => events.push(e), onOutput: (l) => out.push(l) });
        log(`pulumi preview --stack ${stack.name} (${label}): passed in ${secondsSince(start)} s`);
        return { ok: true, text: out.join(""), events, summary: r.changeSummary as Record<string, number> };
    } catch (e) {
        log(`pulumi preview --stack ${stack.name} (${label}): failed in ${secondsSince(start)} s`);
        return { ok: false, text: `${out.join("")}\n${String(e)}`, events };
    }
}

/**
 * The preflight's message as the CLI printed it under Diagnostics (the progress lines repeat its
 * first line alone): from "the build contexts under" through its problems and the adopt hint, dedented.
 */
function preflightBlock(text: string): string {
    const lines = text.split("\n");
    let best: string[] = [];
    lines.forEach((l, i) => {
        if (!l.includes("the build contexts under")) return;
        let last = i;
        while (last + 1 < lines.length && /^\s+- |^\s*A hard-coded base/.test(lines[last + 1])) last += 1;
        if (last - i + 1 > best.length) best = lines.slice(i, last + 1);
    });
    const indent = Math.min(...best.map((l) => (/^\s*/.exec(l) as RegExpExecArray)[0].length));
    return best.map((l) => l.slice(indent)).join("\n");
}

/** Planned resources by type (preview's resourcePreEvents with op create). */
function createdByType(events: EngineEvent[]): Record<string, string[]> {
    const out: Record<string, string[]> = {};
    for (const e of events) {
        const m = e.resourcePreEvent?.metadata;
        if (m && m.op === "create") (out[m.type] ??= []).push(m.urn.split("::").pop() as string);
    }
    return out;
}

describe("integration: the whole fleet from the operator's tree, adopt-dockerfiles, and `pulumi preview` of mainpc and pc2 (issue 18)", function () {
    this.timeout(30 * 60 * 1000);
    let status: ToolchainStatus;
    let project: TempProject;
    let tree: string;
    let files: Record<string, string>;
    const stacks = {} as Record<Machine, Stack>;
    const built = builtDockerfiles();
    const hardCoded = [...built.entries()].filter(([, b]) => b.base === "hard-coded").map(([f]) => f);

    before(async function () {
        status = ensureSetup(this);
        tree = fs.mkdtempSync(path.join(os.tmpdir(), "ai-fleet-18-operator-"));
        files = writeOperatorRepo(tree);
        await must("git", ["-C", tree, "init", "-q"]);
        await must("git", ["-C", tree, ...GIT, "add", "."]);
        await must("git", ["-C", tree, ...GIT, "commit", "-qm", "the operator's tree, as the facts list it"]);
        const dockerfiles = Object.keys(files).filter((f) => /(^|\/)Dockerfile/.test(f));
        log(
            `generated the operator's tree in ${tree}: ${Object.keys(files).length} files, ${dockerfiles.length} Dockerfiles ` +
                `(${built.size} built by the stacks, ${hardCoded.length} of them hard-coded; ` +
                `${dockerfiles.filter((f) => files[f].startsWith("# syntax=")).length} with a # syntax= line)`,
        );

        project = tempProject(ROOT);
        // The stacks' registry.passwordEnv: a preview logs in nowhere and pushes nothing.
        project.env.GHCR_TOKEN = "it18-preview-only";
        if (!status.plugins.docker) {
            // The rollout command's documented override (release.ts RUNTIME_ENV): the same container
            // settings through `docker run` command resources, for a machine without the docker plugin.
            project.env.AI_FLEET_DOCKER_RUNTIME = "cli";
            log(`docker provider plugin missing here (${status.missing?.docker ?? "not installed"}): AI_FLEET_DOCKER_RUNTIME=cli`);
        }
        for (const machine of MACHINES) {
            stacks[machine] = await createStack(project, machine, status, {});
            // The real stack file, byte for byte, but for build.contextRoot (and the salt `stack init` wrote).
            const real = fs.readFileSync(path.join(ROOT, `Pulumi.${machine}.yaml`), "utf8");
            const pointed = real.replace(/^( {4}contextRoot: )\.\.\/ai_system$/m, `$1${tree}`);
            expect(pointed, `Pulumi.${machine}.yaml has contextRoot: ../ai_system`).to.not.equal(real);
            const file = path.join(project.dir, `Pulumi.${machine}.yaml`);
            const salt = readStackDocument(file).encryptionsalt;
            fs.writeFileSync(file, salt ? `${pointed.trimEnd()}\nencryptionsalt: ${salt}\n` : pointed);
        }
    });

    after(() => {
        project?.cleanup();
        if (tree) fs.rmSync(tree, { recursive: true, force: true });
    });

    for (const machine of MACHINES) {
        it(`a. ${machine}: \`pulumi preview\` refuses the tree as it is, naming every hard-coded base at once, without a stack trace`, async () => {
            const p = await preview(stacks[machine], "before adoption");
            const block = preflightBlock(p.text);
            log(`${machine}: the refusal, as \`pulumi preview\` printed it under Diagnostics:\n${block}`);
            expect(p.ok, p.text).to.equal(false);
            const expected = [
                ...["base-utils", "base-cpu-pydeps"].map((name) => {
                    const f = FAMILIES[name];
                    return `- family ${name} (parent ${f.parent}): ${f.dockerfile}:${fromLines(files[f.dockerfile])[0]}: the final stage builds FROM ${oldRef(f.parent as string)} instead of \${BASE_IMAGE}`;
                }),
                ...Object.entries(SERVICES[machine])
                    .filter(([, s]) => s.base === "hard-coded")
                    .map(([name, s]) => {
                        const [line, ...later] = fromLines(files[s.dockerfile]);
                        return (
                            `- service ${name} (family ${s.family}): ${s.dockerfile}:${line}: the final stage (line ${later.pop()}) builds on ` +
                            `stage "base" (line ${line}), which builds FROM ${oldRef(s.family)} instead of \${BASE_IMAGE}`
                        );
                    }),
            ];
            expect(block).to.contain(`error: the build contexts under ${tree} are not ready (${expected.length} problems):`);
            const missing = expected.filter((e) => !block.includes(e));
            expect(missing, `not in the message:\n${missing.join("\n")}`).to.deep.equal([]);
            expect(block.split("\n").filter((l) => l.trim().startsWith("- "))).to.have.length(expected.length);
            expect(block).to.contain(`npm run adopt-dockerfiles -- ${tree} --stack ${machine}`);
            expect(block).to.not.contain("not found");
            expect(p.text).to.not.match(STACK_TRACE);
            expect(p.events.filter((e) => e.resourcePreEvent?.metadata.type === FLEET_SERVICE)).to.have.length(0);
            expect((await stacks[machine].exportStack()).deployment.resources ?? []).to.have.length(0);
        });
    }

    it("b. `npm run adopt-dockerfiles -- <tree>` changes each hard-coded Dockerfile exactly once; a second run changes nothing", async () => {
        const first = await run("npm", ["run", "--silent", "adopt-dockerfiles", "--", tree]);
        const lines = first.stdout.trim().split("\n");
        log(
            `npm run adopt-dockerfiles -- <tree> (exit ${first.code}), ${lines.length} lines; first and last:\n${[...lines.slice(0, 4), "…", ...lines.slice(-2)].join("\n")}`,
        );
        expect(first.code, show(first)).to.equal(0);
        expect(first.stdout).to.contain(
            `changed ${hardCoded.length} Dockerfile(s); ${built.size - hardCoded.length} already FROM \${BASE_IMAGE}; 0 finding(s)`,
        );
        const inserted = lines.filter((l) => l.includes(": inserted before line ")).map((l) => l.split(":")[0]);
        expect(inserted.sort()).to.deep.equal([...hardCoded].sort());
        const diff = await must("git", ["-C", tree, "diff", "--numstat"]);
        const stats = diff.stdout
            .trim()
            .split("\n")
            .map((l) => l.split("\t"));
        expect(stats.map((s) => s[2]).sort(), "the changed files are exactly the hard-coded ones").to.deep.equal([...hardCoded].sort());
        for (const [added, removed, file] of stats) {
            // One ARG line inserted, the one hard-coded FROM rewritten in place: nothing else.
            expect([Number(added), Number(removed)], file).to.deep.equal([2, 1]);
        }
        for (const variant of Object.keys(UNBUILT_VARIANTS)) {
            expect(fs.readFileSync(path.join(tree, variant), "utf8"), `${variant} is built by no stack`).to.equal(files[variant]);
        }
        const diffBefore = (await must("git", ["-C", tree, "diff"])).stdout;
        const second = await run("npm", ["run", "--silent", "adopt-dockerfiles", "--", tree]);
        log(`second run (exit ${second.code}): ${second.stdout.trim()}`);
        expect(second.code, show(second)).to.equal(0);
        expect(second.stdout.trim()).to.equal(`changed 0 Dockerfile(s); ${built.size} already FROM \${BASE_IMAGE}; 0 finding(s)`);
        expect((await must("git", ["-C", tree, "diff"])).stdout).to.equal(diffBefore);
        // As the README says: commit the result in the operator's repository (a clean tag again).
        await must("git", ["-C", tree, ...GIT, "commit", "-qam", "adopt-dockerfiles: ARG BASE_IMAGE"]);
    });

    /** A passed preview of `machine` that planned every container and image of the facts' fleet: logged, then asserted. */
    function expectWholeFleet(p: Preview, machine: Machine, extra = ""): void {
        const byType = createdByType(p.events);
        const names = Object.keys(SERVICES[machine]);
        // The container itself: a docker provider Container, or the cli runtime's `docker run` command.
        const inner = (
            byType[project.env.AI_FLEET_DOCKER_RUNTIME === "cli" ? "command:local:Command" : "docker:index/container:Container"] ?? []
        ).filter((n) => n.endsWith("-container"));
        // The summary counts every planned resource but the default providers.
        const planned = p.events.filter(
            (e) => e.resourcePreEvent?.metadata.op === "create" && !e.resourcePreEvent.metadata.type.startsWith("pulumi:providers:"),
        );
        log(
            `${machine} preview: changeSummary ${JSON.stringify(p.summary)}; planned ${FLEET_SERVICE} ${byType[FLEET_SERVICE]?.length ?? 0}, ` +
                `their containers ${inner.length}, ${FLEET_IMAGE} ${byType[FLEET_IMAGE]?.length ?? 0}${extra}\n` +
                p.text.slice(p.text.lastIndexOf("Resources:")).trim(),
        );
        expect(p.ok, p.text.slice(-4000)).to.equal(true);
        const expected = [...names].sort();
        expect((byType[FLEET_SERVICE] ?? []).sort()).to.deep.equal(expected);
        expect(inner.sort()).to.deep.equal(expected.map((n) => `${n}-container`).sort());
        expect(byType["docker-build:index:Image"]).to.have.length(Object.keys(FAMILIES).length + names.length);
        expect(byType[FLEET_IMAGE]).to.have.length(Object.keys(FAMILIES).length);
        expect(p.summary?.create).to.equal(planned.length);
        expect(p.text).to.not.match(STACK_TRACE);
    }

    it("c. `pulumi preview --stack mainpc` then evaluates all 44 containers (53 images)", async () => {
        expectWholeFleet(await preview(stacks.mainpc, "adopted"), "mainpc");
    });

    it("c. `pulumi preview --stack pc2` evaluates all 23 containers (32 images), its gate stack mainpc read", async () => {
        // pc2's rollout.gateStack is organization/ai-fleet/mainpc: give that stack the outputs its
        // `pulumi up` would export for this release (what pc2's gate and SpeechRelayService's
        // cross-machine dependency on StreamingTTS read); no machine is rolled out by this test.
        const tag = resolveTag({ commit: readSourceCommit(tree) }).tag;
        const health = (service: string) => ({
            service,
            host: "mainpc",
            url: `http://mainpc/${service}/health`,
            healthy: true,
            status: "ok",
            httpStatus: 200,
            attempts: 1,
            elapsedSeconds: 1,
            digest: `sha256:${"0".repeat(64)}`,
            required: true,
        });
        const reportOf = (names: string[]) => ({
            machine: "mainpc",
            tag,
            healthy: true,
            services: Object.fromEntries(names.map((n) => [n, health(n)])),
        });
        const exported = await stacks.mainpc.exportStack();
        await stacks.mainpc.importStack({
            version: 3,
            deployment: {
                ...exported.deployment,
                manifest: exported.deployment.manifest ?? { time: new Date().toISOString(), magic: "", version: "" },
                resources: [
                    {
                        urn: "urn:pulumi:mainpc::ai-fleet::pulumi:pulumi:Stack::ai-fleet-mainpc",
                        custom: false,
                        type: "pulumi:pulumi:Stack",
                        outputs: {
                            machine: "mainpc",
                            tag,
                            canaryReport: reportOf(["ModelOpsCoordinator", "RealTimeAudioPipeline", "AffectiveProcessingCenter"]),
                            report: reportOf(Object.keys(SERVICES.mainpc)),
                        },
                    },
                ],
            },
        });
        log(`gate stack mainpc: imported a state whose canaryReport and report are healthy for release ${tag}`);
        const p = await preview(stacks.pc2, "adopted");
        const reads = p.events.filter((e) => e.resourcePreEvent?.metadata.type === "pulumi:pulumi:StackReference").length;
        expectWholeFleet(p, "pc2", `, StackReference events ${reads}`);
        expect(reads, "the gate stack is read").to.be.greaterThan(0);
    });

    it("d. a checkout lacking some Dockerfiles: `pulumi preview --stack mainpc` names every missing one at once", async () => {
        const gone = [
            SERVICES.mainpc.ModelOpsCoordinator.dockerfile,
            SERVICES.mainpc.NLU.dockerfile,
            SERVICES.mainpc.SystemDigitalTwin.dockerfile,
            SERVICES.mainpc.SelfHealingSupervisor.dockerfile,
            FAMILIES["family-llm-cu121"].dockerfile,
        ];
        for (const f of gone) fs.rmSync(path.join(tree, f));
        const p = await preview(stacks.mainpc, `${gone.length} Dockerfiles removed`);
        const block = preflightBlock(p.text);
        log(`mainpc, ${gone.length} Dockerfiles removed: the refusal:\n${block}`);
        expect(p.ok).to.equal(false);
        expect(block).to.contain(`error: the build contexts under ${tree} are not ready (${gone.length} problems):`);
        for (const [name, key] of [
            ["family family-llm-cu121 (parent family-torch-cu121)", "ai-fleet:families.family-llm-cu121"],
            ["service ModelOpsCoordinator (family family-llm-cu121)", "ai-fleet:services.ModelOpsCoordinator"],
            ["service NLU (family legacy-py310-cpu)", "ai-fleet:services.NLU"],
            ["service SelfHealingSupervisor (family base-cpu-pydeps)", "ai-fleet:services.SelfHealingSupervisor"],
            ["service SystemDigitalTwin (family base-cpu-pydeps)", "ai-fleet:services.SystemDigitalTwin"],
        ]) {
            const file = gone.find((f) => block.includes(`- ${name}: Dockerfile ${f} not found under ${tree} (${key}.dockerfile`));
            expect(file, `${name} is named with its file and keys`).to.not.equal(undefined);
        }
        expect(p.text).to.not.match(STACK_TRACE);
    });
});
