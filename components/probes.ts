/**
 * One skeleton for every probe the program runs as a command (health check, image verification,
 * vulnerability scan, the cli runtime's container): the probe's environment is its contract's input
 * and its stdout's last line its contract's output (probes/contracts.js), so neither side can drift
 * from the other.
 */
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import * as command from "@pulumi/command";
import type { z } from "zod";
import * as contracts from "../probes/contracts";

/** A probe's contract as probes/contracts.js declares it. */
export interface ProbeContract {
    script: string;
    input: z.ZodObject;
    output: z.ZodType;
}

/** What a probe reads from its environment. */
export type ProbeInput<C extends ProbeContract> = z.input<C["input"]>;
/** What a probe prints as its last stdout line. */
export type ProbeOutput<C extends ProbeContract> = z.output<C["output"]>;

export const HEALTH = contracts.health;
export const VERIFY = contracts.verify;
export const SCAN = contracts.scan;
export const CONTAINER = contracts.container;

/**
 * The command line that runs one of the scripts in probes/. The path is relative to the working
 * directory the program runs in (the project root), so the command, which is part of the
 * resource's inputs, is the same in every clone and a second `up` replaces nothing.
 */
export function probeCommand(script: string): string {
    const abs = path.join(__dirname, "..", "probes", script);
    const rel = path.relative(process.cwd(), abs);
    const shown = rel.startsWith("..") || path.isAbsolute(rel) ? abs : rel;
    return `node ${shown.split(path.sep).join("/")}`;
}

/** A probe's output from its stdout (the last line, checked against its contract); throws naming `what` otherwise. */
export function parseProbeOutput<C extends ProbeContract>(contract: C, stdout: string, what: string): ProbeOutput<C> {
    return contracts.parseOutput(contract, stdout, what) as ProbeOutput<C>;
}

/** How one probe runs as a command. */
export interface ProbeRun<C extends ProbeContract> {
    /** The probe's environment: its contract's input. */
    environment: pulumi.Input<ProbeInput<C>>;
    /** Keep the environment secret (it carries a password or the service's secret env). */
    secret: boolean;
    /** What re-runs the probe when it changes. Default none. */
    triggers?: pulumi.Input<unknown>[];
    /** Arguments after the script (the container probe's `up`). */
    args?: string;
    /** The command run on delete (the container probe's `down`). */
    delete?: string;
    /** stdin (the container probe's registry credentials). */
    stdin?: pulumi.Input<string>;
    /** Names the probe in a broken-contract error, e.g. "health check of ModelOpsCoordinator". */
    what: string;
    /** Reads the output from stdout, when the caller checks more than the contract. Default: parseProbeOutput. */
    parse?: (stdout: string) => ProbeOutput<C>;
}

/** Runs a probe as a `command:local:Command` and parses its output through its contract. */
export function runProbe<C extends ProbeContract>(
    name: string,
    contract: C,
    run: ProbeRun<C>,
    opts: pulumi.CustomResourceOptions,
): { command: command.local.Command; output: pulumi.Output<ProbeOutput<C>> } {
    const create = `${probeCommand(contract.script)}${run.args ? ` ${run.args}` : ""}`;
    const environment = run.environment as pulumi.Input<Record<string, pulumi.Input<string>>>;
    const cmd = new command.local.Command(
        name,
        {
            create,
            ...(run.delete !== undefined ? { delete: run.delete } : {}),
            environment: run.secret ? pulumi.secret(environment) : environment,
            ...(run.triggers !== undefined ? { triggers: run.triggers } : {}),
            ...(run.stdin !== undefined ? { stdin: run.stdin } : {}),
            logging: "stderr",
        },
        opts,
    );
    const parse = run.parse ?? ((out: string) => parseProbeOutput(contract, out, run.what));
    return { command: cmd, output: cmd.stdout.apply(parse) };
}
