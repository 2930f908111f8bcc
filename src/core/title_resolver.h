/* title_resolver — free-text job title → ROME appellation, with a confidence and alternatives.
 *
 * Every appellation is indexed under a few token sets ("variants"): the masculine and feminine
 * forms of its long label (the long label "Caissier / Caissière de parking" gives "caissier
 * parking" and "caissiere parking"), its short label with "(se)"-style suffixes removed, and each
 * acronym written in capitals in a label ("… maternelles (ATSEM)" gives "atsem"), which counts
 * only when it is the whole title. Normalisation (applied to labels and queries alike): lower
 * case, Latin accents removed (é → e, œ → oe), anything that is not a letter or a digit
 * separates words, French stop words dropped (de, la, du, en…), a final plural s/x removed.
 * Word order does not matter (token sets). A query word missing from the vocabulary is matched
 * to vocabulary words within edit distance 1 (2 for words of 8+ letters), at a lower similarity,
 * through a deletion index (time bounded whatever the words).
 *
 * Per variant V of query Q (idf = inverse document frequency of a word over all variants):
 *   level(Q, V)    = query words matched;   extra(Q, V) = words of V no query word matched
 *   coverage(Q, V) = Σ_{q matched} idf(q) * sim(q) / Σ_{q∈Q} idf(q)
 *   dice(Q, V)     = 2 * Σ_{q matched} idf(q) * sim(q) / (Σ_{q∈Q} idf(q) + Σ_{v∈V} idf(v))
 * An appellation scores its best variant (level, then fewest extra words, then dice). Fiches are
 * ranked by: best level; appellations without extra words; votes (Σ coverage * 2^-extra over
 * its appellations at that level); best dice; code. A fiche answers with its representative: an
 * appellation without extra words, else its PRINCIPALE one, else the fewest extra words.
 * confidence = sqrt(coverage * dice * share), share = the fiche's part of the votes of the
 * fiches at its level and the best level, so a title spread over many fiches ("ouvrier") is
 * unsure. Results: the best fiche's representative, then the next fiches' (other fiches first),
 * then other appellations of those fiches; confidences never increase down the list.
 * docs/matching.md §1 gives the rule and its reasons.
 *
 * Ownership: title_resolver_build() keeps a pointer to idx (which must outlive it). Immutable
 * after build, so concurrent resolves are safe, each with its own title_scratch (a scratch is
 * used by one thread at a time). Pure logic: libc, rome_index.h, px_error.h. */
#ifndef TITLE_RESOLVER_H
#define TITLE_RESOLVER_H

#include <stddef.h>
#include <stdint.h>

#include "px_error.h"
#include "rome_index.h"

#define TITLE_MAX_BYTES 256u /* longer titles are refused (title_resolve returns -1) */
#define TITLE_MAX_WORDS 24u  /* words of a query beyond this are ignored */
#define TITLE_MAX_OUT   16u  /* title_resolve writes at most this many matches */

typedef struct title_resolver title_resolver;
typedef struct title_scratch title_scratch;

typedef struct title_match {
    uint32_t appellation; /* id in idx->appellations */
    double confidence;    /* in [0,1], see above */
} title_match;

title_resolver *title_resolver_build(const rome_index *idx, px_error *err);
void title_resolver_free(title_resolver *r);
/* Bytes the resolver holds (not counting idx). */
size_t title_resolver_memory(const title_resolver *r);

title_scratch *title_scratch_new(const title_resolver *r, px_error *err);
void title_scratch_free(title_scratch *s);

/* Writes the best min(max_out, TITLE_MAX_OUT) appellations for `title` (distinct, best first)
 * into out and returns how many (0: nothing shares a word with the title). Returns -1 with err
 * set when the title is longer than TITLE_MAX_BYTES, is not UTF-8, or has no word at all. */
int title_resolve(const title_resolver *r, title_scratch *s, const char *title, title_match *out,
                  size_t max_out, px_error *err);

/* Normalises text into space-separated words as described above (for tests and docs).
 * Returns the length written (truncated to out_size - 1), or -1 when text is not UTF-8. */
int title_normalize(const char *text, char *out, size_t out_size);

#endif
