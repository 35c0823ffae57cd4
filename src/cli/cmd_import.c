/*
 * cmd_import.c: `savor import`, CSV into a dataset.
 */
#include "common/base.h"
#include "cli/cli.h"

static const char usage[] =
    "usage: savor import --dataset-group NAME --type INTERACTIONS|ITEMS|USERS\n"
    "                    [--schema FILE.json] [--mode FULL|INCREMENTAL] [--job-name NAME]\n"
    "                    [--progress] FILE.csv[.gz]|-\n"
    "\n"
    "Import a Personalize-format CSV (a header row naming the schema's fields) into a\n"
    "dataset. The dataset group and dataset are created when absent; without --schema\n"
    "the dataset's schema is used, or one is inferred from the header and shown.\n"
    "FULL (default) replaces the dataset's imported rows; INCREMENTAL appends\n"
    "interactions and upserts items and users by ID. The import is atomic.\n"
    "\n"
    "  -g, --dataset-group NAME  dataset group (created if absent)\n"
    "  -t, --type TYPE           INTERACTIONS, ITEMS or USERS\n"
    "  -s, --schema FILE         Avro JSON schema for a new dataset\n"
    "  -m, --mode MODE           FULL (default) or INCREMENTAL\n"
    "      --job-name NAME       name of the import job\n"
    "                            (default import-YYYYMMDD-HHMMSS-XXXX)\n"
    "      --progress            draw progress even when stderr is not a terminal\n" CLI_COMMON_HELP;

int cmd_import(int argc, char **argv)
{
    enum { OPT_JOB = 1, OPT_PROGRESS };
    static const struct option opts[] = {
        {"dataset-group", required_argument, NULL, 'g'},
        {"type", required_argument, NULL, 't'},
        {"schema", required_argument, NULL, 's'},
        {"mode", required_argument, NULL, 'm'},
        {"job-name", required_argument, NULL, OPT_JOB},
        {"progress", no_argument, NULL, OPT_PROGRESS},
        CLI_COMMON_OPTIONS,
        {NULL, 0, NULL, 0},
    };
    struct import_opts o = {0};
    bool have_type = false;
    int c;
    while ((c = getopt_long(argc, argv, "g:t:s:m:", opts, NULL)) != -1) {
        switch (c) {
        case 'g':
            o.group = optarg;
            break;
        case 't':
            if (!dataset_type_parse(optarg, &o.type))
                cli_usage_error("import", "--type '%s': expected INTERACTIONS, ITEMS or USERS",
                                optarg);
            have_type = true;
            break;
        case 's':
            o.schema_path = optarg;
            break;
        case 'm':
            if (!import_mode_parse(optarg, &o.mode))
                cli_usage_error("import", "--mode '%s': expected FULL or INCREMENTAL", optarg);
            break;
        case OPT_JOB:
            o.job_name = optarg;
            break;
        case OPT_PROGRESS:
            o.force_progress = true;
            break;
        default:
            if (!cli_common_option(c, optarg, usage)) cli_bad_option("import", argv);
        }
    }
    if (!o.group) cli_usage_error("import", "--dataset-group is required");
    if (!have_type) cli_usage_error("import", "--type is required");
    if (optind != argc - 1)
        cli_usage_error("import", "expected exactly one input file (or - for stdin)");
    o.input = argv[optind];
    o.progress = stderr;

    struct store *s = cli_open_store();
    struct import_report rep;
    struct err e = ERR_INIT;
    enum rc rc = import_run(s, &o, &rep, &e);
    if (rc) {
        store_close(s);
        cli_die("%s", e.msg);
    }
    cli_print_import_report(stdout, &o, &rep);
    import_report_release(&rep);
    store_close(s);
    return 0;
}
