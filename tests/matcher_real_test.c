/* The matcher on the official ROME 4.0 export (PASSERELLE_ROME_DIR; every test is skipped with a
 * message when it is missing):
 *   - properties over generated profiles, checked from outside the engine;
 *   - the engine against the reference scorer (tests/support/reference_scorer.h, a plain reading
 *     of docs/matching.md): scores to 1e-4, the same list but for swaps of near-ties, the same
 *     constraint costs; discrepancies are counted by kind and reported together;
 *   - short lists are prefixes of long ones;
 *   - title resolution on real-world spellings, and PLAUSIBILITY checks (marked as such). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "matcher.h"
#include "matcher_gen.h"
#include "reference_scorer.h"
#include "rome_load.h"
#include "suggestion_codec.h"
#include "title_resolver.h"

#define PROPERTY_PROFILES  2000
#define REFERENCE_PROFILES 300
#define SCORE_TOL          1e-4 /* the engine sums in single precision */
#define TIE_TOL            1e-5 /* two jobs this close may come in either order */

typedef struct world {
    rome_index *idx;
    matcher_config cfg;
    matcher *m;
    matcher_scratch *s;
    ref_scorer *ref;
} world;

static int setup(void **state) {
    const char *dir = getenv("PASSERELLE_ROME_DIR");
    world *w = calloc(1, sizeof *w);
    px_error err = {0};
    if (!w) return -1;
    *state = w;
    if (!dir || !*dir) return 0;
    w->idx = rome_load_csv(dir, NULL, &err);
    if (!w->idx) {
        fprintf(stderr, "matcher_real: cannot load %s (%s): tests will be skipped\n", dir, err.msg);
        return 0;
    }
    w->cfg = matcher_config_default();
    w->m = matcher_build(w->idx, &w->cfg, &err);
    w->s = w->m ? matcher_scratch_new(w->m, &err) : NULL;
    w->ref = ref_scorer_new(w->idx, &w->cfg);
    if (!w->s || !w->ref) {
        fprintf(stderr, "matcher_real: %s\n", err.msg);
        return -1;
    }
    return 0;
}

static int teardown(void **state) {
    world *w = *state;
    ref_scorer_free(w->ref);
    matcher_scratch_free(w->s);
    matcher_free(w->m);
    rome_index_free(w->idx);
    free(w);
    return 0;
}

#define NEED_DATA(w)                                                                               \
    do {                                                                                           \
        if (!(w)->idx) {                                                                           \
            fprintf(stderr,                                                                        \
                    "skipped: PASSERELLE_ROME_DIR does not hold the official ROME export\n");      \
            skip();                                                                                \
        }                                                                                          \
    } while (0)

static bool codes_has(const profile_codes *c, uint32_t code) {
    for (size_t k = 0; k < c->n; k++)
        if (c->v[k] == code) return true;
    return false;
}

static uint32_t experience_fiche(const rome_index *idx, const profile_experience *x) {
    if (x->kind == PROFILE_EXP_ROME) return rome_fiche_find(idx, x->rome);
    return idx->appellations[rome_appellation_find(idx, x->appellation)].fiche;
}

static bool lists_contexte(const rome_index *idx, uint32_t f, uint32_t code) {
    for (uint32_t k = 0; k < rome_csr_count(&idx->fiche_contextes, f); k++)
        if (idx->contextes[rome_csr_targets(&idx->fiche_contextes, f)[k]].code_ogr == code)
            return true;
    return false;
}

static bool lists_item(const rome_index *idx, uint32_t f, uint32_t code) {
    uint32_t i = rome_item_find(idx, code);
    return i != ROME_NONE && rome_fiche_item_importance(idx, f, i) >= 0;
}

static bool in_list(const rome_index *idx, const profile_strings *list, uint32_t f) {
    for (size_t k = 0; k < list->n; k++)
        if (!strcmp(list->v[k], idx->grands_domaines[idx->fiches[f].grand_domaine].code) ||
            !strcmp(list->v[k], idx->domaines[idx->fiches[f].domaine].code))
            return true;
    return false;
}

/* An avoid entry's direct evidence (what ROME lists for the fiche itself), checked without the
 * reference: a listed job never has it. */
static bool directly_avoided(const world *w, const profile *p, uint32_t f) {
    for (size_t k = 0; k < p->avoid_contextes.n; k++)
        if (lists_contexte(w->idx, f, p->avoid_contextes.v[k])) return true;
    for (size_t n = 0; n < p->avoid_named.n; n++) {
        const matcher_constraint *c = matcher_config_constraint(&w->cfg, p->avoid_named.v[n]);
        for (uint32_t j = 0; j < c->n_codes; j++)
            if (lists_contexte(w->idx, f, c->codes[j])) return true;
        for (uint32_t j = 0; j < c->n_items; j++)
            if (lists_item(w->idx, f, c->items[j])) return true;
    }
    return false;
}

/* The properties of docs/matching.md §3-§4 any result must have. */
static void check_properties(const world *w, const profile *p, const match_result *r,
                             uint8_t *mark) {
    const rome_index *idx = w->idx;
    assert_true(r->n_jobs <= w->cfg.top);
    bool seen_no_evidence = false;
    /* the reserved places end at evidence_places, or earlier when the evidence jobs run out */
    size_t reserved_end = w->cfg.evidence_places;
    for (size_t j = 0; j < r->n_jobs && j < reserved_end; j++)
        if (r->jobs[j].flags & MATCH_JOB_NO_EVIDENCE) reserved_end = j;
    for (size_t j = 0; j < r->n_jobs; j++) {
        const match_job *job = &r->jobs[j];
        uint32_t f = job->fiche;
        bool evidence = !(job->flags & MATCH_JOB_NO_EVIDENCE);
        /* scores in [0,1], sorted within the reserved places and within the rest */
        assert_true(job->score > 0 && job->score <= 1);
        if (j && j != reserved_end)
            assert_true(job->score < r->jobs[j - 1].score ||
                        (job->score == r->jobs[j - 1].score && f > r->jobs[j - 1].fiche));
        /* the evidence rule: once a reserved place goes without evidence, none is left */
        if (evidence && j < w->cfg.evidence_places) assert_false(seen_no_evidence);
        seen_no_evidence |= !evidence;
        /* constraints hold; own fiches, excluded domains never appear */
        assert_false(directly_avoided(w, p, f));
        assert_false(in_list(idx, &p->exclude_domains, f));
        for (size_t e = 0; e < p->n_experiences; e++)
            if (!p->experiences[e].extra)
                assert_int_not_equal(experience_fiche(idx, &p->experiences[e]), f);
        if (job->flags & MATCH_JOB_QUALIFICATION_GAP) assert_true(p->include_regulated);
        /* held ∪ missing is exactly the fiche's item set, each once */
        memset(mark, 0, idx->n.items);
        bool holds_evidence = false;
        for (uint32_t k = 0; k < job->held.n; k++) {
            uint32_t i = r->codes[job->held.off + k];
            const rome_item *it = &idx->items[i];
            assert_false(codes_has(&p->rejected, it->code_ogr)); /* rejected never held */
            if (it->flags & ROME_ITEM_QUALIFICATION)             /* never inferred */
                assert_true(codes_has(&p->confirmed, it->code_ogr) ||
                            codes_has(&p->added, it->code_ogr));
            holds_evidence |=
                (it->kind == ROME_KIND_SAVOIR_FAIRE && !(it->flags & ROME_ITEM_MACRO)) ||
                it->kind == ROME_KIND_SAVOIR;
            assert_int_equal(mark[i]++, 0);
        }
        assert_int_equal(holds_evidence, evidence);
        for (uint32_t k = 0; k < job->missing.n; k++)
            assert_int_equal(mark[r->codes[job->missing.off + k]]++, 0);
        assert_int_equal(job->held.n + job->missing.n, rome_csr_count(&idx->fiche_items, f));
        for (uint32_t k = 0; k < rome_csr_count(&idx->fiche_items, f); k++)
            assert_int_equal(mark[rome_csr_targets(&idx->fiche_items, f)[k]], 1);
        for (uint32_t k = 0; k < job->qualifications.n; k++) {
            uint32_t i = r->codes[job->qualifications.off + k];
            assert_true(idx->items[i].flags & ROME_ITEM_QUALIFICATION);
            assert_int_equal(mark[i], 1);
        }
        assert_true(fabs(job->held_share -
                         (double)job->held.n / rome_csr_count(&idx->fiche_items, f)) < 1e-9);
    }
    for (size_t c = 0; c < r->n_current; c++)
        assert_true(r->current[c].score >= 0 && r->current[c].score <= 1);
}

static void encode(const world *w, const match_result *r, msgpack_sbuffer *buf) {
    msgpack_packer pk;
    msgpack_sbuffer_clear(buf);
    msgpack_packer_init(&pk, buf, msgpack_sbuffer_write);
    assert_int_equal(suggestion_encode_match(&pk, "u", "4.0-60", w->m, r, NULL), 0);
}

static void test_properties(void **state) {
    world *w = *state;
    NEED_DATA(w);
    matcher_gen gen = {0xC0FFEEULL};
    match_result r = {0}, again = {0};
    uint8_t *mark = malloc(w->idx->n.items);
    assert_non_null(mark);
    msgpack_sbuffer a, b;
    msgpack_sbuffer_init(&a);
    msgpack_sbuffer_init(&b);
    size_t with_jobs = 0, with_constraints = 0, with_no_evidence = 0, with_quals = 0;
    for (int n = 0; n < PROPERTY_PROFILES; n++) {
        profile p = {0};
        px_error err = {0};
        assert_int_equal(matcher_gen_profile(&gen, w->idx, &w->cfg, &p, &err), 0);
        p.include_regulated = n % 5 == 0;
        p.as_of_year = n % 3 ? 2024 : 0;
        if (matcher_run(w->m, w->s, &p, &r, &err)) fail_msg("profile %d: %s", n, err.msg);
        check_properties(w, &p, &r, mark);
        with_jobs += r.n_jobs > 0;
        with_constraints += r.n_constraints > 0;
        for (size_t j = 0; j < r.n_jobs; j++) {
            with_no_evidence += (r.jobs[j].flags & MATCH_JOB_NO_EVIDENCE) != 0;
            with_quals += r.jobs[j].qualifications.n > 0;
        }
        /* deterministic: a second run on another result gives the same bytes */
        assert_int_equal(matcher_run(w->m, w->s, &p, &again, &err), 0);
        encode(w, &r, &a);
        encode(w, &again, &b);
        assert_int_equal(a.size, b.size);
        assert_memory_equal(a.data, b.data, a.size);
        profile_free(&p);
    }
    /* the generator exercised what it claims to */
    assert_true(with_jobs > PROPERTY_PROFILES * 9 / 10);
    assert_true(with_constraints > PROPERTY_PROFILES / 5);
    assert_true(with_no_evidence > 0 && with_quals > 0);
    msgpack_sbuffer_destroy(&a);
    msgpack_sbuffer_destroy(&b);
    match_result_free(&r);
    match_result_free(&again);
    free(mark);
}

/* Discrepancies between the engine and the reference, by kind. */
enum { D_LIST, D_SCORE, D_C, D_R, D_P, D_K, D_LEVEL, D_FICHE_LEVEL, D_COST, D_BECAUSE, D_KINDS };
static const char *const d_names[D_KINDS] = {
    "job list",        "score",           "C", "R", "P", "K", "level factor", "fiche level",
    "constraint cost", "removal evidence"};

typedef struct tally {
    size_t n[D_KINDS];
    char first[D_KINDS][200];
} tally;

static void note(tally *t, int kind, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void note(tally *t, int kind, const char *fmt, ...) {
    if (!t->n[kind]++) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(t->first[kind], sizeof t->first[kind], fmt, ap);
        va_end(ap);
    }
}

static void compare(const world *w, int n, const match_result *r, const ref_result *want,
                    tally *t) {
    const rome_index *idx = w->idx;
    if (r->n_jobs != want->n_jobs)
        note(t, D_LIST, "profile %d: %zu jobs, reference %zu", n, r->n_jobs, want->n_jobs);
    for (size_t j = 0; j < r->n_jobs && j < want->n_jobs; j++) {
        const match_job *job = &r->jobs[j];
        const ref_fiche *rf = &want->fiches[job->fiche];
        if (job->fiche != want->jobs[j] &&
            fabs(rf->score - want->fiches[want->jobs[j]].score) >= TIE_TOL)
            note(t, D_LIST, "profile %d place %zu: %s (ref %.6f), reference %s (%.6f)", n, j,
                 idx->fiches[job->fiche].code, rf->score, idx->fiches[want->jobs[j]].code,
                 want->fiches[want->jobs[j]].score);
        const double got[6] = {job->score,
                               job->components.competences,
                               job->components.related,
                               job->components.profile,
                               job->components.kinship,
                               job->components.level};
        const double ref[6] = {rf->score, rf->c, rf->r, rf->p, rf->k, rf->level};
        for (int k = 0; k < 6; k++)
            if (fabs(got[k] - ref[k]) > SCORE_TOL)
                note(t, D_SCORE + k, "profile %d %s: %s %.6f, reference %.6f", n,
                     idx->fiches[job->fiche].code, d_names[D_SCORE + k], got[k], ref[k]);
        if (job->level != ref_fiche_level(w->ref, job->fiche))
            note(t, D_FICHE_LEVEL, "%s: level %u, reference %d", idx->fiches[job->fiche].code,
                 job->level, ref_fiche_level(w->ref, job->fiche));
    }
    for (size_t a = 0; a < r->n_constraints && a < want->n_entries; a++) {
        const match_constraint_cost *c = &r->constraints[a];
        if (c->removed != want->entries[a].removed || c->n != want->entries[a].n_best)
            note(t, D_COST, "profile %d entry %zu: removes %u, reference %u", n, a, c->removed,
                 want->entries[a].removed);
        for (uint32_t k = 0; k < c->n && k < want->entries[a].n_best; k++) {
            const match_removal *rm = &r->removals[c->off + k];
            const ref_fiche *rf = &want->fiches[rm->fiche];
            if (rm->fiche != want->entries[a].best[k] &&
                fabs(rf->score - want->fiches[want->entries[a].best[k]].score) >= TIE_TOL)
                note(t, D_COST, "profile %d entry %zu removal %u: %s, reference %s", n, a, k,
                     idx->fiches[rm->fiche].code, idx->fiches[want->entries[a].best[k]].code);
            else if (rm->evidence != rf->because[a] || rm->code != rf->because_code[a])
                note(t, D_BECAUSE, "profile %d entry %zu: %s because %u/%u, reference %u/%u", n, a,
                     idx->fiches[rm->fiche].code, rm->evidence, rm->code, rf->because[a],
                     rf->because_code[a]);
        }
    }
    if (r->removed_by_domain != want->removed_by_domain ||
        r->removed_regulated != want->removed_regulated)
        note(t, D_COST, "profile %d: by domain %u regulated %u, reference %u %u", n,
             r->removed_by_domain, r->removed_regulated, want->removed_by_domain,
             want->removed_regulated);
}

/* The engine agrees with the reference scorer on generated profiles. */
static void test_reference(void **state) {
    world *w = *state;
    NEED_DATA(w);
    matcher_gen gen = {0x5EEDC0DEULL};
    match_result r = {0};
    ref_result want = {0};
    tally t;
    memset(&t, 0, sizeof t);
    size_t jobs = 0;
    for (int n = 0; n < REFERENCE_PROFILES; n++) {
        profile p = {0};
        px_error err = {0};
        assert_int_equal(matcher_gen_profile(&gen, w->idx, &w->cfg, &p, &err), 0);
        p.include_regulated = n % 4 == 0;
        if (n % 3 == 0) { /* recency */
            p.as_of_year = 2024;
            for (size_t e = 0; e < p.n_experiences; e++)
                p.experiences[e].end_year = 2000 + (n + (int)e) % 25;
        }
        if (matcher_run(w->m, w->s, &p, &r, &err)) fail_msg("profile %d: %s", n, err.msg);
        assert_int_equal(ref_score(w->ref, &p, r.experiences, &want), 0);
        compare(w, n, &r, &want, &t);
        jobs += r.n_jobs;
        profile_free(&p);
    }
    assert_true(jobs > REFERENCE_PROFILES * 10);
    size_t total = 0;
    for (int k = 0; k < D_KINDS; k++) {
        if (!t.n[k]) continue;
        fprintf(stderr, "reference: %zu %s discrepancies, first: %s\n", t.n[k], d_names[k],
                t.first[k]);
        total += t.n[k];
    }
    ref_result_free(&want);
    match_result_free(&r);
    if (total)
        fail_msg("%zu discrepancies with the reference scorer over %d profiles", total,
                 REFERENCE_PROFILES);
}

/* A matcher of the same index with other list lengths. */
static matcher *matcher_with_lengths(const world *w, uint32_t top, uint32_t skills_asked) {
    matcher_config cfg = w->cfg;
    px_error err = {0};
    cfg.top = top;
    cfg.skills_asked = skills_asked;
    matcher *m = matcher_build(w->idx, &cfg, &err);
    if (!m) fail_msg("matcher_build: %s", err.msg);
    return m;
}

/* The best n of a list are the first n of a longer one: whatever way the engine selects them
 * (a short list among many equal keys goes through a heap, a long one is ranked as it is). */
static void test_short_lists_are_prefixes(void **state) {
    world *w = *state;
    NEED_DATA(w);
    const uint32_t shorter[] = {1, 2, 3, 7};
    matcher *longest = matcher_with_lengths(w, MATCHER_MAX_TOP, MATCHER_MAX_SKILLS_ASKED);
    matcher_scratch *s_long = matcher_scratch_new(longest, NULL);
    assert_non_null(s_long);
    match_result all = {0}, some = {0};
    size_t tied_first_skill =
        0; /* profiles whose best skill ties with 4 or more: the heap's case */
    for (size_t l = 0; l < sizeof shorter / sizeof shorter[0]; l++) {
        matcher *m = matcher_with_lengths(w, shorter[l], shorter[l]);
        matcher_scratch *s = matcher_scratch_new(m, NULL);
        assert_non_null(s);
        matcher_gen gen = {0x5EEDULL};
        for (int n = 0; n < 200; n++) {
            profile p = {0};
            px_error err = {0};
            assert_int_equal(matcher_gen_profile(&gen, w->idx, &w->cfg, &p, &err), 0);
            assert_int_equal(matcher_run(longest, s_long, &p, &all, &err), 0);
            assert_int_equal(matcher_run(m, s, &p, &some, &err), 0);
            assert_int_equal(some.n_jobs, all.n_jobs < shorter[l] ? all.n_jobs : shorter[l]);
            assert_int_equal(some.n_skills, all.n_skills < shorter[l] ? all.n_skills : shorter[l]);
            for (size_t j = 0; j < some.n_jobs; j++) {
                assert_int_equal(some.jobs[j].fiche, all.jobs[j].fiche);
                assert_true(some.jobs[j].score == all.jobs[j].score);
            }
            for (size_t k = 0; k < some.n_skills; k++)
                assert_int_equal(some.skills[k].item, all.skills[k].item);
            size_t ties = 0;
            for (size_t k = 1; k < all.n_skills; k++)
                ties += all.skills[k].weight == all.skills[0].weight;
            tied_first_skill += l == 0 && ties >= 4;
            profile_free(&p);
        }
        matcher_scratch_free(s);
        matcher_free(m);
    }
    assert_true(tied_first_skill > 20);
    match_result_free(&all);
    match_result_free(&some);
    matcher_scratch_free(s_long);
    matcher_free(longest);
}

/* Real-world spellings of job titles and the fiche their appellation must belong to (checked in
 * unix_referentiel_appellation: e.g. "Boulanger / Boulangère" is under D1102). */
static void test_title_spellings(void **state) {
    world *w = *state;
    NEED_DATA(w);
    static const struct {
        const char *title, *rome;
    } cases[] = {
        {"boulangere", "D1102"}, /* feminine, no accent */
        {"Boulangers", "D1102"}, /* plural */
        {"boulnger", "D1102"},   /* typo: missing a */
        {"serveuse", "G1803"},
        {"macon", "F1703"}, /* ç without cedilla */
        {"Maçonne", "F1703"},
        {"comptable", "M1203"},
        {"assistante maternelle", "K1310"},
        {"maternelle, assistante", "K1310"}, /* inverted word order, punctuation */
        {"asistante maternelle", "K1310"},   /* typo: missing s */
        {"SECRETAIRE", "M1607"},
        {"coiffeuse", "D1202"},
        {"AIDE SOIGNANTE", "J1501"},
        {"aide-soigante", "J1501"}, /* typo: missing n */
        {"auxiliaire de vie", "K1311"},
        {"cuisinière", "G1609"},
        {"cariste magasinier", "N1110"}, /* inverted "Magasinier cariste" */
        {"hotesse de caisse", "D1505"},
        {"Caissières", "D1505"},
        {"caisiere", "D1505"}, /* typo: the frequent caissière, not chaisière */
        {"chauffeur poids lourd", "N4101"},
        {"développeuse informatique", "M1805"},
        {"électricienne bâtiment", "F1602"},
    };
    px_error err = {0};
    title_resolver *tr = title_resolver_build(w->idx, &err);
    title_scratch *ts = title_scratch_new(tr, &err);
    assert_non_null(ts);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        title_match out[3];
        int n = title_resolve(tr, ts, cases[i].title, out, 3, &err);
        if (n < 1) fail_msg("\"%s\": nothing found", cases[i].title);
        const rome_appellation *a = &w->idx->appellations[out[0].appellation];
        if (strcmp(w->idx->fiches[a->fiche].code, cases[i].rome))
            fail_msg("\"%s\" → \"%s\" (%s), want a %s appellation", cases[i].title,
                     rome_str(w->idx, a->label_long), w->idx->fiches[a->fiche].code, cases[i].rome);
        assert_true(out[0].confidence >= w->cfg.title_min_confidence);
    }
    title_scratch_free(ts);
    title_resolver_free(tr);
}

/* How many of the first `top` jobs for one appellation lie under one of the code prefixes. */
static size_t jobs_under(world *w, uint32_t appellation, size_t top, const char *const *prefixes,
                         size_t n_prefixes) {
    profile p = {0};
    match_result r = {0};
    profile_experience *x = profile_add_experience(&p, NULL);
    x->kind = PROFILE_EXP_APPELLATION;
    x->appellation = appellation;
    assert_int_equal(matcher_run(w->m, w->s, &p, &r, NULL), 0);
    size_t hits = 0;
    for (size_t j = 0; j < r.n_jobs && j < top; j++)
        for (size_t k = 0; k < n_prefixes; k++)
            if (!strncmp(w->idx->fiches[r.jobs[j].fiche].code, prefixes[k], strlen(prefixes[k]))) {
                hits++;
                break;
            }
    match_result_free(&r);
    profile_free(&p);
    return hits;
}

/* PLAUSIBILITY (not a proof of quality). A cashier (11640 "Caissier / Caissière", fiche D1505)
 * holds encaissement, accueil and client-relation competences, whose macro-compétences ROME uses
 * across the sales fiches of grand domaine D (commerce, vente et grande distribution) and the
 * reception fiches (M1601-M1602 accueil, G17 hôtellerie réception): most of the top 10 must be
 * there. */
static void test_plausible_cashier(void **state) {
    world *w = *state;
    NEED_DATA(w);
    static const char *const retail_or_reception[] = {"D", "M1601", "M1602", "G17"};
    assert_true(jobs_under(w, 11640, 10, retail_or_reception, 4) >= 6);
}

/* PLAUSIBILITY. A care assistant (10891 "Aide-soignant / Aide-soignante", J1501) shares hygiene,
 * care and patient-support competences with health (J) and personal-services (K: aide à domicile,
 * accompagnement social) fiches: most of the top 10 must be in J or K. */
static void test_plausible_care_assistant(void **state) {
    world *w = *state;
    NEED_DATA(w);
    static const char *const care[] = {"J", "K"};
    assert_true(jobs_under(w, 10891, 10, care, 2) >= 6);
}

/* PLAUSIBILITY. A developer (14153 "Développeur / Développeuse informatique", M1805) is offered
 * other information-systems fiches (domaine professionnel M18) first. */
static void test_plausible_developer(void **state) {
    world *w = *state;
    NEED_DATA(w);
    static const char *const it[] = {"M18"};
    assert_true(jobs_under(w, 14153, 5, it, 1) >= 4);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_properties),
        cmocka_unit_test(test_reference),
        cmocka_unit_test(test_short_lists_are_prefixes),
        cmocka_unit_test(test_title_spellings),
        cmocka_unit_test(test_plausible_cashier),
        cmocka_unit_test(test_plausible_care_assistant),
        cmocka_unit_test(test_plausible_developer),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
