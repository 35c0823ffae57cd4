/*
 * split.h: holding interactions out for offline evaluation.
 *
 * Two protocols (docs/evaluation.md):
 *  - SPLIT_USERS (Personalize's): a random share of the users (10%, with
 *    the seed) are test users; each one's newest 10% of interactions (by
 *    timestamp, ties by position in the dataset; at least one) are its
 *    targets, the older ones its input. Everything else trains.
 *  - SPLIT_TIME: one global cutoff; every interaction at or after it is
 *    held out of training, the users with any are test users (up to
 *    max_users, chosen with the seed), their held-out items the targets.
 *
 * A split reads the interactions through a scan callback, so it works on
 * the store and on arrays in tests alike. It names events by their position
 * in scan order (0, 1, 2, ... over every event scanned, counted or not) and
 * marks the held-out ones in a bitset that training then skips
 * (train_data_load_except in weighting.h).
 */
#ifndef SAVOR_SPLIT_H
#define SAVOR_SPLIT_H

#include "common/base.h"
#include "models/weighting.h"
#include "store/store.h"

enum split_kind { SPLIT_USERS, SPLIT_TIME };

#define SPLIT_CUTOFF_AUTO INT64_MIN

struct split_opts {
    enum split_kind kind;
    double user_fraction;   /* SPLIT_USERS: share of the users held out (0.1) */
    double target_fraction; /* SPLIT_USERS: share of a test user's newest events (0.1) */
    int64_t cutoff;         /* SPLIT_TIME: epoch seconds, or SPLIT_CUTOFF_AUTO: the time
                               before which 90% of the events lie */
    uint32_t max_users;     /* at most this many test users (0: no cap) */
    uint64_t seed;
};

/* Personalize's protocol with 'seed': 10% of users, their newest 10%. */
void split_opts_default(struct split_opts *o, uint64_t seed);

typedef enum rc (*split_visit_fn)(void *ctx, const struct interaction_chunk *c, struct err *e);
/* Call 'visit' on every chunk of interactions, always in the same order. */
typedef enum rc (*split_scan_fn)(void *src, split_visit_fn visit, void *ctx, struct err *e);

struct split {
    uint64_t nevents;        /* events scanned */
    uint64_t *held;          /* bitset over the nevents positions: not for training (owned) */
    uint64_t nheld;          /* bits set */
    uint32_t ntest;          /* test users */
    uint32_t *users;         /* their indexes, ascending (owned) */
    uint64_t *target_indptr; /* ntest + 1 offsets into targets (owned) */
    uint32_t *targets;       /* per test user, its distinct target items, ascending (owned) */
    uint32_t *last_input;    /* per test user, the item of its newest input, or UINT32_MAX */
    uint32_t eligible;       /* users the test users were drawn from */
    int64_t cutoff;          /* SPLIT_TIME: the cutoff used */
};

/*
 * Make a split of the events 'scan' visits, for users 0..nusers-1. Events
 * 'w' weighs 0 (filtered out by eventType, eventValueThreshold...) are not
 * counted; w may be NULL to count every event. With 'base' (may be NULL),
 * the split is cut from what 'base' leaves for training: base's held events
 * stay held and are not counted, base's test users are not drawn (a
 * validation split inside the training part, for HPO). RC_INVALID_INPUT
 * when the split would leave no test user or no training event.
 */
enum rc split_make(split_scan_fn scan, void *src, uint32_t nusers, const struct event_weigher *w,
                   const struct split_opts *o, const struct split *base, struct split *out,
                   struct err *e);
void split_release(struct split *s);

static inline bool split_is_held(const uint64_t *held, uint64_t pos)
{
    return held && (held[pos >> 6] >> (pos & 63)) & 1;
}

#endif
