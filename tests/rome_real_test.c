/* Integration tests of the ROME loader and snapshot on the official export (PASSERELLE_ROME_DIR).
 * Skipped, with a message, when the export is not present. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "code_table.h"
#include "rome_load.h"
#include "rome_snapshot.h"

static int setup(void **state) {
    const char *dir = getenv("PASSERELLE_ROME_DIR");
    if (!dir || access(dir, R_OK) != 0) {
        *state = NULL;
        return 0;
    }
    px_error err = {0};
    rome_load_report report;
    rome_index *idx = rome_load_csv(dir, &report, &err);
    if (!idx) {
        fprintf(stderr, "loading %s failed: %s\n", dir, err.msg);
        return -1;
    }
    *state = idx;
    return 0;
}

static int teardown(void **state) {
    rome_index_free(*state);
    return 0;
}

#define NEED_INDEX(state)                                                                          \
    do {                                                                                           \
        if (!*(state)) {                                                                           \
            fprintf(stderr, "PASSERELLE_ROME_DIR not set or unreadable: skipped\n");               \
            skip();                                                                                \
        }                                                                                          \
    } while (0)

static void test_counts(void **state) {
    NEED_INDEX(state);
    const rome_index *idx = *state;
    assert_int_equal(idx->rome_major, 4);
    assert_int_equal(idx->rome_version, 60);
    assert_int_equal(idx->n.fiches, 1584);
    assert_int_equal(idx->n.appellations, 13120);
    assert_int_equal(idx->n.contextes, 179);
    assert_int_equal(idx->n.competences, 18317);
    assert_int_equal(idx->n.savoirs, 15354);
    assert_int_equal(idx->n.grands_domaines, 14);
    assert_int_equal(idx->n.domaines, 110);
    /* SOURCE.md: liens bloc 5 = 49,440 + 5,255 + 35,861 rows, bloc 6 = 13,663 rows. */
    assert_int_equal(idx->n.fiche_item_links, 49440 + 5255 + 35861);
    assert_int_equal(idx->n.fiche_contexte_links, 13663);
    assert_true(rome_index_memory(idx) <= 32u * 1024 * 1024);
}

/* Every code is found where it is, by the binary searches and by code_table alike, and the codes
 * just beside each one that no entity has are found by neither. */
static void test_every_code_found(void **state) {
    NEED_INDEX(state);
    const rome_index *idx = *state;
    code_table *items = code_table_build(idx->items, idx->n.items, sizeof *idx->items, NULL);
    code_table *apps =
        code_table_build(idx->appellations, idx->n.appellations, sizeof *idx->appellations, NULL);
    assert_non_null(items);
    assert_non_null(apps);
    for (uint32_t i = 0; i < idx->n.items; i++) {
        uint32_t code = idx->items[i].code_ogr;
        assert_int_equal(rome_item_find(idx, code), i);
        assert_int_equal(code_table_find(items, code), i);
        for (uint32_t near = code - 1; near <= code + 1; near += 2) {
            uint32_t expected = rome_item_find(idx, near);
            assert_true(expected == ROME_NONE || idx->items[expected].code_ogr == near);
            assert_int_equal(code_table_find(items, near), expected);
        }
    }
    for (uint32_t a = 0; a < idx->n.appellations; a++) {
        assert_int_equal(rome_appellation_find(idx, idx->appellations[a].code_ogr), a);
        assert_int_equal(code_table_find(apps, idx->appellations[a].code_ogr), a);
    }
    assert_int_equal(code_table_find(apps, 0), ROME_NONE);
    assert_int_equal(rome_appellation_find(idx, 0), ROME_NONE);
    for (uint32_t f = 0; f < idx->n.fiches; f++)
        assert_int_equal(rome_fiche_find(idx, idx->fiches[f].code), f);
    assert_int_equal(rome_fiche_find(idx, "A0000"), ROME_NONE);
    assert_int_equal(rome_fiche_find(idx, "Z9999"), ROME_NONE);
    code_table_free(items);
    code_table_free(apps);
}

static void test_cashier_encaissement_is_principale(void **state) {
    NEED_INDEX(state);
    const rome_index *idx = *state;
    uint32_t f = rome_fiche_find(idx, "D1505"), it = rome_item_find(idx, 300303);
    assert_int_not_equal(f, ROME_NONE);
    assert_int_not_equal(it, ROME_NONE);
    assert_string_equal(rome_str(idx, idx->items[it].label), "Procéder à l'encaissement");
    assert_int_equal(rome_fiche_item_importance(idx, f, it), ROME_IMPORTANCE_PRINCIPALE);
}

static void test_night_work_context(void **state) {
    NEED_INDEX(state);
    const rome_index *idx = *state;
    uint32_t f = rome_fiche_find(idx, "J1501");
    int found = 0;
    for (uint32_t k = idx->fiche_contextes.offsets[f]; k < idx->fiche_contextes.offsets[f + 1]; k++)
        if (!strcmp(rome_str(idx, idx->contextes[idx->fiche_contextes.targets[k]].label),
                    "Travail de nuit"))
            found = 1;
    assert_true(found);
}

/* Counts of the optional files, checked against the CSVs (SOURCE.md and a csv.DictReader pass). */
static void test_texts_riasec_tags_counts(void **state) {
    NEED_INDEX(state);
    const rome_index *idx = *state;
    assert_int_equal(idx->n.optional_files & ~ROME_OPT_ESCO, ROME_OPT_TEXTE | ROME_OPT_RIASEC |
                                                                 ROME_OPT_CENTRE_INTERET |
                                                                 ROME_OPT_SECTEUR | ROME_OPT_THEME);
    uint32_t def = 0, acces = 0, riasec = 0, riasec2 = 0, parent = 0, regl = 0, cadre = 0;
    for (uint32_t f = 0; f < idx->n.fiches; f++) {
        const rome_fiche *fi = &idx->fiches[f];
        def += fi->definition != 0;
        acces += fi->acces != 0;
        riasec += fi->riasec[0] != 0;
        riasec2 += fi->riasec[1] != 0;
        parent += fi->parent[0] != 0;
        regl += (fi->flags & ROME_FICHE_REGLEMENTE) != 0;
        cadre += (fi->flags & ROME_FICHE_CADRE) != 0;
        assert_null(strstr(rome_str(idx, fi->definition), "''"));
    }
    assert_int_equal(def, 1584);
    assert_int_equal(acces, 1584);
    assert_int_equal(riasec, 1584);
    assert_int_equal(riasec2, 1584 - 345); /* 345 fiches have no riasec_mineur */
    assert_int_equal(parent, 1584);
    assert_int_equal(regl, 241);  /* emploi_reglemente: 241 O, 1109 N, 234 empty */
    assert_int_equal(cadre, 507); /* emploi_cadre: 507 O, 879 N, 198 empty */
    uint32_t app_regl = 0, app_cadre = 0;
    for (uint32_t a = 0; a < idx->n.appellations; a++) {
        app_regl += (idx->appellations[a].flags & ROME_APPELLATION_REGLEMENTE) != 0;
        app_cadre += (idx->appellations[a].flags & ROME_APPELLATION_CADRE) != 0;
    }
    assert_int_equal(app_regl, 736);
    assert_int_equal(app_cadre, 1747);

    /* Tags per family, links per family (a secteur's repeated rows folded) and principal links:
     * one principal centre d'intérêt and one principal secteur per fiche. */
    static const uint32_t want_tags[ROME_TAG_FAMILIES] = {30, 35, 40, 17};
    static const uint32_t want_links[ROME_TAG_FAMILIES] = {4444, 2155, 1447, 1348};
    static const uint32_t want_principal[ROME_TAG_FAMILIES] = {1584, 1584, 0, 0};
    uint32_t tags[ROME_TAG_FAMILIES] = {0}, links[ROME_TAG_FAMILIES] = {0},
             principal[ROME_TAG_FAMILIES] = {0};
    for (uint32_t t = 0; t < idx->n.tags; t++) {
        const rome_tag *tag = &idx->tags[t];
        tags[tag->family]++;
        links[tag->family] += rome_csr_count(&idx->tag_fiches, t);
        for (uint32_t k = idx->tag_fiches.offsets[t]; k < idx->tag_fiches.offsets[t + 1]; k++)
            principal[tag->family] += idx->tag_fiches.importance[k] == ROME_IMPORTANCE_PRINCIPALE;
        assert_int_equal(rome_tag_find(idx, (rome_tag_family)tag->family, tag->code), t);
    }
    for (int fam = 0; fam < ROME_TAG_FAMILIES; fam++) {
        assert_int_equal(tags[fam], want_tags[fam]);
        assert_int_equal(links[fam], want_links[fam]);
        assert_int_equal(principal[fam], want_principal[fam]);
    }
    assert_int_equal(idx->n.tags, 30 + 35 + 40 + 17);
    assert_int_equal(idx->n.fiche_tag_links, 4444 + 2155 + 1447 + 1348);
}

static bool starts_with(const char *s, const char *prefix) {
    return !strncmp(s, prefix, strlen(prefix));
}

static uint32_t count_char(const char *s, char c) {
    uint32_t n = 0;
    for (; *s; s++) n += *s == c;
    return n;
}

/* Values looked up by hand in the CSVs. */
static void test_cashier_and_nurse_aide_details(void **state) {
    NEED_INDEX(state);
    const rome_index *idx = *state;
    const rome_fiche *d1505 = &idx->fiches[rome_fiche_find(idx, "D1505")];
    assert_string_equal(d1505->parent, "D1505");
    assert_string_equal(d1505->riasec, "CR");
    assert_int_equal(d1505->flags, 0); /* emploi_reglemente N, emploi_cadre N */
    const char *def = rome_str(idx, d1505->definition);
    assert_true(starts_with(def, "L'hôte de caisse est un professionnel chargé de la gestion"));
    assert_int_equal(count_char(def, '\n'), 6); /* 7 sentences */
    assert_non_null(
        strstr(def, "\nPeut gérer les retours de marchandises et les réclamations clients"));
    assert_true(starts_with(rome_str(idx, d1505->acces),
                            "Cet emploi est accessible avec un diplôme de niveau"));
    assert_string_equal(idx->fiches[rome_fiche_find(idx, "D1511")].parent, "D1505");

    uint32_t ci4 = rome_tag_find(idx, ROME_TAG_CENTRE_INTERET, "4");
    assert_string_equal(rome_str(idx, idx->tags[ci4].label), "J'ai le sens du contact");
    uint32_t f = rome_fiche_find(idx, "D1505");
    const char *want[] = {"4*", "6", "14", "88*", "123", "124", "013", "017"};
    const rome_tag_family fam[] = {
        ROME_TAG_CENTRE_INTERET, ROME_TAG_CENTRE_INTERET, ROME_TAG_CENTRE_INTERET, ROME_TAG_SECTEUR,
        ROME_TAG_SOUS_SECTEUR,   ROME_TAG_SOUS_SECTEUR,   ROME_TAG_THEME,          ROME_TAG_THEME};
    assert_int_equal(rome_csr_count(&idx->fiche_tags, f), 8);
    for (int i = 0; i < 8; i++) {
        char code[8];
        snprintf(code, sizeof code, "%.*s", (int)strcspn(want[i], "*"), want[i]);
        uint32_t t = rome_tag_find(idx, fam[i], code);
        assert_int_not_equal(t, ROME_NONE);
        int found = -1;
        for (uint32_t k = idx->fiche_tags.offsets[f]; k < idx->fiche_tags.offsets[f + 1]; k++)
            if (idx->fiche_tags.targets[k] == t) found = idx->fiche_tags.importance[k];
        assert_int_equal(found,
                         strchr(want[i], '*') ? ROME_IMPORTANCE_PRINCIPALE : ROME_IMPORTANCE_NONE);
    }

    const rome_fiche *j1501 = &idx->fiches[rome_fiche_find(idx, "J1501")];
    assert_string_equal(j1501->riasec, "SI");
    assert_int_equal(j1501->flags, ROME_FICHE_REGLEMENTE); /* emploi_reglemente O, emploi_cadre N */
    assert_non_null(
        strstr(rome_str(idx, j1501->acces), "Diplôme d'Etat d'Aide-Soignant, obligatoire"));
    assert_int_equal(count_char(rome_str(idx, j1501->definition), '\n'), 5);
    uint32_t sante = rome_tag_find(idx, ROME_TAG_SECTEUR, "85");
    assert_string_equal(rome_str(idx, idx->tags[sante].label), "Santé");
    assert_string_equal(rome_str(idx, idx->tags[rome_tag_find(idx, ROME_TAG_THEME, "014")].label),
                        "Métiers des services à la personne à domicile");
}

/* SOURCE.md: the crosswalk's 11,118 rows each name a distinct v460 appellation (one ESCO
 * occupation each) and reach 1,421 of the 1,584 fiches; the fiche unions hold 3,509 URIs. */
static void test_esco_coverage(void **state) {
    NEED_INDEX(state);
    const rome_index *idx = *state;
    if (!rome_has_esco(idx)) {
        fprintf(stderr, "no *mapping_esco_rome*.csv in PASSERELLE_ROME_DIR: skipped\n");
        skip();
    }
    assert_int_equal(idx->n.esco_rows, 11118);
    assert_int_equal(idx->n.esco_skipped, 0);
    assert_int_equal(idx->n.esco_appellation_links, 11118);
    assert_int_equal(idx->n.esco_fiche_links, 3509);
    uint32_t apps = 0, fiches = 0;
    for (uint32_t a = 0; a < idx->n.appellations; a++)
        apps += rome_esco_count(&idx->appellation_esco, a) > 0;
    for (uint32_t f = 0; f < idx->n.fiches; f++) fiches += rome_esco_count(&idx->fiche_esco, f) > 0;
    assert_int_equal(apps, 11118);
    assert_int_equal(fiches, 1421);
    /* "Chauffeur / Chauffeuse de machines agricoles" is an exact match of one occupation */
    uint32_t a = rome_appellation_find(idx, 11987);
    assert_int_not_equal(a, ROME_NONE);
    assert_int_equal(rome_esco_count(&idx->appellation_esco, a), 1);
    const rome_esco_link *l = rome_esco_links(&idx->appellation_esco, a);
    assert_string_equal(rome_str(idx, l->uri), "http://data.europa.eu/esco/occupation/"
                                               "1b8c75a9-407b-4554-a7d6-df391672c6b1");
    assert_int_equal(l->relation, ROME_ESCO_EXACT);
}

static void test_snapshot_round_trip_and_refusals(void **state) {
    NEED_INDEX(state);
    const rome_index *idx = *state;
    void *buf;
    size_t len;
    px_error err = {0};
    assert_int_equal(rome_snapshot_encode(idx, &buf, &len, &err), 0);
    rome_index *back = rome_snapshot_decode(buf, len, &err);
    if (!back) fail_msg("%s", err.msg);
    assert_true(rome_index_equal(idx, back));
    rome_index_free(back);

    unsigned char *bad = malloc(len);
    const size_t positions[] = {0, 20, 40, 100, len / 3, len / 2, len - 1};
    for (size_t i = 0; i < sizeof positions / sizeof positions[0]; i++) {
        memcpy(bad, buf, len);
        bad[positions[i]] ^= 0x01;
        assert_null(rome_snapshot_decode(bad, len, &err));
    }
    assert_null(rome_snapshot_decode(buf, len - 1, &err));
    assert_non_null(strstr(err.msg, "truncated"));
    assert_null(rome_snapshot_decode(buf, len / 2, &err));
    free(bad);
    free(buf);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_counts),
        cmocka_unit_test(test_every_code_found),
        cmocka_unit_test(test_cashier_encaissement_is_principale),
        cmocka_unit_test(test_night_work_context),
        cmocka_unit_test(test_texts_riasec_tags_counts),
        cmocka_unit_test(test_cashier_and_nurse_aide_details),
        cmocka_unit_test(test_esco_coverage),
        cmocka_unit_test(test_snapshot_round_trip_and_refusals),
    };
    return cmocka_run_group_tests_name("rome_real", tests, setup, teardown);
}
