/* dlq_record and event_codec: dead-letter records (encoding, and decoding with each refusal) and
 * the persistent user state (round trips, the idempotency window, and corrupt states that must be
 * refused without crashing). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "dlq_record.h"
#include "event_codec.h"
#include "matcher.h"
#include "msgpack_json.h"

/* Encodes a DLQ record and reads it back as JSON (the msgpack_json mapping: bin → {"$bin"}). */
static cJSON *dlq_to_json(const dlq_record *rec) {
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    px_error err;
    assert_int_equal(dlq_record_encode(rec, &sb, &err), 0);
    cJSON *json = msgpack_json_from_bytes(sb.data, sb.size, NULL, &err);
    assert_non_null(json);
    msgpack_sbuffer_destroy(&sb);
    return json;
}

static void test_dlq_record_all_fields(void **state) {
    (void)state;
    static const char original[] = "\x81\xa1v\xc1"; /* the refused bytes, kept exactly */
    dlq_record rec = {
        .value = original,
        .value_len = sizeof original - 1,
        .key = "al\xffice",
        .key_len = 6,
        .topic = "passerelle.profile.v1",
        .partition = 3,
        .offset = 1234567890123LL,
        .reason = EVENT_ERR_BAD_MSGPACK,
        .message = "(message): msgpack: byte 0xc1",
        .event_id = "e-9",
        .ts = 1764393600000LL,
    };
    cJSON *json = dlq_to_json(&rec);
    assert_int_equal(cJSON_GetArraySize(json), 11);
    assert_int_equal(cJSON_GetObjectItemCaseSensitive(json, "v")->valueint, 1);
    assert_string_equal(cJSON_GetObjectItemCaseSensitive(json, "type")->valuestring, "dlq.record");
    assert_string_equal(cJSON_GetObjectItemCaseSensitive(json, "reason")->valuestring,
                        "bad_msgpack");
    assert_string_equal(cJSON_GetObjectItemCaseSensitive(json, "message")->valuestring,
                        rec.message);
    assert_string_equal(cJSON_GetObjectItemCaseSensitive(json, "topic")->valuestring, rec.topic);
    assert_int_equal(cJSON_GetObjectItemCaseSensitive(json, "partition")->valueint, 3);
    assert_true(cJSON_GetObjectItemCaseSensitive(json, "offset")->valuedouble == 1234567890123.0);
    assert_true(cJSON_GetObjectItemCaseSensitive(json, "ts")->valuedouble == 1764393600000.0);
    /* bin fields surface as {"$bin": base64}: "\x81\xa1v\xc1" is gaF2wQ==, "al\xffice" YWz/aWNl. */
    assert_string_equal(
        cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(json, "value"), "$bin")
            ->valuestring,
        "gaF2wQ==");
    assert_string_equal(
        cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(json, "key"), "$bin")
            ->valuestring,
        "YWz/aWNl");
    assert_string_equal(cJSON_GetObjectItemCaseSensitive(json, "event_id")->valuestring, "e-9");
    cJSON_Delete(json);
}

static void test_dlq_record_minimal(void **state) {
    (void)state;
    dlq_record rec = {.topic = "passerelle.skills.v1",
                      .partition = 0,
                      .offset = 0,
                      .reason = EVENT_ERR_UNKNOWN_CODE,
                      .message = "confirmed[0]: unknown competence 99",
                      .ts = 1};
    cJSON *json = dlq_to_json(&rec);
    /* No key, no event_id: omitted; no value: nil (a tombstone was dead-lettered). */
    assert_int_equal(cJSON_GetArraySize(json), 9);
    assert_null(cJSON_GetObjectItemCaseSensitive(json, "key"));
    assert_null(cJSON_GetObjectItemCaseSensitive(json, "event_id"));
    assert_true(cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(json, "value")));
    assert_string_equal(cJSON_GetObjectItemCaseSensitive(json, "reason")->valuestring,
                        "unknown_code");
    cJSON_Delete(json);

    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    px_error err;
    rec.topic = NULL;
    size_t before = sb.size;
    assert_int_equal(dlq_record_encode(&rec, &sb, &err), -1);
    assert_int_equal(sb.size, before);
    msgpack_sbuffer_destroy(&sb);
}

/* Encodes rec, decodes it back into *v; u keeps the object the view points into. */
static int dlq_round_trip(const dlq_record *rec, msgpack_sbuffer *sb, msgpack_unpacked *u,
                          dlq_record_view *v, px_error *err) {
    msgpack_sbuffer_init(sb);
    msgpack_unpacked_init(u);
    assert_int_equal(dlq_record_encode(rec, sb, err), 0);
    assert_int_equal(msgpack_unpack_next(u, sb->data, sb->size, NULL), MSGPACK_UNPACK_SUCCESS);
    return dlq_record_decode(&u->data, v, err);
}

static void dlq_done(msgpack_sbuffer *sb, msgpack_unpacked *u) {
    msgpack_unpacked_destroy(u);
    msgpack_sbuffer_destroy(sb);
}

static void test_dlq_decode_round_trip(void **state) {
    (void)state;
    static const char original[] = "\x81\xa1v\xc1";
    dlq_record rec = {
        .value = original,
        .value_len = sizeof original - 1,
        .key = "al\xffice",
        .key_len = 6,
        .topic = "passerelle.profile.v1",
        .partition = 3,
        .offset = 1234567890123LL,
        .reason = EVENT_ERR_BAD_MSGPACK,
        .message = "(message): msgpack: byte 0xc1",
        .event_id = "e-9",
        .ts = 1764393600000LL,
    };
    msgpack_sbuffer sb;
    msgpack_unpacked u;
    dlq_record_view v;
    px_error err;
    assert_int_equal(dlq_round_trip(&rec, &sb, &u, &v, &err), 0);
    assert_int_equal(v.topic_len, strlen(rec.topic));
    assert_memory_equal(v.topic, rec.topic, v.topic_len);
    assert_int_equal(v.reason_len, strlen("bad_msgpack"));
    assert_memory_equal(v.reason, "bad_msgpack", v.reason_len);
    assert_int_equal(v.message_len, strlen(rec.message));
    assert_memory_equal(v.message, rec.message, v.message_len);
    assert_int_equal(v.event_id_len, 3);
    assert_memory_equal(v.event_id, "e-9", 3);
    assert_int_equal(v.value_len, rec.value_len);
    assert_memory_equal(v.value, original, v.value_len);
    assert_true(v.has_key);
    assert_int_equal(v.key_len, 6);
    assert_memory_equal(v.key, rec.key, 6);
    assert_int_equal(v.partition, 3);
    assert_int_equal(v.offset, 1234567890123LL);
    assert_int_equal(v.ts, 1764393600000LL);
    dlq_done(&sb, &u);

    /* No key, no event_id: absent in the view too. */
    rec.key = NULL;
    rec.event_id = NULL;
    assert_int_equal(dlq_round_trip(&rec, &sb, &u, &v, &err), 0);
    assert_false(v.has_key);
    assert_null(v.event_id);
    assert_int_equal(v.event_id_len, 0);
    dlq_done(&sb, &u);
}

/* Decodes the JSON text of a record (binary as {"$bin"}); u keeps what *v points into. */
static int dlq_decode_json(const char *json, msgpack_sbuffer *sb, msgpack_unpacked *u,
                           dlq_record_view *v, px_error *err) {
    msgpack_sbuffer_init(sb);
    msgpack_unpacked_init(u);
    assert_int_equal(msgpack_json_text_to_msgpack(json, strlen(json), sb, NULL, err), 0);
    assert_int_equal(msgpack_unpack_next(u, sb->data, sb->size, NULL), MSGPACK_UNPACK_SUCCESS);
    px_error_clear(err);
    return dlq_record_decode(&u->data, v, err);
}

/* Expects the record given as JSON text to be refused for that reason, saying so. */
static void expect_dlq_refused(const char *json, int reason, const char *says) {
    msgpack_sbuffer sb;
    msgpack_unpacked u;
    dlq_record_view v;
    px_error err;
    assert_int_equal(dlq_decode_json(json, &sb, &u, &v, &err), -1);
    assert_int_equal(err.code, PX_EINVAL);
    assert_int_equal(err.reason, reason);
    if (!strstr(err.msg, says)) fail_msg("%s: \"%s\" does not say \"%s\"", json, err.msg, says);
    dlq_done(&sb, &u);
}

/* Over max_bytes: the record keeps the original's head (64 KiB, or what the limit leaves), says
 * truncated and original_size, and fits; under it, nothing is cut. */
static void test_dlq_truncated_round_trip(void **state) {
    (void)state;
    size_t big_len = 1536 * 1024;
    char *big = malloc(big_len);
    assert_non_null(big);
    for (size_t i = 0; i < big_len; i++) big[i] = (char)(i * 7);
    dlq_record rec = {.value = big,
                      .value_len = big_len,
                      .key = "alice",
                      .key_len = 5,
                      .topic = "passerelle.profile.v1",
                      .reason = EVENT_ERR_OVER_LIMIT,
                      .message = "(message): 1572864 bytes, at most 65536",
                      .event_id = "e-big",
                      .max_bytes = 1000000 - 1024};
    msgpack_sbuffer sb;
    msgpack_unpacked u;
    dlq_record_view v;
    px_error err;
    assert_int_equal(dlq_round_trip(&rec, &sb, &u, &v, &err), 0);
    assert_true(sb.size <= rec.max_bytes);
    assert_true(v.truncated);
    assert_int_equal(v.original_size, (int64_t)big_len);
    assert_int_equal(v.value_len, DLQ_RECORD_HEAD_MAX);
    assert_memory_equal(v.value, big, v.value_len);
    assert_int_equal(v.event_id_len, 5);
    dlq_done(&sb, &u);

    /* A limit that leaves less than 64 KiB: as much of the head as fits, to the byte. */
    rec.max_bytes = 4000;
    assert_int_equal(dlq_round_trip(&rec, &sb, &u, &v, &err), 0);
    assert_true(sb.size <= 4000 && sb.size >= 3990);
    assert_true(v.truncated);
    assert_memory_equal(v.value, big, v.value_len);
    dlq_done(&sb, &u);

    /* Within the limit: the whole original, no truncated, no original_size. */
    rec.value_len = 1000;
    assert_int_equal(dlq_round_trip(&rec, &sb, &u, &v, &err), 0);
    assert_false(v.truncated);
    assert_int_equal(v.original_size, -1);
    assert_int_equal(v.value_len, 1000);
    dlq_done(&sb, &u);
    free(big);
}

static void test_dlq_replay_count(void **state) {
    (void)state;
    assert_int_equal(dlq_replay_count(NULL, 0), 0);
    assert_int_equal(dlq_replay_count("0", 1), 0);
    assert_int_equal(dlq_replay_count("12", 2), 12);
    assert_int_equal(dlq_replay_count("", 0), -1);
    assert_int_equal(dlq_replay_count("1x", 2), -1);
    assert_int_equal(dlq_replay_count("-1", 2), -1);
    assert_int_equal(dlq_replay_count("99999999999999999999", 20), -1);
}

static void test_dlq_decode_refusals(void **state) {
    (void)state;
    expect_dlq_refused("[1,2]", EVENT_ERR_NOT_A_MAP, "not a MessagePack map");
    expect_dlq_refused("{\"topic\":\"t\",\"value\":{\"$bin\":\"gQ==\"}}", EVENT_ERR_UNKNOWN_TYPE,
                       "type is not \"dlq.record\"");
    expect_dlq_refused("{\"type\":\"profile.upserted\",\"topic\":\"t\","
                       "\"value\":{\"$bin\":\"gQ==\"}}",
                       EVENT_ERR_UNKNOWN_TYPE, "not a dead-letter record");
    expect_dlq_refused("{\"type\":\"dlq.record\",\"value\":{\"$bin\":\"gQ==\"}}",
                       EVENT_ERR_MISSING_FIELD, "without a source topic");
    expect_dlq_refused("{\"type\":\"dlq.record\",\"topic\":\"\",\"value\":{\"$bin\":\"gQ==\"}}",
                       EVENT_ERR_MISSING_FIELD, "without a source topic");
    expect_dlq_refused("{\"type\":\"dlq.record\",\"topic\":7,\"value\":{\"$bin\":\"gQ==\"}}",
                       EVENT_ERR_MISSING_FIELD, "without a source topic");
    expect_dlq_refused("{\"type\":\"dlq.record\",\"topic\":\"t\",\"value\":null}",
                       EVENT_ERR_MISSING_FIELD, "without original bytes");
    expect_dlq_refused("{\"type\":\"dlq.record\",\"topic\":\"t\"}", EVENT_ERR_MISSING_FIELD,
                       "without original bytes");

    /* A dead-lettered tombstone (value nil) is encoded, but cannot be replayed. */
    dlq_record rec = {.topic = "t", .message = "m", .reason = EVENT_ERR_EMPTY_VALUE};
    msgpack_sbuffer sb;
    msgpack_unpacked u;
    dlq_record_view v;
    px_error err;
    assert_int_equal(dlq_round_trip(&rec, &sb, &u, &v, &err), -1);
    assert_int_equal(err.reason, EVENT_ERR_MISSING_FIELD);
    dlq_done(&sb, &u);
}

/* Fields of another type than the table's are left empty, unknown keys ignored. */
static void test_dlq_decode_lenient(void **state) {
    (void)state;
    static const char json[] = "{\"type\":\"dlq.record\",\"topic\":\"t\","
                               "\"value\":{\"$bin\":\"gQ==\"},\"partition\":-1,\"offset\":\"7\","
                               "\"reason\":3,\"key\":\"k\",\"later\":1}";
    msgpack_sbuffer sb;
    msgpack_unpacked u;
    dlq_record_view v;
    px_error err;
    assert_int_equal(dlq_decode_json(json, &sb, &u, &v, &err), 0);
    assert_int_equal(v.partition, -1);
    assert_int_equal(v.offset, -1);
    assert_int_equal(v.ts, -1);
    assert_null(v.reason);
    assert_false(v.has_key);
    assert_int_equal(v.value_len, 1);
    assert_memory_equal(v.value, "\x81", 1);
    dlq_done(&sb, &u);
}

static void fill_state(user_state *st) {
    px_error err;
    memset(st, 0, sizeof *st);
    st->has_profile = true;
    strcpy(st->rome_version, "4.0-60");
    st->updated_ts = 1764393600123LL;
    profile *p = &st->profile;
    profile_experience *e = profile_add_experience(p, &err);
    e->kind = PROFILE_EXP_APPELLATION;
    e->appellation = 38720;
    e->months = 24;
    e = profile_add_experience(p, &err);
    e->kind = PROFILE_EXP_ROME;
    strcpy(e->rome, "D1505");
    e->end_year = 2019;
    e->extra = true;
    e = profile_add_experience(p, &err);
    e->kind = PROFILE_EXP_TITLE;
    e->title = strdup("éducatrice de jeunes enfants");
    profile_codes_push(&p->avoid_contextes, 4294967295u, &err);
    profile_strings_push(&p->avoid_named, "no_weekend", 10, &err);
    profile_strings_push(&p->domains, "K", 1, &err);
    profile_strings_push(&p->exclude_domains, "N11", 3, &err);
    profile_codes_push(&p->confirmed, 100, &err);
    profile_codes_push(&p->rejected, 200, &err);
    profile_codes_push(&p->added, 300, &err);
    p->include_regulated = true;
    user_state_remember(st, "e-1", 8, &err);
    user_state_remember(st, "e-2", 8, &err);
}

static void assert_states_equal(const user_state *a, const user_state *b) {
    assert_int_equal(a->has_profile, b->has_profile);
    assert_string_equal(a->rome_version, b->rome_version);
    assert_true(a->updated_ts == b->updated_ts);
    assert_int_equal(a->n_recent, b->n_recent);
    for (size_t i = 0; i < a->n_recent; i++)
        assert_string_equal(a->recent_event_ids[i], b->recent_event_ids[i]);
    const profile *p = &a->profile, *q = &b->profile;
    assert_int_equal(p->include_regulated, q->include_regulated);
    assert_int_equal(p->n_experiences, q->n_experiences);
    for (size_t i = 0; i < p->n_experiences; i++) {
        const profile_experience *x = &p->experiences[i], *y = &q->experiences[i];
        assert_int_equal(x->kind, y->kind);
        assert_int_equal(x->appellation, y->appellation);
        assert_string_equal(x->rome, y->rome);
        if (x->title || y->title) assert_string_equal(x->title, y->title);
        assert_int_equal(x->months, y->months);
        assert_int_equal(x->end_year, y->end_year);
        assert_int_equal(x->extra, y->extra);
    }
    const profile_codes *codes[][2] = {{&p->avoid_contextes, &q->avoid_contextes},
                                       {&p->confirmed, &q->confirmed},
                                       {&p->rejected, &q->rejected},
                                       {&p->added, &q->added}};
    for (size_t c = 0; c < 4; c++) {
        assert_int_equal(codes[c][0]->n, codes[c][1]->n);
        for (size_t i = 0; i < codes[c][0]->n; i++)
            assert_int_equal(codes[c][0]->v[i], codes[c][1]->v[i]);
    }
    const profile_strings *strings[][2] = {{&p->avoid_named, &q->avoid_named},
                                           {&p->domains, &q->domains},
                                           {&p->exclude_domains, &q->exclude_domains}};
    for (size_t s = 0; s < 3; s++) {
        assert_int_equal(strings[s][0]->n, strings[s][1]->n);
        for (size_t i = 0; i < strings[s][0]->n; i++)
            assert_string_equal(strings[s][0]->v[i], strings[s][1]->v[i]);
    }
}

static void test_state_round_trip(void **state) {
    (void)state;
    user_state st, back;
    fill_state(&st);
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    px_error err;
    assert_int_equal(user_state_encode(&st, &sb, &err), 0);
    assert_int_equal(user_state_decode(sb.data, sb.size, &back, &err), 0);
    assert_states_equal(&st, &back);
    /* Encoding is deterministic: the decoded state encodes to the same bytes. */
    msgpack_sbuffer again;
    msgpack_sbuffer_init(&again);
    assert_int_equal(user_state_encode(&back, &again, &err), 0);
    assert_int_equal(again.size, sb.size);
    assert_memory_equal(again.data, sb.data, sb.size);
    user_state_free(&back);
    user_state_free(&st);
    msgpack_sbuffer_destroy(&again);

    /* An empty state (decisions may arrive before any profile). */
    memset(&st, 0, sizeof st);
    msgpack_sbuffer_clear(&sb);
    assert_int_equal(user_state_encode(&st, &sb, &err), 0);
    assert_int_equal(user_state_decode(sb.data, sb.size, &back, &err), 0);
    assert_false(back.has_profile);
    assert_string_equal(back.rome_version, "");
    assert_int_equal(back.n_recent, 0);
    user_state_free(&back);
    msgpack_sbuffer_destroy(&sb);
}

static void test_idempotency_window(void **state) {
    (void)state;
    user_state st;
    memset(&st, 0, sizeof st);
    px_error err;
    char id[16];
    for (int i = 0; i < 10; i++) {
        snprintf(id, sizeof id, "e-%d", i);
        assert_int_equal(user_state_remember(&st, id, 4, &err), 0);
        assert_true(user_state_seen(&st, id));
    }
    assert_int_equal(st.n_recent, 4);
    assert_false(user_state_seen(&st, "e-5")); /* dropped: oldest beyond the window */
    assert_true(user_state_seen(&st, "e-6"));  /* the 4 most recent stay, oldest first */
    assert_string_equal(st.recent_event_ids[0], "e-6");
    assert_string_equal(st.recent_event_ids[3], "e-9");
    assert_int_equal(user_state_remember(&st, "x", 0, &err), -1);
    assert_int_equal(err.reason, EVENT_ERR_OUT_OF_RANGE);
    user_state_free(&st);
}

static void expect_corrupt(const char *bytes, size_t len, const char *part) {
    user_state st;
    px_error err;
    assert_int_equal(user_state_decode(bytes, len, &st, &err), -1);
    assert_int_equal(err.reason, EVENT_ERR_CORRUPT_STATE);
    if (!strstr(err.msg, part)) fail_msg("\"%s\" lacks \"%s\"", err.msg, part);
    assert_int_equal(st.n_recent, 0);
    assert_int_equal(st.profile.n_experiences, 0);
}

static void test_corrupt_states(void **state) {
    (void)state;
    user_state st;
    fill_state(&st);
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    px_error err;
    assert_int_equal(user_state_encode(&st, &sb, &err), 0);
    user_state_free(&st);

    /* Every strict prefix is refused. */
    for (size_t len = 0; len < sb.size; len++) {
        user_state back;
        assert_int_equal(user_state_decode(sb.data, len, &back, &err), -1);
        assert_int_equal(err.reason, EVENT_ERR_CORRUPT_STATE);
    }
    /* Every single-byte change either still decodes or is refused; never a crash or a leak. */
    char *copy = malloc(sb.size);
    for (size_t i = 0; i < sb.size; i++)
        for (int delta = 1; delta < 256; delta += 37) {
            memcpy(copy, sb.data, sb.size);
            copy[i] = (char)(copy[i] + delta);
            user_state back;
            if (user_state_decode(copy, sb.size, &back, &err) == 0)
                user_state_free(&back);
            else
                assert_true(err.reason == EVENT_ERR_CORRUPT_STATE);
        }
    free(copy);

    /* Wrong format version (first element 3, or 0, instead of 2). */
    assert_int_equal((unsigned char)sb.data[1], USER_STATE_FORMAT);
    memcpy(sb.data + 1, "\x03", 1);
    expect_corrupt(sb.data, sb.size, "unknown format version");
    memcpy(sb.data + 1, "\x00", 1);
    expect_corrupt(sb.data, sb.size, "unknown format version");
    /* Format 1 with format 2's 14 elements. */
    memcpy(sb.data + 1, "\x01", 1);
    expect_corrupt(sb.data, sb.size, "format 1 has 13 elements, not 14");
    msgpack_sbuffer_destroy(&sb);

    expect_corrupt("\x93\x01\xc3\xa0", 4, "not an array of the size of format 1 or 2");
    expect_corrupt("\x81\xa1v\x01", 4, "not an array of the size of format 1 or 2");
    expect_corrupt("", 0, "empty");
    /* Nesting deeper than a state has. */
    expect_corrupt("\x91\x91\x91\x91\x01", 5, "deeper");
}

static void test_state_bad_elements(void **state) {
    (void)state;
    /* Hand-built format-1 arrays with one wrong element each. */
    struct {
        const char *json;
        const char *part;
    } cases[] = {
        {"[1,\"yes\",\"4.0-60\",0,[],[],[],[],[],[],[],[],[]]", "has_profile is not a boolean"},
        {"[1,true,60,0,[],[],[],[],[],[],[],[],[]]", "rome_version is not a version label"},
        {"[1,true,\"\",-1,[],[],[],[],[],[],[],[],[]]", "updated_ts is not a timestamp"},
        {"[1,true,\"\",0,[1],[],[],[],[],[],[],[],[]]", "a list entry is not a string"},
        {"[1,true,\"\",0,[],[[5,1,-1,-1,false]],[],[],[],[],[],[],[]]",
         "an experience kind is unknown"},
        {"[1,true,\"\",0,[],[[1,\"Z1\",-1,-1,false]],[],[],[],[],[],[],[]]",
         "a fiche code is malformed"},
        {"[1,true,\"\",0,[],[[0,7,-1,-1,0]],[],[],[],[],[],[],[]]", "extra is not a boolean"},
        {"[1,true,\"\",0,[],[[0,7,-1]],[],[],[],[],[],[],[]]",
         "an experience is not a 5-element array"},
        {"[1,true,\"\",0,[],[],[-4],[],[],[],[],[],[]]", "a code is not a 32-bit unsigned integer"},
        {"[1,true,\"\",0,[],[],[],[],[],[],[4294967296],[],[]]",
         "a code is not a 32-bit unsigned integer"},
        {"[1,true,\"\",0,[],[],[],{},[],[],[],[],[]]", "a string list is not an array"},
        {"[2,true,\"\",0,[],[],[],[],[],[],[],[],[],1]", "include_regulated is not a boolean"},
        {"[2,true,\"\",0,[],[],[],[],[],[],[],[],[]]", "format 2 has 14 elements, not 13"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        msgpack_sbuffer sb;
        msgpack_sbuffer_init(&sb);
        px_error err;
        assert_int_equal(
            msgpack_json_text_to_msgpack(cases[i].json, strlen(cases[i].json), &sb, NULL, &err), 0);
        expect_corrupt(sb.data, sb.size, cases[i].part);
        msgpack_sbuffer_destroy(&sb);
    }
}

/* include_regulated is persisted (format 2), and a state written before it (format 1) still reads,
 * as include_regulated false, and is written back as format 2. */
static void test_state_include_regulated(void **state) {
    (void)state;
    px_error err;
    for (int on = 0; on < 2; on++) {
        user_state st, back;
        fill_state(&st);
        st.profile.include_regulated = on;
        st.profile.as_of_year = 2025; /* not stored: each event brings its own */
        msgpack_sbuffer sb;
        msgpack_sbuffer_init(&sb);
        assert_int_equal(user_state_encode(&st, &sb, &err), 0);
        assert_int_equal(user_state_decode(sb.data, sb.size, &back, &err), 0);
        assert_int_equal(back.profile.include_regulated, on);
        assert_int_equal(back.profile.as_of_year, 0);
        user_state_free(&back);
        user_state_free(&st);
        msgpack_sbuffer_destroy(&sb);
    }
    const char *v1 = "[1,true,\"4.0-60\",5,[\"e-1\"],[[1,\"D1505\",-1,2019,false]],[300803],"
                     "[\"no_night\"],[],[],[100],[],[]]";
    msgpack_sbuffer sb, again;
    msgpack_sbuffer_init(&sb);
    msgpack_sbuffer_init(&again);
    assert_int_equal(msgpack_json_text_to_msgpack(v1, strlen(v1), &sb, NULL, &err), 0);
    user_state st;
    if (user_state_decode(sb.data, sb.size, &st, &err)) fail_msg("format 1: %s", err.msg);
    assert_false(st.profile.include_regulated);
    assert_string_equal(st.profile.experiences[0].rome, "D1505");
    assert_int_equal(st.profile.avoid_contextes.v[0], 300803);
    assert_int_equal(st.profile.confirmed.v[0], 100);
    assert_true(user_state_seen(&st, "e-1"));
    assert_int_equal(user_state_encode(&st, &again, &err), 0);
    assert_int_equal((unsigned char)again.data[0], 0x90 + 14); /* fixarray of format 2 */
    assert_int_equal(again.data[1], 2);
    user_state_free(&st);
    msgpack_sbuffer_destroy(&sb);
    msgpack_sbuffer_destroy(&again);
}

static event event_of(event_type type, const char *id, int64_t ts) {
    event ev;
    memset(&ev, 0, sizeof ev);
    ev.type = type;
    ev.event_id = (char *)id;
    ev.ts = ts;
    return ev;
}

/* The profile the daemon matches for an event: include_regulated from the upsert, kept by a later
 * skills.confirmed; as_of_year from the event being processed (its ts), never from the state. */
static void test_next_profile(void **state) {
    (void)state;
    px_error err;
    user_state st;
    memset(&st, 0, sizeof st);
    profile_codes_push(&st.profile.rejected, 7, &err); /* a decision before any profile */

    event up = event_of(EVENT_PROFILE_UPSERTED, "e-1", 1764393600000LL); /* 2025-11-29 */
    profile_experience *e = profile_add_experience(&up.profile, &err);
    e->kind = PROFILE_EXP_ROME;
    strcpy(e->rome, "J1501");
    e->end_year = 2019;
    up.profile.include_regulated = true;
    profile next;
    assert_int_equal(user_state_next_profile(&st, &up, MATCHER_MAX_DECISIONS, &next, &err), 0);
    assert_int_equal(next.as_of_year, 2025);
    assert_true(next.include_regulated);
    assert_int_equal(next.n_experiences, 1);
    assert_int_equal(next.rejected.n, 1); /* decisions so far are kept */
    profile_free(&st.profile);
    st.profile = next;

    /* the state goes to Redis and back (as between two batches) */
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    assert_int_equal(user_state_encode(&st, &sb, &err), 0);
    user_state_free(&st);
    assert_int_equal(user_state_decode(sb.data, sb.size, &st, &err), 0);
    msgpack_sbuffer_destroy(&sb);
    assert_int_equal(st.profile.as_of_year, 0);

    event conf = event_of(EVENT_SKILLS_CONFIRMED, "e-2", 1767225600000LL); /* 2026-01-01 */
    profile_codes_push(&conf.profile.confirmed, 7, &err);
    assert_int_equal(user_state_next_profile(&st, &conf, MATCHER_MAX_DECISIONS, &next, &err), 0);
    assert_int_equal(next.as_of_year, 2026);
    assert_true(next.include_regulated);
    assert_string_equal(next.experiences[0].rome, "J1501");
    assert_int_equal(next.confirmed.n, 1); /* 7 moved from rejected to confirmed */
    assert_int_equal(next.rejected.n, 0);
    profile_free(&next);

    /* a new upsert replaces include_regulated */
    up.profile.include_regulated = false;
    up.ts = 946684800000LL; /* 2000-01-01 */
    assert_int_equal(user_state_next_profile(&st, &up, MATCHER_MAX_DECISIONS, &next, &err), 0);
    assert_false(next.include_regulated);
    assert_int_equal(next.as_of_year, 2000);
    profile_free(&next);

    event erased = event_of(EVENT_PROFILE_ERASED, "e-3", 0);
    assert_int_equal(user_state_next_profile(&st, &erased, MATCHER_MAX_DECISIONS, &next, &err), -1);
    assert_int_equal(err.reason, EVENT_ERR_UNKNOWN_TYPE);
    assert_int_equal(next.n_experiences, 0);
    profile_free(&up.profile);
    profile_free(&conf.profile);
    user_state_free(&st);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_dlq_record_all_fields),
        cmocka_unit_test(test_dlq_record_minimal),
        cmocka_unit_test(test_dlq_decode_round_trip),
        cmocka_unit_test(test_dlq_truncated_round_trip),
        cmocka_unit_test(test_dlq_replay_count),
        cmocka_unit_test(test_dlq_decode_refusals),
        cmocka_unit_test(test_dlq_decode_lenient),
        cmocka_unit_test(test_state_round_trip),
        cmocka_unit_test(test_idempotency_window),
        cmocka_unit_test(test_corrupt_states),
        cmocka_unit_test(test_state_bad_elements),
        cmocka_unit_test(test_state_include_regulated),
        cmocka_unit_test(test_next_profile),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
