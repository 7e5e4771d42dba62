/**
 * A Dockerfile reader for what the image chain depends on: parser directives, global ARGs, and the
 * stages' FROM lines, read the way BuildKit's frontend reads them. Pure functions on strings.
 *
 * BuildKit rules followed here: parser directives (`# syntax=`, `# escape=`, `# check=`) count only
 * at the very top, before any blank line, comment or instruction; `# escape=` changes the line
 * continuation character; comment lines vanish, also inside a continued instruction; ARGs before
 * the first FROM are the only ones a FROM can use (an ARG inside a stage is that stage's);
 * `FROM [--flag=…] image [AS name]`, and a later FROM may name an earlier stage (case-insensitive).
 */

/** A parser directive at the top of the file. */
export interface Directive {
    name: string;
    value: string;
    line: number;
}

/** One instruction, continuation lines joined; lines are 1-based. */
export interface Instruction {
    keyword: string;
    args: string;
    line: number;
    endLine: number;
}

/** An ARG declaration (one name of an `ARG a=1 b` line). */
export interface ArgDecl {
    name: string;
    /** The default as written after `=` (quotes removed), undefined without `=`. */
    default?: string;
    line: number;
}

/** One build stage. */
export interface Stage {
    index: number;
    /** The FROM line. */
    line: number;
    endLine: number;
    /** `--platform=…` and other flags, as written. */
    flags: string[];
    /** The image word as written, e.g. `${BASE_IMAGE}` or `ghcr.io/org/base-python:20250812-latest`. */
    image: string;
    /** `AS name`, lowercased (BuildKit compares stage names case-insensitively). */
    name?: string;
    /** ARGs declared inside this stage. */
    args: ArgDecl[];
}

/** What the reader returns. */
export interface Dockerfile {
    directives: Directive[];
    escape: "\\" | "`";
    /** ARGs before the first FROM: the only ones FROM may use. */
    globalArgs: ArgDecl[];
    stages: Stage[];
    instructions: Instruction[];
}

/** A Dockerfile BuildKit would refuse, with the line. */
export class DockerfileSyntaxError extends Error {
    constructor(
        public readonly line: number,
        message: string,
    ) {
        super(`line ${line}: ${message}`);
        this.name = "DockerfileSyntaxError";
    }
}

const DIRECTIVE_RE = /^#\s*([a-zA-Z][a-zA-Z0-9]*)\s*=\s*(.+?)\s*$/;
const KNOWN_DIRECTIVES = new Set(["syntax", "escape", "check"]);
// A heredoc is a whole word `<<EOF`, `<<-EOF` or `<<"EOF"` (not `<< EOF`, not `<<<`).
const HEREDOC_RE = /(?:^|\s)\d*<<(-?)(["']?)([A-Za-z_][A-Za-z0-9_]*)\2(?=\s|$)/g;

/** Reads a Dockerfile's directives, instructions, global ARGs and stages. */
export function parseDockerfile(text: string): Dockerfile {
    const lines = text.replace(/^\uFEFF/, "").split(/\r?\n/);
    const directives: Directive[] = [];
    let escape: "\\" | "`" = "\\";
    let i = 0;
    for (; i < lines.length; i++) {
        const m = DIRECTIVE_RE.exec(lines[i].trimStart());
        if (!m || !KNOWN_DIRECTIVES.has(m[1].toLowerCase())) {
            break;
        }
        const name = m[1].toLowerCase();
        if (directives.some((d) => d.name === name)) {
            throw new DockerfileSyntaxError(i + 1, `only one ${name} parser directive can be used`);
        }
        if (name === "escape") {
            if (m[2] !== "\\" && m[2] !== "`") {
                throw new DockerfileSyntaxError(i + 1, `invalid escape token '${m[2]}' does not match ` + "` or \\");
            }
            escape = m[2];
        }
        directives.push({ name, value: m[2], line: i + 1 });
    }

    const continuation = new RegExp(`${escape === "\\" ? "\\\\" : "`"}[ \\t]*$`);
    const instructions: Instruction[] = [];
    let current: { text: string; line: number } | undefined;
    for (let n = 0; n < lines.length; n++) {
        const raw = lines[n];
        const trimmed = raw.trimStart();
        if (trimmed === "" || trimmed.startsWith("#")) {
            continue; // blank and comment lines vanish, inside a continuation too
        }
        const cont = continuation.test(raw);
        const part = cont ? raw.replace(continuation, "") : raw;
        current = current ? { text: current.text + part, line: current.line } : { text: part.trimStart(), line: n + 1 };
        if (cont && n < lines.length - 1) {
            continue;
        }
        const m = /^(\S+)\s*([\s\S]*)$/.exec(current.text) as RegExpExecArray;
        const ins: Instruction = { keyword: m[1].toUpperCase(), args: m[2].trim(), line: current.line, endLine: n + 1 };
        current = undefined;
        // A heredoc's body (RUN <<EOF … EOF) is data, not instructions.
        if (["RUN", "COPY", "ADD"].includes(ins.keyword)) {
            for (const h of ins.args.matchAll(HEREDOC_RE)) {
                const strip = h[1] === "-";
                while (n + 1 < lines.length) {
                    n += 1;
                    const body = strip ? lines[n].replace(/^\t+/, "") : lines[n];
                    if (body === h[3]) {
                        break;
                    }
                }
                ins.endLine = n + 1;
            }
        }
        instructions.push(ins);
    }

    const globalArgs: ArgDecl[] = [];
    const stages: Stage[] = [];
    for (const ins of instructions) {
        if (ins.keyword === "FROM") {
            stages.push(parseFrom(ins, stages.length));
        } else if (ins.keyword === "ARG") {
            const decls = parseArgs(ins);
            (stages.length === 0 ? globalArgs : stages[stages.length - 1].args).push(...decls);
        } else if (stages.length === 0) {
            throw new DockerfileSyntaxError(ins.line, `${ins.keyword} before the first FROM (only ARG may come before it)`);
        }
    }
    if (stages.length === 0) {
        throw new DockerfileSyntaxError(lines.length, "no FROM instruction");
    }
    return { directives, escape, globalArgs, stages, instructions };
}

function parseFrom(ins: Instruction, index: number): Stage {
    const words = ins.args.split(/\s+/).filter(Boolean);
    const flags: string[] = [];
    while (words.length > 0 && words[0].startsWith("--")) {
        flags.push(words.shift() as string);
    }
    if (words.length !== 1 && !(words.length === 3 && words[1].toLowerCase() === "as")) {
        throw new DockerfileSyntaxError(ins.line, `FROM requires an image and optionally 'AS <name>', got "${ins.args}"`);
    }
    return { index, line: ins.line, endLine: ins.endLine, flags, image: words[0], name: words[2]?.toLowerCase(), args: [] };
}

function parseArgs(ins: Instruction): ArgDecl[] {
    const decls: ArgDecl[] = [];
    for (const m of ins.args.matchAll(/([A-Za-z_][A-Za-z0-9_]*)(?:=("(?:[^"\\]|\\.)*"|'[^']*'|\S*))?/g)) {
        const raw = m[2];
        const def = raw === undefined ? undefined : /^(["']).*\1$/.test(raw) ? raw.slice(1, -1) : raw;
        decls.push({ name: m[1], default: def, line: ins.line });
    }
    return decls;
}

/**
 * Expands `$VAR`, `${VAR}`, `${VAR:-word}`, `${VAR-word}`, `${VAR:+word}`, `${VAR+word}` and quotes
 * in one word, as BuildKit's shell lexer does for FROM. Unset variables become "".
 */
export function expandWord(word: string, env: Record<string, string | undefined>, escape: "\\" | "`" = "\\"): string {
    let out = "";
    let quote: "'" | '"' | undefined;
    for (let i = 0; i < word.length; i++) {
        const c = word[i];
        if (quote === "'") {
            if (c === "'") quote = undefined;
            else out += c;
        } else if (c === escape && i + 1 < word.length) {
            out += word[++i];
        } else if (c === "'" && quote === undefined) {
            quote = "'";
        } else if (c === '"') {
            quote = quote === '"' ? undefined : '"';
        } else if (c === "$") {
            const braced = /^\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-+])([^}]*))?\}/.exec(word.slice(i));
            const bare = /^\$([A-Za-z_][A-Za-z0-9_]*)/.exec(word.slice(i));
            if (braced) {
                const [all, name, op, arg] = braced;
                const value = env[name];
                const set = value !== undefined && (op === undefined || !op.startsWith(":") || value !== "");
                if (op === undefined) out += value ?? "";
                else if (op.endsWith("-")) out += set ? value : expandWord(arg, env, escape);
                else out += set ? expandWord(arg, env, escape) : "";
                i += all.length - 1;
            } else if (bare) {
                out += env[bare[1]] ?? "";
                i += bare[0].length - 1;
            } else {
                out += c;
            }
        } else {
            out += c;
        }
    }
    return out;
}

/** The ARGs BuildKit predefines in the global scope for a target platform such as linux/amd64. */
export function platformArgs(platform: string): Record<string, string> {
    const [os, arch, variant] = platform.split("/");
    const p = { TARGETPLATFORM: platform, TARGETOS: os, TARGETARCH: arch, TARGETVARIANT: variant ?? "" };
    return { ...p, BUILDPLATFORM: platform, BUILDOS: os, BUILDARCH: arch, BUILDVARIANT: variant ?? "" };
}

/** Global ARG values for a build: build args override defaults; a default may use earlier ARGs. */
export function globalArgValues(
    df: Dockerfile,
    buildArgs: Record<string, string>,
    platform = "linux/amd64",
): Record<string, string | undefined> {
    const env: Record<string, string | undefined> = { ...platformArgs(platform) };
    for (const a of df.globalArgs) {
        env[a.name] = a.name in buildArgs ? buildArgs[a.name] : a.default === undefined ? undefined : expandWord(a.default, env, df.escape);
    }
    return env;
}

/** Where the final stage's filesystem really comes from. */
export interface FinalBase {
    /** The stages followed, final first, each with the FROM line that named the next. */
    path: Stage[];
    /** The stage whose FROM names an image rather than another stage. */
    root: Stage;
    /** That FROM's image word, expanded with the given build args. */
    image: string;
}

/** Follows the final stage's FROM through earlier stages to the image it really builds on. */
export function finalBase(df: Dockerfile, buildArgs: Record<string, string> = {}, platform = "linux/amd64"): FinalBase {
    const env = globalArgValues(df, buildArgs, platform);
    const path: Stage[] = [];
    let stage = df.stages[df.stages.length - 1];
    for (;;) {
        path.push(stage);
        const image = expandWord(stage.image, env, df.escape);
        const earlier = df.stages
            .slice(0, stage.index)
            .reverse()
            .find((s) => s.name !== undefined && s.name === image.toLowerCase());
        if (!earlier) {
            return { path, root: stage, image };
        }
        stage = earlier;
    }
}
