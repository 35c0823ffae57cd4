/*
 * main.c: the savor command table and dispatch (git.c's model).
 *
 * To add a command: write cmd_<name>() in src/cli/cmd_<name>.c, declare it
 * in src/cli/cli.h and add a line to the table below.
 */
#include "common/base.h"
#include "cli/cli.h"
#include "models/blas.h"

#include <getopt.h>
#include <malloc.h>

static const struct command commands[] = {
    {"serve", cmd_serve, "serve the Amazon Personalize API (control, runtime, events) over HTTP"},
    {"import", cmd_import, "import a CSV file into a dataset (creates the dataset group)"},
    {"describe", cmd_describe,
     "show dataset groups, datasets, import jobs, solutions and versions (JSON)"},
    {"demo", cmd_demo, "the demo creators' platform: generate, import and train it"},
    {"train", cmd_train, "train a solution version of a recipe on a dataset group"},
    {"recommend", cmd_recommend, "recommendations for a user or related to an item (JSON)"},
    {"rank", cmd_rank, "rerank items for a user (JSON)"},
    {"batch", cmd_batch, "batch inference: JSON Lines of requests to JSON Lines of answers"},
    {"eval", cmd_eval, "compare recipes and settings offline: metrics table, JSON, SVG chart"},
};

static void print_usage(FILE *out)
{
    fprintf(out, "usage: savor <command> [options]\n\n"
                 "savor is a self-hosted, Amazon Personalize-compatible recommendation engine.\n\n"
                 "commands:\n");
    for (size_t i = 0; i < ARRAY_SIZE(commands); i++)
        fprintf(out, "  %-10s %s\n", commands[i].name, commands[i].summary);
    fprintf(out,
            "\nEvery command takes --data-dir DIR (default $SAVOR_DATA_DIR, else ./savor-data)\n"
            "and --help. 'savor version' prints the version.\n");
}

int main(int argc, char **argv)
{
    cli_argv = argv;
    if (argc < 2) {
        print_usage(stderr);
        return EXIT_USAGE;
    }
    const char *name = argv[1];
    if (strcmp(name, "--help") == 0 || strcmp(name, "-h") == 0 || strcmp(name, "help") == 0) {
        print_usage(stdout);
        return 0;
    }
    if (strcmp(name, "--version") == 0 || strcmp(name, "version") == 0) {
        blas_select_kernels(argv);
        printf("savor %s\nblas: OpenBLAS, %s kernels\n", SAVOR_VERSION, blas_core_name());
        return 0;
    }
    /*
     * Keep large buffers (import chunks, SQLite pages) on the heap: with
     * glibc's default each free of one is a munmap, and with a second thread
     * running every munmap interrupts it to flush its TLB.
     */
    mallopt(M_MMAP_THRESHOLD, 64 << 20);
    opterr = 0; /* commands report bad options themselves, in one line */
    for (size_t i = 0; i < ARRAY_SIZE(commands); i++)
        if (strcmp(name, commands[i].name) == 0) return commands[i].run(argc - 1, argv + 1);
    fprintf(stderr, "savor: '%s' is not a savor command (see 'savor --help')\n", name);
    return EXIT_USAGE;
}
