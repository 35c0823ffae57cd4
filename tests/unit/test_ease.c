/*
 * test_ease.c: unit tests for src/models/ease.c (the EASE item-item model).
 *
 * Besides parameter and input validation, B is checked against a naive dense
 * double Gauss-Jordan inverse, on planted clusters, for the explanation
 * property of ease_score, for bit-identical retraining, and for quality on
 * MovieLens 100K when the shared data is present (SAVOR_SHARED, else
 * ../shared next to the working directory or the repository).
 */
#include "common/base.h"

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>
#include <unistd.h>

#include "common/clock.h"
#include "models/csr.h"
#include "models/ease.h"
#include "movielens.h"

/* OpenBLAS: the kernel family in use, printed with the timings. */
char *openblas_get_corename(void);

/* ---- helpers ---- */

static uint64_t rng_next(uint64_t *s)
{
    uint64_t z = (*s += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

/* Uniform in [0, n). */
static uint32_t rng_below(uint64_t *s, uint32_t n)
{
    return (uint32_t)(rng_next(s) % n);
}

static double rng_unit(uint64_t *s)
{
    return (double)(rng_next(s) >> 11) / 9007199254740992.0;
}

/* Triplets that grow; turned into a CSR by csr_from_triplets. */
struct trip {
    uint32_t *rows, *cols;
    float *vals;
    uint64_t n, alloc;
};

static void trip_add(struct trip *t, uint32_t r, uint32_t c, float v)
{
    if (t->n == t->alloc) {
        t->alloc = t->alloc ? 2 * t->alloc : 256;
        t->rows = xreallocarray(t->rows, t->alloc, sizeof(*t->rows));
        t->cols = xreallocarray(t->cols, t->alloc, sizeof(*t->cols));
        t->vals = xreallocarray(t->vals, t->alloc, sizeof(*t->vals));
    }
    t->rows[t->n] = r;
    t->cols[t->n] = c;
    t->vals[t->n] = v;
    t->n++;
}

static struct csr *trip_csr(struct trip *t, uint32_t nrows, uint32_t ncols)
{
    struct csr *m = csr_from_triplets(nrows, ncols, t->rows, t->cols, t->vals, t->n);
    free(t->rows);
    free(t->cols);
    free(t->vals);
    memset(t, 0, sizeof(*t));
    return m;
}

/* Add 'k' distinct items drawn from [lo, lo + span) to row r with weight v. */
static void add_distinct(struct trip *t, uint64_t *seed, uint32_t r, uint32_t lo, uint32_t span,
                         uint32_t k, float v)
{
    bool *taken = xcalloc(span, sizeof(*taken));
    for (uint32_t got = 0; got < k && got < span;) {
        uint32_t c = rng_below(seed, span);
        if (taken[c]) continue;
        taken[c] = true;
        trip_add(t, r, lo + c, v);
        got++;
    }
    free(taken);
}

/*
 * The reference: dense G = X^T X + l2 I, inverted by Gauss-Jordan with
 * partial pivoting in double, then B = I - P diag(1/diag(P)). Returns n x n.
 */
static double *naive_ease(const struct csr *x, double l2)
{
    size_t n = x->ncols;
    double *G = xcalloc(n * n, sizeof(*G));
    for (uint32_t r = 0; r < x->nrows; r++)
        for (uint64_t a = x->indptr[r]; a < x->indptr[r + 1]; a++)
            for (uint64_t b = x->indptr[r]; b < x->indptr[r + 1]; b++)
                G[x->indices[a] * n + x->indices[b]] += (double)x->values[a] * x->values[b];
    for (size_t i = 0; i < n; i++)
        G[i * n + i] += l2;

    /* [G | I] -> [I | G^-1] */
    double *P = xcalloc(n * n, sizeof(*P));
    for (size_t i = 0; i < n; i++)
        P[i * n + i] = 1.0;
    for (size_t c = 0; c < n; c++) {
        size_t piv = c;
        for (size_t r = c + 1; r < n; r++)
            if (fabs(G[r * n + c]) > fabs(G[piv * n + c])) piv = r;
        assert_true(fabs(G[piv * n + c]) > 1e-300);
        for (size_t k = 0; k < n && piv != c; k++) {
            double t = G[c * n + k];
            G[c * n + k] = G[piv * n + k];
            G[piv * n + k] = t;
            t = P[c * n + k];
            P[c * n + k] = P[piv * n + k];
            P[piv * n + k] = t;
        }
        double d = G[c * n + c];
        for (size_t k = 0; k < n; k++) {
            G[c * n + k] /= d;
            P[c * n + k] /= d;
        }
        for (size_t r = 0; r < n; r++) {
            if (r == c) continue;
            double f = G[r * n + c];
            if (f == 0.0) continue;
            for (size_t k = 0; k < n; k++) {
                G[r * n + k] -= f * G[c * n + k];
                P[r * n + k] -= f * P[c * n + k];
            }
        }
    }
    double *B = xcalloc(n * n, sizeof(*B));
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < n; j++)
            B[i * n + j] = i == j ? 0.0 : -P[i * n + j] / P[j * n + j];
    free(G);
    free(P);
    return B;
}

static void train_ok(const struct csr *x, float l2, int threads, struct ease_model *m)
{
    struct ease_params p;
    ease_params_default(&p);
    p.l2 = l2;
    p.threads = threads;
    struct err e = ERR_INIT;
    enum rc rc = ease_train(x, &p, m, &e);
    if (rc) fail_msg("ease_train: %s: %s", rc_name(rc), e.msg);
    assert_int_equal(m->nitems, x->ncols);
    assert_non_null(m->B);
}

/* Compare ease_train's B with the naive reference within 'tol' (absolute). */
static void check_matches_naive(const struct csr *x, float l2, double tol)
{
    struct ease_model m;
    train_ok(x, l2, 0, &m);
    double *ref = naive_ease(x, l2);
    size_t n = x->ncols;
    double worst = 0, maxabs = 0;
    for (size_t i = 0; i < n; i++) {
        for (size_t j = 0; j < n; j++) {
            double d = fabs((double)m.B[i * n + j] - ref[i * n + j]);
            worst = MAX(worst, d);
            maxabs = MAX(maxabs, fabs(ref[i * n + j]));
            if (d > tol)
                fail_msg("B[%zu][%zu] = %.9g, naive %.9g (diff %.3g)", i, j, (double)m.B[i * n + j],
                         ref[i * n + j], d);
        }
        assert_true(m.B[i * n + i] == 0.0f); /* exactly */
    }
    assert_true(maxabs > 1e-3); /* the comparison is not vacuous */
    free(ref);
    ease_model_release(&m);
    assert_null(m.B);
}

/* ---- validation ---- */

static void test_params_default(void **state)
{
    UNUSED(state);
    struct ease_params p;
    memset(&p, 0xAB, sizeof(p));
    ease_params_default(&p);
    assert_true(p.l2 == 200.0f);
    assert_int_equal(p.threads, 0);
}

static struct csr *tiny_csr(void)
{
    struct trip t = {0};
    trip_add(&t, 0, 0, 1);
    trip_add(&t, 0, 1, 1);
    trip_add(&t, 1, 1, 1);
    trip_add(&t, 1, 2, 1);
    return trip_csr(&t, 2, 3);
}

static void expect_fail(const struct csr *x, const struct ease_params *p, enum rc want,
                        const char *needle)
{
    struct err e = ERR_INIT;
    struct ease_model m = {7, (float *)&m}; /* garbage: must be reset */
    enum rc rc = ease_train(x, p, &m, &e);
    if (rc != want)
        fail_msg("want %s, got %s (%s) for '%s'", rc_name(want), rc_name(rc), e.msg, needle);
    assert_int_equal(e.rc, want);
    if (!strstr(e.msg, needle)) fail_msg("message '%s' lacks '%s'", e.msg, needle);
    assert_null(m.B);
    assert_int_equal(m.nitems, 0);
    ease_model_release(&m);
}

static void test_rejects_bad_params(void **state)
{
    UNUSED(state);
    struct csr *x = tiny_csr();
    struct ease_params p;
    const float bad_l2[] = {0.0f, -0.0f, -1.0f, NAN, INFINITY, -INFINITY};
    for (size_t i = 0; i < ARRAY_SIZE(bad_l2); i++) {
        ease_params_default(&p);
        p.l2 = bad_l2[i];
        expect_fail(x, &p, RC_INVALID_INPUT, "l2");
    }
    const int bad_threads[] = {-1, 257, INT32_MIN};
    for (size_t i = 0; i < ARRAY_SIZE(bad_threads); i++) {
        ease_params_default(&p);
        p.threads = bad_threads[i];
        expect_fail(x, &p, RC_INVALID_INPUT, "threads");
    }
    ease_params_default(&p);
    expect_fail(NULL, &p, RC_INVALID_INPUT, "ui");
    expect_fail(x, NULL, RC_INVALID_INPUT, "params");
    struct err e = ERR_INIT;
    assert_int_equal(ease_train(x, &p, NULL, &e), RC_INVALID_INPUT);
    assert_non_null(strstr(e.msg, "out"));

    /* The edges are fine. */
    struct ease_model m;
    ease_params_default(&p);
    p.threads = 256;
    p.l2 = 1e-3f;
    assert_int_equal(ease_train(x, &p, &m, &e), RC_OK);
    ease_model_release(&m);
    ease_model_release(&m); /* twice is harmless */
    ease_model_release(NULL);
    csr_free(x);
}

static void test_rejects_huge_catalog(void **state)
{
    UNUSED(state);
    /* A fake matrix: training would need 12.8 GB, so it must fail before allocating. */
    uint64_t indptr[2] = {0, 0};
    struct csr x = {.nrows = 1, .ncols = EASE_MAX_ITEMS + 1, .nnz = 0, .indptr = indptr};
    struct ease_params p;
    ease_params_default(&p);
    double t0 = clock_monotonic();
    expect_fail(&x, &p, RC_LIMIT_EXCEEDED, "ALS");
    expect_fail(&x, &p, RC_LIMIT_EXCEEDED, "40000");
    assert_true(clock_monotonic() - t0 < 0.5);
    /* Parameters are checked first. */
    p.l2 = -1;
    expect_fail(&x, &p, RC_INVALID_INPUT, "l2");
}

static void test_rejects_malformed_csr(void **state)
{
    UNUSED(state);
    struct ease_params p;
    ease_params_default(&p);
    uint64_t indptr[3] = {0, 2, 3};
    uint32_t indices[3] = {0, 1, 2};
    float values[3] = {1, 1, 1};
    struct csr x = {
        .nrows = 2, .ncols = 3, .nnz = 3, .indptr = indptr, .indices = indices, .values = values};
    struct ease_model m;
    struct err e = ERR_INIT;
    assert_int_equal(ease_train(&x, &p, &m, &e), RC_OK);
    ease_model_release(&m);

    indices[1] = 0; /* duplicate column in row 0 */
    expect_fail(&x, &p, RC_INVALID_INPUT, "ascending");
    indices[0] = 1; /* descending */
    expect_fail(&x, &p, RC_INVALID_INPUT, "ascending");
    indices[0] = 0;
    indices[1] = 1;
    indices[2] = 3; /* outside the catalog */
    expect_fail(&x, &p, RC_INVALID_INPUT, "column 3");
    indices[2] = 2;
    values[2] = NAN;
    expect_fail(&x, &p, RC_INVALID_INPUT, "non-finite");
    values[2] = INFINITY;
    expect_fail(&x, &p, RC_INVALID_INPUT, "non-finite");
    values[2] = 1;
    indptr[2] = 2; /* does not end at nnz */
    expect_fail(&x, &p, RC_INVALID_INPUT, "indptr");
    indptr[2] = 3;
    indptr[1] = 4; /* beyond nnz */
    expect_fail(&x, &p, RC_INVALID_INPUT, "indptr");
    indptr[1] = 2;
    x.ncols = 0;
    expect_fail(&x, &p, RC_INVALID_INPUT, "no items");
}

static void test_not_positive_definite(void **state)
{
    UNUSED(state);
    /* Two identical item columns with G = [[4, 4], [4, 4]]: l2 = 1e-30 vanishes next to 4. */
    struct trip t = {0};
    for (uint32_t u = 0; u < 4; u++) {
        trip_add(&t, u, 0, 1);
        trip_add(&t, u, 1, 1);
    }
    struct csr *x = trip_csr(&t, 4, 2);
    struct ease_params p;
    ease_params_default(&p);
    p.l2 = 1e-30f;
    expect_fail(x, &p, RC_INVALID_INPUT, "larger l2");
    csr_free(x);
}

/* ---- correctness ---- */

static void test_tiny_matches_naive(void **state)
{
    UNUSED(state);
    /* 6 users x 5 items, item 4 never seen. Weights differ so G is not just counts. */
    static const struct {
        uint32_t u, i;
        float w;
    } data[] = {
        {0, 0, 1}, {0, 1, 2}, {1, 0, 1}, {1, 1, 1},   {1, 2, 0.5f}, {2, 1, 1}, {2, 2, 3},
        {3, 2, 1}, {3, 3, 1}, {4, 3, 2}, {4, 0, 1.5}, {5, 1, 1},    {5, 0, 1},
    };
    struct trip t = {0};
    for (size_t k = 0; k < ARRAY_SIZE(data); k++)
        trip_add(&t, data[k].u, data[k].i, data[k].w);
    struct csr *x = trip_csr(&t, 6, 5);
    check_matches_naive(x, 1.0f, 1e-5);
    check_matches_naive(x, 10.0f, 1e-5);

    /* The item with no interactions: a zero row and column. */
    struct ease_model m;
    train_ok(x, 1.0f, 1, &m);
    for (uint32_t k = 0; k < 5; k++) {
        assert_true(m.B[4 * 5 + k] == 0.0f);
        assert_true(m.B[k * 5 + 4] == 0.0f);
    }
    /* Items 0 and 1 co-occur most: each is the other's strongest neighbour. */
    assert_true(m.B[0 * 5 + 1] > m.B[0 * 5 + 2] && m.B[0 * 5 + 1] > m.B[0 * 5 + 3]);
    assert_true(m.B[1 * 5 + 0] > 0.0f);
    ease_model_release(&m);
    csr_free(x);
}

/*
 * Light users (scattered) and 150 heavy ones (>= 1/4 of the items): 128 of
 * them fill one dense dsyrk batch, the other 22 are scattered.
 */
static void test_random_matches_naive(void **state)
{
    UNUSED(state);
    uint64_t seed = 12345;
    const uint32_t nitems = 40, light = 150, heavy = 150;
    struct trip t = {0};
    for (uint32_t u = 0; u < light + heavy; u++) {
        uint32_t k = u < light ? 1 + rng_below(&seed, 8) : 12 + rng_below(&seed, 20);
        bool *taken = xcalloc(nitems, sizeof(*taken));
        for (uint32_t got = 0; got < k;) {
            /* Skewed popularity: low item ids are likelier. */
            uint32_t c = (uint32_t)(nitems * rng_unit(&seed) * rng_unit(&seed));
            if (taken[c]) continue;
            taken[c] = true;
            trip_add(&t, u, c, (float)(0.5 + 2 * rng_unit(&seed)));
            got++;
        }
        free(taken);
    }
    struct csr *x = trip_csr(&t, light + heavy, nitems);
    check_matches_naive(x, 5.0f, 1e-5);
    check_matches_naive(x, 200.0f, 1e-5);
    csr_free(x);
}

/* More light entries than ease.c indexes at once (65536): G is built over several user ranges. */
static void test_many_users_matches_naive(void **state)
{
    UNUSED(state);
    uint64_t seed = 4242;
    const uint32_t nitems = 300, nusers = 5000;
    struct trip t = {0};
    for (uint32_t u = 0; u < nusers; u++) {
        uint32_t k = u % 250 == 7 ? 100 : 10 + rng_below(&seed, 40); /* a few heavy rows too */
        add_distinct(&t, &seed, u, 0, nitems, k, (float)(1 + rng_below(&seed, 4)));
    }
    struct csr *x = trip_csr(&t, nusers, nitems);
    assert_true(x->nnz > 2 * 65536);
    check_matches_naive(x, 100.0f, 1e-5);
    csr_free(x);
}

/* 200 users, 60 items in 3 clusters of 20; user u likes cluster u % 3, plus some noise. */
static struct csr *cluster_csr(void)
{
    uint64_t seed = 777;
    struct trip t = {0};
    for (uint32_t u = 0; u < 200; u++) {
        uint32_t c = u % 3;
        add_distinct(&t, &seed, u, 20 * c, 20, 6 + rng_below(&seed, 6), 1.0f);
        if (rng_unit(&seed) < 0.3) { /* one item from another cluster */
            uint32_t other = (c + 1 + rng_below(&seed, 2)) % 3;
            trip_add(&t, u, 20 * other + rng_below(&seed, 20), 1.0f);
        }
    }
    return trip_csr(&t, 200, 60);
}

static void test_planted_clusters(void **state)
{
    UNUSED(state);
    struct csr *x = cluster_csr();
    struct ease_model m;
    train_ok(x, 10.0f, 0, &m);
    float scores[60];
    for (uint32_t u = 0; u < x->nrows; u++) {
        uint64_t lo = x->indptr[u], n = x->indptr[u + 1] - lo;
        ease_score(&m, x->indices + lo, x->values + lo, (size_t)n, scores);
        for (uint64_t k = 0; k < n; k++)
            scores[x->indices[lo + k]] = -INFINITY;
        /* The top 5 unseen items all come from the user's cluster. */
        for (int rank = 0; rank < 5; rank++) {
            uint32_t best = 0;
            for (uint32_t j = 1; j < 60; j++)
                if (scores[j] > scores[best]) best = j;
            if (best / 20 != u % 3)
                fail_msg("user %u (cluster %u): rank %d is item %u of cluster %u", u, u % 3, rank,
                         best, best / 20);
            scores[best] = -INFINITY;
        }
    }
    /* Within-cluster weights dominate: mean B inside vs across clusters. */
    double in = 0, across = 0;
    for (uint32_t i = 0; i < 60; i++)
        for (uint32_t j = 0; j < 60; j++)
            if (i != j) *(i / 20 == j / 20 ? &in : &across) += m.B[i * 60 + j];
    in /= 3 * 20 * 19;
    across /= 60 * 40;
    print_message("planted clusters: mean B within %.4f, across %.4f\n", in, across);
    assert_true(in > 10 * fabs(across));
    ease_model_release(&m);
    csr_free(x);
}

static void test_score_is_sum_of_contributions(void **state)
{
    UNUSED(state);
    struct csr *x = cluster_csr();
    struct ease_model m;
    train_ok(x, 10.0f, 0, &m);
    const uint32_t n = m.nitems;
    float scores[60];

    /* Arbitrary weights, repeated items allowed: the model is linear in the history. */
    const uint32_t items[] = {3, 17, 25, 3, 59, 0};
    const float w[] = {1.0f, 0.5f, 2.0f, 0.25f, -1.0f, 3.0f};
    ease_score(&m, items, w, ARRAY_SIZE(items), scores);
    for (uint32_t j = 0; j < n; j++) {
        double s = 0;
        for (size_t k = 0; k < ARRAY_SIZE(items); k++)
            s += (double)w[k] * m.B[items[k] * n + j];
        if (fabs(s - scores[j]) > 1e-5 * (1 + fabs(s)))
            fail_msg("item %u: ease_score %.9g, sum of contributions %.9g", j, (double)scores[j],
                     s);
    }

    /* A training user's scores are (X B)_u. */
    for (uint32_t u = 0; u < x->nrows; u += 17) {
        uint64_t lo = x->indptr[u], len = x->indptr[u + 1] - lo;
        ease_score(&m, x->indices + lo, x->values + lo, (size_t)len, scores);
        for (uint32_t j = 0; j < n; j++) {
            double s = 0;
            for (uint64_t k = lo; k < lo + len; k++)
                s += (double)x->values[k] * m.B[x->indices[k] * n + j];
            assert_true(fabs(s - scores[j]) <= 1e-5 * (1 + fabs(s)));
        }
    }

    /* One item with weight 1 scores exactly its row of B. */
    const uint32_t one = 42;
    const float w1 = 1.0f;
    ease_score(&m, &one, &w1, 1, scores);
    assert_memory_equal(scores, m.B + one * n, n * sizeof(float));

    /* No history: all zero; items outside the catalog contribute nothing. */
    const uint32_t outside[] = {60, UINT32_MAX};
    const float wo[] = {1.0f, 1.0f};
    for (uint32_t j = 0; j < n; j++)
        scores[j] = 123.0f;
    ease_score(&m, NULL, NULL, 0, scores);
    for (uint32_t j = 0; j < n; j++)
        assert_true(scores[j] == 0.0f);
    ease_score(&m, outside, wo, 2, scores);
    for (uint32_t j = 0; j < n; j++)
        assert_true(scores[j] == 0.0f);
    ease_model_release(&m);
    csr_free(x);
}

static void test_deterministic(void **state)
{
    UNUSED(state);
    /* Big enough for blocked, multi-threaded LAPACK; heavy users fill a dsyrk batch. */
    uint64_t seed = 99;
    const uint32_t nitems = 600, nusers = 1500;
    struct trip t = {0};
    for (uint32_t u = 0; u < nusers; u++) {
        uint32_t k = u % 10 == 0 ? 200 : 5 + rng_below(&seed, 40); /* 150 heavy */
        add_distinct(&t, &seed, u, 0, nitems, k, (float)(1 + rng_below(&seed, 3)));
    }
    struct csr *x = trip_csr(&t, nusers, nitems);
    struct ease_model a, b, c;
    train_ok(x, 50.0f, 2, &a);
    train_ok(x, 50.0f, 2, &b);
    assert_memory_equal(a.B, b.B, (size_t)nitems * nitems * sizeof(float));
    /* A different thread count may round differently, but agrees closely. */
    train_ok(x, 50.0f, 1, &c);
    double worst = 0;
    for (size_t i = 0; i < (size_t)nitems * nitems; i++)
        worst = MAX(worst, fabs((double)a.B[i] - c.B[i]));
    assert_true(worst < 1e-6);
    ease_model_release(&a);
    ease_model_release(&b);
    ease_model_release(&c);
    csr_free(x);
}

/* ---- MovieLens 100K ---- */


/* Top-10 unseen items of 'scores' (seen items set to -inf), ties to the lower id. */
/* EASE scores from the user's training row (ctx: the model). */
static void ease_user_scores(void *ctx, const struct ml_split *sp, uint32_t u, float *scores)
{
    const struct csr *x = sp->train;
    uint64_t lo = x->indptr[u], n = x->indptr[u + 1] - lo;
    ease_score(ctx, x->indices + lo, x->values + lo, (size_t)n, scores);
}

static void test_movielens_100k(void **state)
{
    UNUSED(state);
    char *path = find_ml100k();
    if (!path) {
        print_message("MovieLens 100K not found (set SAVOR_SHARED to the folder holding "
                      "data/ml-100k/u.data); skipping\n");
        skip();
    }
    size_t n;
    uint32_t nusers, nitems;
    struct rating *r = load_udata(path, &n, &nusers, &nitems);
    assert_int_equal(n, 100000);
    qsort(r, n, sizeof(*r), by_user_time);

    /* Hold out the newest 10% of each user's ratings (users with >= 10); binary weights. */
    struct ml_split sp;
    ml_split_latest(r, n, nusers, nitems, false, &sp);
    float *pop = ml_popularity(&sp);
    double pop_ndcg = ml_ndcg10(&sp, ml_score_popularity, pop);

#if defined(__SANITIZE_ADDRESS__)
    static const float l2s[] = {200.0f};
#else
    static const float l2s[] = {50.0f, 100.0f, 200.0f, 500.0f, 1000.0f};
#endif
    print_message("MovieLens 100K (%s): %u users x %u items, %llu train, %llu held out of "
                  "%u users; OpenBLAS %s kernels\n",
                  path, nusers, nitems, (unsigned long long)sp.train->nnz,
                  (unsigned long long)sp.ntest, sp.ntest_users, openblas_get_corename());
    print_message("  %-12s NDCG@10  train s  eval s\n", "model");
    print_message("  %-12s %.4f\n", "popularity", pop_ndcg);
    double best = 0;
    float best_l2 = 0;
    for (size_t i = 0; i < ARRAY_SIZE(l2s); i++) {
        struct ease_model m;
        double t0 = clock_monotonic();
        train_ok(sp.train, l2s[i], 0, &m);
        double t1 = clock_monotonic();
        double v = ml_ndcg10(&sp, ease_user_scores, &m);
        double t2 = clock_monotonic();
        print_message("  EASE l2=%-5g %.4f  %7.3f  %6.3f\n", (double)l2s[i], v, t1 - t0, t2 - t1);
        if (v > best) {
            best = v;
            best_l2 = l2s[i];
        }
        ease_model_release(&m);
    }
    print_message("  best: l2=%g, %.2fx popularity\n", (double)best_l2, best / pop_ndcg);
    assert_true(best >= 1.3 * pop_ndcg);

    free(pop);
    ml_split_release(&sp);
    free(r);
    free(path);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_params_default),
        cmocka_unit_test(test_rejects_bad_params),
        cmocka_unit_test(test_rejects_huge_catalog),
        cmocka_unit_test(test_rejects_malformed_csr),
        cmocka_unit_test(test_not_positive_definite),
        cmocka_unit_test(test_tiny_matches_naive),
        cmocka_unit_test(test_random_matches_naive),
        cmocka_unit_test(test_many_users_matches_naive),
        cmocka_unit_test(test_planted_clusters),
        cmocka_unit_test(test_score_is_sum_of_contributions),
        cmocka_unit_test(test_deterministic),
        cmocka_unit_test(test_movielens_100k),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
