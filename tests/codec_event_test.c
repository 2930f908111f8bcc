/* event_codec: decoding of the v1 input events — good events field by field, every refusal
 * reason with its message, and every limit at its boundary (limit passes, limit+1 fails). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "event_codec.h"
#include "msgpack_json.h"
#include "utf8.h"

/* Events are written in JSON for readability and converted with msgpack_json (tested on its
 * own). */
static msgpack_sbuffer to_msgpack(const char *json) {
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    msgpack_json_limits l = msgpack_json_limits_default();
    l.max_bytes = 1 << 22;
    px_error err;
    if (msgpack_json_text_to_msgpack(json, strlen(json), &sb, &l, &err))
        fail_msg("test JSON refused: %s", err.msg);
    return sb;
}

static int decode_json(const char *json, const char *key, const event_limits *limits, event *ev,
                       px_error *err) {
    msgpack_sbuffer sb = to_msgpack(json);
    int rc = event_decode(sb.data, sb.size, key, key ? strlen(key) : 0, limits, ev, err);
    msgpack_sbuffer_destroy(&sb);
    return rc;
}

#define ENVELOPE(type)                                                                             \
    "\"v\":1,\"type\":\"" type "\",\"event_id\":\"e-1\",\"user_id\":\"alice\","                    \
    "\"ts\":1764393600000"

static void test_profile_upserted_round_trip(void **state) {
    (void)state;
    event ev;
    px_error err;
    int rc = decode_json(
        "{" ENVELOPE("profile.upserted") ",\"experiences\":["
                                         "{\"appellation\":38720,\"months\":24,\"end_year\":2021},"
                                         "{\"rome\":\"D1505\",\"extra\":true},"
                                         "{\"title\":\"aide-soignante\",\"months\":0}],"
                                         "\"avoid\":[12345,\"no_weekend\"],\"domains\":[\"J\","
                                         "\"M18\"],\"exclude_domains\":[\"N\"],"
                                         "\"future_field\":{\"anything\":[1,2,3]}}",
        "alice", NULL, &ev, &err);
    assert_int_equal(rc, 0);
    assert_int_equal(ev.type, EVENT_PROFILE_UPSERTED);
    assert_string_equal(ev.event_id, "e-1");
    assert_string_equal(ev.user_id, "alice");
    assert_true(ev.ts == 1764393600000LL);
    const profile *p = &ev.profile;
    assert_int_equal(p->n_experiences, 3);
    assert_int_equal(p->experiences[0].kind, PROFILE_EXP_APPELLATION);
    assert_int_equal(p->experiences[0].appellation, 38720);
    assert_int_equal(p->experiences[0].months, 24);
    assert_int_equal(p->experiences[0].end_year, 2021);
    assert_false(p->experiences[0].extra);
    assert_int_equal(p->experiences[1].kind, PROFILE_EXP_ROME);
    assert_string_equal(p->experiences[1].rome, "D1505");
    assert_int_equal(p->experiences[1].months, -1);
    assert_int_equal(p->experiences[1].end_year, -1);
    assert_true(p->experiences[1].extra);
    assert_int_equal(p->experiences[2].kind, PROFILE_EXP_TITLE);
    assert_string_equal(p->experiences[2].title, "aide-soignante");
    assert_int_equal(p->experiences[2].months, 0);
    assert_int_equal(p->avoid_contextes.n, 1);
    assert_int_equal(p->avoid_contextes.v[0], 12345);
    assert_int_equal(p->avoid_named.n, 1);
    assert_string_equal(p->avoid_named.v[0], "no_weekend");
    assert_int_equal(p->domains.n, 2);
    assert_string_equal(p->domains.v[1], "M18");
    assert_int_equal(p->exclude_domains.n, 1);
    assert_string_equal(p->exclude_domains.v[0], "N");
    assert_int_equal(p->confirmed.n + p->rejected.n + p->added.n, 0);
    assert_false(p->include_regulated); /* default when absent */
    assert_int_equal(p->as_of_year, 0); /* the daemon sets it from ts, not the decoder */
    event_free(&ev);

    rc = decode_json("{" ENVELOPE("profile.upserted") ",\"experiences\":[{\"rome\":\"J1501\"}],"
                                                      "\"include_regulated\":true}",
                     "alice", NULL, &ev, &err);
    assert_int_equal(rc, 0);
    assert_true(ev.profile.include_regulated);
    event_free(&ev);
    rc = decode_json("{" ENVELOPE("profile.upserted") ",\"experiences\":[{\"rome\":\"J1501\"}],"
                                                      "\"include_regulated\":1}",
                     "alice", NULL, &ev, &err);
    assert_int_equal(rc, -1);
    assert_int_equal(err.reason, EVENT_ERR_WRONG_TYPE);
    assert_string_equal(err.msg, "include_regulated: expected a boolean, got integer");
}

/* ts → UTC year, with no locale or timezone: year boundaries and leap days. */
static void test_ts_year(void **state) {
    (void)state;
    const struct {
        int64_t ms;
        int32_t year;
    } cases[] = {
        {0, 1970},
        {31535999999LL, 1970},  /* 1970-12-31T23:59:59.999Z */
        {31536000000LL, 1971},  /* 1971-01-01T00:00:00Z */
        {951782400000LL, 2000}, /* 2000-02-29 (a leap day of a century year) */
        {978307199999LL, 2000}, /* 2000-12-31T23:59:59.999Z */
        {978307200000LL, 2001},
        {1764393600000LL, 2025}, /* 2025-11-29 */
        {1767225599999LL, 2025}, /* 2025-12-31T23:59:59.999Z */
        {1767225600000LL, 2026},
        {4102444800000LL, 2100}, /* 2100-01-01 (2100 is not leap) */
        {4107542400000LL, 2100}, /* 2100-03-01 */
        {-1, 1969},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        if (event_ts_year(cases[i].ms) != cases[i].year)
            fail_msg("%lld ms: got %d, expected %d", (long long)cases[i].ms,
                     event_ts_year(cases[i].ms), cases[i].year);
    /* every 1 January 00:00 UTC from 1970 to 2400 starts its year, the millisecond before ends the
     * previous one */
    int64_t days = 0;
    for (int32_t y = 1970; y <= 2400; y++) {
        assert_int_equal(event_ts_year(days * 86400000), y);
        if (days) assert_int_equal(event_ts_year(days * 86400000 - 1), y - 1);
        days += (y % 4 == 0 && (y % 100 != 0 || y % 400 == 0)) ? 366 : 365;
    }
}

static void test_skills_confirmed_and_erased(void **state) {
    (void)state;
    event ev;
    px_error err;
    assert_int_equal(
        decode_json(
            "{" ENVELOPE("skills.confirmed") ",\"confirmed\":[1,2],\"rejected\":[3],\"added\":[]}",
            "alice", NULL, &ev, &err),
        0);
    assert_int_equal(ev.type, EVENT_SKILLS_CONFIRMED);
    assert_int_equal(ev.profile.confirmed.n, 2);
    assert_int_equal(ev.profile.confirmed.v[1], 2);
    assert_int_equal(ev.profile.rejected.n, 1);
    assert_int_equal(ev.profile.rejected.v[0], 3);
    assert_int_equal(ev.profile.added.n, 0);
    assert_int_equal(ev.profile.n_experiences, 0);
    event_free(&ev);

    /* Only one list is enough. */
    assert_int_equal(
        decode_json("{" ENVELOPE("skills.confirmed") ",\"added\":[7]}", "alice", NULL, &ev, &err),
        0);
    assert_int_equal(ev.profile.added.v[0], 7);
    event_free(&ev);

    /* profile.erased ignores profile fields (they are unknown keys for it). */
    assert_int_equal(decode_json("{" ENVELOPE("profile.erased") ",\"experiences\":\"ignored\"}",
                                 "alice", NULL, &ev, &err),
                     0);
    assert_int_equal(ev.type, EVENT_PROFILE_ERASED);
    assert_int_equal(ev.profile.n_experiences, 0);
    event_free(&ev);

    /* profile.rematch carries the version it targets, which it needs. */
    assert_int_equal(decode_json("{" ENVELOPE("profile.rematch") ",\"rome_version\":\"4.0-61\"}",
                                 "alice", NULL, &ev, &err),
                     0);
    assert_int_equal(ev.type, EVENT_PROFILE_REMATCH);
    assert_string_equal(ev.rome_version, "4.0-61");
    event_free(&ev);
    assert_int_equal(decode_json("{" ENVELOPE("profile.rematch") "}", "alice", NULL, &ev, &err),
                     -1);
    assert_int_equal(err.reason, EVENT_ERR_MISSING_FIELD);
    assert_int_equal(
        decode_json(
            "{" ENVELOPE(
                "profile.rematch") ",\"rome_version\":\"123456789012345678901234567890123\"}",
            "alice", NULL, &ev, &err),
        -1);
    assert_int_equal(err.reason, EVENT_ERR_OVER_LIMIT);
}

/* --- refusals ------------------------------------------------------------------------------ */

typedef struct bad_case {
    const char *json; /* NULL: use raw */
    const char *raw;  /* raw msgpack bytes */
    size_t raw_len;
    const char *key;
    int reason;
    const char *msg_part; /* must appear in err.msg */
} bad_case;

static void expect_refusal(const bad_case *c) {
    event ev;
    px_error err;
    px_error_clear(&err);
    int rc;
    if (c->json) {
        rc = decode_json(c->json, c->key, NULL, &ev, &err);
    } else {
        rc = event_decode(c->raw, c->raw_len, c->key, c->key ? strlen(c->key) : 0, NULL, &ev, &err);
    }
    if (rc != -1 || err.reason != c->reason || !strstr(err.msg, c->msg_part))
        fail_msg("case %s: rc %d, reason %s (%d), message \"%s\"; expected %s containing \"%s\"",
                 c->json ? c->json : "(raw)", rc, event_reason_name(err.reason), err.reason,
                 err.msg, event_reason_name(c->reason), c->msg_part);
    assert_null(ev.event_id);
    assert_null(ev.user_id);
    assert_int_equal(ev.profile.n_experiences, 0);
}

static void test_refusals(void **state) {
    (void)state;
    static const char trailing[] = "\x81\xa1v\x01\xc0";
    static const char truncated[] = "\x81\xa1v\xa5"
                                    "ab";
    static const char overdeclared[] = "\xdd\x7f\xff\xff\xff";
    const bad_case cases[] = {
        {NULL, "\xc1", 1, "alice", EVENT_ERR_BAD_MSGPACK, "0xc1"},
        {NULL, truncated, sizeof truncated - 1, "alice", EVENT_ERR_BAD_MSGPACK,
         "declares 5 bytes but only 2 remain"},
        {NULL, overdeclared, sizeof overdeclared - 1, "alice", EVENT_ERR_BAD_MSGPACK,
         "declares 2147483647 elements"},
        {NULL, "", 0, "alice", EVENT_ERR_BAD_MSGPACK, "empty"},
        {NULL, trailing, sizeof trailing - 1, "alice", EVENT_ERR_TRAILING_BYTES,
         "1 trailing bytes"},
        {"[1,2]", NULL, 0, "alice", EVENT_ERR_NOT_A_MAP, "expected a map, got array"},
        {"{\"v\":1,\"type\":\"profile.erased\",\"user_id\":\"alice\",\"ts\":1}", NULL, 0, "alice",
         EVENT_ERR_MISSING_FIELD, "event_id: required field is missing"},
        {"{\"v\":\"1\",\"type\":\"profile.erased\",\"event_id\":\"e\",\"user_id\":\"alice\",\"ts\":"
         "1}",
         NULL, 0, "alice", EVENT_ERR_WRONG_TYPE, "v: expected an integer, got string"},
        {"{\"v\":2,\"type\":\"profile.erased\",\"event_id\":\"e\",\"user_id\":\"alice\",\"ts\":1}",
         NULL, 0, "alice", EVENT_ERR_UNKNOWN_VERSION, "v: version 2 is not supported"},
        {"{\"v\":1,\"type\":\"profile.deleted\",\"event_id\":\"e\",\"user_id\":\"alice\",\"ts\":1}",
         NULL, 0, "alice", EVENT_ERR_UNKNOWN_TYPE, "\"profile.deleted\""},
        {"{\"v\":1,\"type\":\"profile.erased\",\"event_id\":\"\",\"user_id\":\"alice\",\"ts\":1}",
         NULL, 0, "alice", EVENT_ERR_EMPTY_VALUE, "event_id: must not be empty"},
        {"{" ENVELOPE("profile.erased") "}", NULL, 0, "bob", EVENT_ERR_KEY_MISMATCH,
         "differs from user_id"},
        {"{" ENVELOPE("profile.erased") "}", NULL, 0, NULL, EVENT_ERR_KEY_MISMATCH, "no key"},
        {"{\"v\":1,\"type\":\"profile.erased\",\"event_id\":\"e\",\"user_id\":\"alice\",\"ts\":-5}",
         NULL, 0, "alice", EVENT_ERR_OUT_OF_RANGE, "ts: must be between 0"},
        {"{" ENVELOPE("profile.upserted") ",\"experiences\":[{\"rome\":\"D1505\"},{\"rome\":"
                                          "\"D1505\"},{\"appellation\":1,\"months\":\"12\"}]}",
         NULL, 0, "alice", EVENT_ERR_WRONG_TYPE,
         "experiences[2].months: expected an integer, got string"},
        {"{" ENVELOPE("profile.upserted") ",\"experiences\":[{\"appellation\":0}]}", NULL, 0,
         "alice", EVENT_ERR_OUT_OF_RANGE, "experiences[0].appellation: a code must be between 1"},
        {"{" ENVELOPE("profile.upserted") ",\"experiences\":[{\"appellation\":4294967296}]}", NULL,
         0, "alice", EVENT_ERR_OUT_OF_RANGE, "experiences[0].appellation"},
        {"{" ENVELOPE("profile.upserted") ",\"experiences\":[{\"appellation\":5,\"months\":1201}]}",
         NULL, 0, "alice", EVENT_ERR_OUT_OF_RANGE,
         "experiences[0].months: must be between 0 and 1200"},
        {"{" ENVELOPE(
             "profile.upserted") ",\"experiences\":[{\"appellation\":5,\"end_year\":1899}]}",
         NULL, 0, "alice", EVENT_ERR_OUT_OF_RANGE, "experiences[0].end_year"},
        {"{" ENVELOPE("profile.upserted") ",\"experiences\":[{\"rome\":\"Z1505\"}]}", NULL, 0,
         "alice", EVENT_ERR_BAD_FORMAT, "experiences[0].rome: expected a ROME fiche code"},
        {"{" ENVELOPE(
             "profile.upserted") ",\"experiences\":[{\"rome\":\"D1505\",\"title\":\"x\"}]}",
         NULL, 0, "alice", EVENT_ERR_CONFLICT, "experiences[0]: has both rome and title"},
        {"{" ENVELOPE("profile.upserted") ",\"experiences\":[{\"months\":3}]}", NULL, 0, "alice",
         EVENT_ERR_MISSING_FIELD, "experiences[0]: needs one of appellation, rome or title"},
        {"{" ENVELOPE("profile.upserted") ",\"experiences\":[{\"title\":\"\"}]}", NULL, 0, "alice",
         EVENT_ERR_EMPTY_VALUE, "experiences[0].title: must not be empty"},
        {"{" ENVELOPE("profile.upserted") ",\"experiences\":[]}", NULL, 0, "alice",
         EVENT_ERR_EMPTY_VALUE, "experiences"},
        {"{" ENVELOPE("profile.upserted") ",\"experiences\":[3]}", NULL, 0, "alice",
         EVENT_ERR_WRONG_TYPE, "experiences[0]: expected an object, got integer"},
        {"{" ENVELOPE("profile.upserted") ",\"experiences\":{}}", NULL, 0, "alice",
         EVENT_ERR_WRONG_TYPE, "experiences: expected an array, got map"},
        {"{" ENVELOPE("profile.upserted") "}", NULL, 0, "alice", EVENT_ERR_MISSING_FIELD,
         "experiences: required field is missing"},
        {"{" ENVELOPE(
             "profile.upserted") ",\"experiences\":[{\"rome\":\"D1505\"}],\"avoid\":[true]}",
         NULL, 0, "alice", EVENT_ERR_WRONG_TYPE,
         "avoid[0]: expected an integer (contexte code) or a string (named constraint), got "
         "boolean"},
        {"{" ENVELOPE("profile.upserted") ",\"experiences\":[{\"rome\":\"D1505\"}],\"avoid\":[\"No "
                                          "Weekend\"]}",
         NULL, 0, "alice", EVENT_ERR_BAD_FORMAT, "avoid[0]: a named constraint"},
        {"{" ENVELOPE(
             "profile.upserted") ",\"experiences\":[{\"rome\":\"D1505\"}],\"domains\":[\"jj\"]}",
         NULL, 0, "alice", EVENT_ERR_BAD_FORMAT, "domains[0]"},
        {"{" ENVELOPE(
             "profile.upserted") ",\"experiences\":[{\"rome\":\"D1505\"}],\"exclude_domains\":[1]}",
         NULL, 0, "alice", EVENT_ERR_WRONG_TYPE,
         "exclude_domains[0]: expected a string, got integer"},
        {"{" ENVELOPE("skills.confirmed") "}", NULL, 0, "alice", EVENT_ERR_MISSING_FIELD,
         "needs at least one of them"},
        {"{" ENVELOPE("skills.confirmed") ",\"confirmed\":[1,2],\"rejected\":[2]}", NULL, 0,
         "alice", EVENT_ERR_CONFLICT, "confirmed and rejected: code 2 is in both"},
        {"{" ENVELOPE("skills.confirmed") ",\"confirmed\":[1.5]}", NULL, 0, "alice",
         EVENT_ERR_WRONG_TYPE, "confirmed[0]: expected an integer, got float"},
        {"{" ENVELOPE("skills.confirmed") ",\"added\":[-3]}", NULL, 0, "alice",
         EVENT_ERR_OUT_OF_RANGE, "added[0]"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) expect_refusal(&cases[i]);
}

/* Refusals that JSON cannot express: invalid UTF-8, a NUL byte, a known key twice, a non-string
 * key. */
static void pack_str(msgpack_packer *pk, const char *s, size_t len) {
    msgpack_pack_str(pk, len);
    msgpack_pack_str_body(pk, s, len);
}

static void pack_envelope(msgpack_packer *pk, size_t extra_pairs, const char *user_id,
                          size_t user_len) {
    msgpack_pack_map(pk, 5 + extra_pairs);
    pack_str(pk, "v", 1);
    msgpack_pack_int(pk, 1);
    pack_str(pk, "type", 4);
    pack_str(pk, "profile.erased", 14);
    pack_str(pk, "event_id", 8);
    pack_str(pk, "e", 1);
    pack_str(pk, "user_id", 7);
    pack_str(pk, user_id, user_len);
    pack_str(pk, "ts", 2);
    msgpack_pack_int(pk, 1);
}

static void expect_raw(msgpack_sbuffer *sb, const char *key, size_t key_len, int reason,
                       const char *part) {
    event ev;
    px_error err;
    int rc = event_decode(sb->data, sb->size, key, key_len, NULL, &ev, &err);
    assert_int_equal(rc, -1);
    if (err.reason != reason || !strstr(err.msg, part))
        fail_msg("reason %s \"%s\"; expected %s with \"%s\"", event_reason_name(err.reason),
                 err.msg, event_reason_name(reason), part);
    msgpack_sbuffer_clear(sb);
}

static void test_refusals_binary(void **state) {
    (void)state;
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);

    pack_envelope(&pk, 0, "al\xffice", 6);
    expect_raw(&sb, "al\xffice", 6, EVENT_ERR_BAD_UTF8, "user_id: not valid UTF-8 (byte 2)");

    pack_envelope(&pk, 0, "al\0ice", 6);
    expect_raw(&sb, "al\0ice", 6, EVENT_ERR_BAD_FORMAT, "user_id: contains a NUL byte");

    pack_envelope(&pk, 1, "alice", 5);
    pack_str(&pk, "ts", 2);
    msgpack_pack_int(&pk, 2);
    expect_raw(&sb, "alice", 5, EVENT_ERR_DUPLICATE_KEY, "ts: the key appears twice");

    pack_envelope(&pk, 1, "alice", 5);
    msgpack_pack_int(&pk, 7);
    msgpack_pack_nil(&pk);
    expect_raw(&sb, "alice", 5, EVENT_ERR_WRONG_TYPE, "map keys must be strings, got integer");

    pack_envelope(&pk, 1, "alice", 5);
    pack_str(&pk, "\xc3\x28", 2);
    msgpack_pack_nil(&pk);
    expect_raw(&sb, "alice", 5, EVENT_ERR_BAD_UTF8, "a map key is not valid UTF-8");

    /* An unknown key with any value, even binary, is ignored. */
    pack_envelope(&pk, 1, "alice", 5);
    pack_str(&pk, "blob", 4);
    msgpack_pack_bin(&pk, 3);
    msgpack_pack_bin_body(&pk, "\0\1\2", 3);
    event ev;
    px_error err;
    assert_int_equal(event_decode(sb.data, sb.size, "alice", 5, NULL, &ev, &err), 0);
    event_free(&ev);
    msgpack_sbuffer_destroy(&sb);
}

/* --- limits at their boundary -------------------------------------------------------------- */

typedef struct text {
    char *s;
    size_t len, cap;
} text;

static void put(text *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void put(text *t, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (t->len + (size_t)n + 1 > t->cap) {
        t->cap = (t->len + (size_t)n + 1) * 2;
        t->s = realloc(t->s, t->cap);
        assert_non_null(t->s);
    }
    va_start(ap, fmt);
    vsnprintf(t->s + t->len, t->cap - t->len, fmt, ap);
    va_end(ap);
    t->len += (size_t)n;
}

typedef enum limit_kind {
    L_EXPERIENCES,
    L_COMPETENCES,
    L_AVOID,
    L_DOMAINS,
    L_EXCLUDE_DOMAINS,
    L_TITLE,
    L_EVENT_ID,
    L_USER_ID,
    L_DEPTH,
} limit_kind;

/* An event that uses `n` of the resource a limit bounds. */
static char *event_using(limit_kind kind, size_t n) {
    text t = {0};
    const char *user = "alice";
    char *long_id = NULL;
    if (kind == L_EVENT_ID || kind == L_USER_ID) {
        long_id = malloc(n + 1);
        memset(long_id, 'x', n);
        long_id[n] = '\0';
        if (kind == L_USER_ID) user = long_id;
    }
    const char *type = kind == L_COMPETENCES ? "skills.confirmed" : "profile.upserted";
    put(&t, "{\"v\":1,\"type\":\"%s\",\"event_id\":\"%s\",\"user_id\":\"%s\",\"ts\":1", type,
        kind == L_EVENT_ID ? long_id : "e", user);
    if (kind != L_COMPETENCES) {
        put(&t, ",\"experiences\":[");
        size_t n_exp = kind == L_EXPERIENCES ? n : 1;
        for (size_t i = 0; i < n_exp; i++) {
            if (kind == L_TITLE) {
                put(&t, "{\"title\":\"");
                for (size_t k = 0; k < n; k++) put(&t, "a");
                put(&t, "\"}");
            } else {
                put(&t, "%s{\"appellation\":%zu}", i ? "," : "", i + 1);
            }
        }
        put(&t, "]");
    }
    if (kind == L_COMPETENCES) {
        put(&t, ",\"confirmed\":[");
        for (size_t i = 0; i < n; i++) put(&t, "%s%zu", i ? "," : "", i + 1);
        put(&t, "]");
    }
    if (kind == L_AVOID) {
        put(&t, ",\"avoid\":[");
        for (size_t i = 0; i < n; i++) put(&t, "%s%zu", i ? "," : "", i + 1);
        put(&t, "]");
    }
    if (kind == L_DOMAINS || kind == L_EXCLUDE_DOMAINS) {
        put(&t, ",\"%s\":[", kind == L_DOMAINS ? "domains" : "exclude_domains");
        for (size_t i = 0; i < n; i++) put(&t, "%s\"A%02zu\"", i ? "," : "", i % 100);
        put(&t, "]");
    }
    if (kind ==
        L_DEPTH) { /* n levels of containers in all: the event map, then n-1 under an unknown key */
        put(&t, ",\"x\":");
        for (size_t i = 1; i < n; i++) put(&t, "[");
        for (size_t i = 1; i < n; i++) put(&t, "]");
    }
    put(&t, "}");
    free(long_id);
    return t.s;
}

static size_t *limit_field(event_limits *l, limit_kind kind) {
    switch (kind) {
    case L_EXPERIENCES: return &l->max_experiences;
    case L_COMPETENCES: return &l->max_competences;
    case L_AVOID: return &l->max_avoid;
    case L_DOMAINS:
    case L_EXCLUDE_DOMAINS: return &l->max_domains;
    case L_TITLE: return &l->max_title_bytes;
    case L_EVENT_ID:
    case L_USER_ID: return &l->max_id_bytes;
    case L_DEPTH: return NULL;
    }
    return NULL;
}

static void check_limit(limit_kind kind, size_t limit, const char *msg_part) {
    event_limits l = event_limits_default();
    if (kind == L_DEPTH)
        l.max_depth = (unsigned)limit;
    else
        *limit_field(&l, kind) = limit;
    size_t at = limit, over = limit + 1;
    const char *user_ok = "alice";
    char *json = event_using(kind, at);
    char *key = NULL;
    if (kind == L_USER_ID) {
        key = malloc(at + 1);
        memset(key, 'x', at);
        key[at] = '\0';
        user_ok = key;
    }
    event ev;
    px_error err;
    if (decode_json(json, user_ok, &l, &ev, &err))
        fail_msg("limit %d at %zu refused: %s", (int)kind, limit, err.msg);
    event_free(&ev);
    free(json);
    free(key);

    json = event_using(kind, over);
    key = NULL;
    if (kind == L_USER_ID) {
        key = malloc(over + 1);
        memset(key, 'x', over);
        key[over] = '\0';
        user_ok = key;
    }
    assert_int_equal(decode_json(json, user_ok, &l, &ev, &err), -1);
    if (err.reason != EVENT_ERR_OVER_LIMIT || !strstr(err.msg, msg_part))
        fail_msg("limit %d over by one: %s \"%s\", expected over_limit with \"%s\"", (int)kind,
                 event_reason_name(err.reason), err.msg, msg_part);
    free(json);
    free(key);
}

/* An unknown type is quoted in the refusal (the dead letter's message) cut to 64 bytes, at a
 * character: "typé" × 20 has an "é" across byte 64 (issue 12, found by fuzz_event). */
static void test_unknown_type_cut_at_character(void **state) {
    (void)state;
    char json[512], type[128] = "", want[128] = "\"";
    for (int i = 0; i < 20; i++) strcat(type, "typé");
    for (int i = 0; i < 12; i++) strcat(want, "typé");
    strcat(want, "typ\" is not one of");
    snprintf(json, sizeof json,
             "{\"v\":1,\"type\":\"%s\",\"event_id\":\"e\",\"user_id\":\"alice\",\"ts\":1}", type);
    event ev;
    px_error err;
    assert_int_equal(decode_json(json, "alice", NULL, &ev, &err), -1);
    assert_int_equal(err.reason, EVENT_ERR_UNKNOWN_TYPE);
    assert_true(utf8_valid(err.msg, strlen(err.msg), NULL));
    if (!strstr(err.msg, want)) fail_msg("'%s' lacks '%s'", err.msg, want);
}

static void test_limits_at_boundary(void **state) {
    (void)state;
    check_limit(L_EXPERIENCES, 5, "experiences: 6 entries, over the limit of 5");
    check_limit(L_EXPERIENCES, 32, "experiences: 33 entries");
    check_limit(L_COMPETENCES, 10, "11 codes, over the limit of 10");
    check_limit(L_AVOID, 4, "avoid: 5 entries, over the limit of 4");
    check_limit(L_DOMAINS, 3, "domains: 4 entries, over the limit of 3");
    check_limit(L_EXCLUDE_DOMAINS, 3, "exclude_domains: 4 entries");
    check_limit(L_TITLE, 20, "experiences[0].title: 21 bytes, over the limit of 20");
    check_limit(L_EVENT_ID, 16, "event_id: 17 bytes, over the limit of 16");
    check_limit(L_USER_ID, 16, "user_id: 17 bytes, over the limit of 16");
    check_limit(L_DEPTH, 8, "nests deeper than 8 levels");
}

static void test_message_size_limit(void **state) {
    (void)state;
    msgpack_sbuffer sb = to_msgpack("{" ENVELOPE("profile.erased") "}");
    event_limits l = event_limits_default();
    event ev;
    px_error err;
    l.max_message_bytes = sb.size;
    assert_int_equal(event_decode(sb.data, sb.size, "alice", 5, &l, &ev, &err), 0);
    event_free(&ev);
    l.max_message_bytes = sb.size - 1;
    assert_int_equal(event_decode(sb.data, sb.size, "alice", 5, &l, &ev, &err), -1);
    assert_int_equal(err.reason, EVENT_ERR_OVER_LIMIT);
    char expected[80];
    snprintf(expected, sizeof expected, "%zu bytes, over the limit of %zu", sb.size, sb.size - 1);
    assert_non_null(strstr(err.msg, expected));
    msgpack_sbuffer_destroy(&sb);
}

static void test_limits_validate(void **state) {
    (void)state;
    event_limits l = event_limits_default();
    px_error err;
    assert_int_equal(event_limits_validate(&l, &err), 0);
    l.max_depth = 2;
    assert_int_equal(event_limits_validate(&l, &err), -1);
    assert_non_null(strstr(err.msg, "max_depth"));
    l = event_limits_default();
    l.max_experiences = 0;
    assert_int_equal(event_limits_validate(&l, &err), -1);
    assert_non_null(strstr(err.msg, "max_experiences must be at least 1"));
}

/* --- the envelope-less profile of `passerelle match` ---------------------------------------- */

static void test_decode_profile(void **state) {
    (void)state;
    msgpack_sbuffer sb = to_msgpack(
        "{\"user_id\":\"u7\",\"experiences\":[{\"rome\":\"K2111\"}],\"confirmed\":[10],"
        "\"rejected\":[11],\"added\":[12],\"avoid\":[\"no_night\"],\"domains\":[\"K\"]}");
    msgpack_unpacked up;
    msgpack_unpacked_init(&up);
    size_t off = 0;
    assert_int_equal(msgpack_unpack_next(&up, sb.data, sb.size, &off), MSGPACK_UNPACK_SUCCESS);
    profile p;
    char *user = NULL;
    px_error err;
    assert_int_equal(event_decode_profile(&up.data, NULL, &p, &user, &err), 0);
    assert_string_equal(user, "u7");
    assert_string_equal(p.experiences[0].rome, "K2111");
    assert_int_equal(p.confirmed.v[0], 10);
    assert_int_equal(p.rejected.v[0], 11);
    assert_int_equal(p.added.v[0], 12);
    assert_string_equal(p.avoid_named.v[0], "no_night");
    assert_int_equal(p.as_of_year, 0); /* no ts: recency is not counted */
    assert_false(p.include_regulated);
    free(user);
    profile_free(&p);
    msgpack_unpacked_destroy(&up);
    msgpack_sbuffer_destroy(&sb);

    /* ts sets as_of_year (its UTC year); include_regulated is read as in profile.upserted. */
    sb = to_msgpack("{\"ts\":1767225600000,\"experiences\":[{\"rome\":\"K2111\"}],"
                    "\"include_regulated\":true}");
    msgpack_unpacked_init(&up);
    off = 0;
    assert_int_equal(msgpack_unpack_next(&up, sb.data, sb.size, &off), MSGPACK_UNPACK_SUCCESS);
    assert_int_equal(event_decode_profile(&up.data, NULL, &p, &user, &err), 0);
    assert_null(user);
    assert_int_equal(p.as_of_year, 2026);
    assert_true(p.include_regulated);
    profile_free(&p);
    msgpack_unpacked_destroy(&up);
    msgpack_sbuffer_destroy(&sb);
    const char *bad_ts[][2] = {{"-5", "ts: must be between 0 and"},
                               {"\"2025\"", "ts: expected an integer"}};
    for (size_t i = 0; i < 2; i++) {
        char json[128];
        snprintf(json, sizeof json, "{\"ts\":%s,\"experiences\":[{\"rome\":\"K2111\"}]}",
                 bad_ts[i][0]);
        sb = to_msgpack(json);
        msgpack_unpacked_init(&up);
        off = 0;
        assert_int_equal(msgpack_unpack_next(&up, sb.data, sb.size, &off), MSGPACK_UNPACK_SUCCESS);
        assert_int_equal(event_decode_profile(&up.data, NULL, &p, &user, &err), -1);
        if (strncmp(err.msg, bad_ts[i][1], strlen(bad_ts[i][1]))) fail_msg("%s: %s", json, err.msg);
        msgpack_unpacked_destroy(&up);
        msgpack_sbuffer_destroy(&sb);
    }

    /* Without user_id it still decodes; the same errors as events otherwise. */
    sb = to_msgpack("{\"experiences\":[{\"rome\":\"K2111\"}],\"confirmed\":[10],\"added\":[10]}");
    msgpack_unpacked_init(&up);
    off = 0;
    assert_int_equal(msgpack_unpack_next(&up, sb.data, sb.size, &off), MSGPACK_UNPACK_SUCCESS);
    assert_int_equal(event_decode_profile(&up.data, NULL, &p, &user, &err), -1);
    assert_int_equal(err.reason, EVENT_ERR_CONFLICT);
    assert_null(user);
    msgpack_unpacked_destroy(&up);
    msgpack_sbuffer_destroy(&sb);
}

/* The field tables (event_codec_fields, which the contract test compares with docs/asyncapi.yaml)
 * are what the decoder enforces: for every field of every input message, leaving it out fails
 * with missing_field exactly when the table says required, and a value of the wrong type fails
 * with wrong_type naming the field. */
static void check_table(const char *message, const char *full_json, const char *parent_path,
                        const char *skip_removal) {
    size_t n;
    const event_field *fields = event_codec_fields(message, &n);
    assert_non_null(fields);
    for (size_t i = 0; i < n; i++) {
        for (int mutation = 0; mutation < 2; mutation++) {
            cJSON *root = cJSON_Parse(full_json);
            assert_non_null(root);
            cJSON *holder = root;
            if (parent_path)
                holder = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(root, parent_path), 0);
            bool skip = !cJSON_GetObjectItemCaseSensitive(holder, fields[i].name) ||
                        (mutation == 0 && skip_removal && !strcmp(fields[i].name, skip_removal));
            if (skip) {
                cJSON_Delete(root);
                continue;
            }
            if (mutation == 0)
                cJSON_DeleteItemFromObjectCaseSensitive(holder, fields[i].name);
            else /* an object is the wrong type for every field of the v1 inputs */
                cJSON_ReplaceItemInObjectCaseSensitive(holder, fields[i].name,
                                                       cJSON_CreateObject());
            char *event_text = cJSON_PrintUnformatted(root);
            cJSON_Delete(root);
            event ev;
            px_error err;
            px_error_clear(&err);
            int rc = decode_json(event_text, "alice", NULL, &ev, &err);
            char field[64];
            snprintf(field, sizeof field, "%s%s%s", parent_path ? parent_path : "",
                     parent_path ? "[0]." : "", fields[i].name);
            if (mutation == 0 && !fields[i].required) {
                /* Optional: still decodes (one of appellation/rome/title, and one decision list,
                 * remain in the full events used here). */
                if (rc) fail_msg("%s: leaving out optional %s: %s", message, field, err.msg);
                event_free(&ev);
            } else {
                int want = mutation == 0 ? EVENT_ERR_MISSING_FIELD : EVENT_ERR_WRONG_TYPE;
                if (rc != -1 || err.reason != want || strncmp(err.msg, field, strlen(field)))
                    fail_msg("%s: %s %s: got %s \"%s\"", message,
                             mutation ? "mistyping" : "leaving out", field,
                             event_reason_name(err.reason), err.msg);
            }
            cJSON_free(event_text);
        }
    }
}

static void test_table_drives_decoder(void **state) {
    (void)state;
    check_table("envelope", "{" ENVELOPE("profile.erased") "}", NULL, NULL);
    check_table(
        "profile.upserted",
        "{" ENVELOPE("profile.upserted") ",\"experiences\":[{\"appellation\":1}],\"avoid\":[1],"
                                         "\"domains\":[\"J\"],"
                                         "\"exclude_domains\":[\"K\"],\"include_regulated\":false}",
        NULL, NULL);
    check_table(
        "skills.confirmed",
        "{" ENVELOPE("skills.confirmed") ",\"confirmed\":[1],\"rejected\":[2],\"added\":[3]}", NULL,
        NULL);
    /* An experience holds exactly one of appellation/rome/title: each in turn (leaving out the only
     * one is the "needs one of" refusal, tested above). */
    const char *identities[][2] = {{"\"appellation\":1", "appellation"},
                                   {"\"rome\":\"D1505\"", "rome"},
                                   {"\"title\":\"x\"", "title"}};
    for (size_t k = 0; k < 3; k++) {
        char json[512];
        snprintf(json, sizeof json,
                 "{" ENVELOPE("profile.upserted") ",\"experiences\":[{%s,\"months\":1,\"end_year\":"
                                                  "2000,\"extra\":false}]}",
                 identities[k][0]);
        check_table("experience", json, "experiences", identities[k][1]);
    }
}

/* --- unknown keys: reported with their path, refused only when strict ------------------------ */

typedef struct heard {
    size_t n;
    char text[8][3 * EVENT_KEY_PATH_MAX]; /* "path|field|suggestion" */
} heard;

static void hear(const event_unknown_key *key, void *ctx) {
    heard *h = ctx;
    assert_true(h->n < 8);
    snprintf(h->text[h->n++], sizeof h->text[0], "%s|%s|%s", key->path, key->field,
             key->suggestion ? key->suggestion : "-");
}

static int decode_with(const char *json, bool strict, heard *h, event *ev, px_error *err) {
    msgpack_sbuffer sb = to_msgpack(json);
    const event_decode_options opts = {
        .on_unknown_key = h ? hear : NULL, .ctx = h, .strict = strict};
    int rc = event_decode_with(sb.data, sb.size, "alice", 5, &opts, ev, err);
    msgpack_sbuffer_destroy(&sb);
    return rc;
}

#define TYPOS_EVENT                                                                                \
    "{" ENVELOPE("profile.upserted") ",\"avoids\":[\"no_weekend\"],\"experiences\":[{\"rome\":"    \
                                     "\"D1505\"},{\"title\":\"caissier\",\"titel\":\"x\"}],"       \
                                     "\"Avoid\":[1],\"zzz_future\":{\"a\":1}}"

static void test_unknown_keys_reported(void **state) {
    (void)state;
    event ev;
    px_error err;
    heard h = {0};
    assert_int_equal(decode_with(TYPOS_EVENT, false, &h, &ev, &err), 0);
    assert_int_equal(h.n, 4);
    assert_string_equal(h.text[0], "avoids|avoids|avoid");
    assert_string_equal(h.text[1], "Avoid|Avoid|avoid");
    assert_string_equal(h.text[2], "zzz_future|zzz_future|-");
    assert_string_equal(h.text[3], "experiences[1].titel|experiences[].titel|title");
    assert_int_equal(ev.profile.avoid_named.n + ev.profile.avoid_contextes.n, 0); /* ignored */
    event_free(&ev);
    /* Without options, as before: accepted, nothing reported. */
    assert_int_equal(decode_json(TYPOS_EVENT, "alice", NULL, &ev, &err), 0);
    assert_int_equal(ev.profile.n_experiences, 2);
    event_free(&ev);
    /* Each message knows its own keys (and the envelope's): a skills.confirmed has no experiences;
     * a long key is cut to fit the path, at a character boundary. */
    char json[1024], key[241];
    memset(key, 'k', 240);
    key[126] = '\xc3', key[127] = '\xa9'; /* "é" across the cut at 127 bytes */
    key[240] = '\0';
    snprintf(json, sizeof json,
             "{" ENVELOPE("skills.confirmed") ",\"confirmed\":[1],\"confirm\":[2],"
                                              "\"experiences\":[],\"%s\":0}",
             key);
    h.n = 0;
    assert_int_equal(decode_with(json, false, &h, &ev, &err), 0);
    assert_int_equal(h.n, 3);
    assert_string_equal(h.text[0], "confirm|confirm|confirmed");
    assert_string_equal(h.text[1], "experiences|experiences|-");
    assert_int_equal(strchr(h.text[2], '|') - h.text[2], 126); /* "kk…k", without half an "é" */
    event_free(&ev);
}

#define UPSERT_D1505 "{" ENVELOPE("profile.upserted") ",\"experiences\":[{\"rome\":\"D1505\"}]"

static void test_unknown_keys_strict(void **state) {
    (void)state;
    event ev;
    px_error err;
    const struct {
        const char *json, *msg;
    } cases[] = {
        {UPSERT_D1505 ",\"avoids\":[\"no_weekend\"]}",
         "avoids: unknown key; did you mean \"avoid\"?"},
        {UPSERT_D1505 ",\"Avoid\":[1]}", "Avoid: unknown key; did you mean \"avoid\"?"},
        {"{" ENVELOPE("profile.upserted") ",\"experiences\":[{\"rome\":\"D1505\"},{\"titel\":1}]}",
         "experiences[1].titel: unknown key; did you mean \"title\"?"},
        {UPSERT_D1505 ",\"x\":1}", "x: unknown key"},
        {"{" ENVELOPE("profile.erased") ",\"experiences\":[]}", "experiences: unknown key"},
        {"{" ENVELOPE("skills.confirmed") ",\"rejected\":[1],\"typ\":\"x\"}",
         "typ: unknown key; did you mean \"type\"?"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        heard h = {0};
        if (decode_with(cases[i].json, true, &h, &ev, &err) != -1 ||
            err.reason != EVENT_ERR_UNKNOWN_FIELD || err.code != PX_EINVAL ||
            strcmp(err.msg, cases[i].msg))
            fail_msg("case %zu: %s \"%s\", expected unknown_field \"%s\"", i,
                     event_reason_name(err.reason), err.msg, cases[i].msg);
        assert_int_equal(h.n, 1); /* the refused key was reported too */
        assert_int_equal(ev.profile.n_experiences, 0);
    }
    /* A strict decode of an event without unknown keys is the lenient one. */
    assert_int_equal(decode_with(UPSERT_D1505 "}", true, NULL, &ev, &err), 0);
    event_free(&ev);
    /* The envelope-less profile of a match line, with a typo. */
    msgpack_sbuffer sb =
        to_msgpack("{\"user_id\":\"u\",\"experiences\":[{\"rome\":\"D1505\"}],\"avoids\":[]}");
    msgpack_unpacked up;
    msgpack_unpacked_init(&up);
    assert_int_equal(msgpack_unpack_next(&up, sb.data, sb.size, NULL), MSGPACK_UNPACK_SUCCESS);
    profile p;
    const event_decode_options strict = {.strict = true};
    assert_int_equal(event_decode_profile_with(&up.data, &strict, &p, NULL, &err), -1);
    assert_int_equal(err.reason, EVENT_ERR_UNKNOWN_FIELD);
    assert_string_equal(err.msg, "avoids: unknown key; did you mean \"avoid\"?");
    assert_int_equal(event_decode_profile_with(&up.data, NULL, &p, NULL, &err), 0);
    profile_free(&p);
    msgpack_unpacked_destroy(&up);
    msgpack_sbuffer_destroy(&sb);
}

static void test_reason_names(void **state) {
    (void)state;
    /* Every reason has a distinct snake_case name (they are the DLQ `reason` values). */
    for (int a = 0; a < EVENT_REASON_COUNT; a++) {
        const char *name = event_reason_name(a);
        assert_non_null(name);
        assert_string_not_equal(name, "unknown");
        for (const char *c = name; *c; c++)
            assert_true((*c >= 'a' && *c <= 'z') || (*c >= '0' && *c <= '9') || *c == '_');
        for (int b = 0; b < a; b++) assert_string_not_equal(name, event_reason_name(b));
    }
    assert_string_equal(event_reason_name(EVENT_REASON_COUNT), "unknown");
    assert_string_equal(event_reason_name(EVENT_ERR_WRONG_TYPE), "wrong_type");
    /* The code a refusal carries says what the daemon does: retry, dead-letter as over a limit,
     * as an unknown code, or as invalid. */
    assert_int_equal(event_reason_code(EVENT_ERR_NOMEM), PX_ENOMEM);
    assert_int_equal(event_reason_code(EVENT_ERR_OVER_LIMIT), PX_ELIMIT);
    assert_int_equal(event_reason_code(EVENT_ERR_UNKNOWN_CODE), PX_ENOTFOUND);
    assert_int_equal(event_reason_code(EVENT_ERR_WRONG_TYPE), PX_EINVAL);
    assert_string_equal(event_reason_name(EVENT_ERR_UNKNOWN_FIELD), "unknown_field");
    assert_int_equal(event_reason_code(EVENT_ERR_UNKNOWN_FIELD), PX_EINVAL);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_profile_upserted_round_trip),
        cmocka_unit_test(test_skills_confirmed_and_erased),
        cmocka_unit_test(test_refusals),
        cmocka_unit_test(test_refusals_binary),
        cmocka_unit_test(test_limits_at_boundary),
        cmocka_unit_test(test_message_size_limit),
        cmocka_unit_test(test_limits_validate),
        cmocka_unit_test(test_decode_profile),
        cmocka_unit_test(test_ts_year),
        cmocka_unit_test(test_table_drives_decoder),
        cmocka_unit_test(test_unknown_keys_reported),
        cmocka_unit_test(test_unknown_keys_strict),
        cmocka_unit_test(test_unknown_type_cut_at_character),
        cmocka_unit_test(test_reason_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
