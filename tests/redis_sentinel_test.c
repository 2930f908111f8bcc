/* Redis Sentinel: store_redis and the blocking tools find the master through sentinels, refuse a
 * replica a sentinel names, and the store follows a failover without losing or doubling a write.
 *
 * Each test gets a primary, its replica and three sentinels (quorum 2, down-after 500 ms,
 * failover-timeout 2000 ms; tests/support/redis_server.h), all on free loopback ports, and waits
 * until every sentinel knows the replica and the two other sentinels. Every wait is bounded; the
 * servers die with the test process (PR_SET_PDEATHSIG). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "loop_wait.h"
#include "redis_server.h"
#include "store_publish.h"
#include "store_redis.h"

#define MASTER      "pxmaster"
#define N_SENTINELS 3
#define WAIT_MS     10000
#define N_WRITES    300 /* keys the failover test writes, one acknowledged write each */
#define STOP_AT     100 /* the primary is stopped while this key's write is outstanding */
#define DEAD_PORT   1   /* nothing listens there: a sentinel that is down */

typedef struct writer writer;

typedef struct cluster {
    redis_server *primary, *replica, *sentinels[N_SENTINELS];
    uv_loop_t loop;
    store_redis *store;
    int transitions[8]; /* on_status values, in order */
    int n_transitions;
    px_error why;   /* the last on_status(0) reason */
    writer *writer; /* the failover test's, pumped by on_status(1) */
} cluster;

/* One blocking command on srv; the caller frees the reply. */
static redisReply *command(const redis_server *srv, const char *fmt, const char *arg) {
    px_error err;
    redisContext *c = redis_server_connect(srv, &err);
    if (!c) fail_msg("%s", err.msg);
    redisReply *r = redisCommand(c, fmt, arg);
    redisFree(c);
    if (!r) fail_msg("no reply from port %d to %s", redis_server_port(srv), fmt);
    return r;
}

/* The integer field `name` of `SENTINEL master MASTER` (a flat name/value array), or -1. */
static long sentinel_field(const redis_server *sentinel, const char *name) {
    redisReply *r = command(sentinel, "SENTINEL master %s", MASTER);
    long v = -1;
    for (size_t i = 0; r->type == REDIS_REPLY_ARRAY && i + 1 < r->elements; i += 2)
        if (!strcmp(r->element[i]->str, name)) v = atol(r->element[i + 1]->str);
    freeReplyObject(r);
    return v;
}

static int replica_linked(const redis_server *replica) {
    redisReply *r = command(replica, "INFO %s", "replication");
    int up = r->type == REDIS_REPLY_STRING && strstr(r->str, "master_link_status:up");
    freeReplyObject(r);
    return up;
}

static int sentinels_ready(cluster *cl) {
    for (int i = 0; i < N_SENTINELS; i++)
        if (sentinel_field(cl->sentinels[i], "num-slaves") != 1 ||
            sentinel_field(cl->sentinels[i], "num-other-sentinels") != N_SENTINELS - 1)
            return 0;
    return 1;
}

static void wait_for(cluster *cl, int (*cond)(cluster *), const char *what) {
    long long deadline = redis_server_now_ms() + WAIT_MS;
    while (!cond(cl))
        if (redis_server_now_ms() > deadline)
            fail_msg("%s: not within %d ms", what, WAIT_MS);
        else
            redis_server_sleep_ms(50);
}

static int replica_linked_cond(cluster *cl) { return replica_linked(cl->replica); }

/* Every sentinel names the replica as the master. The store may find it through the sentinel
 * that led the failover before the others have heard of it. */
static int sentinels_name_replica(cluster *cl) {
    for (int i = 0; i < N_SENTINELS; i++) {
        redisReply *r = command(cl->sentinels[i], "SENTINEL get-master-addr-by-name %s", MASTER);
        int named = r->type == REDIS_REPLY_ARRAY && r->elements == 2 &&
                    atoi(r->element[1]->str) == redis_server_port(cl->replica);
        freeReplyObject(r);
        if (!named) return 0;
    }
    return 1;
}

static redis_server *start(const redis_server_options *o) {
    px_error err;
    redis_server *srv = redis_server_start(o, &err);
    if (!srv) fail_msg("%s", err.msg);
    return srv;
}

static int setup(void **state) {
    signal(SIGPIPE, SIG_IGN);
    cluster *cl = calloc(1, sizeof *cl);
    assert_non_null(cl);
    assert_int_equal(uv_loop_init(&cl->loop), 0);
    cl->primary = start(NULL);
    redis_server_options ro = {.replicaof_port = redis_server_port(cl->primary)};
    cl->replica = start(&ro);
    wait_for(cl, replica_linked_cond, "replication link up");
    redis_server_options so = {.sentinel_master = MASTER,
                               .sentinel_master_port = redis_server_port(cl->primary)};
    for (int i = 0; i < N_SENTINELS; i++) cl->sentinels[i] = start(&so);
    wait_for(cl, sentinels_ready, "sentinels know the replica and each other");
    *state = cl;
    return 0;
}

static void on_closed(store_redis *s, void *opaque) {
    cluster *cl = opaque;
    store_redis_free(s);
    cl->store = NULL;
}

static int teardown(void **state) {
    cluster *cl = *state;
    if (cl->store) store_redis_close(cl->store, on_closed);
    px_test_run_for(&cl->loop, 20);
    int loop_rc = uv_loop_close(&cl->loop);
    for (int i = 0; i < N_SENTINELS; i++) redis_server_free(cl->sentinels[i]);
    redis_server_free(cl->replica);
    redis_server_free(cl->primary);
    free(cl);
    assert_int_equal(loop_rc, 0);
    return 0;
}

/* An endpoint in sentinel mode: a dead sentinel first (each is asked in turn), then the three. The
 * fixed address is left pointing nowhere, so that only the sentinels can lead to the master. */
static void sentinel_endpoint(const cluster *cl, redis_endpoint *ep) {
    char list[128];
    px_error err;
    redis_endpoint_init(ep);
    ep->port = DEAD_PORT;
    int n = snprintf(list, sizeof list, "127.0.0.1:%d", DEAD_PORT);
    for (int i = 0; i < N_SENTINELS; i++)
        n += snprintf(list + n, sizeof list - (size_t)n, ",127.0.0.1:%d",
                      redis_server_port(cl->sentinels[i]));
    if (redis_endpoint_parse_sentinels(ep, list, &err)) fail_msg("%s", err.msg);
    strcpy(ep->master, MASTER);
}

static void pump(writer *w);

static void on_status(store_redis *s, int available, const px_error *why, void *opaque) {
    cluster *cl = opaque;
    (void)s;
    if (cl->n_transitions < (int)(sizeof cl->transitions / sizeof cl->transitions[0]))
        cl->transitions[cl->n_transitions++] = available;
    if (!available) cl->why = *why;
    if (available && cl->writer) pump(cl->writer);
}

static void open_store(cluster *cl, const redis_endpoint *ep) {
    store_redis_options o;
    store_redis_options_init(&o);
    o.endpoint = *ep;
    o.connect_timeout_ms = 500;
    o.command_timeout_ms = 2000;
    o.backoff_initial_ms = 50;
    o.backoff_max_ms = 400;
    store_redis_callbacks cbs = {on_status, NULL};
    px_error err;
    cl->store = store_redis_open(&cl->loop, &o, &cbs, cl, &err);
    if (!cl->store) fail_msg("%s", err.msg);
}

/* ---- the failover test: a writer that retries only on PX_EUNAVAILABLE ---- */

struct writer {
    cluster *cl;
    int next;              /* the key being written */
    int in_flight;         /* a write is outstanding */
    int acks[N_WRITES];    /* successful completions per key: each must be exactly 1 */
    int unavailable_fails; /* writes that completed or were refused with PX_EUNAVAILABLE */
    int done;              /* all keys written, or a failure (then failed is set) */
    int failed;
    px_error err;
    int stopped; /* the primary was stopped */
};

static void on_written(store_redis *s, const px_error *err, void *opaque) {
    writer *w = opaque;
    (void)s;
    w->in_flight = 0;
    if (!err) {
        w->acks[w->next++]++;
    } else if (err->code == PX_EUNAVAILABLE) {
        w->unavailable_fails++; /* sent again once the store is available */
    } else {
        w->failed = w->done = 1;
        w->err = *err;
    }
    pump(w);
}

/* Sends the next write when none is outstanding and the store accepts requests. */
static void pump(writer *w) {
    if (w->done || w->in_flight) return;
    if (w->next == N_WRITES) {
        w->done = 1;
        return;
    }
    if (!store_redis_is_available(w->cl->store)) return; /* on_status(1) pumps again */
    char key[32], value[32];
    snprintf(key, sizeof key, "k%d", w->next);
    snprintf(value, sizeof value, "v%d", w->next);
    store_redis_op op = {STORE_REDIS_SET, {key, strlen(key)}, {value, strlen(value)}, 0};
    px_error err;
    if (store_redis_apply_many(w->cl->store, &op, 1, on_written, w, &err)) {
        if (err.code == PX_EUNAVAILABLE) {
            w->unavailable_fails++;
            return;
        }
        w->failed = w->done = 1;
        w->err = err;
        return;
    }
    w->in_flight = 1;
    if (w->next == STOP_AT && !w->stopped) {
        /* Mid-stream: a write is outstanding. SIGTERM lets Redis 7 hand its last writes to the
         * replica before it exits (shutdown waits for lagging replicas), so that every write it
         * acknowledged is on the replica the sentinels promote. */
        px_error stop_err;
        if (redis_server_stop(w->cl->primary, &stop_err)) fail_msg("%s", stop_err.msg);
        w->stopped = 1;
    }
}

static void test_store_follows_failover(void **state) {
    cluster *cl = *state;
    redis_endpoint ep;
    sentinel_endpoint(cl, &ep);
    writer *w = calloc(1, sizeof *w);
    assert_non_null(w);
    w->cl = cl;
    cl->writer = w;
    open_store(cl, &ep);

    if (px_test_run_until(&cl->loop, &w->done, 30000))
        fail_msg("wrote %d of %d keys in 30 s; last unavailability: %s", w->next, N_WRITES,
                 cl->why.msg);
    if (w->failed) fail_msg("write of k%d failed: %s", w->next, w->err.msg);
    assert_true(w->stopped);
    for (int i = 0; i < N_WRITES; i++)
        if (w->acks[i] != 1) fail_msg("k%d acknowledged %d times", i, w->acks[i]);
    assert_true(w->unavailable_fails > 0); /* the failover was seen, and retried */
    /* available, unavailable (the primary stopped), available again (the promoted replica) */
    assert_true(cl->n_transitions >= 3);
    assert_int_equal(cl->transitions[0], 1);
    assert_int_equal(cl->transitions[1], 0);
    assert_int_equal(cl->transitions[cl->n_transitions - 1], 1);
    store_redis_stats st;
    store_redis_get_stats(cl->store, &st);
    assert_true(st.reconnects >= 1);

    /* The sentinels name the replica now, and it holds every key once with its value. */
    wait_for(cl, sentinels_name_replica, "every sentinel names the promoted replica");
    redisReply *r = command(cl->replica, "DBSIZE%s", "");
    assert_int_equal(r->integer, N_WRITES);
    freeReplyObject(r);
    for (int i = 0; i < N_WRITES; i++) {
        char key[32], value[32];
        snprintf(key, sizeof key, "passerelle:k%d", i);
        snprintf(value, sizeof value, "v%d", i);
        r = command(cl->replica, "GET %s", key);
        if (r->type != REDIS_REPLY_STRING || strcmp(r->str, value))
            fail_msg("%s is not %s on the new primary", key, value);
        freeReplyObject(r);
    }
    store_redis_close(cl->store, on_closed); /* before the writer it may still pump goes */
    px_test_run_for(&cl->loop, 20);
    cl->writer = NULL;
    free(w);
}

/* ---- the blocking tools, and a sentinel naming a replica ---- */

static void test_publish_finds_master(void **state) {
    cluster *cl = *state;
    redis_endpoint ep;
    sentinel_endpoint(cl, &ep);
    store_publish_result res;
    px_error err;
    if (store_publish_snapshot(&ep, 1000, "1", "snap", 4, &res, &err)) fail_msg("%s", err.msg);
    redisReply *r = command(cl->primary, "GET %s", "passerelle:current");
    assert_int_equal(r->type, REDIS_REPLY_STRING);
    assert_string_equal(r->str, res.key);
    freeReplyObject(r);
}

static void test_replica_is_refused(void **state) {
    cluster *cl = *state;
    /* A sentinel that believes the replica is the master (as one behind a failover would). */
    redis_server_options so = {.sentinel_master = "stale",
                               .sentinel_master_port = redis_server_port(cl->replica)};
    redis_server *stale = start(&so);
    redis_endpoint ep;
    redis_endpoint_init(&ep);
    char list[32];
    snprintf(list, sizeof list, "127.0.0.1:%d", redis_server_port(stale));
    px_error err;
    assert_int_equal(redis_endpoint_parse_sentinels(&ep, list, &err), 0);
    strcpy(ep.master, "stale");

    store_publish_result res;
    assert_int_equal(store_publish_snapshot(&ep, 1000, "1", "snap", 4, &res, &err), -1);
    assert_int_equal(err.code, PX_EUNAVAILABLE);
    if (!strstr(err.msg, "is a slave, not the master")) fail_msg("%s", err.msg);

    open_store(cl, &ep);
    int seen = 0;
    for (long long end = redis_server_now_ms() + 3000; redis_server_now_ms() < end && !seen;) {
        px_test_run_for(&cl->loop, 50);
        seen = cl->n_transitions > 0 && strstr(cl->why.msg, "is a slave") != NULL;
    }
    if (!seen) fail_msg("no refusal of the replica; last reason: %s", cl->why.msg);
    assert_false(store_redis_is_available(cl->store));
    assert_int_equal(cl->transitions[0], 0);
    redis_server_free(stale);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_publish_finds_master, setup, teardown),
        cmocka_unit_test_setup_teardown(test_replica_is_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_store_follows_failover, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
