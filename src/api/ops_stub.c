/*
 * ops_stub.c: TEMPORARY stand-in for the operation table until branch
 * `control` lands src/api/ops.c; delete this file at that merge. Its echo
 * operations only exercise the server.
 */
#include "common/base.h"
#include "api/api.h"

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
    {"GetRecommendations", API_RUNTIME, echo},
    {"PutEvents", API_EVENTS, echo},
};

const struct api_op *api_find(const char *name)
{
    for (size_t i = 0; i < ARRAY_SIZE(ops); i++)
        if (strcmp(ops[i].name, name) == 0) return &ops[i];
    return NULL;
}
