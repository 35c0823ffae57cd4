/*
 * popularity.c: aws-popularity-count, items by weighted interaction count.
 *
 *   score(i) = sum over users u of w_ui
 *
 * where w_ui is the event-weighted affinity (weighting.h), so event types,
 * values and repeats count as they do for the other recipes.
 */
#include "common/base.h"
#include "models/recipe.h"

static const struct param_spec popularity_params[] = {
    {NULL, NULL, PARAM_INT, NULL, 0, 0, NULL},
};

/* The engine writes the "popularity" section of every model; nothing else to train. */
static enum rc pop_train(const struct train_input *in, struct modelfile_writer *w, struct err *e)
{
    UNUSED(in);
    UNUSED(w);
    UNUSED(e);
    return RC_OK;
}

struct pop_state {
    const float *pop;
    size_t n;
};

static enum rc pop_load(const struct modelfile *mf, const struct params *p, void **state,
                        struct err *e)
{
    UNUSED(p);
    struct pop_state *s = xcalloc(1, sizeof(*s));
    size_t len;
    const void *data;
    enum rc rc = modelfile_section(mf, "popularity", sizeof(float), &data, &len, e);
    if (rc) {
        free(s);
        return rc;
    }
    s->pop = data;
    s->n = len / sizeof(float);
    *state = s;
    return RC_OK;
}

static void pop_unload(void *state)
{
    free(state);
}

static enum rc pop_score_user(void *state, const uint32_t *items, const float *w, size_t n,
                              float *scores, struct err *e)
{
    UNUSED(items);
    UNUSED(w);
    UNUSED(n);
    UNUSED(e);
    struct pop_state *s = state;
    memcpy(scores, s->pop, s->n * sizeof(float));
    return RC_OK;
}

const struct recipe recipe_popularity_count = {
    .name = "aws-popularity-count",
    .kind = RECIPE_POPULAR_ITEMS,
    .summary = "items by weighted interaction count",
    .params = popularity_params,
    .train = pop_train,
    .load = pop_load,
    .unload = pop_unload,
    .score_user = pop_score_user,
};
