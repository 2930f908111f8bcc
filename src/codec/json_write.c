#include "json_write.h"

#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "msgpack_scan.h"
#include "utf8.h"

#define json_fail(err, reason, ...)                                                                \
    px_error_set_reason((err), msgpack_json_reason_code(reason), (reason), __VA_ARGS__)

#define MAX_EXACT_INT 9007199254740991.0 /* 2^53 - 1 */

const char json_base64_alphabet[65] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

void json_buf_init(json_buf *b) { *b = (json_buf){0}; }

void json_buf_free(json_buf *b) {
    free(b->data);
    *b = (json_buf){0};
}

/* Room for n more bytes and the NUL. The writers below reserve once for a value and then store
 * directly; the public functions end with the NUL, the msgpack walk only once at its end. */
static int grow(json_buf *b, size_t n) {
    size_t cap = b->cap ? b->cap : 256;
    while (cap - b->len <= n) {
        if (cap > SIZE_MAX / 2) return -1;
        cap *= 2;
    }
    char *data = realloc(b->data, cap);
    if (!data) return -1;
    b->data = data;
    b->cap = cap;
    return 0;
}

static inline int reserve(json_buf *b, size_t n) { return b->cap - b->len > n ? 0 : grow(b, n); }

static inline int put_bytes(json_buf *b, const char *s, size_t n) {
    if (reserve(b, n)) return -1;
    memcpy(b->data + b->len, s, n);
    b->len += n;
    return 0;
}

static inline int put_char(json_buf *b, char c) {
    if (reserve(b, 1)) return -1;
    b->data[b->len++] = c;
    return 0;
}

/* The NUL after a public writer's text (reserve always leaves room for it). */
static int terminated(json_buf *b, int rc) {
    if (b->data) b->data[b->len] = '\0';
    return rc;
}

int json_buf_put(json_buf *b, const char *s, size_t n) { return terminated(b, put_bytes(b, s, n)); }

int json_buf_puts(json_buf *b, const char *s) { return json_buf_put(b, s, strlen(s)); }

/* Digits of v, most significant first, into the end of out[0..24); returns where they start. */
static char *u64_digits(uint64_t v, char out[24]) {
    char *p = out + 24;
    do *--p = (char)('0' + v % 10);
    while (v /= 10);
    return p;
}

/* Counted first, so the digits go straight into the buffer. */
static int put_u64(json_buf *b, uint64_t v, bool negative) {
    size_t n = 1 + (size_t)negative;
    for (uint64_t t = v; t >= 10; t /= 10) n++;
    if (reserve(b, n)) return -1;
    char *p = b->data + b->len + n;
    do *--p = (char)('0' + v % 10);
    while (v /= 10);
    if (negative) *--p = '-';
    b->len += n;
    return 0;
}

int json_write_int(json_buf *b, long long v) {
    return terminated(b, put_u64(b, v < 0 ? 0 - (uint64_t)v : (uint64_t)v, v < 0));
}

/* s[0..len) quoted and escaped per RFC 8259, in one pass. With check, a byte that does not start
 * a well-formed UTF-8 character or a NUL stops it: returns 1 (what was written stays). -1: no
 * memory. Room for the text as it is is reserved once; an escape reserves for the rest again. */
static int put_string(json_buf *b, const char *s, size_t len, bool check) {
    static const char hex[] = "0123456789abcdef";
    if (reserve(b, len + 2)) return -1;
    char *o = b->data + b->len;
    *o++ = '"';
    for (size_t i = 0; i < len;) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c < 0x80 && c != '"' && c != '\\') {
            *o++ = (char)c;
            i++;
            continue;
        }
        if (c >= 0x80) {
            size_t n = check ? utf8_char_len(s + i, len - i) : 1;
            if (!n) return 1;
            memcpy(o, s + i, n);
            o += n;
            i += n;
            continue;
        }
        if (check && !c) return 1;
        b->len = (size_t)(o - b->data);
        if (reserve(b, 6 + (len - i - 1) + 1)) return -1; /* the escape, the rest, the quote */
        o = b->data + b->len;
        *o++ = '\\';
        switch (c) {
        case '"': *o++ = '"'; break;
        case '\\': *o++ = '\\'; break;
        case '\b': *o++ = 'b'; break;
        case '\f': *o++ = 'f'; break;
        case '\n': *o++ = 'n'; break;
        case '\r': *o++ = 'r'; break;
        case '\t': *o++ = 't'; break;
        default:
            memcpy(o, "u00", 3);
            o[3] = hex[c >> 4];
            o[4] = hex[c & 15];
            o += 5;
        }
        i++;
    }
    *o++ = '"';
    b->len = (size_t)(o - b->data);
    return 0;
}

int json_write_string(json_buf *b, const char *s, size_t len) {
    return terminated(b, put_string(b, s, len, false));
}

int json_write_text(json_buf *b, const char *s, size_t len) {
    size_t cut = utf8_cut(s, len, len);
    if (cut > (SIZE_MAX - 1) / 4) return -1;
    char *quoted = malloc(cut * 4 + 1);
    if (!quoted) return -1;
    utf8_quote(quoted, cut * 4 + 1, s, cut);
    int rc = json_write_string(b, quoted, strlen(quoted));
    free(quoted);
    return rc;
}

int json_write_base64(json_buf *b, const unsigned char *data, size_t len) {
    if (reserve(b, (len + 2) / 3 * 4)) return -1;
    char *out = b->data + b->len;
    for (size_t i = 0; i < len; i += 3) {
        uint32_t v = (uint32_t)data[i] << 16;
        if (i + 1 < len) v |= (uint32_t)data[i + 1] << 8;
        if (i + 2 < len) v |= data[i + 2];
        *out++ = json_base64_alphabet[(v >> 18) & 63];
        *out++ = json_base64_alphabet[(v >> 12) & 63];
        *out++ = i + 1 < len ? json_base64_alphabet[(v >> 6) & 63] : '=';
        *out++ = i + 2 < len ? json_base64_alphabet[v & 63] : '=';
    }
    b->len = (size_t)(out - b->data);
    b->data[b->len] = '\0';
    return 0;
}

/* --- numbers ------------------------------------------------------------------------------ */

static const double pow10_exact[16] = {1e0, 1e1, 1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                                       1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15};

/* Doubles with at most 15 significant digits and 1e-4 <= |d| < 1e15, as m / 10^n with the
 * fewest decimals n. m and 10^n are exact doubles, so m / 10^n (one correctly rounded division)
 * equals strtod of the same decimal: the test below is the round trip itself. With at most 15
 * digits the decimal is also what %.15g prints, so the text is the same as the printf ladder's
 * (one nearest integer at each n: 15 digits leave a margin over the double's 15.95). */
static size_t format_short_decimal(double d, char out[40]) {
    double a = fabs(d);
    if (a < 1e-4 || a >= 1e15) return 0;
    for (int n = 1; n < 16; n++) {
        double m = nearbyint(a * pow10_exact[n]);
        if (m >= 1e15) return 0;
        if (m / pow10_exact[n] != a) continue;
        char digits[24], *p = u64_digits((uint64_t)m, digits);
        size_t nd = (size_t)(digits + 24 - p), o = 0;
        if (d < 0) out[o++] = '-';
        if (nd <= (size_t)n) {
            out[o++] = '0';
            out[o++] = '.';
            for (size_t z = nd; z < (size_t)n; z++) out[o++] = '0';
            memcpy(out + o, p, nd);
            o += nd;
        } else {
            memcpy(out + o, p, nd - (size_t)n);
            o += nd - (size_t)n;
            out[o++] = '.';
            memcpy(out + o, p + nd - (size_t)n, (size_t)n);
            o += (size_t)n;
        }
        out[o] = '\0';
        return o;
    }
    return 0;
}

/* Whether text names the float32 d and, read back as JSON (a double), stays a float: beyond
 * ±(2^53-1) the shortest float32 text can read back as an exact integer ("-9.007199e+15" names
 * -2^53 but reads back as -9007199000000000), which msgpack_json packs as an integer, and the
 * JSON text would change on the way back (found by fuzz_codecs). */
static bool single_reads_back(const char *text, double d) {
    return strtof(text, NULL) == (float)d &&
           (fabs(d) <= MAX_EXACT_INT || fabs(strtod(text, NULL)) > MAX_EXACT_INT);
}

size_t json_format_real(double d, int single, char out[40]) {
    if (d == 0 && signbit(d)) return (size_t)snprintf(out, 40, "-0.0");
    if (d == trunc(d) && fabs(d) <= MAX_EXACT_INT) {
        char digits[24], *p = u64_digits((uint64_t)fabs(d), digits);
        size_t o = 0;
        if (d < 0) out[o++] = '-';
        memcpy(out + o, p, (size_t)(digits + 24 - p));
        o += (size_t)(digits + 24 - p);
        out[o] = '\0';
        return o;
    }
    size_t n = single ? 0 : format_short_decimal(d, out);
    if (n) return n;
    /* The printf ladder: the fewest digits that read back to the same value. */
    bool found = false;
    for (int prec = single ? 6 : 15; !found && prec <= (single ? 9 : 17); prec++) {
        n = (size_t)snprintf(out, 40, "%.*g", prec, d);
        found = single ? single_reads_back(out, d) : strtod(out, NULL) == d;
    }
    if (!found && single) return json_format_real(d, 0, out); /* exact at double precision */
    /* Beyond 2^53 an integral float printed as digits alone would read back as an integer. */
    if (!strpbrk(out, ".e")) n += (size_t)snprintf(out + n, 40 - n, ".0");
    return n;
}

/* --- msgpack → JSON ------------------------------------------------------------------------ */

/* A map key's JSON text: a str as it is, an integer as its decimal digits, kept right-aligned in
 * digits so that the struct can be moved (sorted). */
typedef struct key_ref {
    const char *str; /* NULL for an integer key */
    size_t len;
    char digits[24];
} key_ref;

static const char *key_ref_text(const key_ref *k) {
    return k->str ? k->str : k->digits + 24 - k->len;
}

/* Where the writer is: the containers entered and the element being written in each (with its
 * key in a map), so the path text of an error is built only when there is one. */
typedef struct writer {
    json_buf *b;
    const msgpack_json_limits *limits;
    px_error *err;
    /* The checks in their documented order (each map's keys before any of its values), to name
     * the first error exactly; the single pass finds the same errors in another order. */
    bool keys_first;
    unsigned depth;
    struct {
        bool is_map;
        bool in_key; /* the error is about the key itself: the path names the map */
        uint32_t index;
        key_ref key;
    } frames[MSGPACK_SCAN_MAX_DEPTH + 1];
} writer;

static json_path writer_path(const writer *w) {
    json_path path = JSON_PATH_ROOT;
    for (unsigned i = 0; i < w->depth && !w->frames[i].in_key; i++) {
        if (w->frames[i].is_map)
            json_path_push_key(&path, key_ref_text(&w->frames[i].key), w->frames[i].key.len);
        else
            json_path_push_index(&path, w->frames[i].index);
    }
    return path;
}

static int write_nomem(writer *w) {
    json_path path = writer_path(w);
    return json_fail(w->err, MSGPACK_JSON_ERR_NOMEM, "%s: out of memory", path.text);
}

/* The bytes are checked as they are read: the walk never reads past the end, whoever made them
 * (our encoder, or a Kafka message for `tail`). */
typedef struct cursor {
    const unsigned char *p, *end;
} cursor;

static int bad_msgpack(writer *w, const cursor *c) {
    return json_fail(w->err, MSGPACK_JSON_ERR_BAD_MSGPACK,
                     "msgpack: malformed object, %zu bytes before the end",
                     (size_t)(c->end - c->p));
}

/* n bytes at the cursor, moved past; NULL when fewer are left. */
static const unsigned char *take(cursor *c, size_t n) {
    if ((size_t)(c->end - c->p) < n) return NULL;
    const unsigned char *at = c->p;
    c->p += n;
    return at;
}

/* A big-endian integer of n bytes at the cursor. */
static int take_be(cursor *c, size_t n, uint64_t *v) {
    const unsigned char *p = take(c, n);
    if (!p) return -1;
    *v = 0;
    for (size_t i = 0; i < n; i++) *v = *v << 8 | p[i];
    return 0;
}

/* n payload bytes as a str/bin/ext of object type t. */
static int take_payload(cursor *c, msgpack_object *o, msgpack_object_type t, uint64_t n) {
    const char *p = (const char *)take(c, n > SIZE_MAX ? SIZE_MAX : (size_t)n);
    if (!p) return -1;
    o->type = t;
    if (t == MSGPACK_OBJECT_EXT) {
        o->via.ext.ptr = p;
        o->via.ext.size = (uint32_t)n;
    } else {
        /* str and bin share a layout in msgpack-c's union; never NULL, even empty */
        o->via.str.ptr = p;
        o->via.str.size = (uint32_t)n;
    }
    return 0;
}

/* An ext: its type byte, then n bytes. */
static int take_ext(cursor *c, msgpack_object *o, uint64_t n) {
    const unsigned char *type = take(c, 1);
    if (!type || take_payload(c, o, MSGPACK_OBJECT_EXT, n)) return -1;
    o->via.ext.type = (int8_t)*type;
    return 0;
}

static void set_int(msgpack_object *o, int64_t v) {
    o->type = v < 0 ? MSGPACK_OBJECT_NEGATIVE_INTEGER : MSGPACK_OBJECT_POSITIVE_INTEGER;
    o->via.i64 = v; /* a non-negative value reads the same through via.u64 */
}

/* One object's head as msgpack-c would type it: a scalar whole (str, bin and ext pointing into
 * the bytes), a container with its count only, its elements following. -1 when the bytes end
 * first or hold 0xc1. */
static int read_head(cursor *c, msgpack_object *o) {
    const unsigned char *tag = take(c, 1);
    if (!tag) return -1;
    unsigned t = *tag;
    uint64_t v;
    if (t <= 0x7f || t >= 0xe0) {
        set_int(o, (int8_t)t);
        return 0;
    }
    if (t <= 0x9f) {
        o->type = t <= 0x8f ? MSGPACK_OBJECT_MAP : MSGPACK_OBJECT_ARRAY;
        o->via.array.size = t & 0x0f; /* array and map share a layout */
        return 0;
    }
    if (t <= 0xbf) return take_payload(c, o, MSGPACK_OBJECT_STR, t & 0x1f);
    switch (t) {
    case 0xc0: o->type = MSGPACK_OBJECT_NIL; return 0;
    case 0xc2:
    case 0xc3:
        o->type = MSGPACK_OBJECT_BOOLEAN;
        o->via.boolean = t == 0xc3;
        return 0;
    case 0xc4:
    case 0xc5:
    case 0xc6: return take_be(c, 1u << (t - 0xc4), &v) || take_payload(c, o, MSGPACK_OBJECT_BIN, v);
    case 0xc7:
    case 0xc8:
    case 0xc9: return take_be(c, 1u << (t - 0xc7), &v) || take_ext(c, o, v);
    case 0xca:
    case 0xcb: {
        if (take_be(c, t == 0xca ? 4 : 8, &v)) return -1;
        o->type = t == 0xca ? MSGPACK_OBJECT_FLOAT32 : MSGPACK_OBJECT_FLOAT64;
        if (t == 0xca) {
            uint32_t bits = (uint32_t)v;
            float f;
            memcpy(&f, &bits, sizeof f);
            o->via.f64 = f;
        } else {
            memcpy(&o->via.f64, &v, sizeof v);
        }
        return 0;
    }
    case 0xcc:
    case 0xcd:
    case 0xce:
    case 0xcf:
        if (take_be(c, 1u << (t - 0xcc), &v)) return -1;
        o->type = MSGPACK_OBJECT_POSITIVE_INTEGER;
        o->via.u64 = v;
        return 0;
    case 0xd0:
    case 0xd1:
    case 0xd2:
    case 0xd3: {
        unsigned n = 1u << (t - 0xd0);
        if (take_be(c, n, &v)) return -1;
        /* sign-extended from its n bytes */
        unsigned shift = 64 - 8 * n;
        set_int(o, (int64_t)(v << shift) >> shift);
        return 0;
    }
    case 0xd4:
    case 0xd5:
    case 0xd6:
    case 0xd7:
    case 0xd8: return take_ext(c, o, 1u << (t - 0xd4));
    case 0xd9:
    case 0xda:
    case 0xdb: return take_be(c, 1u << (t - 0xd9), &v) || take_payload(c, o, MSGPACK_OBJECT_STR, v);
    case 0xdc:
    case 0xdd:
    case 0xde:
    case 0xdf:
        if (take_be(c, t & 1 ? 4 : 2, &v)) return -1;
        o->type = t <= 0xdd ? MSGPACK_OBJECT_ARRAY : MSGPACK_OBJECT_MAP;
        o->via.array.size = (uint32_t)v;
        return 0;
    default: return -1; /* 0xc1 */
    }
}

/* Moves past one whole object, its elements included. */
static int skip_value(cursor *c) {
    for (uint64_t left = 1; left; left--) {
        msgpack_object o;
        if (read_head(c, &o)) return -1;
        if (o.type == MSGPACK_OBJECT_ARRAY || o.type == MSGPACK_OBJECT_MAP)
            left += (uint64_t)o.via.array.size * (o.type == MSGPACK_OBJECT_MAP ? 2 : 1);
    }
    return 0;
}

/* The exact message for a str the one-pass writer stopped on (check_str's order: UTF-8, then
 * NUL). */
static int check_str(writer *w, const char *s, size_t len, const char *what) {
    size_t bad;
    json_path path = writer_path(w);
    if (!utf8_valid(s, len, &bad))
        return json_fail(w->err, MSGPACK_JSON_ERR_BAD_UTF8, "%s: %s is not valid UTF-8 (byte %zu)",
                         path.text, what, bad);
    if (len && memchr(s, '\0', len))
        return json_fail(w->err, MSGPACK_JSON_ERR_NUL_IN_STRING,
                         "%s: %s contains a NUL byte, which JSON strings here cannot carry",
                         path.text, what);
    return 0;
}

/* A str, checked as it is written. */
static int write_str(writer *w, const char *s, size_t len, const char *what) {
    int rc = put_string(w->b, s, len, true);
    if (rc > 0) check_str(w, s, len, what);
    return rc < 0 ? write_nomem(w) : -rc;
}

/* The next key of a map of n entries: its type checked (and, for the only key, that it is not
 * the $bin/$ext tag), its text in ref. A str key's UTF-8 is checked where it is used. */
static int read_key(writer *w, cursor *c, uint32_t n, key_ref *ref) {
    msgpack_object k;
    if (read_head(c, &k)) return bad_msgpack(w, c);
    switch (k.type) {
    case MSGPACK_OBJECT_STR:
        if (n == 1 && k.via.str.size == 4 &&
            (!memcmp(k.via.str.ptr, "$bin", 4) || !memcmp(k.via.str.ptr, "$ext", 4))) {
            json_path path = writer_path(w);
            return json_fail(w->err, MSGPACK_JSON_ERR_RESERVED_KEY,
                             "%s: a map whose only key is \"%.4s\" would read back as bin/ext",
                             path.text, k.via.str.ptr);
        }
        ref->str = k.via.str.ptr;
        ref->len = k.via.str.size;
        return 0;
    case MSGPACK_OBJECT_POSITIVE_INTEGER:
    case MSGPACK_OBJECT_NEGATIVE_INTEGER: {
        bool neg = k.type == MSGPACK_OBJECT_NEGATIVE_INTEGER;
        char *p = u64_digits(neg ? 0 - (uint64_t)k.via.i64 : k.via.u64, ref->digits);
        if (neg) *--p = '-';
        ref->str = NULL;
        ref->len = (size_t)(ref->digits + 24 - p);
        return 0;
    }
    default: {
        json_path path = writer_path(w);
        return json_fail(
            w->err, MSGPACK_JSON_ERR_KEY_TYPE,
            "%s: map key of msgpack type %d; only strings and integers can be JSON keys", path.text,
            (int)k.type);
    }
    }
}

static int compare_key_refs(const void *a, const void *b) {
    const key_ref *x = a, *y = b;
    int c = memcmp(key_ref_text(x), key_ref_text(y), x->len < y->len ? x->len : y->len);
    return c ? c : (x->len > y->len) - (x->len < y->len);
}

/* The duplicate key that sorting the keys finds first: pairwise in a small map (no sort), sorted
 * (in place) above. NULL when every key differs. */
static const key_ref *duplicate_key(key_ref *keys, uint32_t n) {
    const key_ref *dup = NULL;
    if (n <= 8) {
        for (uint32_t i = 1; i < n; i++)
            for (uint32_t j = 0; j < i; j++)
                if (keys[i].len == keys[j].len &&
                    !memcmp(key_ref_text(&keys[i]), key_ref_text(&keys[j]), keys[i].len) &&
                    (!dup || compare_key_refs(&keys[i], dup) < 0))
                    dup = &keys[i];
        return dup;
    }
    qsort(keys, n, sizeof *keys, compare_key_refs);
    for (uint32_t i = 1; i < n; i++)
        if (!compare_key_refs(&keys[i - 1], &keys[i])) return &keys[i];
    return NULL;
}

static int check_duplicates(writer *w, key_ref *keys, uint32_t n) {
    const key_ref *dup = duplicate_key(keys, n);
    if (!dup) return 0;
    w->frames[w->depth - 1].in_key = true;
    json_path path = writer_path(w);
    return json_fail(w->err, MSGPACK_JSON_ERR_DUPLICATE_KEY, "%s: key \"%.*s\" appears twice",
                     path.text, (int)utf8_cut(key_ref_text(dup), dup->len, 60), key_ref_text(dup));
}

/* keys_first: every key of the map at c checked (type, UTF-8, duplicates) before its values;
 * the cursor is a copy, the entries are written after. */
static int check_keys(writer *w, cursor c, uint32_t n, key_ref *keys) {
    int rc = 0;
    for (uint32_t i = 0; i < n && !rc; i++) {
        rc = read_key(w, &c, n, &keys[i]);
        if (!rc && keys[i].str) rc = check_str(w, keys[i].str, keys[i].len, "map key");
        if (!rc && skip_value(&c)) rc = bad_msgpack(w, &c);
    }
    return rc ? rc : check_duplicates(w, keys, n);
}

/* An entry's key and its colon; the path names the entry from there on. */
static int write_key(writer *w, cursor *c, uint32_t n, key_ref *key) {
    w->frames[w->depth - 1].in_key = true;
    int rc = read_key(w, c, n, key);
    if (!rc && key->str) rc = write_str(w, key->str, key->len, "map key");
    if (!rc && !key->str && put_string(w->b, key_ref_text(key), key->len, false))
        rc = write_nomem(w);
    w->frames[w->depth - 1].in_key = false;
    w->frames[w->depth - 1].key = *key;
    if (!rc && put_char(w->b, ':')) rc = write_nomem(w);
    return rc;
}

static int write_value(writer *w, cursor *c);

static int write_entries(writer *w, cursor *c, bool is_map, uint32_t n, key_ref *keys) {
    if (put_char(w->b, is_map ? '{' : '[')) return write_nomem(w);
    for (uint32_t i = 0; i < n; i++) {
        w->frames[w->depth - 1].index = i;
        if (i && put_char(w->b, ',')) return write_nomem(w);
        if ((is_map && write_key(w, c, n, &keys[i])) || write_value(w, c)) return -1;
    }
    if (is_map && !w->keys_first && check_duplicates(w, keys, n)) return -1;
    return put_char(w->b, is_map ? '}' : ']') ? write_nomem(w) : 0;
}

static int write_container(writer *w, cursor *c, const msgpack_object *head) {
    bool is_map = head->type == MSGPACK_OBJECT_MAP;
    uint32_t n = head->via.array.size;
    if (w->depth + 1 > w->limits->max_depth) {
        json_path path = writer_path(w);
        return json_fail(w->err, MSGPACK_JSON_ERR_TOO_DEEP,
                         "%s: containers nest deeper than %u levels", path.text,
                         w->limits->max_depth);
    }
    /* each entry takes two bytes at least: this bounds the key array on hostile input */
    if (is_map && n > (size_t)(c->end - c->p) / 2) return bad_msgpack(w, c);
    w->frames[w->depth].is_map = is_map;
    w->frames[w->depth].in_key = is_map; /* until its first key is read, the path names the map */
    w->frames[w->depth].index = 0;
    w->depth++;
    key_ref local[16], *keys = !is_map || n <= 16 ? local : malloc(n * sizeof *keys);
    int rc = keys ? 0 : write_nomem(w);
    if (!rc && is_map && w->keys_first) rc = check_keys(w, *c, n, keys);
    if (!rc) rc = write_entries(w, c, is_map, n, keys);
    if (keys != local) free(keys);
    w->depth--;
    return rc;
}

/* {"$bin":"<base64>"} or {"$ext":[type,"<base64>"]}. */
static int write_tagged(writer *w, const msgpack_object *o) {
    bool is_ext = o->type == MSGPACK_OBJECT_EXT;
    const char *data = is_ext ? o->via.ext.ptr : o->via.bin.ptr;
    size_t len = is_ext ? o->via.ext.size : o->via.bin.size;
    int rc = is_ext ? put_bytes(w->b, "{\"$ext\":[", 9) || json_write_int(w->b, o->via.ext.type) ||
                          put_char(w->b, ',')
                    : put_bytes(w->b, "{\"$bin\":", 8);
    rc = rc || put_char(w->b, '"') || json_write_base64(w->b, (const unsigned char *)data, len) ||
         put_bytes(w->b, is_ext ? "\"]}" : "\"}", is_ext ? 3 : 2);
    return rc ? write_nomem(w) : 0;
}

static int write_value(writer *w, cursor *c) {
    msgpack_object o;
    if (read_head(c, &o)) return bad_msgpack(w, c);
    int rc;
    switch (o.type) {
    case MSGPACK_OBJECT_NIL: rc = put_bytes(w->b, "null", 4); break;
    case MSGPACK_OBJECT_BOOLEAN:
        rc = o.via.boolean ? put_bytes(w->b, "true", 4) : put_bytes(w->b, "false", 5);
        break;
    case MSGPACK_OBJECT_POSITIVE_INTEGER: rc = put_u64(w->b, o.via.u64, false); break;
    case MSGPACK_OBJECT_NEGATIVE_INTEGER: rc = put_u64(w->b, 0 - (uint64_t)o.via.i64, true); break;
    case MSGPACK_OBJECT_FLOAT32:
    case MSGPACK_OBJECT_FLOAT64:
        if (!isfinite(o.via.f64)) {
            json_path path = writer_path(w);
            return json_fail(w->err, MSGPACK_JSON_ERR_NON_FINITE, "%s: %g has no JSON form",
                             path.text, o.via.f64);
        }
        /* formatted in place: json_format_real writes at most 40 bytes, its NUL included */
        rc = reserve(w->b, 40);
        if (!rc)
            w->b->len += json_format_real(o.via.f64, o.type == MSGPACK_OBJECT_FLOAT32,
                                          w->b->data + w->b->len);
        break;
    case MSGPACK_OBJECT_STR: return write_str(w, o.via.str.ptr, o.via.str.size, "string");
    case MSGPACK_OBJECT_BIN:
    case MSGPACK_OBJECT_EXT: return write_tagged(w, &o);
    default: return write_container(w, c, &o); /* array, map */
    }
    return rc ? write_nomem(w) : 0;
}

/* One walk writing as it reads; on any error the buffer goes back to where it was and the
 * bytes are judged again in the documented order: first their structure (msgpack_scan, the
 * same message as msgpack_json_from_bytes), then every map's keys before its values. A failure
 * leaves the buffer as it was. */
int json_write_msgpack(json_buf *b, const char *buf, size_t len, const msgpack_json_limits *limits,
                       px_error *err) {
    msgpack_json_limits l = limits ? *limits : msgpack_json_limits_default();
    if (l.max_depth > MSGPACK_SCAN_MAX_DEPTH) l.max_depth = MSGPACK_SCAN_MAX_DEPTH;
    if (len > l.max_bytes)
        return json_fail(err, MSGPACK_JSON_ERR_TOO_BIG, "msgpack: %zu bytes, over the limit of %zu",
                         len, l.max_bytes);
    writer w = {.b = b, .limits = &l, .err = err};
    /* an empty object or a failure still leaves b a C string */
    if (reserve(b, 0)) return write_nomem(&w);
    size_t start = b->len;
    cursor c = {(const unsigned char *)buf, (const unsigned char *)buf + len};
    int rc = write_value(&w, &c);
    if (!rc && c.p != c.end) rc = bad_msgpack(&w, &c);
    if (rc) {
        b->len = start;
        if (msgpack_scan(buf, len, l.max_depth, err)) {
            msgpack_json_relabel_scan_error(err);
        } else {
            w = (writer){.b = b, .limits = &l, .err = err, .keys_first = true};
            c = (cursor){(const unsigned char *)buf, (const unsigned char *)buf + len};
            rc = write_value(&w, &c);
            if (rc) b->len = start;
        }
    }
    return terminated(b, rc);
}

/* --- paths --------------------------------------------------------------------------------- */

/* Appends what fits of s, cut on a character boundary. */
static void path_append(json_path *path, const char *s, size_t n) {
    size_t room = sizeof path->text - 1 - path->len;
    n = utf8_cut(s, n, room);
    memcpy(path->text + path->len, s, n);
    path->len += n;
    path->text[path->len] = '\0';
}

size_t json_path_push_key(json_path *path, const char *key, size_t key_len) {
    size_t saved = path->len, shown = utf8_cut(key, key_len, 40);
    path_append(path, ".", 1);
    path_append(path, key, shown);
    if (shown < key_len) path_append(path, "…", strlen("…"));
    return saved;
}

size_t json_path_push_index(json_path *path, size_t index) {
    size_t saved = path->len;
    char text[24];
    int n = snprintf(text, sizeof text, "[%zu]", index);
    path_append(path, text, (size_t)n);
    return saved;
}

void json_path_pop(json_path *path, size_t saved) {
    path->len = saved;
    path->text[saved] = '\0';
}
