#!/usr/bin/env bash
# A Debian base image made without any registry: debootstrap --variant=minbase from the host's own
# Debian mirror, tarred and `docker import`ed as ai-fleet/debian-minbase:bookworm, then pushed to the
# local registry as 127.0.0.1:5000/ai-fleet/debian-minbase:bookworm so builders can use it by
# registry reference. The rootfs tarball is cached under the state dir; an existing image is reused.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=lib.sh
. "$HERE/lib.sh"

SUITE="${AI_FLEET_DEBIAN_SUITE:-bookworm}"
IMAGE="$AI_FLEET_BASE_IMAGE_LOCAL"
REMOTE="$AI_FLEET_BASE_IMAGE"
CACHE_DIR="${AI_FLEET_STATE}/cache"
# Bump RECIPE when the rootfs recipe below changes: it names the cached tarball and labels the image,
# so an image or tarball from an older recipe is rebuilt rather than reused.
RECIPE=2
TARBALL="${CACHE_DIR}/debian-minbase-${SUITE}-r${RECIPE}.tar"

docker_ok || die "docker daemon not answering (run docker-engine.sh first)"

# The same mirror as the host's apt sources (override with AI_FLEET_DEBIAN_MIRROR).
# shellcheck disable=SC2016 # $(SITE) etc. are apt's format fields, not shell.
site_for() { apt-get indextargets --format '$(SITE) $(RELEASE) $(IDENTIFIER)' 2>/dev/null | awk -v r="$1" '$2==r && $3=="Packages" && !f {print $1; f=1}'; }

build_rootfs() {
  require_root
  MIRROR="${AI_FLEET_DEBIAN_MIRROR:-$(site_for "$SUITE")}"
  MIRROR="${MIRROR:-http://deb.debian.org/debian}"
  SECURITY_MIRROR="${AI_FLEET_DEBIAN_SECURITY_MIRROR:-$(site_for "${SUITE}-security")}"
  command -v debootstrap >/dev/null 2>&1 || apt_install debootstrap
  local dir="${CACHE_DIR}/rootfs.tmp"
  rm -rf "$dir" "${TARBALL}.tmp"
  mkdir -p "$dir"
  # Cleanup on any exit; the trap expands $dir now, so the variable being local does not matter.
  # shellcheck disable=SC2064
  trap "rm -rf '$dir' '${TARBALL}.tmp'" EXIT
  log "debootstrap --variant=minbase $SUITE from $MIRROR (log ${CACHE_DIR}/debootstrap.log; a few minutes)"
  if ! debootstrap --variant=minbase "$SUITE" "$dir" "$MIRROR" >"${CACHE_DIR}/debootstrap.log" 2>&1; then
    tail -n 20 "${CACHE_DIR}/debootstrap.log" >&2
    die "debootstrap failed (log ${CACHE_DIR}/debootstrap.log)"
  fi
  # Image hygiene: the same sources as the host, no recommends, no caches, no host identity.
  {
    echo "deb $MIRROR $SUITE main"
    echo "deb $MIRROR ${SUITE}-updates main"
    if [ -n "$SECURITY_MIRROR" ]; then echo "deb $SECURITY_MIRROR ${SUITE}-security main"; fi
  } >"$dir/etc/apt/sources.list"
  printf 'APT::Install-Recommends "false";\nAPT::Install-Suggests "false";\n' >"$dir/etc/apt/apt.conf.d/99ai-fleet-no-recommends"
  # Slim, as Debian's -slim images are: no docs (but copyrights), man pages or translations, now
  # and for every package installed later in an image built on this one.
  cat >"$dir/etc/dpkg/dpkg.cfg.d/99ai-fleet-slim" <<'DPKG'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/groff/*
path-exclude /usr/share/info/*
path-exclude /usr/share/lintian/*
path-exclude /usr/share/linda/*
path-exclude /usr/share/locale/*
DPKG
  find "$dir/usr/share/doc" -mindepth 1 -not -name copyright -not -type d -delete
  find "$dir/usr/share/doc" -mindepth 1 -type d -empty -delete
  rm -rf "$dir"/usr/share/man/* "$dir"/usr/share/groff/* "$dir"/usr/share/info/* \
    "$dir"/usr/share/lintian/* "$dir"/usr/share/linda/* "$dir"/usr/share/locale/*
  rm -rf "$dir"/var/cache/apt/archives/*.deb "$dir"/var/cache/apt/*.bin "$dir"/var/lib/apt/lists/* "$dir"/tmp/* "$dir"/var/tmp/*
  : >"$dir/etc/resolv.conf"
  : >"$dir/etc/machine-id"
  echo "debian-minbase" >"$dir/etc/hostname"
  tar --numeric-owner -C "$dir" -cf "${TARBALL}.tmp" .
  mv "${TARBALL}.tmp" "$TARBALL"
  rm -rf "$dir"
  trap - EXIT
  log "rootfs cached: $TARBALL ($(du -h "$TARBALL" | cut -f1))"
}

# The digest the local registry serves for $REMOTE, or nothing (probes/registry.js, the project's
# registry client).
remote_digest() {
  FLEET_REGISTRY_USER="$AI_FLEET_REGISTRY_USER" FLEET_REGISTRY_PASSWORD="$AI_FLEET_REGISTRY_PASSWORD" \
    FLEET_REGISTRY_INSECURE=true FLEET_REQUEST_TIMEOUT_S=10 \
    node "$HERE/../../probes/registry.js" digest "$REMOTE" 2>/dev/null
}

mkdir -p "$CACHE_DIR"
recipe_of() {
  local r
  r=$(docker image inspect -f '{{index .Config.Labels "ai-fleet.rootfs-recipe"}}' "$1" 2>/dev/null || true)
  [ "$r" = "<no value>" ] && r=""
  echo "$r"
}
# Order of reuse: the local image; the registry's copy (keeps the digest: `docker import` stamps a new
# creation time, so a re-import would change the digest and rebuild every family on top); the cached
# rootfs tarball; debootstrap.
have_recipe=$(recipe_of "$IMAGE")
if [ "$have_recipe" = "$RECIPE" ]; then
  how="reused"
  log "image $IMAGE exists: reused"
elif [ -z "$have_recipe" ] && [ -n "$(remote_digest || true)" ] && docker pull -q "$REMOTE" >/dev/null 2>&1 &&
  [ "$(recipe_of "$REMOTE")" = "$RECIPE" ]; then
  docker tag "$REMOTE" "$IMAGE"
  how="pulled from local registry"
  log "image $IMAGE pulled from $REMOTE (same recipe $RECIPE)"
else
  [ -n "$have_recipe" ] && log "image $IMAGE is from rootfs recipe '$have_recipe', not $RECIPE: rebuilding"
  if [ -s "$TARBALL" ]; then
    how="imported from cached rootfs"
    log "importing cached rootfs $TARBALL"
  else
    how="built (debootstrap)"
    build_rootfs
  fi
  docker import \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'ENV LANG=C.UTF-8' \
    --change 'CMD ["/bin/bash"]' \
    --change "LABEL ai-fleet.rootfs-recipe=$RECIPE" \
    --message "debootstrap --variant=minbase $SUITE (scripts/local/base-image.sh recipe $RECIPE)" \
    "$TARBALL" "$IMAGE" >/dev/null
  log "imported $IMAGE ($(docker image inspect -f '{{.Size}}' "$IMAGE" | awk '{printf "%.0f MB", $1/1e6}'))"
fi

# Push to the local registry unless it already holds exactly this image.
docker tag "$IMAGE" "$REMOTE"
local_digest=$(docker image inspect -f '{{range .RepoDigests}}{{println .}}{{end}}' "$IMAGE" | awk -F@ -v r="${REMOTE%:*}" '$1==r && !f {print $2; f=1}')
have=$(remote_digest || true)
if [ -n "$have" ] && [ "$have" = "$local_digest" ]; then
  push="already in registry"
else
  log "docker push $REMOTE"
  docker push "$REMOTE" >"${CACHE_DIR}/push.log" 2>&1 || { tail -n 20 "${CACHE_DIR}/push.log" >&2; die "docker push $REMOTE failed (is the registry up and docker logged in? run registry.sh)"; }
  push="pushed"
fi
digest=$(remote_digest || true)
[ -n "$digest" ] || die "registry does not report a digest for $REMOTE after push"
log "base image: $REMOTE@$digest ($push)"
printf '%s@%s\n' "${REMOTE%:*}" "$digest" >"${AI_FLEET_STATE}/base-image.ref"
outcome base-image "$how" "$REMOTE@$digest ($push)"
