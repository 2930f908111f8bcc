#include "matcher.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "title_resolver.h"

/* ---- configuration ---- */

static const matcher_constraint default_constraints[] = {
    {"no_weekend", {23374, 300793, 23376}, 3},          /* samedi, dimanche, week-ends et jours fériés */
    {"no_night", {300803}, 1},                          /* travail de nuit */
    {"no_heavy_loads", {300795}, 1},                    /* port et manipulation de charges lourdes */
    {"no_shift_work", {126450, 300808, 300805}, 3},     /* posté (2x8, 3x8), par roulement, horaires décalés */
    {"no_public_contact", {403020, 513769}, 2},         /* en contact avec du public, tous types de public */
    {"no_travel", {300779, 300817, 300814, 300816}, 4}, /* déplacements professionnels, zones nationale, européenne, internationale */
    {"no_outdoor", {300783, 300790}, 2},                /* en extérieur, environnement climatique difficile */
    {"no_standing", {300800}, 1},                       /* station debout prolongée */
};

matcher_config matcher_config_default(void) {
    matcher_config c;
    memset(&c, 0, sizeof c);
    c.weight_principale = 1.0;
    c.weight_emergente = 0.7;
    c.weight_other = 0.4;
    c.savoir_etre_factor = 0.5;
    c.inferred_confidence = 0.6;
    c.macro_credit = 0.5;
    c.extra_weight = 0.5;
    c.domain_boost = 0.25;
    c.title_min_confidence = 0.5;
    c.skills_asked = 30;
    c.top = 20;
    c.alternatives = 3;
    c.n_constraints = sizeof default_constraints / sizeof default_constraints[0];
    memcpy(c.constraints, default_constraints, sizeof default_constraints);
    return c;
}

const matcher_constraint *matcher_config_constraint(const matcher_config *cfg, const char *name) {
    for (uint32_t i = 0; i < cfg->n_constraints; i++)
        if (!strcmp(cfg->constraints[i].name, name)) return &cfg->constraints[i];
    return NULL;
}

typedef struct real_key {
    const char *key;
    size_t offset;
    double min, max;
    bool min_open;  /* value must be > min */
} real_key;

typedef struct count_key {
    const char *key;
    size_t offset;
    uint32_t min, max;
} count_key;

static const real_key real_keys[] = {
    {"weight.principale", offsetof(matcher_config, weight_principale), 0, 1, true},
    {"weight.emergente", offsetof(matcher_config, weight_emergente), 0, 1, false},
    {"weight.other", offsetof(matcher_config, weight_other), 0, 1, false},
    {"weight.savoir_etre", offsetof(matcher_config, savoir_etre_factor), 0, 1, false},
    {"inferred_confidence", offsetof(matcher_config, inferred_confidence), 0, 1, true},
    {"macro_credit", offsetof(matcher_config, macro_credit), 0, 1, false},
    {"extra_weight", offsetof(matcher_config, extra_weight), 0, 1, false},
    {"domain_boost", offsetof(matcher_config, domain_boost), 0, 10, false},
    {"title.min_confidence", offsetof(matcher_config, title_min_confidence), 0, 1, false},
};

static const count_key count_keys[] = {
    {"skills_asked", offsetof(matcher_config, skills_asked), 0, MATCHER_MAX_SKILLS_ASKED},
    {"top", offsetof(matcher_config, top), 1, MATCHER_MAX_TOP},
    {"title.alternatives", offsetof(matcher_config, alternatives), 0, MATCHER_MAX_ALTERNATIVES},
};

#define CONSTRAINT_PREFIX "constraint."

/* Parses "23374, 300793" into c; the name was checked by the caller. */
static int parse_constraint(matcher_constraint *c, const char *key, const char *value, px_error *err) {
    c->n_codes = 0;
    const char *p = value;
    for (;;) {
        while (*p == ' ' || *p == '\t') p++;
        char *end;
        errno = 0;
        unsigned long code = strtoul(p, &end, 10);
        if (end == p || *p == '-' || errno || code > UINT32_MAX)
            return px_error_set(err, MATCHER_ERR_CONFIG, "%s: expected comma-separated contexte codes, got \"%s\"",
                                key, value);
        if (c->n_codes == MATCHER_CONSTRAINT_CODES_MAX)
            return px_error_set(err, MATCHER_ERR_CONFIG, "%s: at most %u contexte codes", key,
                                MATCHER_CONSTRAINT_CODES_MAX);
        c->codes[c->n_codes++] = (uint32_t)code;
        p = end;
        while (*p == ' ' || *p == '\t') p++;
        if (!*p) return 0;
        if (*p++ != ',')
            return px_error_set(err, MATCHER_ERR_CONFIG, "%s: expected comma-separated contexte codes, got \"%s\"",
                                key, value);
    }
}

static int set_constraint(matcher_config *cfg, const char *key, const char *value, px_error *err) {
    const char *name = key + strlen(CONSTRAINT_PREFIX);
    size_t len = strlen(name);
    bool ok = len > 0 && len < MATCHER_CONSTRAINT_NAME_MAX;
    for (size_t i = 0; ok && i < len; i++)
        ok = (name[i] >= 'a' && name[i] <= 'z') || (name[i] >= '0' && name[i] <= '9') || name[i] == '_';
    if (!ok)
        return px_error_set(err, MATCHER_ERR_CONFIG,
                            "%s: a constraint name is 1 to %u characters among a-z, 0-9 and _", key,
                            MATCHER_CONSTRAINT_NAME_MAX - 1);
    matcher_constraint parsed;
    memset(&parsed, 0, sizeof parsed);
    memcpy(parsed.name, name, len);
    if (parse_constraint(&parsed, key, value, err)) return -1;
    matcher_constraint *slot = (matcher_constraint *)matcher_config_constraint(cfg, name);
    if (!slot) {
        if (cfg->n_constraints == MATCHER_MAX_CONSTRAINTS)
            return px_error_set(err, MATCHER_ERR_CONFIG, "%s: at most %u named constraints", key,
                                MATCHER_MAX_CONSTRAINTS);
        slot = &cfg->constraints[cfg->n_constraints++];
    }
    *slot = parsed;
    return 0;
}

void matcher_config_write(const matcher_config *cfg, FILE *out) {
    for (size_t i = 0; i < sizeof real_keys / sizeof real_keys[0]; i++) {
        double v = *(const double *)((const char *)cfg + real_keys[i].offset);
        char text[32];
        snprintf(text, sizeof text, "%.15g", v);
        if (strtod(text, NULL) != v) snprintf(text, sizeof text, "%.17g", v);
        fprintf(out, "%s = %s\n", real_keys[i].key, text);
    }
    for (size_t i = 0; i < sizeof count_keys / sizeof count_keys[0]; i++)
        fprintf(out, "%s = %" PRIu32 "\n", count_keys[i].key, *(const uint32_t *)((const char *)cfg + count_keys[i].offset));
    for (uint32_t c = 0; c < cfg->n_constraints; c++) {
        fprintf(out, "%s%s = ", CONSTRAINT_PREFIX, cfg->constraints[c].name);
        for (uint32_t k = 0; k < cfg->constraints[c].n_codes; k++)
            fprintf(out, "%s%" PRIu32, k ? ", " : "", cfg->constraints[c].codes[k]);
        fputc('\n', out);
    }
}

int matcher_config_set(matcher_config *cfg, const char *key, const char *value, px_error *err) {
    if (!strncmp(key, CONSTRAINT_PREFIX, strlen(CONSTRAINT_PREFIX))) return set_constraint(cfg, key, value, err);
    for (size_t i = 0; i < sizeof real_keys / sizeof real_keys[0]; i++) {
        const real_key *k = &real_keys[i];
        if (strcmp(key, k->key)) continue;
        char *end;
        double v = strtod(value, &end);
        while (*end == ' ' || *end == '\t') end++;
        if (end == value || *end || !isfinite(v) || v < k->min || v > k->max || (k->min_open && v <= k->min))
            return px_error_set(err, MATCHER_ERR_CONFIG, "%s: expected a number in %c%g, %g], got \"%s\"", key,
                                k->min_open ? ']' : '[', k->min, k->max, value);
        *(double *)((char *)cfg + k->offset) = v;
        return 0;
    }
    for (size_t i = 0; i < sizeof count_keys / sizeof count_keys[0]; i++) {
        const count_key *k = &count_keys[i];
        if (strcmp(key, k->key)) continue;
        char *end;
        errno = 0;
        long v = strtol(value, &end, 10);
        while (*end == ' ' || *end == '\t') end++;
        if (end == value || *end || errno || v < (long)k->min || v > (long)k->max)
            return px_error_set(err, MATCHER_ERR_CONFIG, "%s: expected an integer in [%u, %u], got \"%s\"", key,
                                k->min, k->max, value);
        *(uint32_t *)((char *)cfg + k->offset) = (uint32_t)v;
        return 0;
    }
    return px_error_set(err, MATCHER_ERR_CONFIG,
                        "unknown matching key \"%s\" (expected weight.principale, weight.emergente, weight.other, "
                        "weight.savoir_etre, inferred_confidence, macro_credit, extra_weight, domain_boost, title.min_confidence, "
                        "title.alternatives, skills_asked, top or constraint.NAME)",
                        key);
}

/* ---- the matcher ---- */

/* One step of an inverted list with its weight, together so that the accumulation reads one stream. */
typedef struct weighted_edge {
    uint32_t fiche;
    float weight;
} weighted_edge;

/* One fiche-item link as describing a job reads it: the item, w(fiche, item) and the dense id of
 * the item's macro-compétence (n_macro_ids for an item without one). */
typedef struct job_link {
    uint32_t item;
    float weight;
    uint32_t macro_id;
} job_link;

/* A link in its fiche's missing order: w(fiche, item), and the item id shifted left by one with the
 * low bit set for a qualification, so that a sort key carries the tie-break and the flag at once. */
typedef struct ranked_link {
    float weight;
    uint32_t item_flag;
} ranked_link;

struct matcher {
    const rome_index *idx;
    matcher_config cfg;
    title_resolver *titles;
    double importance_weight[3];  /* by rome_importance */
    double *specificity;          /* per item */
    double *item_factor;          /* per item: kind factor × specificity */
    weighted_edge *item_edges;    /* parallel to idx->item_fiches.targets: (fiche, w(fiche, item)) */
    float *fiche_weight;          /* parallel to idx->fiche_items.targets: w(fiche, item) */
    job_link *job_links;          /* parallel to idx->fiche_items.targets */
    ranked_link *ranked_links;    /* per fiche, its links by w(fiche, item) descending, then by item */
    uint32_t *macro_id;           /* per item: the dense id of its macro-compétence in [0, n_macro_ids),
                                     or n_macro_ids for none */
    uint32_t n_macro_ids;
    double *fiche_total;          /* per fiche: Σ w(fiche, item) over its items */
    double *fiche_inverse_total;  /* per fiche: 1 / fiche_total, or 0 for a fiche without items */
    uint32_t *item_macro;         /* per item: its macro-compétence (itself for a macro), or ROME_NONE */
    uint32_t *macro_offsets;      /* macro → its slice of macro_edges (CSR offsets, by item id) */
    weighted_edge *macro_edges;   /* (fiche having items under the macro, Σ w(fiche, item) over them), by fiche */
    uint32_t constraint_ctx[MATCHER_MAX_CONSTRAINTS][MATCHER_CONSTRAINT_CODES_MAX]; /* contexte ids */
};

const rome_index *matcher_index(const matcher *m) { return m->idx; }
const matcher_config *matcher_get_config(const matcher *m) { return &m->cfg; }

/* w(f, i) = importance weight × kind factor × specificity: what holding i is worth towards f. */
static double item_weight(const matcher *m, uint32_t item, uint8_t importance) {
    return m->importance_weight[importance <= ROME_IMPORTANCE_PRINCIPALE ? importance : 0] * m->item_factor[item];
}

static uint64_t missing_key(float usefulness, uint32_t item);

static int cmp_u64(const void *a, const void *b) {
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

/* macro → (fiche, Σ w(fiche, item) over the fiche's items under that macro), so that holding any
 * competence of a macro-compétence reaches every fiche using that macro in one pass. */
static int build_macro_lists(matcher *m) {
    const rome_index *idx = m->idx;
    const rome_csr *fi = &idx->fiche_items;
    uint32_t n_items = idx->n.items;
    uint32_t *offsets = calloc((size_t)n_items + 2, sizeof *offsets);
    uint32_t *last = malloc(((size_t)n_items + 1) * sizeof *last);   /* last fiche counted per macro */
    m->item_macro = malloc(((size_t)n_items + 1) * sizeof *m->item_macro);
    m->macro_offsets = offsets;
    if (!offsets || !last || !m->item_macro) {
        free(last);
        return -1;
    }
    for (uint32_t i = 0; i < n_items; i++) {
        const rome_item *it = &idx->items[i];
        m->item_macro[i] = (it->flags & ROME_ITEM_MACRO) ? i : it->macro;
        last[i] = ROME_NONE;
    }
    /* pass 1: count distinct fiches per macro (offsets shifted by one), pass 2: fill */
    for (uint32_t f = 0; f < idx->n.fiches; f++)
        for (uint32_t k = fi->offsets[f]; k < fi->offsets[f + 1]; k++) {
            uint32_t mac = m->item_macro[fi->targets[k]];
            if (mac == ROME_NONE || last[mac] == f) continue;
            last[mac] = f;
            offsets[mac + 2]++;
        }
    for (uint32_t i = 0; i < n_items; i++) {
        offsets[i + 2] += offsets[i + 1];
        last[i] = ROME_NONE;
    }
    weighted_edge *edges = calloc((size_t)offsets[n_items + 1] + 1, sizeof *edges);
    m->macro_edges = edges;
    if (!edges) {
        free(last);
        return -1;
    }
    for (uint32_t f = 0; f < idx->n.fiches; f++)
        for (uint32_t k = fi->offsets[f]; k < fi->offsets[f + 1]; k++) {
            uint32_t i = fi->targets[k], mac = m->item_macro[i];
            if (mac == ROME_NONE) continue;
            if (last[mac] != f) {
                last[mac] = f;
                edges[offsets[mac + 1]++].fiche = f;
            }
            edges[offsets[mac + 1] - 1].weight += m->fiche_weight[k];
        }
    free(last);
    return 0;
}

/* Per fiche-item link copies of what describing a job reads, so that it reads them sequentially:
 * job_links in code order, and ranked_links in the order of a job's missing items when no other
 * job misses them (usefulness w × 1), from which the general order is nearly free. Macro ids are
 * dense so that a match keeps the credit of every macro-compétence in a table small enough for L1. */
static int build_job_links(matcher *m, px_error *err) {
    const rome_index *idx = m->idx;
    const rome_csr *fi = &idx->fiche_items;
    uint32_t n_items = idx->n.items;
    if (n_items > UINT32_MAX / 2)
        return px_error_set(err, MATCHER_ERR_CONFIG, "matcher: %u items, at most %u are supported", n_items,
                            UINT32_MAX / 2);
    size_t links = fi->offsets[idx->n.fiches];
    m->macro_id = malloc(((size_t)n_items + 1) * sizeof *m->macro_id);
    m->job_links = malloc((links + 1) * sizeof *m->job_links);
    m->ranked_links = malloc((links + 1) * sizeof *m->ranked_links);
    uint64_t *keys = malloc((links + 1) * sizeof *keys);
    if (!m->macro_id || !m->job_links || !m->ranked_links || !keys) {
        free(keys);
        return px_error_set(err, MATCHER_ERR_NOMEM, "matcher: out of memory while building");
    }
    for (uint32_t i = 0; i < n_items; i++) m->macro_id[i] = ROME_NONE;
    for (uint32_t i = 0; i < n_items; i++) {   /* number the macro-compétences (a macro is its own) */
        uint32_t mac = m->item_macro[i];
        if (mac != ROME_NONE && m->macro_id[mac] == ROME_NONE) m->macro_id[mac] = m->n_macro_ids++;
    }
    for (uint32_t i = 0; i < n_items; i++) {   /* then give every item its macro's number */
        uint32_t mac = m->item_macro[i];
        if (mac != i) m->macro_id[i] = mac == ROME_NONE ? m->n_macro_ids : m->macro_id[mac];
    }
    for (size_t k = 0; k < links; k++)
        m->job_links[k] = (job_link){fi->targets[k], m->fiche_weight[k], m->macro_id[fi->targets[k]]};
    for (uint32_t f = 0; f < idx->n.fiches; f++) {
        uint32_t first = fi->offsets[f], n = fi->offsets[f + 1] - first;
        for (uint32_t k = 0; k < n; k++) keys[first + k] = missing_key(m->fiche_weight[first + k], k);
        qsort(keys + first, n, sizeof *keys, cmp_u64);
        for (uint32_t t = 0; t < n; t++) {
            uint32_t k = first + (uint32_t)keys[first + t], i = fi->targets[k];
            m->ranked_links[first + t] =
                (ranked_link){m->fiche_weight[k], i << 1 | ((idx->items[i].flags & ROME_ITEM_QUALIFICATION) != 0)};
        }
    }
    free(keys);
    return 0;
}

matcher *matcher_build(const rome_index *idx, const matcher_config *cfg, px_error *err) {
    if (cfg->top < 1 || cfg->top > MATCHER_MAX_TOP || cfg->skills_asked > MATCHER_MAX_SKILLS_ASKED ||
        cfg->alternatives > MATCHER_MAX_ALTERNATIVES || cfg->n_constraints > MATCHER_MAX_CONSTRAINTS) {
        px_error_set(err, MATCHER_ERR_CONFIG, "matcher: top, skills_asked, title.alternatives or the constraint "
                                              "table is beyond its limit (see matcher.h)");
        return NULL;
    }
    for (uint32_t c = 0; c < cfg->n_constraints; c++)
        if (cfg->constraints[c].n_codes > MATCHER_CONSTRAINT_CODES_MAX) {
            px_error_set(err, MATCHER_ERR_CONFIG, "constraint.%s: more than %u codes", cfg->constraints[c].name,
                         MATCHER_CONSTRAINT_CODES_MAX);
            return NULL;
        }
    matcher *m = calloc(1, sizeof *m);
    if (!m) goto nomem;
    m->idx = idx;
    m->cfg = *cfg;
    for (uint32_t c = 0; c < cfg->n_constraints; c++)
        for (uint32_t k = 0; k < cfg->constraints[c].n_codes; k++) {
            uint32_t id = rome_contexte_find(idx, cfg->constraints[c].codes[k]);
            if (id == ROME_NONE) {
                px_error_set(err, MATCHER_ERR_CONFIG, "constraint.%s: contexte code %u is not in the ROME index",
                             cfg->constraints[c].name, cfg->constraints[c].codes[k]);
                matcher_free(m);
                return NULL;
            }
            m->constraint_ctx[c][k] = id;
        }
    m->importance_weight[ROME_IMPORTANCE_NONE] = cfg->weight_other;
    m->importance_weight[ROME_IMPORTANCE_EMERGENTE] = cfg->weight_emergente;
    m->importance_weight[ROME_IMPORTANCE_PRINCIPALE] = cfg->weight_principale;
    uint32_t n_items = idx->n.items, n_fiches = idx->n.fiches;
    m->specificity = malloc((n_items ? n_items : 1) * sizeof *m->specificity);
    m->item_factor = malloc((n_items ? n_items : 1) * sizeof *m->item_factor);
    m->item_edges = malloc(((size_t)idx->item_fiches.offsets[n_items] + 1) * sizeof *m->item_edges);
    m->fiche_total = calloc(n_fiches ? n_fiches : 1, sizeof *m->fiche_total);
    m->fiche_weight = malloc(((size_t)idx->fiche_items.offsets[n_fiches] + 1) * sizeof *m->fiche_weight);
    m->fiche_inverse_total = calloc(n_fiches ? n_fiches : 1, sizeof *m->fiche_inverse_total);
    if (!m->specificity || !m->item_factor || !m->item_edges || !m->fiche_total || !m->fiche_weight || !m->fiche_inverse_total)
        goto nomem;
    double log_n = n_fiches > 1 ? log((double)n_fiches) : 1.0;
    for (uint32_t i = 0; i < n_items; i++) {
        uint32_t df = rome_csr_count(&idx->item_fiches, i);
        m->specificity[i] = df && n_fiches > 1 ? log((double)n_fiches / df) / log_n : 1.0;
        m->item_factor[i] = (idx->items[i].kind == ROME_KIND_SAVOIR_ETRE ? cfg->savoir_etre_factor : 1.0) * m->specificity[i];
    }
    for (uint32_t i = 0; i < n_items; i++)
        for (uint32_t e = idx->item_fiches.offsets[i]; e < idx->item_fiches.offsets[i + 1]; e++)
            m->item_edges[e] = (weighted_edge){idx->item_fiches.targets[e],
                                               (float)item_weight(m, i, idx->item_fiches.importance ? idx->item_fiches.importance[e] : 0)};
    for (uint32_t f = 0; f < n_fiches; f++)
        for (uint32_t k = idx->fiche_items.offsets[f]; k < idx->fiche_items.offsets[f + 1]; k++) {
            uint32_t i = idx->fiche_items.targets[k];
            m->fiche_weight[k] = (float)item_weight(m, i, idx->fiche_items.importance ? idx->fiche_items.importance[k] : 0);
            m->fiche_total[f] += m->fiche_weight[k];
        }
    for (uint32_t f = 0; f < n_fiches; f++) m->fiche_inverse_total[f] = m->fiche_total[f] > 0 ? 1.0 / m->fiche_total[f] : 0.0;
    if (build_macro_lists(m)) goto nomem;
    if (build_job_links(m, err)) {
        matcher_free(m);
        return NULL;
    }
    m->titles = title_resolver_build(idx, err);
    if (!m->titles) {
        matcher_free(m);
        return NULL;
    }
    return m;
nomem:
    px_error_set(err, MATCHER_ERR_NOMEM, "matcher: out of memory while building");
    matcher_free(m);
    return NULL;
}

void matcher_free(matcher *m) {
    if (!m) return;
    title_resolver_free(m->titles);
    free(m->specificity);
    free(m->item_factor);
    free(m->item_edges);
    free(m->fiche_weight);
    free(m->job_links);
    free(m->ranked_links);
    free(m->macro_id);
    free(m->fiche_total);
    free(m->fiche_inverse_total);
    free(m->item_macro);
    free(m->macro_offsets);
    free(m->macro_edges);
    free(m);
}

/* ---- scratch ---- */

/* An (entity id, key) pair ranked by key descending, then id ascending (ids follow codes). */
typedef struct ranked {
    double key;
    uint32_t id;
} ranked;

#define ITEM_INFERRED 0x01u
#define ITEM_DECIDED 0x02u    /* confirmed, rejected or added: not asked again */
#define ITEM_DECLARED 0x04u   /* confirmed or added: held at confidence 1 */

#define FICHE_OWN 0x01u

#define DOMAIN_PREFERRED 0x01u
#define DOMAIN_EXCLUDED 0x02u

/* What a match knows of one item, kept together so that one lookup brings all of it. */
typedef struct item_rec {
    double support;           /* Σ weights of the supporting experiences */
    float held;               /* holding confidence, 0 = not held */
    float value;              /* what it counts for in a fiche (item_value), once macros are known */
    float macro_held;         /* for a macro-compétence: best holding among its held items */
    uint32_t from;            /* experiences the item was inferred from */
    uint32_t macro_from;      /* for a macro-compétence: experiences of its held items */
    uint8_t state;            /* ITEM_* */
    uint8_t best_importance;  /* best rome_importance among the experiences' fiches */
    uint8_t macro_declared;   /* for a macro-compétence: one of its held items is declared */
} item_rec;

_Static_assert(MATCHER_MAX_TOP <= UINT8_MAX, "matcher_scratch.opens counts suggested jobs in a byte");

/* What a link of a suggested job to an item brings, the same in every job of a match: its value,
 * where its contribution goes (the bucket of its source class) and whether the person holds it. */
typedef struct link_source {
    double value;
    uint32_t bucket;          /* class × SOURCE_BANKS */
    uint32_t held;            /* 1 when held(i) > 0 */
} link_source;

/* Who a contribution is split between: the experiences of `key`'s low 32 bits, and the declared
 * competences when bit 32 is set (see source_key). */
typedef struct source_class {
    uint64_t key;
    double parts;             /* how many ways it is split, at least 1 */
} source_class;

/* Consecutive links of a job add to different banks, so that an addition rarely waits for the
 * previous one to the same class to be stored. */
#define SOURCE_BANKS 8u

struct matcher_scratch {
    title_scratch *titles;
    /* items this match touched: slot[i] indexes item i's record in rec, 0 when untouched; rec[0]
     * stays all-zero (an untouched item holds nothing), rec[k] belongs to items[k - 1] */
    uint32_t *slot;
    uint64_t *touched;        /* bit i: item i has a record (a few KiB: stays in L1, unlike slot) */
    item_rec *rec;
    uint32_t *items;
    uint32_t n_items;
    uint32_t *macros;         /* macro-compétences with macro_held > 0 */
    uint32_t n_macros;
    uint8_t *opens;           /* per item: how many suggested jobs miss it (zero between matches); a
                                 fiche lists an item once, so at most MATCHER_MAX_TOP. One byte keeps
                                 this random-access array small enough for the cache. */
    /* per fiche */
    float *acc;               /* Σ value × w (dense: cheaper than tracking the touched ones) */
    uint8_t *fiche_flags;     /* FICHE_* */
    uint32_t *avoided;        /* bit k: avoid entry k excludes this fiche */
    uint8_t *gd_flags, *dom_flags;  /* DOMAIN_* per grand domaine / domaine professionnel */
    /* rankings */
    ranked *top, *top_all, *skills;
    /* describing the jobs (describe_jobs) */
    link_source *sources;     /* [0, n_macro_ids]: a macro credit by macro id, zero unless the macro is
                                 held ([n_macro_ids]: no macro, always zero); [n_macro_ids + k]: rec[k] */
    source_class *classes;    /* the match's distinct (experiences, declared) pairs */
    size_t classes_cap;
    uint32_t n_classes;
    uint32_t *class_table;    /* open addressing: class + 1 by source_key hash, 0 = free */
    size_t class_table_cap, class_mask;   /* the match uses class_mask + 1 entries, a power of two */
    double *buckets;          /* per class, SOURCE_BANKS running sums of a job's contributions */
    size_t buckets_cap;
    uint32_t *job_held;       /* the suggested jobs' held items, job after job */
    size_t job_held_cap;
    uint64_t *sorted;         /* a job's missing items as sort keys (missing_key): the run already
                                 sorted, the others before and after sorting */
    size_t sorted_cap;
};

matcher_scratch *matcher_scratch_new(const matcher *m, px_error *err) {
    const rome_index *idx = m->idx;
    size_t ni = idx->n.items ? idx->n.items : 1, nf = idx->n.fiches ? idx->n.fiches : 1;
    matcher_scratch *s = calloc(1, sizeof *s);
    if (!s) goto nomem;
    s->titles = title_scratch_new(m->titles, err);
    if (!s->titles) {
        matcher_scratch_free(s);
        return NULL;
    }
    s->slot = calloc(ni, sizeof *s->slot);
    s->sources = calloc(m->n_macro_ids + 1 + ni + 1, sizeof *s->sources);
    s->touched = calloc((ni + 63) / 64, sizeof *s->touched);
    s->rec = calloc(ni + 1, sizeof *s->rec);
    s->items = malloc(ni * sizeof *s->items);
    s->macros = malloc(ni * sizeof *s->macros);
    s->opens = calloc(ni, sizeof *s->opens);
    s->acc = calloc(nf, sizeof *s->acc);
    s->fiche_flags = calloc(nf, sizeof *s->fiche_flags);
    s->avoided = calloc(nf, sizeof *s->avoided);
    s->gd_flags = calloc(idx->n.grands_domaines + 1u, 1);
    s->dom_flags = calloc(idx->n.domaines + 1u, 1);
    s->top = malloc(MATCHER_MAX_TOP * sizeof *s->top);
    s->top_all = malloc(MATCHER_MAX_TOP * sizeof *s->top_all);
    s->skills = malloc(MATCHER_MAX_SKILLS_ASKED * sizeof *s->skills);
    if (!s->slot || !s->sources || !s->touched || !s->rec || !s->items || !s->macros || !s->opens ||
        !s->acc || !s->fiche_flags || !s->avoided || !s->gd_flags || !s->dom_flags || !s->top ||
        !s->top_all || !s->skills)
        goto nomem;
    return s;
nomem:
    matcher_scratch_free(s);
    px_error_set(err, MATCHER_ERR_NOMEM, "matcher: out of memory for a scratch area");
    return NULL;
}

void matcher_scratch_free(matcher_scratch *s) {
    if (!s) return;
    title_scratch_free(s->titles);
    free(s->slot);
    free(s->touched);
    free(s->rec);
    free(s->items);
    free(s->macros);
    free(s->opens);
    free(s->acc);
    free(s->fiche_flags);
    free(s->avoided);
    free(s->gd_flags);
    free(s->dom_flags);
    free(s->top);
    free(s->top_all);
    free(s->skills);
    free(s->sources);
    free(s->classes);
    free(s->class_table);
    free(s->buckets);
    free(s->job_held);
    free(s->sorted);
    free(s);
}

/* Puts the scratch back to all-zero for the next match (only what this match touched). */
static void scratch_reset(const matcher *m, matcher_scratch *s) {
    for (uint32_t k = 0; k < s->n_items; k++) {
        s->slot[s->items[k]] = 0;
        s->touched[s->items[k] / 64] = 0;
    }
    s->n_items = s->n_macros = 0;
    memset(s->acc, 0, m->idx->n.fiches * sizeof *s->acc);
    memset(s->fiche_flags, 0, m->idx->n.fiches);
    memset(s->avoided, 0, m->idx->n.fiches * sizeof *s->avoided);
    memset(s->gd_flags, 0, m->idx->n.grands_domaines);
    memset(s->dom_flags, 0, m->idx->n.domaines);
}

/* ---- ranking helpers ---- */

static bool ranks_before(const ranked *a, const ranked *b) {
    return a->key > b->key || (a->key == b->key && a->id < b->id);
}

/* Keeps the best `cap` entries of a stream in a heap whose root is the worst kept entry. */
static void heap_offer(ranked *heap, size_t *n, size_t cap, ranked r) {
    size_t i;
    if (*n < cap) {
        i = (*n)++;
        while (i > 0 && ranks_before(&heap[(i - 1) / 2], &r)) {
            heap[i] = heap[(i - 1) / 2];
            i = (i - 1) / 2;
        }
        heap[i] = r;
        return;
    }
    if (!cap || !ranks_before(&r, &heap[0])) return;
    i = 0;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= *n) break;
        if (c + 1 < *n && ranks_before(&heap[c], &heap[c + 1])) c++;
        if (!ranks_before(&r, &heap[c])) break;
        heap[i] = heap[c];
        i = c;
    }
    heap[i] = r;
}

/* Sort key of a missing item: usefulness descending, then item id (= code) ascending, as one
 * integer. The bits of a non-negative float order like the float itself. */
static uint64_t missing_key(float usefulness, uint32_t item) {
    uint32_t bits;
    memcpy(&bits, &usefulness, sizeof bits);
    return ((uint64_t)(UINT32_MAX - bits) << 32) | item;
}

/* Sorts best first (insertion sort: the arrays are small and often nearly sorted). */
static void rank_sort(ranked *v, size_t n) {
    for (size_t i = 1; i < n; i++) {
        ranked x = v[i];
        size_t j = i;
        for (; j > 0 && ranks_before(&x, &v[j - 1]); j--) v[j] = v[j - 1];
        v[j] = x;
    }
}

static int reserve(void **p, size_t *cap, size_t need, size_t elem, px_error *err) {
    if (need <= *cap) return 0;
    size_t ncap = *cap ? *cap : 16;
    while (ncap < need) ncap *= 2;
    void *np = realloc(*p, ncap * elem);
    if (!np) return px_error_set(err, MATCHER_ERR_NOMEM, "matcher: out of memory for a result");
    *p = np;
    *cap = ncap;
    return 0;
}

/* ---- the steps of a match ---- */

/* Item i's record, created (zeroed) on first touch. Records never move during a match. */
static inline item_rec *rec_of(matcher_scratch *s, uint32_t i) {
    uint32_t k = s->slot[i];
    if (!k) {
        k = ++s->n_items;
        s->slot[i] = k;
        s->touched[i / 64] |= 1ull << (i % 64);
        s->items[k - 1] = i;
        memset(&s->rec[k], 0, sizeof s->rec[k]);
    }
    return &s->rec[k];
}

/* Item i's record, or the all-zero record of an untouched item (or of ROME_NONE). */
static const item_rec *peek(const matcher_scratch *s, uint32_t i) {
    if (i == ROME_NONE || !(s->touched[i / 64] >> (i % 64) & 1u)) return &s->rec[0];
    return &s->rec[s->slot[i]];
}

/* A short experience counts less; an unknown duration counts as a full one. */
static double months_factor(int32_t months) {
    if (months < 0) return 1.0;
    return 0.5 + 0.5 * (months < 24 ? months : 24) / 24.0;
}

static int resolve_experiences(const matcher *m, matcher_scratch *s, const profile *p, match_result *out,
                               double *exp_weight, px_error *err) {
    const rome_index *idx = m->idx;
    if (reserve((void **)&out->experiences, &out->cap_experiences, p->n_experiences, sizeof *out->experiences, err))
        return -1;
    out->n_experiences = p->n_experiences;
    for (size_t e = 0; e < p->n_experiences; e++) {
        const profile_experience *x = &p->experiences[e];
        match_experience *r = &out->experiences[e];
        memset(r, 0, sizeof *r);
        r->appellation = r->fiche = ROME_NONE;
        if (x->kind == PROFILE_EXP_APPELLATION) {
            r->appellation = rome_appellation_find(idx, x->appellation);
            if (r->appellation == ROME_NONE)
                return px_error_set(err, MATCHER_ERR_INVALID, "experiences[%zu].appellation: unknown appellation code %u",
                                    e, x->appellation);
            r->fiche = idx->appellations[r->appellation].fiche;
            r->confidence = 1.0;
        } else if (x->kind == PROFILE_EXP_ROME) {
            r->fiche = rome_fiche_find(idx, x->rome);
            if (r->fiche == ROME_NONE)
                return px_error_set(err, MATCHER_ERR_INVALID, "experiences[%zu].rome: unknown fiche code \"%s\"", e,
                                    x->rome);
            r->confidence = 1.0;
        } else {
            title_match found[1 + MATCHER_MAX_ALTERNATIVES];
            px_error terr = {0, ""};
            int n = title_resolve(m->titles, s->titles, x->title ? x->title : "", found, 1 + m->cfg.alternatives, &terr);
            if (n < 0) {
                snprintf(r->error, sizeof r->error, "%s", terr.msg);
            } else if (n == 0 || found[0].confidence < m->cfg.title_min_confidence) {
                snprintf(r->error, sizeof r->error, "no appellation matches this title well enough (best %.2f, need %.2f)",
                         n ? found[0].confidence : 0.0, m->cfg.title_min_confidence);
            } else {
                r->appellation = found[0].appellation;
                r->fiche = idx->appellations[r->appellation].fiche;
                r->confidence = found[0].confidence;
            }
            for (int a = r->appellation == ROME_NONE ? 0 : 1; a < n && r->n_alternatives < m->cfg.alternatives; a++)
                r->alternatives[r->n_alternatives++] = (match_candidate){found[a].appellation, found[a].confidence};
        }
        r->resolved = r->fiche != ROME_NONE;
        exp_weight[e] = r->resolved ? r->confidence * months_factor(x->months) * (x->extra ? m->cfg.extra_weight : 1.0)
                                    : 0.0;
    }
    return 0;
}

/* Marks the items of every resolved experience's fiche as inferred. */
static void infer_items(const matcher *m, matcher_scratch *s, const match_result *out, const double *exp_weight) {
    const rome_csr *fi = &m->idx->fiche_items;
    for (size_t e = 0; e < out->n_experiences; e++) {
        uint32_t f = out->experiences[e].fiche;
        if (f == ROME_NONE) continue;
        float held = (float)(m->cfg.inferred_confidence * exp_weight[e]);
        for (uint32_t k = fi->offsets[f]; k < fi->offsets[f + 1]; k++) {
            uint32_t i = fi->targets[k];
            uint8_t imp = fi->importance ? fi->importance[k] : 0;
            item_rec *r = rec_of(s, i);
            if (!(r->from & (1u << e))) r->support += exp_weight[e];
            r->from |= 1u << e;
            r->state |= ITEM_INFERRED;
            if (imp > r->best_importance) r->best_importance = imp;
            if (held > r->held) r->held = held;
        }
    }
}

static int apply_decisions(const matcher *m, matcher_scratch *s, const profile *p, px_error *err) {
    const struct {
        const profile_codes *codes;
        const char *field;
        bool declared;
    } lists[] = {{&p->confirmed, "confirmed", true}, {&p->added, "added", true}, {&p->rejected, "rejected", false}};
    for (size_t l = 0; l < sizeof lists / sizeof lists[0]; l++)
        for (size_t k = 0; k < lists[l].codes->n; k++) {
            uint32_t i = rome_item_find(m->idx, lists[l].codes->v[k]);
            if (i == ROME_NONE)
                return px_error_set(err, MATCHER_ERR_INVALID, "%s[%zu]: unknown competence or savoir code %u",
                                    lists[l].field, k, lists[l].codes->v[k]);
            item_rec *r = rec_of(s, i);
            r->state |= ITEM_DECIDED;
            if (lists[l].declared) r->state |= ITEM_DECLARED;
        }
    /* rejected last: a code both confirmed and rejected is not held (profile_apply_decisions keeps them apart) */
    for (size_t k = 0; k < p->rejected.n; k++) {
        rec_of(s, rome_item_find(m->idx, p->rejected.v[k]))->state &= (uint8_t)~ITEM_DECLARED;
    }
    for (uint32_t k = 1; k <= s->n_items; k++) {
        item_rec *r = &s->rec[k];
        if (r->state & ITEM_DECLARED) r->held = 1.0f;
        else if (r->state & ITEM_DECIDED) r->held = 0.0f;
    }
    return 0;
}

static void mark_contexte(const matcher *m, matcher_scratch *s, uint32_t ctx, uint32_t bit) {
    const rome_csr *cf = &m->idx->contexte_fiches;
    for (uint32_t k = cf->offsets[ctx]; k < cf->offsets[ctx + 1]; k++) s->avoided[cf->targets[k]] |= bit;
}

static int apply_avoid(const matcher *m, matcher_scratch *s, const profile *p, match_result *out, px_error *err) {
    size_t n = p->avoid_contextes.n + p->avoid_named.n;
    if (n > MATCHER_MAX_AVOID)
        return px_error_set(err, MATCHER_ERR_INVALID, "avoid: %zu entries, at most %u are accepted", n, MATCHER_MAX_AVOID);
    if (reserve((void **)&out->constraints, &out->cap_constraints, n, sizeof *out->constraints, err)) return -1;
    out->n_constraints = n;
    for (size_t k = 0; k < p->avoid_contextes.n; k++) {
        uint32_t ctx = rome_contexte_find(m->idx, p->avoid_contextes.v[k]);
        if (ctx == ROME_NONE)
            return px_error_set(err, MATCHER_ERR_INVALID, "avoid: unknown contexte code %u", p->avoid_contextes.v[k]);
        out->constraints[k] = (match_constraint_cost){-1, p->avoid_contextes.v[k], 0};
        mark_contexte(m, s, ctx, 1u << k);
    }
    for (size_t k = 0; k < p->avoid_named.n; k++) {
        const matcher_constraint *c = matcher_config_constraint(&m->cfg, p->avoid_named.v[k]);
        if (!c)
            return px_error_set(err, MATCHER_ERR_INVALID, "avoid: unknown named constraint \"%s\"", p->avoid_named.v[k]);
        int32_t ci = (int32_t)(c - m->cfg.constraints);
        size_t slot = p->avoid_contextes.n + k;
        out->constraints[slot] = (match_constraint_cost){ci, 0, 0};
        for (uint32_t j = 0; j < c->n_codes; j++) mark_contexte(m, s, m->constraint_ctx[ci][j], 1u << slot);
    }
    return 0;
}

static int apply_domains(const matcher *m, matcher_scratch *s, const profile_strings *list, const char *field,
                         uint8_t flag, px_error *err) {
    if (list->n > MATCHER_MAX_DOMAINS)
        return px_error_set(err, MATCHER_ERR_INVALID, "%s: %zu entries, at most %u are accepted", field, list->n,
                            MATCHER_MAX_DOMAINS);
    for (size_t k = 0; k < list->n; k++) {
        const char *code = list->v[k];
        uint32_t id;
        if (strlen(code) == 1 && (id = rome_grand_domaine_find(m->idx, code)) != ROME_NONE) s->gd_flags[id] |= flag;
        else if (strlen(code) == 3 && (id = rome_domaine_find(m->idx, code)) != ROME_NONE) s->dom_flags[id] |= flag;
        else
            return px_error_set(err, MATCHER_ERR_INVALID,
                                "%s[%zu]: \"%s\" is neither a grand domaine (\"J\") nor a domaine professionnel (\"M18\")",
                                field, k, code);
    }
    return 0;
}

/* The skills to ask about: inferred, not yet decided, most informative first. */
static int suggest_skills(const matcher *m, matcher_scratch *s, match_result *out, px_error *err) {
    size_t n = 0;
    for (uint32_t k = 0; k < s->n_items; k++) {
        const item_rec *r = &s->rec[k + 1];
        if (r->state != ITEM_INFERRED) continue;
        heap_offer(s->skills, &n, m->cfg.skills_asked,
                   (ranked){item_weight(m, s->items[k], r->best_importance) * r->support, s->items[k]});
    }
    rank_sort(s->skills, n);
    if (reserve((void **)&out->skills, &out->cap_skills, n, sizeof *out->skills, err)) return -1;
    out->n_skills = n;
    for (size_t k = 0; k < n; k++) {
        uint32_t i = s->skills[k].id;
        const item_rec *r = peek(s, i);
        match_skill *sk = &out->skills[k];
        sk->item = i;
        sk->from = r->from;
        sk->weight = s->skills[k].key;
        sk->importance = m->importance_weight[r->best_importance];
        sk->kind_factor = m->idx->items[i].kind == ROME_KIND_SAVOIR_ETRE ? m->cfg.savoir_etre_factor : 1.0;
        sk->specificity = m->specificity[i];
        sk->support = r->support;
    }
    return 0;
}

/* The macro-compétences the person holds something of, with the best holding under each. */
static void hold_macros(const matcher *m, matcher_scratch *s) {
    uint32_t touched = s->n_items;   /* macro records created below are not items to visit */
    for (uint32_t k = 0; k < touched; k++) {
        uint32_t mac = m->item_macro[s->items[k]];
        const item_rec *r = &s->rec[k + 1];
        if (r->held <= 0 || mac == ROME_NONE) continue;
        item_rec *mr = rec_of(s, mac);
        if (mr->macro_held == 0) s->macros[s->n_macros++] = mac;
        if (r->held > mr->macro_held) mr->macro_held = r->held;
        if (r->state & ITEM_DECLARED) mr->macro_declared = 1;
        if (r->state & ITEM_INFERRED) mr->macro_from |= r->from;
    }
}

static double item_value(const matcher *m, const item_rec *r, const item_rec *macro);

/* Set bits of x (SWAR: __builtin_popcount would call libgcc without -mpopcnt). */
static uint32_t bit_count(uint32_t x) {
    x = x - ((x >> 1) & 0x55555555u);
    x = (x & 0x33333333u) + ((x >> 2) & 0x33333333u);
    return (((x + (x >> 4)) & 0x0F0F0F0Fu) * 0x01010101u) >> 24;
}

/* Each touched item's value, computed once for the accumulation and every job description. */
static void value_items(const matcher *m, matcher_scratch *s) {
    for (uint32_t k = 0; k < s->n_items; k++)
        s->rec[k + 1].value = (float)item_value(m, &s->rec[k + 1], peek(s, m->item_macro[s->items[k]]));
}

/* What an item of a fiche counts for: its own holding, or the macro credit of a held sibling —
 * nothing at all when rejected. */
static double item_value(const matcher *m, const item_rec *r, const item_rec *macro) {
    if ((r->state & ITEM_DECIDED) && !(r->state & ITEM_DECLARED)) return 0.0;
    double credit = m->cfg.macro_credit * macro->macro_held;
    return r->held > credit ? r->held : credit;
}

/* acc[fiche] += factor × weight along one inverted list. Unrolled by
 * hand: this loop is most of a match's accumulation, and the additions stay in list order. */
static void scatter_add(float *restrict acc, const weighted_edge *restrict e, uint32_t n, float factor) {
    const weighted_edge *end = e + n;
    for (; end - e >= 4; e += 4) {
        float w0 = factor * e[0].weight, w1 = factor * e[1].weight;
        float w2 = factor * e[2].weight, w3 = factor * e[3].weight;
        acc[e[0].fiche] += w0;
        acc[e[1].fiche] += w1;
        acc[e[2].fiche] += w2;
        acc[e[3].fiche] += w3;
    }
    for (; e < end; e++) acc[e->fiche] += factor * e->weight;
}

/* Σ value(i) × w(f, i) for every fiche sharing a held item or a held macro-compétence, through the
 * inverted lists: first the macro credit for whole macros, then each touched item's difference. */
static void accumulate(const matcher *m, matcher_scratch *s) {
    for (uint32_t k = 0; k < s->n_macros; k++) {
        uint32_t mac = s->macros[k];
        float credit = (float)(m->cfg.macro_credit * peek(s, mac)->macro_held);
        if (credit <= 0) continue;
        scatter_add(s->acc, m->macro_edges + m->macro_offsets[mac], m->macro_offsets[mac + 1] - m->macro_offsets[mac],
                    credit);
    }
    const rome_csr *inv = &m->idx->item_fiches;
    for (uint32_t k = 0; k < s->n_items; k++) {
        uint32_t i = s->items[k];
        const item_rec *macro = peek(s, m->item_macro[i]);
        float delta = s->rec[k + 1].value - (float)(m->cfg.macro_credit * macro->macro_held);
        if (delta == 0) continue;
        scatter_add(s->acc, m->item_edges + inv->offsets[i], inv->offsets[i + 1] - inv->offsets[i], delta);
    }
}

static double coverage(const matcher *m, const matcher_scratch *s, uint32_t f) {
    double c = s->acc[f] * m->fiche_inverse_total[f];
    return c > 1.0 ? 1.0 : c < 0.0 ? 0.0 : c;  /* float sums of weights may stray by an ulp */
}

static uint8_t domain_flags(const matcher *m, const matcher_scratch *s, uint32_t f) {
    const rome_fiche *fi = &m->idx->fiches[f];
    return s->gd_flags[fi->grand_domaine] | s->dom_flags[fi->domaine];
}

/* Ranks the touched fiches twice (with and without constraints/excluded domains), counts what
 * each constraint removed and lists the person's own fiches. */
static int rank_fiches(const matcher *m, matcher_scratch *s, const profile *p, match_result *out, size_t *n_top,
                       px_error *err) {
    bool any_preferred = p->domains.n > 0;
    bool count_removed = out->n_constraints > 0 || p->exclude_domains.n > 0;  /* else both rankings agree */
    bool any_domain = any_preferred || p->exclude_domains.n > 0;
    size_t n_all = 0, n_cur = 0;
    *n_top = 0;
    for (size_t e = 0; e < out->n_experiences; e++)
        if (out->experiences[e].fiche != ROME_NONE && !p->experiences[e].extra)
            s->fiche_flags[out->experiences[e].fiche] |= FICHE_OWN;
    /* Once a heap is full, a fiche must score above its worst entry: fiches come in id order, so
     * an equal score never ranks before an entry already kept. -1 = not full yet. */
    double floor_top = -1, floor_all = count_removed ? -1 : 2, floor_both = -1;
    uint32_t scored = 0, n_fiches = m->idx->n.fiches;
    /* By blocks of 32 fiches: a branch-free pass marks those whose unclamped coverage (an upper
     * bound of the score) beats the lower floor; the floors only rise, so the others could not
     * enter a heap. Once the heaps are full, most blocks have no candidate at all. */
    for (uint32_t base = 0; base < n_fiches; base += 32) {
        uint32_t end = n_fiches - base < 32 ? n_fiches : base + 32, candidates = 0;
        for (uint32_t f = base; f < end; f++) {
            scored += s->acc[f] > 0;   /* else it shares nothing with the person: never reached */
            candidates |= (uint32_t)(s->acc[f] * m->fiche_inverse_total[f] > floor_both) << (f - base);
        }
        for (; candidates; candidates &= candidates - 1) {
            uint32_t f = base + (uint32_t)__builtin_ctz(candidates);
            if (s->acc[f] <= 0 || s->acc[f] * m->fiche_inverse_total[f] <= floor_both) continue;
            uint8_t dom = any_domain ? domain_flags(m, s, f) : 0;
            double score = coverage(m, s, f);
            if (any_preferred && !(dom & DOMAIN_PREFERRED)) score /= 1.0 + m->cfg.domain_boost;
            if ((score <= floor_top && score <= floor_all) || (s->fiche_flags[f] & FICHE_OWN)) continue;
            ranked r = {score, f};
            if (score > floor_all) {
                heap_offer(s->top_all, &n_all, m->cfg.top, r);
                if (n_all == m->cfg.top) floor_all = s->top_all[0].key;
            }
            if (score > floor_top && !s->avoided[f] && !(dom & DOMAIN_EXCLUDED)) {
                heap_offer(s->top, n_top, m->cfg.top, r);
                if (*n_top == m->cfg.top) floor_top = s->top[0].key;
            }
            floor_both = floor_top < floor_all ? floor_top : floor_all;
        }
    }
    out->fiches_scored = scored;
    rank_sort(s->top, *n_top);
    out->removed_by_domain = 0;
    for (size_t k = 0; k < n_all; k++) {
        uint32_t f = s->top_all[k].id;
        for (size_t c = 0; c < out->n_constraints; c++)
            if (s->avoided[f] & (1u << c)) out->constraints[c].removed++;
        if (domain_flags(m, s, f) & DOMAIN_EXCLUDED) out->removed_by_domain++;
    }
    for (size_t e = 0; e < out->n_experiences; e++)
        if (out->experiences[e].fiche != ROME_NONE && !p->experiences[e].extra) n_cur++;
    if (reserve((void **)&out->current, &out->cap_current, n_cur, sizeof *out->current, err)) return -1;
    out->n_current = 0;
    for (size_t e = 0; e < out->n_experiences; e++) {
        uint32_t f = out->experiences[e].fiche;
        if (f == ROME_NONE || p->experiences[e].extra || !(s->fiche_flags[f] & FICHE_OWN)) continue;
        s->fiche_flags[f] &= (uint8_t)~FICHE_OWN;  /* list each fiche once */
        size_t pos = out->n_current++;
        while (pos > 0 && out->current[pos - 1].fiche > f) {
            out->current[pos] = out->current[pos - 1];
            pos--;
        }
        out->current[pos] = (match_current){f, coverage(m, s, f)};
    }
    return 0;
}

/* The source class key of contributions split between the experiences `from` and, when
 * `declared`, the confirmed/added competences. */
static uint64_t source_key(uint32_t from, bool declared) {
    return (uint64_t)declared << 32 | from;
}

/* The class of key, created on first sight (the table has room: see prepare_sources). */
static uint32_t source_class_of(matcher_scratch *s, uint64_t key) {
    size_t mask = s->class_mask, h = (size_t)((key * 0x9E3779B97F4A7C15ull) >> 32) & mask;
    for (; s->class_table[h]; h = (h + 1) & mask)
        if (s->classes[s->class_table[h] - 1].key == key) return s->class_table[h] - 1;
    uint32_t c = s->n_classes++, parts = (uint32_t)(key >> 32) + bit_count((uint32_t)key);
    s->classes[c] = (source_class){key, parts ? parts : 1};
    s->class_table[h] = c + 1;
    return c;
}

/* Gives each touched item and held macro-compétence the link_source of this match. An item's value
 * × w is split (docs/matching.md, reasons) between the experiences it was inferred from and
 * "declared" when it counts directly (held >= value), else between those of the held items under
 * its macro-compétence. A match has few distinct such splits, so a job sums its contributions per
 * split (class) and divides each sum once, instead of dividing every link's. */
static int prepare_sources(const matcher *m, matcher_scratch *s, px_error *err) {
    size_t most = 1 + (size_t)s->n_items + s->n_macros, table = 16;   /* class 0, one per record or macro */
    while (table < 2 * most) table *= 2;   /* at most half full: probes stay short */
    if (reserve((void **)&s->class_table, &s->class_table_cap, table, sizeof *s->class_table, err) ||
        reserve((void **)&s->classes, &s->classes_cap, most, sizeof *s->classes, err) ||
        reserve((void **)&s->buckets, &s->buckets_cap, most * SOURCE_BANKS, sizeof *s->buckets, err))
        return -1;
    memset(s->class_table, 0, table * sizeof *s->class_table);
    s->class_mask = table - 1;
    s->n_classes = 0;
    uint64_t last_key = source_key(0, false);
    uint32_t last = source_class_of(s, last_key);   /* class 0: links that bring nothing */
    for (uint32_t k = 0; k < s->n_macros; k++) {   /* first: an item credited by its macro takes its class */
        const item_rec *macro = peek(s, s->macros[k]);
        uint32_t c = source_class_of(s, source_key(macro->macro_from, macro->macro_declared != 0));
        s->sources[m->macro_id[s->macros[k]]] =
            (link_source){m->cfg.macro_credit * macro->macro_held, c * SOURCE_BANKS, 0};
    }
    for (uint32_t k = 1; k <= s->n_items; k++) {
        const item_rec *r = &s->rec[k];
        uint32_t bucket;
        if (r->held >= r->value) {   /* mostly true, and the macro records hold_macros added come last */
            uint64_t key = source_key((r->state & ITEM_INFERRED) ? r->from : 0, (r->state & ITEM_DECLARED) != 0);
            if (key != last_key) {   /* records come in runs of one experience's fiche */
                last_key = key;
                last = source_class_of(s, key);
            }
            bucket = last * SOURCE_BANKS;
        } else {
            bucket = s->sources[m->macro_id[s->items[k - 1]]].bucket;
        }
        s->sources[m->n_macro_ids + k] = (link_source){r->value, bucket, r->held > 0};
    }
    memset(s->buckets, 0, s->n_classes * SOURCE_BANKS * sizeof *s->buckets);
    return 0;
}

/* Splits each class's sum between its experiences (part[e]) and the declared competences
 * (part[MATCHER_MAX_EXPERIENCES]), emptying the buckets for the next job. Returns Σ value × w. */
static double split_classes(matcher_scratch *s, double *part) {
    double total = 0;
    for (uint32_t c = 0; c < s->n_classes; c++) {
        double *bank = s->buckets + c * SOURCE_BANKS, sum = 0;
        for (uint32_t b = 0; b < SOURCE_BANKS; b++) {
            sum += bank[b];
            bank[b] = 0;
        }
        total += sum;
        uint64_t key = s->classes[c].key;
        double share = sum / s->classes[c].parts;
        if (key >> 32) part[MATCHER_MAX_EXPERIENCES] += share;
        for (uint32_t from = (uint32_t)key; from; from &= from - 1) part[__builtin_ctz(from)] += share;
    }
    return total;
}

/* The biggest parts, as shares of the whole, biggest first (ties: lower experience index, then
 * "declared"). Only the profile's experiences can have a part. */
static void pick_reasons(const double *part, uint32_t n_experiences, double total, match_job *job) {
    job->n_reasons = 0;
    for (uint32_t k = 0; k <= n_experiences; k++) {
        uint32_t e = k < n_experiences ? k : MATCHER_MAX_EXPERIENCES;
        if (part[e] <= 0) continue;
        match_reason r = {e == MATCHER_MAX_EXPERIENCES ? -1 : (int32_t)e, part[e] / total};
        uint32_t pos = job->n_reasons < MATCHER_MAX_REASONS ? job->n_reasons++ : MATCHER_MAX_REASONS;
        while (pos > 0 && r.share > job->reasons[pos - 1].share) {
            if (pos < MATCHER_MAX_REASONS) job->reasons[pos] = job->reasons[pos - 1];
            pos--;
        }
        if (pos < MATCHER_MAX_REASONS) job->reasons[pos] = r;
    }
}

/* Sorts the distinct keys v[0..n) into out by counting, for each, the keys below it: no branch
 * depends on the keys (an insertion sort mispredicts about once per key). Two counters halve the
 * chain of additions. n² comparisons, for short runs (16 keys on average). */
static void rank_sort_keys(const uint64_t *v, uint32_t n, uint64_t *out) {
    for (uint32_t b = 0; b < n; b++) {
        uint32_t below = 0, below_odd = 0, c = 0;
        for (; c + 1 < n; c += 2) {
            below += v[c] < v[b];
            below_odd += v[c + 1] < v[b];
        }
        if (c < n) below += v[c] < v[b];
        out[below + below_odd] = v[b];
    }
}

/* Writes a job's missing items, most useful first (w × opens descending, then item), then its
 * qualifications in the same order; returns how many are missing and sets *n_qualifications.
 * The items no other job misses (opens == 1) come in the fiche's ranked order, already sorted;
 * the others (16 on average) are sorted here, then both runs are merged. Held items have
 * opens == 0 and are left out. single and shared have room for n + 1 keys, unsorted for n. */
static uint32_t order_missing(const ranked_link *links, uint32_t n, const uint8_t *opens, uint64_t *single,
                              uint64_t *unsorted, uint64_t *shared, uint32_t *codes, uint32_t *n_qualifications) {
    uint32_t n_single = 0, n_shared = 0;
    for (uint32_t t = 0; t < n; t++) {
        uint32_t jobs = opens[links[t].item_flag >> 1];
        uint64_t key = missing_key(links[t].weight * (float)jobs, links[t].item_flag);
        single[n_single] = key;
        unsorted[n_shared] = key;
        n_single += jobs == 1;
        n_shared += jobs > 1;
    }
    rank_sort_keys(unsorted, n_shared, shared);
    single[n_single] = shared[n_shared] = UINT64_MAX;   /* above any key: item_flag < UINT32_MAX */
    uint32_t n_missing = n_single + n_shared, q = n_missing;
    for (uint32_t a = 0, b = 0, o = 0; o < n_missing; o++) {   /* which run comes next is not predictable */
        bool from_single = single[a] < shared[b];
        uint32_t item_flag = (uint32_t)(from_single ? single[a] : shared[b]);
        a += from_single;
        b += !from_single;
        codes[o] = codes[q] = item_flag >> 1;
        q += item_flag & 1;
    }
    *n_qualifications = q - n_missing;
    return n_missing;
}

/* Fills the jobs: held by code, missing by usefulness (w × how many suggested jobs miss it), reasons.
 * A first pass over every job's links looks each item up once (its link_source: the item's record
 * when touched, else its macro credit), counts the jobs missing it and sums the job's contributions
 * per class; the second orders each job's missing items, which needs every job's counts. Branches
 * are avoided where the data decides (held or not, which class): they could not be predicted. */
static int describe_jobs(const matcher *m, matcher_scratch *s, match_result *out, size_t n_top, px_error *err) {
    const rome_csr *fi = &m->idx->fiche_items;
    size_t links = 0, widest = 0;
    for (size_t j = 0; j < n_top; j++) {
        uint32_t first = fi->offsets[s->top[j].id], n = fi->offsets[s->top[j].id + 1] - first;
        links += n;
        if (n > widest) widest = n;
        /* the jobs' fiches change with every match: ask for them now, they come while the sources
         * are prepared */
        for (uint32_t t = 0; t < n; t += 64 / sizeof *m->job_links) __builtin_prefetch(m->job_links + first + t);
        for (uint32_t t = 0; t < n; t += 64 / sizeof *m->ranked_links) __builtin_prefetch(m->ranked_links + first + t);
    }
    if (reserve((void **)&out->jobs, &out->cap_jobs, n_top, sizeof *out->jobs, err) ||
        reserve((void **)&out->codes, &out->cap_codes, 2 * links, sizeof *out->codes, err) ||
        reserve((void **)&s->sorted, &s->sorted_cap, 3 * (widest + 1), sizeof *s->sorted, err) ||
        reserve((void **)&s->job_held, &s->job_held_cap, links, sizeof *s->job_held, err) ||
        prepare_sources(m, s, err))
        return -1;
    /* locals: a byte store (opens) may alias anything reached through s or m */
    const uint32_t *slots = s->slot;
    const uint64_t *touched_bits = s->touched;
    const link_source *sources = s->sources;
    uint32_t n_macro_ids = m->n_macro_ids;
    uint8_t *opens = s->opens;
    uint32_t *job_held = s->job_held;
    double *buckets = s->buckets;
    size_t n_held = 0;
    out->n_jobs = n_top;
    for (size_t j = 0; j < n_top; j++) {
        uint32_t f = s->top[j].id, first = fi->offsets[f], n = fi->offsets[f + 1] - first;
        match_job *job = &out->jobs[j];
        job->fiche = f;
        job->score = s->top[j].key;
        job->coverage = coverage(m, s, f);
        job->held.n = (uint32_t)n_held;   /* its start, until the count is known */
        const job_link *link = m->job_links + first;
        for (uint32_t t = 0; t < n; t++) {
            uint32_t i = link[t].item;
            /* all ones when touched; masks rather than ?: so that the compiler cannot make branches.
             * An untouched item's slot is not loaded (slot[] is too big for L1): slot[0] is. */
            uint32_t touched = 0u - (uint32_t)(touched_bits[i / 64] >> (i % 64) & 1u);
            uint32_t slot = slots[i & touched];
            const link_source *src = &sources[((n_macro_ids + slot) & touched) | (link[t].macro_id & ~touched)];
            job_held[n_held] = i;
            n_held += src->held;
            opens[i] += (uint8_t)(1 - src->held);
            buckets[src->bucket + t % SOURCE_BANKS] += src->value * link[t].weight;
        }
        job->held.n = (uint32_t)n_held - job->held.n;
        double part[MATCHER_MAX_EXPERIENCES + 1] = {0};
        double total = split_classes(s, part);
        pick_reasons(part, (uint32_t)out->n_experiences, total, job);
    }
    out->n_codes = 0;
    for (size_t j = 0, h = 0; j < n_top; j++) {
        match_job *job = &out->jobs[j];
        uint32_t first = fi->offsets[job->fiche], n = fi->offsets[job->fiche + 1] - first;
        job->held.off = (uint32_t)out->n_codes;
        memcpy(out->codes + out->n_codes, s->job_held + h, job->held.n * sizeof *out->codes);
        h += job->held.n;
        out->n_codes += job->held.n;
        job->missing.off = (uint32_t)out->n_codes;
        job->missing.n = order_missing(m->ranked_links + first, n, s->opens, s->sorted, s->sorted + widest + 1,
                                       s->sorted + 2 * (widest + 1), out->codes + out->n_codes, &job->qualifications.n);
        out->n_codes += job->missing.n;
        job->qualifications.off = (uint32_t)out->n_codes;
        out->n_codes += job->qualifications.n;
    }
    memset(opens, 0, m->idx->n.items);   /* one sweep of 33 KB costs less than ~850 scattered stores */
    for (uint32_t k = 0; k < s->n_macros; k++) s->sources[m->macro_id[s->macros[k]]] = (link_source){0, 0, 0};
    return 0;
}

static int check_limits(const profile *p, px_error *err) {
    if (p->n_experiences > MATCHER_MAX_EXPERIENCES)
        return px_error_set(err, MATCHER_ERR_INVALID, "experiences: %zu given, at most %u are accepted",
                            p->n_experiences, MATCHER_MAX_EXPERIENCES);
    size_t decisions = p->confirmed.n + p->rejected.n + p->added.n;
    if (decisions > MATCHER_MAX_DECISIONS)
        return px_error_set(err, MATCHER_ERR_INVALID, "confirmed + rejected + added: %zu codes, at most %u are accepted",
                            decisions, MATCHER_MAX_DECISIONS);
    return 0;
}

int matcher_run(const matcher *m, matcher_scratch *s, const profile *p, match_result *out, px_error *err) {
    double exp_weight[MATCHER_MAX_EXPERIENCES];
    size_t n_top = 0;
    px_error local = {0, ""};
    if (!err) err = &local;
    px_error_clear(err);
    out->n_experiences = out->n_skills = out->n_jobs = out->n_current = out->n_constraints = out->n_codes = 0;
    out->removed_by_domain = out->fiches_scored = 0;
    int rc = -1;
    if (check_limits(p, err) || resolve_experiences(m, s, p, out, exp_weight, err)) goto done;
    infer_items(m, s, out, exp_weight);
    if (apply_decisions(m, s, p, err) || apply_avoid(m, s, p, out, err) ||
        apply_domains(m, s, &p->domains, "domains", DOMAIN_PREFERRED, err) ||
        apply_domains(m, s, &p->exclude_domains, "exclude_domains", DOMAIN_EXCLUDED, err) ||
        suggest_skills(m, s, out, err))
        goto done;
    hold_macros(m, s);
    value_items(m, s);
    accumulate(m, s);
    if (rank_fiches(m, s, p, out, &n_top, err) || describe_jobs(m, s, out, n_top, err)) goto done;
    rc = 0;
done:
    scratch_reset(m, s);
    return rc;
}

void match_result_free(match_result *r) {
    if (!r) return;
    free(r->experiences);
    free(r->skills);
    free(r->jobs);
    free(r->current);
    free(r->constraints);
    free(r->codes);
    memset(r, 0, sizeof *r);
}
