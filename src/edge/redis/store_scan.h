/* store_scan — walk the stored user states, for `passerelle rematch` (synchronous).
 *
 * For the command-line tool, not the daemon's loop: hiredis' blocking API with a timeout, one
 * connection. The walk is Redis' SCAN with MATCH <prefix>* and a COUNT hint, so that it never
 * blocks the server (unlike KEYS) and can stop and resume at any cursor: SCAN returns every key
 * present for the whole walk at least once (a key may come twice; keys added meanwhile may or
 * may not come). The prefix is matched literally (glob characters are escaped).
 *
 * The caller must ignore SIGPIPE (see store_redis.h). One handle per thread. */
#ifndef STORE_SCAN_H
#define STORE_SCAN_H

#include <stddef.h>

#include "px_error.h"
#include "redis_endpoint.h"

#define STORE_SCAN_CURSOR_MAX 24 /* SCAN cursors are unsigned 64-bit decimals */

typedef struct store_scan store_scan;

/* Connects (AUTH, SELECT as ep says); timeout_ms bounds the connect and each reply. */
store_scan *store_scan_open(const redis_endpoint *ep, unsigned timeout_ms, px_error *err);
void store_scan_close(store_scan *s);

/* The version label ("4.0-61") of the snapshot `<ep prefix>current` names
 * (<prefix>snapshot:<version>:<hash>, see redis_endpoint.h). PX_ENOTFOUND when none is
 * published. */
int store_scan_current_version(store_scan *s, char *buf, size_t size, px_error *err);

/* The number of keys in the database (DBSIZE): an upper bound of the users to walk. */
long long store_scan_dbsize(store_scan *s, px_error *err);

/* One SCAN step from `cursor` ("0" to start) over the keys starting with prefix: calls
 * each(key without the prefix, its length, ud) for every key of the step and writes the next
 * cursor into next ("0" when the walk is complete). Returns 0 or -1 with err. */
int store_scan_step(store_scan *s, const char *cursor, const char *prefix, unsigned count,
                    void (*each)(const char *name, size_t len, void *ud), void *ud,
                    char next[STORE_SCAN_CURSOR_MAX + 1], px_error *err);

#endif
