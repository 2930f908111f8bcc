/* `passerelle explain`: suggestion events (as JSON lines from `passerelle tail` or `passerelle
 * match`) rendered for people: what was understood of their experiences (and, for a title that
 * was not, what it may have meant), their current occupations, the occupations to move to with
 * what their score is made of, their flags and the competences held and to acquire in words, what
 * each constraint, the excluded domains and the missing qualifications removed and why, and the
 * lines that failed with their message. In English, or in French with --lang fr (the ROME labels
 * are French either way). */
#include <cjson/cJSON.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli_labels.h"
#include "commands.h"
#include "rome_load.h"
#include "rome_snapshot.h"

#define EXPLAIN_LINE_MAX (4u << 20) /* longest JSON line read */
#define EXPLAIN_LIST_MAX 5          /* competences listed per job before "…" */

/* The words explain adds around ROME's labels. Each is printed with "%s" (never as a format), a
 * "…_pre"/"…_post" pair around what it frames. */
typedef struct words {
    const char *unknown_code, *unknown_contexte, *not_stated;
    const char *colon, *question, *percent; /* French puts a space before each */
    const char *understood, *not_understood, *did_you_mean, *or_perhaps, *confidence;
    const char *current, *coverage;
    const char *skills, *more, *jobs, *score_from, *components[5];
    const char *holds_pre, *holds_post, *flags[4];
    const char *held, *to_acquire, *qualifications;
    const char *without_pre, *without_post, *nothing_removed, *domains, *regulated, *among;
    const char *contexte_pre, *contexte_post, *competence_pre, *competence_post;
    const char *parent_pre, *parent_post, *domain_pre, *domain_post;
    const char *line, *refused, *event, *event_refused, *erased;
} words;

static const words english = {
    .unknown_code = "(unknown code)",
    .unknown_contexte = "unknown",
    .not_stated = "not stated",
    .colon = ": ",
    .question = "?",
    .percent = "%",
    .understood = "what was understood of the experiences:",
    .not_understood = "not understood: ",
    .did_you_mean = "did you mean: ",
    .or_perhaps = "or perhaps: ",
    .confidence = "confidence",
    .current = "current occupations (not suggested as moves):",
    .coverage = "coverage",
    .skills = "competences to confirm, most informative first:",
    .more = "more",
    .jobs = "occupations to move to, best first:",
    .score_from = "score from:",
    .components = {"competences held", "related", "profile", "kinship", "level factor"},
    .holds_pre = "holds ",
    .holds_post = " of its competences; entry level ",
    .flags = {"regulated occupation (emploi réglementé)", "cadre position",
              "shares no competence with you: suggested for its kinship with your jobs",
              "needs a qualification you do not hold"},
    .held = "already held",
    .to_acquire = "to acquire",
    .qualifications = "qualifications to obtain",
    .without_pre = "without ",
    .without_post = " more, among them",
    .nothing_removed = "removes no occupation",
    .domains = "left out with the excluded domains:",
    .regulated = "held back, regulated occupations whose qualification you do not hold:",
    .among = ", among them",
    .contexte_pre = "ROME lists \"",
    .contexte_post = "\" for it",
    .competence_pre = "it needs \"",
    .competence_post = "\"",
    .parent_pre = "derives from ",
    .parent_post = ", which has it",
    .domain_pre = "most of its domain ",
    .domain_post = " has it",
    .line = "line",
    .refused = "refused:",
    .event = "event",
    .event_refused = "refused",
    .erased = "erased (tombstone): downstream services forget this person",
};

static const words french = {
    .unknown_code = "(code inconnu)",
    .unknown_contexte = "inconnu",
    .not_stated = "non précisé",
    .colon = " : ",
    .question = " ?",
    .percent = " %",
    .understood = "ce qui a été compris des expériences :",
    .not_understood = "non compris : ",
    .did_you_mean = "vouliez-vous dire : ",
    .or_perhaps = "ou peut-être : ",
    .confidence = "confiance",
    .current = "métiers actuels (non proposés comme évolution) :",
    .coverage = "couverture",
    .skills = "compétences à confirmer, les plus informatives d'abord :",
    .more = "de plus",
    .jobs = "métiers vers lesquels évoluer, les meilleurs d'abord :",
    .score_from = "score issu de :",
    .components = {"compétences acquises", "apparentées", "profil", "parenté", "facteur de niveau"},
    .holds_pre = "vous avez ",
    .holds_post = " de ses compétences ; niveau d'accès ",
    .flags = {"métier réglementé", "poste de cadre",
              "aucune compétence en commun : proposé pour sa parenté avec vos métiers",
              "demande une qualification que vous n'avez pas"},
    .held = "compétences acquises",
    .to_acquire = "à acquérir",
    .qualifications = "qualifications à obtenir",
    .without_pre = "écartés par la contrainte ",
    .without_post = " métiers, dont",
    .nothing_removed = "n'écarte aucun métier",
    .domains = "écartés avec les domaines exclus :",
    .regulated = "réservés, métiers réglementés dont vous n'avez pas la qualification :",
    .among = ", dont",
    .contexte_pre = "ROME y indique « ",
    .contexte_post = " »",
    .competence_pre = "il demande « ",
    .competence_post = " »",
    .parent_pre = "dérive de ",
    .parent_post = ", qui l'a",
    .domain_pre = "la plupart des métiers de son domaine ",
    .domain_post = " l'ont",
    .line = "ligne",
    .refused = "refusée :",
    .event = "événement",
    .event_refused = "refusé",
    .erased = "effacé (tombstone) : les services en aval oublient cette personne",
};

typedef struct explain_ctx {
    const rome_index *idx;
    const words *w;
    int max; /* competences listed per job; twice as many jobs and skills */
} explain_ctx;

static void explain_usage(FILE *out) {
    fprintf(out,
            "usage: passerelle explain (--rome DIR | --snapshot FILE) [--max N] [--lang en|fr]\n"
            "                          [FILE]\n"
            "Reads suggestion events, dead letters or `passerelle match` results as JSON lines\n"
            "(from `passerelle tail` or `passerelle match`, FILE or stdin) and prints them\n"
            "readably, with ROME labels. --max N lists N competences per job (default 5).\n"
            "--lang fr writes explain's own words in French (ROME's labels are French in both).\n");
    fputs(CLI_ROME_ENV_HELP, out);
}

static const char * or (const char *s, const char *dflt) { return s ? s : dflt; }

static const char *string(const cJSON *o, const char *k, const char *dflt) {
    const cJSON *v = cJSON_GetObjectItem(o, k);
    return cJSON_IsString(v) ? v->valuestring : dflt;
}

static double number(const cJSON *o, const char *k) {
    return cJSON_GetNumberValue(cJSON_GetObjectItem(o, k));
}

static const char *fiche_label(const explain_ctx *x, const char *code) {
    return or (cli_label_fiche(x->idx, code), "");
}

static void print_codes(const explain_ctx *x, const char *title, const cJSON *codes) {
    int n = cJSON_GetArraySize(codes);
    if (n <= 0) return;
    printf("       %s (%d)%s", title, n, x->w->colon);
    int i = 0;
    const cJSON *c;
    cJSON_ArrayForEach(c, codes) {
        if (i++ == x->max) {
            printf(" …");
            break;
        }
        printf("%s%s", i > 1 ? "; " : "",
               or (cli_label_item(x->idx, c->valuedouble), x->w->unknown_code));
    }
    printf("\n");
}

/* "Label (D1505)" for each alternative reading of a title, between lead and tail. */
static void print_alternatives(const cJSON *alternatives, const char *lead, const char *tail) {
    if (cJSON_GetArraySize(alternatives) <= 0) return;
    printf("        %s", lead);
    int i = 0;
    const cJSON *a;
    cJSON_ArrayForEach(a, alternatives)
        printf("%s%s (%s)", i++ ? "; " : "", string(a, "label", "?"), string(a, "rome", "?"));
    printf("%s\n", tail);
}

/* How each experience was read: the appellation and fiche it resolved to, or why it did not and
 * what the title may have meant. */
static void print_experiences(const explain_ctx *x, const cJSON *experiences) {
    if (cJSON_GetArraySize(experiences) <= 0) return;
    printf("   %s\n", x->w->understood);
    const cJSON *e;
    cJSON_ArrayForEach(e, experiences) {
        printf("     %.0f. ", number(e, "index") + 1);
        const cJSON *error = cJSON_GetObjectItem(e, "error");
        if (cJSON_IsString(error)) {
            printf("%s%s\n", x->w->not_understood, error->valuestring);
            print_alternatives(cJSON_GetObjectItem(e, "alternatives"), x->w->did_you_mean,
                               x->w->question);
            continue;
        }
        const cJSON *appellation = cJSON_GetObjectItem(e, "appellation");
        const char *rome = string(e, "rome", "?");
        if (cJSON_IsNumber(appellation))
            printf("%s — ", or (cli_label_appellation(x->idx, appellation->valuedouble),
                                x->w->unknown_code));
        printf("%s %s", rome, fiche_label(x, rome));
        double confidence = number(e, "confidence");
        if (confidence < 1) printf(" (%s %.2f)", x->w->confidence, confidence);
        printf("\n");
        /* a title read with doubt: the other readings may be what the person meant */
        if (confidence < 1)
            print_alternatives(cJSON_GetObjectItem(e, "alternatives"), x->w->or_perhaps, "");
    }
}

static void print_current(const explain_ctx *x, const cJSON *current) {
    if (cJSON_GetArraySize(current) <= 0) return;
    printf("   %s\n", x->w->current);
    const cJSON *c;
    cJSON_ArrayForEach(c, current) {
        const char *rome = string(c, "rome", "?");
        printf("       %s %s — %s %.2f\n", rome, fiche_label(x, rome), x->w->coverage,
               number(c, "score"));
    }
}

static void print_skills(const explain_ctx *x, const cJSON *skills) {
    printf("   %s\n", x->w->skills);
    int i = 0;
    const cJSON *s;
    cJSON_ArrayForEach(s, skills) {
        if (i++ == x->max * 2) {
            printf("     … (%d %s)\n", cJSON_GetArraySize(skills) - x->max * 2, x->w->more);
            break;
        }
        printf("     [%s] %s\n", string(s, "kind", "?"),
               or (cli_label_item(x->idx, number(s, "code")), x->w->unknown_code));
    }
}

/* The diploma a fiche's entry level names (docs/matching.md §3). */
static const char *level_name(double level) {
    static const char *const names[] = {"CAP/BEP", "Bac", "Bac+2", "Bac+3", "Bac+5", "doctorat"};
    return level >= 3 && level <= 8 ? names[(int)level - 3] : NULL;
}

/* What a job's score is made of, how much of it is held, and its flags, in words. */
static void print_job_detail(const explain_ctx *x, const cJSON *j) {
    static const char *const components[] = {"competences", "related", "profile", "kinship",
                                             "level"};
    static const char *const flags[] = {"regulated", "cadre", "no_evidence", "qualification_gap"};
    const words *w = x->w;
    const cJSON *c = cJSON_GetObjectItem(j, "components");
    if (cJSON_IsObject(c)) {
        printf("       %s", w->score_from);
        for (size_t k = 0; k < sizeof components / sizeof components[0]; k++)
            printf("%s %s %.2f", k ? "," : "", w->components[k], number(c, components[k]));
        printf("\n");
    }
    if (cJSON_IsNumber(cJSON_GetObjectItem(j, "held_share")))
        printf("       %s%.0f%s%s%s\n", w->holds_pre, 100 * number(j, "held_share"), w->percent,
               w->holds_post, or (level_name(number(j, "level")), w->not_stated));
    for (size_t k = 0; k < sizeof flags / sizeof flags[0]; k++)
        if (cJSON_IsTrue(cJSON_GetObjectItem(j, flags[k]))) printf("       ! %s\n", w->flags[k]);
}

/* Why a constraint removed a job: {because, code} of excluded.constraints[].jobs[]. */
static void print_removal(const explain_ctx *x, const cJSON *r) {
    const words *w = x->w;
    const char *fiche = string(r, "rome", "?"), *why = string(r, "because", "?");
    const cJSON *code = cJSON_GetObjectItem(r, "code");
    printf("       %s %s — ", fiche, fiche_label(x, fiche));
    if (!strcmp(why, "contexte") && cJSON_IsNumber(code))
        printf("%s%s%s\n", w->contexte_pre,
               or (cli_label_contexte(x->idx, code->valuedouble), w->unknown_contexte),
               w->contexte_post);
    else if (!strcmp(why, "competence") && cJSON_IsNumber(code))
        printf("%s%s%s\n", w->competence_pre,
               or (cli_label_item(x->idx, code->valuedouble), w->unknown_code), w->competence_post);
    else if (!strcmp(why, "parent") && cJSON_IsString(code))
        printf("%s%s %s%s\n", w->parent_pre, code->valuestring, fiche_label(x, code->valuestring),
               w->parent_post);
    else if (!strcmp(why, "domain") && cJSON_IsString(code))
        printf("%s%s %s%s\n", w->domain_pre, code->valuestring,
               or (cli_label_domaine(x->idx, code->valuestring), ""), w->domain_post);
    else
        printf("%s\n", why);
}

/* What each avoid entry removed, with why for the best of those jobs. */
static void print_constraints(const explain_ctx *x, const cJSON *constraints) {
    const cJSON *c, *r;
    cJSON_ArrayForEach(c, constraints) {
        const cJSON *avoid = cJSON_GetObjectItem(c, "avoid");
        double removed = number(c, "removed");
        char what[160];
        if (cJSON_IsString(avoid)) {
            snprintf(what, sizeof what, "%s", avoid->valuestring);
        } else {
            double code = cJSON_GetNumberValue(avoid);
            snprintf(what, sizeof what, "contexte %.0f (%s)", code,
                     or (cli_label_contexte(x->idx, code), x->w->unknown_contexte));
        }
        if (removed > 0)
            printf("   %s%s%s%.0f%s\n", x->w->without_pre, what, x->w->colon, removed,
                   x->w->without_post);
        else
            printf("   %s%s%s%s\n", x->w->without_pre, what, x->w->colon, x->w->nothing_removed);
        cJSON_ArrayForEach(r, cJSON_GetObjectItem(c, "jobs")) print_removal(x, r);
    }
}

static void print_jobs(const explain_ctx *x, const cJSON *v) {
    const words *w = x->w;
    const cJSON *j;
    printf("   %s\n", w->jobs);
    int rank = 0;
    cJSON_ArrayForEach(j, cJSON_GetObjectItem(v, "jobs")) {
        if (rank++ == x->max * 2) break;
        const char *code = string(j, "rome", "?");
        printf("   %2d. %s %s — score %.2f\n", rank, code, fiche_label(x, code),
               number(j, "score"));
        print_job_detail(x, j);
        print_codes(x, w->held, cJSON_GetObjectItem(j, "held"));
        print_codes(x, w->to_acquire, cJSON_GetObjectItem(j, "missing"));
        print_codes(x, w->qualifications, cJSON_GetObjectItem(j, "qualifications"));
    }
    const cJSON *excluded = cJSON_GetObjectItem(v, "excluded");
    print_constraints(x, cJSON_GetObjectItem(excluded, "constraints"));
    if (number(excluded, "domains") > 0)
        printf("   %s %.0f\n", w->domains, number(excluded, "domains"));
    const cJSON *regulated = cJSON_GetObjectItem(excluded, "regulated"), *r;
    if (number(regulated, "removed") > 0)
        printf("   %s %.0f%s\n", w->regulated, number(regulated, "removed"), w->among);
    cJSON_ArrayForEach(r, cJSON_GetObjectItem(regulated, "jobs")) {
        const char *fiche = string(r, "rome", "?");
        printf("       %s %s\n", fiche, fiche_label(x, fiche));
    }
}

static void explain_value(const explain_ctx *x, const char *key, const cJSON *v) {
    const words *w = x->w;
    const char *who = string(v, "user_id", key ? key : "?");
    const char *t = string(v, "type", "match");
    const cJSON *error = cJSON_GetObjectItem(v, "error");
    if (!strcmp(t, "dlq.record")) {
        const cJSON *original = cJSON_GetObjectItem(v, "original");
        printf("✗ %s — %s %s %s (%s): %s\n", string(original, "user_id", "?"), w->event,
               string(original, "event_id", "?"), w->event_refused, string(v, "reason", "?"),
               string(v, "message", ""));
        return;
    }
    if (cJSON_IsString(error)) { /* a `passerelle match` line that failed: {line, user_id, error} */
        printf("✗ %s — %s %.0f %s %s\n", who, w->line, number(v, "line"), w->refused,
               error->valuestring);
        return;
    }
    printf("▶ %s — %s\n", who, t);
    print_experiences(x, cJSON_GetObjectItem(v, "experiences"));
    print_current(x, cJSON_GetObjectItem(v, "current"));
    const cJSON *skills = cJSON_GetObjectItem(v, "skills");
    if (cJSON_IsArray(skills)) print_skills(x, skills);
    if (cJSON_IsArray(cJSON_GetObjectItem(v, "jobs"))) print_jobs(x, v);
}

/* A line is an event as `passerelle tail` or `passerelle match` prints it, or a tombstone
 * {"key": …, "tombstone": true}. */
static int explain_line(const explain_ctx *x, const char *line, size_t lineno) {
    cJSON *j = cJSON_Parse(line);
    if (!cJSON_IsObject(j)) {
        fprintf(stderr, "passerelle explain: line %zu: not a JSON object\n", lineno);
        cJSON_Delete(j);
        return -1;
    }
    const char *k = string(j, "key", NULL);
    if (cJSON_IsTrue(cJSON_GetObjectItem(j, "tombstone")))
        printf("▶ %s — %s\n", k ? k : "?", x->w->erased);
    else
        explain_value(x, k, j);
    cJSON_Delete(j);
    return 0;
}

int cli_explain_main(int argc, char **argv) {
    static const struct option opts[] = {
        {"rome", required_argument, NULL, 'r'}, {"snapshot", required_argument, NULL, 's'},
        {"max", required_argument, NULL, 'm'},  {"lang", required_argument, NULL, 'l'},
        {"help", no_argument, NULL, 'h'},       {NULL, 0, NULL, 0}};
    const char *dir = NULL, *snap = NULL, *lang = "en";
    int max = EXPLAIN_LIST_MAX, c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "r:s:m:l:h", opts, NULL)) != -1) {
        switch (c) {
        case 'r': dir = optarg; break;
        case 's': snap = optarg; break;
        case 'm': max = atoi(optarg); break;
        case 'l': lang = optarg; break;
        case 'h': explain_usage(stdout); return 0;
        default: explain_usage(stderr); return 2;
        }
    }
    cli_rome_source_default(&dir, &snap);
    const words *w = !strcmp(lang, "en") ? &english : !strcmp(lang, "fr") ? &french : NULL;
    if ((dir != NULL) == (snap != NULL) || max < 1 || argc - optind > 1 || !w) {
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
    const explain_ctx x = {.idx = idx, .w = w, .max = max};
    char *line = malloc(EXPLAIN_LINE_MAX);
    size_t lineno = 0;
    int failed = 0;
    while (line && fgets(line, EXPLAIN_LINE_MAX, in)) {
        lineno++;
        if (line[strspn(line, " \t\r\n")] == '\0') continue;
        if (explain_line(&x, line, lineno)) failed = 1;
        fflush(stdout);
    }
    free(line);
    if (in != stdin) fclose(in);
    rome_index_free(idx);
    return failed;
}
