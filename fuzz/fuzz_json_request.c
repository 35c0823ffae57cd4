/*
 * fuzz_json_request.c: the server's request front (server/route.h): routing
 * by method, path and X-Amz-Target, then the body as JSON, then (control
 * plane) the field validation every handler starts with (api/validate.h),
 * then the error body built from whatever message came out.
 *
 * Input: "METHOD PATH TARGET\n" then the body (TARGET may be empty).
 */
#include "common/base.h"
#include "api/validate.h"
#include "server/route.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *nl = memchr(data, '\n', size);
    size_t head_len = nl ? (size_t)(nl - (const char *)data) : size;
    char *head = xstrndup((const char *)data, head_len);
    const char *body = nl ? nl + 1 : "";
    size_t body_len = nl ? size - head_len - 1 : 0;

    char *method = head, *path = strchr(head, ' '), *target = NULL;
    if (path) {
        *path++ = '\0';
        target = strchr(path, ' ');
        if (target) *target++ = '\0';
    } else {
        path = (char *)"/";
    }
    struct route r;
    struct api_error err = {0};
    if (route_find(method, path, target, &r, &err) == RC_OK) {
        json_t *j = NULL;
        if (route_parse_body(body, body_len, &j, &err) == RC_OK) {
            if (!json_is_object(j)) __builtin_trap();
            struct err e = ERR_INIT;
            if (r.plane == API_CONTROL && api_validate(r.name, j, &e) == RC_INVALID_INPUT &&
                !e.msg[0])
                __builtin_trap(); /* a refusal must say what was wrong */
            json_decref(j);
            free(head);
            return 0;
        }
    }
    if (!err.type || err.status < 400) __builtin_trap();
    size_t len;
    char *text = route_error_json(&err, &len);
    json_error_t je;
    json_t *back = json_loadb(text, len, 0, &je);
    if (!back) __builtin_trap(); /* every error body must itself be valid JSON */
    json_decref(back);
    free(text);
    free(head);
    return 0;
}
