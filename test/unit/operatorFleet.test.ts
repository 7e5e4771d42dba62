/**
 * Pulumi.mainpc.yaml and Pulumi.pc2.yaml against the operator's repository as the fleet's facts
 * describe it (testkit/operatorRepo.ts, written from the facts, not from the stack files): every
 * service's and family's Dockerfile, context and base, with no override the layout does not need.
 * And the preflight over the generated tree in memory, before and after adopt-dockerfiles' rewrite.
 * No engine: test/integration/operatorFleet.test.ts takes the same tree through `pulumi preview`.
 */
import { expect } from "chai";
import * as path from "path";
import { parseStackConfig, StackConfig } from "../../config";
import { adoptDockerfile, defaultBaseFamily } from "../../buildTree/adopt";
import { buildPaths, resolveLayout } from "../../config";
import { buildEntries, preflightProblems, SourceFiles } from "../../buildTree/preflight";
import { builtDockerfiles, FAMILIES, Machine, MACHINES, operatorRepoFiles, SERVICES } from "../../testkit/operatorRepo";
import { rawFromStackFile } from "./harness";

const ROOT = "/checkout";

function stackOf(machine: Machine): StackConfig {
    return parseStackConfig(JSON.parse(JSON.stringify(rawFromStackFile(machine)))).stack;
}

/** A checkout in memory: path relative to ROOT → content; directories implied. */
function memoryFiles(files: Record<string, string>): SourceFiles {
    const abs = new Map(Object.entries(files).map(([p, c]) => [path.join(ROOT, p), c]));
    const dirs = new Set<string>([ROOT]);
    for (const p of abs.keys()) {
        for (let d = path.dirname(p); d.startsWith(ROOT); d = path.dirname(d)) dirs.add(d);
    }
    return { kind: (p) => (abs.has(p) ? "file" : dirs.has(p) ? "dir" : undefined), read: (p) => abs.get(p) as string };
}

describe("the facts' table of the operator's repository (testkit/operatorRepo.ts)", () => {
    it("has the facts' counts: 44 + 23 services; 53 Dockerfiles under main_pc_code/agents/<dir>/, hard-coded, by family 24/8/7/5/5/4", () => {
        expect(Object.keys(SERVICES.mainpc)).to.have.length(44);
        expect(Object.keys(SERVICES.pc2)).to.have.length(23);
        const agents = [...builtDockerfiles().entries()].filter(([f]) => /^main_pc_code\/agents\/[^/]+\/Dockerfile\.optimized$/.test(f));
        expect(agents).to.have.length(53);
        expect(agents.every(([, b]) => b.base === "hard-coded")).to.equal(true);
        const byFamily: Record<string, number> = {};
        for (const [, b] of agents) byFamily[b.family] = (byFamily[b.family] ?? 0) + 1;
        expect(byFamily).to.deep.equal({
            "base-cpu-pydeps": 24,
            "family-torch-cu121": 8,
            "family-llm-cu121": 7,
            "legacy-py310-cpu": 5,
            "family-web": 5,
            "family-vision-cu121": 4,
        });
        // 36 pairs are not at main_pc_code/agents/<lowercase>/ (the facts' 31 are the ones the old stack
        // files, which already set dir for MoodTracker, StreamingTTS, NLU, STT and TTS, got wrong).
        const notLowercase = MACHINES.flatMap((m) =>
            Object.entries(SERVICES[m]).filter(([n, s]) => s.dockerfile !== `main_pc_code/agents/${n.toLowerCase()}/Dockerfile.optimized`),
        );
        expect(notLowercase).to.have.length(36);
    });

    it("generates a tree whose every COPY source exists and whose Dockerfiles name their family as the table says", () => {
        const files = operatorRepoFiles(); // throws on a missing COPY source
        for (const [rel, b] of builtDockerfiles()) {
            const named = defaultBaseFamily(files[rel], Object.keys(FAMILIES));
            if (b.family in FAMILIES) {
                // Families under docker/families/ take a bare ARG BASE_IMAGE: no default to compare.
                if (!rel.startsWith("docker/families/")) expect(named?.family, rel).to.equal(b.family);
            } else {
                expect(named, rel).to.equal(undefined); // FROM an external image
            }
        }
    });
});

for (const machine of MACHINES) {
    describe(`Pulumi.${machine}.yaml names the operator's real Dockerfiles`, () => {
        const stack = stackOf(machine);
        const entries = Object.fromEntries(buildEntries(stack).map((e) => [e.key.split(".").slice(1).join("."), e]));

        it(`every service (${Object.keys(SERVICES[machine]).length}) is built from the repository root with the facts' Dockerfile and family`, () => {
            expect(Object.keys(stack.services).sort()).to.deep.equal(Object.keys(SERVICES[machine]).sort());
            const wrong: string[] = [];
            for (const [name, fact] of Object.entries(SERVICES[machine])) {
                const e = entries[name];
                if (e.context !== "." || e.dockerfile !== fact.dockerfile || stack.services[name].family !== fact.family) {
                    wrong.push(
                        `${name}: ${e.context} ${e.dockerfile} ${stack.services[name].family}; facts: . ${fact.dockerfile} ${fact.family}`,
                    );
                }
            }
            expect(wrong, wrong.join("\n")).to.deep.equal([]);
        });

        it("every family has the facts' Dockerfile (context = its directory) and builds on the facts' parent or image", () => {
            expect(Object.keys(stack.families).sort()).to.deep.equal(Object.keys(FAMILIES).sort());
            for (const [name, fact] of Object.entries(FAMILIES)) {
                expect(entries[name], name).to.include({ context: path.posix.dirname(fact.dockerfile), dockerfile: fact.dockerfile });
                expect({ parent: stack.families[name].parent, baseImage: stack.families[name].baseImage }, name).to.deep.equal({
                    parent: fact.parent,
                    baseImage: fact.baseImage,
                });
            }
        });

        it("sets dir/dockerfile only where the layout's template misses, and no service context", () => {
            const layout = resolveLayout(stack.build.layout);
            const overrides: string[] = [];
            for (const [name, svc] of Object.entries(stack.services)) {
                expect(svc.context, `${name}.context`).to.equal(undefined);
                for (const key of ["dir", "dockerfile"] as const) {
                    if (svc[key] === undefined) continue;
                    overrides.push(`${name}.${key}`);
                    const without = buildPaths("services", name, { ...svc, [key]: undefined }, layout);
                    expect(without.dockerfile, `${name}.${key} changes nothing`).to.not.equal(entries[name].dockerfile);
                }
                expect(svc.dir !== undefined && svc.dockerfile !== undefined, `${name} sets both dir and dockerfile`).to.equal(false);
            }
            const atTemplate = Object.keys(stack.services).filter(
                (n) => SERVICES[machine][n].dockerfile === `main_pc_code/agents/${n.toLowerCase()}/Dockerfile.optimized`,
            );
            expect(overrides).to.have.length(Object.keys(stack.services).length - atTemplate.length);
            expect(overrides).to.have.length(machine === "mainpc" ? 23 : 13);
        });

        it("the preflight over the generated tree lists every hard-coded base at once, and passes it once adopted", () => {
            const files = operatorRepoFiles();
            const before = preflightProblems(stack, ROOT, memoryFiles(files));
            const hardCoded = Object.values(SERVICES[machine]).filter((s) => s.base === "hard-coded").length;
            // base-utils and base-cpu-pydeps hard-code their parent; the external bases may be hard-coded.
            expect(before, before.join("\n")).to.have.length(2 + hardCoded);
            expect(
                before.every((p) => p.includes("instead of ${BASE_IMAGE}")),
                before.join("\n"),
            ).to.equal(true);
            expect(before.some((p) => p.includes("not found"))).to.equal(false);
            for (const rel of builtDockerfiles().keys()) {
                const r = adoptDockerfile(files[rel]);
                expect(r.status, rel).to.not.equal("refused");
                if (r.status === "changed") files[rel] = r.text;
            }
            expect(preflightProblems(stack, ROOT, memoryFiles(files))).to.deep.equal([]);
        });
    });
}
