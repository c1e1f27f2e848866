#!/usr/bin/env bash
# Runs every fuzz target for SECONDS each (default 60), from its seeds (seeds/TARGET,
# written by seeds.py) and the corpus it grew before (corpus/TARGET, kept between runs).
# A crash, a hang or an out-of-memory ends the run with a non-zero exit; libFuzzer keeps
# the input under artifacts/TARGET/ (replay it with `cargo +nightly fuzz run TARGET
# FILE`). Prints one line per target: executions, coverage reached and corpus size.
#
#   fuzz/run.sh [SECONDS] [TARGET...]
#
# Needs a nightly toolchain and cargo-fuzz (`cargo install cargo-fuzz --locked`).
set -euo pipefail
cd "$(dirname "$0")"
seconds=${1:-60}
shift || true
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
    mapfile -t targets < <(cargo +nightly fuzz list)
fi
cargo +nightly fuzz build >/dev/null 2>&1 || cargo +nightly fuzz build
printf '%-16s %8s %12s %10s %8s %8s %8s %8s\n' target seconds executions exec/s cov features corpus rss_mb
failed=0
for target in "${targets[@]}"; do
    mkdir -p "corpus/$target" "artifacts/$target"
    log=$(mktemp)
    # -timeout: one input that takes over 10 s is a hang; -rss_limit_mb: a leak or an
    # allocation beyond bounds is a failure, not a slow machine.
    if ! cargo +nightly fuzz run "$target" "corpus/$target" "seeds/$target" -- \
        -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
        -print_final_stats=1 -close_fd_mask=3 >"$log" 2>&1; then
        echo "$target: FAILED (its input is under fuzz/artifacts/$target/)"
        grep -E "ERROR|panicked|SUMMARY|Test unit written" "$log" | head -20 || tail -40 "$log"
        failed=1
        rm -f "$log"
        continue
    fi
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
    rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
    rss=$(sed -n 's/^stat::peak_rss_mb: *//p' "$log" | tail -1)
    done_line=$(grep -aE '^#[0-9]+[[:space:]]+DONE' "$log" | tail -1 || true)
    cov=$(sed -n 's/.* cov: \([0-9]*\).*/\1/p' <<<"$done_line")
    ft=$(sed -n 's/.* ft: \([0-9]*\).*/\1/p' <<<"$done_line")
    corp=$(sed -n 's/.* corp: \([0-9]*\).*/\1/p' <<<"$done_line")
    printf '%-16s %8s %12s %10s %8s %8s %8s %8s\n' "$target" "$seconds" "$runs" "$rate" "$cov" "$ft" "$corp" "$rss"
    rm -f "$log"
done
exit "$failed"
