/* store_publish — put a ROME index snapshot into Redis and make it current (synchronous).
 *
 * For the command-line tool (`passerelle rome publish --redis URL …`), not for the daemon's loop:
 * it uses hiredis' blocking API with a timeout. In one connection it
 *   1. AUTHs and SELECTs as the endpoint says (with sentinels: on the master they name, checked
 *      with ROLE; store_sync.h),
 *   2. SET <prefix>snapshot:<version>:<hash> <bytes> NX — the snapshot is immutable: if that key
 *      already exists (same version, same content hash) it is left untouched,
 *   3. MULTI; SET <prefix>current <key>; PUBLISH <prefix>published <key>; EXEC — so that the
 *      switch and the notification happen together; every subscribed daemon then fetches the
 *      new snapshot (store_redis_get_current_index) and swaps.
 * Publishing the snapshot that is already current is harmless (subscribers see the same key).
 * Old snapshots are kept (for rollback: publish them again); nothing here deletes keys.
 *
 * The caller must ignore SIGPIPE (see store_redis.h): a server closing the connection mid-write
 * would otherwise kill the process instead of yielding an error.
 * No global state; thread-safe as long as each call has its own arguments. */
#ifndef STORE_PUBLISH_H
#define STORE_PUBLISH_H

#include <stddef.h>

#include "px_error.h"
#include "redis_endpoint.h"

typedef struct store_publish_result {
    char key[REDIS_ENDPOINT_KEY_MAX]; /* the snapshot key now current */
    int stored;                       /* 1: the snapshot was written now; 0: it was already there */
    long long subscribers; /* daemons (subscriber connections) that received the notice */
} store_publish_result;

/* Publishes len bytes (a rome_snapshot image) under `version` (1..32 bytes of [A-Za-z0-9._-],
 * e.g. "60"). timeout_ms bounds the connect and each reply. Returns 0 and fills out, or -1 with
 * err naming the step that failed (connect, AUTH, SELECT, SET, EXEC) and Redis' own message. */
int store_publish_snapshot(const redis_endpoint *ep, unsigned timeout_ms, const char *version,
                           const void *bytes, size_t len, store_publish_result *out, px_error *err);

#endif
