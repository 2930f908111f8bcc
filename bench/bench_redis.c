/* bench_redis — what batching buys on the Redis edge (store_redis against a real redis-server).
 *
 *   bench_redis [USERS] [BATCH] [VALUE_BYTES] [LINK_DELAY_MS]
 *
 * Writes then reads USERS user states (VALUE_BYTES each) twice: in batches of BATCH (one
 * round trip per batch: MULTI/SET…/EXEC, MGET) and one key per request, each request sent when
 * the previous one completed, as a daemon paying a round trip per event would. Prints the time
 * per user and the per-key/batched ratio, first over loopback, then through a proxy adding
 * LINK_DELAY_MS to every reply (a remote Redis), with USERS/16 users there. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "latency_proxy.h"
#include "loop_wait.h"
#include "redis_server.h"
#include "store_redis.h"

typedef struct driver {
    store_redis *store;
    size_t users, batch, next, value_bytes;
    int reading, done, failed;
    int available, closed; /* the store's, set by on_status and on_closed */
    char *keys;            /* users × 16 bytes */
    char *value;
    store_redis_op *ops;
    store_redis_bytes *key_list;
} driver;

static void send_next(driver *d);

static void on_written(store_redis *s, const px_error *err, void *opaque) {
    (void)s;
    driver *d = opaque;
    if (err) {
        fprintf(stderr, "bench_redis: %s\n", err->msg);
        d->failed = d->done = 1;
        return;
    }
    send_next(d);
}

static void on_read(store_redis *s, const px_error *err, const store_redis_bytes *values, size_t n,
                    void *opaque) {
    (void)s;
    driver *d = opaque;
    if (err || (n && values[0].len != d->value_bytes)) {
        fprintf(stderr, "bench_redis: %s\n",
                err ? err->msg : "read back a value of the wrong size");
        d->failed = d->done = 1;
        return;
    }
    send_next(d);
}

/* Sends the next batch (from the previous one's callback), until every user is done. */
static void send_next(driver *d) {
    if (d->next >= d->users) {
        d->done = 1;
        return;
    }
    size_t n = d->users - d->next < d->batch ? d->users - d->next : d->batch;
    px_error err;
    int rc = d->reading
                 ? store_redis_get_many(d->store, d->key_list + d->next, n, on_read, d, &err)
                 : store_redis_apply_many(d->store, d->ops + d->next, n, on_written, d, &err);
    d->next += n;
    if (rc) {
        fprintf(stderr, "bench_redis: %s\n", err.msg);
        d->failed = d->done = 1;
    }
}

/* Seconds to write then read every user with the given batch size. */
static int run(uv_loop_t *loop, driver *d, size_t batch, double *write_s, double *read_s) {
    for (int reading = 0; reading < 2; reading++) {
        d->batch = batch;
        d->next = 0;
        d->done = d->failed = 0;
        d->reading = reading;
        uint64_t t0 = uv_hrtime();
        send_next(d);
        if (px_test_run_until(loop, &d->done, 600000) || d->failed) return -1;
        *(reading ? read_s : write_s) = (double)(uv_hrtime() - t0) / 1e9;
    }
    return 0;
}

static void on_status(store_redis *s, int available, const px_error *why, void *opaque) {
    (void)s;
    ((driver *)opaque)->available = available;
    if (!available) fprintf(stderr, "bench_redis: redis unavailable: %s\n", why->msg);
}

static void on_closed(store_redis *s, void *opaque) {
    store_redis_free(s);
    ((driver *)opaque)->closed = 1;
}

static int measure(uv_loop_t *loop, int port, driver *d, const char *label) {
    store_redis_options o;
    store_redis_options_init(&o);
    o.endpoint.port = port;
    o.max_batch = d->batch > 1 ? d->batch : 1;
    d->available = d->closed = 0;
    store_redis_callbacks cbs = {.on_status = on_status};
    px_error err;
    d->store = store_redis_open(loop, &o, &cbs, d, &err);
    if (!d->store || px_test_run_until(loop, &d->available, 5000)) {
        fprintf(stderr, "bench_redis: %s\n", d->store ? "redis not available within 5 s" : err.msg);
        return -1;
    }
    size_t batch = d->batch;
    double wb, rb, w1, r1;
    int rc = run(loop, d, batch, &wb, &rb) || run(loop, d, 1, &w1, &r1) ? -1 : 0;
    store_redis_stats st;
    store_redis_get_stats(d->store, &st);
    store_redis_close(d->store, on_closed);
    if (px_test_run_until(loop, &d->closed, 5000)) rc = -1;
    d->batch = batch;
    if (rc) return -1;
    printf("%s, %zu users, %zu-byte states, %llu round trips in all:\n", label, d->users,
           d->value_bytes, (unsigned long long)st.round_trips);
    printf(
        "  write  batched(%zu) %8.2f us/user   per-key %8.2f us/user   per-key/batched = %.1fx\n",
        batch, wb * 1e6 / d->users, w1 * 1e6 / d->users, w1 / wb);
    printf(
        "  read   batched(%zu) %8.2f us/user   per-key %8.2f us/user   per-key/batched = %.1fx\n",
        batch, rb * 1e6 / d->users, r1 * 1e6 / d->users, r1 / rb);
    return 0;
}

int main(int argc, char **argv) {
    signal(SIGPIPE, SIG_IGN); /* as store_redis.h requires */
    size_t users = argc > 1 ? strtoul(argv[1], NULL, 10) : 20000;
    size_t batch = argc > 2 ? strtoul(argv[2], NULL, 10) : 256;
    size_t value_bytes = argc > 3 ? strtoul(argv[3], NULL, 10) : 300;
    unsigned delay_ms = argc > 4 ? (unsigned)strtoul(argv[4], NULL, 10) : 1;
    if (!users || !batch || batch > STORE_REDIS_BATCH_MAX || !value_bytes) {
        fprintf(stderr,
                "usage: bench_redis [USERS>0] [BATCH 1..%d] [VALUE_BYTES>0] [LINK_DELAY_MS]\n",
                STORE_REDIS_BATCH_MAX);
        return 2;
    }
    px_error err;
    redis_server *srv = redis_server_start(NULL, &err);
    if (!srv) {
        fprintf(stderr, "bench_redis: %s\n", err.msg);
        return 1;
    }
    driver d = {.users = users, .batch = batch, .value_bytes = value_bytes};
    d.keys = malloc(users * 16);
    d.value = malloc(value_bytes);
    d.ops = calloc(users, sizeof *d.ops);
    d.key_list = calloc(users, sizeof *d.key_list);
    if (!d.keys || !d.value || !d.ops || !d.key_list) {
        fprintf(stderr, "bench_redis: out of memory\n");
        return 1;
    }
    memset(d.value, 'v', value_bytes);
    for (size_t i = 0; i < users; i++) {
        int n = snprintf(d.keys + i * 16, 16, "u:%zu", i);
        d.key_list[i] = (store_redis_bytes){d.keys + i * 16, (size_t)n};
        d.ops[i] = (store_redis_op){STORE_REDIS_SET, d.key_list[i], {d.value, value_bytes}, 3600};
    }
    uv_loop_t loop;
    uv_loop_init(&loop);
    int rc = measure(&loop, redis_server_port(srv), &d, "loopback");
    latency_proxy *proxy =
        rc ? NULL : latency_proxy_start(&loop, redis_server_port(srv), delay_ms, &err);
    if (proxy) {
        char label[64];
        snprintf(label, sizeof label, "through a %u ms link", delay_ms);
        d.users = users / 16 > 0 ? users / 16 : 1;
        rc = measure(&loop, latency_proxy_port(proxy), &d, label);
        latency_proxy_close(proxy);
        px_test_run_for(&loop, 20);
    } else if (!rc) {
        fprintf(stderr, "bench_redis: %s\n", err.msg);
        rc = -1;
    }
    uv_loop_close(&loop);
    redis_server_free(srv);
    free(d.keys);
    free(d.value);
    free(d.ops);
    free(d.key_list);
    return rc ? 1 : 0;
}
