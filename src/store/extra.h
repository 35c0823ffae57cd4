/*
 * extra.h: the encoding of an interaction chunk's "extra" columns.
 *
 * Columns other than USER_ID, ITEM_ID, TIMESTAMP, EVENT_TYPE and EVENT_VALUE
 * (IMPRESSION, RECOMMENDATION_ID, context fields) are kept as their CSV text,
 * column by column: for each column a little-endian u32 byte length, then one
 * value per row as varint(len + 1) followed by the bytes, 0 meaning null.
 */
#ifndef SAVOR_EXTRA_H
#define SAVOR_EXTRA_H

#include "common/base.h"
#include "common/buf.h"

/* Append one value (NULL = null) to a column stream. */
enum rc extra_put(struct buf *column, const char *value, size_t len);

/* Append a finished column stream to the chunk blob. */
enum rc extra_add_column(struct buf *blob, const struct buf *column);

/*
 * Iterate over a chunk blob: extra_column(blob, len, k, ...) gives column k's
 * stream; extra_next() reads the next value, returning false at the end or
 * on corrupt data.
 */
bool extra_column(const void *blob, size_t len, size_t k, const char **stream, size_t *stream_len);
bool extra_next(const char **p, const char *end, const char **value, size_t *len, bool *is_null);

#endif
