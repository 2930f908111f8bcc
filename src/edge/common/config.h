/* config — passerelled's INI configuration file (libinih), validated and explained.
 *
 * Sections and keys (config/passerelled.conf documents each with its default and why):
 *   [kafka]    every key is a librdkafka property, passed through verbatim and in file order to
 *              both the consumer and the producer (as `kcat -X` does); librdkafka itself checks
 *              them when the daemon creates its clients. `bootstrap.servers = embedded` starts
 *              librdkafka's mock cluster inside the daemon instead. Keys starting with
 *              "passerelle." are ours and are NOT passed on:
 *                passerelle.embedded.brokers     mock cluster brokers              (1)
 *                passerelle.embedded.partitions  partitions of each created topic  (4)
 *   [topics]   profile, skills, suggestions, dlq (topic names), group (consumer group id)
 *   [redis]    url | host, port, unix_socket | sentinels, master (Redis Sentinel); user,
 *              password, db, key_prefix; state_prefix, state_ttl_s, erased_ttl_s,
 *              answers_ttl_s;
 *              connect_timeout_ms,
 *              command_timeout_ms, backoff_initial_ms, backoff_max_ms
 *   [rome]     key_prefix (where the index snapshots live in Redis), dir, snapshot
 *   [matching] every key goes to matcher_config_set() (weights, constraint.NAME = codes)
 *   [limits]   the event_limits (event_codec.h), batch_size, batch_max_wait_ms
 *   [log]      level
 *   [http]     enabled, address, port (metrics and health endpoints)
 *   [daemon]   idempotency_window, shutdown_timeout_ms, txn_timeout_ms, workers, inflight_bytes
 * A key given twice, an unknown section or key, or a bad value is an error naming
 * "file:line: [section] key: what is wrong and what is expected".
 *
 * Ownership: config_load() returns a config owning all its strings; config_free() releases it.
 * Reading a loaded config from several threads is safe; nothing here mutates it afterwards.
 * Pure file parsing and validation: no network, no Kafka/Redis/libuv handles. */
#ifndef CONFIG_H
#define CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "event_codec.h"
#include "log.h"
#include "matcher.h"
#include "px_error.h"
#include "redis_endpoint.h"

/* The detail config_load() puts in err->reason; err->code is PX_ENOMEM, PX_EIO or PX_ECONFIG. */
typedef enum config_reason {
    CONFIG_ERR_NOMEM = 1,
    CONFIG_ERR_IO = 2, /* the file cannot be read */
    CONFIG_ERR_SYNTAX =
        3,              /* not INI (a line is neither [section], key = value, comment nor blank) */
    CONFIG_ERR_KEY = 4, /* unknown section or key, or a key given twice */
    CONFIG_ERR_VALUE =
        5, /* a value is malformed or out of range, or values contradict each other */
} config_reason;

/* the bootstrap.servers value that starts the mock cluster */
#define CONFIG_EMBEDDED             "embedded"
#define CONFIG_OWN_KAFKA_PREFIX     "passerelle."
#define CONFIG_MAX_KAFKA_PROPERTIES 256
#define CONFIG_VALUE_MAX            4096 /* bytes of one value */
/* [daemon] workers: threads matching a batch; 0 = one per core the process may use. */
#define CONFIG_WORKERS_MAX 256
/* [daemon] inflight_bytes: bytes of outputs produced and not yet delivered past which the next
 * batch waits (16 MiB by default; at least one batch always goes through). */
#define CONFIG_INFLIGHT_BYTES_DEFAULT (16u << 20)
#define CONFIG_INFLIGHT_BYTES_MAX     (1ull << 40)

/* One librdkafka property, both strings owned by the config. */
typedef struct config_property {
    char *name;
    char *value;
} config_property;

typedef struct config {
    /* [kafka] */
    config_property *kafka; /* in file order, without our passerelle.* keys */
    size_t n_kafka;
    bool kafka_embedded; /* bootstrap.servers = embedded (the property is then not in `kafka`) */
    int embedded_brokers;
    int embedded_partitions;
    const char
        *transactional_id; /* the [kafka] transactional.id value, or NULL (points into `kafka`) */

    /* [topics] */
    char *topic_profile, *topic_skills, *topic_suggestions, *topic_dlq;
    char *group_id;

    /* [redis] */
    redis_endpoint redis;   /* address, credentials, db, key_prefix */
    char *state_prefix;     /* user state key = key_prefix + state_prefix + user_id */
    unsigned state_ttl_s;   /* 0 = no expiry */
    unsigned erased_ttl_s;  /* an erased person's applied event ids (user_rules.h), >= 1 */
    unsigned answers_ttl_s; /* each applied event's answers, sent again to its repeats, >= 1 */
    unsigned connect_timeout_ms, command_timeout_ms, backoff_initial_ms, backoff_max_ms;

    /* [rome] */
    char *rome_key_prefix; /* prefix of the index keys; defaults to [redis] key_prefix */
    char *rome_dir;        /* official CSV export, for `rome publish` (may be NULL) */
    char *rome_snapshot;   /* a built snapshot file, for `rome publish` (may be NULL) */

    /* [matching] */
    matcher_config matching;

    /* [limits] */
    event_limits limits;
    size_t batch_size;
    unsigned batch_max_wait_ms;

    /* [log] */
    px_log_level log_level;

    /* [http] */
    bool http_enabled;
    char *http_address;
    int http_port; /* 0 = ephemeral */

    /* [daemon] */
    size_t idempotency_window; /* event ids remembered per user */
    unsigned shutdown_timeout_ms;
    unsigned txn_timeout_ms;
    size_t workers;        /* 0 = one per available core */
    size_t inflight_bytes; /* budget of undelivered output bytes */
} config;

/* A config holding every default (as if loaded from an empty file). NULL when out of memory. */
config *config_default(px_error *err);

/* Reads and validates path. Returns 0 and *out, or -1 with err (file:line: [section] key: …). */
int config_load(const char *path, config **out, px_error *err);

/* Reads only the [matching] section of path, as config_load() would (same syntax checks and
 * file:line errors): *out becomes matcher_config_default() with the file's [matching] keys
 * applied. Every other section is passed over unchecked, so that a passerelled configuration
 * can tune `passerelle match`. *out is left as it was on failure. */
int config_load_matching(const char *path, matcher_config *out, px_error *err);

void config_free(config *cfg);

/* Writes the effective configuration as INI text that config_load() reads back to the same
 * values, every key included, passwords replaced by "********" (then it does not read back). */
void config_explain(const config *cfg, FILE *out);

#endif
