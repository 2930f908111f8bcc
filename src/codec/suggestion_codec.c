#include "suggestion_codec.h"

#include <math.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#define XXH_STATIC_LINKING_ONLY /* XXH3_state_t on the stack */
#include <xxhash.h>

void suggestion_id_compute(const char *answered_event_id, const char *type,
                           const char *rome_version, char out[SUGGESTION_ID_LEN + 1]) {
    XXH3_state_t state;
    XXH3_128bits_reset(&state);
    /* each part with its NUL, so that ("ab","c") and ("a","bc") differ */
    XXH3_128bits_update(&state, answered_event_id, strlen(answered_event_id) + 1);
    XXH3_128bits_update(&state, type, strlen(type) + 1);
    XXH3_128bits_update(&state, rome_version, strlen(rome_version) + 1);
    XXH128_canonical_t canon;
    XXH128_canonicalFromHash(&canon, XXH3_128bits_digest(&state));
    static const char hex[] = "0123456789abcdef";
    for (size_t i = 0; i < sizeof canon.digest; i++) {
        out[2 * i] = hex[canon.digest[i] >> 4];
        out[2 * i + 1] = hex[canon.digest[i] & 0xF];
    }
    out[SUGGESTION_ID_LEN] = '\0';
}

void suggestion_rome_version(const rome_index *idx, char *out, size_t out_size) {
    snprintf(out, out_size, "%u.0-%u", idx->rome_major, idx->rome_version);
}

/* The encoders write into a block of their own (on the stack) and hand it to the packer's callback
 * when it is full and at the end: one call per OUT_CAP bytes instead of one or two per value.
 * Every write below reserves its bytes with out_room; the callback's results are ORed into rc
 * and checked once. Forms are msgpack-c's (the shortest for each value) except code lists
 * (out_codes). */
#define OUT_CAP 8192u

typedef struct out {
    msgpack_packer *pk;
    size_t n; /* bytes of buf in use */
    int rc;
    unsigned char buf[OUT_CAP];
} out;

static void out_flush(out *o) {
    if (o->n) o->rc |= o->pk->callback(o->pk->data, (const char *)o->buf, o->n);
    o->n = 0;
}

/* Room for need (<= OUT_CAP) bytes at o->buf + o->n; the caller advances o->n. */
static inline unsigned char *out_room(out *o, size_t need) {
    if (o->n + need > OUT_CAP) out_flush(o);
    return o->buf + o->n;
}

static inline void be32(unsigned char *p, uint32_t v) {
    p[0] = (unsigned char)(v >> 24);
    p[1] = (unsigned char)(v >> 16);
    p[2] = (unsigned char)(v >> 8);
    p[3] = (unsigned char)v;
}

static inline void byte(out *o, unsigned char b) {
    *out_room(o, 1) = b;
    o->n += 1;
}

/* A type byte then v in `width` (1, 2, 4 or 8) bytes, big endian: every MessagePack form below. */
static inline void tagged(out *o, unsigned char tag, uint64_t v, unsigned width) {
    unsigned char *p = out_room(o, 9);
    p[0] = tag;
    for (unsigned k = 0; k < width; k++) p[1 + k] = (unsigned char)(v >> (8 * (width - 1 - k)));
    o->n += 1 + width;
}

static inline void out_bytes(out *o, const void *p, size_t len) {
    if (len > OUT_CAP / 2) { /* a long string: straight to the packer, after what precedes it */
        out_flush(o);
        o->rc |= o->pk->callback(o->pk->data, p, len);
        return;
    }
    memcpy(out_room(o, len), p, len);
    o->n += len;
}

/* A map (fix 0x80, 16-bit 0xde) or array (0x90, 0xdc) header of n elements; 32-bit is op16 + 1. */
static inline void out_container(out *o, unsigned char fix, unsigned char op16, size_t n) {
    if (n < 16)
        byte(o, (unsigned char)(fix | n));
    else if (n < 65536)
        tagged(o, op16, n, 2);
    else
        tagged(o, (unsigned char)(op16 + 1), n, 4);
}
static inline void map(out *o, size_t n) { out_container(o, 0x80, 0xde, n); }
static inline void array(out *o, size_t n) { out_container(o, 0x90, 0xdc, n); }

static inline void str_n(out *o, const char *s, size_t len) {
    if (len < 32)
        byte(o, (unsigned char)(0xa0 | len));
    else if (len < 256)
        tagged(o, 0xd9, len, 1);
    else if (len < 65536)
        tagged(o, 0xda, len, 2);
    else
        tagged(o, 0xdb, len, 4);
    out_bytes(o, s, len);
}
static void str(out *o, const char *s) { str_n(o, s, strlen(s)); }

/* A constant key or string value: its length, hence its fixstr header, is a compile-time
 * constant, so that header and characters become immediate stores (no strlen, no call). */
#define LIT(o, s)                                                                                  \
    do {                                                                                           \
        _Static_assert(sizeof(s) - 1 < 32, "a constant key is a fixstr");                          \
        unsigned char *lit_p_ = out_room((o), sizeof(s));                                          \
        lit_p_[0] = (unsigned char)(0xa0 | (sizeof(s) - 1));                                       \
        memcpy(lit_p_ + 1, (s), sizeof(s) - 1);                                                    \
        (o)->n += sizeof(s);                                                                       \
    } while (0)

/* The shortest form, as msgpack-c writes it. */
static inline void uint_(out *o, uint64_t v) {
    if (v < 128)
        byte(o, (unsigned char)v);
    else if (v < 256)
        tagged(o, 0xcc, v, 1);
    else if (v < 65536)
        tagged(o, 0xcd, v, 2);
    else if (v <= UINT32_MAX)
        tagged(o, 0xce, v, 4);
    else
        tagged(o, 0xcf, v, 8);
}

/* Reals are rounded to 4 decimals (the header says why), always a float64 (0xcb). */
static inline void real(out *o, double x) {
    double rounded = round(x * 1e4) / 1e4;
    uint64_t bits;
    memcpy(&bits, &rounded, sizeof bits);
    tagged(o, 0xcb, bits, 8);
}

static inline void nil(out *o) { byte(o, 0xc0); }
static inline void boolean(out *o, bool b) { byte(o, b ? 0xc3 : 0xc2); }

/* A code list (held, missing, contexts, qualifications): an array of n code_ogr, each in the fixed
 * uint32 form (0xce and 4 bytes big-endian) whatever its value, so that the block's size is known
 * from n and it is written in one pass. The code of ids[k] is the uint32 at offset `field` of
 * record ids[k] of `records` (each `stride` bytes). */
static void out_codes(out *o, const uint32_t *ids, uint32_t n, const void *records, size_t stride,
                      size_t field) {
    array(o, n);
    for (uint32_t k = 0; k < n;) {
        uint32_t fit = (uint32_t)((OUT_CAP - o->n) / 5);
        if (fit == 0) {
            out_flush(o);
            continue;
        }
        uint32_t end = n - k < fit ? n : k + fit;
        unsigned char *p = o->buf + o->n;
        for (; k < end; k++, p += 5) {
            uint32_t code;
            memcpy(&code, (const unsigned char *)records + (size_t)ids[k] * stride + field,
                   sizeof code);
            p[0] = 0xce;
            be32(p + 1, code);
        }
        o->n = (size_t)(p - o->buf);
    }
}

static void item_codes(out *o, const rome_index *idx, const match_result *r, match_slice sl) {
    out_codes(o, r->codes + sl.off, sl.n, idx->items, sizeof *idx->items,
              offsetof(rome_item, code_ogr));
}

static void experience_indexes(out *o, uint32_t mask) {
    array(o, (size_t)__builtin_popcount(mask));
    for (uint32_t e = 0; mask; e++, mask >>= 1)
        if (mask & 1u) uint_(o, e);
}

/* esco: [{uri, relation}] of one appellation or fiche, best relation first. */
static void pack_esco(out *o, const rome_index *idx, const rome_esco_csr *csr, uint32_t source) {
    uint32_t n = rome_esco_count(csr, source);
    const rome_esco_link *l = rome_esco_links(csr, source);
    LIT(o, "esco");
    array(o, n);
    for (uint32_t k = 0; k < n; k++) {
        map(o, 2);
        LIT(o, "uri");
        str(o, rome_str(idx, l[k].uri));
        LIT(o, "relation");
        str(o, rome_esco_relation_name(l[k].relation));
    }
}

/* {rome, label} of a fiche, the first two fields of a job, a current job and a removal. */
static void fiche_code_label(out *o, const rome_index *idx, const rome_fiche *f) {
    LIT(o, "rome");
    str(o, f->code);
    LIT(o, "label");
    str(o, rome_str(idx, f->label));
}

/* [{index, appellation, rome, confidence, alternatives[, esco]} | {index, error, alternatives}]
 * esco only when the index has the crosswalk: the appellation's links, or the fiche's when the
 * experience names a fiche only. */
static void pack_experiences(out *o, const rome_index *idx, const match_result *r) {
    bool esco = rome_has_esco(idx);
    LIT(o, "experiences");
    array(o, r->n_experiences);
    for (size_t e = 0; e < r->n_experiences; e++) {
        const match_experience *x = &r->experiences[e];
        map(o, x->resolved ? 5u + esco : 3u);
        LIT(o, "index");
        uint_(o, e);
        if (x->resolved) {
            LIT(o, "appellation");
            if (x->appellation == ROME_NONE)
                nil(o);
            else
                uint_(o, idx->appellations[x->appellation].code_ogr);
            LIT(o, "rome");
            str(o, idx->fiches[x->fiche].code);
            LIT(o, "confidence");
            real(o, x->confidence);
        } else {
            LIT(o, "error");
            str(o, x->error);
        }
        LIT(o, "alternatives");
        array(o, x->n_alternatives);
        for (uint32_t a = 0; a < x->n_alternatives; a++) {
            const rome_appellation *ap = &idx->appellations[x->alternatives[a].appellation];
            map(o, 4);
            LIT(o, "appellation");
            uint_(o, ap->code_ogr);
            LIT(o, "label");
            str(o, rome_str(idx, ap->label_long));
            LIT(o, "rome");
            str(o, idx->fiches[ap->fiche].code);
            LIT(o, "confidence");
            real(o, x->alternatives[a].confidence);
        }
        if (x->resolved && esco) {
            if (x->appellation == ROME_NONE)
                pack_esco(o, idx, &idx->fiche_esco, x->fiche);
            else
                pack_esco(o, idx, &idx->appellation_esco, x->appellation);
        }
    }
}

/* skills: [{code, label, kind, macro, from, weight}] */
static void pack_skills(out *o, const rome_index *idx, const match_result *r) {
    LIT(o, "skills");
    array(o, r->n_skills);
    for (size_t k = 0; k < r->n_skills; k++) {
        const match_skill *s = &r->skills[k];
        const rome_item *it = &idx->items[s->item];
        map(o, 6);
        LIT(o, "code");
        uint_(o, it->code_ogr);
        LIT(o, "label");
        str(o, rome_str(idx, it->label));
        LIT(o, "kind");
        str(o, rome_kind_name((rome_kind)it->kind));
        LIT(o, "macro");
        if (it->macro == ROME_NONE)
            nil(o);
        else
            uint_(o, idx->items[it->macro].code_ogr);
        LIT(o, "from");
        experience_indexes(o, s->from);
        LIT(o, "weight");
        real(o, s->weight);
    }
}

/* components: {competences, related, profile, kinship, level} */
static void pack_components(out *o, const match_components *c) {
    LIT(o, "components");
    map(o, 5);
    LIT(o, "competences");
    real(o, c->competences);
    LIT(o, "related");
    real(o, c->related);
    LIT(o, "profile");
    real(o, c->profile);
    LIT(o, "kinship");
    real(o, c->kinship);
    LIT(o, "level");
    real(o, c->level);
}

#define JOB_FIELDS 15u

/* jobs: [{rome, label, score, components, held_share, level, regulated, cadre, no_evidence,
 * qualification_gap, held, missing, contexts, qualifications, reasons[, esco]}]; esco (the
 * fiche's ESCO occupations) only when the index has the crosswalk. */
static void pack_jobs(out *o, const rome_index *idx, const match_result *r) {
    bool esco = rome_has_esco(idx);
    LIT(o, "jobs");
    array(o, r->n_jobs);
    for (size_t j = 0; j < r->n_jobs; j++) {
        const match_job *job = &r->jobs[j];
        map(o, JOB_FIELDS + esco);
        fiche_code_label(o, idx, &idx->fiches[job->fiche]);
        LIT(o, "score");
        real(o, job->score);
        pack_components(o, &job->components);
        LIT(o, "held_share");
        real(o, job->held_share);
        LIT(o, "level");
        uint_(o, job->level);
        LIT(o, "regulated");
        boolean(o, job->flags & MATCH_JOB_REGULATED);
        LIT(o, "cadre");
        boolean(o, job->flags & MATCH_JOB_CADRE);
        LIT(o, "no_evidence");
        boolean(o, job->flags & MATCH_JOB_NO_EVIDENCE);
        LIT(o, "qualification_gap");
        boolean(o, job->flags & MATCH_JOB_QUALIFICATION_GAP);
        LIT(o, "held");
        item_codes(o, idx, r, job->held);
        LIT(o, "missing");
        item_codes(o, idx, r, job->missing);
        LIT(o, "contexts");
        out_codes(o, rome_csr_targets(&idx->fiche_contextes, job->fiche),
                  rome_csr_count(&idx->fiche_contextes, job->fiche), idx->contextes,
                  sizeof *idx->contextes, offsetof(rome_contexte, code_ogr));
        LIT(o, "qualifications");
        item_codes(o, idx, r, job->qualifications);
        LIT(o, "reasons");
        array(o, job->n_reasons);
        for (uint32_t k = 0; k < job->n_reasons; k++) {
            map(o, 2);
            LIT(o, "experience");
            if (job->reasons[k].experience < 0)
                LIT(o, "declared");
            else
                uint_(o, (uint32_t)job->reasons[k].experience);
            LIT(o, "share");
            real(o, job->reasons[k].share);
        }
        if (esco) pack_esco(o, idx, &idx->fiche_esco, job->fiche);
    }
}

/* The `because` of a removal, by match_evidence; NULL for a value the contract has no name for. */
static const char *because_name(uint8_t evidence) {
    switch (evidence) {
    case MATCH_EVIDENCE_CONTEXTE: return "contexte";
    case MATCH_EVIDENCE_COMPETENCE: return "competence";
    case MATCH_EVIDENCE_PARENT: return "parent";
    case MATCH_EVIDENCE_DOMAIN: return "domain";
    default: return NULL;
    }
}

static int bad_removal(px_error *err, const char *where, uint32_t j, const char *what, uint32_t v) {
    return px_error_set(err, PX_EINVAL, "suggestion_codec: %s[%u].%s %u", where, j, what, v);
}

/* The removal lists index fiches, parents and domaines by id: the packers below trust them, so
 * they are checked once here rather than read out of bounds on a matcher bug. */
static int check_removals(const rome_index *idx, const match_result *r, px_error *err) {
    for (size_t k = 0; k <= r->n_constraints; k++) {
        bool regulated = k == r->n_constraints;
        uint32_t off = regulated ? r->regulated_off : r->constraints[k].off;
        uint32_t n = regulated ? r->regulated_n : r->constraints[k].n;
        char where[64];
        if (regulated)
            snprintf(where, sizeof where, "excluded.regulated.jobs");
        else
            snprintf(where, sizeof where, "excluded.constraints[%zu].jobs", k);
        if ((size_t)off + n > r->n_removals)
            return px_error_set(err, PX_EINVAL,
                                "suggestion_codec: %s: slice %u+%u past %zu removals", where, off,
                                n, r->n_removals);
        for (uint32_t j = 0; j < n; j++) {
            const match_removal *x = &r->removals[off + j];
            bool bad_code = (x->evidence == MATCH_EVIDENCE_PARENT && x->code >= idx->n.fiches) ||
                            (x->evidence == MATCH_EVIDENCE_DOMAIN && x->code >= idx->n.domaines);
            if (x->fiche >= idx->n.fiches)
                return bad_removal(err, where, j, "rome: no fiche id", x->fiche);
            if (regulated) continue;
            if (!because_name(x->evidence))
                return bad_removal(err, where, j, "because: evidence", x->evidence);
            if (bad_code) return bad_removal(err, where, j, "code: no such id", x->code);
        }
    }
    return 0;
}

/* {rome, label, because, code}: code is the contexte or item code_ogr (integer), the parent
 * fiche's code or the domaine professionnel's code (strings). */
static void pack_removal(out *o, const rome_index *idx, const match_removal *x) {
    map(o, 4);
    fiche_code_label(o, idx, &idx->fiches[x->fiche]);
    LIT(o, "because");
    str(o, because_name(x->evidence));
    LIT(o, "code");
    switch (x->evidence) {
    case MATCH_EVIDENCE_PARENT: str(o, idx->fiches[x->code].code); break;
    case MATCH_EVIDENCE_DOMAIN: str(o, idx->domaines[x->code].code); break;
    default: uint_(o, x->code); break;
    }
}

/* current: [{rome, label, score}], excluded: {constraints: [{avoid, removed, jobs}], domains,
 * regulated: {removed, jobs: [{rome, label}]}} */
static void pack_current_and_excluded(out *o, const matcher *m, const match_result *r) {
    const rome_index *idx = matcher_index(m);
    const matcher_config *cfg = matcher_get_config(m);
    LIT(o, "current");
    array(o, r->n_current);
    for (size_t k = 0; k < r->n_current; k++) {
        map(o, 3);
        fiche_code_label(o, idx, &idx->fiches[r->current[k].fiche]);
        LIT(o, "score");
        real(o, r->current[k].score);
    }
    LIT(o, "excluded");
    map(o, 3);
    LIT(o, "constraints");
    array(o, r->n_constraints);
    for (size_t k = 0; k < r->n_constraints; k++) {
        const match_constraint_cost *c = &r->constraints[k];
        map(o, 3);
        LIT(o, "avoid");
        if (c->named >= 0)
            str(o, cfg->constraints[c->named].name);
        else
            uint_(o, c->contexte);
        LIT(o, "removed");
        uint_(o, c->removed);
        LIT(o, "jobs");
        array(o, c->n);
        for (uint32_t j = 0; j < c->n; j++) pack_removal(o, idx, &r->removals[c->off + j]);
    }
    LIT(o, "domains");
    uint_(o, r->removed_by_domain);
    LIT(o, "regulated");
    map(o, 2);
    LIT(o, "removed");
    uint_(o, r->removed_regulated);
    LIT(o, "jobs");
    array(o, r->regulated_n);
    for (uint32_t j = 0; j < r->regulated_n; j++) {
        map(o, 2);
        fiche_code_label(o, idx, &idx->fiches[r->removals[r->regulated_off + j].fiche]);
    }
}

static void pack_envelope(out *o, const suggestion_envelope *env, const char *type,
                          size_t body_fields) {
    char id[SUGGESTION_ID_LEN + 1];
    suggestion_id_compute(env->answers, type, env->rome_version, id);
    map(o, 8 + body_fields);
    LIT(o, "v");
    uint_(o, 1);
    LIT(o, "type");
    str(o, type);
    LIT(o, "event_id");
    str_n(o, id, SUGGESTION_ID_LEN);
    LIT(o, "user_id");
    str(o, env->user_id);
    LIT(o, "ts");
    if (env->ts >= 0) {
        uint_(o, (uint64_t)env->ts);
    } else { /* not an input's (the decoder refuses it); msgpack-c's negative forms */
        out_flush(o);
        o->rc |= msgpack_pack_int64(o->pk, env->ts);
    }
    LIT(o, "answers");
    str(o, env->answers);
    LIT(o, "rome_version");
    str(o, env->rome_version);
    LIT(o, "suggestion_id");
    str_n(o, id, SUGGESTION_ID_LEN);
}

/* Hands the rest of the block to the packer and names what could not be written. */
static int finish(out *o, const char *what, px_error *err) {
    out_flush(o);
    return o->rc ? px_error_set(err, PX_ENOMEM, "suggestion_codec: out of memory while encoding %s",
                                what)
                 : 0;
}

/* The block is not zeroed: only the bytes written are read. */
static inline void out_init(out *o, msgpack_packer *pk) {
    o->pk = pk;
    o->n = 0;
    o->rc = 0;
}

int suggestion_encode_skills(msgpack_packer *pk, const suggestion_envelope *env, const matcher *m,
                             const match_result *r, px_error *err) {
    const rome_index *idx = matcher_index(m);
    out o;
    out_init(&o, pk);
    pack_envelope(&o, env, SUGGESTION_TYPE_SKILLS, 2);
    pack_experiences(&o, idx, r);
    pack_skills(&o, idx, r);
    return finish(&o, SUGGESTION_TYPE_SKILLS, err);
}

int suggestion_encode_jobs(msgpack_packer *pk, const suggestion_envelope *env, const matcher *m,
                           const match_result *r, px_error *err) {
    const rome_index *idx = matcher_index(m);
    if (check_removals(idx, r, err)) return -1;
    out o;
    out_init(&o, pk);
    pack_envelope(&o, env, SUGGESTION_TYPE_JOBS, 4);
    pack_experiences(&o, idx, r);
    pack_jobs(&o, idx, r);
    pack_current_and_excluded(&o, m, r);
    return finish(&o, SUGGESTION_TYPE_JOBS, err);
}

int suggestion_encode_match(msgpack_packer *pk, const char *user_id, const char *rome_version,
                            const matcher *m, const match_result *r, px_error *err) {
    const rome_index *idx = matcher_index(m);
    if (check_removals(idx, r, err)) return -1;
    out o;
    out_init(&o, pk);
    map(&o, 7);
    LIT(&o, "user_id");
    str(&o, user_id);
    LIT(&o, "rome_version");
    str(&o, rome_version);
    pack_experiences(&o, idx, r);
    pack_skills(&o, idx, r);
    pack_jobs(&o, idx, r);
    pack_current_and_excluded(&o, m, r);
    return finish(&o, "a match result", err);
}
