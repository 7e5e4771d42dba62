#!/usr/bin/env bash
# scripts/cold-run.sh — prove a cold CI run on a warm machine (`npm run ci:cold`).
#
# Runs `.ci/run` (what CI runs: `npm ci` and `npm test`) in a fresh clone of this repository's HEAD,
# with every cache the project uses pointed at empty directories under one work dir:
#   the project's cache      AI_FLEET_CACHE        (Trivy, BuildKit and toolchain builds)
#   the local stack's state  /var/tmp/ai-fleet     (registry storage, base image, BuildKit state,
#                                                   the demo DB; moved aside and put back after,
#                                                   because Pulumi.local.yaml names that path)
#   Pulumi                   PULUMI_HOME           (CLI, language host, plugins)
#   Go                       GOMODCACHE, GOCACHE   (modules, build cache)
#   npm                      npm_config_cache
#   Docker                   a new dockerd with --data-root/--exec-root in the work dir, DOCKER_CONFIG
#                                                   (buildx plugin and builders)
# and, unless --keep-packages, the Debian packages the set-up installs removed first (`apt-get remove`,
# which keeps the warm engine's data in /var/lib/docker, then `apt-get clean`). The daemons the warm set-up started are
# stopped first (scripts/local/down.sh) and the cold ones after; the next `npm test` starts the
# warm ones again. At the end it prints the total time, each set-up part's time, and the suites'
# counts, and exits with .ci/run's exit code.
#
# Usage: bash scripts/cold-run.sh [--keep-packages] [--keep-caches] [--ref REF]
#   --keep-caches  leave the cold caches in the work dir (some GB) instead of deleting them
#   --ref REF      the commit to clone (default HEAD; uncommitted changes are never part of it)
# The work dir is /var/tmp/ai-fleet-cold/<timestamp> (AI_FLEET_COLD_ROOT overrides the parent); its
# ci.log and summary.txt are kept.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/.." && pwd)"
say() { printf '[cold-run] %s\n' "$*" >&2; }
die() { say "ERROR: $*"; exit 3; }

keep_packages=0 keep_caches=0 ref=HEAD
while [ $# -gt 0 ]; do
  case "$1" in
    --keep-packages) keep_packages=1 ;;
    --keep-caches) keep_caches=1 ;;
    --ref) ref="${2:?--ref needs a commit}"; shift ;;
    -h|--help) awk 'NR > 1 && /^set -euo/ { exit } NR > 1' "${BASH_SOURCE[0]}"; exit 0 ;;
    *) die "unknown argument '$1' (usage: $0 [--keep-packages] [--keep-caches] [--ref REF])" ;;
  esac
  shift
done
[ "$(id -u)" -eq 0 ] || die "must run as root (it stops and starts daemons, as CI's set-up does)"
STATE=/var/tmp/ai-fleet
[ "${AI_FLEET_STATE:-$STATE}" = "$STATE" ] || die "AI_FLEET_STATE is set to $AI_FLEET_STATE; the cold run uses the default $STATE"
PARENT="${AI_FLEET_COLD_ROOT:-/var/tmp/ai-fleet-cold}"
for left in "$PARENT"/*/warm-state; do
  [ -e "$left" ] || continue
  die "an earlier cold run was cut off and left the warm state in $left: put it back first (bash scripts/local/down.sh; rm -rf $STATE; mv $left $STATE)"
done
commit="$(git -C "$ROOT" rev-parse --verify "$ref^{commit}")" || die "no commit $ref"
avail_gb=$(df -Pk "$(dirname "$PARENT")" | awk 'NR==2 { print int($4 / 1048576) }')
[ "$avail_gb" -ge 25 ] || die "only ${avail_gb} GB free under $(dirname "$PARENT"); a cold run needs about 25 GB"

WORK="$PARENT/$(date -u +%Y%m%dT%H%M%SZ)"
mkdir -p "$WORK"/{cache,pulumi-home,gomod,gocache,npm-cache,docker-config,docker-data,docker-exec}
LOG="$WORK/ci.log"
say "work dir $WORK; commit ${commit:0:12}"

# 1. Stop the warm daemons, put the warm state aside.
say "stopping what the warm set-up started (scripts/local/down.sh)"
bash "$ROOT/scripts/local/down.sh" || die "scripts/local/down.sh failed; nothing was moved"
# Daemons of the local stack whose pid file was lost (say, two set-ups raced before setup.sh took a
# lock) still hold the state dir: a cold buildkitd would refuse to start beside one.
for name in buildkitd docker-registry; do
  for pid in $(pgrep -x "$name" || true); do
    if tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF -- "$STATE/"; then
      say "stopping $name pid $pid (it uses $STATE but no pid file names it)"
      kill -TERM "$pid" 2>/dev/null || true
      for _ in $(seq 1 40); do kill -0 "$pid" 2>/dev/null || break; sleep 0.25; done
      kill -KILL "$pid" 2>/dev/null || true
    fi
  done
done
if timeout 10 docker info >/dev/null 2>&1; then
  die "a Docker engine not started by the project's scripts still answers; stop it first (the cold run needs its own)"
fi
restore() {
  local rc=$?
  set +e
  say "stopping the cold run's daemons"
  (cd "$WORK/repo" 2>/dev/null && env "${COLD_ENV[@]}" bash scripts/local/down.sh) >>"$LOG" 2>&1
  if [ -e "$WORK/warm-state" ] || [ "$had_state" = 0 ]; then
    rm -rf "$STATE"
    [ "$had_state" = 0 ] || mv "$WORK/warm-state" "$STATE"
    say "the warm state is back in $STATE"
  fi
  if [ "$keep_caches" = 0 ]; then
    rm -rf "$WORK"/{cache,pulumi-home,gomod,gocache,npm-cache,docker-config,docker-data,docker-exec,repo}
    say "cold caches deleted (--keep-caches keeps them); kept: $LOG, $WORK/summary.txt"
  fi
  exit "$rc"
}
had_state=0
COLD_ENV=()
trap restore EXIT
if [ -e "$STATE" ]; then
  had_state=1
  mv "$STATE" "$WORK/warm-state"
fi

# 2. The packages a fresh machine does not have.
if [ "$keep_packages" = 0 ]; then
  pkgs=$(dpkg-query -W -f='${Package} ${Status}\n' docker.io docker-registry containerd runc apache2-utils debootstrap 2>/dev/null |
    awk '$NF == "installed" { print $1 }' | tr '\n' ' ')
  if [ -n "$pkgs" ]; then
    say "apt-get remove $pkgs(the set-up installs them again; --keep-packages skips this)"
    DEBIAN_FRONTEND=noninteractive apt-get remove -y -q $pkgs >"$WORK/apt-remove.log" 2>&1 ||
      die "apt-get remove failed (see $WORK/apt-remove.log)"
  fi
  apt-get clean # no downloaded .debs to reinstall from: the set-up downloads them as a fresh machine does
fi

# 3. A fresh clone, and the run with empty caches.
git clone -q --no-hardlinks "$ROOT" "$WORK/repo"
git -C "$WORK/repo" checkout -q "$commit"
COLD_ENV=(
  CI=true
  AI_FLEET_CACHE="$WORK/cache"
  PULUMI_HOME="$WORK/pulumi-home"
  GOMODCACHE="$WORK/gomod"
  GOCACHE="$WORK/gocache"
  npm_config_cache="$WORK/npm-cache"
  DOCKER_CONFIG="$WORK/docker-config"
  AI_FLEET_DOCKERD_ARGS="--data-root $WORK/docker-data --exec-root $WORK/docker-exec"
)
say "running .ci/run with empty caches (log $LOG); a cold run takes about 45 minutes"
for kv in "${COLD_ENV[@]}"; do say "  $kv"; done
t0=$(date +%s)
set +e
(cd "$WORK/repo" && env "${COLD_ENV[@]}" bash .ci/run </dev/null) 2>&1 | tee "$LOG"
rc=${PIPESTATUS[0]}
set -e
secs=$(( $(date +%s) - t0 ))

# 4. The figures.
{
  printf 'cold run of .ci/run at %s (%s), %s\n' "${commit:0:12}" "$(git -C "$ROOT" log -1 --format=%s "$commit")" "$(date -u +%Y-%m-%dT%H:%MZ)"
  printf 'exit code %s, total %dm%02ds\n' "$rc" $(( secs / 60 )) $(( secs % 60 ))
  printf 'set-up parts (the first scripts/setup.sh of the run, wall clock; the lanes overlap):\n'
  # The first summary in the log: later set-ups (a test process confirming it) find everything there.
  awk '/^\[setup\] == summary/ { on = 1; next } on && /^\[setup\]   / { sub(/^\[setup\] /, ""); print; next } on { exit }' "$LOG" |
    grep . || echo "  (no set-up summary in the log: the set-up did not finish)"
  printf 'suites (mocha summary lines, unit then integration):\n'
  # mocha may colour its summary: compare the text without the escape codes.
  sed 's/\x1b\[[0-9;]*m//g' "$LOG" | grep -E '^\s*[0-9]+ (passing|failing|pending)' | sed 's/^ */  /' || echo "  (none)"
  grep -E '^Ran [0-9]+ tests? in|^OK$|^FAILED \(' "$LOG" | sed 's/^/  python: /' || true
} | tee "$WORK/summary.txt" >&2
exit "$rc"
