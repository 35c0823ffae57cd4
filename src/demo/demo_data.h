/*
 * demo_data.h: the generated demo dataset, a creators' platform.
 *
 * Works (webtoons, illustrations, ...) by creators in genres; readers with
 * tastes over genres and favourite creators; view, like and subscribe
 * events with values. Deterministic for a given seed.
 */
#ifndef SAVOR_DEMO_DATA_H
#define SAVOR_DEMO_DATA_H

#include "common/base.h"

struct demo_opts {
    uint32_t users;   /* default 5000 */
    uint32_t items;   /* default 2000 */
    uint32_t creators; /* default 200 */
    uint64_t events;  /* default 200000 */
    uint64_t seed;    /* default 42 */
    int64_t end_time; /* epoch seconds of the last event; default 1767225600 (2026-01-01) */
};

/* Fill 'o' with the defaults above. */
void demo_opts_default(struct demo_opts *o);

/*
 * Write interactions.csv, items.csv and users.csv (Personalize CSV format,
 * with header rows) into directory 'dir', which must exist. Returns RC_IO
 * with the path in 'e' on a write failure.
 */
enum rc demo_generate(const char *dir, const struct demo_opts *o, struct err *e);

#endif
