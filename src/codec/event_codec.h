/* event_codec — the v1 event contract in code: strict decoding of the input events, the
 * contract's field tables, and the encoding of the persistent per-user state. The decoded types
 * (event, user_state) and the refusal reasons (event_reason) are plain data of the core
 * (user_state.h); this module only turns them into bytes and back.
 *
 * Input events (DESIGN "Events (v1)", docs/asyncapi.yaml): one MessagePack map per Kafka message,
 * keyed by user_id. Decoding is strict where it matters and lenient where the contract says so:
 *   - unknown keys are ignored (forward compatibility), whatever their value, unless the caller
 *     asks to hear about them or to refuse them (event_decode_options: the daemon counts them,
 *     `passerelle match/send --strict` refuses them with reason unknown_field);
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
 * Dead-letter records (topic passerelle.dlq.v1) are dlq_record.h's; their field table is served
 * by event_codec_fields("dlq.record") with the others.
 *
 * User state (stored in Redis by store_redis; the rules that change it are in user_state.h and
 * user_rules.h): the profile (incl. competence decisions), the ids of the last N applied events
 * (the idempotency fence), the ROME version of the last match and the time of the last change,
 * as a compact positional MessagePack array with a format version first. user_state_decode()
 * treats its input as untrusted: a corrupt state is an error, never a crash.
 *
 * Pure: libc, msgpack-c, the core's profile.h, user_state.h, px_error.h (and this project's
 * msgpack_scan/utf8 helpers).
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
#include "user_state.h"

#define EVENT_VERSION 1

/* Bounds on one input event (DESIGN: bounded everything). Every one is configurable ([limits]). */
typedef struct event_limits {
    size_t
        max_message_bytes;  /* whole message                                        default 65536 */
    size_t max_experiences; /* experiences per profile                              default 32 */
    size_t max_competences; /* confirmed + rejected + added codes in one event      default 1024 */
    size_t max_avoid;       /* avoid entries (codes and named)                      default 32 */
    size_t max_domains;     /* entries in domains, and in exclude_domains           default 32 */
    size_t max_title_bytes; /* experiences[].title, UTF-8 bytes                     default 200 */
    size_t max_id_bytes;    /* event_id, user_id, named constraints, type           default 128 */
    unsigned max_depth;     /* container nesting, incl. inside unknown keys (<=32)  default 8 */
} event_limits;

event_limits event_limits_default(void);

/* Checks that each limit is at least 1 (and max_depth at least 3, what v1 events need, at most
 * 32). */
int event_limits_validate(const event_limits *limits, px_error *err);

/* Decodes one Kafka message. `key` (key_len bytes, may be NULL when the message has none) must
 * equal the event's user_id. On success returns 0 and fills *out (zeroed first); on refusal
 * returns -1, *out is left empty, err->reason is an event_reason and err->msg names the field. */
int event_decode(const char *buf, size_t len, const char *key, size_t key_len,
                 const event_limits *limits, event *out, px_error *err);

/* Decodes the profile fields of a map without the event envelope, as in a `passerelle match`
 * JSON line: user_id (optional string, returned malloc'ed in *user_id or NULL when absent; pass
 * NULL to ignore it), ts (optional, milliseconds since the epoch: sets out->as_of_year to its UTC
 * year; absent, as_of_year stays 0), experiences (required), avoid, domains, exclude_domains,
 * confirmed, rejected, added, include_regulated (optional). Same limits, reasons and messages as
 * event_decode. */
int event_decode_profile(const msgpack_object *map, const event_limits *limits, profile *out,
                         char **user_id, px_error *err);

/* --- unknown keys ----------------------------------------------------------------------------- */

#define EVENT_KEY_PATH_MAX 160 /* bytes of a reported path; a longer key is cut (at a character) */

/* A key that no table of its map names, as the decoder meets it. */
typedef struct event_unknown_key {
    const char *path;       /* where it is: "avoids", "experiences[1].titel" */
    const char *field;      /* the same without indices, to count by: "experiences[].titel" */
    const char *suggestion; /* the nearest known key of that map ("title"), or NULL */
} event_unknown_key;

/* Called once per unknown key; the strings live until it returns. Keys are reported as the
 * decoder meets them, so an event refused later for another reason may have reported some. */
typedef void (*event_unknown_key_cb)(const event_unknown_key *key, void *ctx);

typedef struct event_decode_options {
    const event_limits *limits;          /* NULL: event_limits_default() */
    event_unknown_key_cb on_unknown_key; /* NULL: unknown keys are not reported */
    void *ctx;                           /* passed to on_unknown_key */
    bool strict;                         /* refuse the first unknown key: EVENT_ERR_UNKNOWN_FIELD,
                                            "avoids: unknown key; did you mean \"avoid\"?" */
} event_decode_options;

/* event_decode and event_decode_profile with options (NULL: lenient, unreported, default limits):
 * those two are these with only the limits set. */
int event_decode_with(const char *buf, size_t len, const char *key, size_t key_len,
                      const event_decode_options *opts, event *out, px_error *err);
int event_decode_profile_with(const msgpack_object *map, const event_decode_options *opts,
                              profile *out, char **user_id, px_error *err);

/* event_decode_profile() on the bytes of one message, after the message checks event_decode
 * makes first (max_message_bytes on the bytes, max_depth, structure: over_limit, bad_msgpack,
 * trailing_bytes): what `passerelle match` applies to a line converted to msgpack, so that a
 * line the daemon would refuse is refused for the same reason. */
int event_decode_profile_message(const char *buf, size_t len, const event_decode_options *opts,
                                 profile *out, char **user_id, px_error *err);

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

const char *
event_field_type_name(event_field_type type); /* "integer", "array<integer|string>", … */

typedef struct event_field {
    const char *name;
    event_field_type type;
    bool required;
} event_field;

/* The fields of one message ("envelope", "profile.upserted", "experience", "profile.erased",
 * "skills.confirmed", "profile.rematch", "dlq.record") in contract order; NULL for an unknown
 * name. These are the very tables the decoder and the DLQ record codec (dlq_record.h) run on. */
const event_field *event_codec_fields(const char *message, size_t *n);

/* The message names above, NULL-terminated. */
extern const char *const event_codec_messages[];

/* --- persistent user state -------------------------------------------------------------------- */

#define USER_STATE_FORMAT                                                                          \
    2 /* first element of the encoded array; bumped on incompatible change.
                                 2 added include_regulated; format 1 states are still read */

/* Appends the compact encoding of st to out. */
int user_state_encode(const user_state *st, msgpack_sbuffer *out, px_error *err);

/* Decodes a stored state (zeroing *out first); a malformed one → -1 with EVENT_ERR_CORRUPT_STATE
 * (or EVENT_ERR_NOMEM) and a message saying which element is wrong. */
int user_state_decode(const char *buf, size_t len, user_state *out, px_error *err);

#endif
