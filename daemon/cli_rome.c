/* `passerelle rome …`: inspect, build and publish the ROME 4.0 index. */
#include <cjson/cJSON.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "config.h"
#include "rome_load.h"
#include "rome_snapshot.h"
#include "store_publish.h"
#include "suggestion_codec.h"

typedef struct rome_opts {
    const char *rome_dir;
    const char *snapshot;
    const char *output;
    const char *redis_url;
    const char *config_path;
    int json;
} rome_opts;

static void rome_usage(FILE *out) {
    fprintf(out,
            "usage: passerelle rome info     (--rome DIR | --snapshot FILE) [--json]\n"
            "       passerelle rome build    --rome DIR -o FILE\n"
            "       passerelle rome show     (--rome DIR | --snapshot FILE) CODE [--json]\n"
            "       passerelle rome contexts (--rome DIR | --snapshot FILE) [--json]\n"
            "       passerelle rome publish  (--redis URL | --config FILE) [--rome DIR | --snapshot FILE]\n"
            "\n"
            "  --rome DIR       directory holding the official ROME 4.0 CSV export (unix_*_v4NN_utf8.csv)\n"
            "  --snapshot FILE  a binary snapshot written by `passerelle rome build`\n"
            "  CODE             a fiche code (D1505) or an appellation code_ogr (e.g. 11987)\n"
            "  --json           machine-readable output\n"
            "  --redis URL      redis://[user[:password]@]host[:port][/db] or unix:///path.sock[?db=N]\n"
            "  --config FILE    take Redis, key prefix and ROME source from passerelled's configuration\n"
            "Without --rome/--snapshot, PASSERELLE_SNAPSHOT or PASSERELLE_ROME_DIR from the environment is used.\n");
}

/* Parses the options shared by every `rome` subcommand; returns the index of the first operand
 * or -1 on a usage error. */
static int parse_opts(int argc, char **argv, rome_opts *o) {
    static const struct option longopts[] = {
        {"rome", required_argument, NULL, 'r'},   {"snapshot", required_argument, NULL, 's'},
        {"output", required_argument, NULL, 'o'}, {"redis", required_argument, NULL, 'R'},
        {"json", no_argument, NULL, 'j'},         {"help", no_argument, NULL, 'h'},
        {"config", required_argument, NULL, 'c'},
        {NULL, 0, NULL, 0},
    };
    memset(o, 0, sizeof *o);
    optind = 1;
    int c;
    while ((c = getopt_long(argc, argv, "r:s:o:R:c:jh", longopts, NULL)) != -1) {
        switch (c) {
        case 'r': o->rome_dir = optarg; break;
        case 's': o->snapshot = optarg; break;
        case 'o': o->output = optarg; break;
        case 'R': o->redis_url = optarg; break;
        case 'c': o->config_path = optarg; break;
        case 'j': o->json = 1; break;
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
    if (!o->rome_dir && !o->snapshot) {
        dflt.snapshot = getenv("PASSERELLE_SNAPSHOT");
        if (!dflt.snapshot) dflt.rome_dir = getenv("PASSERELLE_ROME_DIR");
        o = &dflt;
    }
    if ((o->rome_dir != NULL) == (o->snapshot != NULL)) {
        fprintf(stderr, "passerelle rome: give exactly one of --rome DIR or --snapshot FILE "
                        "(or set PASSERELLE_ROME_DIR or PASSERELLE_SNAPSHOT)\n");
        return NULL;
    }
    memset(report, 0, sizeof *report);
    if (o->rome_dir) idx = rome_load_csv(o->rome_dir, report, &err);
    else idx = rome_snapshot_load(o->snapshot, &err);
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

/* Prints s left-aligned in `width` columns, counting UTF-8 characters rather than bytes. */
static void print_padded(const char *s, int width) {
    int chars = 0;
    for (const char *p = s; *p; p++) chars += ((unsigned char)*p & 0xC0) != 0x80;
    printf("%s%*s", s, width > chars ? width - chars : 0, "");
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
    snprintf(attribution, sizeof attribution, ROME_ATTRIBUTION_FMT, idx->rome_major, idx->rome_version);
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
        printf("  fiches métiers         %6u in %u grands domaines, %u domaines professionnels\n", n->fiches,
               n->grands_domaines, n->domaines);
        printf("  appellations           %6u\n", n->appellations);
        printf("  compétences            %6u (of which %u macro-compétences, in %u enjeux)\n", n->competences,
               n->macro_competences, n->enjeux);
        printf("  savoirs                %6u\n", n->savoirs);
        printf("  contextes de travail   %6u\n", n->contextes);
        printf("  fiche → compétence     %6u links\n", n->fiche_item_links);
        printf("  fiche → contexte       %6u links\n", n->fiche_contexte_links);
        if (n->optional_files & ROME_OPT_TEXTE)
            printf("  textes                 %6u fiches with a définition, %u with an accès au "
                   "métier\n", x.definitions, x.acces);
        if (n->optional_files & ROME_OPT_RIASEC)
            printf("  RIASEC                 %6u fiches\n", x.riasec);
        for (int fam = 0; fam < ROME_TAG_FAMILIES; fam++)
            if (n->optional_files & TAG_FAMILY_FILE[fam])
            {
                printf("  ");
                print_padded(TAG_FAMILY_TITLE[fam], 22);
                printf(" %6u tags, %u fiche links\n", x.tags[fam], x.links[fam]);
            }
        if (*missing)
            printf("  optional files absent  %s (their fields are empty)\n", missing);
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
            printf("  warnings               %6u rows skipped (first: %s)\n", report.warnings, report.first_warning);
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
    if (rc) fprintf(stderr, "passerelle rome build: %s\n", err.msg);
    else
        fprintf(stderr, "wrote %s: ROME %u.0 version %u, %u fiches, %u warnings\n", o->output, idx->rome_major,
                idx->rome_version, idx->n.fiches, report.warnings);
    rome_index_free(idx);
    return rc ? 1 : 0;
}

/* Adds the items of fiche f of one kind, as JSON or text, grouped by importance. */
static void show_items(const rome_index *idx, uint32_t f, rome_kind kind, cJSON *arr) {
    static const rome_importance order[] = {ROME_IMPORTANCE_PRINCIPALE, ROME_IMPORTANCE_EMERGENTE, ROME_IMPORTANCE_NONE};
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
                printf("    %-10s %6u  %s%s\n", rome_importance_name(order[o]), it->code_ogr, rome_str(idx, it->label), macro);
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

static int cmd_show(const rome_opts *o, const char *code) {
    rome_load_report report;
    rome_index *idx = open_index(o, &report);
    if (!idx) return 1;
    uint32_t f = rome_fiche_find(idx, code), app = ROME_NONE;
    if (f == ROME_NONE) {
        char *end;
        unsigned long v = strtoul(code, &end, 10);
        if (*code && !*end && v < ROME_NONE) app = rome_appellation_find(idx, (uint32_t)v);
        if (app != ROME_NONE) f = idx->appellations[app].fiche;
    }
    if (f == ROME_NONE) {
        fprintf(stderr, "passerelle rome show: '%s' is neither a fiche code nor an appellation code_ogr of ROME %u.0 v%u\n",
                code, idx->rome_major, idx->rome_version);
        rome_index_free(idx);
        return 1;
    }
    const rome_fiche *fi = &idx->fiches[f];
    const rome_domaine *dp = &idx->domaines[fi->domaine];
    const rome_grand_domaine *gd = &idx->grands_domaines[fi->grand_domaine];
    static const rome_kind kinds[] = {ROME_KIND_SAVOIR_FAIRE, ROME_KIND_SAVOIR_ETRE, ROME_KIND_SAVOIR};
    static const char *kind_titles[] = {"Savoir-faire", "Savoir-être professionnels", "Savoirs"};
    const rome_csr *apps = &idx->fiche_appellations, *ctx = &idx->fiche_contextes;
    if (o->json) {
        cJSON *j = cJSON_CreateObject();
        cJSON_AddStringToObject(j, "rome", fi->code);
        cJSON_AddStringToObject(j, "label", rome_str(idx, fi->label));
        if (app != ROME_NONE) cJSON_AddNumberToObject(j, "appellation", idx->appellations[app].code_ogr);
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
        for (int k = 0; k < 3; k++) show_items(idx, f, kinds[k], cJSON_AddArrayToObject(j, rome_kind_name(kinds[k])));
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
        if (app != ROME_NONE) printf("  (appellation %s: %s)\n", code, rome_str(idx, idx->appellations[app].label_long));
        printf("  %s %s / %s %s\n", gd->code, rome_str(idx, gd->label), dp->code, rome_str(idx, dp->label));
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
            printf("    %6u  %s  (%s)\n", c->code_ogr, rome_str(idx, c->label), rome_str(idx, c->type_label));
        }
    }
    rome_index_free(idx);
    return 0;
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
    cJSON *types = o->json ? cJSON_CreateArray() : NULL, *cur = NULL;
    for (uint32_t i = 0; i < idx->n.contextes; i++) {
        const rome_contexte *c = &sorted[i];
        uint32_t fiches = rome_csr_count(&idx->contexte_fiches, rome_contexte_find(idx, c->code_ogr));
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
            printf("  %6u  %-70s %4u fiches\n", c->code_ogr, rome_str(idx, c->label), fiches);
        }
    }
    if (types) print_json(types);
    free(sorted);
    rome_index_free(idx);
    return 0;
}

/* Publishes the index to Redis: stored under a versioned, content-addressed key, made current and
 * announced, so running daemons swap to it without a restart. */
static int cmd_publish(rome_opts *o) {
    redis_endpoint ep;
    config *cfg = NULL;
    px_error err = {0};
    redis_endpoint_init(&ep);
    if ((o->redis_url != NULL) == (o->config_path != NULL)) {
        fprintf(stderr, "passerelle rome publish: give exactly one of --redis URL or --config FILE\n");
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
    if (rome_snapshot_encode(idx, &buf, &len, &err) || store_publish_snapshot(&ep, 5000, version, buf, len, &res, &err)) {
        fprintf(stderr, "passerelle rome publish: %s\n", err.msg);
        goto out;
    }
    printf("published ROME %s to %s as %s (%s, %zu bytes, %lld subscriber(s) notified)\n", version, where, res.key,
           res.stored ? "stored" : "already stored", len, res.subscribers);
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
