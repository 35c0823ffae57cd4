/*
 * jobs.h: the server's background jobs (imports, trainings, batch inference).
 *
 * The control plane records a job's resource CREATE PENDING and answers at
 * once; jobs_submit() queues it. A few worker threads (SAVOR_JOB_WORKERS,
 * default 2) run at a lower CPU priority than serving (nice +10 per thread)
 * and each opens its own store connection on the data directory (SQLite WAL),
 * so the shared connection behind ctx->store_mu is never held by a job.
 * A job moves its resource to CREATE IN_PROGRESS, then ACTIVE or CREATE
 * FAILED with a failureReason.
 *
 * The queue lives in the store: on start, jobs_start() fails the jobs that a
 * dead process left CREATE IN_PROGRESS ("interrupted ...") and queues again
 * every job still CREATE PENDING, so none stays in progress forever.
 *
 * Use from the server:
 *     jobs_start(ctx, &e)   after ctx->store, data_dir and allowed_paths are set;
 *                           sets ctx->jobs.
 *     jobs_stop(ctx->jobs)  on shutdown, before closing the store: stops taking
 *                           jobs, asks running trainings to stop (they go back
 *                           to CREATE PENDING and resume on the next start),
 *                           waits for the workers, frees everything.
 */
#ifndef SAVOR_JOBS_H
#define SAVOR_JOBS_H

#include "common/base.h"
#include "api/api.h"

#include <signal.h>

enum job_kind { JOB_IMPORT, JOB_TRAIN, JOB_BATCH };

/* Start the workers and recover the queue from the store (see above). */
enum rc jobs_start(struct api_ctx *ctx, struct err *e);
/* Graceful stop (see above); NULL is a no-op. */
void jobs_stop(struct jobs *j);

/* Queue the job whose resource is 'arn'. Never blocks on running jobs. */
void jobs_submit(struct jobs *j, enum job_kind kind, const char *arn);

/*
 * Cancel the training of version 'arn'. A queued one is dropped (the caller
 * records CREATE STOPPED); a running one is asked to stop, and its worker
 * records CREATE STOPPED when the trainer returns.
 */
enum jobs_cancel { JOBS_CANCEL_NONE, JOBS_CANCEL_QUEUED, JOBS_CANCEL_RUNNING };
enum jobs_cancel jobs_cancel(struct jobs *j, const char *arn);

/* Jobs queued or running (for /metrics). */
size_t jobs_pending(struct jobs *j);

/* Wait until no job is queued or running (tests). */
void jobs_wait_idle(struct jobs *j);

/*
 * Run batch inference job 'job_arn' (its resource holds the solution
 * version, numResults, filter and paths): read the JSON Lines input, write
 * the output. Defined in control_batch.c.
 */
enum rc batch_inference_run(struct store *s, const char *job_arn, const char *input_path,
                            const char *output_path, const volatile sig_atomic_t *cancel,
                            struct err *e);

#endif
