/**
 * The stack config: one zod schema, parsed once, every problem reported together with its key
 * path, before any resource is registered. `import … from "./config"` reaches all of it.
 */
export * from "./issues"; // PROJECT, ConfigError: what a problem is and how it is printed
export * from "./fields"; // field types shared by several keys
export * from "./serviceSchema"; // one entry of services and of families
export * from "./schema"; // the whole stack config's schema and its types
export * from "./model"; // derived values: ports, health endpoint, repository, build paths, orders
export * from "./checks"; // checks across keys (the schema's refinement)
export * from "./buildChecks"; // checks of what gets built and from where
export * from "./machineChecks"; // checks of what runs on the machine
export * from "./stackContext"; // checks that need the stack itself (self-reference, plaintext secrets)
export * from "./parse"; // parse and freeze
export * from "./load"; // engine config, secrets, stack name, registry password, git commit
