/*
 * hpo.c: random-search HPO and AutoML recipe selection (hpo.h).
 */
#include "common/base.h"
#include "eval/hpo.h"
#include "common/rng.h"

#include <errno.h>
#include <math.h>
#include <strings.h>

/* ---- Parsing -------------------------------------------------------------- */

/* A JSON number, or a string holding one (Personalize sends HPOResource values as strings). */
static bool json_num(const json_t *v, double *out)
{
    if (json_is_number(v)) {
        *out = json_number_value(v);
        return isfinite(*out);
    }
    if (!json_is_string(v)) return false;
    const char *s = json_string_value(v);
    char *end;
    errno = 0;
    *out = strtod(s, &end);
    return *s && !*end && !errno && isfinite(*out);
}

static enum rc parse_metric(const json_t *obj, const char *where, int *metric, struct err *e)
{
    const json_t *name = json_object_get(obj, "metricName");
    *metric = METRIC_NDCG_10;
    if (!name) return RC_OK;
    if (!json_is_string(name))
        return err_set(e, RC_INVALID_INPUT, "%s.metricName: expected a string", where);
    *metric = metric_find(json_string_value(name));
    if (*metric < 0)
        return err_set(e, RC_INVALID_INPUT, "%s.metricName: '%s' is not a metric (metrics: %s)",
                       where, json_string_value(name), metric_name_list());
    return RC_OK;
}

static const struct param_spec *find_spec(const struct recipe *r, const char *name)
{
    for (const struct param_spec *s = r->params; s->name; s++)
        if (strcmp(s->name, name) == 0 || (s->alias && strcmp(s->alias, name) == 0)) return s;
    return NULL;
}

static enum rc parse_scaling(const json_t *range, const char *where, enum hpo_scaling *out,
                             struct err *e)
{
    const json_t *v = json_object_get(range, "scalingType");
    *out = HPO_SCALE_AUTO;
    if (!v) return RC_OK;
    const char *s = json_string_value(v);
    static const char *const names[] = {"Auto", "Linear", "Logarithmic", "ReverseLogarithmic"};
    for (int i = 0; s && i < 4; i++)
        if (strcmp(s, names[i]) == 0) {
            *out = (enum hpo_scaling)i;
            return RC_OK;
        }
    return err_set(e, RC_INVALID_INPUT,
                   "%s.scalingType: '%s' is not Auto, Linear, Logarithmic or ReverseLogarithmic",
                   where, s ? s : "(not a string)");
}

static enum rc parse_range(const json_t *range, enum hpo_range_type type, const char *where,
                           const struct recipe *r, struct hpo_config *c, struct err *e)
{
    const char *name = json_string_value(json_object_get(range, "name"));
    if (!name) return err_set(e, RC_INVALID_INPUT, "%s.name: required", where);
    const struct param_spec *spec = find_spec(r, name);
    if (!spec)
        return err_set(e, RC_INVALID_INPUT, "%s: recipe %s has no hyperparameter '%s'", where,
                       r->name, name);
    for (size_t i = 0; i < c->nranges; i++)
        if (strcmp(c->ranges[i].name, spec->name) == 0)
            return err_set(e, RC_INVALID_INPUT, "%s: hyperparameter '%s' has two ranges", where,
                           name);
    struct hpo_range h = {.name = spec->name, .type = type};
    if (type == HPO_CATEGORICAL) {
        const json_t *vals = json_object_get(range, "values");
        if (!json_is_array(vals) || json_array_size(vals) == 0)
            return err_set(e, RC_INVALID_INPUT, "%s (%s).values: expected a non-empty list", where,
                           name);
        h.values = xcalloc(json_array_size(vals), sizeof(char *));
        for (size_t i = 0; i < json_array_size(vals); i++) {
            const json_t *v = json_array_get(vals, i);
            char num[64];
            const char *text = json_string_value(v);
            if (!text && json_is_number(v)) {
                snprintf(num, sizeof(num), "%.17g", json_number_value(v));
                text = num;
            }
            /* Each value must be one the recipe accepts. */
            struct param_kv kv = {spec->name, text ? text : ""};
            struct params p = {0};
            struct err pe = ERR_INIT;
            enum rc rc = text ? params_resolve(r->params, &kv, 1, &p, &pe) : RC_INVALID_INPUT;
            params_release(&p);
            if (rc == RC_OK && r->validate) {
                rc = params_resolve(r->params, &kv, 1, &p, &pe);
                if (!rc) rc = r->validate(&p, &pe);
                params_release(&p);
            }
            if (rc) {
                for (size_t k = 0; k < h.nvalues; k++)
                    free(h.values[k]);
                free(h.values);
                return err_set(e, RC_INVALID_INPUT, "%s (%s).values[%zu]: %s", where, name, i,
                               text ? pe.msg : "expected a string or a number");
            }
            h.values[h.nvalues++] = xstrdup(text);
        }
    } else {
        if (type == HPO_INTEGER && spec->type != PARAM_INT)
            return err_set(
                e, RC_INVALID_INPUT,
                "%s: '%s' is not an integer hyperparameter; use continuousHyperParameterRanges or categoricalHyperParameterRanges",
                where, name);
        if (type == HPO_CONTINUOUS && spec->type != PARAM_FLOAT)
            return err_set(e, RC_INVALID_INPUT, "%s: '%s' is not a continuous hyperparameter%s",
                           where, name,
                           spec->type == PARAM_INT ? "; use integerHyperParameterRanges" : "");
        if (!json_num(json_object_get(range, "minValue"), &h.min) ||
            !json_num(json_object_get(range, "maxValue"), &h.max))
            return err_set(e, RC_INVALID_INPUT, "%s (%s): minValue and maxValue must be numbers",
                           where, name);
        if (type == HPO_INTEGER && (h.min != floor(h.min) || h.max != floor(h.max)))
            return err_set(e, RC_INVALID_INPUT, "%s (%s): minValue and maxValue must be integers",
                           where, name);
        if (h.min > h.max)
            return err_set(e, RC_INVALID_INPUT,
                           "%s (%s): the range is inverted (minValue %g > maxValue %g)", where,
                           name, h.min, h.max);
        if (h.min < spec->min || h.max > spec->max)
            return err_set(e, RC_INVALID_INPUT,
                           "%s (%s): [%g, %g] leaves the hyperparameter's own limits [%g, %g]",
                           where, name, h.min, h.max, spec->min, spec->max);
        enum rc rc = parse_scaling(range, where, &h.scaling, e);
        if (rc) return rc;
        if (h.scaling == HPO_SCALE_LOG && !(h.min > 0))
            return err_set(e, RC_INVALID_INPUT, "%s (%s): Logarithmic scaling needs minValue > 0",
                           where, name);
        if (h.scaling == HPO_SCALE_REVERSE_LOG && !(h.min >= 0 && h.max < 1))
            return err_set(e, RC_INVALID_INPUT,
                           "%s (%s): ReverseLogarithmic scaling needs 0 <= minValue, maxValue < 1",
                           where, name);
        if (h.scaling == HPO_SCALE_AUTO)
            h.scaling = h.min > 0 && h.max / h.min >= 10 ? HPO_SCALE_LOG : HPO_SCALE_LINEAR;
    }
    c->ranges = xreallocarray(c->ranges, c->nranges + 1, sizeof(*c->ranges));
    c->ranges[c->nranges++] = h;
    return RC_OK;
}

void hpo_config_release(struct hpo_config *c)
{
    if (!c) return;
    for (size_t i = 0; i < c->nranges; i++) {
        for (size_t k = 0; k < c->ranges[i].nvalues; k++)
            free(c->ranges[i].values[k]);
        free(c->ranges[i].values);
    }
    free(c->ranges);
    memset(c, 0, sizeof(*c));
}

static enum rc parse_limit(const json_t *res, const char *key, uint32_t def, uint32_t max,
                           uint32_t *out, struct err *e)
{
    const json_t *v = json_object_get(res, key);
    *out = def;
    if (!v) return RC_OK;
    double x;
    if (!json_num(v, &x) || x != floor(x) || x < 1 || x > max)
        return err_set(e, RC_INVALID_INPUT,
                       "hpoConfig.hpoResourceConfig.%s: expected a whole number from 1 to %u", key,
                       max);
    *out = (uint32_t)x;
    return RC_OK;
}

enum rc hpo_config_parse(const json_t *cfg, const struct recipe *r, struct hpo_config *out,
                         struct err *e)
{
    struct hpo_config c = {0};
    enum rc rc = RC_OK;
    if (!json_is_object(cfg)) return err_set(e, RC_INVALID_INPUT, "hpoConfig: expected an object");
    const json_t *obj = json_object_get(cfg, "hpoObjective");
    c.metric = METRIC_NDCG_10;
    if (obj) {
        const char *type = json_string_value(json_object_get(obj, "type"));
        if (type && strcasecmp(type, "Maximize") && strcasecmp(type, "Minimize"))
            return err_set(e, RC_INVALID_INPUT,
                           "hpoConfig.hpoObjective.type: '%s' is not Maximize or Minimize", type);
        c.minimize = type && strcasecmp(type, "Minimize") == 0;
        if ((rc = parse_metric(obj, "hpoConfig.hpoObjective", &c.metric, e))) return rc;
        /* metricRegex finds the metric in SageMaker logs; savor knows its metrics by name. */
    }
    const json_t *res = json_object_get(cfg, "hpoResourceConfig");
    if ((rc = parse_limit(res, "maxNumberOfTrainingJobs", 8, HPO_MAX_JOBS, &c.max_jobs, e)) ||
        (rc = parse_limit(res, "maxParallelTrainingJobs", 1, HPO_MAX_PARALLEL, &c.max_parallel, e)))
        return rc;
    const json_t *ranges = json_object_get(cfg, "algorithmHyperParameterRanges");
    json_t *defaults = NULL;
    if (!ranges) {
        ranges = defaults = hpo_default_ranges(r);
        if (!ranges)
            return err_set(
                e, RC_INVALID_INPUT,
                "hpoConfig.algorithmHyperParameterRanges: recipe %s has no default ranges; give the hyperparameters to tune",
                r->name);
    }
    static const struct {
        const char *key;
        enum hpo_range_type type;
    } kinds[] = {{"integerHyperParameterRanges", HPO_INTEGER},
                 {"continuousHyperParameterRanges", HPO_CONTINUOUS},
                 {"categoricalHyperParameterRanges", HPO_CATEGORICAL}};
    for (size_t k = 0; k < 3 && !rc; k++) {
        const json_t *list = json_object_get(ranges, kinds[k].key);
        if (!list) continue;
        if (!json_is_array(list)) {
            rc = err_set(e, RC_INVALID_INPUT,
                         "hpoConfig.algorithmHyperParameterRanges.%s: expected a list",
                         kinds[k].key);
            break;
        }
        for (size_t i = 0; i < json_array_size(list) && !rc; i++) {
            char where[160];
            snprintf(where, sizeof(where), "hpoConfig.algorithmHyperParameterRanges.%s[%zu]",
                     kinds[k].key, i);
            rc = parse_range(json_array_get(list, i), kinds[k].type, where, r, &c, e);
        }
    }
    json_decref(defaults);
    if (!rc && c.nranges == 0)
        rc = err_set(
            e, RC_INVALID_INPUT,
            "hpoConfig.algorithmHyperParameterRanges: no ranges; name at least one of recipe %s's hyperparameters",
            r->name);
    if (rc) {
        hpo_config_release(&c);
        return rc;
    }
    *out = c;
    return RC_OK;
}

/*
 * Default ranges, as Personalize's recipes have for performHPO without
 * algorithmHyperParameterRanges: the parameters that matter most, over
 * ranges that train (regularization past ~2.5 collapses savor's ALS, whose
 * regularization is per interaction of a row).
 */
static const struct {
    const char *recipe;
    const char *ranges;
} default_ranges[] = {
    /*
     * Both models' parameters: model=auto picks EASE or ALS by catalog size,
     * and the other model's parameters are simply not used by a trial.
     */
    {"aws-user-personalization",
     "{\"integerHyperParameterRanges\": [{\"name\": \"factors\", \"minValue\": 16, \"maxValue\": 256},"
     " {\"name\": \"history_recent_items\", \"minValue\": 0, \"maxValue\": 20}],"
     " \"continuousHyperParameterRanges\": [{\"name\": \"regularization\", \"minValue\": 0.01,"
     " \"maxValue\": 2, \"scalingType\": \"Logarithmic\"}, {\"name\": \"alpha\", \"minValue\": 1,"
     " \"maxValue\": 100, \"scalingType\": \"Logarithmic\"}, {\"name\": \"l2\", \"minValue\": 10,"
     " \"maxValue\": 2000, \"scalingType\": \"Logarithmic\"}, {\"name\": \"history_half_life\","
     " \"minValue\": 1, \"maxValue\": 50, \"scalingType\": \"Logarithmic\"}]}"},
    {"aws-sims",
     "{\"continuousHyperParameterRanges\": [{\"name\": \"popularity_discount_factor\", \"minValue\": 0,"
     " \"maxValue\": 1, \"scalingType\": \"Linear\"}], \"integerHyperParameterRanges\": [{\"name\":"
     " \"min_cointeraction_count\", \"minValue\": 1, \"maxValue\": 10}]}"},
    {"aws-similar-items",
     "{\"continuousHyperParameterRanges\": [{\"name\": \"metadata_weight\", \"minValue\": 0,"
     " \"maxValue\": 1, \"scalingType\": \"Linear\"}]}"},
    {"aws-trending-now",
     "{\"categoricalHyperParameterRanges\": [{\"name\": \"trend_discovery_frequency\", \"values\":"
     " [\"30 minutes\", \"1 hour\", \"2 hours\", \"3 hours\", \"1 day\"]}]}"},
};

json_t *hpo_default_ranges(const struct recipe *r)
{
    /* The -v2 and personalized-ranking recipes share user-personalization's parameters. */
    const char *name =
        r->params == recipe_user_personalization.params ? "aws-user-personalization" : r->name;
    for (size_t i = 0; i < ARRAY_SIZE(default_ranges); i++)
        if (strcmp(default_ranges[i].recipe, name) == 0)
            return json_loads(default_ranges[i].ranges, 0, NULL);
    return NULL;
}

/* ---- Search --------------------------------------------------------------- */

static double draw(struct rng *g, const struct hpo_range *h)
{
    double u = rng_unif(g), lo = h->min, hi = h->max;
    if (h->type == HPO_INTEGER) hi += 1; /* [min, max + 1), floored */
    double x;
    switch (h->scaling) {
    case HPO_SCALE_LOG:
        x = exp(log(lo) + u * (log(hi) - log(lo)));
        break;
    case HPO_SCALE_REVERSE_LOG: /* log scale on 1 - x: dense near the top */
        x = 1 - exp(log(1 - lo) + u * (log(1 - hi) - log(1 - lo)));
        break;
    default:
        x = lo + u * (hi - lo);
    }
    if (h->type == HPO_INTEGER) x = floor(x);
    return x < h->min ? h->min : x > h->max ? h->max : x;
}

static char *format_value(const struct hpo_range *h, double x)
{
    if (h->type == HPO_INTEGER) return xasprintf("%lld", (long long)x);
    return xasprintf("%.6g", x);
}

void hpo_kv_free(struct param_kv *kv, size_t n)
{
    for (size_t i = 0; kv && i < n; i++) {
        free((char *)kv[i].key);
        free((char *)kv[i].value);
    }
    free(kv);
}

/* The trial's values as text, one per range. Trial 0: the defaults when they lie in the ranges. */
static void trial_values(const struct hpo_config *c, const struct recipe *r, struct rng *g,
                         bool defaults, char **vals)
{
    for (size_t i = 0; i < c->nranges; i++) {
        const struct hpo_range *h = &c->ranges[i];
        const struct param_spec *spec = find_spec(r, h->name);
        if (defaults && h->type == HPO_CATEGORICAL) {
            for (size_t k = 0; k < h->nvalues && !vals[i]; k++)
                if (strcmp(h->values[k], spec->def) == 0) vals[i] = xstrdup(spec->def);
        } else if (defaults) {
            double d = strtod(spec->def, NULL);
            if (d >= h->min && d <= h->max) vals[i] = xstrdup(spec->def);
        }
        if (vals[i]) continue;
        if (h->type == HPO_CATEGORICAL)
            vals[i] = xstrdup(h->values[rng_next(g) % h->nvalues]);
        else
            vals[i] = format_value(h, draw(g, h));
    }
}

static double objective(const struct hpo_config *c, const struct eval_result *res)
{
    double v = res->metrics[c->metric];
    return c->minimize ? -v : v;
}

enum rc hpo_run(struct eval_data *d, const struct recipe *r, const struct param_kv *base,
                size_t nbase, const struct weighting *w, const struct hpo_config *c,
                const struct split *validation, uint64_t seed, struct param_kv **best,
                size_t *nbest, json_t **trials, FILE *progress, struct err *e)
{
    struct rng g;
    rng_seed(&g, seed ^ 0x68706fULL);
    size_t nr = c->nranges;
    char **all = xcalloc((size_t)c->max_jobs * nr + 1, sizeof(char *)); /* every trial's values */
    struct param_kv *kv = xcalloc(nbase + nr + 1, sizeof(*kv));
    json_t *list = json_array();
    double best_obj = -INFINITY;
    long best_trial = -1;
    enum rc rc = RC_OK;
    uint32_t done = 0;
    for (uint32_t t = 0; t < c->max_jobs && !rc; t++) {
        char **vals = all + (size_t)done * nr;
        /* Draw until the trial differs from every earlier one (small spaces run out). */
        bool fresh = false;
        for (int attempt = 0; attempt < 50 && !fresh; attempt++) {
            for (size_t i = 0; i < nr; i++) {
                free(vals[i]);
                vals[i] = NULL;
            }
            trial_values(c, r, &g, t == 0 && attempt == 0, vals);
            fresh = true;
            for (uint32_t k = 0; k < done && fresh; k++) {
                bool same = true;
                for (size_t i = 0; i < nr && same; i++)
                    same = strcmp(all[(size_t)k * nr + i], vals[i]) == 0;
                fresh = !same;
            }
        }
        if (!fresh) break;
        /* The user's own values, overridden by the trial's. */
        size_t n = 0;
        for (size_t k = 0; k < nbase; k++) {
            const struct param_spec *s = find_spec(r, base[k].key);
            bool ranged = false;
            for (size_t i = 0; s && i < nr; i++)
                ranged |= strcmp(c->ranges[i].name, s->name) == 0;
            if (!ranged) kv[n++] = base[k];
        }
        for (size_t i = 0; i < nr; i++)
            kv[n++] = (struct param_kv){c->ranges[i].name, vals[i]};
        struct eval_result res;
        rc = eval_settings(d, r, kv, n, w, validation, &res, e);
        if (rc) {
            err_prefix(e, "HPO trial %u: ", t + 1);
            break;
        }
        done++;
        json_t *hp = json_object();
        for (size_t i = 0; i < nr; i++)
            json_object_set_new(hp, c->ranges[i].name, json_string(vals[i]));
        double obj = objective(c, &res);
        json_array_append_new(list, json_pack("{s:i,s:o,s:o,s:f,s:f}", "trial", (int)done,
                                              "algorithmHyperParameters", hp, "metrics",
                                              eval_metrics_json(res.metrics), "objective",
                                              round(res.metrics[c->metric] * 1e6) / 1e6, "seconds",
                                              round(res.seconds * 1000) / 1000));
        if (obj > best_obj) {
            best_obj = obj;
            best_trial = (long)done - 1;
        }
        if (progress)
            fprintf(progress, "HPO trial %u/%u: %s %.4f%s\n", done, c->max_jobs,
                    metric_names[c->metric], res.metrics[c->metric],
                    best_trial == (long)done - 1 ? " (best so far)" : "");
    }
    if (!rc && best_trial < 0) rc = err_set(e, RC_INTERNAL, "HPO: no trial ran");
    if (!rc) {
        *best = xcalloc(nr, sizeof(**best));
        for (size_t i = 0; i < nr; i++)
            (*best)[i] = (struct param_kv){xstrdup(c->ranges[i].name),
                                           xstrdup(all[(size_t)best_trial * nr + i])};
        *nbest = nr;
        *trials = list;
        list = NULL;
    }
    for (size_t k = 0; k < (size_t)c->max_jobs * nr; k++)
        free(all[k]);
    free(all);
    free(kv);
    json_decref(list);
    return rc;
}

/* ---- AutoML --------------------------------------------------------------- */

void automl_config_release(struct automl_config *c)
{
    if (!c) return;
    free(c->recipes);
    memset(c, 0, sizeof(*c));
}

enum rc automl_config_parse(const json_t *cfg, struct automl_config *out, struct err *e)
{
    struct automl_config c = {0};
    if (cfg && !json_is_object(cfg))
        return err_set(e, RC_INVALID_INPUT, "autoMLConfig: expected an object");
    enum rc rc = parse_metric(cfg, "autoMLConfig", &c.metric, e);
    if (rc) return rc;
    const json_t *list = json_object_get(cfg, "recipeList");
    static const char *const defaults[] = {"aws-user-personalization", "aws-popularity-count"};
    size_t n = list ? json_array_size(list) : 2;
    if (list && (!json_is_array(list) || n == 0))
        return err_set(e, RC_INVALID_INPUT, "autoMLConfig.recipeList: expected a non-empty list");
    c.recipes = xcalloc(n, sizeof(*c.recipes));
    for (size_t i = 0; i < n; i++) {
        const char *name = list ? json_string_value(json_array_get(list, i)) : defaults[i];
        const struct recipe *r = name ? recipe_find(name) : NULL;
        if (!r)
            rc = err_set(e, RC_INVALID_INPUT, "autoMLConfig.recipeList[%zu]: '%s' is not a recipe",
                         i, name ? name : "(not a string)");
        else if (r->kind == RECIPE_RELATED_ITEMS)
            rc = err_set(
                e, RC_INVALID_INPUT,
                "autoMLConfig.recipeList[%zu]: %s recommends related items, not items for a user; AutoML compares user recipes",
                i, r->name);
        for (size_t k = 0; !rc && k < c.nrecipes; k++)
            if (c.recipes[k] == r)
                rc = err_set(e, RC_INVALID_INPUT,
                             "autoMLConfig.recipeList[%zu]: %s is listed twice", i, r->name);
        if (rc) {
            automl_config_release(&c);
            return rc;
        }
        c.recipes[c.nrecipes++] = r;
    }
    *out = c;
    return RC_OK;
}

size_t automl_filter_kv(const struct recipe *r, const struct param_kv *kv, size_t n,
                        struct param_kv *out)
{
    size_t m = 0;
    for (size_t k = 0; k < n; k++)
        if (find_spec(r, kv[k].key)) out[m++] = kv[k];
    return m;
}

enum rc automl_run(struct eval_data *d, const struct automl_config *c, const struct param_kv *base,
                   size_t nbase, const struct weighting *w, const struct split *validation,
                   const struct recipe **best, json_t **trials, FILE *progress, struct err *e)
{
    json_t *list = json_array();
    struct param_kv *kv = xcalloc(nbase + 1, sizeof(*kv));
    double best_v = -INFINITY;
    enum rc rc = RC_OK;
    for (size_t i = 0; i < c->nrecipes && !rc; i++) {
        const struct recipe *r = c->recipes[i];
        size_t n = automl_filter_kv(r, base, nbase, kv);
        struct eval_result res;
        rc = eval_settings(d, r, kv, n, w, validation, &res, e);
        if (rc) {
            err_prefix(e, "AutoML, recipe %s: ", r->name);
            break;
        }
        char *arn = xasprintf("arn:aws:personalize:::recipe/%s", r->name);
        json_array_append_new(list, json_pack("{s:s,s:o,s:f,s:f}", "recipeArn", arn, "metrics",
                                              eval_metrics_json(res.metrics), "objective",
                                              round(res.metrics[c->metric] * 1e6) / 1e6, "seconds",
                                              round(res.seconds * 1000) / 1000));
        free(arn);
        if (res.metrics[c->metric] > best_v) {
            best_v = res.metrics[c->metric];
            *best = r;
        }
        if (progress)
            fprintf(progress, "AutoML %s: %s %.4f\n", r->name, metric_names[c->metric],
                    res.metrics[c->metric]);
    }
    free(kv);
    if (rc) {
        json_decref(list);
        return rc;
    }
    *trials = list;
    return RC_OK;
}
