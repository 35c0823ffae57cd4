/*
 * metrics.h: the counters behind `GET /metrics` (Prometheus text format).
 *
 * Any module may bump a named series; the server renders them all. Updates
 * are lock-free atomic adds after a series' first use (which takes a lock
 * once to register the name), so they are cheap enough for every request.
 *
 * Series names follow Prometheus: a name ending in "_total" is a counter,
 * anything else a gauge. A name may carry labels, written out in full:
 *   server_metrics_add("savor_events_ingested_total", n);
 *   server_metrics_add("savor_jobs_total{kind=\"import\",status=\"ACTIVE\"}", 1);
 *   server_metrics_set("savor_models_loaded", k);
 *   server_metrics_add("savor_jobs_running", +1);  ... later ... (..., -1);
 * Names the server registers at start (so they show as 0 before first use):
 *   savor_events_ingested_total  events stored by PutEvents
 *   savor_jobs_running           background jobs (import, training, batch) running
 *   savor_models_loaded          campaign models held in memory
 */
#ifndef SAVOR_SERVER_METRICS_H
#define SAVOR_SERVER_METRICS_H

#include "common/base.h"
#include "common/buf.h"

/* Add 'n' (may be negative for a gauge) to the series 'name'. */
void server_metrics_add(const char *name, int64_t n);
/* Set the gauge 'name' to 'v'. */
void server_metrics_set(const char *name, int64_t v);
/* The current value of 'name' (0 if it was never used). */
int64_t server_metrics_get(const char *name);

/*
 * Record one answered request: 'op' is the operation name (a static string:
 * "GetRecommendations", "healthz", "unknown", ...), 'status' the HTTP status
 * and 'seconds' the time from the request's headers to its last byte sent.
 */
void server_metrics_request(const char *op, int status, double seconds);

/* Append every series in Prometheus text exposition format (0.0.4) to 'out'. */
enum rc server_metrics_render(struct buf *out);

#endif
