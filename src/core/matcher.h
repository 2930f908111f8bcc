/* matcher — from a person's experiences to competences to occupations (ROME 4.0).
 *
 * Three steps, documented with their formulas in docs/matching.md:
 *   1. resolve each experience (appellation code, fiche code or free-text title) to a fiche;
 *   2. suggest the competences/savoirs of those fiches, most informative first (skills.suggested);
 *   3. rank the other fiches by a weighted mean of four similarities — competence coverage,
 *      macro-compétence credit, the cosine of competence profiles and the kinship of the fiches'
 *      texts, titles, tags, macro sets and v3 parents — times a level factor, under the person's
 *      constraints (avoid), regulation (qualification gaps) and domain preferences, with the first
 *      places reserved to jobs where the person holds a savoir-faire or savoir (jobs.suggested).
 *
 * Objects and ownership:
 *   matcher_config  plain data (no pointers), copy it freely; matcher_config_default() fills it.
 *   matcher         built once per rome_index by matcher_build(); keeps a pointer to the index
 *                   (which must outlive it), a title resolver and precomputed weights, among them
 *                   the kinship of every pair of fiches (fiches² floats: 10 MiB of the ~14 MiB for
 *                   ROME v60; about 0.15 s to build). Immutable after build, no lazy cache:
 *                   any number of threads may share one matcher read-only, each calling
 *                   matcher_run(), matcher_scratch_new(), matcher_index() or matcher_get_config()
 *                   and reading the index and the results through it, at once and without
 *                   locking (passerelled's workers do). Only matcher_free() needs it alone, after
 *                   the last of them.
 *   matcher_scratch per-thread working memory (sized for the index): one thread at a time; a
 *                   thread may use several in turn, and a scratch may move between threads
 *                   between two calls (libuv's pool does), never during one.
 *   match_result    owned by the caller, used like a scratch (one thread at a time): zero it
 *                   once, pass it to matcher_run() as often as wanted (its arrays are reused, so
 *                   steady-state matching allocates nothing), release it with match_result_free().
 *                   A filled result stays readable while another thread matches into another.
 *
 * Errors: matcher_run() refuses a profile naming anything the index does not know (an appellation,
 * fiche, competence, contexte, domain code or named constraint) with err->code PX_ENOTFOUND, one
 * over a limit below with PX_ELIMIT, a malformed domain code with PX_EINVAL, and a message naming
 * the field ("experiences[1].appellation: unknown appellation code 99"): the daemon dead-letters
 * such events. A free-text title that resolves to nothing is NOT an error: it is reported on that
 * experience (match_experience.error) and the rest of the profile is matched.
 *
 * Pure logic: libc, rome_index.h, profile.h and px_error.h only. */
#ifndef MATCHER_H
#define MATCHER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "profile.h"
#include "px_error.h"
#include "rome_index.h"

/* Limits on one profile (DESIGN: bounded everything). Going over one is PX_ELIMIT. */
#define MATCHER_MAX_EXPERIENCES 32u   /* experiences are tracked in a 32-bit mask */
#define MATCHER_MAX_AVOID       32u   /* avoid entries (codes + named), one bit each */
#define MATCHER_MAX_DOMAINS     64u   /* entries in domains / exclude_domains, each */
#define MATCHER_MAX_DECISIONS   4096u /* confirmed + rejected + added codes */

/* Limits on the configuration. */
#define MATCHER_MAX_CONSTRAINTS      32u  /* named constraints in the table */
#define MATCHER_CONSTRAINT_NAME_MAX  32u  /* bytes, NUL included */
#define MATCHER_CONSTRAINT_CODES_MAX 16u  /* contexte codes per named constraint */
#define MATCHER_MAX_TOP              200u /* largest `top` */
#define MATCHER_MAX_SKILLS_ASKED     200u /* largest `skills_asked` */
#define MATCHER_MAX_ALTERNATIVES     5u   /* title alternatives reported per experience */
#define MATCHER_MAX_REASONS          4u   /* reasons reported per job */

/* Limit on the index: matcher_build refuses a larger one with PX_ECONFIG (ROME v60 has
 * 33,671 items). */
#define MATCHER_MAX_ITEMS 0x7FFFFFFEu /* items (competences and savoirs); ids are kept in 31 bits */

typedef struct matcher_constraint {
    char name[MATCHER_CONSTRAINT_NAME_MAX];       /* "no_weekend" */
    uint32_t codes[MATCHER_CONSTRAINT_CODES_MAX]; /* contexte code_ogr */
    uint32_t n_codes;
    uint32_t items[MATCHER_CONSTRAINT_CODES_MAX]; /* competence/savoir code_ogr that imply it */
    uint32_t n_items;
} matcher_constraint;

/* Every tunable of the method (docs/matching.md has the formulas). Keys (matcher_config_set, INI
 * section [matching]) in brackets, then the default. */
typedef struct matcher_config {
    /* what a competence weighs in a fiche */
    double weight_principale; /* [weight.principale]  item importance "Principale"           1.0  */
    double weight_emergente; /* [weight.emergente]   importance "Émergente"                 0.7  */
    double weight_other;     /* [weight.other]       no importance flag                     0.4  */
    double savoir_etre_factor;  /* [weight.savoir_etre] multiplier for savoir-être items in the
                                                          score (C, R, P)                   0    */
    double skills_savoir_etre;  /* [skills.savoir_etre] multiplier for savoir-être items in the
                                                          order of the skills to ask about  0.5  */
    double inferred_confidence; /* [inferred_confidence] holding of an inferred, unconfirmed
                                                          item                              0.6  */
    /* what an experience vouches for */
    double extra_weight;  /* [extra_weight]       extra-professional experience weight    0.5  */
    double recency_decay; /* [recency_decay]      weight lost per year since end_year,
                                                    after the first two                   0.04 */
    double recency_floor; /* [recency_floor]      least weight of an old experience      0.5  */
    /* the score: a weighted mean of similarities in [0,1] */
    double score_competences; /* [score.competences]  weighted coverage of the job's items   2.5  */
    double score_related;  /* [score.related]      items under a macro-compétence held    0.3  */
    double score_profile;  /* [score.profile]      cosine of competence profiles          1.25 */
    double kin_definition; /* [kinship.definition] words of the fiches' définitions       1.0  */
    double kin_access;     /* [kinship.access]     words of their "accès au métier"       0.15 */
    double kin_titles;     /* [kinship.titles]     words of their appellations            0.5  */
    double kin_tags;       /* [kinship.tags]       centres d'intérêt, secteurs, thèmes    0.15 */
    double kin_macro;      /* [kinship.macro]      macro-compétences of the fiches        0.4  */
    double kin_parent;     /* [kinship.parent]     both derive from one ROME v3 fiche     0.25 */
    /* level, regulation, preferences, constraints */
    double level_penalty; /* [level_penalty]      per diploma level beyond one above
                                                    the person's                          0.25 */
    double cadre_penalty; /* [cadre_penalty]      cadre job for someone who never was one 0.05 */
    double domain_boost;  /* [domain_boost]       outside preferred domains, score /(1+b) 3.0 */
    double constraint_domain_share; /* [constraint_domain_share] a contexte most of a domaine
                                                    professionnel has is assumed          0.5  */
    double title_min_confidence;    /* [title.min_confidence] below it a title is
                                                    unresolved                            0.5  */
    uint32_t evidence_places;       /* [evidence_places]    first places reserved to jobs where the
                                                    person holds a savoir-faire or savoir 10   */
    uint32_t skills_asked; /* [skills_asked]       competences suggested                   30   */
    uint32_t top;          /* [top]                occupations suggested                   20   */
    uint32_t alternatives; /* [title.alternatives] alternatives per resolved title         3    */
    uint32_t n_constraints;
    matcher_constraint constraints[MATCHER_MAX_CONSTRAINTS]; /* [constraint.NAME = code,code,…],
                                                                [constraint.NAME.items = code,…] */
} matcher_config;

/* The defaults above and the named constraints no_weekend, no_night, no_heavy_loads, no_shift_work,
 * no_public_contact, no_travel, no_outdoor, no_standing (codes in docs/matching.md). */
matcher_config matcher_config_default(void);

/* Sets one key from its text value (as read from an INI file). `constraint.NAME` replaces (or adds)
 * the named constraint with the comma-separated contexte codes. Returns 0, or -1 with
 * err->code PX_ECONFIG naming the key and what was expected. Codes are checked against the
 * index later, by matcher_build(). */
int matcher_config_set(matcher_config *cfg, const char *key, const char *value, px_error *err);

/* Writes every key of cfg as `key = value` lines that matcher_config_set() reads back to the same
 * values (reals with enough digits to be exact), constraints last. For
 * `passerelled --check-config`. */
void matcher_config_write(const matcher_config *cfg, FILE *out);

/* The named constraint of that name, or NULL. */
const matcher_constraint *matcher_config_constraint(const matcher_config *cfg, const char *name);

typedef struct matcher matcher;
typedef struct matcher_scratch matcher_scratch;

/* Builds the matcher for idx (which must outlive it). Fails (NULL, err) when out of memory or when
 * a named constraint names a contexte code the index does not know. */
matcher *matcher_build(const rome_index *idx, const matcher_config *cfg, px_error *err);
void matcher_free(matcher *m);
const rome_index *matcher_index(const matcher *m);
const matcher_config *matcher_get_config(const matcher *m);

/* Working memory for one thread. NULL when out of memory. */
matcher_scratch *matcher_scratch_new(const matcher *m, px_error *err);
void matcher_scratch_free(matcher_scratch *s);

/* One title candidate: an appellation id (index into idx->appellations) and a confidence in
 * [0,1]. */
typedef struct match_candidate {
    uint32_t appellation;
    double confidence;
} match_candidate;

typedef struct match_experience {
    bool resolved;
    uint32_t appellation; /* id, or ROME_NONE (experience given as a fiche code) */
    uint32_t fiche;       /* id, or ROME_NONE when unresolved */
    double confidence;    /* 1 for codes; the title resolver's confidence for titles */
    uint32_t n_alternatives;
    match_candidate alternatives[MATCHER_MAX_ALTERNATIVES];
    char error[PX_ERROR_MSG_MAX]; /* why a title did not resolve ("" when resolved) */
} match_experience;

typedef struct match_skill {
    uint32_t item;      /* id in idx->items */
    uint32_t from;      /* bit e set: inferred from experience e */
    double weight;      /* importance * kind_factor * specificity * support */
    double importance;  /* weight of its best importance among the experiences' fiches */
    double kind_factor; /* skills_savoir_etre for savoir-être, else 1 */
    double specificity; /* in [0,1], see docs */
    double support;     /* sum of the supporting experiences' weights */
} match_skill;

typedef struct match_reason {
    int32_t experience; /* experience index, or -1 for confirmed/added competences */
    double share;       /* share of the job's score it brought, in [0,1] */
} match_reason;

/* A slice of match_result.codes: item ids (jobs) or fiche ids (removals). */
typedef struct match_slice {
    uint32_t off, n;
} match_slice;

/* The similarities a job's score is the weighted mean of (docs/matching.md §3), each in [0,1]. */
typedef struct match_components {
    double competences; /* weighted share of the job's items the person holds */
    double related;     /* weighted share it lacks but whose macro-compétence is held */
    double profile;     /* cosine of the person's competences and the job's */
    double kinship;     /* how near the job is to the person's own jobs (texts, titles,
                                     interests and sectors, macro-compétences, ROME v3 parent) */
    double level;       /* the factor ≤ 1 for a job above the person's level */
} match_components;

#define MATCH_JOB_REGULATED         0x01u /* emploi_reglemente */
#define MATCH_JOB_CADRE             0x02u /* emploi_cadre */
#define MATCH_JOB_NO_EVIDENCE       0x04u /* the person holds no savoir-faire nor savoir of it */
#define MATCH_JOB_QUALIFICATION_GAP 0x08u /* regulated, and none of its qualifications is held */

typedef struct match_job {
    uint32_t fiche; /* id in idx->fiches */
    double score;   /* in [0,1] */
    match_components components;
    double held_share;          /* held items / the fiche's items */
    uint32_t flags;             /* MATCH_JOB_* */
    uint8_t level;              /* entry diploma level read from "accès au métier" (3 CAP … 8
                                     doctorat), 0 when the text names none */
    match_slice held;           /* items the person holds, by code */
    match_slice missing;        /* items to acquire, most useful first */
    match_slice qualifications; /* missing savoirs flagged ROME_ITEM_QUALIFICATION, same order */
    uint32_t n_reasons;
    match_reason reasons[MATCHER_MAX_REASONS]; /* biggest share first */
} match_job;

/* A fiche the person already works in (reported apart, never suggested). */
typedef struct match_current {
    uint32_t fiche;
    double score;
} match_current;

/* What a removal rests on (docs/matching.md §4). */
typedef enum match_evidence {
    MATCH_EVIDENCE_NONE = 0,
    MATCH_EVIDENCE_CONTEXTE = 1,   /* ROME lists the contexte for the fiche */
    MATCH_EVIDENCE_DOMAIN = 2,     /* most fiches of its domaine professionnel list it */
    MATCH_EVIDENCE_PARENT = 3,     /* the ROME v3 fiche it derives from lists it */
    MATCH_EVIDENCE_COMPETENCE = 4, /* it lists a competence that implies it */
} match_evidence;

typedef struct match_removal {
    uint32_t fiche;
    uint8_t evidence; /* match_evidence */
    uint32_t code;    /* the contexte or item code_ogr, or the domaine's id */
} match_removal;

/* What one `avoid` entry cost: of the fiches the person could be offered without any constraint
 * (those with evidence, below), how many this entry removes, and the best of them. Independent of
 * `top`. */
typedef struct match_constraint_cost {
    int32_t named;     /* index in the config's constraints, or -1 for a contexte code */
    uint32_t contexte; /* contexte code_ogr when named == -1 */
    uint32_t removed;
    uint32_t off, n; /* its best removals (at most MATCHER_MAX_REMOVALS) in removals */
} match_constraint_cost;

#define MATCHER_MAX_REMOVALS 10u /* removed jobs listed per constraint and for regulation */

typedef struct match_result {
    match_experience *experiences; /* one per profile experience, in order */
    size_t n_experiences, cap_experiences;
    match_skill *skills; /* most informative first */
    size_t n_skills, cap_skills;
    match_job *jobs; /* best first */
    size_t n_jobs, cap_jobs;
    match_current *current; /* by fiche code */
    size_t n_current, cap_current;
    match_constraint_cost
        *constraints; /* one per avoid entry, in profile order (codes, then named) */
    size_t n_constraints, cap_constraints;
    match_removal *removals; /* storage of the constraints' and regulation's lists */
    size_t n_removals, cap_removals;
    uint32_t
        removed_by_domain; /* same measure as match_constraint_cost.removed, for exclude_domains */
    uint32_t removed_regulated; /* regulated jobs held back (qualification gap), same measure */
    uint32_t regulated_off, regulated_n; /* the best of them, in removals */
    uint32_t fiches_scored; /* fiches with a score above 0 (sharing something with the person) */
    uint32_t *codes;        /* storage of the jobs' slices */
    size_t n_codes, cap_codes;
} match_result;

/* Matches p. On success returns 0 and overwrites *out. On failure returns -1 with err set
 * (PX_ENOTFOUND, PX_ELIMIT or PX_EINVAL for a bad profile, PX_ENOMEM) and *out holds no meaningful
 * result. */
int matcher_run(const matcher *m, matcher_scratch *s, const profile *p, match_result *out,
                px_error *err);

void match_result_free(match_result *r);

#endif
