/*
 * dataset.c: dataset group, schema and dataset resources.
 */
#include "common/base.h"
#include "dataset/dataset.h"

#include <ctype.h>
#include <jansson.h>

bool resource_name_valid(const char *name)
{
    size_t n = strlen(name);
    if (n < 1 || n > 63 || !isalnum((unsigned char)name[0])) return false;
    for (size_t i = 1; i < n; i++) {
        unsigned char c = (unsigned char)name[i];
        if (!isalnum(c) && c != '-' && c != '_') return false;
    }
    return true;
}

static char *attrs_dump(json_t *obj)
{
    char *text = json_dumps(obj, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(obj);
    if (!text) {
        fprintf(stderr, "savor: out of memory encoding JSON\n");
        abort();
    }
    char *copy = xstrdup(text);
    free(text);
    return copy;
}

enum rc dataset_group_find(struct store *s, const char *name, struct resource *out, struct err *e)
{
    char *arn = store_arn(s, KIND_DATASET_GROUP, name);
    enum rc rc = store_resource_get(s, arn, out, NULL);
    free(arn);
    if (rc == RC_NOT_FOUND) return err_set(e, rc, "dataset group %s does not exist", name);
    if (rc) return err_set(e, rc, "dataset group %s: cannot read it from the store", name);
    return RC_OK;
}

enum rc dataset_group_create(struct store *s, const char *name, struct resource *out, struct err *e)
{
    if (!resource_name_valid(name))
        return err_set(
            e, RC_INVALID_INPUT,
            "dataset group name '%s' is invalid: use 1 to 63 letters, digits, '-' or '_', starting with a letter or digit",
            name);
    struct resource r = {0};
    r.arn = store_arn(s, KIND_DATASET_GROUP, name);
    r.kind = xstrdup(KIND_DATASET_GROUP);
    r.name = xstrdup(name);
    r.status = xstrdup(STATUS_ACTIVE);
    r.attrs = xstrdup("{}");
    enum rc rc = store_resource_insert(s, &r, e);
    if (rc) {
        resource_release(&r);
        return rc;
    }
    *out = r;
    return RC_OK;
}

enum rc dataset_find(struct store *s, const struct resource *group, enum dataset_type t,
                     struct resource *out, struct err *e)
{
    char *path = xasprintf("%s/%s", group->name, dataset_type_name(t));
    char *arn = store_arn(s, KIND_DATASET, path);
    free(path);
    enum rc rc = store_resource_get(s, arn, out, NULL);
    free(arn);
    if (rc == RC_NOT_FOUND)
        return err_set(e, rc, "dataset group %s has no %s dataset", group->name,
                       dataset_type_name(t));
    if (rc) return err_set(e, rc, "dataset group %s: cannot read its datasets", group->name);
    return RC_OK;
}

/* A schema name not yet taken: 'base', else base-2, base-3, ... */
static char *free_schema_name(struct store *s, const char *base)
{
    for (int i = 1;; i++) {
        char *name = i == 1 ? xstrdup(base) : xasprintf("%.59s-%d", base, i);
        char *arn = store_arn(s, KIND_SCHEMA, name);
        struct resource r = {0};
        enum rc rc = store_resource_get(s, arn, &r, NULL);
        free(arn);
        resource_release(&r);
        if (rc == RC_NOT_FOUND) return name;
        free(name);
    }
}

enum rc dataset_create(struct store *s, const struct resource *group, enum dataset_type t,
                       const char *schema_name, const struct schema *schema, struct resource *out,
                       struct err *e)
{
    char *sname = free_schema_name(s, schema_name);
    char *schema_json = schema_to_json(schema);
    struct resource sr = {0};
    sr.arn = store_arn(s, KIND_SCHEMA, sname);
    sr.kind = xstrdup(KIND_SCHEMA);
    sr.name = sname;
    sr.status = xstrdup(STATUS_ACTIVE);
    sr.attrs = attrs_dump(json_pack("{s:s}", "schema", schema_json));
    free(schema_json);
    enum rc rc = store_resource_insert(s, &sr, e);
    if (rc) {
        resource_release(&sr);
        return rc;
    }

    char *lower = xstrdup(dataset_type_name(t));
    for (char *p = lower; *p; p++)
        *p = (char)tolower((unsigned char)*p);
    struct resource d = {0};
    char *path = xasprintf("%s/%s", group->name, dataset_type_name(t));
    d.arn = store_arn(s, KIND_DATASET, path);
    free(path);
    d.kind = xstrdup(KIND_DATASET);
    d.name = xasprintf("%.50s-%s", group->name, lower);
    free(lower);
    d.parent_id = group->id;
    d.status = xstrdup(STATUS_ACTIVE);
    d.attrs = attrs_dump(json_pack("{s:s,s:s,s:s}", "datasetType", dataset_type_record_name(t),
                                   "schemaArn", sr.arn, "datasetGroupArn", group->arn));
    resource_release(&sr);
    rc = store_resource_insert(s, &d, e);
    if (rc) {
        resource_release(&d);
        return rc;
    }
    *out = d;
    return RC_OK;
}

enum rc dataset_load_schema(struct store *s, const struct resource *dataset, struct schema **out,
                            struct err *e)
{
    json_t *attrs = json_loads(dataset->attrs, 0, NULL);
    const char *schema_arn = attrs ? json_string_value(json_object_get(attrs, "schemaArn")) : NULL;
    if (!schema_arn) {
        json_decref(attrs);
        return err_set(e, RC_DB, "dataset %s: no schemaArn in the store", dataset->arn);
    }
    struct resource sr = {0};
    enum rc rc = store_resource_get(s, schema_arn, &sr, e);
    json_decref(attrs);
    if (rc) return rc;
    json_t *sattrs = json_loads(sr.attrs, 0, NULL);
    const char *text = sattrs ? json_string_value(json_object_get(sattrs, "schema")) : NULL;
    if (!text)
        rc = err_set(e, RC_DB, "schema %s: no schema text in the store", sr.arn);
    else
        rc = schema_parse(text, strlen(text), out, e);
    json_decref(sattrs);
    resource_release(&sr);
    return rc;
}

int64_t dataset_generation(const struct resource *dataset)
{
    json_t *a = json_loads(dataset->attrs, 0, NULL);
    int64_t g = (int64_t)json_integer_value(json_object_get(a, "fullImports"));
    json_decref(a);
    return g;
}

enum rc dataset_bump_generation(struct store *s, struct resource *dataset, struct err *e)
{
    json_t *a = json_loads(dataset->attrs, 0, NULL);
    if (!a) a = json_object();
    json_object_set_new(a, "fullImports",
                        json_integer(json_integer_value(json_object_get(a, "fullImports")) + 1));
    free(dataset->attrs);
    dataset->attrs = attrs_dump(a);
    return store_resource_update(s, dataset, e);
}
