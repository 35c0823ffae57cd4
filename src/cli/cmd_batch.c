/*
 * cmd_batch.c: `savor batch`, batch inference from JSON Lines to JSON Lines
 * (batch/batch.h), with progress on a terminal; Ctrl-C cancels cleanly.
 */
#include "common/base.h"
#include "batch/batch.h"
#include "cli/cli.h"
#include "models/blas.h"

#include <math.h>
#include <signal.h>

static const char usage[] =
    "usage: savor batch --solution-version ARN --input FILE.jsonl --output FILE.jsonl\n"
    "                   [-n 25] [--filter EXPR [--filter-values JSON]] [--threads N]\n"
    "\n"
    "Batch inference, as Personalize's batch inference jobs: one request per input\n"
    "line ({\"userId\": ...}, {\"itemId\": ...} for related items, {\"userId\": ...,\n"
    "\"itemList\": [...]} for ranking; each may carry \"filterValues\"), one output line\n"
    "per request in the same order:\n"
    "  {\"input\": {...}, \"output\": {\"recommendedItems\": [...], \"scores\": [...]}, \"error\": null}\n"
    "A line that cannot be answered gets \"error\" and the job goes on. The output\n"
    "appears complete or not at all (written beside it, then renamed). An output\n"
    "that is a directory gets DIR/<input name>.out.\n"
    "\n"
    "  -v, --solution-version ARN  the trained version\n"
    "  -i, --input FILE            JSON Lines (a path or file:// URI)\n"
    "  -o, --output FILE           where to write (a path, file:// URI or directory)\n"
    "  -n, --num-results N         recommendations per line (default 25, at most 500)\n"
    "      --filter EXPR           a filter expression (docs/filters.md)\n"
    "      --filter-values JSON    default $PARAMETER values for lines without their own\n"
    "      --exploration-weight W  itemExplorationConfig explorationWeight (default 0)\n"
    "      --exploration-item-age-cut-off DAYS  (default 30)\n"
    "      --threads N             worker threads (default: one per CPU)\n" CLI_COMMON_HELP;

static volatile sig_atomic_t cancelled;

static void on_signal(int sig)
{
    UNUSED(sig);
    cancelled = 1;
}

int cmd_batch(int argc, char **argv)
{
    blas_select_kernels(cli_argv);
    enum { OPT_FILTER = 1, OPT_FILTER_VALUES, OPT_THREADS, OPT_XWEIGHT, OPT_XAGE };
    static const struct option opts[] = {
        {"solution-version", required_argument, NULL, 'v'},
        {"input", required_argument, NULL, 'i'},
        {"output", required_argument, NULL, 'o'},
        {"num-results", required_argument, NULL, 'n'},
        {"filter", required_argument, NULL, OPT_FILTER},
        {"filter-values", required_argument, NULL, OPT_FILTER_VALUES},
        {"threads", required_argument, NULL, OPT_THREADS},
        {"exploration-weight", required_argument, NULL, OPT_XWEIGHT},
        {"exploration-item-age-cut-off", required_argument, NULL, OPT_XAGE},
        CLI_COMMON_OPTIONS,
        {NULL, 0, NULL, 0},
    };
    struct batch_request r = {.num_results = 25, .exploration = {0, 30}, .progress = stderr};
    int c;
    while ((c = getopt_long(argc, argv, "v:i:o:n:", opts, NULL)) != -1) {
        switch (c) {
        case 'v':
            r.version_arn = optarg;
            break;
        case 'i':
            r.input = optarg;
            break;
        case 'o':
            r.output = optarg;
            break;
        case 'n':
            r.num_results = (size_t)cli_parse_count("batch", "num-results", optarg, 500);
            if (r.num_results == 0)
                cli_usage_error("batch", "--num-results must be between 1 and 500");
            break;
        case OPT_FILTER:
            r.filter_expression = optarg;
            break;
        case OPT_FILTER_VALUES:
            r.filter_values = optarg;
            break;
        case OPT_THREADS:
            r.threads = (int)cli_parse_count("batch", "threads", optarg, 256);
            break;
        case OPT_XWEIGHT:
        case OPT_XAGE: {
            char *end;
            double v = strtod(optarg, &end);
            bool weight = c == OPT_XWEIGHT;
            if (end == optarg || *end || !(v >= 0) || (weight && v > 1) || !isfinite(v))
                cli_usage_error("batch", "--%s '%s': expected a number %s",
                                weight ? "exploration-weight" : "exploration-item-age-cut-off",
                                optarg, weight ? "from 0 to 1" : ">= 0 (days)");
            if (weight)
                r.exploration.weight = v;
            else
                r.exploration.age_cutoff_days = v;
            break;
        }
        default:
            if (!cli_common_option(c, optarg, usage)) cli_bad_option("batch", argv);
        }
    }
    if (!r.version_arn) cli_usage_error("batch", "--solution-version is required");
    if (!r.input) cli_usage_error("batch", "--input is required");
    if (!r.output) cli_usage_error("batch", "--output is required");
    if (r.filter_values && !r.filter_expression)
        cli_usage_error("batch", "--filter-values needs --filter");
    if (optind != argc) cli_usage_error("batch", "unexpected argument '%s'", argv[optind]);
    r.data_dir = cli_data_dir();

    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sa.sa_flags = (int)SA_RESETHAND;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    r.cancel = &cancelled;

    struct batch_report rep;
    struct err e = ERR_INIT;
    if (batch_run(&r, &rep, &e)) cli_die("%s", e.msg);
    fprintf(stderr, "batch: %llu lines (%llu with errors) in %.2f s -> %s\n",
            (unsigned long long)rep.lines, (unsigned long long)rep.errors, rep.seconds, rep.output);
    batch_report_release(&rep);
    return 0;
}
