/* `passerelle rome …`: inspect, build and publish the ROME 4.0 index. */
#include <cjson/cJSON.h>
#include <ctype.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "config.h"
#include "matcher.h"
#include "rome_load.h"
#include "rome_snapshot.h"
#include "store_publish.h"
#include "suggestion_codec.h"
#include "title_resolver.h"
#include "utf8.h"

#define SEARCH_TOP_DEFAULT 5 /* appellations `rome search` lists without --top */

typedef struct rome_opts {
    const char *rome_dir;
    const char *snapshot;
    const char *output;
    const char *redis_url;
    const char *config_path;
    int json;
    int top; /* rome search: appellations listed */
} rome_opts;

static void rome_usage(FILE *out) {
    fprintf(out,
            "usage: passerelle rome info     (--rome DIR | --snapshot FILE) [--json]\n"
            "       passerelle rome build    --rome DIR -o FILE\n"
            "       passerelle rome show     (--rome DIR | --snapshot FILE) CODE [--json]\n"
            "       passerelle rome search   (--rome DIR | --snapshot FILE) TEXT… [--top N]\n"
            "                                [--json]\n"
            "       passerelle rome contexts (--rome DIR | --snapshot FILE) [--json]\n"
            "       passerelle rome publish  (--redis URL | --config FILE) [--rome DIR | "
            "--snapshot FILE]\n"
            "\n"
            "  --rome DIR       directory holding the official ROME 4.0 CSV export "
            "(unix_*_v4NN_utf8.csv)\n"
            "  --snapshot FILE  a binary snapshot written by `passerelle rome build`\n"
            "  CODE             a fiche code (D1505, d1505), or the code_ogr of an appellation\n"
            "                   (11987), a competence or savoir (100023) or a contexte (23374)\n"
            "  TEXT…            a job title in free text (several operands are joined). Exits 0\n"
            "                   when it resolves to an appellation (confidence at least the\n"
            "                   matcher's title.min_confidence), 1 when nothing matches enough\n"
            "  --top N          appellations listed by search, the best and its alternatives\n"
            "                   (default %d, at most %u)\n"
            "  --json           machine-readable output\n"
            "  --redis URL      redis://[user[:password]@]host[:port][/db] or "
            "unix:///path.sock[?db=N]\n"
            "  --config FILE    take Redis, key prefix and ROME source from passerelled's "
            "configuration\n" CLI_ROME_ENV_HELP,
            SEARCH_TOP_DEFAULT, TITLE_MAX_OUT);
}

/* Parses the options shared by every `rome` subcommand; returns the index of the first operand
 * or -1 on a usage error. */
static int parse_opts(int argc, char **argv, rome_opts *o) {
    static const struct option longopts[] = {
        {"rome", required_argument, NULL, 'r'},
        {"snapshot", required_argument, NULL, 's'},
        {"output", required_argument, NULL, 'o'},
        {"redis", required_argument, NULL, 'R'},
        {"json", no_argument, NULL, 'j'},
        {"help", no_argument, NULL, 'h'},
        {"config", required_argument, NULL, 'c'},
        {"top", required_argument, NULL, 't'},
        {NULL, 0, NULL, 0},
    };
    memset(o, 0, sizeof *o);
    o->top = SEARCH_TOP_DEFAULT;
    optind = 1;
    int c;
    char *end;
    while ((c = getopt_long(argc, argv, "r:s:o:R:c:t:jh", longopts, NULL)) != -1) {
        switch (c) {
        case 'r': o->rome_dir = optarg; break;
        case 's': o->snapshot = optarg; break;
        case 'o': o->output = optarg; break;
        case 'R': o->redis_url = optarg; break;
        case 'c': o->config_path = optarg; break;
        case 'j': o->json = 1; break;
        case 't':
            o->top = (int)strtol(optarg, &end, 10);
            if (end == optarg || *end || o->top < 1 || o->top > (int)TITLE_MAX_OUT) {
                fprintf(stderr, "passerelle rome: --top: expected 1 to %u, got '%s'\n",
                        TITLE_MAX_OUT, optarg);
                return -1;
            }
            break;
        case 'h': rome_usage(stdout); exit(0);
        default: return -1;
        }
    }
    return optind;
}

static rome_index *open_index(const rome_opts *o, rome_load_report *report) {
    px_error err = {0};
    rome_index *idx = NULL;
    rome_opts dflt = *o;
    cli_rome_source_default(&dflt.rome_dir, &dflt.snapshot);
    o = &dflt;
    if ((o->rome_dir != NULL) == (o->snapshot != NULL)) {
        fprintf(stderr, "passerelle rome: give exactly one of --rome DIR or --snapshot FILE "
                        "(or set PASSERELLE_ROME_DIR or PASSERELLE_SNAPSHOT)\n");
        return NULL;
    }
    memset(report, 0, sizeof *report);
    if (o->rome_dir)
        idx = rome_load_csv(o->rome_dir, report, &err);
    else
        idx = rome_snapshot_load(o->snapshot, &err);
    if (!idx) fprintf(stderr, "passerelle rome: %s\n", err.msg);
    return idx;
}

static void print_json(cJSON *root) {
    char *s = cJSON_PrintUnformatted(root);
    if (s) puts(s);
    free(s);
    cJSON_Delete(root);
}

/* The optional files (rome_load.h), with the bit saying whether the index was built with them. */
static const struct optional_file {
    uint32_t bit;
    const char *file;
} OPTIONAL_FILES[] = {
    {ROME_OPT_TEXTE, "unix_texte"},
    {ROME_OPT_RIASEC, "unix_referentiel_code_rome_riasec"},
    {ROME_OPT_CENTRE_INTERET, "unix_arborescence_centre_interet"},
    {ROME_OPT_SECTEUR, "unix_arborescence_secteur_activite"},
    {ROME_OPT_THEME, "unix_arborescence_thematique"},
};
#define N_OPTIONAL_FILES (sizeof OPTIONAL_FILES / sizeof OPTIONAL_FILES[0])

static const uint32_t TAG_FAMILY_FILE[ROME_TAG_FAMILIES] = {
    ROME_OPT_CENTRE_INTERET, ROME_OPT_SECTEUR, ROME_OPT_SECTEUR, ROME_OPT_THEME};
static const char *const TAG_FAMILY_TITLE[ROME_TAG_FAMILIES] = {
    "Centres d'intérêt", "Secteurs d'activité", "Sous-secteurs", "Thèmes"};

/* Prints s left-aligned in `width` terminal columns: "é" is two bytes but one column. */
static void print_padded(const char *s, int width) {
    int cols = (int)utf8_columns(s);
    printf("%s%*s", s, width > cols ? width - cols : 0, "");
}

typedef struct extra_counts {
    uint32_t definitions, acces, riasec;
    uint32_t tags[ROME_TAG_FAMILIES], links[ROME_TAG_FAMILIES];
} extra_counts;

static void count_extras(const rome_index *idx, extra_counts *c) {
    memset(c, 0, sizeof *c);
    for (uint32_t f = 0; f < idx->n.fiches; f++) {
        c->definitions += idx->fiches[f].definition != 0;
        c->acces += idx->fiches[f].acces != 0;
        c->riasec += idx->fiches[f].riasec[0] != 0;
    }
    for (uint32_t t = 0; t < idx->n.tags; t++) {
        c->tags[idx->tags[t].family]++;
        c->links[idx->tags[t].family] += rome_csr_count(&idx->tag_fiches, t);
    }
}

static int cmd_info(const rome_opts *o) {
    rome_load_report report;
    rome_index *idx = open_index(o, &report);
    if (!idx) return 1;
    const rome_counts *n = &idx->n;
    char attribution[160];
    snprintf(attribution, sizeof attribution, ROME_ATTRIBUTION_FMT, idx->rome_major,
             idx->rome_version);
    extra_counts x;
    count_extras(idx, &x);
    /* ESCO crosswalk coverage: appellations and fiches with at least one ESCO occupation. */
    uint32_t esco_apps = 0, esco_fiches = 0;
    for (uint32_t a = 0; a < n->appellations; a++)
        esco_apps += rome_esco_count(&idx->appellation_esco, a) > 0;
    for (uint32_t f = 0; f < n->fiches; f++)
        esco_fiches += rome_esco_count(&idx->fiche_esco, f) > 0;
    char missing[512] = "";
    for (size_t i = 0, len = 0; i < N_OPTIONAL_FILES; i++)
        if (!(n->optional_files & OPTIONAL_FILES[i].bit))
            len += (size_t)snprintf(missing + len, sizeof missing - len, "%s%s", len ? ", " : "",
                                    OPTIONAL_FILES[i].file);
    if (o->json) {
        cJSON *j = cJSON_CreateObject();
        cJSON_AddNumberToObject(j, "version", idx->rome_version);
        cJSON_AddNumberToObject(j, "rome_major", idx->rome_major);
        cJSON_AddNumberToObject(j, "fiches", n->fiches);
        cJSON_AddNumberToObject(j, "appellations", n->appellations);
        cJSON_AddNumberToObject(j, "competences", n->competences);
        cJSON_AddNumberToObject(j, "macro_competences", n->macro_competences);
        cJSON_AddNumberToObject(j, "savoirs", n->savoirs);
        cJSON_AddNumberToObject(j, "contextes", n->contextes);
        cJSON_AddNumberToObject(j, "grands_domaines", n->grands_domaines);
        cJSON_AddNumberToObject(j, "domaines", n->domaines);
        cJSON_AddNumberToObject(j, "enjeux", n->enjeux);
        cJSON_AddNumberToObject(j, "fiche_competence_links", n->fiche_item_links);
        cJSON_AddNumberToObject(j, "fiche_contexte_links", n->fiche_contexte_links);
        cJSON_AddNumberToObject(j, "fiches_with_definition", x.definitions);
        cJSON_AddNumberToObject(j, "fiches_with_acces", x.acces);
        cJSON_AddNumberToObject(j, "fiches_with_riasec", x.riasec);
        cJSON *jt = cJSON_AddObjectToObject(j, "tags");
        for (int fam = 0; fam < ROME_TAG_FAMILIES; fam++) {
            cJSON *jf = cJSON_AddObjectToObject(jt, rome_tag_family_name((rome_tag_family)fam));
            cJSON_AddNumberToObject(jf, "tags", x.tags[fam]);
            cJSON_AddNumberToObject(jf, "fiche_links", x.links[fam]);
        }
        cJSON_AddNumberToObject(j, "fiche_tag_links", n->fiche_tag_links);
        cJSON *jm = cJSON_AddArrayToObject(j, "optional_files_missing");
        for (size_t i = 0; i < N_OPTIONAL_FILES; i++)
            if (!(n->optional_files & OPTIONAL_FILES[i].bit))
                cJSON_AddItemToArray(jm, cJSON_CreateString(OPTIONAL_FILES[i].file));
        if (rome_has_esco(idx)) {
            cJSON *je = cJSON_AddObjectToObject(j, "esco");
            cJSON_AddNumberToObject(je, "rows", n->esco_rows);
            cJSON_AddNumberToObject(je, "rows_skipped_unknown_appellation", n->esco_skipped);
            cJSON_AddNumberToObject(je, "appellation_links", n->esco_appellation_links);
            cJSON_AddNumberToObject(je, "fiche_links", n->esco_fiche_links);
            cJSON_AddNumberToObject(je, "appellations_reached", esco_apps);
            cJSON_AddNumberToObject(je, "fiches_reached", esco_fiches);
        } else {
            cJSON_AddNullToObject(j, "esco");
        }
        cJSON_AddNumberToObject(j, "memory_bytes", (double)rome_index_memory(idx));
        cJSON_AddNumberToObject(j, "warnings", report.warnings);
        cJSON_AddStringToObject(j, "attribution", attribution);
        print_json(j);
    } else {
        printf("ROME %u.0 version %u\n", idx->rome_major, idx->rome_version);
        printf("  fiches métiers         %6u in %u grands domaines, %u domaines professionnels\n",
               n->fiches, n->grands_domaines, n->domaines);
        printf("  appellations           %6u\n", n->appellations);
        printf("  compétences            %6u (of which %u macro-compétences, in %u enjeux)\n",
               n->competences, n->macro_competences, n->enjeux);
        printf("  savoirs                %6u\n", n->savoirs);
        printf("  contextes de travail   %6u\n", n->contextes);
        printf("  fiche → compétence     %6u links\n", n->fiche_item_links);
        printf("  fiche → contexte       %6u links\n", n->fiche_contexte_links);
        if (n->optional_files & ROME_OPT_TEXTE)
            printf("  textes                 %6u fiches with a définition, %u with an accès au "
                   "métier\n",
                   x.definitions, x.acces);
        if (n->optional_files & ROME_OPT_RIASEC)
            printf("  RIASEC                 %6u fiches\n", x.riasec);
        for (int fam = 0; fam < ROME_TAG_FAMILIES; fam++)
            if (n->optional_files & TAG_FAMILY_FILE[fam]) {
                printf("  ");
                print_padded(TAG_FAMILY_TITLE[fam], 22);
                printf(" %6u tags, %u fiche links\n", x.tags[fam], x.links[fam]);
            }
        if (*missing) printf("  optional files absent  %s (their fields are empty)\n", missing);
        if (rome_has_esco(idx))
            printf("  ESCO crosswalk         %6u rows, %u skipped (unknown appellation); reaches "
                   "%u of %u appellations, %u of %u fiches\n",
                   n->esco_rows, n->esco_skipped, esco_apps, n->appellations, esco_fiches,
                   n->fiches);
        else
            printf("  ESCO crosswalk         absent (no *mapping_esco_rome*.csv: no esco "
                   "fields)\n");
        printf("  memory                 %6.1f MiB\n", rome_index_memory(idx) / 1048576.0);
        if (report.warnings)
            printf("  warnings               %6u rows skipped (first: %s)\n", report.warnings,
                   report.first_warning);
        printf("%s\n", attribution);
    }
    rome_index_free(idx);
    return 0;
}

static int cmd_build(const rome_opts *o) {
    if (!o->rome_dir || !o->output || o->snapshot) {
        fprintf(stderr, "passerelle rome build: needs --rome DIR and -o FILE\n");
        return 2;
    }
    rome_load_report report;
    rome_index *idx = open_index(o, &report);
    if (!idx) return 1;
    px_error err = {0};
    int rc = rome_snapshot_write(idx, o->output, &err);
    if (rc)
        fprintf(stderr, "passerelle rome build: %s\n", err.msg);
    else
        fprintf(stderr, "wrote %s: ROME %u.0 version %u, %u fiches, %u warnings\n", o->output,
                idx->rome_major, idx->rome_version, idx->n.fiches, report.warnings);
    rome_index_free(idx);
    return rc ? 1 : 0;
}

/* Adds the items of fiche f of one kind, as JSON or text, grouped by importance. */
static void show_items(const rome_index *idx, uint32_t f, rome_kind kind, cJSON *arr) {
    static const rome_importance order[] = {ROME_IMPORTANCE_PRINCIPALE, ROME_IMPORTANCE_EMERGENTE,
                                            ROME_IMPORTANCE_NONE};
    const rome_csr *csr = &idx->fiche_items;
    for (int o = 0; o < 3; o++) {
        for (uint32_t k = csr->offsets[f]; k < csr->offsets[f + 1]; k++) {
            const rome_item *it = &idx->items[csr->targets[k]];
            if (it->kind != kind || csr->importance[k] != order[o]) continue;
            const char *macro = it->flags & ROME_ITEM_MACRO ? " [macro]" : "";
            if (arr) {
                cJSON *j = cJSON_CreateObject();
                cJSON_AddNumberToObject(j, "code", it->code_ogr);
                cJSON_AddStringToObject(j, "label", rome_str(idx, it->label));
                cJSON_AddStringToObject(j, "importance", rome_importance_name(order[o]));
                cJSON_AddBoolToObject(j, "macro", (it->flags & ROME_ITEM_MACRO) != 0);
                cJSON_AddStringToObject(j, "category", rome_str(idx, it->category));
                cJSON_AddItemToArray(arr, j);
            } else {
                printf("    %-10s %6u  %s%s\n", rome_importance_name(order[o]), it->code_ogr,
                       rome_str(idx, it->label), macro);
            }
        }
    }
}

/* The fiche's tags of one family, principal first: a JSON array, or text lines. */
static void show_tags(const rome_index *idx, uint32_t f, rome_tag_family family, cJSON *arr) {
    const rome_csr *csr = &idx->fiche_tags;
    for (int principal = 1; principal >= 0; principal--) {
        for (uint32_t k = csr->offsets[f]; k < csr->offsets[f + 1]; k++) {
            const rome_tag *t = &idx->tags[csr->targets[k]];
            if (t->family != (uint32_t)family ||
                (csr->importance[k] == ROME_IMPORTANCE_PRINCIPALE) != principal)
                continue;
            if (arr) {
                cJSON *j = cJSON_CreateObject();
                cJSON_AddStringToObject(j, "code", t->code);
                cJSON_AddStringToObject(j, "label", rome_str(idx, t->label));
                cJSON_AddBoolToObject(j, "principal", principal);
                cJSON_AddItemToArray(arr, j);
            } else {
                printf("    %-10s %6s  %s\n", principal ? "principal" : "", t->code,
                       rome_str(idx, t->label));
            }
        }
    }
}

/* A text of the fiche, one sentence a line; says so when the export had no unix_texte. */
static void show_text(const rome_index *idx, const char *title, uint32_t text) {
    printf("  %s\n", title);
    if (!(idx->n.optional_files & ROME_OPT_TEXTE)) {
        printf("    (unix_texte is not in this export)\n");
        return;
    }
    for (const char *s = rome_str(idx, text); *s;) {
        size_t n = strcspn(s, "\n");
        printf("    %.*s\n", (int)n, s);
        s += n + (s[n] == '\n');
    }
}

static const char *yes_no(bool b) { return b ? "oui" : "non"; }

/* A fiche, reached by its code or through one of its appellations (app, else ROME_NONE). */
static void show_fiche(const rome_index *idx, uint32_t f, uint32_t app, const char *code,
                       int json) {
    const rome_fiche *fi = &idx->fiches[f];
    const rome_domaine *dp = &idx->domaines[fi->domaine];
    const rome_grand_domaine *gd = &idx->grands_domaines[fi->grand_domaine];
    static const rome_kind kinds[] = {ROME_KIND_SAVOIR_FAIRE, ROME_KIND_SAVOIR_ETRE,
                                      ROME_KIND_SAVOIR};
    static const char *kind_titles[] = {"Savoir-faire", "Savoir-être professionnels", "Savoirs"};
    const rome_csr *apps = &idx->fiche_appellations, *ctx = &idx->fiche_contextes;
    if (json) {
        cJSON *j = cJSON_CreateObject();
        cJSON_AddStringToObject(j, "rome", fi->code);
        cJSON_AddStringToObject(j, "label", rome_str(idx, fi->label));
        if (app != ROME_NONE)
            cJSON_AddNumberToObject(j, "appellation", idx->appellations[app].code_ogr);
        cJSON_AddStringToObject(j, "grand_domaine", gd->code);
        cJSON_AddStringToObject(j, "grand_domaine_label", rome_str(idx, gd->label));
        cJSON_AddStringToObject(j, "domaine", dp->code);
        cJSON_AddStringToObject(j, "domaine_label", rome_str(idx, dp->label));
        cJSON_AddStringToObject(j, "parent", fi->parent);
        cJSON_AddStringToObject(j, "riasec", fi->riasec);
        cJSON_AddBoolToObject(j, "reglemente", (fi->flags & ROME_FICHE_REGLEMENTE) != 0);
        cJSON_AddBoolToObject(j, "cadre", (fi->flags & ROME_FICHE_CADRE) != 0);
        cJSON_AddStringToObject(j, "definition", rome_str(idx, fi->definition));
        cJSON_AddStringToObject(j, "acces", rome_str(idx, fi->acces));
        cJSON *jt = cJSON_AddObjectToObject(j, "tags");
        for (int fam = 0; fam < ROME_TAG_FAMILIES; fam++)
            show_tags(idx, f, (rome_tag_family)fam,
                      cJSON_AddArrayToObject(jt, rome_tag_family_name((rome_tag_family)fam)));
        cJSON *ja = cJSON_AddArrayToObject(j, "appellations");
        for (uint32_t k = apps->offsets[f]; k < apps->offsets[f + 1]; k++) {
            const rome_appellation *a = &idx->appellations[apps->targets[k]];
            cJSON *x = cJSON_CreateObject();
            cJSON_AddNumberToObject(x, "code", a->code_ogr);
            cJSON_AddStringToObject(x, "label", rome_str(idx, a->label_long));
            cJSON_AddBoolToObject(x, "reglemente", (a->flags & ROME_APPELLATION_REGLEMENTE) != 0);
            cJSON_AddBoolToObject(x, "cadre", (a->flags & ROME_APPELLATION_CADRE) != 0);
            cJSON_AddItemToArray(ja, x);
        }
        for (int k = 0; k < 3; k++)
            show_items(idx, f, kinds[k], cJSON_AddArrayToObject(j, rome_kind_name(kinds[k])));
        cJSON *jc = cJSON_AddArrayToObject(j, "contexts");
        for (uint32_t k = ctx->offsets[f]; k < ctx->offsets[f + 1]; k++) {
            const rome_contexte *c = &idx->contextes[ctx->targets[k]];
            cJSON *x = cJSON_CreateObject();
            cJSON_AddNumberToObject(x, "code", c->code_ogr);
            cJSON_AddStringToObject(x, "label", rome_str(idx, c->label));
            cJSON_AddStringToObject(x, "type", rome_str(idx, c->type_label));
            cJSON_AddItemToArray(jc, x);
        }
        print_json(j);
    } else {
        printf("%s  %s\n", fi->code, rome_str(idx, fi->label));
        if (app != ROME_NONE)
            printf("  (appellation %s: %s)\n", code,
                   rome_str(idx, idx->appellations[app].label_long));
        printf("  %s %s / %s %s\n", gd->code, rome_str(idx, gd->label), dp->code,
               rome_str(idx, dp->label));
        printf("  Fiche ROME v3 parente  %s\n", *fi->parent ? fi->parent : "(none)");
        if (idx->n.optional_files & ROME_OPT_RIASEC)
            printf("  RIASEC                 %s\n", *fi->riasec ? fi->riasec : "(none)");
        else
            printf("  RIASEC                 (unix_referentiel_code_rome_riasec is not in this "
                   "export)\n");
        printf("  Emploi réglementé      %s\n", yes_no(fi->flags & ROME_FICHE_REGLEMENTE));
        printf("  Emploi cadre           %s\n", yes_no(fi->flags & ROME_FICHE_CADRE));
        for (int fam = 0; fam < ROME_TAG_FAMILIES; fam++) {
            uint32_t count = 0;
            for (uint32_t k = idx->fiche_tags.offsets[f]; k < idx->fiche_tags.offsets[f + 1]; k++)
                count += idx->tags[idx->fiche_tags.targets[k]].family == (uint32_t)fam;
            if (!(idx->n.optional_files & TAG_FAMILY_FILE[fam])) {
                printf("  %s (%s is not in this export)\n", TAG_FAMILY_TITLE[fam],
                       fam == ROME_TAG_CENTRE_INTERET ? "unix_arborescence_centre_interet"
                       : fam == ROME_TAG_THEME        ? "unix_arborescence_thematique"
                                                      : "unix_arborescence_secteur_activite");
                continue;
            }
            printf("  %s (%u)\n", TAG_FAMILY_TITLE[fam], count);
            show_tags(idx, f, (rome_tag_family)fam, NULL);
        }
        show_text(idx, "Définition", fi->definition);
        show_text(idx, "Accès au métier", fi->acces);
        printf("  Appellations (%u)\n", rome_csr_count(apps, f));
        for (uint32_t k = apps->offsets[f]; k < apps->offsets[f + 1]; k++) {
            const rome_appellation *a = &idx->appellations[apps->targets[k]];
            printf("    %6u  %s%s%s\n", a->code_ogr, rome_str(idx, a->label_long),
                   a->flags & ROME_APPELLATION_REGLEMENTE ? " [réglementé]" : "",
                   a->flags & ROME_APPELLATION_CADRE ? " [cadre]" : "");
        }
        for (int k = 0; k < 3; k++) {
            printf("  %s\n", kind_titles[k]);
            show_items(idx, f, kinds[k], NULL);
        }
        printf("  Contextes de travail (%u)\n", rome_csr_count(ctx, f));
        for (uint32_t k = ctx->offsets[f]; k < ctx->offsets[f + 1]; k++) {
            const rome_contexte *c = &idx->contextes[ctx->targets[k]];
            printf("    %6u  %s  (%s)\n", c->code_ogr, rome_str(idx, c->label),
                   rome_str(idx, c->type_label));
        }
    }
}

#define SHOW_FICHES_MAX 10 /* fiches listed by the text output of an item or a contexte */

/* The fiches of a competence, a savoir or a contexte (links[source]): all of them in JSON, the
 * first SHOW_FICHES_MAX in text. */
static void show_linked_fiches(const rome_index *idx, const rome_csr *links, uint32_t source,
                               cJSON *json) {
    uint32_t count = rome_csr_count(links, source);
    cJSON *arr = NULL;
    if (json) {
        cJSON_AddNumberToObject(json, "fiche_count", count);
        arr = cJSON_AddArrayToObject(json, "fiches");
    } else {
        printf("  Fiches (%u)\n", count);
    }
    for (uint32_t k = links->offsets[source]; k < links->offsets[source + 1]; k++) {
        const rome_fiche *fi = &idx->fiches[links->targets[k]];
        const char *imp = links->importance ? rome_importance_name(links->importance[k]) : NULL;
        if (arr) {
            cJSON *x = cJSON_CreateObject();
            cJSON_AddStringToObject(x, "rome", fi->code);
            cJSON_AddStringToObject(x, "label", rome_str(idx, fi->label));
            if (imp) cJSON_AddStringToObject(x, "importance", imp);
            cJSON_AddItemToArray(arr, x);
        } else if (k - links->offsets[source] < SHOW_FICHES_MAX) {
            printf("    ");
            if (imp) printf("%-11s", imp);
            printf("%s  %s\n", fi->code, rome_str(idx, fi->label));
        }
    }
    if (!json && count > SHOW_FICHES_MAX) printf("    … and %u more\n", count - SHOW_FICHES_MAX);
}

/* A {code, label} object, or a text line "  TITLE  CODE  LABEL". */
static void show_ref(cJSON *json, const char *key, const char *title, const char *code,
                     const char *label) {
    if (json) {
        cJSON *x = cJSON_AddObjectToObject(json, key);
        cJSON_AddStringToObject(x, "code", code);
        cJSON_AddStringToObject(x, "label", label);
    } else {
        printf("  ");
        print_padded(title, 22);
        printf(" %s  %s\n", code, label);
    }
}

/* A competence or a savoir: what it is, where it sits in the competence hierarchy (its
 * macro-compétence, the macro's enjeu and domaine) and the fiches that list it. */
static void show_item(const rome_index *idx, uint32_t item, int json) {
    static const char *const kind_words[] = {"savoir-faire", "savoir-être professionnel", "savoir"};
    const rome_item *it = &idx->items[item];
    bool is_macro = it->flags & ROME_ITEM_MACRO;
    const rome_item *macro = is_macro ? it : it->macro != ROME_NONE ? &idx->items[it->macro] : NULL;
    const rome_enjeu *enjeu =
        macro && macro->enjeu != ROME_NONE ? &idx->enjeux[macro->enjeu] : NULL;
    cJSON *j = json ? cJSON_CreateObject() : NULL;
    char macro_code[16] = "";
    if (macro) snprintf(macro_code, sizeof macro_code, "%u", macro->code_ogr);
    if (j) {
        cJSON_AddNumberToObject(j, "code", it->code_ogr);
        cJSON_AddStringToObject(j, "label", rome_str(idx, it->label));
        cJSON_AddStringToObject(j, "kind", rome_kind_name((rome_kind)it->kind));
        cJSON_AddBoolToObject(j, "macro", is_macro);
        cJSON_AddBoolToObject(j, "qualification", (it->flags & ROME_ITEM_QUALIFICATION) != 0);
        cJSON_AddStringToObject(j, "category", rome_str(idx, it->category));
        cJSON_AddStringToObject(j, "subcategory", rome_str(idx, it->subcategory));
    } else {
        printf("%u  %s\n", it->code_ogr, rome_str(idx, it->label));
        printf("  Nature                 %s%s%s\n", kind_words[it->kind],
               is_macro ? ", macro-compétence" : "",
               it->flags & ROME_ITEM_QUALIFICATION ? ", certification ou habilitation" : "");
        printf("  Catégorie              %s / %s\n", rome_str(idx, it->category),
               rome_str(idx, it->subcategory));
    }
    if (macro && !is_macro)
        show_ref(j, "macro_competence", "Macro-compétence", macro_code,
                 rome_str(idx, macro->label));
    else if (!macro && !j)
        printf("  Macro-compétence       (none)\n");
    if (enjeu) {
        const rome_comp_domaine *d = &idx->comp_domaines[enjeu->comp_domaine];
        show_ref(j, "enjeu", "Enjeu", enjeu->code, rome_str(idx, enjeu->label));
        show_ref(j, "domaine_competence", "Domaine de compétences", d->code,
                 rome_str(idx, d->label));
    }
    show_linked_fiches(idx, &idx->item_fiches, item, j);
    if (j) print_json(j);
}

static void show_contexte(const rome_index *idx, uint32_t ctx, int json) {
    const rome_contexte *c = &idx->contextes[ctx];
    cJSON *j = json ? cJSON_CreateObject() : NULL;
    if (j) {
        cJSON_AddNumberToObject(j, "code", c->code_ogr);
        cJSON_AddStringToObject(j, "label", rome_str(idx, c->label));
        cJSON_AddStringToObject(j, "kind", "contexte");
        cJSON_AddNumberToObject(j, "type", c->type_code);
        cJSON_AddStringToObject(j, "type_label", rome_str(idx, c->type_label));
    } else {
        printf("%u  %s\n", c->code_ogr, rome_str(idx, c->label));
        printf("  Contexte de travail    %u %s\n", c->type_code, rome_str(idx, c->type_label));
    }
    show_linked_fiches(idx, &idx->contexte_fiches, ctx, j);
    if (j) print_json(j);
}

/* Fiche codes are written in capitals (D1505); people type d1505 as well. */
static uint32_t fiche_find_any_case(const rome_index *idx, const char *code) {
    char upper[sizeof idx->fiches[0].code];
    size_t n = strlen(code);
    if (n >= sizeof upper) return ROME_NONE;
    for (size_t i = 0; i <= n; i++) upper[i] = (char)toupper((unsigned char)code[i]);
    return rome_fiche_find(idx, upper);
}

/* CODE is a fiche code, else a code_ogr looked up among appellations, competences and savoirs
 * (one id space), then contextes: ROME 4.0 gives no two of them the same code_ogr. */
static int cmd_show(const rome_opts *o, const char *code) {
    rome_load_report report;
    rome_index *idx = open_index(o, &report);
    if (!idx) return 1;
    uint32_t f = fiche_find_any_case(idx, code), app = ROME_NONE, item = ROME_NONE;
    uint32_t ctx = ROME_NONE;
    if (f == ROME_NONE) {
        char *end;
        unsigned long v = strtoul(code, &end, 10);
        if (*code >= '0' && *code <= '9' && !*end && v < ROME_NONE) {
            app = rome_appellation_find(idx, (uint32_t)v);
            item = app == ROME_NONE ? rome_item_find(idx, (uint32_t)v) : ROME_NONE;
            ctx = app == ROME_NONE && item == ROME_NONE ? rome_contexte_find(idx, (uint32_t)v)
                                                        : ROME_NONE;
        }
        if (app != ROME_NONE) f = idx->appellations[app].fiche;
    }
    int rc = 0;
    if (f != ROME_NONE) {
        show_fiche(idx, f, app, code, o->json);
    } else if (item != ROME_NONE) {
        show_item(idx, item, o->json);
    } else if (ctx != ROME_NONE) {
        show_contexte(idx, ctx, o->json);
    } else {
        fprintf(stderr,
                "passerelle rome show: '%s' is neither a fiche code nor the code_ogr of an "
                "appellation, a competence, a savoir or a contexte of ROME %u.0 v%u\n",
                code, idx->rome_major, idx->rome_version);
        rc = 1;
    }
    rome_index_free(idx);
    return rc;
}

static int cmp_contexte_by_type(const void *a, const void *b) {
    const rome_contexte *x = a, *y = b;
    if (x->type_code != y->type_code) return x->type_code < y->type_code ? -1 : 1;
    return (x->code_ogr > y->code_ogr) - (x->code_ogr < y->code_ogr);
}

static int cmd_contexts(const rome_opts *o) {
    rome_load_report report;
    rome_index *idx = open_index(o, &report);
    if (!idx) return 1;
    rome_contexte *sorted = malloc((idx->n.contextes + 1) * sizeof *sorted);
    if (!sorted) {
        rome_index_free(idx);
        fprintf(stderr, "passerelle rome contexts: out of memory\n");
        return 1;
    }
    memcpy(sorted, idx->contextes, idx->n.contextes * sizeof *sorted);
    qsort(sorted, idx->n.contextes, sizeof *sorted, cmp_contexte_by_type);
    int width = 0; /* the widest label's, so that the fiche counts line up */
    for (uint32_t i = 0; i < idx->n.contextes; i++) {
        int cols = (int)utf8_columns(rome_str(idx, sorted[i].label));
        if (cols > width) width = cols;
    }
    cJSON *types = o->json ? cJSON_CreateArray() : NULL, *cur = NULL;
    for (uint32_t i = 0; i < idx->n.contextes; i++) {
        const rome_contexte *c = &sorted[i];
        uint32_t fiches =
            rome_csr_count(&idx->contexte_fiches, rome_contexte_find(idx, c->code_ogr));
        int new_type = i == 0 || sorted[i - 1].type_code != c->type_code;
        if (types) {
            if (new_type) {
                cJSON *t = cJSON_CreateObject();
                cJSON_AddNumberToObject(t, "type", c->type_code);
                cJSON_AddStringToObject(t, "label", rome_str(idx, c->type_label));
                cur = cJSON_AddArrayToObject(t, "contexts");
                cJSON_AddItemToArray(types, t);
            }
            cJSON *x = cJSON_CreateObject();
            cJSON_AddNumberToObject(x, "code", c->code_ogr);
            cJSON_AddStringToObject(x, "label", rome_str(idx, c->label));
            cJSON_AddNumberToObject(x, "fiches", fiches);
            cJSON_AddItemToArray(cur, x);
        } else {
            if (new_type) printf("%u %s\n", c->type_code, rome_str(idx, c->type_label));
            printf("  %6u  ", c->code_ogr);
            print_padded(rome_str(idx, c->label), width);
            printf(" %4u fiches\n", fiches);
        }
    }
    if (types) print_json(types);
    free(sorted);
    rome_index_free(idx);
    return 0;
}

/* One title match: the appellation, its fiche and the confidence, as JSON members of obj or as a
 * text line. */
static void search_match(const rome_index *idx, const title_match *m, cJSON *obj) {
    const rome_appellation *a = &idx->appellations[m->appellation];
    const rome_fiche *fi = &idx->fiches[a->fiche];
    if (obj) {
        cJSON_AddNumberToObject(obj, "appellation", a->code_ogr);
        cJSON_AddStringToObject(obj, "label", rome_str(idx, a->label_long));
        cJSON_AddStringToObject(obj, "rome", fi->code);
        cJSON_AddStringToObject(obj, "rome_label", rome_str(idx, fi->label));
        cJSON_AddNumberToObject(obj, "confidence", m->confidence);
    } else {
        printf("  %4.2f  %6u  %s  (%s %s)\n", m->confidence, a->code_ogr,
               rome_str(idx, a->label_long), fi->code, rome_str(idx, fi->label));
    }
}

/* The title resolver as the matcher uses it: a title resolves when its best appellation's
 * confidence reaches the matcher's default title.min_confidence; otherwise the nearest are shown
 * as alternatives. The JSON mirrors a suggestion's experience: {appellation, rome, confidence,
 * alternatives} when resolved, {alternatives} alone when not. */
static int cmd_search(const rome_opts *o, int n_words, char **words) {
    size_t len = 0;
    for (int i = 0; i < n_words; i++) len += strlen(words[i]) + 1;
    char *text = malloc(len);
    if (!text) {
        fprintf(stderr, "passerelle rome search: out of memory\n");
        return 1;
    }
    for (int i = 0, at = 0; i < n_words; i++)
        at += sprintf(text + at, "%s%s", i ? " " : "", words[i]);
    rome_load_report report;
    rome_index *idx = open_index(o, &report);
    px_error err = {0};
    title_resolver *r = idx ? title_resolver_build(idx, &err) : NULL;
    title_scratch *scratch = r ? title_scratch_new(r, &err) : NULL;
    title_match found[TITLE_MAX_OUT];
    int n = 0, rc = 1;
    double need = matcher_config_default().title_min_confidence;
    if (idx && !scratch) {
        fprintf(stderr, "passerelle rome search: %s\n", err.msg);
    } else if (scratch && (n = title_resolve(r, scratch, text, found, (size_t)o->top, &err)) < 0) {
        fprintf(stderr, "passerelle rome search: '%s': %s\n", text, err.msg);
        rc = 2;
    } else if (scratch) {
        bool resolved = n > 0 && found[0].confidence >= need;
        rc = resolved ? 0 : 1;
        cJSON *j = o->json ? cJSON_CreateObject() : NULL;
        if (j) {
            cJSON_AddStringToObject(j, "query", text);
            cJSON_AddBoolToObject(j, "resolved", resolved);
            cJSON_AddNumberToObject(j, "min_confidence", need);
            if (resolved) search_match(idx, &found[0], j);
        } else if (resolved) {
            printf("\"%s\" resolves (confidence %.2f, at least %.2f needed):\n", text,
                   found[0].confidence, need);
            search_match(idx, &found[0], NULL);
        } else if (n) {
            printf("nothing matches \"%s\" well enough (best %.2f, at least %.2f needed); "
                   "nearest:\n",
                   text, found[0].confidence, need);
        } else {
            printf("nothing in ROME %u.0 v%u shares a word with \"%s\"\n", idx->rome_major,
                   idx->rome_version, text);
        }
        cJSON *alts = j ? cJSON_AddArrayToObject(j, "alternatives") : NULL;
        if (!j && resolved && n > 1) printf("alternatives:\n");
        for (int i = resolved; i < n; i++) {
            cJSON *x = alts ? cJSON_CreateObject() : NULL;
            search_match(idx, &found[i], x);
            if (x) cJSON_AddItemToArray(alts, x);
        }
        if (j) print_json(j);
    }
    title_scratch_free(scratch);
    title_resolver_free(r);
    rome_index_free(idx);
    free(text);
    return rc;
}

/* Publishes the index to Redis: stored under a versioned, content-addressed key, made current and
 * announced, so running daemons swap to it without a restart. */
static int cmd_publish(rome_opts *o) {
    redis_endpoint ep;
    config *cfg = NULL;
    px_error err = {0};
    redis_endpoint_init(&ep);
    if ((o->redis_url != NULL) == (o->config_path != NULL)) {
        fprintf(stderr,
                "passerelle rome publish: give exactly one of --redis URL or --config FILE\n");
        return 2;
    }
    if (o->config_path) {
        if (config_load(o->config_path, &cfg, &err)) {
            fprintf(stderr, "passerelle rome publish: %s\n", err.msg);
            return 1;
        }
        ep = cfg->redis;
        if (cfg->rome_key_prefix) snprintf(ep.prefix, sizeof ep.prefix, "%s", cfg->rome_key_prefix);
        if (!o->rome_dir && !o->snapshot) {
            o->rome_dir = cfg->rome_dir;
            o->snapshot = cfg->rome_snapshot;
        }
    } else if (redis_endpoint_parse_url(&ep, o->redis_url, &err)) {
        fprintf(stderr, "passerelle rome publish: --redis: %s\n", err.msg);
        return 2;
    }
    rome_load_report report;
    rome_index *idx = open_index(o, &report);
    int rc = 1;
    void *buf = NULL;
    size_t len = 0;
    char version[64], where[512];
    store_publish_result res;
    if (!idx) goto out;
    suggestion_rome_version(idx, version, sizeof version);
    redis_endpoint_describe(&ep, where, sizeof where);
    if (rome_snapshot_encode(idx, &buf, &len, &err) ||
        store_publish_snapshot(&ep, 5000, version, buf, len, &res, &err)) {
        fprintf(stderr, "passerelle rome publish: %s\n", err.msg);
        goto out;
    }
    printf("published ROME %s to %s as %s (%s, %zu bytes, %lld subscriber(s) notified)\n", version,
           where, res.key, res.stored ? "stored" : "already stored", len, res.subscribers);
    rc = 0;
out:
    free(buf);
    rome_index_free(idx);
    config_free(cfg);
    return rc;
}

int cli_rome_main(int argc, char **argv) {
    if (argc < 2) {
        rome_usage(stderr);
        return 2;
    }
    const char *sub = argv[1];
    rome_opts o;
    int first = parse_opts(argc - 1, argv + 1, &o);
    if (first < 0) {
        rome_usage(stderr);
        return 2;
    }
    int operands = argc - 1 - first;
    char **operand = argv + 1 + first;
    if (!strcmp(sub, "info") && operands == 0) return cmd_info(&o);
    if (!strcmp(sub, "build") && operands == 0) return cmd_build(&o);
    if (!strcmp(sub, "show") && operands == 1) return cmd_show(&o, operand[0]);
    if (!strcmp(sub, "search") && operands >= 1) return cmd_search(&o, operands, operand);
    if (!strcmp(sub, "contexts") && operands == 0) return cmd_contexts(&o);
    if (!strcmp(sub, "publish") && operands == 0) return cmd_publish(&o);
    if (!strcmp(sub, "--help") || !strcmp(sub, "-h")) {
        rome_usage(stdout);
        return 0;
    }
    fprintf(stderr, "passerelle rome: unknown subcommand or wrong operands: '%s'\n", sub);
    rome_usage(stderr);
    return 2;
}
