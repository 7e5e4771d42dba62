/**
 * The plain types the container components take: what deploy maps the stack config onto (no
 * component imports the config module, so a component can be read and tested on its own).
 */
import * as pulumi from "@pulumi/pulumi";
import * as docker from "@pulumi/docker";

/** A published port: what the process listens on inside, and what the machine exposes. */
export interface ContainerPort {
    /** Port inside the container. */
    container: number;
    /** Port on the machine. */
    host: number;
    /** Protocol. */
    protocol: "tcp" | "udp";
}

/** How a container is locked down; each field is on by default in the stack config. */
export interface ContainerHardening {
    /** Run as this UID:GID. */
    user: string;
    /** tini (Docker's init) as PID 1. */
    init: boolean;
    /** Read-only root filesystem. */
    readOnlyRoot: boolean;
    /** Writable tmpfs mounts (only with a read-only root). */
    tmpfs: string[];
    /** `no-new-privileges`. */
    noNewPrivileges: boolean;
    /** Drop every Linux capability. */
    dropAllCapabilities: boolean;
}

/** Settings of one service's container that need no resource: what the tests assert on. */
export interface ContainerSettings {
    /** Service name as in the config. */
    service: string;
    /** Machine (stack) the container runs on. */
    machine: string;
    /** Container name on the machine (fixed: see deleteBeforeReplace below). */
    containerName: string;
    /** Published ports, container → host. */
    ports: ContainerPort[];
    /** Address the host ports bind to. */
    bindAddress: string;
    /** Environment: the machine profile's, then the service's own. */
    env: Record<string, string>;
    /** User, init, read-only root, tmpfs, no-new-privileges, capabilities. */
    hardening: ContainerHardening;
    /** GPU indexes to hand the container, or none. */
    gpuDevices?: string[];
    /** In-container HTTP health endpoint for Docker's own healthcheck. */
    health: { containerPort: number; path: string };
    /** Keep the environment secret in the container's inputs and state (the stack's services config is a secret). Default false. */
    secretEnv?: boolean;
}

/** Where containers run: the docker provider (the supported path), or the docker CLI through a command. */
export type ContainerTarget =
    | {
          /** The docker provider plugin creates the container (RemoteImage + Container). */
          runtime: "provider";
          /** The machine's Docker provider (ssh:// or local socket). */
          provider: docker.Provider;
          /** The stack's Docker network. */
          network: pulumi.Input<string>;
      }
    | {
          /** `docker run` through @pulumi/command, for machines without the docker provider plugin. */
          runtime: "cli";
          /** DOCKER_HOST for the docker CLI (ssh://…, unix://…, tcp://…). */
          dockerHost: string;
          /** The stack's Docker network name (created if missing). */
          network: string;
          /** Stack name, labelled on the network. */
          stack: string;
          /** Registry credentials for the pull; the password stays secret. */
          registry: { host: string; username: string; password: pulumi.Input<string> };
      };
