/* metrics — a registry of counters, gauges and histograms rendered in the Prometheus text
 * exposition format 0.0.4.
 *
 * Pure logic: libc only, no I/O. The HTTP listener (http_server.h) calls metrics_render() to
 * answer GET /metrics; the daemon registers families at start and updates series from its loop.
 *
 * Model (as in the Prometheus client libraries):
 *   - a registry holds metric *families*, in registration order;
 *   - a family has a name, a HELP text, a type and a fixed list of label *names*;
 *   - a *series* is one set of label values of a family. Families without labels have exactly one
 *     series, created at registration. Families with labels create series on first use
 *     (metrics_series_get), e.g. one per topic, DLQ reason or partition, up to the family's
 *     max_series bound (a cardinality limit: going over it is an error, never an unbounded growth).
 *
 * Names follow Prometheus rules, checked at registration: metric names match
 * [a-zA-Z_:][a-zA-Z0-9_:]*, counter names end in "_total", label names match [a-zA-Z_][a-zA-Z0-9_]*
 * and do not start with "__"; a histogram may not use the label "le". Label values are any UTF-8
 * text up to METRICS_LABEL_VALUE_MAX bytes; they are escaped when rendered.
 *
 * Ownership: the registry owns every family and series and every string they hold (names, help
 * and label values are copied). metrics_free() releases all of it. Family and series pointers stay
 * valid until metrics_free() (or, for a series, metrics_series_remove()), so the hot path should
 * look a series up once and keep the pointer.
 *
 * Thread-safety: none. A registry is used from one thread — the daemon's libuv loop thread, which
 * both updates the values and renders them for /metrics. Values produced on other threads (e.g.
 * librdkafka statistics) must be handed to the loop first (librdkafka's queue forwarding does). */
#ifndef METRICS_H
#define METRICS_H

#include <stddef.h>
#include <stdint.h>

#include "px_error.h"

#define METRICS_MAX_LABELS      8    /* label names per family */
#define METRICS_MAX_BUCKETS     32   /* histogram bucket upper bounds, +Inf not counted */
#define METRICS_LABEL_VALUE_MAX 256  /* bytes in one label value */
#define METRICS_NAME_MAX        128  /* bytes in a metric or label name */
#define METRICS_HELP_MAX        1024 /* bytes in a HELP text */

typedef struct metrics metrics;               /* the registry */
typedef struct metrics_family metrics_family; /* one metric name with its HELP, TYPE and labels */
typedef struct metrics_series metrics_series; /* one set of label values of a family */

typedef enum metrics_type {
    METRICS_COUNTER = 0,   /* only goes up; name ends in _total */
    METRICS_GAUGE = 1,     /* set to any value */
    METRICS_HISTOGRAM = 2, /* observations counted into cumulative buckets, plus _sum and _count */
} metrics_type;

/* What a family looks like; the strings are copied by metrics_register(). */
typedef struct metrics_spec {
    metrics_type type;
    const char *name;
    const char *help;
    const char *const *label_names; /* n_labels names (may be NULL when n_labels is 0) */
    size_t n_labels;
    size_t max_series;     /* cardinality bound for labelled families; 0 = 64 */
    const double *buckets; /* histogram only: finite, strictly increasing upper bounds */
    size_t n_buckets;      /* histogram only: 1..METRICS_MAX_BUCKETS (+Inf is implicit) */
} metrics_spec;

metrics *metrics_new(px_error *err);
void metrics_free(metrics *m);

/* Registers a family. Fails (NULL + err) on an invalid name, label name or bucket list, or when
 * the name is already registered. */
metrics_family *metrics_register(metrics *m, const metrics_spec *spec, px_error *err);

/* Returns the series of `family` with these label values (family->n_labels of them, in the order of
 * the label names), creating it at zero on first use. For a family without labels, pass NULL.
 * Fails (NULL + err) when a value is NULL or too long, or when creating it would go over
 * max_series. */
metrics_series *metrics_series_get(metrics_family *family, const char *const *label_values,
                                   px_error *err);

/* Drops a series (e.g. the lag gauge of a partition this instance no longer owns) so that it is no
 * longer rendered; its pointer becomes invalid. A family without labels keeps its single series
 * (the call is ignored for it). */
void metrics_series_remove(metrics_series *series);

/* Updates. A counter only goes up: metrics_counter_add() ignores negative or NaN amounts. Calling a
 * function of the wrong type (observe on a gauge, set on a counter…) is ignored, so a typo cannot
 * corrupt another family; the unit tests pin which calls act on which type. */
void metrics_counter_add(metrics_series *series, double amount);
void metrics_counter_inc(metrics_series *series);
void metrics_gauge_set(metrics_series *series, double value);
void metrics_gauge_add(metrics_series *series, double delta);
void metrics_histogram_observe(metrics_series *series, double value);

/* Current value of a counter or gauge series (for tests and STATUS= lines); NaN for a histogram. */
double metrics_series_value(const metrics_series *series);

/* Renders every family in registration order, series in creation order, as Prometheus text
 * format 0.0.4 (Content-Type: text/plain; version=0.0.4). On success *out is a NUL-terminated
 * heap string the caller frees, *len its length. */
int metrics_render(const metrics *m, char **out, size_t *len, px_error *err);

#endif
