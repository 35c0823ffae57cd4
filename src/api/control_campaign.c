/*
 * control_campaign.c: campaigns (campaign/NAME), a deployed solution version.
 *
 * A campaign is ACTIVE as soon as its ACTIVE version's model opens; the
 * server loads models itself (ctx->campaign_changed is called after every
 * create, update and delete, without store_mu held). Record shape (api.h):
 * attrs {solutionVersionArn, minProvisionedTPS, campaignConfig,
 * latestCampaignUpdate}; parent = the solution.
 */
#include "common/base.h"
#include "api/control_int.h"
#include "common/clock.h"
#include "models/engine.h"

#include <math.h>

#define DEFAULT_EXPLORATION_WEIGHT "0.3"
#define DEFAULT_EXPLORATION_CUTOFF "30"

/* A decimal number in [lo, hi] (hi < 0: no upper bound) given as a string. */
static bool number_in(const char *s, double lo, double hi)
{
    char *end;
    double x = strtod(s, &end);
    return end != s && !*end && isfinite(x) && x >= lo && (hi < 0 || x <= hi);
}

/*
 * Check campaignConfig (may be NULL) and return the config to store: the
 * given one, with Personalize's exploration defaults for user-personalization
 * recipes when itemExplorationConfig is absent.
 */
static enum rc campaign_config(const json_t *cfg, const struct recipe *recipe, json_t **out,
                               struct api_error *err)
{
    json_t *c = cfg ? json_deep_copy(cfg) : json_object();
    json_t *x = json_object_get(c, "itemExplorationConfig");
    const char *k;
    json_t *v;
    json_object_foreach(x, k, v)
    {
        const char *s = json_string_value(v);
        bool ok;
        if (strcmp(k, "explorationWeight") == 0)
            ok = number_in(s, 0, 1);
        else if (strcmp(k, "explorationItemAgeCutOff") == 0)
            ok = number_in(s, 0, -1) && strtod(s, NULL) > 0;
        else {
            ctl_invalid(
                err,
                "campaignConfig.itemExplorationConfig.%s: unknown key (explorationWeight, explorationItemAgeCutOff)",
                k);
            json_decref(c); /* after the message: k points into it */
            return RC_INVALID_INPUT;
        }
        if (!ok) {
            ctl_invalid(err, "campaignConfig.itemExplorationConfig.%s: '%s' must be %s", k, s,
                        k[11] == 'W' ? "a number from 0 to 1" : "a number of days above 0");
            json_decref(c);
            return RC_INVALID_INPUT;
        }
    }
    if (x && recipe && recipe->kind != RECIPE_USER_PERSONALIZATION) {
        json_decref(c);
        return ctl_invalid(
            err,
            "campaignConfig.itemExplorationConfig applies to user-personalization recipes only, not %s",
            recipe->name);
    }
    if (!x && recipe && recipe->kind == RECIPE_USER_PERSONALIZATION)
        json_object_set_new(c, "itemExplorationConfig",
                            json_pack("{s:s,s:s}", "explorationWeight", DEFAULT_EXPLORATION_WEIGHT,
                                      "explorationItemAgeCutOff", DEFAULT_EXPLORATION_CUTOFF));
    *out = c;
    return RC_OK;
}

/* Load the ACTIVE version 'arn' (and its solution) and check its model opens. */
static enum rc usable_version(struct api_ctx *ctx, const char *arn, struct resource *ver,
                              struct resource *sol, const struct recipe **recipe,
                              struct api_error *err)
{
    enum rc rc = ctl_get(ctx, arn, KIND_SOLUTION_VERSION, "solution version", ver, err);
    if (rc) return rc;
    if (strcmp(ver->status, STATUS_ACTIVE) != 0) {
        rc = ctl_invalid(err, "solution version %s is %s; a campaign needs an ACTIVE version", arn,
                         ver->status);
        resource_release(ver);
        return rc;
    }
    struct err e = ERR_INIT;
    struct model *m = NULL;
    rc = store_resource_get_id(ctx->store, ver->parent_id, sol, &e);
    if (!rc) rc = model_open_version(ctx->store, arn, &m, &e);
    if (!rc) *recipe = model_recipe(m);
    model_close(m);
    if (rc) {
        resource_release(ver);
        resource_release(sol);
        return ctl_invalid(err, "solution version %s cannot be deployed: %s", arn, e.msg);
    }
    return RC_OK;
}

static json_t *campaign_json(const struct resource *r, bool full)
{
    json_t *o = json_object();
    ctl_common_fields(o, r, "campaignArn");
    if (!full) return o;
    json_t *a = ctl_attrs(r);
    static const char *const keys[] = {"solutionVersionArn", "minProvisionedTPS", "campaignConfig",
                                       "latestCampaignUpdate"};
    for (size_t i = 0; i < ARRAY_SIZE(keys); i++)
        if (json_object_get(a, keys[i])) json_object_set(o, keys[i], json_object_get(a, keys[i]));
    json_decref(a);
    return o;
}

static json_t *campaign_summary(const struct resource *r)
{
    return campaign_json(r, false);
}

static void notify(struct api_ctx *ctx, const char *arn)
{
    if (ctx->campaign_changed) ctx->campaign_changed(ctx, arn);
}

CTL_OP(CreateCampaign)
{
    const char *name = ctl_str(req, "name");
    json_t *tags;
    enum rc rc = ctl_tags_from_request(req, &tags, err);
    if (rc) return rc;
    struct resource ver = {0}, sol = {0}, r = {0};
    const struct recipe *recipe = NULL;
    json_t *cfg = NULL;
    ctl_lock(ctx);
    rc = usable_version(ctx, ctl_str(req, "solutionVersionArn"), &ver, &sol, &recipe, err);
    if (!rc) rc = campaign_config(json_object_get(req, "campaignConfig"), recipe, &cfg, err);
    if (!rc) {
        json_t *tps = json_object_get(req, "minProvisionedTPS");
        json_t *a = json_pack("{s:s,s:I,s:O,s:O}", "solutionVersionArn", ver.arn,
                              "minProvisionedTPS", (json_int_t)(tps ? json_integer_value(tps) : 1),
                              "campaignConfig", cfg, "tags", tags);
        ctl_resource_init(&r, store_arn(ctx->store, KIND_CAMPAIGN, name), KIND_CAMPAIGN, name,
                          sol.id, STATUS_ACTIVE, a);
        rc = ctl_insert(ctx, &r, "campaign", err);
    }
    ctl_unlock(ctx);
    if (!rc) {
        notify(ctx, r.arn);
        *resp = json_pack("{s:s}", "campaignArn", r.arn);
    }
    json_decref(tags);
    json_decref(cfg);
    resource_release(&ver);
    resource_release(&sol);
    resource_release(&r);
    return rc;
}

CTL_OP(DescribeCampaign)
{
    struct resource r;
    ctl_lock(ctx);
    enum rc rc = ctl_get(ctx, ctl_str(req, "campaignArn"), KIND_CAMPAIGN, "campaign", &r, err);
    ctl_unlock(ctx);
    if (rc) return rc;
    *resp = json_pack("{s:o}", "campaign", campaign_json(&r, true));
    resource_release(&r);
    return RC_OK;
}

CTL_OP(ListCampaigns)
{
    return ctl_list_page(ctx, req, KIND_CAMPAIGN, ctl_str(req, "solutionArn"), KIND_SOLUTION,
                         "solution", campaign_summary, "campaigns", resp, err);
}

CTL_OP(UpdateCampaign)
{
    struct resource r = {0}, ver = {0}, sol = {0};
    const struct recipe *recipe = NULL;
    json_t *a = NULL, *cfg = NULL;
    ctl_lock(ctx);
    enum rc rc = ctl_get(ctx, ctl_str(req, "campaignArn"), KIND_CAMPAIGN, "campaign", &r, err);
    if (!rc) {
        a = ctl_attrs(&r);
        const char *varn = ctl_str(req, "solutionVersionArn");
        if (!varn) varn = json_string_value(json_object_get(a, "solutionVersionArn"));
        rc = usable_version(ctx, varn ? varn : "", &ver, &sol, &recipe, err);
        if (!rc && sol.id != r.parent_id)
            rc = ctl_invalid(
                err,
                "solution version %s belongs to another solution than campaign %s's; create a new campaign for it",
                ver.arn, r.arn);
    }
    if (!rc) {
        const json_t *given = json_object_get(req, "campaignConfig");
        rc = campaign_config(given ? given : json_object_get(a, "campaignConfig"), recipe, &cfg,
                             err);
    }
    if (!rc) {
        json_t *tps = json_object_get(req, "minProvisionedTPS");
        if (tps) json_object_set(a, "minProvisionedTPS", tps);
        json_object_set_new(a, "solutionVersionArn", json_string(ver.arn));
        json_object_set(a, "campaignConfig", cfg);
        /* Personalize's record of the last update, finished at once here. */
        double now = clock_wall();
        json_object_set_new(a, "latestCampaignUpdate",
                            json_pack("{s:s,s:O,s:O,s:s,s:o,s:o}", "solutionVersionArn", ver.arn,
                                      "minProvisionedTPS", json_object_get(a, "minProvisionedTPS"),
                                      "campaignConfig", cfg, "status", STATUS_ACTIVE,
                                      "creationDateTime", ctl_time(now), "lastUpdatedDateTime",
                                      ctl_time(now)));
        ctl_set_attrs(&r, json_incref(a));
        rc = ctl_update(ctx, &r, err);
    }
    ctl_unlock(ctx);
    if (!rc) {
        notify(ctx, r.arn);
        *resp = json_pack("{s:s}", "campaignArn", r.arn);
    }
    json_decref(a);
    json_decref(cfg);
    resource_release(&r);
    resource_release(&ver);
    resource_release(&sol);
    return rc;
}

CTL_OP(DeleteCampaign)
{
    UNUSED(resp);
    struct resource r;
    ctl_lock(ctx);
    enum rc rc = ctl_get(ctx, ctl_str(req, "campaignArn"), KIND_CAMPAIGN, "campaign", &r, err);
    if (!rc) rc = ctl_delete(ctx, &r, err);
    ctl_unlock(ctx);
    if (!rc) notify(ctx, r.arn);
    resource_release(&r);
    return rc;
}
