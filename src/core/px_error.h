/* px_error — errors as values: one code vocabulary for the whole project, and a human string.
 *
 * Every library function that can fail takes a `px_error *` (which may be NULL when the caller
 * does not care) and fills it on failure. `code` says what kind of failure it is, in the same
 * words in every module, so a caller decides retry / dead-letter / stop without knowing which
 * module failed; `msg` names what failed and what was expected (file, line, field, event…).
 * A module that owes its callers a finer, documented detail (the event codec's contract
 * `event_reason`) puts it in `reason`, never in `code`. The struct is plain data: no allocation,
 * no ownership; thread-safe as long as each thread fills its own. */
#ifndef PX_ERROR_H
#define PX_ERROR_H

#include <stdarg.h>
#include <stdbool.h>

#define PX_ERROR_MSG_MAX 512

typedef enum px_code {
    PX_OK = 0,
    PX_ENOMEM,       /* out of memory: not the input's fault, retry later */
    PX_EINVAL,       /* an argument, a record or an event is malformed or breaks a rule */
    PX_ELIMIT,       /* an input is over a documented limit */
    PX_ENOTFOUND,    /* a named thing (code, key, file, index) does not exist */
    PX_EIO,          /* a file or a stream cannot be read or written */
    PX_ECONFIG,      /* a configuration key or value is wrong */
    PX_EUNAVAILABLE, /* a peer (Redis, Kafka) is unreachable or timed out: retriable */
    PX_EREFUSED,     /* a peer answered with an error */
    PX_ECLOSED,      /* the handle was closed before the operation completed */
    PX_EFATAL,       /* the component cannot continue (fenced producer, broken invariant) */
    PX_ECONFLICT,    /* data read for a conditional write changed meanwhile: read it again */
} px_code;

typedef struct px_error {
    px_code code; /* PX_OK = no error */
    int reason;   /* a module's documented detail (e.g. event_reason), 0 when it has none */
    char msg[PX_ERROR_MSG_MAX]; /* cut to fit at a character boundary, never inside one */
} px_error;

/* Sets err (if not NULL; reason 0) and returns -1 so callers can `return px_error_set(...)`. */
int px_error_set(px_error *err, px_code code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
int px_error_vset(px_error *err, px_code code, const char *fmt, va_list ap)
    __attribute__((format(printf, 3, 0)));
/* As px_error_set, with the module's detail in err->reason. */
int px_error_set_reason(px_error *err, px_code code, int reason, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
void px_error_clear(px_error *err);

/* True for the codes worth retrying unchanged later (no memory, peer unavailable). */
bool px_code_retriable(px_code code);

#endif
