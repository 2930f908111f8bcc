#include "utf8.h"

#include <stdint.h>

bool utf8_valid(const char *s, size_t len, size_t *bad_offset) {
    const unsigned char *b = (const unsigned char *)s;
    size_t i = 0;
    while (i < len) {
        unsigned char c = b[i];
        size_t need;
        uint32_t cp, min;
        if (c < 0x80) {
            i++;
            continue;
        } else if (c >= 0xc2 && c <= 0xdf) {
            need = 1, cp = c & 0x1f, min = 0x80;
        } else if (c >= 0xe0 && c <= 0xef) {
            need = 2, cp = c & 0x0f, min = 0x800;
        } else if (c >= 0xf0 && c <= 0xf4) {
            need = 3, cp = c & 0x07, min = 0x10000;
        } else {
            goto bad;  /* stray continuation byte, 0xc0/0xc1 (always overlong) or 0xf5.. */
        }
        if (len - i <= need) goto bad;
        for (size_t k = 1; k <= need; k++) {
            if ((b[i + k] & 0xc0) != 0x80) goto bad;
            cp = (cp << 6) | (b[i + k] & 0x3f);
        }
        if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) goto bad;
        i += need + 1;
    }
    return true;
bad:
    if (bad_offset) *bad_offset = i;
    return false;
}

size_t utf8_columns(const char *s) {
    const unsigned char *b = (const unsigned char *)s;
    size_t cols = 0;
    for (size_t i = 0; b[i]; i++) {
        if ((b[i] & 0xc0) == 0x80) continue;
        /* U+0300..U+036F is 0xcc 0x80 .. 0xcd 0xaf */
        bool combining = (b[i] == 0xcc && b[i + 1] >= 0x80 && b[i + 1] <= 0xbf) ||
                         (b[i] == 0xcd && b[i + 1] >= 0x80 && b[i + 1] <= 0xaf);
        cols += !combining;
    }
    return cols;
}
