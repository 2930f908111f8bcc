/* px_array — growing a heap array: the one capacity-doubling routine of the project.
 *
 * Pure (libc only), stateless, thread-safe on distinct arrays. */
#ifndef PX_ARRAY_H
#define PX_ARRAY_H

#include <stddef.h>

/* Makes *v (an array of elements of `elem` bytes, with room for *cap of them; NULL and 0 at
 * first) hold at least `need` elements: doubles the capacity (from 8) until it does, then
 * reallocs. Elements already there are kept; new room is uninitialised. Returns 0, or -1 when
 * out of memory or when need * elem does not fit in a size_t; *v and *cap are then unchanged
 * (and *v still owned by the caller). */
int px_array_reserve(void **v, size_t *cap, size_t need, size_t elem);

#endif
