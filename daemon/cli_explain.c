/* `passerelle explain`: suggestion events (as JSON lines from `passerelle tail` or `passerelle
 * match`) rendered for people: occupations with what their score is made of, their flags and the
 * competences held and to acquire in words, and what each constraint removed and why. */
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
    fputs(CLI_ROME_ENV_HELP, out);
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

static double number(const cJSON *o, const char *k) {
    return cJSON_GetNumberValue(cJSON_GetObjectItem(o, k));
}

static const char *fiche_label(const rome_index *idx, const char *code) {
    uint32_t f = rome_fiche_find(idx, code);
    return f == ROME_NONE ? "" : rome_str(idx, idx->fiches[f].label);
}

/* The diploma a fiche's entry level names (docs/matching.md §3). */
static const char *level_name(double level) {
    static const char *const names[] = {"CAP/BEP", "Bac", "Bac+2", "Bac+3", "Bac+5", "doctorat"};
    return level >= 3 && level <= 8 ? names[(int)level - 3] : NULL;
}

/* What a job's score is made of, how much of it is held, and its flags, in words. */
static void print_job_detail(const cJSON *j) {
    const cJSON *c = cJSON_GetObjectItem(j, "components");
    if (cJSON_IsObject(c))
        printf("       score from: competences held %.2f, related %.2f, profile %.2f, kinship %.2f,"
               " level factor %.2f\n",
               number(c, "competences"), number(c, "related"), number(c, "profile"),
               number(c, "kinship"), number(c, "level"));
    const char *level = level_name(number(j, "level"));
    if (cJSON_IsNumber(cJSON_GetObjectItem(j, "held_share")))
        printf("       holds %.0f%% of its competences; entry level %s\n",
               100 * number(j, "held_share"), level ? level : "not stated");
    static const struct {
        const char *key, *words;
    } flags[] = {
        {"regulated", "regulated occupation (emploi réglementé)"},
        {"cadre", "cadre position"},
        {"no_evidence", "shares no competence with you: suggested for its kinship with your jobs"},
        {"qualification_gap", "needs a qualification you do not hold"},
    };
    for (size_t k = 0; k < sizeof flags / sizeof flags[0]; k++)
        if (cJSON_IsTrue(cJSON_GetObjectItem(j, flags[k].key)))
            printf("       ! %s\n", flags[k].words);
}

/* Why a constraint removed a job: {because, code} of excluded.constraints[].jobs[]. */
static void print_removal(const rome_index *idx, const cJSON *x) {
    const cJSON *rome = cJSON_GetObjectItem(x, "rome");
    const cJSON *because = cJSON_GetObjectItem(x, "because");
    const cJSON *code = cJSON_GetObjectItem(x, "code");
    const char *fiche = cJSON_IsString(rome) ? rome->valuestring : "?";
    const char *why = cJSON_IsString(because) ? because->valuestring : "?";
    printf("       %s %s — ", fiche, fiche_label(idx, fiche));
    if (!strcmp(why, "contexte") && cJSON_IsNumber(code)) {
        uint32_t c = code->valuedouble >= 0 && code->valuedouble < ROME_NONE
                         ? rome_contexte_find(idx, (uint32_t)code->valuedouble) : ROME_NONE;
        printf("ROME lists \"%s\" for it\n", c == ROME_NONE ? "(unknown contexte)"
                                                          : rome_str(idx, idx->contextes[c].label));
    } else if (!strcmp(why, "competence") && cJSON_IsNumber(code)) {
        printf("it needs \"%s\"\n", item_label(idx, code->valuedouble));
    } else if (!strcmp(why, "parent") && cJSON_IsString(code)) {
        printf("derives from %s %s, which has it\n", code->valuestring,
               fiche_label(idx, code->valuestring));
    } else if (!strcmp(why, "domain") && cJSON_IsString(code)) {
        uint32_t d = rome_domaine_find(idx, code->valuestring);
        printf("most of its domain %s %s has it\n", code->valuestring,
               d == ROME_NONE ? "" : rome_str(idx, idx->domaines[d].label));
    } else {
        printf("%s\n", why);
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
        print_job_detail(j);
        print_codes(idx, "already held", cJSON_GetObjectItem(j, "held"), max);
        print_codes(idx, "to acquire", cJSON_GetObjectItem(j, "missing"), max);
        print_codes(idx, "qualifications to obtain", cJSON_GetObjectItem(j, "qualifications"), max);
    }
    const cJSON *excluded = cJSON_GetObjectItem(v, "excluded");
    const cJSON *constraints = cJSON_GetObjectItem(excluded, "constraints"), *c;
    cJSON_ArrayForEach(c, constraints) {
        const cJSON *name = cJSON_GetObjectItem(c, "avoid");
        double removed = cJSON_GetNumberValue(cJSON_GetObjectItem(c, "removed"));
        char what[160];
        if (cJSON_IsString(name)) snprintf(what, sizeof what, "%s", name->valuestring);
        else {
            double code = cJSON_GetNumberValue(name);
            uint32_t ctx = code >= 0 && code < ROME_NONE ? rome_contexte_find(idx, (uint32_t)code) : ROME_NONE;
            snprintf(what, sizeof what, "contexte %.0f (%s)", code,
                     ctx == ROME_NONE ? "unknown" : rome_str(idx, idx->contextes[ctx].label));
        }
        if (removed > 0) printf("   without %s: %.0f more, among them\n", what, removed);
        const cJSON *x;
        cJSON_ArrayForEach(x, cJSON_GetObjectItem(c, "jobs")) print_removal(idx, x);
    }
    const cJSON *regulated = cJSON_GetObjectItem(excluded, "regulated"), *x;
    if (number(regulated, "removed") > 0)
        printf("   held back, regulated occupations whose qualification you do not hold: %.0f,"
               " among them\n", number(regulated, "removed"));
    cJSON_ArrayForEach(x, cJSON_GetObjectItem(regulated, "jobs")) {
        const cJSON *rome = cJSON_GetObjectItem(x, "rome");
        const char *fiche = cJSON_IsString(rome) ? rome->valuestring : "?";
        printf("       %s %s\n", fiche, fiche_label(idx, fiche));
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
    cli_rome_source_default(&dir, &snap);
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
