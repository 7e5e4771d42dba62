/**
 * Dirty trees: a real git repository in a temp dir (git is a real tool, not a mock). A build from
 * uncommitted changes never takes the clean commit's tag; the same changes give the same tag.
 */
import { expect } from "chai";
import { execFileSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { porcelainPaths, readSourceCommit, treeChanges } from "../../buildTree/sourceTree";
import { resolveTag } from "../../naming";

describe("dirty trees", () => {
    let repo: string;
    const git = (...args: string[]) =>
        execFileSync("git", ["-C", repo, ...args], {
            encoding: "utf8",
            env: { ...process.env, GIT_AUTHOR_DATE: "2025-08-19T10:00:00Z", GIT_COMMITTER_DATE: "2025-08-19T10:00:00Z" },
        });

    beforeEach(() => {
        repo = fs.mkdtempSync(path.join(os.tmpdir(), "ai-fleet-13-git-"));
        git("init", "-q");
        git("config", "user.email", "t@example.invalid");
        git("config", "user.name", "t");
        fs.mkdirSync(path.join(repo, "docker", "base-images", "base-utils"), { recursive: true });
        fs.writeFileSync(path.join(repo, "docker", "base-images", "base-utils", "Dockerfile"), "FROM a\n");
        fs.writeFileSync(path.join(repo, "README"), "x\n");
        git("add", ".");
        git("commit", "-qm", "c");
    });
    afterEach(() => fs.rmSync(repo, { recursive: true, force: true }));

    it("a clean checkout takes the commit's tag", () => {
        const commit = readSourceCommit(repo);
        expect(commit?.dirty).to.equal(undefined);
        expect(resolveTag({ commit }).tag).to.match(/^20250819-[0-9a-f]{8}$/);
    });

    it("a tracked or untracked change gives <date>-<sha>-dirty-<hash>, stable for the same changes, another for other changes", () => {
        const clean = resolveTag({ commit: readSourceCommit(repo) });
        fs.appendFileSync(path.join(repo, "docker", "base-images", "base-utils", "Dockerfile"), "RUN true\n");
        const c1 = readSourceCommit(repo);
        expect(c1?.dirty?.files).to.deep.equal(["docker/base-images/base-utils/Dockerfile"]);
        const t1 = resolveTag({ commit: c1 });
        expect(t1.source).to.equal("dirty-tree");
        expect(t1.tag).to.equal(`${clean.tag}-dirty-${c1?.dirty?.hash.slice(0, 8)}`);
        expect(resolveTag({ commit: readSourceCommit(repo) }).tag, "same changes, same tag").to.equal(t1.tag);
        fs.writeFileSync(path.join(repo, "new-untracked.txt"), "y\n");
        const t2 = resolveTag({ commit: readSourceCommit(repo) });
        expect(t2.tag).to.not.equal(t1.tag);
        expect(t2.tag.startsWith(`${clean.tag}-dirty-`)).to.equal(true);
        // FORCE_IMAGE_TAG is the operator's explicit choice and still wins.
        expect(resolveTag({ forced: "20250111-656873b3", commit: readSourceCommit(repo) }).tag).to.equal("20250111-656873b3");
    });

    it("counts only changes under the contexts' directory, and deletions too", () => {
        fs.writeFileSync(path.join(repo, "README"), "changed\n");
        expect(treeChanges(path.join(repo, "docker"))).to.equal(undefined);
        fs.rmSync(path.join(repo, "docker", "base-images", "base-utils", "Dockerfile"));
        expect(treeChanges(path.join(repo, "docker"))?.files).to.deep.equal(["docker/base-images/base-utils/Dockerfile"]);
    });

    it("reads renames from git's porcelain output", () => {
        expect(porcelainPaths("R  new.txt\0old.txt\0?? x y.txt\0 M a\0")).to.deep.equal(["a", "new.txt", "old.txt", "x y.txt"]);
    });
});
