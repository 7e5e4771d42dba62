/**
 * The chain proof: a family or service whose base must be its parent builds FROM `${BASE_IMAGE}`
 * (declared by a global `ARG BASE_IMAGE`) in its final stage, followed through earlier stages. A
 * Dockerfile that hard-codes its FROM silently ignores the BASE_IMAGE the program passes.
 */
import { parseImageRef } from "../naming";
import { Dockerfile, finalBase } from "./dockerfile";

/** The build arg that carries the parent by digest. */
export const BASE_ARG = "BASE_IMAGE";

/** What a Dockerfile's final stage must build on. */
export type ChainExpectation =
    /** A family's parent or a service's family: only `${BASE_IMAGE}` will do. */
    | { kind: "parent"; parent: string }
    /** A family with an external `baseImage`: `${BASE_IMAGE}`, or a hard-coded FROM equal to it. */
    | { kind: "external"; baseImage: string };

/** One broken link, with the line of the FROM to fix. */
export interface ChainProblem {
    line: number;
    message: string;
}

const PROBE = "ai-fleet.invalid/base-image-probe:sentinel";

/** Docker's full name of a reference: docker.io/library/python:latest for python. */
export function canonicalImage(ref: string): string {
    const p = parseImageRef(ref);
    if (!p) {
        return ref;
    }
    const registry = p.registry ?? "docker.io";
    const repository = registry === "docker.io" && !p.repository.includes("/") ? `library/${p.repository}` : p.repository;
    const tag = p.tag ?? (p.digest ? undefined : "latest");
    return `${registry}/${repository}${tag ? `:${tag}` : ""}${p.digest ? `@${p.digest}` : ""}`;
}

/** True when the final stage builds on whatever BASE_IMAGE the build passes. */
export function usesBaseImage(df: Dockerfile): boolean {
    return finalBase(df, { [BASE_ARG]: PROBE }).image === PROBE;
}

/** Why the Dockerfile does not build on what the stack says, or undefined when it does. */
export function chainProblem(df: Dockerfile, expect: ChainExpectation): ChainProblem | undefined {
    if (usesBaseImage(df)) {
        return undefined;
    }
    const asIs = finalBase(df);
    if (expect.kind === "external" && canonicalImage(asIs.image) === canonicalImage(expect.baseImage)) {
        return undefined;
    }
    const { root, path } = asIs;
    const what = root.image === asIs.image ? root.image : `${root.image} (= ${asIs.image === "" ? "nothing" : asIs.image})`;
    const final = path[0];
    const subject =
        path.length > 1
            ? `the final stage (line ${final.line}) builds on stage ${path
                  .slice(1)
                  .map((s) => `"${s.name}" (line ${s.line})`)
                  .join(", which builds on ")}, which builds`
            : "the final stage builds";
    let why: string;
    if (/\$\{?BASE_IMAGE\b/.test(root.image) && !df.globalArgs.some((a) => a.name === BASE_ARG)) {
        const local = df.stages.flatMap((s) => s.args).find((a) => a.name === BASE_ARG);
        why = `BASE_IMAGE is not declared by an ARG before the first FROM${local ? ` (line ${local.line} declares it inside a stage, where FROM cannot see it)` : ""}, so BuildKit expands it to nothing`;
    } else if (expect.kind === "external") {
        why = `the stack's baseImage is ${expect.baseImage}: build FROM \${BASE_IMAGE} so that the stack's baseImage is used, or make them equal`;
    } else {
        why = `the program passes ${expect.parent} by digest as BASE_IMAGE and this build ignores it`;
    }
    return { line: root.line, message: `${subject} FROM ${what} instead of \${BASE_IMAGE}: ${why}` };
}
