/* log — structured log lines on a file descriptor (stderr), readable by journald and by humans.
 *
 * One line per call, written with a single write(2):
 *
 *     <6>level=info msg="partition assigned" topic=passerelle.profile.v1 partition=3
 *
 * - The `<N>` prefix is the syslog priority that journald reads from a service's stdout/stderr
 *   (SyslogLevelPrefix=yes, the default): 3 err, 4 warning, 6 info, 7 debug. Outside systemd
 *   (containers) `level=` says the same in words.
 * - Fields are key=value (logfmt). A value is quoted when it is empty or holds a space, '=', '"',
 *   or a control character; inside quotes '"' and '\' are backslash-escaped and control
 *   characters are written \n, \t, \r or \xNN. Keys are written as given (code, not data).
 * - A line is at most PX_LOG_LINE_MAX bytes: a longer one is cut at a field boundary if possible
 *   and ends with `truncated=true`.
 *
 * Personal data: a user id is passed as a PX_LOG_USER field. In a line of level info or more
 * severe it is written as `user=h:<16 hex>` — an xxHash64 of the id, keyed by the handle's
 * user_hash_seed, which is enough to follow one person through the logs without naming them; only
 * in debug lines is the id written in full (`user=<id>`). Other personal data (titles, profile
 * content) must not be logged at info level at all: log codes and counts instead.
 *
 * No global state: the daemon creates one px_log and passes it to whoever logs. A px_log is
 * immutable after creation except for px_log_set_level(); px_log_write() only reads it and formats
 * on the stack, so several threads may log through one handle (each line stays whole), provided
 * none calls px_log_set_level() at the same time. */
#ifndef PX_LOG_H
#define PX_LOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "px_error.h"

#define PX_LOG_LINE_MAX 4096

typedef enum px_log_level {
    PX_LOG_ERR = 3,
    PX_LOG_WARNING = 4,
    PX_LOG_INFO = 6,
    PX_LOG_DEBUG = 7,
} px_log_level;

typedef enum px_log_kind {
    PX_LOG_KIND_STR,
    PX_LOG_KIND_INT,
    PX_LOG_KIND_UINT,
    PX_LOG_KIND_DOUBLE,
    PX_LOG_KIND_BOOL,
    PX_LOG_KIND_USER, /* a user id: hashed unless the line is at debug level */
} px_log_kind;

typedef struct px_log_field {
    const char *key;
    px_log_kind kind;
    union {
        const char *s; /* STR, USER; NULL is written as an empty value */
        int64_t i;
        uint64_t u;
        double d;
        bool b;
    } v;
} px_log_field;

/* Field constructors, for use in the PX_LOG_* macros below. */
#define PX_LOG_STR(k, val) ((px_log_field){.key = (k), .kind = PX_LOG_KIND_STR, .v.s = (val)})
#define PX_LOG_INT(k, val)                                                                         \
    ((px_log_field){.key = (k), .kind = PX_LOG_KIND_INT, .v.i = (int64_t)(val)})
#define PX_LOG_UINT(k, val)                                                                        \
    ((px_log_field){.key = (k), .kind = PX_LOG_KIND_UINT, .v.u = (uint64_t)(val)})
#define PX_LOG_DOUBLE(k, val)                                                                      \
    ((px_log_field){.key = (k), .kind = PX_LOG_KIND_DOUBLE, .v.d = (double)(val)})
#define PX_LOG_BOOL(k, val) ((px_log_field){.key = (k), .kind = PX_LOG_KIND_BOOL, .v.b = (val)})
#define PX_LOG_USER(val)    ((px_log_field){.key = "user", .kind = PX_LOG_KIND_USER, .v.s = (val)})

typedef struct px_log px_log;

/* Creates a logger writing to `fd` (usually STDERR_FILENO; not closed by px_log_free) that drops
 * lines less severe than `level`. `user_hash_seed` keys the user-id hash (take it from the
 * configuration so that hashes cannot be precomputed from a list of ids). */
px_log *px_log_new(int fd, px_log_level level, uint64_t user_hash_seed, px_error *err);
void px_log_free(px_log *log);

void px_log_set_level(px_log *log, px_log_level level);
/* True when a line of this level would be written: lets callers skip building costly fields. */
bool px_log_enabled(const px_log *log, px_log_level level);

/* Parses "err"/"error", "warning"/"warn", "info", "debug" (the `[log] level` setting). */
int px_log_level_parse(const char *name, px_log_level *out, px_error *err);
const char *px_log_level_name(px_log_level level);

/* Writes one line `msg` with n fields (fields may be NULL when n is 0). A NULL log writes nothing.
 * Returns 0, or -1 when the line was filtered out or the write failed (logging never aborts). */
int px_log_write(const px_log *log, px_log_level level, const char *msg, const px_log_field *fields,
                 size_t n);

/* Formats the line px_log_write() would write (without writing it) into buf; returns its length,
 * or 0 when filtered out. For tests and for callers that send lines elsewhere. */
size_t px_log_format(const px_log *log, px_log_level level, const char *msg,
                     const px_log_field *fields, size_t n, char *buf, size_t size);

/* px_log_write with inline fields:
 * PX_LOG_INFOF(log, "partition assigned", PX_LOG_STR("topic", t)). */
#define PX_LOG_FIELDS_(...)                                                                        \
    ((const px_log_field[]){__VA_ARGS__}),                                                         \
        (sizeof((const px_log_field[]){__VA_ARGS__}) / sizeof(px_log_field))
#define PX_LOG_ERRF(log, msg, ...)                                                                 \
    px_log_write((log), PX_LOG_ERR, (msg), PX_LOG_FIELDS_(__VA_ARGS__))
#define PX_LOG_WARNF(log, msg, ...)                                                                \
    px_log_write((log), PX_LOG_WARNING, (msg), PX_LOG_FIELDS_(__VA_ARGS__))
#define PX_LOG_INFOF(log, msg, ...)                                                                \
    px_log_write((log), PX_LOG_INFO, (msg), PX_LOG_FIELDS_(__VA_ARGS__))
#define PX_LOG_DEBUGF(log, msg, ...)                                                               \
    px_log_write((log), PX_LOG_DEBUG, (msg), PX_LOG_FIELDS_(__VA_ARGS__))

#endif
