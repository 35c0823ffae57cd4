/*
 * test_api_control.c: the control-plane handlers, called as the server
 * calls them (api_find(op)->handler with a parsed JSON body) over a
 * temporary data directory, with the background jobs running.
 */
#include "common/base.h"

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <ftw.h>
#include <sys/stat.h>
#include <unistd.h>

#include "api/api.h"
#include "api/jobs.h"
#include "api/validate.h"
#include "store/store.h"

#define ROLE       "arn:aws:iam::123456789012:role/PersonalizeRole"
#define RECIPE_UP  "arn:aws:personalize:::recipe/aws-user-personalization"
#define RECIPE_POP "arn:aws:personalize:::recipe/aws-popularity-count"

static const char interactions_schema[] =
    "{\\\"type\\\":\\\"record\\\",\\\"name\\\":\\\"Interactions\\\",\\\"namespace\\\":"
    "\\\"com.amazonaws.personalize.schema\\\",\\\"fields\\\":["
    "{\\\"name\\\":\\\"USER_ID\\\",\\\"type\\\":\\\"string\\\"},"
    "{\\\"name\\\":\\\"ITEM_ID\\\",\\\"type\\\":\\\"string\\\"},"
    "{\\\"name\\\":\\\"TIMESTAMP\\\",\\\"type\\\":\\\"long\\\"}],\\\"version\\\":\\\"1.0\\\"}";

struct fx {
    char tmp[64];
    char *data, *allowed, *csv;
    char *allowed_list[1];
    struct api_ctx ctx;
    json_t *resp;
    struct api_error err;
    int changed; /* campaign_changed calls */
    char last_changed[256];
};

static void on_campaign_changed(struct api_ctx *ctx, const char *arn)
{
    struct fx *f = (struct fx *)((char *)ctx - offsetof(struct fx, ctx));
    f->changed++;
    snprintf(f->last_changed, sizeof(f->last_changed), "%s", arn);
}

static void write_file(const char *path, const char *text)
{
    FILE *fp = fopen(path, "w");
    assert_non_null(fp);
    fputs(text, fp);
    fclose(fp);
}

/* 30 users; user u interacts with items (u + k) % 12 for k < 6: enough to train on. */
static void write_interactions(const char *path)
{
    FILE *fp = fopen(path, "w");
    assert_non_null(fp);
    fprintf(fp, "USER_ID,ITEM_ID,TIMESTAMP\n");
    for (int u = 0; u < 30; u++)
        for (int k = 0; k < 6; k++)
            fprintf(fp, "u%d,i%d,%d\n", u, (u + k) % 12, 1700000000 + u * 100 + k);
    fclose(fp);
}

static int open_ctx(struct fx *f, bool with_jobs)
{
    memset(&f->ctx, 0, sizeof(f->ctx));
    struct err e = ERR_INIT;
    if (store_open(f->data, &f->ctx.store, &e)) return -1;
    pthread_mutex_init(&f->ctx.store_mu, NULL);
    f->ctx.data_dir = f->data;
    f->allowed_list[0] = f->allowed;
    f->ctx.allowed_paths = f->allowed_list;
    f->ctx.nallowed = 1;
    f->ctx.campaign_changed = on_campaign_changed;
    if (with_jobs && jobs_start(&f->ctx, &e)) return -1;
    return 0;
}

static void close_ctx(struct fx *f)
{
    jobs_stop(f->ctx.jobs);
    store_close(f->ctx.store);
    f->ctx.store = NULL;
    pthread_mutex_destroy(&f->ctx.store_mu);
}

static int setup(void **state)
{
    struct fx *f = xcalloc(1, sizeof(*f));
    strlcpy_(f->tmp, "/tmp/savor-test-api.XXXXXX", sizeof(f->tmp));
    if (!mkdtemp(f->tmp)) return -1;
    f->data = xasprintf("%s/data", f->tmp);
    f->allowed = xasprintf("%s/in", f->tmp);
    mkdir(f->allowed, 0755);
    f->csv = xasprintf("%s/in/interactions.csv", f->tmp);
    write_interactions(f->csv);
    setenv("SAVOR_REGION", "us-west-2", 1);
    setenv("SAVOR_ACCOUNT_ID", "111122223333", 1);
    setenv("SAVOR_JOB_WORKERS", "1", 1);
    *state = f;
    return open_ctx(f, true);
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
    close_ctx(f);
    json_decref(f->resp);
    nftw(f->tmp, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    free(f->data);
    free(f->allowed);
    free(f->csv);
    free(f);
    return 0;
}

/* Call operation 'op' with the JSON body built from fmt; f->resp holds the answer. */
static enum rc call(struct fx *f, const char *op, const char *fmt, ...) PRINTF_LIKE(3, 4);

static enum rc call(struct fx *f, const char *op, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char text[8192];
    vsnprintf(text, sizeof(text), fmt, ap);
    va_end(ap);
    json_error_t je;
    json_t *req = json_loads(text, 0, &je);
    if (!req) fail_msg("bad test JSON for %s: %s: %s", op, je.text, text);
    const struct api_op *o = api_find(op);
    assert_non_null(o);
    assert_int_equal(o->plane, API_CONTROL);
    json_decref(f->resp);
    f->resp = NULL;
    memset(&f->err, 0, sizeof(f->err));
    enum rc rc = o->handler(&f->ctx, req, &f->resp, &f->err);
    json_decref(req);
    if (rc) {
        assert_null(f->resp);
        assert_non_null(f->err.type);
    }
    return rc;
}

#define CALL_OK(f, op, ...)                                                     \
    do {                                                                        \
        if (call(f, op, __VA_ARGS__))                                           \
            fail_msg("%s failed: %s: %s", op, (f)->err.type, (f)->err.message); \
    } while (0)

/* The call fails with 'type' and a message containing 'needle'. */
#define CALL_FAILS(f, etype, needle, op, ...)                                          \
    do {                                                                               \
        enum rc rc_ = call(f, op, __VA_ARGS__);                                        \
        if (!rc_) fail_msg("%s succeeded; expected %s", op, etype);                    \
        if (strcmp((f)->err.type, etype) != 0 || !strstr((f)->err.message, needle))    \
            fail_msg("%s: got %s: %s; expected %s containing '%s'", op, (f)->err.type, \
                     (f)->err.message, etype, needle);                                 \
        assert_int_equal((f)->err.status, 400);                                        \
    } while (0)

/* Member 'a' then 'b' (b may be NULL) of the response, as a string copy the caller frees. */
static char *get2(struct fx *f, const char *a, const char *b)
{
    json_t *v = json_object_get(f->resp, a);
    if (b) v = json_object_get(v, b);
    const char *s = json_string_value(v);
    if (!s) fail_msg("response has no string %s%s%s", a, b ? "." : "", b ? b : "");
    return xstrdup(s);
}

static char *create_group(struct fx *f, const char *name)
{
    CALL_OK(f, "CreateDatasetGroup", "{\"name\": \"%s\"}", name);
    return get2(f, "datasetGroupArn", NULL);
}

/* A group with an interactions dataset imported from the fixture's CSV. */
static void import_ready(struct fx *f, const char *name, char **group, char **dataset)
{
    *group = create_group(f, name);
    char sname[80];
    snprintf(sname, sizeof(sname), "%s-schema", name);
    CALL_OK(f, "CreateSchema", "{\"name\": \"%s\", \"schema\": \"%s\"}", sname,
            interactions_schema);
    char *schema = get2(f, "schemaArn", NULL);
    CALL_OK(f, "CreateDataset",
            "{\"name\": \"%s-int\", \"schemaArn\": \"%s\", \"datasetGroupArn\": \"%s\", "
            "\"datasetType\": \"Interactions\"}",
            name, schema, *group);
    *dataset = get2(f, "datasetArn", NULL);
    free(schema);
    CALL_OK(f, "CreateDatasetImportJob",
            "{\"jobName\": \"%s-import\", \"datasetArn\": \"%s\", \"roleArn\": \"" ROLE "\", "
            "\"dataSource\": {\"dataLocation\": \"file://%s\"}}",
            name, *dataset, f->csv);
    char *job = get2(f, "datasetImportJobArn", NULL);
    jobs_wait_idle(f->ctx.jobs);
    CALL_OK(f, "DescribeDatasetImportJob", "{\"datasetImportJobArn\": \"%s\"}", job);
    char *status = get2(f, "datasetImportJob", "status");
    assert_string_equal(status, "ACTIVE");
    free(status);
    free(job);
}

static char *train(struct fx *f, const char *group, const char *name, const char *recipe)
{
    CALL_OK(f, "CreateSolution",
            "{\"name\": \"%s\", \"datasetGroupArn\": \"%s\", \"recipeArn\": \"%s\"}", name, group,
            recipe);
    char *sol = get2(f, "solutionArn", NULL);
    CALL_OK(f, "CreateSolutionVersion", "{\"solutionArn\": \"%s\"}", sol);
    char *ver = get2(f, "solutionVersionArn", NULL);
    jobs_wait_idle(f->ctx.jobs);
    CALL_OK(f, "DescribeSolutionVersion", "{\"solutionVersionArn\": \"%s\"}", ver);
    char *status = get2(f, "solutionVersion", "status");
    if (strcmp(status, "ACTIVE") != 0)
        fail_msg("version %s is %s: %s", ver, status,
                 json_string_value(json_object_get(json_object_get(f->resp, "solutionVersion"),
                                                   "failureReason")));
    free(status);
    free(sol);
    return ver;
}

/* ---- tests ---- */

static void test_validation(void **state)
{
    struct fx *f = *state;
    struct err e = ERR_INIT;
    json_t *j = json_pack("{s:s}", "name", "ok-name_1");
    assert_int_equal(api_validate("CreateDatasetGroup", j, &e), RC_OK);
    json_decref(j);
    assert_true(api_name_valid("a"));
    assert_false(api_name_valid("-a"));
    assert_false(api_name_valid("a b"));

    CALL_FAILS(f, "InvalidInputException", "at 'name'", "CreateDatasetGroup",
               "{\"name\": \"bad name\"}");
    CALL_FAILS(f, "InvalidInputException", "regular expression", "CreateDatasetGroup",
               "{\"name\": \"_x\"}");
    CALL_FAILS(f, "InvalidInputException", "length less than or equal to 63", "CreateDatasetGroup",
               "{\"name\": \"a123456789012345678901234567890123456789012345678901234567890123\"}");
    CALL_FAILS(f, "InvalidInputException", "must not be null", "CreateDatasetGroup", "{}");
    CALL_FAILS(f, "InvalidInputException", "must be a string", "CreateDatasetGroup",
               "{\"name\": 5}");
    CALL_FAILS(f, "InvalidInputException", "maxResults", "ListDatasetGroups",
               "{\"maxResults\": 0}");
    CALL_FAILS(f, "InvalidInputException", "less than or equal to 100", "ListDatasetGroups",
               "{\"maxResults\": 101}");
    CALL_FAILS(f, "InvalidInputException", "datasetGroupArn", "DescribeDatasetGroup",
               "{\"datasetGroupArn\": \"not-an-arn\"}");
    CALL_FAILS(f, "InvalidInputException", "enum value set", "CreateSolutionVersion",
               "{\"solutionArn\": \"arn:aws:personalize:us-west-2:1:solution/x\", "
               "\"trainingMode\": \"PARTIAL\"}");
    CALL_FAILS(f, "InvalidInputException", "tags.1.member.tagKey", "CreateDatasetGroup",
               "{\"name\": \"g\", \"tags\": [{\"tagKey\": \"\", \"tagValue\": \"v\"}]}");
    CALL_FAILS(f, "InvalidInputException", "roleArn", "CreateDatasetGroup",
               "{\"name\": \"g\", \"roleArn\": \"arn:aws:iam::12:role/x\"}");
    /* Nothing was created by the failed calls. */
    CALL_OK(f, "ListDatasetGroups", "{}");
    assert_int_equal(json_array_size(json_object_get(f->resp, "datasetGroups")), 0);
}

static void test_dataset_groups(void **state)
{
    struct fx *f = *state;
    char *g1 = create_group(f, "g1");
    assert_string_equal(g1, "arn:aws:personalize:us-west-2:111122223333:dataset-group/g1");
    CALL_FAILS(f, "ResourceAlreadyExistsException", "g1", "CreateDatasetGroup",
               "{\"name\": \"g1\"}");
    CALL_OK(f, "DescribeDatasetGroup", "{\"datasetGroupArn\": \"%s\"}", g1);
    json_t *dg = json_object_get(f->resp, "datasetGroup");
    assert_string_equal(json_string_value(json_object_get(dg, "status")), "ACTIVE");
    assert_string_equal(json_string_value(json_object_get(dg, "name")), "g1");
    assert_true(json_is_number(json_object_get(dg, "creationDateTime")));
    assert_true(json_number_value(json_object_get(dg, "creationDateTime")) > 1.6e9);
    CALL_FAILS(
        f, "ResourceNotFoundException", "dataset-group/nope", "DescribeDatasetGroup",
        "{\"datasetGroupArn\": \"arn:aws:personalize:us-west-2:111122223333:dataset-group/nope\"}");
    CALL_FAILS(f, "InvalidInputException", "domain", "CreateDatasetGroup",
               "{\"name\": \"g9\", \"domain\": \"ECOMMERCE\"}");

    /* Pagination: 5 groups, pages of 2. */
    for (int i = 2; i <= 5; i++)
        free(create_group(f, i == 2 ? "g2" : i == 3 ? "g3" : i == 4 ? "g4" : "g5"));
    CALL_OK(f, "ListDatasetGroups", "{\"maxResults\": 2}");
    assert_int_equal(json_array_size(json_object_get(f->resp, "datasetGroups")), 2);
    char *token = get2(f, "nextToken", NULL);
    char seen[5] = {0};
    size_t total = 0;
    for (size_t k = 0; k < 2; k++) {
        json_t *g = json_array_get(json_object_get(f->resp, "datasetGroups"), k);
        seen[json_string_value(json_object_get(g, "name"))[1] - '1'] = 1;
    }
    total += 2;
    while (token) {
        CALL_OK(f, "ListDatasetGroups", "{\"maxResults\": 2, \"nextToken\": \"%s\"}", token);
        free(token);
        token = NULL;
        size_t i;
        json_t *g;
        json_array_foreach(json_object_get(f->resp, "datasetGroups"), i, g)
            seen[json_string_value(json_object_get(g, "name"))[1] - '1'] = 1;
        total += json_array_size(json_object_get(f->resp, "datasetGroups"));
        if (json_object_get(f->resp, "nextToken")) token = get2(f, "nextToken", NULL);
    }
    assert_int_equal(total, 5);
    for (int k = 0; k < 5; k++)
        assert_int_equal(seen[k], 1); /* every group exactly on some page */
    CALL_FAILS(f, "InvalidNextTokenException", "nextToken", "ListDatasetGroups",
               "{\"nextToken\": \"forged\"}");

    CALL_OK(f, "DeleteDatasetGroup", "{\"datasetGroupArn\": \"%s\"}", g1);
    CALL_FAILS(f, "ResourceNotFoundException", "g1", "DescribeDatasetGroup",
               "{\"datasetGroupArn\": \"%s\"}", g1);
    free(g1);
}

static void test_schemas_and_datasets(void **state)
{
    struct fx *f = *state;
    char *g = create_group(f, "shop");
    CALL_FAILS(f, "InvalidInputException", "schema", "CreateSchema",
               "{\"name\": \"s\", \"schema\": \"{not json\"}");
    CALL_OK(f, "CreateSchema", "{\"name\": \"int-schema\", \"schema\": \"%s\"}",
            interactions_schema);
    char *schema = get2(f, "schemaArn", NULL);
    CALL_OK(f, "DescribeSchema", "{\"schemaArn\": \"%s\"}", schema);
    assert_non_null(
        strstr(json_string_value(json_object_get(json_object_get(f->resp, "schema"), "schema")),
               "USER_ID"));
    /* A schema without TIMESTAMP does not fit an Interactions dataset. */
    CALL_OK(f, "CreateSchema",
            "{\"name\": \"no-ts\", \"schema\": \"{\\\"type\\\":\\\"record\\\",\\\"name\\\":"
            "\\\"Interactions\\\",\\\"fields\\\":[{\\\"name\\\":\\\"USER_ID\\\",\\\"type\\\":"
            "\\\"string\\\"},{\\\"name\\\":\\\"ITEM_ID\\\",\\\"type\\\":\\\"string\\\"}]}\"}");
    char *nots = get2(f, "schemaArn", NULL);
    CALL_FAILS(f, "InvalidInputException", "does not fit", "CreateDataset",
               "{\"name\": \"u\", \"schemaArn\": \"%s\", \"datasetGroupArn\": \"%s\", "
               "\"datasetType\": \"Interactions\"}",
               nots, g);
    CALL_FAILS(f, "InvalidInputException", "datasetType", "CreateDataset",
               "{\"name\": \"u\", \"schemaArn\": \"%s\", \"datasetGroupArn\": \"%s\", "
               "\"datasetType\": \"Actions\"}",
               schema, g);
    free(nots);
    CALL_OK(f, "CreateDataset",
            "{\"name\": \"shop-int\", \"schemaArn\": \"%s\", \"datasetGroupArn\": \"%s\", "
            "\"datasetType\": \"Interactions\"}",
            schema, g);
    char *ds = get2(f, "datasetArn", NULL);
    assert_non_null(strstr(ds, ":dataset/shop/INTERACTIONS"));
    CALL_FAILS(f, "ResourceAlreadyExistsException", "Interactions", "CreateDataset",
               "{\"name\": \"again\", \"schemaArn\": \"%s\", \"datasetGroupArn\": \"%s\", "
               "\"datasetType\": \"Interactions\"}",
               schema, g);
    CALL_OK(f, "DescribeDataset", "{\"datasetArn\": \"%s\"}", ds);
    json_t *d = json_object_get(f->resp, "dataset");
    assert_string_equal(json_string_value(json_object_get(d, "datasetType")), "Interactions");
    assert_string_equal(json_string_value(json_object_get(d, "schemaArn")), schema);
    assert_string_equal(json_string_value(json_object_get(d, "name")), "shop-int");
    CALL_OK(f, "ListDatasets", "{\"datasetGroupArn\": \"%s\"}", g);
    assert_int_equal(json_array_size(json_object_get(f->resp, "datasets")), 1);

    CALL_FAILS(f, "ResourceInUseException", "dataset", "DeleteSchema", "{\"schemaArn\": \"%s\"}",
               schema);
    CALL_FAILS(f, "ResourceInUseException", "datasets", "DeleteDatasetGroup",
               "{\"datasetGroupArn\": \"%s\"}", g);
    CALL_OK(f, "DeleteDataset", "{\"datasetArn\": \"%s\"}", ds);
    CALL_OK(f, "DeleteSchema", "{\"schemaArn\": \"%s\"}", schema);
    CALL_OK(f, "DeleteDatasetGroup", "{\"datasetGroupArn\": \"%s\"}", g);
    free(g);
    free(schema);
    free(ds);
}

static void test_import_paths(void **state)
{
    struct fx *f = *state;
    char *g, *ds;
    import_ready(f, "paths", &g, &ds);
    const char *bad[] = {"/etc/passwd", "file:///etc/passwd", "s3://bucket/x.csv", "", NULL};
    for (size_t i = 0; bad[i]; i++)
        CALL_FAILS(f, "InvalidInputException", "dataLocation", "CreateDatasetImportJob",
                   "{\"jobName\": \"bad%zu\", \"datasetArn\": \"%s\", \"roleArn\": \"" ROLE
                   "\", \"dataSource\": {\"dataLocation\": \"%s\"}}",
                   i, ds, bad[i]);
    /* '..' out of the allowed directory, and a symbolic link pointing out of it. */
    CALL_FAILS(f, "InvalidInputException", "outside", "CreateDatasetImportJob",
               "{\"jobName\": \"dots\", \"datasetArn\": \"%s\", \"roleArn\": \"" ROLE
               "\", \"dataSource\": {\"dataLocation\": \"%s/../../../../etc/passwd\"}}",
               ds, f->allowed);
    char *link = xasprintf("%s/link.csv", f->allowed);
    assert_int_equal(symlink("/etc/passwd", link), 0);
    CALL_FAILS(f, "InvalidInputException", "outside", "CreateDatasetImportJob",
               "{\"jobName\": \"link\", \"datasetArn\": \"%s\", \"roleArn\": \"" ROLE
               "\", \"dataSource\": {\"dataLocation\": \"%s\"}}",
               ds, link);
    free(link);
    /* None of them was recorded. */
    CALL_OK(f, "ListDatasetImportJobs", "{\"datasetArn\": \"%s\"}", ds);
    assert_int_equal(json_array_size(json_object_get(f->resp, "datasetImportJobs")), 1);

    /* A CSV that does not fit the schema: the job ends CREATE FAILED with the reason. */
    char *badcsv = xasprintf("%s/bad.csv", f->allowed);
    write_file(badcsv, "USER_ID,ITEM_ID,TIMESTAMP\nu1,i1,notanumber\n");
    CALL_OK(f, "CreateDatasetImportJob",
            "{\"jobName\": \"badrows\", \"datasetArn\": \"%s\", \"roleArn\": \"" ROLE
            "\", \"dataSource\": {\"dataLocation\": \"%s\"}, \"importMode\": \"INCREMENTAL\"}",
            ds, badcsv);
    char *job = get2(f, "datasetImportJobArn", NULL);
    jobs_wait_idle(f->ctx.jobs);
    CALL_OK(f, "DescribeDatasetImportJob", "{\"datasetImportJobArn\": \"%s\"}", job);
    json_t *j = json_object_get(f->resp, "datasetImportJob");
    assert_string_equal(json_string_value(json_object_get(j, "status")), "CREATE FAILED");
    assert_non_null(strstr(json_string_value(json_object_get(j, "failureReason")), "TIMESTAMP"));
    assert_string_equal(json_string_value(json_object_get(j, "importMode")), "INCREMENTAL");
    CALL_FAILS(f, "ResourceAlreadyExistsException", "badrows", "CreateDatasetImportJob",
               "{\"jobName\": \"badrows\", \"datasetArn\": \"%s\", \"roleArn\": \"" ROLE
               "\", \"dataSource\": {\"dataLocation\": \"%s\"}}",
               ds, badcsv);
    free(job);
    free(badcsv);
    free(g);
    free(ds);
}

static void test_workflow(void **state)
{
    struct fx *f = *state;
    char *g, *ds;
    import_ready(f, "flow", &g, &ds);
    CALL_FAILS(f, "ResourceNotFoundException", "recipe", "CreateSolution",
               "{\"name\": \"s0\", \"datasetGroupArn\": \"%s\", \"recipeArn\": "
               "\"arn:aws:personalize:::recipe/aws-nope\"}",
               g);
    CALL_FAILS(f, "InvalidInputException", "algorithmHyperParameters", "CreateSolution",
               "{\"name\": \"s0\", \"datasetGroupArn\": \"%s\", \"recipeArn\": \"" RECIPE_UP
               "\", \"solutionConfig\": {\"algorithmHyperParameters\": {\"no_such\": \"1\"}}}",
               g);
    char *ver = train(f, g, "flow-up", RECIPE_UP);
    CALL_OK(f, "GetSolutionMetrics", "{\"solutionVersionArn\": \"%s\"}", ver);
    assert_string_equal(json_string_value(json_object_get(f->resp, "solutionVersionArn")), ver);
    assert_true(json_is_object(json_object_get(f->resp, "metrics")));
    /* Offline metrics computed at training (eval/), in Personalize's names. */
    json_t *p10 = json_object_get(json_object_get(f->resp, "metrics"), "precision_at_10");
    assert_true(json_is_real(p10));
    assert_true(json_real_value(p10) >= 0 && json_real_value(p10) <= 1);
    assert_non_null(json_object_get(json_object_get(f->resp, "metrics"),
                                    "normalized_discounted_cumulative_gain_at_10"));

    CALL_OK(f, "DescribeSolution", "{\"solutionArn\": \"%.*s\"}", (int)(strrchr(ver, '/') - ver),
            ver);
    json_t *sol = json_object_get(f->resp, "solution");
    assert_string_equal(json_string_value(json_object_get(sol, "recipeArn")), RECIPE_UP);
    assert_string_equal(json_string_value(json_object_get(
                            json_object_get(sol, "latestSolutionVersion"), "solutionVersionArn")),
                        ver);

    /* Campaigns: ACTIVE at once, exploration defaults, the server told. */
    CALL_FAILS(f, "InvalidInputException", "explorationWeight", "CreateCampaign",
               "{\"name\": \"c\", \"solutionVersionArn\": \"%s\", \"campaignConfig\": "
               "{\"itemExplorationConfig\": {\"explorationWeight\": \"1.5\"}}}",
               ver);
    CALL_OK(f, "CreateCampaign", "{\"name\": \"flow-c\", \"solutionVersionArn\": \"%s\"}", ver);
    char *camp = get2(f, "campaignArn", NULL);
    assert_int_equal(f->changed, 1);
    assert_string_equal(f->last_changed, camp);
    CALL_OK(f, "DescribeCampaign", "{\"campaignArn\": \"%s\"}", camp);
    json_t *c = json_object_get(f->resp, "campaign");
    assert_string_equal(json_string_value(json_object_get(c, "status")), "ACTIVE");
    assert_int_equal(json_integer_value(json_object_get(c, "minProvisionedTPS")), 1);
    json_t *x = json_object_get(json_object_get(c, "campaignConfig"), "itemExplorationConfig");
    assert_string_equal(json_string_value(json_object_get(x, "explorationWeight")), "0.3");
    CALL_OK(f, "UpdateCampaign",
            "{\"campaignArn\": \"%s\", \"minProvisionedTPS\": 3, \"campaignConfig\": "
            "{\"itemExplorationConfig\": {\"explorationWeight\": \"0\", "
            "\"explorationItemAgeCutOff\": \"7\"}}}",
            camp);
    assert_int_equal(f->changed, 2);
    CALL_OK(f, "DescribeCampaign", "{\"campaignArn\": \"%s\"}", camp);
    c = json_object_get(f->resp, "campaign");
    assert_int_equal(json_integer_value(json_object_get(c, "minProvisionedTPS")), 3);
    x = json_object_get(json_object_get(c, "campaignConfig"), "itemExplorationConfig");
    assert_string_equal(json_string_value(json_object_get(x, "explorationWeight")), "0");
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(c, "latestCampaignUpdate"), "status")),
        "ACTIVE");

    /* Event trackers: one per group. */
    CALL_OK(f, "CreateEventTracker", "{\"name\": \"flow-t\", \"datasetGroupArn\": \"%s\"}", g);
    char *tracker = get2(f, "eventTrackerArn", NULL);
    char *tid = get2(f, "trackingId", NULL);
    assert_int_equal(strlen(tid), 36);
    CALL_FAILS(f, "LimitExceededException", "event tracker", "CreateEventTracker",
               "{\"name\": \"flow-t2\", \"datasetGroupArn\": \"%s\"}", g);
    CALL_OK(f, "DescribeEventTracker", "{\"eventTrackerArn\": \"%s\"}", tracker);
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(f->resp, "eventTracker"), "trackingId")),
        tid);
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(f->resp, "eventTracker"), "accountId")),
        "111122223333");

    /* Filters. */
    CALL_FAILS(f, "InvalidInputException", "filterExpression", "CreateFilter",
               "{\"name\": \"f\", \"datasetGroupArn\": \"%s\", \"filterExpression\": \"nope\"}", g);
    CALL_FAILS(f, "InvalidInputException", "GENRE", "CreateFilter",
               "{\"name\": \"f\", \"datasetGroupArn\": \"%s\", \"filterExpression\": "
               "\"INCLUDE ItemID WHERE Items.GENRE IN (\\\"x\\\")\"}",
               g);
    CALL_OK(f, "CreateFilter",
            "{\"name\": \"flow-f\", \"datasetGroupArn\": \"%s\", \"filterExpression\": "
            "\"EXCLUDE ItemID WHERE Interactions.EVENT_TYPE IN (\\\"*\\\")\"}",
            g);
    char *filter = get2(f, "filterArn", NULL);
    CALL_OK(f, "DescribeFilter", "{\"filterArn\": \"%s\"}", filter);
    assert_non_null(strstr(
        json_string_value(json_object_get(json_object_get(f->resp, "filter"), "filterExpression")),
        "EXCLUDE ItemID"));
    CALL_OK(f, "ListFilters", "{\"datasetGroupArn\": \"%s\"}", g);
    assert_int_equal(json_array_size(json_object_get(f->resp, "Filters")), 1);

    /* Deletes in dependency order, refused while something depends on the resource. */
    char *solarn = xstrndup(ver, (size_t)(strrchr(ver, '/') - ver));
    CALL_FAILS(f, "ResourceInUseException", "campaign", "DeleteSolution",
               "{\"solutionArn\": \"%s\"}", solarn);
    CALL_FAILS(f, "ResourceInUseException", "datasets", "DeleteDatasetGroup",
               "{\"datasetGroupArn\": \"%s\"}", g);
    CALL_OK(f, "DeleteCampaign", "{\"campaignArn\": \"%s\"}", camp);
    assert_int_equal(f->changed, 3);
    CALL_OK(f, "DeleteSolution", "{\"solutionArn\": \"%s\"}", solarn);
    CALL_FAILS(f, "ResourceNotFoundException", "solution version", "DescribeSolutionVersion",
               "{\"solutionVersionArn\": \"%s\"}", ver);
    CALL_OK(f, "DeleteEventTracker", "{\"eventTrackerArn\": \"%s\"}", tracker);
    CALL_OK(f, "DeleteFilter", "{\"filterArn\": \"%s\"}", filter);
    CALL_OK(f, "DeleteDataset", "{\"datasetArn\": \"%s\"}", ds);
    CALL_OK(f, "DeleteDatasetGroup", "{\"datasetGroupArn\": \"%s\"}", g);
    free(solarn);
    free(filter);
    free(tracker);
    free(tid);
    free(camp);
    free(ver);
    free(g);
    free(ds);
}

static void test_batch_inference(void **state)
{
    struct fx *f = *state;
    char *g, *ds;
    import_ready(f, "batch", &g, &ds);
    char *ver = train(f, g, "batch-pop", RECIPE_POP);
    char *in = xasprintf("%s/users.jsonl", f->allowed);
    char *out = xasprintf("%s/out.jsonl", f->allowed);
    write_file(in, "{\"userId\": \"u1\"}\n{\"userId\": \"new-user\"}\n{\"nothing\": 1}\n");
    CALL_FAILS(f, "InvalidInputException", "outside", "CreateBatchInferenceJob",
               "{\"jobName\": \"b0\", \"solutionVersionArn\": \"%s\", \"roleArn\": \"" ROLE
               "\", \"jobInput\": {\"s3DataSource\": {\"path\": \"%s\"}}, \"jobOutput\": "
               "{\"s3DataDestination\": {\"path\": \"/tmp/escape.jsonl\"}}}",
               ver, in);
    CALL_OK(f, "CreateBatchInferenceJob",
            "{\"jobName\": \"b1\", \"solutionVersionArn\": \"%s\", \"roleArn\": \"" ROLE
            "\", \"numResults\": 3, \"jobInput\": {\"s3DataSource\": {\"path\": \"%s\"}}, "
            "\"jobOutput\": {\"s3DataDestination\": {\"path\": \"file://%s\"}}}",
            ver, in, out);
    char *job = get2(f, "batchInferenceJobArn", NULL);
    jobs_wait_idle(f->ctx.jobs);
    CALL_OK(f, "DescribeBatchInferenceJob", "{\"batchInferenceJobArn\": \"%s\"}", job);
    json_t *b = json_object_get(f->resp, "batchInferenceJob");
    assert_string_equal(json_string_value(json_object_get(b, "status")), "ACTIVE");
    assert_int_equal(json_integer_value(json_object_get(b, "numResults")), 3);
    FILE *fp = fopen(out, "r");
    assert_non_null(fp);
    char line[4096];
    int n = 0;
    while (fgets(line, sizeof(line), fp)) {
        json_t *rec = json_loads(line, 0, NULL);
        assert_non_null(rec);
        json_t *items = json_object_get(json_object_get(rec, "output"), "recommendedItems");
        if (n < 2) {
            assert_int_equal(json_array_size(items), 3);
            assert_true(json_is_null(json_object_get(rec, "error")));
        } else {
            assert_true(json_is_string(json_object_get(rec, "error")));
        }
        json_decref(rec);
        n++;
    }
    fclose(fp);
    assert_int_equal(n, 3);
    CALL_OK(f, "ListBatchInferenceJobs", "{\"solutionVersionArn\": \"%s\"}", ver);
    assert_int_equal(json_array_size(json_object_get(f->resp, "batchInferenceJobs")), 1);
    /* Deleting the solution takes its versions' batch jobs with it. */
    char *sol = xstrndup(ver, (size_t)(strrchr(ver, '/') - ver));
    CALL_OK(f, "DeleteSolution", "{\"solutionArn\": \"%s\"}", sol);
    CALL_FAILS(f, "ResourceNotFoundException", "batch inference job", "DescribeBatchInferenceJob",
               "{\"batchInferenceJobArn\": \"%s\"}", job);
    free(sol);
    free(job);
    free(in);
    free(out);
    free(ver);
    free(g);
    free(ds);
}

static void test_recipes_and_tags(void **state)
{
    struct fx *f = *state;
    CALL_OK(f, "ListRecipes", "{}");
    json_t *list = json_object_get(f->resp, "recipes");
    assert_true(json_array_size(list) >= 6);
    bool found = false;
    size_t i;
    json_t *r;
    json_array_foreach(list, i, r) found =
        found || strcmp(json_string_value(json_object_get(r, "recipeArn")), RECIPE_UP) == 0;
    assert_true(found);
    CALL_OK(f, "DescribeRecipe", "{\"recipeArn\": \"" RECIPE_UP "\"}");
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(f->resp, "recipe"), "recipeType")),
        "USER_PERSONALIZATION");
    CALL_FAILS(f, "ResourceNotFoundException", "recipe", "DescribeRecipe",
               "{\"recipeArn\": \"arn:aws:personalize:::recipe/aws-nope\"}");
    CALL_OK(f, "DescribeAlgorithm",
            "{\"algorithmArn\": \"arn:aws:personalize:::algorithm/aws-user-personalization\"}");
    json_t *alg = json_object_get(f->resp, "algorithm");
    assert_true(json_object_size(json_object_get(alg, "defaultHyperParameters")) > 0);

    char *g = create_group(f, "tagged");
    CALL_OK(f, "TagResource",
            "{\"resourceArn\": \"%s\", \"tags\": [{\"tagKey\": \"team\", \"tagValue\": \"recs\"}, "
            "{\"tagKey\": \"env\", \"tagValue\": \"dev\"}]}",
            g);
    CALL_OK(f, "UntagResource", "{\"resourceArn\": \"%s\", \"tagKeys\": [\"env\"]}", g);
    CALL_OK(f, "ListTagsForResource", "{\"resourceArn\": \"%s\"}", g);
    json_t *tags = json_object_get(f->resp, "tags");
    assert_int_equal(json_array_size(tags), 1);
    assert_string_equal(json_string_value(json_object_get(json_array_get(tags, 0), "tagKey")),
                        "team");
    char body[8192];
    size_t used = (size_t)snprintf(body, sizeof(body), "{\"resourceArn\": \"%s\", \"tags\": [", g);
    for (int k = 0; k < 60; k++)
        used += (size_t)snprintf(body + used, sizeof(body) - used,
                                 "%s{\"tagKey\": \"k%d\", \"tagValue\": \"v\"}", k ? "," : "", k);
    snprintf(body + used, sizeof(body) - used, "]}");
    CALL_FAILS(f, "TooManyTagsException", "50", "TagResource", "%s", body);
    CALL_FAILS(f, "ResourceNotFoundException", "does not exist", "ListTagsForResource",
               "{\"resourceArn\": \"arn:aws:personalize:us-west-2:111122223333:filter/none\"}");
    free(g);
}

/* Stop, and the queue surviving a restart. */
static void test_stop_and_recovery(void **state)
{
    struct fx *f = *state;
    char *g, *ds;
    import_ready(f, "rec", &g, &ds);
    CALL_OK(f, "CreateSolution",
            "{\"name\": \"rec-pop\", \"datasetGroupArn\": \"%s\", \"recipeArn\": \"" RECIPE_POP
            "\"}",
            g);
    char *sol = get2(f, "solutionArn", NULL);

    /* Without workers, versions stay CREATE PENDING: stop one. */
    close_ctx(f);
    assert_int_equal(open_ctx(f, false), 0);
    CALL_OK(f, "CreateSolutionVersion", "{\"solutionArn\": \"%s\"}", sol);
    char *v1 = get2(f, "solutionVersionArn", NULL);
    CALL_FAILS(f, "ResourceInUseException", "CREATE PENDING", "CreateSolutionVersion",
               "{\"solutionArn\": \"%s\"}", sol);
    CALL_OK(f, "StopSolutionVersionCreation", "{\"solutionVersionArn\": \"%s\"}", v1);
    CALL_OK(f, "DescribeSolutionVersion", "{\"solutionVersionArn\": \"%s\"}", v1);
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(f->resp, "solutionVersion"), "status")),
        "CREATE STOPPED");
    CALL_FAILS(f, "InvalidInputException", "CREATE STOPPED", "StopSolutionVersionCreation",
               "{\"solutionVersionArn\": \"%s\"}", v1);

    /* A pending version and an import job a dead server left IN_PROGRESS. */
    CALL_OK(f, "CreateSolutionVersion", "{\"solutionArn\": \"%s\"}", sol);
    char *v2 = get2(f, "solutionVersionArn", NULL);
    CALL_OK(f, "CreateDatasetImportJob",
            "{\"jobName\": \"rec-stuck\", \"datasetArn\": \"%s\", \"roleArn\": \"" ROLE
            "\", \"dataSource\": {\"dataLocation\": \"%s\"}}",
            ds, f->csv);
    char *stuck = get2(f, "datasetImportJobArn", NULL);
    struct resource r = {0};
    struct err e = ERR_INIT;
    assert_int_equal(store_resource_get(f->ctx.store, stuck, &r, &e), RC_OK);
    free(r.status);
    r.status = xstrdup("CREATE IN_PROGRESS");
    free(r.attrs);
    r.attrs = xstrdup("{\"workerPid\": 999999999}");
    assert_int_equal(store_begin(f->ctx.store, &e), RC_OK);
    assert_int_equal(store_resource_update(f->ctx.store, &r, &e), RC_OK);
    assert_int_equal(store_commit(f->ctx.store, &e), RC_OK);
    resource_release(&r);

    close_ctx(f);
    assert_int_equal(open_ctx(f, true), 0);
    jobs_wait_idle(f->ctx.jobs);
    CALL_OK(f, "DescribeSolutionVersion", "{\"solutionVersionArn\": \"%s\"}", v2);
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(f->resp, "solutionVersion"), "status")),
        "ACTIVE");
    CALL_OK(f, "DescribeDatasetImportJob", "{\"datasetImportJobArn\": \"%s\"}", stuck);
    json_t *j = json_object_get(f->resp, "datasetImportJob");
    assert_string_equal(json_string_value(json_object_get(j, "status")), "CREATE FAILED");
    assert_non_null(strstr(json_string_value(json_object_get(j, "failureReason")), "interrupted"));

    CALL_OK(f, "ListSolutionVersions", "{\"solutionArn\": \"%s\"}", sol);
    assert_int_equal(json_array_size(json_object_get(f->resp, "solutionVersions")), 2);
    free(stuck);
    free(v1);
    free(v2);
    free(sol);
    free(g);
    free(ds);
}

static void test_automl(void **state)
{
    struct fx *f = *state;
    char *g, *ds;
    import_ready(f, "auto", &g, &ds);
    CALL_FAILS(f, "InvalidInputException", "recipeList", "CreateSolution",
               "{\"name\": \"a0\", \"datasetGroupArn\": \"%s\", \"performAutoML\": true, "
               "\"recipeArn\": \"" RECIPE_POP "\"}",
               g);
    CALL_FAILS(f, "ResourceNotFoundException", "aws-nope", "CreateSolution",
               "{\"name\": \"a0\", \"datasetGroupArn\": \"%s\", \"performAutoML\": true, "
               "\"solutionConfig\": {\"autoMLConfig\": {\"recipeList\": "
               "[\"arn:aws:personalize:::recipe/aws-nope\"]}}}",
               g);
    CALL_OK(f, "CreateSolution",
            "{\"name\": \"auto-s\", \"datasetGroupArn\": \"%s\", \"performAutoML\": true, "
            "\"solutionConfig\": {\"autoMLConfig\": {\"recipeList\": [\"" RECIPE_POP
            "\", \"" RECIPE_UP "\"]}}}",
            g);
    char *sol = get2(f, "solutionArn", NULL);
    CALL_OK(f, "CreateSolutionVersion", "{\"solutionArn\": \"%s\"}", sol);
    char *ver = get2(f, "solutionVersionArn", NULL);
    jobs_wait_idle(f->ctx.jobs);
    CALL_OK(f, "DescribeSolutionVersion", "{\"solutionVersionArn\": \"%s\"}", ver);
    json_t *v = json_object_get(f->resp, "solutionVersion");
    assert_string_equal(json_string_value(json_object_get(v, "status")), "ACTIVE");
    assert_true(json_is_true(json_object_get(v, "performAutoML")));
    CALL_OK(f, "DescribeSolution", "{\"solutionArn\": \"%s\"}", sol);
    const char *best = json_string_value(json_object_get(
        json_object_get(json_object_get(f->resp, "solution"), "autoMLResult"), "bestRecipeArn"));
    assert_non_null(best);
    assert_true(strcmp(best, RECIPE_POP) == 0 || strcmp(best, RECIPE_UP) == 0);
    free(sol);
    free(ver);
    free(g);
    free(ds);
}

static void test_unsupported(void **state)
{
    UNUSED(state);
    assert_null(api_find("NoSuchOperation"));
    assert_null(api_find(NULL));
    const struct api_op *op = api_find("CreateRecommender");
    assert_non_null(op);
    struct api_error err = {0};
    json_t *resp = NULL, *req = json_object();
    assert_int_not_equal(op->handler(NULL, req, &resp, &err), RC_OK);
    assert_string_equal(err.type, "UnsupportedOperationException");
    json_decref(req);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_validation, setup, teardown),
        cmocka_unit_test_setup_teardown(test_dataset_groups, setup, teardown),
        cmocka_unit_test_setup_teardown(test_schemas_and_datasets, setup, teardown),
        cmocka_unit_test_setup_teardown(test_import_paths, setup, teardown),
        cmocka_unit_test_setup_teardown(test_workflow, setup, teardown),
        cmocka_unit_test_setup_teardown(test_batch_inference, setup, teardown),
        cmocka_unit_test_setup_teardown(test_recipes_and_tags, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stop_and_recovery, setup, teardown),
        cmocka_unit_test_setup_teardown(test_automl, setup, teardown),
        cmocka_unit_test(test_unsupported),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
