#!/usr/bin/env bash
# Instructions per fresh-instance call, counted with valgrind's callgrind (exact, unlike timings on
# a shared machine): `bench --try REQUEST SETTINGS --fresh-calls N` instantiates MODULE N times and
# calls validate once in each; the count is the main thread's instructions minus the module's
# loading and compilation, divided by N. Run for this policy and for the peers (noop.wasm,
# pod-ndots.wasm) to compare what a fresh call costs.
#
#   e2e-tests/bench/instructions.sh MODULE REQUEST SETTINGS     (N=300 calls by default)
#   make instructions                                           (the README's figures)
#
# Where they go, per wasm function of the module: wasm-profile.sh (make wasm-profile).
set -euo pipefail
[ $# -eq 3 ] || { echo "usage: $0 MODULE REQUEST SETTINGS" >&2; exit 2; }
command -v valgrind >/dev/null || { echo "$0: needs valgrind (apt-get install valgrind)" >&2; exit 2; }
bench="${BENCH:-${CARGO_TARGET_DIR:-target}/host/bench}"
n="${N:-300}"
out="$(mktemp)"
trap 'rm -f "$out"' EXIT
# PEERS_DIR unset: with it, bench loads the peers too, and dropping them at the end of the run
# (outside the fresh calls, not in Module::load) would add about 10k to every count at N=50.
env -u PEERS_DIR valgrind --tool=callgrind --callgrind-out-file="$out" "$bench" --module "$1" \
  --try "$2" "$3" --fresh-calls "$n" >/dev/null 2>&1
total="$(callgrind_annotate --inclusive=yes --threshold=100 "$out" 2>/dev/null | awk '
  /bench::main /{gsub(",","",$1); m=$1} /bench::Module::load /{gsub(",","",$1); l=$1}
  END{print m-l}')"
echo "$(( total / n )) instructions per fresh call: $(basename "$1") $(basename "$2") $(basename "$3")"
