/* matcher_build — what every match reads, computed once per index (docs/matching.md §3, §4). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "matcher_private.h"
#include "px_array.h"

const rome_index *matcher_index(const matcher *m) { return m->idx; }
const matcher_config *matcher_get_config(const matcher *m) { return &m->cfg; }

int matcher_reserve(void **p, size_t *cap, size_t need, size_t elem, px_error *err) {
    if (px_array_reserve(p, cap, need, elem))
        return px_error_set(err, PX_ENOMEM, "matcher: out of memory");
    return 0;
}

/* Item traits and weights. specificity(i) = ln(N / df) / ln(N): 1 for an item of one fiche, near 0
 * for the savoir-être half of the fiches list. */
static void build_items(matcher *m) {
    const rome_index *idx = m->idx;
    double n = m->n_fiches > 1 ? (double)m->n_fiches : 2.0;
    for (uint32_t i = 0; i < m->n_items; i++) {
        const rome_item *it = &idx->items[i];
        uint32_t df = rome_csr_count(&idx->item_fiches, i);
        double idf = df ? log(n / df) : log(n);
        item_info *info = &m->items[i];
        double kind = it->kind == ROME_KIND_SAVOIR_ETRE ? m->cfg.savoir_etre_factor : 1.0;
        info->specificity = (float)(idf / log(n));
        info->idf2 =
            (float)(kind * kind * idf * idf); /* the profile vector's entries are kind · t_i */
        info->macro = (it->flags & ROME_ITEM_MACRO) ? i : it->macro;
        info->traits = 0;
        if (it->kind == ROME_KIND_SAVOIR_ETRE) info->traits |= ITEM_SAVOIR_ETRE;
        if (it->flags & ROME_ITEM_QUALIFICATION) info->traits |= ITEM_QUALIFICATION;
        if (it->flags & ROME_ITEM_MACRO) info->traits |= ITEM_MACRO;
        if ((it->kind == ROME_KIND_SAVOIR_FAIRE && !(it->flags & ROME_ITEM_MACRO)) ||
            it->kind == ROME_KIND_SAVOIR)
            info->traits |= ITEM_EVIDENCE;
        if (kind == 0) info->traits |= ITEM_WEIGHTLESS;
    }
}

static float link_weight(const matcher *m, uint32_t item, uint8_t importance) {
    const item_info *info = &m->items[item];
    double kind = (info->traits & ITEM_SAVOIR_ETRE) ? m->cfg.savoir_etre_factor : 1.0;
    return (float)(m->importance_weight[importance] * kind * info->specificity);
}

/* w(f, i) along both CSR directions, Σ_i w(f, i) and the fiche's idf norm. */
static void build_links(matcher *m) {
    const rome_index *idx = m->idx;
    const rome_csr *fi = &idx->fiche_items, *inv = &idx->item_fiches;
    for (uint32_t f = 0; f < m->n_fiches; f++) {
        double total = 0, norm = 0;
        for (uint32_t k = fi->offsets[f]; k < fi->offsets[f + 1]; k++) {
            uint32_t i = fi->targets[k];
            float w = link_weight(m, i, fi->importance ? fi->importance[k] : 0);
            m->fiche_links[k] = (weighted_link){i, w};
            m->fiche_link_traits[k] = m->items[i].traits;
            total += w;
            norm += m->items[i].idf2;
        }
        m->fiche_total[f] = total;
        m->fiche_norm[f] = (float)sqrt(norm);
    }
    for (uint32_t i = 0; i < m->n_items; i++)
        for (uint32_t k = inv->offsets[i]; k < inv->offsets[i + 1]; k++)
            m->item_links[k] = (weighted_link){
                inv->targets[k], link_weight(m, i, inv->importance ? inv->importance[k] : 0)};
}

/* macro → (fiche, W_m(f)): what holding macro m at 1 would credit each fiche through its items
 * under m, before the items the person holds themselves are taken back (matcher_score). */
static int build_macro_lists(matcher *m) {
    const rome_csr *fi = &m->idx->fiche_items;
    uint32_t *count = calloc((size_t)m->n_items + 1, sizeof *count);
    if (!count) return -1;
    /* one entry per (macro, fiche) pair: a fiche's items under one macro are merged */
    for (uint32_t f = 0; f < m->n_fiches; f++)
        for (uint32_t k = fi->offsets[f]; k < fi->offsets[f + 1]; k++) {
            uint32_t mac = m->items[fi->targets[k]].macro;
            if (mac != ROME_NONE) count[mac]++;
        }
    m->macro_offsets = calloc((size_t)m->n_items + 1, sizeof *m->macro_offsets);
    size_t total = 0;
    for (uint32_t i = 0; i < m->n_items; i++) total += count[i];
    m->macro_links = malloc((total ? total : 1) * sizeof *m->macro_links);
    if (!m->macro_offsets || !m->macro_links) {
        free(count);
        return -1;
    }
    for (uint32_t i = 0; i < m->n_items; i++)
        m->macro_offsets[i + 1] = m->macro_offsets[i] + count[i];
    memset(count, 0, ((size_t)m->n_items + 1) * sizeof *count);
    for (uint32_t f = 0; f < m->n_fiches; f++) /* fiches ascending: each macro's run is sorted */
        for (uint32_t k = fi->offsets[f]; k < fi->offsets[f + 1]; k++) {
            uint32_t mac = m->items[fi->targets[k]].macro;
            if (mac == ROME_NONE) continue;
            weighted_link *run = m->macro_links + m->macro_offsets[mac];
            if (count[mac] && run[count[mac] - 1].target == f)
                run[count[mac] - 1].w += m->fiche_links[k].w;
            else
                run[count[mac]++] = (weighted_link){f, m->fiche_links[k].w};
        }
    /* merged entries leave holes at the end of each run: compact */
    uint32_t w = 0;
    for (uint32_t i = 0; i < m->n_items; i++) {
        uint32_t start = m->macro_offsets[i];
        m->macro_offsets[i] = w;
        memmove(m->macro_links + w, m->macro_links + start, count[i] * sizeof *m->macro_links);
        w += count[i];
    }
    m->macro_offsets[m->n_items] = w;
    free(count);
    return 0;
}

/* The per-fiche factors of the score loop (matcher_score.c final_scores). */
static int build_score_scales(matcher *m) {
    m->score_scale = calloc((size_t)m->n_fiches + 1, sizeof *m->score_scale);
    m->profile_scale = calloc((size_t)m->n_fiches + 1, sizeof *m->profile_scale);
    if (!m->score_scale || !m->profile_scale) return -1;
    for (uint32_t f = 0; f < m->n_fiches; f++) {
        if (m->fiche_total[f] > 0)
            m->score_scale[f] =
                (float)(1.0 / (m->fiche_total[f] * m->score_total)); /* a_c, a_r are in coverage */
        if (m->fiche_norm[f] > 0)
            m->profile_scale[f] =
                (float)(m->cfg.score_profile / (m->fiche_norm[f] * m->score_total));
    }
    return 0;
}

static int build_domain_lists(matcher *m) {
    const rome_index *idx = m->idx;
    uint32_t groups = idx->n.grands_domaines + idx->n.domaines;
    m->domain_offsets = calloc((size_t)groups + 1, sizeof *m->domain_offsets);
    m->domain_fiches = malloc(((size_t)m->n_fiches * 2 + 1) * sizeof *m->domain_fiches);
    if (!m->domain_offsets || !m->domain_fiches) return -1;
    for (uint32_t f = 0; f < m->n_fiches; f++) {
        m->domain_offsets[idx->fiches[f].grand_domaine + 1]++;
        m->domain_offsets[idx->n.grands_domaines + idx->fiches[f].domaine + 1]++;
    }
    for (uint32_t g = 0; g < groups; g++) m->domain_offsets[g + 1] += m->domain_offsets[g];
    uint32_t *fill = calloc(groups ? groups : 1, sizeof *fill);
    if (!fill) return -1;
    for (uint32_t f = 0; f < m->n_fiches; f++) {
        uint32_t gd = idx->fiches[f].grand_domaine,
                 dp = idx->n.grands_domaines + idx->fiches[f].domaine;
        m->domain_fiches[m->domain_offsets[gd] + fill[gd]++] = f;
        m->domain_fiches[m->domain_offsets[dp] + fill[dp]++] = f;
    }
    free(fill);
    return 0;
}

/* The regulated fiches and the qualifications each lists, for matcher_select's gap rule. */
static int build_regulated(matcher *m) {
    const rome_index *idx = m->idx;
    const rome_csr *fi = &idx->fiche_items;
    size_t n_fiches = 0, n_quals = 0;
    for (uint32_t f = 0; f < m->n_fiches; f++) {
        if (!(idx->fiches[f].flags & ROME_FICHE_REGLEMENTE)) continue;
        n_fiches++;
        for (uint32_t k = fi->offsets[f]; k < fi->offsets[f + 1]; k++)
            n_quals += (m->items[fi->targets[k]].traits & ITEM_QUALIFICATION) != 0;
    }
    m->regulated = malloc((n_fiches + 1) * sizeof *m->regulated);
    m->qualification_offsets = malloc((n_fiches + 1) * sizeof *m->qualification_offsets);
    m->qualifications = malloc((n_quals + 1) * sizeof *m->qualifications);
    if (!m->regulated || !m->qualification_offsets || !m->qualifications) return -1;
    uint32_t r = 0, q = 0;
    for (uint32_t f = 0; f < m->n_fiches; f++) {
        if (!(idx->fiches[f].flags & ROME_FICHE_REGLEMENTE)) continue;
        m->regulated[r] = f;
        m->qualification_offsets[r++] = q;
        for (uint32_t k = fi->offsets[f]; k < fi->offsets[f + 1]; k++)
            if (m->items[fi->targets[k]].traits & ITEM_QUALIFICATION)
                m->qualifications[q++] = fi->targets[k];
    }
    m->qualification_offsets[r] = q;
    m->n_regulated = r;
    return 0;
}

static bool fiche_has_contexte(const rome_index *idx, uint32_t f, const uint32_t *ctx, uint32_t n,
                               uint32_t *which) {
    const rome_csr *fc = &idx->fiche_contextes;
    for (uint32_t k = fc->offsets[f]; k < fc->offsets[f + 1]; k++)
        for (uint32_t j = 0; j < n; j++)
            if (fc->targets[k] == ctx[j]) {
                *which = idx->contextes[ctx[j]].code_ogr;
                return true;
            }
    return false;
}

/* Why each fiche has constraint c's condition, strongest evidence first: ROME's contexte; a
 * competence that implies it; the ROME v3 fiche it derives from has the contexte; most fiches of
 * its domaine professionnel (constraint_domain_share) have it. */
static void build_marks(matcher *m, uint32_t c, const uint32_t *items, uint32_t n_items) {
    const rome_index *idx = m->idx;
    const matcher_constraint *k = &m->cfg.constraints[c];
    constraint_mark *marks = m->marks + (size_t)c * m->n_fiches;
    uint32_t code;
    for (uint32_t f = 0; f < m->n_fiches; f++)
        if (fiche_has_contexte(idx, f, m->constraint_ctx[c], k->n_codes, &code))
            marks[f] = (constraint_mark){MATCH_EVIDENCE_CONTEXTE, code};
    for (uint32_t j = 0; j < n_items; j++) {
        const rome_csr *inv = &idx->item_fiches;
        for (uint32_t e = inv->offsets[items[j]]; e < inv->offsets[items[j] + 1]; e++)
            if (!marks[inv->targets[e]].evidence)
                marks[inv->targets[e]] =
                    (constraint_mark){MATCH_EVIDENCE_COMPETENCE, idx->items[items[j]].code_ogr};
    }
    for (uint32_t f = 0; f < m->n_fiches; f++) {
        if (marks[f].evidence || !idx->fiches[f].parent[0]) continue;
        uint32_t parent = rome_fiche_find(idx, idx->fiches[f].parent);
        if (parent != ROME_NONE && parent != f && marks[parent].evidence == MATCH_EVIDENCE_CONTEXTE)
            marks[f] = (constraint_mark){MATCH_EVIDENCE_PARENT, parent};
    }
    for (uint32_t d = 0; d < idx->n.domaines; d++) {
        uint32_t group = idx->n.grands_domaines + d, with = 0;
        uint32_t from = m->domain_offsets[group], to = m->domain_offsets[group + 1];
        for (uint32_t g = from; g < to; g++)
            with += marks[m->domain_fiches[g]].evidence == MATCH_EVIDENCE_CONTEXTE;
        if (to == from || (double)with < m->cfg.constraint_domain_share * (to - from)) continue;
        for (uint32_t g = from; g < to; g++)
            if (!marks[m->domain_fiches[g]].evidence)
                marks[m->domain_fiches[g]] = (constraint_mark){MATCH_EVIDENCE_DOMAIN, d};
    }
}

static int build_constraints(matcher *m, px_error *err) {
    m->marks = calloc((size_t)m->cfg.n_constraints * m->n_fiches + 1, sizeof *m->marks);
    if (!m->marks) return px_error_set(err, PX_ENOMEM, "matcher: out of memory");
    for (uint32_t c = 0; c < m->cfg.n_constraints; c++) {
        const matcher_constraint *k = &m->cfg.constraints[c];
        m->constraint_ctx[c] = malloc((k->n_codes + 1u) * sizeof **m->constraint_ctx);
        if (!m->constraint_ctx[c]) return px_error_set(err, PX_ENOMEM, "matcher: out of memory");
        for (uint32_t j = 0; j < k->n_codes; j++) {
            m->constraint_ctx[c][j] = rome_contexte_find(m->idx, k->codes[j]);
            if (m->constraint_ctx[c][j] == ROME_NONE)
                return px_error_set(err, PX_ECONFIG, "constraint.%s: unknown contexte code %u",
                                    k->name, k->codes[j]);
        }
        uint32_t items[MATCHER_CONSTRAINT_CODES_MAX], n = 0;
        for (uint32_t j = 0; j < k->n_items;
             j++) { /* an unknown item is another version's: ignored */
            uint32_t i = rome_item_find(m->idx, k->items[j]);
            if (i != ROME_NONE) items[n++] = i;
        }
        build_marks(m, c, items, n);
    }
    return 0;
}

matcher *matcher_build(const rome_index *idx, const matcher_config *cfg, px_error *err) {
    if (idx->n.items > MATCHER_MAX_ITEMS) {
        px_error_set(err, PX_ECONFIG, "matcher: the index has %u items, at most %u are supported",
                     idx->n.items, MATCHER_MAX_ITEMS);
        return NULL;
    }
    matcher *m = calloc(1, sizeof *m);
    if (!m) {
        px_error_set(err, PX_ENOMEM, "matcher: out of memory");
        return NULL;
    }
    m->idx = idx;
    m->cfg = *cfg;
    m->n_fiches = idx->n.fiches;
    m->n_items = idx->n.items;
    m->importance_weight[ROME_IMPORTANCE_NONE] = (float)cfg->weight_other;
    m->importance_weight[ROME_IMPORTANCE_EMERGENTE] = (float)cfg->weight_emergente;
    m->importance_weight[ROME_IMPORTANCE_PRINCIPALE] = (float)cfg->weight_principale;
    size_t links = idx->n.fiche_item_links;
    m->items = calloc((size_t)m->n_items + 1, sizeof *m->items);
    m->fiche_links = malloc((links + 1) * sizeof *m->fiche_links);
    m->item_links = malloc((links + 1) * sizeof *m->item_links);
    m->fiche_link_traits = malloc(links + 1);
    m->fiche_total = calloc((size_t)m->n_fiches + 1, sizeof *m->fiche_total);
    m->fiche_norm = calloc((size_t)m->n_fiches + 1, sizeof *m->fiche_norm);
    m->level = calloc((size_t)m->n_fiches + 1, sizeof *m->level);
    m->level_class = calloc((size_t)m->n_fiches + 1, sizeof *m->level_class);
    m->appellation_fiche = malloc(((size_t)idx->n.appellations + 1) * sizeof *m->appellation_fiche);
    if (!m->items || !m->fiche_links || !m->item_links || !m->fiche_link_traits ||
        !m->fiche_total || !m->fiche_norm || !m->level || !m->level_class ||
        !m->appellation_fiche) {
        px_error_set(err, PX_ENOMEM, "matcher: out of memory");
        goto fail;
    }
    build_items(m);
    build_links(m);
    for (uint32_t f = 0; f < m->n_fiches; f++)
        if (rome_csr_count(&idx->fiche_items, f) > m->max_fiche_items)
            m->max_fiche_items = rome_csr_count(&idx->fiche_items, f);
    for (uint32_t a = 0; a < idx->n.appellations; a++)
        m->appellation_fiche[a] = idx->appellations[a].fiche;
    for (uint32_t f = 0; f < m->n_fiches; f++) {
        m->level[f] = matcher_entry_level(rome_str(idx, idx->fiches[f].acces));
        m->level_class[f] =
            (uint8_t)(m->level[f] | ((idx->fiches[f].flags & ROME_FICHE_CADRE) ? 16u : 0u));
    }
    if (build_macro_lists(m) || build_domain_lists(m) || build_regulated(m)) {
        px_error_set(err, PX_ENOMEM, "matcher: out of memory");
        goto fail;
    }
    for (uint32_t mac = 0; mac < m->n_items;
         mac++) { /* a macro whose items all weigh 0 credits 0 */
        bool weightless = m->macro_offsets[mac] < m->macro_offsets[mac + 1];
        for (uint32_t e = m->macro_offsets[mac]; e < m->macro_offsets[mac + 1] && weightless; e++)
            weightless = m->macro_links[e].w == 0;
        if (weightless) m->items[mac].traits |= ITEM_WEIGHTLESS;
    }
    if (build_constraints(m, err) || matcher_build_kinship(m, err)) goto fail;
    m->score_total =
        cfg->score_competences + cfg->score_related + cfg->score_profile + m->kinship_total;
    if (build_score_scales(m)) {
        px_error_set(err, PX_ENOMEM, "matcher: out of memory");
        goto fail;
    }
    m->item_codes = code_table_build(idx->items, idx->n.items, sizeof *idx->items, err);
    m->appellation_codes = m->item_codes ? code_table_build(idx->appellations, idx->n.appellations,
                                                            sizeof *idx->appellations, err)
                                         : NULL;
    m->titles = m->appellation_codes ? title_resolver_build(idx, err) : NULL;
    if (!m->titles) goto fail;
    return m;
fail:
    matcher_free(m);
    return NULL;
}

void matcher_free(matcher *m) {
    if (!m) return;
    title_resolver_free(m->titles);
    code_table_free(m->item_codes);
    code_table_free(m->appellation_codes);
    free(m->items);
    free(m->fiche_links);
    free(m->item_links);
    free(m->fiche_link_traits);
    free(m->fiche_total);
    free(m->fiche_norm);
    free(m->macro_offsets);
    free(m->macro_links);
    free(m->kinship);
    free(m->score_scale);
    free(m->profile_scale);
    free(m->level);
    free(m->level_class);
    free(m->appellation_fiche);
    free(m->domain_offsets);
    free(m->domain_fiches);
    for (uint32_t c = 0; c < MATCHER_MAX_CONSTRAINTS; c++) free(m->constraint_ctx[c]);
    free(m->marks);
    free(m->regulated);
    free(m->qualification_offsets);
    free(m->qualifications);
    free(m);
}

/* ---- scratch ---- */

matcher_scratch *matcher_scratch_new(const matcher *m, px_error *err) {
    matcher_scratch *s = calloc(1, sizeof *s);
    size_t nf = (size_t)m->n_fiches + 1, ni = (size_t)m->n_items + 1;
    if (!s) goto nomem;
    s->titles = title_scratch_new(m->titles, err);
    if (!s->titles) goto fail;
    s->item = calloc(ni, sizeof *s->item);
    s->touched = malloc(ni * sizeof *s->touched);
    s->macro_held = calloc(ni, sizeof *s->macro_held);
    s->held_bits = calloc(ni / 64 + 1, sizeof *s->held_bits);
    s->coverage = calloc(nf, sizeof *s->coverage);
    s->profile = calloc(nf, sizeof *s->profile);
    s->kinship = calloc(nf, sizeof *s->kinship);
    s->evidence = calloc(nf, sizeof *s->evidence);
    s->score = calloc(nf, sizeof *s->score);
    s->fiche_flags = calloc(nf, sizeof *s->fiche_flags);
    s->avoided = calloc(nf, sizeof *s->avoided);
    s->candidates = malloc(nf * sizeof *s->candidates);
    s->best = malloc(nf * sizeof *s->best);
    s->ranked_items = malloc(ni * sizeof *s->ranked_items);
    s->missing_keys = malloc(ni * sizeof *s->missing_keys);
    s->link_held =
        malloc(((size_t)m->max_fiche_items * MATCHER_MAX_TOP + 1) * sizeof *s->link_held);
    s->missing_in = calloc(ni, sizeof *s->missing_in);
    if (!s->item || !s->touched || !s->macro_held || !s->held_bits || !s->coverage || !s->profile ||
        !s->kinship || !s->evidence || !s->score || !s->fiche_flags || !s->avoided ||
        !s->candidates || !s->best || !s->ranked_items || !s->missing_keys || !s->link_held ||
        !s->missing_in)
        goto nomem;
    return s;
nomem:
    px_error_set(err, PX_ENOMEM, "matcher: out of memory (scratch)");
fail:
    matcher_scratch_free(s);
    return NULL;
}

void matcher_scratch_free(matcher_scratch *s) {
    if (!s) return;
    title_scratch_free(s->titles);
    free(s->item);
    free(s->touched);
    free(s->macro_held);
    free(s->held_bits);
    free(s->coverage);
    free(s->profile);
    free(s->kinship);
    free(s->evidence);
    free(s->score);
    free(s->fiche_flags);
    free(s->avoided);
    free(s->candidates);
    free(s->best);
    free(s->ranked_items);
    free(s->missing_keys);
    free(s->link_held);
    free(s->missing_in);
    free(s);
}
