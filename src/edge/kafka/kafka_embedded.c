#include "kafka_embedded.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

struct kafka_embedded {
    rd_kafka_t *rk; /* dedicated handle the cluster lives on */
    rd_kafka_mock_cluster_t *mcluster;
    int broker_count;
};

/* The mock cluster must live on a librdkafka handle of its own, one that never connects anywhere:
 * the clients that use the cluster are ordinary handles bootstrapped on its address. */
static rd_kafka_t *new_host_handle(px_error *err) {
    char errstr[512];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    /* The host handle has no bootstrap.servers on purpose; keep its logs to real errors. */
    if (rd_kafka_conf_set(conf, "log_level", "3", errstr, sizeof errstr) != RD_KAFKA_CONF_OK) {
        rd_kafka_conf_destroy(conf);
        px_error_set(err, PX_ECONFIG, "embedded Kafka: %s", errstr);
        return NULL;
    }
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof errstr);
    if (!rk) {
        rd_kafka_conf_destroy(conf);
        px_error_set(err, PX_EIO, "embedded Kafka: cannot create the host handle: %s", errstr);
    }
    return rk;
}

kafka_embedded *kafka_embedded_start(int broker_count, const char *const *topics, size_t n_topics,
                                     int partitions, int replication, px_error *err) {
    if (broker_count < 1 || broker_count > KAFKA_EMBEDDED_MAX_BROKERS) {
        px_error_set(err, PX_EINVAL, "embedded Kafka: %d brokers requested, expected 1..%d",
                     broker_count, KAFKA_EMBEDDED_MAX_BROKERS);
        return NULL;
    }
    if (partitions < 1 || partitions > KAFKA_EMBEDDED_MAX_PARTITIONS) {
        px_error_set(err, PX_EINVAL,
                     "embedded Kafka: %d partitions per topic requested, expected 1..%d",
                     partitions, KAFKA_EMBEDDED_MAX_PARTITIONS);
        return NULL;
    }
    if (replication < 1 || replication > broker_count) {
        px_error_set(err, PX_EINVAL,
                     "embedded Kafka: replication factor %d requested, expected 1..%d (the "
                     "brokers)",
                     replication, broker_count);
        return NULL;
    }
    if (n_topics > KAFKA_EMBEDDED_MAX_TOPICS) {
        px_error_set(err, PX_ELIMIT, "embedded Kafka: %zu topics requested, at most %d", n_topics,
                     KAFKA_EMBEDDED_MAX_TOPICS);
        return NULL;
    }
    for (size_t i = 0; i < n_topics; i++) {
        if (kafka_topic_name_check(topics[i], err) < 0) return NULL;
        for (size_t j = 0; j < i; j++)
            if (!strcmp(topics[i], topics[j])) {
                px_error_set(err, PX_EINVAL, "embedded Kafka: topic '%s' is listed twice",
                             topics[i]);
                return NULL;
            }
    }
    kafka_embedded *kb = calloc(1, sizeof *kb);
    if (!kb) {
        px_error_set(err, PX_ENOMEM, "embedded Kafka: out of memory");
        return NULL;
    }
    kb->broker_count = broker_count;
    kb->rk = new_host_handle(err);
    if (!kb->rk) goto fail;
    kb->mcluster = rd_kafka_mock_cluster_new(kb->rk, broker_count);
    if (!kb->mcluster) {
        px_error_set(
            err, PX_EUNAVAILABLE,
            "embedded Kafka: rd_kafka_mock_cluster_new failed (cannot listen on 127.0.0.1?)");
        goto fail;
    }
    for (size_t i = 0; i < n_topics; i++) {
        rd_kafka_resp_err_t rerr =
            rd_kafka_mock_topic_create(kb->mcluster, topics[i], partitions, replication);
        if (rerr) {
            px_error_set(err, PX_EIO,
                         "embedded Kafka: cannot create topic '%s' with %d partitions: %s",
                         topics[i], partitions, rd_kafka_err2str(rerr));
            goto fail;
        }
    }
    return kb;
fail:
    kafka_embedded_stop(kb);
    return NULL;
}

const char *kafka_embedded_bootstraps(const kafka_embedded *kb) {
    return rd_kafka_mock_cluster_bootstraps(kb->mcluster);
}

rd_kafka_mock_cluster_t *kafka_embedded_mock(kafka_embedded *kb) { return kb->mcluster; }

/* ---- faults ---- */

#define FAULT_MAX_WORDS  16
#define FAULT_MAX_ERRORS (FAULT_MAX_WORDS - 3)

/* The Kafka protocol's API keys a fault may name (the numbers are the protocol's). */
static const struct {
    const char *name;
    int16_t key;
} api_keys[] = {
    {"Produce", 0},
    {"Fetch", 1},
    {"ListOffsets", 2},
    {"Metadata", 3},
    {"OffsetCommit", 8},
    {"OffsetFetch", 9},
    {"FindCoordinator", 10},
    {"JoinGroup", 11},
    {"Heartbeat", 12},
    {"LeaveGroup", 13},
    {"SyncGroup", 14},
    {"InitProducerId", 22},
    {"AddPartitionsToTxn", 24},
    {"AddOffsetsToTxn", 25},
    {"EndTxn", 26},
    {"TxnOffsetCommit", 28},
};

static int parse_long(const char *word, long lo, long hi, long *out) {
    char *end;
    errno = 0;
    long v = strtol(word, &end, 10);
    if (errno || end == word || *end || v < lo || v > hi) return -1;
    *out = v;
    return 0;
}

static int parse_broker(const kafka_embedded *kb, const char *word, int32_t *id, px_error *err) {
    long v;
    if (!strcmp(word, "all")) {
        *id = -1;
        return 0;
    }
    if (parse_long(word, 1, kb->broker_count, &v))
        return px_error_set(err, PX_EINVAL, "broker fault: broker '%s': expected 1..%d or \"all\"",
                            word, kb->broker_count);
    *id = (int32_t)v;
    return 0;
}

static int parse_api(const char *word, int16_t *key, px_error *err) {
    long v;
    for (size_t i = 0; i < sizeof api_keys / sizeof api_keys[0]; i++)
        if (!strcasecmp(word, api_keys[i].name)) {
            *key = api_keys[i].key;
            return 0;
        }
    if (!parse_long(word, 0, 1000, &v)) {
        *key = (int16_t)v;
        return 0;
    }
    return px_error_set(err, PX_EINVAL,
                        "broker fault: API '%s': expected a request name (Produce, Fetch, "
                        "OffsetCommit, JoinGroup, EndTxn…) or its key",
                        word);
}

static int parse_error_code(const char *word, rd_kafka_resp_err_t *code, px_error *err) {
    const struct rd_kafka_err_desc *descs;
    size_t n;
    long v;
    rd_kafka_get_err_descs(&descs, &n);
    for (size_t i = 0; i < n; i++)
        if (descs[i].name && !strcasecmp(word, descs[i].name)) {
            *code = descs[i].code;
            return 0;
        }
    if (!parse_long(word, -200, 1000, &v) && rd_kafka_err2name((rd_kafka_resp_err_t)v)) {
        *code = (rd_kafka_resp_err_t)v;
        return 0;
    }
    return px_error_set(err, PX_EINVAL,
                        "broker fault: error '%s': expected a librdkafka error name "
                        "(NOT_LEADER_FOR_PARTITION, REQUEST_TIMED_OUT, _TRANSPORT…) or its code",
                        word);
}

static int mock_result(rd_kafka_resp_err_t rerr, const char *what, px_error *err) {
    if (!rerr) return 0;
    return px_error_set(err, PX_EINVAL, "broker fault: %s: %s", what, rd_kafka_err2str(rerr));
}

int kafka_embedded_fault(kafka_embedded *kb, const char *command, px_error *err) {
    char line[512], *words[FAULT_MAX_WORDS], *save = NULL;
    size_t n = 0, len = strlen(command);
    if (len >= sizeof line)
        return px_error_set(err, PX_ELIMIT, "broker fault: %zu bytes, at most %zu", len,
                            sizeof line - 1);
    memcpy(line, command, len + 1);
    for (char *w = strtok_r(line, " \t\r\n", &save); w; w = strtok_r(NULL, " \t\r\n", &save)) {
        if (n == FAULT_MAX_WORDS)
            return px_error_set(err, PX_ELIMIT, "broker fault: more than %d words",
                                FAULT_MAX_WORDS);
        words[n++] = w;
    }
    if (n == 0) return px_error_set(err, PX_EINVAL, "broker fault: empty command");
    const char *verb = words[0];
    int32_t broker;
    long v;
    if ((!strcmp(verb, "down") || !strcmp(verb, "up")) && n == 2) {
        if (parse_broker(kb, words[1], &broker, err)) return -1;
        return mock_result(!strcmp(verb, "down")
                               ? rd_kafka_mock_broker_set_down(kb->mcluster, broker)
                               : rd_kafka_mock_broker_set_up(kb->mcluster, broker),
                           verb, err);
    }
    if (!strcmp(verb, "rtt") && n == 3) {
        if (parse_broker(kb, words[1], &broker, err)) return -1;
        if (parse_long(words[2], 0, 600000, &v))
            return px_error_set(err, PX_EINVAL, "broker fault: rtt '%s': expected 0..600000 ms",
                                words[2]);
        return mock_result(rd_kafka_mock_broker_set_rtt(kb->mcluster, broker, (int)v), verb, err);
    }
    if (!strcmp(verb, "errors") && n >= 4) {
        int16_t api = 0;
        rd_kafka_resp_err_t codes[FAULT_MAX_ERRORS];
        if (parse_api(words[1], &api, err)) return -1;
        if (parse_long(words[2], 1, 100000, &v))
            return px_error_set(err, PX_EINVAL,
                                "broker fault: count '%s': expected 1..100000 requests", words[2]);
        size_t n_codes = n - 3;
        for (size_t i = 0; i < n_codes; i++)
            if (parse_error_code(words[3 + i], &codes[i], err)) return -1;
        /* the mock takes one error per failing request: repeat the list over COUNT */
        for (long k = 0; k < v; k++)
            rd_kafka_mock_push_request_errors_array(kb->mcluster, api, 1,
                                                    &codes[(size_t)k % n_codes]);
        return 0;
    }
    if (!strcmp(verb, "leader") && n == 4) {
        long partition;
        if (kafka_topic_name_check(words[1], err) < 0) return -1;
        if (parse_long(words[2], 0, KAFKA_EMBEDDED_MAX_PARTITIONS - 1, &partition))
            return px_error_set(err, PX_EINVAL, "broker fault: partition '%s': expected 0..%d",
                                words[2], KAFKA_EMBEDDED_MAX_PARTITIONS - 1);
        if (!strcmp(words[3], "-1"))
            broker = -1;
        else if (parse_broker(kb, words[3], &broker, err))
            return -1;
        return mock_result(
            rd_kafka_mock_partition_set_leader(kb->mcluster, words[1], (int32_t)partition, broker),
            verb, err);
    }
    return px_error_set(err, PX_EINVAL,
                        "broker fault: '%s' with %zu arguments: expected down|up BROKER, rtt "
                        "BROKER MS, errors API COUNT ERROR…, or leader TOPIC PARTITION BROKER",
                        verb, n - 1);
}

void kafka_embedded_stop(kafka_embedded *kb) {
    if (!kb) return;
    if (kb->mcluster) rd_kafka_mock_cluster_destroy(kb->mcluster);
    if (kb->rk) rd_kafka_destroy(kb->rk);
    free(kb);
}
