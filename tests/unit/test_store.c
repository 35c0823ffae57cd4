/*
 * test_store.c: unit tests for src/store (the data directory, ARNs, and the
 * SQLite backend: resources, ID maps, interactions, metadata, transactions).
 *
 * Each test gets a fresh temporary directory; the data directory is a
 * subdirectory of it that store_open() creates.
 */
#include "common/base.h"

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <ftw.h>
#include <math.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/strmap.h"
#include "store/extra.h"
#include "store/store.h"

/* ---- fixtures ---- */

struct fx {
    char tmp[64];    /* the mkdtemp directory */
    char *data;      /* tmp/data: the data directory */
    struct store *s; /* the store a test opened on 'data', closed by the teardown */
    char *scratch;   /* freed by the teardown, so a failing test does not leak it */
};

static int setup(void **state)
{
    struct fx *f = xcalloc(1, sizeof(*f));
    strlcpy_(f->tmp, "/tmp/savor-test-store.XXXXXX", sizeof(f->tmp));
    if (!mkdtemp(f->tmp)) return -1;
    f->data = xasprintf("%s/data", f->tmp);
    setenv("SAVOR_REGION", "us-west-2", 1);
    setenv("SAVOR_ACCOUNT_ID", "111122223333", 1);
    unsetenv("SAVOR_PARTITION");
    *state = f;
    return 0;
}

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    UNUSED(sb);
    UNUSED(flag);
    UNUSED(ftw);
    return remove(path);
}

static int teardown(void **state)
{
    struct fx *f = *state;
    store_close(f->s);
    free(f->scratch);
    nftw(f->tmp, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    free(f->data);
    free(f);
    return 0;
}

static struct store *open_ok(const char *dir)
{
    struct err e = ERR_INIT;
    struct store *s = NULL;
    enum rc rc = store_open(dir, &s, &e);
    if (rc) fail_msg("store_open(%s): %s: %s", dir, rc_name(rc), e.msg);
    assert_non_null(s);
    return s;
}

static void reopen(struct fx *f)
{
    store_close(f->s);
    f->s = open_ok(f->data);
}

/* 'call' must succeed; it reports through the 'e' in scope. */
#define OK(call)                                                           \
    do {                                                                   \
        enum rc ok__rc = (call);                                           \
        if (ok__rc) fail_msg("%s: %s: %s", #call, rc_name(ok__rc), e.msg); \
    } while (0)

static void write_file(const char *path, const void *data, size_t len)
{
    FILE *fp = fopen(path, "wb");
    assert_non_null(fp);
    assert_int_equal(fwrite(data, 1, len, fp), len);
    assert_int_equal(fclose(fp), 0);
}

static bool is_dir(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

/* Run a query returning one integer or text value on the raw database. */
static char *raw_query(const char *db_path, const char *sql)
{
    sqlite3 *db;
    assert_int_equal(sqlite3_open_v2(db_path, &db, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
        fail_msg("%s: %s", sql, sqlite3_errmsg(db));
    char *out = NULL;
    int r = sqlite3_step(st);
    if (r == SQLITE_ROW)
        out = xstrdup(sqlite3_column_text(st, 0) ? (const char *)sqlite3_column_text(st, 0) : "");
    else if (r != SQLITE_DONE)
        fail_msg("%s: %s", sql, sqlite3_errmsg(db));
    sqlite3_finalize(st);
    sqlite3_close(db);
    return out ? out : xstrdup("");
}

static void expect_raw(const char *db_path, const char *sql, const char *want)
{
    char *got = raw_query(db_path, sql);
    if (strcmp(got, want) != 0) fail_msg("%s: got \"%s\", expected \"%s\"", sql, got, want);
    free(got);
}

/* ---- the data directory ---- */

static void test_open_fresh(void **state)
{
    struct fx *f = *state;
    assert_false(is_dir(f->data));
    f->s = open_ok(f->data);
    assert_string_equal(store_dir(f->s), f->data);

    char *models = xasprintf("%s/models", f->data);
    char *db = xasprintf("%s/savor.db", f->data);
    assert_true(is_dir(models));
    struct stat st;
    assert_int_equal(stat(db, &st), 0);
    assert_true(S_ISREG(st.st_mode));

    /* The migrations ran: a schema version and every table. */
    char *v1 = raw_query(db, "PRAGMA user_version");
    assert_true(strtol(v1, NULL, 10) >= 1);
    static const char *const tables[] = {"meta", "resources", "id_chunks", "interaction_chunks",
                                         "entity_rows"};
    for (size_t i = 0; i < ARRAY_SIZE(tables); i++) {
        char *sql = xasprintf(
            "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = '%s'", tables[i]);
        expect_raw(db, sql, "1");
        free(sql);
    }
    expect_raw(db, "PRAGMA journal_mode", "wal");

    /* Reopening neither fails nor migrates again, and keeps the ARN settings. */
    reopen(f);
    char *v2 = raw_query(db, "PRAGMA user_version");
    assert_string_equal(v1, v2);
    expect_raw(db, "SELECT count(*) FROM meta WHERE key IN ('partition', 'region', 'account')",
               "3");
    /* An existing (empty) models/ directory is fine too. */
    store_close(f->s);
    f->s = NULL;
    assert_int_equal(rmdir(models), 0);
    f->s = open_ok(f->data);
    assert_true(is_dir(models));
    free(v1);
    free(v2);
    free(models);
    free(db);
}

static void test_open_newer_schema(void **state)
{
    struct fx *f = *state;
    f->s = open_ok(f->data);
    store_close(f->s);
    f->s = NULL;
    char *db = xasprintf("%s/savor.db", f->data);
    free(raw_query(db, "PRAGMA user_version = 999"));
    struct err e = ERR_INIT;
    struct store *s = NULL;
    assert_int_equal(store_open(f->data, &s, &e), RC_DB);
    assert_null(s);
    assert_non_null(strstr(e.msg, "newer"));
    assert_non_null(strstr(e.msg, db));
    free(db);
}

static void test_open_garbage_db(void **state)
{
    struct fx *f = *state;
    assert_int_equal(mkdir(f->data, 0755), 0);
    char *db = xasprintf("%s/savor.db", f->data);
    unsigned char junk[8192];
    uint32_t x = 12345;
    for (size_t i = 0; i < sizeof(junk); i++) {
        x = x * 1103515245u + 12345u;
        junk[i] = (unsigned char)(x >> 16);
    }
    write_file(db, junk, sizeof(junk));

    struct err e = ERR_INIT;
    struct store *s = NULL;
    enum rc rc = store_open(f->data, &s, &e);
    assert_int_equal(rc, RC_DB);
    assert_int_equal(e.rc, RC_DB);
    assert_null(s);
    if (!strstr(e.msg, db)) fail_msg("message \"%s\" does not name %s", e.msg, db);
    /* The file is left alone. */
    struct stat st;
    assert_int_equal(stat(db, &st), 0);
    assert_int_equal(st.st_size, sizeof(junk));
    free(db);
}

static void test_open_not_a_directory(void **state)
{
    struct fx *f = *state;
    struct err e = ERR_INIT;
    struct store *s = NULL;

    /* A regular file where the data directory should be. */
    write_file(f->data, "x", 1);
    assert_int_equal(store_open(f->data, &s, &e), RC_IO);
    assert_null(s);
    assert_non_null(strstr(e.msg, f->data));
    assert_non_null(strstr(e.msg, "not a directory"));

    /* A regular file where models/ should be. */
    char *dir2 = xasprintf("%s/d2", f->tmp);
    char *models = xasprintf("%s/models", dir2);
    assert_int_equal(mkdir(dir2, 0755), 0);
    write_file(models, "x", 1);
    err_clear(&e);
    assert_int_equal(store_open(dir2, &s, &e), RC_IO);
    assert_null(s);
    assert_non_null(strstr(e.msg, models));

    /* A data directory whose parent does not exist. */
    char *deep = xasprintf("%s/no/such/dir", f->tmp);
    err_clear(&e);
    assert_int_equal(store_open(deep, &s, &e), RC_IO);
    assert_null(s);
    assert_non_null(strstr(e.msg, deep));
    free(deep);
    free(models);
    free(dir2);
}

/* ---- ARNs ---- */

static void test_arn(void **state)
{
    struct fx *f = *state;
    setenv("SAVOR_REGION", "eu-west-1", 1);
    setenv("SAVOR_ACCOUNT_ID", "123456789012", 1);
    unsetenv("SAVOR_PARTITION");
    f->s = open_ok(f->data);
    char *arn = store_arn(f->s, KIND_DATASET_GROUP, "my-group");
    assert_string_equal(arn, "arn:aws:personalize:eu-west-1:123456789012:dataset-group/my-group");
    free(arn);
    arn = store_arn(f->s, KIND_DATASET, "my-group/INTERACTIONS");
    assert_string_equal(arn,
                        "arn:aws:personalize:eu-west-1:123456789012:dataset/my-group/INTERACTIONS");
    free(arn);

    /* Fixed at creation: a changed environment does not change existing ARNs. */
    setenv("SAVOR_REGION", "ap-south-1", 1);
    setenv("SAVOR_ACCOUNT_ID", "999999999999", 1);
    setenv("SAVOR_PARTITION", "aws-cn", 1);
    reopen(f);
    arn = store_arn(f->s, KIND_SCHEMA, "s");
    assert_string_equal(arn, "arn:aws:personalize:eu-west-1:123456789012:schema/s");
    free(arn);

    /* A new data directory takes the current environment. */
    char *dir2 = xasprintf("%s/d2", f->tmp);
    struct store *s2 = open_ok(dir2);
    arn = store_arn(s2, KIND_IMPORT_JOB, "j");
    assert_string_equal(arn, "arn:aws-cn:personalize:ap-south-1:999999999999:dataset-import-job/j");
    free(arn);
    store_close(s2);

    /* Unset or empty variables give the defaults. */
    char *dir3 = xasprintf("%s/d3", f->tmp);
    unsetenv("SAVOR_PARTITION");
    unsetenv("SAVOR_REGION");
    setenv("SAVOR_ACCOUNT_ID", "", 1);
    struct store *s3 = open_ok(dir3);
    arn = store_arn(s3, KIND_DATASET_GROUP, "g");
    assert_string_equal(arn, "arn:aws:personalize:us-east-1:000000000000:dataset-group/g");
    free(arn);
    store_close(s3);
    free(dir2);
    free(dir3);
}

/* ---- resources ---- */

static void test_resources(void **state)
{
    struct fx *f = *state;
    f->s = open_ok(f->data);
    struct err e = ERR_INIT;

    struct resource g1 = {0};
    g1.arn = store_arn(f->s, KIND_DATASET_GROUP, "g1");
    g1.kind = (char *)KIND_DATASET_GROUP;
    g1.name = (char *)"g1";
    g1.status = (char *)STATUS_ACTIVE;
    OK(store_resource_insert(f->s, &g1, &e));
    assert_true(g1.id > 0);
    assert_true(g1.created > 1.5e9); /* defaulted to now */
    assert_true(g1.updated == g1.created);

    struct resource ds = {0};
    ds.arn = store_arn(f->s, KIND_DATASET, "g1/INTERACTIONS");
    ds.kind = (char *)KIND_DATASET;
    ds.name = (char *)"interactions";
    ds.parent_id = g1.id;
    ds.status = (char *)STATUS_CREATE_PENDING;
    ds.attrs = (char *)"{\"datasetType\":\"INTERACTIONS\"}";
    ds.created = 1234.5;
    OK(store_resource_insert(f->s, &ds, &e));
    assert_true(ds.id > g1.id);

    struct resource g2 = {0};
    g2.arn = store_arn(f->s, KIND_DATASET_GROUP, "g2");
    g2.kind = (char *)KIND_DATASET_GROUP;
    g2.name = (char *)"g2";
    g2.status = (char *)STATUS_CREATE_FAILED;
    g2.failure_reason = (char *)"quota";
    OK(store_resource_insert(f->s, &g2, &e));

    /* The same ARN again is refused, naming it. */
    struct resource dup = g1;
    dup.id = 0;
    dup.name = (char *)"other";
    err_clear(&e);
    assert_int_equal(store_resource_insert(f->s, &dup, &e), RC_ALREADY_EXISTS);
    assert_int_equal(e.rc, RC_ALREADY_EXISTS);
    assert_non_null(strstr(e.msg, g1.arn));

    /* Get by ARN: every field round-trips. */
    struct resource r = {0};
    OK(store_resource_get(f->s, ds.arn, &r, &e));
    assert_int_equal(r.id, ds.id);
    assert_string_equal(r.arn, ds.arn);
    assert_string_equal(r.kind, KIND_DATASET);
    assert_string_equal(r.name, "interactions");
    assert_int_equal(r.parent_id, g1.id);
    assert_string_equal(r.status, STATUS_CREATE_PENDING);
    assert_null(r.failure_reason);
    assert_true(r.created == 1234.5);
    assert_true(r.updated == 1234.5);
    assert_string_equal(r.attrs, "{\"datasetType\":\"INTERACTIONS\"}");
    resource_release(&r);
    assert_null(r.arn);

    OK(store_resource_get(f->s, g1.arn, &r, &e));
    assert_int_equal(r.parent_id, 0);
    assert_string_equal(r.attrs, "{}"); /* NULL attrs are stored as {} */
    assert_string_equal(r.name, "g1");  /* not the duplicate's name */
    resource_release(&r);

    /* Get by id. */
    OK(store_resource_get_id(f->s, g2.id, &r, &e));
    assert_string_equal(r.arn, g2.arn);
    assert_string_equal(r.failure_reason, "quota");
    assert_string_equal(r.status, STATUS_CREATE_FAILED);
    resource_release(&r);

    /* Missing ones. */
    err_clear(&e);
    assert_int_equal(store_resource_get(f->s, "arn:aws:personalize:x:y:schema/none", &r, &e),
                     RC_NOT_FOUND);
    assert_non_null(strstr(e.msg, "schema/none"));
    assert_int_equal(store_resource_get_id(f->s, 999999, &r, &e), RC_NOT_FOUND);

    /* Lists, oldest first, by kind and by parent. */
    struct resource *list = NULL;
    size_t n = 99;
    OK(store_resource_list(f->s, KIND_DATASET_GROUP, 0, &list, &n, &e));
    assert_int_equal(n, 2);
    assert_string_equal(list[0].name, "g1");
    assert_string_equal(list[1].name, "g2");
    assert_string_equal(list[1].failure_reason, "quota");
    resource_list_free(list, n);
    OK(store_resource_list(f->s, KIND_DATASET, g1.id, &list, &n, &e));
    assert_int_equal(n, 1);
    assert_int_equal(list[0].id, ds.id);
    resource_list_free(list, n);
    OK(store_resource_list(f->s, KIND_DATASET, g2.id, &list, &n, &e));
    assert_int_equal(n, 0);
    resource_list_free(list, n);
    OK(store_resource_list(f->s, KIND_SCHEMA, 0, &list, &n, &e));
    assert_int_equal(n, 0);
    resource_list_free(list, n);
    OK(store_resource_list(f->s, KIND_DATASET, 0, &list, &n, &e));
    assert_int_equal(n, 1);
    resource_list_free(list, n);

    /* Update status, failure reason and attrs; 'updated' moves, 'created' stays. */
    struct resource u = ds;
    u.status = (char *)STATUS_CREATE_FAILED;
    u.failure_reason = (char *)"bad file";
    u.attrs = (char *)"{\"k\":2}";
    OK(store_resource_update(f->s, &u, &e));
    assert_true(u.updated > 1.5e9);
    OK(store_resource_get_id(f->s, ds.id, &r, &e));
    assert_string_equal(r.status, STATUS_CREATE_FAILED);
    assert_string_equal(r.failure_reason, "bad file");
    assert_string_equal(r.attrs, "{\"k\":2}");
    assert_true(r.created == 1234.5);
    assert_true(r.updated == u.updated);
    assert_string_equal(r.name, "interactions");
    assert_int_equal(r.parent_id, g1.id);
    resource_release(&r);
    /* Clearing the failure reason. */
    u.status = (char *)STATUS_ACTIVE;
    u.failure_reason = NULL;
    OK(store_resource_update(f->s, &u, &e));
    OK(store_resource_get(f->s, ds.arn, &r, &e));
    assert_null(r.failure_reason);
    assert_string_equal(r.status, STATUS_ACTIVE);
    resource_release(&r);
    /* Updating a missing id. */
    u.id = 424242;
    assert_int_equal(store_resource_update(f->s, &u, &e), RC_NOT_FOUND);

    /* Everything persists. */
    reopen(f);
    OK(store_resource_get(f->s, g2.arn, &r, &e));
    assert_int_equal(r.id, g2.id);
    resource_release(&r);

    free(g1.arn);
    free(g2.arn);
    free(ds.arn);
}

/*
 * A resource missing a required field (here the name) must be refused, but
 * not as "already exists": step_done() maps every SQLITE_CONSTRAINT, NOT
 * NULL included, to RC_ALREADY_EXISTS.
 */
static void test_resource_missing_field(void **state)
{
    struct fx *f = *state;
    f->s = open_ok(f->data);
    struct err e = ERR_INIT;
    struct resource r = {0};
    r.arn = f->scratch = store_arn(f->s, KIND_DATASET_GROUP, "nameless");
    r.kind = (char *)KIND_DATASET_GROUP;
    r.name = NULL;
    r.status = (char *)STATUS_ACTIVE;
    enum rc rc = store_resource_insert(f->s, &r, &e);
    assert_int_not_equal(rc, RC_OK);
    if (rc == RC_ALREADY_EXISTS) fail_msg("missing name reported as: %s", e.msg);
    /* Nothing was stored under that ARN. */
    struct resource got = {0};
    assert_int_equal(store_resource_get(f->s, r.arn, &got, &e), RC_NOT_FOUND);
}

/* ---- ID maps ---- */

static void add_keys(struct strmap *m, uint32_t from, uint32_t to)
{
    char key[64];
    for (uint32_t i = from; i < to; i++) {
        int n = snprintf(key, sizeof(key), "user-%u-\xC3\xA9", i);
        bool added;
        assert_int_equal(strmap_intern(m, key, (size_t)n, &added), i);
        assert_true(added);
    }
}

static void expect_same_map(const struct strmap *a, const struct strmap *b)
{
    assert_int_equal(strmap_count(a), strmap_count(b));
    for (uint32_t i = 0; i < strmap_count(a); i++) {
        size_t la, lb;
        const char *ka = strmap_key(a, i, &la);
        const char *kb = strmap_key(b, i, &lb);
        if (la != lb || memcmp(ka, kb, la) != 0) fail_msg("key %u: \"%s\" vs \"%s\"", i, ka, kb);
    }
}

static void test_idmap(void **state)
{
    struct fx *f = *state;
    f->s = open_ok(f->data);
    struct err e = ERR_INIT;
    struct strmap *m = strmap_new();

    /* Odd keys: empty, the longest allowed, multi-byte. */
    char longest[ID_MAX_LEN];
    memset(longest, 'L', sizeof(longest));
    assert_int_equal(strmap_intern(m, "", 0, NULL), 0);
    assert_int_equal(strmap_intern(m, longest, sizeof(longest), NULL), 1);
    assert_int_equal(strmap_intern(m, "\xF0\x9F\x98\x80", 4, NULL), 2);
    add_keys(m, 3, 10);
    OK(store_idmap_append(f->s, 7, ID_USERS, m, 0, &e));
    OK(store_idmap_append(f->s, 7, ID_USERS, m, 10, &e)); /* nothing new: a no-op */
    add_keys(m, 10, 70010);                               /* more than one 65536-key chunk */
    OK(store_idmap_append(f->s, 7, ID_USERS, m, 10, &e));
    add_keys(m, 70010, 70015);
    OK(store_idmap_append(f->s, 7, ID_USERS, m, 70010, &e));

    /* Another space and another group are separate. */
    struct strmap *items = strmap_new();
    assert_int_equal(strmap_intern(items, "item-1", 6, NULL), 0);
    assert_int_equal(strmap_intern(items, "item-2", 6, NULL), 1);
    OK(store_idmap_append(f->s, 7, ID_ITEMS, items, 0, &e));

    /* Counting agrees with the maps, without loading them. */
    uint32_t n = 99;
    OK(store_idmap_count(f->s, 7, ID_USERS, &n, &e));
    assert_int_equal(n, strmap_count(m));
    OK(store_idmap_count(f->s, 7, ID_ITEMS, &n, &e));
    assert_int_equal(n, 2);
    OK(store_idmap_count(f->s, 8, ID_USERS, &n, &e));
    assert_int_equal(n, 0);

    struct strmap *got = strmap_new();
    OK(store_idmap_load(f->s, 7, ID_USERS, got, &e));
    expect_same_map(m, got);
    uint32_t idx;
    assert_true(strmap_get(got, longest, sizeof(longest), &idx));
    assert_int_equal(idx, 1);
    assert_true(strmap_get(got, "", 0, &idx));
    assert_int_equal(idx, 0);
    strmap_free(got);

    got = strmap_new();
    OK(store_idmap_load(f->s, 7, ID_ITEMS, got, &e));
    expect_same_map(items, got);
    strmap_free(got);

    got = strmap_new();
    OK(store_idmap_load(f->s, 7, ID_EVENT_TYPES, got, &e));
    assert_int_equal(strmap_count(got), 0);
    OK(store_idmap_load(f->s, 8, ID_USERS, got, &e));
    assert_int_equal(strmap_count(got), 0);
    strmap_free(got);

    /* Loading into a map that is not empty is refused. */
    got = strmap_new();
    strmap_intern(got, "stray", 5, NULL);
    err_clear(&e);
    assert_int_equal(store_idmap_load(f->s, 7, ID_USERS, got, &e), RC_DB);
    assert_int_not_equal(e.msg[0], '\0');
    strmap_free(got);

    /* Appending from the start again would duplicate keys: refused. */
    assert_int_not_equal(store_idmap_append(f->s, 7, ID_USERS, m, 0, &e), RC_OK);

    /* Persisted across reopen. */
    reopen(f);
    got = strmap_new();
    OK(store_idmap_load(f->s, 7, ID_USERS, got, &e));
    expect_same_map(m, got);
    strmap_free(got);

    strmap_free(items);
    strmap_free(m);
}

/* ---- interactions ---- */

#define MAX_CHUNKS 8

struct seen_chunk {
    uint32_t n;
    uint32_t *users, *items, *event_types;
    int64_t *ts;
    float *event_values;
    char *extra_columns;
    void *extra;
    size_t extra_len;
};

struct seen {
    size_t n;
    struct seen_chunk c[MAX_CHUNKS];
    size_t stop_after; /* return RC_CANCELLED after this many chunks (0: never) */
};

static void *dup_mem(const void *p, size_t len)
{
    void *q = xmalloc(len ? len : 1);
    if (len) memcpy(q, p, len);
    return q;
}

static enum rc collect_chunk(void *ctx, const struct interaction_chunk *c, struct err *e)
{
    struct seen *s = ctx;
    assert_true(s->n < MAX_CHUNKS);
    struct seen_chunk *d = &s->c[s->n++];
    d->n = c->n;
    d->users = dup_mem(c->users, c->n * sizeof(uint32_t));
    d->items = dup_mem(c->items, c->n * sizeof(uint32_t));
    d->event_types = dup_mem(c->event_types, c->n * sizeof(uint32_t));
    d->ts = dup_mem(c->ts, c->n * sizeof(int64_t));
    d->event_values = dup_mem(c->event_values, c->n * sizeof(float));
    assert_non_null(c->extra_columns);
    d->extra_columns = xstrdup(c->extra_columns);
    d->extra = dup_mem(c->extra, c->extra_len);
    d->extra_len = c->extra_len;
    if (s->stop_after && s->n == s->stop_after) return err_set(e, RC_CANCELLED, "enough");
    return RC_OK;
}

static void seen_release(struct seen *s)
{
    for (size_t i = 0; i < s->n; i++) {
        struct seen_chunk *d = &s->c[i];
        free(d->users);
        free(d->items);
        free(d->event_types);
        free(d->ts);
        free(d->event_values);
        free(d->extra_columns);
        free(d->extra);
    }
    memset(s, 0, sizeof(*s));
}

/* A chunk of n rows whose values are derived from 'seed'. */
struct chunk_data {
    uint32_t users[70000], items[70000], types[70000];
    int64_t ts[70000];
    float values[70000];
};

static struct interaction_chunk make_chunk(struct chunk_data *d, uint32_t n, uint32_t seed)
{
    assert_true(n <= ARRAY_SIZE(d->users));
    for (uint32_t i = 0; i < n; i++) {
        d->users[i] = seed * 1000 + i;
        d->items[i] = seed + i * 7;
        d->types[i] = i % 3 == 0 ? EVENT_TYPE_NONE : i % 3;
        d->ts[i] =
            1700000000LL + (int64_t)seed * 100000 + (int64_t)(n - i) * 3 - 5000000000LL * (i == 1);
        d->values[i] = i % 4 == 0 ? NAN : (float)i * 0.5f;
    }
    struct interaction_chunk c = {.n = n,
                                  .users = d->users,
                                  .items = d->items,
                                  .ts = d->ts,
                                  .event_types = d->types,
                                  .event_values = d->values,
                                  .extra_columns = "",
                                  .extra = NULL,
                                  .extra_len = 0};
    return c;
}

static void expect_chunk(const struct seen_chunk *got, uint32_t n, uint32_t seed)
{
    static struct chunk_data want;
    make_chunk(&want, n, seed);
    assert_int_equal(got->n, n);
    for (uint32_t i = 0; i < n; i++) {
        if (got->users[i] != want.users[i] || got->items[i] != want.items[i] ||
            got->event_types[i] != want.types[i] || got->ts[i] != want.ts[i])
            fail_msg("chunk %u row %u differs", seed, i);
        if (isnan(want.values[i]) ? !isnan(got->event_values[i])
                                  : got->event_values[i] != want.values[i])
            fail_msg("chunk %u row %u: event value %g, expected %g", seed, i,
                     (double)got->event_values[i], (double)want.values[i]);
    }
}

static uint64_t ia_count(struct store *s, int64_t dataset)
{
    struct err e = ERR_INIT;
    uint64_t n = 12345;
    OK(store_interactions_count(s, dataset, &n, &e));
    return n;
}

/* Column values for the extra blob (NULL is a null value). */
static const char *const col_impression[] = {"i1|i2", NULL, "", "x", "caf\xC3\xA9"};
static const char *const col_recid[] = {"rec-1", "rec-2", NULL, NULL, "rec-5"};

static void build_extra(struct buf *blob)
{
    struct buf c1, c2;
    buf_init(&c1, BUF_NO_CAP);
    buf_init(&c2, BUF_NO_CAP);
    for (size_t i = 0; i < ARRAY_SIZE(col_impression); i++) {
        const char *a = col_impression[i], *b = col_recid[i];
        assert_int_equal(extra_put(&c1, a, a ? strlen(a) : 0), RC_OK);
        assert_int_equal(extra_put(&c2, b, b ? strlen(b) : 0), RC_OK);
    }
    buf_init(blob, BUF_NO_CAP);
    assert_int_equal(extra_add_column(blob, &c1), RC_OK);
    assert_int_equal(extra_add_column(blob, &c2), RC_OK);
    buf_release(&c1);
    buf_release(&c2);
}

static void expect_column(const void *blob, size_t len, size_t k, const char *const *values,
                          size_t n)
{
    const char *stream;
    size_t slen;
    assert_true(extra_column(blob, len, k, &stream, &slen));
    const char *p = stream, *end = stream + slen;
    for (size_t i = 0; i < n; i++) {
        const char *v;
        size_t vlen;
        bool is_null;
        if (!extra_next(&p, end, &v, &vlen, &is_null)) fail_msg("column %zu: no value %zu", k, i);
        if (!values[i]) {
            assert_true(is_null);
            assert_null(v);
        } else {
            assert_false(is_null);
            assert_int_equal(vlen, strlen(values[i]));
            assert_memory_equal(v, values[i], vlen);
        }
    }
    const char *v;
    size_t vlen;
    bool is_null;
    assert_false(extra_next(&p, end, &v, &vlen, &is_null)); /* exactly n values */
}

static void test_interactions(void **state)
{
    struct fx *f = *state;
    f->s = open_ok(f->data);
    struct err e = ERR_INIT;
    static struct chunk_data d;

    assert_int_equal(ia_count(f->s, 5), 0);

    /* Bulk chunk 1 with extra columns. */
    struct buf blob;
    build_extra(&blob);
    struct interaction_chunk c = make_chunk(&d, 5, 1);
    c.extra_columns = "IMPRESSION,RECOMMENDATION_ID";
    c.extra = blob.data;
    c.extra_len = blob.len;
    OK(store_interactions_append(f->s, 5, ORIGIN_BULK, &c, &e));
    buf_release(&blob);

    /* An event chunk, a big bulk chunk, an empty chunk (no-op), another dataset. */
    c = make_chunk(&d, 3, 2);
    c.extra_columns = NULL;
    OK(store_interactions_append(f->s, 5, ORIGIN_EVENTS, &c, &e));
    c = make_chunk(&d, 65536, 3);
    OK(store_interactions_append(f->s, 5, ORIGIN_BULK, &c, &e));
    c = make_chunk(&d, 0, 4);
    OK(store_interactions_append(f->s, 5, ORIGIN_BULK, &c, &e));
    c = make_chunk(&d, 2, 9);
    OK(store_interactions_append(f->s, 6, ORIGIN_BULK, &c, &e));

    assert_int_equal(ia_count(f->s, 5), 5 + 3 + 65536);
    assert_int_equal(ia_count(f->s, 6), 2);

    /* Scan: insertion order, values round-trip, extras decode. */
    struct seen seen = {0};
    OK(store_interactions_scan(f->s, 5, collect_chunk, &seen, &e));
    assert_int_equal(seen.n, 3);
    expect_chunk(&seen.c[0], 5, 1);
    expect_chunk(&seen.c[1], 3, 2);
    expect_chunk(&seen.c[2], 65536, 3);
    assert_string_equal(seen.c[0].extra_columns, "IMPRESSION,RECOMMENDATION_ID");
    expect_column(seen.c[0].extra, seen.c[0].extra_len, 0, col_impression,
                  ARRAY_SIZE(col_impression));
    expect_column(seen.c[0].extra, seen.c[0].extra_len, 1, col_recid, ARRAY_SIZE(col_recid));
    const char *stream;
    size_t slen;
    assert_false(extra_column(seen.c[0].extra, seen.c[0].extra_len, 2, &stream, &slen));
    assert_string_equal(seen.c[1].extra_columns, "");
    assert_int_equal(seen.c[1].extra_len, 0);
    seen_release(&seen);

    /* A callback error stops the scan and comes back. */
    seen.stop_after = 1;
    err_clear(&e);
    assert_int_equal(store_interactions_scan(f->s, 5, collect_chunk, &seen, &e), RC_CANCELLED);
    assert_int_equal(seen.n, 1);
    assert_string_equal(e.msg, "enough");
    seen_release(&seen);

    /* Delete by origin. */
    OK(store_interactions_delete(f->s, 5, ORIGIN_BULK, &e));
    assert_int_equal(ia_count(f->s, 5), 3);
    assert_int_equal(ia_count(f->s, 6), 2);
    OK(store_interactions_scan(f->s, 5, collect_chunk, &seen, &e));
    assert_int_equal(seen.n, 1);
    expect_chunk(&seen.c[0], 3, 2);
    seen_release(&seen);

    /* Persisted. */
    reopen(f);
    assert_int_equal(ia_count(f->s, 5), 3);
    OK(store_interactions_scan(f->s, 6, collect_chunk, &seen, &e));
    assert_int_equal(seen.n, 1);
    expect_chunk(&seen.c[0], 2, 9);
    seen_release(&seen);
    OK(store_interactions_delete(f->s, 5, ORIGIN_EVENTS, &e));
    assert_int_equal(ia_count(f->s, 5), 0);
    OK(store_interactions_scan(f->s, 5, collect_chunk, &seen, &e));
    assert_int_equal(seen.n, 0);
}

static void test_extra_decoding(void **state)
{
    UNUSED(state);
    /* Long values need multi-byte varints. */
    struct buf col, blob;
    buf_init(&col, BUF_NO_CAP);
    buf_init(&blob, BUF_NO_CAP);
    char big[20000];
    memset(big, 'b', sizeof(big));
    assert_int_equal(extra_put(&col, big, sizeof(big)), RC_OK);
    assert_int_equal(extra_put(&col, big, 127), RC_OK);
    assert_int_equal(extra_put(&col, NULL, 0), RC_OK);
    assert_int_equal(extra_add_column(&blob, &col), RC_OK);
    const char *stream, *v;
    size_t slen, vlen;
    bool is_null;
    assert_true(extra_column(blob.data, blob.len, 0, &stream, &slen));
    const char *p = stream, *end = stream + slen;
    assert_true(extra_next(&p, end, &v, &vlen, &is_null));
    assert_int_equal(vlen, sizeof(big));
    assert_false(is_null);
    assert_true(extra_next(&p, end, &v, &vlen, &is_null));
    assert_int_equal(vlen, 127);
    assert_true(extra_next(&p, end, &v, &vlen, &is_null));
    assert_true(is_null);
    assert_ptr_equal(p, end);

    /* Corrupt input is refused rather than over-read. */
    p = stream;
    assert_false(extra_next(&p, stream + 1, &v, &vlen, &is_null)); /* varint cut short */
    p = stream;
    assert_false(extra_next(&p, stream + 100, &v, &vlen, &is_null));        /* value cut short */
    assert_false(extra_column(blob.data, 3, 0, &stream, &slen));            /* length cut short */
    assert_false(extra_column(blob.data, blob.len - 1, 0, &stream, &slen)); /* column cut */
    static const char overlong[] = "\xFF\xFF\xFF\xFF\xFF\xFF\xFF\xFF\xFF\xFF\xFF\x01";
    p = overlong;
    assert_false(extra_next(&p, overlong + sizeof(overlong) - 1, &v, &vlen, &is_null));
    /* An empty blob has no columns. */
    assert_false(extra_column("", 0, 0, &stream, &slen));
    buf_release(&col);
    buf_release(&blob);
}

/* ---- item and user metadata ---- */

struct ent_row {
    uint32_t idx;
    int64_t created;
    char *json;
};

struct ents {
    size_t n;
    struct ent_row r[16];
    size_t stop_after;
};

static enum rc collect_entity(void *ctx, uint32_t idx, int64_t created_ts, const char *json,
                              struct err *e)
{
    struct ents *s = ctx;
    assert_true(s->n < ARRAY_SIZE(s->r));
    s->r[s->n].idx = idx;
    s->r[s->n].created = created_ts;
    s->r[s->n].json = xstrdup(json);
    s->n++;
    if (s->stop_after && s->n == s->stop_after) return err_set(e, RC_CANCELLED, "stop");
    return RC_OK;
}

static void ents_release(struct ents *s)
{
    for (size_t i = 0; i < s->n; i++)
        free(s->r[i].json);
    memset(s, 0, sizeof(*s));
}

static uint64_t ent_count(struct store *s, int64_t dataset)
{
    struct err e = ERR_INIT;
    uint64_t n = 12345;
    OK(store_entity_count(s, dataset, &n, &e));
    return n;
}

static void upsert(struct store *s, int64_t ds, uint32_t idx, enum origin o, int64_t ts,
                   const char *json)
{
    struct err e = ERR_INIT;
    enum rc rc = store_entity_upsert(s, ds, idx, o, ts, json, strlen(json), &e);
    if (rc) fail_msg("upsert %u: %s", idx, e.msg);
}

static void test_entities(void **state)
{
    struct fx *f = *state;
    f->s = open_ok(f->data);
    struct err e = ERR_INIT;

    assert_int_equal(ent_count(f->s, 3), 0);
    upsert(f->s, 3, 30, ORIGIN_BULK, 1700000000, "{\"GENRE\":\"drama\"}");
    upsert(f->s, 3, 10, ORIGIN_BULK, -1, "{\"GENRE\":\"comedy\"}");
    upsert(f->s, 3, 20, ORIGIN_BULK, 5, "{}");
    upsert(f->s, 4, 10, ORIGIN_BULK, 7, "{\"other\":1}");
    /* Only json_len bytes are stored. */
    static const char longer[] = "{\"PRICE\":9.5}TRAILING";
    OK(store_entity_upsert(f->s, 3, 40, ORIGIN_EVENTS, 9, longer, 13, &e));
    assert_int_equal(ent_count(f->s, 3), 4);
    assert_int_equal(ent_count(f->s, 4), 1);

    /* Replace: same index, new data and origin; the count does not grow. */
    upsert(f->s, 3, 20, ORIGIN_EVENTS, 6, "{\"GENRE\":\"horror\"}");
    assert_int_equal(ent_count(f->s, 3), 4);

    struct ents got = {0};
    OK(store_entity_scan(f->s, 3, collect_entity, &got, &e));
    assert_int_equal(got.n, 4);
    assert_int_equal(got.r[0].idx, 10); /* index order, not insertion order */
    assert_int_equal(got.r[0].created, -1);
    assert_string_equal(got.r[0].json, "{\"GENRE\":\"comedy\"}");
    assert_int_equal(got.r[1].idx, 20);
    assert_int_equal(got.r[1].created, 6);
    assert_string_equal(got.r[1].json, "{\"GENRE\":\"horror\"}");
    assert_int_equal(got.r[2].idx, 30);
    assert_int_equal(got.r[2].created, 1700000000);
    assert_int_equal(got.r[3].idx, 40);
    assert_string_equal(got.r[3].json, "{\"PRICE\":9.5}");
    ents_release(&got);

    /* A callback error stops the scan. */
    got.stop_after = 2;
    err_clear(&e);
    assert_int_equal(store_entity_scan(f->s, 3, collect_entity, &got, &e), RC_CANCELLED);
    assert_int_equal(got.n, 2);
    assert_string_equal(e.msg, "stop");
    ents_release(&got);

    /* Deleting the bulk rows keeps the ones that came from events (20 was replaced by one). */
    OK(store_entity_delete_all(f->s, 3, ORIGIN_BULK, &e));
    assert_int_equal(ent_count(f->s, 3), 2);
    assert_int_equal(ent_count(f->s, 4), 1);
    OK(store_entity_scan(f->s, 3, collect_entity, &got, &e));
    assert_int_equal(got.n, 2);
    assert_int_equal(got.r[0].idx, 20);
    assert_int_equal(got.r[1].idx, 40);
    ents_release(&got);

    reopen(f);
    assert_int_equal(ent_count(f->s, 3), 2);
    OK(store_entity_delete_all(f->s, 3, ORIGIN_EVENTS, &e));
    assert_int_equal(ent_count(f->s, 3), 0);
    OK(store_entity_scan(f->s, 3, collect_entity, &got, &e));
    assert_int_equal(got.n, 0);
    assert_int_equal(ent_count(f->s, 4), 1);
}

static uint64_t ent_version(struct store *s, int64_t dataset)
{
    struct err e = ERR_INIT;
    uint64_t v = 12345;
    OK(store_entity_version(s, dataset, &v, &e));
    return v;
}

/* The metadata version moves once per committed write, on every connection, and only then. */
static void test_entity_version(void **state)
{
    struct fx *f = *state;
    f->s = open_ok(f->data);
    struct err e = ERR_INIT;
    struct store *other = open_ok(f->data); /* another process's view */
    assert_int_equal(ent_version(f->s, 3), 0);

    /* Outside a transaction: each write is its own commit. */
    upsert(f->s, 3, 1, ORIGIN_BULK, -1, "{}");
    assert_int_equal(ent_version(f->s, 3), 1);
    assert_int_equal(ent_version(other, 3), 1);
    upsert(f->s, 3, 2, ORIGIN_BULK, -1, "{}");
    assert_int_equal(ent_version(other, 3), 2);

    /* One transaction of many writes: one step, seen by others only at commit. */
    OK(store_begin(f->s, &e));
    for (uint32_t i = 0; i < 50; i++)
        upsert(f->s, 3, i, ORIGIN_BULK, -1, "{\"A\":1}");
    upsert(f->s, 4, 1, ORIGIN_BULK, -1, "{}");
    assert_int_equal(ent_version(other, 3), 2);
    OK(store_commit(f->s, &e));
    assert_int_equal(ent_version(other, 3), 3);
    assert_int_equal(ent_version(other, 4), 1);

    /* A rolled-back write leaves it, and is not counted by the next commit. */
    OK(store_begin(f->s, &e));
    upsert(f->s, 3, 7, ORIGIN_BULK, -1, "{}");
    store_rollback(f->s);
    assert_int_equal(ent_version(other, 3), 3);
    OK(store_begin(f->s, &e));
    upsert(f->s, 4, 2, ORIGIN_BULK, -1, "{}");
    OK(store_commit(f->s, &e));
    assert_int_equal(ent_version(other, 3), 3);
    assert_int_equal(ent_version(other, 4), 2);

    /* Reads and other tables do not move it; deletes do. */
    assert_int_equal(ent_count(f->s, 3), 50);
    assert_int_equal(ent_version(other, 3), 3);
    OK(store_entity_delete_all(other, 3, ORIGIN_BULK, &e));
    assert_int_equal(ent_version(f->s, 3), 4);
    reopen(f);
    assert_int_equal(ent_version(f->s, 3), 4);
    store_close(other);
}

/* ---- transactions ---- */

/* Write one of everything for dataset 'ds' / group 'ds'; returns the resource's ARN. */
static char *write_everything(struct store *s, int64_t ds, const char *name)
{
    struct err e = ERR_INIT;
    struct resource r = {0};
    r.arn = store_arn(s, KIND_DATASET_GROUP, name);
    r.kind = (char *)KIND_DATASET_GROUP;
    r.name = (char *)name;
    r.status = (char *)STATUS_ACTIVE;
    OK(store_resource_insert(s, &r, &e));
    struct strmap *m = strmap_new();
    strmap_intern(m, "u1", 2, NULL);
    strmap_intern(m, "u2", 2, NULL);
    OK(store_idmap_append(s, ds, ID_USERS, m, 0, &e));
    strmap_free(m);
    static struct chunk_data d;
    struct interaction_chunk c = make_chunk(&d, 4, 1);
    OK(store_interactions_append(s, ds, ORIGIN_BULK, &c, &e));
    upsert(s, ds, 1, ORIGIN_BULK, -1, "{}");
    return r.arn;
}

static void expect_everything(struct store *s, int64_t ds, const char *arn, bool present)
{
    struct err e = ERR_INIT;
    struct resource r = {0};
    enum rc rc = store_resource_get(s, arn, &r, &e);
    assert_int_equal(rc, present ? RC_OK : RC_NOT_FOUND);
    resource_release(&r);
    struct strmap *m = strmap_new();
    OK(store_idmap_load(s, ds, ID_USERS, m, &e));
    assert_int_equal(strmap_count(m), present ? 2 : 0);
    strmap_free(m);
    assert_int_equal(ia_count(s, ds), present ? 4 : 0);
    assert_int_equal(ent_count(s, ds), present ? 1 : 0);
}

static void test_transactions(void **state)
{
    struct fx *f = *state;
    f->s = open_ok(f->data);
    struct err e = ERR_INIT;

    store_rollback(f->s); /* safe without a transaction */

    /* Rollback undoes every kind of write. */
    OK(store_begin(f->s, &e));
    char *a1 = write_everything(f->s, 1, "rolled-back");
    expect_everything(f->s, 1, a1, true); /* visible inside the transaction */
    store_rollback(f->s);
    expect_everything(f->s, 1, a1, false);
    store_rollback(f->s); /* twice is fine */

    /* Commit persists across reopen. */
    OK(store_begin(f->s, &e));
    char *a2 = write_everything(f->s, 2, "committed");
    OK(store_commit(f->s, &e));
    reopen(f);
    expect_everything(f->s, 2, a2, true);
    expect_everything(f->s, 1, a1, false);

    /* A transaction still open at close is rolled back. */
    OK(store_begin(f->s, &e));
    char *a3 = write_everything(f->s, 3, "abandoned");
    reopen(f);
    expect_everything(f->s, 3, a3, false);
    expect_everything(f->s, 2, a2, true);

    /* Nested begin is an error, and the outer transaction is still usable. */
    OK(store_begin(f->s, &e));
    err_clear(&e);
    assert_int_equal(store_begin(f->s, &e), RC_DB);
    assert_non_null(strstr(e.msg, "savor.db"));
    char *a4 = write_everything(f->s, 4, "outer");
    OK(store_commit(f->s, &e));
    expect_everything(f->s, 4, a4, true);
    /* Commit without a transaction is an error. */
    assert_int_equal(store_commit(f->s, &e), RC_DB);

    /* A failed write inside a transaction, then rollback: nothing of it remains. */
    OK(store_begin(f->s, &e));
    char *a5 = write_everything(f->s, 5, "failed");
    struct resource dup = {0};
    dup.arn = a5;
    dup.kind = (char *)KIND_DATASET_GROUP;
    dup.name = (char *)"dup";
    dup.status = (char *)STATUS_ACTIVE;
    assert_int_equal(store_resource_insert(f->s, &dup, &e), RC_ALREADY_EXISTS);
    store_rollback(f->s);
    expect_everything(f->s, 5, a5, false);
    reopen(f);
    expect_everything(f->s, 4, a4, true);
    expect_everything(f->s, 5, a5, false);

    free(a1);
    free(a2);
    free(a3);
    free(a4);
    free(a5);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_open_fresh, setup, teardown),
        cmocka_unit_test_setup_teardown(test_open_newer_schema, setup, teardown),
        cmocka_unit_test_setup_teardown(test_open_garbage_db, setup, teardown),
        cmocka_unit_test_setup_teardown(test_open_not_a_directory, setup, teardown),
        cmocka_unit_test_setup_teardown(test_arn, setup, teardown),
        cmocka_unit_test_setup_teardown(test_resources, setup, teardown),
        cmocka_unit_test_setup_teardown(test_resource_missing_field, setup, teardown),
        cmocka_unit_test_setup_teardown(test_idmap, setup, teardown),
        cmocka_unit_test_setup_teardown(test_interactions, setup, teardown),
        cmocka_unit_test(test_extra_decoding),
        cmocka_unit_test_setup_teardown(test_entities, setup, teardown),
        cmocka_unit_test_setup_teardown(test_entity_version, setup, teardown),
        cmocka_unit_test_setup_teardown(test_transactions, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
