#!/usr/bin/env bash
# scripts/k8s/cluster.sh — a private single-node Kubernetes 1.34.4 cluster for the cluster tests,
# everything in one state directory, from what scripts/kubernetes.sh builds and unpacks (the kube
# binaries, Debian's etcd, containerd, runc and CNI plugins, the pause image). Nothing is installed.
#
# Usage:
#   scripts/k8s/cluster.sh up STATE_DIR [--node-name NAME] [--label k=v]... [--gpus N]
#       starts etcd, containerd, kube-apiserver, controller-manager, scheduler and kubelet; waits for
#       the node to be Ready and the default service account; labels the node; with --gpus N makes
#       the node advertise N `nvidia.com/gpu` (a status patch: no device, for scheduling tests).
#       Prints the kubeconfig's path on stdout (context `ai-fleet-test`), progress on stderr.
#   scripts/k8s/cluster.sh down STATE_DIR     stops it all and removes STATE_DIR; safe to run twice
#   scripts/k8s/cluster.sh status STATE_DIR   exit 0 when the API answers and the node is Ready
#
# What this VM needs, and why each workaround is here:
#   - CAP_SYS_RESOURCE is withheld even from root: runc fails every pod sandbox ("can't get final
#     child's PID from pipe: EOF") unless containerd's CRI sets `restrict_oom_score_adj = true`.
#   - cgroup v1 and PID 1 is not systemd: kubelet and containerd use the cgroupfs driver, and the
#     kubelet's `failCgroupV1: false` keeps v1 allowed.
#   - The kubelet sets vm.overcommit_memory, kernel.panic and kernel.panic_on_oops on the host: on a
#     shared machine throwaway files are bind-mounted over them for the cluster's life.
#   - Nothing can be pulled from public registries: the pause image is imported from a local
#     archive; the pods' own images come from the local registry (127.0.0.1:5000, plain HTTP),
#     which containerd reaches through a hosts.toml; the credentials are the pods' image pull
#     secret, not containerd's config.
#   - CNI: a bridge on a private /24 without masquerade, and portmap so that pod hostPorts answer
#     on 127.0.0.1 (its SNAT for localhost); the kubelet's `makeIPTablesUtilChains: false` leaves
#     the host's iptables alone otherwise. No kube-proxy and no CoreDNS: Services exist, ClusterIPs
#     and cluster DNS do not route (the tests use hostPorts).
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
# shellcheck source=../local/lib.sh
source "$HERE/../local/lib.sh" # proc_running; log and die are this script's own (below)
BRIDGE="aif-k8s0"
SUBNET="10.88.77.0/24"
SERVICE_RANGE="10.96.0.0/24"
CONTEXT="ai-fleet-test"

log() { printf '[cluster] %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }
now() { date +%s; }

[ $# -ge 2 ] || die "usage: $0 up|down|status STATE_DIR [--node-name NAME] [--label k=v]... [--gpus N]"
CMD="$1"; S="$(mkdir -p "$2" && cd "$2" && pwd)"; shift 2
NODE="ai-fleet-node"; LABELS=(); GPUS=0
while [ $# -gt 0 ]; do
  case "$1" in
    --node-name) NODE="$2"; shift ;;
    --label) LABELS+=("$2"); shift ;;
    --gpus) GPUS="$2"; shift ;;
    *) die "unknown argument '$1'" ;;
  esac
  shift
done

eval "$(bash "$ROOT/scripts/kubernetes.sh" --env | sed 's/^/export /')"
R="$K8S_ROOTFS"; B="$K8S_BIN"
SOCK="$S/containerd/containerd.sock"
KUBECTL() { "$B/kubectl" --kubeconfig "$S/kubeconfig" "$@"; }
CTR() { "$R/usr/bin/ctr" --address "$SOCK" -n k8s.io "$@"; }

# free_port: a TCP port nothing listens on (from a range the tests' host ports do not use).
free_port() {
  local p
  for p in $(shuf -i 32000-32700 -n 50); do
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then echo "$p"; return 0; fi
  done
  die "no free port"
}

# start NAME CMD...: a daemon in the background, its pid in pids/NAME, its log in logs/NAME.log.
start() {
  local name=$1; shift
  setsid "$@" >"$S/logs/$name.log" 2>&1 < /dev/null &
  echo $! >"$S/pids/$name"
}
# proc_running (lib.sh), not kill -0: a daemon this script did not start, killed or dead, stays a
# zombie where PID 1 reaps no orphans, and kill -0 reaches zombies.
alive() { [ -s "$S/pids/$1" ] && proc_running "$(cat "$S/pids/$1")"; }
# wait_for WHAT SECONDS DAEMON CMD...: until CMD succeeds; the daemon's log tail if it died or time ran out.
wait_for() {
  local what=$1 secs=$2 daemon=$3 i; shift 3
  for ((i = 0; i < secs * 4; i++)); do
    if "$@" >/dev/null 2>&1; then return 0; fi
    if [ -n "$daemon" ] && ! alive "$daemon"; then
      log "$daemon exited while waiting for $what; the end of its log:"; tail -n 20 "$S/logs/$daemon.log" >&2; return 1
    fi
    sleep 0.25
  done
  if [ -n "$daemon" ]; then log "timed out after ${secs}s waiting for $what; the end of the log of $daemon:"; else log "timed out after ${secs}s waiting for $what"; fi
  [ -z "$daemon" ] || tail -n 20 "$S/logs/$daemon.log" >&2
  return 1
}

certs() {
  local d="$S/pki"; mkdir -p "$d"
  openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=ai-fleet-test-ca" -keyout "$d/ca.key" -out "$d/ca.crt" 2>/dev/null
  sign() { # sign NAME SUBJECT [SAN]
    openssl req -newkey rsa:2048 -nodes -subj "$2" -keyout "$d/$1.key" -out "$d/$1.csr" 2>/dev/null
    if [ -n "${3:-}" ]; then printf 'subjectAltName=%s\n' "$3" >"$d/$1.ext"; else : >"$d/$1.ext"; fi
    openssl x509 -req -in "$d/$1.csr" -CA "$d/ca.crt" -CAkey "$d/ca.key" -CAcreateserial -days 2 -extfile "$d/$1.ext" -out "$d/$1.crt" 2>/dev/null
  }
  sign apiserver "/CN=kube-apiserver" "IP:127.0.0.1,IP:10.96.0.1,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc"
  sign admin "/CN=ai-fleet-admin/O=system:masters"
  openssl genrsa -out "$d/sa.key" 2048 2>/dev/null
  openssl rsa -in "$d/sa.key" -pubout -out "$d/sa.pub" 2>/dev/null
}

kubeconfig() {
  cat >"$S/kubeconfig" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: $CONTEXT
  cluster:
    server: https://127.0.0.1:$API_PORT
    certificate-authority: $S/pki/ca.crt
users:
- name: admin
  user:
    client-certificate: $S/pki/admin.crt
    client-key: $S/pki/admin.key
contexts:
- name: $CONTEXT
  context: { cluster: $CONTEXT, user: admin }
current-context: $CONTEXT
EOF
}

containerd_config() {
  mkdir -p "$S/containerd/certs.d/127.0.0.1:5000" "$S/cni/net.d" "$S/cni/ipam"
  cat >"$S/containerd/certs.d/127.0.0.1:5000/hosts.toml" <<'EOF'
server = "http://127.0.0.1:5000"
[host."http://127.0.0.1:5000"]
  capabilities = ["pull", "resolve"]
EOF
  cat >"$S/containerd/config.toml" <<EOF
version = 2
root = "$S/containerd/root"
state = "$S/containerd/state"
[grpc]
  address = "$SOCK"
[ttrpc]
  address = "$SOCK.ttrpc"
[plugins."io.containerd.internal.v1.opt"]
  path = "$S/containerd/opt"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "registry.k8s.io/pause:3.10"
  restrict_oom_score_adj = true
  enable_selinux = false
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        BinaryName = "$R/usr/sbin/runc"
        SystemdCgroup = false
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "$R/usr/lib/cni"
    conf_dir = "$S/cni/net.d"
  [plugins."io.containerd.grpc.v1.cri".registry]
    config_path = "$S/containerd/certs.d"
EOF
  cat >"$S/cni/net.d/10-ai-fleet.conflist" <<EOF
{
  "cniVersion": "0.4.0",
  "name": "ai-fleet-test",
  "plugins": [
    { "type": "bridge", "bridge": "$BRIDGE", "isGateway": true, "ipMasq": false, "hairpinMode": true,
      "ipam": { "type": "host-local", "ranges": [[{ "subnet": "$SUBNET" }]], "routes": [{ "dst": "0.0.0.0/0" }], "dataDir": "$S/cni/ipam" } },
    { "type": "portmap", "capabilities": { "portMappings": true }, "snat": true }
  ]
}
EOF
}

kubelet_config() {
  mkdir -p "$S/kubelet"
  cat >"$S/kubelet/config.yaml" <<EOF
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
address: 127.0.0.1
port: $KUBELET_PORT
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
healthzPort: $KUBELET_HEALTHZ
authentication:
  anonymous: { enabled: false }
  webhook: { enabled: false }
  x509: { clientCAFile: $S/pki/ca.crt }
authorization: { mode: AlwaysAllow }
cgroupDriver: cgroupfs
failCgroupV1: false
makeIPTablesUtilChains: false
containerRuntimeEndpoint: unix://$SOCK
failSwapOn: false
protectKernelDefaults: false
serializeImagePulls: false
containerLogMaxSize: 10Mi
containerLogMaxFiles: 3
evictionHard: { memory.available: "100Mi", nodefs.available: "1%", imagefs.available: "1%", nodefs.inodesFree: "1%" }
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
EOF
}

# The sysctls the kubelet insists on setting: throwaway files over them while the cluster runs.
sysctl_guard() {
  local f name
  mkdir -p "$S/sysctl"
  for f in /proc/sys/vm/overcommit_memory /proc/sys/kernel/panic /proc/sys/kernel/panic_on_oops; do
    name="$(echo "$f" | tr / _)"
    if ! grep -q " $f " /proc/mounts; then
      cat "$f" >"$S/sysctl/$name"
      mount --bind "$S/sysctl/$name" "$f"
    fi
  done
}
sysctl_release() {
  local f
  for f in /proc/sys/vm/overcommit_memory /proc/sys/kernel/panic /proc/sys/kernel/panic_on_oops; do
    while grep -q " $f " /proc/mounts; do umount "$f" 2>/dev/null || umount -l "$f" || break; done
  done
}

node_ready() { [ "$(KUBECTL get node "$NODE" -o 'jsonpath={.status.conditions[?(@.type=="Ready")].status}' 2>/dev/null)" = True ]; }

up() {
  local t0; t0=$(now)
  [ "$(id -u)" -eq 0 ] || die "must run as root (containerd, kubelet, mounts)"
  [ -x "$B/kube-apiserver" ] && [ -x "$R/usr/bin/etcd" ] && [ -s "$K8S_PAUSE_TAR" ] ||
    die "the Kubernetes binaries are not built: run scripts/kubernetes.sh (or npm run setup)"
  if [ -s "$S/kubeconfig" ] && node_ready; then
    log "a cluster in $S already answers"; echo "$S/kubeconfig"; return 0
  fi
  mkdir -p "$S/pids" "$S/logs"
  ip netns list 2>/dev/null | awk '{print $1}' | sort >"$S/netns.before" || true
  [ -d /var/log/pods ] && touch "$S/varlogpods.existed"
  [ -d /var/log/containers ] && touch "$S/varlogcontainers.existed"
  trap 'log "start failed: tearing down"; down_all || true' ERR
  certs
  ETCD_PORT=$(free_port); ETCD_PEER=$(free_port); API_PORT=$(free_port)
  KUBELET_PORT=$(free_port); KUBELET_HEALTHZ=$(free_port); CM_PORT=$(free_port); SCHED_PORT=$(free_port)
  kubeconfig; containerd_config; kubelet_config
  log "etcd on 127.0.0.1:$ETCD_PORT"
  start etcd "$R/usr/bin/etcd" --name default --data-dir "$S/etcd" \
    --listen-client-urls "http://127.0.0.1:$ETCD_PORT" --advertise-client-urls "http://127.0.0.1:$ETCD_PORT" \
    --listen-peer-urls "http://127.0.0.1:$ETCD_PEER" --initial-advertise-peer-urls "http://127.0.0.1:$ETCD_PEER" \
    --initial-cluster "default=http://127.0.0.1:$ETCD_PEER"
  log "containerd on $SOCK"
  start containerd env PATH="$R/usr/bin:$R/usr/sbin:$PATH" "$R/usr/bin/containerd" --config "$S/containerd/config.toml"
  wait_for "etcd" 30 etcd bash -c "exec 3<>/dev/tcp/127.0.0.1/$ETCD_PORT"
  log "kube-apiserver on https://127.0.0.1:$API_PORT"
  start kube-apiserver "$B/kube-apiserver" --etcd-servers "http://127.0.0.1:$ETCD_PORT" \
    --bind-address 127.0.0.1 --advertise-address 127.0.0.1 --secure-port "$API_PORT" \
    --tls-cert-file "$S/pki/apiserver.crt" --tls-private-key-file "$S/pki/apiserver.key" --client-ca-file "$S/pki/ca.crt" \
    --service-account-key-file "$S/pki/sa.pub" --service-account-signing-key-file "$S/pki/sa.key" \
    --service-account-issuer https://kubernetes.default.svc --service-cluster-ip-range "$SERVICE_RANGE" \
    --authorization-mode Node,RBAC --allow-privileged=true
  wait_for "containerd" 30 containerd CTR version
  CTR images import --all-platforms "$K8S_PAUSE_TAR" >/dev/null
  wait_for "the API" 60 kube-apiserver KUBECTL get --raw /readyz
  log "controller-manager, scheduler"
  start kube-controller-manager "$B/kube-controller-manager" --kubeconfig "$S/kubeconfig" --leader-elect=false \
    --bind-address 127.0.0.1 --secure-port "$CM_PORT" --service-account-private-key-file "$S/pki/sa.key" \
    --root-ca-file "$S/pki/ca.crt" --cluster-signing-cert-file "$S/pki/ca.crt" --cluster-signing-key-file "$S/pki/ca.key" \
    --use-service-account-credentials=false --allocate-node-cidrs=false
  start kube-scheduler "$B/kube-scheduler" --kubeconfig "$S/kubeconfig" --leader-elect=false \
    --bind-address 127.0.0.1 --secure-port "$SCHED_PORT"
  sysctl_guard
  log "kubelet (node $NODE)"
  start kubelet env PATH="$R/usr/bin:$R/usr/sbin:$PATH" "$B/kubelet" --config "$S/kubelet/config.yaml" \
    --kubeconfig "$S/kubeconfig" --hostname-override "$NODE" --node-ip 127.0.0.1 \
    --root-dir "$S/kubelet/root" --cert-dir "$S/kubelet/pki"
  wait_for "node $NODE Ready" 120 kubelet node_ready
  local l
  for l in "${LABELS[@]}"; do KUBECTL label node "$NODE" --overwrite "$l" >/dev/null; done
  wait_for "the default service account" 60 kube-controller-manager KUBECTL -n default get serviceaccount default
  if [ "$GPUS" -gt 0 ]; then
    KUBECTL patch node "$NODE" --subresource=status --type=merge -p "{\"status\":{\"capacity\":{\"nvidia.com/gpu\":\"$GPUS\"}}}" >/dev/null
    wait_for "nvidia.com/gpu: $GPUS allocatable" 60 kubelet bash -c \
      "[ \"\$('$B/kubectl' --kubeconfig '$S/kubeconfig' get node '$NODE' -o 'jsonpath={.status.allocatable.nvidia\\.com/gpu}')\" = '$GPUS' ]"
  fi
  trap - ERR
  mkdir -p "$S/bin" && ln -sf "$B/kubectl" "$S/bin/kubectl"
  log "cluster up in $(( $(now) - t0 ))s: node $NODE Ready${LABELS[*]:+, labels ${LABELS[*]}}$([ "$GPUS" -gt 0 ] && echo ", nvidia.com/gpu: $GPUS")"
  echo "$S/kubeconfig"
}

stop_daemon() {
  local name=$1 pid i
  [ -s "$S/pids/$name" ] || return 0
  pid=$(cat "$S/pids/$name")
  kill -TERM "$pid" 2>/dev/null || { rm -f "$S/pids/$name"; return 0; }
  for ((i = 0; i < 40; i++)); do proc_running "$pid" || break; sleep 0.25; done
  kill -KILL "$pid" 2>/dev/null || true
  rm -f "$S/pids/$name"
}

down_all() {
  local t0 id ns i; t0=$(now)
  # 1. Let the kubelet take the pods down (CNI DEL releases their IPs and host ports), briefly.
  if [ -s "$S/kubeconfig" ] && alive kube-apiserver && alive kubelet; then
    KUBECTL delete deployments,replicasets,daemonsets,statefulsets,jobs --all -A --wait=false >/dev/null 2>&1 || true
    KUBECTL delete pods --all -A --grace-period=1 --wait=false >/dev/null 2>&1 || true
    for ((i = 0; i < 60; i++)); do
      [ -z "$(CTR tasks ls -q 2>/dev/null)" ] && break
      sleep 0.5
    done
  fi
  stop_daemon kubelet
  # 2. Whatever is left: kill and remove through containerd.
  if alive containerd; then
    for id in $(CTR tasks ls -q 2>/dev/null); do CTR tasks kill -s SIGKILL "$id" >/dev/null 2>&1 || true; done
    sleep 1
    for id in $(CTR tasks ls -q 2>/dev/null); do CTR tasks delete -f "$id" >/dev/null 2>&1 || true; done
    for id in $(CTR containers ls -q 2>/dev/null); do CTR containers delete "$id" >/dev/null 2>&1 || true; done
  fi
  stop_daemon containerd
  stop_daemon kube-scheduler; stop_daemon kube-controller-manager; stop_daemon kube-apiserver; stop_daemon etcd
  # 3. Shims and anything else started from this directory.
  pkill -KILL -f "$S/" 2>/dev/null || true
  sleep 0.5
  # 4. Mounts under the state directory (deepest first), and the sysctl guards.
  { grep -o " $S[^ ]*" /proc/mounts 2>/dev/null || true; } | sort -r | while read -r m; do umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || true; done
  sysctl_release
  # 5. Network: pods' namespaces this cluster made, the bridge, the portmap chains.
  if [ -f "$S/netns.before" ]; then
    for ns in $({ ip netns list 2>/dev/null || true; } | awk '{print $1}' | sort | comm -13 "$S/netns.before" -); do ip netns delete "$ns" 2>/dev/null || true; done
  fi
  ip link delete "$BRIDGE" 2>/dev/null || true
  { iptables -t nat -S 2>/dev/null || true; } | { grep -E -- '^-A (PREROUTING|OUTPUT|POSTROUTING) .*-j CNI-' || true; } | sed 's/^-A/-D/' |
    while read -r rule; do eval "iptables -t nat $rule" 2>/dev/null || true; done
  for c in $({ iptables -t nat -S 2>/dev/null || true; } | awk '/^-N CNI-/ {print $2}'); do iptables -t nat -F "$c" 2>/dev/null || true; done
  for c in $({ iptables -t nat -S 2>/dev/null || true; } | awk '/^-N CNI-/ {print $2}'); do iptables -t nat -X "$c" 2>/dev/null || true; done
  # 6. The kubelet's pod logs (a fixed path) when this cluster made the folders.
  [ -f "$S/varlogpods.existed" ] || rm -rf /var/log/pods
  [ -f "$S/varlogcontainers.existed" ] || rm -rf /var/log/containers
  rm -rf "$S"
  log "cluster in $S down in $(( $(now) - t0 ))s"
}

case "$CMD" in
  up) up ;;
  down) [ -d "$S" ] && down_all; rmdir "$S" 2>/dev/null || true ;;
  status) [ -s "$S/kubeconfig" ] && KUBECTL get --raw /readyz >/dev/null 2>&1 && node_ready ;;
  *) die "unknown command '$CMD' (up, down, status)" ;;
esac
