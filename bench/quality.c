/* bench_quality — how well passerelle ranks career moves, measured against the moves France
 * Travail's experts list (ROME 4.0 mobilités, dev half: see data/eval/README.md). A program that
 * prints figures, never a test: the product must not be tuned to these lists, only measured.
 *
 * It prints, in one run:
 *  1. expert transitions: each source fiche A of the eval file as the profile {A}; recall@10,
 *     recall@20 (|A's targets in the top K| / |A's targets|, averaged over sources) and MRR
 *     (1 / rank of the first target in the top 20, 0 if none), for the matcher (top 20) and two
 *     baselines computed here on bloc-5 item sets: Jaccard of the sets, and idf-weighted coverage
 *     of the target's items by the source's (idf(i) = ln(N / df(i))); ties by fiche code. Then the
 *     same as the eval README counted its table (pooled recall, MRR over the whole ranking), which
 *     must give the README's figures;
 *  2. two experiences: see MULTI below;
 *  3. advice over all 1,584 fiches' own profiles, top 10: places carried by macro-compétences or
 *     savoir-être alone, places holding a qualification, the job most often suggested, places of a
 *     regulated job for a source that is not;
 *  4. time per match (informative).
 *
 * usage: bench_quality [ROME_DIR] [--eval FILE] [--list FICHE | --tsv]
 *   ROME_DIR defaults to $PASSERELLE_ROME_DIR, then to the build's PASSERELLE_ROME_DIR;
 *   FILE defaults to ROME_DIR/../eval/rome4_mobilites_dev.csv.
 *   --list FICHE  one source's top 20 of each ranking, its dev targets marked, then its targets'
 *                 ranks (to read a list as a counsellor would);
 *   --tsv         every source's top 20 of each ranking as TSV lines, instead of the figures.
 * Exit: 0, 2 on a bad argument, path or CSV row (the message names file, line and field), 1 on an
 * internal failure. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "csv_table.h"
#include "matcher.h"
#include "profile.h"
#include "rome_index.h"
#include "rome_load.h"

#ifndef PASSERELLE_ROME_DIR
#define PASSERELLE_ROME_DIR "../shared/data/rome4"
#endif

#define TOP        20u /* places asked of every ranking */
#define ADVICE_TOP 10u /* places read in the advice figures */
#define POPULAR    60u /* "appears in more than 60 top-10 lists" */

enum { RK_PASSERELLE, RK_JACCARD, RK_IDF, RK_COUNT };
static const char *const rk_name[RK_COUNT] = {"passerelle", "jaccard", "idf-cover"};

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* ---- the eval file: fiche → its expert targets (CSR by source fiche id) ---- */

typedef struct eval_set {
    uint32_t *off;   /* n_fiches + 1 */
    uint32_t *tgt;   /* target fiche ids, by numero_ordre */
    uint32_t *ordre; /* numero_ordre, parallel to tgt */
    uint32_t n_rows, n_sources;
} eval_set;

typedef struct eval_row {
    uint32_t src, dst, ordre, line;
} eval_row;

static int cmp_row(const void *a, const void *b) {
    const eval_row *x = a, *y = b;
    if (x->src != y->src) return x->src < y->src ? -1 : 1;
    if (x->ordre != y->ordre) return x->ordre < y->ordre ? -1 : 1;
    return (x->dst > y->dst) - (x->dst < y->dst);
}

/* Reads the file; a row naming an unknown fiche, a fiche as its own target or a pair twice is
 * refused (each would skew a recall), with file, line and field. Returns 0, 2 (bad data), 1. */
static int eval_load(const rome_index *idx, const char *path, eval_set *ev) {
    static const char *const cols[] = {"code_rome", "code_rome_cible", "numero_ordre"};
    px_error err = {0};
    csv_table *t = csv_table_read(path, cols, 3, &err);
    if (!t) {
        fprintf(stderr, "bench_quality: %s\n", err.msg);
        return 2;
    }
    size_t n = csv_table_rows(t);
    eval_row *rows = calloc(n ? n : 1, sizeof *rows);
    uint8_t *pair_seen = calloc(idx->n.fiches, 1);
    int rc = rows && pair_seen ? 0 : 1;
    for (size_t r = 0; !rc && r < n; r++) {
        uint32_t f[2];
        for (size_t c = 0; !rc && c < 2; c++) {
            f[c] = rome_fiche_find(idx, csv_table_field(t, r, c));
            if (f[c] != ROME_NONE) continue;
            csv_table_field_error(t, r, c, &err, "'%s' is no fiche of ROME %u.0 v%u",
                                  csv_table_field(t, r, c), idx->rome_major, idx->rome_version);
            rc = 2;
        }
        if (!rc && f[0] == f[1]) {
            csv_table_field_error(t, r, 1, &err, "'%s' is its own target",
                                  csv_table_field(t, r, 1));
            rc = 2;
        }
        if (!rc && csv_table_u32(t, r, 2, &rows[r].ordre, &err)) rc = 2;
        if (!rc) rows[r] = (eval_row){f[0], f[1], rows[r].ordre, csv_table_line(t, r)};
    }
    if (!rc) qsort(rows, n, sizeof *rows, cmp_row);
    /* duplicates: one source's rows are adjacent after the sort; mark its targets */
    for (size_t r = 0, start = 0; !rc && r <= n; r++) {
        if (r == n || rows[r].src != rows[start].src) {
            for (size_t k = start; k < r; k++) pair_seen[rows[k].dst] = 0;
            start = r;
            if (r == n) break;
        }
        if (pair_seen[rows[r].dst]) {
            px_error_set(&err, 1, "%s:%u: column 'code_rome_cible': pair %s -> %s listed twice",
                         path, rows[r].line, idx->fiches[rows[r].src].code,
                         idx->fiches[rows[r].dst].code);
            rc = 2;
        }
        pair_seen[rows[r].dst] = 1;
    }
    ev->off = calloc(idx->n.fiches + 1u, sizeof *ev->off);
    ev->tgt = malloc((n ? n : 1) * sizeof *ev->tgt);
    ev->ordre = malloc((n ? n : 1) * sizeof *ev->ordre);
    if (!rc && (!ev->off || !ev->tgt || !ev->ordre)) rc = 1;
    if (!rc && n == 0) {
        px_error_set(&err, 1, "%s: no rows", path);
        rc = 2;
    }
    for (size_t r = 0; !rc && r < n; r++) {
        ev->off[rows[r].src + 1]++;
        ev->tgt[r] = rows[r].dst;
        ev->ordre[r] = rows[r].ordre;
    }
    for (uint32_t f = 0; !rc && f < idx->n.fiches; f++) {
        ev->n_sources += ev->off[f + 1] > 0;
        ev->off[f + 1] += ev->off[f];
    }
    ev->n_rows = (uint32_t)n;
    if (rc) fprintf(stderr, "bench_quality: %s\n", rc == 1 ? "out of memory" : err.msg);
    free(rows);
    free(pair_seen);
    csv_table_free(t);
    return rc;
}

static void eval_free(eval_set *ev) {
    free(ev->off);
    free(ev->tgt);
    free(ev->ordre);
}

static uint32_t n_targets(const eval_set *ev, uint32_t f) { return ev->off[f + 1] - ev->off[f]; }

/* ---- the three rankings ---- */

typedef struct scored {
    double score;
    uint32_t fiche;
} scored;

static int cmp_scored(const void *a, const void *b) {
    const scored *x = a, *y = b;
    if (x->score != y->score) return x->score < y->score ? 1 : -1;
    return (x->fiche > y->fiche) - (x->fiche < y->fiche);
}

typedef struct ranker {
    const rome_index *idx;
    const matcher *m;
    matcher_scratch *s;
    match_result r; /* the last passerelle match (its jobs' held lists) */
    double match_s; /* time inside matcher_run */
    unsigned long matches;
    double *idf;       /* per item: ln(N / df) */
    double *idf_total; /* per fiche: Σ idf over its items */
    uint8_t *mark;     /* per item: in the profile */
    uint32_t *items;   /* the profile's distinct items */
    uint32_t *inter;   /* per fiche: items shared with the profile */
    double *idf_inter; /* per fiche: Σ idf over the shared items */
    scored *all;       /* per fiche: the last baseline's whole ranking, best first */
    size_t n_all;
} ranker;

static int ranker_init(ranker *k, const rome_index *idx, const matcher *m, px_error *err) {
    uint32_t nf = idx->n.fiches, ni = idx->n.items;
    *k = (ranker){.idx = idx, .m = m};
    k->s = matcher_scratch_new(m, err);
    k->idf = malloc(ni * sizeof *k->idf);
    k->idf_total = calloc(nf, sizeof *k->idf_total);
    k->mark = calloc(ni, 1);
    k->items = malloc(ni * sizeof *k->items);
    k->inter = malloc(nf * sizeof *k->inter);
    k->idf_inter = malloc(nf * sizeof *k->idf_inter);
    k->all = malloc(nf * sizeof *k->all);
    if (!k->s || !k->idf || !k->idf_total || !k->mark || !k->items || !k->inter || !k->idf_inter ||
        !k->all)
        return -1;
    for (uint32_t i = 0; i < ni; i++) {
        uint32_t df = rome_csr_count(&idx->item_fiches, i);
        k->idf[i] = df ? log((double)nf / df) : 0.0;
    }
    for (uint32_t f = 0; f < nf; f++)
        for (uint32_t j = idx->fiche_items.offsets[f]; j < idx->fiche_items.offsets[f + 1]; j++)
            k->idf_total[f] += k->idf[idx->fiche_items.targets[j]];
    return 0;
}

static void ranker_free(ranker *k) {
    match_result_free(&k->r);
    matcher_scratch_free(k->s);
    free(k->idf);
    free(k->idf_total);
    free(k->mark);
    free(k->items);
    free(k->inter);
    free(k->idf_inter);
    free(k->all);
}

static int rank_passerelle(ranker *k, const uint32_t *exp, size_t n_exp, scored *out, size_t *n_out,
                           px_error *err) {
    profile p = {0};
    int rc = 0;
    for (size_t e = 0; !rc && e < n_exp; e++) {
        profile_experience *x = profile_add_experience(&p, err);
        if (!x)
            rc = -1;
        else {
            x->kind = PROFILE_EXP_ROME;
            memcpy(x->rome, k->idx->fiches[exp[e]].code, sizeof x->rome);
        }
    }
    double t = now_s();
    if (!rc) rc = matcher_run(k->m, k->s, &p, &k->r, err);
    k->match_s += now_s() - t;
    k->matches++;
    profile_free(&p);
    *n_out = 0;
    for (size_t j = 0; !rc && j < k->r.n_jobs && j < TOP; j++)
        out[(*n_out)++] = (scored){k->r.jobs[j].score, k->r.jobs[j].fiche};
    return rc;
}

/* The baselines take the profile as the union of its fiches' bloc-5 items and score every other
 * fiche through the inverted lists (one pass over the profile's items). */
static void rank_baseline(ranker *k, int rk, const uint32_t *exp, size_t n_exp, scored *out,
                          size_t *n_out) {
    const rome_index *idx = k->idx;
    uint32_t nf = idx->n.fiches, n_items = 0;
    for (size_t e = 0; e < n_exp; e++)
        for (uint32_t j = idx->fiche_items.offsets[exp[e]];
             j < idx->fiche_items.offsets[exp[e] + 1]; j++) {
            uint32_t i = idx->fiche_items.targets[j];
            if (!k->mark[i]) k->items[n_items++] = i;
            k->mark[i] = 1;
        }
    memset(k->inter, 0, nf * sizeof *k->inter);
    memset(k->idf_inter, 0, nf * sizeof *k->idf_inter);
    for (uint32_t a = 0; a < n_items; a++) {
        uint32_t i = k->items[a];
        k->mark[i] = 0;
        for (uint32_t j = idx->item_fiches.offsets[i]; j < idx->item_fiches.offsets[i + 1]; j++) {
            k->inter[idx->item_fiches.targets[j]]++;
            k->idf_inter[idx->item_fiches.targets[j]] += k->idf[i];
        }
    }
    size_t n = 0;
    for (uint32_t f = 0; f < nf; f++) {
        bool own = false;
        for (size_t e = 0; e < n_exp; e++) own |= exp[e] == f;
        if (own) continue;
        double s;
        if (rk == RK_JACCARD) {
            uint32_t uni = n_items + rome_csr_count(&idx->fiche_items, f) - k->inter[f];
            s = uni ? (double)k->inter[f] / uni : 0.0;
        } else {
            s = k->idf_total[f] > 0 ? k->idf_inter[f] / k->idf_total[f] : 0.0;
        }
        k->all[n++] = (scored){s, f};
    }
    qsort(k->all, n, sizeof *k->all, cmp_scored);
    k->n_all = n;
    *n_out = n < TOP ? n : TOP;
    memcpy(out, k->all, *n_out * sizeof *out);
}

static int rank(ranker *k, int rk, const uint32_t *exp, size_t n_exp, scored *out, size_t *n_out,
                px_error *err) {
    if (rk == RK_PASSERELLE) return rank_passerelle(k, exp, n_exp, out, n_out, err);
    rank_baseline(k, rk, exp, n_exp, out, n_out);
    return 0;
}

/* ---- figures ---- */

/* Per-source averages (the figures asked for) and, as the eval README computed its table, pooled
 * recall (all hits / all targets) and the reciprocal rank over the whole ranking (a baseline ranks
 * every fiche; the matcher only returns its top 20, so for it the two MRRs are one). */
typedef struct figures {
    double r10, r20, rr, rr_all;
    unsigned long hit10, hit20, rel;
    uint32_t n;
} figures;

/* Adds one list: `relevant` marks fiches by bits, `mask` selects which count, `n_rel` of them;
 * `full` is the whole ranking the list starts (the list itself for the matcher). */
static void measure(figures *fg, const scored *list, size_t n, const scored *full, size_t n_full,
                    const uint8_t *relevant, uint8_t mask, uint32_t n_rel) {
    if (!n_rel) return;
    uint32_t hit10 = 0, hit20 = 0;
    double rr = 0;
    for (size_t j = 0; j < n && j < TOP; j++) {
        if (!(relevant[list[j].fiche] & mask)) continue;
        if (!hit20) rr = 1.0 / (double)(j + 1);
        hit20++;
        hit10 += j < 10;
    }
    size_t first = 0;
    while (first < n_full && !(relevant[full[first].fiche] & mask)) first++;
    fg->r10 += (double)hit10 / n_rel;
    fg->r20 += (double)hit20 / n_rel;
    fg->rr += rr;
    fg->rr_all += first < n_full ? 1.0 / (double)(first + 1) : 0.0;
    fg->hit10 += hit10;
    fg->hit20 += hit20;
    fg->rel += n_rel;
    fg->n++;
}

static void print_figures(const char *name, const figures *fg) {
    double n = fg->n ? fg->n : 1;
    printf("  %-12s recall@10 %.3f  recall@20 %.3f  MRR %.3f\n", name, fg->r10 / n, fg->r20 / n,
           fg->rr / n);
}

static void print_pooled(const char *name, const figures *fg) {
    double n = fg->n ? fg->n : 1, rel = fg->rel ? (double)fg->rel : 1;
    printf("  %-12s recall@10 %.3f  recall@20 %.3f  MRR %.3f\n", name, fg->hit10 / rel,
           fg->hit20 / rel, fg->rr_all / n);
}

/* The whole ranking behind the last list of ranking rk. */
static const scored *full_ranking(const ranker *k, int rk, const scored *list, size_t n,
                                  size_t *n_full) {
    *n_full = rk == RK_PASSERELLE ? n : k->n_all;
    return rk == RK_PASSERELLE ? list : k->all;
}

/* ---- 1. expert transitions ---- */

static int expert_transitions(ranker *k, const eval_set *ev, uint8_t *relevant, px_error *err) {
    const rome_index *idx = k->idx;
    figures fg[RK_COUNT] = {{0}};
    scored list[TOP];
    size_t n;
    for (uint32_t a = 0; a < idx->n.fiches; a++) {
        if (!n_targets(ev, a)) continue;
        for (uint32_t j = ev->off[a]; j < ev->off[a + 1]; j++) relevant[ev->tgt[j]] = 1;
        for (int rk = 0; rk < RK_COUNT; rk++) {
            if (rank(k, rk, &a, 1, list, &n, err)) return -1;
            size_t n_full;
            const scored *full = full_ranking(k, rk, list, n, &n_full);
            measure(&fg[rk], list, n, full, n_full, relevant, 1, n_targets(ev, a));
        }
        for (uint32_t j = ev->off[a]; j < ev->off[a + 1]; j++) relevant[ev->tgt[j]] = 0;
    }
    printf("1. expert transitions: %u sources, %u pairs; profile {A}, A's targets\n", ev->n_sources,
           ev->n_rows);
    for (int rk = 0; rk < RK_COUNT; rk++) print_figures(rk_name[rk], &fg[rk]);
    printf("  as the eval README counts (pooled recall; MRR over a baseline's whole ranking):\n");
    for (int rk = 0; rk < RK_COUNT; rk++) print_pooled(rk_name[rk], &fg[rk]);
    return 0;
}

/* ---- 2. MULTI: two experiences ----
 * Does a second experience bring its own moves, or is it drowned by the first? Profile {A, C}:
 * A a source of the file, C the next source in code order within A's domaine professionnel (the
 * nearest neighbour, so both are jobs one person plausibly held; each consecutive pair once).
 * Only sources are paired, so that both fiches' expert lists are known. Relevant: A's targets
 * and C's targets, less A and C (current jobs are never suggested). The baselines take the union
 * of both item sets. For passerelle, recall@20 of A's targets and of C's targets apart shows the
 * balance (the baselines see a set, so order cannot matter to them; it could to the matcher). */
static int two_experiences(ranker *k, const eval_set *ev, uint8_t *relevant, px_error *err) {
    const rome_index *idx = k->idx;
    figures fg[RK_COUNT] = {{0}}, first = {0}, second = {0};
    scored list[TOP];
    size_t n;
    double union_sum = 0;
    for (uint32_t a = 0; a < idx->n.fiches; a++) {
        if (!n_targets(ev, a)) continue;
        uint32_t c = a + 1;
        while (c < idx->n.fiches && idx->fiches[c].domaine == idx->fiches[a].domaine &&
               !n_targets(ev, c))
            c++;
        if (c == idx->n.fiches || idx->fiches[c].domaine != idx->fiches[a].domaine) continue;
        uint32_t exp[2] = {a, c}, n_rel = 0, n_a = 0, n_c = 0;
        for (int e = 0; e < 2; e++)
            for (uint32_t j = ev->off[exp[e]]; j < ev->off[exp[e] + 1]; j++)
                relevant[ev->tgt[j]] |= (uint8_t)(1u << e);
        relevant[a] = relevant[c] = 0;
        for (uint32_t f = 0; f < idx->n.fiches; f++) {
            n_rel += relevant[f] != 0;
            n_a += relevant[f] & 1;
            n_c += (relevant[f] >> 1) & 1;
        }
        union_sum += n_rel;
        for (int rk = 0; rk < RK_COUNT; rk++) {
            if (rank(k, rk, exp, 2, list, &n, err)) return -1;
            size_t n_full;
            const scored *full = full_ranking(k, rk, list, n, &n_full);
            measure(&fg[rk], list, n, full, n_full, relevant, 3, n_rel);
            if (rk != RK_PASSERELLE) continue;
            measure(&first, list, n, list, n, relevant, 1, n_a);
            measure(&second, list, n, list, n, relevant, 2, n_c);
        }
        for (int e = 0; e < 2; e++)
            for (uint32_t j = ev->off[exp[e]]; j < ev->off[exp[e] + 1]; j++)
                relevant[ev->tgt[j]] = 0;
    }
    printf("2. two experiences: %u profiles {A, C}, C the next source in A's domaine pro;\n"
           "   relevant = A's targets + C's targets less A and C (%.1f a profile)\n",
           fg[0].n, fg[0].n ? union_sum / fg[0].n : 0.0);
    for (int rk = 0; rk < RK_COUNT; rk++) print_figures(rk_name[rk], &fg[rk]);
    printf("  passerelle recall@20 of the first experience's targets %.3f, of the second's %.3f\n",
           first.n ? first.r20 / first.n : 0.0, second.n ? second.r20 / second.n : 0.0);
    return 0;
}

/* ---- 3. advice over every fiche's own profile ---- */

/* True when an item says something specific about the trade: a savoir-faire that is not a
 * macro-compétence, or a savoir. */
static bool specific_item(const rome_item *it) {
    return it->kind == ROME_KIND_SAVOIR ||
           (it->kind == ROME_KIND_SAVOIR_FAIRE && !(it->flags & ROME_ITEM_MACRO));
}

static int advice(ranker *k, px_error *err) {
    const rome_index *idx = k->idx;
    uint32_t nf = idx->n.fiches;
    uint32_t *seen = calloc(nf, sizeof *seen);
    if (!seen) return px_error_set(err, 1, "out of memory");
    unsigned long places = 0, generic = 0, empty = 0, qualif = 0, regl = 0, short_lists = 0;
    scored list[TOP];
    size_t n;
    for (uint32_t a = 0; a < nf; a++) {
        if (rank(k, RK_PASSERELLE, &a, 1, list, &n, err)) {
            free(seen);
            return -1;
        }
        short_lists += n < ADVICE_TOP;
        for (size_t j = 0; j < n && j < ADVICE_TOP; j++) {
            const match_job *job = &k->r.jobs[j];
            bool specific = false, has_qualif = false;
            for (uint32_t h = 0; h < job->held.n; h++) {
                const rome_item *it = &idx->items[k->r.codes[job->held.off + h]];
                specific |= specific_item(it);
                has_qualif |= (it->flags & ROME_ITEM_QUALIFICATION) != 0;
            }
            places++;
            generic += !specific;
            empty += job->held.n == 0;
            qualif += has_qualif;
            regl += (idx->fiches[job->fiche].flags & ROME_FICHE_REGLEMENTE) &&
                    !(idx->fiches[a].flags & ROME_FICHE_REGLEMENTE);
            seen[job->fiche]++;
        }
    }
    uint32_t best = 0, popular = 0;
    for (uint32_t f = 0; f < nf; f++) {
        if (seen[f] > seen[best]) best = f;
        popular += seen[f] > POPULAR;
    }
    printf("3. advice: every fiche's own profile {A}, top %u: %lu places over %u lists"
           " (%lu lists shorter)\n",
           ADVICE_TOP, places, nf, short_lists);
    printf("  carried by macro-compétences or savoir-être alone: %lu places (%.1f%%)", generic,
           places ? 100.0 * generic / places : 0.0);
    if (empty) printf(", %lu of them holding nothing", empty);
    printf("\n  holding a qualification (inferred, none confirmed): %lu places (%.1f%%)\n", qualif,
           places ? 100.0 * qualif / places : 0.0);
    printf("  most suggested: %s %s, in %u lists; %u jobs in more than %u lists\n",
           idx->fiches[best].code, rome_str(idx, idx->fiches[best].label), seen[best], popular,
           POPULAR);
    printf("  regulated job for a source that is not: %lu places (%.1f%%)\n", regl,
           places ? 100.0 * regl / places : 0.0);
    free(seen);
    return 0;
}

/* ---- --list and --tsv ---- */

static uint32_t ordre_of(const eval_set *ev, uint32_t a, uint32_t f) {
    for (uint32_t j = ev->off[a]; j < ev->off[a + 1]; j++)
        if (ev->tgt[j] == f) return ev->ordre[j];
    return 0;
}

static int list_one(ranker *k, const eval_set *ev, uint32_t a, px_error *err) {
    const rome_index *idx = k->idx;
    scored list[RK_COUNT][TOP];
    size_t n[RK_COUNT];
    for (int rk = 0; rk < RK_COUNT; rk++)
        if (rank(k, rk, &a, 1, list[rk], &n[rk], err)) return -1;
    printf("%s %s: %u dev targets (* = dev target, with its numero_ordre)\n", idx->fiches[a].code,
           rome_str(idx, idx->fiches[a].label), n_targets(ev, a));
    for (int rk = 0; rk < RK_COUNT; rk++) {
        printf("%s%s\n", rk_name[rk],
               rk == RK_PASSERELLE
                   ? " (held items; G: macro-compétences"
                     " or savoir-être alone; Q: holds a qualification; R: regulated)"
                   : "");
        for (size_t j = 0; j < n[rk]; j++) {
            uint32_t f = list[rk][j].fiche, o = ordre_of(ev, a, f);
            printf("  %2zu %s %.4f %s%-3.0u ", j + 1, idx->fiches[f].code, list[rk][j].score,
                   o ? "*" : " ", o);
            if (rk == RK_PASSERELLE) {
                const match_job *job = &k->r.jobs[j];
                bool specific = false, has_qualif = false;
                for (uint32_t h = 0; h < job->held.n; h++) {
                    const rome_item *it = &idx->items[k->r.codes[job->held.off + h]];
                    specific |= specific_item(it);
                    has_qualif |= (it->flags & ROME_ITEM_QUALIFICATION) != 0;
                }
                printf("%3u %c%c%c ", job->held.n, specific ? ' ' : 'G', has_qualif ? 'Q' : ' ',
                       idx->fiches[f].flags & ROME_FICHE_REGLEMENTE ? 'R' : ' ');
            }
            printf("%s\n", rome_str(idx, idx->fiches[f].label));
        }
    }
    printf("dev targets: rank in passerelle / jaccard / idf-cover (- = not in the top %u)\n", TOP);
    for (uint32_t j = ev->off[a]; j < ev->off[a + 1]; j++) {
        printf("  %2u %s", ev->ordre[j], idx->fiches[ev->tgt[j]].code);
        for (int rk = 0; rk < RK_COUNT; rk++) {
            size_t r = 0;
            while (r < n[rk] && list[rk][r].fiche != ev->tgt[j]) r++;
            if (r < n[rk])
                printf(" %3zu", r + 1);
            else
                printf("   -");
        }
        printf("  %s\n", rome_str(idx, idx->fiches[ev->tgt[j]].label));
    }
    return 0;
}

static int tsv_all(ranker *k, const eval_set *ev, px_error *err) {
    const rome_index *idx = k->idx;
    scored list[TOP];
    size_t n;
    printf("ranking\tsource\trank\tfiche\tscore\tnumero_ordre\tlabel\n");
    for (uint32_t a = 0; a < idx->n.fiches; a++) {
        if (!n_targets(ev, a)) continue;
        for (int rk = 0; rk < RK_COUNT; rk++) {
            if (rank(k, rk, &a, 1, list, &n, err)) return -1;
            for (size_t j = 0; j < n; j++) {
                uint32_t f = list[j].fiche;
                printf("%s\t%s\t%zu\t%s\t%.6f\t%u\t%s\n", rk_name[rk], idx->fiches[a].code, j + 1,
                       idx->fiches[f].code, list[j].score, ordre_of(ev, a, f),
                       rome_str(idx, idx->fiches[f].label));
            }
        }
    }
    return 0;
}

static int usage(void) {
    fprintf(stderr, "usage: bench_quality [ROME_DIR] [--eval FILE] [--set KEY=VALUE]... [--list "
                    "FICHE | --tsv]\n");
    return 2;
}

int main(int argc, char **argv) {
    double t_start = now_s();
    const char *dir = NULL, *eval_path = NULL, *list_code = NULL;
    bool tsv = false;
    const char *sets[64];
    int n_sets = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--eval") && i + 1 < argc)
            eval_path = argv[++i];
        else if (!strcmp(argv[i], "--set") && i + 1 < argc && n_sets < 64)
            sets[n_sets++] = argv[++i];
        else if (!strcmp(argv[i], "--list") && i + 1 < argc)
            list_code = argv[++i];
        else if (!strcmp(argv[i], "--tsv"))
            tsv = true;
        else if (argv[i][0] == '-' || dir)
            return usage();
        else
            dir = argv[i];
    }
    if (tsv && list_code) return usage();
    if (!dir) dir = getenv("PASSERELLE_ROME_DIR");
    if (!dir || !*dir) dir = PASSERELLE_ROME_DIR;
    char default_eval[4096];
    if (!eval_path) {
        snprintf(default_eval, sizeof default_eval, "%s/../eval/rome4_mobilites_dev.csv", dir);
        eval_path = default_eval;
    }

    px_error err = {0};
    rome_index *idx = rome_load_csv(dir, NULL, &err);
    if (!idx) {
        fprintf(stderr, "bench_quality: ROME dir %s: %s\n", dir, err.msg);
        return 2;
    }
    eval_set ev = {0};
    int rc = eval_load(idx, eval_path, &ev);
    matcher_config cfg = matcher_config_default();
    cfg.top = TOP;
    for (int k = 0; k < n_sets && !rc; k++) { /* [matching] keys, to measure other weights */
        char key[128];
        const char *eq = strchr(sets[k], '=');
        if (!eq || (size_t)(eq - sets[k]) >= sizeof key) {
            fprintf(stderr, "bench_quality: --set %s: expected KEY=VALUE\n", sets[k]);
            rc = 2;
            break;
        }
        memcpy(key, sets[k], (size_t)(eq - sets[k]));
        key[eq - sets[k]] = '\0';
        if (matcher_config_set(&cfg, key, eq + 1, &err)) {
            fprintf(stderr, "bench_quality: --set %s: %s\n", sets[k], err.msg);
            rc = 2;
        }
    }
    matcher *m = NULL;
    ranker k = {0};
    uint8_t *relevant = NULL;
    if (rc) goto done;
    rc = 1;
    if (!(m = matcher_build(idx, &cfg, &err)) || ranker_init(&k, idx, m, &err) ||
        !(relevant = calloc(idx->n.fiches, 1))) {
        fprintf(stderr, "bench_quality: %s\n", err.code ? err.msg : "out of memory");
        goto done;
    }
    if (list_code) {
        uint32_t a = rome_fiche_find(idx, list_code);
        if (a == ROME_NONE) {
            fprintf(stderr, "bench_quality: --list %s: no such fiche\n", list_code);
            rc = 2;
        } else {
            rc = list_one(&k, &ev, a, &err) ? 1 : 0;
        }
    } else if (tsv) {
        rc = tsv_all(&k, &ev, &err) ? 1 : 0;
    } else {
        printf("ROME %u.0 v%u (%u fiches); eval %s; passerelle %s, %s config, top %u\n",
               idx->rome_major, idx->rome_version, idx->n.fiches, eval_path, PASSERELLE_VERSION,
               n_sets ? "changed" : "default", TOP);
        bool failed = expert_transitions(&k, &ev, relevant, &err) ||
                      two_experiences(&k, &ev, relevant, &err) || advice(&k, &err);
        rc = failed ? 1 : 0;
        if (!rc)
            printf("4. time: %lu matches, %.1f us a match; %.2f s in all\n", k.matches,
                   k.matches ? 1e6 * k.match_s / k.matches : 0.0, now_s() - t_start);
    }
    if (rc == 1 && err.code) fprintf(stderr, "bench_quality: %s\n", err.msg);

done:
    free(relevant);
    if (k.idx) ranker_free(&k);
    matcher_free(m);
    eval_free(&ev);
    rome_index_free(idx);
    return rc;
}
