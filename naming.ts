/**
 * Names are identity: every resource name, container name, image repository and tag is computed
 * here from stable keys (service, family and machine names, the commit), never from order or time.
 */
import * as pulumi from "@pulumi/pulumi";

/** Splits "RealTimeAudioPipelinePC2" into ["real", "time", "audio", "pipeline", "pc2"]. */
export function words(name: string): string[] {
    return name
        .replace(/([a-z0-9])([A-Z])/g, "$1 $2")
        .replace(/([A-Z]+)([A-Z][a-z])/g, "$1 $2")
        .split(/[^A-Za-z0-9]+/)
        .filter((w) => w.length > 0)
        .map((w) => w.toLowerCase());
}

/** "ModelOpsCoordinator" → "model-ops-coordinator" (resource and container names). */
export function kebab(name: string): string {
    return words(name).join("-");
}

/** "ModelOpsCoordinator" → "model_ops_coordinator" (image repositories and build contexts, as the fleet names them). */
export function snake(name: string): string {
    return words(name).join("_");
}

/** A parsed image reference: `[registry/]repository[:tag][@digest]`. */
export interface ImageRef {
    registry?: string;
    repository: string;
    tag?: string;
    digest?: string;
}

const COMPONENT = "[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*";
const DOMAIN = "(?:[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*(?::[0-9]+)?)";
const TAG = "[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}";
const DIGEST = "sha256:[a-f0-9]{64}";
const REF_RE = new RegExp(`^(?:(${DOMAIN})/)?(${COMPONENT}(?:/${COMPONENT})*)(?::(${TAG}))?(?:@(${DIGEST}))?$`);
const TAG_RE = new RegExp(`^${TAG}$`);
const COMPONENT_RE = new RegExp(`^${COMPONENT}$`);

/** True for a valid Docker tag (what `FORCE_IMAGE_TAG` must be). */
export function isValidTag(tag: string): boolean {
    return TAG_RE.test(tag);
}

/** True for one valid repository path component (lowercase, separators inside only). */
export function isValidRepoComponent(s: string): boolean {
    return COMPONENT_RE.test(s);
}

/**
 * Parses an image reference the way Docker does, or returns undefined. Rejects what broke the
 * hand-run verify script: two tags (`base-python:3.11-slim:20250111-656873b3`), uppercase paths.
 */
export function parseImageRef(ref: string): ImageRef | undefined {
    const m = REF_RE.exec(ref);
    if (!m) {
        return undefined;
    }
    let registry: string | undefined = m[1];
    let repository = m[2];
    const tag: string | undefined = m[3];
    const digest: string | undefined = m[4];
    // Docker treats the first component as a registry only when it looks like a host.
    if (registry !== undefined && !(registry.includes(".") || registry.includes(":") || registry === "localhost")) {
        repository = `${registry}/${repository}`;
        registry = undefined;
    }
    if (registry === undefined && /[A-Z]/.test(repository)) {
        return undefined;
    }
    return { registry, repository, tag, digest };
}

/** Formats a UTC date as YYYYMMDD. */
export function yyyymmdd(date: Date): string {
    const y = date.getUTCFullYear().toString().padStart(4, "0");
    const m = (date.getUTCMonth() + 1).toString().padStart(2, "0");
    const d = date.getUTCDate().toString().padStart(2, "0");
    return `${y}${m}${d}`;
}

/** The commit the images are built from. */
export interface SourceCommit {
    /** Full or short hex SHA. */
    sha: string;
    /** The commit's own date (committer date), not the build day. */
    date: Date;
    /** Uncommitted changes under the build contexts, when there are any (buildTree/sourceTree.ts). */
    dirty?: { files: string[]; hash: string };
}

/** How the release tag was decided, for the stack outputs. */
export interface ReleaseTag {
    tag: string;
    source: "FORCE_IMAGE_TAG" | "commit" | "dirty-tree";
}

/** Characters of the SHA kept in the tag, as in the operator's `20250111-656873b3`. */
export const SHORT_SHA_LENGTH = 8;

/** Characters of the changes' hash in a dirty tree's tag. */
export const DIRTY_HASH_LENGTH = 8;

/**
 * `YYYYMMDD-<short sha>` from the commit's date, so the same commit gives the same tag on any day;
 * `FORCE_IMAGE_TAG` (when set and non-empty) overrides it for every image, to pin a rollout. A tree
 * with uncommitted changes gets `YYYYMMDD-<short sha>-dirty-<hash of the changes>`: never the
 * clean commit's tag, and the same changes give the same tag.
 */
export function resolveTag(input: { forced?: string; commit?: SourceCommit }): ReleaseTag {
    const forced = input.forced?.trim();
    if (forced) {
        if (!isValidTag(forced)) {
            throw new pulumi.RunError(
                `FORCE_IMAGE_TAG="${forced}" is not a valid image tag: expected letters, digits, '_', '.', '-' (at most 128, not starting with '.' or '-'), e.g. 20250111-656873b3`,
            );
        }
        return { tag: forced, source: "FORCE_IMAGE_TAG" };
    }
    if (!input.commit) {
        throw new pulumi.RunError(
            "no release tag: build.contextRoot is not a git checkout and FORCE_IMAGE_TAG is not set; commit the checkout or export FORCE_IMAGE_TAG=<YYYYMMDD-sha>",
        );
    }
    const sha = input.commit.sha.toLowerCase();
    if (!/^[0-9a-f]{7,64}$/.test(sha)) {
        throw new Error(`commit sha "${input.commit.sha}" is not a hex SHA`);
    }
    if (Number.isNaN(input.commit.date.getTime())) {
        throw new Error(`commit ${sha} has no valid date`);
    }
    const clean = `${yyyymmdd(input.commit.date)}-${sha.slice(0, SHORT_SHA_LENGTH)}`;
    const dirty = input.commit.dirty;
    if (dirty) {
        if (!/^[0-9a-f]{8,}$/.test(dirty.hash)) {
            throw new Error(`the hash of the uncommitted changes "${dirty.hash}" is not hex`);
        }
        return { tag: `${clean}-dirty-${dirty.hash.slice(0, DIRTY_HASH_LENGTH)}`, source: "dirty-tree" };
    }
    return { tag: clean, source: "commit" };
}

/** Where images live: one layout for every image (the hand-run setup had two). */
export interface RegistryLayout {
    host: string;
    org: string;
    namespace: string;
}

/**
 * `<host>/<org>/<namespace>/<machine>/<name>`: the machine is part of every repository path, so a
 * mainpc build (CUDA 8.9, 32 workers) and a pc2 build (8.6, 8 workers) can never share a tag,
 * even under the same FORCE_IMAGE_TAG.
 */
export function imageRepository(layout: RegistryLayout, machine: string, name: string): string {
    return `${layout.host}/${layout.org}/${layout.namespace}/${machine}/${name}`;
}

/** Container name on the machine: stable, so replacement must delete first (see FleetService). */
export function containerName(machine: string, service: string): string {
    return `ai-${machine}-${kebab(service)}`;
}

/** Logical name of a service's image resources (build, verification, scan): `svc-<kebab>`. */
export function serviceImageName(service: string): string {
    return `svc-${kebab(service)}`;
}

/** Type token of the component that owns one service's resources on its machine (components/fleetService.ts). */
export const FLEET_SERVICE_TYPE = "ai-fleet:fleet:FleetService";

/**
 * What each child of a FleetService does; the child's logical name is `<Service>-<role>`. On a
 * Kubernetes target `container` is the Deployment, `endpoint` its Service and `env` the Secret of a
 * secret environment.
 */
export const SERVICE_ROLES = ["build", "verify", "scan", "image", "container", "health", "endpoint", "env"] as const;
export type ServiceRole = (typeof SERVICE_ROLES)[number];

/**
 * A resource name in a scope: the name itself, or in a fleet stack `<machine>/<name>` (every machine's
 * FleetServices and family images are named so, which keeps two machines' same-named services apart).
 */
export function scopedName(name: string, scope?: string): string {
    return scope ? `${scope}/${name}` : name;
}

/** The entries of `record` named in `scope` (`<scope>/<key>`), by key: a fleet-wide record's part for one machine. */
export function scopePart<T>(record: Record<string, T> | undefined, scope: string): Record<string, T> | undefined {
    if (record === undefined) return undefined;
    const prefix = `${scope}/`;
    return Object.fromEntries(Object.entries(record).flatMap(([k, v]) => (k.startsWith(prefix) ? [[k.slice(prefix.length), v]] : [])));
}

/** The logical name of a FleetService's child: `[<machine>/]<Service>-<role>` (the component itself is named `[<machine>/]<Service>`). */
export function serviceResourceName(service: string, role: ServiceRole, scope?: string): string {
    return scopedName(`${service}-${role}`, scope);
}

/** What a URN says about a resource: its own type, the types of its parents (outermost first) and its name. */
export interface UrnParts {
    stack: string;
    project: string;
    /** The resource's own type token. */
    type: string;
    /** Its parents' type tokens, outermost first (empty for a resource of the stack itself). */
    parentTypes: string[];
    name: string;
}

/** Splits `urn:pulumi:<stack>::<project>::<parent types $ type>::<name>`; undefined for anything else. */
export function parseUrn(urn: string): UrnParts | undefined {
    const parts = urn.split("::");
    if (parts.length < 4 || !parts[0].startsWith("urn:pulumi:")) {
        return undefined;
    }
    const types = parts[2].split("$");
    return {
        stack: parts[0].slice("urn:pulumi:".length),
        project: parts[1],
        type: types[types.length - 1],
        parentTypes: types.slice(0, -1),
        name: parts.slice(3).join("::"),
    };
}

/** The service (`<machine>/<Service>` in a fleet stack) and role of a FleetService's child, from its URN; undefined for any other resource. */
export function serviceResourceOf(urn: string): { service: string; role: ServiceRole; type: string } | undefined {
    const u = parseUrn(urn);
    if (!u || u.parentTypes[u.parentTypes.length - 1] !== FLEET_SERVICE_TYPE) {
        return undefined;
    }
    const m = /^((?:[a-z0-9][a-z0-9-]*\/)?[A-Za-z][A-Za-z0-9]*)-([a-z]+)$/.exec(u.name);
    if (!m || !(SERVICE_ROLES as readonly string[]).includes(m[2])) {
        return undefined;
    }
    return { service: m[1], role: m[2] as ServiceRole, type: u.type };
}
