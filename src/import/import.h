/*
 * import.h: CSV rows into a dataset, in one transaction.
 *
 * import_run() reads a Personalize-format CSV (file, .csv.gz or stdin),
 * checks every value against the dataset's schema (given, stored, or
 * inferred from the header and the first rows), maps string IDs to dense
 * indexes and writes the rows, creating the dataset group and dataset when
 * absent. It is atomic: on any error nothing is written and the dataset is
 * exactly as before (a failed job is then recorded if the dataset existed).
 */
#ifndef SAVOR_IMPORT_H
#define SAVOR_IMPORT_H

#include "common/base.h"
#include "dataset/stats.h"
#include "dataset/schema.h"
#include "store/store.h"

enum import_mode { IMPORT_FULL = 0, IMPORT_INCREMENTAL };

/* "FULL" / "INCREMENTAL"; parse is case-insensitive. */
const char *import_mode_name(enum import_mode m);
bool import_mode_parse(const char *s, enum import_mode *out);

/* Rows read to infer a schema when none is given. */
#define IMPORT_INFER_SAMPLE_ROWS 1000
/* A TIMESTAMP at or above this (year 5138 in seconds) is taken to be in milliseconds. */
#define IMPORT_MS_TIMESTAMP 100000000000LL

struct import_opts {
    const char *group; /* dataset group name; created if absent */
    enum dataset_type type;
    const char *schema_path; /* Avro JSON file, or NULL: the dataset's schema, else inferred */
    enum import_mode mode;
    const char *input;    /* path, or "-" for stdin */
    const char *job_name; /* NULL: generated */
    /*
     * The job 'job_name' was already recorded (CREATE PENDING by the API):
     * update its status and counts instead of recording a new job.
     */
    bool job_exists;
    FILE *progress;      /* where to draw progress on a terminal; NULL for none */
    bool force_progress; /* draw even when 'progress' is not a terminal */
};

struct import_report {
    char *job_arn;         /* owned */
    char *dataset_arn;     /* owned */
    char *inferred_schema; /* owned JSON when the schema was inferred, else NULL */
    bool dataset_created;
    uint64_t rows;      /* rows in this file */
    uint64_t new_users; /* IDs seen for the first time in the group */
    uint64_t new_items;
    uint64_t ms_timestamps; /* TIMESTAMP values that look like milliseconds */
    uint64_t ms_first_line;
    uint64_t dataset_rows;          /* rows in the dataset after the import */
    struct interaction_stats stats; /* INTERACTIONS: the whole dataset after the import */
    double seconds;
};

void import_report_release(struct import_report *r);

enum rc import_run(struct store *s, const struct import_opts *o, struct import_report *rep,
                   struct err *e);

#endif
