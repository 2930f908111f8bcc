/* libFuzzer target for the ROME CSV loader (tests/fuzz.cmake): the input becomes one file of a
 * temporary copy of tests/fixtures/rome_mini, the first byte choosing which, and the rest its
 * content; rome_load_csv() reads the directory (csv_table for every file). A loaded index must
 * survive what the daemon does with it next: a snapshot round trip and title_resolver_build(). */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "rome_fixture.h"
#include "rome_load.h"
#include "rome_snapshot.h"
#include "title_resolver.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const stems[] = {
    "referentiel_code_rome",
    "referentiel_appellation",
    "referentiel_competence",
    "referentiel_savoir",
    "referentiel_contexte_travail",
    "liens_rome_referentiels",
    "coherence_item",
    "domaine_professionnel",
    "grand_domaine",
    "DERIVED_macro_competence_hierarchy",
    "texte",
    "referentiel_code_rome_riasec",
    "arborescence_centre_interet",
    "arborescence_secteur_activite",
    "arborescence_thematique",
    "esco_crosswalk",
};
#define N_STEMS (sizeof stems / sizeof stems[0])

static char dir[1024];
static char *original[N_STEMS];

static void cleanup(void) { rome_fixture_remove(dir); }

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc;
    (void)argv;
    if (rome_fixture_make(FIXTURE_DIR, dir, sizeof dir)) abort();
    atexit(cleanup);
    for (size_t i = 0; i < N_STEMS; i++)
        if (!(original[i] = rome_fixture_read(dir, stems[i]))) abort();
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size == 0) return 0;
    size_t which = data[0] % N_STEMS;
    if (rome_fixture_write(dir, stems[which], (const char *)data + 1, size - 1)) abort();
    px_error err;
    rome_index *idx = rome_load_csv(dir, NULL, &err);
    if (idx) {
        void *img;
        size_t len;
        if (rome_snapshot_encode(idx, &img, &len, &err)) abort();
        rome_index *back = rome_snapshot_adopt(img, len, &err);
        if (!back) abort(); /* what the loader built, the snapshot reader must take */
        rome_index_free(back);
        title_resolver *r = title_resolver_build(idx, &err);
        title_resolver_free(r);
        rome_index_free(idx);
    }
    if (rome_fixture_write(dir, stems[which], original[which], strlen(original[which]))) abort();
    return 0;
}
