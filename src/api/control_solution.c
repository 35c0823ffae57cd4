/*
 * control_solution.c: solutions, solution versions and their metrics.
 *
 * A solution (solution/NAME) is a recipe and its configuration, ACTIVE at
 * once. A solution version (solution/NAME/ID) is a training run: recorded
 * CREATE PENDING and queued (jobs.h); the engine (engine.h) moves it to
 * CREATE IN_PROGRESS, then ACTIVE or CREATE FAILED. StopSolutionVersionCreation
 * cancels it (CREATE STOPPING, then CREATE STOPPED).
 */
#include "common/base.h"
#include "api/control_int.h"
#include "api/jobs.h"
#include "models/engine.h"
#include "models/params.h"

#include <unistd.h>

/* Settings the engine takes besides the recipe's own hyperparameters (engine.c split_settings). */
static bool is_setting(const char *key)
{
    return strcmp(key, "eventType") == 0 || strcmp(key, "eventValueThreshold") == 0 ||
           strcmp(key, "useEventValues") == 0 || strcmp(key, "recencyHalfLifeDays") == 0 ||
           strncmp(key, "eventWeight.", 12) == 0;
}

/* The recipe and hyperparameters of a CreateSolution request, checked now rather than at training.
 */
static enum rc check_recipe(const json_t *sa, const struct recipe *recipe, struct api_error *err)
{
    struct param_kv *kv;
    size_t n;
    struct err e = ERR_INIT;
    if (ctl_solution_kv(sa, &kv, &n, &e)) return ctl_invalid(err, "%s", e.msg);
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (!is_setting(kv[i].key)) kv[k++] = kv[i];
    struct params p = {0};
    enum rc rc = params_resolve(recipe->params, kv, k, &p, &e);
    if (!rc && recipe->validate) rc = recipe->validate(&p, &e);
    params_release(&p);
    free(kv);
    if (rc) return ctl_invalid(err, "solutionConfig.algorithmHyperParameters: %s", e.msg);
    return RC_OK;
}

static char *recipe_arn(const struct recipe *r)
{
    return xasprintf("arn:aws:personalize:::recipe/%s", r->name);
}

/* ---- Solutions ------------------------------------------------------------------- */

static void copy_keys(json_t *dst, const json_t *src, const char *const *keys, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        json_t *v = json_object_get(src, keys[i]);
        if (v) json_object_set(dst, keys[i], v);
    }
}

static json_t *version_summary(const struct resource *r);

static json_t *solution_json(struct api_ctx *ctx, const struct resource *r, bool full)
{
    json_t *o = json_object();
    ctl_common_fields(o, r, "solutionArn");
    json_t *a = ctl_attrs(r);
    static const char *const summary_keys[] = {"recipeArn"};
    copy_keys(o, a, summary_keys, ARRAY_SIZE(summary_keys));
    if (full) {
        static const char *const keys[] = {"datasetGroupArn", "eventType", "solutionConfig"};
        copy_keys(o, a, keys, ARRAY_SIZE(keys));
        json_object_set_new(o, "performHPO",
                            json_boolean(json_is_true(json_object_get(a, "performHPO"))));
        json_object_set_new(o, "performAutoML",
                            json_boolean(json_is_true(json_object_get(a, "performAutoML"))));
        struct resource *vs;
        size_t n;
        struct err e = ERR_INIT;
        if (store_resource_list(ctx->store, KIND_SOLUTION_VERSION, r->id, &vs, &n, &e) == 0) {
            if (n) json_object_set_new(o, "latestSolutionVersion", version_summary(&vs[n - 1]));
            /* AutoML's choice, from the newest version that made one. */
            for (size_t i = n; i-- > 0 && !json_object_get(o, "autoMLResult");) {
                json_t *va = ctl_attrs(&vs[i]);
                json_t *res = json_object_get(va, "autoMLResult");
                if (json_is_object(res)) {
                    json_t *pub = json_object();
                    if (json_object_get(res, "bestRecipeArn"))
                        json_object_set(pub, "bestRecipeArn",
                                        json_object_get(res, "bestRecipeArn"));
                    json_object_set_new(o, "autoMLResult", pub);
                }
                json_decref(va);
            }
            resource_list_free(vs, n);
        }
    }
    json_decref(a);
    return o;
}

static json_t *solution_summary(const struct resource *r)
{
    json_t *o = json_object();
    ctl_common_fields(o, r, "solutionArn");
    json_t *a = ctl_attrs(r);
    if (json_object_get(a, "recipeArn"))
        json_object_set(o, "recipeArn", json_object_get(a, "recipeArn"));
    json_decref(a);
    return o;
}

CTL_OP(CreateSolution)
{
    const char *name = ctl_str(req, "name");
    bool automl = json_is_true(json_object_get(req, "performAutoML"));
    const char *rname = ctl_str(req, "recipeArn");
    const json_t *cfg = json_object_get(req, "solutionConfig");
    if (automl && rname)
        return ctl_invalid(err, "recipeArn: with performAutoML, give the candidate recipes in "
                                "solutionConfig.autoMLConfig.recipeList instead");
    if (!rname && !automl)
        return ctl_invalid(err, "recipeArn is required unless performAutoML is true");
    const struct recipe *recipe = NULL;
    if (rname && !(recipe = recipe_find(rname)))
        return ctl_not_found(
            err, "The recipe %s does not exist (ListRecipes shows savor's recipes)", rname);
    const json_t *list = json_object_get(json_object_get(cfg, "autoMLConfig"), "recipeList");
    size_t i;
    json_t *v;
    json_array_foreach(list, i, v)
    {
        if (!recipe_find(json_string_value(v)))
            return ctl_not_found(
                err, "solutionConfig.autoMLConfig.recipeList: the recipe %s does not exist",
                json_string_value(v));
    }
    json_t *tags;
    enum rc rc = ctl_tags_from_request(req, &tags, err);
    if (rc) return rc;
    json_t *a = json_pack("{s:s}", "name", name);
    if (recipe) {
        char *rarn = recipe_arn(recipe);
        json_object_set_new(a, "recipeArn", json_string(rarn));
        free(rarn);
    }
    json_object_set_new(a, "solutionConfig", cfg ? json_deep_copy(cfg) : json_object());
    if (ctl_str(req, "eventType"))
        json_object_set(a, "eventType", json_object_get(req, "eventType"));
    json_object_set_new(a, "performHPO",
                        json_boolean(json_is_true(json_object_get(req, "performHPO"))));
    json_object_set_new(a, "performAutoML", json_boolean(automl));
    json_object_set_new(a, "tags", tags);
    rc = recipe ? check_recipe(a, recipe, err) : RC_OK;
    if (rc) {
        json_decref(a);
        return rc;
    }
    struct resource group = {0}, r = {0};
    ctl_lock(ctx);
    rc = ctl_get(ctx, ctl_str(req, "datasetGroupArn"), KIND_DATASET_GROUP, "dataset group", &group,
                 err);
    if (!rc) {
        json_object_set_new(a, "datasetGroupArn", json_string(group.arn));
        ctl_resource_init(&r, store_arn(ctx->store, KIND_SOLUTION, name), KIND_SOLUTION, name,
                          group.id, STATUS_ACTIVE, a);
        a = NULL;
        rc = ctl_insert(ctx, &r, "solution", err);
    }
    ctl_unlock(ctx);
    if (!rc) *resp = json_pack("{s:s}", "solutionArn", r.arn);
    json_decref(a);
    resource_release(&group);
    resource_release(&r);
    return rc;
}

CTL_OP(DescribeSolution)
{
    struct resource r;
    ctl_lock(ctx);
    enum rc rc = ctl_get(ctx, ctl_str(req, "solutionArn"), KIND_SOLUTION, "solution", &r, err);
    if (!rc) *resp = json_pack("{s:o}", "solution", solution_json(ctx, &r, true));
    ctl_unlock(ctx);
    resource_release(&r);
    return rc;
}

CTL_OP(ListSolutions)
{
    return ctl_list_page(ctx, req, KIND_SOLUTION, ctl_str(req, "datasetGroupArn"),
                         KIND_DATASET_GROUP, "dataset group", solution_summary, "solutions", resp,
                         err);
}

CTL_OP(DeleteSolution)
{
    UNUSED(resp);
    struct resource r;
    struct resource *vs = NULL;
    size_t n = 0;
    ctl_lock(ctx);
    enum rc rc = ctl_get(ctx, ctl_str(req, "solutionArn"), KIND_SOLUTION, "solution", &r, err);
    if (!rc) rc = ctl_list(ctx, KIND_SOLUTION_VERSION, r.id, &vs, &n, err);
    for (size_t i = 0; i < n && !rc; i++) {
        if (ctl_unfinished(&vs[i]) || strcmp(vs[i].status, STATUS_CREATE_STOPPING) == 0)
            rc = ctl_in_use(err, "solution version %s is %s; stop it or wait for it to finish",
                            vs[i].arn, vs[i].status);
        else if (ctl_any_with(ctx, KIND_CAMPAIGN, "solutionVersionArn", vs[i].arn))
            rc = ctl_in_use(
                err, "solution version %s is deployed by a campaign; delete the campaign first",
                vs[i].arn);
    }
    /* Each version's batch inference jobs go with it (refused while one runs). */
    for (size_t i = 0; i < n && !rc; i++) {
        struct resource *bs = NULL;
        size_t nb = 0;
        rc = ctl_list(ctx, KIND_BATCH_INFERENCE, vs[i].id, &bs, &nb, err);
        for (size_t k = 0; k < nb && !rc; k++)
            if (ctl_unfinished(&bs[k]))
                rc = ctl_in_use(err, "batch inference job %s is %s; wait for it to finish",
                                bs[k].arn, bs[k].status);
        for (size_t k = 0; k < nb && !rc; k++)
            rc = ctl_delete(ctx, &bs[k], err);
        resource_list_free(bs, nb);
    }
    for (size_t i = 0; i < n && !rc; i++) {
        json_t *a = ctl_attrs(&vs[i]);
        const char *file = json_string_value(json_object_get(a, "modelFile"));
        char *path = file ? xasprintf("%s/%s", store_dir(ctx->store), file) : NULL;
        json_decref(a);
        rc = ctl_delete(ctx, &vs[i], err);
        if (!rc && path) unlink(path); /* a model still mapped by a reader stays readable */
        free(path);
    }
    if (!rc) rc = ctl_delete(ctx, &r, err);
    ctl_unlock(ctx);
    resource_list_free(vs, n);
    resource_release(&r);
    return rc;
}

/* ---- Solution versions ---------------------------------------------------------- */

static json_t *version_summary(const struct resource *r)
{
    json_t *o = json_object();
    json_object_set_new(o, "solutionVersionArn", json_string(r->arn));
    json_object_set_new(o, "status", json_string(r->status));
    json_t *a = ctl_attrs(r);
    static const char *const keys[] = {"trainingMode"};
    copy_keys(o, a, keys, ARRAY_SIZE(keys));
    json_decref(a);
    json_object_set_new(o, "creationDateTime", ctl_time(r->created));
    json_object_set_new(o, "lastUpdatedDateTime", ctl_time(r->updated));
    if (r->failure_reason) json_object_set_new(o, "failureReason", json_string(r->failure_reason));
    return o;
}

static json_t *version_json(struct api_ctx *ctx, const struct resource *r)
{
    json_t *o = version_summary(r);
    json_t *a = ctl_attrs(r);
    static const char *const keys[] = {"solutionArn", "trainingHours", "tunedHPOParams"};
    copy_keys(o, a, keys, ARRAY_SIZE(keys));
    struct resource sol = {0};
    struct err e = ERR_INIT;
    if (store_resource_get_id(ctx->store, r->parent_id, &sol, &e) == 0) {
        json_t *sa = ctl_attrs(&sol);
        static const char *const skeys[] = {"recipeArn",      "eventType",  "datasetGroupArn",
                                            "solutionConfig", "performHPO", "performAutoML"};
        copy_keys(o, sa, skeys, ARRAY_SIZE(skeys));
        json_decref(sa);
        resource_release(&sol);
    }
    if (!json_object_get(o, "performHPO")) json_object_set_new(o, "performHPO", json_false());
    if (!json_object_get(o, "performAutoML")) json_object_set_new(o, "performAutoML", json_false());
    json_decref(a);
    return o;
}

CTL_OP(CreateSolutionVersion)
{
    const char *mode = ctl_str(req, "trainingMode");
    bool update = mode && strcmp(mode, "UPDATE") == 0;
    json_t *tags;
    enum rc rc = ctl_tags_from_request(req, &tags, err);
    if (rc) return rc;
    struct resource sol = {0}, r = {0};
    struct resource *vs = NULL;
    size_t n = 0;
    ctl_lock(ctx);
    rc = ctl_get(ctx, ctl_str(req, "solutionArn"), KIND_SOLUTION, "solution", &sol, err);
    if (!rc) rc = ctl_list(ctx, KIND_SOLUTION_VERSION, sol.id, &vs, &n, err);
    bool have_active = false;
    for (size_t i = 0; i < n && !rc; i++) {
        if (ctl_unfinished(&vs[i]))
            rc = ctl_in_use(err, "solution %s already has version %s in %s", sol.arn, vs[i].arn,
                            vs[i].status);
        have_active = have_active || strcmp(vs[i].status, STATUS_ACTIVE) == 0;
    }
    if (!rc && update) {
        json_t *sa = ctl_attrs(&sol);
        const struct recipe *recipe =
            recipe_find(json_string_value(json_object_get(sa, "recipeArn")));
        json_decref(sa);
        if (!recipe)
            rc = ctl_invalid(err, "trainingMode UPDATE: not with performAutoML; train FULL");
        else if (!recipe->supports_update)
            rc = ctl_invalid(err, "trainingMode UPDATE: recipe %s does not support it (use FULL)",
                             recipe->name);
        else if (!have_active)
            rc = ctl_invalid(
                err,
                "trainingMode UPDATE needs an ACTIVE version of solution %s to start from; train one with FULL first",
                sol.arn);
    }
    if (!rc) {
        char vid[9];
        ctl_random_hex(vid, 8);
        char *path = xasprintf("%s/%s", sol.name, vid);
        char *arn = store_arn(ctx->store, KIND_SOLUTION, path);
        free(path);
        json_t *a = json_pack("{s:s,s:s,s:s,s:O}", "solutionVersionArn", arn, "solutionArn",
                              sol.arn, "trainingMode", update ? "UPDATE" : "FULL", "tags", tags);
        if (ctl_str(req, "name")) json_object_set(a, "name", json_object_get(req, "name"));
        ctl_resource_init(&r, arn, KIND_SOLUTION_VERSION, vid, sol.id, STATUS_CREATE_PENDING, a);
        rc = ctl_insert(ctx, &r, "solution version", err);
    }
    ctl_unlock(ctx);
    if (!rc) {
        jobs_submit(ctx->jobs, JOB_TRAIN, r.arn);
        *resp = json_pack("{s:s}", "solutionVersionArn", r.arn);
    }
    json_decref(tags);
    resource_list_free(vs, n);
    resource_release(&sol);
    resource_release(&r);
    return rc;
}

CTL_OP(DescribeSolutionVersion)
{
    struct resource r;
    ctl_lock(ctx);
    enum rc rc = ctl_get(ctx, ctl_str(req, "solutionVersionArn"), KIND_SOLUTION_VERSION,
                         "solution version", &r, err);
    if (!rc) *resp = json_pack("{s:o}", "solutionVersion", version_json(ctx, &r));
    ctl_unlock(ctx);
    resource_release(&r);
    return rc;
}

CTL_OP(ListSolutionVersions)
{
    return ctl_list_page(ctx, req, KIND_SOLUTION_VERSION, ctl_str(req, "solutionArn"),
                         KIND_SOLUTION, "solution", version_summary, "solutionVersions", resp, err);
}

/* Set version 'arn' to 'status' if it is still CREATE PENDING or IN_PROGRESS (one transaction). */
static enum rc set_if_unfinished(struct api_ctx *ctx, const char *arn, const char *status,
                                 struct api_error *err)
{
    struct err e = ERR_INIT;
    struct resource r = {0};
    enum rc rc = store_begin(ctx->store, &e);
    if (!rc) rc = store_resource_get(ctx->store, arn, &r, &e);
    if (!rc && ctl_unfinished(&r)) {
        free(r.status);
        r.status = xstrdup(status);
        rc = store_resource_update(ctx->store, &r, &e);
    }
    if (!rc) rc = store_commit(ctx->store, &e);
    if (rc) store_rollback(ctx->store);
    resource_release(&r);
    return rc ? ctl_from_err(err, &e) : RC_OK;
}

CTL_OP(StopSolutionVersionCreation)
{
    UNUSED(resp);
    struct resource r;
    ctl_lock(ctx);
    enum rc rc = ctl_get(ctx, ctl_str(req, "solutionVersionArn"), KIND_SOLUTION_VERSION,
                         "solution version", &r, err);
    if (!rc && !ctl_unfinished(&r))
        rc = ctl_invalid(
            err,
            "solution version %s is %s; only a version in CREATE PENDING or CREATE IN_PROGRESS can be stopped",
            r.arn, r.status);
    if (!rc) {
        enum jobs_cancel c = jobs_cancel(ctx->jobs, r.arn);
        rc = set_if_unfinished(
            ctx, r.arn, c == JOBS_CANCEL_RUNNING ? STATUS_CREATE_STOPPING : STATUS_CREATE_STOPPED,
            err);
    }
    ctl_unlock(ctx);
    resource_release(&r);
    return rc;
}

CTL_OP(GetSolutionMetrics)
{
    struct resource r;
    ctl_lock(ctx);
    enum rc rc = ctl_get(ctx, ctl_str(req, "solutionVersionArn"), KIND_SOLUTION_VERSION,
                         "solution version", &r, err);
    ctl_unlock(ctx);
    if (rc) return rc;
    if (strcmp(r.status, STATUS_ACTIVE) != 0) {
        rc = ctl_in_use(err, "solution version %s is %s; its metrics exist once it is ACTIVE",
                        r.arn, r.status);
        resource_release(&r);
        return rc;
    }
    json_t *a = ctl_attrs(&r);
    json_t *metrics = json_object();
    const char *k;
    json_t *v;
    json_object_foreach(json_object_get(a, "metrics"), k, v)
    {
        if (json_is_number(v)) json_object_set_new(metrics, k, json_real(json_number_value(v)));
    }
    json_decref(a);
    *resp = json_pack("{s:s,s:o}", "solutionVersionArn", r.arn, "metrics", metrics);
    resource_release(&r);
    return RC_OK;
}
