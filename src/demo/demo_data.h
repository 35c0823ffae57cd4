/*
 * demo_data.h: the generated demo dataset, a creators' platform.
 *
 * Works (webtoons, illustrations, ...) by creators in genres; readers with
 * tastes over genres and favourite creators; view, like and subscribe
 * events with values. Deterministic for a given seed.
 *
 * Files written (IDs are 1-based and zero-padded: user-00042, work-00042,
 * creator-017; wider when the counts need more digits):
 *
 *   items.csv         ITEM_ID,GENRES,CREATOR_ID,FORMAT,CREATION_TIMESTAMP
 *                     GENRES: 1-3 of 12 genres joined with '|', primary first;
 *                     FORMAT: webtoon|illustration|novel|short. Works are
 *                     created over the year before end_time (some in the last
 *                     two weeks) and numbered in creation order.
 *   users.csv         USER_ID,AGE_GROUP,PREFERRED_LANGUAGE
 *                     AGE_GROUP: 13-17|18-24|25-34|35-44|45+; language en|ko|ja|es.
 *   interactions.csv  USER_ID,ITEM_ID,EVENT_TYPE,EVENT_VALUE,TIMESTAMP
 *                     EVENT_TYPE view|like|subscribe. EVENT_VALUE of a view is
 *                     the percent of the work (episode) read, 1-100; of a like
 *                     or subscribe, 1. Exactly o->events rows, sorted by
 *                     TIMESTAMP, all within the 180 days before end_time (the
 *                     last one at end_time) and after the work's
 *                     CREATION_TIMESTAMP.
 */
#ifndef SAVOR_DEMO_DATA_H
#define SAVOR_DEMO_DATA_H

#include "common/base.h"

/* Upper bounds demo_generate() accepts (memory is roughly 20 bytes per event). */
#define DEMO_MAX_USERS  10000000u
#define DEMO_MAX_ITEMS  10000000u
#define DEMO_MAX_EVENTS 100000000u

struct demo_opts {
    uint32_t users;    /* default 5000 */
    uint32_t items;    /* default 2000 */
    uint32_t creators; /* default 200 */
    uint64_t events;   /* default 200000 */
    uint64_t seed;     /* default 42 */
    int64_t end_time;  /* epoch seconds of the last event; default 1767225600 (2026-01-01) */
};

/* Fill 'o' with the defaults above. */
void demo_opts_default(struct demo_opts *o);

/*
 * Write interactions.csv, items.csv and users.csv (Personalize CSV format,
 * with header rows) into directory 'dir', which must exist. Returns RC_IO
 * with the path in 'e' on a write failure, RC_INVALID_INPUT when 'o' is out
 * of range (users, items, creators and events >= 1 and within the DEMO_MAX_*
 * bounds, creators <= items, end_time between 1972 and 9999).
 */
enum rc demo_generate(const char *dir, const struct demo_opts *o, struct err *e);

#endif
