/*
 * training.c: evaluation, HPO and AutoML as steps of training (training.h).
 */
#include "common/base.h"
#include "common/clock.h"
#include "eval/training.h"

#include <errno.h>
#include <math.h>
#include <time.h>

#define EVAL_MAX_TEST_USERS      10000 /* scoring cost stays bounded on big data */
#define VALIDATION_USER_FRACTION 0.5

void eval_settings_init(struct eval_settings *s)
{
    memset(s, 0, sizeof(*s));
    s->evaluate = true;
    s->split = SPLIT_USERS;
    s->cutoff = SPLIT_CUTOFF_AUTO;
}

void eval_settings_release(struct eval_settings *s)
{
    if (!s) return;
    json_decref(s->hpo_config);
    json_decref(s->automl_config);
    memset(s, 0, sizeof(*s));
}

static enum rc parse_bool(const char *key, const char *val, bool *out, struct err *e)
{
    if (strcmp(val, "true") == 0 || strcmp(val, "on") == 0) {
        *out = true;
        return RC_OK;
    }
    if (strcmp(val, "false") == 0 || strcmp(val, "off") == 0) {
        *out = false;
        return RC_OK;
    }
    return err_set(e, RC_INVALID_INPUT, "%s: '%s' is not a boolean; expected true or false", key,
                   val);
}

enum rc eval_parse_time(const char *text, int64_t *out)
{
    char *end;
    errno = 0;
    long long v = strtoll(text, &end, 10);
    if (*text && !*end && !errno) {
        *out = v;
        return RC_OK;
    }
    int y, mo, d, h = 0, mi = 0, s = 0, n = 0;
    if (sscanf(text, "%4d-%2d-%2d%n", &y, &mo, &d, &n) != 3) return RC_INVALID_INPUT;
    const char *rest = text + n;
    if (*rest == 'T' || *rest == ' ') {
        int m = 0;
        if (sscanf(rest + 1, "%2d:%2d:%2d%n", &h, &mi, &s, &m) != 3) return RC_INVALID_INPUT;
        rest += 1 + m;
        if (*rest == 'Z') rest++;
    }
    if (*rest || !clock_utc_seconds(y, mo, d, h, mi, s, out)) return RC_INVALID_INPUT;
    return RC_OK;
}

static enum rc parse_json(const char *key, const char *val, json_t **out, struct err *e)
{
    json_error_t je;
    json_t *j = json_loads(val, 0, &je);
    if (!j || !json_is_object(j)) {
        json_decref(j);
        return err_set(e, RC_INVALID_INPUT, "%s: not a JSON object (%s)", key,
                       j ? "another JSON value" : je.text);
    }
    json_decref(*out);
    *out = j;
    return RC_OK;
}

enum rc eval_settings_take(struct eval_settings *s, const char *key, const char *val, bool *taken,
                           struct err *e)
{
    *taken = true;
    if (strcmp(key, "evaluation") == 0) return parse_bool(key, val, &s->evaluate, e);
    if (strcmp(key, "performHPO") == 0) return parse_bool(key, val, &s->perform_hpo, e);
    if (strcmp(key, "performAutoML") == 0) return parse_bool(key, val, &s->perform_automl, e);
    if (strcmp(key, "hpoConfig") == 0) return parse_json(key, val, &s->hpo_config, e);
    if (strcmp(key, "autoMLConfig") == 0) return parse_json(key, val, &s->automl_config, e);
    if (strcmp(key, "evaluationSplit") == 0) {
        if (strcmp(val, "users") == 0)
            s->split = SPLIT_USERS;
        else if (strcmp(val, "time") == 0)
            s->split = SPLIT_TIME;
        else
            return err_set(e, RC_INVALID_INPUT, "evaluationSplit: '%s' is not users or time", val);
        return RC_OK;
    }
    if (strcmp(key, "evaluationCutoff") == 0) {
        if (eval_parse_time(val, &s->cutoff))
            return err_set(
                e, RC_INVALID_INPUT,
                "evaluationCutoff: '%s' is not epoch seconds or a date like 2024-05-01T00:00:00Z",
                val);
        s->split = SPLIT_TIME;
        return RC_OK;
    }
    *taken = false;
    return RC_OK;
}

enum rc eval_settings_check(const struct eval_settings *s, const struct recipe *recipe,
                            struct err *e)
{
    enum rc rc = RC_OK;
    if (s->perform_hpo && s->perform_automl)
        return err_set(
            e, RC_INVALID_INPUT,
            "performHPO with performAutoML: savor does one at a time; let AutoML pick the recipe, then tune that recipe with performHPO");
    if (!s->perform_hpo && s->hpo_config && !s->perform_automl)
        return err_set(e, RC_INVALID_INPUT, "hpoConfig is given but performHPO is not true");
    if (!s->perform_automl && s->automl_config)
        return err_set(e, RC_INVALID_INPUT, "autoMLConfig is given but performAutoML is not true");
    if (s->perform_hpo) {
        struct hpo_config c;
        json_t *empty = json_object();
        rc = hpo_config_parse(s->hpo_config ? s->hpo_config : empty, recipe, &c, e);
        json_decref(empty);
        if (rc) return rc;
        hpo_config_release(&c);
    }
    if (s->perform_automl) {
        struct automl_config c;
        if ((rc = automl_config_parse(s->automl_config, &c, e))) return rc;
        automl_config_release(&c);
    }
    return RC_OK;
}

void eval_outcome_release(struct eval_outcome *o)
{
    if (!o) return;
    hpo_kv_free(o->tuned, o->ntuned);
    json_decref(o->attrs);
    memset(o, 0, sizeof(*o));
}

static void opts_for(const struct eval_settings *s, uint64_t seed, bool validation,
                     struct split_opts *o)
{
    split_opts_default(o, seed);
    o->kind = s->split;
    /* A validation split inside a time split places its own cutoff in the training part. */
    o->cutoff = validation ? SPLIT_CUTOFF_AUTO : s->cutoff;
    o->max_users = EVAL_MAX_TEST_USERS;
    /*
     * Validation users keep 90% of their history for training, so holding
     * out half of them costs little data and makes HPO's and AutoML's
     * comparisons far less noisy than 10% would.
     */
    if (validation) o->user_fraction = VALIDATION_USER_FRACTION;
}

static json_t *split_json(const struct split *sp, const struct split_opts *o)
{
    json_t *j =
        json_pack("{s:s,s:I,s:i,s:i,s:I}", "split", o->kind == SPLIT_TIME ? "time" : "users",
                  "seed", (json_int_t)o->seed, "testUsers", (int)sp->ntest, "eligibleUsers",
                  (int)sp->eligible, "heldOutInteractions", (json_int_t)sp->nheld);
    if (o->kind == SPLIT_TIME) json_object_set_new(j, "cutoff", json_integer(sp->cutoff));
    return j;
}

enum rc eval_at_training(struct eval_data *d, const struct eval_settings *s,
                         const struct recipe *recipe, const struct param_kv *kv, size_t nkv,
                         const struct weighting *w, uint64_t seed, FILE *progress,
                         struct eval_outcome *out, struct err *e)
{
    memset(out, 0, sizeof(*out));
    out->recipe = recipe;
    out->attrs = json_object();
    struct split test = {0}, val = {0};
    bool have_test = false, have_val = false;
    struct split_opts to, vo;
    opts_for(s, seed, false, &to);
    enum rc rc = RC_OK;
    if (s->evaluate) {
        struct err se = ERR_INIT;
        rc = eval_split(d, &to, NULL, &test, &se);
        if (rc == RC_INVALID_INPUT) {
            json_object_set_new(out->attrs, "metricsNote",
                                json_sprintf("not evaluated: %s", se.msg));
            rc = RC_OK;
        } else if (rc) {
            *e = se;
            goto done;
        } else if (test.eligible < EVAL_MIN_USERS && s->split == SPLIT_USERS) {
            json_object_set_new(
                out->attrs, "metricsNote",
                json_sprintf(
                    "not evaluated: %u users with interactions; metrics need at least %d (evaluation holds out 10%% of them)",
                    test.eligible, EVAL_MIN_USERS));
        } else {
            have_test = true;
        }
    } else {
        json_object_set_new(out->attrs, "metricsNote",
                            json_string("not evaluated: evaluation=off"));
    }

    if (s->perform_hpo || s->perform_automl) {
        opts_for(s, seed + 1, true, &vo);
        rc = eval_split(d, &vo, have_test ? &test : NULL, &val, e);
        if (!rc && val.eligible < EVAL_MIN_USERS && s->split == SPLIT_USERS)
            rc = err_set(
                e, RC_INVALID_INPUT, "%u users left for the validation split; %s needs at least %d",
                val.eligible, s->perform_hpo ? "performHPO" : "performAutoML", EVAL_MIN_USERS);
        if (rc) {
            err_prefix(e,
                       "%s: validation split: ", s->perform_hpo ? "performHPO" : "performAutoML");
            goto done;
        }
        have_val = true;
        json_t *vj = split_json(&val, &vo);
        json_object_set_new(out->attrs, "validation", vj);
    }
    if (s->perform_automl) {
        struct automl_config c;
        json_t *trials = NULL;
        if ((rc = automl_config_parse(s->automl_config, &c, e))) goto done;
        rc = automl_run(d, &c, kv, nkv, w, &val, &out->recipe, &trials, progress, e);
        automl_config_release(&c);
        if (rc) goto done;
        char *arn = xasprintf("arn:aws:personalize:::recipe/%s", out->recipe->name);
        json_object_set_new(out->attrs, "autoMLResult", json_pack("{s:s}", "bestRecipeArn", arn));
        free(arn);
        json_object_set_new(out->attrs, "autoMLTrials", trials);
    }
    if (s->perform_hpo) {
        struct hpo_config c;
        json_t *trials = NULL;
        json_t *empty = json_object();
        rc = hpo_config_parse(s->hpo_config ? s->hpo_config : empty, out->recipe, &c, e);
        json_decref(empty);
        if (rc) goto done;
        rc = hpo_run(d, out->recipe, kv, nkv, w, &c, &val, seed, &out->tuned, &out->ntuned, &trials,
                     progress, e);
        if (!rc)
            json_object_set_new(out->attrs, "hpoObjective",
                                json_pack("{s:s,s:s}", "type", c.minimize ? "Minimize" : "Maximize",
                                          "metricName", metric_names[c.metric]));
        hpo_config_release(&c);
        if (rc) goto done;
        json_object_set_new(out->attrs, "hpoTrials", trials);
    }
    if (have_test) {
        /* The user's values the recipe takes, overridden by HPO's choice. */
        struct param_kv *all = xcalloc(nkv + out->ntuned + 1, sizeof(*all));
        size_t n = 0;
        for (size_t k = 0; k < nkv; k++) {
            bool tuned = false;
            for (size_t t = 0; t < out->ntuned; t++)
                tuned |= strcmp(kv[k].key, out->tuned[t].key) == 0;
            if (!tuned) all[n++] = kv[k];
        }
        if (s->perform_automl) n = automl_filter_kv(out->recipe, all, n, all);
        for (size_t t = 0; t < out->ntuned; t++)
            all[n++] = out->tuned[t];
        struct eval_result res;
        rc = eval_settings(d, out->recipe, all, n, w, &test, &res, e);
        free(all);
        if (rc == RC_INVALID_INPUT) {
            json_object_set_new(out->attrs, "metricsNote",
                                json_sprintf("not evaluated: %s", e->msg));
            err_clear(e);
            rc = RC_OK;
        } else if (!rc) {
            json_object_set_new(out->attrs, "metrics", eval_metrics_json(res.metrics));
            json_t *ej = split_json(&test, &to);
            json_object_set_new(ej, "catalogItems", json_integer(res.catalog));
            json_object_set_new(ej, "seconds", json_real(round(res.seconds * 1000) / 1000));
            json_object_set_new(out->attrs, "evaluation", ej);
        }
    }
done:
    if (have_test || test.held) split_release(&test);
    if (have_val || val.held) split_release(&val);
    if (rc) eval_outcome_release(out);
    return rc;
}
