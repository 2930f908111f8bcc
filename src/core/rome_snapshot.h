/* rome_snapshot — the rome_index as a versioned binary image.
 *
 * Layout (little-endian): a header {magic "PXROME\0\1", format version, ROME major/version,
 * section count, payload size, entity counts, XXH3-64 checksum of the whole image}, a section table
 * {id, offset, size, element count}, then the sections, each 8-byte aligned: the entity arrays,
 * the CSR arrays and the string pool, exactly as they lie in memory. Loading is one read plus
 * validation (checksum, then every offset, id and string reference is bounds-checked), after which
 * the arrays are used in place: no parsing, no allocation per entity.
 *
 * A truncated, corrupted, foreign or wrong-format-version image is refused with an error; it is
 * never trusted. Ownership: encode returns a malloc'd buffer the caller frees; decode/load return
 * an index the caller releases with rome_index_free. */
#ifndef ROME_SNAPSHOT_H
#define ROME_SNAPSHOT_H

#include <stddef.h>

#include "px_error.h"
#include "rome_index.h"

/* 2: fiches gained parent, texts and RIASEC; tags and their links were added.
 * 3: the ESCO crosswalk (appellation and fiche → ESCO links, their counts). */
#define ROME_SNAPSHOT_FORMAT 3

int rome_snapshot_encode(const rome_index *idx, void **out, size_t *out_len, px_error *err);
/* Copies buf; the caller keeps ownership of it. */
rome_index *rome_snapshot_decode(const void *buf, size_t len, px_error *err);
/* Takes ownership of a malloc'd buffer (freed by rome_index_free, or here on error). */
rome_index *rome_snapshot_adopt(void *buf, size_t len, px_error *err);

int rome_snapshot_write(const rome_index *idx, const char *path, px_error *err);
rome_index *rome_snapshot_load(const char *path, px_error *err);

#endif
