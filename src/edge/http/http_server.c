#include "http_server.h"

#include <http_parser.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DEFAULT_MAX_REQUEST_BYTES 8192
#define DEFAULT_MAX_CONNECTIONS   64
#define DEFAULT_IDLE_TIMEOUT_MS   30000
#define URL_MAX                   1024
#define READ_BUFFER_SIZE          4096
#define READINESS_DETAIL_MAX      200

typedef struct connection connection;

struct http_server {
    uv_loop_t *loop;
    uv_tcp_t listener;
    bool listener_open;
    const metrics *registry;
    http_readiness_fn ready;
    void *opaque;
    size_t max_request_bytes;
    unsigned max_connections;
    unsigned idle_timeout_ms;
    int port;
    connection *connections; /* doubly linked list of open connections */
    size_t n_connections;
    bool closing;
    http_server_close_cb close_cb;
};

struct connection {
    uv_tcp_t tcp;
    uv_timer_t idle;
    int open_handles; /* tcp + idle timer; the struct is freed when both are closed */
    http_server *server;
    connection *prev, *next;
    http_parser parser;
    char url[URL_MAX + 1];
    size_t url_len;
    bool url_too_long;
    size_t request_bytes; /* URL + header names and values + body of the current request */
    bool request_too_large;
    unsigned pending_writes;
    bool close_after_write; /* answer the current write(s), then close */
    bool closing;
    char read_buffer[READ_BUFFER_SIZE];
};

typedef struct write_request {
    uv_write_t req;
    connection *conn;
    char data[]; /* the whole response: status line, headers, body */
} write_request;

/* The last touch of a closing server: nothing of it refers to the loop any more. */
static void server_finish_if_done(http_server *s) {
    if (!s->closing || s->listener_open || s->connections) return;
    s->close_cb(s, s->opaque);
}

static void on_connection_handle_closed(uv_handle_t *handle) {
    connection *c = handle->data;
    if (--c->open_handles > 0) return;
    http_server *s = c->server;
    if (c->prev)
        c->prev->next = c->next;
    else
        s->connections = c->next;
    if (c->next) c->next->prev = c->prev;
    free(c);
    server_finish_if_done(s);
}

/* A closing connection stops counting against max_connections at once: its handles close only on
 * a later loop turn, and a client that saw its peer's close may already be connecting again. */
static void connection_close(connection *c) {
    if (c->closing) return;
    c->closing = true;
    c->server->n_connections--;
    uv_read_stop((uv_stream_t *)&c->tcp);
    uv_close((uv_handle_t *)&c->tcp, on_connection_handle_closed);
    uv_close((uv_handle_t *)&c->idle, on_connection_handle_closed);
}

/* Closes now if nothing is being written, else once the last response is out (a client that
 * asked for `Connection: close` still gets its whole answer). */
static void connection_close_when_written(connection *c) {
    c->close_after_write = true;
    if (c->pending_writes == 0) connection_close(c);
}

static void on_write_done(uv_write_t *req, int status) {
    write_request *w = (write_request *)req;
    connection *c = w->conn;
    free(w);
    c->pending_writes--;
    if (status < 0)
        connection_close(c);
    else if (c->close_after_write && c->pending_writes == 0)
        connection_close(c);
}

static const char *reason_phrase(int status) {
    switch (status) {
    case 200: return "OK";
    case 400: return "Bad Request";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 414: return "URI Too Long";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 503: return "Service Unavailable";
    }
    return "Unknown";
}

/* Queues one response. With head_only the headers still announce the body's length, as HEAD
 * requires, but the body is not sent. */
static void connection_respond(connection *c, int status, const char *content_type,
                               const char *body, size_t body_len, bool head_only, bool keep_alive) {
    char headers[512];
    int hlen = snprintf(headers, sizeof headers,
                        "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n%s%s\r\n",
                        status, reason_phrase(status), content_type, body_len,
                        status == 405 ? "Allow: GET, HEAD\r\n" : "",
                        keep_alive ? "" : "Connection: close\r\n");
    size_t send_body = head_only ? 0 : body_len;
    write_request *w = malloc(sizeof *w + (size_t)hlen + send_body);
    if (!w) {
        connection_close(c);
        return;
    }
    w->conn = c;
    memcpy(w->data, headers, (size_t)hlen);
    if (send_body) memcpy(w->data + hlen, body, send_body);
    uv_buf_t buf = uv_buf_init(w->data, (unsigned)((size_t)hlen + send_body));
    if (uv_write(&w->req, (uv_stream_t *)&c->tcp, &buf, 1, on_write_done) < 0) {
        free(w);
        connection_close(c);
        return;
    }
    c->pending_writes++;
    if (!keep_alive) connection_close_when_written(c);
}

static void respond_text(connection *c, int status, const char *body, bool head_only,
                         bool keep_alive) {
    connection_respond(c, status, "text/plain; charset=utf-8", body, strlen(body), head_only,
                       keep_alive);
}

static void respond_metrics(connection *c, bool head_only, bool keep_alive) {
    const metrics *registry = c->server->registry;
    char *text = NULL;
    size_t len = 0;
    if (!registry) {
        respond_text(c, 503, "no metrics registry\n", head_only, keep_alive);
        return;
    }
    px_error err = {0};
    if (metrics_render(registry, &text, &len, &err)) {
        char body[PX_ERROR_MSG_MAX + 2];
        snprintf(body, sizeof body, "%s\n", err.msg);
        respond_text(c, 500, body, head_only, keep_alive);
        return;
    }
    connection_respond(c, 200, "text/plain; version=0.0.4; charset=utf-8", text, len, head_only,
                       keep_alive);
    free(text);
}

static void respond_readiness(connection *c, bool head_only, bool keep_alive) {
    http_server *s = c->server;
    http_readiness r = {0};
    if (s->ready) s->ready(s->opaque, &r);
    if (s->ready && r.kafka && r.redis && r.index) {
        respond_text(c, 200, "ready\n", head_only, keep_alive);
        return;
    }
    char body[64 + READINESS_DETAIL_MAX];
    if (!s->ready) {
        snprintf(body, sizeof body, "not ready: no readiness check installed\n");
    } else {
        snprintf(body, sizeof body, "not ready:%s%s%s%s%.*s\n", r.kafka ? "" : " kafka",
                 r.redis ? "" : " redis", r.index ? "" : " index", r.detail ? "; " : "",
                 READINESS_DETAIL_MAX, r.detail ? r.detail : "");
    }
    respond_text(c, 503, body, head_only, keep_alive);
}

/* Routes one complete request. Called from on_message_complete, so pipelined requests are
 * answered in order. */
static void connection_route(connection *c) {
    http_parser *p = &c->parser;
    /* An Upgrade request (WebSocket…) gets its answer and the connection closes: the bytes after
     * its headers belong to another protocol. */
    bool keep_alive = http_should_keep_alive(p) && !p->upgrade && !c->server->closing;
    bool head_only = p->method == HTTP_HEAD;
    if (c->url_too_long) {
        respond_text(c, 414, "URI too long\n", head_only, false);
        return;
    }
    struct http_parser_url u;
    http_parser_url_init(&u);
    if (http_parser_parse_url(c->url, c->url_len, 0, &u) || !(u.field_set & (1 << UF_PATH))) {
        respond_text(c, 400, "malformed request target\n", head_only, false);
        return;
    }
    const char *path = c->url + u.field_data[UF_PATH].off;
    size_t path_len = u.field_data[UF_PATH].len;
    bool is_metrics = path_len == 8 && !memcmp(path, "/metrics", 8);
    bool is_healthz = path_len == 8 && !memcmp(path, "/healthz", 8);
    bool is_readyz = path_len == 7 && !memcmp(path, "/readyz", 7);
    if (!is_metrics && !is_healthz && !is_readyz) {
        respond_text(c, 404, "not found: try /metrics, /healthz or /readyz\n", head_only,
                     keep_alive);
    } else if (p->method != HTTP_GET && p->method != HTTP_HEAD) {
        respond_text(c, 405, "method not allowed: use GET or HEAD\n", false, keep_alive);
    } else if (is_metrics) {
        respond_metrics(c, head_only, keep_alive);
    } else if (is_healthz) {
        respond_text(c, 200, "ok\n", head_only, keep_alive);
    } else {
        respond_readiness(c, head_only, keep_alive);
    }
}

static connection *parser_connection(http_parser *p) { return p->data; }

/* Counts request bytes; a non-zero return makes http_parser stop with a callback error, which
 * read_cb turns into 431. */
static int count_bytes(connection *c, size_t len) {
    c->request_bytes += len;
    if (c->request_bytes <= c->server->max_request_bytes) return 0;
    c->request_too_large = true;
    return 1;
}

static int on_message_begin(http_parser *p) {
    connection *c = parser_connection(p);
    c->url_len = 0;
    c->url_too_long = false;
    c->request_bytes = 0;
    return 0;
}

static int on_url(http_parser *p, const char *at, size_t len) {
    connection *c = parser_connection(p);
    if (count_bytes(c, len)) return 1;
    if (c->url_len + len > URL_MAX) {
        c->url_too_long = true;
        return 0;
    }
    memcpy(c->url + c->url_len, at, len);
    c->url_len += len;
    c->url[c->url_len] = '\0';
    return 0;
}

static int on_header_data(http_parser *p, const char *at, size_t len) {
    (void)at;
    return count_bytes(parser_connection(p), len);
}

static int on_message_complete(http_parser *p) {
    connection *c = parser_connection(p);
    connection_route(c);
    /* Once the connection is to be closed, stop parsing whatever else the client pipelined. */
    if (c->close_after_write) http_parser_pause(p, 1);
    return 0;
}

static const http_parser_settings parser_settings = {
    .on_message_begin = on_message_begin,
    .on_url = on_url,
    .on_header_field = on_header_data,
    .on_header_value = on_header_data,
    .on_body = on_header_data,
    .on_message_complete = on_message_complete,
};

static void on_alloc(uv_handle_t *handle, size_t suggested, uv_buf_t *buf) {
    (void)suggested;
    connection *c = handle->data;
    *buf = uv_buf_init(c->read_buffer, sizeof c->read_buffer);
}

static void on_read(uv_stream_t *stream, ssize_t nread, const uv_buf_t *buf) {
    connection *c = stream->data;
    if (nread < 0) {
        /* EOF or error: the client is gone; whatever it pipelined has been answered or dropped. */
        connection_close(c);
        return;
    }
    if (nread == 0 || c->closing || c->close_after_write) return;
    uv_timer_again(&c->idle);
    size_t parsed = http_parser_execute(&c->parser, &parser_settings, buf->base, (size_t)nread);
    enum http_errno e = HTTP_PARSER_ERRNO(&c->parser);
    if (c->closing || c->close_after_write) return; /* answered; the rest is not read */
    if (c->request_too_large) {
        respond_text(c, 431, "request too large\n", false, false);
    } else if (e != HPE_OK || parsed != (size_t)nread) {
        char body[128];
        snprintf(body, sizeof body, "bad request: %s\n", http_errno_description(e));
        respond_text(c, 400, body, false, false);
    }
}

static void on_idle(uv_timer_t *timer) { connection_close_when_written(timer->data); }

static void on_new_connection(uv_stream_t *listener, int status) {
    http_server *s = listener->data;
    if (status < 0 || s->closing) return;
    connection *c = calloc(1, sizeof *c);
    if (!c) return;
    c->server = s;
    uv_tcp_init(s->loop, &c->tcp);
    uv_timer_init(s->loop, &c->idle);
    c->tcp.data = c;
    c->idle.data = c;
    c->open_handles = 2;
    c->next = s->connections;
    if (c->next) c->next->prev = c;
    s->connections = c;
    s->n_connections++;
    if (uv_accept(listener, (uv_stream_t *)&c->tcp) < 0 || s->n_connections > s->max_connections) {
        connection_close(c);
        return;
    }
    http_parser_init(&c->parser, HTTP_REQUEST);
    c->parser.data = c;
    uv_timer_start(&c->idle, on_idle, s->idle_timeout_ms, s->idle_timeout_ms);
    if (uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read) < 0) connection_close(c);
}

static void on_listener_closed(uv_handle_t *handle) {
    http_server *s = handle->data;
    s->listener_open = false;
    server_finish_if_done(s);
}

static void on_abandoned_listener_closed(uv_handle_t *handle) { free(handle->data); }

/* Frees a server whose start failed: the handle must be closed through the loop first. */
static void abandon_server(http_server *s) {
    uv_close((uv_handle_t *)&s->listener, on_abandoned_listener_closed);
}

http_server *http_server_start(uv_loop_t *loop, const http_server_options *options,
                               const metrics *registry, http_readiness_fn ready, void *opaque,
                               px_error *err) {
    if (!loop || !options || !options->host) {
        px_error_set(err, PX_EINVAL, "http_server: a loop and options with a host are required");
        return NULL;
    }
    if (options->port < 0 || options->port > 65535) {
        px_error_set(err, PX_EINVAL,
                     "http_server: port %d out of range (expected 0..65535, 0 = any free port)",
                     options->port);
        return NULL;
    }
    struct sockaddr_storage addr;
    if (uv_ip4_addr(options->host, options->port, (struct sockaddr_in *)&addr) &&
        uv_ip6_addr(options->host, options->port, (struct sockaddr_in6 *)&addr)) {
        px_error_set(err, PX_EINVAL, "http_server: '%s' is not an IPv4 or IPv6 address",
                     options->host);
        return NULL;
    }
    http_server *s = calloc(1, sizeof *s);
    if (!s) {
        px_error_set(err, PX_ENOMEM, "http_server: out of memory");
        return NULL;
    }
    s->loop = loop;
    s->registry = registry;
    s->ready = ready;
    s->opaque = opaque;
    s->max_request_bytes =
        options->max_request_bytes ? options->max_request_bytes : DEFAULT_MAX_REQUEST_BYTES;
    s->max_connections =
        options->max_connections ? options->max_connections : DEFAULT_MAX_CONNECTIONS;
    s->idle_timeout_ms =
        options->idle_timeout_ms ? options->idle_timeout_ms : DEFAULT_IDLE_TIMEOUT_MS;
    int r = uv_tcp_init(loop, &s->listener);
    if (r < 0) {
        free(s);
        px_error_set(err, PX_EIO, "http_server: uv_tcp_init: %s", uv_strerror(r));
        return NULL;
    }
    s->listener.data = s;
    s->listener_open = true;
    const char *step = "bind";
    r = uv_tcp_bind(&s->listener, (const struct sockaddr *)&addr, 0);
    if (r == 0) {
        step = "listen";
        r = uv_listen((uv_stream_t *)&s->listener, 64, on_new_connection);
    }
    struct sockaddr_storage bound;
    int bound_len = sizeof bound;
    if (r == 0) {
        step = "getsockname";
        r = uv_tcp_getsockname(&s->listener, (struct sockaddr *)&bound, &bound_len);
    }
    if (r < 0) {
        px_error_set(err, PX_EIO, "http_server: cannot %s %s:%d: %s", step, options->host,
                     options->port, uv_strerror(r));
        abandon_server(s);
        return NULL;
    }
    s->port = bound.ss_family == AF_INET6 ? ntohs(((struct sockaddr_in6 *)&bound)->sin6_port)
                                          : ntohs(((struct sockaddr_in *)&bound)->sin_port);
    return s;
}

int http_server_port(const http_server *s) { return s ? s->port : -1; }

void http_server_close(http_server *s, http_server_close_cb cb) {
    if (!s || s->closing) return;
    s->closing = true;
    s->close_cb = cb;
    uv_close((uv_handle_t *)&s->listener, on_listener_closed);
    for (connection *c = s->connections; c; c = c->next) connection_close_when_written(c);
}

void http_server_free(http_server *s) { free(s); }
