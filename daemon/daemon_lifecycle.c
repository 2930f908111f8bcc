/* passerelled's life cycle: start the parts in order, report readiness, keep systemd informed,
 * shut down gracefully. See daemon.h. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon.h"

static const double BATCH_BUCKETS[] = {1, 5, 10, 50, 100, 500, 1000, 5000};
static const double MATCH_BUCKETS[] = {0.00005, 0.0001, 0.00025, 0.0005, 0.001,
                                       0.0025,  0.005,  0.01,    0.05};
static const double E2E_BUCKETS[] = {0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
                                     0.5,   1,     2.5,  5,     10,   30};

static int register_metrics(px_daemon *d, px_error *err) {
    static const char *topic[] = {"topic"}, *topic_type[] = {"topic", "type"},
                      *topic_reason[] = {"topic", "reason"}, *partition[] = {"topic", "partition"},
                      *version[] = {"version"}, *kind[] = {"kind"}, *outcome[] = {"outcome"};
    static const char *topic_key[] = {"topic", "key"};
    struct {
        metrics_family **slot;
        metrics_spec spec;
    } specs[] = {
        {&d->m.consumed,
         {METRICS_COUNTER, "passerelle_events_consumed_total", "Input events consumed, by topic",
          topic, 1, 0, NULL, 0}},
        {&d->m.produced,
         {METRICS_COUNTER, "passerelle_events_produced_total",
          "Output events delivered, by topic and type", topic_type, 2, 0, NULL, 0}},
        {&d->m.dead_lettered,
         {METRICS_COUNTER, "passerelle_events_dead_lettered_total",
          "Input events sent to the DLQ, by source topic and reason", topic_reason, 2, 0, NULL, 0}},
        {&d->m.replayed,
         {METRICS_COUNTER, "passerelle_events_replayed_total",
          "Events seen again (already applied), state unchanged, by outcome: same_answer (the "
          "latest event's answer re-sent identically) or superseded (an older one: nothing sent)",
          outcome, 1, 0, NULL, 0}},
        {&d->m.batch_size,
         {METRICS_HISTOGRAM, "passerelle_batch_size", "Messages per consumed batch", NULL, 0, 0,
          BATCH_BUCKETS, sizeof BATCH_BUCKETS / sizeof BATCH_BUCKETS[0]}},
        {&d->m.match_seconds,
         {METRICS_HISTOGRAM, "passerelle_match_duration_seconds", "Time to match one event", NULL,
          0, 0, MATCH_BUCKETS, sizeof MATCH_BUCKETS / sizeof MATCH_BUCKETS[0]}},
        {&d->m.e2e_seconds,
         {METRICS_HISTOGRAM, "passerelle_end_to_end_latency_seconds",
          "From the input message timestamp to the delivery of its last output", NULL, 0, 0,
          E2E_BUCKETS, sizeof E2E_BUCKETS / sizeof E2E_BUCKETS[0]}},
        {&d->m.redis_round_trips,
         {METRICS_COUNTER, "passerelle_redis_round_trips_total",
          "Redis requests sent (one per batch read or write)", NULL, 0, 0, NULL, 0}},
        {&d->m.redis_errors,
         {METRICS_COUNTER, "passerelle_redis_errors_total", "Redis requests that failed", NULL, 0,
          0, NULL, 0}},
        {&d->m.redis_up,
         {METRICS_GAUGE, "passerelle_redis_up", "1 when Redis accepts requests", NULL, 0, 0, NULL,
          0}},
        {&d->m.lag,
         {METRICS_GAUGE, "passerelle_consumer_lag",
          "Messages behind the end of each assigned partition", partition, 2, 1024, NULL, 0}},
        {&d->m.rome_version,
         {METRICS_GAUGE, "passerelle_rome_version",
          "ROME version of the index in use (the label names it)", version, 1, 0, NULL, 0}},
        {&d->m.rebalances,
         {METRICS_COUNTER, "passerelle_rebalances_total",
          "Consumer group assignment changes, by kind", kind, 1, 0, NULL, 0}},
        {&d->m.delivery_failures,
         {METRICS_COUNTER, "passerelle_delivery_failures_total",
          "Output deliveries that failed (each is produced again)", NULL, 0, 0, NULL, 0}},
        {&d->m.index_swaps,
         {METRICS_COUNTER, "passerelle_rome_index_swaps_total",
          "ROME index versions swapped in without restart", NULL, 0, 0, NULL, 0}},
        {&d->m.batches_retried,
         {METRICS_COUNTER, "passerelle_batches_retried_total",
          "Batches given back to Kafka (Redis down, out of memory)", NULL, 0, 0, NULL, 0}},
        {&d->m.ready,
         {METRICS_GAUGE, "passerelle_ready", "1 when Kafka, Redis and the ROME index are all up",
          NULL, 0, 0, NULL, 0}},
        /* two input topics, each with the named keys and "other" */
        {&d->m.unknown_keys,
         {METRICS_COUNTER, "passerelle_unknown_keys_total",
          "Keys of input events that the contract does not name (ignored), by topic and key",
          topic_key, 2, 2 * (DAEMON_UNKNOWN_KEYS_MAX + 1), NULL, 0}},
        {&d->m.dlq_failures,
         {METRICS_COUNTER, "passerelle_dlq_failures_total",
          "Dead letters not delivered after their retries (their inputs were passed over), by "
          "source topic",
          topic, 1, 0, NULL, 0}},
        {&d->m.inflight_bytes,
         {METRICS_GAUGE, "passerelle_inflight_bytes",
          "Bytes of outputs produced and not yet delivered (bounded by [daemon] inflight_bytes)",
          NULL, 0, 0, NULL, 0}},
        {&d->m.batches_waited,
         {METRICS_COUNTER, "passerelle_batches_waited_total",
          "Batches that waited for outputs in flight to be delivered ([daemon] inflight_bytes)",
          NULL, 0, 0, NULL, 0}},
        {&d->m.output_bytes_per_event,
         {METRICS_GAUGE, "passerelle_output_bytes_per_event",
          "Running average of output bytes per consumed event: a batch starts only when its "
          "expected outputs fit [daemon] inflight_bytes",
          NULL, 0, 0, NULL, 0}},
    };
    if (!(d->m.registry = metrics_new(err))) return -1;
    for (size_t i = 0; i < sizeof specs / sizeof specs[0]; i++)
        if (!(*specs[i].slot = metrics_register(d->m.registry, &specs[i].spec, err))) return -1;
    return 0;
}

bool daemon_ready(const px_daemon *d) {
    return d->kafka_started && !d->stopping && store_redis_is_available(d->store) &&
           d->engine != NULL;
}

static void on_readiness(void *opaque, http_readiness *out) {
    px_daemon *d = opaque;
    out->kafka = d->kafka_started && !d->stopping;
    out->redis = d->store && store_redis_is_available(d->store);
    out->index = d->engine != NULL;
    out->detail = d->stopping ? "shutting down" : NULL;
}

static void start_kafka(px_daemon *d);

void daemon_readiness_changed(px_daemon *d) {
    metrics_series *s = metrics_series_get(d->m.ready, NULL, NULL);
    if (s) metrics_gauge_set(s, daemon_ready(d) ? 1 : 0);
    if (d->engine && !d->kafka_started && !d->stopping) start_kafka(d);
    if (!d->ready_sent && daemon_ready(d)) {
        char status[256];
        snprintf(status, sizeof status, "ready: ROME %s, consuming %s and %s", d->engine->version,
                 d->cfg->topic_profile, d->cfg->topic_skills);
        service_notify_ready(&d->notify, status, NULL);
        d->ready_sent = true;
        PX_LOG_INFOF(d->log, "ready", PX_LOG_STR("rome_version", d->engine->version),
                     PX_LOG_STR("bootstrap", d->bootstrap));
    }
}

/* --- Redis --- */

static void on_store_status(store_redis *s, int available, const px_error *why, void *opaque) {
    (void)s;
    px_daemon *d = opaque;
    metrics_series *up = metrics_series_get(d->m.redis_up, NULL, NULL);
    if (up) metrics_gauge_set(up, available);
    if (available) {
        PX_LOG_INFOF(d->log, "redis available");
        daemon_index_fetch(d); /* a publication may have been missed while down */
        if (d->kafka && kafka_io_paused(d->kafka) && !d->stopping) {
            PX_LOG_INFOF(d->log, "consumption resumed");
            kafka_io_resume(d->kafka);
        }
    } else {
        PX_LOG_WARNF(d->log, "redis unavailable", PX_LOG_STR("error", why ? why->msg : "?"));
        daemon_pipeline_pause(d, "redis unavailable");
    }
    daemon_readiness_changed(d);
}

/* --- Kafka --- */

static void on_kafka_error(kafka_io *io, const px_error *err, bool fatal, void *opaque) {
    (void)io;
    px_daemon *d = opaque;
    if (fatal) {
        PX_LOG_ERRF(d->log, "fatal Kafka error, shutting down", PX_LOG_STR("error", err->msg));
        daemon_stop(d, 1);
    } else {
        PX_LOG_WARNF(d->log, "Kafka error (librdkafka retries)", PX_LOG_STR("error", err->msg));
    }
}

static void on_rebalance(kafka_io *io, kafka_io_rebalance_kind kind,
                         const kafka_io_partition *parts, size_t n, void *opaque) {
    (void)io;
    px_daemon *d = opaque;
    static const char *names[] = {"assigned", "revoked", "lost"};
    const char *l[1] = {names[kind]};
    metrics_series *s = metrics_series_get(d->m.rebalances, l, NULL);
    if (s) metrics_counter_inc(s);
    for (size_t i = 0; i < n && kind != KAFKA_IO_ASSIGNED; i++) {
        char p[16];
        snprintf(p, sizeof p, "%d", parts[i].partition);
        const char *lp[2] = {parts[i].topic, p};
        metrics_series *ls = metrics_series_get(d->m.lag, lp, NULL);
        if (ls) metrics_series_remove(ls);
    }
    PX_LOG_INFOF(d->log, "rebalance", PX_LOG_STR("kind", names[kind]),
                 PX_LOG_UINT("partitions", n));
}

/* librdkafka's own lines join the daemon's log, at their syslog level. */
static void on_kafka_log(kafka_io *io, int level, const char *facility, const char *message,
                         void *opaque) {
    (void)io;
    px_daemon *d = opaque;
    px_log_level lv = level <= 3   ? PX_LOG_ERR
                      : level == 4 ? PX_LOG_WARNING
                      : level <= 6 ? PX_LOG_INFO
                                   : PX_LOG_DEBUG;
    px_log_write(
        d->log, lv, "librdkafka",
        (const px_log_field[]){PX_LOG_STR("facility", facility), PX_LOG_STR("detail", message)}, 2);
}

static void on_kafka_closed(kafka_io *io, void *opaque) {
    (void)io;
    px_daemon *d = opaque;
    PX_LOG_INFOF(d->log, "left the consumer group");
    if (daemon_pipeline_busy(d))
        d->close_deferred = true; /* the jobs read the batch's messages: kafka_io stays */
    else
        daemon_close_rest(d);
}

static void start_kafka(px_daemon *d) {
    const config *cfg = d->cfg;
    px_error err = {0};
    kafka_io_property *props = calloc(cfg->n_kafka + 2, sizeof *props);
    if (!props) {
        daemon_stop(d, 1);
        return;
    }
    size_t n = 0;
    /* A new consumer group starts at the beginning of the input topics: with librdkafka's default
     * (latest) the events published before the group first joined would never be answered. The
     * configuration may still override it (properties apply in order). */
    props[n++] = (kafka_io_property){"auto.offset.reset", "earliest"};
    for (size_t i = 0; i < cfg->n_kafka; i++)
        props[n++] = (kafka_io_property){cfg->kafka[i].name, cfg->kafka[i].value};
    if (cfg->kafka_embedded) props[n++] = (kafka_io_property){"bootstrap.servers", d->bootstrap};
    const char *inputs[2] = {cfg->topic_profile, cfg->topic_skills};
    kafka_io_options o = {
        .properties = props,
        .n_properties = n,
        .group_id = cfg->group_id,
        .input_topics = inputs,
        .n_input_topics = 2,
        .batch_max_messages = cfg->batch_size,
        .batch_max_wait_ms = cfg->batch_max_wait_ms,
        .close_timeout_ms = cfg->shutdown_timeout_ms,
        .txn_timeout_ms = cfg->txn_timeout_ms,
    };
    kafka_io_callbacks cbs = {.on_batch = daemon_pipeline_on_batch,
                              .on_rebalance = on_rebalance,
                              .on_error = on_kafka_error,
                              .on_closed = on_kafka_closed,
                              .on_log = on_kafka_log};
    d->kafka = kafka_io_new(d->loop, &o, &cbs, d, &err);
    free(props);
    if (!d->kafka || kafka_io_start(d->kafka, &err)) {
        PX_LOG_ERRF(d->log, "cannot start Kafka", PX_LOG_STR("error", err.msg));
        if (d->kafka) kafka_io_free(d->kafka);
        d->kafka = NULL;
        daemon_stop(d, 1);
        return;
    }
    d->kafka_started = true;
    PX_LOG_INFOF(d->log, "kafka consumer started", PX_LOG_STR("group", cfg->group_id),
                 PX_LOG_STR("bootstrap", d->bootstrap),
                 PX_LOG_BOOL("transactions", cfg->transactional_id != NULL));
    daemon_readiness_changed(d);
}

/* --- timers and signals --- */

static void on_watchdog(uv_timer_t *t) {
    px_daemon *d = t->data;
    service_notify_watchdog(&d->notify, NULL);
}

/* Every few seconds: STATUS= for systemd, and the gauges read from the adapters. */
static void on_status_timer(uv_timer_t *t) {
    px_daemon *d = t->data;
    metrics_series *s;
    kafka_io_counters kc = {0};
    if (d->kafka) {
        kafka_io_get_counters(d->kafka, &kc);
        kafka_io_partition_lag lag[256];
        size_t n = kafka_io_get_lag(d->kafka, lag, 256);
        for (size_t i = 0; i < n && i < 256; i++) {
            char p[16];
            snprintf(p, sizeof p, "%d", lag[i].partition);
            const char *l[2] = {lag[i].topic, p};
            if (lag[i].lag >= 0 && (s = metrics_series_get(d->m.lag, l, NULL)))
                metrics_gauge_set(s, (double)lag[i].lag);
        }
    }
    double secs = (double)uv_timer_get_repeat(t) / 1000.0;
    double rate = (double)(kc.messages_consumed - d->events_at_last_status) / (secs > 0 ? secs : 1);
    d->events_at_last_status = kc.messages_consumed;
    char status[256];
    snprintf(status, sizeof status, "%s; ROME %s; %zu partition(s); %.1f events/s; redis %s%s",
             d->stopping       ? "stopping"
             : daemon_ready(d) ? "running"
                               : "starting",
             d->engine ? d->engine->version : "none", kc.assigned_partitions, rate,
             store_redis_is_available(d->store) ? "up" : "DOWN",
             d->kafka && kafka_io_paused(d->kafka) ? "; consumption paused" : "");
    service_notify_status(&d->notify, status, NULL);
}

static void on_signal(uv_signal_t *s, int signum) {
    px_daemon *d = s->data;
    PX_LOG_INFOF(d->log, "signal received, shutting down", PX_LOG_INT("signal", signum));
    daemon_stop(d, 0);
}

static void on_handle_closed(uv_handle_t *h) {
    px_daemon *d = h->data;
    d->open_handles--;
}

static void close_handle(px_daemon *d, uv_handle_t *h) {
    if (!uv_is_closing(h)) {
        h->data = d;
        d->open_handles++;
        uv_close(h, on_handle_closed);
    }
}

static void on_store_closed(store_redis *s, void *opaque) {
    px_daemon *d = opaque;
    store_redis_free(s);
    d->open_handles--;
}

static void on_http_closed(http_server *s, void *opaque) {
    px_daemon *d = opaque;
    http_server_free(s);
    d->open_handles--;
}

/* After Kafka is closed: the rest goes, and the loop ends when the last handle is closed. */
void daemon_close_rest(px_daemon *d) {
    if (d->kafka) {
        kafka_io_free(d->kafka);
        d->kafka = NULL;
    }
    if (d->store) {
        d->open_handles++;
        store_redis_close(d->store, on_store_closed);
        d->store = NULL;
    }
    if (d->http) {
        d->open_handles++;
        http_server_close(d->http, on_http_closed);
        d->http = NULL;
    }
    close_handle(d, (uv_handle_t *)&d->watchdog);
    close_handle(d, (uv_handle_t *)&d->status);
    close_handle(d, (uv_handle_t *)&d->retry);
    close_handle(d, (uv_handle_t *)&d->dlq_retry);
    close_handle(d, (uv_handle_t *)&d->sigterm);
    close_handle(d, (uv_handle_t *)&d->sigint);
}

void daemon_stop(px_daemon *d, int exit_code) {
    if (d->stopping) return;
    d->stopping = true;
    d->exit_code = exit_code;
    service_notify_stopping(&d->notify,
                            "stopping: finishing the open batch, leaving the consumer group", NULL);
    daemon_readiness_changed(d);
    if (d->kafka) {
        daemon_pipeline_stop(d);
        kafka_io_close(d->kafka); /* on_kafka_closed continues */
    } else {
        daemon_close_rest(d);
    }
}

int daemon_start(px_daemon *d, uv_loop_t *loop, const config *cfg, px_log *log, px_error *err) {
    memset(d, 0, sizeof *d);
    d->loop = loop;
    d->cfg = cfg;
    d->log = log;
    /* Handles first: whatever fails below, daemon_stop() can close them all. */
    uv_timer_init(loop, &d->watchdog);
    uv_timer_init(loop, &d->status);
    uv_timer_init(loop, &d->retry);
    uv_timer_init(loop, &d->dlq_retry);
    uv_signal_init(loop, &d->sigterm);
    uv_signal_init(loop, &d->sigint);
    d->watchdog.data = d->status.data = d->retry.data = d->dlq_retry.data = d;
    d->sigterm.data = d->sigint.data = d;
    if (register_metrics(d, err) || daemon_pipeline_init(d, err) ||
        service_notify_init(&d->notify, err))
        return -1;

    if (cfg->kafka_embedded) {
        const char *topics[4] = {cfg->topic_profile, cfg->topic_skills, cfg->topic_suggestions,
                                 cfg->topic_dlq};
        if (!(d->embedded = kafka_embedded_start(cfg->embedded_brokers, topics, 4,
                                                 cfg->embedded_partitions, 1, err)))
            return -1;
        d->bootstrap = strdup(kafka_embedded_bootstraps(d->embedded));
        /* Other clients (passerelle send/tail, kcat, kafkajs) connect here. */
        printf("embedded Kafka broker: bootstrap.servers=%s\n", d->bootstrap);
        fflush(stdout);
    } else {
        for (size_t i = 0; i < cfg->n_kafka; i++)
            if (!strcmp(cfg->kafka[i].name, "bootstrap.servers"))
                d->bootstrap = strdup(cfg->kafka[i].value);
        if (!d->bootstrap) d->bootstrap = strdup("(librdkafka default)");
    }
    if (!d->bootstrap) return px_error_set(err, PX_ENOMEM, "out of memory");

    store_redis_options so;
    store_redis_options_init(&so);
    so.endpoint = cfg->redis;
    so.connect_timeout_ms = cfg->connect_timeout_ms;
    so.command_timeout_ms = cfg->command_timeout_ms;
    so.backoff_initial_ms = cfg->backoff_initial_ms;
    so.backoff_max_ms = cfg->backoff_max_ms;
    /* one MGET / MULTI per batch, whatever its size: its states, its events' kept answers and,
     * for an erasure, the deletion of the person's (daemon_pipeline.c) */
    so.max_batch = STORE_REDIS_BATCH_MAX;
    so.index_prefix = cfg->rome_key_prefix; /* NULL: the endpoint prefix */
    so.round_trips = metrics_series_get(d->m.redis_round_trips, NULL, NULL); /* live counters */
    so.errors = metrics_series_get(d->m.redis_errors, NULL, NULL);
    store_redis_callbacks scb = {on_store_status, daemon_index_on_published};
    if (!(d->store = store_redis_open(loop, &so, &scb, d, err))) return -1;

    if (cfg->http_enabled) {
        http_server_options ho = {.host = cfg->http_address, .port = cfg->http_port};
        if (!(d->http = http_server_start(loop, &ho, d->m.registry, on_readiness, d, err)))
            return -1;
        PX_LOG_INFOF(log, "metrics and health listening", PX_LOG_STR("address", cfg->http_address),
                     PX_LOG_INT("port", http_server_port(d->http)));
    }

    uint64_t wd = service_notify_watchdog_usec(&d->notify);
    if (wd)
        uv_timer_start(&d->watchdog, on_watchdog, 0,
                       wd / 1000 ? wd / 1000 : 1); /* wd is already half the timeout */
    uv_timer_start(&d->status, on_status_timer, 5000, 5000);
    uv_signal_start(&d->sigterm, on_signal, SIGTERM);
    uv_signal_start(&d->sigint, on_signal, SIGINT);
    PX_LOG_INFOF(log, "starting", PX_LOG_STR("group", cfg->group_id),
                 PX_LOG_BOOL("embedded_kafka", cfg->kafka_embedded),
                 PX_LOG_UINT("workers", d->n_workers));
    return 0;
}

void daemon_free(px_daemon *d) {
    if (d->n_flights)
        PX_LOG_WARNF(d->log,
                     "outputs without delivery report at exit; their inputs will be consumed again",
                     PX_LOG_UINT("outputs", d->n_flights));
    daemon_pipeline_free(d);
    daemon_engine_free(d->engine);
    daemon_engine_free(d->next_engine);
    kafka_embedded_stop(d->embedded);
    metrics_free(d->m.registry);
    free(d->bootstrap);
}
