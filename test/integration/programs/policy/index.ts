/**
 * A small program for the policy-pack engine tests: containers in the shape the second container
 * runtime registers them, a `command:local:Command` carrying its docker.ContainerArgs as JSON in
 * FLEET_CONTAINER_SPEC (the runtime's contract), one per entry of the config `policy:specs`
 * ({name: spec}). The command itself runs nothing (`true`): only the policies look at it.
 */
import * as pulumi from "@pulumi/pulumi";
import * as command from "@pulumi/command";

const specs = new pulumi.Config("policy").requireObject<Record<string, Record<string, unknown>>>("specs");
export const containers = Object.keys(specs)
    .sort()
    .map(
        (name) =>
            new command.local.Command(name, { create: "true", environment: { FLEET_CONTAINER_SPEC: JSON.stringify(specs[name]) } }).urn,
    );
