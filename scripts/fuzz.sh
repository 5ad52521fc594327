#!/usr/bin/env bash
# Long fuzzing campaigns on the parsers at the public edge (crate fuzz/, bodies in
# src/fuzz.rs; see docs/RELIABILITY.md "Fuzzing"): each target in turn, one process, seeded
# from fuzz/corpus/<target>/ with the dictionary fuzz/dict/<dict>.dict. Fails on a crash, a
# hang (-timeout) or an out-of-memory (-rss_limit_mb); the input that did it lands in
# fuzz/artifacts/<target>/ — reproduce with `cargo fuzz run --sanitizer none <target> <file>`,
# fix, add a regression test beside the code. CI does not run this (too slow to build there):
# it runs the same bodies as the stable test tests/fuzz.rs.
#
#   scripts/fuzz.sh                      60 s per target
#   FUZZ_SECONDS=600 scripts/fuzz.sh     a longer campaign per target
#   FUZZ_RUNS=1000000 scripts/fuzz.sh    a fixed number of executions per target
#   scripts/fuzz.sh jose multipart       only the named targets
#
# Needs cargo-fuzz (`cargo install cargo-fuzz --locked`); a stable toolchain is enough:
# RUSTC_BOOTSTRAP lets it accept cargo-fuzz's nightly-only flags. No sanitizer: the code under
# test is safe Rust, and the build is much faster; a panic, a hang or memory growth is what
# counts as a finding. One process (no -jobs/-workers): the machine is shared.
set -euo pipefail
cd "$(dirname "$0")/../fuzz"

export RUSTC_BOOTSTRAP=1
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(xoev_sniff mapping_path xta_soap jose multipart)
seconds=${FUZZ_SECONDS:-60}
runs=${FUZZ_RUNS:--1}
if [ "$runs" != -1 ] && [ -z "${FUZZ_SECONDS:-}" ]; then
    seconds=0 # a fixed number of runs, however long they take
fi

declare -A dict=([xoev_sniff]=xml [mapping_path]=path [xta_soap]=xml [jose]=jose [multipart]=multipart)

if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "cargo-fuzz is missing: cargo install cargo-fuzz --locked" >&2
    exit 1
fi
cargo fuzz build --sanitizer none
for t in "${targets[@]}"; do
    echo "==> fuzz $t (${seconds}s, runs ${runs})"
    # New inputs go to work/<target> (ignored by git); the checked-in seeds stay as they are.
    mkdir -p "work/$t"
    cargo fuzz run --sanitizer none "$t" "work/$t" "corpus/$t" -- \
        -max_total_time="$seconds" -runs="$runs" \
        -timeout=10 -rss_limit_mb=2048 -max_len=65536 \
        -dict="dict/${dict[$t]}.dict" -print_final_stats=1
done
