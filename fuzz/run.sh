#!/usr/bin/env bash
# Runs every fuzz target (or the ones named) for SECONDS each, one after the other, one process
# each (the machine has 2 shared cores). Usage: fuzz/run.sh SECONDS [TARGET...]
# Needs the nightly toolchain and cargo-fuzz (`cargo install cargo-fuzz`). The corpus grows in
# fuzz/corpus/<target> (seeded from fuzz/seeds/<target>); logs go to fuzz/logs/<target>.log; a
# crash stops that target with the input saved under fuzz/artifacts/<target>/. With the fix, copy
# it to fuzz/regressions/<target>/ (every run replays it) and, for validate_structured, dump its
# payload to fuzz/regressions/validate/ (FUZZ_DUMP_PAYLOAD, see docs/robustness.md): `cargo test
# --test properties` replays fuzz/regressions/{validate,validate_bytes,validate_settings}.
set -euo pipefail
cd "$(dirname "$0")"
seconds="${1:?usage: fuzz/run.sh SECONDS [TARGET...]}"
shift
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(validate_structured validate_bytes validate_settings)
# A fresh machine: the nightly toolchain and cargo-fuzz are installed on first use.
rustup toolchain list | grep -q '^nightly' || rustup toolchain install nightly --profile minimal
cargo fuzz --version >/dev/null 2>&1 || cargo install cargo-fuzz --locked
cargo +nightly fuzz build -O >/dev/null
mkdir -p logs
status=0
for t in "${targets[@]}"; do
  mkdir -p "corpus/$t"
  seeds=()
  [ -d "seeds/$t" ] && seeds=("seeds/$t")
  [ -d "regressions/$t" ] && seeds+=("regressions/$t")
  echo "== $t: ${seconds}s"
  if cargo +nightly fuzz run -O "$t" "corpus/$t" "${seeds[@]}" -- \
       -max_total_time="$seconds" -rss_limit_mb=2048 -max_len=65536 -print_final_stats=1 \
       >"logs/$t.log" 2>&1; then
    :
  else
    status=1
    echo "   CRASH: see fuzz/logs/$t.log and fuzz/artifacts/$t/"
  fi
  runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "logs/$t.log" | grep -o '[0-9]*$' | tail -1)
  echo "   executions: ${runs:-?}; corpus: $(ls "corpus/$t" | wc -l) inputs; $(grep -o 'cov: [0-9]*' "logs/$t.log" | tail -1)"
done
exit $status
