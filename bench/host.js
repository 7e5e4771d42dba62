/**
 * BENCH LOADER: starts a TypeScript program the way `pulumi up`'s Node.js language host starts
 * this project's index.ts (@pulumi/pulumi 3.248: cmd/run/index.js, cmd/run/run.js, tsutils.js), so
 * that the bench times the program under the loader the engine uses. Usage:
 *
 *   node bench/host.js <program.ts> [args…]     (cwd: the project, where tsconfig.json is)
 *
 * What is mirrored, in the language host's order:
 *   1. require("source-map-support/register"), resolved from @pulumi/pulumi (cmd/run/index.js does
 *      it before anything of the program is loaded);
 *   2. ts-node's register() with the options run.js builds for a CommonJS project on TypeScript ≥ 4.7:
 *      compiler "typescript", transpileOnly from PULUMI_NODEJS_TRANSPILE_ONLY (run.js: "true" → true;
 *      unset → the tsconfig's own noCheck, else ts-node's default of type checking), project =
 *      PULUMI_NODEJS_TSCONFIG_PATH (the language host sets it from Pulumi.yaml's runtime.options.tsconfig;
 *      the bench does the same) or tsconfig.json, skipProject when that file is missing,
 *      compilerOptions = { target ES2020, module nodenext, moduleResolution nodenext, sourceMap "true",
 *      …that file's own compilerOptions, without its `extends` (read by the SDK's own
 *      tsutils.loadTypeScriptCompilerOptions) }; ts-node and typescript resolved from @pulumi/pulumi
 *      as tsutils.typeScriptRequireStrings does;
 *   3. process.argv = [node, host, …program args], then require(program).
 * Not mirrored: cmd/run/instrumentation (OpenTelemetry; inert without TRACEPARENT), the engine
 * connection and the program's uncaught-error handlers (the bench runs under mocks), ESM mode (the
 * project is CommonJS).
 */
"use strict";
const fs = require("fs");
const path = require("path");

const sdkDir = path.dirname(require.resolve("@pulumi/pulumi"));
const fromSdk = (id) => require.resolve(id, { paths: [sdkDir] });

// 1. cmd/run/index.js
require(fromSdk("source-map-support/register"));

// 2. cmd/run/run.js (typescript: true, not ESM)
const tsutils = require(path.join(sdkDir, "tsutils"));
const tsConfigPath = process.env.PULUMI_NODEJS_TSCONFIG_PATH ?? "tsconfig.json";
const compilerOptions = tsutils.loadTypeScriptCompilerOptions(tsConfigPath);
const transpileOnly = process.env.PULUMI_NODEJS_TRANSPILE_ONLY
    ? process.env.PULUMI_NODEJS_TRANSPILE_ONLY === "true"
    : compilerOptions.noCheck;
const ts = require(fromSdk("typescript"));
const [major, minor] = ts.version.split(".").map(Number);
const useNodeNext = major > 4 || (major === 4 && minor >= 7);
require(fromSdk("ts-node")).register({
    compiler: fromSdk("typescript"),
    transpileOnly,
    project: tsConfigPath,
    skipProject: !fs.existsSync(tsConfigPath),
    compilerOptions: {
        target: "ES2020",
        module: useNodeNext ? "nodenext" : "commonjs",
        moduleResolution: useNodeNext ? "nodenext" : "node",
        sourceMap: "true",
        ...compilerOptions,
    },
});

// 3. the program, with the argv it would see
const [program, ...args] = process.argv.slice(2);
if (!program) {
    process.stderr.write("usage: node bench/host.js <program.ts> [args…]\n");
    process.exit(2);
}
process.argv = [process.argv[0], process.argv[1], ...args];
require(path.resolve(program));
