#include "log.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>
#include <xxhash.h>

#define TRUNCATED_MARK " truncated=true"

struct px_log {
    int fd;
    px_log_level level;
    uint64_t user_hash_seed;
};

px_log *px_log_new(int fd, px_log_level level, uint64_t user_hash_seed, px_error *err) {
    if (fd < 0) {
        px_error_set(err, PX_EINVAL, "log: invalid file descriptor %d", fd);
        return NULL;
    }
    if (!px_log_level_name(level)) {
        px_error_set(err, PX_EINVAL,
                     "log: invalid level %d (expected 3 err, 4 warning, 6 info or 7 debug)",
                     (int)level);
        return NULL;
    }
    px_log *log = malloc(sizeof *log);
    if (!log) {
        px_error_set(err, PX_ENOMEM, "log: out of memory");
        return NULL;
    }
    *log = (px_log){.fd = fd, .level = level, .user_hash_seed = user_hash_seed};
    return log;
}

void px_log_free(px_log *log) { free(log); }

void px_log_set_level(px_log *log, px_log_level level) {
    if (log && px_log_level_name(level)) log->level = level;
}

bool px_log_enabled(const px_log *log, px_log_level level) { return log && level <= log->level; }

const char *px_log_level_name(px_log_level level) {
    switch (level) {
    case PX_LOG_ERR: return "err";
    case PX_LOG_WARNING: return "warning";
    case PX_LOG_INFO: return "info";
    case PX_LOG_DEBUG: return "debug";
    }
    return NULL;
}

int px_log_level_parse(const char *name, px_log_level *out, px_error *err) {
    static const struct {
        const char *name;
        px_log_level level;
    } names[] = {{"err", PX_LOG_ERR},      {"error", PX_LOG_ERR}, {"warning", PX_LOG_WARNING},
                 {"warn", PX_LOG_WARNING}, {"info", PX_LOG_INFO}, {"debug", PX_LOG_DEBUG}};
    for (size_t i = 0; name && i < sizeof names / sizeof names[0]; i++) {
        if (!strcasecmp(name, names[i].name)) {
            *out = names[i].level;
            return 0;
        }
    }
    return px_error_set(err, PX_EINVAL,
                        "log: unknown level '%s' (expected err, warning, info or debug)",
                        name ? name : "(null)");
}

/* A bounded line under construction: an append that does not fit sets `full` and writes nothing
 * more, so callers can roll back to the last whole field. */
typedef struct line {
    char *p;
    size_t len, cap;
    bool full;
} line;

static void line_put(line *l, const char *s, size_t n) {
    if (l->full || l->len + n > l->cap) {
        l->full = true;
        return;
    }
    memcpy(l->p + l->len, s, n);
    l->len += n;
}

static void line_puts(line *l, const char *s) { line_put(l, s, strlen(s)); }

static bool needs_quotes(const char *s) {
    if (!*s) return true;
    for (; *s; s++)
        if ((unsigned char)*s <= ' ' || *s == '=' || *s == '"' || *s == 0x7f) return true;
    return false;
}

static void line_put_value(line *l, const char *s) {
    if (!s) s = "";
    if (!needs_quotes(s)) {
        line_puts(l, s);
        return;
    }
    line_puts(l, "\"");
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        char esc[8];
        if (c == '"' || c == '\\') {
            esc[0] = '\\';
            esc[1] = (char)c;
            line_put(l, esc, 2);
        } else if (c == '\n')
            line_puts(l, "\\n");
        else if (c == '\t')
            line_puts(l, "\\t");
        else if (c == '\r')
            line_puts(l, "\\r");
        else if (c < ' ' || c == 0x7f) {
            snprintf(esc, sizeof esc, "\\x%02x", c);
            line_puts(l, esc);
        } else
            line_put(l, (const char *)&c, 1);
    }
    line_puts(l, "\"");
}

static void line_put_field(line *l, const px_log *log, px_log_level level, const px_log_field *f) {
    char num[64];
    line_puts(l, " ");
    line_puts(l, f->key ? f->key : "field");
    line_puts(l, "=");
    switch (f->kind) {
    case PX_LOG_KIND_STR: line_put_value(l, f->v.s); return;
    case PX_LOG_KIND_INT: snprintf(num, sizeof num, "%" PRId64, f->v.i); break;
    case PX_LOG_KIND_UINT: snprintf(num, sizeof num, "%" PRIu64, f->v.u); break;
    case PX_LOG_KIND_DOUBLE: snprintf(num, sizeof num, "%.6g", f->v.d); break;
    case PX_LOG_KIND_BOOL: snprintf(num, sizeof num, "%s", f->v.b ? "true" : "false"); break;
    case PX_LOG_KIND_USER:
        if (level >= PX_LOG_DEBUG || !f->v.s) {
            line_put_value(l, f->v.s);
            return;
        }
        snprintf(num, sizeof num, "h:%016" PRIx64,
                 (uint64_t)XXH64(f->v.s, strlen(f->v.s), log->user_hash_seed));
        break;
    default: snprintf(num, sizeof num, "?"); break;
    }
    line_puts(l, num);
}

/* Writes the prefix, msg and as many whole fields as fit in `cap` bytes; returns true when a field
 * (or msg) had to be left out. */
static bool line_build(line *l, const px_log *log, px_log_level level, const char *msg,
                       const px_log_field *fields, size_t n) {
    char head[32];
    snprintf(head, sizeof head, "<%d>level=%s", (int)level, px_log_level_name(level));
    line_puts(l, head);
    size_t whole = l->len;
    line_puts(l, " msg=");
    line_put_value(l, msg);
    for (size_t i = 0; !l->full && i < n; i++) {
        whole = l->len;
        line_put_field(l, log, level, &fields[i]);
    }
    if (!l->full) return false;
    l->len = whole;
    l->full = false;
    return true;
}

size_t px_log_format(const px_log *log, px_log_level level, const char *msg,
                     const px_log_field *fields, size_t n, char *buf, size_t size) {
    if (!px_log_enabled(log, level) || !px_log_level_name(level) || !buf) return 0;
    if (size > PX_LOG_LINE_MAX + 1) size = PX_LOG_LINE_MAX + 1;
    size_t reserve = strlen(TRUNCATED_MARK) + 2; /* the mark, the newline and the NUL */
    if (size < reserve + 32) return 0;
    /* First try the whole line (room for newline and NUL); if it does not fit, build it again with
     * room kept for the truncation mark. */
    line l = {.p = buf, .cap = size - 2};
    if (line_build(&l, log, level, msg, fields, n)) {
        l = (line){.p = buf, .cap = size - reserve};
        line_build(&l, log, level, msg, fields, n);
        l.cap = size - 2;
        line_puts(&l, TRUNCATED_MARK);
    }
    buf[l.len++] = '\n';
    buf[l.len] = '\0';
    return l.len;
}

int px_log_write(const px_log *log, px_log_level level, const char *msg, const px_log_field *fields,
                 size_t n) {
    char buf[PX_LOG_LINE_MAX + 1];
    size_t len = px_log_format(log, level, msg, fields, n, buf, sizeof buf);
    if (len == 0) return -1;
    /* One write per line so that lines from several writers never interleave; retried only on
     * EINTR, a short write to a pipe of this size does not happen (PIPE_BUF is 4096). */
    ssize_t w;
    do w = write(log->fd, buf, len);
    while (w < 0 && errno == EINTR);
    return w == (ssize_t)len ? 0 : -1;
}
