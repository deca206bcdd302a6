# Start and stop a real policy-server on 127.0.0.1 with TLS and no cluster. Source it after
# tools.bash. Each function is bounded in time; the server is started under `timeout`, so it
# cannot outlive PS_MAX_SECONDS even if nobody stops it.
#
#   ps_start DIR POLICIES_YML        # -> PS_PID, PS_PORT, PS_READY_PORT, PS_URL, PS_CACERT, PS_LOG
#   ps_post POLICY_ID REVIEW_FILE    # the AdmissionReview response body on stdout
#   ps_audit POLICY_ID REVIEW_FILE   # the same through /audit, as Kubewarden's audit scanner posts
#   ps_stop

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
  # Only what is given here: no KUBEWARDEN_* settings from the caller's environment.
  env $(env | sed -n 's/^\(KUBEWARDEN_[A-Z_]*\)=.*/-u \1/p') RUST_BACKTRACE=0 NO_COLOR=1 \
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
