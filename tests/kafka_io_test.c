/* kafka_io against librdkafka's mock cluster (kafka_embedded) on loopback, in a libuv loop.
 * Every wait is bounded (px_test_run_until); ctest adds an overall TIMEOUT. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <librdkafka/rdkafka.h>
#include <uv.h>

#include "kafka_embedded.h"
#include "kafka_io.h"
#include "loop_wait.h"
#include "utf8.h"

#define IN_TOPIC  "in.v1"
#define IN2_TOPIC "in2.v1"
#define OUT_TOPIC "out.v1"
#define MAX_RECS  4000
#define WAIT_MS   30000

/* ---------- a plain blocking client to seed inputs and read outputs ---------- */

static rd_kafka_t *plain_client(rd_kafka_type_t type, const char *brokers, const char *group) {
    char errstr[256];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    assert_int_equal(rd_kafka_conf_set(conf, "bootstrap.servers", brokers, errstr, sizeof errstr),
                     RD_KAFKA_CONF_OK);
    if (group) {
        assert_int_equal(rd_kafka_conf_set(conf, "group.id", group, errstr, sizeof errstr),
                         RD_KAFKA_CONF_OK);
        assert_int_equal(
            rd_kafka_conf_set(conf, "auto.offset.reset", "earliest", errstr, sizeof errstr),
            RD_KAFKA_CONF_OK);
    }
    rd_kafka_t *rk = rd_kafka_new(type, conf, errstr, sizeof errstr);
    assert_non_null(rk);
    return rk;
}

/* Produces n messages key "k<i % keys>", value "k<i % keys>:<i / keys>" (the per-key sequence);
 * with `header`, even messages carry that header, valued "h<i>". */
static void seed_headers(const char *brokers, const char *topic, int n, int keys,
                         const char *header) {
    rd_kafka_t *p = plain_client(RD_KAFKA_PRODUCER, brokers, NULL);
    for (int i = 0; i < n; i++) {
        char key[16], val[32], hval[16];
        snprintf(key, sizeof key, "k%d", i % keys);
        snprintf(val, sizeof val, "k%d:%d", i % keys, i / keys);
        snprintf(hval, sizeof hval, "h%d", i);
        rd_kafka_headers_t *h = NULL;
        if (header && i % 2 == 0) {
            h = rd_kafka_headers_new(1);
            rd_kafka_header_add(h, header, -1, hval, -1);
        }
        assert_int_equal(
            rd_kafka_producev(p, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_KEY(key, strlen(key)),
                              RD_KAFKA_V_VALUE(val, strlen(val)), RD_KAFKA_V_HEADERS(h),
                              RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END),
            0);
    }
    assert_int_equal(rd_kafka_flush(p, 10000), 0);
    rd_kafka_destroy(p);
}

static void seed(const char *brokers, const char *topic, int n, int keys) {
    seed_headers(brokers, topic, n, keys, NULL);
}

typedef struct plain_msg {
    char key[32];
    char value[64];
    char echo[16]; /* the "echo" header's value, "" when none */
    bool tombstone;
    int32_t partition;
} plain_msg;

/* Reads exactly n messages of topic (all partitions, from the beginning) within WAIT_MS. */
static void read_topic(const char *brokers, const char *topic, int partitions, plain_msg *out,
                       int n) {
    rd_kafka_t *c = plain_client(RD_KAFKA_CONSUMER, brokers, "reader"); /* assign() needs a group */
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(partitions);
    for (int p = 0; p < partitions; p++)
        rd_kafka_topic_partition_list_add(l, topic, p)->offset = RD_KAFKA_OFFSET_BEGINNING;
    assert_int_equal(rd_kafka_assign(c, l), 0);
    rd_kafka_topic_partition_list_destroy(l);
    int got = 0;
    uint64_t start = uv_hrtime();
    while (got < n && uv_hrtime() - start < (uint64_t)WAIT_MS * 1000000) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(c, 100);
        if (!m) continue;
        if (!m->err) {
            plain_msg *pm = &out[got++];
            memset(pm, 0, sizeof *pm);
            snprintf(pm->key, sizeof pm->key, "%.*s", (int)m->key_len, (const char *)m->key);
            pm->tombstone = m->payload == NULL;
            if (m->payload)
                snprintf(pm->value, sizeof pm->value, "%.*s", (int)m->len,
                         (const char *)m->payload);
            pm->partition = m->partition;
            rd_kafka_headers_t *h = NULL;
            const void *hv;
            size_t hl;
            if (!rd_kafka_message_headers(m, &h) && !rd_kafka_header_get_last(h, "echo", &hv, &hl))
                snprintf(pm->echo, sizeof pm->echo, "%.*s", (int)hl, (const char *)hv);
        }
        rd_kafka_message_destroy(m);
    }
    /* Nothing more than n. */
    rd_kafka_message_t *extra = rd_kafka_consumer_poll(c, 300);
    if (extra) {
        int is_msg = !extra->err;
        rd_kafka_message_destroy(extra);
        assert_false(is_msg);
    }
    rd_kafka_consumer_close(c);
    rd_kafka_destroy(c);
    assert_int_equal(got, n);
}

/* Checks that, for every key, the sequence numbers in values are 0,1,2,… in order (no loss, no
 * reordering, no duplicate). */
static void assert_per_key_order(const char *const *values, size_t n, int keys, int per_key) {
    int *next = calloc((size_t)keys, sizeof *next);
    for (size_t i = 0; i < n; i++) {
        int k, seq;
        assert_int_equal(sscanf(values[i], "k%d:%d", &k, &seq), 2);
        assert_true(k >= 0 && k < keys);
        assert_int_equal(seq, next[k]);
        next[k]++;
    }
    for (int k = 0; k < keys; k++) assert_int_equal(next[k], per_key);
    free(next);
}

/* Reads the n outputs of a topic and checks every key's sequence (a key lives on one partition, so
 * its order survives read_topic's interleaving of partitions). */
static void assert_topic_per_key_order(const char *brokers, const char *topic, int partitions,
                                       int n, int keys, int per_key) {
    plain_msg *out = calloc((size_t)n, sizeof *out);
    read_topic(brokers, topic, partitions, out, n);
    const char **ov = calloc((size_t)n, sizeof *ov);
    for (int i = 0; i < n; i++) ov[i] = out[i].value;
    assert_per_key_order(ov, (size_t)n, keys, per_key);
    free(ov);
    free(out);
}

/* ---------- the owner: what the daemon will do, minus the matching ---------- */

typedef struct rec {
    char topic[32];
    int32_t partition;
    int64_t offset;
    char value[64];
} rec;

typedef struct owner owner;
typedef void (*batch_hook)(owner *o, const kafka_io_batch *b);

struct owner {
    uv_loop_t *loop;
    kafka_io *io;
    const char *name;
    rec *recs;
    size_t n_recs;
    size_t batches, max_batch;
    int assigned, revoked, rebalances;
    bool resume_on_revoke; /* the owner lifts its pause from the revocation callback */
    int fatal, errors;
    int closed;
    int done;                 /* set by tests' conditions */
    bool produce_outputs;     /* echo each input to OUT_TOPIC, store its offset on delivery */
    bool tombstones;          /* outputs are tombstones */
    bool echo_header;         /* an input's "h" header goes on its output as "echo" */
    bool lend;                /* outputs are produced lent (kafka_io_produce_lent), from a
                                 buffer of the owner's freed at the delivery report */
    int64_t store_only_below; /* store offsets < this (and those >= store_also_from); -1 = all */
    int64_t store_also_from;
    size_t delivered, delivery_errors;
    batch_hook hook; /* replaces the default processing when set */
    int hook_state;
    char assignment[64]; /* partitions currently assigned ("1" at index p) */
    size_t logs;
    const kafka_io_batch *held; /* a batch kept by the owner (close test) */
    rd_kafka_mock_cluster_t *mock;
};

typedef struct pending_store {
    owner *o;
    const char *topic;
    int32_t partition;
    int64_t offset;
    void *lent; /* the lent output value, freed at the report (NULL when copied) */
} pending_store;

static bool owner_should_store(const owner *o, int64_t offset) {
    return o->store_only_below < 0 || offset < o->store_only_below || offset >= o->store_also_from;
}

static void on_delivery(kafka_io *io, const px_error *err, int32_t partition, int64_t offset,
                        void *msg_opaque, void *opaque) {
    (void)partition;
    (void)offset;
    owner *o = opaque;
    pending_store *ps = msg_opaque;
    if (err) {
        o->delivery_errors++;
        print_message("[%s] delivery error: %s\n", o->name, err->msg);
    } else {
        o->delivered++;
        if (owner_should_store(o, ps->offset))
            kafka_io_store_offset(io, ps->topic, ps->partition, ps->offset);
    }
    free(ps->lent); /* the owner's again: a later read by librdkafka is a use after free (ASan) */
    free(ps);
}

static void record(owner *o, const kafka_io_msg *m) {
    assert_true(o->n_recs < MAX_RECS);
    rec *r = &o->recs[o->n_recs++];
    snprintf(r->topic, sizeof r->topic, "%s", m->topic);
    r->partition = m->partition;
    r->offset = m->offset;
    snprintf(r->value, sizeof r->value, "%.*s", (int)m->value_len, (const char *)m->value);
}

static void process_batch(owner *o, const kafka_io_batch *b) {
    for (size_t i = 0; i < b->count; i++) {
        const kafka_io_msg *m = &b->msgs[i];
        record(o, m);
        if (!o->produce_outputs) {
            if (owner_should_store(o, m->offset))
                kafka_io_store_offset(o->io, m->topic, m->partition, m->offset);
            continue;
        }
        pending_store *ps = malloc(sizeof *ps);
        *ps = (pending_store){o, m->topic, m->partition, m->offset, NULL};
        px_error err;
        kafka_io_header h = {"echo", NULL, 0};
        size_t n_h = o->echo_header && !kafka_io_msg_header(m, "h", &h.value, &h.value_len);
        const void *value = o->tombstones ? NULL : m->value;
        size_t len = o->tombstones ? 0 : m->value_len;
        int rc;
        if (o->lend && value) {
            /* A buffer of the owner's, freed at its report: valid past the batch's release. */
            ps->lent = malloc(len + 1);
            memcpy(ps->lent, value, len);
            rc = kafka_io_produce_lent(o->io, OUT_TOPIC, m->key, m->key_len, ps->lent, len, &h, n_h,
                                       on_delivery, ps, &err);
        } else {
            rc = kafka_io_produce_headers(o->io, OUT_TOPIC, m->key, m->key_len, value, len, &h, n_h,
                                          on_delivery, ps, &err);
        }
        if (rc) fail_msg("produce: %s", err.msg);
    }
    kafka_io_batch_release(o->io, b);
}

static void on_batch(kafka_io *io, const kafka_io_batch *b, void *opaque) {
    owner *o = opaque;
    assert_ptr_equal(io, o->io);
    assert_true(b->count >= 1);
    o->batches++;
    if (b->count > o->max_batch) o->max_batch = b->count;
    if (o->hook)
        o->hook(o, b);
    else
        process_batch(o, b);
}

static void on_rebalance(kafka_io *io, kafka_io_rebalance_kind kind,
                         const kafka_io_partition *parts, size_t n, void *opaque) {
    owner *o = opaque;
    o->rebalances++;
    for (size_t i = 0; i < n; i++) {
        if (parts[i].partition < 0 || parts[i].partition >= (int32_t)sizeof o->assignment) continue;
        o->assignment[parts[i].partition] = kind == KAFKA_IO_ASSIGNED ? 1 : 0;
    }
    if (kind == KAFKA_IO_ASSIGNED)
        o->assigned += (int)n;
    else
        o->revoked += (int)n;
    if (kind != KAFKA_IO_ASSIGNED && o->resume_on_revoke) kafka_io_resume(io);
}

static void on_error(kafka_io *io, const px_error *err, bool fatal, void *opaque) {
    (void)io;
    owner *o = opaque;
    if (fatal) o->fatal++;
    o->errors++;
    print_message("[%s] %s error: %s\n", o->name, fatal ? "FATAL" : "non-fatal", err->msg);
}

static void on_closed(kafka_io *io, void *opaque) {
    (void)io;
    owner *o = opaque;
    o->closed = 1;
}

static pthread_t loop_thread;

/* librdkafka's log lines reach the owner on the loop thread, not on librdkafka's own threads. */
static void on_log(kafka_io *io, int level, const char *facility, const char *message,
                   void *opaque) {
    (void)io;
    owner *o = opaque;
    assert_true(pthread_equal(pthread_self(), loop_thread));
    assert_false(!strcmp(facility, "CONFWARN") && strstr(message, "will be ignored by this"));
    assert_true(level >= 0 && level <= 7);
    o->logs++;
}

static const kafka_io_callbacks owner_cbs = {on_batch, on_rebalance, on_error, on_closed, on_log};

typedef struct io_setup {
    const char *group;
    size_t batch_max;
    unsigned wait_ms;
    const kafka_io_property *extra;
    size_t n_extra;
    const char *const *topics;
    size_t n_topics;
    size_t max_buffered;
} io_setup;

static void owner_start(owner *o, uv_loop_t *loop, const char *name, const char *brokers,
                        const io_setup *s) {
    memset(o, 0, sizeof *o);
    o->loop = loop;
    o->name = name;
    o->recs = calloc(MAX_RECS, sizeof *o->recs);
    o->store_only_below = -1;
    kafka_io_property props[16] = {
        {"bootstrap.servers", brokers},
        {"auto.offset.reset", "earliest"},
        {"session.timeout.ms", "3000"},
        {"heartbeat.interval.ms", "200"},
        {"topic.metadata.refresh.interval.ms", "1000"},
        {"linger.ms", "2"},
    };
    size_t n = 6;
    for (size_t i = 0; i < s->n_extra; i++) props[n++] = s->extra[i];
    static const char *const default_topics[] = {IN_TOPIC};
    kafka_io_options opts = {
        .properties = props,
        .n_properties = n,
        .group_id = s->group,
        .input_topics = s->topics ? s->topics : default_topics,
        .n_input_topics = s->topics ? s->n_topics : 1,
        .batch_max_messages = s->batch_max,
        .batch_max_wait_ms = s->wait_ms,
        .max_buffered_messages = s->max_buffered,
        .close_timeout_ms = 5000,
        .txn_timeout_ms = 10000,
    };
    px_error err = {0};
    o->io = kafka_io_new(loop, &opts, &owner_cbs, o, &err);
    if (!o->io) fail_msg("kafka_io_new: %s", err.msg);
    if (kafka_io_start(o->io, &err)) fail_msg("kafka_io_start: %s", err.msg);
}

static void owner_close(owner *o) {
    kafka_io_close(o->io);
    assert_int_equal(px_test_run_until(o->loop, &o->closed, WAIT_MS), 0);
    kafka_io_free(o->io);
    o->io = NULL;
}

static void owner_free(owner *o) { free(o->recs); }

typedef struct world {
    uv_loop_t loop;
    kafka_embedded *kb;
    const char *brokers;
} world;

static void world_start(world *w, int partitions) {
    uv_loop_init(&w->loop);
    static const char *const topics[] = {IN_TOPIC, IN2_TOPIC, OUT_TOPIC};
    px_error err = {0};
    w->kb = kafka_embedded_start(1, topics, 3, partitions, 1, &err);
    if (!w->kb) fail_msg("kafka_embedded_start: %s", err.msg);
    w->brokers = kafka_embedded_bootstraps(w->kb);
    assert_non_null(w->brokers);
    assert_int_equal(strncmp(w->brokers, "127.0.0.1:", 10), 0); /* loopback only */
}

static void world_stop(world *w) {
    uv_run(&w->loop, UV_RUN_NOWAIT); /* let closed handles finish */
    assert_int_equal(uv_loop_close(&w->loop), 0);
    kafka_embedded_stop(w->kb);
}

/* Sorted (partition, offset) pairs must be exactly all offsets 0..n-1 of each partition, once. */
static int cmp_rec(const void *a, const void *b) {
    const rec *x = a, *y = b;
    int t = strcmp(x->topic, y->topic);
    if (t) return t;
    if (x->partition != y->partition) return x->partition < y->partition ? -1 : 1;
    return x->offset < y->offset ? -1 : x->offset > y->offset;
}

static const char **values_of(const rec *recs, size_t n) {
    const char **v = calloc(n ? n : 1, sizeof *v);
    for (size_t i = 0; i < n; i++) v[i] = recs[i].value;
    return v;
}

/* Runs the loop until a and b together processed n distinct (partition, offset) messages. */
static void run_until_distinct(uv_loop_t *loop, const owner *a, const owner *b, size_t n) {
    uint64_t start = uv_now(loop);
    for (;;) {
        px_test_run_for(loop, 20);
        size_t total = a->n_recs + b->n_recs, distinct = 0;
        rec *all = calloc(total + 1, sizeof *all);
        memcpy(all, a->recs, a->n_recs * sizeof *all);
        memcpy(all + a->n_recs, b->recs, b->n_recs * sizeof *all);
        qsort(all, total, sizeof *all, cmp_rec);
        for (size_t i = 0; i < total; i++)
            if (!i || cmp_rec(&all[i], &all[i - 1])) distinct++;
        free(all);
        if (distinct == n) return;
        if (uv_now(loop) - start > WAIT_MS) fail_msg("%zu/%zu distinct messages", distinct, n);
    }
}

/* ---------- tests ---------- */

/* Runs the loop until o has recorded n messages and delivered `delivered` outputs. */
static void run_until_counts(owner *o, size_t n, size_t delivered) {
    uint64_t start = uv_now(o->loop);
    while (!(o->n_recs >= n && o->delivered >= delivered)) {
        px_test_run_for(o->loop, 20);
        if (uv_now(o->loop) - start > WAIT_MS)
            fail_msg("[%s] timed out: %zu/%zu consumed, %zu/%zu delivered", o->name, o->n_recs, n,
                     o->delivered, delivered);
    }
}

static void test_batches_order_and_outputs(void **state) {
    (void)state;
    world w;
    world_start(&w, 3);
    enum { KEYS = 10, PER_KEY = 40, N = KEYS * PER_KEY };
    seed(w.brokers, IN_TOPIC, N, KEYS);
    owner o;
    owner_start(&o, &w.loop, "A", w.brokers,
                &(io_setup){.group = "g-order", .batch_max = 50, .wait_ms = 10});
    o.produce_outputs = true;
    run_until_counts(&o, N, N);
    assert_int_equal(o.n_recs, N);
    assert_true(o.max_batch <= 50);
    assert_true(o.batches >= N / 50);
    assert_int_equal(o.fatal, 0);
    assert_int_equal(o.assigned, 3);
    /* Inputs: every key's events in order, once. */
    const char **v = values_of(o.recs, o.n_recs);
    assert_per_key_order(v, o.n_recs, KEYS, PER_KEY);
    free(v);
    kafka_io_counters c;
    kafka_io_get_counters(o.io, &c);
    assert_int_equal(c.messages_consumed, N);
    assert_int_equal(c.messages_delivered, N);
    assert_int_equal(c.assigned_partitions, 3);
    /* Lag: everything consumed, so next offset == high watermark on each partition. */
    kafka_io_partition_lag lag[8];
    assert_int_equal(kafka_io_get_lag(o.io, lag, 8), 3);
    int64_t total = 0;
    for (int i = 0; i < 3; i++) {
        assert_int_equal(lag[i].lag, 0);
        assert_int_equal(lag[i].stored_offset, lag[i].high_watermark);
        total += lag[i].high_watermark;
    }
    assert_int_equal(total, N);
    owner_close(&o);
    assert_topic_per_key_order(w.brokers, OUT_TOPIC, 3, N, KEYS, PER_KEY);
    owner_free(&o);
    world_stop(&w);
}

/* A restarted member of the group resumes after the last CONTIGUOUS stored offset: stores made
 * past a gap (an undelivered message) do not move the committed position past the gap. */
static void test_offsets_only_after_delivery(void **state) {
    (void)state;
    world w;
    world_start(&w, 1);
    enum { N = 100 };
    seed(w.brokers, IN_TOPIC, N, 1);
    owner a;
    owner_start(&a, &w.loop, "A", w.brokers,
                &(io_setup){.group = "g-restart", .batch_max = 16, .wait_ms = 5});
    a.produce_outputs = true;
    a.store_only_below = 40; /* outputs of 40..59 "never delivered" */
    a.store_also_from = 60;
    run_until_counts(&a, N, N);
    owner_close(&a);

    owner b;
    owner_start(&b, &w.loop, "B", w.brokers,
                &(io_setup){.group = "g-restart", .batch_max = 16, .wait_ms = 5});
    run_until_counts(&b, N - 40, 0);
    px_test_run_for(&w.loop, 300);
    assert_int_equal(b.n_recs, N - 40); /* 40..99 again, nothing before */
    assert_int_equal(b.recs[0].offset, 40);
    for (size_t i = 0; i < b.n_recs; i++) assert_int_equal(b.recs[i].offset, 40 + (int64_t)i);
    owner_close(&b);

    /* B stored everything: a third member has nothing to consume. */
    owner c;
    owner_start(&c, &w.loop, "C", w.brokers,
                &(io_setup){.group = "g-restart", .batch_max = 16, .wait_ms = 5});
    uint64_t start = uv_now(&w.loop);
    while (!c.assigned && uv_now(&w.loop) - start < WAIT_MS) px_test_run_for(&w.loop, 20);
    assert_int_equal(c.assigned, 1);
    px_test_run_for(&w.loop, 1000);
    assert_int_equal(c.n_recs, 0);
    owner_close(&c);
    owner_free(&a);
    owner_free(&b);
    owner_free(&c);
    world_stop(&w);
}

/* Back-pressure: the owner cannot process its first batch (Redis down): it pauses and gives the
 * batch back; nothing is handed over while paused; after resume, the very same messages come
 * again, in order, and nothing is lost. */
static void resume_cb(uv_timer_t *t) {
    owner *o = t->data;
    o->hook_state = 2;
    kafka_io_resume(o->io);
    uv_close((uv_handle_t *)t, NULL);
}

static uv_timer_t resume_timer;

static void retry_first_batch(owner *o, const kafka_io_batch *b) {
    if (o->hook_state == 0) {
        o->hook_state = 1;
        o->done = (int)b->msgs[0].offset; /* remember where the retried batch started */
        kafka_io_pause(o->io);
        kafka_io_batch_retry(o->io, b);
        assert_true(kafka_io_paused(o->io));
        uv_timer_init(o->loop, &resume_timer);
        resume_timer.data = o;
        uv_timer_start(&resume_timer, resume_cb, 700, 0);
        return;
    }
    assert_int_equal(o->hook_state, 2); /* no batch while paused */
    process_batch(o, b);
}

static void test_pause_retry_resume(void **state) {
    (void)state;
    world w;
    world_start(&w, 1);
    enum { N = 200 };
    seed(w.brokers, IN_TOPIC, N, 1);
    owner o;
    owner_start(&o, &w.loop, "A", w.brokers,
                &(io_setup){.group = "g-pause", .batch_max = 25, .wait_ms = 5});
    o.hook = retry_first_batch;
    run_until_counts(&o, N, 0);
    px_test_run_for(&w.loop, 300);
    assert_int_equal(o.done, 0);
    assert_int_equal(o.n_recs, N);
    for (size_t i = 0; i < N; i++) assert_int_equal(o.recs[i].offset, (int64_t)i);
    kafka_io_counters c;
    kafka_io_get_counters(o.io, &c);
    assert_int_equal(c.batches_retried, 1);
    assert_int_equal(c.messages_consumed, N + 25); /* the retried batch was handed over twice */
    owner_close(&o);
    owner_free(&o);
    world_stop(&w);
}

/* Two members in one group share the partitions; every message is processed, none lost, and each
 * partition ends up with exactly one member. Run with the eager and the cooperative protocol. */
static void two_consumers(const char *strategy, const char *group) {
    world w;
    world_start(&w, 4);
    enum { KEYS = 16, PER_KEY = 25, N = KEYS * PER_KEY };
    kafka_io_property strat[] = {{"partition.assignment.strategy", strategy}};
    io_setup s = {.group = group, .batch_max = 10, .wait_ms = 5, .extra = strat, .n_extra = 1};
    seed(w.brokers, IN_TOPIC, N / 2, KEYS);
    owner a, b;
    owner_start(&a, &w.loop, "A", w.brokers, &s);
    uint64_t start = uv_now(&w.loop);
    while (a.n_recs < N / 4 && uv_now(&w.loop) - start < WAIT_MS) px_test_run_for(&w.loop, 20);
    assert_int_equal(a.assigned, 4);
    owner_start(&b, &w.loop, "B", w.brokers, &s);
    start = uv_now(&w.loop);
    while (!b.assigned && uv_now(&w.loop) - start < WAIT_MS) px_test_run_for(&w.loop, 20);
    assert_true(b.assigned > 0);
    /* More traffic after the rebalance. */
    seed(w.brokers, IN_TOPIC, N / 2, KEYS);
    /* Both seeds restart the per-key sequences: count distinct (partition, offset) pairs. */
    run_until_distinct(&w.loop, &a, &b, N);
    /* Exactly one owner per partition at the end. */
    for (int p = 0; p < 4; p++) assert_int_equal(a.assignment[p] + b.assignment[p], 1);
    assert_true(a.revoked > 0);
    assert_int_equal(strcmp(kafka_io_rebalance_protocol(a.io),
                            strstr(strategy, "cooperative") ? "COOPERATIVE" : "EAGER"),
                     0);
    assert_int_equal(a.fatal + b.fatal, 0);
    owner_close(&b);
    owner_close(&a);
    owner_free(&a);
    owner_free(&b);
    world_stop(&w);
}

static void test_rebalance_eager(void **state) {
    (void)state;
    two_consumers("range", "g-eager");
}

static void test_rebalance_cooperative(void **state) {
    (void)state;
    two_consumers("cooperative-sticky", "g-coop");
}

static void test_tombstones(void **state) {
    (void)state;
    world w;
    world_start(&w, 2);
    enum { N = 20 };
    seed(w.brokers, IN_TOPIC, N, 5);
    owner o;
    owner_start(&o, &w.loop, "A", w.brokers,
                &(io_setup){.group = "g-tomb", .batch_max = 8, .wait_ms = 5});
    o.produce_outputs = true;
    o.tombstones = true;
    run_until_counts(&o, N, N);
    owner_close(&o);
    plain_msg out[N];
    read_topic(w.brokers, OUT_TOPIC, 2, out, N);
    for (int i = 0; i < N; i++) {
        assert_true(out[i].tombstone);
        assert_int_equal(out[i].key[0], 'k'); /* the key survives */
    }
    owner_free(&o);
    world_stop(&w);
}

/* Headers: read from consumed messages, produced with outputs, also when they wait in kafka_io's
 * FIFO (librdkafka's queue holds 5); a message without the header gets none. */
static void test_headers(void **state) {
    (void)state;
    world w;
    world_start(&w, 1);
    enum { N = 40 };
    seed_headers(w.brokers, IN_TOPIC, N, 1, "h");
    kafka_io_property small[] = {{"queue.buffering.max.messages", "5"}};
    owner o;
    owner_start(
        &o, &w.loop, "A", w.brokers,
        &(io_setup){.group = "g-hdr", .batch_max = 40, .wait_ms = 5, .extra = small, .n_extra = 1});
    o.produce_outputs = true;
    o.echo_header = true;
    run_until_counts(&o, N, N);
    kafka_io_counters c;
    kafka_io_get_counters(o.io, &c);
    assert_true(c.queue_full_waits > 0);
    assert_int_equal(kafka_io_max_message_bytes(o.io), 1000000);
    owner_close(&o);
    plain_msg out[N];
    read_topic(w.brokers, OUT_TOPIC, 1, out, N);
    for (int i = 0; i < N; i++) {
        int seq = atoi(out[i].value + 3); /* "k0:<i>" */
        char want[16] = "";
        if (seq % 2 == 0) snprintf(want, sizeof want, "h%d", seq);
        assert_string_equal(out[i].echo, want);
    }
    owner_free(&o);
    world_stop(&w);
}

/* librdkafka's queue is tiny: produce calls must wait in kafka_io's FIFO, not fail, and outputs
 * keep their order. With lend, values are lent (no copy on the way to librdkafka) and must arrive
 * the same; each buffer is the owner's again at its report (freed there: ASan would see
 * librdkafka or kafka_io reading or freeing it later). */
static void queue_full_run(const char *group, bool lend) {
    world w;
    world_start(&w, 1);
    enum { KEYS = 4, PER_KEY = 50, N = KEYS * PER_KEY };
    seed(w.brokers, IN_TOPIC, N, KEYS);
    kafka_io_property small[] = {{"queue.buffering.max.messages", "5"}};
    owner o;
    owner_start(
        &o, &w.loop, "A", w.brokers,
        &(io_setup){.group = group, .batch_max = 50, .wait_ms = 5, .extra = small, .n_extra = 1});
    o.produce_outputs = true;
    o.lend = lend;
    run_until_counts(&o, N, N);
    kafka_io_counters c;
    kafka_io_get_counters(o.io, &c);
    assert_true(c.queue_full_waits > 0);
    assert_int_equal(c.messages_delivered, N);
    assert_int_equal(c.delivery_failures, 0);
    /* A lent message without a callback is refused: nothing would say when to free it. */
    px_error err;
    assert_int_equal(
        kafka_io_produce_lent(o.io, OUT_TOPIC, "k", 1, "v", 1, NULL, 0, NULL, NULL, &err), -1);
    assert_non_null(strstr(err.msg, "delivery callback"));
    owner_close(&o);
    assert_topic_per_key_order(w.brokers, OUT_TOPIC, 1, N, KEYS, PER_KEY);
    owner_free(&o);
    world_stop(&w);
}

static void test_queue_full_backpressure(void **state) {
    (void)state;
    queue_full_run("g-qfull", false);
}

static void test_lent_values(void **state) {
    (void)state;
    queue_full_run("g-lent", true);
}

/* Transactions on the mock: every batch commits; a batch given back aborts its transaction and is
 * consumed again. (The mock stores no transactional offsets: what a restart would see is only
 * provable on a real cluster, so it is not asserted here.) */
static void abort_second_batch(owner *o, const kafka_io_batch *b) {
    if (o->batches == 2 && !o->hook_state) {
        o->hook_state = 1;
        /* Produce some outputs first: they belong to the aborted transaction. */
        pending_store *ps = malloc(sizeof *ps);
        *ps = (pending_store){o, b->msgs[0].topic, b->msgs[0].partition, b->msgs[0].offset, NULL};
        px_error err;
        assert_int_equal(
            kafka_io_produce(o->io, OUT_TOPIC, "x", 1, "aborted", 7, on_delivery, ps, &err), 0);
        o->done = (int)b->msgs[0].offset;
        kafka_io_batch_retry(o->io, b);
        return;
    }
    process_batch(o, b);
}

static void test_transactions(void **state) {
    (void)state;
    world w;
    world_start(&w, 1);
    enum { N = 60 };
    seed(w.brokers, IN_TOPIC, N, 3);
    kafka_io_property txn[] = {{"transactional.id", "passerelle-test-txn"}};
    owner o;
    owner_start(
        &o, &w.loop, "T", w.brokers,
        &(io_setup){.group = "g-txn", .batch_max = 10, .wait_ms = 5, .extra = txn, .n_extra = 1});
    o.produce_outputs = true;
    o.hook = abort_second_batch;
    run_until_counts(&o, N, N);
    uint64_t start = uv_now(&w.loop);
    kafka_io_counters c;
    for (;;) { /* the last commit finishes after the last delivery */
        kafka_io_get_counters(o.io, &c);
        if (c.transactions_committed * 10 >= N || uv_now(&w.loop) - start > WAIT_MS) break;
        px_test_run_for(&w.loop, 20);
    }
    assert_int_equal(o.fatal, 0);
    assert_int_equal(c.transactions_aborted, 1);
    assert_int_equal(c.batches_retried, 1);
    assert_int_equal(c.transactions_committed, N / 10);
    /* Each input once in the record (the aborted batch was not recorded), in order. */
    assert_int_equal(o.n_recs, N);
    for (size_t i = 0; i < N; i++) assert_int_equal(o.recs[i].offset, (int64_t)i);
    /* Outside a batch a transactional produce is refused. */
    px_error err;
    assert_int_equal(kafka_io_produce(o.io, OUT_TOPIC, "k", 1, "v", 1, NULL, NULL, &err), -1);
    assert_non_null(strstr(err.msg, "transactional"));
    owner_close(&o);
    owner_free(&o);
    world_stop(&w);
}

/* A commit that fails with an error requiring an abort (the broker refuses the transaction's
 * offsets: ApiKey 28 TxnOffsetCommit) is aborted, the batch consumed again and committed on the
 * next try; nothing is lost and the instance carries on. */
static void inject_txn_error_after_first(owner *o, const kafka_io_batch *b) {
    if (o->batches == 2 && !o->hook_state) {
        o->hook_state = 1;
        rd_kafka_mock_push_request_errors(o->mock, 28, 1, RD_KAFKA_RESP_ERR_UNKNOWN_MEMBER_ID);
    }
    process_batch(o, b);
}

static void test_transaction_abortable_error(void **state) {
    (void)state;
    world w;
    world_start(&w, 1);
    enum { N = 40 };
    seed(w.brokers, IN_TOPIC, N, 2);
    kafka_io_property txn[] = {{"transactional.id", "passerelle-test-txn-fault"}};
    owner o;
    owner_start(
        &o, &w.loop, "TF", w.brokers,
        &(io_setup){
            .group = "g-txn-fault", .batch_max = 10, .wait_ms = 5, .extra = txn, .n_extra = 1});
    o.produce_outputs = true;
    o.lend = true; /* as the daemon produces: the aborted transaction's reports free the buffers */
    o.mock = kafka_embedded_mock(w.kb);
    o.hook = inject_txn_error_after_first;
    kafka_io_counters c;
    uint64_t start = uv_now(&w.loop);
    for (;;) {
        kafka_io_get_counters(o.io, &c);
        if (c.transactions_committed >= N / 10 || uv_now(&w.loop) - start > WAIT_MS) break;
        px_test_run_for(&w.loop, 20);
    }
    assert_int_equal(o.fatal, 0);
    assert_int_equal(c.transactions_committed, N / 10);
    assert_int_equal(c.transactions_aborted, 1);
    /* The aborted batch (offsets 10..19) was handed over twice, everything else once, in order. */
    assert_int_equal(o.n_recs, N + 10);
    size_t next = 0;
    for (size_t i = 0; i < o.n_recs; i++) {
        if (i == 20) next = 10; /* the rewind */
        assert_int_equal(o.recs[i].offset, (int64_t)next);
        next++;
    }
    owner_close(&o);
    owner_free(&o);
    world_stop(&w);
}

/* A slow owner: fetching pauses when max_buffered_messages are waiting, so memory stays bounded,
 * and resumes as the owner catches up; nothing is lost or reordered. */
static uv_timer_t slow_timer;

static void slow_release_cb(uv_timer_t *t) {
    owner *o = t->data;
    const kafka_io_batch *b = o->held;
    o->held = NULL;
    process_batch(o, b);
}

static void slow_owner(owner *o, const kafka_io_batch *b) {
    kafka_io_counters c;
    kafka_io_get_counters(o->io, &c);
    if (c.buffered_messages > (size_t)o->done)
        o->done = (int)c.buffered_messages; /* high-water mark */
    o->held = b;
    uv_timer_start(&slow_timer, slow_release_cb, 15, 0);
}

static void test_slow_owner_bounded_buffer(void **state) {
    (void)state;
    world w;
    world_start(&w, 2);
    enum { N = 600, MAX_BUFFERED = 30 };
    seed(w.brokers, IN_TOPIC, N, 6);
    owner o;
    owner_start(
        &o, &w.loop, "S", w.brokers,
        &(io_setup){
            .group = "g-slow", .batch_max = 10, .wait_ms = 5, .max_buffered = MAX_BUFFERED});
    uv_timer_init(&w.loop, &slow_timer);
    slow_timer.data = &o;
    o.hook = slow_owner;
    run_until_counts(&o, N, 0);
    assert_true(o.done > 0);
    assert_true(o.done <= MAX_BUFFERED);
    const char **v = values_of(o.recs, o.n_recs);
    assert_per_key_order(v, o.n_recs, 6, N / 6);
    free(v);
    uv_close((uv_handle_t *)&slow_timer, NULL);
    owner_close(&o);
    owner_free(&o);
    world_stop(&w);
}

/* A fatal error (the transaction coordinator says this producer was fenced by a newer instance with
 * the same transactional.id) reaches on_error as fatal; no batch is handed over after it, and the
 * instance still closes cleanly. */
static void inject_fenced(owner *o, const kafka_io_batch *b) {
    if (o->batches == 1)
        rd_kafka_mock_push_request_errors(o->mock, 26, 1, RD_KAFKA_RESP_ERR_PRODUCER_FENCED);
    assert_int_equal(o->fatal, 0); /* nothing after the fatal error */
    process_batch(o, b);
}

static void test_fatal_error_reported(void **state) {
    (void)state;
    world w;
    world_start(&w, 1);
    seed(w.brokers, IN_TOPIC, 30, 2);
    kafka_io_property txn[] = {{"transactional.id", "passerelle-test-fenced"}};
    owner o;
    owner_start(
        &o, &w.loop, "FE", w.brokers,
        &(io_setup){
            .group = "g-fenced", .batch_max = 10, .wait_ms = 5, .extra = txn, .n_extra = 1});
    o.produce_outputs = true;
    o.mock = kafka_embedded_mock(w.kb);
    o.hook = inject_fenced;
    uint64_t start = uv_now(&w.loop);
    while (!o.fatal && uv_now(&w.loop) - start < WAIT_MS) px_test_run_for(&w.loop, 20);
    assert_true(o.fatal >= 1);
    size_t batches = o.batches;
    px_test_run_for(&w.loop, 500);
    assert_int_equal(o.batches, batches);
    px_error err;
    assert_int_equal(kafka_io_produce(o.io, OUT_TOPIC, "k", 1, "v", 1, NULL, NULL, &err), -1);
    owner_close(&o);
    owner_free(&o);
    world_stop(&w);
}

/* Faults: produce requests fail with retriable errors and the broker goes down for a while; the
 * idempotent producer and the consumer recover by themselves; nothing is lost or duplicated. */
static void broker_up_cb(uv_timer_t *t) {
    world *w = t->data;
    assert_int_equal(rd_kafka_mock_broker_set_up(kafka_embedded_mock(w->kb), 1), 0);
    uv_close((uv_handle_t *)t, NULL);
}

static void test_faults_recovered(void **state) {
    (void)state;
    world w;
    world_start(&w, 2);
    enum { KEYS = 8, PER_KEY = 40, N = KEYS * PER_KEY };
    seed(w.brokers, IN_TOPIC, N / 2, KEYS);
    rd_kafka_mock_cluster_t *mc = kafka_embedded_mock(w.kb);
    owner o;
    owner_start(&o, &w.loop, "F", w.brokers,
                &(io_setup){.group = "g-fault", .batch_max = 20, .wait_ms = 5});
    o.produce_outputs = true;
    uint64_t start = uv_now(&w.loop);
    while (o.delivered < 40 && uv_now(&w.loop) - start < WAIT_MS) px_test_run_for(&w.loop, 10);
    assert_true(o.delivered >= 40);
    /* ApiKey 0 = Produce: retriable errors on the next produce requests. */
    rd_kafka_mock_push_request_errors(
        mc, 0, 4, RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION, RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT,
        RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS, RD_KAFKA_RESP_ERR_LEADER_NOT_AVAILABLE);
    px_test_run_for(&w.loop, 200);
    /* Broker down for 1.5 s while traffic continues. */
    assert_int_equal(rd_kafka_mock_broker_set_down(mc, 1), 0);
    uv_timer_t up;
    uv_timer_init(&w.loop, &up);
    up.data = &w;
    uv_timer_start(&up, broker_up_cb, 1500, 0);
    px_test_run_for(&w.loop, 1600);
    seed(w.brokers, IN_TOPIC, N / 2, KEYS);
    run_until_counts(&o, N, N);
    assert_int_equal(o.fatal, 0);
    assert_int_equal(o.delivery_errors, 0);
    assert_true(o.logs > 0); /* the disconnections were logged through on_log */
    owner_close(&o);
    /* Outputs: exactly N, per-key order kept (idempotence: retries did not duplicate). Both seeds
     * restart the sequences, so check each half separately by counting values. */
    plain_msg *out = calloc(N, sizeof *out);
    read_topic(w.brokers, OUT_TOPIC, 2, out, N);
    int counts[KEYS][PER_KEY / 2];
    memset(counts, 0, sizeof counts);
    for (int i = 0; i < N; i++) {
        int k, seq;
        assert_int_equal(sscanf(out[i].value, "k%d:%d", &k, &seq), 2);
        assert_true(k < KEYS && seq < PER_KEY / 2);
        counts[k][seq]++;
    }
    for (int k = 0; k < KEYS; k++)
        for (int s = 0; s < PER_KEY / 2; s++) assert_int_equal(counts[k][s], 2);
    free(out);
    owner_free(&o);
    world_stop(&w);
}

/* The memory bounds kafka_io gives librdkafka: applied when no property names them, a property
 * wins over each, and fetch.max.bytes follows a larger message.max.bytes (librdkafka refuses a
 * smaller one). No broker needed: the handles are created, never started. */
static void expect_property(kafka_io *io, bool producer, const char *name, const char *want) {
    char buf[64];
    assert_int_equal(kafka_io_property_value(io, producer, name, buf, sizeof buf), 0);
    assert_string_equal(buf, want);
}

static void test_memory_bounds(void **state) {
    (void)state;
    uv_loop_t loop;
    uv_loop_init(&loop);
    px_error err = {0};
    static const char *const topics[] = {IN_TOPIC};
    kafka_io_property props[] = {{"bootstrap.servers", "127.0.0.1:1"},
                                 {"queued.min.messages", "5000"},
                                 {"message.max.bytes", "3000000"},
                                 {"message.copy.max.bytes", "4096"}};
    kafka_io_options o = {.properties = props,
                          .n_properties = 1,
                          .group_id = "g",
                          .input_topics = topics,
                          .n_input_topics = 1};
    kafka_io *io = kafka_io_new(&loop, &o, &owner_cbs, NULL, &err);
    assert_non_null(io);
    expect_property(io, false, "queued.min.messages", "1000");
    expect_property(io, false, "queued.max.messages.kbytes", "2048");
    expect_property(io, false, "fetch.max.bytes", "1048576");
    expect_property(io, true, "message.copy.max.bytes", "0");
    char buf[4];
    assert_int_equal(kafka_io_property_value(io, false, "fetch.max.bytes", buf, sizeof buf), -1);
    kafka_io_free(io);

    o.n_properties = 4;
    io = kafka_io_new(&loop, &o, &owner_cbs, NULL, &err);
    if (!io) fail_msg("kafka_io_new: %s", err.msg);
    expect_property(io, false, "queued.min.messages", "5000");
    expect_property(io, false, "queued.max.messages.kbytes", "2048");
    expect_property(io, false, "fetch.max.bytes", "3000000");
    expect_property(io, true, "message.copy.max.bytes", "4096");
    kafka_io_free(io);

    kafka_io_property fetch[] = {{"bootstrap.servers", "127.0.0.1:1"},
                                 {"fetch.max.bytes", "2000000"}};
    o.properties = fetch;
    o.n_properties = 2;
    io = kafka_io_new(&loop, &o, &owner_cbs, NULL, &err);
    if (!io) fail_msg("kafka_io_new: %s", err.msg);
    expect_property(io, false, "fetch.max.bytes", "2000000");
    kafka_io_free(io);
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&loop), 0);
}

static void test_bad_options(void **state) {
    (void)state;
    uv_loop_t loop;
    uv_loop_init(&loop);
    px_error err = {0};
    static const char *const topics[] = {IN_TOPIC};
    static const char *const bad_topics[] = {"in topic"};
    kafka_io_property bad_prop[] = {{"no.such.property", "1"}};
    kafka_io_property bad_val[] = {{"session.timeout.ms", "banana"}};
    kafka_io_options o = {.group_id = "g", .input_topics = topics, .n_input_topics = 1};

    o.properties = bad_prop;
    o.n_properties = 1;
    assert_null(kafka_io_new(&loop, &o, &owner_cbs, NULL, &err));
    assert_non_null(strstr(err.msg, "no.such.property"));

    o.properties = bad_val;
    assert_null(kafka_io_new(&loop, &o, &owner_cbs, NULL, &err));
    assert_non_null(strstr(err.msg, "session.timeout.ms"));
    /* a long value is quoted cut, never inside a character ("€" across byte 128) */
    char long_value[200];
    memset(long_value, '9', sizeof long_value - 1);
    memcpy(long_value + 126, "\xe2\x82\xac", 3);
    long_value[sizeof long_value - 1] = '\0';
    bad_val[0].value = long_value;
    assert_null(kafka_io_new(&loop, &o, &owner_cbs, NULL, &err));
    assert_true(utf8_valid(err.msg, strlen(err.msg), NULL));
    assert_non_null(strstr(err.msg, "'99"));
    assert_non_null(strstr(err.msg, "99...': ")); /* the 126 nines, not the cut "€" */

    o.n_properties = 0;
    o.input_topics = bad_topics;
    assert_null(kafka_io_new(&loop, &o, &owner_cbs, NULL, &err));
    assert_non_null(strstr(err.msg, "in topic"));

    o.input_topics = topics;
    o.group_id = "";
    assert_null(kafka_io_new(&loop, &o, &owner_cbs, NULL, &err));
    assert_non_null(strstr(err.msg, "group"));

    o.group_id = "g";
    o.batch_max_messages = KAFKA_IO_MAX_BATCH + 1;
    assert_null(kafka_io_new(&loop, &o, &owner_cbs, NULL, &err));
    assert_non_null(strstr(err.msg, "batch"));

    o.batch_max_messages = 100;
    o.max_buffered_messages = 50;
    assert_null(kafka_io_new(&loop, &o, &owner_cbs, NULL, &err));
    assert_non_null(strstr(err.msg, "max_buffered"));

    /* Embedded broker bounds. */
    assert_null(kafka_embedded_start(0, topics, 1, 1, 1, &err));
    assert_null(kafka_embedded_start(1, topics, 1, 0, 1, &err));
    assert_null(kafka_embedded_start(1, topics, 1, KAFKA_EMBEDDED_MAX_PARTITIONS + 1, 1, &err));
    assert_non_null(strstr(err.msg, "partitions"));
    static const char *const twice[] = {IN_TOPIC, IN_TOPIC};
    assert_null(kafka_embedded_start(1, twice, 2, 1, 1, &err));
    assert_non_null(strstr(err.msg, "twice"));
    char long_name[KAFKA_TOPIC_NAME_MAX + 2];
    memset(long_name, 'a', sizeof long_name - 1);
    long_name[sizeof long_name - 1] = '\0';
    assert_int_equal(kafka_topic_name_check(long_name, &err), -1);
    long_name[KAFKA_TOPIC_NAME_MAX] = '\0';
    assert_int_equal(kafka_topic_name_check(long_name, &err), 0);
    assert_int_equal(kafka_topic_name_check("..", &err), -1);
    assert_int_equal(uv_loop_close(&loop), 0);
}

/* Two input topics in one kafka_io: both are consumed and message views name the right topic. */
static void test_two_input_topics(void **state) {
    (void)state;
    world w;
    world_start(&w, 1);
    seed(w.brokers, IN_TOPIC, 30, 3);
    seed(w.brokers, IN2_TOPIC, 20, 2);
    static const char *const topics[] = {IN_TOPIC, IN2_TOPIC};
    owner o;
    owner_start(
        &o, &w.loop, "A", w.brokers,
        &(io_setup){
            .group = "g-two", .batch_max = 7, .wait_ms = 5, .topics = topics, .n_topics = 2});
    run_until_counts(&o, 50, 0);
    size_t in1 = 0, in2 = 0;
    for (size_t i = 0; i < o.n_recs; i++) {
        if (!strcmp(o.recs[i].topic, IN_TOPIC))
            in1++;
        else if (!strcmp(o.recs[i].topic, IN2_TOPIC))
            in2++;
    }
    assert_int_equal(in1, 30);
    assert_int_equal(in2, 20);
    assert_true(o.max_batch <= 7);
    owner_close(&o);
    owner_free(&o);
    world_stop(&w);
}

/* SIGTERM with a batch in the owner's hands: close waits for the owner to finish it, its offsets
 * are committed on the way out, and the next member of the group starts after it. */
static void hold_batch(owner *o, const kafka_io_batch *b) {
    if (!o->held && o->batches == 1) {
        o->held = b;
        return;
    }
    process_batch(o, b);
}

static void release_held_cb(uv_timer_t *t) {
    owner *o = t->data;
    assert_false(o->closed); /* close is still waiting for this batch */
    process_batch(o, o->held);
    o->hook_state = 1;
    uv_close((uv_handle_t *)t, NULL);
}

static void test_close_finishes_open_batch(void **state) {
    (void)state;
    world w;
    world_start(&w, 1);
    enum { N = 30 };
    seed(w.brokers, IN_TOPIC, N, 1);
    owner a;
    owner_start(&a, &w.loop, "A", w.brokers,
                &(io_setup){.group = "g-close", .batch_max = 10, .wait_ms = 5});
    a.hook = hold_batch;
    uint64_t start = uv_now(&w.loop);
    while (!a.held && uv_now(&w.loop) - start < WAIT_MS) px_test_run_for(&w.loop, 10);
    assert_non_null(a.held);
    uv_timer_t t;
    uv_timer_init(&w.loop, &t);
    t.data = &a;
    uv_timer_start(&t, release_held_cb, 300, 0);
    kafka_io_close(a.io);
    assert_int_equal(px_test_run_until(&w.loop, &a.closed, WAIT_MS), 0);
    assert_int_equal(a.hook_state, 1); /* closed only after the batch was finished */
    assert_int_equal(a.batches, 1);    /* and no other batch was handed over while closing */
    kafka_io_free(a.io);

    owner b;
    owner_start(&b, &w.loop, "B", w.brokers,
                &(io_setup){.group = "g-close", .batch_max = 10, .wait_ms = 5});
    run_until_counts(&b, N - 10, 0);
    assert_int_equal(b.recs[0].offset, 10);
    owner_close(&b);
    owner_free(&a);
    owner_free(&b);
    world_stop(&w);
}

/* An owner that never finishes its batch cannot hold shutdown hostage: close gives up after
 * close_timeout_ms (5 s here), leaves the group, and free releases the batch. */
static void keep_batch(owner *o, const kafka_io_batch *b) { o->held = b; }

static void test_close_deadline(void **state) {
    (void)state;
    world w;
    world_start(&w, 1);
    seed(w.brokers, IN_TOPIC, 10, 1);
    owner o;
    owner_start(&o, &w.loop, "D", w.brokers,
                &(io_setup){.group = "g-deadline", .batch_max = 10, .wait_ms = 5});
    o.hook = keep_batch;
    uint64_t start = uv_now(&w.loop);
    while (!o.held && uv_now(&w.loop) - start < WAIT_MS) px_test_run_for(&w.loop, 10);
    assert_non_null(o.held);
    start = uv_now(&w.loop);
    kafka_io_close(o.io);
    assert_int_equal(px_test_run_until(&w.loop, &o.closed, WAIT_MS), 0);
    uint64_t took = uv_now(&w.loop) - start;
    assert_true(took >= 4900 && took < 15000);
    kafka_io_free(o.io);
    owner_free(&o);
    world_stop(&w);
}

/* Starts owner o alone in its group, waits until it holds both partitions, then pauses it. */
static void start_paused_owner(owner *o, world *w, const io_setup *s) {
    owner_start(o, &w->loop, "A", w->brokers, s);
    uint64_t start = uv_now(&w->loop);
    while (o->assigned < 2 && uv_now(&w->loop) - start < WAIT_MS) px_test_run_for(&w->loop, 10);
    assert_int_equal(o->assigned, 2);
    kafka_io_pause(o->io);
}

/* A paused member stays paused across a rebalance: partitions assigned while paused are paused
 * too (no batch), and resuming delivers everything it owns. */
static void test_pause_survives_rebalance(void **state) {
    (void)state;
    world w;
    world_start(&w, 2);
    enum { N = 40 };
    seed(w.brokers, IN_TOPIC, N, 8);
    io_setup s = {.group = "g-pause-rb", .batch_max = 5, .wait_ms = 5};
    owner a, b;
    start_paused_owner(&a, &w, &s);
    size_t before = a.n_recs;
    owner_start(&b, &w.loop, "B", w.brokers, &s);
    uint64_t start = uv_now(&w.loop);
    while ((!b.assigned || a.rebalances < 3) && uv_now(&w.loop) - start < WAIT_MS)
        px_test_run_for(&w.loop, 10);
    assert_true(b.assigned > 0);
    px_test_run_for(&w.loop, 1000);
    assert_int_equal(a.n_recs, before); /* nothing while paused, reassignment included */
    kafka_io_resume(a.io);
    run_until_distinct(&w.loop, &a, &b, N);
    owner_close(&b);
    owner_close(&a);
    owner_free(&a);
    owner_free(&b);
    world_stop(&w);
}

/* Regression (bench/chaos stalled for good after a rebalance): a pause lifted while nothing is
 * assigned must not hold the partitions when they come back. librdkafka keeps a partition's
 * pause through its revocation; here the owner resumes from the revocation callback, then gets
 * one of the partitions it had paused again. */
static void test_resume_while_unassigned(void **state) {
    (void)state;
    world w;
    world_start(&w, 2);
    enum { N = 40 };
    io_setup s = {.group = "g-resume-unassigned", .batch_max = 5, .wait_ms = 5};
    owner a, b;
    start_paused_owner(&a, &w, &s);
    a.resume_on_revoke = true;
    owner_start(&b, &w.loop, "B", w.brokers, &s);
    uint64_t start = uv_now(&w.loop);
    while ((!b.assigned || a.assigned < 3) && uv_now(&w.loop) - start < WAIT_MS)
        px_test_run_for(&w.loop, 10);
    assert_int_equal(a.revoked, 2);
    assert_false(kafka_io_paused(a.io));
    assert_int_equal(a.assignment[0] + a.assignment[1], 1);
    seed(w.brokers, IN_TOPIC, N, 8);        /* 8 keys: both partitions get messages */
    run_until_distinct(&w.loop, &a, &b, N); /* A's partition is fetched again */
    assert_true(a.n_recs > 0 && b.n_recs > 0);
    owner_close(&b);
    owner_close(&a);
    owner_free(&a);
    owner_free(&b);
    world_stop(&w);
}

/* `kafka_io_test --killable-owner BROKERS GROUP N [INTERVAL_MS]`, run by the test below in a
 * process of its own: consumes N messages of IN_TOPIC as a member of GROUP, storing each offset
 * at once (auto.commit.interval.ms = INTERVAL_MS when given), says "consumed" on fd 3, then
 * runs until it is killed (or its parent is gone). */
static int killable_owner(int argc, char **argv) {
    uv_loop_t loop;
    uv_loop_init(&loop);
    const kafka_io_property interval = {"auto.commit.interval.ms", argc > 5 ? argv[5] : ""};
    owner o;
    owner_start(&o, &loop, "K", argv[2],
                &(io_setup){.group = argv[3],
                            .batch_max = 16,
                            .wait_ms = 5,
                            .extra = &interval,
                            .n_extra = argc > 5});
    size_t n = strtoul(argv[4], NULL, 10);
    while (o.n_recs < n) px_test_run_for(&loop, 20);
    if (write(3, "consumed\n", 9) != 9) return 1;
    pid_t parent = getppid();
    while (getppid() == parent) px_test_run_for(&loop, 200); /* not orphaned if the test dies */
    return 1;
}

/* Has a killable owner consume the N messages of IN_TOPIC, SIGKILLs it `after_ms` later (no
 * close: nothing is committed on the way out) and returns how many of them the next member of
 * the group consumes again. interval_ms NULL leaves auto.commit.interval.ms to kafka_io. */
static size_t replayed_after_kill(world *w, const char *group, const char *interval_ms,
                                  unsigned after_ms) {
    enum { N = 200 }; /* the test seeds them */
    char n[16];
    snprintf(n, sizeof n, "%d", N);
    int out[2];
    assert_int_equal(pipe(out), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) { /* exec at once: the mock cluster's threads are not in this copy */
        dup2(out[1], 3);
        execl("/proc/self/exe", "kafka_io_test", "--killable-owner", w->brokers, group, n,
              interval_ms, (char *)NULL);
        _exit(127);
    }
    close(out[1]);
    struct pollfd pfd = {out[0], POLLIN, 0};
    char said[16] = "";
    if (poll(&pfd, 1, WAIT_MS) == 1) (void)!read(out[0], said, sizeof said - 1);
    close(out[0]);
    uv_sleep(after_ms); /* not the loop's timer: its cached time is from before the poll */
    kill(pid, SIGKILL);
    assert_int_equal(waitpid(pid, NULL, 0), pid);
    if (strncmp(said, "consumed", 8)) fail_msg("the owner to kill did not consume its %d", N);

    owner b; /* joins once the killed member's session (3 s) has timed out */
    owner_start(&b, &w->loop, "B", w->brokers,
                &(io_setup){.group = group, .batch_max = 16, .wait_ms = 5});
    uint64_t start = uv_now(&w->loop);
    while (!b.assigned && uv_now(&w->loop) - start < WAIT_MS) px_test_run_for(&w->loop, 20);
    assert_true(b.assigned > 0);
    px_test_run_for(&w->loop, 1000);
    size_t replayed = b.n_recs;
    owner_close(&b);
    owner_free(&b);
    return replayed;
}

/* Without transactions, stored offsets are committed within KAFKA_IO_COMMIT_INTERVAL_MS, not on
 * librdkafka's 5 s timer: an owner killed a second after its last store replays nothing. With
 * the interval a property sets (a minute here), the same kill replays everything. */
static void test_kill_replays_little(void **state) {
    (void)state;
    world w;
    world_start(&w, 1);
    assert_true(KAFKA_IO_COMMIT_INTERVAL_MS * 5 <= 1000);
    seed(w.brokers, IN_TOPIC, 200, 10);
    assert_int_equal(replayed_after_kill(&w, "g-kill", NULL, 1000), 0);
    assert_int_equal(replayed_after_kill(&w, "g-kill-slow", "60000", 1000), 200);
    world_stop(&w);
}

int main(int argc, char **argv) {
    loop_thread = pthread_self();
    if (argc > 4 && !strcmp(argv[1], "--killable-owner")) return killable_owner(argc, argv);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bad_options),
        cmocka_unit_test(test_batches_order_and_outputs),
        cmocka_unit_test(test_two_input_topics),
        cmocka_unit_test(test_offsets_only_after_delivery),
        cmocka_unit_test(test_kill_replays_little),
        cmocka_unit_test(test_memory_bounds),
        cmocka_unit_test(test_pause_retry_resume),
        cmocka_unit_test(test_tombstones),
        cmocka_unit_test(test_queue_full_backpressure),
        cmocka_unit_test(test_headers),
        cmocka_unit_test(test_lent_values),
        cmocka_unit_test(test_transactions),
        cmocka_unit_test(test_transaction_abortable_error),
        cmocka_unit_test(test_slow_owner_bounded_buffer),
        cmocka_unit_test(test_fatal_error_reported),
        cmocka_unit_test(test_faults_recovered),
        cmocka_unit_test(test_rebalance_eager),
        cmocka_unit_test(test_rebalance_cooperative),
        cmocka_unit_test(test_close_finishes_open_batch),
        cmocka_unit_test(test_close_deadline),
        cmocka_unit_test(test_pause_survives_rebalance),
        cmocka_unit_test(test_resume_while_unassigned),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
