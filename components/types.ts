/**
 * Where containers run. The components take plain types only (no config or profile types), so a
 * component can be read and tested on its own; the container's own description is
 * common/containerSpec.ts.
 */
import * as pulumi from "@pulumi/pulumi";
import * as docker from "@pulumi/docker";
import type { RegistryAccess } from "./probeInputs";

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
          /** The registry the pull reads; the password stays secret. */
          registry: RegistryAccess;
      };
