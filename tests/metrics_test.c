/* Unit tests of metrics.h: registration rules, updates and the exact Prometheus text. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "metrics.h"

static char *render(const metrics *m) {
    char *out = NULL;
    size_t len = 0;
    px_error err = {0};
    assert_int_equal(metrics_render(m, &out, &len, &err), 0);
    assert_non_null(out);
    assert_int_equal(len, strlen(out));
    return out;
}

static void assert_render(const metrics *m, const char *expected) {
    char *got = render(m);
    assert_string_equal(got, expected);
    free(got);
}

static void test_empty_registry_renders_nothing(void **state) {
    (void)state;
    metrics *m = metrics_new(NULL);
    assert_render(m, "");
    metrics_free(m);
}

static void test_counter_and_gauge_without_labels(void **state) {
    (void)state;
    metrics *m = metrics_new(NULL);
    metrics_family *c = metrics_register(m,
                                         &(metrics_spec){.type = METRICS_COUNTER,
                                                         .name = "px_rebalances_total",
                                                         .help = "Consumer group rebalances."},
                                         NULL);
    metrics_family *g = metrics_register(m,
                                         &(metrics_spec){.type = METRICS_GAUGE,
                                                         .name = "px_rome_version",
                                                         .help = "ROME version loaded."},
                                         NULL);
    assert_non_null(c);
    assert_non_null(g);
    /* A family without labels has its single series at zero from the start. */
    assert_render(m, "# HELP px_rebalances_total Consumer group rebalances.\n"
                     "# TYPE px_rebalances_total counter\n"
                     "px_rebalances_total 0\n"
                     "# HELP px_rome_version ROME version loaded.\n"
                     "# TYPE px_rome_version gauge\n"
                     "px_rome_version 0\n");
    metrics_series *cs = metrics_series_get(c, NULL, NULL);
    metrics_counter_inc(cs);
    metrics_counter_add(cs, 2);
    metrics_counter_add(cs, -5); /* a counter never goes down */
    metrics_counter_add(cs, NAN);
    metrics_series *gs = metrics_series_get(g, NULL, NULL);
    metrics_gauge_set(gs, 60);
    metrics_gauge_add(gs, -0.5);
    metrics_gauge_set(cs, 1000); /* wrong type: ignored */
    metrics_counter_inc(gs);     /* wrong type: ignored */
    assert_true(metrics_series_value(cs) == 3.0);
    assert_true(metrics_series_value(gs) == 59.5);
    metrics_counter_add(cs, 2);
    metrics_counter_add(cs, -2);
    assert_render(m, "# HELP px_rebalances_total Consumer group rebalances.\n"
                     "# TYPE px_rebalances_total counter\n"
                     "px_rebalances_total 5\n"
                     "# HELP px_rome_version ROME version loaded.\n"
                     "# TYPE px_rome_version gauge\n"
                     "px_rome_version 59.5\n");
    metrics_free(m);
}

static void test_labelled_series_are_created_on_use_and_escaped(void **state) {
    (void)state;
    metrics *m = metrics_new(NULL);
    const char *labels[] = {"topic", "reason"};
    metrics_family *f = metrics_register(m,
                                         &(metrics_spec){.type = METRICS_COUNTER,
                                                         .name = "px_dead_total",
                                                         .help = "Dead letters.\nBy \\reason.",
                                                         .label_names = labels,
                                                         .n_labels = 2},
                                         NULL);
    assert_non_null(f);
    assert_render(
        m, "# HELP px_dead_total Dead letters.\\nBy \\\\reason.\n# TYPE px_dead_total counter\n");
    metrics_series *a =
        metrics_series_get(f, (const char *[]){"passerelle.profile.v1", "bad_msgpack"}, NULL);
    metrics_series *b = metrics_series_get(f, (const char *[]){"t", "say \"hi\"\\\nbye"}, NULL);
    assert_non_null(a);
    assert_non_null(b);
    assert_ptr_equal(
        metrics_series_get(f, (const char *[]){"passerelle.profile.v1", "bad_msgpack"}, NULL), a);
    metrics_counter_add(a, 4);
    metrics_counter_inc(b);
    assert_render(m, "# HELP px_dead_total Dead letters.\\nBy \\\\reason.\n"
                     "# TYPE px_dead_total counter\n"
                     "px_dead_total{topic=\"passerelle.profile.v1\",reason=\"bad_msgpack\"} 4\n"
                     "px_dead_total{topic=\"t\",reason=\"say \\\"hi\\\"\\\\\\nbye\"} 1\n");
    metrics_series_remove(a);
    assert_render(m, "# HELP px_dead_total Dead letters.\\nBy \\\\reason.\n"
                     "# TYPE px_dead_total counter\n"
                     "px_dead_total{topic=\"t\",reason=\"say \\\"hi\\\"\\\\\\nbye\"} 1\n");
    metrics_free(m);
}

static void test_histogram_buckets_are_cumulative(void **state) {
    (void)state;
    metrics *m = metrics_new(NULL);
    const double bounds[] = {0.001, 0.01, 0.1};
    const char *labels[] = {"topic"};
    metrics_family *h = metrics_register(m,
                                         &(metrics_spec){.type = METRICS_HISTOGRAM,
                                                         .name = "px_latency_seconds",
                                                         .help = "Latency.",
                                                         .label_names = labels,
                                                         .n_labels = 1,
                                                         .buckets = bounds,
                                                         .n_buckets = 3},
                                         NULL);
    assert_non_null(h);
    metrics_series *s = metrics_series_get(h, (const char *[]){"a"}, NULL);
    metrics_histogram_observe(s, 0.0005);
    metrics_histogram_observe(s, 0.001); /* le is inclusive */
    metrics_histogram_observe(s, 0.05);
    metrics_histogram_observe(s, 2.5); /* only in +Inf */
    metrics_histogram_observe(s, NAN); /* dropped */
    assert_true(isnan(metrics_series_value(s)));
    assert_render(m, "# HELP px_latency_seconds Latency.\n"
                     "# TYPE px_latency_seconds histogram\n"
                     "px_latency_seconds_bucket{topic=\"a\",le=\"0.001\"} 2\n"
                     "px_latency_seconds_bucket{topic=\"a\",le=\"0.01\"} 2\n"
                     "px_latency_seconds_bucket{topic=\"a\",le=\"0.1\"} 3\n"
                     "px_latency_seconds_bucket{topic=\"a\",le=\"+Inf\"} 4\n"
                     "px_latency_seconds_sum{topic=\"a\"} 2.5515\n"
                     "px_latency_seconds_count{topic=\"a\"} 4\n");
    metrics_free(m);
}

static void test_histogram_without_labels(void **state) {
    (void)state;
    metrics *m = metrics_new(NULL);
    const double bounds[] = {1, 10, 100};
    metrics_family *h = metrics_register(m,
                                         &(metrics_spec){.type = METRICS_HISTOGRAM,
                                                         .name = "px_batch_size",
                                                         .help = "Batch size.",
                                                         .buckets = bounds,
                                                         .n_buckets = 3},
                                         NULL);
    metrics_series *s = metrics_series_get(h, NULL, NULL);
    for (int i = 0; i < 20; i++) metrics_histogram_observe(s, i);
    assert_render(m, "# HELP px_batch_size Batch size.\n"
                     "# TYPE px_batch_size histogram\n"
                     "px_batch_size_bucket{le=\"1\"} 2\n"
                     "px_batch_size_bucket{le=\"10\"} 11\n"
                     "px_batch_size_bucket{le=\"100\"} 20\n"
                     "px_batch_size_bucket{le=\"+Inf\"} 20\n"
                     "px_batch_size_sum 190\n"
                     "px_batch_size_count 20\n");
    metrics_free(m);
}

static void test_value_formatting(void **state) {
    (void)state;
    metrics *m = metrics_new(NULL);
    const char *labels[] = {"k"};
    metrics_family *g = metrics_register(
        m,
        &(metrics_spec){
            .type = METRICS_GAUGE, .name = "g", .help = "h", .label_names = labels, .n_labels = 1},
        NULL);
    metrics_gauge_set(metrics_series_get(g, (const char *[]){"int"}, NULL), 1234567);
    metrics_gauge_set(metrics_series_get(g, (const char *[]){"frac"}, NULL), 0.1);
    metrics_gauge_set(metrics_series_get(g, (const char *[]){"neg"}, NULL), -2.25);
    metrics_gauge_set(metrics_series_get(g, (const char *[]){"big"}, NULL), 1e21);
    metrics_gauge_set(metrics_series_get(g, (const char *[]){"pinf"}, NULL), INFINITY);
    metrics_gauge_set(metrics_series_get(g, (const char *[]){"ninf"}, NULL), -INFINITY);
    metrics_gauge_set(metrics_series_get(g, (const char *[]){"nan"}, NULL), NAN);
    metrics_gauge_set(metrics_series_get(g, (const char *[]){"third"}, NULL), 1.0 / 3.0);
    metrics_gauge_set(metrics_series_get(g, (const char *[]){"tiny"}, NULL), 0.00001);
    metrics_gauge_set(metrics_series_get(g, (const char *[]){"small"}, NULL), 0.0001);
    metrics_gauge_set(metrics_series_get(g, (const char *[]){"zero"}, NULL), 0);
    assert_render(m, "# HELP g h\n# TYPE g gauge\n"
                     "g{k=\"int\"} 1234567\n"
                     "g{k=\"frac\"} 0.1\n"
                     "g{k=\"neg\"} -2.25\n"
                     "g{k=\"big\"} 1e+21\n"
                     "g{k=\"pinf\"} +Inf\n"
                     "g{k=\"ninf\"} -Inf\n"
                     "g{k=\"nan\"} NaN\n"
                     "g{k=\"third\"} 0.3333333333333333\n"
                     "g{k=\"tiny\"} 1e-05\n"
                     "g{k=\"small\"} 0.0001\n"
                     "g{k=\"zero\"} 0\n");
    metrics_free(m);
}

static void expect_register_error(metrics *m, const metrics_spec *spec, const char *fragment) {
    px_error err = {0};
    assert_null(metrics_register(m, spec, &err));
    assert_int_not_equal(err.code, 0);
    if (!strstr(err.msg, fragment)) fail_msg("error '%s' does not mention '%s'", err.msg, fragment);
}

static void test_registration_rejects_bad_specs(void **state) {
    (void)state;
    metrics *m = metrics_new(NULL);
    const double ok_bounds[] = {1, 2};
    const double unsorted[] = {2, 1};
    const double inf_bound[] = {1, INFINITY};
    const char *le[] = {"le"};
    const char *reserved[] = {"__x"};
    const char *dash[] = {"a-b"};
    const char *twice[] = {"a", "a"};
    const char *colon[] = {"a:b"};
    expect_register_error(m, &(metrics_spec){.type = METRICS_GAUGE, .name = "9abc", .help = "h"},
                          "invalid metric name");
    expect_register_error(m, &(metrics_spec){.type = METRICS_GAUGE, .name = "a-b", .help = "h"},
                          "invalid metric name");
    expect_register_error(m, &(metrics_spec){.type = METRICS_GAUGE, .name = NULL, .help = "h"},
                          "invalid metric name");
    expect_register_error(
        m, &(metrics_spec){.type = METRICS_COUNTER, .name = "events", .help = "h"}, "_total");
    expect_register_error(m, &(metrics_spec){.type = METRICS_GAUGE, .name = "g", .help = ""},
                          "HELP");
    expect_register_error(m,
                          &(metrics_spec){.type = METRICS_GAUGE,
                                          .name = "g",
                                          .help = "h",
                                          .label_names = reserved,
                                          .n_labels = 1},
                          "invalid label name");
    expect_register_error(
        m,
        &(metrics_spec){
            .type = METRICS_GAUGE, .name = "g", .help = "h", .label_names = dash, .n_labels = 1},
        "invalid label name");
    expect_register_error(
        m,
        &(metrics_spec){
            .type = METRICS_GAUGE, .name = "g", .help = "h", .label_names = colon, .n_labels = 1},
        "invalid label name");
    expect_register_error(
        m,
        &(metrics_spec){
            .type = METRICS_GAUGE, .name = "g", .help = "h", .label_names = twice, .n_labels = 2},
        "given twice");
    expect_register_error(
        m,
        &(metrics_spec){
            .type = METRICS_GAUGE, .name = "g", .help = "h", .n_labels = METRICS_MAX_LABELS + 1},
        "labels");
    expect_register_error(m, &(metrics_spec){.type = METRICS_HISTOGRAM, .name = "h", .help = "h"},
                          "bucket bounds");
    expect_register_error(m,
                          &(metrics_spec){.type = METRICS_HISTOGRAM,
                                          .name = "h",
                                          .help = "h",
                                          .buckets = unsorted,
                                          .n_buckets = 2},
                          "strictly increasing");
    expect_register_error(m,
                          &(metrics_spec){.type = METRICS_HISTOGRAM,
                                          .name = "h",
                                          .help = "h",
                                          .buckets = inf_bound,
                                          .n_buckets = 2},
                          "not finite");
    expect_register_error(m,
                          &(metrics_spec){.type = METRICS_HISTOGRAM,
                                          .name = "h",
                                          .help = "h",
                                          .buckets = ok_bounds,
                                          .n_buckets = METRICS_MAX_BUCKETS + 1},
                          "bucket bounds");
    expect_register_error(m,
                          &(metrics_spec){.type = METRICS_HISTOGRAM,
                                          .name = "h",
                                          .help = "h",
                                          .buckets = ok_bounds,
                                          .n_buckets = 2,
                                          .label_names = le,
                                          .n_labels = 1},
                          "'le'");
    expect_register_error(m, &(metrics_spec){.type = (metrics_type)7, .name = "g", .help = "h"},
                          "unknown metric type");
    assert_non_null(metrics_register(
        m, &(metrics_spec){.type = METRICS_GAUGE, .name = "ns:g", .help = "h"}, NULL));
    expect_register_error(m,
                          &(metrics_spec){.type = METRICS_GAUGE, .name = "ns:g", .help = "other"},
                          "already registered");
    metrics_free(m);
}

static void test_series_limits_and_bad_values(void **state) {
    (void)state;
    metrics *m = metrics_new(NULL);
    const char *labels[] = {"partition"};
    metrics_family *f = metrics_register(m,
                                         &(metrics_spec){.type = METRICS_GAUGE,
                                                         .name = "lag",
                                                         .help = "h",
                                                         .label_names = labels,
                                                         .n_labels = 1,
                                                         .max_series = 3},
                                         NULL);
    px_error err = {0};
    assert_non_null(metrics_series_get(f, (const char *[]){"0"}, &err));
    assert_non_null(metrics_series_get(f, (const char *[]){"1"}, &err));
    metrics_series *two = metrics_series_get(f, (const char *[]){"2"}, &err);
    assert_non_null(two);
    assert_null(metrics_series_get(f, (const char *[]){"3"}, &err));
    assert_non_null(strstr(err.msg, "cardinality limit"));
    /* An existing series is still found at the limit, and removing one makes room. */
    assert_non_null(metrics_series_get(f, (const char *[]){"1"}, NULL));
    metrics_series_remove(two);
    assert_non_null(metrics_series_get(f, (const char *[]){"3"}, NULL));

    assert_null(metrics_series_get(f, NULL, &err));
    assert_non_null(strstr(err.msg, "label values expected"));
    assert_null(metrics_series_get(f, (const char *[]){NULL}, &err));
    assert_non_null(strstr(err.msg, "is NULL"));
    char long_value[METRICS_LABEL_VALUE_MAX + 2];
    memset(long_value, 'x', sizeof long_value - 1);
    long_value[sizeof long_value - 1] = '\0';
    assert_null(metrics_series_get(f, (const char *[]){long_value}, &err));
    assert_non_null(strstr(err.msg, "longer than"));
    long_value[METRICS_LABEL_VALUE_MAX] = '\0'; /* exactly at the limit: accepted */
    metrics_series_remove(metrics_series_get(f, (const char *[]){"0"}, NULL));
    assert_non_null(metrics_series_get(f, (const char *[]){long_value}, &err));
    metrics_free(m);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_empty_registry_renders_nothing),
        cmocka_unit_test(test_counter_and_gauge_without_labels),
        cmocka_unit_test(test_labelled_series_are_created_on_use_and_escaped),
        cmocka_unit_test(test_histogram_buckets_are_cumulative),
        cmocka_unit_test(test_histogram_without_labels),
        cmocka_unit_test(test_value_formatting),
        cmocka_unit_test(test_registration_rejects_bad_specs),
        cmocka_unit_test(test_series_limits_and_bad_values),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
