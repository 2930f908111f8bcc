/* matcher_score — every fiche's score, a weighted mean of four similarities (docs/matching.md §3).
 *
 * Nothing scans the fiches × their items: each held item adds to the fiches that list it, along
 * its inverted list, each held macro-compétence along its list of (fiche, W_m(f)), and each
 * experience adds its fiche's row of the kinship matrix. */
#include <string.h>

#include "matcher_private.h"

/* Adds row × factor to acc over all fiches (the compiler vectorises it). */
static void add_row(float *restrict acc, const float *restrict row, float factor, size_t n) {
    for (size_t f = 0; f < n; f++) acc[f] += factor * row[f];
}

/* The score needs C and R only in the sum a_c·C + a_r·R, so one accumulator holds
 * W(f) × (a_c·C + a_r·R): a held item adds a_c·held·w(f, i) and takes back the a_r·credit its
 * macro-compétence gives it below (held or rejected, it has no macro credit); the profile cosine's
 * numerator and the evidence flag go along the same inverted list. matcher_components tells C
 * and R apart for the listed jobs. */
static void add_held_items(const matcher *m, matcher_scratch *s, uint32_t n_touched) {
    const rome_csr *inv = &m->idx->item_fiches;
    float a_c = (float)m->cfg.score_competences, a_r = (float)m->cfg.score_related;
    for (uint32_t k = 0; k < n_touched; k++) {
        uint32_t i = s->touched[k];
        const item_state *st = &s->item[i];
        uint32_t mac = m->items[i].macro;
        float credit = mac != ROME_NONE ? s->macro_held[mac] : 0.0f;
        if (st->held <= 0 && !((st->flags & HELD_REJECTED) && credit > 0)) continue;
        if (m->items[i].traits & ITEM_WEIGHTLESS) continue; /* adds zeros along a long list */
        float net = a_c * st->held - a_r * credit, square = st->held * m->items[i].idf2;
        const weighted_link *link = m->item_links + inv->offsets[i];
        uint32_t n = rome_csr_count(inv, i);
        for (uint32_t e = 0; e < n; e++) {
            s->coverage[link[e].target] += net * link[e].w;
            s->profile[link[e].target] += square;
        }
        if (st->held > 0 && (m->items[i].traits & ITEM_EVIDENCE))
            for (uint32_t e = 0; e < n; e++) s->evidence[link[e].target] = 1;
    }
}

/* Each held macro-compétence credits every fiche with its items under it, at the best holding
 * under the macro: a_r · macro_held(m) · W_m(f). */
static void add_macros(const matcher *m, matcher_scratch *s, uint32_t n_touched) {
    float a_r = (float)m->cfg.score_related;
    for (uint32_t k = 0; k < n_touched; k++) {
        uint32_t mac = m->items[s->touched[k]].macro;
        if (mac == ROME_NONE || s->macro_held[mac] <= 0 || (m->items[mac].traits & ITEM_WEIGHTLESS))
            continue;
        item_state *st = matcher_touch(s, mac);
        if (st->flags & HELD_MACRO_DONE) continue;
        st->flags |= HELD_MACRO_DONE;
        float credit = a_r * s->macro_held[mac];
        for (uint32_t e = m->macro_offsets[mac]; e < m->macro_offsets[mac + 1]; e++)
            s->coverage[m->macro_links[e].target] += credit * m->macro_links[e].w;
    }
}

static void add_kinship(const matcher *m, matcher_scratch *s, const match_result *out) {
    for (size_t e = 0; e < out->n_experiences; e++) {
        uint32_t F = out->experiences[e].fiche;
        if (F == ROME_NONE || s->exp_weight[e] <= 0) continue;
        add_row(s->kinship, m->kinship + (size_t)F * m->n_fiches, (float)s->exp_weight[e],
                m->n_fiches);
    }
}

/* A job whose entry diploma is two levels or more above the person's best loses level_penalty a
 * level beyond the first; a cadre job, for someone whose jobs never were, loses cadre_penalty. */
static double level_factor(const matcher *m, const matcher_scratch *s, uint8_t level, bool cadre) {
    double factor = 1.0;
    int gap = (int)level - (int)s->person_level;
    if (level && s->person_level && gap > 1) factor /= 1.0 + m->cfg.level_penalty * (gap - 1);
    if (cadre && !s->person_cadre) factor *= 1.0 - m->cfg.cadre_penalty;
    return factor;
}

/* The components of fiche f: C from the job's own items (`held_weight` = Σ held(i)·w(f, i), which
 * describe sums as it lists them, in double precision), R from the coverage sum less C's part
 * (single precision: errors of about 1e-7), P and K from their sums. */
void matcher_components(const matcher *m, const matcher_scratch *s, uint32_t f, double held_weight,
                        match_components *c) {
    double total = m->fiche_total[f], a_r = m->cfg.score_related;
    double norm = s->profile_norm * m->fiche_norm[f];
    c->competences = total > 0 ? held_weight / total : 0;
    c->related = total > 0 && a_r > 0
                     ? (s->coverage[f] / total - m->cfg.score_competences * c->competences) / a_r
                     : 0;
    c->profile = norm > 0 ? s->profile[f] / norm : 0;
    c->kinship = s->exp_total > 0 && m->kinship_total > 0
                     ? s->kinship[f] / (s->exp_total * m->kinship_total)
                     : 0;
    c->level = level_factor(m, s, m->level[f], m->idx->fiches[f].flags & ROME_FICHE_CADRE);
    /* single-precision sums: clamp what exact arithmetic keeps in [0, 1] */
    if (c->related < 0) c->related = 0;
    if (c->related > 1) c->related = 1;
    if (c->profile > 1) c->profile = 1;
    if (c->kinship > 1) c->kinship = 1;
}

/* score(f) = level(f) × (a_c C + a_r R + a_p P + a_k K) / Σ a, with the per-fiche divisions done at
 * build (score_scale, profile_scale) and the level factor looked up by the fiche's level class. */
static void final_scores(const matcher *m, matcher_scratch *s) {
    float factor[2 * 16];
    for (uint32_t level = 0; level < 16; level++)
        for (uint32_t cadre = 0; cadre < 2; cadre++)
            factor[level | cadre << 4] = (float)level_factor(m, s, (uint8_t)level, cadre);
    float inv_profile = s->profile_norm > 0 ? (float)(1.0 / s->profile_norm) : 0.0f;
    float inv_kinship = s->exp_total > 0 ? (float)(1.0 / (s->exp_total * m->score_total)) : 0.0f;
    const float *restrict c = s->coverage, *restrict p = s->profile, *restrict k = s->kinship;
    for (uint32_t f = 0; f < m->n_fiches; f++) {
        float mean = m->score_scale[f] * c[f] + m->profile_scale[f] * p[f] * inv_profile +
                     k[f] * inv_kinship;
        float score = factor[m->level_class[f]] * mean;
        /* single-precision sums: keep what exact arithmetic keeps in [0, 1] */
        s->score[f] = score < 0 ? 0 : score < 1 ? score : 1;
    }
}

void matcher_score(const matcher *m, matcher_scratch *s, const match_result *out) {
    size_t nf = m->n_fiches;
    memset(s->coverage, 0, nf * sizeof *s->coverage);
    memset(s->profile, 0, nf * sizeof *s->profile);
    memset(s->kinship, 0, nf * sizeof *s->kinship);
    memset(s->evidence, 0, nf * sizeof *s->evidence);
    uint32_t n_touched = s->n_touched; /* add_macros touches macros: only the profile's items */
    add_held_items(m, s, n_touched);
    add_macros(m, s, n_touched);
    add_kinship(m, s, out);
    final_scores(m, s);
}
