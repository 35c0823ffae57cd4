/*
 * control_int.h: what the control-plane handlers (control_*.c) share.
 *
 * Every handler runs the same way: the request was checked against the
 * model (validate.h) before it is called; it locks ctx->store_mu, reads and
 * writes resources through the store, builds its answer, unlocks. These
 * helpers load resources by ARN with Personalize's errors, turn resource
 * records into Personalize's JSON, page lists and keep tags.
 */
#ifndef SAVOR_CONTROL_INT_H
#define SAVOR_CONTROL_INT_H

#include "common/base.h"
#include "api/api.h"
#include "api/control.h"
#include "store/store.h"

#include <jansson.h>

/* Resource kinds the store does not define elsewhere. */
#define KIND_CAMPAIGN        "campaign"
#define KIND_EVENT_TRACKER   "event-tracker"
#define KIND_FILTER          "filter"
#define KIND_BATCH_INFERENCE "batch-inference-job"

#define STATUS_DELETE_PENDING  "DELETE PENDING"
#define STATUS_CREATE_STOPPING "CREATE STOPPING"
#define STATUS_CREATE_STOPPED  "CREATE STOPPED"

/* Personalize's limits that savor keeps. */
#define CTL_MAX_TAGS           50 /* per resource (TooManyTagsException) */
#define CTL_MAX_EVENT_TRACKERS 1  /* per dataset group */
#define CTL_MAX_FILTERS        10 /* per dataset group */
#define CTL_DEFAULT_PAGE       100

/* AWS errors of the control plane (status 400). Each returns the matching rc. */
enum rc ctl_invalid(struct api_error *err, const char *fmt, ...) PRINTF_LIKE(2, 3);
enum rc ctl_not_found(struct api_error *err, const char *fmt, ...) PRINTF_LIKE(2, 3);
enum rc ctl_exists(struct api_error *err, const char *fmt, ...) PRINTF_LIKE(2, 3);
enum rc ctl_in_use(struct api_error *err, const char *fmt, ...) PRINTF_LIKE(2, 3);
enum rc ctl_limit(struct api_error *err, const char *fmt, ...) PRINTF_LIKE(2, 3);
/* A struct err from a lower layer, as the AWS error its rc means. */
enum rc ctl_from_err(struct api_error *err, const struct err *e);

/* Member 'key' of the request as a string, or NULL when absent. */
const char *ctl_str(const json_t *req, const char *key);

void ctl_lock(struct api_ctx *ctx);
void ctl_unlock(struct api_ctx *ctx);

/*
 * Load the resource 'arn' of 'kind' into *out (caller releases);
 * ResourceNotFoundException naming 'what' ("dataset group") otherwise.
 */
enum rc ctl_get(struct api_ctx *ctx, const char *arn, const char *kind, const char *what,
                struct resource *out, struct api_error *err);
/* A resource's attrs as a JSON object (new reference, never NULL). */
json_t *ctl_attrs(const struct resource *r);
/* Replace r->attrs with 'a' (which the call steals). */
void ctl_set_attrs(struct resource *r, json_t *a);
/* Allocate a resource record (arn and name copied, attrs stolen). */
void ctl_resource_init(struct resource *r, char *arn, const char *kind, const char *name,
                       int64_t parent_id, const char *status, json_t *attrs);

/* Insert / update / delete in a transaction of its own, with AWS errors. */
enum rc ctl_insert(struct api_ctx *ctx, struct resource *r, const char *what,
                   struct api_error *err);
enum rc ctl_update(struct api_ctx *ctx, struct resource *r, struct api_error *err);
enum rc ctl_delete(struct api_ctx *ctx, const struct resource *r, struct api_error *err);

/* Children of 'parent_id' of 'kind' (0: all). */
enum rc ctl_list(struct api_ctx *ctx, const char *kind, int64_t parent_id, struct resource **out,
                 size_t *n, struct api_error *err);
/* Whether any resource of 'kind' has attrs[key] == value (e.g. campaigns of a version). */
bool ctl_any_with(struct api_ctx *ctx, const char *kind, const char *key, const char *value);

/*
 * List the resources of 'kind' under 'parent_arn' (of 'parent_kind', called
 * 'parent_what' in errors; NULL: all) as summary() objects, paged into
 * *resp[list_key] (see ctl_page).
 */
enum rc ctl_list_page(struct api_ctx *ctx, const json_t *req, const char *kind,
                      const char *parent_arn, const char *parent_kind, const char *parent_what,
                      json_t *(*summary)(const struct resource *), const char *list_key,
                      json_t **resp, struct api_error *err);
/* CREATE PENDING or CREATE IN_PROGRESS. */
bool ctl_unfinished(const struct resource *r);

/* Epoch seconds as Personalize's JSON timestamps. */
json_t *ctl_time(double t);
/* Set name, status, failureReason (if any), creationDateTime, lastUpdatedDateTime on 'o'. */
void ctl_common_fields(json_t *o, const struct resource *r, const char *arn_key);

/*
 * Page 'all' (an array the call steals) by the request's nextToken and
 * maxResults into resp[list_key] and resp.nextToken. InvalidNextTokenException
 * for a token savor did not issue.
 */
enum rc ctl_page(const json_t *req, json_t *all, const char *list_key, json_t *resp,
                 struct api_error *err);

/* The request's "tags" list as an object {key: value}; TooManyTagsException past the limit. */
enum rc ctl_tags_from_request(const json_t *req, json_t **out, struct api_error *err);

/* "file:///x" or "/x" or "rel/x": the real path if it lies in ctx->allowed_paths. Caller frees. */
enum rc ctl_confine_path(struct api_ctx *ctx, const char *location, bool must_exist,
                         const char *field, char **out, struct api_error *err);

/*
 * A solution's settings (its attrs: solutionConfig, eventType) as the
 * engine's key=value list (train_request.kv). *kv (caller frees) borrows
 * strings from 'solution_attrs'.
 */
struct param_kv;
enum rc ctl_solution_kv(const json_t *solution_attrs, struct param_kv **kv, size_t *n,
                        struct err *e);

/* An 8-hex-digit id (version ids, tracker ids), and a random UUID (trackingId). */
void ctl_random_hex(char *out, size_t ndigits);
void ctl_uuid(char out[37]);

/* The request checked against the model (validate.h), as InvalidInputException. */
enum rc ctl_validate(const char *op, const json_t *req, struct api_error *err);

/*
 * CTL_OP(CreateDatasetGroup) { ... } defines ctl_CreateDatasetGroup (the
 * handler in the operations table, declared in control.h), which validates
 * the request and then runs the body.
 */
#define CTL_OP(Op)                                                                                 \
    static enum rc handle_##Op(struct api_ctx *ctx, const json_t *req, json_t **resp,              \
                               struct api_error *err);                                             \
    enum rc ctl_##Op(struct api_ctx *ctx, const json_t *req, json_t **resp, struct api_error *err) \
    {                                                                                              \
        enum rc rc = ctl_validate(#Op, req, err);                                                  \
        return rc ? rc : handle_##Op(ctx, req, resp, err);                                         \
    }                                                                                              \
    static enum rc handle_##Op(struct api_ctx *ctx, const json_t *req, json_t **resp,              \
                               struct api_error *err)

#endif
