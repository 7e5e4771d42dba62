// Types of probes/registry.js (plain JS so that probes/verify-image.js runs with node alone).

/** Media types of an OCI index and a Docker manifest list. */
export const INDEX_TYPES: readonly string[];
/** The Accept header of a manifest look-up (indexes and manifests, OCI and Docker). */
export const MANIFEST_TYPES: string;

/** host/repository[:tag][@sha256:…], split; undefined when it is not one. */
export interface ImageRef {
    host: string;
    repo: string;
    tag?: string;
    digest?: string;
}
export function splitRef(ref: string): ImageRef | undefined;

/** "Basic …", or undefined without a user. */
export function basicAuth(user: string | undefined, password: string | undefined): string | undefined;

export interface Answer {
    status: number;
    headers: Record<string, string | string[] | undefined>;
    body: string;
}
export function request(
    url: string,
    headers: Record<string, string>,
    timeoutS: number,
    method?: string,
    redirects?: number,
): Promise<Answer>;
export function parseChallenge(header: string | undefined): { scheme: string; params: Record<string, string> } | undefined;

/** The token endpoint of a Bearer challenge did not give a token. */
export class TokenError extends Error {
    realm: string;
    status: number;
    body: string;
}

export interface Platform {
    os: string;
    architecture: string;
    variant?: string;
}
export interface IndexEntry {
    mediaType?: string;
    digest: string;
    platform?: Platform;
}
export interface Manifest {
    mediaType?: string;
    manifests?: IndexEntry[];
    config?: { mediaType?: string; digest: string };
    layers?: { mediaType?: string; digest: string; size?: number }[];
}
export function platformEntry(index: Manifest, platform: string): IndexEntry | undefined;

export interface RegistryOptions {
    host: string;
    /** Plain HTTP (loopback test registries). */
    insecure?: boolean;
    /** A ready Authorization header; else user/password make a Basic one. */
    auth?: string;
    user?: string;
    password?: string;
    /** Per request, default 15. */
    timeoutS?: number;
}

export interface Sent extends Answer {
    url: string;
    /** A 401 with nothing to authenticate with. */
    anonymous?: boolean;
}

export class RegistryClient {
    constructor(o: RegistryOptions);
    readonly host: string;
    url(repo: string, path: string): string;
    send(method: string, repo: string, path: string, accept?: string): Promise<Sent>;
    get(repo: string, path: string, accept?: string): Promise<Sent>;
    headManifest(repo: string, reference: string): Promise<Sent & { digest?: string }>;
    manifestDigest(repo: string, reference: string): Promise<string | undefined>;
    manifest(repo: string, reference: string): Promise<Manifest>;
    platformManifest(repo: string, reference: string, platform: string): Promise<Manifest>;
    config(repo: string, reference: string, platform: string): Promise<{ rootfs?: { diff_ids?: string[] } } & Record<string, unknown>>;
    layers(repo: string, reference: string, platform: string): Promise<string[]>;
    deleteManifest(repo: string, digest: string): Promise<number>;
}
