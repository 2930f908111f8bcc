/* profile — what a person told us: experiences, constraints, preferences and competence decisions.
 *
 * This is the in-memory form of the content of `profile.upserted` and `skills.confirmed` events
 * (and of a `passerelle match` JSON line). Codecs fill it, the matcher reads it, the Redis store
 * persists it. Pure data: no I/O.
 *
 * Ownership: a profile owns every array and string it points to; profile_free() releases them
 * (not the struct itself, which callers usually keep on the stack or inside another struct).
 * A zeroed struct is a valid empty profile. */
#ifndef PROFILE_H
#define PROFILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "px_error.h"

typedef enum profile_experience_kind {
    PROFILE_EXP_APPELLATION = 0, /* `appellation`: an appellation code_ogr */
    PROFILE_EXP_ROME = 1,        /* `rome`: a fiche code such as "D1505" */
    PROFILE_EXP_TITLE = 2,       /* `title`: free text to resolve to an appellation */
} profile_experience_kind;

typedef struct profile_experience {
    profile_experience_kind kind;
    uint32_t appellation; /* PROFILE_EXP_APPELLATION */
    char rome[8];         /* PROFILE_EXP_ROME, NUL-terminated */
    char *title;          /* PROFILE_EXP_TITLE, owned */
    int32_t months;       /* duration in months; -1 when not given */
    int32_t end_year;     /* year the experience ended; -1 when not given */
    bool extra;           /* extra-professional (volunteering, caring, sport, association…) */
} profile_experience;

/* A growable array of codes (competence/savoir/contexte code_ogr). */
typedef struct profile_codes {
    uint32_t *v;
    size_t n, cap;
} profile_codes;

/* A growable array of owned strings. */
typedef struct profile_strings {
    char **v;
    size_t n, cap;
} profile_strings;

typedef struct profile {
    profile_experience *experiences;
    size_t n_experiences, cap_experiences;

    profile_codes avoid_contextes;   /* `avoid` entries given as contexte code_ogr */
    profile_strings avoid_named;     /* `avoid` entries given as named constraints ("no_weekend") */
    profile_strings domains;         /* preferred: grand domaine letters or domaine pro codes */
    profile_strings exclude_domains; /* excluded: same forms */

    profile_codes confirmed; /* competence/savoir code_ogr the person confirmed */
    profile_codes rejected;  /* … rejected */
    profile_codes added;     /* … added on their own */

    bool include_regulated; /* list regulated jobs whose qualification is not held */
    int32_t as_of_year;     /* the year recency is counted to (the event's ts); 0 when
                                          unknown: experiences then all count as recent. Not
                                          stored: each event brings its own */
} profile;

void profile_free(profile *p);

/* Appenders; they copy strings. Return 0, or -1 with err set (out of memory). */
profile_experience *profile_add_experience(profile *p, px_error *err);
int profile_codes_push(profile_codes *codes, uint32_t code, px_error *err);
int profile_strings_push(profile_strings *strings, const char *s, size_t len, px_error *err);

bool profile_codes_contains(const profile_codes *codes, uint32_t code);

/* Deep copy; dst must be zeroed or freed. */
int profile_copy(profile *dst, const profile *src, px_error *err);

/* Merges a skills decision into a profile's decisions: a code moves to the end of the list it was
 * last put in (confirming a previously rejected competence un-rejects it, and so on), so each
 * list runs from the oldest decision to the latest. */
int profile_apply_decisions(profile *p, const profile_codes *confirmed,
                            const profile_codes *rejected, const profile_codes *added,
                            px_error *err);

#endif
