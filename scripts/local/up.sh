#!/usr/bin/env bash
# The local stack's real parts, in order: Docker engine, registry, base image, BuildKit, and
# Trivy with the demo's vulnerability DB (the local stack's scan gate reads it). Reuses whatever
# already runs or is cached; prints what was reused or started and how long each step took.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=lib.sh
. "$HERE/lib.sh"

rm -rf "$AI_FLEET_OUTCOME_DIR"
ms() { date +%s%3N; }
secs() { printf '%d.%d' $(( $1 / 1000 )) $(( ($1 % 1000) / 100 )); }
total_start=$(ms)
declare -A took
for step in docker-engine registry base-image; do
  log "== $step"
  t0=$(ms)
  "$HERE/$step.sh" || die "$step.sh failed; nothing after it was run"
  took[$step]=$(secs $(( $(ms) - t0 )))
done
[ "${AI_FLEET_SKIP_BUILDKIT:-0}" = 1 ] || { log "== buildkit"; "$HERE/buildkit.sh" || die "buildkit.sh failed (AI_FLEET_SKIP_BUILDKIT=1 skips it)"; }
if [ "${AI_FLEET_SKIP_TRIVY:-0}" != 1 ]; then
  # The local stack's scan gate (Pulumi.local.yaml, scan.cacheDir) reads this DB; no public DB can
  # be downloaded on these machines. Kept apart from Trivy's own cache, which holds the real DB.
  log "== trivy"
  bash "$HERE/../trivy.sh" || die "scripts/trivy.sh failed (AI_FLEET_SKIP_TRIVY=1 skips it)"
  if [ ! -s "$AI_FLEET_STATE/trivy-demo/db/trivy.db" ]; then
    bash "$HERE/../trivy.sh" --test-db "$AI_FLEET_STATE/trivy-demo" || die "the demo vulnerability DB could not be written"
  fi
  log "trivy: demo vulnerability DB in $AI_FLEET_STATE/trivy-demo"
fi
total=$(secs $(( $(ms) - total_start )))

log "== summary (state dir $AI_FLEET_STATE)"
for step in docker-engine registry base-image; do
  IFS=$'\t' read -r word detail <"${AI_FLEET_OUTCOME_DIR}/$step" || true
  printf '[local]   %-14s %-28s %6ss  %s\n' "$step" "${word:-?}" "${took[$step]}" "${detail:-}" >&2
done
printf '[local]   %-14s %-28s %6ss\n' total "" "$total" >&2
log "registry: http://$AI_FLEET_REGISTRY (user $AI_FLEET_REGISTRY_USER); base image: $(cat "$AI_FLEET_STATE/base-image.ref")"
log "use it: source $HERE/env.sh"
