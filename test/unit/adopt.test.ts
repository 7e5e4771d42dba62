/**
 * adopt-dockerfiles' rewrite on strings (no mocks): ARG BASE_IMAGE=<old> + FROM ${BASE_IMAGE},
 * everything else byte-identical, idempotent; and the family a Dockerfile defaults to.
 */
import { expect } from "chai";
import { adoptDockerfile, AdoptResult, defaultBaseFamily } from "../../buildTree/adopt";
import { finalBase, parseDockerfile } from "../../buildTree/dockerfile";

const GHCR = "ghcr.io/haymayndzultra";

function changed(r: AdoptResult): Extract<AdoptResult, { status: "changed" }> {
    expect(r.status, JSON.stringify(r)).to.equal("changed");
    return r as Extract<AdoptResult, { status: "changed" }>;
}

describe("adopt-dockerfiles rewrite", () => {
    it("rewrites base-utils' hard-coded FROM, keeping the syntax line first and every other byte", () => {
        const before = `# syntax=docker/dockerfile:1.6\nFROM ${GHCR}/base-python:20250812-latest\nRUN echo hi \\\n && true\nUSER appuser\n`;
        const r = changed(adoptDockerfile(before));
        expect(r.text).to.equal(
            `# syntax=docker/dockerfile:1.6\nARG BASE_IMAGE=${GHCR}/base-python:20250812-latest\nFROM \${BASE_IMAGE}\nRUN echo hi \\\n && true\nUSER appuser\n`,
        );
        expect(r.changes).to.deep.equal([
            { line: 2, after: `ARG BASE_IMAGE=${GHCR}/base-python:20250812-latest` },
            { line: 2, before: `FROM ${GHCR}/base-python:20250812-latest`, after: "FROM ${BASE_IMAGE}" },
        ]);
        // A hand build (no build args) still builds FROM the old reference.
        expect(finalBase(parseDockerfile(r.text)).image).to.equal(`${GHCR}/base-python:20250812-latest`);
        expect(adoptDockerfile(r.text)).to.deep.equal({ status: "unchanged" });
    });

    it("rewrites the stage a multi-stage Dockerfile.optimized really builds on, keeping AS and flags", () => {
        const before = [
            "# syntax=docker/dockerfile:1.5",
            "# comment above the first FROM",
            `FROM --platform=linux/amd64 ${GHCR}/base-cpu-pydeps:20250812-latest AS base`,
            "FROM base AS builder",
            "RUN pip wheel . -w /wheels",
            "FROM base",
            "COPY --from=builder /wheels /wheels",
            "",
        ].join("\r\n");
        const r = changed(adoptDockerfile(before));
        const lines = r.text.split("\r\n");
        expect(lines.slice(0, 4)).to.deep.equal([
            "# syntax=docker/dockerfile:1.5",
            "# comment above the first FROM",
            `ARG BASE_IMAGE=${GHCR}/base-cpu-pydeps:20250812-latest`,
            "FROM --platform=linux/amd64 ${BASE_IMAGE} AS base",
        ]);
        expect(lines.slice(4).join("\r\n")).to.equal(before.split("\r\n").slice(3).join("\r\n"));
        expect(adoptDockerfile(r.text).status).to.equal("unchanged");
    });

    it("rewrites every stage FROM the same hard-coded reference (a builder stage on the same family)", () => {
        const before = `FROM ${GHCR}/family-web:20250812-latest AS builder\nRUN true\nFROM ${GHCR}/family-web:20250812-latest\nFROM python:3.11 AS other\nFROM builder\n`;
        const r = changed(
            adoptDockerfile(
                `FROM ${GHCR}/family-web:20250812-latest AS builder\nRUN true\nFROM ${GHCR}/family-web:20250812-latest\nCOPY --from=builder /a /a\n`,
            ),
        );
        expect(r.text).to.equal(
            `ARG BASE_IMAGE=${GHCR}/family-web:20250812-latest\nFROM \${BASE_IMAGE} AS builder\nRUN true\nFROM \${BASE_IMAGE}\nCOPY --from=builder /a /a\n`,
        );
        expect(r.changes.map((c) => c.line)).to.deep.equal([1, 1, 3]);
        expect(changed(adoptDockerfile(before)).text.split("\n")[4]).to.equal("FROM python:3.11 AS other");
    });

    it("declares a stage-local ARG BASE_IMAGE globally, where FROM can see it", () => {
        const before = `FROM ${GHCR}/family-web:20250812-latest AS builder\nARG BASE_IMAGE=${GHCR}/family-web:20250812-latest\nFROM \${BASE_IMAGE}\nARG BASE_IMAGE\n`;
        const r = changed(adoptDockerfile(before));
        expect(r.text).to.equal(`ARG BASE_IMAGE=${GHCR}/family-web:20250812-latest\n${before}`);
        expect(r.changes).to.deep.equal([{ line: 1, after: `ARG BASE_IMAGE=${GHCR}/family-web:20250812-latest` }]);
    });

    it("leaves a file alone that already builds FROM ${BASE_IMAGE}, and refuses what needs a human", () => {
        expect(adoptDockerfile("ARG BASE_IMAGE\nFROM ${BASE_IMAGE}\n")).to.deep.equal({ status: "unchanged" });
        const both = adoptDockerfile("ARG BASE_IMAGE=a\nFROM b\n");
        expect(both).to.deep.include({ status: "refused", line: 2 });
        expect(adoptDockerfile("FROM \\\n  python:3.11\n")).to.deep.include({ status: "refused", line: 1 });
    });

    it("names the family a Dockerfile defaults to, before and after adoption", () => {
        const families = ["base-cpu-pydeps", "family-web"];
        const text = `FROM ${GHCR}/family-web:20250812-latest AS base\nFROM base\n`;
        expect(defaultBaseFamily(text, families)).to.deep.equal({
            family: "family-web",
            ref: `${GHCR}/family-web:20250812-latest`,
            line: 1,
        });
        expect(defaultBaseFamily(changed(adoptDockerfile(text)).text, families)).to.deep.include({ family: "family-web", line: 1 });
        expect(defaultBaseFamily("FROM python:3.11\n", families)).to.equal(undefined);
    });
});
