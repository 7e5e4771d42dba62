# shellcheck shell=bash
# scripts/pulumi-offline-env.sh — source me:  . scripts/pulumi-offline-env.sh
#
# Sets, in one place, everything Pulumi needs to run offline on these machines with the
# toolchain built by scripts/toolchain.sh (run that first; it is idempotent and fast when warm):
#   PATH                                         toolchain bin dir first (pulumi + pulumi-language-nodejs)
#   PULUMI_SKIP_UPDATE_CHECK=true                no "a new version is available" call home
#   PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION  never try to download a missing plugin
#   PULUMI_AUTOMATION_API_SKIP_VERSION_CHECK     Automation API: don't probe/compare the CLI version
#   PULUMI_CONFIG_PASSPHRASE                     default "ai-fleet-local" only if unset (an empty
#                                                value that is set is kept)
#   PULUMI_BACKEND_URL                           default file://<repo>/.pulumi-state (override it,
#                                                e.g. tests use their own temp dir)
#   PULUMI_VERSION                               only if the CLI had to fall back from the version
#                                                the npm `pulumi` package wants (so `npx pulumi` works)
#   AI_FLEET_PULUMI_BIN_DIR                      the toolchain bin dir
#   AI_FLEET_TOOLCHAIN_STATUS                    command printing the JSON status (plugins present,
#                                                what is missing and why): eval "$AI_FLEET_TOOLCHAIN_STATUS"
#   AI_FLEET_OFFLINE=1                           npm run rollout|rollback|status keep these settings
#                                                for every stack (without it: only for `local`)
# It never exits the calling shell and changes nothing on disk except creating the default
# state directory.

_aif_repo="$(cd "$(dirname "${BASH_SOURCE[0]:-$0}")/.." && pwd)"
_aif_home="${PULUMI_HOME:-$HOME/.pulumi}"

# Versions: the npm `pulumi` package's version (what npx pulumi wants), else the SDK's.
_aif_pin() {
  node -e '
    try { const p = require(process.argv[1]); const n = process.argv[2];
          const v = (p.dependencies || {})[n] || (p.devDependencies || {})[n] || "";
          process.stdout.write(v.replace(/^[~^=v]/, "")); } catch (e) {}
  ' "$_aif_repo/package.json" "$1" 2>/dev/null
}
_aif_pref="$(_aif_pin pulumi)"; _aif_pref="${_aif_pref:-3.250.0}"
_aif_fb="$(_aif_pin @pulumi/pulumi)"; _aif_fb="${_aif_fb:-3.248.0}"

_aif_bin=""
for _aif_v in "$_aif_pref" "$_aif_fb"; do
  if [ -x "$_aif_home/versions/$_aif_v/bin/pulumi" ]; then
    _aif_bin="$_aif_home/versions/$_aif_v/bin"
    if [ "$_aif_v" != "$_aif_pref" ]; then export PULUMI_VERSION="$_aif_v"; fi
    break
  fi
done
if [ -z "$_aif_bin" ]; then
  _aif_bin="$_aif_home/versions/$_aif_pref/bin"
  echo "[pulumi-offline-env] no Pulumi CLI in $_aif_bin yet: run scripts/toolchain.sh" >&2
fi
case ":$PATH:" in
  *":$_aif_bin:"*) ;;
  *) PATH="$_aif_bin:$PATH" ;;
esac
export PATH
export AI_FLEET_PULUMI_BIN_DIR="$_aif_bin"

export PULUMI_SKIP_UPDATE_CHECK=true
export PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION=true
export PULUMI_AUTOMATION_API_SKIP_VERSION_CHECK=true
if [ -z "${PULUMI_CONFIG_PASSPHRASE+x}" ] && [ -z "${PULUMI_CONFIG_PASSPHRASE_FILE:-}" ]; then
  export PULUMI_CONFIG_PASSPHRASE="ai-fleet-local"
fi
if [ -z "${PULUMI_BACKEND_URL:-}" ]; then
  export PULUMI_BACKEND_URL="file://$_aif_repo/.pulumi-state"
  mkdir -p "$_aif_repo/.pulumi-state" 2>/dev/null || true
fi
export AI_FLEET_TOOLCHAIN_STATUS="\"$_aif_repo/scripts/toolchain.sh\" --status"
# The commands (npm run rollout|rollback|status) run with these settings in a shell that sourced
# this script, whatever the stack (cli/decide.ts pulumiSettings); without it, only for `local`.
export AI_FLEET_OFFLINE=1

unset _aif_repo _aif_home _aif_pref _aif_fb _aif_bin _aif_v
unset -f _aif_pin
