/*
 * user_personalization.c: aws-user-personalization (and -v2), and
 * aws-personalized-ranking (and -v2), on EASE (ease.h) or implicit-feedback
 * matrix factorization (als.h).
 *
 * Two models, chosen by the "model" hyperparameter (default auto: EASE up to
 * UP_AUTO_EASE_MAX_ITEMS items, where it is both better and fast, else ALS):
 *  - als: score(u, i) = x_u . y_i, where x_u is computed at request time
 *    from the user's current history by fold-in (als_fold_in), so a new
 *    user or new events need no retraining. Explanations split the score
 *    exactly into one term per history item (Hu et al. 2008, section 5).
 *  - ease: score(u, i) = sum over history items j of w_uj * B[j][i] (ease.h),
 *    for catalogs up to EASE_MAX_ITEMS; each term is its explanation.
 * Either way the history's weights are first decayed by recency
 * (history_half_life, applied by the engine: engine.c, history_recency).
 *
 * Personalize's hyperparameters map onto savor's: hidden_dimension ->
 * factors, recency_mask=false -> history_half_life=0. bptt and the
 * history-length percentiles are accepted for compatibility.
 */
#include "common/base.h"
#include "models/als.h"
#include "models/ease.h"
#include "models/recipe.h"

#include <cblas.h>

/*
 * model=auto trains EASE up to this many items: its B matrix takes
 * 4 * n^2 bytes (576 MB here) and its inversion n^3 / 3 multiply-adds (a
 * minute on two cores at the limit); past it, iALS scales linearly.
 */
#define UP_AUTO_EASE_MAX_ITEMS 12000
#include <math.h>

static const struct param_spec up_params[] = {
    {"model", NULL, PARAM_STRING, "auto", 0, 0,
     "auto (ease up to 12000 items, else als), als (matrix factorization) or ease "
     "(item-item)"},
    {"l2", NULL, PARAM_FLOAT, "200", 1e-6, 1e9, "ease: L2 regularization of B"},
    {"factors", "hidden_dimension", PARAM_INT, "64", 1, 1024, "latent dimension"},
    {"regularization", NULL, PARAM_FLOAT, "0.35", 0, 1e6,
     "L2 weight of the factors, times each row's interaction count"},
    {"alpha", NULL, PARAM_FLOAT, "10", 1e-6, 1e6, "confidence c = 1 + alpha * w"},
    {"iterations", NULL, PARAM_INT, "15", 1, 1000, "alternating least-squares passes"},
    {"cg_steps", NULL, PARAM_INT, "3", 0, 64, "conjugate-gradient steps per solve; 0 = exact"},
    {"seed", NULL, PARAM_INT, "42", 0, 4294967295.0, "initialisation seed"},
    {"history_half_life", NULL, PARAM_FLOAT, "5", 0, 1e9,
     "at answer time, older history items fade: the weight halves for every this many "
     "newer items past history_recent_items; 0 = off"},
    {"history_recent_items", NULL, PARAM_INT, "5", 0, 1e9,
     "the user's latest items that keep their full weight"},
    {"bptt", NULL, PARAM_INT, "32", 2, 1000, "accepted for compatibility; not used"},
    {"recency_mask", NULL, PARAM_BOOL, "true", 0, 1, "false turns history_half_life off"},
    {"min_user_history_length_percentile", NULL, PARAM_FLOAT, "0", 0, 1,
     "accepted for compatibility; not used"},
    {"max_user_history_length_percentile", NULL, PARAM_FLOAT, "1", 0, 1,
     "accepted for compatibility; not used"},
    {NULL, NULL, PARAM_INT, NULL, 0, 0, NULL},
};

static void to_als_params(const struct params *p, int threads, struct als_params *a)
{
    als_params_default(a);
    a->factors = (uint32_t)params_num(p, "factors");
    a->regularization = (float)params_num(p, "regularization");
    a->alpha = (float)params_num(p, "alpha");
    a->iterations = (uint32_t)params_num(p, "iterations");
    a->cg_steps = (uint32_t)params_num(p, "cg_steps");
    a->seed = (uint64_t)params_num(p, "seed");
    a->threads = threads;
}

struct progress_adapter {
    const struct train_input *in;
    uint32_t iterations;
};

static bool als_progress(void *ctx, uint32_t iteration, double loss)
{
    struct progress_adapter *pa = ctx;
    return pa->in->progress(pa->in->progress_ctx, iteration, pa->iterations, loss);
}

/* The model to train on a catalog of 'nitems' items. */
static bool use_ease(const struct params *p, uint32_t nitems)
{
    const char *m = params_str(p, "model");
    return strcmp(m, "ease") == 0 || (strcmp(m, "auto") == 0 && nitems <= UP_AUTO_EASE_MAX_ITEMS);
}

static enum rc check_model(const struct params *p, struct err *e)
{
    const char *m = params_str(p, "model");
    if (strcmp(m, "auto") && strcmp(m, "als") && strcmp(m, "ease"))
        return err_set(e, RC_INVALID_INPUT, "hyperparameter model: '%s' is not auto, als or ease",
                       m);
    return RC_OK;
}

static enum rc ease_train_sections(const struct train_input *in, struct modelfile_writer *w,
                                   struct err *e)
{
    struct ease_params ep;
    ease_params_default(&ep);
    ep.l2 = (float)params_num(in->params, "l2");
    ep.threads = in->threads;
    struct ease_model m = {0};
    enum rc rc = ease_train(in->data->ui, &ep, &m, e);
    if (rc) return rc;
    rc = modelfile_add(w, "ease_B", m.B, (size_t)m.nitems * m.nitems * sizeof(float), e);
    ease_model_release(&m);
    return rc;
}

static enum rc up_train(const struct train_input *in, struct modelfile_writer *w, struct err *e)
{
    enum rc rc0 = check_model(in->params, e);
    if (rc0) return rc0;
    /* EASE has no state to refine: UPDATE trains it again on the current data. */
    if (use_ease(in->params, in->data->ui->ncols)) return ease_train_sections(in, w, e);
    struct als_params ap;
    to_als_params(in->params, in->threads, &ap);
    if (in->previous) {
        /*
         * UPDATE: start from the previous item factors (item indexes only grow,
         * so old items keep theirs) and refine for a fifth of the iterations.
         */
        const void *data;
        size_t len;
        enum rc rc = modelfile_section(in->previous, "item_factors", sizeof(float), &data, &len, e);
        if (rc) return err_prefix(e, "trainingMode UPDATE needs an ALS model to start from: ");
        if (len % ((size_t)ap.factors * sizeof(float)))
            return err_set(
                e, RC_INVALID_INPUT,
                "trainingMode UPDATE: the previous version has other factors than %u; train FULL",
                ap.factors);
        ap.init_items = data;
        ap.init_nitems = (uint32_t)(len / ((size_t)ap.factors * sizeof(float)));
        ap.iterations = MAX(1u, ap.iterations / 5);
    }
    struct als_model m = {0};
    struct progress_adapter pa = {in, ap.iterations};
    enum rc rc = als_train(in->data->ui, &ap, in->progress ? als_progress : NULL, &pa, &m, e);
    if (rc) return rc;
    rc = modelfile_add(w, "item_factors", m.item_factors,
                       (size_t)m.nitems * m.factors * sizeof(float), e);
    als_model_release(&m);
    return rc;
}

struct up_state {
    struct als_model m; /* item factors borrowed from the mapping; no user factors */
    struct als_params ap;
    float *gram;            /* Y^T Y, computed once at load for every fold-in (owned) */
    struct ease_model ease; /* B borrowed from the mapping, when model=ease */
};

static enum rc up_load(const struct modelfile *mf, const struct params *p, void **state,
                       struct err *e)
{
    const void *data;
    size_t len;
    enum rc rc = check_model(p, e);
    if (rc) return rc;
    /* model=auto: whichever model training chose, by the section it wrote. */
    if (strcmp(params_str(p, "model"), "ease") == 0 ||
        (strcmp(params_str(p, "model"), "auto") == 0 &&
         modelfile_section(mf, "ease_B", sizeof(float), &data, &len, NULL) == RC_OK)) {
        if ((rc = modelfile_section(mf, "ease_B", sizeof(float), &data, &len, e))) return rc;
        uint32_t n = (uint32_t)sqrt((double)(len / sizeof(float)));
        if ((size_t)n * n * sizeof(float) != len)
            return err_set(e, RC_INVALID_INPUT, "model file: ease_B is not a square matrix");
        struct up_state *s = xcalloc(1, sizeof(*s));
        s->ease.nitems = n;
        s->ease.B = (float *)data; /* read-only use */
        *state = s;
        return RC_OK;
    }
    rc = modelfile_section(mf, "item_factors", sizeof(float), &data, &len, e);
    if (rc) return rc;
    struct up_state *s = xcalloc(1, sizeof(*s));
    to_als_params(p, 1, &s->ap);
    s->m.factors = s->ap.factors;
    if (len % ((size_t)s->m.factors * sizeof(float))) {
        uint32_t f = s->m.factors;
        free(s);
        return err_set(e, RC_INVALID_INPUT,
                       "model file: item_factors size does not match factors=%u", f);
    }
    s->m.nitems = (uint32_t)(len / ((size_t)s->m.factors * sizeof(float)));
    s->m.item_factors = (float *)data; /* read-only use */
    s->gram = xmallocarray((size_t)s->m.factors * s->m.factors, sizeof(float));
    if ((rc = als_gram(&s->m, s->gram, e))) {
        free(s->gram);
        free(s);
        return rc;
    }
    *state = s;
    return RC_OK;
}

static void up_unload(void *state)
{
    struct up_state *s = state;
    free(s->gram);
    free(s);
}

static enum rc up_score_user(void *state, const uint32_t *items, const float *w, size_t n,
                             float *scores, struct err *e)
{
    struct up_state *s = state;
    if (s->ease.B) {
        ease_score(&s->ease, items, w, n, scores);
        /*
         * B has a zero diagonal (an item may not predict itself), so an item
         * the user had would be scored only by the others. Its own affinity
         * counts too, so that seen items rank by what the user did with them.
         */
        for (size_t k = 0; k < n; k++)
            if (items[k] < s->ease.nitems) scores[items[k]] += w[k];
        return RC_OK;
    }
    uint32_t f = s->m.factors;
    float *x = xcalloc(f, sizeof(float));
    enum rc rc = n ? als_fold_in_gram(&s->m, &s->ap, s->gram, items, w, n, x, e) : RC_OK;
    if (!rc)
        cblas_sgemv(CblasRowMajor, CblasNoTrans, (int)s->m.nitems, (int)f, 1.0f, s->m.item_factors,
                    (int)f, x, 1, 0.0f, scores, 1);
    free(x);
    return rc;
}

static enum rc up_explain(void *state, const uint32_t *items, const float *w, size_t n,
                          uint32_t target, float *contrib, struct err *e)
{
    struct up_state *s = state;
    if (s->ease.B) {
        for (size_t k = 0; k < n; k++)
            contrib[k] = items[k] == target ? w[k] /* its own affinity, see up_score_user */
                         : items[k] < s->ease.nitems
                             ? w[k] * s->ease.B[(size_t)items[k] * s->ease.nitems + target]
                             : 0;
        return RC_OK;
    }
    return als_explain_gram(&s->m, &s->ap, s->gram, items, w, n, target, contrib, e);
}

/* ALS scores are x_u . y_j: the engine's fast top-k path uses these (EASE's are not). */
static const float *up_item_vectors(void *state, uint32_t *dim, uint32_t *nitems)
{
    struct up_state *s = state;
    if (s->ease.B) return NULL;
    *dim = s->m.factors;
    *nitems = s->m.nitems;
    return s->m.item_factors;
}

static enum rc up_user_vector(void *state, const uint32_t *items, const float *w, size_t n,
                              float *x, struct err *e)
{
    struct up_state *s = state;
    memset(x, 0, (size_t)s->m.factors * sizeof(float));
    return n ? als_fold_in_gram(&s->m, &s->ap, s->gram, items, w, n, x, e) : RC_OK;
}

#define UP_RECIPE(NAME, KIND, SUMMARY)                                                        \
    {                                                                                         \
        .name = NAME, .kind = KIND, .summary = SUMMARY, .params = up_params,                  \
        .validate = check_model, .train = up_train, .supports_update = true, .load = up_load, \
        .unload = up_unload, .score_user = up_score_user, .explain = up_explain,              \
        .item_vectors = up_item_vectors, .user_vector = up_user_vector,                       \
    }

const struct recipe recipe_user_personalization =
    UP_RECIPE("aws-user-personalization", RECIPE_USER_PERSONALIZATION,
              "items for a user: EASE up to 12,000 items, else implicit matrix factorization; "
              "recency-aware at answer time");
const struct recipe recipe_user_personalization_v2 =
    UP_RECIPE("aws-user-personalization-v2", RECIPE_USER_PERSONALIZATION,
              "the same model as aws-user-personalization");
const struct recipe recipe_personalized_ranking =
    UP_RECIPE("aws-personalized-ranking", RECIPE_PERSONALIZED_RANKING,
              "a given list of items, reranked for a user (the user-personalization model)");
const struct recipe recipe_personalized_ranking_v2 =
    UP_RECIPE("aws-personalized-ranking-v2", RECIPE_PERSONALIZED_RANKING,
              "the same model as aws-personalized-ranking");
