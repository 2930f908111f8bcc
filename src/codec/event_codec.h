/* event_codec — the v1 event contract in code: strict decoding of the input events, encoding of
 * dead-letter records, and the persistent per-user state.
 *
 * Input events (DESIGN "Events (v1)", docs/asyncapi.yaml): one MessagePack map per Kafka message,
 * keyed by user_id. Decoding is strict where it matters and lenient where the contract says so:
 *   - unknown keys are ignored (forward compatibility), whatever their value;
 *   - a missing required key, a wrong type, an unknown version or type, a value out of range or
 *     over a limit, a duplicate key, invalid UTF-8, an empty id, a Kafka key that differs from
 *     `user_id`: the event is refused with a stable machine reason (event_reason, and its name
 *     from event_reason_name(), e.g. "wrong_type") in err->reason, its kind in err->code
 *     (event_reason_code) and a human message naming the
 *     field in err->msg ("experiences[2].months: expected an integer, got string").
 * Which keys each message has, their types and whether they are required is data: the tables
 * returned by event_codec_fields() drive the decoder itself, and the contract test compares them
 * with docs/asyncapi.yaml. Semantic checks against the ROME index (unknown codes) are the
 * matcher's (matcher_run() refuses them).
 *
 * Dead-letter records (topic passerelle.dlq.v1): dlq_record_encode() writes what the DLQ
 * consumer needs to understand and replay the refused message: the original bytes, where they
 * came from and why they were refused.
 *
 * User state (stored in Redis by store_redis): the profile (incl. competence decisions), the ids
 * of the last N applied events (the idempotency fence), the ROME version of the last match and
 * the time of the last change, as a compact positional MessagePack array with a format version
 * first. user_state_decode() treats its input as untrusted: a corrupt state is an error, never a
 * crash.
 *
 * Pure: libc, msgpack-c, profile.h, px_error.h (and this project's msgpack_scan/utf8 helpers).
 * Ownership: decoded events and states own their memory (event_free / user_state_free); encoders
 * append to a caller-owned msgpack_sbuffer. Stateless and thread-safe. */
#ifndef EVENT_CODEC_H
#define EVENT_CODEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <msgpack.h>

#include "profile.h"
#include "px_error.h"

#define EVENT_VERSION 1

/* Why an event was refused: err->code of every decoding function. The names are part of the DLQ
 * contract (field `reason`): never renumber or rename, only append. */
typedef enum event_reason {
    EVENT_OK = 0,
    EVENT_ERR_BAD_MSGPACK = 1,        /* "bad_msgpack": empty, truncated, invalid byte, over-declared count */
    EVENT_ERR_TRAILING_BYTES = 2,     /* "trailing_bytes": bytes after the event map */
    EVENT_ERR_OVER_LIMIT = 3,         /* "over_limit": message size, nesting, count or length over a limit */
    EVENT_ERR_NOT_A_MAP = 4,          /* "not_a_map": the message is not a MessagePack map */
    EVENT_ERR_MISSING_FIELD = 5,      /* "missing_field" */
    EVENT_ERR_WRONG_TYPE = 6,         /* "wrong_type" */
    EVENT_ERR_UNKNOWN_VERSION = 7,    /* "unknown_version": `v` other than 1 */
    EVENT_ERR_UNKNOWN_TYPE = 8,       /* "unknown_type": `type` not an event of this topic family */
    EVENT_ERR_BAD_UTF8 = 9,           /* "bad_utf8": a string (or key) is not valid UTF-8 */
    EVENT_ERR_EMPTY_VALUE = 10,       /* "empty_value": empty id/title/name, no experience, no decision list */
    EVENT_ERR_KEY_MISMATCH = 11,      /* "key_mismatch": Kafka key missing or different from user_id */
    EVENT_ERR_DUPLICATE_KEY = 12,     /* "duplicate_key": a map holds the same key twice */
    EVENT_ERR_OUT_OF_RANGE = 13,      /* "out_of_range": a number outside its documented range */
    EVENT_ERR_BAD_FORMAT = 14,        /* "bad_format": a code not in its documented form (rome, domain) */
    EVENT_ERR_CONFLICT = 15,          /* "conflicting_fields": e.g. an experience with both rome and title */
    EVENT_ERR_NOMEM = 16,             /* "out_of_memory": not the event's fault; retry, don't dead-letter */
    EVENT_ERR_CORRUPT_STATE = 17,     /* "corrupt_state": stored user state unreadable */
    EVENT_ERR_UNKNOWN_CODE = 18,      /* "unknown_code": names a code the ROME index does not know
                                         (set by the daemon when matcher_run() refuses the event) */
} event_reason;

#define EVENT_REASON_COUNT 19

/* "bad_msgpack", … for the values above; "unknown" for anything else. */
const char *event_reason_name(int reason);
/* The error code of a refusal: PX_ENOMEM (retry, never dead-letter), PX_ELIMIT, PX_ENOTFOUND
 * (unknown code) or PX_EINVAL. */
px_code event_reason_code(int reason);

typedef enum event_type {
    EVENT_PROFILE_UPSERTED = 1,
    EVENT_PROFILE_ERASED = 2,
    EVENT_SKILLS_CONFIRMED = 3,
} event_type;

const char *event_type_name(event_type type);   /* "profile.upserted", … */

/* Bounds on one input event (DESIGN: bounded everything). Every one is configurable ([limits]). */
typedef struct event_limits {
    size_t max_message_bytes;  /* whole message                                        default 65536 */
    size_t max_experiences;    /* experiences per profile                              default 32 */
    size_t max_competences;    /* confirmed + rejected + added codes in one event      default 1024 */
    size_t max_avoid;          /* avoid entries (codes and named)                      default 32 */
    size_t max_domains;        /* entries in domains, and in exclude_domains           default 32 */
    size_t max_title_bytes;    /* experiences[].title, UTF-8 bytes                     default 200 */
    size_t max_id_bytes;       /* event_id, user_id, named constraints, type           default 128 */
    unsigned max_depth;        /* container nesting, incl. inside unknown keys (<=32)  default 8 */
} event_limits;

event_limits event_limits_default(void);

/* Checks that each limit is at least 1 (and max_depth at least 3, what v1 events need, at most 32). */
int event_limits_validate(const event_limits *limits, px_error *err);

/* A decoded input event. Owns its strings and profile. */
typedef struct event {
    event_type type;
    char *event_id;
    char *user_id;
    int64_t ts;          /* milliseconds since the epoch */
    /* profile.upserted: experiences, avoid_*, domains, exclude_domains, include_regulated.
     * skills.confirmed: confirmed, rejected, added (the decision of this event only).
     * profile.erased: empty. */
    profile profile;     /* as_of_year is 0: see user_state_next_profile */
} event;

void event_free(event *ev);

/* Decodes one Kafka message. `key` (key_len bytes, may be NULL when the message has none) must
 * equal the event's user_id. On success returns 0 and fills *out (zeroed first); on refusal
 * returns -1, *out is left empty, err->reason is an event_reason and err->msg names the field. */
int event_decode(const char *buf, size_t len, const char *key, size_t key_len, const event_limits *limits,
                 event *out, px_error *err);

/* Decodes the profile fields of a map without the event envelope, as in a `passerelle match`
 * JSON line: user_id (optional string, returned malloc'ed in *user_id or NULL when absent; pass
 * NULL to ignore it), ts (optional, milliseconds since the epoch: sets out->as_of_year to its UTC
 * year; absent, as_of_year stays 0), experiences (required), avoid, domains, exclude_domains,
 * confirmed, rejected, added, include_regulated (optional). Same limits, reasons and messages as
 * event_decode. */
int event_decode_profile(const msgpack_object *map, const event_limits *limits, profile *out, char **user_id,
                         px_error *err);

/* event_decode_profile() on the bytes of one message, after the message checks event_decode
 * makes first (max_message_bytes on the bytes, max_depth, structure: over_limit, bad_msgpack,
 * trailing_bytes): what `passerelle match` applies to a line converted to msgpack, so that a
 * line the daemon would refuse is refused for the same reason. */
int event_decode_profile_message(const char *buf, size_t len, const event_limits *limits,
                                 profile *out, char **user_id, px_error *err);

/* The UTC year of a time in milliseconds since the epoch (1764393600000 → 2025): what a
 * profile's as_of_year is set to from an event's ts. Pure arithmetic: no locale, no timezone. */
int32_t event_ts_year(int64_t ts_ms);

/* --- the contract as data --------------------------------------------------------------------- */

typedef enum event_field_type {
    EVENT_FIELD_INTEGER,
    EVENT_FIELD_STRING,
    EVENT_FIELD_BOOLEAN,
    EVENT_FIELD_BINARY,
    EVENT_FIELD_ARRAY_OF_INTEGERS,
    EVENT_FIELD_ARRAY_OF_STRINGS,
    EVENT_FIELD_ARRAY_OF_INTEGERS_OR_STRINGS,
    EVENT_FIELD_ARRAY_OF_OBJECTS,
    EVENT_FIELD_NULLABLE_BINARY,
} event_field_type;

const char *event_field_type_name(event_field_type type);  /* "integer", "array<integer|string>", … */

typedef struct event_field {
    const char *name;
    event_field_type type;
    bool required;
} event_field;

/* The fields of one message ("envelope", "profile.upserted", "experience", "profile.erased",
 * "skills.confirmed", "dlq.record") in contract order; NULL for an unknown name.
 * These are the very tables the decoder and the DLQ encoder run on. */
const event_field *event_codec_fields(const char *message, size_t *n);

/* The message names above, NULL-terminated. */
extern const char *const event_codec_messages[];

/* --- dead-letter records ---------------------------------------------------------------------- */

/* One refused message. Strings are NUL-terminated; value/key are raw bytes. */
typedef struct dlq_record {
    const char *value;       /* the original message bytes; NULL when the message had no value */
    size_t value_len;
    const char *key;         /* the original Kafka key bytes; NULL when it had none */
    size_t key_len;
    const char *topic;       /* source topic */
    int32_t partition;       /* source partition */
    int64_t offset;          /* source offset */
    int reason;              /* event_reason (or a matcher-level reason mapped by the caller) */
    const char *message;     /* human explanation, naming the field */
    const char *event_id;    /* when the envelope could be read; else NULL */
    int64_t ts;              /* when it was dead-lettered, milliseconds since the epoch */
} dlq_record;

/* Appends the record as one MessagePack map (fields: event_codec_fields("dlq.record")). */
int dlq_record_encode(const dlq_record *rec, msgpack_sbuffer *out, px_error *err);

/* --- persistent user state -------------------------------------------------------------------- */

#define USER_STATE_FORMAT 2   /* first element of the encoded array; bumped on incompatible change.
                                 2 added include_regulated; format 1 states are still read */
#define USER_STATE_ROME_VERSION_MAX 32   /* bytes of a ROME version label (as in redis_endpoint.h) */

typedef struct user_state {
    bool has_profile;           /* a profile.upserted was applied (decisions may come first) */
    profile profile;            /* last upserted profile (with include_regulated) + every
                                   competence decision so far; as_of_year is not stored */
    char **recent_event_ids;    /* oldest first, at most the window given to user_state_remember */
    size_t n_recent;
    char rome_version[USER_STATE_ROME_VERSION_MAX + 1]; /* version label of the last match ("4.0-60"); "" = none yet */
    int64_t updated_ts;         /* ts of the last applied event, ms since the epoch */
} user_state;

void user_state_free(user_state *st);

/* True when event_id is among the recently applied events. */
bool user_state_seen(const user_state *st, const char *event_id);

/* Records event_id as applied, dropping the oldest ids beyond `window` (>= 1). */
int user_state_remember(user_state *st, const char *event_id, size_t window, px_error *err);

/* Appends the compact encoding of st to out. */
int user_state_encode(const user_state *st, msgpack_sbuffer *out, px_error *err);

/* Decodes a stored state (zeroing *out first); a malformed one → -1 with EVENT_ERR_CORRUPT_STATE
 * (or EVENT_ERR_NOMEM) and a message saying which element is wrong. */
int user_state_decode(const char *buf, size_t len, user_state *out, px_error *err);

/* The profile to match for ev (profile.upserted or skills.confirmed) and to store after it: an
 * upsert replaces experiences, constraints, preferences and include_regulated and keeps every
 * competence decision of st; a confirmation applies its decisions to st's profile. as_of_year is
 * the UTC year of ev->ts. *out is overwritten (free it with profile_free). Returns -1 with
 * EVENT_ERR_UNKNOWN_TYPE for another event type, EVENT_ERR_NOMEM when out of memory. */
int user_state_next_profile(const user_state *st, const event *ev, profile *out, px_error *err);

#endif
