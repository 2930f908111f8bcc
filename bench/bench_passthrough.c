/* bench_passthrough — the reference bench_e2e measures the daemon against: a raw librdkafka
 * consume → produce loop with the daemon's delivery settings and no work in between. Each input
 * message is copied (key and value, RD_KAFKA_MSG_F_COPY as kafka_io does) to the output topic, on
 * the partition it came from (the output topic has as many partitions as each input topic).
 *
 *   default:          idempotent producer; an input offset is stored when its copy is delivered
 *                     (enable.auto.offset.store=false, auto commit), as the daemon stores them;
 *                     messages taken in batches as in the other mode (the daemon's batch_size
 *                     and batch_max_wait_ms: 500, 20 ms);
 *   --transactional:  batches of --batch messages or what arrived within --wait-ms, each one
 *                     transaction with its input offsets (send_offsets_to_transaction), as the
 *                     daemon with transactional.id.
 *
 * usage: bench_passthrough --bootstrap SERVERS --group G --output TOPIC [--count N]
 *                          [--transactional ID] [--batch 500] [--wait-ms 20] [-X NAME=VALUE]...
 *                          INPUT_TOPIC...
 * -X sets a librdkafka property of the consumer (bench_e2e gives both systems the same).
 * Ends once N messages are copied and delivered (committed), or at SIGTERM with --count 0. A
 * benchmark's tool: it prints what it did, never a figure of its own (bench_e2e times it). */
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <librdkafka/rdkafka.h>

#define MAX_INPUTS 8

typedef struct pass {
    rd_kafka_t *consumer, *producer;
    rd_kafka_topic_partition_list_t *to_store; /* offsets delivered since the last store */
    const char *inputs[MAX_INPUTS];
    int n_inputs;
    long delivered, failed;
} pass;

static volatile sig_atomic_t stop_requested;

static void on_signal(int sig) {
    (void)sig;
    stop_requested = 1;
}

static int64_t now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The opaque of a copy: its input offset + 1 and the index of its input topic. */
static void *copy_opaque(int64_t offset, int topic) {
    return (void *)(intptr_t)((offset + 1) << 3 | topic);
}

/* A copy delivered: its input offset is stored (plain mode; the copies of one input partition go
 * to one output partition, whose deliveries come in order, so each store moves forward). */
static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque) {
    (void)rk;
    pass *p = opaque;
    if (m->err) {
        p->failed++;
        return;
    }
    p->delivered++;
    if (!p->to_store) return;
    intptr_t o = (intptr_t)m->_private;
    rd_kafka_topic_partition_t *tp =
        rd_kafka_topic_partition_list_find(p->to_store, p->inputs[o & 7], m->partition);
    if (!tp) tp = rd_kafka_topic_partition_list_add(p->to_store, p->inputs[o & 7], m->partition);
    tp->offset = (int64_t)(o >> 3);
}

static int conf_set(rd_kafka_conf_t *conf, const char *name, const char *value) {
    char errstr[256];
    if (rd_kafka_conf_set(conf, name, value, errstr, sizeof errstr) == RD_KAFKA_CONF_OK) return 0;
    fprintf(stderr, "bench_passthrough: %s=%s: %s\n", name, value, errstr);
    return -1;
}

static int input_index(const pass *p, const char *topic) {
    for (int i = 0; i < p->n_inputs; i++)
        if (!strcmp(p->inputs[i], topic)) return i;
    return 0;
}

/* Copies one message, waiting for room in the producer's queue. */
static int copy(pass *p, const char *output, const rd_kafka_message_t *m) {
    for (;;) {
        rd_kafka_resp_err_t e = rd_kafka_producev(
            p->producer, RD_KAFKA_V_TOPIC(output), RD_KAFKA_V_PARTITION(m->partition),
            RD_KAFKA_V_KEY(m->key, m->key_len), RD_KAFKA_V_VALUE(m->payload, m->len),
            RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
            RD_KAFKA_V_OPAQUE(copy_opaque(m->offset, input_index(p, rd_kafka_topic_name(m->rkt)))),
            RD_KAFKA_V_END);
        if (!e) return 0;
        if (e != RD_KAFKA_RESP_ERR__QUEUE_FULL) {
            fprintf(stderr, "bench_passthrough: produce: %s\n", rd_kafka_err2str(e));
            return -1;
        }
        rd_kafka_poll(p->producer, 10);
    }
}

static int txn_check(rd_kafka_error_t *e, const char *what) {
    if (!e) return 0;
    fprintf(stderr, "bench_passthrough: %s: %s\n", what, rd_kafka_error_string(e));
    rd_kafka_error_destroy(e);
    return -1;
}

/* One transaction: the batch's copies and the offsets after its last message of each partition. */
static int txn_batch(pass *p, const char *output, rd_kafka_message_t **batch, int n) {
    if (txn_check(rd_kafka_begin_transaction(p->producer), "begin_transaction")) return -1;
    rd_kafka_topic_partition_list_t *offsets = rd_kafka_topic_partition_list_new(16);
    int rc = 0;
    for (int i = 0; i < n && !rc; i++) {
        rc = copy(p, output, batch[i]);
        const char *topic = rd_kafka_topic_name(batch[i]->rkt);
        rd_kafka_topic_partition_t *tp =
            rd_kafka_topic_partition_list_find(offsets, topic, batch[i]->partition);
        if (!tp) tp = rd_kafka_topic_partition_list_add(offsets, topic, batch[i]->partition);
        tp->offset = batch[i]->offset + 1;
    }
    rd_kafka_consumer_group_metadata_t *gm = rd_kafka_consumer_group_metadata(p->consumer);
    if (!rc)
        rc = txn_check(rd_kafka_send_offsets_to_transaction(p->producer, offsets, gm, -1),
                       "send_offsets_to_transaction") ||
             txn_check(rd_kafka_commit_transaction(p->producer, -1), "commit_transaction");
    rd_kafka_consumer_group_metadata_destroy(gm);
    rd_kafka_topic_partition_list_destroy(offsets);
    return rc;
}

static int usage(void) {
    fprintf(stderr,
            "usage: bench_passthrough --bootstrap SERVERS --group G --output TOPIC "
            "[--count N] [--transactional ID] [--batch 500] [--wait-ms 20] [-X NAME=VALUE]... "
            "INPUT...\n");
    return 2;
}

int main(int argc, char **argv) {
    const char *bootstrap = NULL, *group = NULL, *output = NULL, *txn_id = NULL;
    long count = 0;
    int batch_max = 500, wait_ms = 20, i = 1, n_extra = 0;
    char *extra[16];
    pass p = {0};
    for (; i < argc && argv[i][0] == '-'; i += 2) {
        if (i + 1 >= argc) return usage();
        const char *v = argv[i + 1];
        if (!strcmp(argv[i], "--bootstrap"))
            bootstrap = v;
        else if (!strcmp(argv[i], "--group"))
            group = v;
        else if (!strcmp(argv[i], "--output"))
            output = v;
        else if (!strcmp(argv[i], "--count"))
            count = atol(v);
        else if (!strcmp(argv[i], "--transactional"))
            txn_id = v;
        else if (!strcmp(argv[i], "--batch"))
            batch_max = atoi(v);
        else if (!strcmp(argv[i], "--wait-ms"))
            wait_ms = atoi(v);
        else if (!strcmp(argv[i], "-X") && n_extra < 16 && strchr(v, '='))
            extra[n_extra++] = argv[i + 1];
        else
            return usage();
    }
    for (; i < argc && p.n_inputs < MAX_INPUTS; i++) p.inputs[p.n_inputs++] = argv[i];
    if (!bootstrap || !group || !output || !p.n_inputs || i < argc || batch_max < 1) return usage();

    rd_kafka_conf_t *cconf = rd_kafka_conf_new(), *pconf = rd_kafka_conf_new();
    if (conf_set(cconf, "bootstrap.servers", bootstrap) || conf_set(cconf, "group.id", group) ||
        conf_set(cconf, "auto.offset.reset", "earliest") ||
        conf_set(cconf, "enable.auto.offset.store", "false") ||
        (txn_id && conf_set(cconf, "enable.auto.commit", "false")) ||
        conf_set(pconf, "bootstrap.servers", bootstrap) ||
        conf_set(pconf, "enable.idempotence", "true") ||
        (txn_id && conf_set(pconf, "transactional.id", txn_id)))
        return 1;
    for (int k = 0; k < n_extra; k++) {
        *strchr(extra[k], '=') = '\0';
        if (conf_set(cconf, extra[k], extra[k] + strlen(extra[k]) + 1)) return 1;
    }
    rd_kafka_conf_set_dr_msg_cb(pconf, on_delivery);
    rd_kafka_conf_set_opaque(pconf, &p);
    char errstr[512];
    p.consumer = rd_kafka_new(RD_KAFKA_CONSUMER, cconf, errstr, sizeof errstr);
    p.producer = p.consumer ? rd_kafka_new(RD_KAFKA_PRODUCER, pconf, errstr, sizeof errstr) : NULL;
    if (!p.producer) {
        fprintf(stderr, "bench_passthrough: %s\n", errstr);
        return 1;
    }
    rd_kafka_poll_set_consumer(p.consumer);
    if (txn_id && txn_check(rd_kafka_init_transactions(p.producer, 30000), "init_transactions"))
        return 1;
    if (!txn_id) p.to_store = rd_kafka_topic_partition_list_new(64);
    rd_kafka_topic_partition_list_t *subs = rd_kafka_topic_partition_list_new(p.n_inputs);
    for (int t = 0; t < p.n_inputs; t++)
        rd_kafka_topic_partition_list_add(subs, p.inputs[t], RD_KAFKA_PARTITION_UA);
    rd_kafka_resp_err_t e = rd_kafka_subscribe(p.consumer, subs);
    rd_kafka_topic_partition_list_destroy(subs);
    if (e) {
        fprintf(stderr, "bench_passthrough: subscribe: %s\n", rd_kafka_err2str(e));
        return 1;
    }
    struct sigaction sa = {.sa_handler = on_signal};
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);

    rd_kafka_message_t **batch = calloc((size_t)batch_max, sizeof *batch);
    long consumed = 0;
    int rc = batch ? 0 : 1;
    while (!rc && !stop_requested && (count == 0 || consumed < count)) {
        int n = 0;
        int64_t first = 0;
        /* a batch: up to batch_max messages, or what arrived within wait_ms of the first */
        while (n < batch_max && (count == 0 || consumed + n < count) && !stop_requested) {
            int64_t left = n ? first + wait_ms - now_ms() : 100;
            if (n && left <= 0) break;
            rd_kafka_message_t *m = rd_kafka_consumer_poll(p.consumer, (int)left);
            if (!m) {
                if (n) break;
                continue;
            }
            if (m->err) {
                rd_kafka_message_destroy(m);
                continue;
            }
            if (!n) first = now_ms();
            batch[n++] = m;
        }
        if (txn_id && n)
            rc = txn_batch(&p, output, batch, n);
        else
            for (int k = 0; k < n && !rc; k++) rc = copy(&p, output, batch[k]);
        for (int k = 0; k < n; k++) rd_kafka_message_destroy(batch[k]);
        consumed += n;
        rd_kafka_poll(p.producer, 0);
        if (p.to_store && p.to_store->cnt) {
            rd_kafka_offsets_store(p.consumer, p.to_store);
            rd_kafka_topic_partition_list_destroy(p.to_store);
            p.to_store = rd_kafka_topic_partition_list_new(64);
        }
    }
    rd_kafka_flush(p.producer, 30000);
    if (p.to_store && p.to_store->cnt) rd_kafka_offsets_store(p.consumer, p.to_store);
    if (!txn_id) rd_kafka_commit(p.consumer, NULL, 0);
    fprintf(stderr, "bench_passthrough: %ld consumed, %ld delivered, %ld failed%s\n", consumed,
            p.delivered, p.failed, txn_id ? " (transactional)" : "");
    free(batch);
    if (p.to_store) rd_kafka_topic_partition_list_destroy(p.to_store);
    rd_kafka_consumer_close(p.consumer);
    rd_kafka_destroy(p.consumer);
    rd_kafka_destroy(p.producer);
    return rc || p.failed ? 1 : 0;
}
