#!/usr/bin/env bats
# The article's example and the key fixtures through the real `kwctl run`, cluster mode through
# `kwctl run --replay-host-capabilities-interactions`, and the README's and docs/publishing.md's
# kwctl commands, as documented. Only stdout is read as output: kwctl and
# policy-server log to stderr.
#
#   bats e2e-tests/e2e.bats                                   # kwctl from KWCTL or PATH
#   KWCTL= POLICY_RUN=target/host/policy-run bats e2e-tests/e2e.bats   # the same runs via policy-run
#
# In the policy-run pass the documented kwctl commands are skipped (they run in the kwctl pass),
# `make push` / `make pull` are tested through the project's xtask instead, and `make example`
# through the Python runner (what it uses without kwctl).
# Module: $POLICY_WASM, else annotated-policy.wasm at the repository root (`make annotate`).

bats_require_minimum_version 1.5.0

setup() {
  ROOT="$(cd "${BATS_TEST_DIRNAME}/.." && pwd)"
  FIX="${BATS_TEST_DIRNAME}/../tests/inputs"
  source "${BATS_TEST_DIRNAME}/lib/tools.bash"
  KWCTL_BIN="$(tool_path kwctl KWCTL)"
  if [ -n "${POLICY_RUN:-}" ]; then
    RUNNER=("${POLICY_RUN}")
  elif [ -n "${KWCTL_BIN}" ]; then
    RUNNER=("${KWCTL_BIN}" run)
  else
    skip "kwctl not found (set KWCTL or put kwctl on PATH), and no POLICY_RUN"
  fi
  MODULE="${POLICY_WASM:-${ROOT}/annotated-policy.wasm}"
  [ -f "${MODULE}" ] || skip "policy module ${MODULE} not built (make annotate)"
}

# The documented kwctl commands run in the kwctl pass only.
needs_kwctl_pass() {
  [ -z "${POLICY_RUN:-}" ] || skip "documented kwctl command: runs in the kwctl pass"
}

policy_run() {
  "${RUNNER[@]}" "$@" "${MODULE}"
}

# Decoded JSON patch of a run (stdout only), or exit status 1 when there is none.
patch_of() {
  policy_run "$@" 2>/dev/null | jq -ec '.patch | if . == null then error("no patch") else @base64d | fromjson end'
}

# Asserts that FILE (relative to the repository) shows COMMAND verbatim, so that what is tested
# is what the reader is told to type.
documented() {
  grep -qF -- "$2" "${ROOT}/$1" || { echo "$1 no longer shows: $2"; return 1; }
}

# A scratch copy of what the documented commands read, so they may write where they say.
scratch() {
  WORK="${BATS_TEST_TMPDIR}/work"
  mkdir -p "${WORK}"
  cp "${ROOT}/policy.yaml" "${ROOT}/README.md" "${ROOT}/questions-ui.yml" "${ROOT}/artifacthub-pkg.yml" "${WORK}/"
  cp "${ROOT}/policy.wasm" "${WORK}/policy.wasm"
  cd "${WORK}"
}

@test "article: monitor/python-instrumentation is injected into the Deployment's pod" {
  run --separate-stderr policy_run --request-path "${FIX}/requests/article-pod.json" --settings-path "${FIX}/settings/article.yaml"
  echo "output = ${output}"
  [ "$status" -eq 0 ]
  [ "$(jq -r .allowed <<<"${output}")" = true ]
  [ "$(jq -r .patchType <<<"${output}")" = JSONPatch ]
  [ "$(jq -r .uid <<<"${output}")" = "$(jq -r .request.uid "${FIX}/requests/article-pod.json")" ]

  run patch_of --request-path "${FIX}/requests/article-pod.json" --settings-path "${FIX}/settings/article.yaml"
  echo "patch = ${output}"
  [ "$status" -eq 0 ]
  [ $(expr "$output" : '.*"name":"opentelemetry-auto-instrumentation-python".*') -ne 0 ]
  [ $(expr "$output" : '.*"image":"image.com.tw/library/otel-autoinstrumentation-python:0.43b0".*') -ne 0 ]
  [ $(expr "$output" : '.*"command":\["cp","-r","/autoinstrumentation/.","/otel-auto-instrumentation-python"\].*') -ne 0 ]
  [ $(expr "$output" : '.*{"name":"OTEL_SERVICE_NAME","value":"hello-deploy"}.*') -ne 0 ]
  [ $(expr "$output" : '.*{"name":"OTEL_EXPORTER_OTLP_ENDPOINT","value":"http://deployment-collector-collector.monitor.svc.cluster.local.:4318"}.*') -ne 0 ]
  [ $(expr "$output" : '.*{"name":"OTEL_PROPAGATORS","value":"tracecontext,baggage"}.*') -ne 0 ]
  [ $(expr "$output" : '.*{"name":"OTEL_TRACES_SAMPLER","value":"parentbased_traceidratio"}.*') -ne 0 ]
  [ $(expr "$output" : '.*{"name":"OTEL_TRACES_SAMPLER_ARG","value":"1"}.*') -ne 0 ]
  [ $(expr "$output" : '.*"emptyDir":{"sizeLimit":"200Mi"}.*') -ne 0 ]
}

@test "the article's settings are accepted as a JSON string too" {
  settings="$(python3 -c 'import json,sys,yaml; print(json.dumps(yaml.safe_load(open(sys.argv[1]))))' "${FIX}/settings/article.yaml")"
  run --separate-stderr policy_run --request-path "${FIX}/requests/article-pod.json" --settings-json "${settings}"
  [ "$status" -eq 0 ]
  from_file="$(policy_run --request-path "${FIX}/requests/article-pod.json" --settings-path "${FIX}/settings/article.yaml" 2>/dev/null)"
  [ "${output}" = "${from_file}" ]
}

@test "unknown reference: rejected with a message naming the annotation and value" {
  run --separate-stderr policy_run --request-path "${FIX}/requests/pod-ref-unknown.json" --settings-path "${FIX}/settings/shop.yaml"
  echo "output = ${output}"
  [ "$status" -eq 0 ]
  [ "$(jq -r .allowed <<<"${output}")" = false ]
  [ "$(jq -r .status.code <<<"${output}")" = 400 ]
  message="$(jq -r .status.message <<<"${output}")"
  echo "message = ${message}"
  [ $(expr "$message" : '.*instrumentation.opentelemetry.io/inject-python="monitor/does-not-exist".*') -ne 0 ]
  [ $(expr "$message" : '.*namespace "shop".*') -ne 0 ]
  [ $(expr "$message" : '.*"monitor/python-instrumentation".*') -ne 0 ]
}

@test "ambiguous true: rejected" {
  run --separate-stderr policy_run --request-path "${FIX}/requests/pod-inject-true.json" --settings-path "${FIX}/settings/shop-two.yaml"
  echo "output = ${output}"
  [ "$status" -eq 0 ]
  [ "$(jq -r .allowed <<<"${output}")" = false ]
  [ "$(jq -r .status.code <<<"${output}")" = 400 ]
}

@test "no annotation: accepted without a patch" {
  run patch_of --request-path "${FIX}/requests/pod-no-annotation.json" --settings-path "${FIX}/settings/shop.yaml"
  echo "output = ${output}"
  [ "$status" -ne 0 ]
  run --separate-stderr policy_run --request-path "${FIX}/requests/pod-no-annotation.json" --settings-path "${FIX}/settings/shop.yaml"
  [ "$(jq -r .allowed <<<"${output}")" = true ]
}

@test "DELETE: accepted without a patch" {
  run --separate-stderr policy_run --request-path "${FIX}/requests/pod-delete.json" --settings-path "${FIX}/settings/shop.yaml"
  echo "output = ${output}"
  [ "$status" -eq 0 ]
  [ "$(jq -r .allowed <<<"${output}")" = true ]
  [ "$(jq -r '.patch // "none"' <<<"${output}")" = none ]
}

@test "invalid settings: refused before any request is evaluated, with the policy's message" {
  run --separate-stderr policy_run --request-path "${FIX}/requests/article-pod.json" --settings-json '{"exporter": {"endpoint": "otel-collector:4318"}}'
  echo "stdout = ${output}"
  echo "stderr = ${stderr}"
  [ "$status" -eq 1 ]
  [ -z "${output}" ]
  grep -qF 'Error: Provided settings are not valid: exporter.endpoint: "otel-collector:4318" is not accepted: it must start with http:// or https://' <<<"${stderr}"
}

# ---- cluster mode ------------------------------------------------------------------------------
# Settings `instrumentationSource: cluster`: the policy reads Instrumentations, Namespaces and pod
# owners through Kubewarden's kubernetes/* host capabilities. The clusters are the fixtures of
# tests/inputs/clusters (format: case_harness::cluster). kwctl pass: `policy-run --cluster FIXTURE
# --write-session FILE` (the project's host answering as policy-server would) writes the session
# at test time, so that it cannot drift from the fixture, and `kwctl run --allow-context-aware
# --replay-host-capabilities-interactions FILE` replays it on the annotated module; kwctl must
# replay it exactly and print the line policy-run printed. policy-run pass: policy-run answers
# from the fixture itself. The session writer is $POLICY_RUN, else $SESSION_WRITER (the Makefile
# sets it), else the host build's policy-run.

CLUSTER_SETTINGS='{"instrumentationSource":"cluster"}'
CLUSTERS="${BATS_TEST_DIRNAME}/../tests/inputs/clusters"
# The kinds cluster mode reads, which the annotated module must declare for kwctl to grant them.
CLUSTER_KINDS='[{"apiVersion":"v1","kind":"Namespace"},{"apiVersion":"opentelemetry.io/v1alpha1","kind":"Instrumentation"},{"apiVersion":"apps/v1","kind":"ReplicaSet"},{"apiVersion":"batch/v1","kind":"Job"}]'

session_writer() {
  local writer="${POLICY_RUN:-${SESSION_WRITER:-${CARGO_TARGET_DIR:-${ROOT}/target}/host/policy-run}}"
  [ -x "${writer}" ] || { echo "no policy-run at ${writer} to write the session (make host-tools, or set SESSION_WRITER)"; return 1; }
  printf '%s' "${writer}"
}

# cluster_run FIXTURE REQUEST: the AdmissionResponse line (stdout) for REQUEST in cluster mode.
cluster_run() {
  local fixture=$1 request=$2 writer
  writer="$(session_writer)" || return 1
  if [ -n "${POLICY_RUN:-}" ]; then
    "${writer}" --request-path "${request}" --settings-json "${CLUSTER_SETTINGS}" --cluster "${fixture}" --show-calls "${MODULE}"
    return
  fi
  local session="${BATS_TEST_TMPDIR}/session.yml" ours theirs log="${BATS_TEST_TMPDIR}/kwctl.log"
  ours="$("${writer}" --request-path "${request}" --settings-json "${CLUSTER_SETTINGS}" --cluster "${fixture}" \
    --write-session "${session}" --show-calls "${MODULE}")" || return 1
  theirs="$("${KWCTL_BIN}" --no-color run --allow-context-aware --replay-host-capabilities-interactions "${session}" \
    --request-path "${request}" --settings-json "${CLUSTER_SETTINGS}" "${MODULE}" 2>"${log}")" || { cat "${log}" >&2; return 1; }
  if grep -E 'Replay error|recorded responses is empty|have not been replayed' "${log}" >&2; then
    echo "kwctl did not replay the session exactly:" >&2; cat "${session}" >&2; return 1
  fi
  if [ "${theirs}" != "${ours}" ]; then
    printf 'kwctl and policy-run answered differently:\n  kwctl:      %s\n  policy-run: %s\n' "${theirs}" "${ours}" >&2
    return 1
  fi
  printf '%s\n' "${theirs}"
}

# In the kwctl pass: the annotated module grants the kinds cluster mode reads (policy.yaml's
# contextAwareResources); without them kwctl refuses every lookup.
module_grants_the_cluster_kinds() {
  [ -n "${POLICY_RUN:-}" ] && return 0
  local declared
  declared="$("${KWCTL_BIN}" --no-color inspect -o yaml "${MODULE}" 2>/dev/null \
    | python3 -c 'import json,sys,yaml; print(json.dumps(yaml.safe_load(sys.stdin).get("contextAwareResources") or []))')"
  jq -e --argjson want "${CLUSTER_KINDS}" '. as $have | all($want[]; . as $k | $have | index([$k]))' <<<"${declared}" >/dev/null \
    || { echo "the annotated module's contextAwareResources are ${declared}; policy.yaml must declare ${CLUSTER_KINDS}"; return 1; }
}

# A request file derived from REQUEST by the jq FILTER (applied to the AdmissionReview or request).
derived_request() {
  local out="${BATS_TEST_TMPDIR}/$(basename "$1" .json)-derived.json"
  jq "$2" "$1" >"${out}" && printf '%s' "${out}"
}

decoded_patch() {
  jq -ec '.patch | if . == null then error("no patch") else @base64d | fromjson end' <<<"$1"
}

contains() {
  [[ "$1" == *"$2"* ]] || { echo "does not contain: $2"; return 1; }
}

# cluster_answer FIXTURE REQUEST ALLOWED: REQUEST in cluster mode, admitted (true, with a patch)
# or refused (false, without one). Sets `output` (the response line), `message` and `patch`.
cluster_answer() {
  module_grants_the_cluster_kinds
  run --separate-stderr cluster_run "$1" "$2"
  echo "output = ${output}"; echo "stderr = ${stderr}"
  [ "$status" -eq 0 ]
  [ "$(jq -r .allowed <<<"${output}")" = "$3" ]
  message="$(jq -r '.status.message // ""' <<<"${output}")"
  if [ "$3" = true ]; then
    patch="$(decoded_patch "${output}")"
    echo "patch = ${patch}"
  else
    [ "$(jq -r '.patch // "none"' <<<"${output}")" = none ]
  fi
}

@test "cluster: the article's Instrumentation in monitor is injected into the Deployment's pod" {
  cluster_answer "${CLUSTERS}/article.yml" "${FIX}/requests/article-pod.json" true
  contains "${patch}" '"image":"image.com.tw/library/otel-autoinstrumentation-python:0.43b0"'
  contains "${patch}" '{"name":"OTEL_EXPORTER_OTLP_ENDPOINT","value":"http://deployment-collector-collector.monitor.svc.cluster.local.:4318"}'
  contains "${patch}" '{"name":"OTEL_PROPAGATORS","value":"tracecontext,baggage"}'
  contains "${patch}" '{"name":"OTEL_TRACES_SAMPLER","value":"parentbased_traceidratio"}'
  contains "${patch}" '{"name":"OTEL_TRACES_SAMPLER_ARG","value":"1"}'
  contains "${patch}" '{"name":"OTEL_SERVICE_NAME","value":"hello-deploy"}'
}

@test "cluster: a pod in an annotated namespace gets the namespace's one Instrumentation" {
  cluster_answer "${CLUSTERS}/namespace-annotated.yml" "${FIX}/requests/pod-no-annotation.json" true
  contains "${patch}" '"image":"ghcr.io/open-telemetry/opentelemetry-operator/autoinstrumentation-python:0.50b0"'
  contains "${patch}" '{"name":"OTEL_EXPORTER_OTLP_ENDPOINT","value":"http://otel-collector.observability:4318"}'
}

@test "cluster: a misspelt reference is refused, naming the Instrumentations that exist" {
  cluster_answer "${CLUSTERS}/article.yml" "${FIX}/requests/article-pod-typo.json" false
  contains "${message}" 'monitor/python-instrumentaton'
  contains "${message}" 'monitor/python-instrumentation'
}

@test "cluster: a reference to an Instrumentation the cluster does not have is refused" {
  cluster_answer "${CLUSTERS}/namespace-annotated.yml" "${FIX}/requests/pod-ref-unknown.json" false
  contains "${message}" 'monitor/does-not-exist'
}

@test "cluster: without the Instrumentation CRD the pod is refused, saying it is not installed" {
  cluster_answer "${CLUSTERS}/no-crd.yml" "${FIX}/requests/article-pod.json" false
  contains "${message}" 'Instrumentation'
  contains "${message}" 'not installed'
}

@test "cluster: a lookup the PolicyServer may not make is refused, naming the missing RBAC rule" {
  # A pod in `monitor`, whose namespace asks for "true": resolving it needs a list of
  # Instrumentations, which rbac-no-list.yml does not allow (get only).
  request="$(derived_request "${FIX}/requests/pod-no-annotation.json" \
    '(.request // .).namespace = "monitor" | (.request // .).object.metadata.namespace = "monitor"')"
  cluster_answer "${CLUSTERS}/rbac-no-list.yml" "${request}" false
  # The rule itself: what to grant, on which resource, for which verb.
  contains "${message}" 'may not list instrumentations.opentelemetry.io'
  contains "${message}" 'ClusterRole rule'
  contains "${message}" 'resources: ["instrumentations"]'
  contains "${message}" '"list"'
}

@test "cluster: the service name is the Deployment named by the ReplicaSet's owner reference" {
  # The article's cluster with its Deployment renamed: only the ReplicaSet's ownerReferences can
  # tell the policy that name (the ReplicaSet's own name still says hello-deploy-<hash>).
  fixture="${BATS_TEST_TMPDIR}/renamed-deployment.yml"
  sed -E 's/^( +name:) hello-deploy$/\1 hello-web/' "${CLUSTERS}/article.yml" >"${fixture}"
  [ "$(diff "${CLUSTERS}/article.yml" "${fixture}" | grep -c '^>')" -eq 2 ]
  cluster_answer "${fixture}" "${FIX}/requests/article-pod.json" true
  contains "${patch}" '{"name":"OTEL_SERVICE_NAME","value":"hello-web"}'
}

# ---- README.md ---------------------------------------------------------------------------------

@test "README: make example prints the response and the decoded patch" {
  documented README.md "make example   # set up, build the policy and evaluate the article's pod"
  # Through kwctl in the kwctl pass; without kwctl (KWCTL=) through the Python runner, in the other.
  if [ -n "${POLICY_RUN:-}" ]; then via=(KWCTL=); else via=(KWCTL="${KWCTL_BIN}"); fi
  run --separate-stderr make -C "${ROOT}" --no-print-directory "${via[@]}" example
  echo "stdout = ${output}"
  [ "$status" -eq 0 ]
  response="$(tail -n 1 <<<"${output}")"
  [ "$(jq -r .allowed <<<"${response}")" = true ]
  # The decoded patch on stderr is the response's patch.
  printed="$(sed -n '/^\[/,/^\]/p' <<<"${stderr}" | jq -c .)"
  [ "${printed}" = "$(jq -c '.patch | @base64d | fromjson' <<<"${response}")" ]
  # The same line as this pass's runner (kwctl run, or policy-run) prints for the article.
  [ "${response}" = "$(policy_run --request-path "${FIX}/requests/article-pod.json" \
    --settings-path "${FIX}/settings/article.yaml" 2>/dev/null)" ]
}

@test "README: kwctl bench runs the article's pod" {
  needs_kwctl_pass
  documented README.md 'kwctl bench --warm-up-time 1 --measurement-time 3 --num-samples 50'
  run --separate-stderr "${KWCTL_BIN}" --no-color bench --warm-up-time 1 --measurement-time 1 --num-samples 10 \
    --request-path "${FIX}/requests/article-pod.json" --settings-path "${FIX}/settings/article.yaml" "${MODULE}"
  echo "stdout = ${output}"
  [ "$status" -eq 0 ]
  plain="$(sed 's/\x1b\[[0-9;]*m//g' <<<"${output}")"
  grep -E '^validate \[' <<<"${plain}"
  grep -E 'med = [0-9.]+' <<<"${plain}"
}

# ---- docs/publishing.md ------------------------------------------------------------------------

@test "publishing: kwctl annotate writes the module kwctl inspect describes" {
  needs_kwctl_pass
  documented docs/publishing.md 'kwctl annotate -m policy.yaml -u README.md -o annotated-policy.wasm policy.wasm'
  documented docs/publishing.md 'kwctl inspect annotated-policy.wasm'
  scratch
  run --separate-stderr "${KWCTL_BIN}" annotate -m policy.yaml -u README.md -o annotated-policy.wasm policy.wasm
  [ "$status" -eq 0 ]
  run --separate-stderr "${KWCTL_BIN}" inspect annotated-policy.wasm
  echo "inspect = ${output}"
  [ "$status" -eq 0 ]
  grep -E '^mutating: +true' <<<"${output}"
  run --separate-stderr "${KWCTL_BIN}" inspect -o yaml annotated-policy.wasm
  echo "inspect = ${output}"
  [ "$status" -eq 0 ]
  inspected="$(python3 -c 'import json,sys,yaml; print(json.dumps(yaml.safe_load(sys.stdin)))' <<<"${output}")"
  [ "$(jq -r .mutating <<<"${inspected}")" = true ]
  [ "$(jq -r .protocolVersion <<<"${inspected}")" = v1 ]
  rules="$(python3 -c 'import json,sys,yaml; print(json.dumps(yaml.safe_load(open(sys.argv[1]))["rules"], separators=(",", ":")))' policy.yaml)"
  [ "$(jq -c .rules <<<"${inspected}")" = "${rules}" ]
  [ "$(jq -c '.rules[0]' <<<"${inspected}")" = '{"apiGroups":[""],"apiVersions":["v1"],"resources":["pods"],"operations":["CREATE"]}' ]
  [ "$(jq -r '.annotations["io.kubewarden.policy.title"]' <<<"${inspected}")" = otel-python-autoinstrumentation ]
  # The usage annotation is the README, unchanged.
  [ "$(jq -r '.annotations["io.kubewarden.policy.usage"]' <<<"${inspected}")" = "$(cat README.md)" ]
}

@test "publishing: kwctl scaffold artifacthub writes artifacthub-pkg.yml but for createdAt" {
  needs_kwctl_pass
  documented docs/publishing.md 'kwctl scaffold artifacthub --metadata-path policy.yaml --questions-path questions-ui.yml \'
  scratch
  run --separate-stderr "${KWCTL_BIN}" scaffold artifacthub --metadata-path policy.yaml --questions-path questions-ui.yml \
    --output "${WORK}/kwctl-artifacthub-pkg.yml"
  [ "$status" -eq 0 ]
  diff <(grep -v '^createdAt:' "${WORK}/kwctl-artifacthub-pkg.yml") <(grep -v '^createdAt:' artifacthub-pkg.yml)
}

# `make push` and `make pull` against Debian's docker-registry on a free port of 127.0.0.1, as the
# "A registry on your machine" block shows: through kwctl (kwctl pass) and through xtask.
@test "publishing: make push and make pull against a local plain-HTTP registry" {
  documented docs/publishing.md 'make push REGISTRY=127.0.0.1:5000/policies/otel-python-autoinstrumentation TAG=v0.1.0'
  documented docs/publishing.md 'make pull REF=127.0.0.1:5000/policies/otel-python-autoinstrumentation:v0.1.0 OUT=pulled.wasm'
  registry="$(command -v docker-registry || true)"
  [ -n "${registry}" ] || skip "docker-registry not installed (apt-get install -y docker-registry)"
  dir="${BATS_TEST_TMPDIR}/registry"
  mkdir -p "${dir}"
  port="$(free_port)"
  printf 'version: 0.1\nlog:\n  level: warn\nstorage:\n  filesystem:\n    rootdirectory: %s/data\nhttp:\n  addr: 127.0.0.1:%s\n' \
    "${dir}" "${port}" >"${dir}/config.yml"
  timeout 300 "${registry}" serve "${dir}/config.yml" >"${dir}/registry.log" 2>&1 &
  REGISTRY_PID=$!
  for _ in $(seq 100); do curl -fs "http://127.0.0.1:${port}/v2/" >/dev/null && break; sleep 0.1; done
  if [ -n "${POLICY_RUN:-}" ]; then via=(KWCTL=); else via=(KWCTL="${KWCTL_BIN}"); fi
  repo="127.0.0.1:${port}/policies/otel-python-autoinstrumentation"

  run --separate-stderr make -C "${ROOT}" --no-print-directory "${via[@]}" push REGISTRY="${repo}" TAG=v0.1.0
  echo "push stdout = ${output}"
  echo "push stderr = ${stderr}"
  [ "$status" -eq 0 ]
  immutable="$(grep -o '{"immutable_ref":[^}]*}' <<<"${output}" | jq -r .immutable_ref)"
  [[ "${immutable}" == "${repo}@sha256:"* ]]
  # The registry stores the manifest under the digest that was printed.
  digest="${immutable#*@}"
  [ "$(curl -fs -H 'Accept: application/vnd.oci.image.manifest.v1+json' "http://127.0.0.1:${port}/v2/policies/otel-python-autoinstrumentation/manifests/v0.1.0" | sha256sum | cut -d' ' -f1)" = "${digest#sha256:}" ]

  for ref in "${repo}:v0.1.0" "${immutable}"; do
    rm -f "${dir}/pulled.wasm"
    run --separate-stderr make -C "${ROOT}" --no-print-directory "${via[@]}" pull REF="${ref}" OUT="${dir}/pulled.wasm"
    echo "pull ${ref}: ${stderr}"
    [ "$status" -eq 0 ]
    cmp "${dir}/pulled.wasm" "${ROOT}/annotated-policy.wasm"
  done

  # The same by hand, with the sources file docs/publishing.md shows (kwctl pass).
  if [ -z "${POLICY_RUN:-}" ]; then
    documented docs/publishing.md "printf 'insecure_sources:\\n  - \"127.0.0.1:5000\"\\n' > sources.yaml"
    documented docs/publishing.md 'kwctl push --sources-path sources.yaml -o json annotated-policy.wasm registry://127.0.0.1:5000/policies/otel-python-autoinstrumentation:v0.1.0'
    cd "${dir}"
    printf 'insecure_sources:\n  - "127.0.0.1:%s"\n' "${port}" > sources.yaml
    run --separate-stderr "${KWCTL_BIN}" push --sources-path sources.yaml -o json "${ROOT}/annotated-policy.wasm" "registry://${repo}:v0.1.1"
    echo "kwctl push = ${output} ${stderr}"
    [ "$status" -eq 0 ]
    [ "$(jq -r .immutable_ref <<<"${output}")" = "${immutable}" ]
    # Without the sources file kwctl tries HTTPS and fails.
    run --separate-stderr "${KWCTL_BIN}" push -o json "${ROOT}/annotated-policy.wasm" "registry://${repo}:v0.1.2"
    [ "$status" -ne 0 ]
  fi
  kill "${REGISTRY_PID}"
}

teardown() {
  if [ -n "${REGISTRY_PID:-}" ]; then kill "${REGISTRY_PID}" 2>/dev/null || true; fi
}
