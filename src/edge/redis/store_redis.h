/* store_redis — passerelle's Redis edge on a libuv loop (hiredis 0.14.1 async + its libuv adapter).
 *
 * What it does
 *   - Keeps a command connection to Redis open (AUTH [user] password, SELECT db, PING as the
 *     handshake) and, when the owner asks for publish notifications, a second connection
 *     SUBSCRIBEd to `<prefix>published`.
 *   - With sentinels in the endpoint (redis_endpoint.h), finds the master at each connection
 *     attempt: asks each sentinel in turn (store_sentinel.h) for its address, connects there and
 *     adds ROLE to the handshake, refusing a replica. A READONLY or LOADING reply drops the
 *     connection (the request fails with PX_EUNAVAILABLE), so the next attempt, like the one after
 *     a loss, follows a failover to the promoted replica.
 *   - Reconnects by itself: after a failure or a loss it waits an exponential backoff
 *     (backoff_initial_ms doubling up to backoff_max_ms, with "equal jitter": a random delay in
 *     [d/2, d]) on a uv timer, then tries again. Nothing polls or spins while Redis is down.
 *   - Tells the owner when the store becomes unavailable (with the reason) and available again
 *     (on_status), so the daemon pauses and resumes its Kafka consumption.
 *   - Moves data in batches, one round trip per batch:
 *       get_many    MGET of up to max_batch keys → their values (absent = NULL data)
 *       get_many_watched  the same, the keys WATCHed: the next apply_many is conditional
 *       apply_many  MULTI, SET key value [EX ttl] / DEL key ×n, EXEC: all-or-nothing (Redis applies
 *                   the transaction atomically; if the connection drops before EXEC is read, the
 *                   outcome is unknown and the caller retries — SET and DEL are idempotent;
 *                   after get_many_watched, PX_ECONFLICT when a watched key changed)
 *     and the ROME index: get_current_index reads `<prefix>current` then the snapshot it names.
 *
 * Keys are the caller's names; the store prepends the endpoint's prefix (redis_endpoint.h shows the
 * whole key layout). Keys and values are binary-safe byte strings.
 *
 * Timeouts (hiredis 0.14.1 async has none of its own, so they are uv timers here)
 *   connect_timeout_ms  a connection attempt (TCP connect + handshake) that has not finished in
 *                       this time is abandoned and counts as a failure; so is a sentinel that
 *                       has not answered in this time (the next one is asked at once).
 *   command_timeout_ms  while requests are outstanding, a connection that delivers no data for
 *                       this long is considered dead: it is dropped (outstanding requests fail)
 *                       and reconnected. A large reply arriving steadily keeps it alive.
 *                       The subscriber connection relies on TCP keepalive.
 *
 * Requests and callbacks (libuv conventions)
 *   A request function returns 0 when the request was sent: its callback is then called exactly
 *   once, later, from the loop (never from inside the request function). It returns -1 with err
 *   filled when it refuses the request (store unavailable, bad argument): the callback is then
 *   never called. While the store is unavailable every request is refused with
 *   PX_EUNAVAILABLE; wait for on_status(available=1) and send it again.
 *   A request outstanding when the connection is lost completes with PX_EUNAVAILABLE
 *   (after on_status(available=0) has been called); one outstanding at store_redis_close
 *   completes with PX_ECLOSED. Pointers handed to a callback (err, values, key) are valid
 *   only during that call, except where a callback is said to take ownership.
 *   User data is `opaque` everywhere: the store's, given to store_redis_open, reaches on_status,
 *   on_published and the close callback; a request's reaches that request's callback.
 *
 * Closing (the protocol of every handle on the loop, libuv's uv_close: close with a callback,
 * then free)
 *   store_redis_close(s, cb) starts closing. It is idempotent (a later call does nothing; the
 *   first cb stands) and may be called from inside any store callback. At once, requests are
 *   refused with PX_ECLOSED and on_status / on_published are no longer called. Every outstanding
 *   request completes with PX_ECLOSED: inside the close call or, when close is called from inside
 *   a store callback, possibly right after that callback returns. Then cb(s, opaque) runs, from the
 *   loop and never inside store_redis_close, once every uv handle of the store (its timers and
 *   hiredis' socket polls) is closed: nothing of the store refers to the loop any more. Until the
 *   owner calls store_redis_free(s), in cb or after it, s stays valid for the query functions
 *   (store_redis_is_available answers 0) and the request functions (which refuse). The store
 *   never touches s after cb returns; nothing else frees it.
 *
 * SIGPIPE: hiredis writes with write(2), so writing to a connection Redis has just closed raises
 * SIGPIPE, whose default action kills the process. A program using this module must ignore it
 * (signal(SIGPIPE, SIG_IGN) at start, as network daemons do); the write then fails with EPIPE and
 * the store treats it as a lost connection.
 *
 * Threads: a store belongs to its loop's thread; nothing here is thread-safe.
 * Name resolution of a TCP host name is done by hiredis with a blocking getaddrinfo: configure an
 * IP address (or a unix socket) where a blocked loop matters. */
#ifndef STORE_REDIS_H
#define STORE_REDIS_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "metrics.h"
#include "px_error.h"
#include "redis_endpoint.h"

#define STORE_REDIS_KEY_MAX   1024         /* bytes in a caller's key (before the prefix) */
#define STORE_REDIS_BATCH_MAX PX_BATCH_MAX /* hard ceiling of options.max_batch (px_limits.h) */

typedef struct store_redis store_redis;

typedef struct store_redis_options {
    redis_endpoint endpoint;     /* where, as whom, which db, which key prefix */
    const char *index_prefix;    /* prefix of the ROME index keys and channel (`<p>current`,
                                         `<p>published`); NULL = endpoint.prefix. Copied at open. */
    unsigned connect_timeout_ms; /* default 2000 */
    unsigned command_timeout_ms; /* default 5000 */
    unsigned backoff_initial_ms; /* default 100 */
    unsigned backoff_max_ms;     /* default 10000; >= backoff_initial_ms */
    size_t max_batch;            /* keys per get_many / ops per apply_many; default 4096 */
    /* Counters kept live, as requests are sent and fail, beside store_redis_stats (for the
     * owner's /metrics: a scrape sees every round trip made so far). NULL = none. Borrowed:
     * they must outlive the store, and belong to the loop's thread like it (metrics.h). */
    metrics_series *round_trips; /* +1 with stats.round_trips */
    metrics_series *errors;      /* +1 with stats.errors */
} store_redis_options;

/* Fills o with the defaults above and redis_endpoint_init's endpoint. */
void store_redis_options_init(store_redis_options *o);

typedef struct store_redis_callbacks {
    /* Availability changed (of the command connection). available=1 (why is NULL): connected,
     * authenticated, db selected; requests are accepted. available=0: requests are refused;
     * why (valid during the call) says what failed,
     * e.g. "redis 127.0.0.1:6379 as user 'bob': AUTH refused: WRONGPASS …". Called on every
     * transition, and once if the first connection attempt fails; not for each failed retry. */
    void (*on_status)(store_redis *s, int available, const px_error *why, void *opaque);
    /* A ROME index was published: key is the new current snapshot key. key == NULL means the
     * subscription was (re)established, so a publication may have been missed: check current.
     * Leave it NULL to open no subscriber connection. The subscriber reconnects on its own with
     * the same backoff; its failures show in store_redis_last_error and the stats only. */
    void (*on_published)(store_redis *s, const char *key, void *opaque);
} store_redis_callbacks;

/* Validates the options, copies them, and starts connecting (the first attempt runs from the
 * loop, so callbacks never fire inside this call). Returns NULL with err on a bad option. */
store_redis *store_redis_open(uv_loop_t *loop, const store_redis_options *opt,
                              const store_redis_callbacks *cbs, void *opaque, px_error *err);

/* Called once, from the loop, when a closing store no longer refers to the loop (see "Closing"
 * above). The owner calls store_redis_free(s) here or later. */
typedef void (*store_redis_close_cb)(store_redis *s, void *opaque);

/* Starts closing: disconnects, completes outstanding requests with PX_ECLOSED, closes the
 * store's uv handles, then calls cb (required). Idempotent; safe from any store callback. */
void store_redis_close(store_redis *s, store_redis_close_cb cb);

/* Releases the store's memory: in or after its close callback, never before (NULL is a no-op). */
void store_redis_free(store_redis *s);

/* 1 when requests are accepted. */
int store_redis_is_available(const store_redis *s);

/* The reason of the last connection failure or loss (code 0 if none yet). */
const px_error *store_redis_last_error(const store_redis *s);

/* A byte string: a key, or a value. For a value read by get_many, data == NULL means absent. */
typedef struct store_redis_bytes {
    const void *data;
    size_t len;
} store_redis_bytes;

/* values[i] is the value of keys[i]; values and their bytes are valid only during the call.
 * On error, values is NULL and n is 0. */
typedef void (*store_redis_get_cb)(store_redis *s, const px_error *err,
                                   const store_redis_bytes *values, size_t n, void *opaque);

/* Reads n (1..max_batch) keys in one round trip (one MGET). keys are copied before returning. */
int store_redis_get_many(store_redis *s, const store_redis_bytes *keys, size_t n,
                         store_redis_get_cb cb, void *opaque, px_error *err);

/* get_many for a read-modify-write that another client may race (two instances of a Kafka group
 * processing the same person during a rebalance): the keys are also WATCHed (UNWATCH, WATCH,
 * MGET in the same round trip), so that the next apply_many is applied only if none of them was
 * written by anyone else since; otherwise it completes with PX_ECONFLICT and nothing is applied:
 * read again and redo. If the connection was lost since the watch, that apply_many is refused
 * with PX_ECONFLICT (a new connection watches nothing). */
int store_redis_get_many_watched(store_redis *s, const store_redis_bytes *keys, size_t n,
                                 store_redis_get_cb cb, void *opaque, px_error *err);

typedef enum store_redis_op_kind {
    STORE_REDIS_SET, /* SET key value, with EX ttl_s when ttl_s > 0 (0 = no expiry) */
    STORE_REDIS_DEL, /* DEL key (right to erasure); value and ttl_s are ignored */
} store_redis_op_kind;

typedef struct store_redis_op {
    store_redis_op_kind kind;
    store_redis_bytes key;
    store_redis_bytes value;
    unsigned ttl_s;
} store_redis_op;

/* err is NULL on success. */
typedef void (*store_redis_done_cb)(store_redis *s, const px_error *err, void *opaque);

/* Applies n (1..max_batch) ops in one round trip, inside one MULTI/EXEC transaction. ops (keys
 * and values) are copied before returning. */
int store_redis_apply_many(store_redis *s, const store_redis_op *ops, size_t n,
                           store_redis_done_cb cb, void *opaque, px_error *err);

/* On success err is NULL, key is the snapshot's key name (valid during the call) and the callback
 * TAKES OWNERSHIP of bytes (malloc'd, len bytes): free() it or hand it to rome_snapshot_adopt.
 * On error key and bytes are NULL; PX_ENOTFOUND says nothing is published. */
typedef void (*store_redis_index_cb)(store_redis *s, const px_error *err, const char *key,
                                     void *bytes, size_t len, void *opaque);

/* Fetches the current ROME index snapshot: GET <prefix>current, then GET of the key it names
 * (two round trips; snapshots are immutable, so the pair cannot mix two versions). */
int store_redis_get_current_index(store_redis *s, store_redis_index_cb cb, void *opaque,
                                  px_error *err);

typedef struct store_redis_stats {
    uint64_t round_trips;      /* requests sent on the command connection (one per batch / GET) */
    uint64_t errors;           /* requests that completed with an error */
    uint64_t connect_attempts; /* command connection attempts, the first one included */
    uint64_t reconnects; /* command connection re-established after it had been up and was lost */
    uint64_t subscriber_reconnects; /* same for the subscriber connection */
} store_redis_stats;

void store_redis_get_stats(const store_redis *s, store_redis_stats *out);

#endif
