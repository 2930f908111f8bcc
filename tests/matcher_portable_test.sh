#!/bin/sh
# The matcher's x86 vector paths (target_clones, AVX-512 intrinsics) and its portable C, as other
# CPUs run it, give the same results byte for byte: bench_match --digest hashes every encoded
# result, score and list of 5,000 generated profiles.
# Usage: matcher_portable_test.sh BENCH_MATCH BENCH_MATCH_PORTABLE ROME_DIR
set -u
ROME=$3
if ! ls "$ROME"/unix_referentiel_code_rome_v4*_utf8.csv >/dev/null 2>&1; then
    echo "skipped: $ROME does not hold the official ROME export"
    exit 77
fi
vector=$("$1" --digest "$ROME" 5000) || { echo "FAIL: $1 --digest failed"; exit 1; }
portable=$("$2" --digest "$ROME" 5000) || { echo "FAIL: $2 --digest failed"; exit 1; }
echo "vector paths: $vector"
echo "portable C:   $portable"
[ "$vector" = "$portable" ] || { echo "FAIL: the two builds disagree"; exit 1; }
