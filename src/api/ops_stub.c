/*
 * ops_stub.c: TEMPORARY stand-in for the operation table until branch
 * `control` lands src/api/ops.c; delete this file at that merge. Its echo
 * operations only exercise the server.
 */
#include "common/base.h"
#include "api/api.h"
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
    if (status == 404) return RC_NOT_FOUND;
    if (status == 409) return RC_IN_USE;
    return status >= 500 ? RC_INTERNAL : RC_INVALID_INPUT;
}

static enum rc echo(struct api_ctx *ctx, const json_t *req, json_t **resp, struct api_error *err)
{
    UNUSED(ctx);
    json_t *fail = json_object_get(req, "fail");
    if (json_is_string(fail)) {
        err->status = 400;
        err->type = json_string_value(fail)[0] == 'N' ? "ResourceNotFoundException"
                                                      : "InvalidInputException";
        if (err->type[0] == 'R') err->status = 404;
        snprintf(err->message, sizeof(err->message), "stub failure");
        return RC_INVALID_INPUT;
    }
    *resp = json_deep_copy(req);
    return RC_OK;
}

static const struct api_op ops[] = {
    {"ListRecipes", API_CONTROL, echo},
    {"GetRecommendations", API_RUNTIME, api_get_recommendations},
    {"GetPersonalizedRanking", API_RUNTIME, api_get_personalized_ranking},
    {"PutEvents", API_EVENTS, api_put_events},
    {"PutItems", API_EVENTS, api_put_items},
    {"PutUsers", API_EVENTS, api_put_users},
};

const struct api_op *api_find(const char *name)
{
    for (size_t i = 0; i < ARRAY_SIZE(ops); i++)
        if (strcmp(ops[i].name, name) == 0) return &ops[i];
    return NULL;
}
