/* Seeded random and mutated inputs through every decoder of untrusted bytes. Nothing may crash,
 * leak (ASan build) or break these properties:
 *   - msgpack_scan() agrees with msgpack-c: what it accepts, msgpack-c unpacks completely;
 *   - event_decode() either succeeds (and then the Kafka key equals user_id) or refuses with a
 *     known reason and a message, leaving the event empty;
 *   - user_state_decode() either succeeds or says corrupt_state;
 *   - msgpack → JSON text, when it succeeds, reads back to msgpack that gives the same JSON bytes.
 * The seed is fixed so that a failure is reproducible; PASSERELLE_FUZZ_ITERATIONS overrides the
 * iteration count. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "event_codec.h"
#include "msgpack_json.h"
#include "msgpack_scan.h"

static uint64_t rng_state = 0x9e3779b97f4a7c15ULL;

static uint64_t next_random(void) { /* xorshift64* */
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * 0x2545f4914f6cdd1dULL;
}

static const char *const seed_events[] = {
    ("{\"v\":1,\"type\":\"profile.upserted\",\"event_id\":\"e-1\",\"user_id\":\"alice\",\"ts\":"
     "1764393600000,"
     "\"experiences\":[{\"appellation\":38720,\"months\":24,\"end_year\":2021},{\"rome\":\"D1505\","
     "\"extra\":true},"
     "{\"title\":\"aide-soignante\"}],\"avoid\":[12345,\"no_weekend\"],\"domains\":[\"J\",\"M18\"],"
     "\"exclude_domains\":[\"N\"]}"),
    ("{\"v\":1,\"type\":\"skills.confirmed\",\"event_id\":\"e-2\",\"user_id\":\"alice\",\"ts\":1,"
     "\"confirmed\":[1,2],"
     "\"rejected\":[3],\"added\":[4]}"),
    "{\"v\":1,\"type\":\"profile.erased\",\"event_id\":\"e-3\",\"user_id\":\"alice\",\"ts\":2,"
    "\"x\":{\"$bin\":\"AAEC\"}}",
};

typedef struct seeds {
    msgpack_sbuffer bufs[8];
    size_t n;
} seeds;

static void add_seed_json(seeds *s, const char *json) {
    msgpack_sbuffer_init(&s->bufs[s->n]);
    px_error err;
    if (msgpack_json_text_to_msgpack(json, strlen(json), &s->bufs[s->n], NULL, &err))
        fail_msg("%s", err.msg);
    s->n++;
}

static void build_seeds(seeds *s) {
    s->n = 0;
    for (size_t i = 0; i < sizeof seed_events / sizeof seed_events[0]; i++)
        add_seed_json(s, seed_events[i]);
    user_state st;
    memset(&st, 0, sizeof st);
    px_error err;
    st.has_profile = true;
    profile_experience *e = profile_add_experience(&st.profile, &err);
    e->kind = PROFILE_EXP_TITLE;
    e->title = strdup("boulanger");
    profile_codes_push(&st.profile.confirmed, 7, &err);
    user_state_remember(&st, "e-1", 4, &err);
    msgpack_sbuffer_init(&s->bufs[s->n]);
    assert_int_equal(user_state_encode(&st, &s->bufs[s->n++], &err), 0);
    user_state_free(&st);
}

/* A random input: pure noise, or a seed with a few bytes changed, cut or duplicated. */
static size_t make_input(const seeds *s, unsigned char *buf, size_t cap) {
    uint64_t r = next_random();
    if (r % 4 == 0) {
        size_t len = (size_t)(next_random() % 97);
        for (size_t i = 0; i < len; i++) buf[i] = (unsigned char)next_random();
        return len;
    }
    const msgpack_sbuffer *seed = &s->bufs[next_random() % s->n];
    size_t len = seed->size < cap ? seed->size : cap;
    memcpy(buf, seed->data, len);
    int edits = 1 + (int)(next_random() % 4);
    for (int k = 0; k < edits && len; k++) {
        size_t at = (size_t)(next_random() % len);
        switch (next_random() % 4) {
        case 0: buf[at] = (unsigned char)next_random(); break;
        case 1: buf[at] ^= (unsigned char)(1u << (next_random() % 8)); break;
        case 2: len = at; break; /* truncate */
        default:                 /* duplicate a span at the end, if room */
            if (len + 8 <= cap) {
                memcpy(buf + len, buf + at, at + 8 <= len ? 8 : len - at);
                len += at + 8 <= len ? 8 : len - at;
            }
        }
    }
    return len;
}

static void check_scan_agrees(const unsigned char *buf, size_t len) {
    if (msgpack_scan((const char *)buf, len, MSGPACK_SCAN_MAX_DEPTH, NULL)) return;
    msgpack_unpacked up;
    msgpack_unpacked_init(&up);
    size_t off = 0;
    assert_int_equal(msgpack_unpack_next(&up, (const char *)buf, len, &off),
                     MSGPACK_UNPACK_SUCCESS);
    assert_int_equal(off, len);
    msgpack_unpacked_destroy(&up);
}

static bool check_event(const unsigned char *buf, size_t len) {
    event ev;
    px_error err;
    px_error_clear(&err);
    if (event_decode((const char *)buf, len, "alice", 5, NULL, &ev, &err) == 0) {
        assert_string_equal(ev.user_id, "alice");
        assert_true(ev.type >= EVENT_PROFILE_UPSERTED && ev.type <= EVENT_SKILLS_CONFIRMED);
        event_free(&ev);
        return true;
    }
    assert_true(err.reason > EVENT_OK && err.reason < EVENT_REASON_COUNT);
    assert_true(err.reason != EVENT_ERR_NOMEM && err.reason != EVENT_ERR_CORRUPT_STATE &&
                err.reason != EVENT_ERR_UNKNOWN_CODE);
    assert_true(err.msg[0] != '\0');
    assert_null(ev.user_id);
    assert_null(ev.event_id);
    assert_null(ev.profile.experiences);
    return false;
}

static bool check_state(const unsigned char *buf, size_t len) {
    user_state st;
    px_error err;
    if (user_state_decode((const char *)buf, len, &st, &err) == 0) {
        user_state_free(&st);
        return true;
    }
    assert_int_equal(err.reason, EVENT_ERR_CORRUPT_STATE);
    return false;
}

/* msgpack → JSON text → msgpack → JSON text gives the same bytes. Integers beyond ±(2^53-1)
 * are the one documented exception on the way in (refused, never rounded). */
static bool check_json_round_trip(const unsigned char *buf, size_t len) {
    px_error err;
    char *json = msgpack_json_bytes_to_text((const char *)buf, len, NULL, &err);
    if (!json) {
        assert_true(err.reason > MSGPACK_JSON_OK && err.reason <= MSGPACK_JSON_ERR_BAD_SPECIAL);
        return false;
    }
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    if (msgpack_json_text_to_msgpack(json, strlen(json), &sb, NULL, &err)) {
        if (err.reason != MSGPACK_JSON_ERR_INT_RANGE)
            fail_msg("%s does not read back: %s", json, err.msg);
    } else {
        char *again = msgpack_json_bytes_to_text(sb.data, sb.size, NULL, &err);
        if (!again) fail_msg("%s: its msgpack does not convert back: %s", json, err.msg);
        assert_string_equal(json, again);
        free(again);
    }
    free(json);
    msgpack_sbuffer_destroy(&sb);
    return true;
}

static void test_fuzz_decoders(void **state) {
    (void)state;
    seeds s;
    build_seeds(&s);
    long iterations = 20000;
    const char *env = getenv("PASSERELLE_FUZZ_ITERATIONS");
    if (env) iterations = atol(env);
    unsigned char buf[1024];
    long events_ok = 0, states_ok = 0, json_ok = 0;
    for (long i = 0; i < iterations; i++) {
        size_t len = make_input(&s, buf, sizeof buf);
        check_scan_agrees(buf, len);
        events_ok += check_event(buf, len);
        states_ok += check_state(buf, len);
        json_ok += check_json_round_trip(buf, len);
    }
    /* The mutations are mild enough that some inputs still decode: the decoders' success paths
     * are exercised on odd inputs too, not only their refusals. */
    if (iterations >= 1000) {
        assert_true(events_ok > 0);
        assert_true(states_ok > 0);
        assert_true(json_ok > 0);
    }
    for (size_t i = 0; i < s.n; i++) msgpack_sbuffer_destroy(&s.bufs[i]);
}

int main(void) {
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_fuzz_decoders)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
