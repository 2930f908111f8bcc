/* redis_endpoint: URL parsing, validation, descriptions and the key layout (no server needed). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "redis_endpoint.h"
#include "utf8.h"

static redis_endpoint parse_ok(const char *url) {
    redis_endpoint ep;
    px_error err;
    redis_endpoint_init(&ep);
    px_error_clear(&err);
    int rc = redis_endpoint_parse_url(&ep, url, &err);
    if (rc) fail_msg("%s: %s", url, err.msg);
    assert_int_equal(redis_endpoint_validate(&ep, &err), 0);
    return ep;
}

/* Parses a bad URL and checks the error mentions `expected`. */
static void parse_bad(const char *url, const char *expected) {
    redis_endpoint ep;
    px_error err;
    redis_endpoint_init(&ep);
    px_error_clear(&err);
    assert_int_equal(redis_endpoint_parse_url(&ep, url, &err), -1);
    if (!strstr(err.msg, expected))
        fail_msg("%s: error '%s' does not mention '%s'", url, err.msg, expected);
}

static void test_tcp_urls(void **state) {
    (void)state;
    redis_endpoint ep = parse_ok("redis://10.1.2.3");
    assert_string_equal(ep.host, "10.1.2.3");
    assert_int_equal(ep.port, 6379);
    assert_int_equal(ep.db, 0);
    assert_string_equal(ep.user, "");
    assert_string_equal(ep.password, "");
    assert_string_equal(ep.prefix, "passerelle:");

    ep = parse_ok("redis://cache.internal:6380/7");
    assert_string_equal(ep.host, "cache.internal");
    assert_int_equal(ep.port, 6380);
    assert_int_equal(ep.db, 7);

    ep = parse_ok("redis://[::1]:7000/2");
    assert_string_equal(ep.host, "::1");
    assert_int_equal(ep.port, 7000);
    assert_int_equal(ep.db, 2);

    ep = parse_ok("redis://:s3cret@127.0.0.1:1234");
    assert_string_equal(ep.user, "");
    assert_string_equal(ep.password, "s3cret");

    /* Escaped '@', ':' and '/' in the password; the user is decoded too. */
    ep = parse_ok("redis://app%2Dw:p%40ss%3Aw%2Ford@h:1/0");
    assert_string_equal(ep.user, "app-w");
    assert_string_equal(ep.password, "p@ss:w/ord");
    assert_string_equal(ep.host, "h");
}

static void test_unix_urls(void **state) {
    (void)state;
    redis_endpoint ep = parse_ok("unix:///run/redis/redis.sock");
    assert_string_equal(ep.unix_path, "/run/redis/redis.sock");
    assert_string_equal(ep.host, "");
    assert_int_equal(ep.db, 0);
    ep = parse_ok("unix://bob:pw@/tmp/r.sock?db=4");
    assert_string_equal(ep.unix_path, "/tmp/r.sock");
    assert_string_equal(ep.user, "bob");
    assert_string_equal(ep.password, "pw");
    assert_int_equal(ep.db, 4);
}

static void test_url_keeps_prefix(void **state) {
    (void)state;
    redis_endpoint ep;
    redis_endpoint_init(&ep);
    assert_int_equal(redis_endpoint_set(ep.prefix, sizeof ep.prefix, "staging:", "prefix", NULL),
                     0);
    assert_int_equal(redis_endpoint_parse_url(&ep, "redis://h:2", NULL), 0);
    assert_string_equal(ep.prefix, "staging:");
}

static void test_bad_urls(void **state) {
    (void)state;
    parse_bad("http://h", "unknown scheme");
    parse_bad("h:6379", "unknown scheme");
    parse_bad("redis://", "no host");
    parse_bad("redis://:6379", "no host");
    parse_bad("redis://h:0", "port '0' is out of range");
    parse_bad("redis://h:65536", "out of range");
    parse_bad("redis://h:12ab", "not a number");
    parse_bad("redis://h:", "empty port");
    parse_bad("redis://h/99999999", "database number");
    parse_bad("redis://h/x", "not a number");
    parse_bad("redis://bob@h", "without a password");
    parse_bad("redis://:p%4@h", "percent-escape");
    parse_bad("redis://:p%zz@h", "percent-escape");
    parse_bad("redis://:p%00@h", "%00");
    /* an escape is no way round the file being text (found by fuzz_config: issue 12) */
    parse_bad("redis://l%ca@h", "not UTF-8 once percent-decoded");
    parse_bad("redis://u:p%ff@h", "not UTF-8 once percent-decoded");
    parse_bad("redis://[::1", "without ']'");
    parse_bad("redis://[::1]x", "expected ':port'");
    parse_bad("unix://relative.sock", "absolute socket path");
    parse_bad("unix:///tmp/r.sock?database=2", "unknown query");
    parse_bad("unix:///tmp/r.sock?db=-1", "not a number");

    char url[600];
    memset(url, 'h', sizeof url);
    memcpy(url, "redis://", 8);
    url[8 + REDIS_ENDPOINT_HOST_MAX + 1] = '\0';
    parse_bad(url, "host is 256 bytes long");
    memcpy(url, "unix:///", 8);
    memset(url + 8, 'p', sizeof url - 8);
    url[7 + REDIS_ENDPOINT_PATH_MAX + 1] = '\0';
    parse_bad(url, "socket path is 108 bytes long");
    memcpy(url, "redis://:", 9);
    memset(url + 9, 'x', sizeof url - 9);
    strcpy(url + 9 + REDIS_ENDPOINT_PASSWORD_MAX + 1, "@h");
    parse_bad(url, "password is longer than 512 bytes");
}

static void test_validate(void **state) {
    (void)state;
    redis_endpoint ep;
    px_error err;
    redis_endpoint_init(&ep);
    assert_int_equal(redis_endpoint_validate(&ep, &err), 0);
    strcpy(ep.unix_path, "/tmp/s");
    assert_int_equal(redis_endpoint_validate(&ep, &err), -1);
    assert_non_null(strstr(err.msg, "exactly one of a host or a unix socket path"));
    ep.host[0] = ep.unix_path[0] = '\0';
    assert_int_equal(redis_endpoint_validate(&ep, &err), -1);
    /* a host that is no host name: it would not even read back from an explained config */
    assert_int_equal(redis_endpoint_parse_url(&ep, "redis://;lodepepth = 8", &err), 0);
    assert_int_equal(redis_endpoint_validate(&ep, &err), -1);
    assert_non_null(strstr(err.msg, "byte 1 of the host (0x3b) is not allowed"));
    assert_int_equal(redis_endpoint_parse_url(&ep, "redis://[fe80::1%eth0]:6380", &err), 0);
    assert_int_equal(redis_endpoint_validate(&ep, &err), 0);
    redis_endpoint_init(&ep);
    ep.port = 70000;
    assert_int_equal(redis_endpoint_validate(&ep, &err), -1);
    assert_non_null(strstr(err.msg, "port 70000"));
    redis_endpoint_init(&ep);
    ep.db = -1;
    assert_int_equal(redis_endpoint_validate(&ep, &err), -1);
    redis_endpoint_init(&ep);
    strcpy(ep.user, "bob");
    assert_int_equal(redis_endpoint_validate(&ep, &err), -1);
    assert_non_null(strstr(err.msg, "user 'bob' has no password"));

    char big[REDIS_ENDPOINT_PREFIX_MAX + 2];
    memset(big, 'p', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    assert_int_equal(redis_endpoint_set(ep.prefix, sizeof ep.prefix, big, "prefix", &err), -1);
    assert_non_null(strstr(err.msg, "redis prefix is 65 bytes long; at most 64"));
    big[REDIS_ENDPOINT_PREFIX_MAX] = '\0';
    assert_int_equal(redis_endpoint_set(ep.prefix, sizeof ep.prefix, big, "prefix", &err), 0);
}

static void test_sentinels(void **state) {
    (void)state;
    redis_endpoint ep;
    px_error err;
    char buf[256];
    redis_endpoint_init(&ep);
    assert_int_equal(redis_endpoint_parse_sentinels(&ep, " 10.0.0.1 ,[::1]:26380,h:7", &err), 0);
    assert_int_equal(ep.n_sentinels, 3);
    assert_string_equal(ep.sentinels[0].host, "10.0.0.1");
    assert_int_equal(ep.sentinels[0].port, REDIS_ENDPOINT_SENTINEL_PORT);
    assert_string_equal(ep.sentinels[1].host, "::1");
    assert_int_equal(ep.sentinels[2].port, 7);
    /* both or neither, and never with a unix socket */
    assert_int_equal(redis_endpoint_validate(&ep, &err), -1);
    assert_non_null(strstr(err.msg, "sentinels without a master name"));
    strcpy(ep.master, "main");
    ep.db = 2;
    assert_int_equal(redis_endpoint_validate(&ep, &err), 0);
    redis_endpoint_describe(&ep, buf, sizeof buf);
    assert_string_equal(buf, "master 'main' via sentinels 10.0.0.1:26379,[::1]:26380,h:7 db 2");
    strcpy(ep.unix_path, "/tmp/s");
    ep.host[0] = '\0';
    assert_int_equal(redis_endpoint_validate(&ep, &err), -1);
    assert_non_null(strstr(err.msg, "not a unix socket"));
    /* a bad entry leaves the list as it was; "" empties it */
    assert_int_equal(redis_endpoint_parse_sentinels(&ep, "a:1,:2", &err), -1);
    assert_non_null(strstr(err.msg, "redis sentinels: no host"));
    assert_int_equal(ep.n_sentinels, 3);
    assert_int_equal(redis_endpoint_parse_sentinels(&ep, "a:x", &err), -1);
    assert_non_null(strstr(err.msg, "port 'x' is not a number"));
    assert_int_equal(redis_endpoint_parse_sentinels(&ep, "", &err), 0);
    assert_int_equal(ep.n_sentinels, 0);
    redis_endpoint_init(&ep);
    strcpy(ep.master, "main");
    assert_int_equal(redis_endpoint_validate(&ep, &err), -1);
    assert_non_null(strstr(err.msg, "a master name without sentinels"));
}

static void test_describe_hides_password(void **state) {
    (void)state;
    char buf[400];
    redis_endpoint ep = parse_ok("redis://alice:hunter2@10.0.0.1:6390/3");
    redis_endpoint_describe(&ep, buf, sizeof buf);
    assert_string_equal(buf, "10.0.0.1:6390 db 3 as user 'alice'");
    ep = parse_ok("redis://:hunter2@[::1]");
    redis_endpoint_describe(&ep, buf, sizeof buf);
    assert_string_equal(buf, "[::1]:6379 with a password");
    ep = parse_ok("unix:///tmp/r.sock");
    redis_endpoint_describe(&ep, buf, sizeof buf);
    assert_string_equal(buf, "unix:/tmp/r.sock");
}

static void test_key_layout(void **state) {
    (void)state;
    redis_endpoint ep;
    px_error err;
    char key[REDIS_ENDPOINT_KEY_MAX], other[REDIS_ENDPOINT_KEY_MAX];
    redis_endpoint_init(&ep);
    assert_int_equal(redis_endpoint_current_key(&ep, key, sizeof key, &err),
                     (int)strlen("passerelle:current"));
    assert_string_equal(key, "passerelle:current");
    assert_true(redis_endpoint_published_channel(&ep, key, sizeof key, &err) > 0);
    assert_string_equal(key, "passerelle:published");

    int n = redis_endpoint_snapshot_key(&ep, "60", "abc", 3, key, sizeof key, &err);
    assert_int_equal(n, (int)strlen("passerelle:snapshot:60:") + 16);
    assert_memory_equal(key, "passerelle:snapshot:60:", 23);
    for (int i = 23; i < n; i++) assert_non_null(strchr("0123456789abcdef", key[i]));
    /* Same content → same key; different content → different key. */
    assert_true(redis_endpoint_snapshot_key(&ep, "60", "abc", 3, other, sizeof other, &err) > 0);
    assert_string_equal(key, other);
    assert_true(redis_endpoint_snapshot_key(&ep, "60", "abd", 3, other, sizeof other, &err) > 0);
    assert_string_not_equal(key, other);

    assert_int_equal(redis_endpoint_snapshot_key(&ep, "6:0", "a", 1, key, sizeof key, &err), -1);
    assert_non_null(strstr(err.msg, "has a ':'"));
    assert_int_equal(redis_endpoint_snapshot_key(&ep, "", "a", 1, key, sizeof key, &err), -1);
    n = redis_endpoint_snapshot_key(&ep, "v-60.1_x", "a", 1, key, sizeof key, &err);
    assert_int_equal(n, (int)strlen("passerelle:snapshot:v-60.1_x:") + 16);
    char version[REDIS_ENDPOINT_VERSION_MAX + 2];
    memset(version, '9', sizeof version - 1);
    version[sizeof version - 1] = '\0';
    assert_int_equal(redis_endpoint_snapshot_key(&ep, version, "a", 1, key, sizeof key, &err), -1);
    assert_non_null(strstr(err.msg, "1..32 bytes"));
    char cut[48]; /* quoted up to 40 bytes, never inside a character: "€" at bytes 38-40 */
    memset(cut, '9', sizeof cut - 1);
    memcpy(cut + 38, "\xe2\x82\xac", 3);
    cut[sizeof cut - 1] = '\0';
    assert_int_equal(redis_endpoint_snapshot_key(&ep, cut, "a", 1, key, sizeof key, &err), -1);
    assert_true(utf8_valid(err.msg, strlen(err.msg), NULL));
    /* The longest prefix and version still fit in REDIS_ENDPOINT_KEY_MAX. */
    memset(ep.prefix, 'p', REDIS_ENDPOINT_PREFIX_MAX);
    ep.prefix[REDIS_ENDPOINT_PREFIX_MAX] = '\0';
    version[REDIS_ENDPOINT_VERSION_MAX] = '\0';
    assert_int_equal(redis_endpoint_snapshot_key(&ep, version, "a", 1, key, sizeof key, &err),
                     REDIS_ENDPOINT_KEY_MAX - 1);
    /* A buffer too small is an error, not a truncated key. */
    assert_int_equal(redis_endpoint_current_key(&ep, key, 10, &err), -1);
    assert_non_null(strstr(err.msg, "does not fit in 10 bytes"));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tcp_urls),         cmocka_unit_test(test_unix_urls),
        cmocka_unit_test(test_url_keeps_prefix), cmocka_unit_test(test_bad_urls),
        cmocka_unit_test(test_validate),         cmocka_unit_test(test_describe_hides_password),
        cmocka_unit_test(test_key_layout),       cmocka_unit_test(test_sentinels),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
