/*
 * control_filter.c: filters (filter/NAME): a stored filter expression per
 * dataset group; attrs {"filterExpression", "datasetGroupArn"}.
 *
 * CreateFilter parses the expression and checks its fields against the
 * group's schemas (filter/filter.h); the runtime and batch jobs evaluate it.
 */
#include "common/base.h"
#include "api/control_int.h"
#include "filter/filter.h"


/* Parse, then check the fields against the group's datasets (filter/filter.h). */
static enum rc filter_expression_check(struct api_ctx *ctx, const struct resource *group,
                                       const char *expr, struct api_error *err)
{
    struct filter_ast *ast = NULL;
    struct err e = ERR_INIT;
    enum rc rc = filter_parse(expr, strlen(expr), &ast, &e);
    if (!rc) rc = filter_validate(ctx->store, group, ast, &e);
    filter_ast_free(ast);
    return rc ? ctl_invalid(err, "filterExpression: %s", e.msg) : RC_OK;
}

static json_t *filter_json(const struct resource *r, bool full)
{
    json_t *o = json_object();
    ctl_common_fields(o, r, "filterArn");
    json_t *a = ctl_attrs(r);
    json_object_set(o, "datasetGroupArn", json_object_get(a, "datasetGroupArn"));
    if (full) json_object_set(o, "filterExpression", json_object_get(a, "filterExpression"));
    json_decref(a);
    return o;
}

static json_t *filter_summary(const struct resource *r)
{
    return filter_json(r, false);
}

CTL_OP(CreateFilter)
{
    const char *name = ctl_str(req, "name"), *expr = ctl_str(req, "filterExpression");
    json_t *tags;
    enum rc rc = ctl_tags_from_request(req, &tags, err);
    if (rc) return rc;
    struct resource group = {0}, r = {0};
    struct resource *list = NULL;
    size_t n = 0;
    ctl_lock(ctx);
    rc = ctl_get(ctx, ctl_str(req, "datasetGroupArn"), KIND_DATASET_GROUP, "dataset group", &group,
                 err);
    if (!rc) rc = filter_expression_check(ctx, &group, expr, err);
    if (!rc) rc = ctl_list(ctx, KIND_FILTER, group.id, &list, &n, err);
    if (!rc && n >= CTL_MAX_FILTERS)
        rc = ctl_limit(err, "dataset group %s already has %zu filters (at most %d)", group.arn, n,
                       CTL_MAX_FILTERS);
    if (!rc) {
        json_t *a = json_pack("{s:s,s:s,s:O}", "filterExpression", expr, "datasetGroupArn",
                              group.arn, "tags", tags);
        ctl_resource_init(&r, store_arn(ctx->store, KIND_FILTER, name), KIND_FILTER, name, group.id,
                          STATUS_ACTIVE, a);
        rc = ctl_insert(ctx, &r, "filter", err);
    }
    ctl_unlock(ctx);
    if (!rc) *resp = json_pack("{s:s}", "filterArn", r.arn);
    json_decref(tags);
    resource_list_free(list, n);
    resource_release(&group);
    resource_release(&r);
    return rc;
}

CTL_OP(DescribeFilter)
{
    struct resource r;
    ctl_lock(ctx);
    enum rc rc = ctl_get(ctx, ctl_str(req, "filterArn"), KIND_FILTER, "filter", &r, err);
    ctl_unlock(ctx);
    if (rc) return rc;
    *resp = json_pack("{s:o}", "filter", filter_json(&r, true));
    resource_release(&r);
    return RC_OK;
}

CTL_OP(ListFilters)
{
    return ctl_list_page(ctx, req, KIND_FILTER, ctl_str(req, "datasetGroupArn"), KIND_DATASET_GROUP,
                         "dataset group", filter_summary, "Filters", resp, err);
}

CTL_OP(DeleteFilter)
{
    UNUSED(resp);
    struct resource r;
    ctl_lock(ctx);
    enum rc rc = ctl_get(ctx, ctl_str(req, "filterArn"), KIND_FILTER, "filter", &r, err);
    if (!rc) rc = ctl_delete(ctx, &r, err);
    ctl_unlock(ctx);
    resource_release(&r);
    return rc;
}
