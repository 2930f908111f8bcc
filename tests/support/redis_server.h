/* redis_server — a real, throw-away redis-server for tests.
 *
 * redis_server_start() picks a free loopback port, writes a redis.conf into a fresh temporary
 * directory (port, bind 127.0.0.1, no persistence: save "" and appendonly no, optional
 * requirepass / ACL user / unix socket), fork+execs `redis-server` on it and waits until it
 * answers PING (at most 5 s). The child gets PR_SET_PDEATHSIG(SIGKILL): if the test process dies
 * for any reason (failed assertion, crash, timeout kill), the server dies with it; a normal test
 * calls redis_server_free in its teardown, which also removes the directory.
 *
 * stop/restart keep the SAME port and directory, so that clients configured with the first
 * address can reconnect; pause/resume freeze the server (SIGSTOP/SIGCONT) to simulate a hung
 * Redis. Every wait is bounded; a failure fills err (with the tail of the server's log when it
 * could not start). redis-server must be on PATH. Not thread-safe; one handle per server.
 *
 * Replication and Sentinel: replicaof_port makes the server a replica of 127.0.0.1:<port>;
 * sentinel_master makes it a sentinel instead (`redis-server <conf> --sentinel`, the same binary
 * as Debian's redis-sentinel) monitoring that name at 127.0.0.1:<sentinel_master_port> with
 * quorum 2 and short timeouts (down-after-milliseconds 500, failover-timeout 2000), so that a
 * test sees a failover within a few seconds. A sentinel rewrites its own conf file. */
#ifndef PX_TEST_REDIS_SERVER_H
#define PX_TEST_REDIS_SERVER_H

#include <hiredis/hiredis.h>
#include <stddef.h>

#include "px_error.h"

typedef struct redis_server redis_server;

typedef struct redis_server_options {
    const char *requirepass;     /* password of the default user; NULL = none */
    const char *acl_user;        /* an extra ACL user allowed everything; NULL = none */
    const char *acl_password;    /* its password (required with acl_user) */
    int unix_socket;             /* also listen on <dir>/redis.sock */
    int replicaof_port;          /* a replica of 127.0.0.1:<port>; 0 = a master */
    const char *sentinel_master; /* a sentinel monitoring this master name; NULL = a server */
    int sentinel_master_port;    /* where that master is, on 127.0.0.1 */
} redis_server_options;

/* opt may be NULL (no password, TCP only). Returns NULL with err on failure. */
redis_server *redis_server_start(const redis_server_options *opt, px_error *err);

int redis_server_port(const redis_server *srv);
/* The unix socket path, or "" when the server has none. */
const char *redis_server_socket_path(const redis_server *srv);
/* "redis://127.0.0.1:<port>" — no credentials. */
void redis_server_url(const redis_server *srv, char *buf, size_t size);

/* SIGTERM (SIGKILL after 5 s) and reap; the port stays this server's for restart. */
int redis_server_stop(redis_server *srv, px_error *err);
/* Starts the server again, same port and config, and waits for PING. */
int redis_server_restart(redis_server *srv, px_error *err);
/* SIGSTOP / SIGCONT: the server keeps its connections but answers nothing while paused. */
int redis_server_pause(redis_server *srv, px_error *err);
int redis_server_resume(redis_server *srv, px_error *err);

/* A blocking hiredis connection, authenticated with requirepass when there is one (1 s timeout).
 * The caller frees it with redisFree. */
redisContext *redis_server_connect(const redis_server *srv, px_error *err);

/* Kills the server if running, removes its directory, frees srv. NULL is a no-op. */
void redis_server_free(redis_server *srv);

/* Waits ms milliseconds; the monotonic clock in milliseconds: what tests that drive servers by
 * hand (kill, failover) wait and time with. */
void redis_server_sleep_ms(unsigned ms);
long long redis_server_now_ms(void);

#endif
