/* The ROME index of a running daemon: fetched from Redis at start and whenever a new one is
 * published, built into an engine (index + matcher) on the thread pool, and swapped in between two
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
    for (size_t w = 0; w < e->n_scratch; w++) matcher_scratch_free(e->scratch[w]);
    free(e->scratch);
    matcher_free(e->matcher);
    rome_index_free(e->index);
    free(e);
}

/* Takes ownership of idx. Touches nothing of the daemon but its (read-only) matching settings, so
 * that it can run on the thread pool. One matcher, shared by the workers, each with its scratch. */
static daemon_engine *engine_build(const matcher_config *matching, rome_index *idx, const char *key,
                                   size_t workers, px_error *err) {
    daemon_engine *e = calloc(1, sizeof *e);
    if (!e) {
        rome_index_free(idx);
        px_error_set(err, PX_ENOMEM, "out of memory");
        return NULL;
    }
    e->index = idx;
    snprintf(e->key, sizeof e->key, "%s", key ? key : "");
    suggestion_rome_version(idx, e->version, sizeof e->version);
    if (!(e->matcher = matcher_build(idx, matching, err)) ||
        !(e->scratch = calloc(workers, sizeof *e->scratch))) {
        if (e->matcher) px_error_set(err, PX_ENOMEM, "out of memory");
        daemon_engine_free(e);
        return NULL;
    }
    for (; e->n_scratch < workers; e->n_scratch++)
        if (!(e->scratch[e->n_scratch] = matcher_scratch_new(e->matcher, err))) {
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
    PX_LOG_INFOF(d->log, old ? "ROME index swapped" : "ROME index loaded",
                 PX_LOG_STR("version", d->engine->version),
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

/* What a local load may take, asked of systemd beyond TimeoutStartSec: reading the CSV export
 * takes seconds, more on a slow disk, and happens before READY=1. */
/* The engine of the configured snapshot or CSV directory ([rome] snapshot or dir, which must be
 * set): what the daemon starts on without a publication, and what --check-config tries. */
static daemon_engine *local_engine(const config *cfg, px_error *err) {
    rome_index *idx = cfg->rome_snapshot ? rome_snapshot_load(cfg->rome_snapshot, err)
                                         : rome_load_csv(cfg->rome_dir, NULL, err);
    return idx ? engine_build(&cfg->matching, idx, NULL, daemon_workers(cfg), err) : NULL;
}

int daemon_index_check(const config *cfg, px_error *err) {
    if (!cfg->rome_snapshot && !cfg->rome_dir) return 0;
    daemon_engine *e = local_engine(cfg, err);
    daemon_engine_free(e);
    return e ? 0 : -1;
}

#define LOCAL_LOAD_EXTEND_USEC (120ull * 1000000)

/* No index is published in Redis: a configured snapshot or CSV directory lets the daemon start
 * anyway (and a later publication replaces it). */
static void load_local(px_daemon *d) {
    const config *cfg = d->cfg;
    if (!cfg->rome_snapshot && !cfg->rome_dir) {
        PX_LOG_WARNF(d->log,
                     "no ROME index published in Redis yet; waiting for `passerelle rome publish`",
                     PX_LOG_STR("hint", "or set [rome] snapshot or dir"));
        return;
    }
    /* A no-op once the start is over (or without systemd): only a start can be extended. */
    service_notify_extend_timeout(&d->notify, LOCAL_LOAD_EXTEND_USEC, NULL);
    px_error err = {0};
    daemon_engine *e = local_engine(cfg, &err);
    if (!e) {
        PX_LOG_ERRF(d->log, "cannot load the local ROME index", PX_LOG_STR("error", err.msg));
        daemon_stop(d, 1);
        return;
    }
    engine_ready(d, e);
}

/* Decoding a published index and building its matcher takes ~0.1 s for ROME v60: it runs on the
 * thread pool, and the loop goes on matching with the current engine meanwhile. */
typedef struct engine_job {
    uv_work_t req;
    px_daemon *d;
    void *bytes; /* the snapshot, owned until adopted */
    size_t len;
    char key[REDIS_ENDPOINT_KEY_MAX];
    size_t workers;
    daemon_engine *engine; /* the result, or NULL with err */
    px_error err;
} engine_job;

/* On the thread pool: reads only the job and the configuration. */
static void engine_job_work(uv_work_t *req) {
    engine_job *job = req->data;
    rome_index *idx = rome_snapshot_adopt(job->bytes, job->len, &job->err);
    job->bytes = NULL;
    job->engine =
        idx ? engine_build(&job->d->cfg->matching, idx, job->key, job->workers, &job->err) : NULL;
}

/* Back on the loop: installs the engine (a bad publication never replaces a good index), then
 * fetches again if a newer publication was announced meanwhile. */
static void engine_job_done(uv_work_t *req, int status) {
    engine_job *job = req->data;
    px_daemon *d = job->d;
    d->index_fetching = false;
    if (status != 0 || d->stopping) {
        daemon_engine_free(job->engine);
    } else if (!job->engine) {
        PX_LOG_ERRF(d->log, "published ROME index refused", PX_LOG_STR("key", job->key),
                    PX_LOG_STR("error", job->err.msg));
        if (!d->engine) load_local(d);
    } else {
        engine_ready(d, job->engine);
    }
    free(job);
    if (!d->stopping && d->index_refetch) {
        d->index_refetch = false;
        daemon_index_fetch(d);
    }
}

static void on_index(store_redis *s, const px_error *err, const char *key, void *bytes, size_t len,
                     void *opaque) {
    (void)s;
    px_daemon *d = opaque;
    d->index_fetching = false;
    if (d->index_refetch) {
        /* A publication came while this fetch was in flight: this answer may predate it. */
        d->index_refetch = false;
        if (!err) free(bytes);
        daemon_index_fetch(d);
        return;
    }
    if (err) {
        if (err->code == PX_ENOTFOUND) {
            if (!d->engine && !d->next_engine) load_local(d);
        } else {
            PX_LOG_WARNF(d->log, "fetching the ROME index failed; will retry when Redis is back",
                         PX_LOG_STR("error", err->msg));
        }
        return;
    }
    if (d->engine && !strcmp(d->engine->key, key)) {
        free(bytes);
        return; /* already current */
    }
    engine_job *job = calloc(1, sizeof *job);
    if (!job) {
        free(bytes);
        PX_LOG_ERRF(d->log, "published ROME index not built", PX_LOG_STR("key", key),
                    PX_LOG_STR("error", "out of memory"));
        return;
    }
    job->d = d;
    job->bytes = bytes;
    job->len = len;
    job->workers = d->n_workers;
    snprintf(job->key, sizeof job->key, "%s", key);
    job->req.data = job;
    d->index_fetching = true; /* a publication announced meanwhile is fetched once this is done */
    if (uv_queue_work(d->loop, &job->req, engine_job_work, engine_job_done) != 0) {
        engine_job_work(&job->req);
        engine_job_done(&job->req, 0);
    }
}

void daemon_index_fetch(px_daemon *d) {
    if (d->stopping) return;
    if (d->index_fetching) {
        d->index_refetch = true;
        return;
    }
    px_error err = {0};
    if (store_redis_get_current_index(d->store, on_index, d, &err) == 0)
        d->index_fetching = true;
    else
        PX_LOG_DEBUGF(d->log, "cannot ask Redis for the ROME index yet",
                      PX_LOG_STR("error", err.msg));
}

void daemon_index_on_published(store_redis *s, const char *key, void *opaque) {
    (void)s;
    px_daemon *d = opaque;
    if (key) PX_LOG_INFOF(d->log, "a new ROME index was published", PX_LOG_STR("key", key));
    daemon_index_fetch(d);
}
