#include "store_scan.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store_sync.h"

struct store_scan {
    redisContext *c;
    redis_endpoint ep;
    char describe[REDIS_ENDPOINT_HOST_MAX + REDIS_ENDPOINT_USER_MAX + 64];
};

store_scan *store_scan_open(const redis_endpoint *ep, unsigned timeout_ms, px_error *err) {
    if (redis_endpoint_validate(ep, err)) return NULL;
    store_scan *s = calloc(1, sizeof *s);
    if (!s) {
        px_error_set(err, PX_ENOMEM, "redis scan: out of memory");
        return NULL;
    }
    s->ep = *ep;
    redis_endpoint_describe(ep, s->describe, sizeof s->describe);
    if (!(s->c = store_sync_connect(ep, s->describe, timeout_ms, err))) {
        free(s);
        return NULL;
    }
    return s;
}

void store_scan_close(store_scan *s) {
    if (!s) return;
    redisFree(s->c);
    free(s);
}

int store_scan_current_version(store_scan *s, char *buf, size_t size, px_error *err) {
    char current[REDIS_ENDPOINT_KEY_MAX], snapshot[REDIS_ENDPOINT_KEY_MAX];
    if (redis_endpoint_current_key(&s->ep, current, sizeof current, err) < 0) return -1;
    const char *get[] = {"GET", current};
    size_t get_lens[] = {3, strlen(current)};
    redisReply *r = store_sync_run(s->c, s->describe, "GET of current", err, 2, get, get_lens);
    if (!r) return -1;
    if (r->type != REDIS_REPLY_STRING) {
        freeReplyObject(r);
        return px_error_set(err, PX_ENOTFOUND, "redis %s: no ROME index published (%s is not set)",
                            s->describe, current);
    }
    snprintf(snapshot, sizeof snapshot, "%.*s", (int)r->len, r->str);
    freeReplyObject(r);
    /* <prefix>snapshot:<version>:<hash16>; the version holds no ':' */
    const char *tag = strstr(snapshot, "snapshot:");
    const char *v = tag ? tag + strlen("snapshot:") : NULL;
    const char *end = v ? strrchr(v, ':') : NULL;
    if (!end || end == v || (size_t)(end - v) >= size)
        return px_error_set(err, PX_EINVAL, "redis %s: %s names '%s', not a snapshot key",
                            s->describe, current, snapshot);
    snprintf(buf, size, "%.*s", (int)(end - v), v);
    return 0;
}

long long store_scan_dbsize(store_scan *s, px_error *err) {
    const char *cmd[] = {"DBSIZE"};
    size_t lens[] = {6};
    redisReply *r = store_sync_run(s->c, s->describe, "DBSIZE", err, 1, cmd, lens);
    if (!r) return -1;
    long long n = r->type == REDIS_REPLY_INTEGER ? r->integer : -1;
    freeReplyObject(r);
    if (n < 0) px_error_set(err, PX_EREFUSED, "redis %s: DBSIZE is not an integer", s->describe);
    return n;
}

int store_scan_step(store_scan *s, const char *cursor, const char *prefix, unsigned count,
                    void (*each)(const char *name, size_t len, void *ud), void *ud,
                    char next[STORE_SCAN_CURSOR_MAX + 1], px_error *err) {
    size_t plen = strlen(prefix);
    char *match = malloc(2 * plen + 2);
    if (!match) return px_error_set(err, PX_ENOMEM, "redis scan: out of memory");
    size_t m = 0;
    for (size_t i = 0; i < plen; i++) {
        if (strchr("*?[]\\", prefix[i])) match[m++] = '\\'; /* the prefix is literal */
        match[m++] = prefix[i];
    }
    match[m++] = '*';
    match[m] = '\0';
    char n[16];
    const char *argv[] = {"SCAN", cursor, "MATCH", match, "COUNT", n};
    size_t lens[] = {4, strlen(cursor), 5, m, 5, (size_t)snprintf(n, sizeof n, "%u", count)};
    redisReply *r = store_sync_run(s->c, s->describe, "SCAN", err, 6, argv, lens);
    free(match);
    if (!r) return -1;
    int rc = -1;
    if (r->type != REDIS_REPLY_ARRAY || r->elements != 2 ||
        r->element[0]->type != REDIS_REPLY_STRING || r->element[0]->len > STORE_SCAN_CURSOR_MAX ||
        r->element[1]->type != REDIS_REPLY_ARRAY) {
        px_error_set(err, PX_EREFUSED, "redis %s: SCAN did not return [cursor, keys]", s->describe);
    } else {
        snprintf(next, STORE_SCAN_CURSOR_MAX + 1, "%s", r->element[0]->str);
        const redisReply *keys = r->element[1];
        for (size_t k = 0; k < keys->elements; k++) {
            const redisReply *key = keys->element[k];
            if (key->type == REDIS_REPLY_STRING && key->len > plen)
                each(key->str + plen, key->len - plen, ud);
        }
        rc = 0;
    }
    freeReplyObject(r);
    return rc;
}
