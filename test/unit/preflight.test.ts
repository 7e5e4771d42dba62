/**
 * Layout templates, their validation, and the preflight over a checkout held in memory (no mocks
 * of Pulumi needed: preflight is a plain function; its SourceFiles is a map here, the disk in
 * index.ts).
 */
import { expect } from "chai";
import * as pulumi from "@pulumi/pulumi";
import * as path from "path";
import { ConfigError, parseStackConfig } from "../../config";
import { buildEntries, preflight, preflightProblems, SourceFiles } from "../../buildTree/preflight";
import { rawFromStackFile } from "./harness";

const ROOT = "/checkout";
const GHCR = "ghcr.io/haymayndzultra";

/** A checkout in memory: file path (relative to ROOT) → content; directories are implied. */
function memoryFiles(files: Record<string, string>): SourceFiles {
    const abs = new Map(Object.entries(files).map(([p, c]) => [path.join(ROOT, p), c]));
    const dirs = new Set<string>([ROOT]);
    for (const p of abs.keys()) {
        for (let d = path.dirname(p); d.startsWith(ROOT); d = path.dirname(d)) dirs.add(d);
    }
    return {
        kind: (p) => (abs.has(p) ? "file" : dirs.has(p) ? "dir" : undefined),
        read: (p) => abs.get(p) as string,
    };
}

function stackOf(name: string, edit?: (raw: Record<string, any>) => void) {
    const raw = JSON.parse(JSON.stringify(rawFromStackFile(name)));
    edit?.(raw);
    return parseStackConfig(raw).stack;
}

function issuesOf(edit: (raw: Record<string, any>) => void): string[] {
    try {
        stackOf("mainpc", edit);
    } catch (e) {
        if (e instanceof ConfigError) return e.issues;
        throw e;
    }
    return [];
}

/** A checkout where every Dockerfile of the stack builds FROM ${BASE_IMAGE}. */
function adoptedCheckout(stack: ReturnType<typeof stackOf>): Record<string, string> {
    return Object.fromEntries(buildEntries(stack).map((e) => [e.dockerfile, "ARG BASE_IMAGE\nFROM ${BASE_IMAGE}\n"]));
}

describe("layout: where the operator's Dockerfiles are", () => {
    it("mainpc: families under docker/, services at main_pc_code/agents/<dir>/Dockerfile.optimized or their own dockerfile, built from the root", () => {
        const byName = Object.fromEntries(
            buildEntries(stackOf("mainpc")).map((e) => [e.label.split(" ")[1], { context: e.context, dockerfile: e.dockerfile }]),
        );
        expect(byName["base-utils"]).to.deep.equal({
            context: "docker/base-images/base-utils",
            dockerfile: "docker/base-images/base-utils/Dockerfile",
        });
        expect(byName["family-web"]).to.deep.equal({
            context: "docker/families/family-web",
            dockerfile: "docker/families/family-web/Dockerfile",
        });
        expect(byName["legacy-py310-cpu"]).to.deep.equal({
            context: "docker/legacy/legacy-py310-cpu",
            dockerfile: "docker/legacy/legacy-py310-cpu/Dockerfile",
        });
        expect(byName.Executor).to.deep.equal({ context: ".", dockerfile: "main_pc_code/agents/executor/Dockerfile.optimized" });
        expect(byName.SystemDigitalTwin).to.deep.equal({
            context: ".",
            dockerfile: "main_pc_code/services/systemdigitaltwin/Dockerfile.optimized",
        });
        expect(byName.ModelOpsCoordinator).to.deep.equal({ context: ".", dockerfile: "model_ops_coordinator/Dockerfile.optimized" });
        expect(byName.NLU).to.deep.equal({ context: ".", dockerfile: "main_pc_code/agents/nluagent/Dockerfile.optimized" });
        expect(byName.TTS.dockerfile).to.equal("main_pc_code/agents/ttsservice/Dockerfile.optimized");
    });

    it("mainpc and pc2 follow the operator's build order: family-web on base-cpu-pydeps, family-llm-cu121 on family-torch-cu121", () => {
        for (const name of ["mainpc", "pc2"]) {
            const { families } = stackOf(name);
            expect(families["family-web"].parent, name).to.equal("base-cpu-pydeps");
            expect(families["family-llm-cu121"].parent, name).to.equal("family-torch-cu121");
            expect(families["base-python"].baseImage, name).to.equal("python:3.11-slim-bookworm");
        }
    });

    it("the local stack keeps the defaults: families/<name>/Dockerfile, services/<snake_case> with their own dockerfile", () => {
        const byName = Object.fromEntries(buildEntries(stackOf("local")).map((e) => [e.label.split(" ")[1], e]));
        expect(byName["base-python"]).to.include({ context: "families/base-python", dockerfile: "families/base-python/Dockerfile" });
        expect(byName.ModelOpsCoordinator).to.include({ context: "services/model_ops_coordinator", dockerfile: "services/Dockerfile" });
    });

    it("rejects unknown placeholders, absolute paths and paths leaving the context root, with key paths", () => {
        const issues = issuesOf((raw) => {
            raw.build.layout.services.dockerfile = "main_pc_code/agents/{lowercase}/Dockerfile.optimized";
            raw.build.layout.families.context = "/srv/{name}";
            raw.services.NLU.context = "../elsewhere";
            raw.services.TTS.dir = "../x";
            raw.families["family-web"].context = "docker/{context}";
        });
        expect(issues).to.include(
            "ai-fleet:build.layout.services.dockerfile: unknown placeholder {lowercase} (known: {name}, {lower}, {snake}, {kebab}, {dir}, {context})",
        );
        expect(issues).to.include(
            'ai-fleet:build.layout.families.context: "/srv/{name}" is absolute: expected a path relative to build.contextRoot',
        );
        expect(issues).to.include('ai-fleet:services.NLU.context: "../elsewhere" leaves build.contextRoot (through ..)');
        expect(
            issues.filter((i) => i.includes("/srv/")),
            "a wrong template is reported once",
        ).to.have.length(1);
        expect(issues.some((i) => i.startsWith("ai-fleet:services.TTS.dir: expected one directory name"))).to.equal(
            true,
            issues.join("\n"),
        );
        expect(issues.some((i) => i.startsWith("ai-fleet:families.family-web.context: unknown placeholder {context}"))).to.equal(
            true,
            issues.join("\n"),
        );
        const escaped = issuesOf((raw) => {
            raw.build.layout.services.dockerfile = "{context}/../x/Dockerfile";
        });
        // Fine as a template, but with the context "." it leaves the root: named per service, once per entry.
        expect(escaped).to.include(
            'ai-fleet:build.layout.services.dockerfile: service ActiveLearningMonitor: "../x/Dockerfile" leaves build.contextRoot (through ..)',
        );
        expect(escaped).to.have.length(35); // the 9 services with their own dockerfile do not take the template
        // Wrong types are the schema's to report, and do not break the path checks.
        const typed = issuesOf((raw) => {
            raw.build.layout.families = "docker";
            raw.services.NLU.dir = 7;
        });
        expect(typed).to.include("ai-fleet:build.layout.families: Invalid input: expected object, received string");
        expect(typed).to.include("ai-fleet:services.NLU.dir: Invalid input: expected string, received number");
    });
});

describe("preflight: the checkout before anything builds", () => {
    const mainpc = stackOf("mainpc");

    it("passes a checkout whose every Dockerfile builds FROM ${BASE_IMAGE}", () => {
        expect(preflightProblems(mainpc, ROOT, memoryFiles(adoptedCheckout(mainpc)))).to.deep.equal([]);
    });

    it("reports every hard-coded base and missing file at once, naming the entry, file and line", () => {
        const files = adoptedCheckout(mainpc);
        files["docker/base-images/base-utils/Dockerfile"] =
            `# syntax=docker/dockerfile:1.6\nFROM ${GHCR}/base-python:20250812-latest\nRUN true\n`;
        files["docker/base-images/base-python/Dockerfile"] = "FROM python:3.11-slim-bookworm\n";
        files["main_pc_code/agents/executor/Dockerfile.optimized"] = `FROM ${GHCR}/base-cpu-pydeps:20250812-latest AS base\nFROM base\n`;
        delete files["main_pc_code/agents/nluagent/Dockerfile.optimized"];
        const problems = preflightProblems(mainpc, ROOT, memoryFiles(files));
        expect(problems).to.deep.equal([
            `family base-utils (parent base-python): docker/base-images/base-utils/Dockerfile:2: the final stage builds FROM ${GHCR}/base-python:20250812-latest instead of \${BASE_IMAGE}: the program passes base-python by digest as BASE_IMAGE and this build ignores it`,
            `service Executor (family base-cpu-pydeps): main_pc_code/agents/executor/Dockerfile.optimized:1: the final stage (line 2) builds on stage "base" (line 1), which builds FROM ${GHCR}/base-cpu-pydeps:20250812-latest instead of \${BASE_IMAGE}: the program passes base-cpu-pydeps by digest as BASE_IMAGE and this build ignores it`,
            "service NLU (family legacy-py310-cpu): Dockerfile main_pc_code/agents/nluagent/Dockerfile.optimized not found under ../ai_system (ai-fleet:services.NLU.dockerfile, ai-fleet:services.NLU.dir or build.layout)",
        ]);
    });

    it("throws one pulumi.RunError (a clean preview message) pointing at adopt-dockerfiles, and skips the deploy phase", () => {
        const files = adoptedCheckout(mainpc);
        files["docker/base-images/base-utils/Dockerfile"] = `FROM ${GHCR}/base-python:20250812-latest\n`;
        let err: unknown;
        try {
            preflight(
                { ...mainpc, build: { ...mainpc.build, contextRoot: "../checkout" } },
                { cwd: "/project", files: memoryFiles(files) },
            );
        } catch (e) {
            err = e;
        }
        expect(err).to.be.instanceOf(pulumi.RunError);
        expect((err as Error).message).to.contain("the build contexts under ../checkout are not ready (1 problem):\n  - family base-utils");
        expect((err as Error).message).to.contain("npm run adopt-dockerfiles -- ../checkout --stack");
        expect(() => preflight({ ...mainpc, phase: "deploy" }, { cwd: "/", files: memoryFiles({}) })).to.not.throw();
    });

    it("names a missing contextRoot", () => {
        expect(preflightProblems(mainpc, ROOT, { kind: () => undefined, read: () => "" })).to.deep.equal([
            "ai-fleet:build.contextRoot: ../ai_system (/checkout) is not a directory: check out the AI system's repository there, or point build.contextRoot at it",
        ]);
    });
});
