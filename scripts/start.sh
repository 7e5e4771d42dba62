#!/usr/bin/env bash
# npm start: the embedded default in one command. Runs the one-time set-up (scripts/setup.sh: the
# local Docker engine, registry, BuildKit, Trivy, the offline Pulumi toolchain), selects or
# creates the stack `local` in the file backend (.pulumi-state/ unless PULUMI_BACKEND_URL says
# otherwise), and rolls it out with `npm run rollout` (a failed health gate rolls back by itself).
# Where the docker provider plugin is missing, the rollout says so and uses the cli runtime.
# Extra arguments go to the rollout (e.g. npm start -- --no-rollback).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
say() { printf '[start] %s\n' "$*" >&2; }
t0=$(date +%s)

say "1/2 the one-time set-up (scripts/setup.sh): Docker engine, registry (127.0.0.1:5000), BuildKit, Trivy, the Pulumi CLI and plugins"
bash scripts/setup.sh
# shellcheck source=local/env.sh
. scripts/local/env.sh
# shellcheck source=pulumi-offline-env.sh
. scripts/pulumi-offline-env.sh

say "2/2 roll out the stack local (backend ${PULUMI_BACKEND_URL})"
rc=0
npx --no-install ts-node --transpile-only cli/rollout.ts --stack local --create "$@" || rc=$?
say "took $(( $(date +%s) - t0 ))s; rollout exit code $rc"
if [ "$rc" -eq 0 ] || [ "$rc" -eq 1 ]; then
  npx --no-install ts-node --transpile-only cli/status.ts --stack local || true
fi
cat >&2 <<HINTS
[start] what to look at now:
  npm run status -- --stack local          per service: release, digest, health now, when rolled out
  docker ps --filter label=ai-fleet.stack=local
  curl -s http://127.0.0.1:8213/health     ModelOpsCoordinator's health (other ports: npm run status)
  curl -s http://127.0.0.1:8213/profile    the machine profile the container got
  . scripts/pulumi-offline-env.sh && npx pulumi stack output --stack local   tag, images, report, release
  npm run rollback -- --stack local        back to the last release that passed
  bash scripts/local/down.sh               stop what up.sh started and remove the stack's containers
HINTS
exit "$rc"
