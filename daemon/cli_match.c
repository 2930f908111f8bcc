/* passerelle match — runs the matcher over profiles given as JSON Lines, one JSON result a line.
 *
 * Each line goes JSON → msgpack (msgpack_json) → profile (event_decode_profile_message, the
 * daemon's own message checks, decoder and limits) → matcher_run → msgpack (suggestion_codec) →
 * JSON text (json_write, exact numbers, one pass), so the command shows exactly what the daemon
 * would decide. Lines are streamed: memory does not grow with the file. */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
        "                        [--labels] [--strict] [FILE]\n"
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
        "                   and the nearest known key: avoids: unknown key; did you mean \"avoid\"?\n"
        "                   (without it unknown keys are ignored, as the daemon ignores them)\n");
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

typedef struct match_run {
    const matcher *m;
    matcher_scratch *scratch;
    match_result result;
    event_limits limits;
    const rome_index *labels; /* --labels: the index naming the codes, else NULL */
    bool strict;              /* --strict: unknown keys are errors */
    char rome_version[PX_VERSION_LABEL_MAX + 1];
    msgpack_sbuffer in, out;
    json_buf text;
} match_run;

/* {"line":N,"user_id":…,"reason":…,"error":…}: reason is the daemon's (event_reason_name) when
 * the daemon would refuse the line for one, absent otherwise (syntax, a value JSON cannot map). */
static void print_line_error(match_run *run, size_t line, const char *user_id,
                             const px_error *err) {
    json_buf *b = &run->text;
    b->len = 0;
    int rc = json_buf_puts(b, "{\"line\":") || json_write_int(b, (long long)line);
    if (user_id)
        rc =
            rc || json_buf_puts(b, ",\"user_id\":") || json_write_text(b, user_id, strlen(user_id));
    if (err->reason)
        rc = rc || json_buf_puts(b, ",\"reason\":") ||
             json_write_string(b, event_reason_name(err->reason),
                               strlen(event_reason_name(err->reason)));
    rc = rc || json_buf_puts(b, ",\"error\":") || json_write_text(b, err->msg, strlen(err->msg)) ||
         json_buf_puts(b, "}\n");
    if (rc)
        printf("{\"line\":%zu,\"error\":\"out of memory\"}\n", line);
    else
        fwrite(b->data, 1, b->len, stdout);
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

/* One line: returns 0 and prints the result, or -1 with err naming what is wrong and err->reason
 * an event_reason (0 when the daemon has none for it). The converted line goes through the
 * daemon's message checks (size, depth) before its profile is decoded. */
static int match_line(match_run *run, const char *text, size_t len, char **user_id, px_error *err) {
    profile p;
    memset(&p, 0, sizeof p);
    msgpack_sbuffer_clear(&run->in);
    msgpack_sbuffer_clear(&run->out);
    if (msgpack_json_text_to_msgpack(text, len, &run->in, NULL, err)) {
        err->reason = conversion_reason(err->reason);
        return -1;
    }
    const event_decode_options opts = {.limits = &run->limits, .strict = run->strict};
    if (event_decode_profile_message(run->in.data, run->in.size, &opts, &p, user_id, err))
        return -1;
    int rc = -1;
    msgpack_packer pk;
    msgpack_packer_init(&pk, &run->out, msgpack_sbuffer_write);
    if (matcher_run(run->m, run->scratch, &p, &run->result, err)) {
        /* as the daemon dead-letters a refusal of the matcher */
        err->reason = err->code == PX_ELIMIT ? EVENT_ERR_OVER_LIMIT : EVENT_ERR_UNKNOWN_CODE;
        goto done;
    }
    run->text.len = 0;
    if (suggestion_encode_match(&pk, *user_id ? *user_id : "", run->rome_version, run->m,
                                &run->result, err) ||
        json_write_msgpack(&run->text, run->out.data, run->out.size, NULL, err) ||
        (run->labels && cli_labels_apply(run->labels, &run->text, err))) {
        err->reason = 0;
        goto done;
    }
    if (json_buf_puts(&run->text, "\n")) {
        px_error_set(err, PX_ENOMEM, "out of memory writing the result");
        goto done;
    }
    fwrite(run->text.data, 1, run->text.len, stdout);
    rc = 0;
done:
    profile_free(&p);
    return rc;
}

static int match_stream(match_run *run, FILE *in) {
    char *line = NULL;
    size_t cap = 0, line_no = 0;
    ssize_t len;
    int failed = 0;
    while ((len = getline(&line, &cap, in)) >= 0) {
        line_no++;
        while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r')) line[--len] = '\0';
        if (line[strspn(line, " \t")] == '\0') continue; /* as `send` and `explain` do */
        char *user_id = NULL;
        px_error err = {0};
        if (match_line(run, line, (size_t)len, &user_id, &err)) {
            print_line_error(run, line_no, user_id, &err);
            failed = 1;
        }
        free(user_id);
    }
    free(line);
    if (ferror(in)) {
        fprintf(stderr, "passerelle match: read error after line %zu: %s\n", line_no, strerror(errno));
        return 1;
    }
    return failed;
}

int cli_match_main(int argc, char **argv) {
    const char *rome_dir = NULL, *snapshot = NULL, *top = NULL, *config_path = NULL,
               *input = NULL;
    bool labels = false;
    bool strict = false;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--strict")) {
            strict = true;
            continue;
        }
        const char **slot = !strcmp(argv[i], "--rome")       ? &rome_dir
                            : !strcmp(argv[i], "--snapshot") ? &snapshot
                            : !strcmp(argv[i], "--top")      ? &top
                            : !strcmp(argv[i], "--config")   ? &config_path
                                                             : NULL;
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            usage(stdout);
            return 0;
        }
        if (!strcmp(argv[i], "--labels")) {
            labels = true;
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
    rome_index *idx = rome_dir ? rome_load_csv(rome_dir, NULL, &err) : rome_snapshot_load(snapshot, &err);
    matcher *m = idx ? matcher_build(idx, &cfg, &err) : NULL;
    match_run run = {.m = m, .limits = event_limits_default(),  .labels = labels ? idx : NULL,
                     .strict = strict};
    run.scratch = m ? matcher_scratch_new(m, &err) : NULL;
    int status = 2;
    if (!run.scratch) {
        fprintf(stderr, "passerelle match: %s\n", err.msg);
    } else {
        suggestion_rome_version(idx, run.rome_version, sizeof run.rome_version);
        msgpack_sbuffer_init(&run.in);
        msgpack_sbuffer_init(&run.out);
        status = match_stream(&run, in);
        json_buf_free(&run.text);
        msgpack_sbuffer_destroy(&run.in);
        msgpack_sbuffer_destroy(&run.out);
    }
    if (fflush(stdout)) {
        fprintf(stderr, "passerelle match: cannot write the results: %s\n", strerror(errno));
        status = 1;
    }
    match_result_free(&run.result);
    matcher_scratch_free(run.scratch);
    matcher_free(m);
    rome_index_free(idx);
    if (input) fclose(in);
    return status;
}
