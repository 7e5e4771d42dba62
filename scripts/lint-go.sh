#!/usr/bin/env bash
# scripts/lint-go.sh — gofmt and go vet over the repository's Go code (npm run lint:go; npm test runs it).
#
#   * gofmt -l on every tracked *.go file: must list nothing (`gofmt -w FILE` fixes one);
#   * go vet ./... in every Go module (each tracked go.mod: scripts/command-standin, scripts/trivy-testdb),
#     with -mod=readonly: a go.mod or go.sum that is not complete fails instead of being rewritten;
#   * scripts/policy-analyzer/runplugin_policy.go is no module: it is compiled into the Node.js language
#     host's package (scripts/policy-analyzer.sh). It is vetted there, in a copy of the patched package
#     that scripts/toolchain.sh keeps in its cache, with this checkout's file; without that cache (the
#     toolchain not built yet) the vet of this one file is skipped and says so.
# Modules come from the Go module proxy only (GOPROXY without ",direct", as toolchain.sh sets it); a
# warm module cache needs no download. -trimpath as toolchain.sh builds: the dependencies compiled
# for vet are the ones its builds reuse, and the other way round.
# Measured on 2 shared cores: warm 3 to 5 s; cold (empty module and build caches) about 6 min,
# downloading about 1 GB of modules from the proxy (the Pulumi SDKs behind the stand-in and the
# language host: the same modules toolchain.sh fetches for its builds).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CACHE_ROOT="${AI_FLEET_CACHE:-$HOME/.cache/ai-fleet}/toolchain"
log() { echo "[lint:go] $*"; }
now() { date +%s; }

if ! command -v go >/dev/null 2>&1; then
  log "FAILED: no 'go' on PATH (the Go toolchain builds the Pulumi CLI here too)"
  exit 1
fi
export GOPROXY="${GOPROXY:-https://proxy.golang.org}"
export GOPROXY="${GOPROXY%,direct}"
export GOTOOLCHAIN="${GOTOOLCHAIN:-local}"
export GOFLAGS="-mod=readonly -trimpath"

cd "$ROOT"
T0="$(now)"
rc=0
mapfile -t files < <(git ls-files -- '*.go')
mapfile -t mods < <(git ls-files -- 'go.mod' '*/go.mod' | xargs -r -n1 dirname)
if [ "${#files[@]}" -eq 0 ] || [ "${#mods[@]}" -eq 0 ]; then
  log "FAILED: git ls-files found no Go files or modules in $ROOT (not a git checkout?)"
  exit 1
fi

unformatted="$(gofmt -l "${files[@]}")"
if [ -n "$unformatted" ]; then
  log "gofmt: not formatted (gofmt -w FILE fixes it):"
  printf '%s\n' "$unformatted" | sed 's/^/[lint:go]   /'
  rc=1
else
  log "gofmt: ${#files[@]} file(s) formatted"
fi

for mod in "${mods[@]}"; do
  t="$(now)"
  if (cd "$mod" && go vet ./...); then
    log "go vet $mod: ok ($(($(now) - t))s)"
  else
    log "go vet $mod: FAILED"
    rc=1
  fi
done

# The policy analyzer's file, in the language host's package (see the top of this file).
patched="$(ls -d "$CACHE_ROOT"/pulumi-language-nodejs-policy-*/src 2>/dev/null | sort | tail -n1 || true)"
if [ -n "$patched" ] && [ -f "$patched/go.mod" ]; then
  t="$(now)"
  work="$(mktemp -d "${TMPDIR:-/tmp}/ai-fleet-lint-go.XXXXXX")"
  trap 'rm -rf "$work"' EXIT
  cp -r "$patched/." "$work/"
  cp -f scripts/policy-analyzer/runplugin_policy.go "$work/runplugin_policy.go"
  if (cd "$work" && go vet .); then
    log "go vet scripts/policy-analyzer (in the language host's package from ${patched#"$CACHE_ROOT"/}): ok ($(($(now) - t))s)"
  else
    log "go vet scripts/policy-analyzer: FAILED"
    rc=1
  fi
else
  log "go vet scripts/policy-analyzer: SKIPPED, no patched language host in $CACHE_ROOT yet (bash scripts/toolchain.sh makes it)"
fi

log "done in $(($(now) - T0))s"
exit "$rc"
