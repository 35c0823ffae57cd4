/*
 * test_weighting.c: interactions -> w_ui, on the brief's example and variants.
 */
#include "common/base.h"

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>
#include <unistd.h>

#include "dataset/dataset.h"
#include "import/import.h"
#include "models/weighting.h"
#include "store/store.h"

struct fx {
    char dir[64];
    struct store *s;
    int64_t group_id, dataset_id;
};

/* Import 'csv' as the INTERACTIONS dataset of group "g" in a fresh data dir. */
static void load(struct fx *f, const char *csv)
{
    snprintf(f->dir, sizeof(f->dir), "/tmp/savor-wt.XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    char *path = xasprintf("%s/in.csv", f->dir);
    FILE *fp = fopen(path, "w");
    assert_non_null(fp);
    fputs(csv, fp);
    fclose(fp);
    struct err e = ERR_INIT;
    assert_int_equal(store_open(f->dir, &f->s, &e), RC_OK);
    struct import_opts o = {.group = "g", .type = DATASET_INTERACTIONS, .input = path};
    struct import_report rep;
    assert_int_equal(import_run(f->s, &o, &rep, &e), RC_OK);
    import_report_release(&rep);
    free(path);
    struct resource g, d;
    assert_int_equal(dataset_group_find(f->s, "g", &g, &e), RC_OK);
    assert_int_equal(dataset_find(f->s, &g, DATASET_INTERACTIONS, &d, &e), RC_OK);
    f->group_id = g.id;
    f->dataset_id = d.id;
    resource_release(&g);
    resource_release(&d);
}

static void unload(struct fx *f)
{
    store_close(f->s);
    char *cmd = xasprintf("rm -rf '%s'", f->dir);
    assert_int_equal(system(cmd), 0);
    free(cmd);
}

/* w for (user, item) by their string IDs, 0 when absent. */
static float weight_of(const struct train_data *d, const char *user, const char *item)
{
    uint32_t u, i;
    if (!strmap_get(d->users, user, strlen(user), &u)) return 0;
    if (!strmap_get(d->items, item, strlen(item), &i)) return 0;
    for (uint64_t k = d->ui->indptr[u]; k < d->ui->indptr[u + 1]; k++)
        if (d->ui->indices[k] == i) return d->ui->values[k];
    return 0;
}

/* The brief's table: item 1 values 10 and 20, item 2 three times 20, item 3 value 10. */
static const char brief_csv[] = "USER_ID,ITEM_ID,EVENT_TYPE,EVENT_VALUE,TIMESTAMP\n"
                                "1,1,watch,10,1700000000\n"
                                "1,2,watch,20,1700000001\n"
                                "1,2,watch,20,1700000002\n"
                                "1,2,watch,20,1700000003\n"
                                "1,1,watch,20,1700000004\n"
                                "1,3,watch,10,1700000005\n";

static void test_brief_example_orders_2_1_3(void **state)
{
    UNUSED(state);
    struct fx f;
    load(&f, brief_csv);
    struct weighting w;
    weighting_init(&w);
    struct train_data d;
    struct err e = ERR_INIT;
    assert_int_equal(train_data_load(f.s, f.group_id, f.dataset_id, &w, &d, &e), RC_OK);
    float w1 = weight_of(&d, "1", "1"), w2 = weight_of(&d, "1", "2"), w3 = weight_of(&d, "1", "3");
    assert_true(w2 > w1);
    assert_true(w1 > w3);
    assert_true(w3 > 0);
    /* mean value 100/6: w = log(1 + sum(value / mean)) */
    double mean = 100.0 / 6.0;
    assert_true(fabs(w2 - log1p(60.0 / mean)) < 1e-5);
    assert_true(fabs(w1 - log1p(30.0 / mean)) < 1e-5);
    assert_int_equal(d.ui->nnz, 3);
    assert_int_equal(d.events_used, 6);
    train_data_release(&d);

    /* Without values, repeats alone decide: item 2 (3 events) > item 1 (2) > item 3 (1). */
    w.use_values = false;
    assert_int_equal(train_data_load(f.s, f.group_id, f.dataset_id, &w, &d, &e), RC_OK);
    assert_true(fabs(weight_of(&d, "1", "2") - log1p(3.0)) < 1e-6);
    assert_true(fabs(weight_of(&d, "1", "1") - log1p(2.0)) < 1e-6);
    assert_true(fabs(weight_of(&d, "1", "3") - log1p(1.0)) < 1e-6);
    train_data_release(&d);
    weighting_release(&w);
    unload(&f);
}

static const char typed_csv[] = "USER_ID,ITEM_ID,EVENT_TYPE,EVENT_VALUE,TIMESTAMP\n"
                                "u,a,view,50,1700000000\n"
                                "u,b,like,,1700000000\n"
                                "u,c,view,5,1700864000\n"
                                "v,a,like,,1700864000\n";

static void test_filters_and_type_weights(void **state)
{
    UNUSED(state);
    struct fx f;
    load(&f, typed_csv);
    struct err e = ERR_INIT;
    struct train_data d;
    struct weighting w;

    /* eventType: only likes. */
    weighting_init(&w);
    w.event_type = xstrdup("like");
    assert_int_equal(train_data_load(f.s, f.group_id, f.dataset_id, &w, &d, &e), RC_OK);
    assert_int_equal(d.events_used, 2);
    assert_true(weight_of(&d, "u", "a") == 0);
    assert_true(weight_of(&d, "u", "b") > 0);
    assert_true(weight_of(&d, "v", "a") > 0);
    train_data_release(&d);
    weighting_release(&w);

    /* An eventType that never occurs is an error naming it. */
    weighting_init(&w);
    w.event_type = xstrdup("purchase");
    assert_int_equal(train_data_load(f.s, f.group_id, f.dataset_id, &w, &d, &e), RC_INVALID_INPUT);
    assert_non_null(strstr(e.msg, "purchase"));
    weighting_release(&w);

    /* eventValueThreshold 10: drops the view of c (5) and the likes (no value). */
    weighting_init(&w);
    w.has_value_threshold = true;
    w.value_threshold = 10;
    assert_int_equal(train_data_load(f.s, f.group_id, f.dataset_id, &w, &d, &e), RC_OK);
    assert_int_equal(d.events_used, 1);
    assert_true(weight_of(&d, "u", "a") > 0);
    assert_true(weight_of(&d, "u", "c") == 0);
    train_data_release(&d);
    weighting_release(&w);

    /* Type weights: a like weighs 3, a view 0 (ignored). */
    weighting_init(&w);
    assert_int_equal(weighting_set_type_weight(&w, "like", 3, &e), RC_OK);
    assert_int_equal(weighting_set_type_weight(&w, "view", 0, &e), RC_OK);
    assert_int_equal(weighting_set_type_weight(&w, "view", -1, &e), RC_INVALID_INPUT);
    assert_int_equal(train_data_load(f.s, f.group_id, f.dataset_id, &w, &d, &e), RC_OK);
    assert_true(weight_of(&d, "u", "a") == 0);
    assert_true(fabs(weight_of(&d, "u", "b") - log1p(3.0)) < 1e-6);
    train_data_release(&d);
    weighting_release(&w);

    /* Recency with a 10-day half-life: the view of a, 10 days before the newest event, halves. */
    weighting_init(&w);
    w.half_life_days = 10;
    w.use_values = false;
    assert_int_equal(train_data_load(f.s, f.group_id, f.dataset_id, &w, &d, &e), RC_OK);
    assert_true(fabs(weight_of(&d, "u", "a") - log1p(0.5)) < 1e-6);
    assert_true(fabs(weight_of(&d, "u", "c") - log1p(1.0)) < 1e-6);
    train_data_release(&d);
    weighting_release(&w);
    unload(&f);
}

/*
 * Answer-time recency: the latest 'recent' items keep their weight, older ones
 * halve every 'half_life' newer items; items at the same time share a rank.
 */
static void test_answer_recency(void **state)
{
    (void)state;
    /* Times (not in order): item k was last seen at t[k]; two items share t = 50. */
    const int64_t t[6] = {10, 60, 50, 70, 50, 20};
    float w[6] = {1, 1, 1, 1, 1, 2};
    struct answer_recency r = {.recent = 1, .half_life = 2};
    answer_recency_apply(&r, t, w, 6);
    /* newer items: 10 -> 5, 60 -> 1, 50 -> 2 (shared), 70 -> 0, 20 -> 4 */
    assert_float_equal(w[3], 1.0f, 1e-6);                     /* newest */
    assert_float_equal(w[1], 1.0f, 1e-6);                     /* within 'recent' */
    assert_float_equal(w[2], (float)exp2(-0.5), 1e-6);        /* (2 - 1) / 2 */
    assert_float_equal(w[4], w[2], 0);                        /* same time, same weight */
    assert_float_equal(w[5], 2.0f * (float)exp2(-1.5), 1e-6); /* (4 - 1) / 2, times its own 2 */
    assert_float_equal(w[0], (float)exp2(-2.0), 1e-6);        /* (5 - 1) / 2 */

    /* Off, or a history no longer than recent + 1: unchanged. */
    float v[3] = {1, 2, 3};
    struct answer_recency off = {.recent = 5, .half_life = 0};
    answer_recency_apply(&off, t, v, 3);
    struct answer_recency small = {.recent = 2, .half_life = 1};
    answer_recency_apply(&small, t, v, 3);
    assert_float_equal(v[0], 1.0f, 0);
    assert_float_equal(v[1], 2.0f, 0);
    assert_float_equal(v[2], 3.0f, 0);

    /* A very old item fades but stays in the history (w > 0). */
    int64_t many[200];
    float wm[200];
    for (int k = 0; k < 200; k++) {
        many[k] = k;
        wm[k] = 1;
    }
    answer_recency_apply(&(struct answer_recency){.recent = 0, .half_life = 1}, many, wm, 200);
    assert_true(wm[0] > 0);
    assert_float_equal(wm[199], 1.0f, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_brief_example_orders_2_1_3),
        cmocka_unit_test(test_answer_recency),
        cmocka_unit_test(test_filters_and_type_weights),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
