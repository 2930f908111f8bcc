/* passerelle match — runs the matcher over profiles given as JSON Lines, one JSON result a line.
 *
 * Each line goes JSON → msgpack (msgpack_json) → profile (event_decode_profile_message, the
 * daemon's own message checks, decoder and limits) → matcher_run → msgpack (suggestion_codec) →
 * JSON text (json_write, exact numbers, one pass), so the command shows exactly what the daemon
 * would decide. Lines are streamed: memory does not grow with the file. --jobs threads match the
 * lines of a chunk side by side; the results are written in input order. */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <msgpack.h>

#include "cli_labels.h"
#include "commands.h"
#include "config.h"
#include "event_codec.h"
#include "json_write.h"
#include "matcher.h"
#include "msgpack_json.h"
#include "px_limits.h"
#include "rome_load.h"
#include "rome_snapshot.h"
#include "suggestion_codec.h"

static void usage(FILE *out) {
    fprintf(
        out,
        "usage: passerelle match (--rome DIR | --snapshot FILE) [--top N] [--config FILE]\n"
        "                        [--labels] [--strict] [--jobs N] [FILE]\n"
        "\n"
        "Reads profiles as JSON Lines (from FILE, or stdin) with the event field names:\n"
        "user_id, ts, experiences, avoid, domains, exclude_domains, include_regulated,\n"
        "confirmed, rejected, added. `ts` (milliseconds since the epoch) sets the year\n"
        "recency is counted to, as an event's ts does in the daemon; without it every\n"
        "experience counts as recent. Writes one JSON result a line, in input order: user_id,\n"
        "rome_version, experiences, skills, jobs, current, excluded. A malformed line yields\n"
        "{\"line\": N, \"reason\": \"...\", \"error\": \"...\"} (reason: the daemon's, e.g. "
        "over_limit,\n"
        "when it would refuse the line for one) and the run goes on; the exit status is 1 when "
        "any\n"
        "line failed.\n"
        "\n"
        "  --rome DIR       the official ROME 4.0 CSV export\n"
        "  --snapshot FILE  an index snapshot written by `passerelle rome build`\n"
        "  --top N          occupations per result (default from the configuration, 20)\n"
        "  --config FILE    an INI file; its [matching] section tunes the method "
        "(docs/matching.md)\n"
        "  --labels         every code in words too: held_labels, missing_labels,\n"
        "                   contexts_labels, qualifications_labels (parallel to the codes),\n"
        "                   appellation_label, rome_label, macro_label, avoid_label,\n"
        "                   code_label (docs/asyncapi.yaml, MatchLabels)\n"
        "  --strict         a key the contract does not name makes the line an error naming it\n"
        "                   and the nearest known key: avoids: unknown key; did you mean "
        "\"avoid\"?\n"
        "                   (without it unknown keys are ignored, as the daemon ignores them)\n"
        "  --jobs N         threads matching lines side by side, 1 to 256 (default: the\n"
        "                   processors online); above 1, results come out by chunks of 256\n"
        "                   lines, still in input order\n");
    fputs(CLI_ROME_ENV_HELP, out);
}

/* The [matching] section of an INI file, read by the daemon's own configuration reader. */
static int load_config(const char *path, matcher_config *cfg) {
    px_error err;
    px_error_clear(&err);
    if (config_load_matching(path, cfg, &err)) {
        fprintf(stderr, "passerelle match: %s\n", err.msg);
        return -1;
    }
    return 0;
}

/* What every thread shares: the matcher is immutable (matcher.h), the rest is read-only. */
typedef struct match_run {
    const matcher *m;
    event_limits limits;
    const rome_index *labels; /* --labels: the index naming the codes, else NULL */
    bool strict;              /* --strict: unknown keys are errors */
    char rome_version[PX_VERSION_LABEL_MAX + 1];
} match_run;

/* Lines are matched a chunk at a time by --jobs threads; the chunk holds the lines and where each
 * one's text is, so the results are written in input order once the chunk is done, while the
 * threads match the next one. Two chunks in flight bound memory: 2 x CHUNK_LINES lines and
 * their results. */
#define CHUNK_LINES 256
#define MAX_JOBS    256

struct match_chunk;

/* What one thread needs of its own (matcher.h: a scratch and a result per thread). */
typedef struct match_worker {
    const match_run *run;
    struct match_chunk *chunk;
    pthread_t thread;
    matcher_scratch *scratch;
    match_result result;
    msgpack_sbuffer in, out;
    json_buf texts[2]; /* one per chunk in flight: the texts of the lines it took, in turn */
    json_buf *text;    /* the one of the chunk being matched */
} match_worker;

typedef struct chunk_line {
    char *text; /* getline's buffer, kept from chunk to chunk */
    size_t cap, len;
    size_t line_no;          /* in the input, blank lines (skipped) counted */
    const json_buf *by;      /* the text holding the result, at out_off: out_len bytes */
    size_t out_off, out_len; /* out_len 0: no memory even for the error object */
    bool failed;
} chunk_line;

typedef struct match_chunk {
    chunk_line lines[CHUNK_LINES];
    size_t n;
    unsigned parity;    /* which of the workers' texts hold its results */
    atomic_size_t next; /* the next line to take: threads take lines as they finish one */
} match_chunk;

/* {"line":N,"user_id":…,"reason":…,"error":…}: reason is the daemon's (event_reason_name) when
 * the daemon would refuse the line for one, absent otherwise (syntax, a value JSON cannot map). */
static int put_line_error(json_buf *b, size_t line, const char *user_id, const px_error *err) {
    int rc = json_buf_puts(b, "{\"line\":") || json_write_int(b, (long long)line);
    if (user_id)
        rc =
            rc || json_buf_puts(b, ",\"user_id\":") || json_write_text(b, user_id, strlen(user_id));
    if (err->reason)
        rc = rc || json_buf_puts(b, ",\"reason\":") ||
             json_write_string(b, event_reason_name(err->reason),
                               strlen(event_reason_name(err->reason)));
    return rc || json_buf_puts(b, ",\"error\":") ||
           json_write_text(b, err->msg, strlen(err->msg)) || json_buf_puts(b, "}\n");
}

/* The daemon's reason for a line msgpack_json could not convert, when it has one. */
static int conversion_reason(int reason) {
    switch (reason) {
    case MSGPACK_JSON_ERR_TOO_BIG:
    case MSGPACK_JSON_ERR_TOO_DEEP: return EVENT_ERR_OVER_LIMIT;
    case MSGPACK_JSON_ERR_BAD_UTF8: return EVENT_ERR_BAD_UTF8;
    case MSGPACK_JSON_ERR_DUPLICATE_KEY: return EVENT_ERR_DUPLICATE_KEY;
    case MSGPACK_JSON_ERR_NOMEM: return EVENT_ERR_NOMEM;
    default: return 0;
    }
}

/* One line: returns 0 with the result appended to *w->text, or -1 with err naming what is wrong
 * and err->reason an event_reason (0 when the daemon has none for it). The converted line goes
 * through the daemon's message checks (size, depth) before its profile is decoded. */
static int match_line(match_worker *w, const char *text, size_t len, char **user_id,
                      px_error *err) {
    const match_run *run = w->run;
    profile p;
    memset(&p, 0, sizeof p);
    msgpack_sbuffer_clear(&w->in);
    msgpack_sbuffer_clear(&w->out);
    if (msgpack_json_text_to_msgpack(text, len, &w->in, NULL, err)) {
        err->reason = conversion_reason(err->reason);
        return -1;
    }
    const event_decode_options opts = {.limits = &run->limits, .strict = run->strict};
    if (event_decode_profile_message(w->in.data, w->in.size, &opts, &p, user_id, err)) return -1;
    int rc = -1;
    msgpack_packer pk;
    msgpack_packer_init(&pk, &w->out, msgpack_sbuffer_write);
    if (matcher_run(run->m, w->scratch, &p, &w->result, err)) {
        /* as the daemon dead-letters a refusal of the matcher */
        err->reason = err->code == PX_ELIMIT ? EVENT_ERR_OVER_LIMIT : EVENT_ERR_UNKNOWN_CODE;
        goto done;
    }
    size_t from = w->text->len;
    if (suggestion_encode_match(&pk, *user_id ? *user_id : "", run->rome_version, run->m,
                                &w->result, err) ||
        json_write_msgpack(w->text, w->out.data, w->out.size, NULL, err) ||
        (run->labels && cli_labels_apply(run->labels, w->text, from, err))) {
        err->reason = 0;
        goto done;
    }
    if (json_buf_puts(w->text, "\n")) {
        px_error_set(err, PX_ENOMEM, "out of memory writing the result");
        goto done;
    }
    rc = 0;
done:
    profile_free(&p);
    return rc;
}

/* A thread's share of a chunk: lines taken one at a time until none is left. */
static void *match_lines(void *arg) {
    match_worker *w = arg;
    match_chunk *c = w->chunk;
    for (size_t i; (i = atomic_fetch_add(&c->next, 1)) < c->n;) {
        chunk_line *l = &c->lines[i];
        char *user_id = NULL;
        px_error err = {0};
        l->by = w->text;
        l->out_off = w->text->len;
        l->failed = match_line(w, l->text, l->len, &user_id, &err) != 0;
        if (l->failed) {
            w->text->len = l->out_off; /* drop a partial result */
            if (put_line_error(w->text, l->line_no, user_id, &err)) w->text->len = l->out_off;
        }
        l->out_len = w->text->len - l->out_off;
        free(user_id);
    }
    return NULL;
}

/* Starts up to `threads` threads on the chunk's lines and returns how many started; with none
 * (threads 0, or none could start) the lines are matched here before it returns. */
static size_t start_chunk(match_worker *workers, size_t threads, match_chunk *c) {
    atomic_store(&c->next, 0);
    for (size_t k = 0; k < (threads ? threads : 1); k++) {
        workers[k].chunk = c;
        workers[k].text = &workers[k].texts[c->parity];
        workers[k].text->len = 0;
    }
    size_t started = 0;
    while (started < threads && started < c->n &&
           !pthread_create(&workers[started].thread, NULL, match_lines, &workers[started]))
        started++;
    if (!started) match_lines(&workers[0]);
    return started;
}

/* The chunk's results in input order. Returns 1 when a line failed. */
static int write_chunk(const match_chunk *c) {
    int failed = 0;
    for (size_t i = 0; i < c->n; i++) {
        const chunk_line *l = &c->lines[i];
        if (l->out_len)
            fwrite(l->by->data + l->out_off, 1, l->out_len, stdout);
        else
            printf("{\"line\":%zu,\"error\":\"out of memory\"}\n", l->line_no);
        failed |= l->failed;
    }
    return failed;
}

/* Up to per_chunk lines, numbered on from *line_no; blank lines are skipped (as `send` and
 * `explain` skip them) but counted. *more turns false at the end of the input. */
static void read_chunk(match_chunk *c, size_t per_chunk, FILE *in, size_t *line_no, bool *more) {
    c->n = 0;
    while (*more && c->n < per_chunk) {
        chunk_line *l = &c->lines[c->n];
        ssize_t len = getline(&l->text, &l->cap, in);
        if (len < 0) {
            *more = false;
            break;
        }
        while (len > 0 && (l->text[len - 1] == '\n' || l->text[len - 1] == '\r'))
            l->text[--len] = '\0';
        l->len = (size_t)len;
        l->line_no = ++*line_no;
        if (l->text[strspn(l->text, " \t")] != '\0') c->n++;
    }
}

/* With --jobs above 1, chunk k is written while the threads match chunk k + 1. With one job no
 * thread is started and a chunk is one line, written before the next line is read (a pipe fed
 * line by line gets its answers as it goes). */
static int match_stream(match_worker *workers, size_t jobs, FILE *in) {
    match_chunk *chunks = calloc(2, sizeof *chunks);
    if (!chunks) {
        fprintf(stderr, "passerelle match: out of memory\n");
        return 1;
    }
    size_t threads = jobs > 1 ? jobs : 0, per_chunk = jobs > 1 ? CHUNK_LINES : 1, line_no = 0;
    const match_chunk *pending = NULL; /* matched, its results not written yet */
    int failed = 0;
    bool more = true;
    for (unsigned parity = 0; pending || more; parity ^= 1) {
        match_chunk *c = &chunks[parity];
        c->parity = parity;
        read_chunk(c, per_chunk, in, &line_no, &more);
        size_t started = c->n ? start_chunk(workers, threads, c) : 0;
        if (pending) failed |= write_chunk(pending);
        for (size_t k = 0; k < started; k++) pthread_join(workers[k].thread, NULL);
        pending = started ? c : NULL;
        if (c->n && !started) failed |= write_chunk(c);
    }
    for (size_t k = 0; k < 2; k++)
        for (size_t i = 0; i < CHUNK_LINES; i++) free(chunks[k].lines[i].text);
    free(chunks);
    if (ferror(in)) {
        fprintf(stderr, "passerelle match: read error after line %zu: %s\n", line_no,
                strerror(errno));
        return 1;
    }
    return failed;
}

/* --jobs: 1..MAX_JOBS; the default is the processors online. */
static int parse_jobs(const char *text, size_t *jobs) {
    if (!text) {
        long online = sysconf(_SC_NPROCESSORS_ONLN);
        *jobs = online < 1 ? 1 : online > MAX_JOBS ? MAX_JOBS : (size_t)online;
        return 0;
    }
    char *end;
    errno = 0;
    unsigned long v = strtoul(text, &end, 10);
    if (errno || end == text || *end || text[0] == '-' || v < 1 || v > MAX_JOBS) {
        fprintf(stderr, "passerelle match: --jobs: expected a number of threads, 1 to %d\n",
                MAX_JOBS);
        return -1;
    }
    *jobs = (size_t)v;
    return 0;
}

int cli_match_main(int argc, char **argv) {
    const char *rome_dir = NULL, *snapshot = NULL, *top = NULL, *config_path = NULL, *input = NULL,
               *jobs_text = NULL;
    bool labels = false, strict = false;
    for (int i = 1; i < argc; i++) {
        const char **slot = !strcmp(argv[i], "--rome")       ? &rome_dir
                            : !strcmp(argv[i], "--snapshot") ? &snapshot
                            : !strcmp(argv[i], "--top")      ? &top
                            : !strcmp(argv[i], "--config")   ? &config_path
                            : !strcmp(argv[i], "--jobs")     ? &jobs_text
                                                             : NULL;
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            usage(stdout);
            return 0;
        }
        if (!strcmp(argv[i], "--labels") || !strcmp(argv[i], "--strict")) {
            *(argv[i][2] == 'l' ? &labels : &strict) = true;
        } else if (slot && i + 1 < argc) {
            *slot = argv[++i];
        } else if (!slot && argv[i][0] != '-' && !input) {
            input = argv[i];
        } else {
            fprintf(stderr, "passerelle match: unexpected or incomplete argument '%s'\n", argv[i]);
            usage(stderr);
            return 2;
        }
    }
    cli_rome_source_default(&rome_dir, &snapshot);
    if (!rome_dir == !snapshot) {
        fprintf(stderr, "passerelle match: give exactly one of --rome DIR and --snapshot FILE\n");
        usage(stderr);
        return 2;
    }
    matcher_config cfg = matcher_config_default();
    px_error err = {0};
    size_t jobs;
    if (parse_jobs(jobs_text, &jobs)) return 2;
    if (config_path && load_config(config_path, &cfg)) return 2;
    if (top && matcher_config_set(&cfg, "top", top, &err)) {
        fprintf(stderr, "passerelle match: --top: %s\n", err.msg);
        return 2;
    }
    FILE *in = input ? fopen(input, "r") : stdin;
    if (!in) {
        fprintf(stderr, "passerelle match: cannot open %s: %s\n", input, strerror(errno));
        return 2;
    }
    rome_index *idx =
        rome_dir ? rome_load_csv(rome_dir, NULL, &err) : rome_snapshot_load(snapshot, &err);
    matcher *m = idx ? matcher_build(idx, &cfg, &err) : NULL;
    match_run run = {
        .m = m, .limits = event_limits_default(), .labels = labels ? idx : NULL, .strict = strict};
    match_worker *workers = m ? calloc(jobs, sizeof *workers) : NULL;
    if (m && !workers) px_error_set(&err, PX_ENOMEM, "out of memory");
    size_t ready = 0;
    while (workers && ready < jobs && (workers[ready].scratch = matcher_scratch_new(m, &err))) {
        workers[ready].run = &run;
        msgpack_sbuffer_init(&workers[ready].in);
        msgpack_sbuffer_init(&workers[ready].out);
        ready++;
    }
    int status = 2;
    if (!workers || ready < jobs) {
        fprintf(stderr, "passerelle match: %s\n", err.msg);
    } else {
        suggestion_rome_version(idx, run.rome_version, sizeof run.rome_version);
        status = match_stream(workers, jobs, in);
    }
    if (fflush(stdout)) {
        fprintf(stderr, "passerelle match: cannot write the results: %s\n", strerror(errno));
        status = 1;
    }
    for (size_t k = 0; k < ready; k++) {
        json_buf_free(&workers[k].texts[0]);
        json_buf_free(&workers[k].texts[1]);
        msgpack_sbuffer_destroy(&workers[k].in);
        msgpack_sbuffer_destroy(&workers[k].out);
        match_result_free(&workers[k].result);
        matcher_scratch_free(workers[k].scratch);
    }
    free(workers);
    matcher_free(m);
    rome_index_free(idx);
    if (input) fclose(in);
    return status;
}
