/* reference_scorer — docs/matching.md §1 (experience weight), §3 (what is held, the four
 * components, the kinship of fiches, the level factor, the score, the selection) and §4 (the
 * constraints and what they cost), computed the plain way for tests: in double precision, by
 * scanning every fiche and its items, from the index and a matcher_config only. It is written from
 * the document, not from src/matcher_*.c, so that the engine's inverted lists, precomputed
 * matrices and single-precision sums have something independent to agree with.
 *
 * Where the document leaves a choice open, the choice is marked "DOC:" in reference_scorer.c.
 *
 * Titles are not resolved here (that is the title resolver's job, tested on its own): a title
 * experience counts with the fiche and confidence the caller passes (the engine's resolution),
 * or as unresolved. */
#ifndef REFERENCE_SCORER_H
#define REFERENCE_SCORER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "matcher.h"
#include "profile.h"
#include "rome_index.h"

typedef struct ref_scorer ref_scorer;

/* What §3-§4 say about one fiche for one profile. */
typedef struct ref_fiche {
    double c, r, p, k;    /* the four similarities */
    double level;         /* diploma-gap factor × cadre factor */
    double score;         /* level × weighted mean, ÷ (1 + domain_boost) outside `domains` */
    bool evidence;        /* holds a non-macro savoir-faire or a savoir of it */
    bool own;             /* fiche of a non-extra experience */
    bool excluded_domain; /* in exclude_domains */
    bool regulated_gap;   /* regulated, lists qualifications, none held nor practised */
    uint64_t avoided;     /* bit a: avoid entry a (codes first, then named) removes it */
    uint8_t because[MATCHER_MAX_AVOID];       /* match_evidence of each entry that removes it */
    uint32_t because_code[MATCHER_MAX_AVOID]; /* contexte or item code_ogr, parent fiche id or
                                                 domaine id */
} ref_fiche;

/* One avoid entry, in the engine's order (contexte codes, then named constraints). */
typedef struct ref_entry {
    int32_t named;     /* index in cfg constraints, or -1 */
    uint32_t contexte; /* code_ogr when named == -1 */
    uint32_t removed;  /* offerable fiches it removes (§4 "What the constraints cost") */
    uint32_t n_best;
    uint32_t best[MATCHER_MAX_REMOVALS]; /* the best of them, best first */
} ref_entry;

typedef struct ref_result {
    double *held;      /* per item id: held(i) */
    double *macro;     /* per item id: macro(m) for a macro-compétence m, else 0 */
    ref_fiche *fiches; /* per fiche id */
    uint32_t *jobs;    /* the suggested fiches, in order (evidence rule, top) */
    size_t n_jobs;
    size_t n_exp;
    uint32_t exp_fiche[MATCHER_MAX_EXPERIENCES]; /* ROME_NONE when unresolved */
    double ew[MATCHER_MAX_EXPERIENCES];          /* ew(e), 0 when unresolved */
    int person_level;                            /* 0 unknown */
    bool person_cadre;
    uint32_t n_entries;
    ref_entry entries[MATCHER_MAX_AVOID];
    uint32_t offerable; /* fiches with evidence, score > 0, not own */
    uint32_t removed_by_domain;
    uint32_t removed_regulated; /* held back (not when include_regulated lists them) */
    uint32_t n_regulated_best;
    uint32_t regulated_best[MATCHER_MAX_REMOVALS];
    uint32_t scored; /* fiches with a score above 0 */
} ref_result;

/* NULL when out of memory. idx and cfg must outlive it (cfg is copied). */
ref_scorer *ref_scorer_new(const rome_index *idx, const matcher_config *cfg);
void ref_scorer_free(ref_scorer *rs);

/* The entry level §3 reads from fiche f's accès text (3..8, 0 when it names none). */
int ref_fiche_level(const ref_scorer *rs, uint32_t f);
/* kin(a, b) of §3, and one of its six similarities (0 définition, 1 accès, 2 titles, 3 tags,
 * 4 macro, 5 parent). */
double ref_kin(const ref_scorer *rs, uint32_t a, uint32_t b);
double ref_sim(const ref_scorer *rs, int kind, uint32_t a, uint32_t b);
/* The kinship words of a text as space-separated stems (for tests of the tokeniser). */
void ref_stems(const char *text, char *out, size_t cap);

/* Scores profile p. `resolved` may give, per experience, the engine's resolution (only its
 * `resolved`, `fiche` and `confidence` are read, and only for title experiences). out must be
 * zeroed once; it is reused. Returns 0, or -1 when p names an unknown code or memory runs out. */
int ref_score(const ref_scorer *rs, const profile *p, const match_experience *resolved,
              ref_result *out);
void ref_result_free(ref_result *r);

#endif
