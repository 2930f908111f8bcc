/* bench_kafka — consume → produce → store-offset throughput through kafka_io (one libuv loop,
 * batches) against a plain blocking librdkafka loop doing the same work, on the embedded mock
 * cluster. Prints messages/s of each and their ratio, measured in one run. Not a test.
 *
 *   bench_kafka [MESSAGES] [PARTITIONS] [BATCH]      (defaults 50000 8 500)
 *
 * Both pipelines read the same input (each in its own consumer group) and write one output per
 * input to their own topic, storing the input offset when the output is delivered. Timing runs
 * from the first consumed message to the last delivery, so group joins are not counted. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <librdkafka/rdkafka.h>
#include <uv.h>

#include "kafka_embedded.h"
#include "kafka_io.h"

typedef struct run {
    uv_loop_t *loop;
    kafka_io *io;
    size_t target, consumed, delivered, batches;
    uint64_t t_first, t_last;
    int closed, failed;
} run;

typedef struct pos {
    const char *topic;
    int32_t partition;
    int64_t offset;
} pos;

static void on_delivery(kafka_io *io, const px_error *err, int32_t partition, int64_t offset,
                        void *msg_opaque, void *opaque) {
    (void)partition;
    (void)offset;
    run *r = opaque;
    pos *p = msg_opaque;
    if (err)
        r->failed = 1;
    else
        kafka_io_store_offset(io, p->topic, p->partition, p->offset);
    free(p);
    if (++r->delivered == r->target) {
        r->t_last = uv_hrtime();
        kafka_io_close(io);
    }
}

static void on_batch(kafka_io *io, const kafka_io_batch *b, void *opaque) {
    run *r = opaque;
    if (!r->t_first) r->t_first = uv_hrtime();
    r->batches++;
    for (size_t i = 0; i < b->count; i++) {
        const kafka_io_msg *m = &b->msgs[i];
        pos *p = malloc(sizeof *p);
        *p = (pos){m->topic, m->partition, m->offset};
        px_error err;
        if (kafka_io_produce(io, "bench.out.a", m->key, m->key_len, m->value, m->value_len,
                             on_delivery, p, &err)) {
            fprintf(stderr, "produce: %s\n", err.msg);
            r->failed = 1;
        }
    }
    r->consumed += b->count;
    kafka_io_batch_release(io, b);
}

static void on_error(kafka_io *io, const px_error *err, bool fatal, void *opaque) {
    (void)io;
    run *r = opaque;
    if (fatal) r->failed = 1;
    fprintf(stderr, "kafka_io %s: %s\n", fatal ? "fatal" : "error", err->msg);
}

static void on_closed(kafka_io *io, void *opaque) {
    run *r = opaque;
    r->closed = 1;
    kafka_io_free(io);
}

static void on_log(kafka_io *io, int level, const char *fac, const char *msg, void *opaque) {
    (void)io;
    (void)opaque;
    if (level <= 3) fprintf(stderr, "librdkafka %s: %s\n", fac, msg);
}

static double run_kafka_io(const char *brokers, size_t n, size_t batch) {
    uv_loop_t loop;
    uv_loop_init(&loop);
    run r = {.loop = &loop, .target = n};
    kafka_io_property props[] = {
        {"bootstrap.servers", brokers}, {"auto.offset.reset", "earliest"}, {"linger.ms", "5"}};
    static const char *const topics[] = {"bench.in"};
    char group[64];
    snprintf(group, sizeof group, "bench-kafka-io-%zu", batch);
    kafka_io_options o = {.properties = props,
                          .n_properties = 3,
                          .group_id = group,
                          .input_topics = topics,
                          .n_input_topics = 1,
                          .batch_max_messages = batch,
                          .batch_max_wait_ms = 10};
    kafka_io_callbacks cbs = {on_batch, NULL, on_error, on_closed, on_log};
    px_error err;
    r.io = kafka_io_new(&loop, &o, &cbs, &r, &err);
    if (!r.io || kafka_io_start(r.io, &err)) {
        fprintf(stderr, "kafka_io: %s\n", err.msg);
        exit(1);
    }
    while (!r.closed && !r.failed) uv_run(&loop, UV_RUN_ONCE);
    uv_run(&loop, UV_RUN_DEFAULT);
    uv_loop_close(&loop);
    if (r.failed) exit(1);
    printf("  kafka_io, batch %-5zu %8zu messages in %5zu batches: %8.0f messages/s\n", batch, n,
           r.batches, n / ((r.t_last - r.t_first) / 1e9));
    return n / ((r.t_last - r.t_first) / 1e9);
}

typedef struct plain_state {
    rd_kafka_t *consumer;
    size_t delivered;
} plain_state;

static void plain_dr(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque) {
    (void)rk;
    plain_state *s = opaque;
    pos *p = m->_private;
    if (!m->err) {
        rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
        rd_kafka_topic_partition_list_add(l, p->topic, p->partition)->offset = p->offset + 1;
        rd_kafka_offsets_store(s->consumer, l);
        rd_kafka_topic_partition_list_destroy(l);
        s->delivered++;
    }
    free(p);
}

static rd_kafka_t *plain_client(rd_kafka_type_t type, const char *const *kv, size_t n,
                                void *opaque) {
    char errstr[256];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    for (size_t i = 0; i < n; i++)
        if (rd_kafka_conf_set(conf, kv[2 * i], kv[2 * i + 1], errstr, sizeof errstr)) {
            fprintf(stderr, "%s\n", errstr);
            exit(1);
        }
    if (type == RD_KAFKA_PRODUCER && opaque) rd_kafka_conf_set_dr_msg_cb(conf, plain_dr);
    rd_kafka_conf_set_opaque(conf, opaque);
    rd_kafka_t *rk = rd_kafka_new(type, conf, errstr, sizeof errstr);
    if (!rk) {
        fprintf(stderr, "%s\n", errstr);
        exit(1);
    }
    return rk;
}

/* The baseline: what a hand-written blocking loop does, message by message. */
static double run_plain(const char *brokers, size_t n) {
    plain_state s = {0};
    const char *ckv[] = {"bootstrap.servers",
                         brokers,
                         "group.id",
                         "bench-plain",
                         "auto.offset.reset",
                         "earliest",
                         "enable.auto.offset.store",
                         "false"};
    const char *pkv[] = {"bootstrap.servers",  brokers, "linger.ms", "5",
                         "enable.idempotence", "true"};
    s.consumer = plain_client(RD_KAFKA_CONSUMER, ckv, 4, NULL);
    rd_kafka_t *p = plain_client(RD_KAFKA_PRODUCER, pkv, 3, &s);
    rd_kafka_topic_partition_list_t *sub = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(sub, "bench.in", RD_KAFKA_PARTITION_UA);
    rd_kafka_subscribe(s.consumer, sub);
    rd_kafka_topic_partition_list_destroy(sub);
    size_t consumed = 0;
    uint64_t t_first = 0;
    while (s.delivered < n) {
        rd_kafka_message_t *m = consumed < n ? rd_kafka_consumer_poll(s.consumer, 10) : NULL;
        if (m && !m->err) {
            if (!t_first) t_first = uv_hrtime();
            pos *ps = malloc(sizeof *ps);
            *ps = (pos){"bench.in", m->partition, m->offset};
            while (rd_kafka_producev(
                       p, RD_KAFKA_V_TOPIC("bench.out.b"), RD_KAFKA_V_KEY(m->key, m->key_len),
                       RD_KAFKA_V_VALUE(m->payload, m->len),
                       RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_OPAQUE(ps),
                       RD_KAFKA_V_END) == RD_KAFKA_RESP_ERR__QUEUE_FULL)
                rd_kafka_poll(p, 10);
            consumed++;
        }
        if (m) rd_kafka_message_destroy(m);
        rd_kafka_poll(p, consumed < n ? 0 : 10);
    }
    uint64_t t_last = uv_hrtime();
    rd_kafka_consumer_close(s.consumer);
    rd_kafka_destroy(s.consumer);
    rd_kafka_destroy(p);
    double rate = n / ((t_last - t_first) / 1e9);
    printf("  plain blocking loop      %8zu messages:                 %8.0f messages/s\n", n, rate);
    return rate;
}

int main(int argc, char **argv) {
    size_t n = argc > 1 ? strtoul(argv[1], NULL, 10) : 50000;
    int partitions = argc > 2 ? atoi(argv[2]) : 8;
    size_t batch = argc > 3 ? strtoul(argv[3], NULL, 10) : 500;
    static const char *const topics[] = {"bench.in", "bench.out.a", "bench.out.b"};
    px_error err;
    kafka_embedded *kb = kafka_embedded_start(1, topics, 3, partitions, 1, &err);
    if (!kb) {
        fprintf(stderr, "%s\n", err.msg);
        return 1;
    }
    const char *brokers = kafka_embedded_bootstraps(kb);
    const char *pkv[] = {"bootstrap.servers", brokers, "linger.ms", "20"};
    rd_kafka_t *seeder = plain_client(RD_KAFKA_PRODUCER, pkv, 2, NULL);
    char value[200];
    memset(value, 'x', sizeof value);
    for (size_t i = 0; i < n; i++) {
        char key[24];
        int kl = snprintf(key, sizeof key, "user-%zu", i % 10007);
        while (rd_kafka_producev(
                   seeder, RD_KAFKA_V_TOPIC("bench.in"), RD_KAFKA_V_KEY(key, (size_t)kl),
                   RD_KAFKA_V_VALUE(value, sizeof value), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                   RD_KAFKA_V_END) == RD_KAFKA_RESP_ERR__QUEUE_FULL)
            rd_kafka_poll(seeder, 10);
    }
    rd_kafka_flush(seeder, 60000);
    rd_kafka_destroy(seeder);
    printf("bench_kafka: %zu messages of 200 bytes, %d partitions, embedded mock cluster on "
           "loopback\n",
           n, partitions);
    double plain = run_plain(brokers, n);
    double batched = run_kafka_io(brokers, n, batch);
    double single = run_kafka_io(brokers, n, 1);
    printf("ratio kafka_io batch %zu / plain loop: %.2f\n", batch, batched / plain);
    printf("ratio kafka_io batch %zu / kafka_io batch 1: %.2f\n", batch, batched / single);
    kafka_embedded_stop(kb);
    return 0;
}
