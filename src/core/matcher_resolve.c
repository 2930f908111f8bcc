/* matcher_resolve — each experience to a fiche, and how much it vouches for
 * (docs/matching.md §1). */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "matcher_private.h"

#define UNKNOWN_PERSON_LEVEL 3u /* CAP/BEP */

/* Longer experiences vouch for more, with diminishing returns: half weight at 0 months, full weight
 * from ten years on, 0.84 at two years. An experience without `months` counts in full. */
static double duration_factor(int32_t months) {
    if (months < 0) return 1.0;
    double f = log1p((double)months) / log1p(120.0);
    return 0.5 + 0.5 * (f < 1.0 ? f : 1.0);
}

/* An experience that ended long ago vouches for less: full weight for two years after `end_year`,
 * then recency_decay less a year, never under recency_floor. Counted to the event's year
 * (profile.as_of_year), so the same event always weighs the same. */
static double recency_factor(const matcher_config *c, int32_t end_year, int32_t as_of_year) {
    if (end_year <= 0 || as_of_year <= 0 || end_year >= as_of_year - 2) return 1.0;
    double f = 1.0 - c->recency_decay * (double)(as_of_year - 2 - end_year);
    return f > c->recency_floor ? f : c->recency_floor;
}

static void resolve_title(const matcher *m, matcher_scratch *s, const char *title,
                          match_experience *r) {
    title_match found[1 + MATCHER_MAX_ALTERNATIVES];
    px_error terr = {0};
    int n = title_resolve(m->titles, s->titles, title, found, 1 + m->cfg.alternatives, &terr);
    if (n < 0) {
        snprintf(r->error, sizeof r->error, "%s", terr.msg);
    } else if (n == 0 || found[0].confidence < m->cfg.title_min_confidence) {
        snprintf(r->error, sizeof r->error,
                 "no appellation matches this title well enough (best %.2f, need %.2f)",
                 n ? found[0].confidence : 0.0, m->cfg.title_min_confidence);
    } else {
        r->appellation = found[0].appellation;
        r->fiche = m->appellation_fiche[r->appellation];
        r->confidence = found[0].confidence;
    }
    for (int a = r->appellation == ROME_NONE ? 0 : 1;
         a < n && r->n_alternatives < m->cfg.alternatives; a++)
        r->alternatives[r->n_alternatives++] =
            (match_candidate){found[a].appellation, found[a].confidence};
}

int matcher_resolve(const matcher *m, matcher_scratch *s, const profile *p, match_result *out,
                    px_error *err) {
    const rome_index *idx = m->idx;
    if (matcher_reserve((void **)&out->experiences, &out->cap_experiences, p->n_experiences,
                        sizeof *out->experiences, err))
        return -1;
    out->n_experiences = p->n_experiences;
    s->exp_total = 0;
    s->person_level = 0;
    s->person_cadre = false;
    for (size_t e = 0; e < p->n_experiences; e++) {
        const profile_experience *x = &p->experiences[e];
        match_experience *r = &out->experiences[e];
        memset(r, 0, sizeof *r);
        r->appellation = r->fiche = ROME_NONE;
        if (x->kind == PROFILE_EXP_APPELLATION) {
            r->appellation = code_table_find(m->appellation_codes, x->appellation);
            if (r->appellation == ROME_NONE)
                return px_error_set(err, PX_ENOTFOUND,
                                    "experiences[%zu].appellation: unknown appellation code %u", e,
                                    x->appellation);
            r->fiche = m->appellation_fiche[r->appellation];
            r->confidence = 1.0;
        } else if (x->kind == PROFILE_EXP_ROME) {
            r->fiche = rome_fiche_find(idx, x->rome);
            if (r->fiche == ROME_NONE)
                return px_error_set(err, PX_ENOTFOUND,
                                    "experiences[%zu].rome: unknown fiche code \"%s\"", e, x->rome);
            r->confidence = 1.0;
        } else {
            resolve_title(m, s, x->title ? x->title : "", r);
        }
        r->resolved = r->fiche != ROME_NONE;
        double ew = 0;
        if (r->resolved) {
            ew = r->confidence * duration_factor(x->months) *
                 recency_factor(&m->cfg, x->end_year, p->as_of_year) *
                 (x->extra ? m->cfg.extra_weight : 1.0);
            if (!x->extra) {
                uint8_t level = m->level[r->fiche];
                if (level > s->person_level) s->person_level = level;
                bool cadre = (idx->fiches[r->fiche].flags & ROME_FICHE_CADRE) ||
                             (r->appellation != ROME_NONE &&
                              (idx->appellations[r->appellation].flags & ROME_APPELLATION_CADRE));
                s->person_cadre = s->person_cadre || cadre;
            }
        }
        s->exp_weight[e] = ew;
        s->exp_total += ew;
    }
    /* someone whose jobs name no diploma (a Diplôme d'État, experience alone) starts from CAP */
    if (!s->person_level && s->exp_total > 0) s->person_level = UNKNOWN_PERSON_LEVEL;
    return 0;
}
