/* redis_endpoint — where passerelle's data lives in Redis, and the names it uses there.
 *
 * An endpoint is plain data: the server address (TCP host:port or a unix socket path), the
 * credentials (optional ACL user, optional password), the database number and the key prefix that
 * namespaces every key and channel passerelle touches, so that several deployments can share one
 * Redis. It is filled by hand (redis_endpoint_init + fields) or from a URL:
 *
 *   redis://[[user][:password]@]host[:port][/db]          host may be [ipv6]; port defaults to 6379
 *   unix://[[user][:password]@]/path/to/redis.sock[?db=N]
 *
 * user and password are percent-decoded (so a password may hold '@', ':' or '/').
 *
 * Redis Sentinel: with sentinels (redis_endpoint_parse_sentinels) and a master name, the server's
 * address is not configured but asked of the sentinels, each in turn, with
 * `SENTINEL get-master-addr-by-name <master>`; host and port then hold the address found last
 * (store_sentinel.h). Credentials, db and prefix apply to the master as they would to a fixed
 * server; the sentinels themselves are asked without credentials.
 *
 * Key layout under the prefix P (default "passerelle:"):
 *   P<name>                          user state, <name> chosen by the caller (store_redis)
 *   Psnapshot:<version>:<hash16>     a ROME index snapshot, immutable (hash = XXH3-64 of the bytes)
 *   Pcurrent                         the name of the current snapshot key
 *   Ppublished                       pub/sub channel; a message's payload is the new current key
 *
 * Every field has a fixed bound (the *_MAX constants); a longer value is refused with an error.
 * No allocation, no ownership, no I/O; thread-safe (pure functions on caller-owned data). */
#ifndef REDIS_ENDPOINT_H
#define REDIS_ENDPOINT_H

#include <stddef.h>

#include "px_error.h"
#include "px_limits.h"

#define REDIS_ENDPOINT_HOST_MAX       255 /* bytes, DNS names are at most 253 */
#define REDIS_ENDPOINT_PATH_MAX       107 /* sun_path is 108 bytes including the NUL */
#define REDIS_ENDPOINT_USER_MAX       128
#define REDIS_ENDPOINT_PASSWORD_MAX   512
#define REDIS_ENDPOINT_PREFIX_MAX     64
#define REDIS_ENDPOINT_DB_MAX         65535 /* Redis' `databases` setting tops out far below this */
#define REDIS_ENDPOINT_DEFAULT_PORT   6379
#define REDIS_ENDPOINT_DEFAULT_PREFIX "passerelle:"
#define REDIS_ENDPOINT_SENTINELS_MAX  8
#define REDIS_ENDPOINT_SENTINEL_PORT  26379 /* a sentinel's port when the list gives none */
#define REDIS_ENDPOINT_MASTER_MAX     64    /* bytes of a master name */
/* Snapshot version labels: 1..32 bytes of [A-Za-z0-9._-] (no ':', it separates key parts). */
#define REDIS_ENDPOINT_VERSION_MAX PX_VERSION_LABEL_MAX
/* Longest key or channel name this module builds, including the NUL. */
#define REDIS_ENDPOINT_KEY_MAX                                                                     \
    (REDIS_ENDPOINT_PREFIX_MAX + 9 + REDIS_ENDPOINT_VERSION_MAX + 1 + 16 + 1)

typedef struct redis_endpoint_sentinel {
    char host[REDIS_ENDPOINT_HOST_MAX + 1];
    int port;
} redis_endpoint_sentinel;

typedef struct redis_endpoint {
    char host[REDIS_ENDPOINT_HOST_MAX + 1];         /* TCP host; "" when unix_path is used */
    int port;                                       /* TCP port, 1..65535 */
    char unix_path[REDIS_ENDPOINT_PATH_MAX + 1];    /* unix socket path; "" for TCP */
    char user[REDIS_ENDPOINT_USER_MAX + 1];         /* ACL user; "" = none (AUTH password only) */
    char password[REDIS_ENDPOINT_PASSWORD_MAX + 1]; /* "" = no AUTH */
    int db;                                         /* SELECT db when not 0 */
    char prefix[REDIS_ENDPOINT_PREFIX_MAX + 1];     /* key/channel namespace, may be "" */
    /* Sentinel mode when n_sentinels > 0: host/port are found through the sentinels. */
    redis_endpoint_sentinel sentinels[REDIS_ENDPOINT_SENTINELS_MAX];
    size_t n_sentinels;
    char master[REDIS_ENDPOINT_MASTER_MAX + 1]; /* the name the sentinels monitor; "" = none */
} redis_endpoint;

/* 127.0.0.1:6379, no credentials, db 0, prefix "passerelle:". */
void redis_endpoint_init(redis_endpoint *ep);

/* Parses url (forms above) into ep, keeping ep's prefix. Fields the URL does not name get the
 * defaults of redis_endpoint_init. Returns 0, or -1 with err naming the faulty part. */
int redis_endpoint_parse_url(redis_endpoint *ep, const char *url, px_error *err);

/* Parses "host[:port],host[:port],…" (host may be [ipv6]; port defaults to 26379; at most
 * REDIS_ENDPOINT_SENTINELS_MAX entries) into ep's sentinels, replacing any; "" means none.
 * Returns 0, or -1 with err naming the faulty entry. */
int redis_endpoint_parse_sentinels(redis_endpoint *ep, const char *list, px_error *err);

/* Copies s into one of ep's bounded fields (host, unix_path, user, password, prefix, master),
 * refusing a too-long value with an error naming `what`. Used by configuration readers. */
int redis_endpoint_set(char *field, size_t field_size, const char *s, const char *what,
                       px_error *err);

/* Checks the whole endpoint (exactly one of host/unix_path, port and db ranges; sentinels and a
 * master name both or neither, and no unix socket with them). */
int redis_endpoint_validate(const redis_endpoint *ep, px_error *err);

/* "127.0.0.1:6379 db 2 as user 'bob'", or with sentinels "master 'm' via sentinels h:p,h:p db 2"
 * — for logs and error messages; never shows the password. */
void redis_endpoint_describe(const redis_endpoint *ep, char *buf, size_t size);

/* Key and channel names (layout above). Each writes a NUL-terminated name into buf (size
 * REDIS_ENDPOINT_KEY_MAX is always enough) and returns its length, or -1 with err. */
int redis_endpoint_current_key(const redis_endpoint *ep, char *buf, size_t size, px_error *err);
int redis_endpoint_published_channel(const redis_endpoint *ep, char *buf, size_t size,
                                     px_error *err);
int redis_endpoint_snapshot_key(const redis_endpoint *ep, const char *version, const void *bytes,
                                size_t len, char *buf, size_t size, px_error *err);

#endif
