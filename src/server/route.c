/*
 * route.c: method, path and X-Amz-Target to an operation; body to JSON.
 */
#include "common/base.h"
#include "server/route.h"
#include "common/utf8.h"


/* The restJson1 operations, by path. */
static const struct {
    const char *path;
    const char *op;
    enum api_plane plane;
} rest_routes[] = {
    {"/recommendations", "GetRecommendations", API_RUNTIME},
    {"/personalize-ranking", "GetPersonalizedRanking", API_RUNTIME},
    {"/events", "PutEvents", API_EVENTS},
    {"/items", "PutItems", API_EVENTS},
    {"/users", "PutUsers", API_EVENTS},
};

/* Copy at most 'max' printable ASCII characters of untrusted 's' for a message. */
static void excerpt(const char *s, char *dst, size_t max)
{
    size_t n = 0;
    for (; *s && n + 4 < max; s++)
        dst[n++] = (*s >= 0x20 && *s < 0x7f) ? *s : '?';
    if (*s) {
        memcpy(dst + n, "...", 3);
        n += 3;
    }
    dst[n] = '\0';
}

enum rc route_find(const char *method, const char *path, const char *target, struct route *out,
                   struct api_error *err)
{
    memset(out, 0, sizeof(*out));
    out->name = "unknown";
    out->plane = API_RUNTIME;
    bool get = strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0;
    bool post = strcmp(method, "POST") == 0;
    char shown[96];

    if (strcmp(path, "/healthz") == 0 || strcmp(path, "/metrics") == 0) {
        bool health = path[1] == 'h';
        out->kind = health ? ROUTE_HEALTHZ : ROUTE_METRICS;
        out->name = health ? "healthz" : "metrics";
        if (!get) return api_fail(err, 405, "UnknownOperationException", "%s takes GET", path);
        return RC_OK;
    }

    if (strcmp(path, "/") == 0) {
        out->plane = API_CONTROL;
        if (!post)
            return api_fail(err, 405, "UnknownOperationException",
                            "the control plane takes POST / with X-Amz-Target");
        if (!target || !*target)
            return api_fail(err, 400, "UnknownOperationException",
                            "missing X-Amz-Target header (expected " ROUTE_TARGET_PREFIX
                            "<Operation>)");
        size_t plen = strlen(ROUTE_TARGET_PREFIX);
        excerpt(target, shown, sizeof(shown));
        if (strncmp(target, ROUTE_TARGET_PREFIX, plen) != 0)
            return api_fail(err, 400, "UnknownOperationException",
                            "X-Amz-Target '%s' is not an Amazon Personalize operation", shown);
        const struct api_op *op = api_find(target + plen);
        if (!op || op->plane != API_CONTROL)
            return api_fail(err, 400, "UnknownOperationException",
                            "unknown operation '%s' in X-Amz-Target", shown);
        out->kind = ROUTE_OPERATION;
        out->op = op;
        out->name = op->name;
        return RC_OK;
    }

    for (size_t i = 0; i < ARRAY_SIZE(rest_routes); i++) {
        if (strcmp(path, rest_routes[i].path) != 0) continue;
        out->plane = rest_routes[i].plane;
        if (!post) return api_fail(err, 405, "UnknownOperationException", "%s takes POST", path);
        const struct api_op *op = api_find(rest_routes[i].op);
        if (!op || op->plane != rest_routes[i].plane)
            return api_fail(err, 404, "UnknownOperationException",
                            "%s is not implemented by this server", rest_routes[i].op);
        out->kind = ROUTE_OPERATION;
        out->op = op;
        out->name = op->name;
        return RC_OK;
    }
    char verb[16];
    excerpt(method, verb, sizeof(verb));
    excerpt(path, shown, sizeof(shown));
    return api_fail(err, 404, "UnknownOperationException", "no operation at %s %s", verb, shown);
}

enum rc route_parse_body(const char *body, size_t len, json_t **out, struct api_error *err)
{
    if (len == 0) {
        *out = json_object();
        return RC_OK;
    }
    json_error_t je;
    json_t *j = json_loadb(body, len, JSON_REJECT_DUPLICATES, &je);
    if (!j)
        return api_fail(err, 400, "SerializationException",
                        "request body is not valid JSON (line %d, column %d): %s", je.line,
                        je.column, je.text);
    if (!json_is_object(j)) {
        json_decref(j);
        return api_fail(err, 400, "SerializationException",
                        "request body must be a JSON object, not an array or a scalar");
    }
    *out = j;
    return RC_OK;
}

const char *route_content_type(enum api_plane plane)
{
    return plane == API_CONTROL ? "application/x-amz-json-1.1" : "application/json";
}

void route_internal_error(struct api_error *err, const char *what)
{
    api_fail(err, 500, "InternalFailure", "internal error: %s", what);
}

char *route_error_json(const struct api_error *err, size_t *len)
{
    char msg[sizeof(err->message)];
    size_t n = strnlen(err->message, sizeof(err->message) - 1);
    memcpy(msg, err->message, n);
    msg[n] = '\0';
    for (size_t at; (at = utf8_invalid_at(msg, n)) < n;)
        msg[at] = '?';
    json_t *j = json_pack("{s:s, s:s}", "__type", err->type ? err->type : "InternalFailure",
                          "message", msg);
    char *text = j ? json_dumps(j, JSON_COMPACT) : NULL;
    json_decref(j);
    if (!text) text = xstrdup("{\"__type\":\"InternalFailure\",\"message\":\"out of memory\"}");
    *len = strlen(text);
    return text;
}
