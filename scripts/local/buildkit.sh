#!/usr/bin/env bash
# A real BuildKit builder for this machine. The daemon's BuildKit (dockerd 20.10) has no "image"
# exporter and no cache export, so buildx's "docker" driver on it can neither `--push` nor
# `--cache-to type=registry`. This script:
#   1. builds buildkitd + buildctl (github.com/moby/buildkit) and the buildx CLI plugin
#      (github.com/docker/buildx) from the Go module proxy, sequentially, each from its own module
#      (so its go.mod replace/exclude directives apply), cached under
#      ${AI_FLEET_CACHE:-~/.cache/ai-fleet}/buildkit/<name>-<version>/; installs the plugin as
#      ${DOCKER_CONFIG:-~/.docker}/cli-plugins/docker-buildx;
#   2. runs buildkitd in the background as root (OCI worker, runc, host networking for RUN steps,
#      no containerd worker), state under $AI_FLEET_STATE/buildkit, socket
#      unix://$AI_FLEET_STATE/buildkit/buildkitd.sock, the local registry marked http + insecure;
#      reuses one that answers (pid file) and never starts a second one;
#   3. registers the buildx builder "ai-fleet" (driver "remote") on that socket and bootstraps it.
# It does not make "ai-fleet" the current builder: plain `docker build` keeps using dockerd.
# Idempotent; a warm run takes seconds. `--build-only` does step 1 alone (no daemon, no Docker
# engine needed): scripts/setup.sh compiles while the engine and the base image come up.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=lib.sh
. "$HERE/lib.sh"

BUILDKIT_VERSION="${AI_FLEET_BUILDKIT_VERSION:-v0.34.2}"
BUILDX_VERSION="${AI_FLEET_BUILDX_VERSION:-v0.38.2}"
BUILDER_NAME="${AI_FLEET_BUILDER:-ai-fleet}"
CACHE_DIR="${AI_FLEET_CACHE:-$HOME/.cache/ai-fleet}/buildkit"
BK_BIN_DIR="${CACHE_DIR}/buildkit-${BUILDKIT_VERSION}"
BX_BIN_DIR="${CACHE_DIR}/buildx-${BUILDX_VERSION}"
PLUGIN_DIR="${DOCKER_CONFIG:-$HOME/.docker}/cli-plugins"
BK_DIR="${AI_FLEET_STATE}/buildkit"
BK_ROOT="${BK_DIR}/root"
BK_CONFIG="${BK_DIR}/buildkitd.toml"
BK_SOCK="${BK_DIR}/buildkitd.sock"
BK_ADDR="unix://${BK_SOCK}"
BK_PIDFILE="${BK_DIR}/buildkitd.pid"
BK_LOG="${BK_DIR}/buildkitd.log"
BK_WAIT_S="${AI_FLEET_BUILDKITD_WAIT_S:-60}"
BK_NET="${AI_FLEET_BUILDKIT_NET:-host}"
BUILDKITD="${BK_BIN_DIR}/buildkitd"
BUILDCTL="${BK_BIN_DIR}/buildctl"
export GOWORK=off
BUILD_ONLY=0
case "${1:-}" in
  "") ;;
  --build-only) BUILD_ONLY=1 ;;
  *) die "unknown argument '$1' (usage: $0 [--build-only])" ;;
esac

t_start=$(date +%s)
built=()

# go_build MODULE VERSION PKG OUT LDFLAGS [TAGS]: build PKG of MODULE@VERSION inside the module's
# own source tree (from the module proxy), so its go.mod is the main module's and its replace and
# exclude directives apply (`go install MODULE/PKG@VERSION` refuses those). Writes OUT atomically.
go_build() {
  local module=$1 version=$2 pkg=$3 out=$4 ldflags=$5 tags=${6:-} json dir t0 blog
  command -v go >/dev/null 2>&1 || die "go is not on PATH: needed to build $(basename "$out") $version from the Go module proxy (or set AI_FLEET_SKIP_BUILDKIT=1 for up.sh)"
  mkdir -p "$(dirname "$out")"
  blog="$(dirname "$out")/build-$(basename "$out").log"
  log "building $(basename "$out") ($module/$pkg $version) with $(go env GOVERSION), log $blog; takes minutes on a cold Go cache"
  t0=$(date +%s)
  json=$(cd "${TMPDIR:-/tmp}" && go mod download -json "$module@$version" 2>&1) ||
    { printf '%s\n' "$json" >&2; die "go mod download $module@$version failed (is GOPROXY=$(go env GOPROXY) reachable? does the version exist?)"; }
  dir=$(printf '%s\n' "$json" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",\{0,1\}$/\1/p')
  if [ -z "$dir" ] || [ ! -f "$dir/go.mod" ]; then
    printf '%s\n' "$json" >&2
    die "go mod download $module@$version gave no source directory"
  fi
  if ! CGO_ENABLED=0 go build -C "$dir" -trimpath ${tags:+-tags "$tags"} -ldflags "$ldflags" \
      -o "$out.tmp" "./$pkg" >"$blog" 2>&1; then
    rm -f "$out.tmp"
    grep -v '^go: downloading' "$blog" | tail -n 25 >&2
    die "go build of $module/$pkg $version failed (full log $blog; try another version via AI_FLEET_BUILDKIT_VERSION / AI_FLEET_BUILDX_VERSION)"
  fi
  mv -f "$out.tmp" "$out"
  log "built $(basename "$out") $version in $(( $(date +%s) - t0 ))s -> $out"
  built+=("$(basename "$out") $(( $(date +%s) - t0 ))s")
}

# have_bin BIN VERSION [ARG]: BIN exists, runs, and `BIN ARG` (default --version) mentions VERSION.
have_bin() {
  [ "${AI_FLEET_REBUILD:-0}" != 1 ] || return 1
  [ -x "$1" ] || return 1
  "$1" "${3:---version}" 2>/dev/null | grep -qF -- " $2"
}

# ---- 1. binaries -----------------------------------------------------------------------------
bk_ld="-s -w -X github.com/moby/buildkit/version.Version=${BUILDKIT_VERSION} -X github.com/moby/buildkit/version.Package=github.com/moby/buildkit"
bx_ld="-s -w -X github.com/docker/buildx/version.Version=${BUILDX_VERSION} -X github.com/docker/buildx/version.Package=github.com/docker/buildx"
# osusergo netgo: the static, cgo-free build upstream ships (its seccomp tag needs no cgo any more).
have_bin "$BUILDKITD" "$BUILDKIT_VERSION" ||
  go_build github.com/moby/buildkit "$BUILDKIT_VERSION" cmd/buildkitd "$BUILDKITD" "$bk_ld" "osusergo netgo"
have_bin "$BUILDCTL" "$BUILDKIT_VERSION" ||
  go_build github.com/moby/buildkit "$BUILDKIT_VERSION" cmd/buildctl "$BUILDCTL" "$bk_ld"
have_bin "$BX_BIN_DIR/docker-buildx" "$BUILDX_VERSION" version ||
  go_build github.com/docker/buildx "$BUILDX_VERSION" cmd/buildx "$BX_BIN_DIR/docker-buildx" "$bx_ld"
[ ${#built[@]} -gt 0 ] || log "binaries cached: $BK_BIN_DIR/{buildkitd,buildctl} $BUILDKIT_VERSION, $BX_BIN_DIR/docker-buildx $BUILDX_VERSION"

mkdir -p "$PLUGIN_DIR"
if ! cmp -s "$BX_BIN_DIR/docker-buildx" "$PLUGIN_DIR/docker-buildx"; then
  install -m 0755 "$BX_BIN_DIR/docker-buildx" "$PLUGIN_DIR/docker-buildx.tmp"
  mv -f "$PLUGIN_DIR/docker-buildx.tmp" "$PLUGIN_DIR/docker-buildx"
  log "installed the buildx CLI plugin $BUILDX_VERSION as $PLUGIN_DIR/docker-buildx"
fi
docker buildx version >/dev/null 2>&1 ||
  die "'docker buildx version' fails with $PLUGIN_DIR/docker-buildx installed (docker is $(command -v docker); DOCKER_CONFIG=${DOCKER_CONFIG:-unset})"
log "docker buildx: $(docker buildx version)"
if [ "$BUILD_ONLY" = 1 ]; then
  log "buildkit: binaries ready in $(( $(date +%s) - t_start ))s (--build-only: daemon and builder left to a full run)"
  exit 0
fi

# ---- 2. buildkitd ----------------------------------------------------------------------------
bk_ok() { timeout 10 "$BUILDCTL" --addr "$BK_ADDR" debug workers >/dev/null 2>&1; }
# our_pids: live buildkitd processes started with this state dir (another buildkitd, e.g. inside a
# docker-container builder, is none of our business).
our_pids() {
  local pid
  for pid in $(live_pids buildkitd); do
    tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF -- "$BK_DIR/" && echo "$pid"
  done
  return 0
}

stop_pid() {
  local pid=$1
  kill -TERM "$pid" 2>/dev/null || return 0
  for _ in $(seq 1 120); do proc_running "$pid" || return 0; sleep 0.25; done
  log "buildkitd pid $pid did not stop within 30s: SIGKILL"
  kill -KILL "$pid" 2>/dev/null || true
}

mkdir -p "$BK_DIR" "$BK_ROOT"
cat >"${BK_CONFIG}.new" <<TOML
# Written by scripts/local/buildkit.sh: the local stack's BuildKit daemon.
debug = false
root = "${BK_ROOT}"

[grpc]
  address = ["${BK_ADDR}"]

[worker.oci]
  enabled = true
  binary = "runc"
  snapshotter = "overlayfs"
  # RUN steps share the host's network namespace (apt-get reaches the host's Debian mirror).
  networkMode = "${BK_NET}"
  gc = true

[worker.containerd]
  enabled = false

# The local registry (stands in for GHCR): plain HTTP on loopback.
[registry."${AI_FLEET_REGISTRY}"]
  http = true
  insecure = true
TOML
config_changed=0
cmp -s "${BK_CONFIG}.new" "$BK_CONFIG" || config_changed=1
mv -f "${BK_CONFIG}.new" "$BK_CONFIG"

bk_how=""
if pid_alive "$BK_PIDFILE" buildkitd && [ "$config_changed" -eq 1 ]; then
  log "buildkitd (pid $(cat "$BK_PIDFILE")) runs with an older $BK_CONFIG; restarting it"
  stop_pid "$(cat "$BK_PIDFILE")"
  rm -f "$BK_PIDFILE"
fi

if bk_ok; then
  if pid_alive "$BK_PIDFILE" buildkitd; then
    bk_how="reused (started earlier by these scripts, pid $(cat "$BK_PIDFILE"))"
  else
    bk_how="reused (not started by these scripts: down.sh will leave it)"
  fi
  log "buildkitd at $BK_ADDR already answers: $bk_how"
else
  require_root
  command -v runc >/dev/null 2>&1 || apt_install runc
  if pid_alive "$BK_PIDFILE" buildkitd; then
    log "buildkitd (pid $(cat "$BK_PIDFILE")) is running but not answering; waiting"
  else
    others=$(our_pids)
    [ -z "$others" ] ||
      die "a buildkitd using $BK_DIR is running (pid ${others//$'\n'/ }) but not from $BK_PIDFILE and not answering on $BK_ADDR; stop it first"
    [ ! -e "$BK_SOCK" ] || { log "removing stale $BK_SOCK"; rm -f "$BK_SOCK"; }
    log "starting buildkitd $BUILDKIT_VERSION (OCI worker, runc $(runc --version | awk 'NR==1{print $3}'), network $BK_NET, root $BK_ROOT, log $BK_LOG)"
    setsid nohup "$BUILDKITD" --config "$BK_CONFIG" --addr "$BK_ADDR" --root "$BK_ROOT" \
      --oci-worker=true --containerd-worker=false --oci-worker-net="$BK_NET" \
      >>"$BK_LOG" 2>&1 </dev/null &
    echo $! >"$BK_PIDFILE"
  fi
  await_start buildkitd "$BK_PIDFILE" "$BK_LOG" "$BK_WAIT_S" "buildkitd answers on $BK_ADDR" bk_ok ||
    die "buildkitd did not answer within ${BK_WAIT_S}s (log $BK_LOG)"
  bk_how="started (pid $(cat "$BK_PIDFILE"))"
fi
# One line per worker: executor, network, snapshotter (from its labels).
workers=$("$BUILDCTL" --addr "$BK_ADDR" debug workers -v 2>&1 |
  sed -n 's/^[[:space:]]*org\.mobyproject\.buildkit\.worker\.\(executor\|network\|snapshotter\):[[:space:]]*/\1=/p' | tr '\n' ' ')
[ -n "$workers" ] || die "buildkitd at $BK_ADDR reports no worker (log $BK_LOG)"
log "buildkitd worker: $workers"

# ---- 3. buildx builder -----------------------------------------------------------------------
endpoint=$(docker buildx inspect "$BUILDER_NAME" 2>/dev/null | awk '$1=="Endpoint:"{print $2; exit}' || true)
driver=$(docker buildx inspect "$BUILDER_NAME" 2>/dev/null | awk '$1=="Driver:"{print $2; exit}' || true)
if [ "$endpoint" = "$BK_ADDR" ] && [ "$driver" = remote ]; then
  log "buildx builder $BUILDER_NAME already points at $BK_ADDR (driver remote)"
else
  if [ -n "$driver" ]; then
    log "buildx builder $BUILDER_NAME exists with driver ${driver} endpoint ${endpoint:-?}: recreating it"
    docker buildx rm "$BUILDER_NAME" >/dev/null 2>&1 || die "docker buildx rm $BUILDER_NAME failed"
  fi
  docker buildx create --name "$BUILDER_NAME" --driver remote "$BK_ADDR" >/dev/null ||
    die "docker buildx create --name $BUILDER_NAME --driver remote $BK_ADDR failed"
  log "registered buildx builder $BUILDER_NAME (driver remote, $BK_ADDR) in ${BUILDX_CONFIG:-${DOCKER_CONFIG:-$HOME/.docker}/buildx}"
fi
inspect=$(timeout 60 docker buildx inspect "$BUILDER_NAME" --bootstrap 2>&1) ||
  { printf '%s\n' "$inspect" >&2; die "docker buildx inspect $BUILDER_NAME --bootstrap failed"; }
status=$(printf '%s\n' "$inspect" | awk '$1=="Status:"{print $2; exit}')
bkver=$(printf '%s\n' "$inspect" | awk '$1=="BuildKit" && $2=="version:"{print $3; exit}')
[ "$status" = running ] || { printf '%s\n' "$inspect" >&2; die "builder $BUILDER_NAME status '${status:-?}', expected running"; }
log "builder $BUILDER_NAME: status $status, BuildKit ${bkver:-?}"

case "$bk_how" in started*) word=started ;; *) word=reused ;; esac
[ ${#built[@]} -eq 0 ] || word="built+$word"
outcome buildkit "$word" "builder $BUILDER_NAME -> $BK_ADDR; buildkitd $bk_how${built[*]:+; built ${built[*]}}"
log "buildkit: $word in $(( $(date +%s) - t_start ))s; use: docker buildx build --builder $BUILDER_NAME --push ..."
