/* dlq_record — the dead-letter record (topic passerelle.dlq.v1), written by the daemon and read
 * back by `passerelle tail` and `passerelle replay`: one module for both directions.
 *
 * A record says what the DLQ consumer needs to understand and replay a refused message: the
 * original bytes, where they came from and why they were refused. Its fields (names, types,
 * which are required) are the table event_codec_fields("dlq.record") returns, which the contract
 * test compares with docs/asyncapi.yaml; the encoder and the decoder both run on it.
 *
 * Pure: libc, msgpack-c, event_codec.h. Ownership: the encoder appends to a caller-owned
 * msgpack_sbuffer; a decoded view points into the caller's msgpack_object and allocates nothing.
 * Stateless and thread-safe. */
#ifndef DLQ_RECORD_H
#define DLQ_RECORD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <msgpack.h>

#include "event_codec.h"
#include "px_error.h"

#define DLQ_RECORD_TYPE "dlq.record" /* the record's `type` field, and its contract name */

/* A record that would be over its size limit with the whole original carries only the original's
 * first bytes: at most these many, fewer when the limit leaves less room. */
#define DLQ_RECORD_HEAD_MAX (64u * 1024u)

/* The Kafka header a replayed message carries (`passerelle replay`): how many times it was
 * replayed, in decimal. passerelled copies it from an input onto the dead letter it writes for
 * that input, so that a replay of a replay is counted. */
#define DLQ_REPLAY_HEADER "passerelle-replay-count"
#define DLQ_REPLAY_MAX    1000000 /* a header value over this is not a count */

/* One refused message. Strings are NUL-terminated; value/key are raw bytes. */
typedef struct dlq_record {
    const char *value; /* the original message bytes; NULL when the message had no value */
    size_t value_len;
    const char *key; /* the original Kafka key bytes; NULL when it had none */
    size_t key_len;
    const char *topic;    /* source topic */
    int32_t partition;    /* source partition */
    int64_t offset;       /* source offset */
    int reason;           /* event_reason (or a matcher-level reason mapped by the caller) */
    const char *message;  /* human explanation, naming the field */
    const char *event_id; /* when the envelope could be read; else NULL */
    int64_t ts;           /* when it was dead-lettered, milliseconds since the epoch */
    size_t max_bytes;     /* the encoded record's size limit; 0 = none */
} dlq_record;

/* Appends the record as one MessagePack map (fields: event_codec_fields("dlq.record")). topic
 * and message are required (else EVENT_ERR_MISSING_FIELD); on failure nothing is appended. When
 * max_bytes is set and the record with the whole original would be over it, the record carries
 * the original's first bytes only (DLQ_RECORD_HEAD_MAX, or fewer to fit: none when even the other
 * fields leave no room) with `truncated` true and `original_size` the original's length. */
int dlq_record_encode(const dlq_record *rec, msgpack_sbuffer *out, px_error *err);

/* A decoded record. Pointers go into the decoded msgpack_object (not NUL-terminated: use the
 * lengths) and live as long as it does. A field absent or of another type than the table's is
 * left empty (NULL/0, or -1 for the numbers), except the three a record cannot do without. */
typedef struct dlq_record_view {
    const char *topic, *reason, *message, *event_id;
    size_t topic_len, reason_len, message_len, event_id_len;
    const char *value; /* the original bytes: always there in a decoded record */
    size_t value_len;
    const char *key; /* the original key when has_key */
    size_t key_len;
    bool has_key;
    bool truncated; /* value is only the head of the original, which was original_size bytes */
    int64_t partition, offset, ts, original_size; /* -1 when absent or not a non-negative integer */
} dlq_record_view;

/* Reads a record written by dlq_record_encode(). Refuses (-1, err->code PX_EINVAL, err->reason
 * an event_reason) what is not a map (EVENT_ERR_NOT_A_MAP), a map whose type is not
 * "dlq.record" (EVENT_ERR_UNKNOWN_TYPE), and a record without a source topic or without the
 * original bytes (value nil, as for a dead-lettered tombstone: EVENT_ERR_MISSING_FIELD), since
 * such a record cannot be replayed. Unknown keys are ignored. */
int dlq_record_decode(const msgpack_object *obj, dlq_record_view *out, px_error *err);

/* The replay count a DLQ_REPLAY_HEADER value says: 0..DLQ_REPLAY_MAX, or -1 when it is not a
 * decimal count (value NULL: no header, 0). */
int64_t dlq_replay_count(const void *value, size_t len);

/* The contract table of the record, for event_codec_fields(). */
const event_field *dlq_record_fields(size_t *n);

#endif
