/*
 * blas.h: making OpenBLAS use the CPU's fast kernels.
 *
 * Debian 12's OpenBLAS 0.3.21 picks its kernels when the library loads,
 * before main(), from the CPU model it recognises. On CPUs newer than it
 * knows (AVX-512 Xeons among them) it falls back to generic "Prescott"
 * kernels, about 5x slower at GEMM, unless OPENBLAS_CORETYPE is set. savor
 * fixes that for its users: blas_select_kernels() sets the variable to the
 * best core type the CPU supports and re-executes the program once.
 */
#ifndef SAVOR_BLAS_H
#define SAVOR_BLAS_H

#include "common/base.h"

/*
 * Call first thing in main() for commands that do linear algebra. Returns
 * only if no re-exec was needed (or it failed, in which case the slow
 * kernels are used and a warning is logged). OPENBLAS_CORETYPE set by the
 * user is always respected.
 */
void blas_select_kernels(char **argv);

/* The kernel family OpenBLAS runs, e.g. "SkylakeX" (borrowed string). */
const char *blas_core_name(void);

/* The core type blas_select_kernels() would choose for this CPU, or NULL. */
const char *blas_best_core_type(void);

#endif
