#!/usr/bin/env bash
# scripts/policy-analyzer.sh — sourced by scripts/toolchain.sh: lets this machine's Pulumi CLI run
# the Node.js policy pack (policy/, `pulumi preview --policy-pack policy`) without downloads.
#
# What runs a Node.js policy pack: Pulumi CLIs up to about 3.2xx ran the `pulumi-analyzer-policy`
# executable, a four-line shell script shipped in the CLI tarball beside pulumi-language-nodejs
# (sdk/nodejs/dist/pulumi-analyzer-policy) that resolves `@pulumi/pulumi/cmd/run-policy-pack` from
# the pack's directory and runs `node <that> <engine address> .`. The CLI pinned here (3.250.0)
# no longer uses that script: when a language plugin for the pack's runtime (`nodejs`) is found,
# it asks that plugin's RunPlugin (kind "analyzer", the pack directory as ProgramInfo) to start the
# pack (pkg/resource/plugin/analyzer_plugin.go, NewPolicyAnalyzer), and only without one falls
# back to an executable `pulumi-analyzer-policy-<runtime>`. A normal CLI install ships a
# pulumi-language-nodejs that does this. The one toolchain.sh builds here comes from
# sdk/v3@v3.68.0 (the newest the module proxy serves) and answers RunPlugin "not supported", so a
# preview with a policy pack fails with: policy pack "…/policy" failed to start: could not read
# plugin […/policy]: not supported.
#
# The fix: build that same language host from a copy of its package (the module's main.go,
# proxy*.go) in toolchain.sh's throwaway module, with RunPlugin's one-line body pointed at
# runPolicyPackPlugin, plus scripts/policy-analyzer/runplugin_policy.go (ai-fleet's own code), which
# starts the pack exactly as the newer hosts do: node, the resolved run-policy-pack runner, the
# CLI's arguments and the pack directory, in the pack directory. (`go build -overlay` would be
# neater, but Go refuses overlays of files in the module cache.) The module cache is not modified.

POLICY_ANALYZER_MARKER="ai-fleet-policy-runplugin/1"

# policy_analyzer_src OUT_DIR SDK_VERSION
# Writes the language host's package sources, patched, into OUT_DIR and prints OUT_DIR.
# Non-zero (with the reason on stderr) when the patch does not apply.
policy_analyzer_src() {
  local out="$1" v="$2" here moddir pkgdir f
  here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
  if ! moddir="$(GOFLAGS= go mod download -json "github.com/pulumi/pulumi/sdk/v3@v$v" 2>/dev/null \
      | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{const j=JSON.parse(s);if(!j.Dir)process.exit(1);process.stdout.write(j.Dir)})')"; then
    echo "policy analyzer: cannot get github.com/pulumi/pulumi/sdk/v3@v$v (go mod download failed)" >&2
    return 1
  fi
  pkgdir="$moddir/nodejs/cmd/pulumi-language-nodejs"
  rm -rf "$out" && mkdir -p "$out"
  # RunPlugin's body in 3.68.0 is exactly `return errors.New("not supported")`; anything else
  # means another version, whose host may already run policy packs: refuse rather than guess.
  if ! node -e '
      const fs = require("fs");
      const [src, dst] = process.argv.slice(1);
      const text = fs.readFileSync(src, "utf8");
      const re = /(func \(host \*nodeLanguageHost\) RunPlugin\(\n\treq \*pulumirpc\.RunPluginRequest, server pulumirpc\.LanguageRuntime_RunPluginServer,\n\) error \{\n)\treturn errors\.New\("not supported"\)\n\}/g;
      const hits = text.match(re) || [];
      if (hits.length !== 1) { console.error("policy analyzer: RunPlugin of " + src + " is not the expected 3.68 stub (" + hits.length + " matches)"); process.exit(1); }
      fs.writeFileSync(dst, text.replace(re, "$1\treturn runPolicyPackPlugin(req, server)\n}"));
    ' "$pkgdir/main.go" "$out/main.go"; then
    return 1
  fi
  for f in "$pkgdir"/*.go; do
    case "$(basename "$f")" in main.go|*_test.go) ;; *) cp -f "$f" "$out/" ;; esac
  done
  cp -f "$here/policy-analyzer/runplugin_policy.go" "$out/runplugin_policy.go"
  chmod u+w "$out"/*.go
  echo "$out"
}

# policy_analyzer_present LANGHOST_BIN: true when that language host runs Node.js policy packs.
policy_analyzer_present() {
  [ -x "$1" ] && grep -aq "$POLICY_ANALYZER_MARKER" "$1"
}
