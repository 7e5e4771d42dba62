/** stackFile.ts: the one reader of Pulumi.<stack>.yaml for the tools, the tests and the bench. */
import { expect } from "chai";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { projectKeys, readStackConfig, readStackDocument, readStackFile, stackFilePath } from "../../stackFile";

describe("stackFile", () => {
    it("reads the config block with namespaces, and the ai-fleet keys without", () => {
        const config = readStackConfig("local");
        expect(config).to.have.property("ai-fleet:services");
        const raw = readStackFile("local");
        expect(raw).to.deep.equal(projectKeys(config));
        expect(Object.keys(raw)).to.include("services");
        expect(Object.keys(raw).some((k) => k.includes(":"))).to.equal(false);
    });

    it("keeps keys of other namespaces out of the project's keys", () => {
        expect(projectKeys({ "ai-fleet:phase": "build", "docker:host": "x", aiFleet: 1 })).to.deep.equal({ phase: "build" });
    });

    it("names the file and the known stacks when a stack file is missing", () => {
        expect(() => stackFilePath("nosuchstack")).to.throw(/Pulumi\.nosuchstack\.yaml \(stacks here: .*mainpc/);
    });

    it("reads a stack file's whole document at any path (what a rewrite keeps)", () => {
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "stackfile-"));
        try {
            fs.writeFileSync(path.join(dir, "Pulumi.t.yaml"), "encryptionsalt: abc\nconfig:\n  ai-fleet:phase: build\n");
            expect(readStackDocument(path.join(dir, "Pulumi.t.yaml"))).to.deep.equal({
                encryptionsalt: "abc",
                config: { "ai-fleet:phase": "build" },
            });
            expect(readStackFile("t", dir)).to.deep.equal({ phase: "build" });
        } finally {
            fs.rmSync(dir, { recursive: true, force: true });
        }
    });
});
