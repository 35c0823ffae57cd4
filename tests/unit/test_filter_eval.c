/*
 * test_filter_eval.c: filters evaluated end to end on a trained model: each
 * operator, placeholders, chaining, AND/OR, IF CurrentUser, CurrentItem,
 * empty and total filters, schema errors and the complete-results property;
 * Personalize's latest-100-interactions-per-event-type limit; the in-place
 * verdict of single-condition filters against the general evaluation.
 *
 * The property behind most cases: with popularity-count, a filtered list is
 * the unfiltered ranking restricted to the items the predicate accepts,
 * cut at n. The predicates are written here in C, independently of the
 * filter code.
 */
#include "common/base.h"

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <unistd.h>

#include "dataset/dataset.h"
#include "filter/filter.h"
#include "filter/filter_int.h"
#include "import/import.h"
#include "models/engine.h"
#include "store/store.h"

#define NITEMS 40

static char dir[64];
static struct store *st;
static char *pop_arn, *sims_arn;
static struct model *pop, *sims;

static void write_file(const char *name, const char *text, char **path)
{
    *path = xasprintf("%s/%s", dir, name);
    FILE *fp = fopen(*path, "w");
    assert_non_null(fp);
    fputs(text, fp);
    fclose(fp);
}

static void import(const char *name, enum dataset_type t, const char *text)
{
    char *path;
    write_file(name, text, &path);
    struct import_opts o = {.group = "g", .type = t, .input = path};
    struct import_report rep;
    struct err e = ERR_INIT;
    if (import_run(st, &o, &rep, &e)) fail_msg("import %s: %s", name, e.msg);
    import_report_release(&rep);
    free(path);
}

/*
 * Item iNN: GENRE drama (NN % 3 == 0), comedy|drama (1) or action (2); PRICE NN;
 * PREMIUM NN even; created 1700000000 + NN. Item NN has NN background users, so
 * popularity grows with NN. u1 (AGE 30, gold): click i05, purchase i10, Click i15,
 * view i20. u2: AGE 15, free.
 */
static int setup(void **state)
{
    UNUSED(state);
    snprintf(dir, sizeof(dir), "/tmp/savor-tf.XXXXXX");
    assert_non_null(mkdtemp(dir));
    struct err e = ERR_INIT;
    assert_int_equal(store_open(dir, &st, &e), RC_OK);
    char *items = xstrdup("ITEM_ID,GENRE,PRICE,PREMIUM,CREATION_TIMESTAMP\n");
    char *inter = xstrdup("USER_ID,ITEM_ID,EVENT_TYPE,TIMESTAMP\n");
    for (int i = 1; i <= NITEMS; i++) {
        static const char *const genre[] = {"drama", "comedy|drama", "action"};
        char *t = xasprintf("%si%02d,%s,%d.5,%s,%d\n", items, i, genre[i % 3], i,
                            i % 2 ? "false" : "true", 1700000000 + i);
        free(items);
        items = t;
        for (int b = 1; b <= i; b++) {
            t = xasprintf("%sb%d,i%02d,view,%d\n", inter, b, i, 1700001000 + b);
            free(inter);
            inter = t;
        }
    }
    char *t = xasprintf("%su1,i05,click,1700002000\nu1,i10,purchase,1700002001\n"
                        "u1,i15,Click,1700002002\nu1,i20,view,1700002003\n",
                        inter);
    free(inter);
    inter = t;
    import("items.csv", DATASET_ITEMS, items);
    import("inter.csv", DATASET_INTERACTIONS, inter);
    import("users.csv", DATASET_USERS, "USER_ID,AGE,TIER\nu1,30,gold\nu2,15,free\n");
    free(items);
    free(inter);
    struct train_request r = {.group = "g", .recipe = "aws-popularity-count", .threads = 1};
    if (engine_train(st, &r, &pop_arn, &e)) fail_msg("train: %s", e.msg);
    r.recipe = "aws-sims";
    if (engine_train(st, &r, &sims_arn, &e)) fail_msg("train sims: %s", e.msg);
    assert_int_equal(model_open_version(st, pop_arn, &pop, &e), RC_OK);
    assert_int_equal(model_open_version(st, sims_arn, &sims, &e), RC_OK);
    return 0;
}

static void remove_dir(const char *d)
{
    char *cmd = xasprintf("rm -rf '%s'", d);
    assert_int_equal(system(cmd), 0);
    free(cmd);
}

static int teardown(void **state)
{
    UNUSED(state);
    model_close(pop);
    model_close(sims);
    free(pop_arn);
    free(sims_arn);
    store_close(st);
    remove_dir(dir);
    return 0;
}

/* ---- Helpers -------------------------------------------------------------- */

struct list {
    int item[64]; /* item numbers, in order */
    size_t n;
};

static void to_list(json_t *doc, struct list *l)
{
    json_t *a = json_object_get(doc, "itemList");
    if (!a) a = json_object_get(doc, "personalizedRanking");
    l->n = 0;
    size_t i;
    json_t *x;
    json_array_foreach(a, i, x)
    {
        const char *id = json_string_value(json_object_get(x, "itemId"));
        l->item[l->n++] = id[0] == 'i' ? (int)strtol(id + 1, NULL, 10) : -1;
    }
}

static struct filter *compile(const char *text)
{
    struct filter *f = NULL;
    struct err e = ERR_INIT;
    if (filter_compile_text(st, "g", text, &f, &e)) fail_msg("compile '%s': %s", text, e.msg);
    return f;
}

/* Recommend for 'user' with 'text' bound to 'values'; RC of the bind or the answer. */
static enum rc recommend(struct model *m, const char *user, const char *item, const char *text,
                         const char *values, size_t n, struct list *l, struct err *e)
{
    struct filter *f = text ? compile(text) : NULL;
    struct filter_bound *b = NULL;
    enum rc rc = f ? filter_bind_text(f, values, &b, e) : RC_OK;
    json_t *doc = NULL;
    if (!rc) rc = model_recommend(m, user, item, n, false, NULL, b, &doc, e);
    if (!rc) to_list(doc, l);
    json_decref(doc);
    filter_bound_free(b);
    filter_free(f);
    return rc;
}

typedef bool (*pred_fn)(int item);

/* The filtered list must be the unfiltered ranking restricted to 'pred', cut at n. */
static void expect(const char *user, const char *text, const char *values, size_t n, pred_fn pred)
{
    struct list all, got, want = {.n = 0};
    struct err e = ERR_INIT;
    assert_int_equal(recommend(pop, user, NULL, NULL, NULL, NITEMS, &all, &e), RC_OK);
    assert_int_equal(all.n, NITEMS);
    for (size_t i = 0; i < all.n && want.n < n; i++)
        if (pred(all.item[i])) want.item[want.n++] = all.item[i];
    if (recommend(pop, user, NULL, text, values, n, &got, &e))
        fail_msg("'%s' (%s): %s", text, values ? values : "no values", e.msg);
    if (got.n != want.n) fail_msg("'%s': %zu items, want %zu", text, got.n, want.n);
    for (size_t i = 0; i < want.n; i++)
        if (got.item[i] != want.item[i])
            fail_msg("'%s': item %zu is i%02d, want i%02d", text, i, got.item[i], want.item[i]);
}

static bool drama(int i)
{
    return i % 3 != 2;
}
static bool not_drama(int i)
{
    return i % 3 == 2;
}
static bool lt10(int i)
{
    return i + 0.5 < 10;
}
static bool le10(int i)
{
    return i + 0.5 <= 10.5;
}
static bool gt30(int i)
{
    return i + 0.5 > 30.5;
}
static bool ge30(int i)
{
    return i + 0.5 >= 30.5;
}
static bool eq7(int i)
{
    return i == 7;
}
static bool premium(int i)
{
    return i % 2 == 0;
}
static bool not_premium(int i)
{
    return i % 2 == 1;
}
static bool never_touched_by_u1(int i)
{
    return i != 5 && i != 10 && i != 15 && i != 20;
}
static bool not_clicked_by_u1(int i)
{
    return i != 5 && i != 15;
}
static bool purchased_by_u1(int i)
{
    return i == 10;
}
static bool every(int i)
{
    UNUSED(i);
    return true;
}
static bool none(int i)
{
    UNUSED(i);
    return false;
}
static bool action_or_comedy(int i)
{
    return i % 3 != 0;
}
static bool chained(int i)
{
    return (i + 0.5 < 10 || i + 0.5 > 35) && i % 3 != 2;
}
static bool and_or(int i)
{
    return (i + 0.5 < 10 && i % 3 == 2) || i + 0.5 > 38;
}
static bool cheap(int i)
{
    return i <= 12;
}
static bool not_i40(int i)
{
    return i != 40;
}
static bool never_touched_by_u1_nor_40(int i)
{
    return never_touched_by_u1(i) && i != 40;
}
static bool ge10(int i)
{
    return !lt10(i);
}
static bool adult_only_cheap(int i)
{
    return i <= 12;
}
static bool newer_than_25(int i)
{
    return 1700000000 + i > 1700000025;
}

/* ---- Cases ---------------------------------------------------------------- */

static void test_items_operators(void **state)
{
    UNUSED(state);
    expect("u2", "INCLUDE ItemID WHERE Items.GENRE IN (\"drama\")", NULL, 25, drama);
    expect("u2", "EXCLUDE ItemID WHERE Items.GENRE IN (\"drama\")", NULL, 25, not_drama);
    expect("u2", "INCLUDE ItemID WHERE Items.GENRE NOT IN (\"action\")", NULL, 25, drama);
    expect("u2", "INCLUDE ItemID WHERE Items.GENRE = \"action\"", NULL, 25, not_drama);
    expect("u2", "INCLUDE ItemID WHERE Items.PRICE < 10", NULL, 25, lt10);
    expect("u2", "INCLUDE ItemID WHERE Items.PRICE <= 10.5", NULL, 25, le10);
    expect("u2", "INCLUDE ItemID WHERE Items.PRICE > 30.5", NULL, 25, gt30);
    expect("u2", "INCLUDE ItemID WHERE Items.PRICE >= 30.5", NULL, 25, ge30);
    expect("u2", "INCLUDE ItemID WHERE Items.PRICE = 7.5", NULL, 25, eq7);
    expect("u2", "INCLUDE ItemID WHERE Items.PRICE IN (7.5, 1000)", NULL, 25, eq7);
    expect("u2", "INCLUDE ItemID WHERE Items.PREMIUM = true", NULL, 25, premium);
    expect("u2", "INCLUDE ItemID WHERE Items.PREMIUM IN (\"False\")", NULL, 25, not_premium);
    expect("u2", "EXCLUDE ItemID WHERE Items.ITEM_ID IN (\"i40\")", NULL, 25, not_i40);
    expect("u2", "INCLUDE ItemID WHERE Items.CREATION_TIMESTAMP > 1700000025", NULL, 25,
           newer_than_25);
}

static void test_interactions(void **state)
{
    UNUSED(state);
    expect("u1", "EXCLUDE ItemID WHERE Interactions.EVENT_TYPE IN (\"*\")", NULL, 25,
           never_touched_by_u1);
    expect("u1", "EXCLUDE ItemID WHERE Interactions.EVENT_TYPE IN (*)", NULL, 25,
           never_touched_by_u1);
    /* Event types match without regard to case: "click" and "Click". */
    expect("u1", "EXCLUDE ItemID WHERE Interactions.EVENT_TYPE IN (\"CLICK\")", NULL, 25,
           not_clicked_by_u1);
    expect("u1", "INCLUDE ItemID WHERE Interactions.EVENT_TYPE IN (\"purchase\")", NULL, 25,
           purchased_by_u1);
    expect("u1", "INCLUDE ItemID WHERE Interactions.EVENT_TYPE IN ($T)",
           "{\"T\": \"\\\"purchase\\\"\"}", 25, purchased_by_u1);
    /* A user without interactions: nothing to exclude, nothing to include. */
    expect("u2", "EXCLUDE ItemID WHERE Interactions.EVENT_TYPE IN (\"*\")", NULL, 25, every);
    expect("nobody", "INCLUDE ItemID WHERE Interactions.EVENT_TYPE IN (\"*\")", NULL, 25, none);
}

static void test_placeholders(void **state)
{
    UNUSED(state);
    expect("u2", "INCLUDE ItemID WHERE Items.GENRE IN ($G)", "{\"G\": \"\\\"action\\\"\"}", 25,
           not_drama);
    expect("u2", "INCLUDE ItemID WHERE Items.GENRE IN ($G)",
           "{\"G\": \"\\\"action\\\",\\\"comedy\\\"\"}", 25, action_or_comedy);
    expect("u2", "INCLUDE ItemID WHERE Items.PRICE < $P", "{\"P\": \"10\"}", 25, lt10);
    expect("u2", "INCLUDE ItemID WHERE Items.PRICE < $P", "{\"P\": \"\\\"10\\\"\"}", 25, lt10);
    expect("u2", "INCLUDE ItemID WHERE Items.PREMIUM = $B", "{\"B\": \"\\\"true\\\"\"}", 25,
           premium);
    expect("u2", "INCLUDE ItemID WHERE Items.CREATION_TIMESTAMP > $T", "{\"T\": \"1700000025\"}",
           25, newer_than_25);
    /* The same values twice come from the cache, and give the same answer. */
    expect("u2", "INCLUDE ItemID WHERE Items.GENRE IN ($G)", "{\"G\": \"\\\"action\\\"\"}", 25,
           not_drama);
    /* EXCLUDE without its parameter: that condition is ignored (as Personalize). */
    expect("u2", "EXCLUDE ItemID WHERE Items.GENRE IN ($G)", NULL, 25, every);
}

static void test_missing_parameters(void **state)
{
    UNUSED(state);
    /* EXCLUDE: the missing part goes, the rest stays. */
    expect("u2", "EXCLUDE ItemID WHERE Items.GENRE IN ($G) OR Items.PRICE < 10", "{}", 25, ge10);
    /* INCLUDE: an error naming the parameter. */
    struct list l;
    struct err e = ERR_INIT;
    assert_int_equal(
        recommend(pop, "u2", NULL, "INCLUDE ItemID WHERE Items.GENRE IN ($G)", NULL, 25, &l, &e),
        RC_INVALID_INPUT);
    assert_string_equal(e.msg, "filter parameter $G has no value in filterValues (INCLUDE "
                               "expressions need all their parameters)");
}

static void test_chaining_and_or(void **state)
{
    UNUSED(state);
    expect("u2",
           "INCLUDE ItemID WHERE Items.PRICE < 10 | INCLUDE ItemID WHERE Items.PRICE > 35 | "
           "EXCLUDE ItemID WHERE Items.GENRE IN (\"action\")",
           NULL, 25, chained);
    expect("u2",
           "INCLUDE ItemID WHERE Items.PRICE < 10 AND Items.GENRE IN (\"action\") OR "
           "Items.PRICE > 38",
           NULL, 25, and_or);
    /* Items and interactions, joined with |. */
    expect("u1",
           "EXCLUDE ItemID WHERE Interactions.EVENT_TYPE IN (\"*\") | EXCLUDE ItemID WHERE "
           "Items.ITEM_ID IN (\"i40\")",
           NULL, 40, never_touched_by_u1_nor_40);
}

static void test_if_current_user(void **state)
{
    UNUSED(state);
    const char *f = "INCLUDE ItemID WHERE Items.PRICE <= 12.5 IF CurrentUser.AGE > 18";
    expect("u1", f, NULL, 25, adult_only_cheap);
    /* u2 is 15: the expression does not apply to them. */
    expect("u2", f, NULL, 25, every);
    /* An unknown user has no metadata: it does not apply either. */
    expect("nobody", f, NULL, 25, every);
    expect("u1", "EXCLUDE ItemID WHERE Items.PRICE > 12.5 IF CurrentUser.TIER IN ($T)",
           "{\"T\": \"\\\"gold\\\"\"}", 25, adult_only_cheap);
    expect("u2", "EXCLUDE ItemID WHERE Items.PRICE > 12.5 IF CurrentUser.TIER IN ($T)",
           "{\"T\": \"\\\"gold\\\"\"}", 25, every);
}

static void test_empty_total_and_complete(void **state)
{
    UNUSED(state);
    expect("u2", "INCLUDE ItemID WHERE Items.PRICE > 1000", NULL, 25, none);
    expect("u2", "EXCLUDE ItemID WHERE Items.PRICE > 1000", NULL, 25, every);
    expect("u2", "EXCLUDE ItemID WHERE Items.PRICE < 1000", NULL, 25, none);
    /*
     * The 12 cheapest items are the 12 least popular: unfiltered, none is in the
     * top 10; filtered during selection, the list is still 10 long.
     */
    struct list l;
    struct err e = ERR_INIT;
    assert_int_equal(recommend(pop, "u2", NULL, NULL, NULL, 10, &l, &e), RC_OK);
    for (size_t i = 0; i < l.n; i++)
        assert_false(cheap(l.item[i]));
    assert_int_equal(
        recommend(pop, "u2", NULL, "INCLUDE ItemID WHERE Items.PRICE < 12.6", NULL, 10, &l, &e),
        RC_OK);
    assert_int_equal(l.n, 10);
    for (size_t i = 0; i < l.n; i++)
        assert_true(cheap(l.item[i]));
}

static void test_rank_leaves_filtered_items_out(void **state)
{
    UNUSED(state);
    struct filter *f = compile("EXCLUDE ItemID WHERE Interactions.EVENT_TYPE IN (\"*\")");
    struct filter_bound *b;
    struct err e = ERR_INIT;
    assert_int_equal(filter_bind(f, NULL, &b, &e), RC_OK);
    const char *items[] = {"i01", "i05", "i10", "i39", "zzz"};
    json_t *doc;
    assert_int_equal(model_rank(pop, "u1", items, 5, false, b, &doc, &e), RC_OK);
    struct list l;
    to_list(doc, &l);
    json_decref(doc);
    assert_int_equal(l.n, 3);
    assert_int_equal(l.item[0], 39);
    assert_int_equal(l.item[1], 1);
    assert_int_equal(l.item[2], -1); /* the unknown item, last */
    filter_bound_free(b);
    filter_free(f);
    /* INCLUDE: an item nothing is known about matches nothing, so it goes. */
    f = compile("INCLUDE ItemID WHERE Items.GENRE IN (\"drama\")");
    assert_int_equal(filter_bind(f, NULL, &b, &e), RC_OK);
    assert_int_equal(model_rank(pop, "u1", items, 5, false, b, &doc, &e), RC_OK);
    to_list(doc, &l);
    json_decref(doc);
    assert_int_equal(l.n, 3); /* i39 (drama), i10 and i01 (comedy|drama), by popularity */
    assert_int_equal(l.item[0], 39);
    assert_int_equal(l.item[1], 10);
    assert_int_equal(l.item[2], 1);
    filter_bound_free(b);
    filter_free(f);
}

static void test_current_item(void **state)
{
    UNUSED(state);
    struct list l;
    struct err e = ERR_INIT;
    assert_int_equal(recommend(sims, NULL, "i20",
                               "INCLUDE ItemID WHERE Items.PRICE < CurrentItem.PRICE", NULL, 25, &l,
                               &e),
                     RC_OK);
    assert_int_equal(l.n, 19); /* i01..i19 */
    for (size_t i = 0; i < l.n; i++)
        assert_true(l.item[i] < 20);
    assert_int_equal(recommend(sims, NULL, "i20",
                               "INCLUDE ItemID WHERE Items.GENRE IN CurrentItem.GENRE", NULL, 25,
                               &l, &e),
                     RC_OK);
    assert_int_equal(l.n, 12); /* i20 is action: i02, i05, ..., i38, without i20 itself */
    for (size_t i = 0; i < l.n; i++)
        assert_true(not_drama(l.item[i]) && l.item[i] != 20);
    /* Related items with a user: the user's interactions serve the filter. */
    assert_int_equal(recommend(sims, "u1", "i20",
                               "EXCLUDE ItemID WHERE Interactions.EVENT_TYPE IN (\"*\")", NULL, 40,
                               &l, &e),
                     RC_OK);
    assert_int_equal(l.n, 36); /* 40, minus i20 itself, minus i05, i10, i15 */
    for (size_t i = 0; i < l.n; i++)
        assert_true(never_touched_by_u1(l.item[i]));
}

/* filter_compile must fail with a message containing 'msg'. */
static void compile_fails(const char *text, const char *msg)
{
    struct filter *f = NULL;
    struct err e = ERR_INIT;
    enum rc rc = filter_compile_text(st, "g", text, &f, &e);
    if (!rc) {
        filter_free(f);
        fail_msg("'%s' should not compile", text);
    }
    assert_int_equal(rc, RC_INVALID_INPUT);
    if (!strstr(e.msg, msg)) fail_msg("'%s': got '%s', want '%s'", text, e.msg, msg);
}

static void test_schema_errors(void **state)
{
    UNUSED(state);
    compile_fails("INCLUDE ItemID WHERE Items.GENRES IN (\"x\")",
                  "filter expression, column 22: Items has no field 'GENRES' (its fields: "
                  "ITEM_ID, GENRE, PRICE, PREMIUM, CREATION_TIMESTAMP)");
    compile_fails("INCLUDE ItemID WHERE Items.GENRE < 3",
                  "column 22: Items.GENRE is a string field: < needs a numeric field (use IN, NOT "
                  "IN or =)");
    compile_fails("INCLUDE ItemID WHERE Items.GENRE IN (3)",
                  "column 38: Items.GENRE is a string field, found the number 3 (quote it to "
                  "compare as a string)");
    compile_fails("INCLUDE ItemID WHERE Items.PRICE IN (\"cheap\")",
                  "column 38: Items.PRICE is a numeric field, found the string \"cheap\"");
    compile_fails("INCLUDE ItemID WHERE Items.PREMIUM > 0",
                  "Items.PREMIUM is a boolean field: > needs a numeric field");
    compile_fails("INCLUDE ItemID WHERE Items.PRICE < 3 IF CurrentUser.NOPE = 1",
                  "column 41: CurrentUser has no field 'NOPE' (its fields: USER_ID, AGE, TIER)");
    compile_fails("INCLUDE ItemID WHERE Items.PRICE < CurrentItem.GENRE",
                  "Items.PRICE is a numeric field but CurrentItem.GENRE is a string field");
    compile_fails("INCLUDE ItemID WHERE Items.GENRE IN (true)",
                  "Items.GENRE is a string field, found true");
    /* Bound values must fit the field too. */
    struct filter *f = compile("INCLUDE ItemID WHERE Items.PRICE < $P");
    struct filter_bound *b = NULL;
    struct err e = ERR_INIT;
    assert_int_equal(filter_bind_text(f, "{\"P\": \"\\\"cheap\\\"\"}", &b, &e), RC_INVALID_INPUT);
    assert_string_equal(e.msg, "filterValues: Items.PRICE is a numeric field, found 'cheap'");
    assert_int_equal(filter_bind_text(f, "{\"P\": 3}", &b, &e), RC_INVALID_INPUT);
    assert_string_equal(e.msg, "filterValues.P: expected a string");
    assert_int_equal(filter_bind_text(f, "[1]", &b, &e), RC_INVALID_INPUT);
    assert_string_equal(e.msg, "filterValues: expected an object of strings");
    assert_int_equal(filter_bind_text(f, "{\"P-1\": \"1\"}", &b, &e), RC_INVALID_INPUT);
    assert_string_equal(e.msg,
                        "filterValues: 'P-1' is not a parameter name (1 to 50 of [A-Za-z0-9_])");
    assert_int_equal(filter_bind_text(f, "{\"P\": \"Action\"}", &b, &e), RC_INVALID_INPUT);
    assert_non_null(strstr(e.msg, "filterValues.P: expected comma-separated values"));
    assert_int_equal(filter_bind_text(f, "{", &b, &e), RC_INVALID_INPUT);
    filter_free(f);
}

/* ---- The latest interactions per event type ----------------------------------- */

/* Verdict bits of 'text' for a history of items 0..n-1 (types[k], last[k]) over 'nitems' items. */
static void verdict(const char *text, const uint32_t *types, const int64_t *last, size_t n,
                    uint32_t nitems, bool *allowed)
{
    static const char *const names[] = {"x", "y"};
    uint32_t *items = xcalloc(n ? n : 1, sizeof(uint32_t));
    for (size_t k = 0; k < n; k++)
        items[k] = (uint32_t)k;
    struct filter_request r = {"u1", UINT32_MAX, items, types, last, n, names, 2};
    struct filter *f = compile(text);
    struct filter_bound *b = NULL;
    struct filter_verdict v;
    struct err e = ERR_INIT;
    assert_int_equal(filter_bind_text(f, NULL, &b, &e), RC_OK);
    assert_int_equal(filter_apply(b, &r, nitems, &v, &e), RC_OK);
    for (uint32_t j = 0; j < nitems; j++)
        allowed[j] = filter_allows(&v, j);
    filter_verdict_release(&v);
    filter_bound_free(b);
    filter_free(f);
    free(items);
}

/* Whether allowed[from, to) are all 'want'. */
static void expect_span(const bool *allowed, uint32_t from, uint32_t to, bool want,
                        const char *what)
{
    for (uint32_t j = from; j < to; j++)
        if (allowed[j] != want) fail_msg("%s: item %u %s", what, j, want ? "refused" : "allowed");
}

static void test_recent_per_type(void **state)
{
    UNUSED(state);
    /* 150 items of type x (bit 0), older first; the 50 oldest also of type y (bit 1). */
    enum { N = 150, NITEMS_R = 200 };
    uint32_t types[N];
    int64_t last[N];
    for (uint32_t k = 0; k < N; k++) {
        types[k] = k < 50 ? 3u : 1u;
        last[k] = 1700000000 + (int64_t)k * 60;
    }
    bool allowed[NITEMS_R];
    /* Only the latest 100 of type x count: the oldest 50 stay allowed. */
    verdict("EXCLUDE ItemID WHERE Interactions.EVENT_TYPE IN (\"x\")", types, last, N, NITEMS_R,
            allowed);
    expect_span(allowed, 0, 50, true, "EXCLUDE x, oldest 50");
    expect_span(allowed, 50, 150, false, "EXCLUDE x, latest 100");
    expect_span(allowed, 150, NITEMS_R, true, "EXCLUDE x, never touched");
    verdict("INCLUDE ItemID WHERE Interactions.EVENT_TYPE IN (\"x\")", types, last, N, NITEMS_R,
            allowed);
    expect_span(allowed, 0, 50, false, "INCLUDE x, oldest 50");
    expect_span(allowed, 50, 150, true, "INCLUDE x, latest 100");
    expect_span(allowed, 150, NITEMS_R, false, "INCLUDE x, never touched");
    /* The limit is per type: y has only 50, all count, so "*" covers all 150. */
    verdict("EXCLUDE ItemID WHERE Interactions.EVENT_TYPE IN (\"y\")", types, last, N, NITEMS_R,
            allowed);
    expect_span(allowed, 0, 50, false, "EXCLUDE y");
    expect_span(allowed, 50, NITEMS_R, true, "EXCLUDE y, others");
    verdict("EXCLUDE ItemID WHERE Interactions.EVENT_TYPE IN (\"*\")", types, last, N, NITEMS_R,
            allowed);
    expect_span(allowed, 0, 150, false, "EXCLUDE *");
    /* Newest first whatever the index order; ties keep the lower index. */
    for (uint32_t k = 0; k < N; k++) {
        types[k] = 1u;
        last[k] = k % 2 ? 1700000000 : 1800000000; /* even items are the newer */
    }
    verdict("EXCLUDE ItemID WHERE Interactions.EVENT_TYPE IN (\"x\")", types, last, N, NITEMS_R,
            allowed);
    for (uint32_t k = 0; k < N; k++)
        if (allowed[k] != (k % 2 == 1 && k >= 50))
            fail_msg("ties: item %u %s", k, allowed[k] ? "allowed" : "refused");
    /* Without times (a caller that has none), every interaction counts. */
    verdict("EXCLUDE ItemID WHERE Interactions.EVENT_TYPE IN (\"x\")", types, NULL, N, NITEMS_R,
            allowed);
    expect_span(allowed, 0, N, false, "no times");
}

/* Through a model: a user with 150 views; EXCLUDE views leaves the oldest 50 recommendable. */
static void test_recent_per_type_model(void **state)
{
    UNUSED(state);
    char d[64];
    snprintf(d, sizeof(d), "/tmp/savor-tr.XXXXXX");
    assert_non_null(mkdtemp(d));
    struct err e = ERR_INIT;
    struct store *s;
    assert_int_equal(store_open(d, &s, &e), RC_OK);
    char *path = xasprintf("%s/inter.csv", d);
    FILE *fp = fopen(path, "w");
    assert_non_null(fp);
    fputs("USER_ID,ITEM_ID,EVENT_TYPE,TIMESTAMP\n", fp);
    for (int i = 0; i < 200; i++) /* every item has one background view */
        fprintf(fp, "b,i%03d,view,%d\n", i, 1600000000 + i);
    for (int i = 0; i < 150; i++) /* h viewed i000 first, i149 last */
        fprintf(fp, "h,i%03d,view,%d\n", i, 1700000000 + i * 60);
    fclose(fp);
    struct import_opts o = {.group = "g", .type = DATASET_INTERACTIONS, .input = path};
    struct import_report rep;
    if (import_run(s, &o, &rep, &e)) fail_msg("import: %s", e.msg);
    import_report_release(&rep);
    struct train_request tr = {.group = "g", .recipe = "aws-popularity-count", .threads = 1};
    char *arn;
    struct model *m;
    if (engine_train(s, &tr, &arn, &e)) fail_msg("train: %s", e.msg);
    assert_int_equal(model_open_version(s, arn, &m, &e), RC_OK);
    struct filter *f = NULL;
    struct filter_bound *b = NULL;
    assert_int_equal(filter_compile_text(s, "g",
                                         "EXCLUDE ItemID WHERE Interactions.EVENT_TYPE "
                                         "IN (\"view\")",
                                         &f, &e),
                     RC_OK);
    assert_int_equal(filter_bind_text(f, NULL, &b, &e), RC_OK);
    json_t *doc;
    assert_int_equal(model_recommend(m, "h", NULL, 200, false, NULL, b, &doc, &e), RC_OK);
    bool got[200] = {false};
    size_t i;
    json_t *x;
    json_array_foreach(json_object_get(doc, "itemList"), i, x)
    {
        got[strtol(json_string_value(json_object_get(x, "itemId")) + 1, NULL, 10)] = true;
    }
    assert_int_equal(json_array_size(json_object_get(doc, "itemList")), 100);
    for (int k = 0; k < 200; k++)
        if (got[k] != (k < 50 || k >= 150))
            fail_msg("i%03d %s", k, got[k] ? "recommended" : "left out");
    json_decref(doc);
    filter_bound_free(b);
    filter_free(f);
    model_close(m);
    free(arn);
    free(path);
    store_close(s);
    remove_dir(d);
}

/*
 * Single-condition filters get their verdict built in place (apply_simple);
 * it must equal the general evaluation's, item by item and for "others".
 */
static void test_simple_matches_general(void **state)
{
    UNUSED(state);
    static const struct {
        const char *text, *values;
    } cases[] = {
        {"INCLUDE ItemID WHERE Items.GENRE IN (\"drama\")", NULL},
        {"EXCLUDE ItemID WHERE Items.GENRE IN ($G)", "{\"G\": \"\\\"action\\\"\"}"},
        {"EXCLUDE ItemID WHERE Items.GENRE IN ($G)", NULL},
        {"INCLUDE ItemID WHERE Items.PRICE < 10 | EXCLUDE ItemID WHERE Items.GENRE IN "
         "(\"action\")",
         NULL},
        {"INCLUDE ItemID WHERE Items.GENRE NOT IN (\"drama\") | INCLUDE ItemID WHERE "
         "Interactions.EVENT_TYPE IN (\"y\")",
         NULL},
        {"EXCLUDE ItemID WHERE Interactions.EVENT_TYPE IN (\"*\") | EXCLUDE ItemID WHERE "
         "Items.PREMIUM = true",
         NULL},
        {"EXCLUDE ItemID WHERE Interactions.EVENT_TYPE NOT IN (\"x\")", NULL},
        {"INCLUDE ItemID WHERE Items.CREATION_TIMESTAMP > 1700000025", NULL},
    };
    static const char *const names[] = {"x", "y"};
    uint32_t items[] = {1, 4, 9, 16, 25, 36, 60}, types[] = {1, 2, 3, 1, 2, 1, 2};
    int64_t last[] = {1, 2, 3, 4, 5, 6, 7};
    struct filter_request r = {"u1", UINT32_MAX, items, types, last, 7, names, 2};
    for (size_t c = 0; c < ARRAY_SIZE(cases); c++) {
        struct filter *f = compile(cases[c].text);
        assert_true(f->simple);
        struct filter_bound *b = NULL;
        struct filter_verdict v[2];
        struct err e = ERR_INIT;
        assert_int_equal(filter_bind_text(f, cases[c].values, &b, &e), RC_OK);
        for (int k = 0; k < 2; k++) {
            f->simple = k == 0;
            assert_int_equal(filter_apply(b, &r, 70, &v[k], &e), RC_OK);
        }
        assert_int_equal(v[0].nitems, v[1].nitems);
        if (v[0].allow_others != v[1].allow_others) fail_msg("'%s': others differ", cases[c].text);
        for (uint32_t j = 0; j < 100; j++)
            if (filter_allows(&v[0], j) != filter_allows(&v[1], j))
                fail_msg("'%s': item %u differs", cases[c].text, j);
        filter_verdict_release(&v[0]);
        filter_verdict_release(&v[1]);
        filter_bound_free(b);
        filter_free(f);
    }
    /* AND, OR, IF CurrentUser and CurrentItem take the general way. */
    struct filter *f = compile("INCLUDE ItemID WHERE Items.PRICE < 10 AND Items.PREMIUM = true");
    assert_false(f->simple);
    filter_free(f);
}

/* Items bound to 'values' on compiled filter 'f' (bit j: item index j allowed); RC of the bind. */
static enum rc bound_items(struct filter *f, const char *values, uint64_t *bits)
{
    struct filter_bound *b = NULL;
    struct filter_verdict v;
    struct filter_request r = {.current_item = UINT32_MAX};
    struct err e = ERR_INIT;
    enum rc rc = filter_bind_text(f, values, &b, &e);
    if (rc) return rc;
    assert_int_equal(filter_apply(b, &r, 64, &v, &e), RC_OK);
    *bits = 0;
    for (uint32_t j = 0; j < 64; j++)
        if (filter_allows(&v, j)) *bits |= 1ull << j;
    filter_verdict_release(&v);
    filter_bound_free(b);
    return RC_OK;
}

/* One compiled filter bound to many value sets: the cache keeps them apart, refusals stay refused.
 */
static void test_bind_cache(void **state)
{
    UNUSED(state);
    struct filter *f = compile("INCLUDE ItemID WHERE Items.GENRE IN ($G)");
    uint64_t action, drama, again, spaced, both;
    assert_int_equal(bound_items(f, "{\"G\": \"\\\"action\\\"\"}", &action), RC_OK);
    assert_int_equal(bound_items(f, "{\"G\": \"\\\"drama\\\"\"}", &drama), RC_OK);
    assert_int_equal(bound_items(f, "{\"G\": \"\\\"action\\\"\"}", &again), RC_OK);
    assert_int_equal(bound_items(f, "{\"G\": \" \\\"action\\\" \"}", &spaced), RC_OK);
    assert_int_equal(bound_items(f, "{\"G\": \"\\\"action\\\",\\\"drama\\\"\"}", &both), RC_OK);
    assert_true(action != 0 && drama != 0);
    assert_true((action & drama) == 0);
    assert_true(again == action && spaced == action);
    assert_true(both == (action | drama));
    /* A missing INCLUDE parameter or a bad text is refused every time, cached or not. */
    uint64_t x;
    for (int k = 0; k < 2; k++) {
        assert_int_equal(bound_items(f, NULL, &x), RC_INVALID_INPUT);
        assert_int_equal(bound_items(f, "{\"G\": \"action\"}", &x), RC_INVALID_INPUT);
    }
    filter_free(f);
    f = compile("INCLUDE ItemID WHERE Items.PRICE < $P");
    for (int k = 0; k < 2; k++)
        assert_int_equal(bound_items(f, "{\"P\": \"\\\"cheap\\\"\"}", &x), RC_INVALID_INPUT);
    uint64_t lt10_bits, lt20_bits;
    assert_int_equal(bound_items(f, "{\"P\": \"10\"}", &lt10_bits), RC_OK);
    assert_int_equal(bound_items(f, "{\"P\": \"20\"}", &lt20_bits), RC_OK);
    assert_true(lt10_bits != lt20_bits && (lt10_bits & ~lt20_bits) == 0);
    filter_free(f);
}

/* What a compiled filter depends on: only the datasets it reads, and their versions move. */
static void test_inputs(void **state)
{
    UNUSED(state);
    struct err e = ERR_INIT;
    struct resource g = {0};
    assert_int_equal(dataset_group_find(st, "g", &g, &e), RC_OK);
    struct filter_inputs in, again;
    assert_int_equal(filter_inputs_read(st, &g, &in, &e), RC_OK);
    assert_true(in.items_dataset > 0 && in.users_dataset > 0);
    assert_true(in.items_version > 0 && in.users_version > 0);
    assert_int_equal(in.nitems, NITEMS);

    struct filter *seen = compile("EXCLUDE ItemID WHERE Interactions.EVENT_TYPE IN (\"*\")");
    struct filter *genre = compile("INCLUDE ItemID WHERE Items.GENRE IN ($G)");
    struct filter *user = compile("INCLUDE ItemID WHERE Items.PRICE < 10 IF CurrentUser.AGE > 20");
    struct filter_inputs a = in, b = in, c = in, zero = {0};
    filter_inputs_keep_used(seen, &a);
    filter_inputs_keep_used(genre, &b);
    filter_inputs_keep_used(user, &c);
    assert_memory_equal(&a, &zero, sizeof(zero));
    assert_true(b.items_version == in.items_version && b.nitems == NITEMS);
    assert_true(b.users_dataset == 0 && b.users_version == 0 && b.nusers == 0);
    assert_memory_equal(&c, &in, sizeof(in));

    /* Writing an item moves the items version, not the users one (i01 changes: run last). */
    struct resource items = {0};
    assert_int_equal(dataset_find(st, &g, DATASET_ITEMS, &items, &e), RC_OK);
    static const char row[] = "{\"GENRE\":\"drama\",\"PRICE\":1.5}";
    assert_int_equal(
        store_entity_upsert(st, items.id, 0, ORIGIN_EVENTS, 1700000001, row, strlen(row), &e),
        RC_OK);
    assert_int_equal(filter_inputs_read(st, &g, &again, &e), RC_OK);
    assert_true(again.items_version > in.items_version);
    assert_true(again.users_version == in.users_version);
    filter_inputs_keep_used(genre, &again);
    assert_memory_not_equal(&again, &b, sizeof(b));
    resource_release(&items);
    resource_release(&g);
    filter_free(seen);
    filter_free(genre);
    filter_free(user);
}

/*
 * A filter that lets the same third of the catalog through request after
 * request gets its own top-k index after a few requests: the answers before
 * and after are the same, for every user, with and without the index.
 */
static void test_recurring_filter_index(void **state)
{
    UNUSED(state);
    struct err e = ERR_INIT;
    const struct param_kv kv[] = {{"model", "als"}, {"evaluation", "off"}};
    struct train_request tr = {.group = "g",
                               .recipe = "aws-user-personalization",
                               .solution = "g-als",
                               .kv = kv,
                               .nkv = 2,
                               .threads = 1};
    char *arn = NULL;
    if (engine_train(st, &tr, &arn, &e)) fail_msg("train: %s", e.msg);
    struct model *m = NULL;
    assert_int_equal(model_open_version(st, arn, &m, &e), RC_OK);
    const char *text = "INCLUDE ItemID WHERE Items.GENRE IN ($G)";
    const char *users[] = {"u1", "b3", "b17", "b40", "nobody"};
    struct list first[ARRAY_SIZE(users)];
    assert_int_equal(model_filter_indexes(m), 0);
    for (int round = 0; round < 4; round++)
        for (size_t u = 0; u < ARRAY_SIZE(users); u++) {
            struct list l;
            assert_int_equal(
                recommend(m, users[u], NULL, text, "{\"G\": \"\\\"action\\\"\"}", 10, &l, &e),
                RC_OK);
            for (size_t k = 0; k < l.n; k++)
                assert_int_equal(l.item[k] % 3, 2); /* action: i02, i05, ... */
            if (round == 0)
                first[u] = l;
            else
                assert_memory_equal(&l, &first[u], sizeof(l));
        }
    /* The action third (13 of 40 items) recurred: it has its own index now. */
    assert_int_equal(model_filter_indexes(m), 1);
    /* A verdict letting through most of the catalog (drama: 2 of 3) never gets one. */
    for (int round = 0; round < 4; round++) {
        struct list l;
        assert_int_equal(recommend(m, "u1", NULL, text, "{\"G\": \"\\\"drama\\\"\"}", 10, &l, &e),
                         RC_OK);
    }
    assert_int_equal(model_filter_indexes(m), 1);
    model_close(m);
    free(arn);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_items_operators),
        cmocka_unit_test(test_interactions),
        cmocka_unit_test(test_placeholders),
        cmocka_unit_test(test_missing_parameters),
        cmocka_unit_test(test_chaining_and_or),
        cmocka_unit_test(test_if_current_user),
        cmocka_unit_test(test_empty_total_and_complete),
        cmocka_unit_test(test_rank_leaves_filtered_items_out),
        cmocka_unit_test(test_current_item),
        cmocka_unit_test(test_schema_errors),
        cmocka_unit_test(test_recent_per_type),
        cmocka_unit_test(test_recent_per_type_model),
        cmocka_unit_test(test_simple_matches_general),
        cmocka_unit_test(test_bind_cache),
        cmocka_unit_test(test_inputs),
        cmocka_unit_test(test_recurring_filter_index),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
