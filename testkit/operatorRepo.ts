/**
 * The operator's repository as the fleet's facts describe it ("The operator's repository: layout
 * and Dockerfiles", "Which Dockerfile builds each service"): which Dockerfile builds each family and
 * each service of mainpc and pc2, and how each names its base today. Written from the facts, NOT
 * from the stack files, so that the tests can hold Pulumi.mainpc.yaml and Pulumi.pc2.yaml against
 * it (test/unit/operatorFleet.test.ts, test/integration/operatorFleet.test.ts).
 *
 * `operatorRepoFiles()` generates a tree with exactly these paths: multi-stage service Dockerfiles
 * whose first stage is hard-coded `FROM ghcr.io/haymayndzultra/<family>:20250812-latest AS base`
 * (the three under main_pc_code/services/ take `ARG BASE_IMAGE`), `# syntax=` lines on most, and
 * COPY lines of repository-relative paths that exist in the tree.
 */
import * as fs from "fs";
import * as path from "path";

export type Machine = "mainpc" | "pc2";
export const MACHINES: Machine[] = ["mainpc", "pc2"];

/** The operator's registry and the tag every hard-coded base names. */
export const GHCR = "ghcr.io/haymayndzultra";
export const OLD_TAG = "20250812-latest";

/** How a Dockerfile names its base today: a hard-coded FROM, or `ARG BASE_IMAGE` + `FROM ${BASE_IMAGE}`. */
export type BaseStyle = "hard-coded" | "arg";

/** A family image: its Dockerfile (context = its directory), what it builds on, and how it says so. */
export interface FamilyFact {
    dockerfile: string;
    /** The family it builds on (the operator's scripts/build_base_images.sh order). */
    parent?: string;
    /** The external image it builds on. */
    baseImage?: string;
    base: BaseStyle;
}

const baseImages = (name: string) => `docker/base-images/${name}/Dockerfile`;
const families = (name: string) => `docker/families/${name}/Dockerfile`;

/** Family build order: base-python → base-utils → base-cpu-pydeps → family-web; base-gpu-cu121 → torch → llm; base-gpu-cu121 → vision; legacy alone. */
export const FAMILIES: Record<string, FamilyFact> = {
    "base-python": { dockerfile: baseImages("base-python"), baseImage: "python:3.11-slim-bookworm", base: "hard-coded" },
    "base-utils": { dockerfile: baseImages("base-utils"), parent: "base-python", base: "hard-coded" },
    "base-cpu-pydeps": { dockerfile: baseImages("base-cpu-pydeps"), parent: "base-utils", base: "hard-coded" },
    "base-gpu-cu121": { dockerfile: baseImages("base-gpu-cu121"), baseImage: "nvidia/cuda:12.1.1-runtime-ubuntu22.04", base: "hard-coded" },
    "family-web": { dockerfile: families("family-web"), parent: "base-cpu-pydeps", base: "arg" },
    "family-torch-cu121": { dockerfile: families("family-torch-cu121"), parent: "base-gpu-cu121", base: "arg" },
    "family-llm-cu121": { dockerfile: families("family-llm-cu121"), parent: "family-torch-cu121", base: "arg" },
    "family-vision-cu121": { dockerfile: families("family-vision-cu121"), parent: "base-gpu-cu121", base: "arg" },
    "legacy-py310-cpu": { dockerfile: "docker/legacy/legacy-py310-cpu/Dockerfile", baseImage: "python:3.10-slim", base: "hard-coded" },
};

/** Services by family, per machine ("Services (port / health port; family)"). */
const FAMILY_OF: Record<Machine, Record<string, string[]>> = {
    mainpc: {
        "family-web": [
            "ServiceRegistry",
            "SmartHomeAgent",
            "CloudTranslationService",
            "StreamingTranslationProxy",
            "ObservabilityDashboardAPI",
            "UnifiedObservabilityCenter",
        ],
        "base-cpu-pydeps": [
            "SystemDigitalTwin",
            "UnifiedSystemAgent",
            "CodeGenerator",
            "PredictiveHealthMonitor",
            "Executor",
            "CrossMachineGPUScheduler",
            "ActiveLearningMonitor",
            "AudioCapture",
            "EmotionEngine",
            "MoodTracker",
            "HumanAwareness",
            "ToneDetector",
            "VoiceProfiling",
            "SelfHealingSupervisor",
            "MemoryFusionHub",
        ],
        "family-llm-cu121": [
            "ModelOpsCoordinator",
            "TinyLlamaServiceEnhanced",
            "ChainOfThought",
            "CognitiveModel",
            "LearningOpportunityDetector",
            "LearningManager",
            "DynamicIdentity",
            "ProactiveAgent",
        ],
        "family-torch-cu121": [
            "RealTimeAudioPipeline",
            "AffectiveProcessingCenter",
            "Responder",
            "EmotionSynthesis",
            "STT",
            "TTS",
            "StreamingSpeechRecognition",
            "StreamingTTS",
            "Empathy",
        ],
        "family-vision-cu121": ["FaceRecognitionAgent"],
        "legacy-py310-cpu": ["IntentionValidator", "NLU", "AdvancedCommandHandler", "Chitchat", "FeedbackHandler"],
    },
    pc2: {
        "family-torch-cu121": ["RealTimeAudioPipelinePC2", "SpeechRelayService"],
        "family-web": ["CentralErrorBus", "UnifiedWebAgent", "UnifiedObservabilityCenter"],
        "base-cpu-pydeps": [
            "MemoryFusionHub",
            "SelfHealingSupervisor",
            "TieredResponder",
            "AsyncProcessor",
            "CacheManager",
            "TutoringService",
            "ResourceManager",
            "TaskScheduler",
            "Authentication",
            "UnifiedUtils",
            "ProactiveContextMonitor",
            "AgentTrustScorer",
            "FileSystemAssistant",
            "RemoteConnector",
            "AdvancedRouter",
        ],
        "family-vision-cu121": ["VisionProcessing", "DreamWorld", "DreamingMode"],
    },
};

const agents = (dir: string) => `main_pc_code/agents/${dir}/Dockerfile.optimized`;

/** The three that run on both machines, from the same Dockerfiles. */
const ON_BOTH: Record<string, string> = {
    UnifiedObservabilityCenter: "unified_observability_center/Dockerfile.optimized",
    MemoryFusionHub: "memory_fusion_hub/Dockerfile.optimized",
    SelfHealingSupervisor: "services/self_healing_supervisor/Dockerfile.optimized",
};

/** "Which Dockerfile builds each service", as the facts group it. */
const DOCKERFILE_OF: Record<Machine, { lowercase: string[]; agentSuffix: string[]; elsewhere: Record<string, string> }> = {
    mainpc: {
        lowercase: [
            "SmartHomeAgent",
            "CloudTranslationService",
            "StreamingTranslationProxy",
            "ObservabilityDashboardAPI",
            "CodeGenerator",
            "PredictiveHealthMonitor",
            "Executor",
            "CrossMachineGPUScheduler",
            "ActiveLearningMonitor",
            "AudioCapture",
            "EmotionEngine",
            "ToneDetector",
            "TinyLlamaServiceEnhanced",
            "LearningOpportunityDetector",
            "LearningManager",
            "ProactiveAgent",
            "Responder",
            "StreamingSpeechRecognition",
            "FaceRecognitionAgent",
            "AdvancedCommandHandler",
            "FeedbackHandler",
        ],
        agentSuffix: [
            "HumanAwareness",
            "VoiceProfiling",
            "ChainOfThought",
            "CognitiveModel",
            "DynamicIdentity",
            "EmotionSynthesis",
            "Empathy",
            "IntentionValidator",
            "Chitchat",
            "MoodTracker",
            "StreamingTTS",
            "NLU",
        ],
        elsewhere: {
            STT: agents("sttservice"),
            TTS: agents("ttsservice"),
            ModelOpsCoordinator: "model_ops_coordinator/Dockerfile.optimized",
            RealTimeAudioPipeline: "real_time_audio_pipeline/Dockerfile.optimized",
            AffectiveProcessingCenter: "affective_processing_center/Dockerfile.optimized",
            ...ON_BOTH,
            ServiceRegistry: "main_pc_code/services/serviceregistry/Dockerfile.optimized",
            SystemDigitalTwin: "main_pc_code/services/systemdigitaltwin/Dockerfile.optimized",
            UnifiedSystemAgent: "main_pc_code/services/unifiedsystemagent/Dockerfile.optimized",
        },
    },
    pc2: {
        lowercase: [
            "SpeechRelayService",
            "UnifiedWebAgent",
            "TieredResponder",
            "AsyncProcessor",
            "CacheManager",
            "ResourceManager",
            "TaskScheduler",
            "ProactiveContextMonitor",
            "AgentTrustScorer",
            "AdvancedRouter",
        ],
        agentSuffix: [
            "TutoringService",
            "Authentication",
            "UnifiedUtils",
            "FileSystemAssistant",
            "RemoteConnector",
            "VisionProcessing",
            "DreamWorld",
            "DreamingMode",
        ],
        elsewhere: {
            RealTimeAudioPipelinePC2: "pc2_code/services/realtimeaudiopipeline/Dockerfile.optimized",
            CentralErrorBus: "services/central_error_bus/Dockerfile.optimized",
            ...ON_BOTH,
        },
    },
};

/** The Dockerfiles that take `ARG BASE_IMAGE` + `FROM ${BASE_IMAGE}` (defaulting to the family's old tag); every other service's is hard-coded. */
const ARG_SERVICES = new Set([
    "main_pc_code/services/serviceregistry/Dockerfile.optimized",
    "main_pc_code/services/systemdigitaltwin/Dockerfile.optimized",
    "main_pc_code/services/unifiedsystemagent/Dockerfile.optimized",
]);

/** The older single-stage variants beside the agents (`main_pc_code/agents/Dockerfile.<lowercase>`): in the tree, built by no stack. */
export const UNBUILT_VARIANTS: Record<string, string> = {
    "main_pc_code/agents/Dockerfile.serviceregistry": "family-web",
    "main_pc_code/agents/Dockerfile.systemdigitaltwin": "base-cpu-pydeps",
    "main_pc_code/agents/Dockerfile.unifiedsystemagent": "base-cpu-pydeps",
};

/** One service of one machine: its family and its Dockerfile (built from the repository root). */
export interface ServiceFact {
    family: string;
    dockerfile: string;
    base: BaseStyle;
}

function servicesOf(machine: Machine): Record<string, ServiceFact> {
    const familyOf = new Map<string, string>();
    for (const [family, names] of Object.entries(FAMILY_OF[machine])) {
        for (const n of names) {
            if (familyOf.has(n)) throw new Error(`operatorRepo: ${machine} ${n} is in two families`);
            familyOf.set(n, family);
        }
    }
    const t = DOCKERFILE_OF[machine];
    const dockerfileOf = new Map<string, string>();
    const put = (n: string, f: string) => {
        if (dockerfileOf.has(n)) throw new Error(`operatorRepo: ${machine} ${n} has two Dockerfiles`);
        dockerfileOf.set(n, f);
    };
    t.lowercase.forEach((n) => put(n, agents(n.toLowerCase())));
    t.agentSuffix.forEach((n) => put(n, agents(`${n.toLowerCase()}agent`)));
    Object.entries(t.elsewhere).forEach(([n, f]) => put(n, f));
    const names = [...familyOf.keys()].sort();
    if (JSON.stringify(names) !== JSON.stringify([...dockerfileOf.keys()].sort())) {
        throw new Error(`operatorRepo: ${machine}: the family table and the Dockerfile table name different services`);
    }
    return Object.fromEntries(
        names.map((n) => {
            const dockerfile = dockerfileOf.get(n) as string;
            return [n, { family: familyOf.get(n) as string, dockerfile, base: ARG_SERVICES.has(dockerfile) ? "arg" : "hard-coded" }];
        }),
    );
}

/** Every service of each machine with its family and Dockerfile (44 on mainpc, 23 on pc2). */
export const SERVICES: Record<Machine, Record<string, ServiceFact>> = { mainpc: servicesOf("mainpc"), pc2: servicesOf("pc2") };

/** The old registry reference a hard-coded Dockerfile of `family` names. */
export function oldRef(family: string): string {
    return `${GHCR}/${family}:${OLD_TAG}`;
}

/** What a family's hard-coded Dockerfile is FROM today: its external image, or its parent's old registry tag. */
export function familyFrom(name: string): string {
    const f = FAMILIES[name];
    return f.baseImage ?? oldRef(f.parent as string);
}

/** One Dockerfile a stack builds: what it must build on (the parent family, or the external image), how it names it, who builds it. */
export interface BuiltDockerfile {
    family: string;
    base: BaseStyle;
    users: string[];
}

/** Every Dockerfile the two stacks build, once (73: 9 families, 64 services): path → what it builds on and who builds it. */
export function builtDockerfiles(): Map<string, BuiltDockerfile> {
    const out = new Map<string, BuiltDockerfile>();
    for (const [name, f] of Object.entries(FAMILIES)) {
        out.set(f.dockerfile, { family: f.parent ?? (f.baseImage as string), base: f.base, users: [`family ${name}`] });
    }
    for (const machine of MACHINES) {
        for (const [name, s] of Object.entries(SERVICES[machine])) {
            const seen = out.get(s.dockerfile);
            if (seen && seen.family !== s.family) throw new Error(`operatorRepo: ${s.dockerfile} is built FROM two families`);
            if (seen) seen.users.push(`${machine} ${name}`);
            else out.set(s.dockerfile, { family: s.family, base: s.base, users: [`${machine} ${name}`] });
        }
    }
    return out;
}

/** `# syntax=` on most files (92 of the operator's 116), varying its version; none on every fifth. */
function syntaxLine(i: number): string {
    return i % 5 === 4 ? "" : `# syntax=docker/dockerfile:1.${4 + (i % 4)}\n`;
}

function serviceDockerfile(rel: string, family: string, base: BaseStyle, users: string[], i: number): string {
    const dir = path.posix.dirname(rel);
    const head = base === "arg" ? `ARG BASE_IMAGE=${oldRef(family)}\nFROM \${BASE_IMAGE} AS base\n` : `FROM ${oldRef(family)} AS base\n`;
    const profile = rel.startsWith("unified_observability_center/")
        ? "# The machine's profile: exists for mainpc and pc2 only.\nCOPY config/machine-profiles/${MACHINE}.json /app/config/machine-profile.json\n"
        : "";
    return (
        syntaxLine(i) +
        `# Built by ${users.join(", ")}; the build context is the repository root.\n` +
        head +
        "ARG MACHINE\n" +
        "ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1\n" +
        "WORKDIR /app\n" +
        `COPY ${dir}/requirements.txt /app/requirements.txt\n` +
        "RUN python -m pip install --no-cache-dir -r /app/requirements.txt\n" +
        profile +
        "\n" +
        "FROM base AS builder\n" +
        `COPY ${dir}/ /build/\n` +
        "COPY common/ /build/common/\n" +
        "RUN python -m compileall -q /build\n" +
        "\n" +
        "FROM base AS runtime\n" +
        "COPY --from=builder /build /app\n" +
        "USER 10001:10001\n" +
        'CMD ["python", "/app/app.py"]\n'
    );
}

function familyDockerfile(name: string, i: number): string {
    const f = FAMILIES[name];
    const from = f.base === "arg" ? "ARG BASE_IMAGE\nFROM ${BASE_IMAGE}\n" : `FROM ${familyFrom(name)}\n`;
    return (
        syntaxLine(i) +
        `# ${name}: built from its own directory (${path.posix.dirname(f.dockerfile)}).\n` +
        from +
        "ARG MACHINE\n" +
        "COPY requirements.txt /tmp/requirements.txt\n" +
        `RUN mkdir -p /opt/fleet && echo ${name} > /opt/fleet/${name}\n`
    );
}

/** The generated tree in memory: path relative to the repository root → content. */
export function operatorRepoFiles(): Record<string, string> {
    const files: Record<string, string> = {
        "README.md": "The AI system's repository, as the fleet's facts describe its layout (generated for the tests).\n",
        "common/__init__.py": "",
        "config/machine-profiles/mainpc.json": '{"machine": "mainpc"}\n',
        "config/machine-profiles/pc2.json": '{"machine": "pc2"}\n',
    };
    let i = 0;
    for (const name of Object.keys(FAMILIES)) {
        const dir = path.posix.dirname(FAMILIES[name].dockerfile);
        files[FAMILIES[name].dockerfile] = familyDockerfile(name, i++);
        files[`${dir}/requirements.txt`] = "";
    }
    for (const [rel, b] of [...builtDockerfiles().entries()].sort(([a], [z]) => a.localeCompare(z))) {
        if (files[rel] !== undefined) continue; // a family's
        const dir = path.posix.dirname(rel);
        files[rel] = serviceDockerfile(rel, b.family, b.base, b.users, i++);
        files[`${dir}/requirements.txt`] = "pyzmq\n";
        files[`${dir}/app.py`] = `print(${JSON.stringify(`${b.users.join(", ")}`)})\n`;
    }
    for (const [rel, family] of Object.entries(UNBUILT_VARIANTS)) {
        const lower = rel.split(".").pop() as string;
        files[rel] =
            `# The older single-stage variant; the stacks build main_pc_code/services/${lower}/Dockerfile.optimized.\n` +
            `FROM ${oldRef(family)}\nARG BASE_IMAGE\nCOPY main_pc_code/services/${lower}/ /app/\n`;
    }
    const missing = copySourcesMissing(files);
    if (missing.length > 0) throw new Error(`operatorRepo: COPY sources missing from the tree:\n${missing.join("\n")}`);
    return files;
}

/** COPY sources (outside --from) that are not in the tree, resolved against each Dockerfile's context. */
export function copySourcesMissing(files: Record<string, string>): string[] {
    const familyContexts = new Set(Object.values(FAMILIES).map((f) => path.posix.dirname(f.dockerfile)));
    const missing: string[] = [];
    for (const [rel, text] of Object.entries(files)) {
        if (!/(^|\/)Dockerfile(\.|$)/.test(rel)) continue;
        const context = familyContexts.has(path.posix.dirname(rel)) ? path.posix.dirname(rel) : ".";
        for (const line of text.split("\n")) {
            const words = line.trim().split(/\s+/);
            if (words[0] !== "COPY" || words.some((w) => w.startsWith("--from="))) continue;
            for (const src of words.slice(1, -1)) {
                for (const machine of MACHINES) {
                    const p = path.posix.join(context, src.replace("${MACHINE}", machine)).replace(/\/$/, "");
                    if (files[p] === undefined && !Object.keys(files).some((f) => f.startsWith(`${p}/`))) {
                        missing.push(`${rel}: COPY ${src} (${p})`);
                    }
                }
            }
        }
    }
    return [...new Set(missing)];
}

/** Writes the generated tree under `root` (which must exist). */
export function writeOperatorRepo(root: string): Record<string, string> {
    const files = operatorRepoFiles();
    for (const [rel, text] of Object.entries(files)) {
        fs.mkdirSync(path.dirname(path.join(root, rel)), { recursive: true });
        fs.writeFileSync(path.join(root, rel), text);
    }
    return files;
}
