/* libFuzzer target for the title resolver's query (tests/fuzz.cmake): title_resolve() on the
 * index of tests/fixtures/titles, the input as the title (NUL-terminated; any bytes, so UTF-8 and
 * not), and title_normalize() on it. Matches must be distinct appellations of the index, best
 * first, with confidences in [0, 1]. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "rome_fixture.h"
#include "rome_load.h"
#include "title_resolver.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static rome_index *idx;
static title_resolver *resolver;
static title_scratch *scratch;

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc;
    (void)argv;
    char dir[1024];
    px_error err;
    if (rome_fixture_make(FIXTURE_DIR, dir, sizeof dir)) abort();
    idx = rome_load_csv(dir, NULL, &err);
    rome_fixture_remove(dir);
    if (!idx || !(resolver = title_resolver_build(idx, &err)) ||
        !(scratch = title_scratch_new(resolver, &err)))
        abort();
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size > 4 * TITLE_MAX_BYTES) return 0;
    char title[4 * TITLE_MAX_BYTES + 1];
    memcpy(title, data, size);
    title[size] = '\0';
    title_match out[TITLE_MAX_OUT];
    px_error err;
    int n = title_resolve(resolver, scratch, title, out, TITLE_MAX_OUT, &err);
    for (int i = 0; i < n; i++) {
        if (out[i].appellation >= idx->n.appellations) abort();
        if (!(out[i].confidence >= 0 && out[i].confidence <= 1)) abort();
        if (i && out[i].confidence > out[i - 1].confidence) abort();
        for (int j = 0; j < i; j++)
            if (out[j].appellation == out[i].appellation) abort();
    }
    char norm[4 * TITLE_MAX_BYTES + 1];
    title_normalize(title, norm, sizeof norm);
    return 0;
}
