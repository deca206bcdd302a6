#!/usr/bin/env bash
# Telemetry proof: the built policy module mutates a pod, the pod runner starts that pod
# with bubblewrap, and unchanged Python apps must send traces, metrics and logs to a real OTLP/HTTP
# receiver. Usage: e2e-tests/telemetry/run.sh [pytest args...]
#
# Environment:
#   OTEL_POLICY_CACHE   where the pip-installed trees and venvs live
#                       (default ${XDG_CACHE_HOME:-$HOME/.cache}/otel-python-policy)
#   PYTHON              the interpreter that plays the app image's Python (default python3)
#   TELEMETRY_SKIP_BUILD=1  do not call cargo (the module and policy-run are already built)
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
python="${PYTHON:-python3}"
cache="${OTEL_POLICY_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/otel-python-policy}"
mkdir -p "$cache"

log() { printf '[telemetry] %s\n' "$*" >&2; }

# --- bubblewrap: the isolation tool that mounts each volume at its mountPath -----------------------
if ! command -v bwrap >/dev/null 2>&1; then
    log "installing bubblewrap"
    if [ "$(id -u)" = 0 ]; then
        apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq bubblewrap >/dev/null
    else
        sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq bubblewrap >/dev/null
    fi
fi

# --- cached Python trees, keyed by the requirements file and the interpreter ----------------------
pyver="$("$python" -c 'import sys,platform; print("%s-%d.%d.%d" % (platform.python_implementation(), *sys.version_info[:3]))')"
# Bump layout when the way a tree is built changes, so that old caches are not reused.
layout=2
key() { { cat "$1"; echo "$pyver layout=$layout"; } | sha256sum | cut -c1-16; }

# A tree is built in a temporary sibling and renamed into place, so an interrupted run never leaves a
# half-installed tree that a later run would trust.
autoinst="$cache/autoinstrumentation-$(key "$here/requirements-autoinstrumentation.txt")"
if [ ! -e "$autoinst/.complete" ]; then
    log "building the autoinstrumentation tree in $autoinst (pip install --target)"
    tmp="$autoinst.tmp.$$"
    rm -rf "$tmp"
    # Byte-compiled (pip's default), as the image's tree is. `cp -r` gives the copies new mtimes, so
    # in the pod these timestamp-checked .pyc files are stale and Python recompiles, as it does
    # with the operator's image.
    "$python" -m pip install --quiet --disable-pip-version-check --root-user-action=ignore \
        --target "$tmp" -r "$here/requirements-autoinstrumentation.txt"
    touch "$tmp/.complete"
    rm -rf "$autoinst"
    mv "$tmp" "$autoinst"
fi

# Trees installed without dependencies, only read or put on a PYTHONPATH: the image's every
# instrumentation package (for the list of instrumentation names the policy knows) and the
# preflight scenarios' pinned packages (one folder per line of the pins file).
install_no_deps() { # $1 = tree dir, $2 = requirements file, $3 = "pins" for the folder-per-line format
    local dir="$1" req="$2" tmp="$1.tmp.$$"
    if [ -e "$dir/.complete" ]; then return; fi
    log "installing $(basename "$req") into $dir (pip install --no-deps --target)"
    rm -rf "$tmp"
    if [ "${3:-}" = pins ]; then
        grep -v '^#' "$req" | while read -r folder requirement; do
            [ -n "$folder" ] || continue
            "$python" -m pip install --quiet --disable-pip-version-check --root-user-action=ignore \
                --no-deps --target "$tmp/$folder" "$requirement"
        done
    else
        "$python" -m pip install --quiet --disable-pip-version-check --root-user-action=ignore \
            --no-deps --target "$tmp" -r "$req"
    fi
    touch "$tmp/.complete"
    rm -rf "$dir"
    mv "$tmp" "$dir"
}
imageinst="$cache/image-instrumentations-$(key "$here/requirements-image-instrumentations.txt")"
pins="$cache/preflight-pins-$(key "$here/requirements-preflight-pins.txt")"
install_no_deps "$imageinst" "$here/requirements-image-instrumentations.txt"
install_no_deps "$pins" "$here/requirements-preflight-pins.txt" pins

make_venv() { # $1 = venv dir, $2 = requirements file
    local dir="$1" req="$2"
    if [ -e "$dir/.complete" ]; then return; fi
    log "creating $dir"
    rm -rf "$dir"
    # Created in place (venvs are not relocatable for their scripts); a failed run is retried afresh.
    "$python" -m venv "$dir"
    "$dir/bin/python" -m pip install --quiet --disable-pip-version-check --root-user-action=ignore -r "$req"
    touch "$dir/.complete"
}
appvenv="$cache/apps-venv-$(key "$here/requirements-apps.txt")"
testvenv="$cache/tests-venv-$(key "$here/requirements-tests.txt")"
make_venv "$appvenv" "$here/requirements-apps.txt"
make_venv "$testvenv" "$here/requirements-tests.txt"

# Trees and venvs from older requirements are never used again: remove them.
for current in "$autoinst" "$appvenv" "$testvenv" "$imageinst" "$pins"; do
    for old in "${current%-*}"-*; do
        case "$old" in "$current"|*.tmp.*) ;; *) rm -rf "$old" ;; esac
    done
done

# --- the module and the kwctl-like host (shared target dir, nothing else is built here) ------------
if [ "${TELEMETRY_SKIP_BUILD:-0}" != 1 ]; then
    log "building the policy module and policy-run"
    (cd "$repo" && cargo build --quiet --target wasm32-wasip1 --release)
    (cd "$repo" && cargo build --quiet -p e2e-tests --profile host --bin policy-run)
fi
target="${CARGO_TARGET_DIR:-$repo/target}"
export TELEMETRY_POLICY_RUN="${TELEMETRY_POLICY_RUN:-$target/host/policy-run}"
export TELEMETRY_POLICY_WASM="${TELEMETRY_POLICY_WASM:-$target/wasm32-wasip1/release/otel_python_policy.wasm}"
export TELEMETRY_AUTOINSTRUMENTATION="$autoinst"
export TELEMETRY_APP_VENV="$appvenv"
export TELEMETRY_IMAGE_INSTRUMENTATIONS="$imageinst"
export TELEMETRY_PREFLIGHT_PINS="$pins"
export TELEMETRY_ARTIFACTS="${TELEMETRY_ARTIFACTS:-$cache/last-run}"
mkdir -p "$TELEMETRY_ARTIFACTS"

cd "$here"
log "running pytest (artifacts: $TELEMETRY_ARTIFACTS)"
exec "$testvenv/bin/python" -m pytest -p no:cacheprovider "$@"
