#!/usr/bin/env bash
# The Python runner (policy_run.py beside this file) in its own virtualenv, created on first use
# from requirements.txt in a cache outside the checkout; arguments are passed through.
#
#   e2e-tests/python-runner/run.sh --request-path FILE [--settings-path FILE] [--show-patch] MODULE.wasm
#   e2e-tests/python-runner/run.sh --setup        # only create the virtualenv (make python-runner)
#
# Environment:
#   OTEL_POLICY_CACHE   where the virtualenv lives (default ${XDG_CACHE_HOME:-$HOME/.cache}/otel-python-policy)
#   PYTHON              the interpreter that makes the virtualenv (default python3)
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
python="${PYTHON:-python3}"
cache="${OTEL_POLICY_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/otel-python-policy}"

log() { printf '[python-runner] %s\n' "$*" >&2; }

# Keyed by the requirements and the interpreter: a change of either makes a new virtualenv.
pyver="$("$python" -c 'import sys, platform; print("%s-%d.%d.%d" % (platform.python_implementation(), *sys.version_info[:3]))')"
key="$({ cat "$here/requirements.txt"; echo "$pyver"; } | sha256sum | cut -c1-16)"
venv="$cache/python-runner-venv-$key"

if [ ! -e "$venv/.complete" ]; then
    # Debian's python3 makes virtualenvs only with python3-venv (ensurepip) installed.
    if ! "$python" -c 'import ensurepip, venv' >/dev/null 2>&1; then
        log "installing python3-venv"
        sudo_=""; [ "$(id -u)" = 0 ] || sudo_=sudo
        $sudo_ apt-get update -qq && DEBIAN_FRONTEND=noninteractive $sudo_ apt-get install -y -qq python3-venv >/dev/null
    fi
    log "creating $venv ($(grep -v '^#' "$here/requirements.txt" | tr '\n' ' '))"
    mkdir -p "$cache"
    # Built in a temporary sibling and renamed into place: an interrupted run leaves nothing that a
    # later run would trust. Created where it stays (a virtualenv's scripts are not relocatable,
    # but only its python is used here).
    tmp="$venv.tmp.$$"
    rm -rf "$tmp"
    "$python" -m venv "$tmp"
    "$tmp/bin/python" -m pip install --quiet --disable-pip-version-check --root-user-action=ignore \
        -r "$here/requirements.txt"
    touch "$tmp/.complete"
    rm -rf "$venv"
    mv "$tmp" "$venv"
    # Virtualenvs of older requirements are never used again.
    for old in "$cache"/python-runner-venv-*; do
        case "$old" in "$venv"|*.tmp.*) ;; *) rm -rf "$old" ;; esac
    done
fi

if [ "${1:-}" = --setup ]; then
    exit 0
fi
exec "$venv/bin/python" "$here/policy_run.py" "$@"
