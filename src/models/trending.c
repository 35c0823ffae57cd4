/*
 * trending.c: aws-trending-now, the items whose interactions grow fastest.
 *
 * With W the trend_discovery_frequency and t the newest training event,
 * cur(i) and prev(i) are item i's event weights b_e (weighting.h) summed over
 * the windows (t - W, t] and (t - 2W, t - W]:
 *
 *   trend(i) = (cur(i) - prev(i)) / (prev(i) + 1)
 *
 * Items with trend > 0 are recommended by trend; the rest of the list is
 * popular items (and only popular items when nothing happened in the last
 * two windows), as Personalize does. The +1 keeps an item going from 0 to 1
 * event from outranking one going from 100 to 300.
 */
#include "common/base.h"
#include "models/recipe.h"

#include <math.h>
#include <strings.h>

static const struct param_spec trending_params[] = {
    {"trend_discovery_frequency", NULL, PARAM_STRING, "2 hours", 0, 0,
     "window: 30 minutes, 1 hour, 2 hours, 3 hours or 1 day"},
    {NULL, NULL, PARAM_INT, NULL, 0, 0, NULL},
};

static const struct {
    const char *text;
    int64_t seconds;
} windows[] = {
    {"30 minutes", 1800}, {"30 min", 1800},   {"1 hour", 3600}, {"1h", 3600},     {"2 hours", 7200},
    {"2h", 7200},         {"3 hours", 10800}, {"3h", 10800},    {"1 day", 86400},
};

static int64_t window_seconds(const struct params *p)
{
    const char *v = params_str(p, "trend_discovery_frequency");
    for (size_t i = 0; i < ARRAY_SIZE(windows); i++)
        if (strcasecmp(v, windows[i].text) == 0) return windows[i].seconds;
    return 0;
}

static enum rc trending_validate(const struct params *p, struct err *e)
{
    if (window_seconds(p)) return RC_OK;
    return err_set(
        e, RC_INVALID_INPUT,
        "hyperparameter trend_discovery_frequency: '%s' is not one of 30 minutes, 1 hour, 2 hours, 3 hours, 1 day",
        params_str(p, "trend_discovery_frequency"));
}

struct windows_acc {
    const struct event_weigher *w;
    int64_t t, width;
    double *cur, *prev;
    uint32_t nitems;
    const uint64_t *skip; /* held-out events (train_data.skip) */
    uint64_t pos;
};

static enum rc count_windows(void *ctx, const struct interaction_chunk *c, struct err *e)
{
    UNUSED(e);
    struct windows_acc *a = ctx;
    for (uint32_t i = 0; i < c->n; i++) {
        uint64_t pos = a->pos++;
        if (a->skip && (a->skip[pos >> 6] >> (pos & 63)) & 1) continue;
        int64_t age = a->t - c->ts[i];
        if (age < 0 || age >= 2 * a->width || c->items[i] >= a->nitems) continue;
        double b = event_weigher_weight(a->w, c->event_types[i], c->event_values[i], c->ts[i]);
        if (age < a->width)
            a->cur[c->items[i]] += b;
        else
            a->prev[c->items[i]] += b;
    }
    return RC_OK;
}

static enum rc trending_train(const struct train_input *in, struct modelfile_writer *w,
                              struct err *e)
{
    const struct train_data *d = in->data;
    struct windows_acc a = {&d->weigher,
                            d->weigher.last_ts,
                            window_seconds(in->params),
                            NULL,
                            NULL,
                            d->ui->ncols,
                            d->skip,
                            0};
    a.cur = xcalloc(a.nitems + 1, sizeof(double));
    a.prev = xcalloc(a.nitems + 1, sizeof(double));
    enum rc rc = store_interactions_scan_range(in->store, in->dataset_id, 0, d->last_chunk,
                                               count_windows, &a, e);
    if (!rc) {
        float *trend = xcalloc(a.nitems + 1, sizeof(float));
        for (uint32_t i = 0; i < a.nitems; i++)
            trend[i] = (float)((a.cur[i] - a.prev[i]) / (a.prev[i] + 1.0));
        rc = modelfile_add(w, "trend", trend, (size_t)a.nitems * sizeof(float), e);
        free(trend);
    }
    free(a.cur);
    free(a.prev);
    return rc;
}

struct trending_state {
    const float *trend;
    size_t n;
};

static enum rc trending_load(const struct modelfile *mf, const struct params *p, void **state,
                             struct err *e)
{
    UNUSED(p);
    const void *data;
    size_t len;
    enum rc rc = modelfile_section(mf, "trend", sizeof(float), &data, &len, e);
    if (rc) return rc;
    struct trending_state *s = xcalloc(1, sizeof(*s));
    s->trend = data;
    s->n = len / sizeof(float);
    *state = s;
    return RC_OK;
}

static void trending_unload(void *state)
{
    free(state);
}

static enum rc trending_score_user(void *state, const uint32_t *items, const float *w, size_t n,
                                   float *scores, struct err *e)
{
    UNUSED(items);
    UNUSED(w);
    UNUSED(n);
    UNUSED(e);
    struct trending_state *s = state;
    /* Not trending: no opinion, so the engine fills in popular items after the trending ones. */
    for (size_t i = 0; i < s->n; i++)
        scores[i] = s->trend[i] > 0 ? s->trend[i] : NAN;
    return RC_OK;
}

const struct recipe recipe_trending_now = {
    .name = "aws-trending-now",
    .kind = RECIPE_POPULAR_ITEMS,
    .summary = "items whose interactions grow fastest over the discovery window",
    .params = trending_params,
    .validate = trending_validate,
    .train = trending_train,
    .load = trending_load,
    .unload = trending_unload,
    .score_user = trending_score_user,
};
