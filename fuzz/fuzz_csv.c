/*
 * fuzz_csv.c: parse the input as CSV to the end or the first error, twice:
 * from memory and through a read callback that returns 3 bytes at a time.
 * Both passes must agree exactly (rows, fields, quoted flags, line numbers,
 * error code and message), every row must keep the reader's promises, and
 * the rows written back as CSV must read back as the same values.
 */
#include "common/base.h"

#include "import/csv.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)                                                                     \
    do {                                                                                \
        if (!(cond)) {                                                                  \
            fprintf(stderr, "fuzz_csv: check failed: %s (line %d)\n", #cond, __LINE__); \
            abort();                                                                    \
        }                                                                               \
    } while (0)

struct src {
    const uint8_t *data;
    size_t len, pos;
};

static enum rc read3(void *ctx, char *buf, size_t cap, size_t *got, struct err *e)
{
    UNUSED(e);
    struct src *s = ctx;
    CHECK(cap > 0);
    size_t n = MIN(MIN(cap, (size_t)3), s->len - s->pos);
    memcpy(buf, s->data + s->pos, n);
    s->pos += n;
    *got = n;
    return RC_OK;
}

struct bytes {
    char *p;
    size_t len, alloc;
};

static void put(struct bytes *b, const void *p, size_t n)
{
    if (b->len + n > b->alloc) {
        b->alloc = (b->len + n) * 2;
        b->p = xrealloc(b->p, b->alloc);
    }
    memcpy(b->p + b->len, p, n);
    b->len += n;
}

static bool same(const struct bytes *a, const struct bytes *b)
{
    return a->len == b->len && (a->len == 0 || memcmp(a->p, b->p, a->len) == 0);
}

/*
 * Everything one pass produced: 'full' has per row the line and field count,
 * then per field the quoted flag, length and bytes; 'values' only the field
 * counts and values; 'csv' the rows written back as CSV, every field quoted.
 */
struct trace {
    struct bytes full, values, csv;
    enum rc rc;
    char msg[ERR_MSG_MAX];
    uint64_t consumed;
};

static void trace_free(struct trace *t)
{
    free(t->full.p);
    free(t->values.p);
    free(t->csv.p);
}

/* Write a field in quotes so that it reads back as the same bytes. */
static void put_quoted(struct bytes *b, const char *p, size_t len)
{
    put(b, "\"", 1);
    for (size_t i = 0; i < len; i++) {
        if (p[i] == '"')
            put(b, "\"\"", 2);
        else if (p[i] == '\\')
            put(b, "\\\\", 2);
        else
            put(b, &p[i], 1);
    }
    put(b, "\"", 1);
}

static void run(struct csv_reader *r, size_t size, struct trace *t)
{
    struct err e = ERR_INIT;
    uint64_t total = 0; /* field bytes over all rows */
    uint64_t last_line = 0;
    for (;;) {
        struct csv_row row;
        enum rc rc = csv_next(r, &row, &e);
        if (rc) {
            CHECK(e.rc == rc);
            CHECK(rc == RC_PARSE || rc == RC_LIMIT_EXCEEDED);
            CHECK(strncmp(e.msg, "fuzz.csv:", 9) == 0); /* errors name the input */
            t->rc = rc;
            strlcpy_(t->msg, e.msg, sizeof(t->msg));
            break;
        }
        CHECK(csv_bytes_consumed(r) <= size);
        if (row.n == 0) {
            CHECK(csv_bytes_consumed(r) == size); /* the end means all input was read */
            break;
        }
        CHECK(row.n <= CSV_MAX_FIELDS);
        CHECK(row.line > last_line); /* records start on later and later lines */
        CHECK(row.line <= (uint64_t)size + 1);
        last_line = row.line;
        put(&t->full, &row.line, sizeof(row.line));
        put(&t->full, &row.n, sizeof(row.n));
        put(&t->values, &row.n, sizeof(row.n));
        for (size_t k = 0; k < row.n; k++) {
            const struct csv_field *f = &row.fields[k];
            CHECK(f->p != NULL);
            CHECK(f->p[f->len] == '\0');
            CHECK(f->len <= CSV_MAX_FIELD_BYTES);
            CHECK(memchr(f->p, '\0', f->len) == NULL); /* NUL bytes are refused */
            total += f->len;
            char q = f->quoted ? 1 : 0;
            put(&t->full, &q, 1);
            put(&t->full, &f->len, sizeof(f->len));
            put(&t->full, f->p, f->len);
            put(&t->values, &f->len, sizeof(f->len));
            put(&t->values, f->p, f->len);
            if (k) put(&t->csv, ",", 1);
            put_quoted(&t->csv, f->p, f->len);
        }
        put(&t->csv, "\r\n", 2);
        CHECK(total <= size); /* unquoting never makes data */
    }
    t->consumed = csv_bytes_consumed(r);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct trace a = {0}, b = {0}, c = {0};

    struct csv_reader *r = csv_reader_new_memory((const char *)data, size, "fuzz.csv");
    run(r, size, &a);
    csv_reader_free(r);

    struct src s = {data, size, 0};
    r = csv_reader_new(read3, &s, "fuzz.csv");
    run(r, size, &b);
    csv_reader_free(r);

    /* Small reads change nothing. */
    CHECK(a.rc == b.rc);
    CHECK(strcmp(a.msg, b.msg) == 0);
    CHECK(same(&a.full, &b.full));
    if (a.rc == RC_OK) CHECK(a.consumed == b.consumed);

    /* The rows read so far, written back with every field quoted, read back the same. */
    r = csv_reader_new_memory(a.csv.p ? a.csv.p : "", a.csv.len, "fuzz.csv");
    run(r, a.csv.len, &c);
    csv_reader_free(r);
    CHECK(c.rc == RC_OK);
    CHECK(same(&a.values, &c.values));

    trace_free(&a);
    trace_free(&b);
    trace_free(&c);
    return 0;
}
