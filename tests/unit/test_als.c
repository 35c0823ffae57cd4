/*
 * test_als.c: unit tests for src/models/als.c (implicit ALS).
 *
 * Parameter and input validation, empty inputs, planted clusters (monotone
 * loss, cluster-pure recommendations, exact vs conjugate-gradient solves),
 * bit-identical retraining across runs and thread counts, fold-in against
 * the trained user vectors, explanations that add up to the score,
 * cancellation, and quality on MovieLens 100K when the shared data is
 * present (SAVOR_SHARED, else ../shared next to the working directory or the
 * repository). SAVOR_TEST_VERBOSE=1 prints the MovieLens loss per iteration.
 */
#include "common/base.h"

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>
#include <unistd.h>

#include "common/clock.h"
#include "models/als.h"
#include "movielens.h"
#include "models/csr.h"

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

static uint32_t rng_below(uint64_t *s, uint32_t n)
{
    return (uint32_t)(rng_next(s) % n);
}

struct trip {
    uint32_t *rows, *cols;
    float *vals;
    uint64_t n, cap;
};

static void trip_add(struct trip *t, uint32_t r, uint32_t c, float v)
{
    if (t->n == t->cap) {
        t->cap = t->cap ? t->cap * 2 : 256;
        t->rows = xreallocarray(t->rows, t->cap, sizeof(*t->rows));
        t->cols = xreallocarray(t->cols, t->cap, sizeof(*t->cols));
        t->vals = xreallocarray(t->vals, t->cap, sizeof(*t->vals));
    }
    t->rows[t->n] = r;
    t->cols[t->n] = c;
    t->vals[t->n] = v;
    t->n++;
}

static void trip_free(struct trip *t)
{
    free(t->rows);
    free(t->cols);
    free(t->vals);
}

/*
 * Planted clusters: CL_USERS users and CL_ITEMS items in CL_K clusters (user
 * u and item i belong to cluster u % CL_K and i % CL_K); each user has 8-14
 * distinct items of their cluster with weights 1..3. One extra user and one
 * extra item have no interactions at all.
 */
#define CL_USERS 200
#define CL_ITEMS 100
#define CL_K     4
static struct csr *clusters(void)
{
    uint64_t s = 7;
    struct trip t = {0};
    for (uint32_t u = 0; u < CL_USERS; u++) {
        uint32_t c = u % CL_K, n = 8 + rng_below(&s, 7);
        bool used[CL_ITEMS / CL_K] = {false};
        for (uint32_t k = 0; k < n; k++) {
            uint32_t j;
            do {
                j = rng_below(&s, CL_ITEMS / CL_K);
            } while (used[j]);
            used[j] = true;
            trip_add(&t, u, j * CL_K + c, (float)(1 + rng_below(&s, 3)));
        }
    }
    struct csr *m = csr_from_triplets(CL_USERS + 1, CL_ITEMS + 1, t.rows, t.cols, t.vals, t.n);
    trip_free(&t);
    return m;
}

static void small_params(struct als_params *p)
{
    als_params_default(p);
    p->factors = 8;
    p->iterations = 12;
    p->threads = 2;
}

#define MAX_ITERS 64
struct losses {
    uint32_t n;
    uint32_t last_iteration;
    double v[MAX_ITERS];
    uint32_t cancel_at; /* 0 = never */
};

static bool record_loss(void *ctx, uint32_t iteration, double loss)
{
    struct losses *l = ctx;
    if (l->n < MAX_ITERS) l->v[l->n++] = loss;
    l->last_iteration = iteration;
    return l->cancel_at == 0 || iteration < l->cancel_at;
}

static float dotf(const float *a, const float *b, uint32_t k)
{
    double s = 0;
    for (uint32_t j = 0; j < k; j++)
        s += (double)a[j] * b[j];
    return (float)s;
}

/* Top-10 of 'scores' (entries of -inf skipped), ties to the lower index. */
static void user_scores(const struct als_model *m, const float *x, float *scores)
{
    for (uint32_t i = 0; i < m->nitems; i++)
        scores[i] = dotf(x, m->item_factors + (size_t)i * m->factors, m->factors);
}

/* Mean share of same-cluster items in the users' top 10 (nothing excluded). */
static double cluster_precision(const struct als_model *m)
{
    float *scores = xmallocarray(m->nitems, sizeof(*scores));
    double sum = 0;
    for (uint32_t u = 0; u < CL_USERS; u++) {
        user_scores(m, m->user_factors + (size_t)u * m->factors, scores);
        uint32_t top[TOPK], hits = 0;
        top10(scores, m->nitems, top);
        for (uint32_t r = 0; r < TOPK; r++)
            if (top[r] < CL_ITEMS && top[r] % CL_K == u % CL_K) hits++;
        sum += hits / (double)TOPK;
    }
    free(scores);
    return sum / CL_USERS;
}

static bool all_zero(const float *v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (v[i] != 0.0f) return false;
    return true;
}

/* ---- parameters and validation ---- */

static void test_defaults(void **state)
{
    UNUSED(state);
    struct als_params p;
    als_params_default(&p);
    assert_int_equal(p.factors, 64);
    assert_true(p.regularization == 0.35f);
    assert_true(p.alpha > 0.0f);
    assert_int_equal(p.iterations, 15);
    assert_int_equal(p.cg_steps, 3);
    assert_int_equal(p.seed, 42);
    assert_int_equal(p.threads, 0);
}

static void expect_invalid(const struct csr *m, const struct als_params *p, const char *needle)
{
    struct als_model model;
    struct err e = ERR_INIT;
    assert_int_equal(als_train(m, p, NULL, NULL, &model, &e), RC_INVALID_INPUT);
    assert_int_equal(e.rc, RC_INVALID_INPUT);
    if (!strstr(e.msg, needle)) fail_msg("message '%s' does not name '%s'", e.msg, needle);
    assert_null(model.user_factors);
    assert_null(model.item_factors);
}

static void test_param_validation(void **state)
{
    UNUSED(state);
    struct csr *m = clusters();
    struct als_params p;

    small_params(&p);
    p.factors = 0;
    expect_invalid(m, &p, "factors");
    p.factors = 1025;
    expect_invalid(m, &p, "factors");

    small_params(&p);
    p.regularization = -0.5f;
    expect_invalid(m, &p, "regularization");
    p.regularization = NAN;
    expect_invalid(m, &p, "regularization");
    p.regularization = INFINITY;
    expect_invalid(m, &p, "regularization");

    small_params(&p);
    p.alpha = 0.0f;
    expect_invalid(m, &p, "alpha");
    p.alpha = -1.0f;
    expect_invalid(m, &p, "alpha");
    p.alpha = NAN;
    expect_invalid(m, &p, "alpha");

    small_params(&p);
    p.iterations = 0;
    expect_invalid(m, &p, "iterations");
    p.iterations = 1001;
    expect_invalid(m, &p, "iterations");

    small_params(&p);
    p.cg_steps = 65;
    expect_invalid(m, &p, "cg_steps");

    small_params(&p);
    p.threads = -1;
    expect_invalid(m, &p, "threads");
    p.threads = 257;
    expect_invalid(m, &p, "threads");

    struct err e = ERR_INIT;
    small_params(&p);
    assert_int_equal(als_train(m, NULL, NULL, NULL, &(struct als_model){0}, &e), RC_INVALID_INPUT);
    assert_int_equal(als_train(NULL, &p, NULL, NULL, &(struct als_model){0}, &e), RC_INVALID_INPUT);
    assert_int_equal(als_train(m, &p, NULL, NULL, NULL, &e), RC_INVALID_INPUT);

    /* A matrix whose columns do not fit its ncols, or with a bad weight. */
    m->indices[3] = m->ncols;
    expect_invalid(m, &p, "column");
    m->indices[3] = 0;
    float saved = m->values[5];
    m->values[5] = NAN;
    expect_invalid(m, &p, "weight");
    m->values[5] = 0.0f;
    expect_invalid(m, &p, "weight");
    m->values[5] = saved;
    uint64_t nnz = m->nnz;
    m->nnz = nnz + 1;
    expect_invalid(m, &p, "nnz");
    m->nnz = nnz;
    csr_free(m);
}

static void test_fold_in_validation(void **state)
{
    UNUSED(state);
    struct csr *m = clusters();
    struct als_params p;
    small_params(&p);
    p.iterations = 2;
    struct als_model model;
    struct err e = ERR_INIT;
    assert_int_equal(als_train(m, &p, NULL, NULL, &model, &e), RC_OK);
    float x[8], contrib[3];
    uint32_t items[3] = {1, 5, 9};
    float w[3] = {1, 2, 3};

    items[1] = CL_ITEMS + 1; /* out of range */
    assert_int_equal(als_fold_in(&model, &p, items, w, 3, x, &e), RC_INVALID_INPUT);
    assert_non_null(strstr(e.msg, "items[1]"));
    items[1] = 5;
    w[2] = -1.0f;
    assert_int_equal(als_fold_in(&model, &p, items, w, 3, x, &e), RC_INVALID_INPUT);
    assert_non_null(strstr(e.msg, "weights[2]"));
    w[2] = 3.0f;
    struct als_params bad = p;
    bad.alpha = 0.0f;
    assert_int_equal(als_fold_in(&model, &bad, items, w, 3, x, &e), RC_INVALID_INPUT);
    assert_non_null(strstr(e.msg, "alpha"));
    bad = p;
    bad.regularization = -1.0f;
    assert_int_equal(als_explain(&model, &bad, items, w, 3, 0, contrib, &e), RC_INVALID_INPUT);
    assert_non_null(strstr(e.msg, "regularization"));
    assert_int_equal(als_explain(&model, &p, items, w, 3, CL_ITEMS + 1, contrib, &e),
                     RC_INVALID_INPUT);
    assert_non_null(strstr(e.msg, "target"));
    assert_int_equal(als_fold_in(&model, &p, NULL, w, 3, x, &e), RC_INVALID_INPUT);
    assert_int_equal(als_fold_in(NULL, &p, items, w, 3, x, &e), RC_INVALID_INPUT);

    /* No history: the zero vector; explain writes nothing. */
    for (int j = 0; j < 8; j++)
        x[j] = 1.0f;
    assert_int_equal(als_fold_in(&model, &p, NULL, NULL, 0, x, &e), RC_OK);
    assert_true(all_zero(x, 8));
    assert_int_equal(als_explain(&model, &p, NULL, NULL, 0, 3, NULL, &e), RC_OK);

    /* The order of the history does not matter. */
    float x2[8];
    uint32_t rev[3] = {9, 5, 1};
    float wrev[3] = {3, 2, 1};
    assert_int_equal(als_fold_in(&model, &p, items, w, 3, x, &e), RC_OK);
    assert_int_equal(als_fold_in(&model, &p, rev, wrev, 3, x2, &e), RC_OK);
    assert_memory_equal(x, x2, sizeof(x));

    /* A repeated item counts once, with its weights summed; explain shares it by weight. */
    uint32_t dup[4] = {9, 5, 9, 1};
    float wdup[4] = {1, 2, 2, 1};
    assert_int_equal(als_fold_in(&model, &p, dup, wdup, 4, x2, &e), RC_OK);
    assert_memory_equal(x, x2, sizeof(x));
    float cdup[4];
    assert_int_equal(als_explain(&model, &p, items, w, 3, 40, contrib, &e), RC_OK);
    assert_int_equal(als_explain(&model, &p, dup, wdup, 4, 40, cdup, &e), RC_OK);
    assert_float_equal(cdup[0] + cdup[2], contrib[2], 1e-6);
    assert_float_equal(cdup[2], 2 * cdup[0], 1e-6);
    assert_float_equal(cdup[1], contrib[1], 1e-7);
    assert_float_equal(cdup[3], contrib[0], 1e-7);
    als_model_release(&model);
    als_model_release(&model); /* idempotent */
    csr_free(m);
}

static void test_empty(void **state)
{
    UNUSED(state);
    struct als_params p;
    small_params(&p);
    p.iterations = 3;
    struct err e = ERR_INIT;
    struct als_model model;
    for (int exact = 0; exact < 2; exact++) {
        p.cg_steps = exact ? 0 : 3;
        /* No interactions: every solve gives zero. */
        struct csr *m = csr_from_triplets(5, 3, NULL, NULL, NULL, 0);
        struct losses l = {0};
        assert_int_equal(als_train(m, &p, record_loss, &l, &model, &e), RC_OK);
        assert_int_equal(model.nusers, 5);
        assert_int_equal(model.nitems, 3);
        assert_int_equal(model.factors, 8);
        assert_true(all_zero(model.user_factors, 5 * 8));
        assert_true(all_zero(model.item_factors, 3 * 8));
        assert_int_equal(l.n, 3);
        assert_true(l.v[2] == 0.0);
        als_model_release(&model);
        csr_free(m);

        /* No users or items at all. */
        m = csr_from_triplets(0, 0, NULL, NULL, NULL, 0);
        assert_int_equal(als_train(m, &p, record_loss, &l, &model, &e), RC_OK);
        assert_int_equal(model.nusers, 0);
        float x[8];
        assert_int_equal(als_fold_in(&model, &p, NULL, NULL, 0, x, &e), RC_OK);
        assert_true(all_zero(x, 8));
        als_model_release(&model);
        csr_free(m);

        /* A single interaction, with more factors than rows. */
        uint32_t r = 1, c = 2;
        float v = 4.0f;
        m = csr_from_triplets(3, 4, &r, &c, &v, 1);
        assert_int_equal(als_train(m, &p, NULL, NULL, &model, &e), RC_OK);
        assert_true(dotf(model.user_factors + 8, model.item_factors + 16, 8) > 0.5f);
        assert_true(all_zero(model.user_factors, 8));
        assert_true(all_zero(model.item_factors, 8));
        als_model_release(&model);

        /* Without regularization A is singular here; the solves stay finite. */
        p.regularization = 0.0f;
        p.threads = 0; /* one per CPU */
        assert_int_equal(als_train(m, &p, NULL, NULL, &model, &e), RC_OK);
        for (size_t i = 0; i < 3 * 8; i++)
            assert_true(isfinite(model.user_factors[i]));
        for (size_t i = 0; i < 4 * 8; i++)
            assert_true(isfinite(model.item_factors[i]));
        assert_true(fabsf(dotf(model.user_factors + 8, model.item_factors + 16, 8) - 1.0f) < 0.1f);
        als_model_release(&model);
        small_params(&p);
        p.iterations = 3;
        csr_free(m);
    }
}

/* ---- planted clusters ---- */

static void check_monotone(const struct losses *l)
{
    for (uint32_t i = 1; i < l->n; i++)
        if (l->v[i] > l->v[i - 1] * (1 + 1e-5) + 1e-6)
            fail_msg("loss rose from %.9g to %.9g at iteration %u", l->v[i - 1], l->v[i], i + 1);
}

/*
 * The objective of als.c, the slow way: every user-item pair, and
 * reg_r = reg * (sum of the row's confidences) on both sides.
 */
static double naive_loss(const struct csr *m, const struct als_model *model,
                         const struct als_params *p)
{
    uint32_t k = model->factors;
    double loss = 0;
    double *item_conf = xcalloc(m->ncols, sizeof(double));
    for (uint32_t u = 0; u < m->nrows; u++) {
        const float *x = model->user_factors + (size_t)u * k;
        double user_conf = 0, xx = 0;
        for (uint32_t i = 0; i < m->ncols; i++) {
            double s = 0, c = 1, pref = 0;
            for (uint32_t j = 0; j < k; j++)
                s += (double)x[j] * model->item_factors[(size_t)i * k + j];
            for (uint64_t q = m->indptr[u]; q < m->indptr[u + 1]; q++) {
                if (m->indices[q] != i) continue;
                c = 1 + (double)p->alpha * m->values[q];
                pref = 1;
                /* Each row's regularization is scaled by its interaction count. */
                user_conf += 1;
                item_conf[i] += 1;
            }
            loss += c * (pref - s) * (pref - s);
        }
        for (uint32_t j = 0; j < k; j++)
            xx += (double)x[j] * x[j];
        loss += p->regularization * user_conf * xx;
    }
    for (uint32_t i = 0; i < m->ncols; i++) {
        double yy = 0;
        for (uint32_t j = 0; j < k; j++)
            yy += (double)model->item_factors[(size_t)i * k + j] *
                  model->item_factors[(size_t)i * k + j];
        loss += p->regularization * item_conf[i] * yy;
    }
    free(item_conf);
    return loss;
}

static void test_clusters(void **state)
{
    UNUSED(state);
    struct csr *m = clusters();
    struct als_params p;
    small_params(&p);
    struct err e = ERR_INIT;
    double final[2];
    for (int exact = 0; exact < 2; exact++) {
        p.cg_steps = exact ? 0 : 3;
        struct losses l = {0};
        struct als_model model;
        assert_int_equal(als_train(m, &p, record_loss, &l, &model, &e), RC_OK);
        assert_int_equal(l.n, p.iterations);
        assert_int_equal(l.last_iteration, p.iterations);
        check_monotone(&l);
        assert_true(l.v[l.n - 1] < l.v[0]);
        final[exact] = l.v[l.n - 1];
        /* The reported loss is the objective of the returned factors. */
        double naive = naive_loss(m, &model, &p);
        if (fabs(naive - final[exact]) > 1e-5 * naive)
            fail_msg("reported loss %.9g, objective %.9g", final[exact], naive);
        double prec = cluster_precision(&model);
        print_message("clusters (%s): loss %.6f -> %.6f, top-10 cluster precision %.3f\n",
                      exact ? "exact" : "cg 3", l.v[0], l.v[l.n - 1], prec);
        assert_true(prec >= 0.8);
        /* The user and the item without interactions have zero vectors. */
        assert_true(all_zero(model.user_factors + (size_t)CL_USERS * p.factors, p.factors));
        assert_true(all_zero(model.item_factors + (size_t)CL_ITEMS * p.factors, p.factors));
        als_model_release(&model);
    }
    /* Exact and CG solves reach about the same objective (CG with 3 steps within 0.5%). */
    assert_true(fabs(final[0] - final[1]) <= 5e-3 * final[1]);

    /* Without progress callback the result is the same. */
    struct als_model a, b;
    p.cg_steps = 3;
    struct losses l = {0};
    assert_int_equal(als_train(m, &p, record_loss, &l, &a, &e), RC_OK);
    assert_int_equal(als_train(m, &p, NULL, NULL, &b, &e), RC_OK);
    assert_memory_equal(a.user_factors, b.user_factors, (size_t)a.nusers * a.factors * 4);
    als_model_release(&a);
    als_model_release(&b);
    csr_free(m);
}

static void test_determinism(void **state)
{
    UNUSED(state);
    struct csr *m = clusters();
    struct err e = ERR_INIT;
    for (int exact = 0; exact < 2; exact++) {
        struct als_params p;
        small_params(&p);
        p.cg_steps = exact ? 0 : 3;
        p.threads = 1;
        struct als_model ref;
        assert_int_equal(als_train(m, &p, NULL, NULL, &ref, &e), RC_OK);
        size_t ubytes = (size_t)ref.nusers * ref.factors * sizeof(float);
        size_t ibytes = (size_t)ref.nitems * ref.factors * sizeof(float);
        static const int threads[] = {1, 2, 3, 8};
        for (size_t t = 0; t < ARRAY_SIZE(threads); t++) {
            p.threads = threads[t];
            struct als_model o;
            assert_int_equal(als_train(m, &p, NULL, NULL, &o, &e), RC_OK);
            assert_memory_equal(ref.user_factors, o.user_factors, ubytes);
            assert_memory_equal(ref.item_factors, o.item_factors, ibytes);
            als_model_release(&o);
        }
        /* A different seed gives different factors. */
        p.seed = 43;
        struct als_model o;
        assert_int_equal(als_train(m, &p, NULL, NULL, &o, &e), RC_OK);
        assert_memory_not_equal(ref.user_factors, o.user_factors, ubytes);
        als_model_release(&o);
        als_model_release(&ref);
    }
    csr_free(m);
}

static void test_fold_in(void **state)
{
    UNUSED(state);
    struct csr *m = clusters();
    struct err e = ERR_INIT;
    struct als_params p;
    small_params(&p);
    float *scores_t = xmallocarray(CL_ITEMS + 1, sizeof(float));
    float *scores_f = xmallocarray(CL_ITEMS + 1, sizeof(float));
    for (int exact = 0; exact < 2; exact++) {
        p.cg_steps = exact ? 0 : 3;
        struct als_model model;
        assert_int_equal(als_train(m, &p, NULL, NULL, &model, &e), RC_OK);
        uint32_t k = model.factors;
        float *gram = xmallocarray((size_t)k * k, sizeof(float));
        assert_int_equal(als_gram(&model, gram, &e), RC_OK);
        double worst = 0, mean = 0;
        uint32_t same_top = 0;
        for (uint32_t u = 0; u < CL_USERS; u++) {
            uint64_t lo = m->indptr[u], n = m->indptr[u + 1] - lo;
            float x[8], x2[8];
            assert_int_equal(
                als_fold_in(&model, &p, m->indices + lo, m->values + lo, (size_t)n, x, &e), RC_OK);
            assert_int_equal(
                als_fold_in_gram(&model, &p, gram, m->indices + lo, m->values + lo, n, x2, &e),
                RC_OK);
            assert_memory_equal(x, x2, sizeof(x));
            const float *xu = model.user_factors + (size_t)u * k;
            if (exact) assert_memory_equal(x, xu, sizeof(x)); /* the very same computation */
            double d = 0, nu = 0;
            for (uint32_t j = 0; j < k; j++) {
                d += ((double)x[j] - xu[j]) * ((double)x[j] - xu[j]);
                nu += (double)xu[j] * xu[j];
            }
            worst = MAX(worst, sqrt(d / nu));
            mean += sqrt(d / nu) / CL_USERS;
            user_scores(&model, xu, scores_t);
            user_scores(&model, x, scores_f);
            uint32_t tt[TOPK], tf[TOPK];
            top10(scores_t, model.nitems, tt);
            top10(scores_f, model.nitems, tf);
            for (uint32_t a = 0; a < TOPK; a++)
                for (uint32_t b = 0; b < TOPK; b++)
                    if (tt[a] == tf[b]) same_top++;
        }
        print_message("fold-in (%s): relative difference mean %.2e, worst %.2e; "
                      "top-10 overlap %.3f\n",
                      exact ? "exact" : "cg 3", mean, worst, same_top / (double)(CL_USERS * TOPK));
        /* CG's trained vectors are a few steps short of the exact solve. */
        assert_true(worst <= (exact ? 1e-6 : 0.1));
        assert_true(mean <= (exact ? 1e-6 : 1e-2));
        assert_true(same_top >= (exact ? CL_USERS * TOPK : CL_USERS * TOPK * 95 / 100));
        free(gram);
        als_model_release(&model);
    }
    free(scores_t);
    free(scores_f);
    csr_free(m);
}

static void test_explain(void **state)
{
    UNUSED(state);
    struct csr *m = clusters();
    struct err e = ERR_INIT;
    struct als_params p;
    small_params(&p);
    struct als_model model;
    assert_int_equal(als_train(m, &p, NULL, NULL, &model, &e), RC_OK);
    uint32_t k = model.factors;

    /* A new user: six cluster-1 items and one cluster-2 item. */
    uint32_t items[7] = {1, 5, 9, 13, 17, 21, 2};
    float w[7] = {1, 2, 1, 3, 1, 2, 3};
    float x[8], contrib[7];
    assert_int_equal(als_fold_in(&model, &p, items, w, 7, x, &e), RC_OK);
    static const uint32_t targets[] = {25, 29, 33, 97, 6, 0};
    for (size_t t = 0; t < ARRAY_SIZE(targets); t++) {
        uint32_t target = targets[t];
        assert_int_equal(als_explain(&model, &p, items, w, 7, target, contrib, &e), RC_OK);
        double sum = 0;
        size_t best = 0;
        for (size_t i = 0; i < 7; i++) {
            sum += contrib[i];
            if (contrib[i] > contrib[best]) best = i;
        }
        double score = dotf(x, model.item_factors + (size_t)target * k, k);
        if (fabs(sum - score) > 1e-4 * fabs(score) + 1e-6)
            fail_msg("target %u: contributions sum to %.9g, score %.9g", target, sum, score);
        /* The largest contribution comes from an item of the target's cluster. */
        if (target % CL_K == 1) assert_true(items[best] % CL_K == 1);
        if (target % CL_K == 2) assert_int_equal(items[best], 2);
    }
    /* Unseen items of the main cluster score higher on average than those of cluster 0. */
    double mean[2] = {0, 0};
    for (uint32_t i = 24; i < CL_ITEMS; i += CL_K) {
        mean[0] += dotf(x, model.item_factors + (size_t)i * k, k);
        mean[1] += dotf(x, model.item_factors + (size_t)(i + 1) * k, k);
    }
    assert_true(mean[1] > mean[0] + 0.1 * (CL_ITEMS - 24) / CL_K);
    als_model_release(&model);
    csr_free(m);
}

static void test_cancel(void **state)
{
    UNUSED(state);
    struct csr *m = clusters();
    struct err e = ERR_INIT;
    struct als_params p;
    small_params(&p);
    struct losses l = {.cancel_at = 2};
    struct als_model model;
    assert_int_equal(als_train(m, &p, record_loss, &l, &model, &e), RC_CANCELLED);
    assert_int_equal(e.rc, RC_CANCELLED);
    assert_int_equal(l.n, 2);
    assert_null(model.user_factors);
    assert_null(model.item_factors);
    als_model_release(&model);
    l = (struct losses){.cancel_at = 1};
    p.cg_steps = 0;
    assert_int_equal(als_train(m, &p, record_loss, &l, &model, &e), RC_CANCELLED);
    assert_int_equal(l.n, 1);
    csr_free(m);
}

/* ---- MovieLens 100K ---- */


/* ALS scores from the trained user factors (ctx: the model). */
static void als_user_scores(void *ctx, const struct ml_split *sp, uint32_t u, float *scores)
{
    UNUSED(sp);
    const struct als_model *m = ctx;
    user_scores(m, m->user_factors + (size_t)u * m->factors, scores);
}

static bool print_progress(void *ctx, uint32_t iteration, double loss)
{
    UNUSED(ctx);
    print_message("  iteration %2u: loss %.1f\n", iteration, loss);
    return true;
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

    /*
     * Hold out the newest 10% of each user's ratings (users with >= 10),
     * weighted as src/models/weighting.c weighs a rating used as EVENT_VALUE.
     * (Binary weights give about the same NDCG; raw ratings 1..5 with alpha
     * 10 are over-confident and lose about a fifth of it.)
     */
    struct ml_split sp;
    ml_split_latest(r, n, nusers, nitems, true, &sp);
    free(r);
    float *pop = ml_popularity(&sp);
    double ndcg_pop = ml_ndcg10(&sp, ml_score_popularity, pop);

    struct als_params p;
    als_params_default(&p);
    const char *verbose = getenv("SAVOR_TEST_VERBOSE");
    struct err e = ERR_INIT;
    struct als_model model;
    double t0 = clock_monotonic();
    assert_int_equal(als_train(sp.train, &p, verbose ? print_progress : NULL, NULL, &model, &e),
                     RC_OK);
    double secs = clock_monotonic() - t0;
    double ndcg_als = ml_ndcg10(&sp, als_user_scores, &model);
    print_message("MovieLens 100K (%u test users, %llu train / %llu held out, OpenBLAS %s): "
                  "NDCG@10 ALS %.4f (%u factors, %u iterations, %.2f s), popularity %.4f, "
                  "ratio %.2f\n",
                  sp.ntest_users, (unsigned long long)sp.train->nnz, (unsigned long long)sp.ntest,
                  openblas_get_corename(), ndcg_als, p.factors, p.iterations, secs, ndcg_pop,
                  ndcg_als / ndcg_pop);
    assert_true(ndcg_als >= 1.3 * ndcg_pop);

    als_model_release(&model);
    free(pop);
    ml_split_release(&sp);
    free(path);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_param_validation),
        cmocka_unit_test(test_fold_in_validation),
        cmocka_unit_test(test_empty),
        cmocka_unit_test(test_clusters),
        cmocka_unit_test(test_determinism),
        cmocka_unit_test(test_fold_in),
        cmocka_unit_test(test_explain),
        cmocka_unit_test(test_cancel),
        cmocka_unit_test(test_movielens_100k),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
