#include "metrics.h"

#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "px_array.h"

#define METRICS_DEFAULT_MAX_SERIES 64

struct metrics_series {
    metrics_family *family;
    char **label_values;     /* family->n_labels owned strings */
    double value;            /* counter or gauge */
    uint64_t *bucket_counts; /* histogram: n_buckets + 1 (last is +Inf), not cumulative */
    double sum;              /* histogram */
    uint64_t count;          /* histogram */
};

struct metrics_family {
    metrics *registry;
    metrics_type type;
    char *name;
    char *help;
    char **label_names;
    size_t n_labels;
    size_t max_series;
    double *buckets;
    size_t n_buckets;
    metrics_series **series; /* creation order; pointers are stable */
    size_t n_series, cap_series;
};

struct metrics {
    metrics_family **families;
    size_t n_families, cap_families;
};

metrics *metrics_new(px_error *err) {
    metrics *m = calloc(1, sizeof *m);
    if (!m) px_error_set(err, PX_ENOMEM, "metrics: out of memory allocating the registry");
    return m;
}

static void series_free(metrics_series *s, size_t n_labels) {
    if (!s) return;
    if (s->label_values)
        for (size_t i = 0; i < n_labels; i++) free(s->label_values[i]);
    free(s->label_values);
    free(s->bucket_counts);
    free(s);
}

static void family_free(metrics_family *f) {
    if (!f) return;
    for (size_t i = 0; i < f->n_series; i++) series_free(f->series[i], f->n_labels);
    free(f->series);
    if (f->label_names)
        for (size_t i = 0; i < f->n_labels; i++) free(f->label_names[i]);
    free(f->label_names);
    free(f->buckets);
    free(f->name);
    free(f->help);
    free(f);
}

void metrics_free(metrics *m) {
    if (!m) return;
    for (size_t i = 0; i < m->n_families; i++) family_free(m->families[i]);
    free(m->families);
    free(m);
}

static bool is_name_char(char c, bool first, bool allow_colon) {
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_') return true;
    if (allow_colon && c == ':') return true;
    return !first && c >= '0' && c <= '9';
}

/* Prometheus data model: metric names may contain ':', label names may not. */
static bool is_valid_name(const char *s, bool allow_colon) {
    if (!s || !*s || strlen(s) > METRICS_NAME_MAX) return false;
    for (size_t i = 0; s[i]; i++)
        if (!is_name_char(s[i], i == 0, allow_colon)) return false;
    return true;
}

static bool ends_with(const char *s, const char *suffix) {
    size_t ls = strlen(s), lx = strlen(suffix);
    return ls >= lx && !strcmp(s + ls - lx, suffix);
}

static int check_spec(const metrics *m, const metrics_spec *spec, px_error *err) {
    if (!spec->name || !is_valid_name(spec->name, true))
        return px_error_set(err, PX_ELIMIT,
                            "metrics: invalid metric name '%s' (expected [a-zA-Z_:][a-zA-Z0-9_:]*, "
                            "at most %d bytes)",
                            spec->name ? spec->name : "(null)", METRICS_NAME_MAX);
    if (spec->type != METRICS_COUNTER && spec->type != METRICS_GAUGE &&
        spec->type != METRICS_HISTOGRAM)
        return px_error_set(err, PX_EINVAL, "metrics: %s: unknown metric type %d", spec->name,
                            (int)spec->type);
    if (spec->type == METRICS_COUNTER && !ends_with(spec->name, "_total"))
        return px_error_set(err, PX_EINVAL,
                            "metrics: counter '%s' must be named *_total (Prometheus convention)",
                            spec->name);
    if (!spec->help || !*spec->help || strlen(spec->help) > METRICS_HELP_MAX)
        return px_error_set(err, PX_ELIMIT,
                            "metrics: %s: HELP text is missing or longer than %d bytes", spec->name,
                            METRICS_HELP_MAX);
    if (spec->n_labels > METRICS_MAX_LABELS)
        return px_error_set(err, PX_ELIMIT, "metrics: %s: %zu labels, at most %d allowed",
                            spec->name, spec->n_labels, METRICS_MAX_LABELS);
    for (size_t i = 0; i < spec->n_labels; i++) {
        const char *l = spec->label_names ? spec->label_names[i] : NULL;
        if (!is_valid_name(l, false) || !strncmp(l, "__", 2))
            return px_error_set(err, PX_EINVAL,
                                "metrics: %s: invalid label name '%s' (expected "
                                "[a-zA-Z_][a-zA-Z0-9_]*, not starting with __)",
                                spec->name, l ? l : "(null)");
        if (spec->type == METRICS_HISTOGRAM && !strcmp(l, "le"))
            return px_error_set(
                err, PX_EINVAL,
                "metrics: %s: a histogram cannot have a label named 'le' (reserved for buckets)",
                spec->name);
        for (size_t j = 0; j < i; j++)
            if (!strcmp(l, spec->label_names[j]))
                return px_error_set(err, PX_EINVAL, "metrics: %s: label '%s' given twice",
                                    spec->name, l);
    }
    if (spec->type == METRICS_HISTOGRAM) {
        if (!spec->buckets || spec->n_buckets == 0 || spec->n_buckets > METRICS_MAX_BUCKETS)
            return px_error_set(
                err, PX_EINVAL, "metrics: histogram %s: needs 1..%d bucket bounds, got %zu",
                spec->name, METRICS_MAX_BUCKETS, spec->buckets ? spec->n_buckets : 0);
        for (size_t i = 0; i < spec->n_buckets; i++) {
            if (!isfinite(spec->buckets[i]))
                return px_error_set(
                    err, PX_EINVAL,
                    "metrics: histogram %s: bucket bound %zu is not finite (+Inf is implicit)",
                    spec->name, i);
            if (i > 0 && !(spec->buckets[i] > spec->buckets[i - 1]))
                return px_error_set(err, PX_EINVAL,
                                    "metrics: histogram %s: bucket bounds must be strictly "
                                    "increasing (bound %zu = %g after %g)",
                                    spec->name, i, spec->buckets[i], spec->buckets[i - 1]);
        }
    }
    for (size_t i = 0; i < m->n_families; i++)
        if (!strcmp(m->families[i]->name, spec->name))
            return px_error_set(err, PX_EINVAL, "metrics: metric '%s' is already registered",
                                spec->name);
    return 0;
}

/* Allocates one series (values zeroed) owning copies of the label values. */
static metrics_series *series_new(metrics_family *f, const char *const *label_values) {
    metrics_series *s = calloc(1, sizeof *s);
    if (!s) return NULL;
    s->family = f;
    if (f->n_labels) {
        s->label_values = calloc(f->n_labels, sizeof *s->label_values);
        if (!s->label_values) goto fail;
        for (size_t i = 0; i < f->n_labels; i++)
            if (!(s->label_values[i] = strdup(label_values[i]))) goto fail;
    }
    if (f->type == METRICS_HISTOGRAM &&
        !(s->bucket_counts = calloc(f->n_buckets + 1, sizeof *s->bucket_counts)))
        goto fail;
    return s;
fail:
    series_free(s, f->n_labels);
    return NULL;
}

static int family_add_series(metrics_family *f, metrics_series *s) {
    if (px_array_reserve((void **)&f->series, &f->cap_series, f->n_series + 1, sizeof *f->series))
        return -1;
    f->series[f->n_series++] = s;
    return 0;
}

metrics_family *metrics_register(metrics *m, const metrics_spec *spec, px_error *err) {
    if (!m || !spec) {
        px_error_set(err, PX_EINVAL, "metrics: metrics_register needs a registry and a spec");
        return NULL;
    }
    if (check_spec(m, spec, err)) return NULL;
    metrics_family *f = calloc(1, sizeof *f);
    if (!f) goto oom;
    f->registry = m;
    f->type = spec->type;
    f->n_labels = spec->n_labels;
    f->max_series = spec->n_labels == 0 ? 1
                    : spec->max_series  ? spec->max_series
                                        : METRICS_DEFAULT_MAX_SERIES;
    if (!(f->name = strdup(spec->name)) || !(f->help = strdup(spec->help))) goto oom;
    if (f->n_labels) {
        if (!(f->label_names = calloc(f->n_labels, sizeof *f->label_names))) goto oom;
        for (size_t i = 0; i < f->n_labels; i++)
            if (!(f->label_names[i] = strdup(spec->label_names[i]))) goto oom;
    }
    if (f->type == METRICS_HISTOGRAM) {
        f->n_buckets = spec->n_buckets;
        if (!(f->buckets = malloc(f->n_buckets * sizeof *f->buckets))) goto oom;
        memcpy(f->buckets, spec->buckets, f->n_buckets * sizeof *f->buckets);
    }
    if (f->n_labels == 0) {
        metrics_series *only = series_new(f, NULL);
        if (!only || family_add_series(f, only)) {
            series_free(only, 0);
            goto oom;
        }
    }
    if (px_array_reserve((void **)&m->families, &m->cap_families, m->n_families + 1,
                         sizeof *m->families))
        goto oom;
    m->families[m->n_families++] = f;
    return f;
oom:
    family_free(f);
    px_error_set(err, PX_ENOMEM, "metrics: out of memory registering '%s'", spec->name);
    return NULL;
}

static bool series_has_values(const metrics_series *s, const char *const *values) {
    for (size_t i = 0; i < s->family->n_labels; i++)
        if (strcmp(s->label_values[i], values[i])) return false;
    return true;
}

/* Linear scan: families hold tens of series at most (topics, reasons, partitions), and the hot
 * path keeps series pointers instead of looking them up per event. */
metrics_series *metrics_series_get(metrics_family *f, const char *const *label_values,
                                   px_error *err) {
    if (!f) {
        px_error_set(err, PX_EINVAL, "metrics: metrics_series_get needs a family");
        return NULL;
    }
    if (f->n_labels == 0) return f->series[0];
    if (!label_values) {
        px_error_set(err, PX_EINVAL, "metrics: %s: %zu label values expected, got none", f->name,
                     f->n_labels);
        return NULL;
    }
    for (size_t i = 0; i < f->n_labels; i++) {
        if (!label_values[i]) {
            px_error_set(err, PX_EINVAL, "metrics: %s: value of label '%s' is NULL", f->name,
                         f->label_names[i]);
            return NULL;
        }
        if (strlen(label_values[i]) > METRICS_LABEL_VALUE_MAX) {
            px_error_set(err, PX_ELIMIT, "metrics: %s: value of label '%s' is longer than %d bytes",
                         f->name, f->label_names[i], METRICS_LABEL_VALUE_MAX);
            return NULL;
        }
    }
    for (size_t i = 0; i < f->n_series; i++)
        if (series_has_values(f->series[i], label_values)) return f->series[i];
    if (f->n_series >= f->max_series) {
        px_error_set(err, PX_EINVAL,
                     "metrics: %s: already %zu series, the cardinality limit; not adding another",
                     f->name, f->max_series);
        return NULL;
    }
    metrics_series *s = series_new(f, label_values);
    if (!s || family_add_series(f, s)) {
        series_free(s, f->n_labels);
        px_error_set(err, PX_ENOMEM, "metrics: %s: out of memory adding a series", f->name);
        return NULL;
    }
    return s;
}

void metrics_series_remove(metrics_series *s) {
    if (!s) return;
    metrics_family *f = s->family;
    if (f->n_labels == 0) return;
    for (size_t i = 0; i < f->n_series; i++) {
        if (f->series[i] != s) continue;
        memmove(&f->series[i], &f->series[i + 1], (f->n_series - i - 1) * sizeof *f->series);
        f->n_series--;
        series_free(s, f->n_labels);
        return;
    }
}

void metrics_counter_add(metrics_series *s, double amount) {
    if (s && s->family->type == METRICS_COUNTER && amount >= 0) s->value += amount;
}

void metrics_counter_inc(metrics_series *s) { metrics_counter_add(s, 1.0); }

void metrics_gauge_set(metrics_series *s, double value) {
    if (s && s->family->type == METRICS_GAUGE) s->value = value;
}

void metrics_gauge_add(metrics_series *s, double delta) {
    if (s && s->family->type == METRICS_GAUGE) s->value += delta;
}

/* Buckets are stored per-interval and made cumulative when rendered, so an observation costs one
 * short scan and one increment. A NaN observation is dropped (it has no bucket). */
void metrics_histogram_observe(metrics_series *s, double value) {
    if (!s || s->family->type != METRICS_HISTOGRAM || isnan(value)) return;
    const metrics_family *f = s->family;
    size_t i = 0;
    while (i < f->n_buckets && value > f->buckets[i]) i++;
    s->bucket_counts[i]++;
    s->sum += value;
    s->count++;
}

double metrics_series_value(const metrics_series *s) {
    if (!s || s->family->type == METRICS_HISTOGRAM) return NAN;
    return s->value;
}

/* ---- rendering ---- */

typedef struct text {
    char *p;
    size_t len, cap;
    bool oom;
} text;

static void text_reserve(text *t, size_t more) {
    if (t->oom || t->len + more + 1 <= t->cap) return;
    size_t ncap = t->cap ? t->cap : 1024;
    while (ncap < t->len + more + 1) ncap *= 2;
    char *np = realloc(t->p, ncap);
    if (!np) {
        t->oom = true;
        return;
    }
    t->p = np;
    t->cap = ncap;
}

static void text_put(text *t, const char *s, size_t n) {
    text_reserve(t, n);
    if (t->oom) return;
    memcpy(t->p + t->len, s, n);
    t->len += n;
    t->p[t->len] = '\0';
}

static void text_puts(text *t, const char *s) { text_put(t, s, strlen(s)); }

/* Escapes per the exposition format: HELP escapes backslash and newline; label values also the
 * double quote. */
static void text_put_escaped(text *t, const char *s, bool escape_quote) {
    for (; *s; s++) {
        if (*s == '\\')
            text_puts(t, "\\\\");
        else if (*s == '\n')
            text_puts(t, "\\n");
        else if (*s == '"' && escape_quote)
            text_puts(t, "\\\"");
        else
            text_put(t, s, 1);
    }
}

/* Formats a sample value as the shortest text that reads back as the same double — fixed
 * notation from 1e-4 up to 1e21 (so counts print as plain integers), exponent notation outside,
 * as JavaScript prints numbers — and +Inf, -Inf, NaN for the special values, as the exposition
 * format spells them. */
static void format_double(double v, char *buf, size_t size) {
    if (isnan(v)) {
        snprintf(buf, size, "NaN");
        return;
    }
    if (isinf(v)) {
        snprintf(buf, size, v > 0 ? "+Inf" : "-Inf");
        return;
    }
    int digits = 1;
    for (; digits < 17; digits++) {
        snprintf(buf, size, "%.*e", digits - 1, v);
        if (strtod(buf, NULL) == v) break;
    }
    snprintf(buf, size, "%.*e", digits - 1, v);
    int exponent = atoi(strchr(buf, 'e') + 1);
    if (exponent >= -4 && exponent < 21) {
        int decimals = digits - 1 - exponent;
        snprintf(buf, size, "%.*f", decimals > 0 ? decimals : 0, v);
    }
}

/* Writes `{a="x",b="y"` plus, for a bucket, `le="…"`, and the closing brace; nothing at all when
 * there is no label. */
static void text_put_labels(text *t, const metrics_series *s, const char *le) {
    const metrics_family *f = s->family;
    if (f->n_labels == 0 && !le) return;
    text_puts(t, "{");
    for (size_t i = 0; i < f->n_labels; i++) {
        if (i) text_puts(t, ",");
        text_puts(t, f->label_names[i]);
        text_puts(t, "=\"");
        text_put_escaped(t, s->label_values[i], true);
        text_puts(t, "\"");
    }
    if (le) {
        if (f->n_labels) text_puts(t, ",");
        text_puts(t, "le=\"");
        text_puts(t, le);
        text_puts(t, "\"");
    }
    text_puts(t, "}");
}

/* One sample line: name+suffix, labels (plus le for a bucket), the value already formatted. */
static void render_sample(text *t, const metrics_series *s, const char *suffix, const char *le,
                          const char *value) {
    text_puts(t, s->family->name);
    text_puts(t, suffix);
    text_put_labels(t, s, le);
    text_puts(t, " ");
    text_puts(t, value);
    text_puts(t, "\n");
}

static void render_histogram_series(text *t, const metrics_series *s) {
    const metrics_family *f = s->family;
    uint64_t cumulative = 0;
    char le[64], value[64];
    for (size_t b = 0; b <= f->n_buckets; b++) {
        cumulative += s->bucket_counts[b];
        if (b < f->n_buckets)
            format_double(f->buckets[b], le, sizeof le);
        else
            snprintf(le, sizeof le, "+Inf");
        snprintf(value, sizeof value, "%llu", (unsigned long long)cumulative);
        render_sample(t, s, "_bucket", le, value);
    }
    format_double(s->sum, value, sizeof value);
    render_sample(t, s, "_sum", NULL, value);
    snprintf(value, sizeof value, "%llu", (unsigned long long)s->count);
    render_sample(t, s, "_count", NULL, value);
}

static const char *type_name(metrics_type type) {
    switch (type) {
    case METRICS_COUNTER: return "counter";
    case METRICS_GAUGE: return "gauge";
    case METRICS_HISTOGRAM: return "histogram";
    }
    return "untyped";
}

int metrics_render(const metrics *m, char **out, size_t *len, px_error *err) {
    if (!m || !out)
        return px_error_set(err, PX_EINVAL,
                            "metrics: metrics_render needs a registry and an output pointer");
    text t = {0};
    text_put(&t, "", 0); /* an empty registry still renders "" (allocated, NUL-terminated) */
    for (size_t i = 0; i < m->n_families; i++) {
        const metrics_family *f = m->families[i];
        text_puts(&t, "# HELP ");
        text_puts(&t, f->name);
        text_puts(&t, " ");
        text_put_escaped(&t, f->help, false);
        text_puts(&t, "\n# TYPE ");
        text_puts(&t, f->name);
        text_puts(&t, " ");
        text_puts(&t, type_name(f->type));
        text_puts(&t, "\n");
        for (size_t j = 0; j < f->n_series; j++) {
            const metrics_series *s = f->series[j];
            if (f->type == METRICS_HISTOGRAM) {
                render_histogram_series(&t, s);
                continue;
            }
            char value[64];
            format_double(s->value, value, sizeof value);
            render_sample(&t, s, "", NULL, value);
        }
    }
    if (t.oom) {
        free(t.p);
        return px_error_set(err, PX_ENOMEM, "metrics: out of memory rendering the registry");
    }
    *out = t.p;
    if (len) *len = t.len;
    return 0;
}
