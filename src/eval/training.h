/*
 * training.h: what training a solution version does about evaluation
 * (docs/evaluation.md): the solution settings that control it, and the
 * steps before the final model is trained on all the data:
 *
 *   1. the test split (Personalize's protocol, or a time cutoff);
 *   2. performAutoML: pick the recipe on a validation split cut from the
 *      training part of the test split;
 *   3. performHPO: pick the hyperparameters on such a validation split;
 *   4. the metrics: train the chosen recipe and parameters on the training
 *      part, score the test users.
 *
 * Everything it learns goes into the version's attrs: "metrics" (or
 * "metricsNote" saying why there are none), "evaluation", "tunedHPOParams"
 * and "hpoTrials", "autoMLResult" and "autoMLTrials".
 */
#ifndef SAVOR_TRAINING_H
#define SAVOR_TRAINING_H

#include "common/base.h"
#include "eval/evaluate.h"
#include "eval/hpo.h"

#include <jansson.h>

struct eval_settings {
    bool evaluate;         /* evaluation=on (default) or off */
    enum split_kind split; /* evaluationSplit=users (default) or time */
    int64_t cutoff;        /* evaluationCutoff, or SPLIT_CUTOFF_AUTO */
    bool perform_hpo;
    json_t *hpo_config; /* owned; NULL: none given */
    bool perform_automl;
    json_t *automl_config; /* owned; NULL: defaults */
};

void eval_settings_init(struct eval_settings *s);
void eval_settings_release(struct eval_settings *s);

/*
 * If 'key' is one of evaluation, evaluationSplit, evaluationCutoff,
 * performHPO, hpoConfig (JSON text), performAutoML or autoMLConfig (JSON
 * text), parse 'val' into 's' and set *taken; RC_INVALID_INPUT naming the
 * key for a bad value.
 */
enum rc eval_settings_take(struct eval_settings *s, const char *key, const char *val, bool *taken,
                           struct err *e);

/* Parse epoch seconds or an ISO 8601 UTC date ("2024-05-01", "2024-05-01T12:00:00Z"). */
enum rc eval_parse_time(const char *text, int64_t *out);

/*
 * Check the HPO and AutoML configurations before anything is trained:
 * 'recipe' is the one HPO tunes (NULL with AutoML).
 */
enum rc eval_settings_check(const struct eval_settings *s, const struct recipe *recipe,
                            struct err *e);

struct eval_outcome {
    const struct recipe *recipe; /* AutoML's choice, else the given recipe */
    struct param_kv *tuned;      /* HPO's choice (owned; hpo_kv_free), overriding the user's */
    size_t ntuned;
    json_t *attrs; /* for the version's attrs (owned) */
};

/*
 * Steps 1-4 above. 'kv' are the user's hyperparameters (without solution
 * settings), 'w' the weighting, 'seed' the version's. Too few users, or a
 * split that cannot be made, is not an error: the outcome's attrs carry a
 * "metricsNote" instead. Errors are cancellation, store failures and
 * failures of HPO or AutoML trials.
 */
enum rc eval_at_training(struct eval_data *d, const struct eval_settings *s,
                         const struct recipe *recipe, const struct param_kv *kv, size_t nkv,
                         const struct weighting *w, uint64_t seed, FILE *progress,
                         struct eval_outcome *out, struct err *e);
void eval_outcome_release(struct eval_outcome *o);

#endif
