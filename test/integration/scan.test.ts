/**
 * The vulnerability gate through the REAL scanner: Trivy 0.74.0 (scripts/trivy.sh: a release binary
 * on PATH, or built from the Go module proxy and cached) scans real demo images in the REAL local
 * registry (127.0.0.1:5000, htpasswd), remotely, with the registry's credentials. No mocks.
 *
 * The public vulnerability DB cannot be downloaded here, so the suite writes its own with
 * `scripts/trivy.sh --test-db` (scripts/trivy-testdb, trivy-db's Go package): CVE-2099-0001
 * (CRITICAL) in tini and CVE-2099-0002 (HIGH) in glibc, both made up. The demo's base-python
 * family installs tini; the debootstrapped base image under it does not.
 *
 * It builds the demo families and services of the local stack into repositories of its own
 * (<registry>/ai-fleet/demo/it11/<name>, tag it11-<stamp>-<pid>), runs probes/scan-image.js exactly
 * as FleetService does (scanCommand), and prints the scan times, cold (empty Trivy
 * cache but for the DB) and warm. Everything it pushed is deleted afterwards (AI_FLEET_IT_KEEP=1
 * keeps it).
 */
import { expect } from "chai";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { familyBuildPaths, familyOrder, FleetConfig, repositoryName, serviceBuildPaths } from "../../config";
import { BuildSettings, dockerBuildArgs } from "../../components/buildSpec";
import { parseScanReport, scanCommand, ScanPolicy, ScanReport } from "../../components";
import { parseVerification, verificationCommand } from "../../components";
import { buildCommand, buildImage, deleteManifest, dockerLogin, freshDockerConfig } from "./support/docker";
import { log, must, run, runComponentCommand, RunResult } from "./support/proc";
import { loadStack, localEnv, sourceCommit } from "./support/stack";
import { createStack, ensureSetup, tempProject, TempProject, ToolchainStatus } from "./support/engine";
import { profileBuildArgs } from "../../profiles/schema";

const STAMP = new Date().toISOString().replace(/[-:T]/g, "").slice(0, 14);
const TAG = `it11-${STAMP}-${process.pid}`;
const KEEP = process.env.AI_FLEET_IT_KEEP === "1";
const CVE_TINI = "CVE-2099-0001";
const CVE_GLIBC = "CVE-2099-0002";

function show(r: RunResult): string {
    return `\n$ ${r.cmd}\nexit ${r.code} after ${r.ms} ms\n--- stdout\n${r.stdout.trim()}\n--- stderr\n${r.stderr.trim()}\n`;
}

describe("integration: the vulnerability gate with the real Trivy on real images", function () {
    this.timeout(1800000);

    let cfg: FleetConfig;
    let registryPassword: string;
    let trivy: string;
    let baseImage: string;
    /** A Trivy cache holding only the test DB: copied fresh for every cold scan. */
    let dbTemplate: string;
    const tempDirs: string[] = [];
    /** name → repo@digest, as verification pinned it. */
    const pinned = new Map<string, string>();
    const pushed: { repo: string; digest: string }[] = [];
    const localTags: string[] = [];
    const timings: [string, number][] = [];

    function tempDir(prefix: string): string {
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
        tempDirs.push(dir);
        return dir;
    }

    /** A Trivy cache dir with the test DB and nothing else (no layer cache): what a cold scan starts from. */
    function coldCache(): string {
        const dir = tempDir("ai-fleet-it11-trivy-");
        fs.cpSync(path.join(dbTemplate, "db"), path.join(dir, "db"), { recursive: true });
        return dir;
    }

    function policy(cacheDir: string, over: Partial<ScanPolicy> = {}): ScanPolicy {
        return { severity: "CRITICAL", allow: [], ignoreUnfixed: false, dbUpdate: false, cacheDir, trivy, timeoutSeconds: 300, ...over };
    }

    /** Runs probes/scan-image.js exactly as FleetService does. */
    async function scan(service: string, image: string, p: ScanPolicy, password = registryPassword): Promise<RunResult> {
        const reg = cfg.stack.registry;
        const spec = scanCommand({ service, image, registry: { username: reg.username, password, insecure: reg.insecure }, policy: p });
        return runComponentCommand(spec, 600000);
    }

    function need(name: string): string {
        const p = pinned.get(name);
        if (!p) throw new Error(`image ${name} was not built, pushed and verified: the before hook failed`);
        return p;
    }

    before(async function () {
        this.timeout(1800000);
        log(`it11 ${TAG}: the one-time set-up (scripts/setup.sh)`);
        ensureSetup(this);
        const env = await localEnv();
        cfg = loadStack("local");
        registryPassword = env[cfg.stack.registry.passwordEnv as string];
        baseImage = env.AI_FLEET_BASE_IMAGE_REF ?? env.AI_FLEET_BASE_IMAGE;

        // Trivy: set up by scripts/setup.sh; this only finds it (milliseconds).
        log("bash scripts/trivy.sh (Trivy 0.74.0: release binary on PATH, or its cached build)");
        const t = await run("bash", ["scripts/trivy.sh"], { echo: true, timeoutMs: 120000 });
        if (t.code !== 0) throw new Error(`scripts/trivy.sh could not provide Trivy${show(t)}`);
        trivy = t.stdout.trim().split("\n").pop() as string;
        timings.push(["scripts/trivy.sh (provide Trivy)", t.ms]);
        dbTemplate = tempDir("ai-fleet-it11-db-");
        const db = await run("bash", ["scripts/trivy.sh", "--test-db", dbTemplate], { echo: true, timeoutMs: 600000 });
        if (db.code !== 0) throw new Error(`scripts/trivy.sh --test-db failed${show(db)}`);
        timings.push(["scripts/trivy.sh --test-db (write the test DB)", db.ms]);

        // The local stack's demo images, in repositories of the suite's own.
        const reg = cfg.stack.registry;
        const repo = (name: string) => `${reg.host}/${reg.org}/${reg.namespace}/it11/${name}`;
        const commit = await sourceCommit();
        const settings: BuildSettings = {
            machine: cfg.profile.machine,
            profileBuildArgs: profileBuildArgs(cfg.profile),
            tag: TAG,
            revision: commit.sha,
            created: commit.created,
            sourceUrl: cfg.stack.build.sourceUrl,
            contextRoot: cfg.stack.build.contextRoot,
            platform: cfg.stack.build.platform,
            cache: undefined,
            buildOnPreview: false,
            builder: cfg.stack.build.builder,
            registry: { host: reg.host, username: reg.username, password: registryPassword },
        };
        const dockerConfig = freshDockerConfig(tempDir("ai-fleet-it11-docker-"));
        const login = await dockerLogin(dockerConfig, reg.host, reg.username, registryPassword);
        if (login.code !== 0) throw new Error(`docker login ${reg.host} failed${show(login)}`);
        const buildPushVerify = async (name: string, req: Parameters<typeof dockerBuildArgs>[1]) => {
            const cmd = await buildCommand(dockerBuildArgs(settings, req));
            localTags.push(cmd.tags[0]);
            const b = await buildImage(env.AI_FLEET_DOCKER_BUILD, cmd, dockerConfig, true);
            pushed.push({ repo: req.repository.slice(req.repository.indexOf("/") + 1), digest: b.digest as string });
            // As in a rollout: the scan takes the reference that verification pinned.
            const v = await runComponentCommand(
                verificationCommand({
                    image: cmd.tags[0],
                    expectedDigest: b.digest,
                    registry: { username: reg.username, password: registryPassword, insecure: reg.insecure },
                }),
            );
            if (v.code !== 0) throw new Error(`verification of ${cmd.tags[0]} failed${show(v)}`);
            pinned.set(name, parseVerification(v.stdout, name).pinned);
            log(`  built ${name} in ${(b.buildMs / 1000).toFixed(1)} s, verified ${pinned.get(name)}`);
        };
        for (const name of familyOrder(cfg.stack.families)) {
            const fam = cfg.stack.families[name];
            const parent = fam.parent !== undefined ? need(fam.parent) : (fam.baseImage as string);
            await buildPushVerify(name, {
                name,
                kind: "family",
                repository: repo(name),
                ...familyBuildPaths(name, fam),
                baseImage: parent,
                buildArgs: fam.buildArgs,
            });
        }
        for (const name of Object.keys(cfg.stack.services).sort()) {
            const svc = cfg.stack.services[name];
            await buildPushVerify(name, {
                name,
                kind: "service",
                repository: repo(repositoryName(name, svc)),
                ...serviceBuildPaths(name, svc),
                baseImage: need(svc.family),
                buildArgs: svc.buildArgs,
            });
        }
    });

    after(async function () {
        this.timeout(300000);
        if (timings.length > 0) {
            log("vulnerability gate timings (wall time of the probe, Trivy included):");
            for (const [what, ms] of timings) log(`  ${(ms / 1000).toFixed(1).padStart(7)} s  ${what}`);
        }
        if (KEEP) {
            log("cleanup: AI_FLEET_IT_KEEP=1, images and registry tags kept");
        } else if (cfg) {
            for (const p of pushed)
                await deleteManifest(cfg.stack.registry.host, p.repo, p.digest, cfg.stack.registry.username, registryPassword);
            if (localTags.length > 0) await run("docker", ["rmi", ...localTags]);
            log(`cleanup: deleted ${pushed.length} registry manifest(s), untagged ${localTags.length} local image(s)`);
        }
        for (const d of tempDirs) fs.rmSync(d, { recursive: true, force: true });
    });

    it("fails a service image on the planted advisory, naming the CVE, package, installed and fixed version", async () => {
        const image = need("SystemDigitalTwin");
        const r = await scan("SystemDigitalTwin", image, policy(coldCache()));
        timings.push(["scan SystemDigitalTwin, cold (empty layer cache), gate fails", r.ms]);
        expect(r.code, show(r)).to.equal(1);
        expect(r.stdout.trim(), "no report on failure").to.equal("");
        expect(r.stderr).to.include(
            `vulnerability gate failed: ${image} (service SystemDigitalTwin): 1 vulnerability at or above CRITICAL`,
        );
        expect(r.stderr).to.match(new RegExp(`${CVE_TINI} \\(CRITICAL\\) in tini 0\\.19\\.0-1\\S*, fixed in 0\\.19\\.0-1\\+deb12u1`));
        expect(r.stderr, "HIGH is under the CRITICAL threshold").to.not.include(CVE_GLIBC);
        log(`  the gate said: ${r.stderr.trim().split("\n").slice(0, 2).join(" | ")}`);
    });

    it("passes an allow-listed CVE with its note in the report", async () => {
        const cache = coldCache();
        const allow = [{ id: CVE_TINI, reason: "made-up advisory of the test DB; tini handles no untrusted input", expires: "2099-12-31" }];
        const r = await scan("SystemDigitalTwin", need("SystemDigitalTwin"), policy(cache, { allow }));
        expect(r.code, show(r)).to.equal(0);
        const report = parseScanReport(r.stdout, "SystemDigitalTwin");
        expect(report).to.include({ service: "SystemDigitalTwin", image: need("SystemDigitalTwin"), passed: true, severity: "CRITICAL" });
        expect(report.os).to.match(/^debian 12\./);
        expect(report.counts).to.include({ CRITICAL: 1, HIGH: 2 });
        expect(report.allowed).to.have.length(1);
        expect(report.allowed[0]).to.include({
            id: CVE_TINI,
            pkg: "tini",
            fixed: "0.19.0-1+deb12u1",
            reason: allow[0].reason,
            expires: "2099-12-31",
        });
        expect(report.allowed[0].note).to.match(
            new RegExp(`^${CVE_TINI} \\(CRITICAL\\) in tini 0\\.19\\.0-1\\S* allowed until 2099-12-31: made-up advisory`),
        );
        expect(r.stderr).to.include(
            `vulnerability gate: ${need("SystemDigitalTwin")} (service SystemDigitalTwin): ${report.allowed[0].note}`,
        );
        // The same image again on the same cache: its layers are cached now.
        const warm = await scan("SystemDigitalTwin", need("SystemDigitalTwin"), policy(cache, { allow }));
        expect(warm.code, show(warm)).to.equal(0);
        timings.push(["scan SystemDigitalTwin, cold, allow-listed, passes", r.ms]);
        timings.push(["scan SystemDigitalTwin again, warm (layers cached), passes", warm.ms]);
        log(`  report: ${r.stdout.trim()}`);
    });

    it("fails an expired allow-list entry like any finding, naming the expiry", async () => {
        const allow = [{ id: CVE_TINI, reason: "until bookworm's point release", expires: "2020-01-31" }];
        const r = await scan("ModelOpsCoordinator", need("ModelOpsCoordinator"), policy(coldCache(), { allow }));
        expect(r.code, show(r)).to.equal(1);
        expect(r.stderr).to.include(`(service ModelOpsCoordinator): 1 vulnerability at or above CRITICAL`);
        expect(r.stderr).to.include(`its allow-list entry expired on 2020-01-31 (reason was: until bookworm's point release)`);
    });

    it("passes a clean image: the base image has no tini, and its HIGH findings are under the threshold", async () => {
        const r = await scan("debian-minbase", baseImage, policy(coldCache()));
        expect(r.code, show(r)).to.equal(0);
        const report = parseScanReport(r.stdout, "debian-minbase");
        expect(report.counts).to.include({ CRITICAL: 0, HIGH: 2 });
        expect(report.allowed).to.deep.equal([]);
        timings.push(["scan debian-minbase (base image), cold, passes", r.ms]);
        // The threshold is applied to what the real scanner found: at HIGH, the glibc advisory fails it.
        const high = await scan("debian-minbase", baseImage, policy(coldCache(), { severity: "HIGH" }));
        expect(high.code, show(high)).to.equal(1);
        expect(high.stderr).to.include(`${CVE_GLIBC} (HIGH) in libc6`).and.include("fixed in 2.36-9+deb12u99");
    });

    it("passes every demo service when the DB has nothing that matches them", async () => {
        const cache = tempDir("ai-fleet-it11-nomatch-");
        const spec = path.join(cache, "spec.json");
        fs.writeFileSync(
            spec,
            JSON.stringify({
                advisories: [
                    {
                        platform: "debian 12",
                        source: "debian",
                        package: "openssh",
                        id: "CVE-2099-0100",
                        fixedVersion: "1:99.0p1-1",
                        severity: "CRITICAL",
                        title: "t",
                        description: "d",
                    },
                ],
            }),
        );
        await must("bash", ["scripts/trivy.sh", "--test-db", cache, spec]);
        const r = await scan("ServiceRegistry", need("ServiceRegistry"), policy(cache, { severity: "LOW" }));
        expect(r.code, show(r)).to.equal(0);
        const report = parseScanReport(r.stdout, "ServiceRegistry");
        expect(report.findings).to.equal(0);
    });

    it("scans in the registry with the registry's credentials: a wrong password fails the gate, it does not pass", async () => {
        const r = await scan("ServiceRegistry", need("ServiceRegistry"), policy(coldCache()), "wrong-password");
        expect(r.code, show(r)).to.equal(1);
        expect(r.stderr).to.include(`vulnerability gate failed: ${need("ServiceRegistry")} (service ServiceRegistry): trivy exited 1`);
        expect(r.stderr).to.include("the image was not scanned");
        expect(r.stderr).to.include('the registry refused the credentials of user "fleet"');
        expect(r.stderr).to.not.include("wrong-password");
        log(`  with a wrong password: ${r.stderr.trim().split("\n").slice(-1)[0].slice(0, 200)}`);
    });

    it("measures the gate over the local stack's five service images, in one cache, as a rollout runs them", async () => {
        const cache = coldCache();
        const allow = [{ id: CVE_TINI, reason: "made-up advisory of the test DB", expires: "2099-12-31" }];
        const services = Object.keys(cfg.stack.services).sort();
        // Pulumi starts the five scans at once; the probe runs them one at a time per cache dir.
        const started = Date.now();
        const results = await Promise.all(services.map((s) => scan(s, need(s), policy(cache, { allow }))));
        const total = Date.now() - started;
        const reports: ScanReport[] = results.map((r, i) => {
            expect(r.code, `${services[i]}${show(r)}`).to.equal(0);
            return parseScanReport(r.stdout, services[i]);
        });
        for (const rep of reports)
            log(
                `  ${rep.service.padEnd(28)} trivy ${rep.scanSeconds.toFixed(1)} s, waited ${rep.waitedSeconds.toFixed(1)} s for the cache`,
            );
        timings.push(["five service scans started together, cold cache (what the gate adds to a first rollout)", total]);
        const again = Date.now();
        const warm = await Promise.all(services.map((s) => scan(s, need(s), policy(cache, { allow }))));
        warm.forEach((r, i) => expect(r.code, `${services[i]}${show(r)}`).to.equal(0));
        timings.push(["five service scans started together, warm cache", Date.now() - again]);
    });
    describe("through the real Pulumi engine (a FleetService in a program, a container stand-in behind it)", () => {
        let status: ToolchainStatus;
        let project: TempProject;
        let cache: string;

        before(function () {
            status = ensureSetup();
            project = tempProject(path.join(path.resolve(__dirname), "programs", "scan"), "scan");
            cache = coldCache();
        });
        after(() => project?.cleanup());

        function scanStack(name: string, extra: Record<string, unknown>) {
            const reg = cfg.stack.registry;
            return createStack(project, name, status, {
                "scan:service": "SystemDigitalTwin",
                "scan:image": need("SystemDigitalTwin"),
                "scan:registryHost": reg.host,
                "scan:registryUser": reg.username,
                "scan:cacheDir": cache,
                "scan:trivy": trivy,
                ...extra,
            }).then(async (stack) => {
                await stack.setConfig("scan:registryPassword", { value: registryPassword, secret: true });
                return stack;
            });
        }

        it("a failed scan fails `pulumi up` with the CVE, and the container behind it is never created", async () => {
            const stack = await scanStack("it11-scan-fails", {});
            let message = "";
            const started = Date.now();
            try {
                await stack.up();
            } catch (e) {
                message = String(e);
            }
            timings.push(["engine: pulumi up, gate fails", Date.now() - started]);
            expect(message).to.include("vulnerability gate failed:").and.include(`${CVE_TINI} (CRITICAL) in tini 0.19.0-1`);
            const urns = ((await stack.exportStack()).deployment.resources ?? []).map((r: { urn: string }) => r.urn);
            expect(
                urns.filter((u: string) => u.endsWith("::container")),
                "no container",
            ).to.deep.equal([]);
            await stack.destroy();
        });

        it("an allow-listed scan lets the container take the scanned image; a config-only change scans nothing again", async () => {
            const allow = [{ id: CVE_TINI, reason: "made-up advisory of the test DB", expires: "2099-12-31" }];
            const stack = await scanStack("it11-scan-passes", { "scan:allow": allow, "scan:containerEnv": "one" });
            let started = Date.now();
            const first = await stack.up();
            timings.push(["engine: pulumi up, gate passes (scan + container stand-in)", Date.now() - started]);
            expect(first.outputs.containerImage.value).to.equal(need("SystemDigitalTwin"));
            const report = first.outputs.scanReport.value as ScanReport;
            expect(report.allowed.map((a) => a.id)).to.deep.equal([CVE_TINI]);
            // A release that changes only the container's config: the container changes, the scan does not run.
            await stack.setConfig("scan:containerEnv", { value: "two" });
            started = Date.now();
            const ops: string[] = [];
            const second = await stack.up({
                onEvent: (e) => {
                    const m = e.resourcePreEvent?.metadata;
                    if (m) ops.push(`${m.op} ${m.urn.split("::").pop()}`);
                },
            });
            timings.push(["engine: pulumi up, config-only change (no scan)", Date.now() - started]);
            const changes = second.summary.resourceChanges ?? {};
            expect(changes, JSON.stringify(changes)).to.include({ update: 1 });
            expect(changes.replace ?? 0, JSON.stringify(changes)).to.equal(0);
            expect(changes.create ?? 0, JSON.stringify(changes)).to.equal(0);
            expect(ops, "what the engine did").to.include("update container");
            expect(
                ops.filter((o) => o.endsWith("-scan") && !o.startsWith("same ")),
                "the scan command did not run",
            ).to.deep.equal([]);
            log(`  config-only up: ${ops.join(", ")}`);
            // A new policy (here: the allow-list) re-runs the scan.
            await stack.setConfig("scan:allow", {
                value: JSON.stringify([...allow, { id: "CVE-2099-0099", reason: "r", expires: "2099-12-31" }]),
            });
            const third = await stack.up();
            expect((third.summary.resourceChanges ?? {}).replace ?? 0, JSON.stringify(third.summary.resourceChanges)).to.be.greaterThan(0);
            await stack.destroy();
        });
    });
});
