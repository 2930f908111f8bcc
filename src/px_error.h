/* px_error — errors as values with a human string.
 *
 * Every library function that can fail takes a `px_error *` (which may be NULL when the caller
 * does not care) and fills it on failure. The message names what failed and what was expected
 * (file, line, field, event…). The struct is plain data: no allocation, no ownership. */
#ifndef PX_ERROR_H
#define PX_ERROR_H

#include <stdarg.h>

#define PX_ERROR_MSG_MAX 512

typedef struct px_error {
    int code;                    /* 0 = no error; otherwise a module-defined non-zero value */
    char msg[PX_ERROR_MSG_MAX];
} px_error;

/* Sets err (if not NULL) and returns -1 so that callers can `return px_error_set(...)`. */
int px_error_set(px_error *err, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
int px_error_vset(px_error *err, int code, const char *fmt, va_list ap) __attribute__((format(printf, 3, 0)));
void px_error_clear(px_error *err);

#endif
