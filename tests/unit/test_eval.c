/*
 * test_eval.c: offline evaluation (src/eval/): the metrics on hand-computed
 * cases, the splits' properties, HPO configuration errors, HPO never
 * reading the test targets, and the chart's escaping.
 */
#include "common/base.h"

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>
#include <unistd.h>

#include "common/rng.h"
#include "dataset/dataset.h"
#include "eval/chart.h"
#include "eval/hpo.h"
#include "eval/metrics.h"
#include "eval/split.h"
#include "eval/training.h"
#include "import/import.h"
#include "store/store.h"

#define EPS 1e-9

/* ---- Metrics ----------------------------------------------------------------- */

static void test_metrics_two_hits(void **state)
{
    UNUSED(state);
    /* Ranks 2 and 4 are hits among 2 targets. */
    const uint32_t recs[] = {3, 1, 7, 2}, targets[] = {1, 2};
    double m[METRIC_COUNT];
    metrics_user(recs, 4, targets, 2, m);
    assert_true(fabs(m[METRIC_PRECISION_5] - 2.0 / 5) < EPS);
    assert_true(fabs(m[METRIC_PRECISION_10] - 2.0 / 10) < EPS);
    assert_true(fabs(m[METRIC_PRECISION_25] - 2.0 / 25) < EPS);
    assert_true(fabs(m[METRIC_RECALL_10] - 1.0) < EPS);
    assert_true(fabs(m[METRIC_RECALL_25] - 1.0) < EPS);
    double dcg = 1 / log2(3.0) + 1 / log2(5.0), idcg = 1 + 1 / log2(3.0);
    assert_true(fabs(m[METRIC_NDCG_5] - dcg / idcg) < EPS);
    assert_true(fabs(m[METRIC_NDCG_10] - dcg / idcg) < EPS);
    assert_true(fabs(m[METRIC_NDCG_25] - dcg / idcg) < EPS);
    assert_true(fabs(m[METRIC_MRR_25] - 0.5) < EPS);
    assert_true(m[METRIC_COVERAGE] == 0);
}

static void test_metrics_edges(void **state)
{
    UNUSED(state);
    double m[METRIC_COUNT];
    /* No hit: every metric 0. */
    const uint32_t miss[] = {5, 6, 7}, t1[] = {1};
    metrics_user(miss, 3, t1, 1, m);
    for (int i = 0; i < METRIC_COUNT; i++)
        assert_true(m[i] == 0);
    /* A hit at rank 1 among 3 targets; IDCG counts 3 ideal hits. */
    const uint32_t first[] = {9}, t3[] = {2, 9, 11};
    metrics_user(first, 1, t3, 3, m);
    assert_true(fabs(m[METRIC_PRECISION_5] - 0.2) < EPS);
    assert_true(fabs(m[METRIC_RECALL_10] - 1.0 / 3) < EPS);
    assert_true(fabs(m[METRIC_NDCG_5] - 1 / (1 + 1 / log2(3.0) + 0.5)) < EPS);
    assert_true(fabs(m[METRIC_MRR_25] - 1.0) < EPS);
    /* More targets than K: a full list of hits is perfect NDCG and precision. */
    uint32_t all[30], tt[30];
    for (uint32_t i = 0; i < 30; i++)
        all[i] = tt[i] = i;
    metrics_user(all, 25, tt, 30, m);
    assert_true(fabs(m[METRIC_NDCG_25] - 1) < EPS && fabs(m[METRIC_PRECISION_25] - 1) < EPS);
    assert_true(fabs(m[METRIC_RECALL_25] - 25.0 / 30) < EPS);
    /* Only the first 25 count: a hit at rank 28 is no hit. */
    uint32_t longer[30];
    for (uint32_t i = 0; i < 30; i++)
        longer[i] = 100 + i;
    longer[27] = 1;
    metrics_user(longer, 30, t1, 1, m);
    assert_true(m[METRIC_MRR_25] == 0 && m[METRIC_RECALL_25] == 0);
    /* The hit at rank 6 counts for @10 (discount 1 / log2(7)) but not @5. */
    const uint32_t sixth[] = {10, 11, 12, 13, 14, 1};
    metrics_user(sixth, 6, t1, 1, m);
    assert_true(m[METRIC_PRECISION_5] == 0 && fabs(m[METRIC_PRECISION_10] - 0.1) < EPS);
    assert_true(fabs(m[METRIC_NDCG_10] - 1 / log2(7.0)) < EPS && m[METRIC_NDCG_5] == 0);
}

static void test_metrics_mean_and_names(void **state)
{
    UNUSED(state);
    double per[2 * METRIC_COUNT] = {0}, out[METRIC_COUNT];
    per[METRIC_PRECISION_10] = 0.3;
    per[METRIC_COUNT + METRIC_PRECISION_10] = 0.1;
    metrics_mean(per, 2, 5, 20, out);
    assert_true(fabs(out[METRIC_PRECISION_10] - 0.2) < EPS);
    assert_true(fabs(out[METRIC_COVERAGE] - 0.25) < EPS);
    assert_int_equal(metric_find("normalized_discounted_cumulative_gain_at_10"), METRIC_NDCG_10);
    assert_int_equal(metric_find("precision_at_25"), METRIC_PRECISION_25);
    assert_int_equal(metric_find("ndcg"), -1);
    assert_non_null(strstr(metric_name_list(), "mean_reciprocal_rank_at_25"));
}

/* ---- Splits over arrays ------------------------------------------------------- */

struct events {
    uint32_t n, nusers;
    uint32_t *users, *items, *types;
    int64_t *ts;
    float *values;
};

/* Users 0..nusers-1, user u with 1 + (u * 7) % 30 events, timestamps with ties. */
static void make_events(struct events *ev, uint32_t nusers, uint64_t seed)
{
    struct rng r;
    rng_seed(&r, seed);
    memset(ev, 0, sizeof(*ev));
    ev->nusers = nusers;
    uint32_t total = 0;
    for (uint32_t u = 0; u < nusers; u++)
        total += 1 + (u * 7) % 30;
    ev->users = xcalloc(total, sizeof(uint32_t));
    ev->items = xcalloc(total, sizeof(uint32_t));
    ev->types = xcalloc(total, sizeof(uint32_t));
    ev->ts = xcalloc(total, sizeof(int64_t));
    ev->values = xcalloc(total, sizeof(float));
    /* Interleave users, as real logs do. */
    uint32_t *left = xcalloc(nusers, sizeof(uint32_t));
    for (uint32_t u = 0; u < nusers; u++)
        left[u] = 1 + (u * 7) % 30;
    while (ev->n < total) {
        uint32_t u = (uint32_t)(rng_next(&r) % nusers);
        if (!left[u]) continue;
        left[u]--;
        ev->users[ev->n] = u;
        ev->items[ev->n] = (uint32_t)(rng_next(&r) % 50);
        ev->types[ev->n] = EVENT_TYPE_NONE;
        ev->ts[ev->n] = 1000 + (int64_t)(rng_next(&r) % 200); /* many ties */
        ev->values[ev->n] = NAN;
        ev->n++;
    }
    free(left);
}

static void free_events(struct events *ev)
{
    free(ev->users);
    free(ev->items);
    free(ev->types);
    free(ev->ts);
    free(ev->values);
}

/* Two chunks, to cross a chunk boundary. */
static enum rc scan_events(void *src, split_visit_fn visit, void *ctx, struct err *e)
{
    struct events *ev = src;
    uint32_t half = ev->n / 2;
    for (int part = 0; part < 2; part++) {
        uint32_t from = part ? half : 0, to = part ? ev->n : half;
        struct interaction_chunk c = {.id = part + 1,
                                      .n = to - from,
                                      .users = ev->users + from,
                                      .items = ev->items + from,
                                      .ts = ev->ts + from,
                                      .event_types = ev->types + from,
                                      .event_values = ev->values + from,
                                      .extra_columns = ""};
        enum rc rc = visit(ctx, &c, e);
        if (rc) return rc;
    }
    return RC_OK;
}

static bool is_test(const struct split *s, uint32_t u, uint32_t *t)
{
    for (uint32_t k = 0; k < s->ntest; k++)
        if (s->users[k] == u) {
            *t = k;
            return true;
        }
    return false;
}

/* Events of user u, positions sorted oldest first (ties by position). */
static uint32_t user_events(const struct events *ev, uint32_t u, uint32_t *pos)
{
    uint32_t n = 0;
    for (uint32_t i = 0; i < ev->n; i++)
        if (ev->users[i] == u) pos[n++] = i;
    for (uint32_t a = 1; a < n; a++) /* insertion sort by (ts, pos) */
        for (uint32_t b = a; b > 0 && ev->ts[pos[b]] < ev->ts[pos[b - 1]]; b--) {
            uint32_t t = pos[b];
            pos[b] = pos[b - 1];
            pos[b - 1] = t;
        }
    return n;
}

static void test_split_users_properties(void **state)
{
    UNUSED(state);
    struct events ev;
    make_events(&ev, 200, 7);
    struct split_opts o;
    split_opts_default(&o, 42);
    struct split s, again, other;
    struct err e = ERR_INIT;
    assert_int_equal(split_make(scan_events, &ev, ev.nusers, NULL, &o, NULL, &s, &e), RC_OK);
    assert_int_equal(s.nevents, ev.n);
    assert_int_equal(s.eligible, 200);
    assert_int_equal(s.ntest, 20); /* 10% of the users */
    for (uint32_t t = 1; t < s.ntest; t++)
        assert_true(s.users[t - 1] < s.users[t]);
    uint32_t *pos = xcalloc(64, sizeof(uint32_t));
    uint64_t held = 0;
    bool saw_single = false;
    for (uint32_t u = 0; u < ev.nusers; u++) {
        uint32_t n = user_events(&ev, u, pos), t;
        if (!is_test(&s, u, &t)) {
            for (uint32_t k = 0; k < n; k++)
                assert_false(split_is_held(s.held, pos[k])); /* others train entirely */
            continue;
        }
        uint32_t h = n / 10 ? n / 10 : 1; /* newest 10%, at least one */
        for (uint32_t k = 0; k < n; k++)
            assert_int_equal(split_is_held(s.held, pos[k]), k >= n - h);
        held += h;
        /* Targets: the distinct items of the held events, ascending. */
        for (uint64_t k = s.target_indptr[t]; k < s.target_indptr[t + 1]; k++) {
            if (k > s.target_indptr[t]) assert_true(s.targets[k - 1] < s.targets[k]);
            bool found = false;
            for (uint32_t j = n - h; j < n; j++)
                found |= ev.items[pos[j]] == s.targets[k];
            assert_true(found);
        }
        for (uint32_t j = n - h; j < n; j++) {
            bool found = false;
            for (uint64_t k = s.target_indptr[t]; k < s.target_indptr[t + 1]; k++)
                found |= ev.items[pos[j]] == s.targets[k];
            assert_true(found);
        }
        if (n == 1) {
            saw_single = true;
            assert_int_equal(s.last_input[t], UINT32_MAX);
        } else {
            assert_int_equal(s.last_input[t], ev.items[pos[n - h - 1]]);
        }
    }
    UNUSED(saw_single);
    assert_int_equal(s.nheld, held);
    /* The same seed gives the same split; another seed other users. */
    assert_int_equal(split_make(scan_events, &ev, ev.nusers, NULL, &o, NULL, &again, &e), RC_OK);
    assert_int_equal(again.ntest, s.ntest);
    assert_memory_equal(again.users, s.users, s.ntest * sizeof(uint32_t));
    assert_memory_equal(again.held, s.held, (s.nevents / 64 + 1) * sizeof(uint64_t));
    o.seed = 43;
    assert_int_equal(split_make(scan_events, &ev, ev.nusers, NULL, &o, NULL, &other, &e), RC_OK);
    assert_true(memcmp(other.users, s.users, s.ntest * sizeof(uint32_t)) != 0);

    /* A validation split inside the training part: disjoint users, base's held events kept. */
    struct split v;
    o.seed = 43;
    assert_int_equal(split_make(scan_events, &ev, ev.nusers, NULL, &o, &s, &v, &e), RC_OK);
    assert_int_equal(v.eligible, 180);
    assert_int_equal(v.ntest, 18);
    for (uint32_t k = 0; k < v.ntest; k++) {
        uint32_t t;
        assert_false(is_test(&s, v.users[k], &t));
    }
    for (uint64_t p = 0; p < s.nevents; p++)
        if (split_is_held(s.held, p)) assert_true(split_is_held(v.held, p));
    assert_true(v.nheld > s.nheld);
    split_release(&v);

    /* A cap on test users. */
    o.max_users = 5;
    assert_int_equal(split_make(scan_events, &ev, ev.nusers, NULL, &o, NULL, &v, &e), RC_OK);
    assert_int_equal(v.ntest, 5);
    split_release(&v);
    free(pos);
    split_release(&s);
    split_release(&again);
    split_release(&other);
    free_events(&ev);
}

static void test_split_time(void **state)
{
    UNUSED(state);
    struct events ev;
    make_events(&ev, 100, 9);
    struct split_opts o;
    split_opts_default(&o, 1);
    o.kind = SPLIT_TIME;
    o.cutoff = 1150;
    struct split s;
    struct err e = ERR_INIT;
    assert_int_equal(split_make(scan_events, &ev, ev.nusers, NULL, &o, NULL, &s, &e), RC_OK);
    assert_int_equal(s.cutoff, 1150);
    uint64_t after = 0;
    for (uint32_t i = 0; i < ev.n; i++) {
        assert_int_equal(split_is_held(s.held, i), ev.ts[i] >= 1150);
        after += ev.ts[i] >= 1150;
        uint32_t t = 0;
        /* Every user with a held event is a test user (no cap), with that item a target. */
        if (ev.ts[i] >= 1150) {
            assert_true(is_test(&s, ev.users[i], &t));
            bool found = false;
            for (uint64_t k = s.target_indptr[t]; k < s.target_indptr[t + 1]; k++)
                found |= s.targets[k] == ev.items[i];
            assert_true(found);
        }
    }
    assert_int_equal(s.nheld, after);
    split_release(&s);
    /* The automatic cutoff holds out about the newest 10%. */
    o.cutoff = SPLIT_CUTOFF_AUTO;
    assert_int_equal(split_make(scan_events, &ev, ev.nusers, NULL, &o, NULL, &s, &e), RC_OK);
    assert_true(s.nheld >= ev.n / 20 && s.nheld <= ev.n / 5);
    split_release(&s);
    /* A cutoff before every event leaves nothing to train on. */
    o.cutoff = 0;
    assert_int_equal(split_make(scan_events, &ev, ev.nusers, NULL, &o, NULL, &s, &e),
                     RC_INVALID_INPUT);
    assert_non_null(strstr(e.msg, "nothing to train on"));
    free_events(&ev);
}

static void test_split_too_few_users(void **state)
{
    UNUSED(state);
    struct events ev;
    make_events(&ev, 1, 3);
    struct split_opts o;
    split_opts_default(&o, 1);
    struct split s;
    struct err e = ERR_INIT;
    assert_int_equal(split_make(scan_events, &ev, ev.nusers, NULL, &o, NULL, &s, &e),
                     RC_INVALID_INPUT);
    assert_non_null(strstr(e.msg, "at least 2"));
    free_events(&ev);
}

/* ---- HPO configuration ---------------------------------------------------------- */

static enum rc parse_hpo(const char *text, struct err *e)
{
    json_t *j = json_loads(text, 0, NULL);
    assert_non_null(j);
    struct hpo_config c;
    enum rc rc = hpo_config_parse(j, &recipe_user_personalization, &c, e);
    if (!rc) hpo_config_release(&c);
    json_decref(j);
    return rc;
}

static void test_hpo_config_errors(void **state)
{
    UNUSED(state);
    struct err e = ERR_INIT;
    static const struct {
        const char *json, *msg;
    } bad[] = {
        {"{\"hpoObjective\":{\"metricName\":\"ndcg\"},\"algorithmHyperParameterRanges\":{\"integerHyperParameterRanges\":[{\"name\":\"factors\",\"minValue\":8,\"maxValue\":64}]}}",
         "'ndcg' is not a metric"},
        {"{\"algorithmHyperParameterRanges\":{\"integerHyperParameterRanges\":[{\"name\":\"colour\",\"minValue\":8,\"maxValue\":64}]}}",
         "has no hyperparameter 'colour'"},
        {"{\"algorithmHyperParameterRanges\":{\"integerHyperParameterRanges\":[{\"name\":\"factors\",\"minValue\":64,\"maxValue\":8}]}}",
         "inverted"},
        {"{\"algorithmHyperParameterRanges\":{\"categoricalHyperParameterRanges\":[{\"name\":\"model\",\"values\":[]}]}}",
         "non-empty list"},
        {"{\"algorithmHyperParameterRanges\":{\"categoricalHyperParameterRanges\":[{\"name\":\"model\",\"values\":[\"als\",\"svd\"]}]}}",
         "values[1]"},
        {"{\"algorithmHyperParameterRanges\":{\"continuousHyperParameterRanges\":[{\"name\":\"factors\",\"minValue\":8,\"maxValue\":64}]}}",
         "not a continuous hyperparameter"},
        {"{\"algorithmHyperParameterRanges\":{\"integerHyperParameterRanges\":[{\"name\":\"factors\",\"minValue\":0,\"maxValue\":64}]}}",
         "own limits"},
        {"{\"hpoResourceConfig\":{\"maxNumberOfTrainingJobs\":\"41\"},\"algorithmHyperParameterRanges\":{\"integerHyperParameterRanges\":[{\"name\":\"factors\",\"minValue\":8,\"maxValue\":64}]}}",
         "maxNumberOfTrainingJobs"},
        {"{\"algorithmHyperParameterRanges\":{}}", "no ranges"},
        {"{\"algorithmHyperParameterRanges\":{\"continuousHyperParameterRanges\":[{\"name\":\"alpha\",\"minValue\":0.5,\"maxValue\":5,\"scalingType\":\"Cubic\"}]}}",
         "scalingType"},
    };
    for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
        err_clear(&e);
        assert_int_equal(parse_hpo(bad[i].json, &e), RC_INVALID_INPUT);
        if (!strstr(e.msg, bad[i].msg)) fail_msg("case %zu: '%s' lacks '%s'", i, e.msg, bad[i].msg);
    }
    /* Without ranges: every recipe's defaults parse, except popularity-count's (none). */
    for (size_t i = 0; recipe_table[i]; i++) {
        json_t *empty = json_object();
        struct hpo_config c;
        err_clear(&e);
        enum rc rc = hpo_config_parse(empty, recipe_table[i], &c, &e);
        json_decref(empty);
        if (recipe_table[i] == &recipe_popularity_count) {
            assert_int_equal(rc, RC_INVALID_INPUT);
            assert_non_null(strstr(e.msg, "no default ranges"));
            continue;
        }
        if (rc) fail_msg("%s: %s", recipe_table[i]->name, e.msg);
        assert_true(c.nranges > 0 && c.max_jobs == 8);
        hpo_config_release(&c);
    }
    /* Personalize's own shape, resource values as strings, alias names. */
    assert_int_equal(
        parse_hpo("{\"hpoObjective\":{\"type\":\"Maximize\",\"metricName\":\"precision_at_25\","
                  "\"metricRegex\":\"x\"},\"hpoResourceConfig\":{\"maxNumberOfTrainingJobs\":\"4\","
                  "\"maxParallelTrainingJobs\":\"2\"},\"algorithmHyperParameterRanges\":{"
                  "\"integerHyperParameterRanges\":[{\"name\":\"hidden_dimension\",\"minValue\":8,"
                  "\"maxValue\":64}],\"continuousHyperParameterRanges\":[{\"name\":\"alpha\","
                  "\"minValue\":0.5,\"maxValue\":50,\"scalingType\":\"Logarithmic\"}],"
                  "\"categoricalHyperParameterRanges\":[{\"name\":\"model\",\"values\":[\"als\","
                  "\"ease\"]}]}}",
                  &e),
        RC_OK);
}

/* ---- HPO on a store: the test targets are never read ------------------------------ */

struct fx {
    char dir[64];
    struct store *s;
    struct resource group;
    int64_t dataset_id;
};

static void open_csv(struct fx *f, const char *csv)
{
    snprintf(f->dir, sizeof(f->dir), "/tmp/savor-te.XXXXXX");
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
    struct resource d;
    assert_int_equal(dataset_group_find(f->s, "g", &f->group, &e), RC_OK);
    assert_int_equal(dataset_find(f->s, &f->group, DATASET_INTERACTIONS, &d, &e), RC_OK);
    f->dataset_id = d.id;
    resource_release(&d);
}

static void close_fx(struct fx *f)
{
    resource_release(&f->group);
    store_close(f->s);
    char *cmd = xasprintf("rm -rf '%s'", f->dir);
    assert_int_equal(system(cmd), 0);
    free(cmd);
}

#define NU  120
#define PER 12

/* Users in 4 taste groups, each interacting with items of its group (40 items). */
static char *taste_csv(const int *item_of_row)
{
    struct rng r;
    rng_seed(&r, 5);
    size_t cap = 64 + (size_t)NU * PER * 40;
    char *csv = xcalloc(cap, 1);
    size_t n = (size_t)snprintf(csv, cap, "USER_ID,ITEM_ID,TIMESTAMP\n");
    int row = 0;
    for (int k = 0; k < PER; k++)
        for (int u = 0; u < NU; u++, row++) {
            int item = item_of_row ? item_of_row[row] : (u % 4) * 10 + (int)(rng_next(&r) % 10);
            n += (size_t)snprintf(csv + n, cap - n, "u%d,i%d,%d\n", u, item, 1000 + k * 10 + u % 7);
        }
    return csv;
}

struct hpo_out {
    json_t *trials;
    struct split test, val;
};

static void run_hpo(const char *csv, struct hpo_out *out)
{
    struct fx f;
    open_csv(&f, csv);
    struct err e = ERR_INIT;
    struct weighting w;
    weighting_init(&w);
    struct train_data full;
    assert_int_equal(train_data_load(f.s, f.group.id, f.dataset_id, &w, &full, &e), RC_OK);
    struct eval_data d;
    eval_data_init(&d, f.s, &f.group, f.dataset_id, &full, 1);
    struct split_opts o;
    split_opts_default(&o, 42);
    assert_int_equal(eval_split(&d, &o, NULL, &out->test, &e), RC_OK);
    o.seed = 43;
    assert_int_equal(eval_split(&d, &o, &out->test, &out->val, &e), RC_OK);
    json_t *cfg = json_loads(
        "{\"hpoResourceConfig\":{\"maxNumberOfTrainingJobs\":\"4\"},"
        "\"algorithmHyperParameterRanges\":{\"integerHyperParameterRanges\":[{\"name\":\"factors\","
        "\"minValue\":2,\"maxValue\":16}],\"continuousHyperParameterRanges\":[{\"name\":\"alpha\","
        "\"minValue\":0.5,\"maxValue\":20}]}}",
        0, NULL);
    struct hpo_config c;
    assert_int_equal(hpo_config_parse(cfg, &recipe_user_personalization, &c, &e), RC_OK);
    struct param_kv *best;
    size_t nbest;
    assert_int_equal(hpo_run(&d, &recipe_user_personalization, NULL, 0, &w, &c, &out->val, 42,
                             &best, &nbest, &out->trials, NULL, &e),
                     RC_OK);
    assert_int_equal(json_array_size(out->trials), 4);
    hpo_kv_free(best, nbest);
    hpo_config_release(&c);
    json_decref(cfg);
    eval_data_release(&d);
    train_data_release(&full);
    weighting_release(&w);
    close_fx(&f);
}

static void test_hpo_never_reads_test_targets(void **state)
{
    UNUSED(state);
    char *csv = taste_csv(NULL);
    struct hpo_out a, b, c;
    run_hpo(csv, &a);
    /* Rows in file order are the scan positions: poison every test target (another group's item).
     */
    int *items = xcalloc(NU * PER, sizeof(int));
    const char *line = strchr(csv, '\n') + 1;
    for (int row = 0; row < NU * PER; row++, line = strchr(line, '\n') + 1)
        assert_int_equal(sscanf(strchr(line, ',') + 2, "%d", &items[row]), 1);
    int *poisoned = xcalloc(NU * PER, sizeof(int)), *control = xcalloc(NU * PER, sizeof(int));
    int npoison = 0, ncontrol = 0;
    for (int row = 0; row < NU * PER; row++) {
        poisoned[row] = control[row] = items[row];
        bool test_target = split_is_held(a.test.held, (uint64_t)row);
        bool val_target = !test_target && split_is_held(a.val.held, (uint64_t)row);
        if (test_target) poisoned[row] = (items[row] + 17) % 40, npoison++;
        if (val_target) control[row] = (items[row] + 17) % 40, ncontrol++;
    }
    assert_true(npoison > 0 && ncontrol > 0);
    char *csv2 = taste_csv(poisoned), *csv3 = taste_csv(control);
    run_hpo(csv2, &b);
    /* Same splits, same trials, same metrics: nothing of the test targets reached HPO. */
    assert_memory_equal(a.val.users, b.val.users, a.val.ntest * sizeof(uint32_t));
    char *ta = json_dumps(a.trials, JSON_COMPACT), *tb = json_dumps(b.trials, JSON_COMPACT);
    json_t *ma = json_object_get(json_array_get(a.trials, 0), "metrics");
    json_t *mb = json_object_get(json_array_get(b.trials, 0), "metrics");
    assert_true(json_equal(ma, mb));
    /* Compare without the timings. */
    for (size_t i = 0; i < json_array_size(a.trials); i++) {
        json_object_del(json_array_get(a.trials, i), "seconds");
        json_object_del(json_array_get(b.trials, i), "seconds");
    }
    assert_true(json_equal(a.trials, b.trials));
    /* The control: poisoning the validation targets instead does change the trials. */
    run_hpo(csv3, &c);
    for (size_t i = 0; i < json_array_size(c.trials); i++)
        json_object_del(json_array_get(c.trials, i), "seconds");
    assert_false(json_equal(a.trials, c.trials));
    free(ta);
    free(tb);
    free(items);
    free(poisoned);
    free(control);
    free(csv);
    free(csv2);
    free(csv3);
    struct hpo_out *all[3] = {&a, &b, &c};
    for (int i = 0; i < 3; i++) {
        json_decref(all[i]->trials);
        split_release(&all[i]->test);
        split_release(&all[i]->val);
    }
}

/* ---- Chart ----------------------------------------------------------------------- */

static void test_chart_escapes_labels(void **state)
{
    UNUSED(state);
    const double mean[2] = {0.1, 0.2}, err[2] = {0.01, 0.02};
    const char *series[1] = {"a<b & \"c\""};
    struct chart_panel p = {"NDCG@K", 2, {"5", "10"}, mean, err};
    struct chart c = {"t", NULL, "K", 1, series, 1, &p};
    char *svg = chart_svg(&c);
    assert_non_null(strstr(svg, "a&lt;b &amp; &quot;c&quot;"));
    assert_null(strstr(svg, "a<b"));
    assert_non_null(strstr(svg, "</svg>"));
    free(svg);
}

/* evaluationCutoff / --cutoff: epoch seconds or an ISO date, checked as a calendar date. */
static void test_parse_time(void **state)
{
    UNUSED(state);
    int64_t t = -1;
    assert_int_equal(eval_parse_time("1700000000", &t), RC_OK);
    assert_int_equal(t, 1700000000);
    assert_int_equal(eval_parse_time("2024-02-29", &t), RC_OK);
    assert_int_equal(t, 1709164800);
    assert_int_equal(eval_parse_time("2024-02-29T12:00:00Z", &t), RC_OK);
    assert_int_equal(t, 1709208000);
    assert_int_equal(eval_parse_time("2024-02-30", &t), RC_INVALID_INPUT);
    assert_int_equal(eval_parse_time("2023-02-29", &t), RC_INVALID_INPUT);
    assert_int_equal(eval_parse_time("2024-02-29x", &t), RC_INVALID_INPUT);
    assert_int_equal(eval_parse_time("2024-02-29T25:00:00", &t), RC_INVALID_INPUT);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_metrics_two_hits),
        cmocka_unit_test(test_parse_time),
        cmocka_unit_test(test_metrics_edges),
        cmocka_unit_test(test_metrics_mean_and_names),
        cmocka_unit_test(test_split_users_properties),
        cmocka_unit_test(test_split_time),
        cmocka_unit_test(test_split_too_few_users),
        cmocka_unit_test(test_hpo_config_errors),
        cmocka_unit_test(test_hpo_never_reads_test_targets),
        cmocka_unit_test(test_chart_escapes_labels),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
