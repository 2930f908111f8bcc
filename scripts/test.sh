#!/usr/bin/env bash
# Runs the whole test suite on a fresh Debian 12 machine: installs the dependencies, checks the
# layout (.clang-format), builds with warnings as errors and runs ctest, checks that the Release
# and Debug build types build too, then builds again with clang's AddressSanitizer +
# UndefinedBehaviorSanitizer (LeakSanitizer included) and runs ctest again, then runs every
# libFuzzer target for FUZZ_SECONDS each (scripts/fuzz.sh; a crash fails, its input is left in
# build-fuzz/artifacts/).
#   PASSERELLE_ROME_DIR  the official ROME export (default: ../shared/data/rome4 beside the repo)
#   SKIP_SANITIZE=1      only the plain build (no sanitizers, no fuzzing)
#   FUZZ_SECONDS         seconds per fuzz target (default 60; 0 skips fuzzing)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
rome_dir=${PASSERELLE_ROME_DIR:-$root/../shared/data/rome4}
jobs=${JOBS:-2}

bash "$root/deploy/install-deps.sh"

build() { # build BUILD_DIR CMAKE_ARGS...: warnings are errors here, in CI (off for users' builds)
    local dir=$1; shift
    cmake -S "$root" -B "$dir" -DPASSERELLE_ROME_DIR="$rome_dir" -DPASSERELLE_WERROR=ON "$@" >/dev/null
    cmake --build "$dir" -j "$jobs"
}
run_suite() { # run_suite BUILD_DIR CMAKE_ARGS...
    build "$@"
    (cd "$1" && ctest --output-on-failure -j "$jobs" --timeout 900)
}

echo "== layout (.clang-format)"
bash "$root/scripts/check-format.sh"
echo "== build and test (RelWithDebInfo, -Wall -Wextra -Werror)"
run_suite "$root/build" -DCMAKE_BUILD_TYPE=RelWithDebInfo
for type in Release Debug; do
    echo "== build ($type, -Werror)"
    build "$root/build-${type,,}" -DCMAKE_BUILD_TYPE="$type"
done
if [ "${SKIP_SANITIZE:-0}" != 1 ]; then
    # clang: its -fsanitize=undefined includes float-cast-overflow, which GCC's does not.
    echo "== build and test under AddressSanitizer + UndefinedBehaviorSanitizer (clang)"
    CC=clang ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
        UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
        run_suite "$root/build-asan" -DCMAKE_BUILD_TYPE=Debug -DPASSERELLE_SANITIZE=ON
fi
if [ "${SKIP_SANITIZE:-0}" != 1 ] && [ "${FUZZ_SECONDS:-60}" != 0 ]; then
    echo "== fuzz every parser (libFuzzer, ${FUZZ_SECONDS:-60}s per target)"
    JOBS=$jobs PASSERELLE_ROME_DIR="$rome_dir" bash "$root/scripts/fuzz.sh" "${FUZZ_SECONDS:-60}"
fi
