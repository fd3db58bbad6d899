/* Monotonic seconds, for rates and ETAs (never the wall clock, which jumps). */
#ifndef FACS_CLOCK_H
#define FACS_CLOCK_H

double facs_clock_seconds(void);

#endif
