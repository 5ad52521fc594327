#!/usr/bin/env bash
# Fuzzes the parsers at the public edge (crate fuzz/, see docs/RELIABILITY.md "Fuzzing"):
# each target in turn, one job, seeded from fuzz/corpus/<target>/. Fails on a crash, a hang
# (-timeout) or an out-of-memory (-rss_limit_mb); the input that did it lands in
# fuzz/artifacts/<target>/.
#
#   scripts/fuzz.sh                      a short smoke run of every target (test.sh uses it)
#   FUZZ_SECONDS=600 scripts/fuzz.sh     a longer campaign per target
#   FUZZ_RUNS=1000000 scripts/fuzz.sh    a fixed number of executions per target
#   scripts/fuzz.sh jose                 only the named targets
#
# Only a stable toolchain is needed: RUSTC_BOOTSTRAP lets it accept cargo-fuzz's flags.
# Without a sanitizer (the code under test is safe Rust; the build is much faster), a panic,
# a hang or memory growth is what counts as a finding.
set -euo pipefail
cd "$(dirname "$0")/../fuzz"

export RUSTC_BOOTSTRAP=1
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(xoev_sniff mapping_path xta_soap jose)
seconds=${FUZZ_SECONDS:-5}
runs=${FUZZ_RUNS:--1}

declare -A dict=([xoev_sniff]=xml [mapping_path]=path [xta_soap]=xml [jose]=jose)

cargo fuzz build --sanitizer none
for t in "${targets[@]}"; do
    echo "==> fuzz $t (${seconds}s, runs ${runs})"
    # One process (no -jobs: libFuzzer would fork workers). New inputs go to work/<target>;
    # the checked-in seeds stay as they are.
    mkdir -p "work/$t"
    cargo fuzz run --sanitizer none "$t" "work/$t" "corpus/$t" -- \
        -max_total_time="$seconds" -runs="$runs" \
        -timeout=10 -rss_limit_mb=2048 -max_len=65536 \
        -dict="dict/${dict[$t]}.dict" -print_final_stats=1
done
