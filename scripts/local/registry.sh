#!/usr/bin/env bash
# A registry standing in for GHCR: Debian's docker-registry (distribution 2.8) on loopback with
# its own config, storage and htpasswd (bcrypt) auth under the state dir, started in the background
# (not through an init system). Reuses a registry that already answers with the expected auth.
# Then `docker login` to it. Idempotent.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=lib.sh
. "$HERE/lib.sh"

REG_DIR="${AI_FLEET_STATE}/registry"
REG_CONFIG="${REG_DIR}/config.yml"
REG_HTPASSWD="${REG_DIR}/htpasswd"
REG_DATA="${REG_DIR}/data"
REG_PIDFILE="${AI_FLEET_STATE}/registry.pid"
REG_LOG="${AI_FLEET_STATE}/registry.log"
REG_WAIT_S="${AI_FLEET_REGISTRY_WAIT_S:-30}"
URL="http://${AI_FLEET_REGISTRY}/v2/"

code_anon() { curl -s -o /dev/null -m 5 -w '%{http_code}' "$URL" || true; }
code_auth() { curl -s -o /dev/null -m 5 -w '%{http_code}' -u "${AI_FLEET_REGISTRY_USER}:${AI_FLEET_REGISTRY_PASSWORD}" "$URL" || true; }
registry_ready() { [ "$(code_anon)" = 401 ] && [ "$(code_auth)" = 200 ]; }
port_pid() { ss -ltnpH "sport = :${AI_FLEET_REGISTRY_PORT}" 2>/dev/null | grep -o 'pid=[0-9]*' | head -n1 | cut -d= -f2; }

docker_login() {
  if ! docker_ok; then
    log "docker daemon not answering: skipping docker login (run docker-engine.sh first)"
    return 0
  fi
  printf '%s' "$AI_FLEET_REGISTRY_PASSWORD" |
    docker login "$AI_FLEET_REGISTRY" -u "$AI_FLEET_REGISTRY_USER" --password-stdin >/dev/null 2>"${REG_DIR}/login.err" ||
    { cat "${REG_DIR}/login.err" >&2; die "docker login $AI_FLEET_REGISTRY failed"; }
  log "docker login $AI_FLEET_REGISTRY as $AI_FLEET_REGISTRY_USER: ok"
}

stop_pid() {
  local pid=$1
  kill -TERM "$pid" 2>/dev/null || return 0
  for _ in $(seq 1 40); do proc_running "$pid" || return 0; sleep 0.25; done
  kill -KILL "$pid" 2>/dev/null || true
}

mkdir -p "$REG_DIR" "$REG_DATA"

if registry_ready; then
  how="reused"
  if pid_alive "$REG_PIDFILE" docker-registry; then
    how="reused (started earlier by these scripts, pid $(cat "$REG_PIDFILE"))"
  else
    how="reused (not started by these scripts: down.sh will leave it)"
  fi
  log "registry at $AI_FLEET_REGISTRY already answers 401 anonymous / 200 authenticated: $how"
  docker_login
  outcome registry reused "$AI_FLEET_REGISTRY $how"
  exit 0
fi

require_root
command -v docker-registry >/dev/null 2>&1 || apt_install docker-registry
command -v htpasswd >/dev/null 2>&1 || apt_install apache2-utils

# Credentials: bcrypt htpasswd, rewritten only when the configured password does not verify.
if ! htpasswd -vb "$REG_HTPASSWD" "$AI_FLEET_REGISTRY_USER" "$AI_FLEET_REGISTRY_PASSWORD" >/dev/null 2>&1; then
  log "writing $REG_HTPASSWD (bcrypt) for user $AI_FLEET_REGISTRY_USER"
  htpasswd -Bbc "$REG_HTPASSWD" "$AI_FLEET_REGISTRY_USER" "$AI_FLEET_REGISTRY_PASSWORD" 2>/dev/null
fi
[ -s "${REG_DIR}/http-secret" ] || head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n' >"${REG_DIR}/http-secret"

cat >"${REG_CONFIG}.new" <<YAML
# Written by scripts/local/registry.sh: the local stack's registry (stands in for GHCR).
version: 0.1
log:
  level: info
  fields:
    service: ai-fleet-registry
storage:
  filesystem:
    rootdirectory: ${REG_DATA}
  delete:
    enabled: true
  cache:
    blobdescriptor: inmemory
http:
  addr: ${AI_FLEET_REGISTRY}
  secret: $(cat "${REG_DIR}/http-secret")
  headers:
    X-Content-Type-Options: [nosniff]
auth:
  htpasswd:
    realm: ai-fleet-local
    path: ${REG_HTPASSWD}
health:
  storagedriver:
    enabled: true
    interval: 10s
    threshold: 3
YAML
mv "${REG_CONFIG}.new" "$REG_CONFIG"

# Something on the port that is not the registry we want: ours (stale config or credentials) is
# restarted; Debian's own service (auto-started by the package, /etc/docker/registry/config.yml)
# is stopped and disabled; anything else is an error we do not paper over.
holder=$(port_pid || true)
if [ -n "$holder" ]; then
  cmd=$(tr '\0' ' ' <"/proc/$holder/cmdline" 2>/dev/null || true)
  if pid_alive "$REG_PIDFILE" docker-registry && [ "$holder" = "$(cat "$REG_PIDFILE")" ]; then
    log "our registry (pid $holder) does not answer as configured; restarting it"
    stop_pid "$holder"
  elif printf '%s' "$cmd" | grep -q docker-registry; then
    log "port ${AI_FLEET_REGISTRY_PORT} is held by the distro's docker-registry service (pid $holder: $cmd); stopping and disabling it"
    if command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]; then
      systemctl disable --now docker-registry >/dev/null 2>&1 || true
    fi
    if [ -x /etc/init.d/docker-registry ]; then /etc/init.d/docker-registry stop >/dev/null 2>&1 || true; fi
    if command -v update-rc.d >/dev/null 2>&1; then update-rc.d docker-registry disable >/dev/null 2>&1 || true; fi
    proc_running "$holder" && stop_pid "$holder"
  else
    die "port ${AI_FLEET_REGISTRY_PORT} is in use by pid $holder ($cmd), which is not a registry answering with the configured credentials; free it or set AI_FLEET_REGISTRY_PORT"
  fi
  wait_until 10 "port ${AI_FLEET_REGISTRY_PORT} free" sh -c "! ss -ltnH 'sport = :${AI_FLEET_REGISTRY_PORT}' | grep -q ." ||
    die "port ${AI_FLEET_REGISTRY_PORT} still in use"
elif pid_alive "$REG_PIDFILE" docker-registry; then
  log "our registry (pid $(cat "$REG_PIDFILE")) is running but not listening; restarting it"
  stop_pid "$(cat "$REG_PIDFILE")"
fi

log "starting docker-registry on $AI_FLEET_REGISTRY (config $REG_CONFIG, log $REG_LOG)"
setsid nohup docker-registry serve "$REG_CONFIG" >>"$REG_LOG" 2>&1 </dev/null &
echo $! >"$REG_PIDFILE"

await_start docker-registry "$REG_PIDFILE" "$REG_LOG" "$REG_WAIT_S" \
  "registry answers 401 anonymous / 200 authenticated at $URL" registry_ready ||
  die "registry did not answer as expected within ${REG_WAIT_S}s (anonymous $(code_anon), authenticated $(code_auth))"
docker_login
outcome registry started "$AI_FLEET_REGISTRY pid $(cat "$REG_PIDFILE")"
