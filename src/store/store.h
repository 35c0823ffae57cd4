/*
 * store.h: the system of record, behind one interface.
 *
 * Everything savor keeps (resources such as dataset groups and import jobs,
 * the ID maps, interactions, item and user metadata) goes through these
 * functions. The embedded backend is SQLite in WAL mode (store_sqlite.c);
 * a PostgreSQL backend plugs in behind the same table of operations
 * (store_int.h) without changing any caller.
 *
 * Writes happen inside store_begin()/store_commit(); store_rollback() undoes
 * everything since store_begin(), which is how a failed import leaves the
 * store exactly as it was. A crash mid-transaction is rolled back on the
 * next open.
 */
#ifndef SAVOR_STORE_H
#define SAVOR_STORE_H

#include "common/base.h"
#include "common/strmap.h"

struct store;

/*
 * Open (creating if needed) the data directory 'dir': the database, its
 * migrations, and the models/ folder. The caller frees with store_close().
 */
enum rc store_open(const char *dir, struct store **out, struct err *e);
void store_close(struct store *s);

/* The data directory (borrowed). */
const char *store_dir(const struct store *s);

enum rc store_begin(struct store *s, struct err *e);
enum rc store_commit(struct store *s, struct err *e);
/* Never fails from the caller's point of view; safe without an open transaction. */
void store_rollback(struct store *s);

/* ---- ARNs --------------------------------------------------------------- */

/* "arn:<partition>:personalize:<region>:<account>:<kind>/<path>"; caller frees. */
char *store_arn(const struct store *s, const char *kind, const char *path);

/* ---- Resources ------------------------------------------------------------ */

/* Resource kinds, as they appear in ARNs. */
#define KIND_DATASET_GROUP "dataset-group"
#define KIND_SCHEMA        "schema"
#define KIND_DATASET       "dataset"
#define KIND_IMPORT_JOB    "dataset-import-job"

/* Personalize's status strings. */
#define STATUS_CREATE_PENDING     "CREATE PENDING"
#define STATUS_CREATE_IN_PROGRESS "CREATE IN_PROGRESS"
#define STATUS_ACTIVE             "ACTIVE"
#define STATUS_CREATE_FAILED      "CREATE FAILED"

/*
 * One resource. 'attrs' is a JSON object text with the kind-specific fields
 * (schema text, datasetType, importMode, statistics, ...). Owned strings are
 * freed by resource_release().
 */
struct resource {
    int64_t id;
    char *arn;
    char *kind;
    char *name;
    int64_t parent_id; /* 0 when none */
    char *status;
    char *failure_reason; /* may be NULL */
    double created;       /* epoch seconds */
    double updated;
    char *attrs; /* JSON object text, never NULL once loaded */
};

void resource_release(struct resource *r);

/*
 * Insert 'r' (arn, kind, name, parent_id, status, attrs; times default to
 * now). Sets r->id. RC_ALREADY_EXISTS if the ARN is taken.
 */
enum rc store_resource_insert(struct store *s, struct resource *r, struct err *e);
/* Update status, failure_reason and attrs of resource r->id, and its 'updated' time. */
enum rc store_resource_update(struct store *s, struct resource *r, struct err *e);
/* Load by ARN into *out (caller releases). RC_NOT_FOUND if absent. */
enum rc store_resource_get(struct store *s, const char *arn, struct resource *out, struct err *e);
/*
 * Delete resource 'id' and the rows keyed by it (a group's ID maps, a
 * dataset's interactions and metadata). RC_NOT_FOUND if absent.
 */
enum rc store_resource_delete(struct store *s, int64_t id, struct err *e);
/* Load by id. */
enum rc store_resource_get_id(struct store *s, int64_t id, struct resource *out, struct err *e);

/*
 * List resources of 'kind' (and parent 'parent_id' unless 0), oldest first.
 * *out is an array of *n resources; free with resource_list_free().
 */
enum rc store_resource_list(struct store *s, const char *kind, int64_t parent_id,
                            struct resource **out, size_t *n, struct err *e);
void resource_list_free(struct resource *list, size_t n);

/* ---- ID maps -------------------------------------------------------------- */

/* The ID spaces of a dataset group. */
enum id_space { ID_USERS = 0, ID_ITEMS = 1, ID_EVENT_TYPES = 2 };

/* Maximum length of a user or item ID, in bytes (Personalize's limit). */
#define ID_MAX_LEN 256

/*
 * Load the group's map for 'space' into 'map', which must be empty: after
 * the call index i of the map is the dense index i of the store.
 */
enum rc store_idmap_load(struct store *s, int64_t group_id, enum id_space space, struct strmap *map,
                         struct err *e);
/* Number of keys in the group's map for 'space' (without loading it). */
enum rc store_idmap_count(struct store *s, int64_t group_id, enum id_space space, uint32_t *n,
                          struct err *e);
/*
 * Persist keys [first, strmap_count(map)) of 'map', which must extend the
 * stored map (first == number of keys stored so far).
 */
enum rc store_idmap_append(struct store *s, int64_t group_id, enum id_space space,
                           const struct strmap *map, uint32_t first, struct err *e);

/* ---- Interactions ------------------------------------------------------- */

/* Where rows came from: bulk imports (replaced by FULL) or individual events. */
enum origin { ORIGIN_BULK = 0, ORIGIN_EVENTS = 1 };

#define EVENT_TYPE_NONE UINT32_MAX /* no EVENT_TYPE column */

/*
 * A column-oriented block of interactions. Readers get borrowed arrays;
 * 'extra' holds the other schema columns as an encoded blob (extra.h).
 */
struct interaction_chunk {
    int64_t id; /* set by scans: increases with every append */
    uint32_t n;
    const uint32_t *users;       /* dense user indexes */
    const uint32_t *items;       /* dense item indexes */
    const int64_t *ts;           /* epoch seconds */
    const uint32_t *event_types; /* ID_EVENT_TYPES index or EVENT_TYPE_NONE */
    const float *event_values;   /* NaN when null */
    const char *extra_columns;   /* comma-separated names; "" when none */
    const void *extra;
    size_t extra_len;
};

enum rc store_interactions_append(struct store *s, int64_t dataset_id, enum origin origin,
                                  const struct interaction_chunk *c, struct err *e);
/* Delete the dataset's rows of 'origin'. */
enum rc store_interactions_delete(struct store *s, int64_t dataset_id, enum origin origin,
                                  struct err *e);

/* Called once per chunk, in insertion order; a non-zero return stops the scan and is returned. */
typedef enum rc (*store_chunk_fn)(void *ctx, const struct interaction_chunk *c, struct err *e);
enum rc store_interactions_scan(struct store *s, int64_t dataset_id, store_chunk_fn fn, void *ctx,
                                struct err *e);
/*
 * Only chunks with after < id <= upto: a reader that noted store_interactions_last_id()
 * sees exactly the chunks appended since (as a model does for events after its training).
 */
enum rc store_interactions_scan_range(struct store *s, int64_t dataset_id, int64_t after,
                                      int64_t upto, store_chunk_fn fn, void *ctx, struct err *e);
/* The id of the newest chunk of the dataset, 0 when it has none. */
enum rc store_interactions_last_id(struct store *s, int64_t dataset_id, int64_t *id, struct err *e);
/* Total rows of the dataset. */
enum rc store_interactions_count(struct store *s, int64_t dataset_id, uint64_t *n, struct err *e);

/* ---- Item and user metadata ----------------------------------------------- */

/*
 * Insert or replace the metadata row of entity 'idx' (a dense item or user
 * index) in dataset 'dataset_id'. 'json' is a JSON object text of its
 * fields; 'created_ts' is CREATION_TIMESTAMP or -1.
 */
enum rc store_entity_upsert(struct store *s, int64_t dataset_id, uint32_t idx, enum origin origin,
                            int64_t created_ts, const char *json, size_t json_len, struct err *e);
enum rc store_entity_delete_all(struct store *s, int64_t dataset_id, enum origin origin,
                                struct err *e);
enum rc store_entity_count(struct store *s, int64_t dataset_id, uint64_t *n, struct err *e);

typedef enum rc (*store_entity_fn)(void *ctx, uint32_t idx, int64_t created_ts, const char *json,
                                   struct err *e);
/* Visit every row of the dataset in index order. */
enum rc store_entity_scan(struct store *s, int64_t dataset_id, store_entity_fn fn, void *ctx,
                          struct err *e);
/*
 * The dataset's metadata version: a counter that grows with every committed
 * transaction that wrote its rows (upserts, deletes), from any process; 0
 * when they were never written. A cheap read, for caches built from the
 * rows (compiled filters) to tell whether they are stale.
 */
enum rc store_entity_version(struct store *s, int64_t dataset_id, uint64_t *version, struct err *e);

#endif
