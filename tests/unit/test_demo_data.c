/*
 * test_demo_data.c: the generated demo dataset: format, referential
 * integrity, ordering, determinism, learnable structure and option checks.
 */
#include "common/base.h"

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <sys/stat.h>
#include <unistd.h>

#include "demo/demo_data.h"

#define N_USERS    300u
#define N_ITEMS    120u
#define N_CREATORS 20u
#define N_EVENTS   8000u
#define END_TIME   INT64_C(1767225600)
#define WINDOW     (180 * INT64_C(86400))

static const char *const genres[] = {
    "romance",       "fantasy", "action",   "comedy", "drama",   "horror",
    "slice-of-life", "sci-fi",  "thriller", "sports", "mystery", "historical",
};
static const char *const formats[] = {"webtoon", "illustration", "novel", "short"};
static const char *const ages[] = {"13-17", "18-24", "25-34", "35-44", "45+"};
static const char *const langs[] = {"en", "ko", "ja", "es"};

/* ---- helpers ---- */

static char *make_tmpdir(void)
{
    const char *base = getenv("TMPDIR");
    char *tmpl = xasprintf("%s/savor-demo-XXXXXX", base && *base ? base : "/tmp");
    assert_non_null(mkdtemp(tmpl));
    return tmpl;
}

static void remove_tree(char *dir)
{
    static const char *const names[] = {"items.csv", "users.csv", "interactions.csv"};
    for (size_t i = 0; i < ARRAY_SIZE(names); i++) {
        char *p = xasprintf("%s/%s", dir, names[i]);
        unlink(p);
        free(p);
    }
    rmdir(dir);
    free(dir);
}

static char *read_file(const char *dir, const char *name, size_t *len)
{
    char *path = xasprintf("%s/%s", dir, name);
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    size_t cap = 1 << 16, n = 0;
    char *data = xmalloc(cap);
    for (;;) {
        if (n + 1 >= cap) {
            cap *= 2;
            data = xrealloc(data, cap);
        }
        size_t got = fread(data + n, 1, cap - n - 1, f);
        if (got == 0) break;
        n += got;
    }
    assert_false(ferror(f));
    fclose(f);
    free(path);
    data[n] = '\0';
    if (len) *len = n;
    return data;
}

/* Split 'line' in place at commas; returns the number of fields. */
static size_t split(char *line, char **fields, size_t max, char sep)
{
    size_t n = 0;
    char *p = line;
    for (;;) {
        if (n < max) fields[n] = p;
        n++;
        char *c = strchr(p, sep);
        if (!c) break;
        *c = '\0';
        p = c + 1;
    }
    return n;
}

/* Next line of a NUL-terminated text (newline replaced); NULL at the end. */
static char *next_line(char **cursor)
{
    char *p = *cursor;
    if (!*p) return NULL;
    char *nl = strchr(p, '\n');
    assert_non_null(nl); /* every row ends with a newline */
    *nl = '\0';
    *cursor = nl + 1;
    return p;
}

/* "user-00042" -> 42 when it has the prefix and >= 'width' digits only. */
static unsigned long parse_id(const char *s, const char *prefix, size_t width)
{
    size_t pl = strlen(prefix);
    if (strncmp(s, prefix, pl) != 0) fail_msg("bad id '%s' (want %s...)", s, prefix);
    const char *d = s + pl;
    size_t nd = strspn(d, "0123456789");
    if (nd < width || d[nd] != '\0') fail_msg("bad id '%s'", s);
    return strtoul(d, NULL, 10);
}

static long long parse_ll(const char *s)
{
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || end == s || *end) fail_msg("bad number '%s'", s);
    return v;
}

static int index_of(const char *s, const char *const *set, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(s, set[i]) == 0) return (int)i;
    return -1;
}

static size_t count_lines(const char *s)
{
    size_t n = 0;
    for (; *s; s++)
        n += *s == '\n';
    return n;
}

static bool files_equal(const char *d1, const char *d2, const char *name)
{
    size_t l1, l2;
    char *a = read_file(d1, name, &l1);
    char *b = read_file(d2, name, &l2);
    bool eq = l1 == l2 && memcmp(a, b, l1) == 0;
    free(a);
    free(b);
    return eq;
}

static struct demo_opts small_opts(void)
{
    struct demo_opts o;
    demo_opts_default(&o);
    o.users = N_USERS;
    o.items = N_ITEMS;
    o.creators = N_CREATORS;
    o.events = N_EVENTS;
    return o;
}

/* ---- the shared small dataset, parsed ---- */

struct dataset {
    char *dir;
    int64_t created[N_ITEMS + 1]; /* by work number; 0 = absent */
    int primary[N_ITEMS + 1];     /* primary genre index */
    bool user[N_USERS + 1];
    uint32_t user_events[N_USERS + 1];
    uint32_t user_genre[N_USERS + 1][ARRAY_SIZE(genres)];
    uint32_t item_events[N_ITEMS + 1];
    size_t type_count[3];
    bool parsed;
};

static struct dataset *ds;

static void parse_items(struct dataset *d)
{
    char *text = read_file(d->dir, "items.csv", NULL);
    char *cur = text, *line = next_line(&cur);
    assert_non_null(line);
    assert_string_equal(line, "ITEM_ID,GENRES,CREATOR_ID,FORMAT,CREATION_TIMESTAMP");
    bool creator_seen[N_CREATORS + 1] = {false};
    size_t rows = 0;
    int64_t prev_created = 0;
    while ((line = next_line(&cur))) {
        char *f[8];
        assert_int_equal(split(line, f, 8, ','), 5);
        unsigned long id = parse_id(f[0], "work-", 5);
        assert_true(id >= 1 && id <= N_ITEMS);
        assert_int_equal(d->created[id], 0); /* no duplicate IDs */

        char *g[4];
        size_t ng = split(f[1], g, 4, '|');
        assert_true(ng >= 1 && ng <= 3);
        for (size_t i = 0; i < ng; i++) {
            assert_true(index_of(g[i], genres, ARRAY_SIZE(genres)) >= 0);
            for (size_t j = 0; j < i; j++)
                assert_string_not_equal(g[i], g[j]);
        }
        d->primary[id] = index_of(g[0], genres, ARRAY_SIZE(genres));

        unsigned long c = parse_id(f[2], "creator-", 3);
        assert_true(c >= 1 && c <= N_CREATORS);
        creator_seen[c] = true;
        assert_true(index_of(f[3], formats, ARRAY_SIZE(formats)) >= 0);

        int64_t t = parse_ll(f[4]);
        assert_true(t >= END_TIME - 365 * INT64_C(86400) && t < END_TIME);
        assert_true(t >= prev_created); /* numbered in creation order */
        prev_created = t;
        d->created[id] = t;
        rows++;
    }
    assert_int_equal(rows, N_ITEMS);
    for (unsigned c = 1; c <= N_CREATORS; c++)
        assert_true(creator_seen[c]); /* every creator has a work */
    free(text);
}

static void parse_users(struct dataset *d)
{
    char *text = read_file(d->dir, "users.csv", NULL);
    char *cur = text, *line = next_line(&cur);
    assert_non_null(line);
    assert_string_equal(line, "USER_ID,AGE_GROUP,PREFERRED_LANGUAGE");
    size_t rows = 0;
    while ((line = next_line(&cur))) {
        char *f[4];
        assert_int_equal(split(line, f, 4, ','), 3);
        unsigned long id = parse_id(f[0], "user-", 5);
        assert_true(id >= 1 && id <= N_USERS);
        assert_false(d->user[id]);
        d->user[id] = true;
        assert_true(index_of(f[1], ages, ARRAY_SIZE(ages)) >= 0);
        assert_true(index_of(f[2], langs, ARRAY_SIZE(langs)) >= 0);
        rows++;
    }
    assert_int_equal(rows, N_USERS);
    free(text);
}

static void parse_interactions(struct dataset *d)
{
    static const char *const types[] = {"view", "like", "subscribe"};
    char *text = read_file(d->dir, "interactions.csv", NULL);
    char *cur = text, *line = next_line(&cur);
    assert_non_null(line);
    assert_string_equal(line, "USER_ID,ITEM_ID,EVENT_TYPE,EVENT_VALUE,TIMESTAMP");
    /* Per (user, work): has a view been seen yet. */
    bool *viewed = xcalloc((size_t)(N_USERS + 1) * (N_ITEMS + 1), sizeof(*viewed));
    size_t rows = 0;
    int64_t prev = 0;
    while ((line = next_line(&cur))) {
        char *f[8];
        assert_int_equal(split(line, f, 8, ','), 5);
        unsigned long u = parse_id(f[0], "user-", 5);
        unsigned long it = parse_id(f[1], "work-", 5);
        assert_true(u >= 1 && u <= N_USERS && d->user[u]);
        assert_true(it >= 1 && it <= N_ITEMS && d->created[it] != 0);

        int type = index_of(f[2], types, ARRAY_SIZE(types));
        assert_true(type >= 0);
        long long value = parse_ll(f[3]);
        if (type == 0)
            assert_true(value >= 1 && value <= 100); /* percent read */
        else
            assert_int_equal(value, 1);

        int64_t t = parse_ll(f[4]);
        assert_true(t >= END_TIME - WINDOW && t <= END_TIME);
        assert_true(t >= prev); /* sorted by timestamp */
        prev = t;
        if (t <= d->created[it])
            fail_msg("%s interacted with at %lld, created %lld", f[1], (long long)t,
                     (long long)d->created[it]);

        bool *v = &viewed[u * (N_ITEMS + 1) + it];
        if (type == 0)
            *v = true;
        else if (!*v)
            fail_msg("%s %s %s before any view of it", f[0], f[2], f[1]);

        d->type_count[type]++;
        d->user_events[u]++;
        d->item_events[it]++;
        d->user_genre[u][d->primary[it]]++;
        rows++;
    }
    assert_int_equal(rows, N_EVENTS);
    assert_int_equal(prev, END_TIME); /* the last event is at end_time */
    free(viewed);
    free(text);
}

/* Parse (and so check) the three files once; later tests use the counts. */
static void ensure_parsed(struct dataset *d)
{
    if (d->parsed) return;
    parse_items(d);
    parse_users(d);
    parse_interactions(d);
    d->parsed = true;
}

static int setup(void **state)
{
    UNUSED(state);
    ds = xcalloc(1, sizeof(*ds));
    ds->dir = make_tmpdir();
    struct demo_opts o = small_opts();
    struct err e = ERR_INIT;
    enum rc rc = demo_generate(ds->dir, &o, &e);
    if (rc) {
        fprintf(stderr, "demo_generate: %s\n", e.msg);
        return -1;
    }
    return 0;
}

static int teardown(void **state)
{
    UNUSED(state);
    remove_tree(ds->dir);
    free(ds);
    return 0;
}

/* ---- tests ---- */

static void test_defaults(void **state)
{
    UNUSED(state);
    struct demo_opts o;
    memset(&o, 0xff, sizeof(o));
    demo_opts_default(&o);
    assert_int_equal(o.users, 5000);
    assert_int_equal(o.items, 2000);
    assert_int_equal(o.creators, 200);
    assert_int_equal(o.events, 200000);
    assert_int_equal(o.seed, 42);
    assert_int_equal(o.end_time, INT64_C(1767225600));
}

static void test_headers_and_counts(void **state)
{
    UNUSED(state);
    static const struct {
        const char *name;
        const char *header;
        size_t rows;
    } files[] = {
        {"items.csv", "ITEM_ID,GENRES,CREATOR_ID,FORMAT,CREATION_TIMESTAMP\n", N_ITEMS},
        {"users.csv", "USER_ID,AGE_GROUP,PREFERRED_LANGUAGE\n", N_USERS},
        {"interactions.csv", "USER_ID,ITEM_ID,EVENT_TYPE,EVENT_VALUE,TIMESTAMP\n", N_EVENTS},
    };
    for (size_t i = 0; i < ARRAY_SIZE(files); i++) {
        size_t len;
        char *text = read_file(ds->dir, files[i].name, &len);
        size_t hl = strlen(files[i].header);
        assert_true(len > hl);
        assert_memory_equal(text, files[i].header, hl);
        assert_int_equal(text[len - 1], '\n');
        assert_int_equal(count_lines(text), files[i].rows + 1);
        free(text);
    }
}

static void test_integrity(void **state)
{
    UNUSED(state);
    ensure_parsed(ds);
    /* All three event types occur; views dominate; subscribes are rarest. */
    assert_true(ds->type_count[0] > N_EVENTS / 2);
    assert_true(ds->type_count[1] > 0 && ds->type_count[2] > 0);
    assert_true(ds->type_count[2] < ds->type_count[1]);
}

static int cmp_u32_desc(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return (x < y) - (x > y);
}

static void test_structure(void **state)
{
    UNUSED(state);
    ensure_parsed(ds);
    assert_int_equal(ds->type_count[0] + ds->type_count[1] + ds->type_count[2], N_EVENTS);

    /* Tastes: readers concentrate on a genre (uniform choice gives ~0.15). */
    double share_sum = 0;
    size_t n = 0;
    for (unsigned u = 1; u <= N_USERS; u++) {
        if (ds->user_events[u] < 20) continue;
        uint32_t top = 0;
        for (size_t g = 0; g < ARRAY_SIZE(genres); g++)
            top = MAX(top, ds->user_genre[u][g]);
        share_sum += (double)top / ds->user_events[u];
        n++;
    }
    assert_true(n >= 50);
    double avg = share_sum / (double)n;
    if (avg <= 0.4) fail_msg("average top-genre share %.3f, want > 0.4", avg);

    /* Heavy-tailed activity: the busiest reader far above the median. */
    uint32_t ue[N_USERS];
    for (unsigned u = 0; u < N_USERS; u++)
        ue[u] = ds->user_events[u + 1];
    qsort(ue, N_USERS, sizeof(ue[0]), cmp_u32_desc);
    assert_true(ue[0] >= 5 * ue[N_USERS / 2]);

    /* Heavy-tailed popularity: the top 10% of works hold > 30% of events. */
    uint32_t ie[N_ITEMS];
    for (unsigned i = 0; i < N_ITEMS; i++)
        ie[i] = ds->item_events[i + 1];
    qsort(ie, N_ITEMS, sizeof(ie[0]), cmp_u32_desc);
    uint64_t top = 0;
    for (unsigned i = 0; i < N_ITEMS / 10; i++)
        top += ie[i];
    assert_true(top * 10 > (uint64_t)N_EVENTS * 3);
}

static void test_deterministic(void **state)
{
    UNUSED(state);
    static const char *const names[] = {"items.csv", "users.csv", "interactions.csv"};
    struct demo_opts o = small_opts();
    struct err e = ERR_INIT;
    char *again = make_tmpdir();
    assert_int_equal(demo_generate(again, &o, &e), RC_OK);
    for (size_t i = 0; i < ARRAY_SIZE(names); i++)
        assert_true(files_equal(ds->dir, again, names[i]));

    char *other = make_tmpdir();
    o.seed = 43;
    assert_int_equal(demo_generate(other, &o, &e), RC_OK);
    assert_false(files_equal(ds->dir, other, "interactions.csv"));
    assert_false(files_equal(ds->dir, other, "items.csv"));
    remove_tree(again);
    remove_tree(other);
}

static void test_tiny(void **state)
{
    UNUSED(state);
    struct demo_opts o;
    demo_opts_default(&o);
    o.users = 1;
    o.items = 1;
    o.creators = 1;
    o.events = 1;
    char *dir = make_tmpdir();
    struct err e = ERR_INIT;
    assert_int_equal(demo_generate(dir, &o, &e), RC_OK);
    char *text = read_file(dir, "interactions.csv", NULL);
    assert_int_equal(count_lines(text), 2);
    assert_non_null(strstr(text, "\nuser-00001,work-00001,view,"));
    free(text);

    /* More readers than events: still exactly 'events' rows. */
    o.users = 500;
    o.items = 30;
    o.creators = 30;
    o.events = 77;
    assert_int_equal(demo_generate(dir, &o, &e), RC_OK);
    text = read_file(dir, "interactions.csv", NULL);
    assert_int_equal(count_lines(text), 78);
    free(text);
    remove_tree(dir);
}

static void expect_invalid(const struct demo_opts *o, const char *word)
{
    struct err e = ERR_INIT;
    assert_int_equal(demo_generate("/nonexistent-savor-dir", o, &e), RC_INVALID_INPUT);
    assert_int_equal(e.rc, RC_INVALID_INPUT);
    if (!strstr(e.msg, word)) fail_msg("message '%s' does not mention '%s'", e.msg, word);
}

static void test_invalid_opts(void **state)
{
    UNUSED(state);
    struct demo_opts o = small_opts();
    o.users = 0;
    expect_invalid(&o, "users");
    o = small_opts();
    o.items = 0;
    expect_invalid(&o, "items");
    o = small_opts();
    o.creators = 0;
    expect_invalid(&o, "creators");
    o = small_opts();
    o.creators = o.items + 1;
    expect_invalid(&o, "creators");
    o = small_opts();
    o.events = 0;
    expect_invalid(&o, "events");
    o = small_opts();
    o.events = (uint64_t)DEMO_MAX_EVENTS + 1;
    expect_invalid(&o, "events");
    o = small_opts();
    o.end_time = 0;
    expect_invalid(&o, "end_time");
}

static void test_io_errors(void **state)
{
    UNUSED(state);
    struct demo_opts o = small_opts();
    struct err e = ERR_INIT;
    char *dir = make_tmpdir();
    char *missing = xasprintf("%s/missing", dir);
    assert_int_equal(demo_generate(missing, &o, &e), RC_IO);
    if (!strstr(e.msg, missing)) fail_msg("message '%s' lacks the path", e.msg);
    free(missing);

    /* A write that fails (disk full) is reported with the file's path. */
    struct stat st;
    if (stat("/dev/full", &st) == 0) {
        char *link = xasprintf("%s/items.csv", dir);
        assert_int_equal(symlink("/dev/full", link), 0);
        err_clear(&e);
        assert_int_equal(demo_generate(dir, &o, &e), RC_IO);
        if (!strstr(e.msg, "items.csv") || !strstr(e.msg, strerror(ENOSPC)))
            fail_msg("message '%s' lacks the path or cause", e.msg);
        free(link);
    }
    remove_tree(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),      cmocka_unit_test(test_headers_and_counts),
        cmocka_unit_test(test_integrity),     cmocka_unit_test(test_structure),
        cmocka_unit_test(test_deterministic), cmocka_unit_test(test_tiny),
        cmocka_unit_test(test_invalid_opts),  cmocka_unit_test(test_io_errors),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
