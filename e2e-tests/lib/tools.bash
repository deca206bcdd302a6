# Shared by the bats suites and the load test: where the real Kubewarden tools and the peer
# policies are, free ports, and a self-signed certificate. Source it; it defines functions only.

# The program to use for tool NAME: $VAR when VAR is set (set and empty means "none"), else NAME
# on PATH. Prints nothing when there is none.
#   tool_path kwctl KWCTL
tool_path() {
  local name=$1 var=$2
  if [ -n "${!var+set}" ]; then
    printf '%s' "${!var}"
  else
    command -v "$name" 2>/dev/null || true
  fi
}

# The directory holding the peer policies pod-ndots.wasm and noop.wasm: $PEERS_DIR when set
# (empty means none), else ../shared/kubewarden next to the checkout when it holds them.
peers_dir() {
  local root
  root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
  if [ -n "${PEERS_DIR+set}" ]; then
    printf '%s' "${PEERS_DIR}"
  elif [ -f "${root}/../shared/kubewarden/pod-ndots.wasm" ] && [ -f "${root}/../shared/kubewarden/noop.wasm" ]; then
    (cd "${root}/../shared/kubewarden" && pwd)
  fi
}

# A TCP port on 127.0.0.1 that nothing listens on now (the kernel picks it).
free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# A self-signed certificate for 127.0.0.1 and localhost, made for one test run:
#   make_cert DIR   ->   DIR/cert.pem, DIR/key.pem
make_cert() {
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 1 \
    -subj "/CN=127.0.0.1" -addext "subjectAltName=IP:127.0.0.1,DNS:localhost" \
    -keyout "$1/key.pem" -out "$1/cert.pem" 2>/dev/null
}

# Indent every line of FILE by N spaces (to nest a YAML document under a key).
indent() {
  sed "s/^/$(printf '%*s' "$2" '')/" "$1"
}
