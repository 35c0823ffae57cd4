/*
 * store_sqlite.c: the embedded backend, SQLite in WAL mode.
 *
 * Tables (see docs/internals/store.md):
 *   meta                 key/value settings of the data directory
 *   resources            every Personalize resource; kind-specific fields in attrs (JSON)
 *   id_chunks            the dense ID maps, as blocks of NUL-separated strings
 *   interaction_chunks   interactions, column-oriented, up to 64k rows per chunk
 *   entity_rows          item and user metadata, one row per entity
 *
 * A dataset's metadata version (store_entity_version) is the meta key
 * "entity_version:<dataset id>", bumped once per transaction that wrote
 * its rows: the connection notes the datasets it wrote and bumps their
 * versions just before COMMIT, so a reader sees rows and version change
 * together.
 *
 * The schema is versioned with PRAGMA user_version and upgraded by the
 * migrations below, each in its own transaction.
 */
#include "common/base.h"
#include "store/store_int.h"
#include "common/clock.h"

#include <math.h>
#include <sqlite3.h>

/* Each entry upgrades the schema from version i to i+1. Never edit a shipped one. */
static const char *const migrations[] = {
    /* 1: the foundation. */
    "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);"
    "CREATE TABLE resources ("
    "  id INTEGER PRIMARY KEY,"
    "  arn TEXT NOT NULL UNIQUE,"
    "  kind TEXT NOT NULL,"
    "  name TEXT NOT NULL,"
    "  parent_id INTEGER,"
    "  status TEXT NOT NULL,"
    "  failure_reason TEXT,"
    "  created REAL NOT NULL,"
    "  updated REAL NOT NULL,"
    "  attrs TEXT NOT NULL DEFAULT '{}');"
    "CREATE INDEX resources_kind ON resources(kind, parent_id);"
    "CREATE TABLE id_chunks ("
    "  group_id INTEGER NOT NULL,"
    "  space INTEGER NOT NULL,"
    "  first_idx INTEGER NOT NULL,"
    "  count INTEGER NOT NULL,"
    "  data BLOB NOT NULL,"
    "  PRIMARY KEY (group_id, space, first_idx)) WITHOUT ROWID;"
    "CREATE TABLE interaction_chunks ("
    "  id INTEGER PRIMARY KEY,"
    "  dataset_id INTEGER NOT NULL,"
    "  origin INTEGER NOT NULL,"
    "  nrows INTEGER NOT NULL,"
    "  min_ts INTEGER NOT NULL,"
    "  max_ts INTEGER NOT NULL,"
    "  users BLOB NOT NULL,"
    "  items BLOB NOT NULL,"
    "  ts BLOB NOT NULL,"
    "  event_types BLOB NOT NULL,"
    "  event_values BLOB NOT NULL,"
    "  extra_columns TEXT NOT NULL,"
    "  extra BLOB NOT NULL);"
    "CREATE INDEX interaction_chunks_dataset ON interaction_chunks(dataset_id, origin);"
    "CREATE TABLE entity_rows ("
    "  dataset_id INTEGER NOT NULL,"
    "  idx INTEGER NOT NULL,"
    "  origin INTEGER NOT NULL,"
    "  created_ts INTEGER NOT NULL,"
    "  data TEXT NOT NULL,"
    "  PRIMARY KEY (dataset_id, idx)) WITHOUT ROWID;",
};

#define SCHEMA_VERSION ((int)ARRAY_SIZE(migrations))

/* Prepared statements, compiled once per connection. */
enum stmt_id {
    Q_META_GET,
    Q_META_SET,
    Q_RES_INSERT,
    Q_RES_UPDATE,
    Q_RES_GET_ARN,
    Q_RES_GET_ID,
    Q_RES_LIST_KIND,
    Q_RES_LIST_PARENT,
    Q_ID_LOAD,
    Q_ID_APPEND,
    Q_ID_COUNT,
    Q_IA_APPEND,
    Q_IA_DELETE,
    Q_IA_SCAN,
    Q_IA_LAST,
    Q_IA_COUNT,
    Q_ENT_UPSERT,
    Q_ENT_DELETE,
    Q_ENT_COUNT,
    Q_ENT_SCAN,
    Q_ENT_VERSION_BUMP,
    Q__COUNT
};

static const char *const stmt_sql[Q__COUNT] = {
    [Q_META_GET] = "SELECT value FROM meta WHERE key = ?1",
    [Q_META_SET] = "INSERT OR REPLACE INTO meta(key, value) VALUES (?1, ?2)",
    [Q_RES_INSERT] = "INSERT INTO resources(arn, kind, name, parent_id, status, failure_reason,"
                     " created, updated, attrs) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
    [Q_RES_UPDATE] = "UPDATE resources SET status = ?2, failure_reason = ?3, attrs = ?4,"
                     " updated = ?5 WHERE id = ?1",
    [Q_RES_GET_ARN] = "SELECT id, arn, kind, name, parent_id, status, failure_reason, created,"
                      " updated, attrs FROM resources WHERE arn = ?1",
    [Q_RES_GET_ID] = "SELECT id, arn, kind, name, parent_id, status, failure_reason, created,"
                     " updated, attrs FROM resources WHERE id = ?1",
    [Q_RES_LIST_KIND] = "SELECT id, arn, kind, name, parent_id, status, failure_reason, created,"
                        " updated, attrs FROM resources WHERE kind = ?1 ORDER BY id",
    [Q_RES_LIST_PARENT] = "SELECT id, arn, kind, name, parent_id, status, failure_reason, created,"
                          " updated, attrs FROM resources WHERE kind = ?1 AND parent_id = ?2"
                          " ORDER BY id",
    [Q_ID_LOAD] = "SELECT first_idx, count, data FROM id_chunks WHERE group_id = ?1 AND space = ?2"
                  " ORDER BY first_idx",
    [Q_ID_APPEND] = "INSERT INTO id_chunks(group_id, space, first_idx, count, data)"
                    " VALUES (?1, ?2, ?3, ?4, ?5)",
    [Q_ID_COUNT] =
        "SELECT coalesce(sum(count), 0) FROM id_chunks WHERE group_id = ?1 AND space = ?2",
    [Q_IA_APPEND] = "INSERT INTO interaction_chunks(dataset_id, origin, nrows, min_ts, max_ts,"
                    " users, items, ts, event_types, event_values, extra_columns, extra)"
                    " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
    [Q_IA_DELETE] = "DELETE FROM interaction_chunks WHERE dataset_id = ?1 AND origin = ?2",
    [Q_IA_SCAN] = "SELECT nrows, users, items, ts, event_types, event_values, extra_columns, extra,"
                  " id FROM interaction_chunks WHERE dataset_id = ?1 AND id > ?2 AND id <= ?3"
                  " ORDER BY id",
    [Q_IA_LAST] = "SELECT coalesce(max(id), 0) FROM interaction_chunks WHERE dataset_id = ?1",
    [Q_IA_COUNT] = "SELECT coalesce(sum(nrows), 0) FROM interaction_chunks WHERE dataset_id = ?1",
    [Q_ENT_UPSERT] = "INSERT OR REPLACE INTO entity_rows(dataset_id, idx, origin, created_ts, data)"
                     " VALUES (?1, ?2, ?3, ?4, ?5)",
    [Q_ENT_DELETE] = "DELETE FROM entity_rows WHERE dataset_id = ?1 AND origin = ?2",
    [Q_ENT_COUNT] = "SELECT count(*) FROM entity_rows WHERE dataset_id = ?1",
    [Q_ENT_SCAN] = "SELECT idx, created_ts, data FROM entity_rows WHERE dataset_id = ?1"
                   " ORDER BY idx",
    [Q_ENT_VERSION_BUMP] = "INSERT INTO meta(key, value) VALUES (?1, '1') ON CONFLICT(key)"
                           " DO UPDATE SET value = CAST(value AS INTEGER) + 1",
};

struct sq {
    sqlite3 *db;
    sqlite3_stmt *stmts[Q__COUNT];
    bool in_tx;
    int64_t *written; /* datasets whose entity rows this transaction wrote */
    size_t nwritten, written_alloc;
};

static struct sq *SQ(struct store *s)
{
    return s->impl;
}

static enum rc db_error(struct store *s, struct err *e, const char *what)
{
    return err_set(e, RC_DB, "store: %s: %s (%s)", what, sqlite3_errmsg(SQ(s)->db), s->db_path);
}

/* The cached statement 'id', reset and with bindings cleared. */
static sqlite3_stmt *stmt(struct store *s, enum stmt_id id, struct err *e)
{
    struct sq *q = SQ(s);
    sqlite3_stmt *st = q->stmts[id];
    if (!st) {
        if (sqlite3_prepare_v3(q->db, stmt_sql[id], -1, SQLITE_PREPARE_PERSISTENT, &st, NULL) !=
            SQLITE_OK) {
            db_error(s, e, "prepare");
            return NULL;
        }
        q->stmts[id] = st;
    }
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    return st;
}

static enum rc exec(struct store *s, const char *sql, struct err *e)
{
    char *msg = NULL;
    if (sqlite3_exec(SQ(s)->db, sql, NULL, NULL, &msg) != SQLITE_OK) {
        err_set(e, RC_DB, "store: %s (%s)", msg ? msg : "error", s->db_path);
        sqlite3_free(msg);
        return RC_DB;
    }
    return RC_OK;
}

/* Run a statement that returns no rows; resets it afterwards. */
static enum rc step_done(struct store *s, sqlite3_stmt *st, struct err *e, const char *what)
{
    int r = sqlite3_step(st);
    enum rc rc = RC_OK;
    int ext = sqlite3_extended_errcode(SQ(s)->db);
    if (r == SQLITE_CONSTRAINT &&
        (ext == SQLITE_CONSTRAINT_UNIQUE || ext == SQLITE_CONSTRAINT_PRIMARYKEY))
        rc = err_set(e, RC_ALREADY_EXISTS, "store: %s: %s", what, sqlite3_errmsg(SQ(s)->db));
    else if (r == SQLITE_CONSTRAINT)
        rc = err_set(e, RC_INVALID_INPUT, "store: %s: %s", what, sqlite3_errmsg(SQ(s)->db));
    else if (r != SQLITE_DONE)
        rc = db_error(s, e, what);
    sqlite3_reset(st);
    return rc;
}

static enum rc migrate(struct store *s, struct err *e)
{
    sqlite3_stmt *st;
    int version = 0;
    if (sqlite3_prepare_v2(SQ(s)->db, "PRAGMA user_version", -1, &st, NULL) != SQLITE_OK)
        return db_error(s, e, "read schema version");
    if (sqlite3_step(st) == SQLITE_ROW) version = sqlite3_column_int(st, 0);
    sqlite3_finalize(st);
    if (version > SCHEMA_VERSION)
        return err_set(
            e, RC_DB,
            "store: %s has schema version %d, newer than this savor supports (%d); upgrade savor",
            s->db_path, version, SCHEMA_VERSION);
    for (int v = version; v < SCHEMA_VERSION; v++) {
        enum rc rc = exec(s, "BEGIN IMMEDIATE", e);
        if (rc) return rc;
        char pragma[64];
        snprintf(pragma, sizeof(pragma), "PRAGMA user_version = %d", v + 1);
        if ((rc = exec(s, migrations[v], e)) || (rc = exec(s, pragma, e)) ||
            (rc = exec(s, "COMMIT", e))) {
            exec(s, "ROLLBACK", NULL);
            return err_prefix(e, "migration %d: ", v + 1);
        }
    }
    return RC_OK;
}

static enum rc sq_open(struct store *s, struct err *e)
{
    struct sq *q = xcalloc(1, sizeof(*q));
    s->impl = q;
    int r = sqlite3_open_v2(s->db_path, &q->db,
                            SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
    enum rc rc;
    if (r != SQLITE_OK) {
        rc = err_set(e, RC_DB, "store: cannot open %s: %s", s->db_path,
                     q->db ? sqlite3_errmsg(q->db) : sqlite3_errstr(r));
        goto fail;
    }
    sqlite3_busy_timeout(q->db, 10000);
    sqlite3_extended_result_codes(q->db, 0);
    /*
     * WAL lets readers (the server) run during an import. synchronous=FULL
     * makes every commit durable before it returns (one fsync of the WAL per
     * transaction, so an import pays it once), and a crash at any point
     * leaves the last committed state.
     */
    /* Large pages: interaction chunks are 100s of KB, so fewer, larger writes. */
    if ((rc = exec(s, "PRAGMA page_size=65536", e)) ||
        (rc = exec(s, "PRAGMA journal_mode=WAL", e)) ||
        (rc = exec(s, "PRAGMA synchronous=FULL", e)) ||
        (rc = exec(s, "PRAGMA cache_size=-65536", e)))
        goto fail;
    /* A file that is not a database fails here with a clear message. */
    if ((rc = migrate(s, e))) goto fail;
    return RC_OK;
fail:
    sqlite3_close(q->db);
    free(q);
    s->impl = NULL;
    return rc;
}

static void sq_close(struct store *s)
{
    struct sq *q = SQ(s);
    if (!q) return;
    if (q->in_tx) exec(s, "ROLLBACK", NULL);
    for (int i = 0; i < Q__COUNT; i++)
        sqlite3_finalize(q->stmts[i]);
    sqlite3_close(q->db);
    free(q->written);
    free(q);
    s->impl = NULL;
}

static enum rc sq_meta_get(struct store *s, const char *key, char **value, struct err *e)
{
    sqlite3_stmt *st = stmt(s, Q_META_GET, e);
    if (!st) return RC_DB;
    sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
    int r = sqlite3_step(st);
    enum rc rc = RC_OK;
    if (r == SQLITE_ROW)
        *value = xstrdup((const char *)sqlite3_column_text(st, 0));
    else if (r == SQLITE_DONE)
        rc = RC_NOT_FOUND;
    else
        rc = db_error(s, e, "read meta");
    sqlite3_reset(st);
    return rc;
}

static enum rc sq_meta_set(struct store *s, const char *key, const char *value, struct err *e)
{
    sqlite3_stmt *st = stmt(s, Q_META_SET, e);
    if (!st) return RC_DB;
    sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, value, -1, SQLITE_STATIC);
    return step_done(s, st, e, "write meta");
}

static enum rc sq_begin(struct store *s, struct err *e)
{
    /* IMMEDIATE takes the write lock now, so a busy database fails here, not mid-import. */
    enum rc rc = exec(s, "BEGIN IMMEDIATE", e);
    if (!rc) SQ(s)->in_tx = true;
    return rc;
}

static enum rc entity_versions_bump(struct store *s, struct err *e);

static enum rc sq_commit(struct store *s, struct err *e)
{
    enum rc rc = entity_versions_bump(s, e);
    if (!rc) rc = exec(s, "COMMIT", e);
    if (!rc) SQ(s)->in_tx = false;
    return rc;
}

static void sq_rollback(struct store *s)
{
    SQ(s)->nwritten = 0;
    if (!SQ(s)->in_tx) return;
    exec(s, "ROLLBACK", NULL);
    SQ(s)->in_tx = false;
}

/* ---- Resources ------------------------------------------------------------ */

static char *col_strdup(sqlite3_stmt *st, int i)
{
    const unsigned char *t = sqlite3_column_text(st, i);
    return t ? xstrdup((const char *)t) : NULL;
}

static void read_resource(sqlite3_stmt *st, struct resource *r)
{
    r->id = sqlite3_column_int64(st, 0);
    r->arn = col_strdup(st, 1);
    r->kind = col_strdup(st, 2);
    r->name = col_strdup(st, 3);
    r->parent_id = sqlite3_column_int64(st, 4);
    r->status = col_strdup(st, 5);
    r->failure_reason = col_strdup(st, 6);
    r->created = sqlite3_column_double(st, 7);
    r->updated = sqlite3_column_double(st, 8);
    r->attrs = col_strdup(st, 9);
    if (!r->attrs) r->attrs = xstrdup("{}");
}

static enum rc sq_resource_insert(struct store *s, struct resource *r, struct err *e)
{
    sqlite3_stmt *st = stmt(s, Q_RES_INSERT, e);
    if (!st) return RC_DB;
    double now = clock_wall();
    if (!r->created) r->created = now;
    if (!r->updated) r->updated = r->created;
    sqlite3_bind_text(st, 1, r->arn, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, r->kind, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, r->name, -1, SQLITE_STATIC);
    if (r->parent_id) sqlite3_bind_int64(st, 4, r->parent_id);
    sqlite3_bind_text(st, 5, r->status, -1, SQLITE_STATIC);
    if (r->failure_reason) sqlite3_bind_text(st, 6, r->failure_reason, -1, SQLITE_STATIC);
    sqlite3_bind_double(st, 7, r->created);
    sqlite3_bind_double(st, 8, r->updated);
    sqlite3_bind_text(st, 9, r->attrs ? r->attrs : "{}", -1, SQLITE_STATIC);
    enum rc rc = step_done(s, st, e, "insert resource");
    if (rc == RC_ALREADY_EXISTS)
        return err_set(e, RC_ALREADY_EXISTS, "store: a resource with ARN %s already exists",
                       r->arn);
    if (!rc) r->id = sqlite3_last_insert_rowid(SQ(s)->db);
    return rc;
}

static enum rc sq_resource_update(struct store *s, struct resource *r, struct err *e)
{
    sqlite3_stmt *st = stmt(s, Q_RES_UPDATE, e);
    if (!st) return RC_DB;
    r->updated = clock_wall();
    sqlite3_bind_int64(st, 1, r->id);
    sqlite3_bind_text(st, 2, r->status, -1, SQLITE_STATIC);
    if (r->failure_reason) sqlite3_bind_text(st, 3, r->failure_reason, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, r->attrs ? r->attrs : "{}", -1, SQLITE_STATIC);
    sqlite3_bind_double(st, 5, r->updated);
    enum rc rc = step_done(s, st, e, "update resource");
    if (!rc && sqlite3_changes(SQ(s)->db) == 0)
        return err_set(e, RC_NOT_FOUND, "store: resource %lld not found", (long long)r->id);
    return rc;
}

static enum rc sq_resource_delete(struct store *s, int64_t id, struct err *e)
{
    /* Everything keyed by the resource's id goes with it: SQLite may reuse the id later. */
    static const char *const sql[] = {
        "DELETE FROM id_chunks WHERE group_id = ?1",
        "DELETE FROM interaction_chunks WHERE dataset_id = ?1",
        "DELETE FROM entity_rows WHERE dataset_id = ?1",
        "DELETE FROM resources WHERE id = ?1",
    };
    for (size_t i = 0; i < ARRAY_SIZE(sql); i++) {
        sqlite3_stmt *st = NULL;
        if (sqlite3_prepare_v2(SQ(s)->db, sql[i], -1, &st, NULL) != SQLITE_OK)
            return db_error(s, e, "delete resource");
        sqlite3_bind_int64(st, 1, id);
        int r = sqlite3_step(st);
        sqlite3_finalize(st);
        if (r != SQLITE_DONE) return db_error(s, e, "delete resource");
        if (i + 1 == ARRAY_SIZE(sql) && sqlite3_changes(SQ(s)->db) == 0)
            return err_set(e, RC_NOT_FOUND, "store: resource %lld not found", (long long)id);
    }
    return RC_OK;
}

static enum rc sq_resource_get(struct store *s, const char *arn, int64_t id, struct resource *out,
                               struct err *e)
{
    sqlite3_stmt *st = stmt(s, arn ? Q_RES_GET_ARN : Q_RES_GET_ID, e);
    if (!st) return RC_DB;
    if (arn)
        sqlite3_bind_text(st, 1, arn, -1, SQLITE_STATIC);
    else
        sqlite3_bind_int64(st, 1, id);
    int r = sqlite3_step(st);
    enum rc rc = RC_OK;
    if (r == SQLITE_ROW)
        read_resource(st, out);
    else if (r == SQLITE_DONE)
        rc = arn ? err_set(e, RC_NOT_FOUND, "resource %s not found", arn)
                 : err_set(e, RC_NOT_FOUND, "resource %lld not found", (long long)id);
    else
        rc = db_error(s, e, "read resource");
    sqlite3_reset(st);
    return rc;
}

static enum rc sq_resource_list(struct store *s, const char *kind, int64_t parent_id,
                                struct resource **out, size_t *n, struct err *e)
{
    sqlite3_stmt *st = stmt(s, parent_id ? Q_RES_LIST_PARENT : Q_RES_LIST_KIND, e);
    if (!st) return RC_DB;
    sqlite3_bind_text(st, 1, kind, -1, SQLITE_STATIC);
    if (parent_id) sqlite3_bind_int64(st, 2, parent_id);
    struct resource *list = NULL;
    size_t count = 0, alloc = 0;
    int r;
    while ((r = sqlite3_step(st)) == SQLITE_ROW) {
        if (count == alloc) {
            alloc = alloc ? alloc * 2 : 8;
            list = xreallocarray(list, alloc, sizeof(*list));
        }
        memset(&list[count], 0, sizeof(list[count]));
        read_resource(st, &list[count++]);
    }
    sqlite3_reset(st);
    if (r != SQLITE_DONE) {
        resource_list_free(list, count);
        return db_error(s, e, "list resources");
    }
    *out = list;
    *n = count;
    return RC_OK;
}

/* ---- ID maps -------------------------------------------------------------- */

static enum rc sq_idmap_load(struct store *s, int64_t group_id, enum id_space space,
                             struct strmap *map, struct err *e)
{
    sqlite3_stmt *st = stmt(s, Q_ID_LOAD, e);
    if (!st) return RC_DB;
    sqlite3_bind_int64(st, 1, group_id);
    sqlite3_bind_int(st, 2, (int)space);
    int r;
    enum rc rc = RC_OK;
    while (!rc && (r = sqlite3_step(st)) == SQLITE_ROW) {
        int64_t first = sqlite3_column_int64(st, 0);
        int64_t count = sqlite3_column_int64(st, 1);
        const char *p = sqlite3_column_blob(st, 2);
        size_t len = (size_t)sqlite3_column_bytes(st, 2);
        if (first != (int64_t)strmap_count(map)) {
            rc = err_set(e, RC_DB, "store: ID map of group %lld is not contiguous at %lld",
                         (long long)group_id, (long long)first);
            break;
        }
        /* The blob is count strings, each followed by a NUL. */
        size_t off = 0;
        for (int64_t k = 0; k < count; k++) {
            const char *z = off < len ? memchr(p + off, '\0', len - off) : NULL;
            if (!z) {
                rc = err_set(e, RC_DB, "store: corrupt ID map chunk at %lld", (long long)first);
                break;
            }
            size_t klen = (size_t)(z - (p + off));
            bool added;
            strmap_intern(map, p + off, klen, &added);
            if (!added) {
                rc = err_set(e, RC_DB, "store: duplicate key in ID map chunk at %lld",
                             (long long)first);
                break;
            }
            off += klen + 1;
        }
    }
    if (!rc && r != SQLITE_DONE) rc = db_error(s, e, "load ID map");
    sqlite3_reset(st);
    return rc;
}

static enum rc sq_idmap_count(struct store *s, int64_t group_id, enum id_space space, uint32_t *n,
                              struct err *e)
{
    sqlite3_stmt *st = stmt(s, Q_ID_COUNT, e);
    if (!st) return RC_DB;
    sqlite3_bind_int64(st, 1, group_id);
    sqlite3_bind_int(st, 2, (int)space);
    enum rc rc = RC_OK;
    if (sqlite3_step(st) == SQLITE_ROW)
        *n = (uint32_t)sqlite3_column_int64(st, 0);
    else
        rc = db_error(s, e, "count ID map");
    sqlite3_reset(st);
    return rc;
}

#define ID_CHUNK_KEYS 65536

static enum rc sq_idmap_append(struct store *s, int64_t group_id, enum id_space space,
                               const struct strmap *map, uint32_t first, struct err *e)
{
    uint32_t total = strmap_count(map);
    char *blob = NULL;
    size_t blob_alloc = 0;
    enum rc rc = RC_OK;
    for (uint32_t start = first; start < total && !rc; start += ID_CHUNK_KEYS) {
        uint32_t end = total - start > ID_CHUNK_KEYS ? start + ID_CHUNK_KEYS : total;
        size_t len = 0;
        for (uint32_t k = start; k < end; k++) {
            size_t klen;
            const char *key = strmap_key(map, k, &klen);
            if (len + klen + 1 > blob_alloc) {
                blob_alloc = (len + klen + 1) * 2;
                blob = xrealloc(blob, blob_alloc);
            }
            memcpy(blob + len, key, klen);
            blob[len + klen] = '\0';
            len += klen + 1;
        }
        sqlite3_stmt *st = stmt(s, Q_ID_APPEND, e);
        if (!st) {
            rc = RC_DB;
            break;
        }
        sqlite3_bind_int64(st, 1, group_id);
        sqlite3_bind_int(st, 2, (int)space);
        sqlite3_bind_int64(st, 3, start);
        sqlite3_bind_int64(st, 4, end - start);
        sqlite3_bind_blob64(st, 5, blob ? blob : "", len, SQLITE_STATIC);
        rc = step_done(s, st, e, "append ID map");
    }
    free(blob);
    return rc;
}

/* ---- Interactions ------------------------------------------------------- */

static enum rc sq_interactions_append(struct store *s, int64_t dataset_id, enum origin origin,
                                      const struct interaction_chunk *c, struct err *e)
{
    if (!c->n) return RC_OK;
    sqlite3_stmt *st = stmt(s, Q_IA_APPEND, e);
    if (!st) return RC_DB;
    int64_t lo = c->ts[0], hi = c->ts[0];
    for (uint32_t i = 1; i < c->n; i++) {
        if (c->ts[i] < lo) lo = c->ts[i];
        if (c->ts[i] > hi) hi = c->ts[i];
    }
    sqlite3_bind_int64(st, 1, dataset_id);
    sqlite3_bind_int(st, 2, (int)origin);
    sqlite3_bind_int64(st, 3, c->n);
    sqlite3_bind_int64(st, 4, lo);
    sqlite3_bind_int64(st, 5, hi);
    sqlite3_bind_blob64(st, 6, c->users, (uint64_t)c->n * 4, SQLITE_STATIC);
    sqlite3_bind_blob64(st, 7, c->items, (uint64_t)c->n * 4, SQLITE_STATIC);
    sqlite3_bind_blob64(st, 8, c->ts, (uint64_t)c->n * 8, SQLITE_STATIC);
    sqlite3_bind_blob64(st, 9, c->event_types, (uint64_t)c->n * 4, SQLITE_STATIC);
    sqlite3_bind_blob64(st, 10, c->event_values, (uint64_t)c->n * 4, SQLITE_STATIC);
    sqlite3_bind_text(st, 11, c->extra_columns ? c->extra_columns : "", -1, SQLITE_STATIC);
    sqlite3_bind_blob64(st, 12, c->extra_len ? c->extra : "", c->extra_len, SQLITE_STATIC);
    return step_done(s, st, e, "append interactions");
}

static enum rc sq_interactions_delete(struct store *s, int64_t dataset_id, enum origin origin,
                                      struct err *e)
{
    sqlite3_stmt *st = stmt(s, Q_IA_DELETE, e);
    if (!st) return RC_DB;
    sqlite3_bind_int64(st, 1, dataset_id);
    sqlite3_bind_int(st, 2, (int)origin);
    return step_done(s, st, e, "delete interactions");
}

/* Column blobs must have exactly n elements of 'size' bytes; anything else is corruption. */
static const void *column(sqlite3_stmt *st, int i, uint32_t n, size_t size, bool *ok)
{
    if ((size_t)sqlite3_column_bytes(st, i) != (size_t)n * size) *ok = false;
    return sqlite3_column_blob(st, i);
}

static enum rc sq_interactions_scan(struct store *s, int64_t dataset_id, int64_t after,
                                    int64_t upto, store_chunk_fn fn, void *ctx, struct err *e)
{
    /* A fresh statement: scans may nest with other store calls from the callback. */
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(SQ(s)->db, stmt_sql[Q_IA_SCAN], -1, &st, NULL) != SQLITE_OK)
        return db_error(s, e, "scan interactions");
    sqlite3_bind_int64(st, 1, dataset_id);
    sqlite3_bind_int64(st, 2, after);
    sqlite3_bind_int64(st, 3, upto);
    enum rc rc = RC_OK;
    int r;
    while (!rc && (r = sqlite3_step(st)) == SQLITE_ROW) {
        struct interaction_chunk c;
        c.id = sqlite3_column_int64(st, 8);
        bool ok = true;
        c.n = (uint32_t)sqlite3_column_int64(st, 0);
        c.users = column(st, 1, c.n, 4, &ok);
        c.items = column(st, 2, c.n, 4, &ok);
        c.ts = column(st, 3, c.n, 8, &ok);
        c.event_types = column(st, 4, c.n, 4, &ok);
        c.event_values = column(st, 5, c.n, 4, &ok);
        c.extra_columns = (const char *)sqlite3_column_text(st, 6);
        c.extra = sqlite3_column_blob(st, 7);
        c.extra_len = (size_t)sqlite3_column_bytes(st, 7);
        if (!ok) {
            rc = err_set(e, RC_DB, "store: corrupt interaction chunk in dataset %lld",
                         (long long)dataset_id);
            break;
        }
        rc = fn(ctx, &c, e);
    }
    if (!rc && r != SQLITE_DONE) rc = db_error(s, e, "scan interactions");
    sqlite3_finalize(st);
    return rc;
}

static enum rc count_query(struct store *s, enum stmt_id id, int64_t dataset_id, uint64_t *n,
                           struct err *e)
{
    sqlite3_stmt *st = stmt(s, id, e);
    if (!st) return RC_DB;
    sqlite3_bind_int64(st, 1, dataset_id);
    enum rc rc = RC_OK;
    if (sqlite3_step(st) == SQLITE_ROW)
        *n = (uint64_t)sqlite3_column_int64(st, 0);
    else
        rc = db_error(s, e, "count");
    sqlite3_reset(st);
    return rc;
}

static enum rc sq_interactions_last_id(struct store *s, int64_t dataset_id, int64_t *id,
                                       struct err *e)
{
    sqlite3_stmt *st = stmt(s, Q_IA_LAST, e);
    if (!st) return RC_DB;
    sqlite3_bind_int64(st, 1, dataset_id);
    enum rc rc = RC_OK;
    if (sqlite3_step(st) == SQLITE_ROW)
        *id = sqlite3_column_int64(st, 0);
    else
        rc = db_error(s, e, "last interaction chunk");
    sqlite3_reset(st);
    return rc;
}

static enum rc sq_interactions_count(struct store *s, int64_t dataset_id, uint64_t *n,
                                     struct err *e)
{
    return count_query(s, Q_IA_COUNT, dataset_id, n, e);
}

/* ---- Entities ------------------------------------------------------------- */

static char *entity_version_key(int64_t dataset_id)
{
    return xasprintf("entity_version:%lld", (long long)dataset_id);
}

/* Bump the versions of the datasets written since the last bump (before COMMIT). */
static enum rc entity_versions_bump(struct store *s, struct err *e)
{
    struct sq *q = SQ(s);
    enum rc rc = RC_OK;
    for (size_t i = 0; i < q->nwritten && !rc; i++) {
        sqlite3_stmt *st = stmt(s, Q_ENT_VERSION_BUMP, e);
        if (!st) return RC_DB;
        char *key = entity_version_key(q->written[i]);
        sqlite3_bind_text(st, 1, key, -1, SQLITE_TRANSIENT);
        free(key);
        rc = step_done(s, st, e, "bump metadata version");
    }
    if (!rc) q->nwritten = 0;
    return rc;
}

/* Note that this transaction wrote dataset_id's rows (outside one: bump now). */
static enum rc entity_written(struct store *s, int64_t dataset_id, struct err *e)
{
    struct sq *q = SQ(s);
    bool noted = false;
    for (size_t i = 0; i < q->nwritten && !noted; i++)
        noted = q->written[i] == dataset_id;
    if (!noted) {
        if (q->nwritten == q->written_alloc) {
            q->written_alloc = q->written_alloc ? 2 * q->written_alloc : 4;
            q->written = xreallocarray(q->written, q->written_alloc, sizeof(*q->written));
        }
        q->written[q->nwritten++] = dataset_id;
    }
    return q->in_tx ? RC_OK : entity_versions_bump(s, e);
}

static enum rc sq_entity_upsert(struct store *s, int64_t dataset_id, uint32_t idx,
                                enum origin origin, int64_t created_ts, const char *json,
                                size_t json_len, struct err *e)
{
    sqlite3_stmt *st = stmt(s, Q_ENT_UPSERT, e);
    if (!st) return RC_DB;
    sqlite3_bind_int64(st, 1, dataset_id);
    sqlite3_bind_int64(st, 2, idx);
    sqlite3_bind_int(st, 3, (int)origin);
    sqlite3_bind_int64(st, 4, created_ts);
    sqlite3_bind_text64(st, 5, json, json_len, SQLITE_STATIC, SQLITE_UTF8);
    enum rc rc = step_done(s, st, e, "upsert metadata");
    return rc ? rc : entity_written(s, dataset_id, e);
}

static enum rc sq_entity_delete_all(struct store *s, int64_t dataset_id, enum origin origin,
                                    struct err *e)
{
    sqlite3_stmt *st = stmt(s, Q_ENT_DELETE, e);
    if (!st) return RC_DB;
    sqlite3_bind_int64(st, 1, dataset_id);
    sqlite3_bind_int(st, 2, (int)origin);
    enum rc rc = step_done(s, st, e, "delete metadata");
    return rc ? rc : entity_written(s, dataset_id, e);
}

static enum rc sq_entity_count(struct store *s, int64_t dataset_id, uint64_t *n, struct err *e)
{
    return count_query(s, Q_ENT_COUNT, dataset_id, n, e);
}

static enum rc sq_entity_scan(struct store *s, int64_t dataset_id, store_entity_fn fn, void *ctx,
                              struct err *e)
{
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(SQ(s)->db, stmt_sql[Q_ENT_SCAN], -1, &st, NULL) != SQLITE_OK)
        return db_error(s, e, "scan metadata");
    sqlite3_bind_int64(st, 1, dataset_id);
    enum rc rc = RC_OK;
    int r;
    while (!rc && (r = sqlite3_step(st)) == SQLITE_ROW)
        rc = fn(ctx, (uint32_t)sqlite3_column_int64(st, 0), sqlite3_column_int64(st, 1),
                (const char *)sqlite3_column_text(st, 2), e);
    if (!rc && r != SQLITE_DONE) rc = db_error(s, e, "scan metadata");
    sqlite3_finalize(st);
    return rc;
}

static enum rc sq_entity_version(struct store *s, int64_t dataset_id, uint64_t *version,
                                 struct err *e)
{
    char *key = entity_version_key(dataset_id), *value = NULL;
    enum rc rc = sq_meta_get(s, key, &value, e);
    free(key);
    *version = rc == RC_OK ? strtoull(value, NULL, 10) : 0;
    free(value);
    return rc == RC_NOT_FOUND ? RC_OK : rc;
}

const struct store_ops store_sqlite_ops = {
    .name = "sqlite",
    .open = sq_open,
    .close = sq_close,
    .meta_get = sq_meta_get,
    .meta_set = sq_meta_set,
    .begin = sq_begin,
    .commit = sq_commit,
    .rollback = sq_rollback,
    .resource_insert = sq_resource_insert,
    .resource_update = sq_resource_update,
    .resource_get = sq_resource_get,
    .resource_delete = sq_resource_delete,
    .resource_list = sq_resource_list,
    .idmap_load = sq_idmap_load,
    .idmap_count = sq_idmap_count,
    .idmap_append = sq_idmap_append,
    .interactions_append = sq_interactions_append,
    .interactions_delete = sq_interactions_delete,
    .interactions_scan = sq_interactions_scan,
    .interactions_last_id = sq_interactions_last_id,
    .interactions_count = sq_interactions_count,
    .entity_upsert = sq_entity_upsert,
    .entity_delete_all = sq_entity_delete_all,
    .entity_count = sq_entity_count,
    .entity_scan = sq_entity_scan,
    .entity_version = sq_entity_version,
};
