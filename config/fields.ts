/** Field types that several parts of the stack config share. */
import { z } from "zod";
import { isValidRepoComponent, parseImageRef } from "../naming";

/** A TCP/UDP port number. */
export const port = z.number().int().min(1).max(65535);
/** Environment variables or build args: NAME → value. */
export const envMap = z.record(z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, "expected an environment variable name"), z.string());
/** An image reference as docker takes it (naming.ts parses it). */
export const imageRefString = z.string().refine((s) => parseImageRef(s) !== undefined, {
    message: "expected an image reference [registry/]repository[:tag][@sha256:digest] with one tag at most",
});
/** One path component of a repository name. */
export const repoComponent = z.string().refine(isValidRepoComponent, {
    message: "expected a lowercase repository name component (letters, digits, and . _ - inside)",
});
