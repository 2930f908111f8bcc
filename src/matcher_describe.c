/* matcher_describe — what each suggested job shows (docs/matching.md §3 "What a job shows"). */
#include <stdlib.h>
#include <string.h>

#include "matcher_private.h"

/* Missing items order by usefulness, w(f, i) × (jobs of the list that miss i): what matters most
 * to this job and opens the most other suggestions; ties by code. As one integer key: the float's
 * bits (positive floats order as their bits) inverted, above the item id. */
static uint64_t missing_key(float usefulness, uint32_t item) {
    uint32_t bits;
    memcpy(&bits, &usefulness, sizeof bits);
    return ((uint64_t)~bits << 32) | item;
}

static void sort_keys(uint64_t *v, uint32_t n) {
    for (uint32_t a = 1; a < n; a++) {   /* a job misses ~60 items: insertion sort is enough */
        uint64_t key = v[a];
        uint32_t b = a;
        for (; b > 0 && v[b - 1] > key; b--) v[b] = v[b - 1];
        v[b] = key;
    }
}

/* Which experiences the job's competences and kinship come from: a held item's part of
 * `competences` is split equally between the experiences whose fiche lists it (confirmed and added
 * items are "declared", -1), and each experience brings its share of `kinship`. The shares of these
 * two parts, biggest first, at most MATCHER_MAX_REASONS. */
static void pick_reasons(const matcher *m, const matcher_scratch *s, const match_result *out, match_job *job) {
    double part[MATCHER_MAX_EXPERIENCES + 1] = {0};   /* last: declared */
    size_t ne = out->n_experiences;
    const rome_csr *fi = &m->idx->fiche_items;
    uint32_t f = job->fiche;
    double c_weight = m->fiche_total[f] > 0 ? m->cfg.score_competences / m->fiche_total[f] : 0;
    for (uint32_t k = fi->offsets[f]; k < fi->offsets[f + 1]; k++) {
        const item_state *st = &s->item[fi->targets[k]];
        if (st->held <= 0) continue;
        double v = c_weight * st->held * m->fiche_links[k].w;
        if (st->flags & HELD_DECLARED) {
            part[ne] += v;
            continue;
        }
        int from = __builtin_popcount(st->from);
        for (size_t e = 0; e < ne; e++)
            if (st->from & (1u << e)) part[e] += v / from;
    }
    if (s->exp_total > 0)
        for (size_t e = 0; e < ne; e++) {
            uint32_t F = out->experiences[e].fiche;
            if (F != ROME_NONE)
                part[e] += s->exp_weight[e] * m->kinship[(size_t)F * m->n_fiches + f] / s->exp_total;
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
        job->reasons[job->n_reasons++] = (match_reason){best == ne ? -1 : (int32_t)best, part[best] / total};
        part[best] = 0;
    }
}

/* Counts, per item, the jobs of the list that miss it (item_state.missing_in). */
static void count_missing(const matcher *m, matcher_scratch *s, const match_result *out) {
    const rome_csr *fi = &m->idx->fiche_items;
    for (size_t j = 0; j < out->n_jobs; j++) {
        uint32_t f = out->jobs[j].fiche;
        for (uint32_t k = fi->offsets[f]; k < fi->offsets[f + 1]; k++) {
            item_state *st = matcher_touch(s, fi->targets[k]);
            if (st->held <= 0) st->missing_in++;
        }
    }
}

static void describe_job(const matcher *m, matcher_scratch *s, const match_result *out, match_job *job,
                         uint32_t *codes) {
    const rome_index *idx = m->idx;
    const rome_csr *fi = &idx->fiche_items;
    uint32_t f = job->fiche, n_held = 0, n_missing = 0, n_qual = 0, n = rome_csr_count(fi, f);
    for (uint32_t k = fi->offsets[f]; k < fi->offsets[f + 1]; k++) {
        uint32_t i = fi->targets[k];
        const item_state *st = &s->item[i];
        if (st->held > 0) codes[n_held++] = i;
        else s->missing_keys[n_missing++] = missing_key(m->fiche_links[k].w * st->missing_in, i);
    }
    sort_keys(s->missing_keys, n_missing);
    uint32_t *missing = codes + n_held, *qualifications = missing + n_missing;
    for (uint32_t k = 0; k < n_missing; k++) {
        uint32_t i = (uint32_t)s->missing_keys[k];
        missing[k] = i;
        if (m->items[i].traits & ITEM_QUALIFICATION) qualifications[n_qual++] = i;
    }
    uint32_t base = (uint32_t)(codes - out->codes);
    job->held = (match_slice){base, n_held};
    job->missing = (match_slice){base + n_held, n_missing};
    job->qualifications = (match_slice){base + n_held + n_missing, n_qual};
    job->held_share = n ? (double)n_held / n : 0;
    matcher_components(m, s, f, &job->components);
    job->level = m->level[f];
    uint8_t flags = idx->fiches[f].flags;
    job->flags = ((flags & ROME_FICHE_REGLEMENTE) ? MATCH_JOB_REGULATED : 0u) |
                 ((flags & ROME_FICHE_CADRE) ? MATCH_JOB_CADRE : 0u) |
                 (s->evidence[f] ? 0u : MATCH_JOB_NO_EVIDENCE) |
                 ((s->fiche_flags[f] & FICHE_GAP) ? MATCH_JOB_QUALIFICATION_GAP : 0u);
    pick_reasons(m, s, out, job);
}

int matcher_describe(const matcher *m, matcher_scratch *s, match_result *out, px_error *err) {
    const rome_csr *fi = &m->idx->fiche_items;
    size_t need = 0;
    for (size_t j = 0; j < out->n_jobs; j++) need += 2u * rome_csr_count(fi, out->jobs[j].fiche);
    if (matcher_reserve((void **)&out->codes, &out->cap_codes, need, sizeof *out->codes, err)) return -1;
    count_missing(m, s, out);
    out->n_codes = 0;
    for (size_t j = 0; j < out->n_jobs; j++) {
        match_job *job = &out->jobs[j];
        describe_job(m, s, out, job, out->codes + out->n_codes);
        out->n_codes += job->held.n + job->missing.n + job->qualifications.n;
    }
    return 0;
}
