/*
 * base.h: what every savor source file includes first.
 *
 * It pulls in the C library headers nearly every module uses, the project-wide
 * result codes (enum rc) and the caller-owned error record (struct err) through
 * which every fallible function reports what went wrong and where.
 */
#ifndef SAVOR_BASE_H
#define SAVOR_BASE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/banned.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define UNUSED(x)     ((void)(x))
#define MIN(a, b)     ((a) < (b) ? (a) : (b))
#define MAX(a, b)     ((a) > (b) ? (a) : (b))

#if defined(__GNUC__)
#    define PRINTF_LIKE(f, a) __attribute__((format(printf, f, a)))
#    define NORETURN          __attribute__((noreturn))
#    define LIKELY(x)         __builtin_expect(!!(x), 1)
#    define UNLIKELY(x)       __builtin_expect(!!(x), 0)
#    define FALLTHROUGH       __attribute__((fallthrough))
#else
#    define FALLTHROUGH
#    define PRINTF_LIKE(f, a)
#    define NORETURN
#    define LIKELY(x)   (x)
#    define UNLIKELY(x) (x)
#endif

/* Result codes shared by every module. 0 is success, so `if (rc) return rc;` works. */
enum rc {
    RC_OK = 0,
    RC_NOMEM,
    RC_IO,
    RC_DB,
    RC_PARSE,
    RC_INVALID_INPUT,
    RC_NOT_FOUND,
    RC_ALREADY_EXISTS,
    RC_IN_USE,
    RC_LIMIT_EXCEEDED,
    RC_CANCELLED,
    RC_INTERNAL,
};

/* Short stable name of a result code, e.g. "invalid input". */
const char *rc_name(enum rc rc);

/*
 * A caller-owned error record. Functions that can fail take a `struct err *`
 * and fill it on failure only; the message says what was wrong and where
 * (file:line, field, parameter). Filling it never allocates.
 */
#define ERR_MSG_MAX 512
struct err {
    enum rc rc;
    char msg[ERR_MSG_MAX];
};

#define ERR_INIT \
    {            \
        RC_OK,   \
        {        \
            0    \
        }        \
    }

/* Record rc and a printf-style message in 'e' (which may be NULL); returns rc. */
enum rc err_set(struct err *e, enum rc rc, const char *fmt, ...) PRINTF_LIKE(3, 4);

/* Prefix the existing message in 'e' with a printf-style context; returns e->rc. */
enum rc err_prefix(struct err *e, const char *fmt, ...) PRINTF_LIKE(2, 3);

/* Reset 'e' to success. */
void err_clear(struct err *e);

/*
 * Allocation that cannot fail: on exhaustion the process exits with a message
 * (the redis zmalloc model). Sizes are checked for overflow.
 */
void *xmalloc(size_t n);
void *xcalloc(size_t count, size_t size);
void *xrealloc(void *p, size_t n);
void *xmallocarray(size_t count, size_t size);
void *xreallocarray(void *p, size_t count, size_t size);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
/* Like snprintf into a fresh allocation; caller frees. */
char *xasprintf(const char *fmt, ...) PRINTF_LIKE(1, 2);

/* Copy at most size-1 bytes of src into dst and NUL-terminate; returns strlen(src). */
size_t strlcpy_(char *dst, const char *src, size_t size);

#endif
