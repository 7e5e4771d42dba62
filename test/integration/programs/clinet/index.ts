/**
 * An engine-test program of the cli container runtime: `count` containers of stack `stack`, each a
 * command:local:Command running probes/container.js up (create) and down (delete), as
 * FleetService's cli runtime does, on the network `ai-fleet-<stack>`. The containers run
 * `image` (pinned by digest, pulled with the registry credentials on stdin) as an interactive bash
 * that stays up, instead of a service.
 */
import * as pulumi from "@pulumi/pulumi";
import * as command from "@pulumi/command";
import { probeCommand } from "../../../../components/probes";

const cfg = new pulumi.Config("clinet");
const stack = cfg.require("stack");
const image = cfg.require("image");
const registry = { registry: cfg.require("registry"), username: cfg.require("username"), password: cfg.requireSecret("password") };

export const containers: pulumi.Output<string>[] = [];
for (let i = 0; i < cfg.requireNumber("count"); i++) {
    const name = `ai-${stack}-c${i}`;
    const run = new command.local.Command(
        `c${i}-container`,
        {
            create: `${probeCommand("container.js")} up`,
            delete: `${probeCommand("container.js")} down`,
            environment: {
                FLEET_CONTAINER_NAME: name,
                FLEET_IMAGE: image,
                FLEET_NETWORK: `ai-fleet-${stack}`,
                FLEET_STACK: stack,
                FLEET_DOCKER_RUN: JSON.stringify(["--entrypoint", "bash", "-t", "-i", "--label", `ai-fleet.stack=${stack}`]),
            },
            stdin: pulumi.secret(pulumi.all([registry.password]).apply(([password]) => JSON.stringify({ ...registry, password }))),
            logging: "stderr",
        },
        { deleteBeforeReplace: true },
    );
    containers.push(run.stdout);
}
