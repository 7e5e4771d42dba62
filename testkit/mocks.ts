/**
 * MOCKS FOR THE UNIT TESTS AND THE BENCH ONLY (test/unit/harness.ts, bench/program.ts): the answers
 * Pulumi's mock monitor gives in place of the engine and every provider, so no CLI, plugin or
 * Docker engine is needed. Never loaded by the program itself; the real engine is exercised by
 * test/integration and the bench's engine part.
 *
 * The mocks answer like the providers would: docker-build returns a digest, the verification
 * command returns the digest it was asked to find, the health probe returns a healthy report
 * unless the scenario says a service fails, and the vulnerability scan stands in for Trivy with the
 * scenario's findings, judged by the gate's real policy (probes/scan-policy.js) with the severity
 * and allow-list the command was given.
 */
import * as pulumi from "@pulumi/pulumi";
import { createHash } from "crypto";
import { PROJECT } from "../config";
import { allowedReport, decide, failureMessage, Finding, Severity } from "../probes/scan-policy";

/** One resource the program registered. */
export interface Registered {
    type: string;
    name: string;
    inputs: Record<string, any>;
}

/** How the mocked world behaves in one test. */
export interface Scenario {
    /** Services whose health probe fails (the command exits non-zero, as the real probe does). */
    failHealth: Set<string>;
    /** Services whose probe returns a report with healthy: false. */
    unhealthyReport: Set<string>;
    /** Images (repo:tag substring) the registry does not have. */
    missingImages: Set<string>;
    /** Outputs of StackReferences by stack name. */
    stackOutputs: Record<string, Record<string, unknown>>;
    /** What "Trivy" finds in a service's image (none when absent). */
    scanFindings: Record<string, Finding[]>;
}

export const registered: Registered[] = [];
export const scenario: Scenario = {
    failHealth: new Set(),
    unhealthyReport: new Set(),
    missingImages: new Set(),
    stackOutputs: {},
    scanFindings: {},
};

/** Deterministic fake digest of a string. */
export function fakeDigest(s: string): string {
    return `sha256:${createHash("sha256").update(s).digest("hex")}`;
}

/** The mock monitor passes secret inputs as `{<signature>: …, value}`; providers see the plain value. */
export function unwrapSecret<V>(v: V | { value: V }): V {
    const sig = "4dabf18193072939515e22adb298388d";
    return v !== null && typeof v === "object" && sig in (v as object) ? (v as { value: V }).value : (v as V);
}

function commandOutputs(inputs: Record<string, any>): Record<string, unknown> {
    const env: Record<string, string> = unwrapSecret(inputs.environment) ?? {};
    if (env.FLEET_HEALTH_URL !== undefined) {
        const service = env.FLEET_SERVICE;
        const required = env.FLEET_REQUIRED !== "false";
        if (scenario.failHealth.has(service) && !required) {
            // As the real probe does for an optional service: a report of the failure, exit 0.
            const report = {
                service,
                host: env.FLEET_HOST,
                url: env.FLEET_HEALTH_URL,
                healthy: false,
                status: "degraded",
                httpStatus: 200,
                attempts: 60,
                elapsedSeconds: 300,
                digest: env.FLEET_DIGEST,
                required,
                problem: 'status "degraded" is not "ok"',
            };
            return { ...inputs, stdout: JSON.stringify(report), stderr: "" };
        }
        if (scenario.failHealth.has(service)) {
            throw new Error(
                `health check failed: service ${service} on host ${env.FLEET_HOST}: GET ${env.FLEET_HEALTH_URL}: last status 200, last body "{\\"status\\":\\"degraded\\"}"`,
            );
        }
        const healthy = !scenario.unhealthyReport.has(service);
        const report = {
            service,
            host: env.FLEET_HOST,
            url: env.FLEET_HEALTH_URL,
            healthy,
            status: healthy ? "ok" : "degraded",
            httpStatus: 200,
            attempts: 1,
            elapsedSeconds: 0.1,
            digest: env.FLEET_DIGEST,
            required,
        };
        return { ...inputs, stdout: JSON.stringify(report), stderr: "" };
    }
    if (env.FLEET_SCAN_IMAGE !== undefined) {
        // Stands in for probes/scan-image.js: the findings come from the scenario instead of Trivy.
        const service = env.FLEET_SCAN_SERVICE;
        const severity = env.FLEET_SCAN_SEVERITY as Severity;
        const findings = scenario.scanFindings[service] ?? [];
        const decision = decide(findings, { severity, allow: JSON.parse(env.FLEET_SCAN_ALLOW) }, new Date());
        if (!decision.passed) {
            throw new Error(
                `vulnerability gate failed: ${failureMessage(`${env.FLEET_SCAN_IMAGE} (service ${service})`, decision, severity)}`,
            );
        }
        const digest = env.FLEET_SCAN_IMAGE.slice(env.FLEET_SCAN_IMAGE.indexOf("@") + 1);
        const report = {
            service,
            image: env.FLEET_SCAN_IMAGE,
            digest,
            passed: true,
            severity,
            os: "debian 12.12",
            findings: findings.length,
            counts: decision.counts,
            allowed: allowedReport(decision),
            scanSeconds: 0.1,
            waitedSeconds: 0,
        };
        return { ...inputs, stdout: JSON.stringify(report), stderr: "" };
    }
    if (env.FLEET_CONTAINER_NAME !== undefined) {
        // The cli runtime's `container.js up`: the id of the container it started.
        return {
            ...inputs,
            stdout: JSON.stringify({
                id: fakeDigest(env.FLEET_CONTAINER_NAME + env.FLEET_IMAGE).slice(7),
                name: env.FLEET_CONTAINER_NAME,
                image: env.FLEET_IMAGE,
            }),
            stderr: "",
        };
    }
    if (env.FLEET_IMAGE !== undefined) {
        const image = env.FLEET_IMAGE;
        if ([...scenario.missingImages].some((m) => image.includes(m))) {
            throw new Error(`image verification failed: ${image} is not in the registry (HTTP 404)`);
        }
        const repo = image.replace(/@sha256:.*$/, "").replace(/:[^:/]+$/, "");
        const digest = env.FLEET_EXPECTED_DIGEST || (image.includes("@") ? image.slice(image.indexOf("@") + 1) : fakeDigest(image));
        return { ...inputs, stdout: JSON.stringify({ image, digest, pinned: `${repo}@${digest}` }), stderr: "" };
    }
    return { ...inputs, stdout: "", stderr: "" };
}

/**
 * Whether newResource keeps every registration in `registered` (the bench turns it off: at 1000
 * services it is memory); `count` and `byType` (registrations per resource type, components
 * included) are kept either way.
 */
export const recording = { enabled: true, count: 0, byType: {} as Record<string, number> };

/** The mock monitor: answers for every resource type the program registers. */
export const monitor: pulumi.runtime.Mocks = {
    newResource(args: pulumi.runtime.MockResourceArgs): { id: string; state: Record<string, unknown> } {
        recording.count++;
        recording.byType[args.type] = (recording.byType[args.type] ?? 0) + 1;
        if (recording.enabled) {
            registered.push({ type: args.type, name: args.name, inputs: args.inputs });
        }
        switch (args.type) {
            case "docker-build:index:Image": {
                const digest = fakeDigest(JSON.stringify([args.name, args.inputs.tags, args.inputs.buildArgs]));
                return {
                    id: args.name,
                    state: { ...args.inputs, digest, ref: `${args.inputs.tags[0]}@${digest}`, contextHash: "ctx" },
                };
            }
            case "command:local:Command":
                return { id: args.name, state: commandOutputs(args.inputs) };
            case "docker:index/remoteImage:RemoteImage":
                return {
                    id: args.name,
                    state: { ...args.inputs, imageId: fakeDigest(args.inputs.name), repoDigest: args.inputs.name },
                };
            case "pulumi:pulumi:StackReference":
                return {
                    id: args.inputs.name,
                    state: { ...args.inputs, outputs: scenario.stackOutputs[args.inputs.name] ?? {}, secretOutputNames: [] },
                };
            default:
                return { id: `${args.name}-id`, state: args.inputs };
        }
    },
    call(args: pulumi.runtime.MockCallArgs): Record<string, unknown> {
        return args.inputs;
    },
};

/**
 * Installs the mock monitor for project ai-fleet; `stack` is what pulumi.getStack() returns. Call
 * leanPromiseStacks() first where the program would (index.ts does, before any resource).
 */
export function installMocks(stack = "unit"): void {
    pulumi.runtime.setMocks(monitor, PROJECT, stack, false);
}

/** Clears what earlier tests registered and resets the scenario. */
export function resetWorld(): void {
    registered.length = 0;
    recording.count = 0;
    recording.byType = {};
    scenario.failHealth.clear();
    scenario.unhealthyReport.clear();
    scenario.missingImages.clear();
    scenario.stackOutputs = {};
    scenario.scanFindings = {};
}
