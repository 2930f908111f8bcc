#!/bin/sh
# `passerelle match` end to end on the official export: results in input order, one error object
# per malformed line (with its line number), exit status, --top, --config, --jobs, and 100,000
# profiles streamed in one process with flat memory.
# Usage: cli_match_test.sh PASSERELLE_BIN ROME_DIR
set -u
BIN=$1
ROME=$2
if ! ls "$ROME"/unix_referentiel_code_rome_v4*_utf8.csv >/dev/null 2>&1; then
    echo "skipped: $ROME does not hold the official ROME export"
    exit 77
fi
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
fail() { echo "FAIL: $*"; exit 1; }

cat > "$TMP/in.jsonl" <<'JSON'
{"user_id":"u1","experiences":[{"appellation":11640,"months":30}],"avoid":["no_weekend"]}
{"user_id":"u2", "experiences": [
{"user_id":"u3","experiences":[{"appellation":1}]}
{"user_id":"u4","experiences":[{"title":"aide soignante"},{"rome":"K1304","extra":true}],"domains":["J"],"rejected":[300453]}
[1,2]
{"user_id":"u6","experiences":[]}
JSON
"$BIN" match --rome "$ROME" --top 5 "$TMP/in.jsonl" > "$TMP/out.jsonl" 2> "$TMP/err.txt"
status=$?
[ "$status" -eq 1 ] || fail "exit status $status with failing lines, expected 1"
[ "$(wc -l < "$TMP/out.jsonl")" -eq 6 ] || fail "expected 6 output lines"
jq -e -s 'length == 6' "$TMP/out.jsonl" >/dev/null || fail "output is not 6 JSON values"
jq -e -s '.[0].user_id == "u1" and .[3].user_id == "u4"' "$TMP/out.jsonl" >/dev/null || fail "input order lost"
jq -e -s '.[1].line == 2 and (.[1].error | length > 0)' "$TMP/out.jsonl" >/dev/null || fail "malformed JSON line"
jq -e -s '.[2].line == 3 and .[2].user_id == "u3" and (.[2].error | test("experiences\\[0\\].appellation"))' \
    "$TMP/out.jsonl" >/dev/null || fail "unknown appellation not reported with its field"
jq -e -s '.[4].line == 5 and .[5].line == 6' "$TMP/out.jsonl" >/dev/null || fail "non-object / empty lines"
jq -e -s '.[0] | .rome_version == "4.0-60" and (.jobs | length == 5) and (.skills | length > 0)
          and all(.jobs[]; has("rome") and has("label") and has("score") and has("held") and has("missing") and has("contexts"))
          and .excluded.constraints[0].avoid == "no_weekend" and .current[0].rome == "D1505"' \
    "$TMP/out.jsonl" >/dev/null || fail "result line u1 lacks fields"
jq -e -s '.[3] | .experiences[0].rome == "J1501" and ([.jobs[].held[]] | index(300453) == null)' \
    "$TMP/out.jsonl" >/dev/null || fail "title or rejection not applied for u4"

# the rebuilt matcher's fields come through the codec: components, flags, removals and why
jq -e -s '.[0] | all(.jobs[]; (.components | keys == ["competences","kinship","level","profile","related"])
          and (.held_share | type == "number") and (.level | type == "number")
          and ([.regulated, .cadre, .no_evidence, .qualification_gap] | all(type == "boolean")))
          and (.excluded.constraints[0].jobs | length > 0)
          and all(.excluded.constraints[0].jobs[];
                  (.because | IN("contexte","competence","parent","domain")) and has("code"))
          and (.excluded.regulated | has("removed") and has("jobs"))' \
    "$TMP/out.jsonl" >/dev/null || fail "result line u1 lacks the job components, flags or removals"
# `ts` and include_regulated in a line: an old experience weighs less once counted to its year
cat > "$TMP/ts.jsonl" <<'JSON'
{"user_id":"t1","experiences":[{"appellation":11640,"end_year":2000}]}
{"user_id":"t2","ts":1764393600000,"experiences":[{"appellation":11640,"end_year":2000}],"include_regulated":true}
JSON
"$BIN" match --rome "$ROME" "$TMP/ts.jsonl" > "$TMP/ts.out" || fail "ts/include_regulated line refused"
jq -e -s '.[0].jobs[0].score != .[1].jobs[0].score or .[0].jobs[0].rome != .[1].jobs[0].rome' \
    "$TMP/ts.out" >/dev/null || fail "ts did not change recency"
jq -e -s '.[1].excluded.regulated.removed == 0' "$TMP/ts.out" >/dev/null || fail "include_regulated ignored"
"$BIN" explain --rome "$ROME" "$TMP/out.jsonl" > "$TMP/explain.txt" || fail "explain exit status"
grep -q "score from: competences held" "$TMP/explain.txt" || fail "explain shows no components"
grep -q "without no_weekend: .* more, among them" "$TMP/explain.txt" || fail "explain shows no removals"
grep -q " — ROME lists \"Travail" "$TMP/explain.txt" || fail "explain gives no removal reason"

# a clean file exits 0; the same input gives byte-identical output
head -1 "$TMP/in.jsonl" > "$TMP/good.jsonl"
"$BIN" match --rome "$ROME" "$TMP/good.jsonl" > "$TMP/a.jsonl" || fail "clean run exit status"
"$BIN" match --rome "$ROME" < "$TMP/good.jsonl" > "$TMP/b.jsonl" || fail "stdin run exit status"
cmp -s "$TMP/a.jsonl" "$TMP/b.jsonl" || fail "output not deterministic"
jq -e '.jobs | length == 20' "$TMP/a.jsonl" >/dev/null || fail "default top is 20"

# --snapshot gives what --rome gives
"$BIN" rome build --rome "$ROME" -o "$TMP/rome.snap" > /dev/null || fail "rome build"
"$BIN" match --snapshot "$TMP/rome.snap" "$TMP/good.jsonl" > "$TMP/s.jsonl" || fail "--snapshot run"
cmp -s "$TMP/a.jsonl" "$TMP/s.jsonl" || fail "--snapshot output differs from --rome"

# blank lines are skipped, as `send` and `explain` skip them: no error object, exit 0
{ echo; cat "$TMP/good.jsonl"; printf ' \t\n\r\n'; } > "$TMP/blank.jsonl"
"$BIN" match --rome "$ROME" "$TMP/blank.jsonl" > "$TMP/blank.out" \
    || fail "blank lines make the run fail"
cmp -s "$TMP/a.jsonl" "$TMP/blank.out" \
    || fail "blank lines answered: $(head -c 200 "$TMP/blank.out")"

# PASSERELLE_SNAPSHOT, else PASSERELLE_ROME_DIR, stand for --snapshot / --rome, as for `rome`
env -u PASSERELLE_ROME_DIR PASSERELLE_SNAPSHOT="$TMP/rome.snap" "$BIN" match "$TMP/good.jsonl" \
    > "$TMP/e.jsonl" || fail "match ignores PASSERELLE_SNAPSHOT"
cmp -s "$TMP/a.jsonl" "$TMP/e.jsonl" || fail "match with PASSERELLE_SNAPSHOT differs"
env -u PASSERELLE_SNAPSHOT PASSERELLE_ROME_DIR="$ROME" "$BIN" match "$TMP/good.jsonl" \
    > "$TMP/e.jsonl" || fail "match ignores PASSERELLE_ROME_DIR"
cmp -s "$TMP/a.jsonl" "$TMP/e.jsonl" || fail "match with PASSERELLE_ROME_DIR differs"
PASSERELLE_SNAPSHOT="$TMP/rome.snap" PASSERELLE_ROME_DIR="$TMP/nowhere" "$BIN" match \
    "$TMP/good.jsonl" > /dev/null || fail "PASSERELLE_SNAPSHOT does not come first"
env PASSERELLE_SNAPSHOT="$TMP/nowhere.snap" "$BIN" match --rome "$ROME" "$TMP/good.jsonl" \
    > /dev/null || fail "the environment overrides --rome"
env -u PASSERELLE_ROME_DIR PASSERELLE_SNAPSHOT="$TMP/rome.snap" "$BIN" explain "$TMP/out.jsonl" \
    > "$TMP/e.txt" || fail "explain ignores PASSERELLE_SNAPSHOT"
cmp -s "$TMP/explain.txt" "$TMP/e.txt" || fail "explain with PASSERELLE_SNAPSHOT differs"
env -u PASSERELLE_SNAPSHOT PASSERELLE_ROME_DIR="$ROME" "$BIN" explain "$TMP/out.jsonl" \
    > "$TMP/e.txt" || fail "explain ignores PASSERELLE_ROME_DIR"
cmp -s "$TMP/explain.txt" "$TMP/e.txt" || fail "explain with PASSERELLE_ROME_DIR differs"
env -u PASSERELLE_SNAPSHOT -u PASSERELLE_ROME_DIR "$BIN" explain "$TMP/out.jsonl" > /dev/null 2>&1
[ $? -eq 2 ] || fail "explain without a ROME source accepted"

# --jobs: threads change nothing in the output: the same bytes in input order, error lines in
# their place with their line numbers, over chunk boundaries (mixed lines, 3 chunks of 256)
for r in $(seq 1 110); do cat "$TMP/in.jsonl"; done > "$TMP/mixed.jsonl"
"$BIN" match --snapshot "$TMP/rome.snap" --top 5 --jobs 1 "$TMP/mixed.jsonl" > "$TMP/j1.jsonl"
[ $? -eq 1 ] || fail "--jobs 1: exit status with failing lines, expected 1"
"$BIN" match --snapshot "$TMP/rome.snap" --top 5 --jobs 4 "$TMP/mixed.jsonl" > "$TMP/j4.jsonl"
[ $? -eq 1 ] || fail "--jobs 4: exit status with failing lines, expected 1"
cmp -s "$TMP/j1.jsonl" "$TMP/j4.jsonl" || fail "--jobs 4 output differs from --jobs 1"
[ "$(wc -l < "$TMP/j4.jsonl")" -eq 660 ] || fail "--jobs 4: expected 660 output lines"
jq -e -s '.[659].line == 660 and .[657].user_id == "u4"' "$TMP/j4.jsonl" >/dev/null \
    || fail "--jobs 4: error line numbers or order"
for bad in 0 257 -1 x; do
    "$BIN" match --snapshot "$TMP/rome.snap" --jobs "$bad" "$TMP/good.jsonl" > /dev/null 2>&1
    [ $? -eq 2 ] || fail "--jobs $bad accepted"
done

# --config: [matching] keys apply; a bad key is refused with its line number
printf '[other]\nx = 1\n[matching]\ntop = 2\nconstraint.no_weekend = 23374\n' > "$TMP/ok.ini"
"$BIN" match --rome "$ROME" --config "$TMP/ok.ini" "$TMP/good.jsonl" > "$TMP/c.jsonl" || fail "--config run"
jq -e '(.jobs | length == 2)' "$TMP/c.jsonl" >/dev/null || fail "--config top not applied"
printf '[matching]\ntop = 2\nweight.other = 3\n' > "$TMP/bad.ini"
"$BIN" match --rome "$ROME" --config "$TMP/bad.ini" "$TMP/good.jsonl" > /dev/null 2> "$TMP/err.txt"
[ $? -eq 2 ] || fail "bad config accepted"
grep -q "bad.ini:3: \[matching\] weight.other" "$TMP/err.txt" || fail "bad config message: $(cat "$TMP/err.txt")"
env -u PASSERELLE_SNAPSHOT -u PASSERELLE_ROME_DIR "$BIN" match --top 5 "$TMP/good.jsonl" \
    > /dev/null 2>&1
[ $? -eq 2 ] || fail "missing --rome/--snapshot accepted"

# regressions (tests/fixtures/cli_match, from ../shared/repro): output always valid UTF-8 (a JSON
# path cut inside a character, a duplicate key echoed raw), and the daemon's limits (nesting
# depth, message size) refused with its reason, over_limit
FIX=$(dirname "$0")/fixtures/cli_match
for f in repro_match_utf8 repro_match_utf8_dupkey match_limits; do
    "$BIN" match --rome "$ROME" --top 3 "$FIX/$f.jsonl" > "$TMP/$f.out"
    [ $? -eq 1 ] || fail "$f: exit status, expected 1 (every line fails)"
    iconv -f UTF-8 -t UTF-8 "$TMP/$f.out" > /dev/null || fail "$f: output is not valid UTF-8"
    [ "$(wc -l < "$TMP/$f.out")" -eq "$(wc -l < "$FIX/$f.jsonl")" ] || fail "$f: lines out"
    jq -e -s 'all(.[]; has("line") and (.error | length > 0))' "$TMP/$f.out" >/dev/null \
        || fail "$f: not error lines"
done
jq -e -s '.[0].error | test("^\\$\\.a+…: ")' "$TMP/repro_match_utf8.out" >/dev/null \
    || fail "cut path: $(cat "$TMP/repro_match_utf8.out")"
jq -e -s '.[0].reason == "duplicate_key" and (.[0].error | contains("\\xD4k"))' \
    "$TMP/repro_match_utf8_dupkey.out" >/dev/null || fail "duplicate key"
jq -e -s 'length == 2 and all(.[]; .reason == "over_limit") and (.[0].user_id | not)
          and (.[0].error | test("deeper than 8"))
          and (.[1].error | test("over the limit of 65536"))' \
    "$TMP/match_limits.out" >/dev/null || fail "limits: $(cut -c1-200 "$TMP/match_limits.out")"
# numbers are exact: a line's user_id and the numbers of its result read back unchanged
jq -e '[.. | numbers] | all(tostring | tonumber | tostring == tostring)' "$TMP/a.jsonl" >/dev/null \
    || fail "result numbers"
# --strict: an unknown key is an error line naming it and the nearest known key; without it the
# key is ignored, as the daemon ignores it
cat > "$TMP/typo.jsonl" <<'JSON'
{"user_id":"s1","experiences":[{"appellation":11640}],"avoids":["no_weekend"]}
{"user_id":"s2","experiences":[{"appellation":11640,"titel":"caissier"}]}
JSON
"$BIN" match --rome "$ROME" --top 2 --strict "$TMP/typo.jsonl" > "$TMP/strict.out"
status=$?
[ "$status" -eq 1 ] || fail "--strict: exit status $status, expected 1"
jq -e -s 'length == 2 and .[0].line == 1 and .[0].error == "avoids: unknown key; did you mean \"avoid\"?"
          and .[1].line == 2 and (.[1].error | test("^experiences\\[0\\]\\.titel: .*\"title\""))' \
    "$TMP/strict.out" >/dev/null || fail "--strict errors: $(cat "$TMP/strict.out")"
"$BIN" match --rome "$ROME" --top 2 --strict "$TMP/good.jsonl" > /dev/null || fail "--strict refused a clean line"
"$BIN" match --rome "$ROME" --top 2 "$TMP/typo.jsonl" > "$TMP/lenient.out" || fail "unknown key refused without --strict"
jq -e -s 'length == 2 and .[0].user_id == "s1" and (.[0].excluded.constraints | length == 0)' \
    "$TMP/lenient.out" >/dev/null || fail "without --strict: $(head -c 300 "$TMP/lenient.out")"

# 100,000 profiles in one process: every line answered, in order, memory flat. Under
# AddressSanitizer freed memory sits in a 256 MiB quarantine, which would hide what this measures:
# keep it small (the option means nothing to a plain build).
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}quarantine_size_mb=1"
awk 'BEGIN { for (i = 1; i <= 100000; i++)
  printf "{\"user_id\":\"u%d\",\"experiences\":[{\"appellation\":%d}]}\n", i, (i % 2 ? 11640 : 10891) }' > "$TMP/big.jsonl"
/usr/bin/time -f "%M" -o "$TMP/rss" "$BIN" match --rome "$ROME" --top 3 "$TMP/big.jsonl" > "$TMP/big.out" \
    || fail "100,000-line run exit status"
[ "$(wc -l < "$TMP/big.out")" -eq 100000 ] || fail "100,000 lines in, $(wc -l < "$TMP/big.out") out"
[ "$(tail -1 "$TMP/big.out" | jq -r .user_id)" = "u100000" ] || fail "last line out of order"
rss=$(tail -1 "$TMP/rss")
echo "100,000 profiles: max RSS ${rss} KiB"
[ "$rss" -lt 400000 ] || fail "max RSS ${rss} KiB: not streaming"
echo "cli_match: ok"
