/*
 * cmd_demo.c: `savor demo`, the demo creators' platform, generated and imported.
 *
 * Running it again regenerates the same files (same seed) and re-imports
 * them in FULL mode, so the demo dataset group always ends up the same.
 */
#include "common/base.h"
#include "cli/cli.h"
#include "demo/demo_data.h"
#include "models/blas.h"
#include "models/engine.h"

#include <errno.h>
#include <sys/stat.h>

static const char usage[] =
    "usage: savor demo [--dataset-group NAME] [--csv-dir DIR] [--users N] [--items N]\n"
    "                  [--creators N] [--events N] [--seed N] [--generate-only]\n"
    "\n"
    "Generate the demo dataset (a creators' platform: works in genres by creators,\n"
    "readers with tastes, view/like/subscribe events) as Personalize CSV files, import\n"
    "it into a dataset group (default 'demo') and train aws-user-personalization and\n"
    "aws-sims solution versions on it.\n"
    "\n"
    "  -g, --dataset-group NAME  dataset group to import into (default demo)\n"
    "      --csv-dir DIR         where to write the CSV files (default DATA_DIR/demo-csv)\n"
    "      --users N             readers (default 5000)\n"
    "      --items N             works (default 2000)\n"
    "      --creators N          creators (default 200)\n"
    "      --events N            interactions (default 200000)\n"
    "      --seed N              random seed (default 42)\n"
    "      --generate-only       write the CSV files, do not import them\n" CLI_COMMON_HELP;

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

int cmd_demo(int argc, char **argv)
{
    blas_select_kernels(cli_argv);
    enum { O_CSV = 1, O_USERS, O_ITEMS, O_CREATORS, O_EVENTS, O_SEED, O_GEN };
    static const struct option opts[] = {
        {"dataset-group", required_argument, NULL, 'g'},
        {"csv-dir", required_argument, NULL, O_CSV},
        {"users", required_argument, NULL, O_USERS},
        {"items", required_argument, NULL, O_ITEMS},
        {"creators", required_argument, NULL, O_CREATORS},
        {"events", required_argument, NULL, O_EVENTS},
        {"seed", required_argument, NULL, O_SEED},
        {"generate-only", no_argument, NULL, O_GEN},
        CLI_COMMON_OPTIONS,
        {NULL, 0, NULL, 0},
    };
    struct demo_opts d;
    demo_opts_default(&d);
    const char *group = "demo";
    const char *csv_dir = NULL;
    bool generate_only = false;
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
        default:
            if (!cli_common_option(c, optarg, usage)) cli_bad_option("demo", argv);
        }
    }
    if (optind != argc) cli_usage_error("demo", "unexpected argument '%s'", argv[optind]);

    if (!csv_dir && mkdir(cli_data_dir(), 0755) != 0 && errno != EEXIST)
        cli_die("%s: %s", cli_data_dir(), strerror(errno));
    char *dir = csv_dir ? xstrdup(csv_dir) : xasprintf("%s/demo-csv", cli_data_dir());
    if (mkdir(dir, 0755) != 0 && errno != EEXIST) cli_die("%s: %s", dir, strerror(errno));
    struct err e = ERR_INIT;
    struct store *s = NULL;
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
        char *up = train(s, group, "aws-user-personalization");
        char *sims = train(s, group, "aws-sims");
        const char *dd = cli_data_dir();
        printf(
            "\ndataset group '%s' is ready in %s, with two trained solution versions:\n"
            "  works for a reader:  %s\n"
            "  more like a work:    %s\n\n"
            "try:\n"
            "  savor recommend --data-dir %s --solution-version %s --user user-00042 -n 5 --explain\n"
            "  savor recommend --data-dir %s --solution-version %s --item work-00007 -n 5\n"
            "  savor describe --data-dir %s --dataset-group %s\n",
            group, dd, up, sims, dd, up, dd, sims, dd, group);
        free(up);
        free(sims);
    }
    free(dir);
    store_close(s);
    return 0;
}
