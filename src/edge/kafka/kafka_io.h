/* kafka_io — the Kafka edge of the daemon: one consumer group member and one producer, driven by
 * one libuv loop.
 *
 * Loop integration: librdkafka's consumer queue and the producer's event queue write a byte to a
 * non-blocking pipe when they go from empty to non-empty (rd_kafka_queue_io_event_enable); a
 * uv_poll on the pipe drains both queues completely. Nothing polls on a timer and nothing sleeps:
 * the loop wakes only when librdkafka has something (messages, delivery reports, rebalances,
 * errors), when the batch timer fires, or when a blocking transactional call running on libuv's
 * thread pool finishes. Every callback below runs on the loop thread.
 *
 * Consuming: kafka_io subscribes to the input topics and hands messages to the owner in BATCHES of
 * at most `batch_max_messages`, or fewer once `batch_max_wait_ms` has passed since the first one
 * arrived. One batch is outstanding at a time: the next one is handed over after
 * kafka_io_batch_release(). Messages of a partition arrive in offset order, batch after batch, so a
 * key's events stay in order. Messages fetched while a batch is outstanding are buffered (up to
 * `max_buffered_messages`; beyond that kafka_io stops draining librdkafka's queue, whose own bounds
 * (queued.max.messages.kbytes, queued.min.messages) then hold the fetcher until the owner catches
 * up).
 *
 * Offsets (at-least-once): enable.auto.offset.store is forced to false. The owner calls
 * kafka_io_store_offset() for a message once that message's outputs are delivered (or once it has
 * decided the message yields nothing). The position stored for a partition only ever advances past
 * a message once it AND every earlier message of that partition handed to the owner are stored, so
 * out-of-order delivery reports cannot skip an undelivered message. Stored offsets are committed
 * by librdkafka's auto-commit timer, every auto.commit.interval.ms (KAFKA_IO_COMMIT_INTERVAL_MS
 * unless a property sets it: a crash replays about that much), on revocation and on close.
 *
 * Transactions: when the configuration has `transactional.id`, each batch is one transaction.
 * kafka_io begins it before handing the batch over; the owner produces its outputs; on
 * kafka_io_batch_release() the batch's offsets are sent to the transaction and it is committed on
 * the thread pool (these calls block in librdkafka). Retriable errors are retried after a short
 * timer; errors that require an abort abort the transaction and rewind the batch's partitions so
 * the batch is consumed again (on_error reports it, not fatal); fatal errors go to on_error with
 * fatal = true. kafka_io_store_offset() is a no-op then (enable.auto.commit is forced to false).
 * Note: librdkafka 2.0.2's mock cluster runs this protocol but stores no transactional offsets and
 * writes no commit markers; only a real cluster proves exactly-once.
 *
 * Back-pressure: kafka_io_pause() stops handing out batches and pauses fetching on every assigned
 * (and later assigned) partition; kafka_io_resume() undoes it. kafka_io_batch_retry() gives the
 * outstanding batch back: it and every message buffered behind it are consumed again, in order,
 * once consumption runs (the partitions are sought back to the batch's first offsets). Producing
 * never drops a message: when librdkafka's queue is full, messages wait in kafka_io's own FIFO
 * (in order) and consumption is held until they are accepted.
 *
 * Errors: librdkafka errors are classified as it documents. Fatal errors (rd_kafka_fatal_error,
 * fatal error events, fatal transactional errors) reach on_error with fatal = true: the owner is
 * expected to close and exit non-zero. Other errors (broker down, transport, timeouts) are
 * reported with fatal = false: librdkafka retries them itself.
 *
 * Ownership: kafka_io_new() copies everything it is given. Message views (key, value) in a batch
 * are owned by kafka_io and valid until kafka_io_batch_release() or kafka_io_batch_retry(); the
 * `topic` string of a message is valid for the life of the kafka_io. kafka_io_produce() copies key
 * and value; kafka_io_produce_lent() borrows the value until the message's delivery report (no
 * copy of it on the way to librdkafka). Thread-safety: none — every function is called on the loop
 * thread.
 *
 * Re-entrancy: callbacks may call kafka_io back (release or retry the batch, pause, resume,
 * produce, close; kafka_io_free only from on_closed). A call made while kafka_io is serving
 * librdkafka's queues does not recurse into serving them: what it makes due is done in one more
 * round right after the current one. */
#ifndef KAFKA_IO_H
#define KAFKA_IO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <librdkafka/rdkafka.h>
#include <uv.h>

#include "px_error.h"
#include "px_limits.h"

typedef struct kafka_io kafka_io;

/* One librdkafka property, passed through verbatim (as kcat -X does). */
typedef struct kafka_io_property {
    const char *name;
    const char *value;
} kafka_io_property;

/* A consumed message, as the owner sees it. */
typedef struct kafka_io_msg {
    const char *topic; /* one of the configured input topics; valid for the kafka_io's life */
    int32_t partition;
    int64_t offset;
    const void *key; /* NULL when the message has no key */
    size_t key_len;
    const void *value; /* NULL for a tombstone */
    size_t value_len;
    int64_t timestamp_ms; /* message timestamp (create or log-append time); -1 when unknown */
    const rd_kafka_headers_t *headers; /* NULL when none; read with kafka_io_msg_header() */
} kafka_io_msg;

/* One Kafka message header: a name and any bytes (value NULL: a header without a value). */
typedef struct kafka_io_header {
    const char *name;
    const void *value;
    size_t value_len;
} kafka_io_header;

/* The value of the last header called `name` of a consumed message: 0 with *value and *len set
 * (they live as long as the message's views), -1 when it has none. */
int kafka_io_msg_header(const kafka_io_msg *m, const char *name, const void **value, size_t *len);

typedef struct kafka_io_batch {
    const kafka_io_msg *msgs;
    size_t count; /* 1..batch_max_messages */
} kafka_io_batch;

typedef struct kafka_io_partition {
    const char *topic;
    int32_t partition;
} kafka_io_partition;

typedef enum kafka_io_rebalance_kind {
    KAFKA_IO_ASSIGNED = 0, /* partitions added to this member's assignment */
    KAFKA_IO_REVOKED = 1,  /* partitions taken away cleanly (stored offsets were committed) */
    KAFKA_IO_LOST =
        2, /* partitions lost (session timed out): their offsets could not be committed */
} kafka_io_rebalance_kind;

typedef struct kafka_io_callbacks {
    /* A batch to process. The owner must call kafka_io_batch_release() or kafka_io_batch_retry()
     * exactly once, now or later; no other batch is handed over before it does. Required. */
    void (*on_batch)(kafka_io *io, const kafka_io_batch *batch, void *opaque);
    /* Assignment changes, after kafka_io applied them (both eager and cooperative protocols).
     * Messages of revoked partitions that are still being processed may be stored; it is a no-op.
     * Optional. */
    void (*on_rebalance)(kafka_io *io, kafka_io_rebalance_kind kind,
                         const kafka_io_partition *parts, size_t n, void *opaque);
    /* An error. fatal = true means this instance cannot go on (close it and exit non-zero).
     * Required. */
    void (*on_error)(kafka_io *io, const px_error *err, bool fatal, void *opaque);
    /* kafka_io_close() finished: the group was left and the producer flushed (or timed out).
     * kafka_io_free() may be called from here. Optional. */
    void (*on_closed)(kafka_io *io, void *opaque);
    /* librdkafka's log lines (syslog levels: 0 emerg … 7 debug), delivered on the loop through
     * librdkafka's log queue. Notices that a property of the other client type is ignored are
     * dropped (every property goes to both handles by design). Optional: when NULL, librdkafka
     * prints to stderr itself. */
    void (*on_log)(kafka_io *io, int level, const char *facility, const char *message,
                   void *opaque);
} kafka_io_callbacks;

typedef struct kafka_io_options {
    const kafka_io_property
        *properties; /* librdkafka properties for both the consumer and the producer */
    size_t n_properties;
    const char *group_id;            /* consumer group (group.id); required */
    const char *const *input_topics; /* subscribed topics; 1..KAFKA_IO_MAX_TOPICS */
    size_t n_input_topics;
    size_t batch_max_messages;    /* 1..KAFKA_IO_MAX_BATCH; 0 = KAFKA_IO_DEFAULT_BATCH */
    unsigned batch_max_wait_ms;   /* 0 = KAFKA_IO_DEFAULT_WAIT_MS; at most 60000 */
    size_t max_buffered_messages; /* 0 = 4 × batch_max_messages; at least batch_max_messages */
    unsigned close_timeout_ms;    /* flush/commit budget of kafka_io_close(); 0 = 10000 */
    unsigned txn_timeout_ms;      /* budget of each transactional call; 0 = 30000 */
} kafka_io_options;

#define KAFKA_IO_MAX_TOPICS      16
#define KAFKA_IO_MAX_BATCH       PX_BATCH_MAX /* px_limits.h: config and store_redis agree */
#define KAFKA_IO_DEFAULT_BATCH   500
#define KAFKA_IO_DEFAULT_WAIT_MS 20
/* auto.commit.interval.ms without transactions unless a property sets it (librdkafka's own
 * default is 5000): the stored offsets' commit follows the deliveries closely. */
#define KAFKA_IO_COMMIT_INTERVAL_MS 100

/* Memory bounds kafka_io gives librdkafka unless a property sets them (librdkafka's defaults
 * prefetch up to 100,000 messages or 64 MiB per consumer and copy every produced value below
 * 64 KB into its requests):
 *   queued.min.messages = KAFKA_IO_QUEUED_MIN_MESSAGES and queued.max.messages.kbytes =
 *     KAFKA_IO_QUEUED_MAX_KBYTES: what the fetcher prefetches (kafka_io itself buffers up to
 *     max_buffered_messages behind the outstanding batch);
 *   fetch.max.bytes = KAFKA_IO_FETCH_MAX_BYTES, or message.max.bytes when that is larger
 *     (librdkafka refuses less): a fetch response is held until its last message is destroyed;
 *   message.copy.max.bytes = 0 (producer): values go to the brokers from the owner's or
 *     librdkafka's own copy, never copied again into request buffers. */
#define KAFKA_IO_QUEUED_MIN_MESSAGES    1000
#define KAFKA_IO_QUEUED_MAX_KBYTES      2048
#define KAFKA_IO_FETCH_MAX_BYTES        1048576
#define KAFKA_IO_MESSAGE_COPY_MAX_BYTES 0

/* Sets props[0..n) on conf in order, so a later property overrides an earlier one: the one way
 * every client here applies `[kafka]` keys and -X properties (kafka_io_new for both handles,
 * `passerelle send/tail/replay`, `passerelled --check-config`). Names and values must not be
 * NULL. Stops at the first property librdkafka refuses and returns -1 with err saying
 * "Kafka property 'NAME' = 'VALUE': REASON" (a long value is cut so librdkafka's reason always
 * fits); conf then holds the properties before it. Returns 0 otherwise. */
int kafka_conf_apply(rd_kafka_conf_t *conf, const kafka_io_property *props, size_t n,
                     px_error *err);

/* True for librdkafka's CONFWARN notice that a property is "ignored by this consumer/producer".
 * Every property goes to every client by design, so these are expected noise: log callbacks
 * drop them and show the rest. */
bool kafka_log_is_cross_type_notice(const char *facility, const char *message);

/* Creates the consumer and producer handles (not yet connected to the group). `bootstrap.servers`
 * is an ordinary property here: for the embedded broker, start kafka_embedded first and pass its
 * kafka_embedded_bootstraps(). The memory bounds above come first; the properties are then
 * applied in order, so a later one overrides an earlier one; kafka_io then sets what its contract
 * needs: enable.auto.offset.store=false, enable.idempotence=true unless a property set it,
 * enable.auto.commit=false with transactional.id, else auto.commit.interval.ms =
 * KAFKA_IO_COMMIT_INTERVAL_MS unless a property set it. An unknown property or a bad value fails with
 * librdkafka's message. Returns NULL with err set on failure. */
kafka_io *kafka_io_new(uv_loop_t *loop, const kafka_io_options *opts, const kafka_io_callbacks *cbs,
                       void *opaque, px_error *err);

/* Subscribes to the input topics and starts watching librdkafka's queues on the loop. With
 * transactions, first runs init_transactions on the thread pool (its failure reaches on_error).
 * Returns -1 with err set if the subscription is refused. */
int kafka_io_start(kafka_io *io, px_error *err);

/* Ends the outstanding batch's life: its views become invalid. Without transactions the owner
 * still calls kafka_io_store_offset() per message as outputs get delivered; with transactions this
 * commits the batch (outputs and offsets) asynchronously. */
void kafka_io_batch_release(kafka_io *io, const kafka_io_batch *batch);

/* Gives the outstanding batch back: it (and whatever was fetched after it) will be consumed again.
 * With transactions, the open transaction is aborted. Typically followed by kafka_io_pause(). */
void kafka_io_batch_retry(kafka_io *io, const kafka_io_batch *batch);

/* Marks one handed-over message as done (see "Offsets" above). Unknown or revoked partitions and
 * offsets not handed over are ignored. */
void kafka_io_store_offset(kafka_io *io, const char *topic, int32_t partition, int64_t offset);

void kafka_io_pause(kafka_io *io);
void kafka_io_resume(kafka_io *io);
bool kafka_io_paused(const kafka_io *io);

/* Called once per produced message, on the loop, when the broker acknowledged it (err == NULL) or
 * it failed for good (err set; message.timeout.ms expired, too large, fatal, aborted transaction).
 * partition/offset are where it was written (-1 when unknown). */
typedef void (*kafka_io_delivery_cb)(kafka_io *io, const px_error *err, int32_t partition,
                                     int64_t offset, void *msg_opaque, void *opaque);

/* Produces one message; value NULL (value_len 0) produces a tombstone. Key and value are copied.
 * The message is partitioned by key (librdkafka's default partitioner). Returns 0 (delivery will
 * be reported to cb, which may be NULL) or -1 with err set: fatal state, closing, with
 * transactions outside an open batch, or a message librdkafka refuses outright. */
int kafka_io_produce(kafka_io *io, const char *topic, const void *key, size_t key_len,
                     const void *value, size_t value_len, kafka_io_delivery_cb cb, void *msg_opaque,
                     px_error *err);

/* kafka_io_produce() with n_headers headers (copied too), in order. */
int kafka_io_produce_headers(kafka_io *io, const char *topic, const void *key, size_t key_len,
                             const void *value, size_t value_len, const kafka_io_header *headers,
                             size_t n_headers, kafka_io_delivery_cb cb, void *msg_opaque,
                             px_error *err);

/* kafka_io_produce_headers() without copying the value: it is lent, and must stay valid and
 * unchanged until cb (required: it says when the value may be freed or produced again) has been
 * called for this message, or until kafka_io_free() (which calls no callback). librdkafka gets it
 * as is (neither RD_KAFKA_MSG_F_COPY nor _F_FREE) and reads it until the report; so does
 * kafka_io's FIFO while librdkafka's queue is full. The key and headers are copied, as by
 * kafka_io_produce_headers(). On -1 nothing was kept. */
int kafka_io_produce_lent(kafka_io *io, const char *topic, const void *key, size_t key_len,
                          const void *value, size_t value_len, const kafka_io_header *headers,
                          size_t n_headers, kafka_io_delivery_cb cb, void *msg_opaque,
                          px_error *err);

/* The value librdkafka holds for property `name` on the producer (producer = true) or the
 * consumer handle, NUL-terminated in buf[cap]: 0, or -1 when unknown or too long for buf. What
 * kafka_io_new() applied, the owner's properties and kafka_io's own settings included. */
int kafka_io_property_value(const kafka_io *io, bool producer, const char *name, char *buf,
                            size_t cap);

/* The producer's message.max.bytes, as configured (a property, else librdkafka's default of
 * 1000000): a message's key, value and headers together must fit in it. */
size_t kafka_io_max_message_bytes(const kafka_io *io);

/* Stops consuming, waits for the outstanding batch to be released (with transactions: committed
 * or aborted) and for outstanding deliveries, then commits stored offsets, leaves the group and
 * calls on_closed. The waiting is bounded by close_timeout_ms (a transactional call in flight is
 * always awaited, itself bounded by txn_timeout_ms); past it, the group is left anyway, and a batch
 * still held by the owner stays valid until kafka_io_free(). Buffered messages not yet handed over
 * are dropped, not stored: the next owner of their partition consumes them. Idempotent. */
void kafka_io_close(kafka_io *io);

/* Frees everything. Call after on_closed, or instead of close when kafka_io_start() was never
 * called or failed. Must not be called from inside another kafka_io callback than on_closed.
 * librdkafka's handles are destroyed at once; the libuv handles are closed with uv_close(), so the
 * last memory is released when the loop next runs (run it, e.g. uv_run(loop, UV_RUN_DEFAULT),
 * before uv_loop_close()). Delivery callbacks of messages still queued are not called. */
void kafka_io_free(kafka_io *io);

/* Numbers for metrics and STATUS= lines. */
typedef struct kafka_io_counters {
    uint64_t messages_consumed;  /* handed to the owner */
    uint64_t batches;            /* handed to the owner */
    uint64_t batches_retried;    /* given back by the owner or aborted */
    uint64_t messages_produced;  /* accepted by kafka_io_produce() */
    uint64_t messages_delivered; /* acknowledged by the brokers */
    uint64_t delivery_failures;
    uint64_t queue_full_waits; /* produce calls that had to wait in kafka_io's FIFO */
    uint64_t offsets_stored;   /* rd_kafka_offsets_store calls that advanced a partition */
    uint64_t rebalances;       /* assignment changes */
    uint64_t transactions_committed;
    uint64_t transactions_aborted;
    uint64_t errors; /* errors reported to on_error */
    size_t assigned_partitions;
    size_t buffered_messages;
    size_t producer_queue; /* messages waiting in librdkafka or kafka_io's FIFO */
} kafka_io_counters;

void kafka_io_get_counters(const kafka_io *io, kafka_io_counters *out);

typedef struct kafka_io_partition_lag {
    const char *topic;
    int32_t partition;
    int64_t high_watermark; /* last known end of the partition; -1 unknown */
    int64_t next_offset;    /* offset of the next message to hand over; -1 unknown */
    int64_t stored_offset;  /* position stored for commit (next to process); -1 none yet */
    int64_t lag;            /* high_watermark - next_offset when both known, else -1 */
} kafka_io_partition_lag;

/* Fills up to cap entries for the currently assigned partitions (watermarks as last seen by the
 * fetcher, no network round trip) and returns how many partitions are assigned. */
size_t kafka_io_get_lag(const kafka_io *io, kafka_io_partition_lag *out, size_t cap);

/* "COOPERATIVE", "EAGER" or "NONE" (no assignment yet), as librdkafka reports it. */
const char *kafka_io_rebalance_protocol(const kafka_io *io);

#endif
