#!/usr/bin/env bats
# The article's example and the key fixtures through the real `kwctl run`.
#
#   bats e2e-tests/e2e.bats                      # kwctl on PATH; skipped when it is not
#   POLICY_RUN=target/host/policy-run bats e2e-tests/e2e.bats   # same checks via policy-run
#
# Module: $POLICY_WASM, else annotated-policy.wasm at the repo root when present, else the
# cargo build target/wasm32-wasip1/release/otel_python_policy.wasm.

setup() {
  ROOT="$(cd "${BATS_TEST_DIRNAME}/.." && pwd)"
  FIX="${BATS_TEST_DIRNAME}/../tests/cases"
  if [ -n "${POLICY_RUN:-}" ]; then
    RUNNER=("${POLICY_RUN}")
  elif command -v kwctl >/dev/null 2>&1; then
    RUNNER=(kwctl run)
  else
    skip "kwctl not installed"
  fi
  if [ -n "${POLICY_WASM:-}" ]; then
    MODULE="${POLICY_WASM}"
  elif [ -f "${ROOT}/annotated-policy.wasm" ]; then
    MODULE="${ROOT}/annotated-policy.wasm"
  else
    MODULE="${ROOT}/target/wasm32-wasip1/release/otel_python_policy.wasm"
  fi
  [ -f "${MODULE}" ] || skip "policy module ${MODULE} not built (cargo build --target wasm32-wasip1 --release)"
}

policy_run() {
  "${RUNNER[@]}" "$@" "${MODULE}"
}

# Decoded JSON patch of a run (stdout only), or exit status 1 when there is none.
patch_of() {
  policy_run "$@" 2>/dev/null | jq -ec '.patch | if . == null then error("no patch") else @base64d | fromjson end'
}

@test "article: monitor/python-instrumentation is injected into the Deployment's pod" {
  run policy_run --request-path "${FIX}/requests/article-pod.json" --settings-path "${FIX}/settings/article.yaml"
  echo "output = ${output}"
  [ "$status" -eq 0 ]
  [ $(expr "$output" : '.*"allowed":true.*') -ne 0 ]
  [ $(expr "$output" : '.*"patchType":"JSONPatch".*') -ne 0 ]

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
  settings="$(python3 -c 'import json,sys,yaml; print(json.dumps(yaml.safe_load(open(sys.argv[1]))))' "${FIX}/settings/article.yaml" 2>/dev/null)" \
    || skip "python3 with PyYAML needed to convert the settings"
  run policy_run --request-path "${FIX}/requests/article-pod.json" --settings-json "${settings}"
  [ "$status" -eq 0 ]
  [ $(expr "$output" : '.*"patchType":"JSONPatch".*') -ne 0 ]
}

@test "unknown reference: rejected with a message naming the annotation and value" {
  run policy_run --request-path "${FIX}/requests/pod-ref-unknown.json" --settings-path "${FIX}/settings/shop.yaml"
  echo "output = ${output}"
  [ "$status" -eq 0 ]
  [ $(expr "$output" : '.*"allowed":false.*') -ne 0 ]
  [ $(expr "$output" : '.*"code":400.*') -ne 0 ]
  message="$(echo "$output" | jq -r .status.message)"
  echo "message = ${message}"
  [ $(expr "$message" : '.*instrumentation.opentelemetry.io/inject-python="monitor/does-not-exist".*') -ne 0 ]
  [ $(expr "$message" : '.*namespace "shop".*') -ne 0 ]
  [ $(expr "$message" : '.*"monitor/python-instrumentation".*') -ne 0 ]
}

@test "ambiguous true: rejected" {
  run policy_run --request-path "${FIX}/requests/pod-inject-true.json" --settings-path "${FIX}/settings/shop-two.yaml"
  echo "output = ${output}"
  [ "$status" -eq 0 ]
  [ $(expr "$output" : '.*"allowed":false.*') -ne 0 ]
}

@test "no annotation: accepted without a patch" {
  run patch_of --request-path "${FIX}/requests/pod-no-annotation.json" --settings-path "${FIX}/settings/shop.yaml"
  echo "output = ${output}"
  [ "$status" -ne 0 ]
  run policy_run --request-path "${FIX}/requests/pod-no-annotation.json" --settings-path "${FIX}/settings/shop.yaml"
  [ $(expr "$output" : '.*"allowed":true.*') -ne 0 ]
}

@test "DELETE: accepted without a patch" {
  run policy_run --request-path "${FIX}/requests/pod-delete.json" --settings-path "${FIX}/settings/shop.yaml"
  echo "output = ${output}"
  [ "$status" -eq 0 ]
  [ $(expr "$output" : '.*"allowed":true.*') -ne 0 ]
  [ $(expr "$output" : '.*"patch".*') -eq 0 ]
}

@test "invalid settings: refused before any request is evaluated" {
  run policy_run --request-path "${FIX}/requests/article-pod.json" --settings-json '{"exporter": {"endpoint": "otel-collector:4318"}}'
  echo "output = ${output}"
  [ "$status" -ne 0 ]
  [ $(expr "$output" : '.*Provided settings are not valid.*') -ne 0 ]
}
