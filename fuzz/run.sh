#!/usr/bin/env bash
# Bounded fuzz run: each target for FUZZ_SECONDS seconds (default 60) with a 512 MiB memory limit,
# INFO fixtures as the seed corpus. Works on a stable toolchain through RUSTC_BOOTSTRAP=1
# (cargo fuzz needs -Z flags for the sanitizer). Needs cargo-fuzz: `cargo install cargo-fuzz`.
# Exits non-zero when a target crashes, leaks or exceeds the memory limit; the input that did it
# is kept in fuzz/artifacts/<target>/.
set -euo pipefail
cd "$(dirname "$0")"
SECONDS_PER_TARGET=${FUZZ_SECONDS:-60}
export RUSTC_BOOTSTRAP=1
command -v cargo-fuzz >/dev/null || { echo "fuzz: cargo-fuzz missing: cargo install cargo-fuzz" >&2; exit 1; }
mkdir -p corpus/info_parse corpus/resp_reply corpus/config_load
cp ../tests/fixtures/info/*.txt corpus/info_parse/ 2>/dev/null || true
for f in ../tests/fixtures/info/*.txt; do
    # The same texts framed as RESP bulk replies.
    { printf '$%d\r\n' "$(wc -c <"$f")"; cat "$f"; printf '\r\n'; } >"corpus/resp_reply/$(basename "$f")"
done
cp ../examples/*.toml corpus/config_load/ 2>/dev/null || true
mkdir -p logs
for target in info_parse resp_reply config_load; do
    echo "fuzz: $target for ${SECONDS_PER_TARGET}s"
    rc=0
    cargo fuzz run "$target" "corpus/$target" -- \
        -max_total_time="$SECONDS_PER_TARGET" -rss_limit_mb=512 -malloc_limit_mb=256 \
        -max_len=65536 -print_final_stats=1 >"logs/$target.log" 2>&1 || rc=$?
    grep -E '^(stat::number_of_executed_units|stat::peak_rss_mb|SUMMARY)' "logs/$target.log" || true
    if ((rc != 0)); then
        tail -n 40 "logs/$target.log"
        echo "fuzz: $target failed (exit $rc); input kept in fuzz/artifacts/$target/" >&2
        exit "$rc"
    fi
done
echo "fuzz: all targets ran ${SECONDS_PER_TARGET}s without a crash"
