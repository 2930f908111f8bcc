#!/bin/sh
# `passerelle match --labels` and `passerelle explain` end to end. On the matcher's hand-written
# fixture (always): every code of a labelled result has its label, the labels are the only
# difference from the default output, and explain renders a failed line with its message, an
# unresolved title with its alternatives, what was understood, the jobs each constraint removed
# and why, the domain and regulated counts, in English and with --lang fr. On the official export
# (when ROME_DIR holds it): no code of a real result is left without a label, and a real title's
# "did you mean". Usage: cli_explain_test.sh PASSERELLE_BIN ROME_DIR FIXTURE_DIR
set -u
BIN=$1
ROME=$2
FIXTURE=$3
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
fail() { echo "FAIL: $*"; exit 1; }
has() { grep -qF -- "$1" "$2" || fail "$2 lacks: $1"; }

# The fixture under the official names.
sh "$(dirname "$0")/support/rome_fixture_dir.sh" "$FIXTURE" "$TMP/fx" || fail "fixture layout"
# Every default constraint names real contextes: point them at the fixture's. no_weekend's item
# 100005 is listed by M1607, removed "because competence"; D1507 derives from D1505 ("parent").
cat > "$TMP/fx.ini" <<'INI'
[matching]
constraint.no_weekend = 23374
constraint.no_weekend.items = 100005
constraint.no_night = 300803
constraint.no_heavy_loads = 300795
constraint.no_heavy_loads.items = 100005
constraint.no_shift_work = 300803
constraint.no_public_contact = 403020
constraint.no_travel = 403020
constraint.no_outdoor = 300795
constraint.no_standing = 300795
INI
cat > "$TMP/in.jsonl" <<'JSON'
{"user_id":"f1","experiences":[{"appellation":5001},{"rome":"J1501"},{"title":"caissier"}],"avoid":["no_weekend",300803],"exclude_domains":["M"],"added":[100002]}
{"user_id":"f2","experiences":[{"appellation":1}]}
{"user_id":"f3","experiences":[{"title":"de test"},{"appellation":5001}],"confirmed":[100001,100004]}
JSON
match() { "$BIN" match --rome "$TMP/fx" --config "$TMP/fx.ini" "$@" "$TMP/in.jsonl"; }
match > "$TMP/plain.jsonl"
[ $? -eq 1 ] || fail "match: exit status with a failing line"
match --labels > "$TMP/labels.jsonl"
[ $? -eq 1 ] || fail "match --labels: exit status with a failing line"

# --labels: a label for every code, parallel to the code arrays; nothing else changes
jq -e -s '[.[0], .[2]] | all(.[]; all(.jobs[]; . as $j
              | all("held", "missing", "contexts", "qualifications"; . as $k
                    | ($j[$k + "_labels"] | length) == ($j[$k] | length)
                      and all($j[$k + "_labels"][]; type == "string" and length > 0))))
          and (.[0].jobs | any(.contexts | length > 0))
          and (.[0].jobs | any(.qualifications | length > 0))' \
    "$TMP/labels.jsonl" >/dev/null || fail "--labels: a job code without its label"
jq -e -s '.[0].jobs[] | select(.rome == "J1502")
          | .qualifications_labels == ["Diplôme d'"'"'État d'"'"'infirmier (fixture)",
                                       "Diplôme d'"'"'aide-soignant (fixture)"]
            and .contexts_labels == ["En contact avec du public"]' \
    "$TMP/labels.jsonl" >/dev/null || fail "--labels: wrong qualification or contexte labels"
jq -e -s '.[0] | .experiences[0].appellation_label == "Caissier / Caissière de test"
          and .experiences[0].rome_label == "Caissier de test"
          and .experiences[1].rome_label == "Soignant de test, \"nuit\""
          and (.experiences[1] | has("appellation_label") | not)
          and (.skills[] | select(.code == 100001) | .macro_label == "Encaisser des achats")
          and (.excluded.constraints[0] | .avoid == 300803 and .avoid_label == "Travail de nuit")
          and ([.excluded.constraints[1].jobs[].code_label]
               == ["Travail le samedi", "Caissier de test", "Rédiger un courrier"])' \
    "$TMP/labels.jsonl" >/dev/null || fail "--labels: experiences, skills or removals unlabelled"
[ "$(sed -n 2p "$TMP/labels.jsonl")" = "$(sed -n 2p "$TMP/plain.jsonl")" ] \
    && jq -e -s '.[1] | has("error") and has("line") and (has("jobs") | not)' "$TMP/labels.jsonl" \
        >/dev/null || fail "--labels: an error line changed"
jq -e -s '[.. | objects | keys[] | select(test("_labels?$"))] | length == 0' \
    "$TMP/plain.jsonl" >/dev/null || fail "default output carries labels"
strip='walk(if type == "object" then with_entries(select(.key | test("_labels?$") | not))
           else . end)'
jq -S -c "$strip" "$TMP/labels.jsonl" > "$TMP/stripped.jsonl"
jq -S -c . "$TMP/plain.jsonl" > "$TMP/sorted.jsonl"
cmp -s "$TMP/stripped.jsonl" "$TMP/sorted.jsonl" || fail "--labels changed more than labels"

# explain: what failed, what was understood, what was removed and why
"$BIN" explain --rome "$TMP/fx" "$TMP/plain.jsonl" > "$TMP/en.txt" || fail "explain exit status"
has "✗ f2 — line 2 refused: experiences[0].appellation: unknown appellation code 1" "$TMP/en.txt"
has "     1. Caissier / Caissière de test — D1505 Caissier de test" "$TMP/en.txt"
has "     2. J1501 Soignant de test, \"nuit\"" "$TMP/en.txt"
has "     1. not understood: no appellation matches this title well enough" "$TMP/en.txt"
has "        did you mean: Caissier / Caissière de test (D1505); Soignant / Soignante de test" \
    "$TMP/en.txt"
has "       D1505 Caissier de test — coverage " "$TMP/en.txt"
has "   without contexte 300803 (Travail de nuit): removes no occupation" "$TMP/en.txt"
# the three removals under their own constraint, each with its reason
sed -n '/^   without no_weekend: 3 more, among them$/,/^   [^ ]/p' "$TMP/en.txt" \
    > "$TMP/removed.txt"
has '       D1106 Vendeur de test — ROME lists "Travail le samedi" for it' "$TMP/removed.txt"
has "       D1507 Chef caissier de test — derives from D1505 Caissier de test, which has it" \
    "$TMP/removed.txt"
has '       M1607 Secrétaire de test — it needs "Rédiger un courrier"' "$TMP/removed.txt"
has "   left out with the excluded domains: 1" "$TMP/en.txt"
has "   held back, regulated occupations whose qualification you do not hold: 1, among them" \
    "$TMP/en.txt"
has "       J1101 Médecin de test" "$TMP/en.txt"
has "       qualifications to obtain (2): Diplôme d'État d'infirmier (fixture)" "$TMP/en.txt"
# explain reads a labelled result as it reads the plain one
"$BIN" explain --rome "$TMP/fx" "$TMP/labels.jsonl" > "$TMP/en_labels.txt" \
    || fail "explain --labels input"
cmp -s "$TMP/en.txt" "$TMP/en_labels.txt" || fail "explain renders a labelled result differently"
# a dead letter with its reason and message
printf '%s\n' '{"type":"dlq.record","reason":"conflicting_fields","message":"experiences[0]: appellation and title both given","original":{"user_id":"eve","event_id":"e-1"}}' \
    > "$TMP/dlq.jsonl"
"$BIN" explain --rome "$TMP/fx" "$TMP/dlq.jsonl" > "$TMP/dlq.txt" || fail "explain of a dead letter"
has "✗ eve — event e-1 refused (conflicting_fields): experiences[0]: appellation and title" \
    "$TMP/dlq.txt"

# --lang fr: explain's own words in French; ROME's labels as they are
"$BIN" explain --rome "$TMP/fx" --lang fr "$TMP/plain.jsonl" > "$TMP/fr.txt" \
    || fail "explain --lang fr"
has "✗ f2 — ligne 2 refusée : experiences[0].appellation" "$TMP/fr.txt"
has "        vouliez-vous dire : Caissier / Caissière de test (D1505)" "$TMP/fr.txt"
has "       compétences acquises (" "$TMP/fr.txt"
has "       à acquérir (3) : Réaliser un soin infirmier (fixture)" "$TMP/fr.txt"
has "   écartés par la contrainte no_weekend : 3 métiers, dont" "$TMP/fr.txt"
has "       D1507 Chef caissier de test — dérive de D1505 Caissier de test, qui l'a" "$TMP/fr.txt"
has "   écartés par la contrainte contexte 300803 (Travail de nuit) : n'écarte aucun métier" \
    "$TMP/fr.txt"
has "vous avez 100 % de ses compétences" "$TMP/fr.txt"
! grep -qE "already held|to acquire|did you mean|among them" "$TMP/fr.txt" \
    || fail "English words in --lang fr"
"$BIN" explain --rome "$TMP/fx" --lang de "$TMP/plain.jsonl" > /dev/null 2>&1
[ $? -eq 2 ] || fail "--lang de accepted"

# The official export, when present: every code of a real result has a label.
if ! ls "$ROME"/unix_referentiel_code_rome_v4*_utf8.csv >/dev/null 2>&1; then
    echo "cli_explain: ok (fixture; $ROME does not hold the official export)"
    exit 0
fi
cat > "$TMP/real.jsonl" <<'JSON'
{"user_id":"r1","experiences":[{"appellation":11640,"months":30},{"title":"pilote"},{"rome":"K1304"}],"avoid":["no_weekend",300803],"exclude_domains":["K"]}
{"user_id":"r2","experiences":[{"title":"aide soignante"}],"include_regulated":true}
JSON
"$BIN" match --rome "$ROME" --top 20 --labels "$TMP/real.jsonl" > "$TMP/real.out" \
    || fail "real --labels run"
jq -e -s 'all(.[]; all(.jobs[]; . as $j
              | all("held", "missing", "contexts", "qualifications"; . as $k
                    | ($j[$k + "_labels"] | length) == ($j[$k] | length)
                      and all($j[$k + "_labels"][]; type == "string" and length > 0)))
          and all(.excluded.constraints[].jobs[]; .code_label | type == "string")
          and all(.experiences[] | select(has("rome")); .rome_label | type == "string"))' \
    "$TMP/real.out" >/dev/null || fail "real export: a code without its label"
"$BIN" explain --rome "$ROME" --lang fr "$TMP/real.out" > "$TMP/real_fr.txt" || fail "real explain"
has "     2. non compris : " "$TMP/real_fr.txt"
has "        vouliez-vous dire : " "$TMP/real_fr.txt"
has "   écartés par la contrainte no_weekend : " "$TMP/real_fr.txt"
has "   écartés avec les domaines exclus : " "$TMP/real_fr.txt"
echo "cli_explain: ok"
