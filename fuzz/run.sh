#!/usr/bin/env bash
# Builds every fuzz target and runs each for a while: `fuzz/run.sh` (30 s each, what CI runs) or
# `fuzz/run.sh 3600` for the long form. cargo-fuzz needs nightly features; on a stable toolchain
# RUSTC_BOOTSTRAP=1 enables them. Seeds: the committed vault test vectors.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-30}"
export RUSTC_BOOTSTRAP=1
command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked
cargo fuzz build
for target in $(cargo fuzz list); do
    mkdir -p "fuzz/corpus/$target"
    seeds=()
    [ "$target" = vault_parse ] && seeds=(tests/vectors tests/vectors/v2)
    [ "$target" = vault_text ] && seeds=(tests/vectors/v2)
    echo "--- $target (${seconds}s)"
    log="fuzz/$target.log"
    if ! cargo fuzz run "$target" "fuzz/corpus/$target" "${seeds[@]}" -- -max_total_time="$seconds" \
        -print_final_stats=1 >"$log" 2>&1; then
        tail -n 40 "$log" >&2
        echo "fuzz target $target failed (crash inputs, if any, are in fuzz/artifacts/$target)" >&2
        exit 1
    fi
    grep -E "^(Done|stat::number_of_executed_units)" "$log" || true
done
