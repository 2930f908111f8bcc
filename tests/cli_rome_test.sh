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

# The hand-written fixture, laid out under the official names (tests/support/rome_fixture_dir.sh).
fx="$tmp/fx"
sh "$(dirname "$0")/support/rome_fixture_dir.sh" "$fixture" "$fx"
"$bin" rome show D1505 --rome "$fx" --json >"$tmp/fx.json"
check "fixture show: riasec, parent, tags, texts" json "j.riasec==='CR' && j.parent==='D1505' && !j.reglemente && \
    j.tags.centre_interet.length===2 && j.tags.secteur[0].code==='88' && j.tags.secteur[0].principal && \
    j.definition.split('\\n').length===2 && j.acces.startsWith('Accessible')" <"$tmp/fx.json"
"$bin" rome show J1501 --rome "$fx" >"$tmp/fx.txt"
check "fixture show text: RIASEC" grep -q "RIASEC  *S$" "$tmp/fx.txt"
check "fixture show text: réglementé" grep -q "Emploi réglementé  *oui" "$tmp/fx.txt"
check "fixture show text: definition" grep -q '^    Soigne des patients "de nuit" (fixture).$' "$tmp/fx.txt"
check "fixture show text: appellation flag" grep -q "5002  Soignant / Soignante de test \[réglementé\]" "$tmp/fx.txt"
check "fixture build" "$bin" rome build --rome "$fx" -o "$tmp/fx.snap"
"$bin" rome info --snapshot "$tmp/fx.snap" --json >"$tmp/fx-esco.json"
check "fixture info: ESCO coverage (json)" json "j.esco.rows===6 && j.esco.rows_skipped_unknown_appellation===1 && \
    j.esco.appellations_reached===3 && j.esco.fiches_reached===2 && j.esco.fiche_links===4" <"$tmp/fx-esco.json"
"$bin" rome info --rome "$fx" >"$tmp/fx-esco.txt"
check "fixture info: ESCO coverage" grep -q "ESCO crosswalk  *6 rows, 1 skipped (unknown appellation); reaches 3 of 4 appellations, 2 of 3 fiches" "$tmp/fx-esco.txt"
printf '\x01' | dd of="$tmp/fx.snap" bs=1 seek=8 conv=notrunc status=none
"$bin" rome info --snapshot "$tmp/fx.snap" >/dev/null 2>"$tmp/err"; rc=$?
check "old-format snapshot refused" test $rc -eq 1
check "old format explained" grep -q "format version 1, this build reads version 3; rebuild it" "$tmp/err"
rm "$fx"/unix_texte_* "$fx"/unix_referentiel_code_rome_riasec_* "$fx"/unix_arborescence_*
"$bin" rome info --rome "$fx" >"$tmp/fx-info.txt"
check "absent optional files named" grep -q "optional files absent  unix_texte, unix_referentiel_code_rome_riasec, unix_arborescence_centre_interet, unix_arborescence_secteur_activite, unix_arborescence_thematique" "$tmp/fx-info.txt"
"$bin" rome info --rome "$fx" --json >"$tmp/fx-info.json"
check "absent optional files (json)" json "j.optional_files_missing.length===5 && j.fiches_with_definition===0 && j.tags.theme.tags===0" <"$tmp/fx-info.json"
"$bin" rome show D1505 --rome "$fx" >"$tmp/fx.txt"
check "show says texts absent" grep -q "(unix_texte is not in this export)" "$tmp/fx.txt"
check "show says RIASEC absent" grep -q "RIASEC  *(unix_referentiel_code_rome_riasec is not in this export)" "$tmp/fx.txt"
echo '"code_rome","riasec_majeur","riasec_mineur"
"D1505","C","Q"' >"$fx/unix_referentiel_code_rome_riasec_v461_utf8.csv"
"$bin" rome info --rome "$fx" >/dev/null 2>"$tmp/err"; rc=$?
check "malformed optional file refused" test $rc -eq 1
check "malformed optional file explained" grep -q "unix_referentiel_code_rome_riasec_v461_utf8.csv:2: column 'riasec_mineur': 'Q', expected one of R I A S E C or empty" "$tmp/err"

if [ ! -r "$rome/SOURCE.md" ]; then
    echo "ROME export not found at $rome: real-data checks skipped"
else
    "$bin" rome info --rome "$rome" --json >"$tmp/info.json"
    check "info --json keys" json "j.version===60 && j.fiches===1584 && j.appellations===13120 && j.competences===18317 && j.savoirs===15354 && j.contextes===179" <"$tmp/info.json"
    check "info --json optional files" json "j.optional_files_missing.length===0 && j.fiches_with_definition===1584 && j.fiches_with_riasec===1584 && j.tags.centre_interet.tags===30 && j.tags.secteur.tags===35 && j.tags.sous_secteur.tags===40 && j.tags.theme.tags===17 && j.fiche_tag_links===9394" <"$tmp/info.json"
    check "attribution" grep -q "Source : France Travail, ROME 4.0 version 60" "$tmp/info.json"
    check "info --json ESCO coverage" json "j.esco.rows===11118 && j.esco.rows_skipped_unknown_appellation===0 && j.esco.appellations_reached===11118 && j.esco.fiches_reached===1421" <"$tmp/info.json"
    check "build" "$bin" rome build --rome "$rome" -o "$tmp/rome.snap"
    "$bin" rome info --snapshot "$tmp/rome.snap" --json >"$tmp/info2.json"
    # Same referential either way; only the resident size differs (the snapshot keeps its header).
    check "snapshot info equals csv info" node -e "
        const fs=require('fs'), a=JSON.parse(fs.readFileSync('$tmp/info.json')), b=JSON.parse(fs.readFileSync('$tmp/info2.json'));
        delete a.memory_bytes; delete b.memory_bytes; process.exit(JSON.stringify(a)===JSON.stringify(b)?0:1)"
    "$bin" rome show D1505 --snapshot "$tmp/rome.snap" --json >"$tmp/show.json"
    check "show D1505" json "j.rome==='D1505' && j.savoir_faire.some(c=>c.code===300303 && c.importance==='principale') && j.domaine==='D15'" <"$tmp/show.json"
    check "show D1505 new fields" json "j.parent==='D1505' && j.riasec==='CR' && !j.cadre && j.definition.startsWith(\"L'hôte de caisse\") && j.tags.secteur.length===1 && j.tags.secteur[0].code==='88' && j.tags.secteur[0].principal && j.tags.sous_secteur.length===2 && j.tags.theme.map(t=>t.code).join()==='013,017'" <"$tmp/show.json"
    "$bin" rome show D1505 --snapshot "$tmp/rome.snap" >"$tmp/d1505.txt"
    check "D1505 text: RIASEC and definition" grep -q "^    Accueille et oriente les clients dans le magasin$" "$tmp/d1505.txt"
    check "D1505 text: principal centre d'intérêt" grep -q "principal       4  J'ai le sens du contact" "$tmp/d1505.txt"
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
