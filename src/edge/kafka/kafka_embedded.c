#include "kafka_embedded.h"

#include <stdlib.h>
#include <string.h>

struct kafka_embedded {
    rd_kafka_t *rk; /* dedicated handle the cluster lives on */
    rd_kafka_mock_cluster_t *mcluster;
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
                                     int partitions, px_error *err) {
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
            rd_kafka_mock_topic_create(kb->mcluster, topics[i], partitions, 1);
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

void kafka_embedded_stop(kafka_embedded *kb) {
    if (!kb) return;
    if (kb->mcluster) rd_kafka_mock_cluster_destroy(kb->mcluster);
    if (kb->rk) rd_kafka_destroy(kb->rk);
    free(kb);
}
