import * as pulumi from "@pulumi/pulumi";
import * as command from "@pulumi/command";
import { probeCommand } from "./probes";

/** Type token of HealthCheck. */
export const HEALTH_CHECK_TYPE = "ai-fleet:rollout:HealthCheck";

/** Bounds of one health check. */
export interface HealthBounds {
    /** Give up after this long (seconds). */
    timeoutSeconds: number;
    /** Wait between attempts (seconds). */
    intervalSeconds: number;
    /** Give up after this many attempts. */
    retries: number;
    /** Per-request timeout (seconds). */
    requestTimeoutSeconds: number;
}

/** Checks one service's HTTP health endpoint from where `pulumi up` runs. */
export interface HealthCheckArgs {
    /** Service name, named in every message. */
    service: string;
    /** Host the endpoint is reached at (the machine's address). */
    host: string;
    /** Host port of the HTTP health endpoint. */
    port: number;
    /** Path, e.g. /health. Must start with /. */
    path: string;
    /** Bounds: timeout, interval, retries, per-request timeout. */
    bounds: HealthBounds;
    /** The image digest being checked: a new digest re-runs the check. */
    digest: pulumi.Input<string>;
    /** false: an unhealthy service is reported (healthy: false) and warned about instead of failing the update. Default true. */
    required?: boolean;
    /** Anything else whose change must re-run the check (e.g. the container id). Default none. */
    triggers?: pulumi.Input<string>[];
    /** The command a failure message names to roll back. Default `npm run rollback -- --stack <this stack>`. */
    rollbackCommand?: string;
}

/** One service's health as the probe reported it. */
export interface HealthReport {
    service: string;
    host: string;
    url: string;
    healthy: boolean;
    status: string;
    httpStatus: number;
    attempts: number;
    elapsedSeconds: number;
    digest: string;
    /** false for an optional service, whose failure is reported instead of failing the update. */
    required?: boolean;
    /** Why an optional service is not healthy (last status and body). */
    problem?: string;
    /** When the check ended (ISO 8601): what a dependent's start is ordered after. */
    at?: string;
}

/** The URL a health check polls. */
export function healthUrl(host: string, port: number, path: string): string {
    const h = host.includes(":") && !host.startsWith("[") ? `[${host}]` : host;
    return `http://${h}:${port}${path}`;
}

/** The exact command and environment HealthCheck runs (exported so the real-engine tests run the same thing). */
export function healthCheckCommand(args: {
    service: string;
    host: string;
    port: number;
    path: string;
    bounds: HealthBounds;
    digest: string;
    required?: boolean;
    rollbackCommand?: string;
}): {
    create: string;
    environment: Record<string, string>;
} {
    return {
        create: probeCommand("health-probe.js"),
        environment: {
            FLEET_SERVICE: args.service,
            FLEET_HOST: args.host,
            FLEET_HEALTH_URL: healthUrl(args.host, args.port, args.path),
            FLEET_TIMEOUT_S: String(args.bounds.timeoutSeconds),
            FLEET_INTERVAL_S: String(args.bounds.intervalSeconds),
            FLEET_RETRIES: String(args.bounds.retries),
            FLEET_REQUEST_TIMEOUT_S: String(args.bounds.requestTimeoutSeconds),
            FLEET_DIGEST: args.digest,
            FLEET_REQUIRED: args.required === false ? "false" : "true",
            ...(args.rollbackCommand ? { FLEET_ROLLBACK_HINT: args.rollbackCommand } : {}),
        },
    };
}

/** Parses the probe's JSON report line; anything but a healthy report is an error naming the service. */
export function parseHealthReport(stdout: string, service: string): HealthReport {
    const line = stdout.trim().split("\n").pop() ?? "";
    let parsed: Partial<HealthReport>;
    try {
        parsed = JSON.parse(line) as Partial<HealthReport>;
    } catch {
        throw new Error(`health check of ${service} printed no JSON report: ${JSON.stringify(stdout.slice(0, 200))}`);
    }
    if (parsed.service !== service || typeof parsed.healthy !== "boolean" || typeof parsed.url !== "string") {
        throw new Error(`health check of ${service} printed an unexpected report: ${line}`);
    }
    return parsed as HealthReport;
}

/**
 * A @pulumi/command resource that polls the service until its JSON `status` is "ok", bounded by
 * timeout and retries. A failure fails `pulumi up` with service, host, URL, last status and body,
 * and blocks everything that depends on it. It re-runs when the image digest changes.
 */
export class HealthCheck extends pulumi.ComponentResource {
    /** The report: service, URL, healthy, attempts, elapsed time, digest. */
    public readonly report: pulumi.Output<HealthReport>;
    /** The command resource, for `dependsOn` of what must wait for this check. */
    public readonly check: command.local.Command;

    constructor(name: string, args: HealthCheckArgs, opts?: pulumi.ComponentResourceOptions) {
        super(HEALTH_CHECK_TYPE, name, {}, opts);
        if (!args.path.startsWith("/")) {
            throw new pulumi.ResourceError(`HealthCheck '${name}': 'path' must start with /, got "${args.path}"`, this);
        }
        if (!Number.isInteger(args.port) || args.port < 1 || args.port > 65535) {
            throw new pulumi.ResourceError(`HealthCheck '${name}': 'port' must be 1-65535, got ${args.port}`, this);
        }
        const rollbackCommand = args.rollbackCommand ?? `npm run rollback -- --stack ${pulumi.getStack()}`;
        const spec = pulumi.output(args.digest).apply((digest) => healthCheckCommand({ ...args, digest, rollbackCommand }));
        this.check = new command.local.Command(
            `${name}-probe`,
            {
                create: spec.create,
                environment: spec.environment,
                triggers: [args.digest, ...(args.triggers ?? [])],
                logging: "stderr",
            },
            { parent: this, customTimeouts: { create: `${Math.ceil(args.bounds.timeoutSeconds + 60)}s` } },
        );
        this.report = this.check.stdout.apply((out) => {
            const report = parseHealthReport(out, args.service);
            if (!report.healthy) {
                pulumi.log.warn(
                    `optional service ${args.service} is not healthy; nothing waits for it: ${report.problem ?? report.status}`,
                    this,
                );
            }
            return report;
        });
        this.registerOutputs({ report: this.report });
    }
}
