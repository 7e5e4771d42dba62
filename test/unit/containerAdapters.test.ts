/**
 * The two container runtimes as adapters of one ContainerSpec: each starts the very container the
 * program before ContainerSpec (8bfbfd1) started, so moving a stack to this program changes no
 * container's inputs (test/fixtures/container-args-8bfbfd1.json holds what 8bfbfd1's containerArgs
 * and dockerRunFlags gave every service of the three stack files).
 */
import { expect } from "chai";
import * as fs from "fs";
import * as path from "path";
import { containerSpecSchema } from "../../common/containerSpec";
import { CLI_SUPPORT, dockerRunFlags, PROVIDER_SUPPORT, providerContainerArgs, SpecSupport, unexpressedFields } from "../../components";
import { containerSpecFor } from "../../deploy";
import { fleetConfig } from "./harness";

const golden = JSON.parse(fs.readFileSync(path.join(__dirname, "..", "fixtures", "container-args-8bfbfd1.json"), "utf8")) as Record<
    string,
    { settings: Record<string, unknown>; provider: Record<string, unknown>; flags: string[] }
>;

describe("the container runtimes as adapters of one ContainerSpec", () => {
    it("give every service of the three stack files the provider args and docker run flags 8bfbfd1 gave it (no input changes on upgrade)", () => {
        let compared = 0;
        for (const stack of ["mainpc", "pc2", "local"]) {
            const cfg = fleetConfig(stack);
            for (const name of Object.keys(cfg.stack.services)) {
                const was = golden[`${stack}/${name}`];
                expect(was, `${stack}/${name} in the fixture`).to.not.equal(undefined);
                const spec = containerSpecFor(cfg, name);
                const provider = JSON.parse(JSON.stringify(providerContainerArgs(spec, { gate: "passed" })));
                expect(JSON.stringify(provider), `${stack}/${name}: provider args, key order included`).to.equal(
                    JSON.stringify(was.provider),
                );
                expect(dockerRunFlags(spec, "passed"), `${stack}/${name}: docker run flags`).to.deep.equal(was.flags);
                compared++;
            }
        }
        expect(compared).to.equal(Object.keys(golden).length);
    });

    it("read a spec recorded by 8bfbfd1 (without restart, logs, stop timeout, healthcheck timings) as the container it ran", () => {
        const was = golden["local/ModelOpsCoordinator"];
        const spec = containerSpecSchema.parse(was.settings);
        expect(JSON.stringify(JSON.parse(JSON.stringify(providerContainerArgs(spec, { gate: "passed" }))))).to.equal(
            JSON.stringify(was.provider),
        );
        expect(dockerRunFlags(spec, "passed")).to.deep.equal(was.flags);
    });

    it("list every field of the spec in each adapter's table, and refuse a set field an adapter cannot express, naming it", () => {
        const spec = containerSpecFor(fleetConfig("local"), "ModelOpsCoordinator");
        const fields = Object.keys(containerSpecSchema.shape).sort();
        expect(Object.keys(PROVIDER_SUPPORT).sort()).to.deep.equal(fields);
        expect(Object.keys(CLI_SUPPORT).sort()).to.deep.equal(fields);
        expect(unexpressedFields(spec, PROVIDER_SUPPORT)).to.deep.equal([]);
        expect(unexpressedFields(spec, CLI_SUPPORT)).to.deep.equal([]);
        const noGpu: SpecSupport = { ...CLI_SUPPORT, gpuDevices: { unsupported: "this runtime has no GPU" } };
        expect(unexpressedFields(spec, noGpu), "an unset field is no problem").to.deep.equal([]);
        expect(unexpressedFields({ ...spec, gpuDevices: ["0"] }, noGpu)).to.deep.equal(["gpuDevices (this runtime has no GPU)"]);
    });
});
