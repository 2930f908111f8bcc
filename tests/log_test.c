/* Unit tests of log.h: line format, quoting, level filter, user-id hashing, truncation. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <xxhash.h>

#include "log.h"

/* Reads everything written so far to the read end of a non-blocking pipe. */
static size_t drain(int fd, char *buf, size_t size) {
    ssize_t n = read(fd, buf, size - 1);
    if (n < 0) n = 0;
    buf[n] = '\0';
    return (size_t)n;
}

static void test_line_format_and_filter(void **state) {
    (void)state;
    int p[2];
    assert_int_equal(pipe(p), 0);
    px_log *log = px_log_new(p[1], PX_LOG_INFO, 0, NULL);
    assert_non_null(log);
    assert_int_equal(
        PX_LOG_INFOF(log, "partition assigned", PX_LOG_STR("topic", "passerelle.profile.v1"),
                     PX_LOG_INT("partition", 3), PX_LOG_UINT("offset", 18446744073709551615ull),
                     PX_LOG_DOUBLE("seconds", 0.25), PX_LOG_BOOL("paused", false)),
        0);
    assert_int_equal(PX_LOG_WARNF(log, "redis down", PX_LOG_INT("retry_ms", -1)), 0);
    assert_int_equal(px_log_write(log, PX_LOG_ERR, "fatal", NULL, 0), 0);
    /* Filtered out: not written, -1. */
    assert_int_equal(PX_LOG_DEBUGF(log, "noise", PX_LOG_INT("x", 1)), -1);
    char buf[1024];
    drain(p[0], buf, sizeof buf);
    assert_string_equal(
        buf, "<6>level=info msg=\"partition assigned\" topic=passerelle.profile.v1 partition=3 "
             "offset=18446744073709551615 seconds=0.25 paused=false\n"
             "<4>level=warning msg=\"redis down\" retry_ms=-1\n"
             "<3>level=err msg=fatal\n");
    assert_false(px_log_enabled(log, PX_LOG_DEBUG));
    px_log_set_level(log, PX_LOG_DEBUG);
    assert_true(px_log_enabled(log, PX_LOG_DEBUG));
    assert_int_equal(PX_LOG_DEBUGF(log, "noise", PX_LOG_INT("x", 1)), 0);
    drain(p[0], buf, sizeof buf);
    assert_string_equal(buf, "<7>level=debug msg=noise x=1\n");
    px_log_free(log);
    close(p[0]);
    close(p[1]);
}

static void test_values_are_quoted_and_escaped(void **state) {
    (void)state;
    px_log *log = px_log_new(2, PX_LOG_INFO, 0, NULL);
    char buf[512];
    px_log_format(log, PX_LOG_INFO, "m",
                  PX_LOG_FIELDS_(PX_LOG_STR("empty", ""), PX_LOG_STR("null", NULL),
                                 PX_LOG_STR("eq", "a=b"), PX_LOG_STR("q", "say \"hi\" \\o/"),
                                 PX_LOG_STR("ctl", "l1\nl2\tx\r\x01"),
                                 PX_LOG_STR("utf8", "métier")),
                  buf, sizeof buf);
    assert_string_equal(
        buf, "<6>level=info msg=m empty=\"\" null=\"\" eq=\"a=b\" q=\"say \\\"hi\\\" \\\\o/\" "
             "ctl=\"l1\\nl2\\tx\\r\\x01\" utf8=métier\n");
    px_log_free(log);
}

static void test_user_id_is_hashed_above_debug(void **state) {
    (void)state;
    const uint64_t seed = 42;
    px_log *log = px_log_new(2, PX_LOG_DEBUG, seed, NULL);
    const char *user = "jeanne.dupont@example.org";
    char expected[256], buf[256];
    snprintf(expected, sizeof expected, "<6>level=info msg=applied user=h:%016llx\n",
             (unsigned long long)XXH64(user, strlen(user), seed));
    px_log_format(log, PX_LOG_INFO, "applied", PX_LOG_FIELDS_(PX_LOG_USER(user)), buf, sizeof buf);
    assert_string_equal(buf, expected);
    assert_null(strstr(buf, "jeanne"));
    px_log_format(log, PX_LOG_WARNING, "applied", PX_LOG_FIELDS_(PX_LOG_USER(user)), buf,
                  sizeof buf);
    assert_null(strstr(buf, "jeanne"));
    /* A different seed gives a different hash: hashes cannot be precomputed without the seed. */
    px_log *other = px_log_new(2, PX_LOG_DEBUG, seed + 1, NULL);
    char buf2[256];
    px_log_format(other, PX_LOG_INFO, "applied", PX_LOG_FIELDS_(PX_LOG_USER(user)), buf2,
                  sizeof buf2);
    assert_string_not_equal(buf, buf2);
    /* Only debug lines carry the id itself. */
    px_log_format(log, PX_LOG_DEBUG, "applied", PX_LOG_FIELDS_(PX_LOG_USER(user)), buf, sizeof buf);
    assert_string_equal(buf, "<7>level=debug msg=applied user=jeanne.dupont@example.org\n");
    px_log_free(other);
    px_log_free(log);
}

static void test_long_line_is_cut_at_a_field(void **state) {
    (void)state;
    px_log *log = px_log_new(2, PX_LOG_INFO, 0, NULL);
    static char big[PX_LOG_LINE_MAX];
    memset(big, 'y', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    static char buf[PX_LOG_LINE_MAX * 2];
    size_t len = px_log_format(
        log, PX_LOG_INFO, "m",
        PX_LOG_FIELDS_(PX_LOG_INT("a", 1), PX_LOG_STR("big", big), PX_LOG_INT("b", 2)), buf,
        sizeof buf);
    assert_int_equal(len, strlen(buf));
    assert_true(len <= PX_LOG_LINE_MAX);
    assert_string_equal(buf, "<6>level=info msg=m a=1 truncated=true\n");
    /* A value that fits exactly is kept whole. */
    size_t room = PX_LOG_LINE_MAX - strlen("<6>level=info msg=m big=") - 1;
    big[room] = '\0';
    len = px_log_format(log, PX_LOG_INFO, "m", PX_LOG_FIELDS_(PX_LOG_STR("big", big)), buf,
                        sizeof buf);
    assert_int_equal(len, PX_LOG_LINE_MAX);
    assert_null(strstr(buf, "truncated"));
    big[room] = 'y';
    big[room + 1] = '\0';
    len = px_log_format(log, PX_LOG_INFO, "m", PX_LOG_FIELDS_(PX_LOG_STR("big", big)), buf,
                        sizeof buf);
    assert_string_equal(buf, "<6>level=info msg=m truncated=true\n");
    /* A buffer too small for even the prefix gets nothing. */
    assert_int_equal(px_log_format(log, PX_LOG_INFO, "m", NULL, 0, buf, 8), 0);
    px_log_free(log);
}

static void test_levels_parse_and_bad_input(void **state) {
    (void)state;
    px_log_level level;
    px_error err = {0};
    assert_int_equal(px_log_level_parse("INFO", &level, &err), 0);
    assert_int_equal(level, PX_LOG_INFO);
    assert_int_equal(px_log_level_parse("error", &level, &err), 0);
    assert_int_equal(level, PX_LOG_ERR);
    assert_int_equal(px_log_level_parse("warn", &level, &err), 0);
    assert_int_equal(level, PX_LOG_WARNING);
    assert_int_equal(px_log_level_parse("debug", &level, &err), 0);
    assert_int_equal(level, PX_LOG_DEBUG);
    assert_int_equal(px_log_level_parse("verbose", &level, &err), -1);
    assert_non_null(strstr(err.msg, "unknown level 'verbose'"));
    assert_null(px_log_new(-1, PX_LOG_INFO, 0, &err));
    assert_non_null(strstr(err.msg, "file descriptor"));
    assert_null(px_log_new(2, (px_log_level)5, 0, &err));
    assert_non_null(strstr(err.msg, "invalid level 5"));
    /* A NULL logger is silent, not a crash. */
    assert_int_equal(px_log_write(NULL, PX_LOG_ERR, "x", NULL, 0), -1);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_line_format_and_filter),
        cmocka_unit_test(test_values_are_quoted_and_escaped),
        cmocka_unit_test(test_user_id_is_hashed_above_debug),
        cmocka_unit_test(test_long_line_is_cut_at_a_field),
        cmocka_unit_test(test_levels_parse_and_bad_input),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
