/* Codec benchmark: what strict decoding costs over msgpack-c's bare unpack, on a typical
 * profile.upserted, and the user-state round trip the daemon pays per person per batch; then what
 * encoding the answers (skills.suggested + jobs.suggested) of real matches costs against copying
 * the same bytes (memcpy: the speed of memory), with an XXH3-64 of every byte encoded.
 * A program that prints figures (ratios measured in one run), never a test.
 * usage: bench_codec [ITERATIONS] [ROME_DIR]   (defaults: 200000, PASSERELLE_ROME_DIR) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <xxhash.h>

#include "event_codec.h"
#include "matcher.h"
#include "matcher_gen.h"
#include "msgpack_json.h"
#include "msgpack_scan.h"
#include "rome_load.h"
#include "suggestion_codec.h"

#define SUGGESTION_PROFILES 500 /* matched once, their results encoded again and again */

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

/* Encodes both answers of results[i % n_results] for `rounds` results; returns the bytes of one
 * pass over all results, hashed into h, or 0 on error. */
static size_t encode_answers(const matcher *m, const match_result *results, long n_results,
                             long rounds, msgpack_sbuffer *sb, XXH3_state_t *h) {
    char version[32];
    suggestion_rome_version(matcher_index(m), version, sizeof version);
    suggestion_envelope env = {"u-000123456", 1764393600000LL,
                               "7f3c2a9e-1b4d-4c55-9a0e-2f6d8b1c3e47", version};
    msgpack_packer pk;
    msgpack_packer_init(&pk, sb, msgpack_sbuffer_write);
    px_error err = {0};
    size_t pass_bytes = 0;
    for (long i = 0; i < rounds; i++) {
        const match_result *r = &results[i % n_results];
        msgpack_sbuffer_clear(sb);
        if (suggestion_encode_skills(&pk, &env, m, r, &err) ||
            suggestion_encode_jobs(&pk, &env, m, r, &err)) {
            fprintf(stderr, "bench_codec: result %ld: %s\n", i % n_results, err.msg);
            return 0;
        }
        if (i < n_results) {
            pass_bytes += sb->size;
            if (h) XXH3_64bits_update(h, sb->data, sb->size);
        }
    }
    return pass_bytes;
}

/* The answers of SUGGESTION_PROFILES generated profiles (tests/matcher_gen.c, fixed seed), default
 * configuration: encode time per answer pair against a memcpy of the same bytes. */
static int bench_suggestions(const char *dir, long rounds) {
    px_error err = {0};
    rome_index *idx = rome_load_csv(dir, NULL, &err);
    if (!idx) {
        fprintf(stderr, "bench_codec: %s\n", err.msg);
        return 1;
    }
    matcher_config cfg = matcher_config_default();
    matcher *m = matcher_build(idx, &cfg, &err);
    matcher_scratch *s = m ? matcher_scratch_new(m, &err) : NULL;
    match_result *results = calloc(SUGGESTION_PROFILES, sizeof *results);
    if (!s || !results) {
        fprintf(stderr, "bench_codec: %s\n", err.code ? err.msg : "out of memory");
        return 1;
    }
    matcher_gen gen = {0x9E3779B97F4A7C15ULL};
    long n = 0, codes = 0;
    for (long i = 0; i < SUGGESTION_PROFILES; i++) {
        profile p = {0};
        int rc = matcher_gen_profile(&gen, idx, &cfg, &p, &err) ||
                 matcher_run(m, s, &p, &results[n], &err);
        profile_free(&p);
        if (!rc) codes += (long)results[n++].n_codes;
    }
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    XXH3_state_t *h = XXH3_createState();
    XXH3_64bits_reset(h);
    size_t bytes = n ? encode_answers(m, results, n, n, &sb, h) : 0; /* warm-up, hashed */
    double t0 = now_s();
    int rc = bytes && encode_answers(m, results, n, rounds, &sb, NULL) ? 0 : 1;
    double encode = (now_s() - t0) / (double)rounds;
    /* the reference: the same bytes, copied */
    size_t mean = bytes / (size_t)(n ? n : 1);
    char *src = malloc(mean), *dst = malloc(mean);
    long sink = 0;
    if (src && dst) {
        memset(src, 1, mean);
        t0 = now_s();
        for (long i = 0; i < rounds; i++) {
            memcpy(dst, src, mean);
            __asm__ __volatile__("" : : "r"(dst) : "memory"); /* keep the copy */
            sink += dst[i % (long)mean];
        }
    }
    double copy = (now_s() - t0) / (double)rounds;
    if (!rc) {
        printf("suggestions: %ld results (%.0f codes per result), %ld answer pairs encoded, %zu "
               "bytes per pair (sink %ld)\n",
               n, (double)codes / (double)n, rounds, mean, sink);
        printf("  skills+jobs.suggested encode   %8.0f ns/pair   = %.0f MB/s, %.1f x memcpy "
               "(%.0f ns)\n",
               encode * 1e9, (double)mean / encode / 1e6, encode / copy, copy * 1e9);
        printf("  encoded bytes XXH3-64          %016llx\n",
               (unsigned long long)XXH3_64bits_digest(h));
    }
    free(src);
    free(dst);
    XXH3_freeState(h);
    msgpack_sbuffer_destroy(&sb);
    for (long i = 0; i < n; i++) match_result_free(&results[i]);
    free(results);
    matcher_scratch_free(s);
    matcher_free(m);
    rome_index_free(idx);
    return rc;
}

int main(int argc, char **argv) {
    long n = argc > 1 ? atol(argv[1]) : 200000;
    if (n < 1) n = 1;
    const char *rome_dir = argc > 2 ? argv[2] : PASSERELLE_ROME_DIR;
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
    return bench_suggestions(rome_dir, n / 10 > 0 ? n / 10 : 1);
}
