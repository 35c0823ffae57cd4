/*
 * test_common.c: unit tests for src/common (strmap, utf8, buf, err).
 */
#include "common/base.h"

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "common/buf.h"
#include "common/clock.h"
#include "common/strmap.h"
#include "common/utf8.h"

/* ---- strmap ---- */

static void test_strmap_basic(void **state)
{
    UNUSED(state);
    struct strmap *m = strmap_new();
    assert_int_equal(strmap_count(m), 0);
    uint32_t idx = 77;
    assert_false(strmap_get(m, "a", 1, &idx));
    assert_int_equal(idx, 77); /* untouched on a miss */
    assert_null(strmap_key(m, 0, NULL));

    bool added = false;
    assert_int_equal(strmap_intern(m, "alice", 5, &added), 0);
    assert_true(added);
    assert_int_equal(strmap_intern(m, "bob", 3, &added), 1);
    assert_true(added);
    assert_int_equal(strmap_intern(m, "alice", 5, &added), 0);
    assert_false(added);
    assert_int_equal(strmap_intern(m, "carol", 5, NULL), 2); /* 'added' may be NULL */
    assert_int_equal(strmap_intern(m, "bob", 3, NULL), 1);
    assert_int_equal(strmap_count(m), 3);

    /* Lengths matter, not NUL terminators: "alicex" with length 5 is "alice". */
    assert_true(strmap_get(m, "alicex", 5, &idx));
    assert_int_equal(idx, 0);
    assert_false(strmap_get(m, "alic", 4, &idx));
    assert_false(strmap_get(m, "alice!", 6, &idx));
    assert_true(strmap_get(m, "carol", 5, &idx));
    assert_int_equal(idx, 2);

    size_t len = 0;
    assert_string_equal(strmap_key(m, 1, &len), "bob");
    assert_int_equal(len, 3);
    assert_string_equal(strmap_key(m, 2, NULL), "carol");
    assert_null(strmap_key(m, 3, &len));
    assert_null(strmap_key(m, UINT32_MAX, &len));
    strmap_free(m);
    strmap_free(NULL);
}

static void test_strmap_binary_and_empty_keys(void **state)
{
    UNUSED(state);
    struct strmap *m = strmap_new();
    static const char k1[] = {'a', '\0', 'b'};
    static const char k2[] = {'a', '\0', 'c'};
    static const char k3[] = {'\0'};
    static const char k4[] = {'\0', '\0'};
    bool added;
    assert_int_equal(strmap_intern(m, "", 0, &added), 0);
    assert_true(added);
    assert_int_equal(strmap_intern(m, k1, 3, &added), 1);
    assert_true(added);
    assert_int_equal(strmap_intern(m, k2, 3, &added), 2);
    assert_true(added);
    assert_int_equal(strmap_intern(m, "a", 1, &added), 3);
    assert_true(added);
    assert_int_equal(strmap_intern(m, k3, 1, &added), 4);
    assert_true(added);
    assert_int_equal(strmap_intern(m, k4, 2, &added), 5);
    assert_true(added);
    assert_int_equal(strmap_intern(m, "", 0, &added), 0);
    assert_false(added);
    assert_int_equal(strmap_intern(m, k1, 3, &added), 1);
    assert_false(added);

    uint32_t idx;
    assert_true(strmap_get(m, "zzz", 0, &idx)); /* length 0: the empty key */
    assert_int_equal(idx, 0);
    assert_true(strmap_get(m, k2, 3, &idx));
    assert_int_equal(idx, 2);
    assert_true(strmap_get(m, k4, 2, &idx));
    assert_int_equal(idx, 5);

    size_t len;
    const char *p = strmap_key(m, 0, &len);
    assert_int_equal(len, 0);
    assert_int_equal(p[0], '\0');
    p = strmap_key(m, 1, &len);
    assert_int_equal(len, 3);
    assert_memory_equal(p, k1, 3);
    assert_int_equal(p[3], '\0'); /* NUL-terminated after the bytes */
    p = strmap_key(m, 5, &len);
    assert_int_equal(len, 2);
    assert_memory_equal(p, k4, 2);
    assert_int_equal(strmap_count(m), 6);
    strmap_free(m);
}

static void test_strmap_hash(void **state)
{
    UNUSED(state);
    /* Deterministic, and lengths of zero bytes hash differently. */
    static const char zeros[16] = {0};
    uint64_t h[17];
    for (size_t n = 0; n <= 16; n++) {
        h[n] = hash_bytes(zeros, n);
        assert_int_equal(h[n], hash_bytes(zeros, n));
        for (size_t k = 0; k < n; k++)
            assert_int_not_equal(h[n], h[k]);
    }
    assert_int_not_equal(hash_bytes("ab", 2), hash_bytes("ba", 2));
    assert_int_not_equal(hash_bytes("abcdefgh1", 9), hash_bytes("abcdefgh2", 9));
}

static void test_strmap_million_keys(void **state)
{
    UNUSED(state);
    enum { N = 1000000 };
    struct strmap *m = strmap_new();
    char key[32];
    for (uint32_t i = 0; i < N; i++) {
        int n = snprintf(key, sizeof(key), "user-%u", i * 2654435761u);
        bool added;
        uint32_t idx = strmap_intern(m, key, (size_t)n, &added);
        if (idx != i || !added)
            fail_msg("intern %s: idx %u added %d, expected %u", key, idx, added, i);
    }
    assert_int_equal(strmap_count(m), N);
    for (uint32_t i = 0; i < N; i++) {
        int n = snprintf(key, sizeof(key), "user-%u", i * 2654435761u);
        uint32_t idx = UINT32_MAX;
        if (!strmap_get(m, key, (size_t)n, &idx) || idx != i)
            fail_msg("get %s: idx %u, expected %u", key, idx, i);
        size_t len;
        const char *k = strmap_key(m, i, &len);
        if (len != (size_t)n || memcmp(k, key, len) != 0 || k[len] != '\0')
            fail_msg("key %u: \"%s\", expected \"%s\"", i, k, key);
        /* Interning again finds the same index and adds nothing. */
        if (i % 1000 == 0) {
            bool added = true;
            assert_int_equal(strmap_intern(m, key, (size_t)n, &added), i);
            assert_false(added);
        }
    }
    for (uint32_t i = 0; i < 1000; i++) {
        int n = snprintf(key, sizeof(key), "absent-%u", i);
        uint32_t idx;
        assert_false(strmap_get(m, key, (size_t)n, &idx));
    }
    assert_int_equal(strmap_count(m), N);
    strmap_free(m);
}

static void test_strmap_large_keys(void **state)
{
    UNUSED(state);
    /* Keys bigger than a key block (1 MB) and keys straddling block ends. */
    struct strmap *m = strmap_new();
    size_t big = (1u << 20) + 5;
    char *a = xmalloc(big);
    char *b = xmalloc(big);
    memset(a, 'a', big);
    memset(b, 'a', big);
    b[big - 1] = 'b';
    assert_int_equal(strmap_intern(m, "small", 5, NULL), 0);
    assert_int_equal(strmap_intern(m, a, big, NULL), 1);
    assert_int_equal(strmap_intern(m, "after", 5, NULL), 2);
    assert_int_equal(strmap_intern(m, b, big, NULL), 3);
    char mid[1000];
    memset(mid, 'm', sizeof(mid));
    for (uint32_t i = 0; i < 3000; i++) {
        mid[0] = (char)('A' + i % 26);
        mid[1] = (char)('A' + i / 26 % 26);
        mid[2] = (char)('A' + i / 676);
        assert_int_equal(strmap_intern(m, mid, sizeof(mid), NULL), 4 + i);
    }
    size_t len;
    const char *k = strmap_key(m, 1, &len);
    assert_int_equal(len, big);
    assert_memory_equal(k, a, big);
    k = strmap_key(m, 3, &len);
    assert_int_equal(len, big);
    assert_memory_equal(k, b, big);
    assert_string_equal(strmap_key(m, 0, NULL), "small");
    assert_string_equal(strmap_key(m, 2, NULL), "after");
    for (uint32_t i = 0; i < 3000; i++) {
        mid[0] = (char)('A' + i % 26);
        mid[1] = (char)('A' + i / 26 % 26);
        mid[2] = (char)('A' + i / 676);
        k = strmap_key(m, 4 + i, &len);
        assert_int_equal(len, sizeof(mid));
        assert_memory_equal(k, mid, sizeof(mid));
        assert_int_equal(k[len], '\0');
    }
    uint32_t idx;
    assert_true(strmap_get(m, b, big, &idx));
    assert_int_equal(idx, 3);
    assert_false(strmap_get(m, a, big - 1, &idx));
    free(a);
    free(b);
    strmap_free(m);
}

/* ---- utf8 ---- */

#define INVALID_AT(lit, off) assert_int_equal(utf8_invalid_at((lit), sizeof(lit) - 1), (off))
#define VALID(lit)                                                                  \
    do {                                                                            \
        assert_int_equal(utf8_invalid_at((lit), sizeof(lit) - 1), sizeof(lit) - 1); \
        assert_true(utf8_valid((lit), sizeof(lit) - 1));                            \
    } while (0)

static void test_utf8_valid(void **state)
{
    UNUSED(state);
    VALID("");
    VALID("plain ascii, longer than eight bytes");
    VALID("\x7F");
    VALID("\xC2\x80");         /* U+0080, smallest 2-byte */
    VALID("\xDF\xBF");         /* U+07FF */
    VALID("\xE0\xA0\x80");     /* U+0800, smallest 3-byte */
    VALID("\xED\x9F\xBF");     /* U+D7FF, just below the surrogates */
    VALID("\xEE\x80\x80");     /* U+E000, just above */
    VALID("\xEF\xBB\xBF");     /* U+FEFF (BOM) */
    VALID("\xEF\xBF\xBF");     /* U+FFFF */
    VALID("\xF0\x90\x80\x80"); /* U+10000, smallest 4-byte */
    VALID("\xF4\x8F\xBF\xBF"); /* U+10FFFF, the largest */
    VALID("caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80");
    VALID("1234567\xC3\xA9ghijklmn");                  /* a sequence across an 8-byte boundary */
    assert_int_equal(utf8_invalid_at("\0\0\0", 3), 3); /* NUL is valid UTF-8 */
}

static void test_utf8_invalid(void **state)
{
    UNUSED(state);
    /* Overlong forms. */
    INVALID_AT("\xC0\x80", 0);
    INVALID_AT("\xC1\xBF", 0);
    INVALID_AT("\xE0\x80\x80", 0);
    INVALID_AT("\xE0\x9F\xBF", 0); /* U+07FF in 3 bytes */
    INVALID_AT("\xF0\x80\x80\x80", 0);
    INVALID_AT("\xF0\x8F\xBF\xBF", 0); /* U+FFFF in 4 bytes */
    /* Surrogates. */
    INVALID_AT("\xED\xA0\x80", 0);
    INVALID_AT("\xED\xBF\xBF", 0);
    INVALID_AT("ab\xED\xB0\x80", 2);
    /* Above U+10FFFF and bytes that never occur. */
    INVALID_AT("\xF4\x90\x80\x80", 0);
    INVALID_AT("\xF5\x80\x80\x80", 0);
    INVALID_AT("\xF7\xBF\xBF\xBF", 0);
    INVALID_AT("\xF8\x88\x80\x80\x80", 0);
    INVALID_AT("\xFE", 0);
    INVALID_AT("\xFF", 0);
    /* Stray continuation bytes. */
    INVALID_AT("\x80", 0);
    INVALID_AT("a\xBF", 1);
    INVALID_AT("\xC3\xA9\xA9", 2);
    /* Truncated: at the end, and followed by something that is not a continuation. */
    INVALID_AT("\xC3", 0);
    INVALID_AT("\xE2\x82", 0);
    INVALID_AT("x\xF0\x9F\x98", 1);
    INVALID_AT("\xE2\x82z", 0);
    INVALID_AT("\xE2z\xAC", 0);
    INVALID_AT("\xF0\x9F\x98\xC3\xA9", 0);
    INVALID_AT("\xC3\xC3\xA9", 0);
    /* The offset is of the first bad byte, past a valid prefix and the ASCII fast path. */
    INVALID_AT("abcdefghij\xFF", 10);
    INVALID_AT("abcdefgh\xFFijklmnop", 8);
    INVALID_AT("abc\xFFghijklmnop", 3);
    INVALID_AT("abcdefg\xC3\xA9\xE2\x82\xAC\xF0\x9F\x98\x80xyz\xC0", 19);
    /* The length bounds the scan: a sequence cut by 'len' is truncated. */
    assert_int_equal(utf8_invalid_at("\xC3\xA9", 1), 0);
    assert_int_equal(utf8_invalid_at("ab\xF0\x9F\x98\x80", 5), 2);
    assert_int_equal(utf8_invalid_at("ab\xF0\x9F\x98\x80", 2), 2);
    assert_false(utf8_valid("\xC3", 1));
}

/* ---- buf ---- */

static void test_buf_basic(void **state)
{
    UNUSED(state);
    struct buf b;
    buf_init(&b, BUF_NO_CAP);
    assert_non_null(b.data);
    assert_string_equal(b.data, "");
    assert_int_equal(b.len, 0);
    assert_int_equal(b.alloc, 0); /* no allocation yet */

    assert_int_equal(buf_addstr(&b, "hello"), RC_OK);
    assert_int_equal(buf_addch(&b, ' '), RC_OK);
    assert_int_equal(buf_add(&b, "world!!", 5), RC_OK);
    assert_int_equal(buf_addf(&b, " %d-%s", 42, "x"), RC_OK);
    assert_string_equal(b.data, "hello world 42-x");
    assert_int_equal(b.len, 16);
    assert_true(b.alloc > b.len);
    assert_int_equal(buf_add(&b, NULL, 0), RC_OK);
    assert_int_equal(buf_addf(&b, "%s", ""), RC_OK);
    assert_int_equal(b.len, 16);

    /* Binary data with NULs; always terminated after len. */
    assert_int_equal(buf_add(&b, "\0z", 2), RC_OK);
    assert_int_equal(b.len, 18);
    assert_int_equal(b.data[16], '\0');
    assert_int_equal(b.data[17], 'z');
    assert_int_equal(b.data[18], '\0');

    buf_reset(&b);
    assert_int_equal(b.len, 0);
    assert_string_equal(b.data, "");
    buf_release(&b);
    assert_int_equal(b.alloc, 0);
    assert_string_equal(b.data, "");
    buf_reset(&b); /* fine on an unallocated buffer */
    assert_string_equal(b.data, "");

    /* Growth across many reallocations keeps the contents. */
    for (int i = 0; i < 10000; i++)
        assert_int_equal(buf_addf(&b, "%04d", i), RC_OK);
    assert_int_equal(b.len, 40000);
    assert_memory_equal(b.data + 4 * 9999, "9999", 4);
    assert_memory_equal(b.data + 4 * 1234, "1234", 4);
    assert_int_equal(b.data[b.len], '\0');

    /* A long formatted string in one call. */
    char big[3000];
    memset(big, 'q', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    buf_reset(&b);
    assert_int_equal(buf_addf(&b, "<%s>", big), RC_OK);
    assert_int_equal(b.len, sizeof(big) + 1);
    assert_int_equal(b.data[0], '<');
    assert_int_equal(b.data[b.len - 1], '>');
    buf_release(&b);
}

static void test_buf_cap(void **state)
{
    UNUSED(state);
    struct buf b;
    buf_init(&b, 8);
    assert_int_equal(buf_addstr(&b, "12345678"), RC_OK);
    assert_int_equal(b.len, 8);
    /* Anything more fails and leaves the contents as they were. */
    assert_int_equal(buf_addch(&b, '9'), RC_LIMIT_EXCEEDED);
    assert_int_equal(buf_addstr(&b, "9"), RC_LIMIT_EXCEEDED);
    assert_int_equal(buf_add(&b, "9", 1), RC_LIMIT_EXCEEDED);
    assert_int_equal(buf_addf(&b, "%d", 9), RC_LIMIT_EXCEEDED);
    assert_int_equal(buf_grow(&b, 1), RC_LIMIT_EXCEEDED);
    assert_int_equal(buf_grow(&b, SIZE_MAX), RC_LIMIT_EXCEEDED);
    assert_string_equal(b.data, "12345678");
    assert_int_equal(b.len, 8);
    assert_int_equal(buf_add(&b, "", 0), RC_OK); /* nothing is fine at the cap */
    assert_int_equal(buf_addf(&b, "%s", ""), RC_OK);

    /* The cap survives reset and release. */
    buf_reset(&b);
    assert_int_equal(buf_addf(&b, "%s", "123456789"), RC_LIMIT_EXCEEDED);
    assert_string_equal(b.data, "");
    assert_int_equal(buf_addf(&b, "%s", "12345678"), RC_OK);
    buf_release(&b);
    assert_int_equal(b.max, 8);
    assert_int_equal(buf_add(&b, "123456789", 9), RC_LIMIT_EXCEEDED);
    assert_int_equal(b.len, 0);

    /* A partly full buffer refuses a write that would cross the cap. */
    assert_int_equal(buf_addstr(&b, "12345"), RC_OK);
    assert_int_equal(buf_addstr(&b, "6789"), RC_LIMIT_EXCEEDED);
    assert_string_equal(b.data, "12345");
    buf_release(&b);

    /* A zero cap allows only the empty string. */
    buf_init(&b, 0);
    assert_int_equal(buf_addch(&b, 'x'), RC_LIMIT_EXCEEDED);
    assert_string_equal(b.data, "");
    buf_release(&b);
}

/*
 * buf_grow must never report room it does not have. With no cap,
 * len + extra + 1 can wrap around SIZE_MAX; the overflow must be refused,
 * not treated as "already big enough".
 */
static void test_buf_grow_overflow(void **state)
{
    UNUSED(state);
    struct buf b;
    buf_init(&b, BUF_NO_CAP);
    assert_int_not_equal(buf_grow(&b, SIZE_MAX), RC_OK);
    assert_int_equal(buf_addstr(&b, "abc"), RC_OK);
    assert_int_not_equal(buf_grow(&b, SIZE_MAX - 3), RC_OK);
    assert_string_equal(b.data, "abc");
    buf_release(&b);
}

static void test_buf_detach(void **state)
{
    UNUSED(state);
    struct buf b;
    buf_init(&b, 100);
    assert_int_equal(buf_addstr(&b, "payload"), RC_OK);
    size_t len = 0;
    char *p = buf_detach(&b, &len);
    assert_string_equal(p, "payload");
    assert_int_equal(len, 7);
    /* The buffer is empty again, still usable and still capped. */
    assert_int_equal(b.len, 0);
    assert_string_equal(b.data, "");
    assert_true(b.data != p);
    assert_int_equal(b.max, 100);
    assert_int_equal(buf_addstr(&b, "more"), RC_OK);
    assert_string_equal(p, "payload"); /* not shared */
    free(p);

    char *q = buf_detach(&b, NULL);
    assert_string_equal(q, "more");
    free(q);

    /* Detaching an empty, never-allocated buffer gives a fresh "" to free. */
    len = 99;
    char *e = buf_detach(&b, &len);
    assert_non_null(e);
    assert_string_equal(e, "");
    assert_int_equal(len, 0);
    free(e);
    buf_release(&b);
}

/* ---- err ---- */

static void test_err_set(void **state)
{
    UNUSED(state);
    struct err e = ERR_INIT;
    assert_int_equal(e.rc, RC_OK);
    assert_string_equal(e.msg, "");
    assert_int_equal(err_set(&e, RC_PARSE, "%s:%d: field %d: bad", "f.csv", 12, 3), RC_PARSE);
    assert_int_equal(e.rc, RC_PARSE);
    assert_string_equal(e.msg, "f.csv:12: field 3: bad");
    /* A NULL record is allowed: only the code comes back. */
    assert_int_equal(err_set(NULL, RC_IO, "x %d", 1), RC_IO);
    /* A second err_set replaces the first. */
    assert_int_equal(err_set(&e, RC_NOT_FOUND, "gone"), RC_NOT_FOUND);
    assert_string_equal(e.msg, "gone");
    assert_int_equal(e.rc, RC_NOT_FOUND);

    /* Long messages are truncated, and terminated. */
    char longer[2 * ERR_MSG_MAX];
    memset(longer, 'L', sizeof(longer) - 1);
    longer[sizeof(longer) - 1] = '\0';
    err_set(&e, RC_INTERNAL, "%s", longer);
    assert_int_equal(strlen(e.msg), ERR_MSG_MAX - 1);
    assert_int_equal(e.msg[0], 'L');

    err_clear(&e);
    assert_int_equal(e.rc, RC_OK);
    assert_string_equal(e.msg, "");
    err_clear(NULL);
}

static void test_err_prefix(void **state)
{
    UNUSED(state);
    struct err e = ERR_INIT;
    err_set(&e, RC_DB, "disk full");
    assert_int_equal(err_prefix(&e, "import %s: ", "job-1"), RC_DB);
    assert_string_equal(e.msg, "import job-1: disk full");
    assert_int_equal(e.rc, RC_DB);
    assert_int_equal(err_prefix(&e, "cli: "), RC_DB);
    assert_string_equal(e.msg, "cli: import job-1: disk full");
    assert_int_equal(err_prefix(NULL, "x"), RC_INTERNAL);

    /* The result is truncated to fit, keeping the prefix. */
    char pre[ERR_MSG_MAX - 10];
    memset(pre, 'P', sizeof(pre) - 1);
    pre[sizeof(pre) - 1] = '\0';
    err_set(&e, RC_IO, "0123456789abcdef");
    err_prefix(&e, "%s", pre);
    assert_int_equal(strlen(e.msg), ERR_MSG_MAX - 1);
    assert_memory_equal(e.msg + sizeof(pre) - 1, "0123456789", 10);
    /* A prefix longer than the whole record leaves just the (truncated) prefix. */
    char huge[ERR_MSG_MAX + 50];
    memset(huge, 'H', sizeof(huge) - 1);
    huge[sizeof(huge) - 1] = '\0';
    err_set(&e, RC_IO, "tail");
    err_prefix(&e, "%s", huge);
    assert_int_equal(strlen(e.msg), ERR_MSG_MAX - 1);
    assert_null(strstr(e.msg, "tail"));
    /* An empty message gets just the prefix. */
    err_clear(&e);
    e.rc = RC_CANCELLED;
    assert_int_equal(err_prefix(&e, "ctx"), RC_CANCELLED);
    assert_string_equal(e.msg, "ctx");
}

static void test_rc_names(void **state)
{
    UNUSED(state);
    assert_string_equal(rc_name(RC_OK), "ok");
    assert_string_equal(rc_name(RC_INVALID_INPUT), "invalid input");
    assert_string_equal(rc_name(RC_LIMIT_EXCEEDED), "limit exceeded");
    for (int a = RC_OK; a <= RC_INTERNAL; a++) {
        assert_string_not_equal(rc_name((enum rc)a), "unknown error");
        for (int b = RC_OK; b < a; b++)
            assert_string_not_equal(rc_name((enum rc)a), rc_name((enum rc)b));
    }
    assert_string_equal(rc_name((enum rc)(RC_INTERNAL + 1)), "unknown error");
}

static void test_alloc_helpers(void **state)
{
    UNUSED(state);
    char *s = xasprintf("%s-%04d", "id", 7);
    assert_string_equal(s, "id-0007");
    free(s);
    s = xstrndup("abcdef", 3);
    assert_string_equal(s, "abc");
    free(s);
    char dst[4];
    assert_int_equal(strlcpy_(dst, "abcdef", sizeof(dst)), 6);
    assert_string_equal(dst, "abc");
    assert_int_equal(strlcpy_(dst, "ab", sizeof(dst)), 2);
    assert_string_equal(dst, "ab");
    dst[0] = 'z';
    assert_int_equal(strlcpy_(dst, "ab", 0), 2);
    assert_int_equal(dst[0], 'z');    /* size 0 writes nothing */
    int *v = xcalloc(0, sizeof(int)); /* zero-size requests give a freeable pointer */
    assert_non_null(v);
    free(v);
    v = xmallocarray(4, sizeof(int));
    v[3] = 1;
    v = xreallocarray(v, 8, sizeof(int));
    assert_int_equal(v[3], 1);
    free(v);
}

/* ---- clock ---- */

static void test_clock_utc_seconds(void **state)
{
    UNUSED(state);
    int64_t t = -1;
    assert_true(clock_utc_seconds(1970, 1, 1, 0, 0, 0, &t));
    assert_int_equal(t, 0);
    assert_true(clock_utc_seconds(2023, 11, 14, 22, 13, 20, &t));
    assert_int_equal(t, 1700000000);
    assert_true(clock_utc_seconds(2024, 2, 29, 0, 0, 0, &t)); /* a leap year */
    assert_int_equal(t, 1709164800);
    t = 7;
    assert_false(clock_utc_seconds(2023, 2, 29, 0, 0, 0, &t)); /* not one */
    assert_false(clock_utc_seconds(1900, 2, 29, 0, 0, 0, &t)); /* centuries are not */
    assert_false(clock_utc_seconds(2024, 4, 31, 0, 0, 0, &t));
    assert_false(clock_utc_seconds(2024, 13, 1, 0, 0, 0, &t));
    assert_false(clock_utc_seconds(2024, 1, 0, 0, 0, 0, &t));
    assert_false(clock_utc_seconds(2024, 1, 1, 24, 0, 0, &t));
    assert_false(clock_utc_seconds(2024, 1, 1, 0, 60, 0, &t));
    assert_false(clock_utc_seconds(2024, 1, 1, 0, 0, 61, &t));
    assert_false(clock_utc_seconds(2024, 1, 1, -1, 0, 0, &t));
    assert_int_equal(t, 7); /* untouched on failure */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_strmap_basic),
        cmocka_unit_test(test_strmap_binary_and_empty_keys),
        cmocka_unit_test(test_strmap_hash),
        cmocka_unit_test(test_strmap_million_keys),
        cmocka_unit_test(test_strmap_large_keys),
        cmocka_unit_test(test_utf8_valid),
        cmocka_unit_test(test_utf8_invalid),
        cmocka_unit_test(test_buf_basic),
        cmocka_unit_test(test_buf_cap),
        cmocka_unit_test(test_buf_grow_overflow),
        cmocka_unit_test(test_buf_detach),
        cmocka_unit_test(test_err_set),
        cmocka_unit_test(test_err_prefix),
        cmocka_unit_test(test_rc_names),
        cmocka_unit_test(test_alloc_helpers),
        cmocka_unit_test(test_clock_utc_seconds),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
