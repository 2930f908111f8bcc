/* passerelle match — runs the matcher over profiles given as JSON Lines, one JSON result a line.
 *
 * Each line goes JSON → msgpack (msgpack_json) → profile (event_decode_profile, the daemon's own
 * decoder and limits) → matcher_run → msgpack (suggestion_codec) → JSON, so the command shows
 * exactly what the daemon would decide. Lines are streamed: memory does not grow with the file. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <msgpack.h>

#include "commands.h"
#include "config.h"
#include "event_codec.h"
#include "matcher.h"
#include "msgpack_json.h"
#include "px_limits.h"
#include "rome_load.h"
#include "rome_snapshot.h"
#include "suggestion_codec.h"

static void usage(FILE *out) {
    fprintf(out,
            "usage: passerelle match (--rome DIR | --snapshot FILE) [--top N] [--config FILE] [--strict]\n"
            "                        [FILE]\n"
            "\n"
            "Reads profiles as JSON Lines (from FILE, or stdin) with the event field names:\n"
            "user_id, ts, experiences, avoid, domains, exclude_domains, include_regulated,\n"
            "confirmed, rejected, added. `ts` (milliseconds since the epoch) sets the year\n"
            "recency is counted to, as an event's ts does in the daemon; without it every\n"
            "experience counts as recent. Writes one JSON result a line, in input order: user_id,\n"
            "rome_version, experiences, skills, jobs, current, excluded. A malformed line yields\n"
            "{\"line\": N, \"error\": \"...\"} and the run goes on; the exit status is 1 when any\n"
            "line failed.\n"
            "\n"
            "  --rome DIR       the official ROME 4.0 CSV export\n"
            "  --snapshot FILE  an index snapshot written by `passerelle rome build`\n"
            "  --top N          occupations per result (default from the configuration, 20)\n"
            "  --config FILE    an INI file; its [matching] section tunes the method (docs/matching.md)\n"
            "  --strict         a key the contract does not name makes the line an error naming it\n"
            "                   and the nearest known key: avoids: unknown key; did you mean \"avoid\"?\n"
            "                   (without it unknown keys are ignored, as the daemon ignores them)\n");
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

static void print_line_error(size_t line, const char *user_id, const char *msg) {
    cJSON *o = cJSON_CreateObject();
    char *text = NULL;
    if (o && cJSON_AddNumberToObject(o, "line", (double)line) && (!user_id || cJSON_AddStringToObject(o, "user_id", user_id)) &&
        cJSON_AddStringToObject(o, "error", msg))
        text = cJSON_PrintUnformatted(o);
    if (text) printf("%s\n", text);
    else printf("{\"line\":%zu,\"error\":\"out of memory\"}\n", line);
    cJSON_free(text);
    cJSON_Delete(o);
}

typedef struct match_run {
    const matcher *m;
    matcher_scratch *scratch;
    match_result result;
    event_limits limits;
    bool strict;                /* --strict: unknown keys are errors */
    char rome_version[PX_VERSION_LABEL_MAX + 1];
    msgpack_sbuffer in, out;
    msgpack_unpacked unpacked;
} match_run;

/* One line: returns 0 and prints the result, or -1 with err naming what is wrong. */
static int match_line(match_run *run, const char *text, size_t len, char **user_id, px_error *err) {
    profile p;
    memset(&p, 0, sizeof p);
    msgpack_sbuffer_clear(&run->in);
    msgpack_sbuffer_clear(&run->out);
    if (msgpack_json_text_to_msgpack(text, len, &run->in, NULL, err)) return -1;
    if (msgpack_unpack_next(&run->unpacked, run->in.data, run->in.size, NULL) != MSGPACK_UNPACK_SUCCESS)
        return px_error_set(err, PX_EFATAL, "internal: could not read back the converted line");
    if (run->unpacked.data.type != MSGPACK_OBJECT_MAP) return px_error_set(err, PX_EINVAL, "a profile line must be a JSON object");
    int rc = -1;
    char *json = NULL;
    msgpack_packer pk;
    msgpack_packer_init(&pk, &run->out, msgpack_sbuffer_write);
    const event_decode_options opts = {.limits = &run->limits, .strict = run->strict};
    if (event_decode_profile_with(&run->unpacked.data, &opts, &p, user_id, err) ||
        matcher_run(run->m, run->scratch, &p, &run->result, err) ||
        suggestion_encode_match(&pk, *user_id ? *user_id : "", run->rome_version, run->m, &run->result, err) ||
        !(json = msgpack_json_bytes_to_text(run->out.data, run->out.size, NULL, err)))
        goto done;
    printf("%s\n", json);
    rc = 0;
done:
    cJSON_free(json);
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
        char *user_id = NULL;
        px_error err = {0};
        if (match_line(run, line, (size_t)len, &user_id, &err)) {
            print_line_error(line_no, user_id, err.msg);
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
        if (slot && i + 1 < argc) {
            *slot = argv[++i];
        } else if (!slot && argv[i][0] != '-' && !input) {
            input = argv[i];
        } else {
            fprintf(stderr, "passerelle match: unexpected or incomplete argument '%s'\n", argv[i]);
            usage(stderr);
            return 2;
        }
    }
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
    match_run run = {.m = m, .limits = event_limits_default(), .strict = strict};
    run.scratch = m ? matcher_scratch_new(m, &err) : NULL;
    int status = 2;
    if (!run.scratch) {
        fprintf(stderr, "passerelle match: %s\n", err.msg);
    } else {
        suggestion_rome_version(idx, run.rome_version, sizeof run.rome_version);
        msgpack_sbuffer_init(&run.in);
        msgpack_sbuffer_init(&run.out);
        msgpack_unpacked_init(&run.unpacked);
        status = match_stream(&run, in);
        msgpack_unpacked_destroy(&run.unpacked);
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
