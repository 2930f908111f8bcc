/* The ROME index of a running daemon: fetched from Redis at start and whenever a new one is
 * published, built into an engine (index + matcher) off the hot path, and swapped in between two
 * batches so that an event is always matched entirely on one version. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon.h"
#include "rome_load.h"
#include "rome_snapshot.h"
#include "suggestion_codec.h"

void daemon_engine_free(daemon_engine *e) {
    if (!e) return;
    matcher_scratch_free(e->scratch);
    matcher_free(e->matcher);
    rome_index_free(e->index);
    free(e);
}

/* Takes ownership of idx. */
static daemon_engine *engine_build(px_daemon *d, rome_index *idx, const char *key, px_error *err) {
    daemon_engine *e = calloc(1, sizeof *e);
    if (!e) {
        rome_index_free(idx);
        px_error_set(err, 1, "out of memory");
        return NULL;
    }
    e->index = idx;
    snprintf(e->key, sizeof e->key, "%s", key ? key : "");
    suggestion_rome_version(idx, e->version, sizeof e->version);
    if (!(e->matcher = matcher_build(idx, &d->cfg->matching, err)) || !(e->scratch = matcher_scratch_new(e->matcher, err))) {
        daemon_engine_free(e);
        return NULL;
    }
    return e;
}

static void set_version_gauge(px_daemon *d, const daemon_engine *old, const daemon_engine *now) {
    if (old) {
        const char *l[1] = {old->version};
        metrics_series *s = metrics_series_get(d->m.rome_version, l, NULL);
        if (s) metrics_series_remove(s);
    }
    const char *l[1] = {now->version};
    metrics_series *s = metrics_series_get(d->m.rome_version, l, NULL);
    if (s) metrics_gauge_set(s, now->index->rome_version);
}

void daemon_index_swap_if_pending(px_daemon *d) {
    if (!d->next_engine || d->batch) return;
    daemon_engine *old = d->engine;
    d->engine = d->next_engine;
    d->next_engine = NULL;
    set_version_gauge(d, old, d->engine);
    metrics_series *s = metrics_series_get(d->m.index_swaps, NULL, NULL);
    if (s && old) metrics_counter_inc(s);
    PX_LOG_INFOF(d->log, old ? "ROME index swapped" : "ROME index loaded", PX_LOG_STR("version", d->engine->version),
                 PX_LOG_STR("key", d->engine->key[0] ? d->engine->key : "(local file)"),
                 PX_LOG_STR("previous", old ? old->version : "none"));
    daemon_engine_free(old);
    daemon_readiness_changed(d);
}

/* Installs a freshly built engine: at once when idle, else at the next batch boundary. */
static void engine_ready(px_daemon *d, daemon_engine *e) {
    daemon_engine_free(d->next_engine);
    d->next_engine = e;
    daemon_index_swap_if_pending(d);
}

/* No index is published in Redis: a configured snapshot or CSV directory lets the daemon start
 * anyway (and a later publication replaces it). */
static void load_local(px_daemon *d) {
    const config *cfg = d->cfg;
    if (!cfg->rome_snapshot && !cfg->rome_dir) {
        PX_LOG_WARNF(d->log, "no ROME index published in Redis yet; waiting for `passerelle rome publish`",
                     PX_LOG_STR("hint", "or set [rome] snapshot or dir"));
        return;
    }
    px_error err = {0};
    rome_index *idx = cfg->rome_snapshot ? rome_snapshot_load(cfg->rome_snapshot, &err) : rome_load_csv(cfg->rome_dir, NULL, &err);
    daemon_engine *e = idx ? engine_build(d, idx, NULL, &err) : NULL;
    if (!e) {
        PX_LOG_ERRF(d->log, "cannot load the local ROME index", PX_LOG_STR("error", err.msg));
        daemon_stop(d, 1);
        return;
    }
    engine_ready(d, e);
}

static void on_index(store_redis *s, const px_error *err, const char *key, void *bytes, size_t len, void *ud) {
    (void)s;
    px_daemon *d = ud;
    d->index_fetching = false;
    if (d->index_refetch) {
        /* A publication came while this fetch was in flight: this answer may predate it. */
        d->index_refetch = false;
        if (!err) free(bytes);
        daemon_index_fetch(d);
        return;
    }
    if (err) {
        if (err->code == STORE_REDIS_ENOINDEX) {
            if (!d->engine && !d->next_engine) load_local(d);
        } else {
            PX_LOG_WARNF(d->log, "fetching the ROME index failed; will retry when Redis is back", PX_LOG_STR("error", err->msg));
        }
        return;
    }
    if (d->engine && !strcmp(d->engine->key, key)) {
        free(bytes);
        return; /* already current */
    }
    px_error perr = {0};
    rome_index *idx = rome_snapshot_adopt(bytes, len, &perr);
    daemon_engine *e = idx ? engine_build(d, idx, key, &perr) : NULL;
    if (!e) {
        /* A bad publication never replaces a good index. */
        PX_LOG_ERRF(d->log, "published ROME index refused", PX_LOG_STR("key", key), PX_LOG_STR("error", perr.msg));
        if (!d->engine) load_local(d);
        return;
    }
    engine_ready(d, e);
}

void daemon_index_fetch(px_daemon *d) {
    if (d->stopping) return;
    if (d->index_fetching) {
        d->index_refetch = true;
        return;
    }
    px_error err = {0};
    if (store_redis_get_current_index(d->store, on_index, d, &err) == 0) d->index_fetching = true;
    else PX_LOG_DEBUGF(d->log, "cannot ask Redis for the ROME index yet", PX_LOG_STR("error", err.msg));
}

void daemon_index_on_published(store_redis *s, const char *key, void *ud) {
    (void)s;
    px_daemon *d = ud;
    if (key) PX_LOG_INFOF(d->log, "a new ROME index was published", PX_LOG_STR("key", key));
    daemon_index_fetch(d);
}
