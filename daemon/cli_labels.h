/* cli_labels — ROME codes in words, for what the command line shows people: `passerelle match
 * --labels` and `passerelle explain`. Labels are the index's own (ROME writes them in French).
 *
 * The lookups return NULL for a code the index does not have (or a value that is no code), so a
 * caller chooses what an unknown code reads as. Stateless; the index is only read. */
#ifndef PASSERELLE_CLI_LABELS_H
#define PASSERELLE_CLI_LABELS_H

#include <cjson/cJSON.h>

#include "json_write.h"
#include "px_error.h"
#include "rome_index.h"

const char *cli_label_item(const rome_index *idx, double code_ogr); /* compétence, savoir */
const char *cli_label_contexte(const rome_index *idx, double code_ogr);
const char *cli_label_appellation(const rome_index *idx, double code_ogr); /* its long label */
const char *cli_label_fiche(const rome_index *idx, const char *code);      /* "D1505" */
const char *cli_label_domaine(const rome_index *idx, const char *code);    /* "J" or "J15" */

/* Adds a label next to every code of a `passerelle match` result (docs/asyncapi.yaml,
 * MatchLabels): experiences[] appellation_label, rome_label; skills[] macro_label; jobs[]
 * held_labels, missing_labels, contexts_labels, qualifications_labels (parallel to the code
 * arrays); excluded.constraints[] avoid_label (contexte entries) and their jobs[] code_label.
 * An unknown code gets null, so the arrays stay parallel. -1 with err when out of memory (the
 * result may then hold some of the labels). */
int cli_labels_add(const rome_index *idx, cJSON *result, px_error *err);

/* `--labels` on a result line: replaces the JSON text of one result object, text->data[from..len),
 * by the labelled one, written by json_write (numbers exact, as without labels). -1 with err
 * when it cannot be read back or memory runs out. Thread-safe on distinct buffers. */
int cli_labels_apply(const rome_index *idx, json_buf *text, size_t from, px_error *err);

#endif
