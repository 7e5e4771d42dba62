/**
 * Names the program and the policy pack share: the labels every fleet container carries. Both
 * components/ (which sets them) and policy/ (which reads them) import them from here.
 */

/** The stack (machine) whose program created the container; also labels the stack's network. */
export const STACK_LABEL = "ai-fleet.stack";
/** The machine the container runs on: profiles/<machine>.json. */
export const MACHINE_LABEL = "ai-fleet.machine";
/** The service. */
export const SERVICE_LABEL = "ai-fleet.service";
/** The hardening opt-outs of the service's config (keys under services.<Name>.hardening), comma-separated. */
export const OPT_OUTS_LABEL = "ai-fleet.hardening.opt-outs";
/** "passed" once every gate the service waits for is open. */
export const GATE_LABEL = "ai-fleet.gate";
/** The node label that pins a service's Kubernetes workload to its machine (the operator labels each node with its machine's name). */
export const MACHINE_NODE_LABEL = "ai-fleet.io/machine";
/** The pod-template annotations a cluster workload carries its spec's log limits in (the kubelet rotates logs per node). */
export const LOG_MAX_SIZE_ANNOTATION = "ai-fleet.io/log-max-size";
export const LOG_MAX_FILES_ANNOTATION = "ai-fleet.io/log-max-files";
