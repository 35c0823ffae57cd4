/*
 * test_csv.c: unit tests for src/import/csv.c (the streaming CSV reader).
 *
 * Every input is parsed several ways: from memory (1 MB reads) and through a
 * read callback that hands out 1, 2, 3, 7 or 4096 bytes at a time, so every
 * byte position is a buffer boundary at least once (inputs near the size
 * limits use 4099- and 65536-byte reads instead). All ways must give the
 * same rows (or the same error) and consume the whole input.
 *
 * Rows are compared as text: "LINE:" then each field as [bytes] (unquoted)
 * or {bytes} (quoted), then "\n".
 */
#include "common/base.h"

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "common/buf.h"
#include "import/csv.h"

#define NAME "in.csv"
#define BOM  "\xEF\xBB\xBF" /* UTF-8 byte order mark */

/* ---- sources ---- */

/* A read callback over a buffer: at most 'step' bytes per call; optionally fails. */
struct src {
    const char *data;
    size_t len, pos, step;
    bool fail; /* return RC_IO once 'fail_after' bytes have been handed out */
    size_t fail_after;
    unsigned calls_after_eof;
};

static enum rc src_read(void *ctx, char *buf, size_t cap, size_t *got, struct err *e)
{
    struct src *s = ctx;
    /* 0 bytes means end of input, so the reader must always offer room. */
    if (cap == 0) fail_msg("read callback called with cap 0 at offset %zu", s->pos);
    if (s->fail && s->pos >= s->fail_after)
        return err_set(e, RC_IO, "boom: read failed at byte %zu", s->pos);
    size_t n = MIN(MIN(cap, s->step), s->len - s->pos);
    if (s->fail) n = MIN(n, s->fail_after - s->pos);
    if (s->pos == s->len) s->calls_after_eof++;
    memcpy(buf, s->data + s->pos, n);
    s->pos += n;
    *got = n;
    return RC_OK;
}

/* Ways of reading: 0 = csv_reader_new_memory, otherwise a callback with that step. */
static const size_t all_steps[] = {0, 1, 2, 3, 7, 4096};
static const size_t big_steps[] = {0, 4099, 65536};

static const char *mode_name(size_t step)
{
    static char name[32];
    if (!step) return "memory";
    snprintf(name, sizeof(name), "%zu-byte reads", step);
    return name;
}

/* Render one row into 'out', checking the reader's guarantees on the way. */
static void render_row(struct buf *out, const struct csv_row *row)
{
    assert_non_null(row->fields);
    assert_true(row->line >= 1);
    assert_int_equal(buf_addf(out, "%llu:", (unsigned long long)row->line), RC_OK);
    for (size_t k = 0; k < row->n; k++) {
        const struct csv_field *f = &row->fields[k];
        assert_non_null(f->p);
        if (f->p[f->len] != '\0')
            fail_msg("field %zu of line %llu is not NUL-terminated", k + 1,
                     (unsigned long long)row->line);
        assert_int_equal(buf_addch(out, f->quoted ? '{' : '['), RC_OK);
        assert_int_equal(buf_add(out, f->p, f->len), RC_OK);
        assert_int_equal(buf_addch(out, f->quoted ? '}' : ']'), RC_OK);
    }
    assert_int_equal(buf_addch(out, '\n'), RC_OK);
}

struct result {
    enum rc rc;
    struct err err;
    struct buf rows;
    uint64_t consumed;
    unsigned calls_after_eof;
};

/* Parse all of data[0..len) reading 'step' bytes at a time (0: from memory). */
static void parse(const char *data, size_t len, size_t step, const char *name, struct result *res)
{
    struct src s = {.data = data, .len = len, .step = step};
    struct csv_reader *r =
        step ? csv_reader_new(src_read, &s, name) : csv_reader_new_memory(data, len, name);
    assert_non_null(r);
    buf_init(&res->rows, BUF_NO_CAP);
    err_clear(&res->err);
    res->rc = RC_OK;
    for (;;) {
        struct csv_row row;
        res->rc = csv_next(r, &row, &res->err);
        if (res->rc) break;
        if (row.n == 0) {
            /* The end is sticky. */
            struct csv_row again;
            assert_int_equal(csv_next(r, &again, &res->err), RC_OK);
            assert_int_equal(again.n, 0);
            break;
        }
        render_row(&res->rows, &row);
    }
    res->consumed = csv_bytes_consumed(r);
    res->calls_after_eof = s.calls_after_eof;
    csv_reader_free(r);
}

static void result_release(struct result *res)
{
    buf_release(&res->rows);
}

/* Buffers the tests build in; released by the teardown even when a test fails. */
static struct buf g_in, g_want;
static struct result g_res;

static int teardown(void **state)
{
    UNUSED(state);
    buf_release(&g_in);
    buf_release(&g_want);
    result_release(&g_res);
    return 0;
}

static void expect_rows_n(const char *data, size_t len, const char *expected)
{
    for (size_t m = 0; m < ARRAY_SIZE(all_steps); m++) {
        struct result *res = &g_res;
        parse(data, len, all_steps[m], NAME, res);
        if (res->rc)
            fail_msg("%s: rc %s: %s\n  input: %.*s", mode_name(all_steps[m]), rc_name(res->rc),
                     res->err.msg, (int)len, data);
        if (strcmp(res->rows.data, expected) != 0)
            fail_msg("%s: rows differ\n  input: %.*s\n  got:\n%s\n  expected:\n%s",
                     mode_name(all_steps[m]), (int)len, data, res->rows.data, expected);
        if (res->consumed != len)
            fail_msg("%s: consumed %llu of %zu bytes", mode_name(all_steps[m]),
                     (unsigned long long)res->consumed, len);
        result_release(res);
    }
}

/* String literals may contain NUL bytes, so take their length from sizeof. */
#define EXPECT_ROWS(lit, expected) expect_rows_n((lit), sizeof(lit) - 1, (expected))

/*
 * Parsing must fail the same way in every mode: with 'rc', a message naming
 * the input, "in.csv:LINE:", "field FIELD" (when FIELD > 0) and 'what', after
 * delivering the rows 'before' (when not NULL).
 */
static void expect_err_steps(const char *data, size_t len, const size_t *steps, size_t nsteps,
                             enum rc rc, unsigned line, unsigned field, const char *what,
                             const char *before)
{
    char where[64], fld[32];
    snprintf(where, sizeof(where), NAME ":%u: ", line);
    snprintf(fld, sizeof(fld), "field %u", field);
    char first_msg[ERR_MSG_MAX] = "";
    for (size_t m = 0; m < nsteps; m++) {
        struct result *res = &g_res;
        parse(data, len, steps[m], NAME, res);
        const char *mode = mode_name(steps[m]);
        if (res->rc == RC_OK)
            fail_msg("%s: accepted bad input, rows:\n%.300s", mode, res->rows.data);
        if (res->rc != rc)
            fail_msg("%s: rc %s, expected %s (%s)", mode, rc_name(res->rc), rc_name(rc),
                     res->err.msg);
        assert_int_equal(res->err.rc, rc);
        if (!strstr(res->err.msg, where))
            fail_msg("%s: message \"%s\" lacks \"%s\"", mode, res->err.msg, where);
        if (field && !strstr(res->err.msg, fld))
            fail_msg("%s: message \"%s\" lacks \"%s\"", mode, res->err.msg, fld);
        if (what && !strstr(res->err.msg, what))
            fail_msg("%s: message \"%s\" lacks \"%s\"", mode, res->err.msg, what);
        if (before && strcmp(res->rows.data, before) != 0)
            fail_msg("%s: rows before the error:\n%s\nexpected:\n%s", mode, res->rows.data, before);
        if (m == 0)
            strlcpy_(first_msg, res->err.msg, sizeof(first_msg));
        else if (strcmp(first_msg, res->err.msg) != 0)
            fail_msg("%s: message \"%s\" differs from memory mode's \"%s\"", mode, res->err.msg,
                     first_msg);
        result_release(res);
    }
}

#define EXPECT_ERR(lit, rc, line, field, what, before)                                       \
    expect_err_steps((lit), sizeof(lit) - 1, all_steps, ARRAY_SIZE(all_steps), (rc), (line), \
                     (field), (what), (before))

/* ---- well-formed input ---- */

static void test_simple_rows(void **state)
{
    UNUSED(state);
    EXPECT_ROWS("a,b,c\n1,2,3\n", "1:[a][b][c]\n2:[1][2][3]\n");
    EXPECT_ROWS("USER_ID,ITEM_ID,TIMESTAMP\nu1,i1,1700000000\nu2,i2,1700000001\n",
                "1:[USER_ID][ITEM_ID][TIMESTAMP]\n2:[u1][i1][1700000000]\n"
                "3:[u2][i2][1700000001]\n");
    EXPECT_ROWS("x\n", "1:[x]\n");
    EXPECT_ROWS("a b , c\td\n", "1:[a b ][ c\td]\n"); /* spaces and tabs are data */
    EXPECT_ROWS("caf\xC3\xA9,\xE2\x82\xAC,\xF0\x9F\x98\x80\n",
                "1:[caf\xC3\xA9][\xE2\x82\xAC][\xF0\x9F\x98\x80]\n");
    EXPECT_ROWS("a\\b,c\\\\d\n", "1:[a\\b][c\\\\d]\n"); /* no escapes outside quotes */
    /* Rows may have different numbers of fields; the reader does not care. */
    EXPECT_ROWS("a\nb,c,d\ne,f\n", "1:[a]\n2:[b][c][d]\n3:[e][f]\n");
}

static void test_empty_input(void **state)
{
    UNUSED(state);
    EXPECT_ROWS("", "");
    EXPECT_ROWS("\n", "");
    EXPECT_ROWS("\r\n\r\n", "");
    EXPECT_ROWS("\r", "");
    EXPECT_ROWS("\n\r\n\r\n", "");
}

static void test_line_endings(void **state)
{
    UNUSED(state);
    EXPECT_ROWS("a,b\nc,d\n", "1:[a][b]\n2:[c][d]\n");
    EXPECT_ROWS("a,b\r\nc,d\r\n", "1:[a][b]\n2:[c][d]\n");
    EXPECT_ROWS("a,b\rc,d\r", "1:[a][b]\n2:[c][d]\n");
    EXPECT_ROWS("a\r\nb\rc\nd\r\ne", "1:[a]\n2:[b]\n3:[c]\n4:[d]\n5:[e]\n");
    /* CR CR is two line ends (a blank line), not one. */
    EXPECT_ROWS("a\r\rb\r", "1:[a]\n3:[b]\n");
    /* LF CR: the LF ends line 1, the CR is a blank line 2. */
    EXPECT_ROWS("a\n\rb", "1:[a]\n3:[b]\n");
    /* A quoted field right before each kind of line end. */
    EXPECT_ROWS("\"a\"\r\n\"b\"\r\"c\"\n\"d\"", "1:{a}\n2:{b}\n3:{c}\n4:{d}\n");
}

static void test_final_line_without_newline(void **state)
{
    UNUSED(state);
    EXPECT_ROWS("a,b\nc,d", "1:[a][b]\n2:[c][d]\n");
    EXPECT_ROWS("a", "1:[a]\n");
    EXPECT_ROWS("\"q\"", "1:{q}\n");
    EXPECT_ROWS("a,\"q\"", "1:[a]{q}\n");
    EXPECT_ROWS("a,", "1:[a][]\n");
    EXPECT_ROWS("a\r", "1:[a]\n");
    EXPECT_ROWS("\"a\\\\\"", "1:{a\\}\n");
}

static void test_blank_lines_skipped(void **state)
{
    UNUSED(state);
    EXPECT_ROWS("\n\na\n\n\r\n\rb\n\n", "3:[a]\n7:[b]\n");
    EXPECT_ROWS("a\n\n\n", "1:[a]\n");
    EXPECT_ROWS("\r\n\r\na,b\r\n\r\n\r\nc,d\r\n", "3:[a][b]\n6:[c][d]\n");
    /* A line of just a comma is not blank: two empty fields. */
    EXPECT_ROWS("\n,\n", "2:[][]\n");
    /* A line of just a space is not blank either. */
    EXPECT_ROWS(" \n", "1:[ ]\n");
    /* An empty quoted field is a record, not a blank line. */
    EXPECT_ROWS("\"\"\n\n\"\"\n", "1:{}\n3:{}\n");
}

static void test_bom(void **state)
{
    UNUSED(state);
    EXPECT_ROWS(BOM "a,b\n", "1:[a][b]\n");
    EXPECT_ROWS(BOM "\"a\",b\n", "1:{a}[b]\n");
    EXPECT_ROWS(BOM, "");
    EXPECT_ROWS(BOM "\n\nx", "3:[x]\n");
    EXPECT_ROWS(BOM "x", "1:[x]\n");
    /* Only at the very start: later it is data (U+FEFF is valid UTF-8). */
    EXPECT_ROWS("a\n" BOM "b\n", "1:[a]\n2:[" BOM "b]\n");
    EXPECT_ROWS("\n" BOM "b\n", "2:[" BOM "b]\n");
    /* Only one BOM is skipped. */
    EXPECT_ROWS(BOM BOM "a\n", "1:[" BOM "a]\n");
    /* Inside a field it is kept. */
    EXPECT_ROWS("a" BOM ",b\n", "1:[a" BOM "][b]\n");
}

static void test_quoted_fields(void **state)
{
    UNUSED(state);
    EXPECT_ROWS("\"a,b\",c\n", "1:{a,b}[c]\n");
    EXPECT_ROWS("x,\"a,b,c\"\n", "1:[x]{a,b,c}\n");
    EXPECT_ROWS("\"say \"\"hi\"\"\",x\n", "1:{say \"hi\"}[x]\n");
    EXPECT_ROWS("\"\"\"\"\n", "1:{\"}\n");
    EXPECT_ROWS("\"\"\"\"\"\"\n", "1:{\"\"}\n");
    EXPECT_ROWS("\"\"\"a\"\"\"\n", "1:{\"a\"}\n");
    EXPECT_ROWS("\"  padded  \"\n", "1:{  padded  }\n");
    EXPECT_ROWS("\"caf\xC3\xA9\"\n", "1:{caf\xC3\xA9}\n");
    /* The quoted flag is per field. */
    EXPECT_ROWS("\"a\",b,\"c\"\n", "1:{a}[b]{c}\n");
    EXPECT_ROWS("\"1\"\n1\n", "1:{1}\n2:[1]\n");
}

static void test_embedded_newlines(void **state)
{
    UNUSED(state);
    EXPECT_ROWS("\"a\nb\",c\nd,e\n", "1:{a\nb}[c]\n3:[d][e]\n");
    EXPECT_ROWS("\"a\r\nb\"\r\nd\r\n", "1:{a\r\nb}\n3:[d]\n");
    EXPECT_ROWS("\"x\n\ny\"\n\n\nz", "1:{x\n\ny}\n6:[z]\n");
    EXPECT_ROWS("h\n\"1\n2\n3\",\"4\n5\"\nnext\n", "1:[h]\n2:{1\n2\n3}{4\n5}\n6:[next]\n");
    EXPECT_ROWS("\"\n\"\n", "1:{\n}\n");
    EXPECT_ROWS("\"a,\nb\"\"\nc\"\nz\n", "1:{a,\nb\"\nc}\n4:[z]\n");
    /* A quoted field may end a record with a lone CR after an embedded LF. */
    EXPECT_ROWS("\"a\nb\"\rz", "1:{a\nb}\n3:[z]\n");
}

static void test_backslash_escapes(void **state)
{
    UNUSED(state);
    EXPECT_ROWS("\"a\\\"b\"\n", "1:{a\"b}\n");    /* "a\"b"  -> a"b */
    EXPECT_ROWS("\"a\\\\b\"\n", "1:{a\\b}\n");    /* "a\\b"  -> a\b */
    EXPECT_ROWS("\"a\\b\"\n", "1:{a\\b}\n");      /* "a\b"   -> a\b (lone backslash) */
    EXPECT_ROWS("\"a\\\\\",b\n", "1:{a\\}[b]\n"); /* "a\\",b -> a\ then b */
    EXPECT_ROWS("\"\\\\\\\"\"\n", "1:{\\\"}\n");  /* "\\\""  -> \" */
    EXPECT_ROWS("\"a\\\"\",b\n", "1:{a\"}[b]\n"); /* "a\"",b -> a" then b */
    EXPECT_ROWS("\"\\n\\t\"\n", "1:{\\n\\t}\n");  /* no C escapes */
    EXPECT_ROWS("\"\\\\\\\\\"\n", "1:{\\\\}\n");  /* "\\\\" -> \\ */
    EXPECT_ROWS("\"x\\\ny\"\n", "1:{x\\\ny}\n");  /* backslash before a newline */
    EXPECT_ROWS("\"\\\"\"\"\"\n", "1:{\"\"}\n");  /* "\""""  -> "" (both forms) */
    EXPECT_ROWS("\"{\\\"k\\\": 1}\"\n", "1:{{\"k\": 1}}\n");
}

static void test_empty_fields(void **state)
{
    UNUSED(state);
    EXPECT_ROWS(",,\n", "1:[][][]\n");
    EXPECT_ROWS("a,,b\n", "1:[a][][b]\n");
    EXPECT_ROWS("a,\n", "1:[a][]\n");
    EXPECT_ROWS("a,\r\nb,\r\n", "1:[a][]\n2:[b][]\n");
    EXPECT_ROWS(",a\n", "1:[][a]\n");
    EXPECT_ROWS("\"\"\n", "1:{}\n");
    EXPECT_ROWS("\"\",\"\"\n", "1:{}{}\n");
    EXPECT_ROWS(",\"\"\n", "1:[]{}\n");
    EXPECT_ROWS("\"\",\n", "1:{}[]\n");
    EXPECT_ROWS(",,", "1:[][][]\n");
}

static void test_many_fields_ok(void **state)
{
    UNUSED(state);
    /* Exactly CSV_MAX_FIELDS fields is allowed. */
    struct buf *in = &g_in, *want = &g_want;
    buf_init(in, BUF_NO_CAP);
    buf_init(want, BUF_NO_CAP);
    assert_int_equal(buf_addstr(want, "1:"), RC_OK);
    for (unsigned k = 0; k < CSV_MAX_FIELDS; k++) {
        assert_int_equal(buf_addf(in, "%s%u", k ? "," : "", k), RC_OK);
        assert_int_equal(buf_addf(want, "[%u]", k), RC_OK);
    }
    assert_int_equal(buf_addstr(in, "\nz\n"), RC_OK);
    assert_int_equal(buf_addstr(want, "\n2:[z]\n"), RC_OK);
    expect_rows_n(in->data, in->len, want->data);
    buf_release(in);
    buf_release(want);
}

static void test_reader_name(void **state)
{
    UNUSED(state);
    struct csv_reader *r = csv_reader_new_memory("a", 1, "some/file.csv");
    assert_string_equal(csv_reader_name(r), "some/file.csv");
    assert_int_equal(csv_bytes_consumed(r), 0);
    csv_reader_free(r);

    /* A NULL name gets a placeholder, which errors then use. */
    struct result *res = &g_res;
    parse("a\"b", 3, 0, NULL, res);
    assert_int_equal(res->rc, RC_PARSE);
    assert_non_null(strstr(res->err.msg, "<input>:1: field 1"));
    result_release(res);

    csv_reader_free(NULL); /* allowed */
}

static void test_consumed_progress(void **state)
{
    UNUSED(state);
    static const char in[] = BOM "ab,c\r\n\n\"x\ny\",z\nlast";
    struct csv_reader *r = csv_reader_new_memory(in, sizeof(in) - 1, NAME);
    struct csv_row row;
    struct err e = ERR_INIT;
    assert_int_equal(csv_next(r, &row, &e), RC_OK);
    assert_int_equal(row.n, 2);
    assert_int_equal(csv_bytes_consumed(r), 3 + 6); /* BOM + "ab,c\r\n" */
    assert_int_equal(csv_next(r, &row, &e), RC_OK);
    assert_int_equal(row.line, 3);
    assert_int_equal(csv_bytes_consumed(r), 3 + 6 + 1 + 8);
    assert_int_equal(csv_next(r, &row, &e), RC_OK);
    assert_int_equal(row.line, 5);
    assert_string_equal(row.fields[0].p, "last");
    assert_int_equal(csv_bytes_consumed(r), sizeof(in) - 1);
    assert_int_equal(csv_next(r, &row, &e), RC_OK);
    assert_int_equal(row.n, 0);
    assert_int_equal(csv_bytes_consumed(r), sizeof(in) - 1);
    csv_reader_free(r);
}

/* ---- errors ---- */

static void test_err_unterminated_quote(void **state)
{
    UNUSED(state);
    EXPECT_ERR("a,\"bc\n", RC_PARSE, 1, 2, "unterminated", NULL);
    EXPECT_ERR("\"", RC_PARSE, 1, 1, "unterminated", "");
    EXPECT_ERR("ok\n\"abc\ndef", RC_PARSE, 2, 1, "unterminated", "1:[ok]\n");
    EXPECT_ERR("a\nb\n\"cc\ndd\n", RC_PARSE, 3, 1, "unterminated", "1:[a]\n2:[b]\n");
    /* \" does not close the field. */
    EXPECT_ERR("x,\"ends\\\"\n", RC_PARSE, 1, 2, "unterminated", "");
    EXPECT_ERR("\"abc\"\"", RC_PARSE, 1, 1, "unterminated", "");
}

static void test_err_after_closing_quote(void **state)
{
    UNUSED(state);
    EXPECT_ERR("\"ab\"c,d\n", RC_PARSE, 1, 1, "after closing quote", "");
    EXPECT_ERR("x,\"ab\" ,y\n", RC_PARSE, 1, 2, "after closing quote", "");
    EXPECT_ERR("ok\nx,y,\"z\"\"\"w\n", RC_PARSE, 2, 3, "after closing quote", "1:[ok]\n");
    /* The line is where the stray character is, after the embedded newline. */
    EXPECT_ERR("h\n\"a\nb\"x\n", RC_PARSE, 3, 1, "after closing quote", "1:[h]\n");
}

static void test_err_quote_in_unquoted(void **state)
{
    UNUSED(state);
    EXPECT_ERR("ab\"c\n", RC_PARSE, 1, 1, "inside an unquoted field", "");
    EXPECT_ERR("a,b\"c\"\n", RC_PARSE, 1, 2, "inside an unquoted field", "");
    EXPECT_ERR("1\n2\na,b,c,d\"\n", RC_PARSE, 3, 4, "inside an unquoted field", "1:[1]\n2:[2]\n");
    EXPECT_ERR(" \"a\"\n", RC_PARSE, 1, 1, "inside an unquoted field", "");
}

static void test_err_nul_byte(void **state)
{
    UNUSED(state);
    EXPECT_ERR("a,b\0c\n", RC_PARSE, 1, 2, "NUL byte", "");
    EXPECT_ERR("ok\n\"a\0\"\n", RC_PARSE, 2, 1, "NUL byte", "1:[ok]\n");
    EXPECT_ERR("\0", RC_PARSE, 1, 1, "NUL byte", "");
    EXPECT_ERR("a,\0", RC_PARSE, 1, 2, "NUL byte", "");
    EXPECT_ERR("x\n\"a\nb\0\"\n", RC_PARSE, 3, 1, "NUL byte", "1:[x]\n");
}

static void test_err_invalid_utf8(void **state)
{
    UNUSED(state);
    /* Overlong encodings of '/' and of U+0000. */
    EXPECT_ERR("a,\xC0\xAF\n", RC_PARSE, 1, 2, "invalid UTF-8 (byte 0xC0 at offset 0)", "");
    EXPECT_ERR("\xE0\x80\xAF\n", RC_PARSE, 1, 1, "invalid UTF-8 (byte 0xE0 at offset 0)", "");
    EXPECT_ERR("x\xF0\x80\x80\xAF\n", RC_PARSE, 1, 1, "byte 0xF0 at offset 1", "");
    EXPECT_ERR("\xC1\xBF", RC_PARSE, 1, 1, "invalid UTF-8", "");
    /* UTF-16 surrogates. */
    EXPECT_ERR("ok\nab,\xED\xA0\x80\n", RC_PARSE, 2, 2, "byte 0xED at offset 0", "1:[ok]\n");
    EXPECT_ERR("\"q\xED\xBF\xBF\"\n", RC_PARSE, 1, 1, "byte 0xED at offset 1", "");
    /* Truncated sequences: at the end of a field, before ASCII, at the end of input. */
    EXPECT_ERR("a,\xE2\x82,b\n", RC_PARSE, 1, 2, "byte 0xE2 at offset 0", "");
    EXPECT_ERR("a\xE2\x82z\n", RC_PARSE, 1, 1, "byte 0xE2 at offset 1", "");
    EXPECT_ERR("abc\xF0\x9F\x98", RC_PARSE, 1, 1, "byte 0xF0 at offset 3", "");
    /* Bytes that never occur in UTF-8, and a stray continuation byte. */
    EXPECT_ERR("a,b,\xFF\n", RC_PARSE, 1, 3, "byte 0xFF at offset 0", "");
    EXPECT_ERR("\xFE", RC_PARSE, 1, 1, "byte 0xFE", "");
    EXPECT_ERR("ab\x80\n", RC_PARSE, 1, 1, "byte 0x80 at offset 2", "");
    /* Above U+10FFFF. */
    EXPECT_ERR("\xF4\x90\x80\x80\n", RC_PARSE, 1, 1, "byte 0xF4", "");
    /* A record spanning lines reports the line where it starts. */
    EXPECT_ERR("h\n\"a\nb\",\xFF\n", RC_PARSE, 2, 2, "invalid UTF-8", "1:[h]\n");
    /* A partial BOM is not a BOM. */
    EXPECT_ERR("\xEF\xBB", RC_PARSE, 1, 1, "byte 0xEF at offset 0", "");
}

static void test_err_too_many_fields(void **state)
{
    UNUSED(state);
    struct buf *in = &g_in;
    buf_init(in, BUF_NO_CAP);
    assert_int_equal(buf_addstr(in, "ok\n\n"), RC_OK);
    for (unsigned k = 0; k < CSV_MAX_FIELDS + 1; k++)
        assert_int_equal(buf_addf(in, "%s%u", k ? "," : "", k), RC_OK);
    assert_int_equal(buf_addch(in, '\n'), RC_OK);
    expect_err_steps(in->data, in->len, all_steps, ARRAY_SIZE(all_steps), RC_LIMIT_EXCEEDED, 3, 0,
                     "more than 256 fields", "1:[ok]\n");
    /* An empty 257th field counts too. */
    buf_reset(in);
    for (unsigned k = 0; k < CSV_MAX_FIELDS; k++)
        assert_int_equal(buf_addch(in, ','), RC_OK);
    expect_err_steps(in->data, in->len, all_steps, ARRAY_SIZE(all_steps), RC_LIMIT_EXCEEDED, 1, 0,
                     "fields", "");
    buf_release(in);
}

/*
 * csv.h promises "Every error names the input, the line and the field." The
 * too-many-fields error names no field (it should name field 257).
 */
static void test_err_too_many_fields_names_field(void **state)
{
    UNUSED(state);
    struct buf *in = &g_in;
    buf_init(in, BUF_NO_CAP);
    for (unsigned k = 0; k < CSV_MAX_FIELDS + 1; k++)
        assert_int_equal(buf_addf(in, "%s%u", k ? "," : "", k), RC_OK);
    expect_err_steps(in->data, in->len, all_steps, 1, RC_LIMIT_EXCEEDED, 1, CSV_MAX_FIELDS + 1,
                     NULL, "");
    buf_release(in);
}

/* Append 'n' copies of 'c'. */
static void add_run(struct buf *b, char c, size_t n)
{
    assert_int_equal(buf_grow(b, n), RC_OK);
    memset(b->data + b->len, c, n);
    b->len += n;
    b->data[b->len] = '\0';
}

static void test_field_limit(void **state)
{
    UNUSED(state);
    struct buf *in = &g_in, *want = &g_want;
    buf_init(in, BUF_NO_CAP);
    buf_init(want, BUF_NO_CAP);

    /* Exactly the limit, unquoted and quoted. */
    assert_int_equal(buf_addstr(in, "a,"), RC_OK);
    add_run(in, 'x', CSV_MAX_FIELD_BYTES);
    assert_int_equal(buf_addstr(in, ",\""), RC_OK);
    add_run(in, 'y', CSV_MAX_FIELD_BYTES);
    assert_int_equal(buf_addstr(in, "\"\n"), RC_OK);
    for (size_t m = 0; m < ARRAY_SIZE(big_steps); m++) {
        struct result *res = &g_res;
        parse(in->data, in->len, big_steps[m], NAME, res);
        if (res->rc) fail_msg("%s: %s", mode_name(big_steps[m]), res->err.msg);
        assert_int_equal(res->rows.len, 2 + 3 + 2 * (2 + CSV_MAX_FIELD_BYTES) + 1);
        assert_int_equal(res->consumed, in->len);
        result_release(res);
    }

    /* The limit is on the unquoted value: "" pairs count once. */
    buf_reset(in);
    assert_int_equal(buf_addch(in, '"'), RC_OK);
    for (size_t k = 0; k < CSV_MAX_FIELD_BYTES / 2; k++)
        assert_int_equal(buf_add(in, "\"\"\\\\", 4), RC_OK);
    assert_int_equal(buf_addstr(in, "\"\n"), RC_OK);
    for (size_t m = 0; m < ARRAY_SIZE(big_steps); m++) {
        struct result *res = &g_res;
        parse(in->data, in->len, big_steps[m], NAME, res);
        if (res->rc) fail_msg("%s: %s", mode_name(big_steps[m]), res->err.msg);
        assert_int_equal(res->rows.len, 2 + 2 + CSV_MAX_FIELD_BYTES + 1);
        result_release(res);
    }

    /* One byte over, unquoted (field 2 of line 2) and quoted (field 1 of line 1). */
    buf_reset(in);
    assert_int_equal(buf_addstr(in, "ok\na,"), RC_OK);
    add_run(in, 'x', CSV_MAX_FIELD_BYTES + 1);
    assert_int_equal(buf_addstr(in, "\n"), RC_OK);
    expect_err_steps(in->data, in->len, big_steps, ARRAY_SIZE(big_steps), RC_LIMIT_EXCEEDED, 2, 2,
                     "longer than 131072 bytes", "1:[ok]\n");
    buf_reset(in);
    assert_int_equal(buf_addstr(in, "\""), RC_OK);
    add_run(in, '\n', CSV_MAX_FIELD_BYTES + 1);
    assert_int_equal(buf_addstr(in, "\""), RC_OK);
    expect_err_steps(in->data, in->len, big_steps, ARRAY_SIZE(big_steps), RC_LIMIT_EXCEEDED, 1, 1,
                     "longer than", "");

    buf_release(in);
    buf_release(want);
}

/*
 * The error for a bad record must not depend on how the input was chunked.
 * An unquoted field over the limit that also holds a '"' (or a NUL byte)
 * must get the same error from memory (whole field in the window) as from
 * small reads (field seen in pieces).
 */
static void test_long_unquoted_field_error_independent_of_reads(void **state)
{
    UNUSED(state);
    static const char tails[][2] = {"\"", {'\0', '\0'}};
    for (size_t t = 0; t < ARRAY_SIZE(tails); t++) {
        struct buf *in = &g_in;
        buf_init(in, BUF_NO_CAP);
        assert_int_equal(buf_addstr(in, "a,"), RC_OK);
        add_run(in, 'x', CSV_MAX_FIELD_BYTES + 20000);
        assert_int_equal(buf_add(in, tails[t], 1), RC_OK);
        assert_int_equal(buf_addstr(in, "y\n"), RC_OK);
        enum rc first_rc = RC_OK;
        char first_msg[ERR_MSG_MAX] = "";
        for (size_t m = 0; m < ARRAY_SIZE(big_steps); m++) {
            struct result *res = &g_res;
            parse(in->data, in->len, big_steps[m], NAME, res);
            if (res->rc == RC_OK) fail_msg("%s: accepted bad input", mode_name(big_steps[m]));
            if (m == 0) {
                first_rc = res->rc;
                strlcpy_(first_msg, res->err.msg, sizeof(first_msg));
            } else if (res->rc != first_rc || strcmp(res->err.msg, first_msg) != 0) {
                fail_msg("%s: \"%s\" (%s), but from memory: \"%s\" (%s)", mode_name(big_steps[m]),
                         res->err.msg, rc_name(res->rc), first_msg, rc_name(first_rc));
            }
            result_release(res);
        }
        buf_release(in);
    }
}

/* Comma-separated fields of 'x' (each under the field limit), 'len' bytes in all. */
static void add_record(struct buf *b, size_t len)
{
    size_t piece = 100000; /* under the field limit */
    while (len > piece + 1) {
        add_run(b, 'x', piece);
        assert_int_equal(buf_addch(b, ','), RC_OK);
        len -= piece + 1;
    }
    add_run(b, 'x', len);
}

static void test_record_limit_ok(void **state)
{
    UNUSED(state);
    /* CSV_MAX_RECORD_BYTES as read, line end included. */
    struct buf *in = &g_in;
    buf_init(in, BUF_NO_CAP);
    assert_int_equal(buf_addstr(in, "h\n"), RC_OK);
    add_record(in, CSV_MAX_RECORD_BYTES - 1);
    assert_int_equal(buf_addstr(in, "\nt\n"), RC_OK);
    for (size_t m = 0; m < ARRAY_SIZE(big_steps); m++) {
        struct result *res = &g_res;
        parse(in->data, in->len, big_steps[m], NAME, res);
        if (res->rc) fail_msg("%s: %s", mode_name(big_steps[m]), res->err.msg);
        assert_true(strncmp(res->rows.data, "1:[h]\n2:[xxx", 12) == 0);
        assert_true(res->rows.len > 20);
        assert_string_equal(res->rows.data + res->rows.len - 7, "\n3:[t]\n");
        assert_int_equal(res->consumed, in->len);
        result_release(res);
    }
    buf_release(in);
}

static void test_record_limit_far_over(void **state)
{
    UNUSED(state);
    struct buf *in = &g_in;
    buf_init(in, BUF_NO_CAP);
    assert_int_equal(buf_addstr(in, "h\n"), RC_OK);
    add_record(in, 3 * CSV_MAX_RECORD_BYTES);
    assert_int_equal(buf_addstr(in, "\n"), RC_OK);
    expect_err_steps(in->data, in->len, big_steps, ARRAY_SIZE(big_steps), RC_LIMIT_EXCEEDED, 2, 0,
                     "record longer than 1048576 bytes", "1:[h]\n");
    buf_release(in);
}

/* One byte over the documented record limit must be refused. */
static void test_record_limit_just_over(void **state)
{
    UNUSED(state);
    struct buf *in = &g_in;
    buf_init(in, BUF_NO_CAP);
    assert_int_equal(buf_addstr(in, "h\n"), RC_OK);
    add_record(in, CSV_MAX_RECORD_BYTES + 1);
    assert_int_equal(buf_addstr(in, "\n"), RC_OK);
    expect_err_steps(in->data, in->len, big_steps, ARRAY_SIZE(big_steps), RC_LIMIT_EXCEEDED, 2, 0,
                     "record longer than", "1:[h]\n");
    /* Half again over the limit, too. */
    buf_reset(in);
    add_record(in, CSV_MAX_RECORD_BYTES + CSV_MAX_RECORD_BYTES / 2);
    expect_err_steps(in->data, in->len, big_steps, ARRAY_SIZE(big_steps), RC_LIMIT_EXCEEDED, 1, 0,
                     "record longer than", "");
    buf_release(in);
}

static void test_read_error_propagated(void **state)
{
    UNUSED(state);
    static const char in[] = "a,b\nc,d\ne,f\n";
    const size_t steps[] = {1, 3, 100};
    const size_t fail_at[] = {0, 2, 6, 11};
    for (size_t m = 0; m < ARRAY_SIZE(steps); m++) {
        for (size_t f = 0; f < ARRAY_SIZE(fail_at); f++) {
            struct src s = {.data = in,
                            .len = sizeof(in) - 1,
                            .step = steps[m],
                            .fail = true,
                            .fail_after = fail_at[f]};
            struct csv_reader *r = csv_reader_new(src_read, &s, NAME);
            struct err e = ERR_INIT;
            struct csv_row row;
            enum rc rc;
            unsigned rows = 0;
            while ((rc = csv_next(r, &row, &e)) == RC_OK) {
                assert_true(row.n > 0); /* never a clean end of input */
                rows++;
            }
            assert_int_equal(rc, RC_IO);
            assert_int_equal(e.rc, RC_IO);
            assert_non_null(strstr(e.msg, "boom: read failed"));
            /* Complete records before the failure point may come out, no more. */
            assert_true(rows <= fail_at[f] / 4);
            csv_reader_free(r);
        }
    }
}

static void test_no_reads_after_eof(void **state)
{
    UNUSED(state);
    /* Once the callback reports end of input the reader stops asking. */
    static const char in[] = "a\r";
    struct src s = {.data = in, .len = sizeof(in) - 1, .step = 1};
    struct csv_reader *r = csv_reader_new(src_read, &s, NAME);
    struct csv_row row;
    struct err e = ERR_INIT;
    assert_int_equal(csv_next(r, &row, &e), RC_OK);
    assert_int_equal(row.n, 1);
    for (int k = 0; k < 3; k++) {
        assert_int_equal(csv_next(r, &row, &e), RC_OK);
        assert_int_equal(row.n, 0);
    }
    assert_int_equal(s.calls_after_eof, 1);
    csv_reader_free(r);
}

/* ---- a large generated input ---- */

static uint64_t rng_state = 0x9E3779B97F4A7C15ULL;

static uint32_t rnd(uint32_t n)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (uint32_t)((rng_state >> 16) % n);
}

/*
 * Generate 'rows' random records into 'in' and their expected rendering into
 * 'want': unquoted and quoted fields, "" and \" \\ escapes, lone backslashes,
 * embedded LF and CRLF, UTF-8, empty fields, blank lines, all line ends.
 */
static void generate(size_t rows, struct buf *in, struct buf *want)
{
    static const char *const words[] = {
        "u1",           "item-42",          "1700000000", "0.5",   "caf\xC3\xA9",
        "\xE2\x82\xAC", "\xF0\x9F\x98\x80", "a b",        "CLICK", "x"};
    uint64_t line = 1;
    const char *prev_end = "\n";
    for (size_t r = 0; r < rows; r++) {
        if (strcmp(prev_end, "\r") != 0 && rnd(20) == 0) {
            assert_int_equal(buf_addstr(in, rnd(2) ? "\n" : "\r\n"), RC_OK);
            line++;
        }
        assert_int_equal(buf_addf(want, "%llu:", (unsigned long long)line), RC_OK);
        unsigned nf = 1 + rnd(6);
        uint64_t extra_lines = 0;
        for (unsigned f = 0; f < nf; f++) {
            if (f) assert_int_equal(buf_addch(in, ','), RC_OK);
            unsigned kind = rnd(4);
            if (nf == 1 && kind == 0) kind = 1; /* a lone empty field would be a blank line */
            if (kind == 0) {
                assert_int_equal(buf_addstr(want, "[]"), RC_OK);
            } else if (kind == 1) {
                const char *w = words[rnd(ARRAY_SIZE(words))];
                assert_int_equal(buf_addstr(in, w), RC_OK);
                assert_int_equal(buf_addf(want, "[%s]", w), RC_OK);
            } else {
                assert_int_equal(buf_addch(in, '"'), RC_OK);
                assert_int_equal(buf_addch(want, '{'), RC_OK);
                unsigned parts = rnd(5);
                for (unsigned p = 0; p < parts; p++) {
                    const char *w = words[rnd(ARRAY_SIZE(words))];
                    switch (rnd(8)) {
                    case 0:
                        assert_int_equal(buf_addstr(in, "\"\""), RC_OK);
                        assert_int_equal(buf_addch(want, '"'), RC_OK);
                        break;
                    case 1:
                        assert_int_equal(buf_addstr(in, "\\\""), RC_OK);
                        assert_int_equal(buf_addch(want, '"'), RC_OK);
                        break;
                    case 2:
                        assert_int_equal(buf_addstr(in, "\\\\"), RC_OK);
                        assert_int_equal(buf_addch(want, '\\'), RC_OK);
                        break;
                    case 3:
                        assert_int_equal(buf_addstr(in, "\\q"), RC_OK);
                        assert_int_equal(buf_addstr(want, "\\q"), RC_OK);
                        break;
                    case 4: {
                        const char *nl = rnd(2) ? "\n" : "\r\n";
                        assert_int_equal(buf_addstr(in, nl), RC_OK);
                        assert_int_equal(buf_addstr(want, nl), RC_OK);
                        extra_lines++;
                        break;
                    }
                    case 5:
                        assert_int_equal(buf_addch(in, ','), RC_OK);
                        assert_int_equal(buf_addch(want, ','), RC_OK);
                        break;
                    default:
                        assert_int_equal(buf_addstr(in, w), RC_OK);
                        assert_int_equal(buf_addstr(want, w), RC_OK);
                        break;
                    }
                }
                assert_int_equal(buf_addch(in, '"'), RC_OK);
                assert_int_equal(buf_addch(want, '}'), RC_OK);
            }
        }
        assert_int_equal(buf_addch(want, '\n'), RC_OK);
        line += extra_lines;
        if (r + 1 < rows || rnd(2)) {
            static const char *const ends[] = {"\n", "\r\n", "\r"};
            prev_end = ends[rnd(3)];
            assert_int_equal(buf_addstr(in, prev_end), RC_OK);
            line++;
        }
    }
}

static void test_large_input(void **state)
{
    UNUSED(state);
    struct buf *in = &g_in, *want = &g_want;
    buf_init(in, BUF_NO_CAP);
    buf_init(want, BUF_NO_CAP);
    assert_int_equal(buf_addstr(in, BOM), RC_OK);
    generate(200000, in, want);
    assert_true(in->len > 3 * CSV_MAX_RECORD_BYTES); /* several 1 MB window refills */
    const size_t steps[] = {0, 7, 65537};
    for (size_t m = 0; m < ARRAY_SIZE(steps); m++) {
        struct result *res = &g_res;
        parse(in->data, in->len, steps[m], NAME, res);
        if (res->rc) fail_msg("%s: %s", mode_name(steps[m]), res->err.msg);
        if (res->rows.len != want->len || memcmp(res->rows.data, want->data, want->len) != 0) {
            size_t k = 0;
            while (k < res->rows.len && k < want->len && res->rows.data[k] == want->data[k])
                k++;
            size_t from = k > 60 ? k - 60 : 0;
            fail_msg("%s: rows differ at output byte %zu:\n  got: %.120s\n  want: %.120s",
                     mode_name(steps[m]), k, res->rows.data + from, want->data + from);
        }
        assert_int_equal(res->consumed, in->len);
        result_release(res);
    }
    buf_release(in);
    buf_release(want);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_simple_rows, teardown),
        cmocka_unit_test_teardown(test_empty_input, teardown),
        cmocka_unit_test_teardown(test_line_endings, teardown),
        cmocka_unit_test_teardown(test_final_line_without_newline, teardown),
        cmocka_unit_test_teardown(test_blank_lines_skipped, teardown),
        cmocka_unit_test_teardown(test_bom, teardown),
        cmocka_unit_test_teardown(test_quoted_fields, teardown),
        cmocka_unit_test_teardown(test_embedded_newlines, teardown),
        cmocka_unit_test_teardown(test_backslash_escapes, teardown),
        cmocka_unit_test_teardown(test_empty_fields, teardown),
        cmocka_unit_test_teardown(test_many_fields_ok, teardown),
        cmocka_unit_test_teardown(test_reader_name, teardown),
        cmocka_unit_test_teardown(test_consumed_progress, teardown),
        cmocka_unit_test_teardown(test_err_unterminated_quote, teardown),
        cmocka_unit_test_teardown(test_err_after_closing_quote, teardown),
        cmocka_unit_test_teardown(test_err_quote_in_unquoted, teardown),
        cmocka_unit_test_teardown(test_err_nul_byte, teardown),
        cmocka_unit_test_teardown(test_err_invalid_utf8, teardown),
        cmocka_unit_test_teardown(test_err_too_many_fields, teardown),
        cmocka_unit_test_teardown(test_err_too_many_fields_names_field, teardown),
        cmocka_unit_test_teardown(test_field_limit, teardown),
        cmocka_unit_test_teardown(test_long_unquoted_field_error_independent_of_reads, teardown),
        cmocka_unit_test_teardown(test_record_limit_ok, teardown),
        cmocka_unit_test_teardown(test_record_limit_far_over, teardown),
        cmocka_unit_test_teardown(test_record_limit_just_over, teardown),
        cmocka_unit_test_teardown(test_read_error_propagated, teardown),
        cmocka_unit_test_teardown(test_no_reads_after_eof, teardown),
        cmocka_unit_test_teardown(test_large_input, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
