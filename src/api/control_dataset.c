/*
 * control_dataset.c: dataset groups, schemas and datasets.
 *
 * ARNs as Personalize's: dataset-group/NAME, schema/NAME and
 * dataset/GROUP/INTERACTIONS (one dataset of each type per group). All three
 * are ACTIVE as soon as they are created.
 */
#include "common/base.h"
#include "api/control_int.h"
#include "dataset/dataset.h"
#include "dataset/schema.h"
#include "models/engine.h"

/* ---- Dataset groups ------------------------------------------------------------- */

static json_t *group_json(const struct resource *r, bool full)
{
    json_t *o = json_object();
    ctl_common_fields(o, r, "datasetGroupArn");
    json_t *a = ctl_attrs(r);
    const char *keys[] = {"roleArn", "kmsKeyArn", "domain"};
    for (size_t i = 0; i < ARRAY_SIZE(keys); i++) {
        if (!full && i < 2) continue;
        json_t *v = json_object_get(a, keys[i]);
        if (v) json_object_set(o, keys[i], v);
    }
    json_decref(a);
    return o;
}

CTL_OP(CreateDatasetGroup)
{
    const char *name = ctl_str(req, "name");
    if (json_object_get(req, "domain"))
        return ctl_invalid(err, "domain: savor has no domain dataset groups (recommenders); "
                                "leave domain out for a custom dataset group");
    json_t *tags;
    enum rc rc = ctl_tags_from_request(req, &tags, err);
    if (rc) return rc;
    json_t *a = json_object();
    const char *keys[] = {"roleArn", "kmsKeyArn"};
    for (size_t i = 0; i < ARRAY_SIZE(keys); i++)
        if (ctl_str(req, keys[i])) json_object_set(a, keys[i], json_object_get(req, keys[i]));
    json_object_set_new(a, "tags", tags);
    ctl_lock(ctx);
    struct resource r;
    ctl_resource_init(&r, store_arn(ctx->store, KIND_DATASET_GROUP, name), KIND_DATASET_GROUP, name,
                      0, STATUS_ACTIVE, a);
    rc = ctl_insert(ctx, &r, "dataset group", err);
    ctl_unlock(ctx);
    if (!rc) *resp = json_pack("{s:s}", "datasetGroupArn", r.arn);
    resource_release(&r);
    return rc;
}

CTL_OP(DescribeDatasetGroup)
{
    struct resource r;
    ctl_lock(ctx);
    enum rc rc =
        ctl_get(ctx, ctl_str(req, "datasetGroupArn"), KIND_DATASET_GROUP, "dataset group", &r, err);
    ctl_unlock(ctx);
    if (rc) return rc;
    *resp = json_pack("{s:o}", "datasetGroup", group_json(&r, true));
    resource_release(&r);
    return RC_OK;
}

static json_t *group_summary(const struct resource *r)
{
    return group_json(r, false);
}

CTL_OP(ListDatasetGroups)
{
    return ctl_list_page(ctx, req, KIND_DATASET_GROUP, NULL, NULL, NULL, group_summary,
                         "datasetGroups", resp, err);
}

/* How many resources of 'kind' have parent 'id'. */
static size_t count_children(struct api_ctx *ctx, const char *kind, int64_t id)
{
    struct resource *list;
    size_t n = 0;
    struct err e = ERR_INIT;
    if (store_resource_list(ctx->store, kind, id, &list, &n, &e)) return 0;
    resource_list_free(list, n);
    return n;
}

CTL_OP(DeleteDatasetGroup)
{
    UNUSED(resp);
    struct resource r;
    ctl_lock(ctx);
    enum rc rc =
        ctl_get(ctx, ctl_str(req, "datasetGroupArn"), KIND_DATASET_GROUP, "dataset group", &r, err);
    if (!rc) {
        static const struct {
            const char *kind, *what;
        } deps[] = {{KIND_DATASET, "datasets"},
                    {KIND_SOLUTION, "solutions"},
                    {KIND_EVENT_TRACKER, "event trackers"},
                    {KIND_FILTER, "filters"}};
        for (size_t i = 0; i < ARRAY_SIZE(deps) && !rc; i++) {
            size_t n = count_children(ctx, deps[i].kind, r.id);
            if (n)
                rc = ctl_in_use(err, "dataset group %s still has %zu %s; delete them first", r.arn,
                                n, deps[i].what);
        }
    }
    if (!rc) rc = ctl_delete(ctx, &r, err);
    ctl_unlock(ctx);
    resource_release(&r);
    return rc;
}

/* ---- Schemas ------------------------------------------------------------------- */

static json_t *schema_json(const struct resource *r, bool full)
{
    json_t *o = json_object();
    json_object_set_new(o, "name", json_string(r->name));
    json_object_set_new(o, "schemaArn", json_string(r->arn));
    json_t *a = ctl_attrs(r);
    if (full && json_object_get(a, "schema"))
        json_object_set(o, "schema", json_object_get(a, "schema"));
    json_decref(a);
    json_object_set_new(o, "creationDateTime", ctl_time(r->created));
    json_object_set_new(o, "lastUpdatedDateTime", ctl_time(r->updated));
    return o;
}

static json_t *schema_summary(const struct resource *r)
{
    return schema_json(r, false);
}

CTL_OP(CreateSchema)
{
    const char *name = ctl_str(req, "name"), *text = ctl_str(req, "schema");
    if (json_object_get(req, "domain"))
        return ctl_invalid(err, "domain: savor has no domain schemas; leave domain out");
    struct schema *sc = NULL;
    struct err e = ERR_INIT;
    if (schema_parse(text, strlen(text), &sc, &e)) return ctl_invalid(err, "schema: %s", e.msg);
    char *canon = schema_to_json(sc);
    schema_free(sc);
    ctl_lock(ctx);
    struct resource r;
    ctl_resource_init(&r, store_arn(ctx->store, KIND_SCHEMA, name), KIND_SCHEMA, name, 0,
                      STATUS_ACTIVE, json_pack("{s:s}", "schema", canon));
    free(canon);
    enum rc rc = ctl_insert(ctx, &r, "schema", err);
    ctl_unlock(ctx);
    if (!rc) *resp = json_pack("{s:s}", "schemaArn", r.arn);
    resource_release(&r);
    return rc;
}

CTL_OP(DescribeSchema)
{
    struct resource r;
    ctl_lock(ctx);
    enum rc rc = ctl_get(ctx, ctl_str(req, "schemaArn"), KIND_SCHEMA, "schema", &r, err);
    ctl_unlock(ctx);
    if (rc) return rc;
    *resp = json_pack("{s:o}", "schema", schema_json(&r, true));
    resource_release(&r);
    return RC_OK;
}

CTL_OP(ListSchemas)
{
    return ctl_list_page(ctx, req, KIND_SCHEMA, NULL, NULL, NULL, schema_summary, "schemas", resp,
                         err);
}

CTL_OP(DeleteSchema)
{
    UNUSED(resp);
    struct resource r;
    ctl_lock(ctx);
    enum rc rc = ctl_get(ctx, ctl_str(req, "schemaArn"), KIND_SCHEMA, "schema", &r, err);
    if (!rc && ctl_any_with(ctx, KIND_DATASET, "schemaArn", r.arn))
        rc = ctl_in_use(err, "schema %s is used by a dataset; delete the dataset first", r.arn);
    if (!rc) rc = ctl_delete(ctx, &r, err);
    ctl_unlock(ctx);
    resource_release(&r);
    return rc;
}

/* ---- Datasets ------------------------------------------------------------------ */

static json_t *dataset_json(const struct resource *r, bool full)
{
    json_t *o = json_object();
    ctl_common_fields(o, r, "datasetArn");
    json_t *a = ctl_attrs(r);
    json_object_set(o, "datasetType", json_object_get(a, "datasetType"));
    if (full) {
        json_object_set(o, "datasetGroupArn", json_object_get(a, "datasetGroupArn"));
        json_object_set(o, "schemaArn", json_object_get(a, "schemaArn"));
    }
    json_decref(a);
    return o;
}

static json_t *dataset_summary(const struct resource *r)
{
    return dataset_json(r, false);
}

CTL_OP(CreateDataset)
{
    const char *name = ctl_str(req, "name"), *type_name = ctl_str(req, "datasetType");
    enum dataset_type type;
    if (!dataset_type_parse(type_name, &type))
        return ctl_invalid(err, "datasetType '%s': savor supports Interactions, Items and Users",
                           type_name);
    json_t *tags;
    enum rc rc = ctl_tags_from_request(req, &tags, err);
    if (rc) return rc;
    struct resource group = {0}, schema = {0}, r = {0};
    struct schema *sc = NULL;
    struct err e = ERR_INIT;
    ctl_lock(ctx);
    rc = ctl_get(ctx, ctl_str(req, "datasetGroupArn"), KIND_DATASET_GROUP, "dataset group", &group,
                 err);
    if (!rc) rc = ctl_get(ctx, ctl_str(req, "schemaArn"), KIND_SCHEMA, "schema", &schema, err);
    if (!rc) {
        json_t *sa = ctl_attrs(&schema);
        const char *text = json_string_value(json_object_get(sa, "schema"));
        if (!text || schema_parse(text, strlen(text), &sc, &e) || schema_validate(sc, type, &e))
            rc = ctl_invalid(err, "schema %s does not fit a %s dataset: %s", schema.arn,
                             dataset_type_name(type), text ? e.msg : "no schema text");
        json_decref(sa);
    }
    if (!rc) {
        char *path = xasprintf("%s/%s", group.name, dataset_type_name(type));
        json_t *a = json_pack("{s:s,s:s,s:s,s:O}", "datasetType", dataset_type_record_name(type),
                              "schemaArn", schema.arn, "datasetGroupArn", group.arn, "tags", tags);
        ctl_resource_init(&r, store_arn(ctx->store, KIND_DATASET, path), KIND_DATASET, name,
                          group.id, STATUS_ACTIVE, a);
        free(path);
        rc = ctl_insert(ctx, &r, "dataset", err);
        if (rc == RC_ALREADY_EXISTS)
            ctl_exists(err, "dataset group %s already has a %s dataset (%s)", group.arn,
                       dataset_type_record_name(type), r.arn);
    }
    ctl_unlock(ctx);
    if (!rc) *resp = json_pack("{s:s}", "datasetArn", r.arn);
    json_decref(tags);
    schema_free(sc);
    resource_release(&group);
    resource_release(&schema);
    resource_release(&r);
    return rc;
}

CTL_OP(DescribeDataset)
{
    struct resource r;
    ctl_lock(ctx);
    enum rc rc = ctl_get(ctx, ctl_str(req, "datasetArn"), KIND_DATASET, "dataset", &r, err);
    ctl_unlock(ctx);
    if (rc) return rc;
    *resp = json_pack("{s:o}", "dataset", dataset_json(&r, true));
    resource_release(&r);
    return RC_OK;
}

CTL_OP(ListDatasets)
{
    return ctl_list_page(ctx, req, KIND_DATASET, ctl_str(req, "datasetGroupArn"),
                         KIND_DATASET_GROUP, "dataset group", dataset_summary, "datasets", resp,
                         err);
}

CTL_OP(DeleteDataset)
{
    UNUSED(resp);
    struct resource r;
    ctl_lock(ctx);
    enum rc rc = ctl_get(ctx, ctl_str(req, "datasetArn"), KIND_DATASET, "dataset", &r, err);
    struct resource *jobs = NULL;
    size_t njobs = 0;
    if (!rc) rc = ctl_list(ctx, KIND_IMPORT_JOB, r.id, &jobs, &njobs, err);
    for (size_t i = 0; i < njobs && !rc; i++)
        if (ctl_unfinished(&jobs[i]))
            rc = ctl_in_use(err, "dataset %s has import job %s in %s; wait for it to finish", r.arn,
                            jobs[i].arn, jobs[i].status);
    /* The dataset's import jobs go with it, then its rows (store_resource_delete). */
    for (size_t i = 0; i < njobs && !rc; i++)
        rc = ctl_delete(ctx, &jobs[i], err);
    if (!rc) rc = ctl_delete(ctx, &r, err);
    ctl_unlock(ctx);
    resource_list_free(jobs, njobs);
    resource_release(&r);
    return rc;
}
