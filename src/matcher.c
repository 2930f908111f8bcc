#include "matcher.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
/* x86-64 builds pick, at load time, loops written for the CPU's widest vectors. PX_MATCHER_PORTABLE
 * builds only the portable C, as other CPUs run it (tests compare the two). */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(PX_MATCHER_PORTABLE)
#define PX_MATCHER_X86 1
#include <immintrin.h>
#endif

#include "code_table.h"
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

/* Vectors of DENSE_LANES floats (64 bytes): one AVX-512 register, two AVX2 or four SSE ones; the
 * per-fiche arrays the vector loops read are padded to whole vectors and aligned to one. */
#define DENSE_LANES 16u
typedef float dense_vector __attribute__((vector_size(DENSE_LANES * sizeof(float))));
typedef float half_vector __attribute__((vector_size(DENSE_LANES / 2 * sizeof(float))));
typedef double score_vector __attribute__((vector_size(DENSE_LANES / 2 * sizeof(double))));
typedef int64_t score_mask __attribute__((vector_size(DENSE_LANES / 2 * sizeof(int64_t))));
typedef uint64_t uint64_vector __attribute__((vector_size(DENSE_LANES / 2 * sizeof(uint64_t))));
_Static_assert(DENSE_LANES / 2 == 8, "score_fiches reads the flags of a score_vector's 8 fiches as one uint64_t");
#define SCORE_LANES (DENSE_LANES / 2)             /* doubles in a score_vector */
#define SCORE_GROUP (SCORE_LANES * SCORE_LANES)   /* fiches whose lane maxima score_fiches keeps */

/* The vector loops are compiled for the widest vectors the CPU has, chosen at load time. */
#ifdef PX_MATCHER_X86
#define VECTOR_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define VECTOR_CLONES
#endif

/* One step of an inverted list with its weight, together so that the accumulation reads one stream. */
typedef struct weighted_edge {
    uint32_t fiche;
    float weight;
} weighted_edge;

/* What a match reads of one item, together: the items a match touches are scattered over 33,671,
 * and one cache line per item costs less than one per array. 16 bytes: none straddles two lines. */
typedef struct item_info {
    double specificity;           /* see docs/matching.md */
    uint32_t macro;               /* its macro-compétence (itself for a macro), or ROME_NONE */
    uint32_t macro_id : 31;       /* the dense id of its macro-compétence in [0, n_macro_ids), or
                                     n_macro_ids for none (at most MATCHER_MAX_ITEMS) */
    uint32_t savoir_etre : 1;     /* a savoir-être: its kind factor is savoir_etre_factor, else 1 */
} item_info;
_Static_assert(sizeof(item_info) == 16, "item_info: 4 to a cache line");

/* One fiche-item link as describing a job reads it: the item and w(fiche, item). */
typedef struct job_link {
    uint32_t item;
    float weight;
} job_link;

/* A link in its fiche's missing order: w(fiche, item) and the item, tagged: item << 1, | 1 when it
 * is a savoir of ROME's qualification categories. The tag rides below the item in the sort keys
 * (missing_key), where it changes no order: a job lists an item once. */
typedef struct ranked_link {
    float weight;
    uint32_t tagged;
} ranked_link;
_Static_assert(sizeof(ranked_link) == 8 && offsetof(ranked_link, tagged) == 4,
               "split_missing_avx512 reads a ranked_link as one 64-bit lane, the tagged item in its high half");
#define TAGGED_ITEM(tagged) ((uint32_t)(tagged) >> 1)   /* of a tagged item or a key; ids fit 31 bits */

struct matcher {
    const rome_index *idx;
    matcher_config cfg;
    title_resolver *titles;
    code_table *item_codes, *appellation_codes;   /* the profile's codes, found in one probe each */
    uint32_t *appellation_fiche;  /* per appellation, its fiche: 4 bytes where rome_appellation has 20,
                                     so that an experience's fiche is more often in cache */
    double importance_weight[3];  /* by rome_importance */
    item_info *item;              /* per item */
    uint32_t *item_links;         /* parallel to idx->item_fiches.targets: fiche << 2 | its importance of
                                     the item (w takes 3 values per item: 4 bytes instead of 8 per link) */
    float *fiche_weight;          /* parallel to idx->fiche_items.targets: w(fiche, item) */
    job_link *job_links;          /* parallel to idx->fiche_items.targets */
    ranked_link *ranked_links;    /* per fiche, its links by w(fiche, item) descending, then by item */
    uint32_t n_macro_ids;
    double *fiche_total;          /* per fiche: Σ w(fiche, item) over its items */
    double *fiche_inverse_total;  /* per fiche: 1 / fiche_total, or 0 for a fiche without items; dense_stride long */
    uint32_t *macro_offsets;      /* macro → its slice of macro_edges (CSR offsets, by item id) */
    weighted_edge *macro_edges;   /* (fiche having items under the macro, Σ w(fiche, item) over them), by fiche */
    float *dense_rows;            /* the long inverted lists again as rows of dense_stride weights by fiche */
    uint32_t dense_stride;        /* floats per row: n_fiches rounded up to whole SCORE_GROUPs */
    uint32_t *macro_dense;        /* per macro-compétence (by item id): its row of macro_edges weights, or ROME_NONE */
    uint32_t *item_dense;         /* per item: its row of w(fiche, item) in dense_rows, or ROME_NONE */
    uint32_t *domain_offsets;     /* CSR: grand domaine g's fiches, then domaine d's at n.grands_domaines + d */
    uint32_t *domain_fiches;
    float *fiche_rows;            /* per fiche F, dense_stride floats: what one experience in F adds to
                                     every fiche, per unit of its holding (see build_fiche_rows) */
    uint32_t constraint_ctx[MATCHER_MAX_CONSTRAINTS][MATCHER_CONSTRAINT_CODES_MAX]; /* contexte ids */
    bool avx512;                  /* the CPU runs the *_avx512 loops */
};

const rome_index *matcher_index(const matcher *m) { return m->idx; }
const matcher_config *matcher_get_config(const matcher *m) { return &m->cfg; }

/* The kind factor × specificity of an item. */
static double item_factor(const matcher *m, const item_info *info) {
    return (info->savoir_etre ? m->cfg.savoir_etre_factor : 1.0) * info->specificity;
}

/* w(f, i) = importance weight × kind factor × specificity: what holding i is worth towards f. */
static double item_weight(const matcher *m, uint32_t item, uint8_t importance) {
    return m->importance_weight[importance <= ROME_IMPORTANCE_PRINCIPALE ? importance : 0] *
           item_factor(m, &m->item[item]);
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
    m->macro_offsets = offsets;
    if (!offsets || !last) {
        free(last);
        return -1;
    }
    for (uint32_t i = 0; i < n_items; i++) {
        const rome_item *it = &idx->items[i];
        m->item[i].macro = (it->flags & ROME_ITEM_MACRO) ? i : it->macro;
        last[i] = ROME_NONE;
    }
    /* pass 1: count distinct fiches per macro (offsets shifted by one), pass 2: fill */
    for (uint32_t f = 0; f < idx->n.fiches; f++)
        for (uint32_t k = fi->offsets[f]; k < fi->offsets[f + 1]; k++) {
            uint32_t mac = m->item[fi->targets[k]].macro;
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
            uint32_t i = fi->targets[k], mac = m->item[i].macro;
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
static int build_job_links(matcher *m) {
    const rome_index *idx = m->idx;
    const rome_csr *fi = &idx->fiche_items;
    uint32_t n_items = idx->n.items;
    size_t links = fi->offsets[idx->n.fiches];
    m->job_links = malloc((links + 1) * sizeof *m->job_links);
    m->ranked_links = malloc((links + 1) * sizeof *m->ranked_links);
    uint64_t *keys = malloc((links + 1) * sizeof *keys);
    uint32_t *ids = malloc(((size_t)n_items + 1) * sizeof *ids);   /* per macro-compétence, its number */
    if (!m->job_links || !m->ranked_links || !keys || !ids) {
        free(keys);
        free(ids);
        return -1;
    }
    for (uint32_t i = 0; i < n_items; i++) ids[i] = ROME_NONE;
    for (uint32_t i = 0; i < n_items; i++) {   /* number the macro-compétences (a macro is its own) */
        uint32_t mac = m->item[i].macro;
        if (mac != ROME_NONE && ids[mac] == ROME_NONE) ids[mac] = m->n_macro_ids++;
    }
    for (uint32_t i = 0; i < n_items; i++) {   /* then give every item its macro's number */
        uint32_t mac = m->item[i].macro;
        m->item[i].macro_id = mac == ROME_NONE ? m->n_macro_ids : ids[mac];   /* < 2^31: MATCHER_MAX_ITEMS */
    }
    free(ids);
    for (size_t k = 0; k < links; k++)
        m->job_links[k] = (job_link){fi->targets[k], m->fiche_weight[k]};
    for (uint32_t f = 0; f < idx->n.fiches; f++) {
        uint32_t first = fi->offsets[f], n = fi->offsets[f + 1] - first;
        for (uint32_t k = 0; k < n; k++) keys[first + k] = missing_key(m->fiche_weight[first + k], k);
        qsort(keys + first, n, sizeof *keys, cmp_u64);
        for (uint32_t t = 0; t < n; t++) {
            uint32_t k = first + (uint32_t)keys[first + t], i = fi->targets[k];
            bool qualification = (idx->items[i].flags & ROME_ITEM_QUALIFICATION) != 0;
            m->ranked_links[first + t] = (ranked_link){m->fiche_weight[k], i << 1 | qualification};
        }
    }
    free(keys);
    return 0;
}

/* An inverted list reaching at least 1 fiche in DENSE_SHARE is also stored as a dense row: one
 * vector pass over all fiches then costs less than its scattered additions (measured with
 * bench_match; the savoir-être macro-compétences reach up to 1,070 of 1,584 fiches). */
#define DENSE_SHARE 8u

static bool list_is_dense(const matcher *m, uint32_t length) {
    return (uint64_t)length * DENSE_SHARE >= m->dense_stride;
}

/* Copies each long list's weights into a row indexed by fiche (zero elsewhere). */
static int build_dense_rows(matcher *m) {
    const rome_index *idx = m->idx;
    uint32_t n_items = idx->n.items, rows = 0;
    const uint32_t *item_off = idx->item_fiches.offsets;
    m->macro_dense = malloc(((size_t)n_items + 1) * sizeof *m->macro_dense);
    m->item_dense = malloc(((size_t)n_items + 1) * sizeof *m->item_dense);
    if (!m->macro_dense || !m->item_dense) return -1;
    for (uint32_t i = 0; i < n_items; i++) {
        m->item_dense[i] = list_is_dense(m, item_off[i + 1] - item_off[i]) ? rows++ : ROME_NONE;
        m->macro_dense[i] = list_is_dense(m, m->macro_offsets[i + 1] - m->macro_offsets[i]) ? rows++ : ROME_NONE;
    }
    size_t bytes = (size_t)(rows ? rows : 1) * m->dense_stride * sizeof(float);
    m->dense_rows = aligned_alloc(sizeof(dense_vector), bytes);
    if (!m->dense_rows) return -1;
    memset(m->dense_rows, 0, bytes);
    for (uint32_t i = 0; i < n_items; i++) {
        if (m->item_dense[i] != ROME_NONE) {
            float *row = m->dense_rows + (size_t)m->item_dense[i] * m->dense_stride;
            for (uint32_t e = item_off[i]; e < item_off[i + 1]; e++)
                row[m->item_links[e] >> 2] = (float)item_weight(m, i, (uint8_t)(m->item_links[e] & 3));
        }
        if (m->macro_dense[i] != ROME_NONE) {
            float *row = m->dense_rows + (size_t)m->macro_dense[i] * m->dense_stride;
            for (uint32_t e = m->macro_offsets[i]; e < m->macro_offsets[i + 1]; e++)
                row[m->macro_edges[e].fiche] = m->macro_edges[e].weight;
        }
    }
    return 0;
}

/* Most of a match's accumulation is the same for everyone who worked in a fiche F: each of F's
 * items is held at h = inferred_confidence × ew(e), each of F's macro-compétences gives the credit
 * macro_credit × h, so fiche f receives h × row_F(f) with
 *   row_F(f) = Σ_{m macro of F} macro_credit × W_m(f) + Σ_{i item of F} c_i × w(f, i),
 * c_i = 1 − macro_credit (what i adds beyond its macro's credit), or 1 for an item without one.
 * accumulate() adds those rows, then corrects only what differs: shared macros and items, decided
 * ones (docs/matching.md §3). Summed in double, stored in float. */
static int build_fiche_rows(matcher *m) {
    const rome_index *idx = m->idx;
    const rome_csr *fi = &idx->fiche_items;
    uint32_t n_fiches = idx->n.fiches, n_items = idx->n.items;
    size_t bytes = ((size_t)n_fiches + 1) * m->dense_stride * sizeof(float);
    double *row = calloc(m->dense_stride, sizeof *row);
    uint32_t *seen = malloc(((size_t)n_items + 1) * sizeof *seen);   /* the last fiche that added a macro */
    m->fiche_rows = aligned_alloc(sizeof(dense_vector), bytes);
    if (!row || !seen || !m->fiche_rows) {
        free(row);
        free(seen);
        return -1;
    }
    for (uint32_t i = 0; i < n_items; i++) seen[i] = ROME_NONE;
    double credit = m->cfg.macro_credit;
    for (uint32_t f = 0; f < n_fiches; f++) {
        memset(row, 0, m->dense_stride * sizeof *row);
        for (uint32_t k = fi->offsets[f]; k < fi->offsets[f + 1]; k++) {
            uint32_t item = fi->targets[k];
            const item_info *info = &m->item[item];
            uint32_t mac = info->macro;
            double beyond = mac == ROME_NONE ? 1.0 : 1.0 - credit;
            for (uint32_t e = idx->item_fiches.offsets[item]; e < idx->item_fiches.offsets[item + 1]; e++)
                row[m->item_links[e] >> 2] += beyond * item_weight(m, item, (uint8_t)(m->item_links[e] & 3));
            if (mac == ROME_NONE || seen[mac] == f) continue;
            seen[mac] = f;
            for (uint32_t e = m->macro_offsets[mac]; e < m->macro_offsets[mac + 1]; e++)
                row[m->macro_edges[e].fiche] += credit * m->macro_edges[e].weight;
        }
        float *out = m->fiche_rows + (size_t)f * m->dense_stride;
        for (uint32_t g = 0; g < m->dense_stride; g++) out[g] = (float)row[g];
    }
    free(row);
    free(seen);
    return 0;
}

/* The fiches of each grand domaine and domaine professionnel, so that a domain preference or
 * exclusion visits its fiches only. */
static int build_domain_lists(matcher *m) {
    const rome_index *idx = m->idx;
    uint32_t n_groups = (uint32_t)idx->n.grands_domaines + idx->n.domaines, n_fiches = idx->n.fiches;
    m->domain_offsets = calloc((size_t)n_groups + 2, sizeof *m->domain_offsets);
    m->domain_fiches = malloc((2 * (size_t)n_fiches + 1) * sizeof *m->domain_fiches);
    if (!m->domain_offsets || !m->domain_fiches) return -1;
    for (uint32_t f = 0; f < n_fiches; f++) {   /* counts shifted by two, then offsets shifted by one */
        m->domain_offsets[idx->fiches[f].grand_domaine + 2]++;
        m->domain_offsets[idx->n.grands_domaines + idx->fiches[f].domaine + 2]++;
    }
    for (uint32_t g = 0; g < n_groups; g++) m->domain_offsets[g + 2] += m->domain_offsets[g + 1];
    for (uint32_t f = 0; f < n_fiches; f++) {
        m->domain_fiches[m->domain_offsets[idx->fiches[f].grand_domaine + 1]++] = f;
        m->domain_fiches[m->domain_offsets[idx->n.grands_domaines + idx->fiches[f].domaine + 1]++] = f;
    }
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
    if (idx->n.items > MATCHER_MAX_ITEMS) {   /* item_info.macro_id has 31 bits */
        px_error_set(err, MATCHER_ERR_CONFIG, "matcher: the ROME index has %u items, at most %u are supported",
                     idx->n.items, MATCHER_MAX_ITEMS);
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
#ifdef PX_MATCHER_X86
    m->avx512 = __builtin_cpu_supports("avx512f");
#endif
    m->importance_weight[ROME_IMPORTANCE_NONE] = cfg->weight_other;
    m->importance_weight[ROME_IMPORTANCE_EMERGENTE] = cfg->weight_emergente;
    m->importance_weight[ROME_IMPORTANCE_PRINCIPALE] = cfg->weight_principale;
    uint32_t n_items = idx->n.items, n_fiches = idx->n.fiches;
    m->dense_stride = (n_fiches / SCORE_GROUP + 1) * SCORE_GROUP;   /* whole groups, at least one */
    m->item = calloc((size_t)n_items + 1, sizeof *m->item);
    m->item_links = malloc(((size_t)idx->item_fiches.offsets[n_items] + 1) * sizeof *m->item_links);
    m->fiche_total = calloc(n_fiches ? n_fiches : 1, sizeof *m->fiche_total);
    m->fiche_weight = malloc(((size_t)idx->fiche_items.offsets[n_fiches] + 1) * sizeof *m->fiche_weight);
    m->fiche_inverse_total = aligned_alloc(sizeof(dense_vector), m->dense_stride * sizeof *m->fiche_inverse_total);
    if (!m->item || !m->item_links || !m->fiche_total || !m->fiche_weight || !m->fiche_inverse_total)
        goto nomem;
    double log_n = n_fiches > 1 ? log((double)n_fiches) : 1.0;
    for (uint32_t i = 0; i < n_items; i++) {
        uint32_t df = rome_csr_count(&idx->item_fiches, i);
        m->item[i].specificity = df && n_fiches > 1 ? log((double)n_fiches / df) / log_n : 1.0;
        m->item[i].savoir_etre = idx->items[i].kind == ROME_KIND_SAVOIR_ETRE;
    }
    for (uint32_t i = 0; i < n_items; i++)
        for (uint32_t e = idx->item_fiches.offsets[i]; e < idx->item_fiches.offsets[i + 1]; e++) {
            uint8_t importance = idx->item_fiches.importance ? idx->item_fiches.importance[e] : 0;
            m->item_links[e] = idx->item_fiches.targets[e] << 2 | (importance <= ROME_IMPORTANCE_PRINCIPALE ? importance : 0u);
        }
    for (uint32_t f = 0; f < n_fiches; f++)
        for (uint32_t k = idx->fiche_items.offsets[f]; k < idx->fiche_items.offsets[f + 1]; k++) {
            uint32_t i = idx->fiche_items.targets[k];
            m->fiche_weight[k] = (float)item_weight(m, i, idx->fiche_items.importance ? idx->fiche_items.importance[k] : 0);
            m->fiche_total[f] += m->fiche_weight[k];
        }
    for (uint32_t f = 0; f < m->dense_stride; f++)   /* 0 in the padding: see score_fiches */
        m->fiche_inverse_total[f] = f < n_fiches && m->fiche_total[f] > 0 ? 1.0 / m->fiche_total[f] : 0.0;
    m->item_codes = code_table_build(idx->items, n_items, sizeof *idx->items, NULL);
    m->appellation_codes = code_table_build(idx->appellations, idx->n.appellations, sizeof *idx->appellations, NULL);
    m->appellation_fiche = malloc(((size_t)idx->n.appellations + 1) * sizeof *m->appellation_fiche);
    for (uint32_t a = 0; m->appellation_fiche && a < idx->n.appellations; a++)
        m->appellation_fiche[a] = idx->appellations[a].fiche;
    if (!m->item_codes || !m->appellation_codes || !m->appellation_fiche || build_macro_lists(m) ||
        build_dense_rows(m) || build_fiche_rows(m) || build_domain_lists(m) || build_job_links(m))
        goto nomem;
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
    code_table_free(m->item_codes);
    code_table_free(m->appellation_codes);
    free(m->appellation_fiche);
    free(m->item);
    free(m->item_links);
    free(m->fiche_weight);
    free(m->job_links);
    free(m->ranked_links);
    free(m->item_dense);
    free(m->fiche_total);
    free(m->fiche_inverse_total);
    free(m->macro_offsets);
    free(m->macro_edges);
    free(m->dense_rows);
    free(m->fiche_rows);
    free(m->domain_offsets);
    free(m->domain_fiches);
    free(m->macro_dense);
    free(m);
}

/* ---- scratch ---- */

/* An (entity id, key) pair ranked by key descending, then id ascending (ids follow codes). */
typedef struct ranked {
    double key;
    uint32_t id;
} ranked;

/* Room in a rank_buffers for best_first: SCORE_LANES of padding after its most entries. */
#define RANK_ROOM (4u * (MATCHER_MAX_TOP > MATCHER_MAX_SKILLS_ASKED ? MATCHER_MAX_TOP : MATCHER_MAX_SKILLS_ASKED) + \
                   SCORE_LANES)

/* best_first's copy of its entries, keys (as their bits) and ids apart so that vectors load them. */
typedef struct rank_buffers {
    int64_t *key, *id;
} rank_buffers;

#define ITEM_INFERRED 0x01u
#define ITEM_DECIDED 0x02u    /* confirmed, rejected or added: not asked again */
#define ITEM_DECLARED 0x04u   /* confirmed or added: held at confidence 1 */

#define FICHE_OWN 0x01u
#define FICHE_BARRED 0x02u   /* avoided or of an excluded domain */

#define KEY_BUCKETS 4096u   /* select_heaviest: a bucket per float exponent and 4 bits of mantissa */

#define DOMAIN_PREFERRED 0x01u
#define DOMAIN_EXCLUDED 0x02u

/* What a match knows of one item, kept together so that one lookup brings all of it. rec_of zeroes
 * it field by field: a new field must be zeroed there too. */
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
    uint8_t macro_listed;     /* for a macro-compétence: in matcher_scratch.macros */
    uint32_t macro_base;      /* for a macro-compétence: experiences whose fiche has an item under it */
} item_rec;

/* An item whose contribution differs from what the fiche rows assumed, by delta per unit of w. */
typedef struct item_fix {
    uint32_t item;
    float delta;
} item_fix;

_Static_assert(MATCHER_MAX_TOP <= UINT8_MAX, "matcher_scratch.opens counts suggested jobs in a byte");

/* What a link of a suggested job to an item brings, the same in every job of a match: its value,
 * where its contribution goes (the bucket of its source class) and whether the person holds it. */
typedef struct link_source {
    double value;
    uint32_t bucket;          /* class × SOURCE_BANKS */
    uint16_t held;            /* 1 when held(i) > 0 */
    uint8_t missing;          /* 1 - held: what a job missing it adds to its opens count */
} link_source;
#define UNHELD_SOURCE ((link_source){0, 0, 0, 1})   /* an item neither held nor credited */

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
    const item_info *item_info;   /* the matcher's */
    /* items this match touched: slot[i] indexes item i's record in rec, 0 when untouched; rec[0]
     * stays all-zero (an untouched item holds nothing), rec[k] belongs to items[k - 1] */
    uint32_t *slot;
    uint64_t *touched;        /* bit i: item i has a record (a few KiB: stays in L1, unlike slot) */
    item_rec *rec;
    uint32_t *items;
    uint32_t n_items;
    uint32_t *macros;         /* macro-compétences held or under an item of an experience's fiche */
    uint32_t n_macros;
    item_fix *fixes;          /* items whose correction is not zero, see value_items */
    uint32_t n_fixes;
    item_fix *macro_fixes;    /* macro-compétences whose correction is not zero, see accumulate */
    /* per experience, what build_fiche_rows assumed for each of its items: held, the macro credit
     * and what an item adds beyond it (float, as the records hold them) */
    float exp_held[MATCHER_MAX_EXPERIENCES], exp_credit[MATCHER_MAX_EXPERIENCES], exp_beyond[MATCHER_MAX_EXPERIENCES];
    uint8_t *opens;           /* per item: how many suggested jobs miss it (zero between matches); a
                                 fiche lists an item once, so at most MATCHER_MAX_TOP. One byte keeps
                                 this random-access array small enough for the cache. */
    /* per fiche */
    float *acc;               /* Σ value × w (dense: cheaper than tracking the touched ones) */
    uint8_t *fiche_flags;     /* FICHE_*, dense_stride long */
    double *divisor;          /* per fiche, dense_stride long: what its score is divided by (domains) */
    uint32_t *avoided;        /* bit k: avoid entry k excludes this fiche */
    bool avoid_marked;        /* avoided has bits set (most profiles avoid nothing: no reset then) */
    uint8_t *gd_flags, *dom_flags;  /* DOMAIN_* per grand domaine / domaine professionnel */
    uint32_t preferred[MATCHER_MAX_DOMAINS];   /* the preferred domains' groups in domain_offsets */
    uint32_t n_preferred;
    /* rankings */
    ranked *top, *top_all, *skills;
    double *score_top, *score_all;  /* per fiche, see rank_fiches */
    double *lane_best;        /* the lane maxima of score_all then score_top, see score_fiches */
    ranked *candidates;       /* per fiche, see select_best */
    uint32_t *reaching;       /* per set of SCORE_LANES fiches, see select_best */
    ranked *skill_candidates; /* per item */
    uint32_t *key_counts;     /* KEY_BUCKETS zeros between uses, see select_heaviest */
    rank_buffers rank;        /* RANK_ROOM entries each, see best_first */
    /* describing the jobs (describe_jobs) */
    link_source *sources;     /* [0, n_macro_ids]: a macro credit by macro id, UNHELD_SOURCE unless the
                                 macro is held ([n_macro_ids]: no macro, always so); [n_macro_ids + k]: rec[k] */
    uint32_t *source_of;      /* per item, its entry in sources: its item_info.macro_id
                                 until value_items gives it its record's; scratch_reset puts it back */
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
    size_t ni = idx->n.items ? idx->n.items : 1;
    matcher_scratch *s = calloc(1, sizeof *s);
    if (!s) goto nomem;
    s->item_info = m->item;
    s->titles = title_scratch_new(m->titles, err);
    if (!s->titles) {
        matcher_scratch_free(s);
        return NULL;
    }
    s->slot = calloc(ni, sizeof *s->slot);
    s->sources = malloc((m->n_macro_ids + 1 + ni + 1) * sizeof *s->sources);
    for (size_t k = 0; s->sources && k <= m->n_macro_ids; k++) s->sources[k] = UNHELD_SOURCE;
    s->source_of = malloc(ni * sizeof *s->source_of);
    for (uint32_t i = 0; s->source_of && i < idx->n.items; i++) s->source_of[i] = m->item[i].macro_id;
    s->touched = calloc((ni + 63) / 64, sizeof *s->touched);
    s->rec = calloc(ni + 1, sizeof *s->rec);
    s->items = malloc(ni * sizeof *s->items);
    s->macros = malloc((ni + 1) * sizeof *s->macros);   /* + 1: settle_items writes one past the last */
    s->fixes = malloc(ni * sizeof *s->fixes);
    s->macro_fixes = malloc(ni * sizeof *s->macro_fixes);
    s->opens = calloc(ni + 3, sizeof *s->opens);   /* + 3: split_missing_avx512 gathers 4 bytes an item */
    s->acc = aligned_alloc(sizeof(dense_vector), m->dense_stride * sizeof *s->acc);   /* for dense_add */
    if (s->acc) memset(s->acc, 0, m->dense_stride * sizeof *s->acc);
    s->fiche_flags = calloc(m->dense_stride, sizeof *s->fiche_flags);
    s->divisor = malloc(m->dense_stride * sizeof *s->divisor);
    s->avoided = calloc(m->dense_stride, sizeof *s->avoided);
    s->gd_flags = calloc(idx->n.grands_domaines + 1u, 1);
    s->dom_flags = calloc(idx->n.domaines + 1u, 1);
    s->top = malloc(MATCHER_MAX_TOP * sizeof *s->top);
    s->top_all = malloc(MATCHER_MAX_TOP * sizeof *s->top_all);
    s->score_top = aligned_alloc(sizeof(dense_vector), m->dense_stride * sizeof *s->score_top);
    s->score_all = aligned_alloc(sizeof(dense_vector), m->dense_stride * sizeof *s->score_all);
    s->lane_best = malloc(2 * (m->dense_stride / SCORE_LANES) * sizeof *s->lane_best);
    s->candidates = malloc(m->dense_stride * sizeof *s->candidates);
    s->reaching = malloc(m->dense_stride / SCORE_LANES * sizeof *s->reaching);
    s->skill_candidates = malloc(ni * sizeof *s->skill_candidates);
    s->key_counts = calloc(KEY_BUCKETS, sizeof *s->key_counts);
    s->rank.key = malloc(RANK_ROOM * sizeof *s->rank.key);
    s->rank.id = malloc(RANK_ROOM * sizeof *s->rank.id);
    s->skills = malloc(MATCHER_MAX_SKILLS_ASKED * sizeof *s->skills);
    if (!s->slot || !s->sources || !s->source_of || !s->touched || !s->rec || !s->items || !s->macros || !s->fixes ||
        !s->macro_fixes || !s->opens || !s->acc || !s->fiche_flags || !s->divisor || !s->avoided || !s->gd_flags ||
        !s->dom_flags || !s->top || !s->top_all || !s->skills || !s->score_top || !s->score_all || !s->lane_best ||
        !s->candidates || !s->reaching || !s->skill_candidates || !s->key_counts || !s->rank.key || !s->rank.id)
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
    free(s->fixes);
    free(s->macro_fixes);
    free(s->opens);
    free(s->acc);
    free(s->fiche_flags);
    free(s->divisor);
    free(s->avoided);
    free(s->gd_flags);
    free(s->dom_flags);
    free(s->top);
    free(s->top_all);
    free(s->score_top);
    free(s->score_all);
    free(s->lane_best);
    free(s->candidates);
    free(s->reaching);
    free(s->skill_candidates);
    free(s->key_counts);
    free(s->rank.key);
    free(s->rank.id);
    free(s->skills);
    free(s->sources);
    free(s->source_of);
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
        uint32_t i = s->items[k];
        s->slot[i] = 0;
        s->touched[i / 64] = 0;
        s->source_of[i] = m->item[i].macro_id;
    }
    for (uint32_t k = 0; k < s->n_macros; k++) s->sources[m->item[s->macros[k]].macro_id] = UNHELD_SOURCE;
    s->n_items = s->n_macros = s->n_preferred = 0;
    memset(s->acc, 0, m->idx->n.fiches * sizeof *s->acc);
    memset(s->fiche_flags, 0, m->idx->n.fiches);
    if (s->avoid_marked) memset(s->avoided, 0, m->idx->n.fiches * sizeof *s->avoided);
    s->avoid_marked = false;
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
 * integer; low holds the item (a ranked_link's tagged item). The bits of a non-negative float
 * order like the float itself. */
static uint64_t missing_key(float usefulness, uint32_t low) {
    uint32_t bits;
    memcpy(&bits, &usefulness, sizeof bits);
    return ((uint64_t)(UINT32_MAX - bits) << 32) | low;
}

/* Writes each of v[0..n) (keys >= 0, unique ids) whose rank is below cap at best[rank], the rank
 * being how many entries rank before it (ranks_before). An insertion sort mispredicts about once
 * an entry (they come in fiche or item order); counting has no branch the keys decide.
 * SCORE_LANES entries are counted at once against each entry in turn, comparing the keys' bits as
 * integers (they order non-negative doubles alike; + 0.0 makes a -0 the +0 it equals). n <=
 * RANK_ROOM - SCORE_LANES. */
VECTOR_CLONES
static void rank_place(const ranked *v, uint32_t n, uint32_t cap, ranked *best, rank_buffers buf) {
    for (uint32_t k = 0; k < n; k++) {
        double key = v[k].key + 0.0;
        memcpy(&buf.key[k], &key, sizeof key);
        buf.id[k] = v[k].id;
    }
    for (uint32_t k = n; k < n + SCORE_LANES; k++) buf.key[k] = INT64_MIN, buf.id[k] = 0;   /* padding: never before */
    for (uint32_t c = 0; c < n; c += SCORE_LANES) {
        score_mask key, id, before = {0};   /* lane l: minus the entries ranking before it (true is -1) */
        memcpy(&key, buf.key + c, sizeof key);
        memcpy(&id, buf.id + c, sizeof id);
        for (uint32_t b = 0; b < n; b++) {
            score_mask other = (score_mask){0} + buf.key[b], other_id = (score_mask){0} + buf.id[b];
            /* higher key, or equal key and lower id; (-1 + -1) / 2 is the -1 of "both": GCC 12
             * compiles an & or | of two comparisons lane by lane in a target_clones clone */
            before += (other > key) + ((other == key) + (other_id < id)) / 2;
        }
        for (uint32_t l = 0; l < SCORE_LANES && c + l < n; l++)
            if ((uint64_t)-before[l] < cap) best[-before[l]] = v[c + l];
    }
}

/* The best cap of v[0..n) (keys >= 0, unique ids) into best, best first; returns how many. After a
 * floor there are usually a little more than cap: ranked as they are; many more (equal keys at the
 * floor) first go through a heap, kept in v's first cap entries (v is reordered). */
static size_t best_first(ranked *v, size_t n, uint32_t cap, ranked *best, rank_buffers buf) {
    if (n > 4u * cap) {
        size_t n_heap = 0;
        for (size_t k = 0; k < n; k++) heap_offer(v, &n_heap, cap, v[k]);   /* the heap never passes k */
        n = n_heap;
    }
    rank_place(v, (uint32_t)n, cap, best, buf);
    return n < cap ? n : cap;
}

/* The highest bucket b such that counts[b] + … + counts[from - 1] >= cap, or 0: the floor that cap
 * entries reach, for the selections below. */
static uint32_t floor_bucket(const uint32_t *counts, uint32_t from, uint32_t cap) {
    for (uint32_t b = from, reached = 0; b-- > 0;)
        if ((reached += counts[b]) >= cap) return b;
    return 0;
}

static uint32_t key_bucket(double key) {
    float rounded = (float)key;   /* rounding keeps the order (not strictly) */
    uint32_t bits;
    memcpy(&bits, &rounded, sizeof bits);
    return bits >> 19;
}

/* Moves the best `cap` of v[0..n) (keys >= 0, unique ids) into best, best first; returns how many.
 * A heap would mispredict at most offers: a histogram of the keys' float bits finds the bucket
 * where cap entries are reached, and only the entries from that bucket up are sorted. counts has
 * KEY_BUCKETS zeros and is left so; v is reordered. */
static size_t select_heaviest(ranked *v, size_t n, uint32_t cap, ranked *best, uint32_t *counts, rank_buffers buf) {
    uint32_t top = 0;
    for (size_t k = 0; k < n; k++) {
        uint32_t b = key_bucket(v[k].key);
        counts[b]++;
        top = b > top ? b : top;
    }
    uint32_t floor = floor_bucket(counts, top + 1, cap);
    size_t kept = 0;
    for (size_t k = 0; k < n; k++) {
        uint32_t b = key_bucket(v[k].key);
        counts[b] = 0;
        v[kept] = v[k];
        kept += b >= floor;
    }
    return best_first(v, kept, cap, best, buf);
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

/* Item i's record, created (zeroed) on first touch, *n_items counting the records (s->n_items, or
 * a caller's local copy: in s, every store to slot or items, uint32_t like the count, could alias
 * it, and the next record would reload it from that store). Records never move during a match. */
static inline item_rec *rec_of_counted(matcher_scratch *s, uint32_t *n_items, uint32_t i) {
    uint32_t k = s->slot[i];
    if (!k) {
        k = ++*n_items;
        __builtin_prefetch(&s->item_info[i]);   /* the steps after read it for every touched item */
        s->slot[i] = k;
        s->touched[i / 64] |= 1ull << (i % 64);
        s->items[k - 1] = i;
        /* field by field, not memset: the caller reads and updates the fields at once, and a
         * load waits long for a wider (vector) store that is not yet written; 14% of inferring */
        item_rec *r = &s->rec[k];
        r->support = 0;
        r->held = r->value = r->macro_held = 0;
        r->from = r->macro_from = r->macro_base = 0;
        r->state = r->best_importance = r->macro_declared = r->macro_listed = 0;
        _Static_assert(sizeof *r == 40, "rec_of zeroes every field of item_rec");
    }
    return &s->rec[k];
}

static inline item_rec *rec_of(matcher_scratch *s, uint32_t i) {
    return rec_of_counted(s, &s->n_items, i);
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
            r->appellation = code_table_find(m->appellation_codes, x->appellation);
            if (r->appellation == ROME_NONE)
                return px_error_set(err, MATCHER_ERR_INVALID, "experiences[%zu].appellation: unknown appellation code %u",
                                    e, x->appellation);
            r->fiche = m->appellation_fiche[r->appellation];
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
                r->fiche = m->appellation_fiche[r->appellation];
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
    uint32_t n_items = s->n_items;   /* see rec_of_counted */
    for (size_t e = 0; e < out->n_experiences; e++) {
        uint32_t f = out->experiences[e].fiche;
        if (f == ROME_NONE) continue;
        /* accumulate() reads this fiche's row, rarely cached (the rows take 10 MiB): fetching it
         * two lines a link while the items are recorded hides most of the wait */
        const char *row = (const char *)(m->fiche_rows + (size_t)f * m->dense_stride);
        const char *row_end = row + (size_t)m->dense_stride * sizeof(float);
        float held = (float)(m->cfg.inferred_confidence * exp_weight[e]);
        s->exp_held[e] = held;
        s->exp_credit[e] = (float)(m->cfg.macro_credit * held);
        s->exp_beyond[e] = held - s->exp_credit[e];
        for (uint32_t k = fi->offsets[f], end = fi->offsets[f + 1]; k < end; k++) {
            uint32_t i = fi->targets[k];
            __builtin_prefetch(&s->slot[fi->targets[k + 8 < end ? k + 8 : k]]);   /* rec_of's lookup, ahead */
            if (row < row_end) {
                __builtin_prefetch(row, 0, 2);
                __builtin_prefetch(row + 64, 0, 2);
                row += 128;
            }
            uint8_t imp = fi->importance ? fi->importance[k] : 0;
            item_rec *r = rec_of_counted(s, &n_items, i);
            /* selects: whether another experience had the item follows no pattern (adding an exact
             * zero changes no sum) */
            r->support += (r->from & (1u << e)) ? 0.0 : exp_weight[e];
            r->from |= 1u << e;
            r->state |= ITEM_INFERRED;
            r->best_importance = imp > r->best_importance ? imp : r->best_importance;
            r->held = held > r->held ? held : r->held;
        }
        for (; row < row_end; row += 64) __builtin_prefetch(row, 0, 2);   /* a short fiche's row: the rest */
    }
    s->n_items = n_items;
}

static int apply_decisions(const matcher *m, matcher_scratch *s, const profile *p, px_error *err) {
    const struct {
        const profile_codes *codes;
        const char *field;
        bool declared;
    } lists[] = {{&p->confirmed, "confirmed", true}, {&p->added, "added", true}, {&p->rejected, "rejected", false}};
    for (size_t l = 0; l < sizeof lists / sizeof lists[0]; l++)
        for (size_t k = 0; k < lists[l].codes->n; k++) {
            uint32_t i = code_table_find(m->item_codes, lists[l].codes->v[k]);
            if (i == ROME_NONE)
                return px_error_set(err, MATCHER_ERR_INVALID, "%s[%zu]: unknown competence or savoir code %u",
                                    lists[l].field, k, lists[l].codes->v[k]);
            item_rec *r = rec_of(s, i);
            r->state |= ITEM_DECIDED;
            /* rejected come last: a code both confirmed and rejected is not held
             * (profile_apply_decisions keeps them apart) */
            r->state = lists[l].declared ? r->state | ITEM_DECLARED : r->state & (uint8_t)~ITEM_DECLARED;
        }
    return 0;   /* the holdings follow in settle_items */
}

static void mark_contexte(const matcher *m, matcher_scratch *s, uint32_t ctx, uint32_t bit) {
    const rome_csr *cf = &m->idx->contexte_fiches;
    for (uint32_t k = cf->offsets[ctx]; k < cf->offsets[ctx + 1]; k++) {
        s->avoided[cf->targets[k]] |= bit;
        s->fiche_flags[cf->targets[k]] |= FICHE_BARRED;
    }
    s->avoid_marked = true;
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
        uint32_t id, group;
        if (strlen(code) == 1 && (id = rome_grand_domaine_find(m->idx, code)) != ROME_NONE) {
            s->gd_flags[id] |= flag;
            group = id;
        } else if (strlen(code) == 3 && (id = rome_domaine_find(m->idx, code)) != ROME_NONE) {
            s->dom_flags[id] |= flag;
            group = m->idx->n.grands_domaines + id;
        } else {
            return px_error_set(err, MATCHER_ERR_INVALID,
                                "%s[%zu]: \"%s\" is neither a grand domaine (\"J\") nor a domaine professionnel (\"M18\")",
                                field, k, code);
        }
        if (flag == DOMAIN_PREFERRED) s->preferred[s->n_preferred++] = group;
        else
            for (uint32_t g = m->domain_offsets[group]; g < m->domain_offsets[group + 1]; g++)
                s->fiche_flags[m->domain_fiches[g]] |= FICHE_BARRED;
    }
    return 0;
}

/* The skills to ask about: inferred, not yet decided, most informative first. */
static int suggest_skills(const matcher *m, matcher_scratch *s, size_t n_inferred, match_result *out, px_error *err) {
    size_t n = select_heaviest(s->skill_candidates, n_inferred, m->cfg.skills_asked, s->skills, s->key_counts, s->rank);
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
        sk->kind_factor = m->item[i].savoir_etre ? m->cfg.savoir_etre_factor : 1.0;
        sk->specificity = m->item[i].specificity;
        sk->support = r->support;
    }
    return 0;
}

/* One pass over the records the profile touched, once the decisions are known: each one's holding,
 * its candidacy as a competence to ask about (inferred, undecided: into skill_candidates, returns
 * how many), and what it gives its macro-compétence: the best holding under it, and which
 * experiences' fiches list something under it (what build_fiche_rows assumed). */
static size_t settle_items(const matcher *m, matcher_scratch *s) {
    uint32_t touched = s->n_items;   /* macro records created below are not items to visit */
    size_t n_candidates = 0;
    for (uint32_t k = 0; k < touched; k++) {
        uint32_t i = s->items[k], mac = m->item[i].macro;
        item_rec *r = &s->rec[k + 1];
        uint8_t state = r->state;
        /* selects and masks rather than branches: states and first sightings come without pattern */
        float held = (state & ITEM_DECLARED) ? 1.0f : (state & ITEM_DECIDED) ? 0.0f : r->held;
        r->held = held;
        s->skill_candidates[n_candidates] = (ranked){item_weight(m, i, r->best_importance) * r->support, i};
        n_candidates += state == ITEM_INFERRED;   /* written always, kept when inferred and undecided */
        uint32_t inferred_from = (state & ITEM_INFERRED) ? r->from : 0u;
        if ((held <= 0 && !inferred_from) || mac == ROME_NONE) continue;   /* rare, and savoirs come in runs */
        item_rec *mr = rec_of(s, mac);
        s->macros[s->n_macros] = mac;
        s->n_macros += !mr->macro_listed;
        mr->macro_listed = 1;
        mr->macro_base |= inferred_from;
        /* what a held item gives its macro (a declared one is held) */
        mr->macro_held = held > mr->macro_held ? held : mr->macro_held;
        mr->macro_declared |= (state & ITEM_DECLARED) != 0;
        mr->macro_from |= inferred_from & (0u - (uint32_t)(held > 0));
    }
    return n_candidates;
}

/* Σ over the experiences e of bits of what each added per item (exp_credit or exp_beyond), in
 * experience order: what build_fiche_rows assumed for a macro or an item shared by those. */
static float assumed_sum(const float *per_experience, uint32_t experiences) {
    float sum = 0;
    for (; experiences; experiences &= experiences - 1) sum += per_experience[__builtin_ctz(experiences)];
    return sum;
}

/* Set bits of x (SWAR: __builtin_popcount would call libgcc without -mpopcnt). */
static uint32_t bit_count(uint32_t x) {
    x = x - ((x >> 1) & 0x55555555u);
    x = (x & 0x33333333u) + ((x >> 2) & 0x33333333u);
    return (((x + (x >> 4)) & 0x0F0F0F0Fu) * 0x01010101u) >> 24;
}

/* What an item of a fiche counts for: its own holding, or the macro credit of a held sibling —
 * nothing at all when rejected. */
static double item_value(const matcher *m, const item_rec *r, const item_rec *macro) {
    if ((r->state & ITEM_DECIDED) && !(r->state & ITEM_DECLARED)) return 0.0;
    double credit = m->cfg.macro_credit * macro->macro_held;
    return r->held > credit ? r->held : credit;
}

/* acc[fiche] += factor × weight along one inverted list (a macro-compétence's correction), unrolled
 * by hand; the additions stay in list order. */
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

/* acc[fiche] += add[importance] along one item's links (see item_links). */
static void scatter_by_importance(float *restrict acc, const uint32_t *restrict link, uint32_t n, const float *add) {
    for (uint32_t k = 0; k < n; k++) acc[link[k] >> 2] += add[link[k] & 3];
}

/* acc += factor × row over whole rows (a multiple of DENSE_LANES floats, both vector-aligned). Each
 * fiche receives the same addition as scatter_add would give it, in the same place in the sequence,
 * and the fiches outside the list add an exact zero. */
VECTOR_CLONES
static void dense_add(float *restrict acc, const float *restrict row, uint32_t n, float factor) {
    dense_vector f = (dense_vector){0} + factor;
    for (uint32_t k = 0; k < n; k += DENSE_LANES) {
        dense_vector a, r;
        memcpy(&a, acc + k, sizeof a);
        memcpy(&r, row + k, sizeof r);
        a += f * r;
        memcpy(acc + k, &a, sizeof a);
    }
}

/* acc += factor × rows[row] (dense_rows or fiche_rows). */
static void add_row(const matcher *m, float *acc, const float *rows, uint32_t row, float factor) {
    dense_add(acc, rows + (size_t)row * m->dense_stride, m->dense_stride, factor);
}

/* The source class key of contributions split between the experiences `from` and, when
 * `declared`, the confirmed/added competences. */
static uint64_t source_key(uint32_t from, bool declared) {
    return (uint64_t)declared << 32 | from;
}

/* The class of key, created on first sight (the table has room: see value_items). */
static uint32_t source_class_of(matcher_scratch *s, uint64_t key) {
    size_t mask = s->class_mask, h = (size_t)((key * 0x9E3779B97F4A7C15ull) >> 32) & mask;
    for (; s->class_table[h]; h = (h + 1) & mask)
        if (s->classes[s->class_table[h] - 1].key == key) return s->class_table[h] - 1;
    uint32_t c = s->n_classes++, parts = (uint32_t)(key >> 32) + bit_count((uint32_t)key);
    s->classes[c] = (source_class){key, parts ? parts : 1};
    s->class_table[h] = c + 1;
    return c;
}

/* Each touched record's value, computed once for the accumulation and every job description; the
 * items whose contribution beyond their macro's credit is not what the fiche rows assumed (fixes,
 * see accumulate); and each touched item's and held macro-compétence's link_source for describing
 * the jobs (scratch_reset clears the macros' ones). An item's value × w is split (docs/matching.md,
 * reasons) between the experiences it was inferred from and "declared" when it counts directly
 * (held >= value), else between those of the held items under its macro-compétence. A match has
 * few distinct such splits, so a job sums its contributions per split (class) and divides each sum
 * once, instead of dividing every link's. */
static int value_items(const matcher *m, matcher_scratch *s, px_error *err) {
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
        s->sources[m->item[s->macros[k]].macro_id] =
            (link_source){m->cfg.macro_credit * macro->macro_held, c * SOURCE_BANKS, 0, 1};
    }
    /* a local count: in s, each store to fixes (a uint32_t item, like the count) would make the
     * next record reload the count from that store, a chain through memory */
    uint32_t n_fixes = 0;
    for (uint32_t k = 1; k <= s->n_items; k++) {
        item_rec *r = &s->rec[k];
        const item_info *info = &m->item[s->items[k - 1]];
        const item_rec *macro = peek(s, info->macro);
        r->value = (float)item_value(m, r, macro);
        float beyond_macro = r->value - (float)(m->cfg.macro_credit * macro->macro_held);
        float assumed = (r->state & ITEM_INFERRED)
                            ? assumed_sum(info->macro == ROME_NONE ? s->exp_held : s->exp_beyond, r->from) : 0.0f;
        float delta = beyond_macro - assumed;
        s->fixes[n_fixes] = (item_fix){s->items[k - 1], delta};
        n_fixes += delta != 0;
        uint32_t bucket;
        if (r->held >= r->value) {   /* mostly true, and the macro records settle_items added come last */
            uint64_t key = source_key((r->state & ITEM_INFERRED) ? r->from : 0, (r->state & ITEM_DECLARED) != 0);
            if (key != last_key) {   /* records come in runs of one experience's fiche */
                last_key = key;
                last = source_class_of(s, key);
            }
            bucket = last * SOURCE_BANKS;
        } else {
            bucket = s->sources[info->macro_id].bucket;
        }
        s->sources[m->n_macro_ids + k] = (link_source){r->value, bucket, r->held > 0, r->held <= 0};
        s->source_of[s->items[k - 1]] = m->n_macro_ids + k;
    }
    s->n_fixes = n_fixes;
    memset(s->buckets, 0, s->n_classes * SOURCE_BANKS * sizeof *s->buckets);
    return 0;
}

/* Σ value(i) × w(f, i) for every fiche: each experience's fiche row scaled by its holding, then the
 * difference between what the rows assumed and the truth, through the inverted lists: for each
 * macro-compétence, its credit minus the credits the rows gave it (one per experience listing it);
 * for each touched item, what it adds beyond its macro's credit minus what the rows gave it. Only
 * shared, decided or rejected macros and items differ (about 10 of each a match, against 60 held
 * macros and 140 items). */
static void accumulate(const matcher *m, matcher_scratch *s, const match_result *out) {
    const uint32_t *offsets = m->idx->item_fiches.offsets;
    /* the corrections first, their short lists asked for: they arrive while the rows are added */
    uint32_t n_macro_fixes = 0;
    for (uint32_t k = 0; k < s->n_macros; k++) {
        uint32_t mac = s->macros[k];
        const item_rec *mr = peek(s, mac);
        float correction = (float)(m->cfg.macro_credit * mr->macro_held) - assumed_sum(s->exp_credit, mr->macro_base);
        s->macro_fixes[n_macro_fixes] = (item_fix){mac, correction};
        n_macro_fixes += correction != 0;
        __builtin_prefetch(m->macro_edges + m->macro_offsets[mac]);   /* every held macro's: no branch */
    }
    for (uint32_t k = 0; k < s->n_fixes; k++) {
        uint32_t i = s->fixes[k].item, n = offsets[i + 1] - offsets[i];
        __builtin_prefetch(m->item_links + offsets[i]);
        __builtin_prefetch(m->item_links + offsets[i] + (n > 16 ? 16 : 0));   /* a list has 33 links on average */
        __builtin_prefetch(m->item_dense + s->fixes[k].item);
    }
    for (size_t e = 0; e < out->n_experiences; e++) {
        uint32_t f = out->experiences[e].fiche;
        if (f != ROME_NONE && s->exp_held[e] != 0) add_row(m, s->acc, m->fiche_rows, f, s->exp_held[e]);
    }
    for (uint32_t k = 0; k < n_macro_fixes; k++) {
        uint32_t mac = s->macro_fixes[k].item;
        float correction = s->macro_fixes[k].delta;
        if (m->macro_dense[mac] != ROME_NONE) add_row(m, s->acc, m->dense_rows, m->macro_dense[mac], correction);
        else scatter_add(s->acc, m->macro_edges + m->macro_offsets[mac], m->macro_offsets[mac + 1] - m->macro_offsets[mac],
                         correction);
    }
    for (uint32_t k = 0; k < s->n_fixes; k++) {
        uint32_t i = s->fixes[k].item;
        float delta = s->fixes[k].delta;
        if (m->item_dense[i] != ROME_NONE) {
            add_row(m, s->acc, m->dense_rows, m->item_dense[i], delta);
            continue;
        }
        float by_importance[4];   /* delta × w for each importance */
        for (uint8_t l = 0; l < 4; l++) by_importance[l] = delta * (float)item_weight(m, i, l);
        scatter_by_importance(s->acc, m->item_links + offsets[i], offsets[i + 1] - offsets[i], by_importance);
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

/* Lane by lane, a where take_a is set, else b. A macro: a function taking vectors would change
 * ABI between the clones. */
#define SELECT_LANES(take_a, a, b) ((score_vector)(((take_a) & (score_mask)(a)) | (~(take_a) & (score_mask)(b))))

/* Every fiche's score in one vector pass over whole SCORE_GROUPs:
 *   score_all[f] = coverage(f) / divisor[f] (divisor may be NULL: 1), or -1 for a fiche the person
 *                  does not reach or already works in (and for the padding);
 *   score_top[f] = the same, or -1 where barred (avoided or of an excluded domain);
 * and each one's lane maxima: best[g × SCORE_LANES + l] = the best score of the SCORE_LANES
 * fiches g × SCORE_GROUP + l + SCORE_LANES × t (disjoint sets, see select_best), best_all first,
 * then best_top. Returns how many fiches the person reaches. */
VECTOR_CLONES
static uint32_t score_fiches(const float *acc, const double *inverse_total, const uint8_t *flags, const double *divisor,
                             uint32_t n, double *score_all, double *score_top, double *best) {
    const score_vector zero = {0}, one = zero + 1.0, none = zero - 1.0;
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    const uint64_vector byte_shift = {0, 8, 16, 24, 32, 40, 48, 56};   /* lane l's flag byte in 8 loaded */
#else
    const uint64_vector byte_shift = {56, 48, 40, 32, 24, 16, 8, 0};
#endif
    score_mask reached_lanes = {0};
    double *best_top = best + n / SCORE_LANES;
    for (uint32_t g = 0; g < n; g += SCORE_GROUP) {
        score_vector group_all = none, group_top = none;
        for (uint32_t k = g; k < g + SCORE_GROUP; k += SCORE_LANES) {
            half_vector sums;
            score_vector inverse;
            uint64_t bytes;
            memcpy(&sums, acc + k, sizeof sums);
            memcpy(&inverse, inverse_total + k, sizeof inverse);
            memcpy(&bytes, flags + k, sizeof bytes);
            /* each lane shifts its own byte down: __builtin_convertvector of 8 bytes was compiled
             * to 8 extractions and inserts */
            score_mask fiche = (score_mask)(((uint64_vector){0} + bytes) >> byte_shift & 0xFFu);
            score_vector sum = __builtin_convertvector(sums, score_vector), c = sum * inverse;
            c = SELECT_LANES(c > one, one, c);   /* float sums of weights may stray by an ulp */
            c = SELECT_LANES(c < zero, zero, c);
            if (divisor) {
                score_vector d;
                memcpy(&d, divisor + k, sizeof d);
                c /= d;
            }
            score_mask reached = sum > zero;
            reached_lanes -= reached;   /* a true lane is -1 */
            c = SELECT_LANES(reached & ((fiche & FICHE_OWN) == 0), c, none);
            memcpy(score_all + k, &c, sizeof c);
            group_all = SELECT_LANES(c > group_all, c, group_all);
            c = SELECT_LANES((fiche & FICHE_BARRED) == 0, c, none);
            memcpy(score_top + k, &c, sizeof c);
            group_top = SELECT_LANES(c > group_top, c, group_top);
        }
        memcpy(best + g / SCORE_LANES, &group_all, sizeof group_all);
        memcpy(best_top + g / SCORE_LANES, &group_top, sizeof group_top);
    }
    uint32_t reached = 0;
    for (uint32_t l = 0; l < SCORE_LANES; l++) reached += (uint32_t)reached_lanes[l];
    return reached;
}

#define TRIM_BUCKETS 64u   /* keep_best */

/* Drops from v[0..n) (keys in [low, high]) entries that cannot be among the best cap, by a
 * histogram of the keys between low and high; returns how many are left, in their order. The
 * lane sets' floor usually leaves a little more than cap candidates (27 for 20 in bench_match),
 * which best_first ranks for less than this pass costs; past 2 × cap (a set often has several
 * good fiches), ranking them all would cost more. */
static size_t keep_best(ranked *v, size_t n, uint32_t cap, double low, double high) {
    if (n <= cap || !(high > low)) return n;
    uint32_t counts[TRIM_BUCKETS + 1] = {0};
    double scale = TRIM_BUCKETS / (high - low);
    for (size_t k = 0; k < n; k++) counts[(uint32_t)((v[k].key - low) * scale)]++;
    uint32_t floor = floor_bucket(counts, TRIM_BUCKETS + 1, cap);
    size_t kept = 0;
    for (size_t k = 0; k < n; k++) {
        v[kept] = v[k];
        kept += (uint32_t)((v[k].key - low) * scale) >= floor;
    }
    return kept;
}

#define SELECT_BUCKETS 256u   /* histogram of the lane maxima in select_best */

/* The best `cap` fiches of score[0..n) (negative scores left out) into best, best first; returns
 * how many. Offering every fiche to a heap costs more than the rest of the ranking together (its
 * branches cannot be predicted), so: a histogram of the lane maxima (score_fiches: the best of
 * disjoint sets of SCORE_LANES fiches) gives a floor that cap sets, hence cap fiches, reach; the
 * few fiches at or above it are then ranked exactly. candidates has room for n entries, reaching
 * for n / SCORE_LANES. */
static size_t select_best(const double *score, uint32_t n, const double *set_best, uint32_t cap, ranked *best,
                          ranked *candidates, uint32_t *reaching, rank_buffers buf) {
    uint32_t n_sets = n / SCORE_LANES, counts[SELECT_BUCKETS] = {0};
    double top = 0;
    for (uint32_t b = 0; b < n_sets; b++) {
        uint32_t bucket = (uint32_t)(set_best[b] * SELECT_BUCKETS);   /* only counted when >= 0 */
        counts[bucket < SELECT_BUCKETS ? bucket : SELECT_BUCKETS - 1] += set_best[b] >= 0;
        top = set_best[b] > top ? set_best[b] : top;
    }
    /* 0 when fewer than cap sets are reached: every scored fiche is then a candidate; the scan
     * starts at the best set's bucket, as the ones above are empty */
    uint32_t above_top = (uint32_t)(top * SELECT_BUCKETS) + 1;
    double floor = (double)floor_bucket(counts, above_top < SELECT_BUCKETS ? above_top : SELECT_BUCKETS, cap) /
                   SELECT_BUCKETS;
    /* the sets that reach the floor, listed first: which ones do is not predictable */
    uint32_t n_reaching = 0;
    for (uint32_t b = 0; b < n_sets; b++) {
        reaching[n_reaching] = b;
        n_reaching += set_best[b] >= floor;
    }
    size_t n_candidates = 0;
    for (uint32_t r = 0; r < n_reaching; r++) {
        uint32_t b = reaching[r], first = b / SCORE_LANES * SCORE_GROUP + b % SCORE_LANES;
        for (uint32_t f = first; f < first + SCORE_GROUP; f += SCORE_LANES) {
            candidates[n_candidates] = (ranked){score[f], f};
            n_candidates += score[f] >= floor;
        }
    }
    if (n_candidates > 2 * cap) n_candidates = keep_best(candidates, n_candidates, cap, floor, top);
    return best_first(candidates, n_candidates, cap, best, buf);
}

/* Ranks the scored fiches twice (with and without constraints/excluded domains), counts what
 * each constraint removed and lists the person's own fiches. */
static int rank_fiches(const matcher *m, matcher_scratch *s, const profile *p, match_result *out, size_t *n_top,
                       px_error *err) {
    bool any_preferred = p->domains.n > 0;
    bool count_removed = out->n_constraints > 0 || p->exclude_domains.n > 0;  /* else both rankings agree */
    size_t n_all = 0, n_cur = 0;
    uint32_t stride = m->dense_stride;
    for (size_t e = 0; e < out->n_experiences; e++)
        if (out->experiences[e].fiche != ROME_NONE && !p->experiences[e].extra)
            s->fiche_flags[out->experiences[e].fiche] |= FICHE_OWN;
    if (any_preferred) {   /* excluded domains are already barred (apply_domains) */
        for (uint32_t f = 0; f < stride; f++) s->divisor[f] = 1.0 + m->cfg.domain_boost;
        for (uint32_t k = 0; k < s->n_preferred; k++)
            for (uint32_t g = m->domain_offsets[s->preferred[k]]; g < m->domain_offsets[s->preferred[k] + 1]; g++)
                s->divisor[m->domain_fiches[g]] = 1.0;
    }
    uint32_t scored = score_fiches(s->acc, m->fiche_inverse_total, s->fiche_flags, any_preferred ? s->divisor : NULL,
                                   stride, s->score_all, s->score_top, s->lane_best);
    if (count_removed)
        n_all = select_best(s->score_all, stride, s->lane_best, m->cfg.top, s->top_all, s->candidates, s->reaching,
                            s->rank);
    *n_top = select_best(s->score_top, stride, s->lane_best + stride / SCORE_LANES, m->cfg.top, s->top, s->candidates,
                         s->reaching, s->rank);
    out->fiches_scored = scored;
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

/* Splits each class's sum between its experiences (part[e]) and the declared competences
 * (part[n_experiences]), emptying the buckets for the next job. Returns Σ value × w. */
static double split_classes(matcher_scratch *s, uint32_t n_experiences, double *part) {
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
        if (key >> 32) part[n_experiences] += share;
        for (uint32_t from = (uint32_t)key; from; from &= from - 1) part[__builtin_ctz(from)] += share;
    }
    return total;
}

/* The biggest parts, as shares of the whole, biggest first (ties: lower experience index, then
 * "declared", part[n_experiences]). */
static void pick_reasons(const double *part, uint32_t n_experiences, double total, match_job *job) {
    job->n_reasons = 0;
    for (uint32_t e = 0; e <= n_experiences; e++) {
        if (part[e] <= 0) continue;
        match_reason r = {e == n_experiences ? -1 : (int32_t)e, part[e] / total};
        uint32_t pos = job->n_reasons < MATCHER_MAX_REASONS ? job->n_reasons++ : MATCHER_MAX_REASONS;
        while (pos > 0 && r.share > job->reasons[pos - 1].share) {
            if (pos < MATCHER_MAX_REASONS) job->reasons[pos] = job->reasons[pos - 1];
            pos--;
        }
        if (pos < MATCHER_MAX_REASONS) job->reasons[pos] = r;
    }
}

#define KEY_LANES (DENSE_LANES / 2)
#define MERGE_KEYS 64u   /* merge_missing_avx512 merges up to this many keys; its runs have as much room */

/* Sorts the distinct keys v[0..n) into out by counting, for each, the keys below it: no branch
 * depends on the keys (an insertion sort mispredicts about once per key). 2 × KEY_LANES keys are
 * counted at once against each key in turn, so a count never needs summing across lanes. n²
 * comparisons, for short runs (16 keys on average, a tail to 80). v has room for n + 2 × KEY_LANES
 * keys; the ones after n are overwritten. */
VECTOR_CLONES
static void rank_sort_keys(uint64_t *v, uint32_t n, uint64_t *out) {
    const uint64_vector above_all = ~(uint64_vector){0};   /* above every key: never below */
    memcpy(v + n, &above_all, sizeof above_all);
    memcpy(v + n + KEY_LANES, &above_all, sizeof above_all);
    for (uint32_t c = 0; c < n; c += 2 * KEY_LANES) {
        uint64_vector low, high;
        memcpy(&low, v + c, sizeof low);
        memcpy(&high, v + c + KEY_LANES, sizeof high);
        score_mask below_low = {0}, below_high = {0};   /* lane l: minus the keys below it (true is -1) */
        for (uint32_t b = 0; b < n; b++) {
            uint64_vector key = (uint64_vector){0} + v[b];
            below_low += low > key;
            below_high += high > key;
        }
        for (uint32_t l = 0; l < KEY_LANES && c + l < n; l++) out[-below_low[l]] = v[c + l];
        for (uint32_t l = 0; l < KEY_LANES && c + KEY_LANES + l < n; l++) out[-below_high[l]] = v[c + KEY_LANES + l];
    }
}

/* Parts a job's links into the items only it misses (single, already in order) and those other
 * jobs miss too (unsorted), as sort keys; held items (opens 0) go nowhere. Returns n_single in
 * *n_single and n_shared in *n_shared, added to their values on entry. */
static void split_missing(const ranked_link *links, uint32_t n, const uint8_t *opens, uint64_t *single,
                          uint64_t *unsorted, uint32_t *n_single, uint32_t *n_shared) {
    uint32_t a = *n_single, b = *n_shared;
    for (uint32_t t = 0; t < n; t++) {
        uint32_t jobs = opens[TAGGED_ITEM(links[t].tagged)];
        uint64_t key = missing_key(links[t].weight * (float)jobs, links[t].tagged);
        single[a] = key;
        unsorted[b] = key;
        a += jobs == 1;
        b += jobs > 1;
    }
    *n_single = a;
    *n_shared = b;
}

#ifdef PX_MATCHER_X86
/* split_missing 8 links at a time (the last few go through split_missing): the jobs counts are
 * gathered, the keys made in one register and written where they belong with compressing stores. */
__attribute__((target("avx512f")))
static void split_missing_avx512(const ranked_link *links, uint32_t n, const uint8_t *opens, uint64_t *single,
                                 uint64_t *unsorted, uint32_t *n_single, uint32_t *n_shared) {
    uint32_t a = *n_single, b = *n_shared, t = 0;
    const __m512i one = _mm512_set1_epi64(1);
    const __m256i byte = _mm256_set1_epi32(0xFF), all_ones = _mm256_set1_epi32(-1);
    for (; t + 8 <= n; t += 8) {
        __m512i link = _mm512_loadu_si512(links + t);   /* a lane: weight bits low, tagged item high */
        __m512i tagged = _mm512_srli_epi64(link, 32);
        __m256i item = _mm512_cvtepi64_epi32(_mm512_srli_epi64(tagged, 1));
        __m256i jobs = _mm256_and_si256(_mm256_i32gather_epi32((const int *)opens, item, 1), byte);
        __m256 usefulness = _mm256_mul_ps(_mm256_castsi256_ps(_mm512_cvtepi64_epi32(link)), _mm256_cvtepi32_ps(jobs));
        __m256i inverse = _mm256_xor_si256(_mm256_castps_si256(usefulness), all_ones);   /* UINT32_MAX - bits */
        __m512i key = _mm512_or_si512(_mm512_slli_epi64(_mm512_cvtepu32_epi64(inverse), 32), tagged);
        __m512i jobs64 = _mm512_cvtepu32_epi64(jobs);
        __mmask8 alone = _mm512_cmpeq_epi64_mask(jobs64, one), shared = _mm512_cmpgt_epi64_mask(jobs64, one);
        _mm512_mask_compressstoreu_epi64(single + a, alone, key);
        _mm512_mask_compressstoreu_epi64(unsorted + b, shared, key);
        a += (uint32_t)__builtin_popcount(alone);
        b += (uint32_t)__builtin_popcount(shared);
    }
    *n_single = a;
    *n_shared = b;
    split_missing(links + t, n - t, opens, single, unsorted, n_single, n_shared);
}

#define MERGE_REGISTERS (MERGE_KEYS / 8)   /* registers of 8 keys */

/* Lane by lane, the lower keys of a and b where take_low is set, the higher elsewhere. */
__attribute__((target("avx512f")))
static inline __m512i exchange_lanes(__m512i a, __m512i b, __mmask8 take_low) {
    return _mm512_mask_blend_epi64(take_low, _mm512_max_epu64(a, b), _mm512_min_epu64(a, b));
}

/* Merges the sorted keys single[0..n_single) and shared[0..n_shared) (n_single + n_shared <=
 * MERGE_KEYS) into codes, their items in key order, then the qualifications among them
 * at codes[n_single + n_shared]; returns how many qualifications. A bitonic merge network in
 * registers: single ascending from the first lane, shared descending to the last, UINT64_MAX
 * between (the sequence rises then falls), then compare-exchanges at distances 32, 16, … 1. No
 * branch depends on the keys; the scalar merge spends a dependent load and compare per key. */
__attribute__((target("avx512f")))
static uint32_t merge_missing_avx512(const uint64_t *single, uint32_t n_single, const uint64_t *shared,
                                     uint32_t n_shared, uint32_t *codes) {
    const __m512i none = _mm512_set1_epi64(-1), reverse = _mm512_set_epi64(0, 1, 2, 3, 4, 5, 6, 7);
    __m512i v[MERGE_REGISTERS];
#pragma GCC unroll 8
    for (uint32_t r = 0; r < MERGE_REGISTERS; r++) {
        /* lane l of register r is position 8r + l: single[8r + l], or shared[63 - 8r - l] */
        int32_t from_single = (int32_t)n_single - (int32_t)(8 * r);
        int32_t from_shared = (int32_t)n_shared - (int32_t)(8 * (MERGE_REGISTERS - 1 - r));
        __mmask8 in_single = (__mmask8)((1u << (from_single < 0 ? 0 : from_single > 8 ? 8 : from_single)) - 1);
        __mmask8 in_shared = (__mmask8)((1u << (from_shared < 0 ? 0 : from_shared > 8 ? 8 : from_shared)) - 1);
        __m512i a = _mm512_mask_loadu_epi64(none, in_single, single + 8 * r);
        __m512i b = _mm512_mask_loadu_epi64(none, in_shared, shared + 8 * (MERGE_REGISTERS - 1 - r));
        v[r] = _mm512_min_epu64(a, _mm512_permutexvar_epi64(reverse, b));
    }
    /* unrolled by pragma: GCC otherwise keeps the registers on the stack across the loops */
#pragma GCC unroll 8
    for (uint32_t d = MERGE_REGISTERS / 2; d > 0; d /= 2)   /* distances 32, 16, 8: across registers */
#pragma GCC unroll 8
        for (uint32_t r = 0; r < MERGE_REGISTERS; r++)
            if (!(r & d)) {
                __m512i low = _mm512_min_epu64(v[r], v[r + d]);
                v[r + d] = _mm512_max_epu64(v[r], v[r + d]);
                v[r] = low;
            }
#pragma GCC unroll 8
    for (uint32_t r = 0; r < MERGE_REGISTERS; r++) {   /* distances 4, 2, 1: within a register */
        v[r] = exchange_lanes(v[r], _mm512_shuffle_i64x2(v[r], v[r], _MM_SHUFFLE(1, 0, 3, 2)), 0x0F);
        v[r] = exchange_lanes(v[r], _mm512_permutex_epi64(v[r], _MM_SHUFFLE(1, 0, 3, 2)), 0x33);
        v[r] = exchange_lanes(v[r], _mm512_shuffle_epi32(v[r], _MM_PERM_BADC), 0x55);
    }
    uint32_t n_missing = n_single + n_shared, q = n_missing;
    const __m512i item_bits = _mm512_set1_epi64(0x7FFFFFFF), tag = _mm512_set1_epi64(1);
    for (uint32_t r = 0; r < MERGE_REGISTERS && 8 * r < n_missing; r++) {
        uint32_t left = n_missing - 8 * r;
        __mmask8 valid = (__mmask8)((1u << (left > 8 ? 8 : left)) - 1);
        __m512i item = _mm512_and_si512(_mm512_srli_epi64(v[r], 1), item_bits);   /* TAGGED_ITEM, in 64-bit lanes */
        _mm512_mask_cvtepi64_storeu_epi32(codes + 8 * r, valid, item);
        __mmask8 is_qualification = _mm512_mask_test_epi64_mask(valid, v[r], tag);
        uint32_t found = (uint32_t)__builtin_popcount(is_qualification);
        _mm512_mask_cvtepi64_storeu_epi32(codes + q, (__mmask8)((1u << found) - 1),
                                          _mm512_maskz_compress_epi64(is_qualification, item));
        q += found;
    }
    return q - n_missing;
}
#endif

/* A job's missing keys, parted (split_missing): the items only it misses, in order, and the others. */
typedef struct missing_keys {
    uint64_t *single, *unsorted;
    uint32_t n_single, n_shared;
} missing_keys;

/* Parts the missing keys of the job in fiche f (its ranked_links) into k. */
static void split_job(const matcher *m, const rome_csr *fi, uint32_t f, const uint8_t *opens, missing_keys *k) {
    const ranked_link *links = m->ranked_links + fi->offsets[f];
    uint32_t n = fi->offsets[f + 1] - fi->offsets[f];
    k->n_single = k->n_shared = 0;
#ifdef PX_MATCHER_X86
    if (m->avx512) split_missing_avx512(links, n, opens, k->single, k->unsorted, &k->n_single, &k->n_shared);
    else
#else
    (void)m;   /* only the x86 paths ask what the CPU runs */
#endif
    split_missing(links, n, opens, k->single, k->unsorted, &k->n_single, &k->n_shared);
}

/* Writes a job's missing items, most useful first (w × opens descending, then item), then its
 * qualifications in the same order (the keys' tags); returns how many are missing and sets
 * *n_qualifications. The items no other job misses (opens == 1) come in the fiche's ranked order,
 * already sorted; the others (16 on average) are sorted here, then both runs are merged: in
 * registers on AVX-512 CPUs when they fit, else key by key. Held items have opens == 0 and were
 * left out. k's runs and shared each have room for the larger of n + 2 × KEY_LANES and
 * MERGE_KEYS keys, n the job's links. */
static uint32_t order_missing(const matcher *m, missing_keys *k, uint64_t *shared, uint32_t *codes,
                              uint32_t *n_qualifications) {
    uint64_t *single = k->single;
    uint32_t n_single = k->n_single, n_shared = k->n_shared;
    rank_sort_keys(k->unsorted, n_shared, shared);
#ifdef PX_MATCHER_X86
    if (m->avx512 && n_single + n_shared <= MERGE_KEYS) {
        *n_qualifications = merge_missing_avx512(single, n_single, shared, n_shared, codes);
        return n_single + n_shared;
    }
#else
    (void)m;
#endif
    single[n_single] = shared[n_shared] = UINT64_MAX;   /* above any key: a missing item's usefulness is > 0 */
    uint32_t n_missing = n_single + n_shared, q = n_missing;
    for (uint32_t a = 0, b = 0, o = 0; o < n_missing; o++) {   /* which run comes next is not predictable */
        bool from_single = single[a] < shared[b];
        uint64_t key = from_single ? single[a] : shared[b];
        a += from_single;
        b += !from_single;
        codes[o] = codes[q] = TAGGED_ITEM(key);
        q += key & 1u;
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
        /* the jobs' fiches change with every match: ask for them all now, the later jobs' links
         * come while the first ones are described */
        for (uint32_t t = 0; t < n; t += 64 / sizeof *m->job_links) __builtin_prefetch(m->job_links + first + t);
        for (uint32_t t = 0; t < n; t += 64 / sizeof *m->ranked_links) __builtin_prefetch(m->ranked_links + first + t);
    }
    size_t room = widest + 2 * KEY_LANES > MERGE_KEYS ? widest + 2 * KEY_LANES : MERGE_KEYS;   /* per run of keys */
    if (reserve((void **)&out->jobs, &out->cap_jobs, n_top, sizeof *out->jobs, err) ||
        reserve((void **)&out->codes, &out->cap_codes, 2 * links, sizeof *out->codes, err) ||
        reserve((void **)&s->sorted, &s->sorted_cap, 5 * room, sizeof *s->sorted, err) ||
        reserve((void **)&s->job_held, &s->job_held_cap, links, sizeof *s->job_held, err))
        return -1;
    /* locals: a byte store (opens) may alias anything reached through s or m */
    const uint32_t *source_of = s->source_of;
    const link_source *sources = s->sources;
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
            __builtin_prefetch(&source_of[link[t + 8 < n ? t + 8 : t].item]);   /* its lookup, ahead */
            const link_source *src = &sources[source_of[i]];
            job_held[n_held] = i;
            n_held += src->held;
            opens[i] += src->missing;
            buckets[src->bucket + t % SOURCE_BANKS] += src->value * link[t].weight;
        }
        job->held.n = (uint32_t)n_held - job->held.n;
        double part[MATCHER_MAX_EXPERIENCES + 1];
        for (size_t e = 0; e <= out->n_experiences; e++) part[e] = 0;   /* not all 33: a job is short */
        double total = split_classes(s, (uint32_t)out->n_experiences, part);
        pick_reasons(part, (uint32_t)out->n_experiences, total, job);
    }
    out->n_codes = 0;
    /* job j + 1 is parted before job j is ordered: the keys it wrote (compressing stores) are in
     * memory by the time they are read back, rather than waited for */
    missing_keys keys[2] = {{s->sorted, s->sorted + room, 0, 0}, {s->sorted + 2 * room, s->sorted + 3 * room, 0, 0}};
    uint64_t *shared = s->sorted + 4 * room;
    if (n_top) split_job(m, fi, out->jobs[0].fiche, s->opens, &keys[0]);
    for (size_t j = 0, h = 0; j < n_top; j++) {
        match_job *job = &out->jobs[j];
        if (j + 1 < n_top) split_job(m, fi, out->jobs[j + 1].fiche, s->opens, &keys[(j + 1) % 2]);
        job->held.off = (uint32_t)out->n_codes;
        memcpy(out->codes + out->n_codes, s->job_held + h, job->held.n * sizeof *out->codes);
        h += job->held.n;
        out->n_codes += job->held.n;
        job->missing.off = (uint32_t)out->n_codes;
        job->missing.n = order_missing(m, &keys[j % 2], shared, out->codes + out->n_codes, &job->qualifications.n);
        out->n_codes += job->missing.n;
        job->qualifications.off = (uint32_t)out->n_codes;
        out->n_codes += job->qualifications.n;
    }
    memset(opens, 0, m->idx->n.items);   /* one sweep of 33 KB costs less than ~850 scattered stores */
    return 0;
}

/* Asks for the hash slots of the profile's codes, found in resolve_experiences and apply_decisions:
 * they arrive meanwhile instead of one wait each. */
static void prefetch_codes(const matcher *m, const profile *p) {
    for (size_t e = 0; e < p->n_experiences; e++)
        if (p->experiences[e].kind == PROFILE_EXP_APPELLATION)
            code_table_prefetch(m->appellation_codes, p->experiences[e].appellation);
    const profile_codes *lists[] = {&p->confirmed, &p->added, &p->rejected};
    for (size_t l = 0; l < sizeof lists / sizeof lists[0]; l++)
        for (size_t k = 0; k < lists[l]->n; k++) code_table_prefetch(m->item_codes, lists[l]->v[k]);
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
    if (check_limits(p, err)) goto done;
    prefetch_codes(m, p);
    if (resolve_experiences(m, s, p, out, exp_weight, err)) goto done;
    infer_items(m, s, out, exp_weight);
    if (apply_decisions(m, s, p, err) || apply_avoid(m, s, p, out, err) ||
        apply_domains(m, s, &p->domains, "domains", DOMAIN_PREFERRED, err) ||
        apply_domains(m, s, &p->exclude_domains, "exclude_domains", DOMAIN_EXCLUDED, err))
        goto done;
    size_t n_candidates = settle_items(m, s);
    if (suggest_skills(m, s, n_candidates, out, err) || value_items(m, s, err)) goto done;
    accumulate(m, s, out);
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
