/* libFuzzer target for the event decoder (tests/fuzz.cmake): event_decode_with() on the bytes
 * after the first, whose bits choose the options: strict, unknown keys reported, the default or
 * the tightest limits, and which Kafka key. Every refusal message and every reported key must be
 * valid UTF-8: the daemon puts them in dead letters and logs. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "event_codec.h"
#include "utf8.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void must_be_text(const char *s) {
    if (s && !utf8_valid(s, strlen(s), NULL)) abort();
}

static void on_unknown(const event_unknown_key *key, void *ctx) {
    (void)ctx;
    must_be_text(key->path);
    must_be_text(key->field);
    must_be_text(key->suggestion);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size == 0) return 0;
    uint8_t mode = data[0];
    const char *buf = (const char *)data + 1;
    event_limits tight = {.max_message_bytes = 512,
                          .max_experiences = 2,
                          .max_competences = 3,
                          .max_avoid = 2,
                          .max_domains = 2,
                          .max_title_bytes = 16,
                          .max_id_bytes = 8,
                          .max_depth = 3};
    if (event_limits_validate(&tight, NULL)) abort();
    event_decode_options opts = {
        .limits = (mode & 4) ? &tight : NULL,
        .on_unknown_key = (mode & 2) ? on_unknown : NULL,
        .strict = mode & 1,
    };
    /* the key: none, or "alice" (what the seeds use) */
    const char *key = (mode & 8) ? NULL : "alice";
    event ev;
    px_error err;
    if (event_decode_with(buf, size - 1, key, key ? 5 : 0, &opts, &ev, &err) == 0)
        event_free(&ev);
    else
        must_be_text(err.msg);
    return 0;
}
