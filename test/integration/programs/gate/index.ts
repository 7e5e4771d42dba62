/**
 * A small program for the engine tests: the real HealthCheck component against a service the
 * test started, and a resource standing for the batch that must wait for it.
 */
import * as pulumi from "@pulumi/pulumi";
import * as command from "@pulumi/command";
import { HealthCheck } from "../../../../components/healthCheck";

const cfg = new pulumi.Config("gate");
const check = new HealthCheck("canary", {
    service: cfg.require("service"),
    host: "127.0.0.1",
    port: cfg.requireNumber("port"),
    path: "/health",
    bounds: { timeoutSeconds: cfg.requireNumber("timeoutSeconds"), intervalSeconds: 0.5, retries: 1000, requestTimeoutSeconds: 1 },
    digest: cfg.require("digest"),
});
const batch = new command.local.Command("batch", { create: "echo batch rolled out" }, { dependsOn: [check.check] });

export const report = check.report;
export const batchOutput = batch.stdout;
