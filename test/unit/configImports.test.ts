/**
 * config/'s imports run one way: no import circle inside it, and nothing above it (the rollout
 * plan, deploy/, components/, buildTree/, the policy pack, the commands) imported from it. Read
 * with the TypeScript compiler's own parser, type-only imports included.
 */
import { expect } from "chai";
import * as fs from "fs";
import * as path from "path";
import * as ts from "typescript";
import { findCycle } from "../../config";

const ROOT = path.resolve(__dirname, "..", "..");
const CONFIG = path.join(ROOT, "config");

/** Every .ts file under dir, as paths relative to the repository root. */
function sources(dir: string): string[] {
    return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
        const full = path.join(dir, e.name);
        return e.isDirectory() ? sources(full) : e.name.endsWith(".ts") ? [path.relative(ROOT, full)] : [];
    });
}

/** The relative imports (and re-exports) of one file, resolved to repository paths without extension. */
function importsOf(file: string): string[] {
    const text = fs.readFileSync(path.join(ROOT, file), "utf8");
    const sf = ts.createSourceFile(file, text, ts.ScriptTarget.ES2022, false);
    const specifiers: string[] = [];
    sf.forEachChild((node) => {
        if (
            (ts.isImportDeclaration(node) || ts.isExportDeclaration(node)) &&
            node.moduleSpecifier &&
            ts.isStringLiteral(node.moduleSpecifier)
        ) {
            specifiers.push(node.moduleSpecifier.text);
        }
    });
    return specifiers
        .filter((s) => s.startsWith("."))
        .map((s) => {
            const target = path.relative(ROOT, path.resolve(path.dirname(path.join(ROOT, file)), s));
            return fs.existsSync(path.join(ROOT, target, "index.ts")) ? path.join(target, "index") : target;
        });
}

describe("config/'s imports", () => {
    const files = sources(CONFIG);
    const edges = Object.fromEntries(files.map((f) => [f.replace(/\.ts$/, ""), importsOf(f)]));

    it("form no circle inside config/", () => {
        const inside = Object.fromEntries(Object.entries(edges).map(([f, to]) => [f, to.filter((t) => t.startsWith("config/"))]));
        expect(files.length).to.be.greaterThan(10);
        expect(findCycle(inside)).to.equal(undefined);
    });

    it("reach nothing above config/: not the rollout plan, deploy, components, the build tree, the policy pack or the commands", () => {
        const above = /^(graph|release|index|deploy\/|components\/|buildTree\/|policy\/|cli\/|scripts\/|bench\/)/;
        const wrong = Object.entries(edges).flatMap(([f, to]) => to.filter((t) => above.test(t)).map((t) => `${f} → ${t}`));
        expect(wrong).to.deep.equal([]);
    });
});
