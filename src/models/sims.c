/*
 * sims.c: aws-sims, item-to-item similarity from co-occurrence.
 *
 * With n_i the number of users who interacted with item i and co(i, j) the
 * number who interacted with both,
 *
 *   sim(i, j) = co(i, j) / (n_i * n_j) ^ (d / 2)     for co(i, j) >= min_cointeraction_count
 *
 * where d = popularity_discount_factor: 0 ranks neighbours by raw
 * co-occurrence (popular items win), 1 is the cosine similarity of the
 * items' user sets (popularity fully discounted). Each item keeps its
 * 'neighbors' most similar items. Users with very long histories count
 * with their max_history strongest items only, which bounds training time.
 */
#include "common/base.h"
#include "models/recipe.h"

#include <math.h>

static const struct param_spec sims_params[] = {
    {"popularity_discount_factor", NULL, PARAM_FLOAT, "0.5", 0, 1,
     "0 = raw co-occurrence, 1 = cosine (popularity fully discounted)"},
    {"min_cointeraction_count", NULL, PARAM_INT, "3", 0, 1000000,
     "pairs seen together by fewer users are not neighbours"},
    {"neighbors", NULL, PARAM_INT, "100", 1, 1000, "neighbours kept per item"},
    {"max_history", NULL, PARAM_INT, "500", 10, 1000000,
     "items per user considered (the strongest by weight)"},
    {NULL, NULL, PARAM_INT, NULL, 0, 0, NULL},
};

struct cand {
    uint32_t item;
    float sim;
};

static int by_sim_desc(const void *a, const void *b)
{
    const struct cand *x = a, *y = b;
    if (x->sim != y->sim) return x->sim > y->sim ? -1 : 1;
    return x->item < y->item ? -1 : x->item > y->item;
}

struct wk {
    uint32_t item;
    float w;
};

static int by_weight_desc(const void *a, const void *b)
{
    const struct wk *x = a, *y = b;
    if (x->w != y->w) return x->w > y->w ? -1 : 1;
    return x->item < y->item ? -1 : x->item > y->item;
}

/* Each user's history, cut to the max_history strongest items (binary from here on). */
static struct csr *capped_histories(const struct csr *ui, uint32_t cap)
{
    uint64_t nnz = 0;
    for (uint32_t u = 0; u < ui->nrows; u++)
        nnz += MIN(ui->indptr[u + 1] - ui->indptr[u], (uint64_t)cap);
    uint32_t *rows = xmallocarray(nnz ? nnz : 1, sizeof(uint32_t));
    uint32_t *cols = xmallocarray(nnz ? nnz : 1, sizeof(uint32_t));
    float *vals = xmallocarray(nnz ? nnz : 1, sizeof(float));
    struct wk *tmp = NULL;
    size_t tmp_alloc = 0;
    uint64_t k = 0;
    for (uint32_t u = 0; u < ui->nrows; u++) {
        uint64_t lo = ui->indptr[u], len = ui->indptr[u + 1] - lo;
        if (len > tmp_alloc) {
            tmp_alloc = len;
            tmp = xreallocarray(tmp, tmp_alloc, sizeof(*tmp));
        }
        for (uint64_t i = 0; i < len; i++)
            tmp[i] = (struct wk){ui->indices[lo + i], ui->values[lo + i]};
        if (len > cap) qsort(tmp, len, sizeof(*tmp), by_weight_desc);
        for (uint64_t i = 0; i < MIN(len, (uint64_t)cap); i++) {
            rows[k] = u;
            cols[k] = tmp[i].item;
            vals[k] = 1;
            k++;
        }
    }
    struct csr *h = csr_from_triplets(ui->nrows, ui->ncols, rows, cols, vals, k);
    free(rows);
    free(cols);
    free(vals);
    free(tmp);
    return h;
}

/*
 * The neighbour lists both trainers build: per item, the best 'keep'
 * candidates by similarity, as a CSR of (item, similarity) written to the
 * sims_* sections that sims_load() reads.
 */
struct neighbours {
    uint32_t nitems, keep;
    uint64_t *indptr;
    uint32_t *items;
    float *sims;
    uint64_t total;
    struct cand *cands; /* per-item work space: nitems candidates */
};

static void neighbours_init(struct neighbours *nb, uint32_t nitems, uint32_t keep)
{
    nb->nitems = nitems;
    nb->keep = keep;
    nb->indptr = xcalloc((size_t)nitems + 1, sizeof(uint64_t));
    nb->items = xmallocarray((size_t)nitems * keep + 1, sizeof(uint32_t));
    nb->sims = xmallocarray((size_t)nitems * keep + 1, sizeof(float));
    nb->cands = xmallocarray((size_t)nitems + 1, sizeof(*nb->cands));
    nb->total = 0;
}

/* Item i's list: the best 'keep' of the nc candidates in nb->cands. Items in order. */
static void neighbours_add(struct neighbours *nb, uint32_t i, size_t nc)
{
    qsort(nb->cands, nc, sizeof(*nb->cands), by_sim_desc);
    nb->indptr[i] = nb->total;
    for (size_t c = 0; c < nc && c < nb->keep; c++) {
        nb->items[nb->total] = nb->cands[c].item;
        nb->sims[nb->total] = nb->cands[c].sim;
        nb->total++;
    }
    nb->indptr[i + 1] = nb->total;
}

static enum rc neighbours_write(const struct neighbours *nb, struct modelfile_writer *w,
                                struct err *e)
{
    enum rc rc;
    if (!(rc = modelfile_add(w, "sims_indptr", nb->indptr,
                             ((size_t)nb->nitems + 1) * sizeof(uint64_t), e)) &&
        !(rc = modelfile_add(w, "sims_items", nb->items, nb->total * sizeof(uint32_t), e)))
        rc = modelfile_add(w, "sims_scores", nb->sims, nb->total * sizeof(float), e);
    return rc;
}

static void neighbours_release(struct neighbours *nb)
{
    free(nb->indptr);
    free(nb->items);
    free(nb->sims);
    free(nb->cands);
    memset(nb, 0, sizeof(*nb));
}

/* Every 1024 items, report progress; false when the user cancelled. */
static bool keep_going(const struct train_input *in, uint32_t i, uint32_t nitems)
{
    return !in->progress || (i & 1023) || in->progress(in->progress_ctx, i, nitems, NAN);
}

static enum rc sims_train(const struct train_input *in, struct modelfile_writer *w, struct err *e)
{
    const struct params *p = in->params;
    double d = params_num(p, "popularity_discount_factor");
    uint32_t min_co = (uint32_t)params_num(p, "min_cointeraction_count");
    struct csr *h = capped_histories(in->data->ui, (uint32_t)params_num(p, "max_history"));
    struct csr *iu = csr_transpose(h);
    uint32_t nitems = h->ncols;
    struct neighbours nb;
    neighbours_init(&nb, nitems, (uint32_t)params_num(p, "neighbors"));
    uint32_t *co = xcalloc(nitems + 1, sizeof(uint32_t));
    uint32_t *touched = xmallocarray(nitems + 1, sizeof(uint32_t));
    enum rc rc = RC_OK;
    for (uint32_t i = 0; i < nitems && !rc; i++) {
        size_t ntouched = 0;
        for (uint64_t a = iu->indptr[i]; a < iu->indptr[i + 1]; a++) {
            uint32_t u = iu->indices[a];
            for (uint64_t k = h->indptr[u]; k < h->indptr[u + 1]; k++) {
                uint32_t j = h->indices[k];
                if (j == i) continue;
                if (!co[j]++) touched[ntouched++] = j;
            }
        }
        double ni = (double)(iu->indptr[i + 1] - iu->indptr[i]);
        size_t nc = 0;
        for (size_t t = 0; t < ntouched; t++) {
            uint32_t j = touched[t];
            if (co[j] >= min_co) {
                double nj = (double)(iu->indptr[j + 1] - iu->indptr[j]);
                nb.cands[nc++] = (struct cand){j, (float)((double)co[j] / pow(ni * nj, d / 2))};
            }
            co[j] = 0;
        }
        neighbours_add(&nb, i, nc);
        if (!keep_going(in, i, nitems)) rc = err_set(e, RC_CANCELLED, "training cancelled");
    }
    if (!rc) rc = neighbours_write(&nb, w, e);
    free(co);
    free(touched);
    neighbours_release(&nb);
    csr_free(h);
    csr_free(iu);
    return rc;
}

struct sims_state {
    const uint64_t *indptr;
    const uint32_t *items;
    const float *scores;
    uint32_t nitems;
    uint64_t total;
};

static enum rc sims_load(const struct modelfile *mf, const struct params *p, void **state,
                         struct err *e)
{
    UNUSED(p);
    const void *a, *b, *c;
    size_t la, lb, lc;
    enum rc rc;
    if ((rc = modelfile_section(mf, "sims_indptr", sizeof(uint64_t), &a, &la, e)) ||
        (rc = modelfile_section(mf, "sims_items", sizeof(uint32_t), &b, &lb, e)) ||
        (rc = modelfile_section(mf, "sims_scores", sizeof(float), &c, &lc, e)))
        return rc;
    struct sims_state *s = xcalloc(1, sizeof(*s));
    s->indptr = a;
    s->items = b;
    s->scores = c;
    s->nitems = la ? (uint32_t)(la / sizeof(uint64_t) - 1) : 0;
    s->total = lb / sizeof(uint32_t);
    /* Validate the structure once, so scoring can trust it. */
    bool ok = la >= sizeof(uint64_t) && lb / sizeof(uint32_t) == lc / sizeof(float) &&
              s->indptr[0] == 0 && s->indptr[s->nitems] == s->total;
    for (uint32_t i = 0; ok && i < s->nitems; i++)
        ok = s->indptr[i] <= s->indptr[i + 1];
    for (uint64_t k = 0; ok && k < s->total; k++)
        ok = s->items[k] < s->nitems;
    if (!ok) {
        free(s);
        return err_set(e, RC_INVALID_INPUT, "model file: corrupt sims sections");
    }
    *state = s;
    return RC_OK;
}

static void sims_unload(void *state)
{
    free(state);
}

static enum rc sims_score_item(void *state, uint32_t item, float *scores, struct err *e)
{
    UNUSED(e);
    struct sims_state *s = state;
    for (uint32_t j = 0; j < s->nitems; j++)
        scores[j] = NAN; /* no opinion: the engine backfills by popularity */
    if (item >= s->nitems) return RC_OK;
    for (uint64_t k = s->indptr[item]; k < s->indptr[item + 1]; k++)
        scores[s->items[k]] = s->scores[k];
    return RC_OK;
}

const struct recipe recipe_sims = {
    .name = "aws-sims",
    .kind = RECIPE_RELATED_ITEMS,
    .summary = "items that users interact with together (co-occurrence, popularity discounted)",
    .params = sims_params,
    .train = sims_train,
    .load = sims_load,
    .unload = sims_unload,
    .score_item = sims_score_item,
};

/*
 * aws-similar-items: co-occurrence blended with item metadata, so that an
 * item without interactions still has neighbours:
 *
 *   sim(i, j) = (1 - b) * co(i, j) / sqrt(n_i n_j) + b * m(i, j) / sqrt(f_i f_j)
 *
 * with co, n as for aws-sims (cosine of the user sets), m(i, j) the number of
 * categorical values the two items share in the ITEMS dataset (GENRES,
 * CREATOR_ID, ...), f_i item i's number of values, and b = metadata_weight.
 * Candidates are the items with interactions or with metadata.
 */
static const struct param_spec similar_params[] = {
    {"metadata_weight", NULL, PARAM_FLOAT, "0.3", 0, 1,
     "share of the similarity from shared metadata values (the rest from co-occurrence)"},
    {"neighbors", NULL, PARAM_INT, "100", 1, 1000, "neighbours kept per item"},
    {"max_history", NULL, PARAM_INT, "500", 10, 1000000,
     "items per user considered (the strongest by weight)"},
    {NULL, NULL, PARAM_INT, NULL, 0, 0, NULL},
};

static enum rc similar_train(const struct train_input *in, struct modelfile_writer *w,
                             struct err *e)
{
    const struct params *p = in->params;
    double b = params_num(p, "metadata_weight");
    struct csr *h = capped_histories(in->data->ui, (uint32_t)params_num(p, "max_history"));
    struct csr *iu = csr_transpose(h);
    const struct csr *f = in->item_features;
    struct csr *fi = csr_transpose(f);
    uint32_t nitems = h->ncols;
    struct neighbours nb;
    neighbours_init(&nb, nitems, (uint32_t)params_num(p, "neighbors"));
    uint32_t *co = xcalloc(nitems + 1, sizeof(uint32_t));
    uint32_t *mc = xcalloc(nitems + 1, sizeof(uint32_t));
    uint32_t *touched = xmallocarray(nitems + 1, sizeof(uint32_t));
    uint8_t *candidates = xcalloc(nitems + 1, 1);
    enum rc rc = RC_OK;
    for (uint32_t i = 0; i < nitems && !rc; i++) {
        size_t nt = 0;
        for (uint64_t a = iu->indptr[i]; a < iu->indptr[i + 1]; a++) {
            uint32_t u = iu->indices[a];
            for (uint64_t k = h->indptr[u]; k < h->indptr[u + 1]; k++) {
                uint32_t j = h->indices[k];
                if (j == i) continue;
                if (!co[j] && !mc[j]) touched[nt++] = j;
                co[j]++;
            }
        }
        for (uint64_t a = f->indptr[i]; a < f->indptr[i + 1]; a++) {
            uint32_t feat = f->indices[a];
            for (uint64_t k = fi->indptr[feat]; k < fi->indptr[feat + 1]; k++) {
                uint32_t j = fi->indices[k];
                if (j == i) continue;
                if (!co[j] && !mc[j]) touched[nt++] = j;
                mc[j]++;
            }
        }
        double ni = (double)(iu->indptr[i + 1] - iu->indptr[i]);
        double fi_n = (double)(f->indptr[i + 1] - f->indptr[i]);
        candidates[i] = ni > 0 || fi_n > 0;
        size_t nc = 0;
        for (size_t t = 0; t < nt; t++) {
            uint32_t j = touched[t];
            double nj = (double)(iu->indptr[j + 1] - iu->indptr[j]);
            double fj = (double)(f->indptr[j + 1] - f->indptr[j]);
            double s = 0;
            if (co[j]) s += (1 - b) * co[j] / sqrt(ni * nj);
            if (mc[j]) s += b * mc[j] / sqrt(fi_n * fj);
            if (s > 0) nb.cands[nc++] = (struct cand){j, (float)s};
            co[j] = mc[j] = 0;
        }
        neighbours_add(&nb, i, nc);
        if (!keep_going(in, i, nitems)) rc = err_set(e, RC_CANCELLED, "training cancelled");
    }
    if (!rc) rc = neighbours_write(&nb, w, e);
    if (!rc) rc = modelfile_add(w, "candidates", candidates, nitems, e);
    free(co);
    free(mc);
    free(touched);
    free(candidates);
    neighbours_release(&nb);
    csr_free(h);
    csr_free(iu);
    csr_free(fi);
    return rc;
}

const struct recipe recipe_similar_items = {
    .name = "aws-similar-items",
    .kind = RECIPE_RELATED_ITEMS,
    .summary = "related items from co-occurrence and item metadata (works for new items)",
    .params = similar_params,
    .uses_item_metadata = true,
    .train = similar_train,
    .load = sims_load,
    .unload = sims_unload,
    .score_item = sims_score_item,
};
