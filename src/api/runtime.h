/*
 * runtime.h: GetRecommendations and GetPersonalizedRanking, and the
 * serving state they share with the events handlers.
 *
 * The server calls runtime_start() once before serving (it creates the
 * model cache and the event writer and hooks campaign changes) and
 * runtime_stop() after the last request (it writes and answers every
 * queued event first).
 */
#ifndef SAVOR_RUNTIME_H
#define SAVOR_RUNTIME_H

#include "common/base.h"
#include "api/api.h"

/*
 * The request context key that asks for explanations: context
 * {"savor:explain": "true"} adds "explanation" to each recommended item
 * (docs/api-compatibility.md).
 */
#define RUNTIME_EXPLAIN_KEY "savor:explain"

/*
 * Set ctx->models, ctx->events and ctx->campaign_changed (ctx->store and
 * ctx->data_dir must be set), and load every campaign's model.
 */
enum rc runtime_start(struct api_ctx *ctx, struct err *e);
/* Flush and answer queued events, stop the writer, close the models. */
void runtime_stop(struct api_ctx *ctx);

/* The handlers (api_handler). */
enum rc api_get_recommendations(struct api_ctx *ctx, const json_t *req, json_t **resp,
                                struct api_error *err);
/* The same, written as JSON text into 'out' (the server's path: see api_text_handler). */
enum rc api_get_recommendations_text(struct api_ctx *ctx, const json_t *req, struct buf *out,
                                     struct api_error *err);
enum rc api_get_personalized_ranking(struct api_ctx *ctx, const json_t *req, json_t **resp,
                                     struct api_error *err);

#endif
