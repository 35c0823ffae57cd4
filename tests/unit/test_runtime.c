/*
 * test_runtime.c: the runtime and events handlers against a real data
 * directory, without HTTP: GetRecommendations / GetPersonalizedRanking
 * checks, PutEvents visible to the next request (known, new and anonymous
 * users), what the writer stores, group commit under concurrent callers,
 * answers after a restart, PutItems, filters, and swapping a campaign's
 * model while a request holds the old one.
 */
#include "common/base.h"
#include "api/events.h"
#include "api/runtime.h"
#include "dataset/dataset.h"
#include "filter/filter.h"
#include "import/import.h"
#include "models/engine.h"
#include "server/model_cache.h"
#include "store/extra.h"

#include <math.h>
#include <pthread.h>
#include <regex.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#define NUSERS 60
#define NITEMS 40
#define T0     1700000000

struct fx {
    char dir[64];
    struct api_ctx ctx;
    char *version, *version2;
    char *campaign, *campaign_sims, *tracker_arn, *items_arn, *interactions_arn;
    char *filter_arn;
};

static struct fx F;

static void write_file(const char *path, const char *text)
{
    FILE *fp = fopen(path, "w");
    assert_non_null(fp);
    fputs(text, fp);
    fclose(fp);
}

/*
 * Two taste clusters: users 0..29 interact with items 0..19, users 30..59
 * with items 20..39, eight events each, deterministically spread.
 */
static char *interactions_csv(void)
{
    struct buf b;
    buf_init(&b, BUF_NO_CAP);
    buf_addstr(&b, "USER_ID,ITEM_ID,TIMESTAMP,EVENT_TYPE,EVENT_VALUE,IMPRESSION,DEVICE\n");
    for (int u = 0; u < NUSERS; u++) {
        int base = u < NUSERS / 2 ? 0 : NITEMS / 2;
        for (int k = 0; k < 8; k++) {
            int item = base + (u * 7 + k * 3) % (NITEMS / 2);
            buf_addf(&b, "u%d,i%d,%d,%s,%d,,%s\n", u, item, T0 + u * 100 + k,
                     k % 3 ? "click" : "view", 1 + k % 2, k % 2 ? "phone" : "");
        }
    }
    return buf_detach(&b, NULL);
}

static const char *interactions_schema =
    "{\"type\": \"record\", \"name\": \"Interactions\", \"fields\": ["
    "{\"name\": \"USER_ID\", \"type\": \"string\"},"
    "{\"name\": \"ITEM_ID\", \"type\": \"string\"},"
    "{\"name\": \"TIMESTAMP\", \"type\": \"long\"},"
    "{\"name\": \"EVENT_TYPE\", \"type\": \"string\"},"
    "{\"name\": \"EVENT_VALUE\", \"type\": [\"null\", \"float\"]},"
    "{\"name\": \"IMPRESSION\", \"type\": [\"null\", \"string\"]},"
    "{\"name\": \"DEVICE\", \"type\": [\"null\", \"string\"], \"categorical\": true}],"
    "\"version\": \"1.0\"}";

static char *insert(struct store *s, const char *kind, const char *path, int64_t parent,
                    json_t *attrs)
{
    struct err e = ERR_INIT;
    struct resource r = {0};
    r.arn = store_arn(s, kind, path);
    r.kind = xstrdup(kind);
    r.name = xstrdup(strrchr(path, '/') ? strrchr(path, '/') + 1 : path);
    r.parent_id = parent;
    r.status = xstrdup(STATUS_ACTIVE);
    r.attrs = json_dumps(attrs, JSON_COMPACT);
    json_decref(attrs);
    assert_int_equal(store_resource_insert(s, &r, &e), RC_OK);
    char *arn = xstrdup(r.arn);
    resource_release(&r);
    return arn;
}

static char *train(struct store *s, const char *recipe, const char *solution)
{
    struct param_kv kv[] = {{"factors", "8"}, {"iterations", "10"}};
    bool up = strcmp(recipe, "aws-user-personalization") == 0;
    struct train_request r = {.group = "g",
                              .recipe = recipe,
                              .solution = solution,
                              .kv = up ? kv : NULL,
                              .nkv = up ? 2 : 0,
                              .threads = 1};
    char *arn = NULL;
    struct err e = ERR_INIT;
    enum rc rc = engine_train(s, &r, &arn, &e);
    if (rc) fprintf(stderr, "train: %s\n", e.msg);
    assert_int_equal(rc, RC_OK);
    return arn;
}

static int64_t solution_id(struct store *s, const char *version)
{
    struct resource v = {0};
    struct err e = ERR_INIT;
    assert_int_equal(store_resource_get(s, version, &v, &e), RC_OK);
    int64_t id = v.parent_id;
    resource_release(&v);
    return id;
}

static int setup(void **state)
{
    UNUSED(state);
    snprintf(F.dir, sizeof(F.dir), "/tmp/savor-rt.XXXXXX");
    assert_non_null(mkdtemp(F.dir));
    char *csv = xasprintf("%s/in.csv", F.dir), *schema = xasprintf("%s/schema.json", F.dir);
    char *items = xasprintf("%s/items.csv", F.dir);
    char *text = interactions_csv();
    write_file(csv, text);
    free(text);
    write_file(schema, interactions_schema);
    struct buf b;
    buf_init(&b, BUF_NO_CAP);
    buf_addstr(&b, "ITEM_ID,GENRES,CREATION_TIMESTAMP\n");
    for (int i = 0; i < NITEMS; i++)
        buf_addf(&b, "i%d,%s,%d\n", i, i < NITEMS / 2 ? "drama" : "comedy", T0 - 86400 * 100);
    text = buf_detach(&b, NULL);
    write_file(items, text);
    free(text);

    struct err e = ERR_INIT;
    struct store *s;
    assert_int_equal(store_open(F.dir, &s, &e), RC_OK);
    struct import_opts o = {
        .group = "g", .type = DATASET_INTERACTIONS, .input = csv, .schema_path = schema};
    struct import_report rep;
    assert_int_equal(import_run(s, &o, &rep, &e), RC_OK);
    F.interactions_arn = xstrdup(rep.dataset_arn);
    import_report_release(&rep);
    struct import_opts oi = {.group = "g", .type = DATASET_ITEMS, .input = items};
    assert_int_equal(import_run(s, &oi, &rep, &e), RC_OK);
    F.items_arn = xstrdup(rep.dataset_arn);
    import_report_release(&rep);
    free(csv);
    free(schema);
    free(items);

    F.version = train(s, "aws-user-personalization", "up");
    char *sims = train(s, "aws-sims", "sims");
    struct resource g = {0};
    assert_int_equal(dataset_group_find(s, "g", &g, &e), RC_OK);
    F.campaign =
        insert(s, KIND_CAMPAIGN, "c-up", solution_id(s, F.version),
               json_pack("{s:s,s:{s:{s:s}}}", "solutionVersionArn", F.version, "campaignConfig",
                         "itemExplorationConfig", "explorationWeight", "0"));
    F.campaign_sims = insert(s, KIND_CAMPAIGN, "c-sims", solution_id(s, sims),
                             json_pack("{s:s}", "solutionVersionArn", sims));
    F.tracker_arn =
        insert(s, "event-tracker", "t1", g.id,
               json_pack("{s:s,s:s}", "trackingId", "track-1", "datasetGroupArn", g.arn));
    F.filter_arn = insert(s, KIND_FILTER, "f-seen", g.id,
                          json_pack("{s:s,s:s}", "filterExpression",
                                    "EXCLUDE ItemID WHERE Interactions.EVENT_TYPE IN (\"*\")",
                                    "datasetGroupArn", g.arn));
    resource_release(&g);
    free(sims);

    F.ctx.store = s;
    pthread_mutex_init(&F.ctx.store_mu, NULL);
    F.ctx.data_dir = F.dir;
    assert_int_equal(runtime_start(&F.ctx, &e), RC_OK);
    assert_int_equal(model_cache_count(F.ctx.models), 2); /* preloaded */
    return 0;
}

static int teardown(void **state)
{
    UNUSED(state);
    runtime_stop(&F.ctx);
    store_close(F.ctx.store);
    pthread_mutex_destroy(&F.ctx.store_mu);
    char *cmd = xasprintf("rm -rf '%s'", F.dir);
    assert_int_equal(system(cmd), 0);
    free(cmd);
    free(F.version);
    free(F.version2);
    free(F.campaign);
    free(F.campaign_sims);
    free(F.tracker_arn);
    free(F.items_arn);
    free(F.interactions_arn);
    free(F.filter_arn);
    return 0;
}

/* ---- Helpers ---------------------------------------------------------------- */

/* Call 'h' on the JSON text 'req'; *resp (may be NULL) gets the answer. Returns the status. */
static int call(api_handler h, const char *req, json_t **resp, struct api_error *err)
{
    json_error_t je;
    json_t *r = json_loads(req, 0, &je);
    if (!r) fail_msg("bad test JSON: %s: %s", je.text, req);
    json_t *out = NULL;
    memset(err, 0, sizeof(*err));
    enum rc rc = h(&F.ctx, r, &out, err);
    json_decref(r);
    if (rc) {
        assert_null(out);
        assert_non_null(err->type);
        return err->status;
    }
    if (resp)
        *resp = out;
    else
        json_decref(out);
    return 200;
}

static json_t *recommend(const char *user, int n)
{
    char *req = xasprintf("{\"campaignArn\": \"%s\", \"userId\": \"%s\", \"numResults\": %d}",
                          F.campaign, user, n);
    json_t *resp = NULL;
    struct api_error err;
    int st = call(api_get_recommendations, req, &resp, &err);
    if (st != 200) fail_msg("GetRecommendations: %d %s", st, err.message);
    free(req);
    return resp;
}

static int put_events(const char *user, const char *session, const char *items_csv,
                      struct api_error *err)
{
    struct buf b;
    buf_init(&b, BUF_NO_CAP);
    buf_addf(&b, "{\"trackingId\": \"track-1\", \"sessionId\": \"%s\"", session);
    if (user) buf_addf(&b, ", \"userId\": \"%s\"", user);
    buf_addstr(&b, ", \"eventList\": [");
    char *list = xstrdup(items_csv), *save = NULL;
    int k = 0;
    for (char *it = strtok_r(list, ",", &save); it; it = strtok_r(NULL, ",", &save), k++)
        buf_addf(&b,
                 "%s{\"eventType\": \"click\", \"itemId\": \"%s\", \"sentAt\": %d, "
                 "\"eventValue\": 2}",
                 k ? ", " : "", it, T0 + 20000 + k);
    buf_addstr(&b, "]}");
    free(list);
    int st = call(api_put_events, b.data, NULL, err);
    buf_release(&b);
    return st;
}

static int item_index(const json_t *entry)
{
    return (int)strtol(json_string_value(json_object_get(entry, "itemId")) + 1, NULL, 10);
}

/* Items of a response whose IDs are i20..i39 (the second cluster). */
static int second_cluster(const json_t *resp, const char *list)
{
    int n = 0;
    size_t k;
    json_t *x;
    json_array_foreach(json_object_get(resp, list), k, x) n += item_index(x) >= NITEMS / 2;
    return n;
}

static bool all_scored(const json_t *resp)
{
    size_t k;
    json_t *x;
    json_array_foreach(json_object_get(resp, "itemList"), k, x)
    {
        if (json_object_get(x, "reason")) return false;
    }
    return json_array_size(json_object_get(resp, "itemList")) > 0;
}

/* ---- GetRecommendations ----------------------------------------------------- */

static void test_recommendations_shape(void **state)
{
    UNUSED(state);
    json_t *r = recommend("u3", 5);
    json_t *list = json_object_get(r, "itemList");
    assert_int_equal(json_array_size(list), 5);
    /* A first-cluster user gets first-cluster items, scored, best first. */
    assert_int_equal(second_cluster(r, "itemList"), 0);
    assert_true(all_scored(r));
    for (size_t k = 1; k < 5; k++)
        assert_true(json_real_value(json_object_get(json_array_get(list, k - 1), "score")) >=
                    json_real_value(json_object_get(json_array_get(list, k), "score")));
    regex_t re;
    assert_int_equal(
        regcomp(&re, "^RID-[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$",
                REG_EXTENDED | REG_NOSUB),
        0);
    const char *rid = json_string_value(json_object_get(r, "recommendationId"));
    assert_non_null(rid);
    assert_int_equal(regexec(&re, rid, 0, NULL, 0), 0);
    json_t *r2 = recommend("u3", 5);
    assert_string_not_equal(rid, json_string_value(json_object_get(r2, "recommendationId")));
    regfree(&re);
    json_decref(r2);
    json_decref(r);

    /* numResults defaults to 25 (the catalog has 40 items with data). */
    char *req = xasprintf("{\"campaignArn\": \"%s\", \"userId\": \"u3\"}", F.campaign);
    struct api_error err;
    assert_int_equal(call(api_get_recommendations, req, &r, &err), 200);
    assert_int_equal(json_array_size(json_object_get(r, "itemList")), 25);
    json_decref(r);
    free(req);

    /* Explanations on request: history items with shares. */
    req = xasprintf("{\"campaignArn\": \"%s\", \"userId\": \"u3\", \"numResults\": 3,"
                    " \"context\": {\"savor:explain\": \"true\", \"DEVICE\": \"phone\"}}",
                    F.campaign);
    assert_int_equal(call(api_get_recommendations, req, &r, &err), 200);
    json_t *x = json_object_get(json_array_get(json_object_get(r, "itemList"), 0), "explanation");
    assert_true(json_is_array(x) && json_array_size(x) > 0);
    assert_true(json_is_number(json_object_get(json_array_get(x, 0), "share")));
    json_decref(r);
    free(req);

    /* Related items: itemId, never the item itself. */
    req = xasprintf("{\"campaignArn\": \"%s\", \"itemId\": \"i25\", \"numResults\": 10}",
                    F.campaign_sims);
    assert_int_equal(call(api_get_recommendations, req, &r, &err), 200);
    size_t k;
    json_array_foreach(json_object_get(r, "itemList"), k, x)
        assert_string_not_equal(json_string_value(json_object_get(x, "itemId")), "i25");
    assert_true(second_cluster(r, "itemList") >= 5);
    json_decref(r);
    free(req);
}

struct bad_case {
    const char *body; /* %1$s: the user campaign, %2$s: the sims campaign */
    int status;
    const char *type;
    const char *message; /* a substring */
};

static void run_bad_cases(api_handler h, const struct bad_case *cases, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        char *body = xasprintf(cases[i].body, F.campaign, F.campaign_sims);
        struct api_error err;
        int st = call(h, body, NULL, &err);
        if (st != cases[i].status || strcmp(err.type, cases[i].type) != 0 ||
            !strstr(err.message, cases[i].message))
            fail_msg("%s: got %d %s '%s', want %d %s '%s'", body, st, err.type ? err.type : "-",
                     err.message, cases[i].status, cases[i].type, cases[i].message);
        free(body);
    }
}

static void test_recommendations_bad_requests(void **state)
{
    UNUSED(state);
    static const struct bad_case cases[] = {
        {"{\"userId\": \"u1\"}", 400, "InvalidInputException", "campaignArn is required"},
        {"{\"recommenderArn\": \"arn:aws:personalize:us-east-1:1:recommender/r\", \"userId\": "
         "\"u1\"}",
         400, "InvalidInputException", "recommenderArn"},
        {"{\"campaignArn\": \"%1$s\", \"userId\": \"u1\", \"numResults\": 0}", 400,
         "InvalidInputException", "numResults must be between 1 and 500"},
        {"{\"campaignArn\": \"%1$s\", \"userId\": \"u1\", \"numResults\": 501}", 400,
         "InvalidInputException", "numResults must be between 1 and 500"},
        {"{\"campaignArn\": \"%1$s\", \"userId\": \"u1\", \"numResults\": \"5\"}", 400,
         "InvalidInputException", "numResults must be an integer"},
        {"{\"campaignArn\": \"%1$s\"}", 400, "InvalidInputException", "userId is required"},
        {"{\"campaignArn\": \"%2$s\", \"userId\": \"u1\"}", 400, "InvalidInputException",
         "itemId is required"},
        {"{\"campaignArn\": \"not-an-arn\", \"userId\": \"u1\"}", 400, "InvalidInputException",
         "is not a Personalize ARN"},
        {"{\"campaignArn\": \"arn:aws:personalize:us-east-1:000000000000:campaign/nope\", "
         "\"userId\": \"u1\"}",
         404, "ResourceNotFoundException", "campaign/nope does not exist"},
        {"{\"campaignArn\": \"%1$s\", \"userId\": 12}", 400, "InvalidInputException",
         "userId must be a string"},
        {"{\"campaignArn\": \"%1$s\", \"userId\": \"u1\", \"context\": {\"bad key\": \"x\"}}", 400,
         "InvalidInputException", "context key 'bad key'"},
        {"{\"campaignArn\": \"%1$s\", \"userId\": \"u1\", \"context\": {\"savor:explain\": "
         "\"yes\"}}",
         400, "InvalidInputException", "\"true\" or \"false\""},
        {"{\"campaignArn\": \"%1$s\", \"userId\": \"u1\", \"filterValues\": {\"A\": \"1\"}}", 400,
         "InvalidInputException", "filterValues needs a filterArn"},
        {"{\"campaignArn\": \"%1$s\", \"userId\": \"u1\", \"filterArn\": "
         "\"arn:aws:personalize:us-east-1:000000000000:filter/nope\"}",
         404, "ResourceNotFoundException", "filter/nope does not exist"},
        {"{\"campaignArn\": \"%1$s\", \"userId\": \"u1\", \"promotions\": [{\"name\": \"p\"}]}",
         400, "InvalidInputException", "promotions"},
        {"[1]", 400, "InvalidInputException", "must be a JSON object"},
    };
    run_bad_cases(api_get_recommendations, cases, ARRAY_SIZE(cases));
    static const struct bad_case rank[] = {
        {"{\"campaignArn\": \"%1$s\", \"userId\": \"u1\"}", 400, "InvalidInputException",
         "inputList is required"},
        {"{\"campaignArn\": \"%1$s\", \"userId\": \"u1\", \"inputList\": []}", 400,
         "InvalidInputException", "inputList must hold 1 to 500"},
        {"{\"campaignArn\": \"%1$s\", \"userId\": \"u1\", \"inputList\": [\"\"]}", 400,
         "InvalidInputException", "inputList[0]"},
        {"{\"campaignArn\": \"%1$s\", \"inputList\": [\"i1\"]}", 400, "InvalidInputException",
         "userId is required"},
        {"{\"campaignArn\": \"%2$s\", \"userId\": \"u1\", \"inputList\": [\"i1\"]}", 400,
         "InvalidInputException", "cannot rank"},
    };
    run_bad_cases(api_get_personalized_ranking, rank, ARRAY_SIZE(rank));
}

static void test_ranking(void **state)
{
    UNUSED(state);
    char *req = xasprintf("{\"campaignArn\": \"%s\", \"userId\": \"u40\", \"inputList\": "
                          "[\"i1\", \"i30\", \"unknown\", \"i2\", \"i31\"]}",
                          F.campaign);
    json_t *r;
    struct api_error err;
    assert_int_equal(call(api_get_personalized_ranking, req, &r, &err), 200);
    json_t *list = json_object_get(r, "personalizedRanking");
    assert_int_equal(json_array_size(list), 5);
    /* A second-cluster user: i30 and i31 first, the unknown item last without a score. */
    assert_true(item_index(json_array_get(list, 0)) >= 20);
    assert_true(item_index(json_array_get(list, 1)) >= 20);
    assert_string_equal(json_string_value(json_object_get(json_array_get(list, 4), "itemId")),
                        "unknown");
    assert_null(json_object_get(json_array_get(list, 4), "score"));
    assert_non_null(json_object_get(r, "recommendationId"));
    json_decref(r);
    free(req);
}

static void test_filter_excludes_history(void **state)
{
    UNUSED(state);
    char *req = xasprintf("{\"campaignArn\": \"%s\", \"userId\": \"u3\", \"numResults\": 20,"
                          " \"filterArn\": \"%s\"}",
                          F.campaign, F.filter_arn);
    json_t *r;
    struct api_error err;
    int st = call(api_get_recommendations, req, &r, &err);
    if (st != 200) fail_msg("%d %s", st, err.message);
    /* u3's history: i(3*7 + k*3) mod 20 for k < 8. */
    size_t k;
    json_t *x;
    json_array_foreach(json_object_get(r, "itemList"), k, x)
    {
        int it = item_index(x);
        for (int h = 0; h < 8; h++)
            assert_int_not_equal(it, (3 * 7 + h * 3) % 20);
    }
    assert_int_equal(json_array_size(json_object_get(r, "itemList")), 20);
    json_decref(r);
    free(req);
}

/* ---- PutEvents ---------------------------------------------------------------- */

static void test_events_new_user(void **state)
{
    UNUSED(state);
    /* Unknown to the model and the store: popular items, unscored. */
    json_t *before = recommend("newbie", 10);
    assert_false(all_scored(before));
    struct api_error err;
    assert_int_equal(put_events("newbie", "s-newbie", "i30,i31,i32", &err), 200);
    json_t *after = recommend("newbie", 10);
    assert_true(all_scored(after));
    assert_true(second_cluster(after, "itemList") >= 8);
    json_decref(before);
    json_decref(after);
}

static void test_events_known_user(void **state)
{
    UNUSED(state);
    json_t *before = recommend("u5", 10);
    assert_int_equal(second_cluster(before, "itemList"), 0);
    struct api_error err;
    /* A first-cluster user turns to the second cluster. */
    for (int round = 0; round < 3; round++)
        assert_int_equal(put_events("u5", "s-u5", "i21,i22,i23,i24,i25,i26,i27,i28,i29,i30", &err),
                         200);
    json_t *after = recommend("u5", 10);
    assert_true(second_cluster(after, "itemList") > 0);
    json_decref(before);
    json_decref(after);
}

static void test_events_anonymous_session(void **state)
{
    UNUSED(state);
    struct api_error err;
    assert_int_equal(put_events(NULL, "anon-session-1", "i33,i34", &err), 200);
    /* An anonymous user is keyed by the session, as in Personalize. */
    json_t *r = recommend("anon-session-1", 10);
    assert_true(all_scored(r));
    assert_true(second_cluster(r, "itemList") >= 8);
    json_decref(r);
}

/* The chunk the writer appended last, with its IMPRESSION column decoded. */
struct last_chunk {
    uint32_t n;
    char impression[256];
    float value;
    int64_t ts;
    char columns[256];
};

static enum rc keep_last(void *ctx, const struct interaction_chunk *c, struct err *e)
{
    UNUSED(e);
    struct last_chunk *l = ctx;
    l->n = c->n;
    l->value = c->event_values[c->n - 1];
    l->ts = c->ts[c->n - 1];
    snprintf(l->columns, sizeof(l->columns), "%s", c->extra_columns);
    l->impression[0] = '\0';
    const char *stream, *v;
    size_t len, vlen;
    bool null;
    if (extra_column(c->extra, c->extra_len, 0, &stream, &len)) {
        const char *p = stream;
        while (extra_next(&p, stream + len, &v, &vlen, &null))
            if (!null) snprintf(l->impression, sizeof(l->impression), "%.*s", (int)vlen, v);
    }
    return RC_OK;
}

static void test_events_stored(void **state)
{
    UNUSED(state);
    struct err e = ERR_INIT;
    struct store *s;
    assert_int_equal(store_open(F.dir, &s, &e), RC_OK); /* another connection: what is on disk */
    struct resource d = {0};
    assert_int_equal(store_resource_get(s, F.interactions_arn, &d, &e), RC_OK);
    uint64_t before, after;
    assert_int_equal(store_interactions_count(s, d.id, &before, &e), RC_OK);
    const char *req =
        "{\"trackingId\": \"track-1\", \"sessionId\": \"s9\", \"userId\": \"u9\", \"eventList\": ["
        "{\"eventType\": \"view\", \"itemId\": \"i2\", \"sentAt\": 1700050000},"
        "{\"eventType\": \"buy\", \"itemId\": \"brand-new-item\", \"sentAt\": 1700050001.9,"
        " \"eventValue\": 4.5, \"impression\": [\"i2\", \"i3\"], \"recommendationId\": \"RID-x\","
        " \"properties\": \"{\\\"device\\\": \\\"tablet\\\"}\"}]}";
    struct api_error err;
    assert_int_equal(call(api_put_events, req, NULL, &err), 200);
    assert_int_equal(store_interactions_count(s, d.id, &after, &e), RC_OK);
    assert_int_equal(after, before + 2);
    struct last_chunk l;
    assert_int_equal(store_interactions_scan(s, d.id, keep_last, &l, &e), RC_OK);
    assert_int_equal(l.n, 2);
    assert_string_equal(l.columns, "IMPRESSION,DEVICE");
    assert_string_equal(l.impression, "i2|i3");
    assert_true(fabsf(l.value - 4.5f) < 1e-6);
    assert_int_equal(l.ts, 1700050001);
    /* The new item and event type are in the group's ID maps. */
    struct strmap *items = strmap_new(), *types = strmap_new();
    assert_int_equal(store_idmap_load(s, d.parent_id, ID_ITEMS, items, &e), RC_OK);
    assert_int_equal(store_idmap_load(s, d.parent_id, ID_EVENT_TYPES, types, &e), RC_OK);
    uint32_t idx;
    assert_true(strmap_get(items, "brand-new-item", 14, &idx));
    assert_true(strmap_get(types, "buy", 3, &idx));
    strmap_free(items);
    strmap_free(types);
    resource_release(&d);
    store_close(s);
}

static void test_events_bad_requests(void **state)
{
    UNUSED(state);
    static const struct bad_case cases[] = {
        {"{\"sessionId\": \"s\", \"eventList\": [{\"eventType\": \"click\", \"itemId\": \"i1\", "
         "\"sentAt\": 1}]}",
         400, "InvalidInputException", "trackingId is required"},
        {"{\"trackingId\": \"track-1\", \"eventList\": [{\"eventType\": \"click\", \"itemId\": "
         "\"i1\", \"sentAt\": 1}]}",
         400, "InvalidInputException", "sessionId is required"},
        {"{\"trackingId\": \"track-1\", \"sessionId\": \"s\", \"eventList\": []}", 400,
         "InvalidInputException", "eventList must hold 1 to 10"},
        {"{\"trackingId\": \"track-1\", \"sessionId\": \"s\", \"eventList\": [{\"itemId\": "
         "\"i1\", \"sentAt\": 1}]}",
         400, "InvalidInputException", "eventList[0].eventType is required"},
        {"{\"trackingId\": \"track-1\", \"sessionId\": \"s\", \"eventList\": [{\"eventType\": "
         "\"c\", \"itemId\": \"i1\"}]}",
         400, "InvalidInputException", "eventList[0].sentAt is required"},
        {"{\"trackingId\": \"track-1\", \"sessionId\": \"s\", \"eventList\": [{\"eventType\": "
         "\"c\", \"itemId\": \"i1\", \"sentAt\": 1, \"eventValue\": \"x\"}]}",
         400, "InvalidInputException", "eventValue must be a number"},
        {"{\"trackingId\": \"track-1\", \"sessionId\": \"s\", \"eventList\": [{\"eventType\": "
         "\"c\", \"itemId\": \"i1\", \"sentAt\": 1, \"impression\": [\"a|b\"]}]}",
         400, "InvalidInputException", "impression[0]"},
        {"{\"trackingId\": \"track-1\", \"sessionId\": \"s\", \"eventList\": [{\"eventType\": "
         "\"c\", \"itemId\": \"i1\", \"sentAt\": 1, \"properties\": \"{\\\"nope\\\": 1}\"}]}",
         400, "InvalidInputException", "'nope' is not a field"},
        {"{\"trackingId\": \"track-1\", \"sessionId\": \"s\", \"eventList\": [{\"eventType\": "
         "\"c\", \"itemId\": \"i1\", \"sentAt\": 1, \"properties\": \"{bad\"}]}",
         400, "InvalidInputException", "properties is not a JSON object"},
        {"{\"trackingId\": \"track-1\", \"sessionId\": \"s\", \"eventList\": [{\"eventType\": "
         "\"c\", \"itemId\": \"i1\", \"sentAt\": 1, \"properties\": \"{\\\"impression\\\": "
         "\\\"x\\\"}\"}]}",
         400, "InvalidInputException", "set by its own event field"},
        {"{\"trackingId\": \"nope\", \"sessionId\": \"s\", \"eventList\": [{\"eventType\": \"c\", "
         "\"itemId\": \"i1\", \"sentAt\": 1}]}",
         404, "ResourceNotFoundException", "no event tracker has trackingId nope"},
        {"{\"trackingId\": \"track-1\", \"sessionId\": \"s\", \"eventList\": [{\"eventType\": "
         "\"c\", \"itemId\": \"i1\", \"sentAt\": 1}, {\"eventType\": \"c\", \"itemId\": \"i1\", "
         "\"sentAt\": -5}]}",
         400, "InvalidInputException", "eventList[1].sentAt"},
    };
    struct err e = ERR_INIT;
    struct resource d = {0};
    uint64_t before, after;
    pthread_mutex_lock(&F.ctx.store_mu);
    assert_int_equal(store_resource_get(F.ctx.store, F.interactions_arn, &d, &e), RC_OK);
    assert_int_equal(store_interactions_count(F.ctx.store, d.id, &before, &e), RC_OK);
    pthread_mutex_unlock(&F.ctx.store_mu);
    run_bad_cases(api_put_events, cases, ARRAY_SIZE(cases));
    /* Nothing of a refused request is written, not even its valid events. */
    pthread_mutex_lock(&F.ctx.store_mu);
    assert_int_equal(store_interactions_count(F.ctx.store, d.id, &after, &e), RC_OK);
    pthread_mutex_unlock(&F.ctx.store_mu);
    assert_int_equal(after, before);
    resource_release(&d);
}

/* ---- Group commit ------------------------------------------------------------- */

#define WRITERS 12
#define CALLS   20

static void *writer_thread(void *arg)
{
    long t = (long)arg;
    for (int c = 0; c < CALLS; c++) {
        char user[32];
        snprintf(user, sizeof(user), "load-%ld-%d", t, c);
        struct api_error err;
        if (put_events(user, "s", "i1,i2", &err) != 200) return (void *)1;
    }
    return NULL;
}

static void test_group_commit(void **state)
{
    UNUSED(state);
    struct event_writer_stats s0, s1;
    event_writer_stats(F.ctx.events, &s0);
    pthread_t th[WRITERS];
    for (long t = 0; t < WRITERS; t++)
        assert_int_equal(pthread_create(&th[t], NULL, writer_thread, (void *)t), 0);
    for (int t = 0; t < WRITERS; t++) {
        void *ret;
        pthread_join(th[t], &ret);
        assert_null(ret);
    }
    event_writer_stats(F.ctx.events, &s1);
    assert_int_equal(s1.events - s0.events, WRITERS * CALLS * 2);
    assert_int_equal(s1.failures, s0.failures);
    /* Callers that queue while a commit runs share the next one. */
    assert_true(s1.commits - s0.commits < WRITERS * CALLS);
    print_message("# %d PutEvents calls in %llu commits\n", WRITERS * CALLS,
                  (unsigned long long)(s1.commits - s0.commits));
    /* Every caller's user is in the group's map, and in their history. */
    struct err e = ERR_INIT;
    struct store *s;
    assert_int_equal(store_open(F.dir, &s, &e), RC_OK);
    struct resource d = {0};
    assert_int_equal(store_resource_get(s, F.interactions_arn, &d, &e), RC_OK);
    struct strmap *users = strmap_new();
    assert_int_equal(store_idmap_load(s, d.parent_id, ID_USERS, users, &e), RC_OK);
    for (int t = 0; t < WRITERS; t++)
        for (int c = 0; c < CALLS; c++) {
            char user[32];
            uint32_t idx;
            snprintf(user, sizeof(user), "load-%d-%d", t, c);
            if (!strmap_get(users, user, strlen(user), &idx)) fail_msg("%s is not stored", user);
            json_t *r = recommend(user, 5);
            if (!all_scored(r)) fail_msg("%s: its events are not in its history", user);
            json_decref(r);
        }
    strmap_free(users);
    resource_release(&d);
    store_close(s);
}

/* ---- PutItems / PutUsers ------------------------------------------------------ */

static void test_put_items(void **state)
{
    UNUSED(state);
    struct err e = ERR_INIT;
    struct resource d = {0};
    uint64_t before, after;
    pthread_mutex_lock(&F.ctx.store_mu);
    assert_int_equal(store_resource_get(F.ctx.store, F.items_arn, &d, &e), RC_OK);
    assert_int_equal(store_entity_count(F.ctx.store, d.id, &before, &e), RC_OK);
    pthread_mutex_unlock(&F.ctx.store_mu);
    char *req = xasprintf(
        "{\"datasetArn\": \"%s\", \"items\": [{\"itemId\": \"fresh-1\", \"properties\": "
        "\"{\\\"genres\\\": \\\"comedy|satire\\\", \\\"creationTimestamp\\\": 1700100000}\"},"
        " {\"itemId\": \"i1\", \"properties\": \"{\\\"GENRES\\\": \\\"drama\\\","
        " \\\"CREATION_TIMESTAMP\\\": 1600000000}\"}]}",
        F.items_arn);
    struct api_error err;
    int st = call(api_put_items, req, NULL, &err);
    if (st != 200) fail_msg("%d %s", st, err.message);
    free(req);
    pthread_mutex_lock(&F.ctx.store_mu);
    assert_int_equal(store_entity_count(F.ctx.store, d.id, &after, &e), RC_OK);
    pthread_mutex_unlock(&F.ctx.store_mu);
    assert_int_equal(after, before + 1); /* i1 replaced, fresh-1 added */

    /* The new item is an exploration candidate at once, unscored; never without exploration. */
    struct campaign_model *cm;
    assert_int_equal(model_cache_get(F.ctx.models, F.campaign, &cm, &e), RC_OK);
    struct exploration x = {1.0, 30};
    bool placed = false;
    for (int with = 0; with < 2; with++) {
        json_t *out = NULL;
        assert_int_equal(
            model_recommend(cm->model, "u3", NULL, 10, false, with ? &x : NULL, NULL, &out, &e),
            RC_OK);
        size_t k;
        json_t *it;
        json_array_foreach(json_object_get(out, "itemList"), k, it)
        {
            if (strcmp(json_string_value(json_object_get(it, "itemId")), "fresh-1")) continue;
            assert_true(with);
            assert_string_equal(json_string_value(json_array_get(json_object_get(it, "reason"), 0)),
                                "Exploration");
            assert_true(json_real_value(json_object_get(it, "score")) == 0);
            placed = true;
        }
        json_decref(out);
    }
    assert_true(placed);
    model_cache_put(F.ctx.models, cm);
    /* A model opened now reads it from the ITEMS dataset (i1 it was trained with). */
    struct model *m;
    pthread_mutex_lock(&F.ctx.store_mu);
    assert_int_equal(model_open_version(F.ctx.store, F.version, &m, &e), RC_OK);
    pthread_mutex_unlock(&F.ctx.store_mu);
    assert_int_equal(model_fresh_items(m), 1);
    model_close(m);

    char *items = xasprintf("%s", F.items_arn);
    char *users = xasprintf("%s", F.interactions_arn);
    struct bad_case cases[] = {
        {"{\"datasetArn\": \"ITEMS\", \"items\": [{\"itemId\": \"x\", \"properties\": "
         "\"{\\\"colour\\\": \\\"red\\\"}\"}]}",
         400, "InvalidInputException", "'colour' is not a field"},
        {"{\"datasetArn\": \"ITEMS\", \"items\": [{\"itemId\": \"x\", \"properties\": "
         "\"{\\\"creationTimestamp\\\": \\\"soon\\\"}\"}]}",
         400, "InvalidInputException", "is not a whole number"},
        {"{\"datasetArn\": \"ITEMS\", \"items\": []}", 400, "InvalidInputException",
         "items must hold 1 to 10"},
        {"{\"datasetArn\": \"ITEMS\", \"items\": [{\"properties\": \"{}\"}]}", 400,
         "InvalidInputException", "items[0].itemId is required"},
        {"{\"datasetArn\": \"ITEMS\", \"items\": [{\"itemId\": \"x\", \"properties\": "
         "\"{\\\"genres\\\": \\\"a\\\"}\"}]}",
         400, "InvalidInputException", "field CREATION_TIMESTAMP is required"},
    };
    for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
        char *body = xstrdup(cases[i].body);
        char *at = strstr(body, "\"ITEMS\"");
        char *full = xasprintf("%.*s\"%s\"%s", (int)(at - body), body, items, at + 7);
        int got = call(api_put_items, full, NULL, &err);
        if (got != cases[i].status || !strstr(err.message, cases[i].message))
            fail_msg("%s: got %d '%s'", full, got, err.message);
        free(full);
        free(body);
    }
    req = xasprintf("{\"datasetArn\": \"%s\", \"users\": [{\"userId\": \"x\"}]}", users);
    assert_int_equal(call(api_put_users, req, NULL, &err), 400);
    assert_non_null(strstr(err.message, "holds INTERACTIONS; PutUsers writes to a USERS dataset"));
    free(req);
    req = xasprintf("{\"datasetArn\": \"%s\", \"items\": [{\"itemId\": \"x\"}]}",
                    "arn:aws:personalize:us-east-1:000000000000:dataset/nope/ITEMS");
    assert_int_equal(call(api_put_items, req, NULL, &err), 404);
    free(req);
    free(items);
    free(users);
    resource_release(&d);
}

/* ---- Restart and swap --------------------------------------------------------- */

static void test_restart_keeps_events(void **state)
{
    UNUSED(state);
    json_t *before = recommend("newbie", 10);
    assert_true(all_scored(before));
    runtime_stop(&F.ctx);
    struct err e = ERR_INIT;
    assert_int_equal(runtime_start(&F.ctx, &e), RC_OK);
    /* The model is opened again and reads the events from the store. */
    json_t *after = recommend("newbie", 10);
    json_object_del(before, "recommendationId");
    json_object_del(after, "recommendationId");
    assert_true(json_equal(before, after));
    json_decref(before);
    json_decref(after);
}

static void test_campaign_swap_keeps_request_in_flight(void **state)
{
    UNUSED(state);
    struct err e = ERR_INIT;
    pthread_mutex_lock(&F.ctx.store_mu);
    F.version2 = train(F.ctx.store, "aws-user-personalization", "up");
    struct resource c = {0};
    assert_int_equal(store_resource_get(F.ctx.store, F.campaign, &c, &e), RC_OK);
    json_t *a = json_loads(c.attrs, 0, NULL);
    json_object_set_new(a, "solutionVersionArn", json_string(F.version2));
    free(c.attrs);
    c.attrs = json_dumps(a, JSON_COMPACT);
    json_decref(a);
    assert_int_equal(store_resource_update(F.ctx.store, &c, &e), RC_OK);
    resource_release(&c);
    pthread_mutex_unlock(&F.ctx.store_mu);

    struct campaign_model *old;
    assert_int_equal(model_cache_get(F.ctx.models, F.campaign, &old, &e), RC_OK);
    assert_string_equal(old->version_arn, F.version);
    F.ctx.campaign_changed(&F.ctx, F.campaign); /* UpdateCampaign */
    /* The request holding the old model still answers from it. */
    json_t *out = NULL;
    assert_int_equal(model_recommend(old->model, "u1", NULL, 5, false, NULL, NULL, &out, &e),
                     RC_OK);
    assert_int_equal(json_array_size(json_object_get(out, "itemList")), 5);
    json_decref(out);
    struct campaign_model *now;
    assert_int_equal(model_cache_get(F.ctx.models, F.campaign, &now, &e), RC_OK);
    assert_string_equal(now->version_arn, F.version2);
    assert_ptr_not_equal(now, old);
    model_cache_put(F.ctx.models, old); /* the last reference: closes the old model */
    model_cache_put(F.ctx.models, now);
    /* Events recorded before the swap are part of the new model's view too. */
    json_t *r = recommend("anon-session-1", 5);
    assert_true(all_scored(r));
    json_decref(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_recommendations_shape),
        cmocka_unit_test(test_recommendations_bad_requests),
        cmocka_unit_test(test_ranking),
        cmocka_unit_test(test_filter_excludes_history),
        cmocka_unit_test(test_events_new_user),
        cmocka_unit_test(test_events_known_user),
        cmocka_unit_test(test_events_anonymous_session),
        cmocka_unit_test(test_events_stored),
        cmocka_unit_test(test_events_bad_requests),
        cmocka_unit_test(test_group_commit),
        cmocka_unit_test(test_put_items),
        cmocka_unit_test(test_restart_keeps_events),
        cmocka_unit_test(test_campaign_swap_keeps_request_in_flight),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
