/**
 * The one way the rules read config: an Unchecked<T> view and the helpers below. zod runs the
 * rules even when some fields failed their types (so one run reports everything), hence any part
 * of what a rule reads may be broken. A view keeps the keys of the parsed type, so a rule names
 * only keys the schema has, but every value is `unknown` until a helper has checked it; a rule
 * skips what has the wrong shape (the schema reports that already).
 */

/** A part of the stack config as a rule reads it: the keys of its parsed type T, each value unchecked. */
export type Unchecked<T> = { readonly [K in keyof T]?: unknown };

/** True for a plain object (not null, not an array). */
export function isObject(v: unknown): v is Record<string, unknown> {
    return v !== null && typeof v === "object" && !Array.isArray(v);
}

/** `v` viewed as a T, or an empty view when it is not an object. */
export function view<T>(v: unknown): Unchecked<T> {
    return isObject(v) ? (v as Unchecked<T>) : {};
}

/** The entries of a config map (services, families, …) whose values are objects, each viewed as a T. */
export function entriesOf<T>(v: unknown): [string, Unchecked<T>][] {
    return isObject(v) ? Object.entries(v).filter((e): e is [string, Unchecked<T>] => isObject(e[1])) : [];
}

/** The keys of a config map, or none when it is not an object. */
export function keysOf(v: unknown): string[] {
    return isObject(v) ? Object.keys(v) : [];
}

/** `v` when it is a string. */
export function str(v: unknown): string | undefined {
    return typeof v === "string" ? v : undefined;
}

/** `v` when it is a number. */
export function num(v: unknown): number | undefined {
    return typeof v === "number" ? v : undefined;
}

/** `v` when it is an array, else none. */
export function list(v: unknown): unknown[] {
    return Array.isArray(v) ? v : [];
}
