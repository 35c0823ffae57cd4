/*
 * stats.c: one pass over an interactions dataset's chunks.
 */
#include "common/base.h"
#include "dataset/stats.h"
#include "common/strmap.h"

struct scan {
    uint8_t *user_rows; /* per user index: rows seen, saturating at 2 */
    uint8_t *item_seen;
    uint64_t *type_counts; /* per event type index, plus one slot for none */
    uint32_t nusers, nitems, ntypes;
    struct interaction_stats *st;
};

static enum rc scan_chunk(void *ctx, const struct interaction_chunk *c, struct err *e)
{
    struct scan *sc = ctx;
    struct interaction_stats *st = sc->st;
    for (uint32_t i = 0; i < c->n; i++) {
        uint32_t u = c->users[i], it = c->items[i], t = c->event_types[i];
        if (u >= sc->nusers || it >= sc->nitems || (t != EVENT_TYPE_NONE && t >= sc->ntypes))
            return err_set(e, RC_DB, "store: interaction refers to an unknown index");
        if (sc->user_rows[u] < 2) {
            if (sc->user_rows[u] == 0) st->users++;
            if (++sc->user_rows[u] == 2) st->users_2plus++;
        }
        if (!sc->item_seen[it]) {
            sc->item_seen[it] = 1;
            st->items++;
        }
        sc->type_counts[t == EVENT_TYPE_NONE ? sc->ntypes : t]++;
        if (st->rows == 0 || c->ts[i] < st->min_ts) st->min_ts = c->ts[i];
        if (st->rows == 0 || c->ts[i] > st->max_ts) st->max_ts = c->ts[i];
        st->rows++;
    }
    return RC_OK;
}

static int by_count_desc(const void *a, const void *b)
{
    const struct event_type_count *x = a, *y = b;
    if (x->count != y->count) return x->count < y->count ? 1 : -1;
    return strcmp(x->name, y->name);
}

enum rc interaction_stats_compute(struct store *s, int64_t group_id, int64_t dataset_id,
                                  struct interaction_stats *out, struct err *e)
{
    struct strmap *users = strmap_new(), *items = strmap_new(), *types = strmap_new();
    enum rc rc;
    if ((rc = store_idmap_load(s, group_id, ID_USERS, users, e)) ||
        (rc = store_idmap_load(s, group_id, ID_ITEMS, items, e)) ||
        (rc = store_idmap_load(s, group_id, ID_EVENT_TYPES, types, e))) {
        strmap_free(users);
        strmap_free(items);
        strmap_free(types);
        return rc;
    }
    struct interaction_stats st = {0};
    struct scan sc = {0};
    sc.nusers = strmap_count(users);
    sc.nitems = strmap_count(items);
    sc.ntypes = strmap_count(types);
    sc.user_rows = xcalloc(sc.nusers + 1, 1);
    sc.item_seen = xcalloc(sc.nitems + 1, 1);
    sc.type_counts = xcalloc(sc.ntypes + 1, sizeof(uint64_t));
    sc.st = &st;
    strmap_free(users);
    strmap_free(items);
    rc = store_interactions_scan(s, dataset_id, scan_chunk, &sc, e);
    if (!rc) {
        st.types = xcalloc(sc.ntypes + 1, sizeof(*st.types));
        for (uint32_t t = 0; t <= sc.ntypes; t++) {
            if (!sc.type_counts[t]) continue;
            st.types[st.ntypes].name = xstrdup(t < sc.ntypes ? strmap_key(types, t, NULL) : "");
            st.types[st.ntypes].count = sc.type_counts[t];
            st.ntypes++;
        }
        qsort(st.types, st.ntypes, sizeof(*st.types), by_count_desc);
        *out = st;
    }
    strmap_free(types);
    free(sc.user_rows);
    free(sc.item_seen);
    free(sc.type_counts);
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
