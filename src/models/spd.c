/*
 * spd.c: small SPD systems for fold-ins (see spd.h).
 *
 * With AVX-512 the work is done on 8 x 8 blocks: the outer products build
 * a block row of A at a time in eight accumulators (one per row), and the
 * factorisation is right-looking by block columns: the diagonal block
 * factored in scalar code, the panel below it multiplied by the inverse of
 * its transposed factor, and the trailing blocks updated with a rank-8
 * product. Without AVX-512, plain unblocked loops do the same arithmetic
 * (results then differ in the last bits, not in meaning).
 */
#include "common/base.h"
#include "models/spd.h"

#include <immintrin.h>
#include <math.h>

static bool have_avx512(void)
{
    return __builtin_cpu_supports("avx512f"); /* a load from libgcc's CPU model: cheap */
}

/* ---- A += sum_t s_t y_t^T ----------------------------------------------- */

__attribute__((target("avx512f"))) static void outer_avx512(double *a, uint32_t ld, const double *y,
                                                            const double *s, size_t n)
{
    for (uint32_t i0 = 0; i0 < ld; i0 += 8)
        for (uint32_t c0 = 0; c0 <= i0; c0 += 8) {
            __m512d acc[8]; /* registers, once the loops over r are unrolled */
#pragma GCC unroll 8
            for (int r = 0; r < 8; r++)
                acc[r] = _mm512_loadu_pd(a + (size_t)(i0 + r) * ld + c0);
            for (size_t t = 0; t < n; t++) {
                __m512d yv = _mm512_loadu_pd(y + t * ld + c0);
                const double *st = s + t * ld + i0;
#pragma GCC unroll 8
                for (int r = 0; r < 8; r++)
                    acc[r] = _mm512_fmadd_pd(_mm512_set1_pd(st[r]), yv, acc[r]);
            }
#pragma GCC unroll 8
            for (int r = 0; r < 8; r++)
                _mm512_storeu_pd(a + (size_t)(i0 + r) * ld + c0, acc[r]);
        }
}

void spd_add_outer(double *a, uint32_t k, uint32_t ld, const double *y, const double *s, size_t n)
{
    if (have_avx512()) {
        outer_avx512(a, ld, y, s, n);
        return;
    }
    for (size_t t = 0; t < n; t++)
        for (uint32_t i = 0; i < k; i++)
            for (uint32_t p = 0; p <= i; p++)
                a[(size_t)i * ld + p] += s[t * ld + i] * y[t * ld + p];
}

/* ---- A = L L^T ------------------------------------------------------------ */

/* Unblocked Cholesky-Crout of the n x n block at d (stride ld), lower triangle. */
static bool chol_block(double *d, uint32_t n, uint32_t ld)
{
    for (uint32_t j = 0; j < n; j++) {
        double *dj = d + (size_t)j * ld, s = dj[j];
        for (uint32_t p = 0; p < j; p++)
            s -= dj[p] * dj[p];
        if (!(s > 0.0) || !isfinite(s)) return false;
        double r = sqrt(s);
        dj[j] = r;
        for (uint32_t i = j + 1; i < n; i++) {
            double *di = d + (size_t)i * ld, t = di[j];
            for (uint32_t p = 0; p < j; p++)
                t -= di[p] * dj[p];
            di[j] = t / r;
        }
    }
    return true;
}

__attribute__((target("avx512f"))) static bool chol_avx512(double *a, uint32_t ld, double *lt)
{
    for (uint32_t j0 = 0; j0 < ld; j0 += 8) {
        double *d = a + (size_t)j0 * ld + j0;
        if (!chol_block(d, 8, ld)) return false;
        /* inv = L_jj^-1 (lower), by columns; vt[p] holds its column p: lane c = inv[c][p]. */
        double inv[8][8] = {{0}};
        for (int c = 0; c < 8; c++) {
            inv[c][c] = 1.0 / d[(size_t)c * ld + c];
            for (int r = c + 1; r < 8; r++) {
                double t = 0.0;
                for (int p = c; p < r; p++)
                    t += d[(size_t)r * ld + p] * inv[p][c];
                inv[r][c] = -t / d[(size_t)r * ld + r];
            }
        }
        __m512d vt[8];
#pragma GCC unroll 8
        for (int p = 0; p < 8; p++) {
            double col[8];
            for (int c = 0; c < 8; c++)
                col[c] = inv[c][p];
            vt[p] = _mm512_loadu_pd(col);
        }
        /* Panel: row i's L_ij = A_ij L_jj^-T, i.e. l_c = sum_p a_p inv[c][p]; lt = its transpose.
         */
        for (uint32_t i = j0 + 8; i < ld; i++) {
            double *ai = a + (size_t)i * ld + j0;
            __m512d l = _mm512_setzero_pd();
#pragma GCC unroll 8
            for (int p = 0; p < 8; p++)
                l = _mm512_fmadd_pd(_mm512_set1_pd(ai[p]), vt[p], l);
            _mm512_storeu_pd(ai, l);
            for (int p = 0; p < 8; p++)
                lt[(size_t)p * ld + i] = ai[p];
        }
        /* Trailing blocks: A_ik -= L_ij L_kj^T for j0 + 8 <= k-block <= i. */
        for (uint32_t i = j0 + 8; i < ld; i++) {
            const double *li = a + (size_t)i * ld + j0;
            for (uint32_t c0 = j0 + 8; c0 <= i; c0 += 8) {
                double *ai = a + (size_t)i * ld + c0;
                __m512d acc0 = _mm512_loadu_pd(ai), acc1 = _mm512_setzero_pd();
#pragma GCC unroll 4
                for (int p = 0; p < 8; p += 2) {
                    acc0 = _mm512_fnmadd_pd(_mm512_set1_pd(li[p]),
                                            _mm512_loadu_pd(lt + (size_t)p * ld + c0), acc0);
                    acc1 = _mm512_fnmadd_pd(_mm512_set1_pd(li[p + 1]),
                                            _mm512_loadu_pd(lt + (size_t)(p + 1) * ld + c0), acc1);
                }
                _mm512_storeu_pd(ai, _mm512_add_pd(acc0, acc1));
            }
        }
    }
    return true;
}

bool spd_cholesky(double *a, uint32_t k, uint32_t ld, double *work)
{
    /* Past k: the identity, so that the blocks are whole and the padding stays apart. */
    for (uint32_t i = k; i < ld; i++) {
        memset(a + (size_t)i * ld, 0, i * sizeof(double));
        a[(size_t)i * ld + i] = 1.0;
    }
    if (have_avx512()) return chol_avx512(a, ld, work);
    return chol_block(a, k, ld);
}

/* ---- L L^T x = b ---------------------------------------------------------- */

__attribute__((target("avx512f"))) static double dot_avx512(const double *x, const double *y,
                                                            uint32_t n)
{
    __m512d acc = _mm512_setzero_pd();
    uint32_t p = 0;
    for (; p + 8 <= n; p += 8)
        acc = _mm512_fmadd_pd(_mm512_loadu_pd(x + p), _mm512_loadu_pd(y + p), acc);
    if (p < n) {
        __mmask8 m = (__mmask8)((1u << (n - p)) - 1);
        acc =
            _mm512_fmadd_pd(_mm512_maskz_loadu_pd(m, x + p), _mm512_maskz_loadu_pd(m, y + p), acc);
    }
    return _mm512_reduce_add_pd(acc);
}

__attribute__((target("avx512f"))) static void axpy_avx512(double *y, const double *x, double a,
                                                           uint32_t n)
{
    __m512d av = _mm512_set1_pd(a);
    uint32_t p = 0;
    for (; p + 8 <= n; p += 8)
        _mm512_storeu_pd(y + p,
                         _mm512_fmadd_pd(av, _mm512_loadu_pd(x + p), _mm512_loadu_pd(y + p)));
    if (p < n) {
        __mmask8 m = (__mmask8)((1u << (n - p)) - 1);
        _mm512_mask_storeu_pd(
            y + p, m,
            _mm512_fmadd_pd(av, _mm512_maskz_loadu_pd(m, x + p), _mm512_maskz_loadu_pd(m, y + p)));
    }
}

void spd_solve(const double *l, uint32_t k, uint32_t ld, double *b)
{
    bool avx512 = have_avx512();
    /* L z = b, by rows. */
    for (uint32_t i = 0; i < k; i++) {
        const double *li = l + (size_t)i * ld;
        double s = 0.0;
        if (avx512) {
            s = dot_avx512(li, b, i);
        } else {
            for (uint32_t p = 0; p < i; p++)
                s += li[p] * b[p];
        }
        b[i] = (b[i] - s) / li[i];
    }
    /* L^T x = z: x_i is final once the rows below have been subtracted. */
    for (uint32_t i = k; i-- > 0;) {
        const double *li = l + (size_t)i * ld;
        b[i] /= li[i];
        if (avx512) {
            axpy_avx512(b, li, -b[i], i);
        } else {
            for (uint32_t p = 0; p < i; p++)
                b[p] -= li[p] * b[i];
        }
    }
}
