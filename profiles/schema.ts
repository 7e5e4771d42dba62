/**
 * Machine profiles: what a machine's hardware turns into. A profile feeds two places, and the
 * hand-run setup lost the second one: build args (MACHINE, TORCH_CUDA_ARCH_LIST) and the running
 * container's environment (thread pools, workers, memory fraction, GPU devices).
 */
import * as fs from "fs";
import * as path from "path";
import { z } from "zod";

const intString = z.string().regex(/^[0-9]+$/, 'expected a whole number written as a string, e.g. "16"');
const percentString = intString.refine((s) => Number(s) <= 100, "expected a percentage between 0 and 100");
const fractionString = z
    .string()
    .regex(/^(0(\.[0-9]+)?|1(\.0+)?)$/, 'expected a fraction between 0 and 1 written as a string, e.g. "0.95"');
/** "8.9", "8.6;8.9", "8.6;8.9;9.0+PTX": what torch's extension builds accept. */
const cudaArchList = z
    .string()
    .regex(/^[0-9]+\.[0-9](\+PTX)?(;[0-9]+\.[0-9](\+PTX)?)*$/, 'expected CUDA arches separated by \';\', e.g. "8.9" or "8.6;8.9;9.0+PTX"');
/** "" (no GPU), "0", "0,1". */
const deviceList = z.string().regex(/^([0-9]+(,[0-9]+)*)?$/, 'expected GPU indexes separated by \',\', e.g. "0" or "0,1", or "" for none');

/** The ten runtime settings of a machine; all are strings, as in the fleet's own profile files. */
export const ProfileEnvSchema = z.strictObject({
    GPU_VISIBLE_DEVICES: deviceList,
    TORCH_CUDA_ALLOC_CONF: z
        .string()
        .regex(/^[a-z_]+:[0-9A-Za-z.]+(,[a-z_]+:[0-9A-Za-z.]+)*$/, 'expected key:value pairs, e.g. "max_split_size_mb:64"'),
    TORCH_CUDA_ARCH_LIST: cudaArchList,
    OMP_NUM_THREADS: intString,
    UVICORN_WORKERS: intString,
    MODEL_EVICT_THRESHOLD_PCT: percentString,
    MAX_CONCURRENT_MODELS: intString,
    BATCH_SIZE_DEFAULT: intString,
    MEMORY_FRACTION: fractionString,
    CUDA_MPS_ACTIVE_THREAD_PERCENTAGE: percentString,
});

export const ProfileSchema = z
    .strictObject({
        /** Machine name; equals the file name and goes into image repositories and build args. */
        machine: z.string().regex(/^[a-z0-9][a-z0-9-]*$/, 'expected a lowercase machine name, e.g. "mainpc"'),
        description: z.string().optional(),
        /** The GPU the containers may request, or null for a machine without one. */
        gpu: z
            .strictObject({
                model: z.string().min(1),
                devices: z.array(z.string().regex(/^[0-9]+$/, 'expected a GPU index such as "0"')).min(1),
            })
            .nullable(),
        env: ProfileEnvSchema,
    })
    .superRefine((p, ctx) => {
        // GPU_VISIBLE_DEVICES is what the services read; gpu.devices is what Docker hands them.
        const wanted = p.gpu ? p.gpu.devices.join(",") : "";
        if (p.env.GPU_VISIBLE_DEVICES !== wanted) {
            ctx.addIssue({
                code: "custom",
                path: ["env", "GPU_VISIBLE_DEVICES"],
                message: `expected "${wanted}" to match gpu.devices (the devices Docker gives the container)`,
            });
        }
    });

export type Profile = z.infer<typeof ProfileSchema>;

/** Directory holding `<machine>.json`. */
export const PROFILE_DIR = __dirname;

/** Error for a profile file that is missing or fails the schema; lists every problem. */
export class ProfileError extends Error {
    constructor(message: string) {
        super(message);
        this.name = "ProfileError";
    }
}

/** Parses a raw profile object, reporting every issue with its key path. */
export function parseProfile(raw: unknown, source: string): Profile {
    const result = ProfileSchema.safeParse(raw);
    if (!result.success) {
        throw new ProfileError(`machine profile ${source} is invalid:\n${z.prettifyError(result.error)}`);
    }
    return result.data;
}

/** Reads and validates `profiles/<machine>.json`; the profile's own `machine` must match its file name. */
export function loadProfile(machine: string, dir: string = PROFILE_DIR): Profile {
    const file = path.join(dir, `${machine}.json`);
    if (!fs.existsSync(file)) {
        const known = fs
            .readdirSync(dir)
            .filter((f) => f.endsWith(".json"))
            .map((f) => f.replace(/\.json$/, ""));
        throw new ProfileError(`no machine profile "${machine}": expected ${file} (known profiles: ${known.join(", ")})`);
    }
    let raw: unknown;
    try {
        raw = JSON.parse(fs.readFileSync(file, "utf8"));
    } catch (e) {
        throw new ProfileError(`machine profile ${file} is not valid JSON: ${(e as Error).message}`);
    }
    const profile = parseProfile(raw, file);
    if (profile.machine !== machine) {
        throw new ProfileError(`machine profile ${file} says machine "${profile.machine}", expected "${machine}" (its file name)`);
    }
    return profile;
}

/** Build args every image of the machine receives: the machine name and the CUDA arches to compile for. */
export function profileBuildArgs(profile: Profile): Record<string, string> {
    return {
        MACHINE: profile.machine,
        TORCH_CUDA_ARCH_LIST: profile.env.TORCH_CUDA_ARCH_LIST,
    };
}

/** The runtime environment a profile gives every container on the machine (sorted, MACHINE included). */
export function profileRuntimeEnv(profile: Profile): Record<string, string> {
    return { MACHINE: profile.machine, ...profile.env };
}
