/* Tests of http_server.h: the server runs on a libuv loop in a second thread, bound to
 * 127.0.0.1 on an ephemeral port; the test talks to it with plain blocking sockets. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>
#include <uv.h>

#include <cmocka.h>

#include "http_server.h"
#include "metrics.h"

typedef struct fixture {
    uv_loop_t loop;
    uv_async_t stop;
    pthread_t thread;
    metrics *registry;
    http_server *server;
    int port;
    atomic_bool kafka, redis, index;
    atomic_bool close_in_readiness;  /* the readiness callback closes the server (twice) */
    atomic_int closed;               /* close callbacks run: exactly one is expected */
    atomic_bool closed_inside_close; /* the close callback ran inside http_server_close: wrong */
} fixture;

/* The close protocol: the callback runs once, from the loop; the owner frees the server in it. */
static void on_server_closed(http_server *s, void *opaque) {
    fixture *f = opaque;
    atomic_fetch_add(&f->closed, 1);
    http_server_free(s);
    uv_close((uv_handle_t *)&f->stop, NULL);
}

/* Closes twice: the second call does nothing. */
static void close_server(fixture *f) {
    http_server_close(f->server, on_server_closed);
    http_server_close(f->server, on_server_closed);
    if (atomic_load(&f->closed)) atomic_store(&f->closed_inside_close, true);
}

static void readiness(void *opaque, http_readiness *out) {
    fixture *f = opaque;
    if (atomic_load(&f->close_in_readiness)) close_server(f);
    out->kafka = atomic_load(&f->kafka);
    out->redis = atomic_load(&f->redis);
    out->index = atomic_load(&f->index);
    out->detail = out->redis ? NULL : "redis: connection refused";
}

static void on_stop(uv_async_t *async) { close_server(async->data); }

static void *run_loop(void *arg) {
    fixture *f = arg;
    uv_run(&f->loop, UV_RUN_DEFAULT);
    return NULL;
}

static fixture *start_fixture(const http_server_options *options) {
    fixture *f = calloc(1, sizeof *f);
    assert_int_equal(uv_loop_init(&f->loop), 0);
    f->registry = metrics_new(NULL);
    const char *labels[] = {"topic"};
    metrics_family *fam = metrics_register(f->registry,
                                           &(metrics_spec){.type = METRICS_COUNTER,
                                                           .name = "px_events_consumed_total",
                                                           .help = "Events consumed.",
                                                           .label_names = labels,
                                                           .n_labels = 1},
                                           NULL);
    metrics_counter_add(metrics_series_get(fam, (const char *[]){"passerelle.profile.v1"}, NULL),
                        42);
    px_error err = {0};
    f->server = http_server_start(&f->loop, options, f->registry, readiness, f, &err);
    if (!f->server) fail_msg("http_server_start: %s", err.msg);
    f->port = http_server_port(f->server);
    assert_true(f->port > 0);
    uv_async_init(&f->loop, &f->stop, on_stop);
    f->stop.data = f;
    assert_int_equal(pthread_create(&f->thread, NULL, run_loop, f), 0);
    return f;
}

/* Waits for the loop to end: the server closed, the close callback ran once. */
static void join_fixture(fixture *f) {
    pthread_join(f->thread, NULL);
    assert_int_equal(atomic_load(&f->closed), 1);
    assert_false(atomic_load(&f->closed_inside_close));
    assert_int_equal(uv_loop_close(&f->loop), 0);
    metrics_free(f->registry);
    free(f);
}

static void stop_fixture(fixture *f) {
    uv_async_send(&f->stop);
    join_fixture(f);
}

static int default_setup(void **state) {
    *state = start_fixture(&(http_server_options){.host = "127.0.0.1", .port = 0});
    return 0;
}

static int default_teardown(void **state) {
    stop_fixture(*state);
    return 0;
}

/* ---- a minimal blocking client ---- */

typedef struct client {
    int fd;
    char buf[1 << 16];
    size_t len;
} client;

typedef struct response {
    int status;
    char headers[2048];
    char body[1 << 15];
    size_t body_len;
} response;

static client *client_connect(int port) {
    client *c = calloc(1, sizeof *c);
    c->fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(c->fd >= 0);
    struct timeval tv = {.tv_sec = 5};
    setsockopt(c->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    inet_pton(AF_INET, "127.0.0.1", &addr.sin_addr);
    assert_int_equal(connect(c->fd, (struct sockaddr *)&addr, sizeof addr), 0);
    return c;
}

static void client_free(client *c) {
    close(c->fd);
    free(c);
}

static void client_send(client *c, const char *data) {
    size_t len = strlen(data);
    assert_int_equal(send(c->fd, data, len, MSG_NOSIGNAL), (ssize_t)len);
}

/* Reads more bytes; false on EOF (or timeout). */
static bool client_fill(client *c) {
    assert_true(c->len < sizeof c->buf - 1);
    ssize_t n = recv(c->fd, c->buf + c->len, sizeof c->buf - 1 - c->len, 0);
    if (n <= 0) return false;
    c->len += (size_t)n;
    c->buf[c->len] = '\0';
    return true;
}

/* True when the server closed the connection with nothing more to read. */
static bool client_sees_close(client *c) {
    size_t before = c->len;
    return !client_fill(c) && c->len == before;
}

/* Reads one response (body skipped for HEAD); fails the test if none arrives. */
static void client_read_response(client *c, bool head, response *r) {
    char *end;
    while (!(end = strstr(c->buf, "\r\n\r\n")))
        if (!client_fill(c))
            fail_msg("no complete response header; got %zu bytes: %s", c->len, c->buf);
    size_t header_len = (size_t)(end - c->buf) + 4;
    assert_true(header_len < sizeof r->headers);
    memcpy(r->headers, c->buf, header_len);
    r->headers[header_len] = '\0';
    assert_int_equal(sscanf(r->headers, "HTTP/1.1 %d ", &r->status), 1);
    const char *cl = strstr(r->headers, "Content-Length: ");
    assert_non_null(cl);
    size_t content_length = strtoul(cl + 16, NULL, 10);
    r->body_len = head ? 0 : content_length;
    assert_true(r->body_len < sizeof r->body);
    while (c->len < header_len + r->body_len)
        if (!client_fill(c)) fail_msg("body cut short");
    memcpy(r->body, c->buf + header_len, r->body_len);
    r->body[r->body_len] = '\0';
    memmove(c->buf, c->buf + header_len + r->body_len, c->len - header_len - r->body_len);
    c->len -= header_len + r->body_len;
    c->buf[c->len] = '\0';
}

static void get(int port, const char *path, response *r) {
    client *c = client_connect(port);
    char req[512];
    snprintf(req, sizeof req, "GET %s HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n",
             path);
    client_send(c, req);
    client_read_response(c, false, r);
    assert_non_null(strstr(r->headers, "Connection: close\r\n"));
    assert_true(client_sees_close(c));
    client_free(c);
}

/* ---- tests ---- */

static void test_healthz_and_unknown_paths(void **state) {
    fixture *f = *state;
    response r;
    get(f->port, "/healthz", &r);
    assert_int_equal(r.status, 200);
    assert_string_equal(r.body, "ok\n");
    get(f->port, "/healthz?verbose=1", &r); /* the query string does not change the route */
    assert_int_equal(r.status, 200);
    get(f->port, "/", &r);
    assert_int_equal(r.status, 404);
    get(f->port, "/metricsx", &r);
    assert_int_equal(r.status, 404);
}

static void test_metrics_are_the_rendered_registry(void **state) {
    fixture *f = *state;
    response r;
    get(f->port, "/metrics", &r);
    assert_int_equal(r.status, 200);
    assert_non_null(
        strstr(r.headers, "Content-Type: text/plain; version=0.0.4; charset=utf-8\r\n"));
    char *expected = NULL;
    assert_int_equal(metrics_render(f->registry, &expected, NULL, NULL), 0);
    assert_string_equal(r.body, expected);
    assert_non_null(
        strstr(r.body, "px_events_consumed_total{topic=\"passerelle.profile.v1\"} 42\n"));
    free(expected);
}

static void test_readyz_follows_the_callback(void **state) {
    fixture *f = *state;
    response r;
    get(f->port, "/readyz", &r);
    assert_int_equal(r.status, 503);
    assert_string_equal(r.body, "not ready: kafka redis index; redis: connection refused\n");
    atomic_store(&f->kafka, true);
    atomic_store(&f->redis, true);
    get(f->port, "/readyz", &r);
    assert_int_equal(r.status, 503);
    assert_string_equal(r.body, "not ready: index\n");
    atomic_store(&f->index, true);
    get(f->port, "/readyz", &r);
    assert_int_equal(r.status, 200);
    assert_string_equal(r.body, "ready\n");
}

static void test_keep_alive_pipelining_head_and_methods(void **state) {
    fixture *f = *state;
    client *c = client_connect(f->port);
    response r;
    /* Three requests in one segment, answered in order on one connection. */
    client_send(c, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"
                   "HEAD /metrics HTTP/1.1\r\nHost: x\r\n\r\n"
                   "POST /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello");
    client_read_response(c, false, &r);
    assert_int_equal(r.status, 200);
    assert_string_equal(r.body, "ok\n");
    assert_null(strstr(r.headers, "Connection: close"));
    client_read_response(c, true, &r);
    assert_int_equal(r.status, 200);
    assert_non_null(strstr(r.headers, "version=0.0.4"));
    client_read_response(c, false, &r);
    assert_int_equal(r.status, 405);
    assert_non_null(strstr(r.headers, "Allow: GET, HEAD\r\n"));
    /* The connection is still usable, and nothing was sent for HEAD beyond the headers. */
    assert_int_equal(c->len, 0);
    client_send(c, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n");
    client_read_response(c, false, &r);
    assert_int_equal(r.status, 200);
    client_free(c);
}

static void test_http10_without_keep_alive_is_closed(void **state) {
    fixture *f = *state;
    client *c = client_connect(f->port);
    response r;
    client_send(c, "GET /healthz HTTP/1.0\r\n\r\nGET /healthz HTTP/1.0\r\n\r\n");
    client_read_response(c, false, &r);
    assert_int_equal(r.status, 200);
    /* The second pipelined request is not answered: the first asked to close. */
    assert_true(client_sees_close(c));
    client_free(c);
}

static void test_upgrade_is_answered_then_closed(void **state) {
    fixture *f = *state;
    client *c = client_connect(f->port);
    response r;
    client_send(
        c,
        "GET /healthz HTTP/1.1\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n\x81\x05hello");
    client_read_response(c, false, &r);
    assert_int_equal(r.status, 200);
    assert_non_null(strstr(r.headers, "Connection: close\r\n"));
    assert_true(client_sees_close(c)); /* and no second (400) answer for the frame bytes */
    client_free(c);
}

static void test_malformed_and_oversized_requests(void **state) {
    fixture *f = *state;
    response r;
    client *c = client_connect(f->port);
    client_send(c, "GARBAGE\r\n\r\n");
    client_read_response(c, false, &r);
    assert_int_equal(r.status, 400);
    assert_non_null(strstr(r.body, "bad request"));
    assert_true(client_sees_close(c));
    client_free(c);

    /* Default bound: 8192 bytes of URL + headers + body. */
    c = client_connect(f->port);
    client_send(c, "GET /healthz HTTP/1.1\r\nX-Big: ");
    char chunk[1024];
    memset(chunk, 'a', sizeof chunk - 1);
    chunk[sizeof chunk - 1] = '\0';
    for (int i = 0; i < 9; i++) client_send(c, chunk);
    client_read_response(c, false, &r);
    assert_int_equal(r.status, 431);
    assert_true(client_sees_close(c));
    client_free(c);

    /* Just under the bound is fine. */
    c = client_connect(f->port);
    client_send(c, "GET /healthz HTTP/1.1\r\nX-Big: ");
    for (int i = 0; i < 7; i++) client_send(c, chunk);
    client_send(c, "\r\n\r\n");
    client_read_response(c, false, &r);
    assert_int_equal(r.status, 200);
    client_free(c);

    /* A request target longer than the server keeps. */
    static char req[3000];
    memcpy(req, "GET /", 5);
    memset(req + 5, 'p', 2000);
    snprintf(req + 2005, sizeof req - 2005, " HTTP/1.1\r\n\r\n");
    c = client_connect(f->port);
    client_send(c, req);
    client_read_response(c, false, &r);
    assert_int_equal(r.status, 414);
    client_free(c);
}

static int small_setup(void **state) {
    *state = start_fixture(&(http_server_options){.host = "127.0.0.1",
                                                  .port = 0,
                                                  .max_connections = 2,
                                                  .idle_timeout_ms = 1500,
                                                  .max_request_bytes = 64});
    return 0;
}

static void test_connection_limit_idle_timeout_and_small_bound(void **state) {
    fixture *f = *state;
    response r;
    client *a = client_connect(f->port);
    client *b = client_connect(f->port);
    client_send(a, "GET /healthz HTTP/1.1\r\n\r\n");
    client_read_response(a, false, &r);
    client_send(b, "GET /healthz HTTP/1.1\r\n\r\n");
    client_read_response(b, false, &r);
    client *third = client_connect(f->port);
    assert_true(client_sees_close(third)); /* over max_connections: closed at once */
    client_free(third);
    /* Idle connections are closed after 1.5 s (the recv timeout is 5 s); shorter raced a loaded CI
     * machine, which could take longer than that between connect and send. */
    assert_true(client_sees_close(a));
    assert_true(client_sees_close(b));
    client_free(a);
    client_free(b);

    client *c = client_connect(f->port);
    client_send(c, "GET /healthz HTTP/1.1\r\nUser-Agent: "
                   "a-rather-long-user-agent-string-that-goes-well-over-sixty-four-bytes\r\n\r\n");
    client_read_response(c, false, &r);
    assert_int_equal(r.status, 431);
    client_free(c);
}

/* Regression (CI, ASan): a connection the server had just closed for idleness still counted
 * against max_connections until its handles closed at the end of the loop turn, so a client
 * reconnecting at once was turned away unanswered. The race is narrow: it is run 25 times (the old
 * code failed 2 runs in 3). */
static void test_a_closed_connection_frees_its_place_at_once(void **state) {
    (void)state;
    fixture *f = start_fixture(&(http_server_options){
        .host = "127.0.0.1", .port = 0, .max_connections = 1, .idle_timeout_ms = 200});
    client *c = client_connect(f->port);
    for (int i = 0; i < 25; i++) {
        assert_true(client_sees_close(c)); /* idle: closed by the server's timer */
        client_free(c);
        c = client_connect(f->port);
        client_send(c, "GET /healthz HTTP/1.1\r\n\r\n");
        response r;
        client_read_response(c, false, &r);
        assert_int_equal(r.status, 200);
    }
    client_free(c);
    stop_fixture(f);
}

/* Closing with an idle keep-alive connection and one whose request is not complete: both are
 * closed, the latter unanswered, then the close callback runs. */
static void test_close_with_open_connections(void **state) {
    (void)state;
    fixture *f = start_fixture(&(http_server_options){.host = "127.0.0.1", .port = 0});
    client *c = client_connect(f->port), *partial = client_connect(f->port);
    response r;
    client_send(c, "GET /healthz HTTP/1.1\r\n\r\n");
    client_read_response(c, false, &r);
    client_send(partial, "GET /healthz HTTP/1.1\r\n");
    int port = f->port;
    stop_fixture(f); /* checks on_closed ran once and the loop has no handle left */
    assert_true(client_sees_close(c));
    assert_true(client_sees_close(partial));
    client_free(c);
    client_free(partial);
    /* The port is free again: nobody listens. */
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    inet_pton(AF_INET, "127.0.0.1", &addr.sin_addr);
    assert_int_not_equal(connect(fd, (struct sockaddr *)&addr, sizeof addr), 0);
    close(fd);
}

/* The owner may close the server from inside its readiness callback: the request being answered
 * gets no answer, and the server closes as it would from outside. */
static void test_close_from_the_readiness_callback(void **state) {
    (void)state;
    fixture *f = start_fixture(&(http_server_options){.host = "127.0.0.1", .port = 0});
    atomic_store(&f->close_in_readiness, true);
    client *c = client_connect(f->port);
    client_send(c, "GET /readyz HTTP/1.1\r\n\r\n");
    assert_true(client_sees_close(c));
    client_free(c);
    join_fixture(f); /* the loop ends by itself: the close callback closed the last handle */
}

static void test_start_errors(void **state) {
    fixture *f = *state;
    uv_loop_t loop;
    uv_loop_init(&loop);
    px_error err = {0};
    assert_null(http_server_start(&loop, &(http_server_options){.host = "localhost", .port = 0},
                                  NULL, NULL, NULL, &err));
    assert_non_null(strstr(err.msg, "not an IPv4 or IPv6 address"));
    assert_null(http_server_start(&loop, &(http_server_options){.host = "127.0.0.1", .port = 70000},
                                  NULL, NULL, NULL, &err));
    assert_non_null(strstr(err.msg, "out of range"));
    assert_null(http_server_start(&loop,
                                  &(http_server_options){.host = "127.0.0.1", .port = f->port},
                                  NULL, NULL, NULL, &err));
    assert_non_null(strstr(err.msg, "address already in use"));
    uv_run(&loop, UV_RUN_DEFAULT); /* lets the failed listener's close complete */
    assert_int_equal(uv_loop_close(&loop), 0);
}

static void on_bare_server_closed(http_server *s, void *opaque) {
    ++*(int *)opaque;
    http_server_free(s);
}

static void test_without_registry_or_readiness(void **state) {
    (void)state;
    uv_loop_t loop;
    uv_loop_init(&loop);
    int closed = 0;
    http_server_options o = {.host = "::1", .port = 0};
    http_server *s = http_server_start(&loop, &o, NULL, NULL, &closed, NULL);
    if (!s) {
        /* No IPv6 loopback on this machine: the IPv4 paths above cover the rest. */
        uv_run(&loop, UV_RUN_DEFAULT);
        uv_loop_close(&loop);
        skip();
    }
    assert_true(http_server_port(s) > 0);
    http_server_close(s, on_bare_server_closed);
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_int_equal(closed, 1);
    assert_int_equal(uv_loop_close(&loop), 0);
}

static int null_readiness_setup(void **state) {
    fixture *f = calloc(1, sizeof *f);
    assert_int_equal(uv_loop_init(&f->loop), 0);
    f->server = http_server_start(&f->loop, &(http_server_options){.host = "127.0.0.1"}, NULL, NULL,
                                  f, NULL);
    assert_non_null(f->server);
    f->port = http_server_port(f->server);
    uv_async_init(&f->loop, &f->stop, on_stop);
    f->stop.data = f;
    assert_int_equal(pthread_create(&f->thread, NULL, run_loop, f), 0);
    *state = f;
    return 0;
}

static void test_missing_registry_and_readiness_answer_503(void **state) {
    fixture *f = *state;
    response r;
    get(f->port, "/metrics", &r);
    assert_int_equal(r.status, 503);
    get(f->port, "/readyz", &r);
    assert_int_equal(r.status, 503);
    assert_string_equal(r.body, "not ready: no readiness check installed\n");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_healthz_and_unknown_paths, default_setup,
                                        default_teardown),
        cmocka_unit_test_setup_teardown(test_metrics_are_the_rendered_registry, default_setup,
                                        default_teardown),
        cmocka_unit_test_setup_teardown(test_readyz_follows_the_callback, default_setup,
                                        default_teardown),
        cmocka_unit_test_setup_teardown(test_keep_alive_pipelining_head_and_methods, default_setup,
                                        default_teardown),
        cmocka_unit_test_setup_teardown(test_http10_without_keep_alive_is_closed, default_setup,
                                        default_teardown),
        cmocka_unit_test_setup_teardown(test_upgrade_is_answered_then_closed, default_setup,
                                        default_teardown),
        cmocka_unit_test_setup_teardown(test_malformed_and_oversized_requests, default_setup,
                                        default_teardown),
        cmocka_unit_test_setup_teardown(test_connection_limit_idle_timeout_and_small_bound,
                                        small_setup, default_teardown),
        cmocka_unit_test(test_a_closed_connection_frees_its_place_at_once),
        cmocka_unit_test(test_close_with_open_connections),
        cmocka_unit_test(test_close_from_the_readiness_callback),
        cmocka_unit_test_setup_teardown(test_start_errors, default_setup, default_teardown),
        cmocka_unit_test(test_without_registry_or_readiness),
        cmocka_unit_test_setup_teardown(test_missing_registry_and_readiness_answer_503,
                                        null_readiness_setup, default_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
