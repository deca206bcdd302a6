# Build, run and test the policy. `make example` and `make test` are the README's two commands:
# both set up what they need on a fresh machine (rustup target, Debian and Python packages).

SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
TARGET_DIR ?= $(or $(CARGO_TARGET_DIR),$(CURDIR)/target)
export CARGO_TARGET_DIR := $(TARGET_DIR)
CARGO ?= cargo
HOST := --profile host
WASM := $(TARGET_DIR)/wasm32-wasip1/release/otel_python_policy.wasm
POLICY_RUN := $(TARGET_DIR)/host/policy-run
XTASK := $(TARGET_DIR)/host/xtask
APT_PACKAGES := bats binaryen bubblewrap docker-registry
# wasm-opt 108 (Debian's binaryen) needs the features rustc's wasm32-wasip1 output uses.
WASM_OPT_FLAGS := -O3 --enable-bulk-memory --enable-sign-ext --enable-mutable-globals --enable-nontrapping-float-to-int

.PHONY: all setup setup-rust setup-apt setup-binaryen example policy.wasm host-tools xtask annotate artifacthub push pull \
        fmt lint check unit-tests e2e-tests bats packaging-tests telemetry-tests test bench stress fuzz clean

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

# wasm-opt alone, for `make example` (which needs nothing else from Debian).
setup-binaryen:
	@command -v wasm-opt >/dev/null 2>&1 || $(MAKE) --no-print-directory setup-apt APT_PACKAGES=binaryen

setup: setup-rust setup-apt

## The policy module ---------------------------------------------------------------------------
# The cargo build, then wasm-opt -O3: smaller and faster (see e2e-tests/README.md); every test runs
# against this optimised module, the one that is published.
policy.wasm: setup-rust setup-binaryen
	$(CARGO) build --target wasm32-wasip1 --release
	wasm-opt $(WASM_OPT_FLAGS) $(WASM) -o policy.wasm
	@echo "policy.wasm: $$(stat -c %s policy.wasm) bytes (cargo build: $$(stat -c %s $(WASM)) bytes)"

$(POLICY_RUN) host-tools:
	$(CARGO) build -p e2e-tests $(HOST) --bins

## The main job: build and evaluate the article's pod, printing the response and the decoded patch.
example: policy.wasm host-tools
	$(POLICY_RUN) --show-patch \
	  --request-path tests/cases/requests/article-pod.json \
	  --settings-path tests/cases/settings/article.yaml \
	  policy.wasm

## Packaging (kwctl when installed, else the project's xtask) ----------------------------------
OUT ?= pulled-policy.wasm
xtask:
	$(CARGO) build -p xtask $(HOST)

annotate annotated-policy.wasm: policy.wasm
	@if command -v kwctl >/dev/null 2>&1; then \
	  set -x; kwctl annotate -m policy.yaml -u README.md -o annotated-policy.wasm policy.wasm; \
	else \
	  set -x; $(CARGO) build -p xtask $(HOST) && \
	  $(XTASK) annotate -m policy.yaml -u README.md -o annotated-policy.wasm policy.wasm; \
	fi

# Regenerates artifacthub-pkg.yml from policy.yaml and questions-ui.yml (CREATED_AT=now to restamp).
artifacthub: xtask
	$(XTASK) artifacthub -m policy.yaml -q questions-ui.yml -o artifacthub-pkg.yml \
	  $(if $(CREATED_AT),$(if $(filter now,$(CREATED_AT)),--now,--created-at $(CREATED_AT)))

push: annotated-policy.wasm
	@[ -n "$(REGISTRY)" ] && [ -n "$(TAG)" ] || { echo "usage: make push REGISTRY=host[:port]/path TAG=vX.Y.Z" >&2; exit 2; }
	@if command -v kwctl >/dev/null 2>&1; then \
	  set -x; kwctl push -o json annotated-policy.wasm registry://$(REGISTRY):$(TAG); \
	else \
	  set -x; $(CARGO) build -p xtask $(HOST) && \
	  $(XTASK) push -o json annotated-policy.wasm registry://$(REGISTRY):$(TAG); \
	fi

pull:
	@[ -n "$(REF)" ] || { echo "usage: make pull REF=host[:port]/path:tag|...@sha256:... [OUT=file]" >&2; exit 2; }
	@if command -v kwctl >/dev/null 2>&1; then \
	  set -x; kwctl pull -o $(OUT) registry://$(patsubst registry://%,%,$(REF)); \
	else \
	  set -x; $(CARGO) build -p xtask $(HOST) && $(XTASK) pull $(REF) -o $(OUT); \
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

e2e-tests: policy.wasm
	POLICY_WASM=$(CURDIR)/policy.wasm $(CARGO) test -p e2e-tests $(HOST)

# The real kwctl when installed (skipped otherwise), and the same checks through policy-run.
bats: policy.wasm annotated-policy.wasm host-tools
	bats e2e-tests/e2e.bats
	POLICY_RUN=$(POLICY_RUN) bats e2e-tests/e2e.bats

packaging-tests: policy.wasm setup-apt
	POLICY_WASM=$(CURDIR)/policy.wasm $(CARGO) test -p xtask $(HOST)

# An unchanged Python app, started as the mutated pod says, must send traces, metrics and logs.
telemetry-tests: policy.wasm host-tools
	TELEMETRY_SKIP_BUILD=1 TELEMETRY_POLICY_WASM=$(CURDIR)/policy.wasm TELEMETRY_POLICY_RUN=$(POLICY_RUN) \
	  bash e2e-tests/telemetry/run.sh

test: setup fmt lint unit-tests e2e-tests packaging-tests bats telemetry-tests

## Benchmarks: the cargo build against the optimised module, with the native floor.
bench: policy.wasm host-tools
	$(TARGET_DIR)/host/bench --module $(WASM) --module policy.wasm

## Robustness beyond `make test` (docs/robustness.md).
stress:
	PROPTEST_CASES=$${PROPTEST_CASES:-1000000} $(CARGO) test $(HOST) --test properties

fuzz:
	fuzz/run.sh $${FUZZ_SECONDS:-300}

clean:
	$(CARGO) clean
	rm -f policy.wasm annotated-policy.wasm
