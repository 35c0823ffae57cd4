/*
 * ease.h: EASE, the closed-form linear item-item model (Steck, "Embarrassingly
 * Shallow Autoencoders for Sparse Data", WWW 2019).
 *
 * With X the users x items matrix of weights and G = X^T X + l2 I, the item
 * weights are B = I - P diagMat(1 / diag(P)) where P = G^-1, so diag(B) = 0.
 * A user's score for item j is sum_i x_ui B_ij, which explains itself: each
 * history item i contributes x_ui B_ij.
 * Memory is nitems^2 floats (plus a double work matrix): meant for catalogs
 * up to a few tens of thousands of items.
 */
#ifndef SAVOR_EASE_H
#define SAVOR_EASE_H

#include "common/base.h"
#include "models/csr.h"

/* Largest catalog EASE accepts (nitems^2 doubles must fit comfortably in memory). */
#define EASE_MAX_ITEMS 40000

struct ease_params {
    float l2; /* regularization lambda, default 200 (best on MovieLens 100K and ml-latest-small) */
    int threads; /* BLAS threads, 0 = number of CPUs */
};

void ease_params_default(struct ease_params *p);

struct ease_model {
    uint32_t nitems;
    float *B; /* nitems x nitems, row-major: B[i * nitems + j] is item i's weight for item j */
};

/* Train on 'ui' (users x items). RC_LIMIT_EXCEEDED above EASE_MAX_ITEMS items. */
enum rc ease_train(const struct csr *ui, const struct ease_params *p, struct ease_model *out,
                   struct err *e);
void ease_model_release(struct ease_model *m);

/* scores[j] = sum_k weights[k] * B[items[k]][j] for all items j. */
void ease_score(const struct ease_model *m, const uint32_t *items, const float *weights, size_t n,
                float *scores);

#endif
