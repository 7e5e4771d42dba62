/**
 * `npm run adopt-dockerfiles -- <checkout> [--stack mainpc]… [--dry-run]`
 *
 * Rewrites, in the operator's checkout, every Dockerfile that a stack builds and that hard-codes its
 * base into `ARG BASE_IMAGE=<the old reference>` + `FROM ${BASE_IMAGE} …` (buildTree/adopt.ts), prints
 * each change (file, line, before → after), and reports a Dockerfile whose default base names
 * another family than the stack's. `--stack` takes a stack name (Pulumi.<name>.yaml of this project)
 * or a stack file's path; default: mainpc and pc2. Exit 0 when every Dockerfile is (now) FROM
 * ${BASE_IMAGE} and names the right family; 1 when something needs a hand (listed); 2 on bad usage.
 */
import * as fs from "fs";
import * as path from "path";
import { ConfigError, parseStackConfig, StackConfig } from "../config";
import { readStackFileAt } from "../stackFile";
import { adoptDockerfile, defaultBaseFamily } from "../buildTree/adopt";
import { DockerfileSyntaxError } from "../buildTree/dockerfile";
import { buildEntries } from "../buildTree/preflight";

const ROOT = path.resolve(__dirname, "..");
const DEFAULT_STACKS = ["mainpc", "pc2"];

function usage(msg: string): never {
    process.stderr.write(`${msg}\nusage: npm run adopt-dockerfiles -- <checkout> [--stack <name or Pulumi.<name>.yaml>]… [--dry-run]\n`);
    process.exit(2);
}

function loadStack(spec: string): { name: string; stack: StackConfig } {
    const file = /[/\\]|\.ya?ml$/.test(spec) ? path.resolve(spec) : path.join(ROOT, `Pulumi.${spec}.yaml`);
    if (!fs.existsSync(file)) usage(`stack file ${file} not found`);
    const raw = readStackFileAt(file);
    try {
        return { name: spec, stack: parseStackConfig(raw).stack };
    } catch (e) {
        if (e instanceof ConfigError) usage(`${file}: ${e.message}`);
        throw e;
    }
}

function main(argv: string[]): number {
    const stacks: string[] = [];
    let checkout: string | undefined;
    let dryRun = false;
    for (let i = 0; i < argv.length; i++) {
        if (argv[i] === "--stack") stacks.push(argv[++i] ?? usage("--stack needs a name"));
        else if (argv[i].startsWith("--stack=")) stacks.push(argv[i].slice("--stack=".length));
        else if (argv[i] === "--dry-run") dryRun = true;
        else if (argv[i].startsWith("-")) usage(`unknown option ${argv[i]}`);
        else if (checkout === undefined) checkout = argv[i];
        else usage(`one checkout only (got ${checkout} and ${argv[i]})`);
    }
    if (checkout === undefined) usage("which checkout?");
    const root = path.resolve(checkout);
    if (!fs.statSync(root, { throwIfNoEntry: false })?.isDirectory()) usage(`${checkout} is not a directory`);

    // Every Dockerfile the stacks build, with what each stack expects it to build on.
    const files = new Map<string, { label: string; stack: string; parent?: string; families: string[] }[]>();
    for (const spec of stacks.length > 0 ? stacks : DEFAULT_STACKS) {
        const { name, stack } = loadStack(spec);
        for (const e of buildEntries(stack)) {
            const list = files.get(e.dockerfile) ?? [];
            list.push({
                label: e.label.replace(/ \(.*$/, ""),
                stack: name,
                parent: e.expect.kind === "parent" ? e.expect.parent : undefined,
                families: Object.keys(stack.families),
            });
            files.set(e.dockerfile, list);
        }
    }

    const findings: string[] = [];
    let changed = 0;
    let unchanged = 0;
    for (const [rel, users] of [...files.entries()].sort(([a], [b]) => a.localeCompare(b))) {
        const file = path.join(root, rel);
        if (!fs.statSync(file, { throwIfNoEntry: false })?.isFile()) {
            findings.push(`${rel}: not found (built by ${users.map((u) => `${u.label} of stack ${u.stack}`).join("; ")})`);
            continue;
        }
        const text = fs.readFileSync(file, "utf8");
        try {
            for (const u of users) {
                const named = defaultBaseFamily(text, u.families);
                if (u.parent !== undefined && named !== undefined && named.family !== u.parent) {
                    findings.push(
                        `${rel}:${named.line}: FAMILY MISMATCH: defaults to ${named.ref} (family ${named.family}), but stack ${u.stack} builds ${u.label} FROM ${u.parent}; fix the Dockerfile's default or the stack's family`,
                    );
                }
            }
            const r = adoptDockerfile(text);
            if (r.status === "unchanged") {
                unchanged += 1;
            } else if (r.status === "refused") {
                findings.push(`${rel}:${r.line}: not changed: ${r.reason}`);
            } else {
                changed += 1;
                for (const c of r.changes) {
                    process.stdout.write(
                        c.before === undefined
                            ? `${rel}:${c.line}: inserted before line ${c.line}: ${c.after}\n`
                            : `${rel}:${c.line}: ${c.before} → ${c.after}\n`,
                    );
                }
                if (!dryRun) fs.writeFileSync(file, r.text);
            }
        } catch (e) {
            if (!(e instanceof DockerfileSyntaxError)) throw e;
            findings.push(`${rel}: ${e.message}`);
        }
    }
    process.stdout.write(
        `${dryRun ? "dry run: would change" : "changed"} ${changed} Dockerfile(s); ${unchanged} already FROM \${BASE_IMAGE}; ${findings.length} finding(s)\n`,
    );
    for (const f of findings) process.stdout.write(`  ! ${f}\n`);
    return findings.length > 0 ? 1 : 0;
}

process.exitCode = main(process.argv.slice(2));
