/* title_resolver — free-text job title → ROME appellation, with a confidence and alternatives.
 *
 * Every appellation is indexed under up to three token sets: its masculine and feminine forms
 * (the long label "Caissier / Caissière de parking" gives "caissier parking" and
 * "caissiere parking") and its short label with "(se)"-style suffixes removed. Normalisation
 * (applied to labels and queries alike): lower case, Latin accents removed (é → e, œ → oe),
 * anything that is not a letter or a digit separates words, French stop words dropped
 * (de, la, du, en…), a final plural s/x removed. Word order does not matter (token sets).
 * A query word missing from the vocabulary is matched to vocabulary words within edit distance 1
 * (2 for words of 8+ letters), at a lower similarity.
 *
 * Score of a token set V for query Q (idf = inverse document frequency of a word over all sets):
 *   dice(Q, V) = 2 * Σ_{q matched} idf(q) * sim(q) / (Σ_{q∈Q} idf(q) + Σ_{v∈V} idf(v))
 * in [0,1]; an appellation's score is its best set's. Ties: not "peu usité" first, then lower code.
 *
 * Ownership: title_resolver_build() keeps a pointer to idx (which must outlive it). Immutable
 * after build, so concurrent resolves are safe, each with its own title_scratch.
 * Pure logic: libc, rome_index.h, px_error.h. */
#ifndef TITLE_RESOLVER_H
#define TITLE_RESOLVER_H

#include <stddef.h>
#include <stdint.h>

#include "px_error.h"
#include "rome_index.h"

#define TITLE_MAX_BYTES 256u   /* longer titles are refused (title_resolve returns -1) */
#define TITLE_MAX_WORDS 24u    /* words of a query beyond this are ignored */

typedef struct title_resolver title_resolver;
typedef struct title_scratch title_scratch;

typedef struct title_match {
    uint32_t appellation;   /* id in idx->appellations */
    double confidence;      /* dice score in [0,1] */
} title_match;

title_resolver *title_resolver_build(const rome_index *idx, px_error *err);
void title_resolver_free(title_resolver *r);

title_scratch *title_scratch_new(const title_resolver *r, px_error *err);
void title_scratch_free(title_scratch *s);

/* Writes the best `max_out` appellations for `title` (distinct, best first) into out and returns
 * how many (0: nothing shares a word with the title). Returns -1 with err set when the title is
 * longer than TITLE_MAX_BYTES, is not UTF-8, or has no word at all. */
int title_resolve(const title_resolver *r, title_scratch *s, const char *title, title_match *out,
                  size_t max_out, px_error *err);

/* Normalises text into space-separated words as described above (for tests and docs).
 * Returns the length written (truncated to out_size - 1), or -1 when text is not UTF-8. */
int title_normalize(const char *text, char *out, size_t out_size);

#endif
