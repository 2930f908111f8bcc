/* suggestion_codec: the jobs.suggested fields of the rebuilt matcher — score components, held
 * share, level and flags of each job; what each constraint removed and why (every `because`);
 * the regulated jobs held back — on hand-made results over tests/fixtures/matcher, so that every
 * branch is reached whatever the matcher decides, and on a real match for determinism; a repeat
 * answered through the rules and the encoders is the same bytes; code lists in the fixed uint32
 * form, the packer called once per block, and a packer that cannot grow. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "matcher.h"
#include "msgpack_json.h"
#include "rome_fixture.h"
#include "rome_load.h"
#include "suggestion_codec.h"
#include "user_rules.h"

typedef struct fixture {
    rome_index *idx;
    matcher *m;
} fixture;

/* A small ESCO crosswalk over the fixture's appellations 5001 (D1505), 5002 and 5006 (J1501). */
static const char ESCO_CROSSWALK[] =
    "Mapping project name,ESCO - ROME (codec fixture)\r\n\r\n"
    "classification 1 ID,classification 1 prefered label,classification 2 ID,"
    "classification 2 prefered label,mapping relation\r\n"
    "http://data.europa.eu/esco/occupation/00000000-0000-4000-8000-000000000001,a,5001,a,"
    "skos:broadMatch\r\n"
    "http://data.europa.eu/esco/occupation/00000000-0000-4000-8000-000000000002,b,5001,b,"
    "skos:exactMatch\r\n"
    "http://data.europa.eu/esco/occupation/00000000-0000-4000-8000-000000000003,c,5006,c,"
    "skos:narrowMatch\r\n"
    "http://data.europa.eu/esco/occupation/00000000-0000-4000-8000-000000000004,d,5002,d,"
    "skos:closeMatch\r\n";
#define ESCO_URI(n) "http://data.europa.eu/esco/occupation/00000000-0000-4000-8000-00000000000" n

/* The fixture index, with the crosswalk when `esco`, and its matcher. */
static fixture *fixture_load(bool esco) {
    char dir[512];
    px_error err = {0};
    if (rome_fixture_make(FIXTURE_DIR, dir, sizeof dir)) return NULL;
    if (esco) {
        int rc =
            rome_fixture_write(dir, "esco_crosswalk", ESCO_CROSSWALK, sizeof ESCO_CROSSWALK - 1);
        assert_int_equal(rc, 0);
    }
    fixture *f = calloc(1, sizeof *f);
    f->idx = rome_load_csv(dir, NULL, &err);
    rome_fixture_remove(dir);
    if (!f->idx) fail_msg("index: %s", err.msg);
    matcher_config cfg = matcher_config_default();
    cfg.n_constraints = 0; /* the defaults name contextes the fixture does not have */
    assert_int_equal(matcher_config_set(&cfg, "constraint.no_weekend", "23374", &err), 0);
    assert_int_equal(matcher_config_set(&cfg, "constraint.no_night", "300803", &err), 0);
    f->m = matcher_build(f->idx, &cfg, &err);
    if (!f->m) fail_msg("matcher: %s", err.msg);
    return f;
}

static void fixture_free(fixture *f) {
    matcher_free(f->m);
    rome_index_free(f->idx);
    free(f);
}

static int setup(void **state) {
    *state = fixture_load(false);
    return *state ? 0 : -1;
}

static int teardown(void **state) {
    fixture_free(*state);
    return 0;
}

static uint32_t fiche(const fixture *f, const char *code) {
    uint32_t id = rome_fiche_find(f->idx, code);
    assert_int_not_equal(id, ROME_NONE);
    return id;
}

static uint32_t item(const fixture *f, uint32_t code) {
    uint32_t id = rome_item_find(f->idx, code);
    assert_int_not_equal(id, ROME_NONE);
    return id;
}

/* A result as matcher_run would leave it, built by hand (freed by match_result_free). */
static void hand_result(const fixture *f, match_result *r) {
    memset(r, 0, sizeof *r);
    r->jobs = calloc(1, sizeof *r->jobs);
    r->n_jobs = 1;
    r->codes = calloc(4, sizeof *r->codes);
    r->codes[0] = item(f, 100004); /* held */
    r->codes[1] = item(f, 200002); /* missing, a qualification */
    r->codes[2] = item(f, 200002); /* qualifications */
    r->n_codes = 3;
    r->jobs[0] = (match_job){
        .fiche = fiche(f, "J1501"),
        .score = 0.123456,
        .components = {.competences = 0.71104,
                       .related = 0,
                       .profile = 0.45555,
                       .kinship = 1.0 / 3,
                       .level = 2.0 / 3},
        .held_share = 2.0 / 3,
        .flags = MATCH_JOB_REGULATED | MATCH_JOB_QUALIFICATION_GAP,
        .level = 5,
        .held = {0, 1},
        .missing = {1, 1},
        .qualifications = {2, 1},
        .n_reasons = 1,
        .reasons = {{-1, 1.0}},
    };
    /* Two avoid entries: contexte 300803 (removes nothing), then no_weekend with one removal of
     * each kind; then one regulated job held back. */
    r->constraints = calloc(2, sizeof *r->constraints);
    r->n_constraints = 2;
    const matcher_config *cfg = matcher_get_config(f->m);
    int32_t weekend = (int32_t)(matcher_config_constraint(cfg, "no_weekend") - cfg->constraints);
    r->constraints[0] = (match_constraint_cost){-1, 300803, 0, 0, 0};
    r->constraints[1] = (match_constraint_cost){weekend, 0, 7, 0, 4};
    r->removals = calloc(5, sizeof *r->removals);
    r->n_removals = 5;
    r->removals[0] = (match_removal){fiche(f, "D1106"), MATCH_EVIDENCE_CONTEXTE, 23374};
    r->removals[1] = (match_removal){fiche(f, "M1607"), MATCH_EVIDENCE_COMPETENCE, 100005};
    r->removals[2] = (match_removal){fiche(f, "D1505"), MATCH_EVIDENCE_PARENT, fiche(f, "J1501")};
    r->removals[3] =
        (match_removal){fiche(f, "J1501"), MATCH_EVIDENCE_DOMAIN, rome_domaine_find(f->idx, "D11")};
    r->removals[4] = (match_removal){fiche(f, "J1501"), MATCH_EVIDENCE_NONE, 0};
    r->removed_by_domain = 3;
    r->removed_regulated = 12;
    r->regulated_off = 4;
    r->regulated_n = 1;
}

static int encode_jobs(const fixture *f, const match_result *r, msgpack_sbuffer *sb,
                       px_error *err) {
    suggestion_envelope env = {"alice", 1764393600000LL, "in-1", "4.0-61"};
    msgpack_packer pk;
    msgpack_packer_init(&pk, sb, msgpack_sbuffer_write);
    return suggestion_encode_jobs(&pk, &env, f->m, r, err);
}

/* Encodes, checks that the bytes are exactly one value (map sizes right), returns it as JSON. */
static cJSON *jobs_json(const fixture *f, const match_result *r) {
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    px_error err = {0};
    if (encode_jobs(f, r, &sb, &err)) fail_msg("encode: %s", err.msg);
    msgpack_unpacked up;
    msgpack_unpacked_init(&up);
    size_t off = 0;
    assert_int_equal(msgpack_unpack_next(&up, sb.data, sb.size, &off), MSGPACK_UNPACK_SUCCESS);
    assert_int_equal(off, sb.size);
    msgpack_unpacked_destroy(&up);
    cJSON *json = msgpack_json_from_bytes(sb.data, sb.size, NULL, &err);
    if (!json) fail_msg("json: %s", err.msg);
    msgpack_sbuffer_destroy(&sb);
    return json;
}

static const cJSON *at(const cJSON *o, const char *k) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    if (!v) fail_msg("no key \"%s\"", k);
    return v;
}

static void assert_keys(const cJSON *o, const char *const *keys, size_t n) {
    assert_int_equal(cJSON_GetArraySize(o), (int)n);
    size_t i = 0;
    const cJSON *c;
    cJSON_ArrayForEach(c, o) assert_string_equal(c->string, keys[i++]);
}

static void test_job_fields(void **state) {
    const fixture *f = *state;
    match_result r;
    hand_result(f, &r);
    cJSON *json = jobs_json(f, &r);
    const cJSON *job = cJSON_GetArrayItem(at(json, "jobs"), 0);
    static const char *const keys[] = {
        "rome",  "label",     "score",    "components",     "held_share",
        "level", "regulated", "cadre",    "no_evidence",    "qualification_gap",
        "held",  "missing",   "contexts", "qualifications", "reasons",
    };
    assert_keys(job, keys, sizeof keys / sizeof keys[0]);
    assert_string_equal(at(job, "rome")->valuestring, "J1501");
    assert_true(at(job, "score")->valuedouble == 0.1235);
    const cJSON *c = at(job, "components");
    static const char *const ckeys[] = {"competences", "related", "profile", "kinship", "level"};
    assert_keys(c, ckeys, 5);
    assert_true(at(c, "competences")->valuedouble == 0.711); /* 4 decimals, like the others */
    assert_true(at(c, "related")->valuedouble == 0);
    assert_true(at(c, "profile")->valuedouble == 0.4556);
    assert_true(at(c, "kinship")->valuedouble == 0.3333);
    assert_true(at(c, "level")->valuedouble == 0.6667);
    assert_true(at(job, "held_share")->valuedouble == 0.6667);
    assert_true(cJSON_IsNumber(at(job, "level")) && at(job, "level")->valueint == 5);
    assert_true(cJSON_IsTrue(at(job, "regulated")));
    assert_true(cJSON_IsFalse(at(job, "cadre")));
    assert_true(cJSON_IsFalse(at(job, "no_evidence")));
    assert_true(cJSON_IsTrue(at(job, "qualification_gap")));
    assert_int_equal(cJSON_GetArrayItem(at(job, "held"), 0)->valueint, 100004);
    assert_int_equal(cJSON_GetArrayItem(at(job, "qualifications"), 0)->valueint, 200002);
    cJSON_Delete(json);

    /* the other flags, and an unknown level */
    r.jobs[0].flags = MATCH_JOB_CADRE | MATCH_JOB_NO_EVIDENCE;
    r.jobs[0].level = 0;
    json = jobs_json(f, &r);
    job = cJSON_GetArrayItem(at(json, "jobs"), 0);
    assert_true(cJSON_IsFalse(at(job, "regulated")));
    assert_true(cJSON_IsTrue(at(job, "cadre")));
    assert_true(cJSON_IsTrue(at(job, "no_evidence")));
    assert_true(cJSON_IsFalse(at(job, "qualification_gap")));
    assert_int_equal(at(job, "level")->valueint, 0);
    cJSON_Delete(json);
    match_result_free(&r);
}

static void test_excluded(void **state) {
    const fixture *f = *state;
    match_result r;
    hand_result(f, &r);
    cJSON *json = jobs_json(f, &r);
    const cJSON *ex = at(json, "excluded");
    static const char *const keys[] = {"constraints", "domains", "regulated"};
    assert_keys(ex, keys, 3);
    assert_int_equal(at(ex, "domains")->valueint, 3);
    const cJSON *cs = at(ex, "constraints");
    assert_int_equal(cJSON_GetArraySize(cs), 2);
    const cJSON *c0 = cJSON_GetArrayItem(cs, 0), *c1 = cJSON_GetArrayItem(cs, 1);
    static const char *const ckeys[] = {"avoid", "removed", "jobs"};
    assert_keys(c0, ckeys, 3);
    assert_int_equal(at(c0, "avoid")->valueint, 300803);
    assert_int_equal(cJSON_GetArraySize(at(c0, "jobs")), 0);
    assert_string_equal(at(c1, "avoid")->valuestring, "no_weekend");
    assert_int_equal(at(c1, "removed")->valueint, 7);
    const cJSON *jobs = at(c1, "jobs");
    assert_int_equal(cJSON_GetArraySize(jobs), 4);
    static const char *const jkeys[] = {"rome", "label", "because", "code"};
    const struct {
        const char *rome, *because, *code_str;
        int code;
    } want[] = {
        {"D1106", "contexte", NULL, 23374},    /* the contexte code_ogr */
        {"M1607", "competence", NULL, 100005}, /* the item code_ogr */
        {"D1505", "parent", "J1501", 0},       /* the parent fiche's code */
        {"J1501", "domain", "D11", 0},         /* the domaine professionnel's code */
    };
    for (int k = 0; k < 4; k++) {
        const cJSON *j = cJSON_GetArrayItem(jobs, k);
        assert_keys(j, jkeys, 4);
        assert_string_equal(at(j, "rome")->valuestring, want[k].rome);
        assert_string_equal(at(j, "label")->valuestring,
                            rome_str(f->idx, f->idx->fiches[fiche(f, want[k].rome)].label));
        assert_string_equal(at(j, "because")->valuestring, want[k].because);
        if (want[k].code_str) {
            assert_true(cJSON_IsString(at(j, "code")));
            assert_string_equal(at(j, "code")->valuestring, want[k].code_str);
        } else {
            assert_true(cJSON_IsNumber(at(j, "code")));
            assert_int_equal(at(j, "code")->valueint, want[k].code);
        }
    }
    const cJSON *reg = at(ex, "regulated");
    static const char *const rkeys[] = {"removed", "jobs"};
    assert_keys(reg, rkeys, 2);
    assert_int_equal(at(reg, "removed")->valueint, 12);
    const cJSON *rj = cJSON_GetArrayItem(at(reg, "jobs"), 0);
    static const char *const rjkeys[] = {"rome", "label"};
    assert_keys(rj, rjkeys, 2);
    assert_string_equal(at(rj, "rome")->valuestring, "J1501");
    cJSON_Delete(json);
    match_result_free(&r);
}

/* A removal list naming what the index does not have is refused, naming the field, before a byte
 * is written. */
static void test_bad_removals(void **state) {
    const fixture *f = *state;
    const struct {
        size_t removal;
        uint32_t fiche;
        uint8_t evidence;
        uint32_t code;
        const char *msg;
    } cases[] = {
        {0, 0, MATCH_EVIDENCE_NONE, 0, "excluded.constraints[1].jobs[0].because: evidence 0"},
        {1, 0, 9, 0, "excluded.constraints[1].jobs[1].because: evidence 9"},
        {2, 0, MATCH_EVIDENCE_PARENT, 4000, "constraints[1].jobs[2].code: no such id 4000"},
        {3, 0, MATCH_EVIDENCE_DOMAIN, 4000, "constraints[1].jobs[3].code: no such id 4000"},
        {4, 4000, MATCH_EVIDENCE_NONE, 0, "excluded.regulated.jobs[0].rome: no fiche id 4000"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        match_result r;
        hand_result(f, &r);
        match_removal *x = &r.removals[cases[i].removal];
        if (cases[i].fiche)
            x->fiche = cases[i].fiche;
        else
            x->evidence = cases[i].evidence, x->code = cases[i].code;
        msgpack_sbuffer sb;
        msgpack_sbuffer_init(&sb);
        px_error err = {0};
        assert_int_equal(encode_jobs(f, &r, &sb, &err), -1);
        if (!strstr(err.msg, cases[i].msg)) fail_msg("\"%s\" lacks \"%s\"", err.msg, cases[i].msg);
        assert_int_equal(sb.size, 0);
        msgpack_sbuffer_destroy(&sb);
        match_result_free(&r);
    }
    match_result r;
    hand_result(f, &r);
    r.constraints[1].n = 9; /* past the removals */
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    px_error err = {0};
    assert_int_equal(encode_jobs(f, &r, &sb, &err), -1);
    assert_non_null(strstr(err.msg, "excluded.constraints[1].jobs: slice 0+9 past 5 removals"));
    msgpack_sbuffer_destroy(&sb);
    match_result_free(&r);
}

/* A real match of the fixture: the same input gives the same bytes, in both the event and the
 * `passerelle match` encodings, and the match line carries the same jobs and excluded. */
static void test_deterministic(void **state) {
    const fixture *f = *state;
    px_error err = {0};
    matcher_scratch *s = matcher_scratch_new(f->m, &err);
    assert_non_null(s);
    profile p = {0};
    profile_experience *e = profile_add_experience(&p, &err);
    e->kind = PROFILE_EXP_APPELLATION;
    e->appellation = 5001;
    e->end_year = 2015;
    profile_codes_push(&p.confirmed, 100004, &err);
    profile_strings_push(&p.avoid_named, "no_weekend", 10, &err);
    p.as_of_year = 2025;
    msgpack_sbuffer out[2], line;
    msgpack_sbuffer_init(&line);
    for (int k = 0; k < 2; k++) {
        match_result r = {0};
        p.include_regulated = k == 0; /* both branches of regulation, then the same again */
        assert_int_equal(matcher_run(f->m, s, &p, &r, &err), 0);
        msgpack_sbuffer_init(&out[k]);
        assert_int_equal(encode_jobs(f, &r, &out[k], &err), 0);
        msgpack_sbuffer again;
        msgpack_sbuffer_init(&again);
        assert_int_equal(encode_jobs(f, &r, &again, &err), 0);
        assert_int_equal(again.size, out[k].size);
        assert_memory_equal(again.data, out[k].data, again.size);
        msgpack_sbuffer_destroy(&again);
        if (k == 0) {
            msgpack_packer pk;
            msgpack_packer_init(&pk, &line, msgpack_sbuffer_write);
            assert_int_equal(suggestion_encode_match(&pk, "alice", "4.0-61", f->m, &r, &err), 0);
        }
        match_result_free(&r);
    }
    cJSON *ev_json = msgpack_json_from_bytes(out[0].data, out[0].size, NULL, &err);
    cJSON *match = msgpack_json_from_bytes(line.data, line.size, NULL, &err);
    assert_non_null(ev_json);
    assert_non_null(match);
    assert_true(cJSON_Compare(at(ev_json, "jobs"), at(match, "jobs"), true));
    assert_true(cJSON_Compare(at(ev_json, "excluded"), at(match, "excluded"), true));
    /* J1501 (regulated, diploma not held) is listed with include_regulated, held back without */
    bool listed = false;
    const cJSON *j;
    cJSON_ArrayForEach(j, at(ev_json, "jobs")) listed |=
        !strcmp(at(j, "rome")->valuestring, "J1501");
    assert_true(listed);
    cJSON *held_back = msgpack_json_from_bytes(out[1].data, out[1].size, NULL, &err);
    const cJSON *reg = at(at(held_back, "excluded"), "regulated");
    /* the fixture's regulated fiches the person lacks the qualification of: J1501 among them */
    assert_true(at(reg, "removed")->valueint >= 1);
    assert_int_equal(at(reg, "removed")->valueint, cJSON_GetArraySize(at(reg, "jobs")));
    bool held = false;
    cJSON_ArrayForEach(j, at(reg, "jobs")) held |= !strcmp(at(j, "rome")->valuestring, "J1501");
    assert_true(held);
    cJSON_Delete(held_back);
    cJSON_Delete(ev_json);
    cJSON_Delete(match);
    for (int k = 0; k < 2; k++) msgpack_sbuffer_destroy(&out[k]);
    msgpack_sbuffer_destroy(&line);
    profile_free(&p);
    matcher_scratch_free(s);
}

/* Answers ev as the daemon does (user_rules_apply, then the encoders with the envelope of the
 * event answered): skills.suggested into out[0], jobs.suggested into out[1]. */
static void answer(const user_rules *rules, user_state *st, const event *ev, msgpack_sbuffer *out) {
    px_error err = {0};
    match_result r = {0};
    user_outcome o;
    assert_int_equal(user_rules_apply(rules, st, false, ev, &r, &o, &err), 0);
    assert_int_equal(o.action, USER_EMIT_SUGGESTIONS);
    assert_true(o.skills && o.jobs);
    suggestion_envelope env = {ev->user_id, o.ts, ev->event_id, rules->index_version};
    for (int t = 0; t < 2; t++) {
        msgpack_sbuffer_init(&out[t]);
        msgpack_packer pk;
        msgpack_packer_init(&pk, &out[t], msgpack_sbuffer_write);
        int rc = t == 0 ? suggestion_encode_skills(&pk, &env, rules->matcher, &r, &err)
                        : suggestion_encode_jobs(&pk, &env, rules->matcher, &r, &err);
        assert_int_equal(rc, 0);
    }
    match_result_free(&r);
}

/* One event, one answer: the repeat of an event, delivered again a year later (its ts restamped
 * by the producer, as a clock would), is answered with the same bytes as the first time; the
 * envelope's ts is the answered event's, its event_id the suggestion_id. */
static void test_repeat_same_bytes(void **state) {
    const fixture *f = *state;
    px_error err = {0};
    const int64_t ts = 1764393600000LL;
    user_rules rules = {f->m, matcher_scratch_new(f->m, &err), "4.0-61",
                        8,    MATCHER_MAX_DECISIONS,           false};
    assert_non_null(rules.scratch);
    event ev = {.type = EVENT_PROFILE_UPSERTED, .ts = ts};
    ev.event_id = strdup("in-1");
    ev.user_id = strdup("alice");
    profile_experience *e = profile_add_experience(&ev.profile, &err);
    e->kind = PROFILE_EXP_APPELLATION;
    e->appellation = 5001;
    e->end_year = 2015;
    user_state st = {0};
    msgpack_sbuffer first[2], again[2];
    answer(&rules, &st, &ev, first);
    ev.ts = ts + 366 * 86400000LL;
    answer(&rules, &st, &ev, again);
    for (int t = 0; t < 2; t++) {
        assert_int_equal(again[t].size, first[t].size);
        assert_memory_equal(again[t].data, first[t].data, first[t].size);
        cJSON *json = msgpack_json_from_bytes(again[t].data, again[t].size, NULL, &err);
        assert_non_null(json);
        assert_true(at(json, "ts")->valuedouble == (double)ts);
        assert_string_equal(at(json, "event_id")->valuestring,
                            at(json, "suggestion_id")->valuestring);
        cJSON_Delete(json);
        msgpack_sbuffer_destroy(&first[t]);
        msgpack_sbuffer_destroy(&again[t]);
    }
    event_free(&ev);
    user_state_free(&st);
    matcher_scratch_free(rules.scratch);
}

/* "2:exact 1:broad" for an esco array (the URIs' last digit, then the relation). */
static void expect_esco(const cJSON *esco, const char *want) {
    char got[128] = "";
    size_t len = 0;
    const cJSON *l;
    static const char *const keys[] = {"uri", "relation"};
    cJSON_ArrayForEach(l, esco) {
        assert_keys(l, keys, 2);
        const char *uri = at(l, "uri")->valuestring;
        assert_true(!strncmp(uri, ESCO_URI(""), strlen(ESCO_URI(""))));
        len += (size_t)snprintf(got + len, sizeof got - len, "%s%s:%s", len ? " " : "",
                                uri + strlen(uri) - 1, at(l, "relation")->valuestring);
    }
    assert_string_equal(got, want);
}

/* A real match of one appellation (5001), one fiche code (J1501) and a confirmed competence,
 * encoded as jobs.suggested. */
static cJSON *real_match_json(const fixture *f) {
    px_error err = {0};
    matcher_scratch *s = matcher_scratch_new(f->m, &err);
    assert_non_null(s);
    profile p = {0};
    profile_experience *e = profile_add_experience(&p, &err);
    e->kind = PROFILE_EXP_APPELLATION;
    e->appellation = 5001;
    e = profile_add_experience(&p, &err);
    e->kind = PROFILE_EXP_ROME;
    snprintf(e->rome, sizeof e->rome, "J1501");
    profile_codes_push(&p.confirmed, 100004, &err);
    p.include_regulated = true;
    match_result r = {0};
    assert_int_equal(matcher_run(f->m, s, &p, &r, &err), 0);
    cJSON *json = jobs_json(f, &r);
    match_result_free(&r);
    profile_free(&p);
    matcher_scratch_free(s);
    return json;
}

/* With the crosswalk, jobs and resolved experiences carry `esco`; without, the output is the one
 * it always was: the same JSON once the esco keys are taken away, and no esco key at all. */
static void test_esco(void **state) {
    const fixture *plain = *state;
    fixture *f = fixture_load(true);
    assert_true(rome_has_esco(f->idx));
    assert_false(rome_has_esco(plain->idx));

    match_result r;
    hand_result(f, &r);
    cJSON *json = jobs_json(f, &r);
    const cJSON *job = cJSON_GetArrayItem(at(json, "jobs"), 0);
    assert_int_equal(cJSON_GetArraySize(job), 16);
    assert_string_equal(cJSON_GetArrayItem(job, 15)->string, "esco"); /* after the 15 of before */
    expect_esco(at(job, "esco"), "4:close 3:narrow"); /* J1501: 5002 and 5006, best first */
    cJSON_Delete(json);
    match_result_free(&r);

    cJSON *with = real_match_json(f), *without = real_match_json(plain);
    const cJSON *exps = at(with, "experiences");
    expect_esco(at(cJSON_GetArrayItem(exps, 0), "esco"), "2:exact 1:broad");  /* appellation */
    expect_esco(at(cJSON_GetArrayItem(exps, 1), "esco"), "4:close 3:narrow"); /* fiche code */
    int n_jobs = 0;
    cJSON *x;
    cJSON_ArrayForEach(x, at(with, "jobs")) {
        const char *rome = at(x, "rome")->valuestring;
        expect_esco(at(x, "esco"), !strcmp(rome, "D1505")   ? "2:exact 1:broad"
                                   : !strcmp(rome, "J1501") ? "4:close 3:narrow"
                                                            : "");
        n_jobs++;
    }
    assert_true(n_jobs > 0);
    char *text = cJSON_PrintUnformatted(without);
    assert_null(strstr(text, "esco"));
    cJSON_free(text);
    const char *const lists[] = {"jobs", "experiences"};
    for (int k = 0; k < 2; k++)
        cJSON_ArrayForEach(x, cJSON_GetObjectItemCaseSensitive(with, lists[k]))
            cJSON_DeleteItemFromObjectCaseSensitive(x, "esco");
    assert_true(cJSON_Compare(with, without, true));
    cJSON_Delete(with);
    cJSON_Delete(without);
    fixture_free(f);
}

/* A packer callback that keeps what it is given and counts its calls, or refuses (fail). */
typedef struct sink {
    msgpack_sbuffer sb;
    int calls;
    bool fail;
} sink;

static int sink_write(void *data, const char *buf, size_t len) {
    sink *k = data;
    k->calls++;
    return k->fail ? -1 : msgpack_sbuffer_write(&k->sb, buf, len);
}

/* The bytes after `key` (a fixstr) in buf: the first occurrence. */
static const unsigned char *after_key(const msgpack_sbuffer *sb, const char *key) {
    char packed[40];
    size_t n = strlen(key);
    packed[0] = (char)(0xa0 | n);
    memcpy(packed + 1, key, n);
    for (size_t at = 0; at + n + 1 <= sb->size; at++)
        if (!memcmp(sb->data + at, packed, n + 1))
            return (const unsigned char *)sb->data + at + n + 1;
    fail_msg("no key \"%s\" in the bytes", key);
    return NULL;
}

static uint32_t be32_at(const unsigned char *p) {
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* held, missing, contexts and qualifications are arrays of uint32 in the 5-byte form (0xce)
 * whatever the value (D1505's contexte 23374 too, which the shortest form writes in 3 bytes);
 * other integers keep the shortest form. A list longer than the encoder's block (3,000 codes,
 * 15,000 bytes) and a 5,000-byte user_id (a string handed over on its own) come out whole, with
 * the packer called once per block; a packer that cannot grow is out of memory, named. */
static void test_code_lists(void **state) {
    const fixture *f = *state;
    match_result r;
    hand_result(f, &r);
    enum { N = 3000 };
    uint32_t held_codes[] = {100004, 200002, 100001};
    free(r.codes);
    r.codes = calloc(N + 2, sizeof *r.codes);
    for (uint32_t k = 0; k < N; k++) r.codes[k] = item(f, held_codes[k % 3]);
    r.codes[N] = item(f, 200002);
    r.codes[N + 1] = item(f, 200002);
    r.n_codes = N + 2;
    r.jobs[0].fiche = fiche(f, "D1505");
    r.jobs[0].held = (match_slice){0, N};
    r.jobs[0].missing = (match_slice){N, 1};
    r.jobs[0].qualifications = (match_slice){N + 1, 1};
    char *user = malloc(5001);
    memset(user, 'u', 5000);
    user[5000] = '\0';
    suggestion_envelope env = {user, 1764393600000LL, "in-1", "4.0-61"};
    sink k = {.calls = 0};
    msgpack_sbuffer_init(&k.sb);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &k, sink_write);
    px_error err = {0};
    assert_int_equal(suggestion_encode_jobs(&pk, &env, f->m, &r, &err), 0);

    const unsigned char *p = after_key(&k.sb, "held");
    assert_int_equal(p[0], 0xdc); /* array 16 */
    assert_int_equal(p[1] << 8 | p[2], N);
    for (uint32_t i = 0; i < N; i++) {
        assert_int_equal(p[3 + 5 * i], 0xce);
        assert_int_equal(be32_at(p + 4 + 5 * i), held_codes[i % 3]);
    }
    const char *const singles[] = {"missing", "qualifications"};
    for (int s = 0; s < 2; s++) {
        p = after_key(&k.sb, singles[s]);
        assert_int_equal(p[0], 0x91);
        assert_int_equal(p[1], 0xce);
        assert_int_equal(be32_at(p + 2), 200002);
    }
    p = after_key(&k.sb, "contexts");
    uint32_t n_ctx = rome_csr_count(&f->idx->fiche_contextes, r.jobs[0].fiche);
    assert_int_equal(p[0], 0x90 | n_ctx);
    bool small = false;
    for (uint32_t i = 0; i < n_ctx; i++) {
        assert_int_equal(p[1 + 5 * i], 0xce);
        small |= be32_at(p + 2 + 5 * i) == 23374;
    }
    assert_true(small);
    assert_int_equal(*after_key(&k.sb, "removed"), 0x00); /* contexte 300803 removed none */
    assert_int_equal(*after_key(&k.sb, "domains"), 3);    /* removed_by_domain */
    assert_int_equal(*after_key(&k.sb, "code"), 0xcd);    /* 23374, the shortest form */
    assert_int_equal(*after_key(&k.sb, "ts"), 0xcf);      /* 1764393600000 */

    msgpack_unpacked up;
    msgpack_unpacked_init(&up);
    size_t off = 0;
    assert_int_equal(msgpack_unpack_next(&up, k.sb.data, k.sb.size, &off), MSGPACK_UNPACK_SUCCESS);
    assert_int_equal(off, k.sb.size);
    msgpack_unpacked_destroy(&up);
    cJSON *json = msgpack_json_from_bytes(k.sb.data, k.sb.size, NULL, &err);
    assert_non_null(json);
    assert_string_equal(at(json, "user_id")->valuestring, user);
    const cJSON *held = at(cJSON_GetArrayItem(at(json, "jobs"), 0), "held");
    assert_int_equal(cJSON_GetArraySize(held), N);
    assert_int_equal(cJSON_GetArrayItem(held, N - 1)->valueint, held_codes[(N - 1) % 3]);
    cJSON_Delete(json);
    /* blocks of nearly 8 KiB each, the user_id's own call and the one before it */
    assert_true(k.calls >= 3);
    assert_true((size_t)k.calls <= k.sb.size / (8192 - 64) + 3);

    msgpack_sbuffer_clear(&k.sb);
    k.fail = true;
    assert_int_equal(suggestion_encode_jobs(&pk, &env, f->m, &r, &err), -1);
    assert_int_equal(err.code, PX_ENOMEM);
    assert_non_null(strstr(err.msg, "jobs.suggested"));
    msgpack_sbuffer_destroy(&k.sb);
    free(user);
    match_result_free(&r);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_job_fields),   cmocka_unit_test(test_excluded),
        cmocka_unit_test(test_bad_removals), cmocka_unit_test(test_deterministic),
        cmocka_unit_test(test_esco),         cmocka_unit_test(test_repeat_same_bytes),
        cmocka_unit_test(test_code_lists),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
