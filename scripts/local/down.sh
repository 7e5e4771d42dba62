#!/usr/bin/env bash
# Stop what up.sh started: containers and networks labelled ai-fleet.stack=local, the registry and dockerd
# started by these scripts (by their pid files). A daemon or registry these scripts did not start
# is left alone. Caches (rootfs tarball, registry storage, Docker's images) are kept unless --purge.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=lib.sh
. "$HERE/lib.sh"

purge=0
case "${1:-}" in
  "") ;;
  --purge) purge=1 ;;
  -h|--help) echo "usage: $0 [--purge]   (--purge also deletes ${AI_FLEET_STATE} and the ai-fleet/* and ${AI_FLEET_REGISTRY}/* images)"; exit 0 ;;
  *) die "unknown argument '$1' (usage: $0 [--purge])" ;;
esac

stop_pidfile() { # PIDFILE NAME WAIT_S
  local pidfile=$1 name=$2 wait_s=$3 pid
  if ! pid_alive "$pidfile" "$name"; then
    log "$name: not running from these scripts (no live pid in $pidfile)"
    rm -f "$pidfile"
    return 0
  fi
  pid=$(cat "$pidfile")
  log "stopping $name (pid $pid)"
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 1 $(( wait_s * 4 ))); do
    proc_running "$pid" || { rm -f "$pidfile"; log "$name stopped"; return 0; }
    sleep 0.25
  done
  log "$name did not stop within ${wait_s}s: SIGKILL"
  kill -KILL "$pid" 2>/dev/null || true
  rm -f "$pidfile"
}

if docker_ok; then
  ids=$(docker ps -aq --filter "label=${AI_FLEET_STACK_LABEL}")
  if [ -n "$ids" ]; then
    log "removing $(echo "$ids" | wc -l) container(s) labelled ${AI_FLEET_STACK_LABEL}"
    # shellcheck disable=SC2086
    docker rm -f $ids >/dev/null
  else
    log "no containers labelled ${AI_FLEET_STACK_LABEL}"
  fi
  # The stack's network (ai-fleet-local, either runtime made it) goes too, once no container is on
  # it: left behind, the provider runtime's next `up` fails with "network with name … already exists".
  for net in $(docker network ls -q --filter "label=${AI_FLEET_STACK_LABEL}"); do
    if [ -n "$(docker ps -aq --filter "network=$net")" ]; then
      log "left network $net labelled ${AI_FLEET_STACK_LABEL}: containers are still on it"
    elif docker network rm "$net" >/dev/null; then
      log "removed network $net labelled ${AI_FLEET_STACK_LABEL}"
    fi
  done
  if [ "$purge" -eq 1 ]; then
    imgs=$(docker images --format '{{.Repository}}:{{.Tag}}' | grep -E "^(ai-fleet/|${AI_FLEET_REGISTRY}/)" | grep -v ':<none>$' || true)
    if [ -n "$imgs" ]; then
      log "purge: removing images: $(echo "$imgs" | tr '\n' ' ')"
      # shellcheck disable=SC2086
      docker rmi -f $imgs >/dev/null || true
    fi
  fi
else
  log "docker daemon not answering: no containers to remove"
fi

stop_pidfile "${AI_FLEET_STATE}/buildkit/buildkitd.pid" buildkitd 30
stop_pidfile "${AI_FLEET_STATE}/registry.pid" docker-registry 10
stop_pidfile "${AI_FLEET_STATE}/dockerd.pid" dockerd 30

if [ "$purge" -eq 1 ]; then
  log "purge: deleting $AI_FLEET_STATE (rootfs cache, registry storage, logs)"
  rm -rf "$AI_FLEET_STATE"
fi
log "down: done"
