/* store_sync — the blocking hiredis helpers of the command-line tools' Redis modules
 * (store_publish, store_scan); private to src/edge/redis. Defined in store_publish.c. */
#ifndef STORE_SYNC_H
#define STORE_SYNC_H

#include <hiredis/hiredis.h>

#include "px_error.h"
#include "redis_endpoint.h"

/* Connects to ep with a timeout on the connect and on every reply, then AUTHs and SELECTs as ep
 * says. With sentinels, asks each in turn for the master (store_sentinel.h) until one names a
 * server that answers and is a master. NULL with err (PX_EUNAVAILABLE or PX_EREFUSED) naming
 * `describe`. */
redisContext *store_sync_connect(const redis_endpoint *ep, const char *describe,
                                 unsigned timeout_ms, px_error *err);

/* Runs one command; a transport failure (PX_EUNAVAILABLE) or an error reply (PX_EREFUSED)
 * becomes err naming `step`, and NULL. The caller frees the reply. */
redisReply *store_sync_run(redisContext *c, const char *describe, const char *step, px_error *err,
                           int argc, const char **argv, const size_t *lens);

#endif
