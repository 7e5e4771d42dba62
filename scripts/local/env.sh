# shellcheck shell=bash
# Source me: `. scripts/local/env.sh`. Exports where the local stack lives and how to reach it.
# Safe to source from an interactive shell: sets no shell options.
_ai_fleet_here="$(cd "$(dirname "${BASH_SOURCE[0]:-$0}")" && pwd)"
export AI_FLEET_STATE="${AI_FLEET_STATE:-/var/tmp/ai-fleet}"
export AI_FLEET_REGISTRY_PORT="${AI_FLEET_REGISTRY_PORT:-5000}"
export AI_FLEET_REGISTRY_HOST="${AI_FLEET_REGISTRY_HOST:-127.0.0.1}"
export AI_FLEET_REGISTRY="${AI_FLEET_REGISTRY_HOST}:${AI_FLEET_REGISTRY_PORT}"
export AI_FLEET_REGISTRY_USER="${AI_FLEET_REGISTRY_USER:-fleet}"
export AI_FLEET_REGISTRY_PASSWORD="${AI_FLEET_REGISTRY_PASSWORD:-fleet-local-pass}"
export AI_FLEET_BASE_IMAGE_LOCAL="${AI_FLEET_BASE_IMAGE_LOCAL:-ai-fleet/debian-minbase:bookworm}"
export AI_FLEET_BASE_IMAGE="${AI_FLEET_BASE_IMAGE:-${AI_FLEET_REGISTRY}/${AI_FLEET_BASE_IMAGE_LOCAL}}"
# repo@sha256:… of the base image in the local registry, once base-image.sh has run.
if [ -s "${AI_FLEET_STATE}/base-image.ref" ]; then
  AI_FLEET_BASE_IMAGE_REF="$(cat "${AI_FLEET_STATE}/base-image.ref")"
  export AI_FLEET_BASE_IMAGE_REF
fi
# A Docker CLI that builds with BuildKit: CLI >= 23 needs the buildx plugin for DOCKER_BUILDKIT=1,
# Debian's docker.io ships a 20.10 CLI (/usr/bin/docker) with BuildKit built in.
# Use: DOCKER_BUILDKIT=1 "$AI_FLEET_DOCKER_BUILD" build ... (DOCKER_BUILDKIT is not exported here:
# with the CLI 28 and no buildx it would break every plain `docker build`).
if docker buildx version >/dev/null 2>&1 || [ ! -x /usr/bin/docker ]; then
  export AI_FLEET_DOCKER_BUILD="docker"
else
  export AI_FLEET_DOCKER_BUILD="/usr/bin/docker"
fi
AI_FLEET_DEMO_DIR="$(cd "${_ai_fleet_here}/../.." && pwd)/demo"
export AI_FLEET_DEMO_DIR
unset _ai_fleet_here
