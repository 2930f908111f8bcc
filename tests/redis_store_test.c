/* store_redis and store_publish against a real redis-server (tests/support/redis_server.h).
 *
 * Every wait is bounded (px_test_run_until); every server is killed in teardown, and dies with
 * the test process anyway (PR_SET_PDEATHSIG). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "latency_proxy.h"
#include "loop_wait.h"
#include "redis_server.h"
#include "store_publish.h"
#include "store_redis.h"

#define WAIT_MS 5000

typedef struct fixture {
    uv_loop_t loop;
    redis_server *srv;
    store_redis *store;
    int status_calls, available;
    px_error why; /* reason given with the last on_status(0) */
    int published_calls, resubscribed;
    char published[REDIS_ENDPOINT_KEY_MAX];
    int unavailable_before_request_error; /* order check for a request failing on a loss */
    int close_when_unavailable;           /* on_status(0) closes the store (re-entrancy test) */
    int closed;                           /* close callbacks run (the store is freed in it) */
    int completed_at_close;               /* requests_completed when the close callback ran */
    latency_proxy *proxy;                 /* closed by teardown */
} fixture;

static int requests_completed; /* request callbacks run in this test, whatever their outcome */

/* ---- callbacks recording into the fixture ---- */

/* The close protocol: the callback runs once, from the loop; the owner frees the store in it. */
static void on_closed(store_redis *s, void *opaque) {
    fixture *fx = opaque;
    assert_ptr_equal(s, fx->store);
    fx->closed++;
    fx->completed_at_close = requests_completed;
    store_redis_free(s);
    fx->store = NULL;
}

static void on_status(store_redis *s, int available, const px_error *why, void *opaque) {
    fixture *fx = opaque;
    (void)s;
    fx->status_calls++;
    fx->available = available;
    if (!available) fx->why = *why;
    if (!available && fx->close_when_unavailable) store_redis_close(s, on_closed);
}

static void on_published(store_redis *s, const char *key, void *opaque) {
    fixture *fx = opaque;
    (void)s;
    if (key) {
        fx->published_calls++;
        snprintf(fx->published, sizeof fx->published, "%s", key);
    } else {
        fx->resubscribed++;
    }
}

typedef struct get_result {
    int done;
    px_error err;
    int failed;
    size_t n;
    int present[16];
    char values[16][64];
    size_t lens[16];
    fixture *fx;
    int close_store; /* the callback closes the store (twice: close is idempotent) */
} get_result;

static void on_get(store_redis *s, const px_error *err, const store_redis_bytes *values, size_t n,
                   void *opaque) {
    get_result *r = opaque;
    requests_completed++;
    if (r->close_store) {
        store_redis_close(s, on_closed);
        store_redis_close(s, on_closed);
    }
    r->done = 1;
    r->failed = err != NULL;
    if (err) {
        r->err = *err;
        if (r->fx)
            r->fx->unavailable_before_request_error =
                !store_redis_is_available(s) && r->fx->status_calls > 0;
        assert_null(values);
        return;
    }
    r->n = n;
    for (size_t i = 0; i < n && i < 16; i++) {
        r->present[i] = values[i].data != NULL;
        r->lens[i] = values[i].len;
        if (values[i].data && values[i].len < sizeof r->values[i])
            memcpy(r->values[i], values[i].data, values[i].len);
    }
}

typedef struct done_result {
    int done, failed;
    px_error err;
} done_result;

static void on_done(store_redis *s, const px_error *err, void *opaque) {
    done_result *r = opaque;
    (void)s;
    requests_completed++;
    r->done = 1;
    r->failed = err != NULL;
    if (err) r->err = *err;
}

typedef struct index_result {
    int done, failed;
    px_error err;
    char key[REDIS_ENDPOINT_KEY_MAX];
    void *bytes; /* the snapshot, handed over by the callback; freed by index_sync or the test */
    size_t len;
} index_result;

static void on_index(store_redis *s, const px_error *err, const char *key, void *bytes, size_t len,
                     void *opaque) {
    index_result *r = opaque;
    (void)s;
    requests_completed++;
    r->done = 1;
    r->failed = err != NULL;
    if (err) {
        r->err = *err;
        assert_null(key);
        assert_null(bytes);
        return;
    }
    snprintf(r->key, sizeof r->key, "%s", key);
    r->bytes = bytes;
    r->len = len;
}

/* ---- helpers ---- */

static void options_for(const redis_server *srv, store_redis_options *o) {
    store_redis_options_init(o);
    o->endpoint.port = redis_server_port(srv);
    o->connect_timeout_ms = 1000;
    o->command_timeout_ms = 1000;
    o->backoff_initial_ms = 20;
    o->backoff_max_ms = 160;
    o->max_batch = 16;
}

static void open_store(fixture *fx, const store_redis_options *o, int subscribe) {
    store_redis_callbacks cbs = {.on_status = on_status,
                                 .on_published = subscribe ? on_published : NULL};
    px_error err;
    fx->store = store_redis_open(&fx->loop, o, &cbs, fx, &err);
    if (!fx->store) fail_msg("store_redis_open: %s", err.msg);
}

static void open_available(fixture *fx, int subscribe) {
    store_redis_options o;
    options_for(fx->srv, &o);
    open_store(fx, &o, subscribe);
    assert_int_equal(px_test_run_until(&fx->loop, &fx->available, WAIT_MS), 0);
    if (subscribe) assert_int_equal(px_test_run_until(&fx->loop, &fx->resubscribed, WAIT_MS), 0);
}

/* Closes (again, if a test already started it: close is idempotent) and waits for on_closed,
 * which frees the store. */
static void close_store(fixture *fx) {
    if (!fx->store) return;
    fx->closed = 0;
    store_redis_close(fx->store, on_closed);
    assert_int_equal(fx->closed, 0); /* never called from inside store_redis_close */
    assert_int_equal(px_test_run_until(&fx->loop, &fx->closed, WAIT_MS), 0);
}

static store_redis_bytes str_bytes(const char *s) { return (store_redis_bytes){s, strlen(s)}; }

static void get_sync(fixture *fx, const store_redis_bytes *keys, size_t n, get_result *r) {
    px_error err;
    memset(r, 0, sizeof *r);
    r->fx = fx;
    if (store_redis_get_many(fx->store, keys, n, on_get, r, &err))
        fail_msg("get_many refused: %s", err.msg);
    assert_int_equal(r->done, 0); /* never called from inside the request function */
    assert_int_equal(px_test_run_until(&fx->loop, &r->done, WAIT_MS), 0);
}

static void apply_sync(fixture *fx, const store_redis_op *ops, size_t n, done_result *r) {
    px_error err;
    memset(r, 0, sizeof *r);
    if (store_redis_apply_many(fx->store, ops, n, on_done, r, &err))
        fail_msg("apply_many refused: %s", err.msg);
    assert_int_equal(r->done, 0);
    assert_int_equal(px_test_run_until(&fx->loop, &r->done, WAIT_MS), 0);
}

/* r must start zeroed; the bytes of a previous fetch into it are freed. */
static void index_sync(fixture *fx, index_result *r) {
    px_error err;
    free(r->bytes);
    memset(r, 0, sizeof *r);
    if (store_redis_get_current_index(fx->store, on_index, r, &err))
        fail_msg("get_current_index refused: %s", err.msg);
    assert_int_equal(px_test_run_until(&fx->loop, &r->done, WAIT_MS), 0);
}

static redisReply *admin(const fixture *fx, const char *fmt, ...) {
    px_error err;
    redisContext *c = redis_server_connect(fx->srv, &err);
    if (!c) fail_msg("%s", err.msg);
    va_list ap;
    va_start(ap, fmt);
    redisReply *r = redisvCommand(c, fmt, ap);
    va_end(ap);
    redisFree(c);
    if (!r) fail_msg("admin command failed");
    return r;
}

static long long admin_integer(const fixture *fx, const char *fmt, const char *arg) {
    redisReply *r = admin(fx, fmt, arg);
    long long v = r->type == REDIS_REPLY_INTEGER ? r->integer : -999;
    freeReplyObject(r);
    return v;
}

/* calls=N of one command in INFO commandstats (0 if it never ran since CONFIG RESETSTAT). */
static long long command_calls(const fixture *fx, const char *command) {
    redisReply *r = admin(fx, "INFO commandstats");
    char needle[64];
    snprintf(needle, sizeof needle, "cmdstat_%s:calls=", command);
    const char *p = strstr(r->str, needle);
    long long v = p ? atoll(p + strlen(needle)) : 0;
    freeReplyObject(r);
    return v;
}

static double cpu_seconds(void) {
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + (double)ru.ru_stime.tv_sec +
           ru.ru_stime.tv_usec / 1e6;
}

static void publish_endpoint(const fixture *fx, redis_endpoint *ep) {
    redis_endpoint_init(ep);
    ep->port = redis_server_port(fx->srv);
}

/* ---- setup / teardown: a fresh server for every test (cheap: ~10 ms) ---- */

static int start_with(void **state, const redis_server_options *so) {
    fixture *fx = calloc(1, sizeof *fx);
    px_error err;
    requests_completed = 0;
    uv_loop_init(&fx->loop);
    fx->srv = redis_server_start(so, &err);
    if (!fx->srv) {
        fprintf(stderr, "redis_server_start: %s\n", err.msg);
        uv_loop_close(&fx->loop);
        free(fx);
        return -1;
    }
    *state = fx;
    return 0;
}

static int setup_plain(void **state) {
    redis_server_options so = {.unix_socket = 1};
    return start_with(state, &so);
}

static int setup_password(void **state) {
    redis_server_options so = {
        .requirepass = "default-secret", .acl_user = "passerelle", .acl_password = "acl-secret"};
    return start_with(state, &so);
}

static int teardown(void **state) {
    fixture *fx = *state;
    close_store(fx);
    if (fx->proxy) latency_proxy_close(fx->proxy);
    px_test_run_for(&fx->loop, 20);
    int loop_rc = uv_loop_close(&fx->loop);
    redis_server_free(fx->srv);
    free(fx);
    assert_int_equal(loop_rc, 0); /* no handle left behind by the store */
    return 0;
}

/* ---- tests ---- */

static void test_refuses_requests_until_connected(void **state) {
    fixture *fx = *state;
    store_redis_options o;
    options_for(fx->srv, &o);
    open_store(fx, &o, 0);
    store_redis_bytes key = str_bytes("u1");
    px_error err;
    get_result r = {0};
    assert_int_equal(store_redis_get_many(fx->store, &key, 1, on_get, &r, &err), -1);
    assert_int_equal(err.code, PX_EUNAVAILABLE);
    assert_non_null(strstr(err.msg, "is unavailable"));
    assert_int_equal(fx->status_calls, 0); /* nothing is called from inside open */
    assert_int_equal(px_test_run_until(&fx->loop, &fx->available, WAIT_MS), 0);
    assert_int_equal(fx->status_calls, 1);
    assert_int_equal(r.done, 0); /* a refused request never gets its callback */
}

static void test_batches_take_one_round_trip_each(void **state) {
    fixture *fx = *state;
    open_available(fx, 0);
    freeReplyObject(admin(fx, "SET passerelle:gone old"));
    freeReplyObject(admin(fx, "CONFIG RESETSTAT"));

    char names[12][24];
    store_redis_op ops[13];
    for (int i = 0; i < 12; i++) {
        snprintf(names[i], sizeof names[i], "user:%d", i);
        ops[i] = (store_redis_op){STORE_REDIS_SET, str_bytes(names[i]), str_bytes(names[i]),
                                  i == 0 ? 0 : 100};
    }
    ops[12] = (store_redis_op){.kind = STORE_REDIS_DEL, .key = str_bytes("gone")};
    done_result d;
    apply_sync(fx, ops, 13, &d);
    if (d.failed) fail_msg("%s", d.err.msg);
    store_redis_stats st;
    store_redis_get_stats(fx->store, &st);
    assert_int_equal(st.round_trips, 1);
    assert_int_equal(command_calls(fx, "multi"), 1);
    assert_int_equal(command_calls(fx, "exec"), 1);
    assert_int_equal(command_calls(fx, "set"), 12);
    assert_int_equal(command_calls(fx, "del"), 1);

    /* TTL: EX applied where asked, none where ttl_s is 0; the DEL erased the key. */
    long long ttl = admin_integer(fx, "TTL %s", "passerelle:user:5");
    assert_true(ttl > 90 && ttl <= 100);
    assert_int_equal(admin_integer(fx, "TTL %s", "passerelle:user:0"), -1);
    assert_int_equal(admin_integer(fx, "EXISTS %s", "passerelle:gone"), 0);

    store_redis_bytes keys[14];
    for (int i = 0; i < 12; i++) keys[i] = str_bytes(names[i]);
    keys[12] = str_bytes("gone");
    keys[13] = str_bytes("never-written");
    get_result r;
    get_sync(fx, keys, 14, &r);
    if (r.failed) fail_msg("%s", r.err.msg);
    assert_int_equal(r.n, 14);
    for (int i = 0; i < 12; i++) {
        assert_true(r.present[i]);
        assert_int_equal(r.lens[i], strlen(names[i]));
        assert_memory_equal(r.values[i], names[i], r.lens[i]);
    }
    assert_false(r.present[12]);
    assert_false(r.present[13]);
    store_redis_get_stats(fx->store, &st);
    assert_int_equal(st.round_trips, 2);
    assert_int_equal(st.errors, 0);
    assert_int_equal(command_calls(fx, "mget"), 1);
    assert_int_equal(command_calls(fx, "get"), 0);
}

static void get_watched_sync(fixture *fx, const store_redis_bytes *keys, size_t n, get_result *r) {
    px_error err;
    memset(r, 0, sizeof *r);
    r->fx = fx;
    if (store_redis_get_many_watched(fx->store, keys, n, on_get, r, &err))
        fail_msg("get_many_watched refused: %s", err.msg);
    assert_int_equal(px_test_run_until(&fx->loop, &r->done, WAIT_MS), 0);
}

/* A read-modify-write raced by another client (the daemon's batch while another instance writes
 * the same person around a rebalance): the transaction after a watched read is applied only if
 * nobody wrote the keys since, else nothing is applied and PX_ECONFLICT says to read again; a
 * watch does not survive a reconnection, so the write after one is refused too. */
static void test_watched_read_refuses_a_raced_write(void **state) {
    fixture *fx = *state;
    px_error err;
    open_available(fx, 0);
    freeReplyObject(admin(fx, "SET passerelle:w:1 v0"));
    store_redis_bytes keys[2] = {str_bytes("w:1"), str_bytes("w:2")};
    store_redis_op ops[2] = {{STORE_REDIS_SET, keys[0], str_bytes("mine"), 0},
                             {STORE_REDIS_SET, keys[1], str_bytes("mine"), 0}};
    get_result r;
    done_result d;

    /* nobody in between: applied */
    get_watched_sync(fx, keys, 2, &r);
    assert_false(r.failed);
    assert_memory_equal(r.values[0], "v0", 2);
    apply_sync(fx, ops, 2, &d);
    if (d.failed) fail_msg("%s", d.err.msg);

    /* another client writes one key (an absent one, too, counts) between read and write */
    get_watched_sync(fx, keys, 2, &r);
    freeReplyObject(admin(fx, "SET passerelle:w:1 theirs"));
    apply_sync(fx, ops, 1, &d);
    assert_true(d.failed);
    assert_int_equal(d.err.code, PX_ECONFLICT);
    redisReply *v = admin(fx, "GET passerelle:w:1");
    assert_string_equal(v->str, "theirs"); /* nothing applied */
    freeReplyObject(v);
    freeReplyObject(admin(fx, "DEL passerelle:w:2"));
    get_watched_sync(fx, keys, 2, &r);
    assert_false(r.present[1]);
    freeReplyObject(admin(fx, "SET passerelle:w:2 theirs"));
    apply_sync(fx, ops, 2, &d);
    assert_int_equal(d.err.code, PX_ECONFLICT);

    /* read again, write again: applied; a plain transaction after it is not conditional */
    get_watched_sync(fx, keys, 2, &r);
    apply_sync(fx, ops, 2, &d);
    assert_false(d.failed);
    freeReplyObject(admin(fx, "SET passerelle:w:1 theirs"));
    apply_sync(fx, ops, 1, &d);
    assert_false(d.failed);

    /* the connection is lost and back between the watched read and the write: refused */
    get_watched_sync(fx, keys, 2, &r);
    freeReplyObject(admin(fx, "CLIENT KILL TYPE normal SKIPME yes"));
    fx->available = 0;
    assert_int_equal(px_test_run_until(&fx->loop, &fx->available, WAIT_MS), 0);
    assert_int_equal(store_redis_apply_many(fx->store, ops, 2, on_done, &d, &err), -1);
    assert_int_equal(err.code, PX_ECONFLICT);
    get_watched_sync(fx, keys, 2, &r);
    apply_sync(fx, ops, 2, &d);
    assert_false(d.failed);
}

/* Through a link that delays every answer by 100 ms, a batch costs one delay, not one per key or
 * per op: the proxy counts the round trips it carried, and the time agrees. */
static void test_round_trips_on_a_slow_link(void **state) {
    fixture *fx = *state;
    enum { DELAY_MS = 100 };
    px_error err;
    latency_proxy *proxy = fx->proxy =
        latency_proxy_start(&fx->loop, redis_server_port(fx->srv), DELAY_MS, &err);
    if (!proxy) fail_msg("%s", err.msg);
    store_redis_options o;
    options_for(fx->srv, &o);
    o.endpoint.port = latency_proxy_port(proxy);
    open_store(fx, &o, 0);
    assert_int_equal(px_test_run_until(&fx->loop, &fx->available, WAIT_MS), 0);
    assert_int_equal(latency_proxy_round_trips(proxy), 1); /* the handshake: one PING round trip */

    char names[16][24];
    store_redis_op ops[16];
    store_redis_bytes keys[16];
    for (int i = 0; i < 16; i++) {
        snprintf(names[i], sizeof names[i], "slow:%d", i);
        keys[i] = str_bytes(names[i]);
        ops[i] = (store_redis_op){i % 4 ? STORE_REDIS_SET : STORE_REDIS_DEL, keys[i], keys[i], 60};
    }
    uint64_t t0 = uv_hrtime();
    done_result d;
    apply_sync(fx, ops, 16, &d);
    double apply_ms = (double)(uv_hrtime() - t0) / 1e6;
    assert_false(d.failed);
    assert_int_equal(latency_proxy_round_trips(proxy), 2);

    t0 = uv_hrtime();
    get_result r;
    get_sync(fx, keys, 16, &r);
    double get_ms = (double)(uv_hrtime() - t0) / 1e6;
    assert_false(r.failed);
    for (int i = 0; i < 16; i++) assert_int_equal(r.present[i], i % 4 != 0);
    assert_int_equal(latency_proxy_round_trips(proxy), 3);
    printf("# over a %d ms link: apply_many(16) %.0f ms, get_many(16) %.0f ms\n", DELAY_MS,
           apply_ms, get_ms);
    /* 18 commands one by one would take >= 1800 ms; the margin is for a loaded machine. */
    assert_true(apply_ms >= DELAY_MS * 0.9 && apply_ms < 5 * DELAY_MS);
    assert_true(get_ms >= DELAY_MS * 0.9 && get_ms < 5 * DELAY_MS);
}

static void test_keys_and_values_are_binary_safe(void **state) {
    fixture *fx = *state;
    open_available(fx, 0);
    static const char key[] = {'k', 0, ' ', '\n', 'z'}, value[] = {0, 1, 2, 0, '\r', '\n', 0xff};
    store_redis_op op = {STORE_REDIS_SET, {key, sizeof key}, {value, sizeof value}, 60};
    store_redis_op empty = {STORE_REDIS_SET, str_bytes("empty"), {NULL, 0}, 60};
    store_redis_op both[2] = {op, empty};
    done_result d;
    apply_sync(fx, both, 2, &d);
    assert_false(d.failed);
    store_redis_bytes keys[2] = {{key, sizeof key}, str_bytes("empty")};
    get_result r;
    get_sync(fx, keys, 2, &r);
    assert_false(r.failed);
    assert_true(r.present[0]);
    assert_int_equal(r.lens[0], sizeof value);
    assert_memory_equal(r.values[0], value, sizeof value);
    assert_true(r.present[1]); /* an empty value is present, not absent */
    assert_int_equal(r.lens[1], 0);
}

static void test_batch_limits_and_bad_ops(void **state) {
    fixture *fx = *state;
    open_available(fx, 0);
    store_redis_bytes keys[17];
    for (int i = 0; i < 17; i++) keys[i] = str_bytes("k");
    px_error err;
    get_result r = {0};
    done_result d = {0};
    assert_int_equal(store_redis_get_many(fx->store, keys, 0, on_get, &r, &err), -1);
    assert_non_null(strstr(err.msg, "batch of 0 is out of range (expected 1..16)"));
    assert_int_equal(store_redis_get_many(fx->store, keys, 17, on_get, &r, &err), -1);
    assert_non_null(strstr(err.msg, "batch of 17 is out of range (expected 1..16)"));
    assert_int_equal(store_redis_get_many(fx->store, keys, 16, on_get, &r, &err), 0);
    assert_int_equal(px_test_run_until(&fx->loop, &r.done, WAIT_MS), 0);
    assert_false(r.failed);

    keys[1].len = 0;
    assert_int_equal(store_redis_get_many(fx->store, keys, 2, on_get, &r, &err), -1);
    assert_non_null(strstr(err.msg, "key 1 is 0 bytes long (expected 1..1024)"));
    char *big = calloc(1, STORE_REDIS_KEY_MAX + 1);
    store_redis_op op = {STORE_REDIS_SET, {big, STORE_REDIS_KEY_MAX + 1}, str_bytes("v"), 1};
    assert_int_equal(store_redis_apply_many(fx->store, &op, 1, on_done, &d, &err), -1);
    assert_non_null(strstr(err.msg, "key 0 is 1025 bytes long"));
    op.key.len = STORE_REDIS_KEY_MAX; /* the limit itself is accepted */
    assert_int_equal(store_redis_apply_many(fx->store, &op, 1, on_done, &d, &err), 0);
    assert_int_equal(px_test_run_until(&fx->loop, &d.done, WAIT_MS), 0);
    assert_false(d.failed);
    free(big);

    store_redis_op bad = {(store_redis_op_kind)7, str_bytes("k"), str_bytes("v"), 0};
    assert_int_equal(store_redis_apply_many(fx->store, &bad, 1, on_done, &d, &err), -1);
    assert_non_null(strstr(err.msg, "unknown kind 7"));
    bad = (store_redis_op){STORE_REDIS_SET, str_bytes("k"), {NULL, 3}, 0};
    assert_int_equal(store_redis_apply_many(fx->store, &bad, 1, on_done, &d, &err), -1);
    assert_non_null(strstr(err.msg, "3 value bytes but no data"));
}

static void test_bad_options(void **state) {
    fixture *fx = *state;
    store_redis_options o;
    px_error err;
    store_redis_callbacks cbs = {.on_status = on_status};
    options_for(fx->srv, &o);
    o.backoff_max_ms = 10;
    assert_null(store_redis_open(&fx->loop, &o, &cbs, fx, &err));
    assert_non_null(strstr(err.msg, "1 <= initial (20 ms) <= max (10 ms)"));
    options_for(fx->srv, &o);
    o.max_batch = 0;
    assert_null(store_redis_open(&fx->loop, &o, &cbs, fx, &err));
    assert_non_null(strstr(err.msg, "max_batch 0 is out of range"));
    o.max_batch = STORE_REDIS_BATCH_MAX + 1;
    assert_null(store_redis_open(&fx->loop, &o, &cbs, fx, &err));
    assert_non_null(strstr(err.msg, "max_batch 100001 is out of range (expected 1..100000)"));
    options_for(fx->srv, &o);
    o.command_timeout_ms = 0;
    assert_null(store_redis_open(&fx->loop, &o, &cbs, fx, &err));
    assert_non_null(strstr(err.msg, "timeouts must be at least 1 ms"));
    options_for(fx->srv, &o);
    strcpy(o.endpoint.unix_path, "/tmp/x.sock");
    assert_null(store_redis_open(&fx->loop, &o, &cbs, fx, &err));
    assert_non_null(strstr(err.msg, "exactly one of a host or a unix socket path"));
}

static void test_select_db_and_unix_socket(void **state) {
    fixture *fx = *state;
    store_redis_options o;
    options_for(fx->srv, &o);
    char url[200];
    snprintf(url, sizeof url, "unix://%s?db=3", redis_server_socket_path(fx->srv));
    px_error err;
    if (redis_endpoint_parse_url(&o.endpoint, url, &err)) fail_msg("%s", err.msg);
    open_store(fx, &o, 0);
    assert_int_equal(px_test_run_until(&fx->loop, &fx->available, WAIT_MS), 0);
    store_redis_op op = {STORE_REDIS_SET, str_bytes("in-db-3"), str_bytes("x"), 0};
    done_result d;
    apply_sync(fx, &op, 1, &d);
    assert_false(d.failed);
    assert_int_equal(admin_integer(fx, "EXISTS %s", "passerelle:in-db-3"), 0); /* db 0 */
    redisReply *r;
    px_error e2;
    redisContext *c = redis_server_connect(fx->srv, &e2);
    assert_non_null(c);
    freeReplyObject(redisCommand(c, "SELECT 3"));
    r = redisCommand(c, "GET passerelle:in-db-3");
    assert_int_equal(r->type, REDIS_REPLY_STRING);
    assert_string_equal(r->str, "x");
    freeReplyObject(r);
    redisFree(c);
}

/* The close protocol: outstanding requests complete with PX_ECLOSED inside the close call; the
 * store then refuses requests and stays valid until the close callback, which runs once, from the
 * loop, after them; a second close changes nothing. */
static void test_close_completes_outstanding_requests(void **state) {
    fixture *fx = *state;
    open_available(fx, 1);
    store_redis_bytes key = str_bytes("u");
    get_result r = {0}, late = {0};
    done_result d = {0};
    index_result ir = {0};
    store_redis_op op = {STORE_REDIS_SET, key, key, 0};
    px_error err;
    assert_int_equal(store_redis_get_many(fx->store, &key, 1, on_get, &r, &err), 0);
    assert_int_equal(store_redis_apply_many(fx->store, &op, 1, on_done, &d, &err), 0);
    assert_int_equal(store_redis_get_current_index(fx->store, on_index, &ir, &err), 0);
    store_redis_close(fx->store, on_closed);
    assert_true(r.done && r.failed);
    assert_int_equal(r.err.code, PX_ECLOSED);
    assert_true(d.done && d.failed);
    assert_int_equal(d.err.code, PX_ECLOSED);
    assert_true(ir.done && ir.failed);
    assert_int_equal(ir.err.code, PX_ECLOSED);

    /* Closing, not closed: the store is valid and refuses requests. */
    assert_int_equal(fx->closed, 0);
    assert_false(store_redis_is_available(fx->store));
    assert_int_equal(store_redis_get_many(fx->store, &key, 1, on_get, &late, &err), -1);
    assert_int_equal(err.code, PX_ECLOSED);
    store_redis_close(fx->store, on_closed);

    assert_int_equal(px_test_run_until(&fx->loop, &fx->closed, WAIT_MS), 0);
    assert_int_equal(fx->completed_at_close, 3);
    assert_null(fx->store);
    px_test_run_for(&fx->loop, 20);
    assert_int_equal(fx->closed, 1);
    assert_int_equal(late.done, 0);
}

/* The owner may close the store from inside its callbacks: here from on_status(0), while a
 * request is outstanding and hiredis is tearing the connection down. */
static void test_close_from_inside_a_callback(void **state) {
    fixture *fx = *state;
    px_error err;
    open_available(fx, 1);
    fx->close_when_unavailable = 1;
    store_redis_bytes key = str_bytes("k");
    get_result r = {0};
    assert_int_equal(store_redis_get_many(fx->store, &key, 1, on_get, &r, &err), 0);
    assert_int_equal(redis_server_stop(fx->srv, &err), 0);
    assert_int_equal(px_test_run_until(&fx->loop, &fx->closed, WAIT_MS), 0);
    assert_true(r.done && r.failed);
    assert_int_equal(fx->completed_at_close, 1);
    px_test_run_for(&fx->loop, 50); /* teardown's uv_loop_close proves every handle was closed */
    assert_int_equal(fx->closed, 1);
}

/* ... and from inside a request's callback (twice), with another request outstanding: that one
 * completes with PX_ECLOSED once the callback has returned, then the close callback runs. */
static void test_close_in_a_request_callback(void **state) {
    fixture *fx = *state;
    px_error err;
    open_available(fx, 1);
    store_redis_bytes key = str_bytes("k");
    get_result first = {.close_store = 1}, second = {0};
    assert_int_equal(store_redis_get_many(fx->store, &key, 1, on_get, &first, &err), 0);
    assert_int_equal(store_redis_get_many(fx->store, &key, 1, on_get, &second, &err), 0);
    assert_int_equal(px_test_run_until(&fx->loop, &fx->closed, WAIT_MS), 0);
    assert_true(first.done && !first.failed);
    assert_true(second.done && second.failed);
    assert_int_equal(second.err.code, PX_ECLOSED);
    assert_int_equal(fx->completed_at_close, 2);
    px_test_run_for(&fx->loop, 20);
    assert_int_equal(fx->closed, 1);
}

static void test_auth_password_and_acl_user(void **state) {
    fixture *fx = *state;
    store_redis_options o;
    done_result d;
    store_redis_op op = {STORE_REDIS_SET, str_bytes("authed"), str_bytes("1"), 0};

    /* Password of the default user. */
    options_for(fx->srv, &o);
    strcpy(o.endpoint.password, "default-secret");
    open_store(fx, &o, 1);
    assert_int_equal(px_test_run_until(&fx->loop, &fx->available, WAIT_MS), 0);
    assert_int_equal(px_test_run_until(&fx->loop, &fx->resubscribed, WAIT_MS), 0);
    apply_sync(fx, &op, 1, &d);
    assert_false(d.failed);
    close_store(fx);

    /* ACL user, through a URL (its password is not the default user's; see test_auth_errors). */
    fx->available = fx->status_calls = 0;
    char url[200];
    snprintf(url, sizeof url, "redis://passerelle:acl-secret@127.0.0.1:%d/1",
             redis_server_port(fx->srv));
    options_for(fx->srv, &o);
    px_error err;
    if (redis_endpoint_parse_url(&o.endpoint, url, &err)) fail_msg("%s", err.msg);
    open_store(fx, &o, 0);
    assert_int_equal(px_test_run_until(&fx->loop, &fx->available, WAIT_MS), 0);
    apply_sync(fx, &op, 1, &d);
    assert_false(d.failed);
}

/* Opens a store whose handshake must fail, and checks the single on_status(0) it gets. */
static void expect_refused(fixture *fx, const char *user, const char *password,
                           const char *expected) {
    store_redis_options o;
    options_for(fx->srv, &o);
    strcpy(o.endpoint.user, user);
    strcpy(o.endpoint.password, password);
    fx->status_calls = fx->available = 0;
    open_store(fx, &o, 0);
    assert_int_equal(px_test_run_until(&fx->loop, &fx->status_calls, WAIT_MS), 0);
    assert_false(fx->available);
    assert_int_equal(fx->why.code, PX_EREFUSED);
    if (!strstr(fx->why.msg, expected))
        fail_msg("'%s' does not mention '%s'", fx->why.msg, expected);
    assert_null(
        strstr(fx->why.msg, password[0] ? password : "\x01")); /* never leaks the password */
    /* It keeps retrying with backoff, but tells the owner only once. */
    px_test_run_for(&fx->loop, 300);
    store_redis_stats st;
    store_redis_get_stats(fx->store, &st);
    assert_true(st.connect_attempts >= 2);
    assert_int_equal(fx->status_calls, 1);
    assert_false(store_redis_is_available(fx->store));
    close_store(fx);
}

static void test_auth_errors_are_clear(void **state) {
    fixture *fx = *state;
    expect_refused(fx, "", "wrong-password", "AUTH refused: WRONGPASS");
    expect_refused(fx, "passerelle", "default-secret",
                   "as user 'passerelle': AUTH refused: WRONGPASS");
    expect_refused(fx, "", "", "PING refused: NOAUTH");
}

static void test_unreachable_server_backs_off_without_spinning(void **state) {
    fixture *fx = *state;
    px_error err;
    assert_int_equal(redis_server_stop(fx->srv, &err), 0);
    store_redis_options o;
    options_for(fx->srv, &o);
    open_store(fx, &o, 1);
    double cpu0 = cpu_seconds();
    uint64_t t0 = uv_hrtime();
    px_test_run_for(&fx->loop, 1500);
    double wall = (double)(uv_hrtime() - t0) / 1e9, cpu = cpu_seconds() - cpu0;
    store_redis_stats st;
    store_redis_get_stats(fx->store, &st);
    /* Backoff 20 ms doubling to 160 ms, each wait in [d/2, d]: over 1.5 s that is at most
     * 1 + 4 + (1500-150)/80 ≈ 22 attempts and at least ≈ 11; a spinning client would make
     * thousands. */
    printf("# unreachable: %llu attempts in %.2f s, cpu %.3f s\n",
           (unsigned long long)st.connect_attempts, wall, cpu);
    assert_true(st.connect_attempts >= 6);
    assert_true(st.connect_attempts <= 22);
    assert_true(cpu < 0.2 * wall);
    assert_int_equal(fx->status_calls, 1); /* told once, not per attempt */
    assert_false(fx->available);
    assert_non_null(strstr(fx->why.msg, "connect failed"));
    assert_non_null(strstr(store_redis_last_error(fx->store)->msg, "connect failed"));

    /* Once it comes up, the store connects by itself. */
    assert_int_equal(redis_server_restart(fx->srv, &err), 0);
    assert_int_equal(px_test_run_until(&fx->loop, &fx->available, WAIT_MS), 0);
    assert_int_equal(px_test_run_until(&fx->loop, &fx->resubscribed, WAIT_MS), 0);
    assert_int_equal(fx->status_calls, 2);
}

static void test_redis_restart_mid_stream(void **state) {
    fixture *fx = *state;
    px_error err;
    open_available(fx, 1);
    assert_int_equal(fx->resubscribed, 1);
    store_redis_op op = {STORE_REDIS_SET, str_bytes("before"), str_bytes("1"), 0};
    done_result d;
    apply_sync(fx, &op, 1, &d);
    assert_false(d.failed);

    /* A batch in flight when Redis goes away fails, after the owner was told. */
    store_redis_bytes keys[2] = {str_bytes("before"), str_bytes("after")};
    get_result r = {0};
    r.fx = fx;
    assert_int_equal(store_redis_get_many(fx->store, keys, 2, on_get, &r, &err), 0);
    assert_int_equal(redis_server_stop(fx->srv, &err), 0);
    assert_int_equal(px_test_run_until(&fx->loop, &r.done, WAIT_MS), 0);
    assert_true(r.failed);
    assert_int_equal(r.err.code, PX_EUNAVAILABLE);
    assert_true(fx->unavailable_before_request_error);
    assert_int_equal(fx->status_calls, 2);
    assert_false(fx->available);

    /* While down: requests are refused at once, and reconnection follows the backoff. */
    assert_int_equal(store_redis_apply_many(fx->store, &op, 1, on_done, &d, &err), -1);
    assert_int_equal(err.code, PX_EUNAVAILABLE);
    store_redis_stats before, after;
    store_redis_get_stats(fx->store, &before);
    double cpu0 = cpu_seconds();
    px_test_run_for(&fx->loop, 600);
    double cpu = cpu_seconds() - cpu0;
    store_redis_get_stats(fx->store, &after);
    uint64_t attempts = after.connect_attempts - before.connect_attempts;
    assert_true(attempts >= 3 && attempts <= 12);
    assert_true(cpu < 0.2 * 0.6);

    /* Restarted on the same port: available again, subscription back, the batch can be retried. */
    fx->resubscribed = 0;
    assert_int_equal(redis_server_restart(fx->srv, &err), 0);
    assert_int_equal(px_test_run_until(&fx->loop, &fx->available, WAIT_MS), 0);
    assert_int_equal(fx->status_calls, 3);
    assert_int_equal(px_test_run_until(&fx->loop, &fx->resubscribed, WAIT_MS), 0);
    store_redis_op again = {STORE_REDIS_SET, str_bytes("after"), str_bytes("2"), 0};
    apply_sync(fx, &again, 1, &d);
    assert_false(d.failed);
    get_sync(fx, keys, 2, &r);
    assert_false(r.failed);
    assert_false(r.present[0]); /* the restarted server kept nothing (no persistence) */
    assert_true(r.present[1]);
    store_redis_get_stats(fx->store, &after);
    assert_int_equal(after.reconnects, 1);
    assert_int_equal(after.subscriber_reconnects, 1);
    assert_int_equal(fx->resubscribed, 1);
    assert_true(after.errors >= 1);

    /* Publications reach the re-established subscriber. */
    redis_endpoint ep;
    publish_endpoint(fx, &ep);
    store_publish_result res;
    assert_int_equal(store_publish_snapshot(&ep, 1000, "60", "after-restart", 13, &res, &err), 0);
    assert_int_equal(px_test_run_until(&fx->loop, &fx->published_calls, WAIT_MS), 0);
    assert_string_equal(fx->published, res.key);
}

/* The owner's counters move as requests go, not when it reads the stats (the daemon's /metrics
 * counted round trips from a 5 s refresh; issue 12): one at each request sent, before its reply,
 * one at each failure. */
static void test_live_counters(void **state) {
    fixture *fx = *state;
    px_error err;
    metrics *m = metrics_new(&err);
    assert_non_null(m);
    const metrics_spec trips_spec = {METRICS_COUNTER, "trips_total", "sent", NULL, 0, 0, NULL, 0},
                       errors_spec = {
                           METRICS_COUNTER, "errors_total", "failed", NULL, 0, 0, NULL, 0};
    metrics_family *tf = metrics_register(m, &trips_spec, &err),
                   *ef = metrics_register(m, &errors_spec, &err);
    assert_true(tf && ef);
    metrics_series *trips = metrics_series_get(tf, NULL, NULL),
                   *errors = metrics_series_get(ef, NULL, NULL);
    store_redis_options o;
    options_for(fx->srv, &o);
    o.round_trips = trips;
    o.errors = errors;
    open_store(fx, &o, 0);
    assert_int_equal(px_test_run_until(&fx->loop, &fx->available, WAIT_MS), 0);
    assert_true(metrics_series_value(trips) == 0.0); /* the handshake is not a request */

    store_redis_bytes key = str_bytes("k");
    get_result r = {.fx = fx};
    assert_int_equal(store_redis_get_many(fx->store, &key, 1, on_get, &r, &err), 0);
    assert_true(metrics_series_value(trips) == 1.0); /* sent: counted before the reply */
    assert_int_equal(px_test_run_until(&fx->loop, &r.done, WAIT_MS), 0);
    assert_false(r.failed);
    assert_true(metrics_series_value(errors) == 0.0);

    r = (get_result){.fx = fx};
    assert_int_equal(store_redis_get_many(fx->store, &key, 1, on_get, &r, &err), 0);
    assert_int_equal(redis_server_stop(fx->srv, &err), 0);
    assert_int_equal(px_test_run_until(&fx->loop, &r.done, WAIT_MS), 0);
    assert_true(r.failed);
    store_redis_stats st;
    store_redis_get_stats(fx->store, &st);
    assert_int_equal(st.round_trips, 2);
    assert_int_equal(st.errors, 1);
    assert_true(metrics_series_value(trips) == 2.0);
    assert_true(metrics_series_value(errors) == 1.0);
    close_store(fx); /* the counters outlive the store */
    metrics_free(m);
}

static void test_hung_server_times_out_and_recovers(void **state) {
    fixture *fx = *state;
    px_error err;
    store_redis_options o;
    options_for(fx->srv, &o);
    o.command_timeout_ms = 300;
    o.connect_timeout_ms = 200;
    open_store(fx, &o, 0);
    assert_int_equal(px_test_run_until(&fx->loop, &fx->available, WAIT_MS), 0);
    assert_int_equal(redis_server_pause(fx->srv, &err), 0);
    store_redis_bytes key = str_bytes("k");
    get_result r = {0};
    uint64_t t0 = uv_hrtime();
    assert_int_equal(store_redis_get_many(fx->store, &key, 1, on_get, &r, &err), 0);
    assert_int_equal(px_test_run_until(&fx->loop, &r.done, WAIT_MS), 0);
    double waited_ms = (double)(uv_hrtime() - t0) / 1e6;
    assert_true(r.failed);
    assert_int_equal(r.err.code, PX_EUNAVAILABLE);
    assert_non_null(strstr(r.err.msg, "no reply within 300 ms"));
    assert_true(waited_ms >= 250 &&
                waited_ms < 2000); /* libuv timers start from the cached loop time */
    assert_false(fx->available);
    /* Reconnecting to a frozen server: each attempt is cut by the connect timeout. */
    px_test_run_for(&fx->loop, 700);
    assert_non_null(strstr(store_redis_last_error(fx->store)->msg, "no connection within 200 ms"));
    assert_int_equal(redis_server_resume(fx->srv, &err), 0);
    assert_int_equal(px_test_run_until(&fx->loop, &fx->available, WAIT_MS), 0);
    get_sync(fx, &key, 1, &r);
    assert_false(r.failed);
}

static void test_publish_subscribe_and_current_index(void **state) {
    fixture *fx = *state;
    px_error err;
    open_available(fx, 1);

    index_result ir = {0};
    index_sync(fx, &ir);
    assert_true(ir.failed);
    assert_int_equal(ir.err.code, PX_ENOTFOUND);
    assert_non_null(strstr(ir.err.msg, "no ROME index is published"));
    assert_non_null(strstr(ir.err.msg, "'passerelle:current' is absent"));

    redis_endpoint ep;
    publish_endpoint(fx, &ep);
    store_publish_result res;
    static const char snap1[] = "PXROME\0\1 first image";
    if (store_publish_snapshot(&ep, 1000, "60", snap1, sizeof snap1, &res, &err))
        fail_msg("%s", err.msg);
    assert_int_equal(res.stored, 1);
    assert_int_equal(res.subscribers, 1); /* our store's subscriber connection */
    assert_memory_equal(res.key, "passerelle:snapshot:60:", 23);
    assert_int_equal(px_test_run_until(&fx->loop, &fx->published_calls, WAIT_MS), 0);
    assert_string_equal(fx->published, res.key);

    index_sync(fx, &ir);
    assert_false(ir.failed);
    assert_string_equal(ir.key, res.key);
    assert_int_equal(ir.len, sizeof snap1);
    assert_memory_equal(ir.bytes, snap1, sizeof snap1);

    /* Same image again: not rewritten, still announced. */
    store_publish_result again;
    assert_int_equal(store_publish_snapshot(&ep, 1000, "60", snap1, sizeof snap1, &again, &err), 0);
    assert_int_equal(again.stored, 0);
    assert_string_equal(again.key, res.key);
    fx->published_calls = 0;
    assert_int_equal(px_test_run_until(&fx->loop, &fx->published_calls, WAIT_MS), 0);

    /* A new image gets a new immutable key and becomes current; the old one stays. */
    static const char snap2[] = "PXROME\0\1 second image";
    store_publish_result second;
    assert_int_equal(store_publish_snapshot(&ep, 1000, "61", snap2, sizeof snap2, &second, &err),
                     0);
    assert_string_not_equal(second.key, res.key);
    fx->published_calls = 0;
    assert_int_equal(px_test_run_until(&fx->loop, &fx->published_calls, WAIT_MS), 0);
    assert_string_equal(fx->published, second.key);
    index_sync(fx, &ir);
    assert_false(ir.failed);
    assert_string_equal(ir.key, second.key);
    assert_memory_equal(ir.bytes, snap2, sizeof snap2);
    assert_int_equal(admin_integer(fx, "EXISTS %s", res.key), 1);

    /* current naming a missing snapshot is an error that names both keys. */
    freeReplyObject(admin(fx, "DEL %s", second.key));
    index_sync(fx, &ir);
    assert_true(ir.failed);
    assert_int_equal(ir.err.code, PX_ENOTFOUND);
    assert_non_null(strstr(ir.err.msg, second.key));
    assert_non_null(strstr(ir.err.msg, "which is absent"));
    free(ir.bytes);
}

/* The index may live under its own prefix ([rome] key_prefix), apart from the user state. */
static void test_index_under_its_own_prefix(void **state) {
    fixture *fx = *state;
    px_error err;
    store_redis_options o;
    options_for(fx->srv, &o);
    o.index_prefix = "rome:";
    open_store(fx, &o, 1);
    assert_int_equal(px_test_run_until(&fx->loop, &fx->available, WAIT_MS), 0);
    assert_int_equal(px_test_run_until(&fx->loop, &fx->resubscribed, WAIT_MS), 0);
    redis_endpoint ep;
    publish_endpoint(fx, &ep);
    assert_int_equal(
        store_publish_snapshot(&ep, 1000, "60", "elsewhere", 9, &(store_publish_result){0}, &err),
        0);
    strcpy(ep.prefix, "rome:");
    store_publish_result res;
    assert_int_equal(store_publish_snapshot(&ep, 1000, "60", "here", 4, &res, &err), 0);
    assert_memory_equal(res.key, "rome:snapshot:60:", 17);
    assert_int_equal(px_test_run_until(&fx->loop, &fx->published_calls, WAIT_MS), 0);
    assert_int_equal(fx->published_calls, 1); /* the publication under "passerelle:" is not ours */
    assert_string_equal(fx->published, res.key);
    index_result ir = {0};
    index_sync(fx, &ir);
    assert_false(ir.failed);
    assert_int_equal(ir.len, 4);
    assert_memory_equal(ir.bytes, "here", 4);
    free(ir.bytes);

    char big[REDIS_ENDPOINT_PREFIX_MAX + 2];
    memset(big, 'r', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    o.index_prefix = big;
    store_redis_callbacks cbs = {.on_status = on_status};
    assert_null(store_redis_open(&fx->loop, &o, &cbs, fx, &err));
    assert_non_null(strstr(err.msg, "index prefix is 65 bytes long"));
}

/* A large snapshot (8 MiB) goes through intact over a thin link that takes far longer than the
 * command timeout to deliver it (64 KiB every 5 ms): steady data keeps the connection alive. */
static void test_large_snapshot_over_a_slow_link(void **state) {
    fixture *fx = *state;
    enum { SIZE = 8 << 20, TIMEOUT_MS = 250 };
    px_error err;
    char *snap = malloc(SIZE);
    for (size_t i = 0; i < SIZE; i++) snap[i] = (char)(i * 2654435761u >> 13);
    redis_endpoint ep;
    publish_endpoint(fx, &ep);
    store_publish_result res;
    if (store_publish_snapshot(&ep, 5000, "60", snap, SIZE, &res, &err)) fail_msg("%s", err.msg);

    fx->proxy = latency_proxy_start(&fx->loop, redis_server_port(fx->srv), 5, &err);
    assert_non_null(fx->proxy);
    latency_proxy_set_pace(fx->proxy, 5);
    store_redis_options o;
    options_for(fx->srv, &o);
    o.endpoint.port = latency_proxy_port(fx->proxy);
    o.command_timeout_ms = TIMEOUT_MS;
    open_store(fx, &o, 0);
    assert_int_equal(px_test_run_until(&fx->loop, &fx->available, WAIT_MS), 0);
    index_result big = {0};
    uint64_t t0 = uv_hrtime();
    assert_int_equal(store_redis_get_current_index(fx->store, on_index, &big, &err), 0);
    assert_int_equal(px_test_run_until(&fx->loop, &big.done, 20000), 0);
    double took_ms = (double)(uv_hrtime() - t0) / 1e6;
    printf("# 8 MiB snapshot through a thin link in %.0f ms (command timeout %d ms)\n", took_ms,
           TIMEOUT_MS);
    if (big.failed) fail_msg("%s", big.err.msg);
    assert_string_equal(big.key, res.key);
    assert_int_equal(big.len, SIZE);
    assert_memory_equal(big.bytes, snap, SIZE);
    assert_true(took_ms > 2 * TIMEOUT_MS); /* 128 chunks, 5 ms apart */
    free(big.bytes);
    free(snap);
}

static void test_publish_errors(void **state) {
    fixture *fx = *state;
    redis_endpoint ep;
    store_publish_result res;
    px_error err;
    publish_endpoint(fx, &ep);
    assert_int_equal(store_publish_snapshot(&ep, 1000, "60", "x", 1, &res, &err), -1);
    assert_non_null(strstr(err.msg, "NOAUTH")); /* requirepass server, no password given */
    strcpy(ep.password, "nope");
    assert_int_equal(store_publish_snapshot(&ep, 1000, "60", "x", 1, &res, &err), -1);
    assert_non_null(strstr(err.msg, "AUTH refused: WRONGPASS"));
    strcpy(ep.user, "passerelle");
    strcpy(ep.password, "acl-secret");
    assert_int_equal(store_publish_snapshot(&ep, 1000, "6:0", "x", 1, &res, &err), -1);
    assert_non_null(strstr(err.msg, "has a ':'"));
    assert_int_equal(store_publish_snapshot(&ep, 1000, "60", "", 0, &res, &err), -1);
    assert_non_null(strstr(err.msg, "snapshot is empty"));
    ep.db = 2;
    assert_int_equal(store_publish_snapshot(&ep, 1000, "60", "x", 1, &res, &err), 0);
    assert_int_equal(res.subscribers, 0);
    assert_int_equal(redis_server_stop(fx->srv, &err), 0);
    assert_int_equal(store_publish_snapshot(&ep, 1000, "60", "x", 1, &res, &err), -1);
    assert_int_equal(err.code, PX_EUNAVAILABLE);
    assert_non_null(strstr(err.msg, "connect failed"));
}

int main(void) {
    signal(SIGPIPE,
           SIG_IGN); /* as store_redis.h requires: servers are stopped under live connections */
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_refuses_requests_until_connected, setup_plain,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_batches_take_one_round_trip_each, setup_plain,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_round_trips_on_a_slow_link, setup_plain, teardown),
        cmocka_unit_test_setup_teardown(test_watched_read_refuses_a_raced_write, setup_plain,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_keys_and_values_are_binary_safe, setup_plain,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_batch_limits_and_bad_ops, setup_plain, teardown),
        cmocka_unit_test_setup_teardown(test_bad_options, setup_plain, teardown),
        cmocka_unit_test_setup_teardown(test_select_db_and_unix_socket, setup_plain, teardown),
        cmocka_unit_test_setup_teardown(test_close_completes_outstanding_requests, setup_plain,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_close_from_inside_a_callback, setup_plain, teardown),
        cmocka_unit_test_setup_teardown(test_close_in_a_request_callback, setup_plain, teardown),
        cmocka_unit_test_setup_teardown(test_auth_password_and_acl_user, setup_password, teardown),
        cmocka_unit_test_setup_teardown(test_auth_errors_are_clear, setup_password, teardown),
        cmocka_unit_test_setup_teardown(test_unreachable_server_backs_off_without_spinning,
                                        setup_plain, teardown),
        cmocka_unit_test_setup_teardown(test_redis_restart_mid_stream, setup_plain, teardown),
        cmocka_unit_test_setup_teardown(test_live_counters, setup_plain, teardown),
        cmocka_unit_test_setup_teardown(test_hung_server_times_out_and_recovers, setup_plain,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_publish_subscribe_and_current_index, setup_plain,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_index_under_its_own_prefix, setup_plain, teardown),
        cmocka_unit_test_setup_teardown(test_large_snapshot_over_a_slow_link, setup_plain,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_publish_errors, setup_password, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
