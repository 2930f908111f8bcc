#include "event_codec.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dlq_record.h"
#include "msgpack_scan.h"
#include "utf8.h"

/* Ranges of the numeric fields (documented in docs/asyncapi.yaml). */
#define MONTHS_MAX      1200 /* a century of work */
#define END_YEAR_MIN    1900
#define END_YEAR_MAX    2200
#define STATE_MAX_DEPTH 3 /* state array → experiences → experience array */

event_limits event_limits_default(void) {
    return (event_limits){
        .max_message_bytes = 65536,
        .max_experiences = 32,
        .max_competences = 1024,
        .max_avoid = 32,
        .max_domains = 32,
        .max_title_bytes = 200,
        .max_id_bytes = 128,
        .max_depth = 8,
    };
}

int event_limits_validate(const event_limits *l, px_error *err) {
    const struct {
        const char *name;
        size_t value;
    } sizes[] = {
        {"max_message_bytes", l->max_message_bytes},
        {"max_experiences", l->max_experiences},
        {"max_competences", l->max_competences},
        {"max_avoid", l->max_avoid},
        {"max_domains", l->max_domains},
        {"max_title_bytes", l->max_title_bytes},
        {"max_id_bytes", l->max_id_bytes},
    };
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++)
        if (sizes[i].value < 1)
            return event_fail(err, EVENT_ERR_OUT_OF_RANGE, "limits: %s must be at least 1",
                              sizes[i].name);
    if (l->max_depth < 3 || l->max_depth > MSGPACK_SCAN_MAX_DEPTH)
        return event_fail(err, EVENT_ERR_OUT_OF_RANGE,
                          "limits: max_depth must be between 3 (what v1 events need) and %d "
                          "(msgpack-c's limit), got %u",
                          MSGPACK_SCAN_MAX_DEPTH, l->max_depth);
    return 0;
}

/* --- the contract tables --------------------------------------------------------------------- */

/* Every field any table names; the decoders switch on these. */
typedef enum field_id {
    F_V,
    F_TYPE,
    F_EVENT_ID,
    F_USER_ID,
    F_TS,
    F_EXPERIENCES,
    F_AVOID,
    F_DOMAINS,
    F_EXCLUDE_DOMAINS,
    F_CONFIRMED,
    F_REJECTED,
    F_ADDED,
    F_INCLUDE_REGULATED,
    F_APPELLATION,
    F_ROME,
    F_TITLE,
    F_MONTHS,
    F_END_YEAR,
    F_EXTRA,
    F_ROME_VERSION,
} field_id;

typedef struct message_spec {
    const char *name;
    const event_field *fields;
    const field_id *ids;
    size_t n;
} message_spec;

#define REQ true
#define OPT false

static const event_field envelope_fields[] = {
    {"v", EVENT_FIELD_INTEGER, REQ},       {"type", EVENT_FIELD_STRING, REQ},
    {"event_id", EVENT_FIELD_STRING, REQ}, {"user_id", EVENT_FIELD_STRING, REQ},
    {"ts", EVENT_FIELD_INTEGER, REQ},
};
static const field_id envelope_ids[] = {F_V, F_TYPE, F_EVENT_ID, F_USER_ID, F_TS};

static const event_field upserted_fields[] = {
    {"experiences", EVENT_FIELD_ARRAY_OF_OBJECTS, REQ},
    {"avoid", EVENT_FIELD_ARRAY_OF_INTEGERS_OR_STRINGS, OPT},
    {"domains", EVENT_FIELD_ARRAY_OF_STRINGS, OPT},
    {"exclude_domains", EVENT_FIELD_ARRAY_OF_STRINGS, OPT},
    {"include_regulated", EVENT_FIELD_BOOLEAN, OPT},
};
static const field_id upserted_ids[] = {F_EXPERIENCES, F_AVOID, F_DOMAINS, F_EXCLUDE_DOMAINS,
                                        F_INCLUDE_REGULATED};

static const event_field experience_fields[] = {
    {"appellation", EVENT_FIELD_INTEGER, OPT}, {"rome", EVENT_FIELD_STRING, OPT},
    {"title", EVENT_FIELD_STRING, OPT},        {"months", EVENT_FIELD_INTEGER, OPT},
    {"end_year", EVENT_FIELD_INTEGER, OPT},    {"extra", EVENT_FIELD_BOOLEAN, OPT},
};
static const field_id experience_ids[] = {F_APPELLATION, F_ROME,     F_TITLE,
                                          F_MONTHS,      F_END_YEAR, F_EXTRA};

static const event_field confirmed_fields[] = {
    {"confirmed", EVENT_FIELD_ARRAY_OF_INTEGERS, OPT},
    {"rejected", EVENT_FIELD_ARRAY_OF_INTEGERS, OPT},
    {"added", EVENT_FIELD_ARRAY_OF_INTEGERS, OPT},
};
static const field_id confirmed_ids[] = {F_CONFIRMED, F_REJECTED, F_ADDED};

static const event_field rematch_fields[] = {{"rome_version", EVENT_FIELD_STRING, REQ}};
static const field_id rematch_ids[] = {F_ROME_VERSION};

/* A `passerelle match` line: the profile without the envelope. user_id stays first (slot 0);
 * `ts` gives the year recency is counted to, as an event's does in the daemon. */
static const event_field match_fields[] = {
    {"user_id", EVENT_FIELD_STRING, OPT},
    {"ts", EVENT_FIELD_INTEGER, OPT},
    {"experiences", EVENT_FIELD_ARRAY_OF_OBJECTS, REQ},
    {"avoid", EVENT_FIELD_ARRAY_OF_INTEGERS_OR_STRINGS, OPT},
    {"domains", EVENT_FIELD_ARRAY_OF_STRINGS, OPT},
    {"exclude_domains", EVENT_FIELD_ARRAY_OF_STRINGS, OPT},
    {"confirmed", EVENT_FIELD_ARRAY_OF_INTEGERS, OPT},
    {"rejected", EVENT_FIELD_ARRAY_OF_INTEGERS, OPT},
    {"added", EVENT_FIELD_ARRAY_OF_INTEGERS, OPT},
    {"include_regulated", EVENT_FIELD_BOOLEAN, OPT},
};
static const field_id match_ids[] = {
    F_USER_ID,         F_TS,        F_EXPERIENCES, F_AVOID, F_DOMAINS,
    F_EXCLUDE_DOMAINS, F_CONFIRMED, F_REJECTED,    F_ADDED, F_INCLUDE_REGULATED};

#define SPEC(label, fields, ids)                                                                   \
    { label, fields, ids, sizeof fields / sizeof fields[0] }
#define COUNT_CHECK(fields, ids)                                                                   \
    _Static_assert(sizeof fields / sizeof fields[0] == sizeof ids / sizeof ids[0], #ids)
COUNT_CHECK(envelope_fields, envelope_ids);
COUNT_CHECK(upserted_fields, upserted_ids);
COUNT_CHECK(experience_fields, experience_ids);
COUNT_CHECK(confirmed_fields, confirmed_ids);
COUNT_CHECK(rematch_fields, rematch_ids);
COUNT_CHECK(match_fields, match_ids);

static const message_spec envelope_spec = SPEC("envelope", envelope_fields, envelope_ids);
static const message_spec upserted_spec = SPEC("profile.upserted", upserted_fields, upserted_ids);
static const message_spec experience_spec = SPEC("experience", experience_fields, experience_ids);
static const message_spec erased_spec = {"profile.erased", NULL, NULL, 0};
static const message_spec confirmed_spec =
    SPEC("skills.confirmed", confirmed_fields, confirmed_ids);
static const message_spec rematch_spec = SPEC("profile.rematch", rematch_fields, rematch_ids);
static const message_spec match_spec = SPEC("match.profile", match_fields, match_ids);

/* The dead-letter record's table is dlq_record.c's, which encodes and decodes it. */
static const message_spec *const all_specs[] = {&envelope_spec, &upserted_spec,  &experience_spec,
                                                &erased_spec,   &confirmed_spec, &rematch_spec,
                                                &match_spec};

const char *const event_codec_messages[] = {"envelope",       "profile.upserted", "experience",
                                            "profile.erased", "skills.confirmed", "profile.rematch",
                                            "match.profile",  "dlq.record",       NULL};

const event_field *event_codec_fields(const char *message, size_t *n) {
    static const event_field none[1] = {{"", EVENT_FIELD_INTEGER, false}};
    if (!strcmp(message, DLQ_RECORD_TYPE)) return dlq_record_fields(n);
    for (size_t i = 0; i < sizeof all_specs / sizeof all_specs[0]; i++)
        if (!strcmp(all_specs[i]->name, message)) {
            *n = all_specs[i]->n;
            return all_specs[i]->fields ? all_specs[i]->fields : none;
        }
    *n = 0;
    return NULL;
}

const char *event_field_type_name(event_field_type type) {
    switch (type) {
    case EVENT_FIELD_INTEGER: return "integer";
    case EVENT_FIELD_STRING: return "string";
    case EVENT_FIELD_BOOLEAN: return "boolean";
    case EVENT_FIELD_BINARY: return "binary";
    case EVENT_FIELD_ARRAY_OF_INTEGERS: return "array<integer>";
    case EVENT_FIELD_ARRAY_OF_STRINGS: return "array<string>";
    case EVENT_FIELD_ARRAY_OF_INTEGERS_OR_STRINGS: return "array<integer|string>";
    case EVENT_FIELD_ARRAY_OF_OBJECTS: return "array<object>";
    case EVENT_FIELD_NULLABLE_BINARY: return "binary|null";
    }
    return "unknown";
}

/* --- decoding helpers ------------------------------------------------------------------------ */

static const char *got_name(const msgpack_object *o) {
    switch (o->type) {
    case MSGPACK_OBJECT_NIL: return "nil";
    case MSGPACK_OBJECT_BOOLEAN: return "boolean";
    case MSGPACK_OBJECT_POSITIVE_INTEGER:
    case MSGPACK_OBJECT_NEGATIVE_INTEGER: return "integer";
    case MSGPACK_OBJECT_FLOAT32:
    case MSGPACK_OBJECT_FLOAT64: return "float";
    case MSGPACK_OBJECT_STR: return "string";
    case MSGPACK_OBJECT_BIN: return "binary";
    case MSGPACK_OBJECT_ARRAY: return "array";
    case MSGPACK_OBJECT_MAP: return "map";
    case MSGPACK_OBJECT_EXT: return "ext";
    }
    return "unknown";
}

static bool is_integer(const msgpack_object *o) {
    return o->type == MSGPACK_OBJECT_POSITIVE_INTEGER || o->type == MSGPACK_OBJECT_NEGATIVE_INTEGER;
}

/* Where a value sits in the event: base[index].name, index < 0 and name NULL when absent
 * ("event_id", "avoid[3]", "experiences[2]", "experiences[2].months"). Formatted only when an
 * error names it, so that decoding a good event formats nothing. */
typedef struct field_ref {
    const char *base;
    long index;
    const char *name;
} field_ref;

static field_ref top_ref(const char *name) { return (field_ref){name, -1, NULL}; }

static field_ref child_ref(const field_ref *parent, const char *name) {
    return parent ? (field_ref){parent->base, parent->index, name} : top_ref(name);
}

static int fail_at(px_error *err, int code, const field_ref *at, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Writes where a value sits; without the index ("experiences[].title") for counting by field. */
static void format_ref(const field_ref *at, bool with_index, char *where, size_t cap) {
    int n = at->index < 0 ? snprintf(where, cap, "%s", at->base)
            : with_index  ? snprintf(where, cap, "%s[%ld]", at->base, at->index)
                          : snprintf(where, cap, "%s[]", at->base);
    if (at->name && n >= 0 && (size_t)n < cap)
        snprintf(where + n, cap - (size_t)n, ".%s", at->name);
}

static int fail_at(px_error *err, int code, const field_ref *at, const char *fmt, ...) {
    if (!err) return -1;
    char where[EVENT_KEY_PATH_MAX], what[PX_ERROR_MSG_MAX];
    format_ref(at, true, where, sizeof where);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    return event_fail(err, code, "%s: %.400s", where, what);
}

static int wrong_type(const field_ref *at, const char *expected, const msgpack_object *o,
                      px_error *err) {
    return fail_at(err, EVENT_ERR_WRONG_TYPE, at, "expected %s, got %s", expected, got_name(o));
}

/* Checks the top-level type a table promises (elements are checked by the field decoders). */
static int check_type(const msgpack_object *o, event_field_type type, const field_ref *at,
                      px_error *err) {
    switch (type) {
    case EVENT_FIELD_INTEGER: return is_integer(o) ? 0 : wrong_type(at, "an integer", o, err);
    case EVENT_FIELD_STRING:
        return o->type == MSGPACK_OBJECT_STR ? 0 : wrong_type(at, "a string", o, err);
    case EVENT_FIELD_BOOLEAN:
        return o->type == MSGPACK_OBJECT_BOOLEAN ? 0 : wrong_type(at, "a boolean", o, err);
    case EVENT_FIELD_BINARY:
        return o->type == MSGPACK_OBJECT_BIN ? 0 : wrong_type(at, "binary", o, err);
    case EVENT_FIELD_NULLABLE_BINARY:
        return o->type == MSGPACK_OBJECT_BIN || o->type == MSGPACK_OBJECT_NIL
                   ? 0
                   : wrong_type(at, "binary or nil", o, err);
    case EVENT_FIELD_ARRAY_OF_INTEGERS:
    case EVENT_FIELD_ARRAY_OF_STRINGS:
    case EVENT_FIELD_ARRAY_OF_INTEGERS_OR_STRINGS:
    case EVENT_FIELD_ARRAY_OF_OBJECTS:
        return o->type == MSGPACK_OBJECT_ARRAY ? 0 : wrong_type(at, "an array", o, err);
    }
    return wrong_type(at, "a known type", o, err);
}

static bool key_is(const char *name, const msgpack_object *k) {
    return strlen(name) == k->via.str.size && !memcmp(name, k->via.str.ptr, k->via.str.size);
}

/* Finds the values of a table's keys in a map (parent: where the map is; NULL for the event):
 * slots[i] = value of fields[i] or NULL. Keys must be UTF-8 strings; unknown keys are left to
 * check_keys; a known key twice is refused; then every required field must be present and every
 * present field of its table type. */
static int collect_fields(const msgpack_object_map *map, const message_spec *spec,
                          const field_ref *parent, const msgpack_object **slots, px_error *err) {
    field_ref key_at = child_ref(parent, "(key)");
    for (size_t f = 0; f < spec->n; f++) slots[f] = NULL;
    for (uint32_t i = 0; i < map->size; i++) {
        const msgpack_object *k = &map->ptr[i].key;
        if (k->type != MSGPACK_OBJECT_STR)
            return fail_at(err, EVENT_ERR_WRONG_TYPE, &key_at, "map keys must be strings, got %s",
                           got_name(k));
        size_t bad;
        if (!utf8_valid(k->via.str.ptr, k->via.str.size, &bad))
            return fail_at(err, EVENT_ERR_BAD_UTF8, &key_at,
                           "a map key is not valid UTF-8 (byte %zu)", bad);
        for (size_t f = 0; f < spec->n; f++) {
            const char *name = spec->fields[f].name;
            if (!key_is(name, k)) continue;
            if (slots[f]) {
                field_ref at = child_ref(parent, name);
                return fail_at(err, EVENT_ERR_DUPLICATE_KEY, &at, "the key appears twice");
            }
            slots[f] = &map->ptr[i].val;
        }
    }
    for (size_t f = 0; f < spec->n; f++) {
        field_ref at = child_ref(parent, spec->fields[f].name);
        if (!slots[f]) {
            if (spec->fields[f].required)
                return fail_at(err, EVENT_ERR_MISSING_FIELD, &at, "required field is missing");
            continue;
        }
        if (check_type(slots[f], spec->fields[f].type, &at, err)) return -1;
    }
    return 0;
}

/* --- unknown keys ---------------------------------------------------------------------------- */

#define KEY_TEXT_MAX    128 /* bytes of a key in a path, which adds at most "experiences[N]." */
#define SUGGEST_KEY_MAX 64  /* longer keys get no suggestion (the table names are all short) */
_Static_assert(KEY_TEXT_MAX + 32 <= EVENT_KEY_PATH_MAX, "a path holds the longest key text");

/* A key as C text: up to its first NUL byte, cut at a character boundary to fit. */
static void key_text(const msgpack_object *k, char *out, size_t cap) {
    size_t n = k->via.str.size;
    const char *nul = n ? memchr(k->via.str.ptr, '\0', n) : NULL;
    if (nul) n = (size_t)(nul - k->via.str.ptr);
    if (n >= cap) {
        n = cap - 1;
        while (n > 0 && ((unsigned char)k->via.str.ptr[n] & 0xC0) == 0x80) n--;
    }
    if (n) memcpy(out, k->via.str.ptr, n);
    out[n] = '\0';
}

static int ascii_lower(int c) { return c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c; }

static size_t min3(size_t a, size_t b, size_t c) {
    return a < b ? (a < c ? a : c) : (b < c ? b : c);
}

/* Optimal string alignment distance (edits plus adjacent swaps), ASCII case ignored: "Avoid" is
 * 0 from "avoid", "titel" 1 from "title". Both lengths are at most SUGGEST_KEY_MAX. */
static size_t key_distance(const char *a, size_t na, const char *b, size_t nb) {
    size_t rows[3][SUGGEST_KEY_MAX + 1], *before = rows[0], *prev = rows[1], *cur = rows[2];
    for (size_t j = 0; j <= nb; j++) prev[j] = j;
    for (size_t i = 1; i <= na; i++) {
        cur[0] = i;
        for (size_t j = 1; j <= nb; j++) {
            int x = ascii_lower(a[i - 1]), y = ascii_lower(b[j - 1]);
            cur[j] = min3(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (x != y));
            if (i > 1 && j > 1 && x == ascii_lower(b[j - 2]) && ascii_lower(a[i - 2]) == y &&
                before[j - 2] + 1 < cur[j])
                cur[j] = before[j - 2] + 1;
        }
        size_t *t = before;
        before = prev;
        prev = cur;
        cur = t;
    }
    return prev[nb];
}

/* The known key nearest to `key`, or NULL when none is near enough to be a likely typo: at most
 * two edits, and fewer than half the known key's length (so "x" does not suggest "ts"). */
static const char *nearest_key(const char *key, const message_spec *const *specs, size_t n_specs) {
    size_t len = strlen(key), best_d = SIZE_MAX;
    const char *best = NULL;
    if (len > SUGGEST_KEY_MAX) return NULL;
    for (size_t s = 0; s < n_specs; s++)
        for (size_t f = 0; f < specs[s]->n; f++) {
            const char *name = specs[s]->fields[f].name;
            size_t nb = strlen(name);
            if (nb > SUGGEST_KEY_MAX) continue;
            size_t d = key_distance(key, len, name, nb);
            if (d <= 2 && 2 * d < nb && d < best_d) {
                best = name;
                best_d = d;
            }
        }
    return best;
}

/* Reports each key of map that none of specs names (parent: where the map is; NULL for the
 * event), and refuses the first one when strict. Runs after collect_fields (keys are UTF-8
 * strings) and only when the options ask, so that a plain decode pays nothing for it. */
static int check_keys(const msgpack_object_map *map, const message_spec *const *specs,
                      size_t n_specs, const field_ref *parent, const event_decode_options *opts,
                      px_error *err) {
    if (!opts->strict && !opts->on_unknown_key) return 0;
    for (uint32_t i = 0; i < map->size; i++) {
        const msgpack_object *k = &map->ptr[i].key;
        bool known = false;
        for (size_t s = 0; s < n_specs && !known; s++)
            for (size_t f = 0; f < specs[s]->n && !known; f++)
                known = key_is(specs[s]->fields[f].name, k);
        if (known) continue;
        char key[KEY_TEXT_MAX], path[EVENT_KEY_PATH_MAX], field[EVENT_KEY_PATH_MAX];
        key_text(k, key, sizeof key);
        field_ref at = child_ref(parent, key);
        format_ref(&at, true, path, sizeof path);
        format_ref(&at, false, field, sizeof field);
        event_unknown_key unknown = {path, field, nearest_key(key, specs, n_specs)};
        if (opts->on_unknown_key) opts->on_unknown_key(&unknown, opts->ctx);
        if (!opts->strict) continue;
        if (unknown.suggestion)
            return fail_at(err, EVENT_ERR_UNKNOWN_FIELD, &at, "unknown key; did you mean \"%s\"?",
                           unknown.suggestion);
        return fail_at(err, EVENT_ERR_UNKNOWN_FIELD, &at, "unknown key");
    }
    return 0;
}

/* The options with their defaults filled in; `defaults` holds the default limits when needed. */
static event_decode_options resolve_options(const event_decode_options *opts,
                                            event_limits *defaults) {
    event_decode_options o = opts ? *opts : (event_decode_options){0};
    if (!o.limits) {
        *defaults = event_limits_default();
        o.limits = defaults;
    }
    return o;
}

static int nomem(px_error *err, const field_ref *at) {
    return fail_at(err, EVENT_ERR_NOMEM, at, "out of memory");
}

/* A string field: valid UTF-8, no NUL byte, not empty, at most max bytes. */
static int check_text(const msgpack_object *o, const field_ref *at, size_t max, px_error *err) {
    const char *s = o->via.str.ptr;
    size_t len = o->via.str.size, bad;
    if (len == 0) return fail_at(err, EVENT_ERR_EMPTY_VALUE, at, "must not be empty");
    if (len > max)
        return fail_at(err, EVENT_ERR_OVER_LIMIT, at, "%zu bytes, over the limit of %zu", len, max);
    if (!utf8_valid(s, len, &bad))
        return fail_at(err, EVENT_ERR_BAD_UTF8, at, "not valid UTF-8 (byte %zu)", bad);
    if (memchr(s, '\0', len)) return fail_at(err, EVENT_ERR_BAD_FORMAT, at, "contains a NUL byte");
    return 0;
}

static int copy_text(const msgpack_object *o, const field_ref *at, size_t max, char **out,
                     px_error *err) {
    if (check_text(o, at, max, err)) return -1;
    *out = strndup(o->via.str.ptr, o->via.str.size);
    return *out ? 0 : nomem(err, at);
}

/* A code_ogr: an integer in 1..2^32-1. */
static int get_code(const msgpack_object *o, const field_ref *at, uint32_t *out, px_error *err) {
    if (!is_integer(o)) return wrong_type(at, "an integer", o, err);
    if (o->type == MSGPACK_OBJECT_NEGATIVE_INTEGER || o->via.u64 == 0 || o->via.u64 > UINT32_MAX)
        return fail_at(err, EVENT_ERR_OUT_OF_RANGE, at, "a code must be between 1 and %" PRIu32,
                       UINT32_MAX);
    *out = (uint32_t)o->via.u64;
    return 0;
}

static int get_int_in(const msgpack_object *o, const field_ref *at, int64_t min, int64_t max,
                      int64_t *out, px_error *err) {
    bool too_big = o->type == MSGPACK_OBJECT_POSITIVE_INTEGER && o->via.u64 > (uint64_t)INT64_MAX;
    if (too_big || o->via.i64 < min || o->via.i64 > max)
        return fail_at(err, EVENT_ERR_OUT_OF_RANGE, at, "must be between %" PRId64 " and %" PRId64,
                       min, max);
    *out = o->via.i64;
    return 0;
}

static int check_count(const msgpack_object *array, const char *name, size_t max, px_error *err) {
    field_ref at = top_ref(name);
    if (array->via.array.size > max)
        return fail_at(err, EVENT_ERR_OVER_LIMIT, &at, "%" PRIu32 " entries, over the limit of %zu",
                       array->via.array.size, max);
    return 0;
}

/* A ROME fiche code: one letter A..N and four digits ("D1505"). */
static bool is_rome_code(const char *s, size_t len) {
    if (len != 5 || s[0] < 'A' || s[0] > 'N') return false;
    for (size_t i = 1; i < 5; i++)
        if (s[i] < '0' || s[i] > '9') return false;
    return true;
}

/* A grand domaine letter ("J") or a domaine professionnel ("M18"). */
static bool is_domain_code(const char *s, size_t len) {
    if ((len != 1 && len != 3) || s[0] < 'A' || s[0] > 'Z') return false;
    return len == 1 || (s[1] >= '0' && s[1] <= '9' && s[2] >= '0' && s[2] <= '9');
}

/* A named constraint: lower-case ASCII letters, digits and '_' ("no_weekend"). */
static bool is_constraint_name(const char *s, size_t len) {
    for (size_t i = 0; i < len; i++)
        if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '_'))
            return false;
    return true;
}

static int decode_experience(const msgpack_object *o, size_t index,
                             const event_decode_options *opts, profile *out, px_error *err) {
    const event_limits *limits = opts->limits;
    field_ref parent = {"experiences", (long)index, NULL};
    if (o->type != MSGPACK_OBJECT_MAP) return wrong_type(&parent, "an object", o, err);
    const msgpack_object *slots[sizeof experience_ids / sizeof experience_ids[0]];
    const message_spec *known = &experience_spec;
    if (collect_fields(&o->via.map, &experience_spec, &parent, slots, err) ||
        check_keys(&o->via.map, &known, 1, &parent, opts, err))
        return -1;
    int which = -1;
    for (int f = 0; f < 3; f++) { /* appellation, rome, title: exactly one */
        if (!slots[f]) continue;
        if (which >= 0)
            return fail_at(err, EVENT_ERR_CONFLICT, &parent, "has both %s and %s; give exactly one",
                           experience_fields[which].name, experience_fields[f].name);
        which = f;
    }
    if (which < 0)
        return fail_at(err, EVENT_ERR_MISSING_FIELD, &parent,
                       "needs one of appellation, rome or title");
    profile_experience *e = profile_add_experience(out, err);
    if (!e) return nomem(err, &parent);
    for (size_t f = 0; f < experience_spec.n; f++) {
        const msgpack_object *v = slots[f];
        if (!v) continue;
        field_ref at = child_ref(&parent, experience_fields[f].name);
        int64_t n = 0;
        switch (experience_ids[f]) {
        case F_APPELLATION:
            e->kind = PROFILE_EXP_APPELLATION;
            if (get_code(v, &at, &e->appellation, err)) return -1;
            break;
        case F_ROME:
            e->kind = PROFILE_EXP_ROME;
            if (!is_rome_code(v->via.str.ptr, v->via.str.size))
                return fail_at(err, EVENT_ERR_BAD_FORMAT, &at,
                               "expected a ROME fiche code such as \"D1505\" (A..N and 4 digits)");
            memcpy(e->rome, v->via.str.ptr, 5);
            e->rome[5] = '\0';
            break;
        case F_TITLE:
            e->kind = PROFILE_EXP_TITLE;
            if (copy_text(v, &at, limits->max_title_bytes, &e->title, err)) return -1;
            break;
        case F_MONTHS:
            if (get_int_in(v, &at, 0, MONTHS_MAX, &n, err)) return -1;
            e->months = (int32_t)n;
            break;
        case F_END_YEAR:
            if (get_int_in(v, &at, END_YEAR_MIN, END_YEAR_MAX, &n, err)) return -1;
            e->end_year = (int32_t)n;
            break;
        case F_EXTRA: e->extra = v->via.boolean; break;
        default: break;
        }
    }
    return 0;
}

static int decode_avoid(const msgpack_object *array, const event_limits *limits, profile *out,
                        px_error *err) {
    if (check_count(array, "avoid", limits->max_avoid, err)) return -1;
    for (uint32_t i = 0; i < array->via.array.size; i++) {
        const msgpack_object *o = &array->via.array.ptr[i];
        field_ref at = {"avoid", (long)i, NULL};
        if (is_integer(o)) {
            uint32_t code = 0; /* get_code sets it; GCC -O3 cannot prove so */
            if (get_code(o, &at, &code, err)) return -1;
            if (profile_codes_push(&out->avoid_contextes, code, err)) return nomem(err, &at);
        } else if (o->type == MSGPACK_OBJECT_STR) {
            if (check_text(o, &at, limits->max_id_bytes, err)) return -1;
            if (!is_constraint_name(o->via.str.ptr, o->via.str.size))
                return fail_at(
                    err, EVENT_ERR_BAD_FORMAT, &at,
                    "a named constraint is lower-case letters, digits and '_' (\"no_weekend\")");
            if (profile_strings_push(&out->avoid_named, o->via.str.ptr, o->via.str.size, err))
                return nomem(err, &at);
        } else {
            return wrong_type(&at, "an integer (contexte code) or a string (named constraint)", o,
                              err);
        }
    }
    return 0;
}

static int decode_domains(const msgpack_object *array, const char *name, const event_limits *limits,
                          profile_strings *out, px_error *err) {
    if (check_count(array, name, limits->max_domains, err)) return -1;
    for (uint32_t i = 0; i < array->via.array.size; i++) {
        const msgpack_object *o = &array->via.array.ptr[i];
        field_ref at = {name, (long)i, NULL};
        if (o->type != MSGPACK_OBJECT_STR) return wrong_type(&at, "a string", o, err);
        if (!is_domain_code(o->via.str.ptr, o->via.str.size))
            return fail_at(err, EVENT_ERR_BAD_FORMAT, &at,
                           "expected a grand domaine letter (\"J\") or a domaine code (\"M18\")");
        if (profile_strings_push(out, o->via.str.ptr, o->via.str.size, err)) return nomem(err, &at);
    }
    return 0;
}

static int decode_codes(const msgpack_object *array, const char *name, profile_codes *out,
                        px_error *err) {
    for (uint32_t i = 0; i < array->via.array.size; i++) {
        field_ref at = {name, (long)i, NULL};
        uint32_t code = 0; /* as in decode_avoid */
        if (get_code(&array->via.array.ptr[i], &at, &code, err)) return -1;
        if (profile_codes_push(out, code, err)) return nomem(err, &at);
    }
    return 0;
}

/* The decision lists of one event: bounded together, and no code in two of them. */
static int check_decisions(const profile *p, const event_limits *limits, px_error *err) {
    size_t total = p->confirmed.n + p->rejected.n + p->added.n;
    if (total > limits->max_competences)
        return event_fail(err, EVENT_ERR_OVER_LIMIT,
                          "confirmed+rejected+added: %zu codes, over the limit of %zu", total,
                          limits->max_competences);
    const struct {
        const char *name;
        const profile_codes *codes;
    } lists[] = {{"confirmed", &p->confirmed}, {"rejected", &p->rejected}, {"added", &p->added}};
    for (size_t a = 0; a < 3; a++)
        for (size_t i = 0; i < lists[a].codes->n; i++)
            for (size_t b = a + 1; b < 3; b++)
                if (profile_codes_contains(lists[b].codes, lists[a].codes->v[i]))
                    return event_fail(err, EVENT_ERR_CONFLICT,
                                      "%s and %s: code %" PRIu32 " is in both", lists[a].name,
                                      lists[b].name, lists[a].codes->v[i]);
    return 0;
}

/* Decodes the profile-carrying fields present in slots (per spec) into out. */
static int decode_profile_slots(const message_spec *spec, const msgpack_object **slots,
                                const event_decode_options *opts, profile *out, px_error *err) {
    const event_limits *limits = opts->limits;
    bool decisions = false;
    for (size_t f = 0; f < spec->n; f++) {
        const msgpack_object *v = slots[f];
        if (!v) continue;
        int rc = 0;
        switch (spec->ids[f]) {
        case F_EXPERIENCES:
            if (v->via.array.size == 0)
                return fail_at(err, EVENT_ERR_EMPTY_VALUE, &(field_ref){"experiences", -1, NULL},
                               "at least one experience is needed");
            rc = check_count(v, "experiences", limits->max_experiences, err);
            for (uint32_t i = 0; !rc && i < v->via.array.size; i++)
                rc = decode_experience(&v->via.array.ptr[i], i, opts, out, err);
            break;
        case F_AVOID: rc = decode_avoid(v, limits, out, err); break;
        case F_DOMAINS: rc = decode_domains(v, "domains", limits, &out->domains, err); break;
        case F_EXCLUDE_DOMAINS:
            rc = decode_domains(v, "exclude_domains", limits, &out->exclude_domains, err);
            break;
        case F_CONFIRMED:
            decisions = true;
            rc = decode_codes(v, "confirmed", &out->confirmed, err);
            break;
        case F_REJECTED:
            decisions = true;
            rc = decode_codes(v, "rejected", &out->rejected, err);
            break;
        case F_ADDED:
            decisions = true;
            rc = decode_codes(v, "added", &out->added, err);
            break;
        case F_INCLUDE_REGULATED: out->include_regulated = v->via.boolean; break;
        case F_TS: { /* only a match line has it here; events carry it in their envelope */
            int64_t ts = 0;
            rc = get_int_in(v, &(field_ref){"ts", -1, NULL}, 0, INT64_MAX, &ts, err);
            if (!rc) out->as_of_year = event_ts_year(ts);
            break;
        }
        default: break;
        }
        if (rc) return -1;
    }
    return decisions ? check_decisions(out, limits, err) : 0;
}

/* Re-labels an error set by a lower layer (msgpack_scan) with this module's reason and a prefix. */
static void recode(px_error *err, int code, const char *prefix) {
    if (!err) return;
    char detail[PX_ERROR_MSG_MAX];
    memcpy(detail, err->msg, sizeof detail);
    event_fail(err, code, "%s%.400s", prefix, detail);
}

/* Maps msgpack_scan's refusal onto the event reasons. */
static int unpack_reason(int scan_code) {
    switch (scan_code) {
    case MSGPACK_SCAN_TOO_DEEP: return EVENT_ERR_OVER_LIMIT;
    case MSGPACK_SCAN_TRAILING: return EVENT_ERR_TRAILING_BYTES;
    case MSGPACK_SCAN_NOMEM: return EVENT_ERR_NOMEM;
    default: return EVENT_ERR_BAD_MSGPACK;
    }
}

static int decode_envelope(const msgpack_object_map *map, const char *key, size_t key_len,
                           const event_limits *limits, event *out, px_error *err) {
    const msgpack_object *slots[sizeof envelope_ids / sizeof envelope_ids[0]];
    if (collect_fields(map, &envelope_spec, NULL, slots, err)) return -1;
    const msgpack_object *v = slots[0], *type = slots[1];
    if (v->type == MSGPACK_OBJECT_NEGATIVE_INTEGER || v->via.u64 != EVENT_VERSION)
        return event_fail(err, EVENT_ERR_UNKNOWN_VERSION,
                          "v: version %s%" PRIu64 " is not supported (this build reads %d)",
                          v->type == MSGPACK_OBJECT_NEGATIVE_INTEGER ? "-" : "",
                          v->type == MSGPACK_OBJECT_NEGATIVE_INTEGER ? (uint64_t)0 - v->via.u64
                                                                     : v->via.u64,
                          EVENT_VERSION);
    field_ref type_at = top_ref("type"), id_at = top_ref("event_id"), user_at = top_ref("user_id"),
              ts_at = top_ref("ts");
    if (check_text(type, &type_at, limits->max_id_bytes, err)) return -1;
    out->type = 0;
    for (int t = EVENT_PROFILE_UPSERTED; t <= EVENT_TYPE_LAST; t++)
        if (strlen(event_type_name(t)) == type->via.str.size &&
            !memcmp(event_type_name(t), type->via.str.ptr, type->via.str.size))
            out->type = (event_type)t;
    if (!out->type)
        return event_fail(
            err, EVENT_ERR_UNKNOWN_TYPE,
            "type: \"%.*s\" is not one of profile.upserted, profile.erased, skills.confirmed, "
            "profile.rematch",
            (int)utf8_cut(type->via.str.ptr, type->via.str.size, 64), type->via.str.ptr);
    if (copy_text(slots[2], &id_at, limits->max_id_bytes, &out->event_id, err) ||
        copy_text(slots[3], &user_at, limits->max_id_bytes, &out->user_id, err) ||
        get_int_in(slots[4], &ts_at, 0, INT64_MAX, &out->ts, err))
        return -1;
    if (!key)
        return event_fail(err, EVENT_ERR_KEY_MISMATCH,
                          "(key): the Kafka message has no key; it must be the user_id");
    if (key_len != strlen(out->user_id) || memcmp(key, out->user_id, key_len))
        return event_fail(err, EVENT_ERR_KEY_MISMATCH,
                          "(key): the Kafka key (%zu bytes) differs from user_id", key_len);
    return 0;
}

/* The message-level checks: size, then structure and nesting before msgpack-c allocates.
 * `unpacked` is initialised either way: the caller destroys it. */
static int unpack_message(const char *buf, size_t len, const event_limits *limits,
                          msgpack_unpacked *unpacked, px_error *err) {
    if (len > limits->max_message_bytes) {
        msgpack_unpacked_init(unpacked);
        return event_fail(err, EVENT_ERR_OVER_LIMIT, "(message): %zu bytes, over the limit of %zu",
                          len, limits->max_message_bytes);
    }
    if (!msgpack_unpack_bounded(buf, len, limits->max_depth, unpacked, err)) return 0;
    recode(err, unpack_reason(err ? err->reason : 0), "(message): ");
    return -1;
}

int event_decode(const char *buf, size_t len, const char *key, size_t key_len,
                 const event_limits *limits, event *out, px_error *err) {
    const event_decode_options opts = {.limits = limits};
    return event_decode_with(buf, len, key, key_len, &opts, out, err);
}

int event_decode_with(const char *buf, size_t len, const char *key, size_t key_len,
                      const event_decode_options *opts, event *out, px_error *err) {
    event_limits defaults;
    const event_decode_options o = resolve_options(opts, &defaults);
    const event_limits *limits = o.limits;
    memset(out, 0, sizeof *out);
    msgpack_unpacked unpacked;
    int rc = -1;
    if (unpack_message(buf, len, limits, &unpacked, err)) goto done;
    const msgpack_object *root = &unpacked.data;
    if (root->type != MSGPACK_OBJECT_MAP) {
        event_fail(err, EVENT_ERR_NOT_A_MAP, "(message): expected a map, got %s", got_name(root));
        goto done;
    }
    if (decode_envelope(&root->via.map, key, key_len, limits, out, err)) goto done;
    const message_spec *spec = out->type == EVENT_PROFILE_UPSERTED   ? &upserted_spec
                               : out->type == EVENT_SKILLS_CONFIRMED ? &confirmed_spec
                               : out->type == EVENT_PROFILE_REMATCH  ? &rematch_spec
                                                                     : &erased_spec;
    const msgpack_object *slots[8];
    _Static_assert(sizeof upserted_ids / sizeof upserted_ids[0] <= 8, "slots too small");
    const message_spec *known[] = {&envelope_spec, spec}; /* the event map holds both */
    if (collect_fields(&root->via.map, spec, NULL, slots, err) ||
        check_keys(&root->via.map, known, 2, NULL, &o, err) ||
        decode_profile_slots(spec, slots, &o, &out->profile, err))
        goto done;
    if (out->type == EVENT_SKILLS_CONFIRMED && !slots[0] && !slots[1] && !slots[2]) {
        event_fail(err, EVENT_ERR_MISSING_FIELD,
                   "confirmed/rejected/added: skills.confirmed needs at least one of them");
        goto done;
    }
    field_ref version_at = top_ref("rome_version");
    if (out->type == EVENT_PROFILE_REMATCH &&
        copy_text(slots[0], &version_at, USER_STATE_ROME_VERSION_MAX, &out->rome_version, err))
        goto done;
    rc = 0;
done:
    msgpack_unpacked_destroy(&unpacked);
    if (rc) event_free(out);
    return rc;
}

int event_decode_profile(const msgpack_object *map, const event_limits *limits, profile *out,
                         char **user_id, px_error *err) {
    const event_decode_options opts = {.limits = limits};
    return event_decode_profile_with(map, &opts, out, user_id, err);
}

int event_decode_profile_with(const msgpack_object *map, const event_decode_options *opts,
                              profile *out, char **user_id, px_error *err) {
    event_limits defaults;
    const event_decode_options o = resolve_options(opts, &defaults);
    const event_limits *limits = o.limits;
    memset(out, 0, sizeof *out);
    if (user_id) *user_id = NULL;
    if (map->type != MSGPACK_OBJECT_MAP)
        return event_fail(err, EVENT_ERR_NOT_A_MAP, "(profile): expected a map, got %s",
                          got_name(map));
    const msgpack_object *slots[sizeof match_ids / sizeof match_ids[0]];
    const message_spec *known = &match_spec;
    if (collect_fields(&map->via.map, &match_spec, NULL, slots, err) ||
        check_keys(&map->via.map, &known, 1, NULL, &o, err) ||
        decode_profile_slots(&match_spec, slots, &o, out, err))
        goto fail;
    if (slots[0]) {
        char *id = NULL;
        field_ref at = top_ref("user_id");
        if (copy_text(slots[0], &at, limits->max_id_bytes, &id, err)) goto fail;
        if (user_id)
            *user_id = id;
        else
            free(id);
    }
    return 0;
fail:
    profile_free(out);
    return -1;
}

int event_decode_profile_message(const char *buf, size_t len, const event_decode_options *opts,
                                 profile *out, char **user_id, px_error *err) {
    event_limits defaults;
    const event_decode_options o = resolve_options(opts, &defaults);
    memset(out, 0, sizeof *out);
    if (user_id) *user_id = NULL;
    msgpack_unpacked unpacked;
    int rc = unpack_message(buf, len, o.limits, &unpacked, err) ||
                     event_decode_profile_with(&unpacked.data, &o, out, user_id, err)
                 ? -1
                 : 0;
    msgpack_unpacked_destroy(&unpacked);
    return rc;
}

static int pack_cstr(msgpack_packer *pk, const char *s) {
    size_t len = strlen(s);
    return msgpack_pack_str(pk, len) || msgpack_pack_str_body(pk, s, len);
}

/* --- persistent user state ------------------------------------------------------------------- */

/* Positions in the encoded state array. Format 2 appended include_regulated; format 1 (without
 * it) is still read, as include_regulated false, so states stored before the upgrade keep
 * working until their next write. */
enum {
    ST_FORMAT,
    ST_HAS_PROFILE,
    ST_ROME_VERSION,
    ST_UPDATED_TS,
    ST_RECENT,
    ST_EXPERIENCES,
    ST_AVOID_CODES,
    ST_AVOID_NAMED,
    ST_DOMAINS,
    ST_EXCLUDE_DOMAINS,
    ST_CONFIRMED,
    ST_REJECTED,
    ST_ADDED,
    ST_COUNT_V1,
    ST_INCLUDE_REGULATED = ST_COUNT_V1,
    ST_COUNT
};

static int pack_strings(msgpack_packer *pk, char *const *v, size_t n) {
    int rc = msgpack_pack_array(pk, n);
    for (size_t i = 0; i < n && !rc; i++) rc = pack_cstr(pk, v[i]);
    return rc;
}

static int pack_codes(msgpack_packer *pk, const profile_codes *c) {
    int rc = msgpack_pack_array(pk, c->n);
    for (size_t i = 0; i < c->n && !rc; i++) rc = msgpack_pack_uint32(pk, c->v[i]);
    return rc;
}

/* An experience as [kind, appellation|rome|title, months, end_year, extra]. */
static int pack_experience(msgpack_packer *pk, const profile_experience *e) {
    int rc = msgpack_pack_array(pk, 5) || msgpack_pack_int(pk, (int)e->kind);
    if (rc) return rc;
    switch (e->kind) {
    case PROFILE_EXP_APPELLATION: rc = msgpack_pack_uint32(pk, e->appellation); break;
    case PROFILE_EXP_ROME: rc = pack_cstr(pk, e->rome); break;
    case PROFILE_EXP_TITLE: rc = pack_cstr(pk, e->title ? e->title : ""); break;
    }
    return rc || msgpack_pack_int32(pk, e->months) || msgpack_pack_int32(pk, e->end_year) ||
           (e->extra ? msgpack_pack_true(pk) : msgpack_pack_false(pk));
}

int user_state_encode(const user_state *st, msgpack_sbuffer *out, px_error *err) {
    const profile *p = &st->profile;
    size_t before = out->size;
    msgpack_packer pk;
    msgpack_packer_init(&pk, out, msgpack_sbuffer_write);
    int rc = msgpack_pack_array(&pk, ST_COUNT) || msgpack_pack_int(&pk, USER_STATE_FORMAT) ||
             (st->has_profile ? msgpack_pack_true(&pk) : msgpack_pack_false(&pk)) ||
             pack_cstr(&pk, st->rome_version) || msgpack_pack_int64(&pk, st->updated_ts) ||
             pack_strings(&pk, st->recent_event_ids, st->n_recent) ||
             msgpack_pack_array(&pk, p->n_experiences);
    for (size_t i = 0; i < p->n_experiences && !rc; i++)
        rc = pack_experience(&pk, &p->experiences[i]);
    rc = rc || pack_codes(&pk, &p->avoid_contextes) ||
         pack_strings(&pk, p->avoid_named.v, p->avoid_named.n) ||
         pack_strings(&pk, p->domains.v, p->domains.n) ||
         pack_strings(&pk, p->exclude_domains.v, p->exclude_domains.n) ||
         pack_codes(&pk, &p->confirmed) || pack_codes(&pk, &p->rejected) ||
         pack_codes(&pk, &p->added);
    rc = rc || (p->include_regulated ? msgpack_pack_true(&pk) : msgpack_pack_false(&pk));
    if (rc) {
        out->size = before;
        return event_fail(err, EVENT_ERR_NOMEM, "user state: out of memory");
    }
    return 0;
}

static int corrupt(px_error *err, const char *what) {
    return event_fail(err, EVENT_ERR_CORRUPT_STATE, "user state: %s", what);
}

static int state_codes(const msgpack_object *o, profile_codes *out, px_error *err) {
    if (o->type != MSGPACK_OBJECT_ARRAY) return corrupt(err, "a code list is not an array");
    for (uint32_t i = 0; i < o->via.array.size; i++) {
        const msgpack_object *c = &o->via.array.ptr[i];
        if (c->type != MSGPACK_OBJECT_POSITIVE_INTEGER || c->via.u64 > UINT32_MAX)
            return corrupt(err, "a code is not a 32-bit unsigned integer");
        if (profile_codes_push(out, (uint32_t)c->via.u64, err))
            return event_fail(err, EVENT_ERR_NOMEM, "user state: out of memory");
    }
    return 0;
}

/* A stored string: str without NUL bytes (it becomes a C string). */
static bool state_text(const msgpack_object *o) {
    return o->type == MSGPACK_OBJECT_STR &&
           (o->via.str.size == 0 || !memchr(o->via.str.ptr, '\0', o->via.str.size));
}

/* msgpack-c leaves the pointer of an empty str NULL; libc functions want a valid pointer. */
static const char *str_bytes(const msgpack_object *o) {
    return o->via.str.size ? o->via.str.ptr : "";
}

static int state_strings(const msgpack_object *o, profile_strings *out, px_error *err) {
    if (o->type != MSGPACK_OBJECT_ARRAY) return corrupt(err, "a string list is not an array");
    for (uint32_t i = 0; i < o->via.array.size; i++) {
        const msgpack_object *s = &o->via.array.ptr[i];
        if (!state_text(s)) return corrupt(err, "a list entry is not a string");
        if (profile_strings_push(out, str_bytes(s), s->via.str.size, err))
            return event_fail(err, EVENT_ERR_NOMEM, "user state: out of memory");
    }
    return 0;
}

static bool state_int32(const msgpack_object *o, int32_t *out) {
    if (!is_integer(o) || o->via.i64 < INT32_MIN || o->via.i64 > INT32_MAX ||
        (o->type == MSGPACK_OBJECT_POSITIVE_INTEGER && o->via.u64 > INT32_MAX))
        return false;
    *out = (int32_t)o->via.i64;
    return true;
}

static int state_experience(const msgpack_object *o, profile *p, px_error *err) {
    if (o->type != MSGPACK_OBJECT_ARRAY || o->via.array.size != 5)
        return corrupt(err, "an experience is not a 5-element array");
    const msgpack_object *a = o->via.array.ptr;
    profile_experience *e = profile_add_experience(p, err);
    if (!e) return event_fail(err, EVENT_ERR_NOMEM, "user state: out of memory");
    if (a[0].type != MSGPACK_OBJECT_POSITIVE_INTEGER || a[0].via.u64 > PROFILE_EXP_TITLE)
        return corrupt(err, "an experience kind is unknown");
    e->kind = (profile_experience_kind)a[0].via.u64;
    switch (e->kind) {
    case PROFILE_EXP_APPELLATION:
        if (a[1].type != MSGPACK_OBJECT_POSITIVE_INTEGER || a[1].via.u64 > UINT32_MAX)
            return corrupt(err, "an appellation is not a code");
        e->appellation = (uint32_t)a[1].via.u64;
        break;
    case PROFILE_EXP_ROME:
        if (a[1].type != MSGPACK_OBJECT_STR || !is_rome_code(a[1].via.str.ptr, a[1].via.str.size))
            return corrupt(err, "a fiche code is malformed");
        memcpy(e->rome, a[1].via.str.ptr, 5);
        break;
    case PROFILE_EXP_TITLE:
        if (!state_text(&a[1])) return corrupt(err, "a title is not a string");
        if (!(e->title = strndup(str_bytes(&a[1]), a[1].via.str.size)))
            return event_fail(err, EVENT_ERR_NOMEM, "user state: out of memory");
        break;
    }
    if (!state_int32(&a[2], &e->months) || !state_int32(&a[3], &e->end_year))
        return corrupt(err, "months/end_year are not 32-bit integers");
    if (a[4].type != MSGPACK_OBJECT_BOOLEAN) return corrupt(err, "extra is not a boolean");
    e->extra = a[4].via.boolean;
    return 0;
}

static int state_fields(const msgpack_object *a, uint32_t n, user_state *st, px_error *err) {
    const msgpack_object *format = &a[ST_FORMAT];
    if (format->type != MSGPACK_OBJECT_POSITIVE_INTEGER || format->via.u64 < 1 ||
        format->via.u64 > USER_STATE_FORMAT)
        return event_fail(err, EVENT_ERR_CORRUPT_STATE,
                          "user state: unknown format version (this build reads 1..%d)",
                          USER_STATE_FORMAT);
    uint32_t expected = format->via.u64 == 1 ? ST_COUNT_V1 : ST_COUNT;
    if (n != expected)
        return event_fail(err, EVENT_ERR_CORRUPT_STATE,
                          "user state: format %d has %" PRIu32 " elements, not %" PRIu32,
                          (int)format->via.u64, expected, n);
    if (a[ST_HAS_PROFILE].type != MSGPACK_OBJECT_BOOLEAN)
        return corrupt(err, "has_profile is not a boolean");
    st->has_profile = a[ST_HAS_PROFILE].via.boolean;
    const msgpack_object *version = &a[ST_ROME_VERSION];
    if (!state_text(version) || version->via.str.size > USER_STATE_ROME_VERSION_MAX)
        return corrupt(err, "rome_version is not a version label");
    memcpy(st->rome_version, str_bytes(version), version->via.str.size);
    if (a[ST_UPDATED_TS].type != MSGPACK_OBJECT_POSITIVE_INTEGER ||
        a[ST_UPDATED_TS].via.u64 > INT64_MAX)
        return corrupt(err, "updated_ts is not a timestamp");
    st->updated_ts = (int64_t)a[ST_UPDATED_TS].via.u64;
    profile_strings recent = {0};
    int rc = state_strings(&a[ST_RECENT], &recent, err);
    st->recent_event_ids = recent.v;
    st->n_recent = recent.n;
    if (rc) return -1;
    if (a[ST_EXPERIENCES].type != MSGPACK_OBJECT_ARRAY)
        return corrupt(err, "experiences is not an array");
    for (uint32_t i = 0; i < a[ST_EXPERIENCES].via.array.size; i++)
        if (state_experience(&a[ST_EXPERIENCES].via.array.ptr[i], &st->profile, err)) return -1;
    profile *p = &st->profile;
    if (state_codes(&a[ST_AVOID_CODES], &p->avoid_contextes, err) ||
        state_strings(&a[ST_AVOID_NAMED], &p->avoid_named, err) ||
        state_strings(&a[ST_DOMAINS], &p->domains, err) ||
        state_strings(&a[ST_EXCLUDE_DOMAINS], &p->exclude_domains, err) ||
        state_codes(&a[ST_CONFIRMED], &p->confirmed, err) ||
        state_codes(&a[ST_REJECTED], &p->rejected, err) ||
        state_codes(&a[ST_ADDED], &p->added, err))
        return -1;
    if (n > ST_INCLUDE_REGULATED) {
        if (a[ST_INCLUDE_REGULATED].type != MSGPACK_OBJECT_BOOLEAN)
            return corrupt(err, "include_regulated is not a boolean");
        p->include_regulated = a[ST_INCLUDE_REGULATED].via.boolean;
    }
    return 0;
}

int user_state_decode(const char *buf, size_t len, user_state *out, px_error *err) {
    memset(out, 0, sizeof *out);
    msgpack_unpacked unpacked;
    int rc = -1;
    if (msgpack_unpack_bounded(buf, len, STATE_MAX_DEPTH, &unpacked, err)) {
        recode(err, err && err->code == PX_ENOMEM ? EVENT_ERR_NOMEM : EVENT_ERR_CORRUPT_STATE,
               "user state: ");
    } else if (unpacked.data.type != MSGPACK_OBJECT_ARRAY ||
               (unpacked.data.via.array.size != ST_COUNT_V1 &&
                unpacked.data.via.array.size != ST_COUNT)) {
        corrupt(err, "not an array of the size of format 1 or 2");
    } else {
        rc = state_fields(unpacked.data.via.array.ptr, unpacked.data.via.array.size, out, err);
    }
    msgpack_unpacked_destroy(&unpacked);
    if (rc) user_state_free(out);
    return rc;
}
