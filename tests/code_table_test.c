/* Unit tests of code_table: every code found at its position, absent codes (neighbours, gaps,
 * the extremes) not found, an empty table, and dense runs of codes that collide in the low bits. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>

#include "code_table.h"

/* Shaped like a rome entity: the code first, then anything. */
typedef struct entity {
    uint32_t code;
    uint32_t payload[3];
} entity;

/* Every code found at its position, also after asking for every slot (a prefetch changes
 * nothing). */
static void check_all(const entity *v, uint32_t n, const code_table *t) {
    for (uint32_t k = 0; k < n; k++) assert_int_equal(code_table_find(t, v[k].code), k);
    for (uint32_t k = 0; k < n; k++) code_table_prefetch(t, v[k].code);
    for (uint32_t k = 0; k < n; k++) assert_int_equal(code_table_find(t, v[k].code), k);
}

static void test_dense_run_and_neighbours(void **state) {
    (void)state;
    enum { N = 5000 };
    entity *v = calloc(N, sizeof *v);
    assert_non_null(v);
    for (uint32_t k = 0; k < N; k++)
        v[k].code = 100000 + k; /* like ROME's item codes: a dense run */
    code_table *t = code_table_build(v, N, sizeof *v, NULL);
    assert_non_null(t);
    check_all(v, N, t);
    assert_int_equal(code_table_find(t, 99999), UINT32_MAX);
    assert_int_equal(code_table_find(t, 100000 + N), UINT32_MAX);
    assert_int_equal(code_table_find(t, 0), UINT32_MAX);
    assert_int_equal(code_table_find(t, UINT32_MAX), UINT32_MAX);
    code_table_free(t);
    free(v);
}

static void test_sparse_codes_and_extremes(void **state) {
    (void)state;
    enum { N = 1000 };
    entity v[N];
    for (uint32_t k = 0; k < N; k++) v[k].code = k * 65536u + 7; /* equal low bits everywhere */
    v[0].code = 0;
    v[N - 1].code = UINT32_MAX - 1;
    code_table *t = code_table_build(v, N, sizeof v[0], NULL);
    assert_non_null(t);
    check_all(v, N, t);
    for (uint32_t k = 1; k < N - 1; k++) {
        assert_int_equal(code_table_find(t, v[k].code + 1), UINT32_MAX);
        assert_int_equal(code_table_find(t, v[k].code - 1), UINT32_MAX);
    }
    code_table_free(t);
}

static void test_empty_and_single(void **state) {
    (void)state;
    code_table *t = code_table_build(NULL, 0, sizeof(entity), NULL);
    assert_non_null(t);
    code_table_prefetch(t, 0);
    code_table_prefetch(t, 123);
    assert_int_equal(code_table_find(t, 0), UINT32_MAX);
    assert_int_equal(code_table_find(t, 123), UINT32_MAX);
    code_table_free(t);
    entity one = {42, {0}};
    t = code_table_build(&one, 1, sizeof one, NULL);
    assert_non_null(t);
    assert_int_equal(code_table_find(t, 42), 0);
    assert_int_equal(code_table_find(t, 43), UINT32_MAX);
    code_table_free(t);
    code_table_free(NULL);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_dense_run_and_neighbours),
        cmocka_unit_test(test_sparse_codes_and_extremes),
        cmocka_unit_test(test_empty_and_single),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
