/*
 * als.c: implicit-feedback ALS (Hu, Koren and Volinsky 2008), as als.h
 * documents.
 *
 * Objective. With c_ui = 1 + alpha * w_ui on observed pairs (c = 1, p = 0
 * elsewhere), training minimises
 *   L = sum_ui c_ui (p_ui - x_u . y_i)^2 + sum_u reg_u |x_u|^2 + sum_i reg_i |y_i|^2
 * where each row's regularization is scaled by its number of interactions:
 *   reg_u = reg * |{i observed for u}|,   reg_i = reg * |{u observed for i}|.
 * This is the weighted-lambda regularization of ALS-WR (Zhou et al. 2008), as
 * Spark's ALS does it. Why scaled: on MovieLens 100K (temporal split, NDCG@10,
 * see tests/unit/test_als.c) plain reg needs 10-30, a value that moves with
 * the data's density; the scaled reg is best around 0.3-0.35 (0.1287 at
 * 0.35). Why by count and not by total confidence (which scores the same on
 * MovieLens): scaling by confidence cancels confidence out of a lone item's
 * fit (prediction |x|^2 / (|x|^2 + reg) whatever c), so a user's stronger
 * affinities would not score higher; by count, c_i |x|^2 / (c_i |x|^2 + reg)
 * grows with c_i, and the brief's example ranks item 2, 1, 3 as it must.
 * A row without interactions has reg 0 and x = 0. Wherever als.h writes
 * "reg I" (fold-in, explain), read reg_u I with reg_u computed from the
 * history passed in.
 *
 * One iteration is an item half-step (Y given X) followed by a user half-step
 * (X given Y), so the user factors of a trained model are exactly what
 * als_fold_in() computes for a training user's history (bit for bit with
 * cg_steps = 0). Each half-step:
 *
 *   1. G = F^T F over the fixed side F (cblas_ssyrk), computed once.
 *   2. For every row r of the side being solved, with history H_r:
 *        A_r = G + reg_r I + sum_{i in H_r} (c_ri - 1) f_i f_i^T,  b_r = sum_{i in H_r} c_ri f_i
 *      (the Y^T C_u Y = Y^T Y + Y^T (C_u - I) Y trick: per row only |H_r|
 *      rank-1 corrections), then x_r = A_r^-1 b_r, either exactly (A_r built
 *      and factored in double with spd.h's blocked AVX-512 kernels,
 *      cg_steps = 0; fold-ins use the same code) or by cg_steps steps of conjugate
 *      gradient warm-started from the current x_r, never forming A_r: each
 *      step is G p plus two sgemv over the gathered history rows (Takacs,
 *      Pilaszy and Tikk 2011; the implicit library's CG solver).
 *      Rows with an empty history get x_r = 0, the exact solution.
 *   3. With a progress callback, the user half-step also adds up each user's
 *      share of L (x^T G x covers the unobserved pairs; see row_loss()).
 *
 * Threads and determinism. Rows are handed out to p->threads pthreads in
 * chunks; each row's result depends only on its own data and the shared G, so
 * it does not matter which thread solves it. G itself is summed over fixed
 * blocks of F rows (one ssyrk each, in our threads, blocks added in order in
 * double), so it does not depend on the thread count either: we do not let
 * OpenBLAS thread the Gram matrix, because its partitioning would follow its
 * thread count. OpenBLAS is set to one thread for the whole of training (it is
 * only ever called from inside our threads) and restored afterwards; this is a
 * process-wide setting, so BLAS work running concurrently elsewhere in the
 * process is single-threaded meanwhile (and vice versa, another caller
 * raising it mid-training would cost us determinism, not correctness). The
 * loss is summed per row into an array, then added in row order. So factors
 * are bit-identical for the same input, parameters and seed whatever the
 * thread count (on the same machine and BLAS kernels).
 */
#include "common/base.h"
#include "models/als.h"
#include "common/rng.h"
#include "common/scratch.h"
#include "models/spd.h"

#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <unistd.h>

#include <cblas.h>

/* OpenBLAS extensions (also in OpenBLAS's cblas.h; repeated for other cblas.h). */
void openblas_set_num_threads(int);
int openblas_get_num_threads(void);

#define ALS_MAX_FACTORS 1024
#define ALS_MAX_ITERS   1000
#define ALS_MAX_CG      64
#define ALS_MAX_THREADS 256
#define ROW_CHUNK       16        /* rows a worker takes at a time */
#define GATHER_FLOATS   (1 << 16) /* history rows gathered at a time: 256 KiB */
#define GATHER_MIN_ROWS 16
#define GRAM_BLOCK_ROWS 4096      /* rows of F per Gram block */
#define GRAM_MAX_FLOATS (1 << 24) /* cap on the Gram blocks' partial sums */
#define CG_EPS          1e-20f    /* residual norm^2 below which CG stops */
#define INIT_SCALE      0.01f     /* initial factors uniform in +-INIT_SCALE */

void als_params_default(struct als_params *p)
{
    memset(p, 0, sizeof(*p)); /* no warm start unless asked */
    p->factors = 64;
    p->regularization = 0.35f;
    p->alpha = 10.0f;
    p->iterations = 15;
    p->cg_steps = 3;
    p->seed = 42;
    p->threads = 0;
}

void als_model_release(struct als_model *m)
{
    if (!m) return;
    free(m->user_factors);
    free(m->item_factors);
    memset(m, 0, sizeof(*m));
}

/* ---- validation ---- */

static enum rc check_reg_alpha(const struct als_params *p, struct err *e)
{
    if (!(isfinite(p->regularization) && p->regularization >= 0.0f))
        return err_set(e, RC_INVALID_INPUT, "als: regularization must be finite and >= 0 (got %g)",
                       (double)p->regularization);
    if (!(isfinite(p->alpha) && p->alpha > 0.0f))
        return err_set(e, RC_INVALID_INPUT, "als: alpha must be finite and > 0 (got %g)",
                       (double)p->alpha);
    return RC_OK;
}

static enum rc check_params(const struct als_params *p, struct err *e)
{
    if (!p) return err_set(e, RC_INVALID_INPUT, "als: params must not be NULL");
    if (p->factors < 1 || p->factors > ALS_MAX_FACTORS)
        return err_set(e, RC_INVALID_INPUT, "als: factors must be between 1 and %d (got %u)",
                       ALS_MAX_FACTORS, p->factors);
    enum rc rc = check_reg_alpha(p, e);
    if (rc) return rc;
    if (p->iterations < 1 || p->iterations > ALS_MAX_ITERS)
        return err_set(e, RC_INVALID_INPUT, "als: iterations must be between 1 and %d (got %u)",
                       ALS_MAX_ITERS, p->iterations);
    if (p->cg_steps > ALS_MAX_CG)
        return err_set(e, RC_INVALID_INPUT, "als: cg_steps must be between 0 and %d (got %u)",
                       ALS_MAX_CG, p->cg_steps);
    if (p->threads < 0 || p->threads > ALS_MAX_THREADS)
        return err_set(e, RC_INVALID_INPUT, "als: threads must be between 0 and %d (got %d)",
                       ALS_MAX_THREADS, p->threads);
    return RC_OK;
}

static enum rc check_matrix(const struct csr *m, struct err *e)
{
    if (!m) return err_set(e, RC_INVALID_INPUT, "als: interaction matrix must not be NULL");
    if (!m->indptr || (m->nnz && (!m->indices || !m->values)))
        return err_set(e, RC_INVALID_INPUT, "als: interaction matrix has NULL arrays");
    if (m->indptr[0] != 0 || m->indptr[m->nrows] != m->nnz)
        return err_set(
            e, RC_INVALID_INPUT,
            "als: interaction matrix indptr must run from 0 to nnz %llu (got %llu..%llu)",
            (unsigned long long)m->nnz, (unsigned long long)m->indptr[0],
            (unsigned long long)m->indptr[m->nrows]);
    for (uint32_t r = 0; r < m->nrows; r++)
        if (m->indptr[r + 1] < m->indptr[r])
            return err_set(e, RC_INVALID_INPUT,
                           "als: interaction matrix indptr decreases at row %u", r);
    for (uint64_t i = 0; i < m->nnz; i++) {
        if (m->indices[i] >= m->ncols)
            return err_set(e, RC_INVALID_INPUT,
                           "als: interaction matrix column %u at entry %llu is out of range "
                           "(ncols %u)",
                           m->indices[i], (unsigned long long)i, m->ncols);
        if (!(isfinite(m->values[i]) && m->values[i] > 0.0f))
            return err_set(e, RC_INVALID_INPUT,
                           "als: interaction matrix weight at entry %llu must be finite and > 0 "
                           "(got %g)",
                           (unsigned long long)i, (double)m->values[i]);
    }
    return RC_OK;
}

static int resolve_threads(int threads)
{
    if (threads > 0) return threads;
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    if (n < 1) n = 1;
    if (n > ALS_MAX_THREADS) n = ALS_MAX_THREADS;
    return (int)n;
}

/* ---- Initial factors ---- */

/* Uniform in [-scale, scale). */
static void rng_fill(struct rng *g, float *v, size_t n, float scale)
{
    for (size_t i = 0; i < n; i++) {
        float u = (float)(rng_next(g) >> 40) * (1.0f / 16777216.0f); /* [0, 1) */
        v[i] = (2.0f * u - 1.0f) * scale;
    }
}

/* ---- per-thread workspace ---- */

struct work {
    uint32_t k;
    float *gather; /* cap x k: history rows */
    float *t;      /* cap: per history row scalars */
    size_t cap;    /* rows that fit in gather */
    float *r, *pv, *ap;
};

/*
 * Scratch for rows of up to 'rows' entries (0: any row; the cap only
 * decides chunking, and a row within the cap is solved the same way).
 */
static void work_init_rows(struct work *w, uint32_t k, size_t rows)
{
    w->k = k;
    w->cap = MAX((size_t)GATHER_MIN_ROWS, (size_t)GATHER_FLOATS / k);
    if (rows) w->cap = MIN(w->cap, MAX((size_t)GATHER_MIN_ROWS, rows));
    w->gather = xmallocarray(w->cap * k, sizeof(float));
    w->t = xmallocarray(w->cap, sizeof(float));
    w->r = xmallocarray((size_t)3 * k, sizeof(float));
    w->pv = w->r + k;
    w->ap = w->pv + k;
}

static void work_init(struct work *w, uint32_t k)
{
    work_init_rows(w, k, 0);
}

static void work_free(struct work *w)
{
    free(w->gather);
    free(w->t);
    free(w->r);
}

/* ---- a small thread pool: run fn over [0, n) in chunks, dynamically ---- */

typedef void (*range_fn)(void *ctx, struct work *w, size_t begin, size_t end);

struct pool_job {
    range_fn fn;
    void *ctx;
    size_t n, chunk;
    atomic_size_t next;
};

struct pool_arg {
    struct pool_job *job;
    struct work *w;
};

static void pool_run(struct pool_job *job, struct work *w)
{
    for (;;) {
        size_t begin = atomic_fetch_add(&job->next, job->chunk);
        if (begin >= job->n) break;
        size_t end = begin + job->chunk < job->n ? begin + job->chunk : job->n;
        job->fn(job->ctx, w, begin, end);
    }
}

static void *pool_thread(void *arg)
{
    struct pool_arg *a = arg;
    pool_run(a->job, a->w);
    return NULL;
}

/*
 * Run fn over [0, n) on up to 'nthreads' threads (the caller is one of them);
 * works[t] is thread t's workspace. If a thread cannot be started, the others
 * do its share: results never depend on which thread handled a chunk.
 */
static void parallel_for(int nthreads, struct work *works, size_t n, size_t chunk, range_fn fn,
                         void *ctx)
{
    struct pool_job job = {.fn = fn, .ctx = ctx, .n = n, .chunk = chunk ? chunk : 1};
    atomic_init(&job.next, 0);
    size_t nchunks = (n + job.chunk - 1) / job.chunk;
    int t = nthreads;
    if ((size_t)t > nchunks) t = nchunks ? (int)nchunks : 1;
    pthread_t tids[ALS_MAX_THREADS];
    struct pool_arg args[ALS_MAX_THREADS];
    int started = 0;
    for (int i = 1; i < t; i++) {
        args[i].job = &job;
        args[i].w = &works[i];
        if (pthread_create(&tids[i], NULL, pool_thread, &args[i]) != 0) break;
        started = i;
    }
    pool_run(&job, &works[0]);
    for (int i = 1; i <= started; i++)
        pthread_join(tids[i], NULL);
}

/* ---- Gram matrix ---- */

struct gram_job {
    const float *f;
    uint32_t nrows, k;
    size_t block_rows;
    float *parts; /* nblocks x k x k, upper triangles */
};

static void gram_blocks(void *ctx, struct work *w, size_t begin, size_t end)
{
    UNUSED(w);
    struct gram_job *g = ctx;
    size_t kk = (size_t)g->k * g->k;
    for (size_t b = begin; b < end; b++) {
        size_t r0 = b * g->block_rows;
        size_t r1 = MIN(r0 + g->block_rows, (size_t)g->nrows);
        cblas_ssyrk(CblasRowMajor, CblasUpper, CblasTrans, (int)g->k, (int)(r1 - r0), 1.0f,
                    g->f + r0 * g->k, (int)g->k, 0.0f, g->parts + b * kk, (int)g->k);
    }
}

/*
 * gram = F^T F (k x k, full symmetric) for F nrows x k. The rows are cut into
 * blocks that depend only on nrows and k; blocks are summed in order in
 * double, so the result is the same for any thread count.
 */
static void gram_compute(const float *f, uint32_t nrows, uint32_t k, int nthreads,
                         struct work *works, float *gram)
{
    size_t kk = (size_t)k * k;
    size_t nblocks = ((size_t)nrows + GRAM_BLOCK_ROWS - 1) / GRAM_BLOCK_ROWS;
    size_t maxblocks = GRAM_MAX_FLOATS / kk;
    if (maxblocks < 1) maxblocks = 1;
    if (nblocks > maxblocks) nblocks = maxblocks;
    if (nblocks == 0) {
        memset(gram, 0, kk * sizeof(*gram));
        return;
    }
    struct gram_job g = {.f = f, .nrows = nrows, .k = k};
    g.block_rows = ((size_t)nrows + nblocks - 1) / nblocks;
    nblocks = ((size_t)nrows + g.block_rows - 1) / g.block_rows;
    g.parts = xmallocarray(nblocks * kk, sizeof(float));
    parallel_for(nthreads, works, nblocks, 1, gram_blocks, &g);
    for (uint32_t i = 0; i < k; i++) {
        for (uint32_t j = i; j < k; j++) {
            double s = 0.0;
            for (size_t b = 0; b < nblocks; b++)
                s += g.parts[b * kk + (size_t)i * k + j];
            gram[(size_t)i * k + j] = (float)s;
            gram[(size_t)j * k + i] = (float)s;
        }
    }
    free(g.parts);
}

/*
 * The regularization of a row with n interactions: reg * n (see the top of
 * this file). alpha and the weights do not enter it, by design.
 */
static float row_reg(float reg, float alpha, const float *val, size_t n)
{
    UNUSED(alpha);
    UNUSED(val);
    return (float)((double)reg * (double)n);
}

/* ---- dense helpers ---- */

static double dot_fd(const float *a, const float *b, uint32_t k)
{
    double s = 0.0;
    for (uint32_t j = 0; j < k; j++)
        s += (double)a[j] * b[j];
    return s;
}

/*
 * One row's least-squares problem: the fixed side's factors, the row's
 * history (columns idx[0..n) with weights val[0..n)) and its regularization.
 */
struct row {
    const float *gram;  /* G = F^T F, k x k */
    const float *other; /* F, one k-vector per column */
    const uint32_t *idx;
    const float *val;
    size_t n;
    float alpha, reg;
};

/*
 * History rows go through w->gather, GATHER_FLOATS floats: in one piece when
 * they fit ("resident", gathered once per row), else in chunks of w->cap rows
 * gathered again on each pass. Either way the chunking depends only on n and
 * k, so results do not depend on the thread.
 */
static void gather_rows(struct work *w, const struct row *rw, size_t base, size_t cnt)
{
    uint32_t k = w->k;
    for (size_t t = 0; t < cnt; t++)
        memcpy(w->gather + t * k, rw->other + (size_t)rw->idx[base + t] * k, k * sizeof(float));
}

static const float *chunk_rows(struct work *w, const struct row *rw, size_t base, size_t cnt,
                               bool resident)
{
    if (resident) return w->gather + base * w->k;
    gather_rows(w, rw, base, cnt);
    return w->gather;
}

enum hist_op {
    OP_RESIDUAL, /* out += sum_i (c_i - (c_i - 1) f_i . v) f_i */
    OP_APPLY,    /* out += sum_i (c_i - 1) (f_i . v) f_i */
};

static void hist_pass(struct work *w, const struct row *rw, bool resident, enum hist_op op,
                      const float *v, float *out)
{
    uint32_t k = w->k;
    for (size_t base = 0; base < rw->n; base += w->cap) {
        size_t cnt = MIN(w->cap, rw->n - base);
        const float *f = chunk_rows(w, rw, base, cnt, resident);
        float *t = w->t;
        cblas_sgemv(CblasRowMajor, CblasNoTrans, (int)cnt, (int)k, 1.0f, f, (int)k, v, 1, 0.0f, t,
                    1);
        for (size_t i = 0; i < cnt; i++) {
            float cw = rw->alpha * rw->val[base + i]; /* c - 1 */
            t[i] = op == OP_RESIDUAL ? (1.0f + cw) - cw * t[i] : cw * t[i];
        }
        cblas_sgemv(CblasRowMajor, CblasTrans, (int)cnt, (int)k, 1.0f, f, (int)k, t, 1, 1.0f, out,
                    1);
    }
}

/*
 * A fold-in's system, built in double in this thread's scratch: A = G +
 * (reg + jitter) I + sum_i (c_i - 1) y_i y_i^T and b = sum_i c_i y_i (the
 * system build_system() makes), factored with spd.h's kernels rather than
 * LAPACK (one small system per request: see spd.h), retrying with a growing
 * diagonal jitter as factor_robust() does. Returns L (leading dimension
 * *ld), valid until the next fold-in on this thread, with b in *b_out; NULL
 * when A cannot be factored.
 */
static double *fold_in_factor(const struct row *rw, uint32_t k, uint32_t *ld_out, double **b_out)
{
    enum { CHUNK = 64 }; /* history rows converted to double at a time */
    uint32_t ld = spd_ld(k);
    size_t all = (size_t)ld * ld;
    double *a = scratch_get(SCRATCH_FOLD_IN,
                            (all + 8 * (size_t)ld + ld + 2 * (size_t)CHUNK * ld) * sizeof(double));
    double *work = a + all, *b = work + 8 * (size_t)ld, *y = b + ld, *sy = y + (size_t)CHUNK * ld;
    double jitter = 0.0, tr = 0.0;
    for (int attempt = 0; attempt < 9; attempt++) {
        /* Row i as far as the blocks spd.h reads: up to the end of i's block of 8. */
        for (uint32_t i = 0; i < ld; i++) {
            const float *g = rw->gram + (size_t)i * k;
            double *ai = a + (size_t)i * ld;
            uint32_t end = (i | 7u) + 1, q = 0;
            for (; i < k && q < MIN(end, k); q++)
                ai[q] = g[q];
            for (; q < end; q++)
                ai[q] = 0.0;
            if (i < k) ai[i] += (double)rw->reg + jitter;
        }
        memset(b, 0, ld * sizeof(double));
        for (size_t t0 = 0; t0 < rw->n; t0 += CHUNK) {
            size_t cnt = MIN((size_t)CHUNK, rw->n - t0);
            for (size_t t = 0; t < cnt; t++) {
                const float *yt = rw->other + (size_t)rw->idx[t0 + t] * k;
                double cw = (double)rw->alpha * rw->val[t0 + t]; /* c - 1 */
                double *yd = y + t * ld, *sd = sy + t * ld;
                for (uint32_t j = 0; j < ld; j++) {
                    yd[j] = j < k ? yt[j] : 0.0;
                    sd[j] = cw * yd[j];
                    b[j] += yd[j] + sd[j]; /* c y = y + (c - 1) y */
                }
            }
            spd_add_outer(a, k, ld, y, sy, cnt);
        }
        if (attempt == 0)
            for (uint32_t i = 0; i < k; i++)
                tr += fabs(a[(size_t)i * ld + i]);
        if (spd_cholesky(a, k, ld, work)) {
            *ld_out = ld;
            *b_out = b;
            return a;
        }
        jitter = attempt == 0 ? 1e-7 * (tr / k) + 1e-12 : jitter * 100.0;
    }
    return NULL;
}

/* x = A^-1 b for a fold-in (solve_exact()'s system, in double throughout); zero if n == 0. */
static void fold_in_exact(const struct row *rw, uint32_t k, float *x)
{
    uint32_t ld;
    double *b, *l = rw->n ? fold_in_factor(rw, k, &ld, &b) : NULL;
    if (!l) {
        memset(x, 0, k * sizeof(*x));
        return;
    }
    spd_solve(l, k, ld, b);
    for (uint32_t j = 0; j < k; j++)
        x[j] = (float)b[j];
}

/*
 * x = A^-1 b exactly; zero if n == 0. Training (cg_steps = 0) and fold-ins
 * share this computation, so that a training user's fold-in is their
 * trained vector bit for bit.
 */
static void solve_exact(struct work *w, const struct row *rw, float *x)
{
    fold_in_exact(rw, w->k, x);
}

/*
 * 'steps' conjugate-gradient steps on A x = b from the current x, never
 * forming A: A v = G v + reg v + sum (c_i - 1) (f_i . v) f_i. Zero if n == 0.
 * Returns whether the history rows are left resident in w->gather.
 */
static bool solve_cg(struct work *w, const struct row *rw, uint32_t steps, float *x)
{
    uint32_t k = w->k;
    if (rw->n == 0) {
        memset(x, 0, k * sizeof(*x));
        return false;
    }
    bool resident = rw->n <= w->cap;
    if (resident) gather_rows(w, rw, 0, rw->n);
    float *r = w->r, *pv = w->pv, *ap = w->ap;
    /* r = b - A x = -(G + reg I) x + sum (c_i - (c_i - 1) f_i . x) f_i */
    cblas_sgemv(CblasRowMajor, CblasNoTrans, (int)k, (int)k, -1.0f, rw->gram, (int)k, x, 1, 0.0f, r,
                1);
    cblas_saxpy((int)k, -rw->reg, x, 1, r, 1);
    hist_pass(w, rw, resident, OP_RESIDUAL, x, r);
    memcpy(pv, r, k * sizeof(*pv));
    float rsold = cblas_sdot((int)k, r, 1, r, 1);
    for (uint32_t it = 0; it < steps && rsold >= CG_EPS; it++) {
        cblas_sgemv(CblasRowMajor, CblasNoTrans, (int)k, (int)k, 1.0f, rw->gram, (int)k, pv, 1,
                    0.0f, ap, 1);
        cblas_saxpy((int)k, rw->reg, pv, 1, ap, 1);
        hist_pass(w, rw, resident, OP_APPLY, pv, ap);
        float pap = cblas_sdot((int)k, pv, 1, ap, 1);
        if (!(pap > 0.0f) || !isfinite(pap)) break;
        float a = rsold / pap;
        cblas_saxpy((int)k, a, pv, 1, x, 1);
        cblas_saxpy((int)k, -a, ap, 1, r, 1);
        float rsnew = cblas_sdot((int)k, r, 1, r, 1);
        if (rsnew < CG_EPS) break;
        float beta = rsnew / rsold;
        for (uint32_t j = 0; j < k; j++)
            pv[j] = r[j] + beta * pv[j];
        rsold = rsnew;
    }
    return resident;
}

/*
 * Loss terms of one row x:
 *   x^T G x + reg |x|^2 + sum_i [c_i (1 - s_i)^2 - s_i^2],  s_i = x . f_i,
 * i.e. sum over all columns of c (p - s)^2 plus x's regularization.
 */
static double row_loss(struct work *w, const struct row *rw, bool resident, const float *x)
{
    uint32_t k = w->k;
    cblas_sgemv(CblasRowMajor, CblasNoTrans, (int)k, (int)k, 1.0f, rw->gram, (int)k, x, 1, 0.0f,
                w->r, 1);
    double loss = dot_fd(x, w->r, k) + (double)rw->reg * dot_fd(x, x, k);
    for (size_t base = 0; base < rw->n; base += w->cap) {
        size_t cnt = MIN(w->cap, rw->n - base);
        const float *f = chunk_rows(w, rw, base, cnt, resident);
        cblas_sgemv(CblasRowMajor, CblasNoTrans, (int)cnt, (int)k, 1.0f, f, (int)k, x, 1, 0.0f,
                    w->t, 1);
        for (size_t i = 0; i < cnt; i++) {
            double s = w->t[i];
            double c = 1.0 + (double)rw->alpha * rw->val[base + i];
            loss += c * (1.0 - s) * (1.0 - s) - s * s;
        }
    }
    return loss;
}

/* ---- half-steps ---- */

struct half_step {
    const struct csr *m; /* rows being solved x columns of the fixed side */
    const float *other;  /* m->ncols x k, fixed */
    float *self;         /* m->nrows x k, solved */
    const float *gram;   /* F^T F */
    double *loss;        /* per-row loss terms, or NULL */
    float alpha, reg;
    uint32_t cg_steps;
};

static void solve_rows(void *ctx, struct work *w, size_t begin, size_t end)
{
    const struct half_step *h = ctx;
    uint32_t k = w->k;
    for (size_t r = begin; r < end; r++) {
        uint64_t lo = h->m->indptr[r], hi = h->m->indptr[r + 1];
        struct row rw = {.gram = h->gram,
                         .other = h->other,
                         .idx = h->m->indices + lo,
                         .val = h->m->values + lo,
                         .n = (size_t)(hi - lo),
                         .alpha = h->alpha};
        rw.reg = row_reg(h->reg, h->alpha, rw.val, rw.n);
        float *x = h->self + r * k;
        bool resident = false;
        if (h->cg_steps == 0)
            solve_exact(w, &rw, x); /* leaves scaled rows in w->gather */
        else
            resident = solve_cg(w, &rw, h->cg_steps, x);
        if (h->loss) h->loss[r] = row_loss(w, &rw, resident, x);
    }
}

/* ---- training ---- */

static float *alloc_factors(uint32_t n, uint32_t k)
{
    size_t count = (size_t)n * k;
    return xmallocarray(count ? count : 1, sizeof(float));
}

enum rc als_train(const struct csr *ui, const struct als_params *p, als_progress_fn progress,
                  void *ctx, struct als_model *out, struct err *e)
{
    if (!out) return err_set(e, RC_INVALID_INPUT, "als: out must not be NULL");
    memset(out, 0, sizeof(*out)); /* so that als_model_release() is safe after any failure */
    enum rc rc = check_params(p, e);
    if (rc) return rc;
    rc = check_matrix(ui, e);
    if (rc) return rc;

    uint32_t k = p->factors;
    uint32_t nusers = ui->nrows, nitems = ui->ncols;
    int nthreads = resolve_threads(p->threads);
    /* No more threads than there are chunks of rows (each has a workspace). */
    size_t maxrows = MAX((size_t)nusers, (size_t)nitems);
    if ((size_t)nthreads > maxrows / ROW_CHUNK + 1) nthreads = (int)(maxrows / ROW_CHUNK + 1);
    struct work *works = xcalloc((size_t)nthreads, sizeof(*works));
    for (int t = 0; t < nthreads; t++)
        work_init(&works[t], k);
    float *x = alloc_factors(nusers, k);
    float *y = alloc_factors(nitems, k);
    float *gram = xmallocarray((size_t)k * k, sizeof(float));
    double *loss = progress ? xcalloc((size_t)nusers + 1, sizeof(double)) : NULL;

    struct rng g;
    rng_seed(&g, p->seed);
    rng_fill(&g, x, (size_t)nusers * k, INIT_SCALE);
    rng_fill(&g, y, (size_t)nitems * k, INIT_SCALE);
    if (p->init_items)
        memcpy(y, p->init_items, (size_t)MIN(p->init_nitems, nitems) * k * sizeof(float));

    struct csr *iu = csr_transpose(ui);
    int saved_blas = openblas_get_num_threads();
    openblas_set_num_threads(1);

    struct half_step items = {.m = iu,
                              .other = x,
                              .self = y,
                              .gram = gram,
                              .loss = NULL,
                              .alpha = p->alpha,
                              .reg = p->regularization,
                              .cg_steps = p->cg_steps};
    struct half_step users = items;
    users.m = ui;
    users.other = y;
    users.self = x;
    users.loss = loss;

    if (p->init_items) {
        /* Warm start: fit the users to the given items first, so the item step starts from there.
         */
        struct half_step fit = users;
        fit.loss = NULL;
        gram_compute(y, nitems, k, nthreads, works, gram);
        parallel_for(nthreads, works, nusers, ROW_CHUNK, solve_rows, &fit);
    }

    rc = RC_OK;
    for (uint32_t it = 1; it <= p->iterations; it++) {
        gram_compute(x, nusers, k, nthreads, works, gram);
        parallel_for(nthreads, works, nitems, ROW_CHUNK, solve_rows, &items);

        gram_compute(y, nitems, k, nthreads, works, gram);
        parallel_for(nthreads, works, nusers, ROW_CHUNK, solve_rows, &users);

        if (progress) {
            double total = 0.0;
            for (uint32_t u = 0; u < nusers; u++)
                total += loss[u];
            for (uint32_t i = 0; i < nitems; i++) {
                uint64_t lo = iu->indptr[i], hi = iu->indptr[i + 1];
                float reg =
                    row_reg(p->regularization, p->alpha, iu->values + lo, (size_t)(hi - lo));
                const float *yi = y + (size_t)i * k;
                total += (double)reg * dot_fd(yi, yi, k);
            }
            if (!progress(ctx, it, total)) {
                rc = err_set(e, RC_CANCELLED, "als: training cancelled after iteration %u of %u",
                             it, p->iterations);
                break;
            }
        }
    }

    openblas_set_num_threads(saved_blas > 0 ? saved_blas : 1);
    csr_free(iu);
    free(loss);
    free(gram);
    for (int t = 0; t < nthreads; t++)
        work_free(&works[t]);
    free(works);
    if (rc) {
        free(x);
        free(y);
        return rc;
    }
    out->nusers = nusers;
    out->nitems = nitems;
    out->factors = k;
    out->user_factors = x;
    out->item_factors = y;
    return RC_OK;
}

/* ---- fold-in and explain ---- */

enum rc als_gram(const struct als_model *m, float *gram, struct err *e)
{
    if (!m || !gram) return err_set(e, RC_INVALID_INPUT, "als: model and gram must not be NULL");
    if (m->factors < 1 || m->factors > ALS_MAX_FACTORS)
        return err_set(e, RC_INVALID_INPUT, "als: model factors must be between 1 and %d (got %u)",
                       ALS_MAX_FACTORS, m->factors);
    if (m->nitems && !m->item_factors)
        return err_set(e, RC_INVALID_INPUT, "als: model has no item factors");
    /*
     * Unlike training, this leaves OpenBLAS's (process-wide) thread count
     * alone: it runs on request paths, possibly concurrently.
     */
    struct work w = {0};
    gram_compute(m->item_factors, m->nitems, m->factors, 1, &w, gram);
    return RC_OK;
}

struct hist_entry {
    uint32_t item;
    uint32_t pos; /* in the caller's arrays: equal items merge in input order */
    float weight;
};

static int by_item(const void *a, const void *b)
{
    const struct hist_entry *x = a, *y = b;
    if (x->item != y->item) return x->item < y->item ? -1 : 1;
    return x->pos < y->pos ? -1 : x->pos > y->pos;
}

/* A fold-in history, sorted by item with repeats merged. */
struct history {
    uint32_t *idx;
    float *val;
    size_t n;
    size_t *slot; /* caller's entry k -> its merged entry (when asked for) */
};

static void history_free(struct history *h)
{
    free(h->idx);
    free(h->val);
    free(h->slot);
}

/*
 * Validate a fold-in history and copy it sorted by item, repeated items
 * merged by summing their weights in input order: exactly what
 * csr_from_triplets() makes of the same events, and the order training sums
 * a CSR row in, so a training user's history repeats the training
 * computation bit for bit.
 */
static enum rc prepare_history(const struct als_model *m, const struct als_params *p,
                               const float *gram, const uint32_t *items, const float *weights,
                               size_t n, bool want_slots, struct history *out, struct err *e)
{
    memset(out, 0, sizeof(*out));
    if (!m) return err_set(e, RC_INVALID_INPUT, "als: model must not be NULL");
    if (!p) return err_set(e, RC_INVALID_INPUT, "als: params must not be NULL");
    if (!gram) return err_set(e, RC_INVALID_INPUT, "als: gram must not be NULL");
    if (m->factors < 1 || m->factors > ALS_MAX_FACTORS)
        return err_set(e, RC_INVALID_INPUT, "als: model factors must be between 1 and %d (got %u)",
                       ALS_MAX_FACTORS, m->factors);
    if (m->nitems && !m->item_factors)
        return err_set(e, RC_INVALID_INPUT, "als: model has no item factors");
    enum rc rc = check_reg_alpha(p, e);
    if (rc) return rc;
    if (n && (!items || !weights))
        return err_set(e, RC_INVALID_INPUT, "als: items and weights must not be NULL (n = %zu)", n);
    if (n > UINT32_MAX) return err_set(e, RC_INVALID_INPUT, "als: history too long (n = %zu)", n);
    for (size_t i = 0; i < n; i++) {
        if (items[i] >= m->nitems)
            return err_set(e, RC_INVALID_INPUT, "als: items[%zu] = %u is out of range (nitems %u)",
                           i, items[i], m->nitems);
        if (!(isfinite(weights[i]) && weights[i] > 0.0f))
            return err_set(e, RC_INVALID_INPUT, "als: weights[%zu] must be finite and > 0 (got %g)",
                           i, (double)weights[i]);
    }
    struct hist_entry *h = xmallocarray(n ? n : 1, sizeof(*h));
    for (size_t i = 0; i < n; i++)
        h[i] = (struct hist_entry){.item = items[i], .pos = (uint32_t)i, .weight = weights[i]};
    bool sorted = true; /* engine histories come sorted: skip the sort then */
    for (size_t i = 1; i < n && sorted; i++)
        sorted = by_item(&h[i - 1], &h[i]) <= 0;
    if (!sorted) qsort(h, n, sizeof(*h), by_item);
    out->idx = xmallocarray(n ? n : 1, sizeof(*out->idx));
    out->val = xmallocarray(n ? n : 1, sizeof(*out->val));
    if (want_slots) out->slot = xmallocarray(n ? n : 1, sizeof(*out->slot));
    size_t u = 0;
    for (size_t i = 0; i < n; i++) {
        if (i > 0 && h[i].item == h[i - 1].item) {
            out->val[u - 1] += h[i].weight;
        } else {
            out->idx[u] = h[i].item;
            out->val[u] = h[i].weight;
            u++;
        }
        if (want_slots) out->slot[h[i].pos] = u - 1;
    }
    out->n = u;
    free(h);
    for (size_t i = 0; i < u; i++)
        if (!isfinite(out->val[i])) {
            history_free(out);
            return err_set(e, RC_INVALID_INPUT, "als: the weights of item %u sum to infinity",
                           out->idx[i]);
        }
    return RC_OK;
}

/* The solve of a folded-in history against the model's item factors. */
static struct row history_row(const struct als_model *m, const struct als_params *p,
                              const float *gram, const struct history *h)
{
    return (struct row){.gram = gram,
                        .other = m->item_factors,
                        .idx = h->idx,
                        .val = h->val,
                        .n = h->n,
                        .alpha = p->alpha,
                        .reg = row_reg(p->regularization, p->alpha, h->val, h->n)};
}

enum rc als_fold_in_gram(const struct als_model *m, const struct als_params *p, const float *gram,
                         const uint32_t *items, const float *weights, size_t n, float *out,
                         struct err *e)
{
    if (!out) return err_set(e, RC_INVALID_INPUT, "als: out must not be NULL");
    struct history h;
    enum rc rc = prepare_history(m, p, gram, items, weights, n, false, &h, e);
    if (rc) return rc;
    struct row rw = history_row(m, p, gram, &h);
    fold_in_exact(&rw, m->factors, out);
    history_free(&h);
    return RC_OK;
}

enum rc als_fold_in(const struct als_model *m, const struct als_params *p, const uint32_t *items,
                    const float *weights, size_t n, float *out, struct err *e)
{
    if (!m) return err_set(e, RC_INVALID_INPUT, "als: model must not be NULL");
    if (m->factors < 1 || m->factors > ALS_MAX_FACTORS)
        return err_set(e, RC_INVALID_INPUT, "als: model factors must be between 1 and %d (got %u)",
                       ALS_MAX_FACTORS, m->factors);
    float *gram = xmallocarray((size_t)m->factors * m->factors, sizeof(float));
    enum rc rc = als_gram(m, gram, e);
    if (!rc) rc = als_fold_in_gram(m, p, gram, items, weights, n, out, e);
    free(gram);
    return rc;
}

enum rc als_explain_gram(const struct als_model *m, const struct als_params *p, const float *gram,
                         const uint32_t *items, const float *weights, size_t n, uint32_t target,
                         float *contrib, struct err *e)
{
    if (n && !contrib) return err_set(e, RC_INVALID_INPUT, "als: contrib must not be NULL");
    struct history h;
    enum rc rc = prepare_history(m, p, gram, items, weights, n, true, &h, e);
    if (rc) return rc;
    if (target >= m->nitems) {
        history_free(&h);
        return err_set(e, RC_INVALID_INPUT, "als: target %u is out of range (nitems %u)", target,
                       m->nitems);
    }
    uint32_t k = m->factors;
    if (h.n) {
        /*
         * z = W y_target (W is symmetric), so s_j = c_j (z . y_j) over the
         * merged entries j, and sum_j s_j = y_target^T W b = y_target . x.
         * A repeated item's s_j is shared among its entries by weight.
         */
        struct row rw = history_row(m, p, gram, &h);
        uint32_t ld;
        double *z, *l = fold_in_factor(&rw, k, &ld, &z); /* z: b's room, reused */
        const float *yt = m->item_factors + (size_t)target * k;
        if (l) {
            for (uint32_t j = 0; j < k; j++)
                z[j] = yt[j];
            spd_solve(l, k, ld, z);
        }
        for (size_t i = 0; i < n && !l; i++)
            contrib[i] = 0.0f; /* A could not be factored: no contributions */
        for (size_t i = 0; i < n && l; i++) {
            size_t j = h.slot[i];
            const float *yj = m->item_factors + (size_t)h.idx[j] * k;
            double s = 0.0;
            for (uint32_t q = 0; q < k; q++)
                s += z[q] * yj[q];
            double c = 1.0 + (double)p->alpha * h.val[j];
            double share = weights[i] == h.val[j] ? 1.0 : (double)weights[i] / h.val[j];
            contrib[i] = (float)(c * s * share);
        }
    }
    history_free(&h);
    return RC_OK;
}

enum rc als_explain(const struct als_model *m, const struct als_params *p, const uint32_t *items,
                    const float *weights, size_t n, uint32_t target, float *contrib, struct err *e)
{
    if (!m) return err_set(e, RC_INVALID_INPUT, "als: model must not be NULL");
    if (m->factors < 1 || m->factors > ALS_MAX_FACTORS)
        return err_set(e, RC_INVALID_INPUT, "als: model factors must be between 1 and %d (got %u)",
                       ALS_MAX_FACTORS, m->factors);
    float *gram = xmallocarray((size_t)m->factors * m->factors, sizeof(float));
    enum rc rc = als_gram(m, gram, e);
    if (!rc) rc = als_explain_gram(m, p, gram, items, weights, n, target, contrib, e);
    free(gram);
    return rc;
}
