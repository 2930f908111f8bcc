/* The matcher on the official ROME 4.0 export (PASSERELLE_ROME_DIR; every test is skipped with a
 * message when it is missing):
 *   - properties over generated profiles, checked from outside the engine, including a full-scan
 *     recomputation of the documented formula that the inverted-list scoring must agree with;
 *   - the reasons of every suggested job against the documented rule, recomputed by scanning its fiche;
 *   - title resolution on real-world spellings;
 *   - PLAUSIBILITY checks (marked as such): expectations justified from the data, not proofs. */
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
#include "rome_load.h"
#include "suggestion_codec.h"
#include "title_resolver.h"

#define PROPERTY_PROFILES 3000
#define FULL_SCAN_PROFILES 300
#define REASON_PROFILES 400
#define REASON_TOLERANCE 1e-6   /* the engine holds values in single precision */

typedef struct world {
    rome_index *idx;
    matcher_config cfg;
    matcher *m;
    matcher_scratch *s;
} world;

static int setup(void **state) {
    const char *dir = getenv("PASSERELLE_ROME_DIR");
    world *w = calloc(1, sizeof *w);
    px_error err = {0, ""};
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
    if (!w->s) {
        fprintf(stderr, "matcher_real: %s\n", err.msg);
        return -1;
    }
    return 0;
}

static int teardown(void **state) {
    world *w = *state;
    matcher_scratch_free(w->s);
    matcher_free(w->m);
    rome_index_free(w->idx);
    free(w);
    return 0;
}

#define NEED_DATA(w)                                                                                    \
    do {                                                                                                \
        if (!(w)->idx) {                                                                                \
            fprintf(stderr, "skipped: PASSERELLE_ROME_DIR does not hold the official ROME export\n"); \
            skip();                                                                                     \
        }                                                                                               \
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

/* What the person holds, recomputed from the profile: per item, the holding of docs/matching.md. */
static void holdings(const world *w, const profile *p, double *held) {
    const rome_index *idx = w->idx;
    memset(held, 0, idx->n.items * sizeof *held);
    for (size_t e = 0; e < p->n_experiences; e++) {
        const profile_experience *x = &p->experiences[e];
        uint32_t f = experience_fiche(idx, x);
        double months = x->months < 0 ? 1.0 : 0.5 + 0.5 * (x->months < 24 ? x->months : 24) / 24.0;
        double h = w->cfg.inferred_confidence * months * (x->extra ? w->cfg.extra_weight : 1.0);
        for (uint32_t k = 0; k < rome_csr_count(&idx->fiche_items, f); k++) {
            uint32_t i = rome_csr_targets(&idx->fiche_items, f)[k];
            if (h > held[i]) held[i] = h;
        }
    }
    for (size_t k = 0; k < p->confirmed.n; k++) held[rome_item_find(idx, p->confirmed.v[k])] = 1.0;
    for (size_t k = 0; k < p->added.n; k++) held[rome_item_find(idx, p->added.v[k])] = 1.0;
    for (size_t k = 0; k < p->rejected.n; k++) held[rome_item_find(idx, p->rejected.v[k])] = -1.0;  /* rejected */
}

static bool fiche_avoided(const world *w, const profile *p, uint32_t f) {
    const rome_index *idx = w->idx;
    for (uint32_t k = 0; k < rome_csr_count(&idx->fiche_contextes, f); k++) {
        uint32_t code = idx->contextes[rome_csr_targets(&idx->fiche_contextes, f)[k]].code_ogr;
        if (codes_has(&p->avoid_contextes, code)) return true;
        for (size_t n = 0; n < p->avoid_named.n; n++) {
            const matcher_constraint *c = matcher_config_constraint(&w->cfg, p->avoid_named.v[n]);
            for (uint32_t j = 0; j < c->n_codes; j++)
                if (c->codes[j] == code) return true;
        }
    }
    return false;
}

static bool domain_listed(const rome_index *idx, const profile_strings *list, uint32_t f) {
    for (size_t k = 0; k < list->n; k++)
        if (!strcmp(list->v[k], idx->grands_domaines[idx->fiches[f].grand_domaine].code) ||
            !strcmp(list->v[k], idx->domaines[idx->fiches[f].domaine].code))
            return true;
    return false;
}

/* The macro-compétence of item i (itself for a macro), or ROME_NONE. */
static uint32_t macro_of(const rome_index *idx, uint32_t i) {
    return (idx->items[i].flags & ROME_ITEM_MACRO) ? i : idx->items[i].macro;
}

/* w(f, i) of docs/matching.md for link k of fiche_items. */
static double link_weight(const world *w, uint32_t k) {
    const rome_index *idx = w->idx;
    const double imp_w[3] = {w->cfg.weight_other, w->cfg.weight_emergente, w->cfg.weight_principale};
    uint32_t i = idx->fiche_items.targets[k];
    double spec = log((double)idx->n.fiches / rome_csr_count(&idx->item_fiches, i)) / log((double)idx->n.fiches);
    return imp_w[idx->fiche_items.importance[k]] * (idx->items[i].kind == ROME_KIND_SAVOIR_ETRE ? w->cfg.savoir_etre_factor : 1.0) *
           spec;
}

/* value(i) of docs/matching.md: 0 when rejected (held < 0), else the better of its holding and
 * the macro credit. */
static double item_value(const world *w, const double *held, const double *macro_held, uint32_t i) {
    uint32_t mac = macro_of(w->idx, i);
    if (held[i] < 0) return 0.0;
    double credit = mac == ROME_NONE ? 0.0 : w->cfg.macro_credit * macro_held[mac];
    return held[i] > credit ? held[i] : credit;
}

/* The best holding under each macro-compétence. */
static void hold_macros(const world *w, const double *held, double *macro_held) {
    memset(macro_held, 0, w->idx->n.items * sizeof *macro_held);
    for (uint32_t i = 0; i < w->idx->n.items; i++) {
        uint32_t mac = macro_of(w->idx, i);
        if (mac != ROME_NONE && held[i] > macro_held[mac]) macro_held[mac] = held[i];
    }
}

/* The documented score by brute force over one fiche: Σ value(i) w(f,i) / Σ w(f,i). */
static double full_scan_score(const world *w, const profile *p, const double *held, const double *macro_held,
                              uint32_t f) {
    const rome_index *idx = w->idx;
    double num = 0, den = 0;
    for (uint32_t k = idx->fiche_items.offsets[f]; k < idx->fiche_items.offsets[f + 1]; k++) {
        double wt = link_weight(w, k);
        num += item_value(w, held, macro_held, idx->fiche_items.targets[k]) * wt;
        den += wt;
    }
    double score = den > 0 ? num / den : 0;
    if (p->domains.n && !domain_listed(idx, &p->domains, f)) score /= 1.0 + w->cfg.domain_boost;
    return score;
}

static void check_profile(const world *w, const profile *p, const match_result *r, double *held, double *macro_held,
                          uint8_t *mark, bool full_scan) {
    const rome_index *idx = w->idx;
    holdings(w, p, held);
    assert_true(r->n_jobs <= w->cfg.top);
    assert_true(r->n_skills <= w->cfg.skills_asked);
    for (size_t k = 0; k < r->n_skills; k++) {
        uint32_t code = idx->items[r->skills[k].item].code_ogr;
        assert_false(codes_has(&p->confirmed, code) || codes_has(&p->rejected, code) || codes_has(&p->added, code));
        if (k) assert_true(r->skills[k].weight <= r->skills[k - 1].weight);
    }
    for (size_t j = 0; j < r->n_jobs; j++) {
        const match_job *job = &r->jobs[j];
        uint32_t f = job->fiche;
        /* scores in [0,1], sorted, ties by code */
        assert_true(job->score >= 0 && job->score <= 1);
        if (j) assert_true(job->score < r->jobs[j - 1].score ||
                           (job->score == r->jobs[j - 1].score && f > r->jobs[j - 1].fiche));
        /* an avoided context or an excluded domain never appears; own fiches are not suggested */
        assert_false(fiche_avoided(w, p, f));
        assert_false(domain_listed(idx, &p->exclude_domains, f));
        for (size_t e = 0; e < p->n_experiences; e++)
            if (!p->experiences[e].extra) assert_int_not_equal(experience_fiche(idx, &p->experiences[e]), f);
        /* held ∪ missing is exactly the fiche's competence set; held ⊆ holdings; rejected never held */
        memset(mark, 0, idx->n.items);
        for (uint32_t k = 0; k < job->held.n; k++) {
            uint32_t i = r->codes[job->held.off + k];
            assert_true(held[i] > 0);
            assert_false(codes_has(&p->rejected, idx->items[i].code_ogr));
            assert_int_equal(mark[i]++, 0);
        }
        for (uint32_t k = 0; k < job->missing.n; k++) {
            uint32_t i = r->codes[job->missing.off + k];
            assert_false(held[i] > 0);
            assert_int_equal(mark[i]++, 0);
        }
        assert_int_equal(job->held.n + job->missing.n, rome_csr_count(&idx->fiche_items, f));
        for (uint32_t k = 0; k < rome_csr_count(&idx->fiche_items, f); k++)
            assert_int_equal(mark[rome_csr_targets(&idx->fiche_items, f)[k]], 1);
        for (uint32_t k = 0; k < job->qualifications.n; k++) {
            uint32_t i = r->codes[job->qualifications.off + k];
            assert_true(idx->items[i].flags & ROME_ITEM_QUALIFICATION);
            assert_true(mark[i] == 1 && !(held[i] > 0));
        }
    }
    if (!full_scan) return;
    /* the inverted-list engine agrees with a scan of every fiche */
    hold_macros(w, held, macro_held);
    double last = r->n_jobs ? r->jobs[r->n_jobs - 1].score : 0.0;
    for (size_t j = 0; j < r->n_jobs; j++)
        assert_true(fabs(full_scan_score(w, p, held, macro_held, r->jobs[j].fiche) - r->jobs[j].score) < 1e-4);
    for (uint32_t f = 0; f < idx->n.fiches; f++) {
        bool listed = false, own = false;
        for (size_t j = 0; j < r->n_jobs; j++) listed |= r->jobs[j].fiche == f;
        for (size_t e = 0; e < p->n_experiences; e++)
            own |= !p->experiences[e].extra && experience_fiche(idx, &p->experiences[e]) == f;
        if (listed || own || fiche_avoided(w, p, f) || domain_listed(idx, &p->exclude_domains, f)) continue;
        double s = full_scan_score(w, p, held, macro_held, f);
        if (r->n_jobs == w->cfg.top) assert_true(s <= last + 1e-4);   /* nothing better was left out */
        else assert_true(s < 1e-6);                                   /* a short list means nothing else scores */
    }
}

static void test_properties(void **state) {
    world *w = *state;
    NEED_DATA(w);
    matcher_gen gen = {0xC0FFEEULL};
    match_result r = {0}, again = {0};
    double *held = malloc(w->idx->n.items * sizeof *held), *macro_held = malloc(w->idx->n.items * sizeof *macro_held);
    uint8_t *mark = malloc(w->idx->n.items);
    assert_true(held && macro_held && mark);
    msgpack_sbuffer a, b;
    msgpack_sbuffer_init(&a);
    msgpack_sbuffer_init(&b);
    size_t with_jobs = 0, with_constraints = 0;
    for (int n = 0; n < PROPERTY_PROFILES; n++) {
        profile p = {0};
        px_error err = {0, ""};
        assert_int_equal(matcher_gen_profile(&gen, w->idx, &w->cfg, &p, &err), 0);
        if (matcher_run(w->m, w->s, &p, &r, &err)) fail_msg("profile %d: %s", n, err.msg);
        check_profile(w, &p, &r, held, macro_held, mark, n < FULL_SCAN_PROFILES);
        with_jobs += r.n_jobs > 0;
        with_constraints += r.n_constraints > 0;
        /* deterministic: a second run on another result gives the same bytes */
        assert_int_equal(matcher_run(w->m, w->s, &p, &again, &err), 0);
        msgpack_sbuffer_clear(&a);
        msgpack_sbuffer_clear(&b);
        msgpack_packer pa, pb;
        msgpack_packer_init(&pa, &a, msgpack_sbuffer_write);
        msgpack_packer_init(&pb, &b, msgpack_sbuffer_write);
        assert_int_equal(suggestion_encode_match(&pa, "u", "4.0-60", w->m, &r, NULL), 0);
        assert_int_equal(suggestion_encode_match(&pb, "u", "4.0-60", w->m, &again, NULL), 0);
        assert_int_equal(a.size, b.size);
        assert_memory_equal(a.data, b.data, a.size);
        profile_free(&p);
    }
    /* the generator exercised what it claims to */
    assert_true(with_jobs > PROPERTY_PROFILES * 9 / 10);
    assert_true(with_constraints > PROPERTY_PROFILES / 5);
    msgpack_sbuffer_destroy(&a);
    msgpack_sbuffer_destroy(&b);
    match_result_free(&r);
    match_result_free(&again);
    free(held);
    free(macro_held);
    free(mark);
}

/* A matcher of the same index with other list lengths. */
static matcher *matcher_with_lengths(const world *w, uint32_t top, uint32_t skills_asked) {
    matcher_config cfg = w->cfg;
    px_error err = {0, ""};
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
    size_t tied_first_skill = 0;   /* profiles whose best skill ties with 4 or more: the heap's case */
    for (size_t l = 0; l < sizeof shorter / sizeof shorter[0]; l++) {
        matcher *m = matcher_with_lengths(w, shorter[l], shorter[l]);
        matcher_scratch *s = matcher_scratch_new(m, NULL);
        assert_non_null(s);
        matcher_gen gen = {0x5EEDULL};
        for (int n = 0; n < 200; n++) {
            profile p = {0};
            px_error err = {0, ""};
            assert_int_equal(matcher_gen_profile(&gen, w->idx, &w->cfg, &p, &err), 0);
            assert_int_equal(matcher_run(longest, s_long, &p, &all, &err), 0);
            assert_int_equal(matcher_run(m, s, &p, &some, &err), 0);
            assert_int_equal(some.n_jobs, all.n_jobs < shorter[l] ? all.n_jobs : shorter[l]);
            assert_int_equal(some.n_skills, all.n_skills < shorter[l] ? all.n_skills : shorter[l]);
            for (size_t j = 0; j < some.n_jobs; j++) {
                assert_int_equal(some.jobs[j].fiche, all.jobs[j].fiche);
                assert_true(some.jobs[j].score == all.jobs[j].score);
            }
            for (size_t k = 0; k < some.n_skills; k++) assert_int_equal(some.skills[k].item, all.skills[k].item);
            size_t ties = 0;
            for (size_t k = 1; k < all.n_skills; k++) ties += all.skills[k].weight == all.skills[0].weight;
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

/* What the documented rule for reasons needs to know of each item, recomputed from the profile. */
typedef struct credit_map {
    double *held, *macro_held;
    uint32_t *from;           /* per item: the experiences whose fiche lists it */
    uint32_t *macro_from;     /* per macro-compétence: the experiences of the held items under it */
    uint8_t *declared;        /* per item: confirmed or added, and not rejected */
    uint8_t *macro_declared;  /* per macro-compétence: a held item under it is declared */
} credit_map;

static void map_credits(const world *w, const profile *p, credit_map *c) {
    const rome_index *idx = w->idx;
    holdings(w, p, c->held);
    hold_macros(w, c->held, c->macro_held);
    memset(c->from, 0, idx->n.items * sizeof *c->from);
    memset(c->macro_from, 0, idx->n.items * sizeof *c->macro_from);
    memset(c->declared, 0, idx->n.items);
    memset(c->macro_declared, 0, idx->n.items);
    for (size_t e = 0; e < p->n_experiences; e++) {
        uint32_t f = experience_fiche(idx, &p->experiences[e]);
        for (uint32_t k = 0; k < rome_csr_count(&idx->fiche_items, f); k++)
            c->from[rome_csr_targets(&idx->fiche_items, f)[k]] |= 1u << e;
    }
    for (size_t k = 0; k < p->confirmed.n; k++) c->declared[rome_item_find(idx, p->confirmed.v[k])] = 1;
    for (size_t k = 0; k < p->added.n; k++) c->declared[rome_item_find(idx, p->added.v[k])] = 1;
    for (size_t k = 0; k < p->rejected.n; k++) c->declared[rome_item_find(idx, p->rejected.v[k])] = 0;
    for (uint32_t i = 0; i < idx->n.items; i++) {
        uint32_t mac = macro_of(idx, i);
        if (mac == ROME_NONE || !(c->held[i] > 0)) continue;
        c->macro_from[mac] |= c->from[i];
        c->macro_declared[mac] |= c->declared[i];
    }
}

/* The documented reasons of fiche f by a scan of its items: each item's value × w is split equally
 * between the experiences it was inferred from and "declared" when its own holding counts
 * (held >= value), else between those of the held items under its macro-compétence. part[e] for
 * experience e, part[MATCHER_MAX_EXPERIENCES] for "declared"; returns Σ value × w. */
static double documented_parts(const world *w, const credit_map *c, uint32_t f, double *part) {
    const rome_index *idx = w->idx;
    double total = 0;
    memset(part, 0, (MATCHER_MAX_EXPERIENCES + 1) * sizeof *part);
    for (uint32_t k = idx->fiche_items.offsets[f]; k < idx->fiche_items.offsets[f + 1]; k++) {
        uint32_t i = idx->fiche_items.targets[k], mac = macro_of(idx, i);
        double v = item_value(w, c->held, c->macro_held, i), contribution = v * link_weight(w, k);
        bool direct = c->held[i] >= v;
        uint32_t from = direct ? c->from[i] : mac == ROME_NONE ? 0 : c->macro_from[mac];
        bool declared = direct ? c->declared[i] : mac != ROME_NONE && c->macro_declared[mac];
        uint32_t ways = declared;
        for (uint32_t e = 0; e < MATCHER_MAX_EXPERIENCES; e++) ways += from >> e & 1u;
        total += contribution;
        if (!ways) continue;   /* counts in the whole, for nobody */
        if (declared) part[MATCHER_MAX_EXPERIENCES] += contribution / ways;
        for (uint32_t e = 0; e < MATCHER_MAX_EXPERIENCES; e++)
            if (from >> e & 1u) part[e] += contribution / ways;
    }
    return total;
}

/* Ties of shares go to the lower experience index, "declared" (-1) last. */
static uint32_t reason_rank(int32_t experience) {
    return experience < 0 ? MATCHER_MAX_EXPERIENCES : (uint32_t)experience;
}

/* The engine's reasons of one job are the documented ones: the same count, each share within
 * REASON_TOLERANCE of the documented share of that experience, in order of documented share (two
 * experiences whose documented shares are closer than the tolerance may come either way: the
 * engine rounds), exact ties by reason_rank. Returns how many reasons are "declared". */
static uint32_t check_reasons(const world *w, const credit_map *c, const match_job *job) {
    double part[MATCHER_MAX_EXPERIENCES + 1], total = documented_parts(w, c, job->fiche, part);
    match_reason want[MATCHER_MAX_EXPERIENCES + 1];
    uint32_t n_want = 0, declared = 0;
    for (uint32_t e = 0; e <= MATCHER_MAX_EXPERIENCES; e++) {
        if (!(part[e] > 0)) continue;
        match_reason r = {e == MATCHER_MAX_EXPERIENCES ? -1 : (int32_t)e, part[e] / total};
        uint32_t pos = n_want++;
        for (; pos > 0 && r.share > want[pos - 1].share; pos--) want[pos] = want[pos - 1];
        want[pos] = r;
    }
    assert_int_equal(job->n_reasons, n_want < MATCHER_MAX_REASONS ? n_want : MATCHER_MAX_REASONS);
    double sum = 0;
    for (uint32_t k = 0; k < job->n_reasons; k++) {
        const match_reason *got = &job->reasons[k];
        const match_reason *same = NULL;
        for (uint32_t t = 0; t < n_want; t++)
            if (want[t].experience == got->experience) same = &want[t];
        if (!same) fail_msg("fiche %u: reason %u names experience %d, which brings nothing", job->fiche, k, got->experience);
        if (fabs(got->share - same->share) > REASON_TOLERANCE || fabs(same->share - want[k].share) > REASON_TOLERANCE)
            fail_msg("fiche %u: reason %u is experience %d with %.9f (documented %.9f), documented #%u is %d with %.9f",
                     job->fiche, k, got->experience, got->share, same->share, k, want[k].experience, want[k].share);
        if (k && got->share == job->reasons[k - 1].share)
            assert_true(reason_rank(got->experience) > reason_rank(job->reasons[k - 1].experience));
        if (k) assert_true(got->share <= job->reasons[k - 1].share);
        sum += got->share;
        declared += got->experience < 0;
    }
    assert_true(sum <= 1 + 1e-9);
    return declared;
}

/* The reasons of every suggested job, against a scan of its fiche by the documented rule. */
static void test_reasons(void **state) {
    world *w = *state;
    NEED_DATA(w);
    size_t n = w->idx->n.items;
    credit_map c = {malloc(n * sizeof *c.held), malloc(n * sizeof *c.macro_held), malloc(n * sizeof *c.from),
                    malloc(n * sizeof *c.macro_from), malloc(n), malloc(n)};
    assert_true(c.held && c.macro_held && c.from && c.macro_from && c.declared && c.macro_declared);
    matcher_gen gen = {0x5EA5011ULL};
    match_result r = {0};
    size_t jobs = 0, shared = 0, declared = 0;
    for (int k = 0; k < REASON_PROFILES; k++) {
        profile p = {0};
        px_error err = {0, ""};
        assert_int_equal(matcher_gen_profile(&gen, w->idx, &w->cfg, &p, &err), 0);
        if (matcher_run(w->m, w->s, &p, &r, &err)) fail_msg("profile %d: %s", k, err.msg);
        map_credits(w, &p, &c);
        for (size_t j = 0; j < r.n_jobs; j++) {
            declared += check_reasons(w, &c, &r.jobs[j]);
            shared += r.jobs[j].n_reasons > 1;
        }
        jobs += r.n_jobs;
        profile_free(&p);
    }
    /* the profiles exercised splits between experiences and declared competences */
    assert_true(jobs > REASON_PROFILES * 10);
    assert_true(shared > jobs / 4);
    assert_true(declared > 0);
    match_result_free(&r);
    free(c.held);
    free(c.macro_held);
    free(c.from);
    free(c.macro_from);
    free(c.declared);
    free(c.macro_declared);
}

/* Real-world spellings of job titles and the fiche their appellation must belong to (checked in
 * unix_referentiel_appellation: e.g. "Boulanger / Boulangère" is under D1102). */
static void test_title_spellings(void **state) {
    world *w = *state;
    NEED_DATA(w);
    static const struct { const char *title, *rome; } cases[] = {
        {"boulangere", "D1102"},                  /* feminine, no accent */
        {"Boulangers", "D1102"},                  /* plural */
        {"boulnger", "D1102"},                    /* typo: missing a */
        {"serveuse", "G1803"},
        {"macon", "F1703"},                       /* ç without cedilla */
        {"Maçonne", "F1703"},
        {"comptable", "M1203"},
        {"assistante maternelle", "K1310"},
        {"maternelle, assistante", "K1310"},      /* inverted word order, punctuation */
        {"asistante maternelle", "K1310"},        /* typo: missing s */
        {"SECRETAIRE", "M1607"},
        {"coiffeuse", "D1202"},
        {"AIDE SOIGNANTE", "J1501"},
        {"aide-soigante", "J1501"},               /* typo: missing n */
        {"auxiliaire de vie", "K1311"},
        {"cuisinière", "G1609"},
        {"cariste magasinier", "N1110"},          /* inverted "Magasinier cariste" */
        {"hotesse de caisse", "D1505"},
        {"Caissières", "D1505"},
        {"caisiere", "D1505"},                    /* typo: the frequent caissière, not chaisière */
        {"chauffeur poids lourd", "N4101"},
        {"développeuse informatique", "M1805"},
        {"électricienne bâtiment", "F1602"},
    };
    px_error err = {0, ""};
    title_resolver *tr = title_resolver_build(w->idx, &err);
    title_scratch *ts = title_scratch_new(tr, &err);
    assert_non_null(ts);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        title_match out[3];
        int n = title_resolve(tr, ts, cases[i].title, out, 3, &err);
        if (n < 1) fail_msg("\"%s\": nothing found", cases[i].title);
        const rome_appellation *a = &w->idx->appellations[out[0].appellation];
        if (strcmp(w->idx->fiches[a->fiche].code, cases[i].rome))
            fail_msg("\"%s\" → \"%s\" (%s), want a %s appellation", cases[i].title, rome_str(w->idx, a->label_long),
                     w->idx->fiches[a->fiche].code, cases[i].rome);
        assert_true(out[0].confidence >= w->cfg.title_min_confidence);
    }
    title_scratch_free(ts);
    title_resolver_free(tr);
}

/* How many of the first `top` jobs for one appellation lie under one of the code prefixes. */
static size_t jobs_under(world *w, uint32_t appellation, size_t top, const char *const *prefixes, size_t n_prefixes) {
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
 * reception fiches (M1601-M1602 accueil, G17 hôtellerie réception): most of the top 10 must be there. */
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
        cmocka_unit_test(test_short_lists_are_prefixes),
        cmocka_unit_test(test_reasons),
        cmocka_unit_test(test_title_spellings),
        cmocka_unit_test(test_plausible_cashier),
        cmocka_unit_test(test_plausible_care_assistant),
        cmocka_unit_test(test_plausible_developer),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
