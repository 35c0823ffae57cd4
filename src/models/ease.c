/*
 * ease.c: training and scoring the EASE item-item model (see ease.h).
 *
 * Training, for n items:
 *   1. G = X^T X, upper triangle only, as a dense n x n double matrix. Users
 *      with few items (the usual case) contribute the outer product of their
 *      row, O(n_u^2) each, accumulated one row of G at a time through a
 *      transposed index built for a chunk of users at a time (so the writes
 *      stay in cache and the index stays small); a row's items are
 *      ascending, so only j >= i is touched. Users with n / 4 items or more
 *      cost less as a dense rank-k update once there are enough of them, so
 *      they are copied into dense blocks of EASE_DENSE_BATCH rows and added
 *      with cblas_dsyrk (see is_heavy()). Then l2 goes on the diagonal.
 *   2. P = G^-1 by Cholesky (LAPACKE_dpotrf, then LAPACKE_dpotri), in double.
 *      A row-major upper triangle is a column-major lower one, so LAPACK works
 *      on G in place with uplo 'L' and no transposed copy.
 *   3. B_ij = -P_ij / P_jj (i != j), B_jj = 0, written as floats in tiles that
 *      read P's upper triangle once and write both B_ij and B_ji.
 * Peak memory is n^2 doubles (G, inverted in place) plus n^2 floats (B); the
 * doubles are freed before returning. Both matrices come from plain malloc
 * rather than the exiting x* allocators, so a catalog too big for the
 * machine gives RC_NOMEM instead of ending the process.
 *
 * Determinism: G is summed in a fixed order (each entry over the scattered
 * users in row order, then the dense batches in row order), and with a fixed
 * BLAS thread count OpenBLAS's dsyrk, dpotrf and dpotri are deterministic, so
 * the same input and parameters give bit-identical B on the same machine and
 * kernels. openblas_set_num_threads() is process-wide: the last caller's
 * setting applies to every BLAS call in the process.
 */
#include "common/base.h"
#include "models/ease.h"

#include <math.h>
#include <unistd.h>

#include <cblas.h>
#include <lapacke.h>

/* OpenBLAS extension (also declared by OpenBLAS's cblas.h, not by others). */
void openblas_set_num_threads(int num_threads);

#define EASE_DEFAULT_L2  200.0f
#define EASE_MAX_THREADS 256
/* Heavy users go through dsyrk in blocks of exactly this many rows. */
#define EASE_DENSE_BATCH 128
/* Scattered rows are indexed for gram_sparse() this many entries at a time. */
#define EASE_CHUNK_NNZ (1u << 16)
/* Tile edge for writing B from P's upper triangle. */
#define EASE_TILE 64

void ease_params_default(struct ease_params *p)
{
    p->l2 = EASE_DEFAULT_L2;
    p->threads = 0;
}

void ease_model_release(struct ease_model *m)
{
    if (!m) return;
    free(m->B);
    m->B = NULL;
    m->nitems = 0;
}

/* Structural checks of 'ui' (O(nrows + nnz)): what the scatter in gram() relies on. */
static enum rc check_csr(const struct csr *ui, struct err *e)
{
    if (!ui->indptr || (ui->nnz && (!ui->indices || !ui->values)))
        return err_set(e, RC_INVALID_INPUT, "ui: missing indptr, indices or values arrays");
    if (ui->indptr[0] != 0 || ui->indptr[ui->nrows] != ui->nnz)
        return err_set(e, RC_INVALID_INPUT,
                       "ui: indptr must start at 0 and end at nnz (%llu), found %llu .. %llu",
                       (unsigned long long)ui->nnz, (unsigned long long)ui->indptr[0],
                       (unsigned long long)ui->indptr[ui->nrows]);
    for (uint32_t r = 0; r < ui->nrows; r++) {
        uint64_t lo = ui->indptr[r], hi = ui->indptr[r + 1];
        if (hi < lo || hi > ui->nnz)
            return err_set(e, RC_INVALID_INPUT, "ui: indptr decreases or overflows at row %u", r);
        for (uint64_t k = lo; k < hi; k++) {
            uint32_t c = ui->indices[k];
            if (c >= ui->ncols)
                return err_set(e, RC_INVALID_INPUT,
                               "ui: row %u has column %u, outside the %u items", r, c, ui->ncols);
            if (k > lo && c <= ui->indices[k - 1])
                return err_set(e, RC_INVALID_INPUT,
                               "ui: row %u's columns are not strictly ascending at column %u", r,
                               c);
            if (!isfinite(ui->values[k]))
                return err_set(e, RC_INVALID_INPUT, "ui: row %u, column %u has a non-finite weight",
                               r, c);
        }
    }
    return RC_OK;
}

/*
 * Rows with m >= n / 4 items are "heavy": adding their outer product by
 * scattering costs m^2 / 2 updates (~1.2 ns each here), while a dsyrk over a
 * batch of EASE_DENSE_BATCH dense rows costs one pass over G's upper
 * triangle (memory-bound, like ~30 scattered rows at m = n / 4) plus ~0.02 ns
 * per row and entry of G. So only full batches of heavy rows go dense, and
 * a remainder of fewer than EASE_DENSE_BATCH heavy rows is scattered. For
 * 2000 items and 3000 users with m ~ 0.4 n, dense was 5.6x faster; on
 * MovieLens-like data there are too few heavy rows to fill a batch.
 */
static bool is_heavy(uint64_t m, uint32_t n)
{
    return 4 * m >= (uint64_t)n && m > 1;
}

/* Whether row r of 'ui' goes through dsyrk: heavy and before 'dense_end'. */
static bool goes_dense(const struct csr *ui, uint32_t r, uint32_t dense_end)
{
    return r < dense_end && is_heavy(ui->indptr[r + 1] - ui->indptr[r], ui->ncols);
}

/* The end of the row range holding the heavy rows that fill whole dense batches. */
static uint32_t dense_rows_end(const struct csr *ui)
{
    uint64_t heavy = 0;
    for (uint32_t r = 0; r < ui->nrows; r++)
        heavy += is_heavy(ui->indptr[r + 1] - ui->indptr[r], ui->ncols);
    uint64_t want = heavy - heavy % EASE_DENSE_BATCH, seen = 0;
    uint32_t r = 0;
    for (; r < ui->nrows && seen < want; r++)
        seen += is_heavy(ui->indptr[r + 1] - ui->indptr[r], ui->ncols);
    return r;
}

/* G += D^T D for the EASE_DENSE_BATCH rows in D (upper triangle of row-major G). */
static void flush_dense(double *G, uint32_t n, double *D)
{
    cblas_dsyrk(CblasRowMajor, CblasUpper, CblasTrans, (int)n, EASE_DENSE_BATCH, 1.0, D, (int)n,
                1.0, G, (int)n);
    memset(D, 0, (size_t)EASE_DENSE_BATCH * n * sizeof(*D));
}

/*
 * G += the outer products of the scattered rows in [r0, r1) (upper
 * triangle), one row of G at a time so the writes stay in cache: a counting
 * sort lists, per item i, the positions in ui->indices where i occurs (rows
 * ascending), and row i of G gets x_ui * x_uj for each such row's items
 * j >= i. 'start' has n + 1 entries; 'at' and 'rest' room for the range's
 * scattered entries.
 */
static void gram_sparse(const struct csr *ui, uint32_t r0, uint32_t r1, uint32_t dense_end,
                        uint64_t *start, uint64_t *at, uint32_t *rest, double *G)
{
    uint32_t n = ui->ncols;
    const uint32_t *ind = ui->indices;
    const float *val = ui->values;
    memset(start, 0, ((size_t)n + 1) * sizeof(*start));
    for (uint32_t r = r0; r < r1; r++) {
        if (goes_dense(ui, r, dense_end)) continue;
        for (uint64_t k = ui->indptr[r]; k < ui->indptr[r + 1]; k++)
            start[ind[k] + 1]++;
    }
    for (uint32_t i = 0; i < n; i++)
        start[i + 1] += start[i];
    for (uint32_t r = r0; r < r1; r++) {
        if (goes_dense(ui, r, dense_end)) continue;
        uint64_t hi = ui->indptr[r + 1];
        for (uint64_t k = ui->indptr[r]; k < hi; k++) {
            uint64_t e = start[ind[k]]++;
            at[e] = k;
            rest[e] = (uint32_t)(hi - k); /* <= ncols: a row's columns are distinct */
        }
    }
    /* start[i] now holds where item i's list ends; item i's list begins at start[i - 1]. */
    for (uint32_t i = 0; i < n; i++) {
        uint64_t e0 = i ? start[i - 1] : 0;
        double *grow = G + (size_t)i * n;
        for (uint64_t e = e0; e < start[i]; e++) {
            const uint32_t *bind = ind + at[e];
            const float *bval = val + at[e];
            double vi = bval[0];
            for (uint32_t k = 0; k < rest[e]; k++)
                grow[bind[k]] += vi * (double)bval[k];
        }
    }
}

/*
 * Upper triangle of G = X^T X + l2 I into zeroed row-major 'G' (n x n); the
 * lower triangle is left zero. Scattered rows go through gram_sparse() in
 * row ranges of at most EASE_CHUNK_NNZ entries (so its index costs a bounded
 * 12 bytes per entry however large nnz is), then dense ones through dsyrk.
 * Returns false if a work buffer could not be allocated.
 */
static bool gram(const struct csr *ui, double l2, double *G)
{
    uint32_t n = ui->ncols;
    uint32_t dense_end = dense_rows_end(ui);
    /* A scattered row has at most n entries, so a chunk holds at least one. */
    size_t chunk = (size_t)MAX(MIN(ui->nnz, (uint64_t)EASE_CHUNK_NNZ), (uint64_t)n);
    uint64_t *start = malloc(((size_t)n + 1) * sizeof(*start));
    uint64_t *at = malloc(chunk * sizeof(*at));
    uint32_t *rest = malloc(chunk * sizeof(*rest));
    double *D = NULL;
    bool ok = start && at && rest;
    if (!ok) goto out;

    for (uint32_t r0 = 0, r1; r0 < ui->nrows; r0 = r1) {
        uint64_t cnt = 0;
        for (r1 = r0; r1 < ui->nrows; r1++) {
            if (goes_dense(ui, r1, dense_end)) continue;
            uint64_t m = ui->indptr[r1 + 1] - ui->indptr[r1];
            if (cnt + m > chunk) break;
            cnt += m;
        }
        gram_sparse(ui, r0, r1, dense_end, start, at, rest, G);
    }

    uint32_t nd = 0;
    for (uint32_t r = 0; r < dense_end; r++) {
        if (!goes_dense(ui, r, dense_end)) continue;
        if (!D) {
            D = calloc((size_t)EASE_DENSE_BATCH * n, sizeof(*D));
            if (!D) {
                ok = false;
                goto out;
            }
        }
        double *row = D + (size_t)nd * n;
        for (uint64_t k = ui->indptr[r]; k < ui->indptr[r + 1]; k++)
            row[ui->indices[k]] = ui->values[k];
        if (++nd == EASE_DENSE_BATCH) {
            flush_dense(G, n, D);
            nd = 0;
        }
    }
    for (uint32_t i = 0; i < n; i++)
        G[(size_t)i * n + i] += l2;
out:
    free(start);
    free(at);
    free(rest);
    free(D);
    return ok;
}

/* B from the upper triangle of row-major P (n x n): B_ij = -P_ij / P_jj, B_jj = 0. */
static void weights_from_inverse(const double *P, uint32_t n, double *neg_rdiag, float *B)
{
    for (uint32_t j = 0; j < n; j++)
        neg_rdiag[j] = -1.0 / P[(size_t)j * n + j];
    for (uint32_t ib = 0; ib < n; ib += EASE_TILE) {
        uint32_t ie = MIN(ib + EASE_TILE, n);
        for (uint32_t jb = ib; jb < n; jb += EASE_TILE) {
            uint32_t je = MIN(jb + EASE_TILE, n);
            for (uint32_t i = ib; i < ie; i++) {
                const double *prow = P + (size_t)i * n;
                float *brow = B + (size_t)i * n;
                for (uint32_t j = MAX(jb, i + 1); j < je; j++) {
                    brow[j] = (float)(prow[j] * neg_rdiag[j]);
                    B[(size_t)j * n + i] = (float)(prow[j] * neg_rdiag[i]);
                }
            }
        }
        for (uint32_t i = ib; i < ie; i++)
            B[(size_t)i * n + i] = 0.0f;
    }
}

static int blas_threads(int requested)
{
    if (requested > 0) return requested;
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    if (ncpu < 1) return 1;
    return (int)MIN(ncpu, (long)EASE_MAX_THREADS);
}

enum rc ease_train(const struct csr *ui, const struct ease_params *p, struct ease_model *out,
                   struct err *e)
{
    if (!out) return err_set(e, RC_INVALID_INPUT, "ease_train: out is NULL");
    out->nitems = 0;
    out->B = NULL;
    if (!ui) return err_set(e, RC_INVALID_INPUT, "ease_train: ui is NULL");
    if (!p) return err_set(e, RC_INVALID_INPUT, "ease_train: params are NULL");
    if (!isfinite(p->l2) || !(p->l2 > 0.0f))
        return err_set(e, RC_INVALID_INPUT,
                       "ease: l2 must be a finite number > 0 (got %g; the default is 200)",
                       (double)p->l2);
    if (p->threads < 0 || p->threads > EASE_MAX_THREADS)
        return err_set(e, RC_INVALID_INPUT, "ease: threads must be 0 (all CPUs) .. %d (got %d)",
                       EASE_MAX_THREADS, p->threads);
    uint32_t n = ui->ncols;
    if (n > EASE_MAX_ITEMS)
        return err_set(
            e, RC_LIMIT_EXCEEDED,
            "ease: the catalog has %u items, more than the %d EASE supports (it needs items^2 doubles of memory and items^3 time); use aws-user-personalization's ALS variant for larger catalogs",
            n, EASE_MAX_ITEMS);
    if (n == 0) return err_set(e, RC_INVALID_INPUT, "ease: ui has no items (ncols is 0)");
    enum rc rc = check_csr(ui, e);
    if (rc) return rc;

    size_t nn = (size_t)n * n;
    double *G = malloc(nn * sizeof(*G));
    float *B = malloc(nn * sizeof(*B));
    double *work = malloc((size_t)n * sizeof(*work));
    if (!G || !B || !work) {
        free(G);
        free(B);
        free(work);
        return err_set(e, RC_NOMEM,
                       "ease: cannot allocate the %u x %u item matrices (%.1f GB of doubles "
                       "plus %.1f GB of floats); lower the number of items",
                       n, n, (double)nn * 8 / 1e9, (double)nn * 4 / 1e9);
    }

    /*
     * Zero by writing rather than calloc: gram() reads before it writes, and
     * reading fresh calloc pages maps the zero page first, then faults again
     * on the write (that made building G 5x slower on MovieLens 100K).
     */
    memset(G, 0, nn * sizeof(*G));
    openblas_set_num_threads(blas_threads(p->threads));
    if (!gram(ui, (double)p->l2, G)) {
        rc = err_set(e, RC_NOMEM, "ease: cannot allocate work buffers for %u items", n);
        goto fail;
    }

    /* Row-major upper == column-major lower: factor and invert in place, no copy. */
    lapack_int info = LAPACKE_dpotrf(LAPACK_COL_MAJOR, 'L', (lapack_int)n, G, (lapack_int)n);
    if (info == 0) info = LAPACKE_dpotri(LAPACK_COL_MAJOR, 'L', (lapack_int)n, G, (lapack_int)n);
    if (info > 0) {
        rc = err_set(
            e, RC_INVALID_INPUT,
            "ease: X^T X + l2 I is not numerically positive definite (Cholesky failed at item %d of %u); use a larger l2 (now %g)",
            (int)info - 1, n, (double)p->l2);
        goto fail;
    }
    if (info == LAPACK_WORK_MEMORY_ERROR || info == LAPACK_TRANSPOSE_MEMORY_ERROR) {
        rc = err_set(e, RC_NOMEM, "ease: LAPACK ran out of memory inverting %u x %u", n, n);
        goto fail;
    }
    if (info < 0) {
        rc = err_set(e, RC_INTERNAL, "ease: LAPACK rejected argument %d inverting %u x %u",
                     (int)-info, n, n);
        goto fail;
    }

    weights_from_inverse(G, n, work, B);
    free(G);
    free(work);
    out->nitems = n;
    out->B = B;
    return RC_OK;

fail:
    free(G);
    free(B);
    free(work);
    return rc;
}

void ease_score(const struct ease_model *m, const uint32_t *items, const float *weights, size_t n,
                float *scores)
{
    uint32_t ni = m->nitems;
    memset(scores, 0, (size_t)ni * sizeof(*scores));
    /* Items outside the catalog have no row in B and contribute nothing. */
    for (size_t k = 0; k < n; k++) {
        if (items[k] >= ni) continue;
        cblas_saxpy((int)ni, weights[k], m->B + (size_t)items[k] * ni, 1, scores, 1);
    }
}
