#!/usr/bin/env bash
# The README's demo, twice at once on one machine: every port is chosen free, so both must
# finish, each on ports of its own, with the suggestions explained.
# Usage: demo_side_by_side.sh SOURCE_DIR BUILD_DIR ROME_DIR   (77 = skipped: no ROME export)
set -u
src=$1 build=$2 rome=$3
[ -r "$rome/SOURCE.md" ] || { echo "no ROME export in $rome: skipped"; exit 77; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
for n in 1 2; do
    PASSERELLE_BUILD_DIR=$build PASSERELLE_ROME_DIR=$rome bash "$src/scripts/demo.sh" \
        >"$work/demo$n.out" 2>&1 &
    pids[n]=$!
done
failures=0
for n in 1 2; do
    if ! wait "${pids[n]}"; then
        echo "FAIL: demo $n exited with an error:"; tail -20 "$work/demo$n.out"
        failures=$((failures + 1))
    fi
    grep -q 'Done' "$work/demo$n.out" || { echo "FAIL: demo $n did not finish"; failures=$((failures + 1)); }
    grep -q '✗ eve' "$work/demo$n.out" || { echo "FAIL: demo $n shows no dead letter"; failures=$((failures + 1)); }
done
ports() { sed -n 's/.*Redis at redis:\/\/127.0.0.1:\([0-9]*\).*metrics at http:\/\/127.0.0.1:\([0-9]*\).*/\1 \2/p' "$1"; }
p1=$(ports "$work/demo1.out") p2=$(ports "$work/demo2.out")
echo "demo 1 ports (redis, metrics): $p1; demo 2: $p2"
if [ -z "$p1" ] || [ -z "$p2" ] || [ "$p1" = "$p2" ]; then
    echo "FAIL: the demos did not report distinct ports"; failures=$((failures + 1))
fi
[ "$failures" = 0 ]
