# shellcheck shell=bash
# Shared helpers for scripts/local/*.sh. Sourced, never run.
# Every script prints progress lines prefixed "[local]" and dies with a clear message.

AI_FLEET_STATE="${AI_FLEET_STATE:-/var/tmp/ai-fleet}"
AI_FLEET_REGISTRY_PORT="${AI_FLEET_REGISTRY_PORT:-5000}"
AI_FLEET_REGISTRY_HOST="${AI_FLEET_REGISTRY_HOST:-127.0.0.1}"
AI_FLEET_REGISTRY="${AI_FLEET_REGISTRY_HOST}:${AI_FLEET_REGISTRY_PORT}"
AI_FLEET_REGISTRY_USER="${AI_FLEET_REGISTRY_USER:-fleet}"
AI_FLEET_REGISTRY_PASSWORD="${AI_FLEET_REGISTRY_PASSWORD:-fleet-local-pass}"
AI_FLEET_BASE_IMAGE_LOCAL="${AI_FLEET_BASE_IMAGE_LOCAL:-ai-fleet/debian-minbase:bookworm}"
AI_FLEET_BASE_IMAGE="${AI_FLEET_BASE_IMAGE:-${AI_FLEET_REGISTRY}/${AI_FLEET_BASE_IMAGE_LOCAL}}"
# shellcheck disable=SC2034 # used by down.sh (AI_FLEET_DOWN_STACK: another stack's, for its test)
AI_FLEET_STACK_LABEL="ai-fleet.stack=${AI_FLEET_DOWN_STACK:-local}"
export AI_FLEET_STATE AI_FLEET_REGISTRY_PORT AI_FLEET_REGISTRY_HOST AI_FLEET_REGISTRY \
  AI_FLEET_REGISTRY_USER AI_FLEET_REGISTRY_PASSWORD AI_FLEET_BASE_IMAGE_LOCAL AI_FLEET_BASE_IMAGE

# Outcome files: each step writes one line that up.sh shows in its summary.
AI_FLEET_OUTCOME_DIR="${AI_FLEET_STATE}/outcome"

log() { printf '[local] %s\n' "$*" >&2; }
die() { printf '[local] ERROR: %s\n' "$*" >&2; exit 1; }
# outcome STEP WORD DETAIL: record what a step did (reused|started|built|...).
outcome() {
  mkdir -p "$AI_FLEET_OUTCOME_DIR"
  printf '%s\t%s\n' "$2" "${3:-}" >"${AI_FLEET_OUTCOME_DIR}/$1"
}

require_root() {
  [ "$(id -u)" -eq 0 ] || die "$(basename "$0") must run as root (it installs packages and starts daemons)"
}

# docker_ok: the daemon answers within a few seconds.
docker_ok() { timeout 10 docker info >/dev/null 2>&1; }

# pid_alive PIDFILE NAME: the pid in PIDFILE is running and its command line mentions NAME.
pid_alive() {
  local pidfile=$1 name=$2 pid
  [ -s "$pidfile" ] || return 1
  pid=$(cat "$pidfile")
  [ -n "$pid" ] && proc_running "$pid" || return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" | grep -q -- "$name"
}

# proc_running PID: the process exists and is not a zombie (kill -0 succeeds on zombies, and a
# daemon that died right after we forked it stays a zombie until this script exits).
proc_running() {
  local state
  state=$(sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | cut -d' ' -f1) || return 1
  [ -n "$state" ] && [ "$state" != Z ]
}

# live_pids NAME: pids of processes named NAME that are not zombies (PID 1 here reaps slowly).
live_pids() {
  local pid
  for pid in $(pgrep -x "$1" || true); do proc_running "$pid" && echo "$pid"; done
  return 0
}

# apt_install PKG...: install Debian packages without letting their maintainer scripts start
# services (there is no init system here; the scripts start what they need themselves).
# Runs 'apt-get update' only when the first attempt fails (e.g. missing package lists).
apt_install() {
  local policy=/usr/sbin/policy-rc.d own_policy=0 rc=0
  if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\n# written by ai-fleet scripts/local during apt-get install\nexit 101\n' >"$policy"
    chmod 755 "$policy"
    own_policy=1
  fi
  log "apt-get install -y $*"
  if ! DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$@" >"${AI_FLEET_STATE}/apt.log" 2>&1; then
    log "install failed; running apt-get update and retrying (log: ${AI_FLEET_STATE}/apt.log)"
    DEBIAN_FRONTEND=noninteractive apt-get update -q >>"${AI_FLEET_STATE}/apt.log" 2>&1 || true
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$@" >>"${AI_FLEET_STATE}/apt.log" 2>&1 || rc=$?
  fi
  [ "$own_policy" -eq 1 ] && rm -f "$policy"
  [ "$rc" -eq 0 ] || { tail -n 20 "${AI_FLEET_STATE}/apt.log" >&2; die "apt-get install $* failed (see ${AI_FLEET_STATE}/apt.log)"; }
}

# wait_until SECONDS DESCRIPTION CMD...: poll CMD every 0.5 s until it succeeds or time runs out.
wait_until() {
  local limit=$1 what=$2 deadline
  shift 2
  deadline=$(( $(date +%s) + limit ))
  until "$@"; do
    [ "$(date +%s)" -lt "$deadline" ] || return 1
    sleep 0.5
  done
  log "$what (after $(( limit - (deadline - $(date +%s)) ))s)"
}

# await_start NAME PIDFILE LOG WAIT_S WHAT READY...: waits until the daemon just forked into
# PIDFILE makes READY succeed; dies with the log's tail if it exits during start-up. Returns 1
# (after showing the log's tail) when it does not answer within WAIT_S, for the caller to say why.
await_start() {
  local name=$1 pidfile=$2 logfile=$3 limit=$4 what=$5
  shift 5
  if ! wait_until "$limit" "$what" _started_and "$name" "$pidfile" "$logfile" "$@"; then
    tail -n 30 "$logfile" >&2
    return 1
  fi
}
_started_and() {
  local name=$1 pidfile=$2 logfile=$3
  shift 3
  # Not pid_alive: right after the fork the pid still shows this script's command line.
  proc_running "$(cat "$pidfile")" || { tail -n 30 "$logfile" >&2; die "$name exited during start-up (log above, full log $logfile)"; }
  "$@"
}

mkdir -p "$AI_FLEET_STATE"
