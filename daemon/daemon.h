/* daemon — passerelled's wiring: the libuv loop that joins Kafka (kafka_io), Redis (store_redis),
 * the ROME index and the matcher, plus health, metrics and systemd notification.
 *
 * Life cycle: daemon_start() opens Redis and the HTTP listener; once Redis is up the current ROME
 * index is fetched (or loaded from [rome] snapshot/dir when none is published), then Kafka is
 * started; READY=1 is sent when all three are up. SIGTERM/SIGINT start daemon_stop(): the open
 * batch is finished, stored offsets committed, the group left, then every handle is closed and
 * the loop ends by itself.
 *
 * The batch pipeline (daemon_pipeline.c): decode every message → one pipelined MGET of the users'
 * states, the keys WATCHed → match on the worker threads, updating states in memory → one
 * MULTI/EXEC writing the changed states, applied only if no other client wrote one of them since
 * the read (two instances of the group on the same person around a rebalance: the later writer
 * is refused, its batch given back and processed again on the winner's state, so a state is
 * never overwritten by a stale one), and in it each new event's answers, kept for [redis]
 * answers_ttl_s so that a repeat of an earlier event is answered with them again (one MGET before
 * the write, for batches with such repeats; an erasure deletes the person's) → produce outputs (suggestions, tombstones, dead letters), in
 * message order → store each message's offset once all its outputs are delivered. Redis
 * unavailable at any step: the batch is given back to Kafka and consumption paused until Redis
 * returns.
 *
 * Threads: everything runs on the loop's thread but the matching step. There the batch's people
 * are dealt to [daemon] workers jobs on libuv's thread pool (person u to job u mod n, so one
 * person's events are applied in order by one job); a job touches only its people's states, its
 * messages' outputs and its own matcher_scratch and match_result, and reads the pinned engine and
 * the configuration. Metrics and logs of the step are written on the loop once every job is
 * done, in message order, and the outputs are produced in message order as before: the bytes out
 * are those of one thread. Nothing else here is thread-safe.
 *
 * Memory: the outputs produced and not yet delivered are counted (inflight_bytes), and so are the
 * output bytes per consumed event (a running average). A batch handed over when what is in flight
 * plus what it is expected to add (its message count × that average) would pass [daemon]
 * inflight_bytes waits, unprocessed, until deliveries make room, and kafka_io hands no other
 * meanwhile (its buffer and librdkafka's queue bounds then hold the fetcher). With nothing in
 * flight a batch always starts, and one that starts is always finished, however large, so nothing
 * deadlocks. Outputs are cut to their size before they wait for delivery; a batch fully delivered
 * gives the allocator's free memory back (malloc_trim, at most once a second), and passerelled
 * limits glibc to two arenas (M_ARENA_MAX) unless MALLOC_ARENA_MAX is set. */
#ifndef PASSERELLE_DAEMON_H
#define PASSERELLE_DAEMON_H

#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "config.h"
#include "event_codec.h"
#include "http_server.h"
#include "kafka_embedded.h"
#include "kafka_io.h"
#include "log.h"
#include "matcher.h"
#include "metrics.h"
#include "service_notify.h"
#include "store_redis.h"

typedef struct daemon_batch daemon_batch;

/* Unknown keys of input events counted each under its own `key` label (and logged once) in
 * passerelle_unknown_keys_total; keys met after these many distinct ones count as key="other",
 * which bounds the label cardinality whatever producers send (docs/operations.md). */
#define DAEMON_UNKNOWN_KEYS_MAX 32

/* One ROME index with the matcher built on it; a batch pins one for its whole life. */
typedef struct daemon_engine {
    rome_index *index;
    matcher *matcher;
    matcher_scratch **scratch; /* one per worker */
    size_t n_scratch;
    char version[USER_STATE_ROME_VERSION_MAX +
                 1]; /* "4.0-60", carried by every output as rome_version */
    char key
        [REDIS_ENDPOINT_KEY_MAX]; /* the Redis snapshot key it came from ("" when loaded locally) */
} daemon_engine;

typedef struct daemon_metrics {
    metrics *registry;
    metrics_family *consumed, *produced, *dead_lettered, *replayed, *batch_size, *match_seconds,
        *e2e_seconds, *redis_round_trips, *redis_errors, *redis_up, *lag, *rome_version,
        *rebalances, *delivery_failures, *index_swaps, *batches_retried, *ready, *unknown_keys,
        *dlq_failures, *inflight_bytes, *batches_waited, *output_bytes_per_event;
} daemon_metrics;

typedef struct px_daemon {
    uv_loop_t *loop;
    const config *cfg;
    px_log *log;
    daemon_metrics m;
    service_notify notify;

    kafka_embedded *embedded;
    char *bootstrap; /* bootstrap.servers in use (embedded address or configured) */
    kafka_io *kafka;
    bool kafka_started;
    store_redis *store;
    http_server *http;

    daemon_engine *engine;      /* current */
    daemon_engine *next_engine; /* published, swapped in at the next batch boundary */
    bool index_fetching;
    bool index_refetch; /* a publication was announced during the fetch in flight */

    daemon_batch *batch;           /* the batch in the pipeline, or NULL */
    const kafka_io_batch *waiting; /* a batch handed over while over the budget, or NULL */
    struct daemon_worker *workers; /* the matching jobs, n_workers of them */
    size_t n_workers;              /* [daemon] workers, resolved (>= 1) */
    bool close_deferred;           /* Kafka closed while jobs ran: close the rest after them */
    struct flight *flights;        /* outputs produced and not yet delivered */
    size_t n_flights;
    size_t inflight_bytes;    /* their keys and values */
    double out_bytes_per_msg; /* running average of output bytes per consumed message */
    uint64_t trimmed_at;      /* loop time (ms) of the last malloc_trim, 0 for none */
    bool ready_sent;
    bool stopping;
    int exit_code;
    int open_handles; /* uv handles and modules still closing */

    uv_signal_t sigterm, sigint;
    uv_timer_t watchdog, status;
    uv_timer_t retry;        /* resumes consumption after a batch was given back */
    uint64_t retry_delay_ms; /* doubles on each consecutive give-back, reset by a good batch */
    uv_timer_t dlq_retry;    /* produces again the dead letters whose delivery failed */
    uint64_t events_at_last_status;

    /* the distinct unknown keys counted by name ("experiences[].titel"), in order of appearance */
    char unknown_keys[DAEMON_UNKNOWN_KEYS_MAX][EVENT_KEY_PATH_MAX];
    size_t n_unknown_keys;
    bool unknown_keys_overflowed; /* "other" was logged */
} px_daemon;

/* Sets up everything that does not need the network and starts connecting. Returns -1 with err. */
int daemon_start(px_daemon *d, uv_loop_t *loop, const config *cfg, px_log *log, px_error *err);
/* Begins the graceful shutdown (idempotent). */
void daemon_stop(px_daemon *d, int exit_code);
/* Frees what remains after the loop has ended. */
void daemon_free(px_daemon *d);

/* --- between the daemon's files --- */
/* [daemon] workers resolved: the configured count, or one per core the process may use. */
size_t daemon_workers(const config *cfg);
/* Before the loop runs: makes libuv's thread pool large enough for the workers, an index build
 * and a transactional call at once (UV_THREADPOOL_SIZE, unless the environment sets it). */
void daemon_pipeline_size_threadpool(const config *cfg);
/* Allocates the workers (daemon_start). -1 with err when out of memory. */
int daemon_pipeline_init(px_daemon *d, px_error *err);
/* daemon_stop: a batch waiting for the budget is given back to Kafka, unprocessed. */
void daemon_pipeline_stop(px_daemon *d);
/* True while matching jobs run on the thread pool (they read the batch's Kafka messages). */
bool daemon_pipeline_busy(const px_daemon *d);
/* lifecycle: closes Redis, HTTP, timers and signals once Kafka is closed and no job runs. */
void daemon_close_rest(px_daemon *d);
void daemon_pipeline_on_batch(kafka_io *io, const kafka_io_batch *batch, void *opaque);
/* Delivery reports of the outputs produced by the pipeline. */
void daemon_pipeline_on_delivery(kafka_io *io, const px_error *err, int32_t partition,
                                 int64_t offset, void *msg_opaque, void *opaque);
/* Frees the outputs whose delivery report never came (the producer was closed first) and the
 * workers. */
void daemon_pipeline_free(px_daemon *d);
/* Called by the retry timer: resumes consumption if Redis is available. */
void daemon_pipeline_on_retry(uv_timer_t *t);
/* Redis went down: the batch (if any) waits; consumption pauses. */
void daemon_pipeline_pause(px_daemon *d, const char *why);

/* daemon_index.c: fetch the current index from Redis (or the local fallback), swap engines. */
void daemon_index_fetch(px_daemon *d);
void daemon_index_on_published(store_redis *s, const char *key, void *opaque);
/* Swaps in next_engine if one is waiting and no batch is in flight. */
void daemon_index_swap_if_pending(px_daemon *d);
void daemon_engine_free(daemon_engine *e);
/* --check-config: loads the configured local index ([rome] snapshot or dir) and builds its
 * matcher as a start would, so an unreadable directory or a constraint naming a contexte the
 * index lacks is refused now. 0 when none is configured (a publication is checked on arrival). */
int daemon_index_check(const config *cfg, px_error *err);

/* Readiness: Kafka started, Redis available, an index loaded. */
bool daemon_ready(const px_daemon *d);
/* Called whenever one of the readiness parts changes. */
void daemon_readiness_changed(px_daemon *d);

int64_t daemon_now_ms(void);

#endif
