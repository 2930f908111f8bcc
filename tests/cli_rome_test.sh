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
# `rome contexts` text: every context line ends its label column at the same terminal column
# (code points of the NFC form: ROME's accents are precomposed, a decomposed one is one column).
aligned() { node -e "
    const ls=require('fs').readFileSync(0,'utf8').split('\n').filter(l=>/^ +[0-9]+  /.test(l));
    const w=new Set(ls.map(l=>[...l.normalize('NFC')].length));
    process.exit(ls.length>0 && w.size===1?0:1)"; }

# --version names the CMake project version, which the man page's header carries too.
src=$(cd "$fixture/../../.." && pwd)
version=$(sed -n 's/^project(passerelle VERSION \([0-9.]*\).*/\1/p' "$src/CMakeLists.txt")
"$bin" --version >"$tmp/version"; rc=$?
check "--version exits 0" test $rc -eq 0
check "--version is the project version" \
    grep -q "^passerelle $version (ROME snapshot format [0-9]*)$" "$tmp/version"
check "man page has the version" \
    grep -q "^\.TH PASSERELLE 1 .*\"passerelle $version\"" "$src/docs/man/passerelle.1"
check "--version in --help" sh -c "'$bin' --help | grep -q -- --version"

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

# show: lower-case fiche codes, competences, savoirs and contextes by code_ogr.
"$bin" rome show d1505 --rome "$fx" --json >"$tmp/fx.json"
check "show lower-case fiche" json "j.rome==='D1505' && j.appellations.length===2" <"$tmp/fx.json"
"$bin" rome show 100001 --rome "$fx" --json >"$tmp/item.json"
check "show competence (json)" json "j.code===100001 && j.kind==='savoir_faire' && !j.macro && \
    j.label===\"Procéder à l'encaissement\" && j.macro_competence.code==='300001' && \
    j.enjeu.code==='4A' && j.fiche_count===1 && j.fiches[0].rome==='D1505' && \
    j.fiches[0].importance==='principale'" <"$tmp/item.json"
"$bin" rome show 100001 --rome "$fx" >"$tmp/item.txt"
check "show competence: macro" \
    grep -q "^  Macro-compétence  *300001  Encaisser des achats$" "$tmp/item.txt"
check "show competence: fiches" grep -q "^    principale D1505  Caissier de test$" "$tmp/item.txt"
"$bin" rome show 200002 --rome "$fx" --json >"$tmp/item.json"
check "show savoir" json "j.kind==='savoir' && j.qualification && \
    j.fiches.map(f=>f.rome).join()==='J1501'" <"$tmp/item.json"
"$bin" rome show 23374 --rome "$fx" --json >"$tmp/ctx.json"
check "show contexte" json "j.kind==='contexte' && j.type===2 && j.label==='Travail le samedi' && \
    j.fiche_count===2 && j.fiches.map(f=>f.rome).join()==='D1106,D1505'" <"$tmp/ctx.json"
"$bin" rome show 99 --rome "$fx" >/dev/null 2>"$tmp/err"; rc=$?
check "unknown code_ogr exits 1" test $rc -eq 1
check "unknown code_ogr named" grep -q "'99' is neither" "$tmp/err"

# search: resolves (0), nothing good enough (1, with the nearest), usage errors (2).
"$bin" rome search caissier --rome "$fx" >"$tmp/search.txt"; rc=$?
check "search resolves: exit 0" test $rc -eq 0
check "search resolves: appellation and fiche" grep -q \
    "^  0\.[0-9][0-9]    5001  Caissier / Caissière de test  (D1505 Caissier de test)$" \
    "$tmp/search.txt"
"$bin" rome search caissier de test --rome "$fx" --json --top 2 >"$tmp/search.json"; rc=$?
check "search json: exit 0" test $rc -eq 0
check "search json" json "j.resolved && j.query==='caissier de test' && j.appellation===5001 && \
    j.rome==='D1505' && j.confidence>=j.min_confidence && j.alternatives.length===1 && \
    j.alternatives[0].confidence<=j.confidence" <"$tmp/search.json"
"$bin" rome search test --rome "$fx" --json >"$tmp/search.json"; rc=$?
check "search ambiguous: exit 1" test $rc -eq 1
check "search ambiguous: nearest" json "!j.resolved && j.appellation===undefined && \
    j.alternatives.length===4 && j.alternatives[0].confidence<j.min_confidence" <"$tmp/search.json"
"$bin" rome search test --rome "$fx" >"$tmp/search.txt"
check "search ambiguous: said" grep -q \
    '^nothing matches "test" well enough (best 0\.[0-9]*, at least 0\.50 needed); nearest:$' \
    "$tmp/search.txt"
"$bin" rome search zzzz --rome "$fx" >"$tmp/search.txt"; rc=$?
check "search no word in common: exit 1" test $rc -eq 1
check "search no word in common: said" grep -q 'shares a word with "zzzz"' "$tmp/search.txt"
for bad in "search --rome $fx" "search caissier --rome $fx --top 0" \
           "search caissier --rome $fx --top 17" "search ! --rome $fx"; do
    # shellcheck disable=SC2086 # the words are the arguments
    "$bin" rome $bad >/dev/null 2>&1; rc=$?
    check "usage error exits 2: rome $bad" test $rc -eq 2
done

# contexts: aligned on accented labels, precomposed or not (a copy with two more contextes).
cp -r "$fx" "$tmp/fx-accents"
printf '"%s","%s","7","Conditions de travail"\n' 900001 "Pénibilité élevée à l'écart" \
    900002 "$(printf 'Tre\xcc\x80s de\xcc\x81core\xcc\x81')" \
    >>"$tmp/fx-accents/unix_referentiel_contexte_travail_v461_utf8.csv"
"$bin" rome contexts --rome "$tmp/fx-accents" >"$tmp/ctx.txt"
check "contexts: accented labels added" grep -q "Pénibilité" "$tmp/ctx.txt"
check "contexts aligned (fixture)" aligned <"$tmp/ctx.txt"
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
# --snapshot names what is wrong with the file, not just "read failed".
snap_err() { # snap_err NAME PATH TEXT: `rome info --snapshot PATH` exits 1 saying TEXT
    "$bin" rome info --snapshot "$2" >/dev/null 2>"$tmp/err"; rc=$?
    check "$1 exits 1" test $rc -eq 1
    check "$1 explained" grep -qF "$2: $3" "$tmp/err"
}
snap_err "snapshot is a directory" "$fx" "is a directory, not a snapshot file"
snap_err "snapshot not found" "$tmp/nowhere.snap" "cannot open: No such file or directory"
head -c 100 "$tmp/fx.snap" >"$tmp/short.snap"
snap_err "snapshot truncated" "$tmp/short.snap" \
    "snapshot: 100 bytes is too short to be a ROME snapshot (truncated?)"
if [ "$(id -u)" -ne 0 ]; then # root reads anything
    cp "$tmp/fx.snap" "$tmp/locked.snap" && chmod 000 "$tmp/locked.snap"
    snap_err "snapshot unreadable" "$tmp/locked.snap" "cannot open: Permission denied"
fi
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
    PASSERELLE_SNAPSHOT="$tmp/rome.snap" "$bin" rome contexts >"$tmp/ctx.txt"
    check "contexts aligned" aligned <"$tmp/ctx.txt"
    "$bin" rome show d1505 --snapshot "$tmp/rome.snap" --json >"$tmp/show.json"
    check "show d1505" json "j.rome==='D1505'" <"$tmp/show.json"
    "$bin" rome show 100023 --snapshot "$tmp/rome.snap" --json >"$tmp/item.json"
    check "show competence 100023" json "j.label==='Abattre un arbre' && \
        j.kind==='savoir_faire' && \
        j.macro_competence.code==='300230' && j.fiche_count===2" <"$tmp/item.json"
    "$bin" rome show 126450 --snapshot "$tmp/rome.snap" >"$tmp/ctx.txt"
    check "show contexte 126450: count" grep -q "^  Fiches (64)$" "$tmp/ctx.txt"
    check "show contexte 126450: first few" grep -q "^    … and 54 more$" "$tmp/ctx.txt"
    "$bin" rome search aide soignante --snapshot "$tmp/rome.snap" --json >"$tmp/search.json"; rc=$?
    check "search aide soignante: exit 0" test $rc -eq 0
    check "search aide soignante" json \
        "j.resolved && j.rome==='J1501' && j.alternatives.length===4" <"$tmp/search.json"
    PASSERELLE_SNAPSHOT="$tmp/rome.snap" "$bin" rome search ouvrier --json >"$tmp/search.json"
    rc=$?
    check "search ouvrier: exit 1" test $rc -eq 1
    check "search ouvrier: nearest" json "!j.resolved && j.alternatives.length===5" \
        <"$tmp/search.json"
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
