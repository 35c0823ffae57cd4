/*
 * cmd_demo.c: `savor demo`, the demo creators' platform, generated, imported,
 * trained, deployed as a campaign and served.
 *
 * Running it again regenerates the same files (same seed) and re-imports
 * them in FULL mode, so the demo dataset group always ends up the same; the
 * campaign is pointed at the newly trained version. The campaign is made by
 * the control plane's own CreateCampaign / UpdateCampaign handlers, so it
 * is exactly what the API would have made.
 */
#include "common/base.h"
#include "cli/cli.h"
#include "demo/demo_data.h"
#include "models/blas.h"
#include "models/engine.h"
#include "api/api.h"
#include "server/model_cache.h"

#include <errno.h>
#include <sys/stat.h>
#include <unistd.h>

static const char usage[] =
    "usage: savor demo [--dataset-group NAME] [--csv-dir DIR] [--users N] [--items N]\n"
    "                  [--creators N] [--events N] [--seed N] [--generate-only]\n"
    "                  [--serve | --no-serve] [--listen HOST:PORT]\n"
    "\n"
    "Generate the demo dataset (a creators' platform: works in genres by creators,\n"
    "readers with tastes, view/like/subscribe events) as Personalize CSV files, import\n"
    "it into a dataset group (default 'demo'), train aws-user-personalization and\n"
    "aws-sims solution versions on it, deploy the first as campaign GROUP-campaign, and\n"
    "serve the API (as `savor serve`) until interrupted, printing curl, AWS CLI and\n"
    "boto3 commands to try. It serves when standard output is a terminal, or with\n"
    "--serve; scripts and tests that redirect it get the campaign and an exit.\n"
    "\n"
    "  -g, --dataset-group NAME  dataset group to import into (default demo)\n"
    "      --csv-dir DIR         where to write the CSV files (default DATA_DIR/demo-csv)\n"
    "      --users N             readers (default 5000)\n"
    "      --items N             works (default 2000)\n"
    "      --creators N          creators (default 200)\n"
    "      --events N            interactions (default 200000)\n"
    "      --seed N              random seed (default 42)\n"
    "      --generate-only       write the CSV files, do not import them\n"
    "      --serve               serve even when standard output is not a terminal\n"
    "      --no-serve            stop after creating the campaign, even on a terminal\n"
    "      --listen HOST:PORT    where to serve (default 127.0.0.1:8080; a loopback\n"
    "                            address unless access keys are configured)\n" CLI_COMMON_HELP;

static void import_file(struct store *s, const char *group, enum dataset_type t, const char *path)
{
    struct import_opts o = {0};
    o.group = group;
    o.type = t;
    o.mode = IMPORT_FULL;
    o.input = path;
    o.progress = stderr;
    struct import_report rep;
    struct err e = ERR_INIT;
    if (import_run(s, &o, &rep, &e)) cli_die("%s", e.msg);
    cli_print_import_report(stdout, &o, &rep);
    import_report_release(&rep);
}

static char *train(struct store *s, const char *group, const char *recipe)
{
    struct train_request r = {0};
    r.group = group;
    r.recipe = recipe;
    r.progress = stderr;
    char *arn = NULL;
    struct err e = ERR_INIT;
    if (engine_train(s, &r, &arn, &e)) cli_die("%s", e.msg);
    return arn;
}

/*
 * Point campaign GROUP-campaign at version 'version_arn' through the control
 * plane's handlers: CreateCampaign, or UpdateCampaign when it exists.
 * Returns the campaign's ARN (caller frees).
 */
static char *deploy(struct store *s, const char *group, const char *version_arn)
{
    struct api_ctx ctx = {0};
    ctx.store = s;
    pthread_mutex_init(&ctx.store_mu, NULL);
    ctx.data_dir = store_dir(s);
    char *name = xasprintf("%s-campaign", group);
    char *arn = store_arn(s, KIND_CAMPAIGN, name);
    struct resource existing = {0};
    bool exists = store_resource_get(s, arn, &existing, NULL) == RC_OK;
    resource_release(&existing);
    const struct api_op *op = api_find(exists ? "UpdateCampaign" : "CreateCampaign");
    json_t *req =
        exists ? json_pack("{s:s, s:s}", "campaignArn", arn, "solutionVersionArn", version_arn)
               : json_pack("{s:s, s:s}", "name", name, "solutionVersionArn", version_arn);
    json_t *resp = NULL;
    struct api_error err = {0};
    if (!op || op->handler(&ctx, req, &resp, &err))
        cli_die("campaign %s: %s: %s", name, op ? err.type : "no CreateCampaign operation",
                op ? err.message : "");
    json_decref(req);
    json_decref(resp);
    pthread_mutex_destroy(&ctx.store_mu);
    free(name);
    return arn;
}

struct demo_ready {
    const char *group;
    const char *campaign_arn;
    const char *sims_arn;
};

/* Print what to try once the server listens, with its real address. */
static void print_try(const char *address, void *arg)
{
    const struct demo_ready *d = arg;
    const char *c = d->campaign_arn;
    printf(
        "\nserving the Personalize API on http://%s (Ctrl-C stops it). From another terminal:\n"
        "\n"
        "  curl -s http://%s/recommendations -H 'Content-Type: application/json' \\\n"
        "    -d '{\"campaignArn\": \"%s\", \"userId\": \"user-00042\", \"numResults\": 5}'\n"
        "\n"
        "  export AWS_ACCESS_KEY_ID=demo AWS_SECRET_ACCESS_KEY=demo AWS_DEFAULT_REGION=us-east-1\n"
        "  aws personalize-runtime get-recommendations --endpoint-url http://%s \\\n"
        "    --campaign-arn %s --user-id user-00042 --num-results 5\n"
        "\n"
        "  python3 -c 'import boto3; rt = boto3.client(\"personalize-runtime\", "
        "endpoint_url=\"http://%s\"); print(rt.get_recommendations(campaignArn=\"%s\", "
        "userId=\"user-00042\", numResults=5)[\"itemList\"])'\n"
        "\n",
        address, address, c, address, c, address, c);
    fflush(stdout);
}

int cmd_demo(int argc, char **argv)
{
    blas_select_kernels(cli_argv);
    enum {
        O_CSV = 1,
        O_USERS,
        O_ITEMS,
        O_CREATORS,
        O_EVENTS,
        O_SEED,
        O_GEN,
        O_NO_SERVE,
        O_SERVE,
        O_LISTEN
    };
    static const struct option opts[] = {
        {"dataset-group", required_argument, NULL, 'g'},
        {"csv-dir", required_argument, NULL, O_CSV},
        {"users", required_argument, NULL, O_USERS},
        {"items", required_argument, NULL, O_ITEMS},
        {"creators", required_argument, NULL, O_CREATORS},
        {"events", required_argument, NULL, O_EVENTS},
        {"seed", required_argument, NULL, O_SEED},
        {"generate-only", no_argument, NULL, O_GEN},
        {"no-serve", no_argument, NULL, O_NO_SERVE},
        {"serve", no_argument, NULL, O_SERVE},
        {"listen", required_argument, NULL, O_LISTEN},
        CLI_COMMON_OPTIONS,
        {NULL, 0, NULL, 0},
    };
    struct demo_opts d;
    demo_opts_default(&d);
    const char *group = "demo";
    const char *csv_dir = NULL;
    bool generate_only = false;
    /* Serving blocks: by default only for a person at a terminal, never in a script's pipe. */
    bool serve = isatty(STDOUT_FILENO);
    struct serve_config sc;
    serve_config_default(&sc);
    struct err e = ERR_INIT;
    int c;
    while ((c = getopt_long(argc, argv, "g:", opts, NULL)) != -1) {
        switch (c) {
        case 'g':
            group = optarg;
            break;
        case O_CSV:
            csv_dir = optarg;
            break;
        case O_USERS:
            d.users = (uint32_t)cli_parse_count("demo", "users", optarg, DEMO_MAX_USERS);
            break;
        case O_ITEMS:
            d.items = (uint32_t)cli_parse_count("demo", "items", optarg, DEMO_MAX_ITEMS);
            break;
        case O_CREATORS:
            d.creators = (uint32_t)cli_parse_count("demo", "creators", optarg, DEMO_MAX_ITEMS);
            break;
        case O_EVENTS:
            d.events = cli_parse_count("demo", "events", optarg, DEMO_MAX_EVENTS);
            break;
        case O_SEED:
            d.seed = cli_parse_count("demo", "seed", optarg, UINT64_MAX);
            break;
        case O_GEN:
            generate_only = true;
            break;
        case O_NO_SERVE:
            serve = false;
            break;
        case O_SERVE:
            serve = true;
            break;
        case O_LISTEN:
            if (server_parse_addr(optarg, &sc.server.addr, &e))
                cli_usage_error("demo", "--listen: %s", e.msg);
            break;
        default:
            if (!cli_common_option(c, optarg, usage)) cli_bad_option("demo", argv);
        }
    }
    if (optind != argc) cli_usage_error("demo", "unexpected argument '%s'", argv[optind]);

    if (!csv_dir && mkdir(cli_data_dir(), 0755) != 0 && errno != EEXIST)
        cli_die("%s: %s", cli_data_dir(), strerror(errno));
    char *dir = csv_dir ? xstrdup(csv_dir) : xasprintf("%s/demo-csv", cli_data_dir());
    if (mkdir(dir, 0755) != 0 && errno != EEXIST) cli_die("%s: %s", dir, strerror(errno));
    struct store *s = NULL;
    char *campaign = NULL, *up = NULL, *sims = NULL;
    if (demo_generate(dir, &d, &e)) cli_die("%s", e.msg);
    printf("demo data: %u users, %u works, %u creators, %llu events written to %s\n", d.users,
           d.items, d.creators, (unsigned long long)d.events, dir);
    if (!generate_only) {
        /* Opened only now: bad options above leave no data directory behind. */
        s = cli_open_store();
        static const struct {
            enum dataset_type type;
            const char *file;
        } files[] = {
            {DATASET_ITEMS, "items.csv"},
            {DATASET_USERS, "users.csv"},
            {DATASET_INTERACTIONS, "interactions.csv"},
        };
        for (size_t i = 0; i < ARRAY_SIZE(files); i++) {
            char *path = xasprintf("%s/%s", dir, files[i].file);
            import_file(s, group, files[i].type, path);
            free(path);
        }
        /* Train the two models a reader sees first: "for you" and "more like this". */
        up = train(s, group, "aws-user-personalization");
        sims = train(s, group, "aws-sims");
        campaign = deploy(s, group, up);
        const char *dd = cli_data_dir();
        printf(
            "\ndataset group '%s' is ready in %s, with two trained solution versions:\n"
            "  works for a reader:  %s\n"
            "  more like a work:    %s\n"
            "and a campaign serving the first:\n"
            "  %s\n\n"
            "try:\n"
            "  savor recommend --data-dir %s --solution-version %s --user user-00042 -n 5 --explain\n"
            "  savor recommend --data-dir %s --solution-version %s --item work-00007 -n 5\n"
            "  savor describe --data-dir %s --dataset-group %s\n",
            group, dd, up, sims, campaign, dd, up, dd, sims, dd, group);
        fflush(stdout);
    }
    free(dir);
    store_close(s);
    int rc = 0;
    if (campaign && serve) {
        struct demo_ready ready = {group, campaign, sims};
        sc.on_ready = print_try;
        sc.on_ready_arg = &ready;
        rc = cli_serve(&sc);
    }
    free(campaign);
    free(up);
    free(sims);
    return rc;
}
