/*
 * cli.h: what every `savor <command>` shares: the command table entry type,
 * the common options, opening the data directory, and failing with a
 * one-line reason.
 */
#ifndef SAVOR_CLI_H
#define SAVOR_CLI_H

#include "common/base.h"
#include "dataset/stats.h"
#include "import/import.h"
#include "server/http.h"
#include "store/store.h"

#include <getopt.h>

#define SAVOR_VERSION "0.1.0"

/* Exit codes: 0 success, 1 failure, 2 bad usage. */
#define EXIT_USAGE 2

struct command {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *summary;
};

int cmd_import(int argc, char **argv);
int cmd_describe(int argc, char **argv);
int cmd_demo(int argc, char **argv);
int cmd_train(int argc, char **argv);
int cmd_recommend(int argc, char **argv);
int cmd_rank(int argc, char **argv);
int cmd_eval(int argc, char **argv);
int cmd_batch(int argc, char **argv);
int cmd_serve(int argc, char **argv);

/* What `savor serve` (and `savor demo`, which ends by serving) runs with. */
struct serve_config {
    struct server_opts server;
    const char **allow; /* --allow-path directories (borrowed) */
    size_t nallow;
    double grace_s; /* on SIGTERM/SIGINT, how long requests in flight may take */
    /* --credentials FILE (borrowed); NULL: DATA_DIR/credentials if it exists (server/auth.h). */
    const char *credentials;
    /* Called once listening, with the bound address ("127.0.0.1:8080"); may be NULL. */
    void (*on_ready)(const char *address, void *arg);
    void *on_ready_arg;
};

void serve_config_default(struct serve_config *cfg);
/* Open the data directory and serve it until SIGTERM/SIGINT; dies on setup errors. */
int cli_serve(struct serve_config *cfg);

/* The process's argv as main() got it (for re-executing, see models/blas.h). */
extern char **cli_argv;

/* Parse a whole number 0..max for option --'opt' or exit 2 naming it. */
uint64_t cli_parse_count(const char *cmd, const char *opt, const char *arg, uint64_t max);

/* Options every command accepts; add CLI_COMMON_OPTIONS to a getopt_long table. */
enum { OPT_DATA_DIR = 1000, OPT_LOG_LEVEL, OPT_HELP };
#define CLI_COMMON_OPTIONS                                     \
    {"data-dir", required_argument, NULL, OPT_DATA_DIR},       \
        {"log-level", required_argument, NULL, OPT_LOG_LEVEL}, \
    {                                                          \
        "help", no_argument, NULL, OPT_HELP                    \
    }

#define CLI_COMMON_HELP                                                                      \
    "      --data-dir DIR     data directory (default $SAVOR_DATA_DIR, else ./savor-data)\n" \
    "      --log-level LEVEL  debug, info, warn, error or off (default info)\n"              \
    "      --help             show this help\n"

/*
 * Handle a common option 'opt' (from getopt_long). Returns true if it was
 * one; prints 'usage' and exits 0 on --help.
 */
bool cli_common_option(int opt, const char *arg, const char *usage);

/* The data directory chosen by --data-dir, $SAVOR_DATA_DIR or the default. */
const char *cli_data_dir(void);

/* Print "savor: error: <msg>" and exit 1. */
NORETURN void cli_die(const char *fmt, ...) PRINTF_LIKE(1, 2);
/* Print "savor: <msg>" plus a hint to use --help, and exit 2. */
NORETURN void cli_usage_error(const char *cmd, const char *fmt, ...) PRINTF_LIKE(2, 3);
/* Report the option getopt_long() just rejected (opterr is off) and exit 2. */
NORETURN void cli_bad_option(const char *cmd, char **argv);
/* Print "savor: warning: <msg>" to stderr. */
void cli_warn(const char *fmt, ...) PRINTF_LIKE(1, 2);

/* Open the data directory or die. */
struct store *cli_open_store(void);

/* Print the import summary a user wants to see. */
void cli_print_import_report(FILE *out, const struct import_opts *o,
                             const struct import_report *rep);

/* Print the training-minimum warnings for an interactions dataset, if any. */
void cli_warn_minimums(const struct interaction_stats *st);

/* "2026-01-01T00:00:00Z" */
void cli_format_time(int64_t ts, char *dst, size_t n);

#endif
