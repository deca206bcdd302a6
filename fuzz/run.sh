#!/usr/bin/env bash
# The fuzz targets (docs/robustness.md), in two modes:
#
#   fuzz/run.sh SECONDS [TARGET...]   fuzz each target for SECONDS, one after the other (make fuzz)
#   fuzz/run.sh --check [TARGET...]   build every target, replay each one's seeds and regressions,
#                                     then fuzz it for a fixed number of runs from a fixed seed;
#                                     fails on a build error or a crash (make fuzz-check, part of
#                                     make test)
#
# Needs the nightly toolchain and cargo-fuzz; both are installed on first use. The targets are
# built as cargo-fuzz does by default: release, with debug assertions and overflow checks, and
# AddressSanitizer. The nightly build goes to FUZZ_TARGET_DIR (default: fuzz-nightly under
# CARGO_TARGET_DIR, or under target/ at the repository root), apart from the stable builds.
#
# The inputs of a target are fuzz/seeds/<target> and fuzz/regressions/<target> (validate_bytes also
# takes the payloads under fuzz/regressions/validate). A long run keeps its corpus in
# fuzz/corpus/<target> (kept between runs) and its log in fuzz/logs/<target>.log, one process per
# target (the machine has 2 shared cores); a crash stops that target with the input saved under
# fuzz/artifacts/<target>/ (none of these is committed). To keep a fixed crash as a regression, copy
# the input to fuzz/regressions/<target>/ (both modes replay it) and, for validate_structured, dump
# its payload to fuzz/regressions/validate/ with FUZZ_DUMP_PAYLOAD (docs/robustness.md): `cargo test
# --test properties` replays fuzz/regressions/{validate,validate_bytes,validate_settings}.
set -euo pipefail
cd "$(dirname "$0")"
usage="usage: fuzz/run.sh SECONDS [TARGET...] | fuzz/run.sh --check [TARGET...]"
mode="${1:?$usage}"
shift
case "$mode" in
  --check) ;;
  *[!0-9]* | '') echo "$usage" >&2; exit 2 ;;
esac
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(validate_structured validate_bytes validate_settings)

# A fresh machine: the nightly toolchain and cargo-fuzz are installed on first use. cargo-fuzz
# builds with AddressSanitizer, whose runtime comes with nightly's rust-std: the minimal profile
# is enough (no rust-src: the standard library is not rebuilt).
rustup run nightly rustc --version >/dev/null 2>&1 || rustup toolchain install nightly --profile minimal
cargo fuzz --version >/dev/null 2>&1 || env -u CARGO_TARGET_DIR cargo install cargo-fuzz --locked
export CARGO_TARGET_DIR="${FUZZ_TARGET_DIR:-${CARGO_TARGET_DIR:-$(cd .. && pwd)/target}/fuzz-nightly}"

# The seed and regression inputs of a target, as the directories that exist.
inputs() {
  local dirs=("seeds/$1" "regressions/$1") d
  [ "$1" = validate_bytes ] && dirs+=(regressions/validate)
  for d in "${dirs[@]}"; do [ -d "$d" ] && echo "$d"; done
  return 0
}

# Every target is built, whichever are named: a target that does not compile fails here.
echo "== cargo +nightly fuzz build (into $CARGO_TARGET_DIR)"
cargo +nightly fuzz build

if [ "$mode" = --check ]; then
  # Runs past the replay, per target: a few seconds each on one shared core. The same number of
  # runs from the same seed explores the same inputs for a given build, so a crash here recurs
  # when the check is run again.
  runs="${FUZZ_CHECK_RUNS:-10000}"
  logs="$CARGO_TARGET_DIR/check-logs"
  mkdir -p "$logs"
  status=0
  for t in "${targets[@]}"; do
    mapfile -t dirs < <(inputs "$t")
    files=0
    [ ${#dirs[@]} -eq 0 ] || files=$(find "${dirs[@]}" -type f | wc -l)
    # New inputs go to a scratch corpus, never into seeds/ or regressions/.
    scratch="$CARGO_TARGET_DIR/check-corpus/$t"
    rm -rf "$scratch" && mkdir -p "$scratch"
    log="$logs/$t.log"
    start=$SECONDS
    if cargo +nightly fuzz run "$t" "$scratch" "${dirs[@]}" -- \
         -runs=$((files + runs)) -seed=1 -rss_limit_mb=2048 >"$log" 2>&1; then
      # libFuzzer names the inputs it read: all of them must have been replayed.
      read_files=$(grep -o 'seed corpus: files: [0-9]*' "$log" | grep -o '[0-9]*$' || true)
      if [ "${read_files:-0}" -ne "$files" ]; then
        status=1
        echo "$t: FAILED: replayed ${read_files:-0} of the $files inputs in ${dirs[*]} (log: $log)"
      else
        echo "$t: ok: $files inputs replayed from ${dirs[*]:-nothing}, then $runs runs, in $((SECONDS - start)) s"
      fi
    else
      status=1
      echo "$t: FAILED: crash (log: $log; the input is in fuzz/artifacts/$t/)"
      # The panic's message (or the sanitizer's summary) and where the input was saved.
      awk '/panicked at/ {p = 1} /^stack backtrace:|^note: / {p = 0} p' "$log" | head -20
      grep -E '^SUMMARY: |Test unit written to' "$log" || tail -20 "$log"
    fi
  done
  exit $status
fi

seconds="$mode"
mkdir -p logs
status=0
for t in "${targets[@]}"; do
  mkdir -p "corpus/$t"
  mapfile -t dirs < <(inputs "$t")
  echo "== $t: ${seconds}s"
  if cargo +nightly fuzz run "$t" "corpus/$t" "${dirs[@]}" -- \
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
