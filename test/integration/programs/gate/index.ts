/**
 * A small program for the engine tests and the gate benchmark: the real HealthCheck component
 * against a service the caller started, and a resource standing for the batch that must wait for
 * it. The batch records when it ran (ms since the epoch), so the bench can time the gate.
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
    bounds: {
        timeoutSeconds: cfg.requireNumber("timeoutSeconds"),
        intervalSeconds: cfg.getNumber("intervalSeconds") ?? 0.5,
        retries: cfg.getNumber("retries") ?? 1000,
        requestTimeoutSeconds: cfg.getNumber("requestTimeoutSeconds") ?? 1,
    },
    digest: cfg.require("digest"),
});
const batch = new command.local.Command("batch", { create: "date +%s%3N" }, { dependsOn: [check.check] });

export const report = check.report;
export const batchStartedMs = batch.stdout;
