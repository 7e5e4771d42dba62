/**
 * A small program for the engine tests and the gate benchmark: the real health probe, run as
 * FleetService runs it (runProbe with the health contract's input), against a service the caller
 * started, and a resource standing for the batch that must wait for it. The batch records when it
 * ran (ms since the epoch), so the bench can time the gate.
 */
import * as pulumi from "@pulumi/pulumi";
import * as command from "@pulumi/command";
import { healthInput, runProbe } from "../../../../components";
import { HEALTH } from "../../../../components/probes";

const cfg = new pulumi.Config("gate");
const service = cfg.require("service");
const environment = healthInput({
    service,
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
    rollbackCommand: `npm run rollback -- --stack ${pulumi.getStack()}`,
});
const check = runProbe(
    "canary",
    HEALTH,
    { environment, secret: false, triggers: [cfg.require("digest")], what: `health check of ${service}` },
    {},
);
const batch = new command.local.Command("batch", { create: "date +%s%3N" }, { dependsOn: [check.command] });

export const report = check.output;
export const batchStartedMs = batch.stdout;
