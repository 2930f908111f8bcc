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

/* Room for n more bytes and the NUL. */
static int reserve(json_buf *b, size_t n) {
    if (b->cap - b->len > n) return 0;
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

int json_buf_put(json_buf *b, const char *s, size_t n) {
    if (reserve(b, n)) return -1;
    memcpy(b->data + b->len, s, n);
    b->len += n;
    b->data[b->len] = '\0';
    return 0;
}

int json_buf_puts(json_buf *b, const char *s) { return json_buf_put(b, s, strlen(s)); }

static int put_char(json_buf *b, char c) { return json_buf_put(b, &c, 1); }

/* Digits of v, most significant first, into the end of out[0..24); returns where they start. */
static char *u64_digits(uint64_t v, char out[24]) {
    char *p = out + 24;
    do *--p = (char)('0' + v % 10);
    while (v /= 10);
    return p;
}

static int put_u64(json_buf *b, uint64_t v, bool negative) {
    char digits[24], *p = u64_digits(v, digits);
    if (negative) *--p = '-';
    return json_buf_put(b, p, (size_t)(digits + 24 - p));
}

int json_write_int(json_buf *b, long long v) {
    return put_u64(b, v < 0 ? 0 - (uint64_t)v : (uint64_t)v, v < 0);
}

int json_write_string(json_buf *b, const char *s, size_t len) {
    static const char hex[] = "0123456789abcdef";
    if (reserve(b, len + 2)) return -1;
    b->data[b->len++] = '"';
    size_t run = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c != '"' && c != '\\') continue;
        char esc[6] = {'\\', 0};
        size_t n = 2;
        switch (c) {
        case '"': esc[1] = '"'; break;
        case '\\': esc[1] = '\\'; break;
        case '\b': esc[1] = 'b'; break;
        case '\f': esc[1] = 'f'; break;
        case '\n': esc[1] = 'n'; break;
        case '\r': esc[1] = 'r'; break;
        case '\t': esc[1] = 't'; break;
        default:
            memcpy(esc + 1, "u00", 3);
            esc[4] = hex[c >> 4];
            esc[5] = hex[c & 15];
            n = 6;
        }
        if (json_buf_put(b, s + run, i - run) || json_buf_put(b, esc, n)) return -1;
        run = i + 1;
    }
    return json_buf_put(b, s + run, len - run) || put_char(b, '"') ? -1 : 0;
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
    for (int prec = single ? 6 : 15; prec <= (single ? 9 : 17); prec++) {
        n = (size_t)snprintf(out, 40, "%.*g", prec, d);
        if (single ? strtof(out, NULL) == (float)d : strtod(out, NULL) == d) break;
    }
    /* Beyond 2^53 an integral float printed as digits alone would read back as an integer. */
    if (!strpbrk(out, ".e")) n += (size_t)snprintf(out + n, 40 - n, ".0");
    return n;
}

/* --- msgpack → JSON ------------------------------------------------------------------------ */

/* Where the writer is: the containers entered and the element being written in each, so the
 * path text of an error is built only when there is one. */
typedef struct writer {
    json_buf *b;
    const msgpack_json_limits *limits;
    px_error *err;
    unsigned depth;
    struct {
        const msgpack_object *container;
        uint32_t index;
        bool in_key; /* the error is about the key itself: the path names the map */
    } frames[MSGPACK_SCAN_MAX_DEPTH + 1];
} writer;

static json_path writer_path(const writer *w) {
    json_path path = JSON_PATH_ROOT;
    for (unsigned i = 0; i < w->depth; i++) {
        const msgpack_object *c = w->frames[i].container;
        if (w->frames[i].in_key) break;
        if (c->type == MSGPACK_OBJECT_ARRAY) {
            json_path_push_index(&path, w->frames[i].index);
            continue;
        }
        const msgpack_object *k = &c->via.map.ptr[w->frames[i].index].key;
        char digits[24];
        if (k->type == MSGPACK_OBJECT_STR) {
            json_path_push_key(&path, k->via.str.ptr, k->via.str.size);
        } else {
            int n = snprintf(
                digits, sizeof digits, k->type == MSGPACK_OBJECT_POSITIVE_INTEGER ? "%llu" : "%lld",
                k->type == MSGPACK_OBJECT_POSITIVE_INTEGER ? (unsigned long long)k->via.u64
                                                           : (unsigned long long)k->via.i64);
            json_path_push_key(&path, digits, (size_t)n);
        }
    }
    return path;
}

static int write_nomem(writer *w) {
    json_path path = writer_path(w);
    return json_fail(w->err, MSGPACK_JSON_ERR_NOMEM, "%s: out of memory", path.text);
}

static int check_str(writer *w, const char *s, size_t len, const char *what) {
    size_t bad;
    if (!utf8_valid(s, len, &bad)) {
        json_path path = writer_path(w);
        return json_fail(w->err, MSGPACK_JSON_ERR_BAD_UTF8, "%s: %s is not valid UTF-8 (byte %zu)",
                         path.text, what, bad);
    }
    if (len && memchr(s, '\0', len)) {
        json_path path = writer_path(w);
        return json_fail(w->err, MSGPACK_JSON_ERR_NUL_IN_STRING,
                         "%s: %s contains a NUL byte, which JSON strings here cannot carry",
                         path.text, what);
    }
    return 0;
}

/* A map key's JSON text: a str as it is (checked), an integer as its decimal digits, kept
 * right-aligned in digits so that the struct can be moved (sorted). */
typedef struct key_ref {
    const char *str; /* NULL for an integer key */
    size_t len;
    char digits[24];
} key_ref;

static const char *key_ref_text(const key_ref *k) {
    return k->str ? k->str : k->digits + 24 - k->len;
}

static int key_of(writer *w, const msgpack_object *k, key_ref *ref) {
    switch (k->type) {
    case MSGPACK_OBJECT_STR:
        ref->str = k->via.str.size ? k->via.str.ptr : "";
        ref->len = k->via.str.size;
        return check_str(w, ref->str, ref->len, "map key");
    case MSGPACK_OBJECT_POSITIVE_INTEGER:
    case MSGPACK_OBJECT_NEGATIVE_INTEGER: {
        bool neg = k->type == MSGPACK_OBJECT_NEGATIVE_INTEGER;
        char *p = u64_digits(neg ? 0 - (uint64_t)k->via.i64 : k->via.u64, ref->digits);
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
            (int)k->type);
    }
    }
}

static int compare_key_refs(const void *a, const void *b) {
    const key_ref *x = a, *y = b;
    int c = memcmp(key_ref_text(x), key_ref_text(y), x->len < y->len ? x->len : y->len);
    return c ? c : (x->len > y->len) - (x->len < y->len);
}

/* Every key checked (type, UTF-8) and no two with the same text; keys sorted in a copy. */
static int check_keys(writer *w, const msgpack_object_map *map) {
    key_ref local[16], *keys = map->size <= 16 ? local : malloc(map->size * sizeof *keys);
    if (!keys) return write_nomem(w);
    int rc = 0;
    w->frames[w->depth - 1].in_key = true;
    for (uint32_t i = 0; i < map->size && !rc; i++) rc = key_of(w, &map->ptr[i].key, &keys[i]);
    if (!rc && map->size > 1) {
        qsort(keys, map->size, sizeof *keys, compare_key_refs);
        for (uint32_t i = 1; i < map->size && !rc; i++) {
            if (compare_key_refs(&keys[i - 1], &keys[i])) continue;
            json_path path = writer_path(w);
            rc = json_fail(w->err, MSGPACK_JSON_ERR_DUPLICATE_KEY, "%s: key \"%.*s\" appears twice",
                           path.text, (int)utf8_cut(key_ref_text(&keys[i]), keys[i].len, 60),
                           key_ref_text(&keys[i]));
        }
    }
    w->frames[w->depth - 1].in_key = false;
    if (keys != local) free(keys);
    return rc;
}

static int write_value(writer *w, const msgpack_object *o);

static int write_container(writer *w, const msgpack_object *o) {
    bool is_map = o->type == MSGPACK_OBJECT_MAP;
    uint32_t n = is_map ? o->via.map.size : o->via.array.size;
    if (w->depth + 1 > w->limits->max_depth) {
        json_path path = writer_path(w);
        return json_fail(w->err, MSGPACK_JSON_ERR_TOO_DEEP,
                         "%s: containers nest deeper than %u levels", path.text,
                         w->limits->max_depth);
    }
    w->frames[w->depth].container = o;
    w->frames[w->depth].index = 0;
    w->frames[w->depth].in_key = false;
    w->depth++;
    int rc = 0;
    if (is_map) {
        const msgpack_object *k = &o->via.map.ptr[0].key;
        if (n == 1 && k->type == MSGPACK_OBJECT_STR && k->via.str.size == 4 &&
            (!memcmp(k->via.str.ptr, "$bin", 4) || !memcmp(k->via.str.ptr, "$ext", 4))) {
            w->frames[w->depth - 1].in_key = true;
            json_path path = writer_path(w);
            rc = json_fail(w->err, MSGPACK_JSON_ERR_RESERVED_KEY,
                           "%s: a map whose only key is \"%.4s\" would read back as bin/ext",
                           path.text, k->via.str.ptr);
        } else {
            rc = check_keys(w, &o->via.map);
        }
    }
    if (!rc && put_char(w->b, is_map ? '{' : '[')) rc = write_nomem(w);
    for (uint32_t i = 0; i < n && !rc; i++) {
        w->frames[w->depth - 1].index = i;
        if (i && put_char(w->b, ',')) rc = write_nomem(w);
        if (!rc && is_map) {
            key_ref key;
            const msgpack_object *k = &o->via.map.ptr[i].key;
            rc = key_of(w, k, &key);
            if (!rc &&
                (json_write_string(w->b, key_ref_text(&key), key.len) || put_char(w->b, ':')))
                rc = write_nomem(w);
        }
        if (!rc) rc = write_value(w, is_map ? &o->via.map.ptr[i].val : &o->via.array.ptr[i]);
    }
    if (!rc && put_char(w->b, is_map ? '}' : ']')) rc = write_nomem(w);
    w->depth--;
    return rc;
}

/* {"$bin":"<base64>"} or {"$ext":[type,"<base64>"]}. */
static int write_tagged(writer *w, const msgpack_object *o) {
    bool is_ext = o->type == MSGPACK_OBJECT_EXT;
    const char *data = is_ext ? o->via.ext.ptr : o->via.bin.ptr;
    size_t len = is_ext ? o->via.ext.size : o->via.bin.size;
    int rc = is_ext ? json_buf_put(w->b, "{\"$ext\":[", 9) ||
                          json_write_int(w->b, o->via.ext.type) || put_char(w->b, ',')
                    : json_buf_put(w->b, "{\"$bin\":", 8);
    rc = rc || put_char(w->b, '"') || json_write_base64(w->b, (const unsigned char *)data, len) ||
         json_buf_put(w->b, is_ext ? "\"]}" : "\"}", is_ext ? 3 : 2);
    return rc ? write_nomem(w) : 0;
}

static int write_value(writer *w, const msgpack_object *o) {
    char text[40];
    int rc;
    switch (o->type) {
    case MSGPACK_OBJECT_NIL: rc = json_buf_put(w->b, "null", 4); break;
    case MSGPACK_OBJECT_BOOLEAN:
        rc = o->via.boolean ? json_buf_put(w->b, "true", 4) : json_buf_put(w->b, "false", 5);
        break;
    case MSGPACK_OBJECT_POSITIVE_INTEGER: rc = put_u64(w->b, o->via.u64, false); break;
    case MSGPACK_OBJECT_NEGATIVE_INTEGER: rc = put_u64(w->b, 0 - (uint64_t)o->via.i64, true); break;
    case MSGPACK_OBJECT_FLOAT32:
    case MSGPACK_OBJECT_FLOAT64:
        if (!isfinite(o->via.f64)) {
            json_path path = writer_path(w);
            return json_fail(w->err, MSGPACK_JSON_ERR_NON_FINITE, "%s: %g has no JSON form",
                             path.text, o->via.f64);
        }
        rc = json_buf_put(w->b, text,
                          json_format_real(o->via.f64, o->type == MSGPACK_OBJECT_FLOAT32, text));
        break;
    case MSGPACK_OBJECT_STR: {
        const char *s =
            o->via.str.size ? o->via.str.ptr : ""; /* msgpack-c leaves an empty str NULL */
        if (check_str(w, s, o->via.str.size, "string")) return -1;
        rc = json_write_string(w->b, s, o->via.str.size);
        break;
    }
    case MSGPACK_OBJECT_BIN:
    case MSGPACK_OBJECT_EXT: return write_tagged(w, o);
    case MSGPACK_OBJECT_ARRAY:
    case MSGPACK_OBJECT_MAP: return write_container(w, o);
    default: {
        json_path path = writer_path(w);
        return json_fail(w->err, MSGPACK_JSON_ERR_BAD_MSGPACK, "%s: unknown msgpack object type %d",
                         path.text, (int)o->type);
    }
    }
    return rc ? write_nomem(w) : 0;
}

int json_write_object(json_buf *b, const msgpack_object *o, const msgpack_json_limits *limits,
                      px_error *err) {
    msgpack_json_limits l = limits ? *limits : msgpack_json_limits_default();
    if (l.max_depth > MSGPACK_SCAN_MAX_DEPTH) l.max_depth = MSGPACK_SCAN_MAX_DEPTH;
    writer w = {.b = b, .limits = &l, .err = err};
    /* an empty object or a failure still leaves b a C string */
    if (reserve(b, 0)) return write_nomem(&w);
    b->data[b->len] = '\0';
    return write_value(&w, o);
}

int json_write_msgpack(json_buf *b, const char *buf, size_t len, const msgpack_json_limits *limits,
                       px_error *err) {
    msgpack_json_limits l = limits ? *limits : msgpack_json_limits_default();
    if (l.max_depth > MSGPACK_SCAN_MAX_DEPTH) l.max_depth = MSGPACK_SCAN_MAX_DEPTH;
    if (len > l.max_bytes)
        return json_fail(err, MSGPACK_JSON_ERR_TOO_BIG, "msgpack: %zu bytes, over the limit of %zu",
                         len, l.max_bytes);
    msgpack_unpacked unpacked;
    int rc = msgpack_unpack_bounded(buf, len, l.max_depth, &unpacked, err);
    if (rc) {
        msgpack_json_relabel_scan_error(err);
    } else {
        rc = json_write_object(b, &unpacked.data, &l, err);
    }
    msgpack_unpacked_destroy(&unpacked);
    return rc;
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
