#!/usr/bin/env bash
# policy-server under load on loopback: this policy next to the peers pod-ndots and noop, served
# by the same policy-server, measured in the same run, interleaved round by round.
#
#   e2e-tests/load/run.sh            # make bench-server: 3 rounds x 8 s per policy, markdown on stdout
#   e2e-tests/load/run.sh --check    # make test: 1 round x 2 s per policy, correctness only
#
# Every answer is checked: HTTP 200 and a body byte-identical to the one the server gave the same
# AdmissionReview before the load (itself checked: allowed, and the patch each policy makes).
# Any socket error, other status or other body fails the run. Timings are reported, never asserted.
#
# Environment: POLICY_SERVER (else policy-server on PATH), PEERS_DIR (else ../shared/kubewarden
# when it holds pod-ndots.wasm and noop.wasm; without peers only this policy is loaded),
# ANNOTATED_POLICY_WASM (else annotated-policy.wasm at the root), ROUNDS, SECONDS_PER_RUN,
# CONNECTIONS (default 8), WRK_THREADS (default 1).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "${here}/../.." && pwd)"
source "${root}/e2e-tests/lib/tools.bash"
source "${root}/e2e-tests/lib/policy-server.bash"

check=0
[ "${1:-}" = --check ] && check=1
rounds=${ROUNDS:-$([ "${check}" = 1 ] && echo 1 || echo 3)}
seconds=${SECONDS_PER_RUN:-$([ "${check}" = 1 ] && echo 2 || echo 8)}
connections=${CONNECTIONS:-8}
wrk_threads=${WRK_THREADS:-1}

POLICY_SERVER="$(tool_path policy-server POLICY_SERVER)"
[ -n "${POLICY_SERVER}" ] || { echo "load: policy-server not found (set POLICY_SERVER or put it on PATH)" >&2; exit 2; }
command -v wrk >/dev/null || { echo "load: wrk not installed (apt-get install -y wrk)" >&2; exit 2; }
module="${ANNOTATED_POLICY_WASM:-${root}/annotated-policy.wasm}"
[ -f "${module}" ] || { echo "load: ${module} not found: run make annotate" >&2; exit 2; }
module="$(cd "$(dirname "${module}")" && pwd)/$(basename "${module}")"
peers="$(peers_dir)"

load_before="$(cut -d' ' -f1-3 /proc/loadavg)"
work="$(mktemp -d "${TMPDIR:-/tmp}/otel-python-policy-load.XXXXXX")"
cleanup() { ps_stop; rm -rf "${work}"; }
trap cleanup EXIT INT TERM

# The policies: the README's ClusterAdmissionPolicy, and the peers with settings they accept
# (pod-ndots: `ndots`, the minimum it enforces; noop: none).
policies=(otel-python-autoinstrumentation)
{
  echo "otel-python-autoinstrumentation:"
  echo "  module: file://${module}"
  echo "  allowedToMutate: true"
  echo "  settings:"
  indent "${root}/tests/inputs/settings/article.yaml" 4
  if [ -n "${peers}" ]; then
    echo "pod-ndots:"
    echo "  module: file://${peers}/pod-ndots.wasm"
    echo "  allowedToMutate: true"
    echo "  settings:"
    echo "    ndots: 2"
    echo "noop:"
    echo "  module: file://${peers}/noop.wasm"
    echo "  settings: {}"
  fi
} >"${work}/policies.yml"
[ -n "${peers}" ] && policies+=(pod-ndots noop)
[ -n "${peers}" ] || echo "load: peers not found (PEERS_DIR): measuring this policy alone" >&2

# The same Pod CREATE for every policy: the article's pod, which each of them changes or accepts.
review="${root}/tests/inputs/requests/article-pod.json"
ps_start "${work}" "${work}/policies.yml"

# The expected answer of each policy, checked before it is used as the reference.
for p in "${policies[@]}"; do
  ps_post "${p}" "${review}" >"${work}/${p}.expected.json"
  answer="$(jq -c .response "${work}/${p}.expected.json")"
  [ "$(jq -r .allowed <<<"${answer}")" = true ] || { echo "load: ${p} refused the article's pod: ${answer}" >&2; exit 1; }
  case "${p}" in
    otel-python-autoinstrumentation) want='map(select(.path == "/spec/initContainers"))[0].value[0].name' ; value=opentelemetry-auto-instrumentation-python ;;
    pod-ndots) want='map(select(.path == "/spec/dnsConfig"))[0].value.options[0].value' ; value=2 ;;
    noop) want='"no patch"' ; value="no patch" ;;
  esac
  got="$(jq -r ".patch // empty | @base64d | fromjson | ${want}" <<<"${answer}")"
  [ "${p}" = noop ] && [ "$(jq -r '.patch // "none"' <<<"${answer}")" = none ] && got="no patch"
  [ "${got}" = "${value}" ] || { echo "load: ${p}: unexpected answer ${answer}" >&2; exit 1; }
done

printf '' >"${work}/runs.jsonl"
for round in $(seq "${rounds}"); do
  for i in "${!policies[@]}"; do
    p="${policies[$i]}"
    out="$(timeout $((seconds + 60)) wrk -t"${wrk_threads}" -c"${connections}" -d"${seconds}s" --timeout 10s \
      -s "${here}/admission.lua" "${PS_URL}/validate/${p}" -- "${review}" "${work}/${p}.expected.json" | tail -n 1)"
    jq -c --arg p "${p}" --argjson r "${round}" --argjson o "${i}" '. + {policy: $p, round: $r, order: $o}' \
      <<<"${out}" >>"${work}/runs.jsonl"
  done
done

# One row per policy: requests/s over all its runs, median of the runs' p50 and p99.
table="$(jq -s --argjson c "${connections}" '
  def median: sort | .[(length / 2 | floor)];
  group_by(.policy) | map({
    policy: .[0].policy, order: .[0].order,
    requests: (map(.requests) | add),
    rps: ((map(.requests) | add) / (map(.seconds) | add)),
    p50: (map(.p50_us) | median), p99: (map(.p99_us) | median),
    errors: (map(.socket_errors + .non200) | add), wrong: (map(.wrong) | add),
    answers: (map(.answers) | add), first_wrong: (map(.first_wrong) | map(select(. != "")) | first // "")
  }) | sort_by(.order)' "${work}/runs.jsonl")"

failed=0
while read -r row; do
  p="$(jq -r .policy <<<"${row}")"
  if [ "$(jq -r '.errors + .wrong' <<<"${row}")" != 0 ] || [ "$(jq -r '.requests' <<<"${row}")" = 0 ] \
    || [ "$(jq -r '.answers == .requests' <<<"${row}")" != true ]; then
    echo "load: ${p}: $(jq -c '{requests, answers, errors, wrong, first_wrong}' <<<"${row}")" >&2
    failed=1
  fi
done < <(jq -c '.[]' <<<"${table}")

if [ "${check}" = 1 ]; then
  jq -r '.[] | "load-check: \(.policy): \(.requests) answers checked in \(.rps | floor) requests/s, \(.errors) errors, \(.wrong) wrong"' <<<"${table}"
else
  cpu="$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)"
  echo "## policy-server under load"
  echo
  echo "$("${POLICY_SERVER}" --version | head -n 1), $(wrk --version 2>&1 | head -n 1 | cut -d' ' -f1-2);" \
    "$(nproc) CPUs (${cpu}); load average before the run: ${load_before}."
  echo "wrk -t${wrk_threads} -c${connections}, ${rounds} round(s) of ${seconds} s per policy, interleaved; the article's pod (AdmissionReview, $(stat -c %s "${review}") B) to /validate/<policy> over HTTPS."
  echo
  jq -r '
    "| policy | requests/s | p50 | p99 | answers checked | errors | wrong answers |",
    "|---|---|---|---|---|---|---|",
    (.[] | "| \(.policy) | \(.rps | floor) | \(.p50 / 10 | round / 100) ms | \(.p99 / 10 | round / 100) ms | \(.answers) | \(.errors) | \(.wrong) |")
  ' <<<"${table}"
  if [ -n "${peers}" ]; then
    echo
    jq -r '
      def r: . * 100 | round / 100;
      .[0] as $o |
      "| \($o.policy) vs | requests/s | p50 | p99 |", "|---|---|---|---|",
      (.[1:][] | "| \(.policy) | \($o.rps / .rps | r)x | \($o.p50 / .p50 | r)x | \($o.p99 / .p99 | r)x |")
    ' <<<"${table}"
    # The targets: throughput at least pod-ndots', p99 no worse than pod-ndots'.
    echo
    jq -r '
      def r: . * 100 | round / 100;
      def verdict(met): if met then "met" else "**missed**" end;
      .[0] as $o | (.[] | select(.policy == "pod-ndots")) as $n |
      "| target | measured | result |", "|---|---|---|",
      "| throughput at least pod-ndots\u0027 | \($o.rps / $n.rps | r)x | \(verdict($o.rps >= $n.rps)) |",
      "| p99 at most pod-ndots\u0027 | \($o.p99 / $n.p99 | r)x | \(verdict($o.p99 <= $n.p99)) |"
    ' <<<"${table}"
  fi
  echo
  echo "Load average after the run: $(cut -d' ' -f1-3 /proc/loadavg)."
fi
exit "${failed}"
