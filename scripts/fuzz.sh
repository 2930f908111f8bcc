#!/usr/bin/env bash
# Builds the libFuzzer targets (clang, tests/fuzz.cmake) in build-fuzz/ and runs each for SECONDS
# (default 60) over a copy of its seed corpus tests/fuzz/corpus/<target>/, one after the other.
#   scripts/fuzz.sh [SECONDS [TARGET...]]      e.g. scripts/fuzz.sh 10 fuzz_config
# A crash, leak, sanitizer report or timeout stops here with exit status 1; the input that caused
# it is left in build-fuzz/artifacts/<target>/ (crash-*, leak-*, timeout-*): replay it with
# build-fuzz/<target> FILE. Inputs found along the way are kept in build-fuzz/corpus/<target>/.
#   FUZZ_BUILD_DIR  build directory (default: build-fuzz beside scripts/)
#   FUZZ_SEED       libFuzzer's seed (default 1, so that a CI run is reproducible; 0 = random)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
seconds=${1:-60}
shift || true
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
    targets=(fuzz_codecs fuzz_event fuzz_json fuzz_dlq fuzz_rome_csv fuzz_rome_snapshot fuzz_config
             fuzz_title)
fi
dir=${FUZZ_BUILD_DIR:-$root/build-fuzz}
jobs=${JOBS:-2}

rome_dir=${PASSERELLE_ROME_DIR:-$root/../shared/data/rome4}
cmake -S "$root" -B "$dir" -DCMAKE_C_COMPILER=clang -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DPASSERELLE_FUZZ=ON -DPASSERELLE_ROME_DIR="$rome_dir" >/dev/null
cmake --build "$dir" -j "$jobs" --target "${targets[@]}"

export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
for t in "${targets[@]}"; do
    corpus=$dir/corpus/$t artifacts=$dir/artifacts/$t
    mkdir -p "$corpus" "$artifacts"
    cp "$root/tests/fuzz/corpus/$t"/* "$corpus"/
    echo "== fuzz $t (${seconds}s)"
    if ! "$dir/$t" -seed="${FUZZ_SEED:-1}" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -max_len=65536 \
        -print_final_stats=1 -artifact_prefix="$artifacts/" "$corpus" >"$dir/$t.log" 2>&1; then
        tail -n 60 "$dir/$t.log"
        echo "fuzz: $t failed; reproducer in $artifacts/ (log: $dir/$t.log)" >&2
        exit 1
    fi
    grep -E '^stat::number_of_executed_units|^stat::new_units_added' "$dir/$t.log" | tr '\n' ' '
    echo
done
