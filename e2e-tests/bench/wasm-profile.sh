#!/usr/bin/env bash
# Where a fresh call's instructions go, per wasm function of MODULE: callgrind with a cost per
# instruction address (--dump-instr=yes) over `bench --try REQUEST SETTINGS --fresh-calls N
# --perf-map`, whose engine writes wasmtime's perf map (/tmp/perf-<pid>.map: the address, size and
# name of each compiled function); wasm_profile.py counts the instructions at those addresses to
# the wasm functions and prints, per fresh call, the total (as instructions.sh counts it), the
# wasm code's share, the native code it calls, the host's own work, the top wasm functions and a
# rollup by crate and module path. Exact, like instructions.sh; slower (about a minute for N=50).
#
#   e2e-tests/bench/wasm-profile.sh MODULE REQUEST SETTINGS     (N=50 calls by default; TOP=30)
#   make wasm-profile                                           (this policy, with its names)
#
# A module without a name section (policy.wasm: cargo strips it) is profiled with wasmtime's
# `wasm[0]::function[N]` names; `make wasm-profile` builds the same module with its names kept.
set -euo pipefail
[ $# -eq 3 ] || { echo "usage: $0 MODULE REQUEST SETTINGS" >&2; exit 2; }
command -v valgrind >/dev/null || { echo "$0: needs valgrind (apt-get install valgrind)" >&2; exit 2; }
here="$(cd "$(dirname "$0")" && pwd)"
bench="${BENCH:-${CARGO_TARGET_DIR:-target}/host/bench}"
n="${N:-50}"
dir="$(mktemp -d)"
pid=""
trap 'rm -rf "$dir"; [ -z "$pid" ] || rm -f "/tmp/perf-$pid.map"' EXIT
# PEERS_DIR unset: the peers are not needed, and compiling them under callgrind takes a while.
env -u PEERS_DIR valgrind --tool=callgrind --dump-instr=yes --callgrind-out-file="$dir/cg.%p" \
  "$bench" --module "$1" --try "$2" "$3" --fresh-calls "$n" --perf-map >/dev/null 2>"$dir/log" ||
  { cat "$dir/log" >&2; exit 1; }
out="$(ls "$dir"/cg.*)"
pid="${out##*.}"
[ -s "/tmp/perf-$pid.map" ] || { echo "$0: bench wrote no perf map (/tmp/perf-$pid.map)" >&2; exit 1; }
echo "module $1, request $(basename "$2"), settings $(basename "$3")"
python3 "$here/wasm_profile.py" "$out" "/tmp/perf-$pid.map" "$n" "$1" "${TOP:-30}"
