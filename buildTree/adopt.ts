/**
 * The operator's way out of hard-coded bases: rewrite a Dockerfile's hard-coded base into
 * `ARG BASE_IMAGE=<the old reference>` + `FROM ${BASE_IMAGE} …`, so that a hand build (no build
 * args) still builds FROM the old reference and the program's builds chain by digest. Another
 * stage FROM the very same reference (a builder stage on the same family) is rewritten alike. Every
 * other byte stays as it was; a file already FROM ${BASE_IMAGE} is left alone (the rewrite is idempotent).
 */
import { parseImageRef } from "../naming";
import { BASE_ARG, usesBaseImage } from "./chain";
import { Dockerfile, finalBase, parseDockerfile } from "./dockerfile";

/** One line changed: `before` undefined means a line was inserted before line `line`. */
export interface AdoptChange {
    line: number;
    before?: string;
    after: string;
}

/** What the rewrite did to one Dockerfile. */
export type AdoptResult =
    | { status: "unchanged" }
    | { status: "changed"; text: string; changes: AdoptChange[] }
    | { status: "refused"; line: number; reason: string };

/** Rewrites the hard-coded base of the final stage (followed through earlier stages) of one Dockerfile. */
export function adoptDockerfile(text: string): AdoptResult {
    const df = parseDockerfile(text);
    if (usesBaseImage(df)) {
        return { status: "unchanged" };
    }
    const { root, image: oldBase } = finalBase(df);
    const lines = text.split("\n"); // a "\r" stays on its line, so CRLF files keep their endings
    const eol = lines[0].endsWith("\r") ? "\r" : "";
    const first = df.stages[0];
    const global = df.globalArgs.find((a) => a.name === BASE_ARG);
    const changes: AdoptChange[] = [];
    if (/\$\{?BASE_IMAGE\b/.test(root.image) && global === undefined) {
        // FROM ${BASE_IMAGE} with the ARG declared only inside a stage: declare it where FROM sees it.
        const local = df.stages.flatMap((s) => s.args).find((a) => a.name === BASE_ARG);
        const arg = local?.default !== undefined ? `ARG ${BASE_ARG}=${local.default}` : `ARG ${BASE_ARG}`;
        lines.splice(first.line - 1, 0, arg + eol);
        changes.push({ line: first.line, after: arg });
    } else if (global !== undefined) {
        return {
            status: "refused",
            line: root.line,
            reason: `ARG BASE_IMAGE is declared (line ${global.line}) but the final stage builds FROM ${root.image}: edit by hand, choosing which base a hand build should default to`,
        };
    } else {
        // The root stage's FROM, and any other stage hard-coding the very same reference (a builder
        // stage on the same family), become FROM ${BASE_IMAGE}.
        const targets = df.stages.filter((s) => s === root || s.image === root.image);
        const rewritten: AdoptChange[] = [];
        for (const st of targets) {
            if (st.line !== st.endLine) {
                return { status: "refused", line: st.line, reason: `the FROM spans lines ${st.line}-${st.endLine}: edit by hand` };
            }
            const before = lines[st.line - 1];
            const m = /^(\s*FROM\s+(?:--\S+\s+)*)(\S+)([\s\S]*)$/i.exec(before);
            if (!m || m[2] !== st.image) {
                return {
                    status: "refused",
                    line: st.line,
                    reason: `cannot find the image word "${st.image}" on the FROM line: edit by hand`,
                };
            }
            const after = `${m[1]}\${${BASE_ARG}}${m[3]}`;
            lines[st.line - 1] = after;
            rewritten.push({ line: st.line, before: stripCr(before), after: stripCr(after) });
        }
        const arg = `ARG ${BASE_ARG}=${root.image}`;
        lines.splice(first.line - 1, 0, arg + eol);
        changes.push({ line: first.line, after: arg }, ...rewritten);
    }
    const out = lines.join("\n");
    const check: Dockerfile = parseDockerfile(out);
    if (!usesBaseImage(check)) {
        return { status: "refused", line: root.line, reason: "the rewrite would still not build FROM ${BASE_IMAGE}: edit by hand" };
    }
    if (oldBase !== "" && finalBase(check).image !== oldBase) {
        return {
            status: "refused",
            line: root.line,
            reason: `the rewrite would change what a hand build uses (${oldBase} → ${finalBase(check).image}): edit by hand`,
        };
    }
    return { status: "changed", text: out, changes };
}

function stripCr(s: string): string {
    return s.replace(/\r$/, "");
}

/**
 * The family a Dockerfile names as its default base (hard-coded, or as the ARG BASE_IMAGE default
 * after adoption): the last path component of the repository, when it is one of `families`.
 */
export function defaultBaseFamily(text: string, families: string[]): { family: string; ref: string; line: number } | undefined {
    const df = parseDockerfile(text);
    const fb = finalBase(df);
    const ref = parseImageRef(fb.image);
    const family = ref?.repository.split("/").pop();
    if (!family || !families.includes(family)) {
        return undefined;
    }
    const arg = usesBaseImage(df) ? df.globalArgs.filter((a) => a.name === BASE_ARG).pop() : undefined;
    return { family, ref: fb.image, line: arg?.line ?? fb.root.line };
}
