/* service_notify — tells the service manager (systemd, Type=notify) how the daemon is doing.
 *
 * A thin wrapper over libsystemd's sd_notify(3):
 *   service_notify_ready()     READY=1 (+ STATUS=), once Kafka, Redis and the ROME index are up;
 *   service_notify_status()    STATUS=… (what it is doing: partitions, ROME version, events/s);
 *   service_notify_watchdog()  WATCHDOG=1, from a uv timer every service_notify_watchdog_usec();
 *   service_notify_stopping()  STOPPING=1 (+ STATUS=) when shutdown starts;
 *   service_notify_extend_timeout() EXTEND_TIMEOUT_USEC=…, before a slow start step (the daemon
 *                              sends it before loading a local ROME index, see daemon_index.c).
 *
 * When NOTIFY_SOCKET is unset (run by hand, in a container) every call is a no-op that returns 0:
 * the daemon calls them unconditionally. The environment is never unset, so the watchdog keeps
 * working for the whole life of the process.
 *
 * State: a plain struct filled once by service_notify_init() from the environment
 * (NOTIFY_SOCKET, WATCHDOG_USEC, WATCHDOG_PID); no global state, no allocation. The functions do
 * one datagram send each and are safe from any thread, but the daemon calls them from its loop:
 * a watchdog ping from the loop is what proves the loop is not stuck. */
#ifndef SERVICE_NOTIFY_H
#define SERVICE_NOTIFY_H

#include <stdbool.h>
#include <stdint.h>

#include "px_error.h"

#define SERVICE_NOTIFY_STATUS_MAX 256 /* bytes of STATUS= text sent; longer text is cut */

typedef struct service_notify {
    bool enabled;           /* NOTIFY_SOCKET is set: messages are sent */
    uint64_t watchdog_usec; /* WatchdogSec= of the unit for this process, 0 when off */
} service_notify;

/* Reads the environment. Fails only when WATCHDOG_USEC/WATCHDOG_PID are set but malformed. */
int service_notify_init(service_notify *n, px_error *err);

/* Interval at which to send WATCHDOG=1: half the watchdog timeout, as sd_watchdog_enabled(3)
 * recommends; 0 when the watchdog is off (then don't start the timer). */
uint64_t service_notify_watchdog_usec(const service_notify *n);

/* Each returns 0 when the message was sent or there is no service manager to send it to, -1 with
 * err filled when sending failed. A NULL status sends no STATUS= line. */
int service_notify_ready(const service_notify *n, const char *status, px_error *err);
int service_notify_status(const service_notify *n, const char *status, px_error *err);
int service_notify_watchdog(const service_notify *n, px_error *err);
int service_notify_stopping(const service_notify *n, const char *status, px_error *err);
int service_notify_extend_timeout(const service_notify *n, uint64_t usec, px_error *err);

#endif
