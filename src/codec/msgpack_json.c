#include "msgpack_json.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json_write.h"
#include "msgpack_scan.h"
#include "utf8.h"

#define json_fail(err, reason, ...)                                                                \
    px_error_set_reason((err), msgpack_json_reason_code(reason), (reason), __VA_ARGS__)

#define MAX_EXACT_INT 9007199254740991.0 /* 2^53 - 1: every integer up to it is exact in a double */

msgpack_json_limits msgpack_json_limits_default(void) {
    return (msgpack_json_limits){.max_bytes = MSGPACK_JSON_DEFAULT_MAX_BYTES,
                                 .max_depth = MSGPACK_JSON_DEFAULT_MAX_DEPTH};
}

static msgpack_json_limits effective_limits(const msgpack_json_limits *limits) {
    msgpack_json_limits l = limits ? *limits : msgpack_json_limits_default();
    if (l.max_depth > MSGPACK_SCAN_MAX_DEPTH) l.max_depth = MSGPACK_SCAN_MAX_DEPTH;
    return l;
}

/* RFC 4648 base64 with padding; returns a malloc'ed C string or NULL. */
static char *base64_encode(const unsigned char *data, size_t len) {
    json_buf b = {0};
    if (json_write_base64(&b, data, len)) {
        json_buf_free(&b);
        return NULL;
    }
    return b.data;
}

static int base64_value(char c) {
    const char *hit = c ? strchr(json_base64_alphabet, c) : NULL;
    return hit ? (int)(hit - json_base64_alphabet) : -1;
}

/* Strict decoding: length a multiple of 4, padding only at the end, no whitespace, and unused
 * bits zero (so that every byte string has exactly one accepted text). Returns the malloc'ed
 * bytes (non-NULL even when empty) and their count, or NULL. */
static unsigned char *base64_decode(const char *text, size_t *out_len) {
    size_t len = strlen(text);
    if (len % 4) return NULL;
    unsigned char *out = malloc(len / 4 * 3 + 1);
    if (!out) return NULL;
    size_t o = 0;
    for (size_t i = 0; i < len; i += 4) {
        int v[4];
        int pad = 0;
        for (int k = 0; k < 4; k++) {
            if (text[i + k] == '=' && i + 4 == len && k >= 2) {
                v[k] = 0;
                pad++;
                continue;
            }
            if (pad || (v[k] = base64_value(text[i + k])) < 0) goto bad;
        }
        uint32_t bits =
            (uint32_t)v[0] << 18 | (uint32_t)v[1] << 12 | (uint32_t)v[2] << 6 | (uint32_t)v[3];
        if ((pad == 1 && (bits & 0xff)) || (pad == 2 && (bits & 0xffff))) goto bad;
        out[o++] = (unsigned char)(bits >> 16);
        if (pad < 2) out[o++] = (unsigned char)(bits >> 8);
        if (pad < 1) out[o++] = (unsigned char)bits;
    }
    *out_len = o;
    return out;
bad:
    free(out);
    return NULL;
}

/* --- msgpack → JSON ------------------------------------------------------------------------ */

static cJSON *nomem(px_error *err, const json_path *path) {
    json_fail(err, MSGPACK_JSON_ERR_NOMEM, "%s: out of memory", path->text);
    return NULL;
}

/* Checks that a msgpack str can become a cJSON (C, UTF-8) string. */
static int check_text(const char *s, size_t len, const json_path *path, const char *what,
                      px_error *err) {
    size_t bad;
    if (!utf8_valid(s, len, &bad))
        return json_fail(err, MSGPACK_JSON_ERR_BAD_UTF8, "%s: %s is not valid UTF-8 (byte %zu)",
                         path->text, what, bad);
    if (len && memchr(s, '\0', len))
        return json_fail(err, MSGPACK_JSON_ERR_NUL_IN_STRING,
                         "%s: %s contains a NUL byte, which JSON strings here cannot carry",
                         path->text, what);
    return 0;
}

static cJSON *string_from(const char *s, size_t len, const json_path *path, px_error *err) {
    if (!len) s = ""; /* msgpack-c leaves an empty str's pointer NULL */
    if (check_text(s, len, path, "string", err)) return NULL;
    char *copy = malloc(len + 1);
    if (!copy) return nomem(err, path);
    memcpy(copy, s, len);
    copy[len] = '\0';
    cJSON *item = cJSON_CreateString(copy);
    free(copy);
    return item ? item : nomem(err, path);
}

static cJSON *integer_from(const msgpack_object *o, const json_path *path, px_error *err) {
    char digits[24];
    cJSON *item;
    if (o->type == MSGPACK_OBJECT_POSITIVE_INTEGER) {
        if ((double)o->via.u64 <= MAX_EXACT_INT && o->via.u64 <= (uint64_t)MAX_EXACT_INT)
            item = cJSON_CreateNumber((double)o->via.u64);
        else {
            snprintf(digits, sizeof digits, "%" PRIu64, o->via.u64);
            item = cJSON_CreateRaw(digits);
        }
    } else if (o->via.i64 >= -(int64_t)MAX_EXACT_INT) {
        item = cJSON_CreateNumber((double)o->via.i64);
    } else {
        snprintf(digits, sizeof digits, "%" PRId64, o->via.i64);
        item = cJSON_CreateRaw(digits);
    }
    return item ? item : nomem(err, path);
}

/* Beyond ±(2^53-1) a double is integral, and cJSON would print some of them as integer literals
 * ("9007199254740994"), which read back as refused big integers. Such floats are written as raw
 * items in json_write's text, which always says "float" ("9007199254740994.0", "1e+300"). */
static cJSON *float_from(double d, const json_path *path, px_error *err) {
    char text[40];
    cJSON *item = fabs(d) <= MAX_EXACT_INT ? cJSON_CreateNumber(d)
                                           : (json_format_real(d, 0, text), cJSON_CreateRaw(text));
    return item ? item : nomem(err, path);
}

/* {"$bin": "<base64>"} or {"$ext": [type, "<base64>"]}. */
static cJSON *tagged_bytes_from(const char *tag, int ext_type, bool is_ext, const char *data,
                                size_t len, const json_path *path, px_error *err) {
    char *b64 = base64_encode((const unsigned char *)data, len);
    cJSON *obj = cJSON_CreateObject();
    cJSON *value = NULL;
    if (b64 && obj) {
        if (is_ext) {
            value = cJSON_CreateArray();
            cJSON *type = cJSON_CreateNumber(ext_type), *text = cJSON_CreateString(b64);
            if (!value || !type || !text || !cJSON_AddItemToArray(value, type) ||
                !cJSON_AddItemToArray(value, text)) {
                cJSON_Delete(type);
                cJSON_Delete(text);
                cJSON_Delete(value);
                value = NULL;
            }
        } else {
            value = cJSON_CreateString(b64);
        }
    }
    free(b64);
    if (!value || !cJSON_AddItemToObject(obj, tag, value)) {
        cJSON_Delete(value);
        cJSON_Delete(obj);
        return nomem(err, path);
    }
    return obj;
}

static int compare_keys(const void *a, const void *b) {
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Refuses objects with two equal keys (JSON leaves their meaning open); O(n log n). */
static int check_duplicate_keys(const cJSON *obj, const json_path *path, px_error *err) {
    size_t n = (size_t)cJSON_GetArraySize(obj);
    if (n < 2) return 0;
    const char **keys = malloc(n * sizeof *keys);
    if (!keys) return json_fail(err, MSGPACK_JSON_ERR_NOMEM, "%s: out of memory", path->text);
    size_t i = 0;
    for (const cJSON *c = obj->child; c; c = c->next) keys[i++] = c->string;
    qsort(keys, n, sizeof *keys, compare_keys);
    int rc = 0;
    for (i = 1; i < n && !rc; i++) {
        if (strcmp(keys[i - 1], keys[i])) continue;
        /* keys from JSON text are not checked yet: quote them, never echo raw bytes */
        char shown[64];
        bool whole = utf8_quote(shown, sizeof shown, keys[i], strlen(keys[i]));
        rc = json_fail(err, MSGPACK_JSON_ERR_DUPLICATE_KEY, "%s: key \"%s%s\" appears twice",
                       path->text, shown, whole ? "" : "…");
    }
    free(keys);
    return rc;
}

static bool is_reserved_key(const char *s, size_t len) {
    return (len == 4 && !memcmp(s, "$bin", 4)) || (len == 4 && !memcmp(s, "$ext", 4));
}

static cJSON *to_json(const msgpack_object *o, unsigned depth, const msgpack_json_limits *limits,
                      json_path *path, px_error *err);

/* The JSON key for a msgpack map key: str as is, integers as decimal text. */
static int key_text(const msgpack_object *k, char *digits, size_t digits_size, const char **text,
                    size_t *len, const json_path *path, px_error *err) {
    switch (k->type) {
    case MSGPACK_OBJECT_STR:
        if (check_text(k->via.str.ptr, k->via.str.size, path, "map key", err)) return -1;
        *text = k->via.str.size ? k->via.str.ptr : "";
        *len = k->via.str.size;
        return 0;
    case MSGPACK_OBJECT_POSITIVE_INTEGER:
        *len = (size_t)snprintf(digits, digits_size, "%" PRIu64, k->via.u64);
        *text = digits;
        return 0;
    case MSGPACK_OBJECT_NEGATIVE_INTEGER:
        *len = (size_t)snprintf(digits, digits_size, "%" PRId64, k->via.i64);
        *text = digits;
        return 0;
    default:
        return json_fail(
            err, MSGPACK_JSON_ERR_KEY_TYPE,
            "%s: map key of msgpack type %d; only strings and integers can be JSON keys",
            path->text, (int)k->type);
    }
}

static cJSON *object_from(const msgpack_object_map *map, unsigned depth,
                          const msgpack_json_limits *limits, json_path *path, px_error *err) {
    if (map->size == 1 && map->ptr[0].key.type == MSGPACK_OBJECT_STR &&
        is_reserved_key(map->ptr[0].key.via.str.ptr, map->ptr[0].key.via.str.size)) {
        json_fail(err, MSGPACK_JSON_ERR_RESERVED_KEY,
                  "%s: a map whose only key is \"%.4s\" would read back as bin/ext", path->text,
                  map->ptr[0].key.via.str.ptr);
        return NULL;
    }
    cJSON *obj = cJSON_CreateObject();
    if (!obj) return nomem(err, path);
    for (uint32_t i = 0; i < map->size; i++) {
        char digits[24], *key = NULL;
        const char *text = NULL;
        size_t len = 0;
        if (key_text(&map->ptr[i].key, digits, sizeof digits, &text, &len, path, err)) goto fail;
        size_t saved = json_path_push_key(path, text, len);
        cJSON *value = to_json(&map->ptr[i].val, depth, limits, path, err);
        json_path_pop(path, saved);
        if (!value) goto fail;
        key = malloc(len + 1);
        if (key) {
            memcpy(key, text, len);
            key[len] = '\0';
        }
        if (!key || !cJSON_AddItemToObject(obj, key, value)) {
            free(key);
            cJSON_Delete(value);
            nomem(err, path);
            goto fail;
        }
        free(key);
    }
    if (check_duplicate_keys(obj, path, err)) goto fail;
    return obj;
fail:
    cJSON_Delete(obj);
    return NULL;
}

static cJSON *array_from(const msgpack_object_array *array, unsigned depth,
                         const msgpack_json_limits *limits, json_path *path, px_error *err) {
    cJSON *arr = cJSON_CreateArray();
    if (!arr) return nomem(err, path);
    for (uint32_t i = 0; i < array->size; i++) {
        size_t saved = json_path_push_index(path, i);
        cJSON *item = to_json(&array->ptr[i], depth, limits, path, err);
        json_path_pop(path, saved);
        if (!item || !cJSON_AddItemToArray(arr, item)) {
            if (item) nomem(err, path);
            cJSON_Delete(item);
            cJSON_Delete(arr);
            return NULL;
        }
    }
    return arr;
}

/* depth: how many containers enclose `o`. */
static cJSON *to_json(const msgpack_object *o, unsigned depth, const msgpack_json_limits *limits,
                      json_path *path, px_error *err) {
    cJSON *item;
    switch (o->type) {
    case MSGPACK_OBJECT_NIL: item = cJSON_CreateNull(); return item ? item : nomem(err, path);
    case MSGPACK_OBJECT_BOOLEAN:
        item = cJSON_CreateBool(o->via.boolean);
        return item ? item : nomem(err, path);
    case MSGPACK_OBJECT_POSITIVE_INTEGER:
    case MSGPACK_OBJECT_NEGATIVE_INTEGER: return integer_from(o, path, err);
    case MSGPACK_OBJECT_FLOAT32:
    case MSGPACK_OBJECT_FLOAT64:
        if (!isfinite(o->via.f64)) {
            json_fail(err, MSGPACK_JSON_ERR_NON_FINITE, "%s: %g has no JSON form", path->text,
                      o->via.f64);
            return NULL;
        }
        return float_from(o->via.f64, path, err);
    case MSGPACK_OBJECT_STR: return string_from(o->via.str.ptr, o->via.str.size, path, err);
    case MSGPACK_OBJECT_BIN:
        return tagged_bytes_from("$bin", 0, false, o->via.bin.ptr, o->via.bin.size, path, err);
    case MSGPACK_OBJECT_EXT:
        return tagged_bytes_from("$ext", o->via.ext.type, true, o->via.ext.ptr, o->via.ext.size,
                                 path, err);
    case MSGPACK_OBJECT_ARRAY:
    case MSGPACK_OBJECT_MAP:
        if (depth + 1 > limits->max_depth) {
            json_fail(err, MSGPACK_JSON_ERR_TOO_DEEP, "%s: containers nest deeper than %u levels",
                      path->text, limits->max_depth);
            return NULL;
        }
        return o->type == MSGPACK_OBJECT_MAP
                   ? object_from(&o->via.map, depth + 1, limits, path, err)
                   : array_from(&o->via.array, depth + 1, limits, path, err);
    }
    json_fail(err, MSGPACK_JSON_ERR_BAD_MSGPACK, "%s: unknown msgpack object type %d", path->text,
              (int)o->type);
    return NULL;
}

cJSON *msgpack_json_from_object(const msgpack_object *obj, const msgpack_json_limits *limits,
                                px_error *err) {
    msgpack_json_limits l = effective_limits(limits);
    json_path path = JSON_PATH_ROOT;
    return to_json(obj, 0, &l, &path, err);
}

cJSON *msgpack_json_from_bytes(const char *buf, size_t len, const msgpack_json_limits *limits,
                               px_error *err) {
    msgpack_json_limits l = effective_limits(limits);
    if (len > l.max_bytes) {
        json_fail(err, MSGPACK_JSON_ERR_TOO_BIG, "msgpack: %zu bytes, over the limit of %zu", len,
                  l.max_bytes);
        return NULL;
    }
    msgpack_unpacked unpacked;
    cJSON *json = NULL;
    if (msgpack_unpack_bounded(buf, len, l.max_depth, &unpacked, err)) {
        msgpack_json_relabel_scan_error(err);
    } else {
        json = msgpack_json_from_object(&unpacked.data, &l, err);
    }
    msgpack_unpacked_destroy(&unpacked);
    return json;
}

char *msgpack_json_bytes_to_text(const char *buf, size_t len, const msgpack_json_limits *limits,
                                 px_error *err) {
    json_buf text = {0};
    if (json_write_msgpack(&text, buf, len, limits, err)) {
        json_buf_free(&text);
        return NULL;
    }
    return text.data;
}

/* --- JSON → msgpack ------------------------------------------------------------------------ */

static int pack_nomem(px_error *err, const json_path *path) {
    return json_fail(err, MSGPACK_JSON_ERR_NOMEM, "%s: out of memory", path->text);
}

static int pack_value(const cJSON *j, msgpack_packer *pk, unsigned depth,
                      const msgpack_json_limits *limits, json_path *path, px_error *err);

static int pack_string(const char *s, msgpack_packer *pk, const json_path *path, const char *what,
                       px_error *err) {
    size_t len = strlen(s), bad;
    if (!utf8_valid(s, len, &bad))
        return json_fail(err, MSGPACK_JSON_ERR_BAD_UTF8, "%s: %s is not valid UTF-8 (byte %zu)",
                         path->text, what, bad);
    if (msgpack_pack_str(pk, len) || msgpack_pack_str_body(pk, s, len))
        return pack_nomem(err, path);
    return 0;
}

static int pack_number(double d, msgpack_packer *pk, const json_path *path, px_error *err) {
    if (!isfinite(d))
        return json_fail(err, MSGPACK_JSON_ERR_NON_FINITE, "%s: %g has no msgpack-from-JSON form",
                         path->text, d);
    /* -0.0 has no integer form: it stays a float */
    int rc = d == trunc(d) && fabs(d) <= MAX_EXACT_INT && !(d == 0 && signbit(d))
                 ? msgpack_pack_int64(pk, (int64_t)d)
                 : msgpack_pack_double(pk, d);
    return rc ? pack_nomem(err, path) : 0;
}

/* Raw cJSON items come from msgpack_json_from_object(): integers beyond ±(2^53-1), exact, and
 * floats beyond that magnitude. */
static int pack_raw_number(const char *raw, msgpack_packer *pk, const json_path *path,
                           px_error *err) {
    char *end;
    errno = 0;
    int rc;
    if (!strpbrk(raw, ".eE")) {
        if (raw[0] == '-') {
            long long v = strtoll(raw, &end, 10);
            if (errno || end == raw || *end) goto bad;
            rc = msgpack_pack_int64(pk, v);
        } else {
            if (raw[0] < '0' || raw[0] > '9') goto bad;
            unsigned long long v = strtoull(raw, &end, 10);
            if (errno || *end) goto bad;
            rc = msgpack_pack_uint64(pk, v);
        }
    } else {
        double d = strtod(raw, &end);
        if (errno || end == raw || *end || !isfinite(d)) goto bad;
        rc = msgpack_pack_double(pk, d);
    }
    return rc ? pack_nomem(err, path) : 0;
bad:
    return json_fail(err, MSGPACK_JSON_ERR_BAD_SPECIAL,
                     "%s: raw JSON item \"%.40s\" is not a number", path->text, raw);
}

/* {"$bin": "..."} and {"$ext": [type, "..."]}; `tagged` is the single member. */
static int pack_tagged_bytes(const cJSON *tagged, msgpack_packer *pk, const json_path *path,
                             px_error *err) {
    bool is_ext = !strcmp(tagged->string, "$ext");
    const cJSON *text = tagged;
    int type = 0;
    if (is_ext) {
        const cJSON *t = cJSON_GetArrayItem(tagged, 0);
        text = cJSON_GetArrayItem(tagged, 1);
        if (!cJSON_IsArray(tagged) || cJSON_GetArraySize(tagged) != 2 || !cJSON_IsNumber(t) ||
            t->valuedouble != trunc(t->valuedouble) || t->valuedouble < -128 ||
            t->valuedouble > 127)
            return json_fail(err, MSGPACK_JSON_ERR_BAD_SPECIAL,
                             "%s.$ext: expected [type -128..127, \"base64\"]", path->text);
        type = (int)t->valuedouble;
    }
    size_t len;
    unsigned char *bytes = cJSON_IsString(text) ? base64_decode(text->valuestring, &len) : NULL;
    if (!bytes)
        return json_fail(err, MSGPACK_JSON_ERR_BAD_SPECIAL,
                         "%s.%s: expected a strict base64 string (RFC 4648, padded)", path->text,
                         tagged->string);
    int rc = is_ext
                 ? msgpack_pack_ext(pk, len, (int8_t)type) || msgpack_pack_ext_body(pk, bytes, len)
                 : msgpack_pack_bin(pk, len) || msgpack_pack_bin_body(pk, bytes, len);
    free(bytes);
    return rc ? pack_nomem(err, path) : 0;
}

/* The members of an object (keyed: key then value) or the items of an array, in order. */
static int pack_children(const cJSON *j, bool keyed, msgpack_packer *pk, unsigned depth,
                         const msgpack_json_limits *limits, json_path *path, px_error *err) {
    size_t i = 0;
    for (const cJSON *c = j->child; c; c = c->next, i++) {
        if (keyed && pack_string(c->string, pk, path, "object key", err)) return -1;
        size_t saved = keyed ? json_path_push_key(path, c->string, strlen(c->string))
                             : json_path_push_index(path, i);
        int rc = pack_value(c, pk, depth, limits, path, err);
        json_path_pop(path, saved);
        if (rc) return -1;
    }
    return 0;
}

static int pack_container(const cJSON *j, msgpack_packer *pk, unsigned depth,
                          const msgpack_json_limits *limits, json_path *path, px_error *err) {
    bool is_object = (j->type & 0xff) == cJSON_Object;
    size_t n = (size_t)cJSON_GetArraySize(j);
    if (is_object && check_duplicate_keys(j, path, err)) return -1;
    if (is_object ? msgpack_pack_map(pk, n) : msgpack_pack_array(pk, n))
        return pack_nomem(err, path);
    return pack_children(j, is_object, pk, depth, limits, path, err);
}

/* depth: how many containers enclose `j`. */
static int pack_value(const cJSON *j, msgpack_packer *pk, unsigned depth,
                      const msgpack_json_limits *limits, json_path *path, px_error *err) {
    switch (j->type & 0xff) {
    case cJSON_NULL: return msgpack_pack_nil(pk) ? pack_nomem(err, path) : 0;
    case cJSON_False: return msgpack_pack_false(pk) ? pack_nomem(err, path) : 0;
    case cJSON_True: return msgpack_pack_true(pk) ? pack_nomem(err, path) : 0;
    case cJSON_Number: return pack_number(j->valuedouble, pk, path, err);
    case cJSON_String: return pack_string(j->valuestring, pk, path, "string", err);
    case cJSON_Raw: return pack_raw_number(j->valuestring, pk, path, err);
    case cJSON_Array:
    case cJSON_Object:
        /* {"$bin"}/{"$ext"} stand for one msgpack scalar: they do not count as nesting. */
        if ((j->type & 0xff) == cJSON_Object && j->child && !j->child->next &&
            is_reserved_key(j->child->string, strlen(j->child->string)))
            return pack_tagged_bytes(j->child, pk, path, err);
        if (depth + 1 > limits->max_depth)
            return json_fail(err, MSGPACK_JSON_ERR_TOO_DEEP,
                             "%s: containers nest deeper than %u levels", path->text,
                             limits->max_depth);
        return pack_container(j, pk, depth + 1, limits, path, err);
    }
    return json_fail(err, MSGPACK_JSON_ERR_BAD_JSON, "%s: cJSON item of unknown type %d",
                     path->text, j->type);
}

int msgpack_json_pack(const cJSON *json, msgpack_packer *pk, const msgpack_json_limits *limits,
                      px_error *err) {
    msgpack_json_limits l = effective_limits(limits);
    json_path path = JSON_PATH_ROOT;
    return pack_value(json, pk, 0, &l, &path, err);
}

/* True when the integer literal digits[0..n) (no sign) is above 2^53-1. */
static bool beyond_exact(const char *digits, size_t n) {
    static const char max[] = "9007199254740991";
    while (n > 1 && *digits == '0') digits++, n--;
    return n > sizeof max - 1 || (n == sizeof max - 1 && memcmp(digits, max, n) > 0);
}

/* What cJSON would get wrong silently, found in the text before parsing: a raw NUL byte or a
 * "\u0000" escape (cJSON strings are C strings and would be cut there), and an integer literal
 * beyond ±(2^53-1) (cJSON reads numbers as doubles and would round it). */
static int check_text_input(const char *text, size_t len, px_error *err) {
    bool in_string = false;
    for (size_t i = 0; i < len; i++) {
        if (text[i] == '\0')
            return json_fail(err, MSGPACK_JSON_ERR_NUL_IN_STRING, "json: NUL byte at offset %zu",
                             i);
        if (in_string) {
            if (text[i] == '"') {
                in_string = false;
            } else if (text[i] == '\\' && i + 1 < len) {
                if (len - i >= 6 && !strncmp(text + i + 1, "u0000", 5))
                    return json_fail(err, MSGPACK_JSON_ERR_NUL_IN_STRING,
                                     "json: \\u0000 at offset %zu is not supported", i);
                i++;
            }
        } else if (text[i] == '"') {
            in_string = true;
        } else if (text[i] == '-' || (text[i] >= '0' && text[i] <= '9')) {
            size_t start = i + (text[i] == '-'), end = start;
            while (end < len && text[end] >= '0' && text[end] <= '9') end++;
            bool is_integer = end == len || !strchr(".eE", text[end]);
            if (is_integer && end > start && beyond_exact(text + start, end - start))
                return json_fail(err, MSGPACK_JSON_ERR_INT_RANGE,
                                 "json: the integer at offset %zu is beyond ±(2^53-1), which JSON "
                                 "readers cannot keep exact",
                                 i);
            while (end < len && strchr("0123456789.eE+-", text[end])) end++;
            i = end - 1;
        }
    }
    return 0;
}

cJSON *msgpack_json_parse(const char *text, size_t len, const msgpack_json_limits *limits,
                          px_error *err) {
    msgpack_json_limits l = effective_limits(limits);
    if (len > l.max_bytes) {
        json_fail(err, MSGPACK_JSON_ERR_TOO_BIG, "json: %zu bytes of text, over the limit of %zu",
                  len, l.max_bytes);
        return NULL;
    }
    if (check_text_input(text, len, err)) return NULL;
    const char *end = NULL;
    cJSON *json = cJSON_ParseWithLengthOpts(text, len, &end, 0);
    if (!json) {
        size_t at = end && end >= text && end <= text + len ? (size_t)(end - text) : 0;
        json_fail(err, MSGPACK_JSON_ERR_BAD_JSON, "json: syntax error near offset %zu", at);
        return NULL;
    }
    while (end < text + len && strchr(" \t\r\n", *end)) end++;
    if (end != text + len) {
        cJSON_Delete(json);
        json_fail(err, MSGPACK_JSON_ERR_BAD_JSON,
                  "json: unexpected text after the value at offset %zu", (size_t)(end - text));
        return NULL;
    }
    return json;
}

int msgpack_json_text_to_msgpack(const char *text, size_t len, msgpack_sbuffer *out,
                                 const msgpack_json_limits *limits, px_error *err) {
    cJSON *json = msgpack_json_parse(text, len, limits, err);
    if (!json) return -1;
    size_t before = out->size;
    msgpack_packer pk;
    msgpack_packer_init(&pk, out, msgpack_sbuffer_write);
    int rc = msgpack_json_pack(json, &pk, limits, err);
    cJSON_Delete(json);
    if (rc) out->size = before;
    return rc;
}

px_code msgpack_json_reason_code(int reason) {
    switch (reason) {
    case MSGPACK_JSON_ERR_NOMEM: return PX_ENOMEM;
    case MSGPACK_JSON_ERR_TOO_BIG:
    case MSGPACK_JSON_ERR_TOO_DEEP:
    case MSGPACK_JSON_ERR_INT_RANGE: return PX_ELIMIT;
    default: return PX_EINVAL;
    }
}

void msgpack_json_relabel_scan_error(px_error *err) {
    if (!err) return;
    err->reason = err->reason == MSGPACK_SCAN_TOO_DEEP ? MSGPACK_JSON_ERR_TOO_DEEP
                  : err->code == PX_ENOMEM             ? MSGPACK_JSON_ERR_NOMEM
                                                       : MSGPACK_JSON_ERR_BAD_MSGPACK;
    err->code = msgpack_json_reason_code(err->reason);
}
