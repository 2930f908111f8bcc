/* passerelle send | tail | replay — the Kafka command-line tools.
 *
 *   send:   JSON Lines events → one MessagePack message each, keyed by the event's user_id.
 *   tail:   messages of a topic → one JSON line each (suggestions, DLQ records, inputs);
 *           tombstones as {"key":…,"tombstone":true}.
 *   replay: DLQ records → their original bytes and key, back to their source topic (or --to).
 *
 * These are command-line tools, so they use plain blocking librdkafka (no event loop). Every
 * librdkafka property can be given with -X name=value, as with kcat. */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <librdkafka/rdkafka.h>
#include <msgpack.h>

#include "cli_kafka.h"
#include "commands.h"
#include "kafka_io.h"
#include "dlq_record.h"
#include "event_codec.h"
#include "json_write.h"
#include "msgpack_json.h"
#include "msgpack_scan.h"

#define CLI_MAX_PROPERTIES 64
#define CLI_DEFAULT_DLQ    "passerelle.dlq.v1"
#define CLI_FLUSH_MS       30000
#define CLI_KEY_MAX        1024 /* user_id bytes accepted as a Kafka key */

static volatile sig_atomic_t cli_interrupted;

static void on_signal(int sig) {
    (void)sig;
    cli_interrupted = 1;
}

static void catch_signals(void) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
}

/* Options shared by the three tools. */
typedef struct cli_opts {
    const char *tool;
    const char *brokers, *topic, *dlq, *to, *reason, *group, *file;
    long long count;       /* -1: unbounded */
    long long timeout_ms;  /* -1: none */
    long long max_replays; /* replay: records replayed this many times already are refused */
    int from_beginning;
    int strict; /* send: refuse what the daemon's decoder would, and unknown keys */
    kafka_io_property props[CLI_MAX_PROPERTIES];
    size_t n_props;
    char *prop_storage[CLI_MAX_PROPERTIES];
} cli_opts;

static void cli_opts_free(cli_opts *o) {
    for (size_t i = 0; i < o->n_props; i++) free(o->prop_storage[i]);
}

static int parse_count(const char *tool, const char *flag, const char *s, long long *out) {
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || *end || end == s || v < 0) {
        fprintf(stderr, "passerelle %s: %s expects a non-negative integer, got '%s'\n", tool, flag,
                s);
        return -1;
    }
    *out = v;
    return 0;
}

/* Parses argv; `allowed` lists the options this tool takes (" --topic " also makes it required).
 * Returns 0, 1 (--help was shown) or 2 (usage error, reported). */
static int parse_args(int argc, char **argv, const char *allowed, cli_opts *o,
                      void (*usage)(FILE *)) {
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage(stdout);
            return 1;
        }
        char key[40];
        snprintf(key, sizeof key, " %s ", a);
        int *flag = !strcmp(a, "--from-beginning") ? &o->from_beginning
                    : !strcmp(a, "--strict")       ? &o->strict
                                                   : NULL;
        if (flag && strstr(allowed, key)) {
            *flag = 1;
            continue;
        }
        if (a[0] != '-') {
            if (!strstr(allowed, " FILE ") || o->file) goto bad;
            o->file = a;
            continue;
        }
        if (i + 1 >= argc || flag || !strstr(allowed, key)) goto bad;
        const char *v = argv[++i];
        if (!strcmp(a, "--brokers"))
            o->brokers = v;
        else if (!strcmp(a, "--topic"))
            o->topic = v;
        else if (!strcmp(a, "--dlq"))
            o->dlq = v;
        else if (!strcmp(a, "--to"))
            o->to = v;
        else if (!strcmp(a, "--reason"))
            o->reason = v;
        else if (!strcmp(a, "--group"))
            o->group = v;
        else if (!strcmp(a, "--count")) {
            if (parse_count(o->tool, a, v, &o->count)) return 2;
        } else if (!strcmp(a, "--timeout-ms")) {
            if (parse_count(o->tool, a, v, &o->timeout_ms)) return 2;
        } else if (!strcmp(a, "--max-replays")) {
            if (parse_count(o->tool, a, v, &o->max_replays)) return 2;
        } else if (!strcmp(a, "-X")) {
            const char *eq = strchr(v, '=');
            if (!eq || eq == v || o->n_props == CLI_MAX_PROPERTIES) {
                fprintf(stderr, "passerelle %s: -X expects name=value (at most %d), got '%s'\n",
                        o->tool, CLI_MAX_PROPERTIES, v);
                return 2;
            }
            char *copy = strdup(v);
            if (!copy) return 2;
            copy[eq - v] = '\0';
            o->prop_storage[o->n_props] = copy;
            o->props[o->n_props] = (kafka_io_property){copy, copy + (eq - v) + 1};
            o->n_props++;
        }
        continue;
    bad:
        fprintf(stderr, "passerelle %s: unexpected or incomplete argument '%s'\n", o->tool, a);
        usage(stderr);
        return 2;
    }
    if (!o->brokers || (!o->topic && strstr(allowed, " --topic "))) {
        fprintf(stderr, "passerelle %s: %s is required\n", o->tool,
                o->brokers ? "--topic" : "--brokers");
        usage(stderr);
        return 2;
    }
    return 0;
}

static void log_to_stderr(const rd_kafka_t *rk, int level, const char *fac, const char *buf) {
    (void)rk;
    /* -X properties go to every client, so cross-type notices ("consumer property … ignored by
     * this producer") are expected noise; other warnings and errors are shown. */
    if (level <= 4 && !kafka_log_is_cross_type_notice(fac, buf))
        fprintf(stderr, "librdkafka %s: %s\n", fac, buf);
}

/* A client for the tool: brokers, then -X properties in order, then `fixed`. */
static rd_kafka_t *new_client(const cli_opts *o, rd_kafka_type_t type,
                              const kafka_io_property *fixed, size_t n_fixed,
                              void (*dr_cb)(rd_kafka_t *, const rd_kafka_message_t *, void *),
                              void *opaque) {
    char errstr[512];
    px_error err = {0};
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    rd_kafka_conf_set_log_cb(conf, log_to_stderr);
    if (dr_cb) rd_kafka_conf_set_dr_msg_cb(conf, dr_cb);
    rd_kafka_conf_set_opaque(conf, opaque);
    const kafka_io_property brokers = {"bootstrap.servers", o->brokers};
    if (kafka_conf_apply(conf, &brokers, 1, &err) < 0 ||
        kafka_conf_apply(conf, o->props, o->n_props, &err) < 0 ||
        kafka_conf_apply(conf, fixed, n_fixed, &err) < 0) {
        rd_kafka_conf_destroy(conf);
        fprintf(stderr, "passerelle %s: %s\n", o->tool, err.msg);
        return NULL;
    }
    rd_kafka_t *rk = rd_kafka_new(type, conf, errstr, sizeof errstr);
    if (!rk) {
        rd_kafka_conf_destroy(conf);
        fprintf(stderr, "passerelle %s: cannot create a Kafka client: %s\n", o->tool, errstr);
    }
    return rk;
}

/* ---------------- producing (send, replay) ---------------- */

typedef struct delivery_tally {
    size_t ok, failed;
    const char *tool;
} delivery_tally;

static void count_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque) {
    (void)rk;
    delivery_tally *t = opaque;
    if (m->err) {
        t->failed++;
        fprintf(stderr, "passerelle %s: delivery to %s failed: %s\n", t->tool,
                rd_kafka_topic_name(m->rkt), rd_kafka_err2str(m->err));
    } else {
        t->ok++;
    }
}

static const kafka_io_property producer_fixed[] = {{"enable.idempotence", "true"}};

/* produce_blocking() with headers (NULL: none), which librdkafka takes over on success; they are
 * destroyed on failure. */
static int produce_blocking_headers(rd_kafka_t *p, const char *tool, const char *topic,
                                    const void *key, size_t key_len, const void *value,
                                    size_t value_len, rd_kafka_headers_t *headers) {
    for (;;) {
        rd_kafka_resp_err_t err = rd_kafka_producev(
            p, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_KEY(key, key_len),
            RD_KAFKA_V_VALUE((void *)value, value_len), RD_KAFKA_V_HEADERS(headers),
            RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END);
        if (!err) return 0;
        if (err != RD_KAFKA_RESP_ERR__QUEUE_FULL) {
            fprintf(stderr, "passerelle %s: cannot produce to %s: %s\n", tool, topic,
                    rd_kafka_err2str(err));
            if (headers) rd_kafka_headers_destroy(headers);
            return -1;
        }
        rd_kafka_poll(p, 100);
    }
}

int produce_blocking(rd_kafka_t *p, const char *tool, const char *topic, const void *key,
                     size_t key_len, const void *value, size_t value_len) {
    return produce_blocking_headers(p, tool, topic, key, key_len, value, value_len, NULL);
}

int flush_producer(rd_kafka_t *p, const char *tool) {
    rd_kafka_resp_err_t err = rd_kafka_flush(p, CLI_FLUSH_MS);
    if (err) {
        fprintf(stderr, "passerelle %s: %d messages still undelivered after %d ms: %s\n", tool,
                rd_kafka_outq_len(p), CLI_FLUSH_MS, rd_kafka_err2str(err));
        return -1;
    }
    return 0;
}

/* ---------------- send ---------------- */

static void send_usage(FILE *out) {
    fprintf(
        out,
        "usage: passerelle send --brokers HOST:PORT[,…] --topic TOPIC [-X name=value]…\n"
        "                       [--strict] [FILE]\n"
        "\n"
        "Reads events as JSON Lines (from FILE, or stdin) and produces each one to TOPIC as a\n"
        "MessagePack map, keyed by its \"user_id\" (so a person's events stay in order on one\n"
        "partition). Blank lines are skipped. A line that is not a JSON object with a string\n"
        "user_id is reported on stderr with its number and not sent; the others are still sent.\n"
        "The producer is idempotent; -X passes any librdkafka property. Exit status: 0 when every\n"
        "line was delivered, 1 otherwise, 2 on a usage error.\n"
        "\n"
        "  --strict  decode each event as passerelled does (default [limits], codes not\n"
        "            checked against ROME); refuse, unsent, one its decoder would refuse and\n"
        "            one with a key the contract does not name, e.g. \"line 3: unknown_field:\n"
        "            avoids: unknown key; did you mean \"avoid\"?\" (passerelled ignores such\n"
        "            keys: forward compatibility)\n");
}

/* One JSON line → (key, msgpack value). Returns 0 or -1 with err set. */
static int encode_line(const char *line, size_t len, msgpack_sbuffer *out, char *key,
                       size_t key_cap, size_t *key_len, px_error *err) {
    /* msgpack_json_parse, not bare cJSON: it refuses what cJSON would silently alter (integers
     * beyond 2^53, NUL in strings, duplicate keys). */
    cJSON *json = msgpack_json_parse(line, len, NULL, err);
    if (!json) return -1;
    if (!cJSON_IsObject(json)) {
        cJSON_Delete(json);
        return px_error_set(err, PX_EINVAL, "not a JSON object");
    }
    const cJSON *uid = cJSON_GetObjectItemCaseSensitive(json, "user_id");
    if (!cJSON_IsString(uid) || !uid->valuestring[0]) {
        cJSON_Delete(json);
        return px_error_set(err, PX_EINVAL, "no \"user_id\" string (the Kafka key)");
    }
    size_t n = strlen(uid->valuestring);
    if (n >= key_cap) {
        cJSON_Delete(json);
        return px_error_set(err, PX_ELIMIT, "user_id is %zu bytes long, at most %zu", n,
                            key_cap - 1);
    }
    memcpy(key, uid->valuestring, n + 1);
    *key_len = n;
    int rc = msgpack_json_pack(json, &(msgpack_packer){out, msgpack_sbuffer_write}, NULL, err);
    cJSON_Delete(json);
    return rc;
}

/* --strict: the event must decode as the daemon decodes it, with no key the contract lacks. */
static int check_strict(const msgpack_sbuffer *value, const char *key, size_t key_len,
                        px_error *err) {
    const event_decode_options strict = {.strict = true};
    event ev;
    if (event_decode_with(value->data, value->size, key, key_len, &strict, &ev, err)) return -1;
    event_free(&ev);
    return 0;
}

int cli_send_main(int argc, char **argv) {
    cli_opts o = {.tool = "send", .count = -1, .timeout_ms = -1};
    int rc = parse_args(argc, argv, " --brokers --topic -X --strict FILE ", &o, send_usage);
    if (rc) {
        cli_opts_free(&o);
        return rc == 1 ? 0 : rc;
    }
    FILE *in = o.file ? fopen(o.file, "r") : stdin;
    if (!in) {
        fprintf(stderr, "passerelle send: cannot open %s: %s\n", o.file, strerror(errno));
        cli_opts_free(&o);
        return 1;
    }
    delivery_tally tally = {0, 0, "send"};
    rd_kafka_t *p = new_client(&o, RD_KAFKA_PRODUCER, producer_fixed, 1, count_delivery, &tally);
    if (!p) {
        if (o.file) fclose(in);
        cli_opts_free(&o);
        return 2;
    }
    char *line = NULL;
    size_t cap = 0, lineno = 0, sent = 0, refused = 0;
    ssize_t len;
    msgpack_sbuffer buf;
    msgpack_sbuffer_init(&buf);
    while ((len = getline(&line, &cap, in)) >= 0 && !cli_interrupted) {
        lineno++;
        while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r')) len--;
        size_t start = 0;
        while (start < (size_t)len && (line[start] == ' ' || line[start] == '\t')) start++;
        if (start == (size_t)len) continue;
        char key[CLI_KEY_MAX];
        size_t key_len = 0;
        px_error err = {0};
        msgpack_sbuffer_clear(&buf);
        if (encode_line(line + start, (size_t)len - start, &buf, key, sizeof key, &key_len, &err)) {
            fprintf(stderr, "passerelle send: line %zu: %s\n", lineno, err.msg);
            refused++;
            continue;
        }
        if (o.strict && check_strict(&buf, key, key_len, &err)) {
            fprintf(stderr, "passerelle send: line %zu: %s: %s\n", lineno,
                    event_reason_name(err.reason), err.msg);
            refused++;
            continue;
        }
        if (produce_blocking(p, "send", o.topic, key, key_len, buf.data, buf.size)) {
            fprintf(stderr, "passerelle send: line %zu not sent\n",
                    lineno); /* e.g. over message.max.bytes */
            refused++;
            continue;
        }
        sent++;
        rd_kafka_poll(p, 0);
    }
    free(line);
    msgpack_sbuffer_destroy(&buf);
    if (o.file) fclose(in);
    int flushed = flush_producer(p, "send");
    rd_kafka_destroy(p);
    fprintf(stderr,
            "passerelle send: %zu sent to %s, %zu delivered, %zu failed, %zu lines refused\n", sent,
            o.topic, tally.ok, tally.failed, refused);
    cli_opts_free(&o);
    return (flushed || tally.failed || refused || tally.ok != sent || cli_interrupted) ? 1 : 0;
}

/* ---------------- consuming (tail, replay) ---------------- */

/* Looks the topic up and returns its partition count, or -1 (reported). */
static int topic_partitions(rd_kafka_t *rk, const char *tool, const char *topic) {
    rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, topic, NULL);
    const struct rd_kafka_metadata *md = NULL;
    rd_kafka_resp_err_t err = rd_kafka_metadata(rk, 0, rkt, &md, 10000);
    rd_kafka_topic_destroy(rkt);
    int n = -1;
    if (err)
        fprintf(stderr, "passerelle %s: cannot read the metadata of %s: %s\n", tool, topic,
                rd_kafka_err2str(err));
    else if (md->topic_cnt != 1 || md->topics[0].err)
        fprintf(stderr, "passerelle %s: topic %s: %s\n", tool, topic,
                rd_kafka_err2str(md->topic_cnt ? md->topics[0].err
                                               : RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART));
    else
        n = md->topics[0].partition_cnt;
    if (md) rd_kafka_metadata_destroy(md);
    return n;
}

/* Called with the partition-end events next_message() passes over (enable.partition.eof). */
typedef void (*eof_cb)(void *ctx, const rd_kafka_message_t *eof);

/* Polls one message; stops (NULL, *stop set) on a signal or after timeout_ms without a message. */
static rd_kafka_message_t *next_message(rd_kafka_t *c, const cli_opts *o, long long *idle_ms,
                                        int *stop, eof_cb on_eof, void *ctx) {
    while (!cli_interrupted) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(c, 100);
        if (!m) {
            *idle_ms += 100;
            if (o->timeout_ms >= 0 && *idle_ms >= o->timeout_ms) break;
            continue;
        }
        if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
            if (on_eof) on_eof(ctx, m);
            rd_kafka_message_destroy(m);
            continue;
        }
        if (m->err) {
            fprintf(stderr, "passerelle %s: %s\n", o->tool, rd_kafka_message_errstr(m));
            rd_kafka_message_destroy(m);
            continue;
        }
        *idle_ms = 0;
        return m;
    }
    *stop = 1;
    return NULL;
}

/* ---------------- tail ---------------- */

static void tail_usage(FILE *out) {
    fprintf(
        out,
        "usage: passerelle tail --brokers HOST:PORT[,…] --topic TOPIC [--from-beginning] [--count "
        "N]\n"
        "                       [--timeout-ms MS] [-X name=value]…\n"
        "\n"
        "Prints the messages of TOPIC (every partition) as JSON Lines: each MessagePack value as\n"
        "JSON (binary fields as {\"$bin\": base64}); for a dead-letter record the original bytes\n"
        "are also shown decoded under \"original\" when they are MessagePack. A tombstone prints\n"
        "{\"key\":KEY,\"tombstone\":true}; a value that is not MessagePack prints\n"
        "{\"key\":…,\"partition\":…,\"offset\":…,\"error\":…}. Starts at the end of each "
        "partition\n"
        "unless --from-beginning. Stops after N messages (--count), after MS milliseconds without\n"
        "a message (--timeout-ms), or on SIGINT/SIGTERM. Exit status: 0, or 1 when --count was\n"
        "not reached.\n");
}

/* A DLQ record's original bytes, decoded next to the raw {"$bin"} form when they are MessagePack:
 * `line` holds the record's JSON object, whose closing brace is reopened for "original". */
static void add_dlq_original(json_buf *line, const rd_kafka_message_t *m) {
    msgpack_unpacked u;
    px_error err = {0};
    dlq_record_view v;
    if (!msgpack_unpack_bounded(m->payload, m->len, MSGPACK_JSON_DEFAULT_MAX_DEPTH, &u, &err) &&
        !dlq_record_decode(&u.data, &v, &err)) {
        size_t closed = line->len;
        line->len--;
        if (json_buf_puts(line, ",\"original\":") ||
            json_write_msgpack(line, v.value, v.value_len, NULL, &err) ||
            json_buf_puts(line, "}")) {
            line->len = closed - 1;
            json_buf_puts(line, "}"); /* fits: the brace was there */
        }
    }
    msgpack_unpacked_destroy(&u);
}

/* The Kafka key as a JSON string: any bytes, shown as valid UTF-8 (json_write_text). */
static int put_key(json_buf *line, const rd_kafka_message_t *m) {
    return json_buf_puts(line, "{\"key\":") ||
           json_write_text(line, m->key ? m->key : "", m->key_len);
}

static void print_message(json_buf *line, const rd_kafka_message_t *m) {
    px_error err = {0};
    int rc;
    line->len = 0;
    if (!m->payload) {
        rc = put_key(line, m) || json_buf_puts(line, ",\"tombstone\":true}");
    } else if (!json_write_msgpack(line, m->payload, m->len, NULL, &err)) {
        /* a map (or bin, which dlq_view_read refuses) */
        if (line->data[0] == '{') add_dlq_original(line, m);
        rc = 0;
    } else {
        line->len = 0;
        rc = put_key(line, m) || json_buf_puts(line, ",\"partition\":") ||
             json_write_int(line, m->partition) || json_buf_puts(line, ",\"offset\":") ||
             json_write_int(line, m->offset) || json_buf_puts(line, ",\"error\":") ||
             json_write_text(line, err.msg, strlen(err.msg)) || json_buf_puts(line, "}");
    }
    if (!rc) printf("%s\n", line->data);
    fflush(stdout);
}

int cli_tail_main(int argc, char **argv) {
    cli_opts o = {.tool = "tail", .count = -1, .timeout_ms = -1};
    int rc = parse_args(argc, argv, " --brokers --topic --from-beginning --count --timeout-ms -X ",
                        &o, tail_usage);
    if (rc) {
        cli_opts_free(&o);
        return rc == 1 ? 0 : rc;
    }
    catch_signals();
    /* assign() needs a group id; tail never commits, so the group only names the client. */
    static const kafka_io_property fixed[] = {{"group.id", "passerelle-tail"},
                                              {"enable.auto.commit", "false"},
                                              {"enable.auto.offset.store", "false"}};
    rd_kafka_t *c = new_client(&o, RD_KAFKA_CONSUMER, fixed, 3, NULL, NULL);
    if (!c) {
        cli_opts_free(&o);
        return 2;
    }
    int parts = topic_partitions(c, "tail", o.topic);
    long long printed = 0;
    if (parts > 0) {
        rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(parts);
        for (int p = 0; p < parts; p++)
            rd_kafka_topic_partition_list_add(l, o.topic, p)->offset =
                o.from_beginning ? RD_KAFKA_OFFSET_BEGINNING : RD_KAFKA_OFFSET_END;
        rd_kafka_resp_err_t err = rd_kafka_assign(c, l);
        rd_kafka_topic_partition_list_destroy(l);
        if (err) {
            fprintf(stderr, "passerelle tail: cannot assign %s: %s\n", o.topic,
                    rd_kafka_err2str(err));
            parts = -1;
        }
    }
    long long idle = 0;
    int stop = 0;
    json_buf line = {0};
    while (parts > 0 && !stop && (o.count < 0 || printed < o.count)) {
        rd_kafka_message_t *m = next_message(c, &o, &idle, &stop, NULL, NULL);
        if (!m) break;
        print_message(&line, m);
        rd_kafka_message_destroy(m);
        printed++;
    }
    json_buf_free(&line);
    rd_kafka_consumer_close(c);
    rd_kafka_destroy(c);
    cli_opts_free(&o);
    if (parts <= 0) return 1;
    return (o.count >= 0 && printed < o.count) ? 1 : 0;
}

/* ---------------- replay ---------------- */

#define CLI_DEFAULT_MAX_REPLAYS 3
#define CLI_REASONS_MAX         32 /* distinct reasons counted by name in the summary */

static void replay_usage(FILE *out) {
    fprintf(
        out,
        "usage: passerelle replay --brokers HOST:PORT[,…] [--dlq TOPIC] [--to TOPIC] [--reason R]\n"
        "                         [--count N] [--max-replays N] [--timeout-ms MS] [--group G]\n"
        "                         [-X name=value]…\n"
        "\n"
        "Drains dead-letter records (default topic " CLI_DEFAULT_DLQ
        ") after a fix: each record's\n"
        "original bytes and key are produced again to the record's source topic, or to --to,\n"
        "with the header " DLQ_REPLAY_HEADER
        " one more than the record's (passerelled copies an input's\n"
        "onto the dead letter it writes for it, so a replay that fails again is counted).\n"
        "Reads each partition only up to the end it had at start: records dead-lettered again\n"
        "while replaying are left for another run, and the run ends.\n"
        "Progress is kept in consumer group G (default passerelle-replay): offsets are committed\n"
        "only once the replayed messages are delivered, so a second run continues where the first\n"
        "stopped and an interrupted run replays at most the unconfirmed records again. Passed "
        "over\n"
        "in this group (use another --group to replay them later): with --reason R, records with\n"
        "another reason; records replayed N times already (--max-replays, default %d; a header\n"
        "that is not a count counts as over it); truncated records, which lack the original's\n"
        "end. Stops after N replayed records (--count), at the ends, or when no record came for\n"
        "MS milliseconds (--timeout-ms, default 5000). Prints one JSON line per replayed record,\n"
        "and on stderr what was replayed by reason, skipped by cause, and unreadable. Exit\n"
        "status: 0, 1 on a failure.\n",
        CLI_DEFAULT_MAX_REPLAYS);
}

#define CLI_JOIN_MS 30000

/* Joining the group takes a few seconds: --timeout-ms counts idle time from the assignment on.
 * The poll that brings the assignment may bring a first message too: it is left in *first. */
static rd_kafka_topic_partition_list_t *wait_for_assignment(rd_kafka_t *c, const char *topic,
                                                            rd_kafka_message_t **first) {
    for (int waited = 0; waited < CLI_JOIN_MS && !cli_interrupted; waited += 100) {
        rd_kafka_topic_partition_list_t *l = NULL;
        if (!rd_kafka_assignment(c, &l) && l && l->cnt > 0) return l;
        if (l) rd_kafka_topic_partition_list_destroy(l);
        rd_kafka_message_t *m = rd_kafka_consumer_poll(c, 100);
        if (m && !m->err) {
            *first = m;
            continue;
        }
        if (m) {
            /* An error before the assignment is worth showing. */
            if (m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF)
                fprintf(stderr, "passerelle replay: %s\n", rd_kafka_message_errstr(m));
            rd_kafka_message_destroy(m);
        }
    }
    fprintf(stderr, "passerelle replay: no partition of %s was assigned within %d ms\n", topic,
            CLI_JOIN_MS);
    return NULL;
}

/* Why a record was passed over, for the summary. */
typedef enum replay_skip {
    SKIP_OTHER_REASON,
    SKIP_MAX_REPLAYS,
    SKIP_TRUNCATED,
    SKIP_KINDS,
} replay_skip;

static const char *const skip_names[SKIP_KINDS] = {"other reason", "max_replays", "truncated"};

typedef struct reason_count {
    char name[64];
    size_t n;
} reason_count;

typedef struct replay_state {
    rd_kafka_t *consumer, *producer;
    delivery_tally tally;
    rd_kafka_topic_partition_list_t
        *done; /* DLQ positions to commit once deliveries are confirmed */
    rd_kafka_topic_partition_list_t *ends; /* per assigned partition: offset = where to stop */
    size_t open;                           /* partitions not read up to their end yet */
    size_t replayed, unreadable, skipped[SKIP_KINDS];
    reason_count reasons[CLI_REASONS_MAX + 1]; /* the last one is "other" */
    size_t n_reasons;
} replay_state;

/* Flushes the replayed messages, then commits the DLQ positions they came from. */
static int replay_checkpoint(replay_state *s) {
    if (!s->done->cnt) return 0;
    size_t failed_before = s->tally.failed;
    if (flush_producer(s->producer, "replay") || s->tally.failed != failed_before) return -1;
    rd_kafka_resp_err_t err = rd_kafka_commit(s->consumer, s->done, 0);
    if (err) {
        fprintf(stderr, "passerelle replay: committing the DLQ position failed: %s\n",
                rd_kafka_err2str(err));
        return -1;
    }
    rd_kafka_topic_partition_list_destroy(s->done);
    s->done = rd_kafka_topic_partition_list_new(4);
    return 0;
}

/* Where each assigned partition is read up to: its high-water mark now; where it starts: the
 * group's committed offset, else the low mark. A partition with nothing in between is closed. */
static int replay_find_ends(replay_state *s, rd_kafka_topic_partition_list_t *assigned) {
    rd_kafka_resp_err_t err = rd_kafka_committed(s->consumer, assigned, 10000);
    if (err) {
        fprintf(stderr, "passerelle replay: cannot read the group's offsets: %s\n",
                rd_kafka_err2str(err));
        return -1;
    }
    s->ends = rd_kafka_topic_partition_list_new(assigned->cnt);
    for (int i = 0; i < assigned->cnt; i++) {
        const rd_kafka_topic_partition_t *a = &assigned->elems[i];
        int64_t lo, hi;
        err =
            rd_kafka_query_watermark_offsets(s->consumer, a->topic, a->partition, &lo, &hi, 10000);
        if (err) {
            fprintf(stderr, "passerelle replay: cannot read the end of %s [%" PRId32 "]: %s\n",
                    a->topic, a->partition, rd_kafka_err2str(err));
            return -1;
        }
        int64_t from = a->offset >= 0 ? a->offset : lo;
        rd_kafka_topic_partition_t *e =
            rd_kafka_topic_partition_list_add(s->ends, a->topic, a->partition);
        e->offset = hi;
        e->opaque = (void *)(intptr_t)(from < hi); /* still open */
        s->open += from < hi;
    }
    return 0;
}

/* A message of an assigned partition at `next`: closes the partition once it is at its end. Returns
 * false when the message itself is past the end (not to be read). */
static bool replay_within_end(replay_state *s, const char *topic, int32_t partition, int64_t next) {
    rd_kafka_topic_partition_t *e = rd_kafka_topic_partition_list_find(s->ends, topic, partition);
    if (!e) return false;
    if (e->opaque && next >= e->offset) {
        e->opaque = NULL;
        s->open--;
    }
    return next <= e->offset;
}

static void replay_on_eof(void *ctx, const rd_kafka_message_t *eof) {
    replay_state *s = ctx;
    replay_within_end(s, rd_kafka_topic_name(eof->rkt), eof->partition, INT64_MAX);
}

static void count_reason(replay_state *s, const char *reason, size_t len) {
    size_t i = 0;
    while (i < s->n_reasons &&
           (strlen(s->reasons[i].name) != len || memcmp(s->reasons[i].name, reason, len)))
        i++;
    if (i == s->n_reasons && i < CLI_REASONS_MAX) {
        snprintf(s->reasons[i].name, sizeof s->reasons[i].name, "%.*s", (int)(len < 63 ? len : 63),
                 reason);
        s->n_reasons++;
    } else if (i == s->n_reasons) {
        i = CLI_REASONS_MAX;
        snprintf(s->reasons[i].name, sizeof s->reasons[i].name, "other");
    }
    s->reasons[i].n++;
}

static void print_replayed(const rd_kafka_message_t *m, const dlq_record_view *v, const char *topic,
                           int64_t replays) {
    cJSON *line = cJSON_CreateObject(), *r = cJSON_AddObjectToObject(line, "replayed");
    cJSON_AddNumberToObject(r, "dlq_partition", m->partition);
    cJSON_AddNumberToObject(r, "dlq_offset", (double)m->offset);
    cJSON_AddNumberToObject(r, "source_partition", (double)v->partition);
    cJSON_AddNumberToObject(r, "source_offset", (double)v->offset);
    char reason[128];
    snprintf(reason, sizeof reason, "%.*s", (int)(v->reason_len < 127 ? v->reason_len : 127),
             v->reason ? v->reason : "");
    cJSON_AddStringToObject(r, "reason", reason);
    cJSON_AddStringToObject(r, "to", topic);
    cJSON_AddNumberToObject(r, "replay", (double)replays);
    char *text = cJSON_PrintUnformatted(line);
    if (text) printf("%s\n", text);
    cJSON_free(text);
    cJSON_Delete(line);
    fflush(stdout);
}

/* How many times the record's original was replayed already (its header), or the limit when the
 * header is not a count. */
static int64_t record_replays(const rd_kafka_message_t *m, const cli_opts *o) {
    rd_kafka_headers_t *h = NULL;
    const void *v = NULL;
    size_t len = 0;
    if (rd_kafka_message_headers(m, &h) || rd_kafka_header_get_last(h, DLQ_REPLAY_HEADER, &v, &len))
        return 0;
    int64_t n = dlq_replay_count(v, len);
    return n < 0 ? o->max_replays : n;
}

static int replay_one(replay_state *s, const cli_opts *o, const rd_kafka_message_t *m) {
    msgpack_unpacked u;
    px_error err = {0};
    dlq_record_view v;
    int rc = 0;
    if (!m->payload ||
        msgpack_unpack_bounded(m->payload, m->len, MSGPACK_JSON_DEFAULT_MAX_DEPTH, &u, &err) ||
        dlq_record_decode(&u.data, &v, &err)) {
        fprintf(stderr, "passerelle replay: %s [%" PRId32 "] offset %" PRId64 " skipped: %s\n",
                rd_kafka_topic_name(m->rkt), m->partition, m->offset,
                m->payload ? err.msg : "tombstone");
        s->unreadable++;
        if (m->payload) msgpack_unpacked_destroy(&u);
        return 0;
    }
    char topic[256];
    if (o->to)
        snprintf(topic, sizeof topic, "%s", o->to);
    else
        snprintf(topic, sizeof topic, "%.*s", (int)(v.topic_len < 255 ? v.topic_len : 255),
                 v.topic);
    int64_t replays = record_replays(m, o);
    char count[24];
    snprintf(count, sizeof count, "%" PRId64, replays + 1);
    rd_kafka_headers_t *h = NULL;
    if (o->reason &&
        (v.reason_len != strlen(o->reason) || memcmp(v.reason, o->reason, v.reason_len))) {
        s->skipped[SKIP_OTHER_REASON]++;
    } else if (replays >= o->max_replays || v.truncated) {
        replay_skip why = v.truncated ? SKIP_TRUNCATED : SKIP_MAX_REPLAYS;
        s->skipped[why]++;
        fprintf(stderr, "passerelle replay: %s [%" PRId32 "] offset %" PRId64 " skipped: %s\n",
                rd_kafka_topic_name(m->rkt), m->partition, m->offset,
                v.truncated ? "truncated (the original's head only)"
                            : "replayed --max-replays times already");
    } else if (!(h = rd_kafka_headers_new(1)) ||
               rd_kafka_header_add(h, DLQ_REPLAY_HEADER, -1, count, -1) ||
               produce_blocking_headers(s->producer, "replay", topic, v.has_key ? v.key : NULL,
                                        v.key_len, v.value, v.value_len, h)) {
        rc = -1; /* the headers are destroyed by the failing call, or were never made */
    } else {
        s->replayed++;
        count_reason(s, v.reason ? v.reason : "", v.reason_len);
        print_replayed(m, &v, topic, replays + 1);
    }
    msgpack_unpacked_destroy(&u);
    return rc;
}

static void print_summary(const replay_state *s, const char *dlq, int failed) {
    fprintf(stderr, "passerelle replay: %zu replayed from %s", s->replayed, dlq);
    for (size_t i = 0; i <= CLI_REASONS_MAX; i++)
        if (s->reasons[i].n)
            fprintf(stderr, "%s%s %zu", i ? ", " : " (", s->reasons[i].name, s->reasons[i].n);
    fprintf(stderr, "%s", s->replayed ? ")" : "");
    size_t skipped = 0;
    for (int k = 0; k < SKIP_KINDS; k++) skipped += s->skipped[k];
    fprintf(stderr, ", %zu skipped", skipped);
    for (int k = 0, first = 1; k < SKIP_KINDS; k++)
        if (s->skipped[k]) {
            fprintf(stderr, "%s%s %zu", first ? " (" : ", ", skip_names[k], s->skipped[k]);
            first = 0;
        }
    fprintf(stderr, "%s, %zu unreadable%s\n", skipped ? ")" : "", s->unreadable,
            failed ? "; stopped on a failure" : "");
}

int cli_replay_main(int argc, char **argv) {
    cli_opts o = {
        .tool = "replay", .count = -1, .timeout_ms = 5000, .max_replays = CLI_DEFAULT_MAX_REPLAYS};
    int rc = parse_args(
        argc, argv, " --brokers --dlq --to --reason --count --max-replays --timeout-ms --group -X ",
        &o, replay_usage);
    if (rc) {
        cli_opts_free(&o);
        return rc == 1 ? 0 : rc;
    }
    const char *dlq = o.dlq ? o.dlq : CLI_DEFAULT_DLQ;
    catch_signals();
    replay_state s = {.tally = {0, 0, "replay"}};
    const kafka_io_property cfixed[] = {{"group.id", o.group ? o.group : "passerelle-replay"},
                                        {"auto.offset.reset", "earliest"},
                                        {"enable.auto.commit", "false"},
                                        {"enable.partition.eof", "true"}};
    s.consumer = new_client(&o, RD_KAFKA_CONSUMER, cfixed, 4, NULL, NULL);
    s.producer =
        s.consumer ? new_client(&o, RD_KAFKA_PRODUCER, producer_fixed, 1, count_delivery, &s.tally)
                   : NULL;
    if (!s.consumer || !s.producer) {
        if (s.consumer) rd_kafka_destroy(s.consumer);
        cli_opts_free(&o);
        return 2;
    }
    s.done = rd_kafka_topic_partition_list_new(4);
    rd_kafka_topic_partition_list_t *sub = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(sub, dlq, RD_KAFKA_PARTITION_UA);
    rd_kafka_resp_err_t err = rd_kafka_subscribe(s.consumer, sub);
    rd_kafka_topic_partition_list_destroy(sub);
    int failed = 0;
    if (err) {
        fprintf(stderr, "passerelle replay: cannot subscribe to %s: %s\n", dlq,
                rd_kafka_err2str(err));
        failed = 1;
    }
    rd_kafka_message_t *first = NULL;
    rd_kafka_topic_partition_list_t *assigned =
        failed ? NULL : wait_for_assignment(s.consumer, dlq, &first);
    if (!assigned || replay_find_ends(&s, assigned)) failed = 1;
    if (assigned) rd_kafka_topic_partition_list_destroy(assigned);
    long long idle = 0;
    int stop = 0;
    while (!failed && !stop && s.open && (o.count < 0 || (long long)s.replayed < o.count)) {
        rd_kafka_message_t *m =
            first ? first : next_message(s.consumer, &o, &idle, &stop, replay_on_eof, &s);
        first = NULL;
        if (!m) break;
        const char *t = rd_kafka_topic_name(m->rkt);
        /* Past its partition's end: dead-lettered after the start (by this run's replays, say),
         * left for another run. */
        if (replay_within_end(&s, t, m->partition, m->offset + 1)) {
            if (replay_one(&s, &o, m))
                failed = 1;
            else
                rd_kafka_topic_partition_list_add(s.done, t, m->partition)->offset = m->offset + 1;
        }
        rd_kafka_message_destroy(m);
        rd_kafka_poll(s.producer, 0);
        if (s.done->cnt >= 500 && replay_checkpoint(&s)) failed = 1;
    }
    if (!failed && replay_checkpoint(&s)) failed = 1;
    if (first) rd_kafka_message_destroy(first);
    rd_kafka_consumer_close(s.consumer);
    rd_kafka_destroy(s.consumer);
    rd_kafka_destroy(s.producer);
    rd_kafka_topic_partition_list_destroy(s.done);
    if (s.ends) rd_kafka_topic_partition_list_destroy(s.ends);
    print_summary(&s, dlq, failed);
    cli_opts_free(&o);
    return failed ? 1 : 0;
}

/* ---------------- for the other tools (cli_kafka.h) ---------------- */

rd_kafka_t *cli_kafka_producer(const char *tool, const char *brokers,
                               const kafka_io_property *props, size_t n_props,
                               cli_kafka_dr_cb dr_cb, void *opaque) {
    cli_opts o = {.tool = tool, .brokers = brokers};
    if (n_props > CLI_MAX_PROPERTIES) {
        fprintf(stderr, "passerelle %s: at most %d Kafka properties\n", tool, CLI_MAX_PROPERTIES);
        return NULL;
    }
    memcpy(o.props, props, n_props * sizeof *props);
    o.n_props = n_props;
    return new_client(&o, RD_KAFKA_PRODUCER, producer_fixed, 1, dr_cb, opaque);
}
