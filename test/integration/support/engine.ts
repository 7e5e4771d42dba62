/**
 * The real Pulumi engine for the integration tests: testkit/engine.ts (shared with the bench),
 * re-exported under the name the tests import.
 */
export * from "../../../testkit/engine";
