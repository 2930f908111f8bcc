#include "dlq_record.h"

#include <string.h>

/* Every refusal carries its contract reason; the code follows from it (event_reason_code). */
#define dlq_fail(err, reason, ...)                                                                 \
    px_error_set_reason((err), event_reason_code(reason), (reason), __VA_ARGS__)

typedef enum dlq_field_id {
    D_V,
    D_TYPE,
    D_REASON,
    D_MESSAGE,
    D_TOPIC,
    D_PARTITION,
    D_OFFSET,
    D_TS,
    D_VALUE,
    D_KEY,
    D_EVENT_ID,
    D_ORIGINAL_SIZE,
    D_TRUNCATED,
} dlq_field_id;

/* In contract order, which is also the order the encoder writes them in. */
static const event_field dlq_fields[] = {
    {"v", EVENT_FIELD_INTEGER, true},
    {"type", EVENT_FIELD_STRING, true},
    {"reason", EVENT_FIELD_STRING, true},
    {"message", EVENT_FIELD_STRING, true},
    {"topic", EVENT_FIELD_STRING, true},
    {"partition", EVENT_FIELD_INTEGER, true},
    {"offset", EVENT_FIELD_INTEGER, true},
    {"ts", EVENT_FIELD_INTEGER, true},
    {"value", EVENT_FIELD_NULLABLE_BINARY, true},
    {"key", EVENT_FIELD_BINARY, false},
    {"event_id", EVENT_FIELD_STRING, false},
    {"original_size", EVENT_FIELD_INTEGER, false},
    {"truncated", EVENT_FIELD_BOOLEAN, false},
};
#define N_FIELDS (sizeof dlq_fields / sizeof dlq_fields[0])
_Static_assert(N_FIELDS == D_TRUNCATED + 1, "one dlq_field_id per field");

const event_field *dlq_record_fields(size_t *n) {
    *n = N_FIELDS;
    return dlq_fields;
}

/* --- encoding -------------------------------------------------------------------------------- */

static int pack_cstr(msgpack_packer *pk, const char *s) {
    size_t len = strlen(s);
    return msgpack_pack_str(pk, len) || msgpack_pack_str_body(pk, s, len);
}

static int pack_bytes(msgpack_packer *pk, const char *b, size_t len) {
    return msgpack_pack_bin(pk, len) || msgpack_pack_bin_body(pk, b, len);
}

/* What one encoding writes: the record, and how much of the original (all of it unless cut). */
typedef struct dlq_cut {
    const dlq_record *rec;
    size_t value_len;
    bool truncated;
} dlq_cut;

static int pack_field(msgpack_packer *pk, dlq_field_id id, const dlq_cut *cut) {
    const dlq_record *rec = cut->rec;
    switch (id) {
    case D_V: return msgpack_pack_int(pk, EVENT_VERSION);
    case D_TYPE: return pack_cstr(pk, DLQ_RECORD_TYPE);
    case D_REASON: return pack_cstr(pk, event_reason_name(rec->reason));
    case D_MESSAGE: return pack_cstr(pk, rec->message);
    case D_TOPIC: return pack_cstr(pk, rec->topic);
    case D_PARTITION: return msgpack_pack_int32(pk, rec->partition);
    case D_OFFSET: return msgpack_pack_int64(pk, rec->offset);
    case D_TS: return msgpack_pack_int64(pk, rec->ts);
    case D_VALUE:
        return rec->value ? pack_bytes(pk, rec->value, cut->value_len) : msgpack_pack_nil(pk);
    case D_KEY: return pack_bytes(pk, rec->key, rec->key_len);
    case D_EVENT_ID: return pack_cstr(pk, rec->event_id);
    case D_ORIGINAL_SIZE: return msgpack_pack_uint64(pk, rec->value_len);
    case D_TRUNCATED: return msgpack_pack_true(pk);
    }
    return -1;
}

static int encode_cut(const dlq_cut *cut, msgpack_sbuffer *out, px_error *err) {
    const dlq_record *rec = cut->rec;
    size_t before = out->size, n = 0;
    bool present[N_FIELDS];
    for (size_t f = 0; f < N_FIELDS; f++) {
        present[f] = dlq_fields[f].required || (f == D_KEY && rec->key) ||
                     (f == D_EVENT_ID && rec->event_id) ||
                     ((f == D_ORIGINAL_SIZE || f == D_TRUNCATED) && cut->truncated);
        n += present[f];
    }
    msgpack_packer pk;
    msgpack_packer_init(&pk, out, msgpack_sbuffer_write);
    int rc = msgpack_pack_map(&pk, n);
    for (size_t f = 0; f < N_FIELDS && !rc; f++)
        if (present[f])
            rc = pack_cstr(&pk, dlq_fields[f].name) || pack_field(&pk, (dlq_field_id)f, cut);
    if (rc) {
        out->size = before;
        return dlq_fail(err, EVENT_ERR_NOMEM, "dlq record: out of memory");
    }
    return 0;
}

int dlq_record_encode(const dlq_record *rec, msgpack_sbuffer *out, px_error *err) {
    if (!rec->topic || !rec->message)
        return dlq_fail(err, EVENT_ERR_MISSING_FIELD, "dlq record: topic and message are required");
    size_t before = out->size;
    dlq_cut cut = {rec, rec->value ? rec->value_len : 0, false};
    if (encode_cut(&cut, out, err)) return -1;
    size_t whole = out->size - before;
    if (!rec->max_bytes || whole <= rec->max_bytes || !rec->value) return 0;
    /* Too big: the same record around an empty head tells the room the other fields leave (the
     * bin header of the head is at most 5 bytes more than an empty one's). */
    out->size = before;
    cut.value_len = 0;
    cut.truncated = true;
    if (encode_cut(&cut, out, err)) return -1;
    size_t rest = out->size - before + 5;
    size_t room = rec->max_bytes > rest ? rec->max_bytes - rest : 0;
    out->size = before;
    cut.value_len = room < DLQ_RECORD_HEAD_MAX ? room : DLQ_RECORD_HEAD_MAX;
    if (cut.value_len > rec->value_len) cut.value_len = rec->value_len;
    return encode_cut(&cut, out, err);
}

int64_t dlq_replay_count(const void *value, size_t len) {
    if (!value) return 0;
    const char *s = value;
    int64_t n = 0;
    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9') return -1;
        n = n * 10 + (s[i] - '0');
        if (n > DLQ_REPLAY_MAX) return -1;
    }
    return len ? n : -1;
}

/* --- decoding -------------------------------------------------------------------------------- */

static bool str_is(const msgpack_object *o, const char *s) {
    size_t n = strlen(s);
    return o->type == MSGPACK_OBJECT_STR && o->via.str.size == n && !memcmp(o->via.str.ptr, s, n);
}

/* The field a key names, or N_FIELDS for a key the record does not have. */
static size_t field_of(const msgpack_object *key) {
    for (size_t f = 0; f < N_FIELDS; f++)
        if (str_is(key, dlq_fields[f].name)) return f;
    return N_FIELDS;
}

static void take_str(const msgpack_object *o, const char **s, size_t *len) {
    if (o->type != MSGPACK_OBJECT_STR) return;
    *s = o->via.str.ptr;
    *len = o->via.str.size;
}

static void take_u64(const msgpack_object *o, int64_t *v) {
    if (o->type == MSGPACK_OBJECT_POSITIVE_INTEGER && o->via.u64 <= INT64_MAX)
        *v = (int64_t)o->via.u64;
}

int dlq_record_decode(const msgpack_object *obj, dlq_record_view *v, px_error *err) {
    memset(v, 0, sizeof *v);
    v->partition = v->offset = v->ts = v->original_size = -1;
    if (obj->type != MSGPACK_OBJECT_MAP)
        return dlq_fail(err, EVENT_ERR_NOT_A_MAP, "not a MessagePack map");
    bool is_dlq = false, has_value = false;
    for (uint32_t i = 0; i < obj->via.map.size; i++) {
        const msgpack_object *val = &obj->via.map.ptr[i].val;
        switch (field_of(&obj->via.map.ptr[i].key)) {
        case D_TYPE: is_dlq = str_is(val, DLQ_RECORD_TYPE); break;
        case D_TOPIC: take_str(val, &v->topic, &v->topic_len); break;
        case D_REASON: take_str(val, &v->reason, &v->reason_len); break;
        case D_MESSAGE: take_str(val, &v->message, &v->message_len); break;
        case D_EVENT_ID: take_str(val, &v->event_id, &v->event_id_len); break;
        case D_PARTITION: take_u64(val, &v->partition); break;
        case D_OFFSET: take_u64(val, &v->offset); break;
        case D_TS: take_u64(val, &v->ts); break;
        case D_ORIGINAL_SIZE: take_u64(val, &v->original_size); break;
        case D_TRUNCATED:
            v->truncated = val->type == MSGPACK_OBJECT_BOOLEAN && val->via.boolean;
            break;
        case D_VALUE:
            if (val->type != MSGPACK_OBJECT_BIN) break;
            v->value = val->via.bin.ptr;
            v->value_len = val->via.bin.size;
            has_value = true;
            break;
        case D_KEY:
            if (val->type != MSGPACK_OBJECT_BIN) break;
            v->key = val->via.bin.ptr;
            v->key_len = val->via.bin.size;
            v->has_key = true;
            break;
        default: break;
        }
    }
    if (!is_dlq)
        return dlq_fail(err, EVENT_ERR_UNKNOWN_TYPE,
                        "not a dead-letter record (type is not \"%s\")", DLQ_RECORD_TYPE);
    if (!v->topic || !v->topic_len)
        return dlq_fail(err, EVENT_ERR_MISSING_FIELD, "dead-letter record without a source topic");
    if (!has_value)
        return dlq_fail(err, EVENT_ERR_MISSING_FIELD,
                        "dead-letter record without original bytes (value is null)");
    return 0;
}
