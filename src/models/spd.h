/*
 * spd.h: small symmetric positive definite systems in double precision,
 * for fold-ins.
 *
 * A fold-in (a user's vector from their history, on a request or a batch
 * line) builds and solves one k x k system, k around 64. LAPACK's blocked
 * dpotrf spends most of such a call packing and dispatching; these kernels
 * work on 8 x 8 blocks held in AVX-512 registers (a plain unblocked path
 * otherwise). Matrices are row-major with a leading dimension 'ld' that is a
 * multiple of 8 (spd_ld()); only the lower triangle is read, and the upper
 * one is left undefined.
 */
#ifndef SAVOR_SPD_H
#define SAVOR_SPD_H

#include "common/base.h"

/* The leading dimension for order k: k rounded up to a multiple of 8. */
static inline uint32_t spd_ld(uint32_t k)
{
    return (k + 7) & ~7u;
}

/*
 * A += sum_t s_t y_t^T for t < n, where y_t = y + t * ld and s_t = s + t * ld
 * (doubles; entries past k zero). With s_t = w_t y_t, that is A += sum_t w_t
 * y_t y_t^T.
 */
void spd_add_outer(double *a, uint32_t k, uint32_t ld, const double *y, const double *s, size_t n);

/*
 * Overwrite A's lower triangle with L, A = L L^T. The rows and columns past
 * k (up to ld) are set to the identity. 'work' has room for 8 * ld doubles.
 * Returns false (A then holds garbage) when A is not numerically positive
 * definite.
 */
bool spd_cholesky(double *a, uint32_t k, uint32_t ld, double *work);

/* Solve L L^T x = b in place (b has k entries), with L from spd_cholesky(). */
void spd_solve(const double *l, uint32_t k, uint32_t ld, double *b);

#endif
