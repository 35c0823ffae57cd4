/*
 * buf.c: growable, capped, always-terminated byte buffer.
 */
#include "common/buf.h"

#include <stdarg.h>

static char buf__empty[1];

void buf_init(struct buf *b, size_t max)
{
    b->data = buf__empty;
    b->len = 0;
    b->alloc = 0;
    b->max = max;
}

void buf_release(struct buf *b)
{
    if (b->alloc) free(b->data);
    buf_init(b, b->max);
}

enum rc buf_grow(struct buf *b, size_t extra)
{
    /* The second test keeps len + extra + 1 from wrapping when there is no cap. */
    if (extra > b->max - b->len || extra >= SIZE_MAX - b->len) return RC_LIMIT_EXCEEDED;
    size_t need = b->len + extra + 1;
    if (need <= b->alloc) return RC_OK;
    size_t want = b->alloc ? b->alloc : 64;
    while (want < need)
        want = want > SIZE_MAX / 2 ? need : want * 2;
    if (b->alloc) {
        b->data = xrealloc(b->data, want);
    } else {
        b->data = xmalloc(want);
        b->data[0] = '\0';
    }
    b->alloc = want;
    return RC_OK;
}

enum rc buf_add(struct buf *b, const void *data, size_t n)
{
    enum rc rc = buf_grow(b, n);
    if (rc) return rc;
    if (n) memcpy(b->data + b->len, data, n);
    b->len += n;
    b->data[b->len] = '\0';
    return RC_OK;
}

enum rc buf_addstr(struct buf *b, const char *s)
{
    return buf_add(b, s, strlen(s));
}

enum rc buf_addch(struct buf *b, char c)
{
    return buf_add(b, &c, 1);
}

enum rc buf_addf(struct buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0) return RC_INTERNAL;
    enum rc rc = buf_grow(b, (size_t)n);
    if (rc) return rc;
    va_start(ap, fmt);
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
    return RC_OK;
}

void buf_reset(struct buf *b)
{
    b->len = 0;
    b->data[0] = '\0';
}

char *buf_detach(struct buf *b, size_t *len)
{
    char *p;
    if (len) *len = b->len;
    if (b->alloc) {
        p = b->data;
    } else {
        p = xmalloc(1);
        p[0] = '\0';
    }
    buf_init(b, b->max);
    return p;
}
