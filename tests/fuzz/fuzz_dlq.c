/* libFuzzer target for the dead-letter record (tests/fuzz.cmake). First byte even: the rest is
 * any MessagePack, read by dlq_record_decode() (after msgpack_unpack_bounded, as `passerelle
 * tail` and `replay` do). Odd: the rest, split at NUL bytes, gives a record's value, key, topic,
 * message and event id, which must come back unchanged from dlq_record_encode() →
 * dlq_record_decode(). */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dlq_record.h"
#include "msgpack_scan.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void same(const char *a, size_t a_len, const char *b, size_t b_len) {
    if (a_len != b_len || (a_len && memcmp(a, b, a_len))) abort();
}

static void round_trip(const char *buf, size_t len, uint8_t mode) {
    char *copy = malloc(len + 1);
    if (!copy) return;
    memcpy(copy, buf, len);
    copy[len] = '\0';
    /* five fields at most, each ending at a NUL (the last at the end of the input) */
    const char *part[5] = {NULL};
    size_t part_len[5] = {0}, n = 0;
    for (const char *p = copy; n < 5 && p <= copy + len; n++) {
        part[n] = p;
        part_len[n] = strlen(p);
        p += part_len[n] + 1;
    }
    dlq_record rec = {
        .value = part[0],
        .value_len = part_len[0],
        .key = (mode & 2) ? part[1] : NULL,
        .key_len = (mode & 2) ? part_len[1] : 0,
        .topic = part[2] && *part[2] ? part[2] : "in", /* Kafka topics are never empty */
        .partition = (int32_t)(mode >> 2),
        .offset = (int64_t)len * 7,
        .reason = (int)(mode % EVENT_REASON_COUNT),
        .message = part[3] ? part[3] : "",
        .event_id = part[4],
        .ts = (int64_t)len,
    };
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    px_error err;
    if (dlq_record_encode(&rec, &sb, &err)) abort();
    msgpack_unpacked up;
    dlq_record_view v;
    if (msgpack_unpack_bounded(sb.data, sb.size, 8, &up, &err) ||
        dlq_record_decode(&up.data, &v, &err))
        abort();
    same(v.value, v.value_len, rec.value, rec.value_len);
    if (v.has_key != (rec.key != NULL)) abort();
    if (rec.key) same(v.key, v.key_len, rec.key, rec.key_len);
    same(v.topic, v.topic_len, rec.topic, strlen(rec.topic));
    same(v.message, v.message_len, rec.message, strlen(rec.message));
    const char *reason = event_reason_name(rec.reason);
    same(v.reason, v.reason_len, reason, strlen(reason));
    if (rec.event_id) same(v.event_id, v.event_id_len, rec.event_id, strlen(rec.event_id));
    if (v.partition != rec.partition || v.offset != rec.offset || v.ts != rec.ts) abort();
    msgpack_unpacked_destroy(&up);
    msgpack_sbuffer_destroy(&sb);
    free(copy);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size == 0) return 0;
    const char *buf = (const char *)data + 1;
    if (data[0] & 1) {
        round_trip(buf, size - 1, data[0]);
        return 0;
    }
    msgpack_unpacked up;
    px_error err;
    dlq_record_view v;
    if (msgpack_unpack_bounded(buf, size - 1, 32, &up, &err) == 0 &&
        dlq_record_decode(&up.data, &v, &err) == 0 && (!v.value || !v.topic))
        abort(); /* a record is only accepted with its topic and original bytes */
    msgpack_unpacked_destroy(&up);
    return 0;
}
