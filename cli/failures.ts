/**
 * What failed in an update, read from the engine's events (Automation API `onEvent`): the URN and
 * resource type of each failed step and the engine's error diagnostics on that URN, never the
 * message text. Each service is one FleetService (components/fleetService.ts) whose children are
 * named `<Service>-<role>` (naming.ts), so a URN names the service and what of it failed.
 *
 * A gate failure is what the rollout rolls back for:
 *  - role "health": an error of the service's health check (`<Service>-health`), whatever the probe
 *    printed (the diagnostic carries its message: URL, last status, last body);
 *  - role "gate": an error of the FleetService itself. The one error a FleetService raises on itself
 *    in an update is its gate staying shut (the canary's report or another stack's): raised as a
 *    `pulumi.ResourceError` of the component, the engine's diagnostic carries its URN. (Raised as a
 *    bare RunError, as components/serviceRollout.ts's GateClosedError is, the diagnostic has no
 *    URN: it is shown with the update's errors, and is no gate failure.)
 * Errors of resources outside a FleetService (and of the pre-FleetService layout) name no service:
 * they are shown with the update's errors, and are no gate failure.
 */
import { EngineEvent } from "@pulumi/pulumi/automation";
import { FLEET_SERVICE_TYPE, parseUrn, ServiceRole, serviceResourceOf } from "../naming";

/** What of a service failed: one of its children's roles, or "gate" (the FleetService itself). */
export type FailureRole = ServiceRole | "gate";

/** One failed resource of a service, as the engine reported it. */
export interface ServiceFailure {
    service: string;
    role: FailureRole;
    /** The failed resource's type token (e.g. command:local:Command). */
    type: string;
    urn: string;
    /** The engine's error diagnostics on this URN, as it gave them (each once, in order); empty when it gave none. */
    diagnostic: string;
}

/** The service and role a URN names; undefined for a resource that is no FleetService nor one of its children. */
export function failureSite(urn: string): { service: string; role: FailureRole; type: string } | undefined {
    const child = serviceResourceOf(urn);
    if (child) {
        return child;
    }
    const u = parseUrn(urn);
    return u && u.type === FLEET_SERVICE_TYPE ? { service: u.name, role: "gate", type: u.type } : undefined;
}

/** The type token of a service's workload on a Kubernetes target (its `container` role). */
export const WORKLOAD_TYPE = "kubernetes:apps/v1:Deployment";

/**
 * Whether a failure is at a gate of the rollout: a health check, a gate that stayed shut, or on a
 * Kubernetes target a workload whose rollout did not become ready (its readiness probe is the same
 * health contract, and the provider fails the update naming it).
 */
export function isGateFailure(f: ServiceFailure): boolean {
    return f.role === "health" || f.role === "gate" || (f.role === "container" && f.type === WORKLOAD_TYPE);
}

/** The failures of a run so far, and when its first gate failure arrived, filled in by `onEvent`. */
export interface FailureLog {
    /** One per failed URN, in the order the engine reported them. */
    failures: ServiceFailure[];
    /** When the engine reported the first gate failure (ms since the epoch). */
    firstGateFailureAt?: number;
    onEvent(e: EngineEvent): void;
}

/** A FailureLog to hand to `stack.up({ onEvent })` (or to feed recorded events). */
export function failureLog(now: () => number = Date.now): FailureLog {
    const seen = new Map<string, string[]>();
    const log: FailureLog = {
        failures: [],
        onEvent: (e) => {
            const d = e.diagnosticEvent;
            const failed = e.resOpFailedEvent?.metadata;
            const urn = d?.severity === "error" ? d.urn : failed?.urn;
            const site = urn ? failureSite(urn) : undefined;
            if (!urn || !site) {
                return;
            }
            let f = log.failures.find((x) => x.urn === urn);
            if (!f) {
                f = { ...site, type: failed?.type ?? site.type, urn, diagnostic: "" };
                log.failures.push(f);
                seen.set(urn, []);
            }
            const texts = seen.get(urn) as string[];
            const text = d?.message.trim() ?? "";
            if (text !== "" && !texts.includes(text)) {
                texts.push(text);
                f.diagnostic = texts.join("\n");
            }
            if (log.firstGateFailureAt === undefined && isGateFailure(f)) {
                log.firstGateFailureAt = now();
            }
        },
    };
    return log;
}

/** The failures a list of recorded engine events holds (what a FailureLog collects). */
export function failuresOf(events: Iterable<EngineEvent>): ServiceFailure[] {
    const log = failureLog();
    for (const e of events) {
        log.onEvent(e);
    }
    return log.failures;
}

/** What each role is called in a sentence. */
const ROLE_WORDS: Record<FailureRole, string> = {
    build: "build",
    verify: "image verification",
    scan: "vulnerability scan",
    image: "image",
    container: "container",
    health: "health check",
    endpoint: "Kubernetes Service",
    env: "environment Secret",
    gate: "gate",
};

/** Lines of a diagnostic shown whole; of a longer one, its first line and its last ones (where a probe's verdict is). */
const SHOWN_LINES = 12;

/** A diagnostic as the engine gave it, indented; a long one (a probe's every attempt) shortened in the middle. */
function shownDiagnostic(diagnostic: string): string {
    const lines = diagnostic === "" ? ["(the engine gave no diagnostic)"] : diagnostic.split("\n");
    const tail = SHOWN_LINES - 2;
    const shown = lines.length <= SHOWN_LINES ? lines : [lines[0], `… ${lines.length - 1 - tail} lines …`, ...lines.slice(-tail)];
    return shown.map((l) => `    ${l}`).join("\n");
}

/**
 * What the operator reads of failures: per service, once, what of it failed (role, resource type
 * and name) and the engine's diagnostic as it gave it, e.g.
 * `RealTimeAudioPipeline: its health check (command:local:Command RealTimeAudioPipeline-health) failed:`
 * and the probe's message (URL, last status, last body) below.
 */
export function describeFailures(failures: ServiceFailure[]): string {
    const services = [...new Set(failures.map((f) => f.service))];
    return services
        .map((service) => {
            const parts = failures
                .filter((f) => f.service === service)
                .map((f) => `its ${ROLE_WORDS[f.role]} (${f.type} ${parseUrn(f.urn)?.name}) failed:\n${shownDiagnostic(f.diagnostic)}`);
            return `${service}: ${parts.join(`\n${service}: `)}`;
        })
        .join("\n");
}
