/*
 * control.c: helpers shared by the control-plane handlers (control_int.h).
 */
#include "common/base.h"
#include "api/control_int.h"
#include "api/validate.h"
#include "models/params.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <sys/random.h>
#include <unistd.h>

/* ---- Errors ---------------------------------------------------------------- */

static enum rc vfail(struct api_error *err, const char *type, enum rc rc, const char *fmt,
                     va_list ap)
{
    err->status = 400;
    err->type = type;
    vsnprintf(err->message, sizeof(err->message), fmt, ap);
    return rc;
}

#define DEFINE_FAIL(fn, type, code)                         \
    enum rc fn(struct api_error *err, const char *fmt, ...) \
    {                                                       \
        va_list ap;                                         \
        va_start(ap, fmt);                                  \
        enum rc r = vfail(err, type, code, fmt, ap);        \
        va_end(ap);                                         \
        return r;                                           \
    }

DEFINE_FAIL(ctl_invalid, "InvalidInputException", RC_INVALID_INPUT)
DEFINE_FAIL(ctl_not_found, "ResourceNotFoundException", RC_NOT_FOUND)
DEFINE_FAIL(ctl_exists, "ResourceAlreadyExistsException", RC_ALREADY_EXISTS)
DEFINE_FAIL(ctl_in_use, "ResourceInUseException", RC_IN_USE)
DEFINE_FAIL(ctl_limit, "LimitExceededException", RC_LIMIT_EXCEEDED)

enum rc ctl_from_err(struct api_error *err, const struct err *e)
{
    switch (e->rc) {
    case RC_OK:
    case RC_INVALID_INPUT:
    case RC_PARSE:
        return ctl_invalid(err, "%s", e->msg);
    case RC_NOT_FOUND:
        return ctl_not_found(err, "%s", e->msg);
    case RC_ALREADY_EXISTS:
        return ctl_exists(err, "%s", e->msg);
    case RC_IN_USE:
        return ctl_in_use(err, "%s", e->msg);
    case RC_LIMIT_EXCEEDED:
        return ctl_limit(err, "%s", e->msg);
    default:
        err->status = 500;
        err->type = "InternalFailure";
        snprintf(err->message, sizeof(err->message), "%s", e->msg);
        return e->rc ? e->rc : RC_INTERNAL;
    }
}

enum rc ctl_validate(const char *op, const json_t *req, struct api_error *err)
{
    struct err e = ERR_INIT;
    enum rc rc = api_validate(op, req, &e);
    if (rc == RC_NOT_FOUND) return RC_OK; /* not in this botocore's model: the handler checks */
    return rc ? ctl_invalid(err, "%s", e.msg) : RC_OK;
}

/* ---- Requests and resources -------------------------------------------------- */

const char *ctl_str(const json_t *req, const char *key)
{
    return json_string_value(json_object_get(req, key));
}

void ctl_lock(struct api_ctx *ctx)
{
    pthread_mutex_lock(&ctx->store_mu);
}

void ctl_unlock(struct api_ctx *ctx)
{
    pthread_mutex_unlock(&ctx->store_mu);
}

enum rc ctl_get(struct api_ctx *ctx, const char *arn, const char *kind, const char *what,
                struct resource *out, struct api_error *err)
{
    struct err e = ERR_INIT;
    memset(out, 0, sizeof(*out));
    enum rc rc = store_resource_get(ctx->store, arn, out, &e);
    if (rc == RC_NOT_FOUND || (!rc && strcmp(out->kind, kind) != 0)) {
        resource_release(out);
        memset(out, 0, sizeof(*out));
        return ctl_not_found(err, "The %s %s does not exist", what, arn);
    }
    if (rc) return ctl_from_err(err, &e);
    return RC_OK;
}

json_t *ctl_attrs(const struct resource *r)
{
    json_t *a = r->attrs ? json_loads(r->attrs, 0, NULL) : NULL;
    if (!json_is_object(a)) {
        json_decref(a);
        a = json_object();
    }
    return a;
}

void ctl_set_attrs(struct resource *r, json_t *a)
{
    char *t = json_dumps(a, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(a);
    free(r->attrs);
    r->attrs = xstrdup(t ? t : "{}");
    free(t);
}

void ctl_resource_init(struct resource *r, char *arn, const char *kind, const char *name,
                       int64_t parent_id, const char *status, json_t *attrs)
{
    memset(r, 0, sizeof(*r));
    r->arn = arn;
    r->kind = xstrdup(kind);
    r->name = xstrdup(name);
    r->parent_id = parent_id;
    r->status = xstrdup(status);
    ctl_set_attrs(r, attrs);
}

static enum rc in_tx(struct api_ctx *ctx, struct api_error *err,
                     enum rc (*fn)(struct store *, void *, struct err *), void *arg)
{
    struct err e = ERR_INIT;
    enum rc rc = store_begin(ctx->store, &e);
    if (!rc) rc = fn(ctx->store, arg, &e);
    if (!rc) rc = store_commit(ctx->store, &e);
    if (rc) {
        store_rollback(ctx->store);
        return e.rc == RC_ALREADY_EXISTS ? rc : ctl_from_err(err, &e);
    }
    return RC_OK;
}

static enum rc do_insert(struct store *s, void *r, struct err *e)
{
    return store_resource_insert(s, r, e);
}

static enum rc do_update(struct store *s, void *r, struct err *e)
{
    return store_resource_update(s, r, e);
}

static enum rc do_delete(struct store *s, void *r, struct err *e)
{
    return store_resource_delete(s, ((const struct resource *)r)->id, e);
}

enum rc ctl_insert(struct api_ctx *ctx, struct resource *r, const char *what, struct api_error *err)
{
    enum rc rc = in_tx(ctx, err, do_insert, r);
    if (rc == RC_ALREADY_EXISTS) return ctl_exists(err, "The %s %s already exists", what, r->arn);
    return rc;
}

enum rc ctl_update(struct api_ctx *ctx, struct resource *r, struct api_error *err)
{
    return in_tx(ctx, err, do_update, r);
}

enum rc ctl_delete(struct api_ctx *ctx, const struct resource *r, struct api_error *err)
{
    return in_tx(ctx, err, do_delete, (void *)r);
}

enum rc ctl_list(struct api_ctx *ctx, const char *kind, int64_t parent_id, struct resource **out,
                 size_t *n, struct api_error *err)
{
    struct err e = ERR_INIT;
    enum rc rc = store_resource_list(ctx->store, kind, parent_id, out, n, &e);
    return rc ? ctl_from_err(err, &e) : RC_OK;
}

bool ctl_any_with(struct api_ctx *ctx, const char *kind, const char *key, const char *value)
{
    struct resource *list;
    size_t n;
    struct err e = ERR_INIT;
    if (store_resource_list(ctx->store, kind, 0, &list, &n, &e)) return false;
    bool found = false;
    for (size_t i = 0; i < n && !found; i++) {
        json_t *a = ctl_attrs(&list[i]);
        const char *v = json_string_value(json_object_get(a, key));
        found = v && strcmp(v, value) == 0;
        json_decref(a);
    }
    resource_list_free(list, n);
    return found;
}

/* Page the resources of 'kind' under 'parent_arn' (NULL: all) as summaries. */
enum rc ctl_list_page(struct api_ctx *ctx, const json_t *req, const char *kind,
                      const char *parent_arn, const char *parent_kind, const char *parent_what,
                      json_t *(*summary)(const struct resource *), const char *list_key,
                      json_t **resp, struct api_error *err)
{
    int64_t parent_id = 0;
    ctl_lock(ctx);
    if (parent_arn) {
        struct resource p;
        enum rc rc = ctl_get(ctx, parent_arn, parent_kind, parent_what, &p, err);
        if (rc) {
            ctl_unlock(ctx);
            return rc;
        }
        parent_id = p.id;
        resource_release(&p);
    }
    struct resource *list;
    size_t n;
    enum rc rc = ctl_list(ctx, kind, parent_id, &list, &n, err);
    ctl_unlock(ctx);
    if (rc) return rc;
    json_t *all = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(all, summary(&list[i]));
    resource_list_free(list, n);
    json_t *o = json_object();
    rc = ctl_page(req, all, list_key, o, err);
    if (rc) {
        json_decref(o);
        return rc;
    }
    *resp = o;
    return RC_OK;
}

bool ctl_unfinished(const struct resource *r)
{
    return strcmp(r->status, STATUS_CREATE_PENDING) == 0 ||
           strcmp(r->status, STATUS_CREATE_IN_PROGRESS) == 0;
}

/* ---- JSON -------------------------------------------------------------------- */

json_t *ctl_time(double t)
{
    /* Millisecond precision, as botocore prints them. */
    return json_real((double)(long long)(t * 1000.0) / 1000.0);
}

void ctl_common_fields(json_t *o, const struct resource *r, const char *arn_key)
{
    json_object_set_new(o, "name", json_string(r->name));
    json_object_set_new(o, arn_key, json_string(r->arn));
    json_object_set_new(o, "status", json_string(r->status));
    if (r->failure_reason) json_object_set_new(o, "failureReason", json_string(r->failure_reason));
    json_object_set_new(o, "creationDateTime", ctl_time(r->created));
    json_object_set_new(o, "lastUpdatedDateTime", ctl_time(r->updated));
}

/* ---- Pagination ---------------------------------------------------------------- */

/* Tokens are opaque to callers: "sv1." and the offset, obfuscated so no one builds them. */
#define TOKEN_KEY 0x5aa5c3d2e1f00f1eULL

enum rc ctl_page(const json_t *req, json_t *all, const char *list_key, json_t *resp,
                 struct api_error *err)
{
    size_t offset = 0, max = CTL_DEFAULT_PAGE;
    const char *token = ctl_str(req, "nextToken");
    json_t *mr = json_object_get(req, "maxResults");
    if (json_is_integer(mr)) max = (size_t)json_integer_value(mr);
    if (token) {
        unsigned long long x;
        char tail;
        if (strncmp(token, "sv1.", 4) != 0 || sscanf(token + 4, "%16llx%c", &x, &tail) != 1 ||
            strlen(token) != 20) {
            json_decref(all);
            err->status = 400;
            err->type = "InvalidNextTokenException";
            snprintf(err->message, sizeof(err->message),
                     "nextToken '%.40s' is not a token this server issued", token);
            return RC_INVALID_INPUT;
        }
        offset = (size_t)(x ^ TOKEN_KEY);
        if (offset > json_array_size(all)) offset = json_array_size(all);
    }
    json_t *page = json_array();
    size_t end = MIN(json_array_size(all), offset + max);
    for (size_t i = offset; i < end; i++)
        json_array_append(page, json_array_get(all, i));
    json_object_set_new(resp, list_key, page);
    if (end < json_array_size(all)) {
        char t[32];
        snprintf(t, sizeof(t), "sv1.%016llx", (unsigned long long)end ^ TOKEN_KEY);
        json_object_set_new(resp, "nextToken", json_string(t));
    }
    json_decref(all);
    return RC_OK;
}

/* ---- Tags ---------------------------------------------------------------------- */

enum rc ctl_tags_from_request(const json_t *req, json_t **out, struct api_error *err)
{
    json_t *tags = json_object();
    json_t *list = json_object_get(req, "tags");
    size_t i;
    json_t *t;
    json_array_foreach(list, i, t)
    {
        json_object_set(tags, ctl_str(t, "tagKey"), json_object_get(t, "tagValue"));
    }
    if (json_object_size(tags) > CTL_MAX_TAGS) {
        json_decref(tags);
        err->status = 400;
        err->type = "TooManyTagsException";
        snprintf(err->message, sizeof(err->message),
                 "a resource can have at most %d tags; the request has %zu", CTL_MAX_TAGS,
                 json_array_size(list));
        return RC_LIMIT_EXCEEDED;
    }
    *out = tags;
    return RC_OK;
}

/* ---- Paths --------------------------------------------------------------------- */

static bool under(const char *path, const char *dir)
{
    size_t n = strlen(dir);
    while (n > 1 && dir[n - 1] == '/')
        n--;
    if (n == 1 && dir[0] == '/') return true;
    return strncmp(path, dir, n) == 0 && (path[n] == '/' || path[n] == '\0');
}

enum rc ctl_confine_path(struct api_ctx *ctx, const char *location, bool must_exist,
                         const char *field, char **out, struct api_error *err)
{
    const char *p = location;
    if (strncmp(p, "file://", 7) == 0) {
        p += 7;
        if (*p != '/')
            return ctl_invalid(err,
                               "%s '%s': a file:// URI needs an absolute path (file:///dir/file)",
                               field, location);
    } else if (strstr(p, "://")) {
        return ctl_invalid(err,
                           "%s '%s': savor reads local paths and file:// URIs only (no S3 or HTTP)",
                           field, location);
    }
    if (!*p) return ctl_invalid(err, "%s is empty", field);
    char *real = NULL;
    if (must_exist) {
        real = realpath(p, NULL);
        if (!real) return ctl_invalid(err, "%s '%s': %s", field, location, strerror(errno));
    } else {
        /* An output: its directory must exist; the file may not yet. */
        char *copy = xstrdup(p);
        char *slash = strrchr(copy, '/');
        const char *base = slash ? slash + 1 : copy;
        char *dir = slash ? (slash == copy ? xstrdup("/") : xstrndup(copy, (size_t)(slash - copy)))
                          : xstrdup(".");
        if (!*base || strcmp(base, ".") == 0 || strcmp(base, "..") == 0) {
            free(copy);
            free(dir);
            return ctl_invalid(err, "%s '%s' must name a file", field, location);
        }
        char *rdir = realpath(dir, NULL);
        if (!rdir) {
            enum rc rc = ctl_invalid(err, "%s '%s': directory %s: %s", field, location, dir,
                                     strerror(errno));
            free(copy);
            free(dir);
            return rc;
        }
        real = xasprintf("%s%s%s", rdir, strcmp(rdir, "/") ? "/" : "", base);
        free(rdir);
        free(copy);
        free(dir);
        /* An existing symbolic link at the output would write through it: resolve it too. */
        char *again = realpath(real, NULL);
        if (again) {
            free(real);
            real = again;
        }
    }
    for (size_t i = 0; i < ctx->nallowed; i++) {
        char *allowed = realpath(ctx->allowed_paths[i], NULL);
        bool ok = allowed && under(real, allowed);
        free(allowed);
        if (ok) {
            *out = real;
            return RC_OK;
        }
    }
    free(real);
    return ctl_invalid(
        err,
        "%s '%s' is outside the directories this server may read and write (savor serve --allow-path DIR adds one)",
        field, location);
}

/* ---- Ids ----------------------------------------------------------------------- */

static void random_bytes(unsigned char *b, size_t n)
{
    size_t got = 0;
    while (got < n) {
        ssize_t r = getrandom(b + got, n - got, 0);
        if (r < 0) {
            if (errno == EINTR) continue;
            /* No entropy source: fall back to the clock (ids only need to be unique). */
            for (; got < n; got++)
                b[got] = (unsigned char)(rand() ^ (int)got);
            return;
        }
        got += (size_t)r;
    }
}

void ctl_random_hex(char *out, size_t ndigits)
{
    unsigned char b[32];
    size_t nb = (ndigits + 1) / 2;
    if (nb > sizeof(b)) nb = sizeof(b);
    random_bytes(b, nb);
    for (size_t i = 0; i < ndigits && i / 2 < nb; i++)
        out[i] = "0123456789abcdef"[(b[i / 2] >> (i % 2 ? 0 : 4)) & 0xF];
    out[ndigits] = '\0';
}

void ctl_uuid(char out[37])
{
    unsigned char b[16];
    random_bytes(b, sizeof(b));
    b[6] = (unsigned char)((b[6] & 0x0F) | 0x40);
    b[8] = (unsigned char)((b[8] & 0x3F) | 0x80);
    snprintf(out, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0],
             b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13],
             b[14], b[15]);
}

/* ---- Solutions ----------------------------------------------------------------- */

enum rc ctl_solution_kv(const json_t *sa, struct param_kv **out, size_t *n, struct err *e)
{
    const json_t *cfg = json_object_get(sa, "solutionConfig");
    const json_t *hp = json_object_get(cfg, "algorithmHyperParameters");
    size_t cap = json_object_size(hp) + 2, k = 0;
    struct param_kv *kv = xcalloc(cap, sizeof(*kv));
    const char *key;
    json_t *v;
    json_object_foreach((json_t *)hp, key, v)
    {
        if (!json_is_string(v)) {
            free(kv);
            return err_set(e, RC_INVALID_INPUT,
                           "solutionConfig.algorithmHyperParameters.%s: expected a string", key);
        }
        kv[k].key = key;
        kv[k++].value = json_string_value(v);
    }
    const char *evt = json_string_value(json_object_get(cfg, "eventValueThreshold"));
    if (evt) {
        kv[k].key = "eventValueThreshold";
        kv[k++].value = evt;
    }
    const char *type = json_string_value(json_object_get(sa, "eventType"));
    if (type) {
        kv[k].key = "eventType";
        kv[k++].value = type;
    }
    *out = kv;
    *n = k;
    return RC_OK;
}
