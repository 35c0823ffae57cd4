/*
 * rowpipe.h: CSV parsing on a second thread, handed over in batches.
 *
 * The importer's own work (checking values, mapping IDs, writing chunks)
 * and CSV parsing each take about half of an import's time, so a reader
 * thread parses batch n+1 while the importer works on batch n. Rows come
 * out in file order, and a parse error comes out only after every row
 * before it, so the first error in the file is the one reported.
 */
#ifndef SAVOR_ROWPIPE_H
#define SAVOR_ROWPIPE_H

#include "common/base.h"
#include "import/csv.h"

struct row_batch {
    size_t nrows;
    size_t ncols;
    const struct csv_field *fields; /* nrows * ncols, row-major; NUL-terminated */
    const uint64_t *lines;          /* line on which each row starts */
    const uint32_t *hashes;         /* nrows * ncols strmap_hash()es of the hashed columns */
    uint64_t input_offset;          /* input bytes consumed after this batch */
};

struct rowpipe;

/*
 * Start a reader thread on 'r' (which it then owns until rowpipe_stop()),
 * expecting 'ncols' fields per row. Columns k with hash_cols[k] set get their
 * strmap_hash() computed on the reader thread too. 'offset_fn(ctx)' reports
 * input progress.
 */
struct rowpipe *rowpipe_start(struct csv_reader *r, size_t ncols, const bool *hash_cols,
                              uint64_t (*offset_fn)(void *ctx), void *ctx);

/*
 * The next batch, valid until the next call. At the end of input returns
 * RC_OK with *out == NULL; on a parse error returns it (with 'e' filled)
 * after all the rows that precede it.
 */
enum rc rowpipe_next(struct rowpipe *p, const struct row_batch **out, struct err *e);

/* Stop the reader (early or at the end), join it and free everything. */
void rowpipe_stop(struct rowpipe *p);

#endif
