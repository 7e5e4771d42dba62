/**
 * The vulnerability gate in the program, under Pulumi mocks (harness.ts: no engine, no Trivy; the
 * mocked scan command judges the scenario's findings with the gate's real policy): every service
 * image is scanned after its verification, containers take the scan's output, and a failed scan
 * blocks that service's container. The real Trivy runs in test/integration/scan.test.ts.
 */
import { expect } from "chai";
import * as pulumi from "@pulumi/pulumi";
import { deploy, FleetOutputs } from "../../deploy";
import { resolveTag } from "../../naming";
import { Finding } from "../../probes/scan-policy";
import { fleetConfig, isSecret, ofType, Registered, registered, resetWorld, scenario, settle, T, unwrapSecret, valueOf } from "./harness";

const TAG = "20250111-656873b3";
const PASSWORD = "local-unit-test-password-never-in-outputs";
const REPO = "127.0.0.1:5000/ai-fleet/demo/local";

function run(edit?: (raw: any) => void, tag = TAG): FleetOutputs {
    return deploy({ config: fleetConfig("local", edit), release: resolveTag({ forced: tag }), registryPassword: pulumi.secret(PASSWORD) });
}

/** Awaits what the stack exports (the first error, if any), then lets registrations settle. */
async function finish(out: FleetOutputs): Promise<unknown> {
    let error: unknown;
    try {
        await Promise.all([
            ...Object.values(out.images).map((i) => valueOf(i.pinned)),
            valueOf(out.scanReport),
            valueOf(out.canaryReport),
            valueOf(out.gate),
            valueOf(out.report),
        ]);
    } catch (e) {
        error = e;
    }
    await settle();
    return error;
}

function scans(): Registered[] {
    return ofType(T.command).filter((c) => c.name.endsWith("-scan"));
}

function scanOf(service: string): Registered {
    const found = scans().filter((c) => c.name === `${service}-scan`);
    expect(found, service).to.have.length(1);
    return found[0];
}

/** Pulumi.local.yaml allow-lists the demo DB's planted CVE; these tests want it to fail. */
const noAllowList = (raw: any) => {
    raw.scan.allow = [];
};

const TINI: Finding = {
    id: "CVE-2099-0001",
    pkg: "tini",
    installed: "0.19.0-1",
    fixed: "0.19.0-1+deb12u1",
    severity: "CRITICAL",
    target: "debian 12.12",
};

describe("the vulnerability gate under mocks", function () {
    this.timeout(60000);
    beforeEach(resetWorld);

    it("scans every service image (not the families) by the digest verification pinned, with the stack's policy", async () => {
        const out = run((raw) => {
            raw.scan = {
                severity: "HIGH",
                allow: [{ id: "CVE-2099-0001", reason: "demo", expires: "2099-12-31" }],
                cacheDir: "/var/cache/trivy",
                dbUpdate: false,
            };
        });
        expect(await finish(out)).to.equal(undefined);
        expect(
            scans()
                .map((c) => c.name)
                .sort(),
        ).to.deep.equal([
            "AffectiveProcessingCenter-scan",
            "CodeGenerator-scan",
            "ModelOpsCoordinator-scan",
            "RealTimeAudioPipeline-scan",
            "ServiceRegistry-scan",
            "SystemDigitalTwin-scan",
        ]);
        const scan = scanOf("SystemDigitalTwin");
        expect(scan.inputs.create).to.equal("node probes/scan-image.js");
        const env = unwrapSecret(scan.inputs.environment);
        expect(env.FLEET_SCAN_IMAGE).to.equal(await valueOf(out.images.SystemDigitalTwin.pinned));
        expect(env.FLEET_SCAN_IMAGE).to.match(new RegExp(`^${REPO}/system_digital_twin@sha256:[a-f0-9]{64}$`));
        expect(env).to.include({
            FLEET_SCAN_SERVICE: "SystemDigitalTwin",
            FLEET_SCAN_SEVERITY: "HIGH",
            FLEET_SCAN_DB_UPDATE: "false",
            FLEET_SCAN_CACHE_DIR: "/var/cache/trivy",
            FLEET_REGISTRY_USER: "fleet",
            FLEET_REGISTRY_INSECURE: "true",
            FLEET_REGISTRY_PASSWORD: PASSWORD,
        });
        expect(JSON.parse(env.FLEET_SCAN_ALLOW)).to.deep.equal([{ id: "CVE-2099-0001", reason: "demo", expires: "2099-12-31" }]);
    });

    it("runs each container from the image its scan passed", async () => {
        const out = run();
        expect(await finish(out)).to.equal(undefined);
        const report = await valueOf(out.scanReport);
        for (const service of ["ModelOpsCoordinator", "ServiceRegistry"]) {
            const remote = ofType(T.remoteImage).find((r) => r.name === `${service}-image`) as Registered;
            expect(remote.inputs.name, service).to.equal(report?.[service].image);
            expect(remote.inputs.name, service).to.equal(unwrapSecret(scanOf(service).inputs.environment).FLEET_SCAN_IMAGE);
        }
    });

    it("blocks the container of an image whose scan failed, naming the CVE, package and versions", async () => {
        scenario.scanFindings.CodeGenerator = [TINI];
        const error = await finish(run(noAllowList));
        expect(String(error))
            .to.include("vulnerability gate failed:")
            .and.include("(service CodeGenerator): 1 vulnerability at or above CRITICAL")
            .and.include("CVE-2099-0001 (CRITICAL) in tini 0.19.0-1, fixed in 0.19.0-1+deb12u1");
        const names = ofType(T.container).map((c) => c.name);
        expect(names).to.not.include("CodeGenerator-container");
        expect(ofType(T.remoteImage).map((r) => r.name)).to.not.include("CodeGenerator-image");
        // The other services' images passed, and nothing depends on CodeGenerator: their containers are there.
        expect(names).to.have.members(
            ["ServiceRegistry", "SystemDigitalTwin", "ModelOpsCoordinator", "RealTimeAudioPipeline", "AffectiveProcessingCenter"].map(
                (s) => `${s}-container`,
            ),
        );
    });

    it("a failed scan of a canary image keeps that canary, what depends on it and everything it gates from starting", async () => {
        scenario.scanFindings.ModelOpsCoordinator = [TINI];
        const error = await finish(run(noAllowList));
        expect(String(error)).to.include("(service ModelOpsCoordinator)");
        const names = ofType(T.container).map((c) => c.name);
        // What the canary needs still rolls out; the canary and everything after it does not.
        expect(names).to.have.members(["ServiceRegistry-container", "SystemDigitalTwin-container"]);
    });

    it("lets an allow-listed finding through with its note in the scan report", async () => {
        scenario.scanFindings.SystemDigitalTwin = [TINI, { ...TINI, id: "CVE-2099-0002", pkg: "libc6", severity: "HIGH" }];
        const out = run((raw) => {
            raw.scan = { allow: [{ id: "CVE-2099-0001", reason: "no untrusted input reaches tini", expires: "2099-12-31" }] };
        });
        expect(await finish(out)).to.equal(undefined);
        const report = (await valueOf(out.scanReport)) ?? {};
        expect(report.SystemDigitalTwin.allowed).to.have.length(1);
        expect(report.SystemDigitalTwin.allowed[0].note).to.equal(
            "CVE-2099-0001 (CRITICAL) in tini 0.19.0-1 allowed until 2099-12-31: no untrusted input reaches tini",
        );
        expect(report.SystemDigitalTwin.counts).to.include({ CRITICAL: 1, HIGH: 1 });
        expect(ofType(T.container).map((c) => c.name)).to.include("SystemDigitalTwin-container");
    });

    it("lets the demo DB's planted CVE through on the local stack's own allow-list entry", async () => {
        scenario.scanFindings.SystemDigitalTwin = [TINI];
        const out = run();
        expect(await finish(out)).to.equal(undefined);
        const allowed = (await valueOf(out.scanReport))?.SystemDigitalTwin.allowed ?? [];
        expect(allowed.map((a) => a.id)).to.deep.equal(["CVE-2099-0001"]);
        expect(allowed[0].reason).to.include("made-up advisory of the demo DB");
    });

    it("fails on an expired allow-list entry, naming the expiry", async () => {
        scenario.scanFindings.ServiceRegistry = [TINI];
        const error = await finish(
            run((raw) => {
                raw.scan = { allow: [{ id: "CVE-2099-0001", reason: "until the fix lands", expires: "2020-01-31" }] };
            }),
        );
        expect(String(error))
            .to.include("(service ServiceRegistry)")
            .and.include("its allow-list entry expired on 2020-01-31 (reason was: until the fix lands)");
        expect(ofType(T.container).map((c) => c.name)).to.not.include("ServiceRegistry-container");
    });

    it("keeps the registry password secret in the scan's inputs and out of the report", async () => {
        const out = run();
        expect(await finish(out)).to.equal(undefined);
        expect(JSON.stringify(scanOf("ServiceRegistry").inputs.environment)).to.include("4dabf18193072939515e22adb298388d");
        expect(await isSecret(out.scanReport as pulumi.Output<unknown>)).to.equal(false);
        expect(JSON.stringify(await valueOf(out.scanReport))).to.not.include(PASSWORD);
    });

    it("re-scans for a new digest or a new policy, not for a release that changes only other config", async () => {
        const inputsOf = async (edit?: (raw: any) => void, tag = TAG) => {
            resetWorld();
            await finish(run(edit, tag));
            const s = scanOf("SystemDigitalTwin");
            return JSON.stringify({ triggers: s.inputs.triggers, env: unwrapSecret(s.inputs.environment), create: s.inputs.create });
        };
        const base = await inputsOf();
        const configOnly = await inputsOf((raw) => {
            raw.services.SystemDigitalTwin.env = { LOG_LEVEL: "debug" };
            raw.rollout.health.timeoutSeconds = 120;
        });
        expect(configOnly).to.equal(base);
        expect(await inputsOf(undefined, "20250112-00c0ffee")).to.not.equal(base);
        expect(
            await inputsOf((raw) => {
                raw.scan = { severity: "HIGH" };
            }),
        ).to.not.equal(base);
        expect(
            await inputsOf((raw) => {
                raw.scan = { allow: [{ id: "CVE-2099-0001", reason: "r", expires: "2099-01-01" }] };
            }),
        ).to.not.equal(base);
    });

    it("with ai-fleet:scan.enabled false, runs the verified images unscanned and exports no scan report", async () => {
        const out = run((raw) => {
            raw.scan = { enabled: false };
        });
        expect(await finish(out)).to.equal(undefined);
        expect(scans()).to.have.length(0);
        expect(out.scanReport).to.equal(undefined);
        expect(ofType(T.container)).to.have.length(6);
    });

    it("scans nothing in the build phase (no container runs there; the deploying stack scans)", async () => {
        expect(
            await finish(
                run((raw) => {
                    raw.phase = "build";
                }),
            ),
        ).to.equal(undefined);
        expect(scans()).to.have.length(0);
        expect(registered.length).to.be.greaterThan(0);
    });
});
