/*
 * runtime.c: GetRecommendations and GetPersonalizedRanking.
 *
 * Each request checks its fields, takes a reference to the campaign's
 * loaded model (server/model_cache.h), answers from it without touching
 * the store, and gives the reference back. A recommendationId is a fresh
 * random "RID-<uuid>".
 */
#include "common/base.h"
#include "api/runtime.h"
#include "api/events.h"
#include "common/log.h"
#include "filter/filter.h"
#include "server/model_cache.h"

#include <sys/random.h>

#define NUM_RESULTS_DEFAULT 25
#define NUM_RESULTS_MAX     500
#define INPUT_LIST_MAX      500
#define CONTEXT_MAX         150

void openblas_set_num_threads(int num_threads);

/* ---- Serving state ---------------------------------------------------------- */

/* Load every campaign's model now, so that first requests do not wait for it. */
static void preload(struct api_ctx *ctx)
{
    struct resource *list = NULL;
    size_t n = 0;
    struct err e;
    pthread_mutex_lock(&ctx->store_mu);
    enum rc rc = store_resource_list(ctx->store, KIND_CAMPAIGN, 0, &list, &n, &e);
    pthread_mutex_unlock(&ctx->store_mu);
    if (rc) {
        log_warn("models", "listing campaigns: %s", e.msg);
        return;
    }
    for (size_t i = 0; i < n; i++) {
        struct campaign_model *cm;
        if (model_cache_get(ctx->models, list[i].arn, &cm, &e) == RC_OK)
            model_cache_put(ctx->models, cm);
        else
            log_warn("models", "%s", e.msg);
    }
    resource_list_free(list, n);
}

enum rc runtime_start(struct api_ctx *ctx, struct err *e)
{
    /*
     * Requests score on the server's own threads: one OpenBLAS thread per
     * call, rather than every request fanning out over all cores.
     */
    openblas_set_num_threads(1);
    enum rc rc = model_cache_new(ctx->data_dir, &ctx->models, e);
    if (rc) return rc;
    if ((rc = event_writer_start(ctx->data_dir, ctx->models, &ctx->events, e))) {
        model_cache_free(ctx->models);
        ctx->models = NULL;
        return rc;
    }
    ctx->campaign_changed = model_cache_campaign_changed;
    preload(ctx);
    return RC_OK;
}

void runtime_stop(struct api_ctx *ctx)
{
    event_writer_stop(ctx->events);
    ctx->events = NULL;
    ctx->campaign_changed = NULL;
    model_cache_free(ctx->models);
    ctx->models = NULL;
}

/* ---- Field checks ----------------------------------------------------------- */

static enum rc bad(struct api_error *err, const char *fmt, const char *a, const char *b)
{
    return api_fail(err, 400, "InvalidInputException", fmt, a, b);
}

/* An optional string member of at most 'max' bytes; NULL when absent. */
static enum rc opt_string(const json_t *req, const char *name, size_t max, const char **out,
                          struct api_error *err)
{
    const json_t *v = json_object_get(req, name);
    *out = NULL;
    if (!v || json_is_null(v)) return RC_OK;
    if (!json_is_string(v)) return bad(err, "%s must be a string%s", name, "");
    size_t len = json_string_length(v);
    if (len > max)
        return api_fail(err, 400, "InvalidInputException",
                        "%s must be at most %zu characters long (got %zu)", name, max, len);
    if (strlen(json_string_value(v)) != len)
        return bad(err, "%s must not contain NUL characters%s", name, "");
    /* Personalize treats an empty ID as absent. */
    *out = len ? json_string_value(v) : NULL;
    return RC_OK;
}

/* arn:PARTITION:personalize:REGION:ACCOUNT:RESOURCE, at most 256 characters. */
static enum rc check_arn(const char *name, const char *arn, struct api_error *err)
{
    const char *p = arn;
    bool ok = strncmp(p, "arn:", 4) == 0;
    if (ok) {
        p += 4;
        size_t part = strspn(p, "abcdefghijklmnopqrstuvwxyz0123456789-");
        ok = part > 0 && strncmp(p + part, ":personalize:", 13) == 0;
        p += part + (ok ? 13 : 0);
    }
    const char *c1 = ok ? strchr(p, ':') : NULL;
    const char *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
    if (!c2 || !c2[1])
        return api_fail(err, 400, "InvalidInputException", "%s '%.300s' is not a Personalize ARN",
                        name, arn);
    return RC_OK;
}

static bool context_key_valid(const char *k)
{
    size_t n = strlen(k);
    if (strcmp(k, RUNTIME_EXPLAIN_KEY) == 0) return true;
    if (n < 1 || n > 150) return false;
    return strspn(k, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_") == n;
}

/* Check 'context'; *explain is set when it asks for explanations. */
static enum rc check_context(const json_t *req, bool *explain, struct api_error *err)
{
    const json_t *ctx = json_object_get(req, "context");
    *explain = false;
    if (!ctx || json_is_null(ctx)) return RC_OK;
    if (!json_is_object(ctx)) return bad(err, "context must be a map of strings%s%s", "", "");
    if (json_object_size(ctx) > CONTEXT_MAX)
        return api_fail(err, 400, "InvalidInputException",
                        "context has %zu entries; the limit is %d", json_object_size(ctx),
                        CONTEXT_MAX);
    const char *k;
    const json_t *v;
    json_object_foreach((json_t *)ctx, k, v)
    {
        if (!context_key_valid(k))
            return bad(err, "context key '%.150s' must be 1 to 150 letters, digits or '_'%s", k,
                       "");
        if (!json_is_string(v) || json_string_length(v) > 1000)
            return bad(err, "context['%.150s'] must be a string of at most 1000 characters%s", k,
                       "");
        if (strcmp(k, RUNTIME_EXPLAIN_KEY) == 0) {
            const char *s = json_string_value(v);
            if (strcmp(s, "true") && strcmp(s, "false"))
                return bad(err, "context['%s'] must be \"true\" or \"false\"%s",
                           RUNTIME_EXPLAIN_KEY, "");
            *explain = strcmp(s, "true") == 0;
        }
    }
    return RC_OK;
}

/* filterArn and filterValues: checked here; evaluation belongs to the filter layer. */
static enum rc check_filter(const json_t *req, const char **filter_arn, struct api_error *err)
{
    enum rc rc = opt_string(req, "filterArn", 256, filter_arn, err);
    if (rc) return rc;
    if (*filter_arn && (rc = check_arn("filterArn", *filter_arn, err))) return rc;
    const json_t *fv = json_object_get(req, "filterValues");
    if (!fv || json_is_null(fv)) return RC_OK;
    if (!json_is_object(fv)) return bad(err, "filterValues must be a map of strings%s%s", "", "");
    if (json_object_size(fv) > 25)
        return api_fail(err, 400, "InvalidInputException",
                        "filterValues has %zu entries; the limit is 25", json_object_size(fv));
    const char *k;
    const json_t *v;
    json_object_foreach((json_t *)fv, k, v)
    {
        size_t n = strlen(k);
        if (n < 1 || n > 50 ||
            strspn(k, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_") != n)
            return bad(err, "filterValues key '%.50s' must be 1 to 50 letters, digits or '_'%s", k,
                       "");
        if (!json_is_string(v) || json_string_length(v) > 1000)
            return bad(err, "filterValues['%.50s'] must be a string of at most 1000 characters%s",
                       k, "");
    }
    if (!*filter_arn) return bad(err, "filterValues needs a filterArn%s%s", "", "");
    return RC_OK;
}

/* "RID-" and a random (version 4) UUID, into s (at least 41 bytes). */
static void recommendation_id_text(char *s, size_t size)
{
    uint8_t b[16];
    if (getrandom(b, sizeof(b), 0) != (ssize_t)sizeof(b)) {
        /* Not expected on Linux >= 3.17; a clock-derived id still differs per call. */
        static _Atomic uint64_t counter;
        uint64_t x = (uint64_t)time(NULL) ^ ((uint64_t)++counter << 32);
        for (int i = 0; i < 16; i++)
            b[i] = (uint8_t)(x >> (i % 8 * 8)) ^ (uint8_t)i;
    }
    b[6] = (uint8_t)((b[6] & 0x0f) | 0x40);
    b[8] = (uint8_t)((b[8] & 0x3f) | 0x80);
    static const char hex[] = "0123456789abcdef";
    size_t len = 0;
    memcpy(s, "RID-", 4);
    len = 4;
    for (int i = 0; i < 16 && len + 3 < size; i++) {
        if (i == 4 || i == 6 || i == 8 || i == 10) s[len++] = '-';
        s[len++] = hex[b[i] >> 4];
        s[len++] = hex[b[i] & 15];
    }
    s[len] = '\0';
}

static json_t *recommendation_id(void)
{
    char s[48];
    recommendation_id_text(s, sizeof(s));
    return json_string(s);
}

/* The campaign's model, or the AWS error for it. */
static enum rc campaign_get(struct api_ctx *ctx, const char *arn, struct campaign_model **out,
                            struct api_error *err)
{
    struct err e;
    enum rc rc = model_cache_get(ctx->models, arn, out, &e);
    if (rc == RC_NOT_FOUND) return api_fail(err, 404, "ResourceNotFoundException", "%s", e.msg);
    if (rc) return api_fail(err, 500, "InternalFailure", "%s", e.msg);
    return RC_OK;
}

/*
 * The bound filter of a request (NULL when it has none): the filter must
 * exist and belong to the campaign's dataset group.
 */
static enum rc filter_get(struct api_ctx *ctx, const struct campaign_model *cm,
                          const char *filter_arn, const json_t *req, struct cached_filter **cf,
                          struct filter_bound **fb, struct api_error *err)
{
    *cf = NULL;
    *fb = NULL;
    if (!filter_arn) return RC_OK;
    struct err e;
    enum rc rc = model_cache_filter_get(ctx->models, filter_arn, cf, &e);
    if (rc == RC_NOT_FOUND) return api_fail(err, 404, "ResourceNotFoundException", "%s", e.msg);
    if (rc) return api_fail(err, 400, "InvalidInputException", "%s", e.msg);
    const char *group = campaign_model_group_arn(cm);
    if (*group && strcmp(group, (*cf)->group_arn) != 0)
        rc = api_fail(err, 400, "InvalidInputException",
                      "filter %s belongs to dataset group %s, not to the campaign's (%s)",
                      filter_arn, (*cf)->group_arn, group);
    else if ((rc = filter_bind((*cf)->filter, json_object_get(req, "filterValues"), fb, &e)))
        rc = api_fail(err, 400, "InvalidInputException", "filterValues: %s", e.msg);
    if (rc) {
        model_cache_filter_put(ctx->models, *cf);
        *cf = NULL;
    }
    return rc;
}

static enum rc engine_error(enum rc rc, const struct err *e, struct api_error *err)
{
    if (rc == RC_INVALID_INPUT) return api_fail(err, 400, "InvalidInputException", "%s", e->msg);
    return api_fail(err, 500, "InternalFailure", "%s", e->msg);
}

/* ---- GetRecommendations ----------------------------------------------------- */

/*
 * The checks and the answer of GetRecommendations: *list from the campaign's
 * model, *cm a reference to it that the caller gives back
 * (model_cache_put()) once the list is written out.
 */
static enum rc get_recommendations(struct api_ctx *ctx, const json_t *req,
                                   struct campaign_model **cm_out, struct rec_list *list,
                                   struct api_error *err)
{
    if (!json_is_object(req))
        return api_fail(err, 400, "InvalidInputException", "the request must be a JSON object");
    const char *campaign, *recommender, *user, *item, *filter_arn;
    bool explain;
    enum rc rc;
    if ((rc = opt_string(req, "recommenderArn", 256, &recommender, err)) ||
        (rc = opt_string(req, "campaignArn", 256, &campaign, err)) ||
        (rc = opt_string(req, "userId", ID_MAX_LEN, &user, err)) ||
        (rc = opt_string(req, "itemId", ID_MAX_LEN, &item, err)) ||
        (rc = check_context(req, &explain, err)) || (rc = check_filter(req, &filter_arn, err)))
        return rc;
    if (recommender)
        return bad(
            err,
            "recommenderArn: savor has no domain recommenders; give the campaignArn of a campaign%s%s",
            "", "");
    if (!campaign) return bad(err, "campaignArn is required%s%s", "", "");
    if ((rc = check_arn("campaignArn", campaign, err))) return rc;
    const json_t *promotions = json_object_get(req, "promotions");
    if (promotions && !json_is_null(promotions) &&
        !(json_is_array(promotions) && json_array_size(promotions) == 0))
        return bad(err, "promotions are not supported by savor yet%s%s", "", "");
    size_t n = NUM_RESULTS_DEFAULT;
    const json_t *nr = json_object_get(req, "numResults");
    if (nr && !json_is_null(nr)) {
        if (!json_is_integer(nr)) return bad(err, "numResults must be an integer%s%s", "", "");
        json_int_t v = json_integer_value(nr);
        if (v < 1 || v > NUM_RESULTS_MAX)
            return api_fail(err, 400, "InvalidInputException",
                            "numResults must be between 1 and %d (got %lld)", NUM_RESULTS_MAX,
                            (long long)v);
        n = (size_t)v;
    }
    struct campaign_model *cm;
    if ((rc = campaign_get(ctx, campaign, &cm, err))) return rc;
    const struct recipe *r = model_recipe(cm->model);
    struct err e;
    if (r->kind == RECIPE_PERSONALIZED_RANKING)
        rc = bad(err, "campaign %s uses %s: call GetPersonalizedRanking with an inputList instead",
                 campaign, r->name);
    else if (r->kind == RECIPE_RELATED_ITEMS && !item)
        rc = bad(err, "itemId is required: campaign %s recommends items related to an item (%s)",
                 campaign, r->name);
    else if (r->kind != RECIPE_RELATED_ITEMS && !user)
        rc = bad(err, "userId is required: campaign %s recommends items for a user (%s)", campaign,
                 r->name);
    struct cached_filter *cf = NULL;
    struct filter_bound *fb = NULL;
    if (!rc && !(rc = filter_get(ctx, cm, filter_arn, req, &cf, &fb, err)) &&
        (rc = model_recommend_list(cm->model, user, item, n, explain, &cm->exploration, fb, list,
                                   &e)))
        rc = engine_error(rc, &e, err);
    filter_bound_free(fb);
    model_cache_filter_put(ctx->models, cf);
    if (rc) {
        model_cache_put(ctx->models, cm);
        return rc;
    }
    *cm_out = cm;
    return RC_OK;
}

enum rc api_get_recommendations(struct api_ctx *ctx, const json_t *req, json_t **resp,
                                struct api_error *err)
{
    struct campaign_model *cm;
    struct rec_list list;
    enum rc rc = get_recommendations(ctx, req, &cm, &list, err);
    if (rc) return rc;
    json_t *out = json_pack("{s:o}", "itemList", model_rec_list_json(cm->model, &list));
    rec_list_release(&list);
    model_cache_put(ctx->models, cm);
    json_object_set_new(out, "recommendationId", recommendation_id());
    *resp = out;
    return RC_OK;
}

enum rc api_get_recommendations_text(struct api_ctx *ctx, const json_t *req, struct buf *out,
                                     struct api_error *err)
{
    struct campaign_model *cm;
    struct rec_list list;
    enum rc rc = get_recommendations(ctx, req, &cm, &list, err);
    if (rc) return rc;
    char rid[48];
    recommendation_id_text(rid, sizeof(rid));
    /* Scores are float32: 9 significant digits print each exactly. */
    if ((rc = buf_addstr(out, "{\"itemList\":")) ||
        (rc = model_rec_list_text(cm->model, &list, 9, out)) ||
        (rc = buf_addstr(out, ",\"recommendationId\":\"")) || (rc = buf_addstr(out, rid)) ||
        (rc = buf_addstr(out, "\"}")))
        rc = api_fail(err, 500, "InternalFailure", "the answer could not be written (%s)",
                      rc_name(rc));
    rec_list_release(&list);
    model_cache_put(ctx->models, cm);
    return rc;
}

/* ---- GetPersonalizedRanking ------------------------------------------------- */

enum rc api_get_personalized_ranking(struct api_ctx *ctx, const json_t *req, json_t **resp,
                                     struct api_error *err)
{
    if (!json_is_object(req))
        return api_fail(err, 400, "InvalidInputException", "the request must be a JSON object");
    const char *campaign, *user, *filter_arn;
    bool explain;
    enum rc rc;
    if ((rc = opt_string(req, "campaignArn", 256, &campaign, err)) ||
        (rc = opt_string(req, "userId", ID_MAX_LEN, &user, err)) ||
        (rc = check_context(req, &explain, err)) || (rc = check_filter(req, &filter_arn, err)))
        return rc;
    if (!campaign) return bad(err, "campaignArn is required%s%s", "", "");
    if ((rc = check_arn("campaignArn", campaign, err))) return rc;
    if (!user) return bad(err, "userId is required%s%s", "", "");
    const json_t *list = json_object_get(req, "inputList");
    if (!list || json_is_null(list)) return bad(err, "inputList is required%s%s", "", "");
    if (!json_is_array(list)) return bad(err, "inputList must be a list of item IDs%s%s", "", "");
    size_t nitems = json_array_size(list);
    if (nitems < 1 || nitems > INPUT_LIST_MAX)
        return api_fail(err, 400, "InvalidInputException",
                        "inputList must hold 1 to %d item IDs (got %zu)", INPUT_LIST_MAX, nitems);
    const char **items = xcalloc(nitems, sizeof(*items));
    for (size_t k = 0; k < nitems; k++) {
        const json_t *v = json_array_get(list, k);
        size_t len = json_is_string(v) ? json_string_length(v) : 0;
        if (len < 1 || len > ID_MAX_LEN || strlen(json_string_value(v)) != len) {
            free(items);
            return api_fail(err, 400, "InvalidInputException",
                            "inputList[%zu] must be an item ID of 1 to %d characters", k,
                            ID_MAX_LEN);
        }
        items[k] = json_string_value(v);
    }
    struct campaign_model *cm;
    if ((rc = campaign_get(ctx, campaign, &cm, err))) {
        free(items);
        return rc;
    }
    const struct recipe *r = model_recipe(cm->model);
    struct err e;
    json_t *out = NULL;
    if (!r->score_user)
        rc = bad(err, "campaign %s uses %s, which cannot rank items for a user", campaign, r->name);
    struct cached_filter *cf = NULL;
    struct filter_bound *fb = NULL;
    if (!rc && !(rc = filter_get(ctx, cm, filter_arn, req, &cf, &fb, err)) &&
        (rc = model_rank(cm->model, user, items, nitems, explain, fb, &out, &e)))
        rc = engine_error(rc, &e, err);
    filter_bound_free(fb);
    model_cache_filter_put(ctx->models, cf);
    model_cache_put(ctx->models, cm);
    free(items);
    if (rc) return rc;
    json_object_set_new(out, "recommendationId", recommendation_id());
    *resp = out;
    return RC_OK;
}
