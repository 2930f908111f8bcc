/* msgpack_json — bounded, lossless-where-possible conversion between MessagePack and JSON (cJSON).
 *
 * Used by the command-line tools: `passerelle send` (JSON Lines → msgpack messages),
 * `passerelle tail` (msgpack messages → JSON) and `passerelle match` (JSON in, JSON out).
 * Generic: it knows nothing of events; event_codec.h gives the events their meaning.
 *
 * Mapping, msgpack → JSON:
 *   nil → null; bool → true/false; str → string (must be valid UTF-8 without NUL bytes, since
 *   cJSON strings are C strings; otherwise MSGPACK_JSON_ERR_BAD_UTF8 / _NUL_IN_STRING).
 *   Integers within ±(2^53-1) → JSON numbers. Integers beyond that (int64/uint64) → cJSON *raw*
 *   items holding the exact decimal digits, so printed JSON is exact (cJSON_IsNumber() is false
 *   for them; cJSON_IsRaw() is true).
 *   float32/float64 → JSON number (a float32 is widened exactly to double; cJSON prints the
 *   shortest text that reads back to the same double). An integral float within ±(2^53-1) prints
 *   as an integer ("1") and so comes back as a msgpack integer: JSON has one number type. Beyond
 *   that magnitude floats become raw items whose text keeps them floats ("9007199254740994.0").
 *   NaN and ±Inf → MSGPACK_JSON_ERR_NON_FINITE (JSON has no such values).
 *   array → array. map → object: keys must be str (UTF-8, no NUL) or integers (written as their
 *   decimal text, e.g. 12 → "12"; the reverse direction yields the string key "12"); any other key
 *   type → MSGPACK_JSON_ERR_KEY_TYPE. Two keys with the same JSON text → _DUPLICATE_KEY.
 *   bin → {"$bin": "<base64>"}; ext → {"$ext": [type, "<base64>"]} (RFC 4648 base64 with padding).
 *   A map whose only key is "$bin" or "$ext" would be ambiguous → MSGPACK_JSON_ERR_RESERVED_KEY.
 *
 * Mapping, JSON → msgpack:
 *   null/true/false → nil/bool; string → str (UTF-8 checked; "\u0000" refused since cJSON would
 *   cut the string there). An integer literal (no '.', 'e' or 'E') beyond ±(2^53-1) →
 *   MSGPACK_JSON_ERR_INT_RANGE (cJSON reads numbers as doubles and would round it: refused, not
 *   guessed). A number whose value is integral and within ±(2^53-1) → the smallest msgpack integer
 *   encoding ("1e3" → 1000), except -0 (float64 -0.0); any other finite number → float64.
 *   cJSON raw items (as produced above) → the exact integer, or float64.
 *   array → array; object → map with str keys in document order; duplicate keys → error.
 *   An object with exactly one key "$bin" (string value, strict base64) → bin; with exactly one key
 *   "$ext" ([int -128..127, base64 string]) → ext; a malformed one → MSGPACK_JSON_ERR_BAD_SPECIAL.
 *
 * Bounds: the input (msgpack bytes or JSON text) is at most limits->max_bytes; containers nest at
 * most limits->max_depth deep (a top-level array/map is depth 1; at most 32, msgpack-c's own
 * limit); msgpack input is checked by msgpack_scan() before any allocation.
 *
 * Errors: every function returns NULL / -1 and fills err with err->reason a msgpack_json_error,
 * err->code its kind (PX_ENOMEM, PX_ELIMIT for too big, too deep or an integer out of range,
 * else PX_EINVAL) and a message naming the place ("$.experiences[2].title: invalid UTF-8 at byte
 * 5").
 * Messages quoting input are valid UTF-8: keys in paths are cut on a character boundary, a
 * duplicate key not yet checked is shown with its invalid bytes as \xNN.
 * Ownership: returned cJSON trees belong to the caller (cJSON_Delete); returned text is freed with
 * free(). Stateless and thread-safe. */
#ifndef MSGPACK_JSON_H
#define MSGPACK_JSON_H

#include <stddef.h>

#include <cjson/cJSON.h>
#include <msgpack.h>

#include "px_error.h"

typedef struct msgpack_json_limits {
    size_t max_bytes;   /* largest input accepted, msgpack bytes or JSON text bytes */
    unsigned max_depth; /* deepest container nesting, 1..32 */
} msgpack_json_limits;

#define MSGPACK_JSON_DEFAULT_MAX_BYTES                                                             \
    ((size_t)1 << 20) /* 1 MiB, librdkafka's default message.max.bytes */
#define MSGPACK_JSON_DEFAULT_MAX_DEPTH 32u

/* The defaults above; pass NULL limits to any function to use them. */
msgpack_json_limits msgpack_json_limits_default(void);

/* The detail this module puts in err->reason. */
typedef enum msgpack_json_error {
    MSGPACK_JSON_OK = 0,
    MSGPACK_JSON_ERR_NOMEM = 1,
    MSGPACK_JSON_ERR_BAD_JSON = 2,    /* not JSON text, or text after the value */
    MSGPACK_JSON_ERR_BAD_MSGPACK = 3, /* truncated, 0xc1, over-declared count, trailing bytes */
    MSGPACK_JSON_ERR_TOO_BIG = 4,     /* input over max_bytes */
    MSGPACK_JSON_ERR_TOO_DEEP = 5,    /* nesting over max_depth */
    MSGPACK_JSON_ERR_KEY_TYPE = 6,    /* map key neither str nor integer */
    MSGPACK_JSON_ERR_DUPLICATE_KEY = 7,
    MSGPACK_JSON_ERR_RESERVED_KEY = 8, /* msgpack map whose only key is "$bin" or "$ext" */
    MSGPACK_JSON_ERR_BAD_UTF8 = 9,
    MSGPACK_JSON_ERR_NUL_IN_STRING = 10,
    MSGPACK_JSON_ERR_NON_FINITE = 11,  /* NaN or infinity */
    MSGPACK_JSON_ERR_INT_RANGE = 12,   /* JSON integer literal beyond ±(2^53-1) */
    MSGPACK_JSON_ERR_BAD_SPECIAL = 13, /* malformed {"$bin"} / {"$ext"} object */
} msgpack_json_error;

/* The px_code of a msgpack_json_error: PX_ENOMEM, PX_ELIMIT (too big, too deep, integer range)
 * or PX_EINVAL. */
px_code msgpack_json_reason_code(int reason);
/* Re-labels a refusal of msgpack_unpack_bounded() (msgpack_scan.h) as this module's reason. */
void msgpack_json_relabel_scan_error(px_error *err);

/* msgpack → JSON, from an already unpacked object (its depth is checked here). */
cJSON *msgpack_json_from_object(const msgpack_object *obj, const msgpack_json_limits *limits,
                                px_error *err);

/* msgpack → JSON from raw bytes holding exactly one object (scan, unpack, convert). */
cJSON *msgpack_json_from_bytes(const char *buf, size_t len, const msgpack_json_limits *limits,
                               px_error *err);

/* msgpack bytes → compact one-line JSON text (no newline), written by json_write.h in one pass
 * with exact numbers (the shortest text that reads back; float32 at its own precision; -0.0 as
 * "-0.0"); free with free(). */
char *msgpack_json_bytes_to_text(const char *buf, size_t len, const msgpack_json_limits *limits,
                                 px_error *err);

/* JSON tree → msgpack, appended to pk. On error pk may hold a partial object: discard it. */
int msgpack_json_pack(const cJSON *json, msgpack_packer *pk, const msgpack_json_limits *limits,
                      px_error *err);

/* JSON text (exactly one value, surrounding whitespace allowed) → cJSON tree, with the text checks
 * of the mapping above (size, NUL bytes, "\u0000", integer literals beyond ±(2^53-1), trailing
 * text) that cJSON_Parse alone does not make. For callers that read the tree before packing it
 * (e.g. to take the Kafka key from it); msgpack_json_pack() then does the rest. */
cJSON *msgpack_json_parse(const char *text, size_t len, const msgpack_json_limits *limits,
                          px_error *err);

/* msgpack_json_parse() then msgpack_json_pack(), appended to out (unchanged on error). */
int msgpack_json_text_to_msgpack(const char *text, size_t len, msgpack_sbuffer *out,
                                 const msgpack_json_limits *limits, px_error *err);

#endif
