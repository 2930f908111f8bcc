#include "kafka_io.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/types.h>
#include <unistd.h>

#include <librdkafka/rdkafka.h>

#include "kafka_embedded.h"
#include "utf8.h"

#define KIO_TXN_RETRY_MS  200  /* pause before retrying a retriable transactional call */
#define KIO_FREE_DRAIN_MS 2000 /* kafka_io_free(): budget to collect purged delivery reports */
#define KIO_HANDLES       5    /* wake_poll + 4 timers */
/* librdkafka's message.max.bytes default */
#define KIO_DEFAULT_MESSAGE_MAX 1000000

/* A handed-over message waiting for kafka_io_store_offset(). */
typedef struct kio_pending {
    int64_t offset;
    bool done;
} kio_pending;

/* One partition this member has (or had) in its assignment. Slots are reused on reassignment. */
typedef struct kio_part {
    size_t topic; /* index in io->topics */
    int32_t partition;
    bool assigned;
    int64_t next_offset;   /* offset after the last message received; -1 unknown */
    int64_t stored_offset; /* last value given to rd_kafka_offsets_store; -1 none */
    kio_pending *ring;     /* handed-over messages, ascending offsets */
    size_t head, len, cap;
} kio_part;

/* The per-message opaque given to librdkafka, and the FIFO entry while librdkafka's queue is
 * full. */
typedef struct kio_delivery {
    struct kio_delivery *next; /* FIFO link */
    kafka_io_delivery_cb cb;
    void *msg_opaque;
    char *topic; /* FIFO only: waiting for room in librdkafka's queue (topic always a copy) */
    void *key, *value;
    size_t key_len, value_len;
    bool lent; /* the value is the owner's (kafka_io_produce_lent): never copied or freed here */
    rd_kafka_headers_t *headers; /* ours until librdkafka accepts the message; NULL: none */
} kio_delivery;

typedef enum kio_txn_op { KIO_TXN_INIT = 0, KIO_TXN_COMMIT = 1, KIO_TXN_ABORT = 2 } kio_txn_op;

/* The lifecycle. Changed only by kio_set_state(), against kio_state_next[]. */
typedef enum kio_state {
    KIO_NEW,              /* created; kafka_io_start() not called yet, or it failed */
    KIO_RUNNING,          /* subscribed, librdkafka's queues served, batches handed over */
    KIO_CLOSING_BATCH,    /* close(): waits for the owner's batch, the transaction, deliveries */
    KIO_CLOSING_OVERDUE,  /* close_timeout_ms passed: waits only for a transactional call */
    KIO_CLOSING_CONSUMER, /* leaving the group through rd_kafka_consumer_close_queue() */
    KIO_CLOSED,           /* the group is left; on_closed is scheduled */
    KIO_CLOSED_UNSTARTED, /* close() before a successful start: nothing to leave */
    KIO_FREEING,          /* kafka_io_free(): no callback reaches the owner any more */
} kio_state;

/* The transaction of the current batch (with transactional.id only). Changed only by
 * kio_txn_set_state(), against kio_txn_next[]. The three "call running" states are the only ones
 * in which txn_work is queued. */
typedef enum kio_txn_state {
    KIO_TXN_UNINIT,        /* before kafka_io_start(), and always without transactional.id */
    KIO_TXN_INITIALIZING,  /* call running: init_transactions */
    KIO_TXN_READY,         /* no transaction: the next batch begins one */
    KIO_TXN_OPEN,          /* begun; its batch is with the owner */
    KIO_TXN_COMMIT_WANTED, /* batch released; the commit waits for kafka_io's FIFO to drain */
    KIO_TXN_COMMITTING,    /* call running: send_offsets_to_transaction + commit_transaction */
    KIO_TXN_ABORTING,      /* call running: abort_transaction */
    KIO_TXN_RETRY_WAIT,    /* txn_op failed retriably and runs again when retry_timer fires */
    KIO_TXN_FAILED,        /* a call failed for good (reported fatal): nothing runs any more */
} kio_txn_state;

/* kio_pump()'s re-entrancy guard. Owner callbacks run inside a pump (on_batch, on_error,
 * deliveries, rebalances) and may call back into kafka_io, which asks for a pump again: a pump
 * requested while pumping does not recurse, it runs once more after the current one. */
typedef enum kio_pump_state {
    KIO_PUMP_IDLE,
    KIO_PUMP_RUNNING,
    KIO_PUMP_AGAIN, /* requested while running: one more round follows */
} kio_pump_state;

struct kafka_io {
    uv_loop_t *loop;
    kafka_io_callbacks cbs;
    void *opaque;

    char **topics; /* input topics, owned; message views point here */
    size_t n_topics;
    size_t batch_max, max_buffered;
    unsigned batch_wait_ms, close_timeout_ms, txn_timeout_ms;

    rd_kafka_t *consumer, *producer;
    rd_kafka_queue_t *consumer_q, *producer_q, *close_q;
    int wake_fd; /* eventfd every librdkafka queue we serve writes to */
    uv_poll_t wake_poll;
    uv_timer_t batch_timer, retry_timer, close_timer, notify_timer;
    int open_handles; /* libuv handles not yet closed; memory is freed at 0 */

    kio_part *parts;
    size_t n_parts, cap_parts;

    rd_kafka_message_t **buf; /* fetched, not yet handed over: buf[buf_head .. buf_head+buf_len) */
    size_t buf_head, buf_len, buf_cap;
    uint64_t buf_since; /* loop time the first message entered the empty buffer */
    bool buf_overdue;   /* leftovers of a full batch: hand them over without waiting */

    kafka_io_msg *batch_msgs;
    rd_kafka_message_t **batch_rkm;
    kafka_io_batch batch;
    bool batch_out; /* a batch is with the owner */

    kio_delivery *fifo_head, *fifo_tail;
    size_t fifo_len;

    kio_state state;
    kio_pump_state pump;
    /* Sticky: set by the first fatal report, in any state. Not a lifecycle state, because the
     * owner still closes (and closing still awaits a transactional call in flight): it stops
     * batches and commits, and makes closing stop waiting for anything else. */
    bool fatal;
    /* Why fetching is paused: independent reasons, any one suffices (closing is another).
     * partitions_paused is what was last applied to librdkafka. */
    bool owner_paused, flow_paused, partitions_paused;
    bool revoked_while_paused; /* partitions left paused: librdkafka keeps that on reassignment */

    bool txn; /* transactional.id configured */
    kio_txn_state txn_state;
    kio_txn_op txn_op;     /* the call running, or to run again in KIO_TXN_RETRY_WAIT */
    bool txn_offsets_sent; /* set by the worker: a retried commit must not send them twice */
    rd_kafka_error_t *txn_error;
    uv_work_t txn_work;
    rd_kafka_topic_partition_list_t *txn_offsets; /* batch's last offset + 1 per partition */
    rd_kafka_topic_partition_list_t *txn_rewind;  /* batch's first offset per partition */
    rd_kafka_consumer_group_metadata_t *txn_cgmd;

    kafka_io_counters counters;
};

static const uint64_t kio_wake_payload = 1; /* eventfd writes must be 8 bytes */

static void kio_pump(kafka_io *io);

/* A librdkafka error in the project's vocabulary; the librdkafka code itself goes in
 * err->reason. */
static px_code kio_code(rd_kafka_resp_err_t e) {
    switch (e) {
    case RD_KAFKA_RESP_ERR__FATAL:
    case RD_KAFKA_RESP_ERR__FENCED: return PX_EFATAL;
    case RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE:
    case RD_KAFKA_RESP_ERR__QUEUE_FULL: return PX_ELIMIT;
    case RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC:
    case RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART: return PX_ENOTFOUND;
    case RD_KAFKA_RESP_ERR__PURGE_QUEUE:
    case RD_KAFKA_RESP_ERR__PURGE_INFLIGHT: return PX_ECLOSED;
    case RD_KAFKA_RESP_ERR__MSG_TIMED_OUT:
    case RD_KAFKA_RESP_ERR__TIMED_OUT:
    case RD_KAFKA_RESP_ERR__TRANSPORT:
    case RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN: return PX_EUNAVAILABLE;
    default: return PX_EREFUSED;
    }
}

static void kio_report(kafka_io *io, bool fatal, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void kio_report(kafka_io *io, bool fatal, const char *fmt, ...) {
    px_error e;
    va_list ap;
    va_start(ap, fmt);
    px_error_vset(&e, fatal ? PX_EFATAL : PX_EUNAVAILABLE, fmt, ap);
    va_end(ap);
    io->counters.errors++;
    if (fatal) io->fatal = true;
    if (io->state != KIO_FREEING) io->cbs.on_error(io, &e, fatal, io->opaque);
}

/* ---------- states: every change goes through kio_set_state() or kio_txn_set_state() ---------- */

#define KIO_BIT(s) (1u << (s))

static const char *const kio_state_names[] = {
    [KIO_NEW] = "NEW",
    [KIO_RUNNING] = "RUNNING",
    [KIO_CLOSING_BATCH] = "CLOSING_BATCH",
    [KIO_CLOSING_OVERDUE] = "CLOSING_OVERDUE",
    [KIO_CLOSING_CONSUMER] = "CLOSING_CONSUMER",
    [KIO_CLOSED] = "CLOSED",
    [KIO_CLOSED_UNSTARTED] = "CLOSED_UNSTARTED",
    [KIO_FREEING] = "FREEING",
};

/* Legal successors of each state. kafka_io_free() is accepted in every state. */
static const unsigned kio_state_next[] = {
    [KIO_NEW] = KIO_BIT(KIO_RUNNING) | KIO_BIT(KIO_CLOSED_UNSTARTED) | KIO_BIT(KIO_FREEING),
    [KIO_RUNNING] = KIO_BIT(KIO_CLOSING_BATCH) | KIO_BIT(KIO_FREEING),
    [KIO_CLOSING_BATCH] =
        KIO_BIT(KIO_CLOSING_OVERDUE) | KIO_BIT(KIO_CLOSING_CONSUMER) | KIO_BIT(KIO_FREEING),
    [KIO_CLOSING_OVERDUE] = KIO_BIT(KIO_CLOSING_CONSUMER) | KIO_BIT(KIO_FREEING),
    [KIO_CLOSING_CONSUMER] = KIO_BIT(KIO_CLOSED) | KIO_BIT(KIO_FREEING),
    [KIO_CLOSED] = KIO_BIT(KIO_FREEING),
    [KIO_CLOSED_UNSTARTED] = KIO_BIT(KIO_FREEING),
    [KIO_FREEING] = 0,
};

static const char *const kio_txn_state_names[] = {
    [KIO_TXN_UNINIT] = "UNINIT",
    [KIO_TXN_INITIALIZING] = "INITIALIZING",
    [KIO_TXN_READY] = "READY",
    [KIO_TXN_OPEN] = "OPEN",
    [KIO_TXN_COMMIT_WANTED] = "COMMIT_WANTED",
    [KIO_TXN_COMMITTING] = "COMMITTING",
    [KIO_TXN_ABORTING] = "ABORTING",
    [KIO_TXN_RETRY_WAIT] = "RETRY_WAIT",
    [KIO_TXN_FAILED] = "FAILED",
};

static const unsigned kio_txn_next[] = {
    [KIO_TXN_UNINIT] = KIO_BIT(KIO_TXN_INITIALIZING),
    [KIO_TXN_INITIALIZING] =
        KIO_BIT(KIO_TXN_READY) | KIO_BIT(KIO_TXN_RETRY_WAIT) | KIO_BIT(KIO_TXN_FAILED),
    [KIO_TXN_READY] = KIO_BIT(KIO_TXN_OPEN) | KIO_BIT(KIO_TXN_FAILED),
    [KIO_TXN_OPEN] = KIO_BIT(KIO_TXN_COMMIT_WANTED) | KIO_BIT(KIO_TXN_ABORTING),
    [KIO_TXN_COMMIT_WANTED] = KIO_BIT(KIO_TXN_COMMITTING),
    [KIO_TXN_COMMITTING] = KIO_BIT(KIO_TXN_READY) | KIO_BIT(KIO_TXN_ABORTING) |
                           KIO_BIT(KIO_TXN_RETRY_WAIT) | KIO_BIT(KIO_TXN_FAILED),
    [KIO_TXN_ABORTING] =
        KIO_BIT(KIO_TXN_READY) | KIO_BIT(KIO_TXN_RETRY_WAIT) | KIO_BIT(KIO_TXN_FAILED),
    [KIO_TXN_RETRY_WAIT] =
        KIO_BIT(KIO_TXN_INITIALIZING) | KIO_BIT(KIO_TXN_COMMITTING) | KIO_BIT(KIO_TXN_ABORTING),
    [KIO_TXN_FAILED] = 0,
};

/* An illegal transition is a bug in this file. It is reported as fatal (the owner closes) and
 * applied anyway, so that the state stays the one the caller acts on next. */
static void kio_set_state(kafka_io *io, kio_state to) {
    kio_state from = io->state;
    io->state = to;
    if (!(kio_state_next[from] & KIO_BIT(to)))
        kio_report(io, true, "kafka_io: bug: illegal state transition %s -> %s",
                   kio_state_names[from], kio_state_names[to]);
}

static void kio_txn_set_state(kafka_io *io, kio_txn_state to) {
    kio_txn_state from = io->txn_state;
    io->txn_state = to;
    if (!(kio_txn_next[from] & KIO_BIT(to)))
        kio_report(io, true, "kafka_io: bug: illegal transaction state transition %s -> %s",
                   kio_txn_state_names[from], kio_txn_state_names[to]);
}

/* Started and not freed: librdkafka's queues are served (also while closing and once closed,
 * for late delivery reports). */
static bool kio_serving(const kafka_io *io) {
    return io->state != KIO_NEW && io->state != KIO_CLOSED_UNSTARTED && io->state != KIO_FREEING;
}

/* A transactional call is running on the thread pool. */
static bool kio_txn_busy(const kafka_io *io) {
    return io->txn_state == KIO_TXN_INITIALIZING || io->txn_state == KIO_TXN_COMMITTING ||
           io->txn_state == KIO_TXN_ABORTING;
}

/* ---------- partitions and offsets ---------- */

static ssize_t kio_topic_index(const kafka_io *io, const char *topic) {
    for (size_t i = 0; i < io->n_topics; i++)
        if (io->topics[i] == topic || !strcmp(io->topics[i], topic)) return (ssize_t)i;
    return -1;
}

static kio_part *kio_part_find(const kafka_io *io, const char *topic, int32_t partition) {
    ssize_t t = kio_topic_index(io, topic);
    if (t < 0) return NULL;
    for (size_t i = 0; i < io->n_parts; i++)
        if (io->parts[i].topic == (size_t)t && io->parts[i].partition == partition)
            return &io->parts[i];
    return NULL;
}

static kio_part *kio_part_get(kafka_io *io, const char *topic, int32_t partition) {
    kio_part *p = kio_part_find(io, topic, partition);
    if (p) return p;
    ssize_t t = kio_topic_index(io, topic);
    if (t < 0) return NULL;
    if (io->n_parts == io->cap_parts) {
        size_t cap = io->cap_parts ? io->cap_parts * 2 : 16;
        kio_part *np = realloc(io->parts, cap * sizeof *np);
        if (!np) return NULL;
        io->parts = np;
        io->cap_parts = cap;
    }
    p = &io->parts[io->n_parts++];
    memset(p, 0, sizeof *p);
    p->topic = (size_t)t;
    p->partition = partition;
    return p;
}

static kio_pending *kio_ring_at(const kio_part *p, size_t i) {
    return &p->ring[(p->head + i) % p->cap];
}

static int kio_ring_push(kio_part *p, int64_t offset) {
    if (p->len == p->cap) {
        size_t cap = p->cap ? p->cap * 2 : 64;
        kio_pending *nr = malloc(cap * sizeof *nr);
        if (!nr) return -1;
        for (size_t i = 0; i < p->len; i++) nr[i] = *kio_ring_at(p, i);
        free(p->ring);
        p->ring = nr;
        p->cap = cap;
        p->head = 0;
    }
    kio_pending *slot = &p->ring[(p->head + p->len) % p->cap];
    slot->offset = offset;
    slot->done = false;
    p->len++;
    return 0;
}

/* Forgets handed-over messages at or after `offset`: they will be consumed again. */
static void kio_ring_truncate_from(kio_part *p, int64_t offset) {
    while (p->len && kio_ring_at(p, p->len - 1)->offset >= offset) p->len--;
}

static void kio_store_position(kafka_io *io, kio_part *p, int64_t next) {
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(l, io->topics[p->topic], p->partition)->offset = next;
    rd_kafka_resp_err_t err = rd_kafka_offsets_store(io->consumer, l);
    if (!err) err = l->elems[0].err;
    rd_kafka_topic_partition_list_destroy(l);
    if (err) {
        /* __STATE: revoked meanwhile; the partition's next owner consumes the message again. */
        if (err != RD_KAFKA_RESP_ERR__STATE)
            kio_report(io, false,
                       "Kafka: storing offset %" PRId64 " of %s [%" PRId32 "] failed: %s", next,
                       io->topics[p->topic], p->partition, rd_kafka_err2str(err));
        return;
    }
    p->stored_offset = next;
    io->counters.offsets_stored++;
}

void kafka_io_store_offset(kafka_io *io, const char *topic, int32_t partition, int64_t offset) {
    if (io->txn) return;
    kio_part *p = kio_part_find(io, topic, partition);
    if (!p || !p->assigned || !p->len) return;
    size_t lo = 0, hi = p->len; /* binary search: the ring holds ascending offsets */
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (kio_ring_at(p, mid)->offset < offset)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo == p->len || kio_ring_at(p, lo)->offset != offset) return;
    kio_ring_at(p, lo)->done = true;
    int64_t last = -1;
    while (p->len && kio_ring_at(p, 0)->done) {
        last = kio_ring_at(p, 0)->offset;
        p->head = (p->head + 1) % p->cap;
        p->len--;
    }
    if (last >= 0) kio_store_position(io, p, last + 1);
}

/* ---------- pausing, buffering, rewinding ---------- */

/* Pauses or resumes fetching on the listed partitions (none: nothing to do). */
static void kio_set_paused(kafka_io *io, rd_kafka_topic_partition_list_t *parts, bool paused) {
    if (!parts->cnt) return;
    rd_kafka_resp_err_t err = paused ? rd_kafka_pause_partitions(io->consumer, parts)
                                     : rd_kafka_resume_partitions(io->consumer, parts);
    if (err)
        kio_report(io, false, "Kafka: %s partitions failed: %s", paused ? "pausing" : "resuming",
                   rd_kafka_err2str(err));
}

/* Pauses or resumes fetching on the whole assignment so that it matches what is wanted now. */
static void kio_apply_pause(kafka_io *io) {
    bool want = io->owner_paused || io->flow_paused || io->state != KIO_RUNNING;
    bool assigned = io->state == KIO_RUNNING || io->state == KIO_CLOSING_BATCH ||
                    io->state == KIO_CLOSING_OVERDUE; /* subscribed, not leaving the group */
    if (want == io->partitions_paused || !assigned) return;
    rd_kafka_topic_partition_list_t *l = NULL;
    if (rd_kafka_assignment(io->consumer, &l) == RD_KAFKA_RESP_ERR_NO_ERROR && l) {
        kio_set_paused(io, l, want);
        rd_kafka_topic_partition_list_destroy(l);
    }
    io->partitions_paused = want;
}

/* Holds fetching while produced messages wait for room in librdkafka's producer queue. (A full
 * input buffer needs no pause: kio_serve_consumer then stops draining.) */
static void kio_update_flow(kafka_io *io) {
    io->flow_paused = io->fifo_len > 0;
    kio_apply_pause(io);
}

void kafka_io_pause(kafka_io *io) {
    io->owner_paused = true;
    kio_apply_pause(io);
}

void kafka_io_resume(kafka_io *io) {
    io->owner_paused = false;
    kio_apply_pause(io);
    kio_pump(io);
}

bool kafka_io_paused(const kafka_io *io) { return io->owner_paused; }

static int kio_buf_push(kafka_io *io, rd_kafka_message_t *m) {
    if (io->buf_head + io->buf_len == io->buf_cap) {
        if (io->buf_head) {
            memmove(io->buf, io->buf + io->buf_head, io->buf_len * sizeof *io->buf);
            io->buf_head = 0;
        } else {
            size_t cap = io->buf_cap * 2;
            rd_kafka_message_t **nb = realloc(io->buf, cap * sizeof *nb);
            if (!nb) return -1;
            io->buf = nb;
            io->buf_cap = cap;
        }
    }
    if (!io->buf_len) {
        io->buf_since = uv_now(io->loop);
        io->buf_overdue = false;
    }
    io->buf[io->buf_head + io->buf_len++] = m;
    return 0;
}

/* Drops buffered messages; keep(m) decides which survive (NULL: none). */
static void kio_buf_filter(kafka_io *io,
                           bool (*keep)(const rd_kafka_message_t *m, const void *opaque),
                           const void *opaque) {
    size_t w = 0;
    for (size_t i = 0; i < io->buf_len; i++) {
        rd_kafka_message_t *m = io->buf[io->buf_head + i];
        if (keep && keep(m, opaque))
            io->buf[io->buf_head + w++] = m;
        else
            rd_kafka_message_destroy(m);
    }
    io->buf_len = w;
    if (!w) io->buf_head = 0;
}

static void kio_list_min(rd_kafka_topic_partition_list_t *l, const char *topic, int32_t partition,
                         int64_t offset) {
    rd_kafka_topic_partition_t *e = rd_kafka_topic_partition_list_find(l, topic, partition);
    if (!e)
        rd_kafka_topic_partition_list_add(l, topic, partition)->offset = offset;
    else if (offset < e->offset)
        e->offset = offset;
}

/* Moves every partition of `firsts` (first offset to consume again) and every partition with
 * buffered messages back, so that those messages are fetched again, in order. The seek is
 * asynchronous (timeout 0) so the loop thread never waits on the fetcher: librdkafka bumps the
 * partition's version barrier inside rd_kafka_seek_partitions itself, and every message fetched
 * from the old position carries the old version and is dropped at poll time. A partition that is
 * revoked meanwhile needs no seek: its next owner starts from the committed offset. */
static void kio_rewind(kafka_io *io, rd_kafka_topic_partition_list_t *firsts) {
    for (size_t i = 0; i < io->buf_len; i++) {
        const rd_kafka_message_t *m = io->buf[io->buf_head + i];
        kio_list_min(firsts, rd_kafka_topic_name(m->rkt), m->partition, m->offset);
    }
    kio_buf_filter(io, NULL, NULL);
    rd_kafka_topic_partition_list_t *seek =
        rd_kafka_topic_partition_list_new(firsts->cnt ? firsts->cnt : 1);
    for (int i = 0; i < firsts->cnt; i++) {
        const rd_kafka_topic_partition_t *f = &firsts->elems[i];
        kio_part *p = kio_part_find(io, f->topic, f->partition);
        if (!p || !p->assigned) continue; /* revoked: its next owner starts from the commit */
        kio_ring_truncate_from(p, f->offset);
        p->next_offset = f->offset;
        rd_kafka_topic_partition_list_add(seek, f->topic, f->partition)->offset = f->offset;
    }
    if (seek->cnt) {
        rd_kafka_error_t *e = rd_kafka_seek_partitions(io->consumer, seek, 0);
        if (e) { /* only an unknown partition fails here: ours are assigned, so it is misuse */
            kio_report(io, true,
                       "Kafka: seeking %d partitions back failed: %s (messages could be skipped)",
                       seek->cnt, rd_kafka_error_string(e));
            rd_kafka_error_destroy(e);
        }
    }
    rd_kafka_topic_partition_list_destroy(seek);
    io->counters.batches_retried++;
}

/* ---------- batches ---------- */

static void kio_batch_drop(kafka_io *io) {
    for (size_t i = 0; i < io->batch.count; i++) rd_kafka_message_destroy(io->batch_rkm[i]);
    io->batch.count = 0;
    io->batch_out = false;
}

static void kio_take_batch(kafka_io *io) {
    size_t n = io->buf_len < io->batch_max ? io->buf_len : io->batch_max;
    for (size_t i = 0; i < n; i++) {
        rd_kafka_message_t *m = io->buf[io->buf_head + i];
        const char *topic = rd_kafka_topic_name(m->rkt);
        ssize_t t = kio_topic_index(io, topic);
        kafka_io_msg *v = &io->batch_msgs[i];
        v->topic = t >= 0 ? io->topics[t] : topic;
        v->partition = m->partition;
        v->offset = m->offset;
        v->key = m->key;
        v->key_len = m->key ? m->key_len : 0;
        v->value = m->payload;
        v->value_len = m->payload ? m->len : 0;
        v->timestamp_ms = rd_kafka_message_timestamp(m, NULL);
        rd_kafka_headers_t *hdrs = NULL;
        v->headers = rd_kafka_message_headers(m, &hdrs) ? NULL : hdrs;
        io->batch_rkm[i] = m;
        if (!io->txn) {
            kio_part *p = kio_part_find(io, topic, m->partition);
            if (p && p->assigned && kio_ring_push(p, m->offset) < 0)
                kio_report(io, true, "Kafka: out of memory tracking offsets of %s [%" PRId32 "]",
                           topic, m->partition);
        }
    }
    io->buf_head += n;
    io->buf_len -= n;
    if (!io->buf_len) io->buf_head = 0;
    io->buf_overdue = io->buf_len > 0;
    io->batch.msgs = io->batch_msgs;
    io->batch.count = n;
    io->batch_out = true;
    io->counters.batches++;
    io->counters.messages_consumed += n;
}

static void kio_batch_timer_cb(uv_timer_t *t) { kio_pump(t->data); }

/* Hands a batch over when one is due: full, leftovers of a full one, or its oldest message waited
 * batch_max_wait_ms (the timer is armed for that moment otherwise). */
static void kio_maybe_dispatch(kafka_io *io) {
    if (io->state != KIO_RUNNING || io->fatal) return;
    if (io->batch_out || !io->buf_len || io->owner_paused || io->fifo_len) return;
    if (io->txn && io->txn_state != KIO_TXN_READY) return;
    uint64_t now = uv_now(io->loop), due = io->buf_since + io->batch_wait_ms;
    if (io->buf_len < io->batch_max && !io->buf_overdue && now < due) {
        uv_timer_start(&io->batch_timer, kio_batch_timer_cb, due - now, 0);
        return;
    }
    uv_timer_stop(&io->batch_timer);
    if (io->txn) {
        rd_kafka_error_t *e = rd_kafka_begin_transaction(io->producer);
        if (e) { /* only misuse or a fatal state make begin fail: nothing to retry */
            kio_txn_set_state(io, KIO_TXN_FAILED);
            kio_report(io, true, "Kafka: begin_transaction failed: %s", rd_kafka_error_string(e));
            rd_kafka_error_destroy(e);
            return;
        }
        kio_txn_set_state(io, KIO_TXN_OPEN);
    }
    kio_take_batch(io);
    io->cbs.on_batch(io, &io->batch, io->opaque);
}

/* Per partition of the outstanding batch: its first offset (rewind) and last offset + 1
 * (commit). */
static void kio_batch_bounds(const kafka_io *io, rd_kafka_topic_partition_list_t *firsts,
                             rd_kafka_topic_partition_list_t *nexts) {
    for (size_t i = 0; i < io->batch.count; i++) {
        const kafka_io_msg *m = &io->batch_msgs[i];
        kio_list_min(firsts, m->topic, m->partition, m->offset);
        if (!nexts) continue;
        rd_kafka_topic_partition_t *e =
            rd_kafka_topic_partition_list_find(nexts, m->topic, m->partition);
        if (!e)
            rd_kafka_topic_partition_list_add(nexts, m->topic, m->partition)->offset =
                m->offset + 1;
        else if (m->offset + 1 > e->offset)
            e->offset = m->offset + 1;
    }
}

/* ---------- transactions: the blocking librdkafka calls run on libuv's thread pool ---------- */

static void kio_txn_work_cb(uv_work_t *req) {
    kafka_io *io = req->data;
    int timeout = (int)io->txn_timeout_ms;
    io->txn_error = NULL;
    switch (io->txn_op) {
    case KIO_TXN_INIT: io->txn_error = rd_kafka_init_transactions(io->producer, timeout); break;
    case KIO_TXN_COMMIT:
        if (!io->txn_offsets_sent && io->txn_offsets && io->txn_offsets->cnt) {
            io->txn_error = rd_kafka_send_offsets_to_transaction(io->producer, io->txn_offsets,
                                                                 io->txn_cgmd, timeout);
            if (io->txn_error) break;
        }
        io->txn_offsets_sent = true; /* a retried commit must not send them twice */
        io->txn_error = rd_kafka_commit_transaction(io->producer, timeout);
        break;
    case KIO_TXN_ABORT: io->txn_error = rd_kafka_abort_transaction(io->producer, timeout); break;
    }
}

static void kio_txn_after_cb(uv_work_t *req, int status);

static void kio_txn_run(kafka_io *io, kio_txn_op op) {
    static const kio_txn_state running[] = {
        [KIO_TXN_INIT] = KIO_TXN_INITIALIZING,
        [KIO_TXN_COMMIT] = KIO_TXN_COMMITTING,
        [KIO_TXN_ABORT] = KIO_TXN_ABORTING,
    };
    io->txn_op = op;
    kio_txn_set_state(io, running[op]);
    io->txn_work.data = io;
    int rc = uv_queue_work(io->loop, &io->txn_work, kio_txn_work_cb, kio_txn_after_cb);
    if (rc) {
        kio_txn_set_state(io, KIO_TXN_FAILED);
        kio_report(io, true, "Kafka: cannot queue transactional work: %s", uv_strerror(rc));
    }
}

/* Forgets the finished (or abandoned) transaction's offsets. */
static void kio_txn_free_batch(kafka_io *io) {
    io->txn_offsets_sent = false;
    if (io->txn_offsets) rd_kafka_topic_partition_list_destroy(io->txn_offsets);
    if (io->txn_rewind) rd_kafka_topic_partition_list_destroy(io->txn_rewind);
    if (io->txn_cgmd) rd_kafka_consumer_group_metadata_destroy(io->txn_cgmd);
    io->txn_offsets = io->txn_rewind = NULL;
    io->txn_cgmd = NULL;
}

static void kio_txn_retry_cb(uv_timer_t *t) {
    kafka_io *io = t->data;
    kio_txn_run(io, io->txn_op);
}

/* Acts on a transactional call's outcome by librdkafka's documented error classes: retriable →
 * retry the same call after a short timer; requires abort → abort, then consume the batch again;
 * fatal, or none of these → fatal (the documentation says to treat the unclassified as fatal). */
static void kio_txn_after_cb(uv_work_t *req, int status) {
    kafka_io *io = req->data;
    static const char *const names[] = {"init_transactions", "commit_transaction",
                                        "abort_transaction"};
    rd_kafka_error_t *e = io->txn_error;
    io->txn_error = NULL;
    if (status) {
        if (e) rd_kafka_error_destroy(e);
        kio_txn_set_state(io, KIO_TXN_FAILED);
        kio_report(io, true, "Kafka: %s did not run: %s", names[io->txn_op], uv_strerror(status));
        kio_pump(io);
        return;
    }
    /* A fatal outcome is in the state before on_error runs: an owner that closes from there must
     * not wait for this call any more. */
    if (!e) {
        kio_txn_set_state(io, KIO_TXN_READY);
        if (io->txn_op == KIO_TXN_COMMIT) {
            io->counters.transactions_committed++;
            kio_txn_free_batch(io);
        } else if (io->txn_op == KIO_TXN_ABORT) {
            io->counters.transactions_aborted++;
            if (io->txn_rewind && io->state == KIO_RUNNING) kio_rewind(io, io->txn_rewind);
            kio_txn_free_batch(io);
        }
    } else if (rd_kafka_error_is_fatal(e)) {
        kio_txn_set_state(io, KIO_TXN_FAILED);
        kio_report(io, true, "Kafka: %s: fatal error %s: %s", names[io->txn_op],
                   rd_kafka_error_name(e), rd_kafka_error_string(e));
    } else if (io->txn_op == KIO_TXN_COMMIT && rd_kafka_error_txn_requires_abort(e)) {
        kio_report(io, false, "Kafka: %s: %s: aborting, the batch will be consumed again",
                   names[io->txn_op], rd_kafka_error_string(e));
        kio_txn_run(io, KIO_TXN_ABORT);
    } else if (rd_kafka_error_is_retriable(e)) {
        kio_report(io, false, "Kafka: %s: %s: retrying in %d ms", names[io->txn_op],
                   rd_kafka_error_string(e), KIO_TXN_RETRY_MS);
        kio_txn_set_state(io, KIO_TXN_RETRY_WAIT);
        uv_timer_start(&io->retry_timer, kio_txn_retry_cb, KIO_TXN_RETRY_MS, 0);
    } else {
        kio_txn_set_state(io, KIO_TXN_FAILED);
        kio_report(io, true, "Kafka: %s: %s: %s (neither retriable nor abortable: fatal)",
                   names[io->txn_op], rd_kafka_error_name(e), rd_kafka_error_string(e));
    }
    if (e) rd_kafka_error_destroy(e);
    kio_pump(io);
}

void kafka_io_batch_release(kafka_io *io, const kafka_io_batch *batch) {
    if (!io->batch_out || batch != &io->batch) return;
    if (io->txn_state == KIO_TXN_OPEN) {
        io->txn_rewind = rd_kafka_topic_partition_list_new((int)io->batch.count);
        io->txn_offsets = rd_kafka_topic_partition_list_new((int)io->batch.count);
        kio_batch_bounds(io, io->txn_rewind, io->txn_offsets);
        io->txn_cgmd = rd_kafka_consumer_group_metadata(io->consumer);
        kio_txn_set_state(io, KIO_TXN_COMMIT_WANTED);
    }
    kio_batch_drop(io);
    kio_pump(io);
}

void kafka_io_batch_retry(kafka_io *io, const kafka_io_batch *batch) {
    if (!io->batch_out || batch != &io->batch) return;
    rd_kafka_topic_partition_list_t *firsts =
        rd_kafka_topic_partition_list_new((int)io->batch.count);
    kio_batch_bounds(io, firsts, NULL);
    kio_batch_drop(io);
    if (io->txn_state == KIO_TXN_OPEN) {
        io->txn_rewind = firsts; /* rewound once the abort completed */
        kio_txn_run(io, KIO_TXN_ABORT);
    } else {
        kio_rewind(io, firsts);
        rd_kafka_topic_partition_list_destroy(firsts);
    }
    kio_pump(io);
}

/* ---------- rebalances ---------- */

static bool kio_keep_unrevoked(const rd_kafka_message_t *m, const void *opaque) {
    return !rd_kafka_topic_partition_list_find((rd_kafka_topic_partition_list_t *)opaque,
                                               rd_kafka_topic_name(m->rkt), m->partition);
}

static void kio_notify_rebalance(kafka_io *io, kafka_io_rebalance_kind kind,
                                 const rd_kafka_topic_partition_list_t *parts) {
    io->counters.rebalances++;
    if (!io->cbs.on_rebalance || io->state == KIO_FREEING) return;
    kafka_io_partition *v = calloc(parts->cnt ? (size_t)parts->cnt : 1, sizeof *v);
    if (!v) {
        kio_report(io, false, "Kafka: out of memory reporting a rebalance");
        return;
    }
    size_t n = 0;
    for (int i = 0; i < parts->cnt; i++) {
        ssize_t t = kio_topic_index(io, parts->elems[i].topic);
        if (t < 0) continue;
        v[n].topic = io->topics[t];
        v[n++].partition = parts->elems[i].partition;
    }
    io->cbs.on_rebalance(io, kind, v, n, io->opaque);
    free(v);
}

/* Applies an assignment change with the call matching the group's protocol: incremental calls for
 * COOPERATIVE, whole-assignment calls for EAGER. Revoked partitions lose their buffered messages
 * (their next owner consumes them from the committed offset). */
static void kio_rebalance(kafka_io *io, rd_kafka_resp_err_t err,
                          rd_kafka_topic_partition_list_t *parts) {
    const char *proto = rd_kafka_rebalance_protocol(io->consumer);
    bool coop = proto && !strcmp(proto, "COOPERATIVE");
    rd_kafka_error_t *e = NULL;
    rd_kafka_resp_err_t rerr = RD_KAFKA_RESP_ERR_NO_ERROR;
    if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
        if (coop)
            e = rd_kafka_incremental_assign(io->consumer, parts);
        else
            rerr = rd_kafka_assign(io->consumer, parts);
        for (int i = 0; i < parts->cnt; i++) {
            kio_part *p = kio_part_get(io, parts->elems[i].topic, parts->elems[i].partition);
            if (!p) continue;
            p->assigned = true;
            p->head = p->len = 0;
            p->next_offset = p->stored_offset = -1;
        }
        /* librdkafka keeps a partition's application pause through its revocation and a later
         * reassignment, while kio_apply_pause reaches only the current assignment: a pause that
         * was lifted while the partition was not ours would hold it for good (the chaos bench's
         * stall). Partitions assigned are paused when the rest are, and resumed when some were
         * revoked while paused (a resume restarts their fetch: not done when never needed). */
        if (io->partitions_paused || io->revoked_while_paused)
            kio_set_paused(io, parts, io->partitions_paused);
        io->revoked_while_paused = io->partitions_paused && io->revoked_while_paused;
        kio_notify_rebalance(io, KAFKA_IO_ASSIGNED, parts);
    } else if (err == RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS) {
        bool lost = rd_kafka_assignment_lost(io->consumer);
        io->revoked_while_paused |= io->partitions_paused && parts->cnt;
        kio_buf_filter(io, kio_keep_unrevoked, parts);
        for (int i = 0; i < parts->cnt; i++) {
            kio_part *p = kio_part_find(io, parts->elems[i].topic, parts->elems[i].partition);
            if (p) p->assigned = false;
        }
        if (coop)
            e = rd_kafka_incremental_unassign(io->consumer, parts);
        else
            rerr = rd_kafka_assign(io->consumer, NULL);
        kio_notify_rebalance(io, lost ? KAFKA_IO_LOST : KAFKA_IO_REVOKED, parts);
    } else {
        kio_report(io, false, "Kafka: rebalance failed: %s; dropping the assignment",
                   rd_kafka_err2str(err));
        kio_buf_filter(io, NULL, NULL);
        io->revoked_while_paused |= io->partitions_paused;
        for (size_t i = 0; i < io->n_parts; i++) io->parts[i].assigned = false;
        rerr = rd_kafka_assign(io->consumer, NULL);
    }
    if (e) {
        kio_report(io, rd_kafka_error_is_fatal(e), "Kafka: applying a %s rebalance failed: %s",
                   proto ? proto : "?", rd_kafka_error_string(e));
        rd_kafka_error_destroy(e);
    }
    if (rerr)
        kio_report(io, false, "Kafka: applying an assignment failed: %s", rd_kafka_err2str(rerr));
}

static void kio_rebalance_cb(rd_kafka_t *rk, rd_kafka_resp_err_t err,
                             rd_kafka_topic_partition_list_t *parts, void *opaque) {
    (void)rk;
    kio_rebalance(opaque, err, parts);
}

/* Consumer-side errors. __FATAL means the consumer cannot go on; the rest are retried by
 * librdkafka. */
static void kio_error_cb(rd_kafka_t *rk, int err, const char *reason, void *opaque) {
    kafka_io *io = opaque;
    if (err == RD_KAFKA_RESP_ERR__FATAL) {
        char buf[256];
        rd_kafka_resp_err_t orig = rd_kafka_fatal_error(rk, buf, sizeof buf);
        kio_report(io, true, "Kafka consumer: fatal error %s: %s", rd_kafka_err2name(orig), buf);
    } else {
        kio_report(io, false, "Kafka consumer: %s: %s", rd_kafka_err2name((rd_kafka_resp_err_t)err),
                   reason);
    }
}

/* ---------- serving librdkafka's queues ---------- */

static void kio_serve_consumer(kafka_io *io) {
    if (io->state == KIO_CLOSING_CONSUMER || io->state == KIO_CLOSED) return;
    rd_kafka_message_t *m;
    /* A full buffer stops the draining: what librdkafka has fetched stays in its own queue, which
     * its fetcher keeps under queued.max.messages.kbytes / queued.min.messages (back-pressure
     * built into librdkafka), and is drained by the pump once the owner releases a batch.
     * Pausing the partitions instead made librdkafka drop and re-fetch its queue at every
     * cycle: throughput fell to a quarter, and with small buffers consumption stalled. */
    while (io->buf_len < io->max_buffered && (m = rd_kafka_consumer_poll(io->consumer, 0))) {
        if (m->err) {
            if (m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF)
                kio_report(io, m->err == RD_KAFKA_RESP_ERR__FATAL, "Kafka consumer: %s%s%s",
                           rd_kafka_message_errstr(m), m->rkt ? " on topic " : "",
                           m->rkt ? rd_kafka_topic_name(m->rkt) : "");
            rd_kafka_message_destroy(m);
            continue;
        }
        kio_part *p = kio_part_find(io, rd_kafka_topic_name(m->rkt), m->partition);
        if (io->state != KIO_RUNNING || !p || !p->assigned) { /* the next owner consumes it */
            rd_kafka_message_destroy(m);
            continue;
        }
        p->next_offset = m->offset + 1;
        if (kio_buf_push(io, m) < 0) {
            rd_kafka_message_destroy(m);
            kio_report(io, true, "Kafka: out of memory buffering fetched messages");
        }
    }
}

static void kio_delivered(kafka_io *io, const rd_kafka_message_t *m) {
    kio_delivery *d = m->_private;
    if (m->err)
        io->counters.delivery_failures++;
    else
        io->counters.messages_delivered++;
    if (d && d->cb && io->state != KIO_FREEING) {
        if (m->err) {
            px_error e;
            px_error_set_reason(&e, kio_code(m->err), (int)m->err,
                                "Kafka: delivery to %s failed: %s", rd_kafka_topic_name(m->rkt),
                                rd_kafka_err2str(m->err));
            d->cb(io, &e, m->partition, -1, d->msg_opaque, io->opaque);
        } else {
            d->cb(io, NULL, m->partition, m->offset, d->msg_opaque, io->opaque);
        }
    }
    free(d);
}

bool kafka_log_is_cross_type_notice(const char *facility, const char *message) {
    return !strcmp(facility, "CONFWARN") && strstr(message, "will be ignored by this");
}

/* Routes a librdkafka log line to the owner, minus the expected cross-type property notices. */
static void kio_log(kafka_io *io, int level, const char *fac, const char *msg) {
    if (io->state == KIO_FREEING || !io->cbs.on_log) return;
    if (kafka_log_is_cross_type_notice(fac, msg)) return;
    io->cbs.on_log(io, level, fac, msg, io->opaque);
}

static void kio_log_cb(const rd_kafka_t *rk, int level, const char *fac, const char *msg) {
    kio_log(rd_kafka_opaque(rk), level, fac, msg);
}

static void kio_producer_event(kafka_io *io, rd_kafka_event_t *ev) {
    switch (rd_kafka_event_type(ev)) {
    case RD_KAFKA_EVENT_LOG: {
        const char *fac = "", *msg = "";
        int level = 6;
        if (!rd_kafka_event_log(ev, &fac, &msg, &level)) kio_log(io, level, fac, msg);
        break;
    }
    case RD_KAFKA_EVENT_DR: {
        const rd_kafka_message_t *m;
        while ((m = rd_kafka_event_message_next(ev))) kio_delivered(io, m);
        break;
    }
    case RD_KAFKA_EVENT_ERROR:
        if (rd_kafka_event_error_is_fatal(ev)) {
            char buf[256];
            rd_kafka_resp_err_t orig = rd_kafka_fatal_error(io->producer, buf, sizeof buf);
            kio_report(io, true, "Kafka producer: fatal error %s: %s", rd_kafka_err2name(orig),
                       buf);
        } else {
            kio_report(io, false, "Kafka producer: %s: %s",
                       rd_kafka_err2name(rd_kafka_event_error(ev)),
                       rd_kafka_event_error_string(ev));
        }
        break;
    default: break;
    }
}

static rd_kafka_resp_err_t kio_producev(kafka_io *io, const char *topic, const void *key,
                                        size_t key_len, const void *value, size_t value_len,
                                        kio_delivery *d) {
    /* No headers is RD_KAFKA_V_HEADERS(NULL): librdkafka then adds none. A lent value goes with
     * no flag: librdkafka neither copies nor frees it, and reads it until the delivery report.
     * (librdkafka copies the key whatever the flags.) */
    rd_kafka_resp_err_t err =
        rd_kafka_producev(io->producer, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_KEY(key, key_len),
                          RD_KAFKA_V_VALUE((void *)value, value_len),
                          RD_KAFKA_V_MSGFLAGS(d->lent ? 0 : RD_KAFKA_MSG_F_COPY),
                          RD_KAFKA_V_HEADERS(d->headers), RD_KAFKA_V_OPAQUE(d), RD_KAFKA_V_END);
    if (!err) d->headers = NULL; /* librdkafka owns them now */
    return err;
}

static void kio_delivery_free_copies(kio_delivery *d) {
    free(d->topic);
    free(d->key);
    if (!d->lent) free(d->value);
    if (d->headers) rd_kafka_headers_destroy(d->headers);
    d->topic = NULL;
    d->key = d->value = NULL;
    d->headers = NULL;
}

int kafka_io_property_value(const kafka_io *io, bool producer, const char *name, char *buf,
                            size_t cap) {
    size_t len = cap; /* librdkafka sets it to the size the value needs, NUL included */
    if (rd_kafka_conf_get(rd_kafka_conf(producer ? io->producer : io->consumer), name, buf, &len) !=
            RD_KAFKA_CONF_OK ||
        len > cap) {
        if (cap) buf[0] = '\0';
        return -1;
    }
    return 0;
}

size_t kafka_io_max_message_bytes(const kafka_io *io) {
    char buf[32];
    if (kafka_io_property_value(io, true, "message.max.bytes", buf, sizeof buf))
        return KIO_DEFAULT_MESSAGE_MAX;
    unsigned long long v = strtoull(buf, NULL, 10);
    return v ? (size_t)v : KIO_DEFAULT_MESSAGE_MAX;
}

int kafka_io_msg_header(const kafka_io_msg *m, const char *name, const void **value, size_t *len) {
    return m->headers && !rd_kafka_header_get_last(m->headers, name, value, len) ? 0 : -1;
}

/* Hands waiting messages to librdkafka, in order, while it has room. */
static void kio_fifo_drain(kafka_io *io) {
    while (io->fifo_head) {
        kio_delivery *d = io->fifo_head;
        rd_kafka_resp_err_t err =
            kio_producev(io, d->topic, d->key, d->key_len, d->value, d->value_len, d);
        if (err == RD_KAFKA_RESP_ERR__QUEUE_FULL) break;
        io->fifo_head = d->next;
        if (!io->fifo_head) io->fifo_tail = NULL;
        io->fifo_len--;
        if (err) {
            io->counters.delivery_failures++;
            if (d->cb && io->state != KIO_FREEING) {
                px_error e;
                px_error_set_reason(&e, kio_code(err), (int)err, "Kafka: cannot produce to %s: %s",
                                    d->topic, rd_kafka_err2str(err));
                d->cb(io, &e, -1, -1, d->msg_opaque, io->opaque);
            }
            kio_delivery_free_copies(d);
            free(d);
            continue;
        }
        kio_delivery_free_copies(d);
    }
}

static void kio_serve_producer(kafka_io *io) {
    rd_kafka_event_t *ev;
    while ((ev = rd_kafka_queue_poll(io->producer_q, 0))) {
        kio_producer_event(io, ev);
        rd_kafka_event_destroy(ev);
    }
    kio_fifo_drain(io);
}

static void kio_notify_cb(uv_timer_t *t) {
    kafka_io *io = t->data;
    if (io->cbs.on_closed) io->cbs.on_closed(io, io->opaque);
}

static void kio_close_deadline_cb(uv_timer_t *t) {
    kafka_io *io = t->data;
    if (io->state == KIO_CLOSING_BATCH) kio_set_state(io, KIO_CLOSING_OVERDUE);
    kio_pump(io);
}

/* Closing, step by step: wait for the owner's batch and the transaction, then for deliveries (or
 * the deadline), then leave the group through rd_kafka_consumer_close_queue() served here. */
static void kio_close_progress(kafka_io *io) {
    if (io->state != KIO_CLOSING_BATCH && io->state != KIO_CLOSING_OVERDUE &&
        io->state != KIO_CLOSING_CONSUMER)
        return;
    if (io->state != KIO_CLOSING_CONSUMER) {
        if (kio_txn_busy(io)) return; /* a call in flight is awaited even past the deadline */
        bool give_up = io->state == KIO_CLOSING_OVERDUE || io->fatal;
        bool txn_unfinished = io->txn_state != KIO_TXN_UNINIT && io->txn_state != KIO_TXN_READY &&
                              io->txn_state != KIO_TXN_FAILED;
        if (!give_up && (io->batch_out || txn_unfinished)) return;
        if (!give_up && (io->fifo_len || rd_kafka_outq_len(io->producer) > 0)) return;
        kio_set_state(io, KIO_CLOSING_CONSUMER);
        io->close_q = rd_kafka_queue_new(io->consumer);
        rd_kafka_queue_io_event_enable(io->close_q, io->wake_fd, &kio_wake_payload,
                                       sizeof kio_wake_payload);
        rd_kafka_error_t *e = rd_kafka_consumer_close_queue(io->consumer, io->close_q);
        if (e) {
            kio_report(io, false, "Kafka: closing the consumer: %s", rd_kafka_error_string(e));
            rd_kafka_error_destroy(e);
        }
    }
    rd_kafka_event_t *ev;
    while ((ev = rd_kafka_queue_poll(io->close_q, 0))) {
        if (rd_kafka_event_type(ev) == RD_KAFKA_EVENT_REBALANCE)
            kio_rebalance(io, rd_kafka_event_error(ev), rd_kafka_event_topic_partition_list(ev));
        else if (rd_kafka_event_type(ev) == RD_KAFKA_EVENT_ERROR)
            kio_report(io, false, "Kafka consumer (closing): %s", rd_kafka_event_error_string(ev));
        rd_kafka_event_destroy(ev);
    }
    if (rd_kafka_consumer_closed(io->consumer)) {
        kio_set_state(io, KIO_CLOSED);
        uv_timer_stop(&io->close_timer);
        uv_timer_start(&io->notify_timer, kio_notify_cb, 0, 0);
    }
}

/* Serves everything librdkafka has for us, then whatever that made due. Re-entrant calls (an owner
 * callback calling back into kafka_io) only ask for one more round: see kio_pump_state. */
static void kio_pump(kafka_io *io) {
    if (!kio_serving(io)) return;
    if (io->pump != KIO_PUMP_IDLE) {
        io->pump = KIO_PUMP_AGAIN;
        return;
    }
    do {
        io->pump = KIO_PUMP_RUNNING;
        kio_serve_producer(io);
        kio_serve_consumer(io);
        kio_update_flow(io);
        if (io->txn_state == KIO_TXN_COMMIT_WANTED && !io->fifo_len && !io->fatal)
            kio_txn_run(io, KIO_TXN_COMMIT);
        kio_maybe_dispatch(io);
        kio_close_progress(io);
    } while (io->pump == KIO_PUMP_AGAIN);
    io->pump = KIO_PUMP_IDLE;
}

static void kio_wake_cb(uv_poll_t *h, int status, int events) {
    (void)events;
    kafka_io *io = h->data;
    uint64_t v;
    if (status < 0) {
        kio_report(io, true, "Kafka: watching librdkafka's queues failed: %s", uv_strerror(status));
        return;
    }
    while (read(io->wake_fd, &v, sizeof v) == (ssize_t)sizeof v) {}
    kio_pump(io);
}

/* ---------- producing ---------- */

int kafka_io_produce(kafka_io *io, const char *topic, const void *key, size_t key_len,
                     const void *value, size_t value_len, kafka_io_delivery_cb cb, void *msg_opaque,
                     px_error *err) {
    return kafka_io_produce_headers(io, topic, key, key_len, value, value_len, NULL, 0, cb,
                                    msg_opaque, err);
}

/* Both produce calls: lent says whether key and value are the owner's until the report. */
static int kio_produce(kafka_io *io, const char *topic, const void *key, size_t key_len,
                       const void *value, size_t value_len, const kafka_io_header *headers,
                       size_t n_headers, bool lent, kafka_io_delivery_cb cb, void *msg_opaque,
                       px_error *err) {
    if (io->state == KIO_CLOSING_CONSUMER || io->state == KIO_CLOSED ||
        io->state == KIO_CLOSED_UNSTARTED)
        return px_error_set(err, PX_ECLOSED, "Kafka: cannot produce to '%s': kafka_io is closed",
                            topic);
    if (io->fatal)
        return px_error_set(err, PX_EFATAL, "Kafka: cannot produce to '%s': a fatal error occurred",
                            topic);
    if (io->txn && !(io->txn_state == KIO_TXN_OPEN && io->batch_out))
        return px_error_set(
            err, PX_EINVAL,
            "Kafka: cannot produce to '%s': with transactional.id, outputs are produced only "
            "while a batch is being processed",
            topic);
    if (!value) value_len = 0;
    kio_delivery *d = calloc(1, sizeof *d);
    if (!d) return px_error_set(err, PX_ENOMEM, "Kafka: out of memory producing to '%s'", topic);
    d->cb = cb;
    d->msg_opaque = msg_opaque;
    d->lent = lent;
    if (n_headers && (d->headers = rd_kafka_headers_new(n_headers)))
        for (size_t h = 0; h < n_headers; h++)
            rd_kafka_header_add(d->headers, headers[h].name, -1, headers[h].value,
                                (ssize_t)headers[h].value_len);
    if (n_headers && !d->headers) {
        free(d);
        return px_error_set(err, PX_ENOMEM, "Kafka: out of memory producing to '%s'", topic);
    }
    if (!io->fifo_len) {
        rd_kafka_resp_err_t rerr = kio_producev(io, topic, key, key_len, value, value_len, d);
        if (!rerr) {
            io->counters.messages_produced++;
            return 0;
        }
        if (rerr != RD_KAFKA_RESP_ERR__QUEUE_FULL) {
            kio_delivery_free_copies(d);
            free(d);
            if (rerr == RD_KAFKA_RESP_ERR__FATAL) io->fatal = true;
            return px_error_set_reason(err, kio_code(rerr), (int)rerr,
                                       "Kafka: cannot produce to '%s' (%zu-byte value): %s", topic,
                                       value_len, rd_kafka_err2str(rerr));
        }
    }
    /* librdkafka's queue is full (or others already wait): keep it (the value a copy unless lent),
     * in order. */
    d->topic = strdup(topic);
    d->key_len = key_len;
    d->value_len = value_len;
    d->key = key ? malloc(key_len ? key_len : 1) : NULL;
    d->value = !value ? NULL : lent ? (void *)value : malloc(value_len ? value_len : 1);
    if (!d->topic || (key && !d->key) || (value && !d->value)) {
        kio_delivery_free_copies(d);
        free(d);
        return px_error_set(err, PX_ENOMEM, "Kafka: out of memory queueing a message for '%s'",
                            topic);
    }
    if (key) memcpy(d->key, key, key_len);
    if (value && !lent) memcpy(d->value, value, value_len);
    if (io->fifo_tail)
        io->fifo_tail->next = d;
    else
        io->fifo_head = d;
    io->fifo_tail = d;
    io->fifo_len++;
    io->counters.queue_full_waits++;
    io->counters.messages_produced++;
    kio_update_flow(io);
    return 0;
}

int kafka_io_produce_headers(kafka_io *io, const char *topic, const void *key, size_t key_len,
                             const void *value, size_t value_len, const kafka_io_header *headers,
                             size_t n_headers, kafka_io_delivery_cb cb, void *msg_opaque,
                             px_error *err) {
    return kio_produce(io, topic, key, key_len, value, value_len, headers, n_headers, false, cb,
                       msg_opaque, err);
}

int kafka_io_produce_lent(kafka_io *io, const char *topic, const void *key, size_t key_len,
                          const void *value, size_t value_len, const kafka_io_header *headers,
                          size_t n_headers, kafka_io_delivery_cb cb, void *msg_opaque,
                          px_error *err) {
    if (!cb)
        return px_error_set(err, PX_EINVAL,
                            "Kafka: cannot produce to '%s': a lent message needs a delivery "
                            "callback (it says when the value may be freed)",
                            topic);
    return kio_produce(io, topic, key, key_len, value, value_len, headers, n_headers, true, cb,
                       msg_opaque, err);
}

/* ---------- lifecycle ---------- */

#define KIO_CONF_VALUE_SHOWN 128 /* bytes of a refused value quoted in the error */
#define KIO_STR_(x)          #x
#define KIO_STR(x)           KIO_STR_(x)

int kafka_conf_apply(rd_kafka_conf_t *conf, const kafka_io_property *props, size_t n,
                     px_error *err) {
    char errstr[512];
    for (size_t i = 0; i < n; i++) {
        const char *name = props[i].name, *value = props[i].value;
        if (rd_kafka_conf_set(conf, name, value, errstr, sizeof errstr) == RD_KAFKA_CONF_OK)
            continue;
        size_t len = strlen(value), shown = utf8_cut(value, len, KIO_CONF_VALUE_SHOWN);
        return px_error_set(err, PX_ECONFIG, "Kafka property '%s' = '%.*s%s': %s", name, (int)shown,
                            value, shown < len ? "..." : "", errstr);
    }
    return 0;
}

static int kio_check_options(const kafka_io_options *o, const kafka_io_callbacks *cbs,
                             px_error *err) {
    if (!cbs || !cbs->on_batch || !cbs->on_error)
        return px_error_set(err, PX_EINVAL,
                            "kafka_io: on_batch and on_error callbacks are required");
    if (!o->group_id || !*o->group_id)
        return px_error_set(err, PX_EINVAL, "kafka_io: a consumer group id is required");
    if (o->n_input_topics < 1 || o->n_input_topics > KAFKA_IO_MAX_TOPICS)
        return px_error_set(err, PX_EINVAL, "kafka_io: %zu input topics given, expected 1..%d",
                            o->n_input_topics, KAFKA_IO_MAX_TOPICS);
    for (size_t i = 0; i < o->n_input_topics; i++) {
        if (kafka_topic_name_check(o->input_topics[i], err) < 0) return -1;
        for (size_t j = 0; j < i; j++)
            if (!strcmp(o->input_topics[i], o->input_topics[j]))
                return px_error_set(err, PX_EINVAL, "kafka_io: input topic '%s' is listed twice",
                                    o->input_topics[i]);
    }
    if (o->batch_max_messages > KAFKA_IO_MAX_BATCH)
        return px_error_set(err, PX_ELIMIT, "kafka_io: batch of %zu messages requested, at most %d",
                            o->batch_max_messages, KAFKA_IO_MAX_BATCH);
    if (o->batch_max_wait_ms > 60000)
        return px_error_set(err, PX_ELIMIT,
                            "kafka_io: batch wait of %u ms requested, at most 60000",
                            o->batch_max_wait_ms);
    size_t batch = o->batch_max_messages ? o->batch_max_messages : KAFKA_IO_DEFAULT_BATCH;
    if (o->max_buffered_messages && o->max_buffered_messages < batch)
        return px_error_set(err, PX_EINVAL,
                            "kafka_io: max_buffered_messages (%zu) is below the batch size (%zu)",
                            o->max_buffered_messages, batch);
    for (size_t i = 0; i < o->n_properties; i++)
        if (!o->properties[i].name || !o->properties[i].value)
            return px_error_set(err, PX_EINVAL, "kafka_io: property %zu has no name or no value",
                                i + 1);
    return 0;
}

static void kio_free_memory(kafka_io *io) {
    for (size_t i = 0; i < io->n_topics; i++) free(io->topics[i]);
    free(io->topics);
    for (size_t i = 0; i < io->n_parts; i++) free(io->parts[i].ring);
    free(io->parts);
    free(io->buf);
    free(io->batch_msgs);
    free(io->batch_rkm);
    if (io->wake_fd >= 0) close(io->wake_fd);
    free(io);
}

static bool kio_property_given(const kafka_io_options *o, const char *name) {
    for (size_t i = 0; i < o->n_properties; i++)
        if (!strcmp(o->properties[i].name, name)) return true;
    return false;
}

/* librdkafka's defaults let the consumer prefetch up to 100,000 messages or 64 MiB, and copy
 * every produced value below 64 KB into its requests; kafka_io's own buffer (4 batches) and the
 * owner's budget make those unnecessary. Set before the owner's properties, so any of them wins.
 * (fetch.max.bytes: see kio_apply_fetch_bound.) */
static int kio_apply_memory_bounds(rd_kafka_conf_t *cconf, rd_kafka_conf_t *pconf, px_error *err) {
    const kafka_io_property consumer[] = {
        {"queued.min.messages", KIO_STR(KAFKA_IO_QUEUED_MIN_MESSAGES)},
        {"queued.max.messages.kbytes", KIO_STR(KAFKA_IO_QUEUED_MAX_KBYTES)},
    };
    const kafka_io_property producer[] = {
        {"message.copy.max.bytes", KIO_STR(KAFKA_IO_MESSAGE_COPY_MAX_BYTES)},
    };
    return kafka_conf_apply(cconf, consumer, 2, err) < 0 ||
                   kafka_conf_apply(pconf, producer, 1, err) < 0
               ? -1
               : 0;
}

/* fetch.max.bytes = KAFKA_IO_FETCH_MAX_BYTES unless a property sets it, raised to
 * message.max.bytes when that is larger (librdkafka refuses a fetch.max.bytes below it). After
 * the owner's properties, since it depends on one of them. */
static int kio_apply_fetch_bound(const kafka_io_options *o, rd_kafka_conf_t *cconf, px_error *err) {
    if (kio_property_given(o, "fetch.max.bytes")) return 0;
    char buf[32];
    size_t len = sizeof buf;
    unsigned long long want = KAFKA_IO_FETCH_MAX_BYTES, msg_max = 0;
    if (rd_kafka_conf_get(cconf, "message.max.bytes", buf, &len) == RD_KAFKA_CONF_OK)
        msg_max = strtoull(buf, NULL, 10);
    if (msg_max > want) want = msg_max;
    snprintf(buf, sizeof buf, "%llu", want);
    const kafka_io_property fetch = {"fetch.max.bytes", buf};
    return kafka_conf_apply(cconf, &fetch, 1, err);
}

/* Builds both handles' configurations: kafka_io's memory bounds, the owner's properties in order,
 * then what the contract needs on top. Returns -1 with err set. */
static int kio_build_confs(kafka_io *io, const kafka_io_options *o, rd_kafka_conf_t *cconf,
                           rd_kafka_conf_t *pconf, px_error *err) {
    bool idempotence_set = false, commit_interval_set = false;
    if (kio_apply_memory_bounds(cconf, pconf, err) < 0 ||
        kafka_conf_apply(cconf, o->properties, o->n_properties, err) < 0 ||
        kafka_conf_apply(pconf, o->properties, o->n_properties, err) < 0 ||
        kio_apply_fetch_bound(o, cconf, err) < 0)
        return -1;
    for (size_t i = 0; i < o->n_properties; i++) {
        const kafka_io_property *p = &o->properties[i];
        if (!strcmp(p->name, "enable.idempotence")) idempotence_set = true;
        if (!strcmp(p->name, "auto.commit.interval.ms")) commit_interval_set = true;
        if (!strcmp(p->name, "transactional.id")) io->txn = *p->value != '\0';
    }
    const kafka_io_property consumer_fixed[] = {
        {"group.id", o->group_id},
        {"enable.auto.offset.store", "false"},
        {"enable.auto.commit", "false"}, /* with transactions only: offsets go with each commit */
    };
    const kafka_io_property idempotence = {"enable.idempotence", "true"};
    /* Without transactions, stored offsets are committed soon, not on librdkafka's 5 s timer:
     * what a crash replays is what was processed in the last interval. */
    const kafka_io_property commit_soon = {"auto.commit.interval.ms",
                                           KIO_STR(KAFKA_IO_COMMIT_INTERVAL_MS)};
    if (kafka_conf_apply(cconf, consumer_fixed, io->txn ? 3 : 2, err) < 0 ||
        (!idempotence_set && kafka_conf_apply(pconf, &idempotence, 1, err) < 0) ||
        (!io->txn && !commit_interval_set && kafka_conf_apply(cconf, &commit_soon, 1, err) < 0))
        return -1;
    if (io->cbs.on_log) {
        /* Logs go through each handle's main queue, hence to the loop, instead of being printed
         * from librdkafka's threads. */
        const kafka_io_property log_queue = {"log.queue", "true"};
        if (kafka_conf_apply(cconf, &log_queue, 1, err) < 0 ||
            kafka_conf_apply(pconf, &log_queue, 1, err) < 0)
            return -1;
        rd_kafka_conf_set_log_cb(cconf, kio_log_cb);
        rd_kafka_conf_set_log_cb(pconf, kio_log_cb);
    }
    rd_kafka_conf_set_opaque(cconf, io);
    rd_kafka_conf_set_rebalance_cb(cconf, kio_rebalance_cb);
    rd_kafka_conf_set_error_cb(cconf, kio_error_cb);
    rd_kafka_conf_set_opaque(pconf, io);
    /* Delivery reports and errors as events: then commit_transaction (on a worker thread) waits for
     * the loop to serve them instead of invoking callbacks on its own thread. */
    rd_kafka_conf_set_events(pconf, RD_KAFKA_EVENT_DR | RD_KAFKA_EVENT_ERROR |
                                        (io->cbs.on_log ? RD_KAFKA_EVENT_LOG : 0));
    return 0;
}

kafka_io *kafka_io_new(uv_loop_t *loop, const kafka_io_options *opts, const kafka_io_callbacks *cbs,
                       void *opaque, px_error *err) {
    if (kio_check_options(opts, cbs, err) < 0) return NULL;
    kafka_io *io = calloc(1, sizeof *io);
    if (!io) {
        px_error_set(err, PX_ENOMEM, "kafka_io: out of memory");
        return NULL;
    }
    io->wake_fd = -1;
    io->loop = loop;
    io->cbs = *cbs;
    io->opaque = opaque;
    io->batch_max = opts->batch_max_messages ? opts->batch_max_messages : KAFKA_IO_DEFAULT_BATCH;
    io->batch_wait_ms =
        opts->batch_max_wait_ms ? opts->batch_max_wait_ms : KAFKA_IO_DEFAULT_WAIT_MS;
    io->max_buffered =
        opts->max_buffered_messages ? opts->max_buffered_messages : 4 * io->batch_max;
    io->close_timeout_ms = opts->close_timeout_ms ? opts->close_timeout_ms : 10000;
    io->txn_timeout_ms = opts->txn_timeout_ms ? opts->txn_timeout_ms : 30000;
    io->buf_cap = io->max_buffered + 16;
    io->topics = calloc(opts->n_input_topics, sizeof *io->topics);
    io->buf = malloc(io->buf_cap * sizeof *io->buf);
    io->batch_msgs = malloc(io->batch_max * sizeof *io->batch_msgs);
    io->batch_rkm = malloc(io->batch_max * sizeof *io->batch_rkm);
    if (!io->topics || !io->buf || !io->batch_msgs || !io->batch_rkm) goto oom;
    for (; io->n_topics < opts->n_input_topics; io->n_topics++)
        if (!(io->topics[io->n_topics] = strdup(opts->input_topics[io->n_topics]))) goto oom;

    rd_kafka_conf_t *cconf = rd_kafka_conf_new(), *pconf = rd_kafka_conf_new();
    char errstr[512];
    if (kio_build_confs(io, opts, cconf, pconf, err) < 0) {
        rd_kafka_conf_destroy(cconf);
        rd_kafka_conf_destroy(pconf);
        goto fail;
    }
    if (!(io->consumer = rd_kafka_new(RD_KAFKA_CONSUMER, cconf, errstr, sizeof errstr))) {
        rd_kafka_conf_destroy(cconf);
        rd_kafka_conf_destroy(pconf);
        px_error_set(err, PX_EIO, "Kafka: cannot create the consumer: %s", errstr);
        goto fail;
    }
    if (!(io->producer = rd_kafka_new(RD_KAFKA_PRODUCER, pconf, errstr, sizeof errstr))) {
        rd_kafka_conf_destroy(pconf);
        px_error_set(err, PX_EIO, "Kafka: cannot create the producer: %s", errstr);
        goto fail;
    }
    if (io->cbs.on_log) {
        rd_kafka_set_log_queue(io->consumer, NULL);
        rd_kafka_set_log_queue(io->producer, NULL);
    }
    rd_kafka_poll_set_consumer(io->consumer); /* one queue: messages, rebalances, errors, logs */
    io->consumer_q = rd_kafka_queue_get_consumer(io->consumer);
    io->producer_q = rd_kafka_queue_get_main(io->producer);
    io->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (io->wake_fd < 0) {
        px_error_set(err, PX_EIO, "kafka_io: eventfd: %s", strerror(errno));
        goto fail;
    }
    rd_kafka_queue_io_event_enable(io->consumer_q, io->wake_fd, &kio_wake_payload,
                                   sizeof kio_wake_payload);
    rd_kafka_queue_io_event_enable(io->producer_q, io->wake_fd, &kio_wake_payload,
                                   sizeof kio_wake_payload);
    int rc = uv_poll_init(loop, &io->wake_poll, io->wake_fd);
    if (rc) {
        px_error_set(err, PX_EIO, "kafka_io: uv_poll_init: %s", uv_strerror(rc));
        goto fail;
    }
    uv_timer_init(loop, &io->batch_timer);
    uv_timer_init(loop, &io->retry_timer);
    uv_timer_init(loop, &io->close_timer);
    uv_timer_init(loop, &io->notify_timer);
    io->wake_poll.data = io->batch_timer.data = io->retry_timer.data = io->close_timer.data =
        io->notify_timer.data = io;
    io->open_handles = KIO_HANDLES;
    return io;
oom:
    px_error_set(err, PX_ENOMEM, "kafka_io: out of memory");
fail:
    kafka_io_free(io);
    return NULL;
}

int kafka_io_start(kafka_io *io, px_error *err) {
    if (io->state != KIO_NEW) return px_error_set(err, PX_EINVAL, "kafka_io: already started");
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new((int)io->n_topics);
    for (size_t i = 0; i < io->n_topics; i++)
        rd_kafka_topic_partition_list_add(l, io->topics[i], RD_KAFKA_PARTITION_UA);
    rd_kafka_resp_err_t rerr = rd_kafka_subscribe(io->consumer, l);
    rd_kafka_topic_partition_list_destroy(l);
    if (rerr)
        return px_error_set(err, PX_EUNAVAILABLE,
                            "Kafka: subscribing to the input topics failed: %s",
                            rd_kafka_err2str(rerr));
    int rc = uv_poll_start(&io->wake_poll, UV_READABLE, kio_wake_cb);
    if (rc) return px_error_set(err, PX_EIO, "kafka_io: uv_poll_start: %s", uv_strerror(rc));
    kio_set_state(io, KIO_RUNNING);
    if (io->txn) kio_txn_run(io, KIO_TXN_INIT);
    kio_pump(io);
    return 0;
}

void kafka_io_close(kafka_io *io) {
    if (io->state != KIO_NEW && io->state != KIO_RUNNING) return;
    bool started = io->state == KIO_RUNNING;
    kio_set_state(io, started ? KIO_CLOSING_BATCH : KIO_CLOSED_UNSTARTED);
    uv_timer_stop(&io->batch_timer);
    kio_buf_filter(io, NULL, NULL);
    if (!started) {
        uv_timer_start(&io->notify_timer, kio_notify_cb, 0, 0);
        return;
    }
    uv_timer_start(&io->close_timer, kio_close_deadline_cb, io->close_timeout_ms, 0);
    kio_apply_pause(io);
    kio_pump(io);
}

static void kio_handle_closed(uv_handle_t *h) {
    kafka_io *io = h->data;
    if (--io->open_handles == 0) kio_free_memory(io);
}

/* Releases librdkafka's handles. Messages still queued in the producer are purged and their
 * delivery opaques collected (their callbacks are not called any more). */
static void kio_destroy_handles(kafka_io *io) {
    if (io->batch_out) kio_batch_drop(io);
    kio_buf_filter(io, NULL, NULL);
    while (io->fifo_head) {
        kio_delivery *d = io->fifo_head;
        io->fifo_head = d->next;
        kio_delivery_free_copies(d);
        free(d);
    }
    io->fifo_tail = NULL;
    io->fifo_len = 0;
    if (io->consumer_q) {
        rd_kafka_queue_io_event_enable(io->consumer_q, -1, NULL, 0);
        rd_kafka_queue_destroy(io->consumer_q);
    }
    if (io->close_q) {
        rd_kafka_queue_io_event_enable(io->close_q, -1, NULL, 0);
        rd_kafka_queue_destroy(io->close_q);
    }
    if (io->consumer) rd_kafka_destroy(io->consumer);
    if (io->producer) {
        rd_kafka_purge(io->producer, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
        for (int waited = 0;
             io->producer_q && rd_kafka_outq_len(io->producer) > 0 && waited < KIO_FREE_DRAIN_MS;
             waited += 100) {
            rd_kafka_event_t *ev = rd_kafka_queue_poll(io->producer_q, 100);
            if (!ev) continue;
            kio_producer_event(io, ev);
            rd_kafka_event_destroy(ev);
        }
        if (io->producer_q) {
            rd_kafka_queue_io_event_enable(io->producer_q, -1, NULL, 0);
            rd_kafka_queue_destroy(io->producer_q);
        }
        rd_kafka_destroy(io->producer);
    }
    kio_txn_free_batch(io);
}

void kafka_io_free(kafka_io *io) {
    if (!io) return;
    kio_set_state(io, KIO_FREEING);
    kio_destroy_handles(io);
    if (!io->open_handles) {
        kio_free_memory(io);
        return;
    }
    uv_close((uv_handle_t *)&io->wake_poll, kio_handle_closed);
    uv_close((uv_handle_t *)&io->batch_timer, kio_handle_closed);
    uv_close((uv_handle_t *)&io->retry_timer, kio_handle_closed);
    uv_close((uv_handle_t *)&io->close_timer, kio_handle_closed);
    uv_close((uv_handle_t *)&io->notify_timer, kio_handle_closed);
}

/* ---------- numbers ---------- */

void kafka_io_get_counters(const kafka_io *io, kafka_io_counters *out) {
    *out = io->counters;
    out->assigned_partitions = 0;
    for (size_t i = 0; i < io->n_parts; i++) out->assigned_partitions += io->parts[i].assigned;
    out->buffered_messages = io->buf_len;
    out->producer_queue = (size_t)rd_kafka_outq_len(io->producer) + io->fifo_len;
}

size_t kafka_io_get_lag(const kafka_io *io, kafka_io_partition_lag *out, size_t cap) {
    size_t n = 0;
    for (size_t i = 0; i < io->n_parts; i++) {
        const kio_part *p = &io->parts[i];
        if (!p->assigned) continue;
        if (n < cap) {
            kafka_io_partition_lag *l = &out[n];
            int64_t lo = -1, hi = -1;
            l->topic = io->topics[p->topic];
            l->partition = p->partition;
            if (rd_kafka_get_watermark_offsets(io->consumer, l->topic, p->partition, &lo, &hi) ||
                hi < 0)
                hi = -1;
            l->high_watermark = hi;
            l->next_offset = p->next_offset >= 0 ? p->next_offset : p->stored_offset;
            l->stored_offset = p->stored_offset;
            l->lag = (hi >= 0 && l->next_offset >= 0)
                         ? (hi > l->next_offset ? hi - l->next_offset : 0)
                         : -1;
        }
        n++;
    }
    return n;
}

const char *kafka_io_rebalance_protocol(const kafka_io *io) {
    const char *p = rd_kafka_rebalance_protocol(io->consumer);
    return p ? p : "NONE";
}
