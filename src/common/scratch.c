/*
 * scratch.c: per-thread scratch buffers (see scratch.h).
 */
#include "common/base.h"
#include "common/scratch.h"

#include <pthread.h>

struct scratch {
    void *p[SCRATCH_SLOTS];
    size_t cap[SCRATCH_SLOTS];
};

static pthread_key_t scratch_key;
static pthread_once_t scratch_once = PTHREAD_ONCE_INIT;

static void scratch_free(void *arg)
{
    struct scratch *s = arg;
    for (int i = 0; i < SCRATCH_SLOTS; i++)
        free(s->p[i]);
    free(s);
}

static void scratch_key_create(void)
{
    if (pthread_key_create(&scratch_key, scratch_free) != 0) {
        fprintf(stderr, "savor: cannot create a thread-specific key\n");
        abort();
    }
}

void *scratch_get(enum scratch_slot slot, size_t bytes)
{
    pthread_once(&scratch_once, scratch_key_create);
    struct scratch *s = pthread_getspecific(scratch_key);
    if (!s) {
        s = xcalloc(1, sizeof(*s));
        pthread_setspecific(scratch_key, s);
    }
    if (bytes > s->cap[slot] || !s->p[slot]) {
        size_t cap = MAX(bytes, (size_t)4096);
        cap = MAX(cap, s->cap[slot] + s->cap[slot] / 2);
        cap = (cap + 63) & ~(size_t)63;
        free(s->p[slot]);
        s->p[slot] = aligned_alloc(64, cap);
        if (!s->p[slot]) {
            fprintf(stderr, "savor: out of memory (scratch of %zu bytes)\n", cap);
            abort();
        }
        s->cap[slot] = cap;
    }
    return s->p[slot];
}
