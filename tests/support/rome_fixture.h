/* rome_fixture — lays out a tiny ROME export for tests.
 *
 * The fixture CSVs under tests/fixtures/rome_mini/ are written by hand in the official schema
 * (invented codes and labels, no official data). They are stored under short names so that the
 * repository never holds files named like the official export; rome_fixture_make() copies them
 * into a fresh temporary directory under the official names (unix_<stem>_v461_utf8.csv and
 * DERIVED_macro_competence_hierarchy_v461.csv), where a test may then alter or remove one.
 * Both fixtures hold small versions of the optional files too (texte, referentiel_code_rome_riasec,
 * arborescence_*): remove them to test an export without. */
#ifndef ROME_FIXTURE_H
#define ROME_FIXTURE_H

#include <stddef.h>

#define ROME_FIXTURE_SUFFIX "v461"

/* Creates the directory; writes its path (NUL-terminated) into dir. Returns 0 or -1. */
int rome_fixture_make(const char *fixture_dir, char *dir, size_t dir_cap);
/* Path of one file of a fixture directory by stem ("referentiel_code_rome", or the DERIVED one). */
void rome_fixture_path(const char *dir, const char *stem, char *out, size_t cap);
/* Replaces the content of the file `stem` in dir. Returns 0 or -1. */
int rome_fixture_write(const char *dir, const char *stem, const char *content, size_t len);
/* Reads the content of `stem` into a malloc'd NUL-terminated buffer (caller frees), or NULL. */
char *rome_fixture_read(const char *dir, const char *stem);
/* Removes the directory and everything in it. */
void rome_fixture_remove(const char *dir);

#endif
