/**
 * A small program for the alias engine test: one service's health check laid out the way an older
 * version of the program did (the command `ai-local-system-digital-twin-health-probe` under a
 * HealthCheck component, itself under the `<machine>-canary` or `<machine>-batch` group component,
 * or at the stack's root), or the way it is now (the command `SystemDigitalTwin-health` under the
 * service's FleetService component, with the aliases FleetService gives it: serviceAliases). The
 * component here is a bare ComponentResource of FleetService's type, so the test exercises the alias
 * URNs alone; test/integration/legacyState.test.ts moves whole stacks under the real FleetService.
 */
import * as pulumi from "@pulumi/pulumi";
import { healthInput, LEGACY_TYPES, runProbe, serviceAliases } from "../../../../components";
import { FLEET_SERVICE_TYPE } from "../../../../naming";
import { HEALTH } from "../../../../components/probes";

const cfg = new pulumi.Config("aliases");
const layout = cfg.require("layout");
const environment = healthInput({
    service: "SystemDigitalTwin",
    host: "127.0.0.1",
    port: cfg.requireNumber("port"),
    path: "/health",
    bounds: { timeoutSeconds: 20, intervalSeconds: 0.5, retries: 100, requestTimeoutSeconds: 1 },
    digest: cfg.require("digest"),
});
const digest = cfg.require("digest");
let check: ReturnType<typeof runProbe<typeof HEALTH>>;
if (layout === "fleet") {
    const service = new pulumi.ComponentResource(FLEET_SERVICE_TYPE, "SystemDigitalTwin", {});
    check = runProbe(
        "SystemDigitalTwin-health",
        HEALTH,
        { environment, secret: false, triggers: [digest], what: "health check of SystemDigitalTwin" },
        { parent: service, aliases: serviceAliases("local", "SystemDigitalTwin", "health") },
    );
} else {
    const group =
        layout === "root"
            ? undefined
            : new pulumi.ComponentResource(layout === "canary" ? LEGACY_TYPES.canary : LEGACY_TYPES.batch, `local-${layout}`, {});
    const component = new pulumi.ComponentResource(LEGACY_TYPES.healthCheck, "ai-local-system-digital-twin-health", {}, { parent: group });
    check = runProbe(
        "ai-local-system-digital-twin-health-probe",
        HEALTH,
        { environment, secret: false, triggers: [digest], what: "health check of SystemDigitalTwin" },
        { parent: component },
    );
}
export const report = check.output;
