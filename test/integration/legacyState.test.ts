/**
 * A stack rolled out by an earlier version of the program keeps every resource under the current
 * one, through the real Pulumi engine (no mocks). The earlier version is LEGACY_COMMIT, taken from
 * git: the last one with the two image components FamilyImage and ServiceImage (now one FleetImage
 * with aliases to both) and with config.ts and deploy.ts in one piece. It rolls the local stack out
 * (the build phase alone, then everything with containers through the cli runtime); then the
 * current program, run from the same directory (the probe commands are paths relative to it), must
 * plan no change, and its `up` must change nothing.
 */
import { expect } from "chai";
import { execFileSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { Stack } from "@pulumi/pulumi/automation";
import { buildOnlyConfig, copyDemo, createStack, ensureSetup, ROOT, secondsSince, tempProject, ToolchainStatus } from "./support/engine";

/** The program before the image components merged (FamilyImage, ServiceImage) and before config/ and deploy/. */
const LEGACY_COMMIT = "0d99be7d39c3a09bb727b7660cc6f2571ac4f8d4";
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

function changes(summary: Record<string, number | undefined>): Record<string, number> {
    return Object.fromEntries(Object.entries(summary).filter(([op, n]) => op !== "same" && (n ?? 0) > 0)) as Record<string, number>;
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
}

const log = (line: string) => process.stderr.write(`[legacy] ${line}\n`);

describe("a stack rolled out by the earlier program keeps its resources under the current one (real engine)", function () {
    this.timeout(20 * 60 * 1000);
    let status: ToolchainStatus;
    let password: string;

    before(function () {
        status = ensureSetup(this);
        try {
            execFileSync("git", ["-C", ROOT, "cat-file", "-e", `${LEGACY_COMMIT}^{commit}`], { stdio: "ignore" });
        } catch {
            log(`SKIPPED: commit ${LEGACY_COMMIT} is not in this checkout (a shallow clone?)`);
            this.skip();
        }
        password = process.env.AI_FLEET_REGISTRY_PASSWORD ?? "fleet-local-pass";
    });

    const cases: { what: string; config: (demo: string) => Record<string, unknown> }[] = [
        { what: "the build phase", config: (demo) => buildOnlyConfig(demo, password) },
        {
            what: "the whole rollout with containers (cli runtime)",
            config: (demo) => {
                const cfg = buildOnlyConfig(demo, password);
                delete cfg["ai-fleet:phase"];
                cfg["ai-fleet:docker"] = { ...(cfg["ai-fleet:docker"] as object), runtime: "cli" };
                cfg["ai-fleet:rollout"] = {
                    ...(cfg["ai-fleet:rollout"] as object),
                    health: { timeoutSeconds: 40, intervalSeconds: 0.5, retries: 200, requestTimeoutSeconds: 2 },
                };
                return cfg;
            },
        },
    ];

    for (const c of cases) {
        it(`${c.what}: the current program plans no change, its up changes nothing, and the builds move under FleetImage`, async () => {
            removeLocalContainers();
            const project = tempProject("program");
            let stack: Stack | undefined;
            try {
                const program = path.join(project.dir, "program");
                fs.mkdirSync(program);
                execFileSync("bash", [
                    "-c",
                    'git -C "$1" archive --format=tar "$2" | tar -x -C "$3"',
                    "archive",
                    ROOT,
                    LEGACY_COMMIT,
                    program,
                ]);
                fs.symlinkSync(path.join(ROOT, "node_modules"), path.join(program, "node_modules"));
                project.env.FORCE_IMAGE_TAG = TAG;
                stack = await createStack(project, "legacy-state", status, c.config(copyDemo(project.dir)));

                let t = Date.now();
                const legacy = await stack.up();
                log(
                    `${c.what}: up with ${LEGACY_COMMIT.slice(0, 7)}: ${secondsSince(t)}s, ${JSON.stringify(legacy.summary.resourceChanges)}`,
                );
                const before = (await stack.exportStack()).deployment.resources as StateResource[];
                const legacyTypes = before.map((r) => r.type);
                expect(legacyTypes.filter((ty) => ty === "ai-fleet:images:FamilyImage")).to.have.length(2);
                expect(legacyTypes.filter((ty) => ty === "ai-fleet:images:ServiceImage")).to.have.length(6);

                installCurrentProgram(program);
                t = Date.now();
                let text = "";
                const preview = await stack.preview({ diff: true, onOutput: (l) => (text += l) });
                const summary = preview.changeSummary as Record<string, number>;
                log(`${c.what}: preview with the current program: ${secondsSince(t)}s, ${JSON.stringify(summary)}`);
                expect(changes(summary), `${JSON.stringify(summary)}\n${text}`).to.deep.equal({});
                // The summary counts resources, not the provider instances the state holds beside them.
                const resources = before.filter((r) => !r.type.startsWith("pulumi:providers:"));
                expect(summary.same, "every resource of the earlier stack, unchanged").to.equal(resources.length);

                t = Date.now();
                const current = await stack.up();
                log(`${c.what}: up with the current program: ${secondsSince(t)}s, ${JSON.stringify(current.summary.resourceChanges)}`);
                expect(changes((current.summary.resourceChanges ?? {}) as Record<string, number>)).to.deep.equal({});
                expect(current.outputs.images.value, "the same images, none rebuilt").to.deep.equal(legacy.outputs.images.value);
                expect(current.outputs.report?.value, "the same health report").to.deep.equal(legacy.outputs.report?.value);
                const after = (await stack.exportStack()).deployment.resources as StateResource[];
                expect(after).to.have.length(before.length);
                const types = after.map((r) => r.type);
                expect(types, "no image component of the old types left").to.not.include.members([
                    "ai-fleet:images:FamilyImage",
                    "ai-fleet:images:ServiceImage",
                ]);
                expect(types.filter((ty) => ty === "ai-fleet:images:FleetImage")).to.have.length(8);
                const builds = after.filter((r) => r.type === "docker-build:index:Image");
                expect(builds).to.have.length(8);
                for (const b of builds) {
                    expect(b.urn, "a build is a child of its FleetImage").to.include(
                        "ai-fleet:images:FleetImage$docker-build:index:Image::",
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
