#!/usr/bin/env bash
# What the policy's own additions cost over the bare injection on the article's pod, in exact
# instructions per fresh call (instructions.sh): MODULE against the same sources built without
# the doctor (`checks::verdict`) and without the pod record (`record::injected`), counted in one
# session. The target: the additions together (the doctor, the record, the image options, the
# workload preview) at most 5% over the bare injection. With the article's settings the image
# options change nothing and a pod gets no preview, so the two taken out are all the pod pays for.
#
#   e2e-tests/bench/extras.sh MODULE     (make extras: MODULE is policy.wasm, built from the work
#                                         tree; the bare module is built from HEAD, so commit first)
#
# WASM_OPT_FLAGS: wasm-opt's flags for the bare module (make passes policy.wasm's).
# ROUNDS: how many times each module is counted (3; the medians are judged).
set -euo pipefail
[ $# -eq 1 ] || { echo "usage: $0 MODULE" >&2; exit 2; }
rounds="${ROUNDS:-3}"
[[ "$rounds" =~ ^[1-9][0-9]*$ ]] || { echo "$0: ROUNDS must be a positive integer, not '$rounds'" >&2; exit 2; }
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
inputs="$root/tests/inputs"
module="$1"
export N="${N:-50}"
work="$(mktemp -d)"
cleanup() { git -C "$root" worktree remove --force "$work/src" >/dev/null 2>&1 || true; rm -rf "$work"; }
trap cleanup EXIT
git -C "$root" worktree add -q --detach "$work/src" HEAD
python3 - "$work/src/src/admission/mod.rs" <<'PY'
import sys
path = sys.argv[1]
text = open(path).read()
cuts = [
    # the doctor: no findings
    ("    let mut findings = checks::verdict(pod, resolved, &targets, subject)?;\n",
     "    let mut findings: Vec<Notice> = Vec::new();\n"),
    # the record: no annotations of its own
    ("        let record = record::injected(&plan, resolved);\n        plan.annotations.extend(record);\n",
     ""),
]
for old, new in cuts:
    if text.count(old) != 1:
        sys.exit(f"extras.sh: {old.strip()!r} is not in {path} once: update the script's cuts")
    text = text.replace(old, new)
open(path, "w").write(text)
PY
target="${CARGO_TARGET_DIR:-$root/target}/bare"
# The cuts leave an import or two unused: those warnings are expected, an error still shows.
(cd "$work/src" && CARGO_TARGET_DIR="$target" cargo build -q --target wasm32-wasip1 --release)
# shellcheck disable=SC2086 # the flags are words
wasm-opt --strip-dwarf ${WASM_OPT_FLAGS:--O3} "$target/wasm32-wasip1/release/otel_python_policy.wasm" \
  -o "$work/bare.wasm"
count() { "$here/instructions.sh" "$1" "$inputs/requests/article-pod.json" "$inputs/settings/article.yaml" | cut -d' ' -f1; }
# The host's share of a count moves by up to about 2,000 instructions from one run to the next
# (the same module, the same inputs), more than the target's margin: each module is counted
# ROUNDS times, the two interleaved, and judged by its median.
bare_counts=() our_counts=()
for _ in $(seq "$rounds"); do
  bare_counts+=("$(count "$work/bare.wasm")")
  our_counts+=("$(count "$module")")
done
median() { printf '%s\n' "$@" | sort -n | awk '{ v[NR] = $1 } END { print (NR % 2 ? v[(NR + 1) / 2] : int((v[NR / 2] + v[NR / 2 + 1]) / 2)) }'; }
bare="$(median "${bare_counts[@]}")"
ours="$(median "${our_counts[@]}")"
echo "| article pod, article settings | instructions per fresh call, median of $rounds | each count |"
echo "|---|---|---|"
echo "| bare injection (no doctor, no record) | $bare | ${bare_counts[*]} |"
echo "| this policy | $ours | ${our_counts[*]} |"
awk -v o="$ours" -v b="$bare" 'BEGIN {
  x = (o - b) / b * 100
  printf "\n| target | measured | result |\n|---|---|---|\n"
  printf "| the additions at most 5%% over the bare injection | +%d (+%.1f%%) | %s |\n",
    o - b, x, (x <= 5 ? "met" : "**missed**")
}'
