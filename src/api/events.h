/*
 * events.h: PutEvents, PutItems and PutUsers, and the durable writer behind them.
 *
 * A handler validates the whole request first (nothing is written when any
 * field is wrong), then hands the rows to the event writer and waits. The
 * writer is one thread with its own store connection: it takes every
 * request queued since its last commit and writes them in one transaction
 * (group commit: one fsync for many callers). A caller gets its 200 only
 * after that commit, and after the loaded models have folded its events in,
 * so the very next GetRecommendations sees them.
 *
 * Events become ORIGIN_EVENTS interaction chunks of the tracker's INTERACTIONS
 * dataset (one chunk per dataset per commit); new users, items and event
 * types are appended to the group's ID maps in the same transaction. Items
 * and users become ORIGIN_EVENTS metadata rows (store_entity_upsert).
 */
#ifndef SAVOR_EVENTS_H
#define SAVOR_EVENTS_H

#include "common/base.h"
#include "api/api.h"

struct event_writer;

/*
 * Start the writer on the data directory 'data_dir'. 'models' (may be NULL)
 * receives every committed event (model_cache_add_events) and, when the
 * writer is idle, the chunks that imports appended (model_cache_catch_up).
 */
enum rc event_writer_start(const char *data_dir, struct model_cache *models,
                           struct event_writer **out, struct err *e);
/* Write everything queued, answer its callers, stop the thread. NULL is a no-op. */
void event_writer_stop(struct event_writer *w);

struct event_writer_stats {
    uint64_t events;   /* events committed */
    uint64_t entities; /* items and users upserted */
    uint64_t commits;  /* transactions (each one fsync) */
    uint64_t failures; /* transactions that failed (their callers got an error) */
};
void event_writer_stats(struct event_writer *w, struct event_writer_stats *out);

/* The handlers (api_handler); they need ctx->events. */
enum rc api_put_events(struct api_ctx *ctx, const json_t *req, json_t **resp,
                       struct api_error *err);
enum rc api_put_items(struct api_ctx *ctx, const json_t *req, json_t **resp, struct api_error *err);
enum rc api_put_users(struct api_ctx *ctx, const json_t *req, json_t **resp, struct api_error *err);

#endif
