/**
 * The stack config: one zod schema, parsed once by one parser, every problem reported together
 * with its key path, before any resource is registered. `import … from "./config"` reaches what
 * the rest of the program uses.
 *
 * Where a rule lives, by its key (every rule reads config the one way of rules/unchecked.ts):
 *
 * | file | holds |
 * |---|---|
 * | `schema.ts` | every key's shape, type and default, and the checks of one value on its own (ranges, patterns, image references, a template's placeholders) |
 * | `rules/service.ts` | one entry on its own: `families.<name>` has exactly one of parent/baseImage; `services.<Name>.ports` publishes each container port once, `health.hostPort` is published, `hardening.tmpfs` only on a read-only root, not over `/`, not twice |
 * | `rules/crossService.ts` | one service against the others: `services.<Name>.family` names a family; host ports, image repositories (`image`) and container names are one service's each |
 * | `rules/graph.ts` | the two graphs: `services.<Name>.dependsOn` with `rollout.canary`, `rollout.excluded`, `rollout.gateStack`, `rollout.allowUngatedBatch`; `families.<name>.parent` (unknown, cycles); the cycle finder the plan (graph.ts) uses too |
 * | `rules/buildTree.ts` | what is built and from where: `build.*` (layout, sourceUrl, cache), each entry's `context`/`dockerfile`/`buildArgs`, `registry.*`, `deploy.images` |
 * | `rules/machine.ts` | the machine: `machine` (its profile), `docker.*` addresses, `rollout.health.*` bounds, `services.<Name>.gpu` and `.env` against the profile and the program's names |
 * | `rules/stack.ts` | what needs the stack itself: `rollout.gateStack`/`deploy.imagesFromStack` naming this stack, plaintext secrets (`registryPassword`, secret-named `services.<Name>.env`) |
 *
 * Around them: `issues.ts` (what a problem is, how it is printed), `layout.ts` (the build.layout
 * template language), `model.ts` (values derived from a parsed config), `parse.ts` (the parser:
 * the schema with the rules; one key for a command), `load.ts` (the engine's config and secrets).
 * Imports run one way: schema ← rules ← parse ← load; nothing in config/ imports graph.ts,
 * deploy/, components/ or buildTree/ (test/unit/configImports.test.ts holds it).
 */
export { ConfigError, formatIssue, PROJECT } from "./issues";
export type { Issue } from "./issues";
export { FamilySchema, SCAN_SEVERITIES, ServiceSchema, StackConfigSchema } from "./schema";
export type { FamilyConfig, KubernetesSettings, LayoutConfig, PortMapping, ScanSettings, ServiceConfig, StackConfig } from "./schema";
export { buildPaths, DEFAULT_LAYOUT, pathProblem, PLACEHOLDERS, resolveLayout, templateProblems } from "./layout";
export type { Layout, LayoutEntry, LayoutRule, LayoutSettings } from "./layout";
export { familyBuildPaths, familyOrder, healthEndpoint, healthHost, publishedPorts, repositoryName, serviceBuildPaths } from "./model";
export { checkGraph, findCycle, localEdges, parseRemote, stackNameOf } from "./rules/graph";
export type { GraphInput, GraphService, RemoteDependency } from "./rules/graph";
export { contextPathProblem, PROGRAM_BUILD_ARGS } from "./rules/buildTree";
export { healthBoundsIssues, PROGRAM_ENV } from "./rules/machine";
export type { HealthBounds } from "./rules/machine";
export { SECRET_CONFIG_KEYS } from "./rules/stack";
export type { StackContext } from "./rules/stack";
export { contextFreeRules, parseStackConfig, parseStackKey } from "./parse";
export type { FleetConfig } from "./parse";
export {
    configKeyIsSecret,
    configSecretness,
    currentRawConfig,
    currentStackName,
    engineSecretKeysKnown,
    loadFleetConfig,
    loadFleetStack,
    rawFromConfigMap,
    rawStackConfig,
    registryPassword,
} from "./load";
export { fleetStackOf, FleetStackSchema, isFleetStack, parseFleetStack } from "./fleet";
export type { FleetContext, FleetMachine, FleetStackConfig } from "./fleet";
