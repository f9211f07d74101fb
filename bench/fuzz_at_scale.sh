#!/usr/bin/env bash
# Every cargo-fuzz target to 10^7 executions (or a time cap for the targets
# that run face inference or QR detection per input), from the checked-in
# seeds, one after the other; prints the runs, the time and the outcome of
# each. Needs `cargo install cargo-fuzz --locked` and, for face_image, the
# models (scripts/fetch-models.sh). Crashes land in fuzz/artifacts/TARGET/.
#   bench/fuzz_at_scale.sh [RUNS] [MAX_SECONDS_PER_TARGET]
set -uo pipefail
cd "$(dirname "$0")/../fuzz"
runs=${1:-10000000}
cap=${2:-1800}
for target in $(cargo fuzz list); do
  mkdir -p "corpus/$target"
  seeds=()
  [ -d "seeds/$target" ] && seeds=("seeds/$target")
  start=$(date +%s)
  log=$(RUSTC_BOOTSTRAP=1 cargo fuzz run -O "$target" "corpus/$target" "${seeds[@]}" -- \
    -runs="$runs" -max_total_time="$cap" -print_final_stats=1 2>&1)
  status=$?
  end=$(date +%s)
  done_line=$(printf '%s\n' "$log" | grep -E '^Done [0-9]+ runs' | tail -n 1)
  crashes=$(printf '%s\n' "$log" | grep -cE 'SUMMARY: (libFuzzer|AddressSanitizer)|panicked at')
  printf '%-14s %s (%d s wall), exit %d, crash reports %d\n' "$target" "${done_line:-no Done line}" $((end - start)) "$status" "$crashes"
done
