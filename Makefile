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

.PHONY: all setup setup-rust setup-apt example policy.wasm annotate artifacthub push pull \
        fmt lint unit-tests e2e-tests bats packaging-tests telemetry-tests test bench stress fuzz clean

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

setup: setup-rust setup-apt

## The policy module ---------------------------------------------------------------------------
policy.wasm: setup-rust
	$(CARGO) build --target wasm32-wasip1 --release
	cp $(WASM) policy.wasm
	@echo "policy.wasm: $$(stat -c %s policy.wasm) bytes"

$(POLICY_RUN) host-tools:
	$(CARGO) build -p e2e-tests $(HOST) --bins

## The main job: build and evaluate the article's pod, printing the response and the decoded patch.
example: policy.wasm host-tools
	$(POLICY_RUN) --show-patch \
	  --request-path e2e-tests/fixtures/requests/article-pod.json \
	  --settings-path e2e-tests/fixtures/settings/article.yaml \
	  policy.wasm

## Tests -----------------------------------------------------------------------------------------
fmt:
	$(CARGO) fmt --all -- --check

lint: setup-rust
	$(CARGO) clippy --workspace --all-targets $(HOST) -- -D warnings
	$(CARGO) clippy --target wasm32-wasip1 --release -- -D warnings

unit-tests:
	$(CARGO) test

e2e-tests: policy.wasm
	POLICY_WASM=$(CURDIR)/policy.wasm $(CARGO) test -p e2e-tests $(HOST)

bats: policy.wasm annotated-policy.wasm
	bats e2e-tests/e2e.bats

test: setup fmt lint unit-tests e2e-tests

clean:
	$(CARGO) clean
	rm -f policy.wasm annotated-policy.wasm
