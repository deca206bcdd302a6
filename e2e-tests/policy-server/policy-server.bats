#!/usr/bin/env bats
# The annotated module served by the real policy-server, over HTTPS, as the API server calls it.
#
#   bats e2e-tests/policy-server/policy-server.bats     # policy-server on PATH, or POLICY_SERVER=...
#
# One policy-server runs for the whole file (setup_file), on free ports of 127.0.0.1, with a
# certificate made for the run and no cluster. Its policies.yml holds the README's
# ClusterAdmissionPolicy (the id the Kubewarden controller gives it, `allowedToMutate: true`, the
# article's settings), the same with `failureAction: admit`, the same deployed as a
# validating policy (`allowedToMutate: false`), and the audit role (`audit: true`, as the second
# ClusterAdmissionPolicy of examples/ deploys it: `policyMode: monitor`, not mutating) with the
# article's settings and with its endpoint changed. Module: $ANNOTATED_POLICY_WASM, else
# annotated-policy.wasm at the repository root (`make annotate`).

bats_require_minimum_version 1.5.0

setup_file() {
  ROOT="$(cd "${BATS_TEST_DIRNAME}/../.." && pwd)"
  source "${ROOT}/e2e-tests/lib/tools.bash"
  source "${ROOT}/e2e-tests/lib/policy-server.bash"
  POLICY_SERVER="$(tool_path policy-server POLICY_SERVER)"
  export POLICY_SERVER
  [ -n "${POLICY_SERVER}" ] || return 0
  MODULE="${ANNOTATED_POLICY_WASM:-${ROOT}/annotated-policy.wasm}"
  [ -f "${MODULE}" ] || { echo "${MODULE} not found: run make annotate" >&2; return 1; }
  MODULE="$(cd "$(dirname "${MODULE}")" && pwd)/$(basename "${MODULE}")"
  export MODULE
  DIR="${BATS_FILE_TMPDIR}/server"
  mkdir -p "${DIR}"
  write_policies "${DIR}/policies.yml" "${ROOT}/tests/inputs/settings/article.yaml"
  ps_start "${DIR}" "${DIR}/policies.yml"
  export PS_PID PS_URL PS_CACERT PS_LOG DIR
}

teardown_file() {
  ps_stop
}

# The README's ClusterAdmissionPolicy as policy-server's policies.yml, plus two variants.
write_policies() {
  local out=$1 settings=$2
  {
    echo "clusterwide-otel-python-autoinstrumentation:"
    echo "  module: file://${MODULE}"
    echo "  allowedToMutate: true"
    echo "  settings:"
    indent "${settings}" 4
    echo "otel-admit:"
    echo "  module: file://${MODULE}"
    echo "  allowedToMutate: true"
    echo "  settings:"
    echo "    failureAction: admit"
    indent "${settings}" 4
    echo "otel-validating:"
    echo "  module: file://${MODULE}"
    echo "  allowedToMutate: false"
    echo "  settings:"
    indent "${settings}" 4
    local id
    for id in otel-audit otel-audit-endpoint-changed; do
      echo "${id}:"
      echo "  module: file://${MODULE}"
      echo "  policyMode: monitor"
      echo "  allowedToMutate: false"
      echo "  settings:"
      indent "${ROOT}/tests/inputs/settings/article-${id#otel-}.yaml" 4
    done
  } >"${out}"
}

setup() {
  ROOT="$(cd "${BATS_TEST_DIRNAME}/../.." && pwd)"
  source "${ROOT}/e2e-tests/lib/tools.bash"
  source "${ROOT}/e2e-tests/lib/policy-server.bash"
  [ -n "${POLICY_SERVER}" ] || skip "policy-server not found (set POLICY_SERVER or put policy-server on PATH)"
  FIX="${ROOT}/tests/inputs"
  ARTICLE="${FIX}/requests/article-pod.json"
}

# The article's AdmissionReview with the pod's inject-python annotation set to $1.
review_with_reference() {
  jq --arg ref "$1" '.request.object.metadata.annotations["instrumentation.opentelemetry.io/inject-python"] = $ref' \
    "${ARTICLE}" >"${BATS_TEST_TMPDIR}/review.json"
  echo "${BATS_TEST_TMPDIR}/review.json"
}

decoded_patch() {
  jq -ec '.response.patch | if . == null then error("no patch") else @base64d | fromjson end'
}

@test "policy-server: the article's pod is mutated, as the API server sees it" {
  run --separate-stderr ps_post clusterwide-otel-python-autoinstrumentation "${ARTICLE}"
  echo "response = ${output}"
  [ "$status" -eq 0 ]
  [ "$(jq -r '.apiVersion + " " + .kind' <<<"${output}")" = "admission.k8s.io/v1 AdmissionReview" ]
  [ "$(jq -r .response.uid <<<"${output}")" = "$(jq -r .request.uid "${ARTICLE}")" ]
  [ "$(jq -r .response.allowed <<<"${output}")" = true ]
  [ "$(jq -r .response.patchType <<<"${output}")" = JSONPatch ]
  patch="$(decoded_patch <<<"${output}")"
  echo "patch = ${patch}"
  # The init container, from the article's settings.
  init="$(jq -c '.[] | select(.path == "/spec/initContainers") | .value[0]' <<<"${patch}")"
  [ "$(jq -r .name <<<"${init}")" = opentelemetry-auto-instrumentation-python ]
  [ "$(jq -r .image <<<"${init}")" = "$(grep -o 'image: .*' "${FIX}/settings/article.yaml" | cut -d' ' -f2)" ]
  [ "$(jq -c .command <<<"${init}")" = '["cp","-r","/autoinstrumentation/.","/otel-auto-instrumentation-python"]' ]
  # The volume and the mount.
  [ "$(jq -c '.[] | select(.path == "/spec/volumes") | .value' <<<"${patch}")" = \
    '[{"emptyDir":{"sizeLimit":"200Mi"},"name":"opentelemetry-auto-instrumentation-python"}]' ]
  [ "$(jq -c '.[] | select(.path == "/spec/containers/0/volumeMounts") | .value' <<<"${patch}")" = \
    '[{"mountPath":"/otel-auto-instrumentation-python","name":"opentelemetry-auto-instrumentation-python"}]' ]
  # The environment the article expects.
  env="$(jq -c '.[] | select(.path == "/spec/containers/0/env") | .value | map({(.name): .value}) | add' <<<"${patch}")"
  [ "$(jq -r .OTEL_SERVICE_NAME <<<"${env}")" = hello-deploy ]
  [ "$(jq -r .OTEL_EXPORTER_OTLP_ENDPOINT <<<"${env}")" = "http://deployment-collector-collector.monitor.svc.cluster.local.:4318" ]
  [ "$(jq -r .OTEL_PROPAGATORS <<<"${env}")" = tracecontext,baggage ]
  [ "$(jq -r .OTEL_TRACES_SAMPLER <<<"${env}")" = parentbased_traceidratio ]
  [ "$(jq -r .OTEL_TRACES_SAMPLER_ARG <<<"${env}")" = 1 ]
  # The record: what the pod got.
  record="$(jq -c '[.[] | select(.path | startswith("/metadata/annotations/otel-python-policy.github.io~1")) | {(.path | sub(".*~1"; "")): .value}] | add' <<<"${patch}")"
  echo "record = ${record}"
  [ "$(jq -r .injected <<<"${record}")" = true ]
  [ "$(jq -r .instrumentation <<<"${record}")" = monitor/python-instrumentation ]
  [ "$(jq -r .image <<<"${record}")" = "$(jq -r .image <<<"${init}")" ]
  [ "$(jq -r .containers <<<"${record}")" = hello-api ]
  # The warning the user sees with kubectl.
  [ "$(jq -r '.response.warnings | length' <<<"${output}")" = 1 ]
  [ "$(jq -r '.response.warnings[0]' <<<"${output}")" = \
    'injected OpenTelemetry Python auto-instrumentation (monitor/python-instrumentation) into container "hello-api" of pod hello-deploy-7d9c8b6f5d-*' ]
}

@test "policy-server: the same patch as kwctl run and policy-run" {
  kwctl="$(tool_path kwctl KWCTL)"
  [ -n "${kwctl}" ] || [ -n "${POLICY_RUN:-}" ] || skip "neither kwctl nor POLICY_RUN to compare with"
  served="$(ps_post clusterwide-otel-python-autoinstrumentation "${ARTICLE}" | jq -c .response)"
  for runner in ${kwctl:+"${kwctl} run"} ${POLICY_RUN:+"${POLICY_RUN}"}; do
    local_="$(${runner} --request-path "${ARTICLE}" --settings-path "${FIX}/settings/article.yaml" "${MODULE}" 2>/dev/null)"
    echo "${runner}: ${local_}"
    [ "$(jq -S . <<<"${local_}")" = "$(jq -S . <<<"${served}")" ]
  done
}

@test "policy-server: the README's typo is refused with the README's message" {
  run --separate-stderr ps_post clusterwide-otel-python-autoinstrumentation "$(review_with_reference monitor/python-instrumentaton)"
  echo "response = ${output}"
  [ "$status" -eq 0 ]
  [ "$(jq -r .response.allowed <<<"${output}")" = false ]
  [ "$(jq -r .response.status.code <<<"${output}")" = 400 ]
  [ "$(jq -r '.response.patch // "none"' <<<"${output}")" = none ]
  # The message block under "A typo in the annotation" in README.md, lines joined.
  readme="$(awk '/A typo in the annotation/ {found=1; next} found && /^```/ {if (inside) exit; inside=1; next} inside' "${ROOT}/README.md" | paste -sd' ')"
  echo "readme   = ${readme}"
  [ -n "${readme}" ]
  [ "$(jq -r .response.status.message <<<"${output}")" = "${readme}" ]
}

@test "policy-server: with failureAction admit the typo is admitted with its spec untouched, the reason as a warning and in its record" {
  run --separate-stderr ps_post otel-admit "$(review_with_reference monitor/python-instrumentaton)"
  echo "response = ${output}"
  [ "$status" -eq 0 ]
  [ "$(jq -r .response.allowed <<<"${output}")" = true ]
  [ "$(jq -r '.response.warnings | length' <<<"${output}")" = 1 ]
  warning="$(jq -r '.response.warnings[0]' <<<"${output}")"
  [[ "${warning}" == *'"python-instrumentaton" in namespace "monitor"'* ]]
  [[ "${warning}" == *'"monitor/python-instrumentation"'* ]]
  # The patch adds the record and nothing else: "not injected", and the warning's reason.
  patch="$(decoded_patch <<<"${output}")"
  echo "patch = ${patch}"
  [ "$(jq -r 'map(.path) | join(" ")' <<<"${patch}")" = \
    "/metadata/annotations/otel-python-policy.github.io~1injected /metadata/annotations/otel-python-policy.github.io~1reason" ]
  [ "$(jq -r '.[0].value' <<<"${patch}")" = false ]
  [ "no instrumentation injected: $(jq -r '.[1].value' <<<"${patch}")" = "${warning}" ]
}

@test "policy-server: a pod without the annotation is admitted without a patch" {
  jq 'del(.request.object.metadata.annotations)' "${ARTICLE}" >"${BATS_TEST_TMPDIR}/plain.json"
  run --separate-stderr ps_post clusterwide-otel-python-autoinstrumentation "${BATS_TEST_TMPDIR}/plain.json"
  echo "response = ${output}"
  [ "$(jq -r .response.allowed <<<"${output}")" = true ]
  [ "$(jq -r '.response.patch // "none"' <<<"${output}")" = none ]
  [ "$(jq -r '.response.warnings' <<<"${output}")" = null ]
}

@test "policy-server: deployed with allowedToMutate false, the pod that asks for instrumentation is rejected" {
  run --separate-stderr ps_post otel-validating "${ARTICLE}"
  echo "response = ${output}"
  [ "$(jq -r .response.allowed <<<"${output}")" = false ]
  [ "$(jq -r '.response.patch // "none"' <<<"${output}")" = none ]
  [ "$(jq -r .response.status.message <<<"${output}")" = \
    "Request rejected by policy otel-validating. The policy attempted to mutate the request, but it is currently configured to not allow mutations." ]
  # A pod that asks for nothing is not mutated, so it is still admitted.
  jq 'del(.request.object.metadata.annotations)' "${ARTICLE}" >"${BATS_TEST_TMPDIR}/plain.json"
  run --separate-stderr ps_post otel-validating "${BATS_TEST_TMPDIR}/plain.json"
  [ "$(jq -r .response.allowed <<<"${output}")" = true ]
}

@test "policy-server: a policy id it does not serve is a 404" {
  run --separate-stderr ps_post otel-python-autoinstrumentation "${ARTICLE}"
  echo "response = ${output}"
  [ "$status" -ne 0 ]
  [ "$(jq -r .status <<<"${output}")" = 404 ]
}

@test "policy-server: invalid settings stop it at start-up with the policy's message" {
  dir="${BATS_TEST_TMPDIR}/bad"
  mkdir -p "${dir}"
  printf 'exporter:\n  endpoint: "otel-collector:4318"\n' >"${dir}/settings.yaml"
  {
    echo "clusterwide-otel-python-autoinstrumentation:"
    echo "  module: file://${MODULE}"
    echo "  allowedToMutate: true"
    echo "  settings:"
    indent "${dir}/settings.yaml" 4
  } >"${dir}/policies.yml"
  if ps_start "${dir}" "${dir}/policies.yml" 2>"${dir}/start.err"; then
    ps_stop
    echo "policy-server started with invalid settings"
    return 1
  fi
  cat "${dir}/start.err"
  grep -F 'Error: Policy settings are invalid: exporter.endpoint: "otel-collector:4318" is not accepted: it must start with http:// or https://' "${dir}/policy-server.log"
}

# ---- the audit role, as Kubewarden's audit scanner calls it ------------------------------------

# The stored pod $1 (tests/inputs/requests/) as the audit scanner's AdmissionReview: the request
# as the scanner builds it (uid the pod's, userInfo empty, CREATE, resource "Pod", the pod with its
# status), with no apiVersion or kind on the review.
scanner_review() {
  local request="${FIX}/requests/$1.json"
  [ "$(jq -r '.uid == .object.metadata.uid and .userInfo == {} and .operation == "CREATE" and .resource.resource == "Pod" and (.object.status | type) == "object"' "${request}")" = true ]
  jq '{request: .}' "${request}" >"${BATS_TEST_TMPDIR}/$1.review.json"
  echo "${BATS_TEST_TMPDIR}/$1.review.json"
}

STALE_MESSAGE='pod default/hello-deploy-7d9c8b6f5d-x2x9z is stale: instrumentation monitor/python-instrumentation changed since the pod got it (spec digest 9219f33404342fe7 → eabc8853b5298fcf); to give it the current instrumentation: kubectl rollout restart deployment/hello-deploy -n default'
NO_RECORD_MESSAGE='pod default/hello-deploy-7d9c8b6f5d-x2x9z asks for OpenTelemetry Python instrumentation (instrumentation.opentelemetry.io/inject-python="monitor/python-instrumentation") but carries no record of it: it was created before the policy, or admitted without it; to give it the current instrumentation: kubectl rollout restart deployment/hello-deploy -n default'

@test "policy-server audit: the article's current pod passes" {
  review="$(scanner_review audit-article-pod)"
  run --separate-stderr ps_audit otel-audit "${review}"
  echo "response = ${output}"
  [ "$status" -eq 0 ]
  [ "$(jq -r .response.uid <<<"${output}")" = "$(jq -r .request.object.metadata.uid "${review}")" ]
  [ "$(jq -r .response.allowed <<<"${output}")" = true ]
  [ "$(jq -r '.response.patch // "none"' <<<"${output}")" = none ]
  [ "$(jq -r '.response.status // "none"' <<<"${output}")" = none ]
}

@test "policy-server audit: the article's pod is stale once the endpoint changed, naming hello-deploy" {
  run --separate-stderr ps_audit otel-audit-endpoint-changed "$(scanner_review audit-article-pod)"
  echo "response = ${output}"
  [ "$status" -eq 0 ]
  [ "$(jq -r .response.allowed <<<"${output}")" = false ]
  [ "$(jq -r .response.status.code <<<"${output}")" = 400 ]
  [ "$(jq -r '.response.patch // "none"' <<<"${output}")" = none ]
  [ "$(jq -r .response.status.message <<<"${output}")" = "${STALE_MESSAGE}" ]
}

@test "policy-server audit: a pod without a record is reported, naming hello-deploy" {
  run --separate-stderr ps_audit otel-audit "$(scanner_review audit-article-pod-before-the-policy)"
  echo "response = ${output}"
  [ "$status" -eq 0 ]
  [ "$(jq -r .response.allowed <<<"${output}")" = false ]
  [ "$(jq -r .response.status.code <<<"${output}")" = 400 ]
  [ "$(jq -r .response.status.message <<<"${output}")" = "${NO_RECORD_MESSAGE}" ]
}

@test "policy-server audit: in monitor mode the audit role blocks no real admission" {
  # The same pod through /validate, as the API server would send it: monitor mode allows it.
  run --separate-stderr ps_post otel-audit "$(scanner_review audit-article-pod-before-the-policy)"
  echo "response = ${output}"
  [ "$status" -eq 0 ]
  [ "$(jq -r .response.allowed <<<"${output}")" = true ]
  [ "$(jq -r '.response.patch // "none"' <<<"${output}")" = none ]
}
