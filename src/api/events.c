/*
 * events.c: PutEvents, PutItems, PutUsers and the group-commit writer.
 *
 * Request path: find the target dataset (tracker -> INTERACTIONS dataset,
 * or the dataset ARN), check every field against Personalize's limits and
 * the dataset's schema, turn the request into a 'submission' of plain rows,
 * queue it, and sleep until the writer has committed it.
 *
 * Writer path (one thread, its own store connection): take the whole queue,
 * BEGIN IMMEDIATE, intern IDs in the group's ID maps (kept in memory and
 * re-read when another writer, an import, has appended to them), append one
 * chunk per dataset and the entity rows, append the new keys, COMMIT (one
 * fsync), give the chunks to the models, wake the callers.
 */
#include "common/base.h"
#include "api/events.h"
#include "common/buf.h"
#include "common/clock.h"
#include "common/log.h"
#include "common/strmap.h"
#include "common/utf8.h"
#include "common/vec.h"
#include "dataset/dataset.h"
#include "server/model_cache.h"
#include "store/extra.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <time.h>

#define KIND_EVENT_TRACKER "event-tracker"
#define TARGET_RECHECK_SECONDS                                                                 \
    5.0                         /* a cached tracker or dataset is re-read this often (deletes) \
                                 */
#define WRITER_IDLE_SECONDS 1.0 /* idle writer: look for chunks appended by imports */
#define WRITER_LOCK_TRIES   6   /* BEGIN attempts (each waits the busy timeout) */
#define EVENTS_MAX          10
#define PROPERTIES_MAX      1024 /* EventPropertiesJSON */
#define ITEM_PROPERTIES_MAX 24262
#define USER_PROPERTIES_MAX 4096

/* ---- Targets: datasets rows are written to --------------------------------- */

/*
 * A dataset as the writer needs it. Created once per dataset, never freed
 * before the writer stops, immutable: a submission can point at it.
 */
struct target {
    int64_t dataset_id;
    int64_t group_id;
    enum dataset_type type;
    char *dataset_arn;
    struct schema *schema;
    /* INTERACTIONS: schema fields kept as extra text columns, in schema order. */
    size_t nextra;
    int *extra_field; /* schema field index per extra column */
    char *extra_names;
    bool has_event_type, has_event_value;
};

/* A key (tracking ID or dataset ARN) -> target, re-checked every few seconds. */
struct target_ref {
    char *key;
    char *resource_arn; /* the tracker or dataset that must still exist */
    struct target *t;
    double checked; /* monotonic */
};

/* ---- Submissions ------------------------------------------------------------ */

struct ev_row {
    char *user_id; /* the userId, else the sessionId */
    char *item_id;
    char *event_type; /* NULL when the schema has no EVENT_TYPE */
    float value;      /* NaN when none */
    int64_t ts;
    char **extra; /* nextra values, NULL = null (owned) */
};

struct ent_row {
    char *id;
    char *json; /* the metadata object */
    int64_t created;
};

struct submission {
    const struct target *t;
    size_t n;
    struct ev_row *ev;   /* INTERACTIONS */
    struct ent_row *ent; /* ITEMS, USERS */
    bool done;
    enum rc rc;
    struct err err;
    struct submission *next;
};

static void submission_free(struct submission *s)
{
    for (size_t i = 0; s->ev && i < s->n; i++) {
        free(s->ev[i].user_id);
        free(s->ev[i].item_id);
        free(s->ev[i].event_type);
        for (size_t k = 0; k < s->t->nextra; k++)
            free(s->ev[i].extra[k]);
        free(s->ev[i].extra);
    }
    for (size_t i = 0; s->ent && i < s->n; i++) {
        free(s->ent[i].id);
        free(s->ent[i].json);
    }
    free(s->ev);
    free(s->ent);
}

/* ---- The writer's state ----------------------------------------------------- */

/* A group's three ID maps as stored; 'stored' = keys known to be in the store. */
struct group_maps {
    int64_t group_id;
    struct strmap *maps[3];
    uint32_t stored[3];
    bool current; /* checked against the store in this batch's transaction */
};

struct event_writer {
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t wake; /* the writer: work queued, or stop */
    pthread_cond_t done; /* callers: a commit finished */
    struct submission *head, *tail;
    bool stop;

    struct store *store; /* the writer thread's own connection */
    struct model_cache *models;
    VEC(struct group_maps) groups; /* writer thread only */

    /* Targets, and the keys that lead to them (under tmu). */
    pthread_mutex_t tmu;
    VEC(struct target *) targets;
    VEC(struct target_ref) refs;

    struct event_writer_stats stats; /* under mu */
};

/* ---- Targets ---------------------------------------------------------------- */

static void target_free(struct target *t)
{
    if (!t) return;
    free(t->dataset_arn);
    schema_free(t->schema);
    free(t->extra_field);
    free(t->extra_names);
    free(t);
}

static bool reserved_interaction_field(const char *name)
{
    return strcmp(name, "USER_ID") == 0 || strcmp(name, "ITEM_ID") == 0 ||
           strcmp(name, "TIMESTAMP") == 0 || strcmp(name, "EVENT_TYPE") == 0 ||
           strcmp(name, "EVENT_VALUE") == 0;
}

/* Build the target of dataset 'd' (store_mu held by the caller). */
static enum rc target_build(struct store *s, const struct resource *d, struct target **out,
                            struct err *e)
{
    json_t *a = json_loads(d->attrs, 0, NULL);
    const char *type = json_string_value(json_object_get(a, "datasetType"));
    enum dataset_type dt;
    bool ok = type && dataset_type_parse(type, &dt);
    json_decref(a);
    if (!ok) return err_set(e, RC_INVALID_INPUT, "%s is not a dataset", d->arn);
    struct target *t = xcalloc(1, sizeof(*t));
    t->dataset_id = d->id;
    t->group_id = d->parent_id;
    t->type = dt;
    t->dataset_arn = xstrdup(d->arn);
    enum rc rc = dataset_load_schema(s, d, &t->schema, e);
    if (rc) {
        target_free(t);
        return rc;
    }
    struct buf names;
    buf_init(&names, BUF_NO_CAP);
    t->extra_field = xcalloc(t->schema->nfields + 1, sizeof(int));
    for (size_t f = 0; f < t->schema->nfields; f++) {
        const char *name = t->schema->fields[f].name;
        if (strcmp(name, "EVENT_TYPE") == 0) t->has_event_type = true;
        if (strcmp(name, "EVENT_VALUE") == 0) t->has_event_value = true;
        if (dt != DATASET_INTERACTIONS || reserved_interaction_field(name)) continue;
        t->extra_field[t->nextra++] = (int)f;
        buf_addf(&names, "%s%s", names.len ? "," : "", name);
    }
    t->extra_names = buf_detach(&names, NULL);
    *out = t;
    return RC_OK;
}

/* The cached target for 'key', if still fresh (tmu held). */
static struct target_ref *ref_find(struct event_writer *w, const char *key)
{
    for (size_t i = 0; i < w->refs.n; i++)
        if (strcmp(w->refs.v[i].key, key) == 0) return &w->refs.v[i];
    return NULL;
}

/* Keep one target per dataset; 't' is adopted or freed (tmu held). */
static struct target *target_adopt(struct event_writer *w, struct target *t)
{
    for (size_t i = 0; i < w->targets.n; i++)
        if (w->targets.v[i]->dataset_id == t->dataset_id) {
            target_free(t);
            return w->targets.v[i];
        }
    VEC_PUSH(&w->targets, t);
    return t;
}

static void ref_set(struct event_writer *w, const char *key, const char *resource_arn,
                    struct target *t)
{
    struct target_ref *r = ref_find(w, key);
    if (!r) {
        VEC_PUSH(&w->refs, ((struct target_ref){xstrdup(key), xstrdup(resource_arn), NULL, 0}));
        r = &w->refs.v[w->refs.n - 1];
    } else if (strcmp(r->resource_arn, resource_arn) != 0) {
        free(r->resource_arn);
        r->resource_arn = xstrdup(resource_arn);
    }
    r->t = t;
    r->checked = clock_monotonic();
}

/*
 * The tracker whose trackingId is 'tracking_id', and its INTERACTIONS
 * dataset (store_mu held).
 */
static enum rc tracker_lookup(struct store *s, const char *tracking_id, struct resource *tracker,
                              struct resource *dataset, struct api_error *err)
{
    struct resource *list;
    size_t n;
    struct err e;
    if (store_resource_list(s, KIND_EVENT_TRACKER, 0, &list, &n, &e))
        return api_fail(err, 500, "InternalFailure", "%s", e.msg);
    ssize_t found = -1;
    for (size_t i = 0; i < n && found < 0; i++) {
        json_t *a = json_loads(list[i].attrs, 0, NULL);
        const char *id = json_string_value(json_object_get(a, "trackingId"));
        if (id && strcmp(id, tracking_id) == 0 && !strstr(list[i].status, "DELETE") &&
            !strstr(list[i].status, "FAILED"))
            found = (ssize_t)i;
        json_decref(a);
    }
    if (found < 0) {
        resource_list_free(list, n);
        return api_fail(err, 404, "ResourceNotFoundException", "no event tracker has trackingId %s",
                        tracking_id);
    }
    *tracker = list[found];
    memset(&list[found], 0, sizeof(list[found]));
    resource_list_free(list, n);
    struct resource g = {0};
    enum rc rc = store_resource_get_id(s, tracker->parent_id, &g, &e);
    if (!rc) rc = dataset_find(s, &g, DATASET_INTERACTIONS, dataset, &e);
    resource_release(&g);
    if (rc) {
        resource_release(tracker);
        return api_fail(err, 404, "ResourceNotFoundException",
                        "event tracker %s: its dataset group has no INTERACTIONS dataset yet",
                        tracking_id);
    }
    return RC_OK;
}

/*
 * The target for a tracking ID (is_tracker) or a dataset ARN: from the cache
 * when it was checked recently, else from the store (ctx->store_mu).
 */
static enum rc target_get(struct api_ctx *ctx, const char *key, bool is_tracker,
                          const struct target **out, struct api_error *err)
{
    struct event_writer *w = ctx->events;
    pthread_mutex_lock(&w->tmu);
    struct target_ref *r = ref_find(w, key);
    if (r && clock_monotonic() - r->checked < TARGET_RECHECK_SECONDS) {
        *out = r->t;
        pthread_mutex_unlock(&w->tmu);
        return RC_OK;
    }
    pthread_mutex_unlock(&w->tmu);

    struct resource holder = {0}, dataset = {0};
    struct target *t = NULL;
    enum rc rc = RC_OK;
    struct err e;
    pthread_mutex_lock(&ctx->store_mu);
    if (is_tracker) {
        rc = tracker_lookup(ctx->store, key, &holder, &dataset, err);
    } else if (store_resource_get(ctx->store, key, &dataset, NULL) ||
               strcmp(dataset.kind, KIND_DATASET) != 0) {
        rc = api_fail(err, 404, "ResourceNotFoundException", "dataset %s does not exist", key);
    }
    if (!rc && (rc = target_build(ctx->store, &dataset, &t, &e)))
        rc = api_fail(err, 500, "InternalFailure", "%s", e.msg);
    pthread_mutex_unlock(&ctx->store_mu);
    if (!rc) {
        pthread_mutex_lock(&w->tmu);
        t = target_adopt(w, t);
        ref_set(w, key, is_tracker ? holder.arn : dataset.arn, t);
        pthread_mutex_unlock(&w->tmu);
        *out = t;
    }
    resource_release(&holder);
    resource_release(&dataset);
    return rc;
}

/* ---- Field checks ----------------------------------------------------------- */

/* A string member: required or not, 1..max bytes of valid UTF-8. NULL when absent. */
static enum rc get_string(const json_t *obj, const char *name, const char *where, bool required,
                          size_t max, const char **out, struct api_error *err)
{
    const json_t *v = json_object_get(obj, name);
    *out = NULL;
    if (!v || json_is_null(v)) {
        if (!required) return RC_OK;
        return api_fail(err, 400, "InvalidInputException", "%s%s is required", where, name);
    }
    if (!json_is_string(v))
        return api_fail(err, 400, "InvalidInputException", "%s%s must be a string", where, name);
    size_t len = json_string_length(v);
    if (len < 1 || len > max)
        return api_fail(err, 400, "InvalidInputException",
                        "%s%s must be 1 to %zu characters long (got %zu)", where, name, max, len);
    const char *s = json_string_value(v);
    if (strlen(s) != len)
        return api_fail(err, 400, "InvalidInputException", "%s%s must not contain NUL characters",
                        where, name);
    *out = s;
    return RC_OK;
}

/* "NUMBER_OF_RATINGS" -> "numberOfRatings": how Personalize names properties. */
static void camel_case(const char *field, char *out, size_t cap)
{
    size_t o = 0;
    bool up = false;
    for (const char *p = field; *p && o + 1 < cap; p++) {
        if (*p == '_') {
            up = o > 0;
            continue;
        }
        char c = *p;
        if (up && c >= 'a' && c <= 'z') c = (char)(c - 'a' + 'A');
        if (!up && c >= 'A' && c <= 'Z') c = (char)(c - 'A' + 'a');
        out[o++] = c;
        up = false;
    }
    out[o] = '\0';
}

/* The schema field a property key names (its name, or its camelCase form), or -1. */
static int property_field(const struct schema *s, const char *key)
{
    int f = schema_find(s, key);
    if (f >= 0) return f;
    char cc[SCHEMA_MAX_NAME_LEN + 2];
    for (size_t i = 0; i < s->nfields; i++) {
        camel_case(s->fields[i].name, cc, sizeof(cc));
        if (strcmp(cc, key) == 0) return (int)i;
    }
    return -1;
}

static bool parse_whole(const char *p, int64_t *out)
{
    if (!*p) return false;
    char *end;
    errno = 0;
    long long v = strtoll(p, &end, 10);
    if (errno || *end || end == p || *p == ' ' || *p == '+') return false;
    *out = v;
    return true;
}

static bool parse_number(const char *p, double *out)
{
    if (!*p || *p == ' ') return false;
    for (const char *q = p; *q; q++)
        if (!strchr("0123456789+-.eE", *q)) return false;
    char *end;
    errno = 0;
    double v = strtod(p, &end);
    if (errno || *end || end == p || !isfinite(v)) return false;
    *out = v;
    return true;
}

/*
 * Check a property value against its field and give its text (as a CSV
 * cell would hold it; caller frees) and, for metadata, its JSON value.
 */
static enum rc property_value(const struct schema_field *f, const json_t *v, const char *where,
                              char **text, json_t **typed, struct api_error *err)
{
    char tmp[64];
    const char *s = NULL;
    if (json_is_string(v)) {
        s = json_string_value(v);
    } else if (json_is_integer(v)) {
        snprintf(tmp, sizeof(tmp), "%lld", (long long)json_integer_value(v));
        s = tmp;
    } else if (json_is_real(v)) {
        snprintf(tmp, sizeof(tmp), "%.17g", json_real_value(v));
        s = tmp;
    } else if (json_is_boolean(v)) {
        s = json_is_true(v) ? "true" : "false";
    } else if (!json_is_null(v)) {
        return api_fail(err, 400, "InvalidInputException",
                        "%s%s: expected a string, number or boolean value", where, f->name);
    }
    if (!s || (!*s && f->type != FT_STRING)) {
        if (!f->nullable)
            return api_fail(err, 400, "InvalidInputException",
                            "%s%s: null, but the field is not nullable", where, f->name);
        *text = NULL;
        if (typed) *typed = NULL;
        return RC_OK;
    }
    int64_t i;
    double d;
    json_t *j = NULL;
    switch (f->type) {
    case FT_STRING:
        if (!utf8_valid(s, strlen(s)))
            return api_fail(err, 400, "InvalidInputException", "%s%s: invalid UTF-8", where,
                            f->name);
        if (f->categorical && strlen(s) > SCHEMA_CATEGORICAL_MAX_BYTES)
            return api_fail(err, 400, "InvalidInputException",
                            "%s%s: categorical value of %zu bytes; the limit is %d", where, f->name,
                            strlen(s), SCHEMA_CATEGORICAL_MAX_BYTES);
        if (typed && f->categorical) {
            j = json_array();
            const char *start = s;
            for (const char *p = s;; p++)
                if (*p == '|' || !*p) {
                    if (p > start)
                        json_array_append_new(j, json_stringn(start, (size_t)(p - start)));
                    if (!*p) break;
                    start = p + 1;
                }
        } else if (typed) {
            j = json_string(s);
        }
        break;
    case FT_INT:
    case FT_LONG:
        if (!parse_whole(s, &i) || (f->type == FT_INT && (i < INT32_MIN || i > INT32_MAX)))
            return api_fail(err, 400, "InvalidInputException",
                            "%s%s: '%.40s' is not a whole number in the range of type %s", where,
                            f->name, s, field_type_name(f->type));
        if (typed) j = json_integer(i);
        break;
    case FT_FLOAT:
    case FT_DOUBLE:
        if (!parse_number(s, &d) || (f->type == FT_FLOAT && fabs(d) > 3.4028234e38))
            return api_fail(err, 400, "InvalidInputException",
                            "%s%s: '%.40s' is not a number (type %s)", where, f->name, s,
                            field_type_name(f->type));
        if (typed) j = json_real(d);
        break;
    case FT_BOOLEAN:
        if (strcmp(s, "true") && strcmp(s, "false"))
            return api_fail(err, 400, "InvalidInputException",
                            "%s%s: '%.40s' is not a boolean; expected true or false", where,
                            f->name, s);
        if (typed) j = json_boolean(strcmp(s, "true") == 0);
        break;
    }
    *text = xstrdup(s);
    if (typed) *typed = j;
    return RC_OK;
}

/*
 * Parse a properties member (a JSON object given as a string, as botocore
 * sends it; an object is accepted too). *out is a new reference or NULL.
 */
static enum rc get_properties(const json_t *obj, const char *where, size_t max, json_t **out,
                              struct api_error *err)
{
    const json_t *v = json_object_get(obj, "properties");
    *out = NULL;
    if (!v || json_is_null(v)) return RC_OK;
    if (json_is_object(v)) {
        *out = json_incref((json_t *)v);
        return RC_OK;
    }
    if (!json_is_string(v))
        return api_fail(err, 400, "InvalidInputException",
                        "%sproperties must be a string holding a JSON object", where);
    size_t len = json_string_length(v);
    if (len < 1 || len > max)
        return api_fail(err, 400, "InvalidInputException",
                        "%sproperties must be 1 to %zu characters long (got %zu)", where, max, len);
    json_error_t je;
    json_t *p = json_loadb(json_string_value(v), len, JSON_REJECT_DUPLICATES, &je);
    if (!p || !json_is_object(p)) {
        json_decref(p);
        return api_fail(err, 400, "InvalidInputException", "%sproperties is not a JSON object%s%s",
                        where, p ? "" : ": ", p ? "" : je.text);
    }
    *out = p;
    return RC_OK;
}

static const json_t *get_list(const json_t *req, const char *name, size_t max,
                              struct api_error *err)
{
    const json_t *v = json_object_get(req, name);
    if (!v || json_is_null(v)) {
        api_fail(err, 400, "InvalidInputException", "%s is required", name);
        return NULL;
    }
    if (!json_is_array(v)) {
        api_fail(err, 400, "InvalidInputException", "%s must be a list", name);
        return NULL;
    }
    if (json_array_size(v) < 1 || json_array_size(v) > max) {
        api_fail(err, 400, "InvalidInputException", "%s must hold 1 to %zu entries (got %zu)", name,
                 max, json_array_size(v));
        return NULL;
    }
    return v;
}

/* ---- Submitting ------------------------------------------------------------- */

/* Queue 's', wait for its commit; the result is in s->rc / s->err. */
static void submit_and_wait(struct event_writer *w, struct submission *s)
{
    pthread_mutex_lock(&w->mu);
    if (w->stop) {
        s->rc = err_set(&s->err, RC_IO, "the server is shutting down");
        pthread_mutex_unlock(&w->mu);
        return;
    }
    s->next = NULL;
    if (w->tail)
        w->tail->next = s;
    else
        w->head = s;
    w->tail = s;
    pthread_cond_signal(&w->wake);
    while (!s->done)
        pthread_cond_wait(&w->done, &w->mu);
    pthread_mutex_unlock(&w->mu);
}

static enum rc submission_result(struct submission *s, struct api_error *err)
{
    if (!s->rc) return RC_OK;
    return api_fail(err, 500, "InternalFailure", "not written: %s", s->err.msg);
}

/* ---- PutEvents -------------------------------------------------------------- */

/*
 * Check one event and fill its row. 'where' is "eventList[i].". With t NULL,
 * only the checks that need no schema (and no row).
 */
static enum rc check_event(const struct target *t, const json_t *ev, const char *user_id,
                           const char *where, struct ev_row *row, struct api_error *err)
{
    const char *type, *item, *rec, *event_id;
    enum rc rc;
    if (!json_is_object(ev))
        return api_fail(err, 400, "InvalidInputException", "%s must be an object",
                        where[0] ? where : "event");
    if ((rc = get_string(ev, "eventType", where, true, 256, &type, err)) ||
        (rc = get_string(ev, "itemId", where, false, ID_MAX_LEN, &item, err)) ||
        (rc = get_string(ev, "recommendationId", where, false, 40, &rec, err)) ||
        (rc = get_string(ev, "eventId", where, false, 256, &event_id, err)))
        return rc;
    if (!item)
        return api_fail(err, 400, "InvalidInputException",
                        "%sitemId is required: savor records interactions with an item", where);
    const json_t *sent = json_object_get(ev, "sentAt");
    if (!sent) return api_fail(err, 400, "InvalidInputException", "%ssentAt is required", where);
    if (!json_is_number(sent) || !isfinite(json_number_value(sent)) ||
        json_number_value(sent) < 0 || json_number_value(sent) > 1e13)
        return api_fail(err, 400, "InvalidInputException",
                        "%ssentAt must be a time in epoch seconds", where);
    const json_t *val = json_object_get(ev, "eventValue");
    if (val && !json_is_null(val) &&
        (!json_is_number(val) || !isfinite(json_number_value(val)) ||
         fabs(json_number_value(val)) > 3.4028234e38))
        return api_fail(err, 400, "InvalidInputException", "%seventValue must be a number", where);
    const json_t *imp = json_object_get(ev, "impression");
    struct buf impression;
    buf_init(&impression, BUF_NO_CAP);
    if (imp && !json_is_null(imp)) {
        if (!json_is_array(imp) || json_array_size(imp) < 1 || json_array_size(imp) > 25)
            return api_fail(err, 400, "InvalidInputException",
                            "%simpression must be a list of 1 to 25 item IDs", where);
        size_t k;
        const json_t *x;
        json_array_foreach(imp, k, x)
        {
            size_t len = json_is_string(x) ? json_string_length(x) : 0;
            if (len < 1 || len > ID_MAX_LEN || strchr(json_string_value(x), '|') ||
                strlen(json_string_value(x)) != len) {
                buf_release(&impression);
                return api_fail(
                    err, 400, "InvalidInputException",
                    "%simpression[%zu] must be an item ID of 1 to %d characters without '|'", where,
                    k, ID_MAX_LEN);
            }
            buf_addf(&impression, "%s%s", k ? "|" : "", json_string_value(x));
        }
    }
    const char *source = NULL;
    const json_t *ma = json_object_get(ev, "metricAttribution");
    if (ma && !json_is_null(ma)) {
        char w2[96];
        snprintf(w2, sizeof(w2), "%smetricAttribution.", where);
        if (!json_is_object(ma))
            rc = api_fail(err, 400, "InvalidInputException", "%s must be an object", w2);
        else
            rc = get_string(ma, "eventAttributionSource", w2, true, 1024, &source, err);
        if (rc) {
            buf_release(&impression);
            return rc;
        }
    }
    json_t *props = NULL;
    if ((rc = get_properties(ev, where, PROPERTIES_MAX, &props, err)) || !t) {
        /* Without a target: the checks that need no schema, before the lookup. */
        json_decref(props);
        buf_release(&impression);
        return rc;
    }
    row->user_id = xstrdup(user_id);
    row->item_id = xstrdup(item);
    row->event_type = t->has_event_type ? xstrdup(type) : NULL;
    row->value =
        val && json_is_number(val) && t->has_event_value ? (float)json_number_value(val) : NAN;
    row->ts = (int64_t)floor(json_number_value(sent));
    row->extra = xcalloc(t->nextra ? t->nextra : 1, sizeof(char *));
    /* Properties: each must name a non-reserved field of the schema. */
    const char *key;
    json_t *pv;
    json_object_foreach(props, key, pv)
    {
        int f = property_field(t->schema, key);
        size_t slot = t->nextra;
        for (size_t k = 0; f >= 0 && k < t->nextra; k++)
            if (t->extra_field[k] == f) slot = k;
        const char *fname = f >= 0 ? t->schema->fields[f].name : "";
        if (slot == t->nextra || strcmp(fname, "IMPRESSION") == 0 ||
            strcmp(fname, "RECOMMENDATION_ID") == 0 ||
            strcmp(fname, "EVENT_ATTRIBUTION_SOURCE") == 0) {
            rc =
                api_fail(err, 400, "InvalidInputException",
                         f >= 0 ? "%sproperties: '%s' is set by its own event field, not a property"
                                : "%sproperties: '%s' is not a field of the dataset's schema",
                         where, key);
            break;
        }
        char w2[96];
        snprintf(w2, sizeof(w2), "%sproperties.", where);
        free(row->extra[slot]);
        row->extra[slot] = NULL;
        if ((rc = property_value(&t->schema->fields[f], pv, w2, &row->extra[slot], NULL, err)))
            break;
    }
    json_decref(props);
    for (size_t k = 0; !rc && k < t->nextra; k++) {
        const struct schema_field *f = &t->schema->fields[t->extra_field[k]];
        const char *v = NULL;
        if (strcmp(f->name, "IMPRESSION") == 0 && impression.len)
            v = impression.data;
        else if (strcmp(f->name, "RECOMMENDATION_ID") == 0)
            v = rec;
        else if (strcmp(f->name, "EVENT_ATTRIBUTION_SOURCE") == 0)
            v = source;
        if (v) row->extra[k] = xstrdup(v);
        if (!row->extra[k] && !f->nullable)
            rc = api_fail(err, 400, "InvalidInputException",
                          "%s%s is required by the dataset's schema (field %s is not nullable)",
                          where,
                          strcmp(f->name, "IMPRESSION") == 0          ? "impression"
                          : strcmp(f->name, "RECOMMENDATION_ID") == 0 ? "recommendationId"
                                                                      : "a property",
                          f->name);
    }
    buf_release(&impression);
    return rc;
}

enum rc api_put_events(struct api_ctx *ctx, const json_t *req, json_t **resp, struct api_error *err)
{
    const char *tracking, *user, *session;
    enum rc rc;
    if (!json_is_object(req))
        return api_fail(err, 400, "InvalidInputException", "the request must be a JSON object");
    if ((rc = get_string(req, "trackingId", "", true, 256, &tracking, err)) ||
        (rc = get_string(req, "sessionId", "", true, 256, &session, err)) ||
        (rc = get_string(req, "userId", "", false, ID_MAX_LEN, &user, err)))
        return rc;
    const json_t *list = get_list(req, "eventList", EVENTS_MAX, err);
    if (!list) return RC_INVALID_INPUT;
    size_t i;
    const json_t *ev;
    json_array_foreach(list, i, ev)
    {
        char where[48];
        snprintf(where, sizeof(where), "eventList[%zu].", i);
        if ((rc = check_event(NULL, ev, NULL, where, NULL, err))) return rc;
    }
    const struct target *t;
    if ((rc = target_get(ctx, tracking, true, &t, err))) return rc;
    struct submission s = {.t = t};
    s.ev = xcalloc(json_array_size(list), sizeof(*s.ev));
    json_array_foreach(list, i, ev)
    {
        char where[48];
        snprintf(where, sizeof(where), "eventList[%zu].", i);
        /* An anonymous user is known by the session, as in Personalize. */
        rc = check_event(t, ev, user ? user : session, where, &s.ev[i], err);
        s.n = i + 1;
        if (rc) break;
    }
    if (!rc) {
        submit_and_wait(ctx->events, &s);
        rc = submission_result(&s, err);
    }
    submission_free(&s);
    if (!rc) *resp = json_object();
    return rc;
}

/* ---- PutItems, PutUsers ----------------------------------------------------- */

static enum rc put_entities(struct api_ctx *ctx, const json_t *req, json_t **resp,
                            struct api_error *err, enum dataset_type want)
{
    bool items = want == DATASET_ITEMS;
    const char *list_name = items ? "items" : "users";
    const char *id_name = items ? "itemId" : "userId";
    const char *id_field = items ? "ITEM_ID" : "USER_ID";
    const char *arn;
    enum rc rc;
    if (!json_is_object(req))
        return api_fail(err, 400, "InvalidInputException", "the request must be a JSON object");
    if ((rc = get_string(req, "datasetArn", "", true, 256, &arn, err))) return rc;
    const json_t *list = get_list(req, list_name, 10, err);
    if (!list) return RC_INVALID_INPUT;
    const struct target *t;
    if ((rc = target_get(ctx, arn, false, &t, err))) return rc;
    if (t->type != want)
        return api_fail(err, 400, "InvalidInputException",
                        "dataset %s holds %s; %s writes to a %s dataset", arn,
                        dataset_type_name(t->type), items ? "PutItems" : "PutUsers",
                        dataset_type_name(want));
    struct submission s = {.t = t};
    s.ent = xcalloc(json_array_size(list), sizeof(*s.ent));
    size_t i;
    const json_t *x;
    json_array_foreach(list, i, x)
    {
        char where[48];
        snprintf(where, sizeof(where), "%s[%zu].", list_name, i);
        const char *id;
        json_t *props = NULL;
        if (!json_is_object(x)) {
            rc = api_fail(err, 400, "InvalidInputException", "%s[%zu] must be an object", list_name,
                          i);
            break;
        }
        if ((rc = get_string(x, id_name, where, true, ID_MAX_LEN, &id, err)) ||
            (rc = get_properties(x, where, items ? ITEM_PROPERTIES_MAX : USER_PROPERTIES_MAX,
                                 &props, err)))
            break;
        json_t *obj = json_object();
        int64_t created = -1;
        const char *key;
        json_t *pv;
        json_object_foreach(props, key, pv)
        {
            int f = property_field(t->schema, key);
            if (f < 0 || strcmp(t->schema->fields[f].name, id_field) == 0) {
                rc = api_fail(err, 400, "InvalidInputException",
                              f < 0 ? "%sproperties: '%s' is not a field of the dataset's schema"
                                    : "%sproperties: '%s' is the ID, given as %s",
                              where, key, id_name);
                break;
            }
            const struct schema_field *fd = &t->schema->fields[f];
            char w2[64], *text = NULL;
            json_t *typed = NULL;
            snprintf(w2, sizeof(w2), "%sproperties.", where);
            if ((rc = property_value(fd, pv, w2, &text, &typed, err))) break;
            if (typed && strcmp(fd->name, "CREATION_TIMESTAMP") == 0) {
                created = (int64_t)json_integer_value(typed);
                if (created < 0) {
                    json_decref(typed);
                    free(text);
                    rc = api_fail(err, 400, "InvalidInputException",
                                  "%sproperties.%s: negative timestamp", where, key);
                    break;
                }
            }
            if (typed) json_object_set_new(obj, fd->name, typed);
            free(text);
        }
        json_decref(props);
        for (size_t f = 0; !rc && f < t->schema->nfields; f++) {
            const struct schema_field *fd = &t->schema->fields[f];
            if (!fd->nullable && strcmp(fd->name, id_field) != 0 && !json_object_get(obj, fd->name))
                rc = api_fail(err, 400, "InvalidInputException",
                              "%sproperties: field %s is required by the dataset's schema", where,
                              fd->name);
        }
        if (!rc) {
            s.ent[i].id = xstrdup(id);
            s.ent[i].json = json_dumps(obj, JSON_COMPACT | JSON_PRESERVE_ORDER);
            s.ent[i].created = created;
        }
        json_decref(obj);
        s.n = i + 1;
        if (rc) break;
    }
    if (!rc) {
        submit_and_wait(ctx->events, &s);
        rc = submission_result(&s, err);
    }
    submission_free(&s);
    if (!rc) *resp = json_object();
    return rc;
}

enum rc api_put_items(struct api_ctx *ctx, const json_t *req, json_t **resp, struct api_error *err)
{
    return put_entities(ctx, req, resp, err, DATASET_ITEMS);
}

enum rc api_put_users(struct api_ctx *ctx, const json_t *req, json_t **resp, struct api_error *err)
{
    return put_entities(ctx, req, resp, err, DATASET_USERS);
}

/* ---- The writer thread ------------------------------------------------------ */

static void group_maps_drop(struct event_writer *w)
{
    /* Index loops: VEC_FOREACH on an empty vector would add 0 to NULL. */
    for (size_t i = 0; i < w->groups.n; i++)
        for (int k = 0; k < 3; k++)
            strmap_free(w->groups.v[i].maps[k]);
    w->groups.n = 0;
}

/*
 * The group's ID maps, current with the store (inside the transaction: an
 * import may have appended keys since the last commit; then reload).
 */
static enum rc group_maps_get(struct event_writer *w, int64_t group_id, struct group_maps **out,
                              struct err *e)
{
    struct group_maps *g = NULL;
    for (size_t i = 0; i < w->groups.n && !g; i++)
        if (w->groups.v[i].group_id == group_id) g = &w->groups.v[i];
    if (!g) {
        VEC_PUSH(&w->groups, ((struct group_maps){group_id, {NULL, NULL, NULL}, {0, 0, 0}, false}));
        g = &w->groups.v[w->groups.n - 1];
    }
    /* Once per batch: later submissions of the batch extend the same maps. */
    if (g->current) {
        *out = g;
        return RC_OK;
    }
    for (int k = 0; k < 3; k++) {
        uint32_t n;
        enum rc rc = store_idmap_count(w->store, group_id, (enum id_space)k, &n, e);
        if (rc) return rc;
        if (g->maps[k] && n == g->stored[k] && strmap_count(g->maps[k]) == n) continue;
        strmap_free(g->maps[k]);
        g->maps[k] = strmap_new();
        if ((rc = store_idmap_load(w->store, group_id, (enum id_space)k, g->maps[k], e))) {
            strmap_free(g->maps[k]);
            g->maps[k] = NULL;
            return rc;
        }
        g->stored[k] = strmap_count(g->maps[k]);
    }
    g->current = true;
    *out = g;
    return RC_OK;
}

/* One dataset's events of a batch, as a chunk; kept until the models have it. */
struct pending_chunk {
    const struct target *t;
    VEC(uint32_t) users;
    VEC(uint32_t) items;
    VEC(int64_t) ts;
    VEC(uint32_t) types;
    VEC(float) values;
    VEC(const char *) user_ids; /* borrowed from the submissions */
    struct buf *columns;        /* nextra streams */
    int64_t id;
};

static void pending_chunk_free(struct pending_chunk *c)
{
    VEC_FREE(&c->users);
    VEC_FREE(&c->items);
    VEC_FREE(&c->ts);
    VEC_FREE(&c->types);
    VEC_FREE(&c->values);
    VEC_FREE(&c->user_ids);
    for (size_t k = 0; c->columns && k < c->t->nextra; k++)
        buf_release(&c->columns[k]);
    free(c->columns);
}

static enum rc add_events(struct event_writer *w, const struct submission *s,
                          struct pending_chunk *c, struct err *e)
{
    struct group_maps *g;
    enum rc rc = group_maps_get(w, s->t->group_id, &g, e);
    if (rc) return rc;
    for (size_t i = 0; i < s->n; i++) {
        const struct ev_row *r = &s->ev[i];
        VEC_PUSH(&c->users, strmap_intern(g->maps[ID_USERS], r->user_id, strlen(r->user_id), NULL));
        VEC_PUSH(&c->items, strmap_intern(g->maps[ID_ITEMS], r->item_id, strlen(r->item_id), NULL));
        VEC_PUSH(&c->types, r->event_type ? strmap_intern(g->maps[ID_EVENT_TYPES], r->event_type,
                                                          strlen(r->event_type), NULL)
                                          : EVENT_TYPE_NONE);
        VEC_PUSH(&c->ts, r->ts);
        VEC_PUSH(&c->values, r->value);
        VEC_PUSH(&c->user_ids, r->user_id);
        for (size_t k = 0; k < s->t->nextra; k++)
            if ((rc =
                     extra_put(&c->columns[k], r->extra[k], r->extra[k] ? strlen(r->extra[k]) : 0)))
                return err_set(e, rc, "out of memory");
    }
    return RC_OK;
}

static enum rc add_entities(struct event_writer *w, const struct submission *s, struct err *e)
{
    struct group_maps *g;
    enum rc rc = group_maps_get(w, s->t->group_id, &g, e);
    if (rc) return rc;
    struct strmap *map = g->maps[s->t->type == DATASET_ITEMS ? ID_ITEMS : ID_USERS];
    for (size_t i = 0; i < s->n && !rc; i++) {
        const struct ent_row *r = &s->ent[i];
        uint32_t idx = strmap_intern(map, r->id, strlen(r->id), NULL);
        rc = store_entity_upsert(w->store, s->t->dataset_id, idx, ORIGIN_EVENTS, r->created,
                                 r->json, strlen(r->json), e);
    }
    return rc;
}

/* Write a batch inside one transaction; chunks[] gets one entry per dataset. */
static enum rc write_batch(struct event_writer *w, struct submission *list,
                           struct pending_chunk **chunks, size_t *nchunks, uint64_t *nev,
                           uint64_t *nent, struct err *e)
{
    enum rc rc = RC_OK;
    for (struct submission *s = list; s && !rc; s = s->next) {
        if (!s->ev) {
            rc = add_entities(w, s, e);
            *nent += s->n;
            continue;
        }
        struct pending_chunk *c = NULL;
        for (size_t i = 0; i < *nchunks && !c; i++)
            if ((*chunks)[i].t == s->t) c = &(*chunks)[i];
        if (!c) {
            *chunks = xreallocarray(*chunks, *nchunks + 1, sizeof(**chunks));
            c = &(*chunks)[(*nchunks)++];
            memset(c, 0, sizeof(*c));
            c->t = s->t;
            c->columns = xcalloc(s->t->nextra ? s->t->nextra : 1, sizeof(struct buf));
            for (size_t k = 0; k < s->t->nextra; k++)
                buf_init(&c->columns[k], BUF_NO_CAP);
        }
        rc = add_events(w, s, c, e);
        *nev += s->n;
    }
    for (size_t i = 0; i < *nchunks && !rc; i++) {
        struct pending_chunk *c = &(*chunks)[i];
        struct buf blob;
        buf_init(&blob, BUF_NO_CAP);
        for (size_t k = 0; k < c->t->nextra; k++)
            extra_add_column(&blob, &c->columns[k]);
        struct interaction_chunk ic = {.n = (uint32_t)c->users.n,
                                       .users = c->users.v,
                                       .items = c->items.v,
                                       .ts = c->ts.v,
                                       .event_types = c->types.v,
                                       .event_values = c->values.v,
                                       .extra_columns = c->t->extra_names,
                                       .extra = blob.data,
                                       .extra_len = blob.len};
        rc = store_interactions_append(w->store, c->t->dataset_id, ORIGIN_EVENTS, &ic, e);
        /* The write lock is ours: the newest chunk is the one just appended. */
        if (!rc) rc = store_interactions_last_id(w->store, c->t->dataset_id, &c->id, e);
        buf_release(&blob);
    }
    for (size_t i = 0; i < w->groups.n && !rc; i++) {
        struct group_maps *g = &w->groups.v[i];
        for (int k = 0; k < 3 && !rc; k++) {
            if (!g->maps[k] || strmap_count(g->maps[k]) == g->stored[k]) continue;
            rc = store_idmap_append(w->store, g->group_id, (enum id_space)k, g->maps[k],
                                    g->stored[k], e);
        }
    }
    return rc;
}

static void process(struct event_writer *w, struct submission *list)
{
    struct err e = ERR_INIT;
    struct pending_chunk *chunks = NULL;
    size_t nchunks = 0;
    uint64_t nev = 0, nent = 0;
    for (size_t i = 0; i < w->groups.n; i++)
        w->groups.v[i].current = false;
    enum rc rc = store_begin(w->store, &e);
    /*
     * A long import holds SQLite's write lock past the store's busy timeout
     * (10 s): keep the callers waiting rather than fail them, up to a minute.
     */
    for (int tries = 1; rc == RC_DB && strstr(e.msg, "locked") && tries < WRITER_LOCK_TRIES;
         tries++) {
        log_warn("events", "the store is locked by another writer; waiting (%d)", tries);
        rc = store_begin(w->store, &e);
    }
    if (!rc) rc = write_batch(w, list, &chunks, &nchunks, &nev, &nent, &e);
    if (!rc) rc = store_commit(w->store, &e);
    if (rc) {
        store_rollback(w->store);
        /* Keys interned in memory were not stored: read the maps again next time. */
        group_maps_drop(w);
        log_error("events", "a batch of %llu events and %llu rows was not written: %s",
                  (unsigned long long)nev, (unsigned long long)nent, e.msg);
    } else {
        for (size_t i = 0; i < w->groups.n; i++)
            for (int k = 0; k < 3; k++) {
                struct group_maps *g = &w->groups.v[i];
                if (g->maps[k]) g->stored[k] = strmap_count(g->maps[k]);
            }
        for (size_t i = 0; w->models && i < nchunks; i++) {
            struct pending_chunk *c = &chunks[i];
            struct interaction_chunk ic = {.id = c->id,
                                           .n = (uint32_t)c->users.n,
                                           .users = c->users.v,
                                           .items = c->items.v,
                                           .ts = c->ts.v,
                                           .event_types = c->types.v,
                                           .event_values = c->values.v};
            model_cache_add_events(w->models, c->t->dataset_id, &ic, c->user_ids.v);
        }
        /* New items become exploration candidates of the models of their group. */
        for (struct submission *s = list; w->models && s; s = s->next) {
            if (!s->ent || s->t->type != DATASET_ITEMS) continue;
            const char **ids = xcalloc(s->n, sizeof(*ids));
            int64_t *created = xcalloc(s->n, sizeof(*created));
            for (size_t k = 0; k < s->n; k++) {
                ids[k] = s->ent[k].id;
                created[k] = s->ent[k].created;
            }
            model_cache_add_items(w->models, s->t->group_id, ids, created, s->n);
            free(ids);
            free(created);
        }
        /* Filters on metadata see new items and users once compiled again. */
        if (w->models && nent) model_cache_metadata_changed(w->models);
    }
    for (size_t i = 0; i < nchunks; i++)
        pending_chunk_free(&chunks[i]);
    free(chunks);
    pthread_mutex_lock(&w->mu);
    for (struct submission *s = list; s; s = s->next) {
        s->rc = rc;
        if (rc) s->err = e;
        s->done = true;
    }
    if (rc) {
        w->stats.failures++;
    } else {
        w->stats.commits++;
        w->stats.events += nev;
        w->stats.entities += nent;
    }
    pthread_cond_broadcast(&w->done);
    pthread_mutex_unlock(&w->mu);
}

static void *writer_main(void *arg)
{
    struct event_writer *w = arg;
    pthread_mutex_lock(&w->mu);
    for (;;) {
        if (!w->head) {
            if (w->stop) break;
            struct timespec until;
            clock_gettime(CLOCK_REALTIME, &until);
            until.tv_sec += (time_t)WRITER_IDLE_SECONDS;
            int r = pthread_cond_timedwait(&w->wake, &w->mu, &until);
            if (r == ETIMEDOUT && !w->head && !w->stop && w->models) {
                /* Idle: fold in what imports appended, off the request path. */
                pthread_mutex_unlock(&w->mu);
                model_cache_catch_up(w->models, w->store);
                pthread_mutex_lock(&w->mu);
            }
            continue;
        }
        struct submission *list = w->head;
        w->head = w->tail = NULL;
        pthread_mutex_unlock(&w->mu);
        process(w, list);
        pthread_mutex_lock(&w->mu);
    }
    pthread_mutex_unlock(&w->mu);
    return NULL;
}

enum rc event_writer_start(const char *data_dir, struct model_cache *models,
                           struct event_writer **out, struct err *e)
{
    struct event_writer *w = xcalloc(1, sizeof(*w));
    enum rc rc = store_open(data_dir, &w->store, e);
    if (rc) {
        free(w);
        return rc;
    }
    w->models = models;
    pthread_mutex_init(&w->mu, NULL);
    pthread_mutex_init(&w->tmu, NULL);
    pthread_cond_init(&w->wake, NULL);
    pthread_cond_init(&w->done, NULL);
    if (pthread_create(&w->thread, NULL, writer_main, w) != 0) {
        store_close(w->store);
        free(w);
        return err_set(e, RC_INTERNAL, "events: cannot start the writer thread");
    }
    *out = w;
    return RC_OK;
}

void event_writer_stop(struct event_writer *w)
{
    if (!w) return;
    pthread_mutex_lock(&w->mu);
    w->stop = true;
    pthread_cond_signal(&w->wake);
    pthread_mutex_unlock(&w->mu);
    pthread_join(w->thread, NULL);
    group_maps_drop(w);
    VEC_FREE(&w->groups);
    for (size_t i = 0; i < w->targets.n; i++)
        target_free(w->targets.v[i]);
    VEC_FREE(&w->targets);
    for (size_t i = 0; i < w->refs.n; i++) {
        free(w->refs.v[i].key);
        free(w->refs.v[i].resource_arn);
    }
    VEC_FREE(&w->refs);
    store_close(w->store);
    pthread_mutex_destroy(&w->mu);
    pthread_mutex_destroy(&w->tmu);
    pthread_cond_destroy(&w->wake);
    pthread_cond_destroy(&w->done);
    free(w);
}

void event_writer_stats(struct event_writer *w, struct event_writer_stats *out)
{
    pthread_mutex_lock(&w->mu);
    *out = w->stats;
    pthread_mutex_unlock(&w->mu);
}
