/** The fleet's components and the plain types they take. */
export { BuildRequest, BuildSettings, buildArgsFor, cacheRef, dockerBuildArgs, ociLabels, pinnedRef, pinnedRefValue } from "./buildSpec";
export {
    CLI_SUPPORT,
    containerLabels,
    dockerHealthTest,
    dockerRunFlags,
    envList,
    FieldSupport,
    goDuration,
    PROVIDER_SUPPORT,
    providerContainerArgs,
    shellQuote,
    SpecSupport,
    unexpressedFields,
} from "./containerAdapters";
export { FLEET_IMAGE_TYPE, FleetImage, FleetImageArgs, LEGACY_FAMILY_IMAGE_TYPE } from "./fleetImage";
export { FleetService, FleetServiceArgs, ServiceImageSource, ServiceRun } from "./fleetService";
export { combineReports, Gate, GateClosedError, gateOutput, holdsBack, openGate, RolloutReport } from "./gate";
export { LEGACY_TYPES, serviceAliases } from "./legacyNames";
export {
    AllowedFindingReport,
    AllowEntry,
    HealthBounds,
    healthCheckCommand,
    healthInput,
    HealthReport,
    healthUrl,
    parseHealthReport,
    parseScanReport,
    parseVerification,
    ProbeSettings,
    RegistryAccess,
    scanCommand,
    scanInput,
    ScanPolicy,
    ScanReport,
    Severity,
    verificationCommand,
    verificationInput,
} from "./probeInputs";
export { probeCommand, runProbe } from "./probes";
export { ContainerTarget } from "./types";
export {
    deploymentSpec,
    dockerConfigJson,
    GPU_RESOURCE,
    KUBERNETES_SUPPORT,
    MACHINE_NODE_LABEL,
    selectorLabels,
    serviceSpec,
    workloadName,
    WorkloadSettings,
} from "./kubernetesAdapter";
