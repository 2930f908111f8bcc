/* matcher_gen — random but reproducible profiles drawn from a real rome_index, for the matcher's
 * property tests and its benchmark: 1–4 experiences (appellation or fiche codes, some
 * extra-professional, some with a duration), and for some profiles confirmations, rejections,
 * additions, constraints and domain preferences. Same seed → same profiles. */
#ifndef MATCHER_GEN_H
#define MATCHER_GEN_H

#include <stdint.h>

#include "matcher.h"
#include "profile.h"
#include "rome_index.h"

typedef struct matcher_gen {
    uint64_t state; /* xorshift64* state; any non-zero seed */
} matcher_gen;

uint32_t matcher_gen_below(matcher_gen *g, uint32_t n); /* uniform in [0, n), n > 0 */

/* Fills *out (which must be zeroed). Returns 0, or -1 with err set when out of memory. */
int matcher_gen_profile(matcher_gen *g, const rome_index *idx, const matcher_config *cfg,
                        profile *out, px_error *err);

#endif
