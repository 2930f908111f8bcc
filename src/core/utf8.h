/* utf8 — strict UTF-8 validation of byte strings coming from the outside.
 *
 * Accepts exactly the well-formed UTF-8 of RFC 3629: no overlong forms, no UTF-16 surrogates
 * (U+D800..U+DFFF), nothing above U+10FFFF. NUL bytes are valid UTF-8; callers that store
 * C strings refuse them separately. Pure, thread-safe. */
#ifndef UTF8_H
#define UTF8_H

#include <stdbool.h>
#include <stddef.h>

/* True when s[0..len) is well-formed UTF-8. When it is not and bad_offset is not NULL, stores
 * the offset of the first byte of the offending sequence. */
bool utf8_valid(const char *s, size_t len, size_t *bad_offset);

#endif
