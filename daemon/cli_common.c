/* What the `passerelle` commands share: where the ROME index comes from. */
#include <stdlib.h>

#include "commands.h"

void cli_rome_source_default(const char **rome_dir, const char **snapshot) {
    if (*rome_dir || *snapshot) return;
    *snapshot = getenv("PASSERELLE_SNAPSHOT");
    if (!*snapshot) *rome_dir = getenv("PASSERELLE_ROME_DIR");
}
