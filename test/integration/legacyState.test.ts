/**
 * A stack rolled out by an earlier version of the program keeps every resource under the current
 * one, through the real Pulumi engine (no mocks). The earlier versions are taken from git:
 *   - 0d99be7, the last one with the image components FamilyImage and ServiceImage and the
 *     `<machine>-canary`/`<machine>-batch` group components, config.ts and deploy.ts in one piece;
 *   - 8bfbfd1, the last one before FleetService: a service as five components at the stack's root
 *     (FleetImage, ImageVerification, ImageScan, ServiceContainer, HealthCheck).
 * Each rolls the local stack out (the build phase alone, or everything with containers through the
 * cli runtime); then the current program, run from the same directory (the probe commands are paths
 * relative to it), must plan only component moves (FleetService components created, the old ones
 * deleted: no custom resource created, updated, replaced or deleted), and its `up` must keep every
 * image, check and container (the same ids: nothing rebuilt, re-run or restarted).
 */
import { expect } from "chai";
import { execFileSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { EngineEvent, Stack } from "@pulumi/pulumi/automation";
import { buildOnlyConfig, copyDemo, createStack, ensureSetup, ROOT, secondsSince, tempProject, ToolchainStatus } from "./support/engine";

/** The program before the image components merged (FamilyImage, ServiceImage) and before config/ and deploy/. */
const LEGACY_COMMIT = "0d99be7d39c3a09bb727b7660cc6f2571ac4f8d4";
/** The program before FleetService (issue 19). */
const BEFORE_FLEET_SERVICE = "8bfbfd13d1bb7ffff255778d1832f4eb5f71a9a7";
/** Component types: what may be created or deleted when a stack moves under the current program. */
const COMPONENT_TYPES = new Set([
    "ai-fleet:fleet:FleetService",
    "ai-fleet:images:FleetImage",
    "ai-fleet:images:FamilyImage",
    "ai-fleet:images:ServiceImage",
    "ai-fleet:images:ImageVerification",
    "ai-fleet:images:ImageScan",
    "ai-fleet:containers:ServiceContainer",
    "ai-fleet:rollout:HealthCheck",
    "ai-fleet:rollout:Canary",
    "ai-fleet:rollout:Batch",
]);
const TAG = "it-legacy-state";
/** Top-level entries of the repository that are not the program. */
const NOT_PROGRAM = new Set([".git", "node_modules", "test", "bench", "demo", "docs", "bin", ".pulumi-state", ".ci"]);

/** Replaces the program in `dest` by the repository's current one (keeping dest/node_modules). */
function installCurrentProgram(dest: string): void {
    for (const entry of fs.readdirSync(dest)) {
        if (entry !== "node_modules") {
            fs.rmSync(path.join(dest, entry), { recursive: true, force: true });
        }
    }
    for (const entry of fs.readdirSync(ROOT)) {
        if (!NOT_PROGRAM.has(entry)) {
            fs.cpSync(path.join(ROOT, entry), path.join(dest, entry), { recursive: true });
        }
    }
}

function removeLocalContainers(): void {
    const ids = execFileSync("docker", ["ps", "-aq", "--filter", "label=ai-fleet.stack=local"], { encoding: "utf8" }).trim();
    if (ids) {
        execFileSync("docker", ["rm", "-f", ...ids.split("\n")], { stdio: "ignore" });
    }
}

interface StateResource {
    urn: string;
    type: string;
    id?: string;
}

/** One step the engine planned or took. */
interface Step {
    op: string;
    type: string;
    urn: string;
}

function recordStep(e: EngineEvent, steps: Step[]): void {
    const m = e.resourcePreEvent?.metadata;
    if (m) {
        steps.push({ op: m.op, type: m.type, urn: m.urn });
    }
}

/** Ids (and start times) of the local stack's running containers: a restarted container has a new start time. */
function runningContainerIds(): string[] {
    const ids = execFileSync("docker", ["ps", "-q", "--filter", "label=ai-fleet.stack=local"], { encoding: "utf8" }).trim();
    if (!ids) {
        return [];
    }
    return execFileSync("docker", ["inspect", "--format", "{{.Id}} {{.State.StartedAt}}", ...ids.split("\n")], { encoding: "utf8" })
        .trim()
        .split("\n")
        .sort();
}

const log = (line: string) => process.stderr.write(`[legacy] ${line}\n`);

describe("a stack rolled out by the earlier program keeps its resources under the current one (real engine)", function () {
    this.timeout(20 * 60 * 1000);
    let status: ToolchainStatus;
    let password: string;

    before(function () {
        status = ensureSetup(this);
        for (const commit of [LEGACY_COMMIT, BEFORE_FLEET_SERVICE]) {
            try {
                execFileSync("git", ["-C", ROOT, "cat-file", "-e", `${commit}^{commit}`], { stdio: "ignore" });
            } catch {
                log(`SKIPPED: commit ${commit} is not in this checkout (a shallow clone?)`);
                this.skip();
            }
        }
        password = process.env.AI_FLEET_REGISTRY_PASSWORD ?? "fleet-local-pass";
    });

    const buildPhase = (demo: string) => buildOnlyConfig(demo, password);
    const wholeRollout = (demo: string) => {
        const cfg = buildOnlyConfig(demo, password);
        delete cfg["ai-fleet:phase"];
        cfg["ai-fleet:docker"] = { ...(cfg["ai-fleet:docker"] as object), runtime: "cli" };
        cfg["ai-fleet:rollout"] = {
            ...(cfg["ai-fleet:rollout"] as object),
            health: { timeoutSeconds: 40, intervalSeconds: 0.5, retries: 200, requestTimeoutSeconds: 2 },
        };
        return cfg;
    };
    const cases: { commit: string; what: string; config: (demo: string) => Record<string, unknown>; containers: boolean }[] = [
        { commit: LEGACY_COMMIT, what: "the build phase", config: buildPhase, containers: false },
        { commit: LEGACY_COMMIT, what: "the whole rollout with containers (cli runtime)", config: wholeRollout, containers: true },
        { commit: BEFORE_FLEET_SERVICE, what: "the whole rollout with containers (cli runtime)", config: wholeRollout, containers: true },
    ];

    for (const c of cases) {
        it(`${c.what} by ${c.commit.slice(0, 7)}: the current program plans only component moves, and its up keeps every image, check and container`, async () => {
            removeLocalContainers();
            const project = tempProject("program");
            let stack: Stack | undefined;
            try {
                const program = path.join(project.dir, "program");
                fs.mkdirSync(program);
                execFileSync("bash", ["-c", 'git -C "$1" archive --format=tar "$2" | tar -x -C "$3"', "archive", ROOT, c.commit, program]);
                fs.symlinkSync(path.join(ROOT, "node_modules"), path.join(program, "node_modules"));
                project.env.FORCE_IMAGE_TAG = TAG;
                stack = await createStack(project, "legacy-state", status, c.config(copyDemo(project.dir)));

                let t = Date.now();
                const legacy = await stack.up();
                log(`${c.what}: up with ${c.commit.slice(0, 7)}: ${secondsSince(t)}s, ${JSON.stringify(legacy.summary.resourceChanges)}`);
                const before = (await stack.exportStack()).deployment.resources as StateResource[];
                const containerIds = c.containers ? runningContainerIds() : [];
                if (c.containers) {
                    expect(containerIds, "the earlier program's containers").to.have.length(6);
                }

                installCurrentProgram(program);
                t = Date.now();
                let text = "";
                const planned: Step[] = [];
                const preview = await stack.preview({ diff: true, onOutput: (l) => (text += l), onEvent: (e) => recordStep(e, planned) });
                const summary = preview.changeSummary as Record<string, number>;
                log(`${c.what}: preview with the current program: ${secondsSince(t)}s, ${JSON.stringify(summary)}`);
                const moved = planned.filter((p) => p.op !== "same");
                expect(
                    moved.filter((p) => !COMPONENT_TYPES.has(p.type)),
                    `only components move; the rest stays:\n${text}`,
                ).to.deep.equal([]);
                expect(summary.replace ?? 0, "no replacement").to.equal(0);
                expect(summary.update ?? 0, "no update").to.equal(0);
                expect(moved.filter((p) => p.op === "create").map((p) => p.type)).to.satisfy((ts: string[]) =>
                    ts.every((ty) => ty === "ai-fleet:fleet:FleetService" || ty === "ai-fleet:images:FleetImage"),
                );

                t = Date.now();
                const done: Step[] = [];
                const current = await stack.up({ onEvent: (e) => recordStep(e, done) });
                log(`${c.what}: up with the current program: ${secondsSince(t)}s, ${JSON.stringify(current.summary.resourceChanges)}`);
                expect(done.filter((p) => p.op !== "same" && !COMPONENT_TYPES.has(p.type))).to.deep.equal([]);
                expect(current.outputs.images.value, "the same images, none rebuilt").to.deep.equal(legacy.outputs.images.value);
                expect(current.outputs.report?.value, "the same health report").to.deep.equal(legacy.outputs.report?.value);
                const after = (await stack.exportStack()).deployment.resources as StateResource[];
                // Every custom resource of the earlier stack is there with its id: nothing rebuilt, re-run or restarted.
                const customs = (rs: StateResource[]) =>
                    rs
                        .filter(
                            (r) =>
                                !COMPONENT_TYPES.has(r.type) && r.type !== "pulumi:pulumi:Stack" && !r.type.startsWith("pulumi:providers:"),
                        )
                        .map((r) => `${r.type} ${r.id}`)
                        .sort();
                expect(customs(after)).to.deep.equal(customs(before));
                if (c.containers) {
                    expect(runningContainerIds(), "the same containers, none restarted").to.deep.equal(containerIds);
                }
                const types = after.map((r) => r.type);
                expect(
                    types.filter(
                        (ty) => COMPONENT_TYPES.has(ty) && ty !== "ai-fleet:fleet:FleetService" && ty !== "ai-fleet:images:FleetImage",
                    ),
                ).to.deep.equal([]);
                expect(types.filter((ty) => ty === "ai-fleet:fleet:FleetService")).to.have.length(6);
                expect(types.filter((ty) => ty === "ai-fleet:images:FleetImage")).to.have.length(2);
                for (const r of after.filter((x) => x.type === "docker-build:index:Image" || x.type === "command:local:Command")) {
                    expect(r.urn, "every build and check is a child of its FleetService or FleetImage").to.match(
                        /::ai-fleet:(fleet:FleetService|images:FleetImage)\$(docker-build:index:Image|command:local:Command)::/,
                    );
                }
            } finally {
                if (stack) {
                    await stack.destroy();
                }
                project.cleanup();
                removeLocalContainers();
            }
        });
    }
});
