/* matcher_describe — what each suggested job shows (docs/matching.md §3 "What a job shows"). */
#include <stdlib.h>
#include <string.h>

#include "matcher_private.h"

/* Missing items order by usefulness, w(f, i) × (jobs of the list that miss i): what matters most
 * to this job and opens the most other suggestions; ties by code. As one integer key: the float's
 * bits (positive floats order as their bits) inverted, above the item id, itself above the
 * qualification flag (item ids are below 2^31: MATCHER_MAX_ITEMS), which changes no order. */
static uint64_t missing_key(float usefulness, uint32_t item, bool qualification) {
    uint32_t bits;
    memcpy(&bits, &usefulness, sizeof bits);
    return ((uint64_t)~bits << 32) | (uint64_t)item << 1 | qualification;
}

static void sort_keys(uint64_t *v, uint32_t n) {
    for (uint32_t a = 1; a < n; a++) { /* a job misses ~60 items: insertion sort is enough */
        uint64_t key = v[a];
        uint32_t b = a;
        for (; b > 0 && v[b - 1] > key; b--) v[b] = v[b - 1];
        v[b] = key;
    }
}

/* Which experiences the job's competences and kinship come from: a held item's part of
 * `competences` is split equally between the experiences whose fiche lists it (confirmed and added
 * items are "declared", the last slot), and each experience brings its share of `kinship`. */
static void add_item_part(const matcher *m, const item_state *st, double w, uint32_t f, size_t ne,
                          double *part) {
    double v = m->cfg.score_competences * st->held * w / m->fiche_total[f];
    if (st->flags & HELD_DECLARED) {
        part[ne] += v;
        return;
    }
    int from = __builtin_popcount(st->from);
    for (size_t e = 0; e < ne; e++)
        if (st->from & (1u << e)) part[e] += v / from;
}

/* The shares of those parts, biggest first, at most MATCHER_MAX_REASONS. */
static void pick_reasons(const matcher *m, const matcher_scratch *s, const match_result *out,
                         double *part, match_job *job) {
    size_t ne = out->n_experiences;
    if (s->exp_total > 0)
        for (size_t e = 0; e < ne; e++) {
            uint32_t F = out->experiences[e].fiche;
            if (F != ROME_NONE)
                part[e] += s->exp_weight[e] * m->kinship[(size_t)F * m->n_fiches + job->fiche] /
                           s->exp_total;
        }
    double total = 0;
    for (size_t e = 0; e <= ne; e++) total += part[e];
    job->n_reasons = 0;
    if (total <= 0) return;
    for (uint32_t r = 0; r < MATCHER_MAX_REASONS; r++) {
        size_t best = ne + 1;
        for (size_t e = 0; e <= ne; e++)
            if (part[e] > 0 && (best > ne || part[e] > part[best])) best = e;
        if (best > ne) break;
        job->reasons[job->n_reasons++] =
            (match_reason){best == ne ? -1 : (int32_t)best, part[best] / total};
        part[best] = 0;
    }
}

/* One read of the state of every item of the listed jobs: its holding, kept in the jobs' link
 * order (link_held), and, per item, how many listed jobs miss it (missing_in). */
static void read_holdings(const matcher *m, matcher_scratch *s, const match_result *out) {
    const rome_csr *fi = &m->idx->fiche_items;
    size_t at = 0;
    for (size_t j = 0; j < out->n_jobs; j++) {
        uint32_t f = out->jobs[j].fiche;
        for (uint32_t k = fi->offsets[f]; k < fi->offsets[f + 1]; k++) {
            uint32_t i = fi->targets[k];
            float held = (s->held_bits[i / 64] >> (i % 64)) & 1 ? s->item[i].held : 0.0f;
            s->link_held[at++] = held;
            s->missing_in[i] += held <= 0;
        }
    }
}

static void clear_missing(const matcher *m, matcher_scratch *s, const match_result *out) {
    const rome_csr *fi = &m->idx->fiche_items;
    for (size_t j = 0; j < out->n_jobs; j++) {
        uint32_t f = out->jobs[j].fiche;
        for (uint32_t k = fi->offsets[f]; k < fi->offsets[f + 1]; k++)
            s->missing_in[fi->targets[k]] = 0;
    }
}

static void describe_job(const matcher *m, matcher_scratch *s, const match_result *out,
                         match_job *job, const float *link_held, uint32_t *codes) {
    const rome_index *idx = m->idx;
    const rome_csr *fi = &idx->fiche_items;
    uint32_t f = job->fiche, n_held = 0, n_missing = 0, n_qual = 0, n = rome_csr_count(fi, f);
    double part[MATCHER_MAX_EXPERIENCES + 1] = {0}; /* reasons: per experience, then declared */
    double held_weight = 0;
    for (uint32_t k = fi->offsets[f], l = 0; k < fi->offsets[f + 1]; k++, l++) {
        uint32_t i = fi->targets[k];
        if (link_held[l] > 0) {
            codes[n_held++] = i;
            held_weight += (double)link_held[l] * m->fiche_links[k].w;
            add_item_part(m, &s->item[i], m->fiche_links[k].w, f, out->n_experiences, part);
        } else {
            s->missing_keys[n_missing++] =
                missing_key(m->fiche_links[k].w * s->missing_in[i], i,
                            m->fiche_link_traits[k] & ITEM_QUALIFICATION);
        }
    }
    sort_keys(s->missing_keys, n_missing);
    uint32_t *missing = codes + n_held, *qualifications = missing + n_missing;
    for (uint32_t k = 0; k < n_missing; k++) {
        uint32_t low = (uint32_t)s->missing_keys[k], i = low >> 1;
        missing[k] = i;
        if (low & 1) qualifications[n_qual++] = i;
    }
    uint32_t base = (uint32_t)(codes - out->codes);
    job->held = (match_slice){base, n_held};
    job->missing = (match_slice){base + n_held, n_missing};
    job->qualifications = (match_slice){base + n_held + n_missing, n_qual};
    job->held_share = n ? (double)n_held / n : 0;
    matcher_components(m, s, f, held_weight, &job->components);
    job->level = m->level[f];
    uint8_t flags = idx->fiches[f].flags;
    job->flags = ((flags & ROME_FICHE_REGLEMENTE) ? MATCH_JOB_REGULATED : 0u) |
                 ((flags & ROME_FICHE_CADRE) ? MATCH_JOB_CADRE : 0u) |
                 (s->evidence[f] ? 0u : MATCH_JOB_NO_EVIDENCE) |
                 ((s->fiche_flags[f] & FICHE_GAP) ? MATCH_JOB_QUALIFICATION_GAP : 0u);
    pick_reasons(m, s, out, part, job);
}

int matcher_describe(const matcher *m, matcher_scratch *s, match_result *out, px_error *err) {
    const rome_csr *fi = &m->idx->fiche_items;
    size_t need = 0;
    for (size_t j = 0; j < out->n_jobs; j++) need += 2u * rome_csr_count(fi, out->jobs[j].fiche);
    if (matcher_reserve((void **)&out->codes, &out->cap_codes, need, sizeof *out->codes, err))
        return -1;
    /* the reasons read K(F_e, f) for every experience and job: scattered over the 10 MiB matrix,
     * so ask for them all now, while the holdings are read */
    for (size_t e = 0; e < out->n_experiences; e++)
        if (out->experiences[e].fiche != ROME_NONE)
            for (size_t j = 0; j < out->n_jobs; j++)
                __builtin_prefetch(m->kinship + (size_t)out->experiences[e].fiche * m->n_fiches +
                                   out->jobs[j].fiche);
    read_holdings(m, s, out);
    out->n_codes = 0;
    const float *link_held = s->link_held;
    for (size_t j = 0; j < out->n_jobs; j++) {
        match_job *job = &out->jobs[j];
        describe_job(m, s, out, job, link_held, out->codes + out->n_codes);
        link_held += rome_csr_count(fi, job->fiche);
        out->n_codes += job->held.n + job->missing.n + job->qualifications.n;
    }
    clear_missing(m, s, out);
    return 0;
}
