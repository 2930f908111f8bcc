/* The batch pipeline: decode → fetch states (one round trip) → match (on the workers) → write
 * states (one round trip) → produce → store offsets on delivery. See daemon.h. */
#include <inttypes.h>
#include <stdlib.h>
#if defined(__GLIBC__)
#include <malloc.h>
#endif
#include <string.h>
#include <time.h>

#include "daemon.h"
#include "dlq_record.h"
#include "suggestion_codec.h"
#include "user_rules.h"

/* An output to produce once the states are written. */
typedef struct batch_output {
    const char *topic;
    char *value; /* NULL = tombstone */
    size_t value_len;
    const char *type; /* for metrics */
} batch_output;

/* At most two outputs answer one message: skills.suggested and jobs.suggested. */
#define ITEM_OUTPUTS_MAX 2

/* What one consumed message became. The fields from `out` on are written by the worker that owns
 * the message, read on the loop once every worker is done. */
typedef struct batch_item {
    const kafka_io_msg *msg;
    bool decoded;
    event ev;
    int user;      /* index in batch users, or -1 */
    size_t worker; /* the job that applies it */
    int reason;    /* event_reason when the message is dead-lettered, else EVENT_OK */
    char why[PX_ERROR_MSG_MAX];
    batch_output out[ITEM_OUTPUTS_MAX];
    size_t n_out;
    double match_s; /* time matcher_run() took, -1 when not called */
    user_repeat repeat;
} batch_item;

typedef struct batch_user {
    const char *user_id; /* points into the first event of this user */
    user_state state;
    bool loaded;      /* state decoded (or absent) */
    bool corrupt;     /* stored state unreadable: its events are dead-lettered */
    bool dirty;       /* state must be written */
    bool erased;      /* the state written is an erasure's: kept for erased_ttl_s */
    size_t erased_at; /* 1 + the message index of its last erasure in the batch, 0 for none */
} batch_user;

/* A produced output waiting for its delivery report. Owns what it produced (lent to kafka_io, not
 * copied) so that a failed delivery can be produced again: an output is never dropped. */
typedef struct flight {
    struct flight *prev, *next; /* in d->flights: what is left at exit is freed by daemon_free */
    px_daemon *d;
    struct flight_msg *msg;
    const char *topic;
    char *key, *value;
    size_t key_len, value_len;
    const char *type;
    int64_t replays;   /* DLQ_REPLAY_HEADER value to produce with, -1 for none */
    unsigned attempts; /* a dead letter's deliveries retried so far */
    bool waiting;      /* a dead letter waiting for d->dlq_retry to be produced again */
    uint64_t retry_at; /* when, on the loop's clock (ms) */
} flight;

/* The produced batch behind flight_msgs: once every one is done, the allocator is asked to give
 * the batch's freed memory back to the system (malloc_trim, see batch_delivered). */
typedef struct flight_batch {
    size_t remaining; /* flight_msgs not yet done */
} flight_batch;

/* The consumed message behind one or more flights: its offset is stored when all are delivered. */
typedef struct flight_msg {
    flight_batch *batch;
    const char *topic; /* kafka_io's topic string, valid for its life */
    int32_t partition;
    int64_t offset;
    int64_t timestamp_ms;
    unsigned remaining; /* flights not yet reported */
    bool failed;        /* one was not delivered: the offset must not be stored */
} flight_msg;

static void inflight_gauge(px_daemon *d) {
    metrics_series *s = metrics_series_get(d->m.inflight_bytes, NULL, NULL);
    if (s) metrics_gauge_set(s, (double)d->inflight_bytes);
}

static void flight_link(px_daemon *d, flight *f) {
    f->prev = NULL;
    f->next = d->flights;
    if (d->flights) d->flights->prev = f;
    d->flights = f;
    d->n_flights++;
    d->inflight_bytes += f->key_len + f->value_len;
    inflight_gauge(d);
}

static void flight_unlink(px_daemon *d, flight *f) {
    if (f->prev)
        f->prev->next = f->next;
    else
        d->flights = f->next;
    if (f->next) f->next->prev = f->prev;
    d->n_flights--;
    d->inflight_bytes -= f->key_len + f->value_len;
    inflight_gauge(d);
}

/* The running average of output bytes (keys and values) per consumed message: each batch
 * produced moves it a quarter of the way to its own average. */
static void learn_output_bytes(px_daemon *d, size_t bytes, size_t msgs) {
    if (msgs == 0) return;
    double mine = (double)bytes / (double)msgs;
    d->out_bytes_per_msg =
        d->out_bytes_per_msg > 0 ? d->out_bytes_per_msg * 0.75 + mine * 0.25 : mine;
    metrics_series *s = metrics_series_get(d->m.output_bytes_per_event, NULL, NULL);
    if (s) metrics_gauge_set(s, d->out_bytes_per_msg);
}

/* The bytes a batch of n messages is expected to put in flight. */
static size_t expected_bytes(const px_daemon *d, size_t n) {
    return (size_t)(d->out_bytes_per_msg * (double)n);
}

/* Whether a batch of n messages may start: nothing is in flight (a batch always goes through
 * alone, whatever the budget), or what is in flight plus what it is expected to add fit [daemon]
 * inflight_bytes. Consumption thus pauses before the budget is overshot by a batch, not after. */
static bool batch_fits(const px_daemon *d, size_t n) {
    return d->inflight_bytes == 0 ||
           (d->inflight_bytes < d->cfg->inflight_bytes &&
            expected_bytes(d, n) <= d->cfg->inflight_bytes - d->inflight_bytes);
}

/* Every output of a produced batch is done: what it allocated is freed, and the allocator gives
 * the free pages at the top of its heaps and inside them back to the system, so that the peak of
 * one batch does not stay resident (glibc; elsewhere a no-op). At most once every TRIM_EVERY_MS:
 * a trim after every batch cost 10-25 % of the throughput here (the pages it gives back are
 * faulted in again by the next batch), for ~10 MiB of peak RSS (bench/README.md, issue 15). */
#define TRIM_EVERY_MS 1000u
static void batch_delivered(px_daemon *d, flight_batch *fb) {
    free(fb);
#if defined(__GLIBC__)
    uint64_t now = uv_now(d->loop);
    if (d->trimmed_at && now - d->trimmed_at < TRIM_EVERY_MS) return;
    d->trimmed_at = now;
    malloc_trim(0);
#else
    (void)d;
#endif
}

#define RETRY_FIRST_MS 100u   /* first pause after a batch was given back */
#define RETRY_MAX_MS   10000u /* longest pause */

/* A dead letter whose delivery fails is produced again after 100 ms, 200 ms, … (5 retries, 3.1 s
 * in all); then its input is passed over (passerelle_dlq_failures_total, an error log), so that a
 * DLQ that cannot take it does not stop the partition. */
#define DLQ_RETRIES        5u
#define DLQ_RETRY_FIRST_MS 100u
/* What a dead letter leaves under the producer's message.max.bytes for its key, the replay header
 * and Kafka's framing. */
#define DLQ_HEADROOM 1024u

struct daemon_batch {
    px_daemon *d;
    const kafka_io_batch *kb; /* valid until released or retried */
    size_t n_msgs;            /* kb->count, kept for after the release */
    daemon_engine *engine;    /* pinned for the whole batch */
    batch_item *items;
    batch_user *users;
    size_t n_users;
    size_t n_outputs;       /* over all items, once matched */
    user_rules rules;       /* the workers' rules but their scratch, set on the loop */
    size_t max_message;     /* the producer's message.max.bytes */
    size_t jobs, jobs_left; /* worker jobs queued for the batch, and not yet done */
};

/* One matching job: the messages of the batch whose `worker` is its index. Lives as long as the
 * daemon; only one batch is matched at a time. */
typedef struct daemon_worker {
    uv_work_t req;
    daemon_batch *b;
    size_t index;
    match_result result; /* reused batch after batch */
    int rc;              /* -1: the batch must be retried (failed, err) */
    size_t failed;       /* the message it failed on */
    px_error err;
} daemon_worker;

int64_t daemon_now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void count(metrics_family *f, const char *a, const char *b) {
    const char *labels[2] = {a, b};
    metrics_series *s = metrics_series_get(f, labels, NULL);
    if (s) metrics_counter_inc(s);
}

static metrics_series *series0(metrics_family *f) { return metrics_series_get(f, NULL, NULL); }

/* The message an unknown key was met in, for the decoder's callback. */
typedef struct unknown_key_at {
    px_daemon *d;
    const kafka_io_msg *msg;
} unknown_key_at;

/* Decoding stays lenient (forward compatibility), but a key the contract does not name is often a
 * producer's typo ("avoids"), so it is counted, under its own label for the first
 * DAEMON_UNKNOWN_KEYS_MAX distinct keys and "other" after, and each new key is logged once. */
static void on_unknown_key(const event_unknown_key *key, void *opaque) {
    const unknown_key_at *at = opaque;
    px_daemon *d = at->d;
    size_t i = 0;
    while (i < d->n_unknown_keys && strcmp(d->unknown_keys[i], key->field)) i++;
    if (i == d->n_unknown_keys && i < DAEMON_UNKNOWN_KEYS_MAX) {
        snprintf(d->unknown_keys[i], sizeof d->unknown_keys[i], "%s", key->field);
        d->n_unknown_keys++;
        PX_LOG_WARNF(
            d->log, "unknown key in an input event, ignored", PX_LOG_STR("topic", at->msg->topic),
            PX_LOG_INT("partition", at->msg->partition), PX_LOG_INT("offset", at->msg->offset),
            PX_LOG_STR("key", key->path), PX_LOG_STR("did_you_mean", key->suggestion));
    } else if (i == DAEMON_UNKNOWN_KEYS_MAX && !d->unknown_keys_overflowed) {
        d->unknown_keys_overflowed = true;
        PX_LOG_WARNF(d->log, "too many distinct unknown keys, further ones count as key=other",
                     PX_LOG_UINT("max", DAEMON_UNKNOWN_KEYS_MAX), PX_LOG_STR("key", key->path));
    }
    count(d->m.unknown_keys, at->msg->topic, i < d->n_unknown_keys ? d->unknown_keys[i] : "other");
}

static void batch_free(daemon_batch *b) {
    for (size_t i = 0; i < b->n_msgs; i++) {
        if (b->items[i].decoded) event_free(&b->items[i].ev);
        for (size_t o = 0; o < b->items[i].n_out; o++) free(b->items[i].out[o].value);
    }
    for (size_t u = 0; u < b->n_users; u++) user_state_free(&b->users[u].state);
    free(b->items);
    free(b->users);
    free(b);
}

/* Gives the batch back to Kafka (it is consumed again, in order) and pauses consumption until
 * Redis is back. Used for every failure that is not the events' fault. */
static void batch_abort(daemon_batch *b, const char *why) {
    px_daemon *d = b->d;
    PX_LOG_WARNF(d->log, "batch given back to Kafka, will be consumed again",
                 PX_LOG_STR("reason", why), PX_LOG_UINT("messages", b->n_msgs));
    metrics_series *s = series0(d->m.batches_retried);
    if (s) metrics_counter_inc(s);
    const kafka_io_batch *kb = b->kb;
    d->batch = NULL;
    batch_free(b);
    kafka_io_batch_retry(d->kafka, kb);
    /* Never retry at once: a Redis that is up but refuses writes (OOM, READONLY replica, ACL)
     * would otherwise be hammered in a loop. Consumption resumes after a growing delay, or when
     * Redis comes back if it is down. */
    kafka_io_pause(d->kafka);
    d->retry_delay_ms = d->retry_delay_ms ? d->retry_delay_ms * 2 : RETRY_FIRST_MS;
    if (d->retry_delay_ms > RETRY_MAX_MS) d->retry_delay_ms = RETRY_MAX_MS;
    if (store_redis_is_available(d->store))
        uv_timer_start(&d->retry, daemon_pipeline_on_retry, d->retry_delay_ms, 0);
    daemon_index_swap_if_pending(d);
}

void daemon_pipeline_on_retry(uv_timer_t *t) {
    px_daemon *d = t->data;
    if (d->kafka && !d->stopping && store_redis_is_available(d->store) &&
        kafka_io_paused(d->kafka)) {
        PX_LOG_INFOF(d->log, "consumption resumed", PX_LOG_UINT("after_ms", d->retry_delay_ms));
        kafka_io_resume(d->kafka);
    }
}

void daemon_pipeline_pause(px_daemon *d, const char *why) {
    if (d->kafka && !kafka_io_paused(d->kafka)) {
        PX_LOG_WARNF(d->log, "consumption paused", PX_LOG_STR("reason", why));
        kafka_io_pause(d->kafka);
    }
}

/* Takes sb's buffer (NULL: a tombstone) as the next output of the message. */
static void add_output(batch_item *it, const char *topic, const char *type, msgpack_sbuffer *sb) {
    batch_output *o = &it->out[it->n_out++];
    o->topic = topic;
    o->type = type;
    o->value = sb ? sb->data : NULL;
    o->value_len = sb ? sb->size : 0;
    if (sb) sb->data = NULL;
    /* The buffer grew by doubling: it is cut to its bytes before it waits for its delivery (up to
     * half of what the outputs in flight hold would otherwise be slack). */
    if (o->value && sb->alloc > o->value_len) {
        char *fit = realloc(o->value, o->value_len ? o->value_len : 1);
        if (fit) o->value = fit;
    }
}

static void dead_letter(daemon_batch *b, size_t i, int reason, const char *why) {
    batch_item *it = &b->items[i];
    it->reason = reason;
    snprintf(it->why, sizeof it->why, "%s", why);
}

/* Encodes the DLQ record of a refused message (on a worker: counted and logged on the loop). */
static int emit_dead_letter(daemon_batch *b, size_t i) {
    px_daemon *d = b->d;
    batch_item *it = &b->items[i];
    dlq_record rec = {
        .value = it->msg->value,
        .value_len = it->msg->value_len,
        .key = it->msg->key,
        .key_len = it->msg->key_len,
        .topic = it->msg->topic,
        .partition = it->msg->partition,
        .offset = it->msg->offset,
        .reason = it->reason,
        .message = it->why,
        .event_id = it->decoded ? it->ev.event_id : NULL,
        .ts = daemon_now_ms(),
    };
    size_t taken = it->msg->key_len + DLQ_HEADROOM;
    rec.max_bytes = b->max_message > taken ? b->max_message - taken : 1;
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    px_error err = {0};
    int rc = dlq_record_encode(&rec, &sb, &err);
    if (!rc) add_output(it, d->cfg->topic_dlq, "dlq", &sb);
    msgpack_sbuffer_destroy(&sb);
    return rc;
}

/* Encodes skills.suggested and/or jobs.suggested answering item i from result. No clock: the
 * envelope's ts is the answered event's (out->ts), so a repeat answered again is the same bytes. */
static int emit_suggestions(daemon_batch *b, size_t i, const match_result *result,
                            const user_outcome *out) {
    px_daemon *d = b->d;
    batch_item *it = &b->items[i];
    const event *ev = &it->ev;
    const char *types[2] = {SUGGESTION_TYPE_SKILLS, SUGGESTION_TYPE_JOBS};
    bool wanted[2] = {out->skills, out->jobs};
    for (int t = 0; t < 2; t++) {
        if (!wanted[t]) continue;
        suggestion_envelope env = {ev->user_id, out->ts, ev->event_id, b->engine->version};
        msgpack_sbuffer sb;
        msgpack_sbuffer_init(&sb);
        msgpack_packer pk;
        msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
        px_error err = {0};
        int rc = t == 0 ? suggestion_encode_skills(&pk, &env, b->engine->matcher, result, &err)
                        : suggestion_encode_jobs(&pk, &env, b->engine->matcher, result, &err);
        if (!rc) add_output(it, d->cfg->topic_suggestions, types[t], &sb);
        msgpack_sbuffer_destroy(&sb);
        if (rc) return -1;
    }
    return 0;
}

/* Applies one decoded event to its user's state in memory (user_rules_apply: the rules are the
 * library's) and wires its outcome: outputs, dead letter, the state to write or delete, what the
 * loop counts. Runs on worker w. Returns -1 only for failures that are not the event's fault (out
 * of memory, a rematch waiting for the index being loaded), with *err: the batch is then
 * retried. */
static int apply_event(daemon_batch *b, daemon_worker *w, size_t i, px_error *err) {
    px_daemon *d = b->d;
    batch_item *it = &b->items[i];
    batch_user *u = &b->users[it->user];
    user_rules rules = b->rules;
    rules.scratch = b->engine->scratch[w->index];
    user_outcome out;
    uint64_t t0 = uv_hrtime();
    int rc = user_rules_apply(&rules, &u->state, u->corrupt, &it->ev, &w->result, &out, err);
    if (out.matched) it->match_s = (double)(uv_hrtime() - t0) / 1e9;
    if (rc) return -1;
    it->repeat = out.repeat;
    if (out.action == USER_EMIT_TOMBSTONE) {
        if (out.state_changed) { /* not for a repeat: the state is already what it left */
            u->erased = true;
            u->erased_at = i + 1;
            u->dirty = true;
            u->corrupt = false; /* the state is gone: later events of the batch start afresh */
        }
        add_output(it, d->cfg->topic_suggestions, "tombstone", NULL);
        return 0;
    }
    if (out.action == USER_DEAD_LETTER) {
        dead_letter(b, i, out.dead_letter_reason, out.why);
        return emit_dead_letter(b, i);
    }
    if (out.action == USER_EMIT_NOTHING) return 0;
    if (out.state_changed) {
        u->dirty = true;
        u->erased = false;
    }
    return emit_suggestions(b, i, &w->result, &out);
}

static void state_key(const px_daemon *d, const char *user_id, char *buf, size_t cap) {
    snprintf(buf, cap, "%s%s", d->cfg->state_prefix, user_id);
}

/* The key of an event's kept answers; false when it does not fit (the answers are then not kept:
 * ids that long are refused by the event limits long before). */
static bool answers_key(const char *user_id, const char *event_id, char *buf, size_t cap) {
    int n = snprintf(buf, cap, "answers:%s:%s", user_id, event_id);
    return n > 0 && (size_t)n < cap;
}

/* Whether item i's answers are kept with the write: a new event applied (its person's state is
 * written) that is answered (suggestions or a tombstone, not a dead letter), and not before the
 * person's erasure in the batch. */
static bool answers_kept(const daemon_batch *b, size_t i) {
    const batch_item *it = &b->items[i];
    return it->decoded && it->reason == EVENT_OK && it->repeat == USER_NOT_REPEATED &&
           it->n_out > 0 && it->user >= 0 && b->users[it->user].dirty &&
           i + 1 >= b->users[it->user].erased_at;
}

/* An event's answers as kept: an array of [type, value], value nil for a tombstone. */
static int answers_encode(const batch_item *it, msgpack_sbuffer *sb) {
    msgpack_packer pk;
    msgpack_packer_init(&pk, sb, msgpack_sbuffer_write);
    /* one call a statement: the packer appends in call order */
    int rc = msgpack_pack_array(&pk, it->n_out);
    for (size_t o = 0; !rc && o < it->n_out; o++) {
        const batch_output *out = &it->out[o];
        size_t len = strlen(out->type);
        rc = msgpack_pack_array(&pk, 2);
        if (!rc) rc = msgpack_pack_str(&pk, len);
        if (!rc) rc = msgpack_pack_str_body(&pk, out->type, len);
        if (!rc && !out->value) rc = msgpack_pack_nil(&pk);
        if (!rc && out->value) rc = msgpack_pack_bin(&pk, out->value_len);
        if (!rc && out->value) rc = msgpack_pack_bin_body(&pk, out->value, out->value_len);
    }
    return rc ? -1 : 0;
}

/* The output types kept answers carry; a tombstone (the last) has no value. */
static const char *const answer_types[] = {SUGGESTION_TYPE_SKILLS, SUGGESTION_TYPE_JOBS,
                                           "tombstone"};
#define ANSWER_TOMBSTONE 2u

/* The index of a kept answer's type in answer_types, ANSWER_TOMBSTONE + 1 for none. */
static size_t answer_type(const msgpack_object_str *t) {
    size_t k = 0;
    while (k <= ANSWER_TOMBSTONE &&
           (strlen(answer_types[k]) != t->size || memcmp(answer_types[k], t->ptr, t->size)))
        k++;
    return k;
}

/* Kept answers read back become item i's outputs, the same bytes. Returns -1 on bytes that are
 * not kept answers (left alone: the repeat then gets nothing, as without them) or out of
 * memory (*oom). */
static int answers_decode(daemon_batch *b, size_t i, const store_redis_bytes *v, bool *oom) {
    batch_item *it = &b->items[i];
    msgpack_unpacked u;
    msgpack_unpacked_init(&u);
    int rc = -1;
    if (msgpack_unpack_next(&u, v->data, v->len, NULL) != MSGPACK_UNPACK_SUCCESS ||
        u.data.type != MSGPACK_OBJECT_ARRAY || u.data.via.array.size > ITEM_OUTPUTS_MAX)
        goto done;
    for (uint32_t o = 0; o < u.data.via.array.size; o++) {
        const msgpack_object *e = &u.data.via.array.ptr[o];
        if (e->type != MSGPACK_OBJECT_ARRAY || e->via.array.size != 2 ||
            e->via.array.ptr[0].type != MSGPACK_OBJECT_STR)
            goto done;
        size_t k = answer_type(&e->via.array.ptr[0].via.str);
        if (k > ANSWER_TOMBSTONE ||
            (e->via.array.ptr[1].type != MSGPACK_OBJECT_BIN) != (k == ANSWER_TOMBSTONE))
            goto done;
    }
    for (uint32_t o = 0; o < u.data.via.array.size; o++) {
        const msgpack_object *val = &u.data.via.array.ptr[o].via.array.ptr[1];
        size_t k = answer_type(&u.data.via.array.ptr[o].via.array.ptr[0].via.str);
        msgpack_sbuffer sb = {0, NULL, 0};
        if (k < ANSWER_TOMBSTONE) {
            sb.size = sb.alloc = val->via.bin.size;
            if (!(sb.data = malloc(sb.size ? sb.size : 1))) {
                *oom = true;
                goto done;
            }
            memcpy(sb.data, val->via.bin.ptr, sb.size);
        }
        add_output(it, b->d->cfg->topic_suggestions, answer_types[k],
                   k < ANSWER_TOMBSTONE ? &sb : NULL);
        b->n_outputs++;
    }
    rc = 0;
done:
    msgpack_unpacked_destroy(&u);
    return rc;
}

static void on_written(store_redis *s, const px_error *err, void *opaque);
static void write_states(daemon_batch *b);

/* The replay count an input carries (DLQ_REPLAY_HEADER), -1 when none (or not a count). */
static int64_t input_replays(const kafka_io_msg *m) {
    const void *v;
    size_t len;
    return kafka_io_msg_header(m, DLQ_REPLAY_HEADER, &v, &len) ? -1 : dlq_replay_count(v, len);
}

/* The value is lent to kafka_io, not copied: f owns it until its delivery report, so that a failed
 * delivery is produced again from the same bytes. */
static int flight_produce(px_daemon *d, flight *f, px_error *err) {
    char count[24];
    kafka_io_header h = {DLQ_REPLAY_HEADER, count, 0};
    if (f->replays >= 0)
        h.value_len = (size_t)snprintf(count, sizeof count, "%" PRId64, f->replays);
    return kafka_io_produce_lent(d->kafka, f->topic, f->key, f->key_len, f->value, f->value_len, &h,
                                 f->replays >= 0, daemon_pipeline_on_delivery, f, err);
}

/* Produces f. Refused outright (fatal state or closing), the delivery path marks its message as
 * not done, so that its offset is never stored and the event is consumed again. */
static void flight_start(px_daemon *d, flight *f) {
    px_error err = {0};
    if (flight_produce(d, f, &err)) daemon_pipeline_on_delivery(d->kafka, &err, -1, -1, f, d);
}

/* Produces every output of the batch, then hands the batch back to kafka_io. The flight records
 * are all allocated first, so that a failure leaves nothing half produced. */
static void produce_outputs(daemon_batch *b) {
    px_daemon *d = b->d;
    size_t n = b->kb->count;
    flight_msg **fm = calloc(n, sizeof *fm);
    flight **fl = calloc(b->n_outputs + 1, sizeof *fl);
    flight_batch *fb = calloc(1, sizeof *fb);
    bool ok = fm && fl && fb;
    for (size_t i = 0, o = 0; ok && i < n; i++) {
        const kafka_io_msg *m = b->items[i].msg;
        for (size_t k = 0; ok && k < b->items[i].n_out; k++, o++) {
            const batch_output *out = &b->items[i].out[k];
            if (!fm[i] && (fm[i] = calloc(1, sizeof **fm)))
                *fm[i] =
                    (flight_msg){fb, m->topic, m->partition, m->offset, m->timestamp_ms, 0, false};
            fl[o] = calloc(1, sizeof **fl);
            ok = fm[i] && fl[o] && (fl[o]->key = malloc(m->key_len + 1));
            if (!ok) break;
            fm[i]->remaining++;
            if (m->key_len) memcpy(fl[o]->key, m->key, m->key_len);
            fl[o]->d = d;
            fl[o]->msg = fm[i];
            fl[o]->topic = out->topic;
            fl[o]->key_len = m->key_len;
            fl[o]->type = out->type;
            /* A dead letter keeps the input's replay count, so that replaying it again is
             * counted. */
            fl[o]->replays = out->topic == d->cfg->topic_dlq ? input_replays(m) : -1;
        }
    }
    if (!ok) {
        for (size_t o = 0; fl && o < b->n_outputs; o++)
            if (fl[o]) free(fl[o]->key), free(fl[o]);
        for (size_t i = 0; fm && i < n; i++) free(fm[i]);
        free(fm);
        free(fl);
        free(fb);
        batch_abort(b, "out of memory producing outputs");
        return;
    }
    size_t bytes = 0;
    for (size_t i = 0; i < n; i++) {
        fb->remaining += fm[i] != NULL;
        for (size_t k = 0; k < b->items[i].n_out; k++)
            bytes += b->items[i].msg->key_len + b->items[i].out[k].value_len;
    }
    learn_output_bytes(d, bytes, n);
    /* fb lives until its last flight_msg is done; the whole batch done before any produce (no
     * output) needs no record. A flight_msg's flights may all be reported before the loop below
     * ends (a refused produce is reported at once): fb->remaining counts them all first. */
    if (fb->remaining == 0) {
        free(fb);
        fb = NULL;
    }
    /* In message order, as one thread would: a person's outputs keep the order of the events. */
    for (size_t i = 0, o = 0; i < n; i++)
        for (size_t k = 0; k < b->items[i].n_out; k++, o++) {
            flight *f = fl[o];
            batch_output *out = &b->items[i].out[k];
            f->value = out->value;
            f->value_len = out->value_len;
            out->value = NULL;
            flight_link(d, f);
            flight_start(d, f);
        }
    /* A message with no output is done at once (a rematch of a person with no profile). */
    for (size_t i = 0; i < n; i++)
        if (!fm[i])
            kafka_io_store_offset(d->kafka, b->items[i].msg->topic, b->items[i].msg->partition,
                                  b->items[i].msg->offset);
    free(fm);
    free(fl);
    const kafka_io_batch *kb = b->kb;
    d->batch = NULL;
    d->retry_delay_ms = 0;
    batch_free(b);
    kafka_io_batch_release(d->kafka, kb);
    daemon_index_swap_if_pending(d);
}

/* Builds the state writes (SET with TTL / DEL) of the changed users: one MULTI/EXEC. The keys go
 * in one buffer of fixed-size slots and the values (states, kept answers) are encoded one after
 * the other into one buffer, op k's ending at ends[k]: a few allocations per batch rather than
 * two per op, which the allocator would otherwise scatter over its arenas. */
static void write_states(daemon_batch *b) {
    px_daemon *d = b->d;
    size_t cap = b->n_users + b->n_msgs + 1;
    for (size_t u = 0; u < b->n_users; u++)
        if (b->users[u].erased_at) cap += b->users[u].state.n_recent;
    const size_t slot = STORE_REDIS_KEY_MAX + 1;
    store_redis_op *ops = calloc(cap, sizeof *ops);
    char *keys = malloc(cap * slot);
    size_t *ends = calloc(cap, sizeof *ends);
    /* Sized once for what it will hold (states are small; answers are their outputs' bytes plus a
     * few of framing), so that it does not grow by doubling copies. */
    size_t want = 1024 + 512 * b->n_users;
    for (size_t i = 0; i < b->n_msgs; i++)
        for (size_t o = 0; o < b->items[i].n_out; o++) want += 32 + b->items[i].out[o].value_len;
    msgpack_sbuffer vals = {0, malloc(want), want};
    if (!vals.data) vals.alloc = 0;
    size_t n = 0;
    px_error err = {0};
    int rc = ops && keys && ends ? 0 : -1;
    for (size_t u = 0; !rc && u < b->n_users; u++) {
        batch_user *bu = &b->users[u];
        if (!bu->dirty) continue;
        char *key = keys + n * slot;
        state_key(d, bu->user_id, key, slot);
        ops[n].key = (store_redis_bytes){key, strlen(key)};
        if (user_state_encode(&bu->state, &vals, &err)) rc = -1;
        ops[n].kind = STORE_REDIS_SET;
        ops[n].ttl_s = bu->erased ? d->cfg->erased_ttl_s : d->cfg->state_ttl_s;
        ends[n++] = vals.size;
    }
    /* Erasure forgets the person's kept answers too (they hold the profile's codes), before the
     * answers kept from the erasure on are written. */
    for (size_t u = 0; !rc && u < b->n_users; u++) {
        const batch_user *bu = &b->users[u];
        for (size_t k = 0; bu->erased_at && k < bu->state.n_recent && n < STORE_REDIS_BATCH_MAX;
             k++) {
            char *key = keys + n * slot;
            if (!answers_key(bu->user_id, bu->state.recent_event_ids[k], key, slot)) continue;
            ops[n] = (store_redis_op){.kind = STORE_REDIS_DEL, .key = {key, strlen(key)}};
            ends[n++] = vals.size;
        }
    }
    /* In the same transaction, the answers of the events the states record (see on_answers). */
    for (size_t i = 0; !rc && n > 0 && i < b->n_msgs && n < STORE_REDIS_BATCH_MAX; i++) {
        if (!answers_kept(b, i)) continue;
        char *key = keys + n * slot;
        const event *ev = &b->items[i].ev;
        if (!answers_key(ev->user_id, ev->event_id, key, slot)) continue;
        if (answers_encode(&b->items[i], &vals)) rc = -1;
        ops[n] =
            (store_redis_op){STORE_REDIS_SET, {key, strlen(key)}, {NULL, 0}, d->cfg->answers_ttl_s};
        ends[n++] = vals.size;
    }
    /* The values' places, now that the buffer has stopped moving. */
    for (size_t k = 0; !rc && k < n; k++) {
        size_t from = k ? ends[k - 1] : 0;
        if (ops[k].kind == STORE_REDIS_SET)
            ops[k].value = (store_redis_bytes){vals.data + from, ends[k] - from};
    }
    if (!rc && n > 0) rc = store_redis_apply_many(d->store, ops, n, on_written, b, &err);
    msgpack_sbuffer_destroy(&vals);
    free(ops);
    free(keys);
    free(ends);
    if (rc) {
        batch_abort(b, err.code ? err.msg : "out of memory");
        return;
    }
    if (n == 0) produce_outputs(b);
}

static void on_written(store_redis *s, const px_error *err, void *opaque) {
    (void)s;
    daemon_batch *b = opaque;
    if (err) {
        batch_abort(b, err->msg);
        return;
    }
    produce_outputs(b);
}

/* The kept answers of the batch's superseded repeats, read back: those found go out again. */
static void on_answers(store_redis *s, const px_error *err, const store_redis_bytes *values,
                       size_t n, void *opaque) {
    (void)s;
    daemon_batch *b = opaque;
    if (err) {
        batch_abort(b, err->msg);
        return;
    }
    bool oom = false;
    for (size_t i = 0, k = 0; i < b->n_msgs && k < n; i++) {
        if (b->items[i].repeat != USER_REPEAT_SUPERSEDED) continue;
        if (values[k].data && answers_decode(b, i, &values[k], &oom) && !oom)
            PX_LOG_WARNF(b->d->log, "kept answers unreadable; the repeat gets none",
                         PX_LOG_STR("topic", b->items[i].msg->topic),
                         PX_LOG_INT("partition", b->items[i].msg->partition),
                         PX_LOG_INT("offset", b->items[i].msg->offset));
        k++;
        if (oom) {
            batch_abort(b, "out of memory reading kept answers");
            return;
        }
    }
    write_states(b);
}

/* One event, one answer, across crashes. A repeat of an earlier event (superseded: the state it
 * was answered from is gone) is answered with the bytes kept with its first write, so that a
 * crash between the write of the states and the delivery of their answers, which makes the
 * batch's earlier events superseded repeats, loses none of them. One MGET for the batch, only
 * when it has such repeats. */
static void fetch_answers(daemon_batch *b) {
    px_daemon *d = b->d;
    size_t n = 0;
    for (size_t i = 0; i < b->n_msgs; i++) n += b->items[i].repeat == USER_REPEAT_SUPERSEDED;
    if (n == 0) {
        write_states(b);
        return;
    }
    store_redis_bytes *keys = calloc(n, sizeof *keys);
    char *keybuf = calloc(n, STORE_REDIS_KEY_MAX + 1);
    px_error err = {0};
    int rc = -1;
    if (keys && keybuf) {
        for (size_t i = 0, k = 0; i < b->n_msgs; i++) {
            if (b->items[i].repeat != USER_REPEAT_SUPERSEDED) continue;
            char *key = keybuf + k * (STORE_REDIS_KEY_MAX + 1);
            const event *ev = &b->items[i].ev;
            if (!answers_key(ev->user_id, ev->event_id, key, STORE_REDIS_KEY_MAX + 1)) key[0] = '-';
            keys[k++] = (store_redis_bytes){key, strlen(key)};
        }
        /* not watched: the states' watch, set by their read, still holds for their write */
        rc = store_redis_get_many(d->store, keys, n, on_answers, b, &err);
    }
    free(keys);
    free(keybuf);
    if (rc) batch_abort(b, err.code ? err.msg : "out of memory");
}

/* On the thread pool: applies the worker's messages in message order (a person's events all
 * belong to one worker), encoding their outputs. Stops at the first failure. */
static void work_run(uv_work_t *req) {
    daemon_worker *w = req->data;
    daemon_batch *b = w->b;
    w->rc = 0;
    for (size_t i = 0; i < b->n_msgs; i++) {
        batch_item *it = &b->items[i];
        if (it->worker != w->index) continue;
        px_error err = {0};
        int rc = it->reason != EVENT_OK ? emit_dead_letter(b, i) : apply_event(b, w, i, &err);
        if (rc) {
            w->rc = -1;
            w->failed = i;
            if (err.code)
                w->err = err;
            else
                px_error_set(&w->err, PX_ENOMEM, "out of memory while processing the batch");
            return;
        }
    }
}

/* Back on the loop, every worker done: the metrics and logs of the step in message order, as one
 * thread would have written them, then the state writes. */
static void batch_matched(daemon_batch *b) {
    px_daemon *d = b->d;
    const daemon_worker *failed = NULL;
    for (size_t w = 0; w < b->jobs; w++)
        if (d->workers[w].rc && (!failed || d->workers[w].failed < failed->failed))
            failed = &d->workers[w];
    if (failed) {
        batch_abort(b, failed->err.msg);
        return;
    }
    metrics_series *match_s = series0(d->m.match_seconds);
    b->n_outputs = 0;
    for (size_t i = 0; i < b->n_msgs; i++) {
        const batch_item *it = &b->items[i];
        b->n_outputs += it->n_out;
        if (it->match_s >= 0 && match_s) metrics_histogram_observe(match_s, it->match_s);
        if (it->repeat)
            count(d->m.replayed,
                  it->repeat == USER_REPEAT_SUPERSEDED ? "superseded" : "same_answer", NULL);
        if (it->reason == EVENT_OK) continue;
        count(d->m.dead_lettered, it->msg->topic, event_reason_name(it->reason));
        PX_LOG_INFOF(
            d->log, "event dead-lettered", PX_LOG_STR("topic", it->msg->topic),
            PX_LOG_INT("partition", it->msg->partition), PX_LOG_INT("offset", it->msg->offset),
            PX_LOG_STR("reason", event_reason_name(it->reason)), PX_LOG_STR("detail", it->why));
    }
    fetch_answers(b);
}

static void work_done(uv_work_t *req, int status) {
    (void)status; /* never cancelled */
    daemon_worker *w = req->data;
    daemon_batch *b = w->b;
    px_daemon *d = b->d;
    if (--b->jobs_left) return;
    if (d->close_deferred) {
        /* Kafka closed (its deadline passed) while the jobs ran: the batch is dropped, unstored,
         * and what kafka_io_free had to wait for can go now. */
        d->batch = NULL;
        batch_free(b);
        daemon_close_rest(d);
        return;
    }
    batch_matched(b);
}

bool daemon_pipeline_busy(const px_daemon *d) { return d->batch && d->batch->jobs_left; }

/* Deals the batch's people to the workers (person u to worker u mod jobs; a message refused
 * before matching to the next worker in turn) and queues one job per worker used. */
static void process(daemon_batch *b) {
    px_daemon *d = b->d;
    size_t units = b->n_users, jobs;
    for (size_t i = 0; i < b->n_msgs; i++) units += b->items[i].user < 0;
    jobs = units < d->n_workers ? units : d->n_workers;
    if (jobs == 0) jobs = 1;
    for (size_t i = 0, turn = b->n_users; i < b->n_msgs; i++) {
        batch_item *it = &b->items[i];
        it->worker = (it->user >= 0 ? (size_t)it->user : turn++) % jobs;
        it->match_s = -1;
    }
    b->rules = (user_rules){b->engine->matcher,    NULL,
                            b->engine->version,    d->cfg->idempotency_window,
                            MATCHER_MAX_DECISIONS, d->next_engine || d->index_fetching};
    b->max_message = kafka_io_max_message_bytes(d->kafka);
    b->jobs = b->jobs_left = jobs;
    for (size_t w = 0; w < jobs; w++) {
        daemon_worker *wk = &d->workers[w];
        wk->b = b;
        wk->req.data = wk;
        if (uv_queue_work(d->loop, &wk->req, work_run, work_done) != 0) {
            work_run(&wk->req); /* libuv refuses only a bad argument: never here */
            work_done(&wk->req, 0);
        }
    }
}

static void on_states(store_redis *s, const px_error *err, const store_redis_bytes *values,
                      size_t n, void *opaque) {
    (void)s;
    daemon_batch *b = opaque;
    px_daemon *d = b->d;
    if (err) {
        batch_abort(b, err->msg);
        return;
    }
    for (size_t u = 0; u < n && u < b->n_users; u++) {
        batch_user *bu = &b->users[u];
        bu->loaded = true;
        if (!values[u].data) continue;
        px_error derr = {0};
        if (user_state_decode(values[u].data, values[u].len, &bu->state, &derr)) {
            if (derr.code == PX_ENOMEM) {
                batch_abort(b, "out of memory decoding states");
                return;
            }
            bu->corrupt = true;
            PX_LOG_ERRF(d->log, "stored user state is unreadable; its events go to the DLQ",
                        PX_LOG_USER(bu->user_id), PX_LOG_STR("error", derr.msg));
        }
    }
    process(b);
}

static void batch_start(px_daemon *d, kafka_io *io, const kafka_io_batch *kb);

void daemon_pipeline_on_batch(kafka_io *io, const kafka_io_batch *kb, void *opaque) {
    px_daemon *d = opaque;
    if (!d->stopping && !batch_fits(d, kb->count)) {
        /* Held, unprocessed: kafka_io hands no other batch meanwhile, so consumption stops here
         * until deliveries free the budget (daemon_pipeline_on_delivery starts it). */
        d->waiting = kb;
        metrics_series *s = series0(d->m.batches_waited);
        if (s) metrics_counter_inc(s);
        PX_LOG_DEBUGF(d->log, "batch waits for the outputs in flight to be delivered",
                      PX_LOG_UINT("inflight_bytes", d->inflight_bytes),
                      PX_LOG_UINT("expected_bytes", expected_bytes(d, kb->count)),
                      PX_LOG_UINT("budget", d->cfg->inflight_bytes));
        return;
    }
    batch_start(d, io, kb);
}

void daemon_pipeline_stop(px_daemon *d) {
    if (!d->waiting) return;
    const kafka_io_batch *kb = d->waiting;
    d->waiting = NULL;
    kafka_io_batch_retry(d->kafka, kb); /* its messages are consumed again, by the next owner */
}

/* FNV-1a, for the batch's table of people. */
static size_t user_hash(const char *s) {
    uint64_t h = 14695981039346656037u;
    for (; *s; s++) h = (h ^ (unsigned char)*s) * 1099511628211u;
    return (size_t)(h ^ (h >> 32));
}

static void batch_start(px_daemon *d, kafka_io *io, const kafka_io_batch *kb) {
    daemon_index_swap_if_pending(d);
    daemon_batch *b = calloc(1, sizeof *b);
    if (b) b->items = calloc(kb->count, sizeof *b->items);
    if (b) b->users = calloc(kb->count, sizeof *b->users);
    if (!b || !b->items || !b->users) {
        if (b) {
            free(b->items);
            free(b->users);
            free(b);
        }
        kafka_io_batch_retry(io, kb);
        return;
    }
    b->d = d;
    b->kb = kb;
    b->n_msgs = kb->count;
    b->engine = d->engine;
    d->batch = b;
    metrics_series *bs = series0(d->m.batch_size);
    if (bs) metrics_histogram_observe(bs, (double)kb->count);
    if (!store_redis_is_available(d->store) || !b->engine) {
        batch_abort(b, !b->engine ? "no ROME index loaded" : "redis unavailable");
        return;
    }
    /* Decode every message; collect the distinct users (first appearance order), found through
     * an open-addressing table of at least twice as many slots as messages. */
    size_t slots_n = 16;
    while (slots_n < 2 * kb->count) slots_n *= 2;
    int *slots = malloc(slots_n * sizeof *slots);
    if (!slots) {
        batch_abort(b, "out of memory decoding events");
        return;
    }
    for (size_t k = 0; k < slots_n; k++) slots[k] = -1;
    for (size_t i = 0; i < kb->count; i++) {
        batch_item *it = &b->items[i];
        it->msg = &kb->msgs[i];
        it->user = -1;
        count(d->m.consumed, it->msg->topic, "");
        px_error err = {0};
        unknown_key_at at = {d, it->msg};
        const event_decode_options opts = {
            .limits = &d->cfg->limits, .on_unknown_key = on_unknown_key, .ctx = &at};
        if (event_decode_with(it->msg->value, it->msg->value_len, it->msg->key, it->msg->key_len,
                              &opts, &it->ev, &err)) {
            if (err.code == PX_ENOMEM) {
                free(slots);
                batch_abort(b, "out of memory decoding events");
                return;
            }
            dead_letter(b, i, err.reason, err.msg);
            continue;
        }
        it->decoded = true;
        it->reason = EVENT_OK;
        const char *home = event_type_topic(it->ev.type) == EVENT_TOPIC_SKILLS
                               ? d->cfg->topic_skills
                               : d->cfg->topic_profile;
        if (strcmp(it->msg->topic, home)) {
            char why[PX_ERROR_MSG_MAX];
            snprintf(why, sizeof why, "type: %s is an event of %s, not of %s",
                     event_type_name(it->ev.type), home, it->msg->topic);
            dead_letter(b, i, EVENT_ERR_WRONG_TOPIC, why);
            continue;
        }
        size_t h = user_hash(it->ev.user_id) & (slots_n - 1);
        while (slots[h] >= 0 && strcmp(b->users[slots[h]].user_id, it->ev.user_id) != 0)
            h = (h + 1) & (slots_n - 1);
        if (slots[h] < 0) {
            slots[h] = (int)b->n_users;
            b->users[b->n_users++].user_id = it->ev.user_id;
        }
        it->user = slots[h];
    }
    free(slots);
    if (b->n_users == 0) {
        process(b);
        return;
    }
    store_redis_bytes *keys = calloc(b->n_users, sizeof *keys);
    char *keybuf = calloc(b->n_users, STORE_REDIS_KEY_MAX + 1);
    px_error err = {0};
    int rc = -1;
    if (keys && keybuf) {
        for (size_t u = 0; u < b->n_users; u++) {
            char *k = keybuf + u * (STORE_REDIS_KEY_MAX + 1);
            state_key(d, b->users[u].user_id, k, STORE_REDIS_KEY_MAX + 1);
            keys[u] = (store_redis_bytes){k, strlen(k)};
        }
        /* watched: a batch whose people another instance wrote meanwhile (the partition's
         * previous or next owner around a rebalance) is refused at its write and retried */
        rc = store_redis_get_many_watched(d->store, keys, b->n_users, on_states, b, &err);
    }
    free(keys);
    free(keybuf);
    if (rc) batch_abort(b, err.code ? err.msg : "out of memory");
}

/* Dead letters get bounded retries (without transactions: with them, the aborted transaction
 * consumes the batch again) and are given up while the daemon runs; other outputs never are. */
static bool dlq_bounded(const px_daemon *d, const flight *f) {
    return f->topic == d->cfg->topic_dlq && !d->cfg->transactional_id && !d->stopping;
}

static void on_dlq_retry(uv_timer_t *t);

/* Arms d->dlq_retry for the earliest waiting dead letter. */
static void dlq_retry_arm(px_daemon *d) {
    uint64_t now = uv_now(d->loop), due = UINT64_MAX;
    for (const flight *f = d->flights; f; f = f->next)
        if (f->waiting && f->retry_at < due) due = f->retry_at;
    if (due != UINT64_MAX)
        uv_timer_start(&d->dlq_retry, on_dlq_retry, due > now ? due - now : 0, 0);
}

static void on_dlq_retry(uv_timer_t *t) {
    px_daemon *d = t->data;
    if (d->stopping || !d->kafka) return;
    uint64_t now = uv_now(d->loop);
    for (flight *f = d->flights, *next; f; f = next) {
        next = f->next; /* the delivery path frees at most f */
        if (!f->waiting || f->retry_at > now) continue;
        f->waiting = false;
        flight_start(d, f);
    }
    dlq_retry_arm(d);
}

void daemon_pipeline_on_delivery(kafka_io *io, const px_error *err, int32_t partition,
                                 int64_t offset, void *msg_opaque, void *opaque) {
    (void)io;
    (void)partition;
    (void)offset;
    (void)opaque;
    flight *f = msg_opaque;
    px_daemon *d = f->d;
    flight_batch *trim = NULL;
    if (err) {
        metrics_series *s = series0(d->m.delivery_failures);
        if (s) metrics_counter_inc(s);
        px_error again = {0};
        if (dlq_bounded(d, f) && f->attempts < DLQ_RETRIES) {
            f->attempts++;
            f->waiting = true;
            f->retry_at = uv_now(d->loop) + ((uint64_t)DLQ_RETRY_FIRST_MS << (f->attempts - 1));
            PX_LOG_WARNF(d->log, "dead letter not delivered, producing it again later",
                         PX_LOG_STR("topic", f->msg->topic),
                         PX_LOG_INT("partition", f->msg->partition),
                         PX_LOG_INT("offset", f->msg->offset), PX_LOG_UINT("attempt", f->attempts),
                         PX_LOG_STR("error", err->msg));
            dlq_retry_arm(d);
            return;
        }
        if (dlq_bounded(d, f)) {
            /* The input is passed over: its offset is stored below, the partition moves on. */
            count(d->m.dlq_failures, f->msg->topic, NULL);
            PX_LOG_ERRF(d->log, "dead letter lost after its retries; its input is passed over",
                        PX_LOG_STR("topic", f->msg->topic),
                        PX_LOG_INT("partition", f->msg->partition),
                        PX_LOG_INT("offset", f->msg->offset), PX_LOG_STR("dlq", f->topic),
                        PX_LOG_UINT("attempts", f->attempts + 1), PX_LOG_STR("error", err->msg));
        } else if (!d->cfg->transactional_id && !d->stopping && flight_produce(d, f, &again) == 0) {
            /* Without transactions the output is produced again (never dropped); with them, the
             * transaction aborts and kafka_io consumes the batch again, which re-creates it. */
            PX_LOG_WARNF(d->log, "output delivery failed, producing it again",
                         PX_LOG_STR("topic", f->topic), PX_LOG_STR("error", err->msg));
            return;
        } else {
            PX_LOG_ERRF(d->log, "output not delivered; its input will be consumed again",
                        PX_LOG_STR("topic", f->topic), PX_LOG_STR("error", err->msg));
            f->msg->failed = true;
        }
    } else {
        count(d->m.produced, f->topic, f->type);
    }
    if (--f->msg->remaining == 0) {
        if (!f->msg->failed) {
            kafka_io_store_offset(io, f->msg->topic, f->msg->partition, f->msg->offset);
            metrics_series *s = series0(d->m.e2e_seconds);
            if (s && f->msg->timestamp_ms > 0)
                metrics_histogram_observe(s,
                                          (double)(daemon_now_ms() - f->msg->timestamp_ms) / 1e3);
        }
        flight_batch *fb = f->msg->batch;
        free(f->msg);
        if (--fb->remaining == 0) trim = fb;
    }
    flight_unlink(d, f);
    free(f->key);
    free(f->value);
    free(f);
    if (trim) batch_delivered(d, trim);
    if (d->waiting && batch_fits(d, d->waiting->count)) {
        const kafka_io_batch *kb = d->waiting;
        d->waiting = NULL;
        batch_start(d, d->kafka, kb);
    }
}

void daemon_pipeline_free(px_daemon *d) {
    while (d->flights) {
        flight *f = d->flights;
        flight_unlink(d, f);
        if (--f->msg->remaining == 0) {
            if (--f->msg->batch->remaining == 0) free(f->msg->batch);
            free(f->msg);
        }
        free(f->key);
        free(f->value);
        free(f);
    }
    for (size_t w = 0; d->workers && w < d->n_workers; w++)
        match_result_free(&d->workers[w].result);
    free(d->workers);
    d->workers = NULL;
}

size_t daemon_workers(const config *cfg) {
    return cfg->workers ? cfg->workers : uv_available_parallelism();
}

/* The pool runs the workers' jobs, and beside them at most one index build (daemon_index.c) and
 * one blocking transactional call (kafka_io): libuv's default of 4 threads would queue workers
 * behind those from 3 workers on. */
void daemon_pipeline_size_threadpool(const config *cfg) {
    size_t want = daemon_workers(cfg) + 2;
    if (want <= 4 || getenv("UV_THREADPOOL_SIZE")) return;
    char v[24];
    snprintf(v, sizeof v, "%zu", want);
    setenv("UV_THREADPOOL_SIZE", v, 0);
}

int daemon_pipeline_init(px_daemon *d, px_error *err) {
    d->n_workers = daemon_workers(d->cfg);
    d->workers = calloc(d->n_workers, sizeof *d->workers);
    if (!d->workers) return px_error_set(err, PX_ENOMEM, "out of memory");
    for (size_t w = 0; w < d->n_workers; w++) d->workers[w].index = w;
    return 0;
}
