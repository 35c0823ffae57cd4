/*
 * stats.h: what an interactions dataset holds, as users want to see it
 * after an import: rows, users, items, event types, time span, and whether
 * it meets Personalize's training minimums.
 */
#ifndef SAVOR_STATS_H
#define SAVOR_STATS_H

#include "common/base.h"
#include "common/strmap.h"
#include "store/store.h"

/* Personalize's training minimums (savor warns below them; it never refuses). */
#define MIN_INTERACTIONS     1000
#define MIN_USERS_WITH_2PLUS 25

struct event_type_count {
    char *name; /* owned; "" for rows without an event type */
    uint64_t count;
};

struct interaction_stats {
    uint64_t rows;
    uint64_t users;       /* distinct users with at least one row */
    uint64_t items;       /* distinct items with at least one row */
    uint64_t users_2plus; /* users with two or more rows */
    int64_t min_ts, max_ts;
    struct event_type_count *types; /* owned, ordered by count, descending */
    size_t ntypes;
};

/*
 * An accumulator: feed it chunks (from the store or while importing) and
 * turn it into interaction_stats at the end. Grows with the indexes it sees.
 */
struct stats_acc {
    uint8_t *user_rows; /* per user index: rows seen, saturating at 2 */
    uint8_t *item_seen;
    uint64_t *type_counts; /* per event type index */
    size_t nuser_alloc, nitem_alloc, ntype_alloc;
    uint64_t untyped; /* rows without an event type */
    struct interaction_stats st;
};

void stats_acc_init(struct stats_acc *a);
void stats_acc_add_chunk(struct stats_acc *a, const struct interaction_chunk *c);
/* Add every chunk of a stored dataset. */
enum rc stats_acc_scan(struct stats_acc *a, struct store *s, int64_t dataset_id, struct err *e);
/*
 * Move the totals into *out, naming event types from 'types' (index -> name);
 * the accumulator is released.
 */
enum rc stats_acc_finish(struct stats_acc *a, const struct strmap *types,
                         struct interaction_stats *out, struct err *e);
void stats_acc_release(struct stats_acc *a);

/* Scan dataset 'dataset_id' of group 'group_id'. Release with interaction_stats_release(). */
enum rc interaction_stats_compute(struct store *s, int64_t group_id, int64_t dataset_id,
                                  struct interaction_stats *out, struct err *e);
void interaction_stats_release(struct interaction_stats *st);

/* True when the dataset meets both of Personalize's training minimums. */
bool interaction_stats_meets_minimums(const struct interaction_stats *st);

#endif
