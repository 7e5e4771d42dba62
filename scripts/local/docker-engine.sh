#!/usr/bin/env bash
# Bring up a real Docker engine on this machine: Debian's docker.io (dockerd 20.10, BuildKit built
# in, no buildx plugin), started in the background when `docker info` does not answer.
# Reuses any daemon that already answers. Idempotent.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=lib.sh
. "$HERE/lib.sh"

DOCKERD_PIDFILE="${AI_FLEET_STATE}/dockerd.pid"
DOCKERD_LOG="${AI_FLEET_STATE}/dockerd.log"
DOCKERD_WAIT_S="${AI_FLEET_DOCKERD_WAIT_S:-60}"
STORAGE_DRIVER="${AI_FLEET_STORAGE_DRIVER:-overlay2}"

check_storage() {
  local driver
  driver=$(docker info --format '{{.Driver}}' 2>/dev/null || true)
  if [ "$driver" != "$STORAGE_DRIVER" ]; then
    die "the daemon uses storage driver '${driver:-?}', expected '$STORAGE_DRIVER' (set AI_FLEET_STORAGE_DRIVER to accept another)"
  fi
  log "storage driver: $driver"
}

if docker_ok; then
  how="reused"
  pid_alive "$DOCKERD_PIDFILE" dockerd && how="reused (started earlier by these scripts, pid $(cat "$DOCKERD_PIDFILE"))"
  log "docker daemon already answers: $how"
  check_storage
  outcome docker-engine reused "dockerd $(docker info --format '{{.ServerVersion}}') $how"
  exit 0
fi

require_root
if ! command -v dockerd >/dev/null 2>&1; then
  apt_install docker.io
  command -v dockerd >/dev/null 2>&1 || die "docker.io installed but dockerd is not on PATH"
fi

if pid_alive "$DOCKERD_PIDFILE" dockerd; then
  # Ours, but not answering (yet): give it the same time as a fresh start before giving up.
  log "dockerd (pid $(cat "$DOCKERD_PIDFILE")) is running but not answering; waiting"
else
  others=$(live_pids dockerd)
  if [ -S /var/run/docker.sock ] && [ -z "$others" ]; then
    log "removing stale /var/run/docker.sock"
    rm -f /var/run/docker.sock
  fi
  if [ -n "$others" ]; then
    die "a dockerd not started by these scripts is running (pid ${others//$'\n'/ }) but does not answer 'docker info'; stop it or fix it first"
  fi
  log "starting dockerd (storage driver $STORAGE_DRIVER, log $DOCKERD_LOG)"
  # setsid + nohup: the daemon outlives this shell and the terminal it ran in.
  # shellcheck disable=SC2086 # AI_FLEET_DOCKERD_ARGS is a list of flags: split on purpose.
  setsid nohup dockerd --storage-driver "$STORAGE_DRIVER" ${AI_FLEET_DOCKERD_ARGS:-} \
    >>"$DOCKERD_LOG" 2>&1 </dev/null &
  echo $! >"$DOCKERD_PIDFILE"
fi

await_start dockerd "$DOCKERD_PIDFILE" "$DOCKERD_LOG" "$DOCKERD_WAIT_S" "docker daemon answers" docker_ok ||
  die "dockerd did not answer within ${DOCKERD_WAIT_S}s (log $DOCKERD_LOG)"
check_storage
outcome docker-engine started "dockerd $(docker info --format '{{.ServerVersion}}') pid $(cat "$DOCKERD_PIDFILE")"
