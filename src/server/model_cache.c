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
#include "common/log.h"
#include "filter/filter.h"
#include "server/metrics.h"

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
    char *data_dir;
    struct cached_filter **f; /* under mu */
    size_t nf, falloc;
    uint64_t generation;      /* bumped by model_cache_metadata_changed(), under mu */
    uint64_t filter_compiles; /* under mu */
    /* The filter refresher, started with the first cached filter (under mu). */
    pthread_t refresher;
    bool refresher_started, stopping;
    pthread_cond_t wake; /* metadata changed, or stopping */
};

/* How often cached filters are checked against the store (a few indexed reads each). */
#define FILTER_RECHECK_SECONDS 1.0

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
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&c->wake, &ca);
    pthread_condattr_destroy(&ca);
    c->data_dir = xstrdup(data_dir);
    server_metrics_add("savor_filter_compiles_total", 0);
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
    pthread_mutex_lock(&c->mu);
    c->stopping = true;
    pthread_cond_signal(&c->wake);
    bool started = c->refresher_started;
    pthread_mutex_unlock(&c->mu);
    if (started) pthread_join(c->refresher, NULL);
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
    pthread_cond_destroy(&c->wake);
    free(c->data_dir);
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

/* Index of filter 'arn' in the table, or c->nf (mu held). */
static size_t filter_find(const struct model_cache *c, const char *arn)
{
    for (size_t i = 0; i < c->nf; i++)
        if (strcmp(c->f[i]->arn, arn) == 0) return i;
    return c->nf;
}

/* Drop filter i from the table (mu held). */
static void filter_drop(struct model_cache *c, size_t i)
{
    filter_unref(c->f[i]);
    c->f[i] = c->f[--c->nf];
}

/* Read filter 'arn' and its dataset group; RC_NOT_FOUND when it is gone or failed. */
static enum rc filter_read(struct store *s, const char *arn, struct resource *r, json_t **attrs,
                           struct resource *g, struct err *e)
{
    enum rc rc = store_resource_get(s, arn, r, e);
    if (rc == RC_NOT_FOUND ||
        (!rc && (strcmp(r->kind, KIND_FILTER) != 0 || strstr(r->status, "FAILED") ||
                 strncmp(r->status, "DELETE", 6) == 0)))
        return err_set(e, RC_NOT_FOUND, "filter %s does not exist", arn);
    if (rc) return rc;
    *attrs = json_loads(r->attrs, 0, NULL);
    const char *group = json_string_value(json_object_get(*attrs, "datasetGroupArn"));
    if (!group || !json_string_value(json_object_get(*attrs, "filterExpression")))
        return err_set(e, RC_INVALID_INPUT, "filter %s has no expression or dataset group", arn);
    rc = store_resource_get(s, group, g, e);
    if (rc == RC_NOT_FOUND)
        return err_set(e, RC_NOT_FOUND, "filter %s: its dataset group %s does not exist", arn,
                       group);
    return rc;
}

/* Read and compile filter 'arn' through 's' (the caller owns 's' for the call). */
static enum rc filter_load(struct model_cache *c, struct store *s, const char *arn,
                           struct cached_filter **out, struct err *e)
{
    struct resource r = {0}, g = {0};
    json_t *a = NULL;
    struct filter_ast *ast = NULL;
    struct filter *f = NULL;
    struct filter_inputs src;
    enum rc rc = filter_read(s, arn, &r, &a, &g, e);
    /* The inputs first: a change during the compile is then seen by the next check. */
    if (!rc) rc = filter_inputs_read(s, &g, &src, e);
    if (!rc) {
        const char *text = json_string_value(json_object_get(a, "filterExpression"));
        if (!(rc = filter_parse(text, strlen(text), &ast, e)))
            rc = filter_compile(s, &g, ast, &f, e);
    }
    if (!rc) {
        filter_inputs_keep_used(f, &src);
        struct cached_filter *cf = xcalloc(1, sizeof(*cf));
        cf->arn = xstrdup(arn);
        cf->group_arn = xstrdup(json_string_value(json_object_get(a, "datasetGroupArn")));
        cf->filter = f;
        cf->resource_id = r.id;
        cf->inputs = src;
        *out = cf;
        pthread_mutex_lock(&c->mu);
        c->filter_compiles++;
        pthread_mutex_unlock(&c->mu);
        server_metrics_add("savor_filter_compiles_total", 1);
    }
    json_decref(a);
    resource_release(&r);
    resource_release(&g);
    return rc;
}

/* Put 'cf' in the table in place of any entry for its ARN (mu held; takes one reference). */
static void filter_install(struct model_cache *c, struct cached_filter *cf)
{
    size_t i = filter_find(c, cf->arn);
    if (i < c->nf) {
        filter_unref(c->f[i]);
        c->f[i] = cf;
        return;
    }
    if (c->nf == c->falloc) {
        c->falloc = c->falloc ? c->falloc * 2 : 8;
        c->f = xreallocarray(c->f, c->falloc, sizeof(*c->f));
    }
    c->f[c->nf++] = cf;
}

/*
 * Whether cached filter 'cf' is still current, through the refresher's
 * store 's': RC_OK with *stale set when its resource or sources changed,
 * RC_NOT_FOUND when it is gone.
 */
static enum rc filter_check(struct store *s, const struct cached_filter *cf, bool *stale,
                            struct err *e)
{
    struct resource r = {0}, g = {0};
    json_t *a = NULL;
    struct filter_inputs src;
    enum rc rc = filter_read(s, cf->arn, &r, &a, &g, e);
    if (!rc) rc = filter_inputs_read(s, &g, &src, e);
    if (!rc) filter_inputs_keep_used(cf->filter, &src);
    if (!rc)
        *stale = r.id != cf->resource_id || memcmp(&src, &cf->inputs, sizeof(src)) != 0 ||
                 strcmp(g.arn, cf->group_arn) != 0;
    json_decref(a);
    resource_release(&r);
    resource_release(&g);
    return rc;
}

/* Check one cached filter and drop or replace it (the refresher, which owns 's'). */
static void filter_refresh(struct model_cache *c, struct store *s, struct cached_filter *cf)
{
    struct err e;
    bool stale = false;
    struct cached_filter *fresh = NULL;
    enum rc rc = filter_check(s, cf, &stale, &e);
    if (!rc && stale) {
        rc = filter_load(c, s, cf->arn, &fresh, &e);
        if (rc == RC_OK)
            log_info("filters", "filter %s: compiled again (its data changed)", cf->arn);
    }
    if (rc && rc != RC_NOT_FOUND) {
        log_warn("filters", "filter %s: keeping the compiled filter it had: %s", cf->arn, e.msg);
        return;
    }
    pthread_mutex_lock(&c->mu);
    size_t i = filter_find(c, cf->arn);
    /* Only the entry this check was about (a request may have installed another since). */
    if (i < c->nf && c->f[i] == cf) {
        if (rc == RC_NOT_FOUND) {
            filter_drop(c, i);
        } else if (fresh) {
            fresh->refs = 1;
            filter_install(c, fresh);
            fresh = NULL;
        }
    }
    pthread_mutex_unlock(&c->mu);
    if (fresh) {
        fresh->refs = 1;
        filter_unref(fresh);
    }
}

/* A deadline 'seconds' from now on CLOCK_MONOTONIC (the clock of c->wake). */
static struct timespec deadline_in(double seconds)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    double ns = (double)t.tv_nsec + seconds * 1e9;
    t.tv_sec += (time_t)(ns / 1e9);
    t.tv_nsec = (long)fmod(ns, 1e9);
    return t;
}

/*
 * The refresher thread: every FILTER_RECHECK_SECONDS, or at once on a
 * metadata change or shutdown, it checks each cached filter through its own
 * store connection, so neither requests nor model loads wait for it.
 */
static void *filter_refresher(void *arg)
{
    struct model_cache *c = arg;
    struct store *s = NULL;
    pthread_mutex_lock(&c->mu);
    uint64_t seen = c->generation;
    while (!c->stopping) {
        struct timespec until = deadline_in(FILTER_RECHECK_SECONDS);
        int w = 0;
        while (!c->stopping && seen == c->generation && w != ETIMEDOUT)
            w = pthread_cond_timedwait(&c->wake, &c->mu, &until);
        if (c->stopping) break;
        seen = c->generation;
        size_t n = c->nf;
        struct cached_filter **v = xcalloc(n ? n : 1, sizeof(*v));
        for (size_t i = 0; i < n; i++) {
            v[i] = c->f[i];
            v[i]->refs++;
        }
        pthread_mutex_unlock(&c->mu);
        struct err e;
        if (!s && n && store_open(c->data_dir, &s, &e)) {
            log_warn("filters", "cannot check filters for changes: %s", e.msg);
            s = NULL;
        }
        for (size_t i = 0; s && i < n; i++)
            filter_refresh(c, s, v[i]);
        pthread_mutex_lock(&c->mu);
        for (size_t i = 0; i < n; i++)
            filter_unref(v[i]);
        free(v);
    }
    pthread_mutex_unlock(&c->mu);
    store_close(s);
    return NULL;
}

/* A reference to the cached filter (mu held). */
static struct cached_filter *filter_lookup(struct model_cache *c, const char *arn)
{
    size_t i = filter_find(c, arn);
    if (i == c->nf) return NULL;
    c->f[i]->refs++;
    return c->f[i];
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
    cf = filter_lookup(c, filter_arn); /* another request may have compiled it meanwhile */
    pthread_mutex_unlock(&c->mu);
    enum rc rc = RC_OK;
    if (!cf && !(rc = filter_load(c, c->store, filter_arn, &cf, e))) {
        pthread_mutex_lock(&c->mu);
        cf->refs = 2; /* the table's and the caller's */
        filter_install(c, cf);
        if (!c->refresher_started && !c->stopping &&
            pthread_create(&c->refresher, NULL, filter_refresher, c) == 0)
            c->refresher_started = true;
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
    pthread_cond_signal(&c->wake);
    pthread_mutex_unlock(&c->mu);
}

uint64_t model_cache_filter_compiles(struct model_cache *c)
{
    pthread_mutex_lock(&c->mu);
    uint64_t n = c->filter_compiles;
    pthread_mutex_unlock(&c->mu);
    return n;
}

size_t model_cache_count(struct model_cache *c)
{
    pthread_mutex_lock(&c->mu);
    size_t n = c->n;
    pthread_mutex_unlock(&c->mu);
    return n;
}
