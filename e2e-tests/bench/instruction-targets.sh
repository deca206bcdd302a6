#!/usr/bin/env bash
# Instructions per fresh call (instructions.sh) of this policy and the peers for each request of
# the speed targets, in one session, then each target met or missed with its ratio. Counts are
# exact, so unlike the timings of `make bench` they do not move with the machine's load.
#
#   e2e-tests/bench/instruction-targets.sh MODULE PEERS_DIR     (make instructions)
set -euo pipefail
[ $# -eq 2 ] || { echo "usage: $0 MODULE PEERS_DIR" >&2; exit 2; }
here="$(cd "$(dirname "$0")" && pwd)"
inputs="$here/../../tests/inputs"
module="$1" peers="$2"
export N="${N:-50}"
count() { "$here/instructions.sh" "$1" "$inputs/requests/$2" "$inputs/settings/$3" | cut -d' ' -f1; }

# request, settings, peer, at most this many times the peer ("-": no target, this policy
# alone, for the README's figures)
targets=(
  "article-pod.json article.yaml pod-ndots 1.0"
  "pod-no-annotation.json article.yaml noop 1.2"
  "article-deployment.json article.yaml noop 1.5"
  "article-pod.json article-mirror.yaml - -"
)
echo "| request | settings | this policy | noop | pod-ndots | target | ratio | result |"
echo "|---|---|---|---|---|---|---|---|"
for t in "${targets[@]}"; do
  read -r request settings peer at_most <<<"$t"
  ours="$(count "$module" "$request" "$settings")"
  if [ "$peer" = - ]; then
    echo "| $request | $settings | $ours | | | | | |"
    continue
  fi
  noop="$(count "$peers/noop.wasm" "$request" "$settings")"
  ndots="$(count "$peers/pod-ndots.wasm" "$request" "$settings")"
  theirs="$noop"; [ "$peer" = pod-ndots ] && theirs="$ndots"
  awk -v o="$ours" -v p="$theirs" -v m="$at_most" -v r="$request" -v s="$settings" \
    -v n="$noop" -v d="$ndots" -v peer="$peer" 'BEGIN {
      x = o / p
      printf "| %s | %s | %d | %d | %d | at most %.1fx %s | %.3fx | %s |\n",
        r, s, o, n, d, m, peer, x, (x <= m ? "met" : "**missed**")
    }'
done
