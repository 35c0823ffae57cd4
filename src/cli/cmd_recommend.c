/*
 * cmd_recommend.c: `savor recommend` and `savor rank`, answers from a
 * solution version as JSON shaped like GetRecommendations and
 * GetPersonalizedRanking.
 */
#include "common/base.h"
#include "cli/cli.h"
#include "models/blas.h"
#include "filter/filter.h"
#include "models/engine.h"

#include <jansson.h>
#include <math.h>

static const char recommend_usage[] =
    "usage: savor recommend --solution-version ARN (--user ID | --item ID) [-n 25] [--explain]\n"
    "                       [--filter EXPR [--filter-values JSON]]\n"
    "\n"
    "Print recommendations as JSON ({\"itemList\": [{\"itemId\", \"score\"}, ...]}):\n"
    "for a user (user-personalization, popularity-count) or related to an item (sims).\n"
    "Only items with interaction data are recommended; a user the model has not seen\n"
    "gets popular items. --explain adds, per item, the history items that contributed\n"
    "most to its score and their shares of it.\n"
    "\n"
    "  -v, --solution-version ARN  the trained version (printed by savor train)\n"
    "  -u, --user ID               recommend for this user\n"
    "  -i, --item ID               recommend items related to this item\n"
    "  -n, --num-results N         how many (default 25, at most 500)\n"
    "      --explain               include explanations\n"
    "      --filter EXPR           a filter expression (docs/filters.md), e.g.\n"
    "                              'EXCLUDE ItemID WHERE Interactions.EVENT_TYPE IN (\"*\")';\n"
    "                              with --item, --user also serves the filter\n"
    "      --filter-values JSON    its $PARAMETER values: '{\"GENRE\": \"\\\"Comedy\\\"\"}'\n"
    "      --exploration-weight W  0 to 1 (default 0: none); user-personalization gives\n"
    "                              round(n * W / 2) slots to new, little-seen items,\n"
    "                              marked \"reason\": [\"Exploration\"]\n"
    "      --exploration-item-age-cut-off DAYS\n"
    "                              only items created within DAYS of the data's newest\n"
    "                              event (default 30)\n" CLI_COMMON_HELP;

static const char rank_usage[] =
    "usage: savor rank --solution-version ARN --user ID [--explain]\n"
    "                  [--filter EXPR [--filter-values JSON]] ITEM...\n"
    "\n"
    "Rerank ITEMs for the user and print {\"personalizedRanking\": [...]} as JSON.\n"
    "Items the model does not know go last, without a score (as Personalize does).\n"
    "Items a filter does not allow are left out. At most 500 items.\n"
    "\n"
    "  -v, --solution-version ARN  the trained version\n"
    "  -u, --user ID               the user\n"
    "      --explain               include explanations\n"
    "      --filter EXPR           a filter expression (docs/filters.md)\n"
    "      --filter-values JSON    its $PARAMETER values\n" CLI_COMMON_HELP;

static void print_json(json_t *doc)
{
    json_dumpf(doc, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(7));
    fputc('\n', stdout);
}

static int run(int argc, char **argv, bool rank)
{
    blas_select_kernels(cli_argv);
    const char *cmd = rank ? "rank" : "recommend";
    const char *usage = rank ? rank_usage : recommend_usage;
    enum { OPT_EXPLAIN = 1, OPT_XWEIGHT, OPT_XAGE, OPT_FILTER, OPT_FILTER_VALUES };
    static const struct option opts[] = {
        {"solution-version", required_argument, NULL, 'v'},
        {"user", required_argument, NULL, 'u'},
        {"item", required_argument, NULL, 'i'},
        {"num-results", required_argument, NULL, 'n'},
        {"explain", no_argument, NULL, OPT_EXPLAIN},
        {"exploration-weight", required_argument, NULL, OPT_XWEIGHT},
        {"exploration-item-age-cut-off", required_argument, NULL, OPT_XAGE},
        {"filter", required_argument, NULL, OPT_FILTER},
        {"filter-values", required_argument, NULL, OPT_FILTER_VALUES},
        CLI_COMMON_OPTIONS,
        {NULL, 0, NULL, 0},
    };
    const char *arn = NULL, *user = NULL, *item = NULL, *filter_text = NULL, *filter_values = NULL;
    size_t n = 25;
    bool explain = false;
    struct exploration x = {0, 30};
    int c;
    while ((c = getopt_long(argc, argv, rank ? "v:u:" : "v:u:i:n:", opts, NULL)) != -1) {
        switch (c) {
        case 'v':
            arn = optarg;
            break;
        case 'u':
            user = optarg;
            break;
        case 'i':
            if (rank) cli_bad_option(cmd, argv);
            item = optarg;
            break;
        case 'n':
            if (rank) cli_bad_option(cmd, argv);
            n = (size_t)cli_parse_count(cmd, "num-results", optarg, 500);
            if (n == 0) cli_usage_error(cmd, "--num-results must be between 1 and 500");
            break;
        case OPT_EXPLAIN:
            explain = true;
            break;
        case OPT_FILTER:
            filter_text = optarg;
            break;
        case OPT_FILTER_VALUES:
            filter_values = optarg;
            break;
        case OPT_XWEIGHT:
        case OPT_XAGE: {
            if (rank) cli_bad_option(cmd, argv);
            char *end;
            double v = strtod(optarg, &end);
            bool weight = c == OPT_XWEIGHT;
            if (end == optarg || *end || !(v >= 0) || (weight && v > 1) || !isfinite(v))
                cli_usage_error(cmd, "--%s '%s': expected a number %s",
                                weight ? "exploration-weight" : "exploration-item-age-cut-off",
                                optarg, weight ? "from 0 to 1" : ">= 0 (days)");
            if (weight)
                x.weight = v;
            else
                x.age_cutoff_days = v;
            break;
        }
        default:
            if (!cli_common_option(c, optarg, usage)) cli_bad_option(cmd, argv);
        }
    }
    if (!arn) cli_usage_error(cmd, "--solution-version is required");
    if (filter_values && !filter_text) cli_usage_error(cmd, "--filter-values needs --filter");
    if (rank) {
        if (!user) cli_usage_error(cmd, "--user is required");
        if (optind == argc) cli_usage_error(cmd, "give the items to rank");
        if (argc - optind > 500) cli_usage_error(cmd, "at most 500 items can be ranked");
    } else {
        if (!user && !item) cli_usage_error(cmd, "give --user or --item");
        if (optind != argc) cli_usage_error(cmd, "unexpected argument '%s'", argv[optind]);
    }

    struct store *s = cli_open_store();
    struct err e = ERR_INIT;
    struct model *m;
    if (model_open_version(s, arn, &m, &e)) {
        store_close(s);
        cli_die("%s", e.msg);
    }
    /* Both --user and --item: related items, with the user for the filter. */
    if (!rank && user && item && model_recipe(m)->kind != RECIPE_RELATED_ITEMS)
        cli_usage_error(cmd, "give --item only for a related-items recipe (this is %s)",
                        model_recipe(m)->name);
    if (!rank && user && item && !filter_text)
        cli_usage_error(cmd, "give exactly one of --user and --item (both only with --filter)");
    struct filter *f = NULL;
    struct filter_bound *fb = NULL;
    enum rc rc = RC_OK;
    if (filter_text) {
        char *group = model_dataset_group(m);
        rc = group ? filter_compile_text(s, group, filter_text, &f, &e)
                   : err_set(&e, RC_INVALID_INPUT, "%s: the model names no dataset group", arn);
        free(group);
        if (!rc) rc = filter_bind_text(f, filter_values, &fb, &e);
    }
    json_t *doc = NULL;
    if (!rc)
        rc = rank ? model_rank(m, user, (const char *const *)argv + optind, (size_t)(argc - optind),
                               explain, fb, &doc, &e)
                  : model_recommend(m, user, item, n, explain, &x, fb, &doc, &e);
    filter_bound_free(fb);
    filter_free(f);
    model_close(m);
    store_close(s);
    if (rc) cli_die("%s", e.msg);
    print_json(doc);
    json_decref(doc);
    return 0;
}

int cmd_recommend(int argc, char **argv)
{
    return run(argc, argv, false);
}

int cmd_rank(int argc, char **argv)
{
    return run(argc, argv, true);
}
