/* Benchmark: loading the ROME index from the official CSV export vs from its binary snapshot.
 * Prints the median time of each, their ratio, the snapshot size and the resident memory.
 * usage: bench_rome ROME_DIR [REPEATS] */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "rome_load.h"
#include "rome_snapshot.h"

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Resident set size in KiB, from /proc/self/status. */
static long rss_kib(const char *field) {
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long v = -1;
    size_t n = strlen(field);
    while (f && fgets(line, sizeof line, f))
        if (!strncmp(line, field, n)) v = strtol(line + n + 1, NULL, 10);
    if (f) fclose(f);
    return v;
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: %s ROME_DIR [REPEATS]\n", argv[0]);
        return 2;
    }
    int reps = argc > 2 ? atoi(argv[2]) : 9;
    if (reps < 1) reps = 1;
    double *csv_t = calloc((size_t)reps, sizeof *csv_t),
           *snap_t = calloc((size_t)reps, sizeof *snap_t);
    px_error err = {0};
    long rss_before = rss_kib("VmRSS:");
    rome_index *idx = rome_load_csv(argv[1], NULL, &err);
    if (!idx) {
        fprintf(stderr, "%s\n", err.msg);
        return 1;
    }
    long rss_loaded = rss_kib("VmRSS:");
    char path[] = "/tmp/bench-rome-XXXXXX";
    int fd = mkstemp(path);
    if (fd < 0 || rome_snapshot_write(idx, path, &err)) {
        fprintf(stderr, "cannot write snapshot: %s\n", err.msg);
        return 1;
    }
    void *buf;
    size_t snap_len;
    rome_snapshot_encode(idx, &buf, &snap_len, &err);
    free(buf);
    for (int r = 0; r < reps; r++) {
        double t0 = now();
        rome_index *a = rome_load_csv(argv[1], NULL, &err);
        double t1 = now();
        rome_index *b = rome_snapshot_load(path, &err);
        double t2 = now();
        if (!a || !b || !rome_index_equal(a, b) || !rome_index_equal(a, idx)) {
            fprintf(stderr, "load mismatch: %s\n", err.msg);
            return 1;
        }
        csv_t[r] = t1 - t0;
        snap_t[r] = t2 - t1;
        rome_index_free(a);
        rome_index_free(b);
    }
    qsort(csv_t, (size_t)reps, sizeof *csv_t, cmp_double);
    qsort(snap_t, (size_t)reps, sizeof *snap_t, cmp_double);
    double csv_med = csv_t[reps / 2], snap_med = snap_t[reps / 2];
    printf("ROME %u.0 version %u: %u fiches, %u appellations, %u items, %u links\n",
           idx->rome_major, idx->rome_version, idx->n.fiches, idx->n.appellations, idx->n.items,
           idx->n.fiche_item_links + idx->n.fiche_contexte_links);
    printf("repeats                 %d (medians below)\n", reps);
    printf("csv load                %.1f ms\n", csv_med * 1e3);
    printf("snapshot load           %.2f ms (read + checksum + validation)\n", snap_med * 1e3);
    printf("ratio csv/snapshot      %.1fx\n", csv_med / snap_med);
    printf("snapshot size           %.2f MiB (%zu bytes)\n", snap_len / 1048576.0, snap_len);
    printf("index memory            %.2f MiB (arrays + strings)\n",
           rome_index_memory(idx) / 1048576.0);
    printf("resident growth on load %.2f MiB (VmRSS %ld -> %ld KiB), peak VmHWM %ld KiB\n",
           (rss_loaded - rss_before) / 1024.0, rss_before, rss_loaded, rss_kib("VmHWM:"));
    remove(path);
    rome_index_free(idx);
    free(csv_t);
    free(snap_t);
    return 0;
}
