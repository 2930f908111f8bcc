/* config: defaults, the annotated example file, explain round trips, pass-through of [kafka],
 * and one bad file per kind of mistake with the error's place and words. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "config.h"
#include "kafka_limits.h"
#include "utf8.h"

#define EXAMPLE PASSERELLE_SOURCE_DIR "/config/passerelled.conf"

/* Writes text to a fresh temporary file; returns its malloc'ed path. */
static char *write_temp(const char *text) {
    char *path = strdup("/tmp/passerelle-config-test-XXXXXX");
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    size_t len = strlen(text);
    assert_int_equal(write(fd, text, len), (ssize_t)len);
    close(fd);
    return path;
}

static char *explain_text(const config *cfg) {
    char *buf = NULL;
    size_t size = 0;
    FILE *f = open_memstream(&buf, &size);
    assert_non_null(f);
    config_explain(cfg, f);
    fclose(f);
    return buf;
}

static config *load_text(const char *text, px_error *err) {
    char *path = write_temp(text);
    config *cfg = NULL;
    int rc = config_load(path, &cfg, err);
    unlink(path);
    free(path);
    assert_true(rc == 0 ? cfg != NULL : cfg == NULL);
    return cfg;
}

static void test_defaults(void **state) {
    (void)state;
    px_error err;
    config *cfg = config_default(&err);
    assert_non_null(cfg);
    assert_true(cfg->kafka_embedded);
    assert_int_equal(cfg->n_kafka, 0);
    assert_string_equal(cfg->topic_profile, "passerelle.profile.v1");
    assert_string_equal(cfg->topic_skills, "passerelle.skills.v1");
    assert_string_equal(cfg->topic_suggestions, "passerelle.suggestions.v1");
    assert_string_equal(cfg->topic_dlq, "passerelle.dlq.v1");
    assert_string_equal(cfg->group_id, "passerelle");
    assert_string_equal(cfg->redis.host, "127.0.0.1");
    assert_int_equal(cfg->redis.port, 6379);
    assert_int_equal(cfg->limits.max_experiences, event_limits_default().max_experiences);
    assert_null(cfg->transactional_id);
    assert_null(cfg->rome_dir);
    assert_int_equal(cfg->workers, 0); /* one per core */
    assert_int_equal(cfg->inflight_bytes, 16u << 20);
    config_free(cfg);

    /* An empty file is the defaults. */
    cfg = load_text("", &err);
    assert_non_null(cfg);
    config *def = config_default(&err);
    char *a = explain_text(cfg), *b = explain_text(def);
    assert_string_equal(a, b);
    free(a);
    free(b);
    config_free(cfg);
    config_free(def);
}

/* The example sets every key to its default, and names every key (possibly commented out). */
static void test_example_file(void **state) {
    (void)state;
    px_error err;
    config *cfg = NULL;
    if (config_load(EXAMPLE, &cfg, &err)) fail_msg("%s", err.msg);
    config *def = config_default(&err);
    char *from_example = explain_text(cfg), *defaults = explain_text(def);
    assert_string_equal(from_example, defaults);

    FILE *f = fopen(EXAMPLE, "r");
    assert_non_null(f);
    static char example[65536];
    size_t n = fread(example, 1, sizeof example - 1, f);
    example[n] = '\0';
    fclose(f);
    /* Every key explain prints, outside the constraint table, must be documented in the example. */
    char *save = NULL;
    for (char *line = strtok_r(defaults, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        char *eq = strstr(line, " = ");
        if (line[0] == '#' || line[0] == '[' || !eq || !strncmp(line, "constraint.", 11)) continue;
        *eq = '\0';
        char plain[128], commented[128];
        snprintf(plain, sizeof plain, "\n%s =", line);
        snprintf(commented, sizeof commented, "\n# %s =", line);
        if (!strstr(example, plain) && !strstr(example, commented))
            fail_msg("key %s is not in %s", line, EXAMPLE);
    }
    const char *optional[] = {"host",     "port", "unix_socket",     "user", "password", "db",
                              "snapshot", "dir",  "transactional.id"};
    for (size_t i = 0; i < sizeof optional / sizeof optional[0]; i++) {
        char commented[128];
        snprintf(commented, sizeof commented, "\n# %s =", optional[i]);
        if (!strstr(example, commented))
            fail_msg("optional key %s is not shown in %s", optional[i], EXAMPLE);
    }
    free(from_example);
    free(defaults);
    config_free(cfg);
    config_free(def);
}

static const char *const custom =
    "[kafka]\n"
    "bootstrap.servers = 10.0.0.1:9092,10.0.0.2:9092\n"
    "client.id = px-1\n"
    "transactional.id = passerelle-1\n"
    "sasl.password = s3cret\n"
    "[topics]\nprofile = p.v1\nskills = s.v1\nsuggestions = o.v1\ndlq = d.v1\ngroup = g1\n"
    "[redis]\nhost = redis.internal\nport = 6380\nuser = px\npassword = hunter2\ndb = "
    "3\nkey_prefix = px:\n"
    "state_prefix = u:\nstate_ttl_s = 0\nerased_ttl_s = 60\nanswers_ttl_s = "
    "120\nconnect_timeout_ms = 100\n"
    "command_timeout_ms = 200\n"
    "backoff_initial_ms = 10\nbackoff_max_ms = 20\n"
    "[rome]\nsnapshot = /var/lib/px/rome.snap\n"
    "[matching]\nweight.emergente = 0.65\ntop = 7\nconstraint.no_cold = 11, 12\n"
    "kinship.parent = 0.5\nevidence_places = 4\nconstraint_domain_share = 0.75\n"
    "constraint.no_cold.items = 13\n"
    "[limits]\nmax_message_bytes = 1000\nmax_experiences = 3\nmax_competences = 4096\nmax_avoid = "
    "2\nmax_domains = 64\n"
    "max_title_bytes = 50\nmax_id_bytes = 40\nmax_depth = 3\nbatch_size = "
    "100000\nbatch_max_wait_ms = 1\n"
    "[log]\nlevel = debug\n"
    "[http]\nenabled = false\naddress = 0.0.0.0\nport = 0\n"
    "[daemon]\nidempotency_window = 5\nshutdown_timeout_ms = 1\ntxn_timeout_ms = 2\nworkers = 3\n"
    "inflight_bytes = 4096\n";

static void test_custom_values(void **state) {
    (void)state;
    px_error err;
    config *cfg = load_text(custom, &err);
    if (!cfg) fail_msg("%s", err.msg);
    assert_false(cfg->kafka_embedded);
    /* [kafka] properties verbatim, in file order. */
    assert_int_equal(cfg->n_kafka, 4);
    assert_string_equal(cfg->kafka[0].name, "bootstrap.servers");
    assert_string_equal(cfg->kafka[0].value, "10.0.0.1:9092,10.0.0.2:9092");
    assert_string_equal(cfg->kafka[1].name, "client.id");
    assert_string_equal(cfg->kafka[3].name, "sasl.password");
    assert_string_equal(cfg->transactional_id, "passerelle-1");
    assert_string_equal(cfg->topic_dlq, "d.v1");
    assert_string_equal(cfg->group_id, "g1");
    assert_string_equal(cfg->redis.host, "redis.internal");
    assert_int_equal(cfg->redis.port, 6380);
    assert_string_equal(cfg->redis.user, "px");
    assert_string_equal(cfg->redis.password, "hunter2");
    assert_int_equal(cfg->redis.db, 3);
    assert_string_equal(cfg->redis.prefix, "px:");
    assert_string_equal(cfg->rome_key_prefix, "px:"); /* follows [redis] key_prefix when not set */
    assert_string_equal(cfg->rome_snapshot, "/var/lib/px/rome.snap");
    assert_null(cfg->rome_dir);
    assert_true(cfg->matching.weight_emergente == 0.65);
    assert_int_equal(cfg->matching.top, 7);
    const matcher_constraint *cold = matcher_config_constraint(&cfg->matching, "no_cold");
    assert_non_null(cold);
    assert_int_equal(cold->n_codes, 2);
    assert_int_equal(cold->n_items, 1);
    assert_true(cfg->matching.kin_parent == 0.5);
    assert_true(cfg->matching.constraint_domain_share == 0.75);
    assert_int_equal(cfg->matching.evidence_places, 4);
    assert_int_equal(cfg->limits.max_experiences, 3);
    assert_int_equal(cfg->limits.max_depth, 3);
    assert_int_equal(cfg->batch_size, 100000);
    assert_int_equal(cfg->log_level, PX_LOG_DEBUG);
    assert_false(cfg->http_enabled);
    assert_int_equal(cfg->http_port, 0);
    assert_int_equal(cfg->idempotency_window, 5);
    assert_int_equal(cfg->workers, 3);
    assert_int_equal(cfg->inflight_bytes, 4096);
    assert_int_equal(cfg->state_ttl_s, 0);
    assert_int_equal(cfg->erased_ttl_s, 60);
    assert_int_equal(cfg->answers_ttl_s, 120);

    /* explain masks secrets and otherwise reads back to the same configuration. */
    char *text = explain_text(cfg);
    assert_null(strstr(text, "s3cret"));
    assert_null(strstr(text, "hunter2"));
    assert_non_null(strstr(text, "sasl.password = ********"));
    assert_non_null(strstr(text, "password = ********"));
    assert_null(strstr(text, "passerelle.embedded")); /* meaningless with a real cluster */
    char *unmasked = strdup(text);
    for (char *p; (p = strstr(unmasked, "sasl.password = ********"));)
        memcpy(p + 16, "s3cret  ", 8);
    for (char *p; (p = strstr(unmasked, "\npassword = ********"));) memcpy(p + 12, "hunter2 ", 8);
    config *back = load_text(unmasked, &err);
    if (!back) fail_msg("explain output does not load: %s\n%s", err.msg, unmasked);
    char *again = explain_text(back);
    assert_string_equal(again, text);
    free(text);
    free(unmasked);
    free(again);
    config_free(back);
    config_free(cfg);
}

static void test_url_and_embedded(void **state) {
    (void)state;
    px_error err;
    config *cfg =
        load_text("[kafka]\nbootstrap.servers = embedded\npasserelle.embedded.partitions = 16\n"
                  "[redis]\nurl = redis://bob:p%40ss@127.0.0.1:7000/5\nkey_prefix = "
                  "t:\n[rome]\nkey_prefix = idx:\ndir =\n",
                  &err);
    if (!cfg) fail_msg("%s", err.msg);
    assert_true(cfg->kafka_embedded);
    assert_int_equal(cfg->n_kafka, 0);
    assert_int_equal(cfg->embedded_partitions, 16);
    assert_int_equal(cfg->redis.port, 7000);
    assert_int_equal(cfg->redis.db, 5);
    assert_string_equal(cfg->redis.user, "bob");
    assert_string_equal(cfg->redis.password, "p@ss");
    assert_string_equal(cfg->redis.prefix, "t:");
    assert_string_equal(cfg->rome_key_prefix, "idx:");
    assert_null(cfg->rome_dir);
    config_free(cfg);
}

static void test_sentinels(void **state) {
    (void)state;
    px_error err;
    config *cfg = load_text("[redis]\nsentinels = 10.0.0.1,[::1]:26380 , s3:7\nmaster = main\n"
                            "password = pw\ndb = 3\n",
                            &err);
    if (!cfg) fail_msg("%s", err.msg);
    assert_int_equal(cfg->redis.n_sentinels, 3);
    assert_string_equal(cfg->redis.sentinels[0].host, "10.0.0.1");
    assert_int_equal(cfg->redis.sentinels[0].port, 26379);
    assert_string_equal(cfg->redis.sentinels[1].host, "::1");
    assert_int_equal(cfg->redis.sentinels[1].port, 26380);
    assert_string_equal(cfg->redis.master, "main");
    assert_int_equal(cfg->redis.db, 3);
    /* explain shows the sentinels, not the unused server address, and reads back the same */
    char *text = explain_text(cfg);
    assert_non_null(strstr(text, "\nsentinels = 10.0.0.1:26379,[::1]:26380,s3:7\n"));
    assert_null(strstr(text, "\nhost = "));
    assert_null(strstr(text, "\nport = 6379\n")); /* [http] port stays */
    char *unmasked = strdup(text);
    for (char *p; (p = strstr(unmasked, "\npassword = ********"));) memcpy(p + 12, "pw      ", 8);
    config *back = load_text(unmasked, &err);
    if (!back) fail_msg("explain output does not load: %s\n%s", err.msg, unmasked);
    free(unmasked);
    assert_int_equal(back->redis.n_sentinels, 3);
    assert_int_equal(back->redis.sentinels[2].port, 7);
    free(text);
    config_free(back);
    config_free(cfg);
}

typedef struct bad_file {
    const char *text;
    int code;
    const char *place; /* ":LINE: [section] key:" that must follow the path */
    const char *words; /* must appear in the message */
} bad_file;

static void test_bad_files(void **state) {
    (void)state;
    const bad_file cases[] = {
        {"[kafak]\nfoo = 1\n", CONFIG_ERR_KEY, ":2: [kafak] foo:", "unknown section"},
        {"foo = 1\n", CONFIG_ERR_KEY, ":1: [] foo:", "unknown section"},
        {"[redis]\nhots = x\n", CONFIG_ERR_KEY,
         ":2: [redis] hots:", "unknown key (expected one of: url, host, port"},
        {"[limits]\nbatch_size = 10\nbatch_size = 20\n", CONFIG_ERR_KEY,
         ":3: [limits] batch_size:", "given twice"},
        {"[kafka]\nclient.id = a\nclient.id = b\n", CONFIG_ERR_KEY,
         ":3: [kafka] client.id:", "given twice"},
        {"[kafka]\nbootstrap.servers = embedded\nbootstrap.servers = h:1\n", CONFIG_ERR_KEY,
         ":3: [kafka] bootstrap.servers:", "given twice"},
        /* an empty key (inih takes ":" for one) is refused, not passed to librdkafka */
        {"[kafka]\n:\n", CONFIG_ERR_SYNTAX, ":2: [kafka] :", "empty key"},
        {"[matching]\n= 1\n", CONFIG_ERR_SYNTAX, ":2: [matching] :", "empty key"},
        /* [matching] keys too, the open-ended constraint.NAME ones included, even in a
         * second [matching] section (issue 12) */
        {"[matching]\ntop = 5\ntop = 6\n", CONFIG_ERR_KEY, ":3: [matching] top:", "given twice"},
        {"[matching]\nconstraint.a = 23374\n[log]\n[matching]\nconstraint.a = 23374\n",
         CONFIG_ERR_KEY, ":5: [matching] constraint.a:", "given twice"},
        {"[kafka]\ngroup.id = x\n", CONFIG_ERR_KEY, ":2: [kafka] group.id:", "[topics] group"},
        {"[kafka]\npasserelle.embeded.brokers = 2\n", CONFIG_ERR_KEY,
         ":2: [kafka] passerelle.embeded.brokers:", "unknown passerelle key"},
        {"\n\n[limits]\nbatch_size = 12x\n", CONFIG_ERR_VALUE,
         ":4: [limits] batch_size:", "expected an integer in [1, 100000], got \"12x\""},
        {"[limits]\nmax_experiences = 33\n", CONFIG_ERR_VALUE,
         ":2: [limits] max_experiences:", "[1, 32]"},
        {"[limits]\nmax_depth = 2\n", CONFIG_ERR_VALUE, ":2: [limits] max_depth:", "[3, 32]"},
        {"[limits]\nbatch_size = \n", CONFIG_ERR_VALUE,
         ":2: [limits] batch_size:", "expected an integer"},
        {"[redis]\nport = -1\n", CONFIG_ERR_VALUE, ":2: [redis] port:", "[1, 65535]"},
        {"[daemon]\nworkers = 257\n", CONFIG_ERR_VALUE, ":2: [daemon] workers:", "[0, 256]"},
        {"[daemon]\ninflight_bytes = 0\n", CONFIG_ERR_VALUE,
         ":2: [daemon] inflight_bytes:", "[1, 1099511627776]"},
        {"[redis]\nstate_ttl_s = 99999999999999999999\n", CONFIG_ERR_VALUE,
         ":2: [redis] state_ttl_s:", "expected an integer"},
        {"[redis]\nerased_ttl_s = 0\n", CONFIG_ERR_VALUE,
         ":2: [redis] erased_ttl_s:", "expected an integer"},
        {"[redis]\nanswers_ttl_s = 0\n", CONFIG_ERR_VALUE,
         ":2: [redis] answers_ttl_s:", "expected an integer"},
        {"[http]\nenabled = maybe\n", CONFIG_ERR_VALUE,
         ":2: [http] enabled:", "expected true/false"},
        {"[log]\nlevel = loud\n", CONFIG_ERR_VALUE, ":2: [log] level:", "loud"},
        {"[matching]\nweight.principale = 2\n", CONFIG_ERR_VALUE,
         ":2: [matching] weight.principale:", "expected a number"},
        {"[matching]\nweight.nope = 1\n", CONFIG_ERR_VALUE,
         ":2: [matching] weight.nope:", "unknown matching key"},
        /* removed with the rebuilt score (related, R, replaces it): an old file says so */
        {"[matching]\nmacro_credit = 0.5\n", CONFIG_ERR_VALUE,
         ":2: [matching] macro_credit:", "unknown matching key"},
        {"[matching]\nconstraint_domain_share = 0\n", CONFIG_ERR_VALUE,
         ":2: [matching] constraint_domain_share:", ""},
        {"[redis]\nurl = redis://h:1/0\nhost = h\n", CONFIG_ERR_VALUE,
         ": [redis] url and host:", "either a url or its parts"},
        {"[redis]\nurl = http://h\n", CONFIG_ERR_VALUE, ":2: [redis] url:", ""},
        /* sentinels and master: both or neither, instead of the keys naming the server */
        {"[redis]\nsentinels = 10.0.0.1:26379\n", CONFIG_ERR_VALUE,
         ":2: [redis] sentinels:", "needs master"},
        {"[redis]\ndb = 1\nmaster = m\n", CONFIG_ERR_VALUE,
         ":3: [redis] master:", "needs sentinels"},
        {"[redis]\nhost = h\nsentinels = a:1\nmaster = m\n", CONFIG_ERR_VALUE,
         ":2: [redis] host:", "sentinels (line 3) name the server"},
        {"[redis]\nsentinels = a:1\nmaster = m\nurl = redis://h:1/0\n", CONFIG_ERR_VALUE,
         ":4: [redis] url:", "either sentinels or url"},
        {"[redis]\nsentinels = a:1,,b\n", CONFIG_ERR_VALUE, ":2: [redis] sentinels:", "no host"},
        {"[redis]\nsentinels = a:0\n", CONFIG_ERR_VALUE,
         ":2: [redis] sentinels:", "port '0' is out of range"},
        {"[redis]\nsentinels = a,b,c,d,e,f,g,h,i\n", CONFIG_ERR_VALUE,
         ":2: [redis] sentinels:", "more than 8"},
        {"[redis]\nbackoff_initial_ms = 500\nbackoff_max_ms = 100\n", CONFIG_ERR_VALUE,
         ": [redis] backoff_max_ms (100)", "at least"},
        {"[topics]\nprofile = bad topic!\n", CONFIG_ERR_VALUE, ": [topics] profile:", ""},
        {"[topics]\nskills = passerelle.profile.v1\n", CONFIG_ERR_VALUE,
         ": [topics] profile and skills", "same topic"},
        {"[topics]\ngroup =\n", CONFIG_ERR_VALUE, ":2: [topics] group:", "expected 1 to 255 bytes"},
        {"[kafka]\nbootstrap.servers = h:9092\npasserelle.embedded.partitions = 3\n",
         CONFIG_ERR_VALUE, ": [kafka] passerelle.embedded.partitions:",
         "only meaningful with bootstrap.servers = embedded"},
        {"[kafka]\nbootstrap.servers = embedded\nthis line is not ini\n", CONFIG_ERR_SYNTAX,
         ":3:", "not a [section]"},
        /* the place names the key: the message does not say it again */
        {"[matching]\ndomain_boost = x\n", CONFIG_ERR_VALUE,
         ":2: [matching] domain_boost: expected a number in [0, 100], got \"x\"", ""},
        {"[matching]\nconstraint.x = 1,,2\n", CONFIG_ERR_VALUE,
         ":2: [matching] constraint.x: expected comma-separated codes", ""},
        /* bytes that are not text are refused, and quoted escaped */
        {"[kafka]\ncl\xffient.id = 1\n", CONFIG_ERR_SYNTAX,
         ":2: [kafka] cl\\xffient.id:", "not text"},
        {"[k\x1b[31mafka]\nx = 1\n", CONFIG_ERR_SYNTAX, ":2: [k\\x1b[31mafka] x:", "not text"},
        {"[kafka]\nclient.id = a\x01"
         "b\n",
         CONFIG_ERR_VALUE, ":2: [kafka] client.id:", "value is not text"},
        {"[kafka]\nclient.id = a\xc2\x9b\n", CONFIG_ERR_VALUE,
         ":2: [kafka] client.id:", "not text"},
        {"[log]\nlevel = d\xc3\xa9"
         "bug\n",
         CONFIG_ERR_VALUE, ":2: [log] level:", "débug"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *path = write_temp(cases[i].text);
        config *cfg = NULL;
        px_error err;
        px_error_clear(&err);
        int rc = config_load(path, &cfg, &err);
        char place[256];
        snprintf(place, sizeof place, "%s%s", path, cases[i].place);
        if (rc != -1 || cfg || err.reason != (int)cases[i].code ||
            strncmp(err.msg, place, strlen(place)) || !strstr(err.msg, cases[i].words))
            fail_msg("case %zu: rc %d code %d \"%s\"; expected code %d starting \"%s\" with \"%s\"",
                     i, rc, err.reason, err.msg, cases[i].code, place, cases[i].words);
        unlink(path);
        free(path);
    }
}

/* A binary file given as configuration: refused, and the message is short printable text. */
static void test_binary_file(void **state) {
    (void)state;
    char text[2048];
    uint32_t x = 12345;
    size_t n = (size_t)snprintf(text, sizeof text, "[\x1b]0;\x07\xff]\n\x01\x9b\xc2\x9b = ");
    for (; n < sizeof text - 1; n++) {
        x = x * 1103515245u + 12345u;
        text[n] = (char)((x >> 16) % 255 + 1); /* no NUL, which would end the C string early */
    }
    text[n] = '\0';
    px_error err;
    assert_null(load_text(text, &err));
    assert_int_equal(err.reason, CONFIG_ERR_SYNTAX);
    assert_true(utf8_valid(err.msg, strlen(err.msg), NULL));
    for (const unsigned char *p = (const unsigned char *)err.msg; *p; p++)
        if (*p < 0x20 || *p == 0x7f || (p[0] == 0xc2 && p[1] < 0xa0))
            fail_msg("control byte 0x%02x in \"%s\"", *p, err.msg);
    if (!strstr(err.msg, ":2: [\\x1b] \\x01\\x9b\\xc2\\x9b: not text")) fail_msg("\"%s\"", err.msg);
}

static void test_long_line_and_missing_file(void **state) {
    (void)state;
    char text[512];
    int n = snprintf(text, sizeof text, "[kafka]\nclient.id = ");
    memset(text + n, 'x', 300);
    strcpy(text + n + 300, "\n");
    px_error err;
    assert_null(load_text(text, &err));
    assert_int_equal(err.code, PX_ECONFIG);
    assert_int_equal(err.reason, CONFIG_ERR_SYNTAX);
    assert_non_null(strstr(err.msg, ":2: line longer than"));

    config *cfg = NULL;
    assert_int_equal(config_load("/nonexistent/passerelled.conf", &cfg, &err), -1);
    assert_int_equal(err.code, PX_EIO);
    assert_int_equal(err.reason, CONFIG_ERR_IO);
    assert_non_null(strstr(err.msg, "/nonexistent/passerelled.conf: cannot open"));
}

/* Messages quote what they refuse, cut to a few bytes or to the message's size: the cut never
 * falls inside a character (issue 12's fuzz_config finding: a url quoted as '%.64s' ended with
 * half a "§"). */
static void test_messages_are_text(void **state) {
    (void)state;
    char text[256], url[128];
    memset(url, 'x', sizeof url);
    memcpy(url, "redis:", 6);
    memcpy(url + 63, "\xc2\xa7 and more", 12); /* bytes 63-64 are one character */
    url[75] = '\0';
    snprintf(text, sizeof text, "[redis]\nurl = %s\n", url);
    px_error err;
    assert_null(load_text(text, &err));
    assert_true(utf8_valid(err.msg, strlen(err.msg), NULL));
    if (!strstr(err.msg, "xxx' has an unknown scheme")) fail_msg("\"%s\"", err.msg);

    char topic[KAFKA_TOPIC_NAME_MAX + 8];
    memset(topic, 'a', sizeof topic);
    memcpy(topic + 39, "\xe2\x82\xac", 3); /* "€" at bytes 39-41: the quote stops before */
    topic[sizeof topic - 1] = '\0';
    assert_int_equal(kafka_topic_name_check(topic, &err), -1);
    assert_true(utf8_valid(err.msg, strlen(err.msg), NULL));
    assert_non_null(strstr(err.msg, "aa…' is 256 bytes"));

    char quoted[PX_ERROR_MSG_MAX];
    memset(quoted, 'q', sizeof quoted);
    memcpy(quoted + PX_ERROR_MSG_MAX - 12, "\xe2\x82\xac", 3); /* "€" across the last byte */
    quoted[PX_ERROR_MSG_MAX - 1] = '\0';
    px_error_set(&err, PX_EINVAL, "prefix: '%s'", quoted);
    assert_true(utf8_valid(err.msg, strlen(err.msg), NULL));
    assert_int_equal(strlen(err.msg), PX_ERROR_MSG_MAX - 3); /* "prefix: '" and 500 q's */
}

/* Loads only [matching] from text into *m; returns config_load_matching's result. */
static int load_matching_text(const char *text, matcher_config *m, px_error *err) {
    char *path = write_temp(text);
    int rc = config_load_matching(path, m, err);
    unlink(path);
    free(path);
    return rc;
}

/* `passerelle match --config`: [matching] applies, the other sections (even unknown ones, or
 * keys config_load would refuse) are passed over; errors name file:line like config_load's. */
static void test_load_matching(void **state) {
    (void)state;
    px_error err;
    matcher_config m = matcher_config_default();
    static const char ok[] = "[other]\nx = 1\n[kafka]\ngroup.id = g\n"
                             "[matching]\ntop = 2\nconstraint.no_weekend = 23374\n";
    assert_int_equal(load_matching_text(ok, &m, &err), 0);
    assert_int_equal(m.top, 2);
    assert_non_null(matcher_config_constraint(&m, "no_weekend"));
    assert_int_equal(load_matching_text("[matching]\ntop = 3\nweight.other = 3\n", &m, &err), -1);
    assert_int_equal(err.code, PX_ECONFIG);
    assert_int_equal(err.reason, CONFIG_ERR_VALUE);
    assert_non_null(strstr(err.msg, ":3: [matching] weight.other: "));
    assert_int_equal(m.top, 2); /* untouched on failure */
    assert_int_equal(load_matching_text("[matching]\ntop = 2\ntop = 3\n", &m, &err), -1);
    assert_int_equal(err.reason, CONFIG_ERR_KEY);
    assert_non_null(strstr(err.msg, ":3: [matching] top: given twice"));
    assert_int_equal(
        load_matching_text("[matching]\nconstraint.a = 1\nconstraint.a.items = 2\n", &m, &err),
        0); /* a constraint's codes and its items are two keys */
    assert_int_equal(load_matching_text("[matching]\ntop 2\n", &m, &err), -1);
    assert_int_equal(err.reason, CONFIG_ERR_SYNTAX);
    assert_non_null(strstr(err.msg, ":2: not a [section]"));
    assert_int_equal(config_load_matching("/nonexistent/match.ini", &m, &err), -1);
    assert_int_equal(err.reason, CONFIG_ERR_IO);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_example_file),
        cmocka_unit_test(test_custom_values),
        cmocka_unit_test(test_url_and_embedded),
        cmocka_unit_test(test_sentinels),
        cmocka_unit_test(test_bad_files),
        cmocka_unit_test(test_long_line_and_missing_file),
        cmocka_unit_test(test_load_matching),
        cmocka_unit_test(test_binary_file),
        cmocka_unit_test(test_messages_are_text),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
