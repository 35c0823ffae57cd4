/*
 * evaluate.c: train on a split, score the test users, average the metrics.
 */
#include "common/base.h"
#include "eval/evaluate.h"
#include "common/clock.h"
#include "models/engine.h"
#include "models/modelfile.h"

#include <math.h>
#include <pthread.h>
#include <unistd.h>

#define EVAL_MAX_THREADS  64
#define EVAL_KIND_VERSION 1 /* in-memory models are never read back from disk */

void openblas_set_num_threads(int num_threads);
int openblas_get_num_threads(void);

void eval_data_init(struct eval_data *d, struct store *s, const struct resource *group,
                    int64_t dataset_id, const struct train_data *full, int threads)
{
    memset(d, 0, sizeof(*d));
    d->store = s;
    d->group = group;
    d->dataset_id = dataset_id;
    d->last_chunk = full->last_chunk;
    d->nusers = full->ui->nrows;
    d->nitems = full->ui->ncols;
    d->w = &full->weigher;
    if (threads <= 0) {
        long n = sysconf(_SC_NPROCESSORS_ONLN);
        threads = n > 0 ? (int)n : 1;
    }
    d->threads = threads;
}

void eval_data_release(struct eval_data *d)
{
    if (!d) return;
    csr_free(d->item_features);
    memset(d, 0, sizeof(*d));
}

static enum rc scan_store(void *src, split_visit_fn visit, void *ctx, struct err *e)
{
    struct eval_data *d = src;
    return store_interactions_scan_range(d->store, d->dataset_id, 0, d->last_chunk, visit, ctx, e);
}

enum rc eval_split(struct eval_data *d, const struct split_opts *o, const struct split *base,
                   struct split *out, struct err *e)
{
    return split_make(scan_store, d, d->nusers, d->w, o, base, out, e);
}

json_t *eval_metrics_json(const double m[METRIC_COUNT])
{
    json_t *o = json_object();
    for (int i = 0; i < METRIC_COUNT; i++)
        json_object_set_new(o, metric_names[i], json_real(round(m[i] * 1e6) / 1e6));
    return o;
}

/* ---- Scoring ---------------------------------------------------------------- */

struct scorer {
    const struct recipe *r;
    void *state;
    const struct csr *ui;          /* the evaluation training matrix: test users' inputs */
    const int64_t *last_seen;      /* per entry of ui (train_data.last_seen) */
    struct answer_recency recency; /* applied to inputs as the answering engine does */
    const float *pop;          /* column sums of ui: tie-break, and candidates without a section */
    const uint8_t *candidates; /* the recipe's own candidate set, or NULL */
    const struct split *sp;
    uint32_t nitems;
    uint32_t *recs;   /* ntest x METRICS_K */
    uint8_t *nrecs;   /* per test user */
    double *per_user; /* ntest x METRIC_COUNT */
    uint32_t next;    /* next test user to take (under mu) */
    pthread_mutex_t mu;
    const volatile sig_atomic_t *cancel;
    enum rc rc;
    struct err err;
};

struct ranked {
    uint32_t item;
    float score;
    bool scored;
};

/* As GetRecommendations orders: scored first, higher score, more popular, lower index. */
static int ranked_cmp(const struct ranked *x, const struct ranked *y, const float *pop)
{
    if (x->scored != y->scored) return x->scored ? -1 : 1;
    if (x->scored && x->score != y->score) return x->score > y->score ? -1 : 1;
    if (pop[x->item] != pop[y->item]) return pop[x->item] > pop[y->item] ? -1 : 1;
    return x->item < y->item ? -1 : x->item > y->item;
}

/* Keep the best METRICS_K in a heap whose root is the worst kept. */
static void heap_push(struct ranked *h, size_t *len, struct ranked c, const float *pop)
{
    size_t i;
    if (*len == METRICS_K) {
        if (ranked_cmp(&c, &h[0], pop) >= 0) return;
        i = 0;
        for (;;) { /* replace the root and sift down */
            size_t l = 2 * i + 1, r = l + 1, w = i;
            const struct ranked *wv = &c;
            if (l < *len && ranked_cmp(&h[l], wv, pop) > 0) {
                w = l;
                wv = &h[l];
            }
            if (r < *len && ranked_cmp(&h[r], wv, pop) > 0) w = r;
            if (w == i) break;
            h[i] = h[w];
            i = w;
        }
        h[i] = c;
        return;
    }
    i = (*len)++;
    while (i > 0 && ranked_cmp(&c, &h[(i - 1) / 2], pop) > 0) {
        h[i] = h[(i - 1) / 2];
        i = (i - 1) / 2;
    }
    h[i] = c;
}

static int ranked_qsort(const void *a, const void *b, void *pop)
{
    return ranked_cmp(a, b, pop);
}

static enum rc score_one(struct scorer *s, uint32_t t, float *scores, uint8_t *seen, struct err *e)
{
    uint32_t u = s->sp->users[t];
    const uint64_t lo = s->ui->indptr[u], hi = s->ui->indptr[u + 1];
    const uint32_t *items = s->ui->indices + lo;
    const float *w = s->ui->values + lo;
    size_t n = (size_t)(hi - lo);
    enum rc rc = RC_OK;
    if (s->r->kind == RECIPE_RELATED_ITEMS) {
        uint32_t last = s->sp->last_input[t];
        if (last == UINT32_MAX || last >= s->nitems) {
            for (uint32_t j = 0; j < s->nitems; j++)
                scores[j] = NAN;
        } else {
            rc = s->r->score_item(s->state, last, scores, e);
            scores[last] = -INFINITY;
        }
    } else if (n == 0 && s->r->kind != RECIPE_POPULAR_ITEMS) {
        for (uint32_t j = 0; j < s->nitems; j++)
            scores[j] = NAN; /* no input: popular items, as for a new user */
    } else if (s->recency.half_life > 0) {
        float *wr = xmallocarray(n, sizeof(float));
        memcpy(wr, w, n * sizeof(float));
        answer_recency_apply(&s->recency, s->last_seen + lo, wr, n);
        rc = s->r->score_user(s->state, items, wr, n, scores, e);
        free(wr);
    } else {
        rc = s->r->score_user(s->state, items, w, n, scores, e);
    }
    if (rc) return rc;
    for (size_t k = 0; k < n; k++)
        seen[items[k]] = 1;
    struct ranked heap[METRICS_K];
    size_t len = 0;
    for (uint32_t j = 0; j < s->nitems; j++) {
        bool cand = s->candidates ? s->candidates[j] != 0 : s->pop[j] > 0;
        if (!cand || seen[j] || scores[j] == -INFINITY) continue;
        heap_push(heap, &len, (struct ranked){j, scores[j], !isnan(scores[j])}, s->pop);
    }
    for (size_t k = 0; k < n; k++)
        seen[items[k]] = 0;
    qsort_r(heap, len, sizeof(*heap), ranked_qsort, (void *)s->pop);
    uint32_t *out = s->recs + (size_t)t * METRICS_K;
    for (size_t k = 0; k < len; k++)
        out[k] = heap[k].item;
    s->nrecs[t] = (uint8_t)len;
    const uint64_t t0 = s->sp->target_indptr[t], t1 = s->sp->target_indptr[t + 1];
    metrics_user(out, len, s->sp->targets + t0, (size_t)(t1 - t0),
                 s->per_user + (size_t)t * METRIC_COUNT);
    return RC_OK;
}

static void *score_thread(void *arg)
{
    struct scorer *s = arg;
    float *scores = xmallocarray(s->nitems ? s->nitems : 1, sizeof(float));
    uint8_t *seen = xcalloc(s->nitems ? s->nitems : 1, 1);
    struct err e = ERR_INIT;
    for (;;) {
        pthread_mutex_lock(&s->mu);
        uint32_t t = s->next;
        bool stop = s->rc != RC_OK || t >= s->sp->ntest || (s->cancel && *s->cancel);
        if (!stop) s->next += 16;
        pthread_mutex_unlock(&s->mu);
        if (stop) break;
        uint32_t end = MIN(t + 16, s->sp->ntest);
        enum rc rc = RC_OK;
        for (; t < end && !rc; t++)
            rc = score_one(s, t, scores, seen, &e);
        if (rc) {
            pthread_mutex_lock(&s->mu);
            if (!s->rc) {
                s->rc = rc;
                s->err = e;
            }
            pthread_mutex_unlock(&s->mu);
        }
    }
    free(scores);
    free(seen);
    return NULL;
}

static enum rc score_all(struct scorer *s, int threads, struct err *e)
{
    int saved = openblas_get_num_threads();
    openblas_set_num_threads(1); /* one sgemv per user, in parallel: no nested BLAS threads */
    pthread_mutex_init(&s->mu, NULL);
    if (threads < 1) threads = 1;
    if (threads > EVAL_MAX_THREADS) threads = EVAL_MAX_THREADS;
    pthread_t tids[EVAL_MAX_THREADS];
    int started = 0;
    for (int i = 1; i < threads; i++) {
        if (pthread_create(&tids[started], NULL, score_thread, s) != 0) break;
        started++;
    }
    score_thread(s);
    for (int i = 0; i < started; i++)
        pthread_join(tids[i], NULL);
    pthread_mutex_destroy(&s->mu);
    openblas_set_num_threads(saved > 0 ? saved : 1);
    if (s->rc) {
        *e = s->err;
        return s->rc;
    }
    if (s->cancel && *s->cancel) return err_set(e, RC_INTERNAL, "evaluation cancelled");
    return RC_OK;
}

/* ---- Training the evaluation model ----------------------------------------- */

static bool cancel_only(void *ctx, uint32_t it, uint32_t total, double loss)
{
    UNUSED(it);
    UNUSED(total);
    UNUSED(loss);
    const volatile sig_atomic_t *cancel = ctx;
    return !(cancel && *cancel);
}

static void dump_user(FILE *f, const struct train_data *td, const struct scorer *s, uint32_t t)
{
    uint32_t u = s->sp->users[t];
    json_t *input = json_array(), *targets = json_array(), *recs = json_array();
    for (uint64_t k = td->ui->indptr[u]; k < td->ui->indptr[u + 1]; k++)
        json_array_append_new(input, json_string(strmap_key(td->items, td->ui->indices[k], NULL)));
    for (uint64_t k = s->sp->target_indptr[t]; k < s->sp->target_indptr[t + 1]; k++)
        json_array_append_new(targets, json_string(strmap_key(td->items, s->sp->targets[k], NULL)));
    for (uint32_t k = 0; k < s->nrecs[t]; k++)
        json_array_append_new(
            recs, json_string(strmap_key(td->items, s->recs[(size_t)t * METRICS_K + k], NULL)));
    json_t *o = json_pack("{s:s,s:o,s:o,s:o}", "userId", strmap_key(td->users, u, NULL), "input",
                          input, "targets", targets, "recommended", recs);
    json_dumpf(o, f, JSON_COMPACT);
    fputc('\n', f);
    json_decref(o);
}

enum rc eval_model(struct eval_data *d, const struct recipe *r, const struct params *p,
                   const struct weighting *w, const struct split *sp, struct eval_result *out,
                   FILE *dump, struct err *e)
{
    double t0 = clock_monotonic();
    memset(out, 0, sizeof(*out));
    if (r->kind == RECIPE_RELATED_ITEMS ? !r->score_item : !r->score_user)
        return err_set(e, RC_INVALID_INPUT, "recipe %s cannot be evaluated", r->name);
    struct train_data td = {0};
    enum rc rc = train_data_load_except(d->store, d->group->id, d->dataset_id, w, d->last_chunk,
                                        sp->held, &td, e);
    if (rc) return rc;
    if (td.events_used == 0) {
        train_data_release(&td);
        return err_set(
            e, RC_INVALID_INPUT,
            "evaluation: no interactions left to train on after holding out the test part");
    }
    /* Built once per item count (the item map may grow while an import runs). */
    if (r->uses_item_metadata && (!d->item_features || d->item_features->nrows != td.ui->ncols)) {
        csr_free(d->item_features);
        d->item_features = NULL;
        rc = engine_item_features(d->store, d->group, td.ui->ncols, &d->item_features, e);
        if (rc) {
            train_data_release(&td);
            return rc;
        }
    }
    const struct csr *ui = td.ui;
    float *pop = xcalloc(ui->ncols ? ui->ncols : 1, sizeof(float));
    for (uint64_t k = 0; k < ui->nnz; k++)
        pop[ui->indices[k]] += ui->values[k];
    struct modelfile_writer *mw = modelfile_writer_new(r->name, EVAL_KIND_VERSION);
    struct train_input in = {.data = &td,
                             .store = d->store,
                             .dataset_id = d->dataset_id,
                             .item_features = d->item_features,
                             .params = p,
                             .threads = d->threads,
                             .progress = cancel_only,
                             .progress_ctx = (void *)d->cancel};
    void *bytes = NULL;
    size_t nbytes = 0;
    struct modelfile *mf = NULL;
    void *state = NULL;
    rc = r->train(&in, mw, e);
    if (!rc) rc = modelfile_add(mw, "popularity", pop, (size_t)ui->ncols * sizeof(float), e);
    if (!rc) rc = modelfile_write_memory(mw, &bytes, &nbytes, e);
    modelfile_writer_free(mw);
    if (!rc) rc = modelfile_open_memory(bytes, nbytes, "evaluation model", &mf, e);
    if (!rc) rc = r->load(mf, p, &state, e);
    struct scorer s = {.r = r,
                       .state = state,
                       .ui = ui,
                       .last_seen = td.last_seen,
                       .pop = pop,
                       .sp = sp,
                       .nitems = ui->ncols,
                       .cancel = d->cancel};
    answer_recency_from_params(p, &s.recency);
    if (!rc) {
        const void *cand;
        size_t lcand;
        if (modelfile_section(mf, "candidates", 1, &cand, &lcand, NULL) == RC_OK &&
            lcand == ui->ncols)
            s.candidates = cand;
        s.recs = xcalloc((size_t)sp->ntest * METRICS_K + 1, sizeof(uint32_t));
        s.nrecs = xcalloc((size_t)sp->ntest + 1, 1);
        s.per_user = xcalloc((size_t)sp->ntest * METRIC_COUNT + 1, sizeof(double));
        rc = score_all(&s, d->threads, e);
    }
    if (!rc) {
        uint8_t *listed = xcalloc(ui->ncols ? ui->ncols : 1, 1);
        uint64_t distinct = 0, catalog = 0;
        for (size_t k = 0; k < (size_t)sp->ntest * METRICS_K; k++)
            if (k % METRICS_K < s.nrecs[k / METRICS_K] && !listed[s.recs[k]]) {
                listed[s.recs[k]] = 1;
                distinct++;
            }
        for (uint32_t j = 0; j < ui->ncols; j++)
            catalog += s.candidates ? s.candidates[j] != 0 : pop[j] > 0;
        free(listed);
        metrics_mean(s.per_user, sp->ntest, distinct, catalog, out->metrics);
        out->users = sp->ntest;
        out->catalog = (uint32_t)catalog;
        if (dump)
            for (uint32_t t = 0; t < sp->ntest; t++)
                dump_user(dump, &td, &s, t);
    }
    if (state) r->unload(state);
    modelfile_close(mf);
    free(bytes);
    free(s.recs);
    free(s.nrecs);
    free(s.per_user);
    free(pop);
    train_data_release(&td);
    out->seconds = clock_monotonic() - t0;
    return rc;
}

enum rc eval_settings(struct eval_data *d, const struct recipe *r, const struct param_kv *kv,
                      size_t n, const struct weighting *w, const struct split *sp,
                      struct eval_result *out, struct err *e)
{
    struct params p = {0};
    enum rc rc = params_resolve(r->params, kv, n, &p, e);
    if (!rc && r->validate) rc = r->validate(&p, e);
    if (!rc) rc = eval_model(d, r, &p, w, sp, out, NULL, e);
    params_release(&p);
    return rc;
}
