/* Unit tests of the matcher, the title resolver and the suggestion codec on a hand-written fixture
 * (tests/fixtures/matcher: ten invented fiches in the official CSV schema). Every profile run
 * here is also scored by the reference scorer (tests/support/reference_scorer.h, a plain reading
 * of docs/matching.md), and every job of it must agree: fiche, place, score and components to
 * 1e-5, held ∪ missing, constraint costs and their `because`.
 *
 * Fixture, by fiche (P Principale, E Émergente, SE savoir-être, Q qualification; level read from
 * the accès text; R regulated, C cadre; parent = code_rome_parent when not itself):
 *   D1505 Caissier     100001 P, 100002, 300001 P (macro), 100003 SE, 200001 E   samedi, public  3
 *   D1106 Vendeur  C   100002 P, 200001                                          samedi, public  3
 *   D1507 Chef caiss.  100001 P, 100002 P, 300001, 100003 SE, 200001    parent D1505            5
 *   J1501 Soignant R   100004 P, 100003 SE, 200002 Q                             nuit            3
 *   J1502 Infirmier R  100004 P, 100007 P, 100003 SE, 200002 Q, 200004 Q         public          6
 *   J1101 Médecin R C  100010 P, 100004 P, 100003 SE, 200005 Q                                   8
 *   M1607 Secrétaire   100002, 100005 P, 100003 SE, 200003                       public          4
 *   F1703 Maçon        100009 P, 100006, 100003 SE                                               3
 *   F1704 Carreleur    100008 P, 100006                                          charges lourdes 3
 *   K1301 Auxiliaire R 100004, 100002, 100003 SE (regulated, no qualification)                   0
 * 100001 and 100002 belong to macro-compétence 300001, 100006 and 100008 to 300002. Appellation
 * 5013 "Responsable de caisse" (D1505) is cadre. Constraints: no_weekend 23374, no_night 300803,
 * no_heavy_loads 300795 + item 100006. Evidence the constraints rest on: D1106 lists samedi
 * (contexte); D1507's v3 parent D1505 does (parent; half of D15 too); J1502: half of J15 works
 * at night (domain); F1703 lists 100006 (competence; half of F17 too). */
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
#include "reference_scorer.h"
#include "rome_fixture.h"
#include "rome_load.h"
#include "suggestion_codec.h"
#include "title_resolver.h"

#ifndef FIXTURE_DIR
#error "FIXTURE_DIR must point to tests/fixtures/matcher"
#endif

#define TOL 1e-5 /* the engine sums in single precision */

typedef struct fixture {
    rome_index *idx;
    matcher_config cfg;
    matcher *m;
    matcher_scratch *s;
    ref_scorer *ref;
    match_result r;
    ref_result want;
    profile p;
} fixture;

/* The default configuration with constraints that exist in the fixture. */
static matcher_config fixture_config(void) {
    matcher_config cfg = matcher_config_default();
    cfg.n_constraints = 0;
    /* 10 fiches, few with evidence for one person: one reserved place exercises the rule, and the
     * lists go on past it (test_evidence_rule also checks a list that ends, §3) */
    cfg.evidence_places = 1;
    assert_int_equal(matcher_config_set(&cfg, "constraint.no_weekend", "23374", NULL), 0);
    assert_int_equal(matcher_config_set(&cfg, "constraint.no_night", "300803", NULL), 0);
    assert_int_equal(matcher_config_set(&cfg, "constraint.no_heavy_loads", "300795", NULL), 0);
    /* 999999 is in no index: ignored, so that a new ROME version loads */
    assert_int_equal(
        matcher_config_set(&cfg, "constraint.no_heavy_loads.items", "100006, 999999", NULL), 0);
    return cfg;
}

static rome_index *load_fixture(const char *texte_extra) {
    char dir[512];
    px_error err = {0};
    if (rome_fixture_make(FIXTURE_DIR, dir, sizeof dir)) return NULL;
    if (texte_extra) {
        char *text = rome_fixture_read(dir, "texte");
        size_t len = strlen(text) + strlen(texte_extra) + 1;
        char *all = malloc(len);
        snprintf(all, len, "%s%s", text, texte_extra);
        rome_fixture_write(dir, "texte", all, strlen(all));
        free(all);
        free(text);
    }
    rome_index *idx = rome_load_csv(dir, NULL, &err);
    rome_fixture_remove(dir);
    if (!idx) fprintf(stderr, "fixture: %s\n", err.msg);
    return idx;
}

static int setup_with(void **state, const matcher_config *cfg) {
    fixture *f = calloc(1, sizeof *f);
    px_error err = {0};
    if (!f || !(f->idx = load_fixture(NULL))) return -1;
    f->cfg = *cfg;
    f->m = matcher_build(f->idx, &f->cfg, &err);
    f->s = f->m ? matcher_scratch_new(f->m, &err) : NULL;
    f->ref = ref_scorer_new(f->idx, &f->cfg);
    if (!f->s || !f->ref) {
        fprintf(stderr, "setup: %s\n", err.msg);
        return -1;
    }
    *state = f;
    return 0;
}

static int setup(void **state) {
    matcher_config cfg = fixture_config();
    return setup_with(state, &cfg);
}

static int teardown(void **state) {
    fixture *f = *state;
    profile_free(&f->p);
    match_result_free(&f->r);
    ref_result_free(&f->want);
    ref_scorer_free(f->ref);
    matcher_scratch_free(f->s);
    matcher_free(f->m);
    rome_index_free(f->idx);
    free(f);
    return 0;
}

static profile_experience *add_exp(profile *p) {
    profile_experience *x = profile_add_experience(p, NULL);
    assert_non_null(x);
    x->months = -1;
    x->end_year = -1;
    return x;
}

static profile_experience *add_appellation(profile *p, uint32_t code) {
    profile_experience *x = add_exp(p);
    x->kind = PROFILE_EXP_APPELLATION;
    x->appellation = code;
    return x;
}

static profile_experience *add_rome(profile *p, const char *code) {
    profile_experience *x = add_exp(p);
    x->kind = PROFILE_EXP_ROME;
    snprintf(x->rome, sizeof x->rome, "%s", code);
    return x;
}

static void add_title(profile *p, const char *title) {
    profile_experience *x = add_exp(p);
    x->kind = PROFILE_EXP_TITLE;
    x->title = strdup(title);
    assert_non_null(x->title);
}

static void push(profile_codes *c, uint32_t code) {
    assert_int_equal(profile_codes_push(c, code, NULL), 0);
}
static void push_s(profile_strings *s, const char *v) {
    assert_int_equal(profile_strings_push(s, v, strlen(v), NULL), 0);
}

static const char *code_of(const fixture *f, uint32_t fiche) { return f->idx->fiches[fiche].code; }

/* The engine's result against the reference's, for every job, removal and count. */
static void check_against_reference(fixture *f) {
    const match_result *r = &f->r;
    ref_result *w = &f->want;
    assert_int_equal(ref_score(f->ref, &f->p, r->experiences, w), 0);
    if (r->n_jobs != w->n_jobs) {
        for (size_t j = 0; j < r->n_jobs; j++) fprintf(stderr, " %s", code_of(f, r->jobs[j].fiche));
        fprintf(stderr, " | want");
        for (size_t j = 0; j < w->n_jobs; j++) fprintf(stderr, " %s", code_of(f, w->jobs[j]));
        fail_msg("%zu jobs, the reference lists %zu", r->n_jobs, w->n_jobs);
    }
    for (size_t j = 0; j < r->n_jobs; j++) {
        const match_job *job = &r->jobs[j];
        const ref_fiche *rf = &w->fiches[job->fiche];
        /* a near-tie may come either way */
        if (job->fiche != w->jobs[j] && fabs(rf->score - w->fiches[w->jobs[j]].score) >= TOL)
            fail_msg("place %zu: %s (%.6f), the reference has %s (%.6f)", j, code_of(f, job->fiche),
                     job->score, code_of(f, w->jobs[j]), w->fiches[w->jobs[j]].score);
        const double got[6] = {job->score,
                               job->components.competences,
                               job->components.related,
                               job->components.profile,
                               job->components.kinship,
                               job->components.level};
        const double ref[6] = {rf->score, rf->c, rf->r, rf->p, rf->k, rf->level};
        static const char *const names[6] = {"score", "C", "R", "P", "K", "level factor"};
        for (int k = 0; k < 6; k++)
            if (fabs(got[k] - ref[k]) > TOL)
                fail_msg("%s: %s %.6f, the reference says %.6f", code_of(f, job->fiche), names[k],
                         got[k], ref[k]);
        assert_int_equal(job->level, ref_fiche_level(f->ref, job->fiche));
        assert_int_equal(!(job->flags & MATCH_JOB_NO_EVIDENCE), rf->evidence);
        assert_int_equal(!!(job->flags & MATCH_JOB_QUALIFICATION_GAP), rf->regulated_gap);
        /* held ∪ missing = the fiche's items; held = the items held */
        uint32_t n_items = rome_csr_count(&f->idx->fiche_items, job->fiche);
        assert_int_equal(job->held.n + job->missing.n, n_items);
        for (uint32_t k = 0; k < job->held.n; k++)
            assert_true(w->held[r->codes[job->held.off + k]] > 0);
        for (uint32_t k = 0; k < job->missing.n; k++)
            assert_true(w->held[r->codes[job->missing.off + k]] == 0);
        for (uint32_t k = 0; k < n_items; k++) {
            uint32_t i = rome_csr_targets(&f->idx->fiche_items, job->fiche)[k], seen = 0;
            for (uint32_t h = 0; h < job->held.n; h++) seen += r->codes[job->held.off + h] == i;
            for (uint32_t h = 0; h < job->missing.n; h++)
                seen += r->codes[job->missing.off + h] == i;
            assert_int_equal(seen, 1);
        }
    }
    /* own fiches apart, with their score */
    size_t own = 0;
    for (uint32_t fi = 0; fi < f->idx->n.fiches; fi++) own += w->fiches[fi].own;
    assert_int_equal(r->n_current, own);
    for (size_t c = 0; c < r->n_current; c++) {
        assert_true(w->fiches[r->current[c].fiche].own);
        assert_true(fabs(r->current[c].score - w->fiches[r->current[c].fiche].score) < TOL);
    }
    /* what the constraints cost */
    assert_int_equal(r->n_constraints, w->n_entries);
    for (size_t a = 0; a < r->n_constraints; a++) {
        const match_constraint_cost *got = &r->constraints[a];
        const ref_entry *e = &w->entries[a];
        assert_int_equal(got->named, e->named);
        if (got->named < 0) assert_int_equal(got->contexte, e->contexte);
        if (got->removed != e->removed)
            fail_msg("avoid entry %zu removes %u, the reference %u", a, got->removed, e->removed);
        assert_int_equal(got->n, e->n_best);
        for (uint32_t k = 0; k < got->n; k++) {
            const match_removal *rm = &r->removals[got->off + k];
            assert_int_equal(rm->fiche, e->best[k]);
            if (rm->evidence != w->fiches[rm->fiche].because[a] ||
                rm->code != w->fiches[rm->fiche].because_code[a])
                fail_msg("entry %zu: %s removed because %u/%u, the reference says %u/%u", a,
                         code_of(f, rm->fiche), rm->evidence, rm->code,
                         w->fiches[rm->fiche].because[a], w->fiches[rm->fiche].because_code[a]);
        }
    }
    if (r->removed_by_domain != w->removed_by_domain ||
        r->removed_regulated != w->removed_regulated || r->regulated_n != w->n_regulated_best)
        fail_msg("removed by domain %u, regulated %u (%u listed); the reference says %u, %u (%u)",
                 r->removed_by_domain, r->removed_regulated, r->regulated_n, w->removed_by_domain,
                 w->removed_regulated, w->n_regulated_best);
    for (uint32_t k = 0; k < r->regulated_n; k++)
        assert_int_equal(r->removals[r->regulated_off + k].fiche, w->regulated_best[k]);
    assert_int_equal(r->fiches_scored, w->scored);
}

static void run_ok(fixture *f) {
    px_error err = {0};
    int rc = matcher_run(f->m, f->s, &f->p, &f->r, &err);
    if (rc) fprintf(stderr, "matcher_run: %s\n", err.msg);
    assert_int_equal(rc, 0);
    check_against_reference(f);
}

static void run_refused(fixture *f, const char *field, px_code code) {
    px_error err = {0};
    assert_int_equal(matcher_run(f->m, f->s, &f->p, &f->r, &err), -1);
    assert_int_equal(err.code, code);
    if (!strstr(err.msg, field)) fail_msg("error \"%s\" does not name %s", err.msg, field);
    profile_free(&f->p);
}

static const match_job *job_for(const fixture *f, const char *rome) {
    for (size_t j = 0; j < f->r.n_jobs; j++)
        if (!strcmp(code_of(f, f->r.jobs[j].fiche), rome)) return &f->r.jobs[j];
    return NULL;
}

/* The job of that fiche, which must be listed. */
static const match_job *must_job(const fixture *f, const char *rome) {
    const match_job *job = job_for(f, rome);
    if (!job) fail_msg("%s is not among the %zu jobs", rome, f->r.n_jobs);
    return job;
}

static size_t place_of(const fixture *f, const char *rome) {
    for (size_t j = 0; j < f->r.n_jobs; j++)
        if (!strcmp(code_of(f, f->r.jobs[j].fiche), rome)) return j;
    return SIZE_MAX;
}

/* The codes of a slice, as "c1,c2,…". */
static const char *slice_codes(const fixture *f, match_slice sl, char *buf, size_t cap) {
    size_t w = 0;
    buf[0] = '\0';
    for (uint32_t k = 0; k < sl.n && w < cap; k++)
        w += (size_t)snprintf(buf + w, cap - w, "%s%u", k ? "," : "",
                              f->idx->items[f->r.codes[sl.off + k]].code_ogr);
    return buf;
}

static bool slice_has(const fixture *f, match_slice sl, uint32_t code) {
    for (uint32_t k = 0; k < sl.n; k++)
        if (f->idx->items[f->r.codes[sl.off + k]].code_ogr == code) return true;
    return false;
}

/* ---------- configuration ---------- */

static void test_config_set(void **state) {
    (void)state;
    matcher_config cfg = matcher_config_default();
    px_error err = {0};
    const char *names[] = {"no_weekend",        "no_night",  "no_heavy_loads", "no_shift_work",
                           "no_public_contact", "no_travel", "no_outdoor",     "no_standing"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        assert_non_null(matcher_config_constraint(&cfg, names[i]));
    assert_int_equal(matcher_config_constraint(&cfg, "no_weekend")->n_codes, 3);
    /* §4: no_heavy_loads also rests on six manutention competences by default */
    const matcher_constraint *heavy = matcher_config_constraint(&cfg, "no_heavy_loads");
    assert_int_equal(heavy->n_codes, 1);
    assert_int_equal(heavy->codes[0], 300795);
    const uint32_t heavy_items[] = {300265, 400094, 100016, 119644, 400343, 484042};
    assert_int_equal(heavy->n_items, 6);
    for (size_t k = 0; k < 6; k++) {
        bool found = false;
        for (uint32_t j = 0; j < heavy->n_items; j++) found |= heavy->items[j] == heavy_items[k];
        assert_true(found);
    }
    /* the §5 defaults */
    assert_true(cfg.score_competences == 2.5 && cfg.score_related == 0.3 &&
                cfg.score_profile == 1.25);
    assert_true(cfg.kin_definition == 1.0 && cfg.kin_access == 0.15 && cfg.kin_titles == 0.5);
    assert_true(cfg.kin_tags == 0.15 && cfg.kin_macro == 0.4 && cfg.kin_parent == 0.25);
    assert_true(cfg.level_penalty == 0.25 && cfg.cadre_penalty == 0.05 && cfg.domain_boost == 3.0);
    assert_true(cfg.savoir_etre_factor == 0.0 && cfg.skills_savoir_etre == 0.5);
    assert_true(cfg.constraint_domain_share == 0.5 && cfg.recency_decay == 0.04 &&
                cfg.recency_floor == 0.5);
    assert_true(cfg.inferred_confidence == 0.6 && cfg.extra_weight == 0.5);
    assert_int_equal(cfg.evidence_places, 10);
    assert_int_equal(cfg.top, 20);

    const struct {
        const char *key, *value;
        size_t off;
        double want;
    } good[] = {
        {"score.related", "0.5", offsetof(matcher_config, score_related), 0.5},
        {"score.profile", "0", offsetof(matcher_config, score_profile), 0},
        {"kinship.definition", "10", offsetof(matcher_config, kin_definition), 10},
        {"kinship.access", "0.1", offsetof(matcher_config, kin_access), 0.1},
        {"kinship.titles", "2", offsetof(matcher_config, kin_titles), 2},
        {"kinship.tags", "0", offsetof(matcher_config, kin_tags), 0},
        {"kinship.macro", "0.3", offsetof(matcher_config, kin_macro), 0.3},
        {"kinship.parent", "1", offsetof(matcher_config, kin_parent), 1},
        {"level_penalty", "2", offsetof(matcher_config, level_penalty), 2},
        {"cadre_penalty", "1", offsetof(matcher_config, cadre_penalty), 1},
        {"constraint_domain_share", "1", offsetof(matcher_config, constraint_domain_share), 1},
        {"recency_decay", "0.1", offsetof(matcher_config, recency_decay), 0.1},
        {"recency_floor", "0", offsetof(matcher_config, recency_floor), 0},
        {"inferred_confidence", "1", offsetof(matcher_config, inferred_confidence), 1},
    };
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        matcher_config c = cfg;
        if (matcher_config_set(&c, good[i].key, good[i].value, &err)) fail_msg("%s", err.msg);
        assert_true(*(double *)((char *)&c + good[i].off) == good[i].want);
    }
    assert_int_equal(matcher_config_set(&cfg, "evidence_places", "0", &err), 0);
    assert_int_equal(cfg.evidence_places, 0);
    assert_int_equal(matcher_config_set(&cfg, "evidence_places", "200", &err), 0);
    assert_int_equal(matcher_config_set(&cfg, "top", " 7", &err), 0);
    assert_int_equal(cfg.top, 7);
    /* constraint.NAME.items replaces the items only; a new name is added */
    assert_int_equal(matcher_config_set(&cfg, "constraint.no_heavy_loads.items", "1, 2", &err), 0);
    heavy = matcher_config_constraint(&cfg, "no_heavy_loads");
    assert_int_equal(heavy->n_items, 2);
    assert_int_equal(heavy->n_codes, 1);
    assert_int_equal(matcher_config_set(&cfg, "constraint.no_heavy_loads", "300795,300783", &err),
                     0);
    assert_int_equal(matcher_config_constraint(&cfg, "no_heavy_loads")->n_items, 2);
    uint32_t before = cfg.n_constraints;
    assert_int_equal(matcher_config_set(&cfg, "constraint.no_cold.items", "403021", &err), 0);
    assert_int_equal(cfg.n_constraints, before + 1);
    assert_int_equal(matcher_config_constraint(&cfg, "no_cold")->n_codes, 0);

    const struct {
        const char *key, *value, *says;
    } bad[] = {
        {"weight.principale", "0", "weight.principale"}, /* must be > 0 */
        {"weight.other", "1.5", "weight.other"},
        {"domain_boost", "nan", "domain_boost"},
        {"domain_boost", "101", "domain_boost"},
        {"score.competences", "0", "score.competences"}, /* > 0 */
        {"score.related", "10.5", "score.related"},
        {"score.profile", "-1", "score.profile"},
        {"kinship.definition", "11", "kinship.definition"},
        {"kinship.parent", "x", "kinship.parent"},
        {"level_penalty", "-0.1", "level_penalty"},
        {"cadre_penalty", "1.01", "cadre_penalty"},
        {"constraint_domain_share", "0", "constraint_domain_share"}, /* (0, 1] */
        {"constraint_domain_share", "1.5", "constraint_domain_share"},
        {"inferred_confidence", "0", "inferred_confidence"},
        {"recency_floor", "2", "recency_floor"},
        {"evidence_places", "201", "evidence_places"},
        {"evidence_places", "-1", "evidence_places"},
        {"top", "0", "top"},
        {"top", "201", "top"},
        {"skills_asked", "3x", "skills_asked"},
        {"title.alternatives", "6", "title.alternatives"},
        {"macro_credit", "0.5", "unknown matching key"}, /* the old method's key is gone */
        {"constraint.", "1", "constraint name"},
        {"constraint.No-Weekend", "1", "constraint name"},
        {"constraint..items", "1", "constraint name"},
        {"constraint.x", "", "codes"},
        {"constraint.x.items", "", "codes"},
        {"constraint.x", "1,,2", "codes"},
        {"constraint.x.items", "-4", "codes"},
        {"constraint.x", "1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17", "at most 16"},
        {"constraint.x.items", "1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17", "at most 16"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        matcher_config copy = cfg;
        px_error_clear(&err);
        assert_int_equal(matcher_config_set(&copy, bad[i].key, bad[i].value, &err), -1);
        assert_int_equal(err.code, PX_ECONFIG);
        if (!strstr(err.msg, bad[i].says))
            fail_msg("%s=%s: \"%s\" lacks \"%s\"", bad[i].key, bad[i].value, err.msg, bad[i].says);
        assert_memory_equal(&copy, &cfg, sizeof cfg); /* a refused value changes nothing */
    }
    matcher_config full = matcher_config_default();
    char key[64];
    for (uint32_t i = full.n_constraints; i < MATCHER_MAX_CONSTRAINTS; i++) {
        snprintf(key, sizeof key, "constraint.c%u", i);
        assert_int_equal(matcher_config_set(&full, key, "1", &err), 0);
    }
    assert_int_equal(matcher_config_set(&full, "constraint.one_more", "1", &err), -1);
    assert_int_equal(matcher_config_set(&full, "constraint.one_more.items", "1", &err), -1);
}

/* matcher_config_write (used by `passerelled --check-config`) reads back to the same config,
 * items and constraints without contextes included. */
static void test_config_write_round_trip(void **state) {
    (void)state;
    matcher_config cfg = matcher_config_default();
    px_error err = {0};
    assert_int_equal(matcher_config_set(&cfg, "weight.emergente", "0.123456789012345678", &err), 0);
    assert_int_equal(matcher_config_set(&cfg, "kinship.titles", "0.1", &err), 0);
    assert_int_equal(
        matcher_config_set(&cfg, "constraint_domain_share", "0.3333333333333333", &err), 0);
    assert_int_equal(matcher_config_set(&cfg, "evidence_places", "3", &err), 0);
    assert_int_equal(matcher_config_set(&cfg, "constraint.no_cold", "403021, 300787", &err), 0);
    assert_int_equal(matcher_config_set(&cfg, "constraint.no_cold.items", "12", &err), 0);
    assert_int_equal(matcher_config_set(&cfg, "constraint.only_items.items", "7,8", &err), 0);
    char *text = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&text, &len);
    assert_non_null(out);
    matcher_config_write(&cfg, out);
    fclose(out);
    matcher_config back;
    memset(&back, 0, sizeof back);
    for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
        char *eq = strstr(line, " = ");
        assert_non_null(eq);
        *eq = '\0';
        if (matcher_config_set(&back, line, eq + 3, &err)) fail_msg("%s", err.msg);
    }
    free(text);
    assert_memory_equal(&back, &cfg, sizeof cfg);
}

/* §5: matcher_build() refuses a named constraint whose contexte code is not in the index. */
static void test_build_refuses_unknown_contextes(void **state) {
    fixture *f = *state;
    px_error err = {0};
    matcher_config cfg = matcher_config_default(); /* real ROME codes, not the fixture's */
    assert_null(matcher_build(f->idx, &cfg, &err));
    assert_int_equal(err.code, PX_ECONFIG);
    assert_non_null(strstr(err.msg, "constraint.no_"));
    cfg = fixture_config();
    assert_int_equal(matcher_config_set(&cfg, "constraint.no_cold", "23374, 424242", &err), 0);
    px_error_clear(&err);
    assert_null(matcher_build(f->idx, &cfg, &err));
    assert_non_null(strstr(err.msg, "constraint.no_cold"));
    assert_non_null(strstr(err.msg, "424242"));
    /* unknown item codes are ignored (fixture_config has 999999) */
    cfg = fixture_config();
    matcher *m = matcher_build(f->idx, &cfg, &err);
    assert_non_null(m);
    matcher_free(m);
}

static void test_build_refuses_too_many_items(void **state) {
    (void)state;
    rome_index huge;
    memset(&huge, 0, sizeof huge);
    huge.n.items = MATCHER_MAX_ITEMS + 1u;
    matcher_config cfg = matcher_config_default();
    cfg.n_constraints = 0;
    px_error err = {0};
    assert_null(matcher_build(&huge, &cfg, &err));
    assert_int_equal(err.code, PX_ECONFIG);
    assert_non_null(strstr(err.msg, "items"));
}

/* §6: each unknown code is refused with its field named (not found), each limit as a limit. */
static void test_unknown_codes_are_refused(void **state) {
    fixture *f = *state;
    add_appellation(&f->p, 999999);
    run_refused(f, "experiences[0].appellation", PX_ENOTFOUND);
    add_appellation(&f->p, 5001);
    add_rome(&f->p, "Z9999");
    run_refused(f, "experiences[1].rome", PX_ENOTFOUND);
    add_appellation(&f->p, 5001);
    push(&f->p.confirmed, 100001);
    push(&f->p.confirmed, 424242);
    run_refused(f, "confirmed[1]", PX_ENOTFOUND);
    add_appellation(&f->p, 5001);
    push(&f->p.rejected, 424242);
    run_refused(f, "rejected[0]", PX_ENOTFOUND);
    add_appellation(&f->p, 5001);
    push(&f->p.added, 424242);
    run_refused(f, "added[0]", PX_ENOTFOUND);
    add_appellation(&f->p, 5001);
    push(&f->p.avoid_contextes, 1);
    run_refused(f, "avoid: unknown contexte code 1", PX_ENOTFOUND);
    add_appellation(&f->p, 5001);
    push_s(&f->p.avoid_named, "no_mondays");
    run_refused(f, "no_mondays", PX_ENOTFOUND);
    add_appellation(&f->p, 5001);
    push_s(&f->p.domains, "Q");
    run_refused(f, "domains[0]", PX_ENOTFOUND);
    add_appellation(&f->p, 5001);
    push_s(&f->p.exclude_domains, "D1");
    run_refused(f, "exclude_domains[0]", PX_ENOTFOUND);
    for (uint32_t e = 0; e <= MATCHER_MAX_EXPERIENCES; e++) add_appellation(&f->p, 5001);
    run_refused(f, "experiences", PX_ELIMIT);
    add_appellation(&f->p, 5001);
    for (uint32_t k = 0; k <= MATCHER_MAX_AVOID; k++) push(&f->p.avoid_contextes, 23374);
    run_refused(f, "avoid", PX_ELIMIT);
    add_appellation(&f->p, 5001);
    for (uint32_t k = 0; k <= MATCHER_MAX_DOMAINS; k++) push_s(&f->p.domains, "D");
    run_refused(f, "domains", PX_ELIMIT);
    add_appellation(&f->p, 5001);
    for (uint32_t k = 0; k <= MATCHER_MAX_DECISIONS; k++) push(&f->p.confirmed, 100001);
    run_refused(f, "confirmed", PX_ELIMIT);
}

/* ---------- what is held, and the score ---------- */

static void test_cashier(void **state) {
    fixture *f = *state;
    char buf[256];
    add_appellation(&f->p, 5001); /* Caissier / Caissière de test → D1505 */
    run_ok(f);
    assert_true(f->r.experiences[0].resolved);
    assert_string_equal(code_of(f, f->r.experiences[0].fiche), "D1505");
    assert_int_equal(f->r.n_current, 1);
    assert_string_equal(code_of(f, f->r.current[0].fiche), "D1505");
    assert_null(job_for(f, "D1505"));
    /* D1106 lists 100002 and 200001, both held at inferred_confidence × ew = 0.6 */
    const match_job *seller = job_for(f, "D1106");
    assert_non_null(seller);
    assert_true(fabs(seller->components.competences - 0.6) < TOL);
    assert_string_equal(slice_codes(f, seller->held, buf, sizeof buf), "100002,200001");
    /* M1607: 100002 held; 100005 and 200003 missing, Principale first */
    const match_job *sec = job_for(f, "M1607");
    assert_string_equal(slice_codes(f, sec->held, buf, sizeof buf), "100002,100003");
    assert_string_equal(slice_codes(f, sec->missing, buf, sizeof buf), "100005,200003");
    assert_true(sec->components.related == 0); /* its missing items have no held macro */
    /* the chef caissier's items are all the cashier's: C = 0.6, and kinship through its parent */
    const match_job *chief = job_for(f, "D1507");
    assert_true(fabs(chief->components.competences - 0.6) < TOL);
    assert_true(chief->components.kinship > 0);
    assert_true(chief->components.profile > 0);
    /* the skills suggested: D1505's items, the specific Principale ones first */
    assert_true(f->r.n_skills >= 1);
    assert_int_equal(f->idx->items[f->r.skills[0].item].code_ogr, 100001);
}

static void test_decisions(void **state) {
    fixture *f = *state;
    char buf[256];
    add_appellation(&f->p, 5001);
    push(&f->p.confirmed, 200001);
    push(&f->p.confirmed, 100002);
    push(&f->p.added, 100005);
    run_ok(f);
    const match_job *seller = job_for(f, "D1106");
    assert_true(fabs(seller->components.competences - 1.0) < TOL); /* everything confirmed */
    for (size_t k = 0; k < f->r.n_skills; k++) {
        uint32_t c = f->idx->items[f->r.skills[k].item].code_ogr;
        assert_true(c != 200001 && c != 100002 && c != 100005); /* decided: not asked again */
    }
    const match_job *sec = job_for(f, "M1607");
    assert_string_equal(slice_codes(f, sec->held, buf, sizeof buf), "100002,100003,100005");
    assert_int_equal(sec->reasons[0].experience, -1); /* mostly the declared competences */
    profile_free(&f->p);

    /* a rejected competence counts for nothing, not even through its macro-compétence */
    add_appellation(&f->p, 5001);
    push(&f->p.rejected, 100002);
    run_ok(f);
    seller = job_for(f, "D1106");
    assert_string_equal(slice_codes(f, seller->held, buf, sizeof buf), "200001");
    assert_string_equal(slice_codes(f, seller->missing, buf, sizeof buf), "100002");
    assert_true(seller->components.related == 0);
    double w_100002 = 1.0 * log(10.0 / 5.0) / log(10.0),
           w_200001 = 0.4 * log(10.0 / 3.0) / log(10.0);
    assert_true(fabs(seller->components.competences - 0.6 * w_200001 / (w_100002 + w_200001)) <
                TOL);
    const match_job *aux = job_for(f, "K1301"); /* lists 100002 too */
    assert_non_null(aux);
    assert_false(slice_has(f, aux->held, 100002));
    profile_free(&f->p);

    /* an unrejected item under a held macro-compétence counts in R */
    add_appellation(&f->p, 5010); /* carreleur: 100008, 100006 (macro 300002) */
    run_ok(f);
    const match_job *mason = job_for(f, "F1703");
    assert_true(mason->components.related == 0); /* 100009 has no macro */
    assert_true(mason->components.competences > 0);
}

/* §3: qualifications are held only when confirmed or added, never because a job lists them. */
static void test_qualifications_never_inferred(void **state) {
    fixture *f = *state;
    add_appellation(&f->p, 5002); /* aide-soignant: J1501 lists the diploma 200002 */
    run_ok(f);
    assert_true(f->want.held[rome_item_find(f->idx, 200002)] == 0);
    const match_job *nurse = job_for(f, "J1502"); /* lists 200002 and 200004 */
    assert_non_null(nurse); /* open: the person works under J1501, which lists 200002 */
    assert_false(nurse->flags & MATCH_JOB_QUALIFICATION_GAP);
    assert_false(slice_has(f, nurse->held, 200002));
    assert_true(slice_has(f, nurse->qualifications, 200002));
    assert_true(slice_has(f, nurse->qualifications, 200004));
    bool asked = false; /* the diploma is asked about, like any other item */
    for (size_t k = 0; k < f->r.n_skills; k++)
        asked |= f->idx->items[f->r.skills[k].item].code_ogr == 200002;
    assert_true(asked);
    double c_before = nurse->components.competences;
    push(&f->p.confirmed, 200002);
    run_ok(f);
    nurse = job_for(f, "J1502");
    assert_true(slice_has(f, nurse->held, 200002));
    assert_false(slice_has(f, nurse->qualifications, 200002));
    assert_true(nurse->components.competences > c_before);
}

/* §1: ew = confidence × d(months) × r(end_year) × extra; D1106's C is 0.6 × ew for a cashier. */
static void test_duration_and_recency(void **state) {
    fixture *f = *state;
    const struct {
        int32_t months, end_year, as_of;
        bool extra;
        double ew;
    } cases[] = {
        {-1, -1, 2024, false, 1.0},
        {0, -1, 0, false, 0.5},
        {24, -1, 0, false, 0.5 + 0.5 * log(25.0) / log(121.0)}, /* 0.84 at two years */
        {120, -1, 0, false, 1.0},
        {400, -1, 0, false, 1.0},
        {-1, 2022, 2024, false, 1.0}, /* ended two years ago: recent */
        {-1, 2021, 2024, false, 0.96},
        {-1, 2014, 2024, false, 0.68}, /* ten years ago */
        {-1, 2000, 2024, false, 0.5},  /* floor */
        {-1, 2000, 0, false, 1.0},     /* no ts: recent */
        {-1, -1, 2024, true, 0.5},     /* extra */
        {60, 2014, 2024, true, (0.5 + 0.5 * log(61.0) / log(121.0)) * 0.68 * 0.5},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        profile_experience *x = add_appellation(&f->p, 5001);
        x->months = cases[c].months;
        x->end_year = cases[c].end_year;
        x->extra = cases[c].extra;
        f->p.as_of_year = cases[c].as_of;
        /* a job with nothing in common with D1106, so that the person has a diploma level (the
         * cadre factor for people without one: test_cadre_penalty_without_level) */
        if (x->extra) add_appellation(&f->p, 5009);
        run_ok(f);
        const match_job *seller = job_for(f, "D1106");
        assert_non_null(seller);
        if (fabs(seller->components.competences - 0.6 * cases[c].ew) > TOL)
            fail_msg("case %zu: C %.6f, want 0.6 × %.6f", c, seller->components.competences,
                     cases[c].ew);
        /* an extra experience's fiche may be suggested; a job's is not */
        assert_int_equal(job_for(f, "D1505") != NULL, cases[c].extra);
        profile_free(&f->p);
    }
}

/* §3 "Level": 3 CAP … 8 doctorat; a job two levels or more above loses level_penalty a level
 * beyond the first; a cadre job for a non-cadre keeps 1 − cadre_penalty. */
static void test_level_penalty(void **state) {
    fixture *f = *state;
    const struct {
        const char *rome;
        int level;
    } levels[] = {
        {"D1505", 3}, {"D1106", 3}, {"D1507", 5}, {"J1501", 3}, {"J1502", 6},
        {"J1101", 8}, {"M1607", 4}, {"F1703", 3}, {"F1704", 3}, {"K1301", 0},
    };
    for (size_t k = 0; k < sizeof levels / sizeof levels[0]; k++)
        assert_int_equal(ref_fiche_level(f->ref, rome_fiche_find(f->idx, levels[k].rome)),
                         levels[k].level);
    add_appellation(&f->p, 5005); /* secrétaire, level 4 (Bac), not cadre */
    f->p.include_regulated = true;
    run_ok(f);
    assert_int_equal(must_job(f, "J1101")->level, 8);
    double lp = f->cfg.level_penalty, kept = 1.0 - f->cfg.cadre_penalty;
    assert_true(fabs(must_job(f, "J1101")->components.level - kept / (1 + lp * 3)) <
                TOL); /* gap 4, cadre */
    assert_true(fabs(must_job(f, "J1502")->components.level - 1 / (1 + lp)) < TOL); /* gap 2 */
    assert_true(fabs(must_job(f, "D1507")->components.level - 1.0) < TOL);          /* gap 1 */
    assert_true(fabs(must_job(f, "D1106")->components.level - kept) < TOL);         /* cadre */
    const match_job *doctor = job_for(f, "J1101");
    double mean = (doctor->components.competences + 0.3 * doctor->components.related +
                   doctor->components.profile + 1.9 * doctor->components.kinship) /
                  4.2;
    assert_true(fabs(doctor->score - doctor->components.level * mean) < TOL);
    profile_free(&f->p);
    /* a cadre appellation makes the person cadre */
    add_appellation(&f->p, 5013); /* Responsable de caisse (cadre) in D1505 */
    run_ok(f);
    assert_true(fabs(must_job(f, "D1106")->components.level - 1.0) < TOL);
    profile_free(&f->p);
    /* an extra experience does not raise the person's level: J1502 stays 3 levels above */
    add_appellation(&f->p, 5001);
    add_appellation(&f->p, 5005)->extra = true;
    f->p.include_regulated = true;
    run_ok(f);
    assert_true(fabs(must_job(f, "J1502")->components.level - 1 / (1 + 2 * f->cfg.level_penalty)) <
                TOL);
}

/* §3: the cadre factor is about cadre status, not diplomas: someone whose own fiche names no
 * level (K1301, taken as CAP) is still not cadre, so a cadre job keeps 1 − cadre_penalty on top
 * of its diploma gap from level 3. */
static void test_cadre_penalty_without_level(void **state) {
    fixture *f = *state;
    add_appellation(&f->p, 5011); /* auxiliaire de vie, K1301: level 0, not cadre */
    f->p.include_regulated = true;
    px_error err = {0};
    assert_int_equal(matcher_run(f->m, f->s, &f->p, &f->r, &err), 0);
    const match_job *doctor = job_for(f, "J1101"); /* cadre, shares 100004 */
    assert_non_null(doctor);
    int gap = ref_fiche_level(f->ref, doctor->fiche) - 3;
    double want = (gap > 1 ? 1.0 / (1.0 + f->cfg.level_penalty * (gap - 1)) : 1.0) *
                  (1.0 - f->cfg.cadre_penalty);
    if (fabs(doctor->components.level - want) > TOL)
        fail_msg("J1101 (cadre) for a non-cadre of unknown level: level factor %.4f, want %.4f",
                 doctor->components.level, want);
    check_against_reference(f);
    profile_free(&f->p);
    add_appellation(&f->p, 5001)->extra = true; /* only volunteering: not cadre either */
    assert_int_equal(matcher_run(f->m, f->s, &f->p, &f->r, &err), 0);
    if (fabs(must_job(f, "D1106")->components.level - (1.0 - f->cfg.cadre_penalty)) > TOL)
        fail_msg(
            "D1106 (cadre) for someone with an extra experience only: level factor %.4f, want %.4f",
            must_job(f, "D1106")->components.level, 1.0 - f->cfg.cadre_penalty);
}

/* §3: "Bac+N read as such": Bac + 11 (a medical speciality) is beyond Bac+8, level 8. */
static void test_level_bac_plus_two_digits(void **state) {
    (void)state;
    rome_index *idx =
        load_fixture("\"K1301\",\"4\",\"acces_metier\",\"1\",\"Accessible avec un Bac + 11 "
                     "(fixture).\"\n");
    assert_non_null(idx);
    matcher_config cfg = fixture_config();
    px_error err = {0};
    matcher *m = matcher_build(idx, &cfg, &err);
    matcher_scratch *s = matcher_scratch_new(m, &err);
    ref_scorer *ref = ref_scorer_new(idx, &cfg);
    assert_non_null(s);
    assert_int_equal(ref_fiche_level(ref, rome_fiche_find(idx, "K1301")), 8);
    profile p = {0};
    match_result r = {0};
    add_appellation(&p, 5001);
    p.include_regulated = true;
    assert_int_equal(matcher_run(m, s, &p, &r, &err), 0);
    int level = -1;
    for (size_t j = 0; j < r.n_jobs; j++)
        if (!strcmp(idx->fiches[r.jobs[j].fiche].code, "K1301")) level = r.jobs[j].level;
    profile_free(&p);
    match_result_free(&r);
    ref_scorer_free(ref);
    matcher_scratch_free(s);
    matcher_free(m);
    rome_index_free(idx);
    if (level != 8) fail_msg("\"Bac + 11\" read as level %d, want 8", level);
}

/* ---------- selection ---------- */

/* §3: a regulated fiche listing qualifications, none held nor practised, is held back and
 * counted; include_regulated lists it flagged; a regulated fiche without qualification is open. */
static void test_regulated_gap(void **state) {
    fixture *f = *state;
    add_appellation(&f->p, 5001); /* cashier */
    push(&f->p.added, 100004);    /* who has watched over patients: evidence for J and K1301 */
    run_ok(f);
    assert_null(job_for(f, "J1501"));
    assert_null(job_for(f, "J1502"));
    assert_null(job_for(f, "J1101"));
    assert_non_null(job_for(f, "K1301")); /* regulated, no qualification: stays open */
    assert_false(must_job(f, "K1301")->flags & MATCH_JOB_QUALIFICATION_GAP);
    assert_true(must_job(f, "K1301")->flags & MATCH_JOB_REGULATED);
    assert_int_equal(f->r.removed_regulated, 3); /* J1501, J1502, J1101 */
    assert_int_equal(f->r.regulated_n, 3);
    for (uint32_t k = 0; k < f->r.regulated_n; k++)
        assert_int_equal(f->r.removals[f->r.regulated_off + k].evidence, MATCH_EVIDENCE_NONE);

    f->p.include_regulated = true;
    run_ok(f);
    const match_job *care = must_job(f, "J1501");
    assert_true(care->flags & MATCH_JOB_QUALIFICATION_GAP);
    assert_true(care->flags & MATCH_JOB_REGULATED);
    assert_true(slice_has(f, care->qualifications, 200002));
    assert_true(must_job(f, "J1101")->flags & MATCH_JOB_QUALIFICATION_GAP);
    assert_int_equal(f->r.removed_regulated, 0); /* listed, so not held back */

    /* the diploma confirmed opens J1501 and J1502 (which accepts it too), not J1101 */
    f->p.include_regulated = false;
    push(&f->p.confirmed, 200002);
    run_ok(f);
    assert_false(must_job(f, "J1501")->flags & MATCH_JOB_QUALIFICATION_GAP);
    assert_false(must_job(f, "J1502")->flags & MATCH_JOB_QUALIFICATION_GAP);
    assert_null(job_for(f, "J1101"));
    assert_int_equal(f->r.removed_regulated, 1);
    profile_free(&f->p);

    /* an extra experience's fiche listing it does not: volunteering is not practising */
    add_appellation(&f->p, 5001);
    add_appellation(&f->p, 5002)->extra = true;
    run_ok(f);
    assert_null(job_for(f, "J1502"));
    profile_free(&f->p);
    add_appellation(&f->p, 5001);
    add_appellation(&f->p, 5002); /* a job under J1501: J1502 needs 200002 too */
    run_ok(f);
    assert_non_null(job_for(f, "J1502"));
    assert_null(job_for(f, "J1101")); /* 200005 is neither held nor practised */
}

/* §3's weighted mean of a reference fiche's components, from the configuration's weights. */
static double weighted_mean(const matcher_config *c, const ref_fiche *r) {
    double a_k = c->kin_definition + c->kin_access + c->kin_titles + c->kin_tags + c->kin_macro +
                 c->kin_parent;
    return (c->score_competences * r->c + c->score_related * r->r + c->score_profile * r->p +
            a_k * r->k) /
           (c->score_competences + c->score_related + c->score_profile + a_k);
}

/* §4: each evidence kind with its `because`, strongest first. */
static void test_constraint_evidence(void **state) {
    fixture *f = *state;
    add_appellation(&f->p, 5005); /* secrétaire: evidence for D1106, D1507 (100002) */
    push_s(&f->p.avoid_named, "no_weekend");
    run_ok(f);
    assert_null(job_for(f, "D1106"));
    assert_null(job_for(f, "D1507"));
    const ref_fiche *seller = &f->want.fiches[rome_fiche_find(f->idx, "D1106")];
    const ref_fiche *chief = &f->want.fiches[rome_fiche_find(f->idx, "D1507")];
    assert_int_equal(seller->because[0], MATCH_EVIDENCE_CONTEXTE);
    assert_int_equal(seller->because_code[0], 23374);
    assert_int_equal(chief->because[0], MATCH_EVIDENCE_PARENT); /* D1505 works on Saturdays */
    assert_int_equal(chief->because_code[0], rome_fiche_find(f->idx, "D1505"));
    assert_int_equal(f->r.constraints[0].removed, 3); /* D1106, D1507 and D1505 itself */
    profile_free(&f->p);

    add_appellation(&f->p, 5002); /* aide-soignant */
    push_s(&f->p.avoid_named, "no_night");
    f->p.include_regulated = true; /* J1101 needs a diploma they lack */
    run_ok(f);
    assert_null(job_for(f, "J1502"));
    const ref_fiche *nurse = &f->want.fiches[rome_fiche_find(f->idx, "J1502")];
    assert_int_equal(nurse->because[0], MATCH_EVIDENCE_DOMAIN); /* half of J15 works nights */
    assert_int_equal(nurse->because_code[0],
                     f->idx->fiches[rome_fiche_find(f->idx, "J1502")].domaine);
    assert_non_null(job_for(f, "J1101")); /* J11 does not */
    profile_free(&f->p);

    add_appellation(&f->p, 5010); /* carreleur */
    push_s(&f->p.avoid_named, "no_heavy_loads");
    run_ok(f);
    assert_null(job_for(f, "F1703"));
    const ref_fiche *mason = &f->want.fiches[rome_fiche_find(f->idx, "F1703")];
    assert_int_equal(mason->because[0], MATCH_EVIDENCE_COMPETENCE); /* before the domain */
    assert_int_equal(mason->because_code[0], 100006);
    profile_free(&f->p);

    /* a contexte code removes only the fiches ROME lists it for */
    add_appellation(&f->p, 5005);
    push(&f->p.avoid_contextes, 23374);
    run_ok(f);
    assert_null(job_for(f, "D1106"));
    assert_non_null(job_for(f, "D1507"));
    profile_free(&f->p);

    /* excluded and preferred domains */
    add_appellation(&f->p, 5001);
    push_s(&f->p.exclude_domains, "M16");
    push_s(&f->p.exclude_domains, "F");
    run_ok(f);
    assert_null(job_for(f, "M1607"));
    assert_true(f->r.removed_by_domain >= 1);
    profile_free(&f->p);
    add_appellation(&f->p, 5001);
    push_s(&f->p.domains, "K");
    run_ok(f);
    const ref_fiche *aux = &f->want.fiches[rome_fiche_find(f->idx, "K1301")];
    const ref_fiche *chef = &f->want.fiches[rome_fiche_find(f->idx, "D1507")];
    double mean = weighted_mean(&f->cfg, chef);
    assert_true(fabs(chef->score - chef->level * mean / 4.0) < 1e-12); /* outside: ÷ (1 + 3) */
    mean = weighted_mean(&f->cfg, aux);
    assert_true(fabs(aux->score - aux->level * mean) < 1e-12);
    assert_int_equal(place_of(f, "K1301"), 0);
}

/* §4: "each removal says which [evidence]": of the entry it is listed under. D1106 lists both
 * 403020 (public) and 23374 (samedi): under no_weekend it is removed because of 23374. */
static void test_removal_evidence_per_entry(void **state) {
    fixture *f = *state;
    add_appellation(&f->p, 5005);
    push(&f->p.avoid_contextes, 403020);
    push_s(&f->p.avoid_named, "no_weekend");
    px_error err = {0};
    assert_int_equal(matcher_run(f->m, f->s, &f->p, &f->r, &err), 0);
    const match_constraint_cost *we = &f->r.constraints[1];
    assert_int_equal(we->named, 0);
    for (uint32_t k = 0; k < we->n; k++) {
        const match_removal *rm = &f->r.removals[we->off + k];
        if (strcmp(code_of(f, rm->fiche), "D1106")) continue;
        if (rm->evidence != MATCH_EVIDENCE_CONTEXTE || rm->code != 23374)
            fail_msg("no_weekend removes D1106 because %u/%u (403020 is the other entry's), "
                     "want contexte 23374",
                     rm->evidence, rm->code);
    }
    check_against_reference(f);
}

/* §4: what the constraints cost does not depend on `top`. */
static void test_counterfactual_independent_of_top(void **state) {
    fixture *f = *state;
    matcher_config cfg = f->cfg;
    cfg.top = 1;
    px_error err = {0};
    matcher *one = matcher_build(f->idx, &cfg, &err);
    matcher_scratch *s = matcher_scratch_new(one, &err);
    assert_non_null(s);
    add_appellation(&f->p, 5005);
    push(&f->p.added, 100004);
    push_s(&f->p.avoid_named, "no_weekend");
    push(&f->p.avoid_contextes, 300803);
    push_s(&f->p.exclude_domains, "K");
    run_ok(f);
    match_result r1 = {0};
    assert_int_equal(matcher_run(one, s, &f->p, &r1, &err), 0);
    /* one place, reserved to evidence: the best job with evidence, or none (§3) */
    assert_int_equal(r1.n_jobs, f->r.n_jobs ? 1 : 0);
    if (r1.n_jobs) assert_int_equal(r1.jobs[0].fiche, f->r.jobs[0].fiche);
    assert_int_equal(r1.n_constraints, f->r.n_constraints);
    for (size_t a = 0; a < r1.n_constraints; a++) {
        assert_int_equal(r1.constraints[a].removed, f->r.constraints[a].removed);
        assert_int_equal(r1.constraints[a].n, f->r.constraints[a].n);
        for (uint32_t k = 0; k < r1.constraints[a].n; k++)
            assert_int_equal(r1.removals[r1.constraints[a].off + k].fiche,
                             f->r.removals[f->r.constraints[a].off + k].fiche);
    }
    assert_int_equal(r1.removed_by_domain, f->r.removed_by_domain);
    assert_int_equal(r1.removed_regulated, f->r.removed_regulated);
    assert_int_equal(f->r.constraints[0].removed, 1); /* 300803: J1501 */
    assert_int_equal(f->r.constraints[1].removed, 3); /* no_weekend: D1106, D1507, D1505 */
    assert_int_equal(f->r.removed_by_domain, 1);      /* K1301 */
    match_result_free(&r1);
    matcher_scratch_free(s);
    matcher_free(one);
}

/* §3: no job without evidence (a non-macro savoir-faire or a savoir held) in the first
 * evidence_places places; after them the best of the rest. */
static void test_evidence_rule(void **state) {
    fixture *f = *state;
    add_appellation(&f->p, 5009); /* maçon: 100009, 100006, 100003 */
    push(&f->p.added, 300001);    /* a macro-compétence alone is no evidence */
    run_ok(f);
    size_t with = 0, without = 0, first_without = SIZE_MAX;
    for (size_t j = 0; j < f->r.n_jobs; j++) {
        bool ev = !(f->r.jobs[j].flags & MATCH_JOB_NO_EVIDENCE);
        if (!ev && first_without == SIZE_MAX) first_without = j;
        if (ev) assert_true(first_without == SIZE_MAX || j >= f->cfg.evidence_places);
        with += ev;
        without += !ev;
    }
    assert_true(with >= 1 && without >= 1);
    /* D1106 holds 300001's credit only: no evidence */
    const match_job *seller = job_for(f, "D1106");
    assert_non_null(seller);
    assert_true(seller->flags & MATCH_JOB_NO_EVIDENCE);
    /* the only evidence job, F1704 (100006 held), comes first though D1505 (300001's credit, the
     * savoir-être 100003 and kinship) scores higher; without reserved places D1505 leads */
    assert_int_equal(place_of(f, "F1704"), 0);
    assert_int_equal(place_of(f, "D1505"), 1);
    assert_true(must_job(f, "D1505")->score > must_job(f, "F1704")->score);
    matcher_config cfg = f->cfg;
    cfg.evidence_places = 0;
    px_error err = {0};
    matcher *m1 = matcher_build(f->idx, &cfg, &err);
    matcher_scratch *s1 = matcher_scratch_new(m1, &err);
    ref_scorer *ref1 = ref_scorer_new(f->idx, &cfg);
    match_result r1 = {0};
    ref_result w1 = {0};
    assert_int_equal(matcher_run(m1, s1, &f->p, &r1, &err), 0);
    assert_int_equal(ref_score(ref1, &f->p, r1.experiences, &w1), 0);
    assert_int_equal(r1.n_jobs, w1.n_jobs);
    for (size_t j = 0; j < r1.n_jobs; j++) assert_int_equal(r1.jobs[j].fiche, w1.jobs[j]);
    assert_string_equal(f->idx->fiches[r1.jobs[0].fiche].code, "D1505");
    /* more reserved places than jobs with evidence: the list is those jobs alone (§3) */
    matcher_config three = f->cfg;
    three.evidence_places = 3;
    matcher *m3 = matcher_build(f->idx, &three, &err);
    matcher_scratch *s3 = matcher_scratch_new(m3, &err);
    match_result r3 = {0};
    assert_int_equal(matcher_run(m3, s3, &f->p, &r3, &err), 0);
    assert_int_equal(r3.n_jobs, 1);
    assert_string_equal(f->idx->fiches[r3.jobs[0].fiche].code, "F1704");
    match_result_free(&r3);
    matcher_scratch_free(s3);
    matcher_free(m3);
    for (size_t j = 1; j < r1.n_jobs; j++) assert_true(r1.jobs[j].score <= r1.jobs[j - 1].score);
    ref_result_free(&w1);
    ref_scorer_free(ref1);
    match_result_free(&r1);
    matcher_scratch_free(s1);
    matcher_free(m1);
}

/* Every fixture profile of many shapes against the reference (decisions, extras, durations,
 * recency, constraints, domains, regulation, titles). */
static void test_reference_profiles(void **state) {
    fixture *f = *state;
    const uint32_t apps[] = {5001, 5002, 5003, 5004, 5005, 5006,
                             5007, 5008, 5009, 5010, 5012, 5013};
    const char *const named[] = {"no_weekend", "no_night", "no_heavy_loads"};
    const char *const doms[] = {"D", "J15", "M", "F17", "K"};
    uint64_t seed = 0x9E3779B97F4A7C15ULL;
    for (int n = 0; n < 300; n++) {
        seed ^= seed << 13, seed ^= seed >> 7, seed ^= seed << 17;
        uint64_t r = seed;
        uint32_t n_exp = 1 + (uint32_t)(r % 3);
        r /= 3;
        for (uint32_t e = 0; e < n_exp; e++) {
            profile_experience *x = add_appellation(&f->p, apps[r % 12]);
            r /= 12;
            if (r % 3 == 0) x->months = (int32_t)(r % 150);
            if (r % 5 == 0) x->end_year = 2000 + (int32_t)(r % 25);
            x->extra = e > 0 && r % 7 == 0; /* extra-only: test_cadre_penalty_without_level */
            r /= 7;
        }
        f->p.as_of_year = r % 2 ? 2024 : 0;
        static const uint32_t items[] = {100001, 100002, 300001, 100003, 100004, 100005, 100006,
                                         100007, 100008, 200001, 200002, 200004, 200005, 300002};
        if (r % 3 == 0) push(&f->p.confirmed, items[(r / 3) % 14]);
        if (r % 5 == 0) push(&f->p.rejected, items[(r / 5) % 14]);
        if (r % 7 == 0) push(&f->p.added, items[(r / 7) % 14]);
        r /= 11;
        /* one avoid entry at most: several are test_removal_evidence_per_entry's */
        if (r % 3 == 0)
            push_s(&f->p.avoid_named, named[(r / 3) % 3]);
        else if (r % 5 == 0)
            push(&f->p.avoid_contextes, r % 2 ? 403020 : 300795);
        if (r % 7 == 0) push_s(&f->p.domains, doms[(r / 7) % 5]);
        if (r % 11 == 0) push_s(&f->p.exclude_domains, doms[(r / 11) % 5]);
        f->p.include_regulated = r % 4 == 0;
        run_ok(f);
        profile_free(&f->p);
    }
    add_title(&f->p, "caissiere");
    add_title(&f->p, "chef caissier");
    run_ok(f);
}

/* ---------- titles, codec, reuse ---------- */

static void test_titles_in_a_profile(void **state) {
    fixture *f = *state;
    add_title(&f->p, "CAISSIÈRES");
    add_title(&f->p, "plombier zingueur"); /* no word in common with any appellation */
    char long_title[TITLE_MAX_BYTES + 2];
    memset(long_title, 'a', sizeof long_title - 1);
    long_title[sizeof long_title - 1] = '\0';
    add_title(&f->p, long_title);
    run_ok(f);
    assert_true(f->r.experiences[0].resolved);
    assert_int_equal(f->idx->appellations[f->r.experiences[0].appellation].code_ogr, 5001);
    assert_false(f->r.experiences[1].resolved);
    assert_non_null(strstr(f->r.experiences[1].error, "no appellation"));
    assert_false(f->r.experiences[2].resolved);
    assert_non_null(strstr(f->r.experiences[2].error, "at most 256"));
    assert_true(f->r.n_jobs > 0); /* the resolved experience is still matched */
}

static void test_title_resolver(void **state) {
    fixture *f = *state;
    px_error err = {0};
    title_resolver *tr = title_resolver_build(f->idx, &err);
    title_scratch *ts = title_scratch_new(tr, &err);
    assert_non_null(ts);
    const struct {
        const char *title;
        uint32_t want;
    } cases[] = {
        {"Caissière", 5001},
        {"caissiers de test", 5001},
        {"Secretaire administrative", 5005},
        {"administrative, secrétaire", 5005},
        {"aide soignante de nuit", 5006},
        {"aide-soigante nuit", 5006},
        {"VENDEUSE", 5004},
        {"hotesse caisse", 5003},
        {"chef caissière", 5007},
        {"maçonne", 5009},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        title_match out[3];
        int n = title_resolve(tr, ts, cases[i].title, out, 3, &err);
        if (n < 1) fail_msg("\"%s\": nothing found", cases[i].title);
        if (f->idx->appellations[out[0].appellation].code_ogr != cases[i].want)
            fail_msg("\"%s\": got %u, want %u", cases[i].title,
                     f->idx->appellations[out[0].appellation].code_ogr, cases[i].want);
        for (int k = 1; k < n; k++) assert_true(out[k].confidence <= out[k - 1].confidence);
    }
    title_scratch_free(ts);
    title_resolver_free(tr);
}

/* The kinship words of §3: lower case, accents removed, 7 letters, 3+ letters, no stop word. */
static void test_kinship_stems(void **state) {
    (void)state;
    char out[256];
    ref_stems("Manutentionne les MANUTENTIONS d''un Entrepôt", out, sizeof out);
    assert_string_equal(out, "manuten manuten entrepo");
    ref_stems("Œuvres, été : caisses", out, sizeof out);
    assert_string_equal(out, "oeuvre ete caisse");
}

static void encode(const fixture *f, msgpack_sbuffer *buf) {
    msgpack_packer pk;
    msgpack_sbuffer_init(buf);
    msgpack_packer_init(&pk, buf, msgpack_sbuffer_write);
    assert_int_equal(suggestion_encode_match(&pk, "u", "4.0-61", f->m, &f->r, NULL), 0);
}

/* The same input gives the same bytes, whatever ran before on the scratch and the result. */
static void test_determinism(void **state) {
    fixture *f = *state;
    add_appellation(&f->p, 5001);
    add_appellation(&f->p, 5010)->months = 30;
    push_s(&f->p.avoid_named, "no_night");
    push(&f->p.confirmed, 100006);
    msgpack_sbuffer a, b;
    run_ok(f);
    encode(f, &a);
    profile other = {0};
    add_appellation(&other, 5012);
    match_result scratch_run = {0};
    assert_int_equal(matcher_run(f->m, f->s, &other, &scratch_run, NULL), 0);
    profile_free(&other);
    match_result_free(&scratch_run);
    run_ok(f);
    encode(f, &b);
    assert_int_equal(a.size, b.size);
    assert_memory_equal(a.data, b.data, a.size);
    msgpack_sbuffer_destroy(&a);
    msgpack_sbuffer_destroy(&b);
}

/* A result reused for a smaller profile holds nothing of the previous one. */
static void test_result_reuse(void **state) {
    fixture *f = *state;
    add_appellation(&f->p, 5001);
    add_appellation(&f->p, 5002);
    push_s(&f->p.avoid_named, "no_night");
    push_s(&f->p.exclude_domains, "M");
    f->p.include_regulated = true;
    run_ok(f);
    assert_int_equal(f->r.n_current, 2);
    profile_free(&f->p);
    add_appellation(&f->p, 5005);
    run_ok(f);
    assert_int_equal(f->r.n_experiences, 1);
    assert_int_equal(f->r.n_current, 1);
    assert_int_equal(f->r.n_constraints, 0);
    assert_int_equal(f->r.removed_by_domain, 0);
    assert_string_equal(code_of(f, f->r.current[0].fiche), "M1607");
    for (size_t k = 0; k < f->r.n_skills; k++) assert_int_equal(f->r.skills[k].from, 1u);
    for (size_t j = 0; j < f->r.n_jobs; j++)
        assert_false(f->r.jobs[j].flags & MATCH_JOB_QUALIFICATION_GAP);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_config_set),
        cmocka_unit_test(test_config_write_round_trip),
        cmocka_unit_test_setup_teardown(test_build_refuses_unknown_contextes, setup, teardown),
        cmocka_unit_test(test_build_refuses_too_many_items),
        cmocka_unit_test_setup_teardown(test_unknown_codes_are_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cashier, setup, teardown),
        cmocka_unit_test_setup_teardown(test_decisions, setup, teardown),
        cmocka_unit_test_setup_teardown(test_qualifications_never_inferred, setup, teardown),
        cmocka_unit_test_setup_teardown(test_duration_and_recency, setup, teardown),
        cmocka_unit_test_setup_teardown(test_level_penalty, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cadre_penalty_without_level, setup, teardown),
        cmocka_unit_test(test_level_bac_plus_two_digits),
        cmocka_unit_test_setup_teardown(test_regulated_gap, setup, teardown),
        cmocka_unit_test_setup_teardown(test_constraint_evidence, setup, teardown),
        cmocka_unit_test_setup_teardown(test_removal_evidence_per_entry, setup, teardown),
        cmocka_unit_test_setup_teardown(test_counterfactual_independent_of_top, setup, teardown),
        cmocka_unit_test_setup_teardown(test_evidence_rule, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reference_profiles, setup, teardown),
        cmocka_unit_test_setup_teardown(test_titles_in_a_profile, setup, teardown),
        cmocka_unit_test_setup_teardown(test_title_resolver, setup, teardown),
        cmocka_unit_test(test_kinship_stems),
        cmocka_unit_test_setup_teardown(test_determinism, setup, teardown),
        cmocka_unit_test_setup_teardown(test_result_reuse, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
