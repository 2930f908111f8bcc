/* Unit tests of the matcher, the title resolver and the suggestion codec on a hand-written fixture
 * (tests/fixtures/matcher: four invented fiches in the official CSV schema).
 *
 * Fixture, by fiche (P = Principale, E = Émergente, SE = savoir-être, Q = qualification):
 *   D1106 Vendeur     100002 P, 200001                      contexts samedi, public
 *   D1505 Caissier    100001 P, 100002, 300001 P (macro), 100003 SE, 200001 E   samedi, public
 *   J1501 Soignant    100004 P, 100003 SE, 200002 Q         nuit
 *   M1607 Secrétaire  100002, 100005 P, 100003 SE, 200003   public
 * 100001 and 100002 belong to macro-compétence 300001. Expected values below follow from the
 * formulas of docs/matching.md with the default weights. */
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
#include "rome_fixture.h"
#include "rome_load.h"
#include "suggestion_codec.h"
#include "title_resolver.h"

#ifndef FIXTURE_DIR
#error "FIXTURE_DIR must point to tests/fixtures/matcher"
#endif

typedef struct fixture {
    rome_index *idx;
    matcher *m;
    matcher_scratch *s;
    match_result r;
    profile p;
} fixture;

/* The default configuration with constraints that exist in the fixture. */
static matcher_config fixture_config(void) {
    matcher_config cfg = matcher_config_default();
    cfg.n_constraints = 0;
    assert_int_equal(matcher_config_set(&cfg, "constraint.no_weekend", "23374", NULL), 0);
    assert_int_equal(matcher_config_set(&cfg, "constraint.no_night", "300803", NULL), 0);
    return cfg;
}

static int setup(void **state) {
    fixture *f = calloc(1, sizeof *f);
    char dir[512];
    px_error err = {0, ""};
    if (!f || rome_fixture_make(FIXTURE_DIR, dir, sizeof dir)) return -1;
    f->idx = rome_load_csv(dir, NULL, &err);
    rome_fixture_remove(dir);
    if (!f->idx) {
        fprintf(stderr, "fixture: %s\n", err.msg);
        return -1;
    }
    matcher_config cfg = fixture_config();
    f->m = matcher_build(f->idx, &cfg, &err);
    f->s = f->m ? matcher_scratch_new(f->m, &err) : NULL;
    if (!f->s) return -1;
    *state = f;
    return 0;
}

static int teardown(void **state) {
    fixture *f = *state;
    profile_free(&f->p);
    match_result_free(&f->r);
    matcher_scratch_free(f->s);
    matcher_free(f->m);
    rome_index_free(f->idx);
    free(f);
    return 0;
}

static void add_appellation(profile *p, uint32_t code) {
    profile_experience *x = profile_add_experience(p, NULL);
    assert_non_null(x);
    x->kind = PROFILE_EXP_APPELLATION;
    x->appellation = code;
}

static void add_title(profile *p, const char *title) {
    profile_experience *x = profile_add_experience(p, NULL);
    assert_non_null(x);
    x->kind = PROFILE_EXP_TITLE;
    x->title = strdup(title);
    assert_non_null(x->title);
}

static void run_ok(fixture *f) {
    px_error err = {0, ""};
    int rc = matcher_run(f->m, f->s, &f->p, &f->r, &err);
    if (rc) fprintf(stderr, "matcher_run: %s\n", err.msg);
    assert_int_equal(rc, 0);
}

static void run_refused(fixture *f, const char *field) {
    px_error err = {0, ""};
    assert_int_equal(matcher_run(f->m, f->s, &f->p, &f->r, &err), -1);
    assert_int_equal(err.code, MATCHER_ERR_INVALID);
    if (!strstr(err.msg, field)) fail_msg("error \"%s\" does not name %s", err.msg, field);
    profile_free(&f->p);
}

static const match_job *job_for(const fixture *f, const char *rome) {
    for (size_t j = 0; j < f->r.n_jobs; j++)
        if (!strcmp(f->idx->fiches[f->r.jobs[j].fiche].code, rome)) return &f->r.jobs[j];
    return NULL;
}

/* The codes of a job's slice, as "c1,c2,…". */
static const char *slice_codes(const fixture *f, match_slice sl, char *buf, size_t cap) {
    size_t w = 0;
    buf[0] = '\0';
    for (uint32_t k = 0; k < sl.n; k++)
        w += (size_t)snprintf(buf + w, cap - w, "%s%u", k ? "," : "", f->idx->items[f->r.codes[sl.off + k]].code_ogr);
    return buf;
}

static void test_config_set(void **state) {
    (void)state;
    matcher_config cfg = matcher_config_default();
    px_error err = {0, ""};
    assert_non_null(matcher_config_constraint(&cfg, "no_weekend"));
    const char *names[] = {"no_weekend", "no_night", "no_heavy_loads", "no_shift_work", "no_public_contact",
                           "no_travel", "no_outdoor", "no_standing"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) assert_non_null(matcher_config_constraint(&cfg, names[i]));
    const matcher_constraint *we = matcher_config_constraint(&cfg, "no_weekend");
    assert_int_equal(we->n_codes, 3);   /* samedi, dimanche, week-ends et jours fériés */

    assert_int_equal(matcher_config_set(&cfg, "weight.emergente", "0.5", &err), 0);
    assert_true(cfg.weight_emergente == 0.5);
    assert_int_equal(matcher_config_set(&cfg, "top", " 7", &err), 0);
    assert_int_equal(cfg.top, 7);
    assert_int_equal(matcher_config_set(&cfg, "constraint.no_weekend", "1, 2,3", &err), 0);
    assert_int_equal(matcher_config_constraint(&cfg, "no_weekend")->n_codes, 3);
    uint32_t before = cfg.n_constraints;
    assert_int_equal(matcher_config_set(&cfg, "constraint.no_cold", "403021", &err), 0);
    assert_int_equal(cfg.n_constraints, before + 1);

    const struct { const char *key, *value, *says; } bad[] = {
        {"weight.principale", "0", "weight.principale"},   /* must be > 0 */
        {"weight.other", "1.5", "weight.other"},
        {"weight.other", "abc", "weight.other"},
        {"domain_boost", "nan", "domain_boost"},
        {"top", "0", "top"},
        {"top", "201", "top"},
        {"skills_asked", "3x", "skills_asked"},
        {"title.alternatives", "6", "title.alternatives"},
        {"wieght.other", "1", "unknown matching key"},
        {"constraint.", "1", "constraint name"},
        {"constraint.No-Weekend", "1", "constraint name"},
        {"constraint.x", "", "contexte codes"},
        {"constraint.x", "1,,2", "contexte codes"},
        {"constraint.x", "-4", "contexte codes"},
        {"constraint.x", "1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17", "at most 16"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        matcher_config copy = cfg;
        px_error_clear(&err);
        assert_int_equal(matcher_config_set(&copy, bad[i].key, bad[i].value, &err), -1);
        assert_int_equal(err.code, MATCHER_ERR_CONFIG);
        if (!strstr(err.msg, bad[i].says)) fail_msg("%s=%s: \"%s\" lacks \"%s\"", bad[i].key, bad[i].value, err.msg, bad[i].says);
        assert_memory_equal(&copy, &cfg, sizeof cfg);   /* a refused value changes nothing */
    }
    matcher_config full = matcher_config_default();
    char key[64];
    for (uint32_t i = full.n_constraints; i < MATCHER_MAX_CONSTRAINTS; i++) {
        snprintf(key, sizeof key, "constraint.c%u", i);
        assert_int_equal(matcher_config_set(&full, key, "1", &err), 0);
    }
    assert_int_equal(matcher_config_set(&full, "constraint.one_more", "1", &err), -1);
}

/* matcher_config_write (used by `passerelled --check-config`) reads back to the same config. */
static void test_config_write_round_trip(void **state) {
    (void)state;
    matcher_config cfg = matcher_config_default();
    px_error err = {0, ""};
    assert_int_equal(matcher_config_set(&cfg, "weight.emergente", "0.123456789012345678", &err), 0);
    assert_int_equal(matcher_config_set(&cfg, "top", "7", &err), 0);
    assert_int_equal(matcher_config_set(&cfg, "constraint.no_cold", "403021, 300787", &err), 0);
    char *text = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&text, &len);
    assert_non_null(out);
    matcher_config_write(&cfg, out);
    fclose(out);
    matcher_config back = matcher_config_default();
    back.n_constraints = 0;
    memset(back.constraints, 0, sizeof back.constraints);
    for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
        char *eq = strstr(line, " = ");
        assert_non_null(eq);
        *eq = '\0';
        if (matcher_config_set(&back, line, eq + 3, &err)) fail_msg("%s", err.msg);
    }
    free(text);
    assert_memory_equal(&back, &cfg, sizeof cfg);
}

static void test_build_checks_constraint_codes(void **state) {
    fixture *f = *state;
    matcher_config cfg = matcher_config_default();   /* its codes are real ROME codes, not the fixture's */
    px_error err = {0, ""};
    assert_null(matcher_build(f->idx, &cfg, &err));
    assert_int_equal(err.code, MATCHER_ERR_CONFIG);
    assert_non_null(strstr(err.msg, "constraint.no_weekend"));
}

/* An index beyond MATCHER_MAX_ITEMS is refused before anything of it is read (the counts alone
 * say it; no such index fits in memory here). */
static void test_build_refuses_too_many_items(void **state) {
    (void)state;
    rome_index huge;
    memset(&huge, 0, sizeof huge);
    huge.n.items = MATCHER_MAX_ITEMS + 1u;
    matcher_config cfg = matcher_config_default();
    cfg.n_constraints = 0;
    px_error err = {0, ""};
    assert_null(matcher_build(&huge, &cfg, &err));
    assert_int_equal(err.code, MATCHER_ERR_CONFIG);
    assert_non_null(strstr(err.msg, "items"));
}

static void test_cashier(void **state) {
    fixture *f = *state;
    char buf[256];
    add_appellation(&f->p, 5001);   /* Caissier / Caissière de test → D1505 */
    run_ok(f);
    assert_int_equal(f->r.n_experiences, 1);
    assert_true(f->r.experiences[0].resolved);
    assert_string_equal(f->idx->fiches[f->r.experiences[0].fiche].code, "D1505");
    /* skills: weight = importance × kind × specificity × support; 100001 and 300001 tie at 1 (code
     * order), then 200001 (Émergente 0.7 × 0.5), 100002 (0.4 × ln(4/3)/ln 4), 100003 (SE: × 0.5) */
    const uint32_t want[] = {100001, 300001, 200001, 100002, 100003};
    assert_int_equal(f->r.n_skills, 5);
    for (size_t k = 0; k < 5; k++) assert_int_equal(f->idx->items[f->r.skills[k].item].code_ogr, want[k]);
    assert_true(fabs(f->r.skills[0].weight - 1.0) < 1e-9);
    assert_int_equal(f->r.skills[0].from, 1u);
    /* jobs: own fiche D1505 reported apart; D1106 fully covered at the inferred confidence */
    assert_int_equal(f->r.n_current, 1);
    assert_string_equal(f->idx->fiches[f->r.current[0].fiche].code, "D1505");
    assert_null(job_for(f, "D1505"));
    assert_int_equal(f->r.n_jobs, 3);
    assert_string_equal(f->idx->fiches[f->r.jobs[0].fiche].code, "D1106");
    assert_string_equal(f->idx->fiches[f->r.jobs[1].fiche].code, "M1607");
    assert_string_equal(f->idx->fiches[f->r.jobs[2].fiche].code, "J1501");
    assert_true(fabs(f->r.jobs[0].score - 0.6) < 1e-6);
    assert_true(f->r.jobs[1].score > f->r.jobs[2].score && f->r.jobs[2].score > 0);
    const match_job *sec = job_for(f, "M1607");
    assert_string_equal(slice_codes(f, sec->held, buf, sizeof buf), "100002,100003");
    assert_string_equal(slice_codes(f, sec->missing, buf, sizeof buf), "100005,200003");  /* Principale first */
    const match_job *care = job_for(f, "J1501");
    assert_string_equal(slice_codes(f, care->missing, buf, sizeof buf), "100004,200002");
    assert_string_equal(slice_codes(f, care->qualifications, buf, sizeof buf), "200002");
    assert_int_equal(sec->qualifications.n, 0);
    assert_int_equal(f->r.jobs[0].n_reasons, 1);
    assert_int_equal(f->r.jobs[0].reasons[0].experience, 0);
    assert_true(fabs(f->r.jobs[0].reasons[0].share - 1.0) < 1e-9);
    assert_int_equal(f->r.fiches_scored, 4);
}

static void test_decisions(void **state) {
    fixture *f = *state;
    char buf[256];
    add_appellation(&f->p, 5001);
    assert_int_equal(profile_codes_push(&f->p.confirmed, 200001, NULL), 0);
    assert_int_equal(profile_codes_push(&f->p.confirmed, 100002, NULL), 0);
    assert_int_equal(profile_codes_push(&f->p.added, 100005, NULL), 0);
    run_ok(f);
    assert_string_equal(f->idx->fiches[f->r.jobs[0].fiche].code, "D1106");
    assert_true(fabs(f->r.jobs[0].score - 1.0) < 1e-6);   /* everything confirmed */
    assert_int_equal(f->r.n_skills, 3);                   /* decided codes are not asked again */
    const match_job *sec = job_for(f, "M1607");
    assert_string_equal(slice_codes(f, sec->held, buf, sizeof buf), "100002,100003,100005");
    assert_int_equal(sec->reasons[0].experience, -1);      /* mostly the added competence */
    profile_free(&f->p);

    add_appellation(&f->p, 5001);
    assert_int_equal(profile_codes_push(&f->p.rejected, 100002, NULL), 0);
    run_ok(f);
    const match_job *seller = job_for(f, "D1106");
    assert_string_equal(slice_codes(f, seller->held, buf, sizeof buf), "200001");
    assert_string_equal(slice_codes(f, seller->missing, buf, sizeof buf), "100002");
    /* the rejected competence counts for nothing, not even through its macro-compétence */
    double w_100002 = 1.0 * log(4.0 / 3.0) / log(4.0), w_200001 = 0.4 * 0.5;
    assert_true(fabs(seller->score - 0.6 * w_200001 / (w_100002 + w_200001)) < 1e-5);
    for (size_t k = 0; k < f->r.n_skills; k++) assert_int_not_equal(f->idx->items[f->r.skills[k].item].code_ogr, 100002);
}

static void test_constraints_and_domains(void **state) {
    fixture *f = *state;
    add_appellation(&f->p, 5001);
    assert_int_equal(profile_strings_push(&f->p.avoid_named, "no_weekend", 10, NULL), 0);
    assert_int_equal(profile_codes_push(&f->p.avoid_contextes, 300803, NULL), 0);
    assert_int_equal(profile_strings_push(&f->p.exclude_domains, "M16", 3, NULL), 0);
    run_ok(f);
    assert_int_equal(f->r.n_jobs, 0);   /* D1106 works on Saturdays, J1501 at night, M1607 is excluded */
    assert_int_equal(f->r.n_constraints, 2);
    assert_int_equal(f->r.constraints[0].named, -1);          /* codes first, then named */
    assert_int_equal(f->r.constraints[0].contexte, 300803);
    assert_int_equal(f->r.constraints[0].removed, 1);
    assert_string_equal(matcher_get_config(f->m)->constraints[f->r.constraints[1].named].name, "no_weekend");
    assert_int_equal(f->r.constraints[1].removed, 1);
    assert_int_equal(f->r.removed_by_domain, 1);
    profile_free(&f->p);

    add_appellation(&f->p, 5001);
    assert_int_equal(profile_strings_push(&f->p.domains, "J", 1, NULL), 0);
    run_ok(f);
    const match_job *care = job_for(f, "J1501"), *seller = job_for(f, "D1106");
    assert_true(fabs(care->score - care->coverage) < 1e-12);                        /* preferred: unchanged */
    assert_true(fabs(seller->score - seller->coverage / (1.0 + 0.25)) < 1e-12);     /* others: ÷ (1 + boost) */
}

static void test_unknown_codes_are_refused(void **state) {
    fixture *f = *state;
    add_appellation(&f->p, 999999);
    run_refused(f, "experiences[0].appellation");
    profile_experience *x = profile_add_experience(&f->p, NULL);
    x->kind = PROFILE_EXP_ROME;
    strcpy(x->rome, "Z9999");
    run_refused(f, "experiences[0].rome");
    add_appellation(&f->p, 5001);
    profile_codes_push(&f->p.confirmed, 424242, NULL);
    run_refused(f, "confirmed[0]");
    add_appellation(&f->p, 5001);
    profile_codes_push(&f->p.rejected, 424242, NULL);
    run_refused(f, "rejected[0]");
    add_appellation(&f->p, 5001);
    profile_codes_push(&f->p.added, 424242, NULL);
    run_refused(f, "added[0]");
    add_appellation(&f->p, 5001);
    profile_codes_push(&f->p.avoid_contextes, 1, NULL);
    run_refused(f, "avoid: unknown contexte code 1");
    add_appellation(&f->p, 5001);
    profile_strings_push(&f->p.avoid_named, "no_mondays", 10, NULL);
    run_refused(f, "no_mondays");
    add_appellation(&f->p, 5001);
    profile_strings_push(&f->p.domains, "Q", 1, NULL);
    run_refused(f, "domains[0]");
    add_appellation(&f->p, 5001);
    profile_strings_push(&f->p.exclude_domains, "D1", 2, NULL);
    run_refused(f, "exclude_domains[0]");
    for (uint32_t e = 0; e <= MATCHER_MAX_EXPERIENCES; e++) add_appellation(&f->p, 5001);
    run_refused(f, "experiences: 33 given");
    add_appellation(&f->p, 5001);
    for (uint32_t k = 0; k <= MATCHER_MAX_AVOID; k++) profile_codes_push(&f->p.avoid_contextes, 23374, NULL);
    run_refused(f, "avoid: 33 entries");
}

static void test_titles_in_a_profile(void **state) {
    fixture *f = *state;
    add_title(&f->p, "CAISSIÈRES");
    add_title(&f->p, "plombier zingueur");   /* no word in common with any appellation */
    char long_title[TITLE_MAX_BYTES + 2];
    memset(long_title, 'a', sizeof long_title - 1);
    long_title[sizeof long_title - 1] = '\0';
    add_title(&f->p, long_title);
    run_ok(f);
    assert_true(f->r.experiences[0].resolved);
    assert_int_equal(f->idx->appellations[f->r.experiences[0].appellation].code_ogr, 5001);
    assert_true(f->r.experiences[0].confidence >= 0.5 && f->r.experiences[0].confidence <= 1.0);
    assert_false(f->r.experiences[1].resolved);
    assert_non_null(strstr(f->r.experiences[1].error, "no appellation"));
    assert_false(f->r.experiences[2].resolved);
    assert_non_null(strstr(f->r.experiences[2].error, "at most 256"));
    assert_true(f->r.n_jobs > 0);   /* the resolved experience is still matched */
}

static void test_title_resolver(void **state) {
    fixture *f = *state;
    px_error err = {0, ""};
    title_resolver *tr = title_resolver_build(f->idx, &err);
    title_scratch *ts = title_scratch_new(tr, &err);
    assert_non_null(ts);
    const struct { const char *title; uint32_t want; } cases[] = {
        {"Caissière", 5001},                          /* feminine form */
        {"caissiers de test", 5001},                  /* plural, no accent */
        {"Secretaire administrative", 5005},          /* feminine of "Secrétaire administratif" */
        {"administrative, secrétaire", 5005},         /* word order, punctuation */
        {"aide soignante de nuit", 5006},             /* hyphen as a space */
        {"aide-soigante nuit", 5006},                 /* typo: missing n */
        {"VENDEUSE", 5004},
        {"hotesse caisse", 5003},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        title_match out[3];
        int n = title_resolve(tr, ts, cases[i].title, out, 3, &err);
        if (n < 1) fail_msg("\"%s\": nothing found", cases[i].title);
        if (f->idx->appellations[out[0].appellation].code_ogr != cases[i].want)
            fail_msg("\"%s\": got %u, want %u", cases[i].title, f->idx->appellations[out[0].appellation].code_ogr,
                     cases[i].want);
        for (int k = 1; k < n; k++) assert_true(out[k].confidence <= out[k - 1].confidence);
    }
    title_match out[3];
    assert_int_equal(title_resolve(tr, ts, "de la du", out, 3, &err), -1);   /* only stop words */
    assert_int_equal(title_resolve(tr, ts, "caissi\xC3", out, 3, &err), -1);   /* truncated UTF-8 */
    assert_non_null(strstr(err.msg, "UTF-8"));
    char norm[128];
    assert_true(title_normalize("Accastilleur(se)-MONTEUR / Cœur d'ÉTÉ", norm, sizeof norm) > 0);
    assert_string_equal(norm, "accastilleur monteur coeur ete");
    title_scratch_free(ts);
    title_resolver_free(tr);
}

static void encode(const fixture *f, const char *type, msgpack_sbuffer *buf) {
    suggestion_envelope env = {"out-1", "user-7", 1700000000000, "in-42", "4.0-61"};
    msgpack_packer pk;
    msgpack_sbuffer_init(buf);
    msgpack_packer_init(&pk, buf, msgpack_sbuffer_write);
    int rc = strcmp(type, SUGGESTION_TYPE_JOBS) ? suggestion_encode_skills(&pk, &env, f->m, &f->r, NULL)
                                                : suggestion_encode_jobs(&pk, &env, f->m, &f->r, NULL);
    assert_int_equal(rc, 0);
}

static const msgpack_object *map_get(const msgpack_object *map, const char *key) {
    assert_int_equal(map->type, MSGPACK_OBJECT_MAP);
    for (uint32_t i = 0; i < map->via.map.size; i++) {
        const msgpack_object_kv *kv = &map->via.map.ptr[i];
        if (kv->key.type == MSGPACK_OBJECT_STR && kv->key.via.str.size == strlen(key) &&
            !memcmp(kv->key.via.str.ptr, key, kv->key.via.str.size))
            return &kv->val;
    }
    fail_msg("key %s missing", key);
    return NULL;
}

static void assert_str(const msgpack_object *o, const char *want) {
    assert_int_equal(o->type, MSGPACK_OBJECT_STR);
    assert_int_equal(o->via.str.size, strlen(want));
    assert_memory_equal(o->via.str.ptr, want, o->via.str.size);
}

static void test_codec_is_deterministic(void **state) {
    fixture *f = *state;
    add_appellation(&f->p, 5001);
    profile_strings_push(&f->p.avoid_named, "no_night", 8, NULL);
    msgpack_sbuffer a, b, c;
    run_ok(f);
    encode(f, SUGGESTION_TYPE_JOBS, &a);
    run_ok(f);
    encode(f, SUGGESTION_TYPE_JOBS, &b);
    assert_int_equal(a.size, b.size);
    assert_memory_equal(a.data, b.data, a.size);   /* byte-identical */
    encode(f, SUGGESTION_TYPE_SKILLS, &c);

    char id[SUGGESTION_ID_LEN + 1], other[SUGGESTION_ID_LEN + 1];
    suggestion_id_compute("in-42", SUGGESTION_TYPE_JOBS, "4.0-61", id);
    assert_int_equal(strspn(id, "0123456789abcdef"), SUGGESTION_ID_LEN);
    suggestion_id_compute("in-42", SUGGESTION_TYPE_SKILLS, "4.0-61", other);
    assert_string_not_equal(id, other);
    suggestion_id_compute("in-42", SUGGESTION_TYPE_JOBS, "4.0-62", other);
    assert_string_not_equal(id, other);
    suggestion_id_compute("in-4", "2" SUGGESTION_TYPE_JOBS, "4.0-61", other);
    assert_string_not_equal(id, other);

    msgpack_unpacked u;
    msgpack_unpacked_init(&u);
    assert_int_equal(msgpack_unpack_next(&u, a.data, a.size, NULL), MSGPACK_UNPACK_SUCCESS);
    const msgpack_object *ev = &u.data;
    assert_int_equal(map_get(ev, "v")->via.u64, 1);
    assert_str(map_get(ev, "type"), SUGGESTION_TYPE_JOBS);
    assert_str(map_get(ev, "event_id"), "out-1");
    assert_str(map_get(ev, "user_id"), "user-7");
    assert_int_equal(map_get(ev, "ts")->via.u64, 1700000000000ULL);
    assert_str(map_get(ev, "answers"), "in-42");
    assert_str(map_get(ev, "rome_version"), "4.0-61");
    assert_str(map_get(ev, "suggestion_id"), id);
    const msgpack_object *jobs = map_get(ev, "jobs");
    assert_int_equal(jobs->via.array.size, 2);   /* J1501 works at night */
    const msgpack_object *j0 = &jobs->via.array.ptr[0];
    assert_str(map_get(j0, "rome"), "D1106");
    assert_str(map_get(j0, "label"), "Vendeur de test");
    assert_true(map_get(j0, "score")->via.f64 == 0.6);
    assert_int_equal(map_get(j0, "held")->via.array.size, 2);
    assert_int_equal(map_get(j0, "contexts")->via.array.size, 2);
    const msgpack_object *cons = map_get(map_get(ev, "excluded"), "constraints");
    assert_int_equal(cons->via.array.size, 1);
    assert_str(map_get(&cons->via.array.ptr[0], "avoid"), "no_night");
    assert_int_equal(map_get(&cons->via.array.ptr[0], "removed")->via.u64, 1);
    assert_int_equal(map_get(ev, "current")->via.array.size, 1);

    assert_int_equal(msgpack_unpack_next(&u, c.data, c.size, NULL), MSGPACK_UNPACK_SUCCESS);
    const msgpack_object *skills = map_get(&u.data, "skills");
    assert_int_equal(skills->via.array.size, 5);
    const msgpack_object *s0 = &skills->via.array.ptr[0];
    assert_int_equal(map_get(s0, "code")->via.u64, 100001);
    assert_str(map_get(s0, "kind"), "savoir_faire");
    assert_int_equal(map_get(s0, "macro")->via.u64, 300001);
    assert_int_equal(map_get(s0, "from")->via.array.size, 1);
    msgpack_unpacked_destroy(&u);
    msgpack_sbuffer_destroy(&a);
    msgpack_sbuffer_destroy(&b);
    msgpack_sbuffer_destroy(&c);
}

/* A result reused for a smaller profile holds nothing of the previous one. */
static void test_result_reuse(void **state) {
    fixture *f = *state;
    add_appellation(&f->p, 5001);
    add_appellation(&f->p, 5002);
    profile_strings_push(&f->p.avoid_named, "no_night", 8, NULL);
    run_ok(f);
    assert_int_equal(f->r.n_current, 2);
    profile_free(&f->p);
    add_appellation(&f->p, 5005);
    run_ok(f);
    assert_int_equal(f->r.n_experiences, 1);
    assert_int_equal(f->r.n_current, 1);
    assert_int_equal(f->r.n_constraints, 0);
    assert_string_equal(f->idx->fiches[f->r.current[0].fiche].code, "M1607");
    for (size_t k = 0; k < f->r.n_skills; k++) assert_int_equal(f->r.skills[k].from, 1u);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_config_set),
        cmocka_unit_test(test_config_write_round_trip),
        cmocka_unit_test_setup_teardown(test_build_checks_constraint_codes, setup, teardown),
        cmocka_unit_test(test_build_refuses_too_many_items),
        cmocka_unit_test_setup_teardown(test_cashier, setup, teardown),
        cmocka_unit_test_setup_teardown(test_decisions, setup, teardown),
        cmocka_unit_test_setup_teardown(test_constraints_and_domains, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unknown_codes_are_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_titles_in_a_profile, setup, teardown),
        cmocka_unit_test_setup_teardown(test_title_resolver, setup, teardown),
        cmocka_unit_test_setup_teardown(test_codec_is_deterministic, setup, teardown),
        cmocka_unit_test_setup_teardown(test_result_reuse, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
