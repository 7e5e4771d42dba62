/**
 * A fleet stack's rollout: every machine of the fleet onto one cluster in one update. Each machine
 * is deployed as its own stack would be (deploy()), its resources named `<machine>/…`, sharing the
 * fleet's cluster connection; a machine whose gateStack is another machine of the fleet gates on
 * that machine's canary report in-process. The outputs are a machine stack's, each service keyed
 * `<machine>/<Service>`, so the release, the rollback and status work on the fleet as on a machine.
 */
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import { FleetStackConfig } from "../config";
import { combineReports, HealthReport, RolloutReport, ScanReport } from "../components";
import { scopedName } from "../naming";
import { deploy } from "./index";
import { clusterConnection } from "./rollout";
import { DeployInputs, FleetOutputs, FleetScope, ImageOutput, ServiceSpec, SpecDifference, SpecSource } from "./types";

/** What a fleet stack exports beside a machine stack's outputs. */
export interface FleetStackOutputs extends Omit<FleetOutputs, "machine" | "plan"> {
    /** The fleet stack's machines, in rollout order. */
    machines: string[];
    /** Each machine's rollout order, by machine. */
    plans: Record<string, NonNullable<FleetOutputs["plan"]>>;
    /** Every `<machine>/<Service>` of the fleet. */
    services: string[];
}

/** What deployFleet takes beside the parsed fleet stack. */
export interface FleetDeployInputs extends Omit<DeployInputs, "config" | "registryPassword" | "fleet" | "restore"> {
    fleet: FleetStackConfig;
    /** A machine's registry password (the fleet stack's secret, else the machine's registry.passwordEnv). */
    registryPassword: (machine: FleetStackConfig["machines"][number]) => pulumi.Output<string>;
    /** A rollback's release for one machine (its part of the fleet's, release.ts machineOverrides). */
    restore: (machine: string) => DeployInputs["restore"];
}

/** `record` with each key `<machine>/<key>`. */
function keyed<T>(machine: string, record: Record<string, T>): Record<string, T> {
    return Object.fromEntries(Object.entries(record).map(([k, v]) => [scopedName(k, machine), v]));
}

/** One report of the fleet from the machines' reports: each service `<machine>/<Service>`. */
function fleetReport(tag: string, reports: { machine: string; report: pulumi.Output<RolloutReport> }[]): pulumi.Output<RolloutReport> {
    return pulumi.all(reports.map((r) => r.report)).apply((all) =>
        combineReports(
            "fleet",
            tag,
            all.flatMap((r, i) =>
                Object.values(r.services).map((s): HealthReport => ({ ...s, service: scopedName(s.service, reports[i].machine) })),
            ),
        ),
    );
}

/** Rolls out every machine of the fleet stack; returns the fleet's outputs. */
export function deployFleet(inputs: FleetDeployInputs): FleetStackOutputs {
    const { fleet, release } = inputs;
    const cluster = clusterConnection("fleet", fleet.kubernetes);
    const stacks = fleet.machines.map((m) => m.stack);
    const peers: FleetScope["peers"] = {};
    const rolled: { machine: string; out: FleetOutputs }[] = [];
    for (const m of fleet.machines) {
        const machine = m.config.profile.machine;
        const out = deploy({
            config: m.config,
            release,
            commit: inputs.commit,
            registryPassword: inputs.registryPassword(m),
            restore: inputs.restore(machine),
            fleet: { scope: machine, cluster, stacks, peers: { ...peers } },
        });
        peers[m.stack] = { canaryReport: out.canaryReport, report: out.report };
        rolled.push({ machine, out });
    }
    const first = rolled[0].out;
    const images: Record<string, ImageOutput> = {};
    const specs: Record<string, ServiceSpec> = {};
    const services: string[] = [];
    const plans: FleetStackOutputs["plans"] = {};
    for (const { machine, out } of rolled) {
        Object.assign(images, keyed(machine, out.images));
        Object.assign(specs, keyed(machine, out.specs ?? {}));
        services.push(...Object.keys(out.specs ?? {}).map((s) => scopedName(s, machine)));
        if (out.plan) plans[machine] = out.plan;
    }
    const withReport = rolled.filter((r) => r.out.report !== undefined);
    const withCanary = rolled.filter((r) => r.out.canaryReport !== undefined);
    const gates = rolled.map((r) => r.out.gate).filter((g): g is pulumi.Output<string> => g !== undefined);
    const scans = rolled.filter((r) => r.out.scanReport !== undefined);
    return {
        machines: rolled.map((r) => r.machine),
        phase: first.phase,
        tag: first.tag,
        tagSource: first.tagSource,
        images,
        containers: rolled.flatMap((r) => r.out.containers),
        services: services.sort(),
        canaryReport:
            withCanary.length > 0
                ? fleetReport(
                      release.tag,
                      withCanary.map((r) => ({ machine: r.machine, report: r.out.canaryReport as pulumi.Output<RolloutReport> })),
                  )
                : undefined,
        gate: gates.length > 0 ? pulumi.all(gates).apply(() => "passed") : undefined,
        report:
            withReport.length > 0
                ? fleetReport(
                      release.tag,
                      withReport.map((r) => ({ machine: r.machine, report: r.out.report as pulumi.Output<RolloutReport> })),
                  )
                : undefined,
        plans,
        specs: rolled.some((r) => r.out.specs) ? specs : undefined,
        specSource: fleetSpecSource(
            rolled.map((r, i) => ({ machine: r.machine, file: path.basename(fleet.machines[i].file), source: r.out.specSource })),
        ),
        scanReport:
            scans.length > 0
                ? pulumi
                      .all(scans.map((r) => r.out.scanReport as pulumi.Output<Record<string, ScanReport>>))
                      .apply((all) => Object.assign({}, ...all.map((r, i) => keyed(scans[i].machine, r))) as Record<string, ScanReport>)
                : undefined,
    };
}

/** The machines' spec sources as one: the stack files', or the release restored (differences keyed `<machine>/<Service>`). */
function fleetSpecSource(sources: { machine: string; file: string; source?: SpecSource }[]): SpecSource | undefined {
    const restored = sources.filter((s) => s.source?.from === "release");
    if (restored.length === 0) {
        return sources.some((s) => s.source) ? { from: "stack file" } : undefined;
    }
    const differences: SpecDifference[] = [];
    const fromStackFile: string[] = [];
    let recordedSpecs = false;
    let tag = "";
    for (const { machine, source } of restored) {
        if (source?.from !== "release") continue;
        tag = source.tag;
        recordedSpecs ||= source.recordedSpecs;
        differences.push(...source.differences.map((d) => ({ ...d, service: scopedName(d.service, machine) })));
        fromStackFile.push(...source.fromStackFile.map((s) => scopedName(s, machine)));
    }
    const stackFiles = Object.fromEntries(sources.map((s) => [s.machine, s.file]));
    return { from: "release", tag, recordedSpecs, differences, fromStackFile, stackFiles };
}
