#ifndef PX_CODE_TABLE_H
#define PX_CODE_TABLE_H
/* code_table: finds a ROME entity by its code_ogr in one probe of a hash table, where a binary
 * search over the entity array (rome_item_find…) waits on a dozen scattered cache lines.
 *
 * Built over an array whose elements each start with their uint32 code_ogr (rome_item,
 * rome_appellation…); it keeps positions, not the array, and never changes after the build, so
 * any number of threads may read one table. Pure logic: no I/O. */

#include <stddef.h>
#include <stdint.h>

#include "px_error.h"

typedef struct code_table code_table;

/* Indexes the n elements of `elem` bytes at base (codes distinct). Returns NULL with err set when
 * out of memory. Free with code_table_free. */
code_table *code_table_build(const void *base, uint32_t n, size_t elem, px_error *err);

/* The position of the element whose code_ogr is code, or UINT32_MAX (ROME_NONE) when none is. */
uint32_t code_table_find(const code_table *t, uint32_t code);

/* Asks the CPU for the slot where code_table_find(t, code) starts, so that a later find of a code
 * known early (a batch's) does not wait on memory. Changes nothing. */
void code_table_prefetch(const code_table *t, uint32_t code);

void code_table_free(code_table *t);

#endif
