/*
 * api.h: the contract between the HTTP server (src/server/) and the
 * Personalize operations (src/api/).
 *
 * The server parses a request, authenticates it, and hands the operation
 * name and the parsed JSON body to api_dispatch(). The handler validates
 * every field (botocore checks only types and required members), does the
 * work, and answers with a JSON body or an AWS error (type, HTTP status,
 * message). Handlers never see HTTP.
 */
#ifndef SAVOR_API_H
#define SAVOR_API_H

#include "common/base.h"
#include "common/buf.h"
#include "store/store.h"

#include <jansson.h>
#include <pthread.h>

/* An AWS error: body {"__type": type, "message": message}, header X-Amzn-ErrorType. */
struct api_error {
    int status;       /* HTTP status: 400 control plane; 404/409 runtime as botocore expects */
    const char *type; /* "InvalidInputException", "ResourceNotFoundException", ... (static) */
    char message[512];
};

/* Fill 'err' and return RC_INVALID_INPUT (or the rc matching the type). */
enum rc api_fail(struct api_error *err, int status, const char *type, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

struct jobs;         /* background imports, trainings and batch jobs (api/jobs.h) */
struct model_cache;  /* campaign -> loaded model (server/model_cache.h) */
struct event_writer; /* the durable PutEvents/PutItems/PutUsers writer (api/events.h) */

/* What every handler can reach. One per server, shared by all threads. */
struct api_ctx {
    struct store *store; /* the shared connection: hold store_mu while using it */
    pthread_mutex_t store_mu;
    const char *data_dir;
    /* Directories dataLocation / batch input and output paths must lie in (realpath'd). */
    char **allowed_paths;
    size_t nallowed;
    struct jobs *jobs;
    struct model_cache *models;
    struct event_writer *events; /* runtime_start() sets models, events, campaign_changed */
    /*
     * Called (with store_mu NOT held) after a campaign is created, updated
     * or deleted, so the server can load or swap its model. May be NULL.
     */
    void (*campaign_changed)(struct api_ctx *ctx, const char *campaign_arn);
};

/*
 * Resource records the planes share (store.h resources, attrs JSON):
 *   "campaign"      attrs {"solutionVersionArn", "minProvisionedTPS", "campaignConfig": {...},
 *                          "latestCampaignUpdate": {...}}; parent = solution
 *   "event-tracker" attrs {"trackingId", "datasetGroupArn"}; parent = dataset group
 *   "filter"        attrs {"filterExpression", "datasetGroupArn"}; parent = dataset group
 *   "solution-version" attrs gain "metrics": {"coverage": 0.1, "precision_at_10": ...}
 *                   (Personalize's metric names), written by training (src/eval/).
 */

/* Which of Personalize's three protocols an operation belongs to. */
enum api_plane { API_CONTROL, API_RUNTIME, API_EVENTS };

typedef enum rc (*api_handler)(struct api_ctx *ctx, const json_t *req, json_t **resp,
                               struct api_error *err);

/*
 * An operation that writes its answer as JSON text into 'out' itself (the
 * hot runtime path: no JSON tree to build and free), with the same
 * semantics and errors as its api_handler.
 */
typedef enum rc (*api_text_handler)(struct api_ctx *ctx, const json_t *req, struct buf *out,
                                    struct api_error *err);

struct api_op {
    const char *name; /* "CreateDatasetGroup", "GetRecommendations", "PutEvents", ... */
    enum api_plane plane;
    api_handler handler;
    api_text_handler text_handler; /* NULL: the server serializes handler's answer */
};

/* The operation named 'name' (as in X-Amz-Target after the '.'), or NULL. */
const struct api_op *api_find(const char *name);

#endif
