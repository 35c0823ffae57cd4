/*
 * cli.c: shared command-line plumbing.
 */
#include "common/base.h"
#include "cli/cli.h"
#include "common/log.h"

#include <errno.h>
#include <stdarg.h>
#include <time.h>

static const char *data_dir_opt;
char **cli_argv;

uint64_t cli_parse_count(const char *cmd, const char *opt, const char *arg, uint64_t max)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(arg, &end, 10);
    if (errno || end == arg || *end || arg[0] == '-' || v > max)
        cli_usage_error(cmd, "--%s '%s': expected a whole number up to %llu", opt, arg,
                        (unsigned long long)max);
    return v;
}

bool cli_common_option(int opt, const char *arg, const char *usage)
{
    switch (opt) {
    case OPT_DATA_DIR:
        data_dir_opt = arg;
        return true;
    case OPT_LOG_LEVEL:
        if (!log_level_parse(arg, &log_threshold))
            cli_usage_error(NULL, "--log-level '%s': expected debug, info, warn, error or off",
                            arg);
        return true;
    case OPT_HELP:
        fputs(usage, stdout);
        exit(0);
    }
    return false;
}

const char *cli_data_dir(void)
{
    if (data_dir_opt) return data_dir_opt;
    const char *env = getenv("SAVOR_DATA_DIR");
    return env && *env ? env : "./savor-data";
}

void cli_die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("savor: error: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    exit(1);
}

void cli_usage_error(const char *cmd, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("savor: ", stderr);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    if (cmd)
        fprintf(stderr, " (see 'savor %s --help')\n", cmd);
    else
        fputc('\n', stderr);
    exit(EXIT_USAGE);
}

void cli_bad_option(const char *cmd, char **argv)
{
    const char *arg = optind > 0 ? argv[optind - 1] : "";
    /* For a short option getopt sets optopt; for a long one the word is in argv. */
    if (strncmp(arg, "--", 2) != 0 && optopt > ' ' && optopt < 127)
        cli_usage_error(cmd, "option '-%c' is unknown or needs a value", optopt);
    cli_usage_error(cmd, "option '%s' is unknown or needs a value", arg);
}

void cli_warn(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("savor: warning: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

struct store *cli_open_store(void)
{
    struct store *s;
    struct err e = ERR_INIT;
    if (store_open(cli_data_dir(), &s, &e)) cli_die("%s", e.msg);
    return s;
}

void cli_format_time(int64_t ts, char *dst, size_t n)
{
    time_t t = (time_t)ts;
    struct tm tm;
    if (!gmtime_r(&t, &tm) || strftime(dst, n, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
        snprintf(dst, n, "%lld", (long long)ts);
}

void cli_warn_minimums(const struct interaction_stats *st)
{
    if (st->rows < MIN_INTERACTIONS)
        cli_warn("the dataset has %llu interactions, fewer than the %d Personalize requires to "
                 "train; savor will still train, but expect recommendations close to popularity",
                 (unsigned long long)st->rows, MIN_INTERACTIONS);
    if (st->users_2plus < MIN_USERS_WITH_2PLUS)
        cli_warn("only %llu users have 2 or more interactions (Personalize requires %d); "
                 "personalization has little to learn from, expect popularity-like results",
                 (unsigned long long)st->users_2plus, MIN_USERS_WITH_2PLUS);
}

void cli_print_import_report(FILE *out, const struct import_opts *o,
                             const struct import_report *rep)
{
    if (rep->inferred_schema) {
        fprintf(out,
                "schema (inferred from the header; save it to a file, edit it and pass "
                "--schema FILE to change it):\n  %s\n",
                rep->inferred_schema);
    }
    double rate = rep->seconds > 0 ? (double)rep->rows / rep->seconds : 0;
    fprintf(out, "imported %llu rows into %s (%s) in %.2fs (%.0f rows/s)\n",
            (unsigned long long)rep->rows, rep->dataset_arn, import_mode_name(o->mode),
            rep->seconds, rate);
    fprintf(out, "  job:          %s\n", rep->job_arn);
    if (o->type == DATASET_INTERACTIONS) {
        const struct interaction_stats *st = &rep->stats;
        char a[32], b[32];
        fprintf(out, "  dataset now:  %llu interactions, %llu users, %llu items\n",
                (unsigned long long)st->rows, (unsigned long long)st->users,
                (unsigned long long)st->items);
        fprintf(out, "  new IDs:      %llu users, %llu items\n", (unsigned long long)rep->new_users,
                (unsigned long long)rep->new_items);
        if (st->rows) {
            cli_format_time(st->min_ts, a, sizeof(a));
            cli_format_time(st->max_ts, b, sizeof(b));
            fprintf(out, "  time span:    %s .. %s (%.1f days)\n", a, b,
                    (double)(st->max_ts - st->min_ts) / 86400.0);
        }
        fprintf(out, "  event types: ");
        if (!st->ntypes) fprintf(out, " (none)");
        for (size_t i = 0; i < st->ntypes; i++)
            fprintf(out, "%s %s=%llu", i ? "," : "",
                    st->types[i].name[0] ? st->types[i].name : "(none)",
                    (unsigned long long)st->types[i].count);
        fputc('\n', out);
        fprintf(out,
                "  minimums:     %s (%llu interactions, %llu users with 2+ interactions; "
                "Personalize needs %d and %d)\n",
                interaction_stats_meets_minimums(st) ? "met" : "NOT met",
                (unsigned long long)st->rows, (unsigned long long)st->users_2plus, MIN_INTERACTIONS,
                MIN_USERS_WITH_2PLUS);
    } else {
        fprintf(out, "  dataset now:  %llu %s\n", (unsigned long long)rep->dataset_rows,
                o->type == DATASET_ITEMS ? "items" : "users");
        fprintf(out, "  new IDs:      %llu\n",
                (unsigned long long)(o->type == DATASET_ITEMS ? rep->new_items : rep->new_users));
    }
    if (rep->ms_timestamps)
        cli_warn("%llu timestamps look like milliseconds (first on line %llu); Personalize "
                 "expects Unix epoch seconds: divide them by 1000 and import again",
                 (unsigned long long)rep->ms_timestamps, (unsigned long long)rep->ms_first_line);
    if (o->type == DATASET_INTERACTIONS) cli_warn_minimums(&rep->stats);
}
