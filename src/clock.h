/* SPDX-License-Identifier: ISC */
/*
 * clock.h - monotonic deadlines.  Every timeout in preforkd is a point
 * on CLOCK_MONOTONIC, never a per-call duration, so that a client that
 * dribbles bytes cannot stretch it.
 */
#ifndef PREFORKD_CLOCK_H
#define PREFORKD_CLOCK_H

#include <time.h>

static inline struct timespec
clock_now(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts;
}

static inline struct timespec
clock_after(struct timespec from, double seconds)
{
	long long	 ns = (long long)(seconds * 1e9);

	from.tv_sec += ns / 1000000000LL;
	from.tv_nsec += ns % 1000000000LL;
	if (from.tv_nsec >= 1000000000L) {
		from.tv_sec++;
		from.tv_nsec -= 1000000000L;
	}
	return from;
}

/* b - a in seconds. */
static inline double
clock_diff(struct timespec a, struct timespec b)
{
	return (double)(b.tv_sec - a.tv_sec) +
	    (double)(b.tv_nsec - a.tv_nsec) / 1e9;
}

/* Milliseconds from now until deadline, rounded up, never negative. */
static inline int
clock_ms_until(struct timespec deadline)
{
	double	 s = clock_diff(clock_now(), deadline);

	if (s <= 0)
		return 0;
	if (s > 86400)
		s = 86400;
	return (int)(s * 1000.0) + 1;
}

#endif
