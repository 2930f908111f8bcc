#include "msgpack_scan.h"

#include <stdint.h>

/* The scan's detail goes in err->reason; the code says what kind of failure it is. */
#define scan_fail(err, reason, ...)                                                                \
    px_error_set_reason((err),                                                                     \
                        (reason) == MSGPACK_SCAN_NOMEM      ? PX_ENOMEM                            \
                        : (reason) == MSGPACK_SCAN_TOO_DEEP ? PX_ELIMIT                            \
                                                            : PX_EINVAL,                           \
                        (reason), __VA_ARGS__)

/* Big-endian unsigned of n bytes (1, 2, 4 or 8) at p. */
static uint64_t read_be(const unsigned char *p, size_t n) {
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++) v = (v << 8) | p[i];
    return v;
}

/* What one header says: `fixed` bytes of header, then either `payload` bytes of data (scalars,
 * str, bin, ext) or `children` elements (arrays: n, maps: 2n). */
typedef struct header {
    size_t fixed;     /* tag byte + length/type bytes */
    size_t len_bytes; /* bytes of the big-endian length that follows the tag (0 if none) */
    uint64_t payload; /* data bytes after the header, when known from the tag */
    int container;    /* 0 scalar, 1 array, 2 map */
    int ext;          /* 1: one type byte follows the length */
} header;

/* Decodes the tag byte. Returns 0, or -1 for 0xc1. */
static int classify(unsigned char t, header *h) {
    *h = (header){.fixed = 1};
    if (t <= 0x7f || t >= 0xe0 || t == 0xc0 || t == 0xc2 || t == 0xc3) return 0;
    if (t <= 0x8f) {
        h->container = 2;
        h->payload = t & 0x0f;
        return 0;
    }
    if (t <= 0x9f) {
        h->container = 1;
        h->payload = t & 0x0f;
        return 0;
    }
    if (t <= 0xbf) {
        h->payload = t & 0x1f;
        return 0;
    }
    switch (t) {
    case 0xc4:
    case 0xd9: h->len_bytes = 1; return 0; /* bin8, str8 */
    case 0xc5:
    case 0xda: h->len_bytes = 2; return 0; /* bin16, str16 */
    case 0xc6:
    case 0xdb: h->len_bytes = 4; return 0; /* bin32, str32 */
    case 0xc7:
        h->len_bytes = 1;
        h->ext = 1;
        return 0; /* ext8 */
    case 0xc8:
        h->len_bytes = 2;
        h->ext = 1;
        return 0; /* ext16 */
    case 0xc9:
        h->len_bytes = 4;
        h->ext = 1;
        return 0;                        /* ext32 */
    case 0xca: h->payload = 4; return 0; /* float32 */
    case 0xcb: h->payload = 8; return 0; /* float64 */
    case 0xcc:
    case 0xd0: h->payload = 1; return 0;
    case 0xcd:
    case 0xd1: h->payload = 2; return 0;
    case 0xce:
    case 0xd2: h->payload = 4; return 0;
    case 0xcf:
    case 0xd3: h->payload = 8; return 0;
    case 0xd4: h->payload = 2; return 0; /* fixext1: type + 1 */
    case 0xd5: h->payload = 3; return 0;
    case 0xd6: h->payload = 5; return 0;
    case 0xd7: h->payload = 9; return 0;
    case 0xd8: h->payload = 17; return 0;
    case 0xdc:
        h->container = 1;
        h->len_bytes = 2;
        return 0;
    case 0xdd:
        h->container = 1;
        h->len_bytes = 4;
        return 0;
    case 0xde:
        h->container = 2;
        h->len_bytes = 2;
        return 0;
    case 0xdf:
        h->container = 2;
        h->len_bytes = 4;
        return 0;
    default: return -1; /* 0xc1 */
    }
}

/* Iterative walk with an explicit stack of "elements still to read" per nesting level, so that
 * hostile input can neither recurse nor make us allocate. `pending` is the total of those counts:
 * each pending element needs at least one more byte, which bounds every declared count. */
int msgpack_scan(const char *buf, size_t len, unsigned max_depth, px_error *err) {
    if (max_depth > MSGPACK_SCAN_MAX_DEPTH) max_depth = MSGPACK_SCAN_MAX_DEPTH;
    if (len == 0) return scan_fail(err, MSGPACK_SCAN_EMPTY, "msgpack: empty input (0 bytes)");
    const unsigned char *start = (const unsigned char *)buf, *p = start, *end = start + len;
    uint64_t remaining[MSGPACK_SCAN_MAX_DEPTH + 1];
    unsigned depth = 0;
    remaining[0] = 1;
    uint64_t pending = 1;
    while (pending > 0) {
        while (remaining[depth] == 0) depth--;
        remaining[depth]--;
        pending--;
        size_t at = (size_t)(p - start);
        if (p >= end)
            return scan_fail(err, MSGPACK_SCAN_TRUNCATED,
                             "msgpack: input ends at byte %zu inside an object", at);
        header h;
        if (classify(*p, &h))
            return scan_fail(err, MSGPACK_SCAN_BAD_BYTE,
                             "msgpack: byte 0x%02x at offset %zu is not a valid type tag", *p, at);
        size_t head = h.fixed + h.len_bytes + (size_t)h.ext;
        if ((size_t)(end - p) < head)
            return scan_fail(err, MSGPACK_SCAN_TRUNCATED,
                             "msgpack: input ends inside the header at byte %zu", at);
        if (h.len_bytes) h.payload = read_be(p + 1, h.len_bytes);
        p += head;
        uint64_t left = (uint64_t)(end - p);
        if (!h.container) {
            if (h.payload > left)
                return scan_fail(
                    err, MSGPACK_SCAN_TRUNCATED,
                    "msgpack: object at byte %zu declares %llu bytes but only %llu remain", at,
                    (unsigned long long)h.payload, (unsigned long long)left);
            p += h.payload;
            continue;
        }
        if (depth + 1 > max_depth)
            return scan_fail(err, MSGPACK_SCAN_TOO_DEEP,
                             "msgpack: container at byte %zu nests deeper than %u levels", at,
                             max_depth);
        uint64_t children = h.payload * (uint64_t)h.container;
        if (children == 0) continue;
        if (pending + children > left)
            return scan_fail(
                err, MSGPACK_SCAN_OVERDECLARED,
                "msgpack: %s at byte %zu declares %llu elements but only %llu bytes remain",
                h.container == 2 ? "map" : "array", at, (unsigned long long)h.payload,
                (unsigned long long)left);
        remaining[++depth] = children;
        pending += children;
    }
    if (p != end)
        return scan_fail(err, MSGPACK_SCAN_TRAILING,
                         "msgpack: %zu trailing bytes after the object (which ends at byte %zu)",
                         (size_t)(end - p), (size_t)(p - start));
    return 0;
}

int msgpack_unpack_bounded(const char *buf, size_t len, unsigned max_depth,
                           msgpack_unpacked *result, px_error *err) {
    msgpack_unpacked_init(result);
    if (msgpack_scan(buf, len, max_depth, err)) return -1;
    size_t off = 0;
    msgpack_unpack_return ret = msgpack_unpack_next(result, buf, len, &off);
    if (ret == MSGPACK_UNPACK_SUCCESS && off == len) return 0;
    if (ret == MSGPACK_UNPACK_NOMEM_ERROR)
        return scan_fail(err, MSGPACK_SCAN_NOMEM, "msgpack: out of memory unpacking %zu bytes",
                         len);
    return scan_fail(err, MSGPACK_SCAN_TRUNCATED,
                     "msgpack: msgpack-c refused input the scan accepted (code %d)", (int)ret);
}
