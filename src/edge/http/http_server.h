/* http_server — the daemon's small HTTP/1.1 listener for Prometheus and orchestrator probes.
 *
 * Runs on the daemon's libuv loop (an edge adapter: libuv + Debian's libhttp-parser, no
 * hand-written parser). Routes, for GET and HEAD:
 *   /metrics  200, the metrics registry rendered in Prometheus text format 0.0.4;
 *   /healthz  200 "ok": the loop answers, so the process is alive;
 *   /readyz   200 "ready" when the owner's readiness callback says Kafka, Redis and the ROME index
 *             are all ready, else 503 with the parts that are not ("not ready: redis index");
 *   anything else 404; other methods 405 (with Allow: GET, HEAD); a malformed request 400; a
 *   request whose line + headers + body go over max_request_bytes 431, then the connection closes.
 * The query string is ignored. Keep-alive and pipelining follow HTTP/1.1 (a request with
 * "Connection: close", or an HTTP/1.0 one without keep-alive, is answered then closed).
 *
 * Bounds: at most max_connections open connections (more are accepted and closed at once), and a
 * connection idle for idle_timeout_ms is closed.
 *
 * Ownership and threads: the server borrows the loop, the registry and its user data `opaque`
 * (they must outlive it) and owns its handles. Everything happens on the loop thread; the registry
 * is rendered on that thread too (metrics.h is single-threaded).
 *
 * Closing (the protocol of every handle on the loop, libuv's uv_close: close with a callback, then
 * free): http_server_close(s, cb) starts closing. It is idempotent (a later call does nothing; the
 * first cb stands) and may be called from inside the readiness callback. At once the server stops
 * listening and reading: requests not answered yet get no answer, and the readiness callback is no
 * longer called; a response already queued is finished, then its connection closes. Then
 * cb(s, opaque) runs, from the loop and never inside http_server_close, once the listener and
 * every connection are closed: nothing of the server refers to the loop any more. Until the owner
 * calls http_server_free(s), in cb or after it, s stays valid for the query functions. The server
 * never touches s after cb returns; nothing else frees it. */
#ifndef HTTP_SERVER_H
#define HTTP_SERVER_H

#include <stdbool.h>
#include <stddef.h>
#include <uv.h>

#include "metrics.h"
#include "px_error.h"

typedef struct http_server http_server;

/* What /readyz reports; the owner fills it on every request. `detail`, when not NULL, is a short
 * text (at most 200 bytes used) appended to the 503 body after "; ", e.g.
 * "not ready: redis; redis: connection refused". */
typedef struct http_readiness {
    bool kafka;
    bool redis;
    bool index;
    const char *detail;
} http_readiness;

typedef void (*http_readiness_fn)(void *opaque, http_readiness *out);

typedef struct http_server_options {
    const char *host;         /* address to bind, e.g. "127.0.0.1", "0.0.0.0", "::" */
    int port;                 /* 0 = an ephemeral port (see http_server_port) */
    size_t max_request_bytes; /* request line + headers + body; 0 = 8192 */
    unsigned max_connections; /* 0 = 64 */
    unsigned idle_timeout_ms; /* 0 = 30000 */
} http_server_options;

/* Binds and starts listening. `registry` may be NULL (then /metrics answers 503). `ready` may be
 * NULL (then /readyz answers 503: nobody says it is ready). `opaque` reaches `ready` and the close
 * callback. Fails (NULL + err) when the address does not parse or cannot be bound; the listener
 * handle is then closed and freed through the loop, so the caller still runs the loop (as it does
 * anyway) before uv_loop_close(). */
http_server *http_server_start(uv_loop_t *loop, const http_server_options *options,
                               const metrics *registry, http_readiness_fn ready, void *opaque,
                               px_error *err);

/* The port actually bound (useful with port 0). */
int http_server_port(const http_server *server);

/* Called once, from the loop, when a closing server no longer refers to the loop (see "Closing"
 * above). The owner calls http_server_free(s) here or later. */
typedef void (*http_server_close_cb)(http_server *server, void *opaque);

/* Starts closing: stops accepting, closes connections once their pending response is written,
 * then calls cb (required). Idempotent; safe from the readiness callback. */
void http_server_close(http_server *server, http_server_close_cb cb);

/* Releases the server's memory: in or after its close callback, never before (NULL is a no-op). */
void http_server_free(http_server *server);

#endif
