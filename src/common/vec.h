/*
 * vec.h: a typed growable array (git's ALLOC_GROW as a struct).
 *
 *     VEC(uint32_t) ids = VEC_INIT;
 *     VEC_PUSH(&ids, 42);
 *     VEC_FREE(&ids);
 *
 * Growth aborts on exhaustion or size overflow (xreallocarray).
 */
#ifndef SAVOR_VEC_H
#define SAVOR_VEC_H

#include "common/base.h"

#define VEC(T)        \
    struct {          \
        T *v;         \
        size_t n;     \
        size_t alloc; \
    }

#define VEC_INIT   \
    {              \
        NULL, 0, 0 \
    }

/* Ensure capacity for at least 'want' elements. */
#define VEC_RESERVE(vec, want)                                             \
    do {                                                                   \
        if ((want) > (vec)->alloc) {                                       \
            size_t vec__a = (vec)->alloc ? (vec)->alloc : 16;              \
            while (vec__a < (want))                                        \
                vec__a *= 2;                                               \
            (vec)->v = xreallocarray((vec)->v, vec__a, sizeof(*(vec)->v)); \
            (vec)->alloc = vec__a;                                         \
        }                                                                  \
    } while (0)

#define VEC_PUSH(vec, x)                  \
    do {                                  \
        VEC_RESERVE((vec), (vec)->n + 1); \
        (vec)->v[(vec)->n++] = (x);       \
    } while (0)

#define VEC_FREE(vec)                \
    do {                             \
        free((vec)->v);              \
        (vec)->v = NULL;             \
        (vec)->n = (vec)->alloc = 0; \
    } while (0)

#define VEC_FOREACH(vec, it) for (it = (vec)->v; it < (vec)->v + (vec)->n; it++)

#endif
