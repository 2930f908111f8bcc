#include "suggestion_codec.h"

#include <math.h>
#include <stdbool.h>
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

/* msgpack-c's pack functions return non-zero when the buffer cannot grow; the encoders OR the
 * results together and check once. */
static int key(msgpack_packer *pk, const char *k) {
    return msgpack_pack_str_with_body(pk, k, strlen(k));
}
static int str(msgpack_packer *pk, const char *s) {
    return msgpack_pack_str_with_body(pk, s, strlen(s));
}
static int real(msgpack_packer *pk, double x) {
    return msgpack_pack_double(pk, round(x * 1e4) / 1e4);
}

static int item_codes(msgpack_packer *pk, const rome_index *idx, const match_result *r,
                      match_slice sl) {
    int rc = msgpack_pack_array(pk, sl.n);
    for (uint32_t k = 0; k < sl.n; k++)
        rc |= msgpack_pack_uint32(pk, idx->items[r->codes[sl.off + k]].code_ogr);
    return rc;
}

static int experience_indexes(msgpack_packer *pk, uint32_t mask) {
    int rc = msgpack_pack_array(pk, (size_t)__builtin_popcount(mask));
    for (uint32_t e = 0; mask; e++, mask >>= 1)
        if (mask & 1u) rc |= msgpack_pack_uint32(pk, e);
    return rc;
}

/* esco: [{uri, relation}] of one appellation or fiche, best relation first. */
static int pack_esco(msgpack_packer *pk, const rome_index *idx, const rome_esco_csr *csr,
                     uint32_t source) {
    uint32_t n = rome_esco_count(csr, source);
    const rome_esco_link *l = rome_esco_links(csr, source);
    int rc = key(pk, "esco") | msgpack_pack_array(pk, n);
    for (uint32_t k = 0; k < n; k++) {
        rc |= msgpack_pack_map(pk, 2);
        rc |= key(pk, "uri") | str(pk, rome_str(idx, l[k].uri));
        rc |= key(pk, "relation") | str(pk, rome_esco_relation_name(l[k].relation));
    }
    return rc;
}

/* [{index, appellation, rome, confidence, alternatives[, esco]} | {index, error, alternatives}]
 * esco only when the index has the crosswalk: the appellation's links, or the fiche's when the
 * experience names a fiche only. */
static int pack_experiences(msgpack_packer *pk, const rome_index *idx, const match_result *r) {
    bool esco = rome_has_esco(idx);
    int rc = key(pk, "experiences") | msgpack_pack_array(pk, r->n_experiences);
    for (size_t e = 0; e < r->n_experiences; e++) {
        const match_experience *x = &r->experiences[e];
        rc |= msgpack_pack_map(pk, x->resolved ? 5u + esco : 3u);
        rc |= key(pk, "index") | msgpack_pack_uint64(pk, e);
        if (x->resolved) {
            rc |= key(pk, "appellation");
            rc |= x->appellation == ROME_NONE
                      ? msgpack_pack_nil(pk)
                      : msgpack_pack_uint32(pk, idx->appellations[x->appellation].code_ogr);
            rc |= key(pk, "rome") | str(pk, idx->fiches[x->fiche].code);
            rc |= key(pk, "confidence") | real(pk, x->confidence);
        } else {
            rc |= key(pk, "error") | str(pk, x->error);
        }
        rc |= key(pk, "alternatives") | msgpack_pack_array(pk, x->n_alternatives);
        for (uint32_t a = 0; a < x->n_alternatives; a++) {
            const rome_appellation *ap = &idx->appellations[x->alternatives[a].appellation];
            rc |= msgpack_pack_map(pk, 4);
            rc |= key(pk, "appellation") | msgpack_pack_uint32(pk, ap->code_ogr);
            rc |= key(pk, "label") | str(pk, rome_str(idx, ap->label_long));
            rc |= key(pk, "rome") | str(pk, idx->fiches[ap->fiche].code);
            rc |= key(pk, "confidence") | real(pk, x->alternatives[a].confidence);
        }
        if (x->resolved && esco)
            rc |= x->appellation == ROME_NONE
                      ? pack_esco(pk, idx, &idx->fiche_esco, x->fiche)
                      : pack_esco(pk, idx, &idx->appellation_esco, x->appellation);
    }
    return rc;
}

/* skills: [{code, label, kind, macro, from, weight}] */
static int pack_skills(msgpack_packer *pk, const rome_index *idx, const match_result *r) {
    int rc = key(pk, "skills") | msgpack_pack_array(pk, r->n_skills);
    for (size_t k = 0; k < r->n_skills; k++) {
        const match_skill *s = &r->skills[k];
        const rome_item *it = &idx->items[s->item];
        rc |= msgpack_pack_map(pk, 6);
        rc |= key(pk, "code") | msgpack_pack_uint32(pk, it->code_ogr);
        rc |= key(pk, "label") | str(pk, rome_str(idx, it->label));
        rc |= key(pk, "kind") | str(pk, rome_kind_name((rome_kind)it->kind));
        rc |= key(pk, "macro");
        rc |= it->macro == ROME_NONE ? msgpack_pack_nil(pk)
                                     : msgpack_pack_uint32(pk, idx->items[it->macro].code_ogr);
        rc |= key(pk, "from") | experience_indexes(pk, s->from);
        rc |= key(pk, "weight") | real(pk, s->weight);
    }
    return rc;
}

static int flag(msgpack_packer *pk, const char *k, uint32_t flags, uint32_t bit) {
    return key(pk, k) | ((flags & bit) ? msgpack_pack_true(pk) : msgpack_pack_false(pk));
}

/* components: {competences, related, profile, kinship, level} */
static int pack_components(msgpack_packer *pk, const match_components *c) {
    int rc = key(pk, "components") | msgpack_pack_map(pk, 5);
    rc |= key(pk, "competences") | real(pk, c->competences);
    rc |= key(pk, "related") | real(pk, c->related);
    rc |= key(pk, "profile") | real(pk, c->profile);
    rc |= key(pk, "kinship") | real(pk, c->kinship);
    rc |= key(pk, "level") | real(pk, c->level);
    return rc;
}

#define JOB_FIELDS 15u

/* jobs: [{rome, label, score, components, held_share, level, regulated, cadre, no_evidence,
 * qualification_gap, held, missing, contexts, qualifications, reasons[, esco]}]; esco (the
 * fiche's ESCO occupations) only when the index has the crosswalk. */
static int pack_jobs(msgpack_packer *pk, const rome_index *idx, const match_result *r) {
    bool esco = rome_has_esco(idx);
    int rc = key(pk, "jobs") | msgpack_pack_array(pk, r->n_jobs);
    for (size_t j = 0; j < r->n_jobs; j++) {
        const match_job *job = &r->jobs[j];
        const rome_fiche *f = &idx->fiches[job->fiche];
        rc |= msgpack_pack_map(pk, JOB_FIELDS + esco);
        rc |= key(pk, "rome") | str(pk, f->code);
        rc |= key(pk, "label") | str(pk, rome_str(idx, f->label));
        rc |= key(pk, "score") | real(pk, job->score);
        rc |= pack_components(pk, &job->components);
        rc |= key(pk, "held_share") | real(pk, job->held_share);
        rc |= key(pk, "level") | msgpack_pack_uint8(pk, job->level);
        rc |= flag(pk, "regulated", job->flags, MATCH_JOB_REGULATED);
        rc |= flag(pk, "cadre", job->flags, MATCH_JOB_CADRE);
        rc |= flag(pk, "no_evidence", job->flags, MATCH_JOB_NO_EVIDENCE);
        rc |= flag(pk, "qualification_gap", job->flags, MATCH_JOB_QUALIFICATION_GAP);
        rc |= key(pk, "held") | item_codes(pk, idx, r, job->held);
        rc |= key(pk, "missing") | item_codes(pk, idx, r, job->missing);
        uint32_t n_ctx = rome_csr_count(&idx->fiche_contextes, job->fiche);
        const uint32_t *ctx = rome_csr_targets(&idx->fiche_contextes, job->fiche);
        rc |= key(pk, "contexts") | msgpack_pack_array(pk, n_ctx);
        for (uint32_t k = 0; k < n_ctx; k++)
            rc |= msgpack_pack_uint32(pk, idx->contextes[ctx[k]].code_ogr);
        rc |= key(pk, "qualifications") | item_codes(pk, idx, r, job->qualifications);
        rc |= key(pk, "reasons") | msgpack_pack_array(pk, job->n_reasons);
        for (uint32_t k = 0; k < job->n_reasons; k++) {
            rc |= msgpack_pack_map(pk, 2);
            rc |= key(pk, "experience");
            rc |= job->reasons[k].experience < 0
                      ? str(pk, "declared")
                      : msgpack_pack_uint32(pk, (uint32_t)job->reasons[k].experience);
            rc |= key(pk, "share") | real(pk, job->reasons[k].share);
        }
        if (esco) rc |= pack_esco(pk, idx, &idx->fiche_esco, job->fiche);
    }
    return rc;
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
static int pack_removal(msgpack_packer *pk, const rome_index *idx, const match_removal *x) {
    const rome_fiche *f = &idx->fiches[x->fiche];
    int rc = msgpack_pack_map(pk, 4);
    rc |= key(pk, "rome") | str(pk, f->code);
    rc |= key(pk, "label") | str(pk, rome_str(idx, f->label));
    rc |= key(pk, "because") | str(pk, because_name(x->evidence));
    rc |= key(pk, "code");
    switch (x->evidence) {
    case MATCH_EVIDENCE_PARENT: rc |= str(pk, idx->fiches[x->code].code); break;
    case MATCH_EVIDENCE_DOMAIN: rc |= str(pk, idx->domaines[x->code].code); break;
    default: rc |= msgpack_pack_uint32(pk, x->code); break;
    }
    return rc;
}

/* current: [{rome, label, score}], excluded: {constraints: [{avoid, removed, jobs}], domains,
 * regulated: {removed, jobs: [{rome, label}]}} */
static int pack_current_and_excluded(msgpack_packer *pk, const matcher *m, const match_result *r) {
    const rome_index *idx = matcher_index(m);
    const matcher_config *cfg = matcher_get_config(m);
    int rc = key(pk, "current") | msgpack_pack_array(pk, r->n_current);
    for (size_t k = 0; k < r->n_current; k++) {
        const rome_fiche *f = &idx->fiches[r->current[k].fiche];
        rc |= msgpack_pack_map(pk, 3);
        rc |= key(pk, "rome") | str(pk, f->code);
        rc |= key(pk, "label") | str(pk, rome_str(idx, f->label));
        rc |= key(pk, "score") | real(pk, r->current[k].score);
    }
    rc |= key(pk, "excluded") | msgpack_pack_map(pk, 3);
    rc |= key(pk, "constraints") | msgpack_pack_array(pk, r->n_constraints);
    for (size_t k = 0; k < r->n_constraints; k++) {
        const match_constraint_cost *c = &r->constraints[k];
        rc |= msgpack_pack_map(pk, 3) | key(pk, "avoid");
        rc |= c->named >= 0 ? str(pk, cfg->constraints[c->named].name)
                            : msgpack_pack_uint32(pk, c->contexte);
        rc |= key(pk, "removed") | msgpack_pack_uint32(pk, c->removed);
        rc |= key(pk, "jobs") | msgpack_pack_array(pk, c->n);
        for (uint32_t j = 0; j < c->n; j++) rc |= pack_removal(pk, idx, &r->removals[c->off + j]);
    }
    rc |= key(pk, "domains") | msgpack_pack_uint32(pk, r->removed_by_domain);
    rc |= key(pk, "regulated") | msgpack_pack_map(pk, 2);
    rc |= key(pk, "removed") | msgpack_pack_uint32(pk, r->removed_regulated);
    rc |= key(pk, "jobs") | msgpack_pack_array(pk, r->regulated_n);
    for (uint32_t j = 0; j < r->regulated_n; j++) {
        const rome_fiche *f = &idx->fiches[r->removals[r->regulated_off + j].fiche];
        rc |= msgpack_pack_map(pk, 2);
        rc |= key(pk, "rome") | str(pk, f->code);
        rc |= key(pk, "label") | str(pk, rome_str(idx, f->label));
    }
    return rc;
}

static int pack_envelope(msgpack_packer *pk, const suggestion_envelope *env, const char *type,
                         size_t body_fields) {
    char id[SUGGESTION_ID_LEN + 1];
    suggestion_id_compute(env->answers, type, env->rome_version, id);
    int rc = msgpack_pack_map(pk, 8 + body_fields);
    rc |= key(pk, "v") | msgpack_pack_int(pk, 1);
    rc |= key(pk, "type") | str(pk, type);
    rc |= key(pk, "event_id") | str(pk, id);
    rc |= key(pk, "user_id") | str(pk, env->user_id);
    rc |= key(pk, "ts") | msgpack_pack_int64(pk, env->ts);
    rc |= key(pk, "answers") | str(pk, env->answers);
    rc |= key(pk, "rome_version") | str(pk, env->rome_version);
    rc |= key(pk, "suggestion_id") | str(pk, id);
    return rc;
}

static int result(int rc, const char *what, px_error *err) {
    return rc ? px_error_set(err, PX_ENOMEM, "suggestion_codec: out of memory while encoding %s",
                             what)
              : 0;
}

int suggestion_encode_skills(msgpack_packer *pk, const suggestion_envelope *env, const matcher *m,
                             const match_result *r, px_error *err) {
    const rome_index *idx = matcher_index(m);
    int rc = pack_envelope(pk, env, SUGGESTION_TYPE_SKILLS, 2);
    rc |= pack_experiences(pk, idx, r) | pack_skills(pk, idx, r);
    return result(rc, SUGGESTION_TYPE_SKILLS, err);
}

int suggestion_encode_jobs(msgpack_packer *pk, const suggestion_envelope *env, const matcher *m,
                           const match_result *r, px_error *err) {
    const rome_index *idx = matcher_index(m);
    if (check_removals(idx, r, err)) return -1;
    int rc = pack_envelope(pk, env, SUGGESTION_TYPE_JOBS, 4);
    rc |=
        pack_experiences(pk, idx, r) | pack_jobs(pk, idx, r) | pack_current_and_excluded(pk, m, r);
    return result(rc, SUGGESTION_TYPE_JOBS, err);
}

int suggestion_encode_match(msgpack_packer *pk, const char *user_id, const char *rome_version,
                            const matcher *m, const match_result *r, px_error *err) {
    const rome_index *idx = matcher_index(m);
    if (check_removals(idx, r, err)) return -1;
    int rc = msgpack_pack_map(pk, 7);
    rc |= key(pk, "user_id") | str(pk, user_id);
    rc |= key(pk, "rome_version") | str(pk, rome_version);
    rc |= pack_experiences(pk, idx, r) | pack_skills(pk, idx, r) | pack_jobs(pk, idx, r) |
          pack_current_and_excluded(pk, m, r);
    return result(rc, "a match result", err);
}
