/*
 * clock.h: monotonic and wall-clock time.
 */
#ifndef SAVOR_CLOCK_H
#define SAVOR_CLOCK_H

#include "common/base.h"

/* Monotonic seconds, for measuring durations. */
double clock_monotonic(void);
/* Wall-clock seconds since the Unix epoch, with sub-second precision. */
double clock_wall(void);

/*
 * The epoch seconds of a UTC calendar time, into *out; false when a field is
 * out of range (month lengths and leap years checked; second 60 allowed).
 */
bool clock_utc_seconds(int year, int month, int day, int hour, int minute, int second,
                       int64_t *out);

#endif
