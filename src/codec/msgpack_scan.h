/* msgpack_scan — structural check of untrusted MessagePack before msgpack-c unpacks it.
 *
 * Why: msgpack-c allocates an array's or map's storage from the count in its header, before it
 * reads the elements, so a 5-byte message declaring 100 million elements costs gigabytes; and
 * its nesting limit (MSGPACK_EMBED_STACK_SIZE, 32) surfaces as an out-of-memory error. This
 * module walks the bytes once without allocating and refuses, with a precise reason and byte
 * offset:
 *   - truncated input and the never-used byte 0xc1;
 *   - containers nested deeper than max_depth (an array/map at top level is depth 1);
 *   - a declared element count larger than the bytes left (each element takes >= 1 byte), so
 *     what msgpack-c then allocates is bounded by a small multiple of the input size;
 *   - bytes after the first complete object (one message = one object).
 * Strings are not checked for UTF-8 here: callers that need it check per field (utf8.h).
 *
 * Pure, stateless, thread-safe. */
#ifndef MSGPACK_SCAN_H
#define MSGPACK_SCAN_H

#include <stddef.h>

#include <msgpack.h>

#include "px_error.h"

/* msgpack-c's own nesting limit; max_depth above this is clamped to it. */
#define MSGPACK_SCAN_MAX_DEPTH 32

/* The detail this module puts in err->reason (err->code: PX_ENOMEM, PX_ELIMIT for depth, else
 * PX_EINVAL). */
typedef enum msgpack_scan_status {
    MSGPACK_SCAN_OK = 0,
    MSGPACK_SCAN_EMPTY = 1,        /* zero bytes */
    MSGPACK_SCAN_TRUNCATED = 2,    /* input ends inside an object */
    MSGPACK_SCAN_BAD_BYTE = 3,     /* 0xc1 (reserved, never used) */
    MSGPACK_SCAN_TOO_DEEP = 4,     /* nesting over max_depth */
    MSGPACK_SCAN_OVERDECLARED = 5, /* container count larger than the bytes left */
    MSGPACK_SCAN_TRAILING = 6,     /* bytes after the first complete object */
    MSGPACK_SCAN_NOMEM = 7,        /* msgpack-c could not allocate (after a successful scan) */
} msgpack_scan_status;

/* Checks that buf[0..len) holds exactly one well-formed object within max_depth.
 * Returns 0, or -1 with err->reason a msgpack_scan_status and a message naming the byte offset. */
int msgpack_scan(const char *buf, size_t len, unsigned max_depth, px_error *err);

/* msgpack_scan() then msgpack-c's unpack into `result` (initialised here; the caller calls
 * msgpack_unpacked_destroy() on success and on failure). Strings and bin in the result point
 * into buf: buf must outlive the object. */
int msgpack_unpack_bounded(const char *buf, size_t len, unsigned max_depth,
                           msgpack_unpacked *result, px_error *err);

#endif
