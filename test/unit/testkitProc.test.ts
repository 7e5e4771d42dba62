/** testkit/proc.ts: the one process runner of the integration tests and the bench. */
import { expect } from "chai";
import { must, run, shellQuote } from "../../testkit/proc";

describe("testkit/proc run", () => {
    it("collects stdout, stderr, the exit code and the wall time, and feeds stdin", async () => {
        const script =
            "process.stdin.on('data', (d) => process.stdout.write(String(d).toUpperCase())); process.stderr.write('e'); process.exitCode = 3;";
        const r = await run(process.execPath, ["-e", script], { input: "abc" });
        expect(r).to.include({ code: 3, stdout: "ABC", stderr: "e" });
        expect(r.signal).to.equal(undefined);
        expect(r.ms).to.be.greaterThan(0);
        expect(r.cmd).to.equal(`${process.execPath} -e ${shellQuote(script)}`);
    });

    it("kills a child after timeoutMs and says so", async () => {
        const r = await run(process.execPath, ["-e", "setTimeout(() => {}, 60000)"], { timeoutMs: 200 });
        expect(r.code).to.equal(-1);
        expect(r.signal).to.equal("SIGKILL");
        expect(r.stderr).to.include("killed after 200 ms");
    });

    it("must() rejects with the command line and the exit code", async () => {
        const failing = must(process.execPath, ["-e", "console.error('boom'); process.exit(2)"]);
        await failing.then(
            () => expect.fail("must() resolved for exit 2"),
            (e: Error) => expect(e.message).to.match(/exited 2:\nboom/),
        );
    });
});
