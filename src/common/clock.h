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

#endif
