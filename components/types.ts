/**
 * Where containers run. The components take plain types only (no config or profile types), so a
 * component can be read and tested on its own; the container's own description is
 * common/containerSpec.ts.
 */
import * as pulumi from "@pulumi/pulumi";
import * as docker from "@pulumi/docker";
import type * as k8s from "@pulumi/kubernetes";
import type { WorkloadSettings } from "./kubernetesAdapter";
import type { RegistryAccess } from "./probeInputs";

/** Where containers run: the docker provider (the supported path), the docker CLI through a command, or a Kubernetes cluster. */
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
      }
    | {
          /** A Kubernetes Deployment (and a Service) per service, through the kubernetes provider. */
          runtime: "kubernetes";
          /** The cluster's provider (kubeconfig and context). */
          provider: k8s.Provider;
          /** The namespace the workloads go to (the program's Namespace resource). */
          namespace: pulumi.Input<string>;
          /** How each workload is pinned and rolls; the pull secret's name is the program's Secret. */
          workload: Omit<WorkloadSettings, "envSecret">;
          /** Seconds the provider waits for a rollout to be ready. */
          timeoutSeconds: number;
      };
