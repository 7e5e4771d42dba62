/**
 * The two container runtimes as adapters of one ContainerSpec (common/containerSpec.ts): the docker
 * provider's Container args, and `docker run` flags for the cli runtime (probes/container.js). Each
 * adapter lists every field of the spec in its support table, so a field added to the spec does not
 * compile until each adapter says whether and how it expresses it; a field an adapter cannot express
 * is refused at preview, naming it (FleetService calls `unexpressedFields`).
 */
import type * as docker from "@pulumi/docker";
import { ContainerSpec, dockerHealthTest, hardeningOptOuts } from "../common/containerSpec";

export { dockerHealthTest };
import { GATE_LABEL, MACHINE_LABEL, OPT_OUTS_LABEL, SERVICE_LABEL, STACK_LABEL } from "../common/labels";

/** How an adapter handles one field of the spec: it is expressed, or it cannot be (and why). */
export type FieldSupport = "expressed" | { unsupported: string };
export type SpecSupport = Record<keyof ContainerSpec, FieldSupport>;

/** The docker provider expresses every field. */
export const PROVIDER_SUPPORT: SpecSupport = {
    service: "expressed",
    machine: "expressed",
    containerName: "expressed",
    ports: "expressed",
    bindAddress: "expressed",
    env: "expressed",
    secretEnv: "expressed",
    hardening: "expressed",
    gpuDevices: "expressed",
    health: "expressed",
    restart: "expressed",
    logs: "expressed",
    stopTimeoutSeconds: "expressed",
};

/** `docker run` expresses every field (the registry login and the network are the command's own). */
export const CLI_SUPPORT: SpecSupport = { ...PROVIDER_SUPPORT };

/** The fields of `spec` that are set but that an adapter cannot express, each with why: refused at preview. */
export function unexpressedFields(spec: ContainerSpec, support: SpecSupport): string[] {
    return (Object.keys(support) as (keyof ContainerSpec)[])
        .filter((k) => spec[k] !== undefined && support[k] !== "expressed")
        .map((k) => `${k} (${(support[k] as { unsupported: string }).unsupported})`);
}

/**
 * A whole number of seconds the way Go's time.Duration.String() prints it ("15s", "1m0s", "1h0m0s").
 * The docker provider (terraform-provider-docker's container Read) writes the healthcheck's
 * interval, timeout and start_period back in this form, so a value given in any other form ("60s")
 * differs from its read-back and shows `~healthcheck` on every `pulumi up`.
 */
export function goDuration(seconds: number): string {
    if (!Number.isInteger(seconds) || seconds < 0) {
        throw new Error(`goDuration: expected whole non-negative seconds, got ${seconds}`);
    }
    const h = Math.floor(seconds / 3600);
    const m = Math.floor((seconds % 3600) / 60);
    const s = seconds % 60;
    return h > 0 ? `${h}h${m}m${s}s` : m > 0 ? `${m}m${s}s` : `${s}s`;
}

/** KEY=VALUE lines, sorted so the container's inputs do not depend on object order. */
export function envList(env: Record<string, string>): string[] {
    return Object.keys(env)
        .sort()
        .map((k) => `${k}=${env[k]}`);
}

/** The container's labels, sorted by name: stack, machine, service, opt-outs (when any), and the gate's verdict. */
export function containerLabels(spec: ContainerSpec, gate: string): { label: string; value: string }[] {
    const labels: Record<string, string> = {
        [STACK_LABEL]: spec.machine,
        [MACHINE_LABEL]: spec.machine,
        [SERVICE_LABEL]: spec.service,
        [GATE_LABEL]: gate,
    };
    const optOuts = hardeningOptOuts(spec.hardening);
    if (optOuts.length > 0) {
        labels[OPT_OUTS_LABEL] = optOuts.join(",");
    }
    return Object.keys(labels)
        .sort()
        .map((label) => ({ label, value: labels[label] }));
}

/** The docker provider's Container args for a spec (image, labels' gate and network given by the caller). */
export function providerContainerArgs(
    spec: ContainerSpec,
    run: { gate: string; network?: string },
): Omit<docker.ContainerArgs, "image" | "envs"> & { envs: string[]; labels: { label: string; value: string }[] } {
    const h = spec.hardening;
    return {
        name: spec.containerName,
        user: h.user,
        init: h.init,
        readOnly: h.readOnlyRoot,
        tmpfs: h.readOnlyRoot ? Object.fromEntries(h.tmpfs.map((p) => [p, "rw,noexec,nosuid,size=64m"])) : undefined,
        securityOpts: h.noNewPrivileges ? ["no-new-privileges:true"] : [],
        capabilities: h.dropAllCapabilities ? { drops: ["ALL"] } : undefined,
        restart: spec.restart,
        envs: envList(spec.env),
        ports: spec.ports.map((p) => ({ internal: p.container, external: p.host, protocol: p.protocol, ip: spec.bindAddress })),
        deviceRequests:
            spec.gpuDevices && spec.gpuDevices.length > 0
                ? [{ driver: "nvidia", deviceIds: spec.gpuDevices, capabilities: ["gpu"] }]
                : undefined,
        healthcheck: {
            tests: dockerHealthTest(spec.health.containerPort, spec.health.path),
            // Go duration form: what the provider reads back (goDuration), so a second `up` sees no change.
            interval: goDuration(spec.health.intervalSeconds),
            timeout: goDuration(spec.health.timeoutSeconds),
            startPeriod: goDuration(spec.health.startPeriodSeconds),
            retries: spec.health.retries,
        },
        logDriver: spec.logs.driver,
        logOpts: { "max-size": spec.logs.maxSize, "max-file": String(spec.logs.maxFiles) },
        labels: containerLabels(spec, run.gate),
        stopTimeout: spec.stopTimeoutSeconds,
        destroyGraceSeconds: 30,
        mustRun: true,
        ...(run.network !== undefined ? { networksAdvanced: [{ name: run.network, aliases: [spec.containerName] }] } : {}),
    };
}

/** Quotes one word for /bin/sh (the only form `docker run --health-cmd` takes). */
export function shellQuote(s: string): string {
    return /^[A-Za-z0-9_./:=@+-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}

/**
 * The `docker run` flags (without `run -d`, name, network and image) that give a container the same
 * settings as the provider's Container args.
 */
export function dockerRunFlags(spec: ContainerSpec, gate: string): string[] {
    const h = spec.hardening;
    const flags: string[] = ["--user", h.user];
    if (h.init) flags.push("--init");
    if (h.readOnlyRoot) {
        flags.push("--read-only");
        for (const p of h.tmpfs) flags.push("--tmpfs", `${p}:rw,noexec,nosuid,size=64m`);
    }
    if (h.noNewPrivileges) flags.push("--security-opt", "no-new-privileges:true");
    if (h.dropAllCapabilities) flags.push("--cap-drop", "ALL");
    flags.push("--restart", spec.restart);
    for (const e of envList(spec.env)) flags.push("--env", e);
    for (const p of spec.ports)
        flags.push("--publish", `${spec.bindAddress ? spec.bindAddress + ":" : ""}${p.host}:${p.container}/${p.protocol}`);
    if (spec.gpuDevices && spec.gpuDevices.length > 0) flags.push("--gpus", `"device=${spec.gpuDevices.join(",")}"`);
    // `docker run` has only the shell form; the exec form becomes the same argv, quoted.
    const [, ...test] = dockerHealthTest(spec.health.containerPort, spec.health.path);
    flags.push(
        "--health-cmd",
        test.map(shellQuote).join(" "),
        "--health-interval",
        goDuration(spec.health.intervalSeconds),
        "--health-timeout",
        goDuration(spec.health.timeoutSeconds),
        "--health-start-period",
        goDuration(spec.health.startPeriodSeconds),
        "--health-retries",
        String(spec.health.retries),
    );
    flags.push(
        "--log-driver",
        spec.logs.driver,
        "--log-opt",
        `max-size=${spec.logs.maxSize}`,
        "--log-opt",
        `max-file=${spec.logs.maxFiles}`,
    );
    for (const l of containerLabels(spec, gate)) flags.push("--label", `${l.label}=${l.value}`);
    flags.push("--stop-timeout", String(spec.stopTimeoutSeconds));
    return flags;
}
