/* bench_match — matches per second on one core over generated profiles from the real ROME data,
 * with p50/p99 latency, against a straightforward baseline that scores every fiche by plain set
 * intersection and sorts them all. Both run in the same process on the same profiles.
 *
 * usage: bench_match [ROME_DIR] [PROFILES]   (defaults: PASSERELLE_ROME_DIR, 20000)
 *        bench_match --digest [ROME_DIR] [PROFILES]
 * --digest prints, instead of figures, an XXH3-64 of every result as suggestion_codec encodes it
 * (plus one of the raw scores' bits, and one of the jobs, skills and code lists alone): an
 * optimisation that keeps the arithmetic must leave all three unchanged; one that changes it must
 * say which and why. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <xxhash.h>

#include "matcher.h"
#include "matcher_gen.h"
#include "rome_load.h"
#include "suggestion_codec.h"
#include "title_resolver.h"

#define BLOCK 200 /* profiles per alternating block */

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* ---- the baseline: every fiche, |held ∩ items(f)| / |items(f)|, full sort ---- */

typedef struct scored {
    double score;
    uint32_t fiche;
} scored;

static int cmp_scored(const void *a, const void *b) {
    const scored *x = a, *y = b;
    if (x->score != y->score) return x->score < y->score ? 1 : -1;
    return (x->fiche > y->fiche) - (x->fiche < y->fiche);
}

typedef struct baseline {
    const rome_index *idx;
    uint8_t *held, *avoided_ctx;
    scored *all;
    uint32_t *lists; /* held + missing of the top jobs */
} baseline;

static uint32_t baseline_fiche_of(const rome_index *idx, const profile_experience *x) {
    if (x->kind == PROFILE_EXP_ROME) return rome_fiche_find(idx, x->rome);
    uint32_t a = rome_appellation_find(idx, x->appellation);
    return a == ROME_NONE ? ROME_NONE : idx->appellations[a].fiche;
}

static bool baseline_excluded(baseline *b, const profile *p, uint32_t f) {
    const rome_index *idx = b->idx;
    for (size_t e = 0; e < p->n_experiences; e++)
        if (baseline_fiche_of(idx, &p->experiences[e]) == f) return true;
    for (uint32_t k = idx->fiche_contextes.offsets[f]; k < idx->fiche_contextes.offsets[f + 1]; k++)
        if (b->avoided_ctx[idx->fiche_contextes.targets[k]]) return true;
    for (size_t d = 0; d < p->exclude_domains.n; d++)
        if (!strcmp(idx->domaines[idx->fiches[f].domaine].code, p->exclude_domains.v[d]))
            return true;
    return false;
}

static void baseline_mark(baseline *b, const profile_codes *codes, uint8_t value) {
    for (size_t k = 0; k < codes->n; k++) {
        uint32_t i = rome_item_find(b->idx, codes->v[k]);
        if (i != ROME_NONE) b->held[i] = value;
    }
}

static size_t baseline_run(baseline *b, const matcher_config *cfg, const profile *p, uint32_t top) {
    const rome_index *idx = b->idx;
    memset(b->held, 0, idx->n.items);
    memset(b->avoided_ctx, 0, idx->n.contextes);
    for (size_t e = 0; e < p->n_experiences; e++) {
        uint32_t f = baseline_fiche_of(idx, &p->experiences[e]);
        if (f == ROME_NONE) continue;
        for (uint32_t k = idx->fiche_items.offsets[f]; k < idx->fiche_items.offsets[f + 1]; k++)
            b->held[idx->fiche_items.targets[k]] = 1;
    }
    baseline_mark(b, &p->confirmed, 1);
    baseline_mark(b, &p->added, 1);
    baseline_mark(b, &p->rejected, 0);
    for (size_t k = 0; k < p->avoid_contextes.n; k++) {
        uint32_t c = rome_contexte_find(idx, p->avoid_contextes.v[k]);
        if (c != ROME_NONE) b->avoided_ctx[c] = 1;
    }
    for (size_t k = 0; k < p->avoid_named.n; k++) {
        const matcher_constraint *c = matcher_config_constraint(cfg, p->avoid_named.v[k]);
        for (uint32_t j = 0; c && j < c->n_codes; j++) {
            uint32_t ctx = rome_contexte_find(idx, c->codes[j]);
            if (ctx != ROME_NONE) b->avoided_ctx[ctx] = 1;
        }
    }
    for (uint32_t f = 0; f < idx->n.fiches; f++) {
        uint32_t n = rome_csr_count(&idx->fiche_items, f), inter = 0;
        for (uint32_t k = idx->fiche_items.offsets[f]; k < idx->fiche_items.offsets[f + 1]; k++)
            inter += b->held[idx->fiche_items.targets[k]];
        b->all[f] = (scored){n ? (double)inter / n : 0.0, f};
    }
    qsort(b->all, idx->n.fiches, sizeof *b->all, cmp_scored);
    size_t jobs = 0, written = 0;
    for (uint32_t r = 0; r < idx->n.fiches && jobs < top; r++) {
        uint32_t f = b->all[r].fiche;
        if (b->all[r].score <= 0) break;
        if (baseline_excluded(b, p, f)) continue;
        jobs++;
        for (uint32_t pass = 0; pass < 2; pass++) /* held, then missing */
            for (uint32_t k = idx->fiche_items.offsets[f]; k < idx->fiche_items.offsets[f + 1]; k++)
                if (b->held[idx->fiche_items.targets[k]] == (pass == 0))
                    b->lists[written++] = idx->fiche_items.targets[k];
    }
    return jobs + written;
}

/* Hashes what the matcher answers for every profile: the encoded output (what consumers see), the
 * exact bits of the scores (so that a change of summation order shows even under rounding) and the
 * jobs, skills and code lists alone (so that such a change can show the lists did not move). */
static int print_digest(const matcher *m, matcher_scratch *s, const profile *profiles,
                        long n_profiles) {
    XXH3_state_t *encoded = XXH3_createState(), *raw = XXH3_createState(),
                 *lists = XXH3_createState();
    msgpack_sbuffer buf;
    msgpack_sbuffer_init(&buf);
    match_result r = {0};
    px_error err = {0};
    long refused = 0;
    int rc = encoded && raw && lists ? 0 : 1;
    if (rc)
        fprintf(stderr, "bench_match: out of memory for the digest states\n");
    else {
        XXH3_64bits_reset(encoded);
        XXH3_64bits_reset(raw);
        XXH3_64bits_reset(lists);
    }
    for (long i = 0; !rc && i < n_profiles; i++) {
        if (matcher_run(m, s, &profiles[i], &r, &err)) {
            refused++;
            XXH3_64bits_update(encoded, err.msg, strlen(err.msg) + 1);
            continue;
        }
        msgpack_packer pk;
        msgpack_packer_init(&pk, &buf, msgpack_sbuffer_write);
        buf.size = 0;
        if (suggestion_encode_match(&pk, "u", "4.0", m, &r, &err)) {
            fprintf(stderr, "bench_match: profile %ld: %s\n", i, err.msg);
            rc = 1;
            break;
        }
        XXH3_64bits_update(encoded, buf.data, buf.size);
        for (size_t j = 0; j < r.n_jobs; j++)
            XXH3_64bits_update(raw, &r.jobs[j].score, sizeof r.jobs[j].score);
        for (size_t j = 0; j < r.n_skills; j++)
            XXH3_64bits_update(raw, &r.skills[j].weight, sizeof r.skills[j].weight);
        for (size_t j = 0; j < r.n_current; j++)
            XXH3_64bits_update(raw, &r.current[j].score, sizeof r.current[j].score);
        for (size_t j = 0; j < r.n_jobs; j++)
            XXH3_64bits_update(lists, &r.jobs[j].fiche, sizeof r.jobs[j].fiche);
        for (size_t j = 0; j < r.n_skills; j++)
            XXH3_64bits_update(lists, &r.skills[j].item, sizeof r.skills[j].item);
        XXH3_64bits_update(lists, r.codes, r.n_codes * sizeof *r.codes);
    }
    if (!rc)
        printf("digest over %ld profiles (%ld refused): encoded %016llx, raw scores %016llx, lists "
               "%016llx\n",
               n_profiles, refused, (unsigned long long)XXH3_64bits_digest(encoded),
               (unsigned long long)XXH3_64bits_digest(raw),
               (unsigned long long)XXH3_64bits_digest(lists));
    match_result_free(&r);
    msgpack_sbuffer_destroy(&buf);
    XXH3_freeState(encoded);
    XXH3_freeState(raw);
    XXH3_freeState(lists);
    return rc;
}

int main(int argc, char **argv) {
    bool digest = argc > 1 && !strcmp(argv[1], "--digest");
    if (digest) {
        argc--;
        argv++;
    }
    const char *dir = argc > 1 ? argv[1] : PASSERELLE_ROME_DIR;
    long n_profiles = argc > 2 ? strtol(argv[2], NULL, 10) : 20000;
    if (n_profiles < 1) {
        fprintf(stderr, "usage: bench_match [--digest] [ROME_DIR] [PROFILES >= 1]\n");
        return 2;
    }
    px_error err = {0};
    double t0 = now_s();
    rome_index *idx = rome_load_csv(dir, NULL, &err);
    if (!idx) {
        fprintf(stderr, "bench_match: %s\n", err.msg);
        return 1;
    }
    double t_load = now_s() - t0;
    matcher_config cfg = matcher_config_default();
    t0 = now_s();
    matcher *m = matcher_build(idx, &cfg, &err);
    double t_build = now_s() - t0;
    matcher_scratch *s = m ? matcher_scratch_new(m, &err) : NULL;
    profile *profiles = calloc((size_t)n_profiles, sizeof *profiles);
    double *lat = malloc((size_t)n_profiles * sizeof *lat),
           *base_lat = malloc((size_t)n_profiles * sizeof *base_lat);
    baseline b = {idx, malloc(idx->n.items), malloc(idx->n.contextes + 1u),
                  malloc(idx->n.fiches * sizeof(scored)),
                  malloc((size_t)cfg.top * 2 * 512 * sizeof(uint32_t))};
    if (!s || !profiles || !lat || !base_lat || !b.held || !b.avoided_ctx || !b.all || !b.lists) {
        fprintf(stderr, "bench_match: %s\n", err.code ? err.msg : "out of memory");
        return 1;
    }
    matcher_gen gen = {0x9E3779B97F4A7C15ULL};
    for (long i = 0; i < n_profiles; i++)
        if (matcher_gen_profile(&gen, idx, &cfg, &profiles[i], &err)) {
            fprintf(stderr, "bench_match: %s\n", err.msg);
            return 1;
        }
    match_result r = {0};
    title_resolver *tr = NULL;
    title_scratch *ts = NULL;
    int rc = 0;
    if (digest) {
        rc = print_digest(m, s, profiles, n_profiles);
        goto done;
    }
    size_t checksum = 0, jobs = 0, listed = 0, failed = 0, reached = 0;
    for (long i = 0; i < n_profiles && i < 1000; i++)
        failed += matcher_run(m, s, &profiles[i], &r, &err) != 0; /* warm-up */
    /* The two run in alternating blocks so that both see the same machine load (shared CI
     * hosts). */
    double t_match = 0, t_base = 0;
    for (long block = 0; block < n_profiles; block += BLOCK) {
        long end = block + BLOCK < n_profiles ? block + BLOCK : n_profiles;
        double start = now_s();
        for (long i = block; i < end; i++) {
            double t = now_s();
            if (matcher_run(m, s, &profiles[i], &r, &err)) failed++;
            lat[i] = now_s() - t;
            jobs += r.n_jobs;
            listed += r.n_codes;
            reached += r.fiches_scored;
            checksum += r.n_jobs ? r.jobs[0].fiche : 0;
        }
        t_match += now_s() - start;
        start = now_s();
        for (long i = block; i < end; i++) {
            double t = now_s();
            checksum += baseline_run(&b, &cfg, &profiles[i], cfg.top);
            base_lat[i] = now_s() - t;
        }
        t_base += now_s() - start;
    }
    qsort(lat, (size_t)n_profiles, sizeof *lat, cmp_double);
    qsort(base_lat, (size_t)n_profiles, sizeof *base_lat, cmp_double);

    /* title resolution, on every appellation's long label */
    tr = title_resolver_build(idx, &err);
    ts = tr ? title_scratch_new(tr, &err) : NULL;
    title_match tm[4];
    uint32_t n_titles = idx->n.appellations < 5000 ? idx->n.appellations : 5000, top1 = 0;
    double start = now_s();
    for (uint32_t a = 0; ts && a < n_titles; a++)
        if (title_resolve(tr, ts, rome_str(idx, idx->appellations[a].label_long), tm, 4, NULL) >
                0 &&
            tm[0].appellation == a)
            top1++;
    double t_titles = now_s() - start;

    printf("ROME %u.0 v%u: %u fiches, %u items; load %.2f s, matcher build %.3f s\n",
           idx->rome_major, idx->rome_version, idx->n.fiches, idx->n.items, t_load, t_build);
    printf(
        "profiles: %ld generated (1-4 experiences, decisions, constraints, domains); %zu refused\n",
        n_profiles, failed);
    printf("matcher : %.0f matches/s on one core (top %u, full held/missing lists: %.1f jobs, %.0f "
           "codes per match)\n",
           n_profiles / t_match, cfg.top, (double)jobs / n_profiles, (double)listed / n_profiles);
    printf(
        "reach   : %.0f of %u fiches share something with the person (a score above 0) per match\n",
        (double)reached / n_profiles, idx->n.fiches);
    printf("latency : p50 %.1f us, p99 %.1f us, max %.1f us\n", lat[n_profiles / 2] * 1e6,
           lat[(size_t)(n_profiles * 0.99)] * 1e6, lat[n_profiles - 1] * 1e6);
    printf("baseline: %.0f matches/s, p50 %.1f us (every fiche scored by set intersection, full "
           "sort)\n",
           n_profiles / t_base, base_lat[n_profiles / 2] * 1e6);
    printf("ratio   : %.1fx the baseline in throughput, %.1fx in median latency\n",
           t_base / t_match, base_lat[n_profiles / 2] / lat[n_profiles / 2]);
    printf("titles  : %.0f resolutions/s; own long label resolved to itself for %u of %u "
           "appellations\n",
           n_titles / t_titles, top1, n_titles);
    printf("(checksum %zu)\n", checksum);
    FILE *load =
        fopen("/proc/loadavg", "r"); /* the ratio holds on a busy machine; the rates do not */
    char avg[64] = "";
    if (load && fgets(avg, sizeof avg, load)) printf("load average during the run: %s", avg);
    if (load) fclose(load);

done:
    title_scratch_free(ts);
    title_resolver_free(tr);
    for (long i = 0; i < n_profiles; i++) profile_free(&profiles[i]);
    free(profiles);
    free(lat);
    free(base_lat);
    free(b.held);
    free(b.avoided_ctx);
    free(b.all);
    free(b.lists);
    match_result_free(&r);
    matcher_scratch_free(s);
    matcher_free(m);
    rome_index_free(idx);
    return rc;
}
