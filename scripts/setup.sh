#!/usr/bin/env bash
# scripts/setup.sh — the one-time set-up that `npm test` (its first step) and `npm start` need,
# as a step of its own: nothing here runs inside a test's timeout.
#
# Parts (each idempotent; a warm machine takes seconds):
#   packages    Debian's docker.io, docker-registry, apache2-utils, debootstrap, runc (one apt-get)
#   docker-engine the Docker engine (scripts/local/docker-engine.sh)
#   registry    the local registry standing in for GHCR (scripts/local/registry.sh)
#   base-image  a debootstrapped Debian base image, pushed there (scripts/local/base-image.sh)
#   buildkit    buildkitd, buildctl and the buildx plugin from the Go module proxy, then the daemon
#               and the buildx builder `ai-fleet` (scripts/local/buildkit.sh)
#   trivy       Trivy 0.74.0 and the demo vulnerability DB (scripts/trivy.sh)
#   pulumi      the Pulumi CLI, the Node.js language host and the plugins (scripts/toolchain.sh)
#   go-lint     the modules and compiled dependencies `npm run lint:go` vets against
#   kubernetes  Kubernetes 1.34.4's binaries from the Go module proxy, Debian's etcd, containerd, runc
#               and CNI plugins unpacked (not installed), the pause image (scripts/kubernetes.sh):
#               what the cluster tests start a private single-node cluster from (scripts/k8s/cluster.sh)
#   k8s-provider the Pulumi Kubernetes provider plugin 4.25.0 from the Go module proxy, registered
#               with the CLI (scripts/kubernetes.sh provider; needs the pulumi part)
#
# What runs at once: three lanes. Two compile lanes (buildkit, trivy, kubernetes; pulumi, go-lint,
# k8s-provider) share
# one Go build cache and module cache; each compile is `go build -p 2`, and the other lane fills the
# cores while one resolves modules or links (single-threaded). The third lane brings up the packages,
# engine, registry and base image (downloads and disk). The daemons start once all three are done. Every part prints its progress; the end is a table of each part's time and outcome,
# also written to ${AI_FLEET_CACHE:-~/.cache/ai-fleet}/setup-times.tsv.
#
# Usage: scripts/setup.sh            set up what is missing (exit 1 naming the part that failed)
#        scripts/setup.sh --check    build and start nothing: exit 0 when everything is there,
#                                    else 1, listing what is missing
# Measured times are in the README ("Set up and test").
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/.." && pwd)"
# shellcheck source=local/lib.sh
. "$HERE/local/lib.sh"

CACHE="${AI_FLEET_CACHE:-$HOME/.cache/ai-fleet}"
TIMES="$CACHE/setup-times.tsv"
WORK="$(mktemp -d "${TMPDIR:-/tmp}/ai-fleet-setup.XXXXXX")"
trap 'rm -rf "$WORK"' EXIT

say() { printf '[setup] %s\n' "$*" >&2; }
now() { date +%s; }

# toolchain_lacks: prints what the Pulumi toolchain lacks for the engine tests (nothing: exit 0).
toolchain_lacks() {
  bash "$ROOT/scripts/toolchain.sh" --status | node -e '
    const s = JSON.parse(require("fs").readFileSync(0, "utf8"));
    const lacks = [!s.pulumi && "the CLI", !s.languageHost && "the language host", !s.policyAnalyzer && "the policy analyzer",
      ...["docker-build", "command"].filter((p) => !s.plugins[p]).map((p) => "the " + p + " plugin")].filter(Boolean);
    if (lacks.length) { console.log(lacks.join(", ") + ": " + JSON.stringify(s.missing)); process.exit(1); }'
}

# ---- --check: is everything there? (fast; builds and starts nothing) -------------------------
check() {
  local missing=()
  docker_ok || missing+=("engine: the Docker engine does not answer")
  timeout 5 bash -c "exec 3<>/dev/tcp/${AI_FLEET_REGISTRY_HOST}/${AI_FLEET_REGISTRY_PORT}" 2>/dev/null ||
    missing+=("registry: nothing listens on $AI_FLEET_REGISTRY")
  [ -s "$AI_FLEET_STATE/base-image.ref" ] || missing+=("base-image: no $AI_FLEET_STATE/base-image.ref")
  [ -S "$AI_FLEET_STATE/buildkit/buildkitd.sock" ] || missing+=("buildkit: no buildkitd socket in $AI_FLEET_STATE/buildkit")
  bash "$ROOT/scripts/trivy.sh" --status | grep -q '"missing":null' || missing+=("trivy: not built")
  [ -s "$AI_FLEET_STATE/trivy-demo/db/trivy.db" ] || missing+=("trivy: no demo DB in $AI_FLEET_STATE/trivy-demo")
  local lacks
  lacks="$(toolchain_lacks)" || missing+=("pulumi: the toolchain lacks $lacks")
  local k8s
  k8s="$(bash "$ROOT/scripts/kubernetes.sh" --status | node -e 'const s=JSON.parse(require("fs").readFileSync(0,"utf8")); console.log(Object.values(s.missing).join("; "))')"
  [ -z "$k8s" ] || missing+=("kubernetes: $k8s")
  if [ "${#missing[@]}" -gt 0 ]; then
    say "not set up yet (run: npm run setup):"
    printf '[setup]   - %s\n' "${missing[@]}" >&2
    return 1
  fi
  say "everything is set up"
}
case "${1:-}" in
  "") ;;
  --check) check; exit $? ;;
  -h|--help) awk 'NR > 1 && /^set -euo/ { exit } NR > 1' "${BASH_SOURCE[0]}"; exit 0 ;;
  *) die "unknown argument '$1' (usage: $0 [--check])" ;;
esac

# ---- parts ------------------------------------------------------------------------------------
part_packages() {
  local pkgs=() cmd
  declare -A from=([dockerd]=docker.io [docker-registry]=docker-registry [htpasswd]=apache2-utils
    [debootstrap]=debootstrap [runc]=runc)
  for cmd in dockerd docker-registry htpasswd debootstrap runc; do
    command -v "$cmd" >/dev/null 2>&1 || pkgs+=("${from[$cmd]}")
  done
  if [ "${#pkgs[@]}" -eq 0 ]; then echo "present" >"$WORK/outcome.packages"; return 0; fi
  require_root
  apt_install "${pkgs[@]}"
  echo "installed ${pkgs[*]}" >"$WORK/outcome.packages"
}
part_docker-engine() { bash "$HERE/local/docker-engine.sh"; }
part_registry() { bash "$HERE/local/registry.sh"; }
part_base-image() { bash "$HERE/local/base-image.sh"; }
part_buildkit-build() { bash "$HERE/local/buildkit.sh" --build-only; }
part_trivy() {
  bash "$ROOT/scripts/trivy.sh" >/dev/null
  # The testdb tool too: the demo DB below and the scan tests' own DBs are written with it.
  if [ ! -s "$AI_FLEET_STATE/trivy-demo/db/trivy.db" ]; then
    bash "$ROOT/scripts/trivy.sh" --test-db "$AI_FLEET_STATE/trivy-demo"
  fi
}
part_pulumi() {
  bash "$ROOT/scripts/toolchain.sh" 2>&1
  # A toolchain without the plugins the engine tests need is a failed set-up, not a skipped test.
  local lacks
  lacks="$(toolchain_lacks)" || { say "the toolchain lacks $lacks"; return 1; }
}
part_go-lint() {
  # The modules and the dependencies' export data that `go vet` needs, so lint:go only vets.
  local mod
  export GOPROXY="${GOPROXY:-https://proxy.golang.org}"; export GOPROXY="${GOPROXY%,direct}"
  export GOTOOLCHAIN="${GOTOOLCHAIN:-local}" GOFLAGS="-mod=readonly -trimpath"
  while read -r mod; do
    (cd "$ROOT/$mod" && go list -deps -export ./... >/dev/null) || return 1
    log "go-lint: $mod ready"
  done < <(cd "$ROOT" && git ls-files -- 'go.mod' '*/go.mod' | xargs -r -n1 dirname)
}
part_kubernetes() { bash "$ROOT/scripts/kubernetes.sh" debs pause binaries 2>&1; }
part_k8s-provider() { bash "$ROOT/scripts/kubernetes.sh" provider 2>&1; }
part_buildkit() { bash "$HERE/local/buildkit.sh"; }

# run_part NAME: runs part_NAME, timing it; a failure is recorded and returned.
run_part() {
  local name=$1 t0 rc=0
  t0=$(now)
  say "== $name: started"
  # 8>&-: the daemons a part starts must not inherit the set-up's lock (it would outlive the set-up).
  "part_$name" 8>&- || rc=$?
  local secs=$(( $(now) - t0 ))
  local how
  how="$(cat "$WORK/outcome.$name" 2>/dev/null || true)"
  [ -n "$how" ] || how="$(cut -f1 "$AI_FLEET_OUTCOME_DIR/$name" 2>/dev/null || true)"
  if [ "$rc" -eq 0 ]; then
    printf '%s\t%s\t%s\n' "$name" "$secs" "${how:-ok}" >>"$WORK/times"
    say "== $name: done in ${secs}s"
  else
    printf '%s\t%s\t%s\n' "$name" "$secs" "FAILED (exit $rc)" >>"$WORK/times"
    say "== $name: FAILED after ${secs}s (exit $rc)"
  fi
  return "$rc"
}
# lane NAME PART...: runs the parts in order, stopping at the first failure.
lane() {
  local lane_name=$1 p
  shift
  for p in "$@"; do
    run_part "$p" || { echo "$p" >"$WORK/failed.$lane_name"; return 1; }
  done
}

# One set-up at a time on a machine: two at once (say, two test processes) would start two daemons.
exec 8>"$AI_FLEET_STATE/setup.lock"
if ! flock -n 8; then
  say "another set-up is running on this machine; waiting for it (lock $AI_FLEET_STATE/setup.lock)"
  flock 8
fi
T0=$(now)
rm -rf "$AI_FLEET_OUTCOME_DIR"
say "one-time set-up (cache $CACHE, state $AI_FLEET_STATE); a cold machine takes 15 to 35 minutes on 2 cores"
lane system packages docker-engine registry base-image &
pids=($!)
lane compile-a buildkit-build trivy kubernetes &
pids+=($!)
lane compile-b pulumi go-lint k8s-provider &
pids+=($!)
for pid in "${pids[@]}"; do wait "$pid" || true; done
if ! ls "$WORK"/failed.* >/dev/null 2>&1; then
  lane daemons buildkit || true
fi

mkdir -p "$CACHE"
{
  printf '# scripts/setup.sh %s: part, seconds, outcome\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)"
  cat "$WORK/times"
  printf 'total\t%s\t\n' "$(( $(now) - T0 ))"
} >"$TIMES"
say "== summary (wall clock; the lanes overlap)"
grep -v '^#' "$TIMES" | while IFS=$'\t' read -r name secs how; do
  printf '[setup]   %-14s %6ss  %s\n' "$name" "$secs" "$how" >&2
done
if ls "$WORK"/failed.* >/dev/null 2>&1; then
  say "FAILED: $(cat "$WORK"/failed.* | tr '\n' ' ')(its output is above; parts after it in its lane did not run)"
  exit 1
fi
say "ready; times in $TIMES"
