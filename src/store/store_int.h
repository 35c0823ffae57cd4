/*
 * store_int.h: the backend table behind store.h (shared by src/store/ only).
 *
 * A backend implements every operation of store.h except the ones store.c
 * handles itself (the data directory, ARNs). store.c dispatches through
 * 'ops'; store_sqlite.c is the embedded backend.
 */
#ifndef SAVOR_STORE_INT_H
#define SAVOR_STORE_INT_H

#include "store/store.h"

struct store_ops {
    const char *name;
    enum rc (*open)(struct store *s, struct err *e);
    void (*close)(struct store *s);
    enum rc (*meta_get)(struct store *s, const char *key, char **value, struct err *e);
    enum rc (*meta_set)(struct store *s, const char *key, const char *value, struct err *e);
    enum rc (*begin)(struct store *s, struct err *e);
    enum rc (*commit)(struct store *s, struct err *e);
    void (*rollback)(struct store *s);
    enum rc (*resource_insert)(struct store *s, struct resource *r, struct err *e);
    enum rc (*resource_update)(struct store *s, struct resource *r, struct err *e);
    enum rc (*resource_get)(struct store *s, const char *arn, int64_t id, struct resource *out,
                            struct err *e);
    enum rc (*resource_delete)(struct store *s, int64_t id, struct err *e);
    enum rc (*resource_list)(struct store *s, const char *kind, int64_t parent_id,
                             struct resource **out, size_t *n, struct err *e);
    enum rc (*idmap_load)(struct store *s, int64_t group_id, enum id_space space,
                          struct strmap *map, struct err *e);
    enum rc (*idmap_count)(struct store *s, int64_t group_id, enum id_space space, uint32_t *n,
                           struct err *e);
    enum rc (*idmap_append)(struct store *s, int64_t group_id, enum id_space space,
                            const struct strmap *map, uint32_t first, struct err *e);
    enum rc (*interactions_append)(struct store *s, int64_t dataset_id, enum origin origin,
                                   const struct interaction_chunk *c, struct err *e);
    enum rc (*interactions_delete)(struct store *s, int64_t dataset_id, enum origin origin,
                                   struct err *e);
    enum rc (*interactions_scan)(struct store *s, int64_t dataset_id, int64_t after, int64_t upto,
                                 store_chunk_fn fn, void *ctx, struct err *e);
    enum rc (*interactions_last_id)(struct store *s, int64_t dataset_id, int64_t *id,
                                    struct err *e);
    enum rc (*interactions_count)(struct store *s, int64_t dataset_id, uint64_t *n, struct err *e);
    enum rc (*entity_upsert)(struct store *s, int64_t dataset_id, uint32_t idx, enum origin origin,
                             int64_t created_ts, const char *json, size_t json_len, struct err *e);
    enum rc (*entity_delete_all)(struct store *s, int64_t dataset_id, enum origin origin,
                                 struct err *e);
    enum rc (*entity_count)(struct store *s, int64_t dataset_id, uint64_t *n, struct err *e);
    enum rc (*entity_scan)(struct store *s, int64_t dataset_id, store_entity_fn fn, void *ctx,
                           struct err *e);
    enum rc (*entity_version)(struct store *s, int64_t dataset_id, uint64_t *version,
                              struct err *e);
};

struct store {
    const struct store_ops *ops;
    char *dir;       /* data directory, owned */
    char *db_path;   /* owned */
    char *partition; /* ARN parts, owned */
    char *region;
    char *account;
    void *impl; /* the backend's state */
};

extern const struct store_ops store_sqlite_ops;

#endif
