/**
 * An engine-test program in the shape of a FleetService stack (components/fleetService.ts): each
 * service a component of type ai-fleet:fleet:FleetService named by the service, its children named
 * `<Service>-<role>`. It fails the ways a rollout fails, so the test can read the engine's events:
 *  - RealTimeAudioPipeline-health: the real health probe against a service the caller serves
 *    (`events:port`, answering {"status": "degraded"});
 *  - ServiceRegistry-scan: a command that exits 1 (a failed image gate, not a health gate);
 *  - Executor: its gate stays shut, raised as FleetService raises it (gateOutput with the service's
 *    component: a ResourceError, so the engine's diagnostic carries the service's URN);
 *  - CodeGenerator: its gate stays shut, raised without a component (GateClosedError, a RunError: the
 *    engine's diagnostic carries no URN).
 */
import * as pulumi from "@pulumi/pulumi";
import * as command from "@pulumi/command";
import { gateOutput, healthCheckCommand, RolloutReport } from "../../../../components";
import { FLEET_SERVICE_TYPE, serviceResourceName } from "../../../../naming";

const cfg = new pulumi.Config("events");

function fleetService(service: string): pulumi.ComponentResource {
    return new pulumi.ComponentResource(FLEET_SERVICE_TYPE, service, {});
}

const canary = fleetService("RealTimeAudioPipeline");
const spec = healthCheckCommand({
    service: "RealTimeAudioPipeline",
    host: "127.0.0.1",
    port: cfg.requireNumber("port"),
    path: "/health",
    bounds: { timeoutSeconds: 2, intervalSeconds: 0.5, retries: 3, requestTimeoutSeconds: 1 },
    digest: `sha256:${"a".repeat(64)}`,
    rollbackCommand: "npm run rollback -- --stack events",
});
new command.local.Command(
    serviceResourceName("RealTimeAudioPipeline", "health"),
    { create: spec.create, environment: spec.environment, logging: "stderr" },
    { parent: canary },
);

const registry = fleetService("ServiceRegistry");
new command.local.Command(
    serviceResourceName("ServiceRegistry", "scan"),
    { create: "echo 'vulnerability gate failed: ServiceRegistry: 1 vulnerability at or above CRITICAL' >&2; exit 1" },
    { parent: registry },
);

// Another stack's canary report, for a release that is not this one: both gates stay shut.
const stale: RolloutReport = { machine: "mainpc", tag: "r1", healthy: true, services: {} };
const gates = [{ source: "stack organization/ai-fleet/mainpc", report: stale, requireTag: "r2" }];

const executor = fleetService("Executor");
const executorGate = gateOutput(gates, "Executor's rollout", executor);
new command.local.Command(
    serviceResourceName("Executor", "container"),
    { create: "echo up", environment: { FLEET_GATE: executorGate } },
    { parent: executor },
);

const generator = fleetService("CodeGenerator");
new command.local.Command(
    serviceResourceName("CodeGenerator", "container"),
    { create: "echo up", environment: { FLEET_GATE: gateOutput(gates, "CodeGenerator's rollout") } },
    { parent: generator },
);
