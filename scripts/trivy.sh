#!/usr/bin/env bash
# scripts/trivy.sh — give this machine the Trivy vulnerability scanner the image gate runs.
#
# No release binary can be downloaded here, so unless one is already at hand Trivy is built
# from the Go module proxy (github.com/aquasecurity/trivy/cmd/trivy), the way scripts/toolchain.sh
# builds the Pulumi toolchain, and cached in
#   ${AI_FLEET_CACHE:-~/.cache/ai-fleet}/trivy/trivy-<version>/bin/trivy
# A warm run only checks the cache and takes well under a second.
#
# Where the binary comes from, first match wins:
#   1. $AI_FLEET_TRIVY, if set: that file, which must report the pinned version
#   2. a `trivy` on PATH that reports the pinned version (a release binary, a distro package)
#   3. the cached build, built now if missing (minutes on a cold Go cache)
#
# Usage:
#   scripts/trivy.sh            ensure Trivy; progress on stderr, the binary's path on stdout
#   scripts/trivy.sh --status   print one JSON object, build nothing:
#     {"version":"0.74.0","trivy":"/path"|null,"source":"env"|"path"|"cache"|null,
#      "cacheDir":"/path","missing":"why"|null}
#   scripts/trivy.sh --test-db TRIVY_CACHE_DIR [SPEC.json]
#                               write a small vulnerability DB of made-up advisories into
#                               TRIVY_CACHE_DIR/db (for tests and the local demo stack, which
#                               cannot download the public DB); built with scripts/trivy-testdb
#                               (trivy-db's own Go package), cached like Trivy. The default SPEC,
#                               scripts/trivy-testdb/demo-advisories.json, plants CVE-2099-0001
#                               (CRITICAL) in tini and CVE-2099-0002 (HIGH) in glibc (libc6),
#                               both installed in the demo's base-python family.
#
# Environment knobs:
#   AI_FLEET_CACHE      cache root (default ~/.cache/ai-fleet)
#   AI_FLEET_TRIVY      use this binary instead (must be the pinned version)
#   AI_FLEET_REBUILD    1 = ignore the cached build and rebuild
#   AI_FLEET_GO_JOBS    parallel compiles for `go build -p` (default 2; the machine has 2 cores)
set -euo pipefail

TRIVY_VERSION="0.74.0"
TRIVY_MODULE="github.com/aquasecurity/trivy"
CACHE_ROOT="${AI_FLEET_CACHE:-$HOME/.cache/ai-fleet}/trivy"
BUILD_DIR="$CACHE_ROOT/trivy-$TRIVY_VERSION"
CACHED_BIN="$BUILD_DIR/bin/trivy"
# Modules to pin beside trivy when the proxy refuses the version trivy's go.mod asks for
# ("MODULE@VERSION ..."); empty while every requirement is served.
TRIVY_EXTRA_GETS=""

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
TESTDB_SRC="$SCRIPT_DIR/trivy-testdb"

MODE="ensure"
case "${1:-}" in
  --status) MODE="status" ;;
  --test-db)
    MODE="testdb"
    TESTDB_OUT="${2:-}"
    TESTDB_SPEC="${3:-$TESTDB_SRC/demo-advisories.json}"
    if [ -z "$TESTDB_OUT" ]; then echo "usage: $0 --test-db TRIVY_CACHE_DIR [SPEC.json]" >&2; exit 2; fi
    ;;
  "") ;;
  -h|--help) awk 'NR > 1 && /^set -euo/ { exit } NR > 1' "${BASH_SOURCE[0]}"; exit 0 ;;
  *) echo "usage: $0 [--status | --test-db TRIVY_CACHE_DIR [SPEC.json]]" >&2; exit 2 ;;
esac

log() { echo "[trivy] $*" >&2; }
# go_build: the compile with progress every 30 s, shared with kubernetes.sh.
# shellcheck source=scripts/go-build.sh
. "$SCRIPT_DIR/go-build.sh"
now() { date +%s; }
elapsed() { echo "$(( $(now) - $1 ))s"; }

# Prints the version a trivy binary reports ("Version: 0.74.0"), or nothing.
version_of() {
  "$1" --version 2>/dev/null | sed -n 's/^Version: *v\{0,1\}\([0-9][^ ]*\).*/\1/p' | head -n1 || true
}

# Sets FOUND and SOURCE to the binary to use, if one is at hand; builds nothing.
FOUND=""
SOURCE=""
MISSING=""
find_existing() {
  local cand v
  if [ -n "${AI_FLEET_TRIVY:-}" ]; then
    v="$(version_of "$AI_FLEET_TRIVY")"
    if [ "$v" = "$TRIVY_VERSION" ]; then FOUND="$AI_FLEET_TRIVY"; SOURCE="env"; return 0; fi
    MISSING="AI_FLEET_TRIVY=$AI_FLEET_TRIVY reports version '${v:-none}', not $TRIVY_VERSION"
    return 1
  fi
  cand="$(command -v trivy 2>/dev/null || true)"
  if [ -n "$cand" ] && [ "$(version_of "$cand")" = "$TRIVY_VERSION" ]; then
    FOUND="$cand"; SOURCE="path"; return 0
  fi
  # The cached build, if its recipe is unchanged (or there is no Go to rebuild it with anyway).
  if [ "${AI_FLEET_REBUILD:-0}" != "1" ] && [ -x "$CACHED_BIN" ] && [ -f "$BUILD_DIR/recipe" ] \
     && { ! command -v go >/dev/null 2>&1 || [ "$(cat "$BUILD_DIR/recipe")" = "$(recipe)" ]; }; then
    FOUND="$CACHED_BIN"; SOURCE="cache"; return 0
  fi
  MISSING="no trivy $TRIVY_VERSION built yet: run scripts/trivy.sh"
  return 1
}

recipe() {
  printf 'module=%s@v%s extra=%s goversion=%s cgo=0 goexperiment=jsonv2' \
    "$TRIVY_MODULE" "$TRIVY_VERSION" "$TRIVY_EXTRA_GETS" "$(go env GOVERSION 2>/dev/null || echo none)"
}

status_json() {
  find_existing || true
  V="$TRIVY_VERSION" T="$FOUND" S="$SOURCE" C="$CACHE_ROOT" M="$MISSING" node -e '
    const e = process.env;
    process.stdout.write(JSON.stringify({ version: e.V, trivy: e.T || null, source: e.S || null,
      cacheDir: e.C, missing: e.T ? null : (e.M || null) }) + "\n");
  '
}

if [ "$MODE" = "status" ]; then
  status_json
  exit 0
fi

# ---------------------------------------------------------------------------
# ensure
# ---------------------------------------------------------------------------
T0="$(now)"
mkdir -p "$CACHE_ROOT"

# Modules from the proxy only (no VCS fallback), the local Go.
go_env() {
  export GOFLAGS="${GOFLAGS:+$GOFLAGS }-trimpath -mod=mod"
  export GOPROXY="${GOPROXY:-https://proxy.golang.org}"
  export GOPROXY="${GOPROXY%,direct}"
  export GOTOOLCHAIN="${GOTOOLCHAIN:-local}"
}

if [ "$MODE" = "testdb" ]; then
  if ! command -v go >/dev/null 2>&1; then log "cannot build trivy-testdb: no 'go' on PATH"; exit 1; fi
  if [ ! -f "$TESTDB_SPEC" ]; then log "no spec file $TESTDB_SPEC"; exit 1; fi
  sum="$(cat "$TESTDB_SRC/go.mod" "$TESTDB_SRC/go.sum" "$TESTDB_SRC"/*.go | cksum | cut -d' ' -f1)-$(go env GOVERSION)"
  tool="$CACHE_ROOT/trivy-testdb-$sum/trivy-testdb"
  if [ ! -x "$tool" ]; then
    go_env
    log "building trivy-testdb (scripts/trivy-testdb, trivy-db's Go package) ..."
    mkdir -p "$(dirname "$tool")"
    if ! (cd "$TESTDB_SRC" && go build -p "${AI_FLEET_GO_JOBS:-2}" -o "$tool.tmp.$$" .) > "$(dirname "$tool")/build.log" 2>&1; then
      log "trivy-testdb build failed after $(elapsed "$T0"):"; tail -n 8 "$(dirname "$tool")/build.log" | sed 's/^/[trivy]   /' >&2
      rm -f "$tool.tmp.$$"; exit 1
    fi
    mv -f "$tool.tmp.$$" "$tool"
    log "built $tool in $(elapsed "$T0")"
  fi
  "$tool" -cache-dir "$TESTDB_OUT" -spec "$TESTDB_SPEC" >&2
  log "test DB from $TESTDB_SPEC in $TESTDB_OUT/db ($(elapsed "$T0"))"
  exit 0
fi

# One build at a time per cache (tests may call this concurrently).
exec 9>"$CACHE_ROOT/.lock"
if command -v flock >/dev/null 2>&1; then flock 9; fi

if find_existing; then
  log "trivy $TRIVY_VERSION: $FOUND ($SOURCE, $(elapsed "$T0"))"
  echo "$FOUND"
  exit 0
fi
if [ -n "${AI_FLEET_TRIVY:-}" ]; then
  log "$MISSING"
  exit 1
fi
if ! command -v go >/dev/null 2>&1; then
  log "cannot build trivy $TRIVY_VERSION: no 'go' on PATH (install Go >= 1.26, or put a trivy $TRIVY_VERSION release binary on PATH)"
  exit 1
fi

go_env
# As Trivy's own release build: static, and the encoding/json/v2 experiment its code imports.
export CGO_ENABLED=0
export GOEXPERIMENT=jsonv2
JOBS="${AI_FLEET_GO_JOBS:-2}"

log "trivy $TRIVY_VERSION: building from the Go module proxy with $(go env GOVERSION) into $BUILD_DIR (log: $BUILD_DIR/build.log); minutes on a cold Go cache"
rm -rf "$BUILD_DIR/src" && mkdir -p "$BUILD_DIR/src" "$BUILD_DIR/bin"
# A throwaway main module that requires trivy: lets us pin a dependency the proxy refuses.
printf 'module aifleet.local/trivy\n\ngo 1.26\n' > "$BUILD_DIR/src/go.mod"
log "resolving modules (go get $TRIVY_MODULE/cmd/trivy@v$TRIVY_VERSION${TRIVY_EXTRA_GETS:+ $TRIVY_EXTRA_GETS}) ..."
# shellcheck disable=SC2086
if ! (cd "$BUILD_DIR/src" && go get "$TRIVY_MODULE/cmd/trivy@v$TRIVY_VERSION" $TRIVY_EXTRA_GETS) > "$BUILD_DIR/build.log" 2>&1; then
  log "'go get' failed after $(elapsed "$T0"); last lines of $BUILD_DIR/build.log:"
  grep -v '^go: \(downloading\|added\|upgraded\|finding\)' "$BUILD_DIR/build.log" | tail -n 8 | sed 's/^/[trivy]   /' >&2
  exit 1
fi
T1="$(now)"
log "modules resolved in $(elapsed "$T0"); compiling $TRIVY_MODULE/cmd/trivy (go build -p $JOBS) ..."
if ! go_build trivy "$BUILD_DIR/build.log" "$BUILD_DIR/src" -p "$JOBS" \
    -ldflags "-s -w -X $TRIVY_MODULE/pkg/version/app.ver=$TRIVY_VERSION" \
    -o "$CACHED_BIN.tmp" "$TRIVY_MODULE/cmd/trivy"; then
  log "compile failed after $(elapsed "$T1"); last lines of $BUILD_DIR/build.log:"
  tail -n 8 "$BUILD_DIR/build.log" | sed 's/^/[trivy]   /' >&2
  rm -f "$CACHED_BIN.tmp"
  exit 1
fi
mv -f "$CACHED_BIN.tmp" "$CACHED_BIN"
got="$(version_of "$CACHED_BIN")"
if [ "$got" != "$TRIVY_VERSION" ]; then
  log "the built binary reports version '${got:-none}', not $TRIVY_VERSION"
  exit 1
fi
recipe > "$BUILD_DIR/recipe"
log "trivy $TRIVY_VERSION: built $CACHED_BIN in $(elapsed "$T0") (compile $(elapsed "$T1"), $(du -h "$CACHED_BIN" | cut -f1))"
echo "$CACHED_BIN"
