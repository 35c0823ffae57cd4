/*
 * csv.c: the CSV record parser.
 *
 * Input is read into a window [pos, end) of 'in'. A record is parsed from
 * 'pos' into 'out' (field bytes, each NUL-terminated); the input window is
 * never modified, so when a record runs past the end of the window the parse
 * simply restarts from the record's first byte after more input is read.
 * Unquoted fields are copied a run at a time, found by a byte-class table.
 */
#include "common/base.h"
#include "import/csv.h"
#include "common/utf8.h"

#if defined(__SSE2__)
#    include <emmintrin.h>
#endif

#define CSV_READ_CHUNK (64u << 10)
#define LABEL_MAX      160

/* Bytes that end an unquoted run. */
static const unsigned char stop_class[256] = {
    [0] = 1, [','] = 1, ['\n'] = 1, ['\r'] = 1, ['"'] = 1,
};

/*
 * The end of an unquoted run starting at in[i]: the first byte in
 * stop_class, or 'end'. With SSE2 (every x86-64) 16 bytes are tested at a
 * time; the table finishes the tail.
 */
static inline size_t scan_plain(const char *in, size_t i, size_t end)
{
#if defined(__SSE2__)
    const __m128i comma = _mm_set1_epi8(','), lf = _mm_set1_epi8('\n'), cr = _mm_set1_epi8('\r'),
                  quote = _mm_set1_epi8('"'), nul = _mm_setzero_si128();
    while (i + 16 <= end) {
        __m128i v = _mm_loadu_si128((const __m128i *)(const void *)(in + i));
        __m128i hit =
            _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(v, comma), _mm_cmpeq_epi8(v, lf)),
                         _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(v, cr), _mm_cmpeq_epi8(v, quote)),
                                      _mm_cmpeq_epi8(v, nul)));
        unsigned mask = (unsigned)_mm_movemask_epi8(hit);
        if (mask) return i + (size_t)__builtin_ctz(mask);
        i += 16;
    }
#endif
    while (i < end && !stop_class[(unsigned char)in[i]])
        i++;
    return i;
}

struct csv_reader {
    csv_read_fn read;
    void *ctx;
    char *name;

    char *in; /* input window */
    size_t in_alloc;
    size_t pos, end;
    bool eof;
    bool at_start; /* nothing consumed yet: a BOM may follow */
    uint64_t consumed;
    uint64_t line; /* line number at 'pos' */

    char *out; /* field bytes of the current record */
    size_t out_alloc;
    struct csv_field *fields;
    size_t fields_alloc;

    char **names; /* column names for messages (csv_reader_set_names), owned */
    size_t nnames;

    /* Memory source, when created by csv_reader_new_memory. */
    const char *mem;
    size_t mem_len, mem_pos;
};

struct csv_reader *csv_reader_new(csv_read_fn fn, void *ctx, const char *name)
{
    struct csv_reader *r = xcalloc(1, sizeof(*r));
    r->read = fn;
    r->ctx = ctx;
    r->name = xstrdup(name ? name : "<input>");
    r->in_alloc = CSV_READ_CHUNK;
    r->in = xmalloc(r->in_alloc);
    r->out_alloc = 4096;
    r->out = xmalloc(r->out_alloc);
    r->fields_alloc = 16;
    r->fields = xmallocarray(r->fields_alloc, sizeof(*r->fields));
    r->line = 1;
    r->at_start = true;
    return r;
}

static enum rc memory_read(void *ctx, char *buf, size_t cap, size_t *got, struct err *e)
{
    UNUSED(e);
    struct csv_reader *r = ctx;
    size_t n = MIN(cap, r->mem_len - r->mem_pos);
    if (n) memcpy(buf, r->mem + r->mem_pos, n);
    r->mem_pos += n;
    *got = n;
    return RC_OK;
}

struct csv_reader *csv_reader_new_memory(const char *data, size_t len, const char *name)
{
    struct csv_reader *r = csv_reader_new(memory_read, NULL, name);
    r->ctx = r;
    /* Small inputs (fuzzing, tests) need no full-size window; refill() grows it on demand. */
    if (len + 1 < r->in_alloc) {
        r->in_alloc = len + 1 < 4096 ? 4096 : len + 1;
        r->in = xrealloc(r->in, r->in_alloc);
    }
    r->mem = data;
    r->mem_len = len;
    return r;
}

void csv_reader_set_names(struct csv_reader *r, const char *const *names, size_t n)
{
    for (size_t k = 0; k < r->nnames; k++)
        free(r->names[k]);
    free(r->names);
    r->names = xcalloc(n ? n : 1, sizeof(*r->names));
    for (size_t k = 0; k < n; k++)
        r->names[k] = xstrdup(names[k]);
    r->nnames = n;
}

/* " (NAME)" for field index k when names are known, else "". */
static const char *label(const struct csv_reader *r, size_t k, char *buf, size_t n)
{
    if (k >= r->nnames) return "";
    snprintf(buf, n, " (%s)", r->names[k]);
    return buf;
}

void csv_reader_free(struct csv_reader *r)
{
    if (!r) return;
    for (size_t k = 0; k < r->nnames; k++)
        free(r->names[k]);
    free(r->names);
    free(r->name);
    free(r->in);
    free(r->out);
    free(r->fields);
    free(r);
}

uint64_t csv_bytes_consumed(const struct csv_reader *r)
{
    return r->consumed;
}

const char *csv_reader_name(const struct csv_reader *r)
{
    return r->name;
}

/*
 * Move the unparsed tail to the front of the window and read more input.
 * Grows the window when a single record fills it, up to the record limit.
 */
static enum rc refill(struct csv_reader *r, struct err *e)
{
    size_t keep = r->end - r->pos;
    if (keep && r->pos) memmove(r->in, r->in + r->pos, keep);
    r->pos = 0;
    r->end = keep;
    if (keep == r->in_alloc) {
        if (r->in_alloc >= CSV_MAX_RECORD_BYTES + CSV_READ_CHUNK)
            return err_set(e, RC_LIMIT_EXCEEDED, "%s:%llu: record longer than %u bytes", r->name,
                           (unsigned long long)r->line, CSV_MAX_RECORD_BYTES);
        r->in_alloc *= 2;
        r->in = xrealloc(r->in, r->in_alloc);
    }
    size_t got = 0;
    enum rc rc = r->read(r->ctx, r->in + r->end, r->in_alloc - r->end, &got, e);
    if (rc) return rc;
    if (got == 0) r->eof = true;
    r->end += got;
    return RC_OK;
}

/* Outcome of one attempt to parse a record from the window. */
enum attempt { GOT_RECORD, NEED_MORE, FAILED };

static void out_reserve(struct csv_reader *r, size_t used, size_t extra)
{
    if (used + extra <= r->out_alloc) return;
    size_t want = r->out_alloc;
    while (want < used + extra)
        want *= 2;
    r->out = xrealloc(r->out, want);
    r->out_alloc = want;
}

/*
 * Try to parse one record starting at r->pos. On GOT_RECORD the fields are
 * in r->out / r->fields and *nfields, *next_pos and *lines are set.
 */
static enum attempt parse_record(struct csv_reader *r, size_t *nfields, size_t *next_pos,
                                 uint64_t *lines, struct err *e)
{
    const char *in = r->in;
    size_t end = r->end;
    size_t i = r->pos;
    size_t used = 0;
    size_t nf = 0;
    uint64_t nl = 0; /* newlines consumed inside quoted fields */
    size_t starts[CSV_MAX_FIELDS + 1];
    bool quoted[CSV_MAX_FIELDS + 1];
    char lb[LABEL_MAX];

    for (;;) {
        if (nf == CSV_MAX_FIELDS) {
            err_set(e, RC_LIMIT_EXCEEDED, "%s:%llu: field %d: more than %d fields in one record",
                    r->name, (unsigned long long)(r->line), CSV_MAX_FIELDS + 1, CSV_MAX_FIELDS);
            return FAILED;
        }
        size_t field_start = used;
        bool is_quoted = false;
        if (i < end && in[i] == '"') {
            /* Quoted field: copy runs between quotes and backslashes. */
            is_quoted = true;
            i++;
            for (;;) {
                size_t j = i;
                while (j < end && in[j] != '"' && in[j] != '\\' && in[j] != '\0') {
                    /* Count line ends as the record loop does: LF, CRLF, or a lone CR. */
                    if (in[j] == '\n' || (in[j] == '\r' && j + 1 < end && in[j + 1] != '\n')) nl++;
                    j++;
                }
                out_reserve(r, used, j - i + 2);
                memcpy(r->out + used, in + i, j - i);
                used += j - i;
                i = j;
                if (i >= end) {
                    if (!r->eof) return NEED_MORE;
                    err_set(
                        e, RC_PARSE,
                        "%s:%llu: field %zu%s: unterminated quoted field (no closing '\"' before end of input)",
                        r->name, (unsigned long long)r->line, nf + 1, label(r, nf, lb, sizeof(lb)));
                    return FAILED;
                }
                if (in[i] == '\0') {
                    err_set(e, RC_PARSE, "%s:%llu: field %zu%s: NUL byte in input (binary data?)",
                            r->name, (unsigned long long)(r->line + nl), nf + 1,
                            label(r, nf, lb, sizeof(lb)));
                    return FAILED;
                }
                if (i + 1 >= end && !r->eof) return NEED_MORE;
                if (in[i] == '\\') {
                    /* Personalize's escapes: \" and \\; any other backslash is literal. */
                    if (i + 1 < end && (in[i + 1] == '"' || in[i + 1] == '\\')) {
                        r->out[used++] = in[i + 1];
                        i += 2;
                    } else {
                        r->out[used++] = '\\';
                        i++;
                    }
                    continue;
                }
                /* in[i] == '"' */
                if (i + 1 < end && in[i + 1] == '"') {
                    r->out[used++] = '"';
                    i += 2;
                    continue;
                }
                i++; /* closing quote */
                break;
            }
            if (i < end && in[i] != ',' && in[i] != '\n' && in[i] != '\r') {
                err_set(
                    e, RC_PARSE,
                    "%s:%llu: field %zu%s: unexpected character after closing quote; expected ',' or end of line",
                    r->name, (unsigned long long)(r->line + nl), nf + 1,
                    label(r, nf, lb, sizeof(lb)));
                return FAILED;
            }
        } else {
            size_t j = scan_plain(in, i, end);
            /* An unfinished field is judged only once it is whole, whatever the read size. */
            if (j >= end && !r->eof) return NEED_MORE;
            if (j < end && in[j] == '"') {
                err_set(
                    e, RC_PARSE,
                    "%s:%llu: field %zu%s: '\"' inside an unquoted field; quote the whole field and write the quote as \"\"",
                    r->name, (unsigned long long)(r->line + nl), nf + 1,
                    label(r, nf, lb, sizeof(lb)));
                return FAILED;
            }
            if (j < end && in[j] == '\0') {
                err_set(e, RC_PARSE, "%s:%llu: field %zu%s: NUL byte in input (binary data?)",
                        r->name, (unsigned long long)(r->line + nl), nf + 1,
                        label(r, nf, lb, sizeof(lb)));
                return FAILED;
            }
            out_reserve(r, used, j - i + 1);
            memcpy(r->out + used, in + i, j - i);
            used += j - i;
            i = j;
        }
        if (used - field_start > CSV_MAX_FIELD_BYTES) {
            err_set(e, RC_LIMIT_EXCEEDED, "%s:%llu: field %zu%s: longer than %u bytes", r->name,
                    (unsigned long long)r->line, nf + 1, label(r, nf, lb, sizeof(lb)),
                    CSV_MAX_FIELD_BYTES);
            return FAILED;
        }
        out_reserve(r, used, 1);
        r->out[used++] = '\0';
        starts[nf] = field_start;
        quoted[nf] = is_quoted;
        nf++;

        /* Delimiter: ',' continues the record; a line end or EOF ends it. */
        if (i >= end) {
            if (!r->eof) return NEED_MORE;
            break;
        }
        if (in[i] == ',') {
            i++;
            continue;
        }
        if (in[i] == '\r') {
            if (i + 1 >= end && !r->eof) return NEED_MORE;
            i++;
            if (i < end && in[i] == '\n') i++;
            nl++;
            break;
        }
        /* '\n' */
        i++;
        nl++;
        break;
    }

    if (nf > r->fields_alloc) {
        r->fields_alloc = nf;
        r->fields = xreallocarray(r->fields, nf, sizeof(*r->fields));
    }
    for (size_t k = 0; k < nf; k++) {
        size_t stop = k + 1 < nf ? starts[k + 1] - 1 : used - 1;
        r->fields[k].p = r->out + starts[k];
        r->fields[k].len = stop - starts[k];
        r->fields[k].quoted = quoted[k];
    }
    *nfields = nf;
    *next_pos = i;
    *lines = nl;
    return GOT_RECORD;
}

/* Skip blank lines (and a BOM at the very start); returns false if more input is needed. */
static bool skip_blank(struct csv_reader *r)
{
    if (r->at_start) {
        if (r->end - r->pos < 3 && !r->eof) return false;
        if (r->end - r->pos >= 3 && memcmp(r->in + r->pos, "\xEF\xBB\xBF", 3) == 0) {
            r->pos += 3;
            r->consumed += 3;
        }
        r->at_start = false;
    }
    while (r->pos < r->end) {
        char c = r->in[r->pos];
        if (c == '\n') {
            r->line++;
        } else if (c == '\r') {
            if (r->pos + 1 >= r->end && !r->eof) return false;
            if (r->pos + 1 < r->end && r->in[r->pos + 1] == '\n') {
                r->pos++;
                r->consumed++;
            }
            r->line++;
        } else {
            break;
        }
        r->pos++;
        r->consumed++;
    }
    return true;
}

static enum rc check_utf8(struct csv_reader *r, size_t nf, struct err *e)
{
    /* The fields lie back to back in 'out', NUL-separated: check them in one pass. */
    size_t total = (size_t)(r->fields[nf - 1].p - r->out) + r->fields[nf - 1].len;
    size_t bad = utf8_invalid_at(r->out, total);
    if (bad == total) return RC_OK;
    size_t k = 0;
    while (k + 1 < nf && r->fields[k + 1].p <= r->out + bad)
        k++;
    char lb[LABEL_MAX];
    return err_set(e, RC_PARSE, "%s:%llu: field %zu%s: invalid UTF-8 (byte 0x%02X at offset %zu)",
                   r->name, (unsigned long long)r->line, k + 1, label(r, k, lb, sizeof(lb)),
                   (unsigned char)r->out[bad], (size_t)(r->out + bad - r->fields[k].p));
}

enum rc csv_next(struct csv_reader *r, struct csv_row *row, struct err *e)
{
    enum rc rc;
    row->fields = NULL;
    row->n = 0;
    row->line = r->line;
    for (;;) {
        if (!skip_blank(r) || (r->pos >= r->end && !r->eof)) {
            rc = refill(r, e);
            if (rc) return rc;
            continue;
        }
        if (r->pos >= r->end) return RC_OK; /* end of input */

        size_t nf, next;
        uint64_t lines;
        enum attempt a = parse_record(r, &nf, &next, &lines, e);
        if (a == FAILED) return e ? e->rc : RC_PARSE;
        if (a == NEED_MORE) {
            /* +2: the line end is not part of the record (the exact check is below). */
            if (r->end - r->pos > CSV_MAX_RECORD_BYTES + 2)
                return err_set(e, RC_LIMIT_EXCEEDED, "%s:%llu: record longer than %u bytes",
                               r->name, (unsigned long long)r->line, CSV_MAX_RECORD_BYTES);
            rc = refill(r, e);
            if (rc) return rc;
            continue;
        }
        size_t rec = next - r->pos; /* the record's bytes without its line end */
        if (rec && r->in[r->pos + rec - 1] == '\n') rec--;
        if (rec && r->in[r->pos + rec - 1] == '\r') rec--;
        if (rec > CSV_MAX_RECORD_BYTES)
            return err_set(e, RC_LIMIT_EXCEEDED, "%s:%llu: record longer than %u bytes", r->name,
                           (unsigned long long)r->line, CSV_MAX_RECORD_BYTES);
        rc = check_utf8(r, nf, e);
        if (rc) return rc;
        row->fields = r->fields;
        row->n = nf;
        row->line = r->line;
        r->consumed += next - r->pos;
        r->pos = next;
        r->line += lines;
        return RC_OK;
    }
}

enum rc csv_expect_fields(const struct csv_reader *r, const struct csv_row *row, size_t want,
                          struct err *e)
{
    if (row->n == want) return RC_OK;
    return err_set(e, RC_INVALID_INPUT,
                   "%s:%llu: expected %zu fields (as in the header), found %zu", r->name,
                   (unsigned long long)row->line, want, row->n);
}
