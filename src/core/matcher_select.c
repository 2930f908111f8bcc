/* matcher_select — which fiches may be offered and the best `top` of them (docs/matching.md §3
 * "Selection", §4). */
#include <stdlib.h>
#include <string.h>

#include "matcher_private.h"

static int cmp_ranked(const void *a, const void *b) {
    return ranked_before(a, b) ? -1 : ranked_before(b, a) ? 1 : 0;
}

void ranked_sort(ranked *v, size_t n) { qsort(v, n, sizeof *v, cmp_ranked); }

/* The best `cap` entries offered, as a heap whose root is the worst kept. */
typedef struct best_heap {
    ranked *v;
    uint32_t n, cap;
} best_heap;

static void sift_down(best_heap *h, uint32_t at) {
    for (;;) {
        uint32_t worst = at, l = 2 * at + 1, r = l + 1;
        if (l < h->n && ranked_before(&h->v[worst], &h->v[l])) worst = l;
        if (r < h->n && ranked_before(&h->v[worst], &h->v[r])) worst = r;
        if (worst == at) return;
        ranked t = h->v[at];
        h->v[at] = h->v[worst], h->v[worst] = t;
        at = worst;
    }
}

static void heap_insert(best_heap *h, ranked r) {
    if (h->n < h->cap) {
        uint32_t at = h->n++;
        h->v[at] = r;
        while (at && ranked_before(&h->v[(at - 1) / 2], &h->v[at])) {
            ranked t = h->v[at];
            h->v[at] = h->v[(at - 1) / 2], h->v[(at - 1) / 2] = t;
            at = (at - 1) / 2;
        }
    } else if (h->cap) {
        h->v[0] = r;
        sift_down(h, 0);
    }
}

/* Most offers are not among the best: that test is inlined, the heap work is not. */
static inline void heap_offer(best_heap *h, ranked r) {
    if (h->n < h->cap || ranked_before(&r, &h->v[0])) heap_insert(h, r);
}

size_t ranked_best(ranked *v, size_t n, size_t cap) {
    if (n > cap) { /* a heap of the best cap, built in place at the front */
        best_heap h = {v, 0, (uint32_t)cap};
        for (size_t k = 0; k < n; k++) {
            ranked r = v[k];
            heap_offer(&h, r);
        }
        n = cap;
    }
    ranked_sort(v, n);
    return n;
}

#define FICHE_TAKEN 0x20u /* select: already placed in the list */

static int mark_avoided(const matcher *m, matcher_scratch *s, const profile *p, match_result *out,
                        px_error *err) {
    const rome_index *idx = m->idx;
    size_t n = p->avoid_contextes.n + p->avoid_named.n;
    if (n > MATCHER_MAX_AVOID)
        return px_error_set(err, PX_ELIMIT, "avoid: %zu entries, at most %u are accepted", n,
                            MATCHER_MAX_AVOID);
    if (matcher_reserve((void **)&out->constraints, &out->cap_constraints, n,
                        sizeof *out->constraints, err))
        return -1;
    out->n_constraints = n;
    for (size_t k = 0; k < p->avoid_contextes.n; k++) {
        uint32_t code = p->avoid_contextes.v[k], ctx = rome_contexte_find(idx, code);
        if (ctx == ROME_NONE)
            return px_error_set(err, PX_ENOTFOUND, "avoid: unknown contexte code %u", code);
        out->constraints[k] = (match_constraint_cost){-1, code, 0, 0, 0};
        const rome_csr *cf = &idx->contexte_fiches;
        for (uint32_t e = cf->offsets[ctx]; e < cf->offsets[ctx + 1]; e++) {
            uint32_t f = cf->targets[e];
            s->avoided[f] |= 1u << k;
        }
    }
    for (size_t k = 0; k < p->avoid_named.n; k++) {
        const matcher_constraint *c = matcher_config_constraint(&m->cfg, p->avoid_named.v[k]);
        if (!c)
            return px_error_set(err, PX_ENOTFOUND, "avoid: unknown named constraint \"%s\"",
                                p->avoid_named.v[k]);
        uint32_t ci = (uint32_t)(c - m->cfg.constraints), bit = 1u << (p->avoid_contextes.n + k);
        out->constraints[p->avoid_contextes.n + k] =
            (match_constraint_cost){(int32_t)ci, 0, 0, 0, 0};
        const constraint_mark *marks = m->marks + (size_t)ci * m->n_fiches;
        for (uint32_t f = 0; f < m->n_fiches; f++) {
            if (marks[f].evidence) s->avoided[f] |= bit;
        }
    }
    for (uint32_t f = 0; f < m->n_fiches; f++)
        if (s->avoided[f]) s->fiche_flags[f] |= FICHE_AVOIDED;
    return 0;
}

static int mark_domains(const matcher *m, matcher_scratch *s, const profile_strings *list,
                        const char *field, uint8_t flag, px_error *err) {
    const rome_index *idx = m->idx;
    if (list->n > MATCHER_MAX_DOMAINS)
        return px_error_set(err, PX_ELIMIT, "%s: %zu entries, at most %u are accepted", field,
                            list->n, MATCHER_MAX_DOMAINS);
    for (size_t k = 0; k < list->n; k++) {
        const char *code = list->v[k];
        uint32_t id, group;
        if (strlen(code) == 1 && (id = rome_grand_domaine_find(idx, code)) != ROME_NONE)
            group = id;
        else if (strlen(code) == 3 && (id = rome_domaine_find(idx, code)) != ROME_NONE)
            group = idx->n.grands_domaines + id;
        else
            return px_error_set(err, PX_ENOTFOUND,
                                "%s[%zu]: \"%s\" is neither a grand domaine (\"J\") nor a domaine "
                                "professionnel (\"M18\")",
                                field, k, code);
        for (uint32_t g = m->domain_offsets[group]; g < m->domain_offsets[group + 1]; g++)
            s->fiche_flags[m->domain_fiches[g]] |= flag;
    }
    return 0;
}

/* A regulated job (emploi_reglemente) is open to the person when they hold one of the
 * qualifications ROME lists for it, or a job of theirs lists the same qualification (they practise
 * under it); a regulated fiche that lists no qualification cannot say which is missing and stays
 * open. Otherwise it has a qualification gap: held back unless the profile asks for them. */
static void mark_qualification_gaps(const matcher *m, matcher_scratch *s, uint32_t professional) {
    for (uint32_t r = 0; r < m->n_regulated; r++) {
        uint32_t from = m->qualification_offsets[r], to = m->qualification_offsets[r + 1];
        bool open = from == to;
        for (uint32_t k = from; k < to && !open; k++) {
            const item_state *st = &s->item[m->qualifications[k]];
            open = st->held > 0 || (st->from & professional);
        }
        if (!open) s->fiche_flags[m->regulated[r]] |= FICHE_GAP;
    }
}

/* What removing fiche f rests on for one avoid entry: a contexte code is ROME's contexte; a named
 * constraint, the mark matcher_build gave the fiche. NULL: a qualification gap (no contexte). */
static match_removal removal_of(const matcher *m, const match_constraint_cost *entry, uint32_t f) {
    if (!entry) return (match_removal){f, MATCH_EVIDENCE_NONE, 0};
    if (entry->named < 0) return (match_removal){f, MATCH_EVIDENCE_CONTEXTE, entry->contexte};
    const constraint_mark *mark = &m->marks[(size_t)entry->named * m->n_fiches + f];
    return (match_removal){f, mark->evidence, mark->code};
}

/* Appends the best removals of a heap to out->removals; returns where they start. */
static uint32_t list_removals(const matcher *m, best_heap *h, match_result *out,
                              const match_constraint_cost *entry) {
    uint32_t off = (uint32_t)out->n_removals;
    ranked_sort(h->v, h->n);
    for (uint32_t k = 0; k < h->n; k++)
        out->removals[out->n_removals++] = removal_of(m, entry, h->v[k].id);
    return off;
}

/* The best of many scores without a heap: a histogram of the scores over SCORE_BUCKETS equal
 * buckets of [0, 1] tells the lowest bucket that still holds a place; only the fiches from that
 * bucket up are kept and sorted. Offering every fiche to a heap cost more: scores come in runs
 * (a domain's fiches are next to each other), and each better one re-sorted the heap. */
#define SCORE_BUCKETS 1024u

static uint32_t bucket_of(double score) {
    uint32_t b = (uint32_t)(score * SCORE_BUCKETS);
    return b < SCORE_BUCKETS ? b : SCORE_BUCKETS - 1;
}

/* The lowest bucket from which the buckets up hold at least cap scores (0: all of them). */
static uint32_t lowest_bucket(const uint32_t *hist, uint32_t cap) {
    uint32_t sum = 0;
    for (uint32_t b = SCORE_BUCKETS; b-- > 0;)
        if ((sum += hist[b]) >= cap) return b;
    return 0;
}

/* Two passes over the fiches do both jobs of the selection:
 *  - the list: the first evidence_places places go to jobs where the person holds at least one
 *    savoir-faire or savoir (a macro-compétence or savoir-être alone never carries a job there);
 *    the places after them take the best of the rest, evidence or not;
 *  - what each constraint, the excluded domains and the qualification gaps cost, over the fiches
 *    the person could be offered without them: those with evidence and a score, not their own. */
static int choose(const matcher *m, matcher_scratch *s, const profile *p, match_result *out,
                  px_error *err) {
    uint32_t top = m->cfg.top, places = m->cfg.evidence_places < top ? m->cfg.evidence_places : top;
    size_t n_avoid = out->n_constraints;
    if (matcher_reserve((void **)&out->jobs, &out->cap_jobs, top, sizeof *out->jobs, err) ||
        matcher_reserve((void **)&out->removals, &out->cap_removals,
                        (n_avoid + 1) * MATCHER_MAX_REMOVALS, sizeof *out->removals, err))
        return -1;
    ranked room[(MATCHER_MAX_AVOID + 1) * MATCHER_MAX_REMOVALS];
    best_heap removed[MATCHER_MAX_AVOID + 1]; /* per avoid entry, then the qualification gaps */
    for (size_t k = 0; k <= n_avoid; k++)
        removed[k] = (best_heap){room + k * MATCHER_MAX_REMOVALS, 0, MATCHER_MAX_REMOVALS};
    uint8_t barring =
        FICHE_OWN | FICHE_AVOIDED | FICHE_EXCLUDED | (p->include_regulated ? 0 : FICHE_GAP);
    uint8_t costing = FICHE_AVOIDED | FICHE_EXCLUDED | (p->include_regulated ? 0 : FICHE_GAP);
    uint32_t *hist_all = s->histogram, *hist_with = s->histogram + SCORE_BUCKETS;
    memset(s->histogram, 0, 2 * SCORE_BUCKETS * sizeof *s->histogram);
    for (uint32_t f = 0; f < m->n_fiches; f++) {
        uint8_t flags = s->fiche_flags[f];
        double score = s->score[f];
        if (score <= 0) continue;
        bool evidence = s->evidence[f] > 0;
        if (!(flags & barring)) {
            uint32_t b = bucket_of(score);
            hist_all[b]++;
            hist_with[b] += evidence;
        } else if (evidence && (flags & costing) && !(flags & FICHE_OWN)) {
            ranked r = {score, f};
            for (size_t k = 0; k < n_avoid; k++)
                if (s->avoided[f] & (1u << k)) {
                    out->constraints[k].removed++;
                    heap_offer(&removed[k], r);
                }
            out->removed_by_domain += (flags & FICHE_EXCLUDED) != 0;
            if ((flags & FICHE_GAP) && !p->include_regulated) {
                out->removed_regulated++;
                heap_offer(&removed[n_avoid], r);
            }
        }
    }
    uint32_t from_all = lowest_bucket(hist_all, top), from_with = lowest_bucket(hist_with, places);
    size_t n_all = 0, n_with = 0;
    for (uint32_t f = 0; f < m->n_fiches; f++) {
        double score = s->score[f];
        if (score <= 0 || (s->fiche_flags[f] & barring)) continue;
        uint32_t b = bucket_of(score);
        if (b >= from_all) s->best[n_all++] = (ranked){score, f};
        if (b >= from_with && s->evidence[f]) s->candidates[n_with++] = (ranked){score, f};
    }
    n_with = ranked_best(s->candidates, n_with, places);
    n_all = ranked_best(s->best, n_all, top);
    size_t n = 0;
    for (uint32_t k = 0; k < n_with; k++) {
        s->fiche_flags[s->candidates[k].id] |= FICHE_TAKEN;
        out->jobs[n++] = (match_job){.fiche = s->candidates[k].id, .score = s->candidates[k].score};
    }
    /* jobs without evidence only after the evidence places: when fewer jobs have evidence, the
     * list ends with them (the person's confirmations and additions open more) */
    for (uint32_t k = 0; k < n_all && n < top && n_with == places; k++)
        if (!(s->fiche_flags[s->best[k].id] & FICHE_TAKEN))
            out->jobs[n++] = (match_job){.fiche = s->best[k].id, .score = s->best[k].score};
    out->n_jobs = n;
    out->n_removals = 0;
    for (size_t k = 0; k < n_avoid; k++) {
        out->constraints[k].off = list_removals(m, &removed[k], out, &out->constraints[k]);
        out->constraints[k].n = removed[k].n;
    }
    out->regulated_off = list_removals(m, &removed[n_avoid], out, NULL);
    out->regulated_n = removed[n_avoid].n;
    return 0;
}

static int report_current(matcher_scratch *s, match_result *out, px_error *err) {
    out->n_current = 0;
    for (size_t e = 0; e < out->n_experiences; e++) {
        uint32_t f = out->experiences[e].fiche;
        if (f == ROME_NONE || !(s->fiche_flags[f] & FICHE_OWN)) continue;
        size_t at = 0; /* by fiche code (fiches are sorted by code), once each */
        while (at < out->n_current && out->current[at].fiche < f) at++;
        if (at < out->n_current && out->current[at].fiche == f) continue;
        if (matcher_reserve((void **)&out->current, &out->cap_current, out->n_current + 1,
                            sizeof *out->current, err))
            return -1;
        memmove(out->current + at + 1, out->current + at,
                (out->n_current - at) * sizeof *out->current);
        out->current[at] = (match_current){f, s->score[f]};
        out->n_current++;
    }
    return 0;
}

int matcher_select(const matcher *m, matcher_scratch *s, const profile *p, match_result *out,
                   px_error *err) {
    size_t nf = m->n_fiches;
    memset(s->fiche_flags, 0, nf * sizeof *s->fiche_flags);
    memset(s->avoided, 0, nf * sizeof *s->avoided);
    uint32_t professional = 0;
    for (size_t e = 0; e < out->n_experiences; e++)
        if (out->experiences[e].fiche != ROME_NONE && !p->experiences[e].extra) {
            s->fiche_flags[out->experiences[e].fiche] |= FICHE_OWN;
            professional |= 1u << e;
        }
    if (mark_avoided(m, s, p, out, err) ||
        mark_domains(m, s, &p->domains, "domains", FICHE_PREFERRED, err) ||
        mark_domains(m, s, &p->exclude_domains, "exclude_domains", FICHE_EXCLUDED, err))
        return -1;
    mark_qualification_gaps(m, s, professional);
    if (report_current(s, out, err)) return -1; /* their own score, before any preference */
    out->fiches_scored = 0;
    for (uint32_t f = 0; f < nf; f++) {
        out->fiches_scored += s->score[f] > 0;
        if (p->domains.n && !(s->fiche_flags[f] & FICHE_PREFERRED))
            s->score[f] /= 1.0 + m->cfg.domain_boost;
    }
    return choose(m, s, p, out, err);
}
