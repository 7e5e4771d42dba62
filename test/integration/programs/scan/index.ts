/**
 * A small program for the scan engine tests: the real ImageScan component (the real Trivy, through
 * the command provider) on an image in the local registry, and a resource standing for the
 * container, which takes the scan's `pinned` output as a real container does. The container
 * stand-in also takes `scan:containerEnv`, a setting that is not the scan's: changing it is a
 * release that changes only config.
 */
import * as pulumi from "@pulumi/pulumi";
import * as command from "@pulumi/command";
import { ImageScan } from "../../../../components/imageScan";

const cfg = new pulumi.Config("scan");
const scan = new ImageScan("svc-scan", {
    service: cfg.require("service"),
    image: cfg.require("image"),
    registry: {
        host: cfg.require("registryHost"),
        username: cfg.require("registryUser"),
        password: cfg.requireSecret("registryPassword"),
        insecure: true,
    },
    policy: {
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
    create: pulumi.interpolate`echo ${scan.pinned}`,
    environment: { CONTAINER_ENV: cfg.get("containerEnv") ?? "" },
});

export const scanReport = scan.report;
export const containerImage = container.stdout;
