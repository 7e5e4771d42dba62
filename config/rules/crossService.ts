/**
 * Cross-service rules: rules that relate one service to another, or to a family. `services.<Name>.family`
 * names a family; host ports (`ports`, `healthPort`, `health.hostPort`) are bound by one service
 * each; image repositories (`image`, default the name in snake_case) are one service's and no
 * family's; container names (ai-<machine>-<kebab name>) do not collide.
 */
import { kebab } from "../../naming";
import { Issue, unknownFamily } from "../issues";
import { publishedPorts, repositoryName } from "../model";
import type { ServiceConfig, StackConfig } from "../schema";
import { portShape } from "./service";
import { entriesOf, keysOf, str, Unchecked } from "./unchecked";

/** Every cross-service rule, in the order an operator reads them. */
export function crossServiceRules(cfg: Unchecked<StackConfig>): Issue[] {
    const families = keysOf(cfg.families);
    const issues: Issue[] = [];
    const hostPorts = new Map<string, string>();
    const repos = new Map<string, string>();
    const containers = new Map<string, string>();
    for (const [name, svc] of entriesOf<ServiceConfig>(cfg.services)) {
        const family = str(svc.family);
        if (family !== undefined && !families.includes(family)) {
            issues.push(unknownFamily(["services", name, "family"], family, families));
        }
        const shape = portShape(svc);
        (shape ? publishedPorts(shape) : []).forEach((p, i) => {
            const key = `${p.host}/${p.protocol}`;
            const owner = hostPorts.get(key);
            if (owner !== undefined) {
                issues.push({
                    path: shape?.ports ? ["services", name, "ports", i, "host"] : ["services", name, "ports"],
                    message: `host port ${p.host}/${p.protocol} is already bound by ${owner} on this machine; give one of them another host port`,
                });
            } else {
                hostPorts.set(key, name);
            }
        });
        const image = svc.image === undefined ? undefined : str(svc.image);
        if (svc.image === undefined || image !== undefined) {
            const repo = repositoryName(name, { image });
            const other = repos.get(repo);
            if (other !== undefined) {
                issues.push({ path: ["services", name, "image"], message: `image repository "${repo}" is already used by ${other}` });
            } else if (families.includes(repo)) {
                issues.push({ path: ["services", name, "image"], message: `image repository "${repo}" is the name of a family image` });
            } else {
                repos.set(repo, name);
            }
        }
        const container = kebab(name);
        const sameName = containers.get(container);
        if (sameName !== undefined) {
            issues.push({
                path: ["services", name],
                message: `its container name ai-<machine>-${container} is also ${sameName}'s; rename one of the services`,
            });
        } else {
            containers.set(container, name);
        }
    }
    return issues;
}
