/* Benchmark: title resolution times (p50/p99/max, best of REPEATS runs per title) over real-world
 * spellings and adversarial titles (unknown near-words, garbage, 256-byte titles).
 * usage: bench_titles [ROME_DIR] [REPEATS]
 *        bench_titles ROME_DIR -q TITLE...   (prints the top 5 appellations of each title) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "rome_load.h"
#include "title_resolver.h"

#ifndef PASSERELLE_ROME_DIR
#define PASSERELLE_ROME_DIR ""
#endif

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static const char *const real_titles[] = {
    "vendeur",
    "vendeuse",
    "infirmière",
    "infirmiere",
    "agent d'entretien",
    "ouvrier",
    "atsem",
    "ATSEM",
    "boulangere",
    "Boulangers",
    "boulnger",
    "serveuse",
    "macon",
    "Maçonne",
    "comptable",
    "assistante maternelle",
    "asistante maternelle",
    "SECRETAIRE",
    "coiffeuse",
    "AIDE SOIGNANTE",
    "aide-soigante",
    "auxiliaire de vie",
    "cuisinière",
    "cariste magasinier",
    "hotesse de caisse",
    "Caissières",
    "caisiere",
    "chauffeur poids lourd",
    "développeuse informatique",
    "électricienne bâtiment",
    "plombier",
    "aide a domicile",
    "agent de sécurité",
    "manutentionnaire",
    "preparateur de commandes",
    "assistante de direction",
    "professeur des écoles",
    "educatrice",
    "mecanicien automobile",
    "chef de projet informatique",
    "conseillère clientèle",
    "jardinier",
    "peintre en batiment",
    "agent d'accueil",
    "serveur restaurant",
    "commis de cuisine",
    "ash",
    "avs",
    "cesf",
    "employé libre service",
    "employee polyvalente",
    "technicien de maintenance",
};

/* Fills buf with an adversarial title of kind k (0..5); returns buf. */
static const char *adversarial(int k, unsigned seed, char *buf, size_t cap) {
    static const char *const near9[] = {"vendeurez", "infirmiaz", "boulangiz", "comptablz",
                                        "secretaiz", "cuisinizz", "magasiniz", "electrizz",
                                        "chauffeuz", "coiffeurz", "developpz", "assistanz"};
    unsigned x = seed * 2654435761u + 12345u;
    size_t n = 0;
    buf[0] = 0;
    switch (k) {
    case 0: /* 24 unknown 9-12 letter near-words */
        for (int w = 0; w < 24 && n + 14 < cap; w++) {
            const char *b = near9[(x >> 3) % 12];
            x = x * 1103515245u + 12345u;
            int extra = (int)((x >> 7) % 4);
            n += (size_t)snprintf(buf + n, cap - n, "%s%.*s ", b, extra, "qxkw");
        }
        break;
    case 1: /* long garbage letters, no spaces */
        for (; n + 1 < cap && n < 256; n++, x = x * 1103515245u + 12345u)
            buf[n] = (char)('a' + (x >> 16) % 26);
        buf[n] = 0;
        break;
    case 2: /* 256 bytes of 10-letter random words */
        while (n + 11 < cap && n + 11 <= 256) {
            for (int i = 0; i < 10; i++, x = x * 1103515245u + 12345u)
                buf[n++] = (char)('a' + (x >> 16) % 26);
            buf[n++] = ' ';
        }
        buf[n] = 0;
        break;
    case 3: /* 24 copies of one frequent word, misspelt differently */
        for (int w = 0; w < 24 && n + 12 < cap; w++, x = x * 1103515245u + 12345u)
            n += (size_t)snprintf(buf + n, cap - n, "agen%c%c ", 'a' + (x >> 16) % 26,
                                  'a' + (x >> 20) % 26);
        break;
    case 4: /* many frequent real words */
        snprintf(buf, cap,
                 "agent technicien responsable chef conseiller assistant opérateur ouvrier "
                 "employé vendeur animateur chargé directeur ingénieur commercial gestionnaire");
        break;
    default: /* 12-letter near-words of long ROME words */
        for (int w = 0; w < 20 && n + 16 < cap; w++, x = x * 1103515245u + 12345u)
            n += (size_t)snprintf(buf + n, cap - n, "%.10s%c%c ", &"administratif"[(x >> 16) % 3],
                                  'a' + (x >> 20) % 26, 'a' + (x >> 24) % 26);
        break;
    }
    return buf;
}

/* Best of reps runs of one resolve, in seconds. */
static double time_title(const title_resolver *tr, title_scratch *ts, const char *t, int reps) {
    double best = 1e9;
    title_match out[4];
    for (int r = 0; r < reps; r++) {
        double t0 = now();
        (void)title_resolve(tr, ts, t, out, 4, NULL);
        double dt = now() - t0;
        if (dt < best) best = dt;
    }
    return best;
}

static void report(const char *name, double *v, size_t n, const char *const *labels) {
    size_t worst = 0;
    for (size_t i = 1; i < n; i++)
        if (v[i] > v[worst]) worst = i;
    const char *wl = labels[worst];
    qsort(v, n, sizeof *v, cmp_double);
    printf("%-12s n=%3zu  p50 %7.1f us  p99 %7.1f us  max %7.1f us  (worst: \"%.40s%s\")\n", name,
           n, v[n / 2] * 1e6, v[(n * 99) / 100 < n ? (n * 99) / 100 : n - 1] * 1e6, v[n - 1] * 1e6,
           wl, strlen(wl) > 40 ? "…" : "");
}

static void query(const rome_index *idx, const title_resolver *tr, title_scratch *ts,
                  const char *t) {
    title_match out[5];
    px_error err = {0};
    int n = title_resolve(tr, ts, t, out, 5, &err);
    printf("\"%s\"%s%s\n", t, n < 0 ? ": " : "", n < 0 ? err.msg : "");
    for (int i = 0; i < n; i++) {
        const rome_appellation *a = &idx->appellations[out[i].appellation];
        printf("  %.3f %s %6u %s%s %s\n", out[i].confidence, idx->fiches[a->fiche].code,
               a->code_ogr, a->flags & ROME_APPELLATION_PRINCIPALE ? "P" : "-",
               a->flags & ROME_APPELLATION_PEU_USITE ? "u" : "-", rome_str(idx, a->label_long));
    }
}

int main(int argc, char **argv) {
    const char *dir = argc > 1 ? argv[1] : PASSERELLE_ROME_DIR;
    px_error err = {0};
    rome_index *idx = *dir ? rome_load_csv(dir, NULL, &err) : NULL;
    if (!idx) {
        fprintf(stderr, "bench_titles: cannot load \"%s\": %s\n", dir, err.msg);
        return 2;
    }
    double t0 = now();
    title_resolver *tr = title_resolver_build(idx, &err);
    double build = now() - t0;
    title_scratch *ts = tr ? title_scratch_new(tr, &err) : NULL;
    if (!ts) {
        fprintf(stderr, "bench_titles: %s\n", err.msg);
        return 1;
    }
    if (argc > 2 && !strcmp(argv[2], "-q")) {
        for (int i = 3; i < argc; i++) query(idx, tr, ts, argv[i]);
    } else {
        int reps = argc > 2 ? atoi(argv[2]) : 5;
        if (reps < 1) reps = 1;
        printf("build %.1f ms, resolver memory %.2f MiB\n", build * 1e3,
               (double)title_resolver_memory(tr) / (1024.0 * 1024.0));
        size_t nr = sizeof real_titles / sizeof real_titles[0];
        double vr[sizeof real_titles / sizeof real_titles[0]];
        for (size_t i = 0; i < nr; i++) vr[i] = time_title(tr, ts, real_titles[i], reps);
        report("real-world", vr, nr, (const char *const *)real_titles);
        enum { PER_KIND = 40, KINDS = 6 };
        static char bufs[PER_KIND * KINDS][300];
        const char *labels[PER_KIND * KINDS];
        double va[PER_KIND * KINDS];
        for (int k = 0; k < KINDS; k++)
            for (int s = 0; s < PER_KIND; s++) {
                int i = k * PER_KIND + s;
                labels[i] = adversarial(k, (unsigned)s + 1, bufs[i], sizeof bufs[i]);
                va[i] = time_title(tr, ts, labels[i], reps);
            }
        report("adversarial", va, PER_KIND * KINDS, labels);
    }
    title_scratch_free(ts);
    title_resolver_free(tr);
    rome_index_free(idx);
    return 0;
}
