/*
 * recipe.h: the table of recipes (Personalize's, by name and ARN).
 *
 * A recipe trains a model from the weighted interaction matrix into
 * sections of a model file, and scores from a loaded model file. A model
 * may hold a "candidates" section (one byte per item): then exactly those
 * items can be recommended; otherwise the items with interaction data. The
 * engine (engine.c) does everything recipes share: loading the data,
 * the ID maps and user histories in the model file, top-k selection,
 * excluding items that have no data, and explanations' formatting.
 *
 * To add a recipe: write src/models/<name>.c defining a const struct
 * recipe, declare it below and add it to the table in recipe.c.
 */
#ifndef SAVOR_RECIPE_H
#define SAVOR_RECIPE_H

#include "common/base.h"
#include "models/modelfile.h"
#include "models/params.h"
#include "models/weighting.h"

enum recipe_kind {
    RECIPE_USER_PERSONALIZATION, /* userId -> items */
    RECIPE_PERSONALIZED_RANKING, /* userId + inputList -> the list, reranked */
    RECIPE_RELATED_ITEMS,        /* itemId -> items */
    RECIPE_POPULAR_ITEMS,        /* userId (ignored beyond filters) -> items */
};

struct train_input {
    const struct train_data *data;
    /* The interactions themselves, for recipes that need events rather than w_ui
     * (read chunks up to data->last_chunk, weighed with data->weigher). */
    struct store *store;
    int64_t dataset_id;
    /*
     * Items x features of the ITEMS dataset's categorical values ("GENRES=romance"),
     * 1 where the item has the value; built only for recipes with uses_item_metadata.
     */
    const struct csr *item_features;
    /*
     * trainingMode UPDATE: the solution's latest ACTIVE model to start from
     * (NULL for FULL). Only recipes with supports_update get one.
     */
    const struct modelfile *previous;
    const struct params *params;
    int threads;
    /* Called once per iteration; return false to cancel. May be NULL. */
    bool (*progress)(void *ctx, uint32_t iteration, uint32_t iterations, double loss);
    void *progress_ctx;
};

struct recipe {
    const char *name; /* "aws-user-personalization" */
    enum recipe_kind kind;
    const char *summary;
    const struct param_spec *params; /* terminated by a NULL name */
    bool uses_item_metadata;         /* train_input.item_features is wanted */
    bool supports_update;            /* can train from train_input.previous */

    /* Optional: checks across parameters, before anything is created. */
    enum rc (*validate)(const struct params *p, struct err *e);
    /* Train and add this recipe's sections to 'w'. */
    enum rc (*train)(const struct train_input *in, struct modelfile_writer *w, struct err *e);
    /* Scoring state over an open model file (which outlives it). */
    enum rc (*load)(const struct modelfile *mf, const struct params *p, void **state,
                    struct err *e);
    void (*unload)(void *state);
    /*
     * Score every item (scores has nitems floats) for a user whose history
     * is items[k] with weights w[k]; n may be 0 (a new user).
     */
    enum rc (*score_user)(void *state, const uint32_t *items, const float *w, size_t n,
                          float *scores, struct err *e);
    /* Score every item as related to 'item' (RELATED_ITEMS recipes). */
    enum rc (*score_item)(void *state, uint32_t item, float *scores, struct err *e);
    /*
     * Optional: contrib[k] = the share of score(target) due to history item k,
     * such that the contributions sum to the score.
     */
    enum rc (*explain)(void *state, const uint32_t *items, const float *w, size_t n,
                       uint32_t target, float *contrib, struct err *e);
    /*
     * Optional, for recipes whose user scores are dot products of a user
     * vector and item vectors (score_user(j) = x . y_j): item_vectors gives
     * the nitems x dim row-major item vectors (NULL when the loaded model
     * is not of that form), user_vector the history's x (dim floats). The
     * engine then finds the top items through a compact copy of the
     * vectors and computes exact scores only where they decide the answer.
     */
    const float *(*item_vectors)(void *state, uint32_t *dim, uint32_t *nitems);
    enum rc (*user_vector)(void *state, const uint32_t *items, const float *w, size_t n, float *x,
                           struct err *e);
};

/* Find by name ("aws-sims") or ARN ("arn:aws:personalize:::recipe/aws-sims"). */
const struct recipe *recipe_find(const char *name_or_arn);

/* All recipes, NULL-terminated. */
extern const struct recipe *const recipe_table[];

const char *recipe_kind_name(enum recipe_kind k);

extern const struct recipe recipe_popularity_count;
extern const struct recipe recipe_user_personalization;
extern const struct recipe recipe_user_personalization_v2;
extern const struct recipe recipe_personalized_ranking;
extern const struct recipe recipe_personalized_ranking_v2;
extern const struct recipe recipe_sims;
extern const struct recipe recipe_trending_now;
extern const struct recipe recipe_similar_items;

#endif
