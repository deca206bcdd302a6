#!/usr/bin/env bats
# The annotated module served by the real policy-server, over HTTPS, as the API server calls it.
#
#   bats e2e-tests/policy-server/policy-server.bats     # policy-server on PATH, or POLICY_SERVER=...
#
# One policy-server runs for the whole file (setup_file), on free ports of 127.0.0.1, with a
# certificate made for the run. Its policies.yml holds the README's
# ClusterAdmissionPolicy (the id the Kubewarden controller gives it, `allowedToMutate: true`, the
# article's settings), the same with `failureAction: admit`, the same deployed as a
# validating policy (`allowedToMutate: false`), and the audit role (`audit: true`, as the second
# ClusterAdmissionPolicy of examples/ deploys it: `policyMode: monitor`, not mutating) with the
# article's settings and with its endpoint changed. Module: $ANNOTATED_POLICY_WASM, else
# annotated-policy.wasm at the repository root (`make annotate`).
#
# Cluster mode: the same server reads the cluster from the Kubernetes API stand-in
# (kube-api.py, plain HTTP on 127.0.0.1) serving tests/inputs/clusters/article.yml, and serves the
# policy with `instrumentationSource: cluster` (the contextAwareResources policy.yaml declares,
# host capabilities `kubernetes/*`), mutating and as the audit role. Two more
# policy-servers serve the audit role against the article's cluster on day 2: its Instrumentation
# edited (article-endpoint-changed.yml), and replaced under a new name (article-renamed.yml).
# Each stand-in logs every request it gets to kube-api.log in its server's folder.

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
  kube_api_start "${DIR}" "${ROOT}/tests/inputs/clusters/article.yml" || return 1
  export API_PID=${KUBE_API_PID}
  ps_start "${DIR}" "${DIR}/policies.yml" || return 1
  export PS_PID PS_URL PS_CACERT PS_LOG DIR
  # The audit role on day 2, each cluster with its own stand-in and policy-server.
  local day
  for day in changed renamed; do
    local dir="${BATS_FILE_TMPDIR}/${day}" fixture=article-endpoint-changed
    [ "${day}" = renamed ] && fixture=article-renamed
    mkdir -p "${dir}"
    cp "${DIR}/cert.pem" "${DIR}/key.pem" "${dir}/"
    cluster_policy otel-cluster-audit false 'audit: true' >"${dir}/policies.yml"
    kube_api_start "${dir}" "${ROOT}/tests/inputs/clusters/${fixture}.yml" || return 1
    printf -v "${day^^}_API_PID" %s "${KUBE_API_PID}"
    export "${day^^}_API_PID"
    local main_pid=${PS_PID} main_url=${PS_URL} main_log=${PS_LOG}
    ps_start "${dir}" "${dir}/policies.yml" || { PS_PID=${main_pid}; return 1; }
    printf -v "${day^^}_PID" %s "${PS_PID}"
    printf -v "${day^^}_URL" %s "${PS_URL}"
    PS_PID=${main_pid} PS_URL=${main_url} PS_LOG=${main_log}
  done
  export CHANGED_PID CHANGED_URL RENAMED_PID RENAMED_URL
}

teardown_file() {
  ps_stop
  local pid
  for pid in "${CHANGED_PID:-}" "${RENAMED_PID:-}"; do PS_PID=${pid} ps_stop; done
  for pid in "${API_PID:-}" "${CHANGED_API_PID:-}" "${RENAMED_API_PID:-}"; do kube_api_stop "${pid}"; done
}

# A policy of policies.yml in cluster mode: id $1, allowedToMutate $2, one more setting $3; the
# contextAwareResources policy.yaml declares, host capabilities `kubernetes/*`; the audit role in
# monitor mode, as examples/audit.yaml deploys it.
cluster_policy() {
  echo "$1:"
  echo "  module: file://${MODULE}"
  [ "$2" = false ] && echo "  policyMode: monitor"
  echo "  allowedToMutate: $2"
  echo "  contextAwareResources:"
  sed -n '/^contextAwareResources:/,/^[^ ]/s/^  - /    - /p' "${ROOT}/policy.yaml"
  echo "  hostCapabilities: [\"kubernetes/*\"]"
  echo "  settings:"
  echo "    instrumentationSource: cluster"
  [ -z "${3:-}" ] || echo "    $3"
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
    cluster_policy otel-cluster true
    cluster_policy otel-cluster-audit false 'audit: true'
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

# The audit answer in $output for the review file $1 is a pass: the pod's uid, allowed, no patch,
# no status.
audit_passed() {
  [ "$status" -eq 0 ]
  [ "$(jq -r .response.uid <<<"${output}")" = "$(jq -r .request.object.metadata.uid "$1")" ]
  [ "$(jq -r .response.allowed <<<"${output}")" = true ]
  [ "$(jq -r '.response.patch // "none"' <<<"${output}")" = none ]
  [ "$(jq -r '.response.status // "none"' <<<"${output}")" = none ]
}

# The audit answer in $output is the finding $1: refused with code 400 and that message, no patch.
audit_found() {
  [ "$status" -eq 0 ]
  [ "$(jq -r .response.allowed <<<"${output}")" = false ]
  [ "$(jq -r .response.status.code <<<"${output}")" = 400 ]
  [ "$(jq -r '.response.patch // "none"' <<<"${output}")" = none ]
  [ "$(jq -r .response.status.message <<<"${output}")" = "$1" ]
}

STALE_MESSAGE='pod default/hello-deploy-7d9c8b6f5d-x2x9z is stale: instrumentation monitor/python-instrumentation changed since the pod got it (spec digest 9219f33404342fe7 → eabc8853b5298fcf); to give it the current instrumentation: kubectl rollout restart deployment/hello-deploy -n default'
NO_RECORD_MESSAGE='pod default/hello-deploy-7d9c8b6f5d-x2x9z asks for OpenTelemetry Python instrumentation (instrumentation.opentelemetry.io/inject-python="monitor/python-instrumentation") but carries no record of it: it was created before the policy, or admitted without it; to give it the current instrumentation: kubectl rollout restart deployment/hello-deploy -n default'

@test "policy-server audit: the article's current pod passes" {
  review="$(scanner_review audit-article-pod)"
  run --separate-stderr ps_audit otel-audit "${review}"
  echo "response = ${output}"
  audit_passed "${review}"
}

@test "policy-server audit: the article's pod is stale once the endpoint changed, naming hello-deploy" {
  run --separate-stderr ps_audit otel-audit-endpoint-changed "$(scanner_review audit-article-pod)"
  echo "response = ${output}"
  audit_found "${STALE_MESSAGE}"
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

# ---- cluster mode: the Instrumentation and the pod's owners read through the stand-in ----------

# The requests the stand-in of server folder $1 got, one line each (`METHOD PATH -> STATUS`).
api_log() {
  cat "${BATS_FILE_TMPDIR}/$1/kube-api.log"
}

# The decoded patch of response $1 without the record's version, which names where the
# instrumentation came from (a settings spec's digest, a cluster object's uid and generation).
patch_but_version() {
  decoded_patch <<<"$1" | jq -c 'map(select(.path != "/metadata/annotations/otel-python-policy.github.io~1version"))'
}

@test "policy-server cluster mode: the article's pod gets the settings-mode patch, its Instrumentation and owners read from the cluster" {
  run --separate-stderr ps_post otel-cluster "${ARTICLE}"
  echo "response = ${output}"
  echo "stand-in log:"; api_log server
  [ "$status" -eq 0 ]
  [ "$(jq -r .response.allowed <<<"${output}")" = true ]
  settings_mode="$(ps_post clusterwide-otel-python-autoinstrumentation "${ARTICLE}")"
  # The same injection, the same warning; only the record's version says where it came from.
  [ "$(patch_but_version "${output}")" = "$(patch_but_version "${settings_mode}")" ]
  [ "$(jq -c .response.warnings <<<"${output}")" = "$(jq -c .response.warnings <<<"${settings_mode}")" ]
  [ "$(decoded_patch <<<"${output}" | jq -r '.[] | select(.path == "/metadata/annotations/otel-python-policy.github.io~1version") | .value')" = \
    8b0d2c5e-7f3a-4c1b-9e6d-2a4f6c8e0b13/1 ]
  # What policy-server asked the API server: discovery, then a GET of each object.
  grep -Fx 'GET /apis/opentelemetry.io/v1alpha1/namespaces/monitor/instrumentations/python-instrumentation -> 200' <(api_log server)
  grep -Fx 'GET /apis/apps/v1/namespaces/default/replicasets/hello-deploy-7d9c8b6f5d -> 200' <(api_log server)
}

@test "policy-server cluster mode audit: the article's current pod passes" {
  review="$(scanner_review audit-article-pod-cluster)"
  run --separate-stderr ps_audit otel-cluster-audit "${review}"
  echo "response = ${output}"
  echo "stand-in log:"; api_log server
  audit_passed "${review}"
}

@test "policy-server cluster mode audit: once the Instrumentation is edited the pod is stale, naming the Deployment its ReplicaSet names" {
  review="$(scanner_review audit-article-pod-cluster)"
  PS_URL="${CHANGED_URL}" run --separate-stderr ps_audit otel-cluster-audit "${review}"
  echo "response = ${output}"
  echo "stand-in log:"; api_log changed
  audit_found \
    'pod default/hello-deploy-7d9c8b6f5d-x2x9z is stale: instrumentation monitor/python-instrumentation changed since the pod got it (generation 1 → 2); to give it the current instrumentation: kubectl rollout restart deployment/hello-deploy -n default'
  grep -Fx 'GET /apis/apps/v1/namespaces/default/replicasets/hello-deploy-7d9c8b6f5d -> 200' <(api_log changed)
}

@test "policy-server cluster mode audit: a pod whose Instrumentation no longer exists is reported, naming what the cluster lists" {
  review="$(scanner_review audit-article-pod-cluster)"
  PS_URL="${RENAMED_URL}" run --separate-stderr ps_audit otel-cluster-audit "${review}"
  echo "response = ${output}"
  echo "stand-in log:"; api_log renamed
  audit_found \
    'pod default/hello-deploy-7d9c8b6f5d-x2x9z: the instrumentation reference no longer resolves: annotation instrumentation.opentelemetry.io/inject-python="monitor/python-instrumentation" on a pod in namespace "default" cannot be honoured: the cluster'"'"'s Instrumentation resources define no instrumentation "python-instrumentation" in namespace "monitor". References that would work: "monitor/python-instrumentation-v2"; or "false" for no injection'
  # The GET found nothing; the review of the PolicyServer's rights, then the reflector's LIST and WATCH.
  grep -Fx 'GET /apis/opentelemetry.io/v1alpha1/namespaces/monitor/instrumentations/python-instrumentation -> 404' <(api_log renamed)
  local verb
  for verb in list watch; do
    grep -Fx 'POST /apis/authorization.k8s.io/v1/subjectaccessreviews? -> 201 body={"apiVersion":"authorization.k8s.io/v1","kind":"SubjectAccessReview","metadata":{},"spec":{"resourceAttributes":{"group":"opentelemetry.io","resource":"instrumentations","verb":"'"${verb}"'"},"user":"system:serviceaccount:kubewarden:policy-server"}}' <(api_log renamed)
  done
  grep -E '^GET /apis/opentelemetry.io/v1alpha1/instrumentations\?.* -> 200 \(1 items\)$' <(api_log renamed)
  grep -E '^GET /apis/opentelemetry.io/v1alpha1/instrumentations\?.*watch=true.* -> 200 \(watch held open, no events\)$' <(api_log renamed)
}
