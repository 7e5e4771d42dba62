#!/usr/bin/env bash
# scripts/toolchain.sh — give this machine a working, offline Pulumi engine.
#
# Nothing can be downloaded from pulumi.com or GitHub here, so everything is
# built from source with Go, taking modules from the Go module proxy only:
#   * the Pulumi CLI (github.com/pulumi/pulumi/pkg/v3, cmd/pulumi), placed where
#     the npm `pulumi` package's bin (`npx pulumi`) looks for it:
#     ${PULUMI_HOME:-~/.pulumi}/versions/<v>/bin/pulumi
#   * the Node.js language host pulumi-language-nodejs, beside it, with RunPlugin for Node.js
#     policy packs (`pulumi preview --policy-pack policy`; scripts/policy-analyzer.sh)
#   * the resource plugins that package.json pins, registered with
#     `pulumi plugin install resource NAME VERSION --file BIN`
# Build outputs are cached in ${AI_FLEET_CACHE:-~/.cache/ai-fleet}/toolchain/<name>-<version>/,
# so a second run only checks and takes seconds.
#
# Usage:
#   scripts/toolchain.sh            ensure everything (idempotent); exits 0 even when an
#                                   optional piece could not be provided (it says so:
#                                   "[toolchain] NOT PROVIDED: ...")
#   scripts/toolchain.sh --status   print one JSON object describing what is present,
#                                   build nothing:
#     {"pulumi":"/path"|null,"pulumiVersion":"3.250.0","languageHost":"/path"|null,
#      "binDir":"/path","plugins":{"docker-build":"0.0.22",...},
#      "substitutes":{"command":"why"},"missing":{"docker":"why"},"notes":[...],
#      "policyAnalyzer":"how Node.js policy packs run"|null}
#   scripts/toolchain.sh --selftest run a tiny JS Pulumi project in a temp dir with a file backend
#                                   (stack init, up, preview --expect-no-changes, destroy) using
#                                   command.local.Command, and check that `pulumi plugin ls` lists
#                                   docker-build; exits non-zero on failure. Builds nothing.
#   Then: `source scripts/pulumi-offline-env.sh` (sets PATH and the offline PULUMI_* vars).
#
# Environment knobs:
#   AI_FLEET_CACHE            cache root (default ~/.cache/ai-fleet)
#   PULUMI_HOME               Pulumi's home (default ~/.pulumi), as Pulumi itself uses it
#   AI_FLEET_COMMAND_STANDIN  1 (default) = build the local stand-in "command" provider (the Go
#                             module scripts/command-standin) when the real one cannot be built;
#                             0 = leave it missing
#   AI_FLEET_REBUILD          1 = ignore cached build outputs and rebuild
set -euo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_ROOT="$(cd "$SCRIPT_DIR/.." && pwd)"
CACHE_ROOT="${AI_FLEET_CACHE:-$HOME/.cache/ai-fleet}/toolchain"
PULUMI_HOME_DIR="${PULUMI_HOME:-$HOME/.pulumi}"
MODE="ensure"
case "${1:-}" in
  --status) MODE="status" ;;
  --selftest) MODE="selftest" ;;
  "") ;;
  -h|--help) awk 'NR > 1 && /^set -euo/ { exit } NR > 1' "${BASH_SOURCE[0]}"; exit 0 ;;
  *) echo "usage: $0 [--status|--selftest]" >&2; exit 2 ;;
esac

log() { echo "[toolchain] $*"; }
# shellcheck source=scripts/policy-analyzer.sh
. "$SCRIPT_DIR/policy-analyzer.sh"
now() { date +%s; }
elapsed() { echo "$(( $(now) - $1 ))s"; }

# ---------------------------------------------------------------------------
# Versions: read the pins from package.json so there is one source of truth.
# ---------------------------------------------------------------------------
pkg_pin() { # pkg_pin NPM_NAME DEFAULT
  local v=""
  if command -v node >/dev/null 2>&1 && [ -f "$REPO_ROOT/package.json" ]; then
    v="$(node -e '
      const p = require(process.argv[1]); const n = process.argv[2];
      const v = (p.dependencies || {})[n] || (p.devDependencies || {})[n] || "";
      process.stdout.write(/^[~^=v]?\d+\.\d+\.\d+$/.test(v) ? v.replace(/^[~^=v]/, "") : "");
    ' "$REPO_ROOT/package.json" "$1" 2>/dev/null || true)"
  fi
  echo "${v:-$2}"
}
CLI_VERSION_PREFERRED="$(pkg_pin pulumi 3.250.0)"        # npm `pulumi` (npx pulumi) wants this one
CLI_VERSION_FALLBACK="$(pkg_pin @pulumi/pulumi 3.248.0)" # the SDK version, if the preferred fails
COMMAND_VERSION="$(pkg_pin @pulumi/command 1.2.1)"
DOCKER_BUILD_VERSION="$(pkg_pin @pulumi/docker-build 0.0.22)"
DOCKER_VERSION="$(pkg_pin @pulumi/docker 5.2.0)"

# The language host. Since pulumi v3.69.0 it lives in its own Go module
# (github.com/pulumi/pulumi/sdk/nodejs/cmd/pulumi-language-nodejs/v3), which has no tags and
# which the module proxy here refuses ("Go module path not permitted" / 403 for every
# pseudo-version). Up to v3.68.0 it was a package of the sdk/v3 module, which is served, so
# that is what we build. The CLI falls back cleanly for the RPCs it lacks (Handshake,
# GetRequiredPackages, ...) and @pulumi/pulumi 3.248 runs fine under it (JS and TS).
LANGHOST_SDK_VERSION="3.68.0"

# Modules lifted for docker-build: v0.0.22 requires pulumi-java v1.29.0 and
# pulumi-language-dotnet/v3 v3.107.0, whose zips the proxy refuses (403). The provider imports
# them only for two struct types (Java/C# SDK-generation metadata in its schema). The served
# versions that compile together are java v1.33.0 + dotnet v3.110.0, which lift pulumi pkg/sdk
# to v3.255.0, which in turn needs pulumi-go-provider >= v1.4 (v1.3.2 fails: ResourceSpec
# became a pointer); v1.4.1 is served. Tried and failing: java v1.32.0 with pkg v3.255.0
# (missing ResolveDocRef), dotnet v3.102.0 with pkg v3.248.0 (pcl API).
DOCKER_BUILD_EXTRA_GETS="github.com/pulumi/pulumi-java@v1.33.0 github.com/pulumi/pulumi-dotnet/pulumi-language-dotnet/v3@v3.110.0 github.com/pulumi/pulumi-go-provider@v1.4.1"

DOCKER_MISSING_REASON="the pulumi-docker ${DOCKER_VERSION} provider is a Terraform bridge whose provider/go.mod (module github.com/pulumi/pulumi-docker/provider/v4) has 'replace github.com/terraform-providers/terraform-provider-docker => ../upstream' (a git submodule, not a module), and the module proxy refuses (403) github.com/pulumi/pulumi-docker, .../provider/v4 and .../provider/v5 at every version tried (5.2.0, 5.0.0, 4.11.0, 4.5.0); use @pulumi/docker-build (docker-build ${DOCKER_BUILD_VERSION}) or the command provider instead"
COMMAND_MISSING_REASON="the provider's Go module github.com/pulumi/pulumi-command/provider is not served by the module proxy (@v${COMMAND_VERSION} is 404: the repo has no provider/v${COMMAND_VERSION} tag; the pseudo-version of tag v${COMMAND_VERSION}'s commit, v0.0.0-20260303235922-7f3eb6f3b77c, and every other version tried are refused with 403), and the served root module github.com/pulumi/pulumi-command@v${COMMAND_VERSION} does not contain provider/"
COMMAND_STANDIN_NOTE="stand-in built by scripts/toolchain.sh from scripts/command-standin (NOT pulumi-command): implements command:local:Command and command:local:run only (create/update/delete/dir/environment/interpreter/stdin/triggers/addPreviousOutputInEnv/logging; no assetPaths/archivePaths, no command:remote:*), because ${COMMAND_MISSING_REASON}"

cli_bin_dir() { echo "$PULUMI_HOME_DIR/versions/$1/bin"; }

# Prints the version (without v) a pulumi binary reports, or nothing.
cli_version_of() {
  local out
  out="$(PULUMI_SKIP_UPDATE_CHECK=true "$1" version 2>/dev/null | head -n1 || true)"
  echo "${out#v}"
}

plugin_dir() { echo "$PULUMI_HOME_DIR/plugins/resource-$1-v$2"; }
plugin_present() { [ -x "$(plugin_dir "$1" "$2")/pulumi-resource-$1" ]; }

# ---------------------------------------------------------------------------
# --status: describe what is there, build nothing.
# ---------------------------------------------------------------------------
status_json() {
  local cli="" cliv="" lh=""
  local v
  for v in "$CLI_VERSION_PREFERRED" "$CLI_VERSION_FALLBACK"; do
    if [ -x "$(cli_bin_dir "$v")/pulumi" ] && [ "$(cli_version_of "$(cli_bin_dir "$v")/pulumi")" = "$v" ]; then
      cli="$(cli_bin_dir "$v")/pulumi"; cliv="$v"; break
    fi
  done
  if [ -n "$cli" ] && [ -x "$(dirname "$cli")/pulumi-language-nodejs" ]; then
    lh="$(dirname "$cli")/pulumi-language-nodejs"
  fi
  local standin=0
  if [ -f "$(plugin_dir command "$COMMAND_VERSION")/.ai-fleet-standin" ]; then standin=1; fi
  local pa=0
  if [ -n "$lh" ] && policy_analyzer_present "$lh"; then pa=1; fi
  CLI="$cli" CLIV="$cliv" LH="$lh" STANDIN="$standin" PA="$pa" \
  CMDV="$COMMAND_VERSION" DBV="$DOCKER_BUILD_VERSION" DV="$DOCKER_VERSION" \
  CMD_OK="$(plugin_present command "$COMMAND_VERSION" && echo 1 || echo 0)" \
  DB_OK="$(plugin_present docker-build "$DOCKER_BUILD_VERSION" && echo 1 || echo 0)" \
  D_OK="$(plugin_present docker "$DOCKER_VERSION" && echo 1 || echo 0)" \
  DOCKER_MISSING_REASON="$DOCKER_MISSING_REASON" COMMAND_MISSING_REASON="$COMMAND_MISSING_REASON" \
  COMMAND_STANDIN_NOTE="$COMMAND_STANDIN_NOTE" LHV="$LANGHOST_SDK_VERSION" \
  PREF="$CLI_VERSION_PREFERRED" \
  node -e '
    const e = process.env;
    const s = { pulumi: e.CLI || null, pulumiVersion: e.CLIV || null,
                languageHost: e.LH || null, languageHostVersion: e.LH ? e.LHV : null,
                binDir: e.CLI ? require("path").dirname(e.CLI) : null,
                plugins: {}, substitutes: {}, missing: {}, notes: [],
                policyAnalyzer: e.PA === "1" ? "pulumi-language-nodejs runs Node.js policy packs (RunPlugin kind analyzer: node @pulumi/pulumi/cmd/run-policy-pack in the pack directory), added by scripts/policy-analyzer.sh" : null };
    if (!e.CLI) s.missing.pulumi = "no pulumi CLI " + e.PREF + " built yet: run scripts/toolchain.sh";
    else if (!e.LH) s.missing.languageHost = "pulumi-language-nodejs not beside the CLI: run scripts/toolchain.sh";
    if (e.CLI && e.CLIV !== e.PREF) s.notes.push("CLI is " + e.CLIV + ", not " + e.PREF + ": `npx pulumi` needs PULUMI_VERSION=" + e.CLIV + " (pulumi-offline-env.sh sets it)");
    if (e.LH && e.PA !== "1") s.missing.policyAnalyzer = "the language host answers RunPlugin \"not supported\", so pulumi preview --policy-pack fails: run scripts/toolchain.sh (scripts/policy-analyzer.sh)";
    if (e.LH) s.notes.push("pulumi-language-nodejs is built from github.com/pulumi/pulumi/sdk/v3@v" + e.LHV + " (its newer module is not served by the proxy); it reports version " + e.LHV);
    if (e.CMD_OK === "1") { s.plugins.command = e.CMDV; if (e.STANDIN === "1") s.substitutes.command = e.COMMAND_STANDIN_NOTE; }
    else s.missing.command = e.COMMAND_MISSING_REASON;
    if (e.DB_OK === "1") s.plugins["docker-build"] = e.DBV; else s.missing["docker-build"] = "not built yet (or the build failed): run scripts/toolchain.sh";
    if (e.D_OK === "1") s.plugins.docker = e.DV; else s.missing.docker = e.DOCKER_MISSING_REASON;
    process.stdout.write(JSON.stringify(s) + "\n");
  '
}

if [ "$MODE" = "status" ]; then
  status_json
  exit 0
fi

selftest() {
  local t0 dir rc=0; t0="$(now)"
  if [ ! -d "$REPO_ROOT/node_modules/@pulumi/pulumi" ]; then
    log "selftest: $REPO_ROOT/node_modules/@pulumi/pulumi missing (npm ci first)"; return 1
  fi
  dir="$(mktemp -d "${TMPDIR:-/tmp}/ai-fleet-toolchain-selftest.XXXXXX")"
  # shellcheck disable=SC2064
  trap "rm -rf '$dir'" RETURN
  mkdir -p "$dir/state"
  ln -s "$REPO_ROOT/node_modules" "$dir/node_modules"
  printf 'name: toolchain-selftest\nruntime: nodejs\n' > "$dir/Pulumi.yaml"
  printf '{"name":"toolchain-selftest","main":"index.js"}\n' > "$dir/package.json"
  cat > "$dir/index.js" <<'JS_EOF'
const pulumi = require("@pulumi/pulumi");
const command = require("@pulumi/command");
const hi = new command.local.Command("hi", { create: "echo hi" });
exports.greeting = pulumi.output("hello");
exports.hi = hi.stdout;
JS_EOF
  (
    set -e
    cd "$dir" || exit 1
    export PULUMI_BACKEND_URL="file://$dir/state" PULUMI_CONFIG_PASSPHRASE="selftest"
    # shellcheck source=scripts/pulumi-offline-env.sh
    . "$SCRIPT_DIR/pulumi-offline-env.sh"
    # (set -e does not apply inside a subshell tested by ||, so every failure exits explicitly)
    run() { log "selftest: pulumi $*"; pulumi "$@" > "$dir/out.log" 2>&1 || { sed 's/^/[toolchain]   /' "$dir/out.log"; exit 1; }; }
    run stack init dev
    run up --yes
    [ "$(pulumi stack output hi)" = "hi" ] || { log "selftest: stack output hi != 'hi'"; exit 1; }
    run preview --expect-no-changes
    run destroy --yes
    run stack rm dev --yes
    pulumi plugin ls > "$dir/plugins.txt" 2>&1 || exit 1
    grep -q "^docker-build .*$DOCKER_BUILD_VERSION" "$dir/plugins.txt" \
      || { log "selftest: 'pulumi plugin ls' does not list docker-build $DOCKER_BUILD_VERSION"; exit 1; }
  ) || rc=1
  if [ "$rc" = 0 ]; then log "selftest: OK ($(elapsed "$t0"))"; else log "selftest: FAILED ($(elapsed "$t0"))"; fi
  return "$rc"
}

if [ "$MODE" = "selftest" ]; then
  selftest
  exit $?
fi

# ---------------------------------------------------------------------------
# ensure mode
# ---------------------------------------------------------------------------
T_ALL="$(now)"
mkdir -p "$CACHE_ROOT"
# One run at a time per cache (tests may call this concurrently).
exec 9>"$CACHE_ROOT/.lock"
if command -v flock >/dev/null 2>&1; then
  flock 9
fi

export PULUMI_SKIP_UPDATE_CHECK=true
export PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION=true
# Go: modules from the proxy only, no VCS fallback; 2 cores → 2 parallel compiles.
export GOFLAGS="${GOFLAGS:+$GOFLAGS }-trimpath -mod=mod"
export GOPROXY="${GOPROXY:-https://proxy.golang.org}"
export GOPROXY="${GOPROXY%,direct}"
export GOTOOLCHAIN="${GOTOOLCHAIN:-local}"

NOT_PROVIDED=()
# pkg/v3's own go.mod replaces github.com/atotto/clipboard with this fork (and sdk with ../sdk,
# which is irrelevant outside its repo); replaces only apply in the main module, so copy it.
PULUMI_GO_MOD_EXTRA='replace github.com/atotto/clipboard => github.com/tgummerer/clipboard v0.0.0-20241001131231-d02d263e614e'
have_go() { command -v go >/dev/null 2>&1; }

# go_build NAME VERSION PKG OUTNAME LDFLAGS GOVERSION "GO GET ARGS..."
# Builds PKG from a throwaway module in $CACHE_ROOT/NAME-VERSION/src that requires the
# module(s) in GO GET ARGS; output: $CACHE_ROOT/NAME-VERSION/bin/OUTNAME.
# GO_SRC_DIR=DIR (optional): DIR's *.go files become the throwaway module's main package (PKG ".").
# A recipe stamp makes a changed recipe rebuild; an unchanged one is a no-op.
# Returns non-zero on failure (log in $CACHE_ROOT/NAME-VERSION/build.log).
go_build() {
  local name="$1" version="$2" pkg="$3" outname="$4" ldflags="$5" gover="$6" gets="$7"
  local dir="$CACHE_ROOT/$name-$version"
  local out="$dir/bin/$outname"
  local recipe
  # "src=4294967295" is the checksum of an empty inline main.go, which go_build took until the
  # command stand-in moved to scripts/command-standin: kept so that the builds cached before stay valid.
  recipe="pkg=$pkg ldflags=$ldflags go=$gover gets=$gets extra=${GO_MOD_EXTRA:-} src=4294967295 goversion=$(go env GOVERSION 2>/dev/null || true)"
  if [ -n "${GO_SRC_DIR:-}" ]; then recipe="$recipe srcdir=$(cat "$GO_SRC_DIR"/*.go | cksum | cut -d' ' -f1)"; fi
  if [ "${AI_FLEET_REBUILD:-0}" != "1" ] && [ -x "$out" ] && [ "$(cat "$dir/recipe" 2>/dev/null || true)" = "$recipe" ]; then
    log "$name $version: cached build $out"
    return 0
  fi
  if ! have_go; then
    log "$name $version: cannot build: no 'go' on PATH"
    return 1
  fi
  local t0; t0="$(now)"
  rm -rf "$dir/src" && mkdir -p "$dir/src" "$dir/bin"
  printf 'module aifleet.local/toolchain/%s\n\ngo %s\n\n%s\n' "$name" "$gover" "${GO_MOD_EXTRA:-}" > "$dir/src/go.mod"
  if [ -n "${GO_SRC_DIR:-}" ]; then
    cp -f "$GO_SRC_DIR"/*.go "$dir/src/"
  fi
  log "$name $version: resolving modules (go get $gets) ..."
  # shellcheck disable=SC2086
  if ! (cd "$dir/src" && go get $gets) > "$dir/build.log" 2>&1; then
    log "$name $version: 'go get' failed after $(elapsed "$t0"), see $dir/build.log:"
    grep -v '^go: \(downloading\|added\|upgraded\|finding\)' "$dir/build.log" | tail -n 8 | sed 's/^/[toolchain]   /'
    return 1
  fi
  if [ -n "${GO_SRC_DIR:-}" ] && ! (cd "$dir/src" && go mod tidy) >> "$dir/build.log" 2>&1; then
    log "$name $version: 'go mod tidy' failed, see $dir/build.log"
    return 1
  fi
  log "$name $version: modules resolved in $(elapsed "$t0"); compiling $pkg (sequential, -p 2) ..."
  local t1; t1="$(now)"
  if ! (cd "$dir/src" && go build -p 2 -ldflags "-s -w $ldflags" -o "$out.tmp" "$pkg") >> "$dir/build.log" 2>&1; then
    log "$name $version: compile failed after $(elapsed "$t1"), see $dir/build.log:"
    tail -n 8 "$dir/build.log" | sed 's/^/[toolchain]   /'
    rm -f "$out.tmp"
    return 1
  fi
  mv -f "$out.tmp" "$out"
  printf '%s' "$recipe" > "$dir/recipe"
  log "$name $version: built $out in $(elapsed "$t0") (compile $(elapsed "$t1"), $(du -h "$out" | cut -f1))"
}

# go_build_module NAME VERSION MODULE_DIR OUTNAME LDFLAGS
# Builds the main package of one of this repository's Go modules (MODULE_DIR holds go.mod, go.sum
# and *.go) where it is, with -mod=readonly (its go.sum must be complete; modules come from the
# proxy); output: $CACHE_ROOT/NAME-VERSION/bin/OUTNAME. The recipe stamp covers the module's files,
# LDFLAGS and the Go version, so an unchanged module is a no-op.
# Returns non-zero on failure (log in $CACHE_ROOT/NAME-VERSION/build.log).
go_build_module() {
  local name="$1" version="$2" mod="$3" outname="$4" ldflags="$5"
  local dir="$CACHE_ROOT/$name-$version"
  local out="$dir/bin/$outname"
  local recipe
  recipe="module=${mod#"$REPO_ROOT"/} ldflags=$ldflags sum=$(cat "$mod/go.mod" "$mod/go.sum" "$mod"/*.go | cksum | cut -d' ' -f1) goversion=$(go env GOVERSION 2>/dev/null || true)"
  if [ "${AI_FLEET_REBUILD:-0}" != "1" ] && [ -x "$out" ] && [ "$(cat "$dir/recipe" 2>/dev/null || true)" = "$recipe" ]; then
    log "$name $version: cached build $out"
    return 0
  fi
  if ! have_go; then
    log "$name $version: cannot build: no 'go' on PATH"
    return 1
  fi
  local t0; t0="$(now)"
  # src/ is what go_build left there before this module was in the repository.
  rm -rf "$dir/src" && mkdir -p "$dir/bin"
  log "$name $version: compiling ${mod#"$REPO_ROOT"/} (-p 2) ..."
  if ! (cd "$mod" && go build -mod=readonly -buildvcs=false -p 2 -ldflags "-s -w $ldflags" -o "$out.tmp" .) > "$dir/build.log" 2>&1; then
    log "$name $version: compile failed after $(elapsed "$t0"), see $dir/build.log:"
    tail -n 8 "$dir/build.log" | sed 's/^/[toolchain]   /'
    rm -f "$out.tmp"
    return 1
  fi
  mv -f "$out.tmp" "$out"
  printf '%s' "$recipe" > "$dir/recipe"
  log "$name $version: built $out in $(elapsed "$t0") ($(du -h "$out" | cut -f1))"
}

# install_file SRC DEST: copy when missing or different (keeps reruns cheap and atomic).
install_file() {
  local src="$1" dest="$2"
  if [ -x "$dest" ] && cmp -s "$src" "$dest"; then return 0; fi
  mkdir -p "$(dirname "$dest")"
  # hard link when on the same filesystem (saves ~130 MB), else copy; atomic rename either way
  ln -f "$src" "$dest.tmp.$$" 2>/dev/null || cp -f "$src" "$dest.tmp.$$"
  chmod 0755 "$dest.tmp.$$" && mv -f "$dest.tmp.$$" "$dest"
}

# ---------------------------------------------------------------------------
# 1. Pulumi CLI
# ---------------------------------------------------------------------------
PULUMI_BIN=""
CLI_VERSION=""
ensure_cli() {
  local t0 v dest cand
  t0="$(now)"
  for v in "$CLI_VERSION_PREFERRED" "$CLI_VERSION_FALLBACK"; do
    dest="$(cli_bin_dir "$v")/pulumi"
    # a) already where npx pulumi looks
    if [ -x "$dest" ] && [ "$(cli_version_of "$dest")" = "$v" ]; then
      PULUMI_BIN="$dest"; CLI_VERSION="$v"
      log "pulumi CLI $v: present at $dest ($(elapsed "$t0"))"
      return 0
    fi
    # b) one on PATH with the right version
    cand="$(command -v pulumi 2>/dev/null || true)"
    if [ -n "$cand" ] && [ "$(cli_version_of "$cand")" = "$v" ]; then
      install_file "$cand" "$dest"
      PULUMI_BIN="$dest"; CLI_VERSION="$v"
      log "pulumi CLI $v: copied from PATH ($cand) to $dest ($(elapsed "$t0"))"
      return 0
    fi
    # c) build from github.com/pulumi/pulumi/pkg/v3 (its go.mod replaces sdk => ../sdk, so
    #    `go install ...@v` refuses; a throwaway module requiring it works; the clipboard
    #    replace is copied because pkg needs that fork's API).
    if GO_MOD_EXTRA="$PULUMI_GO_MOD_EXTRA" go_build pulumi "$v" github.com/pulumi/pulumi/pkg/v3/cmd/pulumi pulumi \
        "-X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=v$v" 1.25.11 \
        "github.com/pulumi/pulumi/pkg/v3/cmd/pulumi@v$v"; then
      install_file "$CACHE_ROOT/pulumi-$v/bin/pulumi" "$dest"
      if [ "$(cli_version_of "$dest")" = "$v" ]; then
        PULUMI_BIN="$dest"; CLI_VERSION="$v"
        log "pulumi CLI $v: installed at $dest ($(elapsed "$t0"))"
        return 0
      fi
      log "pulumi CLI $v: built binary does not report v$v"
    fi
    log "pulumi CLI $v: could not be provided, trying the next candidate"
  done
  return 1
}


# ---------------------------------------------------------------------------
# 2. Node.js language host, beside the CLI (npx pulumi and PATH both find it there)
# ---------------------------------------------------------------------------
LANGHOST_BIN=""
ensure_langhost() {
  local t0 dest name=pulumi-language-nodejs pkg=github.com/pulumi/pulumi/sdk/v3/nodejs/cmd/pulumi-language-nodejs src=""
  t0="$(now)"
  dest="$(dirname "$PULUMI_BIN")/pulumi-language-nodejs"
  # The same host, taught to run Node.js policy packs (scripts/policy-analyzer.sh says why).
  if have_go && src="$(policy_analyzer_src "$CACHE_ROOT/pulumi-language-nodejs-policy-$LANGHOST_SDK_VERSION/patched" "$LANGHOST_SDK_VERSION")"; then
    name=pulumi-language-nodejs-policy; pkg=.
  else
    src=""
    NOT_PROVIDED+=("policy analyzer: pulumi-language-nodejs without RunPlugin for policy packs (see scripts/policy-analyzer.sh); pulumi preview --policy-pack will fail")
  fi
  if GO_SRC_DIR="$src" go_build "$name" "$LANGHOST_SDK_VERSION" "$pkg" pulumi-language-nodejs \
      "-X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=v$LANGHOST_SDK_VERSION" 1.20 \
      "github.com/pulumi/pulumi/sdk/v3/nodejs/cmd/pulumi-language-nodejs@v$LANGHOST_SDK_VERSION"; then
    install_file "$CACHE_ROOT/$name-$LANGHOST_SDK_VERSION/bin/pulumi-language-nodejs" "$dest"
    LANGHOST_BIN="$dest"
    log "pulumi-language-nodejs: $dest (from sdk/v3@v$LANGHOST_SDK_VERSION$( [ -n "$src" ] && echo ", with RunPlugin for Node.js policy packs")) ($(elapsed "$t0"))"
    return 0
  fi
  return 1
}

# ---------------------------------------------------------------------------
# 3. Resource plugins
# ---------------------------------------------------------------------------
# register_plugin NAME VERSION BIN [MARKER_TEXT]
register_plugin() {
  local name="$1" version="$2" bin="$3" marker="${4:-}"
  local pdir; pdir="$(plugin_dir "$name" "$version")"
  if [ -x "$pdir/pulumi-resource-$name" ] && cmp -s "$bin" "$pdir/pulumi-resource-$name"; then
    log "plugin $name $version: already registered ($pdir)"
  else
    local reinstall=()
    [ -d "$pdir" ] && reinstall=(--reinstall)
    "$PULUMI_BIN" plugin install resource "$name" "$version" --file "$bin" "${reinstall[@]}" 2>&1 \
      | sed 's/^/[toolchain]   /'
    if ! cmp -s "$bin" "$pdir/pulumi-resource-$name"; then
      log "plugin $name $version: 'pulumi plugin install' did not put the binary in $pdir"
      return 1
    fi
    log "plugin $name $version: registered ($pdir)"
  fi
  if [ -n "$marker" ]; then printf '%s\n' "$marker" > "$pdir/.ai-fleet-standin"; else rm -f "$pdir/.ai-fleet-standin"; fi
}

ensure_docker_build() {
  local t0 v="$DOCKER_BUILD_VERSION"; t0="$(now)"
  # Module path is the repo root (github.com/pulumi/pulumi-docker-build, tags vX.Y.Z); the
  # version variable is github.com/pulumi/pulumi-docker-build/provider.Version (Makefile's
  # VERSION_PATH), which the provider reports through GetPluginInfo.
  if go_build docker-build "$v" \
      github.com/pulumi/pulumi-docker-build/provider/cmd/pulumi-resource-docker-build pulumi-resource-docker-build \
      "-X github.com/pulumi/pulumi-docker-build/provider.Version=$v" 1.26.0 \
      "github.com/pulumi/pulumi-docker-build/provider/cmd/pulumi-resource-docker-build@v$v $DOCKER_BUILD_EXTRA_GETS" \
     && register_plugin docker-build "$v" "$CACHE_ROOT/docker-build-$v/bin/pulumi-resource-docker-build"; then
    log "plugin docker-build $v: ok ($(elapsed "$t0"))"
    return 0
  fi
  NOT_PROVIDED+=("docker-build plugin $v (build failed, see $CACHE_ROOT/docker-build-$v/build.log)")
  return 1
}

ensure_command() {
  local t0 v="$COMMAND_VERSION"; t0="$(now)"
  # The real provider: module github.com/pulumi/pulumi-command/provider, cmd/pulumi-resource-command,
  # version variable github.com/pulumi/pulumi-command/provider/pkg/version.Version. Probe the proxy
  # for it (cheap); it has never been served here so far.
  local real_ok=0
  if have_go && go list -m -json "github.com/pulumi/pulumi-command/provider@v$v" >/dev/null 2>&1; then
    real_ok=1
  fi
  if [ "$real_ok" = 1 ] && go_build command "$v" \
      github.com/pulumi/pulumi-command/provider/cmd/pulumi-resource-command pulumi-resource-command \
      "-X github.com/pulumi/pulumi-command/provider/pkg/version.Version=$v" 1.24 \
      "github.com/pulumi/pulumi-command/provider/cmd/pulumi-resource-command@v$v" \
     && register_plugin command "$v" "$CACHE_ROOT/command-$v/bin/pulumi-resource-command"; then
    log "plugin command $v: ok, the real provider ($(elapsed "$t0"))"
    return 0
  fi
  if [ "${AI_FLEET_COMMAND_STANDIN:-1}" = "1" ]; then
    log "plugin command $v: the real provider cannot be built here: $COMMAND_MISSING_REASON"
    log "plugin command $v: building the local STAND-IN (local:Command + local:run only) instead"
    if go_build_module command-standin "$v" "$SCRIPT_DIR/command-standin" pulumi-resource-command "-X main.Version=$v" \
       && register_plugin command "$v" "$CACHE_ROOT/command-standin-$v/bin/pulumi-resource-command" "$COMMAND_STANDIN_NOTE"; then
      log "SUBSTITUTE: command plugin $v is the ai-fleet stand-in, not pulumi-command ($(elapsed "$t0"))"
      return 0
    fi
  fi
  # Do not leave a stale stand-in registered when it was switched off.
  if [ -f "$(plugin_dir command "$v")/.ai-fleet-standin" ] && [ "${AI_FLEET_COMMAND_STANDIN:-1}" != "1" ]; then
    rm -rf "$(plugin_dir command "$v")" "$(plugin_dir command "$v").lock"
  fi
  NOT_PROVIDED+=("command provider plugin $v ($COMMAND_MISSING_REASON)")
  return 1
}

ensure_docker() {
  if plugin_present docker "$DOCKER_VERSION"; then
    log "plugin docker $DOCKER_VERSION: present (installed by other means)"
    return 0
  fi
  NOT_PROVIDED+=("docker provider plugin $DOCKER_VERSION ($DOCKER_MISSING_REASON)")
  return 1
}

# ---------------------------------------------------------------------------
# run
# ---------------------------------------------------------------------------
log "cache: $CACHE_ROOT; PULUMI_HOME: $PULUMI_HOME_DIR; go: $(go env GOVERSION 2>/dev/null || echo none)"
T="$(now)"
if ! ensure_cli; then
  log "NOT PROVIDED: pulumi CLI ($CLI_VERSION_PREFERRED and $CLI_VERSION_FALLBACK both failed; see $CACHE_ROOT/pulumi-*/build.log)"
  log "nothing else can be set up without the CLI"
  exit 1
fi
log "step cli: $(elapsed "$T")"
if [ "$CLI_VERSION" != "$CLI_VERSION_PREFERRED" ]; then
  log "NOTE: CLI is $CLI_VERSION, not $CLI_VERSION_PREFERRED: npx pulumi needs PULUMI_VERSION=$CLI_VERSION (pulumi-offline-env.sh sets it)"
fi

T="$(now)"
if ! ensure_langhost; then
  NOT_PROVIDED+=("pulumi-language-nodejs (build failed, see $CACHE_ROOT/pulumi-language-nodejs-$LANGHOST_SDK_VERSION/build.log)")
fi
log "step language host: $(elapsed "$T")"

# Largest first; strictly one build at a time (2 cores).
T="$(now)"; ensure_docker_build || true; log "step docker-build: $(elapsed "$T")"
T="$(now)"; ensure_command || true; log "step command: $(elapsed "$T")"
T="$(now)"; ensure_docker || true

# Verify: npx pulumi (npm pulumi@$CLI_VERSION_PREFERRED) must find the CLI without downloading.
T="$(now)"
if [ -x "$REPO_ROOT/node_modules/pulumi/run.js" ] || [ -f "$REPO_ROOT/node_modules/pulumi/run.js" ]; then
  npx_env=(env PULUMI_SKIP_UPDATE_CHECK=true)
  [ "$CLI_VERSION" != "$CLI_VERSION_PREFERRED" ] && npx_env+=(PULUMI_VERSION="$CLI_VERSION")
  npx_out="$( (cd "$REPO_ROOT" && "${npx_env[@]}" timeout 60 npx --no-install pulumi version) 2>&1 || true)"
  if [ "$npx_out" = "v$CLI_VERSION" ]; then
    log "verified: 'npx pulumi version' in $REPO_ROOT prints v$CLI_VERSION without downloading ($(elapsed "$T"))"
  else
    log "WARNING: 'npx pulumi version' in $REPO_ROOT printed: $(echo "$npx_out" | head -n3 | tr '\n' ' ')"
  fi
else
  log "note: $REPO_ROOT/node_modules/pulumi not installed (npm ci first); skipped the npx check"
fi

for item in "${NOT_PROVIDED[@]}"; do
  log "NOT PROVIDED: $item"
done
log "pulumi: $PULUMI_BIN (v$CLI_VERSION); language host: ${LANGHOST_BIN:-MISSING}"
log "binDir: $(dirname "$PULUMI_BIN")  (source scripts/pulumi-offline-env.sh to use it)"
log "done in $(elapsed "$T_ALL"); status: scripts/toolchain.sh --status"
exit 0
