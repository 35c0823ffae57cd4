/*
 * control_tags.c: TagResource, UntagResource, ListTagsForResource on any
 * resource savor keeps (tags live in its attrs as {"tags": {key: value}}).
 */
#include "common/base.h"
#include "api/control_int.h"

static enum rc load(struct api_ctx *ctx, const char *arn, struct resource *r, struct api_error *err)
{
    struct err e = ERR_INIT;
    memset(r, 0, sizeof(*r));
    enum rc rc = store_resource_get(ctx->store, arn, r, &e);
    if (rc == RC_NOT_FOUND) return ctl_not_found(err, "The resource %s does not exist", arn);
    return rc ? ctl_from_err(err, &e) : RC_OK;
}

CTL_OP(TagResource)
{
    UNUSED(resp);
    json_t *add;
    enum rc rc = ctl_tags_from_request(req, &add, err);
    if (rc) return rc;
    struct resource r;
    ctl_lock(ctx);
    rc = load(ctx, ctl_str(req, "resourceArn"), &r, err);
    if (!rc) {
        json_t *a = ctl_attrs(&r);
        json_t *tags = json_object_get(a, "tags");
        if (!json_is_object(tags)) {
            tags = json_object();
            json_object_set_new(a, "tags", tags);
        }
        json_object_update(tags, add);
        if (json_object_size(tags) > CTL_MAX_TAGS) {
            err->status = 400;
            err->type = "TooManyTagsException";
            snprintf(err->message, sizeof(err->message),
                     "%s would have %zu tags; a resource can have at most %d", r.arn,
                     json_object_size(tags), CTL_MAX_TAGS);
            rc = RC_LIMIT_EXCEEDED;
            json_decref(a);
        } else {
            ctl_set_attrs(&r, a);
            rc = ctl_update(ctx, &r, err);
        }
    }
    ctl_unlock(ctx);
    json_decref(add);
    resource_release(&r);
    return rc;
}

CTL_OP(UntagResource)
{
    UNUSED(resp);
    struct resource r;
    ctl_lock(ctx);
    enum rc rc = load(ctx, ctl_str(req, "resourceArn"), &r, err);
    if (!rc) {
        json_t *a = ctl_attrs(&r);
        json_t *tags = json_object_get(a, "tags");
        size_t i;
        json_t *k;
        json_array_foreach(json_object_get(req, "tagKeys"), i, k)
            json_object_del(tags, json_string_value(k));
        ctl_set_attrs(&r, a);
        rc = ctl_update(ctx, &r, err);
    }
    ctl_unlock(ctx);
    resource_release(&r);
    return rc;
}

CTL_OP(ListTagsForResource)
{
    struct resource r;
    ctl_lock(ctx);
    enum rc rc = load(ctx, ctl_str(req, "resourceArn"), &r, err);
    ctl_unlock(ctx);
    if (rc) return rc;
    json_t *a = ctl_attrs(&r);
    json_t *list = json_array();
    const char *k;
    json_t *v;
    json_object_foreach(json_object_get(a, "tags"), k, v)
        json_array_append_new(list, json_pack("{s:s,s:O}", "tagKey", k, "tagValue", v));
    json_decref(a);
    resource_release(&r);
    *resp = json_pack("{s:o}", "tags", list);
    return RC_OK;
}
