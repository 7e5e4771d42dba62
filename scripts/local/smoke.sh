#!/usr/bin/env bash
# Proof by hand of the local stack, as a script: up.sh; build base-python -> family-web and demo
# services with plain `DOCKER_BUILDKIT=1 docker build`, each FROM its parent by registry digest;
# push them; run a service hardened (uid 10001, read-only root, no capabilities, no-new-privileges)
# and check what it runs as, what it sees and what it answers; try BuildKit's own push.
# Leaves dockerd, the registry and the images; removes its containers. Ends with "N passed, N failed".
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=lib.sh
. "$HERE/lib.sh"

"$HERE/up.sh"
# shellcheck source=env.sh
. "$HERE/env.sh"
DEMO="$AI_FLEET_DEMO_DIR"
BUILD=("$AI_FLEET_DOCKER_BUILD")
REG="$AI_FLEET_REGISTRY"
TAG="${AI_FLEET_SMOKE_TAG:-smoke}"
MACHINE="${AI_FLEET_SMOKE_MACHINE:-local}"
LOGS="${AI_FLEET_STATE}/smoke"
mkdir -p "$LOGS"

passed=0 failed=0
cleanup() {
  local ids
  ids=$(docker ps -aq --filter label=ai-fleet.smoke=1 2>/dev/null || true)
  # shellcheck disable=SC2086
  [ -z "$ids" ] || docker rm -f $ids >/dev/null 2>&1 || true
}
trap cleanup EXIT
cleanup

# build NAME CONTEXT BASE_REF [extra build args...]: build, tag for the registry, push; prints repo@digest.
build_push() {
  local name=$1 ctx=$2 base=$3; shift 3
  # Families carry their own Dockerfile; every service builds with demo/services/Dockerfile.
  local DOCKERFILE="$ctx/Dockerfile"
  [ -f "$DOCKERFILE" ] || DOCKERFILE="$DEMO/services/Dockerfile"
  local ref="$REG/ai-fleet/$name:$TAG" t0
  t0=$(date +%s)
  log "build $ref FROM $base"
  DOCKER_BUILDKIT=1 "${BUILD[@]}" build --progress=plain \
    --build-arg "BASE_IMAGE=$base" --build-arg "MACHINE=$MACHINE" "$@" \
    --label "ai-fleet.stack=local" -t "$ref" -f "$DOCKERFILE" "$ctx" >"$LOGS/build-$name.log" 2>&1 ||
    { tail -n 30 "$LOGS/build-$name.log" >&2; die "build of $name failed (log $LOGS/build-$name.log)"; }
  docker push "$ref" >"$LOGS/push-$name.log" 2>&1 || { tail -n 20 "$LOGS/push-$name.log" >&2; die "push of $ref failed"; }
  local digest
  digest=$(docker image inspect -f '{{range .RepoDigests}}{{println .}}{{end}}' "$ref" | grep -m1 "^$REG/ai-fleet/$name@" || true)
  [ -n "$digest" ] || die "no registry digest for $ref after push"
  log "  -> $digest ($(( $(date +%s) - t0 ))s, $(docker image inspect -f '{{.Size}}' "$ref" | awk '{printf "%.0f MB", $1/1e6}'))"
  echo "$digest"
}

BASE_REF="${AI_FLEET_BASE_IMAGE_REF:?base image ref missing: base-image.sh did not record it}"
BP=$(build_push base-python "$DEMO/families/base-python" "$BASE_REF")
FW=$(build_push family-web "$DEMO/families/family-web" "$BP")
# The demo services and their family (the canary set first). TORCH_CUDA_ARCH_LIST is a build arg
# that would differ by machine; build-info.json inside the image records it.
SERVICES=(model_ops_coordinator:base-python real_time_audio_pipeline:base-python
  affective_processing_center:base-python service_registry:family-web system_digital_twin:base-python)
declare -A REF
for entry in "${SERVICES[@]}"; do
  svc=${entry%%:*} fam=${entry#*:}
  parent=$BP; [ "$fam" = family-web ] && parent=$FW
  REF[$svc]=$(build_push "$svc" "$DEMO/services/$svc" "$parent" --build-arg TORCH_CUDA_ARCH_LIST=8.6)
done
SVC=${REF[model_ops_coordinator]} WEB=${REF[service_registry]}

# --- run the canary service hardened, from its registry digest
C=ai-fleet-smoke-moc
hardened=(--user 10001:10001 --read-only --tmpfs /tmp --cap-drop ALL --security-opt no-new-privileges
  --label ai-fleet.stack=local --label ai-fleet.smoke=1)
docker run -d --name "$C" "${hardened[@]}" \
  -e MACHINE="$MACHINE" -e OMP_NUM_THREADS=2 -e UVICORN_WORKERS=2 -e TORCH_CUDA_ARCH_LIST=8.6 \
  -e MEMORY_FRACTION=0.5 -e BATCH_SIZE_DEFAULT=4 \
  -p 127.0.0.1::7211 -p 127.0.0.1::7212 -p 127.0.0.1::8008 "$SVC" >/dev/null
hostport() { docker port "$1" "$2/tcp" | head -n1 | awk -F: '{print $NF}'; }
P_SVC=$(hostport "$C" 7211) P_REP=$(hostport "$C" 7212) P_HTTP=$(hostport "$C" 8008)
log "running $C from $SVC: service 7211->$P_SVC, health(REP stand-in) 7212->$P_REP, health HTTP 8008->$P_HTTP"
wait_until 15 "health HTTP answers" curl -fsS -o /dev/null "http://127.0.0.1:$P_HTTP/health" 2>/dev/null || true

jget() { # jget URL PY_EXPR: fetch JSON and evaluate a Python expression on it as `j`
  curl -fsS -m 5 "$1" | python3 -c "import json,sys; j=json.load(sys.stdin); r=($2); print(r); sys.exit(0 if r else 1)"
}
check "PID 1 is tini" sh -c "docker exec $C cat /proc/1/cmdline | tr '\\0' ' ' | grep -q '^/usr/bin/tini -- python3 /app/service.py'"
check "docker top: tini parent of python3" sh -c "docker top $C -o pid,ppid,user,args | tee /dev/stderr | grep -q 'python3 /app/service.py'"
check "runs as uid/gid 10001" sh -c "[ \"\$(docker exec $C id -u):\$(docker exec $C id -g)\" = 10001:10001 ]"
check "root filesystem is read-only" sh -c "! docker exec $C sh -c 'echo x > /x'"
check "/tmp is writable (tmpfs)" docker exec "$C" sh -c 'echo x > /tmp/x'
check "no capabilities, no-new-privileges" sh -c "docker exec $C grep -E '^(CapEff|NoNewPrivs)' /proc/1/status | tee /dev/stderr | tr -s '\t ' ' ' | grep -q 'CapEff: 0000000000000000' && docker exec $C grep -q 'NoNewPrivs:.1' /proc/1/status"
check "GET /health on health HTTP port: status ok" jget "http://127.0.0.1:$P_HTTP/health" "j['status']=='ok' and j['service']=='ModelOpsCoordinator' and j['machine']=='$MACHINE' and j['uptime_s']>=0"
check "GET /profile shows the runtime env" jget "http://127.0.0.1:$P_HTTP/profile" "j['env']['OMP_NUM_THREADS']=='2' and j['env']['UVICORN_WORKERS']=='2' and j['env']['MEMORY_FRACTION']=='0.5' and j['env']['GPU_VISIBLE_DEVICES'] is None and j['uid']==10001"
check "GET /profile shows the build args" jget "http://127.0.0.1:$P_SVC/profile" "j['build']['machine']=='$MACHINE' and j['build']['torch_cuda_arch_list']=='8.6' and j['build']['base_image']=='$BP'"
check "health port (ZMQ REP stand-in) answers a JSON line" sh -c "python3 -c \"import socket,json; s=socket.create_connection(('127.0.0.1',$P_REP),3); s.sendall(b'ping\\n'); j=json.loads(s.makefile().readline()); assert j['status']=='ok', j\""
check "health port does not speak HTTP (curl :health/health fails)" sh -c "! curl -fsS -m 3 http://127.0.0.1:$P_REP/health"
check "Docker HEALTHCHECK turns healthy" wait_until 40 "container healthy" sh -c "[ \"\$(docker inspect -f '{{.State.Health.Status}}' $C)\" = healthy ]"
t0=$(date +%s%3N)
check "SIGTERM: docker stop within 3s, exit code 0" sh -c "docker stop -t 10 $C >/dev/null && [ \$(( \$(date +%s%3N) - $t0 )) -lt 3000 ] && [ \"\$(docker inspect -f '{{.State.ExitCode}}' $C)\" = 0 ]"
log "docker stop took $(( $(date +%s%3N) - t0 )) ms; logs: $(docker logs "$C" 2>&1 | grep -E 'signal|stopped' | tr '\n' ' ')"

# --- every service on its own default ports (read from the build info baked into its image)
for entry in "${SERVICES[@]}"; do
  svc=${entry%%:*}
  info=$(docker run --rm --entrypoint cat "${REF[$svc]}" /app/build-info.json)
  port=$(printf '%s' "$info" | python3 -c 'import json,sys; print(json.load(sys.stdin)["default_ports"]["HEALTH_HTTP_PORT"])')
  name=$(printf '%s' "$info" | python3 -c 'import json,sys; print(json.load(sys.stdin)["service"])')
  docker run -d --name "ai-fleet-smoke-$svc" "${hardened[@]}" -e MACHINE="$MACHINE" -p "127.0.0.1::$port" "${REF[$svc]}" >/dev/null
  p=$(hostport "ai-fleet-smoke-$svc" "$port")
  wait_until 10 "$svc listens" curl -fsS -o /dev/null "http://127.0.0.1:$p/health" 2>/dev/null || true
  check "$svc: GET /health on default port $port: status ok, service $name" \
    jget "http://127.0.0.1:$p/health" "j['status']=='ok' and j['service']=='$name' and j['ports']['HEALTH_HTTP_PORT']==$port"
  docker rm -f "ai-fleet-smoke-$svc" >/dev/null
done

# --- health-gate switches, each in a short-lived hardened container (health HTTP port 8201)
gate() { # gate NAME ENV...: start service_registry with ENV, print its health HTTP host port
  docker run -d --name "ai-fleet-smoke-$1" "${hardened[@]}" -p 127.0.0.1::8201 "${@:2}" "$WEB" >/dev/null
  sleep 0.3
  hostport "ai-fleet-smoke-$1" 8201
}
p=$(gate degraded -e DEMO_HEALTH=degraded)
wait_until 10 "degraded container listens" curl -fsS -o /dev/null "http://127.0.0.1:$p/health" 2>/dev/null || true
check "DEMO_HEALTH=degraded: 200 status degraded" jget "http://127.0.0.1:$p/health" "j['status']=='degraded'"
p=$(gate nonjson -e DEMO_HEALTH=nonjson)
wait_until 10 "nonjson container listens" curl -fsS -o /dev/null "http://127.0.0.1:$p/health" 2>/dev/null || true
check "DEMO_HEALTH=nonjson: 200 'OK' text" sh -c "[ \"\$(curl -fsS http://127.0.0.1:$p/health)\" = OK ]"
p=$(gate down -e DEMO_HEALTH=down)
sleep 1.5
check "DEMO_HEALTH=down: health HTTP never answers" sh -c "! curl -sS -m 3 http://127.0.0.1:$p/health"
p=$(gate slow -e DEMO_START_DELAY_S=4)
wait_until 10 "slow container listens" sh -c "curl -s -o /dev/null -w '%{http_code}' http://127.0.0.1:$p/health | grep -q 503" || true
check "DEMO_START_DELAY_S=4: 503 starting first" sh -c "curl -s http://127.0.0.1:$p/health | grep -q '\"status\": \"starting\"'"
check "DEMO_START_DELAY_S=4: then 200 ok" wait_until 10 "slow container ok" sh -c "curl -fsS http://127.0.0.1:$p/health | grep -q '\"status\": \"ok\"'"
check "family-web: PORT=8000 in the service env" sh -c "docker exec ai-fleet-smoke-slow printenv PORT | grep -qx 8000"

# --- can the daemon's own BuildKit (20.10) push? (report only: not counted)
if DOCKER_BUILDKIT=1 "${BUILD[@]}" build --build-arg "BASE_IMAGE=$BASE_REF" \
  --output "type=image,name=$REG/ai-fleet/base-python:pushtest,push=true" "$DEMO/families/base-python" >"$LOGS/buildkit-push.log" 2>&1; then
  log "note: BuildKit --output type=image,push=true works on this daemon"
else
  log "note: BuildKit --output type=image,push=true does not work here: $(tail -n1 "$LOGS/buildkit-push.log") (push with docker push after build)"
fi

log "images (tag :$TAG):"
log "  base-python  $BP"
log "  family-web   $FW"
for entry in "${SERVICES[@]}"; do log "  ${entry%%:*}  ${REF[${entry%%:*}]}"; done
echo "smoke: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
