/*
 * weighting.c: interactions -> w_ui (formula in weighting.h), two passes:
 * the first finds each event type's mean value and the newest timestamp,
 * the second weighs every event and sums per (user, item).
 */
#include "common/base.h"
#include "models/weighting.h"
#include "common/vec.h"

#include <math.h>

void weighting_init(struct weighting *w)
{
    memset(w, 0, sizeof(*w));
    w->use_values = true;
}

void weighting_release(struct weighting *w)
{
    free(w->event_type);
    for (size_t i = 0; i < w->ntype_weights; i++)
        free(w->type_names[i]);
    memset(w, 0, sizeof(*w));
}

enum rc weighting_set_type_weight(struct weighting *w, const char *type, double weight,
                                  struct err *e)
{
    if (!(weight >= 0) || !isfinite(weight))
        return err_set(e, RC_INVALID_INPUT, "weight of event type '%s' must be >= 0 (got %g)", type,
                       weight);
    for (size_t i = 0; i < w->ntype_weights; i++) {
        if (strcmp(w->type_names[i], type) == 0) {
            w->type_weights[i] = weight;
            return RC_OK;
        }
    }
    if (w->ntype_weights == WEIGHTING_MAX_TYPES)
        return err_set(e, RC_LIMIT_EXCEEDED, "more than %d event type weights",
                       WEIGHTING_MAX_TYPES);
    w->type_names[w->ntype_weights] = xstrdup(type);
    w->type_weights[w->ntype_weights++] = weight;
    return RC_OK;
}

struct pass {
    const struct weighting *w;
    uint32_t
        only_type; /* index of w->event_type, EVENT_TYPE_NONE for all, UINT32_MAX-1 if absent */
    double *type_weight; /* per event type index (+1 slot for none) */
    double *value_sum;
    uint64_t *value_n;
    double *value_mean;
    uint32_t ntypes;
    int64_t last_ts;
    bool any;
    VEC(uint32_t) rows;
    VEC(uint32_t) cols;
    VEC(float) vals;
    uint64_t total;
};

#define TYPE_ABSENT (UINT32_MAX - 1)

static inline uint32_t type_slot(const struct pass *p, uint32_t t)
{
    return t == EVENT_TYPE_NONE ? p->ntypes : t;
}

/* Whether event i of chunk c passes the solution's filters. */
static inline bool keep(const struct pass *p, const struct interaction_chunk *c, uint32_t i)
{
    if (p->only_type != EVENT_TYPE_NONE && c->event_types[i] != p->only_type) return false;
    if (p->w->has_value_threshold) {
        float v = c->event_values[i];
        if (isnan(v) || v < p->w->value_threshold) return false;
    }
    return true;
}

static enum rc first_pass(void *ctx, const struct interaction_chunk *c, struct err *e)
{
    struct pass *p = ctx;
    for (uint32_t i = 0; i < c->n; i++) {
        uint32_t t = c->event_types[i];
        if (t != EVENT_TYPE_NONE && t >= p->ntypes)
            return err_set(e, RC_DB, "store: interaction with unknown event type %u", t);
        if (!keep(p, c, i)) continue;
        float v = c->event_values[i];
        if (!isnan(v)) {
            p->value_sum[type_slot(p, t)] += v;
            p->value_n[type_slot(p, t)]++;
        }
        if (!p->any || c->ts[i] > p->last_ts) p->last_ts = c->ts[i];
        p->any = true;
    }
    return RC_OK;
}

static enum rc second_pass(void *ctx, const struct interaction_chunk *c, struct err *e)
{
    UNUSED(e);
    struct pass *p = ctx;
    double half_life = p->w->half_life_days * 86400.0;
    for (uint32_t i = 0; i < c->n; i++) {
        p->total++;
        if (!keep(p, c, i)) continue;
        uint32_t slot = type_slot(p, c->event_types[i]);
        double b = p->type_weight[slot];
        float v = c->event_values[i];
        if (p->w->use_values && !isnan(v) && p->value_mean[slot] > 0) {
            if (v <= 0) continue; /* a zero or negative value carries no preference */
            b *= v / p->value_mean[slot];
        }
        if (half_life > 0) b *= pow(0.5, (double)(p->last_ts - c->ts[i]) / half_life);
        if (!(b > 0)) continue;
        VEC_PUSH(&p->rows, c->users[i]);
        VEC_PUSH(&p->cols, c->items[i]);
        VEC_PUSH(&p->vals, (float)b);
    }
    return RC_OK;
}

enum rc train_data_load(struct store *s, int64_t group_id, int64_t dataset_id,
                        const struct weighting *w, struct train_data *out, struct err *e)
{
    struct train_data d = {0};
    struct strmap *types = strmap_new();
    d.users = strmap_new();
    d.items = strmap_new();
    struct pass p = {0};
    p.w = w;
    enum rc rc;
    if ((rc = store_idmap_load(s, group_id, ID_USERS, d.users, e)) ||
        (rc = store_idmap_load(s, group_id, ID_ITEMS, d.items, e)) ||
        (rc = store_idmap_load(s, group_id, ID_EVENT_TYPES, types, e)))
        goto out;
    p.ntypes = strmap_count(types);
    p.only_type = EVENT_TYPE_NONE;
    if (w->event_type && !strmap_get(types, w->event_type, strlen(w->event_type), &p.only_type)) {
        rc = err_set(e, RC_INVALID_INPUT,
                     "eventType '%s' does not occur in the interactions dataset", w->event_type);
        goto out;
    }
    p.type_weight = xcalloc(p.ntypes + 1, sizeof(double));
    p.value_sum = xcalloc(p.ntypes + 1, sizeof(double));
    p.value_n = xcalloc(p.ntypes + 1, sizeof(uint64_t));
    p.value_mean = xcalloc(p.ntypes + 1, sizeof(double));
    for (uint32_t t = 0; t <= p.ntypes; t++)
        p.type_weight[t] = 1.0;
    for (size_t k = 0; k < w->ntype_weights; k++) {
        uint32_t t;
        if (strmap_get(types, w->type_names[k], strlen(w->type_names[k]), &t))
            p.type_weight[t] = w->type_weights[k];
    }
    if ((rc = store_interactions_scan(s, dataset_id, first_pass, &p, e))) goto out;
    for (uint32_t t = 0; t <= p.ntypes; t++)
        p.value_mean[t] = p.value_n[t] ? p.value_sum[t] / (double)p.value_n[t] : 0;
    if ((rc = store_interactions_scan(s, dataset_id, second_pass, &p, e))) goto out;

    d.ui = csr_from_triplets(strmap_count(d.users), strmap_count(d.items), p.rows.v, p.cols.v,
                             p.vals.v, p.rows.n);
    /* Diminishing returns for repeats: w_ui = log(1 + sum of event weights). */
    for (uint64_t k = 0; k < d.ui->nnz; k++)
        d.ui->values[k] = (float)log1p((double)d.ui->values[k]);
    d.events_used = p.rows.n;
    d.events_total = p.total;
    d.last_ts = p.last_ts;
out:
    strmap_free(types);
    free(p.type_weight);
    free(p.value_sum);
    free(p.value_n);
    free(p.value_mean);
    VEC_FREE(&p.rows);
    VEC_FREE(&p.cols);
    VEC_FREE(&p.vals);
    if (rc) {
        train_data_release(&d);
        return rc;
    }
    *out = d;
    return RC_OK;
}

void train_data_release(struct train_data *d)
{
    if (!d) return;
    csr_free(d->ui);
    strmap_free(d->users);
    strmap_free(d->items);
    memset(d, 0, sizeof(*d));
}
