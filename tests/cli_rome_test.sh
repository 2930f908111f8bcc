#!/usr/bin/env bash
# `passerelle rome …` end to end: JSON keys and values, snapshot equivalence, errors and exit codes.
# usage: cli_rome_test.sh PASSERELLE_BIN ROME_DIR FIXTURE_DIR
set -u
bin=$1 rome=$2 fixture=$3
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fails=0 passes=0
check() { # check NAME COMMAND... : the command must succeed
    local name=$1; shift
    if "$@"; then passes=$((passes + 1)); else echo "FAIL: $name"; fails=$((fails + 1)); fi
}
json() { node -e "const j=JSON.parse(require('fs').readFileSync(0,'utf8')); process.exit(($1)?0:1)"; }

# Errors: exit status and a message naming what is wrong.
"$bin" rome info --rome "$tmp/nowhere" >/dev/null 2>"$tmp/err"; rc=$?
check "missing dir exits 1" test $rc -eq 1
check "missing dir is named" grep -q "$tmp/nowhere" "$tmp/err"
"$bin" rome frobnicate >/dev/null 2>&1; rc=$?
check "unknown subcommand exits 2" test $rc -eq 2
"$bin" rome info --rome a --snapshot b >/dev/null 2>&1; rc=$?
check "both sources refused" test $rc -eq 1

if [ ! -r "$rome/SOURCE.md" ]; then
    echo "ROME export not found at $rome: real-data checks skipped"
else
    "$bin" rome info --rome "$rome" --json >"$tmp/info.json"
    check "info --json keys" json "j.version===60 && j.fiches===1584 && j.appellations===13120 && j.competences===18317 && j.savoirs===15354 && j.contextes===179" <"$tmp/info.json"
    check "attribution" grep -q "Source : France Travail, ROME 4.0 version 60" "$tmp/info.json"
    check "build" "$bin" rome build --rome "$rome" -o "$tmp/rome.snap"
    "$bin" rome info --snapshot "$tmp/rome.snap" --json >"$tmp/info2.json"
    # Same referential either way; only the resident size differs (the snapshot keeps its header).
    check "snapshot info equals csv info" node -e "
        const fs=require('fs'), a=JSON.parse(fs.readFileSync('$tmp/info.json')), b=JSON.parse(fs.readFileSync('$tmp/info2.json'));
        delete a.memory_bytes; delete b.memory_bytes; process.exit(JSON.stringify(a)===JSON.stringify(b)?0:1)"
    "$bin" rome show D1505 --snapshot "$tmp/rome.snap" --json >"$tmp/show.json"
    check "show D1505" json "j.rome==='D1505' && j.savoir_faire.some(c=>c.code===300303 && c.importance==='principale') && j.domaine==='D15'" <"$tmp/show.json"
    "$bin" rome show 11640 --snapshot "$tmp/rome.snap" --json >"$tmp/app.json"
    check "show appellation" json "j.rome==='D1505' && j.appellation===11640" <"$tmp/app.json"
    "$bin" rome show J1501 --snapshot "$tmp/rome.snap" >"$tmp/j1501.txt"
    check "J1501 night work (text)" grep -q "Travail de nuit" "$tmp/j1501.txt"
    PASSERELLE_SNAPSHOT="$tmp/rome.snap" "$bin" rome contexts --json >"$tmp/ctx.json"
    check "contexts by type" json "j.length===6 && j.reduce((n,t)=>n+t.contexts.length,0)===179" <"$tmp/ctx.json"
    "$bin" rome show Z9999 --snapshot "$tmp/rome.snap" >/dev/null 2>"$tmp/err"; rc=$?
    check "unknown code exits 1" test $rc -eq 1
    check "unknown code named" grep -q "Z9999" "$tmp/err"
    printf '\x01' | dd of="$tmp/rome.snap" bs=1 seek=4096 conv=notrunc status=none
    "$bin" rome info --snapshot "$tmp/rome.snap" >/dev/null 2>"$tmp/err"; rc=$?
    check "corrupted snapshot refused" test $rc -eq 1
    check "corruption explained" grep -q "checksum" "$tmp/err"
fi
echo "$passes passed, $fails failed"
[ "$fails" -eq 0 ]
