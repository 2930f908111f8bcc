/* matcher_private — what the matcher's stages share; not part of the library's contract.
 *
 * A match runs five stages, one file each, in this order (matcher_run.c):
 *   resolve   experiences → fiches and how much each vouches for   (matcher_resolve.c)
 *   infer     what the person holds, item by item; skills to ask    (matcher_infer.c)
 *   score     every fiche's components and score                    (matcher_score.c)
 *   select    barred fiches, the evidence rule, the best `top`      (matcher_select.c)
 *   describe  held / missing / qualifications / reasons of each job (matcher_describe.c)
 * matcher_build.c computes what the stages read (item weights, the kinship matrix, levels,
 * constraint evidence); matcher_kinship.c holds the text similarities it uses.
 *
 * The matcher is immutable after build; the scratch is one thread's and is left, after each stage,
 * in the state the next one expects (described at each field). */
#ifndef MATCHER_PRIVATE_H
#define MATCHER_PRIVATE_H

#include <assert.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "code_table.h"
#include "matcher.h"
#include "title_resolver.h"

/* Item traits the stages test often (ITEM_*). */
#define ITEM_SAVOIR_ETRE   0x01u
#define ITEM_QUALIFICATION 0x02u
#define ITEM_MACRO         0x04u
#define ITEM_EVIDENCE      0x08u /* a savoir-faire that is not a macro-compétence, or a savoir */
#define ITEM_WEIGHTLESS                                                                            \
    0x10u /* weighs 0 in every fiche and in the profile (savoir-être when
                                 weight.savoir_etre is 0; for a macro: all its items do) */

typedef struct item_info {
    float specificity; /* ln(N / df) / ln(N), in [0, 1] */
    float idf2;        /* ln(N / df)², the item's square in the cosine of profiles */
    uint32_t macro;    /* its macro-compétence's item id (itself for a macro), or ROME_NONE */
    uint8_t traits;    /* ITEM_* */
} item_info;

/* One link of a CSR direction with its weight w(f, i) = importance × kind × specificity. */
typedef struct weighted_link {
    uint32_t target;
    float w;
} weighted_link;

/* Per named constraint and fiche: why the fiche is taken to have the constraint's condition. */
typedef struct constraint_mark {
    uint8_t evidence; /* match_evidence; NONE: the constraint does not remove the fiche */
    uint32_t code;
} constraint_mark;

struct matcher {
    const rome_index *idx;
    matcher_config cfg;
    title_resolver *titles;
    code_table *item_codes, *appellation_codes;
    uint32_t n_fiches, n_items;
    uint32_t max_fiche_items; /* the longest fiche's item count */

    item_info *items;            /* per item */
    float importance_weight[3];  /* by rome_importance */
    weighted_link *fiche_links;  /* parallel to idx->fiche_items.targets */
    uint8_t *fiche_link_traits;  /* parallel too: the item's ITEM_* (read in link order) */
    weighted_link *item_links;   /* parallel to idx->item_fiches.targets */
    double *fiche_total;         /* Σ_i w(f, i) */
    float *fiche_norm;           /* √Σ_i idf²(i) over the fiche's items */
    float *score_scale;          /* per fiche: a_c / (W(f) · Σ a), for the score loop */
    float *profile_scale;        /* per fiche: a_p / (‖f‖ · Σ a), 0 for an empty fiche */
    uint32_t *macro_offsets;     /* macro item id → its run in macro_links (n_items + 1) */
    weighted_link *macro_links;  /* (fiche, W_m(f) = Σ w(f, i) over f's items under m) */
    float *kinship;              /* n_fiches × n_fiches: K(F, f), weighted sum of similarities */
    double kinship_total;        /* Σ of the kinship weights (K / total is in [0, 1]) */
    double score_total;          /* Σ of every score weight */
    uint8_t *level;              /* per fiche: entry diploma level, 0 unknown */
    uint8_t *level_class;        /* per fiche: level | 16 when emploi_cadre */
    uint32_t *appellation_fiche; /* per appellation */
    uint32_t *domain_offsets;    /* grand domaines then domaines → their fiches */
    uint32_t *domain_fiches;
    uint32_t *constraint_ctx[MATCHER_MAX_CONSTRAINTS]; /* contexte ids of each named constraint */
    constraint_mark *marks;                            /* n_constraints × n_fiches */
    uint32_t *regulated; /* the regulated fiches (emploi_reglemente) … */
    uint32_t n_regulated;
    uint32_t *qualification_offsets; /* … and each one's qualification items (n_regulated + 1) */
    uint32_t *qualifications;
};

/* Per-item state of one match (scratch.item). */
#define HELD_INFERRED   0x01u
#define HELD_DECLARED   0x02u /* confirmed or added */
#define HELD_REJECTED   0x04u
#define HELD_MACRO_DONE 0x40u /* score: this macro-compétence credited its fiches */
#define HELD_TOUCHED    0x80u /* listed in scratch.touched */

typedef struct item_state {
    float held;    /* holding in [0, 1] */
    float support; /* Σ ew(e) of the experiences whose fiche lists it */
    uint32_t from; /* bit e: listed by experience e's fiche */
    uint8_t flags; /* HELD_* */
    uint8_t best_importance;
} item_state;

/* Fiche flags of one match (scratch.fiche_flags). */
#define FICHE_OWN       0x01u /* a non-extra experience's fiche: reported in current */
#define FICHE_AVOIDED   0x02u /* an avoid entry removes it (bits in scratch.avoided) */
#define FICHE_EXCLUDED  0x04u /* an excluded domain removes it */
#define FICHE_PREFERRED 0x08u /* in a preferred domain */
#define FICHE_GAP       0x10u /* regulated, qualification not held: held back */

typedef struct ranked {
    double score;
    uint32_t id; /* a fiche or an item */
} ranked;

struct matcher_scratch {
    title_scratch *titles;
    double exp_weight[MATCHER_MAX_EXPERIENCES]; /* resolve: ew(e); 0 when unresolved */
    double exp_total;                           /* resolve: Σ ew(e) */
    uint8_t person_level;                       /* resolve: best level of the person's fiches */
    bool person_cadre;                          /* resolve: one of them is cadre */

    item_state *item;  /* per item; all zero between matches (touched lists them) */
    uint32_t *touched; /* items whose state is not zero */
    uint32_t n_touched;
    float *macro_held;   /* per item (macros): best holding under it; zero between matches */
    uint64_t *held_bits; /* infer: bit i set when held(i) > 0 (4 KiB: describe reads it for
                                   every listed item, where item states would miss the cache) */
    double profile_norm; /* infer: √Σ held² idf² */

    float *coverage;              /* score: per fiche, W(f) × (a_c·C + a_r·R) */
    float *profile, *kinship;     /* score: per fiche, P's numerator, Σ ew(e)·kin(F_e, f) */
    uint8_t *evidence;            /* score: 1 when the person holds an evidence item of the fiche */
    double *score;                /* score: per fiche, final */
    uint8_t *fiche_flags;         /* select: FICHE_* */
    uint32_t *avoided;            /* select: bit k: avoid entry k removes the fiche */
    uint32_t histogram[2 * 1024]; /* select: score buckets of the open fiches, then of those with
                                     evidence (matcher_select.c SCORE_BUCKETS) */
    ranked *candidates;           /* select: working array, n_fiches */
    ranked *best;                 /* select: the chosen jobs, best first (top) */
    ranked *ranked_items;         /* infer: skill candidates (score = weight, id = item) */
    uint64_t *missing_keys;       /* describe: one job's missing items as sort keys */
    float *link_held;             /* describe: holdings of the listed jobs' items, in link order */
    uint8_t *missing_in;          /* describe: per item, listed jobs (≤ MATCHER_MAX_TOP) that miss
                                   it; zero between matches */
};

/* The state of item i, listed for the reset of the next match. */
static inline item_state *matcher_touch(matcher_scratch *s, uint32_t i) {
    item_state *st = &s->item[i];
    if (!(st->flags & HELD_TOUCHED)) {
        st->flags |= HELD_TOUCHED;
        s->touched[s->n_touched++] = i;
    }
    return st;
}

/* Stages (in matcher_run order). Each returns 0 or -1 with err set. */
int matcher_resolve(const matcher *m, matcher_scratch *s, const profile *p, match_result *out,
                    px_error *err);
int matcher_infer(const matcher *m, matcher_scratch *s, const profile *p, match_result *out,
                  px_error *err);
void matcher_score(const matcher *m, matcher_scratch *s, const match_result *out);
/* The components of fiche f's score once matcher_score has run; held_weight = Σ held(i)·w(f, i). */
void matcher_components(const matcher *m, const matcher_scratch *s, uint32_t f, double held_weight,
                        match_components *c);
int matcher_select(const matcher *m, matcher_scratch *s, const profile *p, match_result *out,
                   px_error *err);
int matcher_describe(const matcher *m, matcher_scratch *s, match_result *out, px_error *err);

/* Build helpers. */
int matcher_build_kinship(matcher *m, px_error *err); /* fills kinship (matcher_kinship.c) */
uint8_t matcher_entry_level(const char *acces_text);  /* matcher_kinship.c */

/* Shared helpers. */
int matcher_reserve(void **p, size_t *cap, size_t need, size_t elem, px_error *err);
/* Higher score first, then lower id. */
static inline bool ranked_before(const ranked *a, const ranked *b) {
    return a->score > b->score || (a->score == b->score && a->id < b->id);
}
void ranked_sort(ranked *v, size_t n); /* best first */
/* Moves the best min(n, cap) of v to its front, best first, and returns how many. */
size_t ranked_best(ranked *v, size_t n, size_t cap);

#endif
