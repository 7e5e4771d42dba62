/** bench/results.ts: issue 19's targets are judged on the median of the runs and reported, never asserted. */
import { expect } from "chai";
import { explain, priceList } from "../../bench/cost";
import type { Measured } from "../../bench/evaluation";
import { stat } from "../../bench/lib";
import { Results, targets, verdict } from "../../bench/results";

function results(part: Partial<Results>): Results {
    const machine = { cores: 2, cpuModel: "x", memoryGiB: 1, node: "v20", os: "linux" };
    return { startedAt: "", commits: { start: "abc" }, machine, parts: [], quick: false, partSeconds: {}, loads: [], errors: [], ...part };
}

/** A workload's figures, one value each (evaluation, its CPU and peak RSS), with the mocks' counts by type. */
function measured(workload: string, evalMs: number, rssKB: number, byType?: Record<string, number>): Measured {
    const s = stat([evalMs]);
    return {
        workload,
        variant: "lean",
        label: workload,
        evalMs: s,
        evalCpuMs: s,
        rssKB: stat([rssKB]),
        cpuMs: s,
        resources: Object.values(byType ?? {}).reduce((a, b) => a + b, 0),
        last: { resourcesByType: byType },
    } as never;
}

const target = (r: Results, prefix: string) => targets(r).find((t) => t.what.startsWith(prefix)) as ReturnType<typeof targets>[number];

describe("bench targets (issue 19)", () => {
    it("reports every target as not measured when nothing ran", () => {
        const ts = targets(results({}));
        expect(ts.map((t) => t.what.split(" ")[0])).to.deep.equal(["(i)", "(ii)", "(iii)", "(iv)", "(v)"]);
        expect(ts.map(verdict)).to.deep.equal(Array(5).fill("not measured"));
    });

    it("judges the engine's ratios on the median of the pairs, at the limit inclusive", () => {
        const r = results({
            engine: { status: { plugins: {} }, notMeasured: [], ratio: stat([1.2, 1.31, 1.4]), upRatio: stat([1.5, 2, 9]) },
        });
        expect(verdict(target(r, "(iv)"))).to.equal("not met");
        expect(verdict(target(r, "(v)"))).to.equal("met");
        expect(target(r, "(v)").measured).to.match(/^2\.00× \(median of 3, 1\.50× – 9\.00×\)$/);
    });

    it("holds 1000 services to 15 s and 1.2× the floor's peak RSS; a quick run's 100 services are not measured", () => {
        const program = (scale: number, evalMs: number[], rss: number[]) =>
            results({
                program: {
                    notMeasured: [],
                    scale,
                    measured: [{ ...measured(`gen${scale}`, 0, 1), evalMs: stat(evalMs) }],
                    ratios: { fleetFloorRss: stat(rss), operatorEmptyCpu: stat([2]) },
                },
            });
        const met = program(1000, [15000, 14000, 40000], [1.1, 1.2, 3]);
        expect(verdict(target(met, "(i)"))).to.equal("met");
        expect(verdict(target(met, "(ii)"))).to.equal("met");
        expect(verdict(target(met, "(iii)"))).to.equal("met");
        const missed = program(1000, [15001], [1.21]);
        expect(verdict(target(missed, "(i)"))).to.equal("not met");
        expect(verdict(target(missed, "(ii)"))).to.equal("not met");
        const quick = program(100, [100], [1]);
        expect(verdict(target(quick, "(i)"))).to.equal("not measured");
        expect(verdict(target(quick, "(ii)"))).to.equal("not measured");
        expect(target(quick, "(i)").measured).to.contain("100 services");
    });
});

describe("bench cost: a workload explained by its resources' prices", () => {
    const C = "docker:index/container:Container";
    it("prices a type by its slope from N/10 to N, charges its first use once, and components at the bare component's price", () => {
        const p = {
            notMeasured: [],
            scale: 1000,
            measured: [
                measured("floor0", 0, 100),
                measured("type-container-100", 1000 + 100 * 8, 100 + 100 * 2),
                measured("type-container-1000", 1000 + 1000 * 8, 100 + 1000 * 2),
                measured("type-component-100", 100 * 3, 100 + 100),
                measured("type-component-1000", 1000 * 3, 100 + 1000),
                measured("fleet", 20000, 5000, { [C]: 1000, "ai-fleet:containers:ServiceContainer": 1000, "pulumi:providers:docker": 1 }),
            ],
        };
        const list = priceList(p) as NonNullable<ReturnType<typeof priceList>>;
        const container = list.prices.find((x) => x.kind === "container") as (typeof list.prices)[number];
        expect(container.evalMs).to.be.closeTo(8, 1e-9);
        expect(container.once.evalMs).to.be.closeTo(1000, 1e-9);
        expect(container.rssKB).to.be.closeTo(2, 1e-9);
        const e = explain(p.measured[5], list.base, list.prices) as NonNullable<ReturnType<typeof explain>>;
        expect(e.evalMs).to.be.closeTo(1000 + 1000 * 8 + 1000 * 3, 1e-6);
        expect(e.rssKB).to.be.closeTo(100 + 1000 * 2 + 1000, 1e-6);
        expect(e.unpriced).to.equal(1);
    });
});
