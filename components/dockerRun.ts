/**
 * `docker run` flags for the docker provider's Container args, so that a machine without the
 * docker provider plugin (the "cli" container runtime) starts the very container the provider
 * would: same user, init, read-only root, tmpfs, capabilities, ports, healthcheck, logs, labels.
 */
import type * as docker from "@pulumi/docker";

/** Container args with plain values (what containerArgs() returns, once the gate label is known). */
export type PlainContainerArgs = Omit<docker.ContainerArgs, "image">;

/** Keys that only the Pulumi provider acts on; `docker run` has nothing for them. */
const PROVIDER_ONLY = new Set(["destroyGraceSeconds", "mustRun", "networksAdvanced", "name"]);

function plain<T>(key: string, v: unknown): T {
    if (v !== null && typeof v === "object" && typeof (v as { apply?: unknown }).apply === "function") {
        throw new Error(`container arg ${key} holds a Pulumi Output: resolve it before converting to docker run flags`);
    }
    return v as T;
}

/** Quotes one word for /bin/sh (the only form `docker run --health-cmd` takes). */
export function shellQuote(s: string): string {
    return /^[A-Za-z0-9_./:=@+-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}

/**
 * The flags (without `run -d`, name, network and image) that give a container the same settings as
 * the provider's Container args. An arg this converter does not know is an error, never dropped.
 */
export function dockerRunFlags(args: PlainContainerArgs): string[] {
    const flags: string[] = [];
    for (const [key, raw] of Object.entries(args)) {
        if (raw === undefined || PROVIDER_ONLY.has(key)) {
            continue;
        }
        const value = plain<any>(key, raw);
        switch (key) {
            case "user":
                flags.push("--user", value);
                break;
            case "init":
                if (value) flags.push("--init");
                break;
            case "readOnly":
                if (value) flags.push("--read-only");
                break;
            case "tmpfs":
                for (const [p, opts] of Object.entries(value as Record<string, string>)) flags.push("--tmpfs", opts ? `${p}:${opts}` : p);
                break;
            case "securityOpts":
                for (const o of value as string[]) flags.push("--security-opt", o);
                break;
            case "capabilities":
                for (const c of (value.drops ?? []) as string[]) flags.push("--cap-drop", c);
                for (const c of (value.adds ?? []) as string[]) flags.push("--cap-add", c);
                break;
            case "restart":
                flags.push("--restart", value);
                break;
            case "envs":
                for (const e of value as string[]) flags.push("--env", e);
                break;
            case "ports":
                for (const p of value as { internal: number; external?: number; protocol?: string; ip?: string }[]) {
                    const host = p.external === undefined ? "" : `${p.ip ? p.ip + ":" : ""}${p.external}:`;
                    flags.push("--publish", `${host}${p.internal}/${p.protocol ?? "tcp"}`);
                }
                break;
            case "deviceRequests":
                for (const d of value as { driver?: string; deviceIds?: string[]; capabilities?: string[] }[]) {
                    const ids = d.deviceIds && d.deviceIds.length > 0 ? `"device=${d.deviceIds.join(",")}"` : "all";
                    flags.push("--gpus", ids);
                }
                break;
            case "healthcheck": {
                const hc = value as { tests: string[]; interval?: string; timeout?: string; startPeriod?: string; retries?: number };
                const [kind, ...rest] = hc.tests;
                if (kind === "NONE") {
                    flags.push("--no-healthcheck");
                    break;
                }
                // `docker run` has only the shell form; an exec form becomes the same argv, quoted.
                const cmd = kind === "CMD" ? rest.map(shellQuote).join(" ") : kind === "CMD-SHELL" ? rest[0] : undefined;
                if (cmd === undefined) throw new Error(`healthcheck test kind ${kind} is unknown`);
                flags.push("--health-cmd", cmd);
                if (hc.interval) flags.push("--health-interval", hc.interval);
                if (hc.timeout) flags.push("--health-timeout", hc.timeout);
                if (hc.startPeriod) flags.push("--health-start-period", hc.startPeriod);
                if (hc.retries !== undefined) flags.push("--health-retries", String(hc.retries));
                break;
            }
            case "logDriver":
                flags.push("--log-driver", value);
                break;
            case "logOpts":
                for (const [k, v] of Object.entries(value as Record<string, string>)) flags.push("--log-opt", `${k}=${v}`);
                break;
            case "labels":
                for (const l of value as { label: string; value: string }[]) flags.push("--label", `${l.label}=${l.value}`);
                break;
            case "stopTimeout":
                flags.push("--stop-timeout", String(value));
                break;
            default:
                throw new Error(
                    `container arg ${key} has no docker run flag in components/dockerRun.ts; teach the converter before using it`,
                );
        }
    }
    return flags;
}
