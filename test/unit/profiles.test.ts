import { expect } from "chai";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { loadProfile, parseProfile, profileBuildArgs, profileRuntimeEnv, ProfileError } from "../../profiles/schema";

describe("machine profiles", () => {
    it("mainpc carries the RTX 4090 values of the fleet", () => {
        const p = loadProfile("mainpc");
        expect(p.gpu?.model).to.equal("RTX 4090");
        expect(p.env).to.deep.equal({
            GPU_VISIBLE_DEVICES: "0",
            TORCH_CUDA_ALLOC_CONF: "max_split_size_mb:64",
            TORCH_CUDA_ARCH_LIST: "8.9",
            OMP_NUM_THREADS: "16",
            UVICORN_WORKERS: "32",
            MODEL_EVICT_THRESHOLD_PCT: "90",
            MAX_CONCURRENT_MODELS: "8",
            BATCH_SIZE_DEFAULT: "32",
            MEMORY_FRACTION: "0.95",
            CUDA_MPS_ACTIVE_THREAD_PERCENTAGE: "100",
        });
    });

    it("pc2 carries the RTX 3060 values of the fleet", () => {
        const p = loadProfile("pc2");
        expect(p.gpu?.model).to.equal("RTX 3060");
        expect(p.env).to.deep.equal({
            GPU_VISIBLE_DEVICES: "0",
            TORCH_CUDA_ALLOC_CONF: "max_split_size_mb:32",
            TORCH_CUDA_ARCH_LIST: "8.6",
            OMP_NUM_THREADS: "4",
            UVICORN_WORKERS: "8",
            MODEL_EVICT_THRESHOLD_PCT: "70",
            MAX_CONCURRENT_MODELS: "3",
            BATCH_SIZE_DEFAULT: "16",
            MEMORY_FRACTION: "0.80",
            CUDA_MPS_ACTIVE_THREAD_PERCENTAGE: "50",
        });
    });

    it("the local profile has no GPU", () => {
        expect(loadProfile("local").gpu).to.equal(null);
    });

    it("turns a profile into build args and runtime env", () => {
        const p = loadProfile("pc2");
        expect(profileBuildArgs(p)).to.deep.equal({ MACHINE: "pc2", TORCH_CUDA_ARCH_LIST: "8.6" });
        expect(profileRuntimeEnv(p)).to.include({ MACHINE: "pc2", OMP_NUM_THREADS: "4", UVICORN_WORKERS: "8", MEMORY_FRACTION: "0.80" });
    });

    const good = () => JSON.parse(fs.readFileSync(path.join(__dirname, "../../profiles/mainpc.json"), "utf8"));
    const cases: [string, (p: any) => void, string][] = [
        [
            "an unknown key",
            (p) => {
                p.env.OMP_THREADS = "4";
            },
            "OMP_THREADS",
        ],
        [
            "a number where the fleet has a string",
            (p) => {
                p.env.OMP_NUM_THREADS = 16;
            },
            "env.OMP_NUM_THREADS",
        ],
        [
            "a fraction above 1",
            (p) => {
                p.env.MEMORY_FRACTION = "1.5";
            },
            "env.MEMORY_FRACTION",
        ],
        [
            "a malformed CUDA arch list",
            (p) => {
                p.env.TORCH_CUDA_ARCH_LIST = "sm_89";
            },
            "env.TORCH_CUDA_ARCH_LIST",
        ],
        [
            "GPU devices that disagree with GPU_VISIBLE_DEVICES",
            (p) => {
                p.gpu.devices = ["1"];
            },
            "env.GPU_VISIBLE_DEVICES",
        ],
        [
            "a missing setting",
            (p) => {
                delete p.env.UVICORN_WORKERS;
            },
            "env.UVICORN_WORKERS",
        ],
    ];
    for (const [what, edit, keyPath] of cases) {
        it(`rejects ${what}, naming ${keyPath}`, () => {
            const p = good();
            edit(p);
            expect(() => parseProfile(p, "test.json")).to.throw(ProfileError, keyPath);
        });
    }

    it("reports every problem of a profile at once", () => {
        const p = good();
        p.env.OMP_NUM_THREADS = 16;
        p.env.MEMORY_FRACTION = "2";
        expect(() => parseProfile(p, "x")).to.throw(/OMP_NUM_THREADS[\s\S]*MEMORY_FRACTION|MEMORY_FRACTION[\s\S]*OMP_NUM_THREADS/);
    });

    it("requires the profile's machine to match its file name, and names unknown profiles", () => {
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "profiles-"));
        fs.writeFileSync(path.join(dir, "pc3.json"), JSON.stringify(good()));
        expect(() => loadProfile("pc3", dir)).to.throw(ProfileError, 'says machine "mainpc", expected "pc3"');
        expect(() => loadProfile("pc9", dir)).to.throw(ProfileError, "known profiles: pc3");
        fs.rmSync(dir, { recursive: true });
    });
});
