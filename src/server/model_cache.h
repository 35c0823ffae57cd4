/*
 * model_cache.h: campaign ARN -> the loaded model that answers for it.
 *
 * Requests take a reference (model_cache_get) and give it back
 * (model_cache_put). When a campaign changes (api_ctx.campaign_changed:
 * created, updated, deleted), the new model is loaded first and then
 * swapped in; a request that still holds the old one finishes with it,
 * and the last reference closes it. So UpdateCampaign never fails a
 * request in flight.
 *
 * The cache also routes events to the models: model_cache_add_events()
 * (called by the event writer after each commit) and model_cache_catch_up()
 * (chunks appended by imports). Loads and feeds are serialized, so every
 * committed event reaches every model exactly once.
 */
#ifndef SAVOR_MODEL_CACHE_H
#define SAVOR_MODEL_CACHE_H

#include "common/base.h"
#include "api/api.h"
#include "filter/filter.h"
#include "models/engine.h"
#include "store/store.h"

#define KIND_CAMPAIGN "campaign"

/* Personalize's defaults for itemExplorationConfig (user-personalization). */
#define CAMPAIGN_DEFAULT_EXPLORATION_WEIGHT 0.3
#define CAMPAIGN_DEFAULT_EXPLORATION_AGE    30.0

/* One loaded campaign; everything in it is read-only while referenced. */
struct campaign_model {
    char *campaign_arn;
    char *version_arn;
    struct model *model;
    struct exploration exploration; /* the campaign's itemExplorationConfig */
    char *group_arn;                /* the dataset group of its solution */
    int refs;                       /* guarded by the cache */
};

/*
 * A cache over the data directory 'data_dir'. It opens its own store
 * connection for loading models, so loads never hold api_ctx.store_mu.
 */
enum rc model_cache_new(const char *data_dir, struct model_cache **out, struct err *e);
/* Close every model; no reference may be outstanding. */
void model_cache_free(struct model_cache *c);

/*
 * A reference to the model of 'campaign_arn', loading it on first use.
 * RC_NOT_FOUND (message in 'e') for a campaign that does not exist or has
 * failed; other codes when its model cannot be opened. Release with
 * model_cache_put().
 */
enum rc model_cache_get(struct model_cache *c, const char *campaign_arn,
                        struct campaign_model **out, struct err *e);
void model_cache_put(struct model_cache *c, struct campaign_model *cm);

/*
 * Reload the campaign from the store and swap it in (or drop it when it is
 * gone). Returns the load error, if any; the old model then stays.
 */
enum rc model_cache_reload(struct model_cache *c, const char *campaign_arn, struct err *e);

/* api_ctx.campaign_changed: model_cache_reload() on ctx->models, errors logged. */
void model_cache_campaign_changed(struct api_ctx *ctx, const char *campaign_arn);

/* Give committed events (chunk c->id of 'dataset_id') to every loaded model. */
void model_cache_add_events(struct model_cache *c, int64_t dataset_id,
                            const struct interaction_chunk *c_rows, const char *const *user_ids);

/* Give items just written to group 'group_id' (PutItems) to every loaded model. */
void model_cache_add_items(struct model_cache *c, int64_t group_id, const char *const *ids,
                           const int64_t *created, size_t n);

/* Fold chunks appended by others (imports) into every loaded model, through 's'. */
void model_cache_catch_up(struct model_cache *c, struct store *s);

/*
 * A compiled filter (filter/filter.h) by its ARN, shared by requests:
 * compiled on first use (that request waits for it), then served from the
 * cache. A background thread (its own store connection) checks the cached
 * filters at most every FILTER_RECHECK_SECONDS, and at once after
 * model_cache_metadata_changed(): a filter that is gone is dropped; one whose
 * sources changed (filter_inputs_read: the group's Items/Users metadata
 * versions and ID map sizes, which imports by other processes move too) is
 * compiled again and swapped in, while requests keep the old one until then.
 * RC_NOT_FOUND for a filter that does not exist. Release with
 * model_cache_filter_put().
 */
struct cached_filter {
    char *arn;
    char *group_arn; /* the dataset group it filters */
    struct filter *filter;
    int64_t resource_id;         /* of the filter resource it was compiled from */
    struct filter_inputs inputs; /* what it was compiled from */
    int refs;
};
enum rc model_cache_filter_get(struct model_cache *c, const char *filter_arn,
                               struct cached_filter **out, struct err *e);
void model_cache_filter_put(struct model_cache *c, struct cached_filter *cf);
/* Item or user metadata changed (PutItems, PutUsers): check the filters now. */
void model_cache_metadata_changed(struct model_cache *c);
/* Filters compiled so far (first uses and recompiles); also savor_filter_compiles_total. */
uint64_t model_cache_filter_compiles(struct model_cache *c);

/* The dataset group ARN of a loaded campaign's model (borrowed; "" when unknown). */
const char *campaign_model_group_arn(const struct campaign_model *cm);

/* Number of models loaded (for /metrics). */
size_t model_cache_count(struct model_cache *c);

#endif
