#!/usr/bin/env node
// The "cli" container runtime: starts (or removes) one service container with the docker CLI,
// for machines where the docker provider plugin cannot be had. Run by FleetService through
// @pulumi/command; the flags come from components/containerAdapters.ts, the same settings the provider
// would apply. DOCKER_HOST (ssh://, unix://, tcp://) says which engine.
//
//   node probes/container.js up      pull the pinned image, replace the container, wait until it runs
//   node probes/container.js down    remove the container (nothing to do if it is gone)
//
// Environment: FLEET_CONTAINER_NAME, FLEET_IMAGE (repo@sha256:…), FLEET_NETWORK, FLEET_STACK,
// FLEET_DOCKER_RUN (JSON array of flags), FLEET_CONTAINER_SPEC (the provider-shaped args, for
// policy and people; not read here). Registry credentials arrive on stdin as JSON
// {"registry","username","password"} so they never appear in the resource's environment.
// stdout: one JSON line {"id","name","image"}; progress and errors on stderr.
"use strict";

const { spawnSync } = require("child_process");
const fs = require("fs");
const os = require("os");
const path = require("path");

const contracts = require("./contracts");

const mode = process.argv[2];
const env = { ...process.env, ...(mode === "up" ? contracts.readInput(contracts.container, process.env) : {}) };
const name = env.FLEET_CONTAINER_NAME || "";
const image = env.FLEET_IMAGE || "";
const network = env.FLEET_NETWORK || "";

function fail(msg) {
    process.stderr.write(`container ${name || "(unnamed)"}: ${msg}\n`);
    process.exit(1);
}

function docker(args, opts = {}) {
    const r = spawnSync("docker", args, { encoding: "utf8", env: { ...process.env, ...(opts.env || {}) }, input: opts.input });
    if (r.error) fail(`cannot run docker: ${r.error.message}`);
    return { code: r.status, out: (r.stdout || "").trim(), err: (r.stderr || "").trim() };
}

function must(args, what, opts) {
    const r = docker(args, opts);
    if (r.code !== 0) fail(`${what} failed (docker ${args[0]} exit ${r.code}): ${r.err || r.out}`);
    return r.out;
}

function readCredentials() {
    let text;
    try {
        text = fs.readFileSync(0, "utf8");
    } catch {
        return undefined;
    }
    if (!text.trim()) return undefined;
    let parsed;
    try {
        parsed = JSON.parse(text);
    } catch {
        fail("stdin is not the JSON registry credentials");
    }
    const r = contracts.container.stdin.safeParse(parsed);
    if (!r.success) fail(`stdin does not meet the contract's registry credentials: ${contracts.describeIssues(r.error)}`);
    return r.data;
}

function up() {
    if (!/^[a-zA-Z0-9][a-zA-Z0-9_.-]+$/.test(name)) fail(`FLEET_CONTAINER_NAME="${name}" is not a container name`);
    if (!/@sha256:[a-f0-9]{64}$/.test(image)) fail(`FLEET_IMAGE="${image}" is not pinned by digest`);
    let flags;
    try {
        flags = JSON.parse(env.FLEET_DOCKER_RUN || "");
    } catch {
        fail("FLEET_DOCKER_RUN is not a JSON array of flags");
    }
    const creds = readCredentials();
    // A config directory of its own: the operator's ~/.docker is neither read nor written.
    const config = fs.mkdtempSync(path.join(os.tmpdir(), "ai-fleet-docker-"));
    try {
        const withConfig = { env: { DOCKER_CONFIG: config } };
        if (creds && creds.registry) {
            must(["login", creds.registry, "--username", creds.username, "--password-stdin"], `login to ${creds.registry}`, {
                ...withConfig,
                input: creds.password,
            });
        }
        if (docker(["image", "inspect", image]).code !== 0) {
            process.stderr.write(`[container] ${name}: pulling ${image}\n`);
            must(["pull", "--quiet", image], `pull of ${image}`, withConfig);
        }
    } finally {
        fs.rmSync(config, { recursive: true, force: true });
    }
    // Held until the container is attached: no `down` removes the network in between (removeUnusedNetwork).
    const releaseNetwork = network ? takeNetworkLock(network) : () => {};
    const networkId = network ? ensureNetwork(network) : "";
    // Fixed name and host ports: the old container goes first, as the provider's deleteBeforeReplace does.
    docker(["rm", "-f", name]);
    // By id: a name that several networks share (left by an older, racing version) is ambiguous to docker run.
    const netFlags = network ? ["--network", networkId, "--network-alias", name] : [];
    const id = must(["run", "-d", "--name", name, ...netFlags, ...flags, image], `docker run of ${image}`);
    releaseNetwork();
    // mustRun: a container that exits at once is a failed create, not a success.
    for (let i = 0; i < 20; i++) {
        const state = docker(["inspect", "--format", "{{.State.Status}} {{.State.ExitCode}}", id]).out;
        if (state.startsWith("running")) {
            process.stderr.write(`[container] ${name} running (${id.slice(0, 12)}) from ${image}\n`);
            contracts.printOutput(contracts.container, { id, name, image });
            return;
        }
        if (state.startsWith("exited") || state.startsWith("dead")) {
            const logs = docker(["logs", "--tail", "20", id]);
            fail(`exited at start (${state}); last log lines:\n${logs.out}\n${logs.err}`);
        }
        spawnSync("sleep", ["0.25"]);
    }
    fail("did not reach the running state within 5s");
}

/** Ids of the networks named exactly `net` (docker's name filter also matches substrings), oldest first. */
function networksNamed(net) {
    const ids = docker(["network", "ls", "--no-trunc", "--filter", `name=${net}`, "--format", "{{.ID}} {{.Name}}"])
        .out.split("\n")
        .map((l) => l.trim().split(" "))
        .filter(([id, n]) => id && n === net)
        .map(([id]) => id);
    if (ids.length < 2) return ids;
    const created = (id) => docker(["network", "inspect", "--format", "{{.Created}}", id]).out;
    return ids
        .map((id) => [created(id), id])
        .sort()
        .map(([, id]) => id);
}

/**
 * The stack's network, created once. The containers of a stack start in parallel and Docker allows
 * several networks of one name, so finding and creating runs under the network lock (the caller
 * holds it: takeNetworkLock); duplicates an unlocked run left are removed when nothing is attached
 * to them, and the oldest network is the one used.
 */
function ensureNetwork(net) {
    let ids = networksNamed(net);
    if (ids.length === 0) {
        must(["network", "create", "--driver", "bridge", "--label", `ai-fleet.stack=${env.FLEET_STACK || ""}`, net], `network ${net}`);
        ids = networksNamed(net);
    }
    for (const extra of ids.slice(1)) {
        const attached = docker(["network", "inspect", "--format", "{{len .Containers}}", extra]).out;
        if (attached === "0" && docker(["network", "rm", extra]).code === 0) {
            process.stderr.write(`[container] removed a duplicate network ${net} (${extra.slice(0, 12)})\n`);
        }
    }
    if (ids.length === 0) fail(`network ${net} was created but cannot be found`);
    return ids[0];
}

function down() {
    const r = docker(["rm", "-f", name]);
    if (r.code !== 0 && !/No such container/i.test(r.err)) fail(`removal failed: ${r.err}`);
    process.stderr.write(`[container] ${name} removed\n`);
    if (network) removeUnusedNetwork(network);
}

if (mode === "up") up();
else if (mode === "down") down();
else fail(`usage: container.js up|down (got ${mode})`);

/**
 * The lock that serialises the stack's network on this machine (where every container command of
 * the stack runs): finding or creating it and attaching a container (`up`), removing it (`down`).
 * Returns its release, which also runs if the process exits first (fail()).
 */
function takeNetworkLock(net) {
    const lock = path.join(
        os.tmpdir(),
        `ai-fleet-network-${Buffer.from(`${env.DOCKER_HOST || ""}|${net}`)
            .toString("hex")
            .slice(0, 80)}.lock`,
    );
    const started = Date.now();
    for (;;) {
        try {
            fs.mkdirSync(lock);
            break;
        } catch (e) {
            if (e.code !== "EEXIST") fail(`cannot take the network lock ${lock}: ${e.message}`);
            let age;
            try {
                age = Date.now() - fs.statSync(lock).mtimeMs;
            } catch {
                continue;
            }
            // A lock older than a minute was left by a killed run: network creation takes a second.
            if (age > 60000) fs.rmSync(lock, { recursive: true, force: true });
            else if (Date.now() - started > 120000) fail(`waited 120s for the network lock ${lock}`);
            else spawnSync("sleep", ["0.1"]);
        }
    }
    const release = () => {
        process.removeListener("exit", release);
        fs.rmSync(lock, { recursive: true, force: true });
    };
    process.on("exit", release);
    return release;
}

/**
 * After `down`: the stack's network goes with its last container, as the provider runtime's
 * docker.Network does on destroy, so that no runtime's next `up` finds a network it did not make
 * (the provider's fails with "network with name ai-fleet-<machine> already exists"). Only a
 * network of that name labelled as this stack's (ai-fleet.stack=FLEET_STACK) that no container,
 * running or stopped, is on; under the network lock, so no `up` is attaching a container meanwhile.
 * A network that cannot be removed is left, said why; it fails nothing.
 */
function removeUnusedNetwork(net) {
    const stack = env.FLEET_STACK || "";
    if (!stack) return;
    const release = takeNetworkLock(net);
    try {
        for (const id of networksNamed(net)) {
            const label = docker(["network", "inspect", "--format", '{{index .Labels "ai-fleet.stack"}}', id]).out;
            if (label !== stack) continue;
            const on = docker(["ps", "-aq", "--filter", `network=${id}`]).out;
            if (on !== "") continue;
            const r = docker(["network", "rm", id]);
            process.stderr.write(
                r.code === 0
                    ? `[container] removed the network ${net}: no container is on it any more\n`
                    : `[container] left the network ${net}: ${r.err || r.out}\n`,
            );
        }
    } finally {
        release();
    }
}
