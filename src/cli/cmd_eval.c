/*
 * cmd_eval.c: `savor eval`, recipes and settings compared offline on the
 * same splits (docs/evaluation.md): a table of mean ± standard deviation
 * over seeds, and optionally JSON and an SVG chart.
 */
#include "common/base.h"
#include "cli/cli.h"
#include "dataset/dataset.h"
#include "eval/chart.h"
#include "eval/evaluate.h"
#include "eval/training.h"
#include "models/blas.h"
#include "models/engine.h"

#include <errno.h>
#include <math.h>
#include <sys/stat.h>

static const char usage[] =
    "usage: savor eval --dataset-group NAME [--recipe RECIPE]... [--param KEY=VALUE]...\n"
    "                  [--config LABEL:KEY=VALUE,...]... [--seeds N] [--split users|time]\n"
    "                  [--cutoff TIME] [--json FILE] [--svg FILE] [--threads N]\n"
    "\n"
    "Compare recipes and settings on the dataset group's interactions, each trained and\n"
    "scored on the same splits (Personalize's protocol: 10% of users, their newest 10% of\n"
    "interactions held out; see docs/evaluation.md), over several seeds. Prints a table\n"
    "of mean ± standard deviation per metric; nothing is stored.\n"
    "\n"
    "  -g, --dataset-group NAME  dataset group to evaluate on\n"
    "  -r, --recipe RECIPE       a recipe to compare, with its defaults; repeatable\n"
    "  -p, --param KEY=VALUE     a setting or hyperparameter for every configuration\n"
    "                            (hyperparameters go to the recipes that take them)\n"
    "  -c, --config LABEL:KEY=VALUE,...\n"
    "                            a configuration named LABEL: recipe=RECIPE (default the\n"
    "                            first --recipe, else aws-user-personalization) and its\n"
    "                            own settings; repeatable\n"
    "      --seeds N             splits to average over (seeds 1..N; default 3)\n"
    "      --split users|time    Personalize's user split (default), or one time cutoff\n"
    "      --cutoff TIME         the cutoff (epoch seconds or 2024-05-01T00:00:00Z;\n"
    "                            default: the time before which 90% of events lie)\n"
    "      --json FILE           write every result as JSON\n"
    "      --svg FILE            write a chart of NDCG@K and precision@K per configuration\n"
    "      --dump-recs DIR       write each test user's input, targets and recommendations\n"
    "                            (DIR/<label>-seed<N>.jsonl)\n"
    "      --threads N           worker threads (default: all CPUs)\n"
    "\n"
    "Without --recipe or --config: aws-user-personalization and aws-popularity-count.\n" CLI_COMMON_HELP;

#define MAX_SEEDS 20

struct config {
    char *label;
    const struct recipe *recipe;
    struct param_kv *kv; /* settings and hyperparameters (strings owned by 'own' or argv) */
    size_t nkv;
    char *own; /* the --config text, split in place */
    struct weighting w;
    struct params p;
    double m[MAX_SEEDS][METRIC_COUNT];
    double seconds[MAX_SEEDS];
    uint32_t catalog[MAX_SEEDS];
    double mean[METRIC_COUNT], sd[METRIC_COUNT];
};

static struct param_kv parse_kv(const char *what, char *text)
{
    char *eq = strchr(text, '=');
    if (!eq || eq == text) cli_usage_error("eval", "%s '%s': expected KEY=VALUE", what, text);
    *eq = '\0';
    return (struct param_kv){text, eq + 1};
}

static const struct recipe *find_recipe(const char *name)
{
    const struct recipe *r = recipe_find(name);
    if (!r) cli_usage_error("eval", "recipe '%s' is unknown", name);
    return r;
}

/* "LABEL:KEY=VALUE,..." into a configuration (recipe= picks the recipe). */
static void parse_config(char *arg, const struct recipe *def, struct config *c)
{
    c->own = xstrdup(arg);
    char *colon = strchr(c->own, ':');
    if (!colon || colon == c->own)
        cli_usage_error("eval", "--config '%s': expected LABEL:KEY=VALUE,...", arg);
    *colon = '\0';
    c->label = xstrdup(c->own);
    c->recipe = def;
    size_t cap = 1;
    for (char *p = colon + 1; *p; p++)
        cap += *p == ',';
    c->kv = xcalloc(cap, sizeof(*c->kv));
    char *save = NULL;
    for (char *tok = colon + 1; tok && *tok; tok = save) {
        save = strchr(tok, ',');
        if (save) *save++ = '\0';
        struct param_kv kv = parse_kv("--config", tok);
        if (strcmp(kv.key, "recipe") == 0)
            c->recipe = find_recipe(kv.value);
        else
            c->kv[c->nkv++] = kv;
    }
}

/* Resolve one configuration: the common values that apply to it, then its own. */
static void resolve(struct config *c, const struct param_kv *common, size_t ncommon, bool *used)
{
    struct param_kv *all = xcalloc(ncommon + c->nkv + 1, sizeof(*all));
    size_t n = 0;
    struct param_kv *rest = xcalloc(ncommon + c->nkv + 1, sizeof(*rest));
    size_t nrest = 0;
    struct err e = ERR_INIT;
    weighting_init(&c->w);
    /* Settings (weighting) apply to every configuration. */
    if (engine_weighting_settings(common, ncommon, &c->w, rest, &nrest, NULL, &e))
        cli_die("--param: %s", e.msg);
    for (size_t k = 0; k < ncommon; k++) {
        bool setting = true;
        for (size_t j = 0; j < nrest; j++)
            setting &= rest[j].key != common[k].key;
        if (setting) used[k] = true;
    }
    for (size_t j = 0; j < nrest; j++) {
        struct param_kv one;
        if (automl_filter_kv(c->recipe, &rest[j], 1, &one) == 1) {
            all[n++] = rest[j];
            for (size_t k = 0; k < ncommon; k++)
                if (common[k].key == rest[j].key) used[k] = true;
        }
    }
    if (engine_weighting_settings(c->kv, c->nkv, &c->w, rest, &nrest, NULL, &e))
        cli_die("--config %s: %s", c->label, e.msg);
    for (size_t j = 0; j < nrest; j++)
        all[n++] = rest[j];
    if (params_resolve(c->recipe->params, all, n, &c->p, &e) ||
        (c->recipe->validate && c->recipe->validate(&c->p, &e)))
        cli_die("%s (%s): %s", c->label, c->recipe->name, e.msg);
    free(all);
    free(rest);
}

static void stats(struct config *c, size_t nseeds)
{
    for (int m = 0; m < METRIC_COUNT; m++) {
        double sum = 0, sq = 0;
        for (size_t s = 0; s < nseeds; s++)
            sum += c->m[s][m];
        double mean = sum / (double)nseeds;
        for (size_t s = 0; s < nseeds; s++)
            sq += (c->m[s][m] - mean) * (c->m[s][m] - mean);
        c->mean[m] = mean;
        c->sd[m] = nseeds > 1 ? sqrt(sq / (double)(nseeds - 1)) : 0;
    }
}

static const struct {
    int id;
    const char *label;
} table_rows[] = {
    {METRIC_NDCG_5, "NDCG@5"},       {METRIC_NDCG_10, "NDCG@10"},     {METRIC_NDCG_25, "NDCG@25"},
    {METRIC_PRECISION_5, "P@5"},     {METRIC_PRECISION_10, "P@10"},   {METRIC_PRECISION_25, "P@25"},
    {METRIC_RECALL_10, "recall@10"}, {METRIC_RECALL_25, "recall@25"}, {METRIC_MRR_25, "MRR@25"},
    {METRIC_COVERAGE, "coverage"},
};

static void print_table(FILE *out, struct config *cs, size_t n)
{
    size_t w = 17;
    for (size_t i = 0; i < n; i++)
        if (strlen(cs[i].label) + 2 > w) w = strlen(cs[i].label) + 2;
    fprintf(out, "%-10s", "metric");
    for (size_t i = 0; i < n; i++)
        fprintf(out, "  %*s", (int)w, cs[i].label);
    fputc('\n', out);
    for (size_t r = 0; r < ARRAY_SIZE(table_rows); r++) {
        fprintf(out, "%-10s", table_rows[r].label);
        for (size_t i = 0; i < n; i++) {
            char cell[64];
            snprintf(cell, sizeof(cell), "%.4f ± %.4f", cs[i].mean[table_rows[r].id],
                     cs[i].sd[table_rows[r].id]);
            /* "±" is two bytes and one column. */
            fprintf(out, "  %*s", (int)w + 1, cell);
        }
        fputc('\n', out);
    }
}

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    if (!f) cli_die("%s: cannot create: %s", path, strerror(errno));
    fputs(text, f);
    if (fclose(f) != 0) cli_die("%s: cannot write: %s", path, strerror(errno));
}

static char *json_report(const char *group, const struct split_opts *o, const int64_t *cutoffs,
                         struct config *cs, size_t n, size_t nseeds, uint32_t *test_users)
{
    json_t *seeds = json_array(), *configs = json_array();
    for (size_t s = 0; s < nseeds; s++) {
        json_t *sj = json_pack("{s:i,s:i}", "seed", (int)(s + 1), "testUsers", (int)test_users[s]);
        if (o->kind == SPLIT_TIME) json_object_set_new(sj, "cutoff", json_integer(cutoffs[s]));
        json_array_append_new(seeds, sj);
    }
    for (size_t i = 0; i < n; i++) {
        struct config *c = &cs[i];
        json_t *per = json_array();
        for (size_t s = 0; s < nseeds; s++)
            json_array_append_new(per, json_pack("{s:i,s:o,s:i,s:f}", "seed", (int)(s + 1),
                                                 "metrics", eval_metrics_json(c->m[s]),
                                                 "catalogItems", (int)c->catalog[s], "seconds",
                                                 round(c->seconds[s] * 1000) / 1000));
        json_t *settings = json_object();
        for (size_t k = 0; k < c->nkv; k++)
            json_object_set_new(settings, c->kv[k].key, json_string(c->kv[k].value));
        char *hp = params_to_json(&c->p);
        json_array_append_new(
            configs, json_pack("{s:s,s:o,s:o,s:o,s:o,s:o,s:o}", "label", c->label, "recipeArn",
                               json_sprintf("arn:aws:personalize:::recipe/%s", c->recipe->name),
                               "settings", settings, "algorithmHyperParameters",
                               json_loads(hp, 0, NULL), "mean", eval_metrics_json(c->mean),
                               "standardDeviation", eval_metrics_json(c->sd), "perSeed", per));
        free(hp);
    }
    json_t *doc =
        json_pack("{s:s,s:{s:s,s:f,s:f},s:o,s:o}", "datasetGroup", group, "split", "kind",
                  o->kind == SPLIT_TIME ? "time" : "users", "userFraction", o->user_fraction,
                  "targetFraction", o->target_fraction, "seeds", seeds, "configurations", configs);
    char *text = json_dumps(doc, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    json_decref(doc);
    return text;
}

static char *svg_report(const char *group, const struct split_opts *o, struct config *cs, size_t n,
                        size_t nseeds)
{
    static const int ndcg[3] = {METRIC_NDCG_5, METRIC_NDCG_10, METRIC_NDCG_25};
    static const int prec[3] = {METRIC_PRECISION_5, METRIC_PRECISION_10, METRIC_PRECISION_25};
    double *v = xcalloc(n * 12 + 1, sizeof(double));
    const char **labels = xcalloc(n + 1, sizeof(char *));
    for (size_t i = 0; i < n; i++) {
        labels[i] = cs[i].label;
        for (int k = 0; k < 3; k++) {
            v[i * 3 + (size_t)k] = cs[i].mean[ndcg[k]];
            v[n * 3 + i * 3 + (size_t)k] = cs[i].sd[ndcg[k]];
            v[n * 6 + i * 3 + (size_t)k] = cs[i].mean[prec[k]];
            v[n * 9 + i * 3 + (size_t)k] = cs[i].sd[prec[k]];
        }
    }
    struct chart_panel panels[2] = {
        {"NDCG@K", 3, {"5", "10", "25"}, v, v + n * 3},
        {"precision@K", 3, {"5", "10", "25"}, v + n * 6, v + n * 9},
    };
    char *title = xasprintf("savor eval: dataset group %s", group);
    char *sub = xasprintf("mean over %zu seed%s, error bars: one standard deviation; split by %s",
                          nseeds, nseeds == 1 ? "" : "s",
                          o->kind == SPLIT_TIME ? "time (one cutoff)"
                                                : "users (10%, their newest 10% held out)");
    struct chart c = {title, sub, "K (recommendations considered)", n, labels, 2, panels};
    char *svg = chart_svg(&c);
    free(title);
    free(sub);
    free(v);
    free(labels);
    return svg;
}

int cmd_eval(int argc, char **argv)
{
    blas_select_kernels(cli_argv);
    enum { OPT_SEEDS = 1, OPT_SPLIT, OPT_CUTOFF, OPT_JSON, OPT_SVG, OPT_THREADS, OPT_DUMP };
    static const struct option opts[] = {
        {"dataset-group", required_argument, NULL, 'g'},
        {"recipe", required_argument, NULL, 'r'},
        {"param", required_argument, NULL, 'p'},
        {"config", required_argument, NULL, 'c'},
        {"seeds", required_argument, NULL, OPT_SEEDS},
        {"split", required_argument, NULL, OPT_SPLIT},
        {"cutoff", required_argument, NULL, OPT_CUTOFF},
        {"json", required_argument, NULL, OPT_JSON},
        {"svg", required_argument, NULL, OPT_SVG},
        {"dump-recs", required_argument, NULL, OPT_DUMP},
        {"threads", required_argument, NULL, OPT_THREADS},
        CLI_COMMON_OPTIONS,
        {NULL, 0, NULL, 0},
    };
    const char *group_name = NULL, *json_path = NULL, *svg_path = NULL, *dump_dir = NULL;
    size_t nseeds = 3;
    int threads = 0;
    struct split_opts so;
    split_opts_default(&so, 1);
    so.max_users = 10000;
    struct param_kv *common = xcalloc((size_t)argc + 1, sizeof(*common));
    size_t ncommon = 0;
    const char **recipes = xcalloc((size_t)argc + 1, sizeof(char *));
    size_t nrecipes = 0;
    char **config_args = xcalloc((size_t)argc + 1, sizeof(char *));
    size_t nconfig_args = 0;
    int c;
    while ((c = getopt_long(argc, argv, "g:r:p:c:", opts, NULL)) != -1) {
        switch (c) {
        case 'g':
            group_name = optarg;
            break;
        case 'r':
            recipes[nrecipes++] = optarg;
            break;
        case 'p':
            common[ncommon++] = parse_kv("--param", optarg);
            break;
        case 'c':
            config_args[nconfig_args++] = optarg;
            break;
        case OPT_SEEDS:
            nseeds = (size_t)cli_parse_count("eval", "seeds", optarg, MAX_SEEDS);
            if (nseeds < 1) cli_usage_error("eval", "--seeds: at least 1");
            break;
        case OPT_SPLIT:
            if (strcmp(optarg, "users") == 0)
                so.kind = SPLIT_USERS;
            else if (strcmp(optarg, "time") == 0)
                so.kind = SPLIT_TIME;
            else
                cli_usage_error("eval", "--split '%s': expected users or time", optarg);
            break;
        case OPT_CUTOFF:
            if (eval_parse_time(optarg, &so.cutoff))
                cli_usage_error(
                    "eval",
                    "--cutoff '%s': expected epoch seconds or a date like 2024-05-01T00:00:00Z",
                    optarg);
            so.kind = SPLIT_TIME;
            break;
        case OPT_JSON:
            json_path = optarg;
            break;
        case OPT_SVG:
            svg_path = optarg;
            break;
        case OPT_DUMP:
            dump_dir = optarg;
            break;
        case OPT_THREADS:
            threads = (int)cli_parse_count("eval", "threads", optarg, 256);
            break;
        default:
            if (!cli_common_option(c, optarg, usage)) cli_bad_option("eval", argv);
        }
    }
    if (!group_name) cli_usage_error("eval", "--dataset-group is required");
    if (optind != argc) cli_usage_error("eval", "unexpected argument '%s'", argv[optind]);

    /* The configurations, checked before anything is trained. */
    size_t ncfg = nrecipes + nconfig_args;
    static const char *const defaults[] = {"aws-user-personalization", "aws-popularity-count"};
    if (ncfg == 0) {
        for (size_t i = 0; i < 2; i++)
            recipes[nrecipes++] = defaults[i];
        ncfg = 2;
    }
    struct config *cs = xcalloc(ncfg, sizeof(*cs));
    for (size_t i = 0; i < nrecipes; i++) {
        cs[i].recipe = find_recipe(recipes[i]);
        cs[i].label = xstrdup(cs[i].recipe->name);
    }
    const struct recipe *def = nrecipes ? cs[0].recipe : find_recipe(defaults[0]);
    for (size_t i = 0; i < nconfig_args; i++)
        parse_config(config_args[i], def, &cs[nrecipes + i]);
    for (size_t i = 0; i < ncfg; i++)
        for (size_t j = 0; j < i; j++)
            if (strcmp(cs[i].label, cs[j].label) == 0)
                cli_usage_error("eval", "two configurations are labelled '%s'", cs[i].label);
    bool *used = xcalloc(ncommon + 1, sizeof(bool));
    for (size_t i = 0; i < ncfg; i++) {
        if (cs[i].recipe->kind == RECIPE_RELATED_ITEMS ? !cs[i].recipe->score_item
                                                       : !cs[i].recipe->score_user)
            cli_die("recipe %s cannot be evaluated", cs[i].recipe->name);
        resolve(&cs[i], common, ncommon, used);
    }
    for (size_t k = 0; k < ncommon; k++)
        if (!used[k])
            cli_usage_error("eval", "--param %s: none of the compared recipes takes it",
                            common[k].key);
    if (dump_dir && mkdir(dump_dir, 0755) != 0 && errno != EEXIST)
        cli_die("%s: cannot create: %s", dump_dir, strerror(errno));

    struct store *s = cli_open_store();
    struct err e = ERR_INIT;
    struct resource group = {0}, dataset = {0};
    if (dataset_group_find(s, group_name, &group, &e) ||
        dataset_find(s, &group, DATASET_INTERACTIONS, &dataset, &e))
        cli_die("%s", e.msg);
    struct weighting w0;
    weighting_init(&w0);
    struct train_data full = {0};
    if (train_data_load(s, group.id, dataset.id, &w0, &full, &e)) cli_die("%s", e.msg);
    struct eval_data ed;
    eval_data_init(&ed, s, &group, dataset.id, &full, threads);
    ed.w = NULL; /* every interaction can be a target, whatever a configuration trains on */
    int64_t cutoffs[MAX_SEEDS] = {0};
    uint32_t test_users[MAX_SEEDS] = {0};
    for (size_t sd = 0; sd < nseeds; sd++) {
        struct split sp;
        so.seed = sd + 1;
        if (eval_split(&ed, &so, NULL, &sp, &e)) cli_die("%s", e.msg);
        cutoffs[sd] = sp.cutoff;
        test_users[sd] = sp.ntest;
        fprintf(stderr, "seed %zu: %u test users, %llu interactions held out\n", sd + 1, sp.ntest,
                (unsigned long long)sp.nheld);
        for (size_t i = 0; i < ncfg; i++) {
            struct eval_result res;
            FILE *dump = NULL;
            if (dump_dir) {
                char *path = xasprintf("%s/%s-seed%zu.jsonl", dump_dir, cs[i].label, sd + 1);
                dump = fopen(path, "w");
                if (!dump) cli_die("%s: cannot create: %s", path, strerror(errno));
                free(path);
            }
            if (eval_model(&ed, cs[i].recipe, &cs[i].p, &cs[i].w, &sp, &res, dump, &e))
                cli_die("%s: %s", cs[i].label, e.msg);
            if (dump && fclose(dump) != 0) cli_die("%s: cannot write", dump_dir);
            memcpy(cs[i].m[sd], res.metrics, sizeof(res.metrics));
            cs[i].seconds[sd] = res.seconds;
            cs[i].catalog[sd] = res.catalog;
            fprintf(stderr, "  %-30s NDCG@10 %.4f  P@10 %.4f  (%.1f s)\n", cs[i].label,
                    res.metrics[METRIC_NDCG_10], res.metrics[METRIC_PRECISION_10], res.seconds);
        }
        split_release(&sp);
    }
    for (size_t i = 0; i < ncfg; i++)
        stats(&cs[i], nseeds);
    print_table(stdout, cs, ncfg);
    if (json_path) {
        char *text = json_report(group_name, &so, cutoffs, cs, ncfg, nseeds, test_users);
        write_file(json_path, text);
        free(text);
    }
    if (svg_path) {
        char *svg = svg_report(group_name, &so, cs, ncfg, nseeds);
        write_file(svg_path, svg);
        free(svg);
    }
    eval_data_release(&ed);
    train_data_release(&full);
    weighting_release(&w0);
    resource_release(&group);
    resource_release(&dataset);
    store_close(s);
    for (size_t i = 0; i < ncfg; i++) {
        free(cs[i].label);
        free(cs[i].kv);
        free(cs[i].own);
        weighting_release(&cs[i].w);
        params_release(&cs[i].p);
    }
    free(cs);
    free(used);
    free(common);
    free(recipes);
    free(config_args);
    return 0;
}
