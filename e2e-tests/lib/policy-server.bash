# Start and stop a real policy-server on 127.0.0.1 with TLS, with no cluster or with the
# Kubernetes API stand-in (policy-server/kube-api.py) serving a cluster fixture. Source it after
# tools.bash. Each function is bounded in time; the server and the stand-in are started under
# `timeout`, so they cannot outlive PS_MAX_SECONDS even if nobody stops them.
#
#   kube_api_start DIR CLUSTER_YML   # the stand-in; -> DIR/kubeconfig, DIR/kube-api.log, KUBE_API_PID
#   ps_start DIR POLICIES_YML        # -> PS_PID, PS_PORT, PS_READY_PORT, PS_URL, PS_CACERT, PS_LOG
#                                    #    (reads DIR/kubeconfig when there is one)
#   ps_post POLICY_ID REVIEW_FILE    # the AdmissionReview response body on stdout
#   ps_audit POLICY_ID REVIEW_FILE   # the same through /audit, as Kubewarden's audit scanner posts
#   ps_stop
#   kube_api_stop PID

PS_MAX_SECONDS=${PS_MAX_SECONDS:-900}

# Start policy-server with the policies file; wait until its readiness probe answers 200.
# Fails (with the server's last log lines) if it exits or is not ready within 90 s.
ps_start() {
  local dir=$1 policies=$2 workers=${3:-}
  [ -f "${dir}/cert.pem" ] || make_cert "${dir}"
  PS_PORT=$(free_port)
  PS_READY_PORT=$(free_port)
  PS_URL="https://127.0.0.1:${PS_PORT}"
  PS_CACERT="${dir}/cert.pem"
  PS_LOG="${dir}/policy-server.log"
  mkdir -p "${dir}/policies" "${dir}/sigstore"
  # Only what is given here: no KUBEWARDEN_* settings and no cluster from the caller's environment.
  local kube=(-u KUBECONFIG)
  [ -f "${dir}/kubeconfig" ] && kube=(KUBECONFIG="${dir}/kubeconfig")
  env $(env | sed -n 's/^\(KUBEWARDEN_[A-Z_]*\)=.*/-u \1/p') "${kube[@]}" RUST_BACKTRACE=0 NO_COLOR=1 \
    timeout "${PS_MAX_SECONDS}" "${POLICY_SERVER}" \
    --addr 127.0.0.1 --port "${PS_PORT}" --readiness-probe-port "${PS_READY_PORT}" \
    --cert-file "${dir}/cert.pem" --key-file "${dir}/key.pem" \
    --policies "${policies}" --policies-download-dir "${dir}/policies" \
    --sigstore-cache-dir "${dir}/sigstore" --ignore-kubernetes-connection-failure \
    --log-no-color ${workers:+--workers "${workers}"} \
    >"${PS_LOG}" 2>&1 &
  PS_PID=$!
  local deadline=$((SECONDS + 90))
  until [ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "http://127.0.0.1:${PS_READY_PORT}/readiness")" = 200 ]; do
    if ! kill -0 "${PS_PID}" 2>/dev/null; then
      echo "policy-server exited before it was ready:" >&2
      tail -n 20 "${PS_LOG}" >&2
      PS_PID=
      return 1
    fi
    if [ "${SECONDS}" -ge "${deadline}" ]; then
      echo "policy-server was not ready within 90 s:" >&2
      tail -n 20 "${PS_LOG}" >&2
      ps_stop
      return 1
    fi
    sleep 0.2
  done
}

# POST an AdmissionReview file to /validate/POLICY_ID as the API server does.
ps_post() {
  curl -sS --fail-with-body --max-time 20 --cacert "${PS_CACERT}" \
    -H 'Content-Type: application/json' --data-binary "@$2" "${PS_URL}/validate/$1"
}

# POST an AdmissionReview file to /audit/POLICY_ID as Kubewarden's audit scanner does (the review
# without apiVersion and kind, as the scanner sends it, is the caller's file).
ps_audit() {
  curl -sS --fail-with-body --max-time 20 --cacert "${PS_CACERT}" \
    -H 'Content-Type: application/json' --data-binary "@$2" "${PS_URL}/audit/$1"
}

ps_stop() {
  if [ -n "${PS_PID:-}" ]; then
    kill "${PS_PID}" 2>/dev/null || true
    wait "${PS_PID}" 2>/dev/null || true
    PS_PID=
  fi
}

# Start the Kubernetes API stand-in on a free port of 127.0.0.1, serving the cluster fixture
# CLUSTER_YML (tests/inputs/clusters/, converted to JSON here), logging every request to
# DIR/kube-api.log, and write DIR/kubeconfig naming it (plain HTTP, no credentials).
kube_api_start() {
  local dir=$1 cluster=$2
  mkdir -p "${dir}"
  python3 -c 'import json, sys, yaml; print(json.dumps(yaml.safe_load(open(sys.argv[1]))))' \
    "${cluster}" >"${dir}/cluster.json" || return 1
  rm -f "${dir}/kube-api.port"
  timeout "${PS_MAX_SECONDS}" python3 "$(dirname "${BASH_SOURCE[0]}")/../policy-server/kube-api.py" \
    "${dir}/cluster.json" "${dir}/kube-api.log" "${dir}/kube-api.port" 2>"${dir}/kube-api.err" &
  KUBE_API_PID=$!
  local deadline=$((SECONDS + 20))
  until [ -s "${dir}/kube-api.port" ]; do
    if ! kill -0 "${KUBE_API_PID}" 2>/dev/null || [ "${SECONDS}" -ge "${deadline}" ]; then
      echo "the Kubernetes API stand-in did not start:" >&2
      cat "${dir}/kube-api.err" >&2
      kube_api_stop "${KUBE_API_PID}"
      return 1
    fi
    sleep 0.1
  done
  cat >"${dir}/kubeconfig" <<EOF
apiVersion: v1
kind: Config
clusters:
  - name: stand-in
    cluster: {server: "http://127.0.0.1:$(cat "${dir}/kube-api.port")"}
users:
  - name: policy-server
    user: {}
contexts:
  - name: stand-in
    context: {cluster: stand-in, user: policy-server}
current-context: stand-in
EOF
}

kube_api_stop() {
  if [ -n "${1:-}" ]; then
    kill "$1" 2>/dev/null || true
    wait "$1" 2>/dev/null || true
  fi
}
