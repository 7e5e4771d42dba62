/**
 * BENCH PROGRAM: an empty Pulumi program (TypeScript, loaded the way the fleet's program is), the
 * floor a `pulumi preview` of the fleet is compared with: CLI start, language host, ts-node, SDK
 * load, the Stack resource and nothing else.
 */
import * as pulumi from "@pulumi/pulumi";

export const stack = pulumi.getStack();
