#!/usr/bin/env bash
# Proof of the BuildKit builder (buildkit.sh): build demo/families/base-python with
# `docker buildx build --builder ai-fleet --push` and a registry cache (mode=max), prune the
# builder's cache, rebuild and check the steps come from the registry cache (CACHED), then pull
# the pushed image on dockerd and run it. Also checks that plain `docker build` (default builder,
# dockerd's BuildKit) still works now that the buildx plugin is installed.
# Needs the registry and the base image (up.sh). Ends with "N passed, N failed".
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=lib.sh
. "$HERE/lib.sh"

"$HERE/buildkit.sh"
# shellcheck source=env.sh
. "$HERE/env.sh"
BUILDER="${AI_FLEET_BUILDER:-ai-fleet}"
REG="$AI_FLEET_REGISTRY"
TAG="${AI_FLEET_SMOKE_TAG:-smoke}"
REF="$REG/ai-fleet/buildkit-smoke/base-python:$TAG"
CACHE_REF="$REG/ai-fleet/cache:${TAG}-base-python"
CTX="$AI_FLEET_DEMO_DIR/families/base-python"
LOGS="${AI_FLEET_STATE}/buildkit/smoke"
mkdir -p "$LOGS"

passed=0 failed=0

# build N: the build under test, with its plain progress in $LOGS/build-N.log and buildx's
# metadata (pushed digest) in $LOGS/meta-N.json.
build() {
  local n=$1 t0
  t0=$(date +%s)
  log "build $n: $REF (builder $BUILDER, cache $CACHE_REF)"
  docker buildx build --builder "$BUILDER" --progress=plain --push -t "$REF" \
    --build-arg "BASE_IMAGE=$AI_FLEET_BASE_IMAGE" --build-arg "MACHINE=local" \
    --cache-to "type=registry,ref=$CACHE_REF,mode=max,image-manifest=true,oci-mediatypes=true" \
    --cache-from "type=registry,ref=$CACHE_REF" \
    --metadata-file "$LOGS/meta-$n.json" "$CTX" >"$LOGS/build-$n.log" 2>&1 ||
    { tail -n 30 "$LOGS/build-$n.log" >&2; die "build $n failed (log $LOGS/build-$n.log)"; }
  digest[$n]=$(sed -n 's/.*"containerimage.digest": *"\(sha256:[0-9a-f]*\)".*/\1/p' "$LOGS/meta-$n.json" | head -n1)
  manifest[$n]=$(grep -m1 -o 'exporting manifest sha256:[0-9a-f]*' "$LOGS/build-$n.log" | cut -d' ' -f3 || true)
  log "  -> $REF@${digest[$n]:-?} (image manifest ${manifest[$n]:-?}) in $(( $(date +%s) - t0 ))s; steps: $(grep -c ' CACHED$' "$LOGS/build-$n.log" || true) CACHED, $(grep -cE '^#[0-9]+ \[[0-9/ ]+\] (RUN|COPY)' "$LOGS/build-$n.log" || true) RUN/COPY lines"
}
declare -A digest manifest

# Steps of the Dockerfile that do work: its RUN and COPY instructions, as "[n/m] RUN …" vertices.
cached_steps() { grep -E '^#[0-9]+ CACHED$' "$1" | awk '{print $1}' | sort -u; }
step_cached() { # step_cached LOG PATTERN: the vertex whose name matches PATTERN ended CACHED
  local log=$1 pat=$2 ids
  ids=$(grep -E "^#[0-9]+ \[[0-9/ ]+\] $pat" "$log" | awk '{print $1}' | sort -u)
  [ -n "$ids" ] || { echo "no step matching '$pat' in $log"; return 1; }
  comm -12 <(echo "$ids") <(cached_steps "$log") | grep -q . || { echo "step '$pat' ($ids) ran instead of CACHED"; return 1; }
}
registry_has() { # registry_has REPO TAG (probes/registry.js, the project's registry client)
  FLEET_REGISTRY_USER="$AI_FLEET_REGISTRY_USER" FLEET_REGISTRY_PASSWORD="$AI_FLEET_REGISTRY_PASSWORD" \
    FLEET_REGISTRY_INSECURE=true FLEET_REQUEST_TIMEOUT_S=10 node "$HERE/../../probes/registry.js" digest "$REG/$1:$2"
}
runs_on_dockerd() {
  docker pull -q "$REF@${digest[2]}" && docker run --rm --label "${AI_FLEET_STACK_LABEL}" "$REF@${digest[2]}" python3 -c 'print(1)' | grep -qx 1
}
plain_docker_build() { # the default builder (dockerd 20.10's BuildKit through buildx's docker driver)
  local ctx="$LOGS/plain-ctx"
  mkdir -p "$ctx"
  printf 'FROM %s\nRUN echo ok >/plain-build-ok\n' "$AI_FLEET_BASE_IMAGE" >"$ctx/Dockerfile"
  DOCKER_BUILDKIT=1 docker build --progress=plain -t ai-fleet/buildkit-smoke-plain:local "$ctx" &&
    docker run --rm ai-fleet/buildkit-smoke-plain:local cat /plain-build-ok
}

build 1
check "build 1 pushed $REF (digest in metadata)" test -n "${digest[1]}"
check "registry cache $CACHE_REF exported" registry_has ai-fleet/cache "${TAG}-base-python"

log "pruning the builder's cache: docker buildx prune --builder $BUILDER --all --force"
docker buildx prune --builder "$BUILDER" --all --force >"$LOGS/prune.log" 2>&1 || { cat "$LOGS/prune.log" >&2; die "buildx prune failed"; }
log "  $(tail -n 1 "$LOGS/prune.log")"

build 2
check "build 2 imported the registry cache" grep -q "importing cache manifest from $CACHE_REF" "$LOGS/build-2.log"
check "build 2: RUN apt-get ... CACHED (from the registry cache)" step_cached "$LOGS/build-2.log" "RUN apt-get update"
check "build 2: COPY demo_server.py CACHED" step_cached "$LOGS/build-2.log" "COPY demo_server.py"
check "build 2: RUN python3 -m compileall ... CACHED" step_cached "$LOGS/build-2.log" "RUN python3 -m compileall"
check "pushed image pulls and runs on dockerd (python3 -c 'print(1)' -> 1)" runs_on_dockerd
check "plain 'DOCKER_BUILDKIT=1 docker build' (default builder) still works" plain_docker_build

log "pushed digest: build 1 ${digest[1]:-?}, build 2 ${digest[2]:-?} (an index: buildx adds a provenance attestation, so it changes per build)"
log "image manifest: build 1 ${manifest[1]:-?}, build 2 ${manifest[2]:-?}$([ -n "${manifest[1]:-}" ] && [ "${manifest[1]}" = "${manifest[2]:-}" ] && echo ' (identical)')"
log "logs: $LOGS"
log "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
