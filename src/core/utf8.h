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

/* The length of the well-formed character at s (left bytes available), 0 when it is not one. */
size_t utf8_char_len(const char *s, size_t left);

/* The longest prefix of s[0..len), at most max bytes, that does not end inside a character
 * (nor with a character cut by the end of s): where to cut a text for a message. */
size_t utf8_cut(const char *s, size_t len, size_t max);

/* Copies s[0..len) into dst (cap >= 1 bytes, NUL-terminated), well-formed characters as they
 * are and every other byte as the four characters \xNN, stopping before what does not fit, so
 * dst is always valid UTF-8. Returns true when all of s fit. For messages quoting raw input. */
bool utf8_quote(char *dst, size_t cap, const char *s, size_t len);

/* Terminal columns the NUL-terminated UTF-8 string s takes, for aligning text: one a character,
 * none for a continuation byte or a combining accent (U+0300..U+036F, a decomposed "é"). Wide
 * (CJK) characters count one: ROME labels have none. */
size_t utf8_columns(const char *s);

#endif
