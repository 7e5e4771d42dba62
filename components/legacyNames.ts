/**
 * The names a service's resources had under earlier versions of the program, as aliases, so that a
 * stack rolled out by one of them keeps every image, container and check under FleetService: the
 * engine moves them under the new component (same physical resources, no replacement, no restart).
 *
 * Before FleetService (up to 8bfbfd1) a service was five components at the stack's root:
 *   FleetImage `svc-<kebab>` (child `svc-<kebab>-build`; before that a ServiceImage),
 *   ImageVerification `svc-<kebab>-verify` (child command `svc-<kebab>-verify-check`),
 *   ImageScan `svc-<kebab>-scan` (child command `svc-<kebab>-scan-trivy`),
 *   ServiceContainer `ai-<machine>-<kebab>` (children `…-image`, `…-container`),
 *   HealthCheck `ai-<machine>-<kebab>-health` (child command `…-health-probe`);
 * and earlier still, the last two sat under a `<machine>-canary` or `<machine>-batch` group component.
 */
import * as pulumi from "@pulumi/pulumi";
import { containerName, ServiceRole, serviceImageName } from "../naming";

/** Type tokens of the components that parented a service's resources before FleetService. */
export const LEGACY_TYPES = {
    fleetImage: "ai-fleet:images:FleetImage",
    serviceImage: "ai-fleet:images:ServiceImage",
    verification: "ai-fleet:images:ImageVerification",
    scan: "ai-fleet:images:ImageScan",
    container: "ai-fleet:containers:ServiceContainer",
    healthCheck: "ai-fleet:rollout:HealthCheck",
    canary: "ai-fleet:rollout:Canary",
    batch: "ai-fleet:rollout:Batch",
} as const;

/** The type token of each role's own resource (the RemoteImage and Container of the provider runtime; a command otherwise). */
const ROLE_TYPES: Record<ServiceRole, string[]> = {
    build: ["docker-build:index:Image"],
    verify: ["command:local:Command"],
    scan: ["command:local:Command"],
    image: ["docker:index/remoteImage:RemoteImage"],
    container: ["docker:index/container:Container", "command:local:Command"],
    health: ["command:local:Command"],
    // Kubernetes children came after every earlier layout: nothing to alias.
    endpoint: [],
    env: [],
};

/** A resource's place under an earlier version: its own type token and its parents' (outermost first), and its name. */
interface Place {
    types: string[];
    name: string;
}

/** The URN of a resource of this stack at `place` (plain strings: an alias costs no Output). */
function urnOf(place: Place): string {
    return `urn:pulumi:${pulumi.getStack()}::${pulumi.getProject()}::${place.types.join("$")}::${place.name}`;
}

/** The parent type chains and the child's old name of each place `role` had before. */
function legacyPlaces(machine: string, service: string, role: ServiceRole): { parents: string[][]; child: string } {
    const svc = serviceImageName(service);
    const ctr = containerName(machine, service);
    // At the stack's root, or (the oldest versions) under the `<machine>-canary` or `<machine>-batch` group.
    const groups = (type: string): string[][] => [[type], [LEGACY_TYPES.canary, type], [LEGACY_TYPES.batch, type]];
    switch (role) {
        case "build":
            return { parents: [[LEGACY_TYPES.fleetImage], [LEGACY_TYPES.serviceImage]], child: `${svc}-build` };
        case "verify":
            return { parents: [[LEGACY_TYPES.verification]], child: `${svc}-verify-check` };
        case "scan":
            return { parents: [[LEGACY_TYPES.scan]], child: `${svc}-scan-trivy` };
        case "image":
            return { parents: groups(LEGACY_TYPES.container), child: `${ctr}-image` };
        case "container":
            return { parents: groups(LEGACY_TYPES.container), child: `${ctr}-container` };
        case "health":
            return { parents: groups(LEGACY_TYPES.healthCheck), child: `${ctr}-health-probe` };
        case "endpoint":
        case "env":
            return { parents: [], child: "" };
    }
}

/** Aliases of a FleetImage's verification: the command `<family>-verify-check` under the ImageVerification component `<family>-verify`. */
export function familyVerifyAliases(family: string): string[] {
    return [urnOf({ types: [LEGACY_TYPES.verification, "command:local:Command"], name: `${family}-verify-check` })];
}

/** Aliases of a FleetService's child: every URN the same resource had under an earlier version. */
export function serviceAliases(machine: string, service: string, role: ServiceRole): string[] {
    const { parents, child } = legacyPlaces(machine, service, role);
    return parents.flatMap((chain) => ROLE_TYPES[role].map((type) => urnOf({ types: [...chain, type], name: child })));
}
