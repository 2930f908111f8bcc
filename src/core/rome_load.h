/* rome_load — builds a rome_index from the official ROME 4.0 CSV export.
 *
 * Reads the unix_*_v4NN_utf8.csv files (and DERIVED_macro_competence_hierarchy_v4NN.csv) from one
 * directory. The ROME version comes from the file names (v460 → ROME 4.0, version 60). Columns are
 * matched by header name, so reordered columns are fine; missing ones are an error.
 *
 * Optional files (an export without them loads, with those fields empty, and
 * rome_counts.optional_files says which were read): unix_texte (fiche definition and accès texts),
 * unix_referentiel_code_rome_riasec, unix_arborescence_centre_interet,
 * unix_arborescence_secteur_activite (secteurs and sous-secteurs) and unix_arborescence_thematique
 * (the fiche tags). A present one is checked like the others, and a row naming an unknown fiche
 * is an error there: these files come with the export, so such a row means a mismatched file.
 *
 * The ESCO–ROME crosswalk is optional too: the one file of the directory whose name contains
 * "mapping_esco_rome" and ends in ".csv" (France Travail's FR_<date>_mapping_esco_rome.csv; two
 * such files are refused as ambiguous). Up to 64 metadata lines may precede its header, which
 * must name `classification 1 ID` (the ESCO occupation URI), `classification 2 ID` (the
 * appellation code_ogr) and `mapping relation` (skos:exactMatch | closeMatch | broadMatch |
 * narrowMatch). A malformed URI, code or relation is an error (file, line, column). A row naming
 * an appellation the export does not have is counted in rome_counts.esco_skipped and skipped —
 * not a warning: the crosswalk maps ROME V3 appellations and is expected to lag the export.
 *
 * Errors (the load fails, err names file, line and field): a missing file, a missing column, an
 * empty file, an unterminated quote, bytes that are not UTF-8, a duplicate code, a malformed code,
 * a row whose field count differs from the header.
 * Warnings (counted in the report, the row is skipped): a link or a coherence row naming a code
 * that does not exist. Real exports carry such rows between releases; refusing the whole
 * referential for one would stop a deployment for nothing, while silently trusting it would point
 * at entities we cannot describe. The counts are shown by `passerelle rome info`.
 *
 * Ownership: the returned index belongs to the caller (rome_index_free). Not thread-safe while
 * loading; the result is immutable. */
#ifndef ROME_LOAD_H
#define ROME_LOAD_H

#include "px_error.h"
#include "rome_index.h"

typedef struct rome_load_report {
    uint32_t warnings;              /* total rows skipped with a warning */
    uint32_t dangling_links;        /* liens rows naming an unknown fiche or item */
    uint32_t dangling_coherence;    /* coherence rows naming an unknown (fiche, item) link */
    uint32_t dangling_appellations; /* appellations naming an unknown fiche */
    char first_warning[PX_ERROR_MSG_MAX];
} rome_load_report;

/* report may be NULL. Returns NULL with err set on failure. */
rome_index *rome_load_csv(const char *dir, rome_load_report *report, px_error *err);

#endif
