/* Integration tests of the ROME loader and snapshot on the official export (PASSERELLE_ROME_DIR).
 * Skipped, with a message, when the export is not present. */
#include <setjmp.h>
#include <stdarg.h>
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
            fprintf(stderr, "PASSERELLE_ROME_DIR not set or unreadable: skipped\n");              \
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
    code_table *apps = code_table_build(idx->appellations, idx->n.appellations, sizeof *idx->appellations, NULL);
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
    for (uint32_t f = 0; f < idx->n.fiches; f++) assert_int_equal(rome_fiche_find(idx, idx->fiches[f].code), f);
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
        if (!strcmp(rome_str(idx, idx->contextes[idx->fiche_contextes.targets[k]].label), "Travail de nuit")) found = 1;
    assert_true(found);
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
        cmocka_unit_test(test_snapshot_round_trip_and_refusals),
    };
    return cmocka_run_group_tests_name("rome_real", tests, setup, teardown);
}
