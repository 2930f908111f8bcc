/* passerelle send | tail | replay against the embedded broker (librdkafka's mock cluster on
 * loopback). The CLI binary is argv[1]. Every command runs under `timeout`, every wait is
 * bounded. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <cmocka.h>
#include <librdkafka/rdkafka.h>
#include <msgpack.h>

#include "dlq_record.h"
#include "event_codec.h"
#include "kafka_embedded.h"

static const char *cli; /* path of the passerelle binary */

/* The mock cluster lets a new member of a group in only once the previous one's session expired,
 * even after a clean leave: keep sessions short where one group is joined twice. */
#define SHORT_SESSION "-X session.timeout.ms=6000 -X heartbeat.interval.ms=500"

typedef struct run_result {
    int status;
    char *out; /* stdout */
} run_result;

/* Runs `timeout 60 CLI ARGS` (args already shell-safe), capturing stdout; stderr goes to ours. */
static run_result run_cli(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static run_result run_cli(const char *fmt, ...) {
    char args[2048], cmd[4096];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(args, sizeof args, fmt, ap);
    va_end(ap);
    snprintf(cmd, sizeof cmd, "timeout 60 '%s' %s", cli, args);
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    run_result r = {0, NULL};
    size_t len = 0, cap = 0;
    char chunk[4096];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, p)) > 0) {
        if (len + n + 1 > cap) {
            cap = (len + n + 1) * 2;
            r.out = realloc(r.out, cap);
        }
        memcpy(r.out + len, chunk, n);
        len += n;
    }
    if (!r.out) r.out = calloc(1, 1);
    r.out[len] = '\0';
    int st = pclose(p);
    r.status = WIFEXITED(st) ? WEXITSTATUS(st) : 128;
    return r;
}

static size_t count_commas(const char *s) {
    size_t n = 0;
    for (; *s; s++) n += *s == ',';
    return n;
}

static size_t count_lines(const char *s) {
    size_t n = 0;
    for (; *s; s++) n += *s == '\n';
    return n;
}

static char *write_temp(const char *content) {
    char *path = strdup("/tmp/passerelle-kafka-cli-XXXXXX");
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, content, strlen(content)), (ssize_t)strlen(content));
    close(fd);
    return path;
}

static kafka_embedded *start_broker(void) {
    static const char *const topics[] = {"in.v1", "dlq.v1", "replayed.v1", "tomb.v1"};
    px_error err = {0};
    kafka_embedded *kb = kafka_embedded_start(1, topics, 4, 3, 1, &err);
    if (!kb) fail_msg("%s", err.msg);
    return kb;
}

static void produce_raw(const char *brokers, const char *topic, const char *key, const void *value,
                        size_t len) {
    char errstr[256];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    assert_int_equal(rd_kafka_conf_set(conf, "bootstrap.servers", brokers, errstr, sizeof errstr),
                     RD_KAFKA_CONF_OK);
    rd_kafka_t *p = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof errstr);
    assert_non_null(p);
    assert_int_equal(rd_kafka_producev(p, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_KEY(key, strlen(key)),
                                       RD_KAFKA_V_VALUE((void *)value, len),
                                       RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END),
                     0);
    assert_int_equal(rd_kafka_flush(p, 10000), 0);
    rd_kafka_destroy(p);
}

static const char events[] =
    "{\"v\":1,\"type\":\"profile.upserted\",\"event_id\":\"e1\",\"user_id\":\"alice\",\"ts\":"
    "1700000000000,"
    "\"experiences\":[{\"appellation\":11573,\"months\":24}],\"avoid\":[\"no_weekend\"]}\n"
    "\n"
    "{\"v\":1,\"type\":\"skills.confirmed\",\"event_id\":\"e2\",\"user_id\":\"alice\",\"ts\":"
    "1700000000001,"
    "\"confirmed\":[100011,100012],\"rejected\":[],\"added\":[]}\n"
    "{\"v\":1,\"type\":\"profile.erased\",\"event_id\":\"e3\",\"user_id\":\"bob\",\"ts\":"
    "1700000000002}\n"
    "{\"v\":1,\"type\":\"profile.upserted\",\"event_id\":\"e4\",\"user_id\":\"chloé\",\"ts\":"
    "1700000000003,"
    "\"experiences\":[{\"title\":\"aide-soignante\",\"extra\":true}],\"domains\":[\"J\"]}\n";

/* send → tail: every event comes back as the same JSON object (msgpack round trip, one key
 * each). */
static void test_send_tail_round_trip(void **state) {
    (void)state;
    kafka_embedded *kb = start_broker();
    const char *b = kafka_embedded_bootstraps(kb);
    char *file = write_temp(events);
    run_result r = run_cli("send --brokers %s --topic in.v1 %s", b, file);
    assert_int_equal(r.status, 0);
    free(r.out);
    r = run_cli("tail --brokers %s --topic in.v1 --from-beginning --count 4 --timeout-ms 10000", b);
    assert_int_equal(r.status, 0);
    assert_int_equal(count_lines(r.out), 4);
    /* Partitions interleave: match each sent line to a printed one by event_id, compare trees. */
    char *saveptr = NULL, *copy = strdup(events);
    int matched = 0;
    for (char *line = strtok_r(copy, "\n", &saveptr); line; line = strtok_r(NULL, "\n", &saveptr)) {
        cJSON *sent = cJSON_Parse(line);
        assert_non_null(sent);
        const char *id = cJSON_GetObjectItem(sent, "event_id")->valuestring;
        char *save2 = NULL, *out = strdup(r.out);
        for (char *got = strtok_r(out, "\n", &save2); got; got = strtok_r(NULL, "\n", &save2)) {
            cJSON *g = cJSON_Parse(got);
            assert_non_null(g);
            if (!strcmp(cJSON_GetObjectItem(g, "event_id")->valuestring, id)) {
                assert_true(cJSON_Compare(sent, g, 1));
                matched++;
            }
            cJSON_Delete(g);
        }
        free(out);
        cJSON_Delete(sent);
    }
    assert_int_equal(matched, 4);
    free(copy);
    free(r.out);
    /* Without --from-beginning tail starts at the end: nothing within its timeout, exit 1 for
     * --count. */
    r = run_cli("tail --brokers %s --topic in.v1 --count 1 --timeout-ms 1500", b);
    assert_int_equal(r.status, 1);
    assert_int_equal(count_lines(r.out), 0);
    free(r.out);
    unlink(file);
    free(file);
    kafka_embedded_stop(kb);
}

/* Bad lines are reported and skipped, good ones still sent; usage errors exit 2. */
static void test_send_refuses_bad_lines(void **state) {
    (void)state;
    kafka_embedded *kb = start_broker();
    const char *b = kafka_embedded_bootstraps(kb);
    char *file = write_temp("{\"user_id\":\"u1\",\"type\":\"x\"}\n"
                            "not json\n"
                            "{\"type\":\"no user\"}\n"
                            "[1,2]\n"
                            "{\"user_id\":42}\n"
                            "{\"user_id\":\"u3\",\"type\":\"y\"}\n");
    run_result r = run_cli("send --brokers %s --topic in.v1 %s 2>/dev/null", b, file);
    assert_int_equal(r.status, 1);
    free(r.out);
    r = run_cli("tail --brokers %s --topic in.v1 --from-beginning --timeout-ms 2000", b);
    assert_int_equal(r.status, 0);
    assert_int_equal(count_lines(r.out), 2);
    assert_non_null(strstr(r.out, "\"u1\""));
    assert_non_null(strstr(r.out, "\"u3\""));
    free(r.out);
    /* A message over message.max.bytes is refused by librdkafka: reported, the next line still
     * sent. */
    char big[3000];
    snprintf(big, sizeof big,
             "{\"user_id\":\"big\",\"pad\":\"%02000d\"}\n{\"user_id\":\"small\"}\n", 0);
    char *big_file = write_temp(big);
    r = run_cli("send --brokers %s --topic tomb.v1 -X message.max.bytes=1000 %s 2>/dev/null", b,
                big_file);
    assert_int_equal(r.status, 1);
    free(r.out);
    r = run_cli("tail --brokers %s --topic tomb.v1 --from-beginning --timeout-ms 2000", b);
    assert_int_equal(count_lines(r.out), 1);
    assert_non_null(strstr(r.out, "\"small\""));
    free(r.out);
    unlink(big_file);
    free(big_file);
    r = run_cli("send --topic in.v1 %s 2>/dev/null", file); /* no --brokers */
    assert_int_equal(r.status, 2);
    free(r.out);
    r = run_cli("tail --brokers %s --topic in.v1 --count -3 2>/dev/null", b);
    assert_int_equal(r.status, 2);
    free(r.out);
    r = run_cli("send --brokers %s --topic in.v1 -X no.such.property=1 %s 2>/dev/null", b, file);
    assert_int_equal(r.status, 2);
    free(r.out);
    unlink(file);
    free(file);
    kafka_embedded_stop(kb);
}

/* send --strict: a line the daemon's decoder would refuse, or with an unknown key, is reported
 * (reason, key, nearest known key) and not sent; without --strict every line is sent. */
static void test_send_strict(void **state) {
    (void)state;
    kafka_embedded *kb = start_broker();
    const char *b = kafka_embedded_bootstraps(kb);
    char *file = write_temp(
        "{\"v\":1,\"type\":\"profile.upserted\",\"event_id\":\"s1\",\"user_id\":\"ann\",\"ts\":1,"
        "\"experiences\":[{\"appellation\":11573}],\"avoids\":[\"no_weekend\"]}\n"
        "{\"v\":1,\"type\":\"profile.upserted\",\"event_id\":\"s2\",\"user_id\":\"ann\",\"ts\":2,"
        "\"experiences\":[{\"appellation\":11573,\"titel\":\"x\"}]}\n"
        "{\"v\":1,\"type\":\"profile.upserted\",\"event_id\":\"s3\",\"user_id\":\"ann\",\"ts\":3,"
        "\"experiences\":[{\"appellation\":\"11573\"}]}\n"
        "{\"v\":1,\"type\":\"profile.upserted\",\"event_id\":\"s4\",\"user_id\":\"ann\",\"ts\":4,"
        "\"experiences\":[{\"appellation\":11573}],\"avoid\":[\"no_weekend\"]}\n");
    run_result r = run_cli("send --brokers %s --topic in.v1 --strict %s 2>&1 >/dev/null", b, file);
    assert_int_equal(r.status, 1);
    assert_non_null(
        strstr(r.out, "line 1: unknown_field: avoids: unknown key; did you mean \"avoid\"?"));
    assert_non_null(strstr(r.out, "line 2: unknown_field: experiences[0].titel: unknown key; "
                                  "did you mean \"title\"?"));
    assert_non_null(strstr(r.out, "line 3: wrong_type: experiences[0].appellation"));
    assert_non_null(strstr(r.out, "1 sent to in.v1"));
    free(r.out);
    r = run_cli("tail --brokers %s --topic in.v1 --from-beginning --timeout-ms 2000", b);
    assert_int_equal(count_lines(r.out), 1);
    assert_non_null(strstr(r.out, "\"s4\""));
    free(r.out);
    r = run_cli("send --brokers %s --topic tomb.v1 %s", b, file);
    assert_int_equal(r.status, 0);
    free(r.out);
    r = run_cli("tail --brokers %s --topic tomb.v1 --from-beginning --timeout-ms 2000", b);
    assert_int_equal(count_lines(r.out), 4);
    free(r.out);
    r = run_cli("tail --brokers %s --topic in.v1 --strict --timeout-ms 100 2>/dev/null", b);
    assert_int_equal(r.status, 2); /* a send option only */
    free(r.out);
    unlink(file);
    free(file);
    kafka_embedded_stop(kb);
}

static void test_tail_tombstone(void **state) {
    (void)state;
    kafka_embedded *kb = start_broker();
    const char *b = kafka_embedded_bootstraps(kb);
    produce_raw(b, "tomb.v1", "erased-user", NULL, 0);
    produce_raw(b, "tomb.v1", "raw-user", "\xc1", 1); /* 0xc1 is never valid msgpack */
    run_result r = run_cli(
        "tail --brokers %s --topic tomb.v1 --from-beginning --count 2 --timeout-ms 10000", b);
    assert_int_equal(r.status, 0);
    assert_non_null(strstr(r.out, "{\"key\":\"erased-user\",\"tombstone\":true}\n"));
    assert_non_null(strstr(r.out, "\"key\":\"raw-user\""));
    assert_non_null(strstr(r.out, "\"error\""));
    free(r.out);
    kafka_embedded_stop(kb);
}

/* Counts the lines of s that contain `needle`. */
static size_t count_matches(const char *s, const char *needle) {
    size_t n = 0;
    for (const char *p = s; (p = strstr(p, needle)); p += strlen(needle)) n++;
    return n;
}

/* A DLQ record as the daemon writes it (event_codec's encoder), around `original`, into sb. */
static void encode_dlq(msgpack_sbuffer *sb, const char *key, const char *original,
                       size_t original_len, int reason, int64_t offset) {
    dlq_record rec = {.value = original,
                      .value_len = original_len,
                      .key = key,
                      .key_len = strlen(key),
                      .topic = "in.v1",
                      .partition = 0,
                      .offset = offset,
                      .reason = reason,
                      .message = "test record",
                      .ts = 1700000000000};
    msgpack_sbuffer_init(sb);
    px_error err = {0};
    assert_int_equal(dlq_record_encode(&rec, sb, &err), 0);
}

static void produce_dlq(const char *brokers, const char *key, const char *original,
                        size_t original_len, int reason, int64_t offset) {
    msgpack_sbuffer sb;
    encode_dlq(&sb, key, original, original_len, reason, offset);
    produce_raw(brokers, "dlq.v1", key, sb.data, sb.size);
    msgpack_sbuffer_destroy(&sb);
}

/* Dead letters that fail again: each record's original is itself a dead letter, and replaying to
 * the DLQ writes it there again, as passerelled would, with the replay header one higher. replay
 * reads up to the ends it saw at start and stops (exactly 3 replays, long before its idle
 * timeout); the next run of the group refuses the copies over --max-replays; --count bounds a
 * run. */
static void test_replay_ends(void **state) {
    (void)state;
    kafka_embedded *kb = start_broker();
    const char *b = kafka_embedded_bootstraps(kb);
    for (int i = 0; i < 3; i++) {
        char key[8];
        snprintf(key, sizeof key, "f%d", i);
        msgpack_sbuffer inner;
        encode_dlq(&inner, key, "\x80", 1, EVENT_ERR_WRONG_TOPIC, i);
        produce_dlq(b, key, inner.data, inner.size, EVENT_ERR_UNKNOWN_CODE, 20 + i);
        msgpack_sbuffer_destroy(&inner);
    }
    run_result r = run_cli("replay --brokers %s --dlq dlq.v1 --to dlq.v1 --timeout-ms 50000 "
                           "--group g3 %s 2>&1",
                           b, SHORT_SESSION);
    assert_int_equal(r.status, 0);
    assert_int_equal(count_matches(r.out, "{\"replayed\""), 3);
    assert_int_equal(count_matches(r.out, "\"replay\":1}"), 3);
    assert_non_null(
        strstr(r.out, "3 replayed from dlq.v1 (unknown_code 3), 0 skipped, 0 unreadable"));
    free(r.out);
    r = run_cli("tail --brokers %s --topic dlq.v1 --from-beginning --timeout-ms 2000", b);
    assert_int_equal(count_lines(r.out), 6);
    free(r.out);
    /* The same group goes on with the three copies, replayed once already. */
    r = run_cli("replay --brokers %s --dlq dlq.v1 --to dlq.v1 --max-replays 1 --timeout-ms 50000 "
                "--group g3 %s 2>&1",
                b, SHORT_SESSION);
    assert_int_equal(r.status, 0);
    assert_int_equal(count_matches(r.out, "{\"replayed\""), 0);
    assert_non_null(
        strstr(r.out, "0 replayed from dlq.v1, 3 skipped (max_replays 3), 0 unreadable"));
    free(r.out);
    /* A new group sees all six; --count 4 stops it after four. The copies go with count 2. */
    r = run_cli("replay --brokers %s --dlq dlq.v1 --to replayed.v1 --count 4 --timeout-ms 50000 "
                "--group g4",
                b);
    assert_int_equal(r.status, 0);
    assert_int_equal(count_lines(r.out), 4);
    free(r.out);
    r = run_cli("replay --brokers %s --max-replays x 2>/dev/null", b);
    assert_int_equal(r.status, 2);
    free(r.out);
    kafka_embedded_stop(kb);
}

static void test_replay(void **state) {
    (void)state;
    kafka_embedded *kb = start_broker();
    const char *b = kafka_embedded_bootstraps(kb);
    /* Originals: msgpack {"user_id": "uN"} (fixstr keys). */
    char orig[3][32];
    size_t orig_len[3];
    for (int i = 0; i < 3; i++) {
        msgpack_sbuffer sb;
        msgpack_sbuffer_init(&sb);
        msgpack_packer pk;
        msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
        msgpack_pack_map(&pk, 1);
        msgpack_pack_str_with_body(&pk, "user_id", 7);
        char uid[8];
        snprintf(uid, sizeof uid, "u%d", i);
        msgpack_pack_str_with_body(&pk, uid, strlen(uid));
        memcpy(orig[i], sb.data, sb.size);
        orig_len[i] = sb.size;
        msgpack_sbuffer_destroy(&sb);
    }
    produce_dlq(b, "u0", orig[0], orig_len[0], EVENT_ERR_UNKNOWN_CODE, 10);
    produce_dlq(b, "u1", orig[1], orig_len[1], EVENT_ERR_WRONG_TYPE, 11);
    produce_dlq(b, "u2", orig[2], orig_len[2], EVENT_ERR_UNKNOWN_CODE, 12);

    /* tail shows the DLQ record with its original decoded. */
    run_result r = run_cli(
        "tail --brokers %s --topic dlq.v1 --from-beginning --count 3 --timeout-ms 10000", b);
    assert_int_equal(r.status, 0);
    assert_non_null(strstr(r.out, "\"original\":{\"user_id\":\"u1\"}"));
    assert_non_null(strstr(r.out, "\"reason\":\"wrong_type\""));
    free(r.out);

    /* Only unknown_code records, to replayed.v1. */
    r = run_cli("replay --brokers %s --dlq dlq.v1 --to replayed.v1 --reason unknown_code "
                "--timeout-ms 2000 --group g1 %s",
                b, SHORT_SESSION);
    assert_int_equal(r.status, 0);
    assert_int_equal(count_lines(r.out), 2);
    assert_non_null(strstr(r.out, "\"source_offset\":10"));
    assert_non_null(strstr(r.out, "\"source_offset\":12"));
    free(r.out);
    r = run_cli("tail --brokers %s --topic replayed.v1 --from-beginning --timeout-ms 2000", b);
    assert_int_equal(count_lines(r.out), 2);
    assert_non_null(strstr(r.out, "{\"user_id\":\"u0\"}"));
    assert_non_null(strstr(r.out, "{\"user_id\":\"u2\"}"));
    assert_null(strstr(r.out, "u1"));
    free(r.out);
    /* Same group again: progress was committed, nothing more. */
    r = run_cli("replay --brokers %s --dlq dlq.v1 --to replayed.v1 --timeout-ms 2000 --group g1 %s",
                b, SHORT_SESSION);
    assert_int_equal(r.status, 0);
    assert_int_equal(count_lines(r.out), 0);
    free(r.out);
    /* Another group, no --to: all three go back to their source topic, original bytes and key. */
    r = run_cli("replay --brokers %s --dlq dlq.v1 --count 3 --timeout-ms 5000 --group g2", b);
    assert_int_equal(r.status, 0);
    assert_int_equal(count_lines(r.out), 3);
    free(r.out);
    r = run_cli("tail --brokers %s --topic in.v1 --from-beginning --count 3 --timeout-ms 5000", b);
    assert_int_equal(r.status, 0);
    for (int i = 0; i < 3; i++) {
        char want[32];
        snprintf(want, sizeof want, "{\"user_id\":\"u%d\"}", i);
        assert_non_null(strstr(r.out, want));
    }
    free(r.out);
    kafka_embedded_stop(kb);
}

static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque) {
    (void)rk, (void)opaque;
    *(rd_kafka_resp_err_t *)m->_private = m->err;
}

/* Produces one message (no retries) and returns its delivery error (0: delivered). */
static rd_kafka_resp_err_t produce_one(const char *brokers, const char *topic) {
    char errstr[256];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    const char *props[][2] = {{"bootstrap.servers", brokers},
                              {"message.timeout.ms", "5000"},
                              {"enable.idempotence", "false"},
                              {"retries", "0"}};
    for (size_t i = 0; i < sizeof props / sizeof props[0]; i++)
        assert_int_equal(rd_kafka_conf_set(conf, props[i][0], props[i][1], errstr, sizeof errstr),
                         RD_KAFKA_CONF_OK);
    rd_kafka_conf_set_dr_msg_cb(conf, on_delivery);
    rd_kafka_t *p = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof errstr);
    assert_non_null(p);
    rd_kafka_resp_err_t delivered = RD_KAFKA_RESP_ERR__IN_PROGRESS;
    assert_int_equal(rd_kafka_producev(p, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_VALUE("x", 1),
                                       RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                                       RD_KAFKA_V_OPAQUE(&delivered), RD_KAFKA_V_END),
                     0);
    rd_kafka_flush(p, 10000);
    rd_kafka_destroy(p);
    return delivered;
}

/* passerelle broker as a child: its first line is the bootstrap list, then one answer a fault. */
typedef struct broker_child {
    pid_t pid;
    FILE *in, *out;
    char bootstraps[600];
} broker_child;

static void broker_spawn(broker_child *b, const char *args) {
    int to_child[2], from_child[2];
    assert_int_equal(pipe(to_child), 0);
    assert_int_equal(pipe(from_child), 0);
    b->pid = fork();
    assert_true(b->pid >= 0);
    if (b->pid == 0) {
        dup2(to_child[0], 0);
        dup2(from_child[1], 1);
        close(to_child[1]), close(from_child[0]);
        char cmd[1024];
        snprintf(cmd, sizeof cmd, "exec timeout 120 '%s' broker %s", cli, args);
        execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
        _exit(127);
    }
    close(to_child[0]), close(from_child[1]);
    b->in = fdopen(to_child[1], "w");
    b->out = fdopen(from_child[0], "r");
    char line[600] = "";
    assert_non_null(fgets(line, sizeof line, b->out));
    assert_int_equal(strncmp(line, "bootstrap.servers=", 18), 0);
    line[strcspn(line, "\n")] = '\0';
    snprintf(b->bootstraps, sizeof b->bootstraps, "%s", line + 18);
}

/* Sends one fault line and returns the answer line (static buffer). */
static const char *broker_ask(broker_child *b, const char *fault) {
    static char answer[600];
    fprintf(b->in, "%s\n", fault);
    fflush(b->in);
    assert_non_null(fgets(answer, sizeof answer, b->out));
    answer[strcspn(answer, "\n")] = '\0';
    return answer;
}

static int broker_end(broker_child *b) {
    fclose(b->in); /* end of input stops it */
    fclose(b->out);
    int st;
    assert_int_equal(waitpid(b->pid, &st, 0), b->pid);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128;
}

/* The standalone broker: clients reach it, the faults it is told take effect, bad fault lines get
 * an error naming the word, and it ends at the end of its input. */
static void test_broker(void **state) {
    (void)state;
    broker_child b;
    broker_spawn(&b, "--brokers 3 --partitions 2 in.v1 out.v1");
    assert_int_equal(count_commas(b.bootstraps), 2);
    assert_int_equal(produce_one(b.bootstraps, "in.v1"), RD_KAFKA_RESP_ERR_NO_ERROR);
    /* a non-retriable error pushed on Produce fails the next message with it */
    assert_string_equal(broker_ask(&b, "errors Produce 1 MSG_SIZE_TOO_LARGE"), "ok");
    assert_int_equal(produce_one(b.bootstraps, "in.v1"), RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE);
    assert_int_equal(produce_one(b.bootstraps, "in.v1"), RD_KAFKA_RESP_ERR_NO_ERROR);
    /* every broker down: nothing is delivered until they are up again */
    assert_string_equal(broker_ask(&b, "down all"), "ok");
    assert_int_not_equal(produce_one(b.bootstraps, "in.v1"), RD_KAFKA_RESP_ERR_NO_ERROR);
    assert_string_equal(broker_ask(&b, "up all"), "ok");
    assert_int_equal(produce_one(b.bootstraps, "in.v1"), RD_KAFKA_RESP_ERR_NO_ERROR);
    assert_string_equal(broker_ask(&b, "rtt 2 10"), "ok");
    assert_string_equal(broker_ask(&b, "leader out.v1 1 3"), "ok");
    assert_string_equal(broker_ask(&b, "errors Fetch 2 NOT_LEADER_FOR_PARTITION _TRANSPORT"), "ok");
    assert_non_null(strstr(broker_ask(&b, "down 4"), "broker '4': expected 1..3"));
    assert_non_null(strstr(broker_ask(&b, "errors Bogus 1 _TRANSPORT"), "API 'Bogus'"));
    assert_non_null(strstr(broker_ask(&b, "errors Produce 1 NO_SUCH_ERROR"), "error 'NO_SUCH"));
    assert_non_null(strstr(broker_ask(&b, "errors Produce 0 _TRANSPORT"), "count '0'"));
    assert_non_null(strstr(broker_ask(&b, "rtt 1 -5"), "rtt '-5'"));
    assert_non_null(strstr(broker_ask(&b, "explode"), "'explode'"));
    assert_int_equal(broker_end(&b), 0);

    /* bad command lines: exit status 2 (usage) or 1 (refused), with the reason on stderr */
    run_result r = run_cli("broker --brokers 0 t 2>/dev/null");
    assert_int_equal(r.status, 2);
    free(r.out);
    r = run_cli("broker --brokers 2 --replication 3 t 2>/dev/null </dev/null");
    assert_int_equal(r.status, 1);
    free(r.out);
    r = run_cli("broker --brokers 1 bad/topic 2>/dev/null </dev/null");
    assert_int_equal(r.status, 1);
    free(r.out);
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: kafka_cli_test PATH-TO-passerelle\n");
        return 2;
    }
    cli = argv[1];
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_send_tail_round_trip),
        cmocka_unit_test(test_send_refuses_bad_lines),
        cmocka_unit_test(test_send_strict),
        cmocka_unit_test(test_tail_tombstone),
        cmocka_unit_test(test_replay),
        cmocka_unit_test(test_replay_ends),
        cmocka_unit_test(test_broker),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
