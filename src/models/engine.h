/*
 * engine.h: training solution versions and answering from them.
 *
 * engine_train() turns a dataset group into a solution version: it loads
 * the weighted interactions (weighting.h), trains the recipe, writes a
 * model file under DATA_DIR/models/ and records the solution and version
 * as Personalize resources (CREATE IN_PROGRESS, then ACTIVE or CREATE
 * FAILED with a reason). A model file holds everything needed to answer:
 * the ID maps, users' training histories, item popularity and the
 * recipe's own sections.
 *
 * model_recommend() and model_rank() answer as GetRecommendations and
 * GetPersonalizedRanking do, in their JSON shapes.
 */
#ifndef SAVOR_ENGINE_H
#define SAVOR_ENGINE_H

#include "common/base.h"
#include "common/buf.h"
#include "filter/filter.h"
#include "models/params.h"
#include "models/recipe.h"
#include "store/store.h"

#include <jansson.h>
#include <signal.h>

#define KIND_SOLUTION         "solution"
#define KIND_SOLUTION_VERSION "solution-version" /* ARN: solution/NAME/ID */

struct train_request {
    const char *group;    /* dataset group name */
    const char *recipe;   /* name or ARN; NULL with performAutoML */
    const char *solution; /* solution name; NULL = "<group>-<recipe>" */
    /*
     * Hyperparameters and solution settings as key=value: the recipe's own
     * (or Personalize's names for them), plus eventType, eventValueThreshold,
     * useEventValues, recencyHalfLifeDays and eventWeight.<TYPE>, and the
     * evaluation settings (eval/training.h, docs/evaluation.md): evaluation,
     * evaluationSplit, evaluationCutoff, performHPO, hpoConfig (JSON text),
     * performAutoML, autoMLConfig (JSON text).
     */
    const struct param_kv *kv;
    size_t nkv;
    int threads; /* 0 = all CPUs */
    /*
     * Personalize's CreateSolution fields, for callers that have them apart
     * (the API): the same as the kv keys of the same names. JSON texts; NULL
     * for none.
     */
    bool perform_hpo, perform_automl;
    const char
        *hpo_config; /* {"hpoObjective", "hpoResourceConfig", "algorithmHyperParameterRanges"} */
    const char *automl_config; /* {"metricName", "recipeList"} */
    /*
     * trainingMode UPDATE (aws-user-personalization): start from the
     * solution's latest ACTIVE version and refine it on the current data
     * (new interactions and items) in a fifth of the iterations.
     */
    bool update;
    /*
     * The version to train into, already recorded CREATE PENDING by its
     * creator (the API answers with its ARN before training starts); NULL
     * to record a new one. Its solution must be 'solution' with this recipe.
     * Cancelled (below), such a version ends CREATE STOPPED, not CREATE FAILED.
     */
    const char *version_arn;
    /* Set (from a signal handler) to cancel: the version ends CREATE FAILED. May be NULL. */
    const volatile sig_atomic_t *cancel;
    FILE *progress; /* where to draw progress on a terminal; NULL for none */
};

/*
 * Mark versions left CREATE IN_PROGRESS by a training process that no longer
 * runs (killed, crashed) as CREATE FAILED with the reason, so that none stays
 * in progress forever. engine_train() does this first; so does describe.
 */
enum rc engine_recover(struct store *s, struct err *e);

/*
 * Train; on success *version_arn (caller frees) names the ACTIVE version,
 * whose attrs hold "metrics" (Personalize's names) or a "metricsNote"
 * saying why there are none, and, as asked, "tunedHPOParams" with
 * "hpoTrials", or "autoMLResult" with "autoMLTrials".
 */
enum rc engine_train(struct store *s, const struct train_request *r, char **version_arn,
                     struct err *e);

/*
 * Items x categorical values of the group's ITEMS dataset ("GENRES=romance",
 * 1 where the item has it), for recipes with uses_item_metadata; an empty
 * matrix without an ITEMS dataset. Caller frees with csr_free().
 */
enum rc engine_item_features(struct store *s, const struct resource *group, uint32_t nitems,
                             struct csr **out, struct err *e);

/*
 * Split key=value pairs into the solution's event weighting (eventType,
 * eventValueThreshold, useEventValues, recencyHalfLifeDays, eventWeight.T)
 * and the rest (hyperparameters, into 'rest', room for n); 'config' (may
 * be NULL) records the settings taken.
 */
enum rc engine_weighting_settings(const struct param_kv *kv, size_t n, struct weighting *w,
                                  struct param_kv *rest, size_t *nrest, json_t *config,
                                  struct err *e);

struct model;

/*
 * Open the model of solution version 'arn' (must be ACTIVE). The events
 * recorded after training (interaction chunks after the model's last one)
 * are read once, into an in-memory index by user; 's' is not kept.
 *
 * Thread safety: model_recommend() and model_rank() may run on any number
 * of threads at once, and concurrently with model_add_events() and
 * model_catch_up(); only model_close() needs the model to be idle.
 */
enum rc model_open_version(struct store *s, const char *arn, struct model **out, struct err *e);
void model_close(struct model *m);
const struct recipe *model_recipe(const struct model *m);
/* The name of the dataset group the model was trained on (caller frees), or NULL. */
char *model_dataset_group(const struct model *m);
uint32_t model_item_count(const struct model *m);

/*
 * The INTERACTIONS dataset whose new events the model folds in (0 when it
 * does not: the dataset is gone or was replaced by a FULL import since).
 */
int64_t model_dataset_id(const struct model *m);

/*
 * Fold in events just committed to 'dataset_id' as chunk c->id (PutEvents):
 * c's user, item and event-type indexes are the group's, user_ids[k] names
 * row k's user. Ignored unless the dataset is the model's, and when the
 * chunk was already read (c->id not newer than the newest chunk folded in).
 */
void model_add_events(struct model *m, int64_t dataset_id, const struct interaction_chunk *c,
                      const char *const *user_ids);

/*
 * Fold in the chunks appended since the newest one folded in (by imports,
 * or by another process), unless a FULL import replaced the dataset.
 */
enum rc model_catch_up(struct model *m, struct store *s, struct err *e);

/*
 * Items of group 'group_id' written after training (PutItems): those the
 * model does not know become exploration candidates (score 0, "reason":
 * ["Exploration"]); created[k] is CREATION_TIMESTAMP or -1. They get scores
 * and neighbours only from a new training. The model reads such rows of the
 * ITEMS dataset at open too.
 */
void model_add_items(struct model *m, int64_t group_id, const char *const *ids,
                     const int64_t *created, size_t n);
/* Items the model knows only from after training (see model_add_items). */
size_t model_fresh_items(struct model *m);

/* Events recorded after training that the model holds in memory. */
uint64_t model_recent_events(struct model *m);

/*
 * GetRecommendations: for 'user_id' (user recipes) or 'item_id' (related
 * items), the top 'n' items as {"itemList": [{"itemId", "score"[, "reason"]}]}.
 * With 'explain', each item carries "explanation": the history items that
 * contributed most, with their shares of the score. 'x' (may be NULL) asks
 * for exploration: some slots go to new, little-seen items, marked
 * "reason": ["Exploration"].
 */
/* Personalize's itemExplorationConfig. */
struct exploration {
    double weight;          /* explorationWeight, 0..1; 0 = none */
    double age_cutoff_days; /* explorationItemAgeCutOff */
};

/*
 * 'filter' (may be NULL) is a bound filter (filter/filter.h): only the items
 * it allows are candidates, during top-k selection, so the list is still
 * complete when enough items pass. For related items, 'user_id' (may be
 * NULL) serves the filter's interaction and CurrentUser conditions.
 */
enum rc model_recommend(struct model *m, const char *user_id, const char *item_id, size_t n,
                        bool explain, const struct exploration *x,
                        const struct filter_bound *filter, json_t **out, struct err *e);

/* Why an item is in a list: Personalize's "reason" (none for a scored item). */
enum rec_reason { REC_SCORED, REC_EXPLORATION, REC_POPULAR };

/* One entry of a recommendation list. */
struct rec_item {
    uint32_t item; /* the model's index; from model_item_count() on, an item added after training */
    float score;
    enum rec_reason reason;
    json_t *explanation; /* owned; NULL unless asked for */
};

/* A recommendation list: v[0..n), best first; owned (rec_list_release()). */
struct rec_list {
    struct rec_item *v;
    size_t n;
};

void rec_list_release(struct rec_list *l);

/*
 * model_recommend()'s answer as a list, without building JSON: the server
 * writes it as text (model_rec_list_text()). On failure *out is empty.
 */
enum rc model_recommend_list(struct model *m, const char *user_id, const char *item_id, size_t n,
                             bool explain, const struct exploration *x,
                             const struct filter_bound *filter, struct rec_list *out,
                             struct err *e);

/*
 * The list's "itemList" array, as model_recommend() has it: as JSON text
 * appended to b (scores with 'precision' significant digits; see
 * common/json_text.h), or as a new JSON array (caller owns it).
 */
enum rc model_rec_list_text(struct model *m, const struct rec_list *l, int precision,
                            struct buf *b);
json_t *model_rec_list_json(struct model *m, const struct rec_list *l);

/*
 * How many per-filter indexes the model has built (the top-k's index of just
 * the items a recurring filter verdict allows; see engine.c index_for()).
 */
size_t model_filter_indexes(struct model *m);

/* Item 'item''s ID (a rec_item's) as a JSON string appended to b. */
enum rc model_item_id_text(struct model *m, uint32_t item, struct buf *b);

/*
 * model_recommend_list() for many users at once (batch inference): user i's
 * answer goes to outs[i] (ok[i] true; the caller releases it), or ok[i]
 * false with the reason in errs[i]. With AVX-512
 * VNNI, user by user through the int8 top-k, which reads a fraction of the
 * catalog per user. Otherwise recipes with a vector form (recipe.h:
 * item_vectors, user_vector) score 256 users per matrix product, a block
 * of items at a time, each user's top-k scanning the block while it is in
 * cache; the answers are model_recommend()'s (the same items, scores up to
 * float rounding). 'filters' (may be NULL) holds one bound filter (or NULL)
 * per user. Returns RC_OK; failures are per user.
 */
enum rc model_recommend_many(struct model *m, const char *const *user_ids, size_t nusers, size_t n,
                             const struct exploration *x, const struct filter_bound *const *filters,
                             struct rec_list *outs, bool *ok, struct err *errs);

/*
 * GetPersonalizedRanking: 'items' reordered for 'user_id'; items the model
 * does not know go last, without a score. Items 'filter' (may be NULL)
 * does not allow are left out, as Personalize does.
 */
enum rc model_rank(struct model *m, const char *user_id, const char *const *items, size_t nitems,
                   bool explain, const struct filter_bound *filter, json_t **out, struct err *e);

#endif
