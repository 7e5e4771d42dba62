/** One entry of `services` and of `families` in the stack config: what to build, and how a service runs. */
import { z } from "zod";
import { dirName, pathTemplate } from "../buildTree/layout";
import { envMap, imageRefString, port, repoComponent } from "./fields";

/** A published port: what the process listens on inside, and what the machine exposes. */
const PortSchema = z.strictObject({
    container: port,
    host: port,
    protocol: z.enum(["tcp", "udp"]).default("tcp"),
});

const HardeningSchema = z.strictObject({
    /** Run as this UID:GID. Default 10001:10001. */
    user: z
        .string()
        .regex(/^[0-9]+:[0-9]+$/, "expected UID:GID in numbers, e.g. 10001:10001")
        .default("10001:10001"),
    /** tini (Docker's init) as PID 1. Default true. */
    init: z.boolean().default(true),
    /** Read-only root filesystem. Default true. */
    readOnlyRoot: z.boolean().default(true),
    /** Writable tmpfs mounts (only with a read-only root). Default ["/tmp"]. */
    tmpfs: z.array(z.string().regex(/^\//, "expected an absolute path")).default(["/tmp"]),
    /** `no-new-privileges`. Default true. */
    noNewPrivileges: z.boolean().default(true),
    /** Drop every Linux capability. Default true. */
    dropAllCapabilities: z.boolean().default(true),
});

export const ServiceSchema = z.strictObject({
    /** Family image the service builds FROM (as BASE_IMAGE, by digest). */
    family: z.string(),
    /** Build context under build.contextRoot (a template, see build.layout). Default: build.layout.services.context, else the name in snake_case. */
    context: pathTemplate("context").optional(),
    /** Dockerfile under build.contextRoot (a template). Default: build.layout.services.dockerfile, else <context>/Dockerfile. */
    dockerfile: pathTemplate("dockerfile").optional(),
    /** The service's directory name in the checkout, the layout's {dir}. Default: the name in lowercase. */
    dir: dirName.optional(),
    /** Repository name under <registry>/<org>/<namespace>/<machine>/. Default: the name in snake_case. */
    image: repoComponent.optional(),
    /** The service's main port on the machine (fleet-facts' first number). */
    port,
    /** The health port on the machine (a ZMQ REP socket in the fleet; HTTP health is on healthPort + 1). */
    healthPort: port,
    /** Published ports, container → host. Default: port, healthPort, and healthPort + 1 on health.hostPort. */
    ports: z.array(PortSchema).min(1).optional(),
    health: z
        .strictObject({
            /** HTTP path answering {"status":"ok"}. Default /health. */
            path: z
                .string()
                .regex(/^\/[^\s]*$/, "expected a path starting with /")
                .default("/health"),
            /** Host port of the HTTP health endpoint. Default healthPort + 1 (the fleet's convention; remap it where that port is taken). */
            hostPort: port.optional(),
        })
        .default({ path: "/health" }),
    /** Extra environment, on top of the machine profile's: a profile key's value follows profiles/schema.ts, and names the program sets are refused (checkServiceEnv in machineChecks.ts). */
    env: envMap.default({}),
    /** Extra build args (MACHINE, BASE_IMAGE and the profile's are set by the program). */
    buildArgs: envMap.default({}),
    /** Request the machine's GPU devices. Default false. */
    gpu: z.boolean().default(false),
    /** Services that must be healthy before this one starts: names of this stack, or `<gate stack>/<Service>`. Default none. */
    dependsOn: z.array(z.string().min(1)).default([]),
    /** false: a failed health check warns and holds nothing back (only optional services may depend on it). Default true. */
    required: z.boolean().default(true),
    hardening: HardeningSchema.default(HardeningSchema.parse({})),
});

export const FamilySchema = z.strictObject({
    /** Build context under build.contextRoot (a template). Default: build.layout.families.context, else families/<name>. */
    context: pathTemplate("context").optional(),
    /** Dockerfile under build.contextRoot (a template). Default: build.layout.families.dockerfile, else <context>/Dockerfile. */
    dockerfile: pathTemplate("dockerfile").optional(),
    /** The family's directory name in the checkout, the layout's {dir}. Default: the name in lowercase. */
    dir: dirName.optional(),
    /** Another family this one builds FROM (by digest). Exactly one of parent/baseImage. */
    parent: z.string().optional(),
    /** An external base image (e.g. python:3.11-slim). Exactly one of parent/baseImage. */
    baseImage: imageRefString.optional(),
    /** Extra build args. */
    buildArgs: envMap.default({}),
});

export type ServiceConfig = z.infer<typeof ServiceSchema>;
export type FamilyConfig = z.infer<typeof FamilySchema>;
export type PortMapping = z.infer<typeof PortSchema>;
