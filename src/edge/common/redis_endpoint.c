#include "redis_endpoint.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include "utf8.h"

void redis_endpoint_init(redis_endpoint *ep) {
    memset(ep, 0, sizeof *ep);
    strcpy(ep->host, "127.0.0.1");
    ep->port = REDIS_ENDPOINT_DEFAULT_PORT;
    strcpy(ep->prefix, REDIS_ENDPOINT_DEFAULT_PREFIX);
}

int redis_endpoint_set(char *field, size_t field_size, const char *s, const char *what,
                       px_error *err) {
    size_t len = strlen(s);
    if (len >= field_size)
        return px_error_set(err, PX_ELIMIT, "redis %s is %zu bytes long; at most %zu are accepted",
                            what, len, field_size - 1);
    memcpy(field, s, len + 1);
    return 0;
}

static int hex_value(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    c = (char)tolower((unsigned char)c);
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
}

/* Copies s[0..len) into field, percent-decoding it, because URL userinfo escapes '@', ':' and
 * '/'. */
static int set_decoded(char *field, size_t field_size, const char *s, size_t len, const char *what,
                       px_error *err) {
    size_t out = 0;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (c == '%') {
            int hi = i + 2 < len ? hex_value(s[i + 1]) : -1;
            int lo = i + 2 < len ? hex_value(s[i + 2]) : -1;
            if (hi < 0 || lo < 0)
                return px_error_set(
                    err, PX_EINVAL,
                    "redis URL: bad percent-escape in the %s (expected %%XX with hex digits)",
                    what);
            c = (char)(hi * 16 + lo);
            if (c == '\0')
                return px_error_set(err, PX_EINVAL, "redis URL: the %s contains %%00", what);
            i += 2;
        }
        if (out + 1 >= field_size)
            return px_error_set(err, PX_ELIMIT, "redis URL: the %s is longer than %zu bytes", what,
                                field_size - 1);
        field[out++] = c;
    }
    field[out] = '\0';
    /* the file itself must be text: an escape does not get round it (and errors quote fields) */
    if (!utf8_valid(field, out, NULL))
        return px_error_set(err, PX_EINVAL, "redis URL: the %s is not UTF-8 once percent-decoded",
                            what);
    return 0;
}

/* Parses a whole decimal number s[0..len) within [min, max]; `where` starts the messages. */
static int parse_bounded(const char *s, size_t len, long min, long max, const char *where,
                         const char *what, long *out, px_error *err) {
    long v = 0;
    if (len == 0)
        return px_error_set(err, PX_EINVAL, "%s: empty %s (expected a number %ld..%ld)", where,
                            what, min, max);
    for (size_t i = 0; i < len; i++) {
        if (!isdigit((unsigned char)s[i]))
            return px_error_set(err, PX_EINVAL, "%s: %s '%.*s' is not a number (expected %ld..%ld)",
                                where, what, (int)len, s, min, max);
        v = v * 10 + (s[i] - '0');
        if (v > max) break;
    }
    if (v < min || v > max)
        return px_error_set(err, PX_EINVAL, "%s: %s '%.*s' is out of range (expected %ld..%ld)",
                            where, what, (int)len, s, min, max);
    *out = v;
    return 0;
}

/* user[:password] or :password, before the '@'. */
static int parse_userinfo(redis_endpoint *ep, const char *s, size_t len, px_error *err) {
    const char *colon = memchr(s, ':', len);
    size_t user_len = colon ? (size_t)(colon - s) : len;
    if (set_decoded(ep->user, sizeof ep->user, s, user_len, "user", err)) return -1;
    if (colon && set_decoded(ep->password, sizeof ep->password, colon + 1, len - user_len - 1,
                             "password", err))
        return -1;
    /* redis://user@host (no password) is meaningless for AUTH: refuse it rather than guess. */
    if (ep->user[0] && !ep->password[0])
        return px_error_set(
            err, PX_EINVAL,
            "redis URL: user '%s' is given without a password (expected user:password@)", ep->user);
    return 0;
}

/* host[:port] in s[0..len), host possibly [ipv6]; *port is left alone when none is given.
 * `where` starts the messages, `form` is the expected syntax they show. */
static int parse_host_port(const char *s, size_t len, const char *where, const char *form,
                           char host[REDIS_ENDPOINT_HOST_MAX + 1], int *port, px_error *err) {
    const char *h = s, *p = NULL;
    size_t host_len;
    if (len > 0 && s[0] == '[') {
        const char *close = memchr(s, ']', len);
        if (!close)
            return px_error_set(err, PX_EINVAL, "%s: '[' without ']' around an IPv6 address",
                                where);
        h = s + 1;
        host_len = (size_t)(close - h);
        if (close + 1 < s + len) {
            if (close[1] != ':')
                return px_error_set(err, PX_EINVAL, "%s: expected ':port' after ']'", where);
            p = close + 2;
        }
    } else {
        const char *colon = memchr(s, ':', len);
        host_len = colon ? (size_t)(colon - s) : len;
        if (colon) p = colon + 1;
    }
    if (host_len == 0)
        return px_error_set(err, PX_EINVAL, "%s: no host (expected %s)", where, form);
    if (host_len > REDIS_ENDPOINT_HOST_MAX)
        return px_error_set(err, PX_ELIMIT, "%s: host is %zu bytes long; at most %d are accepted",
                            where, host_len, REDIS_ENDPOINT_HOST_MAX);
    memcpy(host, h, host_len);
    host[host_len] = '\0';
    long v;
    if (p) {
        if (parse_bounded(p, (size_t)(s + len - p), 1, 65535, where, "port", &v, err)) return -1;
        *port = (int)v;
    }
    return 0;
}

static int parse_tcp(redis_endpoint *ep, const char *s, px_error *err) {
    const char *slash = strchr(s, '/');
    size_t hostport_len = slash ? (size_t)(slash - s) : strlen(s);
    if (parse_host_port(s, hostport_len, "redis URL", "redis://host[:port][/db]", ep->host,
                        &ep->port, err))
        return -1;
    long v;
    if (slash && slash[1]) {
        if (parse_bounded(slash + 1, strlen(slash + 1), 0, REDIS_ENDPOINT_DB_MAX, "redis URL",
                          "database number", &v, err))
            return -1;
        ep->db = (int)v;
    }
    return 0;
}

static int parse_unix(redis_endpoint *ep, const char *s, px_error *err) {
    const char *query = strchr(s, '?');
    size_t path_len = query ? (size_t)(query - s) : strlen(s);
    if (path_len == 0 || s[0] != '/')
        return px_error_set(
            err, PX_EINVAL,
            "redis URL: expected an absolute socket path (unix:///path/to/redis.sock)");
    if (path_len > REDIS_ENDPOINT_PATH_MAX)
        return px_error_set(err, PX_ELIMIT,
                            "redis URL: socket path is %zu bytes long; at most %d are accepted",
                            path_len, REDIS_ENDPOINT_PATH_MAX);
    memcpy(ep->unix_path, s, path_len);
    ep->unix_path[path_len] = '\0';
    ep->host[0] = '\0';
    if (query) {
        long v;
        if (strncmp(query, "?db=", 4) != 0)
            return px_error_set(err, PX_EINVAL, "redis URL: unknown query '%s' (expected ?db=N)",
                                query);
        if (parse_bounded(query + 4, strlen(query + 4), 0, REDIS_ENDPOINT_DB_MAX, "redis URL",
                          "database number", &v, err))
            return -1;
        ep->db = (int)v;
    }
    return 0;
}

int redis_endpoint_parse_url(redis_endpoint *ep, const char *url, px_error *err) {
    char prefix[sizeof ep->prefix];
    memcpy(prefix, ep->prefix, sizeof prefix);
    redis_endpoint_init(ep);
    memcpy(ep->prefix, prefix, sizeof prefix);

    int is_unix;
    const char *rest;
    if (!strncmp(url, "redis://", 8)) {
        is_unix = 0;
        rest = url + 8;
    } else if (!strncmp(url, "unix://", 7)) {
        is_unix = 1;
        rest = url + 7;
    } else {
        return px_error_set(err, PX_EINVAL,
                            "redis URL '%.*s' has an unknown scheme (expected redis:// or unix://)",
                            (int)utf8_cut(url, strlen(url), 64), url);
    }
    /* The userinfo ends at the last '@' before the path: a password may contain an unescaped '@'
     * in sloppy URLs, a host never does. */
    const char *path_start = is_unix ? strchr(rest, '/') : NULL;
    const char *end =
        is_unix ? (path_start ? path_start : rest + strlen(rest)) : rest + strcspn(rest, "/");
    const char *at = NULL;
    for (const char *p = rest; p < end; p++)
        if (*p == '@') at = p;
    if (at) {
        if (parse_userinfo(ep, rest, (size_t)(at - rest), err)) return -1;
        rest = at + 1;
    }
    if (is_unix) {
        if (rest != end)
            return px_error_set(err, PX_EINVAL,
                                "redis URL: expected an absolute socket path "
                                "(unix:///path/to/redis.sock), got '%.*s'",
                                (int)(end - rest), rest);
        return parse_unix(ep, rest, err);
    }
    return parse_tcp(ep, rest, err);
}

int redis_endpoint_parse_sentinels(redis_endpoint *ep, const char *list, px_error *err) {
    redis_endpoint_sentinel parsed[REDIS_ENDPOINT_SENTINELS_MAX];
    size_t n = 0;
    for (const char *item = list; *list; item++) {
        item += strspn(item, " \t");
        size_t span = strcspn(item, ","), len = span;
        while (len > 0 && (item[len - 1] == ' ' || item[len - 1] == '\t')) len--;
        if (n == REDIS_ENDPOINT_SENTINELS_MAX)
            return px_error_set(err, PX_ELIMIT, "redis sentinels: more than %d are listed",
                                REDIS_ENDPOINT_SENTINELS_MAX);
        parsed[n].port = REDIS_ENDPOINT_SENTINEL_PORT;
        if (parse_host_port(item, len, "redis sentinels", "host[:port],host[:port],…",
                            parsed[n].host, &parsed[n].port, err))
            return -1;
        n++;
        item += span;
        if (!*item) break;
    }
    memcpy(ep->sentinels, parsed, n * sizeof parsed[0]);
    ep->n_sentinels = n;
    return 0;
}

/* A host name or an IP address (IPv6 with an optional %zone): anything else is a typo, and a
 * ';' or a space would not even read back from the configuration it is explained in. */
static size_t host_bad_byte(const char *host) {
    for (size_t i = 0; host[i]; i++)
        if (!isalnum((unsigned char)host[i]) && !strchr("-._:%", host[i])) return i + 1;
    return 0;
}

int redis_endpoint_validate(const redis_endpoint *ep, px_error *err) {
    if (!ep->host[0] == !ep->unix_path[0])
        return px_error_set(err, PX_EINVAL,
                            "redis endpoint: expected exactly one of a host or a unix socket path");
    size_t bad = host_bad_byte(ep->host);
    if (bad)
        return px_error_set(err, PX_EINVAL,
                            "redis endpoint: byte %zu of the host (0x%02x) is not allowed "
                            "(expected a host name or an IP address)",
                            bad, (unsigned char)ep->host[bad - 1]);
    if (ep->host[0] && (ep->port < 1 || ep->port > 65535))
        return px_error_set(err, PX_EINVAL,
                            "redis endpoint: port %d is out of range (expected 1..65535)",
                            ep->port);
    if (ep->db < 0 || ep->db > REDIS_ENDPOINT_DB_MAX)
        return px_error_set(err, PX_EINVAL,
                            "redis endpoint: database %d is out of range (expected 0..%d)", ep->db,
                            REDIS_ENDPOINT_DB_MAX);
    if (ep->user[0] && !ep->password[0])
        return px_error_set(err, PX_EINVAL, "redis endpoint: user '%s' has no password", ep->user);
    if (!ep->n_sentinels != !ep->master[0])
        return px_error_set(err, PX_EINVAL,
                            "redis endpoint: sentinels and a master name go together (got %s)",
                            ep->n_sentinels ? "sentinels without a master name"
                                            : "a master name without sentinels");
    if (ep->n_sentinels > REDIS_ENDPOINT_SENTINELS_MAX)
        return px_error_set(err, PX_ELIMIT, "redis endpoint: more than %d sentinels",
                            REDIS_ENDPOINT_SENTINELS_MAX);
    if (ep->n_sentinels && ep->unix_path[0])
        return px_error_set(err, PX_EINVAL,
                            "redis endpoint: sentinels name a TCP master, not a unix socket");
    return 0;
}

void redis_endpoint_describe(const redis_endpoint *ep, char *buf, size_t size) {
    int n;
    if (ep->n_sentinels) {
        n = snprintf(buf, size, "master '%s' via sentinels", ep->master);
        for (size_t i = 0; i < ep->n_sentinels && n >= 0 && (size_t)n < size; i++)
            n += snprintf(buf + n, size - (size_t)n,
                          strchr(ep->sentinels[i].host, ':') ? "%s[%s]:%d" : "%s%s:%d",
                          i ? "," : " ", ep->sentinels[i].host, ep->sentinels[i].port);
    } else {
        n = ep->unix_path[0] ? snprintf(buf, size, "unix:%s", ep->unix_path)
                             : snprintf(buf, size, strchr(ep->host, ':') ? "[%s]:%d" : "%s:%d",
                                        ep->host, ep->port);
    }
    if (n < 0 || (size_t)n >= size) return;
    if (ep->db) n += snprintf(buf + n, size - (size_t)n, " db %d", ep->db);
    if ((size_t)n >= size) return;
    if (ep->user[0])
        snprintf(buf + n, size - (size_t)n, " as user '%s'", ep->user);
    else if (ep->password[0])
        snprintf(buf + n, size - (size_t)n, " with a password");
}

static int build_name(const redis_endpoint *ep, char *buf, size_t size, const char *suffix,
                      px_error *err) {
    int n = snprintf(buf, size, "%s%s", ep->prefix, suffix);
    if (n < 0 || (size_t)n >= size)
        return px_error_set(err, PX_ELIMIT, "redis key '%s%s' does not fit in %zu bytes",
                            ep->prefix, suffix, size);
    return n;
}

int redis_endpoint_current_key(const redis_endpoint *ep, char *buf, size_t size, px_error *err) {
    return build_name(ep, buf, size, "current", err);
}

int redis_endpoint_published_channel(const redis_endpoint *ep, char *buf, size_t size,
                                     px_error *err) {
    return build_name(ep, buf, size, "published", err);
}

int redis_endpoint_snapshot_key(const redis_endpoint *ep, const char *version, const void *bytes,
                                size_t len, char *buf, size_t size, px_error *err) {
    size_t vlen = strlen(version);
    if (vlen == 0 || vlen > REDIS_ENDPOINT_VERSION_MAX)
        return px_error_set(err, PX_ELIMIT, "snapshot version '%.*s' must be 1..%d bytes long",
                            (int)utf8_cut(version, vlen, 40), version, REDIS_ENDPOINT_VERSION_MAX);
    for (size_t i = 0; i < vlen; i++) {
        unsigned char c = (unsigned char)version[i];
        if (!isalnum(c) && c != '.' && c != '_' && c != '-')
            return px_error_set(
                err, PX_EINVAL,
                "snapshot version '%s' has a '%c' (expected only A-Z a-z 0-9 . _ -)", version, c);
    }
    char suffix[9 + REDIS_ENDPOINT_VERSION_MAX + 1 + 16 + 1];
    snprintf(suffix, sizeof suffix, "snapshot:%s:%016llx", version,
             (unsigned long long)XXH3_64bits(bytes, len));
    return build_name(ep, buf, size, suffix, err);
}
