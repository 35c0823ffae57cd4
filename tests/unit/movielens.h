/*
 * movielens.h: MovieLens 100K for the unit tests' quality checks (header-only,
 * included by test_als.c and test_ease.c).
 *
 * The data lives in ../shared beside the repository and may not be copied
 * into it: find_ml100k() looks under $SAVOR_SHARED, ../shared from the
 * working directory, and ../shared beside the repository found from this
 * file's path or from the test binary's location. NULL when absent: the
 * caller skips its test with a message.
 */
#ifndef SAVOR_TEST_MOVIELENS_H
#define SAVOR_TEST_MOVIELENS_H

#include <unistd.h>

static bool ml_readable(const char *path)
{
    return access(path, R_OK) == 0;
}

static char *find_ml100k(void)
{
    const char *rel = "data/ml-100k/u.data";
    char *p;
    const char *env = getenv("SAVOR_SHARED");
    if (env && *env) {
        p = xasprintf("%s/%s", env, rel);
        if (ml_readable(p)) return p;
        free(p);
    }
    p = xasprintf("../shared/%s", rel);
    if (ml_readable(p)) return p;
    free(p);

    /* The repository root from this file's path (tests/unit/movielens.h). */
    const char *file = __FILE__;
    const char *tail = strstr(file, "tests/unit/movielens.h");
    if (tail) {
        p = xasprintf("%.*s../shared/%s", (int)(tail - file), file, rel);
        if (ml_readable(p)) return p;
        free(p);
    }

    /* The binary lives in <root>/build*\/tests/. */
    char exe[4096];
    ssize_t len = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
    if (len > 0) {
        exe[len] = '\0';
        for (int up = 0; up < 3; up++) {
            char *slash = strrchr(exe, '/');
            if (!slash) break;
            *slash = '\0';
        }
        p = xasprintf("%s/../shared/%s", exe, rel);
        if (ml_readable(p)) return p;
        free(p);
    }
    return NULL;
}

struct rating {
    uint32_t user, item; /* 0-based */
    float rating;        /* 1..5 */
    int64_t ts;
};

/* By user, then time, then item: each user's history in order. */
static int by_user_time(const void *a, const void *b)
{
    const struct rating *x = a, *y = b;
    if (x->user != y->user) return x->user < y->user ? -1 : 1;
    if (x->ts != y->ts) return x->ts < y->ts ? -1 : 1;
    return x->item < y->item ? -1 : x->item > y->item;
}

/* Read u.data (user item rating timestamp); the caller frees the array. */
static struct rating *load_udata(const char *path, size_t *n, uint32_t *nusers, uint32_t *nitems)
{
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    size_t cap = 1 << 17, len = 0;
    struct rating *r = xmallocarray(cap, sizeof(*r));
    char line[256];
    *nusers = *nitems = 0;
    while (fgets(line, sizeof(line), f)) {
        char *s = line, *end;
        unsigned long u = strtoul(s, &end, 10);
        if (end == s) continue;
        s = end;
        unsigned long i = strtoul(s, &end, 10);
        assert_true(end != s);
        s = end;
        unsigned long rating = strtoul(s, &end, 10);
        assert_true(end != s && rating >= 1 && rating <= 5);
        s = end;
        long long ts = strtoll(s, &end, 10);
        assert_true(end != s && u >= 1 && i >= 1 && u < 1000000 && i < 1000000);
        if (len == cap) r = xreallocarray(r, cap *= 2, sizeof(*r));
        r[len++] = (struct rating){(uint32_t)u - 1, (uint32_t)i - 1, (float)rating, ts};
        *nusers = MAX(*nusers, (uint32_t)u);
        *nitems = MAX(*nitems, (uint32_t)i);
    }
    fclose(f);
    *n = len;
    return r;
}

#endif
