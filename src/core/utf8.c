#include "utf8.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

size_t utf8_char_len(const char *s, size_t left) {
    const unsigned char *b = (const unsigned char *)s;
    if (!left) return 0;
    unsigned char c = b[0];
    size_t need;
    uint32_t cp, min;
    if (c < 0x80) return 1;
    if (c >= 0xc2 && c <= 0xdf) {
        need = 1, cp = c & 0x1f, min = 0x80;
    } else if (c >= 0xe0 && c <= 0xef) {
        need = 2, cp = c & 0x0f, min = 0x800;
    } else if (c >= 0xf0 && c <= 0xf4) {
        need = 3, cp = c & 0x07, min = 0x10000;
    } else {
        return 0; /* stray continuation byte, 0xc0/0xc1 (always overlong) or 0xf5.. */
    }
    if (left <= need) return 0;
    for (size_t k = 1; k <= need; k++) {
        if ((b[k] & 0xc0) != 0x80) return 0;
        cp = (cp << 6) | (b[k] & 0x3f);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return 0;
    return need + 1;
}

bool utf8_valid(const char *s, size_t len, size_t *bad_offset) {
    size_t i = 0;
    while (i < len) {
        /* ASCII runs are the common case: skip them without decoding. */
        if ((unsigned char)s[i] < 0x80) {
            i++;
            continue;
        }
        size_t n = utf8_char_len(s + i, len - i);
        if (!n) {
            if (bad_offset) *bad_offset = i;
            return false;
        }
        i += n;
    }
    return true;
}

size_t utf8_cut(const char *s, size_t len, size_t max) {
    const unsigned char *b = (const unsigned char *)s;
    size_t n = len < max ? len : max, p = n;
    while (p > 0 && n - p < 3 && (b[p - 1] & 0xc0) == 0x80) p--;
    if (p == 0 || b[p - 1] < 0xc0) return n; /* at a boundary, or stray continuation bytes */
    size_t need = b[p - 1] >= 0xf0 ? 3 : b[p - 1] >= 0xe0 ? 2 : 1;
    return p + need > n ? p - 1 : n;
}

bool utf8_quote(char *dst, size_t cap, const char *s, size_t len) {
    size_t o = 0, i = 0;
    while (i < len) {
        size_t n = utf8_char_len(s + i, len - i);
        if (n ? o + n >= cap : o + 4 >= cap) break;
        if (n) {
            memcpy(dst + o, s + i, n);
            o += n, i += n;
        } else {
            snprintf(dst + o, 5, "\\x%02X", (unsigned char)s[i]);
            o += 4, i++;
        }
    }
    dst[o] = '\0';
    return i == len;
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
