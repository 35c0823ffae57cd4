/*
 * blas.c: OPENBLAS_CORETYPE selection and re-exec (see blas.h).
 */
#include "common/base.h"
#include "models/blas.h"
#include "common/log.h"

#include <errno.h>
#include <strings.h>
#include <unistd.h>

char *openblas_get_corename(void);

#define REEXEC_MARK "SAVOR_BLAS_REEXEC"

const char *blas_core_name(void)
{
    return openblas_get_corename();
}

const char *blas_best_core_type(void)
{
#if defined(__x86_64__) && defined(__GNUC__)
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
        __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq"))
        return "SkylakeX";
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return "Haswell";
#endif
    return NULL;
}

/* Kernel families that mean OpenBLAS did not recognise a modern CPU. */
static bool is_fallback_core(const char *core)
{
    static const char *const generic[] = {"Prescott", "Core2", "Nehalem", "Sandybridge", "Atom"};
    for (size_t i = 0; i < ARRAY_SIZE(generic); i++)
        if (strcasecmp(core, generic[i]) == 0) return true;
    return false;
}

void blas_select_kernels(char **argv)
{
    if (getenv(REEXEC_MARK)) {
        unsetenv(REEXEC_MARK); /* children of savor start fresh */
        return;
    }
    if (getenv("OPENBLAS_CORETYPE")) return; /* the user's choice */
    const char *best = blas_best_core_type();
    const char *core = openblas_get_corename();
    if (!best || !core || !is_fallback_core(core)) return;
    setenv("OPENBLAS_CORETYPE", best, 1);
    setenv(REEXEC_MARK, "1", 1);
    execv("/proc/self/exe", argv);
    /* Still here: the exec failed; carry on with the slow kernels. */
    int err = errno;
    unsetenv("OPENBLAS_CORETYPE");
    unsetenv(REEXEC_MARK);
    log_warn(
        "blas",
        "OpenBLAS uses generic '%s' kernels on this CPU and re-running with OPENBLAS_CORETYPE=%s failed (%s); set OPENBLAS_CORETYPE=%s yourself for ~5x faster training",
        core, best, strerror(err), best);
}
