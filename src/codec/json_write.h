/* json_write — msgpack → compact JSON text in one pass, appended to a growable buffer.
 *
 * The mapping is msgpack_json.h's, with exact numbers: it walks the msgpack bytes and writes the
 * text directly, no msgpack-c unpack nor cJSON tree.
 *   Integers: exact decimal over the whole int64/uint64 range.
 *   float64: the shortest of %.15g/%.16g/%.17g that strtod reads back to the same double (values
 *   with at most 15 significant digits, the common case, are written without printf, to the same
 *   text). float32: the shortest of %.6g..%.9g that strtof reads back to the same float; it reads
 *   back as a float64 that narrows to the same float32. An integral float within ±(2^53-1) is
 *   written as an integer ("1"); beyond, its text keeps it a float ("9007199254740994.0",
 *   "1e+300"); -0.0 is "-0.0". NaN and ±Inf are refused (MSGPACK_JSON_ERR_NON_FINITE).
 *   Strings: valid UTF-8 without NUL (else refused), escaped per RFC 8259 (", \, controls).
 *   bin/ext: {"$bin": base64} / {"$ext": [type, base64]}; keys, duplicates and reserved keys as
 *   msgpack_json.h says.
 * Errors fill err as msgpack_json does (reason a msgpack_json_error, message naming the path);
 * json_write_msgpack then leaves the buffer as it was.
 * Pure, thread-safe as long as each thread writes its own buffer. */
#ifndef JSON_WRITE_H
#define JSON_WRITE_H

#include <stddef.h>

#include <msgpack.h>

#include "msgpack_json.h"
#include "px_error.h"

/* Text in data[0..len), NUL-terminated once anything was written. Zero-initialise or
 * json_buf_init(); free with json_buf_free(); reuse across lines by setting len = 0. */
typedef struct json_buf {
    char *data;
    size_t len, cap;
} json_buf;

void json_buf_init(json_buf *b);
void json_buf_free(json_buf *b);
/* Appends n bytes; -1 when memory runs out (the buffer is unchanged). */
int json_buf_put(json_buf *b, const char *s, size_t n);
/* Appends a C string (literal JSON text such as ",\"error\":"). */
int json_buf_puts(json_buf *b, const char *s);

/* The JSON text of msgpack bytes holding exactly one object, its depth checked against limits
 * (NULL for defaults). One walk over the bytes, bounds-checked as it reads (safe on untrusted
 * input, allocating no more than a small multiple of its size); when it fails, the bytes are
 * judged again so that the error named is the first in the documented order: the structure's
 * (msgpack_scan), then each map's keys before its values. */
int json_write_msgpack(json_buf *b, const char *buf, size_t len, const msgpack_json_limits *limits,
                       px_error *err);

/* A JSON string of s[0..len), which must be valid UTF-8 (callers check); -1 on no memory. */
int json_write_string(json_buf *b, const char *s, size_t len);
/* A JSON string of arbitrary bytes quoting input (a message, a Kafka key): always valid UTF-8;
 * a sequence cut at the end is dropped, other invalid bytes are shown as \xNN. -1 on no memory. */
int json_write_text(json_buf *b, const char *s, size_t len);
/* Decimal digits of an integer. */
int json_write_int(json_buf *b, long long v);

/* The text of a finite double (float32 at its own precision when single) by the rules above,
 * NUL-terminated in out; returns its length. */
size_t json_format_real(double d, int single, char out[40]);

/* RFC 4648 base64 with padding, without quotes. */
int json_write_base64(json_buf *b, const unsigned char *data, size_t len);
extern const char json_base64_alphabet[65];

/* The JSONPath-like location of a value, for error messages ("$.a[3].b"): bounded, keys cut at
 * 40 bytes on a character boundary, always valid UTF-8 when the keys are. */
typedef struct json_path {
    char text[160];
    size_t len;
} json_path;

#define JSON_PATH_ROOT ((json_path){.text = "$", .len = 1})

/* Push returns the length to restore with json_path_pop. */
size_t json_path_push_key(json_path *path, const char *key, size_t key_len);
size_t json_path_push_index(json_path *path, size_t index);
void json_path_pop(json_path *path, size_t saved);

#endif
