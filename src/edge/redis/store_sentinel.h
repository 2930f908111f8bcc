/* store_sentinel — finding the master through Redis Sentinel (redis_endpoint.h, "Redis
 * Sentinel"); private to src/edge/redis, shared by the async store and the blocking tools.
 *
 * A client in sentinel mode asks the endpoint's sentinels in turn
 *   SENTINEL get-master-addr-by-name <master>     → [host, port], or nil if it does not know it
 * connects to the address returned as it would to a fixed server (AUTH, SELECT) and checks with
 *   ROLE                                          → ["master", …] or ["slave", …]
 * that the server is the master indeed: a sentinel that has not yet seen a failover may name the
 * old master, now a replica, and writing there would be refused (READONLY). No I/O here. */
#ifndef STORE_SENTINEL_H
#define STORE_SENTINEL_H

#include <hiredis/hiredis.h>
#include <stddef.h>

#include "px_error.h"
#include "redis_endpoint.h"

/* Reads sentinel i's reply to get-master-addr-by-name: on success ep->host and ep->port become the
 * master's address. Otherwise -1 with err (PX_ENOTFOUND when the sentinel does not know the
 * master, PX_EREFUSED for an error or a malformed reply), naming the sentinel. */
int store_sentinel_read_master(redis_endpoint *ep, size_t i, const redisReply *reply,
                               px_error *err);

/* Checks a reply to ROLE from the server `describe`: 0 when it is a master, else -1 with
 * PX_EREFUSED naming the role it has. */
int store_sentinel_check_role(const redisReply *reply, const char *describe, px_error *err);

/* "127.0.0.1:6380 db 2 (master 'm')": the server ep's sentinels named last. */
void store_sentinel_describe(const redis_endpoint *ep, char *buf, size_t size);

/* 1 when an error reply says the server is not a master able to take commands: READONLY (it was
 * demoted to a replica) or LOADING (it is loading its data set after a restart). */
int store_sentinel_is_failover_error(const char *msg);

#endif
