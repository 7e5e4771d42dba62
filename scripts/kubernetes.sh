#!/usr/bin/env bash
# scripts/kubernetes.sh — give this machine what the cluster stack's tests run on: Kubernetes
# 1.34.4's binaries, Debian's etcd, containerd, runc and CNI plugins, a pause image, and the Pulumi
# Kubernetes provider plugin. Nothing here can be downloaded as a release, so:
#   binaries  kube-apiserver, kube-controller-manager, kube-scheduler, kubelet and kubectl, built from
#             the Go module proxy (k8s.io/kubernetes@v1.34.4; its staging replaces pointed at the
#             published k8s.io/<name> v0.34.4 modules). Cold: about 10 minutes on 2 cores.
#   debs      etcd-server, containerd, runc, containernetworking-plugins fetched with `apt-get
#             download` and unpacked with `dpkg-deb -x` into the cache: private to the tests,
#             nothing installed on the system.
#   pause     the sandbox ("pause") image: a static binary from scripts/k8s/pause, as an OCI archive.
#   provider  pulumi-resource-kubernetes 4.25.0 (github.com/pulumi/pulumi-kubernetes/provider/v4 at
#             the commit of the v4.25.0 release, the version package.json pins @pulumi/kubernetes
#             to), registered with the Pulumi CLI under that version. Needs scripts/toolchain.sh first.
# Everything is cached under ${AI_FLEET_CACHE:-~/.cache/ai-fleet}/kubernetes with a recipe stamp;
# a warm run checks the stamps and takes about a second.
#
# Usage: scripts/kubernetes.sh [binaries|debs|pause|provider]...   (no part: all four)
#        scripts/kubernetes.sh --status     one JSON object, builds nothing:
#          {"binDir":"/path","missing":{"part":"why",...}}   (missing is {} when everything is there)
#        scripts/kubernetes.sh --env        prints KEY=VALUE lines the cluster script reads
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
K8S_VERSION="1.34.4"
K8S_STAGING_VERSION="0.34.4"
PROVIDER_VERSION="4.25.0"
PROVIDER_MODULE="github.com/pulumi/pulumi-kubernetes/provider/v4"
PROVIDER_PSEUDO="v4.0.0-20260115033456-f47bc2d6f199" # the v4.25.0 tag's commit, as the proxy serves it
DEBS="etcd-server containerd runc containernetworking-plugins"
CACHE="${AI_FLEET_CACHE:-$HOME/.cache/ai-fleet}/kubernetes"
BIN_DIR="$CACHE/v$K8S_VERSION/bin"
ROOTFS="$CACHE/debs/root"
PAUSE_TAR="$CACHE/pause/pause.oci.tar"
PROVIDER_DIR="$CACHE/provider-$PROVIDER_VERSION"
PULUMI_HOME_DIR="${PULUMI_HOME:-$HOME/.pulumi}"
KUBE_BINS="kube-apiserver kube-controller-manager kube-scheduler kubelet kubectl"

log() { echo "[kubernetes] $*" >&2; }
now() { date +%s; }
elapsed() { echo "$(( $(now) - $1 ))s"; }
go_env() {
  export GOPROXY="${GOPROXY:-https://proxy.golang.org}"; export GOPROXY="${GOPROXY%,direct}"
  export GOTOOLCHAIN="${GOTOOLCHAIN:-local}" GOWORK=off CGO_ENABLED=0 GOFLAGS="-mod=mod -trimpath -buildvcs=false"
}
recipe_of() {
  case "$1" in
    binaries) echo "k8s=$K8S_VERSION staging=$K8S_STAGING_VERSION bins=$KUBE_BINS go=$(go env GOVERSION 2>/dev/null)" ;;
    debs) echo "debs=$DEBS" ;;
    pause) echo "pause=$(cat "$HERE/k8s/pause/main.go" "$HERE/k8s/pause/go.mod" | cksum | cut -d' ' -f1) go=$(go env GOVERSION 2>/dev/null)" ;;
    provider) echo "provider=$PROVIDER_MODULE@$PROVIDER_PSEUDO version=$PROVIDER_VERSION go=$(go env GOVERSION 2>/dev/null)" ;;
  esac
}
stamp_of() {
  case "$1" in binaries) echo "$BIN_DIR/.recipe" ;; debs) echo "$ROOTFS/.recipe" ;;
    pause) echo "$CACHE/pause/.recipe" ;; provider) echo "$PROVIDER_DIR/.recipe" ;; esac
}
plugin_bin() { echo "$PULUMI_HOME_DIR/plugins/resource-kubernetes-v$PROVIDER_VERSION/pulumi-resource-kubernetes"; }
# present PART: the part's output is there and was made by today's recipe.
present() {
  [ "$(cat "$(stamp_of "$1")" 2>/dev/null || true)" = "$(recipe_of "$1")" ] || return 1
  if [ "$1" = provider ]; then cmp -s "$PROVIDER_DIR/bin/pulumi-resource-kubernetes" "$(plugin_bin)" || return 1; fi
}

# go_build: the compile with progress every 30 s, shared with trivy.sh.
# shellcheck source=scripts/go-build.sh
. "$(dirname "${BASH_SOURCE[0]}")/go-build.sh"

# ---- binaries -------------------------------------------------------------------------------
build_binaries() {
  local t0 src mod; t0=$(now)
  go_env
  mkdir -p "$CACHE/v$K8S_VERSION"
  log "binaries: downloading k8s.io/kubernetes@v$K8S_VERSION from the module proxy ..."
  mod="$(go mod download -json "k8s.io/kubernetes@v$K8S_VERSION" | node -e 'const j=JSON.parse(require("fs").readFileSync(0,"utf8")); if(j.Error){console.error(j.Error);process.exit(1)} console.log(j.Dir)')"
  src="$CACHE/v$K8S_VERSION/src"
  rm -rf "$src" && cp -r "$mod" "$src" && chmod -R u+w "$src"
  # The module zip has no staging/ (each is a module of its own) and no vendor/.
  sed -i -E "s#=> \./staging/src/(k8s\.io/[A-Za-z0-9._-]+)#=> \1 v$K8S_STAGING_VERSION#" "$src/go.mod"
  if grep -q '=> \./' "$src/go.mod"; then log "binaries: go.mod still has a local replace:"; grep '=> \./' "$src/go.mod" >&2; return 1; fi
  local pkgs=() b
  for b in $KUBE_BINS; do pkgs+=("./cmd/$b"); done
  log "binaries: compiling $KUBE_BINS (go build -p ${AI_FLEET_GO_JOBS:-2}; about 10 minutes on a cold Go cache) ..."
  mkdir -p "$BIN_DIR.tmp"
  : >"$CACHE/v$K8S_VERSION/build.log"
  if ! go_build binaries "$CACHE/v$K8S_VERSION/build.log" "$src" -p "${AI_FLEET_GO_JOBS:-2}" -o "$BIN_DIR.tmp/" \
      -ldflags "-s -w -X k8s.io/component-base/version.gitVersion=v$K8S_VERSION -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=34 -X k8s.io/component-base/version.gitTreeState=clean" \
      "${pkgs[@]}"; then
    log "binaries: compile failed after $(elapsed "$t0"); the end of $CACHE/v$K8S_VERSION/build.log:"
    tail -n 15 "$CACHE/v$K8S_VERSION/build.log" | sed 's/^/[kubernetes]   /' >&2
    return 1
  fi
  rm -rf "$BIN_DIR" "$src" && mv "$BIN_DIR.tmp" "$BIN_DIR"
  recipe_of binaries >"$(stamp_of binaries)"
  log "binaries: built in $(elapsed "$t0"): $("$BIN_DIR/kubectl" version --client 2>/dev/null | head -n1)"
}

# ---- debs -----------------------------------------------------------------------------------
fetch_debs() {
  local t0 d; t0=$(now)
  d="$CACHE/debs"
  rm -rf "$d" && mkdir -p "$d/pkgs" "$ROOTFS"
  log "debs: apt-get download $DEBS ..."
  # shellcheck disable=SC2086
  if ! (cd "$d/pkgs" && apt-get download $DEBS) >"$d/download.log" 2>&1; then
    log "debs: 'apt-get download' failed (has 'apt-get update' run?); retrying after an update"
    apt-get update -qq >>"$d/download.log" 2>&1 || true
    # shellcheck disable=SC2086
    (cd "$d/pkgs" && apt-get download $DEBS) >>"$d/download.log" 2>&1 || { tail -n 5 "$d/download.log" >&2; return 1; }
  fi
  for f in "$d"/pkgs/*.deb; do dpkg-deb -x "$f" "$ROOTFS"; done
  for b in usr/bin/etcd usr/bin/containerd usr/bin/containerd-shim-runc-v2 usr/bin/ctr usr/sbin/runc usr/lib/cni/bridge usr/lib/cni/host-local usr/lib/cni/loopback; do
    [ -x "$ROOTFS/$b" ] || { log "debs: $b is not in the unpacked packages"; return 1; }
  done
  recipe_of debs >"$(stamp_of debs)"
  log "debs: unpacked into $ROOTFS in $(elapsed "$t0")"
}

# ---- pause image ----------------------------------------------------------------------------
build_pause() {
  local t0 d l; t0=$(now)
  go_env
  d="$CACHE/pause"; rm -rf "$d" && mkdir -p "$d/layer" "$d/oci/blobs/sha256"
  (cd "$HERE/k8s/pause" && go build -ldflags "-s -w" -o "$d/layer/pause" .) || { log "pause: build failed"; return 1; }
  # An OCI image layout by hand: one layer with /pause, a config, a manifest, an index.
  tar -C "$d/layer" --owner=0 --group=0 --numeric-owner --mtime='2000-01-01' -cf "$d/layer.tar" pause
  l="$(sha256sum "$d/layer.tar" | cut -d' ' -f1)"; cp "$d/layer.tar" "$d/oci/blobs/sha256/$l"
  D="$d" L="$l" SIZE="$(stat -c %s "$d/layer.tar")" node -e '
    const fs = require("fs"), crypto = require("crypto"), e = process.env;
    const blob = (obj) => { const b = Buffer.from(JSON.stringify(obj)); const h = crypto.createHash("sha256").update(b).digest("hex");
      fs.writeFileSync(`${e.D}/oci/blobs/sha256/${h}`, b); return { digest: "sha256:" + h, size: b.length }; };
    const config = blob({ architecture: "amd64", os: "linux", config: { Entrypoint: ["/pause"], User: "65535:65535" },
      rootfs: { type: "layers", diff_ids: ["sha256:" + e.L] } });
    const manifest = blob({ schemaVersion: 2, mediaType: "application/vnd.oci.image.manifest.v1+json",
      config: { mediaType: "application/vnd.oci.image.config.v1+json", ...config },
      layers: [{ mediaType: "application/vnd.oci.image.layer.v1.tar", digest: "sha256:" + e.L, size: Number(e.SIZE) }] });
    fs.writeFileSync(`${e.D}/oci/oci-layout`, JSON.stringify({ imageLayoutVersion: "1.0.0" }));
    fs.writeFileSync(`${e.D}/oci/index.json`, JSON.stringify({ schemaVersion: 2, manifests: [{
      mediaType: "application/vnd.oci.image.manifest.v1+json", ...manifest,
      annotations: { "org.opencontainers.image.ref.name": "registry.k8s.io/pause:3.10",
                     "io.containerd.image.name": "registry.k8s.io/pause:3.10" } }] }));'
  tar -C "$d/oci" -cf "$PAUSE_TAR" .
  rm -rf "$d/layer" "$d/layer.tar" "$d/oci"
  recipe_of pause >"$(stamp_of pause)"
  log "pause: $PAUSE_TAR in $(elapsed "$t0")"
}

# ---- provider -------------------------------------------------------------------------------
build_provider() {
  local t0 mod src out pulumi; t0=$(now)
  # The CLI scripts/toolchain.sh provides (it registers the plugin in the same PULUMI_HOME).
  pulumi="$(bash "$HERE/toolchain.sh" --status | node -e 'const s=JSON.parse(require("fs").readFileSync(0,"utf8")); console.log(s.pulumi||"")')"
  [ -n "$pulumi" ] || { log "provider: no Pulumi CLI to register the plugin with (run scripts/toolchain.sh first)"; return 1; }
  out="$PROVIDER_DIR/bin/pulumi-resource-kubernetes"
  if [ "$(cat "$(stamp_of provider)" 2>/dev/null || true)" != "$(recipe_of provider)" ] || [ ! -x "$out" ]; then
    go_env
    mkdir -p "$PROVIDER_DIR"
    log "provider: downloading $PROVIDER_MODULE@$PROVIDER_PSEUDO (v$PROVIDER_VERSION) ..."
    mod="$(go mod download -json "$PROVIDER_MODULE@$PROVIDER_PSEUDO" | node -e 'const j=JSON.parse(require("fs").readFileSync(0,"utf8")); if(j.Error){console.error(j.Error);process.exit(1)} console.log(j.Dir)')"
    src="$PROVIDER_DIR/src"
    rm -rf "$src" && cp -r "$mod" "$src" && chmod -R u+w "$src"
    # Its go.mod replaces the SDK with ../sdk (the repository's sibling folder): the published SDK of
    # the same release instead.
    sed -i -E "s#^replace github.com/pulumi/pulumi-kubernetes/sdk/v4 => \.\./sdk#replace github.com/pulumi/pulumi-kubernetes/sdk/v4 => github.com/pulumi/pulumi-kubernetes/sdk/v4 v$PROVIDER_VERSION#" "$src/go.mod"
    # What the release's `go generate` writes: the schema with its version, and the mapping, embedded.
    (cd "$src/cmd/pulumi-resource-kubernetes" && V="$PROVIDER_VERSION" node -e '
      const fs = require("fs");
      const s = JSON.parse(fs.readFileSync("schema.json", "utf8")); s.version = process.env.V;
      fs.writeFileSync("schema-embed.json", JSON.stringify(s));
      fs.writeFileSync("terraform-mapping-embed.json", JSON.stringify(JSON.parse(fs.readFileSync("terraform-mapping.json", "utf8"))));')
    mkdir -p "$PROVIDER_DIR/bin"
    log "provider: compiling pulumi-resource-kubernetes $PROVIDER_VERSION (go build -p ${AI_FLEET_GO_JOBS:-2}; minutes on a cold Go cache) ..."
    : >"$PROVIDER_DIR/build.log"
    if ! go_build provider "$PROVIDER_DIR/build.log" "$src" -p "${AI_FLEET_GO_JOBS:-2}" -o "$out.tmp" \
        -ldflags "-s -w -X $PROVIDER_MODULE/pkg/version.Version=$PROVIDER_VERSION" ./cmd/pulumi-resource-kubernetes; then
      log "provider: compile failed after $(elapsed "$t0"); the end of $PROVIDER_DIR/build.log:"
      tail -n 15 "$PROVIDER_DIR/build.log" | sed 's/^/[kubernetes]   /' >&2
      return 1
    fi
    mv -f "$out.tmp" "$out" && rm -rf "$src"
    recipe_of provider >"$(stamp_of provider)"
    log "provider: built in $(elapsed "$t0") ($(du -h "$out" | cut -f1))"
  fi
  if ! cmp -s "$out" "$(plugin_bin)"; then
    local re=(); [ -d "$(dirname "$(plugin_bin)")" ] && re=(--reinstall)
    PULUMI_HOME="$PULUMI_HOME_DIR" "$pulumi" plugin install resource kubernetes "$PROVIDER_VERSION" --file "$out" "${re[@]}" >&2
    cmp -s "$out" "$(plugin_bin)" || { log "provider: 'pulumi plugin install' did not put it in $(dirname "$(plugin_bin)")"; return 1; }
  fi
  log "provider: kubernetes $PROVIDER_VERSION registered in $PULUMI_HOME_DIR ($(elapsed "$t0"))"
}

status_json() {
  local p missing="" why
  for p in binaries debs pause provider; do
    if ! present "$p"; then
      case "$p" in
        binaries) why="Kubernetes $K8S_VERSION binaries not built" ;; debs) why="$DEBS not unpacked" ;;
        pause) why="no pause image" ;; provider) why="pulumi-resource-kubernetes $PROVIDER_VERSION not built or not registered" ;;
      esac
      missing="$missing\"$p\":\"$why: run scripts/kubernetes.sh $p\","
    fi
  done
  printf '{"binDir":"%s","rootfs":"%s","pause":"%s","missing":{%s}}\n' "$BIN_DIR" "$ROOTFS" "$PAUSE_TAR" "${missing%,}"
}

case "${1:-}" in
  --status) status_json; exit 0 ;;
  --env) printf 'K8S_BIN=%s\nK8S_ROOTFS=%s\nK8S_PAUSE_TAR=%s\nK8S_VERSION=%s\n' "$BIN_DIR" "$ROOTFS" "$PAUSE_TAR" "$K8S_VERSION"; exit 0 ;;
  -h|--help) awk 'NR > 1 && /^set -euo/ { exit } NR > 1' "${BASH_SOURCE[0]}"; exit 0 ;;
esac
parts=("$@"); [ ${#parts[@]} -gt 0 ] || parts=(debs pause binaries provider)
mkdir -p "$CACHE"
# One lock per part: two set-ups (or a set-up and a test) never build the same part at once, while
# different parts (the set-up's lanes run binaries and provider side by side) do not wait on each other.
lock_part() {
  exec 9>"$CACHE/.lock.$1"
  flock -n 9 || { log "$1: another scripts/kubernetes.sh is building it; waiting"; flock 9; }
}
# ensure PART WHERE BUILD: the part under its lock, cached (said where) or built.
ensure() {
  lock_part "$1"
  present "$1" && log "$1: $2" || "$3"
}
for p in "${parts[@]}"; do
  case "$p" in
    binaries) ensure binaries "cached ($BIN_DIR)" build_binaries ;;
    debs) ensure debs "cached ($ROOTFS)" fetch_debs ;;
    pause) ensure pause "cached ($PAUSE_TAR)" build_pause ;;
    provider) ensure provider "kubernetes $PROVIDER_VERSION registered" build_provider ;;
    *) log "unknown part '$p' (binaries, debs, pause, provider)"; exit 2 ;;
  esac
done
