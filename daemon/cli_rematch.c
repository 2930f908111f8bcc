/* passerelle rematch — after `passerelle rome publish`, ask the daemons to match every stored
 * profile again on the new version (issue 14).
 *
 * It walks the stored user states with SCAN (store_scan.h) in batches of COUNT keys and produces
 * one profile.rematch event per user, keyed by user_id, on the profile input topic: the daemons
 * do the matching, so partitioning, ordering and idempotence stay Kafka's and the rules'. The
 * event id is "rematch-<version>-<user_id>" (deterministic), so a repeated batch or a second
 * run answers with the same suggestion_id.
 *
 * Resuming: after each batch the producer is flushed (every event delivered) and only then the
 * SCAN cursor is written to the cursor file (atomically: a temporary file renamed over it). A
 * kill therefore never skips a user; it may repeat the last batch, which is harmless. */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <msgpack.h>
#include <xxhash.h>

#include "cli_kafka.h"
#include "commands.h"
#include "config.h"
#include "event_codec.h"
#include "store_scan.h"

#define TOOL              "rematch"
#define DEFAULT_TOPIC     "passerelle.profile.v1"
#define DEFAULT_BATCH     10000u /* 6x the rate of 1000 (bench/README.md): a flush per batch */
#define REDIS_TIMEOUT_MS  5000u
#define PROGRESS_EVERY_NS 250000000LL /* a terminal line 4 times a second at most */
#define MAX_PROPS         64

static volatile sig_atomic_t interrupted;

static void on_signal(int sig) {
    (void)sig;
    interrupted = 1;
}

typedef struct opts {
    const char *config, *redis, *brokers, *topic, *prefix, *version, *cursor_file;
    unsigned long long batch, rate, max_batches; /* rate 0 = unlimited; max_batches 0 = all */
    bool resume;
    kafka_io_property props[MAX_PROPS];
    size_t n_props;
} opts;

/* Where the walk stands: what the cursor file holds. */
typedef struct progress {
    char version[USER_STATE_ROME_VERSION_MAX + 1];
    char cursor[STORE_SCAN_CURSOR_MAX + 1];
    unsigned long long scanned, produced;
    bool complete;
} progress;

/* One SCAN step's user ids. */
typedef struct batch {
    char **names;
    size_t n, cap;
    bool nomem;
} batch;

static void usage(FILE *out) {
    fprintf(
        out,
        "usage: passerelle rematch [--config FILE] [--redis URL] [--brokers HOST:PORT[,…]]\n"
        "                          [--topic T] [--prefix P] [--rome-version V] [--batch N]\n"
        "                          [--rate EVENTS_PER_S] [--cursor-file F] [--resume]\n"
        "                          [--max-batches N] [-X name=value]…\n"
        "\n"
        "Produces one profile.rematch event per stored user (Redis keys P*, walked with SCAN\n"
        "COUNT N, default %u) to the profile topic T (default %s), keyed by user_id, so that\n"
        "the daemons match every profile again on ROME version V (default: the one published\n"
        "as current). --config reads the Redis endpoint and prefixes, the topic and the Kafka\n"
        "properties from passerelled's configuration (options override it; transactional.id\n"
        "is not used); without it P is \"passerelle:user:\" and --redis, --brokers are needed.\n"
        "After each batch is delivered the cursor goes to F; --resume continues from it.\n"
        "--rate caps events per second. --max-batches stops after N batches (for tests).\n"
        "Exit status: 0 when the walk is complete, 1 on a failure, 2 on a usage error, 3 when\n"
        "stopped early (signal or --max-batches) with the cursor saved.\n",
        DEFAULT_BATCH, DEFAULT_TOPIC);
}

static int parse_u(const char *flag, const char *s, unsigned long long min,
                   unsigned long long *out) {
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || *end || end == s || s[0] == '-' || v < min || v > UINT32_MAX) {
        fprintf(stderr, "passerelle " TOOL ": %s expects an integer in %llu..%u, got '%s'\n", flag,
                min, UINT32_MAX, s);
        return -1;
    }
    *out = v;
    return 0;
}

static int parse_args(int argc, char **argv, opts *o) {
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage(stdout);
            return 1;
        }
        if (!strcmp(a, "--resume")) {
            o->resume = true;
            continue;
        }
        if (i + 1 >= argc) goto bad;
        const char *v = argv[++i];
        if (!strcmp(a, "--config"))
            o->config = v;
        else if (!strcmp(a, "--redis"))
            o->redis = v;
        else if (!strcmp(a, "--brokers"))
            o->brokers = v;
        else if (!strcmp(a, "--topic"))
            o->topic = v;
        else if (!strcmp(a, "--prefix"))
            o->prefix = v;
        else if (!strcmp(a, "--rome-version"))
            o->version = v;
        else if (!strcmp(a, "--cursor-file"))
            o->cursor_file = v;
        else if (!strcmp(a, "--batch")) {
            if (parse_u(a, v, 1, &o->batch)) return 2;
        } else if (!strcmp(a, "--rate")) {
            if (parse_u(a, v, 0, &o->rate)) return 2;
        } else if (!strcmp(a, "--max-batches")) {
            if (parse_u(a, v, 1, &o->max_batches)) return 2;
        } else if (!strcmp(a, "-X") && strchr(v, '=') && v[0] != '=' && o->n_props < MAX_PROPS) {
            o->props[o->n_props].name = v; /* split in place below: argv is ours */
            o->props[o->n_props++].value = strchr(v, '=') + 1;
            *strchr(argv[i], '=') = '\0';
        } else {
            goto bad;
        }
        continue;
    bad:
        fprintf(stderr, "passerelle " TOOL ": unexpected or incomplete argument '%s'\n", a);
        usage(stderr);
        return 2;
    }
    if (o->resume && !o->cursor_file) {
        fprintf(stderr, "passerelle " TOOL ": --resume needs --cursor-file\n");
        return 2;
    }
    return 0;
}

/* --- the cursor file -------------------------------------------------------------------------- */

static int cursor_save(const char *path, const progress *p) {
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *f = fopen(tmp, "w");
    int rc = f ? 0 : -1;
    if (f) {
        fprintf(f, "version %s\ncursor %s\nscanned %llu\nproduced %llu\ncomplete %d\n", p->version,
                p->cursor, p->scanned, p->produced, p->complete);
        rc = fflush(f) || fsync(fileno(f)) ? -1 : 0;
        rc |= fclose(f);
    }
    if (!rc) rc = rename(tmp, path);
    if (rc) fprintf(stderr, "passerelle " TOOL ": cannot write %s: %s\n", path, strerror(errno));
    return rc;
}

/* 0 loaded, 1 no file (start afresh), -1 unreadable (reported). */
static int cursor_load(const char *path, progress *p) {
    FILE *f = fopen(path, "r");
    if (!f) return errno == ENOENT ? 1 : -1;
    int complete = 0;
    int n = fscanf(f, "version %32s\ncursor %24s\nscanned %llu\nproduced %llu\ncomplete %d",
                   p->version, p->cursor, &p->scanned, &p->produced, &complete);
    fclose(f);
    if (n != 5) {
        fprintf(stderr, "passerelle " TOOL ": %s is not a rematch cursor file\n", path);
        return -1;
    }
    p->complete = complete != 0;
    return 0;
}

/* --- events ----------------------------------------------------------------------------------- */

static void collect(const char *name, size_t len, void *ud) {
    batch *b = ud;
    if (b->nomem) return;
    if (b->n == b->cap) {
        size_t cap = b->cap ? 2 * b->cap : 1024;
        char **v = realloc(b->names, cap * sizeof *v);
        if (!v) {
            b->nomem = true;
            return;
        }
        b->names = v;
        b->cap = cap;
    }
    if (!(b->names[b->n] = strndup(name, len)))
        b->nomem = true;
    else
        b->n++;
}

static void batch_clear(batch *b) {
    for (size_t i = 0; i < b->n; i++) free(b->names[i]);
    b->n = 0;
}

static int pack_str(msgpack_packer *pk, const char *s) {
    return msgpack_pack_str_with_body(pk, s, strlen(s));
}

/* The profile.rematch event of one user. Its id is "rematch-<version>-<user_id>", or, when that
 * would be over the daemon's max_id_bytes, "rematch-<version>-x<XXH3-64 of user_id>". */
static int encode(msgpack_sbuffer *sb, const char *user, const char *version, int64_t ts,
                  size_t max_id_bytes) {
    char id[512];
    int n = snprintf(id, sizeof id, "rematch-%s-%s", version, user);
    if (n < 0 || (size_t)n > max_id_bytes)
        snprintf(id, sizeof id, "rematch-%s-x%016" PRIx64, version,
                 (uint64_t)XXH3_64bits(user, strlen(user)));
    msgpack_sbuffer_clear(sb);
    msgpack_packer pk;
    msgpack_packer_init(&pk, sb, msgpack_sbuffer_write);
    return msgpack_pack_map(&pk, 6) || pack_str(&pk, "v") || msgpack_pack_int(&pk, EVENT_VERSION) ||
           pack_str(&pk, "type") || pack_str(&pk, event_type_name(EVENT_PROFILE_REMATCH)) ||
           pack_str(&pk, "event_id") || pack_str(&pk, id) || pack_str(&pk, "user_id") ||
           pack_str(&pk, user) || pack_str(&pk, "ts") || msgpack_pack_int64(&pk, ts) ||
           pack_str(&pk, "rome_version") || pack_str(&pk, version);
}

typedef struct tally {
    unsigned long long ok, failed;
} tally;

static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque) {
    (void)rk;
    tally *t = opaque;
    if (m->err) {
        t->failed++;
        fprintf(stderr, "passerelle " TOOL ": delivery failed: %s\n", rd_kafka_err2str(m->err));
    } else {
        t->ok++;
    }
}

static int64_t now_ns(clockid_t clock) {
    struct timespec ts;
    clock_gettime(clock, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Sleeps until `sent` events fit in the rate since t0 (a steady pace, no bursts past it). */
static void pace(unsigned long long rate, unsigned long long sent, int64_t t0) {
    if (!rate) return;
    int64_t due = t0 + (int64_t)((double)sent * 1e9 / (double)rate),
            wait = due - now_ns(CLOCK_MONOTONIC);
    if (wait > 0) nanosleep(&(struct timespec){wait / 1000000000, wait % 1000000000}, NULL);
}

static void show_progress(const progress *p, long long total, unsigned long long done_now,
                          double secs, bool final) {
    double rate = secs > 0 ? (double)done_now / secs : 0;
    double left =
        total > 0 && (double)total > (double)p->scanned ? (double)total - (double)p->scanned : 0;
    double eta = rate > 0 ? left / rate : 0;
    fprintf(stderr, "\r%s %llu/~%lld users (%.1f%%), %llu events, %.0f users/s, ETA %dm%02ds   %s",
            p->version, p->scanned, total,
            total > 0 ? 100.0 * (double)p->scanned / (double)total : 0, p->produced, rate,
            (int)(eta / 60), (int)fmod(eta, 60), final ? "\n" : "");
}

/* --- the command ------------------------------------------------------------------------------ */

/* Fills the endpoint, prefixes, topic, brokers and Kafka properties from --config, then the
 * options. Returns 0, or 1/2 (reported). */
static int settings(opts *o, config **cfg, redis_endpoint *ep, char *prefix, size_t prefix_size,
                    size_t *max_id_bytes) {
    px_error err = {0};
    redis_endpoint_init(ep);
    *max_id_bytes = event_limits_default().max_id_bytes;
    snprintf(prefix, prefix_size, "%suser:", ep->prefix);
    if (o->config) {
        if (config_load(o->config, cfg, &err)) {
            fprintf(stderr, "passerelle " TOOL ": %s\n", err.msg);
            return 1;
        }
        const config *c = *cfg;
        *ep = c->redis;
        snprintf(prefix, prefix_size, "%s%s", c->redis.prefix, c->state_prefix);
        snprintf(ep->prefix, sizeof ep->prefix, "%s", c->rome_key_prefix);
        *max_id_bytes = c->limits.max_id_bytes;
        if (!o->topic) o->topic = c->topic_profile;
        /* the daemon's own properties (security, timeouts…), then -X; not its transactions:
         * another producer with its transactional.id would fence the daemon's */
        kafka_io_property x[MAX_PROPS];
        size_t nx = o->n_props;
        memcpy(x, o->props, nx * sizeof x[0]);
        o->n_props = 0;
        for (size_t i = 0; i < c->n_kafka; i++) {
            const config_property *kp = &c->kafka[i];
            if (!strcmp(kp->name, "bootstrap.servers") && !o->brokers) o->brokers = kp->value;
            if (strcmp(kp->name, "transactional.id") && strcmp(kp->name, "bootstrap.servers") &&
                o->n_props < MAX_PROPS) {
                o->props[o->n_props].name = kp->name;
                o->props[o->n_props++].value = kp->value;
            }
        }
        for (size_t i = 0; i < nx && o->n_props < MAX_PROPS; i++) {
            o->props[o->n_props].name = x[i].name;
            o->props[o->n_props++].value = x[i].value;
        }
    }
    if (o->redis && redis_endpoint_parse_url(ep, o->redis, &err)) {
        fprintf(stderr, "passerelle " TOOL ": --redis: %s\n", err.msg);
        return 2;
    }
    if (o->prefix) snprintf(prefix, prefix_size, "%s", o->prefix);
    if (!o->topic) o->topic = DEFAULT_TOPIC;
    if (!o->brokers || (!o->config && !o->redis)) {
        fprintf(stderr, "passerelle " TOOL ": %s\n",
                o->brokers
                    ? "--redis URL or --config FILE is required"
                    : "--brokers is required (the configuration's Kafka is embedded or unset)");
        usage(stderr);
        return 2;
    }
    return 0;
}

/* Walks from p's cursor to the end (or a stop). Returns 0 complete, 1 failure, 3 stopped. */
static int walk(const opts *o, store_scan *scan, rd_kafka_t *producer, tally *t, const char *prefix,
                size_t max_id_bytes, long long total, progress *p) {
    bool tty = isatty(STDERR_FILENO);
    batch b = {0};
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    int64_t t0 = now_ns(CLOCK_MONOTONIC), last_shown = 0;
    unsigned long long sent = 0, scanned0 = p->scanned, batches = 0;
    int rc = 0;
    while (!p->complete && !rc) {
        if (interrupted || (o->max_batches && batches == o->max_batches)) {
            rc = 3;
            break;
        }
        char next[STORE_SCAN_CURSOR_MAX + 1];
        px_error err = {0};
        if (store_scan_step(scan, p->cursor, prefix, (unsigned)o->batch, collect, &b, next, &err) ||
            b.nomem) {
            fprintf(stderr, "passerelle " TOOL ": %s\n", b.nomem ? "out of memory" : err.msg);
            rc = 1;
            break;
        }
        int64_t ts = now_ns(CLOCK_REALTIME) / 1000000;
        for (size_t i = 0; i < b.n && !rc; i++) {
            if (encode(&sb, b.names[i], p->version, ts, max_id_bytes) ||
                produce_blocking(producer, TOOL, o->topic, b.names[i], strlen(b.names[i]), sb.data,
                                 sb.size)) {
                rc = 1;
                break;
            }
            rd_kafka_poll(producer, 0);
            pace(o->rate, ++sent, t0);
        }
        /* every event of the batch delivered before the cursor moves past it */
        if (rc || flush_producer(producer, TOOL) || t->failed) {
            rc = 1;
            break;
        }
        p->scanned += b.n;
        p->produced += b.n;
        snprintf(p->cursor, sizeof p->cursor, "%s", next);
        p->complete = !strcmp(next, "0");
        batch_clear(&b);
        batches++;
        if (o->cursor_file && cursor_save(o->cursor_file, p)) rc = 1;
        int64_t now = now_ns(CLOCK_MONOTONIC);
        if (tty && now - last_shown >= PROGRESS_EVERY_NS) {
            show_progress(p, total, p->scanned - scanned0, (double)(now - t0) / 1e9, false);
            last_shown = now;
        }
    }
    batch_clear(&b);
    free(b.names);
    msgpack_sbuffer_destroy(&sb);
    double secs = (double)(now_ns(CLOCK_MONOTONIC) - t0) / 1e9;
    if (tty) show_progress(p, total, p->scanned - scanned0, secs, true);
    fprintf(stderr,
            "passerelle " TOOL
            ": version %s: %llu users scanned, %llu events delivered this run in "
            "%.1f s (%.0f/s)%s\n",
            p->version, p->scanned, (unsigned long long)t->ok, secs,
            secs > 0 ? (double)t->ok / secs : 0,
            rc == 0   ? ", complete"
            : rc == 3 ? ", stopped: resume with --resume"
                      : ", failed");
    return rc;
}

int cli_rematch_main(int argc, char **argv) {
    opts o = {.batch = DEFAULT_BATCH};
    int rc = parse_args(argc, argv, &o);
    if (rc) return rc == 1 ? 0 : rc;
    config *cfg = NULL;
    redis_endpoint ep;
    char prefix[REDIS_ENDPOINT_PREFIX_MAX * 3];
    size_t max_id_bytes;
    if ((rc = settings(&o, &cfg, &ep, prefix, sizeof prefix, &max_id_bytes))) {
        config_free(cfg);
        return rc;
    }
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);

    px_error err = {0};
    progress p = {.cursor = "0"};
    tally t = {0};
    rd_kafka_t *producer = NULL;
    rc = 1;
    store_scan *scan = store_scan_open(&ep, REDIS_TIMEOUT_MS, &err);
    if (!scan) goto fail;
    if (o.version)
        snprintf(p.version, sizeof p.version, "%s", o.version);
    else if (store_scan_current_version(scan, p.version, sizeof p.version, &err))
        goto fail;
    if (o.resume) {
        progress saved = {0};
        int loaded = cursor_load(o.cursor_file, &saved);
        if (loaded < 0) goto out;
        if (loaded == 0 && strcmp(saved.version, p.version)) {
            fprintf(stderr,
                    "passerelle " TOOL
                    ": %s is a rematch to %s, not %s: give --rome-version %s, or "
                    "start again without --resume\n",
                    o.cursor_file, saved.version, p.version, saved.version);
            rc = 2;
            goto out;
        }
        if (loaded == 0) p = saved;
    }
    long long total = store_scan_dbsize(scan, &err);
    if (total < 0) goto fail;
    if (!(producer = cli_kafka_producer(TOOL, o.brokers, o.props, o.n_props, on_delivery, &t)))
        goto out;
    rc = walk(&o, scan, producer, &t, prefix, max_id_bytes, total, &p);
    goto out;
fail:
    fprintf(stderr, "passerelle " TOOL ": %s\n", err.msg);
out:
    if (producer) rd_kafka_destroy(producer);
    store_scan_close(scan);
    config_free(cfg);
    return rc;
}
