/* Prints, as one JSON document, what the code says the event contract is, for
 * tests/contract/check_asyncapi.mjs to compare with docs/asyncapi.yaml:
 *   "tables":  the field tables the input decoder and the DLQ encoder run on (event_codec_fields);
 *   "samples": real outputs of the encoders, converted to JSON with msgpack_json, with the paths of
 *              the values whose MessagePack form JSON does not show (floats, fixed uint32) — suggestions
 *              (suggestion_codec, on the matcher's hand-written fixture index with a small ESCO
 *              crosswalk added, so that the optional `esco` fields are written, for a profile
 *              that exercises every optional branch) and dead-letter records;
 *   "bad_inputs": each kind of bad input (not MessagePack, wrong types, unknown event type, huge
 *              array headers, deep nesting, invalid UTF-8, oversized, the other topic's type),
 *              built here and decoded as passerelled does, with the reason it gets.
 * usage: contract_dump FIXTURE_DIR */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dlq_record.h"
#include "event_codec.h"
#include "matcher.h"
#include "msgpack_json.h"
#include "rome_fixture.h"
#include "rome_load.h"
#include "suggestion_codec.h"

static int fail(const char *what, const px_error *err) {
    fprintf(stderr, "contract_dump: %s: %s\n", what, err->msg);
    return 1;
}

static cJSON *tables_json(void) {
    cJSON *tables = cJSON_CreateObject();
    for (const char *const *m = event_codec_messages; *m; m++) {
        size_t n;
        const event_field *f = event_codec_fields(*m, &n);
        cJSON *fields = cJSON_AddArrayToObject(tables, *m);
        for (size_t i = 0; i < n; i++) {
            cJSON *field = cJSON_CreateObject();
            cJSON_AddStringToObject(field, "name", f[i].name);
            cJSON_AddStringToObject(field, "type", event_field_type_name(f[i].type));
            cJSON_AddBoolToObject(field, "required", f[i].required);
            cJSON_AddItemToArray(fields, field);
        }
    }
    return tables;
}

/* What JSON does not show of the bytes, by path ("jobs/0/score"): the values written as MessagePack
 * floats (an integral float, 1.0, reads as an integer) and the integers written in the 5-byte
 * uint32 form (0xce), which the document says with `format: uint32` where it is required whatever
 * the value. A walk of the raw bytes, which msgpack-c has already parsed (so well formed): returns
 * the byte after the value at p. */
typedef struct forms {
    cJSON *floats, *uint32;
} forms;

static uint64_t be_at(const unsigned char *p, int n) {
    uint64_t v = 0;
    for (int i = 0; i < n; i++) v = v << 8 | p[i];
    return v;
}

static const unsigned char *walk(const unsigned char *p, char *path, size_t len, size_t cap,
                                 const forms *out) {
    unsigned char t = *p++;
    uint64_t n = 0; /* elements of a container */
    bool is_map = false;
    if (t <= 0x7f || t >= 0xe0 || t == 0xc0 || t == 0xc2 || t == 0xc3) return p;
    if ((t & 0xe0) == 0x80) { /* fixmap 0x8N, fixarray 0x9N */
        n = t & 0x0f;
        is_map = t < 0x90;
    } else if ((t & 0xe0) == 0xa0)
        return p + (t & 0x1f);
    else
        switch (t) {
        case 0xca:
        case 0xcb:
            cJSON_AddItemToArray(out->floats, cJSON_CreateString(path));
            return p + (t == 0xca ? 4 : 8);
        case 0xce: cJSON_AddItemToArray(out->uint32, cJSON_CreateString(path)); return p + 4;
        case 0xcc:
        case 0xd0: return p + 1;
        case 0xcd:
        case 0xd1: return p + 2;
        case 0xd2: return p + 4;
        case 0xcf:
        case 0xd3: return p + 8;
        case 0xc4:
        case 0xd9: return p + 1 + be_at(p, 1);
        case 0xc5:
        case 0xda: return p + 2 + be_at(p, 2);
        case 0xc6:
        case 0xdb: return p + 4 + be_at(p, 4);
        case 0xdc:
        case 0xde: /* array 16, map 16 */
            n = be_at(p, 2);
            p += 2;
            is_map = t == 0xde;
            break;
        case 0xdd:
        case 0xdf:
            n = be_at(p, 4);
            p += 4;
            is_map = t == 0xdf;
            break;
        default: return p; /* ext: the encoders write none */
        }
    for (uint64_t i = 0; i < n; i++) {
        int w;
        if (is_map) { /* keys are strings: fixstr or str8 */
            size_t klen = (*p & 0xe0) == 0xa0 ? (size_t)(*p & 0x1f) : p[1];
            const unsigned char *k = p + ((*p & 0xe0) == 0xa0 ? 1 : 2);
            w = snprintf(path + len, cap - len, "%s%.*s", len ? "/" : "", (int)klen,
                         (const char *)k);
            p = k + klen;
        } else {
            w = snprintf(path + len, cap - len, "%s%llu", len ? "/" : "", (unsigned long long)i);
        }
        size_t sub = len + (size_t)w < cap ? len + (size_t)w : cap - 1;
        p = walk(p, path, sub, cap, out);
        path[len] = '\0';
    }
    return p;
}

/* Converts what an encoder appended to sb into JSON and adds it, with its float and uint32 paths,
 * to the sample list `name`: {"json": …, "floats": ["jobs/0/score", …], "uint32": […]}. */
static int add_sample(cJSON *samples, const char *name, msgpack_sbuffer *sb) {
    px_error err = {0};
    cJSON *json = msgpack_json_from_bytes(sb->data, sb->size, NULL, &err);
    if (!json) {
        msgpack_sbuffer_clear(sb);
        return fail(name, &err);
    }
    cJSON *sample = cJSON_CreateObject();
    cJSON_AddItemToObject(sample, "json", json);
    forms out = {cJSON_AddArrayToObject(sample, "floats"),
                 cJSON_AddArrayToObject(sample, "uint32")};
    char path[512] = "";
    walk((const unsigned char *)sb->data, path, 0, sizeof path, &out);
    msgpack_sbuffer_clear(sb);
    cJSON *list = cJSON_GetObjectItemCaseSensitive(samples, name);
    if (!list) list = cJSON_AddArrayToObject(samples, name);
    cJSON_AddItemToArray(list, sample);
    return 0;
}

static void add_experience(profile *p, profile_experience_kind kind, uint32_t appellation,
                           const char *rome, const char *title) {
    profile_experience *x = profile_add_experience(p, NULL);
    x->kind = kind;
    x->appellation = appellation;
    if (rome) snprintf(x->rome, sizeof x->rome, "%s", rome);
    if (title) x->title = strdup(title);
}

static int encode_samples(const rome_index *idx, const matcher *m, const match_result *r,
                          cJSON *samples);

/* ESCO links for appellations 5001 (D1505) and 5002, 5006 (J1501, given as a fiche code below),
 * after the crosswalk's metadata preamble; 99999 is an appellation the fixture does not have. */
static const char ESCO_CROSSWALK[] =
    "Mapping project name,ESCO - ROME (contract fixture)\r\n\r\n"
    "classification 1 ID,classification 1 prefered label,classification 2 ID,"
    "classification 2 prefered label,mapping relation\r\n"
    "http://data.europa.eu/esco/occupation/00000000-0000-4000-8000-000000000001,caissier,5001,"
    "Caissier de test,skos:exactMatch\r\n"
    "http://data.europa.eu/esco/occupation/00000000-0000-4000-8000-000000000002,vendeur,5001,"
    "Caissier de test,skos:broadMatch\r\n"
    "http://data.europa.eu/esco/occupation/00000000-0000-4000-8000-000000000003,soignant,5002,"
    "Soignant de test,skos:closeMatch\r\n"
    "http://data.europa.eu/esco/occupation/00000000-0000-4000-8000-000000000004,aide,5006,"
    "Aide-soignant de nuit,skos:narrowMatch\r\n"
    "http://data.europa.eu/esco/occupation/00000000-0000-4000-8000-000000000005,disparu,99999,"
    "Disparu,skos:exactMatch\r\n";

static int suggestion_samples(const char *fixture_dir, cJSON *samples) {
    char dir[512];
    px_error err = {0};
    if (rome_fixture_make(fixture_dir, dir, sizeof dir)) return fail("fixture", &err);
    if (rome_fixture_write(dir, "esco_crosswalk", ESCO_CROSSWALK, sizeof ESCO_CROSSWALK - 1)) {
        rome_fixture_remove(dir);
        return fail("ESCO crosswalk fixture", &err);
    }
    rome_index *idx = rome_load_csv(dir, NULL, &err);
    rome_fixture_remove(dir);
    if (!idx) return fail("index", &err);
    matcher_config cfg = matcher_config_default();
    cfg.n_constraints = 0;
    matcher_config_set(&cfg, "constraint.no_weekend", "23374", NULL);
    /* M1607 lists 100005 but not 23374: removed because of a competence, D1106 of a contexte */
    matcher_config_set(&cfg, "constraint.no_weekend.items", "100005", NULL);
    matcher *m = matcher_build(idx, &cfg, &err);
    matcher_scratch *s = m ? matcher_scratch_new(m, &err) : NULL;
    if (!s) return fail("matcher", &err);
    /* Every branch of the output: an appellation, a fiche code (no appellation), a title with
     * alternatives, an unresolved title, a named and a coded constraint (with removed jobs), a
     * domain exclusion, a declared competence. */
    profile p = {0};
    add_experience(&p, PROFILE_EXP_APPELLATION, 5001, NULL, NULL);
    add_experience(&p, PROFILE_EXP_ROME, 0, "J1501", NULL);
    add_experience(&p, PROFILE_EXP_TITLE, 0, NULL, "caissier");
    add_experience(&p, PROFILE_EXP_TITLE, 0, NULL, "plombier zingueur");
    profile_strings_push(&p.avoid_named, "no_weekend", 10, NULL);
    profile_codes_push(&p.avoid_contextes, 300803, NULL);
    profile_strings_push(&p.exclude_domains, "M", 1, NULL);
    profile_codes_push(&p.added, 100002, NULL);
    /* …a plain one, so that occupations remain after the exclusions; its confirmed 100004 is
     * evidence for the regulated J1501, whose diploma 200002 it lacks: listed with
     * qualification_gap since it sets include_regulated… */
    profile plain = {0};
    add_experience(&plain, PROFILE_EXP_TITLE, 0, NULL, "de test");
    add_experience(&plain, PROFILE_EXP_APPELLATION, 5001, NULL, NULL);
    profile_codes_push(&plain.confirmed, 100001, NULL);
    profile_codes_push(&plain.confirmed, 100004, NULL);
    plain.include_regulated = true;
    plain.as_of_year = 2025;
    /* …and the same without include_regulated: J1501 is held back, in excluded.regulated. */
    profile held_back = {0};
    profile_copy(&held_back, &plain, NULL);
    held_back.include_regulated = false;
    const profile *profiles[] = {&p, &plain, &held_back};
    int rc = 0;
    for (size_t k = 0; k < sizeof profiles / sizeof profiles[0] && !rc; k++) {
        match_result r = {0};
        if (matcher_run(m, s, profiles[k], &r, &err)) {
            rc = fail("matcher_run", &err);
        } else {
            rc = encode_samples(idx, m, &r, samples);
        }
        match_result_free(&r);
    }
    profile_free(&held_back);
    profile_free(&plain);
    profile_free(&p);
    matcher_scratch_free(s);
    matcher_free(m);
    rome_index_free(idx);
    return rc;
}

static int encode_samples(const rome_index *idx, const matcher *m, const match_result *r,
                          cJSON *samples) {
    px_error err = {0};
    int rc;
    {
        char version[32];
        suggestion_rome_version(idx, version, sizeof version);
        suggestion_envelope env = {"alice", 1764393600000LL, "in-1", version};
        msgpack_sbuffer sb;
        msgpack_sbuffer_init(&sb);
        msgpack_packer pk;
        msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
        rc = suggestion_encode_skills(&pk, &env, m, r, &err)
                 ? fail("skills", &err)
                 : add_sample(samples, SUGGESTION_TYPE_SKILLS, &sb);
        if (!rc)
            rc = suggestion_encode_jobs(&pk, &env, m, r, &err)
                     ? fail("jobs", &err)
                     : add_sample(samples, SUGGESTION_TYPE_JOBS, &sb);
        msgpack_sbuffer_destroy(&sb);
    }
    return rc;
}

static int dlq_samples(cJSON *samples) {
    static const char big[512] = {'\x81'};
    const dlq_record records[] = {
        {.value = "\x81\xa1v\xc1",
         .value_len = 4,
         .key = "alice",
         .key_len = 5,
         .topic = "passerelle.profile.v1",
         .partition = 2,
         .offset = 41,
         .reason = EVENT_ERR_BAD_MSGPACK,
         .message = "(message): msgpack: byte 0xc1",
         .event_id = "in-9",
         .ts = 1},
        {.topic = "passerelle.skills.v1",
         .reason = EVENT_ERR_KEY_MISMATCH,
         .message = "(key): no key",
         .ts = 2},
        /* over its size limit: the head of the original, truncated and original_size */
        {.value = big,
         .value_len = sizeof big,
         .topic = "passerelle.profile.v1",
         .reason = EVENT_ERR_WRONG_TOPIC,
         .message = "type skills.confirmed belongs on passerelle.skills.v1",
         .ts = 3,
         .max_bytes = 200},
    };
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    int rc = 0;
    px_error err = {0};
    for (size_t i = 0; i < sizeof records / sizeof records[0] && !rc; i++)
        rc = dlq_record_encode(&records[i], &sb, &err) ? fail("dlq", &err)
                                                       : add_sample(samples, "dlq.record", &sb);
    msgpack_sbuffer_destroy(&sb);
    return rc;
}

/* --- bad inputs: each kind the chaos stream mixes in, decoded as the daemon decodes it --- */

/* An event of user_id (and Kafka key) user, with `v` an integer (or the string "1"), a body
 * that fits its type (experiences, or confirmed for skills.*) and an extra key `x` when given. */
typedef struct event_shape {
    const char *kind;
    const char *type;
    int v;
    bool v_as_string;
    const char *user;
    void (*extra)(msgpack_packer *pk);
} event_shape;

static void pack_str(msgpack_packer *pk, const char *s) {
    msgpack_pack_str_with_body(pk, s, strlen(s));
}

static void pack_event(msgpack_sbuffer *sb, const event_shape *e) {
    msgpack_packer pk;
    msgpack_packer_init(&pk, sb, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, e->extra ? 7 : 6);
    pack_str(&pk, "v");
    if (e->v_as_string)
        pack_str(&pk, "1");
    else
        msgpack_pack_int(&pk, e->v);
    pack_str(&pk, "type");
    pack_str(&pk, e->type);
    pack_str(&pk, "event_id");
    pack_str(&pk, "e-1");
    pack_str(&pk, "user_id");
    pack_str(&pk, e->user);
    pack_str(&pk, "ts");
    msgpack_pack_int64(&pk, 1764393600000LL);
    bool skills = !strncmp(e->type, "skills.", 7);
    pack_str(&pk, skills ? "confirmed" : "experiences");
    msgpack_pack_array(&pk, 1);
    if (skills) {
        msgpack_pack_int(&pk, 100011);
    } else {
        msgpack_pack_map(&pk, 1);
        pack_str(&pk, "appellation");
        msgpack_pack_int(&pk, 11640);
    }
    if (e->extra) {
        pack_str(&pk, "x");
        e->extra(&pk);
    }
}

static void nest_deep(msgpack_packer *pk) { /* 100,000 nested arrays */
    for (int i = 0; i < 100000; i++) msgpack_pack_array(pk, i < 99999 ? 1 : 0);
}

static void big_string(msgpack_packer *pk) { /* 70 KB: over max_message_bytes (64 KiB) */
    static char text[70 * 1024];
    memset(text, 'a', sizeof text);
    msgpack_pack_str_with_body(pk, text, sizeof text);
}

/* The reason the daemon gives a message: event_decode's (default limits), else wrong_topic when
 * the event belongs to the other input topic (read here as the profile topic), else "accepted". */
static const char *reason_on_profile_topic(const char *buf, size_t len, const char *key) {
    event_limits limits = event_limits_default();
    event ev;
    px_error err;
    if (event_decode(buf, len, key, strlen(key), &limits, &ev, &err))
        return event_reason_name(err.reason);
    bool elsewhere = event_type_topic(ev.type) != EVENT_TOPIC_PROFILE;
    event_free(&ev);
    return elsewhere ? event_reason_name(EVENT_ERR_WRONG_TOPIC) : "accepted";
}

/* "kind": reason, for docs/asyncapi.yaml's x-bad-inputs (check_asyncapi.mjs compares them). */
static cJSON *bad_inputs_json(void) {
    cJSON *out = cJSON_CreateObject();
    static const struct {
        const char *kind, *bytes;
        size_t len;
    } raw[] = {
        {"not_msgpack", "\xc1", 1},
        {"json_text", "{\"v\":1}", 7},
        {"truncated", "\x82\xa1v\x01", 4},
        {"not_a_map", "\x92\x01\x02", 3},
        {"huge_array_header", "\x81\xa1x\xdd\xff\xff\xff\xff", 8}, /* 4,294,967,295 items */
    };
    for (size_t i = 0; i < sizeof raw / sizeof raw[0]; i++)
        cJSON_AddStringToObject(out, raw[i].kind,
                                reason_on_profile_topic(raw[i].bytes, raw[i].len, "u"));
    static const event_shape shaped[] = {
        {"wrong_type", "profile.upserted", 1, true, "u", NULL},
        {"unknown_version", "profile.upserted", 2, false, "u", NULL},
        {"unknown_type", "profile.deleted", 1, false, "u", NULL},
        {"invalid_utf8", "profile.upserted", 1, false, "\xc3\x28", NULL},
        {"deep_nesting", "profile.upserted", 1, false, "u", nest_deep},
        {"oversized", "profile.upserted", 1, false, "u", big_string},
        {"other_topic_type", "skills.confirmed", 1, false, "u", NULL},
    };
    for (size_t i = 0; i < sizeof shaped / sizeof shaped[0]; i++) {
        msgpack_sbuffer sb;
        msgpack_sbuffer_init(&sb);
        pack_event(&sb, &shaped[i]);
        cJSON_AddStringToObject(out, shaped[i].kind,
                                reason_on_profile_topic(sb.data, sb.size, shaped[i].user));
        msgpack_sbuffer_destroy(&sb);
    }
    return out;
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: contract_dump FIXTURE_DIR\n");
        return 2;
    }
    cJSON *root = cJSON_CreateObject();
    cJSON_AddItemToObject(root, "tables", tables_json());
    cJSON *samples = cJSON_AddObjectToObject(root, "samples");
    cJSON_AddItemToObject(root, "bad_inputs", bad_inputs_json());
    cJSON *reasons = cJSON_AddArrayToObject(root, "reasons");
    for (int r = 1; r < EVENT_REASON_COUNT; r++)
        cJSON_AddItemToArray(reasons, cJSON_CreateString(event_reason_name(r)));
    int rc = suggestion_samples(argv[1], samples) || dlq_samples(samples);
    if (!rc) {
        char *text = cJSON_Print(root);
        puts(text);
        cJSON_free(text);
    }
    cJSON_Delete(root);
    return rc;
}
