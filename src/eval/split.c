/*
 * split.c: the evaluation splits of split.h.
 */
#include "common/base.h"
#include "eval/split.h"
#include "common/rng.h"
#include "common/vec.h"

#include <math.h>

#define CUTOFF_SAMPLE 65536 /* timestamps sampled to place an automatic cutoff */

void split_opts_default(struct split_opts *o, uint64_t seed)
{
    memset(o, 0, sizeof(*o));
    o->kind = SPLIT_USERS;
    o->user_fraction = 0.1;
    o->target_fraction = 0.1;
    o->cutoff = SPLIT_CUTOFF_AUTO;
    o->seed = seed;
}

void split_release(struct split *s)
{
    if (!s) return;
    free(s->held);
    free(s->users);
    free(s->target_indptr);
    free(s->targets);
    free(s->last_input);
    memset(s, 0, sizeof(*s));
}

/* What every pass shares: the position counter and which events count. */
struct pass {
    uint32_t nusers;
    const struct event_weigher *w;
    const struct split *base;
    uint64_t pos;
    /* pass-specific */
    int kind;
    uint32_t *count;       /* per user: counted events (USERS) or held ones (TIME) */
    uint32_t *test_index;  /* per user: index among the test users, or UINT32_MAX */
    uint64_t *fill;        /* per test user: next slot in ev */
    struct ev *ev;         /* collected events of test users */
    int64_t cutoff;        /* TIME */
    int64_t *newest_ts;    /* TIME: per user, newest input event */
    uint64_t *newest_pos;  /* TIME */
    uint32_t *newest_item; /* TIME */
    uint64_t *held;        /* bits to set (TIME) */
    uint64_t nheld;
    struct rng rng; /* cutoff reservoir */
    int64_t *sample;
    uint64_t nsample, seen;
};

struct ev {
    int64_t ts;
    uint64_t pos;
    uint32_t item;
};

enum { PASS_COUNT, PASS_COLLECT, PASS_SAMPLE, PASS_TIME, PASS_TIME_COLLECT };

static bool counted(const struct pass *p, const struct interaction_chunk *c, uint32_t i)
{
    if (c->users[i] >= p->nusers) return false;
    if (p->base && split_is_held(p->base->held, p->pos)) return false;
    return !p->w || event_weigher_weight(p->w, c->event_types[i], c->event_values[i], c->ts[i]) > 0;
}

static enum rc visit(void *ctx, const struct interaction_chunk *c, struct err *e)
{
    UNUSED(e);
    struct pass *p = ctx;
    for (uint32_t i = 0; i < c->n; i++, p->pos++) {
        if (!counted(p, c, i)) continue;
        uint32_t u = c->users[i];
        switch (p->kind) {
        case PASS_COUNT:
            p->count[u]++;
            break;
        case PASS_COLLECT:
            if (p->test_index[u] != UINT32_MAX)
                p->ev[p->fill[p->test_index[u]]++] = (struct ev){c->ts[i], p->pos, c->items[i]};
            break;
        case PASS_SAMPLE: /* reservoir sampling of timestamps */
            if (p->nsample < CUTOFF_SAMPLE) {
                p->sample[p->nsample++] = c->ts[i];
            } else {
                uint64_t j = rng_next(&p->rng) % (p->seen + 1);
                if (j < CUTOFF_SAMPLE) p->sample[j] = c->ts[i];
            }
            p->seen++;
            break;
        case PASS_TIME:
            if (c->ts[i] >= p->cutoff) {
                p->count[u]++;
                p->held[p->pos >> 6] |= 1ull << (p->pos & 63);
                p->nheld++;
            } else if (c->ts[i] > p->newest_ts[u] ||
                       (c->ts[i] == p->newest_ts[u] && p->pos > p->newest_pos[u])) {
                p->newest_ts[u] = c->ts[i];
                p->newest_pos[u] = p->pos;
                p->newest_item[u] = c->items[i];
            }
            break;
        case PASS_TIME_COLLECT:
            if (c->ts[i] >= p->cutoff && p->test_index[u] != UINT32_MAX)
                p->ev[p->fill[p->test_index[u]]++] = (struct ev){c->ts[i], p->pos, c->items[i]};
            break;
        }
    }
    return RC_OK;
}

static enum rc run_pass(split_scan_fn scan, void *src, struct pass *p, int kind, struct err *e)
{
    p->kind = kind;
    p->pos = 0;
    return scan(src, visit, p, e);
}

static int cmp_ev(const void *a, const void *b)
{
    const struct ev *x = a, *y = b;
    if (x->ts != y->ts) return x->ts < y->ts ? -1 : 1;
    return x->pos < y->pos ? -1 : x->pos > y->pos;
}

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

/*
 * Draw the test users among 'cand' (ascending, n of them): 'want' of them by
 * a partial Fisher-Yates shuffle with 'seed', then sorted ascending.
 */
static uint32_t draw_users(uint32_t *cand, uint32_t n, uint32_t want, uint64_t seed)
{
    struct rng r;
    rng_seed(&r, seed);
    if (want > n) want = n;
    for (uint32_t k = 0; k < want; k++) {
        uint32_t j = k + (uint32_t)(rng_next(&r) % (uint64_t)(n - k));
        uint32_t t = cand[k];
        cand[k] = cand[j];
        cand[j] = t;
    }
    qsort(cand, want, sizeof(uint32_t), cmp_u32);
    return want;
}

/* Targets of each test user: the distinct items of its events ev[fill..], sorted. */
static void build_targets(struct split *s, const struct ev *ev, const uint64_t *held_from,
                          const uint64_t *end)
{
    s->target_indptr = xcalloc((size_t)s->ntest + 1, sizeof(uint64_t));
    uint64_t total = 0;
    for (uint32_t t = 0; t < s->ntest; t++)
        total += end[t] - held_from[t];
    s->targets = xmallocarray(total ? total : 1, sizeof(uint32_t));
    uint64_t n = 0;
    for (uint32_t t = 0; t < s->ntest; t++) {
        uint64_t from = n;
        for (uint64_t k = held_from[t]; k < end[t]; k++)
            s->targets[n++] = ev[k].item;
        qsort(s->targets + from, n - from, sizeof(uint32_t), cmp_u32);
        uint64_t w = from;
        for (uint64_t k = from; k < n; k++)
            if (w == from || s->targets[w - 1] != s->targets[k]) s->targets[w++] = s->targets[k];
        n = w;
        s->target_indptr[t + 1] = n;
    }
}

static enum rc split_users(split_scan_fn scan, void *src, struct pass *p,
                           const struct split_opts *o, struct split *s, struct err *e)
{
    uint32_t nusers = p->nusers;
    enum rc rc = run_pass(scan, src, p, PASS_COUNT, e);
    if (rc) return rc;
    s->nevents = p->pos;
    uint32_t *cand = xmallocarray(nusers ? nusers : 1, sizeof(uint32_t));
    uint32_t ncand = 0;
    for (uint32_t u = 0; u < nusers; u++) {
        bool base_test = p->base && p->base->ntest &&
                         bsearch(&u, p->base->users, p->base->ntest, sizeof(uint32_t), cmp_u32);
        if (p->count[u] > 0 && !base_test) cand[ncand++] = u;
    }
    s->eligible = ncand;
    if (ncand < 2) {
        free(cand);
        return err_set(
            e, RC_INVALID_INPUT,
            "evaluation split: %u user(s) with interactions; at least 2 are needed to hold some out",
            ncand);
    }
    uint32_t want = (uint32_t)floor((double)ncand * o->user_fraction);
    if (want < 1) want = 1;
    if (want >= ncand) want = ncand - 1; /* someone must remain to train on */
    if (o->max_users && want > o->max_users) want = o->max_users;
    s->ntest = draw_users(cand, ncand, want, o->seed);
    s->users = xmallocarray(s->ntest ? s->ntest : 1, sizeof(uint32_t));
    memcpy(s->users, cand, (size_t)s->ntest * sizeof(uint32_t));
    free(cand);

    /* Collect the test users' events, sorted oldest first. */
    uint64_t *start = xcalloc((size_t)s->ntest + 1, sizeof(uint64_t));
    for (uint32_t t = 0; t < s->ntest; t++) {
        p->test_index[s->users[t]] = t;
        start[t + 1] = start[t] + p->count[s->users[t]];
    }
    p->ev = xmallocarray(start[s->ntest] ? start[s->ntest] : 1, sizeof(struct ev));
    p->fill = xmallocarray((size_t)s->ntest + 1, sizeof(uint64_t));
    memcpy(p->fill, start, ((size_t)s->ntest + 1) * sizeof(uint64_t));
    rc = run_pass(scan, src, p, PASS_COLLECT, e);
    if (rc) {
        free(start);
        return rc;
    }
    uint64_t *held_from = xmallocarray((size_t)s->ntest + 1, sizeof(uint64_t));
    s->last_input = xmallocarray(s->ntest ? s->ntest : 1, sizeof(uint32_t));
    for (uint32_t t = 0; t < s->ntest; t++) {
        uint64_t n = start[t + 1] - start[t];
        qsort(p->ev + start[t], n, sizeof(struct ev), cmp_ev);
        uint64_t h = (uint64_t)floor((double)n * o->target_fraction);
        if (h < 1) h = 1;
        if (h > n) h = n;
        held_from[t] = start[t + 1] - h;
        s->last_input[t] = h < n ? p->ev[held_from[t] - 1].item : UINT32_MAX;
        for (uint64_t k = held_from[t]; k < start[t + 1]; k++) {
            uint64_t pos = p->ev[k].pos;
            s->held[pos >> 6] |= 1ull << (pos & 63);
        }
    }
    build_targets(s, p->ev, held_from, start + 1);
    free(start);
    free(held_from);
    return RC_OK;
}

static enum rc split_time(split_scan_fn scan, void *src, struct pass *p, const struct split_opts *o,
                          struct split *s, struct err *e)
{
    uint32_t nusers = p->nusers;
    enum rc rc;
    int64_t cutoff = o->cutoff;
    if (cutoff == SPLIT_CUTOFF_AUTO) {
        p->sample = xmallocarray(CUTOFF_SAMPLE, sizeof(int64_t));
        rng_seed(&p->rng, o->seed);
        if ((rc = run_pass(scan, src, p, PASS_SAMPLE, e))) return rc;
        if (p->nsample == 0)
            return err_set(e, RC_INVALID_INPUT, "evaluation split: no interactions to split");
        qsort(p->sample, p->nsample, sizeof(int64_t), cmp_i64);
        cutoff = p->sample[(size_t)floor(0.9 * (double)p->nsample)];
    }
    s->cutoff = p->cutoff = cutoff;
    p->newest_ts = xmallocarray(nusers ? nusers : 1, sizeof(int64_t));
    p->newest_pos = xcalloc(nusers ? nusers : 1, sizeof(uint64_t));
    p->newest_item = xmallocarray(nusers ? nusers : 1, sizeof(uint32_t));
    for (uint32_t u = 0; u < nusers; u++) {
        p->newest_ts[u] = INT64_MIN;
        p->newest_item[u] = UINT32_MAX;
    }
    p->held = s->held;
    if ((rc = run_pass(scan, src, p, PASS_TIME, e))) return rc;
    uint64_t kept = 0;
    uint32_t *cand = xmallocarray(nusers ? nusers : 1, sizeof(uint32_t));
    uint32_t ncand = 0;
    for (uint32_t u = 0; u < nusers; u++) {
        if (p->newest_item[u] != UINT32_MAX) kept++;
        bool base_test = p->base && p->base->ntest &&
                         bsearch(&u, p->base->users, p->base->ntest, sizeof(uint32_t), cmp_u32);
        if (p->count[u] > 0 && !base_test) cand[ncand++] = u;
    }
    s->eligible = ncand;
    if (ncand == 0 || kept == 0) {
        free(cand);
        return err_set(
            e, RC_INVALID_INPUT,
            "evaluation split: the cutoff %lld leaves %s; choose a cutoff between the oldest and the newest interaction",
            (long long)cutoff, ncand == 0 ? "nothing to test on" : "nothing to train on");
    }
    uint32_t want = o->max_users && ncand > o->max_users ? o->max_users : ncand;
    s->ntest = draw_users(cand, ncand, want, o->seed);
    s->users = xmallocarray(s->ntest ? s->ntest : 1, sizeof(uint32_t));
    memcpy(s->users, cand, (size_t)s->ntest * sizeof(uint32_t));
    free(cand);
    uint64_t *start = xcalloc((size_t)s->ntest + 1, sizeof(uint64_t));
    s->last_input = xmallocarray(s->ntest ? s->ntest : 1, sizeof(uint32_t));
    for (uint32_t t = 0; t < s->ntest; t++) {
        uint32_t u = s->users[t];
        p->test_index[u] = t;
        start[t + 1] = start[t] + p->count[u];
        s->last_input[t] = p->newest_item[u];
    }
    p->ev = xmallocarray(start[s->ntest] ? start[s->ntest] : 1, sizeof(struct ev));
    p->fill = xmallocarray((size_t)s->ntest + 1, sizeof(uint64_t));
    memcpy(p->fill, start, ((size_t)s->ntest + 1) * sizeof(uint64_t));
    rc = run_pass(scan, src, p, PASS_TIME_COLLECT, e);
    if (!rc) build_targets(s, p->ev, start, start + 1);
    free(start);
    return rc;
}

/* Count every event once, to size the bitset. */
static enum rc count_all(void *ctx, const struct interaction_chunk *c, struct err *e)
{
    UNUSED(e);
    *(uint64_t *)ctx += c->n;
    return RC_OK;
}

enum rc split_make(split_scan_fn scan, void *src, uint32_t nusers, const struct event_weigher *w,
                   const struct split_opts *o, const struct split *base, struct split *out,
                   struct err *e)
{
    struct split s = {0};
    if (!(o->user_fraction > 0 && o->user_fraction < 1) ||
        !(o->target_fraction > 0 && o->target_fraction <= 1))
        return err_set(
            e, RC_INVALID_INPUT,
            "evaluation split: fractions must lie in (0, 1) for users, (0, 1] for targets");
    uint64_t nevents = 0;
    enum rc rc = scan(src, count_all, &nevents, e);
    if (rc) return rc;
    if (base && base->nevents != nevents)
        return err_set(e, RC_INTERNAL, "evaluation split: the interactions changed between splits");
    s.nevents = nevents;
    size_t words = (size_t)(nevents / 64 + 1);
    s.held = xcalloc(words, sizeof(uint64_t));
    if (base) {
        memcpy(s.held, base->held, words * sizeof(uint64_t));
        s.nheld = base->nheld;
    }
    struct pass p = {.nusers = nusers, .w = w, .base = base};
    p.count = xcalloc(nusers ? nusers : 1, sizeof(uint32_t));
    p.test_index = xmallocarray(nusers ? nusers : 1, sizeof(uint32_t));
    for (uint32_t u = 0; u < nusers; u++)
        p.test_index[u] = UINT32_MAX;
    rc = o->kind == SPLIT_TIME ? split_time(scan, src, &p, o, &s, e)
                               : split_users(scan, src, &p, o, &s, e);
    if (!rc) {
        s.nheld = 0;
        for (size_t k = 0; k < words; k++)
            s.nheld += (uint64_t)__builtin_popcountll(s.held[k]);
    }
    free(p.count);
    free(p.test_index);
    free(p.fill);
    free(p.ev);
    free(p.newest_ts);
    free(p.newest_pos);
    free(p.newest_item);
    free(p.sample);
    if (rc) {
        split_release(&s);
        return rc;
    }
    s.nevents = nevents;
    *out = s;
    return RC_OK;
}
