#include "px_error.h"

#include <stdio.h>

#include "utf8.h"

int px_error_vset(px_error *err, px_code code, const char *fmt, va_list ap) {
    if (err) {
        err->code = code ? code : PX_EINVAL; /* an error is never PX_OK */
        err->reason = 0;
        /* A message cut at the buffer's end must not end inside a character: it reaches
         * terminals, logs and dead letters, all UTF-8. */
        int n = vsnprintf(err->msg, sizeof err->msg, fmt, ap);
        if (n >= (int)sizeof err->msg)
            err->msg[utf8_cut(err->msg, sizeof err->msg - 1, sizeof err->msg - 1)] = '\0';
    }
    return -1;
}

int px_error_set(px_error *err, px_code code, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    px_error_vset(err, code, fmt, ap);
    va_end(ap);
    return -1;
}

int px_error_set_reason(px_error *err, px_code code, int reason, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    px_error_vset(err, code, fmt, ap);
    va_end(ap);
    if (err) err->reason = reason;
    return -1;
}

void px_error_clear(px_error *err) {
    if (err) {
        err->code = PX_OK;
        err->reason = 0;
        err->msg[0] = '\0';
    }
}

bool px_code_retriable(px_code code) { return code == PX_ENOMEM || code == PX_EUNAVAILABLE; }
