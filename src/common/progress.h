/*
 * progress.h: a one-line progress bar for long jobs on a terminal.
 *
 * It draws only when the stream is a terminal (isatty) and redraws at most
 * ten times a second; otherwise every call is a cheap no-op, so callers can
 * report progress unconditionally.
 */
#ifndef SAVOR_PROGRESS_H
#define SAVOR_PROGRESS_H

#include "common/base.h"

struct progress {
    FILE *out;            /* NULL when disabled */
    const char *label;    /* e.g. "import" */
    const char *unit;     /* e.g. "rows" */
    uint64_t total_bytes; /* 0 when unknown (stdin): no ETA */
    double start;
    double last_draw;
    bool drawn;
};

/* Start; 'force' draws even when 'out' is not a terminal (for tests). */
void progress_begin(struct progress *p, FILE *out, const char *label, const char *unit,
                    uint64_t total_bytes, bool force);
/* Report 'count' units done and 'bytes' of input consumed. */
void progress_update(struct progress *p, uint64_t count, uint64_t bytes);
/* Draw the final state and end the line. */
void progress_end(struct progress *p, uint64_t count, uint64_t bytes);

#endif
