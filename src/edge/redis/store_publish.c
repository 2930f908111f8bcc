#include "store_publish.h"

#include <string.h>
#include <sys/time.h>

#include "store_sentinel.h"
#include "store_sync.h"

redisReply *store_sync_run(redisContext *c, const char *describe, const char *step, px_error *err,
                           int argc, const char **argv, const size_t *lens) {
    redisReply *reply = redisCommandArgv(c, argc, argv, lens);
    if (!reply) {
        px_error_set(err, PX_EUNAVAILABLE, "redis %s: %s failed: %s", describe, step,
                     c->err ? c->errstr : "no reply");
        return NULL;
    }
    if (reply->type == REDIS_REPLY_ERROR) {
        px_error_set(err, PX_EREFUSED, "redis %s: %s refused: %s", describe, step, reply->str);
        freeReplyObject(reply);
        return NULL;
    }
    return reply;
}

/* store_sync_run() for commands whose reply is only checked for errors. */
static int run_ok(redisContext *c, const char *describe, const char *step, px_error *err, int argc,
                  const char **argv, const size_t *lens) {
    redisReply *reply = store_sync_run(c, describe, step, err, argc, argv, lens);
    if (!reply) return -1;
    freeReplyObject(reply);
    return 0;
}

/* A connection to ep's own address (host:port or unix socket), AUTHed and SELECTed. */
static redisContext *connect_server(const redis_endpoint *ep, const char *describe,
                                    unsigned timeout_ms, px_error *err) {
    struct timeval tv = {.tv_sec = timeout_ms / 1000, .tv_usec = (timeout_ms % 1000) * 1000};
    redisContext *c = ep->unix_path[0] ? redisConnectUnixWithTimeout(ep->unix_path, tv)
                                       : redisConnectWithTimeout(ep->host, ep->port, tv);
    if (!c || c->err) {
        px_error_set(err, PX_EUNAVAILABLE, "redis %s: connect failed: %s", describe,
                     c ? c->errstr : "out of memory");
        redisFree(c);
        return NULL;
    }
    if (redisSetTimeout(c, tv) != REDIS_OK) {
        px_error_set(err, PX_EUNAVAILABLE, "redis %s: cannot set a %u ms timeout", describe,
                     timeout_ms);
        redisFree(c);
        return NULL;
    }
    char db[16];
    const char *auth[] = {"AUTH", ep->user[0] ? ep->user : ep->password, ep->password};
    size_t auth_lens[] = {4, strlen(auth[1]), strlen(auth[2])};
    const char *select[] = {"SELECT", db};
    size_t select_lens[] = {6, (size_t)snprintf(db, sizeof db, "%d", ep->db)};
    if ((ep->password[0] &&
         run_ok(c, describe, "AUTH", err, ep->user[0] ? 3 : 2, auth, auth_lens)) ||
        (ep->db && run_ok(c, describe, "SELECT", err, 2, select, select_lens))) {
        redisFree(c);
        return NULL;
    }
    return c;
}

/* Asks sentinel i where ep's master is, connects to it and checks that it is a master. */
static redisContext *connect_via_sentinel(const redis_endpoint *ep, size_t i, unsigned timeout_ms,
                                          px_error *err) {
    redis_endpoint sentinel;
    redis_endpoint_init(&sentinel);
    memcpy(sentinel.host, ep->sentinels[i].host, sizeof sentinel.host);
    sentinel.port = ep->sentinels[i].port;
    char describe[REDIS_ENDPOINT_HOST_MAX + REDIS_ENDPOINT_USER_MAX + 64];
    snprintf(describe, sizeof describe, "sentinel %s:%d", sentinel.host, sentinel.port);
    redisContext *c = connect_server(&sentinel, describe, timeout_ms, err);
    if (!c) return NULL;
    const char *ask[] = {"SENTINEL", "get-master-addr-by-name", ep->master};
    size_t ask_lens[] = {8, 23, strlen(ep->master)};
    redis_endpoint master = *ep;
    redisReply *reply =
        store_sync_run(c, describe, "SENTINEL get-master-addr-by-name", err, 3, ask, ask_lens);
    int rc = reply ? store_sentinel_read_master(&master, i, reply, err) : -1;
    freeReplyObject(reply);
    redisFree(c);
    if (rc) return NULL;
    store_sentinel_describe(&master, describe, sizeof describe);
    if (!(c = connect_server(&master, describe, timeout_ms, err))) return NULL;
    const char *role[] = {"ROLE"};
    size_t role_lens[] = {4};
    reply = store_sync_run(c, describe, "ROLE", err, 1, role, role_lens);
    if (!reply || store_sentinel_check_role(reply, describe, err)) {
        freeReplyObject(reply);
        redisFree(c);
        return NULL;
    }
    freeReplyObject(reply);
    return c;
}

redisContext *store_sync_connect(const redis_endpoint *ep, const char *describe,
                                 unsigned timeout_ms, px_error *err) {
    if (!ep->n_sentinels) return connect_server(ep, describe, timeout_ms, err);
    px_error last;
    for (size_t i = 0; i < ep->n_sentinels; i++) {
        redisContext *c = connect_via_sentinel(ep, i, timeout_ms, &last);
        if (c) return c;
    }
    px_error_set(err, PX_EUNAVAILABLE, "redis %s: no sentinel named a usable master (last: %s)",
                 describe, last.msg);
    return NULL;
}

int store_publish_snapshot(const redis_endpoint *ep, unsigned timeout_ms, const char *version,
                           const void *bytes, size_t len, store_publish_result *out,
                           px_error *err) {
    char describe[REDIS_ENDPOINT_HOST_MAX + REDIS_ENDPOINT_USER_MAX + 64];
    char current[REDIS_ENDPOINT_KEY_MAX], channel[REDIS_ENDPOINT_KEY_MAX];
    memset(out, 0, sizeof *out);
    if (redis_endpoint_validate(ep, err)) return -1;
    if (!timeout_ms)
        return px_error_set(err, PX_EINVAL, "redis publish: timeout must be at least 1 ms");
    if (!bytes || !len) return px_error_set(err, PX_EINVAL, "redis publish: the snapshot is empty");
    if (redis_endpoint_snapshot_key(ep, version, bytes, len, out->key, sizeof out->key, err) < 0 ||
        redis_endpoint_current_key(ep, current, sizeof current, err) < 0 ||
        redis_endpoint_published_channel(ep, channel, sizeof channel, err) < 0)
        return -1;
    redis_endpoint_describe(ep, describe, sizeof describe);

    redisContext *c = store_sync_connect(ep, describe, timeout_ms, err);
    if (!c) return -1;
    int rc = -1;
    size_t klen = strlen(out->key);
    const char *set[] = {"SET", out->key, bytes, "NX"};
    size_t set_lens[] = {3, klen, len, 2};
    redisReply *reply = store_sync_run(c, describe, "SET of the snapshot", err, 4, set, set_lens);
    if (reply) {
        out->stored = reply->type != REDIS_REPLY_NIL; /* NX: nil means the key was already there */
        freeReplyObject(reply);
        const char *multi[] = {"MULTI"}, *exec[] = {"EXEC"};
        size_t multi_lens[] = {5}, exec_lens[] = {4};
        const char *cur[] = {"SET", current, out->key};
        size_t cur_lens[] = {3, strlen(current), klen};
        const char *pub[] = {"PUBLISH", channel, out->key};
        size_t pub_lens[] = {7, strlen(channel), klen};
        if (!run_ok(c, describe, "MULTI", err, 1, multi, multi_lens) &&
            !run_ok(c, describe, "SET of current", err, 3, cur, cur_lens) &&
            !run_ok(c, describe, "PUBLISH", err, 3, pub, pub_lens) &&
            (reply = store_sync_run(c, describe, "EXEC", err, 1, exec, exec_lens)) != NULL) {
            if (reply->type == REDIS_REPLY_ARRAY && reply->elements == 2 &&
                reply->element[0]->type == REDIS_REPLY_STATUS &&
                reply->element[1]->type == REDIS_REPLY_INTEGER) {
                out->subscribers = reply->element[1]->integer;
                rc = 0;
            } else {
                px_error_set(err, PX_EREFUSED,
                             "redis %s: EXEC of the switch to %s did not return [OK, subscribers]",
                             describe, out->key);
            }
            freeReplyObject(reply);
        }
    }
    redisFree(c);
    return rc;
}
