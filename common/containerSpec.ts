/**
 * The one description of a service's container, whichever runtime starts it. deploy/ builds it once
 * from the stack config (deploy/containers.ts); the docker provider's adapter and the docker CLI's
 * adapter (components/containerAdapters.ts) turn it into their own arguments; the policy pack
 * (policy/container.ts) judges it as the FleetService component carries it. A new container field is
 * added here, in the builder, and in each adapter: the adapters' field tables do not compile until
 * every field is listed.
 *
 * Plain data only (no Pulumi Output): a release records it (release.ts) and a rollback restores it.
 */
import { z } from "zod";

const portNumber = z.number().int().min(1).max(65535);
const seconds = z.number().int().min(0);

/** What the program gives every container unless a release recorded otherwise. */
export const CONTAINER_DEFAULTS = {
    health: { intervalSeconds: 15, timeoutSeconds: 5, startPeriodSeconds: 60, retries: 3 },
    restart: "unless-stopped",
    logs: { driver: "json-file", maxSize: "10m", maxFiles: 3 },
    stopTimeoutSeconds: 20,
} as const;

/**
 * The spec as a schema: its type (ContainerSpec) is derived from it, and a release's recorded spec
 * is read through it. The fields added after releases began recording specs (restart, logs, stop
 * timeout, the healthcheck's timings) have defaults, so a release recorded before them reads as the
 * container it then ran.
 */
export const containerSpecSchema = z.strictObject({
    /** Service name as in the config. */
    service: z.string(),
    /** Machine (stack) the container runs on. */
    machine: z.string(),
    /** Container name on the machine (fixed, so a replacement deletes the old one first). */
    containerName: z.string(),
    /** Published ports, container → host. */
    ports: z.array(z.strictObject({ container: portNumber, host: portNumber, protocol: z.enum(["tcp", "udp"]) })),
    /** Address the host ports bind to. */
    bindAddress: z.string(),
    /** Environment: the machine profile's, the program's, then the service's own. */
    env: z.record(z.string(), z.string()),
    /** Keep the environment secret in the container's inputs and state (the stack's services config is a secret). */
    secretEnv: z.boolean().optional(),
    /** How the container is locked down; each field is on by default in the stack config. */
    hardening: z.strictObject({
        /** Run as this UID:GID. */
        user: z.string(),
        /** tini (Docker's init) as PID 1. */
        init: z.boolean(),
        /** Read-only root filesystem. */
        readOnlyRoot: z.boolean(),
        /** Writable tmpfs mounts (only with a read-only root). */
        tmpfs: z.array(z.string()),
        /** `no-new-privileges`. */
        noNewPrivileges: z.boolean(),
        /** Drop every Linux capability. */
        dropAllCapabilities: z.boolean(),
    }),
    /** GPU indexes to hand the container, or none. */
    gpuDevices: z.array(z.string()).optional(),
    /** Docker's own healthcheck of the JSON status: the in-container endpoint and how often it is polled. */
    health: z.strictObject({
        containerPort: portNumber,
        path: z.string(),
        intervalSeconds: seconds.default(CONTAINER_DEFAULTS.health.intervalSeconds),
        timeoutSeconds: seconds.default(CONTAINER_DEFAULTS.health.timeoutSeconds),
        startPeriodSeconds: seconds.default(CONTAINER_DEFAULTS.health.startPeriodSeconds),
        retries: z.number().int().min(1).default(CONTAINER_DEFAULTS.health.retries),
    }),
    /** Docker's restart policy. */
    restart: z.enum(["unless-stopped", "always", "on-failure", "no"]).default(CONTAINER_DEFAULTS.restart),
    /** Where the logs go and how they rotate. */
    logs: z
        .strictObject({ driver: z.literal("json-file"), maxSize: z.string(), maxFiles: z.number().int().min(1) })
        .default({ ...CONTAINER_DEFAULTS.logs }),
    /** Seconds Docker waits after SIGTERM before SIGKILL. */
    stopTimeoutSeconds: seconds.default(CONTAINER_DEFAULTS.stopTimeoutSeconds),
});

/** Everything a service's container runs with, except its image (which the image gate hands over). */
export type ContainerSpec = z.output<typeof containerSpecSchema>;
/** A published port. */
export type ContainerPort = ContainerSpec["ports"][number];
/** How a container is locked down. */
export type ContainerHardening = ContainerSpec["hardening"];

/** The spec's Docker healthcheck, as both runtimes run it and the policy pack reads it: python3 is in every fleet image, curl is not; the JSON `status` is compared, not the code. */
export function dockerHealthTest(port: number, path: string): string[] {
    const script =
        "import json,sys,urllib.request as u\n" +
        `r=u.urlopen('http://127.0.0.1:${port}${path}',timeout=3)\n` +
        "sys.exit(0 if json.loads(r.read()).get('status')=='ok' else 1)";
    return ["CMD", "python3", "-c", script];
}

/**
 * The hardening a spec opts out of, by config key (services.<Name>.hardening.<key>): what the
 * container's OPT_OUTS_LABEL names, so the policy pack reports each one. `user` counts when it is
 * root (UID 0); another non-root UID is no opt-out.
 */
export function hardeningOptOuts(h: ContainerHardening): string[] {
    const out: string[] = [];
    if (/^0(:|$)/.test(h.user)) out.push("user");
    if (!h.init) out.push("init");
    if (!h.readOnlyRoot) out.push("readOnlyRoot");
    if (!h.noNewPrivileges) out.push("noNewPrivileges");
    if (!h.dropAllCapabilities) out.push("dropAllCapabilities");
    return out;
}
