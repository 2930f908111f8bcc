#include "config.h"

#include <errno.h>
#include <stdarg.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <ini.h>

#include "kafka_limits.h"
#include "px_limits.h"
#include "utf8.h"

#define WAIT_MS_MAX       60000
#define TIMEOUT_MS_MAX    3600000u /* an hour: anything longer is a typo */
#define MESSAGE_BYTES_MAX (16u << 20)
#define TITLE_BYTES_MAX   4096
#define ID_BYTES_MAX      1024
#define WINDOW_MAX        100000
#define MASK              "********"
#define EXCERPT_MAX       40 /* characters of a section or key quoted in an error */

/* Every failure of this module: the reason says which kind, the code follows from it. */
static int config_fail(px_error *err, config_reason reason, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int config_fail(px_error *err, config_reason reason, const char *fmt, ...) {
    px_code code = reason == CONFIG_ERR_NOMEM ? PX_ENOMEM
                   : reason == CONFIG_ERR_IO  ? PX_EIO
                                              : PX_ECONFIG;
    va_list ap;
    va_start(ap, fmt);
    px_error_vset(err, code, fmt, ap);
    va_end(ap);
    if (err) err->reason = reason;
    return -1;
}

/* Another module's refusal of a value (matcher, redis endpoint) is a bad value here. */
static void config_as_value(px_error *err) {
    if (!err || err->code == PX_ENOMEM) return;
    err->code = PX_ECONFIG;
    err->reason = CONFIG_ERR_VALUE;
}

typedef enum setting_kind {
    K_STRING,        /* char * owned by the config; min/max bound its length */
    K_OPTIONAL_PATH, /* char *, NULL when empty */
    K_UNSIGNED,      /* unsigned in [min, max] */
    K_SIZE,          /* size_t in [min, max] */
    K_INT,           /* int in [min, max] */
    K_BOOL,
    K_ENDPOINT_TEXT, /* a char[] inside redis_endpoint, bounded by its size */
    K_SPECIAL,       /* parsed and shown by functions */
} setting_kind;

typedef struct setting setting;
struct setting {
    const char *section;
    const char *key;
    setting_kind kind;
    size_t offset; /* into config */
    long long min,
        max; /* numbers: range; K_STRING: length range; K_ENDPOINT_TEXT: max = field size */
    int (*parse)(config *cfg, const char *value, px_error *err); /* K_SPECIAL */
    void (*show)(const config *cfg, FILE *out);                  /* K_SPECIAL; NULL = not shown */
    bool secret;                                                 /* masked by config_explain */
};

static int parse_log_level(config *cfg, const char *value, px_error *err) {
    return px_log_level_parse(value, &cfg->log_level, err);
}

static void show_log_level(const config *cfg, FILE *out) {
    fprintf(out, "%s", px_log_level_name(cfg->log_level));
}

/* A url sets the server, not the sentinels: those given before it are kept, so that validate()
 * sees both and refuses the pair whatever their order. */
static int parse_redis_url(config *cfg, const char *value, px_error *err) {
    redis_endpoint before = cfg->redis;
    int rc = redis_endpoint_parse_url(&cfg->redis, value, err);
    memcpy(cfg->redis.sentinels, before.sentinels, sizeof before.sentinels);
    cfg->redis.n_sentinels = before.n_sentinels;
    memcpy(cfg->redis.master, before.master, sizeof before.master);
    return rc;
}

static int parse_redis_sentinels(config *cfg, const char *value, px_error *err) {
    return redis_endpoint_parse_sentinels(&cfg->redis, value, err);
}

static void show_redis_sentinels(const config *cfg, FILE *out) {
    for (size_t i = 0; i < cfg->redis.n_sentinels; i++) {
        const redis_endpoint_sentinel *st = &cfg->redis.sentinels[i];
        fprintf(out, strchr(st->host, ':') ? "%s[%s]:%d" : "%s%s:%d", i ? "," : "", st->host,
                st->port);
    }
}

#define OFF(field) offsetof(config, field)
#define TEXT(sec, k, field, lo, hi)                                                                \
    { sec, k, K_STRING, OFF(field), lo, hi, NULL, NULL, false }
#define PATH(sec, k, field)                                                                        \
    { sec, k, K_OPTIONAL_PATH, OFF(field), 0, CONFIG_VALUE_MAX, NULL, NULL, false }
#define UNS(sec, k, field, lo, hi)                                                                 \
    { sec, k, K_UNSIGNED, OFF(field), lo, hi, NULL, NULL, false }
#define SIZE(sec, k, field, lo, hi)                                                                \
    { sec, k, K_SIZE, OFF(field), lo, hi, NULL, NULL, false }
#define INT(sec, k, field, lo, hi)                                                                 \
    { sec, k, K_INT, OFF(field), lo, hi, NULL, NULL, false }
#define BOOL(sec, k, field)                                                                        \
    { sec, k, K_BOOL, OFF(field), 0, 1, NULL, NULL, false }
#define EPTEXT(k, field, secret)                                                                   \
    {                                                                                              \
        "redis", k, K_ENDPOINT_TEXT, OFF(redis.field), 0, sizeof(((redis_endpoint *)0)->field),    \
            NULL, NULL, secret                                                                     \
    }

/* Every key of every section but the pass-through ones ([kafka] properties, [matching]). */
static const setting settings[] = {
    INT("kafka", CONFIG_OWN_KAFKA_PREFIX "embedded.brokers", embedded_brokers, 1,
        KAFKA_EMBEDDED_MAX_BROKERS),
    INT("kafka", CONFIG_OWN_KAFKA_PREFIX "embedded.partitions", embedded_partitions, 1,
        KAFKA_EMBEDDED_MAX_PARTITIONS),

    TEXT("topics", "profile", topic_profile, 1, KAFKA_TOPIC_NAME_MAX),
    TEXT("topics", "skills", topic_skills, 1, KAFKA_TOPIC_NAME_MAX),
    TEXT("topics", "suggestions", topic_suggestions, 1, KAFKA_TOPIC_NAME_MAX),
    TEXT("topics", "dlq", topic_dlq, 1, KAFKA_TOPIC_NAME_MAX),
    TEXT("topics", "group", group_id, 1, 255),

    {"redis", "url", K_SPECIAL, 0, 0, 0, parse_redis_url, NULL, false},
    EPTEXT("host", host, false),
    INT("redis", "port", redis.port, 1, 65535),
    EPTEXT("unix_socket", unix_path, false),
    EPTEXT("user", user, false),
    EPTEXT("password", password, true),
    INT("redis", "db", redis.db, 0, REDIS_ENDPOINT_DB_MAX),
    EPTEXT("key_prefix", prefix, false),
    {"redis", "sentinels", K_SPECIAL, 0, 0, 0, parse_redis_sentinels, show_redis_sentinels, false},
    EPTEXT("master", master, false),
    TEXT("redis", "state_prefix", state_prefix, 0, 64),
    UNS("redis", "state_ttl_s", state_ttl_s, 0, 10u * 366 * 86400),
    UNS("redis", "erased_ttl_s", erased_ttl_s, 1, 10u * 366 * 86400),
    UNS("redis", "answers_ttl_s", answers_ttl_s, 1, 10u * 366 * 86400),
    UNS("redis", "connect_timeout_ms", connect_timeout_ms, 1, TIMEOUT_MS_MAX),
    UNS("redis", "command_timeout_ms", command_timeout_ms, 1, TIMEOUT_MS_MAX),
    UNS("redis", "backoff_initial_ms", backoff_initial_ms, 1, TIMEOUT_MS_MAX),
    UNS("redis", "backoff_max_ms", backoff_max_ms, 1, TIMEOUT_MS_MAX),

    TEXT("rome", "key_prefix", rome_key_prefix, 0, REDIS_ENDPOINT_PREFIX_MAX),
    PATH("rome", "dir", rome_dir),
    PATH("rome", "snapshot", rome_snapshot),

    SIZE("limits", "max_message_bytes", limits.max_message_bytes, 64, MESSAGE_BYTES_MAX),
    SIZE("limits", "max_experiences", limits.max_experiences, 1, MATCHER_MAX_EXPERIENCES),
    SIZE("limits", "max_competences", limits.max_competences, 1, MATCHER_MAX_DECISIONS),
    SIZE("limits", "max_avoid", limits.max_avoid, 1, MATCHER_MAX_AVOID),
    SIZE("limits", "max_domains", limits.max_domains, 1, MATCHER_MAX_DOMAINS),
    SIZE("limits", "max_title_bytes", limits.max_title_bytes, 1, TITLE_BYTES_MAX),
    SIZE("limits", "max_id_bytes", limits.max_id_bytes, 1, ID_BYTES_MAX),
    UNS("limits", "max_depth", limits.max_depth, 3, 32),
    SIZE("limits", "batch_size", batch_size, 1, PX_BATCH_MAX),
    UNS("limits", "batch_max_wait_ms", batch_max_wait_ms, 1, WAIT_MS_MAX),

    {"log", "level", K_SPECIAL, 0, 0, 0, parse_log_level, show_log_level, false},

    BOOL("http", "enabled", http_enabled),
    TEXT("http", "address", http_address, 1, 255),
    INT("http", "port", http_port, 0, 65535),

    SIZE("daemon", "idempotency_window", idempotency_window, 1, WINDOW_MAX),
    UNS("daemon", "shutdown_timeout_ms", shutdown_timeout_ms, 1, TIMEOUT_MS_MAX),
    UNS("daemon", "txn_timeout_ms", txn_timeout_ms, 1, TIMEOUT_MS_MAX),
    SIZE("daemon", "workers", workers, 0, CONFIG_WORKERS_MAX),
    SIZE("daemon", "inflight_bytes", inflight_bytes, 1, CONFIG_INFLIGHT_BYTES_MAX),
};

#define N_SETTINGS (sizeof settings / sizeof settings[0])

/* The [redis] keys that a url also sets: giving both is ambiguous. */
static const char *const url_exclusive[] = {"host", "port",     "unix_socket",
                                            "user", "password", "db"};
/* The [redis] keys that name the server, which the sentinels name instead. */
static const char *const sentinel_exclusive[] = {"url", "host", "port", "unix_socket"};
#define N_SENTINEL_EXCLUSIVE (sizeof sentinel_exclusive / sizeof sentinel_exclusive[0])

typedef struct parse_ctx {
    config *cfg;
    FILE *file;
    const char *path;
    int line; /* counted by read_line(): the line inih is handling */
    bool seen[N_SETTINGS];
    int line_of[N_SETTINGS]; /* where each seen key was given */
    bool seen_url;
    px_error *err;
    bool failed;
    bool bootstrap_seen;
    bool matching_only;  /* config_load_matching(): the other sections are passed over */
    char *matching_keys; /* the [matching] keys given so far, each followed by '\n' */
    size_t matching_keys_len;
} parse_ctx;

static char **string_at(config *cfg, const setting *s) {
    return (char **)((char *)cfg + s->offset);
}

static int set_string(char **slot, const char *value, px_error *err) {
    char *copy = strdup(value);
    if (!copy) return config_fail(err, CONFIG_ERR_NOMEM, "out of memory");
    free(*slot);
    *slot = copy;
    return 0;
}

/* Strict decimal: digits only (a leading '-' when min < 0), within [min, max]. */
static int parse_number(const char *value, long long min, long long max, long long *out,
                        px_error *err) {
    char *end;
    errno = 0;
    long long v = strtoll(value, &end, 10);
    bool digits = (value[0] >= '0' && value[0] <= '9') || (value[0] == '-' && min < 0);
    if (!digits || end == value || *end || errno || v < min || v > max)
        return config_fail(err, CONFIG_ERR_VALUE, "expected an integer in [%lld, %lld], got \"%s\"",
                           min, max, value);
    *out = v;
    return 0;
}

static int parse_bool(const char *value, bool *out, px_error *err) {
    static const char *const yes[] = {"true", "yes", "on", "1"}, *const no[] = {"false", "no",
                                                                                "off", "0"};
    for (size_t i = 0; i < 4; i++) {
        if (!strcmp(value, yes[i])) return *out = true, 0;
        if (!strcmp(value, no[i])) return *out = false, 0;
    }
    return config_fail(err, CONFIG_ERR_VALUE,
                       "expected true/false (or yes/no, on/off, 1/0), got \"%s\"", value);
}

static int apply_setting(config *cfg, const setting *s, const char *value, px_error *err) {
    void *at = (char *)cfg + s->offset;
    long long n;
    size_t len = strlen(value);
    switch (s->kind) {
    case K_STRING:
        if ((long long)len < s->min || (long long)len > s->max)
            return config_fail(err, CONFIG_ERR_VALUE, "expected %lld to %lld bytes, got %zu",
                               s->min, s->max, len);
        return set_string(string_at(cfg, s), value, err);
    case K_OPTIONAL_PATH:
        if (len > (size_t)s->max)
            return config_fail(err, CONFIG_ERR_VALUE, "longer than %lld bytes", s->max);
        if (!len) {
            free(*string_at(cfg, s));
            *string_at(cfg, s) = NULL;
            return 0;
        }
        return set_string(string_at(cfg, s), value, err);
    case K_UNSIGNED:
        if (parse_number(value, s->min, s->max, &n, err)) return -1;
        *(unsigned *)at = (unsigned)n;
        return 0;
    case K_SIZE:
        if (parse_number(value, s->min, s->max, &n, err)) return -1;
        *(size_t *)at = (size_t)n;
        return 0;
    case K_INT:
        if (parse_number(value, s->min, s->max, &n, err)) return -1;
        *(int *)at = (int)n;
        return 0;
    case K_BOOL: return parse_bool(value, (bool *)at, err);
    case K_ENDPOINT_TEXT:
    case K_SPECIAL: {
        /* Other modules parse these; their error codes become ours. */
        int rc = s->kind == K_SPECIAL
                     ? s->parse(cfg, value, err)
                     : redis_endpoint_set((char *)at, (size_t)s->max, value, s->key, err);
        if (rc) config_as_value(err);
        return rc;
    }
    }
    return config_fail(err, CONFIG_ERR_KEY, "internal: unknown setting kind");
}

static bool is_secret_property(const char *name) {
    return strstr(name, "password") || strstr(name, "secret") || !strcmp(name, "sasl.jaas.config");
}

static int add_kafka_property(parse_ctx *ctx, const char *name, const char *value, px_error *err) {
    config *cfg = ctx->cfg;
    if (!strcmp(name, "bootstrap.servers")) {
        if (ctx->bootstrap_seen) return config_fail(err, CONFIG_ERR_KEY, "given twice");
        ctx->bootstrap_seen = true;
    }
    if (!strcmp(name, "bootstrap.servers") && !strcmp(value, CONFIG_EMBEDDED)) {
        cfg->kafka_embedded = true;
        return 0;
    }
    if (!strcmp(name, "group.id"))
        return config_fail(err, CONFIG_ERR_KEY,
                           "the consumer group is set by [topics] group, not here");
    for (size_t i = 0; i < cfg->n_kafka; i++)
        if (!strcmp(cfg->kafka[i].name, name))
            return config_fail(err, CONFIG_ERR_KEY, "given twice");
    if (cfg->n_kafka == CONFIG_MAX_KAFKA_PROPERTIES)
        return config_fail(err, CONFIG_ERR_KEY, "more than %d librdkafka properties",
                           CONFIG_MAX_KAFKA_PROPERTIES);
    config_property *grown = realloc(cfg->kafka, (cfg->n_kafka + 1) * sizeof *grown);
    if (!grown) return config_fail(err, CONFIG_ERR_NOMEM, "out of memory");
    cfg->kafka = grown;
    config_property *p = &cfg->kafka[cfg->n_kafka];
    p->name = strdup(name);
    p->value = strdup(value);
    if (!p->name || !p->value) {
        free(p->name);
        free(p->value);
        return config_fail(err, CONFIG_ERR_NOMEM, "out of memory");
    }
    cfg->n_kafka++;
    return 0;
}

/* Bytes of the printable character at s (well-formed UTF-8, tab allowed), 0 for anything else:
 * a control byte, a malformed sequence, the end of the string. */
static size_t text_char_len(const unsigned char *s) {
    if (*s == '\t' || (*s >= 0x20 && *s < 0x7f)) return 1;
    if (s[0] == 0xc2 && s[1] < 0xa0) return 0; /* C1 controls: U+009B starts terminal escapes */
    size_t n = (*s & 0xe0) == 0xc0 ? 2 : (*s & 0xf0) == 0xe0 ? 3 : (*s & 0xf8) == 0xf0 ? 4 : 0;
    for (size_t k = 1; k < n; k++)
        if (!s[k]) return 0;
    return n && utf8_valid((const char *)s, n, NULL) ? n : 0;
}

static bool is_text(const char *s) {
    size_t n;
    for (const unsigned char *p = (const unsigned char *)s; *p; p += n)
        if (!(n = text_char_len(p))) return false;
    return true;
}

/* s as an error may quote it: printable characters as they are, any other byte as \xNN, at
 * most EXCERPT_MAX characters and then "…". A binary file's bytes never reach the terminal. */
static void excerpt(char *out, size_t size, const char *s) {
    const unsigned char *p = (const unsigned char *)s;
    size_t used = 0, chars = 0;
    out[0] = '\0';
    for (size_t n; *p && used < size; p += n ? n : 1, chars++) {
        if (chars == EXCERPT_MAX) {
            snprintf(out + used, size - used, "…");
            return;
        }
        n = text_char_len(p);
        int w = n ? snprintf(out + used, size - used, "%.*s", (int)n, (const char *)p)
                  : snprintf(out + used, size - used, "\\x%02x", *p);
        used += (size_t)w;
    }
}

static int handle_pair(parse_ctx *ctx, const char *section, const char *name, const char *value,
                       px_error *err) {
    if (strlen(value) > CONFIG_VALUE_MAX)
        return config_fail(err, CONFIG_ERR_VALUE, "value longer than %d bytes", CONFIG_VALUE_MAX);
    /* Nothing takes control bytes or malformed UTF-8, and passed on ([kafka]) they would be
     * echoed by librdkafka's own errors: a binary file stops here. */
    if (!is_text(section) || !is_text(name))
        return config_fail(err, CONFIG_ERR_SYNTAX,
                           "not text (control bytes or malformed UTF-8): "
                           "is this a configuration file?");
    if (!is_text(value))
        return config_fail(err, CONFIG_ERR_VALUE,
                           "value is not text (control bytes or malformed "
                           "UTF-8)");
    /* inih reads a line ":" or "= x" as a pair with an empty key; passed on ([kafka]) it would
     * only fail in librdkafka, and --check-config's output would not read back */
    if (!*name) return config_fail(err, CONFIG_ERR_SYNTAX, "empty key");
    bool known_section = !strcmp(section, "matching");
    for (size_t i = 0; i < N_SETTINGS; i++) {
        const setting *s = &settings[i];
        if (strcmp(section, s->section)) continue;
        known_section = true;
        if (strcmp(name, s->key)) continue;
        if (ctx->seen[i]) return config_fail(err, CONFIG_ERR_KEY, "given twice");
        ctx->seen[i] = true;
        ctx->line_of[i] = ctx->line;
        if (s->parse == parse_redis_url) ctx->seen_url = true;
        return apply_setting(ctx->cfg, s, value, err);
    }
    if (!strcmp(section, "kafka")) {
        if (!strncmp(name, CONFIG_OWN_KAFKA_PREFIX, strlen(CONFIG_OWN_KAFKA_PREFIX)))
            return config_fail(
                err, CONFIG_ERR_KEY,
                "unknown passerelle key (expected %sembedded.brokers or %sembedded.partitions)",
                CONFIG_OWN_KAFKA_PREFIX, CONFIG_OWN_KAFKA_PREFIX);
        return add_kafka_property(ctx, name, value, err);
    }
    if (!strcmp(section, "matching")) {
        /* Its keys are open-ended (constraint.NAME): they are remembered as they come. */
        size_t n = strlen(name);
        for (size_t at = 0; at < ctx->matching_keys_len;
             at = (size_t)(strchr(ctx->matching_keys + at, '\n') - ctx->matching_keys) + 1)
            if (at + n < ctx->matching_keys_len && ctx->matching_keys[at + n] == '\n' &&
                !memcmp(ctx->matching_keys + at, name, n))
                return config_fail(err, CONFIG_ERR_KEY, "given twice");
        char *keys = realloc(ctx->matching_keys, ctx->matching_keys_len + n + 1);
        if (!keys) return config_fail(err, CONFIG_ERR_NOMEM, "config: out of memory");
        memcpy(keys + ctx->matching_keys_len, name, n);
        keys[ctx->matching_keys_len + n] = '\n';
        ctx->matching_keys = keys;
        ctx->matching_keys_len += n + 1;
        if (matcher_config_set(&ctx->cfg->matching, name, value, err)) {
            config_as_value(err);
            return -1;
        }
        return 0;
    }
    if (!known_section)
        return config_fail(err, CONFIG_ERR_KEY,
                           "unknown section (expected kafka, topics, redis, rome, matching, "
                           "limits, log, http or daemon)");
    char expected[512];
    size_t used = 0;
    for (size_t i = 0; i < N_SETTINGS && used < sizeof expected; i++)
        if (!strcmp(section, settings[i].section))
            used += (size_t)snprintf(expected + used, sizeof expected - used, "%s%s",
                                     used ? ", " : "", settings[i].key);
    return config_fail(err, CONFIG_ERR_KEY, "unknown key (expected one of: %s)", expected);
}

/* inih callback: applies one pair; the first failure is kept with its place in the file. */
static int on_pair(void *user, const char *section, const char *name, const char *value) {
    parse_ctx *ctx = user;
    if (ctx->failed) return 0;
    if (ctx->matching_only && strcmp(section, "matching")) return 1;
    px_error local;
    px_error_clear(&local);
    if (handle_pair(ctx, section, name, value, &local) == 0) return 1;
    ctx->failed = true;
    config_reason why = local.code == PX_ENOMEM ? CONFIG_ERR_NOMEM
                        : local.reason          ? (config_reason)local.reason
                                                : CONFIG_ERR_VALUE;
    /* matcher_config_set starts its messages with the key (its other callers need it there):
     * the place already names it */
    const char *msg = local.msg;
    size_t len = strlen(name);
    if (!strncmp(msg, name, len) && !strncmp(msg + len, ": ", 2)) msg += len + 2;
    char sec[EXCERPT_MAX * 4 + 8], key[EXCERPT_MAX * 4 + 8];
    excerpt(sec, sizeof sec, section);
    excerpt(key, sizeof key, name);
    config_fail(ctx->err, why, "%s:%d: [%s] %s: %s", ctx->path, ctx->line, sec, key, msg);
    return 0;
}

/* inih line reader: counts lines (so that on_pair can name them) and refuses a line longer than
 * inih's buffer, which inih would otherwise silently split into two lines. */
static char *read_line(char *str, int num, void *stream) {
    parse_ctx *ctx = stream;
    if (ctx->failed || !fgets(str, num, ctx->file)) return NULL;
    ctx->line++;
    size_t len = strlen(str);
    if (len == (size_t)num - 1 && str[len - 1] != '\n' && !feof(ctx->file)) {
        ctx->failed = true;
        config_fail(ctx->err, CONFIG_ERR_SYNTAX,
                    "%s:%d: line longer than %d bytes (libinih's limit)", ctx->path, ctx->line,
                    num - 2);
        return NULL;
    }
    return str;
}

static void free_strings(config *cfg) {
    for (size_t i = 0; i < N_SETTINGS; i++)
        if (settings[i].kind == K_STRING || settings[i].kind == K_OPTIONAL_PATH)
            free(*string_at(cfg, &settings[i]));
    for (size_t i = 0; i < cfg->n_kafka; i++) {
        free(cfg->kafka[i].name);
        free(cfg->kafka[i].value);
    }
    free(cfg->kafka);
}

void config_free(config *cfg) {
    if (!cfg) return;
    free_strings(cfg);
    free(cfg);
}

config *config_default(px_error *err) {
    config *cfg = calloc(1, sizeof *cfg);
    if (!cfg) {
        config_fail(err, CONFIG_ERR_NOMEM, "config: out of memory");
        return NULL;
    }
    cfg->kafka_embedded = true;
    cfg->embedded_brokers = 1;
    cfg->embedded_partitions = 4;
    redis_endpoint_init(&cfg->redis);
    cfg->state_ttl_s = 90u * 86400;
    cfg->erased_ttl_s = 7u * 86400;
    cfg->answers_ttl_s = 86400;
    cfg->connect_timeout_ms = 2000;
    cfg->command_timeout_ms = 5000;
    cfg->backoff_initial_ms = 100;
    cfg->backoff_max_ms = 10000;
    cfg->matching = matcher_config_default();
    cfg->limits = event_limits_default();
    cfg->batch_size = 500;
    cfg->batch_max_wait_ms = 20;
    cfg->log_level = PX_LOG_INFO;
    cfg->http_enabled = true;
    cfg->http_port = 9464;
    cfg->idempotency_window = 64;
    cfg->shutdown_timeout_ms = 10000;
    cfg->txn_timeout_ms = 30000;
    cfg->workers = 0;
    cfg->inflight_bytes = CONFIG_INFLIGHT_BYTES_DEFAULT;
    const struct {
        char **slot;
        const char *value;
    } strings[] = {
        {&cfg->topic_profile, "passerelle.profile.v1"},
        {&cfg->topic_skills, "passerelle.skills.v1"},
        {&cfg->topic_suggestions, "passerelle.suggestions.v1"},
        {&cfg->topic_dlq, "passerelle.dlq.v1"},
        {&cfg->group_id, "passerelle"},
        {&cfg->state_prefix, "user:"},
        {&cfg->rome_key_prefix, REDIS_ENDPOINT_DEFAULT_PREFIX},
        {&cfg->http_address, "127.0.0.1"},
    };
    for (size_t i = 0; i < sizeof strings / sizeof strings[0]; i++)
        if (set_string(strings[i].slot, strings[i].value, err)) {
            config_free(cfg);
            return NULL;
        }
    return cfg;
}

/* The line of a [redis] key given in the file, 0 when it was not. */
static int redis_key_line(const parse_ctx *ctx, const char *key) {
    for (size_t i = 0; i < N_SETTINGS; i++)
        if (ctx->seen[i] && !strcmp(settings[i].section, "redis") && !strcmp(settings[i].key, key))
            return ctx->line_of[i];
    return 0;
}

/* sentinels and master go together, and replace the keys naming the server. */
static int validate_sentinels(const parse_ctx *ctx, px_error *err) {
    const redis_endpoint *ep = &ctx->cfg->redis;
    if (ep->n_sentinels && !ep->master[0])
        return config_fail(err, CONFIG_ERR_VALUE,
                           "%s:%d: [redis] sentinels: needs master = NAME (the name the "
                           "sentinels monitor)",
                           ctx->path, redis_key_line(ctx, "sentinels"));
    if (!ep->n_sentinels && ep->master[0])
        return config_fail(err, CONFIG_ERR_VALUE,
                           "%s:%d: [redis] master: needs sentinels = host:port,host:port,…",
                           ctx->path, redis_key_line(ctx, "master"));
    for (size_t k = 0; ep->n_sentinels && k < N_SENTINEL_EXCLUSIVE; k++) {
        int line = redis_key_line(ctx, sentinel_exclusive[k]);
        if (line)
            return config_fail(err, CONFIG_ERR_VALUE,
                               "%s:%d: [redis] %s: the sentinels (line %d) name the server; "
                               "give either sentinels or %s",
                               ctx->path, line, sentinel_exclusive[k],
                               redis_key_line(ctx, "sentinels"), sentinel_exclusive[k]);
    }
    return 0;
}

/* Checks between keys, once the whole file is read. */
static int validate(parse_ctx *ctx, px_error *err) {
    config *cfg = ctx->cfg;
    const char *path = ctx->path;
    for (size_t i = 0; i < cfg->n_kafka; i++)
        if (!strcmp(cfg->kafka[i].name, "bootstrap.servers")) cfg->kafka_embedded = false;
    if (!cfg->kafka_embedded)
        for (size_t i = 0; i < N_SETTINGS; i++)
            if (ctx->seen[i] && !strcmp(settings[i].section, "kafka"))
                return config_fail(
                    err, CONFIG_ERR_VALUE,
                    "%s: [kafka] %s: only meaningful with bootstrap.servers = embedded", path,
                    settings[i].key);
    cfg->transactional_id = NULL;
    for (size_t i = 0; i < cfg->n_kafka; i++)
        if (!strcmp(cfg->kafka[i].name, "transactional.id"))
            cfg->transactional_id = cfg->kafka[i].value;
    if (ctx->seen_url)
        for (size_t i = 0; i < N_SETTINGS; i++)
            for (size_t u = 0; u < sizeof url_exclusive / sizeof url_exclusive[0]; u++)
                if (ctx->seen[i] && !strcmp(settings[i].section, "redis") &&
                    !strcmp(settings[i].key, url_exclusive[u]))
                    return config_fail(
                        err, CONFIG_ERR_VALUE,
                        "%s: [redis] url and %s: give either a url or its parts, not both", path,
                        url_exclusive[u]);
    px_error local;
    if (validate_sentinels(ctx, err)) return -1;
    if (redis_endpoint_validate(&cfg->redis, &local))
        return config_fail(err, CONFIG_ERR_VALUE, "%s: [redis]: %s", path, local.msg);
    if (cfg->backoff_max_ms < cfg->backoff_initial_ms)
        return config_fail(
            err, CONFIG_ERR_VALUE,
            "%s: [redis] backoff_max_ms (%u) must be at least backoff_initial_ms (%u)", path,
            cfg->backoff_max_ms, cfg->backoff_initial_ms);
    const char *const topics[] = {cfg->topic_profile, cfg->topic_skills, cfg->topic_suggestions,
                                  cfg->topic_dlq};
    static const char *const topic_keys[] = {"profile", "skills", "suggestions", "dlq"};
    for (size_t i = 0; i < 4; i++) {
        if (kafka_topic_name_check(topics[i], &local))
            return config_fail(err, CONFIG_ERR_VALUE, "%s: [topics] %s: %s", path, topic_keys[i],
                               local.msg);
        for (size_t j = 0; j < i; j++)
            if (!strcmp(topics[i], topics[j]))
                return config_fail(err, CONFIG_ERR_VALUE,
                                   "%s: [topics] %s and %s name the same topic \"%s\"", path,
                                   topic_keys[j], topic_keys[i], topics[i]);
    }
    bool rome_prefix_seen = false;
    for (size_t i = 0; i < N_SETTINGS; i++)
        if (ctx->seen[i] && !strcmp(settings[i].section, "rome") &&
            !strcmp(settings[i].key, "key_prefix"))
            rome_prefix_seen = true;
    if (!rome_prefix_seen && set_string(&cfg->rome_key_prefix, cfg->redis.prefix, err)) return -1;
    return 0;
}

/* Reads ctx->path into a new ctx->cfg (the defaults, then the file's pairs): 0, or -1 with
 * ctx->err set and ctx->cfg to free (NULL when the file could not be opened). */
static int parse_file(parse_ctx *ctx) {
    px_error *err = ctx->err;
    const char *path = ctx->path;
    ctx->file = fopen(path, "r");
    if (!ctx->file)
        return config_fail(err, CONFIG_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    ctx->cfg = config_default(err);
    if (!ctx->cfg) {
        fclose(ctx->file);
        return -1;
    }
    /* The defaults say "embedded"; a file that names no bootstrap.servers keeps it. */
    int rc = ini_parse_stream(read_line, ctx, on_pair, ctx);
    free(ctx->matching_keys);
    bool read_error = ferror(ctx->file);
    fclose(ctx->file);
    if (!ctx->failed && read_error) {
        ctx->failed = true;
        config_fail(err, CONFIG_ERR_IO, "%s: read error", path);
    }
    if (!ctx->failed && rc > 0) {
        ctx->failed = true;
        config_fail(err, CONFIG_ERR_SYNTAX,
                    "%s:%d: not a [section], key = value, comment or blank line", path, rc);
    } else if (!ctx->failed && rc < 0) {
        ctx->failed = true;
        config_fail(err, CONFIG_ERR_NOMEM, "%s: libinih could not allocate its line buffer", path);
    }
    return ctx->failed ? -1 : 0;
}

int config_load(const char *path, config **out, px_error *err) {
    *out = NULL;
    parse_ctx ctx = {.path = path, .err = err};
    if (parse_file(&ctx) || validate(&ctx, err)) {
        config_free(ctx.cfg);
        return -1;
    }
    *out = ctx.cfg;
    return 0;
}

int config_load_matching(const char *path, matcher_config *out, px_error *err) {
    parse_ctx ctx = {.path = path, .err = err, .matching_only = true};
    if (parse_file(&ctx)) {
        config_free(ctx.cfg);
        return -1;
    }
    *out = ctx.cfg->matching;
    config_free(ctx.cfg);
    return 0;
}

/* --- explain --------------------------------------------------------------------------------- */

static void show_setting(const config *cfg, const setting *s, FILE *out) {
    const void *at = (const char *)cfg + s->offset;
    if ((s->kind == K_SPECIAL && !s->show) ||
        (!strcmp(s->section, "kafka") && !cfg->kafka_embedded))
        return;
    for (size_t k = 0; cfg->redis.n_sentinels && k < N_SENTINEL_EXCLUSIVE; k++)
        if (!strcmp(s->section, "redis") && !strcmp(s->key, sentinel_exclusive[k]))
            return; /* the sentinels name the server */
    fprintf(out, "%s = ", s->key);
    if (s->secret && *(const char *)at) {
        fputs(MASK, out);
    } else {
        switch (s->kind) {
        case K_STRING:
        case K_OPTIONAL_PATH: {
            const char *v = *(char *const *)at;
            fputs(v ? v : "", out);
            break;
        }
        case K_UNSIGNED: fprintf(out, "%u", *(const unsigned *)at); break;
        case K_SIZE: fprintf(out, "%zu", *(const size_t *)at); break;
        case K_INT: fprintf(out, "%d", *(const int *)at); break;
        case K_BOOL: fputs(*(const bool *)at ? "true" : "false", out); break;
        case K_ENDPOINT_TEXT: fputs((const char *)at, out); break;
        case K_SPECIAL: s->show(cfg, out); break;
        }
    }
    fputc('\n', out);
}

void config_explain(const config *cfg, FILE *out) {
    fputs("# effective passerelled configuration (defaults included; secrets masked)\n\n[kafka]\n",
          out);
    if (cfg->kafka_embedded) fprintf(out, "bootstrap.servers = %s\n", CONFIG_EMBEDDED);
    for (size_t i = 0; i < cfg->n_kafka; i++)
        fprintf(out, "%s = %s\n", cfg->kafka[i].name,
                is_secret_property(cfg->kafka[i].name) ? MASK : cfg->kafka[i].value);
    const char *section = "kafka";
    for (size_t i = 0; i < N_SETTINGS; i++) {
        const setting *s = &settings[i];
        if (strcmp(section, s->section)) {
            if (!strcmp(section, "rome")) {
                fputs("\n[matching]\n", out);
                matcher_config_write(&cfg->matching, out);
            }
            section = s->section;
            fprintf(out, "\n[%s]\n", section);
        }
        show_setting(cfg, s, out);
    }
}
