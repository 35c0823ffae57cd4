/*
 * route.h: the pure front of the HTTP server: which operation a request
 * names, and its body as JSON. No I/O and no globals, so the fuzzer
 * (fuzz/fuzz_json_request.c) drives it directly.
 *
 * One port speaks Personalize's three protocols:
 *   control plane  AWS JSON 1.1  POST /  X-Amz-Target: AmazonPersonalize.<Operation>
 *   runtime        restJson1     POST /recommendations, POST /personalize-ranking
 *   events         restJson1     POST /events, POST /items, POST /users
 * plus GET /healthz (a constant answer) and GET /metrics (Prometheus text).
 */
#ifndef SAVOR_SERVER_ROUTE_H
#define SAVOR_SERVER_ROUTE_H

#include "common/base.h"
#include "api/api.h"

#include <jansson.h>

/* The prefix of X-Amz-Target for the control plane. */
#define ROUTE_TARGET_PREFIX "AmazonPersonalize."

enum route_kind { ROUTE_OPERATION, ROUTE_HEALTHZ, ROUTE_METRICS };

struct route {
    enum route_kind kind;
    const struct api_op *op; /* ROUTE_OPERATION only */
    /* For logs and metrics: the operation's name, "healthz", "metrics" or "unknown" (static). */
    const char *name;
    /* The protocol the answer speaks (content type); API_CONTROL for "/" */
    enum api_plane plane;
};

/*
 * Find the route of a request. 'method' and 'path' as received (path
 * without the query string), 'target' the X-Amz-Target header or NULL.
 * On failure fills 'err' (404/405/400 UnknownOperationException) and
 * out->name/out->plane, so the error can still be logged and shaped.
 */
enum rc route_find(const char *method, const char *path, const char *target, struct route *out,
                   struct api_error *err);

/*
 * Parse a request body: a JSON object in UTF-8. An empty body is {}.
 * Anything else (malformed JSON, invalid UTF-8, a NUL byte, a non-object)
 * is a 400 SerializationException naming the position. *out is a new
 * reference the caller releases with json_decref().
 */
enum rc route_parse_body(const char *body, size_t len, json_t **out, struct api_error *err);

/* The Content-Type of answers in 'plane'. */
const char *route_content_type(enum api_plane plane);

/*
 * The body of an AWS error answer, {"__type": ..., "message": ...}, as a
 * malloc'd string the caller frees (length in *len). Bytes of the message
 * that are not UTF-8 (it may quote the request) become '?'.
 */
char *route_error_json(const struct api_error *err, size_t *len);

/* Fill 'err' with a 500 InternalFailure saying 'what' (handler bugs must not leak details). */
void route_internal_error(struct api_error *err, const char *what);

#endif
