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

#include <math.h>
#include <unistd.h>

#include "models/csr.h"

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

/*
 * The test split: each user's newest 10% of ratings held out (users with at
 * least 10), the rest for training with weight 1, or with log(1 + rating /
 * mean rating) (what src/models/weighting.c makes of a rating used as
 * EVENT_VALUE) when 'weighted'. 'r' must be sorted by_user_time.
 */
struct ml_split {
    struct csr *train;
    uint32_t nusers, nitems;
    uint64_t *test_ptr; /* per user, into test_items */
    uint32_t *test_items;
    uint64_t ntest;
    uint32_t ntest_users;
};

static void ml_split_latest(const struct rating *r, size_t n, uint32_t nusers, uint32_t nitems,
                            bool weighted, struct ml_split *sp)
{
    double mean = 0;
    for (size_t k = 0; k < n; k++)
        mean += r[k].rating / (double)n;
    memset(sp, 0, sizeof(*sp));
    sp->nusers = nusers;
    sp->nitems = nitems;
    sp->test_ptr = xcalloc((size_t)nusers + 1, sizeof(*sp->test_ptr));
    sp->test_items = xmallocarray(n ? n : 1, sizeof(*sp->test_items));
    uint32_t *rows = xmallocarray(n ? n : 1, sizeof(uint32_t));
    uint32_t *cols = xmallocarray(n ? n : 1, sizeof(uint32_t));
    float *vals = xmallocarray(n ? n : 1, sizeof(float));
    size_t ntrain = 0;
    for (size_t lo = 0; lo < n;) {
        size_t hi = lo;
        while (hi < n && r[hi].user == r[lo].user)
            hi++;
        size_t cnt = hi - lo, hold = cnt >= 10 ? cnt / 10 : 0;
        for (size_t k = lo; k < hi - hold; k++) {
            rows[ntrain] = r[k].user;
            cols[ntrain] = r[k].item;
            vals[ntrain++] = weighted ? (float)log1p(r[k].rating / mean) : 1.0f;
        }
        for (size_t k = hi - hold; k < hi; k++)
            sp->test_items[sp->ntest++] = r[k].item;
        sp->test_ptr[r[lo].user + 1] = hold;
        if (hold) sp->ntest_users++;
        lo = hi;
    }
    for (uint32_t u = 0; u < nusers; u++)
        sp->test_ptr[u + 1] += sp->test_ptr[u];
    assert_int_equal(sp->test_ptr[nusers], sp->ntest);
    sp->train = csr_from_triplets(nusers, nitems, rows, cols, vals, ntrain);
    free(rows);
    free(cols);
    free(vals);
}

static void ml_split_release(struct ml_split *sp)
{
    csr_free(sp->train);
    free(sp->test_ptr);
    free(sp->test_items);
    memset(sp, 0, sizeof(*sp));
}

#define TOPK 10

/* The TOPK best of scores[0..n) (-INFINITY excluded), best first; UINT32_MAX pads. */
static void top10(const float *scores, uint32_t n, uint32_t *top)
{
    uint32_t cnt = 0;
    for (uint32_t j = 0; j < n; j++) {
        float s = scores[j];
        if (s == -INFINITY) continue;
        if (cnt == TOPK && !(s > scores[top[TOPK - 1]])) continue;
        uint32_t at = cnt < TOPK ? cnt++ : TOPK - 1;
        while (at > 0 && s > scores[top[at - 1]]) {
            top[at] = top[at - 1];
            at--;
        }
        top[at] = j;
    }
    for (uint32_t k = cnt; k < TOPK; k++)
        top[k] = UINT32_MAX;
}

/* Fill scores[0..nitems) for user u of sp->train. */
typedef void (*ml_score_fn)(void *ctx, const struct ml_split *sp, uint32_t u, float *scores);

/* Popularity (the count of training users) as a scorer; ctx is a float[nitems]. */
static void ml_score_popularity(void *ctx, const struct ml_split *sp, uint32_t u, float *scores)
{
    UNUSED(u);
    memcpy(scores, ctx, sp->nitems * sizeof(*scores));
}

/* Item popularity over the training split, for ml_score_popularity; caller frees. */
static float *ml_popularity(const struct ml_split *sp)
{
    float *pop = xcalloc(sp->nitems ? sp->nitems : 1, sizeof(*pop));
    for (uint64_t k = 0; k < sp->train->nnz; k++)
        pop[sp->train->indices[k]] += 1.0f;
    return pop;
}

/*
 * Mean NDCG@10 over the users with held-out items, ranking every item not
 * in the user's training history by fn's scores (binary relevance).
 */
static double ml_ndcg10(const struct ml_split *sp, ml_score_fn fn, void *ctx)
{
    float *scores = xmallocarray(sp->nitems, sizeof(*scores));
    bool *relevant = xcalloc(sp->nitems, sizeof(*relevant));
    double sum = 0;
    uint32_t users = 0;
    for (uint32_t u = 0; u < sp->nusers; u++) {
        uint64_t tlo = sp->test_ptr[u], thi = sp->test_ptr[u + 1];
        if (tlo == thi) continue;
        const struct csr *x = sp->train;
        fn(ctx, sp, u, scores);
        for (uint64_t k = x->indptr[u]; k < x->indptr[u + 1]; k++)
            scores[x->indices[k]] = -INFINITY;
        uint32_t top[TOPK];
        top10(scores, sp->nitems, top);
        for (uint64_t k = tlo; k < thi; k++)
            relevant[sp->test_items[k]] = true;
        double dcg = 0, idcg = 0;
        for (uint32_t r = 0; r < TOPK; r++) {
            double disc = 1.0 / log2(r + 2.0);
            if (top[r] != UINT32_MAX && relevant[top[r]]) dcg += disc;
            if (r < thi - tlo) idcg += disc;
        }
        for (uint64_t k = tlo; k < thi; k++)
            relevant[sp->test_items[k]] = false;
        sum += dcg / idcg;
        users++;
    }
    free(scores);
    free(relevant);
    return users ? sum / users : 0;
}

#endif
