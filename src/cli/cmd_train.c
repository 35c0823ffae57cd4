/*
 * cmd_train.c: `savor train`, a solution version from a dataset group.
 */
#include "common/base.h"
#include "cli/cli.h"
#include "models/blas.h"
#include "models/engine.h"

#include <signal.h>
#include <strings.h>

static const char usage[] =
    "usage: savor train --dataset-group NAME --recipe RECIPE [--param KEY=VALUE]...\n"
    "                   [--solution NAME] [--threads N]\n"
    "\n"
    "Train a solution version of RECIPE on the dataset group's interactions and print\n"
    "its ARN. Recipes: aws-user-personalization(-v2), aws-personalized-ranking(-v2),\n"
    "aws-popularity-count, aws-trending-now, aws-sims, aws-similar-items\n"
    "(names or arn:aws:personalize:::recipe/... ARNs).\n"
    "\n"
    "  -g, --dataset-group NAME  dataset group to train on\n"
    "  -r, --recipe RECIPE       recipe name or ARN\n"
    "  -p, --param KEY=VALUE     a hyperparameter (the recipe's, or Personalize's name\n"
    "                            for it) or a solution setting: eventType,\n"
    "                            eventValueThreshold, useEventValues, recencyHalfLifeDays,\n"
    "                            eventWeight.TYPE (see docs/recipes.md); repeatable\n"
    "  -s, --solution NAME       solution name (default GROUP-RECIPE)\n"
    "      --threads N           worker threads (default: all CPUs)\n"
    "      --training-mode MODE  FULL (default) or UPDATE: refine the solution's latest\n"
    "                            version with new interactions and items, in a fifth of\n"
    "                            the iterations (aws-user-personalization)\n" CLI_COMMON_HELP;

static volatile sig_atomic_t cancelled;

static void on_signal(int sig)
{
    UNUSED(sig);
    cancelled = 1;
}

int cmd_train(int argc, char **argv)
{
    blas_select_kernels(cli_argv);
    enum { OPT_THREADS = 1, OPT_MODE };
    static const struct option opts[] = {
        {"dataset-group", required_argument, NULL, 'g'},
        {"recipe", required_argument, NULL, 'r'},
        {"param", required_argument, NULL, 'p'},
        {"solution", required_argument, NULL, 's'},
        {"threads", required_argument, NULL, OPT_THREADS},
        {"training-mode", required_argument, NULL, OPT_MODE},
        CLI_COMMON_OPTIONS,
        {NULL, 0, NULL, 0},
    };
    struct train_request r = {0};
    struct param_kv *kv = xcalloc((size_t)argc + 1, sizeof(*kv));
    int c;
    while ((c = getopt_long(argc, argv, "g:r:p:s:", opts, NULL)) != -1) {
        switch (c) {
        case 'g':
            r.group = optarg;
            break;
        case 'r':
            r.recipe = optarg;
            break;
        case 'p': {
            char *eq = strchr(optarg, '=');
            if (!eq || eq == optarg)
                cli_usage_error("train", "--param '%s': expected KEY=VALUE", optarg);
            *eq = '\0';
            kv[r.nkv].key = optarg;
            kv[r.nkv].value = eq + 1;
            r.nkv++;
            break;
        }
        case 's':
            r.solution = optarg;
            break;
        case OPT_MODE:
            if (strcasecmp(optarg, "UPDATE") == 0)
                r.update = true;
            else if (strcasecmp(optarg, "FULL") != 0)
                cli_usage_error("train", "--training-mode '%s': expected FULL or UPDATE", optarg);
            break;
        case OPT_THREADS:
            r.threads = (int)cli_parse_count("train", "threads", optarg, 256);
            break;
        default:
            if (!cli_common_option(c, optarg, usage)) cli_bad_option("train", argv);
        }
    }
    if (!r.group) cli_usage_error("train", "--dataset-group is required");
    if (!r.recipe) cli_usage_error("train", "--recipe is required");
    if (optind != argc) cli_usage_error("train", "unexpected argument '%s'", argv[optind]);
    r.kv = kv;
    r.progress = stderr;
    /*
     * Ctrl-C (or SIGTERM) cancels cleanly: training stops at the next
     * iteration and the version ends CREATE FAILED; a second Ctrl-C kills.
     */
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sa.sa_flags = (int)SA_RESETHAND;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    r.cancel = &cancelled;

    struct store *s = cli_open_store();
    struct err e = ERR_INIT;
    char *arn = NULL;
    enum rc rc = engine_train(s, &r, &arn, &e);
    free(kv);
    store_close(s);
    if (rc) cli_die("%s", e.msg);
    printf("%s\n", arn);
    free(arn);
    return 0;
}
