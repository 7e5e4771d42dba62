/**
 * A small program for the scan engine tests: a real FleetService without a container (the build
 * phase's shape for a given image: verification, then the real Trivy through the command provider)
 * on an image in the local registry, and a resource standing for the container, which takes the
 * service's `runnable` reference (resolved only once the scan passed) as its real container does. The container
 * stand-in also takes `scan:containerEnv`, a setting that is not the scan's: changing it is a
 * release that changes only config.
 */
import * as pulumi from "@pulumi/pulumi";
import * as command from "@pulumi/command";
import { FleetService } from "../../../../components";

const cfg = new pulumi.Config("scan");
const scan = new FleetService(cfg.require("service"), {
    machine: "local",
    image: { ref: cfg.require("image") },
    platform: "linux/amd64",
    registry: {
        host: cfg.require("registryHost"),
        username: cfg.require("registryUser"),
        password: cfg.requireSecret("registryPassword"),
        insecure: true,
    },
    scan: {
        severity: "CRITICAL",
        allow: cfg.getObject<{ id: string; reason: string; expires: string }[]>("allow") ?? [],
        ignoreUnfixed: false,
        dbUpdate: false,
        cacheDir: cfg.require("cacheDir"),
        trivy: cfg.require("trivy"),
        timeoutSeconds: 300,
    },
});
const container = new command.local.Command("container", {
    create: pulumi.interpolate`echo ${scan.runnable}`,
    environment: { CONTAINER_ENV: cfg.get("containerEnv") ?? "" },
});

export const scanReport = scan.scanReport;
export const containerImage = container.stdout;
