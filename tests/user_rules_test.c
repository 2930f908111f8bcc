/* Unit tests of the event rules (user_rules_apply) and the decisions cap
 * (user_state_next_profile), on the core alone and the hand-written matcher fixture
 * (tests/fixtures/matcher: fiches D1505, F1703, …; competences 100001..100010). Each test plays
 * a person's events in partition order against one in-memory state, as the daemon does. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "matcher.h"
#include "rome_fixture.h"
#include "rome_load.h"
#include "user_rules.h"

#ifndef FIXTURE_DIR
#error "FIXTURE_DIR must point to tests/fixtures/matcher"
#endif

#define TS_2025 1764393600000LL /* 2025-11-29 */
#define TS_2026 1767225600000LL /* 2026-01-01 */
#define DAY_MS  86400000LL

typedef struct fixture {
    rome_index *idx;
    matcher *m;
    user_rules rules;
    user_state st;
    match_result r;
    user_outcome out;
} fixture;

static int setup(void **state) {
    fixture *f = calloc(1, sizeof *f);
    char dir[512];
    px_error err = {0};
    if (!f || rome_fixture_make(FIXTURE_DIR, dir, sizeof dir)) return -1;
    f->idx = rome_load_csv(dir, NULL, &err);
    rome_fixture_remove(dir);
    matcher_config cfg = matcher_config_default();
    cfg.n_constraints = 0; /* the default ones name contexte codes the fixture does not have */
    f->m = f->idx ? matcher_build(f->idx, &cfg, &err) : NULL;
    matcher_scratch *s = f->m ? matcher_scratch_new(f->m, &err) : NULL;
    if (!s) {
        fprintf(stderr, "setup: %s\n", err.msg);
        return -1;
    }
    f->rules = (user_rules){f->m, s, "test-1", 8, MATCHER_MAX_DECISIONS, false};
    *state = f;
    return 0;
}

static int teardown(void **state) {
    fixture *f = *state;
    user_state_free(&f->st);
    match_result_free(&f->r);
    matcher_scratch_free(f->rules.scratch);
    matcher_free(f->m);
    rome_index_free(f->idx);
    free(f);
    return 0;
}

static event new_event(event_type type, const char *id, int64_t ts) {
    event ev;
    memset(&ev, 0, sizeof ev);
    ev.type = type;
    ev.event_id = strdup(id);
    ev.user_id = strdup("u-1");
    ev.ts = ts;
    assert_non_null(ev.event_id);
    assert_non_null(ev.user_id);
    return ev;
}

static void add_rome(profile *p, const char *rome, int32_t end_year) {
    profile_experience *x = profile_add_experience(p, NULL);
    assert_non_null(x);
    x->kind = PROFILE_EXP_ROME;
    snprintf(x->rome, sizeof x->rome, "%s", rome);
    x->months = 60;
    x->end_year = end_year;
}

static event upsert(const char *id, int64_t ts, const char *rome) {
    event ev = new_event(EVENT_PROFILE_UPSERTED, id, ts);
    add_rome(&ev.profile, rome, 2010);
    return ev;
}

/* A skills.confirmed event with these decisions. */
static event decide(const char *id, int64_t ts, const uint32_t *confirmed, size_t n_confirmed,
                    const uint32_t *rejected, size_t n_rejected, const uint32_t *added,
                    size_t n_added) {
    event ev = new_event(EVENT_SKILLS_CONFIRMED, id, ts);
    for (size_t i = 0; i < n_confirmed; i++)
        assert_int_equal(profile_codes_push(&ev.profile.confirmed, confirmed[i], NULL), 0);
    for (size_t i = 0; i < n_rejected; i++)
        assert_int_equal(profile_codes_push(&ev.profile.rejected, rejected[i], NULL), 0);
    for (size_t i = 0; i < n_added; i++)
        assert_int_equal(profile_codes_push(&ev.profile.added, added[i], NULL), 0);
    return ev;
}

/* Applies ev (and frees it); the rules must not fail. */
static const user_outcome *apply_corrupt(fixture *f, event ev, bool corrupt) {
    px_error err = {0};
    int rc = user_rules_apply(&f->rules, &f->st, corrupt, &ev, &f->r, &f->out, &err);
    if (rc) fail_msg("user_rules_apply: %s", err.msg);
    event_free(&ev);
    return &f->out;
}

static const user_outcome *apply(fixture *f, event ev) { return apply_corrupt(f, ev, false); }

static void assert_codes(const profile_codes *c, const uint32_t *want, size_t n) {
    if (c->n != n) fail_msg("%zu codes, want %zu", c->n, n);
    for (size_t i = 0; i < n; i++) assert_int_equal(c->v[i], want[i]);
}

static void assert_served(const user_outcome *o, bool skills) {
    if (o->action != USER_EMIT_SUGGESTIONS)
        fail_msg("action %d (%s: %s), want suggestions", o->action,
                 event_reason_name(o->dead_letter_reason), o->why);
    assert_int_equal(o->skills, skills);
    assert_true(o->jobs);
    assert_true(o->matched);
}

static void assert_dead_letter(const user_outcome *o, int reason) {
    assert_int_equal(o->action, USER_DEAD_LETTER);
    assert_string_equal(event_reason_name(o->dead_letter_reason), event_reason_name(reason));
    assert_false(o->skills || o->jobs || o->state_changed);
    assert_true(o->why[0] != '\0');
}

/* What an answer is made of, to compare a repeat's with the first one's. */
#define ANSWER_MAX 8
typedef struct answer {
    size_t n_skills, n_jobs;
    uint32_t item[ANSWER_MAX], fiche[ANSWER_MAX];
    double weight[ANSWER_MAX], score[ANSWER_MAX];
} answer;

static answer answer_of(const match_result *r) {
    answer a = {r->n_skills, r->n_jobs, {0}, {0}, {0}, {0}};
    for (size_t k = 0; k < ANSWER_MAX && k < r->n_skills; k++) {
        a.item[k] = r->skills[k].item;
        a.weight[k] = r->skills[k].weight;
    }
    for (size_t k = 0; k < ANSWER_MAX && k < r->n_jobs; k++) {
        a.fiche[k] = r->jobs[k].fiche;
        a.score[k] = r->jobs[k].score;
    }
    return a;
}

static void assert_same_answer(const answer *want, const match_result *r) {
    answer got = answer_of(r);
    assert_true(got.n_jobs > 0);
    assert_memory_equal(&got, want, sizeof got);
}

/* An upsert answers with skills and jobs and is stored with the index version; a confirmation
 * answers with jobs only and adds its decisions; a later upsert replaces the experiences and
 * keeps the decisions. */
static void test_upsert_and_confirm(void **state) {
    fixture *f = *state;
    const user_outcome *o = apply(f, upsert("e-1", TS_2025, "D1505"));
    assert_served(o, true);
    assert_int_equal(o->repeat, USER_NOT_REPEATED);
    assert_int_equal(o->ts, TS_2025);
    assert_true(o->state_changed);
    assert_true(f->r.n_skills > 0 && f->r.n_jobs > 0);
    assert_true(f->st.has_profile);
    assert_string_equal(f->st.rome_version, "test-1");
    assert_int_equal(f->st.updated_ts, TS_2025);
    assert_int_equal(f->st.n_recent, 1);
    assert_string_equal(f->st.recent_event_ids[0], "e-1");

    o = apply(f, decide("e-2", TS_2025 + DAY_MS, (uint32_t[]){100001}, 1, (uint32_t[]){100002}, 1,
                        (uint32_t[]){100009}, 1));
    assert_served(o, false);
    assert_true(o->state_changed);
    assert_codes(&f->st.profile.confirmed, (uint32_t[]){100001}, 1);
    assert_codes(&f->st.profile.rejected, (uint32_t[]){100002}, 1);
    assert_codes(&f->st.profile.added, (uint32_t[]){100009}, 1);
    assert_string_equal(f->st.profile.experiences[0].rome, "D1505");
    assert_int_equal(f->st.updated_ts, TS_2025 + DAY_MS);

    /* a new index version is stamped by the next event applied */
    f->rules.index_version = "test-2";
    o = apply(f, upsert("e-3", TS_2026, "F1703"));
    assert_served(o, true);
    assert_int_equal(f->st.profile.n_experiences, 1);
    assert_string_equal(f->st.profile.experiences[0].rome, "F1703");
    assert_codes(&f->st.profile.confirmed, (uint32_t[]){100001}, 1);
    assert_codes(&f->st.profile.rejected, (uint32_t[]){100002}, 1);
    assert_codes(&f->st.profile.added, (uint32_t[]){100009}, 1);
    assert_string_equal(f->st.rome_version, "test-2");
    assert_int_equal(f->st.n_recent, 3);
    assert_string_equal(f->st.recent_event_ids[2], "e-3");

    /* a later decision on the same code wins: 100002 moves from rejected to confirmed */
    o = apply(f, decide("e-4", TS_2026, (uint32_t[]){100002}, 1, NULL, 0, NULL, 0));
    assert_served(o, false);
    assert_codes(&f->st.profile.confirmed, (uint32_t[]){100001, 100002}, 2);
    assert_int_equal(f->st.profile.rejected.n, 0);
}

/* A repeat of the latest event inside the window: the same outputs and ts, recency counted to
 * the year of the event as first applied (the repeat's content, ts included, is ignored), and
 * the state (profile, ids, version, ts) as it was. */
static void test_replay(void **state) {
    fixture *f = *state;
    assert_served(apply(f, upsert("e-1", TS_2025, "D1505")), true);
    size_t n_skills = f->r.n_skills, n_jobs = f->r.n_jobs;
    double weight0 = f->r.skills[0].weight, score0 = f->r.jobs[0].score;
    uint32_t item0 = f->r.skills[0].item, fiche0 = f->r.jobs[0].fiche;

    /* recency matters for this profile: counted to no year, the same profile weighs otherwise */
    profile undated = f->st.profile;
    undated.as_of_year = 0;
    assert_int_equal(matcher_run(f->m, f->rules.scratch, &undated, &f->r, NULL), 0);
    assert_true(f->r.skills[0].weight != weight0);

    /* as between two batches: the stored state does not keep as_of_year */
    f->st.profile.as_of_year = 0;
    f->rules.index_version = "test-2";
    const user_outcome *o = apply(f, upsert("e-1", TS_2026, "F1703"));
    assert_served(o, true);
    assert_int_equal(o->repeat, USER_REPEAT_SAME_ANSWER);
    assert_int_equal(o->ts, TS_2025);
    assert_false(o->state_changed);
    assert_int_equal(f->r.n_skills, n_skills);
    assert_int_equal(f->r.n_jobs, n_jobs);
    assert_int_equal(f->r.skills[0].item, item0);
    assert_int_equal(f->r.jobs[0].fiche, fiche0);
    assert_true(f->r.skills[0].weight == weight0);
    assert_true(f->r.jobs[0].score == score0);
    /* the repeat's content is ignored: the stored profile is what the first run matched */
    assert_string_equal(f->st.profile.experiences[0].rome, "D1505");
    assert_int_equal(f->st.profile.as_of_year, 0);
    assert_string_equal(f->st.rome_version, "test-1");
    assert_int_equal(f->st.updated_ts, TS_2025);
    assert_int_equal(f->st.n_recent, 1);

    /* a repeated confirmation answers jobs only, again */
    assert_served(apply(f, decide("e-2", TS_2026, (uint32_t[]){100001}, 1, NULL, 0, NULL, 0)),
                  false);
    o = apply(f, decide("e-2", TS_2026, (uint32_t[]){100005}, 1, NULL, 0, NULL, 0));
    assert_served(o, false);
    assert_int_equal(o->repeat, USER_REPEAT_SAME_ANSWER);
    assert_int_equal(o->ts, TS_2026);
    assert_codes(&f->st.profile.confirmed, (uint32_t[]){100001}, 1);
}

/* One event, one answer: after e-1 and e-2, a repeat of e-2 (the latest) is answered exactly as
 * e-2 was, and a repeat of e-1 (older: the state it produced is gone, e-2's answer supersedes
 * its) gets nothing and changes nothing; nor does it change which event is the latest. */
static void test_older_repeat_superseded(void **state) {
    fixture *f = *state;
    assert_served(apply(f, upsert("e-1", TS_2025, "D1505")), true);
    answer first = answer_of(&f->r);
    assert_served(apply(f, decide("e-2", TS_2025 + DAY_MS, (uint32_t[]){100001}, 1, NULL, 0,
                                  (uint32_t[]){100009}, 1)),
                  false);
    answer second = answer_of(&f->r);
    assert_true(memcmp(&first, &second, sizeof first) != 0); /* e-2 changed the answer */

    const user_outcome *o = apply(f, upsert("e-1", TS_2025, "D1505"));
    assert_int_equal(o->action, USER_EMIT_NOTHING);
    assert_int_equal(o->repeat, USER_REPEAT_SUPERSEDED);
    assert_false(o->skills || o->jobs || o->state_changed || o->matched);
    assert_int_equal(f->st.n_recent, 2);
    assert_string_equal(f->st.recent_event_ids[1], "e-2");
    assert_codes(&f->st.profile.confirmed, (uint32_t[]){100001}, 1);
    assert_codes(&f->st.profile.added, (uint32_t[]){100009}, 1);
    assert_int_equal(f->st.updated_ts, TS_2025 + DAY_MS);

    o = apply(f, decide("e-2", TS_2025 + DAY_MS, (uint32_t[]){100001}, 1, NULL, 0,
                        (uint32_t[]){100009}, 1));
    assert_served(o, false);
    assert_int_equal(o->repeat, USER_REPEAT_SAME_ANSWER);
    assert_int_equal(o->ts, TS_2025 + DAY_MS);
    assert_false(o->state_changed);
    assert_same_answer(&second, &f->r);

    /* however often, and in whatever order, the repeats come */
    assert_int_equal(apply(f, upsert("e-1", TS_2025, "D1505"))->action, USER_EMIT_NOTHING);
    assert_int_equal(apply(f, decide("e-2", TS_2026, NULL, 0, NULL, 0, NULL, 0))->repeat,
                     USER_REPEAT_SAME_ANSWER);
    assert_same_answer(&second, &f->r);
}

/* A repeat that fell out of the idempotency window is applied again, as a new event. */
static void test_replay_after_window(void **state) {
    fixture *f = *state;
    f->rules.window = 2;
    assert_served(apply(f, upsert("e-1", TS_2025, "D1505")), true);
    assert_served(apply(f, decide("e-2", TS_2025, (uint32_t[]){100001}, 1, NULL, 0, NULL, 0)),
                  false);
    assert_served(apply(f, decide("e-3", TS_2025, (uint32_t[]){100002}, 1, NULL, 0, NULL, 0)),
                  false);
    assert_int_equal(f->st.n_recent, 2);
    assert_string_equal(f->st.recent_event_ids[0], "e-2");

    const user_outcome *o = apply(f, upsert("e-1", TS_2026, "F1703"));
    assert_served(o, true);
    assert_int_equal(o->repeat, USER_NOT_REPEATED);
    assert_true(o->state_changed);
    assert_string_equal(f->st.profile.experiences[0].rome, "F1703");
    assert_int_equal(f->st.updated_ts, TS_2026);
    assert_string_equal(f->st.recent_event_ids[0], "e-3");
    assert_string_equal(f->st.recent_event_ids[1], "e-1");

    /* e-3 is still inside the window, and older than e-1 now: superseded */
    o = apply(f, decide("e-3", TS_2026, (uint32_t[]){100004}, 1, NULL, 0, NULL, 0));
    assert_int_equal(o->repeat, USER_REPEAT_SUPERSEDED);
    assert_int_equal(o->action, USER_EMIT_NOTHING);
    assert_codes(&f->st.profile.confirmed, (uint32_t[]){100001, 100002}, 2);
}

/* Erasure drops the profile and the decisions and answers with a tombstone, even when the stored
 * state could not be read; the applied event ids stay, so an older event delivered again after
 * the erasure gets nothing (one event, one answer); any other event on an unreadable state is
 * dead-lettered and leaves it alone. */
static void test_erasure_and_corrupt_state(void **state) {
    fixture *f = *state;
    assert_served(apply(f, upsert("e-1", TS_2025, "D1505")), true);
    assert_served(apply(f, decide("e-1b", TS_2025, (uint32_t[]){100001}, 1, NULL, 0, NULL, 0)),
                  false);
    const user_outcome *o = apply(f, new_event(EVENT_PROFILE_ERASED, "e-2", TS_2026));
    assert_int_equal(o->action, USER_EMIT_TOMBSTONE);
    assert_true(o->state_changed);
    assert_false(o->skills || o->jobs || o->matched || o->repeat);
    assert_false(f->st.has_profile);
    assert_int_equal(f->st.profile.n_experiences, 0);
    assert_int_equal(f->st.profile.confirmed.n, 0);
    assert_string_equal(f->st.rome_version, "");
    assert_int_equal(f->st.n_recent, 3);
    assert_string_equal(f->st.recent_event_ids[2], "e-2");
    assert_true(f->st.updated_ts == TS_2026);

    /* the repeat of an event before the erasure is superseded: no answer, nothing stored */
    o = apply(f, upsert("e-1", TS_2025, "D1505"));
    assert_int_equal(o->repeat, USER_REPEAT_SUPERSEDED);
    assert_int_equal(o->action, USER_EMIT_NOTHING);
    assert_false(f->st.has_profile);
    /* the erasure again: the same tombstone, the state as it was */
    o = apply(f, new_event(EVENT_PROFILE_ERASED, "e-2", TS_2026));
    assert_int_equal(o->action, USER_EMIT_TOMBSTONE);
    assert_int_equal(f->st.n_recent, 3);
    /* a new event starts the person afresh */
    o = apply(f, upsert("e-5", TS_2026, "D1505"));
    assert_served(o, true);
    assert_int_equal(o->repeat, USER_NOT_REPEATED);
    assert_int_equal(f->st.profile.confirmed.n, 0);

    o = apply_corrupt(f, upsert("e-3", TS_2026, "F1703"), true);
    assert_dead_letter(o, EVENT_ERR_CORRUPT_STATE);
    assert_false(o->matched);
    assert_string_equal(f->st.profile.experiences[0].rome, "D1505");
    assert_int_equal(f->st.n_recent, 4);

    o = apply_corrupt(f, new_event(EVENT_PROFILE_ERASED, "e-4", TS_2026), true);
    assert_int_equal(o->action, USER_EMIT_TOMBSTONE);
    assert_int_equal(f->st.profile.n_experiences, 0);
    assert_int_equal(f->st.n_recent, 1); /* an unreadable state's ids are not known */
    assert_string_equal(f->st.recent_event_ids[0], "e-4");
}

/* An erasure delivered again (a rewind after a kill or a rebalance) is a repeat like any other:
 * once the person has events after it, it is superseded and leaves their new state alone, so
 * that the repeat of their latest event is still answered from what that event stored. */
static void test_erasure_repeat_superseded(void **state) {
    fixture *f = *state;
    assert_served(apply(f, upsert("e-1", TS_2025, "D1505")), true);
    assert_int_equal(apply(f, new_event(EVENT_PROFILE_ERASED, "e-2", TS_2025))->action,
                     USER_EMIT_TOMBSTONE);
    const user_outcome *o = apply(f, new_event(EVENT_PROFILE_ERASED, "e-2", TS_2025));
    assert_int_equal(o->action, USER_EMIT_TOMBSTONE); /* the latest: the same tombstone */
    assert_int_equal(o->repeat, USER_REPEAT_SAME_ANSWER);
    assert_false(o->state_changed);
    assert_served(apply(f, upsert("e-3", TS_2026, "F1703")), true);
    answer third = answer_of(&f->r);

    o = apply(f, new_event(EVENT_PROFILE_ERASED, "e-2", TS_2025));
    assert_int_equal(o->action, USER_EMIT_NOTHING);
    assert_int_equal(o->repeat, USER_REPEAT_SUPERSEDED);
    assert_false(o->state_changed);
    assert_true(f->st.has_profile);
    assert_string_equal(f->st.profile.experiences[0].rome, "F1703");
    assert_int_equal(f->st.updated_ts, TS_2026);
    assert_int_equal(f->st.n_recent, 3);

    o = apply(f, upsert("e-3", TS_2026, "F1703"));
    assert_served(o, true);
    assert_int_equal(o->repeat, USER_REPEAT_SAME_ANSWER);
    assert_int_equal(o->ts, TS_2026);
    assert_same_answer(&third, &f->r);
}

/* The matcher's refusals: over a limit → over_limit, an unknown code → unknown_code; the state
 * is left as it was, so the next event is served. */
static void test_matcher_refusals(void **state) {
    fixture *f = *state;
    assert_served(apply(f, upsert("e-1", TS_2025, "D1505")), true);

    event many = upsert("e-2", TS_2025, "D1505");
    for (unsigned k = 1; k <= MATCHER_MAX_EXPERIENCES; k++) add_rome(&many.profile, "D1505", 2010);
    const user_outcome *o = apply(f, many);
    assert_dead_letter(o, EVENT_ERR_OVER_LIMIT);
    assert_true(o->matched);
    assert_non_null(strstr(o->why, "experiences"));

    event unknown = upsert("e-3", TS_2025, "D1505");
    profile_experience *x = profile_add_experience(&unknown.profile, NULL);
    x->kind = PROFILE_EXP_APPELLATION;
    x->appellation = 99;
    x->months = x->end_year = -1;
    o = apply(f, unknown);
    assert_dead_letter(o, EVENT_ERR_UNKNOWN_CODE);
    assert_non_null(strstr(o->why, "appellation"));

    o = apply(f, decide("e-4", TS_2025, (uint32_t[]){999999}, 1, NULL, 0, NULL, 0));
    assert_dead_letter(o, EVENT_ERR_UNKNOWN_CODE);
    assert_non_null(strstr(o->why, "confirmed"));

    /* nothing of the refused events was stored: not their ids, not their content */
    assert_int_equal(f->st.n_recent, 1);
    assert_int_equal(f->st.profile.n_experiences, 1);
    assert_int_equal(f->st.profile.confirmed.n, 0);
    assert_served(apply(f, decide("e-5", TS_2025, (uint32_t[]){100001}, 1, NULL, 0, NULL, 0)),
                  false);

    event odd = new_event(EVENT_PROFILE_UPSERTED, "e-6", TS_2025);
    odd.type = (event_type)0;
    assert_dead_letter(apply(f, odd), EVENT_ERR_UNKNOWN_TYPE);
}

/* The decisions cap: a person who decides more than the cap over many events keeps being served;
 * the oldest decisions go first (from the list holding the most older ones, confirmed first on a
 * tie), the latest always apply. */
static void test_decisions_cap(void **state) {
    fixture *f = *state;
    f->rules.max_decisions = 4;
    assert_served(apply(f, upsert("e-0", TS_2025, "D1505")), true);
    assert_served(
        apply(f, decide("e-1", TS_2025, (uint32_t[]){100001, 100002}, 2, NULL, 0, NULL, 0)), false);
    assert_served(
        apply(f, decide("e-2", TS_2025, NULL, 0, (uint32_t[]){100003, 100004}, 2, NULL, 0)), false);
    /* 6 decisions: the two oldest go, one confirmed (tie, confirmed first) then one rejected */
    assert_served(
        apply(f, decide("e-3", TS_2025, NULL, 0, NULL, 0, (uint32_t[]){100005, 100006}, 2)), false);
    assert_codes(&f->st.profile.confirmed, (uint32_t[]){100002}, 1);
    assert_codes(&f->st.profile.rejected, (uint32_t[]){100004}, 1);
    assert_codes(&f->st.profile.added, (uint32_t[]){100005, 100006}, 2);

    /* an event's own decisions are never dropped, even a re-decision of an old code */
    assert_served(
        apply(f, decide("e-4", TS_2025, (uint32_t[]){100004, 100007, 100008}, 3, NULL, 0, NULL, 0)),
        false);
    assert_codes(&f->st.profile.confirmed, (uint32_t[]){100004, 100007, 100008}, 3);
    assert_int_equal(f->st.profile.rejected.n, 0);
    assert_codes(&f->st.profile.added, (uint32_t[]){100006}, 1);

    /* many more events: every one served, never over the cap, the latest decision present */
    const uint32_t codes[] = {100001, 100002, 100003, 100005, 100009, 100010};
    for (size_t k = 0; k < 24; k++) {
        char id[16];
        snprintf(id, sizeof id, "e-%zu", 5 + k);
        uint32_t code = codes[k % 6];
        event ev = k % 2 ? decide(id, TS_2026, NULL, 0, &code, 1, NULL, 0)
                         : decide(id, TS_2026, &code, 1, NULL, 0, NULL, 0);
        assert_served(apply(f, ev), false);
        const profile *p = &f->st.profile;
        assert_int_equal(p->confirmed.n + p->rejected.n + p->added.n, 4);
        const profile_codes *latest = k % 2 ? &p->rejected : &p->confirmed;
        assert_int_equal(latest->v[latest->n - 1], code);
    }

    /* an upsert applies the cap to the stored decisions too (states stored before it) */
    f->rules.max_decisions = 2;
    assert_served(apply(f, upsert("e-99", TS_2026, "F1703")), true);
    const profile *p = &f->st.profile;
    assert_int_equal(p->confirmed.n + p->rejected.n + p->added.n, 2);
}

/* One event over the matcher's limit is still refused, over_limit: the cap keeps the event's own
 * decisions whole, so it cannot hide a breach. */
static void test_cap_keeps_one_event_whole(void **state) {
    fixture *f = *state;
    f->rules.max_decisions = 4;
    event ev = new_event(EVENT_SKILLS_CONFIRMED, "e-1", TS_2025);
    for (uint32_t k = 0; k <= MATCHER_MAX_DECISIONS; k++)
        assert_int_equal(profile_codes_push(&ev.profile.confirmed, 500000 + k, NULL), 0);
    const user_outcome *o = apply(f, ev);
    assert_dead_letter(o, EVENT_ERR_OVER_LIMIT);
    assert_non_null(strstr(o->why, "confirmed + rejected + added"));
    assert_int_equal(f->st.n_recent, 0);
}

static event rematch(const char *version, int64_t ts) {
    char id[64];
    snprintf(id, sizeof id, "rematch-%s-u-1", version);
    event ev = new_event(EVENT_PROFILE_REMATCH, id, ts);
    ev.rome_version = strdup(version);
    assert_non_null(ev.rome_version);
    return ev;
}

/* A rematch matches the stored profile (decisions included) on the current index, answers with
 * skills and jobs, and stamps the version, its id and ts without touching the profile; its
 * repeat while it is the latest event is answered the same, once a later event applied it is
 * superseded. */
static void test_rematch(void **state) {
    fixture *f = *state;
    assert_served(apply(f, upsert("e-1", TS_2025, "D1505")), true);
    assert_served(apply(f, decide("e-2", TS_2025, (uint32_t[]){100001}, 1, NULL, 0, NULL, 0)),
                  false);
    size_t n_jobs = f->r.n_jobs;
    double score0 = f->r.jobs[0].score;
    f->rules.index_version = "test-2";
    const user_outcome *o = apply(f, rematch("test-2", TS_2025 + DAY_MS));
    assert_served(o, true);
    assert_int_equal(o->repeat, USER_NOT_REPEATED);
    assert_true(o->state_changed);
    assert_int_equal(f->r.n_jobs, n_jobs);
    assert_true(f->r.jobs[0].score == score0);
    assert_string_equal(f->st.rome_version, "test-2");
    assert_int_equal(f->st.updated_ts, TS_2025 + DAY_MS);
    assert_int_equal(f->st.n_recent, 3);
    assert_string_equal(f->st.recent_event_ids[2], "rematch-test-2-u-1");
    assert_string_equal(f->st.profile.experiences[0].rome, "D1505");
    assert_codes(&f->st.profile.confirmed, (uint32_t[]){100001}, 1);
    assert_true(f->st.has_profile);

    answer refreshed = answer_of(&f->r);
    o = apply(f, rematch("test-2", TS_2025 + 2 * DAY_MS));
    assert_served(o, true);
    assert_int_equal(o->repeat, USER_REPEAT_SAME_ANSWER);
    assert_int_equal(o->ts, TS_2025 + DAY_MS); /* the rematch's as first applied */
    assert_false(o->state_changed);
    assert_same_answer(&refreshed, &f->r);
    assert_int_equal(f->st.updated_ts, TS_2025 + DAY_MS);

    assert_served(apply(f, decide("e-3", TS_2026, (uint32_t[]){100002}, 1, NULL, 0, NULL, 0)),
                  false);
    o = apply(f, rematch("test-2", TS_2025 + 2 * DAY_MS));
    assert_int_equal(o->action, USER_EMIT_NOTHING);
    assert_int_equal(o->repeat, USER_REPEAT_SUPERSEDED);
    assert_false(o->state_changed || o->matched);
    assert_string_equal(f->st.recent_event_ids[f->st.n_recent - 1], "e-3");
}

/* No stored profile (decisions only, or erased since the scan): nothing out, nothing stored. */
static void test_rematch_without_profile(void **state) {
    fixture *f = *state;
    const user_outcome *o = apply(f, rematch("test-1", TS_2025));
    assert_int_equal(o->action, USER_EMIT_NOTHING);
    assert_false(o->state_changed || o->skills || o->jobs || o->matched);
    assert_served(apply(f, decide("e-1", TS_2025, (uint32_t[]){100001}, 1, NULL, 0, NULL, 0)),
                  false);
    o = apply(f, rematch("test-1", TS_2025));
    assert_int_equal(o->action, USER_EMIT_NOTHING);
    assert_int_equal(f->st.n_recent, 1);

    assert_served(apply(f, upsert("e-2", TS_2025, "D1505")), true);
    assert_int_equal(apply(f, new_event(EVENT_PROFILE_ERASED, "e-3", TS_2025))->action,
                     USER_EMIT_TOMBSTONE);
    o = apply(f, rematch("test-1", TS_2025));
    assert_int_equal(o->action, USER_EMIT_NOTHING);
    assert_false(o->state_changed);
}

/* Another version than the index: it waits (retriable, state untouched) while a newer index is
 * loading; with none loading it is matched on the index there is, stamped with that version. */
static void test_rematch_other_version(void **state) {
    fixture *f = *state;
    assert_served(apply(f, upsert("e-1", TS_2025, "D1505")), true);
    f->rules.index_pending = true;
    event ev = rematch("test-2", TS_2025);
    px_error err = {0};
    assert_int_equal(user_rules_apply(&f->rules, &f->st, false, &ev, &f->r, &f->out, &err), -1);
    assert_int_equal(err.code, PX_EUNAVAILABLE);
    assert_true(px_code_retriable(err.code));
    assert_int_equal(f->st.n_recent, 1);

    /* the version it waits for is the index now: served */
    f->rules.index_version = "test-2";
    assert_int_equal(user_rules_apply(&f->rules, &f->st, false, &ev, &f->r, &f->out, &err), 0);
    assert_served(&f->out, true);
    event_free(&ev);

    /* a target that is not loading is served on the current index, stamped with it */
    f->rules.index_pending = false;
    f->rules.index_version = "test-3";
    const user_outcome *o = apply(f, rematch("test-4", TS_2025));
    assert_served(o, true);
    assert_int_equal(o->repeat, USER_NOT_REPEATED);
    assert_string_equal(f->st.rome_version, "test-3");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_upsert_and_confirm, setup, teardown),
        cmocka_unit_test_setup_teardown(test_replay, setup, teardown),
        cmocka_unit_test_setup_teardown(test_older_repeat_superseded, setup, teardown),
        cmocka_unit_test_setup_teardown(test_replay_after_window, setup, teardown),
        cmocka_unit_test_setup_teardown(test_erasure_and_corrupt_state, setup, teardown),
        cmocka_unit_test_setup_teardown(test_erasure_repeat_superseded, setup, teardown),
        cmocka_unit_test_setup_teardown(test_matcher_refusals, setup, teardown),
        cmocka_unit_test_setup_teardown(test_decisions_cap, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cap_keeps_one_event_whole, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rematch, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rematch_without_profile, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rematch_other_version, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
