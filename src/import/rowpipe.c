/*
 * rowpipe.c: a bounded ring of row batches between a reader thread and the
 * importer, guarded by one mutex and two condition variables.
 */
#include "common/base.h"
#include "import/rowpipe.h"
#include "common/strmap.h"

#include <pthread.h>

#define PIPE_SLOTS      3
#define BATCH_ROWS      8192
#define BATCH_MAX_BYTES (2u << 20)

struct slot {
    struct row_batch b;
    char *bytes; /* field bytes, each NUL-terminated */
    size_t bytes_len, bytes_alloc;
    size_t *offsets; /* per field: offset into bytes */
    struct csv_field *fields;
    uint64_t *lines;
    uint32_t *hashes;
};

struct rowpipe {
    struct csv_reader *r;
    size_t ncols;
    bool *hash_cols;
    uint64_t (*offset_fn)(void *ctx);
    void *ctx;

    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t filled, freed;
    struct slot slots[PIPE_SLOTS];
    size_t head, count;  /* ring of filled slots: head is the oldest */
    bool done;           /* reader finished: end of input or error */
    bool stop;           /* importer asked the reader to stop */
    bool consumer_holds; /* the importer holds the slot at head */
    enum rc rc;
    struct err err;
};

static enum rc fill(struct rowpipe *p, struct slot *s, bool *eof)
{
    s->bytes_len = 0;
    s->b.nrows = 0;
    size_t ncols = p->ncols;
    struct csv_row row;
    enum rc rc = RC_OK;
    while (s->b.nrows < BATCH_ROWS && s->bytes_len < BATCH_MAX_BYTES) {
        if ((rc = csv_next(p->r, &row, &p->err))) break;
        if (!row.n) {
            *eof = true;
            break;
        }
        if ((rc = csv_expect_fields(p->r, &row, ncols, &p->err))) break;
        size_t r = s->b.nrows;
        size_t need = 0;
        for (size_t k = 0; k < ncols; k++)
            need += row.fields[k].len + 1;
        if (s->bytes_len + need > s->bytes_alloc) {
            s->bytes_alloc = (s->bytes_len + need) * 2;
            s->bytes = xrealloc(s->bytes, s->bytes_alloc);
        }
        for (size_t k = 0; k < ncols; k++) {
            size_t i = r * ncols + k;
            s->offsets[i] = s->bytes_len;
            s->fields[i].len = row.fields[k].len;
            s->fields[i].quoted = row.fields[k].quoted;
            memcpy(s->bytes + s->bytes_len, row.fields[k].p, row.fields[k].len + 1);
            if (p->hash_cols[k]) s->hashes[i] = strmap_hash(row.fields[k].p, row.fields[k].len);
            s->bytes_len += row.fields[k].len + 1;
        }
        s->lines[r] = row.line;
        s->b.nrows++;
    }
    /* Pointers are fixed up only now: 'bytes' may have moved while growing. */
    for (size_t i = 0; i < s->b.nrows * ncols; i++)
        s->fields[i].p = s->bytes + s->offsets[i];
    s->b.input_offset = p->offset_fn ? p->offset_fn(p->ctx) : csv_bytes_consumed(p->r);
    return rc;
}

static void *reader_main(void *arg)
{
    struct rowpipe *p = arg;
    bool eof = false;
    pthread_mutex_lock(&p->mu);
    while (!eof) {
        while (p->count == PIPE_SLOTS && !p->stop)
            pthread_cond_wait(&p->freed, &p->mu);
        if (p->stop) break;
        struct slot *s = &p->slots[(p->head + p->count) % PIPE_SLOTS];
        pthread_mutex_unlock(&p->mu);
        enum rc rc = fill(p, s, &eof);
        pthread_mutex_lock(&p->mu);
        if (s->b.nrows) {
            p->count++;
            pthread_cond_signal(&p->filled);
        }
        if (rc) {
            p->rc = rc;
            break;
        }
    }
    p->done = true;
    pthread_cond_signal(&p->filled);
    pthread_mutex_unlock(&p->mu);
    return NULL;
}

struct rowpipe *rowpipe_start(struct csv_reader *r, size_t ncols, const bool *hash_cols,
                              uint64_t (*offset_fn)(void *ctx), void *ctx)
{
    struct rowpipe *p = xcalloc(1, sizeof(*p));
    p->r = r;
    p->ncols = ncols;
    p->hash_cols = xcalloc(ncols, sizeof(bool));
    if (hash_cols) memcpy(p->hash_cols, hash_cols, ncols * sizeof(bool));
    p->offset_fn = offset_fn;
    p->ctx = ctx;
    for (size_t i = 0; i < PIPE_SLOTS; i++) {
        struct slot *s = &p->slots[i];
        s->offsets = xmallocarray(BATCH_ROWS * ncols, sizeof(*s->offsets));
        s->fields = xmallocarray(BATCH_ROWS * ncols, sizeof(*s->fields));
        s->lines = xmallocarray(BATCH_ROWS, sizeof(*s->lines));
        s->hashes = xcalloc(BATCH_ROWS * ncols, sizeof(*s->hashes));
        s->b.hashes = s->hashes;
        s->b.fields = s->fields;
        s->b.lines = s->lines;
        s->b.ncols = ncols;
    }
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->filled, NULL);
    pthread_cond_init(&p->freed, NULL);
    if (pthread_create(&p->thread, NULL, reader_main, p) != 0) {
        fprintf(stderr, "savor: cannot start the CSV reader thread\n");
        abort();
    }
    return p;
}

enum rc rowpipe_next(struct rowpipe *p, const struct row_batch **out, struct err *e)
{
    pthread_mutex_lock(&p->mu);
    if (p->consumer_holds) {
        /* Give back the batch returned last time. */
        p->head = (p->head + 1) % PIPE_SLOTS;
        p->count--;
        p->consumer_holds = false;
        pthread_cond_signal(&p->freed);
    }
    while (p->count == 0 && !p->done)
        pthread_cond_wait(&p->filled, &p->mu);
    enum rc rc = RC_OK;
    if (p->count) {
        *out = &p->slots[p->head].b;
        p->consumer_holds = true;
    } else {
        *out = NULL;
        rc = p->rc;
        if (rc && e) *e = p->err;
    }
    pthread_mutex_unlock(&p->mu);
    return rc;
}

void rowpipe_stop(struct rowpipe *p)
{
    if (!p) return;
    pthread_mutex_lock(&p->mu);
    p->stop = true;
    pthread_cond_signal(&p->freed);
    pthread_mutex_unlock(&p->mu);
    pthread_join(p->thread, NULL);
    pthread_mutex_destroy(&p->mu);
    pthread_cond_destroy(&p->filled);
    pthread_cond_destroy(&p->freed);
    for (size_t i = 0; i < PIPE_SLOTS; i++) {
        free(p->slots[i].bytes);
        free(p->slots[i].offsets);
        free(p->slots[i].fields);
        free(p->slots[i].lines);
        free(p->slots[i].hashes);
    }
    free(p->hash_cols);
    free(p);
}
