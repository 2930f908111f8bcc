#include "code_table.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* An entry holds code << 32 | (position + 1); 0 is a free slot. The table is at most half full,
 * so a probe sequence is short. */
struct code_table {
    uint64_t *slots;
    uint32_t mask;
    uint32_t shift; /* 32 - log2(slots) */
};

/* Fibonacci hashing: codes are dense runs of integers, whose low bits alone would cluster. */
static uint32_t slot_of(const code_table *t, uint32_t code) {
    return (uint32_t)((code * 2654435769u) >> t->shift) & t->mask;
}

code_table *code_table_build(const void *base, uint32_t n, size_t elem, px_error *err) {
    code_table *t = calloc(1, sizeof *t);
    uint32_t bits = 4;
    while (bits < 32 && (1ull << bits) < 2ull * n) bits++;
    if (t) t->slots = calloc((size_t)1 << bits, sizeof *t->slots);
    if (!t || !t->slots) {
        code_table_free(t);
        px_error_set(err, PX_ENOMEM, "code_table: out of memory for %u codes", n);
        return NULL;
    }
    t->mask = (uint32_t)((1ull << bits) - 1);
    t->shift = 32 - bits;
    const unsigned char *b = base;
    for (uint32_t k = 0; k < n; k++) {
        uint32_t code;
        memcpy(&code, b + (size_t)k * elem, sizeof code);
        uint32_t h = slot_of(t, code);
        while (t->slots[h]) h = (h + 1) & t->mask;
        t->slots[h] = (uint64_t)code << 32 | (k + 1u);
    }
    return t;
}

uint32_t code_table_find(const code_table *t, uint32_t code) {
    for (uint32_t h = slot_of(t, code);; h = (h + 1) & t->mask) {
        uint64_t e = t->slots[h];
        if (!e) return UINT32_MAX;
        if ((uint32_t)(e >> 32) == code) return (uint32_t)e - 1;
    }
}

void code_table_prefetch(const code_table *t, uint32_t code) {
    __builtin_prefetch(&t->slots[slot_of(t, code)]);
}

void code_table_free(code_table *t) {
    if (!t) return;
    free(t->slots);
    free(t);
}
