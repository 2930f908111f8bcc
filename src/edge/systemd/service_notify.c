#include "service_notify.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <systemd/sd-daemon.h>

int service_notify_init(service_notify *n, px_error *err) {
    *n = (service_notify){0};
    const char *socket_path = getenv("NOTIFY_SOCKET");
    n->enabled = socket_path && *socket_path;
    uint64_t usec = 0;
    /* unset_environment = 0: the variables must survive for later pings. */
    int r = sd_watchdog_enabled(0, &usec);
    if (r < 0)
        return px_error_set(err, PX_EINVAL,
                            "service_notify: WATCHDOG_USEC/WATCHDOG_PID are malformed (%s)",
                            strerror(-r));
    n->watchdog_usec = r > 0 ? usec : 0;
    return 0;
}

uint64_t service_notify_watchdog_usec(const service_notify *n) {
    return n->enabled ? n->watchdog_usec / 2 : 0;
}

/* Sends `head` (e.g. "READY=1") followed by a STATUS= line if status is given. The status is cut
 * at SERVICE_NOTIFY_STATUS_MAX bytes and its newlines become spaces: a newline would start a new
 * assignment in the notify protocol. */
static int send_message(const service_notify *n, const char *head, const char *status,
                        px_error *err) {
    if (!n->enabled) return 0;
    char msg[64 + SERVICE_NOTIFY_STATUS_MAX];
    size_t len = (size_t)snprintf(msg, sizeof msg, "%s", head);
    if (status) {
        len += (size_t)snprintf(msg + len, sizeof msg - len, "%sSTATUS=", len ? "\n" : "");
        size_t start = len;
        for (const char *s = status; *s && len - start < SERVICE_NOTIFY_STATUS_MAX; s++)
            msg[len++] = (*s == '\n' || *s == '\r') ? ' ' : *s;
        msg[len] = '\0';
    }
    int r = sd_notify(0, msg);
    if (r < 0)
        return px_error_set(err, PX_EUNAVAILABLE,
                            "service_notify: sending '%s' to NOTIFY_SOCKET failed: %s", head,
                            strerror(-r));
    return 0;
}

int service_notify_ready(const service_notify *n, const char *status, px_error *err) {
    return send_message(n, "READY=1", status, err);
}

int service_notify_status(const service_notify *n, const char *status, px_error *err) {
    return send_message(n, "", status ? status : "", err);
}

int service_notify_watchdog(const service_notify *n, px_error *err) {
    return send_message(n, "WATCHDOG=1", NULL, err);
}

int service_notify_stopping(const service_notify *n, const char *status, px_error *err) {
    return send_message(n, "STOPPING=1", status, err);
}

int service_notify_extend_timeout(const service_notify *n, uint64_t usec, px_error *err) {
    char head[64];
    snprintf(head, sizeof head, "EXTEND_TIMEOUT_USEC=%" PRIu64, usec);
    return send_message(n, head, NULL, err);
}
