/* csv_table — an RFC 4180 CSV file read whole into memory, columns addressed by header name.
 *
 * Parsing is libcsv's (strict mode: quoted fields with embedded commas, quotes and newlines).
 * On top of it this module adds what a referential loader needs to give precise errors: the file
 * must be valid UTF-8, must not be empty, must have every required column in its header (in any
 * order; extra columns are ignored), and every record must have as many fields as the header.
 * The header is the first record, unless the caller allows a preamble (csv_table_options): then
 * it is the first record naming every required column, and the records before it are skipped.
 * Each record remembers the physical line it ends on, so errors can say "file:line: field …".
 *
 * Ownership: csv_table_read() returns a table the caller frees with csv_table_free(); field
 * strings point into the table and live as long as it. Not thread-safe; independent tables are. */
#ifndef CSV_TABLE_H
#define CSV_TABLE_H

#include <stddef.h>
#include <stdint.h>

#include "px_error.h"

typedef struct csv_table csv_table;

/* Reads `path`; `columns` lists the required column names (n_columns of them). Returns NULL with
 * err set ("FILE:LINE: …") on a missing file, empty file, bad UTF-8, parse error (unterminated or
 * misplaced quote), missing column or a record whose field count differs from the header. */
csv_table *csv_table_read(const char *path, const char *const *columns, size_t n_columns,
                          px_error *err);

typedef struct csv_table_options {
    /* Records allowed before the header (a metadata preamble, such as the 16 lines opening the
     * ESCO–ROME crosswalk): the header is the first record that names every required column, and
     * at most this many records before it are skipped unread. 0: the header is the first record. */
    uint32_t max_preamble;
} csv_table_options;

/* csv_table_read with options; opts NULL means all zero (the same as csv_table_read). */
csv_table *csv_table_read_opts(const char *path, const char *const *columns, size_t n_columns,
                               const csv_table_options *opts, px_error *err);
void csv_table_free(csv_table *t);

size_t csv_table_rows(const csv_table *t);
/* Field of required column `col` (index into the `columns` given to csv_table_read) at `row`. */
const char *csv_table_field(const csv_table *t, size_t row, size_t col);
/* Physical line number (1-based, first line of the file = 1) on which record `row` ends. */
uint32_t csv_table_line(const csv_table *t, size_t row);
const char *csv_table_path(const csv_table *t);

/* Reports an error about one field: "PATH:LINE: column 'NAME': <message>". Returns -1. */
int csv_table_field_error(const csv_table *t, size_t row, size_t col, px_error *err,
                          const char *fmt, ...) __attribute__((format(printf, 5, 6)));

/* Parses a field as an unsigned decimal integer < 2^32. An empty field is an error. */
int csv_table_u32(const csv_table *t, size_t row, size_t col, uint32_t *out, px_error *err);

#endif
