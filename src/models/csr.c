/*
 * csr.c: building and transposing CSR matrices (counting sort, O(nnz)).
 */
#include "common/base.h"
#include "models/csr.h"

static struct csr *csr_alloc(uint32_t nrows, uint32_t ncols, uint64_t nnz)
{
    struct csr *m = xcalloc(1, sizeof(*m));
    m->nrows = nrows;
    m->ncols = ncols;
    m->nnz = nnz;
    m->indptr = xcalloc((size_t)nrows + 1, sizeof(*m->indptr));
    m->indices = xmallocarray(nnz ? nnz : 1, sizeof(*m->indices));
    m->values = xmallocarray(nnz ? nnz : 1, sizeof(*m->values));
    return m;
}

struct entry {
    uint32_t col;
    uint32_t pos; /* position in the row's input, so equal columns keep their order */
    float val;
};

/* By column, then input order: duplicates are summed in input order, deterministically. */
static int by_col(const void *a, const void *b)
{
    const struct entry *x = a, *y = b;
    if (x->col != y->col) return x->col < y->col ? -1 : 1;
    return x->pos < y->pos ? -1 : x->pos > y->pos;
}

/* Bucket entries by row (stable), then sort and merge each row by column. */
struct csr *csr_from_triplets(uint32_t nrows, uint32_t ncols, const uint32_t *rows,
                              const uint32_t *cols, const float *values, uint64_t n)
{
    uint64_t *count = xcalloc((size_t)nrows + 1, sizeof(*count));
    for (uint64_t i = 0; i < n; i++)
        count[rows[i] + 1]++;
    for (uint32_t r = 0; r < nrows; r++)
        count[r + 1] += count[r];
    uint32_t *tcol = xmallocarray(n ? n : 1, sizeof(*tcol));
    float *tval = xmallocarray(n ? n : 1, sizeof(*tval));
    uint64_t *next = xmallocarray((size_t)nrows + 1, sizeof(*next));
    memcpy(next, count, ((size_t)nrows + 1) * sizeof(*next));
    for (uint64_t i = 0; i < n; i++) {
        uint64_t at = next[rows[i]]++;
        tcol[at] = cols[i];
        tval[at] = values[i];
    }
    free(next);

    /* Per row: sort by column (insertion sort when short), then merge duplicates. */
    uint64_t nnz = 0;
    struct entry *tmp = NULL;
    size_t tmp_alloc = 0;
    for (uint32_t r = 0; r < nrows; r++) {
        uint64_t lo = count[r], hi = count[r + 1];
        if (hi - lo > 32) {
            size_t len = (size_t)(hi - lo);
            if (len > tmp_alloc) {
                tmp_alloc = len;
                tmp = xreallocarray(tmp, tmp_alloc, sizeof(*tmp));
            }
            for (size_t i = 0; i < len; i++) {
                tmp[i].col = tcol[lo + i];
                tmp[i].pos = (uint32_t)i;
                tmp[i].val = tval[lo + i];
            }
            qsort(tmp, len, sizeof(*tmp), by_col);
            for (size_t i = 0; i < len; i++) {
                tcol[lo + i] = tmp[i].col;
                tval[lo + i] = tmp[i].val;
            }
        }
        for (uint64_t i = lo + 1; i < hi && hi - lo <= 32; i++) {
            uint32_t c = tcol[i];
            float v = tval[i];
            uint64_t j = i;
            while (j > lo && tcol[j - 1] > c) {
                tcol[j] = tcol[j - 1];
                tval[j] = tval[j - 1];
                j--;
            }
            tcol[j] = c;
            tval[j] = v;
        }
        for (uint64_t i = lo; i < hi; i++)
            if (i == lo || tcol[i] != tcol[i - 1]) nnz++;
    }
    free(tmp);
    struct csr *m = csr_alloc(nrows, ncols, nnz);
    uint64_t k = 0;
    for (uint32_t r = 0; r < nrows; r++) {
        m->indptr[r] = k;
        for (uint64_t i = count[r]; i < count[r + 1]; i++) {
            if (i > count[r] && tcol[i] == tcol[i - 1]) {
                m->values[k - 1] += tval[i];
            } else {
                m->indices[k] = tcol[i];
                m->values[k] = tval[i];
                k++;
            }
        }
    }
    m->indptr[nrows] = k;
    free(count);
    free(tcol);
    free(tval);
    return m;
}

struct csr *csr_transpose(const struct csr *m)
{
    struct csr *t = csr_alloc(m->ncols, m->nrows, m->nnz);
    for (uint64_t i = 0; i < m->nnz; i++)
        t->indptr[m->indices[i] + 1]++;
    for (uint32_t c = 0; c < m->ncols; c++)
        t->indptr[c + 1] += t->indptr[c];
    uint64_t *next = xmallocarray((size_t)m->ncols + 1, sizeof(*next));
    memcpy(next, t->indptr, ((size_t)m->ncols + 1) * sizeof(*next));
    /* Rows are visited in order, so each transposed row comes out sorted. */
    for (uint32_t r = 0; r < m->nrows; r++) {
        for (uint64_t i = m->indptr[r]; i < m->indptr[r + 1]; i++) {
            uint64_t at = next[m->indices[i]]++;
            t->indices[at] = r;
            t->values[at] = m->values[i];
        }
    }
    free(next);
    return t;
}

void csr_free(struct csr *m)
{
    if (!m) return;
    free(m->indptr);
    free(m->indices);
    free(m->values);
    free(m);
}
