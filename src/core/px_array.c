#include "px_array.h"

#include <stdint.h>
#include <stdlib.h>

#define PX_ARRAY_FIRST_CAP 8

int px_array_reserve(void **v, size_t *cap, size_t need, size_t elem) {
    if (need <= *cap) return 0;
    if (!elem || need > SIZE_MAX / elem) return -1;
    size_t ncap = *cap ? *cap : PX_ARRAY_FIRST_CAP;
    /* Doubling past SIZE_MAX / elem would overflow: then exactly what is needed. */
    while (ncap < need) ncap = ncap <= SIZE_MAX / elem / 2 ? ncap * 2 : need;
    void *nv = realloc(*v, ncap * elem);
    if (!nv) return -1;
    *v = nv;
    *cap = ncap;
    return 0;
}
