/*
 * scratch.h: per-thread scratch buffers, reused from call to call.
 *
 * A recommendation needs a few arrays the size of the catalog, and a fold-in
 * a k x k matrix. Allocated and freed per request, the large ones made glibc
 * hand memory back to the kernel and fault it in again on the next request
 * (madvise and page faults were a quarter of a request's CPU time). Each
 * slot is instead one buffer per thread, grown on demand and freed when the
 * thread exits.
 *
 * A slot's buffer stays valid until the next scratch_get() of the same slot
 * on the same thread, so a function must not call anything that takes the
 * slot it holds. Contents are not cleared.
 */
#ifndef SAVOR_SCRATCH_H
#define SAVOR_SCRATCH_H

#include "common/base.h"

enum scratch_slot {
    SCRATCH_FOLD_IN, /* models/als.c: the fold-in's system */
    SCRATCH_SCORES,  /* models/engine.c: a request's per-item scores */
    SCRATCH_BOUNDS,  /* models/engine.c: the top-k pass's per-slot bounds */
    SCRATCH_SLOTS
};

/* A buffer of at least 'bytes' bytes (64-byte aligned) owned by this thread's 'slot'. */
void *scratch_get(enum scratch_slot slot, size_t bytes);

#endif
