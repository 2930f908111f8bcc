/* matcher_config — the method's tunables: defaults, one key at a time from text, and back. */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "matcher.h"

/* The named constraints: contextes, and the competences/savoirs that imply the condition where
 * ROME's contextes are silent (no_heavy_loads: 300265 "Charger, décharger, manutentionner des
 * produits", 400094 and 100016 gestes et postures de manutention, 119644 manutention de patients,
 * 400343 manutentionner en hauteur, 484042 manutention des charges). matcher_build ignores item
 * codes an index does not know, so another ROME version does not refuse the defaults. */
static const matcher_constraint default_constraints[] = {
    {"no_weekend",
     {23374, 300793, 23376},
     3,
     {0},
     0},                               /* samedi, dimanche, week-ends et jours fériés */
    {"no_night", {300803}, 1, {0}, 0}, /* travail de nuit */
    {"no_heavy_loads",
     {300795},
     1, /* port et manipulation de charges lourdes */
     {300265, 400094, 100016, 119644, 400343, 484042},
     6}, /* manutentionner, gestes et postures… */
    {"no_shift_work",
     {126450, 300808, 300805},
     3,
     {0},
     0}, /* posté (2x8, 3x8), par roulement, horaires décalés */
    {"no_public_contact",
     {403020, 513769},
     2,
     {0},
     0}, /* en contact avec du public, tous types de public */
    {"no_travel",
     {300779, 300817, 300814, 300816},
     4,
     {0},
     0}, /* déplacements professionnels, zones nationale, européenne, internationale */
    {"no_outdoor",
     {300783, 300790},
     2,
     {0},
     0},                                  /* en extérieur, environnement climatique difficile */
    {"no_standing", {300800}, 1, {0}, 0}, /* station debout prolongée */
};

matcher_config matcher_config_default(void) {
    matcher_config c;
    memset(&c, 0, sizeof c);
    c.weight_principale = 1.0;
    c.weight_emergente = 0.7;
    c.weight_other = 0.4;
    c.savoir_etre_factor = 0.0;
    c.skills_savoir_etre = 0.5;
    c.inferred_confidence = 0.6;
    c.extra_weight = 0.5;
    c.recency_decay = 0.04;
    c.recency_floor = 0.5;
    c.score_competences = 2.5;
    c.score_related = 0.3;
    c.score_profile = 1.25;
    c.kin_definition = 1.0;
    c.kin_access = 0.15;
    c.kin_titles = 0.5;
    c.kin_tags = 0.15;
    c.kin_macro = 0.4;
    c.kin_parent = 0.25;
    c.level_penalty = 0.25;
    c.cadre_penalty = 0.05;
    c.domain_boost = 3.0;
    c.constraint_domain_share = 0.5;
    c.title_min_confidence = 0.5;
    c.evidence_places = 10;
    c.skills_asked = 30;
    c.top = 20;
    c.alternatives = 3;
    c.n_constraints = sizeof default_constraints / sizeof default_constraints[0];
    memcpy(c.constraints, default_constraints, sizeof default_constraints);
    return c;
}

const matcher_constraint *matcher_config_constraint(const matcher_config *cfg, const char *name) {
    for (uint32_t i = 0; i < cfg->n_constraints; i++)
        if (!strcmp(cfg->constraints[i].name, name)) return &cfg->constraints[i];
    return NULL;
}

typedef struct real_key {
    const char *key;
    size_t offset;
    double min, max;
    bool min_open; /* value must be > min */
} real_key;

typedef struct count_key {
    const char *key;
    size_t offset;
    uint32_t min, max;
} count_key;

static const real_key real_keys[] = {
    {"weight.principale", offsetof(matcher_config, weight_principale), 0, 1, true},
    {"weight.emergente", offsetof(matcher_config, weight_emergente), 0, 1, false},
    {"weight.other", offsetof(matcher_config, weight_other), 0, 1, false},
    {"weight.savoir_etre", offsetof(matcher_config, savoir_etre_factor), 0, 1, false},
    {"skills.savoir_etre", offsetof(matcher_config, skills_savoir_etre), 0, 1, false},
    {"inferred_confidence", offsetof(matcher_config, inferred_confidence), 0, 1, true},
    {"extra_weight", offsetof(matcher_config, extra_weight), 0, 1, false},
    {"recency_decay", offsetof(matcher_config, recency_decay), 0, 1, false},
    {"recency_floor", offsetof(matcher_config, recency_floor), 0, 1, false},
    {"score.competences", offsetof(matcher_config, score_competences), 0, 10, true},
    {"score.related", offsetof(matcher_config, score_related), 0, 10, false},
    {"score.profile", offsetof(matcher_config, score_profile), 0, 10, false},
    {"kinship.definition", offsetof(matcher_config, kin_definition), 0, 10, false},
    {"kinship.access", offsetof(matcher_config, kin_access), 0, 10, false},
    {"kinship.titles", offsetof(matcher_config, kin_titles), 0, 10, false},
    {"kinship.tags", offsetof(matcher_config, kin_tags), 0, 10, false},
    {"kinship.macro", offsetof(matcher_config, kin_macro), 0, 10, false},
    {"kinship.parent", offsetof(matcher_config, kin_parent), 0, 10, false},
    {"level_penalty", offsetof(matcher_config, level_penalty), 0, 10, false},
    {"cadre_penalty", offsetof(matcher_config, cadre_penalty), 0, 1, false},
    {"domain_boost", offsetof(matcher_config, domain_boost), 0, 100, false},
    {"constraint_domain_share", offsetof(matcher_config, constraint_domain_share), 0, 1, true},
    {"title.min_confidence", offsetof(matcher_config, title_min_confidence), 0, 1, false},
};

static const count_key count_keys[] = {
    {"evidence_places", offsetof(matcher_config, evidence_places), 0, MATCHER_MAX_TOP},
    {"skills_asked", offsetof(matcher_config, skills_asked), 0, MATCHER_MAX_SKILLS_ASKED},
    {"top", offsetof(matcher_config, top), 1, MATCHER_MAX_TOP},
    {"title.alternatives", offsetof(matcher_config, alternatives), 0, MATCHER_MAX_ALTERNATIVES},
};

#define CONSTRAINT_PREFIX "constraint."

/* Parses "23374, 300793" into codes (at most MATCHER_CONSTRAINT_CODES_MAX). */
static int parse_codes(uint32_t *codes, uint32_t *n, const char *key, const char *value,
                       px_error *err) {
    *n = 0;
    const char *p = value;
    for (;;) {
        while (*p == ' ' || *p == '\t') p++;
        char *end;
        errno = 0;
        unsigned long code = strtoul(p, &end, 10);
        if (end == p || *p == '-' || errno || code > UINT32_MAX)
            return px_error_set(err, PX_ECONFIG, "%s: expected comma-separated codes, got \"%s\"",
                                key, value);
        if (*n == MATCHER_CONSTRAINT_CODES_MAX)
            return px_error_set(err, PX_ECONFIG, "%s: at most %u codes", key,
                                MATCHER_CONSTRAINT_CODES_MAX);
        codes[(*n)++] = (uint32_t)code;
        p = end;
        while (*p == ' ' || *p == '\t') p++;
        if (!*p) return 0;
        if (*p++ != ',')
            return px_error_set(err, PX_ECONFIG, "%s: expected comma-separated codes, got \"%s\"",
                                key, value);
    }
}

#define ITEMS_SUFFIX ".items"

/* constraint.NAME = contextes, or constraint.NAME.items = competences/savoirs: replaces that list
 * of the named constraint, adding the constraint when it is new. */
static int set_constraint(matcher_config *cfg, const char *key, const char *value, px_error *err) {
    const char *name = key + strlen(CONSTRAINT_PREFIX);
    size_t len = strlen(name);
    bool items =
        len > strlen(ITEMS_SUFFIX) && !strcmp(name + len - strlen(ITEMS_SUFFIX), ITEMS_SUFFIX);
    if (items) len -= strlen(ITEMS_SUFFIX);
    bool ok = len > 0 && len < MATCHER_CONSTRAINT_NAME_MAX;
    for (size_t i = 0; ok && i < len; i++)
        ok = (name[i] >= 'a' && name[i] <= 'z') || (name[i] >= '0' && name[i] <= '9') ||
             name[i] == '_';
    if (!ok)
        return px_error_set(err, PX_ECONFIG,
                            "%s: a constraint name is 1 to %u characters among a-z, 0-9 and _", key,
                            MATCHER_CONSTRAINT_NAME_MAX - 1);
    char plain[MATCHER_CONSTRAINT_NAME_MAX];
    memcpy(plain, name, len);
    plain[len] = '\0';
    uint32_t codes[MATCHER_CONSTRAINT_CODES_MAX], n;
    if (parse_codes(codes, &n, key, value, err)) return -1;
    matcher_constraint *slot = (matcher_constraint *)matcher_config_constraint(cfg, plain);
    if (!slot) {
        if (cfg->n_constraints == MATCHER_MAX_CONSTRAINTS)
            return px_error_set(err, PX_ECONFIG, "%s: at most %u named constraints", key,
                                MATCHER_MAX_CONSTRAINTS);
        slot = &cfg->constraints[cfg->n_constraints++];
        memset(slot, 0, sizeof *slot);
        memcpy(slot->name, plain, len + 1);
    }
    memcpy(items ? slot->items : slot->codes, codes, n * sizeof *codes);
    *(items ? &slot->n_items : &slot->n_codes) = n;
    return 0;
}

static void write_codes(FILE *out, const char *name, const char *suffix, const uint32_t *codes,
                        uint32_t n) {
    fprintf(out, "%s%s%s = ", CONSTRAINT_PREFIX, name, suffix);
    for (uint32_t k = 0; k < n; k++) fprintf(out, "%s%" PRIu32, k ? ", " : "", codes[k]);
    fputc('\n', out);
}

void matcher_config_write(const matcher_config *cfg, FILE *out) {
    for (size_t i = 0; i < sizeof real_keys / sizeof real_keys[0]; i++) {
        double v = *(const double *)((const char *)cfg + real_keys[i].offset);
        char text[32];
        snprintf(text, sizeof text, "%.15g", v);
        if (strtod(text, NULL) != v) snprintf(text, sizeof text, "%.17g", v);
        fprintf(out, "%s = %s\n", real_keys[i].key, text);
    }
    for (size_t i = 0; i < sizeof count_keys / sizeof count_keys[0]; i++)
        fprintf(out, "%s = %" PRIu32 "\n", count_keys[i].key,
                *(const uint32_t *)((const char *)cfg + count_keys[i].offset));
    for (uint32_t c = 0; c < cfg->n_constraints; c++) {
        const matcher_constraint *k = &cfg->constraints[c];
        if (k->n_codes || !k->n_items) write_codes(out, k->name, "", k->codes, k->n_codes);
        if (k->n_items) write_codes(out, k->name, ITEMS_SUFFIX, k->items, k->n_items);
    }
}

int matcher_config_set(matcher_config *cfg, const char *key, const char *value, px_error *err) {
    if (!strncmp(key, CONSTRAINT_PREFIX, strlen(CONSTRAINT_PREFIX)))
        return set_constraint(cfg, key, value, err);
    for (size_t i = 0; i < sizeof real_keys / sizeof real_keys[0]; i++) {
        const real_key *k = &real_keys[i];
        if (strcmp(key, k->key)) continue;
        char *end;
        double v = strtod(value, &end);
        while (*end == ' ' || *end == '\t') end++;
        if (end == value || *end || !isfinite(v) || v < k->min || v > k->max ||
            (k->min_open && v <= k->min))
            return px_error_set(err, PX_ECONFIG, "%s: expected a number in %c%g, %g], got \"%s\"",
                                key, k->min_open ? ']' : '[', k->min, k->max, value);
        *(double *)((char *)cfg + k->offset) = v;
        return 0;
    }
    for (size_t i = 0; i < sizeof count_keys / sizeof count_keys[0]; i++) {
        const count_key *k = &count_keys[i];
        if (strcmp(key, k->key)) continue;
        char *end;
        errno = 0;
        long v = strtol(value, &end, 10);
        while (*end == ' ' || *end == '\t') end++;
        if (end == value || *end || errno || v < (long)k->min || v > (long)k->max)
            return px_error_set(err, PX_ECONFIG, "%s: expected an integer in [%u, %u], got \"%s\"",
                                key, k->min, k->max, value);
        *(uint32_t *)((char *)cfg + k->offset) = (uint32_t)v;
        return 0;
    }
    return px_error_set(
        err, PX_ECONFIG,
        "unknown matching key \"%s\" (expected weight.*, inferred_confidence, extra_weight, "
        "recency_decay, recency_floor, score.*, kinship.*, level_penalty, cadre_penalty, "
        "domain_boost, evidence_places, title.*, skills_asked, top, constraint.NAME or "
        "constraint.NAME.items; see docs/matching.md §5)",
        key);
}
