/*
 * csv.h: a streaming CSV reader (bytes in, records out).
 *
 * Reads the CSV dialect Personalize imports: RFC 4180 (comma separated,
 * fields optionally in double quotes, "" for a quote inside quotes, commas
 * and newlines allowed inside quotes), LF or CRLF line ends, an optional
 * UTF-8 byte order mark, and, as Personalize documents for textual fields,
 * \" and \\ escapes inside quoted fields. Blank lines are skipped.
 *
 * The reader is pure: it pulls bytes through a read callback and never does
 * I/O itself, so the same code parses files, gzip streams, stdin and fuzzer
 * input. Every error names the input, the line and the field.
 */
#ifndef SAVOR_CSV_H
#define SAVOR_CSV_H

#include "common/base.h"

/* Documented limits (docs/datasets.md). */
#define CSV_MAX_FIELD_BYTES  (128u * 1024)  /* one field, after unquoting */
#define CSV_MAX_RECORD_BYTES (1024u * 1024) /* one record, as read */
#define CSV_MAX_FIELDS       256            /* fields in one record */

/*
 * Read up to 'cap' bytes into 'buf'; set *got to the count, 0 at end of
 * input. Return non-zero (and fill 'e') on a read error.
 */
typedef enum rc (*csv_read_fn)(void *ctx, char *buf, size_t cap, size_t *got, struct err *e);

struct csv_field {
    const char *p; /* NUL-terminated; valid until the next csv_next() */
    size_t len;
    bool quoted; /* the field was written in quotes */
};

struct csv_row {
    const struct csv_field *fields;
    size_t n;      /* number of fields; 0 means end of input */
    uint64_t line; /* 1-based line on which the record starts */
};

struct csv_reader;

/* A reader over 'fn'; 'name' (copied) is used in error messages. */
struct csv_reader *csv_reader_new(csv_read_fn fn, void *ctx, const char *name);

/* A reader over an in-memory buffer (borrowed; must outlive the reader). */
struct csv_reader *csv_reader_new_memory(const char *data, size_t len, const char *name);

void csv_reader_free(struct csv_reader *r);

/* Name the columns (copied), so that errors say "field 2 (ITEM_ID)". */
void csv_reader_set_names(struct csv_reader *r, const char *const *names, size_t n);

/*
 * Read the next record into 'row'. At the end of input returns RC_OK with
 * row->n == 0. On malformed input returns RC_PARSE (or RC_LIMIT_EXCEEDED)
 * with a message such as "data.csv:12: field 3: unterminated quoted field".
 * After an error the reader must not be used again.
 */
enum rc csv_next(struct csv_reader *r, struct csv_row *row, struct err *e);

/* RC_INVALID_INPUT naming the line unless 'row' has exactly 'want' fields (as the header). */
enum rc csv_expect_fields(const struct csv_reader *r, const struct csv_row *row, size_t want,
                          struct err *e);

/* Bytes of input consumed so far (for progress reports). */
uint64_t csv_bytes_consumed(const struct csv_reader *r);

/* The name given at creation. */
const char *csv_reader_name(const struct csv_reader *r);

#endif
