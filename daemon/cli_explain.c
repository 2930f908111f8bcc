/* `passerelle explain`: suggestion events (as JSON lines from `passerelle tail` or `passerelle
 * match`) rendered for people: occupations with the competences held and to acquire in words. */
#include <cjson/cJSON.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "rome_load.h"
#include "rome_snapshot.h"

#define EXPLAIN_LINE_MAX (4u << 20) /* longest JSON line read */
#define EXPLAIN_LIST_MAX 5          /* competences listed per job before "…" */

static void explain_usage(FILE *out) {
    fprintf(out, "usage: passerelle explain (--rome DIR | --snapshot FILE) [--max N] [FILE]\n"
                 "Reads suggestion events as JSON lines (from `passerelle tail` or `passerelle match`, FILE or\n"
                 "stdin) and prints them readably, with ROME labels. --max N lists N competences per job (default 5).\n");
}

static const char *item_label(const rome_index *idx, double code) {
    uint32_t it = code >= 0 && code < ROME_NONE ? rome_item_find(idx, (uint32_t)code) : ROME_NONE;
    return it == ROME_NONE ? "(unknown code)" : rome_str(idx, idx->items[it].label);
}

static void print_codes(const rome_index *idx, const char *title, const cJSON *codes, int max) {
    int n = cJSON_GetArraySize(codes);
    if (n <= 0) return;
    printf("       %s (%d):", title, n);
    int i = 0;
    const cJSON *c;
    cJSON_ArrayForEach(c, codes) {
        if (i++ == max) {
            printf(" …");
            break;
        }
        printf("%s %s", i > 1 ? ";" : "", item_label(idx, c->valuedouble));
    }
    printf("\n");
}

static void print_skills(const rome_index *idx, const cJSON *skills, int max) {
    printf("   competences to confirm, most informative first:\n");
    int i = 0;
    const cJSON *s;
    cJSON_ArrayForEach(s, skills) {
        if (i++ == max * 2) {
            printf("     … and %d more\n", cJSON_GetArraySize(skills) - max * 2);
            break;
        }
        const cJSON *kind = cJSON_GetObjectItem(s, "kind");
        printf("     [%s] %s\n", cJSON_IsString(kind) ? kind->valuestring : "?",
               item_label(idx, cJSON_GetNumberValue(cJSON_GetObjectItem(s, "code"))));
    }
}

static void print_jobs(const rome_index *idx, const cJSON *v, int max) {
    const cJSON *jobs = cJSON_GetObjectItem(v, "jobs"), *j;
    printf("   occupations to move to, best first:\n");
    int rank = 0;
    cJSON_ArrayForEach(j, jobs) {
        if (rank++ == max * 2) break;
        const cJSON *rome = cJSON_GetObjectItem(j, "rome");
        const char *code = cJSON_IsString(rome) ? rome->valuestring : "?";
        uint32_t f = rome_fiche_find(idx, code);
        printf("   %2d. %s %s — score %.2f\n", rank, code, f == ROME_NONE ? "" : rome_str(idx, idx->fiches[f].label),
               cJSON_GetNumberValue(cJSON_GetObjectItem(j, "score")));
        print_codes(idx, "already held", cJSON_GetObjectItem(j, "held"), max);
        print_codes(idx, "to acquire", cJSON_GetObjectItem(j, "missing"), max);
        print_codes(idx, "qualifications to obtain", cJSON_GetObjectItem(j, "qualifications"), max);
    }
    const cJSON *excluded = cJSON_GetObjectItem(v, "excluded");
    const cJSON *constraints = cJSON_GetObjectItem(excluded, "constraints"), *c;
    cJSON_ArrayForEach(c, constraints) {
        const cJSON *name = cJSON_GetObjectItem(c, "avoid");
        double removed = cJSON_GetNumberValue(cJSON_GetObjectItem(c, "removed"));
        char what[64];
        if (cJSON_IsString(name)) snprintf(what, sizeof what, "%s", name->valuestring);
        else snprintf(what, sizeof what, "contexte %.0f", cJSON_GetNumberValue(name));
        if (removed > 0) printf("   without %s: %.0f more\n", what, removed);
    }
}

static void explain_value(const rome_index *idx, const char *key, const cJSON *v, int max) {
    const cJSON *type = cJSON_GetObjectItem(v, "type"), *user = cJSON_GetObjectItem(v, "user_id");
    const char *who = cJSON_IsString(user) ? user->valuestring : key ? key : "?";
    const char *t = cJSON_IsString(type) ? type->valuestring : "match";
    if (!strcmp(t, "dlq.record")) {
        const cJSON *reason = cJSON_GetObjectItem(v, "reason"), *msg = cJSON_GetObjectItem(v, "message");
        const cJSON *original = cJSON_GetObjectItem(v, "original");
        const cJSON *ouser = cJSON_GetObjectItem(original, "user_id"), *oid = cJSON_GetObjectItem(original, "event_id");
        printf("✗ %s — event %s refused (%s): %s\n", cJSON_IsString(ouser) ? ouser->valuestring : "?",
               cJSON_IsString(oid) ? oid->valuestring : "?", cJSON_IsString(reason) ? reason->valuestring : "?",
               cJSON_IsString(msg) ? msg->valuestring : "");
        return;
    }
    printf("▶ %s — %s\n", who, t);
    const cJSON *skills = cJSON_GetObjectItem(v, "skills");
    if (cJSON_IsArray(skills)) print_skills(idx, skills, max);
    if (cJSON_IsArray(cJSON_GetObjectItem(v, "jobs"))) print_jobs(idx, v, max);
}

/* A line is an event as `passerelle tail` or `passerelle match` prints it, or a tombstone
 * {"key": …, "tombstone": true}. */
static int explain_line(const rome_index *idx, const char *line, size_t lineno, int max) {
    cJSON *j = cJSON_Parse(line);
    if (!cJSON_IsObject(j)) {
        fprintf(stderr, "passerelle explain: line %zu: not a JSON object\n", lineno);
        cJSON_Delete(j);
        return -1;
    }
    const cJSON *key = cJSON_GetObjectItem(j, "key");
    const char *k = cJSON_IsString(key) ? key->valuestring : NULL;
    if (cJSON_IsTrue(cJSON_GetObjectItem(j, "tombstone")))
        printf("▶ %s — erased (tombstone): downstream services forget this person\n", k ? k : "?");
    else
        explain_value(idx, k, j, max);
    cJSON_Delete(j);
    return 0;
}

int cli_explain_main(int argc, char **argv) {
    static const struct option opts[] = {{"rome", required_argument, NULL, 'r'}, {"snapshot", required_argument, NULL, 's'},
                                         {"max", required_argument, NULL, 'm'},  {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    const char *dir = NULL, *snap = NULL;
    int max = EXPLAIN_LIST_MAX, c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "r:s:m:h", opts, NULL)) != -1) {
        switch (c) {
        case 'r': dir = optarg; break;
        case 's': snap = optarg; break;
        case 'm': max = atoi(optarg); break;
        case 'h': explain_usage(stdout); return 0;
        default: explain_usage(stderr); return 2;
        }
    }
    if ((dir != NULL) == (snap != NULL) || max < 1 || argc - optind > 1) {
        explain_usage(stderr);
        return 2;
    }
    FILE *in = argc > optind ? fopen(argv[optind], "r") : stdin;
    if (!in) {
        fprintf(stderr, "passerelle explain: cannot open %s\n", argv[optind]);
        return 1;
    }
    px_error err = {0};
    rome_index *idx = dir ? rome_load_csv(dir, NULL, &err) : rome_snapshot_load(snap, &err);
    if (!idx) {
        fprintf(stderr, "passerelle explain: %s\n", err.msg);
        if (in != stdin) fclose(in);
        return 1;
    }
    char *line = malloc(EXPLAIN_LINE_MAX);
    size_t lineno = 0;
    int failed = 0;
    while (line && fgets(line, EXPLAIN_LINE_MAX, in)) {
        lineno++;
        if (line[strspn(line, " \t\r\n")] == '\0') continue;
        if (explain_line(idx, line, lineno, max)) failed = 1;
        fflush(stdout);
    }
    free(line);
    if (in != stdin) fclose(in);
    rome_index_free(idx);
    return failed;
}
