/**
 * The ai-fleet hardening policy pack: `pulumi preview --policy-pack policy` (see README, "Policy
 * pack"). The rules live in policies.ts, the container shape both runtimes share in container.ts.
 */
import { PolicyPack } from "@pulumi/policy";
import { policies } from "./policies";

new PolicyPack("ai-fleet-hardening", { policies: policies() });
