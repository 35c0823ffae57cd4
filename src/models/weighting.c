/*
 * weighting.c: interactions -> w_ui (formula in weighting.h), two passes:
 * the first finds each event type's mean value and the newest timestamp,
 * the second weighs every event and sums per (user, item).
 */
#include "common/base.h"
#include "models/weighting.h"
#include "common/vec.h"

#include <jansson.h>

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

double event_weigher_weight(const struct event_weigher *w, uint32_t type, float value, int64_t ts)
{
    bool known = type == EVENT_TYPE_NONE || type < w->ntypes;
    uint32_t slot = type == EVENT_TYPE_NONE ? w->ntypes : type;
    if (w->only_type >= 0 && (int64_t)type != w->only_type) return 0;
    if (w->has_threshold && (isnan(value) || value < w->threshold)) return 0;
    double b = known ? w->weight[slot] : 1.0;
    double mean = known ? w->mean[slot] : 0;
    if (w->use_values && !isnan(value) && mean > 0) {
        if (value <= 0) return 0; /* a zero or negative value carries no preference */
        b *= value / mean;
    }
    if (w->half_life_days > 0)
        b *= pow(0.5, (double)(w->last_ts - ts) / (w->half_life_days * 86400.0));
    return b > 0 ? b : 0;
}

void event_weigher_release(struct event_weigher *w)
{
    for (uint32_t t = 0; w->names && t < w->ntypes; t++)
        free(w->names[t]);
    free(w->names);
    free(w->weight);
    free(w->mean);
    memset(w, 0, sizeof(*w));
}

static void weigher_alloc(struct event_weigher *w, uint32_t ntypes)
{
    w->ntypes = ntypes;
    w->names = xcalloc(ntypes + 1, sizeof(char *));
    w->weight = xcalloc(ntypes + 1, sizeof(double));
    w->mean = xcalloc(ntypes + 1, sizeof(double));
}

char *event_weigher_to_json(const struct event_weigher *w)
{
    json_t *types = json_array();
    for (uint32_t t = 0; t <= w->ntypes; t++)
        json_array_append_new(types, json_pack("{s:s?,s:f,s:f}", "name",
                                               t < w->ntypes ? w->names[t] : NULL, "weight",
                                               w->weight[t], "meanValue", w->mean[t]));
    json_t *o = json_pack("{s:o,s:I,s:b,s:f,s:b,s:f,s:I}", "types", types, "onlyType",
                          (json_int_t)w->only_type, "hasThreshold", w->has_threshold, "threshold",
                          w->threshold, "useValues", w->use_values, "halfLifeDays",
                          w->half_life_days, "lastTimestamp", (json_int_t)w->last_ts);
    char *text = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(o);
    char *copy = xstrdup(text ? text : "{}");
    free(text);
    return copy;
}

enum rc event_weigher_from_json(const char *json, struct event_weigher *out, struct err *e)
{
    json_t *o = json_loads(json, 0, NULL);
    json_t *types = json_object_get(o, "types");
    struct event_weigher w = {0};
    json_int_t only = -1, last = 0;
    int has_thr = 0, use_values = 1;
    double thr = 0, half = 0;
    if (!o || !json_is_array(types) || json_array_size(types) < 1 ||
        json_unpack(o, "{s:I,s:b,s:F,s:b,s:F,s:I}", "onlyType", &only, "hasThreshold", &has_thr,
                    "threshold", &thr, "useValues", &use_values, "halfLifeDays", &half,
                    "lastTimestamp", &last) != 0) {
        json_decref(o);
        return err_set(e, RC_INVALID_INPUT, "model file: corrupt event weighting");
    }
    weigher_alloc(&w, (uint32_t)(json_array_size(types) - 1));
    for (uint32_t t = 0; t <= w.ntypes; t++) {
        json_t *x = json_array_get(types, t);
        const char *name = json_string_value(json_object_get(x, "name"));
        if (t < w.ntypes) w.names[t] = xstrdup(name ? name : "");
        w.weight[t] = json_number_value(json_object_get(x, "weight"));
        w.mean[t] = json_number_value(json_object_get(x, "meanValue"));
    }
    w.only_type = only;
    w.has_threshold = has_thr;
    w.threshold = thr;
    w.use_values = use_values;
    w.half_life_days = half;
    w.last_ts = last;
    json_decref(o);
    *out = w;
    return RC_OK;
}

struct pass {
    struct event_weigher *w;
    uint32_t nusers, nitems; /* the ID maps' sizes: indexes must stay below */
    double *value_sum;
    uint64_t *value_n;
    int64_t last_ts;
    bool any;
    VEC(uint32_t) rows;
    VEC(uint32_t) cols;
    VEC(float) vals;
    VEC(uint32_t) types;
    uint64_t total;
    const uint64_t *skip; /* events left out, by position in scan order (may be NULL) */
    uint64_t pos;         /* the position of the next event */
};

static bool skipped(struct pass *p)
{
    uint64_t pos = p->pos++;
    return p->skip && (p->skip[pos >> 6] >> (pos & 63)) & 1;
}

/* The first pass finds each type's mean value and the newest event, among kept events. */
static enum rc first_pass(void *ctx, const struct interaction_chunk *c, struct err *e)
{
    struct pass *p = ctx;
    struct event_weigher *w = p->w;
    for (uint32_t i = 0; i < c->n; i++) {
        uint32_t t = c->event_types[i];
        if (t != EVENT_TYPE_NONE && t >= w->ntypes)
            return err_set(e, RC_DB, "store: interaction with unknown event type %u", t);
        if (skipped(p)) continue;
        if (w->only_type >= 0 && (int64_t)t != w->only_type) continue;
        float v = c->event_values[i];
        if (w->has_threshold && (isnan(v) || v < w->threshold)) continue;
        uint32_t slot = t == EVENT_TYPE_NONE ? w->ntypes : t;
        if (!isnan(v)) {
            p->value_sum[slot] += v;
            p->value_n[slot]++;
        }
        if (!p->any || c->ts[i] > p->last_ts) p->last_ts = c->ts[i];
        p->any = true;
    }
    return RC_OK;
}

static enum rc second_pass(void *ctx, const struct interaction_chunk *c, struct err *e)
{
    struct pass *p = ctx;
    for (uint32_t i = 0; i < c->n; i++) {
        if (skipped(p)) continue;
        p->total++;
        if (c->users[i] >= p->nusers || c->items[i] >= p->nitems)
            return err_set(e, RC_DB,
                           "store: an interaction refers to an unknown user or item index");
        double b = event_weigher_weight(p->w, c->event_types[i], c->event_values[i], c->ts[i]);
        if (!(b > 0)) continue;
        VEC_PUSH(&p->rows, c->users[i]);
        VEC_PUSH(&p->cols, c->items[i]);
        VEC_PUSH(&p->vals, (float)b);
        VEC_PUSH(&p->types, c->event_types[i]);
    }
    return RC_OK;
}

enum rc train_data_load(struct store *s, int64_t group_id, int64_t dataset_id,
                        const struct weighting *w, struct train_data *out, struct err *e)
{
    return train_data_load_except(s, group_id, dataset_id, w, 0, NULL, out, e);
}

enum rc train_data_load_except(struct store *s, int64_t group_id, int64_t dataset_id,
                               const struct weighting *w, int64_t last_chunk, const uint64_t *skip,
                               struct train_data *out, struct err *e)
{
    struct train_data d = {0};
    struct strmap *types = strmap_new();
    d.users = strmap_new();
    d.items = strmap_new();
    struct pass p = {0};
    enum rc rc;
    /*
     * Note the newest chunk before loading the maps: every ID a chunk up to it
     * uses was committed with it or before, so the maps cover them all even if
     * an import commits meanwhile.
     */
    if (last_chunk > 0)
        d.last_chunk = last_chunk;
    else if ((rc = store_interactions_last_id(s, dataset_id, &d.last_chunk, e)))
        goto out;
    d.skip = skip;
    if ((rc = store_idmap_load(s, group_id, ID_USERS, d.users, e)) ||
        (rc = store_idmap_load(s, group_id, ID_ITEMS, d.items, e)) ||
        (rc = store_idmap_load(s, group_id, ID_EVENT_TYPES, types, e)))
        goto out;
    struct event_weigher *ew = &d.weigher;
    weigher_alloc(ew, strmap_count(types));
    ew->only_type = -1;
    ew->has_threshold = w->has_value_threshold;
    ew->threshold = w->value_threshold;
    ew->use_values = w->use_values;
    ew->half_life_days = w->half_life_days;
    for (uint32_t t = 0; t < ew->ntypes; t++) {
        ew->names[t] = xstrdup(strmap_key(types, t, NULL));
        ew->weight[t] = 1.0;
    }
    ew->weight[ew->ntypes] = 1.0;
    if (w->event_type) {
        uint32_t t;
        if (!strmap_get(types, w->event_type, strlen(w->event_type), &t)) {
            rc =
                err_set(e, RC_INVALID_INPUT,
                        "eventType '%s' does not occur in the interactions dataset", w->event_type);
            goto out;
        }
        ew->only_type = t;
    }
    for (size_t k = 0; k < w->ntype_weights; k++) {
        uint32_t t;
        if (strmap_get(types, w->type_names[k], strlen(w->type_names[k]), &t))
            ew->weight[t] = w->type_weights[k];
    }
    p.w = ew;
    p.skip = skip;
    p.nusers = strmap_count(d.users);
    p.nitems = strmap_count(d.items);
    p.value_sum = xcalloc(ew->ntypes + 1, sizeof(double));
    p.value_n = xcalloc(ew->ntypes + 1, sizeof(uint64_t));
    /* Both passes read the same chunks: those that existed when training started. */
    if ((rc = store_interactions_scan_range(s, dataset_id, 0, d.last_chunk, first_pass, &p, e)))
        goto out;
    for (uint32_t t = 0; t <= ew->ntypes; t++)
        ew->mean[t] = p.value_n[t] ? p.value_sum[t] / (double)p.value_n[t] : 0;
    ew->last_ts = p.last_ts;
    p.pos = 0;
    if ((rc = store_interactions_scan_range(s, dataset_id, 0, d.last_chunk, second_pass, &p, e)))
        goto out;

    d.ui = csr_from_triplets(strmap_count(d.users), strmap_count(d.items), p.rows.v, p.cols.v,
                             p.vals.v, p.rows.n);
    /* Diminishing returns for repeats: w_ui = log(1 + sum of event weights). */
    for (uint64_t k = 0; k < d.ui->nnz; k++)
        d.ui->values[k] = (float)log1p((double)d.ui->values[k]);
    /* Which event types stand behind each (user, item) entry, for explanations. */
    d.type_masks = xcalloc(d.ui->nnz ? d.ui->nnz : 1, sizeof(uint32_t));
    for (size_t k = 0; k < p.rows.n; k++) {
        uint64_t lo = d.ui->indptr[p.rows.v[k]], hi = d.ui->indptr[p.rows.v[k] + 1];
        while (lo < hi) {
            uint64_t mid = lo + (hi - lo) / 2;
            if (d.ui->indices[mid] < p.cols.v[k])
                lo = mid + 1;
            else
                hi = mid;
        }
        d.type_masks[lo] |= event_type_bit(p.types.v[k]);
    }
    d.events_used = p.rows.n;
    d.events_total = p.total;
    d.last_ts = p.last_ts;
out:
    strmap_free(types);
    free(p.value_sum);
    free(p.value_n);
    VEC_FREE(&p.rows);
    VEC_FREE(&p.cols);
    VEC_FREE(&p.vals);
    VEC_FREE(&p.types);
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
    free(d->type_masks);
    event_weigher_release(&d->weigher);
    strmap_free(d->users);
    strmap_free(d->items);
    memset(d, 0, sizeof(*d));
}
