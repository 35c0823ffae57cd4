/*
 * hpo.h: hyperparameter optimization (performHPO with Personalize's
 * hpoConfig) and recipe selection (performAutoML with autoMLConfig).
 *
 * Both score candidates with eval_model() on a validation split that the
 * caller cuts from the training part only (split.h's 'base'), so the test
 * targets behind the version's reported metrics are never read.
 *
 * HPO is a random search with the version's seed: trial 1 takes the
 * recipe's defaults for the tuned parameters (when they lie in the ranges),
 * the others draw every ranged parameter independently (integer and
 * continuous ranges on the range's scale, categorical values uniformly),
 * and never repeat an earlier trial. The best trial by the objective wins;
 * ties go to the earlier trial.
 */
#ifndef SAVOR_HPO_H
#define SAVOR_HPO_H

#include "common/base.h"
#include "eval/evaluate.h"
#include "models/params.h"

#include <jansson.h>

#define HPO_MAX_JOBS     40 /* Personalize's maxNumberOfTrainingJobs limit */
#define HPO_MAX_PARALLEL 10 /* and maxParallelTrainingJobs' */

enum hpo_scaling { HPO_SCALE_AUTO, HPO_SCALE_LINEAR, HPO_SCALE_LOG, HPO_SCALE_REVERSE_LOG };
enum hpo_range_type { HPO_INTEGER, HPO_CONTINUOUS, HPO_CATEGORICAL };

struct hpo_range {
    const char *name; /* the recipe's own name for it (borrowed from its param_spec) */
    enum hpo_range_type type;
    enum hpo_scaling scaling;
    double min, max;
    char **values; /* HPO_CATEGORICAL (owned) */
    size_t nvalues;
};

struct hpo_config {
    int metric;    /* metric_id */
    bool minimize; /* hpoObjective.type Minimize */
    uint32_t max_jobs, max_parallel;
    struct hpo_range *ranges; /* owned */
    size_t nranges;
};

/*
 * Parse an hpoConfig JSON object for recipe 'r' (without ranges: the
 * recipe's defaults, hpo_default_ranges()). Every problem is an
 * RC_INVALID_INPUT naming the field: unknown metric, a parameter the recipe
 * does not take or of another type, a range outside the parameter's own
 * limits, min > max, no categorical values, limits past 40 / 10.
 */
enum rc hpo_config_parse(const json_t *cfg, const struct recipe *r, struct hpo_config *out,
                         struct err *e);
void hpo_config_release(struct hpo_config *c);

/*
 * The ranges HPO searches when hpoConfig has no algorithmHyperParameterRanges
 * (as an algorithmHyperParameterRanges object; caller decrefs), or NULL for a
 * recipe without tunable hyperparameters (aws-popularity-count).
 */
json_t *hpo_default_ranges(const struct recipe *r);

/*
 * Run the search: each trial resolves 'base' (the user's key=value
 * hyperparameters) overridden by the trial's values, and is evaluated on
 * 'validation'. *best (caller frees with hpo_kv_free) gets the winning
 * overrides, *trials a JSON array of {"trial", "algorithmHyperParameters",
 * "metrics", "objective", "seconds"}.
 */
enum rc hpo_run(struct eval_data *d, const struct recipe *r, const struct param_kv *base,
                size_t nbase, const struct weighting *w, const struct hpo_config *c,
                const struct split *validation, uint64_t seed, struct param_kv **best,
                size_t *nbest, json_t **trials, FILE *progress, struct err *e);
void hpo_kv_free(struct param_kv *kv, size_t n);

struct automl_config {
    int metric;
    const struct recipe **recipes; /* owned array */
    size_t nrecipes;
};

/*
 * Parse autoMLConfig {metricName, recipeList}: recipe names or ARNs that
 * recommend items for a user. Without a recipeList: aws-user-personalization
 * and aws-popularity-count.
 */
enum rc automl_config_parse(const json_t *cfg, struct automl_config *out, struct err *e);
void automl_config_release(struct automl_config *c);

/*
 * The keys of 'kv' that recipe 'r' takes (by its name or Personalize's
 * alias), into 'out' (room for n); returns how many.
 */
size_t automl_filter_kv(const struct recipe *r, const struct param_kv *kv, size_t n,
                        struct param_kv *out);

/*
 * Evaluate every recipe of 'c' with its defaults (and the keys of 'base' it
 * takes) on 'validation'; *best is the winner (ties: the earlier listed),
 * *trials a JSON array of {"recipeArn", "metrics", "objective", "seconds"}.
 */
enum rc automl_run(struct eval_data *d, const struct automl_config *c, const struct param_kv *base,
                   size_t nbase, const struct weighting *w, const struct split *validation,
                   const struct recipe **best, json_t **trials, FILE *progress, struct err *e);

#endif
