/*
 * auth_hook.c: the server's view of a request turned into a sigv4_input.
 *
 * The view offers single-header lookups, so the input carries the headers
 * verification reads: Authorization, X-Amz-Date, X-Amz-Security-Token,
 * X-Amz-Content-Sha256 and every header the Authorization header says is
 * signed. A signed header sent twice is seen once (its first value), so
 * such a request fails verification: it is refused, never wrongly accepted.
 */
#include "common/base.h"

#include "server/auth_hook.h"

#include <strings.h>
#include <time.h>

#define HOOK_MAX_HEADERS 64

static void add(const struct server_request_view *req, struct sigv4_header *h, size_t *n,
                const char *name)
{
    if (*n == HOOK_MAX_HEADERS) return;
    for (size_t i = 0; i < *n; i++)
        if (strcasecmp(h[i].name, name) == 0) return;
    const char *v = req->get_header(req, name);
    if (v) h[(*n)++] = (struct sigv4_header){name, v};
}

enum rc auth_hook(void *keys, const struct server_request_view *req, struct api_error *err)
{
    struct sigv4_header h[HOOK_MAX_HEADERS];
    size_t n = 0;
    static const char *const always[] = {"authorization", "x-amz-date", "x-amz-security-token",
                                         "x-amz-content-sha256"};
    for (size_t i = 0; i < ARRAY_SIZE(always); i++)
        add(req, h, &n, always[i]);

    /* The signed header names, copied out of the Authorization value as NUL-terminated names. */
    char names[1024];
    const char *authz = req->get_header(req, "authorization");
    struct sigv4_auth a;
    struct err e = ERR_INIT;
    if (authz && sigv4_parse_authorization(authz, &a, &e) == RC_OK &&
        a.signed_headers.n < sizeof(names)) {
        memcpy(names, a.signed_headers.p, a.signed_headers.n);
        names[a.signed_headers.n] = '\0';
        for (char *p = names; p && *p;) {
            char *semi = strchr(p, ';');
            if (semi) *semi = '\0';
            add(req, h, &n, p);
            p = semi ? semi + 1 : NULL;
        }
    }

    struct sigv4_input in = {
        .method = req->method,
        .path = req->path,
        .query = req->query,
        .headers = h,
        .nheaders = n,
        .body = req->body,
        .body_len = req->body_len,
        .now = time(NULL),
    };
    struct auth_failure f;
    if (auth_verify(keys, &in, &f) == RC_OK) return RC_OK;
    err->status = f.status;
    err->type = f.type;
    snprintf(err->message, sizeof(err->message), "%s", f.message);
    return RC_INVALID_INPUT;
}
