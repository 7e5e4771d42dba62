import * as path from "path";

/**
 * The command line that runs one of the scripts in probes/. The path is relative to the working
 * directory the program runs in (the project root), so the command, which is part of the
 * resource's inputs, is the same in every clone and a second `up` replaces nothing.
 */
export function probeCommand(script: "health-probe.js" | "verify-image.js" | "container.js" | "scan-image.js"): string {
    const abs = path.join(__dirname, "..", "probes", script);
    const rel = path.relative(process.cwd(), abs);
    const shown = rel.startsWith("..") || path.isAbsolute(rel) ? abs : rel;
    return `node ${shown.split(path.sep).join("/")}`;
}
