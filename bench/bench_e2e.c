/* bench_e2e — the whole daemon against a raw passthrough, on one broker, in one run.
 *
 * Starts a standalone 3-broker mock cluster (`passerelle broker`) and a real redis-server on a temporary
 * port and directory, preloads realistic events (profile.upserted with 1–3 experiences given by
 * appellation code, fiche code or title, and skills.confirmed for a fifth of them; every event
 * valid), then, interleaved, ROUNDS times each:
 *   - passerelled (the build's, or --daemon PATH) with a generated configuration, a fresh consumer
 *     group and an empty Redis, plain (default delivery) then transactional (transactional.id);
 *   - bench_passthrough, the raw consume → produce loop with the same delivery settings;
 * each timed from its start (process start, group join included) until its outputs are all there.
 * Outputs are counted by the end offsets of the output topic (the mock keeps ~5 MiB per partition
 * and drops older messages silently, but its end offsets keep counting): the daemon answers every
 * profile.upserted with skills.suggested and jobs.suggested and every skills.confirmed with
 * jobs.suggested, the passthrough copies each input once. Then, for each system and mode, the
 * latency at a fixed rate below capacity: from producing a profile.upserted to receiving its
 * jobs.suggested (the daemon) or its copy (the passthrough). Prints events/s of each run, the
 * ratios, p50/p99, the daemon's peak RSS (VmHWM) and Redis bytes per user (INFO used_memory
 * after a run over the users stored).
 *
 * usage: bench_e2e [--rome DIR] [--events N] [--rounds R] [--rate EV_PER_S] [--latency-s S]
 *                  [--partitions P] [--daemon PATH] [--keep]
 * A program that prints figures, never a test. Run it on an otherwise idle machine: the daemon,
 * the broker, Redis and the passthrough share its cores. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <hiredis/hiredis.h>
#include <librdkafka/rdkafka.h>
#include <msgpack.h>

#include "rome_load.h"
#include "rome_snapshot.h"

#define T_PROFILE     "passerelle.profile.v1"
#define T_SKILLS      "passerelle.skills.v1"
#define T_SUGGESTIONS "passerelle.suggestions.v1"
#define T_DLQ         "passerelle.dlq.v1"
#define T_PASS        "bench.passthrough.v1"
#define T_LAT_SKILLS  "bench.latency.skills"
#define N_LAT_TOPICS  4 /* one latency input per system and mode */
#define MAX_ROUNDS    9
#define EVENT_TS      1764393600000LL
#define STALL_S       20.0 /* no new output for this long: the run is over (and said so) */
/* Both systems' consumers: librdkafka 2.0.2's mock answers a fetch that finds no data only after
 * fetch.wait.max.ms, even when data arrives meanwhile (it does not wake the fetch up), so the
 * default 500 ms adds 0–500 ms to every message at a low rate, which a real broker does not. */
#define FETCH_WAIT_MS "5"

typedef struct options {
    const char *rome, *daemon, *passthrough, *broker;
    long events, rounds, rate, latency_s;
    int partitions;
    bool keep;
} options;

typedef struct bench {
    options o;
    char dir[64], bootstrap[600], snapshot[128];
    pid_t broker, redis;
    int broker_stdin; /* the broker ends when this closes */
    int redis_port;
    rd_kafka_t *admin; /* a producer handle: end offsets, preload, latency events */
    redisContext *rc;
    rome_index *idx;
    long profiles, skills;
    uint64_t rng;
} bench;

typedef struct run {
    double seconds, events_per_s;
    long outputs, dlq;
    long vm_hwm_kib; /* the process's ru_maxrss: its VmHWM, read at its end */
    double redis_bytes_per_user;
    long redis_keys;
    bool stalled;
} run;

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void sleep_s(double s) {
    struct timespec ts = {(time_t)s, (long)((s - (double)(time_t)s) * 1e9)};
    nanosleep(&ts, NULL);
}

static uint32_t rnd(bench *b, uint32_t n) { /* xorshift64*, uniform enough in [0, n) */
    b->rng ^= b->rng >> 12;
    b->rng ^= b->rng << 25;
    b->rng ^= b->rng >> 27;
    return (uint32_t)((b->rng * 0x2545F4914F6CDD1DULL) >> 32) % n;
}

static int die(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static int die(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "bench_e2e: ");
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    return 1;
}

/* ---- processes ---- */

/* Starts argv[0] with stdout and stderr to log (a path in the run directory) unless out_fd
 * wants a pipe of its stdout; in_fd, when given, gets the write end of a pipe to its stdin. */
static pid_t spawn(char *const argv[], const char *log, int *out_fd, int *in_fd) {
    int out[2] = {-1, -1}, in[2] = {-1, -1};
    if ((out_fd && pipe(out)) || (in_fd && pipe(in))) return -1;
    pid_t pid = fork();
    if (pid == 0) {
        int fd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0644);
        if (fd >= 0) {
            dup2(fd, STDERR_FILENO);
            dup2(out_fd ? out[1] : fd, STDOUT_FILENO);
        }
        int null = in_fd ? in[0] : open("/dev/null", O_RDONLY); /* fds 0-2 stay taken (libuv) */
        dup2(null, STDIN_FILENO);
        execvp(argv[0], argv);
        fprintf(stderr, "bench_e2e: cannot run %s: %s\n", argv[0], strerror(errno));
        _exit(127);
    }
    if (out_fd) {
        close(out[1]);
        *out_fd = out[0];
    }
    if (in_fd) {
        close(in[0]);
        *in_fd = in[1];
        fcntl(in[1], F_SETFD, FD_CLOEXEC);
    }
    return pid;
}

/* SIGTERM (unless it has exited), then SIGKILL after timeout_s; returns the exit status (-1 when
 * killed or gone) and the peak resident set of the process in *max_rss_kib (ru_maxrss: VmHWM). */
static int stop_process(pid_t pid, double timeout_s, long *max_rss_kib) {
    if (pid <= 0) return -1;
    kill(pid, SIGTERM);
    double end = now_s() + timeout_s;
    int status = 0;
    struct rusage ru = {0};
    pid_t r = 0;
    while (r == 0 && now_s() < end) {
        r = wait4(pid, &status, WNOHANG, &ru);
        if (r == 0) sleep_s(0.02);
    }
    if (r == 0) {
        kill(pid, SIGKILL);
        r = wait4(pid, &status, 0, &ru);
    }
    if (max_rss_kib) *max_rss_kib = ru.ru_maxrss;
    return r == pid && WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* Whether the process still runs (without reaping it: stop_process reads its usage). */
static bool alive(pid_t pid) {
    siginfo_t info = {0};
    return waitid(P_PID, (id_t)pid, &info, WEXITED | WNOHANG | WNOWAIT) == 0 && info.si_pid == 0;
}

/* ---- broker, Redis ---- */

static int start_broker(bench *b) {
    char parts[16];
    snprintf(parts, sizeof parts, "%d", b->o.partitions);
    /* `passerelle broker`; replication 1: the figures measure the daemon, not the mock's copies */
    char *argv[32] = {(char *)b->o.broker,
                      "broker",
                      "--brokers",
                      "3",
                      "--replication",
                      "1",
                      "--partitions",
                      parts,
                      T_PROFILE,
                      T_SKILLS,
                      T_SUGGESTIONS,
                      T_DLQ,
                      T_PASS,
                      T_LAT_SKILLS};
    int n = 14;
    static char lat[N_LAT_TOPICS][32];
    for (int k = 0; k < N_LAT_TOPICS; k++) {
        snprintf(lat[k], sizeof lat[k], "bench.latency.%d", k);
        argv[n++] = lat[k];
    }
    char log[128];
    snprintf(log, sizeof log, "%s/broker.log", b->dir);
    int out;
    b->broker = spawn(argv, log, &out, &b->broker_stdin);
    if (b->broker < 0) return die("cannot start %s", b->o.broker);
    FILE *f = fdopen(out, "r");
    char line[600];
    bool got = f && fgets(line, sizeof line, f) && !strncmp(line, "bootstrap.servers=", 18);
    if (f) fclose(f);
    if (!got) return die("the broker printed no bootstrap.servers (see %s)", log);
    snprintf(b->bootstrap, sizeof b->bootstrap, "%s", line + 18);
    b->bootstrap[strcspn(b->bootstrap, "\n")] = '\0';
    return 0;
}

static int start_redis(bench *b) {
    b->redis_port = 20000 + (int)(getpid() % 20000);
    char port[16], log[128];
    snprintf(port, sizeof port, "%d", b->redis_port);
    snprintf(log, sizeof log, "%s/redis.log", b->dir);
    char *argv[] = {"redis-server", "--port", port,    "--bind", "127.0.0.1", "--save", "",
                    "--appendonly", "no",     "--dir", b->dir,   NULL};
    b->redis = spawn(argv, log, NULL, NULL);
    for (int i = 0; i < 100 && b->redis > 0; i++) {
        sleep_s(0.05);
        struct timeval tv = {1, 0};
        b->rc = redisConnectWithTimeout("127.0.0.1", b->redis_port, tv);
        if (b->rc && !b->rc->err) return 0;
        redisFree(b->rc);
        b->rc = NULL;
    }
    return die("redis-server did not answer (see %s)", log);
}

static long long redis_int(bench *b, const char *cmd) {
    redisReply *r = redisCommand(b->rc, cmd);
    long long v = r && r->type == REDIS_REPLY_INTEGER ? r->integer : -1;
    if (r) freeReplyObject(r);
    return v;
}

static long long redis_used_memory(bench *b) {
    redisReply *r = redisCommand(b->rc, "INFO memory");
    long long v = -1;
    const char *at = r && r->type == REDIS_REPLY_STRING ? strstr(r->str, "used_memory:") : NULL;
    if (at) v = atoll(at + 12);
    if (r) freeReplyObject(r);
    return v;
}

static void redis_flush(bench *b) {
    redisReply *r = redisCommand(b->rc, "FLUSHALL");
    if (r) freeReplyObject(r);
}

/* ---- Kafka ---- */

static rd_kafka_t *new_producer(const bench *b, const char *linger_ms) {
    char errstr[512];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    if (rd_kafka_conf_set(conf, "bootstrap.servers", b->bootstrap, errstr, sizeof errstr) ||
        rd_kafka_conf_set(conf, "linger.ms", linger_ms, errstr, sizeof errstr) ||
        rd_kafka_conf_set(conf, "queue.buffering.max.kbytes", "262144", errstr, sizeof errstr)) {
        fprintf(stderr, "bench_e2e: %s\n", errstr);
        rd_kafka_conf_destroy(conf);
        return NULL;
    }
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof errstr);
    if (!rk) fprintf(stderr, "bench_e2e: %s\n", errstr);
    return rk;
}

/* Sum of the end offsets of a topic's partitions (-1 when a query fails). */
static long end_offsets(bench *b, const char *topic) {
    long sum = 0;
    for (int p = 0; p < b->o.partitions; p++) {
        int64_t lo, hi;
        if (rd_kafka_query_watermark_offsets(b->admin, topic, p, &lo, &hi, 5000)) return -1;
        sum += (long)hi;
    }
    return sum;
}

static int produce(rd_kafka_t *rk, const char *topic, const char *key, const msgpack_sbuffer *v) {
    for (;;) {
        rd_kafka_resp_err_t e =
            rd_kafka_producev(rk, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_KEY(key, strlen(key)),
                              RD_KAFKA_V_VALUE(v->data, v->size),
                              RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END);
        if (!e) return 0;
        if (e != RD_KAFKA_RESP_ERR__QUEUE_FULL) return die("produce: %s", rd_kafka_err2str(e));
        rd_kafka_poll(rk, 10);
    }
}

/* ---- events ---- */

static void pack_str(msgpack_packer *pk, const char *s) {
    msgpack_pack_str_with_body(pk, s, strlen(s));
}

static void pack_envelope(msgpack_packer *pk, size_t fields, const char *type, const char *event_id,
                          const char *user) {
    msgpack_pack_map(pk, fields);
    pack_str(pk, "v");
    msgpack_pack_int(pk, 1);
    pack_str(pk, "type");
    pack_str(pk, type);
    pack_str(pk, "event_id");
    pack_str(pk, event_id);
    pack_str(pk, "user_id");
    pack_str(pk, user);
    pack_str(pk, "ts");
    msgpack_pack_int64(pk, EVENT_TS);
}

/* A profile.upserted: 1–3 experiences, each an appellation code (40 %), a fiche code (30 %) or the
 * appellation's short label as a title (30 %, lower-cased one time in two), half of them with a
 * duration, a third with an end year. */
static void profile_event(bench *b, const char *event_id, const char *user, msgpack_sbuffer *sb) {
    msgpack_sbuffer_clear(sb);
    msgpack_packer pk;
    msgpack_packer_init(&pk, sb, msgpack_sbuffer_write);
    pack_envelope(&pk, 6, "profile.upserted", event_id, user);
    uint32_t n = 1 + rnd(b, 3);
    pack_str(&pk, "experiences");
    msgpack_pack_array(&pk, n);
    for (uint32_t e = 0; e < n; e++) {
        const rome_appellation *a = &b->idx->appellations[rnd(b, b->idx->n.appellations)];
        uint32_t kind = rnd(b, 10), months = rnd(b, 2), end = rnd(b, 3) == 0;
        char title[201];
        snprintf(title, sizeof title, "%s", rome_str(b->idx, a->label_short));
        if (kind >= 7 && rnd(b, 2))
            for (char *c = title; *c; c++)
                if (*c >= 'A' && *c <= 'Z') *c = (char)(*c - 'A' + 'a');
        msgpack_pack_map(&pk, 1 + months + end);
        if (kind < 4) {
            pack_str(&pk, "appellation");
            msgpack_pack_uint32(&pk, a->code_ogr);
        } else if (kind < 7) {
            pack_str(&pk, "rome");
            pack_str(&pk, b->idx->fiches[a->fiche].code);
        } else {
            pack_str(&pk, "title");
            pack_str(&pk, title);
        }
        if (months) {
            pack_str(&pk, "months");
            msgpack_pack_uint32(&pk, 6 + rnd(b, 115));
        }
        if (end) {
            pack_str(&pk, "end_year");
            msgpack_pack_uint32(&pk, 2005 + rnd(b, 21));
        }
    }
}

/* A skills.confirmed: 1–5 competences or savoirs of a random fiche. */
static void skills_event(bench *b, const char *event_id, const char *user, msgpack_sbuffer *sb) {
    msgpack_sbuffer_clear(sb);
    msgpack_packer pk;
    msgpack_packer_init(&pk, sb, msgpack_sbuffer_write);
    pack_envelope(&pk, 6, "skills.confirmed", event_id, user);
    uint32_t f = rnd(b, b->idx->n.fiches);
    uint32_t n_items = rome_csr_count(&b->idx->fiche_items, f);
    const uint32_t *items = rome_csr_targets(&b->idx->fiche_items, f);
    uint32_t n = n_items < 5 ? n_items : 1 + rnd(b, 5);
    uint32_t start = n_items ? rnd(b, n_items) : 0;
    pack_str(&pk, "confirmed");
    msgpack_pack_array(&pk, n);
    for (uint32_t k = 0; k < n; k++) /* consecutive, hence distinct */
        msgpack_pack_uint32(&pk, b->idx->items[items[(start + k) % n_items]].code_ogr);
}

/* All profiles first, then the skill confirmations of random users among them. */
static int preload(bench *b) {
    b->skills = b->o.events / 5;
    b->profiles = b->o.events - b->skills;
    rd_kafka_t *rk = new_producer(b, "50");
    if (!rk) return 1;
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    double t0 = now_s();
    size_t bytes = 0;
    int rc = 0;
    for (long i = 0; i < b->o.events && !rc; i++) {
        char id[32], user[32];
        bool profile = i < b->profiles;
        long u = profile ? i : (long)rnd(b, (uint32_t)b->profiles);
        snprintf(user, sizeof user, "u-%07ld", u);
        snprintf(id, sizeof id, "%c-%ld", profile ? 'p' : 's', i);
        if (profile)
            profile_event(b, id, user, &sb);
        else
            skills_event(b, id, user, &sb);
        bytes += sb.size;
        rc = produce(rk, profile ? T_PROFILE : T_SKILLS, user, &sb);
        rd_kafka_poll(rk, 0);
    }
    if (!rc && rd_kafka_flush(rk, 120000)) rc = die("%s", "preload: flush timed out");
    msgpack_sbuffer_destroy(&sb);
    rd_kafka_destroy(rk);
    long in = rc ? -1 : end_offsets(b, T_PROFILE) + end_offsets(b, T_SKILLS);
    if (!rc && in != b->o.events) {
        fprintf(stderr, "bench_e2e: preload: %ld events on the broker, %ld produced\n", in,
                b->o.events);
        return 1;
    }
    printf("preloaded %ld events (%ld profile.upserted, %ld skills.confirmed), %.1f MB, "
           "%.0f bytes per event, in %.1f s\n",
           b->o.events, b->profiles, b->skills, (double)bytes / 1e6,
           (double)bytes / (double)b->o.events, now_s() - t0);
    return rc;
}

/* ---- the two systems ---- */

typedef enum system_kind { SYS_DAEMON, SYS_PASS } system_kind;

/* Starts the daemon (profile input `profile_topic`) or the passthrough, mode transactional or
 * not, with consumer group `group`. */
static pid_t start_system(bench *b, system_kind sys, bool txn, const char *profile_topic,
                          const char *skills_topic, const char *group, long count) {
    char log[128];
    snprintf(log, sizeof log, "%s/%s.log", b->dir, group);
    if (sys == SYS_PASS) {
        char n[32];
        snprintf(n, sizeof n, "%ld", count);
        char *argv[16] = {(char *)b->o.passthrough,
                          "--bootstrap",
                          b->bootstrap,
                          "--group",
                          (char *)group,
                          "--output",
                          T_PASS,
                          "--count",
                          n,
                          "-X",
                          "fetch.wait.max.ms=" FETCH_WAIT_MS};
        int k = 11;
        if (txn) {
            argv[k++] = "--transactional";
            argv[k++] = (char *)group;
        }
        argv[k++] = (char *)profile_topic;
        argv[k++] = (char *)skills_topic;
        argv[k] = NULL;
        return spawn(argv, log, NULL, NULL);
    }
    char conf[128];
    snprintf(conf, sizeof conf, "%s/%s.conf", b->dir, group);
    FILE *f = fopen(conf, "w");
    if (!f) return -1;
    fprintf(f,
            "[kafka]\nbootstrap.servers = %s\nauto.offset.reset = earliest\n"
            "fetch.wait.max.ms = " FETCH_WAIT_MS "\n%s%s%s"
            "[topics]\nprofile = %s\nskills = %s\nsuggestions = " T_SUGGESTIONS "\ndlq = " T_DLQ
            "\ngroup = %s\n"
            "[redis]\nurl = redis://127.0.0.1:%d/0\n"
            "[rome]\nsnapshot = %s\n[log]\nlevel = warning\n[http]\nenabled = false\n",
            b->bootstrap, txn ? "transactional.id = " : "", txn ? group : "", txn ? "\n" : "",
            profile_topic, skills_topic, group, b->redis_port, b->snapshot);
    fclose(f);
    char *argv[] = {(char *)b->o.daemon, "--config", conf, NULL};
    return spawn(argv, log, NULL, NULL);
}

/* One throughput run over the preloaded events. */
static int throughput(bench *b, system_kind sys, bool txn, int round, run *out) {
    const char *out_topic = sys == SYS_DAEMON ? T_SUGGESTIONS : T_PASS;
    long expected = sys == SYS_DAEMON ? 2 * b->profiles + b->skills : b->o.events;
    char group[64];
    snprintf(group, sizeof group, "bench-%s-%s-%d", sys == SYS_DAEMON ? "daemon" : "pass",
             txn ? "txn" : "plain", round);
    long long mem0 = 0;
    if (sys == SYS_DAEMON) {
        redis_flush(b);
        mem0 = redis_used_memory(b);
    }
    long base = end_offsets(b, out_topic), dlq0 = end_offsets(b, T_DLQ);
    double t0 = now_s();
    pid_t pid = start_system(b, sys, txn, T_PROFILE, T_SKILLS, group, b->o.events);
    if (pid < 0) return die("cannot start %s", group);
    long got = 0, last = -1;
    double last_progress = t0, t_done = t0;
    memset(out, 0, sizeof *out);
    while (got < expected) {
        sleep_s(0.05);
        long end = end_offsets(b, out_topic);
        double t = now_s();
        if (end >= 0) got = end - base;
        if (got != last) {
            last = got;
            last_progress = t_done = t;
        } else if (t - last_progress > STALL_S || (!alive(pid) && got < expected)) {
            out->stalled = true;
            break;
        }
    }
    out->seconds = t_done - t0;
    out->outputs = got;
    out->dlq = end_offsets(b, T_DLQ) - dlq0;
    out->events_per_s = (double)b->o.events * ((double)got / (double)expected) / out->seconds;
    if (sys == SYS_DAEMON) {
        out->redis_keys = (long)redis_int(b, "DBSIZE");
        long long mem = redis_used_memory(b);
        out->redis_bytes_per_user =
            out->redis_keys > 0 ? (double)(mem - mem0) / (double)out->redis_keys : 0;
    }
    int status = stop_process(pid, 30, &out->vm_hwm_kib);
    printf("  %-22s %8.0f events/s  %6.2f s  %ld outputs%s, DLQ %ld, VmHWM %.1f MiB", group,
           out->events_per_s, out->seconds, got,
           out->stalled ? " (STALLED: fewer than expected)" : "", out->dlq,
           (double)out->vm_hwm_kib / 1024.0);
    if (sys == SYS_DAEMON)
        printf(", Redis %.0f bytes/user (%ld keys)", out->redis_bytes_per_user, out->redis_keys);
    printf("%s\n", status == 0 ? "" : "  [exit status not 0: see its log]");
    fflush(stdout);
    return out->stalled ? 1 : 0;
}

/* ---- latency ---- */

static int cmp_double(const void *x, const void *y) {
    double a = *(const double *)x, c = *(const double *)y;
    return (a > c) - (a < c);
}

static rd_kafka_t *output_reader(bench *b, const char *topic) {
    char errstr[512];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    const char *props[][2] = {{"bootstrap.servers", b->bootstrap},
                              {"group.id", "bench-latency-reader"},
                              {"enable.auto.commit", "false"},
                              {"fetch.wait.max.ms", "5"}};
    for (size_t i = 0; i < sizeof props / sizeof props[0]; i++)
        if (rd_kafka_conf_set(conf, props[i][0], props[i][1], errstr, sizeof errstr)) {
            fprintf(stderr, "bench_e2e: %s\n", errstr);
            rd_kafka_conf_destroy(conf);
            return NULL;
        }
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, sizeof errstr);
    if (!rk) return NULL;
    rd_kafka_poll_set_consumer(rk);
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(b->o.partitions);
    for (int p = 0; p < b->o.partitions; p++)
        rd_kafka_topic_partition_list_add(l, topic, p)->offset = RD_KAFKA_OFFSET_END;
    rd_kafka_assign(rk, l);
    rd_kafka_topic_partition_list_destroy(l);
    return rk;
}

/* The index of a latency event from its output's key "l<run>-<i>" (-1: another, or a warm-up's);
 * the daemon's answer counts only as its jobs.suggested (the type's fixstr bytes). */
static long answered(const rd_kafka_message_t *m, int run_no, bool daemon, bool *warm) {
    char key[48];
    if (m->err || !m->key || m->key_len >= sizeof key) return -1;
    memcpy(key, m->key, m->key_len);
    key[m->key_len] = '\0';
    int r;
    long i;
    char kind;
    if (sscanf(key, "l%d%c%ld", &r, &kind, &i) != 3 || r != run_no) return -1;
    if (daemon) {
        static const char jobs[] = "\xaejobs.suggested";
        bool found = false;
        const char *v = m->payload;
        for (size_t k = 0; !found && k + sizeof jobs - 1 <= m->len && k < 64; k++)
            found = !memcmp(v + k, jobs, sizeof jobs - 1);
        if (!found) return -1;
    }
    if (kind == 'w') *warm = true;
    return kind == '-' ? i : -1;
}

/* p50 and p99 (ms) of one system at o.rate events/s for o.latency_s seconds, on a fresh input
 * topic: warm-up events every 200 ms until one is answered (the group has joined), then the
 * measured ones. */
static int latency(bench *b, system_kind sys, bool txn, int run_no, double *p50, double *p99) {
    char topic[32], group[64];
    snprintf(topic, sizeof topic, "bench.latency.%d", run_no);
    snprintf(group, sizeof group, "bench-lat-%s-%s", sys == SYS_DAEMON ? "daemon" : "pass",
             txn ? "txn" : "plain");
    bool daemon = sys == SYS_DAEMON;
    if (daemon) redis_flush(b);
    rd_kafka_t *reader = output_reader(b, daemon ? T_SUGGESTIONS : T_PASS);
    rd_kafka_t *rk = new_producer(b, "0");
    long n = b->o.rate * b->o.latency_s;
    double *sent = calloc((size_t)n, sizeof *sent), *lat = calloc((size_t)n, sizeof *lat);
    if (!reader || !rk || !sent || !lat) return die("%s", "latency: out of memory");
    sleep_s(1.0); /* the reader's assignment at the end offsets */
    pid_t pid = start_system(b, sys, txn, topic, T_LAT_SKILLS, group, 0);
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    char key[48];
    bool warm = false;
    double deadline = now_s() + 60;
    for (long w = 0; !warm && now_s() < deadline; w++) {
        snprintf(key, sizeof key, "l%dw%ld", run_no, w);
        profile_event(b, key, key, &sb);
        produce(rk, topic, key, &sb);
        rd_kafka_poll(rk, 0);
        double until = now_s() + 0.2;
        while (!warm && now_s() < until) {
            rd_kafka_message_t *m = rd_kafka_consumer_poll(reader, 20);
            if (m) answered(m, run_no, daemon, &warm);
            if (m) rd_kafka_message_destroy(m);
        }
    }
    if (!warm) {
        stop_process(pid, 30, NULL);
        return die("latency: %s never answered a warm-up event", group);
    }
    sleep_s(1.0);
    long received = 0;
    double start = now_s(), period = 1.0 / (double)b->o.rate;
    long next = 0;
    deadline = start + (double)b->o.latency_s + 15;
    while (received < n && now_s() < deadline) {
        double t = now_s();
        while (next < n && t >= start + (double)next * period) {
            snprintf(key, sizeof key, "l%d-%ld", run_no, next);
            profile_event(b, key, key, &sb);
            sent[next] = now_s();
            produce(rk, topic, key, &sb);
            next++;
            t = now_s();
        }
        rd_kafka_poll(rk, 0);
        rd_kafka_message_t *m = rd_kafka_consumer_poll(reader, 1);
        while (m) {
            long i = answered(m, run_no, daemon, &warm);
            if (i >= 0 && i < next && lat[i] == 0) {
                lat[i] = now_s() - sent[i];
                received++;
            }
            rd_kafka_message_destroy(m);
            m = rd_kafka_consumer_poll(reader, 0);
        }
    }
    stop_process(pid, 30, NULL);
    long k = 0;
    for (long i = 0; i < n; i++)
        if (lat[i] > 0) lat[k++] = lat[i];
    qsort(lat, (size_t)k, sizeof *lat, cmp_double);
    *p50 = k ? lat[k / 2] * 1e3 : -1;
    *p99 = k ? lat[(size_t)((double)k * 0.99)] * 1e3 : -1;
    printf("  %-22s p50 %6.1f ms  p99 %6.1f ms  max %6.1f ms  (%ld of %ld answered)\n", group, *p50,
           *p99, k ? lat[k - 1] * 1e3 : -1, k, n);
    fflush(stdout);
    msgpack_sbuffer_destroy(&sb);
    free(sent);
    free(lat);
    rd_kafka_consumer_close(reader);
    rd_kafka_destroy(reader);
    rd_kafka_flush(rk, 5000);
    rd_kafka_destroy(rk);
    return k == n ? 0 : 1;
}

/* ---- main ---- */

static double median(double *v, long n) {
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static int usage(void) {
    fprintf(stderr,
            "usage: bench_e2e [--rome DIR] [--events N >= 10] [--rounds 1..%d] [--rate N] "
            "[--latency-s S] [--partitions P] [--daemon PATH] [--keep]\n",
            MAX_ROUNDS);
    return 2;
}

static int parse(int argc, char **argv, options *o) {
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--keep")) {
            o->keep = true;
            continue;
        }
        if (!v) return -1;
        i++;
        if (!strcmp(a, "--rome"))
            o->rome = v;
        else if (!strcmp(a, "--daemon"))
            o->daemon = v;
        else if (!strcmp(a, "--events"))
            o->events = atol(v);
        else if (!strcmp(a, "--rounds"))
            o->rounds = atol(v);
        else if (!strcmp(a, "--rate"))
            o->rate = atol(v);
        else if (!strcmp(a, "--latency-s"))
            o->latency_s = atol(v);
        else if (!strcmp(a, "--partitions"))
            o->partitions = atoi(v);
        else
            return -1;
    }
    return o->events >= 10 && o->rounds >= 1 && o->rounds <= MAX_ROUNDS && o->rate >= 1 &&
                   o->latency_s >= 1 && o->partitions >= 1
               ? 0
               : -1;
}

int main(int argc, char **argv) {
    bench b = {.o = {PASSERELLE_ROME_DIR, BENCH_PASSERELLED, BENCH_PASSTHROUGH, BENCH_MOCK_BROKER,
                     200000, 3, 1000, 10, 32, false},
               .rng = 0x9E3779B97F4A7C15ULL,
               .broker = -1,
               .redis = -1,
               .broker_stdin = -1};
    if (parse(argc, argv, &b.o)) return usage();
    signal(SIGPIPE, SIG_IGN);
    snprintf(b.dir, sizeof b.dir, "/tmp/bench-e2e-XXXXXX");
    if (!mkdtemp(b.dir)) return die("mkdtemp: %s", strerror(errno));
    px_error err = {0};
    b.idx = rome_load_csv(b.o.rome, NULL, &err);
    if (!b.idx) return die("%s", err.msg);
    snprintf(b.snapshot, sizeof b.snapshot, "%s/rome.snap", b.dir);
    if (rome_snapshot_write(b.idx, b.snapshot, &err)) return die("%s", err.msg);
    int rc = start_broker(&b) || start_redis(&b);
    if (!rc && !(b.admin = new_producer(&b, "5"))) rc = 1;
    if (!rc) {
        printf("bench_e2e: 3-broker mock cluster at %s (%d partitions per topic), redis-server on "
               "port %d, run directory %s\n",
               b.bootstrap, b.o.partitions, b.redis_port, b.dir);
        rc = preload(&b);
    }
    run runs[2][2][MAX_ROUNDS]; /* [system][txn][round] */
    for (long r = 0; !rc && r < b.o.rounds; r++) {
        printf("round %ld\n", r + 1);
        for (int txn = 0; txn < 2 && !rc; txn++)
            for (int sys = 0; sys < 2 && !rc; sys++)
                rc = throughput(&b, (system_kind)sys, txn, (int)r + 1, &runs[sys][txn][r]);
    }
    double p50[2][2] = {{0}}, p99[2][2] = {{0}};
    if (!rc)
        printf("latency at %ld events/s for %ld s (profile.upserted)\n", b.o.rate, b.o.latency_s);
    for (int txn = 0; txn < 2 && !rc; txn++)
        for (int sys = 0; sys < 2 && !rc; sys++)
            rc = latency(&b, (system_kind)sys, txn, txn * 2 + sys, &p50[sys][txn], &p99[sys][txn]);
    if (!rc) {
        printf("\nsummary: %ld events, %ld rounds (medians; ranges over the rounds)\n", b.o.events,
               b.o.rounds);
        printf("| mode | daemon events/s | passthrough events/s | ratio daemon / passthrough | "
               "p50 / p99 daemon | p50 / p99 passthrough | daemon VmHWM | Redis bytes/user |\n");
        printf("|---|---|---|---|---|---|---|---|\n");
        for (int txn = 0; txn < 2; txn++) {
            double d[MAX_ROUNDS], p[MAX_ROUNDS], ratio[MAX_ROUNDS], hwm = 0, redis[MAX_ROUNDS];
            for (long r = 0; r < b.o.rounds; r++) {
                d[r] = runs[SYS_DAEMON][txn][r].events_per_s;
                p[r] = runs[SYS_PASS][txn][r].events_per_s;
                ratio[r] = d[r] / p[r];
                redis[r] = runs[SYS_DAEMON][txn][r].redis_bytes_per_user;
                double h = (double)runs[SYS_DAEMON][txn][r].vm_hwm_kib / 1024.0;
                hwm = h > hwm ? h : hwm;
            }
            double rmin = ratio[0], rmax = ratio[0];
            for (long r = 1; r < b.o.rounds; r++) {
                rmin = ratio[r] < rmin ? ratio[r] : rmin;
                rmax = ratio[r] > rmax ? ratio[r] : rmax;
            }
            printf("| %s | %.0f | %.0f | **%.3f** (%.3f–%.3f) | %.1f / %.1f ms | %.1f / %.1f ms "
                   "| %.1f MiB (max) | %.0f |\n",
                   txn ? "transactional" : "plain", median(d, b.o.rounds), median(p, b.o.rounds),
                   median(ratio, b.o.rounds), rmin, rmax, p50[SYS_DAEMON][txn],
                   p99[SYS_DAEMON][txn], p50[SYS_PASS][txn], p99[SYS_PASS][txn], hwm,
                   median(redis, b.o.rounds));
        }
        FILE *load = fopen("/proc/loadavg", "r");
        char avg[64] = "";
        if (load && fgets(avg, sizeof avg, load)) printf("load average at the end: %s", avg);
        if (load) fclose(load);
    }
    if (b.admin) rd_kafka_destroy(b.admin);
    if (b.rc) redisFree(b.rc);
    stop_process(b.redis, 10, NULL);
    if (b.broker_stdin >= 0) close(b.broker_stdin);
    stop_process(b.broker, 30, NULL);
    rome_index_free(b.idx);
    if (!b.o.keep) {
        char cmd[128];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", b.dir);
        if (system(cmd)) fprintf(stderr, "bench_e2e: could not remove %s\n", b.dir);
    } else {
        printf("logs and configurations kept in %s\n", b.dir);
    }
    return rc;
}
