#!/bin/sh
# Lays out a hand-written fixture (tests/fixtures/*) under the official export's names in a new
# directory, as tests/support/rome_fixture.c does for the C tests, so that the shell tests load it
# with --rome. Usage: rome_fixture_dir.sh FIXTURE_DIR NEW_DIR
set -eu
mkdir "$2"
for f in "$1"/*.csv; do
    stem=$(basename "$f" .csv)
    case $stem in
        DERIVED_*) cp "$f" "$2/${stem}_v461.csv" ;;
        esco_crosswalk) cp "$f" "$2/fixture_mapping_esco_rome_v461.csv" ;;
        *) cp "$f" "$2/unix_${stem}_v461_utf8.csv" ;;
    esac
done
