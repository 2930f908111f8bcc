/* Unit tests of the ROME loader, index and snapshot on the hand-written fixture
 * (tests/fixtures/rome_mini), including every kind of bad input the loader must refuse. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include "csv_table.h"
#include "rome_fixture.h"
#include "rome_load.h"
#include "rome_snapshot.h"

#ifndef FIXTURE_DIR
#error "FIXTURE_DIR must point to tests/fixtures/rome_mini"
#endif

/* The fixture crosswalk's URIs differ in their last hex digit only. */
#define ESCO_URI(last)                                                                             \
    "http://data.europa.eu/esco/occupation/00000000-0000-4000-8000-00000000000" last

typedef struct fixture {
    char dir[512];
} fixture;

static int setup(void **state) {
    fixture *f = calloc(1, sizeof *f);
    if (!f || rome_fixture_make(FIXTURE_DIR, f->dir, sizeof f->dir)) return -1;
    *state = f;
    return 0;
}

static int teardown(void **state) {
    fixture *f = *state;
    rome_fixture_remove(f->dir);
    free(f);
    return 0;
}

static rome_index *load_ok(const fixture *f, rome_load_report *report) {
    px_error err = {0};
    rome_index *idx = rome_load_csv(f->dir, report, &err);
    if (!idx) fail_msg("load failed: %s", err.msg);
    return idx;
}

/* Loads and expects a failure whose message contains every given fragment. */
static void expect_load_error(const fixture *f, const char *fragment1, const char *fragment2) {
    px_error err = {0};
    rome_index *idx = rome_load_csv(f->dir, NULL, &err);
    if (idx) {
        rome_index_free(idx);
        fail_msg("load succeeded, expected an error containing '%s'", fragment1);
    }
    if (!strstr(err.msg, fragment1)) fail_msg("error '%s' lacks '%s'", err.msg, fragment1);
    if (fragment2 && !strstr(err.msg, fragment2))
        fail_msg("error '%s' lacks '%s'", err.msg, fragment2);
}

/* Replaces the first occurrence of `from` by `to` in one fixture file. */
static void patch(const fixture *f, const char *stem, const char *from, const char *to) {
    char *s = rome_fixture_read(f->dir, stem);
    assert_non_null(s);
    char *at = strstr(s, from);
    if (!at) fail_msg("'%s' not in %s", from, stem);
    size_t n = strlen(s), lf = strlen(from), lt = strlen(to);
    char *out = malloc(n - lf + lt + 1);
    memcpy(out, s, (size_t)(at - s));
    memcpy(out + (at - s), to, lt);
    memcpy(out + (at - s) + lt, at + lf, n - (size_t)(at - s) - lf + 1);
    assert_int_equal(rome_fixture_write(f->dir, stem, out, strlen(out)), 0);
    free(out);
    free(s);
}

static int item_importance(const rome_index *idx, const char *fiche, uint32_t code) {
    uint32_t f = rome_fiche_find(idx, fiche), it = rome_item_find(idx, code);
    assert_int_not_equal(f, ROME_NONE);
    assert_int_not_equal(it, ROME_NONE);
    return rome_fiche_item_importance(idx, f, it);
}

static void test_loads_fixture(void **state) {
    rome_load_report report;
    rome_index *idx = load_ok(*state, &report);
    assert_int_equal(idx->rome_major, 4);
    assert_int_equal(idx->rome_version, 61); /* read from the file names, not hard-coded */
    assert_int_equal(idx->n.fiches, 3);
    assert_int_equal(idx->n.appellations, 4);
    assert_int_equal(idx->n.competences, 5);
    assert_int_equal(idx->n.macro_competences, 1);
    assert_int_equal(idx->n.savoirs, 2);
    assert_int_equal(idx->n.contextes, 3);
    assert_int_equal(idx->n.fiche_item_links, 10);
    assert_int_equal(idx->n.fiche_contexte_links, 5);
    assert_int_equal(report.warnings, 0);

    uint32_t d1505 = rome_fiche_find(idx, "D1505");
    assert_string_equal(rome_str(idx, idx->fiches[d1505].label), "Caissier de test");
    assert_string_equal(idx->domaines[idx->fiches[d1505].domaine].code, "D15");
    assert_string_equal(idx->grands_domaines[idx->fiches[d1505].grand_domaine].code, "D");
    assert_string_equal(rome_str(idx, idx->fiches[rome_fiche_find(idx, "J1501")].label),
                        "Soignant de test, \"nuit\"");
    assert_int_equal(idx->fiches[rome_fiche_find(idx, "J1501")].flags, ROME_FICHE_REGLEMENTE);
    assert_int_equal(rome_fiche_find(idx, "Z9999"), ROME_NONE);

    assert_int_equal(item_importance(idx, "D1505", 100001), ROME_IMPORTANCE_PRINCIPALE);
    assert_int_equal(item_importance(idx, "D1505", 200001), ROME_IMPORTANCE_EMERGENTE);
    assert_int_equal(item_importance(idx, "D1505", 100002), ROME_IMPORTANCE_NONE);
    assert_int_equal(item_importance(idx, "D1106", 100002), ROME_IMPORTANCE_PRINCIPALE);
    assert_int_equal(item_importance(idx, "J1501", 100002), -1);

    const rome_item *enc = &idx->items[rome_item_find(idx, 100001)];
    assert_int_equal(enc->kind, ROME_KIND_SAVOIR_FAIRE);
    const rome_item *macro = &idx->items[enc->macro];
    assert_int_equal(macro->code_ogr, 300001);
    assert_true(macro->flags & ROME_ITEM_MACRO);
    assert_string_equal(idx->enjeux[macro->enjeu].code, "4A");
    assert_string_equal(rome_str(idx, idx->enjeux[macro->enjeu].label), "Vente (fixture)");
    assert_string_equal(
        rome_str(idx, idx->comp_domaines[idx->enjeux[macro->enjeu].comp_domaine].label),
        "Relation client (fixture)");
    assert_int_equal(idx->items[rome_item_find(idx, 100003)].kind, ROME_KIND_SAVOIR_ETRE);
    assert_int_equal(idx->items[rome_item_find(idx, 200001)].kind, ROME_KIND_SAVOIR);
    assert_true(idx->items[rome_item_find(idx, 200002)].flags & ROME_ITEM_QUALIFICATION);
    assert_false(idx->items[rome_item_find(idx, 200001)].flags & ROME_ITEM_QUALIFICATION);

    /* Inverted list: 100002 is in D1106 and D1505 (ids in code order). */
    uint32_t acc = rome_item_find(idx, 100002);
    assert_int_equal(rome_csr_count(&idx->item_fiches, acc), 2);
    assert_string_equal(idx->fiches[rome_csr_targets(&idx->item_fiches, acc)[0]].code, "D1106");
    assert_string_equal(idx->fiches[rome_csr_targets(&idx->item_fiches, acc)[1]].code, "D1505");
    uint32_t night = rome_contexte_find(idx, 300803);
    assert_int_equal(rome_csr_count(&idx->contexte_fiches, night), 1);
    assert_string_equal(idx->fiches[rome_csr_targets(&idx->contexte_fiches, night)[0]].code,
                        "J1501");

    uint32_t app = rome_appellation_find(idx, 5003);
    assert_int_equal(idx->appellations[app].fiche, d1505);
    assert_int_equal(idx->appellations[app].flags, ROME_APPELLATION_PEU_USITE);
    assert_int_equal(rome_csr_count(&idx->fiche_appellations, d1505), 2);
    rome_index_free(idx);
}

static void test_reordered_header_same_index(void **state) {
    fixture *f = *state;
    rome_index *before = load_ok(f, NULL);
    const char *reordered =
        "\"libelle_type_cont_trav\",\"code_type_cont_trav\",\"libelle_cont_travail\",\"code_ogr\"\n"
        "\"Horaires et durée du travail\",\"2\",\"Travail le samedi\",\"23374\"\n"
        "\"Horaires et durée du travail\",\"2\",\"Travail de nuit\",\"300803\"\n"
        "\"Publics spécifiques\",\"5\",\"En contact avec du public\",\"403020\"\n";
    assert_int_equal(
        rome_fixture_write(f->dir, "referentiel_contexte_travail", reordered, strlen(reordered)),
        0);
    rome_index *after = load_ok(f, NULL);
    assert_true(rome_index_equal(before, after));
    rome_index_free(before);
    rome_index_free(after);
}

static void test_missing_file(void **state) {
    fixture *f = *state;
    char path[1024];
    rome_fixture_path(f->dir, "referentiel_savoir", path, sizeof path);
    remove(path);
    expect_load_error(f, "unix_referentiel_savoir_v461_utf8.csv", "cannot open");
}

static void test_no_export_in_directory(void **state) {
    fixture *f = *state;
    char path[1024];
    rome_fixture_path(f->dir, "referentiel_code_rome", path, sizeof path);
    remove(path);
    expect_load_error(f, "no unix_referentiel_code_rome_vNNN_utf8.csv", NULL);
}

static void test_two_versions_refused(void **state) {
    fixture *f = *state;
    char path[1024];
    snprintf(path, sizeof path, "%s/unix_referentiel_code_rome_v460_utf8.csv", f->dir);
    FILE *out = fopen(path, "w");
    assert_non_null(out);
    fclose(out);
    expect_load_error(f, "two ROME versions", NULL);
}

static void test_missing_column(void **state) {
    fixture *f = *state;
    patch(f, "referentiel_code_rome", "\"libelle_rome\"", "\"intitule\"");
    expect_load_error(f, "referentiel_code_rome_v461_utf8.csv:1", "no column 'libelle_rome'");
}

static void test_unterminated_quote(void **state) {
    fixture *f = *state;
    patch(f, "referentiel_contexte_travail", "\"Travail de nuit\"", "\"Travail de nuit");
    expect_load_error(f, "referentiel_contexte_travail_v461_utf8.csv", "quote");
}

static void test_stray_quote(void **state) {
    fixture *f = *state;
    patch(f, "referentiel_contexte_travail", "\"Travail le samedi\"", "\"Travail\" le samedi\"");
    expect_load_error(f, "referentiel_contexte_travail_v461_utf8.csv:2", "malformed CSV");
}

static void test_not_utf8(void **state) {
    fixture *f = *state;
    patch(f, "referentiel_savoir", "Caisse enregistreuse",
          "Caisse enregistr\xe9use"); /* Latin-1 é */
    expect_load_error(f, "referentiel_savoir_v461_utf8.csv:2", "not valid UTF-8");
}

static void test_duplicate_code(void **state) {
    fixture *f = *state;
    patch(f, "referentiel_appellation", "\"5003\"", "\"5001\"");
    expect_load_error(f, "duplicate appellation code_ogr on lines 3 and 4", NULL);
}

static void test_duplicate_item_across_referentials(void **state) {
    fixture *f = *state;
    patch(f, "referentiel_savoir", "\"200001\"", "\"100001\"");
    expect_load_error(f, "duplicate item code_ogr 100001", NULL);
}

static void test_empty_file(void **state) {
    fixture *f = *state;
    rome_fixture_write(f->dir, "coherence_item", "", 0);
    expect_load_error(f, "unix_coherence_item_v461_utf8.csv", "file is empty");
}

static void test_header_only_entities(void **state) {
    fixture *f = *state;
    const char *h = "\"code_grand_domaine\",\"libelle_grand_domaine\"\n";
    rome_fixture_write(f->dir, "grand_domaine", h, strlen(h));
    expect_load_error(f, "unix_grand_domaine_v461_utf8.csv", "no records");
}

static void test_field_count_mismatch(void **state) {
    fixture *f = *state;
    patch(f, "referentiel_savoir", "\"Caisse enregistreuse\",",
          "\"Caisse enregistreuse\",\"extra\",");
    expect_load_error(f, "referentiel_savoir_v461_utf8.csv:2", "has 7 fields, expected 6");
}

static void test_bad_code_shape(void **state) {
    fixture *f = *state;
    patch(f, "referentiel_code_rome", "\"D1106\",\"3\"", "\"D11X6\",\"3\"");
    expect_load_error(f, "referentiel_code_rome_v461_utf8.csv:4: column 'code_rome'",
                      "not a ROME code");
}

static void test_bad_integer(void **state) {
    fixture *f = *state;
    patch(f, "referentiel_contexte_travail", "\"23374\"", "\"23x74\"");
    expect_load_error(f, "column 'code_ogr'", "not an unsigned integer");
}

static void test_bad_importance(void **state) {
    fixture *f = *state;
    patch(f, "coherence_item", "Émergente", "Secondaire");
    expect_load_error(f, "column 'coeur_metier'", "expected 'Principale', 'Émergente' or empty");
}

static void test_dangling_links_are_counted_warnings(void **state) {
    fixture *f = *state;
    patch(f, "liens_rome_referentiels", "\"J1501\",\"5\",\"1\",\"100004\"",
          "\"J1501\",\"5\",\"1\",\"999999\"");
    patch(f, "coherence_item", "\"J1501\",\"100004\"", "\"J1501\",\"999999\"");
    patch(f, "referentiel_appellation", "\"J1501\",\"\",\"\",\"\",\"O\",\"N\",\"PRINCIPALE\"",
          "\"Z9999\",\"\",\"\",\"\",\"O\",\"N\",\"PRINCIPALE\"");
    rome_load_report report;
    rome_index *idx = load_ok(f, &report);
    assert_int_equal(report.dangling_links, 1);
    assert_int_equal(report.dangling_coherence, 1);
    assert_int_equal(report.dangling_appellations, 1);
    assert_int_equal(report.warnings, 3);
    assert_non_null(strstr(report.first_warning, "Z9999"));
    assert_int_equal(idx->n.fiche_item_links, 9);
    assert_int_equal(idx->n.appellations, 3);
    rome_index_free(idx);
}

static const rome_fiche *fiche(const rome_index *idx, const char *code) {
    uint32_t f = rome_fiche_find(idx, code);
    if (f == ROME_NONE) fail_msg("no fiche %s", code);
    return &idx->fiches[f];
}

/* The codes of fiche `code`'s tags of one family, in tag order, each followed by '*' when
 * principal, joined by spaces ("4* 6"). */
static void fiche_tags(const rome_index *idx, const char *code, rome_tag_family family, char *out,
                       size_t cap) {
    uint32_t f = rome_fiche_find(idx, code);
    size_t len = 0;
    out[0] = '\0';
    for (uint32_t k = idx->fiche_tags.offsets[f]; k < idx->fiche_tags.offsets[f + 1]; k++) {
        const rome_tag *t = &idx->tags[idx->fiche_tags.targets[k]];
        if (t->family != (uint32_t)family) continue;
        len += (size_t)snprintf(out + len, cap - len, "%s%s%s", len ? " " : "", t->code,
                                idx->fiche_tags.importance[k] == ROME_IMPORTANCE_PRINCIPALE ? "*"
                                                                                            : "");
    }
}

static void test_fiche_details_and_tags(void **state) {
    rome_index *idx = load_ok(*state, NULL);
    assert_int_equal(idx->n.optional_files, ROME_OPT_TEXTE | ROME_OPT_RIASEC |
                                                ROME_OPT_CENTRE_INTERET | ROME_OPT_SECTEUR |
                                                ROME_OPT_THEME | ROME_OPT_ESCO);
    const rome_fiche *d1505 = fiche(idx, "D1505"), *j1501 = fiche(idx, "J1501"),
                     *d1106 = fiche(idx, "D1106");
    assert_string_equal(d1505->parent, "D1505");
    assert_string_equal(d1106->parent, "D1101");
    /* Sentences in position order whatever the file order; the export's '' read as '. */
    assert_string_equal(
        rome_str(idx, d1505->definition),
        "Encaisse les achats, rend la monnaie.\nTient la caisse d'un magasin de test.");
    assert_string_equal(rome_str(idx, d1505->acces), "Accessible sans diplôme (fixture).");
    assert_string_equal(rome_str(idx, j1501->definition),
                        "Soigne des patients \"de nuit\" (fixture).");
    assert_int_equal(j1501->acces, 0);
    assert_int_equal(d1106->definition, 0);
    assert_string_equal(d1505->riasec, "CR");
    assert_string_equal(j1501->riasec, "S");
    assert_string_equal(d1106->riasec, "");
    assert_int_equal(d1505->reserved, 0);
    assert_int_equal(d1505->flags, 0);
    assert_int_equal(j1501->flags, ROME_FICHE_REGLEMENTE);
    assert_int_equal(d1106->flags, ROME_FICHE_CADRE);

    /* Appellation flags are the appellation's own: 5001 leaves them empty (not inherited). */
    assert_int_equal(idx->appellations[rome_appellation_find(idx, 5002)].flags,
                     ROME_APPELLATION_PRINCIPALE | ROME_APPELLATION_REGLEMENTE);
    assert_int_equal(idx->appellations[rome_appellation_find(idx, 5004)].flags,
                     ROME_APPELLATION_PRINCIPALE | ROME_APPELLATION_CADRE);
    assert_int_equal(idx->appellations[rome_appellation_find(idx, 5001)].flags,
                     ROME_APPELLATION_PRINCIPALE);

    /* Tags: 3 centres d'intérêt, 2 secteurs, 1 sous-secteur, 2 thèmes, sorted by (family, code). */
    assert_int_equal(idx->n.tags, 8);
    assert_int_equal(idx->n.fiche_tag_links, 12);
    static const struct {
        uint32_t family;
        const char *code, *label;
    } want[] = {
        {ROME_TAG_CENTRE_INTERET, "12", "J'aime prendre soin des autres (fixture)"},
        {ROME_TAG_CENTRE_INTERET, "4", "J'ai le sens du contact (fixture)"},
        {ROME_TAG_CENTRE_INTERET, "6", "J'ai le souci du détail (fixture)"},
        {ROME_TAG_SECTEUR, "104", "Santé (fixture)"},
        {ROME_TAG_SECTEUR, "88", "Commerce (fixture)"},
        {ROME_TAG_SOUS_SECTEUR, "124", "Commerce de détail (fixture)"},
        {ROME_TAG_THEME, "013", "Jobs d'été (fixture)"},
        {ROME_TAG_THEME, "017", "Sans diplôme (fixture)"},
    };
    for (uint32_t i = 0; i < 8; i++) {
        assert_int_equal(idx->tags[i].family, want[i].family);
        assert_string_equal(idx->tags[i].code, want[i].code);
        assert_string_equal(rome_str(idx, idx->tags[i].label), want[i].label);
        assert_int_equal(rome_tag_find(idx, (rome_tag_family)want[i].family, want[i].code), i);
    }
    assert_int_equal(rome_tag_find(idx, ROME_TAG_THEME, "88"), ROME_NONE);
    assert_int_equal(rome_tag_find(idx, ROME_TAG_SECTEUR, "8"), ROME_NONE);
    assert_int_equal(rome_tag_find(idx, ROME_TAG_THEME, "018"), ROME_NONE);

    char got[128];
    fiche_tags(idx, "D1505", ROME_TAG_CENTRE_INTERET, got, sizeof got);
    assert_string_equal(got, "4* 6");
    /* The secteur is listed on its own row (principal) and on its sous-secteur's row: one link. */
    fiche_tags(idx, "D1505", ROME_TAG_SECTEUR, got, sizeof got);
    assert_string_equal(got, "88*");
    fiche_tags(idx, "D1505", ROME_TAG_SOUS_SECTEUR, got, sizeof got);
    assert_string_equal(got, "124");
    fiche_tags(idx, "D1505", ROME_TAG_THEME, got, sizeof got);
    assert_string_equal(got, "013 017");
    fiche_tags(idx, "J1501", ROME_TAG_THEME, got, sizeof got);
    assert_string_equal(got, "");
    fiche_tags(idx, "D1106", ROME_TAG_CENTRE_INTERET, got, sizeof got);
    assert_string_equal(got, "4");

    /* Inverted list: centre d'intérêt 4 → D1106 (non), D1505 (oui), ids in code order. */
    uint32_t ci4 = rome_tag_find(idx, ROME_TAG_CENTRE_INTERET, "4");
    assert_int_equal(rome_csr_count(&idx->tag_fiches, ci4), 2);
    assert_string_equal(idx->fiches[rome_csr_targets(&idx->tag_fiches, ci4)[0]].code, "D1106");
    assert_string_equal(idx->fiches[rome_csr_targets(&idx->tag_fiches, ci4)[1]].code, "D1505");
    assert_int_equal(idx->tag_fiches.importance[idx->tag_fiches.offsets[ci4]],
                     ROME_IMPORTANCE_NONE);
    assert_int_equal(idx->tag_fiches.importance[idx->tag_fiches.offsets[ci4] + 1],
                     ROME_IMPORTANCE_PRINCIPALE);
    rome_index_free(idx);
}

static const char *const OPTIONAL_STEMS[] = {"texte",
                                             "referentiel_code_rome_riasec",
                                             "arborescence_centre_interet",
                                             "arborescence_secteur_activite",
                                             "arborescence_thematique",
                                             "esco_crosswalk"};

static void remove_stem(const fixture *f, const char *stem) {
    char path[1024];
    rome_fixture_path(f->dir, stem, path, sizeof path);
    assert_int_equal(remove(path), 0);
}

static void test_optional_files_absent(void **state) {
    fixture *f = *state;
    rome_index *full = load_ok(f, NULL);
    remove_stem(f, "arborescence_thematique");
    rome_index *idx = load_ok(f, NULL);
    assert_int_equal(idx->n.optional_files & ROME_OPT_THEME, 0);
    assert_true(idx->n.optional_files & ROME_OPT_SECTEUR);
    assert_int_equal(idx->n.tags, 6);
    assert_int_equal(rome_tag_find(idx, ROME_TAG_THEME, "013"), ROME_NONE);
    assert_false(rome_index_equal(full, idx));
    rome_index_free(idx);

    for (size_t i = 0; i < sizeof OPTIONAL_STEMS / sizeof OPTIONAL_STEMS[0]; i++)
        if (strcmp(OPTIONAL_STEMS[i], "arborescence_thematique") != 0)
            remove_stem(f, OPTIONAL_STEMS[i]);
    rome_load_report report;
    idx = load_ok(f, &report);
    assert_int_equal(report.warnings, 0);
    assert_int_equal(idx->n.optional_files, 0);
    assert_int_equal(idx->n.tags, 0);
    assert_int_equal(idx->n.fiche_tag_links, 0);
    assert_int_equal(idx->n.fiches, 3);
    assert_false(rome_has_esco(idx));
    assert_int_equal(idx->n.esco_rows + idx->n.esco_appellation_links + idx->n.esco_fiche_links, 0);
    for (uint32_t i = 0; i < idx->n.appellations; i++)
        assert_int_equal(rome_esco_count(&idx->appellation_esco, i), 0);
    for (uint32_t i = 0; i < idx->n.fiches; i++) {
        const rome_fiche *fi = &idx->fiches[i];
        assert_int_equal(fi->definition, 0);
        assert_int_equal(fi->acces, 0);
        assert_string_equal(fi->riasec, "");
        assert_int_equal(rome_csr_count(&idx->fiche_tags, i), 0);
        assert_string_equal(fi->code, full->fiches[i].code);
        assert_string_equal(fi->parent, full->fiches[i].parent); /* from the mandatory fiche file */
    }
    /* An index without the optional sections still makes a valid snapshot. */
    void *buf;
    size_t len;
    px_error err = {0};
    assert_int_equal(rome_snapshot_encode(idx, &buf, &len, &err), 0);
    rome_index *back = rome_snapshot_decode(buf, len, &err);
    if (!back) fail_msg("%s", err.msg);
    assert_true(rome_index_equal(idx, back));
    rome_index_free(back);
    free(buf);
    rome_index_free(idx);
    rome_index_free(full);
}

static void test_bad_texte_bloc(void **state) {
    fixture *f = *state;
    patch(f, "texte", "\"D1505\",\"4\",\"acces_metier\"", "\"D1505\",\"7\",\"acces_metier\"");
    expect_load_error(f, "unix_texte_v461_utf8.csv:3: column 'code_compo_bloc'",
                      "expected 3 (definition) or 4");
}

static void test_texte_duplicate_position(void **state) {
    fixture *f = *state;
    patch(f, "texte", "\"D1505\",\"3\",\"definition\",\"1\"",
          "\"D1505\",\"3\",\"definition\",\"2\"");
    expect_load_error(f, "unix_texte_v461_utf8.csv: lines 2 and 4", "position_phrase 2");
}

static void test_texte_unknown_fiche(void **state) {
    fixture *f = *state;
    patch(f, "texte", "\"J1501\",\"3\"", "\"J1599\",\"3\"");
    expect_load_error(f, "unix_texte_v461_utf8.csv:5: column 'code_rome'", "unknown fiche 'J1599'");
}

static void test_texte_missing_column(void **state) {
    fixture *f = *state;
    patch(f, "texte", "\"position_phrase\"", "\"position\"");
    expect_load_error(f, "unix_texte_v461_utf8.csv:1", "no column 'position_phrase'");
}

static void test_bad_riasec(void **state) {
    fixture *f = *state;
    patch(f, "referentiel_code_rome_riasec", "\"D1505\",\"C\",\"R\"", "\"D1505\",\"C\",\"X\"");
    expect_load_error(f,
                      "unix_referentiel_code_rome_riasec_v461_utf8.csv:2: column 'riasec_mineur'",
                      "expected one of R I A S E C or empty");
}

static void test_riasec_minor_without_major(void **state) {
    fixture *f = *state;
    patch(f, "referentiel_code_rome_riasec", "\"J1501\",\"S\",\"\"", "\"J1501\",\"\",\"S\"");
    expect_load_error(f, "riasec_v461_utf8.csv:3: column 'riasec_majeur'", "expected a letter");
}

static void test_riasec_duplicate_fiche(void **state) {
    fixture *f = *state;
    patch(f, "referentiel_code_rome_riasec", "\"J1501\"", "\"D1505\"");
    expect_load_error(f, "riasec_v461_utf8.csv: fiche D1505 on lines 2 and 3", NULL);
}

static void test_bad_principal(void **state) {
    fixture *f = *state;
    patch(f, "arborescence_centre_interet", "\"J1501\",\"Soignant de test\",\"oui\"",
          "\"J1501\",\"Soignant de test\",\"Oui\"");
    expect_load_error(f, "unix_arborescence_centre_interet_v461_utf8.csv:4: column 'principal'",
                      "expected 'oui' or 'non'");
}

static void test_bad_tag_code(void **state) {
    fixture *f = *state;
    patch(f, "arborescence_thematique", "\"017\",\"Sans diplôme (fixture)\",\"903\"",
          "\"01-7\",\"Sans diplôme (fixture)\",\"903\"");
    expect_load_error(f, "unix_arborescence_thematique_v461_utf8.csv:4: column 'code_theme'",
                      "expected a code of 1 to 7 letters or digits");
}

static void test_tag_unknown_fiche(void **state) {
    fixture *f = *state;
    patch(f, "arborescence_secteur_activite", "\"902\",\"J1501\"", "\"902\",\"J1502\"");
    expect_load_error(f, "unix_arborescence_secteur_activite_v461_utf8.csv:6: column 'code_rome'",
                      "unknown fiche 'J1502'");
}

static void test_tag_two_labels(void **state) {
    fixture *f = *state;
    patch(f, "arborescence_secteur_activite", "\"Commerce de détail (fixture)\",\"903\"",
          "\"Commerce de gros (fixture)\",\"903\"");
    expect_load_error(f, "unix_arborescence_secteur_activite_v461_utf8.csv: lines 2 and 4",
                      "sous_secteur code '124' has two labels");
}

static void test_bad_emploi_flag(void **state) {
    fixture *f = *state;
    patch(f, "referentiel_appellation", "\"O\",\"N\",\"PRINCIPALE\"",
          "\"oui\",\"N\",\"PRINCIPALE\"");
    expect_load_error(f, "unix_referentiel_appellation_v461_utf8.csv:2: column 'emploi_reglemente'",
                      "expected 'O', 'N' or empty");
}

static void test_bad_parent(void **state) {
    fixture *f = *state;
    patch(f, "referentiel_code_rome", "\"D1101\"", "\"D11\"");
    expect_load_error(f, "unix_referentiel_code_rome_v461_utf8.csv:4: column 'code_rome_parent'",
                      "not a ROME code (a letter and 4 digits) or empty");
}

/* rome_index_equal sees a difference in each of the new sections. */
static void test_equal_covers_new_fields(void **state) {
    fixture *f = *state;
    rome_index *a = load_ok(f, NULL);
    patch(f, "arborescence_centre_interet", "\"903\",\"D1106\",\"Vendeur de test\",\"non\"",
          "\"903\",\"D1106\",\"Vendeur de test\",\"oui\"");
    rome_index *b = load_ok(f, NULL); /* same sizes, one importance differs */
    assert_int_equal(memcmp(&a->n, &b->n, sizeof a->n), 0);
    assert_false(rome_index_equal(a, b));
    rome_index_free(b);
    patch(f, "arborescence_centre_interet", "\"903\",\"D1106\",\"Vendeur de test\",\"oui\"",
          "\"903\",\"D1106\",\"Vendeur de test\",\"non\"");
    patch(f, "referentiel_code_rome_riasec", "\"C\",\"R\"", "\"C\",\"I\"");
    b = load_ok(f, NULL);
    assert_false(rome_index_equal(a, b));
    rome_index_free(b);
    rome_index_free(a);
}

static void test_snapshot_round_trip(void **state) {
    rome_index *idx = load_ok(*state, NULL);
    void *buf;
    size_t len;
    px_error err = {0};
    assert_int_equal(rome_snapshot_encode(idx, &buf, &len, &err), 0);
    rome_index *back = rome_snapshot_decode(buf, len, &err);
    if (!back) fail_msg("%s", err.msg);
    assert_true(rome_index_equal(idx, back));
    assert_int_equal(rome_item_find(back, 100001), rome_item_find(idx, 100001));
    assert_string_equal(rome_str(back, back->fiches[0].label), rome_str(idx, idx->fiches[0].label));
    uint32_t d1505 = rome_fiche_find(back, "D1505");
    assert_string_equal(rome_str(back, back->fiches[d1505].definition),
                        rome_str(idx, idx->fiches[d1505].definition));
    assert_string_equal(back->fiches[d1505].riasec, "CR");
    assert_int_equal(back->n.tags, 8);
    assert_int_equal(rome_tag_find(back, ROME_TAG_SOUS_SECTEUR, "124"), 5);
    assert_int_equal(back->n.optional_files, idx->n.optional_files);
    assert_true(rome_has_esco(back));
    uint32_t a5003 = rome_appellation_find(back, 5003);
    assert_int_equal(rome_esco_count(&back->appellation_esco, a5003), 2);
    assert_string_equal(rome_str(back, rome_esco_links(&back->fiche_esco, d1505)[0].uri),
                        ESCO_URI("b"));

    /* Every single flipped byte is refused (header fields or checksum catch it). */
    unsigned char *bad = malloc(len);
    for (size_t i = 0; i < len; i++) {
        memcpy(bad, buf, len);
        bad[i] ^= 0x40;
        rome_index *x = rome_snapshot_decode(bad, len, &err);
        if (x) fail_msg("a flipped byte at offset %zu was accepted", i);
    }
    /* Every truncation is refused. */
    for (size_t cut = 0; cut < len; cut += 7) {
        rome_index *x = rome_snapshot_decode(buf, cut, &err);
        if (x) fail_msg("a snapshot truncated to %zu bytes was accepted", cut);
    }
    /* A wrong format version says so. */
    memcpy(bad, buf, len);
    bad[8] = ROME_SNAPSHOT_FORMAT + 1;
    assert_null(rome_snapshot_decode(bad, len, &err));
    assert_non_null(strstr(err.msg, "format version"));
    /* A snapshot of format 1 (before the fiche texts and tags) is refused with what to do. */
    memcpy(bad, buf, len);
    bad[8] = 1;
    assert_null(rome_snapshot_decode(bad, len, &err));
    assert_non_null(strstr(err.msg, "format version 1, this build reads version 3"));
    assert_non_null(strstr(err.msg, "rome build"));
    memcpy(bad, buf, len);
    bad[0] = 'X';
    assert_null(rome_snapshot_decode(bad, len, &err));
    assert_non_null(strstr(err.msg, "bad magic"));
    free(bad);
    free(buf);
    rome_index_free(back);
    rome_index_free(idx);
}

/* An export whose fiches have no work contexts (no bloc 6 in the liens file) loads: the empty
 * sets were sorted and searched with a NULL base (UBSan: nonnull-attribute; issue 12). */
static void test_fiches_without_contexts(void **state) {
    const fixture *f = *state;
    static const char liens[] = "\"code_rome\",\"code_compo_bloc\",\"code_rubrique\",\"code_ogr\"\n"
                                "\"D1505\",\"5\",\"1\",\"100001\"\n"
                                "\"J1501\",\"5\",\"1\",\"100004\"\n";
    assert_int_equal(rome_fixture_write(f->dir, "liens_rome_referentiels", liens, strlen(liens)),
                     0);
    rome_index *idx = load_ok(f, NULL);
    for (uint32_t i = 0; i < idx->n.fiches; i++)
        assert_int_equal(rome_csr_count(&idx->fiche_contextes, i), 0);
    rome_index_free(idx);
}

/* The bytes the encoder writes as zeros (the header's reserved field, the padding after the
 * section table and after each section) are checked, checksum or not: with the checksum set right,
 * an image is either refused or exactly what encoding its index gives again (issue 12). */
static void test_snapshot_padding(void **state) {
    rome_index *idx = load_ok(*state, NULL);
    void *buf;
    size_t len;
    px_error err = {0};
    assert_int_equal(rome_snapshot_encode(idx, &buf, &len, &err), 0);
    unsigned char *bad = malloc(len);
    size_t refused = 0;
    for (size_t i = 0; i < len; i++) {
        if (((unsigned char *)buf)[i] != 0 || (i >= 40 && i < 48)) continue; /* 40: checksum */
        memcpy(bad, buf, len);
        bad[i] = 1;
        memset(bad + 40, 0, 8);
        uint64_t sum = XXH3_64bits(bad, len);
        memcpy(bad + 40, &sum, 8);
        rome_index *x = rome_snapshot_decode(bad, len, &err);
        if (!x) {
            refused++;
            continue;
        }
        void *again;
        size_t again_len;
        assert_int_equal(rome_snapshot_encode(x, &again, &again_len, &err), 0);
        if (again_len != len || memcmp(again, bad, len))
            fail_msg("a zero byte at offset %zu set to 1 was accepted and lost", i);
        free(again);
        rome_index_free(x);
    }
    assert_true(refused > 0);
    memcpy(bad, buf, len);
    bad[28] = 1; /* snapshot_header.reserved */
    memset(bad + 40, 0, 8);
    uint64_t sum = XXH3_64bits(bad, len);
    memcpy(bad + 40, &sum, 8);
    assert_null(rome_snapshot_decode(bad, len, &err));
    assert_non_null(strstr(err.msg, "nonzero padding"));
    free(bad);
    free(buf);
    rome_index_free(idx);
}

static void test_snapshot_file(void **state) {
    fixture *f = *state;
    rome_index *idx = load_ok(f, NULL);
    char path[1024];
    snprintf(path, sizeof path, "%s/index.snap", f->dir);
    px_error err = {0};
    assert_int_equal(rome_snapshot_write(idx, path, &err), 0);
    rome_index *back = rome_snapshot_load(path, &err);
    assert_non_null(back);
    assert_true(rome_index_equal(idx, back));
    rome_index_free(back);
    remove(path);
    assert_null(rome_snapshot_load(path, &err));
    assert_non_null(strstr(err.msg, "cannot open"));
    rome_index_free(idx);
}

/* --- The ESCO crosswalk (tests/fixtures/rome_mini/esco_crosswalk.csv: 16 metadata lines,
 * the header on line 17, six rows on lines 18-23, CRLF). --------------------------------- */

static void expect_links(const rome_index *idx, const rome_esco_csr *csr, uint32_t source,
                         const char *want) {
    char got[256] = "";
    size_t len = 0;
    const rome_esco_link *l = rome_esco_links(csr, source);
    for (uint32_t k = 0; k < rome_esco_count(csr, source); k++) {
        const char *uri = rome_str(idx, l[k].uri);
        len += (size_t)snprintf(got + len, sizeof got - len, "%s%s:%s", k ? " " : "",
                                uri + strlen(uri) - 1, rome_esco_relation_name(l[k].relation));
    }
    assert_string_equal(got, want);
}

static void test_esco_crosswalk(void **state) {
    rome_load_report report;
    rome_index *idx = load_ok(*state, &report);
    assert_true(rome_has_esco(idx));
    assert_int_equal(report.warnings, 0); /* an unknown appellation is coverage, not a warning */
    assert_int_equal(idx->n.esco_rows, 6);
    assert_int_equal(idx->n.esco_skipped, 1); /* appellation 99999 */
    assert_int_equal(idx->n.esco_appellation_links, 5);
    assert_int_equal(idx->n.esco_fiche_links, 4);
    const rome_esco_csr *app = &idx->appellation_esco, *fiche = &idx->fiche_esco;
    /* per appellation: exact/close before broad/narrow, whatever the file order */
    expect_links(idx, app, rome_appellation_find(idx, 5001), "b:exact a:broad");
    expect_links(idx, app, rome_appellation_find(idx, 5003), "a:close c:narrow");
    expect_links(idx, app, rome_appellation_find(idx, 5002), "e:close");
    expect_links(idx, app, rome_appellation_find(idx, 5004), "");
    /* per fiche: the union, each URI once with its best relation ('a' is broad for 5001, close
     * for 5003) */
    expect_links(idx, fiche, rome_fiche_find(idx, "D1505"), "b:exact a:close c:narrow");
    expect_links(idx, fiche, rome_fiche_find(idx, "J1501"), "e:close");
    expect_links(idx, fiche, rome_fiche_find(idx, "D1106"), "");
    assert_string_equal(rome_str(idx, rome_esco_links(fiche, rome_fiche_find(idx, "J1501"))[0].uri),
                        ESCO_URI("e"));
    /* the URI is pooled once for both appellations that name it */
    assert_int_equal(rome_esco_links(app, rome_appellation_find(idx, 5001))[1].uri,
                     rome_esco_links(app, rome_appellation_find(idx, 5003))[0].uri);
    rome_index_free(idx);
}

static void test_esco_malformed(void **state) {
    fixture *f = *state;
    const char *file = "fixture_mapping_esco_rome_v461.csv";
    patch(f, "esco_crosswalk", "00000000000c,", "0000000000C,");
    char want[128];
    snprintf(want, sizeof want, "%s:21: column 'classification 1 ID'", file);
    expect_load_error(f, want, "is not an ESCO occupation URI");
    patch(f, "esco_crosswalk", "0000000000C,", "00000000000c,");
    patch(f, "esco_crosswalk", "skos:narrowMatch", "skos:relatedMatch");
    snprintf(want, sizeof want, "%s:21: column 'mapping relation'", file);
    expect_load_error(f, want, "'skos:relatedMatch', expected skos:exactMatch");
    patch(f, "esco_crosswalk", "skos:relatedMatch", "skos:narrowMatch");
    patch(f, "esco_crosswalk", ",5002,", ",50o2,");
    snprintf(want, sizeof want, "%s:23: column 'classification 2 ID'", file);
    expect_load_error(f, want, "not an unsigned integer code");
    patch(f, "esco_crosswalk", ",50o2,", ",5002,");
    patch(f, "esco_crosswalk", "mapping relation", "relation");
    expect_load_error(f, file,
                      "no header line naming the columns 'classification 1 ID', "
                      "'classification 2 ID', 'mapping relation'");
}

static void test_esco_two_files_refused(void **state) {
    fixture *f = *state;
    char *s = rome_fixture_read(f->dir, "esco_crosswalk");
    assert_non_null(s);
    assert_int_equal(rome_fixture_write(f->dir, "old_mapping_esco_rome", s, strlen(s)), 0);
    free(s);
    expect_load_error(f, "holds two ESCO crosswalks", "keep one per directory");
}

/* csv_table's preamble option: records before the header are skipped, lines stay physical. */
static void test_csv_preamble(void **state) {
    fixture *f = *state;
    char path[1024];
    snprintf(path, sizeof path, "%s/preamble.csv", f->dir);
    FILE *out = fopen(path, "wb");
    assert_non_null(out);
    fputs("title,x\r\n\r\na,b,c\r\ncode,label\r\n7,\"sept, seven\"\r\n", out);
    fclose(out);
    static const char *const cols[] = {"label", "code"};
    px_error err = {0};
    csv_table_options opts = {.max_preamble = 2};
    csv_table *t = csv_table_read_opts(path, cols, 2, &opts, &err);
    if (!t) fail_msg("%s", err.msg);
    assert_int_equal(csv_table_rows(t), 1);
    assert_string_equal(csv_table_field(t, 0, 0), "sept, seven");
    assert_string_equal(csv_table_field(t, 0, 1), "7");
    assert_int_equal(csv_table_line(t, 0), 5);
    csv_table_free(t);
    /* without the option, or with too short a preamble, the first record is the header */
    assert_null(csv_table_read(path, cols, 2, &err));
    assert_non_null(strstr(err.msg, "preamble.csv:1: header has no column 'label'"));
    opts.max_preamble = 1;
    assert_null(csv_table_read_opts(path, cols, 2, &opts, &err));
    assert_non_null(strstr(err.msg, "preamble.csv:3: header has no column 'label'"));
    /* a file that is all preamble */
    out = fopen(path, "wb");
    fputs("title,x\n", out);
    fclose(out);
    opts.max_preamble = 8;
    assert_null(csv_table_read_opts(path, cols, 2, &opts, &err));
    assert_non_null(
        strstr(err.msg, "preamble.csv: no header line naming the columns 'label', 'code'"));
    remove(path);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_loads_fixture, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reordered_header_same_index, setup, teardown),
        cmocka_unit_test_setup_teardown(test_missing_file, setup, teardown),
        cmocka_unit_test_setup_teardown(test_no_export_in_directory, setup, teardown),
        cmocka_unit_test_setup_teardown(test_two_versions_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_missing_column, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unterminated_quote, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stray_quote, setup, teardown),
        cmocka_unit_test_setup_teardown(test_not_utf8, setup, teardown),
        cmocka_unit_test_setup_teardown(test_duplicate_code, setup, teardown),
        cmocka_unit_test_setup_teardown(test_duplicate_item_across_referentials, setup, teardown),
        cmocka_unit_test_setup_teardown(test_empty_file, setup, teardown),
        cmocka_unit_test_setup_teardown(test_header_only_entities, setup, teardown),
        cmocka_unit_test_setup_teardown(test_field_count_mismatch, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_code_shape, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_integer, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_importance, setup, teardown),
        cmocka_unit_test_setup_teardown(test_dangling_links_are_counted_warnings, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fiche_details_and_tags, setup, teardown),
        cmocka_unit_test_setup_teardown(test_optional_files_absent, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_texte_bloc, setup, teardown),
        cmocka_unit_test_setup_teardown(test_texte_duplicate_position, setup, teardown),
        cmocka_unit_test_setup_teardown(test_texte_unknown_fiche, setup, teardown),
        cmocka_unit_test_setup_teardown(test_texte_missing_column, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_riasec, setup, teardown),
        cmocka_unit_test_setup_teardown(test_riasec_minor_without_major, setup, teardown),
        cmocka_unit_test_setup_teardown(test_riasec_duplicate_fiche, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_principal, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_tag_code, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tag_unknown_fiche, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tag_two_labels, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_emploi_flag, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_parent, setup, teardown),
        cmocka_unit_test_setup_teardown(test_equal_covers_new_fields, setup, teardown),
        cmocka_unit_test_setup_teardown(test_snapshot_round_trip, setup, teardown),
        cmocka_unit_test_setup_teardown(test_snapshot_padding, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fiches_without_contexts, setup, teardown),
        cmocka_unit_test_setup_teardown(test_snapshot_file, setup, teardown),
        cmocka_unit_test_setup_teardown(test_esco_crosswalk, setup, teardown),
        cmocka_unit_test_setup_teardown(test_esco_malformed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_esco_two_files_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_csv_preamble, setup, teardown),
    };
    return cmocka_run_group_tests_name("rome_index", tests, NULL, NULL);
}
