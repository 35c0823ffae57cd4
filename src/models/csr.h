/*
 * csr.h: compressed sparse row matrices of float weights, the form the
 * training engine reads interactions in (users x items, one weight per
 * user-item pair after event weighting).
 */
#ifndef SAVOR_CSR_H
#define SAVOR_CSR_H

#include "common/base.h"

struct csr {
    uint32_t nrows, ncols;
    uint64_t nnz;
    uint64_t *indptr;  /* nrows + 1 offsets into indices/values */
    uint32_t *indices; /* column of each entry, ascending within a row */
    float *values;     /* weight of each entry (> 0) */
};

/*
 * Build from unsorted triplets (row, col, value); duplicates are summed.
 * The caller frees with csr_free().
 */
struct csr *csr_from_triplets(uint32_t nrows, uint32_t ncols, const uint32_t *rows,
                              const uint32_t *cols, const float *values, uint64_t n);
/* The transpose (items x users). */
struct csr *csr_transpose(const struct csr *m);
void csr_free(struct csr *m);

#endif
