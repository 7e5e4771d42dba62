/**
 * A small program for the alias engine test: one service's health check laid out the way an older
 * version of the program did (a child of the `<machine>-canary` or `<machine>-batch` group
 * component), or the way it is now (top level, with legacyGroupAliases). Switching layouts on the
 * same stack must replace nothing.
 */
import * as pulumi from "@pulumi/pulumi";
import { HealthCheck, HealthCheckArgs } from "../../../../components/healthCheck";
import { LEGACY_BATCH_TYPE, LEGACY_CANARY_TYPE, legacyGroupAliases } from "../../../../components/serviceRollout";

const cfg = new pulumi.Config("aliases");
const layout = cfg.require("layout");
const args: HealthCheckArgs = {
    service: "SystemDigitalTwin",
    host: "127.0.0.1",
    port: cfg.requireNumber("port"),
    path: "/health",
    bounds: { timeoutSeconds: 20, intervalSeconds: 0.5, retries: 100, requestTimeoutSeconds: 1 },
    digest: cfg.require("digest"),
};
const name = "ai-local-system-digital-twin-health";
let check: HealthCheck;
if (layout === "canary" || layout === "batch") {
    const group = new pulumi.ComponentResource(layout === "canary" ? LEGACY_CANARY_TYPE : LEGACY_BATCH_TYPE, `local-${layout}`, {});
    check = new HealthCheck(name, args, { parent: group });
} else {
    check = new HealthCheck(name, args, { aliases: legacyGroupAliases("local") });
}
export const report = check.report;
