/*
 * cmd_describe.c: `savor describe`, what the data directory holds, as JSON.
 *
 * The shapes follow Personalize's Describe* responses (datasetGroupArn,
 * status, creationDateTime, ...) plus savor's own "statistics".
 */
#include "common/base.h"
#include "cli/cli.h"
#include "dataset/dataset.h"
#include "models/engine.h"

#include <jansson.h>

static const char usage[] =
    "usage: savor describe [--dataset-group NAME]\n"
    "\n"
    "Print the dataset groups (or just NAME), their datasets with schemas and\n"
    "statistics, their import jobs, and their solutions and solution versions, as JSON.\n"
    "\n"
    "  -g, --dataset-group NAME  only this dataset group\n" CLI_COMMON_HELP;

static json_t *base_json(const struct resource *r, const char *arn_key, const char *name_key)
{
    json_t *o = json_object();
    json_object_set_new(o, name_key, json_string(r->name));
    json_object_set_new(o, arn_key, json_string(r->arn));
    json_object_set_new(o, "status", json_string(r->status));
    if (r->failure_reason) json_object_set_new(o, "failureReason", json_string(r->failure_reason));
    json_object_set_new(o, "creationDateTime", json_real(r->created));
    json_object_set_new(o, "lastUpdatedDateTime", json_real(r->updated));
    json_t *attrs = json_loads(r->attrs, 0, NULL);
    if (attrs) json_object_update(o, attrs);
    json_decref(attrs);
    return o;
}

static json_t *stats_json(const struct interaction_stats *st)
{
    json_t *types = json_object();
    for (size_t i = 0; i < st->ntypes; i++)
        json_object_set_new(types, st->types[i].name, json_integer((json_int_t)st->types[i].count));
    return json_pack("{s:I,s:I,s:I,s:I,s:I,s:I,s:o,s:b}", "interactions", (json_int_t)st->rows,
                     "users", (json_int_t)st->users, "items", (json_int_t)st->items,
                     "usersWith2PlusInteractions", (json_int_t)st->users_2plus, "minTimestamp",
                     (json_int_t)st->min_ts, "maxTimestamp", (json_int_t)st->max_ts, "eventTypes",
                     types, "meetsTrainingMinimums", interaction_stats_meets_minimums(st));
}

static json_t *describe_group(struct store *s, const struct resource *g)
{
    struct err e = ERR_INIT;
    json_t *gj = base_json(g, "datasetGroupArn", "name");
    json_t *datasets = json_array();
    struct resource *ds;
    size_t nds;
    if (store_resource_list(s, KIND_DATASET, g->id, &ds, &nds, &e)) cli_die("%s", e.msg);
    for (size_t i = 0; i < nds; i++) {
        json_t *dj = base_json(&ds[i], "datasetArn", "name");
        struct schema *schema;
        if (dataset_load_schema(s, &ds[i], &schema, &e)) cli_die("%s", e.msg);
        char *text = schema_to_json(schema);
        json_object_set_new(dj, "schema", json_loads(text, 0, NULL));
        free(text);
        const char *type = json_string_value(json_object_get(dj, "datasetType"));
        if (type && strcmp(type, "Interactions") == 0) {
            struct interaction_stats st;
            if (interaction_stats_compute(s, g->id, ds[i].id, &st, &e)) cli_die("%s", e.msg);
            json_object_set_new(dj, "statistics", stats_json(&st));
            interaction_stats_release(&st);
        } else {
            uint64_t n;
            if (store_entity_count(s, ds[i].id, &n, &e)) cli_die("%s", e.msg);
            json_object_set_new(dj, "statistics", json_pack("{s:I}", "rows", (json_int_t)n));
        }
        schema_free(schema);
        json_t *jobs = json_array();
        struct resource *js;
        size_t njs;
        if (store_resource_list(s, KIND_IMPORT_JOB, ds[i].id, &js, &njs, &e)) cli_die("%s", e.msg);
        for (size_t k = 0; k < njs; k++)
            json_array_append_new(jobs, base_json(&js[k], "datasetImportJobArn", "jobName"));
        resource_list_free(js, njs);
        json_object_set_new(dj, "importJobs", jobs);
        json_array_append_new(datasets, dj);
    }
    resource_list_free(ds, nds);
    json_object_set_new(gj, "datasets", datasets);

    /* Solutions and their versions (as DescribeSolution / DescribeSolutionVersion). */
    json_t *solutions = json_array();
    struct resource *ss;
    size_t nss;
    if (store_resource_list(s, KIND_SOLUTION, g->id, &ss, &nss, &e)) cli_die("%s", e.msg);
    for (size_t i = 0; i < nss; i++) {
        json_t *sj = base_json(&ss[i], "solutionArn", "name");
        json_t *versions = json_array();
        struct resource *vs;
        size_t nvs;
        if (store_resource_list(s, KIND_SOLUTION_VERSION, ss[i].id, &vs, &nvs, &e))
            cli_die("%s", e.msg);
        for (size_t k = 0; k < nvs; k++)
            json_array_append_new(versions, base_json(&vs[k], "solutionVersionArn", "versionId"));
        resource_list_free(vs, nvs);
        json_object_set_new(sj, "solutionVersions", versions);
        json_array_append_new(solutions, sj);
    }
    resource_list_free(ss, nss);
    json_object_set_new(gj, "solutions", solutions);
    return gj;
}

int cmd_describe(int argc, char **argv)
{
    static const struct option opts[] = {
        {"dataset-group", required_argument, NULL, 'g'},
        CLI_COMMON_OPTIONS,
        {NULL, 0, NULL, 0},
    };
    const char *group = NULL;
    int c;
    while ((c = getopt_long(argc, argv, "g:", opts, NULL)) != -1) {
        if (c == 'g')
            group = optarg;
        else if (!cli_common_option(c, optarg, usage))
            cli_bad_option("describe", argv);
    }
    if (optind != argc) cli_usage_error("describe", "unexpected argument '%s'", argv[optind]);

    struct store *s = cli_open_store();
    struct err e = ERR_INIT;
    if (engine_recover(s, &e)) cli_die("%s", e.msg);
    json_t *out = json_array();
    if (group) {
        struct resource g;
        if (dataset_group_find(s, group, &g, &e)) cli_die("%s", e.msg);
        json_array_append_new(out, describe_group(s, &g));
        resource_release(&g);
    } else {
        struct resource *gs;
        size_t ng;
        if (store_resource_list(s, KIND_DATASET_GROUP, 0, &gs, &ng, &e)) cli_die("%s", e.msg);
        for (size_t i = 0; i < ng; i++)
            json_array_append_new(out, describe_group(s, &gs[i]));
        resource_list_free(gs, ng);
    }
    json_t *doc = json_pack("{s:o}", "datasetGroups", out);
    json_dumpf(doc, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    fputc('\n', stdout);
    json_decref(doc);
    store_close(s);
    return 0;
}
