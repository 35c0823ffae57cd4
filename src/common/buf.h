/*
 * buf.h: a growable byte buffer with a size cap.
 *
 * Invariants (after git's strbuf): 'data' is never NULL and is always
 * NUL-terminated, so it can be used as a C string. Every buffer has a cap
 * (curl's dynbuf 'toobig'): growing past it fails with RC_LIMIT_EXCEEDED
 * instead of exhausting memory on hostile input.
 */
#ifndef SAVOR_BUF_H
#define SAVOR_BUF_H

#include "common/base.h"

struct buf {
    char *data; /* never NULL; owned unless it points at buf__empty */
    size_t len;
    size_t alloc;
    size_t max; /* cap on len */
};

#define BUF_NO_CAP SIZE_MAX

/* Initialise an empty buffer that may grow to 'max' bytes. Does not allocate. */
void buf_init(struct buf *b, size_t max);
/* Free the contents and reset to empty (the struct itself is the caller's). */
void buf_release(struct buf *b);
/* Make room for 'extra' more bytes. */
enum rc buf_grow(struct buf *b, size_t extra);
enum rc buf_add(struct buf *b, const void *data, size_t n);
enum rc buf_addstr(struct buf *b, const char *s);
enum rc buf_addch(struct buf *b, char c);
enum rc buf_addf(struct buf *b, const char *fmt, ...) PRINTF_LIKE(2, 3);
void buf_reset(struct buf *b);
/* Hand the contents to the caller (who frees them) and reset to empty. */
char *buf_detach(struct buf *b, size_t *len);

#endif
