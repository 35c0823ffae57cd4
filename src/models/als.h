/*
 * als.h: implicit-feedback matrix factorization (iALS; Hu, Koren and
 * Volinsky, "Collaborative Filtering for Implicit Feedback Datasets", 2008).
 *
 * Input is a users x items CSR matrix of weights w_ui > 0 (after event
 * weighting). Preference p_ui = 1 where w_ui > 0, else 0; confidence
 * c_ui = 1 + alpha * w_ui. Training alternates exact or conjugate-gradient
 * least-squares solves for user and item factors, minimising
 *   sum_ui c_ui (p_ui - x_u . y_i)^2 + reg * (sum_u |x_u|^2 + sum_i |y_i|^2).
 * Same input, parameters, seed and thread count give bit-identical factors.
 *
 * "reg" in these formulas is per row: reg_u = regularization * (the number
 * of the row's observed pairs) (weighted-lambda regularization; see als.c).
 * Factors are bit-identical across thread counts too.
 */
#ifndef SAVOR_ALS_H
#define SAVOR_ALS_H

#include "common/base.h"
#include "models/csr.h"

struct als_params {
    uint32_t factors;     /* latent dimension, default 64 */
    float regularization; /* reg, default 0.35, scaled per row by its interaction count (als.c) */
    float alpha;          /* confidence scaling, default 10 */
    uint32_t iterations;  /* full alternations, default 15 */
    uint32_t cg_steps;    /* conjugate-gradient steps per solve; 0 = exact Cholesky */
    uint64_t seed;        /* initialisation, default 42 */
    int threads;          /* worker threads, default 0 = number of CPUs */
    /*
     * Warm start (trainingMode UPDATE): item factors of a previous model for
     * items 0..init_nitems-1 (borrowed); items past them start random. The
     * users are then fitted to these before the first iteration.
     */
    const float *init_items;
    uint32_t init_nitems;
};

void als_params_default(struct als_params *p);

struct als_model {
    uint32_t nusers, nitems, factors;
    float *user_factors; /* nusers x factors, row-major, owned */
    float *item_factors; /* nitems x factors, row-major, owned */
};

/*
 * Progress callback, once per iteration; 'loss' is the objective above (or
 * NaN when not computed). Return false to cancel (als_train then returns
 * RC_CANCELLED).
 */
typedef bool (*als_progress_fn)(void *ctx, uint32_t iteration, double loss);
/* ('iteration' counts completed iterations: 1, 2, ..., p->iterations.) */

/* Train on 'ui' (users x items). On success *out holds the factors; free with als_model_release().
 */
enum rc als_train(const struct csr *ui, const struct als_params *p, als_progress_fn progress,
                  void *ctx, struct als_model *out, struct err *e);
void als_model_release(struct als_model *m);

/*
 * Fold-in: the user vector that a training step would give a user whose
 * history is items[k] with weights[k] (k < n), against the fixed item factors:
 *   x = (Y^T C Y + reg I)^-1 Y^T C p.
 * 'out' has m->factors floats.
 */
enum rc als_fold_in(const struct als_model *m, const struct als_params *p, const uint32_t *items,
                    const float *weights, size_t n, float *out, struct err *e);

/*
 * Explain score(u, target) = x_u . y_target for a user whose vector came from
 * fold-in (or training) on items[k]/weights[k]: Hu et al. section 5 writes it
 * exactly as sum_k s_k, where s_k = y_target^T W y_{items[k]} * c_k * p_k and
 * W = (Y^T C Y + reg I)^-1. Writes the n contributions to 'contrib'.
 */
enum rc als_explain(const struct als_model *m, const struct als_params *p, const uint32_t *items,
                    const float *weights, size_t n, uint32_t target, float *contrib, struct err *e);

/*
 * The fixed part of every fold-in: gram = Y^T Y (m->factors^2 floats, row
 * major, symmetric) over the model's item factors. It costs nitems * factors^2
 * flops, so a server folding in many users computes it once per model and
 * calls the *_gram variants below; als_fold_in() and als_explain() compute it
 * on every call. Same value as training's last Gram matrix when OpenBLAS
 * runs single-threaded (training sets it so while it runs; these functions
 * leave the process-wide setting alone), else equal up to float rounding.
 */
enum rc als_gram(const struct als_model *m, float *gram, struct err *e);

/*
 * als_fold_in() and als_explain() with a precomputed als_gram(). Both solve
 * exactly (Cholesky) whatever p->cg_steps is, and use only p->regularization
 * and p->alpha. The order of items[] does not matter; a repeated item counts
 * once with its weights summed (as csr_from_triplets() builds the training
 * matrix), and als_explain() shares its contribution among its entries in
 * proportion to their weights. n = 0 gives the zero vector.
 */
enum rc als_fold_in_gram(const struct als_model *m, const struct als_params *p, const float *gram,
                         const uint32_t *items, const float *weights, size_t n, float *out,
                         struct err *e);
enum rc als_explain_gram(const struct als_model *m, const struct als_params *p, const float *gram,
                         const uint32_t *items, const float *weights, size_t n, uint32_t target,
                         float *contrib, struct err *e);

#endif
