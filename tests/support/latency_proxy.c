#include "latency_proxy.h"

#include <stdlib.h>
#include <string.h>

typedef struct pair pair;

struct latency_proxy {
    uv_loop_t *loop;
    uv_tcp_t listener;
    int port, target_port;
    unsigned delay_ms, pace_ms;
    uint64_t round_trips;
    int closing;
    pair *pairs; /* open connections, for latency_proxy_close */
    int refs;    /* listener + pairs; freed at 0 */
};

struct pair {
    latency_proxy *proxy;
    pair *next;
    uv_tcp_t client, server;
    uv_connect_t connect;
    int closing;
    int refs;          /* two handles + delayed chunks in flight */
    int client_sent;   /* new client data since the last server answer */
    uint64_t last_due; /* loop time at which the previous server chunk leaves */
};

typedef struct chunk {
    pair *pair;
    uv_timer_t timer;
    uv_write_t write;
    uv_buf_t buf;
} chunk;

static void proxy_unref(latency_proxy *p) {
    if (--p->refs == 0) free(p);
}

static void pair_unref(pair *pr) {
    if (--pr->refs > 0) return;
    latency_proxy *p = pr->proxy;
    for (pair **it = &p->pairs; *it; it = &(*it)->next)
        if (*it == pr) {
            *it = pr->next;
            break;
        }
    free(pr);
    proxy_unref(p);
}

static void on_pair_handle_closed(uv_handle_t *h) { pair_unref(h->data); }

static void pair_close(pair *pr) {
    if (pr->closing) return;
    pr->closing = 1;
    uv_close((uv_handle_t *)&pr->client, on_pair_handle_closed);
    uv_close((uv_handle_t *)&pr->server, on_pair_handle_closed);
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf) {
    (void)h;
    buf->base = malloc(suggested);
    buf->len = buf->base ? suggested : 0;
}

static void on_chunk_timer_closed(uv_handle_t *h) {
    chunk *c = h->data;
    pair *pr = c->pair;
    free(c->buf.base);
    free(c);
    pair_unref(pr);
}

static void on_chunk_written(uv_write_t *w, int status) {
    chunk *c = w->data;
    if (status) pair_close(c->pair);
    uv_close((uv_handle_t *)&c->timer, on_chunk_timer_closed);
}

static void on_chunk_due(uv_timer_t *t) {
    chunk *c = t->data;
    if (c->pair->closing ||
        uv_write(&c->write, (uv_stream_t *)&c->pair->client, &c->buf, 1, on_chunk_written))
        uv_close((uv_handle_t *)&c->timer, on_chunk_timer_closed);
}

/* Server → client: hold each chunk for delay_ms, and pace_ms after the previous one (timers due
 * at the same time fire in the order they were started). */
static void on_server_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf) {
    pair *pr = s->data;
    if (n <= 0) {
        free(buf->base);
        if (n < 0) pair_close(pr);
        return;
    }
    if (pr->client_sent) {
        pr->proxy->round_trips++;
        pr->client_sent = 0;
    }
    chunk *c = calloc(1, sizeof *c);
    if (!c) {
        free(buf->base);
        pair_close(pr);
        return;
    }
    c->pair = pr;
    c->buf = uv_buf_init(buf->base, (unsigned)n);
    c->timer.data = c;
    c->write.data = c;
    pr->refs++;
    uint64_t now = uv_now(pr->proxy->loop), due = now + pr->proxy->delay_ms;
    if (pr->proxy->pace_ms && due < pr->last_due + pr->proxy->pace_ms)
        due = pr->last_due + pr->proxy->pace_ms;
    pr->last_due = due;
    uv_timer_init(pr->proxy->loop, &c->timer);
    uv_timer_start(&c->timer, on_chunk_due, due - now, 0);
}

typedef struct forward {
    uv_write_t write;
    char *base;
} forward;

static void on_forwarded(uv_write_t *w, int status) {
    forward *f = (forward *)w;
    if (status) pair_close(w->handle->data);
    free(f->base);
    free(f);
}

/* Client → server: forwarded at once. */
static void on_client_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf) {
    pair *pr = s->data;
    forward *f = n > 0 ? malloc(sizeof *f) : NULL;
    if (!f) {
        free(buf->base);
        if (n != 0) pair_close(pr); /* EOF, error, or no memory */
        return;
    }
    pr->client_sent = 1;
    f->base = buf->base;
    uv_buf_t out = uv_buf_init(buf->base, (unsigned)n);
    if (uv_write(&f->write, (uv_stream_t *)&pr->server, &out, 1, on_forwarded)) {
        free(f->base);
        free(f);
        pair_close(pr);
    }
}

static void on_server_connected(uv_connect_t *req, int status) {
    pair *pr = req->data;
    if (status || pr->closing) {
        pair_close(pr);
        return;
    }
    /* No Nagle: a delayed small write waiting for a delayed ACK would add ~40 ms of its own. */
    uv_tcp_nodelay(&pr->client, 1);
    uv_tcp_nodelay(&pr->server, 1);
    uv_read_start((uv_stream_t *)&pr->client, on_alloc, on_client_read);
    uv_read_start((uv_stream_t *)&pr->server, on_alloc, on_server_read);
}

static void on_accept(uv_stream_t *listener, int status) {
    latency_proxy *p = listener->data;
    if (status || p->closing) return;
    pair *pr = calloc(1, sizeof *pr);
    if (!pr) return;
    pr->proxy = p;
    pr->refs = 2;
    p->refs++;
    pr->next = p->pairs;
    p->pairs = pr;
    uv_tcp_init(p->loop, &pr->client);
    uv_tcp_init(p->loop, &pr->server);
    pr->client.data = pr->server.data = pr->connect.data = pr;
    struct sockaddr_in target;
    uv_ip4_addr("127.0.0.1", p->target_port, &target);
    if (uv_accept(listener, (uv_stream_t *)&pr->client) ||
        uv_tcp_connect(&pr->connect, &pr->server, (const struct sockaddr *)&target,
                       on_server_connected))
        pair_close(pr);
}

static void on_listener_closed(uv_handle_t *h) { proxy_unref(h->data); }

latency_proxy *latency_proxy_start(uv_loop_t *loop, int target_port, unsigned delay_ms,
                                   px_error *err) {
    latency_proxy *p = calloc(1, sizeof *p);
    if (!p) {
        px_error_set(err, 1, "out of memory");
        return NULL;
    }
    p->loop = loop;
    p->target_port = target_port;
    p->delay_ms = delay_ms;
    p->refs = 1;
    uv_tcp_init(loop, &p->listener);
    p->listener.data = p;
    struct sockaddr_in any;
    struct sockaddr_storage bound;
    int len = sizeof bound;
    uv_ip4_addr("127.0.0.1", 0, &any);
    int rc = uv_tcp_bind(&p->listener, (const struct sockaddr *)&any, 0);
    if (!rc) rc = uv_listen((uv_stream_t *)&p->listener, 16, on_accept);
    if (!rc) rc = uv_tcp_getsockname(&p->listener, (struct sockaddr *)&bound, &len);
    if (rc) {
        px_error_set(err, 1, "latency proxy: cannot listen on loopback: %s", uv_strerror(rc));
        p->closing = 1;
        uv_close((uv_handle_t *)&p->listener, on_listener_closed);
        return NULL;
    }
    p->port = ntohs(((struct sockaddr_in *)&bound)->sin_port);
    return p;
}

int latency_proxy_port(const latency_proxy *p) { return p->port; }

void latency_proxy_set_pace(latency_proxy *p, unsigned pace_ms) { p->pace_ms = pace_ms; }

uint64_t latency_proxy_round_trips(const latency_proxy *p) { return p->round_trips; }

void latency_proxy_close(latency_proxy *p) {
    p->closing = 1;
    for (pair *pr = p->pairs; pr; pr = pr->next) pair_close(pr);
    uv_close((uv_handle_t *)&p->listener, on_listener_closed);
}
