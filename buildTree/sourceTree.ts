/**
 * The git commit of the build contexts (readSourceCommit), and the uncommitted changes under their
 * directory (tracked or untracked, relative to its git repository): a build from such a tree must
 * never take the clean commit's tag. The hash is of the changed files' current contents, so the
 * same changes give the same tag (a no-op `pulumi up` stays a no-op) and any other change gives
 * another.
 */
import { execFileSync } from "child_process";
import { createHash } from "crypto";
import * as fs from "fs";
import * as path from "path";
import { SourceCommit } from "../naming";

/** What is uncommitted under a directory. */
export interface TreeChanges {
    /** Changed paths relative to the repository root, sorted. */
    files: string[];
    /** sha256 (hex) over each changed path, its mode and content (or its deletion). */
    hash: string;
}

/** Parses `git status --porcelain=v1 -z` into paths (a rename's new and old path both). */
export function porcelainPaths(out: string): string[] {
    const fields = out.split("\0").filter((f) => f.length > 0);
    const paths: string[] = [];
    for (let i = 0; i < fields.length; i++) {
        const xy = fields[i].slice(0, 2);
        paths.push(fields[i].slice(3));
        if (xy.includes("R") || xy.includes("C")) {
            paths.push(fields[++i]);
        }
    }
    return [...new Set(paths)].sort();
}

/** Hash of changed paths as they are now in `repoRoot` (a missing path counts as deleted). */
export function changesHash(repoRoot: string, files: string[]): string {
    const h = createHash("sha256");
    for (const f of files) {
        h.update(f).update("\0");
        const abs = path.join(repoRoot, f);
        const st = fs.lstatSync(abs, { throwIfNoEntry: false });
        if (!st) h.update("deleted");
        else if (st.isSymbolicLink()) h.update(`link ${fs.readlinkSync(abs)}`);
        else if (st.isFile()) h.update(`file ${(st.mode & 0o111) !== 0 ? "x" : "-"} `).update(fs.readFileSync(abs));
        else h.update("other");
        h.update("\0");
    }
    return h.digest("hex");
}

/** Uncommitted changes under `dir`, undefined when clean; throws when git cannot tell. */
export function treeChanges(dir: string): TreeChanges | undefined {
    const git = (...args: string[]) =>
        execFileSync("git", ["-C", dir, ...args], { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"], maxBuffer: 64 << 20 });
    const repoRoot = git("rev-parse", "--show-toplevel").trim();
    const files = porcelainPaths(git("status", "--porcelain=v1", "-z", "--untracked-files=all", "--", "."));
    return files.length === 0 ? undefined : { files, hash: changesHash(repoRoot, files) };
}

/** The warning of a build from a dirty tree: the first few changed files and the tag it gets. */
export function dirtyTreeNote(contextRoot: string, files: string[], tag: string): string {
    const shown = files.slice(0, 5).join(", ") + (files.length > 5 ? `, … (${files.length} in all)` : "");
    return `uncommitted changes under ${contextRoot}: ${shown}; the images are tagged ${tag}, not the commit's release tag`;
}

/**
 * The commit of the build contexts (committer date) with their uncommitted changes (tracked or
 * untracked, under `dir`), or undefined outside a git checkout.
 */
export function readSourceCommit(dir: string): SourceCommit | undefined {
    let commit: SourceCommit;
    try {
        const out = execFileSync("git", ["-C", dir, "log", "-1", "--format=%H %cI"], {
            encoding: "utf8",
            stdio: ["ignore", "pipe", "ignore"],
        }).trim();
        const [sha, iso] = out.split(" ");
        if (!sha || !iso) return undefined;
        commit = { sha, date: new Date(iso) };
    } catch {
        return undefined;
    }
    const dirty = treeChanges(dir);
    return dirty ? { ...commit, dirty } : commit;
}
