/* matcher_infer — what the person holds, item by item, and the competences to ask about
 * (docs/matching.md §2, §3 "What the person holds"). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "matcher_private.h"

/* Zeroes what the previous match left: the touched items and their macro-compétences. */
static void reset_items(const matcher *m, matcher_scratch *s) {
    for (uint32_t k = 0; k < s->n_touched; k++) {
        uint32_t i = s->touched[k];
        memset(&s->item[i], 0, sizeof s->item[i]);
        s->held_bits[i / 64] = 0; /* whole words: every bit in them belongs to a touched item */
        if (m->items[i].macro != ROME_NONE) s->macro_held[m->items[i].macro] = 0;
    }
    s->n_touched = 0;
}

/* Every item of an experience's fiche is inferred, held at inferred_confidence × ew(e) (the best
 * experience listing it) — except qualifications: a diploma, certificate or habilitation is held
 * only when the person confirms or adds it, never because a past job lists it. */
static void infer_from_experiences(const matcher *m, matcher_scratch *s, const match_result *out) {
    const rome_csr *fi = &m->idx->fiche_items;
    for (size_t e = 0; e < out->n_experiences; e++) {
        uint32_t f = out->experiences[e].fiche;
        if (f == ROME_NONE) continue;
        float held = (float)(m->cfg.inferred_confidence * s->exp_weight[e]);
        for (uint32_t k = fi->offsets[f]; k < fi->offsets[f + 1]; k++) {
            uint32_t i = fi->targets[k];
            uint8_t imp = fi->importance ? fi->importance[k] : 0;
            item_state *st = matcher_touch(s, i);
            if (!(st->from & (1u << e))) st->support += (float)s->exp_weight[e];
            st->from |= 1u << e;
            st->flags |= HELD_INFERRED;
            if (imp > st->best_importance) st->best_importance = imp;
            if (!(m->items[i].traits & ITEM_QUALIFICATION) && held > st->held) st->held = held;
        }
    }
}

/* Confirmed and added items are held at 1; rejected ones at 0, and they lend nothing to their
 * macro-compétence. Rejected come last: profile_apply_decisions keeps the lists apart, and a code
 * in both is not held. */
static int apply_decisions(const matcher *m, matcher_scratch *s, const profile *p, px_error *err) {
    const struct {
        const profile_codes *codes;
        const char *field;
        uint8_t flag;
    } lists[] = {{&p->confirmed, "confirmed", HELD_DECLARED},
                 {&p->added, "added", HELD_DECLARED},
                 {&p->rejected, "rejected", HELD_REJECTED}};
    for (size_t l = 0; l < sizeof lists / sizeof lists[0]; l++)
        for (size_t k = 0; k < lists[l].codes->n; k++) {
            uint32_t i = code_table_find(m->item_codes, lists[l].codes->v[k]);
            if (i == ROME_NONE)
                return px_error_set(err, PX_ENOTFOUND,
                                    "%s[%zu]: unknown competence or savoir code %u", lists[l].field,
                                    k, lists[l].codes->v[k]);
            item_state *st = matcher_touch(s, i);
            st->flags |= lists[l].flag;
            st->held = lists[l].flag == HELD_REJECTED ? 0.0f : 1.0f;
        }
    for (uint32_t k = 0; k < s->n_touched; k++) {
        item_state *st = &s->item[s->touched[k]];
        if (st->flags & HELD_REJECTED) st->held = 0;
    }
    return 0;
}

/* The best holding under each macro-compétence (a macro is its own macro) and the length of the
 * person's competence vector, for the cosine of profiles. */
static void settle_holdings(const matcher *m, matcher_scratch *s) {
    double norm = 0;
    for (uint32_t k = 0; k < s->n_touched; k++) {
        uint32_t i = s->touched[k];
        float held = s->item[i].held;
        if (held <= 0) continue;
        s->held_bits[i / 64] |= 1ull << (i % 64);
        uint32_t mac = m->items[i].macro;
        if (mac != ROME_NONE && held > s->macro_held[mac]) s->macro_held[mac] = held;
        norm += (double)held * held * m->items[i].idf2;
    }
    s->profile_norm = sqrt(norm);
}

/* Inferred, undecided items, heaviest first: weight = importance × kind × specificity × support.
 * The person is asked first about what is central to their jobs and says the most about them. */
static int suggest_skills(const matcher *m, matcher_scratch *s, match_result *out, px_error *err) {
    ranked *cand = s->ranked_items;
    size_t n = 0;
    for (uint32_t k = 0; k < s->n_touched; k++) {
        uint32_t i = s->touched[k];
        const item_state *st = &s->item[i];
        if (!(st->flags & HELD_INFERRED) || (st->flags & (HELD_DECLARED | HELD_REJECTED))) continue;
        double kind = (m->items[i].traits & ITEM_SAVOIR_ETRE) ? m->cfg.skills_savoir_etre : 1.0;
        cand[n++] = (ranked){m->importance_weight[st->best_importance] * kind *
                                 m->items[i].specificity * st->support,
                             i};
    }
    n = ranked_best(cand, n, m->cfg.skills_asked);
    if (matcher_reserve((void **)&out->skills, &out->cap_skills, n, sizeof *out->skills, err))
        return -1;
    out->n_skills = n;
    for (size_t k = 0; k < n; k++) {
        uint32_t i = cand[k].id;
        const item_state *st = &s->item[i];
        out->skills[k] = (match_skill){
            .item = i,
            .from = st->from,
            .weight = cand[k].score,
            .importance = m->importance_weight[st->best_importance],
            .kind_factor =
                (m->items[i].traits & ITEM_SAVOIR_ETRE) ? m->cfg.skills_savoir_etre : 1.0,
            .specificity = m->items[i].specificity,
            .support = st->support,
        };
    }
    return 0;
}

int matcher_infer(const matcher *m, matcher_scratch *s, const profile *p, match_result *out,
                  px_error *err) {
    reset_items(m, s);
    infer_from_experiences(m, s, out);
    if (apply_decisions(m, s, p, err)) return -1;
    settle_holdings(m, s);
    return suggest_skills(m, s, out, err);
}
