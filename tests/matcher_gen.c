#include "matcher_gen.h"

#include <string.h>

uint32_t matcher_gen_below(matcher_gen *g, uint32_t n) {
    g->state ^= g->state >> 12;
    g->state ^= g->state << 25;
    g->state ^= g->state >> 27;
    return (uint32_t)(((g->state * 0x2545F4914F6CDD1DULL) >> 32) % n);
}

/* A random item of fiche f (its code_ogr). */
static uint32_t item_of(matcher_gen *g, const rome_index *idx, uint32_t f) {
    uint32_t n = rome_csr_count(&idx->fiche_items, f);
    return idx->items[rome_csr_targets(&idx->fiche_items, f)[matcher_gen_below(g, n)]].code_ogr;
}

int matcher_gen_profile(matcher_gen *g, const rome_index *idx, const matcher_config *cfg,
                        profile *out, px_error *err) {
    uint32_t n_exp = 1 + matcher_gen_below(g, 4), first_fiche = 0;
    for (uint32_t e = 0; e < n_exp; e++) {
        profile_experience *x = profile_add_experience(out, err);
        if (!x) return -1;
        const rome_appellation *a = &idx->appellations[matcher_gen_below(g, idx->n.appellations)];
        if (matcher_gen_below(g, 5) == 0) {
            x->kind = PROFILE_EXP_ROME;
            memcpy(x->rome, idx->fiches[a->fiche].code, sizeof x->rome);
        } else {
            x->kind = PROFILE_EXP_APPELLATION;
            x->appellation = a->code_ogr;
        }
        if (e == 0) first_fiche = a->fiche;
        if (matcher_gen_below(g, 2)) x->months = (int32_t)(1 + matcher_gen_below(g, 120));
        x->extra = matcher_gen_below(g, 10) == 0;
    }
    if (matcher_gen_below(g, 2) && rome_csr_count(&idx->fiche_items, first_fiche)) {
        for (uint32_t k = matcher_gen_below(g, 6); k > 0; k--)
            if (profile_codes_push(&out->confirmed, item_of(g, idx, first_fiche), err)) return -1;
        for (uint32_t k = matcher_gen_below(g, 4); k > 0; k--)
            if (profile_codes_push(&out->rejected, item_of(g, idx, first_fiche), err)) return -1;
        for (uint32_t k = matcher_gen_below(g, 3); k > 0; k--)
            if (profile_codes_push(&out->added,
                                   idx->items[matcher_gen_below(g, idx->n.items)].code_ogr, err))
                return -1;
    }
    uint32_t dice = matcher_gen_below(g, 10);
    if (dice < 3 && cfg->n_constraints) {
        const char *name = cfg->constraints[matcher_gen_below(g, cfg->n_constraints)].name;
        if (profile_strings_push(&out->avoid_named, name, strlen(name), err)) return -1;
    } else if (dice == 3) {
        if (profile_codes_push(&out->avoid_contextes,
                               idx->contextes[matcher_gen_below(g, idx->n.contextes)].code_ogr,
                               err))
            return -1;
    }
    if (matcher_gen_below(g, 10) == 0) {
        const char *gd = idx->grands_domaines[matcher_gen_below(g, idx->n.grands_domaines)].code;
        if (profile_strings_push(&out->domains, gd, strlen(gd), err)) return -1;
    }
    if (matcher_gen_below(g, 20) == 0) {
        const char *d = idx->domaines[matcher_gen_below(g, idx->n.domaines)].code;
        if (profile_strings_push(&out->exclude_domains, d, strlen(d), err)) return -1;
    }
    return 0;
}
