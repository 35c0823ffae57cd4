/*
 * base.c: result-code names, the error record and non-failing allocation.
 */
#include "common/base.h"

#include <stdarg.h>

const char *rc_name(enum rc rc)
{
    switch (rc) {
    case RC_OK:
        return "ok";
    case RC_NOMEM:
        return "out of memory";
    case RC_IO:
        return "I/O error";
    case RC_DB:
        return "database error";
    case RC_PARSE:
        return "parse error";
    case RC_INVALID_INPUT:
        return "invalid input";
    case RC_NOT_FOUND:
        return "not found";
    case RC_ALREADY_EXISTS:
        return "already exists";
    case RC_IN_USE:
        return "in use";
    case RC_LIMIT_EXCEEDED:
        return "limit exceeded";
    case RC_CANCELLED:
        return "cancelled";
    case RC_INTERNAL:
        return "internal error";
    }
    return "unknown error";
}

enum rc err_set(struct err *e, enum rc rc, const char *fmt, ...)
{
    if (!e) return rc;
    va_list ap;
    va_start(ap, fmt);
    e->rc = rc;
    vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
    va_end(ap);
    return rc;
}

enum rc err_prefix(struct err *e, const char *fmt, ...)
{
    if (!e) return RC_INTERNAL;
    char old[ERR_MSG_MAX];
    memcpy(old, e->msg, sizeof(old));
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
    va_end(ap);
    if (n >= 0 && (size_t)n < sizeof(e->msg)) strlcpy_(e->msg + n, old, sizeof(e->msg) - (size_t)n);
    return e->rc;
}

void err_clear(struct err *e)
{
    if (!e) return;
    e->rc = RC_OK;
    e->msg[0] = '\0';
}

NORETURN static void out_of_memory(size_t n)
{
    fprintf(stderr, "savor: out of memory allocating %zu bytes\n", n);
    abort();
}

void *xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p) out_of_memory(n);
    return p;
}

void *xcalloc(size_t count, size_t size)
{
    void *p = calloc(count ? count : 1, size ? size : 1);
    if (!p) out_of_memory(count * size);
    return p;
}

void *xrealloc(void *p, size_t n)
{
    void *q = realloc(p, n ? n : 1);
    if (!q) out_of_memory(n);
    return q;
}

void *xmallocarray(size_t count, size_t size)
{
    if (size && count > SIZE_MAX / size) out_of_memory(SIZE_MAX);
    return xmalloc(count * size);
}

void *xreallocarray(void *p, size_t count, size_t size)
{
    if (size && count > SIZE_MAX / size) out_of_memory(SIZE_MAX);
    return xrealloc(p, count * size);
}

char *xstrdup(const char *s)
{
    return xstrndup(s, strlen(s));
}

char *xstrndup(const char *s, size_t n)
{
    char *p = xmalloc(n + 1);
    memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

char *xasprintf(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0) out_of_memory(0);
    char *p = xmalloc((size_t)n + 1);
    va_start(ap, fmt);
    vsnprintf(p, (size_t)n + 1, fmt, ap);
    va_end(ap);
    return p;
}

size_t strlcpy_(char *dst, const char *src, size_t size)
{
    size_t n = strlen(src);
    if (size) {
        size_t k = n < size - 1 ? n : size - 1;
        memcpy(dst, src, k);
        dst[k] = '\0';
    }
    return n;
}
