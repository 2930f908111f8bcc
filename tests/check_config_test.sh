#!/usr/bin/env bash
# `passerelled --check-config` runs the checks the daemon runs at start: what it passes, the
# daemon accepts. A missing ROME directory and a constraint naming a contexte the index lacks are
# refused; the same file pointed at a real directory and real contextes passes.
# Usage: check_config_test.sh SOURCE_DIR PASSERELLED
set -u
src=$1 daemon=$2
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
sh "$src/tests/support/rome_fixture_dir.sh" "$src/tests/fixtures/matcher" "$work/fx" || exit 1
failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }

# The fixture's own contextes, for every default constraint.
fixture_constraints() {
    for c in no_weekend no_night no_heavy_loads no_shift_work no_public_contact no_travel \
        no_outdoor no_standing; do
        echo "constraint.$c = 300803"
    done
}
conf() { # conf NAME DIR [MATCHING LINES...]
    local name=$1 dir=$2
    shift 2
    { printf '[rome]\ndir = %s\n[matching]\n' "$dir"; printf '%s\n' "$@"; } >"$work/$name.conf"
}

conf missing "$work/no-such-dir"
if "$daemon" --check-config "$work/missing.conf" >"$work/out" 2>&1; then
    fail "a missing ROME directory passes --check-config"
elif ! grep -q "no-such-dir" "$work/out"; then
    fail "the missing directory is not named: $(cat "$work/out")"
else
    echo "ok: missing ROME directory refused: $(head -c 200 "$work/out")"
fi

mapfile -t good < <(fixture_constraints)
# a key is given once ([matching] refuses a repeat): no_night's good line makes way for the bad one
mapfile -t others < <(fixture_constraints | grep -v '^constraint\.no_night ')
conf unknown "$work/fx" "${others[@]}" "constraint.no_night = 999999"
if "$daemon" --check-config "$work/unknown.conf" >"$work/out" 2>&1; then
    fail "an unknown constraint code passes --check-config"
elif ! grep -q "no_night" "$work/out" || ! grep -q "999999" "$work/out"; then
    fail "the unknown constraint code is not named: $(cat "$work/out")"
else
    echo "ok: unknown constraint code refused: $(head -c 200 "$work/out")"
fi

conf good "$work/fx" "${good[@]}"
if "$daemon" --check-config "$work/good.conf" >"$work/out" 2>&1; then
    echo "ok: the same configuration with known codes passes"
else
    fail "a valid configuration is refused: $(cat "$work/out")"
fi
[ "$failures" = 0 ]
