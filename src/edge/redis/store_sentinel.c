#include "store_sentinel.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int store_sentinel_read_master(redis_endpoint *ep, size_t i, const redisReply *reply,
                               px_error *err) {
    const redis_endpoint_sentinel *s = &ep->sentinels[i];
    if (reply->type == REDIS_REPLY_NIL)
        return px_error_set(err, PX_ENOTFOUND, "sentinel %s:%d does not know master '%s'", s->host,
                            s->port, ep->master);
    if (reply->type == REDIS_REPLY_ERROR)
        return px_error_set(err, PX_EREFUSED, "sentinel %s:%d refused get-master-addr-by-name: %s",
                            s->host, s->port, reply->str);
    const redisReply *host = reply->type == REDIS_REPLY_ARRAY && reply->elements == 2
                                 ? reply->element[0]
                                 : NULL,
                     *port = host ? reply->element[1] : NULL;
    char *end = NULL;
    long p = port && port->type == REDIS_REPLY_STRING ? strtol(port->str, &end, 10) : 0;
    if (!host || host->type != REDIS_REPLY_STRING || host->len == 0 ||
        host->len > REDIS_ENDPOINT_HOST_MAX || !end || *end || p < 1 || p > 65535)
        return px_error_set(err, PX_EREFUSED,
                            "sentinel %s:%d: expected [host, port] for master '%s'", s->host,
                            s->port, ep->master);
    memcpy(ep->host, host->str, host->len);
    ep->host[host->len] = '\0';
    ep->port = (int)p;
    return 0;
}

int store_sentinel_check_role(const redisReply *reply, const char *describe, px_error *err) {
    const redisReply *role =
        reply->type == REDIS_REPLY_ARRAY && reply->elements > 0 ? reply->element[0] : NULL;
    if (!role || role->type != REDIS_REPLY_STRING)
        return px_error_set(err, PX_EREFUSED, "redis %s: ROLE did not name a role", describe);
    if (strcmp(role->str, "master"))
        return px_error_set(err, PX_EREFUSED,
                            "redis %s is a %s, not the master (the sentinel is behind a failover?)",
                            describe, role->str);
    return 0;
}

void store_sentinel_describe(const redis_endpoint *ep, char *buf, size_t size) {
    redis_endpoint server = *ep;
    server.n_sentinels = 0;
    redis_endpoint_describe(&server, buf, size);
    size_t n = strlen(buf);
    if (n < size) snprintf(buf + n, size - n, " (master '%s')", ep->master);
}

int store_sentinel_is_failover_error(const char *msg) {
    return !strncmp(msg, "READONLY", 8) || !strncmp(msg, "LOADING", 7);
}
