/**
 * A stack rolled out by an earlier version of the program keeps every resource under the current
 * one, through the real Pulumi engine (no mocks). The earlier version is LEGACY_COMMIT, taken from
 * git: the last one with the two image components FamilyImage and ServiceImage (now one FleetImage
 * with aliases to both) and with config.ts and deploy.ts in one piece. It builds the local stack's
 * images (build phase: families, services, registry verification); then the current program, run
 * from the same directory (the probe commands are paths relative to it), must plan no change.
 */
import { expect } from "chai";
import { execFileSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { Stack } from "@pulumi/pulumi/automation";
import {
    buildOnlyConfig,
    copyDemo,
    createStack,
    ensureToolchain,
    ROOT,
    secondsSince,
    TempProject,
    tempProject,
    ToolchainStatus,
} from "./support/engine";

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

interface StateResource {
    urn: string;
    type: string;
    parent?: string;
}

describe("a stack built by the earlier program keeps its resources under the current one (real engine)", function () {
    this.timeout(20 * 60 * 1000);
    let status: ToolchainStatus;
    let project: TempProject;
    let program: string;
    let stack: Stack;

    before(async function () {
        execFileSync("bash", [path.join(ROOT, "scripts", "local", "up.sh")], { stdio: ["ignore", process.stderr, process.stderr] });
        status = ensureToolchain();
        if (!status.plugins["docker-build"] || !status.plugins.command) {
            process.stderr.write("[legacy] SKIPPED: the docker-build or command plugin is missing\n");
            this.skip();
        }
        try {
            execFileSync("git", ["-C", ROOT, "cat-file", "-e", `${LEGACY_COMMIT}^{commit}`], { stdio: "ignore" });
        } catch {
            process.stderr.write(`[legacy] SKIPPED: commit ${LEGACY_COMMIT} is not in this checkout (a shallow clone?)\n`);
            this.skip();
        }
        project = tempProject("program");
        program = path.join(project.dir, "program");
        fs.mkdirSync(program);
        execFileSync("bash", ["-c", 'git -C "$1" archive --format=tar "$2" | tar -x -C "$3"', "archive", ROOT, LEGACY_COMMIT, program]);
        fs.symlinkSync(path.join(ROOT, "node_modules"), path.join(program, "node_modules"));
        project.env.FORCE_IMAGE_TAG = TAG;
        const demo = copyDemo(project.dir);
        const password = process.env.AI_FLEET_REGISTRY_PASSWORD ?? "fleet-local-pass";
        stack = await createStack(project, "legacy-state", status, buildOnlyConfig(demo, password));
    });

    after(async () => {
        if (stack) {
            await stack.destroy();
        }
        project?.cleanup();
    });

    it("plans no create, delete, replace or update after the image components merged, and moves the builds under FleetImage", async () => {
        let t = Date.now();
        const legacy = await stack.up();
        process.stderr.write(
            `[legacy] up with ${LEGACY_COMMIT.slice(0, 7)}: ${secondsSince(t)}s, ${JSON.stringify(legacy.summary.resourceChanges)}\n`,
        );
        const before = (await stack.exportStack()).deployment.resources as StateResource[];
        const legacyTypes = before.map((r) => r.type);
        expect(
            legacyTypes.filter((ty) => ty === "ai-fleet:images:FamilyImage"),
            "families built by FamilyImage",
        ).to.have.length(2);
        expect(
            legacyTypes.filter((ty) => ty === "ai-fleet:images:ServiceImage"),
            "services built by ServiceImage",
        ).to.have.length(6);

        installCurrentProgram(program);
        t = Date.now();
        let text = "";
        const preview = await stack.preview({ diff: true, onOutput: (l) => (text += l) });
        const summary = preview.changeSummary as Record<string, number>;
        process.stderr.write(`[legacy] preview with the current program: ${secondsSince(t)}s, ${JSON.stringify(summary)}\n`);
        expect(changes(summary), `${JSON.stringify(summary)}\n${text}`).to.deep.equal({});
        // The summary counts resources, not the provider instances the state holds beside them.
        const resources = before.filter((r) => !r.type.startsWith("pulumi:providers:"));
        expect(summary.same, "every resource of the earlier stack, unchanged").to.equal(resources.length);

        t = Date.now();
        const current = await stack.up();
        process.stderr.write(
            `[legacy] up with the current program: ${secondsSince(t)}s, ${JSON.stringify(current.summary.resourceChanges)}\n`,
        );
        expect(changes((current.summary.resourceChanges ?? {}) as Record<string, number>)).to.deep.equal({});
        expect(current.outputs.images.value, "the same images, none rebuilt").to.deep.equal(legacy.outputs.images.value);
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
            expect(b.urn, "a build is a child of its FleetImage").to.include("ai-fleet:images:FleetImage$docker-build:index:Image::");
        }
    });
});
