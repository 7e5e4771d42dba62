/**
 * Mocha's CLI sets Error.stackTraceLimit to Infinity; Pulumi's SDK captures a stack for every
 * promise it makes, so under mocha each capture walks the whole stack. Node's default of 10 frames
 * halves the unit suite's wall time (bench/RESULTS.md, part 5) and still shows where a test failed.
 */
Error.stackTraceLimit = 10;
