/**
 * The Dockerfile reader and the chain proof on strings (no mocks, no files): BuildKit's reading of
 * directives, comments, continuations, global ARGs and stages, on the operator's real patterns.
 */
import { expect } from "chai";
import { canonicalImage, chainProblem, usesBaseImage } from "../../buildTree/chain";
import { DockerfileSyntaxError, expandWord, finalBase, parseDockerfile } from "../../buildTree/dockerfile";

const GHCR = "ghcr.io/haymayndzultra";

/** docker/base-images/base-utils/Dockerfile as the operator has it: no ARG, a hard-coded FROM. */
const BASE_UTILS = `# syntax=docker/dockerfile:1.6
FROM ${GHCR}/base-python:20250812-latest
RUN apt-get update && apt-get install -y --no-install-recommends curl \\
 && rm -rf /var/lib/apt/lists/*
USER appuser
`;

/** A service's Dockerfile.optimized: multi-stage, the family hard-coded in the first stage. */
const OPTIMIZED = `# syntax=docker/dockerfile:1.5
FROM ${GHCR}/base-cpu-pydeps:20250812-latest AS base
ARG MACHINE=mainpc
WORKDIR /app

FROM base AS builder
COPY main_pc_code/agents/systemdigitaltwin/requirements.txt .
RUN pip wheel -r requirements.txt -w /wheels

FROM base AS runtime
COPY --from=builder /wheels /wheels
COPY main_pc_code/agents/systemdigitaltwin/ /app/
USER appuser
`;

/** docker/families/<name>/Dockerfile: ARG BASE_IMAGE before FROM. */
const FAMILY = `# syntax=docker/dockerfile:1.6
ARG BASE_IMAGE
FROM \${BASE_IMAGE}
ENV PORT=8000
`;

/** main_pc_code/agents/Dockerfile.serviceregistry: ARG BASE_IMAGE in the final stage only. */
const FINAL_STAGE_ARG = `FROM ${GHCR}/family-web:20250812-latest AS builder
RUN pip install --prefix=/install fastapi
ARG BASE_IMAGE=${GHCR}/family-web:20250812-latest
FROM \${BASE_IMAGE}
ARG BASE_IMAGE
COPY --from=builder /install /usr/local
`;

describe("Dockerfile reader", () => {
    it("reads parser directives only at the top, as BuildKit does", () => {
        const df = parseDockerfile(OPTIMIZED);
        expect(df.directives).to.deep.equal([{ name: "syntax", value: "docker/dockerfile:1.5", line: 1 }]);
        // A blank line or a comment ends the directives: a later `# syntax=` is a comment.
        expect(parseDockerfile(`# a comment\n# syntax=docker/dockerfile:1\nFROM x\n`).directives).to.deep.equal([]);
        expect(parseDockerfile(`\n# escape=\`\nFROM x\n`).escape).to.equal("\\");
        expect(parseDockerfile(`#  Syntax = docker/dockerfile:1 \n# escape=\`\nFROM x\n`).directives.map((d) => d.name)).to.deep.equal([
            "syntax",
            "escape",
        ]);
        expect(() => parseDockerfile(`# syntax=a\n# syntax=b\nFROM x\n`)).to.throw(
            DockerfileSyntaxError,
            /only one syntax parser directive/,
        );
    });

    it("joins continuation lines (with the escape directive's character) and drops comments inside them", () => {
        const df = parseDockerfile("# escape=`\nFROM `\n  # a comment inside\n  busybox:1 `\n  AS one\nRUN echo \\\n");
        expect(df.stages[0]).to.include({ image: "busybox:1", name: "one", line: 2, endLine: 5 });
        expect(df.instructions[1]).to.include({ keyword: "RUN", args: "echo \\" });
        const bs = parseDockerfile("FROM --platform=$BUILDPLATFORM \\\n   python:3.11-slim \\\n   AS Build\n");
        expect(bs.stages[0]).to.deep.include({
            flags: ["--platform=$BUILDPLATFORM"],
            image: "python:3.11-slim",
            name: "build",
            line: 1,
            endLine: 3,
        });
    });

    it("keeps global ARGs (before the first FROM) apart from a stage's own", () => {
        const df = parseDockerfile(FINAL_STAGE_ARG);
        expect(df.globalArgs).to.deep.equal([]);
        expect(df.stages[0].args.map((a) => [a.name, a.default, a.line])).to.deep.equal([
            ["BASE_IMAGE", `${GHCR}/family-web:20250812-latest`, 3],
        ]);
        const g = parseDockerfile(`ARG REG=ghcr.io A="x y" B\nFROM $REG/a\n`);
        expect(g.globalArgs.map((a) => [a.name, a.default])).to.deep.equal([
            ["REG", "ghcr.io"],
            ["A", "x y"],
            ["B", undefined],
        ]);
    });

    it("does not read a heredoc's body as instructions", () => {
        const df = parseDockerfile("FROM a AS x\nRUN <<EOF\nFROM evil\nEOF\nFROM x\nRUN echo 1 <<< 2\n");
        expect(df.stages.map((s) => s.image)).to.deep.equal(["a", "x"]);
    });

    it("refuses what BuildKit refuses: no FROM, an instruction before FROM, a malformed FROM", () => {
        expect(() => parseDockerfile("# only a comment\n")).to.throw(/no FROM/);
        expect(() => parseDockerfile("RUN x\nFROM a\n")).to.throw(/line 1: RUN before the first FROM/);
        expect(() => parseDockerfile("FROM a b\n")).to.throw(/line 1: FROM requires an image/);
    });

    it("expands variables as the shell lexer does for FROM", () => {
        const env = { A: "x", E: "" };
        expect(expandWord("${A}/$A:${A:-d}", env)).to.equal("x/x:x");
        expect(expandWord("${U:-def}-${E:-d2}-${E-d3}-${A:+alt}-${U:+alt}", env)).to.equal("def-d2--alt-");
        expect(expandWord("'$A'\"$A\"\\$A", env)).to.equal("$Ax$A");
    });

    it("follows the final stage through earlier stages to its real base, with build args over defaults", () => {
        expect(finalBase(parseDockerfile(OPTIMIZED)).root.line).to.equal(2);
        expect(finalBase(parseDockerfile(OPTIMIZED)).path.map((s) => s.name)).to.deep.equal(["runtime", "base"]);
        expect(finalBase(parseDockerfile(FAMILY), { BASE_IMAGE: "r/p@sha256:1" }).image).to.equal("r/p@sha256:1");
        expect(finalBase(parseDockerfile(`ARG BASE_IMAGE=d\nFROM \${BASE_IMAGE} AS b\nFROM B\n`)).image).to.equal("d");
        expect(finalBase(parseDockerfile(`FROM a\nFROM --platform=$TARGETPLATFORM b:$TARGETARCH\n`)).image).to.equal("b:amd64");
    });
});

describe("chain proof", () => {
    const parent = { kind: "parent" as const, parent: "base-python" };

    it("accepts FROM ${BASE_IMAGE} / $BASE_IMAGE / ${BASE_IMAGE:-default} declared before the first FROM", () => {
        expect(chainProblem(parseDockerfile(FAMILY), parent)).to.equal(undefined);
        expect(usesBaseImage(parseDockerfile("ARG BASE_IMAGE=x\nFROM $BASE_IMAGE AS base\nFROM base\n"))).to.equal(true);
        expect(usesBaseImage(parseDockerfile("ARG BASE_IMAGE\nFROM ${BASE_IMAGE:-python:3.11}\n"))).to.equal(true);
    });

    it("refuses base-utils' hard-coded FROM, naming the line and what it builds FROM instead", () => {
        const p = chainProblem(parseDockerfile(BASE_UTILS), parent);
        expect(p?.line).to.equal(2);
        expect(p?.message).to.equal(
            `the final stage builds FROM ${GHCR}/base-python:20250812-latest instead of \${BASE_IMAGE}: the program passes base-python by digest as BASE_IMAGE and this build ignores it`,
        );
    });

    it("refuses a Dockerfile.optimized whose final stage builds on a stage with a hard-coded family", () => {
        const p = chainProblem(parseDockerfile(OPTIMIZED), { kind: "parent", parent: "base-cpu-pydeps" });
        expect(p?.line).to.equal(2);
        expect(p?.message).to.contain(
            `the final stage (line 10) builds on stage "base" (line 2), which builds FROM ${GHCR}/base-cpu-pydeps:20250812-latest instead of \${BASE_IMAGE}`,
        );
    });

    it("refuses ${BASE_IMAGE} declared only inside a stage: FROM cannot see it", () => {
        const p = chainProblem(parseDockerfile(FINAL_STAGE_ARG), { kind: "parent", parent: "family-web" });
        expect(p?.line).to.equal(4);
        expect(p?.message).to.contain("builds FROM ${BASE_IMAGE} (= nothing) instead of ${BASE_IMAGE}");
        expect(p?.message).to.contain(
            "BASE_IMAGE is not declared by an ARG before the first FROM (line 3 declares it inside a stage, where FROM cannot see it)",
        );
    });

    it("refuses an ARG BASE_IMAGE that the final stage does not use", () => {
        const p = chainProblem(parseDockerfile("ARG BASE_IMAGE\nFROM ${BASE_IMAGE} AS b\nFROM python:3.11\n"), parent);
        expect(p?.line).to.equal(3);
    });

    it("lets an external-base family hard-code its FROM only when it equals the stack's baseImage", () => {
        const df = parseDockerfile("FROM python:3.11-slim-bookworm\n");
        expect(chainProblem(df, { kind: "external", baseImage: "docker.io/library/python:3.11-slim-bookworm" })).to.equal(undefined);
        const p = chainProblem(df, { kind: "external", baseImage: "python:3.11-slim" });
        expect(p?.message).to.contain("the stack's baseImage is python:3.11-slim");
        expect(canonicalImage("python")).to.equal("docker.io/library/python:latest");
        expect(canonicalImage("127.0.0.1:5000/a/b:t")).to.equal("127.0.0.1:5000/a/b:t");
    });
});
