/** bench/results.ts: the targets are judged on the median of the runs and reported, never asserted. */
import { expect } from "chai";
import { stat } from "../../bench/lib";
import { Results, targets, verdict } from "../../bench/results";

function results(part: Partial<Results>): Results {
    const machine = { cores: 2, cpuModel: "x", memoryGiB: 1, node: "v20", os: "linux" };
    return { startedAt: "", commits: { start: "abc" }, machine, parts: [], quick: false, partSeconds: {}, loads: [], errors: [], ...part };
}

describe("bench targets", () => {
    it("reports every target as not measured when nothing ran", () => {
        const ts = targets(results({}));
        expect(ts).to.have.length(6);
        expect(ts.map(verdict)).to.deep.equal(Array(6).fill("not measured"));
    });

    it("judges the unit suite and the preview ratio on the median, at the limit inclusive", () => {
        const r = results({
            unit: { wallMs: stat([19000, 20000, 60000]), load: stat([1]), summaries: [] },
            engine: { status: { plugins: {} }, notMeasured: [], ratio: stat([1.2, 1.31, 1.4]) },
        });
        const [unit] = targets(r).filter((t) => t.what.startsWith("(d)"));
        const [ratio] = targets(r).filter((t) => t.what.startsWith("(c)"));
        expect(verdict(unit)).to.equal("met");
        expect(unit.measured).to.match(/^20\.0 s \(median of 3, 19\.0 s – 60\.0 s\)$/);
        expect(verdict(ratio)).to.equal("not met");
    });

    it("holds the 1000-service peak RSS to 10^9 bytes", () => {
        const measured = (kb: number) =>
            results({
                program: {
                    notMeasured: [],
                    measured: [{ workload: "gen1000", variant: "lean", rssKB: stat([kb]) } as never],
                },
            });
        const rss = (kb: number) => verdict(targets(measured(kb)).find((t) => t.what.includes("peak RSS")) as never);
        expect(rss(976562)).to.equal("met");
        expect(rss(1000000)).to.equal("not met");
    });
});
