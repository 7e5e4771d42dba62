# shellcheck shell=bash
# go_build LABEL LOG DIR ARGS...: `go build -v ARGS` in DIR, its output appended to LOG. go build
# says nothing until it ends, so every 30 s the log's growth (packages compiled, the last one) is
# reported through the caller's `log`. Returns go build's exit status. Sourced by the set-up's
# compile steps (scripts/trivy.sh, scripts/kubernetes.sh), which define `log`; never run.
go_build() {
  local label=$1 log=$2 dir=$3 t0 pid; shift 3
  t0=$(date +%s)
  (cd "$dir" && exec go build -v "$@") >>"$log" 2>&1 &
  pid=$!
  while kill -0 "$pid" 2>/dev/null; do
    for _ in $(seq 1 30); do kill -0 "$pid" 2>/dev/null || break; sleep 1; done
    kill -0 "$pid" 2>/dev/null || break
    log "$label: compiling ... $(( $(date +%s) - t0 ))s, $(grep -c '^[a-z]' "$log" || true) packages so far, last: $(tail -n1 "$log" | cut -c1-80)"
  done
  wait "$pid"
}
