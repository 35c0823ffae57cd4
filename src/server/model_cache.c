/*
 * model_cache.c: loaded campaign models, refcounted and swapped on change.
 *
 * Two locks: 'mu' guards the table and the reference counts and is held
 * only for pointer work; 'feed_mu' serializes the things that read or
 * extend a model's events after training (registering a freshly loaded
 * model, feeding committed events, catching up on imports), so that an
 * event is folded into each model exactly once. Opening a model file (the
 * slow part) holds neither.
 */
#include "common/base.h"
#include "server/model_cache.h"
#include "common/clock.h"
#include "common/log.h"
#include "filter/filter.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>

struct model_cache {
    pthread_mutex_t mu;
    pthread_mutex_t feed_mu;
    pthread_mutex_t load_mu; /* one load at a time, on 'store' */
    struct store *store;     /* the cache's own connection, under load_mu */
    struct campaign_model **v;
    size_t n, alloc;
    struct cached_filter **f; /* under mu */
    size_t nf, falloc;
    uint64_t generation; /* of item and user metadata, under mu */
};

#define FILTER_RECHECK_SECONDS 5.0

enum rc model_cache_new(const char *data_dir, struct model_cache **out, struct err *e)
{
    struct model_cache *c = xcalloc(1, sizeof(*c));
    enum rc rc = store_open(data_dir, &c->store, e);
    if (rc) {
        free(c);
        return rc;
    }
    pthread_mutex_init(&c->mu, NULL);
    pthread_mutex_init(&c->feed_mu, NULL);
    pthread_mutex_init(&c->load_mu, NULL);
    *out = c;
    return RC_OK;
}

static void campaign_model_free(struct campaign_model *cm)
{
    if (!cm) return;
    model_close(cm->model);
    free(cm->campaign_arn);
    free(cm->version_arn);
    free(cm->group_arn);
    free(cm);
}

void model_cache_free(struct model_cache *c)
{
    if (!c) return;
    for (size_t i = 0; i < c->n; i++)
        campaign_model_free(c->v[i]);
    free(c->v);
    for (size_t i = 0; i < c->nf; i++) {
        filter_free(c->f[i]->filter);
        free(c->f[i]->arn);
        free(c->f[i]->group_arn);
        free(c->f[i]);
    }
    free(c->f);
    store_close(c->store);
    pthread_mutex_destroy(&c->mu);
    pthread_mutex_destroy(&c->feed_mu);
    pthread_mutex_destroy(&c->load_mu);
    free(c);
}

/* Index of the campaign in the table, or c->n (mu held). */
static size_t find(const struct model_cache *c, const char *arn)
{
    for (size_t i = 0; i < c->n; i++)
        if (strcmp(c->v[i]->campaign_arn, arn) == 0) return i;
    return c->n;
}

/* Drop one reference (mu held); the last one closes the model. */
static void unref(struct campaign_model *cm)
{
    if (--cm->refs == 0) campaign_model_free(cm);
}

/* A number from itemExplorationConfig (Personalize sends strings), or 'def'. */
static double config_number(const json_t *cfg, const char *key, double def, double lo, double hi)
{
    const json_t *v = json_object_get(cfg, key);
    double d = def;
    if (json_is_string(v)) {
        char *end;
        errno = 0;
        d = strtod(json_string_value(v), &end);
        if (errno || end == json_string_value(v) || *end) d = def;
    } else if (json_is_number(v)) {
        d = json_number_value(v);
    }
    if (!isfinite(d) || d < lo || d > hi) d = def;
    return d;
}

/*
 * Read the campaign and open its solution version (load_mu held). A
 * campaign that failed or is being deleted counts as absent.
 */
static enum rc load(struct model_cache *c, const char *arn, struct campaign_model **out,
                    struct err *e)
{
    struct resource r = {0};
    enum rc rc = store_resource_get(c->store, arn, &r, NULL);
    if (rc || strcmp(r.kind, KIND_CAMPAIGN) != 0 || strstr(r.status, "FAILED") ||
        strncmp(r.status, "DELETE", 6) == 0) {
        resource_release(&r);
        return err_set(e, RC_NOT_FOUND, "campaign %s does not exist", arn);
    }
    json_t *a = json_loads(r.attrs, 0, NULL);
    const char *version = json_string_value(json_object_get(a, "solutionVersionArn"));
    const json_t *x =
        json_object_get(json_object_get(a, "campaignConfig"), "itemExplorationConfig");
    struct campaign_model *cm = xcalloc(1, sizeof(*cm));
    cm->campaign_arn = xstrdup(arn);
    cm->version_arn = xstrdup(version ? version : "");
    cm->exploration.weight =
        config_number(x, "explorationWeight", CAMPAIGN_DEFAULT_EXPLORATION_WEIGHT, 0, 1);
    cm->exploration.age_cutoff_days =
        config_number(x, "explorationItemAgeCutOff", CAMPAIGN_DEFAULT_EXPLORATION_AGE, 0, 1e9);
    json_decref(a);
    /* The campaign's dataset group: its solution's datasetGroupArn. */
    struct resource sol = {0};
    if (store_resource_get_id(c->store, r.parent_id, &sol, NULL) == RC_OK) {
        json_t *sa = json_loads(sol.attrs, 0, NULL);
        const char *g = json_string_value(json_object_get(sa, "datasetGroupArn"));
        cm->group_arn = xstrdup(g ? g : "");
        json_decref(sa);
    }
    resource_release(&sol);
    if (!cm->group_arn) cm->group_arn = xstrdup("");
    resource_release(&r);
    if (!version) {
        campaign_model_free(cm);
        return err_set(e, RC_NOT_FOUND, "campaign %s has no solution version", arn);
    }
    rc = model_open_version(c->store, cm->version_arn, &cm->model, e);
    if (rc) {
        campaign_model_free(cm);
        return err_prefix(e, "campaign %s: ", arn);
    }
    *out = cm;
    return RC_OK;
}

/*
 * Put 'cm' in the table in place of any older entry (load_mu held). The
 * catch-up under feed_mu covers chunks committed between the model's open
 * and now; later ones arrive through model_cache_add_events().
 */
static void install(struct model_cache *c, struct campaign_model *cm)
{
    pthread_mutex_lock(&c->feed_mu);
    struct err e;
    if (model_catch_up(cm->model, c->store, &e))
        log_warn("models", "campaign %s: reading recent events: %s", cm->campaign_arn, e.msg);
    pthread_mutex_lock(&c->mu);
    cm->refs = 1; /* the table's */
    size_t i = find(c, cm->campaign_arn);
    if (i < c->n) {
        unref(c->v[i]);
        c->v[i] = cm;
    } else {
        if (c->n == c->alloc) {
            c->alloc = c->alloc ? c->alloc * 2 : 8;
            c->v = xreallocarray(c->v, c->alloc, sizeof(*c->v));
        }
        c->v[c->n++] = cm;
    }
    pthread_mutex_unlock(&c->mu);
    pthread_mutex_unlock(&c->feed_mu);
}

static struct campaign_model *lookup_ref(struct model_cache *c, const char *arn)
{
    pthread_mutex_lock(&c->mu);
    size_t i = find(c, arn);
    struct campaign_model *cm = i < c->n ? c->v[i] : NULL;
    if (cm) cm->refs++;
    pthread_mutex_unlock(&c->mu);
    return cm;
}

enum rc model_cache_get(struct model_cache *c, const char *campaign_arn,
                        struct campaign_model **out, struct err *e)
{
    struct campaign_model *cm = lookup_ref(c, campaign_arn);
    if (cm) {
        *out = cm;
        return RC_OK;
    }
    pthread_mutex_lock(&c->load_mu);
    /* Another request may have loaded it while this one waited. */
    cm = lookup_ref(c, campaign_arn);
    enum rc rc = RC_OK;
    if (!cm && !(rc = load(c, campaign_arn, &cm, e))) {
        install(c, cm);
        cm = lookup_ref(c, campaign_arn);
    }
    pthread_mutex_unlock(&c->load_mu);
    if (rc) return rc;
    *out = cm;
    return RC_OK;
}

void model_cache_put(struct model_cache *c, struct campaign_model *cm)
{
    if (!cm) return;
    pthread_mutex_lock(&c->mu);
    unref(cm);
    pthread_mutex_unlock(&c->mu);
}

enum rc model_cache_reload(struct model_cache *c, const char *campaign_arn, struct err *e)
{
    pthread_mutex_lock(&c->load_mu);
    struct campaign_model *cm = NULL;
    enum rc rc = load(c, campaign_arn, &cm, e);
    if (!rc) {
        install(c, cm);
    } else if (rc == RC_NOT_FOUND) {
        /* Deleted (or failed): drop it; requests holding it finish first. */
        pthread_mutex_lock(&c->mu);
        size_t i = find(c, campaign_arn);
        if (i < c->n) {
            unref(c->v[i]);
            c->v[i] = c->v[--c->n];
        }
        pthread_mutex_unlock(&c->mu);
    }
    pthread_mutex_unlock(&c->load_mu);
    return rc;
}

void model_cache_campaign_changed(struct api_ctx *ctx, const char *campaign_arn)
{
    if (!ctx->models) return;
    struct err e;
    enum rc rc = model_cache_reload(ctx->models, campaign_arn, &e);
    if (rc && rc != RC_NOT_FOUND)
        log_warn("models", "campaign %s: keeping the model it had: %s", campaign_arn, e.msg);
    else if (!rc)
        log_info("models", "campaign %s: serving its model", campaign_arn);
}

/* References to every loaded model (mu taken here); the caller puts them back. */
static struct campaign_model **snapshot(struct model_cache *c, size_t *n)
{
    pthread_mutex_lock(&c->mu);
    struct campaign_model **v = xcalloc(c->n ? c->n : 1, sizeof(*v));
    for (size_t i = 0; i < c->n; i++) {
        v[i] = c->v[i];
        v[i]->refs++;
    }
    *n = c->n;
    pthread_mutex_unlock(&c->mu);
    return v;
}

static void release_snapshot(struct model_cache *c, struct campaign_model **v, size_t n)
{
    pthread_mutex_lock(&c->mu);
    for (size_t i = 0; i < n; i++)
        unref(v[i]);
    pthread_mutex_unlock(&c->mu);
    free(v);
}

void model_cache_add_events(struct model_cache *c, int64_t dataset_id,
                            const struct interaction_chunk *c_rows, const char *const *user_ids)
{
    pthread_mutex_lock(&c->feed_mu);
    size_t n;
    struct campaign_model **v = snapshot(c, &n);
    for (size_t i = 0; i < n; i++)
        model_add_events(v[i]->model, dataset_id, c_rows, user_ids);
    release_snapshot(c, v, n);
    pthread_mutex_unlock(&c->feed_mu);
}

void model_cache_add_items(struct model_cache *c, int64_t group_id, const char *const *ids,
                           const int64_t *created, size_t n)
{
    pthread_mutex_lock(&c->feed_mu);
    size_t nm;
    struct campaign_model **v = snapshot(c, &nm);
    for (size_t i = 0; i < nm; i++)
        model_add_items(v[i]->model, group_id, ids, created, n);
    release_snapshot(c, v, nm);
    pthread_mutex_unlock(&c->feed_mu);
}

void model_cache_catch_up(struct model_cache *c, struct store *s)
{
    pthread_mutex_lock(&c->feed_mu);
    size_t n;
    struct campaign_model **v = snapshot(c, &n);
    for (size_t i = 0; i < n; i++) {
        struct err e;
        if (model_catch_up(v[i]->model, s, &e))
            log_warn("models", "campaign %s: reading recent events: %s", v[i]->campaign_arn, e.msg);
    }
    release_snapshot(c, v, n);
    pthread_mutex_unlock(&c->feed_mu);
}

const char *campaign_model_group_arn(const struct campaign_model *cm)
{
    return cm->group_arn;
}

/* ---- Filters ---------------------------------------------------------------- */

static void filter_unref(struct cached_filter *cf)
{
    if (--cf->refs) return;
    filter_free(cf->filter);
    free(cf->arn);
    free(cf->group_arn);
    free(cf);
}

/* Drop filter i from the table (mu held). */
static void filter_drop(struct model_cache *c, size_t i)
{
    filter_unref(c->f[i]);
    c->f[i] = c->f[--c->nf];
}

/* Read and compile filter 'arn' (load_mu held). */
static enum rc filter_load(struct model_cache *c, const char *arn, uint64_t generation,
                           struct cached_filter **out, struct err *e)
{
    struct resource r = {0}, g = {0};
    enum rc rc = store_resource_get(c->store, arn, &r, NULL);
    if (rc || strcmp(r.kind, KIND_FILTER) != 0 || strstr(r.status, "FAILED") ||
        strncmp(r.status, "DELETE", 6) == 0) {
        resource_release(&r);
        return err_set(e, RC_NOT_FOUND, "filter %s does not exist", arn);
    }
    json_t *a = json_loads(r.attrs, 0, NULL);
    const char *text = json_string_value(json_object_get(a, "filterExpression"));
    const char *group = json_string_value(json_object_get(a, "datasetGroupArn"));
    struct filter_ast *ast = NULL;
    struct filter *f = NULL;
    if (!text || !group)
        rc = err_set(e, RC_INVALID_INPUT, "filter %s has no expression or dataset group", arn);
    else if (!(rc = store_resource_get(c->store, group, &g, e)) &&
             !(rc = filter_parse(text, strlen(text), &ast, e)))
        rc = filter_compile(c->store, &g, ast, &f, e);
    if (!rc) {
        struct cached_filter *cf = xcalloc(1, sizeof(*cf));
        cf->arn = xstrdup(arn);
        cf->group_arn = xstrdup(group);
        cf->filter = f;
        cf->generation = generation;
        cf->checked = clock_monotonic();
        *out = cf;
    }
    json_decref(a);
    resource_release(&r);
    resource_release(&g);
    return rc;
}

/* A reference to the cached filter if it is current (mu held). */
static struct cached_filter *filter_lookup(struct model_cache *c, const char *arn)
{
    for (size_t i = 0; i < c->nf; i++) {
        struct cached_filter *cf = c->f[i];
        if (strcmp(cf->arn, arn) != 0) continue;
        if (cf->generation != c->generation ||
            clock_monotonic() - cf->checked > FILTER_RECHECK_SECONDS)
            return NULL;
        cf->refs++;
        return cf;
    }
    return NULL;
}

enum rc model_cache_filter_get(struct model_cache *c, const char *filter_arn,
                               struct cached_filter **out, struct err *e)
{
    pthread_mutex_lock(&c->mu);
    struct cached_filter *cf = filter_lookup(c, filter_arn);
    pthread_mutex_unlock(&c->mu);
    if (cf) {
        *out = cf;
        return RC_OK;
    }
    pthread_mutex_lock(&c->load_mu);
    pthread_mutex_lock(&c->mu);
    cf = filter_lookup(c, filter_arn);
    uint64_t generation = c->generation;
    pthread_mutex_unlock(&c->mu);
    enum rc rc = RC_OK;
    if (!cf) {
        rc = filter_load(c, filter_arn, generation, &cf, e);
        pthread_mutex_lock(&c->mu);
        for (size_t i = 0; i < c->nf; i++)
            if (strcmp(c->f[i]->arn, filter_arn) == 0) {
                filter_drop(c, i);
                break;
            }
        if (!rc) {
            if (c->nf == c->falloc) {
                c->falloc = c->falloc ? c->falloc * 2 : 8;
                c->f = xreallocarray(c->f, c->falloc, sizeof(*c->f));
            }
            cf->refs = 2; /* the table's and the caller's */
            c->f[c->nf++] = cf;
        }
        pthread_mutex_unlock(&c->mu);
    }
    pthread_mutex_unlock(&c->load_mu);
    if (rc) return rc;
    *out = cf;
    return RC_OK;
}

void model_cache_filter_put(struct model_cache *c, struct cached_filter *cf)
{
    if (!cf) return;
    pthread_mutex_lock(&c->mu);
    filter_unref(cf);
    pthread_mutex_unlock(&c->mu);
}

void model_cache_metadata_changed(struct model_cache *c)
{
    pthread_mutex_lock(&c->mu);
    c->generation++;
    pthread_mutex_unlock(&c->mu);
}

size_t model_cache_count(struct model_cache *c)
{
    pthread_mutex_lock(&c->mu);
    size_t n = c->n;
    pthread_mutex_unlock(&c->mu);
    return n;
}
