#include "store_redis.h"

#include <hiredis/async.h>
#include <hiredis/hiredis.h>
#include <hiredis/adapters/libuv.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store_sentinel.h"

typedef enum conn_state {
    CONN_WAITING,    /* no connection; the retry timer is armed (or the store is closing) */
    CONN_RESOLVING,  /* asking sentinel `sentinel` for the master, under connect_timeout_ms */
    CONN_CONNECTING, /* TCP connect and handshake in progress, under connect_timeout_ms */
    CONN_READY,      /* handshake done: requests accepted (command) / subscribed (subscriber) */
} conn_state;

typedef struct conn {
    store_redis *store;
    int is_subscriber;
    redisAsyncContext
        *ac; /* NULL when not connected; a context being torn down is detached first */
    conn_state state;
    uv_timer_t retry_timer; /* backoff wait before the next attempt */
    uv_timer_t watchdog;    /* connect timeout, then reply timeout while requests are outstanding */
    unsigned failures;      /* consecutive failed attempts, drives the backoff */
    int was_ready;          /* has ever completed a handshake */
    size_t in_flight;       /* requests awaiting their reply on ac */
    redis_endpoint target;  /* where to connect: the endpoint, its host/port from the sentinels */
    size_t sentinel;        /* the sentinel to ask next */
    size_t asked;           /* sentinels asked in this attempt */
} conn;

struct store_redis {
    uv_loop_t *loop;
    store_redis_options opt;
    store_redis_callbacks cbs;
    void *opaque;
    conn cmd, sub;
    int available;
    int reported_down; /* on_status(0) told since the last on_status(1) (or since open) */
    int closing;
    store_redis_close_cb close_cb;
    int open_handles; /* uv handles not closed yet (timers, socket polls); close_cb at 0 */
    uint64_t rng;     /* xorshift state for the backoff jitter */
    px_error last_error;
    store_redis_stats stats;
    uint64_t cmd_serial;   /* command connections made ready so far: names the current one */
    uint64_t watch_serial; /* the connection keys are WATCHed on (get_many_watched), 0: none */
    char describe[REDIS_ENDPOINT_HOST_MAX + REDIS_ENDPOINT_USER_MAX + 64];
    char current_key[REDIS_ENDPOINT_KEY_MAX];
    char channel[REDIS_ENDPOINT_KEY_MAX];
};

typedef enum request_kind { REQ_GET, REQ_APPLY, REQ_INDEX_NAME, REQ_INDEX_BYTES } request_kind;

typedef struct request {
    store_redis *store;
    request_kind kind;
    size_t n; /* keys (get) or ops (apply) */
    store_redis_get_cb get_cb;
    store_redis_done_cb done_cb;
    store_redis_index_cb index_cb;
    void *opaque;
    char key[REDIS_ENDPOINT_KEY_MAX]; /* index: the snapshot key named by current */
} request;

static const char STEP_AUTH[] = "AUTH", STEP_SELECT[] = "SELECT", STEP_ROLE[] = "ROLE",
                  STEP_PING[] = "PING";

/* ---- libuv glue ----
 * hiredis 0.14.1's libuv adapter drops a poll error status: libuv reports POLLERR as UV_EBADF and
 * stops the handle, the adapter returns without telling hiredis, and the context then hangs
 * forever (an asynchronous connect refusal never reaches the connect callback). These hooks
 * replace the adapter's add/del hooks with ones whose poll callback hands an error to hiredis as
 * a read/write event (what hiredis 1.0's adapter does): hiredis then meets the socket error and
 * disconnects. The adapter's attach (handle set-up) is used as is; its cleanup is replaced by one
 * that counts the poll handle among the store's open handles, so that the close callback waits
 * for it too. */
static void conn_progress(const redisAsyncContext *ac);
static void handle_closed(store_redis *s);

static void poll_on_event(uv_poll_t *handle, int status, int events) {
    redisLibuvEvents *p = handle->data;
    int ev = status ? p->events : events;
    if (p->context && (ev & UV_READABLE)) {
        conn_progress(p->context);
        redisAsyncHandleRead(p->context);
    }
    if (p->context && (ev & UV_WRITABLE)) redisAsyncHandleWrite(p->context);
}

static void poll_update(void *privdata, int add, int remove) {
    redisLibuvEvents *p = privdata;
    p->events = (p->events | add) & ~remove;
    if (p->events)
        uv_poll_start(&p->handle, p->events, poll_on_event);
    else
        uv_poll_stop(&p->handle);
}

static void poll_add_read(void *p) { poll_update(p, UV_READABLE, 0); }
static void poll_del_read(void *p) { poll_update(p, 0, UV_READABLE); }
static void poll_add_write(void *p) { poll_update(p, UV_WRITABLE, 0); }
static void poll_del_write(void *p) { poll_update(p, 0, UV_WRITABLE); }

static void on_poll_closed(uv_handle_t *h) {
    conn *c = h->data;
    free((char *)h - offsetof(redisLibuvEvents, handle));
    handle_closed(c->store);
}

/* hiredis calls it while freeing the context, which is still valid here. */
static void poll_cleanup(void *privdata) {
    redisLibuvEvents *p = privdata;
    p->handle.data = p->context->data; /* the conn: the poll callback never runs again */
    p->context = NULL;
    uv_close((uv_handle_t *)&p->handle, on_poll_closed);
}

static int attach_to_loop(conn *c, redisAsyncContext *ac) {
    if (redisLibuvAttach(ac, c->store->loop) != REDIS_OK) {
        ac->ev.cleanup = NULL; /* the adapter sets its hooks before it can fail; ev.data is NULL */
        return -1;
    }
    ac->ev.addRead = poll_add_read;
    ac->ev.delRead = poll_del_read;
    ac->ev.addWrite = poll_add_write;
    ac->ev.delWrite = poll_del_write;
    ac->ev.cleanup = poll_cleanup;
    c->store->open_handles++;
    return 0;
}

/* ---- status and backoff ---- */

static uint64_t next_random(store_redis *s) {
    s->rng ^= s->rng << 13;
    s->rng ^= s->rng >> 7;
    s->rng ^= s->rng << 17;
    return s->rng;
}

/* Exponential backoff with equal jitter: d = initial·2^(failures-1) capped at max, then a
 * uniform delay in [d/2, d], so that instances restarted together do not reconnect in lockstep
 * while the wait never drops below half the nominal one. */
static uint64_t backoff_ms(store_redis *s, unsigned failures) {
    uint64_t d = s->opt.backoff_initial_ms;
    for (unsigned i = 1; i < failures && d < s->opt.backoff_max_ms; i++) d *= 2;
    if (d > s->opt.backoff_max_ms) d = s->opt.backoff_max_ms;
    return d / 2 + next_random(s) % (d - d / 2 + 1);
}

static void notify_status(store_redis *s, int available, const px_error *why) {
    if (available) {
        if (s->available) return;
        s->available = 1;
        s->reported_down = 0;
    } else {
        int was_available = s->available;
        s->available = 0;
        if (!was_available && s->reported_down) return;
        s->reported_down = 1;
    }
    if (s->cbs.on_status) s->cbs.on_status(s, available, why, s->opaque);
}

static void on_retry_timer(uv_timer_t *t);
static void on_watchdog(uv_timer_t *t);

/* Forgets the current connection, arms the retry timer and tells the owner. It never frees the
 * context: callers that own the teardown call redisAsyncFree after it. conn_lost does the same
 * only if `ac` is still the current connection, so that every path that learns of a loss (connect
 * and disconnect callbacks, NULL replies) may call it and only the first one counts. */
static void conn_forget(conn *c, const px_error *why) {
    store_redis *s = c->store;
    c->ac = NULL;
    c->in_flight = 0;
    c->state = CONN_WAITING;
    uv_timer_stop(&c->watchdog);
    if (s->closing) return;
    s->last_error = *why;
    c->failures++;
    uv_timer_start(&c->retry_timer, on_retry_timer, backoff_ms(s, c->failures), 0);
    if (!c->is_subscriber) notify_status(s, 0, why);
}

static void resolve_start(conn *c);

/* An attempt failed: asking a sentinel moves on to the next one at once until each was asked;
 * anything else waits for the backoff. In sentinel mode, a failed attempt starts the next one at
 * another sentinel, in case the one that answered is behind a failover. */
static void conn_failed(conn *c, const px_error *why) {
    size_t n = c->store->opt.endpoint.n_sentinels;
    if (n && c->state != CONN_READY) c->sentinel = (c->sentinel + 1) % n;
    if (c->state == CONN_RESOLVING && !c->store->closing && ++c->asked < n) {
        c->ac = NULL;
        uv_timer_stop(&c->watchdog);
        c->store->last_error = *why;
        resolve_start(c);
        return;
    }
    c->asked = 0;
    conn_forget(c, why);
}

static void conn_lost(conn *c, const redisAsyncContext *ac, const px_error *why) {
    if (ac && c->ac == ac) conn_failed(c, why);
}

static const char *conn_peer(const conn *c, char *buf, size_t size);

/* The reason of a loss reported by hiredis itself (onConnect/onDisconnect/NULL reply). */
static void conn_lost_hiredis(conn *c, const redisAsyncContext *ac, const char *what) {
    px_error why;
    char peer[REDIS_ENDPOINT_HOST_MAX + REDIS_ENDPOINT_MASTER_MAX + 48];
    px_error_set(&why, PX_EUNAVAILABLE, "redis %s (%s connection): %s: %s",
                 conn_peer(c, peer, sizeof peer), c->is_subscriber ? "subscriber" : "command", what,
                 ac->err && ac->errstr ? ac->errstr : "connection closed");
    conn_lost(c, ac, &why);
}

/* Tears down the current connection on our own initiative (timeout, refused handshake). */
static void conn_drop(conn *c, const px_error *why) {
    redisAsyncContext *ac = c->ac;
    if (!ac) return;
    conn_lost(c, ac, why);
    redisAsyncFree(ac); /* deferred by hiredis when called from one of its callbacks */
}

static void conn_ready(conn *c) {
    store_redis *s = c->store;
    c->state = CONN_READY;
    c->failures = 0;
    uv_timer_stop(&c->watchdog);
    if (c->was_ready) {
        if (c->is_subscriber)
            s->stats.subscriber_reconnects++;
        else
            s->stats.reconnects++;
    }
    c->was_ready = 1;
    if (!c->is_subscriber) s->cmd_serial++;
    if (c->is_subscriber)
        s->cbs.on_published(s, NULL, s->opaque);
    else
        notify_status(s, 1, NULL);
}

/* Data arrived on ac: while requests are outstanding, the reply timeout starts over, so that a
 * large reply (a ROME snapshot) arriving slowly but steadily is not mistaken for a dead link. */
static void conn_progress(const redisAsyncContext *ac) {
    conn *c = ac->data;
    if (c && c->ac == ac && c->state == CONN_READY && c->in_flight > 0)
        uv_timer_start(&c->watchdog, on_watchdog, c->store->opt.command_timeout_ms, 0);
}

static void on_watchdog(uv_timer_t *t) {
    conn *c = t->data;
    store_redis *s = c->store;
    px_error why;
    if (c->state == CONN_RESOLVING)
        px_error_set(&why, PX_EUNAVAILABLE, "redis %s: sentinel %s:%d: no answer within %u ms",
                     s->describe, c->target.sentinels[c->sentinel].host,
                     c->target.sentinels[c->sentinel].port, s->opt.connect_timeout_ms);
    else if (c->state == CONN_CONNECTING)
        px_error_set(&why, PX_EUNAVAILABLE, "redis %s: no connection within %u ms", s->describe,
                     s->opt.connect_timeout_ms);
    else
        px_error_set(&why, PX_EUNAVAILABLE,
                     "redis %s: no reply within %u ms; dropping the connection", s->describe,
                     s->opt.command_timeout_ms);
    conn_drop(c, &why);
}

/* ---- connection set-up ---- */

static void on_connect(const redisAsyncContext *ac, int status) {
    conn *c = ac->data;
    if (status != REDIS_OK) conn_lost_hiredis(c, ac, "connect failed"); /* hiredis frees ac next */
}

static void on_disconnect(const redisAsyncContext *ac, int status) {
    (void)status;
    conn_lost_hiredis(ac->data, ac, "connection lost"); /* a no-op if we dropped it ourselves */
}

static void on_handshake_reply(redisAsyncContext *ac, void *r, void *privdata) {
    conn *c = ac->data;
    redisReply *reply = r;
    const char *step = privdata;
    if (!reply) {
        conn_lost_hiredis(c, ac, "connection lost during the handshake");
        return;
    }
    if (c->ac != ac) return;
    px_error why;
    if (reply->type == REDIS_REPLY_ERROR) {
        px_error_set(&why, PX_EREFUSED, "redis %s: %s refused: %s", c->store->describe, step,
                     reply->str);
        conn_drop(c, &why);
        return;
    }
    if (step == STEP_ROLE && store_sentinel_check_role(reply, c->store->describe, &why)) {
        conn_drop(c, &why);
        return;
    }
    if (step == STEP_PING) conn_ready(c);
}

static void on_subscriber_message(redisAsyncContext *ac, void *r, void *privdata) {
    conn *c = privdata;
    redisReply *reply = r;
    if (!reply) {
        conn_lost_hiredis(c, ac, "subscription lost");
        return;
    }
    if (c->ac != ac || reply->type != REDIS_REPLY_ARRAY || reply->elements < 3) return;
    const redisReply *kind = reply->element[0];
    if (kind->type != REDIS_REPLY_STRING) return;
    if (!strcmp(kind->str, "subscribe")) {
        conn_ready(c);
    } else if (!strcmp(kind->str, "message") && reply->element[2]->type == REDIS_REPLY_STRING) {
        c->store->cbs.on_published(c->store, reply->element[2]->str, c->store->opaque);
    }
}

/* Queues the handshake right behind the connect: hiredis buffers it and writes it once the socket
 * is connected, so the whole handshake is one round trip. */
static int send_handshake(conn *c) {
    store_redis *s = c->store;
    const redis_endpoint *ep = &s->opt.endpoint;
    redisAsyncContext *ac = c->ac;
    int rc = REDIS_OK;
    if (ep->password[0]) {
        if (ep->user[0])
            rc = redisAsyncCommand(ac, on_handshake_reply, (void *)STEP_AUTH, "AUTH %s %s",
                                   ep->user, ep->password);
        else
            rc = redisAsyncCommand(ac, on_handshake_reply, (void *)STEP_AUTH, "AUTH %s",
                                   ep->password);
    }
    if (c->is_subscriber) {
        if (rc == REDIS_OK)
            rc = redisAsyncCommand(ac, on_subscriber_message, c, "SUBSCRIBE %s", s->channel);
        return rc == REDIS_OK ? 0 : -1;
    }
    if (rc == REDIS_OK && ep->db)
        rc = redisAsyncCommand(ac, on_handshake_reply, (void *)STEP_SELECT, "SELECT %d", ep->db);
    if (rc == REDIS_OK && ep->n_sentinels)
        rc = redisAsyncCommand(ac, on_handshake_reply, (void *)STEP_ROLE, "ROLE");
    if (rc == REDIS_OK) rc = redisAsyncCommand(ac, on_handshake_reply, (void *)STEP_PING, "PING");
    return rc == REDIS_OK ? 0 : -1;
}

/* What the connection talks to, for messages: the server, or the sentinel being asked. */
static const char *conn_peer(const conn *c, char *buf, size_t size) {
    if (c->state != CONN_RESOLVING) return c->store->describe;
    const redis_endpoint_sentinel *st = &c->target.sentinels[c->sentinel];
    snprintf(buf, size, "sentinel %s:%d for master '%s'", st->host, st->port, c->target.master);
    return buf;
}

/* Opens a connection in `state` to host:port (or unix_path when not ""), under the connect
 * timeout, and has `first` queue what it sends first; hiredis writes that once the socket is
 * connected. A failure before any I/O is treated like a refused connection. */
static void conn_open(conn *c, conn_state state, const char *host, int port, const char *unix_path,
                      int (*first)(conn *c)) {
    store_redis *s = c->store;
    redisAsyncContext *ac =
        unix_path[0] ? redisAsyncConnectUnix(unix_path) : redisAsyncConnect(host, port);
    px_error why;
    char peer[REDIS_ENDPOINT_HOST_MAX + REDIS_ENDPOINT_MASTER_MAX + 48];
    c->state = state;
    if (ac) ac->data = c; /* before attaching: the poll callback finds the connection through it */
    if (!ac) {
        px_error_set(&why, PX_ENOMEM, "redis %s: out of memory creating a connection",
                     conn_peer(c, peer, sizeof peer));
    } else if (ac->err) {
        px_error_set(&why, PX_EUNAVAILABLE, "redis %s: connect failed: %s",
                     conn_peer(c, peer, sizeof peer), ac->errstr);
    } else if (attach_to_loop(c, ac)) {
        px_error_set(&why, PX_EUNAVAILABLE, "redis %s: cannot watch the socket on the loop",
                     conn_peer(c, peer, sizeof peer));
    } else {
        c->ac = ac;
        redisAsyncSetConnectCallback(ac, on_connect);
        redisAsyncSetDisconnectCallback(ac, on_disconnect);
        if (!unix_path[0]) redisEnableKeepAlive(&ac->c);
        uv_timer_start(&c->watchdog, on_watchdog, s->opt.connect_timeout_ms, 0);
        if (first(c) == 0) return;
        px_error_set(&why, PX_ENOMEM, "redis %s: cannot queue the first command",
                     conn_peer(c, peer, sizeof peer));
        conn_drop(c, &why);
        return;
    }
    /* Never attached: no loop handle refers to ac, so it is freed right here. */
    conn_failed(c, &why);
    if (ac) redisAsyncFree(ac);
}

/* The sentinel named the master: its connection has done its part (detached first, so that its
 * disconnect is not a loss) and the connection to the master starts. */
static void on_sentinel_reply(redisAsyncContext *ac, void *r, void *privdata) {
    conn *c = ac->data;
    store_redis *s = c->store;
    (void)privdata;
    if (!r) {
        conn_lost_hiredis(c, ac, "connection lost");
        return;
    }
    if (c->ac != ac) return;
    px_error why;
    if (store_sentinel_read_master(&c->target, c->sentinel, r, &why)) {
        conn_drop(c, &why);
        return;
    }
    c->ac = NULL;
    uv_timer_stop(&c->watchdog);
    redisAsyncFree(ac); /* deferred by hiredis until this callback returns */
    c->asked = 0;
    if (!c->is_subscriber) store_sentinel_describe(&c->target, s->describe, sizeof s->describe);
    conn_open(c, CONN_CONNECTING, c->target.host, c->target.port, "", send_handshake);
}

static int ask_sentinel(conn *c) {
    return redisAsyncCommand(c->ac, on_sentinel_reply, NULL, "SENTINEL get-master-addr-by-name %s",
                             c->target.master) == REDIS_OK
               ? 0
               : -1;
}

static void resolve_start(conn *c) {
    const redis_endpoint_sentinel *st = &c->target.sentinels[c->sentinel];
    conn_open(c, CONN_RESOLVING, st->host, st->port, "", ask_sentinel);
}

/* One connection attempt: straight to the server, or first to a sentinel to learn where it is. */
static void conn_start(conn *c) {
    store_redis *s = c->store;
    const redis_endpoint *ep = &s->opt.endpoint;
    if (!c->is_subscriber) s->stats.connect_attempts++;
    if (ep->n_sentinels)
        resolve_start(c);
    else
        conn_open(c, CONN_CONNECTING, ep->host, ep->port, ep->unix_path, send_handshake);
}

static void on_retry_timer(uv_timer_t *t) { conn_start(t->data); }

/* ---- open / close ---- */

void store_redis_options_init(store_redis_options *o) {
    memset(o, 0, sizeof *o);
    redis_endpoint_init(&o->endpoint);
    o->connect_timeout_ms = 2000;
    o->command_timeout_ms = 5000;
    o->backoff_initial_ms = 100;
    o->backoff_max_ms = 10000;
    o->max_batch = 4096;
}

static int validate_options(const store_redis_options *o, px_error *err) {
    if (redis_endpoint_validate(&o->endpoint, err)) return -1;
    if (!o->connect_timeout_ms || !o->command_timeout_ms)
        return px_error_set(err, PX_EINVAL,
                            "redis connect and command timeouts must be at least 1 ms");
    if (!o->backoff_initial_ms || o->backoff_max_ms < o->backoff_initial_ms)
        return px_error_set(err, PX_EINVAL,
                            "redis backoff must satisfy 1 <= initial (%u ms) <= max (%u ms)",
                            o->backoff_initial_ms, o->backoff_max_ms);
    if (o->max_batch < 1 || o->max_batch > STORE_REDIS_BATCH_MAX)
        return px_error_set(err, PX_EINVAL, "redis max_batch %zu is out of range (expected 1..%d)",
                            o->max_batch, STORE_REDIS_BATCH_MAX);
    return 0;
}

static void conn_init(store_redis *s, conn *c, int is_subscriber) {
    c->store = s;
    c->is_subscriber = is_subscriber;
    c->state = CONN_WAITING;
    uv_timer_init(s->loop, &c->retry_timer);
    uv_timer_init(s->loop, &c->watchdog);
    c->retry_timer.data = c;
    c->watchdog.data = c;
    c->target = s->opt.endpoint;
    s->open_handles += 2;
    uv_timer_start(&c->retry_timer, on_retry_timer, 0, 0);
}

store_redis *store_redis_open(uv_loop_t *loop, const store_redis_options *opt,
                              const store_redis_callbacks *cbs, void *opaque, px_error *err) {
    if (validate_options(opt, err)) return NULL;
    store_redis *s = calloc(1, sizeof *s);
    if (!s) {
        px_error_set(err, PX_ENOMEM, "out of memory allocating the redis store");
        return NULL;
    }
    s->loop = loop;
    s->opt = *opt;
    if (cbs) s->cbs = *cbs;
    s->opaque = opaque;
    s->rng = uv_hrtime() ^ (uint64_t)(uintptr_t)s ^ 0x9e3779b97f4a7c15ULL;
    if (!s->rng) s->rng = 1;
    s->opt.index_prefix = NULL; /* copied into the names below; the caller's string is not kept */
    redis_endpoint_describe(&opt->endpoint, s->describe, sizeof s->describe);
    redis_endpoint index_ep = opt->endpoint;
    if ((opt->index_prefix && redis_endpoint_set(index_ep.prefix, sizeof index_ep.prefix,
                                                 opt->index_prefix, "index prefix", err)) ||
        redis_endpoint_current_key(&index_ep, s->current_key, sizeof s->current_key, err) < 0 ||
        redis_endpoint_published_channel(&index_ep, s->channel, sizeof s->channel, err) < 0) {
        free(s);
        return NULL;
    }
    conn_init(s, &s->cmd, 0);
    if (s->cbs.on_published) conn_init(s, &s->sub, 1);
    return s;
}

/* The last touch of a closing store: nothing of it refers to the loop any more. */
static void handle_closed(store_redis *s) {
    if (--s->open_handles == 0) s->close_cb(s, s->opaque);
}

static void on_timer_closed(uv_handle_t *h) {
    conn *c = h->data;
    handle_closed(c->store);
}

static void conn_close(conn *c) {
    if (!c->store) return; /* the subscriber connection was never opened */
    redisAsyncContext *ac = c->ac;
    c->ac = NULL;
    c->state = CONN_WAITING;
    if (ac) redisAsyncFree(ac); /* outstanding requests complete with PX_ECLOSED */
    uv_close((uv_handle_t *)&c->retry_timer, on_timer_closed);
    uv_close((uv_handle_t *)&c->watchdog, on_timer_closed);
}

void store_redis_close(store_redis *s, store_redis_close_cb cb) {
    if (s->closing) return;
    s->closing = 1;
    s->close_cb = cb;
    s->available = 0;
    conn_close(&s->cmd);
    conn_close(&s->sub);
}

void store_redis_free(store_redis *s) { free(s); }

int store_redis_is_available(const store_redis *s) { return s->available; }

const px_error *store_redis_last_error(const store_redis *s) { return &s->last_error; }

void store_redis_get_stats(const store_redis *s, store_redis_stats *out) { *out = s->stats; }

/* ---- requests ---- */

/* Reports a request's failure to its owner and frees it. */
static void request_fail(request *req, const px_error *err) {
    store_redis *s = req->store;
    s->stats.errors++;
    if (s->opt.errors) metrics_counter_inc(s->opt.errors);
    switch (req->kind) {
    case REQ_GET: req->get_cb(s, err, NULL, 0, req->opaque); break;
    case REQ_APPLY: req->done_cb(s, err, req->opaque); break;
    case REQ_INDEX_NAME:
    case REQ_INDEX_BYTES: req->index_cb(s, err, NULL, NULL, 0, req->opaque); break;
    }
    free(req);
}

static int require_available(store_redis *s, const char *what, px_error *err) {
    if (s->closing) return px_error_set(err, PX_ECLOSED, "%s: the redis store is closed", what);
    if (!s->available || s->cmd.state != CONN_READY || !s->cmd.ac)
        return px_error_set(err, PX_EUNAVAILABLE, "%s: redis %s is unavailable%s%s", what,
                            s->describe, s->last_error.code ? ": " : "",
                            s->last_error.code ? s->last_error.msg : "");
    return 0;
}

static request *request_new(store_redis *s, request_kind kind, void *opaque, px_error *err) {
    request *req = calloc(1, sizeof *req);
    if (!req) {
        px_error_set(err, PX_ENOMEM, "out of memory allocating a redis request");
        return NULL;
    }
    req->store = s;
    req->kind = kind;
    req->opaque = opaque;
    return req;
}

/* Accounts for a request just written to the command connection: arms the reply watchdog when
 * it is the only one outstanding. */
static void request_sent(store_redis *s) {
    conn *c = &s->cmd;
    s->stats.round_trips++;
    if (s->opt.round_trips) metrics_counter_inc(s->opt.round_trips);
    if (c->in_flight++ == 0)
        uv_timer_start(&c->watchdog, on_watchdog, s->opt.command_timeout_ms, 0);
}

/* A reply (or NULL: lost connection) arrived for one of our requests on ac: re-arms or stops the
 * watchdog, and on NULL records the loss. Returns the failure to report, or NULL. */
static const px_error *request_settle(request *req, redisAsyncContext *ac, const redisReply *reply,
                                      px_error *buf) {
    store_redis *s = req->store;
    conn *c = &s->cmd;
    if (c->ac == ac && c->in_flight > 0) {
        if (--c->in_flight > 0) /* progress: the next reply gets a full timeout again */
            uv_timer_start(&c->watchdog, on_watchdog, s->opt.command_timeout_ms, 0);
        else
            uv_timer_stop(&c->watchdog);
    }
    if (reply) return NULL;
    if (s->closing) {
        px_error_set(buf, PX_ECLOSED, "redis request abandoned: the store was closed");
        return buf;
    }
    conn_lost_hiredis(c, ac, "connection lost");
    px_error_set(buf, PX_EUNAVAILABLE, "redis request failed: %s", s->last_error.msg);
    return buf;
}

/* The keys of a batch as command arguments: argv[front + i] / lens[front + i] hold prefix+key i,
 * laid out in one allocation; the first `front` slots are left for the command name. */
typedef struct key_args {
    const char **argv;
    size_t *lens;
    char *buf;
} key_args;

static void key_args_free(key_args *ka) {
    free(ka->argv);
    free(ka->lens);
    free(ka->buf);
}

/* Checks a batch (1..max_batch keys of 1..STORE_REDIS_KEY_MAX bytes) and lays its keys out. The
 * keys are read `stride` bytes apart so that both a key array and an op array can be walked. */
static int key_args_build(const store_redis *s, const char *what, const store_redis_bytes *first,
                          size_t stride, size_t n, size_t front, key_args *ka, px_error *err) {
    memset(ka, 0, sizeof *ka);
    if (n < 1 || n > s->opt.max_batch)
        return px_error_set(err, PX_EINVAL, "%s: batch of %zu is out of range (expected 1..%zu)",
                            what, n, s->opt.max_batch);
    size_t plen = strlen(s->opt.endpoint.prefix), total = 0;
    for (size_t i = 0; i < n; i++) {
        const store_redis_bytes *k = (const store_redis_bytes *)((const char *)first + i * stride);
        if (!k->data || k->len < 1 || k->len > STORE_REDIS_KEY_MAX)
            return px_error_set(err, PX_EINVAL, "%s: key %zu is %zu bytes long (expected 1..%d)",
                                what, i, k->data ? k->len : 0, STORE_REDIS_KEY_MAX);
        total += plen + k->len;
    }
    ka->argv = malloc((front + n) * sizeof *ka->argv);
    ka->lens = malloc((front + n) * sizeof *ka->lens);
    ka->buf = malloc(total);
    if (!ka->argv || !ka->lens || !ka->buf) {
        key_args_free(ka);
        return px_error_set(err, PX_ENOMEM, "%s: out of memory for %zu keys", what, n);
    }
    char *p = ka->buf;
    for (size_t i = 0; i < n; i++) {
        const store_redis_bytes *k = (const store_redis_bytes *)((const char *)first + i * stride);
        memcpy(p, s->opt.endpoint.prefix, plen);
        memcpy(p + plen, k->data, k->len);
        ka->argv[front + i] = p;
        ka->lens[front + i] = plen + k->len;
        p += plen + k->len;
    }
    return 0;
}

/* An error reply saying that the server is no longer the master (READONLY) or not ready (LOADING):
 * the connection is dropped so that the next attempt, after the backoff, finds the master again
 * (through the sentinels), and the request fails as unavailable, to be sent again. */
static const px_error *conn_failover(conn *c, const redisAsyncContext *ac, const char *msg,
                                     px_error *buf) {
    px_error_set(buf, PX_EUNAVAILABLE, "redis %s: %s; reconnecting", c->store->describe, msg);
    if (c->ac == ac) conn_drop(c, buf);
    return buf;
}

/* The replies to MULTI and to each queued op: QUEUED, or an error that makes EXEC fail. */
static void on_queued_reply(redisAsyncContext *ac, void *r, void *privdata) {
    const redisReply *reply = r;
    px_error buf;
    (void)privdata;
    if (reply && reply->type == REDIS_REPLY_ERROR && store_sentinel_is_failover_error(reply->str))
        conn_failover(ac->data, ac, reply->str, &buf);
}

/* What every reply handler checks first: a lost connection, a closed store, an error reply, and
 * (expect_array) a reply that is not an array of req->n elements; `what` names the request in the
 * message. Returns the failure to report, or NULL. */
static const px_error *reply_failure(request *req, redisAsyncContext *ac, const redisReply *reply,
                                     const char *what, int expect_array, px_error *buf) {
    const px_error *failed = request_settle(req, ac, reply, buf);
    if (failed) return failed;
    if (reply->type == REDIS_REPLY_ERROR) {
        if (store_sentinel_is_failover_error(reply->str))
            return conn_failover(&req->store->cmd, ac, reply->str, buf);
        px_error_set(buf, PX_EREFUSED, "redis %s refused: %s", what, reply->str);
        return buf;
    }
    if (expect_array && (reply->type != REDIS_REPLY_ARRAY || reply->elements != req->n)) {
        px_error_set(buf, PX_EREFUSED,
                     "redis %s: expected an array of %zu results, got reply type %d", what, req->n,
                     reply->type);
        return buf;
    }
    return NULL;
}

static void on_get_reply(redisAsyncContext *ac, void *r, void *privdata) {
    request *req = privdata;
    redisReply *reply = r;
    px_error buf;
    const px_error *failed = reply_failure(req, ac, reply, "MGET", 1, &buf);
    store_redis_bytes *values = failed ? NULL : calloc(req->n, sizeof *values);
    if (!failed && !values) {
        px_error_set(&buf, PX_ENOMEM, "out of memory reading %zu redis values", req->n);
        failed = &buf;
    }
    if (failed) {
        request_fail(req, failed);
        return;
    }
    for (size_t i = 0; i < req->n; i++) {
        const redisReply *v = reply->element[i];
        if (v->type == REDIS_REPLY_STRING) {
            values[i].data = v->str;
            values[i].len = v->len;
        }
    }
    req->get_cb(req->store, NULL, values, req->n, req->opaque);
    free(values);
    free(req);
}

/* The reply to UNWATCH and WATCH: a refusal leaves the keys unwatched, so the transaction that
 * relies on them must not be sent. */
static void on_watch_reply(redisAsyncContext *ac, void *r, void *privdata) {
    const redisReply *reply = r;
    conn *c = ac->data;
    (void)privdata;
    if (reply && reply->type == REDIS_REPLY_ERROR && c) c->store->watch_serial = 0;
    on_queued_reply(ac, r, NULL);
}

/* MGET of the batch, after UNWATCH and WATCH of the same keys when `watch`: all in one write. */
static int get_many_send(store_redis *s, const store_redis_bytes *keys, size_t n, int watch,
                         store_redis_get_cb cb, void *opaque, px_error *err) {
    const char *what = watch ? "get_many_watched" : "get_many";
    key_args ka;
    if (require_available(s, what, err) ||
        key_args_build(s, what, keys, sizeof *keys, n, 1, &ka, err))
        return -1;
    request *req = request_new(s, REQ_GET, opaque, err);
    int rc = -1;
    if (req) {
        req->n = n;
        req->get_cb = cb;
        redisAsyncContext *ac = s->cmd.ac;
        int queued = REDIS_OK;
        if (watch) {
            ka.argv[0] = "WATCH";
            ka.lens[0] = 5;
            queued = redisAsyncCommand(ac, on_watch_reply, NULL, "UNWATCH");
            if (queued == REDIS_OK)
                queued =
                    redisAsyncCommandArgv(ac, on_watch_reply, NULL, (int)n + 1, ka.argv, ka.lens);
        }
        ka.argv[0] = "MGET";
        ka.lens[0] = 4;
        if (queued == REDIS_OK)
            queued = redisAsyncCommandArgv(ac, on_get_reply, req, (int)n + 1, ka.argv, ka.lens);
        if (queued == REDIS_OK) {
            if (watch) s->watch_serial = s->cmd_serial;
            request_sent(s);
            rc = 0;
        } else {
            px_error_set(err, PX_ENOMEM, "%s: hiredis could not queue the command", what);
            free(req);
            if (watch) { /* a WATCH may be queued without its MGET: start afresh */
                px_error why;
                px_error_set(&why, PX_EUNAVAILABLE, "redis %s: could not queue a WATCH",
                             s->describe);
                conn_drop(&s->cmd, &why);
            }
        }
    }
    key_args_free(&ka);
    return rc;
}

int store_redis_get_many(store_redis *s, const store_redis_bytes *keys, size_t n,
                         store_redis_get_cb cb, void *opaque, px_error *err) {
    return get_many_send(s, keys, n, 0, cb, opaque, err);
}

int store_redis_get_many_watched(store_redis *s, const store_redis_bytes *keys, size_t n,
                                 store_redis_get_cb cb, void *opaque, px_error *err) {
    return get_many_send(s, keys, n, 1, cb, opaque, err);
}

static void on_exec_reply(redisAsyncContext *ac, void *r, void *privdata) {
    request *req = privdata;
    redisReply *reply = r;
    px_error buf;
    const px_error *failed =
        reply_failure(req, ac, reply, "transaction (nothing was applied)", 0, &buf);
    if (!failed && reply->type == REDIS_REPLY_NIL) {
        px_error_set(&buf, PX_ECONFLICT,
                     "redis transaction: a watched key changed since it was read (another "
                     "instance wrote it); nothing was applied");
        failed = &buf;
    } else if (!failed && (reply->type != REDIS_REPLY_ARRAY || reply->elements != req->n)) {
        px_error_set(&buf, PX_EREFUSED,
                     "redis transaction: expected an array of %zu results, got reply type %d",
                     req->n, reply->type);
        failed = &buf;
    }
    for (size_t i = 0; !failed && i < req->n; i++) {
        if (reply->element[i]->type == REDIS_REPLY_ERROR) {
            px_error_set(&buf, PX_EREFUSED, "redis transaction: op %zu failed: %s", i,
                         reply->element[i]->str);
            failed = &buf;
        }
    }
    if (failed) {
        request_fail(req, failed);
        return;
    }
    req->done_cb(req->store, NULL, req->opaque);
    free(req);
}

/* Writes MULTI, the ops and EXEC into hiredis' output buffer; they leave in one write. */
static int queue_transaction(store_redis *s, const store_redis_op *ops, size_t n, request *req,
                             const key_args *ka) {
    redisAsyncContext *ac = s->cmd.ac;
    if (redisAsyncCommand(ac, on_queued_reply, NULL, "MULTI") != REDIS_OK) return -1;
    for (size_t i = 0; i < n; i++) {
        const char *argv[5];
        size_t lens[5];
        char ttl[24];
        int argc = 2;
        argv[1] = ka->argv[i];
        lens[1] = ka->lens[i];
        if (ops[i].kind == STORE_REDIS_DEL) {
            argv[0] = "DEL";
            lens[0] = 3;
        } else {
            argv[0] = "SET";
            lens[0] = 3;
            argv[2] = ops[i].value.len ? ops[i].value.data : "";
            lens[2] = ops[i].value.len;
            argc = 3;
            if (ops[i].ttl_s) {
                argv[3] = "EX";
                lens[3] = 2;
                lens[4] = (size_t)snprintf(ttl, sizeof ttl, "%u", ops[i].ttl_s);
                argv[4] = ttl;
                argc = 5;
            }
        }
        if (redisAsyncCommandArgv(ac, on_queued_reply, NULL, argc, argv, lens) != REDIS_OK)
            return -1;
    }
    return redisAsyncCommand(ac, on_exec_reply, req, "EXEC") == REDIS_OK ? 0 : -1;
}

int store_redis_apply_many(store_redis *s, const store_redis_op *ops, size_t n,
                           store_redis_done_cb cb, void *opaque, px_error *err) {
    if (require_available(s, "apply_many", err)) return -1;
    if (s->watch_serial && s->watch_serial != s->cmd_serial)
        return px_error_set(err, PX_ECONFLICT,
                            "apply_many: the connection the keys were watched on was lost; read "
                            "them again");
    for (size_t i = 0; i < n && i <= s->opt.max_batch; i++) {
        if (ops[i].kind != STORE_REDIS_SET && ops[i].kind != STORE_REDIS_DEL)
            return px_error_set(err, PX_EINVAL, "apply_many: op %zu has unknown kind %d", i,
                                (int)ops[i].kind);
        if (ops[i].kind == STORE_REDIS_SET && !ops[i].value.data && ops[i].value.len)
            return px_error_set(err, PX_EINVAL,
                                "apply_many: op %zu has %zu value bytes but no data", i,
                                ops[i].value.len);
    }
    key_args ka;
    if (key_args_build(s, "apply_many", n ? &ops[0].key : NULL, sizeof *ops, n, 0, &ka, err))
        return -1;
    request *req = request_new(s, REQ_APPLY, opaque, err);
    int rc = -1;
    if (req) {
        req->n = n;
        req->done_cb = cb;
        if (queue_transaction(s, ops, n, req, &ka) == 0) {
            s->watch_serial = 0; /* EXEC ends the watch, whatever its outcome */
            request_sent(s);
            rc = 0;
        } else {
            /* Part of a transaction may sit in the output buffer: drop the connection so that it
             * can never be completed by a later EXEC. */
            px_error why;
            px_error_set(&why, PX_EUNAVAILABLE, "redis %s: could not queue a transaction",
                         s->describe);
            px_error_set(err, why.code, "apply_many: %s", why.msg);
            free(req);
            conn_drop(&s->cmd, &why);
        }
    }
    key_args_free(&ka);
    return rc;
}

static void on_index_reply(redisAsyncContext *ac, void *r, void *privdata) {
    request *req = privdata;
    store_redis *s = req->store;
    redisReply *reply = r;
    px_error buf;
    const char *what = req->kind == REQ_INDEX_NAME ? s->current_key : req->key;
    const px_error *failed = reply_failure(req, ac, reply, "GET of the ROME index", 0, &buf);
    if (!failed && reply->type == REDIS_REPLY_NIL) {
        if (req->kind == REQ_INDEX_NAME)
            px_error_set(&buf, PX_ENOTFOUND,
                         "no ROME index is published in redis %s: key '%s' is absent (run "
                         "`passerelle rome publish`)",
                         s->describe, s->current_key);
        else
            px_error_set(&buf, PX_ENOTFOUND, "redis %s: '%s' names snapshot '%s', which is absent",
                         s->describe, s->current_key, req->key);
        failed = &buf;
    } else if (!failed && reply->type != REDIS_REPLY_STRING) {
        px_error_set(&buf, PX_EREFUSED, "redis GET %s: expected a string, got reply type %d", what,
                     reply->type);
        failed = &buf;
    } else if (!failed && req->kind == REQ_INDEX_NAME &&
               (reply->len == 0 || reply->len >= sizeof req->key)) {
        px_error_set(&buf, PX_EREFUSED,
                     "redis %s: '%s' holds a %zu-byte key name (expected 1..%zu)", s->describe,
                     s->current_key, (size_t)reply->len, sizeof req->key - 1);
        failed = &buf;
    }
    if (failed) {
        request_fail(req, failed);
        return;
    }
    if (req->kind == REQ_INDEX_NAME) {
        memcpy(req->key, reply->str, reply->len);
        req->key[reply->len] = '\0';
        req->kind = REQ_INDEX_BYTES;
        if (s->cmd.ac != ac || s->cmd.state != CONN_READY ||
            redisAsyncCommand(ac, on_index_reply, req, "GET %b", req->key, strlen(req->key)) !=
                REDIS_OK) {
            px_error_set(&buf, PX_EUNAVAILABLE,
                         "redis %s: connection lost before reading snapshot '%s'", s->describe,
                         req->key);
            request_fail(req, &buf);
            return;
        }
        request_sent(s);
        return;
    }
    void *bytes = malloc(reply->len ? reply->len : 1);
    if (!bytes) {
        px_error_set(&buf, PX_ENOMEM, "out of memory copying a %zu-byte snapshot",
                     (size_t)reply->len);
        request_fail(req, &buf);
        return;
    }
    memcpy(bytes, reply->str, reply->len);
    req->index_cb(s, NULL, req->key, bytes, reply->len, req->opaque);
    free(req);
}

int store_redis_get_current_index(store_redis *s, store_redis_index_cb cb, void *opaque,
                                  px_error *err) {
    if (require_available(s, "get_current_index", err)) return -1;
    request *req = request_new(s, REQ_INDEX_NAME, opaque, err);
    if (!req) return -1;
    req->index_cb = cb;
    if (redisAsyncCommand(s->cmd.ac, on_index_reply, req, "GET %s", s->current_key) != REDIS_OK) {
        free(req);
        return px_error_set(err, PX_EUNAVAILABLE,
                            "get_current_index: redis %s refused the command locally", s->describe);
    }
    request_sent(s);
    return 0;
}
