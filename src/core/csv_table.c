#include "csv_table.h"

#include <csv.h>
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "px_array.h"
#include "utf8.h"

struct csv_table {
    char *path;
    char **column_names; /* the required columns, as asked */
    size_t n_columns;
    size_t *column_at; /* required column → position in the header */
    size_t n_header;   /* fields in the header */
    char *text;        /* every field, NUL-terminated, back to back */
    size_t text_len, text_cap;
    size_t *fields; /* offsets into text, n_header per record (header excluded) */
    size_t n_fields, fields_cap;
    uint32_t *lines; /* line each record ends on */
    size_t n_rows, rows_cap;
};

/* State shared with libcsv's callbacks while parsing. */
typedef struct parse_state {
    csv_table *t;
    uint32_t line;        /* physical line being fed to the parser */
    size_t record_fields; /* fields seen in the current record */
    size_t record_start;  /* n_fields at the start of the current record */
    int header_done;
    uint32_t preamble_left; /* records that may still be skipped before the header */
    uint32_t first_line;    /* line on which the current record's first field ends */
    char **header;          /* header names while reading the header */
    size_t n_header, header_cap;
    int failed;
    px_error *err;
} parse_state;

static void on_field(void *data, size_t len, void *ctx) {
    parse_state *st = ctx;
    csv_table *t = st->t;
    if (st->failed) return;
    if (!st->header_done) {
        if (st->n_header == 0) st->first_line = st->line;
        if (px_array_reserve((void **)&st->header, &st->header_cap, st->n_header + 1,
                             sizeof *st->header) ||
            !(st->header[st->n_header] = strndup(data ? data : "", len))) {
            st->failed = px_error_set(st->err, PX_ENOMEM, "%s: out of memory", t->path);
            return;
        }
        st->n_header++;
        return;
    }
    if (px_array_reserve((void **)&t->text, &t->text_cap, t->text_len + len + 1, 1) ||
        px_array_reserve((void **)&t->fields, &t->fields_cap, t->n_fields + 1, sizeof *t->fields)) {
        st->failed = px_error_set(st->err, PX_ENOMEM, "%s: out of memory", t->path);
        return;
    }
    t->fields[t->n_fields++] = t->text_len;
    if (len) memcpy(t->text + t->text_len, data, len);
    t->text[t->text_len + len] = '\0';
    t->text_len += len + 1;
    st->record_fields++;
}

static void resolve_columns(parse_state *st) {
    csv_table *t = st->t;
    for (size_t c = 0; c < t->n_columns; c++) {
        size_t h = 0;
        while (h < st->n_header && strcmp(st->header[h], t->column_names[c]) != 0) h++;
        if (h == st->n_header) {
            st->failed = px_error_set(st->err, PX_EINVAL,
                                      "%s:%u: header has no column '%s' (expected among the "
                                      "header's %zu columns)",
                                      t->path, st->first_line, t->column_names[c], st->n_header);
            return;
        }
        t->column_at[c] = h;
    }
    t->n_header = st->n_header;
}

static bool names_every_column(const parse_state *st) {
    for (size_t c = 0; c < st->t->n_columns; c++) {
        size_t h = 0;
        while (h < st->n_header && strcmp(st->header[h], st->t->column_names[c]) != 0) h++;
        if (h == st->n_header) return false;
    }
    return true;
}

static void on_record(int terminator, void *ctx) {
    (void)terminator;
    parse_state *st = ctx;
    csv_table *t = st->t;
    if (st->failed) return;
    if (!st->header_done) {
        if (st->preamble_left && !names_every_column(st)) {
            st->preamble_left--; /* a preamble record: dropped */
            for (size_t i = 0; i < st->n_header; i++) free(st->header[i]);
            st->n_header = 0;
            return;
        }
        st->header_done = 1;
        resolve_columns(st);
        st->record_start = t->n_fields;
        st->record_fields = 0;
        return;
    }
    if (st->record_fields != t->n_header) {
        st->failed = px_error_set(st->err, PX_EINVAL,
                                  "%s:%u: record has %zu fields, expected %zu as in the header",
                                  t->path, st->line, st->record_fields, t->n_header);
        return;
    }
    if (px_array_reserve((void **)&t->lines, &t->rows_cap, t->n_rows + 1, sizeof *t->lines)) {
        st->failed = px_error_set(st->err, PX_ENOMEM, "%s: out of memory", t->path);
        return;
    }
    t->lines[t->n_rows++] = st->line;
    st->record_start = t->n_fields;
    st->record_fields = 0;
}

static char *read_file(const char *path, size_t *len, px_error *err) {
    FILE *f = fopen(path, "rb");
    if (!f) {
        px_error_set(err, PX_EIO, "%s: cannot open: %s", path, strerror(errno));
        return NULL;
    }
    char *buf = NULL;
    size_t cap = 0, n = 0;
    for (;;) {
        if (px_array_reserve((void **)&buf, &cap, n + 65536, 1)) {
            px_error_set(err, PX_ENOMEM, "%s: out of memory", path);
            break;
        }
        size_t got = fread(buf + n, 1, cap - n, f);
        n += got;
        if (got == 0) break;
    }
    int bad = ferror(f);
    fclose(f);
    if (bad || !buf) {
        if (bad) px_error_set(err, PX_EIO, "%s: read error", path);
        free(buf);
        return NULL;
    }
    *len = n;
    return buf;
}

/* Reports the line and column of the first byte that is not UTF-8. */
static int check_utf8(const char *path, const char *buf, size_t len, px_error *err) {
    size_t bad = 0;
    if (utf8_valid(buf, len, &bad)) return 0;
    uint32_t line = 1;
    size_t line_start = 0;
    for (size_t i = 0; i < bad; i++)
        if (buf[i] == '\n') line++, line_start = i + 1;
    return px_error_set(
        err, PX_EINVAL,
        "%s:%u: byte %zu of the line (0x%02x) is not valid UTF-8 (the export must be UTF-8)", path,
        line, bad - line_start + 1, (unsigned char)buf[bad]);
}

void csv_table_free(csv_table *t) {
    if (!t) return;
    free(t->path);
    for (size_t i = 0; i < t->n_columns; i++) free(t->column_names[i]);
    free(t->column_names);
    free(t->column_at);
    free(t->text);
    free(t->fields);
    free(t->lines);
    free(t);
}

static csv_table *table_new(const char *path, const char *const *columns, size_t n_columns) {
    csv_table *t = calloc(1, sizeof *t);
    if (!t) return NULL;
    t->n_columns = n_columns;
    t->path = strdup(path);
    t->column_names = calloc(n_columns ? n_columns : 1, sizeof *t->column_names);
    t->column_at = calloc(n_columns ? n_columns : 1, sizeof *t->column_at);
    if (!t->path || !t->column_names || !t->column_at) goto fail;
    for (size_t i = 0; i < n_columns; i++)
        if (!(t->column_names[i] = strdup(columns[i]))) goto fail;
    return t;
fail:
    csv_table_free(t);
    return NULL;
}

/* Feeds the parser one physical line at a time so that callbacks know the current line. */
static int parse_lines(struct csv_parser *parser, parse_state *st, const char *buf, size_t len) {
    size_t pos = 0;
    st->line = 1;
    while (pos < len && !st->failed) {
        const char *nl = memchr(buf + pos, '\n', len - pos);
        size_t chunk = nl ? (size_t)(nl - (buf + pos)) + 1 : len - pos;
        if (csv_parse(parser, buf + pos, chunk, on_field, on_record, st) != chunk) {
            if (!st->failed)
                px_error_set(st->err, PX_EINVAL,
                             "%s:%u: malformed CSV (%s: a quote inside an unquoted field, or text "
                             "after a closing quote)",
                             st->t->path, st->line, csv_strerror(csv_error(parser)));
            return -1;
        }
        pos += chunk;
        if (nl) st->line++;
    }
    if (st->failed) return -1;
    if (csv_fini(parser, on_field, on_record, st) != 0) {
        return px_error_set(st->err, PX_EINVAL, "%s:%u: unterminated quoted field at end of file",
                            st->t->path, st->line);
    }
    return st->failed ? -1 : 0;
}

csv_table *csv_table_read(const char *path, const char *const *columns, size_t n_columns,
                          px_error *err) {
    return csv_table_read_opts(path, columns, n_columns, NULL, err);
}

csv_table *csv_table_read_opts(const char *path, const char *const *columns, size_t n_columns,
                               const csv_table_options *opts, px_error *err) {
    size_t len = 0;
    char *buf = read_file(path, &len, err);
    if (!buf) return NULL;
    csv_table *t = NULL;
    if (len == 0) {
        px_error_set(err, PX_EINVAL,
                     "%s: file is empty (expected a header line naming the columns)", path);
        goto done;
    }
    if (check_utf8(path, buf, len, err)) goto done;
    if (!(t = table_new(path, columns, n_columns))) {
        px_error_set(err, PX_ENOMEM, "%s: out of memory", path);
        goto done;
    }
    struct csv_parser parser;
    if (csv_init(&parser, CSV_STRICT | CSV_STRICT_FINI) != 0) {
        px_error_set(err, PX_EINVAL, "%s: cannot initialise the CSV parser", path);
        csv_table_free(t);
        t = NULL;
        goto done;
    }
    parse_state st = {.t = t, .err = err, .preamble_left = opts ? opts->max_preamble : 0};
    int rc = parse_lines(&parser, &st, buf, len);
    csv_free(&parser);
    if (rc == 0 && !st.header_done && opts && opts->max_preamble) {
        char names[256] = "";
        for (size_t i = 0, at = 0; i < n_columns && at < sizeof names; i++)
            at += (size_t)snprintf(names + at, sizeof names - at, "%s'%s'", i ? ", " : "",
                                   columns[i]);
        rc = px_error_set(err, PX_EINVAL, "%s: no header line naming the columns %s", path, names);
    } else if (rc == 0 && !st.header_done) {
        rc = px_error_set(err, PX_EINVAL, "%s: no header line", path);
    }
    for (size_t i = 0; i < st.n_header; i++) free(st.header[i]);
    free(st.header);
    if (rc != 0) {
        csv_table_free(t);
        t = NULL;
    }
done:
    free(buf);
    return t;
}

size_t csv_table_rows(const csv_table *t) { return t->n_rows; }

const char *csv_table_field(const csv_table *t, size_t row, size_t col) {
    return t->text + t->fields[row * t->n_header + t->column_at[col]];
}

uint32_t csv_table_line(const csv_table *t, size_t row) { return t->lines[row]; }
const char *csv_table_path(const csv_table *t) { return t->path; }

int csv_table_field_error(const csv_table *t, size_t row, size_t col, px_error *err,
                          const char *fmt, ...) {
    char what[PX_ERROR_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    return px_error_set(err, PX_EINVAL, "%s:%u: column '%s': %s", t->path, t->lines[row],
                        t->column_names[col], what);
}

int csv_table_u32(const csv_table *t, size_t row, size_t col, uint32_t *out, px_error *err) {
    const char *s = csv_table_field(t, row, col);
    uint64_t v = 0;
    if (!*s)
        return csv_table_field_error(t, row, col, err, "empty, expected an unsigned integer code");
    for (const char *p = s; *p; p++) {
        if (*p < '0' || *p > '9' || v > UINT32_MAX)
            return csv_table_field_error(t, row, col, err,
                                         "'%.40s' is not an unsigned integer code", s);
        v = v * 10 + (uint64_t)(*p - '0');
    }
    if (v >= UINT32_MAX)
        return csv_table_field_error(t, row, col, err,
                                     "'%.40s' is out of range (expected < 2^32-1)", s);
    *out = (uint32_t)v;
    return 0;
}
