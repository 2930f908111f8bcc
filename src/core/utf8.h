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

/* Terminal columns the NUL-terminated UTF-8 string s takes, for aligning text: one a character,
 * none for a continuation byte or a combining accent (U+0300..U+036F, a decomposed "é"). Wide
 * (CJK) characters count one: ROME labels have none. */
size_t utf8_columns(const char *s);

#endif
