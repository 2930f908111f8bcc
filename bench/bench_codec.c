/* Codec benchmark: what strict decoding costs over msgpack-c's bare unpack, on a typical
 * profile.upserted, and the user-state round trip the daemon pays per person per batch.
 * A program that prints figures (ratios measured in one run), never a test.
 * usage: bench_codec [ITERATIONS] */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "event_codec.h"
#include "msgpack_json.h"
#include "msgpack_scan.h"

static const char typical[] =
    "{\"v\":1,\"type\":\"profile.upserted\",\"event_id\":\"7f3c2a9e-1b4d-4c55-9a0e-2f6d8b1c3e47\","
    "\"user_id\":\"u-000123456\",\"ts\":1764393600000,\"experiences\":["
    "{\"appellation\":38720,\"months\":48,\"end_year\":2019},{\"rome\":\"D1505\",\"months\":12},"
    "{\"title\":\"aide-soignante en EHPAD\",\"months\":30,\"end_year\":2024},"
    "{\"title\":\"entraîneur bénévole de football\",\"extra\":true},{\"appellation\":12345}],"
    "\"avoid\":[\"no_weekend\",\"no_night\",300795],\"domains\":[\"J\",\"K21\"],\"exclude_"
    "domains\":[\"A\"]}";

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv) {
    long n = argc > 1 ? atol(argv[1]) : 200000;
    if (n < 1) n = 1;
    msgpack_sbuffer ev;
    msgpack_sbuffer_init(&ev);
    px_error err;
    if (msgpack_json_text_to_msgpack(typical, strlen(typical), &ev, NULL, &err)) {
        fprintf(stderr, "bench_codec: %s\n", err.msg);
        return 1;
    }
    const char *key = "u-000123456";
    size_t key_len = strlen(key);
    long sink = 0;

    double t0 = now_s();
    for (long i = 0; i < n; i++) {
        msgpack_unpacked up;
        msgpack_unpacked_init(&up);
        size_t off = 0;
        sink += msgpack_unpack_next(&up, ev.data, ev.size, &off);
        msgpack_unpacked_destroy(&up);
    }
    double bare = (now_s() - t0) / (double)n;

    t0 = now_s();
    for (long i = 0; i < n; i++) sink += msgpack_scan(ev.data, ev.size, 8, NULL);
    double scan = (now_s() - t0) / (double)n;

    t0 = now_s();
    for (long i = 0; i < n; i++) {
        event e;
        if (event_decode(ev.data, ev.size, key, key_len, NULL, &e, &err)) {
            fprintf(stderr, "bench_codec: %s\n", err.msg);
            return 1;
        }
        sink += (long)e.profile.n_experiences;
        event_free(&e);
    }
    double strict = (now_s() - t0) / (double)n;

    /* A person's state: that profile, 200 decisions, a full idempotency window of 64 ids. */
    user_state st = {0};
    event e;
    event_decode(ev.data, ev.size, key, key_len, NULL, &e, &err);
    profile_copy(&st.profile, &e.profile, &err);
    event_free(&e);
    st.has_profile = true;
    for (uint32_t c = 0; c < 200; c++)
        profile_codes_push(c % 3 ? &st.profile.confirmed : &st.profile.rejected, 100000 + c, &err);
    char id[48];
    for (int i = 0; i < 64; i++) {
        snprintf(id, sizeof id, "7f3c2a9e-1b4d-4c55-9a0e-%012d", i);
        user_state_remember(&st, id, 64, &err);
    }
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    t0 = now_s();
    for (long i = 0; i < n; i++) {
        msgpack_sbuffer_clear(&sb);
        user_state_encode(&st, &sb, &err);
        user_state back;
        if (user_state_decode(sb.data, sb.size, &back, &err)) {
            fprintf(stderr, "bench_codec: %s\n", err.msg);
            return 1;
        }
        sink += (long)back.n_recent;
        user_state_free(&back);
    }
    double state = (now_s() - t0) / (double)n;

    printf("bench_codec: %ld iterations, event %zu bytes, state %zu bytes (sink %ld)\n", n, ev.size,
           sb.size, sink);
    printf("  msgpack-c unpack only          %8.0f ns/event\n", bare * 1e9);
    printf("  msgpack_scan (bounds check)    %8.0f ns/event  = %.2f x unpack\n", scan * 1e9,
           scan / bare);
    printf("  event_decode (strict, v1)      %8.0f ns/event  = %.2f x unpack\n", strict * 1e9,
           strict / bare);
    printf("  user state encode+decode       %8.0f ns/person = %.2f x event_decode\n", state * 1e9,
           state / strict);
    user_state_free(&st);
    msgpack_sbuffer_destroy(&sb);
    msgpack_sbuffer_destroy(&ev);
    return 0;
}
