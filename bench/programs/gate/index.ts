/**
 * BENCH PROGRAM: the real HealthCheck component (as test/integration/programs/gate, with the
 * bounds taken from config so the local stack's rollout.health applies), and a resource standing
 * for the batch that waits for it and records when it ran (ms since the epoch): how long after the
 * service turned healthy the gated work actually starts.
 */
import * as pulumi from "@pulumi/pulumi";
import * as command from "@pulumi/command";
import { HealthCheck } from "../../../components/healthCheck";

const cfg = new pulumi.Config("gate");
const check = new HealthCheck("canary", {
    service: cfg.require("service"),
    host: "127.0.0.1",
    port: cfg.requireNumber("port"),
    path: "/health",
    bounds: {
        timeoutSeconds: cfg.requireNumber("timeoutSeconds"),
        intervalSeconds: cfg.requireNumber("intervalSeconds"),
        retries: cfg.requireNumber("retries"),
        requestTimeoutSeconds: cfg.requireNumber("requestTimeoutSeconds"),
    },
    digest: cfg.require("digest"),
});
const batch = new command.local.Command("batch", { create: "date +%s%3N" }, { dependsOn: [check.check] });

export const report = check.report;
export const batchStartedMs = batch.stdout;
