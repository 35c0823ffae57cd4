/*
 * cmd_train.c: `savor train`, a solution version from a dataset group.
 */
#include "common/base.h"
#include "cli/cli.h"
#include "common/buf.h"
#include "models/blas.h"
#include "models/engine.h"

#include <errno.h>
#include <jansson.h>
#include <signal.h>
#include <strings.h>

static const char usage[] =
    "usage: savor train --dataset-group NAME --recipe RECIPE [--param KEY=VALUE]...\n"
    "                   [--solution NAME] [--threads N] [--hpo-config FILE.json|JSON]\n"
    "                   [--automl-config FILE.json|JSON]\n"
    "\n"
    "Train a solution version of RECIPE on the dataset group's interactions and print\n"
    "its ARN; its offline metrics go to stderr (and to `savor describe`). Recipes:\n"
    "aws-user-personalization(-v2), aws-personalized-ranking(-v2), aws-popularity-count,\n"
    "aws-trending-now, aws-sims, aws-similar-items (names or\n"
    "arn:aws:personalize:::recipe/... ARNs).\n"
    "\n"
    "  -g, --dataset-group NAME  dataset group to train on\n"
    "  -r, --recipe RECIPE       recipe name or ARN\n"
    "  -p, --param KEY=VALUE     a hyperparameter (the recipe's, or Personalize's name\n"
    "                            for it) or a solution setting: eventType,\n"
    "                            eventValueThreshold, useEventValues, recencyHalfLifeDays,\n"
    "                            eventWeight.TYPE (see docs/recipes.md); or an\n"
    "                            evaluation setting: evaluation=off, evaluationSplit=time,\n"
    "                            evaluationCutoff=TIME, performHPO=true,\n"
    "                            performAutoML=true (see docs/evaluation.md); repeatable\n"
    "  -s, --solution NAME       solution name (default GROUP-RECIPE)\n"
    "      --threads N           worker threads (default: all CPUs)\n"
    "      --training-mode MODE  FULL (default) or UPDATE: refine the solution's latest\n"
    "                            version with new interactions and items, in a fifth of\n"
    "                            the iterations (aws-user-personalization)\n"
    "      --hpo-config FILE     Personalize's hpoConfig for performHPO=true: a JSON\n"
    "                            file, or the JSON itself\n"
    "      --automl-config FILE  Personalize's autoMLConfig for performAutoML=true (a\n"
    "                            file or the JSON); then no --recipe\n" CLI_COMMON_HELP;

static volatile sig_atomic_t cancelled;

static void on_signal(int sig)
{
    UNUSED(sig);
    cancelled = 1;
}

/* Inline JSON ("{...}") as is, else the contents of the file it names (caller frees). */
static char *json_arg(const char *opt, const char *arg)
{
    const char *p = arg;
    while (*p == ' ' || *p == '\n' || *p == '\t')
        p++;
    if (*p == '{') return xstrdup(arg);
    FILE *f = fopen(arg, "rb");
    if (!f) cli_die("--%s %s: cannot open: %s", opt, arg, strerror(errno));
    struct buf b;
    buf_init(&b, 1 << 20);
    char chunk[4096];
    size_t n;
    while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
        if (buf_add(&b, chunk, n)) cli_die("--%s %s: larger than 1 MiB", opt, arg);
    bool bad = ferror(f);
    fclose(f);
    if (bad) cli_die("--%s %s: cannot read", opt, arg);
    return buf_detach(&b, NULL);
}

/* The version's metrics (or why there are none), HPO's and AutoML's choices, on stderr. */
static void print_metrics(struct store *s, const char *arn)
{
    struct resource v = {0};
    if (store_resource_get(s, arn, &v, NULL)) return;
    json_t *a = json_loads(v.attrs, 0, NULL);
    resource_release(&v);
    const char *best =
        json_string_value(json_object_get(json_object_get(a, "autoMLResult"), "bestRecipeArn"));
    if (best) fprintf(stderr, "AutoML chose %s\n", best);
    json_t *tuned =
        json_object_get(json_object_get(a, "tunedHPOParams"), "algorithmHyperParameters");
    if (tuned) {
        char *t = json_dumps(tuned, JSON_COMPACT);
        fprintf(stderr, "HPO chose %s (%zu trials)\n", t,
                json_array_size(json_object_get(a, "hpoTrials")));
        free(t);
    }
    json_t *m = json_object_get(a, "metrics");
    json_t *ev = json_object_get(a, "evaluation");
    if (m) {
        fprintf(stderr, "metrics (%lld test users, split by %s):\n",
                (long long)json_integer_value(json_object_get(ev, "testUsers")),
                json_string_value(json_object_get(ev, "split")) ?: "users");
        const char *key;
        json_t *val;
        json_object_foreach(m, key, val)
        {
            fprintf(stderr, "  %-44s %.4f\n", key, json_number_value(val));
        }
    } else if (json_is_string(json_object_get(a, "metricsNote"))) {
        fprintf(stderr, "metrics: %s\n", json_string_value(json_object_get(a, "metricsNote")));
    }
    json_decref(a);
}

int cmd_train(int argc, char **argv)
{
    blas_select_kernels(cli_argv);
    enum { OPT_THREADS = 1, OPT_MODE, OPT_HPO, OPT_AUTOML };
    static const struct option opts[] = {
        {"dataset-group", required_argument, NULL, 'g'},
        {"recipe", required_argument, NULL, 'r'},
        {"param", required_argument, NULL, 'p'},
        {"solution", required_argument, NULL, 's'},
        {"threads", required_argument, NULL, OPT_THREADS},
        {"training-mode", required_argument, NULL, OPT_MODE},
        {"hpo-config", required_argument, NULL, OPT_HPO},
        {"automl-config", required_argument, NULL, OPT_AUTOML},
        CLI_COMMON_OPTIONS,
        {NULL, 0, NULL, 0},
    };
    struct train_request r = {0};
    char *hpo = NULL, *automl = NULL;
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
        case OPT_HPO:
            free(hpo);
            hpo = json_arg("hpo-config", optarg);
            break;
        case OPT_AUTOML:
            free(automl);
            automl = json_arg("automl-config", optarg);
            break;
        case OPT_THREADS:
            r.threads = (int)cli_parse_count("train", "threads", optarg, 256);
            break;
        default:
            if (!cli_common_option(c, optarg, usage)) cli_bad_option("train", argv);
        }
    }
    if (!r.group) cli_usage_error("train", "--dataset-group is required");
    bool automl_on = automl != NULL;
    for (size_t k = 0; k < r.nkv; k++)
        if (strcmp(kv[k].key, "performAutoML") == 0) automl_on = strcmp(kv[k].value, "true") == 0;
    if (!r.recipe && !automl_on)
        cli_usage_error("train", "--recipe is required (unless performAutoML=true)");
    r.hpo_config = hpo;
    r.automl_config = automl;
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
    free(hpo);
    free(automl);
    if (!rc) print_metrics(s, arn);
    store_close(s);
    if (rc) cli_die("%s", e.msg);
    printf("%s\n", arn);
    free(arn);
    return 0;
}
