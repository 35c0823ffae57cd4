/*
 * stats.c: one pass over an interactions dataset's chunks.
 */
#include "common/base.h"
#include "dataset/stats.h"

/* Grow a zeroed array so that index 'need' is valid. */
static void *grow_zeroed(void *p, size_t *alloc, size_t need, size_t size)
{
    if (need < *alloc) return p;
    size_t n = *alloc ? *alloc : 1024;
    while (n <= need)
        n *= 2;
    p = xreallocarray(p, n, size);
    memset((char *)p + *alloc * size, 0, (n - *alloc) * size);
    *alloc = n;
    return p;
}

void stats_acc_init(struct stats_acc *a)
{
    memset(a, 0, sizeof(*a));
}

void stats_acc_add_chunk(struct stats_acc *a, const struct interaction_chunk *c)
{
    struct interaction_stats *st = &a->st;
    for (uint32_t i = 0; i < c->n; i++) {
        uint32_t u = c->users[i], it = c->items[i], t = c->event_types[i];
        if (u >= a->nuser_alloc) a->user_rows = grow_zeroed(a->user_rows, &a->nuser_alloc, u, 1);
        if (it >= a->nitem_alloc) a->item_seen = grow_zeroed(a->item_seen, &a->nitem_alloc, it, 1);
        if (a->user_rows[u] < 2) {
            if (a->user_rows[u] == 0) st->users++;
            if (++a->user_rows[u] == 2) st->users_2plus++;
        }
        if (!a->item_seen[it]) {
            a->item_seen[it] = 1;
            st->items++;
        }
        if (t == EVENT_TYPE_NONE) {
            a->untyped++;
        } else {
            if (t >= a->ntype_alloc)
                a->type_counts = grow_zeroed(a->type_counts, &a->ntype_alloc, t, sizeof(uint64_t));
            a->type_counts[t]++;
        }
        if (st->rows == 0 || c->ts[i] < st->min_ts) st->min_ts = c->ts[i];
        if (st->rows == 0 || c->ts[i] > st->max_ts) st->max_ts = c->ts[i];
        st->rows++;
    }
}

static enum rc scan_chunk(void *ctx, const struct interaction_chunk *c, struct err *e)
{
    UNUSED(e);
    stats_acc_add_chunk(ctx, c);
    return RC_OK;
}

enum rc stats_acc_scan(struct stats_acc *a, struct store *s, int64_t dataset_id, struct err *e)
{
    return store_interactions_scan(s, dataset_id, scan_chunk, a, e);
}

void stats_acc_release(struct stats_acc *a)
{
    free(a->user_rows);
    free(a->item_seen);
    free(a->type_counts);
    interaction_stats_release(&a->st);
    memset(a, 0, sizeof(*a));
}

static int by_count_desc(const void *a, const void *b)
{
    const struct event_type_count *x = a, *y = b;
    if (x->count != y->count) return x->count < y->count ? 1 : -1;
    return strcmp(x->name, y->name);
}

enum rc stats_acc_finish(struct stats_acc *a, const struct strmap *types,
                         struct interaction_stats *out, struct err *e)
{
    struct interaction_stats st = a->st;
    uint32_t ntypes = strmap_count(types);
    st.types = xcalloc(a->ntype_alloc + 1, sizeof(*st.types));
    st.ntypes = 0;
    for (size_t t = 0; t < a->ntype_alloc; t++) {
        if (!a->type_counts[t]) continue;
        if (t >= ntypes) {
            interaction_stats_release(&st);
            memset(&a->st, 0, sizeof(a->st));
            stats_acc_release(a);
            return err_set(e, RC_DB, "store: interaction refers to unknown event type %zu", t);
        }
        st.types[st.ntypes].name = xstrdup(strmap_key(types, (uint32_t)t, NULL));
        st.types[st.ntypes].count = a->type_counts[t];
        st.ntypes++;
    }
    if (a->untyped) {
        st.types[st.ntypes].name = xstrdup("");
        st.types[st.ntypes].count = a->untyped;
        st.ntypes++;
    }
    qsort(st.types, st.ntypes, sizeof(*st.types), by_count_desc);
    memset(&a->st, 0, sizeof(a->st));
    stats_acc_release(a);
    *out = st;
    return RC_OK;
}

enum rc interaction_stats_compute(struct store *s, int64_t group_id, int64_t dataset_id,
                                  struct interaction_stats *out, struct err *e)
{
    struct strmap *types = strmap_new();
    struct stats_acc a;
    stats_acc_init(&a);
    enum rc rc = store_idmap_load(s, group_id, ID_EVENT_TYPES, types, e);
    if (!rc) rc = stats_acc_scan(&a, s, dataset_id, e);
    if (!rc)
        rc = stats_acc_finish(&a, types, out, e);
    else
        stats_acc_release(&a);
    strmap_free(types);
    return rc;
}

void interaction_stats_release(struct interaction_stats *st)
{
    if (!st) return;
    for (size_t i = 0; i < st->ntypes; i++)
        free(st->types[i].name);
    free(st->types);
    memset(st, 0, sizeof(*st));
}

bool interaction_stats_meets_minimums(const struct interaction_stats *st)
{
    return st->rows >= MIN_INTERACTIONS && st->users_2plus >= MIN_USERS_WITH_2PLUS;
}
