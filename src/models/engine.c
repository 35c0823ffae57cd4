/*
 * engine.c: solution versions (training, model files, resources) and the
 * answers from a trained model (top-k, ranking, explanations).
 */
#include "common/base.h"
#include "models/engine.h"
#include "common/clock.h"
#include "common/json_text.h"
#include "common/scratch.h"
#include "dataset/dataset.h"
#include "models/modelfile.h"
#include "common/vec.h"
#include "eval/training.h"

#include <errno.h>
#include <signal.h>
#include <cblas.h>
#include <fcntl.h>
#include <immintrin.h>
#include <math.h>
#include <stdatomic.h>
#include <pthread.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* 2: item_created, eventWeigher, lastChunkId; 3: history_types; 4: history_last */
#define MODEL_FORMAT_KIND_VERSION 4
#define EXPLAIN_TOP               3 /* history items shown per recommended item */
#define Q8_BLOCK                  16

/* ---- Solution-level settings ---------------------------------------------- */

/* Split kv into the weighting (solution settings) and the recipe's own hyperparameters. */
static enum rc split_settings(const struct param_kv *kv, size_t n, struct weighting *w,
                              struct eval_settings *es, struct param_kv *rest, size_t *nrest,
                              json_t *config, struct err *e)
{
    *nrest = 0;
    for (size_t k = 0; k < n; k++) {
        const char *key = kv[k].key, *val = kv[k].value;
        char *end;
        bool taken = false;
        if (es) {
            enum rc rc = eval_settings_take(es, key, val, &taken, e);
            if (rc) return rc;
        }
        if (taken) {
            /* Personalize keeps hpoConfig and autoMLConfig in solutionConfig as objects. */
            if (strcmp(key, "hpoConfig") == 0)
                json_object_set(config, key, es->hpo_config);
            else if (strcmp(key, "autoMLConfig") == 0)
                json_object_set(config, key, es->automl_config);
            else if (strcmp(key, "performHPO") && strcmp(key, "performAutoML"))
                json_object_set_new(config, key, json_string(val));
            continue;
        }
        if (strcmp(key, "eventType") == 0) {
            free(w->event_type);
            w->event_type = xstrdup(val);
        } else if (strcmp(key, "eventValueThreshold") == 0) {
            errno = 0;
            w->value_threshold = strtod(val, &end);
            if (errno || end == val || *end || !isfinite(w->value_threshold))
                return err_set(e, RC_INVALID_INPUT, "eventValueThreshold: '%s' is not a number",
                               val);
            w->has_value_threshold = true;
        } else if (strcmp(key, "useEventValues") == 0) {
            if (strcmp(val, "true") && strcmp(val, "false"))
                return err_set(e, RC_INVALID_INPUT,
                               "useEventValues: '%s' is not a boolean; expected true or false",
                               val);
            w->use_values = strcmp(val, "true") == 0;
        } else if (strcmp(key, "recencyHalfLifeDays") == 0) {
            errno = 0;
            w->half_life_days = strtod(val, &end);
            if (errno || end == val || *end || !(w->half_life_days >= 0) ||
                !isfinite(w->half_life_days))
                return err_set(
                    e, RC_INVALID_INPUT,
                    "recencyHalfLifeDays: '%s' is not a number >= 0 (0 turns recency off)", val);
        } else if (strncmp(key, "eventWeight.", 12) == 0) {
            errno = 0;
            double weight = strtod(val, &end);
            if (errno || end == val || *end)
                return err_set(e, RC_INVALID_INPUT, "%s: '%s' is not a number", key, val);
            enum rc rc = weighting_set_type_weight(w, key + 12, weight, e);
            if (rc) return rc;
        } else {
            rest[(*nrest)++] = kv[k];
            continue;
        }
        json_object_set_new(config, key, json_string(val));
    }
    return RC_OK;
}

enum rc engine_weighting_settings(const struct param_kv *kv, size_t n, struct weighting *w,
                                  struct param_kv *rest, size_t *nrest, json_t *config,
                                  struct err *e)
{
    json_t *c = config ? json_incref(config) : json_object();
    enum rc rc = split_settings(kv, n, w, NULL, rest, nrest, c, e);
    json_decref(c);
    return rc;
}

/* ---- Resources ------------------------------------------------------------ */

static char *attrs_text(json_t *o)
{
    char *t = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
    char *copy = xstrdup(t ? t : "{}");
    free(t);
    return copy;
}

/* A version id: 8 hex digits, from the clock and the process (unique in practice). */
static void version_id(char out[9])
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    uint64_t x =
        (uint64_t)ts.tv_sec * 1000000007ULL ^ (uint64_t)ts.tv_nsec ^ ((uint64_t)getpid() << 32);
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdULL;
    x ^= x >> 33;
    snprintf(out, 9, "%08x", (unsigned)(x & 0xffffffffu));
}

/* 'recipe' is NULL for a solution with performAutoML (its versions pick theirs). */
static enum rc ensure_solution(struct store *s, const struct resource *group, const char *name,
                               const struct recipe *recipe, const struct eval_settings *es,
                               json_t *config, struct resource *out, struct err *e)
{
    char *arn = store_arn(s, KIND_SOLUTION, name);
    enum rc rc = store_resource_get(s, arn, out, NULL);
    if (rc == RC_OK) {
        json_t *a = json_loads(out->attrs, 0, NULL);
        const char *have = a ? json_string_value(json_object_get(a, "recipeArn")) : NULL;
        char *want = recipe ? xasprintf("arn:aws:personalize:::recipe/%s", recipe->name) : NULL;
        bool same = (have && want ? strcmp(have, want) == 0 : !have && !want) &&
                    out->parent_id == group->id;
        free(want);
        json_decref(a);
        free(arn);
        if (!same) {
            resource_release(out);
            return err_set(
                e, RC_ALREADY_EXISTS,
                "solution %s already exists with another recipe or dataset group; choose another --solution name",
                name);
        }
        return RC_OK;
    }
    struct resource r = {0};
    r.arn = arn;
    r.kind = xstrdup(KIND_SOLUTION);
    r.name = xstrdup(name);
    r.parent_id = group->id;
    r.status = xstrdup(STATUS_ACTIVE);
    json_t *a = json_pack("{s:s,s:s}", "name", name, "datasetGroupArn", group->arn);
    if (recipe)
        json_object_set_new(a, "recipeArn",
                            json_sprintf("arn:aws:personalize:::recipe/%s", recipe->name));
    json_object_set_new(a, "performHPO", json_boolean(es->perform_hpo));
    json_object_set_new(a, "performAutoML", json_boolean(es->perform_automl));
    json_object_set(a, "solutionConfig", config);
    r.attrs = attrs_text(a);
    json_decref(a);
    rc = store_resource_insert(s, &r, e);
    if (rc) {
        resource_release(&r);
        return rc;
    }
    *out = r;
    return RC_OK;
}

/* ---- Interrupted trainings ------------------------------------------------ */

/* The start time of process 'pid' in clock ticks since boot (field 22 of /proc/PID/stat), or 0. */
static long long process_start_time(pid_t pid)
{
    char path[64], buf[1024];
    snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
    FILE *f = fopen(path, "r");
    if (!f) return 0;
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = '\0';
    /* The command name (field 2) may hold spaces: count fields after its closing ')'. */
    const char *p = strrchr(buf, ')');
    for (int field = 2; p && field < 22; field++)
        p = strchr(p + 1, ' ');
    return p ? strtoll(p + 1, NULL, 10) : 0;
}

enum rc engine_recover(struct store *s, struct err *e)
{
    struct resource *vs;
    size_t n;
    enum rc rc = store_resource_list(s, KIND_SOLUTION_VERSION, 0, &vs, &n, e);
    if (rc) return rc;
    for (size_t i = 0; i < n && !rc; i++) {
        if (strcmp(vs[i].status, STATUS_CREATE_IN_PROGRESS) != 0) continue;
        json_t *a = json_loads(vs[i].attrs, 0, NULL);
        pid_t pid = (pid_t)json_integer_value(json_object_get(a, "trainerPid"));
        long long start = json_integer_value(json_object_get(a, "trainerStart"));
        json_decref(a);
        /* Still training (the same process: same pid and start time)? Leave it. */
        if (pid > 0 && process_start_time(pid) == start && start != 0) continue;
        free(vs[i].status);
        vs[i].status = xstrdup(STATUS_CREATE_FAILED);
        free(vs[i].failure_reason);
        vs[i].failure_reason = xasprintf(
            "training was interrupted: process %d ended before the version was finished", (int)pid);
        if ((rc = store_begin(s, e))) break;
        rc = store_resource_update(s, &vs[i], e);
        if (!rc) rc = store_commit(s, e);
        if (rc) store_rollback(s);
    }
    resource_list_free(vs, n);
    return rc;
}

/* ---- Item ages (for exploration) ------------------------------------------- */

struct ages {
    int64_t *created; /* per item: CREATION_TIMESTAMP, else its first interaction, else INT64_MIN */
    uint32_t nitems;
    int64_t newest; /* the newest event or creation time: "now" for the data */
};

static enum rc first_seen(void *ctx, const struct interaction_chunk *c, struct err *e)
{
    UNUSED(e);
    struct ages *a = ctx;
    for (uint32_t i = 0; i < c->n; i++) {
        uint32_t it = c->items[i];
        if (it < a->nitems && (a->created[it] == INT64_MIN || c->ts[i] < a->created[it]))
            a->created[it] = c->ts[i];
        if (c->ts[i] > a->newest) a->newest = c->ts[i];
    }
    return RC_OK;
}

static enum rc created_at(void *ctx, uint32_t idx, int64_t created_ts, const char *json,
                          struct err *e)
{
    UNUSED(json);
    UNUSED(e);
    struct ages *a = ctx;
    if (idx < a->nitems && created_ts >= 0) {
        a->created[idx] = created_ts;
        if (created_ts > a->newest) a->newest = created_ts;
    }
    return RC_OK;
}

/* Every item's age reference, from the ITEMS dataset's CREATION_TIMESTAMP or the interactions. */
static enum rc item_ages(struct store *s, const struct resource *group, int64_t dataset_id,
                         const struct train_data *d, struct ages *a, struct err *e)
{
    a->nitems = d->ui->ncols;
    a->newest = INT64_MIN;
    a->created = xmallocarray(a->nitems ? a->nitems : 1, sizeof(int64_t));
    for (uint32_t i = 0; i < a->nitems; i++)
        a->created[i] = INT64_MIN;
    enum rc rc = store_interactions_scan_range(s, dataset_id, 0, d->last_chunk, first_seen, a, e);
    struct resource items = {0};
    if (!rc && dataset_find(s, group, DATASET_ITEMS, &items, NULL) == RC_OK)
        rc = store_entity_scan(s, items.id, created_at, a, e);
    resource_release(&items);
    return rc;
}

/* ---- Item metadata ---------------------------------------------------------- */

struct features {
    VEC(uint32_t) rows;
    VEC(uint32_t) cols;
    struct strmap *names; /* "FIELD=value" -> feature index */
    uint32_t nitems;
};

static enum rc add_features(void *ctx, uint32_t idx, int64_t created_ts, const char *text,
                            struct err *e)
{
    UNUSED(created_ts);
    UNUSED(e);
    struct features *f = ctx;
    if (idx >= f->nitems) return RC_OK;
    json_t *o = json_loads(text, 0, NULL);
    const char *key;
    json_t *val;
    /* Categorical fields are stored as arrays of values (import.c). */
    json_object_foreach(o, key, val)
    {
        if (!json_is_array(val)) continue;
        size_t i;
        json_t *v;
        json_array_foreach(val, i, v)
        {
            if (!json_is_string(v)) continue;
            char *name = xasprintf("%s=%s", key, json_string_value(v));
            uint32_t fid = strmap_intern(f->names, name, strlen(name), NULL);
            free(name);
            VEC_PUSH(&f->rows, idx);
            VEC_PUSH(&f->cols, fid);
        }
    }
    json_decref(o);
    return RC_OK;
}

enum rc engine_item_features(struct store *s, const struct resource *group, uint32_t nitems,
                             struct csr **out, struct err *e)
{
    struct features f = {VEC_INIT, VEC_INIT, strmap_new(), nitems};
    struct resource items = {0};
    enum rc rc = RC_OK;
    if (dataset_find(s, group, DATASET_ITEMS, &items, NULL) == RC_OK)
        rc = store_entity_scan(s, items.id, add_features, &f, e);
    resource_release(&items);
    if (!rc) {
        float *ones = xmallocarray(f.rows.n ? f.rows.n : 1, sizeof(float));
        for (size_t k = 0; k < f.rows.n; k++)
            ones[k] = 1;
        *out = csr_from_triplets(nitems, strmap_count(f.names), f.rows.v, f.cols.v, ones, f.rows.n);
        /* A value listed twice for an item counts once. */
        for (uint64_t k = 0; k < (*out)->nnz; k++)
            (*out)->values[k] = 1;
        free(ones);
    }
    VEC_FREE(&f.rows);
    VEC_FREE(&f.cols);
    strmap_free(f.names);
    return rc;
}

/* ---- trainingMode UPDATE -------------------------------------------------- */

/*
 * The solution's newest ACTIVE version, opened, for an UPDATE to start from.
 * Without hyperparameters of its own, the update takes the previous ones
 * (kept alive in *meta, since 'rest' borrows its strings).
 */
static enum rc open_previous(struct store *s, const struct train_request *r,
                             const struct recipe *recipe, const char *name, struct modelfile **out,
                             struct param_kv *rest, size_t *nrest, json_t **meta, struct err *e)
{
    if (!recipe->supports_update)
        return err_set(
            e, RC_INVALID_INPUT,
            "trainingMode UPDATE: recipe %s does not support it (aws-user-personalization does); train FULL",
            recipe->name);
    char *arn = store_arn(s, KIND_SOLUTION, name);
    struct resource sol = {0};
    enum rc rc = store_resource_get(s, arn, &sol, NULL);
    free(arn);
    if (rc) {
        resource_release(&sol);
        return err_set(e, RC_INVALID_INPUT,
                       "trainingMode UPDATE: solution %s does not exist yet; train FULL first",
                       name);
    }
    struct resource *vs;
    size_t n;
    rc = store_resource_list(s, KIND_SOLUTION_VERSION, sol.id, &vs, &n, e);
    resource_release(&sol);
    if (rc) return rc;
    const struct resource *latest = NULL;
    for (size_t i = 0; i < n; i++)
        if (strcmp(vs[i].status, STATUS_ACTIVE) == 0) latest = &vs[i];
    if (!latest) {
        resource_list_free(vs, n);
        return err_set(e, RC_INVALID_INPUT,
                       "trainingMode UPDATE: solution %s has no ACTIVE version; train FULL first",
                       name);
    }
    json_t *a = json_loads(latest->attrs, 0, NULL);
    const char *rel = json_string_value(json_object_get(a, "modelFile"));
    char *path = xasprintf("%s/%s", store_dir(s), rel ? rel : "");
    rc = modelfile_open(path, out, e);
    free(path);
    json_decref(a);
    resource_list_free(vs, n);
    if (rc) return rc;
    if (*nrest == 0) {
        const char *text;
        if ((rc = modelfile_text(*out, "meta", &text, NULL, e))) return rc;
        *meta = json_loads(text, 0, NULL);
        json_t *hp =
            json_object_get(json_object_get(*meta, "solutionConfig"), "algorithmHyperParameters");
        const char *key;
        json_t *val;
        json_object_foreach(hp, key, val)
        {
            if (*nrest < r->nkv + PARAMS_MAX && json_is_string(val))
                rest[(*nrest)++] = (struct param_kv){key, json_string_value(val)};
        }
    }
    return RC_OK;
}

/* ---- Training ------------------------------------------------------------- */

struct train_progress {
    FILE *out; /* NULL: draw nothing */
    const volatile sig_atomic_t *cancel;
    double start;
    double last;
    /* Iterations seen, and when the first and the latest ended (for secondsPerIteration). */
    uint32_t iterations;
    double first_end, last_end;
};

static bool draw_progress(void *ctx, uint32_t it, uint32_t total, double loss)
{
    struct train_progress *tp = ctx;
    if (tp->cancel && *tp->cancel) return false;
    double now = clock_monotonic();
    if (it >= 1) {
        if (tp->iterations == 0) tp->first_end = now;
        tp->iterations++;
        tp->last_end = now;
    }
    if (!tp->out) return true;
    if (it < total && now - tp->last < 0.1) return true; /* 'it' iterations are done */
    tp->last = now;
    double el = now - tp->start;
    double eta = it < total && it > 0 ? el / it * (total - it) : 0;
    if (isnan(loss))
        fprintf(tp->out, "\rtrain %u/%u  %.1fs  ETA %.0fs   ", it, total, el, eta);
    else
        fprintf(tp->out, "\rtrain %u/%u  loss %.6g  %.1fs  ETA %.0fs   ", it, total, loss, el, eta);
    fflush(tp->out);
    return true;
}

static enum rc write_model(struct store *s, const struct resource *group, int64_t dataset_id,
                           const struct recipe *recipe, const struct train_data *d,
                           const struct params *p, int threads, const struct modelfile *previous,
                           const char *meta, const struct ages *ages, struct train_progress *tp,
                           const char *path, struct err *e)
{
    struct csr *features = NULL;
    if (recipe->uses_item_metadata) {
        enum rc rc = engine_item_features(s, group, d->ui->ncols, &features, e);
        if (rc) return rc;
    }
    struct modelfile_writer *w = modelfile_writer_new(recipe->name, MODEL_FORMAT_KIND_VERSION);
    struct train_input in = {.data = d,
                             .store = s,
                             .dataset_id = dataset_id,
                             .item_features = features,
                             .previous = previous,
                             .params = p,
                             .threads = threads,
                             .progress = draw_progress,
                             .progress_ctx = tp};
    const struct csr *ui = d->ui;
    double *acc = xcalloc(ui->ncols ? ui->ncols : 1, sizeof(double));
    for (uint64_t k = 0; k < ui->nnz; k++)
        acc[ui->indices[k]] += ui->values[k];
    float *pop = xcalloc(ui->ncols ? ui->ncols : 1, sizeof(float));
    for (uint32_t i = 0; i < ui->ncols; i++)
        pop[i] = (float)acc[i];
    free(acc);
    enum rc rc;
    if (!(rc = recipe->train(&in, w, e)) && !(rc = modelfile_add_strmap(w, "users", d->users, e)) &&
        !(rc = modelfile_add_strmap(w, "items", d->items, e)) &&
        !(rc = modelfile_add(w, "popularity", pop, (size_t)ui->ncols * sizeof(float), e)) &&
        !(rc = modelfile_add(w, "history_indptr", ui->indptr,
                             ((size_t)ui->nrows + 1) * sizeof(uint64_t), e)) &&
        !(rc = modelfile_add(w, "history_items", ui->indices, ui->nnz * sizeof(uint32_t), e)) &&
        !(rc = modelfile_add(w, "history_weights", ui->values, ui->nnz * sizeof(float), e)) &&
        !(rc = modelfile_add(w, "history_types", d->type_masks, ui->nnz * sizeof(uint32_t), e)) &&
        !(rc = modelfile_add(w, "history_last", d->last_seen, ui->nnz * sizeof(int64_t), e)) &&
        !(rc = modelfile_add(w, "item_created", ages->created,
                             (size_t)ages->nitems * sizeof(int64_t), e)) &&
        !(rc = modelfile_add_text(w, "meta", meta, e)))
        rc = modelfile_write(w, path, e);
    if (tp->out) fputc('\n', tp->out);
    free(pop);
    csr_free(features);
    modelfile_writer_free(w);
    return rc;
}

/* The recipe named in the request; NULL with performAutoML (AutoML picks it). */
static enum rc request_recipe(const struct train_request *r, const struct eval_settings *es,
                              const struct recipe **out, struct err *e)
{
    *out = NULL;
    if (es->perform_automl) {
        if (r->recipe)
            return err_set(
                e, RC_INVALID_INPUT,
                "performAutoML: give the candidate recipes in autoMLConfig.recipeList, not a recipe");
        if (r->update)
            return err_set(e, RC_INVALID_INPUT,
                           "trainingMode UPDATE: not with performAutoML; train FULL");
        return RC_OK;
    }
    if (!r->recipe)
        return err_set(e, RC_INVALID_INPUT, "a recipe is required (or performAutoML=true)");
    *out = recipe_find(r->recipe);
    if (*out) {
        if (r->update && es->perform_hpo)
            return err_set(
                e, RC_INVALID_INPUT,
                "trainingMode UPDATE: not with performHPO; an update keeps the tuned hyperparameters of the version it refines");
        return RC_OK;
    }
    char list[512] = "";
    size_t used = 0;
    for (size_t i = 0; recipe_table[i] && used < sizeof(list); i++)
        used += (size_t)snprintf(list + used, sizeof(list) - used, "%s%s", i ? ", " : "",
                                 recipe_table[i]->name);
    return err_set(e, RC_INVALID_INPUT, "recipe '%s' is unknown (recipes: %s)", r->recipe, list);
}

/* With AutoML: every hyperparameter given must belong to at least one candidate recipe. */
static enum rc check_automl_params(const struct eval_settings *es, const struct param_kv *kv,
                                   size_t n, struct err *e)
{
    struct automl_config c;
    enum rc rc = automl_config_parse(es->automl_config, &c, e);
    if (rc) return rc;
    struct param_kv one[1];
    for (size_t k = 0; k < n && !rc; k++) {
        bool known = false;
        for (size_t i = 0; i < c.nrecipes && !known; i++)
            known = automl_filter_kv(c.recipes[i], &kv[k], 1, one) == 1;
        if (!known)
            rc = err_set(e, RC_INVALID_INPUT,
                         "hyperparameter %s: none of autoMLConfig.recipeList's recipes takes it",
                         kv[k].key);
    }
    automl_config_release(&c);
    return rc;
}

/* The request's settings given as train_request fields (JSON text) rather than key=value. */
static enum rc request_json_settings(const struct train_request *r, struct eval_settings *es,
                                     json_t *config, struct err *e)
{
    bool taken;
    enum rc rc = RC_OK;
    if (r->hpo_config && !(rc = eval_settings_take(es, "hpoConfig", r->hpo_config, &taken, e)))
        json_object_set(config, "hpoConfig", es->hpo_config);
    if (!rc && r->automl_config &&
        !(rc = eval_settings_take(es, "autoMLConfig", r->automl_config, &taken, e)))
        json_object_set(config, "autoMLConfig", es->automl_config);
    if (r->perform_hpo) es->perform_hpo = true;
    if (r->perform_automl) es->perform_automl = true;
    return rc;
}

enum rc engine_train(struct store *s, const struct train_request *r, char **version_arn,
                     struct err *e)
{
    const struct recipe *recipe = NULL;
    struct eval_settings es;
    eval_settings_init(&es);
    struct eval_outcome eo = {0};
    struct weighting w;
    weighting_init(&w);
    json_t *config = json_object();
    struct param_kv *rest = xcalloc(r->nkv + PARAMS_MAX, sizeof(*rest));
    size_t nrest;
    struct params p = {0};
    struct resource group = {0}, dataset = {0}, sol = {0}, ver = {0};
    struct train_data d = {0};
    struct ages ages = {0};
    struct modelfile *previous = NULL;
    json_t *prev_meta = NULL;
    char *name = NULL;
    char *path = NULL, *meta = NULL;
    enum rc rc = split_settings(r->kv, r->nkv, &w, &es, rest, &nrest, config, e);
    if (!rc) rc = request_json_settings(r, &es, config, e);
    if (!rc) rc = request_recipe(r, &es, &recipe, e);
    if (!rc)
        name = r->solution
                   ? xstrdup(r->solution)
                   : xasprintf("%.30s-%.32s", r->group, recipe ? recipe->name + 4 : "automl");
    if (!rc) rc = eval_settings_check(&es, recipe, e);
    if (!rc) rc = engine_recover(s, e);
    if (!rc && r->update)
        rc = open_previous(s, r, recipe, name, &previous, rest, &nrest, &prev_meta, e);
    if (!rc && recipe) rc = params_resolve(recipe->params, rest, nrest, &p, e);
    if (!rc && recipe && recipe->validate) rc = recipe->validate(&p, e);
    if (!rc && !recipe) rc = check_automl_params(&es, rest, nrest, e);
    if (!rc && !resource_name_valid(name))
        rc =
            err_set(e, RC_INVALID_INPUT,
                    "solution name '%s' is invalid: use 1 to 63 letters, digits, '-' or '_'", name);
    if (!rc) rc = dataset_group_find(s, r->group, &group, e);
    if (!rc) rc = dataset_find(s, &group, DATASET_INTERACTIONS, &dataset, e);
    if (rc) goto out;

    /* Record the solution and a CREATE IN_PROGRESS version first, as Personalize does. */
    char vid[9];
    version_id(vid);
    char *params_json = params_to_json(&p);
    json_object_set_new(config, "algorithmHyperParameters", json_loads(params_json, 0, NULL));
    free(params_json);
    if ((rc = store_begin(s, e))) goto out;
    rc = ensure_solution(s, &group, name, recipe, &es, config, &sol, e);
    if (!rc && r->version_arn) {
        /* The caller's CREATE PENDING version: move it to CREATE IN_PROGRESS. */
        rc = store_resource_get(s, r->version_arn, &ver, e);
        if (!rc && (strcmp(ver.kind, KIND_SOLUTION_VERSION) != 0 || ver.parent_id != sol.id))
            rc = err_set(e, RC_INVALID_INPUT, "%s is not a version of solution %s", r->version_arn,
                         name);
        if (!rc) {
            snprintf(vid, sizeof(vid), "%s", ver.name);
            json_t *a = json_loads(ver.attrs, 0, NULL);
            if (!a) a = json_object();
            json_object_set(a, "solutionConfig", config);
            json_object_set_new(a, "performHPO", json_boolean(es.perform_hpo));
            json_object_set_new(a, "performAutoML", json_boolean(es.perform_automl));
            json_object_set_new(a, "trainerPid", json_integer((json_int_t)getpid()));
            json_object_set_new(a, "trainerStart",
                                json_integer((json_int_t)process_start_time(getpid())));
            free(ver.attrs);
            ver.attrs = attrs_text(a);
            json_decref(a);
            free(ver.status);
            ver.status = xstrdup(STATUS_CREATE_IN_PROGRESS);
            rc = store_resource_update(s, &ver, e);
        }
    } else if (!rc) {
        char *vpath = xasprintf("%s/%s", name, vid);
        ver.arn = store_arn(s, KIND_SOLUTION, vpath);
        free(vpath);
        ver.kind = xstrdup(KIND_SOLUTION_VERSION);
        ver.name = xstrdup(vid);
        ver.parent_id = sol.id;
        ver.status = xstrdup(STATUS_CREATE_IN_PROGRESS);
        json_t *a = json_pack("{s:s,s:s,s:s,s:b,s:b,s:O,s:I,s:I}", "solutionVersionArn", ver.arn,
                              "solutionArn", sol.arn, "trainingMode", r->update ? "UPDATE" : "FULL",
                              "performHPO", es.perform_hpo, "performAutoML", es.perform_automl,
                              "solutionConfig", config, "trainerPid", (json_int_t)getpid(),
                              "trainerStart", (json_int_t)process_start_time(getpid()));
        ver.attrs = attrs_text(a);
        json_decref(a);
        rc = store_resource_insert(s, &ver, e);
    }
    if (!rc) rc = store_commit(s, e);
    if (rc) {
        store_rollback(s);
        goto out;
    }

    /* Train outside any transaction: serving and imports go on meanwhile. */
    double t0 = clock_monotonic();
    struct train_progress tp = {.out = NULL, .cancel = r->cancel, .start = t0};
    char *dir = xasprintf("%s/models/%s", store_dir(s), name);
    if (mkdir(dir, 0755) != 0 && errno != EEXIST)
        rc = err_set(e, RC_IO, "%s: cannot create: %s", dir, strerror(errno));
    path = xasprintf("%s/%s.model", dir, vid);
    free(dir);
    if (!rc) rc = train_data_load(s, group.id, dataset.id, &w, &d, e);
    if (!rc && d.events_used == 0)
        rc = err_set(
            e, RC_INVALID_INPUT,
            "no interactions to train on in dataset group %s (after eventType and eventValueThreshold)",
            r->group);
    /* Metrics, HPO and AutoML (eval/training.h), before the final model on all the data. */
    if (!rc && r->update) {
        eo.recipe = recipe;
        eo.attrs = json_pack("{s:s}", "metricsNote",
                             "not evaluated: trainingMode UPDATE refines a version in place; "
                             "the metrics of the FULL version it started from still describe it");
    } else if (!rc) {
        struct eval_data ed;
        eval_data_init(&ed, s, &group, dataset.id, &d, r->threads);
        ed.cancel = r->cancel;
        uint64_t seed = 42;
        for (size_t i = 0; recipe && i < p.n; i++)
            if (strcmp(p.v[i].name, "seed") == 0) seed = (uint64_t)p.v[i].num;
        bool evaluates = es.evaluate || es.perform_hpo || es.perform_automl;
        /*
         * The evaluation trains its own copy of nearly all the data: free the
         * full matrix meanwhile (keeping its weigher, which decides what counts)
         * and load it again after, from the same chunks, so that peak memory
         * stays that of one training.
         */
        if (evaluates) {
            csr_free(d.ui);
            d.ui = NULL;
            free(d.type_masks);
            d.type_masks = NULL;
        }
        rc = eval_at_training(&ed, &es, recipe, rest, nrest, &w, seed, r->progress, &eo, e);
        eval_data_release(&ed);
        if (!rc && evaluates) {
            int64_t last_chunk = d.last_chunk;
            train_data_release(&d);
            rc = train_data_load_except(s, group.id, dataset.id, &w, last_chunk, NULL, &d, e);
        }
    }
    if (!rc) rc = item_ages(s, &group, dataset.id, &d, &ages, e);
    if (!rc && (eo.recipe != recipe || eo.ntuned)) {
        /* AutoML's recipe and HPO's values: the user's values (that recipe's), then the tuned. */
        struct param_kv *kv = xcalloc(nrest + eo.ntuned + 1, sizeof(*kv));
        size_t n = 0;
        for (size_t k = 0; k < nrest; k++) {
            bool tuned = false;
            for (size_t t = 0; t < eo.ntuned; t++)
                tuned |= strcmp(rest[k].key, eo.tuned[t].key) == 0;
            if (!tuned) kv[n++] = rest[k];
        }
        recipe = eo.recipe;
        n = automl_filter_kv(recipe, kv, n, kv);
        for (size_t t = 0; t < eo.ntuned; t++)
            kv[n++] = eo.tuned[t];
        params_release(&p);
        rc = params_resolve(recipe->params, kv, n, &p, e);
        free(kv);
        if (!rc) {
            char *pj = params_to_json(&p);
            json_object_set_new(config, "algorithmHyperParameters", json_loads(pj, 0, NULL));
            free(pj);
        }
    }
    if (!rc && es.perform_hpo) {
        char *pj = params_to_json(&p);
        json_object_set_new(
            eo.attrs, "tunedHPOParams",
            json_pack("{s:o}", "algorithmHyperParameters", json_loads(pj, 0, NULL)));
        free(pj);
    }
    if (!rc) {
        char *weigher = event_weigher_to_json(&d.weigher);
        json_t *m = json_pack(
            "{s:s,s:s,s:s,s:O,s:I,s:I,s:I,s:I,s:I,s:I,s:o}", "recipe", recipe->name,
            "solutionVersionArn", ver.arn, "datasetGroup", r->group, "solutionConfig", config,
            "users", (json_int_t)d.ui->nrows, "items", (json_int_t)d.ui->ncols, "interactions",
            (json_int_t)d.events_used, "lastChunkId", (json_int_t)d.last_chunk, "datasetGeneration",
            (json_int_t)dataset_generation(&dataset), "newestTimestamp", (json_int_t)ages.newest,
            "eventWeigher", json_loads(weigher, 0, NULL));
        free(weigher);
        meta = attrs_text(m);
        json_decref(m);
        if (r->progress && isatty(fileno(r->progress))) tp.out = r->progress;
        rc = write_model(s, &group, dataset.id, recipe, &d, &p, r->threads, previous, meta, &ages,
                         &tp, path, e);
    }
    double seconds = clock_monotonic() - t0;

    /* Final state: ACTIVE, or CREATE FAILED with the reason. */
    json_t *a = json_loads(ver.attrs, 0, NULL);
    if (!rc) {
        const char *rel = path + strlen(store_dir(s)) + 1;
        json_object_set_new(a, "modelFile", json_string(rel));
        json_object_set_new(a, "trainingHours", json_real(seconds / 3600.0));
        json_object_set_new(a, "trainingSeconds", json_real(seconds));
        json_object_set_new(a, "interactionsUsed", json_integer((json_int_t)d.events_used));
        /* Steady-state time per pass of iterative recipes (the first pass is left out). */
        if (tp.iterations >= 2)
            json_object_set_new(a, "secondsPerIteration",
                                json_real((tp.last_end - tp.first_end) / (tp.iterations - 1)));
        if (eo.attrs) json_object_update(a, eo.attrs);
    }
    free(ver.attrs);
    ver.attrs = attrs_text(a);
    json_decref(a);
    free(ver.status);
    /* A version the API recorded and then stopped ends as Personalize's StopSolutionVersionCreation
     * leaves it. */
    bool stopped = rc && r->version_arn && r->cancel && *r->cancel;
    ver.status = xstrdup(stopped ? "CREATE STOPPED" : rc ? STATUS_CREATE_FAILED : STATUS_ACTIVE);
    if (rc && !stopped) ver.failure_reason = xstrdup(e->msg);
    struct err e2 = ERR_INIT;
    enum rc urc = store_begin(s, &e2);
    if (!urc) urc = store_resource_update(s, &ver, &e2);
    if (!urc) urc = store_commit(s, &e2);
    if (urc) store_rollback(s);
    if (!rc && urc) rc = err_set(e, urc, "%s", e2.msg);
    if (rc && path) unlink(path);
    if (!rc) *version_arn = xstrdup(ver.arn);
out:
    eval_settings_release(&es);
    eval_outcome_release(&eo);
    weighting_release(&w);
    json_decref(config);
    free(rest);
    params_release(&p);
    resource_release(&group);
    resource_release(&dataset);
    resource_release(&sol);
    resource_release(&ver);
    train_data_release(&d);
    free(ages.created);
    modelfile_close(previous);
    json_decref(prev_meta);
    free(name);
    free(path);
    free(meta);
    return rc;
}

/* ---- Answering ------------------------------------------------------------ */

/*
 * Events recorded after training, by user, in memory: loaded once from the
 * store when the model is opened, then fed as new events are committed
 * (model_add_events, model_catch_up), so a request never reads the store.
 * Each entry is already weighed (b_e of weighting.h), on an item the model
 * knows. Guarded by 'lock': requests read, feeds write.
 */
struct recent_entry {
    uint32_t item;
    uint32_t types; /* event_type_bit */
    double b;
    int64_t ts;
};

struct recent_user {
    struct recent_entry *v;
    uint32_t n, alloc;
};

struct recent {
    pthread_rwlock_t lock;
    struct strmap *ids; /* user ID -> index in users */
    VEC(struct recent_user) users;
    int64_t upto;    /* the newest interaction chunk folded in */
    uint64_t events; /* entries held */
};

/*
 * Items added to the group after training (PutItems, imports before the
 * open): unknown to the model, so they have no score, but exploration may
 * place them. Item k of this list answers as index nitems + k.
 */
struct fresh_items {
    pthread_rwlock_t lock;
    struct strmap *ids;
    VEC(int64_t) created; /* CREATION_TIMESTAMP, INT64_MAX when not given */
};

/*
 * int8 item vectors laid out for AVX-512 VNNI (see struct model): blocks of
 * Q8_BLOCK slots, items in slots sorted by s_j |q_j|_2, largest first.
 */
struct q8_index {
    size_t nb;                      /* blocks */
    int8_t *q8;                     /* nb * groups * 64 bytes */
    float *scale;                   /* per slot (nb * Q8_BLOCK), as the three below */
    int32_t *sum;                   /* sum_d q_jd */
    int32_t *abs;                   /* sum_d |q_jd| */
    uint32_t *item;                 /* the item in the slot, UINT32_MAX for padding */
    float *blk_cs, *blk_q1, *blk_s; /* per block: largest s_j |q_j|_2, s_j |q_j|_1 / 2, s_j */
    uint16_t *blk_cand; /* per block, bit l: slot l holds a candidate (is_candidate()) */
};

#define SUBIX_SLOTS 16 /* verdicts tracked per model */
#define SUBIX_AFTER 3  /* requests with the same verdict before it gets its own index */
#define SUBIX_BUILT 8  /* at most this many per model */

static void q8_index_free(struct q8_index *ix)
{
    free(ix->q8);
    free(ix->scale);
    free(ix->sum);
    free(ix->abs);
    free(ix->item);
    free(ix->blk_cs);
    free(ix->blk_q1);
    free(ix->blk_s);
    free(ix->blk_cand);
    memset(ix, 0, sizeof(*ix));
}

/* Room for nb blocks: every slot padding, every block bound 0. */
static void q8_index_alloc(struct q8_index *ix, size_t nb, uint32_t groups)
{
    ix->nb = nb;
    ix->q8 = xcalloc(nb * groups * 64 + 1, 1);
    ix->scale = xcalloc(nb * Q8_BLOCK + 1, sizeof(float));
    ix->sum = xcalloc(nb * Q8_BLOCK + 1, sizeof(int32_t));
    ix->abs = xcalloc(nb * Q8_BLOCK + 1, sizeof(int32_t));
    ix->item = xmallocarray(nb * Q8_BLOCK + 1, sizeof(uint32_t));
    ix->blk_cs = xcalloc(nb + 1, sizeof(float));
    ix->blk_q1 = xcalloc(nb + 1, sizeof(float));
    ix->blk_s = xcalloc(nb + 1, sizeof(float));
    ix->blk_cand = xcalloc(nb + 1, sizeof(uint16_t));
    for (size_t k = 0; k < nb * Q8_BLOCK; k++)
        ix->item[k] = UINT32_MAX;
}

struct model {
    struct modelfile *mf;
    struct fresh_items fresh;
    /* The dataset whose later events the model folds in; 0: the training history only. */
    int64_t dataset_id;
    int64_t group_id;
    int64_t generation; /* the dataset's FULL-import generation the model was trained on */
    int64_t last_chunk;
    struct recent recent;
    struct event_weigher weigher;
    const struct recipe *recipe;
    struct params params;
    void *state;
    struct strmap *users, *items;
    const float *popularity;
    uint32_t nitems, nusers;
    const uint64_t *h_indptr;
    const uint32_t *h_items;
    const float *h_weights;
    const uint32_t *h_types; /* event types behind each history entry (event_type_bit) */
    const int64_t *h_last;   /* time of the user's latest event on each history entry */
    struct answer_recency recency;
    const int64_t *item_created; /* age reference per item (see item_ages) */
    const uint8_t *candidates;   /* the recipe's own candidate set, or NULL (see recipe.h) */
    int64_t newest;
    /*
     * For recipes with dot-product scores (recipe.h item_vectors): the item
     * vectors, and an int8 copy with a scale per item (y_jd ~ q_jd *
     * scale[j]) laid out for AVX-512 VNNI: blocks of Q8_BLOCK items,
     * within a block groups of 4 coordinates, 64 bytes per group (item l's 4
     * bytes at l * 4). Coordinate d of item j is at q8[((j / 16) * groups +
     * d / 4) * 64 + (j % 16) * 4 + d % 4]. Padding items and coordinates are
     * zero.
     */
    const float *vecs;
    uint32_t dim, groups;
    /*
     * Items are stored in slots sorted by s_j |q_j|_2, largest first, so the
     * blocks most likely to hold the best scores come first and later blocks
     * can often be skipped whole (struct q8_index).
     */
    struct q8_index ix; /* the whole catalog (ix.q8 NULL: no fast path) */
    /*
     * Indexes of just the items a recurring filter verdict allows (an
     * item-metadata filter with the same values, request after request): the
     * top-k then reads only those blocks. Built once a verdict has been seen
     * SUBIX_AFTER times; freed with the model.
     */
    pthread_mutex_t subix_mu;
    struct sub_index {
        uint64_t key;   /* hash of the verdict's bits */
        uint64_t *bits; /* the verdict's bits (owned), compared on a hit */
        uint32_t seen;
        struct q8_index *ix; /* NULL until built */
    } subix[SUBIX_SLOTS];
    size_t nsubix_built;
    uint32_t *pop_order; /* every item, most popular first (then lower index) */
    /*
     * The fold-in of each training user whose history has not changed since
     * the model was loaded (no events in the recent index), computed on their
     * first request: a fold-in (a k x k solve) is most of a request's
     * arithmetic, and the same history always gives the same vector.
     * uvec_state[u]: UVEC_EMPTY, UVEC_BUSY (one thread writing) or UVEC_READY.
     */
    float *uvec;
    _Atomic uint8_t *uvec_state;
    /* Exploration candidates in explore_cmp order, per age cut-off (explore_order()). */
    pthread_mutex_t explore_mu;
    struct explore_order {
        double cutoff_days;
        uint32_t *items;
        size_t n;
    } explore_orders[4];
    size_t nexplore_orders;
};

const struct recipe *model_recipe(const struct model *m)
{
    return m->recipe;
}

char *model_dataset_group(const struct model *m)
{
    const char *text;
    if (modelfile_text(m->mf, "meta", &text, NULL, NULL)) return NULL;
    json_t *meta = json_loads(text, 0, NULL);
    const char *g = json_string_value(json_object_get(meta, "datasetGroup"));
    char *out = g ? xstrdup(g) : NULL;
    json_decref(meta);
    return out;
}

uint32_t model_item_count(const struct model *m)
{
    return m->nitems;
}

void model_close(struct model *m)
{
    if (!m) return;
    if (m->state) m->recipe->unload(m->state);
    params_release(&m->params);
    event_weigher_release(&m->weigher);
    strmap_free(m->users);
    strmap_free(m->items);
    for (size_t i = 0; i < m->recent.users.n; i++)
        free(m->recent.users.v[i].v);
    VEC_FREE(&m->recent.users);
    strmap_free(m->recent.ids);
    pthread_rwlock_destroy(&m->recent.lock);
    strmap_free(m->fresh.ids);
    VEC_FREE(&m->fresh.created);
    pthread_rwlock_destroy(&m->fresh.lock);
    q8_index_free(&m->ix);
    for (size_t k = 0; k < SUBIX_SLOTS; k++) {
        free(m->subix[k].bits);
        if (m->subix[k].ix) q8_index_free(m->subix[k].ix);
        free(m->subix[k].ix);
    }
    pthread_mutex_destroy(&m->subix_mu);
    free(m->pop_order);
    free(m->uvec);
    free((void *)m->uvec_state);
    for (size_t k = 0; k < m->nexplore_orders; k++)
        free(m->explore_orders[k].items);
    pthread_mutex_destroy(&m->explore_mu);
    modelfile_close(m->mf);
    free(m);
}

/* Rebuild the recipe's parameters from the model's own record of them. */
static enum rc model_params(struct model *m, struct err *e)
{
    const char *text;
    enum rc rc = modelfile_text(m->mf, "meta", &text, NULL, e);
    if (rc) return rc;
    json_t *meta = json_loads(text, 0, NULL);
    json_t *hp =
        json_object_get(json_object_get(meta, "solutionConfig"), "algorithmHyperParameters");
    struct param_kv kv[PARAMS_MAX];
    size_t n = 0;
    const char *key;
    json_t *val;
    json_object_foreach(hp, key, val)
    {
        if (n < PARAMS_MAX && json_is_string(val))
            kv[n++] = (struct param_kv){key, json_string_value(val)};
    }
    rc = params_resolve(m->recipe->params, kv, n, &m->params, e);
    if (!rc) answer_recency_from_params(&m->params, &m->recency);
    json_t *ew = json_object_get(meta, "eventWeigher");
    char *ew_text = ew ? json_dumps(ew, JSON_COMPACT) : NULL;
    if (!rc) rc = event_weigher_from_json(ew_text ? ew_text : "", &m->weigher, e);
    free(ew_text);
    m->last_chunk = (int64_t)json_integer_value(json_object_get(meta, "lastChunkId"));
    m->newest = (int64_t)json_integer_value(json_object_get(meta, "newestTimestamp"));
    json_decref(meta);
    return rc;
}

/*
 * The int8 copy of a dot-product recipe's item vectors (see struct model):
 * 1/4 of the bytes, so a request's pass over every item stays in cache.
 */
struct slot_key {
    uint32_t item;
    float key; /* s_j |q_j|_2 */
};

static int slot_key_cmp(const void *a, const void *b)
{
    const struct slot_key *x = a, *y = b;
    if (x->key != y->key) return x->key > y->key ? -1 : 1;
    return x->item < y->item ? -1 : x->item > y->item;
}

/* Items with interaction data, or the recipe's own candidates: never an item no dataset has. */
static bool is_candidate(const struct model *m, uint32_t j)
{
    return m->candidates ? m->candidates[j] != 0 : m->popularity[j] > 0;
}

static void quantize_vectors(struct model *m)
{
    uint32_t dim = 0, n = 0;
    const float *v = m->recipe->item_vectors ? m->recipe->item_vectors(m->state, &dim, &n) : NULL;
    if (!v || n != m->nitems || dim == 0 || !m->recipe->user_vector) return;
    for (size_t k = 0; k < (size_t)n * dim; k++)
        if (!isfinite(v[k])) return; /* a broken vector: the exact path for every request */
    size_t nb = ((size_t)n + Q8_BLOCK - 1) / Q8_BLOCK;
    m->vecs = v;
    m->dim = dim;
    m->groups = (dim + 3) / 4;
    /* Quantize, then order the slots by s_j |q_j|_2. */
    float *scale = xcalloc(n ? n : 1, sizeof(float));
    struct slot_key *keys = xcalloc(n ? n : 1, sizeof(*keys));
    for (uint32_t j = 0; j < n; j++) {
        const float *y = v + (size_t)j * dim;
        float mx = 0;
        for (uint32_t d = 0; d < dim; d++)
            mx = fmaxf(mx, fabsf(y[d]));
        scale[j] = mx > 0 ? mx / 127.0f : 0;
        double sq = 0;
        for (uint32_t d = 0; scale[j] > 0 && d < dim; d++) {
            double b = (double)lrintf(y[d] / scale[j]);
            sq += b * b;
        }
        keys[j] = (struct slot_key){j, (float)(scale[j] * sqrt(sq))};
    }
    qsort(keys, n, sizeof(*keys), slot_key_cmp);
    struct q8_index *ix = &m->ix;
    q8_index_alloc(ix, nb, m->groups);
    for (uint32_t slot = 0; slot < n; slot++) {
        uint32_t j = keys[slot].item;
        const float *y = v + (size_t)j * dim;
        float sc = scale[j];
        ix->item[slot] = j;
        ix->scale[slot] = sc;
        int8_t *q = ix->q8 + (size_t)(slot / Q8_BLOCK) * m->groups * 64 + (slot % Q8_BLOCK) * 4;
        for (uint32_t d = 0; sc > 0 && d < dim; d++) {
            int8_t b = (int8_t)lrintf(y[d] / sc);
            q[(size_t)(d / 4) * 64 + d % 4] = b;
            ix->sum[slot] += b;
            ix->abs[slot] += b < 0 ? -b : b;
        }
        size_t blk = slot / Q8_BLOCK;
        ix->blk_cs[blk] = fmaxf(ix->blk_cs[blk], keys[slot].key);
        ix->blk_q1[blk] = fmaxf(ix->blk_q1[blk], sc * 0.5f * (float)ix->abs[slot]);
        ix->blk_s[blk] = fmaxf(ix->blk_s[blk], sc);
        if (is_candidate(m, j)) ix->blk_cand[blk] |= (uint16_t)(1u << (slot % Q8_BLOCK));
    }
    free(keys);
    free(scale);
}

/* More popular first, then lower index: ranked_cmp's order for unscored items. */
static int popularity_cmp(const void *a, const void *b, void *pop)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    const float *p = pop;
    if (p[x] != p[y]) return p[x] > p[y] ? -1 : 1;
    return x < y ? -1 : x > y;
}

static enum rc model_load(const char *path, struct model **out, struct err *e)
{
    struct model *m = xcalloc(1, sizeof(*m));
    pthread_rwlock_init(&m->recent.lock, NULL);
    pthread_rwlock_init(&m->fresh.lock, NULL);
    m->fresh.ids = strmap_new();
    pthread_mutex_init(&m->explore_mu, NULL);
    pthread_mutex_init(&m->subix_mu, NULL);
    m->recent.ids = strmap_new();
    const void *a, *b, *c, *d, *ic, *ht, *hl;
    size_t la, lb, lc, ld, lic, lht, lhl;
    enum rc rc = modelfile_open(path, &m->mf, e);
    if (rc) goto fail;
    if (modelfile_kind_version(m->mf) != MODEL_FORMAT_KIND_VERSION) {
        rc = err_set(e, RC_INVALID_INPUT,
                     "%s: model of layout %u, this savor reads layout %u; train a new version",
                     path, modelfile_kind_version(m->mf), MODEL_FORMAT_KIND_VERSION);
        goto fail;
    }
    m->recipe = recipe_find(modelfile_kind(m->mf));
    if (!m->recipe) {
        rc = err_set(e, RC_INVALID_INPUT, "%s: model of unknown recipe '%s'", path,
                     modelfile_kind(m->mf));
        goto fail;
    }
    if ((rc = modelfile_strmap(m->mf, "users", &m->users, e)) ||
        (rc = modelfile_strmap(m->mf, "items", &m->items, e)) ||
        (rc = modelfile_section(m->mf, "popularity", sizeof(float), &a, &la, e)) ||
        (rc = modelfile_section(m->mf, "history_indptr", sizeof(uint64_t), &b, &lb, e)) ||
        (rc = modelfile_section(m->mf, "history_items", sizeof(uint32_t), &c, &lc, e)) ||
        (rc = modelfile_section(m->mf, "history_weights", sizeof(float), &d, &ld, e)) ||
        (rc = modelfile_section(m->mf, "item_created", sizeof(int64_t), &ic, &lic, e)) ||
        (rc = modelfile_section(m->mf, "history_types", sizeof(uint32_t), &ht, &lht, e)) ||
        (rc = modelfile_section(m->mf, "history_last", sizeof(int64_t), &hl, &lhl, e)) ||
        (rc = model_params(m, e)))
        goto fail;
    m->nitems = strmap_count(m->items);
    m->nusers = strmap_count(m->users);
    m->popularity = a;
    m->h_indptr = b;
    m->h_items = c;
    m->h_weights = d;
    m->item_created = ic;
    m->h_types = ht;
    m->h_last = hl;
    /* Check the history's shape once, so queries can trust it. */
    bool ok = la == (size_t)m->nitems * sizeof(float) &&
              lic == (size_t)m->nitems * sizeof(int64_t) &&
              lht / sizeof(uint32_t) == lc / sizeof(uint32_t) &&
              lhl / sizeof(int64_t) == lc / sizeof(uint32_t) &&
              lb == ((size_t)m->nusers + 1) * sizeof(uint64_t) &&
              lc / sizeof(uint32_t) == ld / sizeof(float) && m->h_indptr[0] == 0 &&
              m->h_indptr[m->nusers] == lc / sizeof(uint32_t);
    for (uint32_t u = 0; ok && u < m->nusers; u++)
        ok = m->h_indptr[u] <= m->h_indptr[u + 1];
    for (size_t k = 0; ok && k < lc / sizeof(uint32_t); k++)
        ok = m->h_items[k] < m->nitems;
    if (!ok) {
        rc = err_set(e, RC_INVALID_INPUT, "%s: corrupt model (history sections)", path);
        goto fail;
    }
    const void *cand;
    size_t lcand;
    if (modelfile_section(m->mf, "candidates", 1, &cand, &lcand, NULL) == RC_OK) {
        if (lcand != m->nitems) {
            rc = err_set(e, RC_INVALID_INPUT, "%s: corrupt model (candidates section)", path);
            goto fail;
        }
        m->candidates = cand;
    }
    if ((rc = m->recipe->load(m->mf, &m->params, &m->state, e))) goto fail;
    quantize_vectors(m);
    if (m->ix.q8 && m->nusers) {
        m->uvec = xcalloc((size_t)m->nusers * m->dim, sizeof(float));
        m->uvec_state = xcalloc(m->nusers, sizeof(*m->uvec_state));
    }
    m->pop_order = xcalloc(m->nitems ? m->nitems : 1, sizeof(uint32_t));
    for (uint32_t j = 0; j < m->nitems; j++)
        m->pop_order[j] = j;
    qsort_r(m->pop_order, m->nitems, sizeof(uint32_t), popularity_cmp, (void *)m->popularity);
    *out = m;
    return RC_OK;
fail:
    model_close(m);
    return rc;
}

/* Add item 'id' unknown to the model (fresh.lock held for writing). */
static void fresh_add(struct model *m, const char *id, size_t len, int64_t created)
{
    uint32_t idx;
    if (strmap_get(m->items, id, len, &idx)) return; /* trained with it: nothing to add */
    bool added;
    uint32_t k = strmap_intern(m->fresh.ids, id, len, &added);
    if (added)
        VEC_PUSH(&m->fresh.created, created);
    else
        m->fresh.created.v[k] = created;
}

void model_add_items(struct model *m, int64_t group_id, const char *const *ids,
                     const int64_t *created, size_t n)
{
    if (!m->group_id || group_id != m->group_id) return;
    pthread_rwlock_wrlock(&m->fresh.lock);
    for (size_t k = 0; k < n; k++)
        fresh_add(m, ids[k], strlen(ids[k]), created[k] >= 0 ? created[k] : INT64_MAX);
    pthread_rwlock_unlock(&m->fresh.lock);
}

struct fresh_scan {
    struct model *m;
    struct store *s;
    struct strmap *group_items; /* loaded on the first row past the model's items */
};

static enum rc fresh_row(void *ctx, uint32_t idx, int64_t created_ts, const char *json,
                         struct err *e)
{
    UNUSED(json);
    struct fresh_scan *f = ctx;
    if (idx < f->m->nitems) return RC_OK;
    if (!f->group_items) {
        f->group_items = strmap_new();
        enum rc rc = store_idmap_load(f->s, f->m->group_id, ID_ITEMS, f->group_items, e);
        if (rc) return rc;
    }
    if (idx >= strmap_count(f->group_items)) return RC_OK;
    size_t len;
    const char *id = strmap_key(f->group_items, idx, &len);
    fresh_add(f->m, id, len, created_ts >= 0 ? created_ts : INT64_MAX);
    return RC_OK;
}

/* The ITEMS rows of items the model was not trained with (at open). */
static enum rc load_fresh_items(struct model *m, struct store *s, const struct resource *group,
                                struct err *e)
{
    struct resource items = {0};
    if (dataset_find(s, group, DATASET_ITEMS, &items, NULL) != RC_OK) {
        resource_release(&items);
        return RC_OK;
    }
    struct fresh_scan f = {m, s, NULL};
    pthread_rwlock_wrlock(&m->fresh.lock);
    enum rc rc = store_entity_scan(s, items.id, fresh_row, &f, e);
    pthread_rwlock_unlock(&m->fresh.lock);
    strmap_free(f.group_items);
    resource_release(&items);
    return rc;
}

size_t model_fresh_items(struct model *m)
{
    pthread_rwlock_rdlock(&m->fresh.lock);
    size_t n = strmap_count(m->fresh.ids);
    pthread_rwlock_unlock(&m->fresh.lock);
    return n;
}

enum rc model_open_version(struct store *s, const char *arn, struct model **out, struct err *e)
{
    struct resource v = {0};
    enum rc rc = store_resource_get(s, arn, &v, NULL);
    if (rc || strcmp(v.kind, KIND_SOLUTION_VERSION) != 0) {
        resource_release(&v);
        return err_set(e, RC_NOT_FOUND, "solution version %s does not exist", arn);
    }
    if (strcmp(v.status, STATUS_ACTIVE) != 0) {
        rc =
            err_set(e, RC_INVALID_INPUT, "solution version %s is %s, not ACTIVE%s%s", arn, v.status,
                    v.failure_reason ? ": " : "", v.failure_reason ? v.failure_reason : "");
        resource_release(&v);
        return rc;
    }
    json_t *a = json_loads(v.attrs, 0, NULL);
    const char *rel = a ? json_string_value(json_object_get(a, "modelFile")) : NULL;
    struct model *m = NULL;
    if (!rel) {
        rc = err_set(e, RC_DB, "solution version %s has no model file recorded", arn);
    } else {
        char *path = xasprintf("%s/%s", store_dir(s), rel);
        rc = model_load(path, &m, e);
        free(path);
    }
    json_decref(a);
    resource_release(&v);
    if (rc) return rc;
    /* Events recorded since training come from the dataset the model was trained on. */
    const char *text;
    json_t *meta = NULL;
    struct resource g = {0}, d = {0};
    if (modelfile_text(m->mf, "meta", &text, NULL, NULL) == RC_OK &&
        (meta = json_loads(text, 0, NULL)) &&
        dataset_group_find(s, json_string_value(json_object_get(meta, "datasetGroup")) ?: "", &g,
                           NULL) == RC_OK &&
        dataset_find(s, &g, DATASET_INTERACTIONS, &d, NULL) == RC_OK &&
        json_integer_value(json_object_get(meta, "datasetGeneration")) == dataset_generation(&d)) {
        /* Not after a FULL re-import: its rows replace, they are not new events. */
        m->dataset_id = d.id;
        m->group_id = g.id;
        m->generation = dataset_generation(&d);
        m->recent.upto = m->last_chunk;
        if ((rc = load_fresh_items(m, s, &g, e))) {
            json_decref(meta);
            resource_release(&g);
            resource_release(&d);
            model_close(m);
            return rc;
        }
    }
    json_decref(meta);
    resource_release(&g);
    resource_release(&d);
    if (m->dataset_id && (rc = model_catch_up(m, s, e))) {
        model_close(m);
        return rc;
    }
    *out = m;
    return RC_OK;
}


struct ranked {
    uint32_t item;
    float score;
    bool scored; /* false: backfilled by popularity */
};

/* Better first: scored before unscored, then higher score, then more popular, then lower index. */
static int ranked_cmp(const struct ranked *x, const struct ranked *y, const float *pop)
{
    if (x->scored != y->scored) return x->scored ? -1 : 1;
    if (x->scored && x->score != y->score) return x->score > y->score ? -1 : 1;
    if (pop[x->item] != pop[y->item]) return pop[x->item] > pop[y->item] ? -1 : 1;
    return x->item < y->item ? -1 : x->item > y->item;
}

/* Keep the best n in a heap whose root is the worst kept. */
static void heap_push(struct ranked *h, size_t *len, size_t cap, struct ranked r, const float *pop)
{
    if (*len == cap) {
        if (ranked_cmp(&r, &h[0], pop) >= 0) return;
        h[0] = h[--*len];
        /* sift down */
        size_t i = 0;
        for (;;) {
            size_t l = 2 * i + 1, rr = l + 1, w = i;
            if (l < *len && ranked_cmp(&h[l], &h[w], pop) > 0) w = l;
            if (rr < *len && ranked_cmp(&h[rr], &h[w], pop) > 0) w = rr;
            if (w == i) break;
            struct ranked t = h[i];
            h[i] = h[w];
            h[w] = t;
            i = w;
        }
    }
    size_t i = (*len)++;
    h[i] = r;
    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (ranked_cmp(&h[i], &h[parent], pop) <= 0) break;
        struct ranked t = h[i];
        h[i] = h[parent];
        h[parent] = t;
        i = parent;
    }
}

static int ranked_qsort(const void *a, const void *b, void *pop)
{
    return ranked_cmp(a, b, pop);
}

/* A user's history: items (ascending) with their affinity w, owned. */
struct history {
    uint32_t *items;
    float *w;
    uint32_t *types; /* event_type_bit mask per item */
    int64_t *last;   /* the user's latest event on the item */
    size_t n;
    uint32_t cached_user; /* the training user whose history this is unchanged, or UINT32_MAX */
};

static void history_release(struct history *h)
{
    free(h->items);
    free(h->w);
    free(h->types);
    free(h->last);
    memset(h, 0, sizeof(*h));
    h->cached_user = UINT32_MAX;
}

/* ---- Events after training ------------------------------------------------ */

/* Fold one event of user 'uid' into the index (write lock held). */
static void recent_add(struct model *m, const char *uid, size_t len, uint32_t item, uint32_t type,
                       float value, int64_t ts)
{
    if (item >= m->nitems) return; /* an item the model does not know: needs a retraining */
    double b = event_weigher_weight(&m->weigher, type, value, ts);
    if (!(b > 0)) return;
    struct recent *r = &m->recent;
    bool added;
    uint32_t slot = strmap_intern(r->ids, uid, len, &added);
    if (added) VEC_PUSH(&r->users, ((struct recent_user){NULL, 0, 0}));
    struct recent_user *u = &r->users.v[slot];
    if (u->n == u->alloc) {
        u->alloc = u->alloc ? u->alloc * 2 : 4;
        u->v = xreallocarray(u->v, u->alloc, sizeof(*u->v));
    }
    u->v[u->n++] = (struct recent_entry){item, event_type_bit(type), b, ts};
    r->events++;
}

struct catch_up {
    struct model *m;
    struct store *s;
    struct strmap *group_users; /* loaded on the first user the model does not know */
};

static enum rc fold_chunk(void *ctx, const struct interaction_chunk *c, struct err *e)
{
    struct catch_up *cu = ctx;
    struct model *m = cu->m;
    for (uint32_t i = 0; i < c->n; i++) {
        uint32_t u = c->users[i];
        const char *uid;
        size_t len;
        if (u < m->nusers) {
            uid = strmap_key(m->users, u, &len);
        } else {
            /* A user first seen after training: the group's map names them. */
            if (!cu->group_users) {
                cu->group_users = strmap_new();
                enum rc rc = store_idmap_load(cu->s, m->group_id, ID_USERS, cu->group_users, e);
                if (rc) return rc;
            }
            if (u >= strmap_count(cu->group_users)) continue;
            uid = strmap_key(cu->group_users, u, &len);
        }
        recent_add(m, uid, len, c->items[i], c->event_types[i], c->event_values[i], c->ts[i]);
    }
    if (c->id > m->recent.upto) m->recent.upto = c->id;
    return RC_OK;
}

enum rc model_catch_up(struct model *m, struct store *s, struct err *e)
{
    if (!m->dataset_id) return RC_OK;
    /* After a FULL re-import, later rows replace what the model learned: stop following. */
    struct resource d = {0};
    enum rc rc = store_resource_get_id(s, m->dataset_id, &d, NULL);
    bool same = rc == RC_OK && dataset_generation(&d) == m->generation;
    resource_release(&d);
    if (!same) return RC_OK;
    struct catch_up cu = {m, s, NULL};
    pthread_rwlock_wrlock(&m->recent.lock);
    rc = store_interactions_scan_range(s, m->dataset_id, m->recent.upto, INT64_MAX, fold_chunk, &cu,
                                       e);
    pthread_rwlock_unlock(&m->recent.lock);
    strmap_free(cu.group_users);
    return rc;
}

void model_add_events(struct model *m, int64_t dataset_id, const struct interaction_chunk *c,
                      const char *const *user_ids)
{
    if (!m->dataset_id || dataset_id != m->dataset_id) return;
    pthread_rwlock_wrlock(&m->recent.lock);
    if (c->id > m->recent.upto) { /* else already folded in by a scan */
        for (uint32_t i = 0; i < c->n; i++)
            recent_add(m, user_ids[i], strlen(user_ids[i]), c->items[i], c->event_types[i],
                       c->event_values[i], c->ts[i]);
        m->recent.upto = c->id;
    }
    pthread_rwlock_unlock(&m->recent.lock);
}

int64_t model_dataset_id(const struct model *m)
{
    return m->dataset_id;
}

uint64_t model_recent_events(struct model *m)
{
    pthread_rwlock_rdlock(&m->recent.lock);
    uint64_t n = m->recent.events;
    pthread_rwlock_unlock(&m->recent.lock);
    return n;
}

struct pair {
    uint32_t item;
    uint32_t types;
    double sum; /* the sum of event weights, before the log */
    int64_t last;
};

static int pair_cmp(const void *a, const void *b)
{
    const struct pair *x = a, *y = b;
    return x->item < y->item ? -1 : x->item > y->item;
}

/*
 * The user's history as the model should see it now: the training history,
 * plus the events recorded since training (the in-memory index), weighed
 * as training did. Items the model does not know are left out: they need a
 * retraining. w = log(1 + sum of event weights), so a new event adds to the
 * sum behind the training affinity: sum = exp(w) - 1. Costs O(history).
 */
static void user_history(struct model *m, const char *user_id, struct history *h)
{
    memset(h, 0, sizeof(*h));
    h->cached_user = UINT32_MAX;
    if (!user_id) return;
    size_t idlen = strlen(user_id);
    uint32_t u, slot;
    bool known = strmap_get(m->users, user_id, idlen, &u);
    size_t n_old = known ? (size_t)(m->h_indptr[u + 1] - m->h_indptr[u]) : 0;
    pthread_rwlock_rdlock(&m->recent.lock);
    const struct recent_user *ru =
        strmap_get(m->recent.ids, user_id, idlen, &slot) ? &m->recent.users.v[slot] : NULL;
    size_t n_new = ru ? ru->n : 0, total = n_old + n_new;
    if (known && !ru) h->cached_user = u;
    struct pair *p = xcalloc(total ? total : 1, sizeof(*p));
    for (size_t k = 0; k < n_new; k++)
        p[n_old + k] = (struct pair){ru->v[k].item, ru->v[k].types, ru->v[k].b, ru->v[k].ts};
    pthread_rwlock_unlock(&m->recent.lock);
    for (size_t k = 0; k < n_old; k++) {
        p[k].item = m->h_items[m->h_indptr[u] + k];
        p[k].types = m->h_types[m->h_indptr[u] + k];
        p[k].sum = expm1((double)m->h_weights[m->h_indptr[u] + k]);
        p[k].last = m->h_last[m->h_indptr[u] + k];
    }
    if (n_new) qsort(p, total, sizeof(*p), pair_cmp);
    h->items = xcalloc(total ? total : 1, sizeof(uint32_t));
    h->w = xcalloc(total ? total : 1, sizeof(float));
    h->types = xcalloc(total ? total : 1, sizeof(uint32_t));
    h->last = xcalloc(total ? total : 1, sizeof(int64_t));
    for (size_t k = 0; k < total; k++) {
        if (h->n && h->items[h->n - 1] == p[k].item) {
            p[k].sum += p[k - 1].sum;
            p[k].types |= p[k - 1].types;
            p[k].last = MAX(p[k].last, p[k - 1].last);
            h->n--;
        }
        h->items[h->n] = p[k].item;
        h->w[h->n] = (float)log1p(p[k].sum);
        h->types[h->n] = p[k].types;
        h->last[h->n] = p[k].last;
        h->n++;
    }
    free(p);
    answer_recency_apply(&m->recency, h->last, h->w, h->n);
}

/* The names of the event types in 'mask' (event_type_bit), as a JSON array. */
static json_t *type_names(const struct model *m, uint32_t mask)
{
    json_t *a = json_array();
    for (uint32_t t = 0; t < m->weigher.ntypes && t < 30; t++)
        if (mask & event_type_bit(t)) json_array_append_new(a, json_string(m->weigher.names[t]));
    if (mask & (1u << 30)) json_array_append_new(a, json_string("(other)"));
    return a;
}

/*
 * The EXPLAIN_TOP history items that contributed most to the score of
 * 'target', each with its event types and its share of the score (shares of
 * all history items add up to 1; one may exceed 1 when others pull the
 * score down).
 */
static json_t *explanation(struct model *m, const struct history *h, uint32_t target, float score,
                           struct err *e)
{
    size_t n = h->n;
    if (!m->recipe->explain || !n) return NULL;
    float *contrib = xcalloc(n, sizeof(float));
    if (m->recipe->explain(m->state, h->items, h->w, n, target, contrib, e)) {
        free(contrib);
        return NULL;
    }
    json_t *list = json_array();
    bool *used = xcalloc(n, sizeof(bool));
    for (int t = 0; t < EXPLAIN_TOP; t++) {
        size_t best = n;
        for (size_t k = 0; k < n; k++)
            if (!used[k] && contrib[k] > 0 && (best == n || contrib[k] > contrib[best])) best = k;
        if (best == n) break;
        used[best] = true;
        json_array_append_new(
            list, json_pack("{s:s,s:o,s:f}", "itemId", strmap_key(m->items, h->items[best], NULL),
                            "eventTypes", type_names(m, h->types[best]), "share",
                            score != 0 ? (double)contrib[best] / (double)score : 0.0));
    }
    free(used);
    free(contrib);
    return list;
}

/*
 * Entries [0, len) of 'final' into out (allocated here): explored[k] marks
 * exploration slots; with 'explain', scored entries carry their explanation.
 */
static void list_fill(struct model *m, const struct ranked *final, const bool *explored, size_t len,
                      bool explain, const struct history *h, struct rec_list *out, struct err *e)
{
    out->v = xcalloc(len ? len : 1, sizeof(*out->v));
    out->n = len;
    for (size_t k = 0; k < len; k++) {
        const struct ranked *r = &final[k];
        struct rec_item *it = &out->v[k];
        it->item = r->item;
        bool known = r->item < m->nitems; /* else added after training: exploration only */
        it->score = known && r->scored ? r->score : 0.0f;
        it->reason = explored[k] ? REC_EXPLORATION : known && !r->scored ? REC_POPULAR : REC_SCORED;
        if (explain && it->reason == REC_SCORED && known)
            it->explanation = explanation(m, h, r->item, r->score, e);
    }
}

void rec_list_release(struct rec_list *l)
{
    for (size_t k = 0; k < l->n; k++)
        json_decref(l->v[k].explanation);
    free(l->v);
    l->v = NULL;
    l->n = 0;
}

enum rc model_item_id_text(struct model *m, uint32_t item, struct buf *b)
{
    size_t len;
    if (item < m->nitems) {
        const char *id = strmap_key(m->items, item, &len);
        return json_text_string(b, id, len);
    }
    pthread_rwlock_rdlock(&m->fresh.lock);
    const char *id = strmap_key(m->fresh.ids, item - m->nitems, &len);
    enum rc rc = json_text_string(b, id, len);
    pthread_rwlock_unlock(&m->fresh.lock);
    return rc;
}

static const char *const reason_text[] = {
    [REC_SCORED] = NULL,
    [REC_EXPLORATION] = "[\"Exploration\"]",
    [REC_POPULAR] = "[\"Popular item\"]",
};

/* Keys in the order model_recommend() has always written them: itemId, score, explanation, reason.
 */
enum rc model_rec_list_text(struct model *m, const struct rec_list *l, int precision, struct buf *b)
{
    enum rc rc = buf_addch(b, '[');
    for (size_t k = 0; k < l->n && !rc; k++) {
        const struct rec_item *it = &l->v[k];
        if ((k && (rc = buf_addch(b, ','))) || (rc = buf_addstr(b, "{\"itemId\":")) ||
            (rc = model_item_id_text(m, it->item, b)) || (rc = buf_addstr(b, ",\"score\":")) ||
            (rc = json_text_real(b, it->score, precision)))
            break;
        if (it->explanation && ((rc = buf_addstr(b, ",\"explanation\":")) ||
                                (rc = json_text_append(b, it->explanation, precision))))
            break;
        if (reason_text[it->reason] &&
            ((rc = buf_addstr(b, ",\"reason\":")) || (rc = buf_addstr(b, reason_text[it->reason]))))
            break;
        rc = buf_addch(b, '}');
    }
    return rc ? rc : buf_addch(b, ']');
}

json_t *model_rec_list_json(struct model *m, const struct rec_list *l)
{
    json_t *list = json_array();
    for (size_t k = 0; k < l->n; k++) {
        const struct rec_item *it = &l->v[k];
        json_t *o = json_object();
        size_t len;
        /* IDs were checked as UTF-8 on import: the _nocheck calls skip the per-item scan. */
        if (it->item < m->nitems) {
            const char *id = strmap_key(m->items, it->item, &len);
            json_object_set_new_nocheck(o, "itemId", json_stringn_nocheck(id, len));
        } else {
            pthread_rwlock_rdlock(&m->fresh.lock);
            const char *id = strmap_key(m->fresh.ids, it->item - m->nitems, &len);
            json_object_set_new_nocheck(o, "itemId", json_stringn_nocheck(id, len));
            pthread_rwlock_unlock(&m->fresh.lock);
        }
        json_object_set_new_nocheck(o, "score", json_real(it->score));
        if (it->explanation) json_object_set_nocheck(o, "explanation", it->explanation);
        if (it->reason != REC_SCORED)
            json_object_set_new_nocheck(
                o, "reason",
                json_pack("[s]", it->reason == REC_EXPLORATION ? "Exploration" : "Popular item"));
        json_array_append_new(list, o);
    }
    return list;
}

/* Whether item j is in the (sorted) history. */
static bool in_history(const struct history *h, uint32_t j)
{
    size_t lo = 0, hi = h->n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (h->items[mid] == j) return true;
        if (h->items[mid] < j)
            lo = mid + 1;
        else
            hi = mid;
    }
    return false;
}

struct explore_cand {
    uint32_t item;
    float pop;
    int64_t created;
};

/* Least seen first, then newest, then lowest index: deterministic. */
static int explore_cmp(const void *a, const void *b)
{
    const struct explore_cand *x = a, *y = b;
    if (x->pop != y->pop) return x->pop < y->pop ? -1 : 1;
    if (x->created != y->created) return x->created > y->created ? -1 : 1;
    return x->item < y->item ? -1 : x->item > y->item;
}

/*
 * Exploration (documented in docs/recipes.md): round(n * weight / 2) slots,
 * spread evenly through the list, go to the least-seen items created within
 * age_cutoff_days of the data's newest time, that are not already in the
 * list or the user's history. Returns how many it placed into 'out'.
 */
/*
 * Every item young enough for exploration with this cut-off, in
 * explore_cmp order: computed once per cut-off (a campaign has one), since
 * ages and popularity are fixed in the model. NULL when the few slots are
 * taken by other cut-offs (the caller then selects per request).
 */
static const struct explore_order *explore_order(struct model *m, double cutoff_days)
{
    pthread_mutex_lock(&m->explore_mu);
    const struct explore_order *o = NULL;
    for (size_t k = 0; k < m->nexplore_orders && !o; k++)
        if (m->explore_orders[k].cutoff_days == cutoff_days) o = &m->explore_orders[k];
    if (!o && m->nexplore_orders < ARRAY_SIZE(m->explore_orders)) {
        int64_t since = m->newest - (int64_t)(cutoff_days * 86400.0);
        struct explore_cand *c = xcalloc(m->nitems ? m->nitems : 1, sizeof(*c));
        size_t nc = 0;
        for (uint32_t j = 0; j < m->nitems; j++)
            if (m->item_created[j] != INT64_MIN && m->item_created[j] >= since)
                c[nc++] = (struct explore_cand){j, m->popularity[j], m->item_created[j]};
        qsort(c, nc, sizeof(*c), explore_cmp);
        struct explore_order *w = &m->explore_orders[m->nexplore_orders];
        w->cutoff_days = cutoff_days;
        w->items = xcalloc(nc ? nc : 1, sizeof(uint32_t));
        for (size_t k = 0; k < nc; k++)
            w->items[k] = c[k].item;
        w->n = nc;
        free(c);
        m->nexplore_orders++;
        o = w;
    }
    pthread_mutex_unlock(&m->explore_mu);
    return o;
}

static size_t explore(struct model *m, const struct exploration *x, const struct history *h,
                      const float *scores, const struct filter_verdict *allowed,
                      const struct ranked *list, size_t len, size_t n, struct ranked *out,
                      bool *is_exploration)
{
    size_t slots = (size_t)floor((double)n * x->weight / 2.0 + 0.5);
    if (slots > n) slots = n;
    /*
     * The 'slots' first candidates in explore_cmp order, kept in a max-heap
     * (root: the last of them), so a request costs O(items log slots), not a
     * sort of every young item.
     */
    struct explore_cand *c = xcalloc(2 * slots + 1, sizeof(*c));
    size_t nc = 0;
    int64_t since = m->newest - (int64_t)(x->age_cutoff_days * 86400.0);
    const struct explore_order *order = slots ? explore_order(m, x->age_cutoff_days) : NULL;
    for (size_t k = 0; order && k < order->n && nc < slots; k++) {
        uint32_t j = order->items[k];
        bool in_list = false;
        for (size_t i = 0; i < len && !in_list; i++)
            in_list = list[i].item == j;
        if (in_list || in_history(h, j)) continue;
        if (allowed && !filter_allows(allowed, j)) continue;
        c[nc++] = (struct explore_cand){j, m->popularity[j], m->item_created[j]};
    }
    bool *listed = order || !slots ? NULL : xcalloc(m->nitems ? m->nitems : 1, sizeof(bool));
    for (size_t k = 0; listed && k < len; k++)
        listed[list[k].item] = true;
    for (uint32_t j = 0; !order && j < m->nitems && slots; j++) {
        if (m->item_created[j] == INT64_MIN || m->item_created[j] < since) continue;
        struct explore_cand cand = {j, m->popularity[j], m->item_created[j]};
        if (nc == slots && (cand.pop > c[0].pop || explore_cmp(&cand, &c[0]) >= 0)) continue;
        if (listed[j] || in_history(h, j)) continue;
        if (allowed && !filter_allows(allowed, j)) continue;
        size_t i;
        if (nc < slots) {
            for (i = nc++; i > 0 && explore_cmp(&cand, &c[(i - 1) / 2]) > 0; i = (i - 1) / 2)
                c[i] = c[(i - 1) / 2];
        } else {
            for (i = 0;;) {
                size_t l = 2 * i + 1, r = l + 1, w = l;
                if (l >= nc) break;
                if (r < nc && explore_cmp(&c[r], &c[l]) > 0) w = r;
                if (explore_cmp(&c[w], &cand) <= 0) break;
                c[i] = c[w];
                i = w;
            }
        }
        c[i] = cand;
    }
    free(listed);
    /*
     * Items added after training (no interactions: popularity 0), newest
     * first, up to 'slots' of them; the sort below merges them with the
     * model's own candidates.
     */
    pthread_rwlock_rdlock(&m->fresh.lock);
    size_t nfresh = strmap_count(m->fresh.ids), base = nc;
    for (size_t k = nfresh; k-- > 0 && slots;) {
        int64_t created = m->fresh.created.v[k];
        uint32_t j = m->nitems + (uint32_t)k;
        if (created < since || (allowed && !filter_allows(allowed, j))) continue;
        struct explore_cand cand = {j, 0, created};
        if (nc - base < slots) {
            c[nc++] = cand;
        } else { /* replace the worst kept fresh candidate if this one is better */
            size_t worst = base;
            for (size_t i = base + 1; i < nc; i++)
                if (explore_cmp(&c[i], &c[worst]) > 0) worst = i;
            if (explore_cmp(&cand, &c[worst]) < 0) c[worst] = cand;
        }
    }
    pthread_rwlock_unlock(&m->fresh.lock);
    qsort(c, nc, sizeof(*c), explore_cmp);
    if (slots > nc) slots = nc;
    /* Exploration item k goes to position floor((k + 1) * n / (slots + 1)). */
    size_t total = MIN(n, len + slots), from_list = 0, k = 0;
    for (size_t pos = 0; pos < total; pos++) {
        bool take = k < slots && (pos == (k + 1) * n / (slots + 1) || from_list == len);
        if (take) {
            float sc = c[k].item < m->nitems ? scores[c[k].item] : 0;
            out[pos] = (struct ranked){c[k].item, isnan(sc) ? 0 : sc, true};
            is_exploration[pos] = true;
            k++;
        } else {
            out[pos] = list[from_list++];
            is_exploration[pos] = false;
        }
    }
    free(c);
    return total;
}

/* ---- Filters ---------------------------------------------------------------- */

/*
 * The items 'filter' allows for this request, into *v. Related items get
 * the user's history here (it is not part of their scoring).
 */
static enum rc filter_request_apply(struct model *m, const struct filter_bound *filter,
                                    const char *user_id, uint32_t current_item,
                                    const struct history *h, struct filter_verdict *v,
                                    struct err *e)
{
    struct history own = {.cached_user = UINT32_MAX};
    if (m->recipe->kind == RECIPE_RELATED_ITEMS && user_id) {
        user_history(m, user_id, &own);
        h = &own;
    }
    struct filter_request fr = {
        .user_id = user_id,
        .current_item = current_item,
        .history_items = h->items,
        .history_types = h->types,
        .history_last = h->last,
        .history_n = h->n,
        .type_names = (const char *const *)m->weigher.names,
        .ntypes = m->weigher.ntypes,
    };
    enum rc rc = filter_apply(filter, &fr, m->nitems, v, e);
    history_release(&own);
    return rc;
}

/* ---- Top-k through the int8 item vectors ------------------------------------ */

/*
 * A user vector rounded to 8 bits for the bound pass: x_d = sx * (xq_d +
 * f_d), |f_d| <= 1/2; xw packs 4 coordinates of xq + 128 per word (VNNI
 * multiplies unsigned by signed bytes).
 */
struct qvec {
    float sx;
    int32_t *xw; /* groups words */
    float c0;    /* |xq|_1 / 2 + dim / 4 + 1 (see block_bounds_vnni) */
    float norm2; /* |xq|_2 */
    float l1;    /* |x|_1, for the plain bound */
};

static void qvec_init(const struct model *m, const float *x, struct qvec *q)
{
    float mx = 0;
    q->l1 = 0;
    for (uint32_t d = 0; d < m->dim; d++) {
        mx = fmaxf(mx, fabsf(x[d]));
        q->l1 += fabsf(x[d]);
    }
    q->sx = mx > 0 ? mx / 127.0f : 1;
    q->xw = xcalloc(m->groups, sizeof(int32_t));
    int64_t x1 = 0;
    double sq = 0;
    for (uint32_t d = 0; d < m->groups * 4; d++) {
        int32_t xq = d < m->dim ? (int32_t)lrintf(x[d] / q->sx) : 0;
        x1 += xq < 0 ? -xq : xq;
        sq += (double)xq * xq;
        q->xw[d / 4] |= (int32_t)((uint32_t)(xq + 128) << (8 * (d % 4)));
    }
    q->c0 = 0.5f * (float)x1 + 0.25f * (float)(m->groups * 4) + 1.0f;
    q->norm2 = (float)sqrt(sq);
}

/*
 * Upper bounds of the scores x . y_j of block b's 16 slots, into ub[16].
 * With y_jd = s_j (q_jd + e_jd), |e| <= 1/2:
 *   x . y_j = s_j sx (q_j . xq + q_j . f + e . xq + e . f), so
 *   |x . y_j - s_j sx (q_j . xq)| <= s_j sx (|q_j|_1 / 2 + |xq|_1 / 2 + dim / 4).
 * The integer products are exact (VNNI: xq + 128 times q, minus 128 * sum_d
 * q_jd); one more s_j sx (c0's + 1) and a relative 1e-5 cover the float
 * rounding of x, of the bound and of the exact score itself.
 */
__attribute__((target("avx512f,avx512vnni"))) static void
block_bounds_vnni(const struct model *m, const struct q8_index *ix, const struct qvec *x, size_t b,
                  float *ub)
{
    uint32_t g = m->groups;
    const int8_t *q = ix->q8 + b * g * 64;
    __m512i acc0 = _mm512_setzero_si512(), acc1 = _mm512_setzero_si512();
    uint32_t k = 0;
    for (; k + 1 < g; k += 2) {
        acc0 = _mm512_dpbusd_epi32(acc0, _mm512_set1_epi32(x->xw[k]),
                                   _mm512_loadu_si512((const void *)(q + (size_t)k * 64)));
        acc1 = _mm512_dpbusd_epi32(acc1, _mm512_set1_epi32(x->xw[k + 1]),
                                   _mm512_loadu_si512((const void *)(q + (size_t)(k + 1) * 64)));
    }
    if (k < g)
        acc0 = _mm512_dpbusd_epi32(acc0, _mm512_set1_epi32(x->xw[k]),
                                   _mm512_loadu_si512((const void *)(q + (size_t)k * 64)));
    __m512i sum = _mm512_loadu_si512((const void *)(ix->sum + b * Q8_BLOCK));
    __m512i dot =
        _mm512_sub_epi32(_mm512_add_epi32(acc0, acc1), _mm512_slli_epi32(sum, 7)); /* 128 * sum */
    __m512 s = _mm512_mul_ps(_mm512_loadu_ps(ix->scale + b * Q8_BLOCK), _mm512_set1_ps(x->sx));
    __m512 a = _mm512_mul_ps(_mm512_cvtepi32_ps(dot), s);
    __m512 q1 = _mm512_cvtepi32_ps(_mm512_loadu_si512((const void *)(ix->abs + b * Q8_BLOCK)));
    __m512 err = _mm512_mul_ps(_mm512_fmadd_ps(q1, _mm512_set1_ps(0.5f), _mm512_set1_ps(x->c0)), s);
    _mm512_storeu_ps(
        ub, _mm512_fmadd_ps(_mm512_abs_ps(a), _mm512_set1_ps(1e-5f), _mm512_add_ps(a, err)));
}

/* The same without VNNI, from x in float: |x . y_j - s_j (q_j . x)| <= s_j |x|_1 / 2. */
static void block_bounds_plain(const struct model *m, const struct q8_index *ix, const float *x,
                               const struct qvec *qx, size_t b, float *ub)
{
    for (uint32_t l = 0; l < Q8_BLOCK; l++) {
        size_t slot = b * Q8_BLOCK + l;
        const int8_t *q = ix->q8 + b * m->groups * 64 + l * 4;
        double acc = 0;
        for (uint32_t d = 0; d < m->dim; d++)
            acc += (double)q[(size_t)(d / 4) * 64 + d % 4] * (double)x[d];
        float a = (float)acc * ix->scale[slot];
        ub[l] = a + 0.51f * ix->scale[slot] * qx->l1 + 1e-5f * fabsf(a);
    }
}

/*
 * A bound for every slot of block b at once (VNNI path): by Cauchy-Schwarz
 * |q_j . xq| <= |q_j|_2 |xq|_2, so ub_j <= sx (1 + 1e-4) (s_j |q_j|_2 |xq|_2
 * + s_j |q_j|_1 / 2 + s_j c0).
 */
__attribute__((target("avx512f"))) static void
block_bounds_all(const struct q8_index *ix, const struct qvec *x, size_t nb, float *bb)
{
    __m512 n2 = _mm512_set1_ps(x->norm2), c0 = _mm512_set1_ps(x->c0);
    __m512 sx = _mm512_set1_ps(x->sx * 1.0001f);
    for (size_t b = 0; b < nb; b += 16) {
        __mmask16 k = (__mmask16)(nb - b >= 16 ? 0xffff : (1u << (nb - b)) - 1);
        __m512 cs = _mm512_maskz_loadu_ps(k, ix->blk_cs + b),
               q1 = _mm512_maskz_loadu_ps(k, ix->blk_q1 + b),
               s = _mm512_maskz_loadu_ps(k, ix->blk_s + b);
        __m512 v = _mm512_mul_ps(sx, _mm512_fmadd_ps(s, c0, _mm512_fmadd_ps(cs, n2, q1)));
        _mm512_storeu_ps(bb + b, _mm512_mask_blend_ps(k, _mm512_set1_ps(-INFINITY), v));
    }
}

/* x . y (dim floats), summed in double: 8 partial sums (lane d % 8), added in lane order. */
__attribute__((target("avx512f"))) static float dot_avx512(const float *x, const float *y,
                                                           uint32_t dim)
{
    __m512d acc = _mm512_setzero_pd();
    for (uint32_t d = 0; d < dim; d += 8) {
        __mmask8 k = (__mmask8)(dim - d >= 8 ? 0xff : (1u << (dim - d)) - 1);
        __m512d xv = _mm512_cvtps_pd(_mm512_castps512_ps256(_mm512_maskz_loadu_ps(k, x + d)));
        __m512d yv = _mm512_cvtps_pd(_mm512_castps512_ps256(_mm512_maskz_loadu_ps(k, y + d)));
        acc = _mm512_add_pd(acc, _mm512_mul_pd(xv, yv)); /* products of floats are exact */
    }
    double part[8], sum = 0;
    _mm512_storeu_pd(part, acc);
    for (int l = 0; l < 8; l++)
        sum += part[l];
    return (float)sum;
}

static float dot_plain(const float *x, const float *y, uint32_t dim)
{
    double part[8] = {0}, sum = 0;
    for (uint32_t d = 0; d < dim; d++)
        part[d % 8] += (double)x[d] * (double)y[d];
    for (int l = 0; l < 8; l++)
        sum += part[l];
    return (float)sum;
}

/* The exact score x . y_j (the same sum with or without AVX-512). */
static float exact_score(const struct model *m, const float *x, uint32_t j)
{
    const float *y = m->vecs + (size_t)j * m->dim;
    return __builtin_cpu_supports("avx512f") ? dot_avx512(x, y, m->dim) : dot_plain(x, y, m->dim);
}

static int float_desc_cmp(const void *a, const void *b)
{
    float x = *(const float *)a, y = *(const float *)b;
    return x < y ? 1 : x > y ? -1 : 0;
}

/* Bit l set where item q8_item[slot] passes the filter, for the 16 slots of block b. */
__attribute__((target("avx512f"))) static uint32_t
block_allowed_avx512(const struct q8_index *ix, const struct filter_verdict *v, size_t b,
                     uint32_t cand)
{
    __m512i j = _mm512_loadu_si512((const void *)(ix->item + b * Q8_BLOCK));
    /* The bitset as 32-bit words (x86 is little-endian): item j is bit j % 32 of word j / 32. */
    __m512i w = _mm512_mask_i32gather_epi32(_mm512_setzero_si512(), (__mmask16)cand,
                                            _mm512_srli_epi32(j, 5), (const void *)v->allow, 4);
    __m512i bit = _mm512_srlv_epi32(w, _mm512_and_si512(j, _mm512_set1_epi32(31)));
    return _mm512_mask_test_epi32_mask((__mmask16)cand, bit, _mm512_set1_epi32(1));
}

/*
 * The slots of block b that may enter the list: candidates (blk_cand) that
 * the filter (may be NULL) allows. Items in blocks are the model's own, so
 * below v->nitems.
 */
static uint32_t block_eligible(const struct q8_index *ix, const struct filter_verdict *v, size_t b,
                               bool avx512)
{
    uint32_t cand = ix->blk_cand[b];
    if (!v || !cand) return cand;
    if (avx512) return block_allowed_avx512(ix, v, b, cand);
    uint32_t k = 0;
    for (uint32_t l = 0; l < Q8_BLOCK; l++)
        if ((cand >> l & 1) && filter_allows(v, ix->item[b * Q8_BLOCK + l])) k |= 1u << l;
    return k;
}

/* Bit l set where v[l] > thr (or >= with 'ge'), for 16 floats. */
__attribute__((target("avx512f"))) static uint32_t mask16_avx512(const float *v, float thr, bool ge)
{
    __m512 x = _mm512_loadu_ps(v), t = _mm512_set1_ps(thr);
    return ge ? _mm512_cmp_ps_mask(x, t, _CMP_GE_OQ) : _mm512_cmp_ps_mask(x, t, _CMP_GT_OQ);
}

static uint32_t mask16(bool avx512, const float *v, float thr, bool ge)
{
    if (avx512) return mask16_avx512(v, thr, ge);
    uint32_t k = 0;
    for (uint32_t l = 0; l < 16; l++)
        if (ge ? v[l] >= thr : v[l] > thr) k |= 1u << l;
    return k;
}

/* Push slot j into the min-heap 'top' of at most c slots ordered by ub[]. */
static void topc_push(uint32_t *top, size_t *len, size_t c, const float *ub, uint32_t j)
{
    size_t i;
    if (*len < c) {
        for (i = (*len)++; i > 0 && ub[top[(i - 1) / 2]] > ub[j]; i = (i - 1) / 2)
            top[i] = top[(i - 1) / 2];
    } else {
        for (i = 0;;) {
            size_t l = 2 * i + 1, r = l + 1, w = l;
            if (l >= *len) break;
            if (r < *len && ub[top[r]] < ub[top[l]]) w = r;
            if (!(ub[top[w]] < ub[j])) break;
            top[i] = top[w];
            i = w;
        }
    }
    top[i] = j;
}

enum { UVEC_EMPTY, UVEC_BUSY, UVEC_READY };

/*
 * The user vector of history h into x (m->dim floats), from the cache when
 * h is a training user's unchanged history (see struct model's uvec).
 */
static enum rc user_vector(struct model *m, const struct history *h, float *x, struct err *e)
{
    uint32_t u = h->cached_user;
    float *slot = m->uvec && u < m->nusers ? m->uvec + (size_t)u * m->dim : NULL;
    if (slot && atomic_load_explicit(&m->uvec_state[u], memory_order_acquire) == UVEC_READY) {
        memcpy(x, slot, m->dim * sizeof(float));
        return RC_OK;
    }
    enum rc rc = m->recipe->user_vector(m->state, h->items, h->w, h->n, x, e);
    uint8_t empty = UVEC_EMPTY;
    if (!rc && slot &&
        atomic_compare_exchange_strong_explicit(&m->uvec_state[u], &empty, UVEC_BUSY,
                                                memory_order_acquire, memory_order_relaxed)) {
        memcpy(slot, x, m->dim * sizeof(float));
        atomic_store_explicit(&m->uvec_state[u], UVEC_READY, memory_order_release);
    }
    return rc;
}

/* Whether slot 'slot' of ix holds a candidate that bits 'allow' let through. */
static bool slot_allowed(const struct q8_index *ix, const uint64_t *allow, size_t slot)
{
    uint32_t j = ix->item[slot];
    return (ix->blk_cand[slot / Q8_BLOCK] >> (slot % Q8_BLOCK) & 1) &&
           (allow[j >> 6] >> (j & 63) & 1);
}

/* The slots of 'full' that 'allow' lets through, in the same order, as a new index. */
static struct q8_index *q8_index_subset(const struct model *m, const struct q8_index *full,
                                        const uint64_t *allow)
{
    size_t cnt = 0, nslots = full->nb * Q8_BLOCK, g = m->groups;
    for (size_t slot = 0; slot < nslots; slot++)
        cnt += slot_allowed(full, allow, slot);
    struct q8_index *ix = xcalloc(1, sizeof(*ix));
    q8_index_alloc(ix, (cnt + Q8_BLOCK - 1) / Q8_BLOCK, m->groups);
    size_t k = 0;
    for (size_t slot = 0; slot < nslots; slot++) {
        if (!slot_allowed(full, allow, slot)) continue;
        const int8_t *from = full->q8 + (slot / Q8_BLOCK) * g * 64 + (slot % Q8_BLOCK) * 4;
        int8_t *to = ix->q8 + (k / Q8_BLOCK) * g * 64 + (k % Q8_BLOCK) * 4;
        double sq = 0;
        for (size_t q = 0; q < g; q++) {
            memcpy(to + q * 64, from + q * 64, 4);
            for (int l = 0; l < 4; l++)
                sq += (double)from[q * 64 + l] * from[q * 64 + l];
        }
        float sc = full->scale[slot];
        ix->scale[k] = sc;
        ix->sum[k] = full->sum[slot];
        ix->abs[k] = full->abs[slot];
        ix->item[k] = full->item[slot];
        size_t blk = k / Q8_BLOCK;
        /* The same block bounds as quantize_vectors() (s_j |q_j|_2 from the same bytes). */
        ix->blk_cs[blk] = fmaxf(ix->blk_cs[blk], (float)(sc * sqrt(sq)));
        ix->blk_q1[blk] = fmaxf(ix->blk_q1[blk], sc * 0.5f * (float)full->abs[slot]);
        ix->blk_s[blk] = fmaxf(ix->blk_s[blk], sc);
        ix->blk_cand[blk] |= (uint16_t)(1u << (k % Q8_BLOCK));
        k++;
    }
    return ix;
}

/* Bits set in w[0..words), the last word masked with 'last'. */
__attribute__((target("popcnt"))) static size_t count_ones_popcnt(const uint64_t *w, size_t words,
                                                                  uint64_t last)
{
    size_t n = 0;
    for (size_t k = 0; k + 1 < words; k++)
        n += (size_t)__builtin_popcountll(w[k]);
    return n + (words ? (size_t)__builtin_popcountll(w[words - 1] & last) : 0);
}

static size_t count_ones(const uint64_t *w, size_t words, uint64_t last)
{
    if (__builtin_cpu_supports("popcnt")) return count_ones_popcnt(w, words, last);
    size_t n = 0;
    for (size_t k = 0; k < words; k++)
        for (uint64_t x = k + 1 == words ? w[k] & last : w[k]; x; x &= x - 1)
            n++;
    return n;
}

size_t model_filter_indexes(struct model *m)
{
    pthread_mutex_lock(&m->subix_mu);
    size_t n = m->nsubix_built;
    pthread_mutex_unlock(&m->subix_mu);
    return n;
}

/*
 * The index to run the top-k on for verdict v (may be NULL): the whole
 * catalog, or just the items v allows when v lets through at most half of
 * the catalog and the same verdict keeps coming back (the same
 * item-metadata filter values: a genre page, a category). A verdict that
 * changes with every request (interactions, the user) never gets one. The
 * answers are the same either way; only the blocks read differ.
 */
static const struct q8_index *index_for(struct model *m, const struct filter_verdict *v)
{
    if (!v || v->nitems < m->nitems || !m->nitems) return &m->ix;
    size_t words = ((size_t)m->nitems + 63) / 64;
    uint64_t last = m->nitems % 64 ? (1ULL << (m->nitems % 64)) - 1 : ~0ULL;
    if (count_ones(v->allow, words, last) * 2 > m->nitems) return &m->ix;
    uint64_t key = 1469598103934665603ULL; /* FNV-1a over the words; hits are compared in full */
    for (size_t k = 0; k < words; k++)
        key = (key ^ (k + 1 == words ? v->allow[k] & last : v->allow[k])) * 1099511628211ULL;
    const struct q8_index *ix = &m->ix;
    pthread_mutex_lock(&m->subix_mu);
    struct sub_index *hit = NULL, *victim = NULL;
    for (size_t k = 0; k < SUBIX_SLOTS && !hit; k++) {
        struct sub_index *e = &m->subix[k];
        if (e->bits && e->key == key && memcmp(e->bits, v->allow, (words - 1) * 8) == 0 &&
            e->bits[words - 1] == (v->allow[words - 1] & last))
            hit = e;
        else if (!e->ix && (!victim || !e->bits || (victim->bits && e->seen < victim->seen)))
            victim = e; /* only unbuilt entries are replaced: built ones live with the model */
    }
    if (hit) {
        if (!hit->ix && ++hit->seen >= SUBIX_AFTER && m->nsubix_built < SUBIX_BUILT) {
            hit->ix = q8_index_subset(m, &m->ix, hit->bits);
            m->nsubix_built++;
        }
        if (hit->ix) ix = hit->ix;
    } else if (victim) {
        free(victim->bits);
        victim->bits = xmallocarray(words, sizeof(uint64_t));
        memcpy(victim->bits, v->allow, words * 8);
        victim->bits[words - 1] &= last;
        victim->key = key;
        victim->seen = 1;
    }
    pthread_mutex_unlock(&m->subix_mu);
    return ix;
}

/*
 * The best 'n' eligible items of a history, as score_user() would rank them,
 * without reading every item's full vector. The int8 pass gives each item an
 * approximate score a_j within err_j = 0.51 * scale_j * |x|_1 of x . y_j
 * (rounding to int8 moves each coordinate by at most scale_j / 2; the rest
 * covers float rounding), so ub_j = a_j + err_j bounds it from above. The
 * n + 4 items with the highest bounds get exact scores; s_n is the n-th
 * best of those; every other eligible item whose bound reaches s_n gets its
 * exact score too. No item left out can beat s_n, so the n best exact
 * scores are the answer. Returns the exactly scored items in *cand (caller
 * frees; their scores in scores[]) and the user vector in *x_out (caller
 * frees), for exact scores of other items.
 */
static enum rc fast_scores(struct model *m, const struct history *h, size_t n,
                           const struct filter_verdict *allowed, float *scores, uint32_t **cand,
                           size_t *ncand, float **x_out, struct err *e)
{
    float *x = xcalloc(m->dim, sizeof(float));
    enum rc rc = user_vector(m, h, x, e);
    if (rc) {
        free(x);
        return rc;
    }
    bool vnni = __builtin_cpu_supports("avx512vnni");
    struct qvec qx;
    qvec_init(m, x, &qx);
    const struct q8_index *ix = index_for(m, allowed);
    size_t nb = ix->nb, nb16 = (nb + 15) & ~(size_t)15;
    /*
     * Bounds by slot, written only for the blocks computed (most are
     * skipped); bb[b], a bound for all of block b's slots (VNNI: Cauchy-
     * Schwarz, see block_bound_all(); else +inf, nothing skipped); done[b].
     */
    float *ub = scratch_get(SCRATCH_BOUNDS,
                            (nb * Q8_BLOCK + 1 + nb16) * sizeof(float) + nb16 * sizeof(uint8_t));
    float *bb = ub + nb * Q8_BLOCK + 1;
    uint8_t *done = (uint8_t *)(bb + nb16); /* 1: computed, 0: skipped */
    memset(done, 0, nb16);
    if (vnni) {
        block_bounds_all(ix, &qx, nb16, bb);
        for (size_t b = nb; b < nb16; b++)
            bb[b] = -INFINITY;
    } else {
        for (size_t b = 0; b < nb16; b++)
            bb[b] = b < nb ? INFINITY : -INFINITY;
    }
    /* The c highest bounds among eligible items: a min-heap of slots. */
    size_t c = n + 4, len = 0;
    uint32_t *top = xcalloc(c, sizeof(uint32_t));
    /* Blocks 16 at a time: those whose bound passes the c-th best slot bound so far. */
    for (size_t g = 0; g < nb16; g += 16) {
        for (uint32_t bits = len == c ? mask16(vnni, bb + g, ub[top[0]], false)
                                      : mask16(vnni, bb + g, -INFINITY, false);
             bits; bits &= bits - 1) {
            size_t b = g + (size_t)__builtin_ctz(bits);
            if (len == c && !(bb[b] > ub[top[0]])) continue; /* the threshold rose */
            done[b] = 1;
            if (vnni)
                block_bounds_vnni(m, ix, &qx, b, ub + b * Q8_BLOCK);
            else
                block_bounds_plain(m, ix, x, &qx, b, ub + b * Q8_BLOCK);
            /* Most slots are below the c-th bound so far: test 16 at once. */
            uint32_t ok = block_eligible(ix, allowed, b, vnni);
            for (uint32_t k =
                     ok & (len == c ? mask16(vnni, ub + b * Q8_BLOCK, ub[top[0]], false) : 0xffff);
                 k; k &= k - 1) {
                uint32_t slot = (uint32_t)(b * Q8_BLOCK) + (uint32_t)__builtin_ctz(k);
                if (len == c && !(ub[slot] > ub[top[0]])) continue;
                topc_push(top, &len, c, ub, slot);
            }
        }
    }
    VEC(uint32_t) out = VEC_INIT;
    float *best = xcalloc(len ? len : 1, sizeof(float));
    for (size_t k = 0; k < len; k++) {
        uint32_t j = ix->item[top[k]];
        scores[j] = best[k] = exact_score(m, x, j);
        VEC_PUSH(&out, j);
    }
    /* With c candidates some items were left out: bring in any whose bound reaches s_n. */
    if (len == c && n > 0) {
        qsort(best, len, sizeof(*best), float_desc_cmp);
        float sn = best[n - 1];
        for (size_t k = 0; k < len; k++)
            ub[top[k]] = -INFINITY; /* taken */
        for (size_t g = 0; g < nb16; g += 16)
            for (uint32_t bits = mask16(vnni, bb + g, sn, true); bits; bits &= bits - 1) {
                size_t b = g + (size_t)__builtin_ctz(bits);
                if (!done[b])
                    block_bounds_vnni(m, ix, &qx, b,
                                      ub + b * Q8_BLOCK); /* skipped only with VNNI */
                for (uint32_t k = mask16(vnni, ub + b * Q8_BLOCK, sn, true) &
                                  block_eligible(ix, allowed, b, vnni);
                     k; k &= k - 1) {
                    uint32_t slot = (uint32_t)(b * Q8_BLOCK) + (uint32_t)__builtin_ctz(k);
                    uint32_t j = ix->item[slot];
                    scores[j] = exact_score(m, x, j);
                    VEC_PUSH(&out, j);
                }
            }
    }
    free(best);
    free(top);
    free(qx.xw);
    *cand = out.v;
    *ncand = out.n;
    *x_out = x;
    return RC_OK;
}

/* ---- Top-k over every item's score ---------------------------------------- */

#define SELECT_BLOCK 32 /* items topk_scan() tests at once against the heap's worst */

/* Bit k set when scores[k] >= t (NaN is not), for the SELECT_BLOCK scores, four at a time. */
static uint32_t block_at_least(const float *scores, float t)
{
    uint32_t bits = 0;
#if defined(__SSE2__)
    __m128 tv = _mm_set1_ps(t);
    for (int k = 0; k < SELECT_BLOCK; k += 4)
        bits |= (uint32_t)_mm_movemask_ps(_mm_cmpge_ps(_mm_loadu_ps(scores + k), tv)) << k;
#else
    for (int k = 0; k < SELECT_BLOCK; k++)
        bits |= (uint32_t)(scores[k] >= t) << k;
#endif
    return bits;
}

/* The best n items seen so far: a heap whose root is the worst kept. */
struct topk {
    struct ranked *heap;
    size_t len, n;
};

/*
 * Offer items [first, end) to 't'; scores[j - first] is item j's score (so a
 * block of a larger score matrix can be scanned). 'allowed' (may be NULL) is
 * the filter's verdict; 'first' must be a multiple of SELECT_BLOCK.
 */
static void topk_scan(const struct model *m, struct topk *t, const float *scores, uint32_t first,
                      uint32_t end, const struct filter_verdict *allowed)
{
    struct ranked *heap = t->heap;
    size_t n = t->n;
    for (uint32_t b = first; b < end && n; b += SELECT_BLOCK) {
        uint32_t stop = MIN(end, b + SELECT_BLOCK);
        const float *sb = scores + (b - first);
        /*
         * Once the heap is full of scored items, most items lose to its worst on
         * the score alone: test a block at once (vectorized), then look only at
         * the items that may beat it (and that the filter allows).
         */
        if (t->len == n && heap[0].scored && stop - b == SELECT_BLOCK) {
            uint32_t bits = block_at_least(sb, heap[0].score);
            if (allowed) bits &= (uint32_t)(allowed->allow[b / 64] >> (b % 64)); /* b % 32 == 0 */
            while (bits) {
                uint32_t k = (uint32_t)__builtin_ctz(bits), j = b + k;
                bits &= bits - 1;
                if (t->len == n && heap[0].scored && !(sb[k] >= heap[0].score)) continue;
                if (!is_candidate(m, j) || sb[k] == -INFINITY) continue;
                heap_push(heap, &t->len, n, (struct ranked){j, sb[k], !isnan(sb[k])},
                          m->popularity);
            }
            continue;
        }
        for (uint32_t j = b; j < stop; j++) {
            float sc = sb[j - b];
            if (t->len == n && heap[0].scored && !(sc >= heap[0].score)) continue;
            /* Only items with interaction data are candidates (never an item no dataset has). */
            if (!is_candidate(m, j) || sc == -INFINITY) continue;
            /* Filtered here, not after: the list stays full when enough items pass. */
            if (allowed && !filter_allows(allowed, j)) continue;
            heap_push(heap, &t->len, n, (struct ranked){j, sc, !isnan(sc)}, m->popularity);
        }
    }
}

/*
 * The answer from the best 'len' (at most n) items in 'heap': sorted, with
 * exploration when x asks for it (user-personalization; scores[] holds the
 * candidates' scores, uvec the user vector when the int8 top-k left the
 * other items unscored, else NULL), into out. Frees heap.
 */
static void finish_list(struct model *m, struct ranked *heap, size_t len, size_t n,
                        const struct history *h, const float *scores, const float *uvec,
                        bool explain, const struct exploration *x,
                        const struct filter_verdict *allowed, struct rec_list *out, struct err *e)
{
    qsort_r(heap, len, sizeof(*heap), ranked_qsort, (void *)m->popularity);
    /* Exploration is for user-personalization, as itemExplorationConfig is in Personalize. */
    struct ranked *final = heap;
    bool *explored = xcalloc(n ? n : 1, sizeof(bool));
    if (scores && x && x->weight > 0 && m->recipe->kind == RECIPE_USER_PERSONALIZATION) {
        final = xcalloc(n ? n : 1, sizeof(*final));
        len = explore(m, x, h, scores, allowed, heap, len, n, final, explored);
        /* Exploration items were not in the top n: their exact scores. */
        for (size_t k = 0; uvec && k < len; k++)
            if (explored[k] && final[k].item < m->nitems)
                final[k].score = exact_score(m, uvec, final[k].item);
    }
    list_fill(m, final, explored, len, explain, h, out, e);
    if (final != heap) free(final);
    free(explored);
    free(heap);
}

enum rc model_recommend_list(struct model *m, const char *user_id, const char *item_id, size_t n,
                             bool explain, const struct exploration *x,
                             const struct filter_bound *filter, struct rec_list *out, struct err *e)
{
    out->v = NULL;
    out->n = 0;
    uint32_t current_item = UINT32_MAX;
    const struct recipe *r = m->recipe;
    struct history h;
    user_history(m, r->kind == RECIPE_RELATED_ITEMS ? NULL : user_id, &h);
    enum rc rc = RC_OK;
    bool fast = false;         /* top-k through the int8 item vectors (fast_scores) */
    bool popular_only = false; /* nothing scored: the first eligible items by popularity */
    /* Per thread, so that any number of threads can answer from one model (whole q8 blocks). */
    float *scores = scratch_get(SCRATCH_SCORES, ((size_t)m->nitems + Q8_BLOCK) * sizeof(float));
    const uint32_t *hist = h.items;
    const float *hw = h.w;
    size_t hn = h.n;
    if (r->kind == RECIPE_RELATED_ITEMS) {
        uint32_t it;
        if (!item_id) {
            history_release(&h);
            return err_set(e, RC_INVALID_INPUT,
                           "recipe %s recommends items related to an item: give an item ID",
                           r->name);
        }
        if (!strmap_get(m->items, item_id, strlen(item_id), &it))
            it = UINT32_MAX; /* unknown item: popular items */
        rc = it == UINT32_MAX ? RC_OK : r->score_item(m->state, it, scores, e);
        if (it == UINT32_MAX)
            for (uint32_t j = 0; j < m->nitems; j++)
                scores[j] = NAN;
        if (rc) {
            history_release(&h);
            return rc;
        }
        if (it != UINT32_MAX) scores[it] = -INFINITY; /* never the item itself */
        current_item = it;
    } else {
        if (!user_id) {
            return err_set(e, RC_INVALID_INPUT,
                           "recipe %s recommends items for a user: give a user ID", r->name);
        }
        if (hn == 0 && r->kind != RECIPE_POPULAR_ITEMS) {
            /* A user with no history: popular items, as Personalize does. */
            for (uint32_t j = 0; j < m->nitems; j++)
                scores[j] = NAN;
            popular_only = true;
        } else if (m->ix.q8 && n > 0) {
            fast = true; /* scored below, once the filter is known */
        } else if ((rc = r->score_user(m->state, hist, hw, hn, scores, e))) {
            history_release(&h);
            return rc;
        }
    }
    struct filter_verdict allowed = {0};
    float *uvec = NULL;
    uint32_t *cand = NULL;
    size_t ncand = 0;
    if ((filter &&
         (rc = filter_request_apply(m, filter, user_id, current_item, &h, &allowed, e))) ||
        (fast &&
         (rc = fast_scores(m, &h, n, filter ? &allowed : NULL, scores, &cand, &ncand, &uvec, e)))) {
        history_release(&h);
        filter_verdict_release(&allowed);
        return rc;
    }
    struct ranked *heap = xcalloc(n ? n : 1, sizeof(*heap));
    size_t len = 0;
    /*
     * Recipes that scored every item: the vectorized scan. The fast path
     * already knows the only items that can make the list; users without
     * history take popular items in order.
     */
    struct topk all = {heap, 0, n};
    if (!fast && !popular_only) topk_scan(m, &all, scores, 0, m->nitems, filter ? &allowed : NULL);
    len = all.len;
    for (uint32_t jj = 0; (fast || popular_only) && jj < (fast ? ncand : m->nitems) && n; jj++) {
        uint32_t j = fast ? cand[jj] : m->pop_order[jj];
        if (popular_only && len == n) break; /* in heap order already: the rest come later */
        /*
         * Once the heap is full of scored items, an item scoring below its
         * root (or not at all) cannot enter: skip it without the full order.
         */
        if (len == n && heap[0].scored && !(scores[j] >= heap[0].score)) continue;
        /* Only items with interaction data are candidates (never an item no dataset has). */
        if (!is_candidate(m, j) || scores[j] == -INFINITY) continue;
        /* Filtered here, not after: the list stays full when enough items pass. */
        if (filter && !filter_allows(&allowed, j)) continue;
        struct ranked c = {j, scores[j], !isnan(scores[j])};
        heap_push(heap, &len, n, c, m->popularity);
    }
    finish_list(m, heap, len, n, &h, scores, uvec, explain, x, filter ? &allowed : NULL, out, e);
    free(uvec);
    free(cand);
    history_release(&h);
    filter_verdict_release(&allowed);
    return RC_OK;
}

enum rc model_recommend(struct model *m, const char *user_id, const char *item_id, size_t n,
                        bool explain, const struct exploration *x,
                        const struct filter_bound *filter, json_t **out, struct err *e)
{
    struct rec_list l;
    enum rc rc = model_recommend_list(m, user_id, item_id, n, explain, x, filter, &l, e);
    if (rc) return rc;
    *out = json_pack("{s:o}", "itemList", model_rec_list_json(m, &l));
    rec_list_release(&l);
    return RC_OK;
}

/* ---- Many users at once (batch inference) ------------------------------------ */

/*
 * block = vecs (nv x dim) times item vectors [first, first + count) transposed:
 * row u holds user u's scores of those items (NaN past the vectors).
 */
static void score_block(const float *y, uint32_t dim, uint32_t nvec, const float *vecs, size_t nv,
                        uint32_t first, uint32_t count, float *block)
{
    uint32_t known = first < nvec ? MIN(count, nvec - first) : 0;
    if (known)
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)nv, (int)known, (int)dim, 1.0f,
                    vecs, (int)dim, y + (size_t)first * dim, (int)dim, 0.0f, block, (int)count);
    for (size_t u = 0; u < nv; u++)
        for (uint32_t j = known; j < count; j++)
            block[u * count + j] = NAN;
}

/* Users scored together by model_recommend_many(), and the items scored at a time. */
#define SCORE_BATCH 256
#define SCORE_ITEMS 1024 /* a SCORE_BATCH x SCORE_ITEMS block of scores (1 MiB) stays in L2 */

enum rc model_recommend_many(struct model *m, const char *const *user_ids, size_t nusers, size_t n,
                             const struct exploration *x, const struct filter_bound *const *filters,
                             struct rec_list *outs, bool *ok_out, struct err *errs)
{
    const struct recipe *r = m->recipe;
    uint32_t dim = 0, nvec = 0;
    const float *y = r->item_vectors ? r->item_vectors(m->state, &dim, &nvec) : NULL;
    /*
     * One by one: exploration needs every score of a user at once, and with
     * AVX-512 VNNI the int8 top-k (fast_scores()) reads a fraction of the
     * catalog per user where the matrix product below scores all of it.
     */
    if (r->kind == RECIPE_RELATED_ITEMS || !y || !dim || !r->user_vector || (x && x->weight > 0) ||
        (m->ix.q8 && __builtin_cpu_supports("avx512vnni"))) {
        for (size_t u = 0; u < nusers; u++)
            ok_out[u] = !model_recommend_list(m, user_ids[u], NULL, n, false, x,
                                              filters ? filters[u] : NULL, &outs[u], &errs[u]);
        return RC_OK;
    }
    /*
     * Per group of users: their vectors (fold-in), then the items block by
     * block: one matrix product per block, and each user's top-k scan of it
     * while it is in cache.
     */
    float *vecs = xmallocarray((size_t)SCORE_BATCH * dim, sizeof(float));
    float *block = xmallocarray((size_t)SCORE_BATCH * SCORE_ITEMS, sizeof(float));
    struct history h[SCORE_BATCH];
    struct filter_verdict allowed[SCORE_BATCH];
    struct topk top[SCORE_BATCH];
    bool ok[SCORE_BATCH];
    for (size_t first = 0; first < nusers; first += SCORE_BATCH) {
        size_t b = MIN(SCORE_BATCH, nusers - first);
        for (size_t u = 0; u < b; u++) {
            size_t k = first + u;
            const struct filter_bound *fb = filters ? filters[k] : NULL;
            memset(&allowed[u], 0, sizeof(allowed[u]));
            user_history(m, user_ids[k], &h[u]);
            outs[k] = (struct rec_list){NULL, 0};
            ok_out[k] = ok[u] = false;
            if (!user_ids[k])
                err_set(&errs[k], RC_INVALID_INPUT,
                        "recipe %s recommends items for a user: give a user ID", r->name);
            else if (!(fb && filter_request_apply(m, fb, user_ids[k], UINT32_MAX, &h[u],
                                                  &allowed[u], &errs[k])) &&
                     !user_vector(m, &h[u], vecs + u * dim, &errs[k]))
                ok[u] = true;
            top[u] = (struct topk){xcalloc(n ? n : 1, sizeof(struct ranked)), 0, n};
        }
        for (uint32_t j0 = 0; j0 < m->nitems; j0 += SCORE_ITEMS) {
            uint32_t cnt = MIN(SCORE_ITEMS, m->nitems - j0);
            score_block(y, dim, nvec, vecs, b, j0, cnt, block);
            for (size_t u = 0; u < b; u++) {
                if (!ok[u]) continue;
                float *row = block + u * cnt;
                /* A user with no history: popular items, as Personalize does. */
                if (h[u].n == 0 && r->kind != RECIPE_POPULAR_ITEMS)
                    for (uint32_t j = 0; j < cnt; j++)
                        row[j] = NAN;
                topk_scan(m, &top[u], row, j0, j0 + cnt,
                          filters && filters[first + u] ? &allowed[u] : NULL);
            }
        }
        for (size_t u = 0; u < b; u++) {
            size_t k = first + u;
            if (ok[u])
                finish_list(m, top[u].heap, top[u].len, n, &h[u], NULL, NULL, false, NULL, NULL,
                            &outs[k], &errs[k]);
            else
                free(top[u].heap);
            ok_out[k] = ok[u];
            filter_verdict_release(&allowed[u]);
            history_release(&h[u]);
        }
    }
    free(vecs);
    free(block);
    return RC_OK;
}

enum rc model_rank(struct model *m, const char *user_id, const char *const *items, size_t nitems,
                   bool explain, const struct filter_bound *filter, json_t **out, struct err *e)
{
    const struct recipe *r = m->recipe;
    if (!r->score_user)
        return err_set(e, RC_INVALID_INPUT, "recipe %s cannot rank items for a user", r->name);
    struct history h;
    user_history(m, user_id, &h);
    const uint32_t *hist = h.items;
    const float *hw = h.w;
    size_t hn = h.n;
    float *scores = xmallocarray(m->nitems ? m->nitems : 1, sizeof(float));
    enum rc rc = hn ? r->score_user(m->state, hist, hw, hn, scores, e) : RC_OK;
    struct filter_verdict allowed = {0};
    if (!rc && filter) rc = filter_request_apply(m, filter, user_id, UINT32_MAX, &h, &allowed, e);
    if (rc) {
        history_release(&h);
        free(scores);
        return rc;
    }
    struct ranked *known = xcalloc(nitems ? nitems : 1, sizeof(*known));
    size_t nk = 0;
    json_t *unknown = json_array();
    for (size_t k = 0; k < nitems; k++) {
        uint32_t it;
        bool found = strmap_get(m->items, items[k], strlen(items[k]), &it);
        /* Filtered-out items leave the list, as in Personalize. */
        if (filter && !filter_allows(&allowed, found ? it : UINT32_MAX)) continue;
        if (found && is_candidate(m, it)) {
            /* A user without history: popularity order. */
            known[nk++] = (struct ranked){it, hn ? scores[it] : NAN, hn > 0};
        } else {
            /* Unknown to the model: last, without a score, in the order given. */
            json_array_append_new(unknown, json_pack("{s:s}", "itemId", items[k]));
        }
    }
    qsort_r(known, nk, sizeof(*known), ranked_qsort, (void *)m->popularity);
    bool *no_exploration = xcalloc(nk ? nk : 1, sizeof(bool));
    struct rec_list l;
    list_fill(m, known, no_exploration, nk, explain, &h, &l, e);
    for (size_t k = 0; k < l.n; k++)
        l.v[k].reason = REC_SCORED; /* a ranking gives no reasons */
    json_t *list = model_rec_list_json(m, &l);
    rec_list_release(&l);
    free(no_exploration);
    json_array_extend(list, unknown);
    json_decref(unknown);
    free(known);
    free(scores);
    history_release(&h);
    filter_verdict_release(&allowed);
    *out = json_pack("{s:o}", "personalizedRanking", list);
    return RC_OK;
}
