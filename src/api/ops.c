/*
 * ops.c: the operations table: every Amazon Personalize operation name, its
 * protocol plane and its handler (api.h), and api_fail().
 *
 * Control-plane handlers are in control_*.c (declared in control.h); the
 * runtime and events handlers in the runtime module (runtime.h). Operations
 * of Personalize that savor does not offer (domain recommenders, metric
 * attributions, exports, batch segment jobs) are listed too and answer
 * UnsupportedOperationException (400), so a caller learns which it is.
 */
#include "common/base.h"
#include "api/api.h"
#include "api/control.h"
#include "api/events.h"
#include "api/runtime.h"

#include <stdarg.h>

enum rc api_fail(struct api_error *err, int status, const char *type, const char *fmt, ...)
{
    err->status = status;
    err->type = type;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->message, sizeof(err->message), fmt, ap);
    va_end(ap);
    if (strcmp(type, "ResourceNotFoundException") == 0) return RC_NOT_FOUND;
    if (strcmp(type, "ResourceAlreadyExistsException") == 0) return RC_ALREADY_EXISTS;
    if (strcmp(type, "ResourceInUseException") == 0) return RC_IN_USE;
    if (strcmp(type, "LimitExceededException") == 0 || strcmp(type, "TooManyTagsException") == 0)
        return RC_LIMIT_EXCEEDED;
    if (status >= 500) return RC_INTERNAL;
    return RC_INVALID_INPUT;
}

static enum rc unsupported(struct api_ctx *ctx, const json_t *req, json_t **resp,
                           struct api_error *err)
{
    UNUSED(ctx);
    UNUSED(req);
    UNUSED(resp);
    return api_fail(err, 400, "UnsupportedOperationException",
                    "savor does not offer this operation (see docs/api-compatibility.md)");
}

#define CONTROL_ENTRY(Op) {#Op, API_CONTROL, ctl_##Op, NULL},

static const struct api_op ops[] = {
    CONTROL_OPS(CONTROL_ENTRY)
    /* Runtime and events (src/api/runtime.h, src/api/events.h). */
    {"GetRecommendations", API_RUNTIME, api_get_recommendations, api_get_recommendations_text},
    {"GetPersonalizedRanking", API_RUNTIME, api_get_personalized_ranking, NULL},
    {"PutEvents", API_EVENTS, api_put_events, NULL},
    {"PutItems", API_EVENTS, api_put_items, NULL},
    {"PutUsers", API_EVENTS, api_put_users, NULL},

    /* Personalize operations savor does not offer. */
    {"CreateBatchSegmentJob", API_CONTROL, unsupported, NULL},
    {"DescribeBatchSegmentJob", API_CONTROL, unsupported, NULL},
    {"ListBatchSegmentJobs", API_CONTROL, unsupported, NULL},
    {"CreateDatasetExportJob", API_CONTROL, unsupported, NULL},
    {"DescribeDatasetExportJob", API_CONTROL, unsupported, NULL},
    {"ListDatasetExportJobs", API_CONTROL, unsupported, NULL},
    {"CreateMetricAttribution", API_CONTROL, unsupported, NULL},
    {"DeleteMetricAttribution", API_CONTROL, unsupported, NULL},
    {"DescribeMetricAttribution", API_CONTROL, unsupported, NULL},
    {"ListMetricAttributionMetrics", API_CONTROL, unsupported, NULL},
    {"ListMetricAttributions", API_CONTROL, unsupported, NULL},
    {"UpdateMetricAttribution", API_CONTROL, unsupported, NULL},
    {"CreateRecommender", API_CONTROL, unsupported, NULL},
    {"DeleteRecommender", API_CONTROL, unsupported, NULL},
    {"DescribeRecommender", API_CONTROL, unsupported, NULL},
    {"ListRecommenders", API_CONTROL, unsupported, NULL},
    {"StartRecommender", API_CONTROL, unsupported, NULL},
    {"StopRecommender", API_CONTROL, unsupported, NULL},
    {"UpdateRecommender", API_CONTROL, unsupported, NULL},
    {"DescribeFeatureTransformation", API_CONTROL, unsupported, NULL},
};

const struct api_op *api_find(const char *name)
{
    if (!name) return NULL;
    for (size_t i = 0; i < ARRAY_SIZE(ops); i++)
        if (strcmp(ops[i].name, name) == 0) return &ops[i];
    return NULL;
}
