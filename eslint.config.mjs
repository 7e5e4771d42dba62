// Lint for the program, its tools and its tests (npm run lint; npm test runs it).
import js from "@eslint/js";
import tseslint from "typescript-eslint";
import globals from "globals";

export default tseslint.config(
    { ignores: ["node_modules/", "bench/.work/", "docs/", "**/node_modules/"] },
    js.configs.recommended,
    ...tseslint.configs.recommended,
    {
        languageOptions: { globals: { ...globals.node } },
        rules: {
            // Stack config and provider inputs are loosely typed JSON; `any` is used where zod has already validated.
            "@typescript-eslint/no-explicit-any": "off",
            "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", varsIgnorePattern: "^_", caughtErrors: "none" }],
        },
    },
    {
        // The bench loads modules with require() on purpose, to time their loading apart from evaluation.
        files: ["bench/program.ts"],
        rules: { "@typescript-eslint/no-require-imports": "off" },
    },
    {
        // Probes are plain CommonJS scripts that the engine runs with node.
        files: ["**/*.js"],
        languageOptions: { sourceType: "commonjs" },
        rules: { "@typescript-eslint/no-require-imports": "off" },
    },
);
