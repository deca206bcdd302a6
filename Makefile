# Build, run and test the policy. `make example` and `make test` are the README's two commands:
# both set up what they need on a fresh machine (rustup target, Debian and Python packages).
#
# The real Kubewarden tools are used when they are found: `kwctl` and `policy-server` from PATH,
# or the programs named by KWCTL / POLICY_SERVER (set to nothing, KWCTL= means "do without").
# The peer policies for the benchmarks (pod-ndots.wasm, noop.wasm) come from PEERS_DIR, by
# default ../shared/kubewarden next to the checkout when it holds them.

SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
TARGET_DIR ?= $(or $(CARGO_TARGET_DIR),$(CURDIR)/target)
export CARGO_TARGET_DIR := $(TARGET_DIR)
# The fuzz targets' nightly builds (fuzz/run.sh), apart from the stable ones.
FUZZ_TARGET_DIR ?= $(TARGET_DIR)/fuzz-nightly
export FUZZ_TARGET_DIR
CARGO ?= cargo
HOST := --profile host
WASM := $(TARGET_DIR)/wasm32-wasip1/release/otel_python_policy.wasm
POLICY_RUN := $(TARGET_DIR)/host/policy-run
XTASK := $(TARGET_DIR)/host/xtask
BENCH := $(TARGET_DIR)/host/bench
APT_PACKAGES := bats binaryen bubblewrap docker-registry apache2-utils jq curl openssl wrk python3-yaml
# wasm-opt 108 (Debian's binaryen) needs the features rustc's wasm32-wasip1 output uses.
WASM_OPT_FLAGS := -O3 --enable-bulk-memory --enable-sign-ext --enable-mutable-globals --enable-nontrapping-float-to-int

KWCTL ?= $(shell command -v kwctl 2>/dev/null)
POLICY_SERVER ?= $(shell command -v policy-server 2>/dev/null)
PEERS_DIR ?= $(shell d='$(CURDIR)/../shared/kubewarden'; [ -f "$$d/pod-ndots.wasm" ] && [ -f "$$d/noop.wasm" ] && cd "$$d" && pwd)
export KWCTL POLICY_SERVER PEERS_DIR

# Every host-side cargo command selects both host packages and builds tests: the same feature
# resolution each time, so wasmtime is compiled once for policy-run, bench, xtask and their tests
# (`-p e2e-tests` alone, `-p xtask` alone, or a plain `cargo build` each resolve differently and
# would each compile wasmtime again).
HOST_CARGO_TEST := $(CARGO) test $(HOST) -p e2e-tests -p xtask
E2E_TESTS := $(patsubst e2e-tests/tests/%.rs,--test %,$(filter-out %/kwctl.rs,$(wildcard e2e-tests/tests/*.rs)))
XTASK_TESTS := $(patsubst xtask/tests/%.rs,--test %,$(wildcard xtask/tests/*.rs))

# Which real-runtime suites ran and which were skipped, printed at the end of `make test`.
SUMMARY := $(TARGET_DIR)/real-runtime-summary.txt
# $(call skipped,suite,reason): one line on stdout and in the summary; with REQUIRE_REAL_RUNTIME=1
# (CI, when the tools are provided) a skip is a failure.
skipped = echo "$(1): SKIPPED: $(2)"; mkdir -p $(TARGET_DIR); echo "  $(1): SKIPPED ($(2))" >> $(SUMMARY); \
  if [ -n "$${REQUIRE_REAL_RUNTIME:-}" ] && [ "$${REQUIRE_REAL_RUNTIME}" != 0 ]; then \
    echo "$(1): REQUIRE_REAL_RUNTIME is set, so this skip is a failure" >&2; exit 1; fi
# Braced: it follows `suite &&`, so that a failing suite fails the recipe instead of being
# recorded as run.
ran = { mkdir -p $(TARGET_DIR); echo "  $(1): ran ($(2))" >> $(SUMMARY); }
# $(call apt,packages): install the Debian packages that are missing.
apt = $(MAKE) --no-print-directory setup-apt APT_PACKAGES="$(1)"
# Plain HTTP for a registry on the loopback address: kwctl needs it listed under
# `insecure_sources` in a sources file. Sets $$sources (SOURCES=file overrides; empty otherwise).
define kwctl_sources
sources='$(SOURCES)'; registry='$(1)'; registry="$${registry#registry://}"; host="$${registry%%/*}"; \
if [ -z "$$sources" ]; then case "$${host%:*}" in 127.*|localhost|'[::1]') \
  sources="$(TARGET_DIR)/kwctl-sources/$$(printf '%s' "$$host" | tr -c 'A-Za-z0-9.-' _).yaml"; \
  mkdir -p "$(TARGET_DIR)/kwctl-sources"; printf 'insecure_sources:\n  - "%s"\n' "$$host" > "$$sources"; \
  echo "$$host is on this machine: plain HTTP, sources file $$sources";; esac; fi
endef

.PHONY: all setup setup-rust setup-apt setup-binaryen cargo-wasm example example-kwctl example-policy-run \
        example-python-runner python-runner \
        host-tools xtask annotate artifacthub push pull fmt lint check unit-tests e2e-tests packaging-tests \
        kwctl-tests bats server-tests load-check telemetry-tests test summary-reset bench bench-server instructions extras \
        stress fuzz fuzz-check clean

all: policy.wasm

## Setup ---------------------------------------------------------------------------------------
setup-rust:
	@rustup target list --installed | grep -qx wasm32-wasip1 || rustup target add wasm32-wasip1

setup-apt:
	@missing=""; for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian packages:$$missing"; \
	  sudo_=""; [ "$$(id -u)" = 0 ] || sudo_=sudo; \
	  $$sudo_ apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$sudo_ apt-get install -y -qq $$missing >/dev/null; \
	fi

# wasm-opt alone, for `make example` (which needs nothing else from Debian, but python3-venv when
# Python cannot make a virtualenv for the Python runner: its run.sh installs that one).
setup-binaryen:
	@command -v wasm-opt >/dev/null 2>&1 || $(call apt,binaryen)

setup: setup-rust setup-apt

## The policy module ---------------------------------------------------------------------------
# The cargo build, then wasm-opt -O3: smaller and faster (see e2e-tests/README.md); every test runs
# against this optimised module, the one that is published.
# cargo decides whether the module is stale; wasm-opt runs only when cargo wrote a new one.
cargo-wasm: setup-rust
	$(CARGO) build --target wasm32-wasip1 --release
$(WASM): cargo-wasm ;
policy.wasm: $(WASM) | setup-binaryen
	wasm-opt $(WASM_OPT_FLAGS) $(WASM) -o policy.wasm
	@echo "policy.wasm: $$(stat -c %s policy.wasm) bytes (cargo build: $$(stat -c %s $(WASM)) bytes)"

# The Python runner's virtualenv (wasmtime's prebuilt engine and PyYAML from PyPI, pinned in
# e2e-tests/python-runner/requirements.txt), made once in a cache outside the checkout; python3-venv
# with apt-get when Python cannot make one.
python-runner:
	@e2e-tests/python-runner/run.sh --setup

# policy-run, bench, xtask and every host test binary, in one cargo invocation (see HOST_CARGO_TEST).
host-tools xtask:
	$(HOST_CARGO_TEST) --no-run

## The main job: build and evaluate the article's pod, printing the response (stdout) and the
## decoded patch (stderr). With kwctl: `kwctl run` on the annotated module, no host build.
## Without: the project's Python runner on wasmtime's prebuilt engine from PyPI (seconds to install;
## it prints what policy-run prints, which `make e2e-tests` checks on every case).
example: policy.wasm
	@if [ -n "$(KWCTL)" ]; then $(MAKE) --no-print-directory example-kwctl; \
	else echo "kwctl not found: evaluating with the project's Python runner (e2e-tests/python-runner/)"; \
	  $(MAKE) --no-print-directory example-python-runner; fi

EXAMPLE_ARGS := --request-path tests/inputs/requests/article-pod.json \
  --settings-path tests/inputs/settings/article.yaml

example-kwctl: annotated-policy.wasm
	@mkdir -p $(TARGET_DIR)
	@echo "+ $(KWCTL) run $(EXAMPLE_ARGS) annotated-policy.wasm" >&2
	@"$(KWCTL)" run $(EXAMPLE_ARGS) annotated-policy.wasm >$(TARGET_DIR)/example-response.json \
	  2>$(TARGET_DIR)/example-kwctl.log || { cat $(TARGET_DIR)/example-kwctl.log >&2; exit 1; }
	@cat $(TARGET_DIR)/example-response.json
	@python3 -c 'import base64, json, sys; r = json.load(open(sys.argv[1])); \
	  print(json.dumps(json.loads(base64.b64decode(r["patch"])), indent=2) if r.get("patch") else "(no patch)", file=sys.stderr)' \
	  $(TARGET_DIR)/example-response.json

example-python-runner: policy.wasm python-runner
	e2e-tests/python-runner/run.sh --show-patch $(EXAMPLE_ARGS) policy.wasm

# The same through the project's Rust host (its first build compiles wasmtime).
example-policy-run: policy.wasm host-tools
	$(POLICY_RUN) --show-patch $(EXAMPLE_ARGS) policy.wasm

## Packaging (kwctl when found, else the project's xtask) ---------------------------------------
OUT ?= pulled-policy.wasm

annotate: annotated-policy.wasm
annotated-policy.wasm: policy.wasm policy.yaml README.md
	@if [ -n "$(KWCTL)" ]; then \
	  set -x; "$(KWCTL)" annotate -m policy.yaml -u README.md -o annotated-policy.wasm policy.wasm; \
	else \
	  $(MAKE) --no-print-directory host-tools && \
	  set -x && $(XTASK) annotate -m policy.yaml -u README.md -o annotated-policy.wasm policy.wasm; \
	fi

# Regenerates artifacthub-pkg.yml from policy.yaml and questions-ui.yml (CREATED_AT=now to restamp).
artifacthub: host-tools
	$(XTASK) artifacthub -m policy.yaml -q questions-ui.yml -o artifacthub-pkg.yml \
	  $(if $(CREATED_AT),$(if $(filter now,$(CREATED_AT)),--now,--created-at $(CREATED_AT)))

# make push REGISTRY=host[:port]/path TAG=vX.Y.Z [SOURCES=kwctl-sources.yaml]
push: annotated-policy.wasm
	@[ -n "$(REGISTRY)" ] && [ -n "$(TAG)" ] || { echo "usage: make push REGISTRY=host[:port]/path TAG=vX.Y.Z [SOURCES=file]" >&2; exit 2; }
	@if [ -n "$(KWCTL)" ]; then \
	  $(call kwctl_sources,$(REGISTRY)); \
	  set -x; "$(KWCTL)" push $${sources:+--sources-path "$$sources"} -o json annotated-policy.wasm registry://$(REGISTRY):$(TAG); \
	  set +x; echo; \
	else \
	  $(MAKE) --no-print-directory host-tools && \
	  set -x && $(XTASK) push -o json annotated-policy.wasm registry://$(REGISTRY):$(TAG); \
	fi

# make pull REF=host[:port]/path:tag|host[:port]/path@sha256:... [OUT=file] [SOURCES=file]
pull:
	@[ -n "$(REF)" ] || { echo "usage: make pull REF=host[:port]/path:tag|...@sha256:... [OUT=file] [SOURCES=file]" >&2; exit 2; }
	@if [ -n "$(KWCTL)" ]; then \
	  $(call kwctl_sources,$(REF)); \
	  set -x; "$(KWCTL)" pull $${sources:+--sources-path "$$sources"} -o $(OUT) registry://$(patsubst registry://%,%,$(REF)); \
	else \
	  $(MAKE) --no-print-directory host-tools && \
	  set -x && $(XTASK) pull $(REF) -o $(OUT); \
	fi

## Tests -----------------------------------------------------------------------------------------
fmt:
	$(CARGO) fmt --all -- --check

lint: setup-rust
	$(CARGO) clippy --workspace --all-targets $(HOST) -- -D warnings
	$(CARGO) clippy --target wasm32-wasip1 --release -- -D warnings

unit-tests:
	$(CARGO) test

## The edit-test loop: fmt, clippy (host and wasm32-wasip1), every unit test, case file and
## property through the native core. No sudo; no network once the dependencies are fetched.
check: fmt lint unit-tests

# The e2e crate's tests (and the host crates' unit tests) through the project's wasmtime host, and
# the Python runner against policy-run (tests/python_runner.rs).
e2e-tests: policy.wasm python-runner
	POLICY_WASM=$(CURDIR)/policy.wasm $(HOST_CARGO_TEST) --lib --bins $(E2E_TESTS)

packaging-tests: policy.wasm
	@$(call apt,docker-registry apache2-utils)
	POLICY_WASM=$(CURDIR)/policy.wasm $(HOST_CARGO_TEST) $(XTASK_TESTS)

# Every case file through the real `kwctl run`, compared with the host.
kwctl-tests: policy.wasm annotated-policy.wasm
	@if [ -z "$(KWCTL)" ]; then $(call skipped,kwctl-tests,kwctl not found: set KWCTL or put kwctl on PATH); \
	else \
	  POLICY_WASM=$(CURDIR)/policy.wasm ANNOTATED_POLICY_WASM=$(CURDIR)/annotated-policy.wasm \
	    $(HOST_CARGO_TEST) --test kwctl -- --nocapture && \
	  $(call ran,kwctl-tests,every case file through $$("$(KWCTL)" --version | head -n1)); \
	fi

# e2e-tests/e2e.bats twice: through the real kwctl (with the documented kwctl commands and
# `make push`/`pull` through kwctl; policy-run writes the cluster scenarios' session files), and
# through policy-run (with `make push`/`pull` through xtask).
bats: policy.wasm annotated-policy.wasm host-tools
	@$(call apt,bats jq curl docker-registry python3-yaml)
	@if [ -z "$(KWCTL)" ]; then $(call skipped,bats through kwctl,kwctl not found: set KWCTL or put kwctl on PATH); \
	else SESSION_WRITER=$(POLICY_RUN) bats e2e-tests/e2e.bats && $(call ran,bats through kwctl,e2e-tests/e2e.bats with $$("$(KWCTL)" --version | head -n1)); fi
	KWCTL= POLICY_RUN=$(POLICY_RUN) bats e2e-tests/e2e.bats

# The annotated module served by the real policy-server over HTTPS.
server-tests: annotated-policy.wasm host-tools
	@$(call apt,bats jq curl openssl python3-yaml)
	@if [ -z "$(POLICY_SERVER)" ]; then $(call skipped,server-tests,policy-server not found: set POLICY_SERVER or put policy-server on PATH); \
	else POLICY_RUN=$(POLICY_RUN) bats e2e-tests/policy-server/policy-server.bats && \
	  $(call ran,server-tests,e2e-tests/policy-server/policy-server.bats with $$("$(POLICY_SERVER)" --version | head -n1)); fi

# A short load run against policy-server: zero errors and zero wrong answers (no timings asserted).
load-check: annotated-policy.wasm
	@$(call apt,wrk jq curl openssl)
	@if [ -z "$(POLICY_SERVER)" ]; then $(call skipped,load-check,policy-server not found: set POLICY_SERVER or put policy-server on PATH); \
	else e2e-tests/load/run.sh --check && \
	  $(call ran,load-check,wrk against policy-server$(if $(PEERS_DIR),, without the peer policies: PEERS_DIR not found)); fi

# An unchanged Python app, started as the mutated pod says, must send traces, metrics and logs.
telemetry-tests: policy.wasm host-tools
	TELEMETRY_SKIP_BUILD=1 TELEMETRY_POLICY_WASM=$(CURDIR)/policy.wasm TELEMETRY_POLICY_RUN=$(POLICY_RUN) \
	  bash e2e-tests/telemetry/run.sh

summary-reset:
	@mkdir -p $(TARGET_DIR) && : > $(SUMMARY)

# The fuzz targets build, and replay their seeds and regressions plus a short fuzz from a fixed seed
# (fuzz/run.sh --check; installs the nightly toolchain and cargo-fuzz when missing).
fuzz-check:
	fuzz/run.sh --check

test: summary-reset setup fmt lint unit-tests fuzz-check e2e-tests packaging-tests kwctl-tests bats server-tests load-check telemetry-tests
	@echo; echo "make test: passed. Real Kubewarden runtime suites:"; cat $(SUMMARY)

## Benchmarks ------------------------------------------------------------------------------------
# The project's host: fresh instance per call (as policy-server) and warm, next to the peers and
# the native floor; and `kwctl bench` for the same requests when kwctl is found.
bench: policy.wasm annotated-policy.wasm host-tools
	$(BENCH) --module $(WASM) --module policy.wasm $(if $(PEERS_DIR),--peers $(PEERS_DIR)) \
	  $(if $(KWCTL),--kwctl-module annotated-policy.wasm)

# Instructions per fresh-instance call (callgrind), the README's figures: with the peers (PEERS_DIR),
# this policy next to them and each speed target met or missed; without, this policy alone.
INSTRUCTION_CASES = article-pod.json:settings/article.yaml pod-no-annotation.json:settings/article.yaml \
  article-deployment.json:settings/article.yaml article-pod.json:settings/article-mirror.yaml
instructions: policy.wasm host-tools
	@command -v valgrind >/dev/null || { sudo_=""; [ "$$(id -u)" = 0 ] || sudo_=sudo; \
	  $$sudo_ apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$sudo_ apt-get install -y -qq valgrind >/dev/null; }
	@if [ -n "$(PEERS_DIR)" ]; then BENCH=$(BENCH) e2e-tests/bench/instruction-targets.sh policy.wasm $(PEERS_DIR); \
	else for c in $(INSTRUCTION_CASES); do \
	  BENCH=$(BENCH) e2e-tests/bench/instructions.sh policy.wasm tests/inputs/requests/$${c%%:*} tests/inputs/$${c#*:}; \
	done; echo "targets: not measured (no peers: set PEERS_DIR)"; fi
	@echo "where they go, per wasm function: make wasm-profile [REQUEST=tests/inputs/requests/... SETTINGS=...]"

# What the doctor and the pod record cost over the bare injection on the article's pod, in
# instructions per fresh call (e2e-tests/bench/extras.sh: the bare module is built from HEAD).
extras: policy.wasm host-tools | setup-binaryen
	@command -v valgrind >/dev/null || { sudo_=""; [ "$$(id -u)" = 0 ] || sudo_=sudo; \
	  $$sudo_ apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$sudo_ apt-get install -y -qq valgrind >/dev/null; }
	BENCH=$(BENCH) WASM_OPT_FLAGS="$(WASM_OPT_FLAGS)" e2e-tests/bench/extras.sh policy.wasm

# Where a fresh call's instructions go, per wasm function (callgrind over wasmtime's perf map,
# e2e-tests/bench/wasm-profile.sh), for REQUEST with SETTINGS. cargo strips the name section from
# the release module, so the profile is of the same build with its names kept: its own cargo
# profile (`wasm-names`: release with strip off, output under $(TARGET_DIR)/wasm32-wasip1/wasm-names,
# the release output untouched) and wasm-opt with policy.wasm's flags plus -g (keep the names).
REQUEST ?= tests/inputs/requests/article-pod.json
SETTINGS ?= tests/inputs/settings/article.yaml
NAMED_WASM := $(TARGET_DIR)/named-policy.wasm
.PHONY: named-policy.wasm wasm-profile
named-policy.wasm: setup-rust | setup-binaryen
	$(CARGO) build --target wasm32-wasip1 --profile wasm-names \
	  --config 'profile.wasm-names.inherits="release"' --config profile.wasm-names.strip=false
	wasm-opt --strip-dwarf $(WASM_OPT_FLAGS) -g $(TARGET_DIR)/wasm32-wasip1/wasm-names/otel_python_policy.wasm \
	  -o $(NAMED_WASM)
wasm-profile: named-policy.wasm host-tools
	@command -v valgrind >/dev/null || { sudo_=""; [ "$$(id -u)" = 0 ] || sudo_=sudo; \
	  $$sudo_ apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$sudo_ apt-get install -y -qq valgrind >/dev/null; }
	BENCH=$(BENCH) e2e-tests/bench/wasm-profile.sh $(NAMED_WASM) $(REQUEST) $(SETTINGS)

# policy-server under load (wrk on loopback): this policy next to the peers, in one server.
bench-server: annotated-policy.wasm
	@$(call apt,wrk jq curl openssl)
	@[ -n "$(POLICY_SERVER)" ] || { echo "bench-server needs policy-server: set POLICY_SERVER or put it on PATH" >&2; exit 2; }
	e2e-tests/load/run.sh

## Robustness beyond `make test` (docs/robustness.md).
stress:
	PROPTEST_CASES=$${PROPTEST_CASES:-1000000} $(CARGO) test $(HOST) --test properties

fuzz:
	fuzz/run.sh $${FUZZ_SECONDS:-300}

clean:
	$(CARGO) clean
	rm -f policy.wasm annotated-policy.wasm
