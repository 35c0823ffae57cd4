/*
 * store.c: the data directory, ARNs, and dispatch to the backend.
 */
#include "common/base.h"
#include "store/store_int.h"

#include <errno.h>
#include <sys/stat.h>

static enum rc make_dir(const char *path, struct err *e)
{
    if (mkdir(path, 0755) == 0 || errno == EEXIST) {
        struct stat st;
        if (stat(path, &st) == 0 && S_ISDIR(st.st_mode)) return RC_OK;
        return err_set(e, RC_IO, "data dir: %s exists and is not a directory", path);
    }
    return err_set(e, RC_IO, "data dir: cannot create %s: %s", path, strerror(errno));
}

/*
 * ARN parts are fixed when a data directory is created, from SAVOR_PARTITION,
 * SAVOR_REGION and SAVOR_ACCOUNT_ID, so that ARNs never change afterwards.
 */
static enum rc load_arn_part(struct store *s, const char *key, const char *env, const char *def,
                             char **out, struct err *e)
{
    enum rc rc = s->ops->meta_get(s, key, out, e);
    if (rc != RC_NOT_FOUND) return rc;
    const char *v = getenv(env);
    if (!v || !*v) v = def;
    rc = s->ops->meta_set(s, key, v, e);
    if (rc) return rc;
    *out = xstrdup(v);
    return RC_OK;
}

enum rc store_open(const char *dir, struct store **out, struct err *e)
{
    enum rc rc = make_dir(dir, e);
    if (rc) return rc;
    char *models = xasprintf("%s/models", dir);
    rc = make_dir(models, e);
    free(models);
    if (rc) return rc;

    struct store *s = xcalloc(1, sizeof(*s));
    s->ops = &store_sqlite_ops;
    s->dir = xstrdup(dir);
    s->db_path = xasprintf("%s/savor.db", dir);
    rc = s->ops->open(s, e);
    if (rc) {
        free(s->dir);
        free(s->db_path);
        free(s);
        return rc;
    }
    if ((rc = load_arn_part(s, "partition", "SAVOR_PARTITION", "aws", &s->partition, e)) ||
        (rc = load_arn_part(s, "region", "SAVOR_REGION", "us-east-1", &s->region, e)) ||
        (rc = load_arn_part(s, "account", "SAVOR_ACCOUNT_ID", "000000000000", &s->account, e))) {
        store_close(s);
        return rc;
    }
    *out = s;
    return RC_OK;
}

void store_close(struct store *s)
{
    if (!s) return;
    s->ops->close(s);
    free(s->dir);
    free(s->db_path);
    free(s->partition);
    free(s->region);
    free(s->account);
    free(s);
}

const char *store_dir(const struct store *s)
{
    return s->dir;
}

char *store_arn(const struct store *s, const char *kind, const char *path)
{
    return xasprintf("arn:%s:personalize:%s:%s:%s/%s", s->partition, s->region, s->account, kind,
                     path);
}

void resource_release(struct resource *r)
{
    if (!r) return;
    free(r->arn);
    free(r->kind);
    free(r->name);
    free(r->status);
    free(r->failure_reason);
    free(r->attrs);
    memset(r, 0, sizeof(*r));
}

void resource_list_free(struct resource *list, size_t n)
{
    for (size_t i = 0; i < n; i++)
        resource_release(&list[i]);
    free(list);
}

enum rc store_begin(struct store *s, struct err *e)
{
    return s->ops->begin(s, e);
}

enum rc store_commit(struct store *s, struct err *e)
{
    return s->ops->commit(s, e);
}

void store_rollback(struct store *s)
{
    s->ops->rollback(s);
}

enum rc store_resource_insert(struct store *s, struct resource *r, struct err *e)
{
    return s->ops->resource_insert(s, r, e);
}

enum rc store_resource_update(struct store *s, struct resource *r, struct err *e)
{
    return s->ops->resource_update(s, r, e);
}

enum rc store_resource_get(struct store *s, const char *arn, struct resource *out, struct err *e)
{
    return s->ops->resource_get(s, arn, 0, out, e);
}

enum rc store_resource_delete(struct store *s, int64_t id, struct err *e)
{
    return s->ops->resource_delete(s, id, e);
}

enum rc store_resource_get_id(struct store *s, int64_t id, struct resource *out, struct err *e)
{
    return s->ops->resource_get(s, NULL, id, out, e);
}

enum rc store_resource_list(struct store *s, const char *kind, int64_t parent_id,
                            struct resource **out, size_t *n, struct err *e)
{
    return s->ops->resource_list(s, kind, parent_id, out, n, e);
}

enum rc store_idmap_load(struct store *s, int64_t group_id, enum id_space space, struct strmap *map,
                         struct err *e)
{
    return s->ops->idmap_load(s, group_id, space, map, e);
}

enum rc store_idmap_count(struct store *s, int64_t group_id, enum id_space space, uint32_t *n,
                          struct err *e)
{
    return s->ops->idmap_count(s, group_id, space, n, e);
}

enum rc store_idmap_append(struct store *s, int64_t group_id, enum id_space space,
                           const struct strmap *map, uint32_t first, struct err *e)
{
    return s->ops->idmap_append(s, group_id, space, map, first, e);
}

enum rc store_interactions_append(struct store *s, int64_t dataset_id, enum origin origin,
                                  const struct interaction_chunk *c, struct err *e)
{
    return s->ops->interactions_append(s, dataset_id, origin, c, e);
}

enum rc store_interactions_delete(struct store *s, int64_t dataset_id, enum origin origin,
                                  struct err *e)
{
    return s->ops->interactions_delete(s, dataset_id, origin, e);
}

enum rc store_interactions_scan(struct store *s, int64_t dataset_id, store_chunk_fn fn, void *ctx,
                                struct err *e)
{
    return s->ops->interactions_scan(s, dataset_id, 0, INT64_MAX, fn, ctx, e);
}

enum rc store_interactions_scan_range(struct store *s, int64_t dataset_id, int64_t after,
                                      int64_t upto, store_chunk_fn fn, void *ctx, struct err *e)
{
    return s->ops->interactions_scan(s, dataset_id, after, upto, fn, ctx, e);
}

enum rc store_interactions_last_id(struct store *s, int64_t dataset_id, int64_t *id, struct err *e)
{
    return s->ops->interactions_last_id(s, dataset_id, id, e);
}

enum rc store_interactions_count(struct store *s, int64_t dataset_id, uint64_t *n, struct err *e)
{
    return s->ops->interactions_count(s, dataset_id, n, e);
}

enum rc store_entity_upsert(struct store *s, int64_t dataset_id, uint32_t idx, enum origin origin,
                            int64_t created_ts, const char *json, size_t json_len, struct err *e)
{
    return s->ops->entity_upsert(s, dataset_id, idx, origin, created_ts, json, json_len, e);
}

enum rc store_entity_delete_all(struct store *s, int64_t dataset_id, enum origin origin,
                                struct err *e)
{
    return s->ops->entity_delete_all(s, dataset_id, origin, e);
}

enum rc store_entity_count(struct store *s, int64_t dataset_id, uint64_t *n, struct err *e)
{
    return s->ops->entity_count(s, dataset_id, n, e);
}

enum rc store_entity_scan(struct store *s, int64_t dataset_id, store_entity_fn fn, void *ctx,
                          struct err *e)
{
    return s->ops->entity_scan(s, dataset_id, fn, ctx, e);
}

enum rc store_entity_version(struct store *s, int64_t dataset_id, uint64_t *version, struct err *e)
{
    return s->ops->entity_version(s, dataset_id, version, e);
}
