#include "px_error.h"

#include <stdio.h>

int px_error_vset(px_error *err, int code, const char *fmt, va_list ap) {
    if (err) {
        err->code = code ? code : 1;
        vsnprintf(err->msg, sizeof err->msg, fmt, ap);
    }
    return -1;
}

int px_error_set(px_error *err, int code, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    px_error_vset(err, code, fmt, ap);
    va_end(ap);
    return -1;
}

void px_error_clear(px_error *err) {
    if (err) {
        err->code = 0;
        err->msg[0] = '\0';
    }
}
