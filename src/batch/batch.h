/*
 * batch.h: batch inference, as Personalize's batch inference jobs do it.
 *
 * Input is JSON Lines, one request a line:
 *     {"userId": "u1"}                               user-personalization, popularity
 *     {"itemId": "i1"}  (optionally "userId")        related items (sims, similar-items)
 *     {"userId": "u1", "itemList": ["i1", "i2"]}     personalized-ranking
 * each optionally with "filterValues": {"NAME": "\"value\",..."}.
 * Output is JSON Lines in the same order, one per non-blank input line:
 *     {"input": {...}, "output": {"recommendedItems": [...], "scores": [...]}, "error": null}
 * A line that cannot be answered gets "output": null and "error": "why";
 * the job goes on.
 *
 * Lines are split across threads; the output is written in input order to
 * a temporary file beside the destination, fsynced and renamed at the end,
 * so the destination is complete or absent: a crash or a cancellation
 * never leaves half a result under the final name.
 */
#ifndef SAVOR_BATCH_H
#define SAVOR_BATCH_H

#include "common/base.h"
#include "models/engine.h"

#include <signal.h>

#define BATCH_MAX_RESULTS 500 /* numResults, as GetRecommendations */
#define BATCH_MAX_LINE    (1u << 20)

struct batch_request {
    const char *data_dir;    /* the data directory (each thread opens its own store) */
    const char *version_arn; /* an ACTIVE solution version */
    /*
     * A local path or file:// URI. The output may name a directory (or end
     * in '/'): then the file is DIR/<input file name>.out, as Personalize
     * names its batch output objects.
     */
    const char *input;
    const char *output;
    size_t num_results;                  /* 0 = 25 */
    const char *filter_expression;       /* NULL for none */
    const char *filter_values;           /* default filterValues (JSON object text) or NULL */
    struct exploration exploration;      /* itemExplorationConfig; weight 0 = none */
    int threads;                         /* 0 = one per CPU */
    const volatile sig_atomic_t *cancel; /* set to stop: RC_CANCELLED, no output; may be NULL */
    FILE *progress;                      /* where to draw progress on a terminal; NULL for none */
};

struct batch_report {
    uint64_t lines;  /* requests answered or failed */
    uint64_t errors; /* lines with an "error" */
    char *output;    /* the file written (owned; free with batch_report_release) */
    double seconds;
};

void batch_report_release(struct batch_report *r);

/*
 * Run a batch. Errors that fail the whole job (RC_*): unreadable input,
 * unwritable output, an unknown or inactive version, a bad filter, a cancel.
 * Per-line problems only count in rep->errors.
 */
enum rc batch_run(const struct batch_request *r, struct batch_report *rep, struct err *e);

/*
 * Answer one input line (the core of batch_run, for tests and fuzzing):
 * *out is the output line without its newline (caller frees). 'filter' may
 * be NULL; 'default_values' (may be NULL) are used when the line has no
 * filterValues. Never fails: problems become the line's "error".
 */
struct filter;
char *batch_answer_line(struct model *m, struct filter *filter, const json_t *default_values,
                        const char *line, size_t len, size_t num_results,
                        const struct exploration *x);

#endif
